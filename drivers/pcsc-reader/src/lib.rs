//! The PC/SC driver: readers by kind, insertion and removal without polling, and
//! reconnects after a pcscd restart or a reader unplug.
//!
//! - [`PcscManager`] implements [`card_transport::ReaderManager`]: it lists readers with
//!   their [`ReaderKind`](card_transport::ReaderKind) (decided by [`ReaderRules`], data a
//!   station can extend), opens a card by [`Selector`] (`Virtual PCD 00 00`, `kind:sam`,
//!   `#0`), and waits for cards and readers with `SCardGetStatusChange`
//!   ([`PcscManager::wait_for_card`], [`PcscManager::wait_for_removal`],
//!   [`PcscManager::wait_for_reader_change`]); a [`Canceller`] ends a wait from another
//!   thread.
//! - [`PcscCard`] implements [`card_transport::Card`]: shared connection (T=0 or T=1),
//!   exclusive transactions, capabilities from the ATR clamped by reader quirks. It never
//!   resets the card unless asked (dropping a `pcsc::Card` would).
//! - Lost service or handle: the manager reports
//!   [`TransportError::ServiceUnavailable`](card_transport::TransportError) and
//!   re-establishes its context on the next call; a card reconnects on its next
//!   transaction, which then says `was_reset()`.
//!
//! APDUs are traced at `debug` (redacted: no PIN, key, secure-messaging payload or personal
//! data), timings at `trace`.
#![forbid(unsafe_code)]

mod card;
mod error;
mod events;
mod manager;
mod rules;
mod selector;
mod wait;

pub use card::{PcscCard, PcscTransaction};
pub use error::{map_pcsc_error, Error};
pub use events::ReaderEvent;
pub use manager::{Canceller, PcscManager};
pub use rules::{KindRule, NameMatch, QuirkRule, ReaderRules, SlotHandling};
pub use selector::Selector;
