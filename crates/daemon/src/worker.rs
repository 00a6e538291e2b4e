//! The worker: one thread that owns the counter's devices and runs issuance jobs one at a
//! time, telling everyone who listens how each step goes. At start it resumes the jobs a crash
//! left running, before it takes new ones. When the runner has a desk stage, a second thread
//! runs the next request's desk steps (archives, claim, identity check) while the worker's job
//! is on the devices: a batch's card N+1 is checked while card N prints.

use std::sync::mpsc;
use std::sync::Arc;

use archive::local::LocalArchive;
use issuance::{DeviceAction, IssueError, JobOutcome, Phase, Step};
use serde::Serialize;
use tokio::sync::broadcast;

/// A request to issue a card.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// The API's request number.
    pub request_id: u64,
    /// Who asked.
    pub operator: String,
    /// The applicant, validated when the API accepted the request.
    pub applicant: applicant::Applicant,
    /// Re-issue: the card it replaces.
    pub reissue_of: Option<String>,
    /// The holder takes the card at the counter, or later from stock (its place resolved).
    pub collection: issuance::Collection,
    /// A held re-issue a supervisor resumed, or a job whose applicant the operator corrected:
    /// the worker resumes this job (its applicant the job's) instead of starting one.
    pub resume_job: Option<i64>,
    /// At an identity mismatch the job waits for the operator's correction (the counter's
    /// `[idv] max_corrections`); `false` where nobody waits to correct it (a batch): the
    /// application ends with the register's hints.
    pub corrections: bool,
}

/// What is kept of a request until it runs: the applicant, the card it replaces, and where
/// the card goes.
#[derive(Serialize, serde::Deserialize)]
pub struct StoredRequest {
    /// The applicant, validated when the API accepted it.
    pub applicant: applicant::Applicant,
    /// Re-issue: the card it replaces.
    pub reissue_of: Option<String>,
    /// At the counter or later (a request kept before collections were asked: at the counter).
    #[serde(default)]
    pub collection: issuance::Collection,
    /// Whether a mismatch waits for a correction (a request kept before: it does).
    #[serde(default = "waits_for_corrections")]
    pub corrections: bool,
}

fn waits_for_corrections() -> bool {
    true
}

impl JobRequest {
    /// The resumption of job `job` (a held re-issue a supervisor resumed), asked by `operator`:
    /// the job's own applicant and re-issue.
    pub fn resumption(local: &LocalArchive, job: i64, operator: &str) -> Result<JobRequest, String> {
        let row = local.job(job).map_err(|e| e.to_string())?.ok_or_else(|| format!("no job {job}"))?;
        let data = local
            .application_data(row.application_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("job {job} has no application"))?;
        let applicant = serde_json::from_str(&data).map_err(|e| format!("job {job}'s application: {e}"))?;
        Ok(JobRequest {
            request_id: 0,
            operator: operator.to_string(),
            applicant,
            reissue_of: None,
            collection: issuance::Collection::AtCounter,
            resume_job: Some(job),
            corrections: true,
        })
    }

    /// What the station keeps of it before it runs.
    pub fn stored(&self) -> StoredRequest {
        StoredRequest {
            applicant: self.applicant.clone(),
            reissue_of: self.reissue_of.clone(),
            collection: self.collection.clone(),
            corrections: self.corrections,
        }
    }
}

/// What the event stream carries.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A request was taken by the worker.
    Started {
        /// The request.
        request_id: u64,
    },
    /// A journal line of a job.
    Step {
        /// The request the job serves (none for a job resumed at start).
        request_id: Option<u64>,
        /// The job.
        job: i64,
        /// The step.
        step: String,
        /// `begin` or `done`.
        phase: String,
    },
    /// A job ended (or waits).
    Finished {
        /// The request, when this run started the job.
        request_id: Option<u64>,
        /// The job, when one was created.
        job: Option<i64>,
        /// `issued`, `awaiting-handover` (made, waiting for the receiver's signature),
        /// `stocked`, `refused`, `rolled-back`, `waiting`, `held`, `correcting` (an identity
        /// mismatch waiting for the operator's correction) or `error`.
        status: String,
        /// Card number or reason.
        detail: String,
        /// For an error: what the device or the archive asks for (retry, an operator's act,
        /// reject the card, stop the counter), so the page and the CLI say what to do.
        #[serde(skip_serializing_if = "Option::is_none")]
        action: Option<ErrorAction>,
    },
}

/// What an error asks of the counter, as the driver or the archive meant it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ErrorAction {
    /// Try again (the job resumes where it stopped).
    Retry,
    /// A person acts first: `what` says how.
    Operator {
        /// What to do.
        what: String,
    },
    /// The card is spoiled: it goes to the reject box.
    RejectCard,
    /// Stop the counter and call for service.
    Stop,
    /// The applicant's data or the archives' answer: correct the application.
    Application,
}

impl ErrorAction {
    /// What `e` asks for.
    pub fn of(e: &IssueError) -> ErrorAction {
        match e {
            IssueError::Device(d) => match &d.action {
                DeviceAction::Retry => ErrorAction::Retry,
                DeviceAction::Operator(what) => ErrorAction::Operator { what: what.clone() },
                DeviceAction::RejectCard => ErrorAction::RejectCard,
                DeviceAction::Stop => ErrorAction::Stop,
            },
            IssueError::Archive { source, .. } if source.is_retryable() => ErrorAction::Retry,
            IssueError::Data(_) | IssueError::Identity(_) | IssueError::Archive { .. } => {
                ErrorAction::Application
            }
            // A card's records, the job's journal, and whatever comes later: stop and look.
            _ => ErrorAction::Stop,
        }
    }
}

/// One device as the status bar shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceState {
    /// `card-reader`, `psam`, `printer`, `ribbon`, `feeder`, `cover`, `camera`.
    pub device: String,
    /// Whether it is ready.
    pub ok: bool,
    /// What is wrong, as a stable code the page translates (`cover-open`, `feeder-empty`,
    /// `ribbon-out`, `ribbon-low`, `no-card`, `no-reader`, `unreachable`), empty when ok.
    pub problem: String,
    /// What the device said, for the record (never personal data).
    pub detail: String,
    /// What the operator does about it, empty when ok.
    pub action: String,
}

impl DeviceState {
    /// A ready device.
    pub fn ok(device: &str, detail: impl Into<String>) -> DeviceState {
        DeviceState {
            device: device.into(),
            ok: true,
            problem: String::new(),
            detail: detail.into(),
            action: String::new(),
        }
    }

    /// A device that needs the operator.
    pub fn fault(device: &str, problem: &str, detail: impl Into<String>, action: &str) -> DeviceState {
        DeviceState {
            device: device.into(),
            ok: false,
            problem: problem.into(),
            detail: detail.into(),
            action: action.into(),
        }
    }
}

/// What the web page reads from the counter while the worker owns it: shareable across
/// threads, so the camera preview and the status bar never wait for a card being printed.
pub trait CounterView: Send + Sync + 'static {
    /// The devices as last polled (the worker polls them between jobs).
    fn devices(&self) -> Vec<DeviceState>;
    /// One camera frame (JPEG or PNG bytes), or why there is none.
    fn camera_frame(&self) -> Result<Vec<u8>, String> {
        Err("this counter has no camera".into())
    }
    /// The printed face of a job as PNG: the simulator's print, or the face as rendered.
    fn printed_face(&self, _job: i64) -> Option<Vec<u8>> {
        None
    }
    /// Seconds each step took on average here (the time-left estimate), by step name.
    fn step_seconds(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// A physical action on a simulated device (`printer:cover-open`, `printer:close-cover`,
    /// ...): what a person would do at the printer. Real counters have none.
    fn simulate(&self, action: &str) -> Result<(), String> {
        Err(format!("{action}: this counter has no simulated devices"))
    }
}

/// The steps of a job before the devices (archives, claim, identity check), run on their own
/// thread so that they overlap the devices' work on the job before.
pub trait Desk: Send + Sync + 'static {
    /// Starts a job for the request and runs its desk steps: `None` when it is ready for the
    /// devices ([`Runner::resume`] goes on), `Some` when it ended at the desk.
    fn prepare(
        &self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, Option<JobOutcome>), IssueError>;
}

/// Told of the journal lines the API writes for a job (a hand-over at the counter): the kill -9
/// tests' crash hook.
pub type JournalWatch = Arc<dyn Fn(i64, Step, Phase) + Send + Sync>;

/// Runs jobs on the counter's devices.
pub trait Runner: Send + 'static {
    /// The counter's desk stage, when its jobs can be prepared away from the devices.
    fn desk(&self) -> Option<Arc<dyn Desk>> {
        None
    }
    /// What the web page may read at any time (device status, camera, printed faces); taken
    /// once when the daemon starts.
    fn view(&self) -> Option<Arc<dyn CounterView>> {
        None
    }
    /// Where cards go to stock and who answers for them (`[counter.stock]`); taken once when
    /// the daemon starts.
    fn stock(&self) -> issuance::StockSettings {
        issuance::StockSettings::default()
    }
    /// What watches the journal lines the API writes for a job (a hand-over at the counter);
    /// taken once when the daemon starts.
    fn journal_watch(&self) -> Option<JournalWatch> {
        None
    }
    /// The cooperating banks of the counter's region and the card systems it activates
    /// through (`[counter.bank]`); taken once when the daemon starts.
    fn bank(&self) -> Option<Arc<crate::state::BankSetup>> {
        None
    }
    /// Polls the devices for the status bar; the worker calls it between jobs.
    fn poll_devices(&mut self) {}
    /// Renews the provincial claims of the jobs that wait (for the operator, a device, the
    /// network), so no claim lapses under a job; the worker calls it now and then.
    fn keep_claims(&mut self) {}
    /// Starts a job for the request.
    fn start(
        &mut self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError>;
    /// Resumes a job left running.
    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError>;
    /// Runs the card steps of a job the desk prepared for `request` (its operator signs the
    /// ledger entries); by default as a resumption.
    fn run_prepared(
        &mut self,
        request: &JobRequest,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        let _ = request;
        self.resume(job, progress)
    }
}

fn finished(request_id: Option<u64>, job: Option<i64>, outcome: Result<JobOutcome, IssueError>) -> Event {
    let (status, detail, action) = match outcome {
        Ok(JobOutcome::Issued { card_number, .. }) => ("issued", card_number, None),
        Ok(JobOutcome::AwaitingHandover { card_number, .. }) => ("awaiting-handover", card_number, None),
        Ok(JobOutcome::Stocked { card_number, .. }) => ("stocked", card_number, None),
        Ok(JobOutcome::Refused(r)) => ("refused", r, None),
        Ok(JobOutcome::RolledBack(r)) => ("rolled-back", r, None),
        Ok(JobOutcome::Waiting(r)) => ("waiting", r, None),
        Ok(JobOutcome::Held(held)) => ("held", held.to_string(), None),
        Ok(JobOutcome::Correcting(m)) => (issuance::CORRECTING, m.to_string(), None),
        Err(e) => ("error", e.to_string(), Some(ErrorAction::of(&e))),
    };
    Event::Finished { request_id, job, status: status.into(), detail, action }
}

/// How often an idle worker polls the devices for the status bar.
const DEVICE_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// How often the claims of waiting jobs are looked at (each is renewed at half its lease).
const KEEP_CLAIMS: std::time::Duration = std::time::Duration::from_secs(60);

/// A request as the worker takes it: whole, or with its desk steps run.
enum Next {
    Whole(JobRequest),
    Prepared(JobRequest, Result<(i64, Option<JobOutcome>), IssueError>),
}

/// Keeps what `event` says of its request in the station's archive (started, its job, ended),
/// then tells the event stream. The archive's record is what a start after a crash reads, so
/// it is written first, on the worker's own thread.
fn emit(events: &broadcast::Sender<Event>, local: &LocalArchive, event: Event) {
    let kept = match &event {
        Event::Started { request_id } => local.request_started(*request_id as i64),
        Event::Step { .. } => Ok(()),
        // A job that waits (for the operator, a device, the network, the holder's signature)
        // keeps its request open; the hand-over ends it.
        // A held re-issue keeps it open too: the supervisor's restore or resume ends it; and a
        // job waiting for an identity correction: the corrected job's run ends it.
        Event::Finished { status, .. }
            if ["waiting", "awaiting-handover", "held", issuance::CORRECTING].contains(&status.as_str()) =>
        {
            Ok(())
        }
        Event::Finished { request_id: Some(r), status, detail, .. } => {
            local.request_ended(*r as i64, status, detail)
        }
        Event::Finished { request_id: None, job: Some(job), status, detail, .. } => {
            local.job_request_ended(*job, status, detail)
        }
        Event::Finished { .. } => Ok(()),
    };
    if let Err(e) = kept {
        tracing::error!(error = %e, "the request's progress was not kept");
    }
    let _ = events.send(event);
}

/// Journal lines of the jobs serving `request_id` as events; the first one names the job
/// that serves the request, in the archive.
fn progress_to<'a>(
    events: &'a broadcast::Sender<Event>,
    local: &'a LocalArchive,
    request_id: Option<u64>,
) -> impl FnMut(i64, Step, Phase) + Send + 'a {
    let mut named = None;
    move |job: i64, step: Step, phase: Phase| {
        if let (Some(r), true) = (request_id, named != Some(job)) {
            if let Err(e) = local.request_job(r as i64, job) {
                tracing::error!(error = %e, "the request's job was not kept");
            }
            named = Some(job);
        }
        let phase = match phase {
            Phase::Begin => "begin",
            Phase::Done => "done",
        };
        let _ = events.send(Event::Step { request_id, job, step: step.name().into(), phase: phase.into() });
    }
}

/// The front of the queue, run by the desk stage ([`issuance::pipeline::desk_stage`]):
/// requests in arrival order, prepared at the desk when the runner has one.
fn front(
    desk: Option<Arc<dyn Desk>>,
    events: broadcast::Sender<Event>,
    local: Arc<LocalArchive>,
) -> impl FnMut(JobRequest) -> Next + Send + 'static {
    move |request| match &desk {
        // A resumed job's desk steps are done: it goes to the devices as it is.
        Some(_) if request.resume_job.is_some() => Next::Whole(request),
        Some(desk) => {
            emit(&events, &local, Event::Started { request_id: request.request_id });
            let prepared =
                desk.prepare(&request, &mut progress_to(&events, &local, Some(request.request_id)));
            Next::Prepared(request, prepared)
        }
        None => Next::Whole(request),
    }
}

/// The requests a crash left open, settled before the API answers anything: a queued one is
/// sent to the worker again (in its order), a started one without a job ends "interrupted"
/// (nothing was claimed or fed for it), one whose job ended meanwhile ends as its job did; one
/// whose job still runs follows that job, which the worker resumes.
pub fn recover_requests(
    local: &LocalArchive,
    jobs: &mpsc::Sender<JobRequest>,
) -> Result<usize, archive::ArchiveError> {
    let mut requeued = 0;
    for r in local.open_requests()? {
        let id = r.request_id;
        match (r.status.as_str(), r.job_id) {
            ("queued", _) => match serde_json::from_str::<StoredRequest>(&r.request) {
                Ok(kept) => {
                    let request = JobRequest {
                        request_id: id as u64,
                        operator: r.operator,
                        applicant: kept.applicant,
                        reissue_of: kept.reissue_of,
                        collection: kept.collection,
                        resume_job: None,
                        corrections: kept.corrections,
                    };
                    if jobs.send(request).is_ok() {
                        requeued += 1;
                    }
                }
                Err(e) => local.request_ended(
                    id,
                    "error",
                    &format!("the kept request cannot be read ({e}): apply again"),
                )?,
            },
            (_, None) => {
                let why =
                    "the station stopped before the job began: nothing was claimed or made; apply again";
                local.request_ended(id, "interrupted", why)?;
                local.append_ledger(
                    &r.operator,
                    None,
                    None,
                    "job.interrupted",
                    &serde_json::json!({"request_id": id}),
                )?;
            }
            (_, Some(job)) => {
                if let Some(row) = local.job(job)? {
                    let card = issuance::JobCard::from_state(&row.state);
                    let card_number = card.card_number.unwrap_or_default();
                    let in_stock = local.card_status(&card_number)? == Some(archive::CardStatus::Made);
                    let ended = match row.status.as_str() {
                        "done" if in_stock => Some(("stocked", card_number)),
                        "done" => Some(("issued", card_number)),
                        "rolled_back" => Some(("rolled-back", String::new())),
                        "failed" => Some(("refused", String::new())),
                        "restored" => Some(("restored", String::new())),
                        _ => None,
                    };
                    if let Some((outcome, detail)) = ended {
                        local.request_ended(id, outcome, &detail)?;
                    }
                }
            }
        }
    }
    Ok(requeued)
}

/// Starts the worker thread; returns where to send requests.
pub fn spawn(
    mut runner: Box<dyn Runner>,
    local: Arc<LocalArchive>,
    events: broadcast::Sender<Event>,
) -> mpsc::Sender<JobRequest> {
    let (tx, rx) = mpsc::channel::<JobRequest>();
    // Listed before the desk can open a job of its own, which it would be running then.
    let left_running = local.running_jobs();
    let front = front(runner.desk(), events.clone(), local.clone());
    std::thread::Builder::new()
        .name("issuance-worker".into())
        .spawn(move || {
            std::thread::scope(|scope| {
                let queue = issuance::pipeline::desk_stage(scope, rx, front);
                match left_running {
                    Ok(jobs) => {
                        for job in jobs {
                            tracing::info!(job, "resuming a job left running");
                            let outcome = runner.resume(job, &mut progress_to(&events, &local, None));
                            emit(&events, &local, finished(None, Some(job), outcome));
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot list the jobs left running"),
                }
                runner.poll_devices();
                let mut claims_kept = std::time::Instant::now();
                loop {
                    let next = match queue.recv_timeout(DEVICE_POLL) {
                        Ok(next) => next,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            runner.poll_devices();
                            if claims_kept.elapsed() >= KEEP_CLAIMS {
                                runner.keep_claims();
                                claims_kept = std::time::Instant::now();
                            }
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    let event = match next {
                        Next::Whole(request @ JobRequest { resume_job: Some(job), .. }) => {
                            tracing::info!(
                                job,
                                "resuming a job a person decided on (a held re-issue, a correction)"
                            );
                            // The person who decided signs what the job records from here.
                            let mut progress = progress_to(&events, &local, None);
                            let outcome = runner.run_prepared(&request, job, &mut progress);
                            finished(None, Some(job), outcome)
                        }
                        Next::Whole(request) => {
                            emit(&events, &local, Event::Started { request_id: request.request_id });
                            let mut progress = progress_to(&events, &local, Some(request.request_id));
                            match runner.start(&request, &mut progress) {
                                Ok((job, outcome)) => {
                                    finished(Some(request.request_id), Some(job), Ok(outcome))
                                }
                                Err(e) => finished(Some(request.request_id), None, Err(e)),
                            }
                        }
                        Next::Prepared(request, Ok((job, None))) => {
                            let mut progress = progress_to(&events, &local, Some(request.request_id));
                            let outcome = runner.run_prepared(&request, job, &mut progress);
                            finished(Some(request.request_id), Some(job), outcome)
                        }
                        Next::Prepared(request, Ok((job, Some(outcome)))) => {
                            finished(Some(request.request_id), Some(job), Ok(outcome))
                        }
                        Next::Prepared(request, Err(e)) => finished(Some(request.request_id), None, Err(e)),
                    };
                    // The devices as the job left them, before anyone reads the outcome and asks.
                    runner.poll_devices();
                    emit(&events, &local, event);
                }
            })
        })
        .unwrap_or_else(|e| panic!("cannot start the issuance worker thread: {e}"));
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive::local::PersonRow;

    fn applicant() -> applicant::Applicant {
        let path = format!("{}/../applicant/testdata/adult.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("applicant")
    }

    fn kept() -> String {
        serde_json::to_string(&StoredRequest {
            applicant: applicant(),
            reissue_of: None,
            collection: issuance::Collection::AtCounter,
            corrections: true,
        })
        .expect("json")
    }

    #[test]
    fn a_start_after_a_crash_runs_or_ends_every_accepted_request_and_never_reuses_a_number() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.db");
        let local = LocalArchive::open_unencrypted(&path, "S1").expect("local");
        let queue = |local: &LocalArchive| {
            local.queue_request("op", &kept(), "job.requested", &serde_json::json!({})).expect("queued")
        };
        let (waiting, interrupted, made, running) =
            (queue(&local), queue(&local), queue(&local), queue(&local));
        local.request_started(interrupted).expect("started");
        local
            .upsert_person(&PersonRow {
                ssn: "11010519491231002X".into(),
                name: "张三".into(),
                sex: None,
                birth_date: None,
            })
            .expect("person");
        let app = local.open_application("11010519491231002X", "new", "{}").expect("application");
        for (request, status) in [(made, "done"), (running, "running")] {
            local.request_started(request).expect("started");
            let job = local.create_job(app, "instant").expect("job");
            local.request_job(request, job).expect("its job");
            local.set_job_status(job, status).expect("status");
        }
        drop(local);

        // The station starts again on the same database.
        let local = LocalArchive::open_unencrypted(&path, "S1").expect("reopen");
        let (tx, rx) = mpsc::channel();
        assert_eq!(recover_requests(&local, &tx).expect("recover"), 1);
        let again = rx.try_recv().expect("the queued request runs");
        assert_eq!((again.request_id, again.operator.as_str()), (waiting as u64, "op"));
        assert!(rx.try_recv().is_err(), "only that one");
        let row = |id| local.request(id).expect("row").expect("kept");
        let cut = row(interrupted);
        assert_eq!((cut.status.as_str(), cut.outcome.as_deref()), ("ended", Some("interrupted")));
        assert!(cut.detail.unwrap_or_default().contains("apply again"));
        assert_eq!(row(made).outcome.as_deref(), Some("issued"), "it ends as its job did");
        assert_eq!(row(running).status, "started", "it follows its job, which the worker resumes");
        let events: Vec<String> = local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
        assert_eq!(events.iter().filter(|e| *e == "job.requested").count(), 4);
        assert!(events.contains(&"job.interrupted".to_string()));
        let next = queue(&local);
        assert!(next > running, "numbers never repeat across restarts: {next}");
    }
}
