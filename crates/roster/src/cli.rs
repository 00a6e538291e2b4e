//! `station compare`: the command line over [`crate::compare`].

use std::path::PathBuf;

use applicant::Date;

use crate::compare::{compare, Options, Summary};
use crate::records::{ArchiveRecords, IssuanceFile, IssuanceRecords};
use crate::report::Deadlines;
use crate::validate::{Kind, Rules};
use crate::RosterError;

/// Compare a roster with the issuance records, classify every person, write the classified
/// roster, rejects, action lists per township and reports.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The roster: CSV (UTF-8 or GBK) or XLSX with the basic-information table's columns
    /// (姓名, 身份证号, 民族, 手机号, 镇街, 村(社区), 开户行, 银行卡号, 补贴额, 预计发放时间; optional
    /// 补贴项目, 领待类别 新增/存量, 是否死亡).
    #[arg(long)]
    pub roster: PathBuf,
    /// The XLSX sheet to read (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Classified roster output; .xlsx is written as XLSX, anything else as CSV. Repeat for
    /// both.
    #[arg(long, required = true)]
    pub out: Vec<PathBuf>,
    /// The station's local archive (SQLite) as the issuance records.
    #[arg(long, conflicts_with = "issuance", required_unless_present = "issuance")]
    pub archive: Option<PathBuf>,
    /// The provincial SQLite archive, read beside --archive for deaths and other stations'
    /// cards.
    #[arg(long, requires = "archive")]
    pub provincial_db: Option<PathBuf>,
    /// The station's data key for an encrypted --archive (set by the station from its
    /// configuration, never from the command line).
    #[arg(skip)]
    pub archive_key: Option<archive::at_rest::DataKey>,
    /// An exported issuance file (CSV: ssn, status, card_number, bank, account, status_date,
    /// deceased, failure_reason).
    #[arg(long)]
    pub issuance: Option<PathBuf>,
    /// Rejects file (default: <out>.rejects.csv).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Directory for the action lists per township (default: <out>.actions/).
    #[arg(long)]
    pub actions: Option<PathBuf>,
    /// Directory for the reports (default: <out>.reports/).
    #[arg(long)]
    pub reports: Option<PathBuf>,
    /// The day of the comparison, YYYY-MM-DD (default: today in Beijing).
    #[arg(long)]
    pub today: Option<String>,
    /// Issuance deadline for every township, YYYY-MM-DD.
    #[arg(long)]
    pub deadline: Option<String>,
    /// Deadlines per township: CSV with columns 镇街, 期限.
    #[arg(long)]
    pub deadlines: Option<PathBuf>,
    /// Days after hand-over without activation that make a card dormant.
    #[arg(long, default_value_t = 180)]
    pub dormant_days: i32,
    /// Beneficiary kind of rows without a 领待类别.
    #[arg(long, value_enum, default_value_t = Kind::Existing)]
    pub beneficiaries: Kind,
    /// Reject rows with any problem, not only those without a usable ID number.
    #[arg(long)]
    pub strict: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn date(s: &str, what: &str) -> Result<Date, RosterError> {
    Date::parse(s).map_err(|e| RosterError::Usage(format!("{what}: {e}")))
}

impl Args {
    /// The options and the issuance source these arguments describe.
    pub fn options(&self) -> Result<(Options, Box<dyn IssuanceRecords>), RosterError> {
        let today = match &self.today {
            Some(s) => date(s, "--today")?,
            None => crate::days::today(),
        };
        let rules = Rules { today, default_kind: self.beneficiaries, strict: self.strict };
        let mut opts = Options::new(self.roster.clone(), self.out.clone(), rules);
        opts.sheet = self.sheet.clone();
        if let Some(r) = &self.rejects {
            opts.rejects = r.clone();
        }
        if let Some(a) = &self.actions {
            opts.actions = a.clone();
        }
        if let Some(r) = &self.reports {
            opts.reports = Some(r.clone());
        }
        opts.dormant_days = self.dormant_days;
        let default = self.deadline.as_deref().map(|d| date(d, "--deadline")).transpose()?;
        opts.deadlines = match &self.deadlines {
            Some(p) => Deadlines::load(p, default)?,
            None => Deadlines { default, ..Deadlines::default() },
        };
        if self.provincial_db.is_some() && self.archive.is_none() {
            return Err(RosterError::Usage("--provincial-db goes with --archive".into()));
        }
        let source: Box<dyn IssuanceRecords> = match (&self.archive, &self.issuance) {
            (Some(a), None) => Box::new(
                ArchiveRecords::new(a, self.provincial_db.clone()).with_key(self.archive_key.clone()),
            ),
            (None, Some(f)) => Box::new(IssuanceFile::new(f)),
            _ => return Err(RosterError::Usage("give either --archive or --issuance".into())),
        };
        Ok((opts, source))
    }
}

/// Runs `station compare` and prints the summary.
pub fn run(args: Args) -> Result<Summary, RosterError> {
    let (opts, source) = args.options()?;
    let go = || compare(&opts, source.as_ref());
    let summary = match args.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| RosterError::Usage(format!("--threads: {e}")))?
            .install(go)?,
        None => go()?,
    };
    println!("{summary}");
    for f in &summary.files {
        println!("wrote {}", f.display());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn arguments_parse_and_sources_are_exclusive() {
        let cli = Cli::try_parse_from([
            "x",
            "--roster",
            "r.xlsx",
            "--out",
            "o.csv",
            "--out",
            "o.xlsx",
            "--issuance",
            "i.csv",
            "--today",
            "2025-06-01",
            "--beneficiaries",
            "new",
        ])
        .expect("parse");
        let (opts, source) = cli.args.options().expect("options");
        assert_eq!(opts.outputs.len(), 2);
        assert_eq!(opts.rejects, PathBuf::from("o.rejects.csv"));
        assert_eq!(opts.rules.default_kind, Kind::New);
        assert!(source.describe().contains("i.csv"));
        assert!(Cli::try_parse_from([
            "x",
            "--roster",
            "r",
            "--out",
            "o",
            "--archive",
            "a",
            "--issuance",
            "i"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["x", "--roster", "r", "--out", "o"]).is_err());
        let both = Cli::try_parse_from([
            "x",
            "--roster",
            "r",
            "--out",
            "o",
            "--issuance",
            "i",
            "--provincial-db",
            "p",
        ]);
        assert!(both.map_err(|_| ()).and_then(|c| c.args.options().map(|_| ()).map_err(|_| ())).is_err());
    }
}
