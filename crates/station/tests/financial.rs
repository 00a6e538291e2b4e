//! The financial application through the real stack, once per secure-channel scheme the
//! profiles name (`ssc-3g-fin-sim`: SCP02 i=15 with EMV CPS keys; `ssc-3g-fin-scp03-sim`:
//! SCP03 i=70 with KDF3; `ssc-3g-fin-sm4-sim`: the SM4 variant). A blank simulated card is
//! personalised over pcsc -> pcscd -> vpcd through its issuer security domain, with the scheme,
//! key version, diversification and master check value read from its profile (STORE DATA from
//! a test DP file); an EMV terminal flow run by our code then reads PAN, expiry and label and
//! gets an ARQC that verifies against the issuer keys: through the PSE on the contact reader,
//! then, with the card moved to the contactless reader (vpcd's third slot, its own ATR),
//! through the PPSE. One pcscd at a time.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use card_transport::{Card, ReaderKind, ReaderManager};
use common::{Stack, READER};
use emv_cps::{CardReading, Interface, IssuerKeys, PersoParams, TerminalParams};
use pcsc_reader::ReaderEvent;
use secure_channel::{IsdSetup, SecurityLevel};

const CONTACTLESS_READER: &str = pcsc_stack::CONTACTLESS_READER;

fn terminal(interface: Interface, date: &str) -> TerminalParams {
    let mut params = TerminalParams::counter(interface, date, [0x12, 0x34, 0x56, 0x78]);
    params.amount = 100;
    params
}

/// What every reading of the test card shows, and an ARQC only the issuer key verifies.
fn check_reading(reading: &CardReading) {
    assert_eq!(reading.pan, "6212345302375609269");
    assert_eq!((reading.expiry.as_str(), reading.label.as_str()), ("351231", "PBOC DEBIT"));
    emv_cps::verify_arqc(reading, &IssuerKeys::test()).expect("the ARQC verifies against the issuer key");
    let mut tampered = reading.clone();
    tampered.ac.cryptogram[0] ^= 1;
    assert!(emv_cps::verify_arqc(&tampered, &IssuerKeys::test()).is_err());
}

fn personalise_then_contact_and_contactless(profile_file: &str, level: SecurityLevel) {
    let _one = common::serial();
    let profile = firmware_profile::Profile::load(common::profile(profile_file)).expect("profile");
    let setup = IsdSetup::from_profile(&profile).expect("[isd]");
    let isd_keys = setup.sim_keys(&profile).expect("test master key");
    let mut params = PersoParams::for_profile(&profile).expect("params");
    params.host.level = level;
    let dp = emv_cps::build_test_dp(
        &emv_cps::TestCard::example(),
        &IssuerKeys::test(),
        &emv_cps::test_transport_key(),
    )
    .expect("dp");

    let mut stack = Stack::issuance(profile_file);
    {
        let mut card = stack.manager.open(READER).expect("card");
        assert_eq!(
            Interface::of_atr(card.atr()),
            Interface::Contact,
            "the contact reader gives the card's ATR"
        );
        let mut tx = card.transaction().expect("tx");
        let report =
            emv_cps::personalise(tx.as_mut(), &dp, &emv_cps::test_transport_key(), &isd_keys, &params)
                .unwrap_or_else(|e| panic!("{profile_file}: personalised over pcscd: {e}"));
        assert_eq!((report.applications, report.dgis > 10), (3, true), "{report:?}");
        let reading = emv_cps::run_terminal(tx.as_mut(), &terminal(Interface::Contact, "261123"))
            .expect("terminal flow through the PSE");
        check_reading(&reading);
        assert_eq!((reading.interface, reading.atc), (Interface::Contact, 1));
    }

    // The card leaves the contact slot and is held to the contactless reader: the same card
    // (its state file), presented as ISO 14443-4.
    stack.card.remove();
    let event = stack.manager.wait_for_removal(READER, Some(Duration::from_secs(15))).expect("removal");
    assert!(matches!(event, ReaderEvent::CardRemoved { .. }), "{event:?}");
    let contactless = card_sim::start_contactless(&card_sim::SimConfig {
        profile: common::profile(profile_file),
        state: Some(stack.state_dir.path().join("card.json")),
        faults: card_sim::Faults::default(),
        vpcd: SocketAddr::from(([127, 0, 0, 1], common::port() + pcsc_stack::CONTACTLESS_PORT_OFFSET)),
        blank: false,
    })
    .expect("card presented contactless");
    let event = stack
        .manager
        .wait_for_card(CONTACTLESS_READER, Some(Duration::from_secs(15)))
        .expect("wait for card");
    assert!(matches!(event, ReaderEvent::CardInserted { .. }), "card did not appear: {event:?}");
    let readers = stack.manager.list_readers().expect("readers");
    let slot = readers.iter().find(|r| r.name == CONTACTLESS_READER).expect("contactless reader listed");
    assert_eq!((slot.kind, slot.card_present), (ReaderKind::Contactless, true));

    let mut card = stack.manager.open(CONTACTLESS_READER).expect("card on the contactless reader");
    let atr = card.atr().to_vec();
    assert_eq!(&atr[..4], &[0x3B, 0x8E, 0x80, 0x01], "PC/SC part 3 ATR of an ISO 14443-4 card: {atr:02X?}");
    let interface = Interface::of_atr(&atr);
    assert_eq!(interface, Interface::Contactless);
    let mut tx = card.transaction().expect("tx");
    let reading = emv_cps::run_terminal(tx.as_mut(), &terminal(interface, "261124"))
        .expect("terminal flow through the PPSE");
    check_reading(&reading);
    assert_eq!(reading.interface, Interface::Contactless);
    assert_eq!(reading.atc, 2, "the same card: its transaction counter goes on");
    assert_eq!(reading.ac.iad[4], 0xA0, "ARQC, no offline PIN on the contactless path");
    // Through the antenna the card has no contact directory: no PSE, only the PPSE.
    let pse = hex::decode(emv_cps::AID_PSE).expect("AID");
    let r = apdu::transmit(tx.as_mut(), &apdu::Command::select_aid(&pse)).expect("SELECT PSE");
    assert_eq!(r.sw, apdu::StatusWord::FileNotFound);
    drop(tx);
    drop(card);
    contactless.stop();
    stack.pcscd.stop();
}

#[test]
fn scp02_a_blank_card_is_personalised_through_pcscd_and_answers_a_terminal_on_both_readers() {
    personalise_then_contact_and_contactless("ssc-3g-fin-sim.toml", SecurityLevel::C_MAC);
}

#[test]
fn scp03_a_blank_card_is_personalised_through_pcscd_and_answers_a_terminal_on_both_readers() {
    personalise_then_contact_and_contactless("ssc-3g-fin-scp03-sim.toml", SecurityLevel::C_DEC_C_MAC_R_MAC);
}

#[test]
fn sm4_a_blank_card_is_personalised_through_pcscd_and_answers_a_terminal_on_both_readers() {
    personalise_then_contact_and_contactless("ssc-3g-fin-sm4-sim.toml", SecurityLevel::C_DEC_C_MAC);
}
