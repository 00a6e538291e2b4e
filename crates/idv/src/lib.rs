//! Identity verification (联网核查) against the bank-police network: is this ID number
//! registered, under this name, with a document still valid?
//!
//! - [`IdentityVerifier`]: the trait the station calls; [`HttpVerifier`] speaks the
//!   simulator's (and an adapter's) JSON API; tests may implement it directly.
//! - [`Transport`]: HTTPS trusting only the configured CA, mutual TLS when the service wants
//!   it; plain HTTP only when the caller says its build carries the simulators.
//! - [`Verdict`]: match, or mismatch with a hint per field the operator can act on.
//! - [`verify_with_retry`]: the station's policy — an unavailable network is retried a few
//!   times; a mismatch goes back to the operator, who corrects a field and asks again; after
//!   the allowed corrections the application ends ([`Outcome`]).
#![forbid(unsafe_code)]

pub mod transport;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use transport::{certificates, ClientIdentity, SetupError, TlsConfig, TlsFailure, Transport};

/// What is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityQuery {
    /// Request id (for the network's audit trail and retries).
    pub request_id: String,
    /// Resident ID number (or other document number).
    pub id_number: String,
    /// Name as on the document.
    pub name: String,
    /// Document valid until (YYYYMMDD, or "长期").
    pub valid_until: Option<String>,
}

/// A field the network could not confirm, and what the operator should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldHint {
    /// The field (`id_number`, `name`, `valid_until`).
    pub field: String,
    /// What to check.
    pub hint: String,
}

/// The network's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// The identity is confirmed.
    Match,
    /// It is not: each field that failed with a hint.
    Mismatch {
        /// The fields.
        fields: Vec<FieldHint>,
    },
}

/// No answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdvError {
    /// The network is down or did not answer in time.
    #[error("identity verification unavailable ({0}): retry later; the application waits")]
    Unavailable(String),
    /// The service refused the request as malformed.
    #[error("identity verification refused the request: {0}")]
    BadRequest(String),
    /// No TLS session: retrying will not help until the certificates are put right.
    #[error("identity verification over TLS failed: {0} (station doctor checks the set-up)")]
    Tls(TlsFailure),
}

impl IdvError {
    /// A failed request: its TLS failure if it is one, else unavailable, with the causes
    /// reqwest wraps (its own text names only the URL; no request body is in it).
    fn from_request(e: &reqwest::Error) -> IdvError {
        match transport::tls_failure(e) {
            Some(tls) => IdvError::Tls(tls),
            None => IdvError::Unavailable(transport::chain(e)),
        }
    }
}

/// The bank-police verification service.
pub trait IdentityVerifier: Send + Sync {
    /// Verifies one identity.
    fn verify(&self, query: &IdentityQuery) -> Result<Verdict, IdvError>;
}

/// The JSON API over HTTP(S): `POST {base}/v1/verify` with an [`IdentityQuery`]; 200 with a
/// [`Verdict`], 400 malformed, anything else unavailable.
pub struct HttpVerifier {
    http: reqwest::blocking::Client,
    base: String,
}

impl HttpVerifier {
    /// A client of `base` over `transport` with a per-request `timeout`. The CA and client
    /// files are read here, so a wrong path or key fails at start, not at the first applicant.
    pub fn new(base: &str, transport: &Transport, timeout: Duration) -> Result<HttpVerifier, SetupError> {
        let (http, base) = transport::client(base, transport, timeout)?;
        Ok(HttpVerifier { http, base })
    }

    /// `GET {base}/`: any answer proves the session (the handshake, and the service's
    /// acceptance of our certificate, which TLS 1.3 reports only at the first read) without
    /// asking about anyone. The answer's HTTP status.
    pub fn probe(&self) -> Result<u16, IdvError> {
        let r = self.http.get(format!("{}/", self.base)).send().map_err(|e| IdvError::from_request(&e))?;
        Ok(r.status().as_u16())
    }
}

impl IdentityVerifier for HttpVerifier {
    fn verify(&self, query: &IdentityQuery) -> Result<Verdict, IdvError> {
        let r = self
            .http
            .post(format!("{}/v1/verify", self.base))
            .json(query)
            .send()
            .map_err(|e| IdvError::from_request(&e))?;
        let status = r.status();
        let text = r.text().map_err(|e| IdvError::from_request(&e))?;
        read_verdict(status, text)
    }
}

/// The service's answer from its status and body: 200 with a [`Verdict`], 400 a malformed
/// request; anything else, or a 200 without a verdict, is unavailable.
pub fn read_verdict(status: reqwest::StatusCode, text: String) -> Result<Verdict, IdvError> {
    match status.as_u16() {
        200 => serde_json::from_str(&text).map_err(|e| IdvError::Unavailable(format!("answer: {e}"))),
        400 => Err(IdvError::BadRequest(text)),
        _ => Err(IdvError::Unavailable(format!("HTTP {status}"))),
    }
}

/// How the station retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries while the network is unavailable.
    pub attempts: u32,
    /// Wait before the second try; doubled each time.
    pub backoff: Duration,
    /// Corrections the operator may make after a mismatch before the application ends.
    pub corrections: u32,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { attempts: 3, backoff: Duration::from_millis(500), corrections: 2 }
    }
}

/// How verification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Confirmed (after `corrections` corrections).
    Verified {
        /// Corrections the operator made.
        corrections: u32,
    },
    /// Still a mismatch after the allowed corrections: the application ends.
    Ended {
        /// The last hints.
        fields: Vec<FieldHint>,
    },
    /// The network stayed unavailable: the application waits (nothing is issued).
    Waiting(IdvError),
}

/// Verifies `query`; on a mismatch asks `correct` (the operator) for a corrected query, at
/// most `policy.corrections` times (`None` from `correct`: the operator gives up).
pub fn verify_with_retry(
    verifier: &dyn IdentityVerifier,
    mut query: IdentityQuery,
    policy: RetryPolicy,
    mut correct: impl FnMut(&IdentityQuery, &[FieldHint]) -> Option<IdentityQuery>,
) -> Outcome {
    let mut corrections = 0;
    loop {
        let mut wait = policy.backoff;
        let mut last = None;
        let mut verdict = None;
        for attempt in 1..=policy.attempts.max(1) {
            match verifier.verify(&query) {
                Ok(v) => {
                    verdict = Some(v);
                    break;
                }
                Err(e @ (IdvError::BadRequest(_) | IdvError::Tls(_))) => return Outcome::Waiting(e),
                Err(e) => {
                    tracing::info!(attempt, error = %e, "identity verification unavailable");
                    last = Some(e);
                    if attempt < policy.attempts {
                        std::thread::sleep(wait);
                        wait *= 2;
                    }
                }
            }
        }
        match verdict {
            None => return Outcome::Waiting(last.unwrap_or(IdvError::Unavailable("no attempt".into()))),
            Some(Verdict::Match) => return Outcome::Verified { corrections },
            Some(Verdict::Mismatch { fields }) => {
                if corrections >= policy.corrections {
                    return Outcome::Ended { fields };
                }
                match correct(&query, &fields) {
                    Some(q) => {
                        corrections += 1;
                        query = q;
                    }
                    None => return Outcome::Ended { fields },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers from a script, recording what was asked.
    struct Script(Mutex<Vec<Result<Verdict, IdvError>>>, Mutex<Vec<String>>);

    impl IdentityVerifier for Script {
        fn verify(&self, q: &IdentityQuery) -> Result<Verdict, IdvError> {
            self.1.lock().expect("lock").push(q.name.clone());
            self.0.lock().expect("lock").remove(0)
        }
    }

    fn query(name: &str) -> IdentityQuery {
        IdentityQuery {
            request_id: "r1".into(),
            id_number: "11010519491231002X".into(),
            name: name.into(),
            valid_until: None,
        }
    }

    fn hint() -> Vec<FieldHint> {
        vec![FieldHint { field: "name".into(), hint: "check the characters".into() }]
    }

    fn policy() -> RetryPolicy {
        RetryPolicy { attempts: 3, backoff: Duration::from_millis(1), corrections: 1 }
    }

    #[test]
    fn unavailable_is_retried_then_waits() {
        let down = || Err(IdvError::Unavailable("timeout".into()));
        let s = Script(Mutex::new(vec![down(), down(), Ok(Verdict::Match)]), Mutex::new(vec![]));
        assert_eq!(
            verify_with_retry(&s, query("张三"), policy(), |_, _| None),
            Outcome::Verified { corrections: 0 }
        );
        let s = Script(Mutex::new(vec![down(), down(), down()]), Mutex::new(vec![]));
        assert!(matches!(verify_with_retry(&s, query("张三"), policy(), |_, _| None), Outcome::Waiting(_)));
    }

    #[test]
    fn a_tls_failure_is_not_retried() {
        let refused = || Err(IdvError::Tls(TlsFailure::ServerCertificate("UnknownIssuer".into())));
        let s = Script(Mutex::new(vec![refused(), Ok(Verdict::Match)]), Mutex::new(vec![]));
        let out = verify_with_retry(&s, query("张三"), policy(), |_, _| None);
        assert!(matches!(out, Outcome::Waiting(IdvError::Tls(_))), "{out:?}");
        assert_eq!(s.1.lock().expect("lock").len(), 1, "asked once: the certificates need a person");
    }

    #[test]
    fn a_mismatch_goes_back_to_the_operator_once_then_ends() {
        let mismatch = || Ok(Verdict::Mismatch { fields: hint() });
        let s = Script(Mutex::new(vec![mismatch(), Ok(Verdict::Match)]), Mutex::new(vec![]));
        let out = verify_with_retry(&s, query("张山"), policy(), |q, f| {
            assert_eq!(f[0].field, "name");
            Some(IdentityQuery { name: "张三".into(), ..q.clone() })
        });
        assert_eq!(out, Outcome::Verified { corrections: 1 });
        assert_eq!(*s.1.lock().expect("lock"), ["张山", "张三"]);
        let s = Script(Mutex::new(vec![mismatch(), mismatch()]), Mutex::new(vec![]));
        let out = verify_with_retry(&s, query("张山"), policy(), |q, _| Some(q.clone()));
        assert_eq!(out, Outcome::Ended { fields: hint() });
    }
}
