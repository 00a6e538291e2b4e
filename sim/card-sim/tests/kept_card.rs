//! A made card kept as a state file, as the simulated counter keeps the cards it ejects: a
//! blank card of the financial profile lives in memory only, is personalised by the real
//! hosts (the SSSE through the simulated PSAM, the PBOC debit application through its issuer
//! security domain with EMV CPS STORE DATA), used once by a terminal, and its image is kept.
//! Opened again from that file, both applications read as they were made and the
//! application's counters (ATC, PIN tries) carry on.

use std::path::PathBuf;

use card_sim::{CardImage, SharedCard, SimConfig, SimConnection};
use card_transport::{Card, CardTransaction};
use emv_cps::{Interface, IssuerKeys, TerminalParams};
use firmware_profile::{FilePath, Profile};

const FIN: &str = "ssc-3g-fin-sim.toml";

fn profile_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles").join(name)
}

fn card(name: &str, state: Option<PathBuf>, blank: bool) -> SharedCard {
    card_sim::build_card(&SimConfig {
        profile: profile_path(name),
        state,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank,
    })
    .expect("simulated card")
}

fn holder_data(profile: &Profile, atr: &[u8]) -> (ssse::IssuerData, ssse::HolderData) {
    let region = &profile.sim.derive.as_ref().expect("sim.derive").region;
    let issuer = ssse::IssuerData {
        card_id: ssse::CardId::new(region, ssse::card8(atr).expect("card8")).expect("card id"),
        card_type: '1',
        spec_version: profile.spec_version.clone(),
        init_org: "11010000000000000001".into(),
        issue_date: "20261122".into(),
        expiry_date: "20361122".into(),
        card_number: "B7K334774".into(),
    };
    let holder = ssse::HolderData {
        ssn: "11010519491231002X".into(),
        name_gbk: vec![0xD5, 0xC5, 0xC8, 0xFD],
        name_extension: Vec::new(),
        sex: '2',
        ethnicity: "01".into(),
        birthplace: "110105".into(),
        birth_date: "19491231".into(),
    };
    (issuer, holder)
}

fn terminal(pin: Option<&str>) -> TerminalParams {
    let mut t = TerminalParams::counter(Interface::Contact, "261204", [1, 2, 3, 4]);
    t.pin = pin.map(str::to_string);
    t
}

/// SELECT the debit application, then its records SFI 1 records 1 and 2, raw.
fn debit_records(tx: &mut dyn CardTransaction) -> Vec<Vec<u8>> {
    let select = apdu::Command::select_aid(&hex::decode(emv_cps::AID_PBOC_DEBIT).expect("aid"));
    assert_eq!(apdu::transmit(tx, &select).expect("select").sw, apdu::StatusWord::Success);
    (1..=2)
        .map(|rec| {
            let r = apdu::transmit(tx, &apdu::Command::new(0x00, 0xB2, rec, (1 << 3) | 4).with_le(256))
                .expect("read record");
            assert_eq!(r.sw, apdu::StatusWord::Success, "record {rec}");
            r.data
        })
        .collect()
}

#[test]
fn a_personalised_card_kept_as_a_file_opens_with_both_applications_as_made() {
    let p = Profile::load(profile_path(FIN)).expect("profile");
    let chip = card(FIN, None, true);
    let psam = card("psam-sim.toml", None, false);
    let mut user = SimConnection::connect("sim 0", chip.clone()).expect("card");
    let mut sam = SimConnection::connect("sim 1", psam).expect("PSAM");
    let atr = user.atr().to_vec();
    let (issuer, holder) = holder_data(&p, &atr);
    let dp = emv_cps::build_test_dp(
        &emv_cps::TestCard { holder_id: holder.ssn.clone(), ..emv_cps::TestCard::example() },
        &IssuerKeys::test(),
        &emv_cps::test_transport_key(),
    )
    .expect("dp");
    let (made_records, made_reading) = {
        let mut sam_tx = sam.transaction().expect("PSAM tx");
        let mut keys = ssse::Psam::new(sam_tx.as_mut());
        let mut tx = user.transaction().expect("tx");
        let layout = ssse::SsseLayout::from_profile(&p).expect("layout");
        ssse::personalise(tx.as_mut(), &atr, &mut keys, &layout, &issuer, &holder).expect("SSSE");
        let isd = secure_channel::IsdSetup::from_profile(&p).and_then(|s| s.sim_keys(&p)).expect("isd keys");
        let params = emv_cps::PersoParams::for_profile(&p).expect("params");
        emv_cps::personalise(tx.as_mut(), &dp, &emv_cps::test_transport_key(), &isd, &params)
            .expect("financial");
        // The holder uses the card once, with a wrong PIN: the counters move.
        let reading = emv_cps::run_terminal(tx.as_mut(), &terminal(Some("000000"))).expect("terminal");
        assert_eq!((reading.atc, reading.pin_verified, reading.pin_try_counter), (1, Some(false), 3));
        (debit_records(tx.as_mut()), reading)
    };

    let dir = tempfile::tempdir().expect("tmp");
    let kept = dir.path().join("B7K334774.json");
    let image = card_sim::lock(&chip).os().image();
    let ef05 = FilePath::parse("3F00/DDF1/EF05").expect("path");
    assert_eq!(
        image.record(&ef05, 7),
        Some(&b"\x07\x09B7K334774"[..]),
        "the card number, as the chip holds it"
    );
    image.keep(&kept).expect("kept");
    assert_eq!(CardImage::read(&kept).expect("read").profile_id(), "ssc-3g-fin-sim");
    drop((user, chip));

    // Plugged in again from the file (the factory would make a blank card: the file decides).
    let again = card(FIN, Some(kept.clone()), true);
    let mut user = SimConnection::connect("sim 0", again).expect("card again");
    let mut tx = user.transaction().expect("tx");
    let read = ssse::read_card(tx.as_mut(), &atr).expect("SSSE public read");
    assert_eq!((read.issuer, read.holder), (issuer, holder), "the social-security application");
    assert_eq!(debit_records(tx.as_mut()), made_records, "the debit application's records");
    let reading = emv_cps::run_terminal(tx.as_mut(), &terminal(None)).expect("terminal again");
    assert_eq!(reading.pan, dp.card.pan);
    assert_eq!(reading.pan, made_reading.pan);
    assert_eq!((reading.atc, reading.pin_try_counter), (2, 2), "ATC and PIN tries carried on");
    emv_cps::verify_arqc(&reading, &IssuerKeys::test()).expect("the ARQC verifies with the card's own keys");
}
