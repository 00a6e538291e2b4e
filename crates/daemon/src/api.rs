//! The HTTP/JSON API. Every call but `/api/health` and the login needs a session: the page's
//! HttpOnly cookie (with its CSRF token on changes), or a bearer token in `Authorization` for
//! programs; never a token in a URL. Every call that changes or reads the record is audited in
//! the ledger.

use std::convert::Infallible;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use crate::login;
use crate::state::{ApiError, AppState, Authed};
use crate::worker::JobRequest;

#[derive(Deserialize)]
struct Login {
    operator: String,
    password: String,
    /// A program (the CLI) asks for a bearer token in the answer; the page gets a cookie its
    /// script cannot read.
    #[serde(default)]
    bearer: bool,
}

/// Logs in, through the guard: a name too long, a name or address that failed too often, or
/// a wrong password is refused (the security log keeps it; the ledger counts refusals per
/// window). The password check runs on a blocking thread, a bounded number at a time.
async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Json(q): Json<Login>,
) -> Result<Response, ApiError> {
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
            let who = serde_json::json!({"operator": session.operator, "role": session.role,
                "must_change": session.must_change});
            if q.bearer {
                let mut answer = who;
                answer["token"] = token.into();
                return Ok(Json(answer).into_response());
            }
            let mut answer = who;
            answer["csrf"] = session.csrf.clone().into();
            Ok(([(axum::http::header::SET_COOKIE, s.session_cookie(Some(&token)))], Json(answer))
                .into_response())
        }
        None => {
            guard.failed(&q.operator, address);
            refuse("wrong-password", ApiError(StatusCode::UNAUTHORIZED, "wrong name or password".into()))
        }
    }
}

#[derive(Deserialize)]
struct NewPassword {
    current: String,
    new: String,
}

/// An operator chooses their own password (at the first log-in, or any time): the current one
/// is checked under the same backoff and lock-out as a log-in, the new one kept as Argon2id in
/// the station's database with its ledger line. Once every first password is changed, their
/// file goes.
async fn change_password(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Authed(session): Authed,
    Json(q): Json<NewPassword>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (guard, address, name) = (&s.inner.guard, peer.ip(), session.operator.clone());
    if !matches!(guard.check(&name, address), login::Gate::Open) {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong passwords: wait, or ask a supervisor to unlock the account".into(),
        ));
    }
    if let Some(why) = login::password_problem(&name, &q.current, &q.new) {
        return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, why));
    }
    let permit = s.inner.checks.acquire().await.map_err(|_| {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "the station is stopping: try again".into())
    })?;
    let (state, who, current, new) = (s.clone(), name.clone(), q.current.clone(), q.new.clone());
    let phc = tokio::task::spawn_blocking(move || {
        state.inner.sessions.verify(&who, &current).then(|| crate::auth::hash_password(&new))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    drop(permit);
    let Some(phc) = phc else {
        guard.failed(&name, address);
        return Err(ApiError(StatusCode::UNAUTHORIZED, "the current password is wrong".into()));
    };
    let detail = serde_json::json!({"first": session.must_change});
    let ledger = archive::local::LedgerRecord {
        operator: &name,
        application_id: None,
        card_number: None,
        event: "operator.password_changed",
        detail: &detail,
    };
    s.inner.local.set_operator_password(&name, &phc, &ledger).map_err(|e| {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the new password was not kept: {e}"))
    })?;
    s.inner.sessions.choose(&name, phc);
    s.forget_first_passwords_if_all_chosen();
    Ok(Json(
        serde_json::json!({"operator": name, "role": session.role, "must_change": false, "csrf": session.csrf}),
    ))
}

/// A supervisor unlocks an operator locked out by failed log-ins.
async fn unlock(
    State(s): State<AppState>,
    Authed(session): Authed,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let was_locked = s.inner.guard.unlock(&name);
    if was_locked {
        s.audit(&session.operator, "operator.unlocked", serde_json::json!({"operator": name}));
    }
    Ok(Json(serde_json::json!({"operator": name, "was_locked": was_locked})))
}

/// The refused log-ins kept in memory (bounded), for supervisors and auditors.
async fn security_log(
    State(s): State<AppState>,
    Authed(_): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::json!({"refused": s.inner.guard.log()})))
}

/// Ends the session (its event stream ends with it) and clears the page's cookie.
async fn logout(State(s): State<AppState>, Authed(session): Authed) -> Response {
    s.inner.sessions.logout(&session.key);
    s.audit(&session.operator, "session.closed", serde_json::json!({}));
    (StatusCode::NO_CONTENT, [(axum::http::header::SET_COOKIE, s.session_cookie(None))]).into_response()
}

#[derive(Deserialize)]
struct IssueBody {
    applicant: serde_json::Value,
    #[serde(default)]
    reissue_of: Option<String>,
    /// `at-counter` (the holder is here: the job waits at the hand-over for their signature;
    /// the default) or `later` (the card goes to stock).
    #[serde(default)]
    collection: Option<String>,
    /// For `later`: the storage place (保管地点), over `[counter.stock]`.
    #[serde(default)]
    storage_place: Option<String>,
    /// For `later`: the person responsible there, over `[counter.stock]`.
    #[serde(default)]
    keeper: Option<String>,
    /// The agent site the application is taken for (its id in `[[sites]]`): the card is
    /// collected there, so `later` by default.
    #[serde(default)]
    site: Option<String>,
    /// At an identity mismatch: `wait` for the operator's correction (the default), or `end`
    /// the application with the register's hints (a batch, where nobody is there to correct).
    #[serde(default)]
    on_mismatch: Option<String>,
}

/// Whether a job waits for a correction at an identity mismatch, from its request's word.
fn waits_at_mismatch(word: Option<&str>) -> Result<bool, ApiError> {
    match word {
        None | Some("wait") => Ok(true),
        Some("end") => Ok(false),
        Some(other) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("on_mismatch {other:?}: \"wait\" (the operator corrects the applicant) or \"end\" (the application ends with the register's hints)"),
        )),
    }
}

/// The job's collection from its request: at the counter unless `later` (or taken for an agent
/// site, which must be one of `[[sites]]`), whose storage place and keeper come from the
/// station's settings where the request names none.
fn collection(
    s: &AppState,
    operator: &str,
    word: Option<&str>,
    place: Option<&str>,
    keeper: Option<&str>,
    site: Option<&str>,
) -> Result<issuance::Collection, ApiError> {
    if let Some(id) = site.map(str::trim).filter(|v| !v.is_empty()) {
        let Some(site) = s.inner.sites.iter().find(|x| x.id == id) else {
            let known: Vec<&str> = s.inner.sites.iter().map(|x| x.id.as_str()).collect();
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "no agent site {id:?} in [[sites]]: the configured ones are {}",
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ),
            ));
        };
        if word == Some("at-counter") {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("an application for agent site {id} is collected there later, not at this counter: leave collection out or send \"later\""),
            ));
        }
        let mut storage = s.inner.stock.storage(operator, place, keeper);
        storage.collect_at = Some(site.id.clone());
        return Ok(issuance::Collection::Later(storage));
    }
    let named = place.is_some() || keeper.is_some();
    match word {
        None | Some("at-counter") if !named => Ok(issuance::Collection::AtCounter),
        None | Some("at-counter") => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a storage place and keeper are for a card collected later: send collection \"later\" with them, or leave them out".into(),
        )),
        Some("later") => Ok(issuance::Collection::Later(s.inner.stock.storage(operator, place, keeper))),
        Some(other) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("collection {other:?}: \"at-counter\" (the holder is here) or \"later\" (the card goes to stock)"),
        )),
    }
}

async fn issue(
    State(s): State<AppState>,
    Authed(session): Authed,
    Json(q): Json<IssueBody>,
) -> Result<Response, ApiError> {
    // Parsed and validated once, here: an applicant the steps would refuse never becomes a job.
    let banks = s.bank_codes();
    let reissue_of = q.reissue_of.as_deref();
    let applicant =
        match crate::form::accept(q.applicant, applicant::days::today(), banks.as_deref(), reissue_of) {
            Ok(a) => a,
            Err(verdict) => return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(verdict)).into_response()),
        };
    let collection = collection(
        &s,
        &session.operator,
        q.collection.as_deref(),
        q.storage_place.as_deref(),
        q.keeper.as_deref(),
        q.site.as_deref(),
    )?;
    let corrections = waits_at_mismatch(q.on_mismatch.as_deref())?;
    // Kept before the answer: a crash after the 202 loses no request (it runs at the next
    // start, or ends with its reason).
    let request = JobRequest {
        request_id: 0,
        operator: session.operator.clone(),
        applicant,
        reissue_of: q.reissue_of,
        collection,
        resume_job: None,
        corrections,
    };
    let stored = serde_json::to_string(&request.stored())
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let id = s
        .inner
        .local
        .queue_request(&session.operator, &stored, "job.requested", &serde_json::json!({}))
        .map_err(|e| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the request was not kept ({e}): free disk space on the station and send it again"),
            )
        })?;
    let request = JobRequest { request_id: id as u64, ..request };
    s.owners().requested(request.request_id, &session.operator);
    let request_id = request.request_id;
    s.inner.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(request).map_err(|_| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the issuance worker stopped: restart the station (the request is kept and runs then)".into(),
        )
    })?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"request_id": request_id}))).into_response())
}

/// Where a request stands: queued, started (with its job), or ended with its outcome.
async fn request_status(
    State(s): State<AppState>,
    Authed(_): Authed,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let r = s
        .inner
        .local
        .request(id)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no request {id}")))?;
    Ok(Json(serde_json::json!({"request_id": r.request_id, "status": r.status, "job": r.job_id,
        "outcome": r.outcome, "detail": r.detail})))
}

/// The request bodies as the handlers' `Json` extractors read them, for cargo-fuzz (`fuzz/`);
/// the queries as their `Query` extractors read them, and what the handlers do with a body
/// before they act (the applicant's verdict, the province's request key).
#[doc(hidden)]
pub mod fuzzing {
    use axum::extract::rejection::{JsonRejection, QueryRejection};
    use axum::http::Uri;
    use axum::Json;
    use serde_json::json;

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

    /// One field of what a handler gets from a request: the value it sees (the default where
    /// the request left the field out), and that default (`None`: the field is required).
    #[derive(Debug, Clone, PartialEq)]
    pub struct Field {
        /// The field's name in the request.
        pub name: &'static str,
        /// What the handler sees.
        pub value: serde_json::Value,
        /// What it sees when the request leaves the field out; `None` when it must be given.
        pub default: Option<serde_json::Value>,
    }

    /// A required field.
    pub(crate) fn required(name: &'static str, value: serde_json::Value) -> Field {
        Field { name, value, default: None }
    }

    /// A field with a default.
    pub(crate) fn optional(
        name: &'static str,
        value: serde_json::Value,
        default: serde_json::Value,
    ) -> Field {
        Field { name, value, default: Some(default) }
    }

    /// What an extractor gave the handler: the fields of its type in declaration order (each
    /// type is taken apart whole, so a field added to it must be added here too), and whether
    /// the type refuses keys it does not know.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Fields {
        /// The fields.
        pub fields: Vec<Field>,
        /// The type refuses unknown keys (`deny_unknown_fields`); else it ignores them.
        pub strict: bool,
    }

    /// A type that ignores unknown keys.
    pub(crate) fn lenient(fields: Vec<Field>) -> Fields {
        Fields { fields, strict: false }
    }

    /// A type that refuses unknown keys.
    pub(crate) fn strict(fields: Vec<Field>) -> Fields {
        Fields { fields, strict: true }
    }

    /// The routes with a JSON body, as [`body`] names them.
    pub const BODIES: [&str; 15] = [
        "POST /api/session",
        "POST /api/session/password",
        "POST /api/jobs",
        "POST /api/validate",
        "POST /api/cards/{card}/handover",
        "POST /api/cards/{card}/activate",
        "POST /api/cards/{card}/custody",
        "POST /api/cards/{card}/replace",
        "POST /api/cards/{card}/loss",
        "POST /api/persons/deceased",
        "POST /api/persons/deceased/correct",
        "POST /api/kit/conflicts/{record}/resolve",
        "POST /api/cards/{card}/stock",
        "POST /api/stock/receive",
        "POST /api/stock/move",
    ];

    /// The routes of losses, fees and refusals with a JSON body (after the others, so the
    /// route bytes of the recorded corpus keep their routes).
    pub const LOSS_BODIES: [&str; 4] = [
        "POST /api/cards/{card}/temporary-loss",
        "POST /api/cards/{card}/lift-loss",
        "POST /api/cards/{card}/replacement-fee",
        "POST /api/cards/{card}/refusal",
    ];

    /// The held re-issue's route with a JSON body (after the others, for the same reason).
    pub const REISSUE_BODIES: [&str; 1] = ["POST /api/jobs/{id}/restore"];

    /// The identity correction's route with a JSON body (after the others, for the same reason).
    pub const IDENTITY_BODIES: [&str; 1] = ["POST /api/jobs/{id}/correct"];

    /// The routes with a query, as [`query`] names them.
    pub const QUERIES: [&str; 2] = ["GET /api/cards", "GET /api/cards/dormant"];

    /// The body of `route` (one of [`BODIES`]) through the handler's `Json` extractor, or
    /// `None` for a route that takes no body.
    pub fn body(route: &str, bytes: &[u8]) -> Option<Result<Fields, JsonRejection>> {
        Some(match route {
            "POST /api/session" => Json::<super::Login>::from_bytes(bytes).map(|Json(q)| {
                let super::Login { operator, password, bearer } = q;
                lenient(vec![
                    required("operator", json!(operator)),
                    required("password", json!(password)),
                    optional("bearer", json!(bearer), json!(false)),
                ])
            }),
            "POST /api/session/password" => Json::<super::NewPassword>::from_bytes(bytes).map(|Json(q)| {
                let super::NewPassword { current, new } = q;
                lenient(vec![required("current", json!(current)), required("new", json!(new))])
            }),
            "POST /api/jobs" => Json::<super::IssueBody>::from_bytes(bytes).map(|Json(q)| {
                let super::IssueBody {
                    applicant,
                    reissue_of,
                    collection,
                    storage_place,
                    keeper,
                    site,
                    on_mismatch,
                } = q;
                lenient(vec![
                    required("applicant", applicant),
                    optional("reissue_of", json!(reissue_of), json!(null)),
                    optional("collection", json!(collection), json!(null)),
                    optional("storage_place", json!(storage_place), json!(null)),
                    optional("keeper", json!(keeper), json!(null)),
                    optional("site", json!(site), json!(null)),
                    optional("on_mismatch", json!(on_mismatch), json!(null)),
                ])
            }),
            // The whole body is the form.
            "POST /api/validate" => {
                Json::<serde_json::Value>::from_bytes(bytes).map(|Json(v)| lenient(vec![required("", v)]))
            }
            "POST /api/stock/receive" | "POST /api/stock/move" => {
                return crate::stock_api::fuzzing_body(route, bytes)
            }
            r if LOSS_BODIES.contains(&r) => return crate::losses_api::fuzzing_body(route, bytes),
            r if REISSUE_BODIES.contains(&r) => return crate::reissue_api::fuzzing_body(route, bytes),
            r if IDENTITY_BODIES.contains(&r) => return crate::identity_api::fuzzing_body(route, bytes),
            other => return crate::cards_api::fuzzing::body(other, bytes),
        })
    }

    /// The query of `uri` for `route` (one of [`QUERIES`]) through the handler's `Query`
    /// extractor, or `None` for a route that takes no query.
    pub fn query(route: &str, uri: &Uri) -> Option<Result<Fields, QueryRejection>> {
        crate::cards_api::fuzzing::query(route, uri)
    }

    /// `POST /api/jobs` after its body: the applicant parsed and validated once, or the
    /// verdict the 422 carries.
    pub fn accept(
        applicant: serde_json::Value,
        today: applicant::Date,
    ) -> Result<applicant::Applicant, serde_json::Value> {
        crate::form::accept(applicant, today, None, None)
    }

    /// `POST /api/validate` after its body: the verdict, and the ID number whose live cards the
    /// answer lists (with the holder's name, only for a valid ID number).
    pub fn verdict(form: serde_json::Value, today: applicant::Date) -> (serde_json::Value, Option<String>) {
        let (verdict, person) = crate::form::verdict(form, today, None, None);
        (verdict, person.map(|(id, _)| id))
    }

    /// The key the card routes give a call to the province (loss, death, correction), from
    /// the caller's key: a retry with the same key is the same call.
    pub fn request_key(kind: &str, subject: &str, client_key: Option<&str>) -> String {
        crate::cards_api::fuzzing::request_key(kind, subject, client_key)
    }
}

/// `GET /api/jobs/waiting`: the jobs that wait for a person (a held re-issue, an identity
/// mismatch to correct), so that one left on another screen or before a reload is found again.
/// ID numbers masked.
async fn waiting_jobs(
    State(s): State<AppState>,
    Authed(_): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = s
        .inner
        .local
        .waiting_jobs()
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let jobs: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|j| {
            serde_json::json!({"job": j.job_id, "status": j.status, "holder": applicant::mask_id(&j.ssn),
                "name": j.name, "since": j.since, "since_local": issuance::local_time(j.since)})
        })
        .collect();
    Ok(Json(serde_json::json!({"jobs": jobs})))
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
    // A running job whose card is out, waiting for the receiver's signature, says so.
    let waits = issuance::awaiting_handover(&s.inner.local, id)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .is_some();
    let status = if waits { "awaiting-handover" } else { row.status.as_str() };
    // A held re-issue says where its holder stands and the two ways on.
    let held = issuance::held_reissue(&s.inner.local, id)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map(|h| crate::reissue_api::held_json(&h));
    // A job waiting after an identity mismatch says which fields, with the register's hints;
    // one that ended says why.
    let mismatch = crate::identity_api::mismatch_json(&s.inner.local, id)?;
    let ended = match row.status.as_str() {
        "failed" | "rolled_back" | "restored" => {
            s.inner.local.application_failure(row.application_id).map_err(internal)?
        }
        _ => None,
    };
    Ok(Json(serde_json::json!({"job": row.job_id, "status": status, "application": row.application_id,
        "card_number": card.card_number, "card_id": card.card_id, "atr": card.atr,
        "issue_date": card.issue_date, "expiry_date": card.expiry_date, "journal": journal, "held": held,
        "mismatch": mismatch, "ended": ended})))
}

/// How often a running event stream looks whether its session is still open.
const STREAM_SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The job steps as they happen, for as long as the session is open: a log-out, the idle
/// timeout or the session's end closes the stream within a second.
async fn events(
    State(s): State<AppState>,
    Authed(session): Authed,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let steps = BroadcastStream::new(s.inner.events.subscribe())
        .filter_map(|e| e.ok().and_then(|event| SseEvent::default().json_data(&event).ok()).map(Some));
    let ticks = tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(STREAM_SESSION_CHECK))
        .map(|_| None);
    let sessions = s.clone();
    let stream = steps
        .merge(ticks)
        .take_while(move |_| sessions.inner.sessions.alive(&session.key))
        .filter_map(|e| e.map(Ok));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn ledger(
    State(s): State<AppState>,
    Authed(session): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let entries =
        s.inner.local.ledger().map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    s.audit(&session.operator, "ledger.read", serde_json::json!({"entries": entries.len()}));
    Ok(Json(serde_json::json!({"entries": entries})))
}

async fn ledger_verify(
    State(s): State<AppState>,
    Authed(_): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The chain and, with the station's key, every entry's MAC (computed in the token).
    let answer = match s.inner.local.check_ledger() {
        Ok(c) => serde_json::json!({"intact": true, "entries": c.entries, "keyed_from": c.keyed_from,
            "key": c.key}),
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
        .route("/api/session/password", post(change_password))
        .route("/api/operators/{name}/unlock", post(unlock))
        .route("/api/security/log", get(security_log))
        .route(
            "/api/me",
            get(|Authed(s): Authed| async move {
                Json(serde_json::json!({"operator": s.operator, "role": s.role, "csrf": s.csrf,
                    "must_change": s.must_change}))
            }),
        )
        .route("/api/jobs", post(issue))
        .route("/api/jobs/waiting", get(waiting_jobs))
        .route("/api/jobs/{id}", get(job))
        .route("/api/requests/{id}", get(request_status))
        .route("/api/events", get(events))
        .route("/api/ledger", get(ledger))
        .route("/api/ledger/verify", get(ledger_verify))
        .merge(crate::cards_api::router())
        .merge(crate::reissue_api::router())
        .merge(crate::identity_api::router())
        .merge(crate::losses_api::router())
        .merge(crate::stock_api::router())
        .merge(crate::sites_api::router())
        .merge(crate::notices::router())
        .merge(crate::ui_api::router())
        .merge(crate::form_print::router())
        .merge(crate::ui::router())
        .with_state(state)
}
