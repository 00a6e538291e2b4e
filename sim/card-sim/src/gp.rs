//! The GlobalPlatform issuer security domain (ISD): the secure channel (card role of the
//! `secure-channel` crate), INSTALL [for personalization] and STORE DATA carrying EMV CPS
//! data groupings (DGIs) to an application, as a personalisation bureau's host drives it.
//!
//! - `80 50` INITIALIZE UPDATE, `84 82` EXTERNAL AUTHENTICATE: [`CardSession`] in the
//!   scheme the profile's `[isd]` names (SCP02, SCP03, the SM4 variant). The sequence counter
//!   is persistent (2 bytes under SCP02, 3 under SCP03); the card challenge is random, or
//!   under SCP03 with i b4 derived from the counter and the ISD's AID as GlobalPlatform asks.
//! - `80|84 E6 20 00` INSTALL [for personalization] `00 00 L <AID> 00 00 00`: the target must
//!   be an application of the profile (PSE, PPSE, PBOC debit) not yet personalised (`6985`).
//! - `80|84 E2 P1 P2` STORE DATA: P2 the block number from 00 (`6A86` otherwise); P1 b8 the
//!   last block; b7b6 `00` plain, `01` (0x20) DGIs 8xxx encrypted, `11` (0x60) every DGI of the
//!   block encrypted; b5b4 `00` or `01` (DGI format). The blocks form one byte stream, so a DGI
//!   may run over several blocks; its length is 1 byte, or `FF` and 2 bytes. Encrypted DGIs
//!   are decrypted with the session DEK and must end in ISO 9797-1 method 2 padding (`6A80`).
//!   The last block checks the whole application ([`crate::pboc::check_personalisation`]:
//!   keys against their check values, PIN block, mandatory DGIs) and only then commits it:
//!   a refused personalisation leaves the application blank.
//!
//! Any SELECT, reset or security failure ends the session and drops what was not committed.
//! The ISD's scheme, key version and diversification come from the profile's `[isd]`, its
//! test master key from `[sim] isd_master` ([`IsdConfig::from_profile`]).

use apdu::{encode_tlv, Command, Response, StatusWord};
use firmware_profile::ApplicationKind;
use secure_channel::{
    diversify_set, scp03, unpad80, CardSession, Diversification, IsdSetup, Protocol, Scheme, SecretKey,
};
use tracing::debug;

use crate::state::Hex;
use crate::{ApplicationHandler, CardOs};

/// How the simulated ISD is keyed.
#[derive(Debug, Clone)]
pub struct IsdConfig {
    /// Secure channel protocol and "i".
    pub scheme: Scheme,
    /// Key version number of the static key set.
    pub key_version: u8,
    /// Issuer master key (KMC) the card keys are diversified from.
    pub master: SecretKey,
    /// How: EMV CPS from the KDD (the first 10 bytes of the INITIALIZE UPDATE answer).
    pub diversification: Diversification,
}

impl IsdConfig {
    /// The ISD of `profile`: `[isd]` and the test master key `[sim] isd_master`.
    pub fn from_profile(profile: &firmware_profile::Profile) -> Result<IsdConfig, secure_channel::Error> {
        let setup = IsdSetup::from_profile(profile)?;
        Ok(IsdConfig {
            scheme: setup.scheme,
            key_version: setup.key_version,
            master: setup.sim_master(profile)?,
            diversification: setup.diversification,
        })
    }
}

/// The card's key diversification data: `00 00` and the 8 card-specific ATR bytes, so each
/// simulated card batch has its own keys.
pub fn kdd_of(card: &CardOs) -> [u8; 10] {
    let mut kdd = [0u8; 10];
    if let Some(card8) = card.profile().card8() {
        kdd[2..].copy_from_slice(&card8);
    }
    kdd
}

/// An application being personalised.
#[derive(Debug)]
struct Perso {
    aid: Vec<u8>,
    kind: ApplicationKind,
    next_block: u8,
    /// Bytes of a DGI not yet complete, and whether its block was encrypted.
    pending: Vec<u8>,
    pending_mode: u8,
    dgis: Vec<(u16, Vec<u8>)>,
}

/// The ISD application handler (kind `isd`).
pub struct IsdHandler {
    config: IsdConfig,
    session: Option<CardSession>,
    power_up: u64,
    perso: Option<Perso>,
    rng: u64,
}

impl std::fmt::Debug for IsdHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsdHandler").field("session", &self.session).finish_non_exhaustive()
    }
}

impl IsdHandler {
    /// A security domain keyed as `config` says.
    pub fn new(config: IsdConfig) -> IsdHandler {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x1234_5678, |d| d.as_nanos() as u64);
        IsdHandler { config, session: None, power_up: u64::MAX, perso: None, rng: seed | 1 }
    }

    fn end(&mut self) {
        self.session = None;
        self.perso = None;
    }

    /// `n` random bytes (xorshift: a simulator's challenge needs to vary, not to be secret).
    fn random(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            let mut x = self.rng;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.rng = x;
            out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_be_bytes());
        }
        out.truncate(n);
        out
    }

    /// The sequence counter as the scheme sends it, and the card challenge.
    fn counter_and_challenge(
        &mut self,
        card: &CardOs,
        keys: &secure_channel::KeySet,
        seq: u16,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let scheme = self.config.scheme;
        match scheme.protocol {
            Protocol::Scp02 => Some((seq.to_be_bytes().to_vec(), self.random(6))),
            Protocol::Scp03 if scheme.scp03_pseudo_random() => {
                let [hi, lo] = seq.to_be_bytes();
                let counter = [0, hi, lo];
                let aid = card.profile().application(ApplicationKind::Isd).map(|a| a.aid.clone())?;
                let challenge =
                    scp03::pseudo_random_card_challenge(&keys.enc, counter, &aid, scheme.challenge_len())
                        .ok()?;
                Some((counter.to_vec(), challenge))
            }
            Protocol::Scp03 => Some((Vec::new(), self.random(scheme.challenge_len()))),
        }
    }

    fn initialize_update(&mut self, card: &mut CardOs, cmd: &Command) -> Response {
        self.end();
        let kdd = kdd_of(card);
        let keys = match diversify_set(
            self.config.diversification,
            self.config.key_version,
            &self.config.master,
            &kdd,
        ) {
            Ok(k) => k,
            Err(_) => return Response::status(StatusWord::ReferenceDataNotUsable),
        };
        let seq = card.emv_state().isd_sequence_counter;
        let Some((counter, challenge)) = self.counter_and_challenge(card, &keys, seq) else {
            return Response::status(StatusWord::ReferenceDataNotUsable);
        };
        let mut session = match CardSession::new(self.config.scheme, keys, kdd) {
            Ok(s) => s,
            Err(_) => return Response::status(StatusWord::ReferenceDataNotUsable),
        };
        match session.initialize_update(cmd, &challenge, &counter) {
            Ok(r) => {
                card.emv_state_mut().isd_sequence_counter = seq.wrapping_add(1);
                self.session = Some(session);
                r
            }
            Err(refusal) => refusal.response(),
        }
    }

    fn external_authenticate(&mut self, cmd: &Command) -> Response {
        let Some(session) = self.session.as_mut() else {
            return Response::status(StatusWord::ConditionsNotSatisfied);
        };
        match session.external_authenticate(cmd) {
            Ok(r) => r,
            Err(refusal) => {
                debug!(reason = %refusal, "EXTERNAL AUTHENTICATE refused");
                self.end();
                refusal.response()
            }
        }
    }

    /// A command under the open secure channel: unwrap, run, wrap the answer.
    fn protected(&mut self, card: &mut CardOs, cmd: &Command) -> Response {
        let Some(session) = self.session.as_mut() else {
            return Response::status(StatusWord::SecurityStatusNotSatisfied);
        };
        let plain = match session.unwrap_command(cmd) {
            Ok(p) => p,
            Err(refusal) => {
                debug!(reason = %refusal, "secure messaging refused");
                self.end();
                return refusal.response();
            }
        };
        let answer = match plain.ins {
            0xE6 => self.install(card, &plain),
            0xE2 => self.store_data(card, &plain),
            _ => Err(StatusWord::InsNotSupported),
        };
        let answer = answer.unwrap_or_else(|sw| {
            // A refused step drops the personalisation in progress: the host starts again.
            self.perso = None;
            Response::status(sw)
        });
        match self.session.as_mut() {
            Some(s) if answer.sw == StatusWord::Success => s.wrap_response(&answer),
            _ => answer,
        }
    }

    fn install(&mut self, card: &CardOs, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0x20 || cmd.p2 != 0x00 {
            // Only [for personalization] is simulated.
            return Err(StatusWord::IncorrectP1P2);
        }
        let d = &cmd.data;
        let aid = match d.as_slice() {
            [0, 0, n, rest @ ..] if rest.len() == *n as usize + 3 && rest[*n as usize..] == [0, 0, 0] => {
                &rest[..*n as usize]
            }
            _ => return Err(StatusWord::IncorrectData),
        };
        let app = card.profile().application_by_aid(aid).ok_or(StatusWord::ReferencedDataNotFound)?;
        if !matches!(app.kind, ApplicationKind::PbocDebit | ApplicationKind::Pse | ApplicationKind::Ppse) {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        if card.emv_state().apps.contains_key(&hex::encode_upper(aid)) {
            // Personalised once: GlobalPlatform's PERSONALIZED state has no way back.
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        self.perso = Some(Perso {
            aid: aid.to_vec(),
            kind: app.kind,
            next_block: 0,
            pending: Vec::new(),
            pending_mode: 0,
            dgis: Vec::new(),
        });
        Ok(Response::new(vec![0x00], StatusWord::Success))
    }

    fn store_data(&mut self, card: &mut CardOs, cmd: &Command) -> Result<Response, StatusWord> {
        let session = self.session.as_ref().ok_or(StatusWord::SecurityStatusNotSatisfied)?;
        let perso = self.perso.as_mut().ok_or(StatusWord::ConditionsNotSatisfied)?;
        if cmd.p2 != perso.next_block {
            return Err(StatusWord::IncorrectP1P2);
        }
        let mode = cmd.p1 & 0x60;
        if mode == 0x40 || cmd.p1 & 0x10 != 0 || cmd.p1 & 0x07 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let last = cmd.p1 & 0x80 != 0;
        if !perso.pending.is_empty() && perso.pending_mode != mode {
            // A DGI begun in a block of another encryption mode.
            return Err(StatusWord::IncorrectData);
        }
        perso.next_block = perso.next_block.wrapping_add(1);
        perso.pending.extend_from_slice(&cmd.data);
        perso.pending_mode = mode;
        while let Some((dgi, value, used)) = next_dgi(&perso.pending)? {
            let encrypted = mode == 0x60 || (mode == 0x20 && dgi & 0xF000 == 0x8000);
            let value = if encrypted {
                let plain = session.decrypt_sensitive(&value).map_err(|r| r.sw)?;
                unpad80(&plain).ok_or(StatusWord::IncorrectData)?.to_vec()
            } else {
                value
            };
            if perso.dgis.iter().any(|(d, _)| *d == dgi) {
                return Err(StatusWord::IncorrectData);
            }
            perso.dgis.push((dgi, value));
            perso.pending.drain(..used);
        }
        if last {
            if !perso.pending.is_empty() {
                return Err(StatusWord::IncorrectData);
            }
            let Some(done) = self.perso.take() else { return Err(StatusWord::ConditionsNotSatisfied) };
            let mut app = crate::pboc::check_personalisation(done.kind, &done.dgis)?;
            app.dgis = done.dgis.into_iter().map(|(d, v)| (format!("{d:04X}"), Hex(v))).collect();
            debug!(aid = %hex::encode_upper(&done.aid), dgis = app.dgis.len(), "application personalised");
            card.emv_state_mut().apps.insert(hex::encode_upper(&done.aid), app);
        }
        Ok(Response::status(StatusWord::Success))
    }
}

/// The first complete DGI of `stream`: number, value, bytes used; `None` when incomplete.
fn next_dgi(stream: &[u8]) -> Result<Option<(u16, Vec<u8>, usize)>, StatusWord> {
    if stream.len() < 3 {
        return Ok(None);
    }
    let dgi = u16::from_be_bytes([stream[0], stream[1]]);
    let (len, header) = if stream[2] == 0xFF {
        if stream.len() < 5 {
            return Ok(None);
        }
        (u16::from_be_bytes([stream[3], stream[4]]) as usize, 5)
    } else {
        (stream[2] as usize, 3)
    };
    if dgi == 0 || dgi == 0xFFFF {
        return Err(StatusWord::IncorrectData);
    }
    Ok(stream.get(header..header + len).map(|v| (dgi, v.to_vec(), header + len)))
}

impl ApplicationHandler for IsdHandler {
    fn handle(&mut self, card: &mut CardOs, cmd: &Command) -> Option<Response> {
        if self.power_up != card.power_ups() {
            self.power_up = card.power_ups();
            self.end();
        }
        match (cmd.cla, cmd.ins) {
            (_, 0xA4) => {
                // A SELECT ends the session whatever it selects.
                self.end();
                None
            }
            (0x80, 0x50) => Some(self.initialize_update(card, cmd)),
            (0x84, 0x82) => Some(self.external_authenticate(cmd)),
            (0x80 | 0x84, 0xE6 | 0xE2) => Some(self.protected(card, cmd)),
            _ => None,
        }
    }

    fn select(&mut self, card: &mut CardOs, aid: &[u8]) -> Option<Response> {
        self.power_up = card.power_ups();
        self.end();
        // FCI of a security domain: 6F { 84 AID, A5 { 9F65: most data in one command } }.
        let mut fci = encode_tlv(0x84, aid);
        fci.extend(encode_tlv(0xA5, &encode_tlv(0x9F65, &[0xFF])));
        Some(Response::new(encode_tlv(0x6F, &fci), StatusWord::Success))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dgi_lengths_one_and_three_bytes() {
        assert_eq!(next_dgi(&[0x01, 0x01, 0x02, 0xAA]).expect("ok"), None);
        assert_eq!(
            next_dgi(&[0x01, 0x01, 0x02, 0xAA, 0xBB, 0xCC]).expect("ok"),
            Some((0x0101, vec![0xAA, 0xBB], 5))
        );
        let mut long = vec![0x02, 0x01, 0xFF, 0x01, 0x00];
        long.extend(vec![0x55; 256]);
        assert_eq!(next_dgi(&long[..200]).expect("ok"), None);
        let (dgi, v, used) = next_dgi(&long).expect("ok").expect("complete");
        assert_eq!((dgi, v.len(), used), (0x0201, 256, 261));
        assert!(next_dgi(&[0, 0, 0]).is_err());
    }

    fn profile(file: &str) -> firmware_profile::Profile {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles");
        firmware_profile::Profile::load(dir.join(file)).expect("profile")
    }

    #[test]
    fn the_scp02_isd_keys_are_the_emv_cps_diversification_of_the_test_kmc() {
        let c = IsdConfig::from_profile(&profile("ssc-3g-fin-sim.toml")).expect("isd");
        assert_eq!((c.scheme, c.key_version), (Scheme::scp02(0x15), 0x01));
        assert_eq!(
            c.master,
            SecretKey::from_hex(secure_channel::Algorithm::Tdes, "404142434445464748494A4B4C4D4E4F")
                .expect("kmc")
        );
        let keys =
            diversify_set(c.diversification, 1, &c.master, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).expect("keys");
        assert_eq!(keys.enc.kcv().to_string(), "C33013");
    }

    #[test]
    fn scp03_and_sm4_isds_come_from_their_profiles() {
        for (file, scheme) in [
            ("ssc-3g-fin-scp03-sim.toml", Scheme::scp03(0x70)),
            ("ssc-3g-fin-sm4-sim.toml", Scheme::scp03_sm4(0x70)),
        ] {
            let c = IsdConfig::from_profile(&profile(file)).expect("isd");
            assert_eq!((c.scheme, c.diversification), (scheme, Diversification::Kdf3), "{file}");
            assert_eq!(c.master.algorithm(), scheme.algorithm);
        }
        assert!(IsdConfig::from_profile(&profile("ssc-3g-sim.toml")).is_err(), "no ISD there");
    }
}
