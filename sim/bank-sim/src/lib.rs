//! A simulator of a bank's card system, served on loopback with the wire API of
//! [`bank::HttpBank`] (see the `bank` crate): over plain HTTP for the simulated counter
//! ([`serve`]), or over TLS with client certificates required or not ([`serve_tls`],
//! [`SimTls`]; [`pki::generate`] makes the certificates), so the station's mutual-TLS path runs
//! in tests. `station sim bank` is to run it for the simulated counter and the end-to-end tests.
//!
//! # Accounts
//!
//! The bank opens an account when a card is registered with it, both ways:
//! - over HTTP, `POST /v1/sim/accounts` with a [`SimAccount`]: what the simulated counter calls
//!   when it personalises the financial application (the real bank opens the account when it
//!   prepares the card's data; the counter learns the account from the answer or the DP file);
//!   `201` opened, `200` the same account was open already, `409` the card is open with other
//!   data, `400` malformed;
//! - preloaded from a JSON file of the same objects ([`load_accounts`]), e.g. `accounts.json`
//!   here, or in memory ([`Handle::register`]).
//!
//! # Answers
//!
//! An activation is answered once per request id: the same id with the same request gets the
//! first answer again (`200`), with another request `409`; refusals are final answers too. It is
//! refused (`422`, with a code and the bank's reason in Chinese, as a teller would say it) when
//! the bank has no such card (`unknown-card`), the account is frozen or closed, the document
//! number or the name is not the holder's, the chip's card number or bank is not the account's,
//! the evidence is not face to face (the bank checks again), or a refusal was set for the card or
//! the holder ([`Handle::refuse`], `POST /v1/sim/refusals` with `{ "card_number" | "id_number",
//! "code", "reason" }`; `DELETE` with the same target lifts it). An active card answers `already-active` with its first activation.
//!
//! # Faults and records
//!
//! In memory ([`Faults`]) or over HTTP (`POST /v1/faults` with `{ "outage": N, "lose_answers":
//! N, "delay_ms": MS }`): the next N requests answer 503 and do nothing; the next N activations
//! are done but answered 503 (the answer lost: a retry with the same request id gets the first
//! answer and activates nothing twice); each answer waits. Every request that reaches the
//! activation or account routes is recorded ([`Handle::received`], `GET /v1/sim/requests`) with
//! its path, request id, card and station, never the ID number or PAN.
#![forbid(unsafe_code)]
#[cfg(not(debug_assertions))]
compile_error!("the bank card system simulator is for tests and development only");

pub mod pki;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bank::{
    AccountInfo, AccountNumber, AccountStatus, Activation, ActivationRequest, ActivationStatus, IdNumber,
    Pan, Refusal, RefusalCode,
};
/// The simulator's TLS: the identity verification simulator's, one for every simulator.
pub use idv_sim::SimTls;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The bank list of the simulated counter's region (110100, which the shipped list does not
/// have): `banks.toml` here, for `[counter.bank] banks_file` or [`sim_registry`].
pub const SIM_BANKS: &str = include_str!("../banks.toml");

/// [`SIM_BANKS`] as a registry.
pub fn sim_registry() -> bank::Registry {
    bank::Registry::parse(SIM_BANKS, "bank-sim/banks.toml").expect("bank-sim/banks.toml is a valid bank list")
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The accounts file.
    #[error("accounts {path}: {message}")]
    Accounts {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Binding the port.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Certificates and keys for TLS.
    #[error("TLS set-up: {0}")]
    Tls(String),
    /// A certificate or key file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The shared TLS front's and PKI's errors, in this simulator's terms (the same cases).
impl From<idv_sim::SimError> for SimError {
    fn from(e: idv_sim::SimError) -> SimError {
        match e {
            idv_sim::SimError::Bind { addr, source } => SimError::Bind { addr, source },
            idv_sim::SimError::Io { path, source } => SimError::Io { path, source },
            idv_sim::SimError::Tls(message) => SimError::Tls(message),
            other => SimError::Tls(other.to_string()),
        }
    }
}

/// An account the bank opened for a card.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimAccount {
    /// The social-security card number.
    pub card_number: String,
    /// The bank's code (`ICBC`).
    pub bank_code: String,
    /// The financial application's card number.
    pub pan: String,
    /// The account number; default: the PAN.
    #[serde(default)]
    pub account_number: Option<String>,
    /// The holder's name.
    pub holder_name: String,
    /// The holder's document number.
    pub id_number: String,
    /// Its state; default not activated.
    #[serde(default = "not_activated")]
    pub status: AccountStatus,
}

fn not_activated() -> AccountStatus {
    AccountStatus::NotActivated
}

impl fmt::Debug for SimAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimAccount")
            .field("card_number", &self.card_number)
            .field("bank_code", &self.bank_code)
            .field("pan", &bank::scrub(&self.pan))
            .field("holder_name", &bank::mask_name(&self.holder_name))
            .field("id_number", &bank::scrub(&self.id_number))
            .field("status", &self.status)
            .finish()
    }
}

impl SimAccount {
    /// The account in its checked form: card number, PAN, account and ID number as the
    /// station sends them.
    fn checked(mut self) -> Result<SimAccount, String> {
        let card =
            applicant::CardNumber::parse(&self.card_number).map_err(|e| format!("card_number: {e}"))?;
        self.card_number = card.as_str().to_string();
        self.pan = Pan::parse(&self.pan).map_err(|e| format!("pan: {e}"))?.expose().to_string();
        let account = self.account_number.take().unwrap_or_else(|| self.pan.clone());
        self.account_number = Some(
            AccountNumber::parse(&account).map_err(|e| format!("account_number: {e}"))?.expose().to_string(),
        );
        self.id_number =
            IdNumber::parse(&self.id_number).map_err(|e| format!("id_number: {e}"))?.expose().to_string();
        if self.bank_code.is_empty() || self.holder_name.trim().is_empty() {
            return Err("bank_code and holder_name are needed".into());
        }
        Ok(self)
    }

    fn info(&self) -> Option<AccountInfo> {
        Some(AccountInfo {
            card_number: applicant::CardNumber::parse(&self.card_number).ok()?,
            bank_code: self.bank_code.clone(),
            account: AccountNumber::parse(self.account_number.as_deref().unwrap_or(&self.pan)).ok()?,
            status: self.status,
        })
    }
}

/// Reads an accounts file (a JSON list of [`SimAccount`]).
pub fn load_accounts(path: &Path) -> Result<Vec<SimAccount>, SimError> {
    let err = |message: String| SimError::Accounts { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let accounts: Vec<SimAccount> = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    accounts.into_iter().map(|a| a.checked().map_err(&err)).collect()
}

/// Whose requests a set refusal answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every activation of this card.
    CardNumber(String),
    /// Every activation for this holder (document number).
    IdNumber(String),
}

/// A refusal set over HTTP (`POST /v1/sim/refusals`): one of `card_number` and `id_number`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalSetting {
    /// The card.
    #[serde(default)]
    pub card_number: Option<String>,
    /// The holder.
    #[serde(default)]
    pub id_number: Option<String>,
    /// The code it answers.
    pub code: RefusalCode,
    /// The reason it gives.
    pub reason: String,
}

/// Faults that can be changed while it runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next this many requests answer 503 and do nothing.
    pub outage: AtomicU32,
    /// The next this many new activations are done but answered 503.
    pub lose_answers: AtomicU32,
    /// Milliseconds to wait before each answer.
    pub delay_ms: AtomicU64,
}

/// The same over HTTP (`POST /v1/faults`); absent fields are left as they are.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// See [`Faults::outage`].
    pub outage: Option<u32>,
    /// See [`Faults::lose_answers`].
    pub lose_answers: Option<u32>,
    /// See [`Faults::delay_ms`].
    pub delay_ms: Option<u64>,
}

/// A request that reached the card system (no ID number, no PAN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    /// The URL path.
    pub path: String,
    /// The request id (activations).
    pub request_id: Option<String>,
    /// The card.
    pub card_number: Option<String>,
    /// The station (activations).
    pub station: Option<String>,
}

/// An activation's answer, kept by request id.
struct Answer {
    request: Value,
    status: StatusCode,
    body: Value,
}

#[derive(Default)]
struct Book {
    accounts: HashMap<String, SimAccount>,
    /// Card number to the first activation's reference and time.
    activations: HashMap<String, (String, i64)>,
    answers: HashMap<String, Answer>,
    refusals: HashMap<Target, Refusal>,
    received: Vec<Received>,
}

struct Sim {
    book: Mutex<Book>,
    faults: Arc<Faults>,
}

impl Sim {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits as set; `true` when an outage takes this request.
    async fn fault(&self) -> bool {
        let delay = self.faults.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        take(&self.faults.outage)
    }
}

/// Takes one from `counter` if it is above zero.
fn take(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

fn down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "card system down (simulated)").into_response()
}

fn refusal(code: RefusalCode, reason: impl Into<String>) -> (StatusCode, Value) {
    let body = serde_json::to_value(Refusal { code, reason: reason.into() }).unwrap_or(Value::Null);
    (StatusCode::UNPROCESSABLE_ENTITY, body)
}

/// The answer to a new activation request, and the change it makes.
fn decide(book: &mut Book, r: &ActivationRequest) -> (StatusCode, Value) {
    let card = r.card_number.as_str();
    if let Err(problem) = r.face_to_face.check(bank::now_unix(), bank::DEFAULT_MAX_PHOTO_AGE_SECONDS) {
        return refusal(RefusalCode::NotFaceToFace, format!("未面签: {problem}"));
    }
    let Some(account) = book.accounts.get(card) else {
        let Refusal { code, reason } = Refusal::unknown_card(card);
        return refusal(code, format!("本行无此卡: {reason}"));
    };
    let set = book
        .refusals
        .get(&Target::CardNumber(card.to_string()))
        .or_else(|| book.refusals.get(&Target::IdNumber(r.holder.id_number.expose().to_string())));
    if let Some(set) = set {
        return refusal(set.code.clone(), set.reason.clone());
    }
    match account.status {
        AccountStatus::Frozen => {
            return refusal(RefusalCode::AccountFrozen, "账户已冻结，请持卡人到开户行柜面办理解冻后再激活")
        }
        AccountStatus::Closed => return refusal(RefusalCode::AccountClosed, "账户已销户，不能激活"),
        AccountStatus::NotActivated | AccountStatus::Active => {}
    }
    if account.bank_code != r.bank_code || account.pan != r.pan.expose() {
        return refusal(RefusalCode::UnknownCard, "卡号与本行开户信息不一致，非本行此卡");
    }
    if account.id_number != r.holder.id_number.expose() {
        return refusal(RefusalCode::IdMismatch, "证件号码与开户信息不符，请核对持卡人证件");
    }
    if account.holder_name != r.holder.name {
        return refusal(RefusalCode::NameMismatch, "户名与开户信息不符，请核对持卡人姓名（含生僻字）");
    }
    let Some(mut info) = account.info() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, Value::String("account data".into()));
    };
    let n = book.activations.len();
    let (status, (reference, at)) = match book.activations.get(card) {
        Some(first) => (ActivationStatus::AlreadyActive, first.clone()),
        None => {
            let first = (format!("SIMACT-{:06}", n + 1), bank::now_unix());
            book.activations.insert(card.to_string(), first.clone());
            if let Some(a) = book.accounts.get_mut(card) {
                a.status = AccountStatus::Active;
            }
            info.status = AccountStatus::Active;
            (ActivationStatus::Activated, first)
        }
    };
    let activation = Activation {
        card_number: info.card_number,
        bank_code: info.bank_code,
        account: info.account,
        status,
        reference,
        activated_at: at,
        replayed: false,
    };
    (StatusCode::CREATED, serde_json::to_value(activation).unwrap_or(Value::Null))
}

async fn activate(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if sim.fault().await {
        return down();
    }
    let request: ActivationRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            sim.book().received.push(Received {
                path: uri.path().into(),
                request_id: None,
                card_number: None,
                station: None,
            });
            return (
                StatusCode::BAD_REQUEST,
                format!("not an activation request: {}", bank::scrub(&e.to_string())),
            )
                .into_response();
        }
    };
    let key = request.request_id.as_str().to_string();
    let mut book = sim.book();
    book.received.push(Received {
        path: uri.path().into(),
        request_id: Some(key.clone()),
        card_number: Some(request.card_number.as_str().into()),
        station: Some(request.station.clone()),
    });
    if headers.get("idempotency-key").and_then(|v| v.to_str().ok()) != Some(key.as_str()) {
        return (StatusCode::BAD_REQUEST, "Idempotency-Key must be the request_id").into_response();
    }
    let value = serde_json::to_value(&request).unwrap_or(Value::Null);
    if let Some(first) = book.answers.get(&key) {
        if first.request != value {
            return (StatusCode::CONFLICT, "this request id was used for another request").into_response();
        }
        let status = if first.status == StatusCode::CREATED { StatusCode::OK } else { first.status };
        return (status, Json(first.body.clone())).into_response();
    }
    let (status, body) = decide(&mut book, &request);
    tracing::info!(%key, card = %request.card_number, station = %request.station, %status, "simulated activation answered");
    book.answers.insert(key, Answer { request: value, status, body: body.clone() });
    drop(book);
    if take(&sim.faults.lose_answers) {
        return (StatusCode::SERVICE_UNAVAILABLE, "answer lost (simulated)").into_response();
    }
    (status, Json(body)).into_response()
}

async fn account(State(sim): State<Arc<Sim>>, uri: Uri, UrlPath(card): UrlPath<String>) -> Response {
    if sim.fault().await {
        return down();
    }
    let mut book = sim.book();
    book.received.push(Received {
        path: uri.path().into(),
        request_id: None,
        card_number: Some(card.clone()),
        station: None,
    });
    match book.accounts.get(&card.to_ascii_uppercase()).and_then(SimAccount::info) {
        Some(info) => (StatusCode::OK, Json(info)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(Refusal::unknown_card(&card))).into_response(),
    }
}

async fn register(State(sim): State<Arc<Sim>>, Json(a): Json<SimAccount>) -> Response {
    match sim.register(a) {
        Ok(true) => StatusCode::CREATED.into_response(),
        Ok(false) => StatusCode::OK.into_response(),
        Err(Registration::Conflict) => {
            (StatusCode::CONFLICT, "this card has an account with other data").into_response()
        }
        Err(Registration::Invalid(m)) => (StatusCode::BAD_REQUEST, m).into_response(),
    }
}

async fn set_refusal(State(sim): State<Arc<Sim>>, Json(s): Json<RefusalSetting>) -> Response {
    let target = match (s.card_number, s.id_number) {
        (Some(card), None) => Target::CardNumber(card.to_ascii_uppercase()),
        (None, Some(id)) => Target::IdNumber(id.to_ascii_uppercase()),
        _ => return (StatusCode::BAD_REQUEST, "one of card_number and id_number").into_response(),
    };
    sim.book().refusals.insert(target, Refusal { code: s.code, reason: s.reason });
    StatusCode::NO_CONTENT.into_response()
}

/// Whose set refusal to lift (`DELETE /v1/sim/refusals`): one of `card_number` and `id_number`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalTarget {
    /// The card.
    #[serde(default)]
    pub card_number: Option<String>,
    /// The holder.
    #[serde(default)]
    pub id_number: Option<String>,
}

async fn lift_refusal(State(sim): State<Arc<Sim>>, Json(t): Json<RefusalTarget>) -> Response {
    let target = match (t.card_number, t.id_number) {
        (Some(card), None) => Target::CardNumber(card.to_ascii_uppercase()),
        (None, Some(id)) => Target::IdNumber(id.to_ascii_uppercase()),
        _ => return (StatusCode::BAD_REQUEST, "one of card_number and id_number").into_response(),
    };
    sim.book().refusals.remove(&target);
    StatusCode::NO_CONTENT.into_response()
}

async fn received(State(sim): State<Arc<Sim>>) -> Json<Vec<Received>> {
    Json(sim.book().received.clone())
}

async fn set_faults(State(sim): State<Arc<Sim>>, Json(f): Json<FaultSettings>) -> StatusCode {
    let faults = &sim.faults;
    if let Some(n) = f.outage {
        faults.outage.store(n, Ordering::SeqCst);
    }
    if let Some(n) = f.lose_answers {
        faults.lose_answers.store(n, Ordering::SeqCst);
    }
    if let Some(ms) = f.delay_ms {
        faults.delay_ms.store(ms, Ordering::SeqCst);
    }
    StatusCode::NO_CONTENT
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The card has an account with other data.
    Conflict,
    /// A field is not valid.
    Invalid(String),
}

impl Sim {
    /// `Ok(true)` opened, `Ok(false)` open already with the same data.
    fn register(&self, a: SimAccount) -> Result<bool, Registration> {
        let a = a.checked().map_err(Registration::Invalid)?;
        let mut book = self.book();
        match book.accounts.get(&a.card_number) {
            Some(open) if *open == a => Ok(false),
            Some(_) => Err(Registration::Conflict),
            None => {
                tracing::info!(card = %a.card_number, bank = %a.bank_code, "simulated account opened");
                book.accounts.insert(a.card_number.clone(), a);
                Ok(true)
            }
        }
    }
}

/// A running simulator.
pub struct Handle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its faults, changeable at run time.
    pub faults: Arc<Faults>,
    sim: Arc<Sim>,
    tls: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// The base URL (`https://` when it serves TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Opens an account (`Ok(true)`), or finds it open with the same data (`Ok(false)`).
    pub fn register(&self, account: SimAccount) -> Result<bool, Registration> {
        self.sim.register(account)
    }

    /// Sets the refusal the bank answers for a card or a holder.
    pub fn refuse(&self, target: Target, code: RefusalCode, reason: &str) {
        self.sim.book().refusals.insert(target, Refusal { code, reason: reason.into() });
    }

    /// The account of `card`.
    pub fn account(&self, card: &str) -> Option<SimAccount> {
        self.sim.book().accounts.get(card).cloned()
    }

    /// Every request that reached the activation and account routes, in order.
    pub fn received(&self) -> Vec<Received> {
        self.sim.book().received.clone()
    }

    /// Stops serving.
    pub fn abort(&self) {
        self.task.abort();
    }
}

async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), SimError> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| SimError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind { addr, source })?;
    Ok((listener, addr))
}

fn app(accounts: Vec<SimAccount>) -> Result<(Router, Arc<Sim>, Arc<Faults>), SimError> {
    let faults = Arc::new(Faults::default());
    let sim = Arc::new(Sim { book: Mutex::new(Book::default()), faults: faults.clone() });
    for a in accounts {
        let card = a.card_number.clone();
        sim.register(a).map_err(|e| SimError::Accounts {
            path: "preloaded".into(),
            message: format!("{card}: {e:?}"),
        })?;
    }
    let router = Router::new()
        .route("/v1/activations", post(activate))
        .route("/v1/cards/{card}/account", get(account))
        .route("/v1/sim/accounts", post(register))
        .route("/v1/sim/refusals", post(set_refusal).delete(lift_refusal))
        .route("/v1/sim/requests", get(received))
        .route("/v1/faults", post(set_faults))
        .with_state(sim.clone());
    Ok((router, sim, faults))
}

/// Serves `accounts` over plain HTTP on `addr` (port 0: any free one). Must run inside a
/// tokio runtime.
pub async fn serve(addr: SocketAddr, accounts: Vec<SimAccount>) -> Result<Handle, SimError> {
    let (listener, addr) = bind(addr).await?;
    let (app, sim, faults) = app(accounts)?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "bank card system simulator stopped");
        }
    });
    Ok(Handle { addr, faults, sim, tls: false, task })
}

/// Serves `accounts` over TLS on `addr`. Must run inside a tokio runtime.
pub async fn serve_tls(addr: SocketAddr, accounts: Vec<SimAccount>, tls: SimTls) -> Result<Handle, SimError> {
    let (listener, addr) = bind(addr).await?;
    let (app, sim, faults) = app(accounts)?;
    let task = idv_sim::tls::spawn(listener, tls, app);
    Ok(Handle { addr, faults, sim, tls: true, task })
}
