//! Subsidies paid through the social-security card, "one card" (一卡通): workflows.md FLOW D,
//! the Sishui (2021) and Guangdong/Foshan (2021) plans.
//!
//! - [`items`]: the county's subsidy item register as data (Sishui 附件2: category, sub-item,
//!   cycle, paying bank, passbook, level; the department; the county's code), loaded from
//!   CSV, XLSX or TOML and checked with every problem reported at once.
//! - [`prepare`]: for an item and a month, the recipients roster (the Sishui basic-information
//!   table, 附件3, CSV in UTF-8 or GBK or XLSX, read with roster's readers) is validated and
//!   matched to each recipient's live card ([`cards`]: an issuance file and/or the station's
//!   archive, through [`cards::CardSource`]); household items go to the head of household's
//!   card. Dead, stopped, lost, not activated or missing cards are refused with the reason
//!   and the action, listed per township and village. The result is the paying bank's
//!   payment file (CSV and/or XLSX) and the batch's status file.
//! - [`import`]: the bank's return file (Guangdong: 户名, 卡号, 金额, 摘要, 发放时间) matched to
//!   the batch, failures with reason and action, duplicates refused, amounts reconciled to
//!   the fen ([`money::Fen`], never floating point).
//! - [`report`]: per item, township and month: recipients, paid, failed, amount, the share
//!   paid through the card against the item's target, as CSV, Markdown and SVG charts
//!   (roster's chart code).
//!
//! - [`paid`]: the register of payments already made, one file per item and pay period of its
//!   cycle: a payee is paid once per item and period, whatever batches and rosters come.
//!
//! **ID numbers.** The bank's payment file and the paid register (owner-only) are the only
//! places a full ID number is written (the bank pays against it, the register matches on it). Status files, to-do lists, rejects, reports, errors, logs and the
//! console carry the masked number (first six and last four characters) only.
//!
//! `station payments` is [`cli::Args`] and [`cli::run`].
#![forbid(unsafe_code)]

pub mod cards;
pub mod cli;
pub mod generate;
pub mod import;
pub mod items;
pub mod money;
pub mod paid;
pub mod period;
pub mod prepare;
pub mod report;
pub mod table;

use std::path::PathBuf;

pub use cli::{run, Args};
pub use items::{Item, Register};
pub use money::Fen;
pub use period::Period;

/// Why a payments command could not run or finish. Row problems are not errors: they go to
/// the rejects and problems files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentsError {
    /// Reading or writing a file (roster's readers and writers).
    #[error(transparent)]
    Roster(#[from] roster::RosterError),
    /// The item register has problems: all of them.
    #[error("{}: {} problems in the item register:\n{}", path.display(), problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Register {
        /// The register.
        path: PathBuf,
        /// Every problem.
        problems: Vec<items::ItemProblem>,
    },
    /// A file is not readable as what it should be.
    #[error("{}: {message}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The command line does not make sense.
    #[error("{0}")]
    Usage(String),
}

impl PaymentsError {
    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> PaymentsError {
        PaymentsError::Roster(roster::RosterError::Io { what: path.display().to_string(), source: e })
    }
}

/// Status words of a payment line.
pub mod status {
    /// In the bank's payment file, not yet returned.
    pub const PENDING: &str = "待发放";
    /// Refused: not in the bank's file.
    pub const REFUSED: &str = "拒发";
    /// The bank paid it.
    pub const PAID: &str = "已发放";
    /// The bank could not pay it.
    pub const FAILED: &str = "发放失败";
    /// In the bank's file, absent from its return.
    pub const UNRETURNED: &str = "未回盘";
    /// Paid to the card's financial account.
    pub const CARD: &str = "社保卡";
    /// Paid to the old passbook's account (一本通), until the card takes over.
    pub const PASSBOOK: &str = "一本通";
}
