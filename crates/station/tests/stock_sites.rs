//! Cards made elsewhere, end to end through the binary on one simulated counter: the
//! card-making centre (another station of the same province, here the provincial SQLite file
//! opened as `CENTRE`) makes and delivers cards; `station stock receive` takes in its delivery
//! list (UTF-8 and GBK), refusing a card delivered to another station, a bad row and a card
//! taken in twice, each with its reason; `station stock move` hands a card to an agent site
//! signed by both sides; a received card is handed over and activated, another recalled after two failed
//! hand-overs, and the dormant list and the reconciliation know them as cards made here.
//! An application taken for an agent site: its card made in a batch, overdue past 15 working
//! days (a holiday in the window, a year without its notice reported), moved to the site, its
//! holder's pickup SMS recorded by the SMS gateway simulator exactly once, also after moving it
//! away and back and after a restart.
#![cfg(feature = "sim")]

mod common;

use archive::ProvincialArchive;
use common::counter::{calendar_with_a_holiday, centre_card, Counter, SITE};

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn cards_made_elsewhere_are_taken_in_moved_to_a_site_handed_over_and_recalled() {
    let c = Counter::start_with(0, 0.0, "ssc-3g-sim.toml", SITE);
    let _serve = c.serve(None);
    let dir = c.dir.path();
    let centre =
        archive::SqliteProvincial::open(dir.join("provincial.db"), "CENTRE", 'C').expect("the centre's view");
    let cards: Vec<_> = (0..3).map(|i| centre_card(&centre, i, "S-TEST")).collect();
    // Another station in service (the province delivers only to stations it has seen).
    archive::SqliteProvincial::open(dir.join("provincial.db"), "S-OTHER", 'O').expect("S-OTHER connects");
    let elsewhere = centre_card(&centre, 3, "S-OTHER");
    // The card-making centre's list names each card's bank and financial account (开户银行, 金融账号),
    // which the bank opened: the station activates the card through that bank.
    let pan = |card: &str| {
        let body = format!("621226{:0>12}", &card[1..8]);
        format!("{body}{}", emv_cps::crypto::luhn_digit(&body).expect("digits"))
    };
    let row = |(card, ssn, id): &(String, String, String), name: &str| {
        format!("{card},{ssn},{name},{id},P2026-07,3,1,工商银行,{}\n", pan(card))
    };
    let header = "社会保障卡号,身份证号,姓名,卡识别码,批次号,箱号,位置,开户银行,金融账号\n";

    // A UTF-8 list: one good card, one delivered to another station, one with a broken number.
    let list = format!(
        "{header}{}{}B00000018,{},王五,,P2026-07,3,9,,\n",
        row(&cards[0], "中心零"),
        row(&elsewhere, "中心三"),
        cards[1].1
    );
    std::fs::write(dir.join("list.csv"), list).expect("list");
    let out = c.station("sup", &["stock", "receive", "list.csv"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&format!("IN      row 2    {}", cards[0].0)), "{said}");
    assert!(said.contains("not delivered to this station (it is for station S-OTHER)"), "{said}");
    assert!(said.contains("row 4") && said.contains("check character"), "{said}");
    assert!(!said.contains(&cards[0].1) && !said.contains(&elsewhere.1), "no full ID number: {said}");
    assert!(said.contains("1 cards taken in, 2 rows refused"), "{said}");
    let out = c.station("op", &["stock", "receive", "list.csv"]);
    assert!(text(&out).contains("may not"), "an operator takes in no cards: {}", text(&out));

    // A GBK list as Excel saves it: two new cards and the first one again.
    let list = format!(
        "{header}{}{}{}",
        row(&cards[1], "中心一"),
        row(&cards[2], "中心二"),
        row(&cards[0], "中心零")
    );
    let (gbk, _, _) = encoding_rs::GBK.encode(&list);
    std::fs::write(dir.join("list-gbk.csv"), &gbk).expect("gbk");
    let said = text(&c.station("sup", &["stock", "receive", "list-gbk.csv"]));
    assert!(said.contains("2 cards taken in, 1 rows refused"), "{said}");
    assert!(said.contains("in this station's records already"), "{said}");
    assert!(said.contains("中心一"), "the names read from GBK: {said}");

    // The stock lists them at the station's safe, kept by the supervisor who took them in.
    let said = text(&c.station("op", &["stock"]));
    assert!(said.contains(&cards[2].0) && said.contains("(sup)"), "{said}");

    // To the agent site, signed by both sides; only the keeper gives a card on.
    let out = c.station(
        "sup",
        &["stock", "move", &cards[0].0, "--to-site", "T03", "--giver", "op", "--receiver", "王站长"],
    );
    assert!(!out.status.success() && text(&out).contains("kept by sup"), "{}", text(&out));
    let out = c.station(
        "sup",
        &["stock", "move", &cards[0].0, "--to-site", "T03", "--giver", "sup", "--receiver", "王站长"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("龙街镇便民服务中心 (site T03), kept by 王站长"), "{}", text(&out));
    // No SMS gateway here, and no phone for a card made elsewhere: the supervisor is told.
    assert!(text(&out).contains("tell the holder another way"), "{}", text(&out));
    let (http, token) = c.login("sup");
    let notices: serde_json::Value = http
        .get(format!("{}/api/sms/notices", c.api))
        .bearer_auth(&token)
        .send()
        .expect("notices")
        .json()
        .expect("json");
    assert_eq!(notices["no_phone"][0]["card_number"], cards[0].0.as_str(), "{notices}");
    let out = c.station(
        "sup",
        &["stock", "move", &cards[0].0, "--to-site", "T99", "--giver", "王站长", "--receiver", "x"],
    );
    assert!(text(&out).contains("no agent site \"T99\""), "{}", text(&out));

    // A received card is handed over to its holder as one made here.
    std::fs::write(dir.join("sig.png"), [0x89u8; 96]).expect("signature");
    let out = c.station_env(
        "op",
        &["handover", &cards[1].0, "--holder", "--signature", "sig.png"],
        &[("STATION_ID_NUMBER", &cards[1].1)],
    );
    assert!(out.status.success(), "{}", text(&out));
    // And its financial function is activated face to face through its bank, as one made here.
    // The bank opened the account for the card (the simulated bank is told, as the centre's bank
    // would be); no application here: the ID document's validity is read off the document now.
    let account = serde_json::json!({"card_number": cards[1].0, "bank_code": "ICBC", "pan": pan(&cards[1].0),
        "holder_name": "中心一", "id_number": cards[1].1});
    let opened = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sim/accounts", c.bank))
        .json(&account)
        .send()
        .expect("the simulated bank");
    assert_eq!(opened.status(), 201);
    let activate = ["activate", &cards[1].0, "--holder-present", "--id-checked"];
    let out = c.station("op", &activate);
    assert!(!out.status.success() && text(&out).contains("id_valid_until"), "{}", text(&out));
    let out = c.station("op", &[&activate[..], &["--id-valid-until", "长期"]].concat());
    assert!(out.status.success() && text(&out).contains("active at"), "{}", text(&out));
    // Another is recalled after two failed hand-overs (the province lets this station: it
    // answers for the card since it took it in).
    for reason in ["不在家", "已外出务工"] {
        let out = c.station("op", &["handover", &cards[2].0, "--failed", reason]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let said = text(&c.station("op", &["stock", "--dormant", "0"]));
    assert!(said.contains(&cards[2].0) && said.contains("(2 failed hand-overs)"), "{said}");
    let out = c.station("sup", &["recall", &cards[2].0]);
    assert!(out.status.success(), "{}", text(&out));
    let province = c.province();
    let status = |n: usize| {
        let p = province.lookup(&cards[n].1).expect("lookup");
        (p.cards[0].status, p.cards[0].station.clone())
    };
    assert_eq!(status(2), (archive::CardStatus::Recalled, "S-TEST".to_string()));
    assert_eq!(status(0).1, "S-TEST", "the station answers for the cards it took in");

    // The ledger has each movement, and ledger = local archive = province.
    let ledger = text(&c.station("aud", &["ledger", "--json"]));
    assert_eq!(ledger.matches("card.received").count(), 3, "{ledger}");
    assert_eq!(ledger.matches("card.moved").count(), 1, "{ledger}");
    // The statistics for the bureau, as a CSV file: three cards taken in, one handed over, one
    // still in stock (at the site); an operator may not read them.
    let out = c.station("aud", &["stats", "--out", "stats.csv"]);
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(dir.join("stats.csv")).expect("stats.csv");
    let total: Vec<&str> = csv.lines().find(|l| l.starts_with("合计")).expect("totals").split(',').collect();
    assert_eq!(total[3..6], ["0", "3", "1"], "made, received, issued: {csv}");
    assert_eq!(total[9], "1", "in stock: {csv}");
    assert!(!csv.contains(&cards[1].1), "no full ID number: {csv}");
    let out = c.station("sup", &["stats", "--out", "stats.xlsx"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(dir.join("stats.xlsx")).expect("stats.xlsx").starts_with(b"PK"), "a zip");
    assert!(text(&c.station("op", &["stats"])).contains("may not"));
    let out = c.station("sup", &["reconcile"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `station sim sms` on a free port: the process and its URL.
fn sms_simulator() -> (common::counter::Proc, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(common::counter::STATION)
        .args(["sim", "sms", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("station sim sms");
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut url).expect("url");
    (common::counter::Proc(child), url.trim().to_string())
}

/// What the simulator took.
fn sms_sent(url: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        reqwest::blocking::get(format!("{url}/v1/messages")).expect("list").json().expect("json");
    v.as_array().cloned().or_else(|| v["messages"].as_array().cloned()).unwrap_or_default()
}

/// Waits until the simulator holds `n` messages (the station's worker sends right after a move).
fn wait_sent(url: &str, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let sent = sms_sent(url);
        if sent.len() >= n || std::time::Instant::now() > deadline {
            return sent;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_site_application_is_tracked_to_its_site_and_its_holder_told_once_by_sms() {
    use applicant::days;
    let (_sms, sms_url) = sms_simulator();
    let sms = format!(
        "\n[sms]\nurl = \"{sms_url}\"\naccount = \"S-TEST\"\nsecret_file = \"sms-secret\"\nsignature = \"某某县人社局\"\nretry_seconds = 1\n"
    );
    let c = Counter::start_with(3, 0.0, "ssc-3g-sim.toml", &format!("{SITE}{sms}"));
    let dir = c.dir.path();
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join("sms-secret"))
            .expect("secret");
        f.write_all(b"s3cret\n").expect("secret");
    }
    let today = days::today();
    let (holidays, holiday) = calendar_with_a_holiday(today);
    std::fs::write(dir.join("holidays.toml"), &holidays).expect("calendar");
    let config = std::fs::read_to_string(dir.join("station.toml")).expect("config");
    std::fs::write(
        dir.join("station.toml"),
        config.replacen("data_dir", "holiday_calendar = \"holidays.toml\"\ndata_dir", 1),
    )
    .expect("config");
    let cal = workdays::Calendar::builtin().with_file(&dir.join("holidays.toml")).expect("calendar");
    let deadline = cal.add_working_days(today, 15).expect("deadline");
    assert!(holiday > today && holiday <= deadline, "the holiday {holiday} is in the window to {deadline}");
    let judged_on = cal.add_working_days(deadline, 2).expect("two working days later");
    let serve = c.serve(None);

    // The application for the site, its card made in a batch (to stock by default).
    std::fs::write(dir.join("site.json"), serde_json::to_string(&[&c.people[0]]).expect("json"))
        .expect("batch");
    let out = c.station("op", &["batch", "--site", "T03", "site.json"]);
    assert!(out.status.success(), "{}", text(&out));
    let ssn = c.ssn(0);
    let card = c.province().lookup(&ssn).expect("lookup").cards[0].card_number.clone();

    // Overdue two working days after its deadline (the holiday counted), never guessed
    // where the calendar has no notice.
    let overdue = |on: &str| c.station("aud", &["sites", "overdue", "--on", on]);
    let out = overdue(&judged_on.to_string());
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("T03 龙街镇便民服务中心: 1 waiting, 1 overdue"), "{said}");
    assert!(
        said.contains(&format!("card {card:<12} applied {today} deadline {deadline}: 2 working days late")),
        "{said}"
    );
    assert!(!said.contains(&ssn), "no full ID number: {said}");
    let out = overdue(&deadline.to_string());
    assert!(text(&out).contains("1 waiting, 0 overdue"), "{}", text(&out));
    let said = text(&overdue("2999-06-01"));
    assert!(said.contains("NOT JUDGED") && said.contains(&format!("{}年", today.year() + 2)), "{said}");
    let out = c.station("sup", &["sites", "overdue", "--on", "not-a-date"]);
    assert!(!out.status.success() && text(&out).contains("YYYY-MM-DD"), "{}", text(&out));

    // At the site: the holder's notice goes out once, and the application is no longer owed.
    // The gateway takes the message but its answer is lost: the station retries (a second later,
    // `retry_seconds`) and the gateway answers the repeat with the first receipt.
    sms_faults(&sms_url, r#"{"lose_answers": 1}"#);
    let out = c.station(
        "sup",
        &["stock", "move", &card, "--to-site", "T03", "--giver", "op", "--receiver", "王站长"],
    );
    assert!(out.status.success() && text(&out).contains("SMS queued"), "{}", text(&out));
    let sent = wait_sent(&sms_url, 1);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message = &sent[0]["message"];
    let sms_text = message["text"].as_str().expect("text");
    assert_eq!(message["to"], "13800138000");
    assert_eq!(message["key"], format!("pickup:{card}:T03").as_str());
    for part in
        ["【某某县人社局】测*", "龙街镇便民服务中心", "周一至周五 9:00-12:00", "本人居民身份证", &ssn[14..]]
    {
        assert!(sms_text.contains(part), "{part}: {sms_text}");
    }
    assert!(!sms_text.contains(&ssn) && !sms_text.contains(&ssn[..14]), "no full ID number: {sms_text}");
    let notices = wait_notices(&c, |n| n["sent"] == 1);
    assert_eq!(notices["messages"].as_array().map(Vec::len), Some(0), "sent after the retry: {notices}");
    assert_eq!(sms_sent(&sms_url).len(), 1, "the retry did not send twice");
    assert!(overdue(&judged_on.to_string()).status.success(), "delivered: nothing overdue");

    // Away and back, then a restart: still one message.
    let away = c.station(
        "sup",
        &["stock", "move", &card, "--to", "站内保管柜", "--giver", "王站长", "--receiver", "sup"],
    );
    assert!(away.status.success(), "{}", text(&away));
    let back = c.station(
        "sup",
        &["stock", "move", &card, "--to-site", "T03", "--giver", "sup", "--receiver", "王站长"],
    );
    assert!(back.status.success(), "{}", text(&back));
    drop(serve);
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "the station stopped cleanly: {log}");
    let serve = c.serve(None);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(sms_sent(&sms_url).len(), 1, "never twice");
    let notices = wait_notices(&c, |n| n["sent"] == 1);
    assert_eq!(notices["messages"].as_array().map(Vec::len), Some(0), "{notices}");

    // Two more holders' cards reach the site while the gateway is down, and the station is
    // killed (SIGKILL) before it could send: the second's notice is in the outbox; the third's
    // line is taken out, as if the power had gone between the move's commit and the journal.
    // The restarted station journals the missing notice and sends both, once each.
    std::fs::write(dir.join("site2.json"), serde_json::to_string(&c.people[1..3]).expect("json"))
        .expect("batch");
    let out = c.station("op", &["batch", "--site", "T03", "site2.json"]);
    assert!(out.status.success(), "{}", text(&out));
    let card_of = |i: usize| c.province().lookup(&c.ssn(i)).expect("lookup").cards[0].card_number.clone();
    let (second, third) = (card_of(1), card_of(2));
    sms_faults(&sms_url, r#"{"outage": 1000}"#);
    for card in [&second, &third] {
        let out = c.station(
            "sup",
            &["stock", "move", card, "--to-site", "T03", "--giver", "op", "--receiver", "王站长"],
        );
        assert!(out.status.success() && text(&out).contains("SMS queued"), "{}", text(&out));
    }
    wait_notices(&c, |n| n["messages"].as_array().is_some_and(|m| m.len() == 2));
    let killed =
        std::process::Command::new("kill").args(["-KILL", &serve.0.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    drop(serve);
    let outbox_file = dir.join("sms-outbox.jsonl");
    let outbox = std::fs::read_to_string(&outbox_file).expect("the outbox survives");
    assert!(outbox.contains(&format!("pickup:{second}:T03")), "journalled before sending: {outbox}");
    assert!(!outbox.contains(&c.ssn(1)) && !outbox.contains(&c.ssn(2)), "no full ID number in the outbox");
    let third_key = format!("pickup:{third}:T03");
    let without_third: String =
        outbox.lines().filter(|l| !l.contains(&third_key)).map(|l| format!("{l}\n")).collect();
    std::fs::write(&outbox_file, without_third).expect("outbox");
    sms_faults(&sms_url, r#"{"outage": 0}"#);
    let _serve = c.serve(None);
    let sent = wait_sent(&sms_url, 3);
    let keys: std::collections::BTreeSet<&str> =
        sent.iter().filter_map(|m| m["message"]["key"].as_str()).collect();
    let expected = [format!("pickup:{card}:T03"), format!("pickup:{second}:T03"), third_key.clone()];
    assert_eq!(keys, expected.iter().map(String::as_str).collect(), "{sent:?}");
    let notices = wait_notices(&c, |n| n["sent"] == 3);
    assert_eq!(notices["messages"].as_array().map(Vec::len), Some(0), "{notices}");
    assert_eq!(notices["no_phone"].as_array().map(Vec::len), Some(0), "{notices}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(sms_sent(&sms_url).len(), 3, "never twice");
}

/// Sets the SMS simulator's faults.
fn sms_faults(url: &str, faults: &str) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/faults"))
        .header("content-type", "application/json")
        .body(faults.to_string())
        .send()
        .expect("faults");
    assert!(r.status().is_success(), "{faults}: {}", r.status());
}

/// The supervisor's SMS notices once `done` holds of them (20 s at most; the last seen then).
fn wait_notices(c: &Counter, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let (http, token) = c.login("sup");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let notices: serde_json::Value = http
            .get(format!("{}/api/sms/notices", c.api))
            .bearer_auth(&token)
            .send()
            .expect("notices")
            .json()
            .expect("json");
        if done(&notices) || std::time::Instant::now() > deadline {
            return notices;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
