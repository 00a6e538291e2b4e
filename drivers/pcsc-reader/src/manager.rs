//! The reader manager: one PC/SC context, re-established whenever pcscd went away.

use std::collections::VecDeque;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use card_transport::{Card, ReaderInfo, ReaderManager, TransportError};
use pcsc::{Context, ReaderState, Scope, State};
use tracing::{debug, info, warn};

use crate::card::PcscCard;
use crate::error::{describe_pcsc, is_service_lost, map_pcsc_error, Error};
use crate::events::ReaderEvent;
use crate::rules::ReaderRules;
use crate::selector::Selector;

/// What the manager shares with its [`Canceller`]s: the live context (so a cancel reaches
/// the context a wait is blocked in) and a flag that a cancel was asked for.
#[derive(Default)]
pub(crate) struct Shared {
    context: Mutex<Option<Context>>,
    pub(crate) cancel_requested: AtomicBool,
}

impl Shared {
    fn set(&self, context: Option<Context>) {
        *self.context.lock().unwrap_or_else(PoisonError::into_inner) = context;
    }
}

/// Cancels a blocking wait of a [`PcscManager`] from another thread.
///
/// Cloneable and `Send`. A cancel is sticky: one that arrives while no wait is running ends
/// the next wait at once (as [`ReaderEvent::Cancelled`]) instead of being lost. PC/SC leaves
/// one window open: a cancel between a wait's check of the flag and pcscd starting to block
/// only takes effect at the next wait; call `cancel` again if the wait goes on.
#[derive(Clone)]
pub struct Canceller {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canceller").finish_non_exhaustive()
    }
}

impl Canceller {
    /// Ends the manager's current (or next) wait with [`ReaderEvent::Cancelled`].
    pub fn cancel(&self) {
        self.shared.cancel_requested.store(true, Ordering::SeqCst);
        let context = self.shared.context.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(context) = context {
            if let Err(e) = context.cancel() {
                debug!(error = %describe_pcsc(e), "SCardCancel failed");
            }
        }
    }
}

/// The PC/SC reader manager.
///
/// Holds one context to pcscd. When a call finds the service gone (pcscd stopped or
/// restarted) it reports [`TransportError::ServiceUnavailable`] and drops the context; the
/// next call establishes a new one, so the station recovers without being restarted.
pub struct PcscManager {
    rules: ReaderRules,
    context: Option<Context>,
    shared: Arc<Shared>,
    /// The reader list at the last look, to tell what a PnP notification changed.
    pub(crate) known_readers: Option<Vec<String>>,
    /// Reader events found together, handed out one per call.
    pub(crate) pending: VecDeque<ReaderEvent>,
}

impl std::fmt::Debug for PcscManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscManager")
            .field("connected", &self.context.is_some())
            .field("known_readers", &self.known_readers)
            .finish_non_exhaustive()
    }
}

/// Shortest and longest pause between attempts in [`PcscManager::wait_for_service`].
const SERVICE_RETRY_FIRST: Duration = Duration::from_millis(20);
const SERVICE_RETRY_MAX: Duration = Duration::from_millis(250);

impl PcscManager {
    /// Connects to pcscd with the default reader rules.
    pub fn new() -> Result<PcscManager, TransportError> {
        PcscManager::with_rules(ReaderRules::defaults())
    }

    /// Connects to pcscd with the given rules. Fails when pcscd is not running; use
    /// [`PcscManager::unconnected`] and [`PcscManager::wait_for_service`] to start first and
    /// wait for the service.
    pub fn with_rules(rules: ReaderRules) -> Result<PcscManager, TransportError> {
        let mut manager = PcscManager::unconnected(rules);
        manager.context()?;
        Ok(manager)
    }

    /// A manager that connects to pcscd on first use.
    pub fn unconnected(rules: ReaderRules) -> PcscManager {
        PcscManager {
            rules,
            context: None,
            shared: Arc::new(Shared::default()),
            known_readers: None,
            pending: VecDeque::new(),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The reader rules in use.
    pub fn rules(&self) -> &ReaderRules {
        &self.rules
    }

    /// A handle that cancels this manager's blocking waits from another thread.
    pub fn canceller(&self) -> Canceller {
        Canceller { shared: Arc::clone(&self.shared) }
    }

    /// True when the manager currently holds a context (it may still turn out to be stale).
    pub fn is_connected(&self) -> bool {
        self.context.is_some()
    }

    /// The live context, established if there is none.
    pub(crate) fn context(&mut self) -> Result<Context, TransportError> {
        if let Some(c) = &self.context {
            return Ok(c.clone());
        }
        let context = Context::establish(Scope::User).map_err(|e| map_pcsc_error(e, "", 0))?;
        info!("connected to the PC/SC service");
        self.shared.set(Some(context.clone()));
        self.context = Some(context.clone());
        Ok(context)
    }

    /// Maps `err`, and forgets the context when it means the service is gone, so the next
    /// call starts with a fresh one.
    pub(crate) fn fail(&mut self, err: pcsc::Error, reader: &str, elapsed_ms: u64) -> TransportError {
        if is_service_lost(err) && self.context.take().is_some() {
            warn!(error = %describe_pcsc(err), "lost the PC/SC service; reconnecting on the next call");
            self.shared.set(None);
        }
        map_pcsc_error(err, reader, elapsed_ms)
    }

    /// Waits until pcscd accepts a context, for at most `timeout`.
    ///
    /// This is the one place that waits by retrying: PC/SC has no way to be notified that
    /// the service started (every notification needs a context, and a context needs the
    /// service), so we try again after a short pause that doubles from 20 ms to 250 ms. The
    /// pause bounds the reaction time after pcscd comes up; an attempt costs one failed
    /// `connect()` on the socket.
    pub fn wait_for_service(&mut self, timeout: Duration) -> Result<(), TransportError> {
        let deadline = Instant::now() + timeout;
        let mut pause = SERVICE_RETRY_FIRST;
        loop {
            // A context that survives from before a restart must be checked for real: list
            // the readers (cheap) and drop it when it is stale.
            let attempt = self.context().and_then(|c| match c.list_readers_len() {
                Ok(_) | Err(pcsc::Error::NoReadersAvailable) => Ok(()),
                Err(e) => Err(self.fail(e, "", 0)),
            });
            match attempt {
                Ok(()) => return Ok(()),
                Err(TransportError::ServiceUnavailable(why)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(TransportError::ServiceUnavailable(why));
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(SERVICE_RETRY_MAX);
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// The reader names, in the stack's order; none is not an error.
    pub(crate) fn reader_names(&mut self) -> Result<Vec<String>, TransportError> {
        let context = self.context()?;
        match context.list_readers_owned() {
            Ok(names) => Ok(names.iter().map(|n| n.to_string_lossy().into_owned()).collect()),
            Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(self.fail(e, "", 0)),
        }
    }

    /// Every reader with its kind and whether a card is present. One non-blocking
    /// `SCardGetStatusChange` gives the presence of all readers at once.
    fn readers(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        let names = self.reader_names()?;
        self.known_readers = Some(names.clone());
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let context = self.context()?;
        let mut states = names
            .iter()
            .filter_map(|n| CString::new(n.as_str()).ok())
            .map(|n| ReaderState::new(n, State::UNAWARE))
            .collect::<Vec<_>>();
        match context.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            // A reader vanished between the two calls: report the list without it.
            Err(pcsc::Error::UnknownReader) => {}
            Err(e) => return Err(self.fail(e, "", 0)),
        }
        Ok(states
            .iter()
            .filter(|s| !s.event_state().intersects(State::UNKNOWN | State::IGNORE))
            .map(|s| {
                let name = s.name().to_string_lossy().into_owned();
                let present = s.event_state().contains(State::PRESENT);
                ReaderInfo { kind: self.rules.classify(&name), name, card_present: present }
            })
            .collect())
    }

    /// The reader `selector` names (see [`crate::Selector`]).
    pub fn resolve(&mut self, selector: &str) -> Result<ReaderInfo, Error> {
        let selector: Selector = selector.parse()?;
        let readers = self.readers()?;
        selector.resolve(&readers)
    }

    /// Connects to the card in the reader `selector` names: an exact name, `kind:contact`,
    /// `kind:contactless`, `kind:sam`, or `#N`.
    pub fn open(&mut self, selector: &str) -> Result<PcscCard, Error> {
        let reader = self.resolve(selector)?;
        let context = self.context()?;
        let handling = self.rules.handling(&reader.name);
        match PcscCard::connect(context, reader, handling) {
            Ok(card) => Ok(card),
            Err(TransportError::ServiceUnavailable(why)) => {
                // The card connection found the service gone: so is our context.
                self.context = None;
                self.shared.set(None);
                Err(TransportError::ServiceUnavailable(why).into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl ReaderManager for PcscManager {
    fn list_readers(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        self.readers()
    }

    /// `reader` is a selector: an exact reader name works, and so do `kind:sam` and `#0`.
    fn connect(&mut self, reader: &str) -> Result<Box<dyn Card>, TransportError> {
        Ok(Box::new(self.open(reader)?))
    }

    fn wait_for_atr(
        &mut self,
        reader: &str,
        after: Option<u64>,
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let event = match after {
            Some(events) => self.wait_for_card_since(reader, events, Some(timeout))?,
            None => self.wait_for_card(reader, Some(timeout))?,
        };
        match event {
            ReaderEvent::CardInserted { atr, .. } => Ok(atr),
            ReaderEvent::ReaderRemoved { .. } => Err(TransportError::ReaderUnavailable(reader.to_string())),
            ReaderEvent::Cancelled => {
                Err(TransportError::Other(format!("the wait for a card in {reader} was cancelled")))
            }
            _ => Err(TransportError::NoCard(reader.to_string())),
        }
    }

    fn card_events(&mut self, reader: &str) -> Result<u64, TransportError> {
        PcscManager::card_events(self, reader)
    }
}
