//! Identity verification as the seed's flow (#24 item 6): a job whose verification answered a
//! mismatch waits at it; `GET /api/jobs/{id}` shows the fields the police register did not
//! confirm, each with its hint; the operator corrects them (the form judged as a job's
//! request is) and the job verifies again on the counter, up to the station's
//! `[idv] max_corrections`; or ends the application.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use issuance::IdentityMismatch;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::reissue_api::refused;
use crate::state::{ApiError, AppState, Authed};
use crate::worker::JobRequest;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/jobs/{id}/correct", post(correct))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Where a job waiting for an identity correction stands, for the job's view: the fields the
/// register did not confirm with their hints, the corrections made and left, and the values it
/// holds now for the correction form (the ID number masked, no birth date); `None` for any
/// other job.
pub fn mismatch_json(local: &archive::local::LocalArchive, job: i64) -> Result<Option<Value>, ApiError> {
    let Some((m, applicant)) = issuance::identity_mismatch(local, job).map_err(internal)? else {
        return Ok(None);
    };
    let holder = &applicant.holder;
    Ok(Some(json!({
        "fields": m.fields,
        "corrections": m.corrections,
        "max_corrections": m.max_corrections,
        "left": m.left(),
        "way_on": m.way_on(),
        "summary": m.to_string(),
        "correctable": issuance::CORRECTABLE,
        // Not the birth date: with the masked number it would spell the whole number out.
        "holder": {
            "name": holder.name,
            "id_number": holder.id_number.as_deref().map(applicant::mask_id),
            "id_validity": holder.id_validity,
        },
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorrectBody {
    /// The corrected holder fields (of `issuance::CORRECTABLE`), each with its new value.
    #[serde(default)]
    holder: Option<Map<String, Value>>,
    /// Instead: end the application, saying why (the applicant cannot correct it here).
    #[serde(default)]
    end: Option<String>,
}

/// The corrected applicant: the job's, with `fields` set; only the fields an identity
/// correction may change.
fn corrected(applicant: &applicant::Applicant, fields: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut form = serde_json::to_value(applicant).map_err(internal)?;
    for (field, value) in fields {
        if !issuance::CORRECTABLE.contains(&field.as_str()) {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "holder.{field}: an identity correction changes only {}; the rest of the form stands",
                    issuance::CORRECTABLE.join(", ")
                ),
            ));
        }
        form["holder"][field] = value.clone();
    }
    Ok(form)
}

/// `POST /api/jobs/{id}/correct`: the operator corrects the applicant of a job waiting after an
/// identity mismatch (`{"holder": {"name": "张三"}}`), or ends it (`{"end": "why"}`). The
/// correction is journalled with the job before the worker runs it again on the counter (its
/// verification asks the register again): follow it with `GET /api/jobs/{id}` or the events.
async fn correct(
    State(s): State<AppState>,
    Authed(session): Authed,
    UrlPath(id): UrlPath<i64>,
    Json(q): Json<CorrectBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (local, operator) = (s.local().clone(), session.operator.clone());
    let answer = match (q.holder, q.end) {
        (Some(fields), None) if !fields.is_empty() => {
            let (_, applicant, reissue_of) = issuance::correction_target(&local, id).map_err(refused)?;
            let form = corrected(&applicant, &fields)?;
            // Judged as a job's request is: an applicant the steps would refuse is not taken.
            let banks = s.bank_codes();
            let applicant =
                crate::form::accept(form, applicant::days::today(), banks.as_deref(), reissue_of.as_deref())
                .map_err(|verdict| {
                    let why = crate::form::problems(&verdict).join("; ");
                    ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("the corrected form is refused: {why}"))
                })?;
            let m = tokio::task::spawn_blocking(move || {
                issuance::correct_identity(&local, &operator, id, &applicant)
            })
            .await
            .map_err(internal)?
            .map_err(refused)?;
            corrected_json(id, &m)
        }
        (None, Some(reason)) if reason.trim().chars().count() >= 2 => {
            tokio::task::spawn_blocking(move || issuance::end_correction(&local, &operator, id, reason.trim()))
                .await
                .map_err(internal)?
                .map_err(refused)?;
            json!({"job": id, "status": "running", "ending": true})
        }
        _ => {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "send the corrected fields ({{\"holder\": {{\"name\": ...}}}}, of {}) or end the application with why ({{\"end\": \"...\"}}), not both",
                    issuance::CORRECTABLE.join(", ")
                ),
            ))
        }
    };
    // The job runs again on the counter's devices (its verification first).
    let request = JobRequest::resumption(s.local(), id, &session.operator)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    s.inner.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(request).map_err(|_| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the issuance worker stopped: restart the station (the corrected job runs again then)".into(),
        )
    })?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

fn corrected_json(id: i64, m: &IdentityMismatch) -> Value {
    json!({"job": id, "status": "running", "corrections": m.corrections,
        "max_corrections": m.max_corrections, "left": m.left()})
}

/// The correction's body through its `Json` extractor, for cargo-fuzz through
/// [`crate::api::fuzzing`]; `None` for another route.
pub(crate) fn fuzzing_body(
    route: &str,
    bytes: &[u8],
) -> Option<Result<crate::api::fuzzing::Fields, axum::extract::rejection::JsonRejection>> {
    use crate::api::fuzzing::{optional, strict};
    Some(match route {
        "POST /api/jobs/{id}/correct" => Json::<CorrectBody>::from_bytes(bytes).map(|Json(q)| {
            let CorrectBody { holder, end } = q;
            strict(vec![
                optional("holder", json!(holder), json!(null)),
                optional("end", json!(end), json!(null)),
            ])
        }),
        _ => return None,
    })
}
