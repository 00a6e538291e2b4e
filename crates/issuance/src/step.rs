//! The steps of a card's issuance, in order, and the phases of their journal lines: the
//! words the engine, the device sequence, the daemon's event stream and the page share.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The steps of instant issuance, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Data validated, person and application recorded.
    Accept,
    /// The provincial archive: live cards, deceased.
    ArchiveCheck,
    /// The person claimed for one new card; the card number allocated.
    Claim,
    /// Re-issue: the old card stopped (before anything is made).
    StopOldCard,
    /// Bank-police identity verification.
    VerifyIdentity,
    /// A blank card to the printer's contact station.
    FeedCard,
    /// The financial application (when the card and the counter have one).
    PersonaliseFinancial,
    /// The face printed and laminated.
    PrintFace,
    /// The social-security application written.
    PersonaliseSsc,
    /// The chip read back by the public sequence and compared.
    VerifyChip,
    /// The card recorded in the provincial and local archives.
    Commit,
    /// The card out of the exit slot.
    Eject,
    /// Handed to the holder, with the signature recorded.
    HandOver,
}

/// Every step, in order.
pub const STEPS: [Step; 13] = [
    Step::Accept,
    Step::ArchiveCheck,
    Step::Claim,
    Step::StopOldCard,
    Step::VerifyIdentity,
    Step::FeedCard,
    Step::PersonaliseFinancial,
    Step::PrintFace,
    Step::PersonaliseSsc,
    Step::VerifyChip,
    Step::Commit,
    Step::Eject,
    Step::HandOver,
];

impl Step {
    /// The step's name in the journal.
    pub fn name(self) -> &'static str {
        match self {
            Step::Accept => "accept",
            Step::ArchiveCheck => "archive-check",
            Step::Claim => "claim",
            Step::StopOldCard => "stop-old-card",
            Step::VerifyIdentity => "verify-identity",
            Step::FeedCard => "feed-card",
            Step::PersonaliseFinancial => "personalise-financial",
            Step::PrintFace => "print-face",
            Step::PersonaliseSsc => "personalise-ssc",
            Step::VerifyChip => "verify-chip",
            Step::Commit => "commit",
            Step::Eject => "eject",
            Step::HandOver => "hand-over",
        }
    }

    /// Parses a journal name.
    pub fn parse(name: &str) -> Option<Step> {
        STEPS.into_iter().find(|s| s.name() == name)
    }

    /// Steps that work on the physical card: a spoiled card undoes them all.
    pub(crate) fn on_the_card(self) -> bool {
        (Step::FeedCard..=Step::VerifyChip).contains(&self)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A journal phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the step.
    Begin,
    /// After it.
    Done,
}
