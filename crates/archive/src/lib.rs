//! Archives of persons and cards.
//!
//! - [`ProvincialArchive`]: the contract every station relies on so that no one ever holds two
//!   live cards: look a person up, claim them for a new card (a lease), commit the claim with
//!   the card made, release it, stop an old card before a re-issue commits (and restore it,
//!   within that re-issue's claim, when the new card cannot be made), record a death.
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

pub mod at_rest;
/// The conformance suite: for the implementations' tests only (feature `conformance`).
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod custody;
pub mod kit;
pub mod local;
mod model;
mod sqlite_provincial;

pub use model::{
    check_person, AnchorRequest, CardEnd, CardFate, CardRecord, CardStatus, Claim, ClaimRequest,
    CommitRequest, CorrectDeceasedRequest, DeceasedRequest, DeliverRequest, HolderAtCounter, HolderStop,
    LedgerHead, LookupRequest, PersonCards, ReceiveRequest, Refusal, ReleaseRequest, RenewRequest,
    RestoreRequest, StopRequest,
};
pub use model::{LiftRequest, LossChannel, SuspendRequest, Suspension, MAX_SUSPENSION_SECONDS};
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
    /// Gives a claim up; its card number is reused once the card that may carry it is
    /// accounted for (a later release of the same claim may account for it).
    fn release(&self, request: &ReleaseRequest) -> Result<(), ArchiveError>;
    /// Extends this station's live claim (a job that waits keeps its person).
    fn renew(&self, request: &RenewRequest) -> Result<Claim, ArchiveError>;
    /// Stops a live card this station made, or another station's for the holder at this
    /// counter (loss, replacement).
    fn stop_card(&self, request: &StopRequest) -> Result<CardRecord, ArchiveError>;
    /// Gives a re-issue up within its claim and makes the old card live again, as it was before
    /// the claim's replacement stopped it (see [`RestoreRequest`]); the claim is released.
    fn restore_card(&self, request: &RestoreRequest) -> Result<CardRecord, ArchiveError>;
    /// Records a death with its evidence: cancels live cards (returned), releases claims,
    /// refuses new ones.
    fn mark_deceased(&self, request: &DeceasedRequest) -> Result<Vec<String>, ArchiveError>;
    /// Takes back a death recorded in error (a second supervisor).
    fn correct_deceased(&self, request: &CorrectDeceasedRequest) -> Result<(), ArchiveError>;
    /// Claims a kit's visit list under one lease (the caller is the kit); people who cannot be
    /// claimed are listed with the reason.
    fn checkout(&self, request: &kit::CheckoutRequest) -> Result<kit::Checkout, ArchiveError>;
    /// Applies one outbox record of the calling kit, once per record id, in sequence order.
    fn sync_record(&self, record: &kit::KitRecord) -> Result<kit::RecordResult, ArchiveError>;
    /// Closes a lease whose records all arrived: releases claims, returns numbers and cards.
    fn checkin(&self, request: &kit::CheckinRequest) -> Result<kit::Checkin, ArchiveError>;
    /// Records that could not stand and are not settled yet, of this station's kits only, for
    /// a supervisor, oldest first.
    fn kit_conflicts(&self) -> Result<Vec<kit::KitConflict>, ArchiveError>;
    /// Settles a conflict; settling it again keeps the first resolution.
    fn resolve_kit_conflict(&self, request: &kit::ResolveRequest) -> Result<(), ArchiveError>;
    /// The card-making centre (the caller) sends a live card it made to the station where its
    /// holder will collect it. An archive without cards made elsewhere refuses.
    fn deliver_card(&self, request: &DeliverRequest) -> Result<CardRecord, ArchiveError> {
        Err(ArchiveError::BadRequest(format!(
            "this provincial archive does not take deliveries of cards made elsewhere (card {})",
            request.card_number
        )))
    }
    /// Anchors the caller's ledger head: accepted when it continues the last one anchored (a
    /// later entry, or the same entry with the same hash); refused
    /// ([`Refusal::LedgerNotContinued`]) when it is behind it or differs from it.
    fn anchor_ledger(&self, request: &AnchorRequest) -> Result<LedgerHead, ArchiveError> {
        Err(ArchiveError::BadRequest(format!(
            "this provincial archive keeps no ledger heads (entry {})",
            request.head.seq
        )))
    }
    /// The last ledger head the caller anchored, if any.
    fn ledger_anchor(&self) -> Result<Option<LedgerHead>, ArchiveError> {
        Ok(None)
    }
    /// The caller takes in a card delivered to it (see [`ReceiveRequest`]); from then on the
    /// card is the caller's ([`CardRecord::station`]). An archive without cards made elsewhere
    /// refuses.
    fn receive_card(&self, request: &ReceiveRequest) -> Result<CardRecord, ArchiveError> {
        Err(ArchiveError::BadRequest(format!(
            "this provincial archive does not know cards made elsewhere (card {})",
            request.card_number
        )))
    }
    /// Suspends a live card for a while (a temporary loss, 口头挂失): the card stays the
    /// person's live card (RULE 1) but is neither activated nor handed over until the
    /// suspension is lifted or lapses; a formal loss ([`ProvincialArchive::stop_card`]) ends it.
    /// An archive without temporary losses refuses.
    fn suspend_card(&self, request: &SuspendRequest) -> Result<Suspension, ArchiveError> {
        Err(ArchiveError::BadRequest(format!(
            "this provincial archive does not take temporary losses (card {})",
            request.card_number
        )))
    }
    /// Records a custody approval (RULE 4) of a live card the caller answers for, so that an
    /// outreach kit carrying the card can hand it to that custodian ([`custody`]). An archive
    /// without custody approvals refuses.
    fn record_custody(
        &self,
        request: &custody::CustodyRequest,
    ) -> Result<custody::ProvincialCustody, ArchiveError> {
        Err(ArchiveError::BadRequest(format!(
            "this provincial archive keeps no custody approvals (card {})",
            request.approval.card_number
        )))
    }
    /// Lifts a temporary loss in force (解挂) for the holder at the counter; the card is live
    /// and usable again. An archive without temporary losses refuses.
    fn lift_suspension(&self, request: &LiftRequest) -> Result<Suspension, ArchiveError> {
        Err(ArchiveError::BadRequest(format!(
            "this provincial archive does not take temporary losses (card {})",
            request.card_number
        )))
    }
}

/// What the province allows one request (its configuration; a station cannot ask for more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest claim lease, seconds (a longer ask is cut to it).
    pub max_lease_seconds: i64,
    /// Longest kit lease, seconds (a longer ask is cut to it).
    pub max_kit_lease_seconds: i64,
    /// Most people on one kit checkout (more is refused).
    pub max_checkout_people: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_lease_seconds: 24 * 3600,
            max_kit_lease_seconds: 7 * 24 * 3600,
            max_checkout_people: 200,
        }
    }
}

impl Limits {
    /// The kit checkout's size against the limit.
    pub fn check_checkout(&self, people: usize) -> Result<(), Refusal> {
        if people > self.max_checkout_people {
            return Err(Refusal::OverLimit {
                what: format!("a checkout of {people} people"),
                limit: self.max_checkout_people as i64,
            });
        }
        Ok(())
    }
}

/// A request's fingerprint, stored with its answer: a replay of the id with another body is
/// refused. SM3 of the request as the archive's types serialise it.
pub fn request_hash<T: serde::Serialize>(request: &T) -> String {
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    card_crypto::sm3(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `station` may act on `claim` (commit, renew) in its stored `state`, `lapsed` when
/// its lease is over: only its own live claim; otherwise why not. One rule for both archives.
pub fn own_live_claim(station: &str, claim: &Claim, state: &str, lapsed: bool) -> Result<(), Refusal> {
    let state = match () {
        _ if claim.station != station => format!("held by {}", claim.station),
        _ if state == "live" && lapsed => "expired".into(),
        _ => state.to_string(),
    };
    if state != "live" {
        return Err(Refusal::ClaimNotLive { claim_id: claim.claim_id, state });
    }
    Ok(())
}

/// Whether `station` may end `card` as `q` asks: the station that made it may stop or recall
/// its own live card; another station only stops it (never recalls it) for the holder standing
/// at its counter with the ID checked (RULE 10).
pub fn may_stop(station: &str, card: &CardRecord, q: &StopRequest) -> Result<(), Refusal> {
    if !card.status.is_live() {
        return Err(Refusal::NotLive { card_number: card.card_number.clone(), status: card.status });
    }
    if card.station == station {
        return Ok(());
    }
    let for_holder = q.for_holder.as_ref().is_some_and(|h| h.id_checked && !h.operator.trim().is_empty());
    if for_holder && q.end == CardEnd::Stopped {
        return Ok(());
    }
    Err(Refusal::NotYourCard { card_number: card.card_number.clone(), station: card.station.clone() })
}

/// Whether `head` continues the last head a station anchored (`anchored`): a later entry, or
/// the same entry with the same hash. One rule for both archives.
pub fn may_anchor(head: &LedgerHead, anchored: Option<&LedgerHead>) -> Result<(), Refusal> {
    match anchored {
        Some(a) if head.seq < a.seq || (head.seq == a.seq && head.hash != a.hash) => {
            Err(Refusal::LedgerNotContinued {
                seq: head.seq,
                hash: head.hash.clone(),
                anchored_seq: a.seq,
                anchored_hash: a.hash.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// Whether `station` may restore `card` under `claim` (stored `state`, `lapsed` when its lease
/// is over; `stopped_for`: the claim whose replacement stopped the card): only its own live
/// claim, a re-issue of this very card, which that claim's replacement stopped. One rule for
/// both archives.
pub fn may_restore(
    station: &str,
    claim: &Claim,
    state: &str,
    lapsed: bool,
    card: &CardRecord,
    stopped_for: Option<i64>,
) -> Result<(), Refusal> {
    own_live_claim(station, claim, state, lapsed)?;
    let why = match () {
        _ if claim.reissue_of.as_deref() != Some(card.card_number.as_str()) => {
            "the claim is not a re-issue of this card".to_string()
        }
        _ if card.status != CardStatus::Stopped => {
            format!("the card is {}, not stopped", card.status.as_str())
        }
        _ if stopped_for != Some(claim.claim_id) => {
            "the card was not stopped for this claim's re-issue".into()
        }
        _ => return Ok(()),
    };
    Err(Refusal::NotRestorable { card_number: card.card_number.clone(), claim_id: claim.claim_id, why })
}

/// Whether a stop of `card` is the replacement of the re-issue `claim` (this station's live
/// claim on the card's holder): then the archive records that claim on the card, and only it
/// may restore the card.
pub fn stops_for_reissue(
    station: &str,
    card: &CardRecord,
    q: &StopRequest,
    claim: Option<&Claim>,
) -> Option<i64> {
    let replacement = q.for_holder.as_ref().is_some_and(|h| h.why == HolderStop::Replacement);
    let claim = claim?;
    (replacement
        && q.end == CardEnd::Stopped
        && claim.station == station
        && claim.ssn == card.ssn
        && claim.reissue_of.as_deref() == Some(card.card_number.as_str()))
    .then_some(claim.claim_id)
}

/// Whether the card-making centre `station` may deliver `card` (`received`: taken in already)
/// to `to_station` (`to_known`: a station the province has seen): only a live card it made
/// itself, not yet taken in, to another station that exists. One rule for both archives.
pub fn may_deliver(
    station: &str,
    card: &CardRecord,
    received: bool,
    to_station: &str,
    to_known: bool,
) -> Result<(), Refusal> {
    let not_there = |why: &str| {
        Err(Refusal::NotADestination {
            card_number: card.card_number.clone(),
            to_station: to_station.to_string(),
            why: why.to_string(),
        })
    };
    if received {
        return Err(Refusal::AlreadyReceived {
            card_number: card.card_number.clone(),
            station: card.station.clone(),
        });
    }
    if card.station != station {
        return Err(Refusal::NotYourCard {
            card_number: card.card_number.clone(),
            station: card.station.clone(),
        });
    }
    if !card.status.is_live() {
        return Err(Refusal::NotLive { card_number: card.card_number.clone(), status: card.status });
    }
    if to_station == station {
        return not_there(
            "that is the card-making centre itself: its own holders collect there without a delivery",
        );
    }
    if !to_known {
        return not_there(
            "no station of that id has connected to the province: check the id on the delivery order, or deliver once that station is in service",
        );
    }
    Ok(())
}

/// Whether `station` may take in `card` as `q` lists it (`deliver_to`: where the centre sent
/// it; `received`: taken in already): delivered to this station, not taken in before, live,
/// the list's holder and card identification code the card's. One rule for both archives.
pub fn may_receive(
    station: &str,
    card: &CardRecord,
    q: &ReceiveRequest,
    deliver_to: Option<&str>,
    received: bool,
) -> Result<(), Refusal> {
    let number = || card.card_number.clone();
    if received {
        return Err(Refusal::AlreadyReceived { card_number: number(), station: card.station.clone() });
    }
    if deliver_to != Some(station) {
        let why = match deliver_to {
            Some(other) => format!("it is for station {other}"),
            None if card.station == station => "this station made it".into(),
            None => "no delivery to this station is recorded".into(),
        };
        return Err(Refusal::NotDeliveredHere { card_number: number(), why });
    }
    if !card.ssn.eq_ignore_ascii_case(q.ssn.trim()) {
        return Err(Refusal::CardMismatch { card_number: number(), what: "holder".into() });
    }
    if card
        .card_id
        .as_deref()
        .is_some_and(|id| !q.card_id.trim().is_empty() && !id.eq_ignore_ascii_case(q.card_id.trim()))
    {
        return Err(Refusal::CardMismatch { card_number: number(), what: "card identification code".into() });
    }
    if !card.status.is_live() {
        return Err(Refusal::NotLive { card_number: number(), status: card.status });
    }
    Ok(())
}

/// The audit table's word for a refusal: `refused:` and its kind (`refused:live-card`).
pub fn refusal_kind(r: &Refusal) -> String {
    let kind = serde_json::to_value(r).ok().and_then(|v| v["refusal"].as_str().map(String::from));
    format!("refused:{}", kind.unwrap_or_default())
}

/// The card number for counter value `n` under `prefix` (one capital letter): the letter,
/// seven digits, the check character.
pub fn card_number(prefix: char, n: u32) -> Option<String> {
    if !prefix.is_ascii_uppercase() || n > 9_999_999 {
        return None;
    }
    applicant::CardNumber::with_check(&format!("{prefix}{n:07}")).ok().map(|c| c.as_str().to_string())
}

/// Opens (creating) an SQLite file that only the station's user may read (0600): it holds
/// applicants' data. SQLite gives its -wal and -shm files the database file's mode.
pub(crate) fn open_private(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path);
    if created.is_ok() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    rusqlite::Connection::open(path)
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Whether `station` may suspend `card` as `q` asks (`in_force`: the card's temporary loss in
/// force, if any): a live card of the holder named; by phone only the station that answers for
/// it, at a counter any station for the holder, ID checked (RULE 10); one temporary loss at a
/// time. One rule for both archives.
pub fn may_suspend(
    station: &str,
    card: &CardRecord,
    q: &SuspendRequest,
    in_force: Option<&Suspension>,
) -> Result<(), Refusal> {
    if !card.status.is_live() {
        return Err(Refusal::NotLive { card_number: card.card_number.clone(), status: card.status });
    }
    if !card.ssn.eq_ignore_ascii_case(q.ssn.trim()) {
        return Err(Refusal::CardMismatch { card_number: card.card_number.clone(), what: "holder".into() });
    }
    let at_counter = q.channel == LossChannel::Counter && q.id_checked;
    if card.station != station && !at_counter {
        return Err(Refusal::NotYourCard {
            card_number: card.card_number.clone(),
            station: card.station.clone(),
        });
    }
    if let Some(s) = in_force {
        return Err(Refusal::AlreadySuspended {
            card_number: card.card_number.clone(),
            station: s.station.clone(),
            until: s.until,
        });
    }
    Ok(())
}

/// How a card's latest temporary loss ended, as the archives store it (`None`: in force until
/// its `until`).
pub fn loss_end_word(ended: Option<&str>, until: i64, now: i64) -> &'static str {
    match ended {
        Some("lifted") => "lifted",
        Some("stopped") => "made formal: the card is stopped for good, a replacement card is made instead",
        Some(_) => "ended",
        None if until <= now => "lapsed: the card is live again",
        None => "in force",
    }
}

/// Whether the holder at the counter may lift `card`'s temporary loss (`latest`: its latest
/// loss record and how it ended): only a loss in force, only the card's holder. The loss
/// lifted. One rule for both archives.
pub fn may_lift(
    card: &CardRecord,
    q: &LiftRequest,
    latest: Option<(&Suspension, Option<&str>)>,
    now: i64,
) -> Result<Suspension, Refusal> {
    let number = || card.card_number.clone();
    if !card.ssn.eq_ignore_ascii_case(q.ssn.trim()) {
        return Err(Refusal::CardMismatch { card_number: number(), what: "holder".into() });
    }
    let Some((s, ended)) = latest else {
        let why = if card.status.is_live() { "no loss was reported" } else { "the card is not live" };
        return Err(Refusal::NotSuspended { card_number: number(), why: why.into() });
    };
    match loss_end_word(ended, s.until, now) {
        "in force" if card.status.is_live() => Ok(s.clone()),
        "in force" => Err(Refusal::NotLive { card_number: number(), status: card.status }),
        why => Err(Refusal::NotSuspended { card_number: number(), why: why.into() }),
    }
}
