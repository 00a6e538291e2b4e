//! What the issuance tests share: the counter's card path (the chip and the PSAM in the
//! in-process card simulator, the printer as a state model that fails on command), the issue
//! parameters and a valid applicant.

#![allow(dead_code, reason = "each test binary uses a part of the shared fake")]

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use applicant::{Applicant, Date};
use card_sim::{CardOs, Faults, SharedCard, SimConnection};
use card_transport::Card;
use firmware_profile::Profile;
use issuance::records::IssueParams;
use issuance::{CardPath, CardPlace, DeviceAction, DeviceError, FaceText};

pub fn profile_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles/ssc-3g-sim.toml")
}

pub fn params() -> IssueParams {
    IssueParams {
        region: "110100".into(),
        init_org: "11010000000000000001".into(),
        card_type: '1',
        issue_date: Date::new(2026, 11, 23).expect("date"),
        validity_years: 10,
        vendor: None,
    }
}

/// A valid adult applicant named 测试 with the ID number `ssn` (birth date and sex taken from it).
pub fn adult(ssn: &str) -> Applicant {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../applicant/testdata/adult.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("adult")).expect("json");
    let h = &mut v["holder"];
    h["id_number"] = ssn.into();
    h["birth_date"] = format!("{}-{}-{}", &ssn[6..10], &ssn[10..12], &ssn[12..14]).into();
    h["sex"] = if ssn.as_bytes()[16] % 2 == 1 { "1" } else { "2" }.into();
    h["name"] = "测试".into();
    v.as_object_mut().expect("object").remove("card_number");
    serde_json::from_value(v).expect("applicant")
}

/// `a` with the form's previous card `old` and the holder's signed consent to stop it, as a
/// re-issue of `old` needs.
pub fn consenting(a: &Applicant, old: &str) -> Applicant {
    let previous =
        applicant::PreviousCard { city: None, card_number: Some(old.to_string()), consent_to_stop: true };
    Applicant { previous_card: Some(previous), ..a.clone() }
}

// ---------------------------------------------------------------------------------------
// The printer.

/// Printer faults, as the Evolis driver reports them and the station maps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterFault {
    Jam,
    CoverOpen,
    RibbonOut,
    FeederEmpty,
}

impl PrinterFault {
    pub const ALL: [PrinterFault; 4] =
        [PrinterFault::Jam, PrinterFault::CoverOpen, PrinterFault::RibbonOut, PrinterFault::FeederEmpty];

    /// Whether the fault stops `op` (the others still work).
    fn blocks(self, op: PrinterOp) -> bool {
        match self {
            PrinterFault::Jam | PrinterFault::CoverOpen => true,
            // The printer checks the ribbon before it takes a card and before it prints.
            PrinterFault::RibbonOut => matches!(op, PrinterOp::Feed | PrinterOp::Print),
            PrinterFault::FeederEmpty => op == PrinterOp::Feed,
        }
    }

    /// The printer's reply text and the operator action `station::counter` maps it to.
    fn report(self) -> (&'static str, &'static str) {
        match self {
            PrinterFault::Jam => ("card did not reach the station (jam)", "clear the jammed card"),
            PrinterFault::CoverOpen => ("cover open", "close the printer cover"),
            PrinterFault::RibbonOut => ("ERR RIB DETECTION", "refill the feeder or change the ribbon"),
            PrinterFault::FeederEmpty => ("feeder empty", "refill the feeder or change the ribbon"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterOp {
    Feed,
    Print,
    Eject,
    Reject,
}

/// The card printer as a state model: where the card is, what it did, and a fault that
/// fires at its n-th operation and stays until the operator clears it.
pub struct Printer {
    pub place: CardPlace,
    pub ops: u32,
    pub fail_at: Option<(u32, PrinterFault)>,
    active: Option<PrinterFault>,
    jammed_in: Option<PrinterOp>,
    /// Cards taken from the hopper.
    pub fed: u32,
    /// Cards sent to the reject box by the printer.
    pub rejected: u32,
    /// Spoiled cards the operator took out of a jam.
    pub taken_out: u32,
}

impl Printer {
    fn new() -> Printer {
        Printer {
            place: CardPlace::NotFed,
            ops: 0,
            fail_at: None,
            active: None,
            jammed_in: None,
            fed: 0,
            rejected: 0,
            taken_out: 0,
        }
    }

    fn op(&mut self, op: PrinterOp) -> Result<(), DeviceError> {
        self.ops += 1;
        if let Some((n, fault)) = self.fail_at {
            if n == self.ops {
                self.active = Some(fault);
                // A jam while feeding leaves the card in the hopper; one inside the printer is stuck.
                if fault == PrinterFault::Jam
                    && matches!(self.place, CardPlace::AtContact | CardPlace::AtPrint)
                {
                    self.place = CardPlace::Unknown;
                    self.jammed_in = Some(op);
                }
            }
        }
        match self.active {
            Some(fault) if fault.blocks(op) => {
                let (text, action) = fault.report();
                Err(DeviceError {
                    step: format!("{op:?}").to_lowercase(),
                    message: format!("printer: {text}"),
                    action: DeviceAction::Operator(action.into()),
                })
            }
            _ => Ok(()),
        }
    }

    /// The operator clears the fault; a jammed card comes out by hand (handed over when it
    /// jammed at the exit, else into the reject box).
    pub fn clear(&mut self) {
        self.fail_at = None;
        self.active = None;
        if let Some(op) = self.jammed_in.take() {
            if op == PrinterOp::Eject {
                self.place = CardPlace::Ejected;
            } else {
                self.taken_out += 1;
                self.place = CardPlace::Rejected;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The card path.

/// The counter's card path: the printer model and the chip in the in-process simulator.
pub struct SimPath {
    profile: Arc<Profile>,
    pub card: SharedCard,
    pub psam: SharedCard,
    pub printer: Printer,
    pub printed: Vec<FaceText>,
    /// The next print spoils the card (the ribbon breaks): the card goes to the reject box.
    pub fail_next_print: bool,
    /// When set, the print of the k-th card waits (up to 10 s) for the identity check of the
    /// (k+1)-th person, and records whether it came: the desk stage overlapping the devices.
    pub overlap: Option<Overlap>,
}

/// Identity checks counted by the register, seen from the printer.
pub struct Overlap {
    pub checks: Arc<(Mutex<usize>, Condvar)>,
    pub people: usize,
    pub seen_while_printing: Vec<bool>,
}

/// A chip or PSAM error as the station's counter maps it: the card is spoiled.
fn card_err(step: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError { step: step.into(), message: e.to_string(), action: DeviceAction::RejectCard }
}

impl SimPath {
    pub fn new() -> SimPath {
        let profile = Arc::new(Profile::load(profile_path()).expect("profile"));
        let sim = |name: &str, blank| {
            card_sim::build_card(&card_sim::SimConfig {
                profile: profile_path().with_file_name(name),
                state: None,
                faults: Faults::default(),
                vpcd: "127.0.0.1:9".parse().expect("addr"),
                blank,
            })
            .expect("sim")
        };
        SimPath {
            profile,
            card: sim("ssc-3g-sim.toml", true),
            psam: sim("psam-sim.toml", false),
            printer: Printer::new(),
            printed: Vec::new(),
            fail_next_print: false,
            overlap: None,
        }
    }

    fn at_contact(&self, step: &str) -> Result<(), DeviceError> {
        match self.printer.place {
            CardPlace::AtContact => Ok(()),
            other => Err(card_err(step, format!("no card at the contact station ({other:?})"))),
        }
    }

    /// Holds the k-th card at the printer until the (k+1)-th person has been checked.
    fn wait_for_the_next_check(&mut self) {
        let Some(o) = self.overlap.as_mut() else { return };
        let next = self.printed.len() + 2;
        if next <= o.people {
            let (count, changed) = &*o.checks;
            let checked = count.lock().expect("checks");
            let (checked, _) =
                changed.wait_timeout_while(checked, Duration::from_secs(10), |n| *n < next).expect("checks");
            o.seen_while_printing.push(*checked >= next);
        }
    }
}

impl CardPath for SimPath {
    fn whereabouts(&mut self) -> CardPlace {
        self.printer.place
    }
    fn feed(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.printer.op(PrinterOp::Feed)?;
        let mut factory =
            card_sim::factory_for(&self.profile, &profile_path()).map_err(|e| card_err("feed", e))?;
        factory.blank = true;
        *card_sim::lock(&self.card).os_mut() = CardOs::manufacture(self.profile.clone(), &factory);
        self.printer.fed += 1;
        self.printer.place = CardPlace::AtContact;
        self.atr()
    }
    fn atr(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.at_contact("card at the contact station")?;
        Ok(card_sim::lock(&self.card).atr())
    }
    fn personalise_financial(
        &mut self,
        _: &issuance::FinancialHolder<'_>,
    ) -> Result<Option<issuance::FinancialDone>, DeviceError> {
        Ok(None)
    }
    fn print(&mut self, face: &FaceText) -> Result<(), DeviceError> {
        if self.printer.place == CardPlace::AtContact {
            self.printer.place = CardPlace::AtPrint;
        }
        self.printer.op(PrinterOp::Print)?;
        if std::mem::take(&mut self.fail_next_print) {
            return Err(card_err("print face", "ribbon broke"));
        }
        self.wait_for_the_next_check();
        self.printed.push(face.clone());
        self.printer.place = CardPlace::AtContact;
        Ok(())
    }
    fn personalise_ssc(
        &mut self,
        atr: &[u8],
        issuer: &ssse::IssuerData,
        holder: &ssse::HolderData,
    ) -> Result<(), DeviceError> {
        self.at_contact("personalise")?;
        let layout = ssse::SsseLayout::from_profile(&self.profile).map_err(|e| card_err("layout", e))?;
        let mut card =
            SimConnection::connect("sim 0", self.card.clone()).map_err(|e| card_err("card reader", e))?;
        let mut psam =
            SimConnection::connect("sim 1", self.psam.clone()).map_err(|e| card_err("PSAM reader", e))?;
        let mut tx = card.transaction().map_err(|e| card_err("card transaction", e))?;
        let mut sam = psam.transaction().map_err(|e| card_err("PSAM transaction", e))?;
        ssse::personalise(tx.as_mut(), atr, &mut ssse::Psam::new(sam.as_mut()), &layout, issuer, holder)
            .map(|_| ())
            .map_err(|e| card_err("personalise the social-security application", e))
    }
    fn read_chip(&mut self, atr: &[u8]) -> Result<ssse::CardData, DeviceError> {
        self.at_contact("read the chip back")?;
        let mut card =
            SimConnection::connect("sim 0", self.card.clone()).map_err(|e| card_err("card reader", e))?;
        let mut tx = card.transaction().map_err(|e| card_err("card transaction", e))?;
        ssse::read_card(tx.as_mut(), atr).map_err(|e| card_err("read the chip back", e))
    }
    fn eject(&mut self) -> Result<(), DeviceError> {
        self.printer.op(PrinterOp::Eject)?;
        self.printer.place = CardPlace::Ejected;
        Ok(())
    }
    fn reject(&mut self) -> Result<(), DeviceError> {
        self.printer.op(PrinterOp::Reject)?;
        self.printer.place = CardPlace::Rejected;
        self.printer.rejected += 1;
        Ok(())
    }
}
