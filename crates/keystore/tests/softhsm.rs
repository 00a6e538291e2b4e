//! The key store against SoftHSM2: a private token per test process (nextest runs each test
//! in its own process; SOFTHSM2_CONF points at a config in a temp dir), keys imported by the
//! ceremony, and the token's results checked against card-spec.md's vectors and against
//! `SoftwareKeys`.
//!
//! Needs Debian's `softhsm2` (`softhsm2-util`, [`keystore::SOFTHSM2_MODULE`]).

use std::path::PathBuf;
use std::time::Instant;

use apdu::{Command, Response, StatusWord};
use card_transport::{Capabilities, CardTransaction, TransportError};
use keystore::{
    Component, Error, Formed, KeyKind, KeyRole, Keystore, LedgerMac, PinSource, TokenKeys, TransportKey,
};
use secure_channel::{
    pad80, Algorithm, CardSession, Diversification, HostHandshake, HostParams, Kcv, KeyProvider, KeySet,
    Scheme, SecretKey, SecurityLevel, Session, SessionDerivation, SoftwareKeys,
};
use zeroize::Zeroizing;

const TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";
const TRANSPORT_KEY: &str = "505152535455565758595A5B5C5D5E5F";
const KDD: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const PIN: &str = "314159";

struct Hsm {
    _dir: tempfile::TempDir,
    pin_file: PathBuf,
    store: Keystore,
}

/// A fresh token in a temp dir, logged in.
fn hsm() -> Hsm {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = keystore::softhsm2_token(dir.path(), "keystore-test", PIN).expect("a SoftHSM2 token");
    let pin_file = dir.path().join("token.pin");
    assert_eq!(token.pin, PinSource::File(pin_file.clone()));
    let store = Keystore::open(&token).expect("open token");
    Hsm { _dir: dir, pin_file, store }
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Two components of `key_hex` (a fixed mask and the key XOR the mask), with their check
/// values as the custodians' forms carry them.
fn components(alg: Algorithm, key_hex: &str) -> Vec<Component> {
    components_checked(alg, key_hex, &SecretKey::kcv)
}

/// Two components of `key_hex`, each with its check value by `kcv`.
fn components_checked(alg: Algorithm, key_hex: &str, kcv: &dyn Fn(&SecretKey) -> Kcv) -> Vec<Component> {
    let key = hex::decode(key_hex).expect("hex");
    let mask: Vec<u8> = (0..key.len() as u8).map(|i| i.wrapping_mul(73).wrapping_add(0x2D)).collect();
    let other: Vec<u8> = key.iter().zip(&mask).map(|(k, m)| k ^ m).collect();
    [mask, other]
        .into_iter()
        .map(|c| {
            let kcv = kcv(&SecretKey::new(alg, c.clone()).expect("component"));
            Component::new(Zeroizing::new(c), kcv)
        })
        .collect()
}

fn import(store: &Keystore, label: &str, alg: Algorithm, role: KeyRole, key_hex: &str) -> Kcv {
    let report = store
        .import_components(label, KeyKind::of(alg), role, &components(alg, key_hex), None)
        .expect("ceremony");
    // SoftHSM2 has no XOR derivation: the report says where the key was formed.
    assert_eq!(report.formed, Formed::Host);
    report.kcv
}

fn soft(alg: Algorithm, key_hex: &str) -> SecretKey {
    SecretKey::from_hex(alg, key_hex).expect("key")
}

#[test]
fn ceremony_keys_have_the_card_spec_check_values() {
    let h = hsm();
    assert_eq!(
        import(&h.store, "kmc-3des", Algorithm::Tdes, KeyRole::IsdMaster, TEST_KEY).to_string(),
        "8BAF47"
    );
    assert_eq!(
        import(&h.store, "kmc-aes", Algorithm::Aes, KeyRole::IsdMaster, TEST_KEY).to_string(),
        "504A77"
    );
    let tk = import(&h.store, "dp-transport", Algorithm::Tdes, KeyRole::Transport, TRANSPORT_KEY);
    assert_eq!(tk, soft(Algorithm::Tdes, TRANSPORT_KEY).kcv());
    let list = h.store.list().expect("list");
    let shown: Vec<String> = list
        .iter()
        .map(|k| {
            let kcv = k.kcv.map(|c| c.to_string()).unwrap_or_default();
            format!("{} {:?} {:?} {} {} sealed={}", k.label, k.kind, k.role, k.len, kcv, k.sealed)
        })
        .collect();
    assert_eq!(
        shown,
        [
            format!("dp-transport Some(Tdes) Some(Transport) 16 {tk} sealed=true"),
            "kmc-3des Some(Tdes) Some(IsdMaster) 16 8BAF47 sealed=true".into(),
            "kmc-aes Some(Aes) Some(IsdMaster) 16 504A77 sealed=true".into(),
        ]
    );
    // A label names one key.
    let again = h.store.import_components(
        "kmc-3des",
        KeyKind::Tdes,
        KeyRole::IsdMaster,
        &components(Algorithm::Tdes, TEST_KEY),
        None,
    );
    assert!(matches!(again, Err(Error::LabelTaken(_))), "{again:?}");
}

#[test]
fn a_wrong_component_check_value_is_refused_and_nothing_is_stored() {
    let h = hsm();
    let mut comps = components(Algorithm::Tdes, TEST_KEY);
    let real = hex::encode_upper(hex::decode(TEST_KEY).expect("hex"));
    comps[1] = Component::from_hex(&"11".repeat(16), "000000").expect("component");
    let e = h
        .store
        .import_components("kmc", KeyKind::Tdes, KeyRole::IsdMaster, &comps, None)
        .expect_err("wrong KCV");
    assert!(matches!(e, Error::ComponentKcv { index: 2, .. }), "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(&"11".repeat(8)) && !text.contains(&real), "{text}");
    // Nor does a wrong final check value keep the key.
    let e = h
        .store
        .import_components(
            "kmc",
            KeyKind::Tdes,
            KeyRole::IsdMaster,
            &components(Algorithm::Tdes, TEST_KEY),
            Some(Kcv::from_hex("123456").expect("kcv")),
        )
        .expect_err("wrong final KCV");
    assert!(matches!(e, Error::FinalKcv { .. }), "{e}");
    assert!(h.store.list().expect("list").is_empty());
    // One component is no dual control.
    let one = h.store.import_components(
        "kmc",
        KeyKind::Tdes,
        KeyRole::IsdMaster,
        &components(Algorithm::Tdes, TEST_KEY)[..1],
        None,
    );
    assert!(matches!(one, Err(Error::Invalid(_))));
}

#[test]
fn keys_cannot_be_read_out_of_the_token() {
    let h = hsm();
    import(&h.store, "kmc", Algorithm::Tdes, KeyRole::IsdMaster, TEST_KEY);
    h.store.generate_ledger_key("ledger").expect("ledger key");
    assert!(h.store.value_refused("kmc").expect("asked"));
    assert!(h.store.value_refused("ledger").expect("asked"));
}

#[test]
fn no_key_material_in_debug_output_or_errors() {
    let h = hsm();
    let comps = components(Algorithm::Tdes, TEST_KEY);
    import(&h.store, "kmc", Algorithm::Tdes, KeyRole::IsdMaster, TEST_KEY);
    let keys =
        TokenKeys::from_master(&h.store, 1, Algorithm::Tdes, "kmc", Diversification::EmvCps).expect("keys");
    let c = Component::from_hex("0123 4567 89AB CDEF FEDC BA98 7654 3210", "08D7B4").expect("component");
    let err = Component::from_hex("0123456789ABCDEFFEDCBA987654321", "08D7B4").expect_err("odd length");
    let text =
        format!("{comps:?} {c:?} {keys:?} {:?} {err} {err:?} {:?}", h.store, h.store.list().expect("list"));
    for secret in [TEST_KEY, "4041424344", "0123456789", "01234567", "FEDCBA98"] {
        assert!(!text.to_uppercase().contains(secret), "{secret} in {text}");
    }
}

#[test]
fn scp02_session_keys_from_the_token_equal_software_keys() {
    let h = hsm();
    import(&h.store, "kmc", Algorithm::Tdes, KeyRole::IsdMaster, TEST_KEY);
    // Static keys (no diversification): card-spec.md section 3's vector, seq 0000.
    let token =
        TokenKeys::from_master(&h.store, 0x20, Algorithm::Tdes, "kmc", Diversification::None).expect("keys");
    let software = SoftwareKeys::new(KeySet::single(0x20, soft(Algorithm::Tdes, TEST_KEY))).expect("keys");
    assert_eq!(token.kcvs().expect("kcv"), software.kcvs().expect("kcv"));
    let scp02 = SessionDerivation::Scp02 { sequence_counter: [0, 0] };
    let t = token.session_keys(&KDD, &scp02).expect("token");
    let s = software.session_keys(&KDD, &scp02).expect("software");
    let kcvs = [t.enc.kcv(), t.mac.kcv(), t.dek.kcv(), t.rmac.kcv()].map(|k| k.to_string());
    assert_eq!(kcvs, ["F2DCDD", "5FCC69", "85272E", "9F749A"]);
    for (a, b) in [(&t.enc, &s.enc), (&t.mac, &s.mac), (&t.rmac, &s.rmac), (&t.dek, &s.dek)] {
        assert_eq!(a.expose(), b.expose());
    }
    // Diversified per card (EMV CPS and VISA2), every sequence counter alike.
    for method in [Diversification::EmvCps, Diversification::Visa2] {
        let token = TokenKeys::from_master(&h.store, 1, Algorithm::Tdes, "kmc", method).expect("keys");
        let software = SoftwareKeys::from_master(1, soft(Algorithm::Tdes, TEST_KEY), method);
        for seq in [[0, 0], [0x12, 0x34], [0xFF, 0xFF]] {
            let d = SessionDerivation::Scp02 { sequence_counter: seq };
            let t = token.session_keys(&KDD, &d).expect("token");
            let s = software.session_keys(&KDD, &d).expect("software");
            assert_eq!(
                [t.enc.expose(), t.mac.expose(), t.rmac.expose(), t.dek.expose()],
                [s.enc.expose(), s.mac.expose(), s.rmac.expose(), s.dek.expose()]
            );
        }
    }
}

#[test]
fn scp03_kdf3_keys_from_the_token_equal_software_keys() {
    let h = hsm();
    import(&h.store, "kmc-aes", Algorithm::Aes, KeyRole::IsdMaster, TEST_KEY);
    let token = TokenKeys::from_master(&h.store, 0x30, Algorithm::Aes, "kmc-aes", Diversification::Kdf3)
        .expect("keys");
    let software = SoftwareKeys::from_master(0x30, soft(Algorithm::Aes, TEST_KEY), Diversification::Kdf3);
    assert_eq!(token.kcvs().expect("kcv"), software.kcvs().expect("kcv"));
    let context: Vec<u8> = (0..16).collect();
    let d = SessionDerivation::Scp03 { context: &context };
    let t = token.session_keys(&KDD, &d).expect("token");
    let s = software.session_keys(&KDD, &d).expect("software");
    assert_eq!(
        [t.enc.expose(), t.mac.expose(), t.rmac.expose(), t.dek.expose()],
        [s.enc.expose(), s.mac.expose(), s.rmac.expose(), s.dek.expose()]
    );
    // Undiversified SCP03 would need the static Key-DEK out of the token: refused.
    let stat = TokenKeys::from_master(&h.store, 0x30, Algorithm::Aes, "kmc-aes", Diversification::None)
        .expect("keys");
    let e = stat.session_keys(&KDD, &d).expect_err("static DEK");
    assert!(matches!(e, secure_channel::Error::Unsupported(_)), "{e}");
}

#[test]
fn sm4_is_a_typed_not_offered_error() {
    let h = hsm();
    let e = h
        .store
        .import_components(
            "kmc-sm4",
            KeyKind::Sm4,
            KeyRole::IsdMaster,
            &components(Algorithm::Sm4, TEST_KEY),
            None,
        )
        .expect_err("no SM4");
    assert!(matches!(e, Error::NotOffered { .. }), "{e}");
    let e = TokenKeys::from_master(&h.store, 1, Algorithm::Sm4, "kmc-sm4", Diversification::None)
        .expect_err("sm4");
    assert!(matches!(e, Error::NotOffered { .. }), "{e}");
}

/// A card in memory: the card role of secure-channel behind the transaction trait,
/// echoing every command inside the channel.
struct Card(CardSession, u16);

impl CardTransaction for Card {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let cmd = Command::parse(command).map_err(|e| TransportError::Other(e.to_string()))?;
        let answer = match cmd.ins {
            0x50 => {
                self.1 += 1;
                self.0.initialize_update(&cmd, &[1, 2, 3, 4, 5, 6], &self.1.to_be_bytes())
            }
            0x82 => self.0.external_authenticate(&cmd),
            _ => self.0.unwrap_command(&cmd).map(|plain| {
                let echo: Vec<u8> = plain.data.iter().rev().copied().collect();
                self.0.wrap_response(&Response::new(echo, StatusWord::Success))
            }),
        };
        Ok(answer.unwrap_or_else(|refusal| refusal.response()).to_bytes())
    }
    fn was_reset(&self) -> bool {
        false
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::SHORT
    }
}

#[test]
fn the_real_card_trace_and_a_card_session_open_with_token_keys() {
    let h = hsm();
    import(&h.store, "kmc", Algorithm::Tdes, KeyRole::IsdMaster, TEST_KEY);
    // card-spec.md section 3's real card: byte for byte.
    let keys =
        TokenKeys::from_master(&h.store, 0, Algorithm::Tdes, "kmc", Diversification::None).expect("keys");
    let params = HostParams { scheme: Scheme::scp02(0x55), level: SecurityLevel::C_MAC, expected_kcvs: None };
    let hs = HostHandshake::new(&keys, params, &[0; 8]).expect("handshake");
    let answer = Response::new(
        hex::decode("0000507101046E6C8B70FF0200072503683B31FAB7F4E8D8857D0CB4").expect("hex"),
        StatusWord::Success,
    );
    let auth = hs.external_authenticate(&answer).expect("card cryptogram verifies");
    assert_eq!(
        auth.command().encode(false),
        hex::decode("8482010010 80F1BB4686D30DF9 A0B8829AF3E87A16".replace(' ', "")).expect("hex")
    );
    // A card with EMV CPS-diversified keys, the host's keys in the token: a full session.
    let card_keys =
        secure_channel::diversify_set(Diversification::EmvCps, 1, &soft(Algorithm::Tdes, TEST_KEY), &KDD)
            .expect("card keys");
    let scheme = Scheme::scp02(0x55);
    let mut card = Card(CardSession::new(scheme, card_keys, KDD).expect("card"), 0x40);
    let host =
        TokenKeys::from_master(&h.store, 1, Algorithm::Tdes, "kmc", Diversification::EmvCps).expect("keys");
    let params = HostParams {
        scheme,
        level: SecurityLevel::C_DEC_C_MAC,
        expected_kcvs: Some(host.kcvs().expect("kcv")),
    };
    let mut session = Session::open(&mut card, &host, params).expect("session with token keys");
    let cmd = session.wrap(&Command::new(0x80, 0xE2, 0x80, 0x00).with_data(vec![1, 2, 3])).expect("wrap");
    let raw = card.transmit(&cmd.encode(false)).expect("transmit");
    let resp = session.unwrap(&Response::from_bytes(&raw).expect("response")).expect("unwrap");
    assert_eq!(resp.data, vec![3, 2, 1]);
}

#[test]
fn dp_transport_key_decrypts_in_the_token() {
    let h = hsm();
    import(&h.store, "dp-transport", Algorithm::Tdes, KeyRole::Transport, TRANSPORT_KEY);
    let tk = TransportKey::open(&h.store, "dp-transport").expect("transport key");
    let soft_tk = soft(Algorithm::Tdes, TRANSPORT_KEY);
    assert_eq!(tk.kcv().expect("kcv"), soft_tk.kcv());
    // As emv_cps::encrypt_for_transport makes it: 80-padded, 3DES-ECB.
    let value = b"8000 application keys, 48 bytes of them........";
    let ct = soft_tk.encrypt_ecb(&pad80(value, 8)).expect("encrypt");
    let plain = tk.decrypt_dgi(0x8000, &ct).expect("decrypt");
    assert_eq!(&plain[..], &pad80(value, 8)[..]);
    // Another key's ciphertext fails its padding; a ragged one is refused before the token.
    let other = soft(Algorithm::Tdes, TEST_KEY).encrypt_ecb(&pad80(value, 8)).expect("encrypt");
    assert!(matches!(tk.decrypt_dgi(0x8000, &other), Err(Error::TransportPadding(0x8000))));
    assert!(matches!(tk.decrypt_dgi(0x8000, &ct[..7]), Err(Error::Invalid(_))));
    // The ISD master is no transport key.
    import(&h.store, "kmc-aes", Algorithm::Aes, KeyRole::IsdMaster, TEST_KEY);
    assert!(matches!(TransportKey::open(&h.store, "kmc-aes"), Err(Error::WrongKind { .. })));
}

#[test]
fn ledger_mac_signs_and_verifies_in_the_token() {
    let h = hsm();
    let kcv = h.store.generate_ledger_key("ledger").expect("generate");
    let mac = LedgerMac::open(&h.store, "ledger").expect("open");
    assert_eq!(mac.kcv().expect("kcv"), kcv);
    let entry = [0x5Au8; 32];
    let tag = mac.mac(&entry).expect("mac");
    assert_eq!(tag, mac.mac(&entry).expect("mac"));
    assert!(mac.verify(&entry, &tag).expect("verify"));
    let mut other = entry;
    other[31] ^= 1;
    assert!(!mac.verify(&other, &tag).expect("verify"));
    assert!(!mac.verify(&entry, &tag[..15]).expect("verify"));
    assert!(matches!(h.store.generate_ledger_key("ledger"), Err(Error::LabelTaken(_))));
    let listed = h.store.list().expect("list");
    assert_eq!(listed[0].role, Some(KeyRole::LedgerMac));
    assert_eq!((listed[0].kind, listed[0].len, listed[0].kcv), (Some(KeyKind::Aes), 32, Some(kcv)));
}

/// A ledger key formed by the custodians' ceremony computes the CMAC of NIST SP 800-38B (the
/// same tag as the software CMAC), its check value is its CMAC of a zero block, and it cannot
/// encrypt (an ECB oracle would forge its MACs). An ISD key is no ledger key.
#[test]
fn a_ledger_key_from_the_ceremony_is_the_cmac_of_sp800_38b_and_only_signs() {
    let h = hsm();
    let value = "2B7E151628AED2A6ABF7158809CF4F3C";
    // The custodians' forms carry each component's CMAC check value.
    let comps = components_checked(Algorithm::Aes, value, &|c| c.cmac_kcv().expect("cmac"));
    let report = h
        .store
        .import_components("ledger", KeyKind::Aes, KeyRole::LedgerMac, &comps, None)
        .expect("ceremony");
    let mac = LedgerMac::open(&h.store, "ledger").expect("open");
    let soft = soft(Algorithm::Aes, value);
    // RFC 4493's example 2 (one block).
    let block = hex::decode("6bc1bee22e409f96e93d7e117393172a").expect("hex");
    assert_eq!(hex::encode(mac.mac(&block).expect("mac")), "070a16b46b4d4144f79bdd9dd04a287c");
    assert_eq!(mac.mac(&block).expect("mac"), soft.cmac(&block).expect("soft"));
    let zero = soft.cmac(&[0u8; 16]).expect("soft");
    assert_eq!(mac.kcv().expect("kcv").0, zero[..3]);
    assert_eq!(mac.kcv().expect("kcv"), soft.cmac_kcv().expect("soft"));
    assert_eq!(report.kcv, mac.kcv().expect("kcv"));
    let found = h.store.list().expect("list");
    assert!(found[0].sealed, "{found:?}");
    let ecb = h.store.kcv("ledger").expect("kcv by label");
    assert_eq!(ecb.0, zero[..3], "the ledger key's check value is its CMAC, never an encryption");
    import(&h.store, "kmc-aes", Algorithm::Aes, KeyRole::IsdMaster, value);
    assert!(matches!(LedgerMac::open(&h.store, "kmc-aes"), Err(Error::WrongKind { .. })));
    let tdes = h.store.import_components(
        "ledger-3des",
        KeyKind::Tdes,
        KeyRole::LedgerMac,
        &components(Algorithm::Tdes, TEST_KEY),
        None,
    );
    assert!(matches!(tdes, Err(Error::Invalid(_))), "{tdes:?}");
}

#[test]
fn the_pin_comes_from_a_private_file_or_the_environment() {
    let h = hsm();
    set_mode(&h.pin_file, 0o644);
    let e = PinSource::File(h.pin_file.clone()).read().expect_err("group-readable");
    assert!(matches!(e, Error::Pin(_)) && e.to_string().contains("chmod 600"), "{e}");
    std::env::set_var("KEYSTORE_TEST_PIN", PIN);
    assert_eq!(PinSource::Env("KEYSTORE_TEST_PIN".into()).read().expect("env").as_str(), PIN);
    assert!(PinSource::Env("KEYSTORE_TEST_NO_SUCH_PIN".into()).read().is_err());
    assert!(!format!("{:?}", PinSource::Env("KEYSTORE_TEST_PIN".into())).contains(PIN));
}

/// Time per SCP02 session-key derivation (EMV CPS diversification, four session keys), in
/// SoftHSM2 and in memory. Printed (`--no-capture`), not asserted.
#[test]
fn figure_session_key_derivation_time() {
    let h = hsm();
    import(&h.store, "kmc", Algorithm::Tdes, KeyRole::IsdMaster, TEST_KEY);
    let token =
        TokenKeys::from_master(&h.store, 1, Algorithm::Tdes, "kmc", Diversification::EmvCps).expect("keys");
    let software = SoftwareKeys::from_master(1, soft(Algorithm::Tdes, TEST_KEY), Diversification::EmvCps);
    let d = SessionDerivation::Scp02 { sequence_counter: [0, 1] };
    let time = |p: &dyn KeyProvider| {
        let n = 300u32;
        let start = Instant::now();
        for _ in 0..n {
            p.session_keys(&KDD, &d).expect("derive");
        }
        start.elapsed() / n
    };
    let (t, s) = (time(&token), time(&software));
    println!(
        "SCP02 session keys (EMV CPS card keys + 4 session keys): SoftHSM2 {t:?}, in memory {s:?} per card"
    );
}

/// Time per ledger MAC (AES-CMAC of a 32-byte chain hash) made and checked in SoftHSM2, and
/// made in memory. Printed (`--no-capture`), not asserted.
#[test]
fn figure_ledger_mac_time() {
    let h = hsm();
    h.store.generate_ledger_key("ledger").expect("generate");
    let mac = LedgerMac::open(&h.store, "ledger").expect("open");
    let software = soft(Algorithm::Aes, "2B7E151628AED2A6ABF7158809CF4F3C");
    let hash = [0x5Au8; 32];
    let tag = mac.mac(&hash).expect("mac");
    let n = 300u32;
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        (0..n).for_each(|_| f());
        start.elapsed() / n
    };
    let sign = time(&|| {
        std::hint::black_box(mac.mac(&hash).expect("mac"));
    });
    let verify = time(&|| assert!(mac.verify(&hash, &tag).expect("verify")));
    let memory = time(&|| {
        std::hint::black_box(software.cmac(&hash).expect("cmac"));
    });
    println!("ledger MAC: SoftHSM2 {sign:?} to make, {verify:?} to check; in memory {memory:?} to make");
}

/// The store, the provider and the keys are shared across the daemon's threads.
#[test]
fn the_store_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Keystore>();
    shared::<TokenKeys>();
    shared::<TransportKey>();
    shared::<LedgerMac>();
}

/// The kit's record-signing key is made in the token: its private half is never given out,
/// its signatures (ECDSA P-256 over SHA-256, `r || s`) verify with its public half outside the
/// token and with no other; the label names one key.
#[test]
fn a_kit_record_key_signs_in_the_token_and_verifies_outside() {
    use p256::ecdsa::signature::Verifier as _;
    let hsm = hsm();
    let public = hsm.store.generate_record_key("kit-record").expect("generate");
    assert_eq!((public.len(), public[0]), (65, 0x04), "SEC1 uncompressed");
    assert!(matches!(hsm.store.generate_record_key("kit-record"), Err(Error::LabelTaken(_))));
    let key = keystore::RecordKey::open(&hsm.store, "kit-record").expect("open");
    assert_eq!(key.public_key(), public.as_slice());
    assert!(key.private_refused().expect("asked"), "the private half never leaves the token");
    let data = b"outreach-kit-record/1\n{\"record_id\":\"kit-1/1/1\"}";
    let signature = key.sign(data).expect("sign");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public).expect("a P-256 point");
    let parsed = p256::ecdsa::Signature::from_slice(&signature).expect("r || s");
    verifying.verify(data, &parsed).expect("verifies outside the token");
    assert!(verifying.verify(b"something else", &parsed).is_err());
    assert!(
        key.verify(data, &signature) && !key.verify(b"something else", &signature),
        "its own check agrees"
    );
    let other = hsm.store.generate_record_key("another-kit").expect("generate");
    assert_ne!(other, public);
    let from_other =
        keystore::RecordKey::open(&hsm.store, "another-kit").expect("open").sign(data).expect("sign");
    let from_other = p256::ecdsa::Signature::from_slice(&from_other).expect("r || s");
    assert!(verifying.verify(data, &from_other).is_err(), "another key's signature");
    assert!(matches!(keystore::RecordKey::open(&hsm.store, "no-such-key"), Err(Error::NoKey(_))));
}

/// The database wrapping key: AES-256-GCM in the token (SoftHSM2 offers `CKM_AES_GCM` through
/// `C_Encrypt`/`C_Decrypt`), the same layout as the software seal, so a key file wrapped by
/// the same key value in memory unwraps in the token; another key, other associated data or
/// an altered byte does not unwrap. Made in the token or by a ceremony of AES-256 components.
#[test]
fn the_database_wrapping_key_wraps_by_aes_gcm_in_the_token() {
    use keystore::DataWrapKey;
    let h = hsm();
    let kcv = h.store.generate_data_wrap_key("db-wrap").expect("generate");
    let wrap = DataWrapKey::open(&h.store, "db-wrap").expect("open");
    assert_eq!(wrap.kcv().expect("kcv"), kcv);
    let data_key = [0xA5u8; 32];
    let wrapped = wrap.wrap(b"station.db.key v1", &data_key).expect("wrap");
    assert_eq!(wrapped.len(), keystore::WRAP_NONCE_LEN + 32 + keystore::WRAP_TAG_LEN);
    assert!(!wrapped.windows(8).any(|w| w == &data_key[..8]));
    assert_ne!(wrapped, wrap.wrap(b"station.db.key v1", &data_key).expect("wrap"), "a fresh nonce each");
    assert_eq!(
        wrap.unwrap(b"station.db.key v1", &wrapped).expect("unwrap").expect("opens").as_slice(),
        data_key
    );
    assert!(wrap.unwrap(b"station.db.key v2", &wrapped).expect("unwrap").is_none());
    let mut altered = wrapped.clone();
    altered[20] ^= 1;
    assert!(wrap.unwrap(b"station.db.key v1", &altered).expect("unwrap").is_none());
    assert!(wrap.unwrap(b"station.db.key v1", &wrapped[..20]).expect("unwrap").is_none());
    assert!(h.store.value_refused("db-wrap").expect("audit"));

    // Formed by the custodians from AES-256 components: the same GCM as the software one.
    let value = "603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4";
    let report = h
        .store
        .import_components(
            "db-wrap-2",
            KeyKind::Aes,
            KeyRole::DataWrap,
            &components(Algorithm::Aes, value),
            None,
        )
        .expect("ceremony");
    let formed = DataWrapKey::open(&h.store, "db-wrap-2").expect("open");
    assert_eq!(report.kcv, soft(Algorithm::Aes, value).kcv());
    let soft_key: [u8; 32] = hex::decode(value).expect("hex").try_into().expect("32 bytes");
    let sealed_in_memory = archive_style_seal(&soft_key, b"aad", &data_key);
    assert_eq!(
        formed.unwrap(b"aad", &sealed_in_memory).expect("unwrap").expect("opens").as_slice(),
        data_key
    );
    assert!(wrap.unwrap(b"aad", &sealed_in_memory).expect("unwrap").is_none(), "another key");
    // AES-128 components, or an ISD key: no wrapping key.
    let short = h.store.import_components(
        "db-wrap-128",
        KeyKind::Aes,
        KeyRole::DataWrap,
        &components(Algorithm::Aes, TEST_KEY),
        None,
    );
    assert!(matches!(short, Err(Error::Invalid(_))), "{short:?}");
    import(&h.store, "kmc-aes", Algorithm::Aes, KeyRole::IsdMaster, TEST_KEY);
    assert!(matches!(DataWrapKey::open(&h.store, "kmc-aes"), Err(Error::WrongKind { .. })));
    let listed = h.store.list().expect("list");
    let info = listed.iter().find(|k| k.label == "db-wrap").expect("listed");
    assert_eq!((info.role, info.len, info.kcv, info.sealed), (Some(KeyRole::DataWrap), 32, Some(kcv), true));
}

/// AES-256-GCM in memory as `archive::at_rest::seal` lays it out (`nonce || ct || tag`), with
/// a fixed nonce: what the simulators' wrapping key writes.
fn archive_style_seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let nonce = [9u8; keystore::WRAP_NONCE_LEN];
    let sealed = aes_gcm::Aes256Gcm::new(key.into())
        .encrypt(aes_gcm::Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("seal");
    [nonce.as_slice(), &sealed].concat()
}
