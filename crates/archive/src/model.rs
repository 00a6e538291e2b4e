//! The words of the provincial archive: persons, cards and their status, claims (leases on a
//! person for one new card), and the requests that change them. All serde, so the HTTP
//! service and its client speak exactly these types.

use serde::{Deserialize, Serialize};

/// A card's life (workflows.md): made at the counter, issued (handed over), active (financial
/// function on); stopped, recalled, cancelled or failed end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardStatus {
    /// Personalised and printed, not yet handed over.
    Made,
    /// Handed to the holder.
    Issued,
    /// Financial function activated face to face.
    Active,
    /// Stopped (re-issue, loss).
    Stopped,
    /// Recalled by the issuer.
    Recalled,
    /// Cancelled (holder deceased, or by request).
    Cancelled,
    /// The making failed; the card never existed for the holder.
    Failed,
}

impl CardStatus {
    /// Every status, in life order.
    pub const ALL: [CardStatus; 7] = [
        CardStatus::Made,
        CardStatus::Issued,
        CardStatus::Active,
        CardStatus::Stopped,
        CardStatus::Recalled,
        CardStatus::Cancelled,
        CardStatus::Failed,
    ];

    /// A live card counts against "one live card per person".
    pub fn is_live(self) -> bool {
        matches!(self, CardStatus::Made | CardStatus::Issued | CardStatus::Active)
    }

    /// The word stored in the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Made => "made",
            CardStatus::Issued => "issued",
            CardStatus::Active => "active",
            CardStatus::Stopped => "stopped",
            CardStatus::Recalled => "recalled",
            CardStatus::Cancelled => "cancelled",
            CardStatus::Failed => "failed",
        }
    }

    /// Parses a stored word.
    pub fn parse(s: &str) -> Option<CardStatus> {
        CardStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A card as the provincial archive knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRecord {
    /// Card number with its check character.
    pub card_number: String,
    /// The holder's social security number.
    pub ssn: String,
    /// Card identification code (hex), once personalised.
    pub card_id: Option<String>,
    /// The chip's ATR (hex).
    pub atr: Option<String>,
    /// Status.
    pub status: CardStatus,
    /// Station that made it.
    pub station: String,
}

/// A live claim: one station may make one card for this person until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The claim's id, for commit and release.
    pub claim_id: i64,
    /// Person claimed.
    pub ssn: String,
    /// Station holding it.
    pub station: String,
    /// Card number allocated for the new card.
    pub card_number: String,
    /// The live card this one replaces (re-issue), if any.
    pub reissue_of: Option<String>,
    /// Unix seconds when the lease ends.
    pub expires_at: i64,
}

/// What the archive knows of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonCards {
    /// Social security number.
    pub ssn: String,
    /// True when the person is recorded deceased: no claims, no cards.
    pub deceased: bool,
    /// Every card, oldest first.
    pub cards: Vec<CardRecord>,
    /// The live claim, if a station holds one.
    pub live_claim: Option<Claim>,
}

impl PersonCards {
    /// The live card, if any (at most one, by the archive's constraint).
    pub fn live_card(&self) -> Option<&CardRecord> {
        self.cards.iter().find(|c| c.status.is_live())
    }
}

/// Claim a person for a new card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// Idempotency key: a retry with the same id gets the first answer.
    pub request_id: String,
    /// Social security number (18-character resident ID number).
    pub ssn: String,
    /// Name, for the archive's person record.
    pub name: String,
    /// Re-issue: the live card this one will replace (it must be stopped before commit).
    pub reissue_of: Option<String>,
    /// Lease length in seconds (the service caps it).
    pub lease_seconds: i64,
}

/// Commit a claim with the card that was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The claim.
    pub claim_id: i64,
    /// Card identification code (hex).
    pub card_id: String,
    /// ATR (hex).
    pub atr: String,
}

/// Give a claim up (the card could not be made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The claim.
    pub claim_id: i64,
    /// Why, for the record.
    pub reason: String,
}

/// Stop a live card (re-issue, loss), or register it recalled (a stock card nobody could
/// receive, RULE 6): either way it is no longer live anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The card.
    pub card_number: String,
    /// Why, for the record.
    pub reason: String,
    /// The status the card ends in (`stopped` when absent, as older stations send).
    #[serde(default)]
    pub end: CardEnd,
}

/// How a live card ends when a station stops it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardEnd {
    /// Stopped (停用): re-issue, loss.
    #[default]
    Stopped,
    /// Recalled (回收) by the issuer after failed hand-overs.
    Recalled,
}

impl From<CardEnd> for CardStatus {
    fn from(end: CardEnd) -> CardStatus {
        match end {
            CardEnd::Stopped => CardStatus::Stopped,
            CardEnd::Recalled => CardStatus::Recalled,
        }
    }
}

/// Record a person deceased: live cards are cancelled, claims released, new claims refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeceasedRequest {
    /// Idempotency key.
    pub request_id: String,
    /// Social security number.
    pub ssn: String,
}

/// Why the archive said no. Stored with the request, so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "refusal", rename_all = "kebab-case")]
pub enum Refusal {
    /// Another station (or this one) holds a live claim.
    #[error(
        "the person is claimed by station {station} until {expires_at} (unix time): wait or ask that station"
    )]
    AlreadyClaimed {
        /// Who holds it.
        station: String,
        /// Until when.
        expires_at: i64,
    },
    /// The person has a live card and this is not a re-issue of it.
    #[error(
        "the person already holds live card {card_number}: use re-issue (the old card is stopped first)"
    )]
    LiveCard {
        /// The live card.
        card_number: String,
    },
    /// Commit of a re-issue while the old card is still live.
    #[error("card {card_number} is still live: stop it before committing the new card")]
    OldCardNotStopped {
        /// The old card.
        card_number: String,
    },
    /// The person is recorded deceased.
    #[error("the person is recorded deceased: no card can be issued")]
    Deceased,
    /// The claim is not live any more (expired, released, committed, or another station's).
    #[error("claim {claim_id} is {state}: start the application again")]
    ClaimNotLive {
        /// The claim.
        claim_id: i64,
        /// Its state.
        state: String,
    },
    /// No such claim, card or person.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// The card cannot be stopped in its status.
    #[error("card {card_number} is {status:?}, not live: nothing to stop")]
    NotLive {
        /// The card.
        card_number: String,
        /// Its status.
        status: CardStatus,
    },
    /// The card-number range is used up.
    #[error("no card numbers left for prefix {prefix}: the province must open a new range")]
    NumbersExhausted {
        /// The prefix.
        prefix: String,
    },
    /// The same request id was used for a different operation.
    #[error("request id {request_id} was already used for {op}: use a new request id")]
    RequestIdReused {
        /// The id.
        request_id: String,
        /// The first operation.
        op: String,
    },
}
