//! Identity verification's correction loop over the API (#24 item 6): a job whose verification
//! answered a mismatch waits; its view shows the fields with the register's hints; an operator
//! corrects them (`POST /api/jobs/{id}/correct`, the form judged as a job's request is) and the
//! job verifies again; refusals say what to do. The runner is the issuance engine on the
//! fixture's archives with a scripted register and no devices (its desk steps are the point).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use archive::local::LocalArchive;
use daemon::{JobRequest, Runner};
use idv::{FieldHint, IdentityQuery, IdentityVerifier, IdvError, Verdict};
use issuance::{Engine, IssueError, JobOutcome, Phase, Step};

/// The police register: ID number -> name.
struct Register(Mutex<HashMap<String, String>>);

impl IdentityVerifier for Register {
    fn verify(&self, q: &IdentityQuery) -> Result<Verdict, IdvError> {
        match self.0.lock().expect("register").get(&q.id_number) {
            Some(name) if *name == q.name => Ok(Verdict::Match),
            _ => Ok(Verdict::Mismatch {
                fields: vec![FieldHint {
                    field: "name".into(),
                    hint: "姓名与公安登记不一致：请逐字核对证件".into(),
                }],
            }),
        }
    }
}

/// The engine with no devices: the desk steps run, a card step rolls the job back.
struct DeskOnly {
    local: Arc<LocalArchive>,
    province: Arc<archive::SqliteProvincial>,
    register: Register,
    profile: firmware_profile::Profile,
}

impl DeskOnly {
    fn run<T>(
        &mut self,
        operator: &str,
        corrections: bool,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
        body: impl FnOnce(&mut Engine<'_>) -> T,
    ) -> T {
        let mut none = issuance::NoDevices;
        let mut engine = Engine {
            local: &self.local,
            province: self.province.as_ref(),
            verifier: &self.register,
            path: &mut none,
            profile: &self.profile,
            operator: operator.into(),
            lease_seconds: 600,
            max_corrections: if corrections { 2 } else { 0 },
            progress: Some(progress),
        };
        body(&mut engine)
    }
}

impl Runner for DeskOnly {
    fn start(
        &mut self,
        r: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError> {
        let params = issuance::records::IssueParams {
            region: "110100".into(),
            init_org: "11010000000000000001".into(),
            card_type: '1',
            issue_date: applicant::days::today(),
            validity_years: 10,
            vendor: None,
        };
        let (applicant, collection) = (r.applicant.clone(), r.collection.clone());
        self.run(&r.operator.clone(), r.corrections, progress, |e| {
            e.prepare(&applicant, &params, None, &collection).map(|(job, ended)| {
                (job, ended.unwrap_or(JobOutcome::Waiting("ready for the devices".into())))
            })
        })
    }

    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        self.run("station", true, progress, |e| e.resume(job))
    }
}

fn profile() -> firmware_profile::Profile {
    let path = format!("{}/../../firmware-profiles/ssc-3g-sim.toml", env!("CARGO_MANIFEST_DIR"));
    firmware_profile::Profile::load(path).expect("profile")
}

/// The fixture's test applicant (adult.json) is registered as 张三.
const SSN: &str = "11010519491231002X";

fn start() -> common::Fixture {
    common::start_with(false, |local, province| {
        let register = Register(Mutex::new(HashMap::from([(SSN.to_string(), "张三".to_string())])));
        Box::new(DeskOnly { local, province, register, profile: profile() })
    })
}

#[test]
fn a_mismatch_waits_for_the_operator_who_corrects_the_name_and_the_job_verifies_again() {
    let f = start();
    let op = f.login("op");
    let events = f.issue_one(&op, "张山");
    let end = events.last().expect("finished");
    assert_eq!(end["status"], "correcting", "{end}");
    assert!(end["detail"].as_str().expect("detail").contains("姓名与公安登记不一致"), "{end}");
    let job = end["job"].as_i64().expect("job");

    // The job's view: the field with its hint, the corrections left, the form's values (the ID
    // number masked); the request stays open while the job waits.
    let (status, view) = f.call(&op, &format!("/api/jobs/{job}"), None);
    assert_eq!((status, view["status"].as_str()), (200, Some("correcting")), "{view}");
    let m = &view["mismatch"];
    assert_eq!(m["fields"][0]["field"], "name");
    assert_eq!(m["fields"][0]["hint"], "姓名与公安登记不一致：请逐字核对证件");
    assert_eq!((m["corrections"].as_u64(), m["left"].as_u64()), (Some(0), Some(2)));
    assert_eq!(m["holder"]["name"], "张山");
    assert_eq!(m["holder"]["id_number"], applicant::mask_id(SSN));
    assert!(!view.to_string().contains(SSN), "no whole ID number in the view");
    assert!(m["holder"].get("birth_date").is_none(), "with the masked number it would spell it out");
    let request = end["request_id"].as_i64().expect("request");
    assert_eq!(f.local.request(request).expect("request").expect("kept").status, "started");

    // Refusals, each saying what to do: an auditor changes nothing; a field the register does
    // not compare; a form the job's request would refuse; nothing said; both said.
    let path = format!("/api/jobs/{job}/correct");
    let aud = f.login("aud");
    let (status, _) = f.call(&aud, &path, Some(serde_json::json!({"holder": {"name": "张三"}})));
    assert_eq!(status, 403);
    let (status, e) = f.call(&op, &path, Some(serde_json::json!({"holder": {"occupation": "农民"}})));
    assert_eq!(status, 422);
    assert!(e["error"].as_str().expect("error").contains("changes only"), "{e}");
    let (status, e) = f.call(&op, &path, Some(serde_json::json!({"holder": {"name": ""}})));
    assert_eq!(status, 422);
    assert!(e["error"].as_str().expect("error").contains("holder.name"), "{e}");
    let (status, _) = f.call(&op, &path, Some(serde_json::json!({})));
    assert_eq!(status, 422);
    let both = serde_json::json!({"holder": {"name": "张三"}, "end": "left"});
    assert_eq!(f.call(&op, &path, Some(both)).0, 422);
    let (status, e) = f.call(&op, "/api/jobs/999/correct", Some(serde_json::json!({"end": "left"})));
    assert_eq!(status, 409, "{e}");
    assert_eq!(f.local.job(job).expect("job").expect("row").status, "correcting", "unchanged");

    // The correction: journalled, the job runs again and verifies; with no devices here, the
    // card steps end it (the binary's tests make the card).
    let (status, answer) = f.call(&op, &path, Some(serde_json::json!({"holder": {"name": "张三"}})));
    assert_eq!(status, 202, "{answer}");
    assert_eq!((answer["corrections"].as_u64(), answer["left"].as_u64()), (Some(1), Some(1)));
    let view = f.job_when_settled(&op, job, std::time::Duration::from_secs(20));
    let journal = view["journal"].as_array().expect("journal");
    let verified = journal.iter().any(|l| l["step"] == "verify-identity" && l["phase"] == "done");
    assert!(verified, "verified after the correction: {view}");
    let (status, again) = f.call(&op, &path, Some(serde_json::json!({"holder": {"name": "张三"}})));
    assert_eq!(status, 409, "not waiting any more: {again}");
    assert!(again["error"].as_str().expect("error").contains("not waiting for an identity correction"));
    let ledger = f.local.ledger().expect("ledger");
    let corrected = ledger.iter().find(|e| e.event == "identity.corrected").expect("the correction");
    assert_eq!(corrected.operator, "op");
    assert!(!corrected.detail.contains("张"), "which field, not its value: {}", corrected.detail);
    let app = f.local.job(job).expect("job").expect("row").application_id;
    let form = f.local.application_data(app).expect("data").expect("kept");
    assert!(form.contains("张三") && !form.contains("张山"), "the application holds the corrected name");
}

#[test]
fn the_operator_ends_a_waiting_job_and_a_batch_request_never_waits() {
    let f = start();
    let op = f.login("op");
    let end = f.issue_one(&op, "张山").pop().expect("finished");
    let job = end["job"].as_i64().expect("job");
    let path = format!("/api/jobs/{job}/correct");
    let (status, _) =
        f.call(&op, &path, Some(serde_json::json!({"end": "the applicant will bring the document"})));
    assert_eq!(status, 202);
    let view = f.job_when_settled(&op, job, std::time::Duration::from_secs(20));
    assert_eq!(view["status"], "rolled_back", "{view}");
    let why = view["ended"].as_str().expect("the end's reason");
    assert!(why.contains("the applicant will bring the document") && why.contains("姓名"), "{why}");
    assert!(view["mismatch"].is_null());

    // A batch's request (`on_mismatch: end`): nobody waits to correct it; it ends with the hints.
    let mut body = common::job_body("张山");
    body["on_mismatch"] = "end".into();
    let (http, base, token) = (f.http.clone(), f.base.clone(), op.clone());
    let events = f.events_until(
        &op,
        |e| e["event"] == "finished",
        move || {
            let r =
                http.post(format!("{base}/api/jobs")).bearer_auth(&token).json(&body).send().expect("post");
            assert_eq!(r.status(), 202);
        },
    );
    let end = events.last().expect("finished");
    assert_eq!(end["status"], "rolled-back", "{end}");
    assert!(end["detail"].as_str().expect("detail").contains("姓名与公安登记不一致"), "{end}");
    let mut bad = common::job_body("张三");
    bad["on_mismatch"] = "later".into();
    let (status, e) = f.call(&op, "/api/jobs", Some(bad));
    assert_eq!(status, 422, "{e}");
}
