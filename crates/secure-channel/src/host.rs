//! The host role: open a secure channel (INITIALIZE UPDATE, card cryptogram check, EXTERNAL
//! AUTHENTICATE) and protect what follows.
//!
//! Order of checks, each one before anything that could cost the card a try:
//! 1. the key set's check values against the expected ones: no APDU is sent when they differ;
//! 2. the card cryptogram: EXTERNAL AUTHENTICATE (the step the card counts) is never sent when
//!    it does not verify.
//!
//! [`HostHandshake`] is the same protocol with no I/O, driven by the caller with bytes;
//! [`Session::open`] drives it over a [`CardTransaction`].

use crate::channel::{Channel, InitUpdateAnswer};
use crate::{
    put_key, Error, KcvSet, KeyProvider, KeySet, Protocol, Scheme, SecurityLevel, SessionDerivation,
};
use apdu::{Command, Response, StatusWord};
use card_transport::CardTransaction;

const INITIALIZE_UPDATE: &str = "INITIALIZE UPDATE";
const EXTERNAL_AUTHENTICATE: &str = "EXTERNAL AUTHENTICATE";

/// What the host asks for; all of it comes from the card's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostParams {
    /// Protocol, "i" and cipher the card speaks.
    pub scheme: Scheme,
    /// Security level for the session.
    pub level: SecurityLevel,
    /// Check values the provider's keys must have (from the key ceremony record). `None`
    /// skips the check: only for tests and development cards.
    pub expected_kcvs: Option<KcvSet>,
}

/// First half of the handshake: the key check is done and INITIALIZE UPDATE is ready.
pub struct HostHandshake<'k> {
    keys: &'k dyn KeyProvider,
    params: HostParams,
    host_challenge: Vec<u8>,
}

impl std::fmt::Debug for HostHandshake<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandshake").field("params", &self.params).finish_non_exhaustive()
    }
}

impl<'k> HostHandshake<'k> {
    /// Checks scheme, level and key check values. Nothing has been sent when this fails.
    pub fn new(keys: &'k dyn KeyProvider, params: HostParams, host_challenge: &[u8]) -> Result<Self, Error> {
        params.scheme.check(params.level)?;
        if keys.algorithm() != params.scheme.algorithm {
            return Err(Error::Key(format!(
                "the key set is {}, the card's scheme uses {}",
                keys.algorithm(),
                params.scheme.algorithm
            )));
        }
        if host_challenge.len() != params.scheme.challenge_len() {
            return Err(Error::Unsupported(format!(
                "host challenge of {} bytes, the scheme takes {}",
                host_challenge.len(),
                params.scheme.challenge_len()
            )));
        }
        if let Some(expected) = &params.expected_kcvs {
            keys.kcvs()?.check(expected)?;
        }
        Ok(HostHandshake { keys, params, host_challenge: host_challenge.to_vec() })
    }

    /// `80 50 <KVN> 00 <Lc> <host challenge> 00`.
    pub fn initialize_update(&self) -> Command {
        Command::new(0x80, 0x50, self.keys.key_version(), 0x00)
            .with_data(self.host_challenge.clone())
            .with_le(256)
    }

    /// Reads the INITIALIZE UPDATE answer, verifies the card cryptogram and builds the
    /// protected EXTERNAL AUTHENTICATE. On any error nothing more is to be sent.
    pub fn external_authenticate(self, answer: &Response) -> Result<Authenticating, Error> {
        if answer.sw != StatusWord::Success {
            return Err(apdu::Error::status(INITIALIZE_UPDATE, answer.sw).into());
        }
        let scheme = self.params.scheme;
        let iu = InitUpdateAnswer::parse(&scheme, &answer.data)?;
        let kvn = self.keys.key_version();
        if kvn != 0 && iu.key_version != kvn {
            return Err(Error::protocol(
                INITIALIZE_UPDATE,
                format!("card answers with key version {:02X}, {kvn:02X} was asked", iu.key_version),
            ));
        }
        if iu.scp_id != scheme.scp_id {
            return Err(Error::protocol(
                INITIALIZE_UPDATE,
                format!("card speaks SCP{:02X}, the profile says SCP{:02X}", iu.scp_id, scheme.scp_id),
            ));
        }
        if let Some(i) = iu.i {
            if i != scheme.i {
                return Err(Error::protocol(
                    INITIALIZE_UPDATE,
                    format!("card uses i={i:02X}, the profile says i={:02X}", scheme.i),
                ));
            }
        }
        let (keys, card_ok, host_cryptogram) = match scheme.protocol {
            Protocol::Scp02 => {
                let seq = [iu.sequence_counter[0], iu.sequence_counter[1]];
                let keys =
                    self.keys.session_keys(&iu.kdd, &SessionDerivation::Scp02 { sequence_counter: seq })?;
                let expected =
                    crate::scp02::card_cryptogram(&keys.enc, &self.host_challenge, seq, &iu.card_challenge)?;
                let ok = crate::key::ct_eq(&expected, &iu.card_cryptogram);
                let host =
                    crate::scp02::host_cryptogram(&keys.enc, seq, &iu.card_challenge, &self.host_challenge)?;
                (keys, ok, host.to_vec())
            }
            Protocol::Scp03 => {
                let context = [&self.host_challenge[..], &iu.card_challenge].concat();
                let keys =
                    self.keys.session_keys(&iu.kdd, &SessionDerivation::Scp03 { context: &context })?;
                let n = scheme.challenge_len();
                let expected = crate::scp03::card_cryptogram(&keys.mac, &context, n)?;
                let ok = crate::key::ct_eq(&expected, &iu.card_cryptogram);
                let host = crate::scp03::host_cryptogram(&keys.mac, &context, n)?;
                (keys, ok, host)
            }
        };
        if !card_ok {
            return Err(Error::CardCryptogram);
        }
        let mut channel = Channel::new(scheme, keys);
        let plain = Command::new(0x80, 0x82, self.params.level.byte(), 0x00).with_data(host_cryptogram);
        let command = channel.wrap_external_authenticate(&plain)?;
        Ok(Authenticating {
            command,
            session: Session { channel, level: self.params.level, info: iu, closed: false, last_ins: 0x82 },
        })
    }
}

/// Second half of the handshake: EXTERNAL AUTHENTICATE is built, the card's answer awaited.
pub struct Authenticating {
    command: Command,
    session: Session,
}

impl std::fmt::Debug for Authenticating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticating").field("command", &self.command).finish_non_exhaustive()
    }
}

impl Authenticating {
    /// The protected EXTERNAL AUTHENTICATE to send.
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// The open session once the card answered 9000.
    pub fn finish(self, answer: &Response) -> Result<Session, Error> {
        if answer.sw != StatusWord::Success {
            return Err(apdu::Error::status(EXTERNAL_AUTHENTICATE, answer.sw).into());
        }
        let mut session = self.session;
        session.channel.level = session.level;
        Ok(session)
    }
}

/// An open secure channel, host side.
pub struct Session {
    channel: Channel,
    level: SecurityLevel,
    info: InitUpdateAnswer,
    closed: bool,
    last_ins: u8,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("scheme", &self.channel.scheme)
            .field("level", &self.level)
            .field("key_version", &self.info.key_version)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a secure channel with a fresh random host challenge.
    pub fn open(
        tx: &mut dyn CardTransaction,
        keys: &dyn KeyProvider,
        params: HostParams,
    ) -> Result<Session, Error> {
        let mut challenge = vec![0u8; params.scheme.challenge_len()];
        getrandom::getrandom(&mut challenge)
            .map_err(|e| Error::Key(format!("no random host challenge from the operating system: {e}")))?;
        Session::open_with_challenge(tx, keys, params, &challenge)
    }

    /// Opens a secure channel with the given host challenge (tests, recorded traces).
    pub fn open_with_challenge(
        tx: &mut dyn CardTransaction,
        keys: &dyn KeyProvider,
        params: HostParams,
        host_challenge: &[u8],
    ) -> Result<Session, Error> {
        let handshake = HostHandshake::new(keys, params, host_challenge)?;
        let answer = apdu::transmit(tx, &handshake.initialize_update())
            .map_err(|source| apdu::Error::transport(INITIALIZE_UPDATE, source))?;
        let auth = handshake.external_authenticate(&answer)?;
        let answer = apdu::transmit(tx, auth.command())
            .map_err(|source| apdu::Error::transport(EXTERNAL_AUTHENTICATE, source))?;
        auth.finish(&answer)
    }

    /// The scheme in use.
    pub fn scheme(&self) -> Scheme {
        self.channel.scheme
    }

    /// The security level in force.
    pub fn level(&self) -> SecurityLevel {
        self.level
    }

    /// The card's INITIALIZE UPDATE answer (KDD, key version, counter, challenge).
    pub fn card_info(&self) -> &InitUpdateAnswer {
        &self.info
    }

    /// Protects a command at the session's level.
    pub fn wrap(&mut self, cmd: &Command) -> Result<Command, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.last_ins = cmd.ins;
        self.channel.wrap(cmd)
    }

    /// Checks the R-MAC (and decrypts, with R-ENC) of the answer to the last wrapped command.
    /// A bad R-MAC closes the session.
    pub fn unwrap(&mut self, resp: &Response) -> Result<Response, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        let step = format!("answer to INS {:02X}", self.last_ins);
        let out = self.channel.unwrap_response(resp, &step);
        if matches!(out, Err(Error::Mac { .. }) | Err(Error::Card(apdu::Error::Protocol { .. }))) {
            self.closed = true;
        }
        out
    }

    /// Wraps, sends through the APDU layer, unwraps. Status words are the caller's to judge.
    ///
    /// Keep protected command data within one short APDU (255 bytes with MAC and padding):
    /// the APDU layer would otherwise chain it, which GlobalPlatform secure messaging does
    /// not cover. A `6Cxx` re-send by the APDU layer repeats the MAC'd command, which the
    /// card refuses as a replay: give protected commands the right Le (or 256).
    pub fn transmit(
        &mut self,
        tx: &mut dyn CardTransaction,
        cmd: &Command,
        step: &str,
    ) -> Result<Response, Error> {
        let wrapped = self.wrap(cmd)?;
        let answer = apdu::transmit(tx, &wrapped).map_err(|source| apdu::Error::transport(step, source))?;
        self.unwrap(&answer).map_err(|e| match e {
            Error::Mac { sw, .. } => Error::Mac { step: step.to_string(), sw },
            Error::Card(apdu::Error::Protocol { message, .. }) => Error::protocol(step, message),
            other => other,
        })
    }

    /// [`Session::transmit`], and the answer data when the status word is 9000.
    pub fn expect_ok(
        &mut self,
        tx: &mut dyn CardTransaction,
        cmd: &Command,
        step: &str,
    ) -> Result<Vec<u8>, Error> {
        let r = self.transmit(tx, cmd, step)?;
        match r.sw {
            StatusWord::Success => Ok(r.data),
            sw => Err(apdu::Error::status(step, sw).into()),
        }
    }

    /// Encrypts key-sensitive data (whole blocks, padded by the caller as the data's format
    /// says): 3DES-ECB with S-DEK under SCP02, CBC with ICV 0 under Key-DEK in the SCP03 shape.
    pub fn encrypt_sensitive(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        crate::put_key::encrypt_sensitive(&self.channel.keys.dek, data)
    }

    /// PUT KEY replacing key version `old_kvn` (0 adds a new set) with `new_keys`, wrapped
    /// under this session's DEK. Send it with [`Session::transmit`], then check the answer
    /// with [`put_key::check_answer`].
    pub fn put_key(&self, old_kvn: u8, new_keys: &KeySet) -> Result<Command, Error> {
        put_key::command(&self.channel.keys.dek, old_kvn, new_keys)
    }
}
