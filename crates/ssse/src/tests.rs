//! Personalisation against the in-process simulator (the same card OS that sits behind vpcd
//! in the station's real-stack tests): a blank card, the simulated PSAM or software keys.

use std::path::PathBuf;

use card_crypto::Key;
use card_sim::{SharedCard, SimConnection};
use card_transport::{Card, Metered};
use firmware_profile::{Profile, PsamKeyRef};

use super::*;
use crate::records::tests::zhang_san;

fn profile_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles").join(name)
}

fn sim(name: &str, blank: bool) -> SharedCard {
    card_sim::build_card(&card_sim::SimConfig {
        profile: profile_path(name),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank,
    })
    .expect("simulated card")
}

fn connect(card: &SharedCard, name: &str) -> SimConnection {
    SimConnection::connect(name, card.clone()).expect("in-process connection")
}

fn layout(name: &str) -> SsseLayout {
    SsseLayout::from_profile(&Profile::load(profile_path(name)).expect("profile")).expect("layout")
}

/// The PSAM profile's test master keys as a key service would hold them.
fn software_keys() -> SoftwareKeys {
    let psam = Profile::load(profile_path("psam-sim.toml")).expect("psam profile");
    let mut keys = SoftwareKeys::default();
    for k in &psam.sim.keys {
        let spec = psam.keys.iter().find(|s| s.id == k.id && s.usage_code == k.usage_code).expect("spec");
        let usage = k.usage_code.expect("PSAM keys have a usage byte");
        keys.insert(PsamKeyRef { usage, id: k.id }, spec.algorithm, Key::new(k.value.clone()));
    }
    keys
}

#[test]
fn a_blank_card_is_personalised_through_the_psam_and_reads_back() {
    let card = sim("ssc-3g-sim.toml", true);
    let psam = sim("psam-sim.toml", false);
    let (mut user, mut sam) = (connect(&card, "sim 0"), connect(&psam, "sim 1"));
    let atr = user.atr().to_vec();
    let (issuer, holder) = zhang_san();
    {
        let mut sam_tx = sam.transaction().expect("psam tx");
        let mut keys = Psam::new(sam_tx.as_mut());
        let mut tx = user.transaction().expect("tx");
        let mut metered = Metered::new(tx.as_mut());
        let done = personalise(&mut metered, &atr, &mut keys, &layout("ssc-3g-sim.toml"), &issuer, &holder)
            .expect("personalised");
        assert_eq!(done.records, 14);
        assert_eq!(metered.count().apdus, 3 + 14 + 14, "no SELECT EF: records addressed by SFI");
    }
    let mut tx = user.transaction().expect("tx");
    let data = read_card(tx.as_mut(), &atr).expect("read");
    assert_eq!((data.issuer, data.holder), (issuer, holder));
}

#[test]
fn software_keys_serve_as_the_key_service_and_the_2nd_generation_card_has_no_4e() {
    let card = sim("ssc-2g-sim.toml", true);
    let mut user = connect(&card, "sim 0");
    let atr = user.atr().to_vec();
    let (mut issuer, holder) = zhang_san();
    issuer.card_id = CardId::new("639900", card8(&atr).expect("card8")).expect("id");
    issuer.spec_version = "2.00".into();
    let l = layout("ssc-2g-sim.toml");
    assert!(!l.has_name_extension());
    let mut tx = user.transaction().expect("tx");
    let mut metered = Metered::new(tx.as_mut());
    personalise(&mut metered, &atr, &mut software_keys(), &l, &issuer, &holder).expect("personalised");
    assert_eq!(
        metered.count().apdus,
        3 + 2 + 13 + 2 + 13,
        "no SFI: one SELECT per file for writing and reading"
    );
    let data = read_card(&mut metered, &atr).expect("read");
    assert_eq!(data.issuer, issuer);
    assert_eq!(data.holder.name_extension, Vec::<u8>::new());
}

#[test]
fn a_wrong_key_is_refused_by_the_card_with_step_and_status_word_and_counted() {
    let card = sim("ssc-3g-sim.toml", true);
    let mut user = connect(&card, "sim 0");
    let atr = user.atr().to_vec();
    let (issuer, holder) = zhang_san();
    let l = layout("ssc-3g-sim.toml");
    let mut wrong = SoftwareKeys::default();
    wrong.insert(l.psam_key, l.algorithm, Key::new(vec![0x11; 16]));
    let mut tx = user.transaction().expect("tx");
    let e = personalise(tx.as_mut(), &atr, &mut wrong, &l, &issuer, &holder).expect_err("wrong key");
    assert_eq!(e.status_word(), Some(apdu::StatusWord::RetriesLeft(14)), "{e}");
    assert_eq!(e.step(), Some("EXTERNAL AUTHENTICATE with update key 04"));
    let data = read_card(tx.as_mut(), &atr).expect("read");
    assert_eq!(data.holder.ssn, "", "nothing was written");
}

#[test]
fn a_write_without_authentication_is_refused() {
    let card = sim("ssc-3g-sim.toml", true);
    let mut user = connect(&card, "sim 0");
    let mut tx = user.transaction().expect("tx");
    let (issuer, _) = zhang_san();
    let (_, record) = issuer.records().expect("records").remove(6);
    apdu::expect_ok(tx.as_mut(), &apdu::Command::select_aid(&ENVIRONMENT_AID), "SELECT").expect("select");
    let e = apdu::expect_ok(
        tx.as_mut(),
        &apdu::Command::new(0x00, 0xDC, 0x07, (5 << 3) | 4).with_data(record),
        "UPDATE RECORD EF05 record 07",
    )
    .expect_err("refused");
    assert_eq!(e.status_word(), Some(apdu::StatusWord::SecurityStatusNotSatisfied));
}

#[test]
fn a_psam_without_the_key_names_the_psam_step() {
    let card = sim("ssc-3g-sim.toml", true);
    let psam = sim("psam-sim.toml", false);
    let (mut user, mut sam) = (connect(&card, "sim 0"), connect(&psam, "sim 1"));
    let atr = user.atr().to_vec();
    let (issuer, holder) = zhang_san();
    let mut l = layout("ssc-3g-sim.toml");
    l.psam_key = PsamKeyRef { usage: 0x48, id: 0x77 };
    let mut sam_tx = sam.transaction().expect("psam tx");
    let mut tx = user.transaction().expect("tx");
    let e = personalise(tx.as_mut(), &atr, &mut Psam::new(sam_tx.as_mut()), &l, &issuer, &holder)
        .expect_err("no such PSAM key");
    assert_eq!(e.step(), Some("PSAM BF DE diversify key 48/77"));
    assert_eq!(e.status_word(), Some(apdu::StatusWord::ReferencedDataNotFound));
}

#[test]
fn data_that_do_not_fit_fail_before_any_apdu() {
    let card = sim("ssc-3g-sim.toml", true);
    let mut user = connect(&card, "sim 0");
    let atr = user.atr().to_vec();
    let (mut issuer, holder) = zhang_san();
    issuer.card_number = "X0000001".into();
    let mut tx = user.transaction().expect("tx");
    let mut metered = Metered::new(tx.as_mut());
    let e =
        personalise(&mut metered, &atr, &mut software_keys(), &layout("ssc-3g-sim.toml"), &issuer, &holder)
            .expect_err("bad card number");
    assert!(matches!(e, SsseError::Data(ref f) if f.field == "issuer.card_number"), "{e}");
    assert_eq!(metered.count().apdus, 0);
}

#[test]
fn an_sm4_card_is_personalised_through_the_psam() {
    let card = sim("ssc-3g-sm4-sim.toml", true);
    let psam = sim("psam-sim.toml", false);
    let (mut user, mut sam) = (connect(&card, "sim 0"), connect(&psam, "sim 1"));
    let atr = user.atr().to_vec();
    let l = layout("ssc-3g-sm4-sim.toml");
    assert_eq!(l.algorithm, card_crypto::Algorithm::Sm4);
    let (mut issuer, mut holder) = zhang_san();
    issuer.card_id = CardId::new("110100", card8(&atr).expect("card8")).expect("id");
    // 𠮷 (U+20BB7) is outside GBK: the GBK name carries a marker, 4E the GB 18030 name.
    holder.name_gbk = vec![0xD5, 0xC5, 0x3F];
    holder.name_extension = vec![0xD5, 0xC5, 0x95, 0x32, 0x82, 0x36];
    let mut sam_tx = sam.transaction().expect("psam tx");
    let mut tx = user.transaction().expect("tx");
    personalise(tx.as_mut(), &atr, &mut Psam::new(sam_tx.as_mut()), &l, &issuer, &holder).expect("SM4");
    let data = read_card(tx.as_mut(), &atr).expect("read");
    assert_eq!((data.issuer, data.holder), (issuer, holder));
    // The SM4 card refuses a 3DES cryptogram from the same master bytes.
    let mut other = SoftwareKeys::default();
    other.insert(l.psam_key, card_crypto::Algorithm::TripleDes, Key::new(vec![0xB0; 16]));
    let (issuer, holder) = zhang_san();
    let e = personalise(tx.as_mut(), &atr, &mut other, &l, &issuer, &holder).expect_err("wrong algorithm");
    assert!(matches!(e, SsseError::Key { source: KeyError::UnknownKey { .. }, .. }), "{e}");
}

/// Writes what passes through as transcript lines, unmasked: for test data only.
struct Log<'a> {
    inner: &'a mut dyn card_transport::CardTransaction,
    text: String,
}

impl card_transport::CardTransaction for Log<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, card_transport::TransportError> {
        let answer = self.inner.transmit(command)?;
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(" ");
        self.text.push_str(&format!("> {}\n< {}\n", hex(command), hex(&answer)));
        Ok(answer)
    }
    fn was_reset(&self) -> bool {
        self.inner.was_reset()
    }
    fn capabilities(&self) -> card_transport::Capabilities {
        self.inner.capabilities()
    }
}

const TRANSCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transcripts/personalise-ssc-3g.apdu");

/// Regenerates the recorded transcript from the simulator (`cargo test -p ssse -- --ignored`).
#[test]
#[ignore = "writes tests/transcripts/personalise-ssc-3g.apdu"]
fn record_the_personalisation_transcript() {
    let card = sim("ssc-3g-sim.toml", true);
    let mut user = connect(&card, "sim 0");
    let atr = user.atr().to_vec();
    let (issuer, holder) = zhang_san();
    let mut tx = user.transaction().expect("tx");
    let mut log = Log { inner: tx.as_mut(), text: String::new() };
    personalise(&mut log, &atr, &mut software_keys(), &layout("ssc-3g-sim.toml"), &issuer, &holder)
        .expect("ok");
    let header = format!(
        "# SSSE personalisation of a blank ssc-3g-sim card (test holder 张三), recorded from the\n\
         # simulator: SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE (cryptogram of the key the\n\
         # PSAM masters derive), 14 UPDATE RECORD by SFI, 14 READ RECORD by SFI.\n# ATR {}\n",
        hex::encode_upper(&atr)
    );
    std::fs::write(TRANSCRIPT, header + &log.text).expect("write transcript");
}

#[test]
fn personalisation_replays_the_recorded_transcript_byte_for_byte() {
    let text = std::fs::read_to_string(TRANSCRIPT).expect("transcript");
    let atr =
        hex::decode(text.lines().find_map(|l| l.strip_prefix("# ATR ")).expect("ATR line")).expect("hex");
    let mut replay = card_transport::transcript::Replay::from_text(&text).expect("parses");
    let (issuer, holder) = zhang_san();
    // The software keys must give exactly the recorded cryptogram for the recorded challenge:
    // the key derivation is pinned by the file.
    personalise(&mut replay, &atr, &mut software_keys(), &layout("ssc-3g-sim.toml"), &issuer, &holder)
        .expect("the same exchange");
    assert_eq!(replay.remaining(), 0);
}

#[test]
fn psam_and_key_service_agree_for_one_two_and_three_levels() {
    let psam = sim("psam-sim.toml", false);
    let mut sam = connect(&psam, "sim 1");
    let mut sam_tx = sam.transaction().expect("psam tx");
    let mut chip = Psam::new(sam_tx.as_mut());
    let mut service = software_keys();
    let card8 = [0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66];
    let challenge = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let mut seen = Vec::new();
    for (levels, usage, id, algorithm) in [
        (1, 0x48, 0x12, card_crypto::Algorithm::TripleDes),
        (2, 0x48, 0x12, card_crypto::Algorithm::TripleDes),
        (3, 0x48, 0x12, card_crypto::Algorithm::TripleDes),
        (1, 0x48, 0x1B, card_crypto::Algorithm::Sm4),
        (3, 0x48, 0x1B, card_crypto::Algorithm::Sm4),
    ] {
        let factors = card_crypto::ssse_factors(levels, card8, "110100").expect("factors");
        assert_eq!(factors.len(), usize::from(levels));
        let request = AuthRequest {
            psam_key: PsamKeyRef { usage, id },
            algorithm,
            factors: &factors,
            challenge: &challenge,
        };
        let from_psam = chip.external_auth(&request).expect("PSAM");
        assert_eq!(
            from_psam,
            service.external_auth(&request).expect("service"),
            "{levels} levels, {algorithm:?}"
        );
        seen.push(from_psam);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every level and algorithm gives another key");
}
