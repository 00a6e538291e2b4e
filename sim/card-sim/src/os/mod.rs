//! The card OS: an ISO 7816-4 file system built from a firmware profile, with security
//! status, life cycles and command chaining. One command in, one answer out; no I/O except
//! saving the persistent state.
//!
//! Dispatch: the application handler of the selected application (if one is registered for
//! its kind) sees every command first; what it declines goes to the ISO 7816-4 core here.
//!
//! Personalisation: while the card is in `creation` or `initialisation` state, access
//! conditions are not enforced (the personalisation bureau writes freely). ACTIVATE FILE on
//! the MF moves the card to `operational`; from then on every access condition applies.

mod data;
mod lifecycle;
mod security;
mod select;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use apdu::{Command, Response, StatusWord};
use firmware_profile::{
    AccessCondition, Application, ApplicationKind, CardLifeCycle, FileLifeCycle, FilePath, FileSpec, Profile,
};
use tracing::error;

use crate::state::{CardState, Factory};
use crate::SimError;

/// Most data a command chain may accumulate.
const MAX_CHAIN_DATA: usize = 65_535;

/// A command for the applications of one kind, tried before the ISO 7816-4 core while such
/// an application is selected. PSAM (BF DE, 80 FA), GlobalPlatform and EMV handlers plug in
/// here without touching the core.
pub trait ApplicationHandler: Send {
    /// Handles `cmd`, or returns `None` to leave it to the ISO 7816-4 core. `card` gives the
    /// profile, the selection, key values and the security state.
    fn handle(&mut self, card: &mut CardOs, cmd: &Command) -> Option<Response>;

    /// The answer to SELECT by AID of an application of this kind that has no DF (a
    /// GlobalPlatform security domain, a PSE, an EMV application): its FCI, or a refusal
    /// (the selection is then undone). `None` keeps the core's `6F { 84 AID }`.
    fn select(&mut self, card: &mut CardOs, aid: &[u8]) -> Option<Response> {
        let _ = (card, aid);
        None
    }
}

/// What was granted in the current DF: cleared whenever another DF becomes current.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Granted {
    Key(FilePath, u8),
    Pin(FilePath, u8),
}

/// A command chain being accumulated (CLA b5).
#[derive(Debug)]
struct Chain {
    header: [u8; 4],
    data: Vec<u8>,
}

/// What the card forgets at power on and reset.
#[derive(Debug)]
struct Volatile {
    current_df: FilePath,
    current_ef: Option<FilePath>,
    record_pointer: Option<u8>,
    /// A DF-less application selected by AID (handled by its application handler).
    selected_app: Option<usize>,
    granted: BTreeSet<Granted>,
    challenge: Option<Vec<u8>>,
    chain: Option<Chain>,
}

impl Default for Volatile {
    fn default() -> Volatile {
        Volatile {
            current_df: FilePath::mf(),
            current_ef: None,
            record_pointer: None,
            selected_app: None,
            granted: BTreeSet::new(),
            challenge: None,
            chain: None,
        }
    }
}

/// One command's outcome before the transport layer decides how to deliver it (T=0 61xx,
/// 6Cxx, Le trimming).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The full answer the card has.
    pub response: Response,
    /// Le of the command (`None`: no data may be returned).
    pub le: Option<usize>,
    /// Whether the command came in extended form.
    pub extended: bool,
}

impl Executed {
    /// Delivery by a card without quirks: no data when the command had no Le, at most Le bytes.
    pub(crate) fn delivered_plain(self) -> Response {
        let mut r = self.response;
        match self.le {
            None => r.data.clear(),
            Some(le) => r.data.truncate(le),
        }
        r
    }
}

type HandlerSlot = (ApplicationKind, Option<Box<dyn ApplicationHandler>>);

/// A simulated card OS.
pub struct CardOs {
    profile: Arc<Profile>,
    state: CardState,
    store: Option<PathBuf>,
    dirty: bool,
    vol: Volatile,
    handlers: Vec<HandlerSlot>,
    rng: u64,
    power_ups: u64,
}

impl std::fmt::Debug for CardOs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardOs")
            .field("profile", &self.profile.id)
            .field("card_lifecycle", &self.state.card_lifecycle)
            .field("store", &self.store)
            .field("current_df", &self.vol.current_df.to_string())
            .finish_non_exhaustive()
    }
}

/// Whether the command bytes use the extended length form.
fn is_extended_form(raw: &[u8]) -> bool {
    raw.len() >= 7 && raw[4] == 0
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
    );
    h.finish() | 1
}

impl CardOs {
    /// A fresh card from `profile`, kept in memory only.
    pub fn new(profile: Arc<Profile>) -> CardOs {
        CardOs::manufacture(profile, &Factory::default())
    }

    /// A fresh card from `profile` as `factory` made it, kept in memory only.
    pub fn manufacture(profile: Arc<Profile>, factory: &Factory) -> CardOs {
        let state = CardState::from_profile(&profile, factory);
        CardOs {
            profile,
            state,
            store: None,
            dirty: false,
            vol: Volatile::default(),
            handlers: Vec::new(),
            rng: seed(),
            power_ups: 0,
        }
    }

    /// The card whose state lives in `state_file`: loaded when the file exists (it must have
    /// been made from the same profile), else built from the profile and saved there.
    pub fn open(profile: Arc<Profile>, state_file: impl Into<PathBuf>) -> Result<CardOs, SimError> {
        CardOs::open_manufactured(profile, &Factory::default(), state_file)
    }

    /// [`CardOs::open`], with `factory` making the card when the state file does not exist yet.
    pub fn open_manufactured(
        profile: Arc<Profile>,
        factory: &Factory,
        state_file: impl Into<PathBuf>,
    ) -> Result<CardOs, SimError> {
        let path = state_file.into();
        let state = CardState::load_or_new(&profile, factory, &path)?;
        state.save(&path)?;
        Ok(CardOs {
            profile,
            state,
            store: Some(path),
            dirty: false,
            vol: Volatile::default(),
            handlers: Vec::new(),
            rng: seed(),
            power_ups: 0,
        })
    }

    /// Registers the handler for applications of `kind` (replacing an earlier one).
    pub fn register_handler(&mut self, kind: ApplicationKind, handler: Box<dyn ApplicationHandler>) {
        self.handlers.retain(|(k, _)| *k != kind);
        self.handlers.push((kind, Some(handler)));
    }

    /// The profile this card was built from.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The answer to reset.
    pub fn atr(&self) -> &[u8] {
        self.profile.atr.as_bytes()
    }

    /// Power on or warm reset: the MF is selected, security state, challenge and any chain
    /// are gone.
    pub fn reset(&mut self) {
        self.vol = Volatile::default();
        self.power_ups += 1;
    }

    /// How many times the card was powered on or reset: handlers keep RAM state per power-up.
    pub fn power_ups(&self) -> u64 {
        self.power_ups
    }

    /// The card's life-cycle state.
    pub fn card_lifecycle(&self) -> CardLifeCycle {
        self.state.card_lifecycle
    }

    /// A file's life-cycle state.
    pub fn file_lifecycle(&self, path: &FilePath) -> Option<FileLifeCycle> {
        self.state.file(path).map(|f| f.lifecycle)
    }

    /// A transparent EF's content.
    pub fn binary(&self, path: &FilePath) -> Option<&[u8]> {
        self.state.file(path)?.data.as_ref().map(|h| &h.0[..])
    }

    /// Record `number` of a record EF.
    pub fn record(&self, path: &FilePath, number: u8) -> Option<&[u8]> {
        self.state.file(path)?.records.as_ref()?.get(&number).map(|h| &h.0[..])
    }

    /// Tries left for key `id` of DF `df` (PSAM keys with their usage code).
    pub fn key_tries(&self, df: &FilePath, id: u8, usage_code: Option<u8>) -> Option<u8> {
        self.state.key_tries.get(&crate::state::secret_ref(df, id, usage_code)).copied()
    }

    /// The value of key `id` of DF `df` (PSAM keys with their usage code): loaded at
    /// manufacture, else the profile's `sim.key`.
    pub fn key_value(&self, df: &FilePath, id: u8, usage_code: Option<u8>) -> Option<&[u8]> {
        let r = crate::state::secret_ref(df, id, usage_code);
        match self.state.keys.get(&r) {
            Some(v) => Some(&v.0),
            None => self
                .profile
                .sim
                .keys
                .iter()
                .find(|k| &k.df == df && k.id == id && k.usage_code == usage_code)
                .map(|k| &k.value[..]),
        }
    }

    /// Tries left for PIN `id` of DF `df`.
    pub fn pin_tries(&self, df: &FilePath, id: u8) -> Option<u8> {
        self.state.pin_tries.get(&crate::state::secret_ref(df, id, None)).copied()
    }

    /// The current DF.
    pub fn current_df(&self) -> &FilePath {
        &self.vol.current_df
    }

    /// The current EF, if any.
    pub fn current_ef(&self) -> Option<&FilePath> {
        self.vol.current_ef.as_ref()
    }

    /// The selected application: the one chosen by AID without a DF, else the innermost one
    /// whose DF contains the current DF.
    pub fn selected_application(&self) -> Option<&Application> {
        if let Some(i) = self.vol.selected_app {
            return self.profile.applications.get(i);
        }
        self.profile
            .applications
            .iter()
            .filter(|a| a.df.as_ref().is_some_and(|df| self.vol.current_df.starts_with(df)))
            .max_by_key(|a| a.df.as_ref().map_or(0, |d| d.fids().len()))
    }

    /// A copy of the card's persistent memory, to keep it as a state file
    /// ([`crate::CardImage::keep`]).
    pub fn image(&self) -> crate::CardImage {
        crate::CardImage(self.state.clone())
    }

    /// The persistent data of the security domain and the applications it personalised.
    pub(crate) fn emv_state(&self) -> &crate::state::EmvState {
        &self.state.emv
    }

    /// The same, to change: the state is saved after the command.
    pub(crate) fn emv_state_mut(&mut self) -> &mut crate::state::EmvState {
        self.dirty = true;
        &mut self.state.emv
    }

    /// The last challenge (GET CHALLENGE), for handlers that authenticate.
    pub fn challenge(&self) -> Option<&[u8]> {
        self.vol.challenge.as_deref()
    }

    /// Executes one command APDU and returns the answer (data || SW1 SW2), delivered as a
    /// card without transport quirks does: no data without Le, at most Le bytes.
    pub fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        let ex = self.execute(raw);
        ex.delivered_plain().to_bytes()
    }

    /// Executes one command APDU; the answer is not yet trimmed to Le. Saves the persistent
    /// state when the command changed it (a failed save answers 6581).
    pub fn execute(&mut self, raw: &[u8]) -> Executed {
        let extended = is_extended_form(raw);
        let (response, le) = match Command::parse(raw) {
            Err(_) => (Response::status(StatusWord::WrongLength), None),
            Ok(cmd) => {
                let le = cmd.le;
                (self.dispatch(cmd, extended), le)
            }
        };
        let response =
            if self.dirty { self.persist().map_or_else(Response::status, |()| response) } else { response };
        Executed { response, le, extended }
    }

    fn persist(&mut self) -> Result<(), StatusWord> {
        self.dirty = false;
        let Some(path) = &self.store else { return Ok(()) };
        self.state.save(path).map_err(|e| {
            error!(error = %e, "card state not saved: answering 6581 memory failure");
            StatusWord::MemoryFailure
        })
    }

    fn dispatch(&mut self, cmd: Command, extended: bool) -> Response {
        if extended && !self.profile.capabilities.extended_length {
            return Response::status(StatusWord::WrongLength);
        }
        if cmd.cla == 0xFF {
            return Response::status(StatusWord::ClaNotSupported);
        }
        let cmd = match self.chain(cmd) {
            Ok(cmd) => cmd,
            Err(r) => return r,
        };
        if self.state.card_lifecycle == CardLifeCycle::Terminated && cmd.ins != 0xA4 {
            return Response::status(StatusWord::ConditionsNotSatisfied);
        }
        if let Some(r) = self.try_handler(&cmd) {
            return r;
        }
        // The ISO core speaks the first interindustry class only: channel 0, no SM.
        if cmd.cla & 0xE0 != 0 {
            return Response::status(StatusWord::ClaNotSupported);
        }
        if cmd.cla & 0x03 != 0 {
            return Response::status(StatusWord::LogicalChannelNotSupported);
        }
        if cmd.cla & 0x0C != 0 {
            return Response::status(StatusWord::SecureMessagingNotSupported);
        }
        let r = match cmd.ins {
            0xA4 => self.select(&cmd),
            0xB0 => self.read_binary(&cmd),
            0xD6 => self.update_binary(&cmd),
            0xB2 => self.read_record(&cmd),
            0xDC => self.update_record(&cmd),
            0xE2 => self.append_record(&cmd),
            0x84 => self.get_challenge(&cmd),
            0x82 => self.external_authenticate(&cmd),
            0x20 => self.verify(&cmd),
            0x04 | 0x44 | 0xE6 | 0xE8 => self.file_lifecycle_command(&cmd),
            0xFE => self.terminate_card_usage(&cmd),
            // GET RESPONSE with nothing waiting (the T=0 fault layer serves the real ones).
            0xC0 => Err(StatusWord::ConditionsNotSatisfied),
            _ => Err(StatusWord::InsNotSupported),
        };
        r.unwrap_or_else(Response::status)
    }

    /// Command chaining (ISO 7816-4 5.3.3): links are answered 9000 and kept; the last link
    /// runs the command on all the data. A chain interrupted by another command is dropped
    /// with 6883.
    fn chain(&mut self, mut cmd: Command) -> Result<Command, Response> {
        let header = [cmd.cla & !0x10, cmd.ins, cmd.p1, cmd.p2];
        if let Some(chain) = self.vol.chain.take() {
            if chain.header != header {
                return Err(Response::status(StatusWord::LastCommandOfChainExpected));
            }
            let mut data = chain.data;
            data.extend_from_slice(&cmd.data);
            if data.len() > MAX_CHAIN_DATA {
                return Err(Response::status(StatusWord::WrongLength));
            }
            cmd.data = data;
        }
        if !cmd.is_chained() {
            return Ok(cmd);
        }
        if !matches!(cmd.ins, 0xD6 | 0xDC | 0xE2) {
            return Err(Response::status(StatusWord::ChainingNotSupported));
        }
        self.vol.chain = Some(Chain { header, data: cmd.data });
        Err(Response::status(StatusWord::Success))
    }

    fn try_handler(&mut self, cmd: &Command) -> Option<Response> {
        let kind = self.selected_application()?.kind;
        let slot = self.handlers.iter().position(|(k, _)| *k == kind)?;
        let mut handler = self.handlers[slot].1.take()?;
        let r = handler.handle(self, cmd);
        self.handlers[slot].1 = Some(handler);
        r
    }

    // --- helpers shared by the command groups ---

    fn spec(&self, path: &FilePath) -> Result<&FileSpec, StatusWord> {
        self.profile.file(path).ok_or(StatusWord::FileNotFound)
    }

    /// A file can be used when it and every DF above it are activated (and the card is not
    /// terminated).
    fn usable(&self, path: &FilePath) -> Result<(), StatusWord> {
        let mut at = Some(path.clone());
        while let Some(p) = at {
            if self.file_lifecycle(&p) != Some(FileLifeCycle::Activated) {
                return Err(StatusWord::ConditionsNotSatisfied);
            }
            at = p.parent();
        }
        Ok(())
    }

    /// Checks an access condition of `file` against the security state of the current DF.
    fn allowed(&self, file: &FileSpec, condition: AccessCondition) -> Result<(), StatusWord> {
        if self.state.card_lifecycle.is_personalisation() {
            return Ok(());
        }
        let df = file.security_df();
        let granted = match condition {
            AccessCondition::Always => true,
            AccessCondition::Never => false,
            AccessCondition::Key(id) => self
                .profile
                .find_key(&df, id)
                .is_some_and(|k| self.vol.granted.contains(&Granted::Key(k.df.clone(), id))),
            AccessCondition::Pin(id) => self
                .profile
                .find_pin(&df, id)
                .is_some_and(|p| self.vol.granted.contains(&Granted::Pin(p.df.clone(), id))),
        };
        if granted {
            Ok(())
        } else {
            Err(StatusWord::SecurityStatusNotSatisfied)
        }
    }

    /// Makes `df` the current DF; the security state belongs to the DF and goes with it.
    fn set_current_df(&mut self, df: FilePath) {
        if self.vol.current_df != df {
            self.vol.granted.clear();
            self.vol.current_df = df;
        }
        self.vol.selected_app = None;
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: plenty for challenges of a test card.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
pub(crate) mod tests;
