//! The card routes' queries and bodies as their `Query` and `Json` extractors read them, for
//! cargo-fuzz (`fuzz/`) through [`crate::api::fuzzing`]: the types are this module's parent's
//! and private to it.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::Query;
use axum::http::Uri;
use axum::Json;
use serde_json::json;

use crate::api::fuzzing::{lenient, optional, required, strict, Fields};

/// The body of a card route through its `Json` extractor; `None` for another route.
pub(crate) fn body(route: &str, bytes: &[u8]) -> Option<Result<Fields, JsonRejection>> {
    let null = || json!(null);
    Some(match route {
        "POST /api/cards/{card}/handover" => Json::<super::HandoverBody>::from_bytes(bytes).map(|Json(q)| {
            let super::HandoverBody { delivered, signer, signature_png, reason, receiver } = q;
            strict(vec![
                required("delivered", json!(delivered)),
                optional("signer", json!(signer), null()),
                optional("signature_png", json!(signature_png), null()),
                optional("reason", json!(reason), null()),
                optional("receiver", receiver.unwrap_or_default(), null()),
            ])
        }),
        "POST /api/cards/{card}/stock" => Json::<super::StockBody>::from_bytes(bytes).map(|Json(q)| {
            let super::StockBody { reason, place, keeper } = q;
            strict(vec![
                required("reason", json!(reason)),
                optional("place", json!(place), null()),
                optional("keeper", json!(keeper), null()),
            ])
        }),
        "POST /api/cards/{card}/activate" => Json::<super::ActivateBody>::from_bytes(bytes).map(|Json(q)| {
            let super::ActivateBody { holder_present, id_checked, id_valid_until } = q;
            strict(vec![
                required("holder_present", json!(holder_present)),
                required("id_checked", json!(id_checked)),
                optional("id_valid_until", json!(id_valid_until), null()),
            ])
        }),
        "POST /api/cards/{card}/custody" => Json::<super::CustodyBody>::from_bytes(bytes).map(|Json(q)| {
            let super::CustodyBody {
                handed_over_by,
                holder_group,
                custodian,
                custodian_id,
                reason,
                valid_until,
            } = q;
            strict(vec![
                required("handed_over_by", json!(handed_over_by)),
                required("holder_group", json!(holder_group)),
                required("custodian", json!(custodian)),
                required("custodian_id", json!(custodian_id)),
                required("reason", json!(reason)),
                required("valid_until", json!(valid_until)),
            ])
        }),
        "POST /api/cards/{card}/replace" => Json::<super::ReplaceBody>::from_bytes(bytes).map(|Json(q)| {
            let super::ReplaceBody { bank, chosen_by, fee_fen } = q;
            strict(vec![
                required("bank", json!(bank)),
                required("chosen_by", json!(chosen_by)),
                optional("fee_fen", json!(fee_fen), json!(0)),
            ])
        }),
        "POST /api/cards/{card}/loss" => Json::<super::LossBody>::from_bytes(bytes).map(|Json(q)| {
            let super::LossBody { request_key, holder_at_counter } = q;
            strict(vec![
                optional("request_key", json!(request_key), null()),
                optional("holder_at_counter", json!(holder_at_counter), json!(false)),
            ])
        }),
        "POST /api/persons/deceased" => Json::<super::DeceasedBody>::from_bytes(bytes).map(|Json(q)| {
            let super::DeceasedBody { id_number, evidence, request_key } = q;
            strict(vec![
                required("id_number", json!(id_number)),
                required("evidence", json!(evidence)),
                optional("request_key", json!(request_key), null()),
            ])
        }),
        "POST /api/persons/deceased/correct" => {
            Json::<super::CorrectDeceasedBody>::from_bytes(bytes).map(|Json(q)| {
                let super::CorrectDeceasedBody { id_number, reason, request_key } = q;
                strict(vec![
                    required("id_number", json!(id_number)),
                    required("reason", json!(reason)),
                    optional("request_key", json!(request_key), null()),
                ])
            })
        }
        "POST /api/kit/conflicts/{record}/resolve" => {
            Json::<super::ResolveBody>::from_bytes(bytes).map(|Json(q)| {
                let super::ResolveBody { note } = q;
                strict(vec![required("note", json!(note))])
            })
        }
        _ => return None,
    })
}

/// The query of a card route through its `Query` extractor; `None` for another route.
pub(crate) fn query(route: &str, uri: &Uri) -> Option<Result<Fields, QueryRejection>> {
    Some(match route {
        "GET /api/cards" => Query::<super::ListQuery>::try_from_uri(uri).map(|Query(q)| {
            let super::ListQuery { status } = q;
            lenient(vec![optional("status", json!(status), json!(null))])
        }),
        "GET /api/cards/dormant" => Query::<super::DormantQuery>::try_from_uri(uri).map(|Query(q)| {
            let super::DormantQuery { days } = q;
            lenient(vec![optional("days", json!(days), json!(super::default_dormant_days()))])
        }),
        _ => return None,
    })
}

/// See [`crate::api::fuzzing::request_key`].
pub(crate) fn request_key(kind: &str, subject: &str, client_key: Option<&str>) -> String {
    super::request_key(kind, subject, client_key)
}
