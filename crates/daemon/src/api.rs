//! The HTTP/JSON API. Every call but `/api/health` and the login needs a bearer token
//! (`Authorization: Bearer ...`, or `?token=` for the event stream, which browsers open
//! without headers); every call that changes or reads the record is audited in the ledger.

use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use crate::auth::Role;
use crate::login;
use crate::state::{ApiError, AppState, Authed};
use crate::worker::JobRequest;

#[derive(Deserialize)]
struct Login {
    operator: String,
    password: String,
}

/// Logs in, through the guard: a name too long, a name or address that failed too often, or
/// a wrong password is refused (the security log keeps it; the ledger counts refusals per
/// window). The password check runs on a blocking thread, a bounded number at a time.
async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Json(q): Json<Login>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (guard, address) = (&s.inner.guard, peer.ip());
    let refuse = |reason: &'static str, error: ApiError| {
        if let Some(w) = guard.refused(&q.operator, address, reason) {
            s.audit(
                "station",
                "session.refusals",
                serde_json::json!({"since": w.since, "minutes": w.minutes, "refused": w.refused}),
            );
        }
        Err(error)
    };
    if q.operator.is_empty() || q.operator.chars().count() > login::MAX_NAME_CHARS {
        let why = format!("an operator name has 1 to {} characters", login::MAX_NAME_CHARS);
        return refuse("name-too-long", ApiError(StatusCode::BAD_REQUEST, why));
    }
    match guard.check(&q.operator, address) {
        login::Gate::Open => {}
        login::Gate::Wait(d) => {
            let why = format!("too many failed log-ins: wait {} s, then try again", d.as_secs().max(1));
            return refuse("waiting", ApiError(StatusCode::TOO_MANY_REQUESTS, why));
        }
        login::Gate::NameLocked => {
            let why = "this account is locked after too many failed log-ins: a supervisor unlocks it";
            return refuse("name-locked", ApiError(StatusCode::LOCKED, why.into()));
        }
        login::Gate::AddressLocked(d) => {
            let why =
                format!("too many failed log-ins from this computer: wait {} min", d.as_secs() / 60 + 1);
            return refuse("address-locked", ApiError(StatusCode::TOO_MANY_REQUESTS, why));
        }
    }
    let permit = s.inner.checks.acquire().await.map_err(|_| {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the station is stopping: try again".into())
    })?;
    let (state, name, password) = (s.clone(), q.operator.clone(), q.password.clone());
    let opened = tokio::task::spawn_blocking(move || state.inner.sessions.login(&name, &password))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    drop(permit);
    match opened {
        Some((token, session)) => {
            guard.succeeded(&q.operator, address);
            s.audit(&session.operator, "session.opened", serde_json::json!({"role": session.role}));
            Ok(Json(serde_json::json!({"token": token, "operator": session.operator, "role": session.role})))
        }
        None => {
            guard.failed(&q.operator, address);
            refuse("wrong-password", ApiError(StatusCode::UNAUTHORIZED, "wrong name or password".into()))
        }
    }
}

/// A supervisor unlocks an operator locked out by failed log-ins.
async fn unlock(
    State(s): State<AppState>,
    Authed(session): Authed,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if session.role != Role::Supervisor {
        return Err(ApiError(StatusCode::FORBIDDEN, "only a supervisor unlocks an account".into()));
    }
    let was_locked = s.inner.guard.unlock(&name);
    if was_locked {
        s.audit(&session.operator, "operator.unlocked", serde_json::json!({"operator": name}));
    }
    Ok(Json(serde_json::json!({"operator": name, "was_locked": was_locked})))
}

/// The refused log-ins kept in memory (bounded), for supervisors and auditors.
async fn security_log(
    State(s): State<AppState>,
    Authed(session): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !session.role.may_audit() {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("a {:?} may not read the security log", session.role),
        ));
    }
    Ok(Json(serde_json::json!({"refused": s.inner.guard.log()})))
}

async fn logout(
    State(s): State<AppState>,
    Authed(session): Authed,
    parts: axum::http::HeaderMap,
) -> StatusCode {
    if let Some(token) =
        parts.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        s.inner.sessions.logout(token);
    }
    s.audit(&session.operator, "session.closed", serde_json::json!({}));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct IssueBody {
    applicant: serde_json::Value,
    #[serde(default)]
    reissue_of: Option<String>,
}

async fn issue(
    State(s): State<AppState>,
    Authed(session): Authed,
    Json(q): Json<IssueBody>,
) -> Result<Response, ApiError> {
    if !session.role.may_issue() {
        s.audit(&session.operator, "job.forbidden", serde_json::json!({}));
        return Err(ApiError(StatusCode::FORBIDDEN, format!("a {:?} may not issue cards", session.role)));
    }
    // Parsed and validated once, here: an applicant the steps would refuse never becomes a job.
    let applicant = match crate::form::accept(q.applicant, applicant::days::today()) {
        Ok(a) => a,
        Err(verdict) => return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(verdict)).into_response()),
    };
    let request_id = s.inner.next_request.fetch_add(1, Ordering::SeqCst);
    let request =
        JobRequest { request_id, operator: session.operator.clone(), applicant, reissue_of: q.reissue_of };
    s.inner.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(request).map_err(|_| {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the issuance worker stopped: restart the station".into())
    })?;
    s.audit(&session.operator, "job.requested", serde_json::json!({"request_id": request_id}));
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"request_id": request_id}))).into_response())
}

/// The request bodies as the handlers' `Json` extractors read them, for cargo-fuzz (`fuzz/`).
#[doc(hidden)]
pub mod fuzzing {
    /// `POST /api/session`: operator and password.
    pub fn login(body: &[u8]) -> Result<(String, String), serde_json::Error> {
        let q: super::Login = serde_json::from_slice(body)?;
        Ok((q.operator, q.password))
    }

    /// `POST /api/jobs`: the applicant JSON and the card a re-issue replaces.
    pub fn issue(body: &[u8]) -> Result<(serde_json::Value, Option<String>), serde_json::Error> {
        let q: super::IssueBody = serde_json::from_slice(body)?;
        Ok((q.applicant, q.reissue_of))
    }
}

async fn job(
    State(s): State<AppState>,
    Authed(_): Authed,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let internal = |e: archive::ArchiveError| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let row = s
        .inner
        .local
        .job(id)
        .map_err(internal)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let journal: Vec<serde_json::Value> = s
        .inner
        .local
        .journal_of(id)
        .map_err(internal)?
        .into_iter()
        .map(|l| serde_json::json!({"step": l.step, "phase": l.phase}))
        .collect();
    // Only what the card carries openly: the state also holds the applicant's form.
    let card = issuance::JobCard::from_state(&row.state);
    Ok(Json(serde_json::json!({"job": row.job_id, "status": row.status, "application": row.application_id,
        "card_number": card.card_number, "card_id": card.card_id, "atr": card.atr,
        "issue_date": card.issue_date, "expiry_date": card.expiry_date, "journal": journal})))
}

async fn events(
    State(s): State<AppState>,
    Authed(_): Authed,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(s.inner.events.subscribe())
        .filter_map(|e| e.ok().and_then(|event| SseEvent::default().json_data(&event).ok()).map(Ok));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn ledger(
    State(s): State<AppState>,
    Authed(session): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !session.role.may_audit() {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("a {:?} may not read the ledger", session.role)));
    }
    let entries =
        s.inner.local.ledger().map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    s.audit(&session.operator, "ledger.read", serde_json::json!({"entries": entries.len()}));
    Ok(Json(serde_json::json!({"entries": entries})))
}

async fn ledger_verify(
    State(s): State<AppState>,
    Authed(session): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !session.role.may_audit() {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("a {:?} may not read the ledger", session.role)));
    }
    let answer = match s.inner.local.verify_ledger() {
        Ok(n) => serde_json::json!({"intact": true, "entries": n}),
        Err(e) => serde_json::json!({"intact": false, "error": e.to_string()}),
    };
    Ok(Json(answer))
}

/// The API routes.
pub fn router(state: AppState) -> Router {
    let station = state.inner.station.clone();
    Router::new()
        .route(
            "/api/health",
            get(move || async move { Json(serde_json::json!({"station": station, "status": "up"})) }),
        )
        .route("/api/session", post(login).delete(logout))
        .route("/api/operators/{name}/unlock", post(unlock))
        .route("/api/security/log", get(security_log))
        .route(
            "/api/me",
            get(|Authed(s): Authed| async move {
                Json(serde_json::json!({"operator": s.operator, "role": s.role}))
            }),
        )
        .route("/api/jobs", post(issue))
        .route("/api/jobs/{id}", get(job))
        .route("/api/events", get(events))
        .route("/api/ledger", get(ledger))
        .route("/api/ledger/verify", get(ledger_verify))
        .merge(crate::cards_api::router())
        .merge(crate::ui_api::router())
        .merge(crate::ui::router())
        .with_state(state)
}
