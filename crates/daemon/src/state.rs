//! What every handler shares: the daemon's state, the API error (status and a message the
//! operator can act on) and the authenticated request. The route modules ([`crate::api`],
//! [`crate::cards_api`], [`crate::ui_api`], [`crate::ui`]) build on it; none imports another.

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
    pub(crate) evidence: std::path::PathBuf,
    pub(crate) province: Option<Arc<dyn archive::ProvincialArchive>>,
    /// Backoff and lock-out of log-ins, and the security log.
    pub(crate) guard: crate::login::LoginGuard,
    /// Bounds the password checks (Argon2) running at once, off the async threads.
    pub(crate) checks: tokio::sync::Semaphore,
    /// Whether the page is served over TLS (the session cookie is then `Secure`).
    pub(crate) tls: bool,
    /// The file of first passwords, removed once every account has chosen its own.
    pub(crate) first_passwords: Option<std::path::PathBuf>,
    /// Who asked for each job (the printed face, with the full ID number and the photo, is
    /// theirs and the supervisors').
    pub(crate) owners: Mutex<Owners>,
    /// Where cards go to stock and who answers for them (the runner's `[counter.stock]`).
    pub(crate) stock: issuance::StockSettings,
    /// Told of the journal lines the API writes for a job (the kill -9 tests' crash hook).
    pub(crate) journal_watch: Option<crate::worker::JournalWatch>,
    /// The banks of the counter's region and their card systems (RULE 8, activation).
    pub(crate) bank: Option<Arc<BankSetup>>,
    /// The agent sites cards are delivered to (`[[sites]]`).
    pub(crate) sites: Vec<sms::Site>,
    /// The working days, for the sites' 15-working-day limit.
    pub(crate) calendar: workdays::Calendar,
    /// The SMS pickup notices (`[sms]`), if configured.
    pub(crate) notices: Option<Arc<crate::notices::Notices>>,
    /// The card services' schedule: a temporary loss's period, the fees (`card_services`).
    pub(crate) card_services: issuance::services::Schedule,
}

/// The bank side of a counter: the bank list and the card systems it reaches ([`bank::Banks`])
/// and the counter's region, whose banks the applicant chooses from.
pub struct BankSetup {
    /// The list and the systems.
    pub banks: bank::Banks,
    /// The counter's region code (`350581`).
    pub region: String,
}

impl BankSetup {
    /// The codes of the banks the applicant may choose at this counter.
    pub fn codes(&self) -> Vec<String> {
        self.banks.registry().banks_for(&self.region).iter().map(|b| b.code.clone()).collect()
    }
}

/// Who asked for which request, and so for which job.
#[derive(Default)]
pub(crate) struct Owners {
    requests: std::collections::BTreeMap<u64, String>,
    jobs: std::collections::BTreeMap<i64, String>,
}

/// The most requests and jobs whose owner is remembered (the oldest go first).
const OWNERS_KEPT: usize = 1024;

impl Owners {
    /// `operator` asked for `request`.
    pub(crate) fn requested(&mut self, request: u64, operator: &str) {
        self.requests.insert(request, operator.to_string());
        while self.requests.len() > OWNERS_KEPT {
            self.requests.pop_first();
        }
    }

    /// The worker made `job` for `request`.
    pub(crate) fn started(&mut self, request: u64, job: i64) {
        if let Some(operator) = self.requests.get(&request).cloned() {
            self.jobs.insert(job, operator);
            while self.jobs.len() > OWNERS_KEPT {
                self.jobs.pop_first();
            }
        }
    }

    /// Who asked for `job`, if known.
    pub(crate) fn of_job(&self, job: i64) -> Option<&str> {
        self.jobs.get(&job).map(String::as_str)
    }
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
                evidence,
                province: None,
                guard: crate::login::LoginGuard::new(login),
                checks: tokio::sync::Semaphore::new(login.concurrent_checks.max(1)),
                tls: false,
                first_passwords: None,
                owners: Mutex::new(Owners::default()),
                stock: issuance::StockSettings::default(),
                journal_watch: None,
                bank: None,
                sites: Vec::new(),
                calendar: workdays::Calendar::builtin(),
                notices: None,
                card_services: issuance::services::Schedule::builtin(),
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

    /// The state with the counter's banks.
    pub fn with_bank(mut self, bank: Option<Arc<BankSetup>>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.bank = bank;
        }
        self
    }

    /// The codes of the banks an applicant may choose here (`None`: no bank list configured).
    pub(crate) fn bank_codes(&self) -> Option<Vec<String>> {
        self.inner.bank.as_ref().map(|b| b.codes())
    }

    /// The state with the counter's stock settings and the watcher of the journal lines the
    /// API writes.
    pub fn with_stock(
        mut self,
        stock: issuance::StockSettings,
        journal_watch: Option<crate::worker::JournalWatch>,
    ) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.stock = stock;
            inner.journal_watch = journal_watch;
        }
        self
    }

    /// The state with the agent sites (`[[sites]]`).
    pub fn with_sites(mut self, sites: Vec<sms::Site>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.sites = sites;
        }
        self
    }

    /// The state with the card services' schedule (the built-in one or `card_services`).
    pub fn with_card_services(mut self, schedule: issuance::services::Schedule) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.card_services = schedule;
        }
        self
    }

    /// The state with the working-day calendar (built-in years and `holiday_calendar`).
    pub fn with_calendar(mut self, calendar: workdays::Calendar) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.calendar = calendar;
        }
        self
    }

    /// The state with the SMS pickup notices.
    pub fn with_notices(mut self, notices: Option<Arc<crate::notices::Notices>>) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.notices = notices;
        }
        self
    }

    /// The state of a daemon that serves the page over TLS.
    pub fn with_tls(mut self, tls: bool) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tls = tls;
        }
        self
    }

    /// Who asked for jobs and requests.
    pub(crate) fn owners(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.inner.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the worker's events to learn which job serves which request (and so whose it
    /// is). Runs on the daemon's runtime until the event channel closes.
    pub fn follow_job_owners(&self) {
        let state = self.clone();
        let mut events = self.inner.events.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(Event::Step { request_id: Some(r), job, .. }) => state.owners().started(r, job),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// The state with the file of first passwords to remove once all are changed.
    pub fn with_first_passwords(mut self, path: std::path::PathBuf) -> AppState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.first_passwords = Some(path);
        }
        self
    }

    /// Removes the file of first passwords once every account has chosen its own: nobody
    /// needs them any more, and a copy of a password is a liability.
    pub(crate) fn forget_first_passwords_if_all_chosen(&self) {
        let Some(path) = &self.inner.first_passwords else { return };
        if self.inner.sessions.all_chosen() && path.exists() {
            match std::fs::remove_file(path) {
                Ok(()) => self.audit("station", "setup.first_passwords_removed", serde_json::json!({})),
                Err(e) => {
                    tracing::error!(error = %e, file = %path.display(), "first passwords not removed: delete the file")
                }
            }
        }
    }

    /// The `Set-Cookie` value that opens (`Some(token)`) or ends (`None`) the page's session:
    /// HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure
    /// under TLS.
    pub(crate) fn session_cookie(&self, token: Option<&str>) -> String {
        let secure = if self.inner.tls { "; Secure" } else { "" };
        match token {
            Some(t) => format!("{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict{secure}"),
            None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
        }
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

/// What a session with a first password may do: see who it is, choose its own, log out.
const FIRST_PASSWORD_ROUTES: [(&str, &str); 3] =
    [("GET", "/api/me"), ("POST", "/api/session/password"), ("DELETE", "/api/session")];

/// The page's session cookie.
pub const SESSION_COOKIE: &str = "station_session";

/// The header the page's background polling sends: the request does not count as activity
/// for the idle timeout.
pub const POLL_HEADER: &str = "x-station-poll";

/// The header the page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request with a valid session: a bearer token in `Authorization` (the CLI and other
/// programs), or the page's HttpOnly cookie, with its CSRF token on every request that changes
/// something. Never a token in the URL: URLs end up in logs and histories.
pub struct Authed(pub Session);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let (token, by_cookie) = match bearer {
            Some(t) => (t, false),
            None => (
                cookie(&parts.headers, SESSION_COOKIE)
                    .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "log in first".into()))?,
                true,
            ),
        };
        // The page's background polling says so: it is no sign of a person at the counter.
        let sessions = &state.inner.sessions;
        let session =
            if parts.headers.contains_key(POLL_HEADER) { sessions.peek(token) } else { sessions.get(token) };
        let session = session.ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "session ended (logged out, idle or expired): log in again".into(),
            )
        })?;
        // The route as the router matched it (`/api/cards/{card}`), checked against the one
        // table of who may call what; a route without a rule is closed to everyone.
        let route = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let method = parts.method.as_str();
        match crate::roles::rule_of(method, &route) {
            Some(rule) if rule.roles.contains(&session.role) => {}
            found => {
                state.audit(
                    &session.operator,
                    "access.forbidden",
                    serde_json::json!({"method": method, "route": route}),
                );
                let why = match found {
                    Some(rule) => format!("a {} may not {}", crate::roles::name(session.role), rule.what),
                    None => format!("{method} {route} is open to no role"),
                };
                return Err(ApiError(StatusCode::FORBIDDEN, why));
            }
        }
        if session.must_change && !FIRST_PASSWORD_ROUTES.contains(&(method, route.as_str())) {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "this is still the password you were given: choose your own first (POST /api/session/password)".into(),
            ));
        }
        if by_cookie && !parts.method.is_safe() {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !same(sent, &session.csrf) {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    "the request lacks the page's CSRF token: reload the station's page and try again".into(),
                ));
            }
        }
        Ok(Authed(session))
    }
}
