//! The simulated printer shared by every link (pty, TCP connections, in-memory transports),
//! and the per-link session that turns bytes into requests and outcomes.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use evolis::codec::{encode_reply, ParseError, RequestParser};

use crate::face::PrintedFace;
use crate::faults::Injection;
use crate::model::{Model, ModelConfig, PrinterState};

/// A simulated printer; clones share one printer.
#[derive(Debug, Clone)]
pub struct SimPrinter {
    model: Arc<Mutex<Model>>,
}

impl SimPrinter {
    /// A printer in the configured initial state.
    pub fn new(config: ModelConfig) -> Self {
        Self { model: Arc::new(Mutex::new(Model::new(config))) }
    }

    /// The model, locked; a panicked holder does not poison the simulator for the others.
    pub fn lock(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the state.
    pub fn state(&self) -> PrinterState {
        self.lock().state.clone()
    }

    /// Injects a fault, now or at a later request.
    pub fn inject(&self, injection: Injection) {
        self.lock().inject(injection);
    }

    /// The faces printed so far (decoded panels, PNG paths).
    pub fn faces(&self) -> Vec<PrintedFace> {
        self.lock().faces().to_vec()
    }
}

/// What a link must do after some bytes came in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Wait `delay`, then send these bytes.
    Reply { bytes: Vec<u8>, delay: std::time::Duration },
    /// Send nothing, and hang up if the link can.
    HangUp,
}

/// One link's parser state.
#[derive(Debug, Default)]
pub(crate) struct Session {
    parser: RequestParser,
    buf: Vec<u8>,
}

impl Session {
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Takes bytes from the host; returns what to do for each whole request in them.
    pub(crate) fn on_bytes(&mut self, sim: &SimPrinter, bytes: &[u8]) -> Vec<Action> {
        self.buf.extend_from_slice(bytes);
        let mut actions = Vec::new();
        loop {
            match self.parser.decode(&mut self.buf) {
                Ok(None) => return actions,
                Ok(Some(request)) => {
                    let outcome = sim.lock().handle(&request, Instant::now());
                    if outcome.hang_up {
                        self.buf.clear();
                        actions.push(Action::HangUp);
                        return actions;
                    }
                    let mut bytes = Vec::new();
                    if let Some(reply) = outcome.reply {
                        encode_reply(&reply, &mut bytes);
                    }
                    actions.push(Action::Reply { bytes, delay: outcome.delay });
                }
                // Bytes between requests are not a command and get no answer.
                Err(ParseError::Junk { .. }) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "unparseable request");
                    let mut bytes = Vec::new();
                    encode_reply("ERROR CDE", &mut bytes);
                    actions.push(Action::Reply { bytes, delay: std::time::Duration::ZERO });
                }
            }
        }
    }
}
