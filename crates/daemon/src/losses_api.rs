//! The routes of losses and fees (issue #24 item 4): a temporary loss reported by phone or at
//! the counter (口头挂失), lifted by the holder at the counter (解挂), and a replacement's fee by
//! the card services' schedule. The holder's ID number travels in the body, never in a URL,
//! and no answer carries it whole. The formal loss is `POST /api/cards/{card}/loss`. A person's
//! refusal of an activation or a card change is recorded as theirs (RULE 8) and the dormant
//! list stops chasing the card for it.

use archive::LossChannel;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use issuance::{losses, services};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cards_api::{internal, refused, request_key};
use crate::state::{ApiError, AppState, Authed};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cards/{card}/temporary-loss", post(temporary_loss))
        .route("/api/cards/{card}/lift-loss", post(lift_loss))
        .route("/api/cards/{card}/replacement-fee", post(replacement_fee))
        .route("/api/card-services", get(schedule))
        .route("/api/cards/{card}/refusal", post(refusal))
        .route("/api/cards/refusals", get(refusals))
}

/// The holder's resident ID number, checked (its check character, a date of birth in the past).
fn resident_id(id_number: &str) -> Result<String, ApiError> {
    let (id, _) = applicant::ResidentId::parse(id_number, applicant::days::today())
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("the ID number: {e}")))?;
    Ok(id.as_str().to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemporaryLossBody {
    /// The holder's resident ID number, as the caller said it or read from the document.
    pub(crate) id_number: String,
    /// `phone` or `counter`.
    pub(crate) channel: LossChannel,
    /// At the counter: the operator checked the holder's ID document.
    #[serde(default)]
    pub(crate) id_checked: bool,
    /// The caller's key for retries.
    #[serde(default)]
    pub(crate) request_key: Option<String>,
}

async fn temporary_loss(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<TemporaryLossBody>,
) -> Result<Json<Value>, ApiError> {
    let ssn = resident_id(&q.id_number)?;
    let province = s.province()?.clone();
    let key = request_key("temporary-loss", &card, q.request_key.as_deref());
    let report = losses::LossReport {
        channel: q.channel,
        ssn,
        id_checked: q.id_checked,
        seconds: s.inner.card_services.temporary_loss_seconds(),
    };
    let (local, operator, c) = (s.local().clone(), session.operator.clone(), card.clone());
    let done = tokio::task::spawn_blocking(move || {
        losses::report_temporary_loss(&local, province.as_ref(), &operator, &c, &report, &key)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "loss": "temporary", "channel": done.channel,
        "since": done.since, "until": done.until, "reported_at": done.station})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiftBody {
    /// The holder's resident ID number, read from the document shown now.
    pub(crate) id_number: String,
    /// The operator checked the document against the holder in front of them.
    pub(crate) id_checked: bool,
    /// The caller's key for retries.
    #[serde(default)]
    pub(crate) request_key: Option<String>,
}

async fn lift_loss(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<LiftBody>,
) -> Result<Json<Value>, ApiError> {
    if !q.id_checked {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a loss is lifted only for the holder at the counter: check their ID document first".into(),
        ));
    }
    let ssn = resident_id(&q.id_number)?;
    let province = s.province()?.clone();
    let key = request_key("lift-loss", &card, q.request_key.as_deref());
    let (local, operator, c) = (s.local().clone(), session.operator.clone(), card.clone());
    let lifted = tokio::task::spawn_blocking(move || {
        losses::lift_loss(&local, province.as_ref(), &operator, &c, &ssn, &key)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": card, "lifted": true, "reported_at": lifted.station,
        "since": lifted.since, "was_until": lifted.until})))
}

/// A replacement fee's request: nothing but the card. The holder's category is the one on their
/// application form (`services::holder_category`), never one the request names.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeeBody {}

async fn replacement_fee(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(FeeBody {}): Json<FeeBody>,
) -> Result<Json<Value>, ApiError> {
    let (local, operator, c, st) = (s.local().clone(), session.operator.clone(), card.clone(), s.clone());
    let province = s.province()?.clone();
    let receipt = tokio::task::spawn_blocking(move || {
        services::record_replacement_fee(&local, province.as_ref(), &st.inner.card_services, &operator, &c)
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    Ok(Json(json!({"card_number": receipt.card_number, "receipt": receipt.receipt,
        "fen": receipt.fee.fen(), "fee": receipt.fee})))
}

async fn schedule(State(s): State<AppState>, Authed(_): Authed) -> Json<Value> {
    let c = &s.inner.card_services;
    Json(json!({"temporary_loss_days": c.temporary_loss_days, "replacement_fen": c.replacement_fen,
        "fee_free_categories": c.fee_free_categories, "origin": c.origin}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefusalBody {
    /// `activation` or `card-change`.
    pub(crate) what: issuance::refusals::Refused,
    /// Whose choice it is: only `person` is recorded (RULE 8).
    pub(crate) chosen_by: issuance::lifecycle::ChosenBy,
    /// The day (`YYYY-MM-DD`), today when absent.
    #[serde(default)]
    pub(crate) date: Option<String>,
    /// The person's words, if any.
    #[serde(default)]
    pub(crate) note: String,
}

async fn refusal(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(card): UrlPath<String>,
    Json(q): Json<RefusalBody>,
) -> Result<Json<Value>, ApiError> {
    let date = q.date.clone().unwrap_or_else(|| applicant::days::today().to_string());
    let r = issuance::refusals::record_refusal(
        s.local(),
        &session.operator,
        &card,
        q.what,
        q.chosen_by,
        &date,
        &q.note,
    )
    .map_err(refused)?;
    Ok(Json(json!(r)))
}

async fn refusals(State(s): State<AppState>, Authed(_): Authed) -> Result<Json<Value>, ApiError> {
    let standing = issuance::refusals::standing(&s.local().ledger().map_err(internal)?);
    Ok(Json(json!({"refusals": standing.into_values().collect::<Vec<_>>()})))
}

/// Refuses an activation or a hand-over of a card reported lost, here or at the province
/// ([`losses::refuse_if_suspended_anywhere`]).
pub(crate) async fn refuse_if_suspended(s: &AppState, card: &str) -> Result<(), ApiError> {
    let (local, province, c) = (s.local().clone(), s.inner.province.clone(), card.to_string());
    tokio::task::spawn_blocking(move || losses::refuse_if_suspended_anywhere(&local, province.as_deref(), &c))
        .await
        .map_err(internal)?
        .map_err(refused)
}

/// What `GET /api/cards/{card}` says of losses and refusals: the temporary loss in force by
/// this station's ledger (`loss_until`, unix time) and the holder's standing refusals.
pub(crate) fn card_detail(s: &AppState, card: &str, answer: &mut Value) -> Result<(), ApiError> {
    let ledger = s.local().ledger().map_err(internal)?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    answer["loss_until"] = json!(losses::loss_in_force(&ledger, card, now));
    let refusals: Vec<_> =
        issuance::refusals::standing(&ledger).into_values().filter(|r| r.card_number == card).collect();
    answer["refusals"] = json!(refusals);
    Ok(())
}

/// The bodies of these routes through their `Json` extractors, for cargo-fuzz through
/// [`crate::api::fuzzing`]; `None` for another route.
pub(crate) fn fuzzing_body(
    route: &str,
    bytes: &[u8],
) -> Option<Result<crate::api::fuzzing::Fields, axum::extract::rejection::JsonRejection>> {
    use crate::api::fuzzing::{optional, required, strict};
    let null = || json!(null);
    Some(match route {
        "POST /api/cards/{card}/temporary-loss" => {
            Json::<TemporaryLossBody>::from_bytes(bytes).map(|Json(q)| {
                let TemporaryLossBody { id_number, channel, id_checked, request_key } = q;
                strict(vec![
                    required("id_number", json!(id_number)),
                    required("channel", json!(channel)),
                    optional("id_checked", json!(id_checked), json!(false)),
                    optional("request_key", json!(request_key), null()),
                ])
            })
        }
        "POST /api/cards/{card}/lift-loss" => Json::<LiftBody>::from_bytes(bytes).map(|Json(q)| {
            let LiftBody { id_number, id_checked, request_key } = q;
            strict(vec![
                required("id_number", json!(id_number)),
                required("id_checked", json!(id_checked)),
                optional("request_key", json!(request_key), null()),
            ])
        }),
        "POST /api/cards/{card}/replacement-fee" => {
            Json::<FeeBody>::from_bytes(bytes).map(|Json(FeeBody {})| strict(vec![]))
        }
        "POST /api/cards/{card}/refusal" => Json::<RefusalBody>::from_bytes(bytes).map(|Json(q)| {
            let RefusalBody { what, chosen_by, date, note } = q;
            strict(vec![
                required("what", json!(what)),
                required("chosen_by", json!(chosen_by)),
                optional("date", json!(date), null()),
                optional("note", json!(note), json!("")),
            ])
        }),
        _ => return None,
    })
}
