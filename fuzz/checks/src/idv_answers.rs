//! The station's reading of the identity verification service's answers (`idv::read_verdict`,
//! the status and body `HttpVerifier` gets), then the station's policy on that answer
//! (`verify_with_retry`, one attempt). The first byte picks the status; the rest is the body,
//! decoded as the client decodes it (UTF-8, lossily).
//!
//! What must hold: only a 200 with a verdict is a verdict, and it is the body's; a 400 is the
//! service's refusal of the request, with its text; anything else, a garbled 200 included, is
//! "unavailable", saying the status and nothing of the body; a match verifies, a mismatch ends
//! with the service's hints (no correction offered), and no answer leaves the application
//! waiting.

use std::time::Duration;

use idv::{IdentityQuery, IdentityVerifier, IdvError, Outcome, RetryPolicy, Verdict};
use reqwest::StatusCode;

/// Statuses the service and what is in front of it answer with.
const STATUSES: [u16; 8] = [200, 400, 500, 503, 404, 401, 422, 204];

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let status = StatusCode::from_u16(STATUSES[usize::from(pick) % STATUSES.len()]).expect("a status");
    let text = String::from_utf8_lossy(body).into_owned();
    let read = idv::read_verdict(status, text.clone());
    match (status.as_u16(), &read) {
        (200, Ok(v)) => {
            assert_eq!(&serde_json::from_str::<Verdict>(&text).expect("the body's verdict"), v);
            let again: Verdict =
                serde_json::from_str(&serde_json::to_string(v).expect("serialises")).expect("reads");
            assert_eq!(&again, v, "decode(encode(x)) == x");
        }
        (200, Err(IdvError::Unavailable(m))) => {
            assert!(m.starts_with("answer: "), "{m}");
            assert!(serde_json::from_str::<Verdict>(&text).is_err(), "a verdict read as unavailable");
        }
        (400, Err(IdvError::BadRequest(m))) => assert_eq!(m, &text),
        (code, Err(IdvError::Unavailable(m))) if !matches!(code, 200 | 400) => {
            assert_eq!(m, &format!("HTTP {status}"), "the status, nothing of the body");
        }
        (code, other) => panic!("HTTP {code} read as {other:?}"),
    }
    policy(read);
}

/// A service that gives one answer.
struct Answers(Result<Verdict, IdvError>);

impl IdentityVerifier for Answers {
    fn verify(&self, _: &IdentityQuery) -> Result<Verdict, IdvError> {
        self.0.clone()
    }
}

fn policy(read: Result<Verdict, IdvError>) {
    let query = IdentityQuery {
        request_id: "fuzz-1".into(),
        id_number: "11010519491231002X".into(),
        name: "张三".into(),
        valid_until: None,
    };
    let one_try = RetryPolicy { attempts: 1, backoff: Duration::ZERO, corrections: 1 };
    let outcome = idv::verify_with_retry(&Answers(read.clone()), query, one_try, |_, _| None);
    match (read, outcome) {
        (Ok(Verdict::Match), Outcome::Verified { corrections: 0 }) => {}
        (Ok(Verdict::Mismatch { fields }), Outcome::Ended { fields: ended }) => assert_eq!(fields, ended),
        (Err(e), Outcome::Waiting(w)) => assert_eq!(e, w),
        (read, outcome) => panic!("{read:?} ended as {outcome:?}"),
    }
}
