//! A re-issue that never strands the holder (#24): a re-issue whose new card could not be made
//! after its old card was stopped is held (`GET /api/jobs/{id}` says where the holder stands);
//! a supervisor restores the old card at the province and here, or resumes the new card on the
//! counter's devices with the same claim and card number.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use issuance::{HeldReissue, IssueError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::{ApiError, AppState, Authed};
use crate::worker::JobRequest;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs/{id}/restore", post(restore))
        .route("/api/jobs/{id}/resume-reissue", post(resume))
}

/// Where the holder of a held re-issue stands, for the job's view: the old card stopped at the
/// province for this re-issue, the new card not made, the claim's holder and end, the two ways.
pub fn held_json(held: &HeldReissue) -> Value {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    // Past its lease the province refuses the restore, and a resume ends the job (rolled back):
    // the old card stays stopped and the person applies again.
    let lapsed = held.held_until <= now;
    json!({
        "claim_lapsed": lapsed,
        "old_card": held.old_card,
        "old_card_at_province": "stopped for this re-issue",
        "new_card": held.new_card,
        "new_card_made": false,
        "claim_id": held.claim_id,
        "claim_held_by": held.station,
        "held_until": held.held_until,
        "held_until_local": issuance::local_time(held.held_until),
        "failed_step": held.step,
        "reason": held.reason,
        "ways_on": held.ways_on(),
        "summary": held.to_string(),
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A job not in the state the action needs (not held, not waiting for a correction) is a
/// conflict; a form the action cannot take is the caller's to fix; the province's answers as
/// the card routes map them (its refusal, the claim lapsed: a conflict; out of reach:
/// unavailable), with the step said.
pub(crate) fn refused(e: IssueError) -> ApiError {
    match &e {
        IssueError::Job { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
        IssueError::Data(_) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        IssueError::Archive { source, .. } => {
            ApiError(crate::cards_api::archive_status(source), e.to_string())
        }
        _ => internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    /// Why the re-issue is given up (what failed, what the holder chose).
    reason: String,
}

/// `POST /api/jobs/{id}/restore`: a supervisor gives the held re-issue up; the old card is live
/// again at the province (within the job's claim, which is released) and here.
async fn restore(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(id): UrlPath<i64>,
    Json(q): Json<RestoreBody>,
) -> Result<Json<Value>, ApiError> {
    if q.reason.trim().chars().count() < 4 {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "say why the re-issue is given up (reason, at least 4 characters)".into(),
        ));
    }
    let province = s.province()?.clone();
    let (local, supervisor) = (s.local().clone(), session.operator.clone());
    let card = tokio::task::spawn_blocking(move || {
        issuance::restore_held(&local, province.as_ref(), &supervisor, id, q.reason.trim())
    })
    .await
    .map_err(internal)?
    .map_err(refused)?;
    let status = s.local().card_status(&card.card_number).map_err(internal)?;
    let detail = format!("card {} restored", card.card_number);
    if let Err(e) = s.local().job_request_ended(id, "restored", &detail) {
        tracing::error!(error = %e, job = id, "the request of the restored job was not ended");
    }
    Ok(Json(json!({"job": id, "status": "restored", "card_number": card.card_number,
        "card_status": status.unwrap_or(card.status), "province_status": card.status})))
}

/// `POST /api/jobs/{id}/resume-reissue`: a supervisor resumes the held re-issue's new card; the
/// worker runs the job on the counter's devices from where it stopped (follow it with
/// `GET /api/jobs/{id}` or the event stream).
async fn resume(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(id): UrlPath<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (local, supervisor) = (s.local().clone(), session.operator.clone());
    let request = JobRequest::resumption(s.local(), id, &session.operator)
        .map_err(|e| ApiError(StatusCode::NOT_FOUND, e))?;
    let held = tokio::task::spawn_blocking(move || issuance::reopen_held(&local, &supervisor, id))
        .await
        .map_err(internal)?
        .map_err(refused)?;
    s.inner.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(request).map_err(|_| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the issuance worker stopped: restart the station (the job runs again then)".into(),
        )
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"job": id, "status": "running", "card_number": held.new_card, "claim_id": held.claim_id}),
        ),
    ))
}

/// The restore's body through its `Json` extractor, for cargo-fuzz through
/// [`crate::api::fuzzing`]; `None` for another route.
pub(crate) fn fuzzing_body(
    route: &str,
    bytes: &[u8],
) -> Option<Result<crate::api::fuzzing::Fields, axum::extract::rejection::JsonRejection>> {
    use crate::api::fuzzing::{required, strict};
    Some(match route {
        "POST /api/jobs/{id}/restore" => Json::<RestoreBody>::from_bytes(bytes).map(|Json(q)| {
            let RestoreBody { reason } = q;
            strict(vec![required("reason", json!(reason))])
        }),
        _ => return None,
    })
}
