//! The counter's card path for the issuance job: the chip through a reader manager (the card
//! in the printer's contact station, the PSAM in the SAM slot) and the face through the card
//! printer. PC/SC is one backend of the readers; the in-process simulated readers are another,
//! so the same path runs in fast tests without pcscd.

use std::time::Duration;

use card_transport::{Card, Disposition, ReaderManager};
use firmware_profile::Profile;
use issuance::{CardPath, CardPlace, DeviceAction, DeviceError, FaceText, FinancialHolder};
use printer::{CardWhereabouts, FaultKind, PrintJob, Printer, PrinterError, Station};

/// Turns the face text into the printer's panels (the card-face layout).
pub trait FaceRenderer {
    /// The panels of one face.
    fn render(&self, face: &FaceText) -> Result<PrintJob, FaceProblem>;
}

/// Why a face cannot be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaceProblem {
    /// The applicant's photo: not a plain file of the photo directory, too large, gone or not
    /// an image. The operator takes it again; no card was spent on it.
    #[error("photo: {0}: take the photo again (or load the applicant's file again)")]
    Photo(String),
    /// The layout itself (template, fonts, a value it cannot print): stop and call for service.
    #[error("card face: {0}")]
    Layout(String),
}

/// Chip readers and a card printer, as one counter.
pub struct Counter<'a> {
    /// The readers (PC/SC, or the simulated ones in process).
    pub readers: &'a mut dyn ReaderManager,
    /// The reader of the printer's contact station.
    pub card_reader: String,
    /// The PSAM's reader.
    pub psam_reader: String,
    /// The printer.
    pub printer: &'a mut dyn Printer,
    /// The face layout.
    pub faces: &'a dyn FaceRenderer,
    /// The firmware profile of the cards in the hopper.
    pub profile: &'a Profile,
    /// How long a fed card may take to answer in the reader.
    pub card_timeout: Duration,
    /// The financial application's data and keys, when the cards carry one.
    pub financial: Option<&'a crate::financial::Financial>,
    /// The simulated bank that opens the accounts of cards without a financial application
    /// (the simulated counter only).
    pub sim_accounts: Option<&'a crate::financial::SimAccounts>,
    /// What the path remembers of the card it is making (`CardTrack::default()` to start).
    pub track: CardTrack,
}

/// What the counter remembers of the card it is making, within one run of a job.
#[derive(Default)]
pub struct CardTrack {
    /// The face last rendered and its panels: the face is composed once per card, when the
    /// card is fed (so a bad photo spends no card), and printed from here.
    rendered: Option<(FaceText, PrintJob)>,
    /// The card reader's events count before the printer last moved the card away (a feed,
    /// a print): the card at the contact station is the one that arrived after it, not the
    /// state the reader stack still shows of the card before.
    moved_at: Option<u64>,
}

/// How long a card the printer moved is waited for to arrive at the contact station before the
/// card the reader shows is taken as it: a reader stack that polls (pcscd with vpcd: ~0.4 s)
/// and a card kept out for a second (the simulator) arrive well within it.
const ARRIVAL_GRACE: Duration = Duration::from_secs(3);

fn printer_err(step: &str, e: PrinterError) -> DeviceError {
    let action = match e.kind() {
        FaultKind::Retry => DeviceAction::Retry,
        FaultKind::OperatorRefill => DeviceAction::Operator("refill the feeder or change the ribbon".into()),
        FaultKind::OperatorCloseCover => DeviceAction::Operator("close the printer cover".into()),
        FaultKind::OperatorClearJam => DeviceAction::Operator("clear the jammed card".into()),
        FaultKind::RejectCard => DeviceAction::RejectCard,
        _ => DeviceAction::Stop,
    };
    DeviceError { step: step.into(), message: e.to_string(), action }
}

fn card_err(step: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError { step: step.into(), message: e.to_string(), action: DeviceAction::RejectCard }
}

impl Counter<'_> {
    /// The face's panels, rendered unless this face was the last one rendered.
    fn render(&mut self, face: &FaceText) -> Result<&PrintJob, DeviceError> {
        if !self.track.rendered.as_ref().is_some_and(|(done, _)| done == face) {
            let job = self.faces.render(face).map_err(|e| {
                let action = match &e {
                    FaceProblem::Photo(_) => {
                        DeviceAction::Operator("take the applicant's photo again".into())
                    }
                    FaceProblem::Layout(_) => DeviceAction::Stop,
                };
                DeviceError { step: "render the card face".into(), message: e.to_string(), action }
            })?;
            self.track.rendered = Some((face.clone(), job));
        }
        Ok(&self.track.rendered.as_ref().expect("rendered just above").1)
    }

    /// One personalisation attempt; the flag says whether the link was lost (reset, removed)
    /// so that another attempt may succeed.
    fn personalise_once(
        &mut self,
        atr: &[u8],
        layout: &ssse::SsseLayout,
        issuer: &ssse::IssuerData,
        holder: &ssse::HolderData,
    ) -> Result<(), (DeviceError, bool)> {
        let (card_reader, psam_reader) = (self.card_reader.clone(), self.psam_reader.clone());
        self.wait_card().map_err(|e| (e, false))?;
        let mut card = self.open(&card_reader, "card").map_err(|e| (e, true))?;
        let mut psam = self.open(&psam_reader, "PSAM").map_err(|e| (e, false))?;
        let result = {
            let mut tx =
                card.transaction().map_err(|e| (card_err("card transaction", &e), e.is_link_lost()))?;
            let mut sam = psam.transaction().map_err(|e| (card_err("PSAM transaction", e), false))?;
            ssse::personalise(tx.as_mut(), atr, &mut ssse::Psam::new(sam.as_mut()), layout, issuer, holder)
        };
        let _ = card.disconnect(Disposition::Leave);
        let _ = psam.disconnect(Disposition::Leave);
        result.map(|_| ()).map_err(|e| {
            let lost = matches!(&e, ssse::SsseError::Card(apdu::Error::Transport { source, .. }) if source.is_link_lost());
            (card_err("personalise the social-security application", e), lost)
        })
    }

    /// Waits until the card at the contact station answers in the reader (the printer has
    /// moved it there; the reader sees it a moment later); its ATR.
    ///
    /// A card just moved back from the print position may read as mute for a moment (the
    /// reader polls it while the contacts settle): that is waited out until the deadline, and
    /// only a card still mute then is a card that does not answer.
    fn wait_card(&mut self) -> Result<Vec<u8>, DeviceError> {
        let deadline = std::time::Instant::now() + self.card_timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let after = self.track.moved_at;
            let wait = if after.is_some() { left.min(ARRIVAL_GRACE) } else { left };
            match self.readers.wait_for_atr(&self.card_reader, after, wait) {
                Err(card_transport::TransportError::Unresponsive) if !left.is_zero() => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(card_transport::TransportError::NoCard(_)) if after.is_some() && wait < left => {
                    // No arrival: the card never left the reader (contacts that stay engaged
                    // while it moves); the card there is taken.
                    tracing::debug!(reader = %self.card_reader, "no card arrival seen; taking the card present");
                    self.track.moved_at = None;
                }
                Ok(atr) => {
                    self.track.moved_at = None;
                    return Ok(atr);
                }
                Err(e) => return Err(card_err("card at the contact station", e)),
            }
        }
    }

    /// Notes the card reader's events before the printer moves the card away: the wait for the
    /// card (back) at the contact station then waits for its arrival. A reader that cannot say
    /// leaves the wait to take whatever card is there.
    fn note_card_leaving(&mut self) {
        self.track.moved_at = self.readers.card_events(&self.card_reader).ok();
    }

    fn open(&mut self, reader: &str, what: &str) -> Result<Box<dyn Card>, DeviceError> {
        self.readers.connect(reader).map_err(|e| DeviceError {
            step: format!("open the {what} reader"),
            message: e.to_string(),
            action: DeviceAction::Operator(format!("check the {what} reader {reader}")),
        })
    }
}

impl CardPath for Counter<'_> {
    fn whereabouts(&mut self) -> CardPlace {
        match self.printer.whereabouts() {
            CardWhereabouts::NotFed => CardPlace::NotFed,
            CardWhereabouts::At(Station::Contact) => CardPlace::AtContact,
            CardWhereabouts::At(Station::Print) => CardPlace::AtPrint,
            CardWhereabouts::Ejected => CardPlace::Ejected,
            CardWhereabouts::Rejected => CardPlace::Rejected,
            _ => CardPlace::Unknown,
        }
    }

    fn feed(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.note_card_leaving();
        self.printer.prepare().map_err(|e| printer_err("prepare the printer", e))?;
        self.printer.load(Station::Contact).map_err(|e| printer_err("feed to the contact station", e))?;
        self.atr()
    }

    fn atr(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.wait_card()
    }

    fn personalise_financial(
        &mut self,
        holder: &FinancialHolder<'_>,
    ) -> Result<Option<issuance::FinancialDone>, DeviceError> {
        let Some(financial) = self.financial else {
            if let Some(sim) = self.sim_accounts {
                sim.open(holder).map_err(|message| DeviceError {
                    step: "open the account at the simulated bank".into(),
                    message,
                    action: DeviceAction::Operator(
                        "start the simulated bank (station sim bank), then retry".into(),
                    ),
                })?;
            }
            return Ok(None);
        };
        // The card has just been fed: a connection made before pcscd's next poll of the reader
        // (~400 ms with vpcd) may be dropped as if the card had been reset. Lost at the first
        // command, before the card changed, the step runs again after one poll.
        let reader = self.card_reader.clone();
        let mut last = None;
        for attempt in 0..4 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500));
            }
            self.wait_card()?;
            let mut card = self.open(&reader, "card")?;
            let result = {
                let mut tx = card.transaction().map_err(|e| card_err("card transaction", e))?;
                financial.personalise(tx.as_mut(), holder)
            };
            let _ = card.disconnect(Disposition::Leave);
            match result {
                Ok(done) => return Ok(Some(done)),
                Err(e) if e.again => last = Some(e),
                Err(e) => return Err(card_err("personalise the financial application", e)),
            }
        }
        Err(card_err(
            "personalise the financial application",
            last.map_or_else(|| "no attempt".to_string(), |e| e.to_string()),
        ))
    }

    fn check_face(&mut self, face: &FaceText) -> Result<(), DeviceError> {
        self.render(face).map(|_| ())
    }

    fn print(&mut self, face: &FaceText) -> Result<(), DeviceError> {
        self.render(face)?;
        self.note_card_leaving();
        let job = &self.track.rendered.as_ref().expect("rendered just above").1;
        self.printer.print_face(job).map_err(|e| printer_err("print the face", e))?;
        self.printer.load(Station::Contact).map_err(|e| printer_err("back to the contact station", e))
    }

    fn personalise_ssc(
        &mut self,
        atr: &[u8],
        issuer: &ssse::IssuerData,
        holder: &ssse::HolderData,
    ) -> Result<(), DeviceError> {
        let layout = ssse::SsseLayout::from_profile(self.profile).map_err(|e| card_err("SSSE layout", e))?;
        // The card has just come back from the print position: pcscd notices the chip's
        // removal and re-insertion only at its next poll (~400 ms with vpcd) and then drops
        // our transaction as if the card had been reset. The step is idempotent: after a
        // lost link, wait out one poll and run it again.
        let mut last = None;
        for attempt in 0..4 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500));
            }
            match self.personalise_once(atr, &layout, issuer, holder) {
                Ok(()) => return Ok(()),
                Err(e) if e.1 => last = Some(e.0),
                Err(e) => return Err(e.0),
            }
        }
        Err(last.unwrap_or_else(|| card_err("personalise", "no attempt")))
    }

    fn read_chip(&mut self, atr: &[u8]) -> Result<ssse::CardData, DeviceError> {
        let reader = self.card_reader.clone();
        self.wait_card()?;
        let mut card = self.open(&reader, "card")?;
        let data = {
            let mut tx = card.transaction().map_err(|e| card_err("card transaction", e))?;
            ssse::read_card(tx.as_mut(), atr).map_err(|e| card_err("read the chip back", e))?
        };
        let _ = card.disconnect(Disposition::Leave);
        Ok(data)
    }

    fn eject(&mut self) -> Result<(), DeviceError> {
        self.printer.eject().map_err(|e| printer_err("eject", e))
    }

    fn reject(&mut self) -> Result<(), DeviceError> {
        self.printer.reject().map_err(|e| printer_err("reject", e))
    }
}
