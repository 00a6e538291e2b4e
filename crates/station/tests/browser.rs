//! The counter's web page in a real browser: `station serve --sim` (the daemon on the simulated
//! counter: pcscd + vpcd with the chip inside the simulated printer on a pty, the PSAM, the
//! verification service) driven by Debian's headless Chromium through playwright-core
//! (`tests/browser/*.mjs`, run by node). The scripts check what a person sees; this side checks
//! what the station recorded. Screenshots go to `target/browser-screenshots/<scenario>/`.
//! One pcscd at a time (nextest group `pcsc-stack`).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STATION: &str = env!("CARGO_BIN_EXE_station");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// `station serve`, stopped on drop with SIGTERM (it stops its pcscd by PID), SIGKILL if it
/// lingers.
struct Station {
    child: Child,
    /// How it was started, to start it again.
    command: Vec<std::ffi::OsString>,
    dir: tempfile::TempDir,
    url: String,
    accounts: serde_json::Value,
    people: Vec<serde_json::Value>,
}

impl Drop for Station {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

impl Station {
    /// The embedded default on simulated devices, with `people` fresh persons in the police
    /// register; `timing_scale` slows the printer so that the steps can be watched.
    fn start(people: usize, timing_scale: f64) -> Station {
        Station::start_in(tempfile::tempdir().expect("tmp"), people, timing_scale, &[], None)
    }

    /// `start` in `dir` with `extra` arguments to `station serve`; `tls`: the certificate the
    /// page is served with (https://localhost).
    fn start_in(
        dir: tempfile::TempDir,
        people: usize,
        timing_scale: f64,
        extra: &[&std::ffi::OsStr],
        tls: Option<&Path>,
    ) -> Station {
        let people: Vec<serde_json::Value> = (0..people)
            .map(|i| {
                let name = ["王小红", "赵大山", "陈明"][i % 3];
                serde_json::json!({"id_number": archive::conformance::fresh_ssn(), "name": name})
            })
            .collect();
        std::fs::write(dir.path().join("roster.json"), serde_json::to_string(&people).expect("json"))
            .expect("roster");
        let url_port = free_port();
        let mut command: Vec<std::ffi::OsString> =
            ["serve", "--sim", "--timing-scale", &timing_scale.to_string()].map(Into::into).to_vec();
        command.extend(["--data-dir".into(), dir.path().join("data").into()]);
        command.extend(["--listen".into(), format!("127.0.0.1:{url_port}").into()]);
        command.extend(["--vpcd-port".into(), common::port().to_string().into()]);
        command.extend(["--roster".into(), dir.path().join("roster.json").into()]);
        command.extend(["--profiles".into(), repo("firmware-profiles").into()]);
        command.extend(extra.iter().map(|a| a.to_os_string()));
        let url = match tls {
            Some(_) => format!("https://localhost:{url_port}"),
            None => format!("http://127.0.0.1:{url_port}"),
        };
        let child = spawn_station(&command, dir.path());
        let mut station = Station { child, command, dir, url, accounts: serde_json::Value::Null, people };
        station.wait_up(&https_client(tls));
        let passwords = std::fs::read_to_string(station.dir.path().join("data/initial-passwords.txt"))
            .expect("passwords");
        let accounts: serde_json::Map<String, serde_json::Value> = passwords
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .map(|(name, password)| (name.to_string(), password.trim().into()))
            .collect();
        station.accounts = accounts.into();
        station
    }

    /// Waits until the API answers.
    fn wait_up(&mut self, client: &reqwest::blocking::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(format!("{}/api/health", self.url)).send().is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("station serve --sim stopped ({status}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "station serve did not come up:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the station with SIGKILL (nothing of it runs on), as a power cut or the OOM killer
    /// would; its private pcscd's PID, found before.
    fn kill_hard(&mut self) -> Option<u32> {
        let pcscd = child_pcscd(self.child.id());
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        pcscd
    }

    /// Starts the station again on the same data directory and ports.
    fn start_again(&mut self) {
        self.child = spawn_station(&self.command, self.dir.path());
        self.wait_up(&https_client(None));
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
        log[log.len().saturating_sub(4000)..].to_string()
    }

    /// The simulated bank's URL, as `station serve --sim` logged it.
    fn bank_url(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
        let at = log.rfind(", bank ").map(|i| &log[i + 7..]).unwrap_or_default();
        at.split(',').next().unwrap_or_default().to_string()
    }

    /// The simulated SMS gateway's URL, as `station serve --sim` logged it.
    fn sms_url(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
        let at = log.rfind("simulated SMS gateway: ").map(|i| &log[i + 23..]).unwrap_or_default();
        at.split_whitespace().next().unwrap_or_default().to_string()
    }

    fn local(&self) -> archive::local::LocalArchive {
        common::station_db::open(&self.dir.path().join("data"), "reader")
    }

    /// Runs `tests/browser/SCRIPT` with node against this station (what a scenario needs from
    /// this side, in the station's directory `STATION_DIR`); its last stdout line as JSON.
    fn browse(&self, script: &str, scenario: &str) -> serde_json::Value {
        let here = repo("crates/station/tests/browser");
        assert!(
            here.join("node_modules/playwright-core").is_dir(),
            "playwright-core is not installed: run `npm ci` in {} (scripts/test does)",
            here.display()
        );
        let shots = screenshots().join(scenario);
        let _ = std::fs::remove_dir_all(&shots);
        let mut child = Command::new("node")
            .arg(here.join(script))
            .current_dir(&here)
            .env("STATION_URL", &self.url)
            .env("STATION_ACCOUNTS", self.accounts.to_string())
            .env("STATION_PEOPLE", serde_json::Value::from(self.people.clone()).to_string())
            .env("STATION_BANK", self.bank_url())
            .env("STATION_SMS", self.sms_url())
            .env("STATION_DIR", self.dir.path())
            .env("STATION_SHOTS", &shots)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node (scripts/install-deps installs nodejs)");
        let mut stderr = child.stderr.take().expect("stderr");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let lines: Vec<String> =
            BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok).collect();
        let status = child.wait().expect("node");
        let errors = errors.join().unwrap_or_default();
        assert!(
            status.success(),
            "{script} failed: {errors}\nits output: {}\nthe station's log:\n{}",
            lines.join("\n"),
            self.log()
        );
        eprintln!("{script}: screenshots in {}", shots.display());
        serde_json::from_str(lines.last().expect("a result line")).expect("result JSON")
    }
}

fn spawn_station(command: &[std::ffi::OsString], dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("serve.log")).expect("log");
    Command::new(STATION)
        .args(command)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("station serve --sim")
}

/// The pcscd whose parent is `parent`, if any.
fn child_pcscd(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.filter_map(Result::ok).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let status = std::fs::read_to_string(e.path().join("status")).ok()?;
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        (field("Name:") == Some("pcscd") && field("PPid:") == Some(parent.to_string().as_str()))
            .then_some(pid)
    })
}

fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// A client that trusts `cert` only (none: plain HTTP).
fn https_client(cert: Option<&Path>) -> reqwest::blocking::Client {
    let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10));
    if let Some(cert) = cert {
        let pem = std::fs::read(cert).expect("certificate");
        b = b.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"));
    }
    b.build().expect("client")
}

/// `target/browser-screenshots`, kept as the tests' artifacts.
fn screenshots() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("target"))
        .join("browser-screenshots")
}

fn events_of(local: &archive::local::LocalArchive, card: &str) -> Vec<(String, serde_json::Value)> {
    local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.card_number.as_deref() == Some(card))
        .map(|e| (e.event, serde_json::from_str(&e.detail).unwrap_or_default()))
        .collect()
}

#[test]
fn a_card_from_log_in_to_hand_over_and_a_duplicate_person_in_the_browser() {
    let _one = common::serial();
    let station = Station::start(1, 0.05);
    let seen = station.browse("issue.mjs", "issue");
    let card = seen["card"].as_str().expect("card");
    let reissued = seen["reissued"].as_str().expect("re-issued card");
    assert_eq!(seen["face"], serde_json::json!([1016, 648]), "the printed face at 300 dpi");

    let local = station.local();
    local.verify_ledger().expect("the ledger chain is intact");
    let first = local.card(card).expect("card").expect("the first card is recorded");
    assert_eq!(first.ssn, station.people[0]["id_number"].as_str().expect("ssn"));
    assert_eq!(first.status, archive::CardStatus::Stopped, "the re-issue stopped the first card");
    // The form's fields are kept with the application; the replacement fee reads the category
    // of the holder's latest form (the re-issue's, filled as an employee).
    let job: i64 = seen["formJob"].as_str().and_then(|j| j.parse().ok()).expect("the first job");
    let form = local.job_form(job).expect("form").expect("the first job's form");
    let form: serde_json::Value = serde_json::from_str(&form.data).expect("json");
    assert_eq!(form["insurance"]["category"], "extremely-poor", "the category chosen on the page");
    assert_eq!(form["contact"]["household_address"], "福建省泉州市鲤城区中山路2号");
    assert_eq!(form["declaration"], true);
    let category = issuance::services::holder_category(&local, &first.ssn).expect("category");
    assert_eq!(category.map(|c| c.key()), Some("employee"), "the latest form's category");
    assert!(seen["categories"]
        .as_array()
        .is_some_and(|c| c.len() == applicant::InsuranceCategory::all().len()));
    let stop = local.ledger().expect("ledger").into_iter().find(|e| e.event == "card.stopped");
    let stop: serde_json::Value =
        serde_json::from_str(&stop.expect("the old card's stop").detail).expect("json");
    assert_eq!(
        (&stop["card_number"], &stop["holder_consent"]),
        (&serde_json::json!(card), &serde_json::json!(true))
    );
    let second = local.card(reissued).expect("card").expect("the re-issued card is recorded");
    assert!(second.status.is_live(), "the new card is live: {:?}", second.status);
    // Its holder refused it on the supervisor's dormant list: the person's choice, in the ledger.
    assert_eq!(seen["refusedCard"].as_str(), Some(reissued));
    let refusal = events_of(&local, reissued)
        .into_iter()
        .find(|(event, _)| event == "card.refused-by-holder")
        .expect("the refusal is in the ledger");
    assert_eq!(
        (&refusal.1["what"], &refusal.1["chosen_by"]),
        (&serde_json::json!("card-change"), &serde_json::json!("person"))
    );
    assert_eq!(refusal.1["note"], "不换卡，继续用旧卡");
    let events = events_of(&local, card);
    let signed = events
        .iter()
        .find(|(event, detail)| event == "card.handed_over" && detail.to_string().contains("signature"));
    let (_, signed) = signed.unwrap_or_else(|| panic!("the signed hand-over is in the ledger: {events:?}"));
    assert_eq!(signed["receiver"]["kind"], "holder", "the holder, ID checked: {signed}");
    assert!(signed["receiver"]["id_number"].as_str().is_some_and(|n| n.contains("********")), "{signed}");
    let handed = events.iter().filter(|(event, _)| event == "card.handed_over").count();
    assert_eq!(handed, 1, "one hand-over; the refused custodian left none: {events:?}");
    let refused = seen["custodianRefused"].as_str().expect("the custodian's refusal");
    assert!(refused.contains("rule 4") && refused.contains("custody"), "{refused}");
    // The re-issued card went to stock with the reason, not handed over.
    let stocked = events_of(&local, reissued);
    assert!(
        stocked
            .iter()
            .any(|(event, detail)| event == "card.stocked" && detail["reason"] == "持卡人有事先离开"),
        "{stocked:?}"
    );
    assert!(!stocked.iter().any(|(event, _)| event == "card.handed_over"), "{stocked:?}");
    let refused = seen["activationRefused"].as_str().expect("activation refusal");
    assert!(refused.contains("rule 3"), "activation without the checks is refused by RULE 3: {refused}");
    // The person's bank, from the region's list; the bank refused once with its reason, shown
    // on the page and in the ledger; then it confirmed, the account masked.
    assert_eq!(seen["banks"], serde_json::json!(["ICBC", "ABC"]), "the simulated counter's banks");
    assert_eq!(first.bank.as_deref(), Some("ICBC"), "the person's choice is the card's bank");
    let said = seen["bankRefusal"].as_str().expect("the bank's refusal");
    assert!(said.contains("户名与开户信息不符"), "the bank's reason is shown: {said}");
    assert!(
        events.iter().any(|(event, detail)| event == "card.activation-refused"
            && detail["reason"].as_str().is_some_and(|r| r.contains("户名与开户信息不符"))),
        "the refusal with its reason is in the ledger: {events:?}"
    );
    assert!(
        events.iter().any(|(event, detail)| event == "card.activated" && detail["photo_sm3"].is_string()),
        "the face-to-face activation with its photo is in the ledger: {events:?}"
    );
    let account = first.account.as_deref().expect("the account the bank gave is stored with the card");
    let shown = seen["activated"].as_str().expect("the activation");
    assert!(!shown.contains(account) && shown.contains("*"), "the account is masked on screen: {shown}");
    let refusals =
        local.ledger().expect("ledger").into_iter().filter(|e| e.event == "application.refused").count();
    assert_eq!(refusals, 1, "the duplicate application was refused once");
    // The station's first passwords: each person chose their own on the page before anything
    // else; the file of first passwords stays while the auditor still has theirs.
    assert_eq!(seen["changedPasswords"], serde_json::json!(["operator", "supervisor"]));
    let changed = local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.event == "operator.password_changed")
        .count();
    assert_eq!(changed, 2);
    assert!(station.dir.path().join("data/initial-passwords.txt").exists(), "the auditor's is still there");
    // The printed PNG the page showed is the simulator's.
    assert!(station.dir.path().join("data/printed/card-0001.png").is_file());
    assert!(screenshots().join("issue/05-issued-with-printed-face.png").is_file());
}

#[test]
fn a_printer_fault_shows_what_to_do_and_the_retry_makes_the_card() {
    let _one = common::serial();
    let station = Station::start(1, 0.0);
    let seen = station.browse("printer_fault.mjs", "printer-fault");
    let faults = seen["faults"].as_array().expect("faults");
    assert_eq!(faults.len(), 2);
    let feeder = faults[0]["way"].as_str().expect("way out");
    assert!(feeder.contains("放入空白卡"), "the feeder's way out: {feeder}");
    let cover = faults[1]["way"].as_str().expect("way out");
    assert!(cover.contains("合上打印机上盖"), "the cover's way out: {cover}");

    let local = station.local();
    let ledger = local.ledger().expect("ledger");
    let rolled_back = ledger.iter().filter(|e| e.event == "application.rolled_back").count();
    assert_eq!(rolled_back, 2, "each fault rolled its job back");
    let made: Vec<_> = ledger.iter().filter(|e| e.event == "card.made").collect();
    assert_eq!(made.len(), 1, "one card in the end");
    assert_eq!(made[0].card_number.as_deref(), seen["card"].as_str());
    local.verify_ledger().expect("the ledger chain is intact");
}

#[test]
fn a_held_reissue_says_where_the_holder_stands_and_the_supervisor_resumes_it_in_the_browser() {
    let _one = common::serial();
    let station = Station::start(1, 0.0);
    let seen = station.browse("held_reissue.mjs", "held-reissue");
    let (old, new) = (seen["card"].as_str().expect("old card"), seen["reissued"].as_str().expect("new card"));
    let facts = seen["facts"].as_str().expect("facts");
    assert!(facts.contains("停用") && facts.contains("未制成") && facts.contains("保留申领至"), "{facts}");
    let waiting = &seen["waiting"];
    assert_eq!(waiting[1], station.people[0]["name"], "the waiting job names its holder: {waiting}");

    let ssn = station.people[0]["id_number"].as_str().expect("ssn");
    let province =
        archive::SqliteProvincial::open(station.dir.path().join("data/provincial.db"), "reader", 'B')
            .expect("province");
    let person = archive::ProvincialArchive::lookup(&province, ssn).expect("lookup");
    let cards: Vec<_> = person.cards.iter().map(|c| (c.card_number.as_str(), c.status)).collect();
    assert_eq!(cards, [(old, archive::CardStatus::Stopped), (new, archive::CardStatus::Made)]);
    assert!(person.live_claim.is_none());
    let local = station.local();
    assert_eq!(local.card_status(old).expect("status"), Some(archive::CardStatus::Stopped));
    assert_eq!(local.card_status(new).expect("status"), Some(archive::CardStatus::Made));
    let ledger = local.ledger().expect("ledger");
    let held = ledger.iter().position(|e| e.event == "reissue.held").expect("held");
    let resumed = ledger.iter().position(|e| e.event == "reissue.resumed").expect("resumed");
    assert!(held < resumed && ledger[resumed].operator == "supervisor", "resumed by the supervisor");
    local.verify_ledger().expect("the ledger chain is intact");
}

#[test]
fn a_temporary_loss_its_lift_a_formal_loss_and_the_fee_on_the_page() {
    let _one = common::serial();
    let station = Station::start(2, 0.0);
    let seen = station.browse("losses.mjs", "losses");
    let card = seen["card"].as_str().expect("card");
    for (key, words) in [
        ("again", "reported lost already"),
        ("liftUnchecked", "check their ID document"),
        ("notTheHolder", "holder"),
    ] {
        let said = seen[key].as_str().expect(key);
        assert!(said.starts_with("失败") && said.contains(words), "{key}: {said}");
    }
    assert!(seen["schedule"].as_str().is_some_and(|s| s.contains("20.00") && s.contains('5')), "{seen}");
    let events: Vec<String> = events_of(&station.local(), card).into_iter().map(|(event, _)| event).collect();
    let losses: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| ["card.loss-reported", "card.loss-lifted", "card.stopped", "card.fee"].contains(e))
        .collect();
    assert_eq!(losses, ["card.loss-reported", "card.loss-lifted", "card.stopped", "card.fee"], "{events:?}");
    let province =
        archive::SqliteProvincial::open(station.dir.path().join("data/provincial.db"), "reader", 'B')
            .expect("province");
    let ssn = station.people[0]["id_number"].as_str().expect("ssn");
    let person = archive::ProvincialArchive::lookup(&province, ssn).expect("lookup");
    assert_eq!(person.cards.iter().map(|c| c.status).collect::<Vec<_>>(), [archive::CardStatus::Stopped]);
    assert!(person.suspensions.is_empty(), "no loss in force: {person:?}");
    station.local().verify_ledger().expect("the ledger chain is intact");
}

#[test]
fn a_mistyped_name_is_corrected_on_the_page_and_the_card_is_made() {
    let _one = common::serial();
    let station = Station::start(2, 0.0);
    let seen = station.browse("identity_correction.mjs", "identity-correction");
    let card = seen["card"].as_str().expect("card");
    let ssn = station.people[0]["id_number"].as_str().expect("ssn");
    let name = station.people[0]["name"].as_str().expect("name");
    let province =
        archive::SqliteProvincial::open(station.dir.path().join("data/provincial.db"), "reader", 'B')
            .expect("province");
    let person = archive::ProvincialArchive::lookup(&province, ssn).expect("lookup");
    assert_eq!(person.live_card().map(|c| c.card_number.as_str()), Some(card));
    let local = station.local();
    let ledger = local.ledger().expect("ledger");
    let events: Vec<(&str, &str)> = ledger
        .iter()
        .filter(|e| e.event.starts_with("identity."))
        .map(|e| (e.event.as_str(), e.operator.as_str()))
        .collect();
    // Per person: a mismatch and a correction, twice; the second person's last correction is
    // answered by the end of the application, not a third wait.
    let pair = [("identity.mismatch", "operator"), ("identity.corrected", "operator")];
    assert_eq!(events, pair.repeat(4), "each mismatch and each correction, by whom");
    let card_row = local.card(card).expect("card").expect("recorded");
    assert_eq!((card_row.ssn.as_str(), card_row.name.as_str()), (ssn, name), "the corrected name's card");
    // The second person's corrections were used up: the application ended, nothing claimed.
    let other = station.people[1]["id_number"].as_str().expect("ssn");
    let person = archive::ProvincialArchive::lookup(&province, other).expect("lookup");
    assert!(person.live_claim.is_none() && person.cards.is_empty(), "{person:?}");
    let ended = ledger.iter().filter(|e| e.event == "application.rolled_back").count();
    assert_eq!(ended, 1, "the second application ended");
    local.verify_ledger().expect("the ledger chain is intact");
}

#[test]
fn the_station_binary_serves_beyond_loopback_only_over_tls() {
    let _one = common::serial();
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let plain = Command::new(STATION)
        .args(["serve", "--sim", "--listen", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("station serve");
    let said = String::from_utf8_lossy(&plain.stderr);
    assert!(!plain.status.success(), "plain HTTP beyond loopback is refused");
    assert!(said.contains("[tls]") && said.contains("--make-tls-cert"), "{said}");

    let made = Command::new(STATION)
        .args(["serve", "--make-tls-cert", "--host-name", "localhost"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("make cert");
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(made.status.success(), "{said}{}", String::from_utf8_lossy(&made.stderr));
    let (cert, key) = (data.join("station-tls.crt"), data.join("station-tls.key"));
    let fingerprint = said.lines().find_map(|l| l.strip_prefix("SHA-256 fingerprint ")).expect("fingerprint");
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);

    let args: Vec<&std::ffi::OsStr> =
        vec!["--tls-cert".as_ref(), cert.as_os_str(), "--tls-key".as_ref(), key.as_os_str()];
    let station = Station::start_in(dir, 0, 0.0, &args, Some(&cert));
    let https = https_client(Some(&cert));
    let health = https.get(format!("{}/api/health", station.url)).send().expect("https");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("strict-transport-security"));
    let login = https
        .post(format!("{}/api/session", station.url))
        .json(&serde_json::json!({"operator": "operator", "password": station.accounts["operator"]}))
        .send()
        .expect("log-in");
    assert_eq!(login.status(), 200);
    let cookie =
        login.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    assert_eq!(login.json::<serde_json::Value>().expect("json")["must_change"], true, "a first password");
    let port = station.url.rsplit(':').next().expect("port");
    assert!(
        https_client(None).get(format!("http://127.0.0.1:{port}/api/health")).send().is_err(),
        "no plain HTTP on the TLS port"
    );
    let rebound = https.get(format!("{}/api/health", station.url)).header("host", "attacker.example").send();
    assert_eq!(rebound.expect("answer").status(), 421);
}

/// An applicant for person `i` of the station's police register, with a photo in its data
/// directory, as a program posts it to `POST /api/jobs`.
fn api_applicant(station: &Station, i: usize) -> serde_json::Value {
    let data = station.dir.path().join("data");
    std::fs::create_dir_all(data.join("photos")).expect("photos");
    let mut v = common::counter::applicant(&data, i);
    let person = &station.people[i];
    let ssn = person["id_number"].as_str().expect("id").to_string();
    let h = &mut v["holder"];
    h["id_number"] = ssn.clone().into();
    h["birth_date"] = format!("{}-{}-{}", &ssn[6..10], &ssn[10..12], &ssn[12..14]).into();
    h["sex"] = if ssn.as_bytes()[16] % 2 == 1 { "1" } else { "2" }.into();
    h["name"] = person["name"].clone();
    v
}

/// Logs in as `who` for a bearer token, choosing their own password first if it is still the
/// one they were given.
fn api_login(station: &mut Station, who: &str) -> (reqwest::blocking::Client, String) {
    let http = https_client(None);
    let login = |password: &str| {
        http.post(format!("{}/api/session", station.url))
            .json(&serde_json::json!({"operator": who, "password": password, "bearer": true}))
            .send()
            .expect("log-in")
            .json::<serde_json::Value>()
            .expect("json")
    };
    let answer = login(station.accounts[who].as_str().expect("password"));
    let token = answer["token"].as_str().expect("token").to_string();
    if answer["must_change"] == true {
        let mine = format!("{}-mine", station.accounts[who].as_str().expect("password"));
        let changed = http
            .post(format!("{}/api/session/password", station.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"current": station.accounts[who], "new": mine}))
            .send()
            .expect("change");
        assert_eq!(changed.status(), 200);
        station.accounts[who] = mine.into();
    }
    (http, token)
}

#[test]
fn a_station_killed_mid_batch_loses_no_accepted_request_and_leaves_no_pcscd() {
    let _one = common::serial();
    let mut station = Station::start(6, 0.2);
    let (http, token) = api_login(&mut station, "operator");
    let mut requests = Vec::new();
    for i in 0..6 {
        let r = http
            .post(format!("{}/api/jobs", station.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"applicant": api_applicant(&station, i), "collection": "later"}))
            .send()
            .expect("job");
        assert_eq!(r.status(), 202);
        requests.push(r.json::<serde_json::Value>().expect("json")["request_id"].as_i64().expect("id"));
    }
    // The first card is on its way through the printer when the station dies.
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = station.url.clone();
    let status = |http: &reqwest::blocking::Client, token: &str, id: i64| {
        http.get(format!("{url}/api/requests/{id}"))
            .bearer_auth(token)
            .send()
            .expect("request")
            .json::<serde_json::Value>()
            .expect("json")
    };
    while status(&http, &token, requests[0])["job"].is_null() {
        assert!(Instant::now() < deadline, "the first request never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pcscd = station.kill_hard().expect("the station's private pcscd");
    let gone = Instant::now() + Duration::from_secs(5);
    while running(pcscd) {
        assert!(Instant::now() < gone, "pcscd {pcscd} outlived the station killed with SIGKILL");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The next start finds every accepted request and finishes or ends each.
    station.start_again();
    let (http, token) = api_login(&mut station, "operator");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut ends = Vec::new();
    for id in &requests {
        loop {
            let s = status(&http, &token, *id);
            if s["status"] == "ended" {
                ends.push(s);
                break;
            }
            assert!(Instant::now() < deadline, "request {id} never ended: {s}\n{}", station.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for end in &ends {
        let outcome = end["outcome"].as_str().expect("outcome");
        assert!(
            outcome == "stocked" || !end["detail"].as_str().unwrap_or_default().is_empty(),
            "an end other than a card says why: {end}"
        );
    }
    let issued = ends.iter().filter(|e| e["outcome"] == "stocked").count();
    assert!(issued >= 5, "at most the card in the printer at the kill is lost: {ends:?}");
    let again = http
        .post(format!("{}/api/jobs", station.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"applicant": api_applicant(&station, 0)}))
        .send()
        .expect("job");
    let next = again.json::<serde_json::Value>().expect("json")["request_id"].as_i64().expect("id");
    assert!(next > *requests.iter().max().expect("ids"), "request numbers never repeat: {next}");
    let local = station.local();
    local.verify_ledger().expect("the ledger chain is intact");
    for person in &station.people {
        let ssn = person["id_number"].as_str().expect("ssn");
        let live = local
            .cards(None)
            .expect("cards")
            .into_iter()
            .filter(|c| c.ssn == ssn && c.status.is_live())
            .count();
        assert!(live <= 1, "{ssn} holds {live} live cards (RULE 1)");
    }
}

#[test]
fn site_applications_a_delivery_list_and_moves_on_the_page_with_overdue_sms_and_statistics() {
    let _one = common::serial();
    let dir = tempfile::tempdir().expect("tmp");
    let sites = dir.path().join("sites.toml");
    std::fs::write(&sites, common::counter::SITE).expect("sites");
    // Next year's notice too (the 15 working days may run into it), with a holiday in the window.
    let today = applicant::days::today();
    let (holidays, holiday) = common::counter::calendar_with_a_holiday(today);
    let calendar_file = dir.path().join("holidays.toml");
    std::fs::write(&calendar_file, holidays).expect("calendar");
    let extra: Vec<&std::ffi::OsStr> =
        vec!["--sites".as_ref(), sites.as_os_str(), "--holiday-calendar".as_ref(), calendar_file.as_os_str()];
    let station = Station::start_in(dir, 2, 0.0, &extra, None);

    // The card centre (another station of the province) delivers one card here and one to
    // another station; its list has a third row with a broken card number.
    let centre =
        archive::SqliteProvincial::open(station.dir.path().join("data/provincial.db"), "CENTRE", 'C')
            .expect("the centre's view");
    let (card, ssn, card_id) = common::counter::centre_card(&centre, 0, "embedded");
    // The other station is in service (the province delivers only to stations it has seen).
    archive::SqliteProvincial::open(station.dir.path().join("data/provincial.db"), "S-OTHER", 'O')
        .expect("S-OTHER connects");
    let elsewhere = common::counter::centre_card(&centre, 1, "S-OTHER");
    let broken = archive::conformance::fresh_ssn();
    let custodian = archive::conformance::fresh_ssn();
    let list = station.dir.path().join("送卡清单.csv");
    std::fs::write(
        &list,
        format!(
            "社会保障卡号,身份证号,姓名,卡识别码,批次号,箱号,位置\n{card},{ssn},中心0,{card_id},P2026-12,1,1\n{},{},中心1,{},P2026-12,1,2\nB00000018,{broken},王五,,P2026-12,1,3\n",
            elsewhere.0, elsewhere.1, elsewhere.2
        ),
    )
    .expect("list");
    // The next delivery, as XLSX: a new card and the first one again.
    let next = common::counter::centre_card(&centre, 2, "embedded");
    let xlsx = station.dir.path().join("送卡清单-2.xlsx");
    let mut sheet = roster::xlsx::SheetWriter::create(
        &xlsx,
        "交接清单",
        &["社会保障卡号", "身份证号", "姓名", "卡识别码", "批次号", "箱号", "位置"],
    )
    .expect("xlsx");
    sheet.row(&[&next.0, &next.1, "中心2", &next.2, "P2026-12", "2", "1"]).expect("row");
    sheet.row(&[&card, &ssn, "中心0", &card_id, "P2026-12", "1", "1"]).expect("row");
    sheet.finish().expect("xlsx");
    // Judged two working days after the 15th working day from today (the applications' day).
    let calendar = workdays::Calendar::builtin().with_file(&calendar_file).expect("calendar");
    let deadline = calendar.add_working_days(today, 15).expect("deadline");
    assert!(holiday > today && holiday <= deadline, "the holiday {holiday} is in the window to {deadline}");
    let judged_on = calendar.add_working_days(deadline, 2).expect("two working days later");
    let scenario = serde_json::json!({
        "list": list, "card": card, "elsewhere": elsewhere.0,
        "xlsx": xlsx, "xlsxCard": next.0,
        "idNumbers": [ssn, elsewhere.1, broken, next.1, custodian], "custodianId": custodian,
        "deadline": deadline.to_string(), "judgedOn": judged_on.to_string(),
    });
    std::fs::write(station.dir.path().join("scenario.json"), scenario.to_string()).expect("scenario");

    let seen = station.browse("stock.mjs", "stock");
    let local = station.local();
    local.verify_ledger().expect("the ledger chain is intact");

    // The site chosen on the form is the applications' site.
    let site_cards: Vec<&str> =
        seen["siteCards"].as_array().expect("cards").iter().filter_map(|c| c.as_str()).collect();
    assert_eq!(site_cards.len(), 2, "{seen}");
    for (i, made) in site_cards.iter().enumerate() {
        let row = local.card(made).expect("card").expect("the site card is recorded");
        assert_eq!(row.ssn, station.people[i]["id_number"].as_str().expect("ssn"));
        assert_eq!(
            local.application_site(row.application_id).expect("site").as_deref(),
            Some("T03"),
            "the application records the site the form chose"
        );
    }

    // The delivery list: one card taken in, kept by the supervisor; nothing of the others.
    let received = events_of(&local, &card);
    let taken: Vec<_> = received.iter().filter(|(event, _)| event == "card.received").collect();
    assert_eq!(taken.len(), 1, "{received:?}");
    assert_eq!(taken[0].1["keeper"], "supervisor", "{received:?}");
    assert!(events_of(&local, &elsewhere.0).is_empty(), "the other station's card is not taken in");
    let from_xlsx = events_of(&local, &next.0);
    assert!(from_xlsx.iter().any(|(event, _)| event == "card.received"), "{from_xlsx:?}");
    assert!(
        from_xlsx
            .iter()
            .any(|(event, d)| event == "card.moved" && d["site"] == "T03" && d["giver"] == "supervisor"),
        "{from_xlsx:?}"
    );
    let taken_in = local.ledger().expect("ledger").into_iter().filter(|e| e.event == "card.received").count();
    assert_eq!(taken_in, 2, "the first card again was not taken in twice");
    assert!(seen["emptyList"].as_str().is_some_and(|s| s.contains("the list has 0 bytes")), "{seen}");
    assert!(local.card(&elsewhere.0).expect("card").is_none());
    // Its moves, signed by both sides: the refused giver left no line.
    let moves: Vec<_> = received.iter().filter(|(event, _)| event == "card.moved").map(|(_, d)| d).collect();
    assert_eq!(moves.len(), 2, "{received:?}");
    assert_eq!(
        (&moves[0]["place"], &moves[0]["giver"], &moves[0]["receiver"], &moves[0]["site"]),
        (&"二号保管柜".into(), &"supervisor".into(), &"李保管".into(), &serde_json::Value::Null),
        "{moves:?}"
    );
    assert_eq!(
        (&moves[1]["place"], &moves[1]["giver"], &moves[1]["keeper"], &moves[1]["site"]),
        (&"龙街镇便民服务中心".into(), &"李保管".into(), &"王站长".into(), &"T03".into()),
        "{moves:?}"
    );
    let refused = seen["notTheKeeper"].as_str().expect("the refusal");
    assert!(refused.contains("kept by supervisor") && refused.contains("only its keeper"), "{refused}");
    assert!(seen["receivedSms"].as_str().is_some_and(|s| s.starts_with("no phone")), "{seen}");
    // Custody of the received card: refused for the approver's own hand-over, then recorded
    // here and at the province (which answers for the card to this station now).
    let refused = seen["custodyRefused"].as_str().expect("the refusal");
    assert!(refused.contains("other than the operator"), "{refused}");
    assert!(seen["custody"].as_str().is_some_and(|s| s.contains(&card)), "{seen}");
    let here = local.custody_approvals(&card).expect("approvals");
    assert_eq!(here.len(), 1, "{here:?}");
    assert_eq!(
        (here[0].custodian.as_str(), here[0].custodian_id.clone(), here[0].approved_by.as_str()),
        ("李秀英", applicant::mask_id(&custodian), "supervisor")
    );
    let at_province: (String, String) =
        rusqlite::Connection::open(station.dir.path().join("data/provincial.db"))
            .and_then(|db| {
                db.query_row(
                    "SELECT station, custodian_id FROM custody_approvals WHERE card_number = ?1",
                    [&card],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .expect("the province's approval");
    assert_eq!(at_province, ("embedded".to_string(), applicant::mask_id(&custodian)));
    let no_place = seen["noPlace"].as_str().expect("the refusal");
    assert!(no_place.contains("say where the cards go"), "the API's words: {no_place}");
    for made in &site_cards {
        let moved: Vec<_> =
            events_of(&local, made).into_iter().filter(|(event, _)| event == "card.moved").collect();
        assert_eq!(moved.len(), 1, "{moved:?}");
        assert_eq!((&moved[0].1["site"], &moved[0].1["giver"]), (&"T03".into(), &"operator".into()));
    }

    // The gateway took one pickup message, the second card's (once its refusal of the station's
    // account was over); the first was refused.
    let sent: serde_json::Value = reqwest::blocking::get(format!("{}/v1/messages", station.sms_url()))
        .expect("messages")
        .json()
        .expect("json");
    let sent = sent.as_array().cloned().or_else(|| sent["messages"].as_array().cloned()).unwrap_or_default();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["message"]["key"], format!("pickup:{}:T03", site_cards[1]).as_str());
    assert_eq!(sent[0]["message"]["to"], "13800138000");
    assert!(seen["smsSummary"].as_str().is_some_and(|s| s.contains("已发送：1")), "{seen}");
    let stopped = seen["smsStopped"].as_str().unwrap_or_default();
    assert!(stopped.contains("401") && stopped.contains("restart the station"), "{stopped}");
    // What the statistics showed is the ledger's.
    let made = local.ledger().expect("ledger").iter().filter(|e| e.event == "card.made").count();
    assert_eq!(made, 2);
    assert_eq!(seen["statsTotal"][3], made.to_string().as_str(), "{seen}");
    assert_eq!(seen["statsTotal"][4], taken_in.to_string().as_str(), "{seen}");
    let shown = seen.to_string();
    let log = std::fs::read_to_string(station.dir.path().join("serve.log")).expect("the station's log");
    let people: Vec<&str> = station.people.iter().filter_map(|p| p["id_number"].as_str()).collect();
    for id in [ssn.as_str(), &elsewhere.1, &broken, &next.1].into_iter().chain(people) {
        assert!(!shown.contains(id), "no full ID number on the page: {shown}");
        assert!(!log.contains(id), "no full ID number in the station's log");
    }
    assert!(screenshots().join("stock/37-sms-sent-and-nothing-overdue.png").is_file());
}
