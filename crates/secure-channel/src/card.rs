//! The card role: what a security domain does with INITIALIZE UPDATE, EXTERNAL
//! AUTHENTICATE and every protected command after them. The card simulator plugs this in;
//! the tests pair it with the host role.
//!
//! The card chooses its challenge and keeps its sequence counter (the simulator's job, so it
//! can be made deterministic); this type keeps the session. Any security failure closes the
//! session, as GlobalPlatform requires: a replayed or altered command cannot be retried.

use crate::channel::{Channel, InitUpdateAnswer};
use crate::key::ct_eq;
use crate::{put_key, CardRefusal, Error, KeySet, Protocol, Scheme, SecurityLevel};
use apdu::{Command, Response, StatusWord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No INITIALIZE UPDATE yet, or the last session was closed.
    Idle,
    /// INITIALIZE UPDATE answered; EXTERNAL AUTHENTICATE expected next.
    Initialized,
    /// Authenticated.
    Open,
}

/// A security domain's side of the secure channel.
pub struct CardSession {
    scheme: Scheme,
    keys: KeySet,
    kdd: [u8; 10],
    state: State,
    channel: Option<Channel>,
    host_cryptogram: Vec<u8>,
}

impl std::fmt::Debug for CardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSession")
            .field("scheme", &self.scheme)
            .field("key_version", &self.keys.version)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn refuse(sw: StatusWord, why: &str) -> CardRefusal {
    CardRefusal::new(sw, why)
}

impl CardSession {
    /// A card with its static keys and key diversification data.
    pub fn new(scheme: Scheme, keys: KeySet, kdd: [u8; 10]) -> Result<CardSession, Error> {
        let alg = keys.check_uniform()?;
        if alg != scheme.algorithm {
            return Err(Error::Key(format!("card keys are {alg}, the scheme uses {}", scheme.algorithm)));
        }
        scheme.check(SecurityLevel::NONE)?;
        Ok(CardSession { scheme, keys, kdd, state: State::Idle, channel: None, host_cryptogram: Vec::new() })
    }

    /// The scheme this card speaks.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The card's static keys (after a PUT KEY the simulator replaces them with
    /// [`CardSession::set_keys`]).
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Replaces the static keys (PUT KEY done); the current session ends.
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
        self.close();
    }

    /// True once EXTERNAL AUTHENTICATE has succeeded and until the session closes.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// The level EXTERNAL AUTHENTICATE set (`NONE` when no session is open).
    pub fn level(&self) -> SecurityLevel {
        match (&self.channel, self.state) {
            (Some(c), State::Open) => c.level,
            _ => SecurityLevel::NONE,
        }
    }

    /// Ends the session (a SELECT, a reset, a security failure).
    pub fn close(&mut self) {
        self.state = State::Idle;
        self.channel = None;
        self.host_cryptogram.clear();
    }

    /// Answers INITIALIZE UPDATE with `card_challenge` and `sequence_counter` (SCP02: 2
    /// bytes; SCP03 with pseudo-random challenges: 3 bytes; else empty). Any earlier
    /// session ends.
    pub fn initialize_update(
        &mut self,
        cmd: &Command,
        card_challenge: &[u8],
        sequence_counter: &[u8],
    ) -> Result<Response, CardRefusal> {
        self.close();
        let scheme = self.scheme;
        if cmd.cla & 0x80 == 0 || cmd.ins != 0x50 {
            return Err(refuse(StatusWord::InsNotSupported, "not INITIALIZE UPDATE"));
        }
        if cmd.p2 != 0 {
            return Err(refuse(StatusWord::IncorrectP1P2, "INITIALIZE UPDATE P2 is not 00"));
        }
        if cmd.p1 != 0 && cmd.p1 != self.keys.version {
            return Err(refuse(StatusWord::ReferencedDataNotFound, "no key set with that version"));
        }
        if cmd.data.len() != scheme.challenge_len() {
            return Err(refuse(StatusWord::WrongLength, "host challenge length"));
        }
        let internal = |e: Error| refuse(StatusWord::NoPreciseDiagnosis, &e.to_string());
        let host_challenge = &cmd.data;
        let (keys, cryptogram, host_cryptogram, i) = match scheme.protocol {
            Protocol::Scp02 => {
                let seq: [u8; 2] = sequence_counter
                    .try_into()
                    .map_err(|_| internal(Error::Key("SCP02 needs a 2-byte sequence counter".into())))?;
                if card_challenge.len() != 6 {
                    return Err(internal(Error::Key("SCP02 needs a 6-byte card challenge".into())));
                }
                let keys = crate::scp02::session_keys(&self.keys, seq).map_err(internal)?;
                let card = crate::scp02::card_cryptogram(&keys.enc, host_challenge, seq, card_challenge)
                    .map_err(internal)?;
                let host = crate::scp02::host_cryptogram(&keys.enc, seq, card_challenge, host_challenge)
                    .map_err(internal)?;
                (keys, card.to_vec(), host.to_vec(), None)
            }
            Protocol::Scp03 => {
                let n = scheme.challenge_len();
                let want_seq = if scheme.scp03_pseudo_random() { 3 } else { 0 };
                if card_challenge.len() != n || sequence_counter.len() != want_seq {
                    return Err(internal(Error::Key(format!(
                        "this SCP03 scheme needs a {n}-byte challenge and a {want_seq}-byte counter"
                    ))));
                }
                let context = [&host_challenge[..], card_challenge].concat();
                let keys = crate::scp03::session_keys(&self.keys, &context).map_err(internal)?;
                let card = crate::scp03::card_cryptogram(&keys.mac, &context, n).map_err(internal)?;
                let host = crate::scp03::host_cryptogram(&keys.mac, &context, n).map_err(internal)?;
                (keys, card, host, Some(scheme.i))
            }
        };
        let answer = InitUpdateAnswer {
            kdd: self.kdd,
            key_version: self.keys.version,
            scp_id: scheme.scp_id,
            i,
            sequence_counter: sequence_counter.to_vec(),
            card_challenge: card_challenge.to_vec(),
            card_cryptogram: cryptogram,
        };
        self.channel = Some(Channel::new(scheme, keys));
        self.host_cryptogram = host_cryptogram;
        self.state = State::Initialized;
        Ok(Response::new(answer.encode(), StatusWord::Success))
    }

    /// Checks EXTERNAL AUTHENTICATE: its C-MAC, the host cryptogram, the level. 6300 when
    /// the cryptogram is wrong (the try the card counts), 6982 for a bad MAC.
    pub fn external_authenticate(&mut self, cmd: &Command) -> Result<Response, CardRefusal> {
        let result = self.check_external_authenticate(cmd);
        if result.is_err() {
            self.close();
        }
        result
    }

    fn check_external_authenticate(&mut self, cmd: &Command) -> Result<Response, CardRefusal> {
        if self.state != State::Initialized {
            return Err(refuse(
                StatusWord::ConditionsNotSatisfied,
                "EXTERNAL AUTHENTICATE without INITIALIZE UPDATE",
            ));
        }
        if cmd.ins != 0x82 || cmd.p2 != 0 {
            return Err(refuse(StatusWord::IncorrectP1P2, "not EXTERNAL AUTHENTICATE"));
        }
        let level = SecurityLevel::new(cmd.p1)
            .and_then(|l| self.scheme.check(l).map(|()| l))
            .map_err(|_| refuse(StatusWord::IncorrectP1P2, "security level not supported"))?;
        let channel =
            self.channel.as_mut().ok_or_else(|| refuse(StatusWord::ConditionsNotSatisfied, "no session"))?;
        let plain = channel.unwrap_external_authenticate(cmd)?;
        if !ct_eq(&plain.data, &self.host_cryptogram) {
            return Err(refuse(StatusWord::AuthenticationFailed, "host cryptogram does not verify"));
        }
        channel.level = level;
        self.state = State::Open;
        Ok(Response::status(StatusWord::Success))
    }

    /// Checks and strips a command's protection. A command with no secure messaging is let
    /// through only when the level asks for none. Any failure closes the session.
    pub fn unwrap_command(&mut self, cmd: &Command) -> Result<Command, CardRefusal> {
        let Some(channel) = self.channel.as_mut().filter(|_| self.state == State::Open) else {
            return Err(refuse(StatusWord::SecurityStatusNotSatisfied, "no open secure channel"));
        };
        let result = channel.unwrap(cmd);
        if result.is_err() {
            self.close();
        }
        result
    }

    /// Protects an answer (R-MAC, R-ENC) at the session's level. Unchanged with no session.
    pub fn wrap_response(&mut self, resp: &Response) -> Response {
        match self.channel.as_mut().filter(|_| self.state == State::Open) {
            Some(channel) => channel
                .wrap_response(resp)
                // Only a broken key could fail here; answer without leaking anything.
                .unwrap_or_else(|_| Response::status(StatusWord::NoPreciseDiagnosis)),
            None => resp.clone(),
        }
    }

    /// Decrypts key-sensitive data (S-DEK under SCP02, Key-DEK in the SCP03 shape).
    pub fn decrypt_sensitive(&self, data: &[u8]) -> Result<Vec<u8>, CardRefusal> {
        let channel = self
            .channel
            .as_ref()
            .filter(|_| self.state == State::Open)
            .ok_or_else(|| refuse(StatusWord::SecurityStatusNotSatisfied, "no open secure channel"))?;
        put_key::decrypt_sensitive(&channel.keys.dek, data)
            .map_err(|_| refuse(StatusWord::IncorrectData, "encrypted data is not whole blocks"))
    }

    /// Decrypts and checks the keys of an (unwrapped) PUT KEY command. The simulator installs
    /// them with [`CardSession::set_keys`] after answering [`put_key::answer`].
    pub fn put_key(&self, cmd: &Command) -> Result<KeySet, CardRefusal> {
        let channel = self
            .channel
            .as_ref()
            .filter(|_| self.state == State::Open)
            .ok_or_else(|| refuse(StatusWord::SecurityStatusNotSatisfied, "no open secure channel"))?;
        if cmd.ins != 0xD8 || cmd.p2 != 0x81 {
            return Err(refuse(StatusWord::IncorrectP1P2, "PUT KEY of one key set from key 1 only"));
        }
        if cmd.p1 != 0 && cmd.p1 != self.keys.version {
            return Err(refuse(StatusWord::ReferencedDataNotFound, "no key set with that version"));
        }
        put_key::parse(&channel.keys.dek, &cmd.data)
    }
}
