//! Read-only checks on real cards in the readers named by `STATION_HW_READERS`.

use apdu::{expect_ok, Atr, Command, StatusWord};
use card_transport::{Disposition, ReaderManager};

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
