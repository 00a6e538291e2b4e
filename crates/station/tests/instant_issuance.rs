//! FLOW A end to end on the simulators, as processes: `station sim counter` (a private pcscd
//! with the chip inside the simulated printer on a pty, the PSAM, the verification service)
//! and `station serve --config` driving it. The station is killed with SIGKILL right after
//! every journal line of the job and started again: the job finishes or is rolled back, no
//! card number is lost or repeated, the ledger matches the archives. One pcscd at a time
//! (nextest group `pcsc-stack`).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use archive::ProvincialArchive;

const STATION: &str = env!("CARGO_BIN_EXE_station");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// A child process, stopped on drop (the test never leaves one behind): SIGTERM first, so
/// `station sim counter` stops its pcscd by PID, then SIGKILL if it lingers.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Counter {
    dir: tempfile::TempDir,
    _devices: Proc,
    api: String,
    people: Vec<serde_json::Value>,
    password: String,
}

/// A valid adult applicant with a fresh number and a photo in the data directory.
fn applicant(dir: &Path, i: usize) -> serde_json::Value {
    let ssn = archive::conformance::fresh_ssn();
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("crates/applicant/testdata/adult.json")).expect("adult"),
    )
    .expect("json");
    let h = &mut v["holder"];
    h["id_number"] = ssn.clone().into();
    h["birth_date"] = format!("{}-{}-{}", &ssn[6..10], &ssn[10..12], &ssn[12..14]).into();
    h["sex"] = if ssn.as_bytes()[16] % 2 == 1 { "1" } else { "2" }.into();
    h["name"] =
        format!("测试{}", ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸"][i % 10]).into();
    v["photo"] = format!("photos/p{i}.jpg").into();
    v.as_object_mut().expect("object").remove("card_number");
    let photo = card_face::image::RgbImage::from_fn(358, 441, |x, y| {
        let (dx, dy) = (x as f32 - 179.0, y as f32 - 200.0);
        if (dx * dx) / 8100.0 + (dy * dy) / 14400.0 < 1.0 {
            card_face::image::Rgb([192, 128, 96])
        } else {
            card_face::image::Rgb([255, 255, 255])
        }
    });
    photo.save(dir.join(format!("photos/p{i}.jpg"))).expect("photo");
    v
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

impl Counter {
    fn start(people: usize) -> Counter {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("photos")).expect("photos");
        let people: Vec<serde_json::Value> = (0..people).map(|i| applicant(dir.path(), i)).collect();
        let roster: Vec<serde_json::Value> = people
            .iter()
            .map(|p| serde_json::json!({"id_number": p["holder"]["id_number"], "name": p["holder"]["name"]}))
            .collect();
        std::fs::write(dir.path().join("roster.json"), serde_json::to_string(&roster).expect("json"))
            .expect("roster");
        let mut devices = Command::new(STATION)
            .args(["sim", "counter", "--vpcd-port", &common::port().to_string(), "--timing-scale", "0"])
            .arg("--printed")
            .arg(dir.path().join("printed"))
            .arg("--roster")
            .arg(dir.path().join("roster.json"))
            .arg("--profile")
            .arg(repo("firmware-profiles/ssc-3g-sim.toml"))
            .arg("--psam-profile")
            .arg(repo("firmware-profiles/psam-sim.toml"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("station sim counter");
        let mut line = String::new();
        BufReader::new(devices.stdout.take().expect("stdout")).read_line(&mut line).expect("device line");
        let devices_info: serde_json::Value = serde_json::from_str(&line).expect("device JSON");
        let password = "test-password-1".to_string();
        let api_port = free_port();
        let config = format!(
            r#"station = "S-TEST"
listen = "127.0.0.1:{api_port}"
data_dir = "{data}"

[[operator]]
name = "op"
role = "operator"
password_hash = "{hash}"

[[operator]]
name = "aud"
role = "auditor"
password_hash = "{hash}"

[[operator]]
name = "sup"
role = "supervisor"
password_hash = "{hash}"

[counter]
card_reader = "{card}"
psam_reader = "{psam}"
printer = "{printer}"
profile = "{profile}"
region = "110100"
init_org = "11010000000000000001"
identity_verification = "{idv}"
provincial = {{ kind = "sqlite" }}
"#,
            data = dir.path().display(),
            hash = daemon::auth::hash_password(&password),
            card = devices_info["card_reader"].as_str().expect("card"),
            psam = devices_info["psam_reader"].as_str().expect("psam"),
            printer = devices_info["printer"].as_str().expect("printer"),
            profile = repo("firmware-profiles/ssc-3g-sim.toml").display(),
            idv = devices_info["identity_verification"].as_str().expect("idv"),
        );
        std::fs::write(dir.path().join("station.toml"), config).expect("config");
        Counter {
            api: format!("http://127.0.0.1:{api_port}"),
            dir,
            _devices: Proc(devices),
            people,
            password,
        }
    }

    /// `station serve --config`, crashing at `crash` when given; returns when the API answers.
    fn serve(&self, crash: Option<&str>) -> Proc {
        let mut cmd = Command::new(STATION);
        cmd.args(["serve", "--config"]).arg(self.dir.path().join("station.toml"));
        if let Some(c) = crash {
            cmd.env("STATION_CRASH_AT", c);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("serve.log"))
            .expect("log");
        let child = Proc(cmd.stdout(Stdio::null()).stderr(log).spawn().expect("station serve"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::blocking::get(format!("{}/api/health", self.api)).is_err() {
            assert!(Instant::now() < deadline, "station serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    fn login(&self, who: &str) -> (reqwest::blocking::Client, String) {
        let http =
            reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let r: serde_json::Value = http
            .post(format!("{}/api/session", self.api))
            .json(&serde_json::json!({"operator": who, "password": self.password}))
            .send()
            .expect("login")
            .json()
            .expect("json");
        (http, r["token"].as_str().expect("token").to_string())
    }

    /// Posts a job for person `i`.
    fn issue(&self, i: usize) {
        let (http, token) = self.login("op");
        let r = http
            .post(format!("{}/api/jobs", self.api))
            .bearer_auth(&token)
            .json(&serde_json::json!({"applicant": self.people[i]}))
            .send()
            .expect("issue");
        assert_eq!(r.status(), 202);
    }

    /// Waits until job `job` is no longer running; its status.
    fn wait_job(&self, job: i64) -> String {
        let (http, token) = self.login("op");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = http.get(format!("{}/api/jobs/{job}", self.api)).bearer_auth(&token).send().expect("job");
            if r.status() == 200 {
                let v: serde_json::Value = r.json().expect("json");
                if v["status"] != "running" {
                    return v["status"].as_str().expect("status").to_string();
                }
            }
            assert!(Instant::now() < deadline, "job {job} still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ssn(&self, i: usize) -> String {
        self.people[i]["holder"]["id_number"].as_str().expect("ssn").to_string()
    }

    /// Runs a `station` command against this counter's API as `who`.
    fn station(&self, who: &str, args: &[&str]) -> std::process::Output {
        Command::new(STATION)
            .args(args)
            .env("STATION_API", &self.api)
            .env("STATION_OPERATOR", who)
            .env("STATION_PASSWORD", &self.password)
            .env("STATION_CONFIG", self.dir.path().join("station.toml"))
            .current_dir(self.dir.path())
            .output()
            .expect("station")
    }

    fn province(&self) -> archive::SqliteProvincial {
        archive::SqliteProvincial::open(self.dir.path().join("provincial.db"), "reader", 'B')
            .expect("provincial")
    }
}

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

#[test]
fn kill_9_at_every_step_boundary_then_restart() {
    let _one = common::serial();
    let c = Counter::start(2 * BOUNDARIES.len() + 1);
    let mut issued = Vec::new();
    let mut job = 0;
    for (k, crash) in BOUNDARIES.iter().flat_map(|s| [format!("{s}:begin"), format!("{s}:done")]).enumerate()
    {
        job += 1;
        {
            let mut crashing = c.serve(Some(&crash));
            c.issue(k);
            let deadline = Instant::now() + Duration::from_secs(90);
            let local =
                archive::local::LocalArchive::open(c.dir.path().join("station.db"), "reader").expect("local");
            let status = loop {
                if let Some(status) = crashing.0.try_wait().expect("wait") {
                    break Some(status);
                }
                // A job that failed before the boundary ends (rolled back) without crashing.
                if local.job(job).expect("job").is_some_and(|j| j.status != "running") {
                    break None;
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
            if let Some(status) = status {
                let signal = std::os::unix::process::ExitStatusExt::signal(&status);
                assert_eq!(signal, Some(9), "{crash}: killed by SIGKILL");
            }
        }
        let _station = c.serve(None);
        let status = c.wait_job(job);
        let person = c.province().lookup(&c.ssn(k)).expect("lookup");
        let live: Vec<_> = person.cards.iter().filter(|x| x.status.is_live()).collect();
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
    let local = archive::local::LocalArchive::open(c.dir.path().join("station.db"), "reader").expect("local");
    local.verify_ledger().expect("the ledger chain is intact");
    let made = local.ledger().expect("ledger").iter().filter(|e| e.event == "card.made").count();
    assert_eq!(made, issued.len(), "ledger = archives");
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
    {
        let mut crashing = c.serve(Some("eject:begin"));
        c.issue(0);
        crashing.0.wait().expect("wait");
    }
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
    assert_eq!(c.wait_job(1), "done");
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

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn batch_reissue_deceased_and_the_cards_life_through_the_binary() {
    let _one = common::serial();
    let c = Counter::start(3);
    let _station = c.serve(None);
    let dir = c.dir.path();

    // A batch of two through the API, with its return file.
    let lines: Vec<String> = c.people[..2].iter().map(|p| p.to_string()).collect();
    std::fs::write(dir.join("batch.jsonl"), lines.join("\n")).expect("batch file");
    let out = c.station("op", &["batch", "batch.jsonl"]);
    assert!(out.status.success(), "{}", text(&out));
    let ret = std::fs::read_to_string(dir.join("batch.return.csv")).expect("return file");
    let rows: Vec<Vec<&str>> = ret.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{ret}");
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

    // A re-issue: the old card is stopped (province and station) before the new one is made.
    std::fs::write(dir.join("p0.json"), c.people[0].to_string()).expect("applicant");
    let out = c.station("op", &["issue", "--applicant", "p0.json", "--reissue-of", "B00000019"]);
    assert!(out.status.success(), "{}", text(&out));
    let person = c.province().lookup(&c.ssn(0)).expect("lookup");
    let cards: Vec<(&str, archive::CardStatus)> =
        person.cards.iter().map(|x| (x.card_number.as_str(), x.status)).collect();
    assert_eq!(
        cards,
        [("B00000019", archive::CardStatus::Stopped), ("B00000035", archive::CardStatus::Made)]
    );
    let local = archive::local::LocalArchive::open(dir.join("station.db"), "reader").expect("local");
    let events: Vec<(String, Option<String>)> =
        local.ledger().expect("ledger").into_iter().map(|e| (e.event, e.card_number)).collect();
    let stopped = events.iter().position(|e| e.0 == "card.stopped").expect("card.stopped");
    let made_new =
        events.iter().position(|e| e.0 == "card.made" && e.1.as_deref() == Some("B00000035")).expect("made");
    assert!(stopped < made_new, "the old card is stopped first: {events:?}");
    assert_eq!(local.card_status("B00000019").expect("status"), Some(archive::CardStatus::Stopped));

    // The deceased get no card: refused before anything is fed or printed.
    c.province()
        .mark_deceased(&archive::DeceasedRequest { request_id: "civil-affairs-1".into(), ssn: c.ssn(2) })
        .expect("deceased");
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

    // Activation face to face with the photo taken now; an auditor may not; the ledger tells it.
    let photo = "photos/p1.jpg";
    let out =
        c.station("aud", &["activate", "B00000027", "--photo", photo, "--holder-present", "--id-checked"]);
    assert!(!out.status.success() && text(&out).contains("403"), "{}", text(&out));
    let out = c.station("op", &["activate", "B00000027", "--photo", photo, "--id-checked"]);
    assert!(!out.status.success() && text(&out).contains("rule 3"), "a proxy activated: {}", text(&out));
    let out =
        c.station("op", &["activate", "B00000027", "--photo", photo, "--holder-present", "--id-checked"]);
    assert!(out.status.success(), "{}", text(&out));
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
    assert!(out.status.success() && text(&out).contains("intact"), "{}", text(&out));

    // The daily reconciliation: ledger = local = provincial; then a change behind the
    // ledger's back is found and named.
    let out = c.station("aud", &["reconcile"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ledger = local archive = provincial archive"), "{}", text(&out));
    local.set_card_status("B00000035", archive::CardStatus::Cancelled).expect("tamper");
    let out = c.station("aud", &["reconcile"]);
    assert!(!out.status.success() && text(&out).contains("MISMATCH B00000035"), "{}", text(&out));
}
