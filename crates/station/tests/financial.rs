//! The financial application through the real stack: a blank simulated card (profile
//! `ssc-3g-fin-sim`) is personalised over pcsc -> pcscd -> vpcd through its issuer security
//! domain (SCP02, STORE DATA from a test DP file), then an EMV terminal flow run by our code
//! reads PAN, expiry and label and gets an ARQC that verifies against the issuer keys, by the
//! contact (PSE) and the contactless (PPSE) path. One pcscd at a time.

mod common;

use card_transport::Card;
use common::{Stack, READER};
use emv_cps::{Interface, TerminalParams};
use secure_channel::{Algorithm, Diversification, SecretKey, SoftwareKeys};

#[test]
fn a_blank_card_is_personalised_through_pcscd_and_answers_a_terminal() {
    let _one = common::serial();
    let mut stack = Stack::issuance("ssc-3g-fin-sim.toml");
    let dp = emv_cps::build_test_dp(
        &emv_cps::TestCard::example(),
        &emv_cps::IssuerKeys::test(),
        &emv_cps::test_transport_key(),
    )
    .expect("dp");
    let isd = SoftwareKeys::from_master(
        0x01,
        SecretKey::from_hex(Algorithm::Tdes, card_sim::TEST_KMC).expect("kmc"),
        Diversification::EmvCps,
    );
    let mut card = stack.manager.open(READER).expect("card");
    let mut tx = card.transaction().expect("tx");
    let report = emv_cps::personalise(
        tx.as_mut(),
        &dp,
        &emv_cps::test_transport_key(),
        &isd,
        &emv_cps::PersoParams::test(),
    )
    .expect("personalised over pcscd");
    assert!(report.store_data > 0, "{report:?}");
    for (interface, date) in [(Interface::Contact, "261123"), (Interface::Contactless, "261124")] {
        let mut params = TerminalParams::counter(interface, date, [0x12, 0x34, 0x56, 0x78]);
        params.amount = 100;
        let reading = emv_cps::run_terminal(tx.as_mut(), &params).expect("terminal flow");
        assert_eq!(reading.pan, "6212345302375609269");
        assert_eq!((reading.expiry.as_str(), reading.label.as_str()), ("351231", "PBOC DEBIT"));
        emv_cps::verify_arqc(&reading, &emv_cps::IssuerKeys::test())
            .expect("the ARQC verifies against the issuer key");
        let mut tampered = reading.clone();
        tampered.ac.cryptogram[0] ^= 1;
        assert!(emv_cps::verify_arqc(&tampered, &emv_cps::IssuerKeys::test()).is_err());
    }
    drop(tx);
    stack.pcscd.stop();
}
