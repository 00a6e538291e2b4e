//! The Evolis driver: the [`Printer`] trait over any [`PrinterTransport`], with the commands
//! of the `evolis` crate and the issuance sequence of printer.md.
//!
//! After every failure the driver asks where the card is (reconnecting first when the link
//! broke) and, when the printer only gave an undocumented `ERR` text, reads the public sensors
//! to find a cause the operator can fix (cover open, feeder empty, ribbon out, card stuck).

use std::time::{Duration, Instant};

use evolis::{
    BitmapError, CardPosition, Clean, Counter, DownloadBitmap, EndSequence, FeedFromHopper, FrontSide,
    KeepCardAfterPrint, Levels, MoveToContact, MoveToContactless, MoveToPrint, PanelSet, ProtocolError,
    ReadCardPosition, ReadCounter, ReadFirmware, ReadHead, ReadModel, ReadRibbonCount, ReadRibbonRemaining,
    ReadRibbonZone, ReadSensor, ReadSerial, RejectCard, ReleaseCardAfterPrint, Request, SelectPanels, Sensor,
    SensorState, SetHostErrorMode, SetRejectMode, StartSequence,
};
use tracing::{debug, trace, warn};

use crate::error::{Cause, PrinterError};
use crate::job::{Panel, PrintJob, FACE_HEIGHT, FACE_WIDTH};
use crate::printer::{Counters, Identity, Printer, RibbonInfo, Status, Timeouts};
use crate::transport::{PrinterTransport, TransportError};
use crate::whereabouts::{CardWhereabouts, Station};

// A job's face is the Evolis panel turned a quarter (evolis' raster).
const _: () = assert!(FACE_WIDTH == evolis::FACE_WIDTH && FACE_HEIGHT == evolis::FACE_HEIGHT);

/// The `Db` downloads of a job, in its order: Y/M/C at 128 levels, K and O at 2.
pub fn evolis_downloads(job: &PrintJob) -> Result<Vec<DownloadBitmap>, BitmapError> {
    job.panels()
        .iter()
        .map(|plane| {
            let (panel, levels) = match plane.panel() {
                Panel::Y => (evolis::Panel::Y, Levels::L128),
                Panel::M => (evolis::Panel::M, Levels::L128),
                Panel::C => (evolis::Panel::C, Levels::L128),
                Panel::K => (evolis::Panel::K, Levels::L2),
                Panel::O => (evolis::Panel::O, Levels::L2),
            };
            DownloadBitmap::from_densities(panel, levels, plane.dots())
        })
        .collect()
}

/// What went wrong in one exchange, before the card is located.
#[derive(Debug)]
enum Failure {
    Link(TransportError),
    Protocol(ProtocolError),
}

/// What this job has asked of the printer, to tell "never fed" from "stuck in the path" and
/// "ejected" from "rejected" when `Rlr;p` reads no card.
#[derive(Debug, Clone, Copy, Default)]
struct JobTrack {
    /// A feed was sent (a move with no card inside, or a print that feeds).
    feed_sent: bool,
    /// The printer refused the feed for a reason that leaves the card in the hopper.
    feed_refused: bool,
    /// The card was seen at a station.
    seen_inside: bool,
    /// An eject was sent / acknowledged / refused by the printer (`ERR`).
    eject_sent: bool,
    eject_done: bool,
    eject_refused: bool,
    /// A reject was sent / refused by the printer (`ERR`).
    reject_sent: bool,
    reject_refused: bool,
}

/// An Evolis printer on a transport.
#[derive(Debug)]
pub struct EvolisPrinter<T: PrinterTransport> {
    transport: T,
    timeouts: Timeouts,
    ribbon_zone: Option<String>,
    job: JobTrack,
    /// False after a link failure until a reconnect succeeds.
    link_ok: bool,
}

impl<T: PrinterTransport> EvolisPrinter<T> {
    /// A driver with printer.md's timeouts and no ribbon zone check.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            timeouts: Timeouts::default(),
            ribbon_zone: None,
            job: JobTrack::default(),
            link_ok: true,
        }
    }

    /// Replaces the timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Refuses ribbons whose `Rrt;zone` differs from `zone` (China ribbons are region-locked;
    /// a ribbon from elsewhere would be refused mid-job otherwise).
    pub fn with_ribbon_zone(mut self, zone: impl Into<String>) -> Self {
        self.ribbon_zone = Some(zone.into());
        self
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The transport, e.g. to read what it counted.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// One request and its decoded reply. A link failure marks the link for a reconnect
    /// before the next request, so a late reply is never taken for the next one's.
    fn exchange<R: Request>(&mut self, request: &R, timeout: Duration) -> Result<R::Response, Failure> {
        if !self.link_ok {
            self.transport.reconnect().map_err(Failure::Link)?;
            self.link_ok = true;
        }
        let mut bytes = Vec::new();
        request.encode(&mut bytes);
        debug!(step = request.step(), len = bytes.len(), "request");
        let reply = self
            .transport
            .write_request(&bytes, timeout)
            .and_then(|()| self.transport.read_reply(timeout))
            .map_err(|e| {
                self.link_ok = false;
                warn!(step = request.step(), error = %e, "link failure");
                Failure::Link(e)
            })?;
        trace!(step = request.step(), reply = %String::from_utf8_lossy(&reply), "reply");
        request.decode(&reply).map_err(Failure::Protocol)
    }

    fn command<R: Request>(&mut self, request: &R) -> Result<R::Response, Failure> {
        let timeout = self.timeouts.command;
        self.exchange(request, timeout)
    }

    /// Builds the error for a failure at `step`: the cause (diagnosed from the sensors when
    /// the printer's text is not public) and where the card is.
    fn fail(&mut self, step: &'static str, failure: Failure) -> PrinterError {
        let cause = match failure {
            Failure::Link(e) => Cause::LinkLost(e),
            Failure::Protocol(e) => self.diagnose(e),
        };
        self.error(step, cause)
    }

    fn error(&mut self, step: &'static str, cause: Cause) -> PrinterError {
        let card = self.whereabouts();
        let error = PrinterError { step, cause, card };
        warn!(%error, "printer fault");
        error
    }

    /// The cause of a refused command. Public texts map directly; for the others the public
    /// sensors are read, since an operator can fix an open cover or an empty feeder but not
    /// an error text nobody documented.
    fn diagnose(&mut self, error: ProtocolError) -> Cause {
        let ProtocolError::Printer { text, .. } = &error else {
            return Cause::Printer(error);
        };
        if text == "ERR RIB DETECTION" {
            return Cause::RibbonOut { detail: text.clone() };
        }
        let text = text.clone();
        let reading = |me: &mut Self, sensor| me.command(&ReadSensor(sensor)).ok().map(|r| r.state());
        if reading(self, Sensor::Cover) == Some(SensorState::CoverOpen) {
            return self.refused_feed(Cause::CoverOpen);
        }
        if !self.job.seen_inside && reading(self, Sensor::Feeder) == Some(SensorState::FeederEmpty) {
            return self.refused_feed(Cause::FeederEmpty);
        }
        if let Err(Failure::Protocol(ProtocolError::Printer { text, .. })) =
            self.command(&ReadRibbonRemaining)
        {
            return Cause::RibbonOut { detail: text };
        }
        // The command was refused, so it moved nothing: a card that should be inside and is at
        // no station is stuck in the path.
        if self.job.feed_sent || self.job.seen_inside {
            if let Ok(CardPosition::None) = self.command(&ReadCardPosition) {
                return Cause::Jam { text };
            }
        }
        Cause::Printer(error)
    }

    /// A feed the printer refused for this cause left the card in the hopper.
    fn refused_feed(&mut self, cause: Cause) -> Cause {
        if self.job.feed_sent && !self.job.seen_inside {
            self.job.feed_refused = true;
        }
        cause
    }

    fn locate(&mut self) -> CardWhereabouts {
        let position = match self.command(&ReadCardPosition) {
            Ok(position) => position,
            Err(Failure::Link(_)) => match self.command(&ReadCardPosition) {
                // One more try: the first failure may only have been the stale link.
                Ok(position) => position,
                Err(_) => return CardWhereabouts::Unknown,
            },
            Err(Failure::Protocol(_)) => return CardWhereabouts::Unknown,
        };
        if let Some(station) = Station::from_position(position) {
            self.job.seen_inside = true;
            return CardWhereabouts::At(station);
        }
        let job = self.job;
        if job.reject_sent && !job.reject_refused {
            // Acknowledged, or executed with the reply lost: the reject box has no sensor.
            CardWhereabouts::Rejected
        } else if job.eject_done {
            CardWhereabouts::Ejected
        } else if job.eject_sent && !job.eject_refused {
            // The eject's answer was lost: the exit slot sensor tells whether it went out.
            match self.command(&ReadSensor(Sensor::ExitSlot)).map(|r| r.state()) {
                Ok(SensorState::ExitSlotCardPresent) => CardWhereabouts::Ejected,
                _ => CardWhereabouts::InPath,
            }
        } else if job.seen_inside || (job.feed_sent && !job.feed_refused) {
            CardWhereabouts::InPath
        } else {
            CardWhereabouts::NotFed
        }
    }

    fn check_sensor(&mut self, sensor: Sensor) -> Result<SensorState, PrinterError> {
        let request = ReadSensor(sensor);
        let reading = self.command(&request).map_err(|f| self.fail(request.step(), f))?;
        let state = reading.state();
        let cause = match state {
            SensorState::FeederEmpty => Cause::FeederEmpty,
            SensorState::CoverOpen => Cause::CoverOpen,
            SensorState::ExitSlotCardPresent => Cause::ExitSlotOccupied,
            _ => return Ok(state),
        };
        Err(self.error(request.step(), cause))
    }

    fn check_ribbon(&mut self) -> Result<(), PrinterError> {
        let remaining = match self.command(&ReadRibbonRemaining) {
            Ok(remaining) => remaining,
            Err(f) => return Err(self.fail(ReadRibbonRemaining.step(), f)),
        };
        if remaining == 0 {
            return Err(
                self.error(ReadRibbonRemaining.step(), Cause::RibbonOut { detail: "0 prints left".into() })
            );
        }
        let zone = self.command(&ReadRibbonZone).map_err(|f| self.fail(ReadRibbonZone.step(), f))?;
        if let Some(expected) = self.ribbon_zone.clone() {
            if zone != expected {
                return Err(
                    self.error(ReadRibbonZone.step(), Cause::WrongRibbonZone { found: zone, expected })
                );
            }
        }
        Ok(())
    }

    fn ok_step<R: Request<Response = ()>>(&mut self, request: &R) -> Result<(), PrinterError> {
        self.command(request).map_err(|f| self.fail(request.step(), f))
    }

    fn is_inside(&self) -> bool {
        let job = &self.job;
        let ejected = job.eject_sent && !job.eject_refused;
        let rejected = job.reject_sent && !job.reject_refused;
        job.seen_inside && !ejected && !rejected
    }
}

impl<T: PrinterTransport> Printer for EvolisPrinter<T> {
    fn identify(&mut self) -> Result<Identity, PrinterError> {
        let model = self.command(&ReadModel).map_err(|f| self.fail("Rtp", f))?;
        let serial = self.command(&ReadSerial).map_err(|f| self.fail("Rsn", f))?;
        let firmware = self.command(&ReadFirmware).map_err(|f| self.fail("Rfv", f))?;
        let head = self.command(&ReadHead).map_err(|f| self.fail("Rkn", f))?;
        Ok(Identity { model, serial, firmware, head })
    }

    fn status(&mut self) -> Result<Status, PrinterError> {
        let card = self.command(&ReadCardPosition).map_err(|f| self.fail("Rlr;p", f))?;
        let sensor = |me: &mut Self, s: Sensor| {
            let request = ReadSensor(s);
            me.command(&request).map(|r| r.state()).map_err(|f| me.fail(request.step(), f))
        };
        let feeder = sensor(self, Sensor::Feeder)?;
        let cover = sensor(self, Sensor::Cover)?;
        let exit_slot = sensor(self, Sensor::ExitSlot)?;
        let ribbon_remaining = match self.command(&ReadRibbonRemaining) {
            Ok(n) => Some(n),
            Err(Failure::Protocol(ProtocolError::Printer { .. })) => None,
            Err(f) => return Err(self.fail("Rrt;qty", f)),
        };
        Ok(Status { card, feeder, cover, exit_slot, ribbon_remaining })
    }

    fn prepare(&mut self) -> Result<(), PrinterError> {
        self.job = JobTrack::default();
        self.ok_step(&SetHostErrorMode)?;
        self.ok_step(&FeedFromHopper)?;
        self.ok_step(&KeepCardAfterPrint)?;
        self.check_sensor(Sensor::Feeder)?;
        self.check_sensor(Sensor::Cover)?;
        self.check_ribbon()?;
        let position = self.command(&ReadCardPosition).map_err(|f| self.fail("Rlr;p", f))?;
        if position.fault_before_feed().is_some() {
            // Located by `error`: a card of an interrupted job, to be rejected.
            return Err(self.error("Rlr;p", Cause::CardInside));
        }
        self.check_sensor(Sensor::ExitSlot)?;
        Ok(())
    }

    fn move_to(&mut self, station: Station) -> Result<(), PrinterError> {
        if !self.is_inside() {
            self.job.feed_sent = true;
        }
        match station {
            Station::Print => self.ok_step(&MoveToPrint),
            Station::Contact => self.ok_step(&MoveToContact),
            Station::Contactless => self.ok_step(&MoveToContactless),
        }
    }

    fn wait_at(&mut self, station: Station, timeout: Duration) -> Result<(), PrinterError> {
        let start = Instant::now();
        loop {
            let last = self.command(&ReadCardPosition).map_err(|f| self.fail("Rlr;p", f))?;
            if last == station.position() {
                self.job.seen_inside = true;
                return Ok(());
            }
            if start.elapsed() >= timeout {
                let waited = start.elapsed();
                return Err(self.error("Rlr;p", Cause::NotAtStation { target: station, last, waited }));
            }
            std::thread::sleep(self.timeouts.poll.min(timeout.saturating_sub(start.elapsed())));
        }
    }

    fn load(&mut self, station: Station) -> Result<(), PrinterError> {
        self.move_to(station)?;
        self.wait_at(station, self.timeouts.station)
    }

    fn print_face(&mut self, job: &PrintJob) -> Result<(), PrinterError> {
        // Packed before the first command, so a job that cannot be sent sends nothing.
        let (set, downloads) = match (PanelSet::parse(&job.letters()), evolis_downloads(job)) {
            (Some(set), Ok(downloads)) => (set, downloads),
            (None, _) => return Err(self.error("Pr", Cause::Job(format!("panels {:?}", job.letters())))),
            (_, Err(e)) => return Err(self.error("Db", Cause::Job(e.to_string()))),
        };
        if !self.is_inside() {
            // Printing with no card inside feeds one from the hopper.
            self.job.feed_sent = true;
        }
        self.ok_step(&SelectPanels(set))?;
        self.ok_step(&StartSequence)?;
        self.ok_step(&FrontSide)?;
        for download in &downloads {
            self.ok_step(download)?;
        }
        let timeout = self.timeouts.print;
        self.exchange(&EndSequence, timeout).map_err(|f| self.fail("Se", f))?;
        self.job.seen_inside = true;
        Ok(())
    }

    fn eject(&mut self) -> Result<(), PrinterError> {
        self.job.eject_sent = true;
        match self.command(&EndSequence) {
            Ok(()) => {
                self.job.eject_done = true;
                Ok(())
            }
            Err(f) => {
                self.job.eject_refused = matches!(f, Failure::Protocol(_));
                Err(self.fail("Se", f))
            }
        }
    }

    fn reject(&mut self) -> Result<(), PrinterError> {
        self.ok_step(&ReleaseCardAfterPrint)?;
        self.ok_step(&SetRejectMode)?;
        self.job.reject_sent = true;
        self.job.reject_refused = false;
        self.command(&RejectCard).map_err(|f| {
            self.job.reject_refused = matches!(f, Failure::Protocol(_));
            self.fail("Ser", f)
        })
    }

    fn wait_taken(&mut self, timeout: Duration) -> Result<(), PrinterError> {
        let start = Instant::now();
        loop {
            let request = ReadSensor(Sensor::ExitSlot);
            let reading = self.command(&request).map_err(|f| self.fail(request.step(), f))?;
            if reading.state() == SensorState::ExitSlotClear {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(self.error(request.step(), Cause::ExitSlotOccupied));
            }
            std::thread::sleep(self.timeouts.poll.min(timeout.saturating_sub(start.elapsed())));
        }
    }

    fn clean(&mut self) -> Result<(), PrinterError> {
        let timeout = self.timeouts.print;
        self.exchange(&Clean, timeout).map_err(|f| self.fail("Scp", f))
    }

    fn counters(&mut self) -> Result<Counters, PrinterError> {
        let read = |me: &mut Self, c| {
            let request = ReadCounter(c);
            me.command(&request).map_err(|f| me.fail(request.step(), f))
        };
        Ok(Counters {
            printed: read(self, Counter::Printed)?,
            cleaning: read(self, Counter::Cleaning)?,
            since_cleaning: read(self, Counter::SinceCleaning)?,
        })
    }

    fn ribbon(&mut self) -> Result<RibbonInfo, PrinterError> {
        let remaining = self.command(&ReadRibbonRemaining).map_err(|f| self.fail("Rrt;qty", f))?;
        let count = self.command(&ReadRibbonCount).map_err(|f| self.fail("Rrt;count", f))?;
        let zone = self.command(&ReadRibbonZone).map_err(|f| self.fail("Rrt;zone", f))?;
        Ok(RibbonInfo { remaining, count, zone })
    }

    fn whereabouts(&mut self) -> CardWhereabouts {
        self.locate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evolis::FaultKind;
    use std::collections::VecDeque;

    /// A transport answering each request from a function of its command text; `None`
    /// drops the reply (a timeout).
    struct Scripted<F> {
        answer: F,
        pending: VecDeque<Option<String>>,
        sent: Vec<String>,
        reconnects: usize,
    }

    impl<F: FnMut(&str) -> Option<String> + Send> PrinterTransport for Scripted<F> {
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn write_request(&mut self, bytes: &[u8], _: Duration) -> Result<(), TransportError> {
            let text = String::from_utf8_lossy(&bytes[1..bytes.len() - 1]).into_owned();
            let command = text.split(';').take(3).collect::<Vec<_>>().join(";");
            self.pending.push_back((self.answer)(&command));
            self.sent.push(command);
            Ok(())
        }
        fn read_reply(&mut self, waited: Duration) -> Result<Vec<u8>, TransportError> {
            match self.pending.pop_front().flatten() {
                Some(text) => Ok(text.into_bytes()),
                None => Err(TransportError::Timeout { target: "scripted".into(), waited }),
            }
        }
        fn reconnect(&mut self) -> Result<(), TransportError> {
            self.reconnects += 1;
            self.pending.clear();
            Ok(())
        }
    }

    fn printer<F: FnMut(&str) -> Option<String> + Send>(answer: F) -> EvolisPrinter<Scripted<F>> {
        let t = Scripted { answer, pending: VecDeque::new(), sent: Vec::new(), reconnects: 0 };
        let timeouts = Timeouts {
            command: Duration::from_millis(10),
            print: Duration::from_millis(10),
            station: Duration::from_millis(20),
            poll: Duration::from_millis(1),
        };
        EvolisPrinter::new(t).with_timeouts(timeouts)
    }

    fn healthy(command: &str) -> Option<String> {
        Some(
            match command {
                "Rse;f" | "Rse;o" => "5,00 Volts",
                "Rse;b" => "0,00 Volts",
                "Rrt;qty" => "200",
                "Rrt;zone" => "86",
                _ => "OK",
            }
            .to_owned(),
        )
    }

    #[test]
    fn prepare_sends_the_issuance_preamble() {
        let mut p = printer(healthy);
        p.prepare().expect("prepared");
        assert_eq!(
            p.transport().sent,
            ["Pem;2", "Pcim;F", "Pneab;E", "Rse;f", "Rse;o", "Rrt;qty", "Rrt;zone", "Rlr;p", "Rse;b"]
        );
    }

    #[test]
    fn wrong_zone_asks_for_a_ribbon() {
        let mut p = printer(healthy).with_ribbon_zone("33");
        let e = p.prepare().expect_err("an error");
        assert_eq!(
            (e.step, e.kind(), e.card),
            ("Rrt;zone", FaultKind::OperatorRefill, CardWhereabouts::NotFed)
        );
        assert_eq!(e.to_string(), "Rrt;zone: ribbon zone \"86\", this station needs \"33\"; card not fed");
    }

    #[test]
    fn undocumented_error_with_cover_open_asks_to_close_it() {
        let mut p = printer(|c: &str| match c {
            "Sis" => Some("ERR X".into()),
            "Rse;o" => Some("0,00 Volts".into()),
            _ => healthy(c),
        });
        let e = p.move_to(Station::Contact).expect_err("an error");
        assert_eq!(
            (e.step, e.kind(), e.card),
            ("Sis", FaultKind::OperatorCloseCover, CardWhereabouts::NotFed)
        );
    }

    #[test]
    fn card_that_never_arrives_is_a_jam() {
        let mut p = printer(healthy);
        p.move_to(Station::Contact).expect("accepted");
        let e = p.wait_at(Station::Contact, Duration::from_millis(5)).expect_err("an error");
        assert_eq!((e.kind(), e.card), (FaultKind::OperatorClearJam, CardWhereabouts::InPath));
    }

    #[test]
    fn lost_reply_reconnects_and_locates_the_card() {
        let mut p = printer(|c: &str| match c {
            "Sis" => None,
            "Rlr;p" => Some("SMART CARD".into()),
            _ => healthy(c),
        });
        let e = p.move_to(Station::Contact).expect_err("an error");
        assert_eq!((e.kind(), e.card), (FaultKind::Retry, CardWhereabouts::At(Station::Contact)));
        assert_eq!(p.transport().reconnects, 1);
        assert!(matches!(e.cause, Cause::LinkLost(TransportError::Timeout { .. })));
    }
}
