//! Losses and fees over the API (issue #24 item 4): a temporary loss, its lift, a replacement's
//! fee, each checked at the province (the fixture's SQLite archive) and in the station's
//! ledger, not only by its status code.

mod common;

use archive::ProvincialArchive;
use common::{start, stock_card, stock_card_on_form};
use serde_json::json;

fn events_of(f: &common::Fixture, card: &str) -> Vec<String> {
    let ledger = f.local.ledger().expect("ledger");
    ledger.into_iter().filter(|e| e.card_number.as_deref() == Some(card)).map(|e| e.event).collect()
}

#[test]
fn a_temporary_loss_over_the_api_holds_at_the_province_and_here_until_the_holder_lifts_it() {
    let f = start(false);
    let ssn = archive::conformance::fresh_ssn();
    stock_card(&f, &ssn, "张三", "B00000019");
    let (op, aud) = (f.login("op"), f.login("aud"));
    let report = json!({"id_number": ssn, "channel": "phone", "request_key": "call-1"});
    let (st, _) = f.call(&aud, "/api/cards/B00000019/temporary-loss", Some(report.clone()));
    assert_eq!(st, 403, "an auditor records no loss");
    assert!(f.province.lookup(&ssn).expect("lookup").suspensions.is_empty());

    let (st, body) = f.call(&op, "/api/cards/B00000019/temporary-loss", Some(report.clone()));
    assert_eq!(st, 200, "{body}");
    let (since, until) = (body["since"].as_i64().expect("since"), body["until"].as_i64().expect("until"));
    assert_eq!(until - since, 5 * 86_400, "the built-in schedule's five days: {body}");
    assert!(!body.to_string().contains(&ssn), "no whole ID number in an answer: {body}");
    let (st, again) = f.call(&op, "/api/cards/B00000019/temporary-loss", Some(report));
    assert_eq!((st, &again["until"]), (200, &body["until"]), "a retry with the same key: {again}");
    let at_province = f.province.lookup(&ssn).expect("lookup");
    assert_eq!(at_province.suspensions.len(), 1);
    assert_eq!(
        (at_province.suspensions[0].until, at_province.cards[0].status),
        (until, archive::CardStatus::Made)
    );
    assert_eq!(events_of(&f, "B00000019"), ["card.loss-reported"], "one line for one report");
    let (_, detail) = f.call(&aud, "/api/cards/B00000019", None);
    assert_eq!(detail["loss_until"], json!(until), "the card's page says so: {detail}");
    let (st, body) = f.call(
        &op,
        "/api/cards/B00000019/temporary-loss",
        Some(json!({"id_number": ssn, "channel": "counter", "id_checked": true})),
    );
    assert_eq!(st, 409, "reported already: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("reported lost already")), "{body}");

    let lift = json!({"id_number": ssn, "id_checked": false});
    let (st, _) = f.call(&op, "/api/cards/B00000019/lift-loss", Some(lift));
    assert_eq!(st, 422, "the holder's ID is checked first");
    let other = archive::conformance::fresh_ssn();
    let (st, body) =
        f.call(&op, "/api/cards/B00000019/lift-loss", Some(json!({"id_number": other, "id_checked": true})));
    assert_eq!(st, 409, "another person's ID: {body}");
    assert!(!body.to_string().contains(&other) && !body.to_string().contains(&ssn), "{body}");
    assert_eq!(f.province.lookup(&ssn).expect("lookup").suspensions.len(), 1, "still in force");
    let (st, body) =
        f.call(&op, "/api/cards/B00000019/lift-loss", Some(json!({"id_number": ssn, "id_checked": true})));
    assert_eq!(st, 200, "{body}");
    assert!(f.province.lookup(&ssn).expect("lookup").suspensions.is_empty(), "lifted at the province");
    assert_eq!(events_of(&f, "B00000019"), ["card.loss-reported", "card.loss-lifted"]);
    let (_, detail) = f.call(&aud, "/api/cards/B00000019", None);
    assert_eq!(detail["loss_until"], json!(null), "{detail}");
    f.local.verify_ledger().expect("the chain holds");
}

#[test]
fn a_replacement_fee_is_waived_or_charged_by_the_schedule_with_a_receipt() {
    let f = start(false);
    let ssn = archive::conformance::fresh_ssn();
    stock_card(&f, &ssn, "张三", "B00000019");
    let (op, aud) = (f.login("op"), f.login("aud"));
    let (st, schedule) = f.call(&aud, "/api/card-services", None);
    assert_eq!(
        (st, &schedule["temporary_loss_days"], &schedule["replacement_fen"]),
        (200, &json!(5), &json!(2000))
    );
    let (st, _) = f.call(&aud, "/api/cards/B00000019/replacement-fee", Some(json!({})));
    assert_eq!(st, 403);
    let (st, first) = f.call(&op, "/api/cards/B00000019/replacement-fee", Some(json!({})));
    assert_eq!(st, 200, "{first}");
    assert_eq!((&first["fen"], &first["fee"]["waiver"]), (&json!(0), &json!("first-replacement")), "{first}");
    let receipt = first["receipt"].as_str().expect("receipt");
    let line = f.local.ledger().expect("ledger").pop().expect("entry");
    assert_eq!((line.event.as_str(), format!("S1-{:08}", line.seq)), ("card.fee", receipt.to_string()));
    let (_, again) = f.call(&op, "/api/cards/B00000019/replacement-fee", Some(json!({})));
    assert_eq!(again["receipt"], first["receipt"], "recorded once per card");
    // The category is the one on the holder's form, never one the request names.
    let named = f
        .http
        .post(format!("{}/api/cards/B00000019/replacement-fee", f.base))
        .bearer_auth(&op)
        .json(&json!({"category": "extremely-poor"}))
        .send()
        .expect("fee");
    assert_eq!(named.status(), 422);
    assert!(named.text().expect("text").contains("category"), "the refusal names the field");
    let form = r#"{"holder": {}, "insurance": {"category": "minimum-living-allowance"}}"#;
    stock_card_on_form(&f, &archive::conformance::fresh_ssn(), "李四", "B00000027", form);
    let (st, waived) = f.call(&op, "/api/cards/B00000027/replacement-fee", Some(json!({})));
    assert_eq!(st, 200, "{waived}");
    assert_eq!(
        (&waived["fen"], &waived["fee"]["waiver"], &waived["fee"]["category"]),
        (&json!(0), &json!("fee-free-category"), &json!("minimum-living-allowance")),
        "{waived}"
    );
}

#[test]
fn a_persons_refusal_is_recorded_as_theirs_and_the_dormant_list_stops_chasing_it() {
    let f = start(false);
    let ssn = archive::conformance::fresh_ssn();
    stock_card(&f, &ssn, "张三", "B00000019");
    let (op, aud) = (f.login("op"), f.login("aud"));
    let dormant = |who: &str| {
        let (st, body) = f.call(who, "/api/cards/dormant?days=-1", None);
        assert_eq!(st, 200, "{body}");
        body["cards"].as_array().expect("cards").iter().map(|c| c["card_number"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(dormant(&aud), [json!("B00000019")], "a stock card is chased");
    let by_operator = json!({"what": "card-change", "chosen_by": "operator"});
    let (st, body) = f.call(&op, "/api/cards/B00000019/refusal", Some(by_operator));
    assert_eq!(st, 422, "RULE 8: {body}");
    let (st, _) = f.call(
        &aud,
        "/api/cards/B00000019/refusal",
        Some(json!({"what": "card-change", "chosen_by": "person"})),
    );
    assert_eq!(st, 403);
    assert_eq!(dormant(&aud), [json!("B00000019")], "nothing recorded by the refusals");
    let by_person = json!({"what": "card-change", "chosen_by": "person", "date": "2026-12-06", "note": "keeps the old card"});
    let (st, body) = f.call(&op, "/api/cards/B00000019/refusal", Some(by_person));
    assert_eq!(st, 200, "{body}");
    assert!(dormant(&aud).is_empty(), "no longer chased");
    let (_, list) = f.call(&aud, "/api/cards/refusals", None);
    assert_eq!(list["refusals"][0]["date"], "2026-12-06", "{list}");
    assert_eq!(list["refusals"][0]["recorded_by"], "op", "{list}");
    let (_, detail) = f.call(&aud, "/api/cards/B00000019", None);
    assert_eq!(detail["refusals"][0]["what"], "card-change", "{detail}");
    let line = f.local.ledger().expect("ledger").pop().expect("entry");
    assert_eq!(
        (line.event.as_str(), line.card_number.as_deref()),
        ("card.refused-by-holder", Some("B00000019"))
    );
    assert!(line.detail.contains("\"chosen_by\":\"person\""), "{line:?}");
}

#[test]
fn a_loss_reported_at_another_stations_counter_stops_the_hand_over_here() {
    let f = start(false);
    let ssn = archive::conformance::fresh_ssn();
    stock_card(&f, &ssn, "张三", "B00000019");
    let op = f.login("op");
    let other = archive::SqliteProvincial::open(f.dir.path().join("provincial.db"), "S2", 'B').expect("S2");
    let mut at_s2 =
        archive::conformance::suspend_request("B00000019", &ssn, archive::LossChannel::Counter, 600);
    at_s2.request_id = "s2-loss-1".into();
    other.suspend_card(&at_s2).expect("the holder reports it at S2's counter");
    let signature = format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(12));
    let handover = json!({"delivered": true, "signer": "张三", "signature_png": signature,
        "receiver": {"kind": "holder", "id_number": ssn}});
    let (st, body) = f.call(&op, "/api/cards/B00000019/handover", Some(handover.clone()));
    assert_eq!(st, 409, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("reported lost at station S2")), "{body}");
    assert_eq!(
        f.local.card_status("B00000019").expect("status"),
        Some(archive::CardStatus::Made),
        "not handed over"
    );
    assert!(!events_of(&f, "B00000019").contains(&"card.handed_over".to_string()));
    // The holder lifts it here, ID checked: the card is handed over.
    let (st, body) =
        f.call(&op, "/api/cards/B00000019/lift-loss", Some(json!({"id_number": ssn, "id_checked": true})));
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["reported_at"], "S2", "{body}");
    let (st, body) = f.call(&op, "/api/cards/B00000019/handover", Some(handover));
    assert_eq!(st, 200, "{body}");
    assert_eq!(f.local.card_status("B00000019").expect("status"), Some(archive::CardStatus::Issued));
}
