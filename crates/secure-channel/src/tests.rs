//! Host and card roles paired: card-spec.md's real-card trace, every scheme and level end to
//! end, and the tampering a secure channel exists to catch.

use crate::*;
use apdu::{Command, Response, StatusWord};
use card_transport::{Capabilities, CardTransaction, TransportError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("hex")
}

const TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";
const KDD: [u8; 10] = [0x00, 0x00, 0x50, 0x71, 0x01, 0x04, 0x6E, 0x6C, 0x8B, 0x70];

fn key(alg: Algorithm) -> SecretKey {
    SecretKey::from_hex(alg, TEST_KEY).expect("key")
}

/// A card in memory behind the transaction trait: answers the handshake with the card role
/// and echoes every other command's data reversed, recording every APDU it is sent.
struct TestCard {
    session: CardSession,
    seq: u16,
    sent: Vec<Vec<u8>>,
    /// The last command as the card saw it after unwrapping.
    seen: Option<Command>,
    /// Status word the echo answers with.
    sw: StatusWord,
}

impl TestCard {
    fn new(scheme: Scheme, keys: KeySet) -> TestCard {
        TestCard {
            session: CardSession::new(scheme, keys, KDD).expect("card"),
            seq: 0x0041,
            sent: Vec::new(),
            seen: None,
            sw: StatusWord::Success,
        }
    }

    fn answer(&mut self, cmd: &Command) -> Response {
        let scheme = self.session.scheme();
        let result = match cmd.ins {
            0x50 => {
                self.seq += 1;
                let challenge: Vec<u8> =
                    (0..if scheme.protocol == Protocol::Scp02 { 6 } else { scheme.challenge_len() } as u8)
                        .map(|b| b.wrapping_mul(37).wrapping_add(self.seq as u8))
                        .collect();
                let seq = match scheme.protocol {
                    Protocol::Scp02 => self.seq.to_be_bytes().to_vec(),
                    Protocol::Scp03 if scheme.scp03_pseudo_random() => vec![0, 0, self.seq as u8],
                    Protocol::Scp03 => vec![],
                };
                self.session.initialize_update(cmd, &challenge, &seq)
            }
            0x82 => self.session.external_authenticate(cmd),
            _ => self.session.unwrap_command(cmd).map(|plain| {
                let mut echo = plain.data.clone();
                echo.reverse();
                self.seen = Some(plain);
                let answer = if self.sw.is_success() || self.sw.to_bytes()[0] == 0x63 {
                    Response::new(echo, self.sw)
                } else {
                    Response::status(self.sw)
                };
                self.session.wrap_response(&answer)
            }),
        };
        result.unwrap_or_else(|refusal| refusal.response())
    }
}

impl std::ops::Deref for TestCard {
    type Target = CardSession;
    fn deref(&self) -> &CardSession {
        &self.session
    }
}

impl CardTransaction for TestCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent.push(command.to_vec());
        let cmd = Command::parse(command).map_err(|e| TransportError::Other(e.to_string()))?;
        Ok(self.answer(&cmd).to_bytes())
    }
    fn was_reset(&self) -> bool {
        false
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::SHORT
    }
}

fn params(scheme: Scheme, level: SecurityLevel) -> HostParams {
    HostParams { scheme, level, expected_kcvs: None }
}

fn provider(alg: Algorithm) -> SoftwareKeys {
    SoftwareKeys::new(KeySet::single(0x20, key(alg))).expect("keys")
}

fn open(scheme: Scheme, level: SecurityLevel) -> (Session, TestCard) {
    let keys = provider(scheme.algorithm);
    let mut card = TestCard::new(scheme, KeySet::single(0x20, key(scheme.algorithm)));
    let session = Session::open(&mut card, &keys, params(scheme, level)).expect("open");
    assert!(card.is_open());
    assert_eq!(card.level(), level);
    (session, card)
}

fn sample_commands() -> Vec<Command> {
    vec![
        Command::new(0x80, 0xCA, 0x00, 0x66).with_le(256),
        Command::new(0x80, 0xE2, 0x00, 0x00).with_data(h("0101 05 7003 5A0101")),
        Command::new(0x80, 0xE2, 0x00, 0x01).with_data(vec![0x5A; 16]),
        Command::new(0x80, 0xE2, 0x80, 0x02).with_data(vec![0xA5; 8]).with_le(256),
        Command::new(0x80, 0xF0, 0x80, 0x0F),
        Command::new(0x80, 0xE2, 0x00, 0x03).with_data(vec![0x11; 200]),
    ]
}

// ----- the real-card trace of card-spec.md section 3 -----

/// The host's INITIALIZE UPDATE and EXTERNAL AUTHENTICATE, byte for byte.
#[test]
fn real_card_trace_host_side() {
    let keys = SoftwareKeys::new(KeySet::single(0x00, key(Algorithm::Tdes))).expect("keys");
    let hs =
        HostHandshake::new(&keys, params(Scheme::scp02(0x55), SecurityLevel::C_MAC), &[0; 8]).expect("hs");
    assert_eq!(hs.initialize_update().encode(false), h("8050 0000 08 0000000000000000 00"));
    let answer = Response::new(
        h("0000507101046E6C8B70 FF 02 0007 2503683B31FA B7F4E8D8857D0CB4"),
        StatusWord::Success,
    );
    let auth = hs.external_authenticate(&answer).expect("card cryptogram verifies");
    assert_eq!(auth.command().encode(false), h("84 82 01 00 10 80F1BB4686D30DF9 A0B8829AF3E87A16"));
    let session = auth.finish(&Response::status(StatusWord::Success)).expect("open");
    assert_eq!(session.card_info().sequence_counter, vec![0x00, 0x07]);
    assert_eq!(session.card_info().key_version, 0xFF);
}

/// The card role gives the same INITIALIZE UPDATE answer and accepts the same EXTERNAL
/// AUTHENTICATE.
#[test]
fn real_card_trace_card_side() {
    let mut card =
        CardSession::new(Scheme::scp02(0x55), KeySet::single(0xFF, key(Algorithm::Tdes)), KDD).expect("card");
    let iu = Command::parse(&h("8050 0000 08 0000000000000000 00")).expect("cmd");
    let answer = card.initialize_update(&iu, &h("2503683B31FA"), &[0x00, 0x07]).expect("answer");
    assert_eq!(answer.data, h("0000507101046E6C8B70 FF 02 0007 2503683B31FA B7F4E8D8857D0CB4"));
    let ea = Command::parse(&h("84 82 01 00 10 80F1BB4686D30DF9 A0B8829AF3E87A16")).expect("cmd");
    assert_eq!(card.external_authenticate(&ea).expect("authenticated").sw, StatusWord::Success);
    assert_eq!(card.level(), SecurityLevel::C_MAC);
}

/// SCP03 on the wire, recomputed independently (Python `cryptography`: AES, CMAC) from the
/// Amendment D formulas: K = 404142..4F, host challenge 00*8, card challenge 10..17, level
/// 03. Pins the KDF, both cryptograms, the C-MAC chaining and the counter ICV.
#[test]
fn scp03_wire_bytes_match_an_independent_computation() {
    let scheme = Scheme::scp03(0x00);
    let keys = SoftwareKeys::new(KeySet::single(0x30, key(Algorithm::Aes))).expect("keys");
    let hs = HostHandshake::new(&keys, params(scheme, SecurityLevel::C_DEC_C_MAC), &[0; 8]).expect("hs");
    assert_eq!(hs.initialize_update().encode(false), h("8050 3000 08 0000000000000000 00"));
    let answer = h("00010203040506070809 30 03 00 1011121314151617 88EBEE1C5D511F2D");
    let auth =
        hs.external_authenticate(&Response::new(answer.clone(), StatusWord::Success)).expect("cryptogram");
    assert_eq!(auth.command().encode(false), h("84 82 03 00 10 612B68D7247C3A98 F41B756C80DA40F8"));
    let mut s = auth.finish(&Response::status(StatusWord::Success)).expect("open");
    let wrapped = s.wrap(&Command::new(0x80, 0xE2, 0x00, 0x00).with_data([1, 2, 3])).expect("wrap");
    assert_eq!(wrapped.encode(false), h("84E2000018 56C38E27DC5A4075332E322397546180 C4C4AC29432B6745"));

    // The card role answers and checks the same bytes.
    let kdd: [u8; 10] = answer[..10].try_into().expect("kdd");
    let mut card = CardSession::new(scheme, KeySet::single(0x30, key(Algorithm::Aes)), kdd).expect("card");
    let iu = Command::parse(&h("8050 3000 08 0000000000000000 00")).expect("cmd");
    assert_eq!(card.initialize_update(&iu, &h("1011121314151617"), &[]).expect("iu").data, answer);
    let ea = Command::parse(&h("84 82 03 00 10 612B68D7247C3A98 F41B756C80DA40F8")).expect("cmd");
    card.external_authenticate(&ea).expect("ea");
    assert_eq!(card.unwrap_command(&wrapped).expect("unwrap").data, vec![1, 2, 3]);
}

// ----- every scheme and level, host and card paired -----

fn exchange_everything(scheme: Scheme, level: SecurityLevel) {
    let (mut session, mut card) = open(scheme, level);
    for cmd in sample_commands() {
        let answer = session.transmit(&mut card, &cmd, "echo").expect("exchange");
        let seen = card.seen.take().expect("card saw the command");
        // Under R-MAC a command without Le asks for one: the R-MAC comes back as data.
        let mut want = cmd.clone();
        if level.r_mac() && want.le.is_none() {
            want.le = Some(256);
        }
        assert_eq!(seen, want, "{scheme:?} {level}: card sees the plain command");
        let mut echo = cmd.data.clone();
        echo.reverse();
        assert_eq!(answer.data, echo, "{scheme:?} {level}: host gets the plain answer");
        let last = card.sent.last().expect("sent");
        if level.c_dec() && !cmd.data.is_empty() {
            assert!(!last.windows(cmd.data.len().min(8)).any(|w| w == &cmd.data[..cmd.data.len().min(8)]));
        }
    }
}

#[test]
fn scp02_pairs_for_every_i_and_level() {
    for i in [0x15, 0x55, 0x17, 0x35] {
        for level in [
            SecurityLevel::C_MAC,
            SecurityLevel::C_DEC_C_MAC,
            SecurityLevel::C_MAC_R_MAC,
            SecurityLevel::C_DEC_C_MAC_R_MAC,
        ] {
            exchange_everything(Scheme::scp02(i), level);
        }
    }
}

#[test]
fn scp03_pairs_for_every_i_and_level() {
    for (i, levels) in [
        (0x00, &[SecurityLevel::C_MAC, SecurityLevel::C_DEC_C_MAC][..]),
        (0x10, &[SecurityLevel::C_DEC_C_MAC][..]),
        (0x30, &[SecurityLevel::C_MAC_R_MAC, SecurityLevel::C_DEC_C_MAC_R_MAC][..]),
        (0x70, &[SecurityLevel::C_DEC_C_MAC_R_MAC, SecurityLevel::ALL][..]),
        (0x71, &[SecurityLevel::C_MAC, SecurityLevel::ALL][..]),
    ] {
        for &level in levels {
            exchange_everything(Scheme::scp03(i), level);
            exchange_everything(Scheme::scp03_sm4(i), level);
        }
    }
}

#[test]
fn aes_256_keys_pair() {
    let scheme = Scheme::scp03(0x70);
    let k = SecretKey::new(Algorithm::Aes, (0..32).collect::<Vec<u8>>()).expect("key");
    let keys = SoftwareKeys::new(KeySet::single(0x30, k.clone())).expect("keys");
    let mut card = TestCard::new(scheme, KeySet::single(0x30, k));
    let mut s = Session::open(&mut card, &keys, params(scheme, SecurityLevel::ALL)).expect("open");
    assert_eq!(
        s.expect_ok(&mut card, &Command::new(0x80, 0xE2, 0, 0).with_data([1, 2, 3]), "echo").expect("ok"),
        [3, 2, 1]
    );
}

#[test]
fn level_none_sends_commands_as_they_are() {
    let (mut s, mut card) = open(Scheme::scp02(0x55), SecurityLevel::NONE);
    let cmd = Command::new(0x80, 0xCA, 0x9F, 0x7F).with_le(256);
    assert_eq!(s.wrap(&cmd).expect("wrap"), cmd);
    // The card lets plain commands through at level NONE.
    assert!(card.session.unwrap_command(&cmd).is_ok());
}

#[test]
fn diversified_keys_open_a_channel_with_the_cards_own_keys() {
    let kmc = key(Algorithm::Tdes);
    let scheme = Scheme::scp02(0x55);
    let card_keys = diversify_set(Diversification::EmvCps, 0x20, &kmc, &KDD).expect("card keys");
    let mut card = TestCard::new(scheme, card_keys);
    let host = SoftwareKeys::from_master(0x20, kmc.clone(), Diversification::EmvCps);
    let expected = KcvSet { enc: kmc.kcv(), mac: kmc.kcv(), dek: kmc.kcv() };
    let p = HostParams { scheme, level: SecurityLevel::C_DEC_C_MAC, expected_kcvs: Some(expected) };
    Session::open(&mut card, &host, p).expect("open");

    let kmc = key(Algorithm::Sm4);
    let scheme = Scheme::scp03_sm4(0x30);
    let card_keys = diversify_set(Diversification::Kdf3, 0x20, &kmc, &KDD).expect("card keys");
    let mut card = TestCard::new(scheme, card_keys);
    let host = SoftwareKeys::from_master(0x20, kmc, Diversification::Kdf3);
    Session::open(&mut card, &host, params(scheme, SecurityLevel::C_DEC_C_MAC_R_MAC)).expect("open");
}

// ----- keys checked before anything reaches the card -----

#[test]
fn wrong_key_fails_its_check_value_before_any_apdu() {
    for scheme in [Scheme::scp02(0x55), Scheme::scp03(0x00), Scheme::scp03_sm4(0x00)] {
        let right = key(scheme.algorithm);
        let mut card = TestCard::new(scheme, KeySet::single(0x20, right.clone()));
        let wrong = SoftwareKeys::new(KeySet::single(
            0x20,
            SecretKey::new(scheme.algorithm, vec![0x47; 16]).expect("k"),
        ))
        .expect("keys");
        let expected = KcvSet { enc: right.kcv(), mac: right.kcv(), dek: right.kcv() };
        let p = HostParams { scheme, level: SecurityLevel::C_MAC, expected_kcvs: Some(expected) };
        let e = Session::open(&mut card, &wrong, p).expect_err("wrong key");
        assert!(matches!(e, Error::KeyCheck { usage: KeyUsage::Enc, .. }), "{e}");
        assert!(card.sent.is_empty(), "no APDU may be sent with a wrong key");
    }
}

#[test]
fn wrong_key_without_check_values_never_sends_external_authenticate() {
    let scheme = Scheme::scp03(0x00);
    let mut card = TestCard::new(scheme, KeySet::single(0x20, key(Algorithm::Aes)));
    let wrong =
        SoftwareKeys::new(KeySet::single(0x20, SecretKey::new(Algorithm::Aes, vec![7; 16]).expect("k")))
            .expect("k");
    let e = Session::open(&mut card, &wrong, params(scheme, SecurityLevel::C_MAC)).expect_err("wrong key");
    assert_eq!(e, Error::CardCryptogram);
    assert_eq!(card.sent.len(), 1, "INITIALIZE UPDATE only");
    assert_eq!(card.sent[0][1], 0x50);
}

#[test]
fn wrong_sequence_counter_fails_the_card_cryptogram() {
    // The trace's answer with the counter changed from 0007 to 0008.
    let answer = Response::new(
        h("0000507101046E6C8B70 FF 02 0008 2503683B31FA B7F4E8D8857D0CB4"),
        StatusWord::Success,
    );
    let keys = SoftwareKeys::new(KeySet::single(0x00, key(Algorithm::Tdes))).expect("keys");
    let hs =
        HostHandshake::new(&keys, params(Scheme::scp02(0x55), SecurityLevel::C_MAC), &[0; 8]).expect("hs");
    assert_eq!(hs.external_authenticate(&answer).expect_err("counter"), Error::CardCryptogram);
}

#[test]
fn answers_that_do_not_fit_the_profile_are_refused() {
    let keys = SoftwareKeys::new(KeySet::single(0x00, key(Algorithm::Tdes))).expect("keys");
    let trace = "0000507101046E6C8B70 FF 02 0007 2503683B31FA B7F4E8D8857D0CB4";
    let hs = |scheme| HostHandshake::new(&keys, params(scheme, SecurityLevel::C_MAC), &[0; 8]).expect("hs");
    let e = hs(Scheme::scp02(0x55).with_scp_id(0x82))
        .external_authenticate(&Response::new(h(trace), StatusWord::Success))
        .expect_err("scp id");
    assert!(e.to_string().contains("SCP02"), "{e}");
    let e = hs(Scheme::scp02(0x55))
        .external_authenticate(&Response::new(h(&trace[..20]), StatusWord::Success))
        .expect_err("short");
    assert_eq!(e.step(), Some("INITIALIZE UPDATE"));
    let e = hs(Scheme::scp02(0x55))
        .external_authenticate(&Response::status(StatusWord::ReferencedDataNotFound))
        .expect_err("sw");
    assert_eq!(e.status_word(), Some(StatusWord::ReferencedDataNotFound));
    assert!(
        HostHandshake::new(&keys, params(Scheme::scp03(0), SecurityLevel::C_MAC), &[0; 8]).is_err(),
        "3DES keys, AES scheme"
    );
    assert!(
        HostHandshake::new(&keys, params(Scheme::scp02(0x55), SecurityLevel::ALL), &[0; 8]).is_err(),
        "R-ENC in SCP02"
    );
}

// ----- tampering -----

fn tamper_schemes() -> Vec<(Scheme, SecurityLevel)> {
    vec![
        (Scheme::scp02(0x15), SecurityLevel::C_DEC_C_MAC),
        (Scheme::scp02(0x55), SecurityLevel::C_MAC),
        (Scheme::scp03(0x70), SecurityLevel::ALL),
        (Scheme::scp03(0x71), SecurityLevel::C_MAC),
        (Scheme::scp03_sm4(0x30), SecurityLevel::C_DEC_C_MAC_R_MAC),
    ]
}

fn store_data(n: u8) -> Command {
    Command::new(0x80, 0xE2, 0x00, n).with_data(vec![n; 20])
}

#[test]
fn a_flipped_mac_byte_is_refused_and_closes_the_channel() {
    for (scheme, level) in tamper_schemes() {
        let (mut s, mut card) = open(scheme, level);
        let mut wrapped = s.wrap(&store_data(1)).expect("wrap");
        let last = wrapped.data.len() - 1;
        wrapped.data[last] ^= 0x01;
        let refusal = card.session.unwrap_command(&wrapped).expect_err("bad MAC");
        assert_eq!(refusal.sw, StatusWord::SecurityStatusNotSatisfied, "{scheme:?}");
        assert!(!card.is_open(), "a MAC failure ends the session");
        let next = s.wrap(&store_data(2)).expect("wrap");
        assert!(card.session.unwrap_command(&next).is_err());
    }
}

#[test]
fn a_flipped_data_byte_is_refused() {
    for (scheme, level) in tamper_schemes() {
        let (mut s, mut card) = open(scheme, level);
        let mut wrapped = s.wrap(&store_data(1)).expect("wrap");
        wrapped.data[0] ^= 0x80;
        assert!(card.session.unwrap_command(&wrapped).is_err(), "{scheme:?} {level}");
        let mut header = s.wrap(&store_data(2)).expect("wrap");
        header.p2 ^= 1;
        assert!(card.session.unwrap_command(&header).is_err(), "{scheme:?} {level}: header is covered");
    }
}

#[test]
fn a_replayed_command_is_refused() {
    for (scheme, level) in tamper_schemes() {
        let (mut s, mut card) = open(scheme, level);
        let first = s.wrap(&store_data(1)).expect("wrap");
        card.session.unwrap_command(&first).expect("first time");
        let _ = card.session.wrap_response(&Response::status(StatusWord::Success));
        assert!(card.session.unwrap_command(&first).is_err(), "{scheme:?} {level}: replay");
    }
}

#[test]
fn a_dropped_command_breaks_the_chain_and_the_counter() {
    for (scheme, level) in tamper_schemes() {
        let (mut s, mut card) = open(scheme, level);
        let _lost = s.wrap(&store_data(1)).expect("wrap");
        let second = s.wrap(&store_data(2)).expect("wrap");
        assert!(card.session.unwrap_command(&second).is_err(), "{scheme:?} {level}: out of order");
    }
}

#[test]
fn a_command_without_secure_messaging_is_refused() {
    let (_s, mut card) = open(Scheme::scp03(0x00), SecurityLevel::C_MAC);
    let refusal = card.session.unwrap_command(&store_data(1)).expect_err("plain");
    assert_eq!(refusal.sw, StatusWord::SecurityStatusNotSatisfied);
}

#[test]
fn a_bad_r_mac_closes_the_host_session() {
    for (scheme, level) in [
        (Scheme::scp02(0x35), SecurityLevel::C_MAC_R_MAC),
        (Scheme::scp03(0x30), SecurityLevel::C_MAC_R_MAC),
        (Scheme::scp03_sm4(0x70), SecurityLevel::ALL),
    ] {
        let (mut s, mut card) = open(scheme, level);
        let wrapped = s.wrap(&store_data(1)).expect("wrap");
        card.session.unwrap_command(&wrapped).expect("unwrap");
        let mut answer = card.session.wrap_response(&Response::new(vec![1, 2, 3], StatusWord::Success));
        answer.data[0] ^= 1;
        let e = s.unwrap(&answer).expect_err("bad R-MAC");
        assert!(matches!(e, Error::Mac { sw: StatusWord::Success, .. }), "{e}");
        assert_eq!(s.wrap(&store_data(2)).expect_err("closed"), Error::Closed);
    }
}

#[test]
fn a_replayed_answer_is_refused() {
    let (mut s, mut card) = open(Scheme::scp03(0x30), SecurityLevel::C_MAC_R_MAC);
    let c1 = s.wrap(&store_data(1)).expect("wrap");
    card.session.unwrap_command(&c1).expect("unwrap");
    let a1 = card.session.wrap_response(&Response::new(vec![9; 4], StatusWord::Success));
    s.unwrap(&a1).expect("first answer");
    let c2 = s.wrap(&store_data(2)).expect("wrap");
    card.session.unwrap_command(&c2).expect("unwrap");
    assert!(s.unwrap(&a1).is_err(), "the first answer again, for the second command");
}

#[test]
fn error_answers_pass_unprotected_with_their_status_word() {
    let (mut s, mut card) = open(Scheme::scp03(0x30), SecurityLevel::C_MAC_R_MAC);
    card.sw = StatusWord::FileNotFound;
    let r = s.transmit(&mut card, &store_data(1), "STORE DATA").expect("answer");
    assert_eq!(r, Response::status(StatusWord::FileNotFound));
    let e = s.expect_ok(&mut card, &store_data(2), "STORE DATA 2").expect_err("refused");
    assert_eq!(e.status_word(), Some(StatusWord::FileNotFound));
    assert_eq!(e.step(), Some("STORE DATA 2"));
}

#[test]
fn link_and_answer_failures_are_the_apdu_layers_with_their_step() {
    // No card answers INITIALIZE UPDATE: a transport error of that step.
    let keys = provider(Algorithm::Tdes);
    let mut gone = card_transport::transcript::Replay::from_text("").expect("transcript");
    let e = Session::open(&mut gone, &keys, params(Scheme::scp02(0x55), SecurityLevel::C_MAC))
        .expect_err("no card");
    assert!(matches!(e, Error::Card(apdu::Error::Transport { .. })), "{e:?}");
    assert_eq!((e.step(), e.status_word()), (Some("INITIALIZE UPDATE"), None));
    // Under R-MAC, an error status word with data too short for a MAC: a protocol error of
    // the caller's step, and the session is closed.
    let (mut s, _card) = open(Scheme::scp03(0x30), SecurityLevel::C_MAC_R_MAC);
    let mut card =
        card_transport::transcript::Replay::from_text("> ?? E2 *\n< 01 6A 82\n").expect("transcript");
    let e = s.transmit(&mut card, &store_data(1), "STORE DATA 1").expect_err("unprotected data");
    assert!(matches!(e, Error::Card(apdu::Error::Protocol { .. })), "{e:?}");
    assert_eq!(e.to_string(), "STORE DATA 1: unprotected data with an error status word");
    assert_eq!(s.wrap(&store_data(2)).expect_err("closed"), Error::Closed);
}

#[test]
fn a_wrong_host_cryptogram_is_answered_6300() {
    let scheme = Scheme::scp02(0x55);
    let mut card = CardSession::new(scheme, KeySet::single(0xFF, key(Algorithm::Tdes)), KDD).expect("card");
    let iu = Command::parse(&h("8050 0000 08 0000000000000000 00")).expect("cmd");
    card.initialize_update(&iu, &h("2503683B31FA"), &[0x00, 0x07]).expect("answer");
    // A host that MACs correctly but sends another cryptogram.
    let keys = scp02::session_keys(&KeySet::single(0xFF, key(Algorithm::Tdes)), [0, 7]).expect("keys");
    let mut host = crate::channel::Channel::new(scheme, keys);
    let ea = host
        .wrap_external_authenticate(&Command::new(0x80, 0x82, 0x01, 0x00).with_data(vec![0u8; 8]))
        .expect("wrap");
    assert_eq!(card.external_authenticate(&ea).expect_err("cryptogram").sw, StatusWord::AuthenticationFailed);
    assert!(!card.is_open());
    // And EXTERNAL AUTHENTICATE without INITIALIZE UPDATE.
    let ea = Command::parse(&h("84 82 01 00 10 80F1BB4686D30DF9 A0B8829AF3E87A16")).expect("cmd");
    assert_eq!(card.external_authenticate(&ea).expect_err("order").sw, StatusWord::ConditionsNotSatisfied);
}

#[test]
fn initialize_update_with_an_unknown_key_version_is_refused() {
    let mut card =
        CardSession::new(Scheme::scp02(0x55), KeySet::single(0x20, key(Algorithm::Tdes)), KDD).expect("card");
    let iu = Command::new(0x80, 0x50, 0x21, 0x00).with_data(vec![0; 8]).with_le(256);
    let refusal = card.initialize_update(&iu, &[0; 6], &[0, 1]).expect_err("kvn");
    assert_eq!(refusal.sw, StatusWord::ReferencedDataNotFound);
}

// ----- PUT KEY and sensitive data through a session -----

#[test]
fn put_key_through_the_channel() {
    for (scheme, level) in [
        (Scheme::scp02(0x55), SecurityLevel::C_DEC_C_MAC),
        (Scheme::scp03(0x70), SecurityLevel::ALL),
        (Scheme::scp03_sm4(0x00), SecurityLevel::C_DEC_C_MAC),
    ] {
        let (mut s, mut card) = open(scheme, level);
        let new_keys = KeySet {
            version: 0x21,
            enc: SecretKey::new(scheme.algorithm, vec![0x11; 16]).expect("k"),
            mac: SecretKey::new(scheme.algorithm, vec![0x22; 16]).expect("k"),
            dek: SecretKey::new(scheme.algorithm, vec![0x33; 16]).expect("k"),
        };
        let cmd = s.put_key(0x20, &new_keys).expect("put key");
        let wrapped = s.wrap(&cmd).expect("wrap");
        let plain = card.session.unwrap_command(&wrapped).expect("unwrap");
        let installed = card.session.put_key(&plain).expect("card decrypts");
        assert_eq!(installed, new_keys);
        let answer =
            card.session.wrap_response(&Response::new(put_key::answer(&installed), StatusWord::Success));
        let answer = s.unwrap(&answer).expect("answer");
        put_key::check_answer(&answer.data, &new_keys).expect("KCVs match");
        card.session.set_keys(installed);

        // The new keys open the next session.
        let keys = SoftwareKeys::new(new_keys.clone()).expect("keys");
        let p = HostParams { scheme, level, expected_kcvs: Some(new_keys.kcvs()) };
        Session::open(&mut card, &keys, p).expect("new keys work");
    }
}

#[test]
fn sensitive_data_round_trips() {
    for (scheme, level) in
        [(Scheme::scp02(0x55), SecurityLevel::C_MAC), (Scheme::scp03_sm4(0x00), SecurityLevel::C_MAC)]
    {
        let (s, card) = open(scheme, level);
        let pin_block = pad80(&h("241234FFFFFFFFFF"), scheme.algorithm.block_size());
        let ct = s.encrypt_sensitive(&pin_block).expect("encrypt");
        assert_ne!(ct, pin_block);
        assert_eq!(card.decrypt_sensitive(&ct).expect("decrypt"), pin_block);
    }
}

#[test]
fn debug_output_shows_no_key_bytes() {
    let (s, card) = open(Scheme::scp02(0x55), SecurityLevel::C_MAC);
    let text = format!("{s:?} {:?} {:?}", card.session, provider(Algorithm::Tdes));
    assert!(!text.contains("4041") && !text.contains("64, 65"), "{text}");
}
