//! The station's code through the real stack: `pcsc` crate -> pcscd -> vpcd -> our simulator.
//! Each test starts its own pcscd and stops it by PID; they run one at a time (one pcscd per
//! machine: a lock here for `cargo test`, the nextest group `pcsc-stack` for nextest).

mod common;

use std::time::Duration;

use apdu::{expect_ok, read_binary_all, update_binary_all, Command, Error, StatusWord};
use card_sim::Faults;
use card_transport::{Card, CardTransaction, Disposition, TransportError};
use common::{wait_card, Stack, READER};

const SSSE: &[u8] = b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";

fn faults(spec: &str) -> Faults {
    spec.parse().expect("fault syntax")
}

/// EXTERNAL AUTHENTICATE with the 2nd-generation card's key `key_id` as the simulated factory
/// diversified it (the PSAM does this in production; these tests exercise the card stack).
fn authenticate(tx: &mut dyn CardTransaction, key_id: u8) {
    let challenge = expect_ok(tx, &Command::get_challenge(8), "GET CHALLENGE").expect("challenge");
    let key = common::factory_key("ssc-2g-sim.toml", "3F00", key_id);
    let cryptogram =
        card_crypto::external_auth_cryptogram(firmware_profile::Algorithm::TripleDes, &key, &challenge)
            .expect("3DES");
    expect_ok(tx, &Command::external_authenticate(key_id, &cryptogram), "EXTERNAL AUTHENTICATE")
        .expect("authenticated");
}

#[test]
fn select_read_write_extended_t0_and_wrong_le_through_pcscd() {
    let _one = common::serial();
    let mut stack = Stack::start("ssc-3g-sim.toml");
    let mut card = stack.manager.open(READER).expect("open");
    assert!(card.capabilities().extended_length, "the 3G profile's ATR announces extended length");
    let mut tx = card.transaction().expect("transaction");
    let tx = tx.as_mut();

    // SELECT by AID and path; READ RECORD EF05 card number (tag 07).
    let fci = expect_ok(tx, &Command::select_aid(SSSE), "SELECT SSSE").expect("SSSE");
    assert_eq!(apdu::find_primitive(&fci, 0x84).as_deref(), Some(SSSE));
    expect_ok(tx, &Command::select_fid(0xEF05), "SELECT EF05").expect("EF05");
    let rec = expect_ok(tx, &Command::read_record(7, 256), "READ EF05 07").expect("record 07");
    assert_eq!(rec[0], 0x07);

    // A write without the update key is refused with the status word kept.
    let e =
        expect_ok(tx, &Command::update_record(7, b"\x07\x09X00000019"), "UPDATE EF05 07").expect_err("6982");
    assert_eq!(e.status_word(), Some(StatusWord::SecurityStatusNotSatisfied));

    // Extended length: 4096 bytes in one UPDATE BINARY and one READ BINARY.
    expect_ok(tx, &Command::select_path(&[0xEF0F]), "SELECT EF0F").expect("EF0F");
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let before = stack.card.apdu_count();
    update_binary_all(tx, 0, &data, "EF0F").expect("extended write");
    assert_eq!(read_binary_all(tx, 0, 4096, "EF0F").expect("extended read"), data);
    assert_eq!(stack.card.apdu_count() - before, 2, "one APDU each way");

    // T=0-style 61xx: the APDU layer fetches the answer with GET RESPONSE.
    stack.card.set_faults(faults("t0"));
    let before = stack.card.apdu_count();
    assert_eq!(read_binary_all(tx, 0, 300, "EF0F").expect("61xx read"), data[..300]);
    assert!(stack.card.apdu_count() - before >= 2, "GET RESPONSE was used");

    // 6Cxx: the card wants the exact Le; the APDU layer re-sends.
    stack.card.set_faults(faults("wrong-le"));
    expect_ok(tx, &Command::select_aid(SSSE), "SELECT SSSE").expect("SSSE");
    expect_ok(tx, &Command::select_fid(0xEF06), "SELECT EF06").expect("EF06");
    let before = stack.card.apdu_count();
    let ssn = expect_ok(tx, &Command::read_record(8, 256), "READ EF06 08").expect("6Cxx read");
    assert_eq!(stack.card.apdu_count() - before, 2, "one 6Cxx, one re-send");
    assert_eq!((ssn[0], ssn[1], ssn.len()), (0x08, 18, 20));
}

#[test]
fn a_card_pulled_mid_write_is_a_clear_error_and_nothing_unconfirmed_is_reported() {
    let _one = common::serial();
    // The 2nd-generation profile has short APDUs only: 1000 bytes take four UPDATE BINARYs.
    let mut stack = Stack::start("ssc-2g-sim.toml");
    let photo = vec![0xA5; 1000];
    {
        let mut card = stack.manager.open(READER).expect("open");
        assert!(!card.capabilities().extended_length);
        let mut tx = card.transaction().expect("transaction");
        let tx = tx.as_mut();
        authenticate(tx, 0x04);
        expect_ok(tx, &Command::select_fid(0xEF08), "SELECT EF08").expect("EF08");
        // Two chunks pass, the card is pulled when the third arrives (not executed).
        stack.card.set_faults(faults("pull-after=2,reinsert=1s"));
        let e = update_binary_all(tx, 0, &photo, "EF08").expect_err("card pulled");
        assert_eq!(e.step(), "UPDATE BINARY EF08 at offset 510 of 1000");
        let Error::Transport { source, .. } = &e else { panic!("not a transport error: {e}") };
        assert!(source.is_link_lost(), "{source:?}");
        assert!(!e.to_string().is_empty());
    }
    // pcscd sees the card leave, then come back (reinsert=1s); exactly the confirmed bytes
    // are on it.
    let gone = stack.manager.wait_for_removal(READER, Some(Duration::from_secs(10))).expect("removal");
    assert!(matches!(gone, pcsc_reader::ReaderEvent::CardRemoved { .. }), "{gone:?}");
    wait_card(&mut stack.manager);
    let mut card = stack.manager.open(READER).expect("reopen");
    let mut tx = card.transaction().expect("transaction");
    let tx = tx.as_mut();
    authenticate(tx, 0x0A);
    expect_ok(tx, &Command::select_fid(0xEF08), "SELECT EF08").expect("EF08");
    let on_card = read_binary_all(tx, 0, 1000, "EF08").expect("read back");
    assert_eq!(on_card[..510], photo[..510], "confirmed chunks are on the chip");
    assert!(on_card[510..].iter().all(|&b| b != 0xA5), "nothing past the reported offset was written");
}

#[test]
fn the_station_survives_a_pcscd_restart_mid_run() {
    let _one = common::serial();
    let mut stack = Stack::start("ssc-3g-sim.toml");
    let mut card = stack.manager.open(READER).expect("open");
    let mark = b"written before the restart";
    {
        let mut tx = card.transaction().expect("transaction");
        expect_ok(tx.as_mut(), &Command::select_path(&[0xEF0F]), "SELECT EF0F").expect("EF0F");
        update_binary_all(tx.as_mut(), 0, mark, "EF0F").expect("write");
    }
    stack.pcscd.stop();
    // While pcscd is down, the driver says so clearly.
    let err = match card.transaction() {
        Err(e) => e,
        Ok(mut tx) => tx.transmit(&Command::select_path(&[0xEF0F]).encode(false)).expect_err("no service"),
    };
    assert!(matches!(err, TransportError::ServiceUnavailable(_)), "{err:?}");
    assert!(err.to_string().contains("start pcscd"), "{err}");

    stack.pcscd.restart().expect("pcscd back");
    stack.manager.wait_for_service(Duration::from_secs(10)).expect("service back");
    wait_card(&mut stack.manager);
    let mut tx = card.transaction().expect("the same card object reconnects");
    assert!(tx.was_reset(), "a reconnect means the card must be selected again");
    expect_ok(tx.as_mut(), &Command::select_path(&[0xEF0F]), "SELECT EF0F").expect("EF0F");
    assert_eq!(read_binary_all(tx.as_mut(), 0, mark.len(), "EF0F").expect("read"), mark);
    drop(tx);
    Box::new(card).disconnect(Disposition::Leave).expect("disconnect");
}

#[test]
fn independent_clients_see_the_simulated_card() {
    let _one = common::serial();
    let stack = Stack::start("ssc-3g-sim.toml");
    let atr = card_sim::lock(stack.card.card()).atr();
    let run = |args: &[&str]| {
        let out =
            std::process::Command::new("opensc-tool").args(args).output().expect("opensc-tool installed");
        assert!(out.status.success(), "opensc-tool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = run(&["-r", READER, "-a"]);
    let expected: Vec<String> = atr.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(shown.trim(), expected.join(":"));
    let answer = run(&["-r", READER, "-s", "00A404000F7378312E73682EC9E7BBE1B1A3D5CF", "-s", "0084000008"]);
    assert_eq!(answer.matches("SW1=0x90, SW2=0x00").count(), 2, "{answer}");

    // And the station binary itself, as an operator runs it.
    let transcript = stack.state_dir.path().join("card-read.apdu");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_station"))
        .args(["card", "read", "--reader", READER, "--json", "--record"])
        .arg(&transcript)
        .output()
        .expect("station runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["atr"], hex::encode_upper(&atr));
    let ssse =
        report["applications"].as_array().expect("list").iter().find(|a| a["name"] == "SSSE").expect("SSSE");
    assert_eq!(ssse["present"], true);
    assert_eq!(report["social_security"]["name"], "张三", "the profile's test holder");
    // The recording is a transcript a unit test can replay: one SELECT per probed application,
    // then the public read of EF05/EF06 (SELECT AID, SELECT EF, 7 + 7 READ RECORD), with
    // the records masked.
    let text = std::fs::read_to_string(&transcript).expect("transcript written");
    let recorded = card_transport::transcript::Transcript::parse(&text).expect("transcript parses");
    let probes = report["applications"].as_array().expect("list").len();
    assert_eq!(recorded.exchanges.len(), probes + 1 + 2 + 14);
    assert!(!text.contains("31 31 30 31 30 35"), "the SSN is not in the recording");
}

#[test]
fn leaving_the_card_keeps_its_security_state_and_a_reset_clears_it() {
    let _one = common::serial();
    let mut stack = Stack::start("ssc-2g-sim.toml");
    let write = |tx: &mut dyn CardTransaction| {
        expect_ok(tx, &Command::select_fid(0xEF08), "SELECT EF08")?;
        expect_ok(tx, &Command::update_binary(0, b"photo"), "UPDATE EF08")
    };
    let mut card = stack.manager.open(READER).expect("open");
    {
        let mut tx = card.transaction().expect("transaction");
        authenticate(tx.as_mut(), 0x04);
    }
    // Dropping the connection (unlike a bare pcsc::Card) leaves the card as it is.
    drop(card);

    // A new connection finds the card as it was left: still authenticated for updates.
    let mut card = stack.manager.open(READER).expect("reopen");
    {
        let mut tx = card.transaction().expect("transaction");
        write(tx.as_mut()).expect("the update key's authentication survived a drop");
    }
    Box::new(card).disconnect(Disposition::Leave).expect("leave");
    let mut card = stack.manager.open(READER).expect("reopen");
    {
        let mut tx = card.transaction().expect("transaction");
        write(tx.as_mut()).expect("the update key's authentication survived Leave");
    }
    Box::new(card).disconnect(Disposition::Reset).expect("reset");

    let mut card = stack.manager.open(READER).expect("reopen after reset");
    let mut tx = card.transaction().expect("transaction");
    let e = write(tx.as_mut()).expect_err("a reset forgets the authentication");
    assert_eq!(e.status_word(), Some(StatusWord::SecurityStatusNotSatisfied));
}

#[test]
fn a_vanished_reader_is_reported_and_the_card_reconnects_when_it_is_back() {
    let _one = common::serial();
    let mut stack = Stack::start("ssc-3g-sim.toml");
    let mut card = stack.manager.open(READER).expect("open");
    {
        let mut tx = card.transaction().expect("transaction");
        expect_ok(tx.as_mut(), &Command::select_path(&[0xEF0F]), "SELECT EF0F").expect("EF0F");
        update_binary_all(tx.as_mut(), 0, b"before unplug", "EF0F").expect("write");
    }
    stack.pcscd.unplug_readers().expect("readers gone");
    let err = card.transaction().err().expect("no transaction without the reader");
    assert!(err.is_link_lost(), "{err:?}");
    stack.manager.wait_for_service(Duration::from_secs(10)).expect("service");
    let listed = card_transport::ReaderManager::list_readers(&mut stack.manager).expect("list");
    assert!(listed.iter().all(|r| r.name != READER), "{listed:?}");
    let Err(gone) = stack.manager.open(READER) else { panic!("the reader is gone, yet it opened") };
    assert!(gone.to_string().contains(READER), "the error names the reader: {gone}");

    stack.pcscd.plug_readers().expect("readers back");
    stack.manager.wait_for_service(Duration::from_secs(10)).expect("service");
    wait_card(&mut stack.manager);
    let mut tx = card.transaction().expect("the same card object reconnects");
    assert!(tx.was_reset());
    expect_ok(tx.as_mut(), &Command::select_path(&[0xEF0F]), "SELECT EF0F").expect("EF0F");
    assert_eq!(read_binary_all(tx.as_mut(), 0, 13, "EF0F").expect("read"), b"before unplug");
}
