//! What every handler shares: the daemon's state, the API error (status and a message the
//! operator can act on) and the authenticated request. The route modules ([`crate::api`],
//! [`crate::cards_api`], [`crate::ui_api`], [`crate::ui`]) build on it; none imports another.

use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc, Mutex};

use archive::local::LocalArchive;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::broadcast;

use crate::auth::{Session, Sessions};
use crate::worker::{Event, JobRequest};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) station: String,
    pub(crate) sessions: Sessions,
    pub(crate) local: Arc<LocalArchive>,
    pub(crate) jobs: Mutex<mpsc::Sender<JobRequest>>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) next_request: AtomicU64,
    pub(crate) evidence: std::path::PathBuf,
    pub(crate) province: Option<Arc<dyn archive::ProvincialArchive>>,
    /// Backoff and lock-out of log-ins, and the security log.
    pub(crate) guard: crate::login::LoginGuard,
    /// Bounds the password checks (Argon2) running at once, off the async threads.
    pub(crate) checks: tokio::sync::Semaphore,
}

impl AppState {
    /// The state of a daemon.
    pub fn new(
        station: &str,
        sessions: Sessions,
        local: Arc<LocalArchive>,
        jobs: mpsc::Sender<JobRequest>,
        events: broadcast::Sender<Event>,
        evidence: std::path::PathBuf,
        login: crate::login::LoginPolicy,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                station: station.to_string(),
                sessions,
                local,
                jobs: Mutex::new(jobs),
                events,
                next_request: AtomicU64::new(1),
                evidence,
                province: None,
                guard: crate::login::LoginGuard::new(login),
                checks: tokio::sync::Semaphore::new(login.concurrent_checks.max(1)),
            }),
        }
    }

    /// The station's local archive.
    pub(crate) fn local(&self) -> &Arc<LocalArchive> {
        &self.inner.local
    }

    /// The state with the provincial archive the runner uses (for losses and deaths).
    pub fn with_province(mut self, province: Option<Arc<dyn archive::ProvincialArchive>>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.province = province;
        }
        self
    }

    /// The provincial archive, or why the call cannot be served.
    pub(crate) fn province(&self) -> Result<&Arc<dyn archive::ProvincialArchive>, ApiError> {
        self.inner.province.as_ref().ok_or_else(|| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "this station has no provincial archive configured".into(),
            )
        })
    }

    /// Where signatures and activation photos are kept, named by their SM3.
    pub(crate) fn evidence_dir(&self) -> &std::path::Path {
        &self.inner.evidence
    }

    /// Records an action in the hash-chained ledger.
    pub(crate) fn audit(&self, operator: &str, event: &str, detail: serde_json::Value) {
        if let Err(e) = self.inner.local.append_ledger(operator, None, None, event, &detail) {
            tracing::error!(error = %e, event, "audit entry not written");
        }
    }
}

/// An API error: status and a message the operator can act on.
#[derive(Debug)]
pub struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

/// A request with a valid session.
pub struct Authed(pub Session);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let query = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")).map(str::to_string));
        let token =
            header.or(query).ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "log in first".into()))?;
        state.inner.sessions.get(&token).map(Authed).ok_or_else(|| {
            ApiError(StatusCode::UNAUTHORIZED, "session expired or unknown: log in again".into())
        })
    }
}
