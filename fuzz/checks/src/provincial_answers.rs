//! The station's reading of the provincial service's answers (`provincial::client::
//! read_answer`, the status and body of every call the client makes) for each answer type
//! the client expects. The first byte picks the call, the second the status; the rest is the
//! body, decoded as the client decodes it (UTF-8, lossily).
//!
//! What must hold: only a 200 is a result, and it is the body's; a 409 is the refusal the
//! body names; a 400 or 422 (a body of the wrong shape) is a bad request with the service's
//! message, never retried; anything else is
//! "unavailable" (retried with the same request id), saying the status; a body that is not
//! what its status promises is a store error, not a result; only "unavailable" is retried.

use std::fmt::Debug;

use archive::{kit, ArchiveError, CardRecord, Claim, PersonCards, Refusal};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Statuses the service and what is in front of it answer with.
const STATUSES: [u16; 10] = [200, 409, 400, 422, 500, 503, 502, 404, 401, 204];

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let [call, status, body @ ..] = data else { return };
    let status = StatusCode::from_u16(STATUSES[usize::from(*status) % STATUSES.len()]).expect("a status");
    let text = String::from_utf8_lossy(body);
    match call % 9 {
        0 => answer::<PersonCards>(status, &text),
        1 => answer::<Claim>(status, &text),
        2 => answer::<CardRecord>(status, &text),
        3 => answer::<()>(status, &text),
        4 => answer::<Vec<String>>(status, &text),
        5 => answer::<kit::Checkout>(status, &text),
        6 => answer::<kit::RecordResult>(status, &text),
        7 => answer::<kit::Checkin>(status, &text),
        _ => answer::<Vec<kit::KitConflict>>(status, &text),
    }
}

fn answer<T: DeserializeOwned + Serialize + PartialEq + Debug>(status: StatusCode, text: &str) {
    let read: Result<T, ArchiveError> = provincial::client::read_answer(status, text);
    match (status.as_u16(), &read) {
        (200, Ok(v)) => {
            let body: T = serde_json::from_str(text).expect("a result is the body's");
            assert_eq!(&body, v);
            let again: T =
                serde_json::from_str(&serde_json::to_string(v).expect("serialises")).expect("reads");
            assert_eq!(&again, v, "decode(encode(x)) == x");
        }
        (200, Err(ArchiveError::Store(m))) => {
            assert!(m.starts_with("answer: "), "{m}");
            assert!(serde_json::from_str::<T>(text).is_err(), "a result read as an error");
        }
        (409, Err(ArchiveError::Refused(r))) => {
            assert_eq!(&serde_json::from_str::<Refusal>(text).expect("the body's refusal"), r);
            assert!(!r.to_string().is_empty());
        }
        (409, Err(ArchiveError::Store(m))) => {
            assert!(m.starts_with("refusal: "), "{m}");
            assert!(serde_json::from_str::<Refusal>(text).is_err(), "a refusal read as a store error");
        }
        (400 | 422, Err(ArchiveError::BadRequest(m))) => {
            let error = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
            assert_eq!(m, error.as_deref().unwrap_or(text), "the service's message");
        }
        (code, Err(ArchiveError::Unavailable(m))) if !matches!(code, 200 | 400 | 409 | 422) => {
            assert!(m.starts_with(&format!("HTTP {status}")), "{m}");
        }
        (code, other) => panic!("HTTP {code} read as {other:?}"),
    }
    if let Err(e) = &read {
        assert_eq!(e.is_retryable(), matches!(e, ArchiveError::Unavailable(_)));
        assert!(!e.to_string().is_empty());
    }
}
