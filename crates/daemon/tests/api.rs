//! The API over real HTTP on loopback: sessions, roles, the audit trail, the event stream, and
//! the resumption at start of a job a crash left running. The runner here is a script (the
//! issuance engine has its own tests); what is tested is the daemon around it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{job_body, start, start_with, stock_card};
use daemon::{JobRequest, Runner};
use issuance::{IssueError, JobOutcome, Phase, Step};

#[test]
fn sessions_roles_and_the_audit_trail() {
    let f = start(false);
    assert_eq!(f.http.get(format!("{}/api/health", f.base)).send().expect("health").status(), 200);
    let wrong = f
        .http
        .post(format!("{}/api/session", f.base))
        .json(&serde_json::json!({"operator": "op", "password": "x"}))
        .send()
        .expect("login");
    assert_eq!(wrong.status(), 401);
    assert_eq!(f.http.get(format!("{}/api/me", f.base)).send().expect("me").status(), 401, "no token");
    let op = f.login("op");
    let aud = f.login("aud");
    let me: serde_json::Value =
        f.http.get(format!("{}/api/me", f.base)).bearer_auth(&op).send().expect("me").json().expect("json");
    assert_eq!(me["role"], "operator");
    let forbidden = f.http.get(format!("{}/api/ledger", f.base)).bearer_auth(&op).send().expect("ledger");
    assert_eq!(forbidden.status(), 403, "operators do not read the ledger");
    let no_issue = f
        .http
        .post(format!("{}/api/jobs", f.base))
        .bearer_auth(&aud)
        .json(&serde_json::json!({"applicant": {}}))
        .send()
        .expect("issue");
    assert_eq!(no_issue.status(), 403, "auditors issue nothing");
    let mut typo = job_body("张三");
    typo["applicant"]["holder"]["id_number"] = "110105194912310021".into();
    let mut elsewhere = job_body("张三");
    elsewhere["applicant"]["photo"] = "../../../../etc/ssl/certs/ca-certificates.crt".into();
    let refused =
        f.http.post(format!("{}/api/jobs", f.base)).bearer_auth(&op).json(&elsewhere).send().expect("issue");
    assert_eq!(refused.status(), 422, "a photo outside the photo directory");
    let verdict: serde_json::Value = refused.json().expect("json");
    assert!(
        verdict["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["rule"] == "photo-path")),
        "{verdict}"
    );
    for (body, what) in
        [(serde_json::json!({"applicant": {"anything": 1}}), "any JSON"), (typo, "a wrong check character")]
    {
        let refused =
            f.http.post(format!("{}/api/jobs", f.base)).bearer_auth(&op).json(&body).send().expect("issue");
        assert_eq!(refused.status(), 422, "{what} is no applicant");
        let verdict: serde_json::Value = refused.json().expect("json");
        assert_eq!(verdict["valid"], false, "{verdict}");
        assert!(
            !verdict["errors"].as_array().expect("errors").is_empty(),
            "with the field errors: {verdict}"
        );
    }
    let ledger: serde_json::Value = f
        .http
        .get(format!("{}/api/ledger", f.base))
        .bearer_auth(&aud)
        .send()
        .expect("ledger")
        .json()
        .expect("json");
    let events: Vec<&str> = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["event"].as_str().expect("event"))
        .collect();
    // A refused log-in is in the security log, not the ledger (which counts them per window);
    // each refused call (the operator's read of the ledger, the auditor's job) is.
    assert_eq!(events, ["session.opened", "session.opened", "access.forbidden", "access.forbidden"]);
    let verify: serde_json::Value = f
        .http
        .get(format!("{}/api/ledger/verify", f.base))
        .bearer_auth(&aud)
        .send()
        .expect("verify")
        .json()
        .expect("json");
    assert_eq!(verify["intact"], true);
    assert_eq!(
        f.http.delete(format!("{}/api/session", f.base)).bearer_auth(&op).send().expect("logout").status(),
        204
    );
    assert_eq!(
        f.http.get(format!("{}/api/me", f.base)).bearer_auth(&op).send().expect("me").status(),
        401,
        "logged out"
    );
    assert!(f.local.verify_ledger().expect("chain") >= 5);
}

#[test]
fn an_issue_request_streams_its_steps_and_its_end() {
    let f = start(false);
    let op = f.login("op");
    let events = f.issue_one(&op, "张三");
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["started", "step", "step", "finished"]);
    assert_eq!(events[3]["status"], "issued");
    assert_eq!(events[3]["detail"], "B00000019 for 张三");
}

/// Desk steps on the desk thread, card steps on the worker; the worker's card steps of job k
/// wait (up to 10 s) for the desk to have prepared job k+1, and record whether it came.
struct Pipelined {
    prepared: Arc<(std::sync::Mutex<Vec<i64>>, std::sync::Condvar)>,
    overlapped: Arc<std::sync::Mutex<Vec<bool>>>,
    people: i64,
}

struct ScriptedDesk(Arc<(std::sync::Mutex<Vec<i64>>, std::sync::Condvar)>);

impl daemon::Desk for ScriptedDesk {
    fn prepare(
        &self,
        r: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, Option<JobOutcome>), IssueError> {
        let (list, changed) = &*self.0;
        let job = list.lock().expect("list").len() as i64 + 1;
        for step in [Step::Accept, Step::ArchiveCheck, Step::Claim, Step::VerifyIdentity] {
            progress(job, step, Phase::Begin);
            progress(job, step, Phase::Done);
        }
        list.lock().expect("list").push(job);
        changed.notify_all();
        if r.applicant.holder.name.as_deref() == Some("已故") {
            return Ok((job, Some(JobOutcome::Refused("deceased: no card".into()))));
        }
        Ok((job, None))
    }
}

impl Runner for Pipelined {
    fn desk(&self) -> Option<Arc<dyn daemon::Desk>> {
        Some(Arc::new(ScriptedDesk(self.prepared.clone())))
    }
    fn start(
        &mut self,
        _: &JobRequest,
        _: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError> {
        Err(IssueError::Job { job_id: 0, message: "a counter with a desk runs prepared jobs only".into() })
    }
    fn resume(
        &mut self,
        job: i64,
        _: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        Err(IssueError::Job { job_id: job, message: "nothing to resume here".into() })
    }
    fn run_prepared(
        &mut self,
        r: &JobRequest,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        if job < self.people {
            let (list, changed) = &*self.prepared;
            let list = list.lock().expect("list");
            let (list, _) = changed
                .wait_timeout_while(list, Duration::from_secs(10), |l| !l.contains(&(job + 1)))
                .expect("wait");
            self.overlapped.lock().expect("overlapped").push(list.contains(&(job + 1)));
        }
        progress(job, Step::FeedCard, Phase::Begin);
        progress(job, Step::FeedCard, Phase::Done);
        Ok(JobOutcome::Issued {
            card_number: format!("card of job {job} by {}", r.operator),
            card_id: "x".into(),
        })
    }
}

#[test]
fn the_desk_checks_the_next_request_while_the_devices_make_the_card_before() {
    let overlapped = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = overlapped.clone();
    let f = start_with(false, move |_, _| {
        Box::new(Pipelined { prepared: Arc::default(), overlapped: seen, people: 3 })
    });
    let op = f.login("op");
    let http = f.http.clone();
    let (base, token) = (f.base.clone(), op.clone());
    let finished = std::cell::Cell::new(0);
    let events = f.events_until(
        &op,
        move |e| {
            finished.set(finished.get() + usize::from(e["event"] == "finished"));
            finished.get() == 3
        },
        move || {
            for name in ["张三", "已故", "李四"] {
                let r = http
                    .post(format!("{base}/api/jobs"))
                    .bearer_auth(&token)
                    .json(&job_body(name))
                    .send()
                    .expect("issue");
                assert_eq!(r.status(), 202);
            }
        },
    );
    let ends: Vec<(i64, String, String)> = events
        .iter()
        .filter(|e| e["event"] == "finished")
        .map(|e| {
            (
                e["job"].as_i64().expect("job"),
                e["status"].as_str().expect("s").into(),
                e["detail"].as_str().expect("d").into(),
            )
        })
        .collect();
    assert_eq!(
        ends,
        [
            (1, "issued".into(), "card of job 1 by op".into()),
            (2, "refused".into(), "deceased: no card".into()),
            (3, "issued".into(), "card of job 3 by op".into()),
        ],
        "each request ends once, in order; the desk's refusal never reaches the devices"
    );
    assert_eq!(*overlapped.lock().expect("o"), [true], "job 2 was prepared while job 1 was on the devices");
}

#[test]
fn a_job_left_running_is_resumed_at_start() {
    let f = start(true);
    let op = f.login("op");
    // The worker resumes before it takes new requests; the job row tells when it is done.
    let status = f.job_when_settled(&op, 1, Duration::from_secs(10))["status"].clone();
    assert_eq!(status, "done", "the job a crash left running was resumed");
    assert_eq!(
        f.http.get(format!("{}/api/jobs/99", f.base)).bearer_auth(&op).send().expect("job").status(),
        404
    );
}

/// A bank's card system in memory: it knows the ICBC account of card B00000019 and confirms
/// its activation; it counts the requests it was sent.
struct OneAccountBank(std::sync::atomic::AtomicUsize);

const ACCOUNT: &str = "6212260000000000018";

impl bank::BankCardSystem for OneAccountBank {
    fn activate(&self, r: &bank::ActivationRequest) -> Result<bank::Activation, bank::BankError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(r.pan.expose(), ACCOUNT, "the account the bank gave is the one activated");
        Ok(bank::Activation {
            card_number: r.card_number.clone(),
            bank_code: r.bank_code.clone(),
            account: bank::AccountNumber::parse(ACCOUNT).expect("account"),
            status: bank::ActivationStatus::Activated,
            reference: "ICBC-ACT-1".into(),
            activated_at: bank::now_unix(),
            replayed: false,
        })
    }
    fn account(&self, c: &bank::CardRef) -> Result<bank::AccountInfo, bank::BankError> {
        Ok(bank::AccountInfo {
            card_number: c.card_number.clone(),
            bank_code: c.bank_code.clone(),
            account: bank::AccountNumber::parse(ACCOUNT).expect("account"),
            status: bank::AccountStatus::NotActivated,
        })
    }
}

/// A counter camera that gives one fixed frame.
struct Camera;

impl daemon::worker::CounterView for Camera {
    fn devices(&self) -> Vec<daemon::worker::DeviceState> {
        Vec::new()
    }
    fn camera_frame(&self) -> Result<Vec<u8>, String> {
        Ok([&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0x42; 200]].concat())
    }
}

/// The scripted runner at a Shishi counter (350581) that reaches ICBC's card system and has a
/// camera.
struct AtTheBank(common::Scripted, Arc<daemon::state::BankSetup>);

impl Runner for AtTheBank {
    fn start(
        &mut self,
        r: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError> {
        self.0.start(r, progress)
    }
    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        self.0.resume(job, progress)
    }
    fn view(&self) -> Option<Arc<dyn daemon::worker::CounterView>> {
        Some(Arc::new(Camera))
    }
    fn bank(&self) -> Option<Arc<daemon::state::BankSetup>> {
        Some(self.1.clone())
    }
}

/// A card in stock at the station (made, not handed over) for a person, committed at the
/// province (whose counter gives `card`).
#[test]
fn the_cards_life_over_the_api_keeps_its_rules_roles_and_evidence() {
    let banks = bank::Banks::new(bank::Registry::builtin())
        .with_system("icbc-test", &["ICBC"], OneAccountBank(Default::default()))
        .expect("banks");
    let setup = Arc::new(daemon::state::BankSetup { banks, region: "350581".into() });
    let f = start_with(false, |local, _| Box::new(AtTheBank(common::Scripted(local), setup)));
    stock_card(&f, "11010519491231002X", "张三", "B00000019");
    stock_card(&f, "110101199003070017", "李四", "B00000027");
    // The person chose ICBC; the account is the bank's to say (asked at the activation).
    f.local.set_card_account("B00000019", Some("ICBC"), None).expect("bank");
    let (op, sup, aud) = (f.login("op"), f.login("sup"), f.login("aud"));
    let call = |token: &str, path: &str, body: Option<serde_json::Value>| f.call(token, path, body);

    // Stock: both cards, holders masked.
    let (st, stock) = call(&op, "/api/cards?status=made", None);
    assert_eq!(st, 200);
    let cards = stock["cards"].as_array().expect("cards");
    assert_eq!(cards.len(), 2, "{stock}");
    assert!(cards.iter().all(|c| c["holder"].as_str().is_some_and(|h| h.contains("********"))), "{stock}");
    assert!(!stock.to_string().contains("11010519491231002X"), "a full ID number left the station: {stock}");
    let (st, bad) = call(&op, "/api/cards?status=lost", None);
    assert!(st == 400 && bad["error"].as_str().is_some_and(|e| e.contains("made")), "{bad}");

    // Hand-over needs the receiver's signature; the signature is kept and its SM3 ledgered.
    let holder = serde_json::json!({"kind": "holder", "id_number": "11010519491231002X"});
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/handover",
        Some(serde_json::json!({"delivered": true, "signer": "张三", "receiver": holder})),
    );
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.contains("signature")), "{st} {e}");
    let signature = format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(12));
    let (st, _) = call(
        &aud,
        "/api/cards/B00000019/handover",
        Some(
            serde_json::json!({"delivered": true, "signer": "张三", "signature_png": signature, "receiver": holder}),
        ),
    );
    assert_eq!(st, 403, "an auditor hands nothing over");
    let (st, e) = call(
        &op,
        "/api/cards/..%2F..%2Fescape/handover",
        Some(
            serde_json::json!({"delivered": true, "signer": "张三", "signature_png": signature, "receiver": holder}),
        ),
    );
    assert!(st == 400 && e["error"].as_str().is_some_and(|m| m.contains("not a card number")), "{st} {e}");
    // RULE 4: nobody named, another person's ID document, a custodian without an approval.
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/handover",
        Some(serde_json::json!({"delivered": true, "signer": "张三", "signature_png": signature})),
    );
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.starts_with("rule 4")), "{st} {e}");
    let as_number = serde_json::json!({"kind": "holder", "id_number": 110101199003070017u64});
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/handover",
        Some(serde_json::json!({"delivered": true, "signature_png": signature, "receiver": as_number})),
    );
    assert!(st == 422 && !e.to_string().contains("110101199003070017"), "no ID number echoed: {st} {e}");
    let other = serde_json::json!({"kind": "holder", "id_number": "110101199003070017"});
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/handover",
        Some(serde_json::json!({"delivered": true, "signature_png": signature, "receiver": other})),
    );
    let why = e["error"].as_str().unwrap_or_default();
    assert!(st == 422 && why.contains("not the holder's") && !why.contains("110101199003070017"), "{st} {e}");
    let custodian =
        serde_json::json!({"kind": "custodian", "name": "王五", "id_number": "110101199003070033"});
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/handover",
        Some(serde_json::json!({"delivered": true, "signature_png": signature, "receiver": custodian})),
    );
    let why = e["error"].as_str().unwrap_or_default();
    assert!(
        st == 422 && why.contains("no recorded custody approval") && why.contains("supervisor"),
        "{st} {e}"
    );
    assert!(
        !f.dir.path().join("evidence").exists()
            || std::fs::read_dir(f.dir.path().join("evidence")).expect("evidence").next().is_none(),
        "nothing is kept for a receiver who is refused"
    );
    let (st, e) =
        call(&op, "/api/cards/B00000019/stock", Some(serde_json::json!({"reason": "the holder left"})));
    assert!(
        st == 409 && e["error"].as_str().is_some_and(|m| m.contains("does not wait at the counter")),
        "{e}"
    );
    let (st, done) = call(
        &op,
        "/api/cards/B00000019/handover",
        Some(
            serde_json::json!({"delivered": true, "signer": "张三", "signature_png": signature, "receiver": holder}),
        ),
    );
    assert_eq!((st, done["attempt"].as_u64()), (200, Some(1)), "{done}");
    assert_eq!(done["receiver"]["id_number"], "110105********002X", "{done}");
    let kept: Vec<_> = std::fs::read_dir(f.dir.path().join("evidence")).expect("evidence").collect();
    assert_eq!(kept.len(), 1, "the signature is kept as evidence");

    // Activation through the bank, face to face: the ID checked, the holder in person, the
    // photo taken by the counter's camera now (a photo brought along is refused).
    let activate = |body: serde_json::Value| call(&op, "/api/cards/B00000019/activate", Some(body));
    let (st, e) = activate(serde_json::json!({"holder_present": true, "id_checked": false}));
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.starts_with("rule 3")), "{st} {e}");
    let (st, e) = activate(serde_json::json!({"holder_present": false, "id_checked": true}));
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.contains("proxy")), "{st} {e}");
    let brought = serde_json::json!({"holder_present": true, "id_checked": true, "id_valid_until": "长期",
        "photo_jpeg": "/9j/4AAQSkZJRg".repeat(8)});
    let url = format!("{}/api/cards/B00000019/activate", f.base);
    let st = f.http.post(url).bearer_auth(&op).json(&brought).send().expect("activate").status();
    assert_eq!(st, 422, "an uploaded photo is no evidence");
    let (st, done) =
        activate(serde_json::json!({"holder_present": true, "id_checked": true, "id_valid_until": "长期"}));
    assert_eq!(st, 200, "{done}");
    assert_eq!((done["bank"].as_str(), done["reference"].as_str()), (Some("ICBC"), Some("ICBC-ACT-1")));
    assert!(!done.to_string().contains(ACCOUNT), "the account is masked: {done}");
    let (st, e) =
        activate(serde_json::json!({"holder_present": true, "id_checked": true, "id_valid_until": "长期"}));
    assert_eq!(st, 409, "activated twice: {e}");
    let (_, card) = call(&op, "/api/cards/B00000019", None);
    assert_eq!(card["status"], "active");
    assert!(!card.to_string().contains(ACCOUNT), "the account is masked: {card}");
    let events: Vec<&str> =
        card["history"].as_array().expect("history").iter().filter_map(|h| h["event"].as_str()).collect();
    assert_eq!(events, ["card.handed_over", "card.activation-requested", "card.activated"], "{card}");

    // The second card: two failed hand-overs with reasons, then a supervisor's recall.
    let (st, e) = call(&op, "/api/cards/B00000027/handover", Some(serde_json::json!({"delivered": false})));
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.contains("reason")), "{e}");
    for reason in ["moved away", "not reachable by phone"] {
        let (st, _) = call(
            &op,
            "/api/cards/B00000027/handover",
            Some(serde_json::json!({"delivered": false, "reason": reason})),
        );
        assert_eq!(st, 200);
    }
    let (_, dormant) = call(&sup, "/api/cards/dormant?days=0", None);
    let row =
        dormant["cards"].as_array().expect("cards").iter().find(|c| c["card_number"] == "B00000027").cloned();
    assert_eq!(
        row.expect("dormant")["failed_handovers"],
        serde_json::json!(["moved away", "not reachable by phone"])
    );
    assert_eq!(
        call(&op, "/api/cards/B00000027/recall", Some(serde_json::json!({}))).0,
        403,
        "operators do not recall"
    );
    assert_eq!(call(&sup, "/api/cards/B00000027/recall", Some(serde_json::json!({}))).0, 200);
    assert_eq!(f.local.card_status("B00000027").expect("status"), Some(archive::CardStatus::Recalled));
    use archive::ProvincialArchive;
    let at_province = f.province.lookup("110101199003070017").expect("lookup").cards;
    assert_eq!(at_province[0].status, archive::CardStatus::Recalled, "recalled at the province too");
    assert_eq!(
        call(&sup, "/api/cards/B00000027/recall", Some(serde_json::json!({}))).0,
        200,
        "a retry is harmless"
    );

    // Custody: a supervisor approves for the allowed groups only; the custodian's ID is masked.
    let custody = |group: &str| {
        serde_json::json!({"handed_over_by": "op", "holder_group": group, "custodian": "王五",
        "custodian_id": "110101199003070038", "reason": "bedridden", "valid_until": "20271231"})
    };
    assert_eq!(call(&op, "/api/cards/B00000019/custody", Some(custody("disabled"))).0, 403);
    let (st, e) = call(&sup, "/api/cards/B00000019/custody", Some(custody("neighbour")));
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.starts_with("rule 4")), "{e}");
    let mut garbled = custody("disabled");
    garbled["custodian_id"] = "110101199003070034".into();
    let (st, e) = call(&sup, "/api/cards/B00000019/custody", Some(garbled));
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.contains("custodian's ID number")), "{e}");
    assert!(!e.to_string().contains("110101199003070034"), "not echoed: {e}");
    let (st, v) = call(&sup, "/api/cards/B00000019/custody", Some(custody("disabled")));
    assert_eq!(st, 200, "{v}");
    assert!(v["province_approval"].as_i64().is_some(), "recorded at the province: {v}");
    let approvals = f.local.custody_approvals("B00000019").expect("approvals");
    assert_eq!(
        (approvals[0].approved_by.as_str(), approvals[0].custodian_id.as_str()),
        ("sup", "110101********0038")
    );
    // A stock card of a disabled holder goes to the custodian the approval names, and only to
    // them (RULE 4).
    stock_card(&f, "110101199003070041", "赵六", "B00000035");
    assert_eq!(call(&sup, "/api/cards/B00000035/custody", Some(custody("disabled"))).0, 200);
    let to = |name: &str| {
        serde_json::json!({"delivered": true, "signature_png": signature,
            "receiver": {"kind": "custodian", "name": name, "id_number": "110101199003070038"}})
    };
    let (st, e) = call(&op, "/api/cards/B00000035/handover", Some(to("王六")));
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.starts_with("rule 4")), "another name: {e}");
    let (st, done) = call(&op, "/api/cards/B00000035/handover", Some(to("王五")));
    assert_eq!(st, 200, "{done}");
    assert_eq!(
        (done["receiver"]["kind"].as_str(), done["receiver"]["group"].as_str()),
        (Some("custodian"), Some("disabled"))
    );
    let (_, card) = call(&op, "/api/cards/B00000035", None);
    let handed = card["history"]
        .as_array()
        .expect("history")
        .iter()
        .find(|h| h["event"] == "card.handed_over")
        .cloned();
    let handed = handed.expect("handed over");
    assert_eq!(
        (handed["detail"]["signer"].as_str(), handed["detail"]["receiver"]["approved_by"].as_str()),
        (Some("王五"), Some("sup"))
    );

    // Replacement: the person's bank, the first free.
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/replace",
        Some(serde_json::json!({"bank": "ICBC", "chosen_by": "operator"})),
    );
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.starts_with("rule 8")), "{e}");
    let (st, e) = call(
        &op,
        "/api/cards/B00000019/replace",
        Some(serde_json::json!({"bank": "ICBC", "chosen_by": "person", "fee_fen": 500})),
    );
    assert!(st == 422 && e["error"].as_str().is_some_and(|m| m.starts_with("rule 7")), "{e}");
    assert_eq!(
        call(
            &op,
            "/api/cards/B00000019/replace",
            Some(serde_json::json!({"bank": "ICBC", "chosen_by": "person"}))
        )
        .0,
        200
    );

    // Everything above is in the chain, and the chain holds.
    let (_, verify) = call(&aud, "/api/ledger/verify", None);
    assert_eq!(verify["intact"], true, "{verify}");
}

#[test]
fn a_supervisor_settles_an_outreach_kits_conflict_and_the_ledger_keeps_it() {
    use archive::kit::{CheckoutRequest, KitEvent, KitRecord, VisitRequest};
    use archive::ProvincialArchive;
    let f = start(false);
    // A kit checks a person out; while it is away the person is reported deceased; the card
    // it made on the visit cannot stand.
    let kit = archive::SqliteProvincial::as_kit(f.dir.path().join("provincial.db"), "kit-1", "S1", 'B')
        .expect("kit");
    let ssn = archive::conformance::fresh_ssn();
    let out = kit
        .checkout(&CheckoutRequest {
            request_id: "checkout-1".into(),
            visits: vec![VisitRequest { ssn: ssn.clone(), name: "测试".into(), premade_card: None }],
            lease_seconds: 3600,
            record_key: Some(archive::conformance::KitKey::ours().public_hex()),
        })
        .expect("checkout");
    let (op, sup, aud) = (f.login("op"), f.login("sup"), f.login("aud"));
    let call = |token: &str, path: &str, body: Option<serde_json::Value>| f.call(token, path, body);
    let (st, _) = call(
        &sup,
        "/api/persons/deceased",
        Some(serde_json::json!({"id_number": ssn, "evidence": "death certificate 2026-118"})),
    );
    assert_eq!(st, 200);
    let made = KitEvent::Made {
        ssn: ssn.clone(),
        claim_id: out.visits[0].claim_id,
        card_id: "110100D15600000500BF7C7A48FB4966".into(),
        atr: "3B00".into(),
    };
    kit.sync_record(&archive::conformance::KitKey::ours().sign(KitRecord {
        record_id: "kit-1-rec-1".into(),
        lease_id: out.lease_id,
        seq: 1,
        event: made,
        signature: None,
    }))
    .expect("synced");

    assert_eq!(call(&op, "/api/kit/conflicts", None).0, 403, "operators do not see the conflicts");
    let (st, list) = call(&aud, "/api/kit/conflicts", None);
    assert_eq!(st, 200, "{list}");
    let conflicts = list["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{list}");
    assert_eq!(conflicts[0]["record_id"], "kit-1-rec-1");
    assert!(conflicts[0]["reason"].as_str().is_some_and(|r| r.contains("deceased")), "{list}");
    assert!(!list.to_string().contains(&ssn), "the holder is masked: {list}");

    let resolve = |token: &str, record: &str, note: &str| {
        call(token, &format!("/api/kit/conflicts/{record}/resolve"), Some(serde_json::json!({"note": note})))
    };
    assert_eq!(resolve(&aud, "kit-1-rec-1", "card taken back").0, 403, "an auditor settles nothing");
    assert_eq!(resolve(&sup, "kit-1-rec-1", " ").0, 422, "say what was done");
    assert_eq!(resolve(&sup, "no-such-record", "card taken back").0, 409);
    let (st, done) = resolve(&sup, "kit-1-rec-1", "card B0000001 taken back from the family, destroyed");
    assert_eq!((st, done["resolved_by"].as_str()), (200, Some("sup")), "{done}");
    assert_eq!(call(&sup, "/api/kit/conflicts", None).1["conflicts"], serde_json::json!([]), "settled");
    let last = f.local.ledger().expect("ledger").pop().expect("entry");
    assert!(last.event == "kit.conflict_resolved" && last.detail.contains("destroyed"), "{last:?}");
    f.local.verify_ledger().expect("the chain holds");
}

#[test]
fn a_death_recorded_in_error_is_taken_back_only_by_a_second_supervisor() {
    let f = start(false);
    let ssn = archive::conformance::fresh_ssn();
    let (op, sup, sup2) = (f.login("op"), f.login("sup"), f.login("sup2"));
    let (st, _) = f.call(
        &sup,
        "/api/persons/deceased",
        Some(serde_json::json!({"id_number": ssn, "evidence": "死亡医学证明 No. 2026-0042"})),
    );
    assert_eq!(st, 200);
    let correct = serde_json::json!({"id_number": ssn, "reason": "the person came to the counter in person"});
    let (st, _) = f.call(&op, "/api/persons/deceased/correct", Some(correct.clone()));
    assert_eq!(st, 403, "an operator may not");
    let (st, body) = f.call(&sup, "/api/persons/deceased/correct", Some(correct.clone()));
    assert_eq!(st, 409, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("second supervisor")), "{body}");
    let (st, body) = f.call(&sup2, "/api/persons/deceased/correct", Some(correct));
    assert_eq!(st, 200, "{body}");
    use archive::ProvincialArchive;
    assert!(!f.province.lookup(&ssn).expect("lookup").deceased);
    let events: Vec<String> = f.local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert!(events.contains(&"person.death_corrected".to_string()), "{events:?}");
}

#[test]
fn a_device_error_tells_the_page_what_the_driver_asks_for() {
    let f = start(false);
    let op = f.login("op");
    let events = f.issue_one(&op, "卡纸");
    let end = events.last().expect("finished");
    assert_eq!(end["status"], "error", "{end}");
    assert_eq!(
        end["action"],
        serde_json::json!({"kind": "operator", "what": "open the cover and take the card out"})
    );
}

#[test]
fn guessing_passwords_is_slowed_then_locked_until_a_supervisor_unlocks() {
    let f = start(false);
    let try_login = |who: &str, password: &str| {
        f.http
            .post(format!("{}/api/session", f.base))
            .json(&serde_json::json!({"operator": who, "password": password, "bearer": true}))
            .send()
            .expect("login")
            .status()
            .as_u16()
    };
    let sup = f.login("sup");
    // A password typed into the name field: refused, cut in the security log, never ledgered.
    let long = "p".repeat(100_000);
    assert_eq!(try_login(&long, "x"), 400);
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(try_login("op", "wrong"));
        if answers.last() == Some(&423) {
            break;
        }
        // Waits the backoff asks for (the test's policy: 300 ms doubling, at most 1 s).
        if answers.last() == Some(&429) {
            std::thread::sleep(Duration::from_millis(1100));
        }
    }
    let wrong = answers.iter().filter(|&&a| a == 401).count();
    assert_eq!(wrong, 10, "ten wrong passwords are checked: {answers:?}");
    assert!(answers.contains(&429), "a growing wait after five: {answers:?}");
    assert_eq!(answers.last(), Some(&423), "then the name is locked: {answers:?}");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(try_login("op", "pw-123456"), 423, "even the right password, until unlocked");
    let (st, _) = f.call(&f.login("aud"), "/api/operators/op/unlock", Some(serde_json::json!({})));
    assert_eq!(st, 403, "an auditor does not unlock");
    let (st, body) = f.call(&sup, "/api/operators/op/unlock", Some(serde_json::json!({})));
    assert_eq!((st, body["was_locked"].as_bool()), (200, Some(true)), "{body}");
    f.login("op");

    let (st, log) = f.call(&sup, "/api/security/log", None);
    assert_eq!(st, 200);
    let log = log["refused"].as_array().expect("entries").clone();
    assert!(log
        .iter()
        .any(|e| e["reason"] == "name-too-long" && e["name"].as_str().is_some_and(|n| n.len() == 64)));
    assert!(log.iter().filter(|e| e["reason"] == "wrong-password").count() >= 10);
    let ledger = serde_json::to_string(&f.local.ledger().expect("ledger")).expect("json");
    assert!(
        !ledger.contains(&"p".repeat(65)) && !ledger.contains("wrong"),
        "no name or password in the ledger"
    );
    assert!(ledger.contains("operator.unlocked"));
}

#[test]
fn the_statistics_count_the_ledger_for_supervisors_and_auditors_only() {
    let f = start(false);
    stock_card(&f, "11010519491231002X", "张三", "B00000019");
    stock_card(&f, "110101199003070017", "李四", "B00000027");
    let json = serde_json::json!({});
    for card in ["B00000019", "B00000027"] {
        f.local.append_ledger("op", None, Some(card), "card.made", &json).expect("made");
    }
    f.local.append_ledger("op", None, Some("B00000027"), "card.stocked", &json).expect("stocked");
    let (op, sup, aud) = (f.login("op"), f.login("sup"), f.login("aud"));

    let (st, refused) = f.call(&op, "/api/stats", None);
    assert_eq!(st, 403, "{refused}");
    for token in [&sup, &aud] {
        let (st, stats) = f.call(token, "/api/stats", None);
        assert_eq!(st, 200, "{stats}");
        assert_eq!(stats["totals"]["made"], 2, "{stats}");
        assert_eq!(stats["totals"]["stocked"], 1, "{stats}");
        assert_eq!(stats["totals"]["in_stock"], 1, "{stats}");
        assert_eq!(stats["totals"]["issued"], 0, "{stats}");
        let rows = stats["rows"].as_array().expect("rows");
        assert!(rows.len() == 1 && rows[0]["operator"] == "op" && rows[0]["made"] == 2, "{stats}");
        assert!(!stats.to_string().contains("11010519491231002X"), "a full ID number: {stats}");
    }
    let (st, none) = f.call(&sup, "/api/stats?from=2000-01-01&to=2000-01-31", None);
    assert!(st == 200 && none["totals"]["made"] == 0 && none["rows"] == serde_json::json!([]), "{none}");
    let (st, bad) = f.call(&sup, "/api/stats?from=2000-13-01", None);
    assert_eq!(st, 422, "{bad}");
    let (st, bad) = f.call(&sup, "/api/stats?from=2000-02-01&to=2000-01-01", None);
    assert_eq!(st, 422, "{bad}");
}

#[test]
fn the_agent_sites_are_listed_for_the_form_to_every_role_and_a_job_names_one_of_them() {
    let site = |id: &str, name: &str| sms::Site {
        id: id.into(),
        name: name.into(),
        township: "龙街镇".into(),
        hours: "周一至周五 9:00-12:00".into(),
        address: "龙街镇政府一楼社保窗口".into(),
        phone: "0878-6221234".into(),
    };
    let f = common::start_configured(
        false,
        |local, _| Box::new(common::Scripted(local)),
        |c| c.sites = vec![site("T03", "龙街镇便民服务中心"), site("T04", "河口镇便民服务中心")],
    )
    .expect("daemon");
    for who in ["op", "sup", "aud"] {
        let (st, listed) = f.call(&f.login(who), "/api/sites", None);
        assert_eq!(st, 200, "{who}: {listed}");
        let ids: Vec<&str> =
            listed["sites"].as_array().expect("sites").iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(ids, ["T03", "T04"], "{who}: in configuration order: {listed}");
        assert_eq!(listed["sites"][0]["name"], "龙街镇便民服务中心");
    }
    let op = f.login("op");
    let mut body = job_body("张三");
    body["site"] = "T09".into();
    let (st, refused) = f.call(&op, "/api/jobs", Some(body));
    assert_eq!(st, 422, "{refused}");
    assert!(refused["error"].as_str().is_some_and(|e| e.contains("T03, T04")), "{refused}");

    // Without [[sites]]: an empty list, so the form offers no site.
    let plain = start(false);
    let (st, listed) = plain.call(&plain.login("op"), "/api/sites", None);
    assert_eq!((st, listed), (200, serde_json::json!({"sites": []})));
}

/// The applicant form as the counter takes it (#24 item 5): `/api/validate` asks for the
/// declaration, a category from the list and, for a re-issue, the signed consent to stop the
/// old card, each as a field error; the job's printable form is HTML with every field and the
/// signature block, seen by the operator who took it and by supervisors.
#[test]
fn the_full_application_form_validated_and_printed() {
    let f = start(false);
    let (op, sup, aud) = (f.login("op"), f.login("sup"), f.login("aud"));
    let (status, categories) = f.call(&aud, "/api/insurance-categories", None);
    assert_eq!(status, 200, "{categories}");
    let listed = categories["categories"].as_array().expect("categories");
    let of = |key: &str| listed.iter().find(|c| c["key"] == key).cloned().unwrap_or_default();
    assert_eq!(
        (of("extremely-poor")["name"].as_str(), of("extremely-poor")["fee_free"].as_bool()),
        (Some("城乡居民基本医疗保险（特困人员）"), Some(true))
    );
    assert_eq!(of("employee")["fee_free"], false, "the schedule waives the fees of its own categories only");
    assert!(categories["declaration"].as_str().is_some_and(|d| d.contains("真实")), "{categories}");

    let path = format!("{}/../applicant/testdata/full_form.json", env!("CARGO_MANIFEST_DIR"));
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("form")).expect("json");
    let fields = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (e["field"].as_str().unwrap_or("").to_string(), e["rule"].as_str().unwrap_or("").to_string())
            })
            .collect()
    };
    let (status, ok) = f.call(&op, "/api/validate?reissue_of=B00000027", Some(full.clone()));
    assert_eq!((status, ok["valid"].as_bool()), (200, Some(true)), "{ok}");
    let mut bad = full.clone();
    bad.as_object_mut().expect("object").remove("declaration");
    bad["insurance"]["category"] = "vip".into();
    bad["previous_card"]["consent_to_stop"] = false.into();
    let (_, refused) = f.call(&op, "/api/validate?reissue_of=B00000027", Some(bad.clone()));
    assert_eq!(refused["valid"], false);
    let got = fields(&refused);
    for (field, rule) in [
        ("declaration", "declaration-required"),
        ("insurance.category", "insurance-category"),
        ("previous_card.consent_to_stop", "consent-to-stop"),
    ] {
        assert!(got.contains(&(field.into(), rule.into())), "{field} {rule} in {got:?}");
    }
    assert!(refused["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .all(|e| !e["hint"].as_str().unwrap_or("").is_empty()));
    // A first application's form without a previous card, consent asked only of a re-issue.
    let mut first = full.clone();
    first.as_object_mut().expect("object").remove("previous_card");
    let (_, fine) = f.call(&op, "/api/validate", Some(first.clone()));
    assert_eq!(fine["valid"], true, "{fine}");
    let (_, reissue) = f.call(&op, "/api/validate?reissue_of=B00000027", Some(first));
    assert!(
        fields(&reissue).contains(&("previous_card.consent_to_stop".into(), "consent-to-stop".into())),
        "{reissue}"
    );
    // A job's request is judged the same way: 422 with the field errors.
    let (status, verdict) =
        f.call(&op, "/api/jobs", Some(serde_json::json!({"applicant": bad, "reissue_of": "B00000027"})));
    assert_eq!(status, 422, "{verdict}");
    assert!(fields(&verdict).contains(&("declaration".into(), "declaration-required".into())), "{verdict}");

    // The printable form of a job taken by `op`.
    f.local
        .upsert_person(&archive::local::PersonRow {
            ssn: "11010519491231002X".into(),
            name: "张三".into(),
            sex: None,
            birth_date: None,
        })
        .expect("person");
    let mut form = full.clone();
    form["contact"]["address"] = "石狮市<b>湖滨</b> & 八七路".into();
    let app =
        f.local.open_application("11010519491231002X", "reissue", &form.to_string()).expect("application");
    let job = f.local.create_job(app, "instant").expect("job");
    let request =
        f.local.queue_request("op", "{}", "job.requested", &serde_json::json!({})).expect("request");
    f.local.request_job(request, job).expect("request's job");
    let page = |token: &str| {
        let r =
            f.http.get(format!("{}/api/jobs/{job}/form", f.base)).bearer_auth(token).send().expect("form");
        let kind = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (r.status().as_u16(), kind, r.text().expect("text"))
    };
    let (status, kind, html) = page(&op);
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"), "{html}");
    for text in [
        "福建省社会保障卡申领表",
        "11010519491231002X",
        "☑ 城乡居民基本医疗保险（特困人员）",
        "石狮市医疗保险管理中心",
        "福建省泉州市鲤城区中山路2号",
        "卡号为 <u>B00000027</u>",
        "☑ 本人现同意停用该社保卡",
        "☑ 申请人已阅读并同意以上申明",
        "申请人（签字）",
        "监护人（签字）",
        "经办人：op",
        "石狮市&lt;b&gt;湖滨&lt;/b&gt; &amp; 八七路",
    ] {
        assert!(html.contains(text), "{text} in the printed form");
    }
    assert!(!html.contains("<b>湖滨"), "escaped");
    assert_eq!(page(&sup).0, 200, "a supervisor prints any job's form");
    assert_eq!(page(&aud).0, 403, "an auditor sees no whole ID number");
    let css = f.http.get(format!("{}/form.css", f.base)).send().expect("css");
    assert!(css.text().expect("css").contains("@media print"));
    assert_eq!(page(&sup).0, 200);
    let (status, _) = f.call(&sup, "/api/jobs/999/form", None);
    assert_eq!(status, 404);
    let printed: Vec<(String, String)> = f
        .local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.event == "form.printed")
        .map(|e| (e.operator, e.detail))
        .collect();
    assert_eq!(printed.len(), 3, "each form given out is in the ledger: {printed:?}");
    assert!(printed.iter().all(|(_, d)| d.contains(&format!("\"job\":{job}"))), "{printed:?}");
    assert!(!printed.iter().any(|(_, d)| d.contains("11010519491231002X")), "no ID number in the ledger");
}
