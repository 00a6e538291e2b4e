//! Roster comparison: "every card that should be issued is issued" (workflows.md FLOW B
//! step 1) and subsidies through the card (FLOW D).
//!
//! A department's recipient list, or the province's list of people without a card, is read
//! ([`input`]: CSV or XLSX with the columns of the Sishui basic-information table, Chinese
//! or English headers), every row validated ([`validate`]: a bad row is reported with its
//! row number and reason, never dropped silently), matched against the issuance records
//! ([`records`]: the station's SQLite archive, or an exported issuance file) and classified
//! ([`classify`]): card made and active, made but not activated, card-making failed, no card
//! record, deceased. The outputs ([`compare`]):
//!
//! - the classified roster (CSV and/or XLSX) with the card's bank and financial account
//!   filled in, for the departments;
//! - a rejects file (every problem, one line each, with the remedy);
//! - an action list per township, sorted by village: who must apply, re-apply, collect,
//!   activate, switch payment to the card, or have a deceased holder's card cancelled;
//! - reports ([`report`]): progress per township against deadlines, usage rates of new and
//!   existing beneficiaries against the 95% / 60% targets, stock, dormant and recalled
//!   cards, as CSV and Markdown tables and SVG charts.
//!
//! Memory follows the roster's ID numbers (8-byte keys, [`key`]) and the matched records,
//! not the files: rows stream through a spool file, the issuance side is scanned once in
//! parallel blocks. `station compare` is [`cli::Args`] and [`cli::run`].
//!
//! ```no_run
//! use roster::{compare::{compare, Options}, records::IssuanceFile, validate::{Kind, Rules}};
//! let rules = Rules { today: roster::days::today(), default_kind: Kind::Existing, strict: false };
//! let opts = Options::new("recipients.xlsx".into(), vec!["out/compared.xlsx".into()], rules);
//! let summary = compare(&opts, &IssuanceFile::new("issuance.csv"))?;
//! println!("{summary}");
//! # Ok::<(), roster::RosterError>(())
//! ```
#![forbid(unsafe_code)]

pub mod bench;
pub mod classify;
pub mod cli;
pub mod compare;
pub use applicant::days;
pub mod generate;
pub mod input;
pub mod key;
pub mod records;
pub mod report;
pub mod text;
pub mod validate;
pub mod xlsx;

use std::path::PathBuf;

pub use classify::{Action, Class};
pub use cli::{run, Args};
pub use compare::{compare, Options, Summary};
pub use records::{ArchiveRecords, IssuanceFile, IssuanceRecords};

/// Why a comparison could not run or finish. Row problems are not errors: they go to the
/// rejects file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// The file or step.
        what: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The roster, issuance or deadlines file is not readable as such.
    #[error("{}: {message}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The roster lacks a required column.
    #[error(
        "the roster has no '{column}' column (found: {found}); name it as in the basic-information table"
    )]
    MissingColumn {
        /// The column's canonical header.
        column: &'static str,
        /// The headers found.
        found: String,
    },
    /// The archive could not be read.
    #[error("archive {}: {message}", path.display())]
    Archive {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// An output could not be written.
    #[error("writing {}: {message}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The command line does not make sense.
    #[error("{0}")]
    Usage(String),
}

impl RosterError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> RosterError {
        RosterError::Io { what: what.into(), source }
    }
}
