//! The card simulator: a card OS built from a firmware profile, with persistent state and
//! fault injection, reachable in-process (the card-transport traits) or through the real
//! PC/SC stack (as a vpcd client).
//!
//! - [`CardOs`]: ISO 7816-4 file system built from a [`firmware_profile::Profile`]; SELECT
//!   (A4: P1 00/01/02/03/04/08/09, P2 FCI/FCP/FMD/none), READ/UPDATE BINARY (B0/D6, SFI,
//!   15-bit offsets, extended length), READ/UPDATE/APPEND RECORD (B2/DC/E2, by number or
//!   record identifier, SFI), GET CHALLENGE (84), EXTERNAL AUTHENTICATE (82, 3DES/SM4),
//!   VERIFY (20), DEACTIVATE/ACTIVATE FILE (04/44), TERMINATE DF/EF (E6/E8), TERMINATE CARD
//!   USAGE (FE), command chaining for D6/DC/E2; [`ApplicationHandler`]s for application
//!   commands: the [`PsamHandler`] (BF DE, 80 FA), the GlobalPlatform issuer security domain
//!   ([`IsdHandler`]: secure channel, INSTALL [for personalization], STORE DATA of EMV CPS
//!   DGIs) and the PBOC debit application with its PSE and PPSE ([`emv_handlers`]).
//! - [`factory_for`]: the card as the factory makes it, keys diversified from the PSAM's.
//! - [`CardImage`]: a copy of a card's persistent memory (both applications), kept as a state
//!   file that [`SimConfig::state`] plugs in again: the simulated counter keeps the cards it
//!   makes this way.
//! - [`SimCard`]: the card in a slot, with [`Faults`]; shared as a [`SharedCard`].
//! - [`start_contactless`]: the card on a contactless reader (ISO 14443-4 ATR of PC/SC part 3,
//!   the EMV applications answering as contactless).
//! - [`SimReaders`] / [`SimConnection`]: the in-process transport (`sim 0`, `sim 1`, ...).
//! - [`vpcd::spawn`] / [`VpcdHandle`]: the vpcd client on its own thread.
//! - [`run`] / [`start`]: what `station sim card` calls.
#![forbid(unsafe_code)]
#[cfg(not(debug_assertions))]
compile_error!(
    "the card simulator is for tests and development only: it must never be built into a release binary"
);

mod contactless;
mod factory;
mod faults;
mod gp;
mod os;
mod pboc;
mod psam;
mod sim;
mod state;
mod transport;
pub mod vpcd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use contactless::{build_contactless_card, contactless_atr, start_contactless};
pub use factory::factory_for;
pub use faults::{Faults, FaultsError};
pub use gp::{kdd_of, IsdConfig, IsdHandler};
pub use os::{ApplicationHandler, CardOs, Executed};
pub use pboc::{application_cryptogram, emv_handlers, EmvHandler, Interface};
pub use psam::PsamHandler;
pub use sim::{lock, Answer, SharedCard, SimCard};
pub use state::{CardImage, Factory};
pub use transport::{SimConnection, SimReaders};
pub use vpcd::{spawn, VpcdHandle};

/// vpcd's port for the user card (reader "Virtual PCD 00 00").
pub const DEFAULT_USER_CARD_ADDR: &str = "127.0.0.1:35963";
/// vpcd's port for the PSAM (reader "Virtual PCD 00 01").
pub const DEFAULT_PSAM_ADDR: &str = "127.0.0.1:35964";

/// Why the simulator could not start or keep its state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The firmware profile is missing or invalid.
    #[error(transparent)]
    Profile(#[from] firmware_profile::ProfileError),
    /// The state file could not be read or written.
    #[error("card state file {path}: {source}")]
    StateIo {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not a card state.
    #[error("card state file {path} is damaged ({message}): move it away to start with a fresh card")]
    StateParse {
        /// The state file.
        path: PathBuf,
        /// What the JSON parser said.
        message: String,
    },
    /// The state file belongs to a card of another profile.
    #[error("card state file {path} holds a {state:?} card, not {profile:?}: use another state file")]
    StateMismatch {
        /// The state file.
        path: PathBuf,
        /// Profile id in the state file.
        state: String,
        /// Profile id asked for.
        profile: String,
    },
    /// The card's keys could not be made from the PSAM's master keys.
    #[error("{profile}: cannot derive the card keys from PSAM profile {psam}: {message}")]
    Derive {
        /// The card profile.
        profile: String,
        /// The PSAM profile.
        psam: String,
        /// What is missing.
        message: String,
    },
    /// The profile's issuer security domain cannot be set up.
    #[error("{profile}: issuer security domain: {message}")]
    Isd {
        /// The card profile.
        profile: String,
        /// What is missing or wrong.
        message: String,
    },
    /// The vpcd client thread could not start.
    #[error("vpcd client thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// What `station sim card` asks for.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The firmware profile (e.g. `firmware-profiles/ssc-3g-sim.toml`).
    pub profile: PathBuf,
    /// The card's state file: loaded when it exists (a card kept by [`CardImage::keep`] is
    /// plugged in as it was made), else created. `None`: a fresh card that forgets everything
    /// when the process ends.
    pub state: Option<PathBuf>,
    /// Faults to inject from the start.
    pub faults: Faults,
    /// Where vpcd listens ([`DEFAULT_USER_CARD_ADDR`] or [`DEFAULT_PSAM_ADDR`]).
    pub vpcd: SocketAddr,
    /// A blank card: the files exist, the profile's test content is not written. Applies when
    /// the state file is created; an existing one keeps its card.
    pub blank: bool,
}

/// Builds the card `config` describes (not yet connected anywhere).
pub fn build_card(config: &SimConfig) -> Result<SharedCard, SimError> {
    let profile = Arc::new(firmware_profile::Profile::load(&config.profile)?);
    let mut factory = factory_for(&profile, &config.profile)?;
    factory.blank = config.blank;
    let mut os = match &config.state {
        Some(path) => CardOs::open_manufactured(profile.clone(), &factory, path)?,
        None => CardOs::manufacture(profile.clone(), &factory),
    };
    if profile.applications.iter().any(|a| a.kind == firmware_profile::ApplicationKind::Psam) {
        os.register_handler(firmware_profile::ApplicationKind::Psam, Box::<PsamHandler>::default());
    }
    register_financial(&mut os, Interface::Auto)?;
    Ok(SimCard::new(os).shared())
}

/// Registers the security domain (keyed as the profile's `[isd]` says) and the EMV handlers
/// for the applications the card's profile has (none: nothing changes). Called again, it
/// replaces them: a card on a contactless reader registers [`Interface::Contactless`].
pub fn register_financial(os: &mut CardOs, interface: Interface) -> Result<(), SimError> {
    use firmware_profile::ApplicationKind;
    let kinds: Vec<ApplicationKind> = os.profile().applications.iter().map(|a| a.kind).collect();
    let has = |kind| kinds.contains(&kind);
    if has(ApplicationKind::Isd) {
        let isd = IsdConfig::from_profile(os.profile())
            .map_err(|e| SimError::Isd { profile: os.profile().id.clone(), message: e.to_string() })?;
        os.register_handler(ApplicationKind::Isd, Box::new(IsdHandler::new(isd)));
    }
    for (kind, handler) in emv_handlers(interface) {
        if has(kind) {
            os.register_handler(kind, handler);
        }
    }
    Ok(())
}

/// Builds the card and connects it to vpcd on a thread; returns at once.
pub fn start(config: &SimConfig) -> Result<VpcdHandle, SimError> {
    let card = build_card(config)?;
    tracing::info!(
        profile = %config.profile.display(),
        state = ?config.state,
        vpcd = %config.vpcd,
        faults = %config.faults,
        "card simulator started"
    );
    Ok(spawn(card, config.vpcd, config.faults.clone())?)
}

/// Runs the simulated card until the process ends (the state is saved after every APDU
/// that changes it, so ending the process any time is safe).
pub fn run(config: SimConfig) -> Result<(), SimError> {
    start(&config)?.wait();
    Ok(())
}
