//! `station payments`: the command line over [`crate::items`], [`crate::prepare`],
//! [`crate::import`] and [`crate::report`].

use std::path::PathBuf;

use crate::cards::open_sources;
use crate::items::Register;
use crate::period::Period;
use crate::PaymentsError;

/// Subsidies through the card (一卡通): the item register, payment files for the bank, the
/// bank's return, reports.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands (parsed once per run: their sizes do not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Check and print the subsidy item register.
    Items(ItemsArgs),
    /// Build the bank's payment file of one item and month.
    Prepare(PrepareArgs),
    /// Reconcile the bank's return file with a batch.
    Import(ImportArgs),
    /// Reports per item, township and month, with SVG charts.
    Report(ReportArgs),
}

/// `station payments items FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct ItemsArgs {
    /// The register: CSV (UTF-8 or GBK), XLSX or TOML, with the columns of Sishui's 附件2
    /// (序号, 项目资金大类名称, 序号, 项目资金小类名称, 发放周期, 代发银行, 是否通过"一本通"发放,
    /// 发放层级(范围)) and 业务主管部门, 发放对象 (个人/到户); optional 项目代码, 摘要, 用卡目标%.
    pub file: PathBuf,
}

/// `station payments prepare`.
#[derive(Debug, Clone, clap::Args)]
pub struct PrepareArgs {
    /// The item register.
    #[arg(long)]
    pub items: PathBuf,
    /// The item's code (or name).
    #[arg(long)]
    pub item: String,
    /// The month paid, YYYY-MM.
    #[arg(long)]
    pub period: String,
    /// The recipients: CSV (UTF-8 or GBK) or XLSX with the basic-information table's columns
    /// (姓名, 身份证号, 民族, 手机号, 镇街, 村(社区), 开户行, 银行卡号, 补贴额, 预计发放时间;
    /// for household items 户主身份证号 and 户主姓名; optional 项目代码/补贴项目, 是否死亡).
    #[arg(long)]
    pub recipients: PathBuf,
    /// The XLSX sheet to read (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// The bank's payment file: .xlsx as XLSX, anything else CSV. Repeat for both. The only
    /// output with full ID numbers: hand it to the bank only.
    #[arg(long, required = true)]
    pub out: Vec<PathBuf>,
    /// An exported issuance file (the columns `station compare --issuance` reads; status
    /// `lost`/挂失 for a lost card). Repeatable; read beside --archive.
    #[arg(long)]
    pub issuance: Vec<PathBuf>,
    /// The station's local archive (SQLite), as `station compare --archive`.
    #[arg(long)]
    pub archive: Option<PathBuf>,
    /// The provincial SQLite archive beside --archive, for deaths and other stations' cards.
    #[arg(long, requires = "archive")]
    pub provincial_db: Option<PathBuf>,
    /// The station's data key for an encrypted --archive (set by the station from its
    /// configuration, never from the command line).
    #[arg(skip)]
    pub archive_key: Option<archive::at_rest::DataKey>,
    /// The batch's status file (default: <out>.status.csv).
    #[arg(long)]
    pub status: Option<PathBuf>,
    /// Directory of the to-do lists per township (default: <out>.todo/).
    #[arg(long)]
    pub todo: Option<PathBuf>,
    /// Rejects file (default: <out>.rejects.csv).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// The day ID numbers are checked against, YYYY-MM-DD (default: today in Beijing).
    #[arg(long)]
    pub today: Option<String>,
    /// The directory of the register of payments already made: nobody is paid twice for an
    /// item in one pay period of its cycle. Give every batch of the county the same one
    /// (default: payments-paid/ beside the first --out file). Full ID numbers: owner-only.
    #[arg(long)]
    pub paid: Option<PathBuf>,
}

/// `station payments import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The batch's status file, as `prepare` wrote it.
    #[arg(long)]
    pub status: PathBuf,
    /// The bank's return file: CSV (UTF-8 or GBK) or XLSX with 户名, 卡号, 金额, 摘要,
    /// 发放时间 (and 发放结果, 失败原因).
    #[arg(long = "return")]
    pub returns: PathBuf,
    /// The XLSX sheet of the return (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// The reconciled status file (default: <status stem without .status>.reconciled.csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `station payments report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Status files, or directories of them (their *.reconciled.csv, and the *.status.csv
    /// of batches not reconciled).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The item register, for the items' names and targets.
    #[arg(long)]
    pub items: Option<PathBuf>,
    /// Directory for the tables and charts.
    #[arg(long)]
    pub out: PathBuf,
}

impl PrepareArgs {
    /// The options these arguments describe.
    pub fn options(&self) -> Result<crate::prepare::Options, PaymentsError> {
        let register = Register::load(&self.items)?;
        let item = register.item(&self.item).cloned().ok_or_else(|| {
            PaymentsError::Usage(format!("--item {}: no such item in {}", self.item, self.items.display()))
        })?;
        let period =
            Period::parse(&self.period).map_err(|e| PaymentsError::Usage(format!("--period: {e}")))?;
        let mut o = crate::prepare::Options::new(item, period, self.recipients.clone(), self.out.clone());
        o.sheet.clone_from(&self.sheet);
        if let Some(s) = &self.status {
            o.status = s.clone();
        }
        if let Some(t) = &self.todo {
            o.todo = t.clone();
        }
        if let Some(r) = &self.rejects {
            o.rejects = r.clone();
        }
        if let Some(p) = &self.paid {
            o.paid = p.clone();
        }
        if let Some(t) = &self.today {
            o.today = applicant::Date::parse(t).map_err(|e| PaymentsError::Usage(format!("--today: {e}")))?;
        }
        if self.issuance.is_empty() && self.archive.is_none() {
            return Err(PaymentsError::Usage("give --issuance and/or --archive".into()));
        }
        Ok(o)
    }
}

impl ImportArgs {
    /// The options these arguments describe.
    pub fn options(&self) -> crate::import::Options {
        let out = self.out.clone().unwrap_or_else(|| {
            let name = self.status.file_name().and_then(|n| n.to_str()).unwrap_or("payments.status.csv");
            let stem = name.strip_suffix(".status.csv").or_else(|| name.strip_suffix(".csv")).unwrap_or(name);
            self.status.with_file_name(format!("{stem}.reconciled.csv"))
        });
        let mut o = crate::import::Options::new(self.status.clone(), self.returns.clone(), out);
        o.sheet.clone_from(&self.sheet);
        o
    }
}

/// Runs `station payments ...` and prints what it did (never a full ID number).
pub fn run(args: Args) -> Result<(), PaymentsError> {
    match args.command {
        Command::Items(a) => {
            let (items, problems) = crate::items::check(&a.file)?;
            print!("{}", Register { items }.table());
            if problems.is_empty() {
                println!("{}: sound", a.file.display());
                Ok(())
            } else {
                Err(PaymentsError::Register { path: a.file, problems })
            }
        }
        Command::Prepare(a) => {
            let opts = a.options()?;
            let sources = open_sources(
                &a.issuance,
                a.archive.as_deref(),
                a.provincial_db.clone(),
                a.archive_key.clone(),
            );
            let refs: Vec<&dyn crate::cards::CardSource> = sources.iter().map(|s| s.as_ref()).collect();
            let summary = crate::prepare::prepare(&opts, &refs)?;
            println!("{summary}");
            for f in &summary.files {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        Command::Import(a) => {
            let summary = crate::import::import(&a.options())?;
            println!("{summary}");
            for f in &summary.files {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        Command::Report(a) => {
            let register = a.items.as_deref().map(Register::load).transpose()?;
            let files = crate::report::status_files(&a.inputs)?;
            let report = crate::report::Report::read(&files, register.as_ref())?;
            let t = report.total();
            println!(
                "{} batches' files: {} lines, {} paid, {} failed, {} refused, {} yuan, {:.1}% through the card",
                files.len(),
                t.recipients,
                t.paid,
                t.failed,
                t.refused,
                t.amount,
                t.card_share()
            );
            for f in report.write(&a.out)? {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
    }
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
    fn subcommands_parse() {
        let reg = concat!(env!("CARGO_MANIFEST_DIR"), "/data/register.toml");
        let cli = Cli::try_parse_from([
            "x",
            "prepare",
            "--items",
            reg,
            "--item",
            "0101",
            "--period",
            "2022-03",
            "--recipients",
            "r.csv",
            "--out",
            "o/bank.csv",
            "--out",
            "o/bank.xlsx",
            "--issuance",
            "i.csv",
            "--today",
            "2022-03-01",
        ])
        .expect("parse");
        let Command::Prepare(p) = cli.args.command else { panic!("prepare") };
        let o = p.options().expect("options");
        assert_eq!(o.item.name, "最低生活保障金");
        assert_eq!(o.status, PathBuf::from("o/bank.status.csv"));
        assert_eq!(o.bank_files.len(), 2);
        let cli = Cli::try_parse_from(["x", "import", "--status", "o/b.status.csv", "--return", "r.csv"])
            .expect("parse");
        let Command::Import(i) = cli.args.command else { panic!("import") };
        assert_eq!(i.options().out, PathBuf::from("o/b.reconciled.csv"));
        assert!(Cli::try_parse_from(["x", "report", "--out", "d"]).is_err(), "inputs required");
        let cli = Cli::try_parse_from([
            "x",
            "prepare",
            "--items",
            reg,
            "--item",
            "9999",
            "--period",
            "2022-03",
            "--recipients",
            "r",
            "--out",
            "o",
            "--issuance",
            "i",
        ])
        .expect("parse");
        let Command::Prepare(p) = cli.args.command else { panic!("prepare") };
        assert!(p.options().is_err(), "no such item");
    }

    #[test]
    fn items_prints_a_sound_register_and_refuses_a_bad_one() {
        let reg = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/register.toml"));
        run(Args { command: Command::Items(ItemsArgs { file: reg }) }).expect("sound");
        let dir = tempfile::tempdir().expect("tmp");
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "项目代码,项目资金大类名称,项目资金小类名称\n0101,社会救助,低保\n")
            .expect("write");
        let e = run(Args { command: Command::Items(ItemsArgs { file: bad }) }).expect_err("columns missing");
        assert!(e.to_string().contains("发放周期") && e.to_string().contains("发放对象"), "{e}");
    }
}
