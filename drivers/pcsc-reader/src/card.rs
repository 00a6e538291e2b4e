//! One connected card: shared connection, exclusive transactions, transparent reconnects.
//!
//! Why the care about dispositions: `pcsc::Card`'s own `Drop` disconnects with
//! `SCARD_RESET_CARD`, which throws away the card's security state (an external
//! authentication with the PSAM, a verified PIN). A counter-station hands cards between
//! steps and processes, so everything here leaves the card as it is unless told otherwise.

use std::ffi::CString;
use std::time::Instant;

use card_transport::{
    redact_command, redact_response, Capabilities, Card, CardTransaction, Disposition, ReaderInfo,
    TransportError,
};
use pcsc::{Context, Protocols, Scope, ShareMode};
use tracing::{debug, trace, warn, Level};

use crate::error::{describe_pcsc, map_pcsc_error, needs_fresh_connection};
use crate::rules::{capabilities_for, SlotHandling};

/// What the card connection knows besides the pcsc handle. Kept apart from the handle so a
/// transaction can borrow the handle and this state at the same time.
struct Link {
    /// The context the handle was made from; replaced when pcscd restarted.
    context: Context,
    reader: ReaderInfo,
    reader_c: CString,
    atr: Vec<u8>,
    /// The most the reader can carry, its protocols and its power-up pause (quirk rules).
    handling: SlotHandling,
    capabilities: Capabilities,
    /// A reset (or a reconnect that may have been one) happened and no transaction has
    /// reported it yet.
    was_reset: bool,
    /// The receive buffer, allocated once at the extended-length size.
    rx: Vec<u8>,
}

impl Link {
    fn refresh(&mut self, card: &pcsc::Card) -> Result<(), TransportError> {
        let status = card.status2_owned().map_err(|e| map_pcsc_error(e, &self.reader.name, 0))?;
        self.atr = status.atr().to_vec();
        self.capabilities = capabilities_for(&self.atr, self.handling.limit);
        self.reader.card_present = true;
        Ok(())
    }

    fn map(&self, err: pcsc::Error) -> TransportError {
        map_pcsc_error(err, &self.reader.name, 0)
    }
}

/// A card in a PC/SC reader, connected shared with T=0 or T=1.
///
/// Other applications may talk to the card between our transactions (that is what shared
/// means); within a [`Card::transaction`] nobody else can. When the handle dies (pcscd
/// restarted, reader re-plugged, card reset by someone else) the next `transaction()`
/// reconnects by itself and the transaction reports `was_reset()`, so the protocol layer
/// selects again.
pub struct PcscCard {
    /// `None` only after a failed fresh connection, or while being disconnected.
    card: Option<pcsc::Card>,
    link: Link,
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscCard")
            .field("reader", &self.link.reader.name)
            .field("atr", &hex::encode_upper(&self.link.atr))
            .field("capabilities", &self.link.capabilities)
            .field("connected", &self.card.is_some())
            .finish()
    }
}

fn protocols(handling: &SlotHandling) -> Protocols {
    if handling.t0_only {
        Protocols::T0
    } else {
        Protocols::T0 | Protocols::T1
    }
}

fn connect_handle(
    context: &Context,
    reader: &std::ffi::CStr,
    handling: &SlotHandling,
) -> Result<pcsc::Card, pcsc::Error> {
    let card = context.connect(reader, ShareMode::Shared, protocols(handling))?;
    if !handling.power_up_delay.is_zero() {
        // The reader's profile says the card needs this long after power-up.
        std::thread::sleep(handling.power_up_delay);
    }
    Ok(card)
}

/// Ends a handle we no longer use without resetting the card. When the handle is already
/// dead the disconnect fails, and so would the reset in `pcsc::Card`'s drop: nothing happens.
fn discard(card: pcsc::Card, reader: &str) {
    if let Err((card, e)) = card.disconnect(pcsc::Disposition::LeaveCard) {
        debug!(reader, error = %describe_pcsc(e), "old card handle could not be disconnected (already gone)");
        drop(card);
    }
}

impl PcscCard {
    /// Connects to the card in `reader` through `context` as the reader's quirk rules say.
    pub(crate) fn connect(
        context: Context,
        reader: ReaderInfo,
        handling: SlotHandling,
    ) -> Result<PcscCard, TransportError> {
        let reader_c = CString::new(reader.name.clone())
            .map_err(|_| TransportError::ReaderUnavailable(reader.name.clone()))?;
        let card =
            connect_handle(&context, &reader_c, &handling).map_err(|e| map_pcsc_error(e, &reader.name, 0))?;
        let mut link = Link {
            context,
            reader,
            reader_c,
            atr: Vec::new(),
            handling,
            capabilities: Capabilities::SHORT,
            was_reset: false,
            rx: Vec::new(),
        };
        link.refresh(&card)?;
        debug!(reader = %link.reader.name, atr = %hex::encode_upper(&link.atr), caps = ?link.capabilities, "card connected");
        Ok(PcscCard { card: Some(card), link })
    }

    /// What this reader and card can carry in one APDU (ATR clamped by reader quirks).
    pub fn capabilities(&self) -> Capabilities {
        self.link.capabilities
    }

    /// Reconnects after the handle died or the card was reset, leaving the card as it is
    /// where the handle survives (`SCardReconnect` with `LEAVE_CARD`); otherwise connects
    /// afresh, on a new context when pcscd restarted. Afterwards the next transaction
    /// reports `was_reset()`: whatever the card had selected may be gone.
    pub fn reconnect(&mut self) -> Result<(), TransportError> {
        let PcscCard { card, link } = self;
        if let Some(handle) = card.as_mut() {
            match handle.reconnect(ShareMode::Shared, protocols(&link.handling), pcsc::Disposition::LeaveCard)
            {
                Ok(()) => {
                    link.was_reset = true;
                    debug!(reader = %link.reader.name, "card handle reconnected");
                    return link.refresh(handle);
                }
                Err(e) if needs_fresh_connection(e) => {
                    debug!(reader = %link.reader.name, error = %describe_pcsc(e), "card handle is dead, connecting afresh");
                }
                Err(e) => return Err(link.map(e)),
            }
        }
        if let Some(old) = card.take() {
            discard(old, &link.reader.name);
        }
        let fresh = fresh_connection(link)?;
        *card = Some(fresh);
        Ok(())
    }
}

/// A new context and a new handle for `link`'s reader; marks the card as reset (a fresh
/// connection cannot know what the card still has selected).
fn fresh_connection(link: &mut Link) -> Result<pcsc::Card, TransportError> {
    let context = Context::establish(Scope::User).map_err(|e| link.map(e))?;
    let card = connect_handle(&context, &link.reader_c, &link.handling).map_err(|e| link.map(e))?;
    link.context = context;
    link.was_reset = true;
    link.refresh(&card)?;
    debug!(reader = %link.reader.name, atr = %hex::encode_upper(&link.atr), "card connected afresh");
    Ok(card)
}

/// Begins an exclusive transaction, reviving the handle once if it was reset or died.
///
/// Takes the handle slot and the link separately so the returned transaction borrows only
/// the handle; `transaction2` hands the handle back on error so it can be revived in place.
fn begin<'a>(
    slot: &'a mut Option<pcsc::Card>,
    link: &mut Link,
) -> Result<pcsc::Transaction<'a>, TransportError> {
    let handle = slot.as_mut().ok_or_else(|| TransportError::ReaderUnavailable(link.reader.name.clone()))?;
    let (handle, err) = match handle.transaction2() {
        Ok(tx) => return Ok(tx),
        Err(pair) => pair,
    };
    match err {
        pcsc::Error::ResetCard | pcsc::Error::RemovedCard => {
            // Someone reset the card, or it was pulled and maybe put back: reconnecting
            // tells which (NoSmartcard when it is still out).
            debug!(reader = %link.reader.name, error = %describe_pcsc(err), "reconnecting before the transaction");
            handle
                .reconnect(ShareMode::Shared, protocols(&link.handling), pcsc::Disposition::LeaveCard)
                .map_err(|e| link.map(e))?;
            link.was_reset = true;
            link.refresh(handle)?;
        }
        e if needs_fresh_connection(e) => {
            debug!(reader = %link.reader.name, error = %describe_pcsc(e), "card handle is dead, connecting afresh");
            let fresh = fresh_connection(link)?;
            let old = std::mem::replace(handle, fresh);
            discard(old, &link.reader.name);
        }
        e => return Err(link.map(e)),
    }
    handle.transaction().map_err(|e| link.map(e))
}

impl Card for PcscCard {
    fn reader(&self) -> &ReaderInfo {
        &self.link.reader
    }

    fn atr(&self) -> &[u8] {
        &self.link.atr
    }

    fn transaction(&mut self) -> Result<Box<dyn CardTransaction + '_>, TransportError> {
        if self.card.is_none() {
            self.reconnect()?;
        }
        let PcscCard { card, link } = self;
        let tx = begin(card, link)?;
        // The reset is reported by this transaction, and only by it.
        let reset_seen = std::mem::take(&mut link.was_reset);
        if link.rx.is_empty() {
            link.rx = vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        }
        Ok(Box::new(PcscTransaction { tx, link, reset_seen }))
    }

    fn disconnect(mut self: Box<Self>, disposition: Disposition) -> Result<(), TransportError> {
        let Some(card) = self.card.take() else {
            return Ok(());
        };
        let how = match disposition {
            Disposition::Leave => pcsc::Disposition::LeaveCard,
            Disposition::Reset => pcsc::Disposition::ResetCard,
            Disposition::Unpower => pcsc::Disposition::UnpowerCard,
        };
        debug!(reader = %self.link.reader.name, ?disposition, "disconnecting");
        card.disconnect(how).map_err(|(card, e)| {
            // The handle is dead (or the service gone): the reset in pcsc's drop fails too.
            drop(card);
            self.link.map(e)
        })
    }
}

impl Drop for PcscCard {
    /// Leaves the card as it is: pcsc's own drop would reset it.
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            discard(card, &self.link.reader.name);
        }
    }
}

/// An exclusive PC/SC transaction on a [`PcscCard`]. Dropping it ends the transaction with
/// `LEAVE_CARD`.
pub struct PcscTransaction<'a> {
    tx: pcsc::Transaction<'a>,
    link: &'a mut Link,
    reset_seen: bool,
}

impl PcscTransaction<'_> {
    fn fail(&mut self, err: pcsc::Error, elapsed_ms: u64) -> TransportError {
        debug!(reader = %self.link.reader.name, error = %describe_pcsc(err), "transmit failed");
        let err = match err {
            // pcscd dropped our transaction because the card went away or was reset under
            // it (seen after a card died mid-APDU): the handle's status says which.
            // When the status does not tell yet (pcscd notices a vanished card only at its
            // next poll, ~400 ms with vpcd), the transaction is still lost: anyone may have
            // used the card since, so its state is as unknown as after a reset.
            pcsc::Error::NotTransacted => match self.tx.status2_owned() {
                Err(cause) => cause,
                Ok(_) => pcsc::Error::ResetCard,
            },
            _ => err,
        };
        let reader = &self.link.reader.name;
        if err == pcsc::Error::ResetCard {
            // The card lost its state; reconnect the handle (leaving the card) so the next
            // transaction can go on after the protocol layer selected again.
            self.reset_seen = true;
            self.link.was_reset = true;
            if let Err(e) = self.tx.reconnect(
                ShareMode::Shared,
                Protocols::T0 | Protocols::T1,
                pcsc::Disposition::LeaveCard,
            ) {
                debug!(reader = %reader, error = %describe_pcsc(e), "reconnect after reset failed");
            }
        }
        map_pcsc_error(err, reader, elapsed_ms)
    }
}

impl CardTransaction for PcscTransaction<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if tracing::enabled!(Level::DEBUG) {
            debug!(reader = %self.link.reader.name, "> {}", redact_command(command));
        }
        let started = Instant::now();
        let result = self.tx.transmit(command, &mut self.link.rx).map(<[u8]>::to_vec);
        let elapsed = started.elapsed();
        trace!(reader = %self.link.reader.name, elapsed_us = elapsed.as_micros() as u64, "transmit");
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
                return Err(self.fail(e, ms));
            }
        };
        if answer.len() < 2 {
            // vpcd (and some readers) report success with an empty answer when the card side
            // died mid-APDU: the command may or may not have been executed.
            warn!(reader = %self.link.reader.name, len = answer.len(), "answer shorter than SW1 SW2");
            return Err(TransportError::ShortResponse(answer.len()));
        }
        if tracing::enabled!(Level::DEBUG) {
            debug!(reader = %self.link.reader.name, "< {}", redact_response(command, &answer));
        }
        Ok(answer)
    }

    fn was_reset(&self) -> bool {
        self.reset_seen
    }

    fn capabilities(&self) -> Capabilities {
        self.link.capabilities
    }
}
