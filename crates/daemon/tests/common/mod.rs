//! The daemon over real HTTP on loopback with a scripted runner: the fixture of the API and
//! security tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use archive::local::{LocalArchive, PersonRow};
use daemon::auth::{hash_password, Account, Role};
use daemon::config::Config;
use daemon::{JobRequest, Runner};
use issuance::{DeviceAction, DeviceError, IssueError, JobOutcome, Phase, Step};

/// Walks two steps and issues a card; resumes by marking the job done. The daemon is given the
/// fixture's province (SQLite) for the card-life API.
pub struct Scripted(pub Arc<LocalArchive>);

impl Runner for Scripted {
    fn start(
        &mut self,
        r: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError> {
        progress(7, Step::Accept, Phase::Begin);
        progress(7, Step::Accept, Phase::Done);
        let name = r.applicant.holder.name.clone().unwrap_or_default();
        if name == "卡纸" {
            return Err(IssueError::Device(DeviceError {
                step: "print".into(),
                message: "printer: card jammed".into(),
                action: DeviceAction::Operator("open the cover and take the card out".into()),
            }));
        }
        Ok((7, JobOutcome::Issued { card_number: format!("B00000019 for {name}"), card_id: "x".into() }))
    }
    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        progress(job, Step::HandOver, Phase::Done);
        self.0
            .set_job_status(job, "done")
            .map_err(|source| IssueError::Archive { step: "resume", source })?;
        Ok(JobOutcome::Issued { card_number: "resumed".into(), card_id: "y".into() })
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub base: String,
    pub local: Arc<LocalArchive>,
    pub province: Arc<archive::SqliteProvincial>,
    pub http: reqwest::blocking::Client,
}

/// A job request for a valid applicant named `name`.
pub fn job_body(name: &str) -> serde_json::Value {
    let path = format!("{}/../applicant/testdata/adult.json", env!("CARGO_MANIFEST_DIR"));
    let mut applicant: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("json");
    applicant["holder"]["name"] = name.into();
    serde_json::json!({ "applicant": applicant })
}

pub fn start(with_running_job: bool) -> Fixture {
    start_with(with_running_job, |local, _| Box::new(Scripted(local)))
}

pub fn start_with(
    with_running_job: bool,
    runner: impl FnOnce(Arc<LocalArchive>, Arc<archive::SqliteProvincial>) -> Box<dyn Runner>,
) -> Fixture {
    start_configured(with_running_job, runner, |_| {}).expect("daemon")
}

/// The fixture with `configure` applied to its configuration; the daemon's start error, if any.
pub fn start_configured(
    with_running_job: bool,
    runner: impl FnOnce(Arc<LocalArchive>, Arc<archive::SqliteProvincial>) -> Box<dyn Runner>,
    configure: impl FnOnce(&mut Config),
) -> Result<Fixture, daemon::DaemonError> {
    let dir = tempfile::tempdir().expect("tmp");
    let local = Arc::new(LocalArchive::open_unencrypted(dir.path().join("station.db"), "S1").expect("local"));
    let province = Arc::new(
        archive::SqliteProvincial::open(dir.path().join("provincial.db"), "S1", 'B').expect("province"),
    );
    if with_running_job {
        local
            .upsert_person(&PersonRow {
                ssn: "11010519491231002X".into(),
                name: "张三".into(),
                sex: None,
                birth_date: None,
            })
            .expect("person");
        let app = local.open_application("11010519491231002X", "new", "{}").expect("app");
        local.create_job(app, "instant").expect("job");
    }
    let account = |name: &str, role| Account {
        name: name.into(),
        role,
        password_hash: hash_password("pw-123456"),
        first_password: false,
    };
    let mut config = Config {
        sites: Vec::new(),
        holiday_calendar: None,
        card_services: None,
        sms: None,
        simulators: false,
        station: "S1".into(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        session_minutes: 5,
        idle_minutes: 15,
        tls: None,
        host_names: Vec::new(),
        login: daemon::login::LoginPolicy {
            base_delay_ms: 300,
            max_delay_seconds: 1,
            // One test client, one address: its own lock-out is the unit tests' (login.rs).
            address_lock_minutes: 0,
            ..daemon::login::LoginPolicy::default()
        },
        operators: vec![
            account("op", Role::Operator),
            account("aud", Role::Auditor),
            account("sup", Role::Supervisor),
            account("sup2", Role::Supervisor),
            // Given a first password by whoever set the station up: chooses their own first.
            Account { first_password: true, ..account("fresh", Role::Operator) },
        ],
    };
    configure(&mut config);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let daemon = rt.block_on(daemon::start(
        &config,
        local.clone(),
        Some(province.clone() as Arc<dyn archive::ProvincialArchive>),
        runner(local.clone(), province.clone()),
    ))?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    Ok(Fixture {
        base: format!("{scheme}://{}", daemon.addr),
        dir,
        rt,
        local,
        province,
        http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("client"),
    })
}

impl Fixture {
    /// POST `body` (or GET without one) as `token`; the status and the JSON answer.
    pub fn call(&self, token: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.base);
        let r = match body {
            Some(b) => self.http.post(url).bearer_auth(token).json(&b).send(),
            None => self.http.get(url).bearer_auth(token).send(),
        }
        .expect("call");
        (r.status().as_u16(), r.json::<serde_json::Value>().expect("json"))
    }

    /// Job `job` as `GET /api/jobs/{job}` shows it once it no longer runs (or when `within`
    /// has passed: the caller's assertion says what it expected).
    pub fn job_when_settled(&self, token: &str, job: i64, within: Duration) -> serde_json::Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let (_, view) = self.call(token, &format!("/api/jobs/{job}"), None);
            if view["status"] != "running" || std::time::Instant::now() > deadline {
                return view;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn login(&self, who: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/session", self.base))
            .json(&serde_json::json!({"operator": who, "password": "pw-123456", "bearer": true}))
            .send()
            .expect("login");
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().expect("json")["token"].as_str().expect("token").to_string()
    }

    /// Reads the event stream until `until` says stop; returns the events read.
    pub fn events_until(
        &self,
        token: &str,
        until: impl Fn(&serde_json::Value) -> bool,
        then: impl FnOnce(),
    ) -> Vec<serde_json::Value> {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/api/events", self.base))
            .bearer_auth(token)
            .send()
            .expect("stream");
        assert_eq!(r.status(), 200);
        then();
        let mut seen = Vec::new();
        for line in BufReader::new(r).lines() {
            let line = line.expect("line");
            if let Some(data) = line.strip_prefix("data:") {
                let v: serde_json::Value = serde_json::from_str(data.trim()).expect("event json");
                let stop = until(&v);
                seen.push(v);
                if stop {
                    break;
                }
            }
        }
        seen
    }

    /// Posts one job for an applicant named `name` as `token` (202) and reads the event
    /// stream until it ends; returns the events read.
    pub fn issue_one(&self, token: &str, name: &str) -> Vec<serde_json::Value> {
        let (http, base, token_owned) = (self.http.clone(), self.base.clone(), token.to_string());
        let body = job_body(name);
        self.events_until(
            token,
            |e| e["event"] == "finished",
            move || {
                let r = http
                    .post(format!("{base}/api/jobs"))
                    .bearer_auth(&token_owned)
                    .json(&body)
                    .send()
                    .expect("issue");
                assert_eq!(r.status(), 202);
            },
        )
    }
}

/// A card made for `ssn` (`name`) at the province and recorded at the station: a stock card.
pub fn stock_card(f: &Fixture, ssn: &str, name: &str, card: &str) {
    stock_card_on_form(f, ssn, name, card, "{}");
}

/// [`stock_card`] on an application whose form is `form` (JSON).
pub fn stock_card_on_form(f: &Fixture, ssn: &str, name: &str, card: &str, form: &str) {
    use archive::ProvincialArchive;
    let claim = f.province.claim(&archive::conformance::claim_request(ssn, None)).expect("claim");
    assert_eq!(claim.card_number, card, "the province's next number");
    f.province.commit(&archive::conformance::commit_request(claim.claim_id)).expect("commit");
    let local = &f.local;
    local
        .upsert_person(&PersonRow { ssn: ssn.into(), name: name.into(), sex: None, birth_date: None })
        .expect("person");
    let app = local.open_application(ssn, "new", form).expect("app");
    local.record_card(app, ssn, card, "0123456789ABCDEF", "3B00").expect("card");
}
