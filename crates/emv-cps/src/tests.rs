//! Tests of the data preparation, STORE DATA and the terminal flow against the in-process
//! card simulator.

use std::path::PathBuf;

use apdu::{Command, StatusWord};
use card_sim::{SharedCard, SimConnection};
use card_transport::{Card, CardTransaction, Metered};
use secure_channel::{Algorithm, Diversification, SecretKey, SecurityLevel, SoftwareKeys};

use super::*;

fn sim() -> SharedCard {
    card_sim::build_card(&card_sim::SimConfig {
        profile: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../firmware-profiles/ssc-3g-fin-sim.toml"),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank: true,
    })
    .expect("simulated card")
}

/// The ISD keys of `ssc-3g-fin-sim` as its profile gives them (the test KMC, EMV CPS).
fn isd_keys() -> SoftwareKeys {
    let p = firmware_profile::Profile::load(profile_path("ssc-3g-fin-sim.toml")).expect("profile");
    secure_channel::IsdSetup::from_profile(&p).and_then(|s| s.sim_keys(&p)).expect("keys")
}

fn dp() -> DpFile {
    build_test_dp(&TestCard::example(), &IssuerKeys::test(), &test_transport_key()).expect("dp")
}

fn perso(tx: &mut dyn CardTransaction, dp: &DpFile, params: &PersoParams) -> Result<PersoReport, Error> {
    personalise(tx, dp, &test_transport_key(), &isd_keys(), params)
}

fn terminal(interface: Interface) -> TerminalParams {
    let mut t = TerminalParams::counter(interface, "260315", [0x12, 0x34, 0x56, 0x78]);
    t.amount = 100;
    t
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("hex")
}

#[test]
fn the_dp_builder_is_deterministic_and_its_file_parses_back() {
    let a = dp();
    assert_eq!(a.to_json(), dp().to_json(), "same card, same bytes");
    assert_eq!(DpFile::parse(&a.to_json()).expect("parse"), a);
    assert!(crypto::luhn_ok(&a.card.pan) && a.card.pan.starts_with("621234"));
    assert_eq!(
        a.applications.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["PSE", "PPSE", "PBOC debit"]
    );
    // The encrypted key DGI decrypts to the option A keys whose check values DGI 9000 lists.
    let app = a.application(&h(AID_PBOC_DEBIT)).expect("pboc");
    let dgis = app.checked_dgis().expect("dgis");
    let keys = dgis.iter().find(|d| d.dgi == 0x8000).expect("8000");
    assert!(keys.encrypted);
    let plain = decrypt_from_transport(&test_transport_key(), 0x8000, &keys.value).expect("decrypt");
    let mk_ac = crypto::card_key(&IssuerKeys::test().ac, &a.card.pan, 1).expect("mk");
    assert_eq!(&plain[..16], mk_ac.expose());
    assert_eq!(dgis.iter().find(|d| d.dgi == 0x9000).expect("9000").value[..3], mk_ac.kcv().0);
    // A contact-only card has no PPSE and no contactless DGIs.
    let mut c = TestCard::example();
    c.contactless = false;
    let contact = build_test_dp(&c, &IssuerKeys::test(), &test_transport_key()).expect("dp");
    assert_eq!(contact.applications.len(), 2);
    // Refusals.
    let mut bad = a.clone();
    bad.format = "emv-cps-dp/0".into();
    assert!(matches!(DpFile::parse(&bad.to_json()), Err(Error::Dp(_))));
    let mut bad = a.clone();
    bad.applications[2].dgis[0].encrypted = Some("00".repeat(8));
    assert!(DpFile::parse(&bad.to_json()).is_err(), "both data and encrypted");
    let mut bad = a.clone();
    bad.applications[2].dgis[1].dgi = "0101".into();
    assert!(DpFile::parse(&bad.to_json()).is_err(), "DGI twice");
    let mut c = TestCard::example();
    c.expiry = "351331".into();
    assert!(build_test_dp(&c, &IssuerKeys::test(), &test_transport_key()).is_err());
}

#[test]
fn store_data_blocks_follow_the_size_the_lengths_and_the_flags() {
    let dgis = vec![
        Dgi { dgi: 0x0101, value: vec![0x70; 40], encrypted: false },
        Dgi { dgi: 0x0201, value: (0..300u16).map(|i| i as u8).collect(), encrypted: false },
        Dgi { dgi: 0x8000, value: vec![0xEE; 56], encrypted: true },
        Dgi { dgi: 0x8010, value: vec![0xDD; 16], encrypted: true },
        Dgi { dgi: 0x9010, value: vec![3, 3], encrypted: false },
    ];
    let blocks = store_data_blocks(&dgis, 100).expect("blocks");
    assert!(blocks.iter().all(|b| b.data.len() <= 100));
    assert_eq!(blocks.iter().map(|b| b.p2).collect::<Vec<_>>(), (0..blocks.len() as u8).collect::<Vec<_>>());
    let p1: Vec<u8> = blocks.iter().map(|b| b.p1).collect();
    // 3+40 and 5+300 plain bytes = 348: 4 blocks; 2 encrypted DGIs = 3+56+3+16 = 78: 1 block; last plain.
    assert_eq!(p1, [0x00, 0x00, 0x00, 0x00, 0x60, 0x80]);
    let plain: Vec<u8> = blocks[..4].iter().flat_map(|b| b.data.clone()).collect();
    assert_eq!(&plain[..3], &[0x01, 0x01, 40]);
    assert_eq!(&plain[43..48], &[0x02, 0x01, 0xFF, 0x01, 0x2C], "3-byte length above 254");
    assert_eq!(plain.len(), 3 + 40 + 5 + 300);
    assert_eq!(&blocks[4].data[..3], &[0x80, 0x00, 56]);
    assert_eq!(blocks[5].data, [0x90, 0x10, 0x02, 3, 3]);
    assert_eq!(dgi_header(0x0101, 254), [0x01, 0x01, 0xFE]);
    assert_eq!(dgi_header(0x0101, 255), [0x01, 0x01, 0xFF, 0x00, 0xFF]);
    // Block sizes of the secure channel over a short reader.
    let caps = card_transport::Capabilities::SHORT;
    let s = secure_channel::Scheme::scp02(0x15);
    assert_eq!(max_block(caps, s, SecurityLevel::C_MAC), 247);
    assert_eq!(max_block(caps, s, SecurityLevel::C_DEC_C_MAC), 239);
    assert!(store_data_blocks(&[], 100).is_err());
}

#[test]
fn a_blank_card_is_personalised_and_the_terminal_reads_a_valid_arqc() {
    let card = sim();
    let mut conn = SimConnection::connect("sim 0", card.clone()).expect("connect");
    let dp = dp();
    let mut tx = conn.transaction().expect("tx");
    // Not personalised yet: the application is not there for a terminal.
    let r = apdu::transmit(tx.as_mut(), &Command::select_aid(&h(AID_PBOC_DEBIT))).expect("select");
    assert_eq!(r.sw, StatusWord::FileNotFound);
    let mut metered = Metered::new(tx.as_mut());
    let report = perso(&mut metered, &dp, &PersoParams::test()).expect("personalised");
    assert_eq!((report.applications, report.block_size), (3, 247));
    let n = metered.count().apdus as usize;
    assert_eq!(n, 3 + 3 + report.store_data, "SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, 3 INSTALL");
    let mut params = terminal(Interface::Contact);
    params.pin = Some("123456".into());
    let reading = run_terminal(tx.as_mut(), &params).expect("terminal flow");
    assert_eq!(reading.pan, dp.card.pan);
    assert_eq!(reading.expiry, "351231");
    assert_eq!(reading.label, "PBOC DEBIT");
    assert_eq!(reading.holder_name.as_deref(), Some("ZHANG/SAN"));
    assert_eq!((reading.atc, reading.pin_try_counter, reading.pin_verified), (1, 3, Some(true)));
    assert_eq!(reading.ac.cid, 0x80);
    assert_eq!(reading.ac.iad[..4], [0x07, 0x01, 0x01, 0x03]);
    assert_eq!(reading.ac.iad[4], 0xA4, "ARQC, offline PIN verified");
    verify_arqc(&reading, &IssuerKeys::test()).expect("ARQC verifies");
    // Another issuer's key does not verify it; a changed amount does not either.
    let mut other = IssuerKeys::test();
    other.ac = SecretKey::from_hex(Algorithm::Tdes, "00112233445566778899AABBCCDDEEFF").expect("k");
    assert!(matches!(verify_arqc(&reading, &other), Err(Error::Cryptogram(_))));
    let mut forged = reading.clone();
    forged.ac.cdol1_data[5] ^= 1;
    assert!(verify_arqc(&forged, &IssuerKeys::test()).is_err());
    // A second transaction: new ATC, new cryptogram; a wrong PIN costs a try.
    params.pin = Some("654321".into());
    let second = run_terminal(tx.as_mut(), &params).expect("second");
    assert_eq!((second.atc, second.pin_verified), (2, Some(false)));
    assert_ne!(second.ac.cryptogram, reading.ac.cryptogram);
    verify_arqc(&second, &IssuerKeys::test()).expect("second ARQC");
    let r =
        apdu::transmit(tx.as_mut(), &Command::new(0x80, 0xCA, 0x9F, 0x17).with_le(256)).expect("get data");
    assert_eq!(r.data, [0x9F, 0x17, 0x01, 0x02]);
    // Personalised once: INSTALL [for personalization] again is refused.
    let e = perso(tx.as_mut(), &dp, &PersoParams::test()).expect_err("again");
    assert_eq!(e.status_word(), Some(StatusWord::ConditionsNotSatisfied), "{e}");
}

#[test]
fn contactless_goes_through_the_ppse_and_uses_the_contactless_data() {
    let card = sim();
    let mut conn = SimConnection::connect("sim 0", card).expect("connect");
    let mut tx = conn.transaction().expect("tx");
    let dp = dp();
    perso(tx.as_mut(), &dp, &PersoParams::test()).expect("personalised");
    let r = apdu::transmit(tx.as_mut(), &Command::select_aid(&h(AID_PPSE))).expect("select PPSE");
    assert_eq!(r.sw, StatusWord::Success);
    assert_eq!(apdu::find_primitive(&r.data, 0x4F), Some(h(AID_PBOC_DEBIT)), "directory entry in BF0C");
    let reading = run_terminal(tx.as_mut(), &terminal(Interface::Contactless)).expect("contactless flow");
    assert_eq!((reading.pan.as_str(), reading.expiry.as_str()), (dp.card.pan.as_str(), "351231"));
    assert_eq!(reading.label, "PBOC DEBIT");
    assert_eq!(reading.pin_verified, None);
    assert_eq!(reading.ac.iad[4], 0xA0, "ARQC, no offline PIN");
    verify_arqc(&reading, &IssuerKeys::test()).expect("ARQC verifies");
    // The contactless SELECT answer carried the contactless PDOL (TTQ first).
    let fci = apdu::expect_ok(tx.as_mut(), &Command::select_aid(&h(AID_PBOC_DEBIT)), "select").expect("fci");
    assert_eq!(apdu::find_primitive(&fci, 0x9F38), Some(h(PDOL_CONTACTLESS)));
}

#[test]
fn a_failure_in_the_terminal_flow_keeps_its_step_and_status_word() {
    // No card: the APDU layer's transport error, named by the step.
    let mut gone = card_transport::transcript::Replay::from_text("").expect("transcript");
    let e = run_terminal(&mut gone, &terminal(Interface::Contact)).expect_err("no card");
    assert!(matches!(&e, Error::Card(apdu::Error::Transport { step, .. }) if step == "SELECT PSE"), "{e:?}");
    assert_eq!(e.status_word(), None);
    // The card refuses the PSE with another word than 6A82.
    let mut refusing =
        card_transport::transcript::Replay::from_text("> 00 A4 04 00 *\n< 69 85\n").expect("transcript");
    let e = run_terminal(&mut refusing, &terminal(Interface::Contact)).expect_err("refused");
    assert_eq!(e.status_word(), Some(StatusWord::ConditionsNotSatisfied));
    assert_eq!(e.to_string(), "SELECT PSE: card answered 6985 conditions of use not satisfied");
}

#[test]
fn wrong_isd_keys_are_refused_before_anything_is_sent() {
    let card = sim();
    let mut conn = SimConnection::connect("sim 0", card).expect("connect");
    let mut tx = conn.transaction().expect("tx");
    let wrong = SoftwareKeys::from_master(
        0x01,
        SecretKey::from_hex(Algorithm::Tdes, "000102030405060708090A0B0C0D0E0F").expect("k"),
        Diversification::EmvCps,
    );
    let mut metered = Metered::new(tx.as_mut());
    let e = personalise(&mut metered, &dp(), &test_transport_key(), &wrong, &PersoParams::test())
        .expect_err("kcv");
    assert!(matches!(e, Error::SecureChannel(secure_channel::Error::KeyCheck { .. })), "{e}");
    assert_eq!(metered.count().apdus, 0, "no APDU, not even the SELECT");
    // Without expected check values the card cryptogram catches it: EXTERNAL AUTHENTICATE is
    // never sent, so the card counts no failed try.
    let mut params = PersoParams::test();
    params.host.expected_kcvs = None;
    let e = personalise(&mut metered, &dp(), &test_transport_key(), &wrong, &params).expect_err("cryptogram");
    assert!(matches!(e, Error::SecureChannel(secure_channel::Error::CardCryptogram)), "{e}");
    assert_eq!(metered.count().apdus, 2, "SELECT and INITIALIZE UPDATE only");
    // The wrong transport key: refused before any APDU.
    let tk = SecretKey::from_hex(Algorithm::Tdes, "00112233445566778899AABBCCDDEEFF").expect("k");
    let e = personalise(&mut metered, &dp(), &tk, &isd_keys(), &PersoParams::test()).expect_err("tk");
    assert!(matches!(e, Error::TransportKey { .. }), "{e}");
    assert_eq!(metered.count().apdus, 2);
}

#[test]
fn a_corrupted_encrypted_dgi_is_refused_and_leaves_the_application_blank() {
    let card = sim();
    let mut conn = SimConnection::connect("sim 0", card).expect("connect");
    let mut tx = conn.transaction().expect("tx");
    let mut dp = dp();
    // Flip a bit in the first block of the AC key: the padding (last block) survives, so the
    // host passes it on and the card's check against DGI 9000 must catch it.
    let pboc = dp.applications.iter_mut().find(|a| a.name == "PBOC debit").expect("pboc");
    let keys = pboc.dgis.iter_mut().find(|d| d.dgi == "8000").expect("8000");
    let mut c = hex::decode(keys.encrypted.as_deref().expect("encrypted")).expect("hex");
    c[0] ^= 0x01;
    keys.encrypted = Some(hex::encode_upper(c));
    let e = perso(tx.as_mut(), &dp, &PersoParams::test()).expect_err("refused");
    assert_eq!(e.status_word(), Some(StatusWord::IncorrectData), "{e}");
    assert!(e.to_string().contains("STORE DATA"), "{e}");
    let r = apdu::transmit(tx.as_mut(), &Command::select_aid(&h(AID_PBOC_DEBIT))).expect("select");
    assert_eq!(r.sw, StatusWord::FileNotFound, "nothing committed");
    // A ciphertext altered after the session encryption: the card's padding or key check
    // refuses it too (the host here sends DGIs it prepared itself).
    let mut session = open_isd(tx.as_mut(), &isd_keys(), &PersoParams::test()).expect("session");
    let mut dgis = pboc_dgis(&self::dp());
    for d in dgis.iter_mut().filter(|d| d.encrypted) {
        d.value = session.encrypt_sensitive(&d.value).expect("dek");
    }
    let pin = dgis.iter_mut().find(|d| d.dgi == 0x8010).expect("8010");
    let last = pin.value.len() - 1;
    pin.value[last] ^= 0x55;
    let e =
        store_application(tx.as_mut(), &mut session, &h(AID_PBOC_DEBIT), &dgis, 247).expect_err("refused");
    assert_eq!(e.status_word(), Some(StatusWord::IncorrectData), "{e}");
}

/// The PBOC application's DGIs with the encrypted ones as padded plaintext.
fn pboc_dgis(dp: &DpFile) -> Vec<Dgi> {
    let app = dp.application(&h(AID_PBOC_DEBIT)).expect("pboc");
    let mut dgis = app.checked_dgis().expect("dgis");
    for d in dgis.iter_mut().filter(|d| d.encrypted) {
        d.value = decrypt_from_transport(&test_transport_key(), d.dgi, &d.value).expect("tk").to_vec();
    }
    dgis
}

#[test]
fn small_blocks_long_dgis_and_encrypted_commands_reach_the_card_intact() {
    let card = sim();
    let mut conn = SimConnection::connect("sim 0", card).expect("connect");
    let mut tx = conn.transaction().expect("tx");
    let mut dp = dp();
    let big =
        apdu::encode_tlv(0x70, &apdu::encode_tlv(0x9F4A, &(0..290u16).map(|i| i as u8).collect::<Vec<_>>()));
    let pboc = dp.applications.iter_mut().find(|a| a.name == "PBOC debit").expect("pboc");
    pboc.dgis.push(DpDgi { dgi: "0201".into(), data: Some(hex::encode_upper(&big)), encrypted: None });
    let mut params = PersoParams::test();
    params.host.level = SecurityLevel::C_DEC_C_MAC;
    params.max_block = Some(64);
    let mut metered = Metered::new(tx.as_mut());
    let report = perso(&mut metered, &dp, &params).expect("personalised");
    assert_eq!(report.block_size, 64);
    assert!(report.store_data > 15, "{report:?}");
    // The 3-byte-length DGI arrived whole, over 5 blocks.
    apdu::expect_ok(tx.as_mut(), &Command::select_aid(&h(AID_PBOC_DEBIT)), "select").expect("select");
    let rec = apdu::expect_ok(tx.as_mut(), &Command::new(0, 0xB2, 1, (2 << 3) | 4).with_le(65_536), "read")
        .expect("read");
    assert_eq!(rec, big);
    let reading = run_terminal(tx.as_mut(), &terminal(Interface::Contact)).expect("flow");
    verify_arqc(&reading, &IssuerKeys::test()).expect("ARQC");
}

#[test]
fn the_personalisation_survives_a_restart_of_the_simulator() {
    let path = std::env::temp_dir().join(format!("emv-cps-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let config = |state: &PathBuf| card_sim::SimConfig {
        profile: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../firmware-profiles/ssc-3g-fin-sim.toml"),
        state: Some(state.clone()),
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank: true,
    };
    let dp = dp();
    {
        let card = card_sim::build_card(&config(&path)).expect("card");
        let mut conn = SimConnection::connect("sim 0", card).expect("connect");
        let mut tx = conn.transaction().expect("tx");
        perso(tx.as_mut(), &dp, &PersoParams::test()).expect("personalised");
        run_terminal(tx.as_mut(), &terminal(Interface::Contact)).expect("flow");
    }
    let card = card_sim::build_card(&config(&path)).expect("card again");
    let mut conn = SimConnection::connect("sim 0", card).expect("connect");
    let mut tx = conn.transaction().expect("tx");
    let reading = run_terminal(tx.as_mut(), &terminal(Interface::Contact)).expect("flow after restart");
    assert_eq!((reading.pan.as_str(), reading.atc), (dp.card.pan.as_str(), 2), "ATC kept");
    verify_arqc(&reading, &IssuerKeys::test()).expect("ARQC");
    let _ = std::fs::remove_file(&path);
}

fn profile_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles").join(file)
}

#[test]
fn the_test_params_are_those_of_the_scp02_profile() {
    let p = firmware_profile::Profile::load(profile_path("ssc-3g-fin-sim.toml")).expect("profile");
    assert_eq!(PersoParams::for_profile(&p).expect("params"), PersoParams::test());
    let plain = firmware_profile::Profile::load(profile_path("ssc-3g-sim.toml")).expect("profile");
    assert!(PersoParams::for_profile(&plain).is_err(), "no ISD on that card");
}

/// Every scheme the profiles name, at every level its "i" allows: a blank card of the
/// profile, personalised with the keys and parameters read from the profile, then both
/// terminal flows with a verified ARQC.
#[test]
fn each_profile_scheme_personalises_a_blank_card_that_then_answers_a_terminal() {
    use secure_channel::{IsdSetup, KeyProvider};
    let visa2 = visa2_profile();
    let all_scp03 = vec![SecurityLevel::C_MAC, SecurityLevel::C_DEC_C_MAC, SecurityLevel::ALL];
    let cases = [
        (
            profile_path("ssc-3g-fin-sim.toml"),
            vec![SecurityLevel::C_MAC, SecurityLevel::C_DEC_C_MAC, SecurityLevel::C_DEC_C_MAC_R_MAC],
        ),
        (profile_path("ssc-3g-fin-scp03-sim.toml"), all_scp03.clone()),
        (profile_path("ssc-3g-fin-sm4-sim.toml"), all_scp03),
        (visa2.clone(), vec![SecurityLevel::C_MAC]),
    ];
    let dp = dp();
    for (path, levels) in cases {
        let file = path.display();
        let profile = firmware_profile::Profile::load(&path).expect("profile");
        let keys = IsdSetup::from_profile(&profile).and_then(|s| s.sim_keys(&profile)).expect("keys");
        for level in levels {
            let card = card_sim::build_card(&card_sim::SimConfig {
                profile: path.clone(),
                state: None,
                faults: card_sim::Faults::default(),
                vpcd: "127.0.0.1:9".parse().expect("addr"),
                blank: true,
            })
            .expect("card");
            let mut conn = SimConnection::connect("sim 0", card).expect("connect");
            let mut tx = conn.transaction().expect("tx");
            let mut params = PersoParams::for_profile(&profile).expect("params");
            params.host.level = level;
            let report = personalise(tx.as_mut(), &dp, &test_transport_key(), &keys, &params)
                .unwrap_or_else(|e| panic!("{file} at {level:?}: {e}"));
            assert_eq!(report.applications, 3, "{file}");
            assert!(report.block_size > 200, "{file}: the largest block the link allows");
            for interface in [Interface::Contact, Interface::Contactless] {
                let reading = run_terminal(tx.as_mut(), &terminal(interface)).expect("terminal");
                assert_eq!(reading.pan, dp.card.pan);
                verify_arqc(&reading, &IssuerKeys::test()).expect("ARQC verifies");
            }
        }
        // Another scheme's keys are refused by their check values before any APDU.
        let wrong = SoftwareKeys::from_master(
            keys.key_version(),
            SecretKey::new(keys.algorithm(), vec![0x11; 16]).expect("key"),
            Diversification::Kdf3,
        );
        let card = sim();
        let mut conn = SimConnection::connect("sim 0", card.clone()).expect("connect");
        let mut tx = conn.transaction().expect("tx");
        let before = card_sim::lock(&card).apdu_count();
        let params = PersoParams::for_profile(&profile).expect("params");
        let e = personalise(tx.as_mut(), &dp, &test_transport_key(), &wrong, &params).expect_err("wrong key");
        assert!(matches!(e, Error::SecureChannel(_)), "{e}");
        assert_eq!(card_sim::lock(&card).apdu_count(), before, "{file}: nothing sent");
    }
    let _ = std::fs::remove_dir_all(visa2.with_file_name(""));
}

/// `ssc-3g-fin-sim` with its ISD keys diversified by VISA2 instead of EMV CPS: the method is
/// profile data, so only the profile changes (written with the PSAM profile it derives from).
fn visa2_profile() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emv-cps-visa2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(profile_path("ssc-3g-fin-sim.toml")).expect("profile");
    assert!(text.contains("diversification = \"emv-cps\""));
    let text = text.replace("diversification = \"emv-cps\"", "diversification = \"visa2\"");
    std::fs::write(dir.join("ssc-3g-fin-visa2.toml"), text).expect("write");
    std::fs::copy(profile_path("psam-sim.toml"), dir.join("psam-sim.toml")).expect("psam");
    dir.join("ssc-3g-fin-visa2.toml")
}

#[test]
fn the_interface_is_told_by_the_atr() {
    let contact = h("3B8E01807300 00C05800BF7C7A48FB4967C0");
    assert_eq!(Interface::of_atr(&contact), Interface::Contact);
    let historical = &contact[4..contact.len() - 1];
    assert_eq!(Interface::of_atr(&card_sim::contactless_atr(historical)), Interface::Contactless);
    assert_eq!(Interface::of_atr(&[0x3B, 0x8E, 0x80, 0x01]), Interface::Contact, "truncated");
}
