//! The card's later life over the API (FLOW B): stock and dormant cards, hand-over with the
//! signer's signature, face-to-face activation with the photo taken at that moment, custody
//! approved by a supervisor, recall, replacement at the person's bank. The rules live in
//! `issuance::lifecycle`; this module checks roles, keeps the evidence (signature and photo,
//! named by their SM3, beside the archive) and shows ID numbers masked.

use std::path::Path;

use archive::local::{CardRow, CustodyApproval};
use archive::CardStatus;
use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use issuance::lifecycle::{self, ActivationEvidence, Channel, ChosenBy, Handover, LifecycleError};
use issuance::{JobOutcome, Receiver, Release};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::{ApiError, AppState, Authed};
use crate::worker::Event;

/// The routes of the card's life.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cards", get(list))
        .route("/api/cards/dormant", get(dormant))
        .route("/api/cards/{card}", get(one))
        .route("/api/cards/{card}/handover", post(handover))
        .route("/api/cards/{card}/stock", post(to_stock))
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
        .route("/api/jobs/{id}/account", get(job_account))
}

/// The whole financial account of a job's card, for the batch's return file (the card centre
/// takes it whole): a route of its own, supervisors only in the role table, which the page
/// never calls; `GET /api/jobs/{id}`, which anyone follows, carries no account.
async fn job_account(
    State(s): State<AppState>,
    Authed(_): Authed,
    UrlPath(id): UrlPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let row = s
        .local()
        .job(id)
        .map_err(internal)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let card = issuance::JobCard::from_state(&row.state)
        .card_number
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("job {id} made no card")))?;
    let made = s.local().card(&card).map_err(internal)?;
    let (bank, account) = made.map(|c| (c.bank, c.account)).unwrap_or_default();
    Ok(Json(json!({"job": id, "card_number": card, "bank": bank, "account": account})))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A rule broken is the caller's to fix (422 with the rule's words); a card in the wrong
/// state is a conflict.
pub(crate) fn refused(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Rule { .. } => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        LifecycleError::State { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
        LifecycleError::Archive(e) => archive_refused(e),
        LifecycleError::Bank(e) => bank_refused(e),
    }
}

fn card_json(c: &CardRow) -> Value {
    json!({
        "card_number": c.card_number,
        "holder": applicant::mask_id(&c.ssn),
        "name": c.name,
        "status": c.status,
        "bank": c.bank,
        "account": c.account.as_deref().map(applicant::mask_id),
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
    let ledger = s.local().ledger().map_err(internal)?;
    let rows: Vec<Value> = cards
        .iter()
        .map(|c| {
            let mut row = card_json(c);
            if c.status == CardStatus::Made {
                row["storage"] = lifecycle::stock_place(&ledger, &c.card_number).unwrap_or(Value::Null);
            }
            row
        })
        .collect();
    Ok(Json(json!({"cards": rows})))
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
    // The cards whose holder refused what the list would chase them for are left out (RULE 8).
    let refusals = issuance::refusals::standing(&s.local().ledger().map_err(internal)?);
    let cards: Vec<Value> = cards
        .iter()
        .filter(|(card, status)| issuance::refusals::chased(&refusals, card, status))
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
    // Where a card waits for its holder: at the counter (its job waits at the hand-over), or in
    // stock at a storage place.
    if row.status == CardStatus::Made {
        let ledger = s.local().ledger().map_err(internal)?;
        answer["storage"] = lifecycle::stock_place(&ledger, &card).unwrap_or(Value::Null);
        answer["waiting_job"] = json!(lifecycle::waiting_job(s.local(), &card).map_err(refused)?);
    }
    answer["custody"] = json!(s
        .local()
        .custody_approvals(&card)
        .map_err(internal)?
        .iter()
        .map(|a| json!({"group": a.holder_group, "custodian": a.custodian, "approved_by": a.approved_by, "until": a.valid_until}))
        .collect::<Vec<_>>());
    crate::losses_api::card_detail(&s, &card, &mut answer)?;
    Ok(Json(answer))
}

/// A card number names evidence files: only letters and digits, so no path comes through it.
fn check_card_number(card: &str) -> Result<(), ApiError> {
    if card.is_empty() || card.len() > 20 || !card.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("{card:?} is not a card number")));
    }
    Ok(())
}

/// Decodes a base64 image and keeps it as evidence named by its SM3; returns the SM3 (hex).
fn keep_evidence(
    dir: &Path,
    files: Option<&archive::at_rest::FileKey>,
    kind: &str,
    card: &str,
    b64: &str,
) -> Result<String, ApiError> {
    check_card_number(card)?;
    let b64 = b64.split_once(";base64,").map_or(b64, |(_, data)| data);
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| {
        ApiError(StatusCode::BAD_REQUEST, format!("the {kind} is not base64 ({e}): capture it again"))
    })?;
    if bytes.len() < 64 {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("the {kind} is empty: capture it again")));
    }
    let digest = hex::encode(card_crypto::sm3(&bytes));
    // Whole, private and sealed on disk before the ledger line that names it (by the SM3 of
    // what was drawn: the plaintext, as before the files were sealed).
    let name = format!("{card}-{kind}-{digest}");
    crate::files::write_sealed(dir, &name, &bytes, files)
        .map_err(|e| internal(format!("keeping the {kind}: {e}")))?;
    Ok(digest)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoverBody {
    /// True when the card was received; false with `reason` when nobody could take it.
    delivered: bool,
    /// Who signed; default: the receiver's name.
    #[serde(default)]
    signer: Option<String>,
    /// The signature drawn at the counter (PNG, base64 or a data URL).
    #[serde(default)]
    signature_png: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// Who receives the card (RULE 4): `{"kind": "holder", "id_number": ...}` with the number
    /// on the ID document checked, or `{"kind": "custodian", "name": ..., "id_number": ...}`
    /// with a current approval; read by [`receiver_of`].
    #[serde(default)]
    receiver: Option<Value>,
}

/// The receiver a hand-over names, or the 422 that says how to name one.
fn receiver_of(v: Option<Value>) -> Result<Receiver, ApiError> {
    let how =
        "rule 4: say who receives the card: {\"kind\": \"holder\", \"id_number\": the number on the ID \
               document you checked} or {\"kind\": \"custodian\", \"name\": ..., \"id_number\": ...} with a \
               recorded approval";
    let v = v.ok_or_else(|| ApiError(StatusCode::UNPROCESSABLE_ENTITY, how.into()))?;
    // The parser's words could quote the value, an ID number: the refusal says only the form.
    serde_json::from_value(v).map_err(|_| {
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{how} (the receiver given is not of that form)"))
    })
}

/// The name a receiver signs under when the operator typed none: the holder's on record, or
/// the custodian's.
fn receiver_name(s: &AppState, card: &str, receiver: &Receiver) -> Result<String, ApiError> {
    Ok(match receiver {
        Receiver::Holder { .. } => {
            s.local().card(card).map_err(internal)?.map(|c| c.name).unwrap_or_default()
        }
        Receiver::Custodian { name, .. } => name.trim().to_string(),
    })
}

/// Releases the card of a job waiting at its hand-over (the API's side of the job: its journal
/// lines go to the event stream and the runner's watcher), ends the request that asked for it
/// and tells the page.
async fn release_job(
    s: &AppState,
    operator: &str,
    job: i64,
    release: Release,
) -> Result<JobOutcome, ApiError> {
    let (local, events, watch) = (s.local().clone(), s.inner.events.clone(), s.inner.journal_watch.clone());
    let (operator, step_events) = (operator.to_string(), events.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let mut progress = move |j: i64, step: issuance::Step, phase: issuance::Phase| {
            let word = if phase == issuance::Phase::Begin { "begin" } else { "done" };
            let _ = step_events.send(Event::Step {
                request_id: None,
                job: j,
                step: step.name().into(),
                phase: word.into(),
            });
            if let Some(watch) = &watch {
                watch(j, step, phase);
            }
        };
        let outcome = issuance::release_at_counter(&local, Some(&mut progress), &operator, job, release)?;
        let (status, card) = match &outcome {
            JobOutcome::Stocked { card_number, .. } => ("stocked", card_number.clone()),
            JobOutcome::Issued { card_number, .. } => ("issued", card_number.clone()),
            other => ("error", format!("{other:?}")),
        };
        if let Err(e) = local.job_request_ended(job, status, &card) {
            tracing::error!(job, error = %e, "the request of the job was not ended");
        }
        Ok::<_, issuance::IssueError>((outcome, status, card))
    })
    .await
    .map_err(internal)?
    .map_err(|e| match e {
        issuance::IssueError::Job { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
        other => internal(other),
    })?;
    let (outcome, status, card) = outcome;
    let _ = events.send(Event::Finished {
        request_id: None,
        job: Some(job),
        status: status.into(),
        detail: card,
        action: None,
    });
    Ok(outcome)
}

async fn handover(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<HandoverBody>,
) -> Result<Json<Value>, ApiError> {
    check_card_number(&card)?;
    let today = applicant::days::today().compact();
    if !q.delivered {
        let outcome = Handover::Failed { reason: q.reason.unwrap_or_default() };
        let attempt =
            lifecycle::handover_attempt(s.local(), &session.operator, &card, &outcome, None, &today)
                .map_err(refused)?;
        return Ok(Json(json!({"card_number": card, "attempt": attempt, "delivered": false})));
    }
    let receiver = receiver_of(q.receiver)?;
    let png = q.signature_png.as_deref().ok_or_else(|| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule 5: the receiver signs for the card: capture the signature".into(),
        )
    })?;
    // RULE 4 before anything is kept: a receiver who may not take the card signs nothing.
    let received = lifecycle::check_receiver(s.local(), &card, &receiver, &today).map_err(refused)?;
    crate::losses_api::refuse_if_suspended(&s, &card).await?;
    let signature_sm3 = keep_evidence(s.evidence_dir(), s.local().file_key(), "signature", &card, png)?;
    let signer = match q.signer.filter(|n| !n.trim().is_empty()) {
        Some(name) => name,
        None => receiver_name(&s, &card, &receiver)?,
    };
    if let Some(job) = lifecycle::waiting_job(s.local(), &card).map_err(refused)? {
        let release = Release::Delivered { signer, signature_sm3, receiver: received.clone() };
        release_job(&s, &session.operator, job, release).await?;
        return Ok(Json(json!({"card_number": card, "attempt": 1, "delivered": true, "job": job,
            "receiver": received})));
    }
    let outcome = Handover::Delivered { signer, signature_sm3 };
    let attempt =
        lifecycle::handover_attempt(s.local(), &session.operator, &card, &outcome, Some(&receiver), &today)
            .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "attempt": attempt, "delivered": true, "receiver": received})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockBody {
    /// Why the card is not handed over now.
    reason: String,
    /// The storage place; default: the station's.
    #[serde(default)]
    place: Option<String>,
    /// The person responsible; default: the station's, or the operator.
    #[serde(default)]
    keeper: Option<String>,
}

/// A card waiting at the counter whose holder cannot take it now goes to stock, with the
/// reason, the storage place and the person responsible.
async fn to_stock(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<StockBody>,
) -> Result<Json<Value>, ApiError> {
    if q.reason.trim().is_empty() {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "say why the card is not handed over now (the holder left, could not sign, ...)".into(),
        ));
    }
    let Some(job) = lifecycle::waiting_job(s.local(), &card).map_err(refused)? else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "card {card} does not wait at the counter for its holder: only a card just made for a holder at the \
                 counter is parked to stock (a stock card is there already: see GET /api/cards/{card})"
            ),
        ));
    };
    let storage = s.inner.stock.storage(&session.operator, q.place.as_deref(), q.keeper.as_deref());
    let release = Release::Stocked { storage: storage.clone(), reason: q.reason.trim().to_string() };
    release_job(&s, &session.operator, job, release).await?;
    Ok(Json(json!({"card_number": card, "status": "stocked", "job": job, "place": storage.place,
        "keeper": storage.keeper})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    /// The holder is in front of the operator (not a proxy).
    holder_present: bool,
    /// The holder's ID document was checked now.
    id_checked: bool,
    /// The document's last day of validity as checked (`YYYY-MM-DD` or `长期`); default: the
    /// one on the card's application, when the card was made here.
    #[serde(default)]
    id_valid_until: Option<String>,
}

/// The document validity on the application the card was made for, if any.
fn application_validity(s: &AppState, card: &str) -> Option<String> {
    let row = s.local().card(card).ok()??;
    let data = s.local().application_data(row.application_id).ok()??;
    let applicant: applicant::Applicant = serde_json::from_str(&data).ok()?;
    applicant.holder.id_validity?.to
}

/// The bank's error as the operator acts on it: retry later (503, the same request is sent
/// again), tell the holder the bank's reason (422), complete the evidence (422), or a fault.
fn bank_refused(e: bank::BankError) -> ApiError {
    let status = match e.kind() {
        bank::ErrorKind::Retry => StatusCode::SERVICE_UNAVAILABLE,
        bank::ErrorKind::TellHolder | bank::ErrorKind::CompleteEvidence => StatusCode::UNPROCESSABLE_ENTITY,
        bank::ErrorKind::FixConfiguration | bank::ErrorKind::Report => StatusCode::BAD_GATEWAY,
    };
    ApiError(status, e.to_string())
}

/// Activates the card's financial function through its bank, face to face (RULE 3): the photo
/// is taken by the counter's camera now (the body carries none), kept as evidence by its SM3;
/// the card is active only on the bank's confirmation. The bank is asked off the async threads
/// and outside any database transaction.
async fn activate(
    State(s): State<AppState>,
    Authed(session): Authed,
    Extension(ui): Extension<crate::ui_api::UiState>,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<ActivateBody>,
) -> Result<Json<Value>, ApiError> {
    check_card_number(&card)?;
    let (holder_present, id_checked) = (q.holder_present, q.id_checked);
    // RULE 3 on what the operator says before the camera or the bank is asked (the photo,
    // taken below, is the one part not known yet).
    let said = ActivationEvidence {
        channel: Channel::Counter,
        holder_present,
        id_checked,
        photo_sm3: Some("0".repeat(64)),
    };
    lifecycle::check_face_to_face(&said).map_err(refused)?;
    crate::losses_api::refuse_if_suspended(&s, &card).await?;
    let Some(setup) = s.inner.bank.clone() else {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "this counter reaches no bank card system: configure [counter.bank]".into(),
        ));
    };
    let valid = q.id_valid_until.clone().or_else(|| application_validity(&s, &card));
    let valid = valid.as_deref().map(|v| lifecycle::parse_valid_until(v).ok_or(v));
    let id_valid_until = match valid {
        Some(Ok(v)) => v,
        Some(Err(v)) => {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("document valid until {v:?}: YYYY-MM-DD or 长期, as on the document"),
            ))
        }
        None => {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give the ID document's last day of validity (id_valid_until) as checked now".into(),
            ))
        }
    };
    let (local, operator, c, evidence_dir) =
        (s.local().clone(), session.operator.clone(), card.clone(), s.evidence_dir().to_path_buf());
    let done = tokio::task::spawn_blocking(move || {
        // The photo of this moment, from the counter's camera, before anything is recorded.
        let frame = crate::ui_api::camera_shot(&ui)?;
        let taken_at = bank::now_unix();
        let photo_sm3 = keep_photo(&evidence_dir, local.file_key(), &c, &frame)?;
        // The API is the counter's: a call from elsewhere is not a channel the station offers.
        let evidence = ActivationEvidence {
            channel: Channel::Counter,
            holder_present,
            id_checked,
            photo_sm3: Some(photo_sm3),
        };
        let presented = lifecycle::Presented { id_valid_until, photo_taken_at: taken_at };
        lifecycle::activate(&local, &setup.banks, &operator, &c, &evidence, &presented).map_err(|e| match e {
            LifecycleError::Bank(e) => bank_refused(e),
            other => refused(other),
        })
    })
    .await
    .map_err(internal)??;
    Ok(Json(json!({"card_number": card, "status": CardStatus::Active, "bank": done.bank,
        "reference": done.reference, "account": done.account})))
}

/// Keeps a camera frame as the activation's evidence, named by its SM3 (of the frame).
fn keep_photo(
    dir: &Path,
    files: Option<&archive::at_rest::FileKey>,
    card: &str,
    bytes: &[u8],
) -> Result<String, ApiError> {
    if bytes.len() < 64 {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the camera gave an empty frame: take it again".into(),
        ));
    }
    let digest = hex::encode(card_crypto::sm3(bytes));
    let name = format!("{card}-activation-photo-{digest}");
    crate::files::write_sealed(dir, &name, bytes, files)
        .map_err(|e| internal(format!("keeping the photo: {e}")))?;
    Ok(digest)
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
    let (custodian_id, _) = applicant::ResidentId::parse(q.custodian_id.trim(), applicant::days::today())
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("the custodian's ID number: {e}")))?;
    let approval = CustodyApproval {
        card_number: card.clone(),
        holder_group: q.holder_group,
        custodian: q.custodian,
        custodian_id: applicant::mask_id(custodian_id.as_str()),
        approved_by: session.operator.clone(),
        reason: q.reason,
        valid_until: q.valid_until,
    };
    let (province, local) = (s.province()?.clone(), s.local().clone());
    let held = tokio::task::spawn_blocking(move || {
        lifecycle::hand_to_custodian(&local, province.as_ref(), &q.handed_over_by, &approval)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "approved_by": session.operator,
        "province_approval": held.approval_id, "valid_until": held.approval.valid_until})))
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
pub(crate) fn request_key(kind: &str, subject: &str, client_key: Option<&str>) -> String {
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
    ApiError(archive_status(&e), e.to_string())
}

/// The answer's status for an archive's error: a refusal is a conflict, a bad request
/// unprocessable, an archive out of reach unavailable, anything else the station's fault.
pub(crate) fn archive_status(e: &archive::ArchiveError) -> StatusCode {
    match e {
        archive::ArchiveError::Refused(_) => StatusCode::CONFLICT,
        archive::ArchiveError::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
        archive::ArchiveError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
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
