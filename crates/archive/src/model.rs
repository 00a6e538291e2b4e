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
    /// The station that answers for it: the one that made it, or the one that took it in from
    /// the card-making centre ([`crate::ProvincialArchive::receive_card`]).
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
    /// Temporary losses in force on the person's cards (lapsed ones are not listed).
    #[serde(default)]
    pub suspensions: Vec<Suspension>,
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

/// Give a claim up (the card could not be made), saying where the card made under it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The claim.
    pub claim_id: i64,
    /// Why, for the record.
    pub reason: String,
    /// Where the card that may carry the claim's number is: only a number whose card is
    /// accounted for goes back to the pool.
    #[serde(default)]
    pub card: CardFate,
}

/// Where the card made under a claim is, when the claim is given up. A card number never goes
/// to another person while a card carrying it may be somewhere nobody knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardFate {
    /// No card was fed for this claim: the number goes back to the pool.
    NotMade,
    /// The card is in this station's reject box, to be destroyed: the number goes back.
    Rejected,
    /// Not known (a jam, a crash, a card taken out by hand): the number stays out of
    /// circulation until a later release of the same claim says where the card is.
    #[default]
    Unknown,
}

impl CardFate {
    /// Whether the number may go to another person.
    pub fn accounted_for(self) -> bool {
        !matches!(self, CardFate::Unknown)
    }
}

/// Extend a live claim's lease (a job waits: cover open, operator away).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The claim, which must be live and this station's.
    pub claim_id: i64,
    /// New lease length from now, in seconds (the province caps it).
    pub lease_seconds: i64,
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
    /// Set when this station did not make the card: the holder stands at this counter, ID
    /// checked, for a loss or a replacement (RULE 10). The province records it as such.
    #[serde(default)]
    pub for_holder: Option<HolderAtCounter>,
}

/// Why a station stops a card another station made: the holder asked for it in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderAtCounter {
    /// Loss or replacement.
    pub why: HolderStop,
    /// The operator who checked the holder's ID.
    pub operator: String,
    /// The operator checked the holder's resident ID card against the person.
    pub id_checked: bool,
}

/// What the holder at the counter asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HolderStop {
    /// The holder reports the card lost (挂失).
    Loss,
    /// The holder gets a new card here (补换卡): the old one is stopped first.
    Replacement,
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

/// A station's ledger head: the sequence number and SM3 chain hash of its last entry. The
/// province keeps the heads each station anchors, so a ledger rewritten (the chain recomputed)
/// or cut short after an anchor no longer matches what the province holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHead {
    /// The last entry's sequence number (from 1).
    pub seq: i64,
    /// Its chain hash (hex).
    pub hash: String,
    /// Its MAC under the station's ledger key (hex), when the station has one: kept for the
    /// auditors, who check it with the station's token. Whether a head continues the last one
    /// is decided by `seq` and `hash` alone; a station or province without it sends or answers
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Anchor the calling station's ledger head at the province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The head.
    pub head: LedgerHead,
}

/// Give a re-issue up and restore the old card (a supervisor at the station that holds the
/// claim): the new card could not be made after the old one was stopped for it. Only within
/// that claim: live, this station's, a re-issue of `card_number`, which this claim's replacement
/// stopped. The card goes back to the status it had; the claim is released, its number
/// accounted for as [`CardFate`] says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The re-issue's claim.
    pub claim_id: i64,
    /// The old card, stopped for that claim.
    pub card_number: String,
    /// The supervisor who decided it.
    pub supervisor: String,
    /// Why (what failed), for the record.
    pub reason: String,
    /// Where the new card made under the claim is (its number goes back only when accounted
    /// for).
    #[serde(default)]
    pub card: CardFate,
}

impl RestoreRequest {
    /// A restore names the supervisor and why: refused before the archive acts otherwise.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        if self.supervisor.trim().is_empty() || self.reason.trim().chars().count() < 4 {
            return Err(crate::ArchiveError::BadRequest(
                "a restore names the supervisor who decided it and says why the new card could not be made"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The card-making centre sends a card it made to the station (bank branch, township site) where
/// its holder will collect it: the card's delivery list names that station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The card, made by the calling station (the centre).
    pub card_number: String,
    /// The station it is made for.
    pub to_station: String,
}

/// A station takes in a card made elsewhere from the delivery list: the province checks that
/// the card was delivered to this station, is live and was not taken in before, and that the
/// list's holder and chip are the card's; from then on the station answers for the card (it may
/// recall it, RULE 10) as for one it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiveRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The card.
    pub card_number: String,
    /// The holder on the delivery list (compared, never echoed).
    pub ssn: String,
    /// The card identification code on the list (hex), compared when the province has one.
    pub card_id: String,
}

/// Record a person deceased: live cards are cancelled, claims released, new claims refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeceasedRequest {
    /// Idempotency key.
    pub request_id: String,
    /// Social security number.
    pub ssn: String,
    /// The evidence seen (document and its number: 死亡医学证明, 火化证明, a notice of the
    /// public-security bureau or of the civil-affairs office).
    pub evidence: String,
    /// The supervisor who recorded it at the station.
    pub supervisor: String,
}

/// Take back a death recorded in error. Only a second supervisor may: not the one who
/// recorded it. Cards cancelled then stay cancelled; the person may apply again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectDeceasedRequest {
    /// Idempotency key.
    pub request_id: String,
    /// Social security number.
    pub ssn: String,
    /// The supervisor correcting it.
    pub supervisor: String,
    /// Why the record was wrong (what was seen).
    pub reason: String,
}

impl DeceasedRequest {
    /// A death names its evidence and the supervisor: refused before the archive acts
    /// otherwise.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        check_person(&self.ssn)?;
        if self.supervisor.trim().is_empty() || self.evidence.trim().chars().count() < 4 {
            return Err(crate::ArchiveError::BadRequest(
                "a death is recorded with its evidence (the document and its number) and the supervisor who saw it"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl CorrectDeceasedRequest {
    /// A correction names the supervisor and why.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        check_person(&self.ssn)?;
        if self.supervisor.trim().is_empty() || self.reason.trim().chars().count() < 4 {
            return Err(crate::ArchiveError::BadRequest(
                "a correction names the second supervisor and says why the death record was wrong".into(),
            ));
        }
        Ok(())
    }
}

/// The archive's person key is the 18-character resident ID number.
pub fn check_person(ssn: &str) -> Result<(), crate::ArchiveError> {
    if ssn.len() != 18 {
        return Err(crate::ArchiveError::BadRequest(
            "ssn must be the 18-character resident ID number".into(),
        ));
    }
    Ok(())
}

/// The question of a lookup, in a body (an ID number never goes into a URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupRequest {
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
    /// The same request id was used by this station for a different request (another
    /// operation, or the same one with another body).
    #[error(
        "request id {request_id} was already used by this station for a different {op} request: a retry must repeat the request unchanged; a new request needs a new id"
    )]
    RequestIdReused {
        /// The id.
        request_id: String,
        /// The first request's operation.
        op: String,
    },
    /// The card was made by another station, and this is no loss or replacement for a holder
    /// at this counter.
    #[error(
        "card {card_number} was made by station {station}: only that station may stop or recall it; a loss or a replacement for the holder at this counter must say so (holder present, ID checked)"
    )]
    NotYourCard {
        /// The card.
        card_number: String,
        /// The station that made it.
        station: String,
    },
    /// A correction of a death by the supervisor who recorded it.
    #[error("the death was recorded by this supervisor: a second supervisor must correct it")]
    SameSupervisor,
    /// A correction for a person not recorded deceased.
    #[error("the person is not recorded deceased: nothing to correct")]
    NotDeceased,
    /// More than the province allows in one request.
    #[error("{what} is over the province's limit of {limit}: split the request")]
    OverLimit {
        /// What.
        what: String,
        /// The limit.
        limit: i64,
    },
    /// A card taken in that was not delivered to this station.
    #[error(
        "card {card_number} was not delivered to this station ({why}): keep it apart and send it back to the card-making centre"
    )]
    NotDeliveredHere {
        /// The card.
        card_number: String,
        /// Where it is for, or that it was made here.
        why: String,
    },
    /// A card taken in a second time.
    #[error("card {card_number} was already taken in by station {station}: it is in that station's stock")]
    AlreadyReceived {
        /// The card.
        card_number: String,
        /// The station that took it in.
        station: String,
    },
    /// The delivery list does not match the province's record of the card.
    #[error(
        "card {card_number}: the delivery list's {what} is not the card's at the province: check the card in hand against the list and ask the card-making centre"
    )]
    CardMismatch {
        /// The card.
        card_number: String,
        /// What differs (holder, card identification code).
        what: String,
    },
    /// A delivery to a station that cannot take the card in: the card-making centre itself, or
    /// a station the province has never seen (a mistyped id would leave the card in nobody's
    /// stock).
    #[error("card {card_number} cannot be delivered to {to_station}: {why}")]
    NotADestination {
        /// The card.
        card_number: String,
        /// The station named on the delivery.
        to_station: String,
        /// Why, with what to do.
        why: String,
    },
    /// A ledger head behind, or different from, one the station anchored before: its ledger
    /// was cut short or rewritten.
    #[error(
        "the ledger head {seq} ({hash}) does not follow the one anchored at the province, entry {anchored_seq} ({anchored_hash}): this station's ledger was cut short or rewritten; stop issuing and call the province's auditors"
    )]
    LedgerNotContinued {
        /// The head sent.
        seq: i64,
        /// Its hash.
        hash: String,
        /// The last head anchored.
        anchored_seq: i64,
        /// Its hash.
        anchored_hash: String,
    },
    /// A restore outside the re-issue that stopped the card.
    #[error("card {card_number} cannot be restored under claim {claim_id}: {why}")]
    NotRestorable {
        /// The card.
        card_number: String,
        /// The claim named.
        claim_id: i64,
        /// Why not.
        why: String,
    },
    /// A kit conflict of a kit that belongs to another station.
    #[error(
        "record {record_id} belongs to a kit of another station: only that station may see or settle it"
    )]
    NotYourKit {
        /// The record.
        record_id: String,
    },
    /// A kit record id that arrived before with other content: the store was altered (or
    /// re-sealed) after the record was sent.
    #[error(
        "record {record_id} arrived before with other content: the kit's store was changed after it was sent; do not sync, call the supervisor"
    )]
    RecordAltered {
        /// The record.
        record_id: String,
    },
    /// A kit record without a valid signature by the record-signing key the kit sent at its
    /// checkout: it was not made by the kit's own token (its store was opened with the
    /// passphrase, altered and re-sealed, or the record was written elsewhere). Nothing of it is
    /// applied; the refusal is in the audit.
    #[error(
        "record {record_id} was not made by this kit's token ({why}): the kit's store was changed after the record was written; nothing of it was applied. Do not sync again: keep the kit and the cards it carries apart and call the supervisor"
    )]
    RecordNotSigned {
        /// The record.
        record_id: String,
        /// What is wrong with its signature.
        why: String,
    },
    /// A temporary loss reported for a card that is under one already.
    #[error(
        "card {card_number} is reported lost already (by station {station}, until {until}, unix time): lift that loss or make it formal"
    )]
    AlreadySuspended {
        /// The card.
        card_number: String,
        /// The station that took the first report.
        station: String,
        /// When it lapses.
        until: i64,
    },
    /// A lift of a card with no temporary loss in force (never reported, lifted, lapsed, or
    /// made formal: a formal loss is never lifted, a replacement card is made instead).
    #[error("card {card_number} has no temporary loss in force ({why}): nothing to lift")]
    NotSuspended {
        /// The card.
        card_number: String,
        /// What its loss record says.
        why: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Losses (issue #24 item 4): a temporary loss (口头挂失) suspends a live card until its period
// ends, unless it is lifted (解挂) by the holder at a counter or made formal (正式挂失, a stop
// with reason loss) first. A suspended card stays the person's live card (RULE 1).

/// How a temporary loss reached the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossChannel {
    /// By phone: only the station that answers for the card takes it (RULE 10).
    Phone,
    /// The holder at this counter, ID checked: any station takes it.
    Counter,
}

impl LossChannel {
    /// The word stored in the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            LossChannel::Phone => "phone",
            LossChannel::Counter => "counter",
        }
    }

    /// Parses a stored word.
    pub fn parse(s: &str) -> Option<LossChannel> {
        [LossChannel::Phone, LossChannel::Counter].into_iter().find(|c| c.as_str() == s)
    }
}

/// Report a live card lost for a while (口头挂失): the province suspends it for `seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The card.
    pub card_number: String,
    /// The holder's ID number as the reporter gave it (compared, never echoed): a card number
    /// misheard on the phone suspends nobody else's card.
    pub ssn: String,
    /// Phone or counter.
    pub channel: LossChannel,
    /// The operator who took the report.
    pub operator: String,
    /// At the counter: the holder's resident ID card was checked against the person.
    #[serde(default)]
    pub id_checked: bool,
    /// How long the suspension lasts, in seconds (the station's schedule says; the province
    /// refuses more than [`MAX_SUSPENSION_SECONDS`]).
    pub seconds: i64,
}

/// Lift a temporary loss (解挂): the holder stands at the counter, ID checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiftRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The card.
    pub card_number: String,
    /// The holder's ID number read from the document shown (compared, never echoed).
    pub ssn: String,
    /// The operator who checked it.
    pub operator: String,
    /// The holder's resident ID card was checked against the person.
    pub id_checked: bool,
}

/// A temporary loss in force at the province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// The card.
    pub card_number: String,
    /// The station that took the report.
    pub station: String,
    /// Phone or counter.
    pub channel: LossChannel,
    /// Unix seconds when it was reported.
    pub since: i64,
    /// Unix seconds when it lapses by itself (the card is live again).
    pub until: i64,
}

/// The longest temporary loss the province accepts (30 days): a longer one is a formal loss.
pub const MAX_SUSPENSION_SECONDS: i64 = 30 * 24 * 3600;

impl SuspendRequest {
    /// The request's own checks, before the archive acts.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        check_person(&self.ssn)?;
        if self.operator.trim().is_empty() {
            return Err(crate::ArchiveError::BadRequest(
                "a loss report names the operator who took it".into(),
            ));
        }
        if self.channel == LossChannel::Counter && !self.id_checked {
            return Err(crate::ArchiveError::BadRequest(
                "a loss reported at the counter is taken from the holder, ID checked".into(),
            ));
        }
        if !(1..=MAX_SUSPENSION_SECONDS).contains(&self.seconds) {
            return Err(crate::ArchiveError::BadRequest(format!(
                "a temporary loss lasts 1 second to {} days: for longer, report a formal loss",
                MAX_SUSPENSION_SECONDS / 86_400
            )));
        }
        Ok(())
    }
}

impl LiftRequest {
    /// The request's own checks, before the archive acts.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        check_person(&self.ssn)?;
        if self.operator.trim().is_empty() || !self.id_checked {
            return Err(crate::ArchiveError::BadRequest(
                "a loss is lifted only for the holder at the counter, ID checked, by a named operator".into(),
            ));
        }
        Ok(())
    }
}
