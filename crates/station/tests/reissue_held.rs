//! A re-issue that never strands the holder (#24), through the binary: `station serve --sim`
//! with the simulated printer's fault injection. The re-issue stops the old card, then the
//! feeder is empty and the new card cannot be made: the job is held with its claim and says
//! where the holder stands. A supervisor restores the old card (live again at the province and
//! at the station), or resumes the new card once the feeder is refilled (the same claim and
//! card number). One pcscd at a time (nextest group `pcsc-stack`).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use archive::{CardStatus, ProvincialArchive};
use common::counter::{Proc, STATION};

/// `station serve --sim` with two people in the police register, each account's first
/// password changed for its own.
struct Station {
    dir: tempfile::TempDir,
    data: PathBuf,
    api: String,
    id: String,
    people: Vec<serde_json::Value>,
    http: reqwest::blocking::Client,
    _serve: Proc,
}

const PASSWORD: &str = "held-reissue-test-9";

impl Station {
    fn start() -> Station {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("photos")).expect("photos");
        let people: Vec<serde_json::Value> = (0..2).map(|i| common::counter::applicant(&data, i)).collect();
        let roster: Vec<serde_json::Value> = people
            .iter()
            .map(|p| serde_json::json!({"id_number": p["holder"]["id_number"], "name": p["holder"]["name"]}))
            .collect();
        std::fs::write(dir.path().join("roster.json"), serde_json::to_string(&roster).expect("json"))
            .expect("roster");
        let log = dir.path().join("serve.log");
        let (mut serve, api) = common::counter::spawn_serve_sim(&data, &dir.path().join("roster.json"), &log);
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = loop {
            if let Ok(r) = reqwest::blocking::get(format!("{api}/api/health")) {
                break r.json::<serde_json::Value>().expect("health");
            }
            if let Ok(Some(status)) = serve.0.try_wait() {
                panic!(
                    "station serve stopped ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "station serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        };
        let http =
            reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let first = std::fs::read_to_string(data.join("initial-passwords.txt")).expect("first passwords");
        for who in ["operator", "supervisor"] {
            let password = first
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| l.strip_prefix(&format!("{who} ")))
                .expect("a first password")
                .trim()
                .to_string();
            let token = login(&http, &api, who, &password);
            let chosen = http
                .post(format!("{api}/api/session/password"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"current": password, "new": PASSWORD}))
                .send()
                .expect("choose a password");
            assert_eq!(chosen.status(), 200, "{}", chosen.text().unwrap_or_default());
        }
        let id = health["station"].as_str().expect("station id").to_string();
        Station { dir, data, api, id, people, http, _serve: serve }
    }

    fn token(&self, who: &str) -> String {
        login(&self.http, &self.api, who, PASSWORD)
    }

    /// A `station` command against this station's API as `who`.
    fn station(&self, who: &str, args: &[&str]) -> std::process::Output {
        Command::new(STATION)
            .args(args)
            .env("STATION_API", &self.api)
            .env("STATION_OPERATOR", who)
            .env("STATION_PASSWORD", PASSWORD)
            .current_dir(self.dir.path())
            .output()
            .expect("station")
    }

    /// What a person does at the simulated printer.
    fn at_the_printer(&self, action: &str) {
        let r = self
            .http
            .post(format!("{}/api/sim/printer/{action}", self.api))
            .bearer_auth(self.token("operator"))
            .send()
            .expect("printer action");
        assert_eq!(r.status(), 204, "{action}: {}", r.text().unwrap_or_default());
    }

    fn job(&self, job: i64) -> serde_json::Value {
        self.http
            .get(format!("{}/api/jobs/{job}", self.api))
            .bearer_auth(self.token("operator"))
            .send()
            .expect("job")
            .json()
            .expect("json")
    }

    fn ssn(&self, i: usize) -> String {
        self.people[i]["holder"]["id_number"].as_str().expect("ssn").to_string()
    }

    fn province(&self) -> archive::SqliteProvincial {
        archive::SqliteProvincial::open(self.data.join("provincial.db"), "reader", 'B').expect("provincial")
    }

    fn local(&self) -> archive::local::LocalArchive {
        common::station_db::open(&self.data, "reader")
    }

    /// Person `i`'s first card, to stock: its number.
    fn first_card(&self, i: usize) -> String {
        std::fs::write(self.dir.path().join(format!("p{i}.json")), self.people[i].to_string())
            .expect("applicant");
        let out = self.station("operator", &["issue", "--applicant", &format!("p{i}.json"), "--later"]);
        assert!(out.status.success(), "{}", text(&out));
        let person = self.province().lookup(&self.ssn(i)).expect("lookup");
        person.live_card().expect("a live card").card_number.clone()
    }

    /// Person `i`'s re-issue of `old`, the feeder empty: it ends held. The job's end as
    /// `station issue` prints it, and its output.
    fn held_reissue(&self, i: usize, old: &str) -> (serde_json::Value, String) {
        self.at_the_printer("feeder-empty");
        let consented = common::counter::consenting(&self.people[i], old);
        std::fs::write(self.dir.path().join(format!("p{i}.json")), consented.to_string()).expect("applicant");
        let out = self.station(
            "operator",
            &["issue", "--applicant", &format!("p{i}.json"), "--reissue-of", old, "--later"],
        );
        assert!(!out.status.success(), "no card was made: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let end: serde_json::Value = serde_json::from_str(&stdout).expect("the job's end as JSON");
        (end, text(&out))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

fn login(http: &reqwest::blocking::Client, api: &str, who: &str, password: &str) -> String {
    let r: serde_json::Value = http
        .post(format!("{api}/api/session"))
        .json(&serde_json::json!({"operator": who, "password": password, "bearer": true}))
        .send()
        .expect("login")
        .json()
        .expect("json");
    r["token"].as_str().unwrap_or_else(|| panic!("no token: {r}")).to_string()
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn events(local: &archive::local::LocalArchive) -> Vec<(String, Option<String>, String)> {
    local.ledger().expect("ledger").into_iter().map(|e| (e.event, e.card_number, e.operator)).collect()
}

/// Where the holder stands while the job is held: the same at the province, the station, the
/// job's API view and the CLI's answer; no ID number anywhere.
fn check_held(s: &Station, i: usize, old: &str, end: &serde_json::Value, said: &str) -> (i64, String) {
    assert_eq!(end["status"], "held", "{said}\n{}", s.log());
    let job = end["job"].as_i64().expect("job");
    for part in [old, "stopped at the province", "restore-card", "resume-reissue", s.id.as_str()] {
        assert!(said.contains(part), "{part} in {said}");
    }
    assert!(!said.contains(&s.ssn(i)), "no ID number: {said}");
    assert!(s.log().contains("re-issue held"), "the hold is logged: {}", s.log());
    assert!(!s.log().contains(&s.ssn(i)), "no ID number in the station's log");
    let view = s.job(job);
    assert_eq!(view["status"], "held", "{view}");
    let held = &view["held"];
    assert_eq!(held["old_card"], old);
    assert_eq!(held["new_card_made"], false);
    assert_eq!(held["claim_lapsed"], false, "both ways are open");
    assert_eq!(held["claim_held_by"], s.id.as_str());
    assert_eq!(held["ways_on"].as_array().map(Vec::len), Some(2), "{held}");
    let new = held["new_card"].as_str().expect("new card").to_string();
    assert!(!view.to_string().contains(&s.ssn(i)), "no ID number in the job's view");

    let person = s.province().lookup(&s.ssn(i)).expect("lookup");
    let cards: Vec<_> = person.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(cards, [(old.to_string(), CardStatus::Stopped)], "the old card is stopped, no new card");
    let claim = person.live_claim.expect("the claim is kept");
    assert_eq!((claim.station.as_str(), claim.card_number.as_str()), (s.id.as_str(), new.as_str()));
    assert_eq!(held["claim_id"], claim.claim_id);
    assert_eq!(held["held_until"], claim.expires_at);
    let local = s.local();
    assert_eq!(local.card_status(old).expect("status"), Some(CardStatus::Stopped));
    assert_eq!(local.job(job).expect("job").expect("row").status, "held");
    assert!(events(&local).iter().any(|e| e.0 == "reissue.held" && e.1.as_deref() == Some(old)));
    (job, new)
}

#[test]
fn a_held_reissue_is_restored_by_a_supervisor_at_the_province_and_at_the_station() {
    let _one = common::serial();
    let s = Station::start();
    let old = s.first_card(0);
    let (end, said) = s.held_reissue(0, &old);
    let (job, new) = check_held(&s, 0, &old, &end, &said);

    // An operator may not; nor may anyone without saying why.
    let out = s.station("operator", &["restore-card", &job.to_string(), "--reason", "the feeder is empty"]);
    assert!(!out.status.success() && text(&out).contains("may not"), "{}", text(&out));
    let out = s.station("supervisor", &["restore-card", &job.to_string(), "--reason", ""]);
    assert!(!out.status.success() && text(&out).contains("why"), "{}", text(&out));
    assert_eq!(s.local().job(job).expect("job").expect("row").status, "held", "nothing changed");

    let out =
        s.station("supervisor", &["restore-card", &job.to_string(), "--reason", "no blank cards today"]);
    assert!(out.status.success(), "{}\n{}", text(&out), s.log());
    assert!(text(&out).contains(&format!("card {old} is live again")), "{}", text(&out));
    assert!(!s.log().contains(&s.ssn(0)), "no ID number in the station's log");

    // The province: the old card live again, the claim released, the restore in its audit.
    let province = s.province();
    let person = province.lookup(&s.ssn(0)).expect("lookup");
    let cards: Vec<_> = person.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(cards, [(old.clone(), CardStatus::Made)]);
    assert!(person.live_claim.is_none(), "the claim is released");
    let audit = province.audit_of(&s.id).expect("audit");
    assert!(audit.iter().any(|(op, _, outcome)| op == "restore" && outcome == "ok"), "{audit:?}");
    // The station: the old card live again, as it was (in stock), the restore in the ledger by
    // the supervisor, the job ended restored.
    let local = s.local();
    assert_eq!(local.card_status(&old).expect("status"), Some(CardStatus::Made));
    let restored: Vec<_> = events(&local).into_iter().filter(|e| e.0 == "card.restored").collect();
    assert_eq!(restored, [("card.restored".to_string(), Some(old.clone()), "supervisor".to_string())]);
    assert_eq!(local.job(job).expect("job").expect("row").status, "restored");
    assert!(local.card_status(&new).expect("status").is_none(), "no new card here");
    let out = s.station("supervisor", &["reconcile", "--data-dir", &s.data.to_string_lossy()]);
    assert!(out.status.success(), "ledger = local = province: {}", text(&out));

    // Once only: the job is no longer held.
    let out =
        s.station("supervisor", &["restore-card", &job.to_string(), "--reason", "no blank cards today"]);
    assert!(!out.status.success() && text(&out).contains("not a held re-issue"), "{}", text(&out));
    let out = s.station("supervisor", &["resume-reissue", &job.to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn a_held_reissue_is_resumed_by_a_supervisor_to_a_made_card_with_the_same_number() {
    let _one = common::serial();
    let s = Station::start();
    let old = s.first_card(1);
    let (end, said) = s.held_reissue(1, &old);
    let (job, new) = check_held(&s, 1, &old, &end, &said);

    let out = s.station("operator", &["resume-reissue", &job.to_string()]);
    assert!(!out.status.success() && text(&out).contains("may not"), "{}", text(&out));
    s.at_the_printer("refill");
    let out = s.station("supervisor", &["resume-reissue", &job.to_string()]);
    assert!(out.status.success(), "{}\n{}", text(&out), s.log());
    assert!(text(&out).contains(&format!("card {new} is made")), "{}", text(&out));
    assert!(!s.log().contains(&s.ssn(1)), "no ID number in the station's log");

    // The province: the old card stopped, the new one made under the same claim, no claim left.
    let person = s.province().lookup(&s.ssn(1)).expect("lookup");
    let cards: Vec<_> = person.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(cards, [(old.clone(), CardStatus::Stopped), (new.clone(), CardStatus::Made)]);
    assert!(person.live_claim.is_none());
    // The station: the same, the new card in stock; held, resumed (by the supervisor) and made
    // in the ledger, in that order.
    let local = s.local();
    assert_eq!(local.card_status(&old).expect("status"), Some(CardStatus::Stopped));
    assert_eq!(local.card_status(&new).expect("status"), Some(CardStatus::Made));
    assert_eq!(local.job(job).expect("job").expect("row").status, "done");
    let ev = events(&local);
    let at = |name: &str, card: &str| {
        ev.iter()
            .position(|e| e.0 == name && e.1.as_deref() == Some(card))
            .unwrap_or_else(|| panic!("{name} {card} in {ev:?}"))
    };
    assert!(at("reissue.held", &old) < at("reissue.resumed", &new));
    assert!(at("reissue.resumed", &new) < at("card.made", &new));
    assert_eq!(ev[at("reissue.resumed", &new)].2, "supervisor");
    // Too late to restore: the new card is committed.
    let out = s.station("supervisor", &["restore-card", &job.to_string(), "--reason", "changed mind"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(
        s.province().lookup(&s.ssn(1)).expect("lookup").live_card().map(|c| c.card_number.clone()),
        Some(new)
    );
}
