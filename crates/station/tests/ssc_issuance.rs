//! Social-security personalisation through the real stack: the station's code personalises a
//! blank simulated card over pcsc -> pcscd -> vpcd, the simulated PSAM in the SAM slot
//! computing the cryptogram, and a plain PC/SC client that knows only the public read
//! sequence reads the applicant's data back. One pcscd at a time (nextest group
//! `pcsc-stack`, and a lock for `cargo test`).

mod common;

use std::collections::BTreeMap;

use apdu::StatusWord;
use card_transport::Card;
use common::{Stack, PSAM_READER, READER};
use ssse::{Psam, SsseError, SsseLayout};

fn profile(name: &str) -> firmware_profile::Profile {
    firmware_profile::Profile::load(common::profile(name)).expect("profile")
}

/// A reader that knows nothing of our crates: raw APDUs through the `pcsc` crate, SELECT the
/// AID, SELECT EF05 / EF06, READ RECORD by number; records returned by tag.
fn plain_read(reader: &str) -> BTreeMap<u8, Vec<u8>> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("pcscd");
    let name = std::ffi::CString::new(reader).expect("name");
    let card = ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).expect("connect");
    let mut buf = [0u8; 300];
    let mut send = |apdu: &[u8]| -> Vec<u8> { card.transmit(apdu, &mut buf).expect("transmit").to_vec() };
    let aid = hex::decode("7378312E73682EC9E7BBE1B1A3D5CF").expect("hex");
    assert!(send(&[&[0x00, 0xA4, 0x04, 0x00, 0x0F][..], &aid].concat()).ends_with(&[0x90, 0x00]));
    let mut out = BTreeMap::new();
    for (fid, records) in
        [([0xEF, 0x05], &[1u8, 2, 3, 4, 5, 6, 7][..]), ([0xEF, 0x06], &[8, 9, 0x4E, 10, 11, 12, 13])]
    {
        assert!(send(&[0x00, 0xA4, 0x02, 0x0C, 0x02, fid[0], fid[1]]).ends_with(&[0x90, 0x00]));
        for &n in records {
            let r = send(&[0x00, 0xB2, n, 0x04, 0x00]);
            if r == [0x6A, 0x83] {
                continue;
            }
            assert!(r.ends_with(&[0x90, 0x00]), "record {n:02X}: {}", hex::encode_upper(&r));
            let (tag, len) = (r[0], usize::from(r[1]));
            assert_eq!((tag, len + 4), (n, r.len()), "record {n:02X} is tag len value");
            out.insert(tag, r[2..2 + len].to_vec());
        }
    }
    out
}

fn personalise_and_read_back(profile_file: &str) {
    let _one = common::serial();
    let p = profile(profile_file);
    let layout = SsseLayout::from_profile(&p).expect("layout");
    let mut stack = Stack::issuance(profile_file);
    let mut card = stack.manager.open(READER).expect("card");
    let mut sam = stack.manager.open(PSAM_READER).expect("PSAM");
    let atr = card.atr().to_vec();
    let (issuer, holder) = common::zhang_san(&p, &atr);
    {
        let mut tx = card.transaction().expect("card tx");
        let mut sam_tx = sam.transaction().expect("PSAM tx");
        let done =
            ssse::personalise(tx.as_mut(), &atr, &mut Psam::new(sam_tx.as_mut()), &layout, &issuer, &holder)
                .expect("personalised");
        assert_eq!(done.card_id, issuer.card_id);
    }
    drop((card, sam));
    let read = plain_read(READER);
    let expected: BTreeMap<u8, Vec<u8>> = BTreeMap::from([
        (0x01, issuer.card_id.0.to_vec()),
        (0x02, b"1".to_vec()),
        (0x03, p.spec_version.as_bytes().to_vec()),
        (0x04, hex::decode("11010000000000000001FFFF").expect("hex")),
        (0x05, vec![0x20, 0x26, 0x11, 0x22]),
        (0x06, vec![0x20, 0x36, 0x11, 0x22]),
        (0x07, b"B7K334774".to_vec()),
        (0x08, b"11010519491231002X".to_vec()),
        (0x09, [&[0xD5, 0xC5, 0xC8, 0xFD][..], &[0; 26]].concat()),
        (0x0A, b"2".to_vec()),
        (0x0B, vec![0x01]),
        (0x0C, vec![0x11, 0x01, 0x05]),
        (0x0D, vec![0x19, 0x49, 0x12, 0x31]),
        (0x4E, vec![0; 20]),
    ]);
    assert_eq!(read, expected, "a plain reader gets exactly the applicant's data");
    stack.pcscd.stop();
}

#[test]
fn a_blank_3des_card_is_personalised_through_pcscd_and_a_plain_reader_gets_the_data() {
    personalise_and_read_back("ssc-3g-sim.toml");
}

#[test]
fn a_blank_sm4_card_is_personalised_through_pcscd_and_a_plain_reader_gets_the_data() {
    personalise_and_read_back("ssc-3g-sm4-sim.toml");
}

#[test]
fn writes_without_authentication_or_with_a_wrong_key_are_refused_with_step_and_sw() {
    let _one = common::serial();
    let p = profile("ssc-3g-sim.toml");
    let layout = SsseLayout::from_profile(&p).expect("layout");
    let mut stack = Stack::issuance("ssc-3g-sim.toml");
    let mut card = stack.manager.open(READER).expect("card");
    let atr = card.atr().to_vec();
    let (issuer, holder) = common::zhang_san(&p, &atr);
    let mut tx = card.transaction().expect("card tx");

    // No authentication: the card answers 6982 to the write.
    apdu::expect_ok(tx.as_mut(), &apdu::Command::select_aid(&ssse::ENVIRONMENT_AID), "SELECT")
        .expect("select");
    let record = issuer.records().expect("records").remove(0).1;
    let e = apdu::expect_ok(
        tx.as_mut(),
        &apdu::Command::new(0x00, 0xDC, 0x01, (5 << 3) | 4).with_data(record),
        "UPDATE RECORD EF05 record 01",
    )
    .expect_err("refused");
    assert_eq!(e.status_word(), Some(StatusWord::SecurityStatusNotSatisfied));
    assert_eq!(
        e.to_string(),
        "UPDATE RECORD EF05 record 01: card answered 6982 security status not satisfied"
    );

    // A wrong key: the card counts it and the error names the step and the status word.
    let mut wrong = ssse::SoftwareKeys::default();
    wrong.insert(layout.psam_key, layout.algorithm, card_crypto::Key::new(vec![0x42; 16]));
    for left in [14, 13] {
        let e = ssse::personalise(tx.as_mut(), &atr, &mut wrong, &layout, &issuer, &holder)
            .expect_err("wrong key");
        assert!(matches!(e, SsseError::Card(_)), "{e}");
        assert_eq!(e.step(), Some("EXTERNAL AUTHENTICATE with update key 04"));
        assert_eq!(e.status_word(), Some(StatusWord::RetriesLeft(left)));
    }
    drop(tx);
    let read = plain_read(READER);
    assert_eq!(read.get(&0x08), Some(&vec![0; 18]), "nothing was written");
    stack.pcscd.stop();
}

fn station(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_station"))
        .args(args)
        .env("STATION_PROFILES", common::profile(""))
        .output()
        .expect("station runs")
}

fn applicant_file(name: &str) -> String {
    format!("{}/../applicant/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn station_personalise_then_card_read_show_the_applicant() {
    let _one = common::serial();
    for (profile, file, name) in
        [("ssc-3g-sim.toml", "adult.json", "张三"), ("ssc-3g-sm4-sim.toml", "rare_name.json", "王𠮷")]
    {
        let mut stack = Stack::issuance(profile);
        let out = station(&[
            "personalise",
            "--applicant",
            &applicant_file(file),
            "--card-number",
            "B7K334774",
            "--reader",
            READER,
            "--psam-reader",
            PSAM_READER,
            "--region",
            "110100",
            "--init-org",
            "11010000000000000001",
            "--card-id-vendor",
            "0102030405060708",
            "--json",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let done: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(done["records"], 14);
        assert_eq!(done["profile"], profile.trim_end_matches(".toml"), "chosen by the card's ATR");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("11010519491231002X"), "the number is masked");
        let out = station(&["card", "read", "--reader", READER, "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let read: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let ss = &read["social_security"];
        assert_eq!((ss["name"].as_str(), ss["card_number"].as_str()), (Some(name), Some("B7K334774")));
        assert_eq!(ss["region"], "110100");
        assert_eq!(
            ss["card_id"], "110100D1560000050102030405060708",
            "vendor bytes from the provincial service"
        );
        assert_eq!(ss["version"], "3.00");
        assert_eq!(ss["atr_historical"], read["historical_bytes"]);
        stack.pcscd.stop();
    }
}

#[test]
fn station_personalise_refuses_bad_data_before_touching_the_card() {
    let _one = common::serial();
    let mut stack = Stack::issuance("ssc-3g-sim.toml");
    let before = stack.card.apdu_count();
    let out = station(&[
        "personalise",
        "--applicant",
        &applicant_file("bad_fields.json"),
        "--card-number",
        "B00000019",
        "--reader",
        READER,
        "--psam-reader",
        PSAM_READER,
        "--region",
        "110100",
        "--init-org",
        "1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("need correcting") && err.contains("holder."), "{err}");
    assert_eq!(stack.card.apdu_count(), before, "no APDU reached the card");
    stack.pcscd.stop();
}
