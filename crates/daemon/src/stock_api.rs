//! Cards made elsewhere and stock on the move, over the API (supervisor): the card-making
//! centre's delivery list taken in (`POST /api/stock/receive`, the file as uploaded), stock
//! cards handed between storage places and agent sites signed by both sides (`POST
//! /api/stock/move`). The rules live in `issuance::stock`; holders are shown masked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use issuance::stock::{self, Destination};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::{ApiError, AppState, Authed};

/// The routes of stock deliveries and moves.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/stock/receive", post(receive)).route("/api/stock/move", post(move_cards))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, message.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiveBody {
    /// The list's file name (its extension says CSV or XLSX).
    file_name: String,
    /// The file, base64.
    content: String,
    /// The storage place; default: the station's.
    #[serde(default)]
    place: Option<String>,
    /// The person responsible; default: the station's, or the supervisor.
    #[serde(default)]
    keeper: Option<String>,
}

/// The largest delivery list taken (a box of a few hundred cards is a few kilobytes).
const MAX_LIST_BYTES: usize = 8 << 20;

async fn receive(
    State(s): State<AppState>,
    Authed(session): Authed,
    Json(q): Json<ReceiveBody>,
) -> Result<Json<Value>, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(q.content.trim())
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("the list is not base64: {e}")))?;
    if bytes.is_empty() || bytes.len() > MAX_LIST_BYTES {
        return Err(unprocessable(format!("the list has {} bytes: 1 to {MAX_LIST_BYTES}", bytes.len())));
    }
    let list = list_name(&q.file_name);
    let province = s.province()?.clone();
    let storage = s.inner.stock.storage(&session.operator, q.place.as_deref(), q.keeper.as_deref());
    let (local, operator) = (s.local().clone(), session.operator.clone());
    let report = tokio::task::spawn_blocking(move || -> Result<stock::ReceiveReport, ApiError> {
        let (rows, mut problems) =
            stock::read_manifest(&bytes, &list).map_err(|e| unprocessable(e.to_string()))?;
        let mut report = stock::receive(&local, province.as_ref(), &operator, &storage, &list, rows);
        problems.append(&mut report.refused);
        problems.sort_by_key(|p| p.row);
        report.refused = problems;
        Ok(report)
    })
    .await
    .map_err(internal)??;
    Ok(Json(json!(report)))
}

/// The name of an uploaded list as the ledger keeps it: its last path part, printable, at most
/// 120 characters, the end kept (its extension says how the list is read).
fn list_name(file_name: &str) -> String {
    let last = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let printable: Vec<char> = last.chars().filter(|c| !c.is_control()).collect();
    printable[printable.len().saturating_sub(120)..].iter().collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    /// The cards.
    cards: Vec<String>,
    /// The storage place they go to (at a site: default the site's name).
    #[serde(default)]
    to_place: Option<String>,
    /// The agent site they go to (its id in `[[sites]]`).
    #[serde(default)]
    to_site: Option<String>,
    /// Who gives them (their keeper now).
    giver: String,
    /// Who receives them (their keeper then).
    receiver: String,
}

async fn move_cards(
    State(s): State<AppState>,
    Authed(session): Authed,
    Json(q): Json<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    if q.cards.is_empty() || q.cards.len() > 1000 {
        return Err(unprocessable("name 1 to 1000 cards"));
    }
    let site = match q.to_site.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(id) => Some(s.inner.sites.iter().find(|site| site.id == id).cloned().ok_or_else(|| {
            let known: Vec<&str> = s.inner.sites.iter().map(|site| site.id.as_str()).collect();
            unprocessable(format!(
                "no agent site {id:?} in [[sites]]: the configured ones are {}",
                if known.is_empty() { "none".into() } else { known.join(", ") }
            ))
        })?),
    };
    let place = q.to_place.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let place = match (place, &site) {
        (Some(p), _) => p,
        (None, Some(site)) => site.name.clone(),
        (None, None) => return Err(unprocessable("say where the cards go: --to PLACE or --to-site SITE")),
    };
    let to = Destination { place, site: site.as_ref().map(|s| s.id.clone()) };
    let (local, operator) = (s.local().clone(), session.operator.clone());
    let (giver, receiver) = (q.giver, q.receiver);
    let notices = s.inner.notices.clone();
    let sending = notices.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let (mut moved, mut refused) = (Vec::new(), Vec::new());
        for card in &q.cards {
            match stock::move_card(&local, &operator, card, &to, &giver, &receiver) {
                Ok(detail) => {
                    // At its holder's site: the pickup notice (item 5).
                    let sms = site.as_ref().map(|site| match &sending {
                        Some(n) => n.card_arrived(&local, card, site).word(),
                        None => "no SMS gateway ([sms]): tell the holder another way".into(),
                    });
                    moved.push(json!({"card_number": card, "place": detail["place"],
                        "site": detail["site"], "keeper": detail["keeper"], "sms": sms}))
                }
                Err(e) => refused.push(json!({"card_number": card, "reason": e.to_string()})),
            }
        }
        json!({"moved": moved, "refused": refused})
    })
    .await
    .map_err(internal)?;
    if let Some(n) = notices {
        n.wake();
    }
    Ok(Json(answer))
}

/// The stock routes' bodies as their `Json` extractors read them, for cargo-fuzz (`fuzz/`)
/// through [`crate::api::fuzzing`]; `None` for another route.
pub(crate) fn fuzzing_body(
    route: &str,
    bytes: &[u8],
) -> Option<Result<crate::api::fuzzing::Fields, axum::extract::rejection::JsonRejection>> {
    use crate::api::fuzzing::{optional, required, strict};
    Some(match route {
        "POST /api/stock/receive" => Json::<ReceiveBody>::from_bytes(bytes).map(|Json(q)| {
            let ReceiveBody { file_name, content, place, keeper } = q;
            strict(vec![
                required("file_name", json!(file_name)),
                required("content", json!(content)),
                optional("place", json!(place), json!(null)),
                optional("keeper", json!(keeper), json!(null)),
            ])
        }),
        "POST /api/stock/move" => Json::<MoveBody>::from_bytes(bytes).map(|Json(q)| {
            let MoveBody { cards, to_place, to_site, giver, receiver } = q;
            strict(vec![
                required("cards", json!(cards)),
                optional("to_place", json!(to_place), json!(null)),
                optional("to_site", json!(to_site), json!(null)),
                required("giver", json!(giver)),
                required("receiver", json!(receiver)),
            ])
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::list_name;

    #[test]
    fn a_list_is_named_by_its_last_path_part_printable_with_its_extension_kept() {
        assert_eq!(list_name("C:\\交付\\2026-12/箱3.xlsx"), "箱3.xlsx");
        assert_eq!(list_name("list\u{1b}[2J.csv"), "list[2J.csv");
        let long = format!("{}.xlsx", "批".repeat(200));
        let named = list_name(&long);
        assert_eq!(named.chars().count(), 120);
        assert!(named.ends_with(".xlsx"), "{named}");
    }
}
