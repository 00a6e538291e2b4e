//! `station doctor`: checks every device a counter's configuration names before the first
//! applicant sits down, and says for each problem what the operator does about it, in Chinese
//! and English. The verdict is an exit code a monitoring script reads: 0 the counter can
//! issue, 3 it can with warnings, 4 it cannot (1 and 2 are `station`'s failure and usage codes:
//! the whole table is in `station::exit`).
//!
//! One check per device kind, each behind the trait the station already drives that device
//! with, so the tests run them on the simulators:
//! - [`readers::check_readers`] over [`card_transport::ReaderManager`]: pcscd, the card and
//!   PSAM readers with their device profiles, the PSAM's master keys, a card in the field;
//! - [`printer_check::check_printer`] over [`printer::Printer`]: model, cover, feeder, ribbon;
//! - [`camera::check_camera`] over [`photo::FrameSource`]: frames arrive;
//! - [`archive::check_archive`]: the station certificate (dates, chain, name) and, over
//!   [`archive::ArchiveProbe`], the provincial service's reachability and clock skew;
//! - [`verification::check_verification`]: the identity verification service's URL, CA and
//!   client identity, and a request over its TLS session.
#![forbid(unsafe_code)]

pub mod archive;
pub mod camera;
pub mod printer_check;
pub mod readers;
pub mod verification;

use serde::Serialize;

/// How much a finding stands in the way of issuing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    /// The counter can issue, but someone should act soon.
    Warning,
    /// The counter cannot issue until this is fixed.
    Blocker,
}

/// What the operator does, in both languages of the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

/// The device a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    /// The PC/SC service.
    Pcscd,
    /// The reader of the applicant's card (the printer's contact station).
    CardReader,
    /// The PSAM reader and the PSAM in it.
    Psam,
    /// The card in the field.
    Card,
    /// The card printer.
    Printer,
    /// The camera.
    Camera,
    /// The provincial archive.
    Archive,
    /// The bank-police identity verification service.
    IdentityVerification,
    /// The bank card systems the counter activates cards through.
    Bank,
    /// This machine's clock against the archive's.
    Clock,
    /// The device and card profiles.
    Profiles,
}

impl Device {
    /// The label printed before a finding.
    pub fn label(self) -> &'static str {
        match self {
            Device::Pcscd => "pcscd",
            Device::CardReader => "card reader",
            Device::Psam => "PSAM",
            Device::Card => "card",
            Device::Printer => "printer",
            Device::Camera => "camera",
            Device::Archive => "archive",
            Device::IdentityVerification => "identity verification",
            Device::Bank => "bank",
            Device::Clock => "clock",
            Device::Profiles => "profiles",
        }
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is about.
    pub device: Device,
    /// How much it matters.
    pub severity: Severity,
    /// What was found, with the values read.
    pub summary: String,
    /// What to do (none when all is well).
    pub fix: Option<Fix>,
}

/// Every finding of a run, in check order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

/// Whether the counter can issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Everything checked is fine.
    CanIssue,
    /// It can issue; warnings need attention.
    CanIssueWithWarnings,
    /// It cannot issue.
    CannotIssue,
}

impl Verdict {
    /// The process exit code: 0, 3 or 4, from `station`'s table of exit codes
    /// (`station::exit`), where 1 is a failure of the command and 2 a usage error.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::CanIssue => 0,
            Verdict::CanIssueWithWarnings => 3,
            Verdict::CannotIssue => 4,
        }
    }

    /// The last line of the report, both languages.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::CanIssue => "可以制卡 / the counter can issue cards",
            Verdict::CanIssueWithWarnings => {
                "可以制卡，但有警告需处理 / the counter can issue cards; deal with the warnings"
            }
            Verdict::CannotIssue => "不能制卡，请先处理上述问题 / the counter cannot issue cards until the problems above are fixed",
        }
    }
}

impl Report {
    /// Records a finding that needs no action.
    pub fn ok(&mut self, device: Device, summary: impl Into<String>) {
        self.findings.push(Finding { device, severity: Severity::Ok, summary: summary.into(), fix: None });
    }

    /// Records a warning with its fix.
    pub fn warn(&mut self, device: Device, summary: impl Into<String>, zh: &str, en: &str) {
        self.push(device, Severity::Warning, summary.into(), zh, en);
    }

    /// Records a blocker with its fix.
    pub fn block(&mut self, device: Device, summary: impl Into<String>, zh: &str, en: &str) {
        self.push(device, Severity::Blocker, summary.into(), zh, en);
    }

    fn push(&mut self, device: Device, severity: Severity, summary: String, zh: &str, en: &str) {
        let fix = Some(Fix { zh: zh.into(), en: en.into() });
        self.findings.push(Finding { device, severity, summary, fix });
    }

    /// The worst finding decides.
    pub fn verdict(&self) -> Verdict {
        match self.findings.iter().map(|f| f.severity).max() {
            Some(Severity::Blocker) => Verdict::CannotIssue,
            Some(Severity::Warning) => Verdict::CanIssueWithWarnings,
            _ => Verdict::CanIssue,
        }
    }

    /// The findings about `device`.
    pub fn about(&self, device: Device) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.device == device)
    }
}

impl std::fmt::Display for Report {
    /// One line a finding (`[FAIL] printer: the cover is open`), its fix in Chinese then
    /// English below it, and the verdict last.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for finding in &self.findings {
            let tag = match finding.severity {
                Severity::Ok => "[ OK ]",
                Severity::Warning => "[WARN]",
                Severity::Blocker => "[FAIL]",
            };
            writeln!(f, "{tag} {}: {}", finding.device.label(), finding.summary)?;
            if let Some(fix) = &finding.fix {
                writeln!(f, "       处理: {}", fix.zh)?;
                writeln!(f, "       fix:  {}", fix.en)?;
            }
        }
        writeln!(f, "{}", self.verdict().describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_finding_sets_the_exit_code() {
        let mut r = Report::default();
        r.ok(Device::Pcscd, "running");
        assert_eq!(r.verdict().exit_code(), 0);
        r.warn(Device::Card, "no card in the field", "放入一张卡", "insert a card");
        assert_eq!(r.verdict().exit_code(), 3);
        r.block(Device::Printer, "the cover is open", "关上打印机盖", "close the printer cover");
        assert_eq!(r.verdict(), Verdict::CannotIssue);
        assert_eq!(r.verdict().exit_code(), 4);
        let text = r.to_string();
        assert!(text.contains("[FAIL] printer: the cover is open\n       处理: 关上打印机盖\n       fix:  close the printer cover"), "{text}");
        assert!(text.ends_with("the problems above are fixed\n"), "{text}");
    }
}
