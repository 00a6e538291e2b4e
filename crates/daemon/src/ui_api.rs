//! What the counter's web page needs beyond the issuance API: typing-time validation with the
//! applicant crate's own rules, the devices' status with what to do, the camera and the photo
//! check's verdict, the printed face of a job, and the step times for the time-left estimate.
//! Pictures are read by `<img>` tags with the page's session cookie, as the event stream is.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;

use crate::state::{ApiError, AppState, Authed};
use crate::worker::CounterView;

/// How many camera frames a capture tries before it gives the last frame's reasons.
const CAPTURE_FRAMES: usize = 8;

/// Rough step times of a counter with a direct-to-card printer (printer.md: ~25 s a colour
/// face, ~10 s to the chip station), used until this counter has timed its own steps.
const DEFAULT_STEP_SECONDS: [(&str, f64); 13] = [
    ("accept", 0.3),
    ("archive-check", 0.5),
    ("claim", 0.5),
    ("stop-old-card", 0.5),
    ("verify-identity", 1.5),
    ("feed-card", 6.0),
    ("personalise-financial", 4.0),
    ("print-face", 25.0),
    ("personalise-ssc", 5.0),
    ("verify-chip", 2.0),
    ("commit", 1.0),
    ("eject", 3.0),
    ("hand-over", 0.3),
];

/// The page's side of the daemon: the counter's view and where photos are kept. Added to the
/// router as an extension by [`crate::start`].
#[derive(Clone)]
pub struct UiState {
    inner: Arc<UiInner>,
}

struct UiInner {
    view: Option<Arc<dyn CounterView>>,
    photo_dir: PathBuf,
    files: Option<archive::at_rest::FileKey>,
}

impl UiState {
    /// The page's state for a counter seen through `view`; photos go to `data_dir/photos`,
    /// where applicant files name them (`photos/...`), sealed under `files` (the local
    /// archive's [`archive::local::LocalArchive::file_key`]).
    pub fn new(
        view: Option<Arc<dyn CounterView>>,
        data_dir: PathBuf,
        files: Option<archive::at_rest::FileKey>,
    ) -> UiState {
        UiState { inner: Arc::new(UiInner { view, photo_dir: data_dir.join("photos"), files }) }
    }

    fn view(&self) -> Result<&Arc<dyn CounterView>, ApiError> {
        self.inner.view.as_ref().ok_or_else(|| {
            ApiError(StatusCode::NOT_FOUND, "this station's runner shows no devices to the page".into())
        })
    }
}

/// The code lists the form offers, from the applicant crate (the same lists validation uses).
async fn codes(Authed(_): Authed) -> Json<serde_json::Value> {
    let id_types: Vec<serde_json::Value> = applicant::IdType::ALL
        .iter()
        .map(|t| serde_json::json!({"key": t.key(), "zh": t.chinese_name(), "resident_number": t.is_resident_number()}))
        .collect();
    let ethnicities: Vec<serde_json::Value> = applicant::ETHNICITIES
        .iter()
        .map(|(code, name)| serde_json::json!({"code": format!("{code:02}"), "zh": name}))
        .collect();
    Json(serde_json::json!({"id_types": id_types, "ethnicities": ethnicities}))
}

/// This station's live cards of the person with ID number `ssn` and name `name` (a new card
/// for them is only a re-issue: RULE 1); the province has the last word when the job runs.
fn live_cards_of(s: &AppState, ssn: &str, name: &str) -> Vec<serde_json::Value> {
    s.local()
        .cards(None)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.ssn.eq_ignore_ascii_case(ssn) && c.name == name && c.status.is_live())
        .map(|c| serde_json::json!({"card_number": c.card_number, "status": c.status}))
        .collect()
}

/// Validates a form with the applicant crate's rules (typing-time validation is the server's
/// own), adding the live cards this station made for the person.
/// `POST /api/validate?reissue_of=CARD`: the card a re-issue replaces, when the form is one.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateQuery {
    #[serde(default)]
    reissue_of: Option<String>,
}

async fn validate(
    State(s): State<AppState>,
    Authed(_): Authed,
    axum::extract::Query(q): axum::extract::Query<ValidateQuery>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let banks = s.bank_codes();
    let today = applicant::days::today();
    let (mut answer, person) = crate::form::verdict(body, today, banks.as_deref(), q.reissue_of.as_deref());
    answer["live_cards"] = person.map(|(id, name)| live_cards_of(&s, &id, &name)).unwrap_or_default().into();
    Json(answer)
}

async fn devices(
    Authed(_): Authed,
    Extension(ui): Extension<UiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let view = ui.view()?;
    Ok(Json(serde_json::json!({"devices": view.devices()})))
}

/// The media type of an image by its first bytes.
fn image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

fn picture(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, image_type(&bytes)), (header::CACHE_CONTROL, "no-store")], bytes).into_response()
}

async fn camera_frame(Authed(_): Authed, Extension(ui): Extension<UiState>) -> Result<Response, ApiError> {
    let view = ui.view()?.clone();
    let frame = tokio::task::spawn_blocking(move || view.camera_frame())
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("{e}: check the camera's cable")))?;
    Ok(picture(frame))
}

#[derive(Serialize)]
struct Reason {
    code: &'static str,
    zh: String,
    en: String,
}

fn reasons(list: &[photo::Rejection]) -> Vec<Reason> {
    list.iter().map(|r| Reason { code: r.code(), zh: r.message_zh(), en: r.message_en() }).collect()
}

/// Stores a card photo made from a frame and judges the stored file as the province will
/// (format, size, density, bytes, face, light, background): the verdict the page shows.
fn keep_card_photo(
    ui: &UiState,
    processor: &mut photo::PhotoProcessor,
    card_photo: &photo::CardPhoto,
) -> Result<serde_json::Value, ApiError> {
    let internal = |e: String| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e);
    let random: String = crate::auth::random_bytes(8).iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("capture-{random}.jpg");
    crate::files::write_sealed(&ui.inner.photo_dir, &name, &card_photo.jpeg, ui.inner.files.as_ref())
        .map_err(|e| internal(format!("{}: {e}", ui.inner.photo_dir.display())))?;
    let report = processor.check(&card_photo.jpeg);
    Ok(serde_json::json!({
        "passed": report.passed(),
        "photo": format!("photos/{name}"),
        "bytes": report.bytes,
        "size": report.size,
        "dpi": report.dpi,
        "reasons": reasons(&report.rejections),
    }))
}

fn processor() -> Result<photo::PhotoProcessor, ApiError> {
    // The detector is not Send: one per photo, on its blocking thread.
    photo::PhotoProcessor::new(photo::PhotoSpec::default())
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("face model: {e}")))
}

/// Takes frames until one makes a card photo, stores it, and judges it.
fn capture_photo(ui: &UiState) -> Result<serde_json::Value, ApiError> {
    let view = ui.view()?;
    let mut processor = processor()?;
    let mut last = Vec::new();
    for _ in 0..CAPTURE_FRAMES {
        let bytes = view.camera_frame().map_err(|e| {
            ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("{e}: check the camera's cable"))
        })?;
        let frame = photo::source::decode_frame(&bytes)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("camera frame: {e}")))?;
        match processor.process(&frame) {
            Ok(card_photo) => return keep_card_photo(ui, &mut processor, &card_photo),
            Err(photo::PhotoError::Rejected(r)) => last = r.0,
            Err(e) => return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
        }
    }
    Ok(serde_json::json!({"passed": false, "photo": null, "reasons": reasons(&last)}))
}

/// The largest photo file an applicant may bring (a card photo is some tens of kB; a phone's
/// picture a few MB is cropped down, but nothing larger is read).
pub const MAX_PHOTO_FILE: usize = 2 * 1024 * 1024;

/// A photo file the applicant brought, checked like a camera frame: decoded (JPEG or PNG
/// only), cropped to the card photo around the one face, stored, judged.
fn judge_file(ui: &UiState, bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    let frame = photo::source::decode_frame(bytes).map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not a JPEG or PNG picture ({e}): bring the photo as a .jpg or .png file"),
        )
    })?;
    let mut processor = processor()?;
    match processor.process(&frame) {
        Ok(card_photo) => keep_card_photo(ui, &mut processor, &card_photo),
        Err(photo::PhotoError::Rejected(r)) => {
            Ok(serde_json::json!({"passed": false, "photo": null, "reasons": reasons(&r.0)}))
        }
        Err(e) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    }
}

async fn capture(
    State(s): State<AppState>,
    Authed(session): Authed,
    Extension(ui): Extension<UiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let verdict = tokio::task::spawn_blocking(move || capture_photo(&ui))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    s.audit(
        &session.operator,
        "photo.captured",
        serde_json::json!({"photo": verdict["photo"], "passed": verdict["passed"]}),
    );
    Ok(Json(verdict))
}

/// A photo file the applicant brought (the body: the picture's bytes).
async fn upload(
    State(s): State<AppState>,
    Authed(session): Authed,
    Extension(ui): Extension<UiState>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    if body.len() > MAX_PHOTO_FILE {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the photo file is over {} MiB: bring a smaller one", MAX_PHOTO_FILE >> 20),
        ));
    }
    let verdict = tokio::task::spawn_blocking(move || judge_file(&ui, &body))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    s.audit(
        &session.operator,
        "photo.uploaded",
        serde_json::json!({"photo": verdict["photo"], "passed": verdict["passed"]}),
    );
    Ok(Json(verdict))
}

/// A stored photo (`photos/NAME`), for the form's thumbnail.
async fn stored_photo(
    Authed(_): Authed,
    Extension(ui): Extension<UiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !plain {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "a photo name is letters, digits, '.', '-' and '_'".into(),
        ));
    }
    let bytes =
        crate::files::read_sealed(&ui.inner.photo_dir.join(&name), ui.inner.files.as_ref()).map_err(|e| {
            match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("photo {e}: capture it again"))
                }
                _ => ApiError(StatusCode::NOT_FOUND, format!("no photo {name}: capture it again")),
            }
        })?;
    Ok(picture(bytes))
}

/// The face a job printed (full ID number, photo): for the operator who asked for the job and
/// for supervisors.
/// What shows a job's whole ID number (its printed face, its application form) is seen by the
/// operator who asked for the job (known since this start, or `asked_by` as the station kept
/// it) and by supervisors.
pub(crate) fn own_job_or_supervisor(
    s: &AppState,
    session: &crate::auth::Session,
    job: i64,
    asked_by: Option<&str>,
    what: &str,
) -> Result<(), ApiError> {
    let me = Some(session.operator.as_str());
    let own = s.owners().of_job(job) == me || asked_by.is_some_and(|o| Some(o) == me);
    if !own && session.role != crate::auth::Role::Supervisor {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("{what} is seen by the operator who took the job and by supervisors"),
        ));
    }
    Ok(())
}

async fn printed_face(
    State(s): State<AppState>,
    Authed(session): Authed,
    Extension(ui): Extension<UiState>,
    Path(job): Path<i64>,
) -> Result<Response, ApiError> {
    own_job_or_supervisor(&s, &session, job, None, "a printed face")?;
    let view = ui.view()?.clone();
    let face = tokio::task::spawn_blocking(move || view.printed_face(job))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("job {job} has printed no face yet")))?;
    Ok(picture(face))
}

/// Seconds per step: this counter's own averages where it has timed a step, else the
/// defaults.
async fn steps(Authed(_): Authed, Extension(ui): Extension<UiState>) -> Json<serde_json::Value> {
    let measured = ui.inner.view.as_ref().map(|v| v.step_seconds()).unwrap_or_default();
    let steps: Vec<serde_json::Value> = DEFAULT_STEP_SECONDS
        .iter()
        .map(|(step, default)| {
            let seconds =
                measured.iter().find(|(s, _)| s == step).map_or(*default, |(_, measured)| *measured);
            serde_json::json!({"step": step, "seconds": seconds})
        })
        .collect();
    Json(serde_json::json!({"steps": steps}))
}

/// A person's action on a simulated device (open the cover, refill the feeder, ...).
async fn simulate(
    State(s): State<AppState>,
    Authed(session): Authed,
    Extension(ui): Extension<UiState>,
    Path((device, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let what = format!("{device}:{action}");
    ui.view()?.simulate(&what).map_err(|e| ApiError(StatusCode::NOT_FOUND, e))?;
    s.audit(&session.operator, "sim.action", serde_json::json!({"action": what}));
    Ok(StatusCode::NO_CONTENT)
}

/// One frame of the counter's camera, now: the activation's face-to-face photo (RULE 3),
/// never a file brought from elsewhere.
pub(crate) fn camera_shot(ui: &UiState) -> Result<Vec<u8>, ApiError> {
    ui.view()?
        .camera_frame()
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("{e}: check the camera's cable")))
}

/// The cooperating banks the applicant chooses from at this counter (RULE 8): those of the
/// counter's region, and whether this counter activates their cards.
async fn banks(State(s): State<AppState>, Authed(_): Authed) -> Json<serde_json::Value> {
    let Some(setup) = s.inner.bank.as_ref() else {
        return Json(serde_json::json!({"region": null, "banks": []}));
    };
    let banks: Vec<serde_json::Value> = setup
        .banks
        .registry()
        .banks_for(&setup.region)
        .iter()
        .map(|b| {
            serde_json::json!({"code": b.code, "name": b.name, "short_name": b.short_name,
                "activates_here": setup.banks.serves(&b.code)})
        })
        .collect();
    Json(serde_json::json!({"region": setup.region, "banks": banks}))
}

/// The medical-insurance categories of the form (参保类别), in its order, each with whether the
/// card services' schedule waives its holders' card fees (RULE 7).
async fn insurance_categories(State(s): State<AppState>, Authed(_): Authed) -> Json<serde_json::Value> {
    let free = &s.inner.card_services.fee_free_categories;
    let categories: Vec<serde_json::Value> = applicant::InsuranceCategory::all()
        .iter()
        .map(|c| serde_json::json!({"key": c.key(), "name": c.name(), "fee_free": free.iter().any(|f| f == c.key())}))
        .collect();
    Json(serde_json::json!({"categories": categories, "declaration": crate::form_print::DECLARATION}))
}

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/validate", post(validate))
        .route("/api/banks", get(banks))
        .route("/api/insurance-categories", get(insurance_categories))
        .route("/api/codes", get(codes))
        .route("/api/devices", get(devices))
        .route("/api/camera/frame", get(camera_frame))
        .route("/api/photo/capture", post(capture))
        .route(
            "/api/photo/upload",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(MAX_PHOTO_FILE + 1)),
        )
        .route("/api/photos/{name}", get(stored_photo))
        .route("/api/jobs/{id}/face", get(printed_face))
        .route("/api/steps", get(steps))
        .route("/api/sim/{device}/{action}", post(simulate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_by_magic() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
    }

    #[test]
    fn default_step_times_cover_every_step() {
        let names: Vec<&str> = issuance::STEPS.iter().map(|s| s.name()).collect();
        let ours: Vec<&str> = DEFAULT_STEP_SECONDS.iter().map(|(s, _)| *s).collect();
        assert_eq!(names, ours);
    }
}
