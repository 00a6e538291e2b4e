//! Losses, fees and refusals through the binary (issue #24 item 4), on one simulated counter:
//! a stock card made by `station issue --later` is reported lost by phone (`station
//! temporary-loss`), so it is neither handed over nor a reason for a second card; the holder
//! lifts the loss at the counter (`station lift-loss`); a second temporary loss is made formal
//! (`station report-loss`) and is not lifted; the replacement's fee follows the province's
//! schedule (`card_services` in station.toml) with its receipt (`station replacement-fee`); and
//! a person's refusal (`station refusal`) takes a card off the dormant list. Each step is
//! checked at the province and in the station's ledger.
#![cfg(feature = "sim")]

mod common;

use archive::ProvincialArchive;
use common::counter::Counter;

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn events_of(dir: &std::path::Path, card: &str) -> Vec<String> {
    let local = common::station_db::open(dir, "reader");
    let ledger = local.ledger().expect("ledger");
    ledger.into_iter().filter(|e| e.card_number.as_deref() == Some(card)).map(|e| e.event).collect()
}

#[test]
fn a_card_lost_for_a_while_lifted_lost_for_good_its_fee_and_a_refusal_through_the_binary() {
    let c = Counter::start(2);
    let dir = c.dir.path();
    // The province's own schedule: six days, 15 yuan.
    std::fs::write(
        dir.join("services.toml"),
        "[temporary_loss]\ndays = 6\n[fees]\nreplacement_fen = 1500\nfee_free_categories = [\"extremely-poor\"]\n",
    )
    .expect("schedule");
    let config = std::fs::read_to_string(dir.join("station.toml")).expect("config");
    std::fs::write(dir.join("station.toml"), format!("card_services = \"services.toml\"\n{config}"))
        .expect("config");
    let _serve = c.serve(None);
    let (ssn, other) = (c.ssn(0), c.ssn(1));
    std::fs::write(dir.join("p0.json"), c.people[0].to_string()).expect("applicant");
    let out = c.station("op", &["issue", "--applicant", "p0.json", "--later", "--storage-place", "柜 A"]);
    assert!(out.status.success() && text(&out).contains("in stock"), "{}", text(&out));
    let card = c.province().lookup(&ssn).expect("lookup").cards[0].card_number.clone();

    // By phone: the caller names the holder; another person's number suspends nothing.
    let out = c.station_env("op", &["temporary-loss", &card, "--phone"], &[("STATION_ID_NUMBER", &other)]);
    assert!(!out.status.success() && text(&out).contains("holder"), "{}", text(&out));
    assert!(!text(&out).contains(&other), "no whole ID number: {}", text(&out));
    assert!(c.province().lookup(&ssn).expect("lookup").suspensions.is_empty());
    let out = c.station_env("aud", &["temporary-loss", &card, "--phone"], &[("STATION_ID_NUMBER", &ssn)]);
    assert!(!out.status.success() && text(&out).contains("may not"), "{}", text(&out));
    let out = c.station_env("op", &["temporary-loss", &card, "--phone"], &[("STATION_ID_NUMBER", &ssn)]);
    assert!(out.status.success() && text(&out).contains("reported lost (phone) until"), "{}", text(&out));
    let person = c.province().lookup(&ssn).expect("lookup");
    let s = person.suspensions.first().expect("suspended at the province").clone();
    assert_eq!(s.until - s.since, 6 * 86_400, "the province's schedule, not the built-in five days");
    assert_eq!(person.live_card().map(|l| l.card_number.clone()), Some(card.clone()), "still live (RULE 1)");
    assert_eq!(events_of(dir, &card).last().map(String::as_str), Some("card.loss-reported"));

    // Not handed over while suspended; no second card for the person either.
    std::fs::write(dir.join("sig.png"), [0x89u8; 96]).expect("signature");
    let out = c.station_env(
        "op",
        &["handover", &card, "--holder", "--signature", "sig.png"],
        &[("STATION_ID_NUMBER", &ssn)],
    );
    assert!(!out.status.success() && text(&out).contains("reported lost"), "{}", text(&out));
    let out = c.station("op", &["issue", "--applicant", "p0.json"]);
    assert!(!out.status.success(), "a second card while the first is only suspended: {}", text(&out));

    // The holder at the counter lifts it; the card is handed over then.
    let out = c.station_env("op", &["lift-loss", &card], &[("STATION_ID_NUMBER", &ssn)]);
    assert!(!out.status.success(), "the ID is checked first: {}", text(&out));
    let out = c.station_env("op", &["lift-loss", &card, "--id-checked"], &[("STATION_ID_NUMBER", &ssn)]);
    assert!(out.status.success() && text(&out).contains("loss lifted"), "{}", text(&out));
    assert!(c.province().lookup(&ssn).expect("lookup").suspensions.is_empty());
    let out = c.station_env(
        "op",
        &["handover", &card, "--holder", "--signature", "sig.png"],
        &[("STATION_ID_NUMBER", &ssn)],
    );
    assert!(out.status.success() && text(&out).contains("handed over to the holder"), "{}", text(&out));

    // Lost again at the counter, then for good: stopped, never lifted.
    let at_counter = ["temporary-loss", &card, "--at-counter", "--id-checked"];
    let out = c.station_env("op", &at_counter, &[("STATION_ID_NUMBER", &ssn)]);
    assert!(out.status.success(), "{}", text(&out));
    let out = c.station("op", &["report-loss", &card]);
    assert!(out.status.success() && text(&out).contains("stopped"), "{}", text(&out));
    let person = c.province().lookup(&ssn).expect("lookup");
    assert!(person.live_card().is_none() && person.suspensions.is_empty(), "{person:?}");
    let out = c.station_env("op", &["lift-loss", &card, "--id-checked"], &[("STATION_ID_NUMBER", &ssn)]);
    assert!(!out.status.success() && text(&out).contains("made formal"), "{}", text(&out));
    let events = events_of(dir, &card);
    let tail: Vec<&str> = events.iter().rev().take(3).rev().map(String::as_str).collect();
    assert_eq!(tail, ["card.handed_over", "card.loss-reported", "card.stopped"], "{events:?}");

    // The replacement's fee: the first is free, by RULE 7, with a receipt.
    let out = c.station("op", &["replacement-fee", &card]);
    assert!(out.status.success() && text(&out).contains("first replacement is free"), "{}", text(&out));
    assert!(text(&out).contains("receipt S-TEST-"), "{}", text(&out));
    assert_eq!(events_of(dir, &card).last().map(String::as_str), Some("card.fee"));

    // A second person's stock card, whose holder refuses the card change: off the dormant list.
    std::fs::write(dir.join("p1.json"), c.people[1].to_string()).expect("applicant");
    let out = c.station("op", &["issue", "--applicant", "p1.json", "--later", "--storage-place", "柜 A"]);
    assert!(out.status.success(), "{}", text(&out));
    let second = c.province().lookup(&other).expect("lookup").cards[0].card_number.clone();
    let dormant = || text(&c.station("op", &["stock", "--dormant=-1"]));
    assert!(dormant().contains(&second), "{}", dormant());
    let out = c.station("op", &["refusal", &second, "--what", "card-change"]);
    assert!(!out.status.success() && text(&out).contains("rule 8"), "{}", text(&out));
    let out =
        c.station("op", &["refusal", &second, "--what", "card-change", "--by-person", "--note", "不换卡"]);
    assert!(
        out.status.success() && text(&out).contains("refusal of the card-change recorded"),
        "{}",
        text(&out)
    );
    assert!(!dormant().contains(&second), "{}", dormant());
    assert_eq!(events_of(dir, &second).last().map(String::as_str), Some("card.refused-by-holder"));
}
