//! The printer's state model (printer.md, "Simulator model") and how it answers each request,
//! as parsed by `evolis::codec::RequestParser`: one shared protocol definition for the driver
//! and the simulator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use evolis::codec::ParsedRequest;
use evolis::{DownloadBitmap, Levels, Panel, PanelSet};
use tracing::{debug, info};

use crate::face::PrintedFace;
use crate::faults::{step_matches, Fault, Injection, Trigger};
use crate::timing::Timing;

/// Where a card inside the printer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardPlace {
    /// Under the print head (`CARD`).
    Print,
    /// In the contact chip reader (`SMART CARD`).
    Contact,
    /// At the contactless antenna (`CONTACTLESS CARD`).
    Contactless,
    /// Stuck in the card path: seen at no station.
    Jammed,
}

/// The ribbon loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ribbon {
    /// Its panels, e.g. `YMCKO`.
    pub kind: String,
    /// Prints when new.
    pub capacity: u32,
    /// Prints left.
    pub remaining: u32,
    /// The region it is locked to.
    pub zone: String,
}

/// The printer's state: everything printer.md's model lists.
#[derive(Debug, Clone)]
pub struct PrinterState {
    /// The card inside, if any.
    pub card: Option<CardPlace>,
    /// When the card reaches `card` (it reads as no card until then).
    pub arrives_at: Option<Instant>,
    /// Cards in the hopper.
    pub feeder: u32,
    /// Cards taken from the hopper, in total.
    pub fed: u32,
    /// Cards in the reject box.
    pub reject_box: u32,
    /// A card waits at the exit slot.
    pub exit_slot: bool,
    /// Cards ejected through the exit slot, in total.
    pub ejected: u32,
    /// Cards taken out of the card path by the operator after a jam.
    pub cleared: u32,
    /// The cover is open.
    pub cover_open: bool,
    /// The ribbon, `None` when none is loaded.
    pub ribbon: Option<Ribbon>,
    /// `Pem;2` was received: the host handles errors.
    pub host_error_mode: bool,
    /// `Pneab;E`: the card stays in after printing.
    pub no_eject: bool,
    /// The panels `Pr` selected.
    pub panels: PanelSet,
    /// The sequence being downloaded (between `Ss` and `Se`).
    pub sequence: Option<Sequence>,
    /// Cards printed (`Rco;p`).
    pub printed: u32,
    /// Cleaning cycles run (`Rco;c`).
    pub cleanings: u32,
    /// Cards since the last cleaning (`Rlr;c`).
    pub since_cleaning: u32,
    /// The next card movement jams.
    pub jam_pending: bool,
    /// The next print fails with a head temperature error.
    pub head_hot: bool,
    /// Panels left before the ribbon runs out, when a ribbon end was injected.
    pub ribbon_ends_after: Option<u32>,
    /// Simulated printer time spent, unscaled.
    pub busy: Duration,
}

/// A print sequence being downloaded.
#[derive(Debug, Clone, Default)]
pub struct Sequence {
    /// `Sv` was sent: the panels are for the back.
    pub back: bool,
    /// The panels downloaded for the front, by letter (a later download replaces one).
    pub front: BTreeMap<char, DownloadBitmap>,
    /// The panels downloaded for the back (kept, not printed: the model is simplex).
    pub back_panels: BTreeMap<char, DownloadBitmap>,
}

/// How the simulator starts.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Cards in the hopper.
    pub feeder: u32,
    /// Ribbon prints.
    pub ribbon_capacity: u32,
    /// Ribbon region.
    pub ribbon_zone: String,
    /// Take a card from the exit slot at once (an applicant who never dawdles).
    pub auto_take: bool,
    /// Where printed faces are written as PNG; `None` keeps them in memory only.
    pub out_dir: Option<PathBuf>,
    /// The timing model.
    pub timing: Timing,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            feeder: 100,
            ribbon_capacity: 200,
            ribbon_zone: "86".into(),
            auto_take: false,
            out_dir: None,
            timing: Timing::fast(),
        }
    }
}

/// What the link does with a request's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply text (sent with a NUL), `None` for none.
    pub reply: Option<String>,
    /// The link hangs up instead of replying.
    pub hang_up: bool,
    /// How long to wait before replying (already scaled).
    pub delay: Duration,
}

/// A move of the card, as a request made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardMove {
    /// Where the card is now (`None`: out of the printer).
    pub place: Option<CardPlace>,
    /// Whether a new card was fed from the hopper.
    pub fed: bool,
    /// How a card left the printer, when one did.
    pub left: Option<CardExit>,
}

/// How a card leaves the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardExit {
    /// Through the exit slot, to the applicant.
    Ejected,
    /// Into the reject box (spoiled).
    Rejected,
}

/// Told when a request moved the card. The station's simulated stack uses it to put a fresh
/// blank chip into the virtual reader when a card reaches the contact station, as the encoder
/// inside a real printer does, and to keep the cards it ejects.
pub type CardObserver = Box<dyn FnMut(CardMove) + Send>;

/// The whole simulated printer: state, pending injections, printed faces.
pub struct Model {
    /// The state.
    pub state: PrinterState,
    config: ModelConfig,
    injections: Vec<Injection>,
    seen: BTreeMap<String, u32>,
    faces: Vec<PrintedFace>,
    requests: u64,
    observer: Option<CardObserver>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("state", &self.state)
            .field("injections", &self.injections)
            .field("faces", &self.faces.len())
            .field("requests", &self.requests)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

const VOLTS_HIGH: &str = "5,00 Volts";
const VOLTS_LOW: &str = "0,00 Volts";

impl Model {
    /// A printer with a full hopper and a new ribbon.
    pub fn new(config: ModelConfig) -> Self {
        let state = PrinterState {
            card: None,
            arrives_at: None,
            feeder: config.feeder,
            fed: 0,
            reject_box: 0,
            exit_slot: false,
            ejected: 0,
            cleared: 0,
            cover_open: false,
            ribbon: Some(Ribbon {
                kind: "YMCKO".into(),
                capacity: config.ribbon_capacity,
                remaining: config.ribbon_capacity,
                zone: config.ribbon_zone.clone(),
            }),
            host_error_mode: false,
            no_eject: false,
            panels: PanelSet::ymcko(),
            sequence: None,
            printed: 0,
            cleanings: 0,
            since_cleaning: 0,
            jam_pending: false,
            head_hot: false,
            ribbon_ends_after: None,
            busy: Duration::ZERO,
        };
        Self {
            state,
            config,
            injections: Vec::new(),
            seen: BTreeMap::new(),
            faces: Vec::new(),
            requests: 0,
            observer: None,
        }
    }

    /// Sets the observer of card moves.
    pub fn observe(&mut self, observer: CardObserver) {
        self.observer = Some(observer);
    }

    /// Adds a fault (fired now or when its command arrives).
    pub fn inject(&mut self, injection: Injection) {
        if injection.trigger == Trigger::Now {
            self.fire(&injection.fault);
        } else {
            self.injections.push(injection);
        }
    }

    /// The faces printed so far.
    pub fn faces(&self) -> &[PrintedFace] {
        &self.faces
    }

    /// Requests handled so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The timing model.
    pub fn timing(&self) -> Timing {
        self.config.timing
    }

    /// The card position as `Rlr;p` sees it at `now`: a moving card is at no station yet.
    pub fn visible_card(&self, now: Instant) -> Option<CardPlace> {
        match (self.state.card, self.state.arrives_at) {
            (Some(_), Some(at)) if at > now => None,
            (card, _) => card,
        }
    }

    /// Operator: closes the cover.
    pub fn close_cover(&mut self) {
        self.state.cover_open = false;
    }

    /// Operator: refills the hopper.
    pub fn refill(&mut self, cards: u32) {
        self.state.feeder += cards;
    }

    /// Operator: loads a new ribbon.
    pub fn load_ribbon(&mut self) {
        let capacity = self.config.ribbon_capacity;
        self.state.ribbon = Some(Ribbon {
            kind: "YMCKO".into(),
            capacity,
            remaining: capacity,
            zone: self.config.ribbon_zone.clone(),
        });
        self.state.ribbon_ends_after = None;
    }

    /// Operator: takes a jammed card out of the path.
    pub fn clear_jam(&mut self) {
        if self.state.card == Some(CardPlace::Jammed) {
            self.state.card = None;
            self.state.arrives_at = None;
            self.state.cleared += 1;
        }
        self.state.jam_pending = false;
    }

    /// Applicant: takes the card from the exit slot.
    pub fn take_card(&mut self) {
        self.state.exit_slot = false;
    }

    fn fire(&mut self, fault: &Fault) {
        info!(?fault, "fault injected");
        let s = &mut self.state;
        match fault {
            Fault::FeederEmpty => s.feeder = 0,
            Fault::CoverOpen => s.cover_open = true,
            Fault::Jam => s.jam_pending = true,
            Fault::RibbonOut => {
                if let Some(r) = &mut s.ribbon {
                    r.remaining = 0;
                }
            }
            Fault::RibbonEndsAfter(n) => s.ribbon_ends_after = Some(*n),
            Fault::WrongZone(zone) => {
                if let Some(r) = &mut s.ribbon {
                    r.zone = zone.clone();
                }
            }
            Fault::HeadTemperature => s.head_hot = true,
            Fault::Drop => {}
        }
    }

    /// Fires the injections due at this request; true when one of them drops the link.
    fn fire_due(&mut self, command: &str) -> bool {
        let keys: Vec<String> =
            self.injections.iter().filter_map(trigger_step).filter(|s| step_matches(command, s)).collect();
        for key in keys {
            *self.seen.entry(key).or_default() += 1;
        }
        let mut drop = false;
        let mut fired = Vec::new();
        self.injections.retain(|i| match &i.trigger {
            Trigger::At { step, nth } if step_matches(command, step) && self.seen.get(step) == Some(nth) => {
                fired.push(i.fault.clone());
                false
            }
            _ => true,
        });
        for fault in fired {
            drop |= fault == Fault::Drop;
            self.fire(&fault);
        }
        drop
    }

    /// Handles one request at `now`.
    pub fn handle(&mut self, request: &ParsedRequest, now: Instant) -> Outcome {
        let s = &self.state;
        let before = (s.card, s.fed, s.ejected, s.reject_box);
        let outcome = self.handle_request(request, now);
        let s = &self.state;
        if (s.card, s.fed, s.ejected, s.reject_box) != before {
            let left = if s.ejected > before.2 {
                Some(CardExit::Ejected)
            } else if s.reject_box > before.3 {
                Some(CardExit::Rejected)
            } else {
                None
            };
            let moved = CardMove { place: s.card, fed: s.fed > before.1, left };
            if let Some(observer) = self.observer.as_mut() {
                observer(moved);
            }
        }
        outcome
    }

    fn handle_request(&mut self, request: &ParsedRequest, now: Instant) -> Outcome {
        self.requests += 1;
        let command = request.command();
        let hang_up = self.fire_due(&command);
        let timing = self.config.timing;
        let mut busy = timing.command;
        let reply = self.answer(request, now, &mut busy);
        self.state.busy += busy;
        debug!(%command, reply = %reply, "sim");
        // Moves answer at once and the card arrives later; only printing, ejecting and
        // cleaning hold the reply for the time they take.
        let held =
            if matches!(request.mnemonic.as_str(), "Se" | "Ser" | "Scp") { busy } else { timing.command };
        Outcome { reply: (!hang_up).then_some(reply), hang_up, delay: timing.scaled(held) }
    }

    fn answer(&mut self, request: &ParsedRequest, now: Instant, busy: &mut Duration) -> String {
        let params: Vec<&str> = request.params.iter().map(String::as_str).collect();
        let ok = || "OK".to_owned();
        let volts = |high: bool| if high { VOLTS_HIGH } else { VOLTS_LOW }.to_owned();
        match (request.mnemonic.as_str(), params.as_slice()) {
            ("Rtp", []) => "Primacy".into(),
            ("Rsn", []) => "SIM00001".into(),
            ("Rfv", []) => "1.0.0-sim".into(),
            ("Rkn", []) => "KH-SIM-300".into(),
            ("Pem", [mode]) => {
                self.state.host_error_mode = *mode == "2";
                ok()
            }
            ("Pcim", [_]) | ("Pcrm", [_]) => ok(),
            ("Pneab", ["E"]) => {
                self.state.no_eject = true;
                ok()
            }
            ("Pneab", [_, ..]) => {
                self.state.no_eject = false;
                ok()
            }
            ("Rlr", ["p"]) => match self.visible_card(now) {
                None | Some(CardPlace::Jammed) => ok(),
                Some(CardPlace::Print) => "CARD".into(),
                Some(CardPlace::Contact) => "SMART CARD".into(),
                Some(CardPlace::Contactless) => "CONTACTLESS CARD".into(),
            },
            ("Rlr", ["c"]) => self.state.since_cleaning.to_string(),
            ("Rco", ["p"]) => self.state.printed.to_string(),
            ("Rco", ["c"]) => self.state.cleanings.to_string(),
            ("Rse", ["b"]) => volts(self.state.exit_slot),
            ("Rse", ["f"]) => volts(self.state.feeder > 0),
            ("Rse", ["o"]) => volts(!self.state.cover_open),
            ("Rrt", [what @ ("qty" | "count" | "zone")]) => match &self.state.ribbon {
                Some(r) if r.remaining > 0 => match *what {
                    "qty" => r.remaining.to_string(),
                    "count" => r.capacity.to_string(),
                    _ => r.zone.clone(),
                },
                _ => "ERR RIB DETECTION".into(),
            },
            ("Si", []) => self.move_card(CardPlace::Print, now, busy),
            ("Sis", []) => self.move_card(CardPlace::Contact, now, busy),
            ("Sic", []) => self.move_card(CardPlace::Contactless, now, busy),
            ("Pr", [letters]) => match PanelSet::parse(letters) {
                Some(set) => {
                    self.state.panels = set;
                    ok()
                }
                None => "ERR PARAM".into(),
            },
            ("Ss", []) => {
                self.state.sequence = Some(Sequence::default());
                ok()
            }
            ("Sr" | "Sv", []) => match &mut self.state.sequence {
                Some(seq) => {
                    seq.back = request.mnemonic == "Sv";
                    ok()
                }
                None => "ERR SEQUENCE".into(),
            },
            ("Db", [panel, _]) => {
                let (Some(data), Some(seq)) = (&request.data, &mut self.state.sequence) else {
                    return "ERR SEQUENCE".into();
                };
                // The parser checked panel, levels and length; a download it let through that
                // does not make a panel is refused as a real printer refuses a bad parameter.
                let levels = params[1].parse().ok().and_then(Levels::from_value);
                let panel = panel.bytes().next().and_then(Panel::from_letter);
                let Some(bitmap) = panel
                    .zip(levels)
                    .and_then(|(panel, levels)| DownloadBitmap::new(panel, levels, data.clone()).ok())
                else {
                    return "ERR PARAM".into();
                };
                let side = if seq.back { &mut seq.back_panels } else { &mut seq.front };
                side.insert(bitmap.panel().letter(), bitmap);
                ok()
            }
            ("Se", []) => match self.state.sequence.take() {
                Some(seq) => self.print(seq, now, busy),
                None => self.eject(now, busy),
            },
            ("Ser", []) => self.reject(now, busy),
            ("Scs", []) => {
                self.state.head_hot = false;
                ok()
            }
            ("Srs", []) => {
                self.state.sequence = None;
                self.state.head_hot = false;
                ok()
            }
            ("Scp", []) => {
                if self.state.cover_open {
                    return "ERR COVER OPEN".into();
                }
                if self.state.card.is_some() {
                    return "ERR CARD PRESENT".into();
                }
                *busy += self.config.timing.clean;
                self.state.cleanings += 1;
                self.state.since_cleaning = 0;
                ok()
            }
            _ => "ERROR CDE".into(),
        }
    }

    /// Checks shared by every card movement; `Err` is the reply refusing it.
    fn can_move(&self) -> Result<(), String> {
        if self.state.cover_open {
            return Err("ERR COVER OPEN".into());
        }
        if self.state.card == Some(CardPlace::Jammed) {
            return Err("ERR CARD JAM".into());
        }
        Ok(())
    }

    /// Takes a card from the hopper into the path; `Err` is the refusal.
    fn feed(&mut self) -> Result<(), String> {
        if self.state.feeder == 0 {
            return Err("ERR FEEDER EMPTY".into());
        }
        self.state.feeder -= 1;
        self.state.fed += 1;
        Ok(())
    }

    fn move_card(&mut self, to: CardPlace, now: Instant, busy: &mut Duration) -> String {
        if let Err(refusal) = self.can_move() {
            return refusal;
        }
        let duration = if self.state.card.is_none() {
            if let Err(refusal) = self.feed() {
                return refusal;
            }
            self.config.timing.insert
        } else {
            self.config.timing.transfer
        };
        *busy += duration;
        if std::mem::take(&mut self.state.jam_pending) {
            self.state.card = Some(CardPlace::Jammed);
            self.state.arrives_at = None;
        } else {
            self.state.card = Some(to);
            self.state.arrives_at = Some(now + self.config.timing.scaled(duration));
        }
        "OK".into()
    }

    fn print(&mut self, seq: Sequence, now: Instant, busy: &mut Duration) -> String {
        if let Err(refusal) = self.can_move() {
            return refusal;
        }
        // A ribbon of another region is refused as a missing one: the printer's lock is on
        // its own zone, the one it was set up with.
        let usable = |r: &Ribbon| r.remaining > 0 && r.zone == self.config.ribbon_zone;
        if !self.state.ribbon.as_ref().is_some_and(usable) {
            return "ERR RIB DETECTION".into();
        }
        if std::mem::take(&mut self.state.head_hot) {
            return "ERR HEAD TEMP".into();
        }
        if self.state.card.is_none() {
            if let Err(refusal) = self.feed() {
                return refusal;
            }
            *busy += self.config.timing.insert;
        } else if self.state.card != Some(CardPlace::Print) {
            *busy += self.config.timing.transfer;
        }
        if std::mem::take(&mut self.state.jam_pending) {
            self.state.card = Some(CardPlace::Jammed);
            self.state.arrives_at = None;
            return "ERR CARD JAM".into();
        }
        self.state.card = Some(CardPlace::Print);
        self.state.arrives_at = None;
        let mut printed = String::new();
        let mut complete = true;
        for letter in self.state.panels.as_str().chars() {
            if self.state.ribbon_ends_after == Some(0) {
                if let Some(r) = &mut self.state.ribbon {
                    r.remaining = 0;
                }
                complete = false;
                break;
            }
            if let Some(n) = &mut self.state.ribbon_ends_after {
                *n -= 1;
            }
            *busy += self.config.timing.panel;
            printed.push(letter);
        }
        let received: Vec<&DownloadBitmap> = seq.front.values().collect();
        let face = PrintedFace::decode(printed, &received, complete);
        self.record_face(face);
        if !complete {
            return "ERR RIB DETECTION".into();
        }
        if let Some(r) = &mut self.state.ribbon {
            r.remaining -= 1;
        }
        self.state.printed += 1;
        self.state.since_cleaning += 1;
        if !self.state.no_eject {
            return self.eject(now, busy);
        }
        "OK".into()
    }

    fn record_face(&mut self, mut face: PrintedFace) {
        let index = self.faces.len();
        if let Some(dir) = &self.config.out_dir {
            let suffix = if face.complete { "" } else { "-partial" };
            let path = dir.join(format!("card-{:04}{suffix}.png", index + 1));
            match face.write_png(&path) {
                Ok(()) => {
                    info!(path = %path.display(), "face written");
                    face.png = Some(path);
                }
                Err(e) => tracing::error!(path = %path.display(), error = %e, "cannot write the face"),
            }
        }
        self.faces.push(face);
    }

    fn eject(&mut self, _now: Instant, busy: &mut Duration) -> String {
        if let Err(refusal) = self.can_move() {
            return refusal;
        }
        if self.state.card.is_none() {
            return "ERR NO CARD".into();
        }
        *busy += self.config.timing.eject;
        if std::mem::take(&mut self.state.jam_pending) {
            self.state.card = Some(CardPlace::Jammed);
            self.state.arrives_at = None;
            return "ERR CARD JAM".into();
        }
        self.state.card = None;
        self.state.arrives_at = None;
        self.state.ejected += 1;
        self.state.exit_slot = !self.config.auto_take;
        "OK".into()
    }

    fn reject(&mut self, _now: Instant, busy: &mut Duration) -> String {
        if let Err(refusal) = self.can_move() {
            return refusal;
        }
        if self.state.card.is_none() {
            return "ERR NO CARD".into();
        }
        *busy += self.config.timing.eject;
        if std::mem::take(&mut self.state.jam_pending) {
            self.state.card = Some(CardPlace::Jammed);
            self.state.arrives_at = None;
            return "ERR CARD JAM".into();
        }
        self.state.card = None;
        self.state.arrives_at = None;
        self.state.reject_box += 1;
        "OK".into()
    }
}

fn trigger_step(injection: &Injection) -> Option<String> {
    match &injection.trigger {
        Trigger::At { step, .. } => Some(step.clone()),
        Trigger::Now => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evolis::codec::{encode_reply, RequestParser};
    use evolis::{encode_to_vec, DownloadBitmap, Panel};

    /// Feeds raw request bytes through the protocol's parser and the model, and returns the
    /// reply stream exactly as the printer would send it.
    fn exchange(model: &mut Model, bytes: &[u8]) -> Vec<u8> {
        let mut parser = RequestParser::new();
        let mut buf = bytes.to_vec();
        let mut out = Vec::new();
        while let Some(request) = parser.decode(&mut buf).expect("parses") {
            if let Some(reply) = model.handle(&request, Instant::now()).reply {
                encode_reply(&reply, &mut out);
            }
        }
        out
    }

    fn replies(model: &mut Model, bytes: &[u8]) -> Vec<String> {
        let out = exchange(model, bytes);
        out.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into()).collect()
    }

    #[test]
    fn the_observer_sees_a_new_card_reach_the_contact_station_and_leave() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut m = Model::new(ModelConfig::default());
        let log = seen.clone();
        m.observe(Box::new(move |moved| log.lock().expect("log").push(moved)));
        replies(&mut m, b"\x1bPem;2\r\x1bPcim;F\r\x1bPneab;E\r\x1bSis\r\x1bRlr;p\r\x1bSi\r\x1bSe\r");
        let seen = seen.lock().expect("log").clone();
        let first = seen.first().expect("moves");
        assert_eq!((first.place, first.fed), (Some(CardPlace::Contact), true), "{seen:?}");
        let last = seen.last().expect("moves");
        assert_eq!((last.place, last.left), (None, Some(CardExit::Ejected)), "{seen:?}");
        assert!(seen[1..].iter().all(|m| !m.fed), "one card fed: {seen:?}");
        assert!(seen[..seen.len() - 1].iter().all(|m| m.left.is_none()), "{seen:?}");
    }

    #[test]
    fn a_card_on_the_wire() {
        let mut m = Model::new(ModelConfig::default());
        let dye = |p| DownloadBitmap::new(p, Levels::L128, vec![0; Levels::L128.panel_len()]).expect("ok");
        let mono = |p| DownloadBitmap::new(p, Levels::L2, vec![0xFF; Levels::L2.panel_len()]).expect("ok");
        let mut wire =
            b"\x1bPem;2\r\x1bPcim;F\r\x1bPneab;E\r\x1bRse;f\r\x1bRse;o\r\x1bRrt;qty\r\x1bRrt;zone\r".to_vec();
        wire.extend_from_slice(b"\x1bRlr;p\r\x1bSis\r\x1bRlr;p\r\x1bPr;ymcko\r\x1bSs\r\x1bSr\r");
        for p in [dye(Panel::Y), dye(Panel::M), dye(Panel::C), mono(Panel::K), mono(Panel::O)] {
            wire.extend_from_slice(&encode_to_vec(&p));
        }
        wire.extend_from_slice(
            b"\x1bSe\r\x1bRlr;p\r\x1bSe\r\x1bRlr;p\r\x1bRse;b\r\x1bRco;p\r\x1bRtp\r\x1bXyz\r",
        );
        assert_eq!(
            replies(&mut m, &wire),
            [
                "OK",
                "OK",
                "OK",
                "5,00 Volts",
                "5,00 Volts",
                "200",
                "86",
                "OK",
                "OK",
                "SMART CARD",
                "OK",
                "OK",
                "OK",
                "OK",
                "OK",
                "OK",
                "OK",
                "OK",
                "OK",
                "CARD",
                "OK",
                "OK",
                "5,00 Volts",
                "1",
                "Primacy",
                "ERROR CDE"
            ]
        );
        assert_eq!((m.state.feeder, m.state.ejected, m.state.exit_slot), (99, 1, true));
        assert_eq!(m.faces().len(), 1);
        assert_eq!(m.faces()[0].inked(Panel::K), 1016 * 648);
        assert_eq!(m.faces()[0].printed, "ymcko");
        assert_eq!(m.state.ribbon.as_ref().map(|r| r.remaining), Some(199));
        // printer time: insert + 5 panels + eject + 26 commands
        assert_eq!(m.state.busy, Duration::from_millis(1500 + 500 + 5 * 4000 + 1000 + 26 * 5));
    }

    #[test]
    fn faults_answer_as_printer_md_says() {
        let mut m = Model::new(ModelConfig::default());
        m.inject(Injection::now(Fault::FeederEmpty));
        m.inject(Injection::now(Fault::CoverOpen));
        assert_eq!(
            replies(&mut m, b"\x1bRse;f\r\x1bRse;o\r\x1bSis\r"),
            ["0,00 Volts", "0,00 Volts", "ERR COVER OPEN"]
        );
        m.close_cover();
        assert_eq!(replies(&mut m, b"\x1bSis\r"), ["ERR FEEDER EMPTY"]);
        m.refill(5);
        m.inject(Injection::at("Sis", 1, Fault::Jam));
        assert_eq!(replies(&mut m, b"\x1bSis\r\x1bRlr;p\r\x1bSe\r"), ["OK", "OK", "ERR CARD JAM"]);
        m.clear_jam();
        assert_eq!(m.state.cleared, 1);
        m.inject(Injection::now(Fault::RibbonOut));
        assert_eq!(
            replies(&mut m, b"\x1bRrt;qty\r\x1bRrt;zone\r"),
            ["ERR RIB DETECTION", "ERR RIB DETECTION"]
        );
    }

    #[test]
    fn ribbon_ends_mid_print_and_drop_loses_the_reply() {
        let mut m = Model::new(ModelConfig::default());
        m.inject(Injection::now(Fault::RibbonEndsAfter(2)));
        m.inject(Injection::at("Rlr;p", 2, Fault::Drop));
        let r = replies(&mut m, b"\x1bPneab;E\r\x1bSis\r\x1bRlr;p\r\x1bRlr;p\r\x1bSs\r\x1bSe\r\x1bRlr;p\r");
        assert_eq!(r, ["OK", "OK", "SMART CARD", "OK", "ERR RIB DETECTION", "CARD"]);
        assert!(!m.faces()[0].complete);
        assert_eq!(m.faces()[0].printed, "ym");
    }
}
