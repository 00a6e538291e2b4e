//! Outreach kits (上门服务) at the provincial archive: a kit checks out a visit list, which
//! claims those people for the kit under one lease and reserves a card number for each; back
//! online it sends what happened as numbered records (each applied once, deduplicated by record
//! id, in order) and checks in, which releases the claims of people it did not serve and
//! returns the numbers it did not use. What cannot be applied any more (the person died, the
//! card was stopped elsewhere) is applied as far as it safely can and listed for a supervisor.

use serde::{Deserialize, Serialize};

use crate::custody::{KitCustodian, ProvincialCustody};
use crate::{CardRecord, Refusal};

/// Longest kit lease: a week of home visits.
pub const MAX_KIT_LEASE_SECONDS: i64 = 7 * 24 * 3600;

/// One person on the visit list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRequest {
    /// Resident ID number.
    pub ssn: String,
    /// Name, for the person record.
    pub name: String,
    /// A card already made for them (batch) that the kit carries to hand over.
    pub premade_card: Option<String>,
}

/// Check out a visit list for this kit (the kit id is the caller's station id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The people to visit.
    pub visits: Vec<VisitRequest>,
    /// Lease length in seconds (capped at [`MAX_KIT_LEASE_SECONDS`]).
    pub lease_seconds: i64,
    /// The kit's record-signing public key (P-256, SEC1 uncompressed point, hex), made in the
    /// kit's own token: every record of the lease must carry its signature
    /// ([`check_record_signature`]). Sent over the kit's mutual-TLS connection, so the key is
    /// bound to the kit's certificate; a checkout without one is refused ([`check_record_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_key: Option<String>,
}

/// A person the kit holds a claim on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasedVisit {
    /// Resident ID number.
    pub ssn: String,
    /// Name.
    pub name: String,
    /// The claim (on the same one-live-claim index as a counter's claims).
    pub claim_id: i64,
    /// The card number reserved for a card made on the visit.
    pub card_number: String,
    /// The pre-made card in the kit's custody, if any.
    pub premade_card: Option<String>,
    /// The custody approvals of the pre-made card current at checkout (RULE 4): on the visit
    /// the card may go to one of these custodians instead of the holder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custody: Vec<ProvincialCustody>,
}

/// A person the archive would not lease, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedVisit {
    /// Resident ID number.
    pub ssn: String,
    /// Why.
    pub refusal: Refusal,
}

/// The answer to a checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    /// The lease.
    pub lease_id: i64,
    /// The kit holding it.
    pub kit: String,
    /// Unix seconds when the claims lapse.
    pub expires_at: i64,
    /// The people claimed for the kit.
    pub visits: Vec<LeasedVisit>,
    /// The people not claimed, with the reason.
    pub refused: Vec<RefusedVisit>,
}

/// What happened on a visit, as the kit recorded it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum KitEvent {
    /// A card (pre-made or made on the visit) was handed to its holder, who signed.
    HandedOver {
        /// Holder.
        ssn: String,
        /// Card.
        card_number: String,
        /// Who signed.
        signer: String,
        /// SM3 of the signature image (hex).
        signature_sm3: String,
        /// The approved custodian who received it, when not the holder (RULE 4).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        custodian: Option<KitCustodian>,
    },
    /// A card was made on the visit under the person's claim (its reserved number).
    Made {
        /// Holder.
        ssn: String,
        /// The claim.
        claim_id: i64,
        /// Card identification code (hex).
        card_id: String,
        /// ATR (hex).
        atr: String,
    },
    /// The financial function was activated face to face.
    Activated {
        /// Holder.
        ssn: String,
        /// Card.
        card_number: String,
        /// SM3 of the photo taken then (hex).
        photo_sm3: String,
    },
    /// A blank card fed for a card made on the visit was spoiled (a device fault, a crash in
    /// the middle of making it, a chip that does not read back): it went to the reject box
    /// and is accounted for here. Its number stays reserved under the lease for the next card;
    /// nothing becomes live.
    Spoiled {
        /// The person it was being made for.
        ssn: String,
        /// The reserved number it was made under.
        card_number: String,
        /// Why it was spoiled.
        reason: String,
    },
    /// The visit did not give the person a card.
    VisitFailed {
        /// The person.
        ssn: String,
        /// The card that could not be handed over, if any.
        card_number: Option<String>,
        /// Why.
        reason: String,
    },
}

impl KitEvent {
    /// The person the event is about.
    pub fn ssn(&self) -> &str {
        match self {
            KitEvent::HandedOver { ssn, .. }
            | KitEvent::Made { ssn, .. }
            | KitEvent::Activated { ssn, .. }
            | KitEvent::Spoiled { ssn, .. }
            | KitEvent::VisitFailed { ssn, .. } => ssn,
        }
    }
}

/// One record of a kit's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitRecord {
    /// Globally unique (the kit id, the lease and the sequence number): the archive applies a
    /// record id once and answers every retry with the first result.
    pub record_id: String,
    /// The lease it happened under.
    pub lease_id: i64,
    /// Position in the lease's outbox, from 1, without gaps: records are applied in order.
    pub seq: i64,
    /// What happened.
    pub event: KitEvent,
    /// ECDSA P-256 signature (`r || s`, hex) by the kit's record-signing key over
    /// [`signing_bytes`], made inside the kit's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// What a kit signs for a record, and the province checks: a fixed label, then the record
/// without its signature as JSON (its fields in their declared order, the event tagged by
/// its kind). The kit and both archives encode it here, from the same types, so they sign
/// and check the same bytes. The signature is ECDSA P-256 over the SHA-256 of these bytes.
pub fn signing_bytes(r: &KitRecord) -> Vec<u8> {
    #[derive(Serialize)]
    struct Signed<'a> {
        record_id: &'a str,
        lease_id: i64,
        seq: i64,
        event: &'a KitEvent,
    }
    let mut out = b"outreach-kit-record/1\n".to_vec();
    let signed = Signed { record_id: &r.record_id, lease_id: r.lease_id, seq: r.seq, event: &r.event };
    // Serialising these types cannot fail (no maps with non-string keys, no floats).
    out.extend(serde_json::to_vec(&signed).unwrap_or_default());
    out
}

/// The record-signing key a checkout sends, checked before the lease exists: present, and a
/// point of P-256 (SEC1, hex). Returns it as the archive keeps it (lower-case hex).
pub fn check_record_key(q: &CheckoutRequest) -> Result<String, crate::ArchiveError> {
    let Some(key) = q.record_key.as_deref() else {
        return Err(crate::ArchiveError::BadRequest(
            "a kit checks out with its record-signing key: make it in the kit's token \
             (station kit keys generate) and name it in the kit's configuration ([kit] record_key)"
                .into(),
        ));
    };
    verifying_key(key).map_err(|why| {
        crate::ArchiveError::BadRequest(format!(
            "the kit's record-signing key is not a P-256 public key ({why}): send the key the kit's token made"
        ))
    })?;
    Ok(key.to_ascii_lowercase())
}

fn verifying_key(hex_key: &str) -> Result<p256::ecdsa::VerifyingKey, String> {
    let bytes = hex::decode(hex_key).map_err(|_| "not hex".to_string())?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).map_err(|_| "not a point of the curve".to_string())
}

/// Whether `r` carries a valid signature by `record_key`, the key the kit sent at the
/// checkout of the record's lease (`None`: a lease from before the province kept kits'
/// keys). One decision for every store: a record that fails is refused, nothing of it applied.
pub fn check_record_signature(record_key: Option<&str>, r: &KitRecord) -> Result<(), Refusal> {
    use p256::ecdsa::signature::Verifier as _;
    let refused = |why: &str| Refusal::RecordNotSigned { record_id: r.record_id.clone(), why: why.into() };
    let key = record_key.ok_or_else(|| refused("its lease was checked out without a record-signing key"))?;
    let key = verifying_key(key).map_err(|_| refused("the key kept with its lease is damaged"))?;
    let signature = r.signature.as_deref().ok_or_else(|| refused("it carries no signature"))?;
    let signature = hex::decode(signature)
        .ok()
        .and_then(|b| p256::ecdsa::Signature::from_slice(&b).ok())
        .ok_or_else(|| refused("its signature is not an ECDSA P-256 signature"))?;
    key.verify(&signing_bytes(r), &signature)
        .map_err(|_| refused("its signature does not match its content and the kit's key"))
}

/// What the archive did with a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RecordOutcome {
    /// Applied; the card as it now stands, when the record was about one.
    Applied {
        /// The card.
        card: Option<CardRecord>,
    },
    /// Could not be applied as recorded; listed for a supervisor.
    Conflict {
        /// What is wrong and what to do.
        reason: String,
    },
}

/// The per-record result of a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    /// The record.
    pub record_id: String,
    /// Its position.
    pub seq: i64,
    /// What was done.
    pub outcome: RecordOutcome,
}

/// Close a lease after its records are synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The lease.
    pub lease_id: i64,
    /// How many records the kit made under the lease: the archive refuses to close while it
    /// has seen fewer.
    pub records: i64,
}

/// What a check-in did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkin {
    /// The lease.
    pub lease_id: i64,
    /// People on the list the kit sent no record about.
    pub not_seen: Vec<String>,
    /// Claims released (people who got no card on the visit).
    pub released: usize,
    /// Reserved card numbers not used, returned to the pool.
    pub returned_numbers: Vec<String>,
    /// Pre-made cards not handed over, back in stock.
    pub back_to_stock: Vec<String>,
}

/// A record a supervisor must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitConflict {
    /// The record.
    pub record_id: String,
    /// The kit.
    pub kit: String,
    /// The lease.
    pub lease_id: i64,
    /// The person (mask before showing).
    pub ssn: String,
    /// The card concerned, if any.
    pub card_number: Option<String>,
    /// What is wrong and what to do.
    pub reason: String,
}

/// A supervisor's settling of a conflict: what was done about it (the card taken back, the
/// family told, ...). The conflict then leaves the open list; the resolution stays on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveRequest {
    /// The conflict's record.
    pub record_id: String,
    /// The supervisor who settled it.
    pub resolved_by: String,
    /// What was done.
    pub note: String,
}

impl ResolveRequest {
    /// A resolution says who and what: refused before the archive is asked otherwise.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        if self.resolved_by.trim().is_empty() || self.note.trim().chars().count() < 4 {
            return Err(crate::ArchiveError::BadRequest(
                "a resolution names the supervisor and says what was done about the conflict (a note of a few words)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A record id seen before: the same record again (a retry gets the first result) only if it
/// is under the same lease, at the same place, with the same event as first stored; anything
/// else is a store changed after it was sent. One rule for every store.
pub fn same_record(
    stored_lease: i64,
    stored_seq: i64,
    stored_event: &serde_json::Value,
    r: &KitRecord,
) -> Result<(), Refusal> {
    let event = serde_json::to_value(&r.event).unwrap_or_default();
    if stored_lease == r.lease_id && stored_seq == r.seq && *stored_event == event {
        Ok(())
    } else {
        Err(Refusal::RecordAltered { record_id: r.record_id.clone() })
    }
}

/// Why a kit record is refused outright (not stored: the kit fixes it and resends).
pub fn out_of_order(expected: i64, got: i64) -> crate::ArchiveError {
    crate::ArchiveError::BadRequest(format!(
        "record {got} out of order: the archive expects record {expected} of this lease next; send the outbox in order"
    ))
}

/// A check-in before every record arrived.
pub fn records_missing(seen: i64, kit: i64) -> crate::ArchiveError {
    crate::ArchiveError::BadRequest(format!(
        "the archive has {seen} records of this lease, the kit made {kit}: sync the rest before checking in"
    ))
}

/// Whether a person may go on a kit's visit list. `held_claim`: a live, unlapsed claim
/// (holder, end); `live_card`: the person's live card and its status.
pub fn decide_visit(
    v: &VisitRequest,
    deceased: bool,
    held_claim: Option<(String, i64)>,
    live_card: Option<(String, crate::CardStatus)>,
) -> Result<(), Refusal> {
    if deceased {
        return Err(Refusal::Deceased);
    }
    if let Some((station, expires_at)) = held_claim {
        return Err(Refusal::AlreadyClaimed { station, expires_at });
    }
    match (live_card, v.premade_card.as_deref()) {
        (None, None) => Ok(()),
        (Some((live, crate::CardStatus::Made)), Some(premade)) if live == premade => Ok(()),
        (Some((live, _)), _) => Err(Refusal::LiveCard { card_number: live }),
        (None, Some(premade)) => {
            Err(Refusal::NotFound { what: format!("pre-made card {premade} in stock for this person") })
        }
    }
}

/// What the archive knows when a hand-over or an activation arrives.
#[derive(Debug, Clone)]
pub struct CardFacts {
    /// The card, if the archive knows it.
    pub card: Option<CardRecord>,
    /// The card belongs to this lease (pre-made in its custody, or made under one of its claims).
    pub in_lease: bool,
    /// The holder is recorded deceased.
    pub deceased: bool,
    /// For a hand-over to a custodian: the approval its record names, as the archive holds it.
    pub custody: Option<ProvincialCustody>,
    /// Today at the archive (YYYYMMDD, China Standard Time).
    pub today: String,
}

/// The new status of the card for a hand-over or an activation, or the supervisor's reason
/// why it cannot stand. One decision for every store.
pub fn decide_card_event(event: &KitEvent, f: &CardFacts) -> Result<crate::CardStatus, String> {
    use crate::CardStatus::{Active, Issued, Made};
    let (card_number, from, to, what) = match event {
        KitEvent::HandedOver { card_number, .. } => (card_number, Made, Issued, "handed over offline"),
        KitEvent::Activated { card_number, .. } => (card_number, Issued, Active, "activated offline"),
        _ => return Err("not a card event".into()),
    };
    let Some(card) = f.card.as_ref().filter(|c| c.ssn == event.ssn()) else {
        return Err(format!("{what}: card {card_number} is not this person's card at the archive: check the card and the person"));
    };
    if !f.in_lease {
        return Err(format!(
            "{what}: card {card_number} was not in this kit's custody: find out how the kit had it"
        ));
    }
    if let KitEvent::HandedOver { custodian: Some(who), .. } = event {
        crate::custody::check_kit_custodian(card_number, who, f.custody.as_ref(), &f.today)?;
    }
    if card.status == from {
        return Ok(to);
    }
    if card.status.is_live() && !f.deceased {
        return Err(format!("{what}: card {card_number} is already {} at the archive", card.status.as_str()));
    }
    Err(card_conflict(card_number, card.status, f.deceased, what))
}

/// A claim of the lease as the archive holds it when a made card arrives.
#[derive(Debug, Clone)]
pub struct ClaimFacts {
    /// `live`, `expired`, `cancelled`, `committed`, `released`.
    pub state: String,
    /// The reserved number.
    pub card_number: String,
    /// Whether a card carries that number already.
    pub number_used: bool,
}

/// What the archive knows when a card made offline arrives.
#[derive(Debug, Clone)]
pub struct MadeFacts {
    /// The claim, if it belongs to this lease and person.
    pub claim: Option<ClaimFacts>,
    /// The person is recorded deceased.
    pub deceased: bool,
    /// The person's live card, if any.
    pub live_card: Option<String>,
    /// Another station's live claim on the person, if any.
    pub other_claim: Option<String>,
}

/// What to do with a card made offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MadeDecision {
    /// Record it `made` and commit the claim.
    Commit {
        /// Its number.
        card_number: String,
    },
    /// Record it with a status that is not live (so the number stays accounted for) and list
    /// it for a supervisor.
    RecordDead {
        /// Its number.
        card_number: String,
        /// Status to record.
        status: crate::CardStatus,
        /// For the supervisor.
        reason: String,
    },
    /// Nothing recorded; listed for a supervisor.
    Reject {
        /// For the supervisor.
        reason: String,
    },
}

/// One decision for every store: a card made offline stands only if the person is alive,
/// holds no live card and nobody else claimed them after the kit's lease lapsed.
pub fn decide_made(f: &MadeFacts) -> MadeDecision {
    use crate::CardStatus::{Cancelled, Recalled};
    let Some(claim) = &f.claim else {
        return MadeDecision::Reject {
            reason: "made offline under a claim this kit's lease does not hold: check the card".into(),
        };
    };
    let n = claim.card_number.clone();
    if claim.number_used || claim.state == "committed" {
        return MadeDecision::Reject {
            reason: format!("a second card made offline under the claim of number {n}: recover it"),
        };
    }
    if f.deceased {
        return MadeDecision::RecordDead { reason: format!("made offline: the person was recorded deceased while the kit was out; card {n} is recorded cancelled: recover it from the household"), card_number: n, status: Cancelled };
    }
    if let Some(live) = &f.live_card {
        return MadeDecision::RecordDead { reason: format!("made offline: the person holds live card {live}; card {n} is recorded recalled: take it back"), card_number: n, status: Recalled };
    }
    if let Some(other) = &f.other_claim {
        return MadeDecision::RecordDead { reason: format!("made offline after the lease lapsed: {other} has claimed the person since; card {n} is recorded recalled: take it back"), card_number: n, status: Recalled };
    }
    match claim.state.as_str() {
        "live" | "expired" => MadeDecision::Commit { card_number: n },
        other => MadeDecision::RecordDead {
            reason: format!(
                "made offline under a claim that is {other}; card {n} is recorded recalled: take it back"
            ),
            card_number: n,
            status: Recalled,
        },
    }
}

/// What the archive knows when a spoiled card arrives.
#[derive(Debug, Clone)]
pub struct SpoiledFacts {
    /// The number was reserved for this person under this lease.
    pub reserved_in_lease: bool,
    /// A card already carries the number.
    pub number_used: bool,
}

/// One decision for every store: a spoiled card is recorded against the number the lease
/// reserved for the person, before any card carries it (the kit spoils a card only before
/// the good one is made); anything else is listed for a supervisor. It changes no card and no
/// claim.
pub fn decide_spoiled(event: &KitEvent, f: &SpoiledFacts) -> Result<(), String> {
    let KitEvent::Spoiled { card_number, .. } = event else {
        return Err("not a spoiled card".into());
    };
    if !f.reserved_in_lease {
        return Err(format!(
            "a spoiled card under number {card_number}, which this kit's lease did not reserve for the person: \
             check the card in the kit's reject box"
        ));
    }
    if f.number_used {
        return Err(format!(
            "a spoiled card under number {card_number} after a card carrying that number was recorded: \
             check both cards before either is used"
        ));
    }
    Ok(())
}

/// The supervisor's reason for a record that cannot stand, from the facts of the card.
pub fn card_conflict(card: &str, status: crate::CardStatus, deceased: bool, what: &str) -> String {
    if deceased {
        format!("{what}: the holder was recorded deceased while the kit was out; card {card} is {}: recover the card from the household", status.as_str())
    } else {
        format!("{what}: card {card} was {} elsewhere while the kit was out: contact the holder and recover the card", status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CardStatus;

    fn card(status: CardStatus) -> CardRecord {
        CardRecord {
            card_number: "B00000019".into(),
            ssn: "11010519491231002X".into(),
            card_id: None,
            atr: None,
            status,
            station: "counter-1".into(),
        }
    }

    fn handed() -> KitEvent {
        KitEvent::HandedOver {
            ssn: "11010519491231002X".into(),
            card_number: "B00000019".into(),
            signer: "本人".into(),
            signature_sm3: "00".repeat(32),
            custodian: None,
        }
    }

    /// What a kit signs: the label and the record without its signature, each field in it, so
    /// a change to any of them changes the bytes, and the signature changes nothing.
    #[test]
    fn a_record_is_signed_over_every_field_but_its_signature() {
        let r = KitRecord {
            record_id: "kit-1/7/1".into(),
            lease_id: 7,
            seq: 1,
            event: handed(),
            signature: None,
        };
        let bytes = signing_bytes(&r);
        let text = String::from_utf8(bytes.clone()).expect("text");
        assert!(text.starts_with("outreach-kit-record/1\n{\"record_id\":\"kit-1/7/1\",\"lease_id\":7,\"seq\":1,\"event\":{\"event\":\"handed-over\""), "{text}");
        assert_eq!(signing_bytes(&KitRecord { signature: Some("00".into()), ..r.clone() }), bytes);
        for other in [
            KitRecord { record_id: "kit-2/7/1".into(), ..r.clone() },
            KitRecord { lease_id: 8, ..r.clone() },
            KitRecord { seq: 2, ..r.clone() },
            KitRecord {
                event: KitEvent::VisitFailed {
                    ssn: "11010519491231002X".into(),
                    card_number: None,
                    reason: "x".into(),
                },
                ..r.clone()
            },
        ] {
            assert_ne!(signing_bytes(&other), bytes, "{other:?}");
        }
        assert!(matches!(check_record_signature(None, &r), Err(Refusal::RecordNotSigned { .. })));
    }

    #[test]
    fn a_visit_is_leased_only_for_the_living_unclaimed_and_their_own_stock_card() {
        let v = VisitRequest { ssn: "11010519491231002X".into(), name: String::new(), premade_card: None };
        assert_eq!(decide_visit(&v, true, None, None), Err(Refusal::Deceased));
        assert!(matches!(
            decide_visit(&v, false, Some(("kit-2".into(), 9)), None),
            Err(Refusal::AlreadyClaimed { .. })
        ));
        assert!(matches!(
            decide_visit(&v, false, None, Some(("B00000019".into(), CardStatus::Made))),
            Err(Refusal::LiveCard { .. })
        ));
        let with = VisitRequest { premade_card: Some("B00000019".into()), ..v.clone() };
        assert_eq!(decide_visit(&with, false, None, Some(("B00000019".into(), CardStatus::Made))), Ok(()));
        assert!(
            matches!(
                decide_visit(&with, false, None, Some(("B00000019".into(), CardStatus::Issued))),
                Err(Refusal::LiveCard { .. })
            ),
            "an issued card is not stock"
        );
        assert!(matches!(decide_visit(&with, false, None, None), Err(Refusal::NotFound { .. })));
        assert_eq!(decide_visit(&v, false, None, None), Ok(()));
    }

    #[test]
    fn an_offline_hand_over_stands_only_on_a_live_card_of_the_lease() {
        let facts = |c: Option<CardRecord>, in_lease, deceased| CardFacts {
            card: c,
            in_lease,
            deceased,
            custody: None,
            today: "20261201".into(),
        };
        assert_eq!(
            decide_card_event(&handed(), &facts(Some(card(CardStatus::Made)), true, false)),
            Ok(CardStatus::Issued)
        );
        let stopped = decide_card_event(&handed(), &facts(Some(card(CardStatus::Stopped)), true, false));
        assert!(stopped.as_ref().is_err_and(|r| r.contains("stopped elsewhere")), "{stopped:?}");
        let dead = decide_card_event(&handed(), &facts(Some(card(CardStatus::Cancelled)), true, true));
        assert!(dead.as_ref().is_err_and(|r| r.contains("deceased")), "{dead:?}");
        assert!(decide_card_event(&handed(), &facts(Some(card(CardStatus::Made)), false, false)).is_err());
        assert!(decide_card_event(&handed(), &facts(None, true, false)).is_err());
        assert!(decide_card_event(&handed(), &facts(Some(card(CardStatus::Issued)), true, false)).is_err());
    }

    #[test]
    fn a_spoiled_card_stands_only_against_the_number_reserved_and_still_unused() {
        let spoiled = KitEvent::Spoiled {
            ssn: "11010519491231002X".into(),
            card_number: "B00000027".into(),
            reason: "ribbon broke".into(),
        };
        let facts = |reserved_in_lease, number_used| SpoiledFacts { reserved_in_lease, number_used };
        assert_eq!(decide_spoiled(&spoiled, &facts(true, false)), Ok(()));
        let foreign = decide_spoiled(&spoiled, &facts(false, false));
        assert!(foreign.as_ref().is_err_and(|r| r.contains("did not reserve")), "{foreign:?}");
        let after = decide_spoiled(&spoiled, &facts(true, true));
        assert!(after.as_ref().is_err_and(|r| r.contains("B00000027")), "{after:?}");
        assert!(decide_spoiled(&handed(), &facts(true, false)).is_err());
        assert_eq!(spoiled.ssn(), "11010519491231002X");
        let json = serde_json::to_value(&spoiled).expect("json");
        assert_eq!(json["event"], "spoiled");
        assert_eq!(serde_json::from_value::<KitEvent>(json).expect("back"), spoiled);
    }

    #[test]
    fn a_card_made_offline_stands_or_is_recorded_dead_never_live_twice() {
        let claim = |state: &str, used| ClaimFacts {
            state: state.into(),
            card_number: "B00000027".into(),
            number_used: used,
        };
        let facts = |c: Option<ClaimFacts>, deceased, live: Option<&str>, other: Option<&str>| MadeFacts {
            claim: c,
            deceased,
            live_card: live.map(str::to_string),
            other_claim: other.map(str::to_string),
        };
        let commit = MadeDecision::Commit { card_number: "B00000027".into() };
        assert_eq!(decide_made(&facts(Some(claim("live", false)), false, None, None)), commit);
        assert_eq!(
            decide_made(&facts(Some(claim("expired", false)), false, None, None)),
            commit,
            "lapsed, nobody came since"
        );
        let status = |d: MadeDecision| match d {
            MadeDecision::RecordDead { status, .. } => Some(status),
            _ => None,
        };
        assert_eq!(
            status(decide_made(&facts(Some(claim("cancelled", false)), true, None, None))),
            Some(CardStatus::Cancelled)
        );
        assert_eq!(
            status(decide_made(&facts(Some(claim("expired", false)), false, Some("B1"), None))),
            Some(CardStatus::Recalled)
        );
        assert_eq!(
            status(decide_made(&facts(Some(claim("expired", false)), false, None, Some("counter-1")))),
            Some(CardStatus::Recalled)
        );
        assert!(matches!(
            decide_made(&facts(Some(claim("live", true)), false, None, None)),
            MadeDecision::Reject { .. }
        ));
        assert!(matches!(decide_made(&facts(None, false, None, None)), MadeDecision::Reject { .. }));
    }
}
