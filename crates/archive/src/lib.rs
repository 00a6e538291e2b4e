//! Archives of persons and cards.
//!
//! - [`ProvincialArchive`]: the contract every station relies on so that no one ever holds two
//!   live cards: look a person up, claim them for a new card (a lease), commit the claim with
//!   the card made, release it, stop an old card before a re-issue commits, record a death.
//!   Every change carries a request id and is idempotent. The rules live in the database
//!   (unique partial indexes), not in the client.
//! - [`SqliteProvincial`]: that contract on SQLite, for a counter where one machine serves
//!   (the embedded default). The provincial service (`provincial` crate) implements it on
//!   PostgreSQL; one conformance suite ([`conformance`]) runs against both.
//! - [`local::LocalArchive`]: the station's own SQLite archive (persons, applications, cards,
//!   and the hash-chained, append-only ledger).
//! - Card numbers: prefix + 7-digit counter + check character, allocated at claim time with
//!   neither gaps nor repeats (a released claim's number is reused first).
//! - [`kit`]: outreach kits check out visit lists (claims under one lease, a reserved number
//!   each), sync what they did offline as an idempotent, ordered outbox, and check in.
#![forbid(unsafe_code)]

pub mod conformance;
pub mod kit;
pub mod local;
mod model;
mod sqlite_provincial;

pub use model::{
    CardEnd, CardRecord, CardStatus, Claim, ClaimRequest, CommitRequest, DeceasedRequest, PersonCards,
    Refusal, ReleaseRequest, StopRequest,
};
pub use sqlite_provincial::SqliteProvincial;

/// Why an archive call did not give an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The archive answered no, for a reason the operator can act on.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The archive could not be reached or did not answer in time: nothing is known to have
    /// happened; retry with the same request id.
    #[error("provincial archive unavailable ({0}): the application waits; retry when the network is back")]
    Unavailable(String),
    /// The archive's store failed.
    #[error("archive store: {0}")]
    Store(String),
    /// The request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
}

impl ArchiveError {
    /// The refusal, when the archive said no.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ArchiveError::Refused(r) => Some(r),
            _ => None,
        }
    }

    /// Whether a retry with the same request id may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ArchiveError::Unavailable(_))
    }
}

/// The provincial archive as a station sees it. Blocking: card I/O around it is blocking too;
/// an async caller runs it on a blocking thread.
pub trait ProvincialArchive: Send + Sync {
    /// Everything known of a person (an unknown person has no cards and no claim).
    fn lookup(&self, ssn: &str) -> Result<PersonCards, ArchiveError>;
    /// Claims the person for one new card and allocates its card number.
    fn claim(&self, request: &ClaimRequest) -> Result<Claim, ArchiveError>;
    /// Records the card made under a live claim (status `made`).
    fn commit(&self, request: &CommitRequest) -> Result<CardRecord, ArchiveError>;
    /// Gives a live claim up; its card number is reused.
    fn release(&self, request: &ReleaseRequest) -> Result<(), ArchiveError>;
    /// Stops a live card.
    fn stop_card(&self, request: &StopRequest) -> Result<CardRecord, ArchiveError>;
    /// Records a death: cancels live cards (returned), releases claims, refuses new ones.
    fn mark_deceased(&self, request: &DeceasedRequest) -> Result<Vec<String>, ArchiveError>;
    /// Claims a kit's visit list under one lease (the caller is the kit); people who cannot be
    /// claimed are listed with the reason.
    fn checkout(&self, request: &kit::CheckoutRequest) -> Result<kit::Checkout, ArchiveError>;
    /// Applies one outbox record of the calling kit, once per record id, in sequence order.
    fn sync_record(&self, record: &kit::KitRecord) -> Result<kit::RecordResult, ArchiveError>;
    /// Closes a lease whose records all arrived: releases claims, returns numbers and cards.
    fn checkin(&self, request: &kit::CheckinRequest) -> Result<kit::Checkin, ArchiveError>;
    /// Records from every kit that could not stand and are not settled yet, for a supervisor,
    /// oldest first.
    fn kit_conflicts(&self) -> Result<Vec<kit::KitConflict>, ArchiveError>;
    /// Settles a conflict; settling it again keeps the first resolution.
    fn resolve_kit_conflict(&self, request: &kit::ResolveRequest) -> Result<(), ArchiveError>;
}

/// The card number for counter value `n` under `prefix` (one capital letter): the letter,
/// seven digits, the check character.
pub fn card_number(prefix: char, n: u32) -> Option<String> {
    if !prefix.is_ascii_uppercase() || n > 9_999_999 {
        return None;
    }
    applicant::CardNumber::with_check(&format!("{prefix}{n:07}")).ok().map(|c| c.as_str().to_string())
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
