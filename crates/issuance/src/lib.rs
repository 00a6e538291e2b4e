//! Instant issuance (FLOW A of workflows.md) as a job of explicit steps. Each step is written
//! to the local archive's journal before it starts and after it ends, each its own durable
//! transaction, and every step is idempotent (the provincial archive takes request ids derived
//! from the job), so a crash, a power cut or `kill -9` at any step boundary resumes the job
//! on restart, or rolls it back: the claim is released (its card number is handed out again)
//! and a card that was fed is sent to the reject box and recorded.
//!
//! Rules enforced here (workflows.md): 1 one live card per person (the archives are checked
//! and claimed before anything is made; a re-issue stops the old card first); 2 no card for the
//! deceased; 5 every card movement leaves a ledger entry (a card is handed over only with the
//! receiver's signature, or goes to stock at a named place: [`collection`]).
#![forbid(unsafe_code)]

pub mod batch;
pub mod collection;
pub mod device;
mod engine;
pub mod lifecycle;
pub mod losses;
pub mod pipeline;
pub mod reconcile;
pub mod records;
pub mod refusals;
pub mod services;
mod step;
pub mod stock;

pub use collection::{Collection, Receiver, Release, StockSettings, Storage};
pub use device::{
    CardPath, CardPlace, DeviceAction, DeviceError, FaceText, FinancialDone, FinancialHolder, NoDevices,
};
pub use engine::{
    awaiting_handover, correct_identity, correction_target, end_correction, held_reissue, identity_mismatch,
    local_time, release_at_counter, reopen_held, restore_held, Engine, HeldReissue, IdentityMismatch,
    JobCard, JobOutcome, CARD_RESTORED, CORRECTABLE, CORRECTING, IDENTITY_CORRECTED, IDENTITY_MISMATCH,
    REISSUE_HELD, REISSUE_RESUMED,
};
pub use step::{Phase, Step, STEPS};

/// Why an issuance stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The applicant's data cannot go on a card (nothing was done).
    #[error("applicant data: {0}")]
    Data(String),
    /// The archives refused (one live card per person, deceased, claimed elsewhere).
    #[error("{step}: {source}")]
    Archive {
        /// The step.
        step: &'static str,
        /// The archive's answer.
        #[source]
        source: archive::ArchiveError,
    },
    /// Identity verification did not confirm the person.
    #[error("identity verification: {0}")]
    Identity(String),
    /// A device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The card's records.
    #[error(transparent)]
    Card(#[from] ssse::SsseError),
    /// The job or its journal.
    #[error("job {job_id}: {message}")]
    Job {
        /// The job.
        job_id: i64,
        /// What is wrong.
        message: String,
    },
}
