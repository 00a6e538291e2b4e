//! A simulator of an SMS gateway, served on loopback over plain HTTP with the wire API of
//! [`sms::HttpGateway`] (see the `sms` crate): `station sim sms` runs it for the simulated
//! counter and the end-to-end tests.
//!
//! It sends nothing: it records each message it takes, listable in memory ([`Handle::sent`])
//! and over HTTP (`GET /v1/messages`). A key it has taken before is answered with the original
//! receipt (200) and recorded once; the same key with another recipient or text is refused
//! (409). With an account configured ([`Account`]), requests without its basic credentials are
//! refused (401). Faults, set in memory ([`Faults`]) or over HTTP (`POST /v1/faults` with
//! `{ "outage": N, "lose_answers": N, "reject": N, "refuse_credentials": N, "delay_ms": MS }`):
//! the next N requests answer 503 (outage); the next N messages are recorded but answered 503
//! (the answer lost on the way: a retry must not send twice); the next N messages are refused
//! as a bad number (400); the next N requests are refused as with a wrong account or secret
//! (401, as when the gateway's secret was changed); each answer waits.
#![forbid(unsafe_code)]
#[cfg(not(debug_assertions))]
compile_error!("the SMS gateway simulator is for tests and development only");

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sms::{Message, MessageKey, Receipt};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding the port.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The account the simulator requires (HTTP basic authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Account name.
    pub account: String,
    /// Its secret.
    pub secret: String,
}

/// Faults that can be changed while it runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next this many requests answer 503 and take nothing.
    pub outage: AtomicU32,
    /// The next this many new messages are taken but answered 503.
    pub lose_answers: AtomicU32,
    /// The next this many new messages are refused (400, as a number that does not exist).
    pub reject: AtomicU32,
    /// The next this many requests are refused as unauthorised (401), whatever their
    /// credentials.
    pub refuse_credentials: AtomicU32,
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
    /// See [`Faults::reject`].
    pub reject: Option<u32>,
    /// See [`Faults::refuse_credentials`].
    pub refuse_credentials: Option<u32>,
    /// See [`Faults::delay_ms`].
    pub delay_ms: Option<u64>,
}

/// A message the simulator took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The receipt id it answered.
    pub id: String,
    /// The message.
    pub message: Message,
}

#[derive(Default)]
struct Book {
    sent: Vec<Sent>,
    by_key: HashMap<MessageKey, usize>,
}

struct Sim {
    book: Mutex<Book>,
    faults: Arc<Faults>,
    account: Option<Account>,
}

impl Sim {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The basic credentials, when an account is configured.
    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(want) = &self.account else { return true };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        given.as_deref() == Some(&format!("{}:{}", want.account, want.secret))
    }
}

/// Takes one from `counter` if it is above zero.
fn take(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

async fn send(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let delay = sim.faults.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if take(&sim.faults.outage) {
        return (StatusCode::SERVICE_UNAVAILABLE, "SMS gateway down (simulated)").into_response();
    }
    if !sim.authorised(&headers) || take(&sim.faults.refuse_credentials) {
        return (StatusCode::UNAUTHORIZED, "wrong account or secret").into_response();
    }
    let message: Message = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a message: {e}")).into_response(),
    };
    let header_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    if header_key != Some(message.key().as_str()) {
        return (StatusCode::BAD_REQUEST, "Idempotency-Key must be the message's key").into_response();
    }
    let mut book = sim.book();
    if let Some(&i) = book.by_key.get(message.key()) {
        let earlier = &book.sent[i];
        if earlier.message != message {
            return (StatusCode::CONFLICT, "this key was used for another message").into_response();
        }
        let receipt = Receipt { id: earlier.id.clone(), key: message.key().clone(), replayed: true };
        return (StatusCode::OK, Json(receipt)).into_response();
    }
    if take(&sim.faults.reject) {
        return (StatusCode::BAD_REQUEST, "the number does not exist (simulated)").into_response();
    }
    let n = book.sent.len();
    let id = format!("sim-{:06}", n + 1);
    tracing::info!(key = %message.key(), to = %message.to(), %id, "simulated SMS taken");
    book.by_key.insert(message.key().clone(), n);
    let receipt = Receipt { id: id.clone(), key: message.key().clone(), replayed: false };
    book.sent.push(Sent { id, message });
    if take(&sim.faults.lose_answers) {
        return (StatusCode::SERVICE_UNAVAILABLE, "answer lost (simulated)").into_response();
    }
    (StatusCode::CREATED, Json(receipt)).into_response()
}

async fn list(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if !sim.authorised(&headers) {
        return (StatusCode::UNAUTHORIZED, "wrong account or secret").into_response();
    }
    (StatusCode::OK, Json(sim.book().sent.clone())).into_response()
}

async fn set_faults(State(sim): State<Arc<Sim>>, Json(f): Json<FaultSettings>) -> StatusCode {
    let faults = &sim.faults;
    if let Some(n) = f.outage {
        faults.outage.store(n, Ordering::SeqCst);
    }
    if let Some(n) = f.lose_answers {
        faults.lose_answers.store(n, Ordering::SeqCst);
    }
    if let Some(n) = f.reject {
        faults.reject.store(n, Ordering::SeqCst);
    }
    if let Some(n) = f.refuse_credentials {
        faults.refuse_credentials.store(n, Ordering::SeqCst);
    }
    if let Some(ms) = f.delay_ms {
        faults.delay_ms.store(ms, Ordering::SeqCst);
    }
    StatusCode::NO_CONTENT
}

/// A running simulator.
pub struct Handle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its faults, changeable at run time.
    pub faults: Arc<Faults>,
    sim: Arc<Sim>,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it has taken, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sim.book().sent.clone()
    }

    /// Stops serving.
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Serves on `addr` (port 0: any free one), requiring `account` when given. Must run inside a
/// tokio runtime.
pub async fn serve(addr: SocketAddr, account: Option<Account>) -> Result<Handle, SimError> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| SimError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind { addr, source })?;
    let faults = Arc::new(Faults::default());
    let sim = Arc::new(Sim { book: Mutex::new(Book::default()), faults: faults.clone(), account });
    let app = Router::new()
        .route("/v1/messages", post(send).get(list))
        .route("/v1/faults", post(set_faults))
        .with_state(sim.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "SMS gateway simulator stopped");
        }
    });
    Ok(Handle { addr, faults, sim, task })
}

#[cfg(test)]
mod tests {
    use sms::{
        Credentials, FileJournal, HttpGateway, Journal, Outbox, PhoneNumber, RetryPolicy, SmsError,
        SmsGateway, Status, Transport,
    };

    use super::*;

    fn account() -> Account {
        Account { account: "S-0101".into(), secret: "s3cret".into() }
    }

    fn gateway(h: &Handle, secret: &str) -> HttpGateway {
        let c = Credentials::new("S-0101", secret);
        HttpGateway::new(&h.url(), &Transport::PlainForSimulators, c, Duration::from_secs(5)).expect("client")
    }

    fn msg(key: &str, text: &str) -> Message {
        let to = PhoneNumber::parse("13800138000").expect("to");
        Message::new(MessageKey::new(key).expect("key"), to, text.into()).expect("m")
    }

    fn start() -> (tokio::runtime::Runtime, Handle) {
        let rt = tokio::runtime::Runtime::new().expect("rt");
        let h = rt.block_on(serve("127.0.0.1:0".parse().expect("addr"), Some(account()))).expect("serve");
        (rt, h)
    }

    fn listed(h: &Handle) -> Vec<Sent> {
        reqwest::blocking::Client::new()
            .get(format!("{}/v1/messages", h.url()))
            .basic_auth("S-0101", Some("s3cret"))
            .send()
            .expect("GET")
            .json()
            .expect("list")
    }

    #[test]
    fn send_then_duplicate_then_conflict() {
        let (_rt, h) = start();
        let g = gateway(&h, "s3cret");
        let first = g.send(&msg("pickup:A:T03", "卡已到")).expect("sent");
        assert!(!first.replayed);
        assert_eq!(first.id, "sim-000001");
        let again = g.send(&msg("pickup:A:T03", "卡已到")).expect("duplicate");
        assert!(again.replayed, "the original receipt");
        assert_eq!(again.id, first.id);
        let e = g.send(&msg("pickup:A:T03", "另一条")).expect_err("same key, other text");
        assert!(matches!(e, SmsError::KeyConflict { .. }), "{e}");
        assert_eq!(h.sent().len(), 1);
        let over_http = listed(&h);
        assert_eq!(over_http, h.sent());
        assert_eq!(over_http[0].message.text(), "卡已到");
        assert_eq!(over_http[0].message.to().as_str(), "13800138000");

        let e = gateway(&h, "wrong").send(&msg("k2", "x")).expect_err("credentials");
        assert!(matches!(e, SmsError::Credentials(_)), "{e}");
        assert_eq!(e.kind(), sms::ErrorKind::FixConfiguration);
        let bad = reqwest::blocking::Client::new()
            .get(format!("{}/v1/messages", h.url()))
            .send()
            .expect("GET without credentials");
        assert_eq!(bad.status(), 401);
    }

    #[test]
    fn outage_then_retry_through_the_journalled_outbox() {
        let (_rt, h) = start();
        let dir = tempfile::tempdir().expect("tmp");
        let journal = FileJournal::open(&dir.path().join("sms-outbox.jsonl")).expect("journal");
        let policy = RetryPolicy { max_attempts: 5, backoff_seconds: 30, max_backoff_seconds: 300 };
        let outbox = Outbox::new(journal, gateway(&h, "s3cret"), policy);
        outbox.submit(&msg("pickup:A:T03", "卡已到"), 1000).expect("submit");

        h.faults.outage.store(2, Ordering::SeqCst);
        let r = outbox.flush(1000).expect("flush");
        assert!(matches!(&r.retrying[..], [(_, SmsError::Unavailable(_))]), "{r:?}");
        assert_eq!(outbox.flush(1010).expect("flush").waiting, 1, "backing off");
        assert_eq!(outbox.flush(1030).expect("flush").retrying.len(), 1, "still down");
        let r = outbox.flush(1090).expect("flush");
        assert_eq!(r.sent.len(), 1, "{r:?}");
        assert_eq!(h.sent().len(), 1);
        outbox.submit(&msg("pickup:A:T03", "卡已到"), 2000).expect("submitted again");
        assert!(outbox.flush(2000).expect("flush").sent.is_empty(), "never twice");
        assert_eq!(h.sent().len(), 1);
    }

    #[test]
    fn a_lost_answer_and_a_restart_do_not_send_twice() {
        let (_rt, h) = start();
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sms-outbox.jsonl");
        h.faults.lose_answers.store(1, Ordering::SeqCst);
        {
            let outbox = Outbox::new(
                FileJournal::open(&path).expect("j"),
                gateway(&h, "s3cret"),
                RetryPolicy::default(),
            );
            outbox.submit(&msg("pickup:A:T03", "卡已到"), 0).expect("submit");
            let r = outbox.flush(0).expect("flush");
            assert_eq!(r.retrying.len(), 1, "the answer was lost");
        }
        assert_eq!(h.sent().len(), 1, "but the gateway took it");
        // The station restarts; the journal still has the notice pending.
        let outbox =
            Outbox::new(FileJournal::open(&path).expect("j"), gateway(&h, "s3cret"), RetryPolicy::default());
        let r = outbox.flush(60).expect("flush");
        assert!(r.sent[0].replayed && r.sent[0].id == "sim-000001", "{r:?}");
        assert_eq!(h.sent().len(), 1);
        assert!(matches!(outbox.journal().entries().expect("e")[0].status, Status::Sent { .. }));
    }

    #[test]
    fn faults_over_http_refusals_and_a_dead_gateway() {
        let (rt, h) = start();
        let client = reqwest::blocking::Client::new();
        let set = |body: &str| {
            let r = client
                .post(format!("{}/v1/faults", h.url()))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .expect("POST");
            r.status().as_u16()
        };
        assert_eq!(set(r#"{"reject": 1}"#), 204);
        assert_eq!(set(r#"{"rejet": 1}"#), 422, "unknown fields are refused");
        let outbox = Outbox::new(sms::MemoryJournal::new(), gateway(&h, "s3cret"), RetryPolicy::default());
        outbox.submit(&msg("a", "x"), 0).expect("a");
        let r = outbox.flush(0).expect("flush");
        assert!(r.failed[0].1.contains("does not exist"), "{r:?}");
        assert!(h.sent().is_empty());
        assert_eq!(set(r#"{"outage": 1}"#), 204);
        assert!(matches!(gateway(&h, "s3cret").send(&msg("b", "x")), Err(SmsError::Unavailable(_))));
        // The right secret refused once (the gateway's was changed): the outbox stops, then sends.
        assert_eq!(set(r#"{"refuse_credentials": 1}"#), 204);
        outbox.submit(&msg("c", "x"), 0).expect("c");
        let r = outbox.flush(0).expect("flush");
        assert!(matches!(r.stopped, Some(SmsError::Credentials(_))), "{r:?}");
        assert!(h.sent().is_empty());
        let r = outbox.flush(0).expect("flush");
        assert!(r.stopped.is_none() && r.sent.len() == 1, "{r:?}");
        // Mismatched idempotency header.
        let r = client
            .post(format!("{}/v1/messages", h.url()))
            .basic_auth("S-0101", Some("s3cret"))
            .header("Idempotency-Key", "other")
            .json(&msg("c", "x"))
            .send()
            .expect("POST");
        assert_eq!(r.status(), 400);
        h.abort();
        drop(rt);
        let down = HttpGateway::new(
            &h.url(),
            &Transport::PlainForSimulators,
            Credentials::new("S-0101", "s3cret"),
            Duration::from_millis(500),
        )
        .expect("client");
        let e = down.send(&msg("d", "x")).expect_err("down");
        assert!(matches!(e, SmsError::Unavailable(_)) && e.to_string().contains("retry later"), "{e}");
    }
}
