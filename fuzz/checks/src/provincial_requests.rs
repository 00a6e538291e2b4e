//! The provincial service's request bodies (`provincial::server`: every `POST /v1/...` takes
//! an `archive` request type through axum's `Json` extractor), then the checks the service
//! makes of a request before its store acts. The first byte picks the route.
//!
//! What must hold: a refused body is a 4xx with a message; a body that is taken reads back the
//! same after the station's client writes it (`decode(encode(x)) == x`: the client and the
//! service speak one type); a request the service's own checks pass satisfies what they
//! promise (an 18-character person key, a supervisor and evidence for a death, a note for a
//! settled conflict), and they refuse with `BadRequest` only; a release that does not say
//! where its card is keeps the number out of circulation; a stop that names no end only stops.

use std::fmt::Debug;

use archive::{kit, ArchiveError, CardEnd, CardFate, CardStatus};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The kit key the seeds are signed with (`archive::conformance::KitKey::ours`, public half).
const KIT_RECORD_KEY: &str = "046ff03b949241ce1dadd43519e6960e0a85b41a69a05c328103aa2bce1594ca163c4f753a55bf01dc53f6c0b0c7eee78b40c6ff7d25a96e2282b989cef71c144a";

/// The routes with a body, in the service's order.
const ROUTES: [&str; 19] = [
    "/v1/lookup",
    "/v1/claim",
    "/v1/commit",
    "/v1/release",
    "/v1/renew",
    "/v1/deceased/correct",
    "/v1/stop",
    "/v1/deceased",
    "/v1/kit/checkout",
    "/v1/kit/record",
    "/v1/kit/checkin",
    "/v1/kit/conflicts/resolve",
    "/v1/deliver",
    "/v1/receive",
    "/v1/restore",
    "/v1/suspend",
    "/v1/lift",
    "/v1/ledger/anchor",
    "/v1/custody",
];

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let route = ROUTES[usize::from(pick) % ROUTES.len()];
    match route {
        "/v1/lookup" => {
            if let Some(q) = taken::<archive::LookupRequest>(route, body) {
                person_key(&q.ssn, archive::check_person(&q.ssn));
            }
        }
        "/v1/claim" => {
            if let Some(q) = taken::<archive::ClaimRequest>(route, body) {
                person_key(&q.ssn, archive::check_person(&q.ssn));
            }
        }
        "/v1/commit" => drop(taken::<archive::CommitRequest>(route, body)),
        "/v1/release" => {
            if let Some(q) = taken::<archive::ReleaseRequest>(route, body) {
                if !has_key(body, "card", 3) {
                    assert_eq!(q.card, CardFate::Unknown, "a release that does not say where its card is");
                }
                assert_eq!(q.card.accounted_for(), q.card != CardFate::Unknown);
            }
        }
        "/v1/renew" => drop(taken::<archive::RenewRequest>(route, body)),
        "/v1/deceased/correct" => {
            if let Some(q) = taken::<archive::CorrectDeceasedRequest>(route, body) {
                let checked = q.check();
                person_key(&q.ssn, archive::check_person(&q.ssn));
                if checked.is_ok() {
                    assert!(q.ssn.len() == 18 && !q.supervisor.trim().is_empty());
                    assert!(q.reason.trim().chars().count() >= 4);
                }
                bad_request(checked);
            }
        }
        "/v1/stop" => {
            if let Some(q) = taken::<archive::StopRequest>(route, body) {
                if !has_key(body, "end", 3) {
                    assert_eq!(q.end, CardEnd::Stopped, "a stop that names no end only stops");
                }
                assert!(!CardStatus::from(q.end).is_live(), "a stopped card is no longer live");
            }
        }
        "/v1/deceased" => {
            if let Some(q) = taken::<archive::DeceasedRequest>(route, body) {
                let checked = q.check();
                if checked.is_ok() {
                    assert!(q.ssn.len() == 18 && !q.supervisor.trim().is_empty());
                    assert!(q.evidence.trim().chars().count() >= 4);
                }
                bad_request(checked);
            }
        }
        "/v1/kit/checkout" => {
            if let Some(q) = taken::<kit::CheckoutRequest>(route, body) {
                match kit::check_record_key(&q) {
                    Ok(key) => {
                        let point = hex::decode(&key).expect("a key taken is hex");
                        assert!(matches!(point.first(), Some(2..=4)), "a SEC1 point");
                        assert_eq!(key, key.to_ascii_lowercase(), "kept in lower case");
                    }
                    Err(e) => assert!(matches!(e, ArchiveError::BadRequest(_)), "{e}"),
                }
            }
        }
        "/v1/kit/record" => {
            if let Some(r) = taken::<kit::KitRecord>(route, body) {
                let ssn = serde_json::to_value(&r.event).expect("an event")["ssn"].clone();
                assert_eq!(Some(r.event.ssn()), ssn.as_str(), "the event's person");
                // The province's check of its signature by the seeds' kit key: taken only
                // over exactly what the key signed, refused otherwise, naming the record.
                match kit::check_record_signature(Some(KIT_RECORD_KEY), &r) {
                    Ok(()) => assert!(r.signature.is_some()),
                    Err(archive::Refusal::RecordNotSigned { record_id, why }) => {
                        assert_eq!(record_id, r.record_id);
                        assert!(!why.is_empty());
                    }
                    Err(other) => panic!("a record's signature refused as {other:?}"),
                }
            }
        }
        "/v1/kit/checkin" => drop(taken::<kit::CheckinRequest>(route, body)),
        "/v1/deliver" => drop(taken::<archive::DeliverRequest>(route, body)),
        "/v1/receive" => drop(taken::<archive::ReceiveRequest>(route, body)),
        "/v1/restore" => {
            if let Some(q) = taken::<archive::RestoreRequest>(route, body) {
                let checked = q.check();
                if checked.is_ok() {
                    assert!(!q.supervisor.trim().is_empty() && q.reason.trim().chars().count() >= 4);
                }
                bad_request(checked);
            }
        }
        "/v1/custody" => {
            if let Some(q) = taken::<archive::custody::CustodyRequest>(route, body) {
                let checked = q.check();
                if checked.is_ok() {
                    let a = &q.approval;
                    assert!(
                        archive::custody::CUSTODY_GROUPS.contains(&a.holder_group.as_str()),
                        "an allowed group"
                    );
                    assert!(a.custodian_id.contains('*'), "never a custodian's full ID number");
                    assert!(
                        !a.reason.trim().is_empty() && !a.approved_by.trim().is_empty(),
                        "why, and who approved"
                    );
                }
                bad_request(checked);
            }
        }
        "/v1/suspend" => {
            if let Some(q) = taken::<archive::SuspendRequest>(route, body) {
                let checked = q.check();
                if checked.is_ok() {
                    assert!(
                        (1..=archive::MAX_SUSPENSION_SECONDS).contains(&q.seconds),
                        "a period within the limit"
                    );
                    assert!(!q.operator.trim().is_empty(), "the operator who took it");
                    assert!(
                        q.channel == archive::LossChannel::Phone || q.id_checked,
                        "at a counter, ID checked"
                    );
                    person_key(&q.ssn, Ok(()));
                }
                bad_request(checked);
            }
        }
        "/v1/lift" => {
            if let Some(q) = taken::<archive::LiftRequest>(route, body) {
                let checked = q.check();
                if checked.is_ok() {
                    assert!(
                        q.id_checked && !q.operator.trim().is_empty(),
                        "the holder at the counter, ID checked"
                    );
                }
                bad_request(checked);
            }
        }
        "/v1/ledger/anchor" => drop(taken::<archive::AnchorRequest>(route, body)),
        _ => {
            if let Some(q) = taken::<kit::ResolveRequest>(route, body) {
                let checked = q.check();
                if checked.is_ok() {
                    assert!(!q.resolved_by.trim().is_empty() && q.note.trim().chars().count() >= 4);
                }
                bad_request(checked);
            }
        }
    }
}

/// The body through the service's extractor; what it takes, the client's writing of it gives
/// back.
fn taken<T: DeserializeOwned + Serialize + PartialEq + Debug>(route: &str, body: &[u8]) -> Option<T> {
    match Json::<T>::from_bytes(body) {
        Ok(Json(q)) => {
            let written = serde_json::to_vec(&q).expect("a request serialises");
            let Json(again) =
                Json::<T>::from_bytes(&written).expect("what the client writes, the service takes");
            assert_eq!(again, q, "{route}: decode(encode(x)) == x");
            Some(q)
        }
        Err(rejection) => {
            // The service's routes document 400 for a malformed request; axum answers a body
            // of the wrong shape (valid JSON) with 422, which the client reads as a bad request
            // too, never retried (see fuzz/README.md, findings).
            let status = rejection.status().as_u16();
            assert!(matches!(status, 400 | 422), "{route}: a refused body is a 400 or 422, not {status}");
            assert!(!rejection.body_text().is_empty());
            None
        }
    }
}

/// Whether the body gives the field `key`, the type's field number `position`: by name in an
/// object, by position in an array (serde takes a struct as either).
fn has_key(body: &[u8], key: &str, position: usize) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => map.contains_key(key),
        Ok(serde_json::Value::Array(items)) => items.len() > position,
        _ => false,
    }
}

/// The archive's person key: 18 characters, refused as a bad request otherwise.
fn person_key(ssn: &str, checked: Result<(), ArchiveError>) {
    assert_eq!(checked.is_ok(), ssn.len() == 18, "{} bytes", ssn.len());
    bad_request(checked);
}

/// The service's own checks refuse with `BadRequest` (a 400 the client shows as such).
fn bad_request(checked: Result<(), ArchiveError>) {
    if let Err(e) = checked {
        assert!(matches!(e, ArchiveError::BadRequest(_)), "{e:?}");
        assert!(!e.is_retryable() && !e.to_string().is_empty());
    }
}
