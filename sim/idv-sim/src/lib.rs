//! A simulator of the bank-police identity verification service, served on loopback with the
//! API of [`idv::HttpVerifier`]: over plain HTTP for the simulated counter ([`serve`]), or over
//! TLS, client certificates required or not ([`serve_tls`], [`SimTls`]), so the station's real
//! TLS path runs in tests; [`pki::generate`] makes the certificates.
//!
//! The roster is a JSON list of `{ "id_number", "name", "status" }` (`status`: `normal`,
//! `deceased`, `cancelled`). Answers: match when the number is known, normal and the name is
//! the same; otherwise a mismatch with a hint per field, in Chinese for the operator's page
//! (`姓名与公安登记不一致：请逐字核对证件`). Faults: an outage (503) for the next
//! N requests, or a delay, set at start or at run time.
#![forbid(unsafe_code)]
#[cfg(not(debug_assertions))]
compile_error!("the identity-verification simulator is for tests and development only");

pub mod pki;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use idv::{FieldHint, IdentityQuery, Verdict};
use serde::Deserialize;
pub use tls::SimTls;

/// A person in the roster.
#[derive(Debug, Clone, Deserialize)]
pub struct Person {
    /// Document number.
    pub id_number: String,
    /// Registered name.
    pub name: String,
    /// `normal`, `deceased` or `cancelled`.
    #[serde(default = "normal")]
    pub status: String,
    /// The last day of the document's validity as registered (`YYYY-MM-DD` or 长期), when the
    /// roster has it: a query that sends another is a mismatch.
    #[serde(default)]
    pub valid_until: Option<String>,
}

fn normal() -> String {
    "normal".into()
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The roster file.
    #[error("roster {path}: {message}")]
    Roster {
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
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Faults that can be changed while it runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next this many requests answer 503.
    pub outage: AtomicU32,
    /// Milliseconds to wait before each answer.
    pub delay_ms: AtomicU64,
}

struct Sim {
    roster: HashMap<String, Person>,
    faults: Arc<Faults>,
}

/// Reads a roster file.
pub fn load_roster(path: &Path) -> Result<Vec<Person>, SimError> {
    let err = |message: String| SimError::Roster { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

fn verdict(roster: &HashMap<String, Person>, q: &IdentityQuery) -> Verdict {
    let hint = |field: &str, hint: &str| FieldHint { field: field.into(), hint: hint.into() };
    let Some(p) = roster.get(&q.id_number.to_ascii_uppercase()) else {
        return Verdict::Mismatch {
            fields: vec![hint("id_number", "公民身份号码在公安登记中不存在：请逐位核对证件号码")],
        };
    };
    let mut fields = Vec::new();
    match p.status.as_str() {
        "deceased" => fields.push(hint("id_number", "公安登记为已死亡：不能办卡")),
        "cancelled" => fields.push(hint("id_number", "户籍已注销：请申请人持新证件办理")),
        _ => {}
    }
    if p.name != q.name {
        fields.push(hint("name", "姓名与公安登记不一致：请逐字核对证件（生僻字如“曌”与“照”）"));
    }
    if let (Some(registered), Some(sent)) = (&p.valid_until, &q.valid_until) {
        if registered != sent {
            fields.push(hint(
                "valid_until",
                "证件有效期与公安登记不一致：请核对证件背面的有效期限；证件已过期的须先换领新证",
            ));
        }
    }
    if fields.is_empty() {
        Verdict::Match
    } else {
        Verdict::Mismatch { fields }
    }
}

async fn verify(State(sim): State<Arc<Sim>>, Json(q): Json<IdentityQuery>) -> Response {
    let delay = sim.faults.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let outage =
        sim.faults.outage.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if outage {
        return (StatusCode::SERVICE_UNAVAILABLE, "verification network down (simulated)").into_response();
    }
    if q.id_number.is_empty() || q.name.is_empty() {
        return (StatusCode::BAD_REQUEST, "id_number and name are required").into_response();
    }
    (StatusCode::OK, Json(verdict(&sim.roster, &q))).into_response()
}

/// A running simulator.
pub struct Handle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its faults, changeable at run time.
    pub faults: Arc<Faults>,
    tls: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// The base URL (`https://` when it serves TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
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

fn app(roster: Vec<Person>) -> (Router, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let sim = Arc::new(Sim {
        roster: roster.into_iter().map(|p| (p.id_number.to_ascii_uppercase(), p)).collect(),
        faults: faults.clone(),
    });
    (Router::new().route("/v1/verify", post(verify)).with_state(sim), faults)
}

/// Serves `roster` over plain HTTP on `addr` (port 0: any free one). Must run inside a tokio
/// runtime.
pub async fn serve(addr: SocketAddr, roster: Vec<Person>) -> Result<Handle, SimError> {
    let (listener, addr) = bind(addr).await?;
    let (app, faults) = app(roster);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "identity verification simulator stopped");
        }
    });
    Ok(Handle { addr, faults, tls: false, task })
}

/// Serves `roster` over TLS on `addr`. Must run inside a tokio runtime.
pub async fn serve_tls(addr: SocketAddr, roster: Vec<Person>, tls: SimTls) -> Result<Handle, SimError> {
    let (listener, addr) = bind(addr).await?;
    let (app, faults) = app(roster);
    let task = tls::spawn(listener, tls, app);
    Ok(Handle { addr, faults, tls: true, task })
}

#[cfg(test)]
mod tests {
    use idv::{HttpVerifier, IdentityVerifier, IdvError, Outcome, RetryPolicy};

    use super::*;

    fn roster() -> Vec<Person> {
        serde_json::from_str(
            r#"[{"id_number": "11010519491231002X", "name": "张三", "valid_until": "2036-05-01"},
                {"id_number": "440524188001010014", "name": "李四", "status": "deceased"}]"#,
        )
        .expect("roster")
    }

    fn q(id: &str, name: &str) -> IdentityQuery {
        IdentityQuery { request_id: "t".into(), id_number: id.into(), name: name.into(), valid_until: None }
    }

    #[test]
    fn over_http_match_mismatch_outage() {
        let rt = tokio::runtime::Runtime::new().expect("rt");
        let handle = rt.block_on(serve("127.0.0.1:0".parse().expect("addr"), roster())).expect("serve");
        let sim = idv::Transport::PlainForSimulators;
        let v = HttpVerifier::new(&handle.url(), &sim, Duration::from_secs(5)).expect("client");
        assert_eq!(v.verify(&q("11010519491231002x", "张三")), Ok(Verdict::Match), "lower-case x");
        let Ok(Verdict::Mismatch { fields }) = v.verify(&q("11010519491231002X", "张山")) else {
            panic!("mismatch")
        };
        assert_eq!(fields[0].field, "name");
        // The document's validity, when sent, is the register's.
        let dated = |until: &str| IdentityQuery {
            valid_until: Some(until.into()),
            ..q("11010519491231002X", "张三")
        };
        assert_eq!(v.verify(&dated("2036-05-01")), Ok(Verdict::Match));
        let Ok(Verdict::Mismatch { fields }) = v.verify(&dated("2026-05-01")) else {
            panic!("another validity")
        };
        assert_eq!((fields.len(), fields[0].field.as_str()), (1, "valid_until"));
        let Ok(Verdict::Mismatch { fields }) = v.verify(&q("440524188001010014", "李四")) else {
            panic!("deceased")
        };
        assert!(fields[0].hint.contains("已死亡"), "{fields:?}");
        let Ok(Verdict::Mismatch { fields }) = v.verify(&q("34052419800101001X", "王五")) else {
            panic!("unknown")
        };
        assert_eq!(fields[0].field, "id_number");
        assert!(matches!(v.verify(&q("", "")), Err(IdvError::BadRequest(_))));

        // Two answers lost to an outage: the station's retries ride it out.
        handle.faults.outage.store(2, Ordering::SeqCst);
        let policy = RetryPolicy { attempts: 3, backoff: Duration::from_millis(10), corrections: 0 };
        assert_eq!(
            idv::verify_with_retry(&v, q("11010519491231002X", "张三"), policy, |_, _| None),
            Outcome::Verified { corrections: 0 }
        );
        handle.faults.outage.store(5, Ordering::SeqCst);
        assert!(matches!(
            idv::verify_with_retry(&v, q("11010519491231002X", "张三"), policy, |_, _| None),
            Outcome::Waiting(IdvError::Unavailable(_))
        ));
        handle.abort();
        drop(rt);
        let down = HttpVerifier::new(&handle.url(), &sim, Duration::from_millis(500)).expect("client");
        assert!(matches!(down.verify(&q("11010519491231002X", "张三")), Err(IdvError::Unavailable(_))));
    }
}
