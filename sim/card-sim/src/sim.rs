//! A card in a slot: the card OS plus presence, power, APDU counting and the faults a
//! transport sees (pull, T=0 GET RESPONSE, 6Cxx, corrupt or short answers). Shared between
//! the in-process transport and the vpcd client as a [`SharedCard`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use apdu::{Response, StatusWord, MAX_SHORT_LE};
use card_transport::{redact_command, redact_response};
use tracing::{info, trace};

use crate::os::{CardOs, Executed};
use crate::Faults;

/// A simulated card shared by the transports that reach it.
pub type SharedCard = Arc<Mutex<SimCard>>;

/// Locks a shared card; a panic in another holder does not make the card unusable.
pub fn lock(card: &SharedCard) -> MutexGuard<'_, SimCard> {
    card.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the slot did with an APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The card's answer (data || SW1 SW2; shorter when a fault cut it).
    Reply(Vec<u8>),
    /// The card was pulled when this APDU arrived: no answer, nothing executed.
    Pulled,
    /// There is no card in the slot.
    Absent,
}

/// Data held for GET RESPONSE in T=0 mode.
#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    sw: StatusWord,
}

/// A card in a slot.
#[derive(Debug)]
pub struct SimCard {
    os: CardOs,
    faults: Faults,
    /// APDUs received since the faults were set (the `*-after` faults count these).
    since_faults: u64,
    /// APDUs received since the card was created.
    apdus: u64,
    present: bool,
    /// Insertions and removals so far, as a reader counts its card events.
    events: u64,
    pulled_at: Option<Instant>,
    /// Power-ons and resets so far: a transport compares it to notice a reset.
    resets: u64,
    pending: Option<Pending>,
    /// The ATR the slot reports when it is not the profile's (a contactless reader builds
    /// its own from the card's answer to select).
    slot_atr: Option<Vec<u8>>,
}

/// `61xx` for `n` bytes waiting (00 = 256 or more).
fn bytes_available(n: usize) -> StatusWord {
    StatusWord::BytesAvailable(if n >= MAX_SHORT_LE { 0 } else { n as u8 })
}

impl SimCard {
    /// A card in its slot, without faults.
    pub fn new(os: CardOs) -> SimCard {
        SimCard {
            os,
            faults: Faults::default(),
            since_faults: 0,
            apdus: 0,
            present: true,
            events: 0,
            pulled_at: None,
            resets: 0,
            pending: None,
            slot_atr: None,
        }
    }

    /// Wraps the card for sharing between transports.
    pub fn shared(self) -> SharedCard {
        Arc::new(Mutex::new(self))
    }

    /// The card OS.
    pub fn os(&self) -> &CardOs {
        &self.os
    }

    /// The card OS, to register application handlers or inspect it.
    pub fn os_mut(&mut self) -> &mut CardOs {
        &mut self.os
    }

    /// The faults in force.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Sets the faults and starts counting APDUs for the `*-after` faults from zero.
    pub fn set_faults(&mut self, faults: Faults) {
        info!(%faults, "card faults set");
        self.faults = faults;
        self.since_faults = 0;
    }

    /// APDUs received since the card was created (pulled ones included).
    pub fn apdu_count(&self) -> u64 {
        self.apdus
    }

    /// Power-ons and resets so far.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Whether the card is in the slot (re-inserting it when `reinsert` is due).
    pub fn is_present(&mut self) -> bool {
        if !self.present {
            if let (Some(at), Some(after)) = (self.pulled_at, self.faults.reinsert_after) {
                if at.elapsed() >= after {
                    info!("card re-inserted by the reinsert fault");
                    self.insert();
                }
            }
        }
        self.present
    }

    /// When the card was last removed or pulled.
    pub fn removed_at(&self) -> Option<Instant> {
        self.pulled_at
    }

    /// Takes the card out of the slot.
    pub fn remove(&mut self) {
        if self.present {
            info!("card removed");
            self.events += 1;
        }
        self.present = false;
        self.pulled_at = Some(Instant::now());
        self.os.reset();
        self.pending = None;
    }

    /// Puts the card (back) into the slot, unpowered.
    pub fn insert(&mut self) {
        if !self.present {
            self.events += 1;
        }
        self.present = true;
    }

    /// Insertions and removals so far (the reader's card events).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The answer to reset (as the slot reports it).
    pub fn atr(&self) -> Vec<u8> {
        self.slot_atr.clone().unwrap_or_else(|| self.os.atr().to_vec())
    }

    /// Sets the ATR the slot reports in place of the profile's (see
    /// [`crate::contactless_atr`]).
    pub fn set_slot_atr(&mut self, atr: Vec<u8>) {
        self.slot_atr = Some(atr);
    }

    /// Power on or warm reset: the card OS forgets its volatile state.
    pub fn reset(&mut self) {
        self.os.reset();
        self.pending = None;
        self.resets += 1;
    }

    /// Power off: the volatile state is gone.
    pub fn power_off(&mut self) {
        self.os.reset();
        self.pending = None;
    }

    /// The delay the `slow` fault puts before each answer (the caller sleeps, not holding
    /// the lock).
    pub fn delay(&self) -> Option<Duration> {
        self.faults.slow
    }

    /// True when a `*-after=N` fault is due for the APDU being handled.
    fn due(slot: &mut Option<u64>, nth: u64) -> bool {
        if *slot == Some(nth - 1) {
            *slot = None;
            return true;
        }
        false
    }

    /// Handles one APDU the way a card in a slot would, faults included.
    pub fn transmit(&mut self, apdu: &[u8]) -> Answer {
        if !self.is_present() {
            return Answer::Absent;
        }
        trace!(command = %redact_command(apdu), "card >");
        self.apdus += 1;
        self.since_faults += 1;
        let nth = self.since_faults;
        if SimCard::due(&mut self.faults.pull_after, nth) {
            info!(apdu = nth, "pull fault: card pulled before answering");
            self.remove();
            return Answer::Pulled;
        }
        if SimCard::due(&mut self.faults.fail_after, nth) {
            info!(apdu = nth, "fail fault: 6F00 without executing");
            return Answer::Reply(StatusWord::NoPreciseDiagnosis.to_bytes().to_vec());
        }
        let is_get_response = apdu.len() >= 2 && apdu[1] == 0xC0 && apdu[0] & 0x80 == 0;
        let mut reply = match self.pending.take() {
            Some(pending) if is_get_response => self.get_response(apdu, pending),
            _ => {
                let ex = self.os.execute(apdu);
                self.deliver(ex)
            }
        }
        .to_bytes();
        if SimCard::due(&mut self.faults.corrupt_after, nth) {
            info!(apdu = nth, "corrupt fault: answer altered");
            if reply.len() > 2 {
                reply[0] ^= 0xFF;
            } else {
                reply = StatusWord::NoPreciseDiagnosis.to_bytes().to_vec();
            }
        }
        if SimCard::due(&mut self.faults.short_after, nth) {
            info!(apdu = nth, "short fault: 1-byte answer");
            reply.truncate(1);
        }
        trace!(answer = %redact_response(apdu, &reply), "card <");
        Answer::Reply(reply)
    }

    /// Applies `wrong-le` (6Cxx for a short Le that is not the exact length) and `t0`
    /// (61xx, data held for GET RESPONSE), else delivers plainly.
    fn deliver(&mut self, ex: Executed) -> Response {
        let has_data = !ex.response.data.is_empty();
        if self.faults.wrong_le && has_data && !ex.extended {
            if let Some(le) = ex.le {
                let exact = ex.response.data.len().min(MAX_SHORT_LE);
                if le != exact {
                    return Response::status(StatusWord::WrongLe(exact as u8));
                }
            }
        }
        if self.faults.t0 && has_data {
            let n = ex.response.data.len();
            self.pending = Some(Pending { data: ex.response.data, sw: ex.response.sw });
            return Response::status(bytes_available(n));
        }
        ex.delivered_plain()
    }

    /// GET RESPONSE in T=0 mode: the next piece of the held data.
    fn get_response(&mut self, apdu: &[u8], mut pending: Pending) -> Response {
        let le = match apdu::Command::parse(apdu) {
            Ok(c) if c.p1 == 0 && c.p2 == 0 && c.data.is_empty() => c.le.unwrap_or(MAX_SHORT_LE),
            Ok(_) => {
                self.pending = Some(pending);
                return Response::status(StatusWord::IncorrectP1P2);
            }
            Err(_) => {
                self.pending = Some(pending);
                return Response::status(StatusWord::WrongLength);
            }
        };
        let n = le.min(pending.data.len());
        let piece: Vec<u8> = pending.data.drain(..n).collect();
        if pending.data.is_empty() {
            return Response::new(piece, pending.sw);
        }
        let left = pending.data.len();
        self.pending = Some(pending);
        Response::new(piece, bytes_available(left))
    }
}
