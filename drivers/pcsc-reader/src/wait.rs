//! Waiting for cards and readers with `SCardGetStatusChange`: pcscd wakes us, we never
//! sleep or poll.
//!
//! Each wait starts from `UNAWARE`, so the first call returns the reader's state at once (a
//! card already in the reader counts as inserted), then blocks until the state changes or
//! the deadline passes. Changes that are not what we wait for (in-use flags, a mute card
//! becoming readable) just block again until the same deadline.

use std::ffi::CString;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use card_transport::TransportError;
use pcsc::{ReaderState, State, PNP_NOTIFICATION};
use tracing::debug;

use crate::events::ReaderEvent;
use crate::manager::PcscManager;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A card; with an events count, only one that arrived after it.
    Card(Option<u32>),
    Removal,
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

impl PcscManager {
    fn take_cancel(&self) -> bool {
        self.shared().cancel_requested.swap(false, Ordering::SeqCst)
    }

    /// Waits until a card is in `reader` and answers to reset, for at most `timeout` (`None`:
    /// no limit). Returns at once when a card is already there.
    ///
    /// Events: `CardInserted`, `ReaderRemoved` (the reader went away while we waited),
    /// `Timeout`, `Cancelled`. A card that does not answer to reset (mute: upside down,
    /// dirty, not a chip card) is [`TransportError::Unresponsive`].
    pub fn wait_for_card(
        &mut self,
        reader: &str,
        timeout: Option<Duration>,
    ) -> Result<ReaderEvent, TransportError> {
        self.wait_reader(reader, timeout, Want::Card(None))
    }

    /// As [`PcscManager::wait_for_card`], for a card that arrived after the reader's card
    /// events stood at `events` ([`PcscManager::card_events`]): pcscd shows a reader without
    /// interrupts (vpcd, some printer encoders) as it was at its last poll, so a card a printer
    /// just moved away and back, or the next card fed after one was ejected, would otherwise
    /// be answered by the state of the card before it, and a connection made then is reset.
    pub fn wait_for_card_since(
        &mut self,
        reader: &str,
        events: u64,
        timeout: Option<Duration>,
    ) -> Result<ReaderEvent, TransportError> {
        // pcsc-lite counts events in 16 bits of the state word: compare as it reports them.
        self.wait_reader(reader, timeout, Want::Card(Some(events as u32)))
    }

    /// The reader's card events so far: pcscd counts each insertion and removal, so a count
    /// noted before a card is moved tells its arrival from the state before.
    pub fn card_events(&mut self, reader: &str) -> Result<u64, TransportError> {
        let name = CString::new(reader).map_err(|_| TransportError::ReaderUnavailable(reader.to_string()))?;
        let context = self.context()?;
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        match context.get_status_change(Some(Duration::ZERO), &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(self.fail(e, reader, 0)),
        }
        if states[0].event_state().intersects(State::UNKNOWN | State::UNAVAILABLE) {
            return Err(TransportError::ReaderUnavailable(reader.to_string()));
        }
        Ok(u64::from(states[0].event_count()))
    }

    /// Waits until `reader` is empty, for at most `timeout` (`None`: no limit). Returns at
    /// once when it already is. A card taken out and put back in while we were not looking
    /// (the reader's event counter moved) also counts as removed.
    pub fn wait_for_removal(
        &mut self,
        reader: &str,
        timeout: Option<Duration>,
    ) -> Result<ReaderEvent, TransportError> {
        self.wait_reader(reader, timeout, Want::Removal)
    }

    fn wait_reader(
        &mut self,
        reader: &str,
        timeout: Option<Duration>,
        want: Want,
    ) -> Result<ReaderEvent, TransportError> {
        if self.take_cancel() {
            return Ok(ReaderEvent::Cancelled);
        }
        let name = CString::new(reader).map_err(|_| TransportError::ReaderUnavailable(reader.to_string()))?;
        let context = self.context()?;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        let mut first_count = None;
        let started = Instant::now();
        loop {
            match context.get_status_change(remaining(deadline), &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return Ok(ReaderEvent::Timeout),
                Err(pcsc::Error::Cancelled) => {
                    self.take_cancel();
                    return Ok(ReaderEvent::Cancelled);
                }
                Err(e) => {
                    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    return Err(self.fail(e, reader, ms));
                }
            }
            let state = states[0].event_state();
            let count = states[0].event_count();
            debug!(reader, ?state, count, "reader state");
            if state.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                return match first_count {
                    // It was never there: a wrong name, not an event.
                    None => Err(TransportError::ReaderUnavailable(reader.to_string())),
                    Some(_) => Ok(ReaderEvent::ReaderRemoved { reader: reader.to_string() }),
                };
            }
            let present = state.contains(State::PRESENT);
            match want {
                // Still the card from before: its removal is not seen yet.
                Want::Card(Some(before)) if present && count == before => {}
                Want::Card(_) if present && state.contains(State::MUTE) => {
                    return Err(TransportError::Unresponsive)
                }
                Want::Card(_) if present => {
                    // How long the card took to show (pcscd polls a reader without interrupts,
                    // such as vpcd, every ~400 ms): the benchmarks separate it from the station's time.
                    let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    debug!(reader, waited_ms, "card present");
                    return Ok(ReaderEvent::CardInserted {
                        reader: reader.to_string(),
                        atr: states[0].atr().to_vec(),
                    });
                }
                Want::Removal if !present || first_count.is_some_and(|c| c != count) => {
                    return Ok(ReaderEvent::CardRemoved { reader: reader.to_string() })
                }
                _ => {}
            }
            first_count.get_or_insert(count);
            states[0].sync_current_state();
        }
    }

    /// Waits until a reader is plugged in or unplugged, for at most `timeout` (`None`: no
    /// limit), using the `\\?PnP?\Notification` pseudo reader.
    ///
    /// The change is relative to the reader list this manager saw last (by `list_readers` or
    /// the previous call), so nothing is missed between calls. Several changes at once come
    /// out one per call. Events: `ReaderAdded`, `ReaderRemoved`, `Timeout`, `Cancelled`.
    pub fn wait_for_reader_change(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<ReaderEvent, TransportError> {
        if let Some(event) = self.pending.pop_front() {
            return Ok(event);
        }
        if self.take_cancel() {
            return Ok(ReaderEvent::Cancelled);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let baseline = match self.known_readers.clone() {
            Some(known) => known,
            None => self.reader_names()?,
        };
        let context = self.context()?;
        let mut states = [ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)];
        // The first call returns at once with the current state (the reader count sits in the
        // high word); from then on pcscd wakes us when the count changes.
        match context.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(self.fail(e, "", 0)),
        }
        if states[0].event_state().contains(State::UNKNOWN) {
            return Err(TransportError::Other(
                "this PC/SC stack does not report reader hot-plug (no \\\\?PnP?\\Notification)".into(),
            ));
        }
        states[0].sync_current_state();
        loop {
            // Compare before blocking: a change between calls is reported at once.
            let now = self.reader_names()?;
            self.known_readers = Some(now.clone());
            let mut events = baseline
                .iter()
                .filter(|n| !now.contains(n))
                .map(|n| ReaderEvent::ReaderRemoved { reader: n.clone() })
                .chain(
                    now.iter()
                        .filter(|n| !baseline.contains(n))
                        .map(|n| ReaderEvent::ReaderAdded { reader: n.clone() }),
                )
                .collect::<std::collections::VecDeque<_>>();
            if let Some(first) = events.pop_front() {
                self.pending.append(&mut events);
                return Ok(first);
            }
            match context.get_status_change(remaining(deadline), &mut states) {
                Ok(()) => states[0].sync_current_state(),
                Err(pcsc::Error::Timeout) => return Ok(ReaderEvent::Timeout),
                Err(pcsc::Error::Cancelled) => {
                    self.take_cancel();
                    return Ok(ReaderEvent::Cancelled);
                }
                Err(e) => return Err(self.fail(e, "", 0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReaderRules;

    // These never reach pcscd: a pending cancel or a queued event is answered first.

    #[test]
    fn a_cancel_before_the_wait_ends_it_at_once_and_only_once() {
        let mut m = PcscManager::unconnected(ReaderRules::defaults());
        let c = m.canceller();
        std::thread::spawn(move || c.cancel()).join().expect("cancel thread");
        assert_eq!(m.wait_for_card("Virtual PCD 00 00", None), Ok(ReaderEvent::Cancelled));
        m.canceller().cancel();
        assert_eq!(m.wait_for_removal("Virtual PCD 00 00", None), Ok(ReaderEvent::Cancelled));
        m.canceller().cancel();
        assert_eq!(m.wait_for_reader_change(None), Ok(ReaderEvent::Cancelled));
        assert!(!m.is_connected());
    }

    #[test]
    fn queued_reader_events_come_out_one_per_call() {
        let mut m = PcscManager::unconnected(ReaderRules::defaults());
        m.pending.push_back(ReaderEvent::ReaderAdded { reader: "A".into() });
        m.pending.push_back(ReaderEvent::ReaderRemoved { reader: "B".into() });
        m.canceller().cancel();
        assert_eq!(m.wait_for_reader_change(None), Ok(ReaderEvent::ReaderAdded { reader: "A".into() }));
        assert_eq!(m.wait_for_reader_change(None), Ok(ReaderEvent::ReaderRemoved { reader: "B".into() }));
        assert_eq!(m.wait_for_reader_change(None), Ok(ReaderEvent::Cancelled));
    }

    #[test]
    fn deadlines_count_down_and_never_underflow() {
        assert_eq!(remaining(None), None);
        let past = Instant::now().checked_sub(Duration::from_secs(1)).expect("clock");
        assert_eq!(remaining(Some(past)), Some(Duration::ZERO));
        let soon = Instant::now() + Duration::from_secs(5);
        assert!(remaining(Some(soon)).is_some_and(|d| d > Duration::from_secs(4)));
    }
}
