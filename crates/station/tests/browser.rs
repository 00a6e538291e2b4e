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
        let log = std::fs::File::create(dir.path().join("serve.log")).expect("log");
        let child = Command::new(STATION)
            .args(["serve", "--sim", "--timing-scale", &timing_scale.to_string()])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{url_port}")])
            .args(["--vpcd-port", &common::port().to_string()])
            .arg("--roster")
            .arg(dir.path().join("roster.json"))
            .arg("--profiles")
            .arg(repo("firmware-profiles"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("station serve --sim");
        let url = match tls {
            Some(_) => format!("https://localhost:{url_port}"),
            None => format!("http://127.0.0.1:{url_port}"),
        };
        let client = https_client(tls);
        let mut station = Station { child, dir, url, accounts: serde_json::Value::Null, people };
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(format!("{}/api/health", station.url)).send().is_err() {
            if let Ok(Some(status)) = station.child.try_wait() {
                panic!("station serve --sim stopped ({status}):\n{}", station.log());
            }
            assert!(Instant::now() < deadline, "station serve did not come up:\n{}", station.log());
            std::thread::sleep(Duration::from_millis(100));
        }
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

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
        log[log.len().saturating_sub(4000)..].to_string()
    }

    fn local(&self) -> archive::local::LocalArchive {
        archive::local::LocalArchive::open(self.dir.path().join("data/station.db"), "reader").expect("local")
    }

    /// Runs `tests/browser/SCRIPT` with node against this station; its last stdout line as
    /// JSON.
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
    let second = local.card(reissued).expect("card").expect("the re-issued card is recorded");
    assert!(second.status.is_live(), "the new card is live: {:?}", second.status);
    let events = events_of(&local, card);
    let signed = events
        .iter()
        .find(|(event, detail)| event == "card.handed_over" && detail.to_string().contains("signature"));
    assert!(signed.is_some(), "the signed hand-over is in the ledger: {events:?}");
    let refused = seen["activationRefused"].as_str().expect("activation refusal");
    assert!(refused.contains("rule 3"), "activation without the checks is refused by RULE 3: {refused}");
    assert!(
        events.iter().any(|(event, detail)| event == "card.activated" && detail["photo_sm3"].is_string()),
        "the face-to-face activation with its photo is in the ledger: {events:?}"
    );
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
