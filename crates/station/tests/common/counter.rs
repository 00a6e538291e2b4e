//! A whole counter on the simulators, as processes: `station sim counter` (a private pcscd
//! with the chip inside the simulated printer on a pty, the PSAM, the verification service)
//! and `station serve --config` driving it, for the end-to-end tests and the benchmarks.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const STATION: &str = env!("CARGO_BIN_EXE_station");

/// A file of the source tree.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// A child process, stopped on drop (the test never leaves one behind): SIGTERM first, so
/// `station sim counter` stops its pcscd by PID, then SIGKILL if it lingers.
pub struct Proc(pub Child);

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

pub struct Counter {
    pub dir: tempfile::TempDir,
    _devices: Proc,
    pub api: String,
    pub people: Vec<serde_json::Value>,
    pub password: String,
    /// The simulated bank's URL (its `/v1/sim/...` routes set refusals and faults).
    pub bank: String,
    /// The simulated counter's pcscd, for the benchmarks' CPU accounting.
    pub pcscd_pid: Option<u32>,
}

/// `applicant` for a re-issue of `old`: the form names the card and carries the holder's signed
/// consent to stop it (同意注销原卡).
pub fn consenting(applicant: &serde_json::Value, old: &str) -> serde_json::Value {
    let mut v = applicant.clone();
    v["previous_card"] = serde_json::json!({"card_number": old, "consent_to_stop": true});
    v
}

/// A valid adult applicant with a fresh number and a photo in the data directory.
pub fn applicant(dir: &Path, i: usize) -> serde_json::Value {
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

/// A station's `station.toml`: `station` listening on `api_port`, its data in `data_dir`, the
/// accounts `op`, `aud` and `sup` with `password`, the simulated counter's devices as `station
/// sim counter` named them (`devices`), cards of `profile`, the provincial archive `provincial`
/// (an inline TOML table) and more of the `[counter]` section (`extra`); the counter activates
/// through the simulated bank `devices` names, with the simulated counter's bank list.
#[allow(clippy::too_many_arguments)]
pub fn station_toml(
    station: &str,
    api_port: u16,
    data_dir: &Path,
    password: &str,
    devices: &serde_json::Value,
    profile: &Path,
    provincial: &str,
    extra: &str,
) -> String {
    format!(
        r#"station = "{station}"
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
camera = "synthetic"
identity_verification = "{idv}"
provincial = {provincial}
{extra}
{bank}
"#,
        data = data_dir.display(),
        hash = daemon::auth::hash_password(password),
        card = devices["card_reader"].as_str().expect("card"),
        psam = devices["psam_reader"].as_str().expect("psam"),
        printer = devices["printer"].as_str().expect("printer"),
        profile = profile.display(),
        idv = devices["identity_verification"].as_str().expect("idv"),
        bank = devices["bank"].as_str().map_or_else(String::new, |url| format!(
            "[counter.bank]\nbanks_file = \"{}\"\n\n[[counter.bank.system]]\nbanks = [\"ICBC\", \"ABC\"]\nurl = \"{url}\"\n",
            repo("sim/bank-sim/banks.toml").display()
        )),
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

impl Counter {
    /// A counter with `people` applicants known to the police register, its printer instant.
    pub fn start(people: usize) -> Counter {
        Counter::start_timed(people, 0.0)
    }

    /// The same with the printer's mechanical times scaled by `timing_scale` (1: real time).
    pub fn start_timed(people: usize, timing_scale: f64) -> Counter {
        Counter::start_with(people, timing_scale, "ssc-3g-sim.toml", "")
    }

    /// The same with cards of `profile` and more of the `[counter]` section (`extra`).
    pub fn start_with(people: usize, timing_scale: f64, profile: &str, extra: &str) -> Counter {
        let profile_path = repo("firmware-profiles").join(profile);
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
            .args([
                "sim",
                "counter",
                "--vpcd-port",
                &super::port().to_string(),
                "--timing-scale",
                &timing_scale.to_string(),
            ])
            .arg("--printed")
            .arg(dir.path().join("printed"))
            .arg("--roster")
            .arg(dir.path().join("roster.json"))
            .arg("--profile")
            .arg(&profile_path)
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
        let provincial = r#"{ kind = "sqlite" }"#;
        let config = station_toml(
            "S-TEST",
            api_port,
            dir.path(),
            &password,
            &devices_info,
            &profile_path,
            provincial,
            extra,
        );
        std::fs::write(dir.path().join("station.toml"), config).expect("config");
        Counter {
            api: format!("http://127.0.0.1:{api_port}"),
            dir,
            _devices: Proc(devices),
            people,
            password,
            bank: devices_info["bank"].as_str().unwrap_or_default().to_string(),
            pcscd_pid: devices_info["pcscd_pid"].as_u64().and_then(|p| u32::try_from(p).ok()),
        }
    }

    /// The simulators' process (`station sim counter`: the chip, the PSAM, the printer, the
    /// police register and the bank).
    pub fn simulators_pid(&self) -> u32 {
        self._devices.0.id()
    }

    /// `station serve --config`, crashing at `crash` when given; returns when the API answers.
    pub fn serve(&self, crash: Option<&str>) -> Proc {
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
            if Instant::now() >= deadline {
                let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
                let from = log.find("panicked").unwrap_or(log.len().saturating_sub(3000));
                panic!(
                    "station serve did not come up; its log:\n{}",
                    log[from..].chars().take(3000).collect::<String>()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// Serves with a kill at `crash`, issues person `i` as job `job`, and returns once the
    /// station is dead; a job that ends before the crash point fails the test with its log.
    pub fn issue_until_crash(&self, i: usize, job: i64, crash: &str) {
        let mut crashing = self.serve(Some(crash));
        self.issue(i);
        let local = super::station_db::open(self.dir.path(), "reader");
        let deadline = Instant::now() + Duration::from_secs(120);
        while crashing.0.try_wait().expect("wait").is_none() {
            let ended = local.job(job).expect("job").is_some_and(|j| j.status != "running");
            if ended || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
                panic!(
                    "job {job} did not reach {crash}; the station's log:\n{}",
                    &log[log.len().saturating_sub(3000)..]
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn login(&self, who: &str) -> (reqwest::blocking::Client, String) {
        let http =
            reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let r: serde_json::Value = http
            .post(format!("{}/api/session", self.api))
            .json(&serde_json::json!({"operator": who, "password": self.password, "bearer": true}))
            .send()
            .expect("login")
            .json()
            .expect("json");
        (http, r["token"].as_str().expect("token").to_string())
    }

    /// Posts a job for person `i`.
    pub fn issue(&self, i: usize) {
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
    pub fn wait_job(&self, job: i64) -> String {
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

    pub fn ssn(&self, i: usize) -> String {
        self.people[i]["holder"]["id_number"].as_str().expect("ssn").to_string()
    }

    /// Runs a `station` command against this counter's API as `who`.
    pub fn station(&self, who: &str, args: &[&str]) -> std::process::Output {
        self.station_env(who, args, &[])
    }

    /// `station ARGS` as `who` with more environment: ID numbers go there, never into the
    /// arguments (`station::id_input`).
    pub fn station_env(&self, who: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        Command::new(STATION)
            .args(args)
            .envs(env.iter().copied())
            .env("STATION_API", &self.api)
            .env("STATION_OPERATOR", who)
            .env("STATION_PASSWORD", &self.password)
            .env("STATION_CONFIG", self.dir.path().join("station.toml"))
            .current_dir(self.dir.path())
            .output()
            .expect("station")
    }

    /// The provincial archive as `station` sees it (its anchors, its kits).
    pub fn province_as(&self, station: &str) -> archive::SqliteProvincial {
        archive::SqliteProvincial::open(self.dir.path().join("provincial.db"), station, 'B')
            .expect("provincial")
    }

    pub fn province(&self) -> archive::SqliteProvincial {
        archive::SqliteProvincial::open(self.dir.path().join("provincial.db"), "reader", 'B')
            .expect("provincial")
    }
}

/// The card-making centre (another station of the province: the provincial SQLite file opened
/// as `CENTRE`) makes a card for a fresh person and delivers it to station `to`: (card, ssn,
/// card id).
pub fn centre_card(centre: &archive::SqliteProvincial, i: usize, to: &str) -> (String, String, String) {
    use archive::ProvincialArchive as _;
    let ssn = archive::conformance::fresh_ssn();
    let claim = centre
        .claim(&archive::ClaimRequest {
            request_id: format!("c-claim-{i}"),
            ssn: ssn.clone(),
            name: format!("中心{i}"),
            reissue_of: None,
            lease_seconds: 600,
        })
        .expect("claim");
    let card_id = format!("110100D1560000050{i}");
    centre
        .commit(&archive::CommitRequest {
            request_id: format!("c-commit-{i}"),
            claim_id: claim.claim_id,
            card_id: card_id.clone(),
            atr: "3B00".into(),
        })
        .expect("commit");
    centre
        .deliver_card(&archive::DeliverRequest {
            request_id: format!("c-deliver-{i}"),
            card_number: claim.card_number.clone(),
            to_station: to.into(),
        })
        .expect("deliver");
    (claim.card_number, ssn, card_id)
}

/// A holiday calendar file replacing this year's and next year's notices, with a one-day
/// holiday on the first weekday two days or more after `today`: (the file's text, the holiday).
pub fn calendar_with_a_holiday(today: applicant::Date) -> (String, applicant::Date) {
    use applicant::days;
    let mut day = days::days(today) + 2;
    // 1970-01-01 was a Thursday: Monday 0 .. Sunday 6.
    while (day + 3).rem_euclid(7) >= 5 {
        day += 1;
    }
    let holiday = days::date(day).expect("date");
    let notice = |year: u16| {
        let holidays = if holiday.year() == year {
            format!(r#"[{{ name = "测试假日", from = "{holiday}", to = "{holiday}" }}]"#)
        } else {
            "[]".into()
        };
        format!("[[year]]\nyear = {year}\nnotice = \"测试通知 {year}\"\npublished = \"{}-01-01\"\nholidays = {holidays}\n\n", year - 1)
    };
    (format!("{}{}", notice(today.year()), notice(today.year() + 1)), holiday)
}

/// `station serve --sim` on a free port: the embedded default in `data`, the police register
/// `roster` (a JSON list), stderr into `log`. The process and the API's URL, not waited for.
pub fn spawn_serve_sim(data: &Path, roster: &Path, log: &Path) -> (Proc, String) {
    let api_port = free_port();
    let serve = Proc(
        Command::new(STATION)
            .args(["serve", "--sim", "--timing-scale", "0"])
            .arg("--data-dir")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--vpcd-port", &crate::common::port().to_string()])
            .arg("--roster")
            .arg(roster)
            .arg("--profiles")
            .arg(repo("firmware-profiles"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"))
            .spawn()
            .expect("station serve --sim"),
    );
    (serve, format!("http://127.0.0.1:{api_port}"))
}

/// An agent site (`[[sites]]` of station.toml, or the file of `station serve --sim --sites`).
pub const SITE: &str = r#"
[[sites]]
id = "T03"
name = "龙街镇便民服务中心"
township = "龙街镇"
hours = "周一至周五 9:00-12:00"
address = "龙街镇政府一楼社保窗口"
phone = "0878-6221234"
"#;

/// A SoftHSM2 token of its own in `dir` (SOFTHSM2_CONF set for this test process and for the
/// `station` commands it runs), with user PIN `pin` in `dir/token.pin`: what opens it.
pub fn softhsm_token(dir: &Path, label: &str, pin: &str) -> keystore::TokenConfig {
    keystore::softhsm2_token(dir, label, pin)
        .expect("a SoftHSM2 token: install Debian's softhsm2 (scripts/install-deps)")
}

/// The ledger's MAC key and the database wrapping key made in a SoftHSM2 token of its own in
/// `dir` (`ledger` and `db-wrap` in token `S-LEDGER`): the `[ledger]` and `[database]` lines
/// that name them, with their token.
pub fn station_keys_in_token(dir: &Path) -> String {
    let token = softhsm_token(dir, "S-LEDGER", "161803");
    let store = keystore::Keystore::open(&token).expect("the token");
    store.generate_ledger_key("ledger").expect("the ledger key");
    store.generate_data_wrap_key("db-wrap").expect("the database wrapping key");
    let token_lines = format!(
        "module = \"{}\"\nlabel = \"S-LEDGER\"\npin_file = \"{}\"\n",
        keystore::SOFTHSM2_MODULE,
        dir.join("token.pin").display()
    );
    format!(
        "[ledger]\nmac_key = \"ledger\"\n[ledger.token]\n{token_lines}\
         [database]\nwrap_key = \"db-wrap\"\n[database.token]\n{token_lines}"
    )
}

/// The simulated counter's keys in a SoftHSM2 token of its own in `dir`: the profiles' test ISD
/// master (`isd-master`) and the test DP transport key (`dp-transport`), each formed in the
/// token from two components as a key ceremony does, and the ledger's MAC key (`ledger`) and the
/// database wrapping key (`db-wrap`), made in the token. The `[counter.financial]` lines that name them (test DP files, the keys in the
/// token), the `[ledger]` and the `[database]` lines (their keys, `ledger` and `db-wrap`, in the
/// same token).
pub fn financial_keys_in_token(dir: &Path) -> String {
    let token = softhsm_token(dir, "S-TEST", "271828");
    let pin_file = dir.join("token.pin");
    let store = keystore::Keystore::open(&token).expect("the token");
    for (label, role, hex) in [
        ("isd-master", keystore::KeyRole::IsdMaster, "404142434445464748494A4B4C4D4E4F"),
        ("dp-transport", keystore::KeyRole::Transport, emv_cps::crypto::TEST_TRANSPORT_KEY),
    ] {
        let key: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
            .collect();
        let mask: Vec<u8> = (0..key.len() as u8).map(|i| i.wrapping_mul(37).wrapping_add(0x5A)).collect();
        let other: Vec<u8> = key.iter().zip(&mask).map(|(k, m)| k ^ m).collect();
        let components: Vec<keystore::Component> = [mask, other]
            .into_iter()
            .map(|bytes| {
                let kcv = secure_channel::SecretKey::new(secure_channel::Algorithm::Tdes, bytes.clone())
                    .expect("key")
                    .kcv();
                keystore::Component::new(zeroize::Zeroizing::new(bytes), kcv)
            })
            .collect();
        store
            .import_components(label, keystore::KeyKind::Tdes, role, &components, None)
            .expect("key ceremony");
    }
    store.generate_ledger_key("ledger").expect("the ledger key");
    store.generate_data_wrap_key("db-wrap").expect("the database wrapping key");
    format!(
        "[counter.financial]\ndp = \"test\"\nbin = \"621234\"\nisd_key = \"isd-master\"\ntransport_key = \"dp-transport\"\n\
         [counter.financial.token]\nmodule = \"{}\"\nlabel = \"S-TEST\"\npin_file = \"{}\"\n\
         [ledger]\nmac_key = \"ledger\"\n[database]\nwrap_key = \"db-wrap\"\n",
        keystore::SOFTHSM2_MODULE,
        pin_file.display()
    )
}
