//! The card's later life (FLOW B) and the RULES that govern it: face-to-face activation only
//! (3), custody by another person only for the allowed groups with an approval (4), every
//! movement in the ledger (5), a failed second hand-over records its reason before the card is
//! recalled (6), the first replacement is free (7), the bank is the person's choice (8).
//! Each operation checks its rule here; where a rule can live in the schema it lives there too.

use archive::local::{CustodyApproval, LocalArchive};
use archive::{CardStatus, DeceasedRequest, ProvincialArchive, ReleaseRequest, StopRequest};
use serde::{Deserialize, Serialize};

use crate::collection::Receiver;

/// Why a life-cycle operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// A rule of workflows.md forbids it.
    #[error("rule {rule}: {message}")]
    Rule {
        /// The rule number.
        rule: u8,
        /// What is wrong and what to do.
        message: String,
    },
    /// The card is not in a state that allows it.
    #[error("card {card}: {message}")]
    State {
        /// The card.
        card: String,
        /// Why.
        message: String,
    },
    /// The archive.
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    /// The bank's card system did not activate the card (see [`bank::BankError::kind`]).
    #[error(transparent)]
    Bank(bank::BankError),
}

/// The card must be this station's and in `expected`; `why` says what the operation needs.
fn require_status(
    local: &LocalArchive,
    card: &str,
    expected: CardStatus,
    why: &str,
) -> Result<(), LifecycleError> {
    match local.card_status(card)? {
        Some(s) if s == expected => Ok(()),
        Some(other) => {
            Err(LifecycleError::State { card: card.into(), message: format!("is {other:?}; {why}") })
        }
        None => Err(LifecycleError::State { card: card.into(), message: "not made at this station".into() }),
    }
}

/// The ledger line of a card's change of status, written with it.
fn ledger<'a>(
    operator: &'a str,
    card: &'a str,
    event: &'a str,
    detail: &'a serde_json::Value,
) -> archive::local::LedgerRecord<'a> {
    archive::local::LedgerRecord { operator, application_id: None, card_number: Some(card), event, detail }
}

fn rule(rule: u8, message: impl Into<String>) -> LifecycleError {
    LifecycleError::Rule { rule, message: message.into() }
}

/// How the activation was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// At the counter, the holder in front of the operator.
    Counter,
    /// Over the phone, the web, an app.
    Remote,
}

/// What the operator saw when activating the financial function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivationEvidence {
    /// Channel.
    pub channel: Channel,
    /// The person in front of the operator is the holder (not a proxy).
    pub holder_present: bool,
    /// The holder's ID document was checked at that moment.
    pub id_checked: bool,
    /// SM3 of the photo taken at that moment (hex).
    pub photo_sm3: Option<String>,
}

/// RULE 3 on the evidence alone (the counter and an outreach kit's home visit both check it):
/// the channel is face to face, the holder in person, their ID checked and photo taken now.
pub fn check_face_to_face(e: &ActivationEvidence) -> Result<(), LifecycleError> {
    if e.channel != Channel::Counter {
        return Err(rule(
            3,
            "the financial function is activated only face to face at the counter, never remotely",
        ));
    }
    if !e.holder_present {
        return Err(rule(3, "only the holder in person may activate: no proxy"));
    }
    if !e.id_checked || e.photo_sm3.as_deref().is_none_or(|p| p.len() != 64) {
        return Err(rule(3, "check the holder's ID and take their photo now, then activate"));
    }
    Ok(())
}

/// Ledger event: an activation request about to be sent to the bank (its request id).
pub const ACTIVATION_REQUESTED: &str = "card.activation-requested";
/// Ledger event: the bank refused the activation (with its reason), or it was not sent.
pub const ACTIVATION_REFUSED: &str = "card.activation-refused";

/// What the counter knows at the activation beyond the checks: the document's validity and
/// when the photo was taken (Unix seconds).
#[derive(Debug, Clone)]
pub struct Presented {
    /// The holder's ID document's last day of validity.
    pub id_valid_until: applicant::ValidUntil,
    /// When the counter's camera took the photo.
    pub photo_taken_at: i64,
}

/// The bank's confirmation, as the station recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Activated {
    /// The card.
    pub card_number: String,
    /// The bank's code.
    pub bank: String,
    /// The bank's reference.
    pub reference: String,
    /// The account, masked.
    pub account: String,
    /// The request id sent.
    pub request_id: String,
}

/// `长期` or `YYYY-MM-DD`.
pub fn parse_valid_until(s: &str) -> Option<applicant::ValidUntil> {
    match s.trim() {
        "长期" | "long_term" => Some(applicant::ValidUntil::LongTerm),
        other => applicant::Date::parse(other).ok().map(applicant::ValidUntil::Date),
    }
}

/// The request id of a request sent before without a final answer (the bank was unavailable
/// or its answer lost), with the evidence it carried: a retry sends the same request.
fn pending_request(entries: &[archive::local::LedgerEntry], card: &str) -> Option<serde_json::Value> {
    let mine = entries.iter().rev().filter(|e| e.card_number.as_deref() == Some(card));
    for e in mine {
        match e.event.as_str() {
            ACTIVATION_REQUESTED => return serde_json::from_str(&e.detail).ok(),
            ACTIVATION_REFUSED | "card.activated" => return None,
            _ => {}
        }
    }
    None
}

/// Activates the financial function through the card's bank (RULE 3, items 2 of #24): only
/// face to face (the holder in person, the ID document checked now, a photo the counter's
/// camera took now); the card becomes active only on the bank's confirmation.
///
/// The card must be known to the local archive and issued, whoever made it (a card received
/// from elsewhere has no application here: its holder, bank and account are the card's row).
/// The request id is written to the ledger before the request is sent, and no database
/// transaction is open while the bank answers. A refusal is recorded with the bank's reason
/// and the card stays issued; when the bank is unavailable nothing is recorded as final and
/// the next try sends the same request (same id, same evidence) again, so a lost answer never
/// activates twice. A new photo is needed once the first is older than the bank accepts.
pub fn activate(
    local: &LocalArchive,
    bank: &dyn bank::BankCardSystem,
    operator: &str,
    card: &str,
    e: &ActivationEvidence,
    presented: &Presented,
) -> Result<Activated, LifecycleError> {
    check_face_to_face(e)?;
    require_status(local, card, CardStatus::Issued, "only an issued card is activated")?;
    crate::losses::refuse_if_suspended(local, card)?;
    let row = local
        .card(card)?
        .ok_or_else(|| LifecycleError::State { card: card.into(), message: "not known here".into() })?;
    let state = |message: String| LifecycleError::State { card: card.into(), message };
    let card_number = applicant::CardNumber::parse(card).map_err(|e| state(e.to_string()))?;
    let registry = bank::Registry::builtin();
    let code = row
        .bank
        .clone()
        .or_else(|| row.account.as_deref().and_then(|a| registry.bank_for_bin(a)).map(|b| b.code.clone()))
        .ok_or_else(|| {
            state("its bank is not recorded: record the person's bank for the card, then activate".into())
        })?;
    // The account (the card's PAN): from the record, else from the bank, kept with the card.
    let account = match row.account.clone() {
        Some(a) => a,
        None => {
            let cref = bank::CardRef { card_number: card_number.clone(), bank_code: code.clone() };
            let info = bank.account(&cref).map_err(LifecycleError::Bank)?;
            local.set_card_account(card, Some(&code), Some(info.account.expose()))?;
            info.account.expose().to_string()
        }
    };
    let pan = bank::Pan::parse(&account).map_err(|e| state(e.to_string()))?;
    let id_number = bank::IdNumber::parse(&row.ssn).map_err(|e| state(e.to_string()))?;
    let entries = local.ledger()?;
    let (request_id, photo, taken_at, valid_until) = match pending_request(&entries, card) {
        Some(p) => (
            p["request_id"].as_str().unwrap_or_default().to_string(),
            p["photo_sm3"].as_str().unwrap_or_default().to_string(),
            p["photo_taken_at"].as_i64().unwrap_or_default(),
            p["id_valid_until"].as_str().unwrap_or_default().to_string(),
        ),
        None => {
            let tries = entries
                .iter()
                .filter(|l| l.event == ACTIVATION_REQUESTED && l.card_number.as_deref() == Some(card))
                .count();
            let id = bank::ActivationKey::new(local.station(), &format!("act-{card}-{}", tries + 1))
                .map_err(|e| state(e.to_string()))?;
            let photo = e.photo_sm3.clone().unwrap_or_default();
            let valid = match presented.id_valid_until {
                applicant::ValidUntil::Date(d) => d.to_string(),
                applicant::ValidUntil::LongTerm => "长期".to_string(),
            };
            let detail = serde_json::json!({"request_id": id.as_str(), "bank": code, "photo_sm3": photo,
                "photo_taken_at": presented.photo_taken_at, "id_valid_until": valid, "id_checked": true,
                "holder_present": true});
            local.append_ledger(operator, None, Some(card), ACTIVATION_REQUESTED, &detail)?;
            (id.as_str().to_string(), photo, presented.photo_taken_at, valid)
        }
    };
    let bad = |e: bank::ValueError| state(e.to_string());
    let request = bank::ActivationRequest {
        request_id: bank::ActivationKey::parse(&request_id).map_err(bad)?,
        station: local.station().to_string(),
        operator: operator.to_string(),
        bank_code: code.clone(),
        card_number,
        pan,
        holder: bank::Holder { name: row.name.clone(), id_type: applicant::IdType::ResidentId, id_number },
        face_to_face: bank::FaceToFace {
            holder_present: e.holder_present,
            id_document_checked: e.id_checked,
            id_valid_until: parse_valid_until(&valid_until)
                .ok_or_else(|| state(format!("document valid until {valid_until:?}")))?,
            photo: Some(bank::Photo {
                digest: bank::PhotoDigest::new(bank::DigestAlgorithm::Sm3, &photo).map_err(bad)?,
                taken_at,
            }),
        },
    };
    // No transaction is open here: the bank may take its time.
    match bank.activate(&request) {
        Ok(a) => {
            local.set_card_account(card, Some(&code), Some(a.account.expose()))?;
            let done = Activated {
                card_number: card.to_string(),
                bank: code,
                reference: a.reference.clone(),
                account: a.account.masked(),
                request_id: request_id.clone(),
            };
            let detail = serde_json::json!({"channel": "counter", "photo_sm3": photo, "id_checked": true,
                "bank": done.bank, "reference": done.reference, "account": done.account,
                "request_id": request_id, "bank_status": a.status});
            local.set_card_status_ledgered(
                card,
                CardStatus::Active,
                &ledger(operator, card, "card.activated", &detail),
            )?;
            Ok(done)
        }
        Err(err) => {
            let retry = matches!(err, bank::BankError::Unavailable(_) | bank::BankError::Protocol(_));
            if !retry {
                // Final: the next try is a new request (after the reason was put right).
                let (code, reason) = match &err {
                    bank::BankError::Refused { code, reason } => (code.to_string(), bank::scrub(reason)),
                    other => ("not-sent".to_string(), other.to_string()),
                };
                let detail = serde_json::json!({"request_id": request_id, "code": code, "reason": reason});
                local.append_ledger(operator, None, Some(card), ACTIVATION_REFUSED, &detail)?;
            }
            Err(LifecycleError::Bank(err))
        }
    }
}

pub use archive::custody::CUSTODY_GROUPS;

/// Records a supervisor's custody approval (RULE 4: only for the allowed groups, saying for
/// whom, why and until when, approved by someone other than the operator who hands the card
/// over): at the province first, so that an outreach kit carrying the card can hand it to that
/// custodian; then here, with its ledger line naming the province's approval. The request id
/// is the approval's own hash: a retry after a lost answer, or after a crash before the station
/// recorded it, gets the province's first answer. Nothing is recorded here when the province
/// refuses or cannot be reached (retry when the network is back).
pub fn hand_to_custodian(
    local: &LocalArchive,
    province: &dyn archive::ProvincialArchive,
    operator: &str,
    approval: &CustodyApproval,
) -> Result<archive::custody::ProvincialCustody, LifecycleError> {
    approval.check().map_err(|m| rule(4, m))?;
    if approval.approved_by == operator {
        return Err(rule(
            4,
            "the approval must come from a supervisor other than the operator handing the card over",
        ));
    }
    let hash = archive::request_hash(approval);
    let request = archive::custody::CustodyRequest {
        request_id: format!("custody-{}-{}", approval.card_number, &hash[..hash.len().min(16)]),
        approval: approval.clone(),
    };
    let held = province.record_custody(&request)?;
    // A retry after the station recorded it too (a lost answer to the supervisor): once here.
    if local.custody_approvals(&approval.card_number)?.contains(approval) {
        return Ok(held);
    }
    let detail = serde_json::json!({"group": approval.holder_group, "custodian": approval.custodian, "custodian_id": approval.custodian_id,
        "approved_by": approval.approved_by, "until": approval.valid_until, "province_approval": held.approval_id});
    local
        .add_custody_approval(approval, &ledger(operator, &approval.card_number, "card.custody", &detail))?;
    Ok(held)
}

/// Whether an application is still under way or its card waits for the holder (`made`).
fn application_open(local: &LocalArchive, application: i64) -> bool {
    local
        .application(application)
        .ok()
        .flatten()
        .is_some_and(|(status, _)| !["issued", "failed", "cancelled"].contains(&status.as_str()))
}

/// Ledger event of a card put in stock at a storage place (its holder collects it later).
pub const CARD_STOCKED: &str = "card.stocked";

/// The job of `card` that waits at its hand-over for the holder at the counter, if any.
pub fn waiting_job(local: &LocalArchive, card: &str) -> Result<Option<i64>, LifecycleError> {
    let Some(row) = local.card(card)? else { return Ok(None) };
    for job in local.jobs_of_application(row.application_id)? {
        let waits = crate::engine::awaiting_handover(local, job)
            .map_err(|e| LifecycleError::State { card: card.into(), message: e.to_string() })?;
        if waits.is_some() {
            return Ok(Some(job));
        }
    }
    Ok(None)
}

/// Where a card is kept in stock: the last `card.stocked`, `card.received` or `card.moved`
/// line's place and keeper ([`crate::stock::storage_of`]).
pub fn stock_place(entries: &[archive::local::LedgerEntry], card: &str) -> Option<serde_json::Value> {
    crate::stock::storage_of(entries, card)
}

/// RULE 4 at the hand-over: the receiver is the holder, the number on the ID document checked
/// equal to the card's holder's, or a custodian named in an approval of this card for one of
/// the allowed groups that has not ended by `today` (YYYYMMDD). What the ledger keeps of the
/// receiver (ID numbers masked), or the refusal with what to do.
pub fn check_receiver(
    local: &LocalArchive,
    card: &str,
    receiver: &Receiver,
    today: &str,
) -> Result<serde_json::Value, LifecycleError> {
    let holder = local.card_holder(card)?.ok_or_else(|| LifecycleError::State {
        card: card.into(),
        message: "not made at this station".into(),
    })?;
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    match receiver {
        Receiver::Holder { id_number } => {
            if !same(id_number, &holder) {
                return Err(rule(
                    4,
                    format!(
                        "the ID document shown ({}) is not the holder's ({}): only the holder, or a custodian with a recorded approval, receives the card",
                        applicant::mask_id(id_number.trim()),
                        applicant::mask_id(&holder)
                    ),
                ));
            }
            Ok(
                serde_json::json!({"kind": "holder", "id_number": applicant::mask_id(&holder), "id_checked": true}),
            )
        }
        Receiver::Custodian { name, id_number } => {
            let masked = applicant::mask_id(&id_number.trim().to_ascii_uppercase());
            let approvals: Vec<CustodyApproval> = local
                .custody_approvals(card)?
                .into_iter()
                .filter(|a| CUSTODY_GROUPS.contains(&a.holder_group.as_str()))
                .filter(|a| a.custodian.trim() == name.trim() && same(&a.custodian_id, &masked))
                .collect();
            let Some(approval) = approvals.iter().rev().find(|a| a.valid_until.as_str() >= today) else {
                let what = match approvals.last() {
                    Some(a) => format!(
                        "the custody approval of {} for this card ended on {}: a supervisor records a new one before the card is handed over",
                        name.trim(),
                        a.valid_until
                    ),
                    None => format!(
                        "{} ({masked}) has no recorded custody approval for this card's holder: nobody may collect another person's card; \
                         custody only for {} with a supervisor's approval (who approved, for whom, why, until when), recorded first",
                        name.trim(),
                        CUSTODY_GROUPS.join(", ")
                    ),
                };
                return Err(rule(4, what));
            };
            Ok(serde_json::json!({"kind": "custodian", "name": name.trim(), "id_number": masked,
                "group": approval.holder_group, "approved_by": approval.approved_by, "until": approval.valid_until,
                "holder": applicant::mask_id(&holder)}))
        }
    }
}

/// RULE 4 on a home visit (the outreach kit): the card goes to the holder, the number on the
/// ID document checked equal to `ssn` (shown masked if not), or to a custodian admitted on
/// `today` (YYYYMMDD, the kit's clock) by one of the card's approvals the kit carries from the
/// province (`custody`, current at checkout). Who received it when not the holder: the
/// province checks that approval again when the record arrives.
pub fn check_receiver_on_visit(
    ssn: &str,
    card: &str,
    receiver: Option<&Receiver>,
    custody: &[archive::custody::ProvincialCustody],
    today: &str,
) -> Result<Option<archive::custody::KitCustodian>, LifecycleError> {
    match receiver {
        None => Err(rule(
            4,
            "check the receiver's ID document and give its number: the holder, or a custodian whose approval the kit carries",
        )),
        Some(Receiver::Holder { id_number }) if id_number.trim().eq_ignore_ascii_case(ssn) => Ok(None),
        Some(Receiver::Holder { id_number }) => Err(rule(
            4,
            format!(
                "the ID document shown ({}) is not the holder's ({}): nobody may collect another person's card",
                applicant::mask_id(id_number.trim()),
                applicant::mask_id(ssn)
            ),
        )),
        Some(Receiver::Custodian { name, id_number }) => {
            let masked = applicant::mask_id(&id_number.trim().to_ascii_uppercase());
            let of_card = custody.iter().filter(|c| c.approval.card_number == card);
            if let Some(c) = of_card.clone().find(|c| c.approval.admits(name, &masked, today)) {
                return Ok(Some(archive::custody::KitCustodian {
                    approval_id: c.approval_id,
                    name: name.trim().to_string(),
                    id_number: masked,
                    on: today.to_string(),
                }));
            }
            // An approval of this custodian on some day (admitted on the empty day), ended now.
            let ended = of_card
                .filter(|c| c.approval.admits(name, &masked, ""))
                .map(|c| c.approval.valid_until.clone())
                .max();
            Err(rule(
                4,
                match ended {
                    Some(until) => format!(
                        "the custody approval of {} for card {card} ended on {until}: hand the card to the holder, or bring it \
                         back (it stays in the kit's custody) for a new approval at the station",
                        name.trim()
                    ),
                    None => format!(
                        "the kit carries no custody approval of {} ({masked}) for card {card}: nobody may collect another \
                         person's card; hand it to the holder, or bring it back (it stays in the kit's custody). A \
                         supervisor records custody at the station before the kit checks the card out",
                        name.trim()
                    ),
                },
            ))
        }
    }
}

/// Records an attempt to hand over a stock card: a success names who signed (their
/// signature's SM3 is the evidence kept with it) and who received it (RULE 4: the holder,
/// ID checked, or an approved custodian; `today` is YYYYMMDD), a failure needs its reason
/// (RULE 6). A card waiting at the counter for its holder is not in stock: its job's
/// hand-over ([`crate::release_at_counter`]) takes it.
pub fn handover_attempt(
    local: &LocalArchive,
    operator: &str,
    card: &str,
    outcome: &Handover,
    receiver: Option<&Receiver>,
    today: &str,
) -> Result<u32, LifecycleError> {
    let failure = check_handover(outcome)?;
    let received = match (failure, receiver) {
        (Some(_), _) => None,
        (None, Some(r)) => Some(check_receiver(local, card, r, today)?),
        (None, None) => {
            return Err(rule(
                4,
                "say who receives the card: the holder (the number on their ID document) or a custodian with a recorded approval",
            ))
        }
    };
    if failure.is_none() {
        crate::losses::refuse_if_suspended(local, card)?;
    }
    if waiting_job(local, card)?.is_some() {
        return Err(LifecycleError::State {
            card: card.into(),
            message: "waits at the counter for its holder: hand it over with their signature, or park it to stock with the reason".into(),
        });
    }
    // An instant card its job handed over before signatures were taken at the hand-over:
    // the receiver's signature completes that hand-over, once.
    let completes_instant = failure.is_none()
        && local.card_status(card)? == Some(CardStatus::Issued)
        && !signed_for(local, card)?;
    if !completes_instant {
        require_status(local, card, CardStatus::Made, "only a card in stock is handed over")?;
    }
    // The attempt, its ledger line and the card issued: one transaction.
    let n = local.record_handover(card, failure.is_none(), failure, Some(operator), |n| {
        Some(match outcome {
            Handover::Delivered { signer, signature_sm3 } => (
                "card.handed_over",
                serde_json::json!({"attempt": n, "signer": signer, "signature_sm3": signature_sm3,
                    "receiver": received, "method": "in person at the counter"}),
            ),
            Handover::Failed { reason } => {
                ("card.handover_failed", serde_json::json!({"attempt": n, "reason": reason}))
            }
        })
    })?;
    if failure.is_none() {
        if let Some(row) = local.card(card)?.filter(|r| application_open(local, r.application_id)) {
            local.set_application(row.application_id, archive::local::ApplicationStatus::Issued, None)?;
        }
    }
    Ok(n)
}

/// Whether the ledger holds a signed hand-over of `card`.
fn signed_for(local: &LocalArchive, card: &str) -> Result<bool, LifecycleError> {
    Ok(local.ledger()?.iter().any(|e| e.card_number.as_deref() == Some(card) && is_signed_handover(e)))
}

/// Whether a ledger entry is a hand-over that keeps the receiver's signature (RULE 5).
pub fn is_signed_handover(e: &archive::local::LedgerEntry) -> bool {
    e.event == "card.handed_over"
        && serde_json::from_str::<serde_json::Value>(&e.detail).is_ok_and(|d| d["signature_sm3"].is_string())
}

/// RULES 5 and 6 on the outcome alone: a success names the signer and keeps their
/// signature's SM3, a failure its reason. The failure reason, if it failed.
pub fn check_handover(outcome: &Handover) -> Result<Option<&str>, LifecycleError> {
    match outcome {
        Handover::Delivered { signer, signature_sm3 } => {
            if signer.trim().is_empty() || signature_sm3.len() != 64 {
                return Err(rule(5, "a hand-over records who received the card and their signature"));
            }
            Ok(None)
        }
        Handover::Failed { reason } if reason.trim().is_empty() => {
            Err(rule(6, "a failed hand-over records its reason"))
        }
        Handover::Failed { reason } => Ok(Some(reason.as_str())),
    }
}

/// How a hand-over attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Handover {
    /// The holder (or an approved custodian) received the card and signed.
    Delivered {
        /// Who signed.
        signer: String,
        /// SM3 of the signature image (hex).
        signature_sm3: String,
    },
    /// Nobody could receive it.
    Failed {
        /// Why, for the record and the recall.
        reason: String,
    },
}

/// Recalls a stock card after a failed second hand-over whose reason is recorded (RULE 6): the
/// province registers it recalled (so it is no longer live there and the person may be served
/// again), then this station. `request_id` makes a retry after a lost answer harmless.
pub fn recall(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    operator: &str,
    card: &str,
    request_id: &str,
) -> Result<(), LifecycleError> {
    let failures = local.failed_handovers(card)?;
    if failures.len() < 2 {
        return Err(rule(6, format!("{} failed hand-over(s) recorded: a card is recalled only after a failed second issuance with its reason", failures.len())));
    }
    match local.card_status(card)? {
        Some(CardStatus::Made | CardStatus::Issued | CardStatus::Recalled) => {}
        _ => require_status(local, card, CardStatus::Made, "only a stock or dormant card is recalled")?,
    }
    let recall = StopRequest {
        request_id: request_id.into(),
        card_number: card.into(),
        reason: failures.join("; "),
        end: archive::CardEnd::Recalled,
        for_holder: None,
    };
    match province.stop_card(&recall) {
        Ok(_) => {}
        Err(archive::ArchiveError::Refused(archive::Refusal::NotLive {
            status: CardStatus::Recalled,
            ..
        })) => {}
        Err(archive::ArchiveError::Refused(archive::Refusal::NotLive { status, .. })) => {
            return Err(LifecycleError::State {
                card: card.into(),
                message: format!(
                    "is {status:?} at the province, not live: run the reconciliation and settle the card's status before recalling it"
                ),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let detail = serde_json::json!({"reasons": failures, "province": "recalled"});
    local.set_card_status_ledgered(
        card,
        CardStatus::Recalled,
        &ledger(operator, card, "card.recalled", &detail),
    )?;
    // The application that made it ends with the card: the person may apply again.
    if let Some(row) = local.card(card)?.filter(|r| application_open(local, r.application_id)) {
        local.set_application(
            row.application_id,
            archive::local::ApplicationStatus::Cancelled,
            Some("the card was recalled after failed hand-overs"),
        )?;
    }
    Ok(())
}

/// Who chose the bank of a replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChosenBy {
    /// The person.
    Person,
    /// The operator or the bank.
    Operator,
}

/// Records a replacement at the bank the person chose (RULE 8); the first is free (RULE 7).
pub fn replace(
    local: &LocalArchive,
    operator: &str,
    old_card: &str,
    bank: &str,
    chosen_by: ChosenBy,
    fee_fen: i64,
) -> Result<(), LifecycleError> {
    if chosen_by != ChosenBy::Person {
        return Err(rule(8, "the bank is the person's choice: an operator may not choose or force a change"));
    }
    let ssn = local.card_holder(old_card)?.ok_or_else(|| LifecycleError::State {
        card: old_card.into(),
        message: "not made at this station".into(),
    })?;
    if local.replacements(&ssn)? == 0 && fee_fen != 0 {
        return Err(rule(
            7,
            "the first replacement is free: set the fee to 0 (the bank settles with the card centre)",
        ));
    }
    let detail = serde_json::json!({"bank": bank, "chosen_by": "person", "fee_fen": fee_fen});
    let record = ledger(operator, old_card, "card.replacement", &detail);
    local.record_replacement(&ssn, old_card, bank, "person", fee_fen, &record)?;
    Ok(())
}

/// A holder has died (RULE 2): the province records the death with its evidence and the
/// supervisor, which cancels every live card and refuses new claims; this station cancels its
/// own copies of those cards and ledgers each. `request_id` makes a retry after a lost answer
/// harmless.
pub fn cancel_for_deceased(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    supervisor: &str,
    ssn: &str,
    evidence: &str,
    request_id: &str,
) -> Result<Vec<String>, LifecycleError> {
    let operator = supervisor;
    let cancelled = province.mark_deceased(&DeceasedRequest {
        request_id: request_id.into(),
        ssn: ssn.into(),
        evidence: evidence.into(),
        supervisor: supervisor.into(),
    })?;
    let mut here = Vec::new();
    for card in local.cards(None)?.into_iter().filter(|c| c.ssn == ssn && c.status.is_live()) {
        let detail = serde_json::json!({"reason": "holder deceased", "holder": applicant::mask_id(ssn)});
        let record = ledger(operator, &card.card_number, "card.cancelled", &detail);
        local.set_card_status_ledgered(&card.card_number, CardStatus::Cancelled, &record)?;
        here.push(card.card_number);
    }
    for card in cancelled.iter().filter(|c| !here.contains(c)) {
        // Made elsewhere: the province cancelled it; the ledger notes that this station saw it.
        local.append_ledger(
            operator,
            None,
            None,
            "card.cancelled_elsewhere",
            &serde_json::json!({"card_number": card, "reason": "holder deceased"}),
        )?;
    }
    Ok(cancelled)
}

/// Ledger event of a spoiled card nobody knows the place of (a jam, a card taken out by hand):
/// its number is held at the province until [`account_for_card`].
pub const CARD_UNACCOUNTED: &str = "card.unaccounted";
/// Ledger event of such a card found and put in the reject box.
pub const CARD_ACCOUNTED: &str = "card.accounted_for";

/// The spoiled cards whose place is not known yet: (card number, claim), from the ledger.
pub fn unaccounted_cards(local: &LocalArchive) -> Result<Vec<(String, i64)>, LifecycleError> {
    Ok(unaccounted_in(&local.ledger()?))
}

/// The same from ledger entries already read (the reconciliation reads the ledger once).
pub fn unaccounted_in(ledger: &[archive::local::LedgerEntry]) -> Vec<(String, i64)> {
    let mut open: Vec<(String, i64)> = Vec::new();
    for e in ledger {
        let Some(card) = e.card_number.clone() else { continue };
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
        let claim = detail["claim_id"].as_i64().unwrap_or_default();
        match e.event.as_str() {
            CARD_UNACCOUNTED => open.push((card, claim)),
            CARD_ACCOUNTED => open.retain(|(c, k)| !(c == &card && *k == claim)),
            _ => {}
        }
    }
    open
}

/// A spoiled card whose place was unknown is found and put in the reject box (to be destroyed
/// with the others): the province is told, so the number it held goes back into circulation;
/// the ledger records who found it. `request_id` makes a retry harmless.
pub fn account_for_card(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    supervisor: &str,
    card: &str,
    request_id: &str,
) -> Result<(), LifecycleError> {
    let Some((_, claim_id)) = unaccounted_cards(local)?.into_iter().find(|(c, _)| c == card) else {
        return Err(LifecycleError::State {
            card: card.into(),
            message: "is not a spoiled card whose place is unknown: nothing to account for".into(),
        });
    };
    province.release(&ReleaseRequest {
        request_id: request_id.into(),
        claim_id,
        reason: "the spoiled card was found and put in the reject box".into(),
        card: archive::CardFate::Rejected,
    })?;
    local.append_ledger(
        supervisor,
        None,
        Some(card),
        CARD_ACCOUNTED,
        &serde_json::json!({"claim_id": claim_id, "place": "reject box, to be destroyed"}),
    )?;
    Ok(())
}

/// The holder reports the card lost: it is stopped at the province and here, so nobody can
/// use it and a re-issue may follow (RULE 1 then lets the new card be made). A card another
/// station made is stopped only with `holder_at_counter` (the holder here, ID checked: RULE 10).
pub fn report_loss(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    operator: &str,
    card: &str,
    holder_at_counter: bool,
    request_id: &str,
) -> Result<(), LifecycleError> {
    let status = local.card_status(card)?;
    if status.is_some_and(|s| !s.is_live()) {
        return Err(LifecycleError::State {
            card: card.into(),
            message: format!(
                "is {:?} already; a loss is reported for a live card",
                status.unwrap_or(CardStatus::Failed)
            ),
        });
    }
    let stop = StopRequest {
        request_id: request_id.into(),
        card_number: card.into(),
        reason: "loss".into(),
        end: archive::CardEnd::Stopped,
        for_holder: holder_at_counter.then(|| archive::HolderAtCounter {
            why: archive::HolderStop::Loss,
            operator: operator.into(),
            id_checked: true,
        }),
    };
    match province.stop_card(&stop) {
        Ok(_) => {}
        Err(archive::ArchiveError::Refused(archive::Refusal::NotLive { .. })) if status.is_some() => {}
        Err(e) => return Err(e.into()),
    }
    let after_temporary = crate::losses::loss_in_force(&local.ledger()?, card, archive_now()).is_some();
    let detail = serde_json::json!({"card_number": card, "reason": "loss", "kind": "formal",
        "after_temporary_loss": after_temporary, "holder_at_counter": holder_at_counter});
    let record = ledger(operator, card, "card.stopped", &detail);
    if status.is_some() {
        local.set_card_status_ledgered(card, CardStatus::Stopped, &record)?;
    } else {
        // Made elsewhere: only the ledger of this station says it saw the loss.
        local.append_ledger(operator, None, Some(card), "card.stopped", &detail)?;
    }
    Ok(())
}

fn archive_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
pub(crate) mod tests {
    use archive::local::PersonRow;

    use super::*;

    fn archive_with_card(status: CardStatus) -> (tempfile::TempDir, LocalArchive) {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        a.upsert_person(&PersonRow {
            ssn: "11010519491231002X".into(),
            name: "张三".into(),
            sex: None,
            birth_date: None,
        })
        .expect("person");
        let app = a.open_application("11010519491231002X", "new", "{}").expect("app");
        a.record_card(app, "11010519491231002X", "B00000019", "id", "atr").expect("card");
        a.set_card_status("B00000019", status).expect("status");
        (dir, a)
    }

    fn evidence() -> ActivationEvidence {
        ActivationEvidence {
            channel: Channel::Counter,
            holder_present: true,
            id_checked: true,
            photo_sm3: Some("a".repeat(64)),
        }
    }

    /// A bank that answers from a script: refused, unavailable, then activated; it records
    /// the request ids it was sent.
    type Script = (Vec<Result<(), bank::BankError>>, Vec<String>);
    struct Scripted(std::sync::Mutex<Script>);

    impl bank::BankCardSystem for Scripted {
        fn activate(&self, r: &bank::ActivationRequest) -> Result<bank::Activation, bank::BankError> {
            let mut s = self.0.lock().expect("lock");
            s.1.push(r.request_id.as_str().to_string());
            s.0.remove(0)?;
            Ok(bank::Activation {
                card_number: r.card_number.clone(),
                bank_code: r.bank_code.clone(),
                account: bank::AccountNumber::parse(r.pan.expose()).expect("account"),
                status: bank::ActivationStatus::Activated,
                reference: "R-1".into(),
                activated_at: 0,
                replayed: false,
            })
        }
        fn account(&self, _: &bank::CardRef) -> Result<bank::AccountInfo, bank::BankError> {
            Err(bank::BankError::Unavailable("not scripted".into()))
        }
    }

    #[test]
    fn rule_3_activation_only_face_to_face_and_only_on_the_banks_confirmation() {
        let (_d, a) = archive_with_card(CardStatus::Issued);
        a.set_card_account("B00000019", Some("ICBC"), Some("6212345302375609269")).expect("account");
        let refused = bank::BankError::Refused {
            code: bank::RefusalCode::AccountFrozen,
            reason: "账户已冻结".into(),
        };
        let down = bank::BankError::Unavailable("HTTP 503".into());
        let bank = Scripted(std::sync::Mutex::new((vec![Err(refused), Err(down), Ok(())], Vec::new())));
        let presented =
            Presented { id_valid_until: applicant::ValidUntil::LongTerm, photo_taken_at: bank::now_unix() };
        for (bad, why) in [
            (ActivationEvidence { channel: Channel::Remote, ..evidence() }, "remotely"),
            (ActivationEvidence { holder_present: false, ..evidence() }, "proxy"),
            (ActivationEvidence { photo_sm3: None, ..evidence() }, "photo"),
            (ActivationEvidence { id_checked: false, ..evidence() }, "ID"),
        ] {
            let e = activate(&a, &bank, "op", "B00000019", &bad, &presented).expect_err(why);
            assert!(matches!(e, LifecycleError::Rule { rule: 3, .. }) && e.to_string().contains(why), "{e}");
        }
        assert!(bank.0.lock().expect("lock").1.is_empty(), "nothing sent to the bank");
        let e = activate(&a, &bank, "op", "B00000019", &evidence(), &presented).expect_err("refused");
        assert!(e.to_string().contains("账户已冻结"), "{e}");
        assert_eq!(a.card_status("B00000019").expect("s"), Some(CardStatus::Issued), "stays issued");
        let e = activate(&a, &bank, "op", "B00000019", &evidence(), &presented).expect_err("down");
        assert!(matches!(e, LifecycleError::Bank(bank::BankError::Unavailable(_))), "{e}");
        let done = activate(&a, &bank, "op", "B00000019", &evidence(), &presented).expect("confirmed");
        assert_eq!((done.reference.as_str(), done.account.as_str()), ("R-1", "621234*********9269"));
        assert_eq!(a.card_status("B00000019").expect("s"), Some(CardStatus::Active));
        let sent = bank.0.lock().expect("lock").1.clone();
        assert_eq!(
            sent,
            ["S1:act-B00000019-1", "S1:act-B00000019-2", "S1:act-B00000019-2"],
            "a retry reuses its id"
        );
        let ledger = a.ledger().expect("ledger");
        let refusal = ledger.iter().find(|e| e.event == ACTIVATION_REFUSED).expect("refusal recorded");
        assert!(refusal.detail.contains("账户已冻结"), "{}", refusal.detail);
        assert!(
            !ledger.iter().any(|e| e.detail.contains("6212345302375609269")),
            "no whole account in the ledger"
        );
        assert!(activate(&a, &bank, "op", "B00000019", &evidence(), &presented).is_err(), "already active");
    }

    fn approval_of(card: &str, valid_until: &str) -> CustodyApproval {
        CustodyApproval {
            card_number: card.into(),
            holder_group: "disabled".into(),
            custodian: "李四".into(),
            custodian_id: applicant::mask_id("440524199001010014"),
            approved_by: "sup".into(),
            reason: "cannot travel".into(),
            valid_until: valid_until.into(),
        }
    }

    #[test]
    fn rule_4_custody_only_for_the_groups_with_an_approval_recorded_at_the_province_first() {
        let (_d, province, a, _ssn, card) = stock_card_at_province();
        let ok = approval_of(&card, "20271231");
        let e = hand_to_custodian(
            &a,
            &province,
            "op",
            &CustodyApproval { holder_group: "neighbour".into(), ..ok.clone() },
        )
        .expect_err("group");
        assert!(matches!(e, LifecycleError::Rule { rule: 4, .. }), "{e}");
        assert!(
            hand_to_custodian(&a, &province, "op", &CustodyApproval { reason: " ".into(), ..ok.clone() })
                .is_err(),
            "no reason"
        );
        assert!(
            hand_to_custodian(&a, &province, "sup", &ok).is_err(),
            "approved by the same person who hands over"
        );
        assert!(a.custody_approvals(&card).expect("list").is_empty(), "nothing recorded for a refusal");
        let held = hand_to_custodian(&a, &province, "op", &ok).expect("allowed");
        assert_eq!(a.custody_approvals(&card).expect("list"), vec![ok.clone()]);
        assert_eq!((held.station.as_str(), &held.approval), ("S1", &ok), "the province holds it too");
        let line = a.ledger().expect("ledger").pop().expect("entry");
        assert!(line.detail.contains(&format!("\"province_approval\":{}", held.approval_id)), "{line:?}");
        // The same approval again (a retry after a lost answer) is the province's first one,
        // and one line of the ledger.
        assert_eq!(hand_to_custodian(&a, &province, "op", &ok).expect("retry").approval_id, held.approval_id);
        let lines = a.ledger().expect("ledger").into_iter().filter(|e| e.event == "card.custody").count();
        assert_eq!(lines, 1);

        // Another station's card is refused at the province and recorded nowhere.
        let other = archive::SqliteProvincial::open(_d.path().join("p.db"), "S2", 'B').expect("S2");
        let e =
            hand_to_custodian(&a, &other, "op", &approval_of(&card, "20281231")).expect_err("not S2's card");
        assert!(e.to_string().contains("S1"), "{e}");
        assert_eq!(a.custody_approvals(&card).expect("list"), vec![ok], "recorded once here");
    }

    #[test]
    fn rule_4_on_a_visit_the_holder_or_a_custodian_the_kit_carries_an_approval_for() {
        let held = |until: &str| archive::custody::ProvincialCustody {
            approval_id: 5,
            station: "S1".into(),
            approval: approval_of("B00000019", until),
        };
        let holder = "11010519491231002X";
        let custodian = Receiver::Custodian { name: "李四".into(), id_number: "440524199001010014".into() };
        let visit = |r: Option<&Receiver>, carried: &[archive::custody::ProvincialCustody]| {
            check_receiver_on_visit(holder, "B00000019", r, carried, "20261201")
        };
        assert_eq!(visit(Some(&Receiver::Holder { id_number: holder.into() }), &[]).expect("holder"), None);
        assert!(visit(None, &[held("20271231")]).is_err(), "nobody named");
        let e = visit(Some(&custodian), &[]).expect_err("nothing carried");
        assert!(
            e.to_string().contains("carries no custody approval")
                && !e.to_string().contains("440524199001010014"),
            "{e}"
        );
        let e = visit(Some(&custodian), &[held("20261130")]).expect_err("ended");
        assert!(e.to_string().contains("ended on 20261130"), "{e}");
        let got = visit(Some(&custodian), &[held("20261130"), held("20271231")])
            .expect("admitted")
            .expect("custodian");
        assert_eq!(
            (got.approval_id, got.id_number.as_str(), got.on.as_str()),
            (5, "440524********0014", "20261201")
        );
        let other_card = archive::custody::ProvincialCustody {
            approval: approval_of("B00000027", "20271231"),
            ..held("")
        };
        assert!(visit(Some(&custodian), &[other_card]).is_err(), "another card's approval");
        let stranger = Receiver::Custodian { name: "王五".into(), id_number: "440524199001010014".into() };
        assert!(visit(Some(&stranger), &[held("20271231")]).is_err(), "another name");
    }

    /// A hand-over attempt to the card's holder, ID checked.
    fn attempt(a: &LocalArchive, card: &str, outcome: &Handover) -> Result<u32, LifecycleError> {
        let holder = a.card_holder(card).expect("holder").unwrap_or_default();
        handover_attempt(a, "op", card, outcome, Some(&Receiver::Holder { id_number: holder }), "20261201")
    }

    #[test]
    fn rule_4_the_receiver_is_the_holder_or_an_approved_custodian() {
        let (_d, province, a, _ssn, card) = stock_card_at_province();
        let signed = Handover::Delivered { signer: "李四".into(), signature_sm3: "ab".repeat(32) };
        let give = |r: Option<&Receiver>| handover_attempt(&a, "op", &card, &signed, r, "20261201");
        let e = give(None).expect_err("nobody named");
        assert!(matches!(e, LifecycleError::Rule { rule: 4, .. }), "{e}");
        let stranger = Receiver::Holder { id_number: "110101199003070017".into() };
        let e = give(Some(&stranger)).expect_err("another person's ID");
        assert!(
            e.to_string().contains("not the holder's") && !e.to_string().contains("110101199003070017"),
            "{e}"
        );
        let custodian = Receiver::Custodian { name: "李四".into(), id_number: "440524199001010014".into() };
        let e = give(Some(&custodian)).expect_err("no approval");
        assert!(
            e.to_string().contains("no recorded custody approval") && e.to_string().contains("minor"),
            "{e}"
        );
        hand_to_custodian(&a, &province, "op", &approval_of(&card, "20261130")).expect("approved");
        let e = give(Some(&custodian)).expect_err("expired");
        assert!(e.to_string().contains("ended on 20261130"), "{e}");
        hand_to_custodian(&a, &province, "op", &approval_of(&card, "20271231")).expect("again");
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Made), "nothing changed yet");
        assert_eq!(give(Some(&custodian)).expect("the approved custodian"), 1);
        let last = a.ledger().expect("ledger").pop().expect("entry");
        assert!(last.detail.contains("custodian") && last.detail.contains("440524********0014"), "{last:?}");
        assert!(!last.detail.contains("440524199001010014"), "masked: {last:?}");
    }

    fn failed(reason: &str) -> Handover {
        Handover::Failed { reason: reason.into() }
    }

    #[test]
    fn a_stock_card_is_handed_over_once_with_the_signers_name_and_signature() {
        let (_d, a) = archive_with_card(CardStatus::Made);
        let unsigned = Handover::Delivered { signer: "张三".into(), signature_sm3: String::new() };
        assert!(matches!(attempt(&a, "B00000019", &unsigned), Err(LifecycleError::Rule { rule: 5, .. })));
        let signed = Handover::Delivered { signer: "张三".into(), signature_sm3: "ab".repeat(32) };
        assert_eq!(attempt(&a, "B00000019", &signed).expect("handed over"), 1);
        assert_eq!(a.card_status("B00000019").expect("s"), Some(CardStatus::Issued));
        let last = a.ledger().expect("ledger").pop().expect("entry");
        assert!(last.event == "card.handed_over" && last.detail.contains(&"ab".repeat(32)), "{last:?}");
        let again = attempt(&a, "B00000019", &signed).expect_err("twice");
        assert!(matches!(again, LifecycleError::State { .. }), "{again}");
    }

    #[test]
    fn an_instant_card_handed_over_by_its_job_takes_the_receivers_signature_once() {
        let (_d, a) = archive_with_card(CardStatus::Issued);
        assert!(attempt(&a, "B00000019", &failed("away")).is_err(), "it was handed over");
        let signed = Handover::Delivered { signer: "张三".into(), signature_sm3: "cd".repeat(32) };
        assert_eq!(attempt(&a, "B00000019", &signed).expect("signature recorded"), 1);
        let again = attempt(&a, "B00000019", &signed).expect_err("twice");
        assert!(matches!(again, LifecycleError::State { .. }), "{again}");
    }

    /// A stock card of this station (made, not handed over), committed at a SQLite province.
    pub(crate) fn stock_card_at_province(
    ) -> (tempfile::TempDir, archive::SqliteProvincial, LocalArchive, String, String) {
        let dir = tempfile::tempdir().expect("tmp");
        let province = archive::SqliteProvincial::open(dir.path().join("p.db"), "S1", 'B').expect("province");
        let ssn = archive::conformance::fresh_ssn();
        let claim = province.claim(&archive::conformance::claim_request(&ssn, None)).expect("claim");
        let card = province
            .commit(&archive::conformance::commit_request(claim.claim_id))
            .expect("commit")
            .card_number;
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        a.upsert_person(&PersonRow { ssn: ssn.clone(), name: "张三".into(), sex: None, birth_date: None })
            .expect("p");
        let app = a.open_application(&ssn, "new", "{}").expect("app");
        a.record_card(app, &ssn, &card, "id", "atr").expect("card");
        (dir, province, a, ssn, card)
    }

    #[test]
    fn rule_6_recall_only_after_a_failed_second_issuance_with_reasons() {
        let (_dir, province, a, ssn, card) = stock_card_at_province();
        let recall = |id: &str| super::recall(&a, &province, "op", &card, id);

        assert!(matches!(recall("r-1"), Err(LifecycleError::Rule { rule: 6, .. })));
        assert!(attempt(&a, &card, &failed(" ")).is_err(), "a failure needs a reason");
        attempt(&a, &card, &failed("holder moved away")).expect("first");
        assert!(recall("r-2").is_err(), "one failure is not enough");
        attempt(&a, &card, &failed("not reachable by phone")).expect("second");
        recall("r-3").expect("recalled");
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Recalled));
        let at_province = province.lookup(&ssn).expect("lookup").cards;
        assert_eq!(
            at_province.iter().map(|c| c.status).collect::<Vec<_>>(),
            [CardStatus::Recalled],
            "no longer live at the province"
        );
        let last = a.ledger().expect("ledger").pop().expect("entry");
        assert!(last.event == "card.recalled" && last.detail.contains("not reachable"), "{last:?}");
        recall("r-4").expect("a second recall after a lost answer changes nothing");
        let r = crate::reconcile::reconcile(&a, &province).expect("reconcile");
        assert!(r.agrees(), "ledger = local = province: {:?}", r.mismatches);
    }

    #[test]
    fn a_card_that_is_not_live_at_the_province_is_not_recalled_behind_its_back() {
        let (_dir, province, a, ssn, card) = stock_card_at_province();
        province
            .mark_deceased(&DeceasedRequest {
                request_id: "d-1".into(),
                ssn: ssn.clone(),
                evidence: "死亡医学证明 No. 0001".into(),
                supervisor: "sup-1".into(),
            })
            .expect("deceased");
        attempt(&a, &card, &failed("nobody at the address")).expect("first");
        attempt(&a, &card, &failed("neighbours say the holder died")).expect("second");
        let e = recall(&a, &province, "op", &card, "r-1").expect_err("cancelled at the province");
        assert!(
            e.to_string().contains("Cancelled at the province") && e.to_string().contains("reconciliation"),
            "{e}"
        );
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Made), "nothing changed here");
    }

    #[test]
    fn rules_7_and_8_replacement_free_first_and_the_persons_bank() {
        let (_d, a) = archive_with_card(CardStatus::Active);
        assert!(matches!(
            replace(&a, "op", "B00000019", "ICBC", ChosenBy::Operator, 0),
            Err(LifecycleError::Rule { rule: 8, .. })
        ));
        assert!(matches!(
            replace(&a, "op", "B00000019", "ICBC", ChosenBy::Person, 1000),
            Err(LifecycleError::Rule { rule: 7, .. })
        ));
        replace(&a, "op", "B00000019", "ICBC", ChosenBy::Person, 0).expect("first, free");
        replace(&a, "op", "B00000019", "BOC", ChosenBy::Person, 1000).expect("a second may cost");
        // The schema holds the rules too, whatever code writes.
        let detail = serde_json::json!({});
        let before = a.ledger().expect("ledger").len();
        let e = a
            .record_replacement(
                "11010519491231002X",
                "B00000019",
                "X",
                "operator",
                0,
                &ledger("op", "B00000019", "card.replacement", &detail),
            )
            .expect_err("chosen by");
        assert!(e.to_string().contains("CHECK"), "{e}");
        assert_eq!(a.ledger().expect("ledger").len(), before, "no ledger line for a refused record");
    }
}
