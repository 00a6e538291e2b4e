//! Read-only checks on real cards in the readers named by `STATION_HW_READERS`.

use apdu::{expect_ok, Atr, Command, StatusWord};
use card_transport::{Card, Disposition, ReaderManager};

const SSSE_AID: [u8; 15] = *b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";

#[test]
fn every_reader_under_test_has_a_card_with_a_valid_atr() {
    let mut manager = pcsc_reader::PcscManager::new().expect("pcscd is running");
    for name in hw_tests::readers_under_test() {
        let card = manager.connect(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let atr = Atr::parse(card.atr()).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: ATR {} protocols {:?}", hex::encode_upper(atr.as_bytes()), atr.protocols());
        card.disconnect(Disposition::Leave).expect("disconnect");
    }
}

#[test]
fn social_security_cards_answer_select_and_get_challenge() {
    let mut manager = pcsc_reader::PcscManager::new().expect("pcscd is running");
    for name in hw_tests::readers_under_test() {
        let mut card = manager.connect(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        {
            let mut tx = card.transaction().expect("transaction");
            let select = apdu::transmit(tx.as_mut(), &Command::select_aid(&SSSE_AID)).expect("SELECT");
            // Some COSes answer 6A82 to the environment SELECT yet allow EF05 (card-spec.md 1).
            println!("{name}: SELECT SSSE -> {:04X}", select.sw.as_u16());
            assert!(
                matches!(select.sw, StatusWord::Success | StatusWord::FileNotFound),
                "{name}: SELECT SSSE answered {}",
                select.sw
            );
            let a = expect_ok(tx.as_mut(), &Command::get_challenge(8), "GET CHALLENGE").expect("challenge");
            let b = expect_ok(tx.as_mut(), &Command::get_challenge(8), "GET CHALLENGE").expect("challenge");
            assert_eq!(a.len(), 8);
            assert_ne!(a, b, "{name}: two challenges in a row are equal");
        }
        card.disconnect(Disposition::Leave).expect("disconnect");
    }
}

/// A reader pulled out of its USB port and plugged back: the driver reports the loss and the
/// same card object reconnects. Needs a person at the desk: `STATION_HW_UNPLUG=1`, then unplug
/// and replug the first reader of `STATION_HW_READERS` when asked (within 60 s each).
#[test]
fn an_unplugged_reader_is_reported_and_the_card_reconnects() {
    if std::env::var_os("STATION_HW_UNPLUG").is_none() {
        panic!("set STATION_HW_UNPLUG=1 and be ready to unplug and replug the reader");
    }
    let name = hw_tests::readers_under_test().remove(0);
    let mut manager = pcsc_reader::PcscManager::new().expect("pcscd is running");
    let mut card = manager.open(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
    manager.list_readers().expect("readers");
    eprintln!(">>> unplug {name} now");
    let limit = Some(std::time::Duration::from_secs(60));
    let event = manager.wait_for_reader_change(limit).expect("reader change");
    assert!(matches!(event, pcsc_reader::ReaderEvent::ReaderRemoved { .. }), "{event:?}");
    let err = card.transaction().err().expect("no transaction without the reader");
    assert!(err.is_link_lost(), "{err:?}");
    eprintln!(">>> plug {name} back in, with the card");
    let event = manager.wait_for_reader_change(limit).expect("reader change");
    assert!(matches!(event, pcsc_reader::ReaderEvent::ReaderAdded { .. }), "{event:?}");
    manager.wait_for_card(&name, limit).expect("card");
    let mut tx = card.transaction().expect("the same card object reconnects");
    assert!(tx.was_reset(), "a replugged reader powers the card up again");
    expect_ok(tx.as_mut(), &Command::get_challenge(8), "GET CHALLENGE").expect("card answers");
}
