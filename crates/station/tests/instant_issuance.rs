//! FLOW A end to end on the simulators, as processes: `station sim counter` (a private pcscd
//! with the chip inside the simulated printer on a pty, the PSAM, the verification service)
//! and `station serve --config` driving it. The station is killed with SIGKILL right after
//! every journal line of the job and started again: the job finishes or is rolled back, no
//! card number is lost or repeated, the ledger matches the archives. One pcscd at a time
//! (nextest group `pcsc-stack`).

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use archive::ProvincialArchive;
use common::counter::{Counter, STATION};

const BOUNDARIES: [&str; 13] = [
    "accept",
    "archive-check",
    "claim",
    "stop-old-card",
    "verify-identity",
    "feed-card",
    "personalise-financial",
    "print-face",
    "personalise-ssc",
    "verify-chip",
    "commit",
    "eject",
    "hand-over",
];

/// A PNG-sized signature, as the counter's pad would send it.
fn signature() -> String {
    format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(12))
}

/// Hands the card of person `k` to them at the counter, their ID checked (the station may die
/// in the middle: the answer is not awaited then).
fn hand_over(c: &Counter, k: usize, card: &str) -> Option<reqwest::blocking::Response> {
    let (http, token) = c.login("op");
    let body = serde_json::json!({"delivered": true, "signature_png": signature(),
        "receiver": {"kind": "holder", "id_number": c.ssn(k)}});
    http.post(format!("{}/api/cards/{card}/handover", c.api)).bearer_auth(&token).json(&body).send().ok()
}

#[test]
fn kill_9_at_every_step_boundary_then_restart() {
    let _one = common::serial();
    let c = Counter::start(2 * BOUNDARIES.len() + 1);
    let mut issued = Vec::new();
    let mut job = 0;
    for (k, crash) in BOUNDARIES.iter().flat_map(|s| [format!("{s}:begin"), format!("{s}:done")]).enumerate()
    {
        job += 1;
        // The hand-over's lines are written when the holder signs, through the API.
        let at_hand_over = crash.starts_with("hand-over");
        {
            let mut crashing = c.serve(Some(&crash));
            c.issue(k);
            let deadline = Instant::now() + Duration::from_secs(90);
            let local = common::station_db::open(c.dir.path(), "reader");
            let mut signed = false;
            let status = loop {
                if let Some(status) = crashing.0.try_wait().expect("wait") {
                    break Some(status);
                }
                // A job that failed before the boundary ends (rolled back) without crashing.
                if local.job(job).expect("job").is_some_and(|j| j.status != "running") {
                    break None;
                }
                if let Some(card) = issuance::awaiting_handover(&local, job).expect("job state") {
                    if !at_hand_over {
                        break None; // the boundary was not on this job's way
                    }
                    if !signed {
                        hand_over(&c, k, card.card_number.as_deref().expect("card"));
                        signed = true;
                    }
                }
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(c.dir.path().join("serve.log")).unwrap_or_default();
                    panic!(
                        "{crash}: the station did not crash; its log:\n{}",
                        &log[log.len().saturating_sub(3000)..]
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            assert!(
                status.is_some() || !at_hand_over,
                "{crash}: the station died in the middle of the hand-over"
            );
            if let Some(status) = status {
                let signal = std::os::unix::process::ExitStatusExt::signal(&status);
                assert_eq!(signal, Some(9), "{crash}: killed by SIGKILL");
            }
        }
        let _station = c.serve(None);
        let mut status = c.wait_job(job);
        let person = c.province().lookup(&c.ssn(k)).expect("lookup");
        let live: Vec<_> = person.cards.iter().filter(|x| x.status.is_live()).collect();
        if status == "awaiting-handover" {
            // The restart kept the card waiting for its holder: made, not issued, not lost.
            assert_eq!(live.len(), 1, "{crash}: one live card");
            let local = common::station_db::open(c.dir.path(), "reader");
            let card = live[0].card_number.clone();
            assert_eq!(local.card_status(&card).expect("status"), Some(archive::CardStatus::Made), "{crash}");
            let answer = hand_over(&c, k, &card).expect("the hand-over answers");
            assert_eq!(answer.status(), 200, "{crash}: {}", answer.text().unwrap_or_default());
            status = c.wait_job(job);
            assert_eq!(
                local.card_status(&card).expect("status"),
                Some(archive::CardStatus::Issued),
                "{crash}"
            );
        }
        match status.as_str() {
            "done" => {
                assert_eq!(live.len(), 1, "{crash}: one live card");
                issued.push(live[0].card_number.clone());
            }
            "rolled_back" => assert!(live.is_empty(), "{crash}: nothing recorded"),
            other => panic!("{crash}: job ended {other}"),
        }
    }
    assert!(issued.len() >= BOUNDARIES.len(), "most boundaries resume to a card: {issued:?}");
    let unique: BTreeSet<&String> = issued.iter().collect();
    assert_eq!(unique.len(), issued.len(), "no card number twice");
    let expected: BTreeSet<String> =
        (1..=issued.len() as u32).map(|n| archive::card_number('B', n).expect("n")).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), expected, "no number lost");
    let local = common::station_db::open(c.dir.path(), "reader");
    local.verify_ledger().expect("the ledger chain is intact");
    let made = local.ledger().expect("ledger").iter().filter(|e| e.event == "card.made").count();
    assert_eq!(made, issued.len(), "ledger = archives");
    let handed = local.ledger().expect("ledger").iter().filter(|e| e.event == "card.handed_over").count();
    assert_eq!(handed, issued.len(), "each card handed over once, with its signature, across the crashes");
    // RULE 9: the station's logs, journal and ledger never hold a full ID number.
    let log = std::fs::read_to_string(c.dir.path().join("serve.log")).expect("log");
    let ledger: String = local.ledger().expect("ledger").iter().map(|e| e.detail.clone()).collect();
    for i in 0..c.people.len() {
        let ssn = c.ssn(i);
        assert!(!log.contains(&ssn), "a full ID number in the station's log");
        assert!(!ledger.contains(&ssn), "a full ID number in the ledger");
    }
}

#[test]
fn an_instant_card_reads_back_right_and_its_face_shows_the_person() {
    let _one = common::serial();
    let c = Counter::start(1);
    // Stop just before the eject: the card waits in the printer's chip station.
    c.issue_until_crash(0, 1, "eject:begin");
    let out = Command::new(STATION)
        .args(["card", "read", "--json", "--reader", pcsc_stack::USER_CARD_READER])
        .output()
        .expect("card read");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ss = &read["social_security"];
    assert_eq!(ss["ssn"], c.people[0]["holder"]["id_number"]);
    assert_eq!(ss["name"], c.people[0]["holder"]["name"]);
    assert_eq!(ss["card_number"], "B00000019");
    let _station = c.serve(None);
    assert_eq!(c.wait_job(1), "awaiting-handover", "out of the printer, waiting for the holder");
    let png =
        card_face::image::open(c.dir.path().join("printed/card-0001.png")).expect("printed face").to_rgb8();
    assert_eq!((png.width(), png.height()), (1016, 648));
    let skin = png
        .pixels()
        .filter(|p| p.0[0].abs_diff(192) < 12 && p.0[1].abs_diff(128) < 12 && p.0[2].abs_diff(96) < 12)
        .count();
    assert!(skin > 8_000, "the photo is on the face ({skin} skin pixels)");
    let black = png.pixels().filter(|p| p.0.iter().all(|v| *v < 40)).count();
    assert!(black > 5_000, "text and barcode in black ({black} pixels)");
}

#[test]
fn a_photo_gone_before_the_card_is_fed_spoils_no_card_and_loses_no_number() {
    let _one = common::serial();
    let c = Counter::start(2);
    std::fs::remove_file(c.dir.path().join("photos/p0.jpg")).expect("the photo goes");
    let _station = c.serve(None);
    c.issue(0);
    assert_eq!(c.wait_job(1), "rolled_back", "nothing to print the face with");
    let local = common::station_db::open(c.dir.path(), "reader");
    let events: Vec<String> = local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert!(
        !events.iter().any(|e| e == "card.fed" || e == "card.rejected"),
        "no blank card spent: {events:?}"
    );
    let rolled = local.ledger().expect("ledger").into_iter().find(|e| e.event == "application.rolled_back");
    let why = rolled.expect("the rollback is ledgered").detail;
    assert!(why.contains("photo") && why.contains("take the photo again"), "{why}");
    // The claim was released: the next person gets the number.
    c.issue(1);
    assert_eq!(c.wait_job(2), "awaiting-handover");
    assert_eq!(local.card_status("B00000019").expect("status"), Some(archive::CardStatus::Made));
}

/// Personal data at rest, after cards were issued through the binary with the database key in
/// the token: station.db (and its WAL) has no SQLite header and none of the applicants' names
/// or ID numbers in clear; the holder's signature and a photo the station kept are sealed on
/// disk (no PNG or JPEG magic, no plaintext), and the page still gets the photo back whole.
fn at_rest_checks(c: &Counter) {
    let dir = c.dir.path();
    let mut raw = std::fs::read(dir.join("station.db")).expect("station.db");
    raw.extend(std::fs::read(dir.join("station.db-wal")).unwrap_or_default());
    assert!(!raw.starts_with(b"SQLite format 3"), "station.db is encrypted");
    assert!(!archive::local::is_plaintext_database(&dir.join("station.db")));
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    for (i, person) in c.people.iter().enumerate() {
        let name = person["holder"]["name"].as_str().expect("name");
        assert!(!contains(&raw, name.as_bytes()), "person {i}'s name in clear in station.db");
        assert!(!contains(&raw, c.ssn(i).as_bytes()), "person {i}'s ID number in clear in station.db");
    }
    assert!(!contains(&raw, b"card.handed_over"), "no ledger text in clear");
    // The key file: only the wrapped key, private.
    let key_file = dir.join(station::db_key::KEY_FILE);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).expect("key file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let key = common::station_db::key(dir);
    let key_hex: String = key.bytes().iter().map(|b| format!("{b:02x}")).collect();
    let key_text = std::fs::read_to_string(&key_file).expect("key file").to_ascii_lowercase();
    assert!(!key_text.contains(&key_hex) && !contains(&raw, key.bytes()));
    let log = std::fs::read(dir.join("serve.log")).unwrap_or_default();
    assert!(!contains(&log, key_hex.as_bytes()) && !contains(&log, key.bytes()), "no key in the log");

    // The holder's signature, kept as evidence.
    let evidence: Vec<_> = std::fs::read_dir(dir.join("evidence"))
        .expect("evidence")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("-signature-")))
        .collect();
    assert!(!evidence.is_empty(), "a signature was kept");
    for path in &evidence {
        let bytes = std::fs::read(path).expect("evidence file");
        assert!(
            archive::at_rest::is_sealed(&bytes) && !contains(&bytes, &[0x89u8; 16]),
            "{}",
            path.display()
        );
    }

    // A photo the applicant brought, kept by the station: sealed on disk, whole for the page.
    let jpeg = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../photo/testdata/frames/pass_640x480.jpg"),
    )
    .expect("a photo file");
    let (http, token) = c.login("op");
    let verdict: serde_json::Value = http
        .post(format!("{}/api/photo/upload", c.api))
        .bearer_auth(&token)
        .header("content-type", "image/jpeg")
        .body(jpeg.clone())
        .send()
        .expect("upload")
        .json()
        .expect("verdict");
    let stored = verdict["photo"].as_str().expect("kept").trim_start_matches("photos/").to_string();
    let on_disk = std::fs::read(dir.join("photos").join(&stored)).expect("photo file");
    assert!(!on_disk.starts_with(&[0xFF, 0xD8]) && archive::at_rest::is_sealed(&on_disk));
    let back = http
        .get(format!("{}/api/photos/{stored}", c.api))
        .bearer_auth(&token)
        .send()
        .expect("thumbnail")
        .bytes()
        .expect("bytes");
    assert!(
        back.starts_with(&[0xFF, 0xD8, 0xFF]) && back.len() > 1000,
        "the page gets the card photo, a JPEG"
    );
    assert!(!contains(&on_disk, &back[..64]) && !contains(&on_disk, &back[back.len() - 64..]));
    assert!(!contains(&on_disk, b"JFIF") && !contains(&on_disk, &jpeg[..64]));
    // Sealed under its name: put in another photo's place, it does not open.
    std::fs::copy(dir.join("photos").join(&stored), dir.join("photos/capture-moved.jpg")).expect("copy");
    let moved = http
        .get(format!("{}/api/photos/capture-moved.jpg", c.api))
        .bearer_auth(&token)
        .send()
        .expect("thumbnail");
    assert_eq!(moved.status(), 422);
}

fn local_status(dir: &std::path::Path, card: &str) -> Option<archive::CardStatus> {
    let local = common::station_db::open(dir, "reader");
    local.card_status(card).expect("status")
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn batch_reissue_deceased_and_the_cards_life_through_the_binary() {
    let _one = common::serial();
    // The ledger's MAC key and the database wrapping key in a token of its own (SoftHSM2), as
    // on a counter.
    let token = tempfile::tempdir().expect("tmp");
    let keys = common::counter::station_keys_in_token(token.path());
    let mut c = Counter::start_with(4, 0.0, "ssc-3g-sim.toml", &keys);
    // The serving bank each person chose (RULE 8); person 3 chose none.
    c.people[0]["bank"] = "ABC".into();
    c.people[1]["bank"] = "ICBC".into();
    let station = c.serve(None);
    let dir = c.dir.path();

    // A batch of two through the API, with its return file: the holders are not here, so the
    // cards go to stock at the place named, with the person responsible, in the ledger.
    let lines: Vec<String> = [0, 1, 3].iter().map(|i| c.people[*i].to_string()).collect();
    std::fs::write(dir.join("batch.jsonl"), lines.join("\n")).expect("batch file");
    let out =
        c.station("op", &["batch", "batch.jsonl", "--storage-place", "东城网点保管柜", "--keeper", "王主管"]);
    assert!(out.status.success(), "{}", text(&out));
    // Off a terminal (a pipe here, journald at a counter) progress is one plain line per event.
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("card 1/3: step 8/13 print-face done\n")
            && progress.contains("card 2/3: made card B00000027, in stock\n"),
        "{progress}"
    );
    let out = c.station("op", &["stock"]);
    assert!(
        out.status.success()
            && text(&out).contains("B00000027")
            && text(&out).contains("东城网点保管柜 (王主管)"),
        "{}",
        text(&out)
    );
    assert!(!progress.contains('\r') && !progress.contains('\x1b'), "{progress:?}");
    let ret = std::fs::read_to_string(dir.join("batch.return.csv")).expect("return file");
    let rows: Vec<Vec<&str>> = ret.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3, "{ret}");
    assert_eq!((rows[0][1], rows[1][1]), ("B00000019", "B00000027"), "{ret}");
    assert_eq!((rows[0][2], rows[1][2]), (c.ssn(0).as_str(), c.ssn(1).as_str()));
    assert!(
        rows.iter().all(|r| r[6].starts_with("110100") && !r[7].is_empty() && r[11].is_empty()),
        "card id, ATR, no failure: {ret}"
    );
    assert_eq!((rows[0][10], rows[1][10]), ("1-001", "1-002"));
    assert!(
        rows.iter().all(|r| r[4].len() == 8 && r[5].len() == 8 && r[5] > r[4]),
        "issue and expiry dates: {ret}"
    );

    // A stock card whose holder does not come: two hand-overs fail with their reasons, it is
    // listed dormant, and only a supervisor recalls it (RULE 6), at the province too; its
    // application closes, so the person may apply again.
    for reason in ["电话无人接听", "地址已搬迁"] {
        let out = c.station("op", &["handover", "B00000035", "--failed", reason]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = c.station("op", &["stock", "--dormant", "0"]);
    assert!(
        text(&out).contains("B00000035") && text(&out).contains("(2 failed hand-overs)"),
        "{}",
        text(&out)
    );
    assert!(!c.station("op", &["recall", "B00000035"]).status.success(), "operators do not recall");
    let out = c.station("sup", &["recall", "B00000035"]);
    assert!(out.status.success(), "{}", text(&out));
    let stocked = common::station_db::open(dir, "reader");
    let recalled = stocked.card("B00000035").expect("card").expect("recorded");
    assert_eq!(recalled.status, archive::CardStatus::Recalled);
    assert_eq!(
        stocked.application(recalled.application_id).expect("row").map(|a| a.0),
        Some("cancelled".into())
    );
    let story: Vec<String> = stocked
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.card_number.as_deref() == Some("B00000035"))
        .map(|e| e.event)
        .collect();
    assert_eq!(
        story,
        [
            "card.fed",
            "card.printed",
            "card.personalised",
            "card.made",
            "card.ejected",
            "card.stocked",
            "card.handover_failed",
            "card.handover_failed",
            "card.recalled"
        ],
        "never handed over, in the ledger as it happened"
    );
    assert_eq!(
        c.province().lookup(&c.ssn(3)).expect("lookup").cards[0].status,
        archive::CardStatus::Recalled
    );

    // The bank refuses to activate a card, with its reason: the card stays issued, the
    // refusal is in the ledger.
    std::fs::write(dir.join("sig.png"), [0x89u8; 96]).expect("signature");
    let out = c.station_env(
        "op",
        &["handover", "B00000019", "--holder", "--signature", "sig.png"],
        &[("STATION_ID_NUMBER", &c.ssn(0))],
    );
    assert!(out.status.success(), "{}", text(&out));
    at_rest_checks(&c);
    let refusal = serde_json::json!({"card_number": "B00000019", "code": "account-frozen",
        "reason": "账户已冻结，请到开户行柜面办理"});
    let set =
        reqwest::blocking::Client::new().post(format!("{}/v1/sim/refusals", c.bank)).json(&refusal).send();
    assert!(set.expect("bank-sim").status().is_success());
    let out = c.station("op", &["activate", "B00000019", "--holder-present", "--id-checked"]);
    assert!(!out.status.success() && text(&out).contains("账户已冻结，请到开户行柜面办理"), "{}", text(&out));
    assert_eq!(local_status(dir, "B00000019"), Some(archive::CardStatus::Issued), "not active");

    // A re-issue: the old card is stopped (province and station) before the new one is made.
    // Without the holder's signed consent to stop the old card, the form is refused.
    std::fs::write(dir.join("p0.json"), c.people[0].to_string()).expect("applicant");
    let out = c.station("op", &["issue", "--applicant", "p0.json", "--reissue-of", "B00000019"]);
    assert!(!out.status.success() && text(&out).contains("previous_card.consent_to_stop"), "{}", text(&out));
    let consented = common::counter::consenting(&c.people[0], "B00000019");
    std::fs::write(dir.join("p0.json"), consented.to_string()).expect("applicant");
    let out = c.station("op", &["issue", "--applicant", "p0.json", "--reissue-of", "B00000019"]);
    assert!(out.status.success(), "{}", text(&out));
    let person = c.province().lookup(&c.ssn(0)).expect("lookup");
    let cards: Vec<(&str, archive::CardStatus)> =
        person.cards.iter().map(|x| (x.card_number.as_str(), x.status)).collect();
    assert_eq!(
        cards,
        [("B00000019", archive::CardStatus::Stopped), ("B00000043", archive::CardStatus::Made)]
    );
    let local = common::station_db::open(dir, "reader");
    let events: Vec<(String, Option<String>)> =
        local.ledger().expect("ledger").into_iter().map(|e| (e.event, e.card_number)).collect();
    let stopped = events.iter().position(|e| e.0 == "card.stopped").expect("card.stopped");
    let made_new =
        events.iter().position(|e| e.0 == "card.made" && e.1.as_deref() == Some("B00000043")).expect("made");
    assert!(stopped < made_new, "the old card is stopped first: {events:?}");
    assert_eq!(local.card_status("B00000019").expect("status"), Some(archive::CardStatus::Stopped));
    // The re-issue's application form to print, written by the operator who took it: private,
    // whole, with the consent it was taken on and the signature block.
    let app = local.card("B00000043").expect("card").expect("the new card").application_id;
    let job = *local.jobs_of_application(app).expect("jobs").last().expect("the re-issue's job");
    let out = c.station("op", &["application-form", &job.to_string(), "--out", "form.html"]);
    assert!(out.status.success(), "{}", text(&out));
    let form = dir.join("form.html");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&form).expect("form").permissions().mode() & 0o777, 0o600);
    let html = std::fs::read_to_string(&form).expect("form");
    for part in [
        "福建省社会保障卡申领表",
        c.ssn(0).as_str(),
        "卡号为 <u>B00000019</u>",
        "☑ 本人现同意停用该社保卡",
        "申请人（签字）",
        "经办人：op",
    ] {
        assert!(html.contains(part), "{part} in the form");
    }
    assert!(!text(&out).contains(&c.ssn(0)), "no ID number on the terminal: {}", text(&out));

    // The deceased get no card: a supervisor records the death (an operator may not), then
    // the application is refused before anything is fed or printed.
    let death = ["deceased", "--evidence", "死亡医学证明 No. 2026-0042"];
    let dead = [("STATION_ID_NUMBER", c.ssn(2))];
    let dead: Vec<(&str, &str)> = dead.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(!c.station_env("op", &death, &dead).status.success(), "operators do not record deaths");
    let out = c.station("sup", &death);
    assert!(!out.status.success() && text(&out).contains("set STATION_ID_NUMBER"), "{}", text(&out));
    let out = c.station_env("sup", &death, &dead);
    assert!(out.status.success() && text(&out).contains("cards cancelled: none"), "{}", text(&out));
    let printed_before = std::fs::read_dir(dir.join("printed")).expect("printed").count();
    std::fs::write(dir.join("p2.json"), c.people[2].to_string()).expect("applicant");
    let out = c.station("op", &["issue", "--applicant", "p2.json"]);
    assert!(!out.status.success(), "a deceased person got a card: {}", text(&out));
    assert!(text(&out).contains("refused") && text(&out).contains("deceased"), "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(dir.join("printed")).expect("printed").count(),
        printed_before,
        "nothing printed"
    );
    assert!(c.province().lookup(&c.ssn(2)).expect("lookup").cards.is_empty());

    // The holder of a stock card comes for it: someone without a custody approval is refused
    // (RULE 4), the holder with their ID document receives it and signs.
    std::fs::write(dir.join("sig.png"), [0x89u8; 96]).expect("signature");
    let custodian = ["handover", "B00000027", "--custodian", "王五", "--signature", "sig.png"];
    let out = c.station_env("op", &custodian, &[("STATION_CUSTODIAN_ID", "110101199003070033")]);
    assert!(!out.status.success() && text(&out).contains("rule 4"), "{}", text(&out));
    // A supervisor approves custody (an operator may not): recorded at the province, where an
    // outreach kit carrying the card would pick it up, with the custodian's number masked.
    let approve = [
        "custody",
        "B00000027",
        "--group",
        "minor",
        "--custodian",
        "王五",
        "--reason",
        "父母在外务工, 祖父代管",
        "--until",
        "20991231",
        "--handed-over-by",
        "op",
    ];
    let custodian_id = [("STATION_CUSTODIAN_ID", "110101199003070038")];
    let out = c.station_env("op", &approve, &custodian_id);
    assert!(!out.status.success() && text(&out).contains("403"), "{}", text(&out));
    let out = c.station_env("sup", &approve, &custodian_id);
    assert!(out.status.success() && text(&out).contains("province approval 1"), "{}", text(&out));
    assert!(!text(&out).contains("110101199003070038"), "{}", text(&out));
    let at_province: (String, String, String) = rusqlite::Connection::open(dir.join("provincial.db"))
        .and_then(|db| {
            db.query_row(
                "SELECT station, custodian, custodian_id FROM custody_approvals WHERE card_number = 'B00000027'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .expect("the province's approval");
    assert_eq!(at_province, ("S-TEST".into(), "王五".into(), "110101********0038".into()));
    let out = c.station_env(
        "op",
        &["handover", "B00000027", "--holder", "--signature", "sig.png"],
        &[("STATION_ID_NUMBER", &c.ssn(1))],
    );
    assert!(out.status.success() && text(&out).contains("handed over to the holder"), "{}", text(&out));
    assert!(!text(&out).contains(&c.ssn(1)), "masked: {}", text(&out));

    // Activation through the person's bank, face to face with the photo the counter's camera
    // takes now; an auditor may not, nor a proxy; the bank confirms; the ledger tells it.
    let out = c.station("aud", &["activate", "B00000027", "--holder-present", "--id-checked"]);
    assert!(!out.status.success() && text(&out).contains("403"), "{}", text(&out));
    let out = c.station("op", &["activate", "B00000027", "--id-checked"]);
    assert!(!out.status.success() && text(&out).contains("rule 3"), "a proxy activated: {}", text(&out));
    let out = c.station("op", &["activate", "B00000027", "--holder-present", "--id-checked"]);
    assert!(out.status.success() && text(&out).contains("active at ICBC"), "{}", text(&out));
    let requests: serde_json::Value = reqwest::blocking::get(format!("{}/v1/sim/requests", c.bank))
        .and_then(|r| r.json())
        .expect("the bank's requests");
    let sent: Vec<&str> = requests
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["path"] == "/v1/activations")
        .filter_map(|r| r["card_number"].as_str())
        .collect();
    assert_eq!(sent, ["B00000019", "B00000027"], "only face-to-face requests reached the bank");
    let out = c.station("op", &["stock", "--status", "active"]);
    assert!(
        out.status.success() && text(&out).contains("B00000027") && text(&out).contains("1 cards"),
        "{}",
        text(&out)
    );
    let out = c.station("sup", &["ledger", "--card", "B00000027"]);
    let story = text(&out);
    assert!(
        out.status.success()
            && story.contains("card.made")
            && story.contains("card.handed_over")
            && story.contains("card.activated"),
        "{story}"
    );
    assert!(!story.contains(&c.ssn(1)), "no full ID number on the screen: {story}");
    let out = c.station("aud", &["ledger", "--verify"]);
    assert!(
        out.status.success()
            && text(&out).contains("intact")
            && text(&out).contains("every entry's MAC (key \"ledger\" in token S-LEDGER, KCV"),
        "{}",
        text(&out)
    );
    let out = c.station("sup", &["conflicts"]);
    assert!(out.status.success() && text(&out).contains("no open conflicts"), "{}", text(&out));
    let out = c.station("op", &["conflicts", "--resolve", "rec-1", "--note", "card taken back"]);
    assert!(!out.status.success() && text(&out).contains("supervisor"), "{}", text(&out));

    // A loss: the card is stopped at the province and here; a new card may then be made.
    let out = c.station("op", &["report-loss", "B00000027"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(local.card_status("B00000027").expect("status"), Some(archive::CardStatus::Stopped));
    let person = c.province().lookup(&c.ssn(1)).expect("lookup");
    assert_eq!(person.cards[0].status, archive::CardStatus::Stopped);
    std::fs::write(dir.join("p1.json"), c.people[1].to_string()).expect("applicant");
    // The holder will collect it later: the job puts the card in stock at once.
    let out = c.station("op", &["issue", "--applicant", "p1.json", "--later", "--storage-place", "柜 B"]);
    assert!(
        out.status.success() && text(&out).contains("in stock"),
        "a new card after the loss: {}",
        text(&out)
    );
    let stocked =
        local.ledger().expect("ledger").into_iter().rfind(|e| e.event == "card.stocked").expect("stocked");
    assert!(stocked.detail.contains("柜 B") && stocked.detail.contains("\"keeper\":\"op\""), "{stocked:?}");

    // The re-issued card waits at the counter; its holder left without it: not a failed
    // hand-over of a stock card, but the card parked to stock with the reason.
    let out = c.station("op", &["handover", "B00000043", "--failed", "没带证件"]);
    assert!(!out.status.success() && text(&out).contains("waits at the counter"), "{}", text(&out));
    let out =
        c.station("op", &["handover", "B00000043", "--to-stock", "持卡人未带身份证件", "--keeper", "王主管"]);
    assert!(out.status.success() && text(&out).contains("in stock at 网点保管柜"), "{}", text(&out));

    // A holder's death cancels their live card at the province and here (RULE 2).
    let out = c.station_env(
        "sup",
        &["deceased", "--evidence", "民政部门通知 2026-77"],
        &[("STATION_ID_NUMBER", &c.ssn(0))],
    );
    assert!(out.status.success() && text(&out).contains("B00000043"), "{}", text(&out));
    assert_eq!(local.card_status("B00000043").expect("status"), Some(archive::CardStatus::Cancelled));
    let person = c.province().lookup(&c.ssn(0)).expect("lookup");
    assert!(person.deceased && person.live_card().is_none(), "{person:?}");

    // The daily reconciliation: ledger = local = provincial; then a change behind the
    // ledger's back is found and named.
    let out = c.station("aud", &["reconcile"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ledger = local archive = provincial archive"), "{}", text(&out));
    let first = c.province_as("S-TEST").ledger_anchor().expect("anchor");
    assert_eq!(first, local.ledger_head().expect("head"), "the reconciliation anchored its own line");
    // A copy of station.db as a backup holds it now (its MACs are the station's).
    let older = dir.join("older.db");
    common::station_db::raw(dir)
        .execute("VACUUM INTO ?1", [older.to_str().expect("path")])
        .expect("an older copy");
    assert!(!archive::local::is_plaintext_database(&older), "SQLCipher's VACUUM INTO keeps the key");
    local.set_card_status("B00000051", archive::CardStatus::Cancelled).expect("tamper");
    let out = c.station("aud", &["reconcile"]);
    assert!(!out.status.success() && text(&out).contains("MISMATCH B00000051"), "{}", text(&out));
    let seq = first.expect("anchored").seq;
    assert!(text(&out).contains(&format!("the province holds ledger entry {seq}")), "{}", text(&out));
    local.set_card_status("B00000051", archive::CardStatus::Issued).expect("put back");

    // Whoever can write station.db cuts the ledger's tail off (its triggers dropped): the
    // chain of what is left still holds, but the province holds the head anchored after the
    // last reconciliation, so the next one finds the ledger cut short and says what to do.
    let anchored = c.province_as("S-TEST").ledger_anchor().expect("anchor").expect("anchored head");
    assert_eq!(local.ledger_head().expect("head"), Some(anchored.clone()), "the last reconciliation's head");
    let db = common::station_db::raw(dir);
    db.execute_batch("DROP TRIGGER ledger_no_delete;").expect("drop trigger");
    let cut = db.execute("DELETE FROM ledger WHERE seq >= ?1", [anchored.seq - 1]).expect("cut");
    assert_eq!(cut, 2);
    assert!(local.verify_ledger().is_ok(), "what is left is a valid chain");
    let out = c.station("aud", &["reconcile"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!("LEDGER the ledger ends at entry {}", anchored.seq - 2))
            && said.contains(&format!("the province holds entry {}", anchored.seq))
            && said.contains("cut short"),
        "{said}"
    );
    let still = c.province_as("S-TEST").ledger_anchor().expect("anchor");
    assert_eq!(still, Some(anchored.clone()), "the anchored head stays for the auditors");

    // The database file swapped, the station stopped: the older copy of its own (every MAC
    // the station's) ends before the head the province anchored since.
    drop(station);
    // A copy renamed into place: a new file (this test process still holds the old one open).
    let swap = |with: &std::path::Path| {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("station.db{suffix}")));
        }
        std::fs::copy(with, dir.join("swapped.db")).expect("a copy");
        std::fs::rename(dir.join("swapped.db"), dir.join("station.db")).expect("swap station.db");
    };
    swap(&older);
    let out = c.station("aud", &["reconcile"]);
    assert!(!out.status.success() && text(&out).contains("cut short"), "{}", text(&out));

    // Whoever can write station.db rewrites an entry (who keeps a stock card) and recomputes
    // the plain SM3 chain from there, the triggers dropped: the chain holds, but the entry's
    // MAC, made in the token with a key that never leaves it, is not the new hash's, and
    // `station ledger --verify` names the entry.
    {
        let db = common::station_db::raw(dir);
        db.execute_batch("DROP TRIGGER ledger_no_update;").expect("drop trigger");
        let reader = common::station_db::open(dir, "reader");
        let mut entries = reader.ledger().expect("ledger");
        let at = entries.iter().position(|e| e.event == "card.stocked").expect("a card.stocked entry");
        let kept = entries[at].detail.replace("王主管", "李四");
        assert_ne!(kept, entries[at].detail);
        entries[at].detail = kept;
        for i in at..entries.len() {
            let prev = entries[i - 1].hash.clone();
            entries[i].prev_hash = prev.clone();
            entries[i].hash = archive::local::entry_hash(&prev, &entries[i]);
            let e = &entries[i];
            db.execute(
                "UPDATE ledger SET detail = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
                rusqlite::params![e.seq, e.detail, e.prev_hash, e.hash],
            )
            .expect("rewrite");
        }
        assert!(reader.verify_ledger().is_ok(), "the plain chain holds");
        let _serving = c.serve(None);
        let out = c.station("aud", &["ledger", "--verify"]);
        let said = text(&out);
        assert!(
            !out.status.success()
                && said.contains(&format!("ledger entry {} is not the one recorded", entries[at].seq))
                && said.contains("its MAC is not the one the station's ledger key"),
            "{said}"
        );
    }
    // Another station's database (its own data key, and even this station's id) put in its
    // place: it does not open with this station's data key, and the station says what to do.
    let foreign = dir.join("foreign.db");
    let foreign_key = archive::at_rest::DataKey::generate().expect("random");
    drop(archive::local::LocalArchive::open(&foreign, "S-TEST", &foreign_key).expect("another station's"));
    swap(&foreign);
    let out = c.station("aud", &["reconcile"]);
    let said = text(&out);
    assert!(
        !out.status.success()
            && said.contains("does not open with this station's data key")
            && said.contains("swapped or another station's")
            && said.contains("same backup")
            && !said.contains("file is not a database"),
        "{said}"
    );
    // A database under this station's data key (whoever read it from the station's memory)
    // with a ledger key of its own (here the simulators'), longer than the anchored ledger:
    // its first entry's MAC is not this station's key's, and its head never moves the
    // province's anchor.
    let other = dir.join("other.db");
    {
        let o = archive::local::LocalArchive::open(&other, "S-TEST", &common::station_db::key(dir))
            .expect("other")
            .with_ledger_key(station::ledger_key::open(None, None).expect("the simulators' key"));
        for i in 0..anchored.seq + 3 {
            o.append_ledger("op", None, None, "test.entry", &serde_json::json!({"i": i})).expect("entry");
        }
    }
    swap(&other);
    let out = c.station("aud", &["reconcile"]);
    let said = text(&out);
    assert!(
        !out.status.success()
            && said.contains("ledger entry 1 is not the one recorded")
            && said.contains("MAC"),
        "{said}"
    );
    std::fs::remove_file(dir.join("serve.log")).expect("a new log");
    let _again = c.serve(None);
    let out = c.station("aud", &["ledger", "--verify"]);
    assert!(!out.status.success() && text(&out).contains("ledger entry 1"), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(dir.join("serve.log"))
        .unwrap_or_default()
        .contains("ledger head not anchored")
    {
        assert!(Instant::now() < deadline, "the daemon's start tried to anchor the swapped ledger's head");
        std::thread::sleep(Duration::from_millis(100));
    }
    let still = c.province_as("S-TEST").ledger_anchor().expect("anchor");
    assert_eq!(still, Some(anchored), "the swapped ledger's head was not anchored");
}

#[test]
fn an_instant_card_with_its_financial_application_answers_a_terminal() {
    let _one = common::serial();
    // The keys in a PKCS#11 token (SoftHSM2), as on a counter: the daemon personalises through
    // it and the keys never leave it.
    let token = tempfile::tempdir().expect("tmp");
    let financial = common::counter::financial_keys_in_token(token.path());
    let c = Counter::start_with(2, 0.0, "ssc-3g-fin-sim.toml", &financial);
    // Stop just before the eject: the card waits in the printer's chip station.
    c.issue_until_crash(0, 1, "eject:begin");
    let mut manager = pcsc_reader::PcscManager::new().expect("pcscd");
    {
        let mut card = manager.open(pcsc_stack::USER_CARD_READER).expect("card");
        let mut tx = card_transport::Card::transaction(&mut card).expect("tx");
        let params = emv_cps::TerminalParams::counter(emv_cps::Interface::Contact, "261204", [1, 2, 3, 4]);
        let reading = emv_cps::run_terminal(tx.as_mut(), &params).expect("the terminal flow");
        assert!(reading.pan.starts_with("621234"), "{}", reading.pan);
        assert_eq!(reading.label, "PBOC DEBIT");
        emv_cps::verify_arqc(&reading, &emv_cps::IssuerKeys::test())
            .expect("the ARQC verifies at the issuer");
    }
    drop(manager);
    let _station = c.serve(None);
    assert_eq!(c.wait_job(1), "awaiting-handover");
    let local = common::station_db::open(c.dir.path(), "reader");
    let entry = local
        .ledger()
        .expect("ledger")
        .into_iter()
        .find(|e| e.event == "card.financial_personalised")
        .expect("the financial step is in the ledger");
    assert!(entry.detail.contains("STORE DATA"), "{}", entry.detail);
    assert!(!entry.detail.contains(&c.ssn(0)), "no full ID number in the ledger");

    // A supervisor's batch: the return file carries the person's bank and, whole, the account
    // the bank prepared the card for (the DP data's PAN), the one stored with the card.
    let mut person = c.people[1].clone();
    person["bank"] = "ICBC".into();
    std::fs::write(c.dir.path().join("fin.jsonl"), person.to_string()).expect("batch file");
    let out = c.station("sup", &["batch", "fin.jsonl"]);
    assert!(out.status.success(), "{}", text(&out));
    let ret = std::fs::read_to_string(c.dir.path().join("fin.return.csv")).expect("return file");
    let row: Vec<&str> = ret.lines().nth(1).expect("a row").split(',').collect();
    let stored = local.card(row[1]).expect("card").and_then(|r| r.account).expect("the account is stored");
    assert_eq!((row[8], row[9]), ("中国工商银行", stored.as_str()), "{ret}");
    assert!(stored.starts_with("621234") && stored.len() == 19, "the DP data's PAN");
    assert!(!text(&out).contains(&stored), "not on the screen");
    // Every key in the token: the ledger's too (it shares the counter's token), each entry's
    // MAC made and checked there.
    let out = c.station("aud", &["ledger", "--verify"]);
    assert!(
        out.status.success() && text(&out).contains("every entry's MAC (key \"ledger\" in token S-TEST"),
        "{}",
        text(&out)
    );
}
