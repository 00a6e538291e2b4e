//! The card's later life over the API (FLOW B): stock and dormant cards, hand-over with the
//! signer's signature, face-to-face activation with the photo taken at that moment, custody
//! approved by a supervisor, recall, replacement at the person's bank. The rules live in
//! `issuance::lifecycle`; this module checks roles, keeps the evidence (signature and photo,
//! named by their SM3, beside the archive) and shows ID numbers masked.

use std::path::Path;

use archive::local::{CardRow, CustodyApproval};
use archive::CardStatus;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use issuance::lifecycle::{self, ActivationEvidence, Channel, ChosenBy, Handover, LifecycleError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::{ApiError, AppState, Authed};

/// The routes of the card's life.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cards", get(list))
        .route("/api/cards/dormant", get(dormant))
        .route("/api/cards/{card}", get(one))
        .route("/api/cards/{card}/handover", post(handover))
        .route("/api/cards/{card}/activate", post(activate))
        .route("/api/cards/{card}/custody", post(custody))
        .route("/api/cards/{card}/recall", post(recall))
        .route("/api/cards/{card}/replace", post(replace))
        .route("/api/cards/{card}/loss", post(loss))
        .route("/api/cards/{card}/account", post(account))
        .route("/api/persons/deceased", post(deceased))
        .route("/api/persons/deceased/correct", post(correct_deceased))
        .route("/api/kit/conflicts", get(kit_conflicts))
        .route("/api/kit/conflicts/{record}/resolve", post(resolve_kit_conflict))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A rule broken is the caller's to fix (422 with the rule's words); a card in the wrong
/// state is a conflict.
fn refused(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Rule { .. } => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        LifecycleError::State { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
        LifecycleError::Archive(e) => archive_refused(e),
    }
}

fn card_json(c: &CardRow) -> Value {
    json!({
        "card_number": c.card_number,
        "holder": applicant::mask_id(&c.ssn),
        "name": c.name,
        "status": c.status,
        "bank": c.bank,
        "application": c.application_id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    Authed(_): Authed,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(word) => Some(CardStatus::parse(word).ok_or_else(|| {
            let known: Vec<&str> = CardStatus::ALL.iter().map(|c| c.as_str()).collect();
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("no card status {word:?}: use one of {}", known.join(", ")),
            )
        })?),
    };
    let cards = s.local().cards(status).map_err(internal)?;
    Ok(Json(json!({"cards": cards.iter().map(card_json).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
struct DormantQuery {
    #[serde(default = "default_dormant_days")]
    days: i64,
}

fn default_dormant_days() -> i64 {
    90
}

async fn dormant(
    State(s): State<AppState>,
    Authed(_): Authed,
    Query(q): Query<DormantQuery>,
) -> Result<Json<Value>, ApiError> {
    let cards = s.local().dormant_cards(q.days).map_err(internal)?;
    let cards: Vec<Value> = cards
        .iter()
        .map(|(card, status)| {
            let failures = s.local().failed_handovers(card).unwrap_or_default();
            json!({"card_number": card, "status": status, "failed_handovers": failures})
        })
        .collect();
    Ok(Json(json!({"days": q.days, "cards": cards})))
}

async fn one(
    State(s): State<AppState>,
    Authed(_): Authed,
    UrlPath(card): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let row = s.local().card(&card).map_err(internal)?.ok_or_else(|| {
        ApiError(StatusCode::NOT_FOUND, format!("card {card} was not made at this station"))
    })?;
    let history: Vec<Value> = s
        .local()
        .ledger()
        .map_err(internal)?
        .into_iter()
        .filter(|e| e.card_number.as_deref() == Some(card.as_str()))
        .map(|e| json!({"seq": e.seq, "at": e.at, "operator": e.operator, "event": e.event, "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null)}))
        .collect();
    let mut answer = card_json(&row);
    answer["history"] = Value::Array(history);
    answer["failed_handovers"] = json!(s.local().failed_handovers(&card).map_err(internal)?);
    answer["custody"] = json!(s
        .local()
        .custody_approvals(&card)
        .map_err(internal)?
        .iter()
        .map(|a| json!({"group": a.holder_group, "custodian": a.custodian, "approved_by": a.approved_by, "until": a.valid_until}))
        .collect::<Vec<_>>());
    Ok(Json(answer))
}

/// Decodes a base64 image and keeps it as evidence named by its SM3; returns the SM3 (hex).
fn keep_evidence(dir: &Path, kind: &str, card: &str, b64: &str) -> Result<String, ApiError> {
    // The card number names the file: only letters and digits, so no path can come through it.
    if card.is_empty() || card.len() > 20 || !card.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("{card:?} is not a card number")));
    }
    let b64 = b64.split_once(";base64,").map_or(b64, |(_, data)| data);
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| {
        ApiError(StatusCode::BAD_REQUEST, format!("the {kind} is not base64 ({e}): capture it again"))
    })?;
    if bytes.len() < 64 {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("the {kind} is empty: capture it again")));
    }
    let digest = hex::encode(card_crypto::sm3(&bytes));
    // Whole and private on disk before the ledger line that names it.
    let name = format!("{card}-{kind}-{digest}");
    crate::files::write_atomic(dir, &name, &bytes)
        .map_err(|e| internal(format!("keeping the {kind}: {e}")))?;
    Ok(digest)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoverBody {
    /// True when the card was received; false with `reason` when nobody could take it.
    delivered: bool,
    #[serde(default)]
    signer: Option<String>,
    /// The signature drawn at the counter (PNG, base64 or a data URL).
    #[serde(default)]
    signature_png: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn handover(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<HandoverBody>,
) -> Result<Json<Value>, ApiError> {
    let outcome = if q.delivered {
        let png = q.signature_png.as_deref().ok_or_else(|| {
            ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule 5: the receiver signs for the card: capture the signature".into(),
            )
        })?;
        let signature_sm3 = keep_evidence(s.evidence_dir(), "signature", &card, png)?;
        Handover::Delivered { signer: q.signer.unwrap_or_default(), signature_sm3 }
    } else {
        Handover::Failed { reason: q.reason.unwrap_or_default() }
    };
    let attempt =
        lifecycle::handover_attempt(s.local(), &session.operator, &card, &outcome).map_err(refused)?;
    Ok(Json(json!({"card_number": card, "attempt": attempt, "delivered": q.delivered})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    /// The holder is in front of the operator (not a proxy).
    holder_present: bool,
    /// The holder's ID document was checked now.
    id_checked: bool,
    /// The photo taken now (JPEG, base64 or a data URL).
    photo_jpeg: Option<String>,
}

async fn activate(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<ActivateBody>,
) -> Result<Json<Value>, ApiError> {
    let photo_sm3 = match q.photo_jpeg.as_deref() {
        Some(photo) => Some(keep_evidence(s.evidence_dir(), "activation-photo", &card, photo)?),
        None => None,
    };
    // The API is the counter's: a call from elsewhere is not a channel the station offers.
    let evidence = ActivationEvidence {
        channel: Channel::Counter,
        holder_present: q.holder_present,
        id_checked: q.id_checked,
        photo_sm3,
    };
    lifecycle::activate(s.local(), &session.operator, &card, &evidence).map_err(refused)?;
    Ok(Json(json!({"card_number": card, "status": CardStatus::Active})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustodyBody {
    /// The operator who hands the card to the custodian (not the approving supervisor).
    handed_over_by: String,
    holder_group: String,
    custodian: String,
    /// The custodian's ID number; kept masked.
    custodian_id: String,
    reason: String,
    /// YYYYMMDD.
    valid_until: String,
}

async fn custody(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<CustodyBody>,
) -> Result<Json<Value>, ApiError> {
    let approval = CustodyApproval {
        card_number: card.clone(),
        holder_group: q.holder_group,
        custodian: q.custodian,
        custodian_id: applicant::mask_id(&q.custodian_id),
        approved_by: session.operator.clone(),
        reason: q.reason,
        valid_until: q.valid_until,
    };
    lifecycle::hand_to_custodian(s.local(), &q.handed_over_by, &approval).map_err(refused)?;
    Ok(Json(json!({"card_number": card, "approved_by": session.operator})))
}

async fn recall(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let province = s.province()?.clone();
    let (local, operator, c) = (s.local().clone(), session.operator.clone(), card.clone());
    // A card is recalled once: its number is the idempotency key, so a retry after a lost
    // answer gets the province's first answer.
    tokio::task::spawn_blocking(move || {
        lifecycle::recall(&local, province.as_ref(), &operator, &c, &format!("recall-{c}"))
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "status": CardStatus::Recalled})))
}

/// A spoiled card whose place was unknown is found and put in the reject box (supervisor): the
/// province may hand its number out again.
async fn account(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let province = s.province()?.clone();
    let (local, operator, c) = (s.local().clone(), session.operator.clone(), card.clone());
    let key = format!("{}:account-{c}", local.station());
    tokio::task::spawn_blocking(move || {
        lifecycle::account_for_card(&local, province.as_ref(), &operator, &c, &key)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "place": "reject box"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceBody {
    bank: String,
    chosen_by: ChosenBy,
    #[serde(default)]
    fee_fen: i64,
}

async fn replace(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<ReplaceBody>,
) -> Result<Json<Value>, ApiError> {
    lifecycle::replace(s.local(), &session.operator, &card, &q.bank, q.chosen_by, q.fee_fen)
        .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "bank": q.bank, "fee_fen": q.fee_fen})))
}

/// A per-call idempotency key for the province: a retry of the same call sends the same key.
fn request_key(kind: &str, subject: &str, client_key: Option<&str>) -> String {
    match client_key {
        Some(k) if !k.trim().is_empty() => format!("{kind}-{subject}-{k}"),
        _ => format!(
            "{kind}-{subject}-{}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LossBody {
    /// The caller's key for retries.
    #[serde(default)]
    request_key: Option<String>,
    /// The holder stands at this counter and the operator checked their ID: needed to stop a
    /// card another station made (RULE 10).
    #[serde(default)]
    holder_at_counter: bool,
}

async fn loss(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<LossBody>,
) -> Result<Json<Value>, ApiError> {
    let province = s.province()?.clone();
    let key = request_key("loss", &card, q.request_key.as_deref());
    let (local, operator, c) = (s.local().clone(), session.operator.clone(), card.clone());
    tokio::task::spawn_blocking(move || {
        lifecycle::report_loss(&local, province.as_ref(), &operator, &c, q.holder_at_counter, &key)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "status": CardStatus::Stopped})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeceasedBody {
    /// The deceased's resident ID number.
    id_number: String,
    /// The document seen (death certificate number, civil-affairs notice), for the record.
    evidence: String,
    #[serde(default)]
    request_key: Option<String>,
}

async fn deceased(
    State(s): State<AppState>,
    Authed(session): Authed,
    Json(q): Json<DeceasedBody>,
) -> Result<Json<Value>, ApiError> {
    let (id, _) = applicant::ResidentId::parse(&q.id_number, applicant::days::today())
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("the ID number: {e}")))?;
    if q.evidence.trim().is_empty() {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name the death certificate or notice seen".into(),
        ));
    }
    let province = s.province()?.clone();
    let ssn = id.as_str().to_string();
    let key = request_key("deceased", &applicant::mask_id(&ssn), q.request_key.as_deref());
    let (local, operator, evidence) = (s.local().clone(), session.operator.clone(), q.evidence.clone());
    let cancelled = tokio::task::spawn_blocking(move || {
        lifecycle::cancel_for_deceased(&local, province.as_ref(), &operator, &ssn, &evidence, &key)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    s.audit(
        &session.operator,
        "person.deceased",
        json!({"holder": id.masked(), "evidence": q.evidence, "cancelled": cancelled}),
    );
    Ok(Json(json!({"holder": id.masked(), "cancelled": cancelled})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrectDeceasedBody {
    /// The person recorded deceased in error.
    id_number: String,
    /// What was seen (the person at the counter, the civil-affairs office's correction).
    reason: String,
    #[serde(default)]
    request_key: Option<String>,
}

/// Takes back a death recorded in error: the province accepts it only from a supervisor other
/// than the one who recorded it. Cancelled cards stay cancelled; the person may apply again.
async fn correct_deceased(
    State(s): State<AppState>,
    Authed(session): Authed,
    Json(q): Json<CorrectDeceasedBody>,
) -> Result<Json<Value>, ApiError> {
    let (id, _) = applicant::ResidentId::parse(&q.id_number, applicant::days::today())
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("the ID number: {e}")))?;
    let province = s.province()?.clone();
    let request = archive::CorrectDeceasedRequest {
        request_id: request_key("correct-deceased", &id.masked(), q.request_key.as_deref()),
        ssn: id.as_str().to_string(),
        supervisor: session.operator.clone(),
        reason: q.reason.clone(),
    };
    tokio::task::spawn_blocking(move || province.correct_deceased(&request))
        .await
        .map_err(internal)?
        .map_err(archive_refused)?;
    s.audit(&session.operator, "person.death_corrected", json!({"holder": id.masked(), "reason": q.reason}));
    Ok(Json(json!({"holder": id.masked(), "deceased": false})))
}

/// The archive's answer for the supervisor: a refusal or a bad request is theirs to fix.
fn archive_refused(e: archive::ArchiveError) -> ApiError {
    match e {
        archive::ArchiveError::Refused(_) => ApiError(StatusCode::CONFLICT, e.to_string()),
        archive::ArchiveError::BadRequest(_) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        archive::ArchiveError::Unavailable(_) => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        other => internal(other),
    }
}

/// Outreach kits' records that could not stand (a card made for someone reported deceased
/// meanwhile, ...), not settled yet: for a supervisor, holders masked.
async fn kit_conflicts(State(s): State<AppState>, Authed(_): Authed) -> Result<Json<Value>, ApiError> {
    let province = s.province()?.clone();
    let conflicts = tokio::task::spawn_blocking(move || province.kit_conflicts())
        .await
        .map_err(internal)?
        .map_err(archive_refused)?;
    let rows: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({"record_id": c.record_id, "kit": c.kit, "lease_id": c.lease_id,
                   "holder": applicant::mask_id(&c.ssn), "card_number": c.card_number, "reason": c.reason})
        })
        .collect();
    Ok(Json(json!({"conflicts": rows})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    /// What was done about it.
    note: String,
}

/// A supervisor settles a conflict, saying what was done; the province keeps the resolution
/// and the ledger records it.
async fn resolve_kit_conflict(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(record): UrlPath<String>,
    Json(q): Json<ResolveBody>,
) -> Result<Json<Value>, ApiError> {
    let province = s.province()?.clone();
    let request = archive::kit::ResolveRequest {
        record_id: record.clone(),
        resolved_by: session.operator.clone(),
        note: q.note,
    };
    let (local, operator) = (s.local().clone(), session.operator.clone());
    tokio::task::spawn_blocking(move || {
        province.resolve_kit_conflict(&request)?;
        local.append_ledger(
            &operator,
            None,
            None,
            "kit.conflict_resolved",
            &json!({"record_id": request.record_id, "note": request.note}),
        )?;
        Ok::<_, archive::ArchiveError>(())
    })
    .await
    .map_err(internal)?
    .map_err(archive_refused)?;
    Ok(Json(json!({"record_id": record, "resolved_by": session.operator})))
}

/// The queries and bodies of these routes for cargo-fuzz, through [`crate::api::fuzzing`].
pub(crate) mod fuzzing;
