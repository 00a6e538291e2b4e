//! The end-to-end suite on a rig, one step at a time, each step recorded: what it did, how
//! long it took, every APDU (redacted as the station's traces are: headers, lengths and
//! status words, never keys, PINs or personal data) and the card and reader quirks seen.
//!
//! Steps: the doctor's checks on the rig's devices; the printer feeds a card to the contact
//! station; the card's ATR against the profile; SELECT and GET CHALLENGE; the SSSE
//! personalisation with the PSAM and its read-back; the card ejected (rejected after a
//! failure). The card data are the test applicant's (crates/applicant/testdata/adult.json).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use apdu::{expect_ok, Atr, Command, StatusWord};
use card_transport::{Capabilities, Card, CardTransaction, Disposition, TransportError};
use firmware_profile::devices::DeviceProfiles;
use firmware_profile::Profile;
use printer::{Printer, Station};
use serde::Serialize;

use crate::rig::Rig;

const SSSE_AID: &[u8] = b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";
const TEST_APPLICANT: &str = include_str!("../../crates/applicant/testdata/adult.json");

/// One APDU as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ApduLine {
    /// Which device (`card`, `psam`).
    pub to: &'static str,
    /// The command, redacted.
    pub command: String,
    /// The answer's data, redacted.
    pub response: String,
    /// The status word.
    pub sw: String,
    /// Round trip in microseconds.
    pub micros: u64,
}

/// One step of the suite.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// What the step does.
    pub step: String,
    /// Whether it passed.
    pub passed: bool,
    /// Its duration in milliseconds.
    pub millis: u64,
    /// What it found, or why it failed.
    pub detail: String,
    /// Its APDUs.
    pub apdus: Vec<ApduLine>,
    /// Card and reader quirks seen.
    pub quirks: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RigReport {
    /// The rig's name.
    pub rig: String,
    /// The steps in order; the run stops at the first failed step.
    pub steps: Vec<StepReport>,
}

impl RigReport {
    /// True when every step ran and passed.
    pub fn passed(&self) -> bool {
        self.steps.len() == STEPS && self.steps.iter().all(|s| s.passed)
    }

    /// Writes the report as JSON.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self).map_err(std::io::Error::other)?)
    }
}

impl std::fmt::Display for RigReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "rig {}", self.rig)?;
        for s in &self.steps {
            writeln!(
                f,
                "{} {} ({} ms, {} APDUs): {}",
                if s.passed { "PASS" } else { "FAIL" },
                s.step,
                s.millis,
                s.apdus.len(),
                s.detail
            )?;
            for q in &s.quirks {
                writeln!(f, "     quirk: {q}")?;
            }
        }
        Ok(())
    }
}

/// Steps in a full run.
pub const STEPS: usize = 6;

/// Records every APDU through it, and what they show about the card.
struct Traced<'a> {
    inner: &'a mut dyn CardTransaction,
    to: &'static str,
    log: &'a mut Vec<ApduLine>,
    quirks: &'a mut BTreeSet<String>,
}

impl CardTransaction for Traced<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let start = Instant::now();
        let answer = self.inner.transmit(command)?;
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        let (data, sw) = answer.split_at(answer.len().saturating_sub(2));
        let sw_hex = hex::encode_upper(sw);
        match sw.first() {
            Some(0x61) => {
                self.quirks.insert(format!("{}: 61xx, data fetched with GET RESPONSE (T=0)", self.to));
            }
            Some(0x6C) => {
                self.quirks.insert(format!("{}: 6Cxx, command re-sent with the Le it asked for", self.to));
            }
            _ => {}
        }
        self.log.push(ApduLine {
            to: self.to,
            command: card_transport::redact_command(command).to_string(),
            response: if data.is_empty() {
                String::new()
            } else {
                card_transport::redact_response(command, answer.as_slice()).to_string()
            },
            sw: sw_hex,
            micros,
        });
        Ok(answer)
    }

    fn was_reset(&self) -> bool {
        self.inner.was_reset()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// What the steps share.
struct Bench<'r> {
    rig: &'r Rig,
    profile: Profile,
    devices: DeviceProfiles,
    manager: pcsc_reader::PcscManager,
    printer: Option<Box<dyn Printer>>,
    card_in_printer: bool,
}

struct Step {
    detail: String,
    apdus: Vec<ApduLine>,
    quirks: BTreeSet<String>,
}

impl Step {
    fn new() -> Step {
        Step { detail: String::new(), apdus: Vec::new(), quirks: BTreeSet::new() }
    }
}

type StepFn = fn(&mut Bench<'_>, &mut Step) -> Result<(), String>;

/// Runs the suite on `rig`, one step after the other; the card is ejected at the end, or
/// rejected when a step failed with a card inside.
pub fn run(rig: &Rig) -> RigReport {
    let mut report = RigReport { rig: rig.name.clone(), steps: Vec::new() };
    let bench = Profile::load(&rig.card_profile).map_err(|e| e.to_string()).and_then(|profile| {
        let dir = rig.card_profile.parent().unwrap_or(std::path::Path::new("."));
        let devices = DeviceProfiles::load(dir).map_err(|e| e.to_string())?;
        let manager = pcsc_reader::PcscManager::unconnected(doctor::readers::reader_rules(&devices));
        Ok(Bench { rig, profile, devices, manager, printer: None, card_in_printer: false })
    });
    let mut bench = match bench {
        Ok(b) => b,
        Err(e) => {
            report.steps.push(StepReport {
                step: "load the card and device profiles".into(),
                passed: false,
                millis: 0,
                detail: e,
                apdus: Vec::new(),
                quirks: Vec::new(),
            });
            return report;
        }
    };
    let steps: [(&str, StepFn); STEPS] = [
        ("doctor: readers, PSAM, printer, camera", doctor_step),
        ("printer: feed a card to the contact station", feed_step),
        ("card: ATR against the profile", atr_step),
        ("card: SELECT SSSE and GET CHALLENGE", challenge_step),
        ("card: personalise SSSE with the PSAM and read back", personalise_step),
        ("printer: eject the card", eject_step),
    ];
    for (name, step) in steps {
        let start = Instant::now();
        let mut s = Step::new();
        let outcome = step(&mut bench, &mut s);
        let passed = outcome.is_ok();
        if let Err(e) = outcome {
            s.detail = if s.detail.is_empty() { e } else { format!("{}; {e}", s.detail) };
        }
        report.steps.push(StepReport {
            step: name.into(),
            passed,
            millis: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            detail: s.detail,
            apdus: s.apdus,
            quirks: s.quirks.into_iter().collect(),
        });
        if !passed {
            break;
        }
    }
    if bench.card_in_printer {
        if let Some(p) = bench.printer.as_mut() {
            let _ = p.reject();
        }
    }
    report
}

fn doctor_step(b: &mut Bench<'_>, s: &mut Step) -> Result<(), String> {
    let mut report = doctor::Report::default();
    let dir = b.rig.card_profile.parent().unwrap_or(std::path::Path::new("."));
    let plan = doctor::readers::ReaderPlan {
        card_reader: &b.rig.card_reader,
        psam_reader: &b.rig.psam_reader,
        card_profile: Some(&b.profile),
        devices: &b.devices,
        profiles_dir: dir,
    };
    doctor::readers::check_readers(&mut b.manager, &plan, &mut report);
    let opened =
        b.rig.printer.parse::<printer::Selector>().map_err(|e| e.to_string()).and_then(|sel| {
            printer::open_evolis(&sel, printer::Timeouts::default()).map_err(|e| e.to_string())
        });
    match opened {
        Ok(p) => {
            let mut p: Box<dyn Printer> = Box::new(p);
            doctor::printer_check::check_printer(
                Ok(p.as_mut()),
                &b.rig.printer,
                &b.devices,
                dir,
                &mut report,
            );
            b.printer = Some(p);
        }
        Err(e) => doctor::printer_check::check_printer(Err(e), &b.rig.printer, &b.devices, dir, &mut report),
    }
    doctor::camera::check_camera(&b.rig.camera, photo::open_source(&b.rig.camera), &mut report);
    for f in &report.findings {
        if f.severity != doctor::Severity::Ok {
            s.quirks.insert(format!("doctor: {}: {}", f.device.label(), f.summary));
        }
    }
    for name in [&b.rig.card_reader, &b.rig.psam_reader] {
        if let Some((profile, slot)) = doctor::readers::slot_profile(&b.devices, name) {
            s.quirks.insert(format!("reader {name}: profile {} ({})", profile.id, slot.quirks.describe()));
        }
    }
    s.detail = format!("{} findings, exit code {}", report.findings.len(), report.verdict().exit_code());
    if report.verdict() == doctor::Verdict::CannotIssue {
        let blockers: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == doctor::Severity::Blocker)
            .map(|f| format!("{}: {}", f.device.label(), f.summary))
            .collect();
        return Err(format!("the counter cannot issue: {}", blockers.join("; ")));
    }
    Ok(())
}

fn printer_of<'a>(b: &'a mut Bench<'_>) -> Result<&'a mut Box<dyn Printer>, String> {
    b.printer.as_mut().ok_or_else(|| "the printer did not open".to_string())
}

fn feed_step(b: &mut Bench<'_>, s: &mut Step) -> Result<(), String> {
    let card_reader = b.rig.card_reader.clone();
    let info = b.manager.resolve(&card_reader).map_err(|e| e.to_string())?;
    let printer = printer_of(b)?;
    printer.prepare().map_err(|e| format!("prepare: {e}"))?;
    let start = Instant::now();
    printer.load(Station::Contact).map_err(|e| format!("to the contact station: {e}"))?;
    b.card_in_printer = true;
    let event = b
        .manager
        .wait_for_card(&info.name, Some(Duration::from_secs(15)))
        .map_err(|e| format!("waiting for the chip in {}: {e}", info.name))?;
    if !matches!(event, pcsc_reader::ReaderEvent::CardInserted { .. }) {
        return Err(format!(
            "the card reached the contact station but {} saw no chip ({event:?})",
            info.name
        ));
    }
    s.quirks.insert(format!("chip seen by the reader {} ms after the move", start.elapsed().as_millis()));
    s.detail = format!("card at the contact station, chip in {}", info.name);
    Ok(())
}

fn power_up_delay(b: &Bench<'_>, name: &str, s: &mut Step) {
    if let Some((_, slot)) = doctor::readers::slot_profile(&b.devices, name) {
        if slot.quirks.power_up_delay_ms > 0 {
            s.quirks.insert(format!(
                "{name}: waited {} ms after power-up (profile)",
                slot.quirks.power_up_delay_ms
            ));
            std::thread::sleep(Duration::from_millis(u64::from(slot.quirks.power_up_delay_ms)));
        }
    }
}

fn open(b: &mut Bench<'_>, selector: &str, s: &mut Step) -> Result<pcsc_reader::PcscCard, String> {
    let card = b.manager.open(selector).map_err(|e| format!("{selector}: {e}"))?;
    let name = card.reader().name.clone();
    power_up_delay(b, &name, s);
    Ok(card)
}

fn atr_step(b: &mut Bench<'_>, s: &mut Step) -> Result<(), String> {
    let reader = b.rig.card_reader.clone();
    let card = open(b, &reader, s)?;
    let atr = card.atr().to_vec();
    let parsed = Atr::parse(&atr).map_err(|e| format!("ATR {}: {e}", hex::encode_upper(&atr)))?;
    let protocols: Vec<String> = parsed.protocols().iter().map(|p| format!("T={p}")).collect();
    s.quirks.insert(format!("card protocols {}", protocols.join(", ")));
    let caps = card.capabilities();
    s.quirks.insert(format!(
        "card + reader carry {} (at most {} command bytes)",
        if caps.extended_length { "extended APDUs" } else { "short APDUs only" },
        caps.max_command_data
    ));
    Box::new(card).disconnect(Disposition::Leave).map_err(|e| e.to_string())?;
    s.detail = format!("ATR {}", hex::encode_upper(&atr));
    if atr != b.profile.atr.as_bytes() {
        return Err(format!(
            "not the ATR of profile {} ({}): the cards in the hopper are of another batch or card OS",
            b.profile.id,
            hex::encode_upper(b.profile.atr.as_bytes())
        ));
    }
    Ok(())
}

fn challenge_step(b: &mut Bench<'_>, s: &mut Step) -> Result<(), String> {
    let reader = b.rig.card_reader.clone();
    let mut card = open(b, &reader, s)?;
    {
        let mut tx = card.transaction().map_err(|e| e.to_string())?;
        let mut traced = Traced { inner: tx.as_mut(), to: "card", log: &mut s.apdus, quirks: &mut s.quirks };
        let select =
            apdu::transmit(&mut traced, &Command::select_aid(SSSE_AID)).map_err(|e| e.to_string())?;
        if !matches!(select.sw, StatusWord::Success | StatusWord::FileNotFound) {
            return Err(format!("SELECT SSSE answered {}", select.sw));
        }
        let a =
            expect_ok(&mut traced, &Command::get_challenge(8), "GET CHALLENGE").map_err(|e| e.to_string())?;
        let c =
            expect_ok(&mut traced, &Command::get_challenge(8), "GET CHALLENGE").map_err(|e| e.to_string())?;
        if a.len() != 8 || a == c {
            return Err("the card's challenges are not 8 fresh bytes".into());
        }
        s.detail = format!("SELECT SSSE {:04X}, two different challenges", select.sw.as_u16());
    }
    Box::new(card).disconnect(Disposition::Leave).map_err(|e| e.to_string())
}

fn personalise_step(b: &mut Bench<'_>, s: &mut Step) -> Result<(), String> {
    let applicant: applicant::Applicant =
        serde_json::from_str(TEST_APPLICANT).map_err(|e| format!("test applicant: {e}"))?;
    let validated =
        applicant.validate(applicant::days::today()).map_err(|e| format!("test applicant: {e}"))?;
    let card_number =
        validated.card_number.as_ref().map(|n| n.as_str().to_string()).ok_or("no card number")?;
    let params = issuance::records::IssueParams {
        region: b.rig.region.clone(),
        init_org: b.rig.init_org.clone(),
        card_type: '1',
        issue_date: applicant::days::today(),
        validity_years: 10,
        vendor: None,
    };
    let (card_reader, psam_reader) = (b.rig.card_reader.clone(), b.rig.psam_reader.clone());
    let mut card = open(b, &card_reader, s)?;
    let mut psam = open(b, &psam_reader, s)?;
    let atr = card.atr().to_vec();
    let layout = ssse::SsseLayout::from_profile(&b.profile).map_err(|e| e.to_string())?;
    let (issuer, holder) = issuance::records::card_data(&validated, &card_number, &params, &b.profile, &atr)
        .map_err(|e| e.to_string())?;
    let (mut card_log, mut psam_log) = (Vec::new(), Vec::new());
    let done = {
        let mut tx = card.transaction().map_err(|e| e.to_string())?;
        let mut sam_tx = psam.transaction().map_err(|e| e.to_string())?;
        let mut psam_quirks = BTreeSet::new();
        let mut traced = Traced { inner: tx.as_mut(), to: "card", log: &mut card_log, quirks: &mut s.quirks };
        let mut sam =
            Traced { inner: sam_tx.as_mut(), to: "psam", log: &mut psam_log, quirks: &mut psam_quirks };
        let done =
            ssse::personalise(&mut traced, &atr, &mut ssse::Psam::new(&mut sam), &layout, &issuer, &holder);
        s.quirks.extend(psam_quirks);
        done
    };
    s.apdus.extend(card_log);
    s.apdus.extend(psam_log);
    let _ = Box::new(psam).disconnect(Disposition::Leave);
    let _ = Box::new(card).disconnect(Disposition::Leave);
    let done = done.map_err(|e| e.to_string())?;
    s.detail = format!("card id {}, {} records written and read back", done.card_id, done.records);
    Ok(())
}

fn eject_step(b: &mut Bench<'_>, s: &mut Step) -> Result<(), String> {
    let printer = printer_of(b)?;
    printer.eject().map_err(|e| format!("eject: {e}"))?;
    b.card_in_printer = false;
    s.detail = "card ejected".into();
    Ok(())
}
