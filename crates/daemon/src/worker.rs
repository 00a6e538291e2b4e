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
        /// `issued`, `refused`, `rolled-back`, `waiting` or `error`.
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
        Ok(JobOutcome::Refused(r)) => ("refused", r, None),
        Ok(JobOutcome::RolledBack(r)) => ("rolled-back", r, None),
        Ok(JobOutcome::Waiting(r)) => ("waiting", r, None),
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

/// Journal lines of the jobs serving `request_id` as events.
fn progress_to(
    events: &broadcast::Sender<Event>,
    request_id: Option<u64>,
) -> impl FnMut(i64, Step, Phase) + Send + '_ {
    move |job: i64, step: Step, phase: Phase| {
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
) -> impl FnMut(JobRequest) -> Next + Send + 'static {
    move |request| match &desk {
        Some(desk) => {
            let _ = events.send(Event::Started { request_id: request.request_id });
            let prepared = desk.prepare(&request, &mut progress_to(&events, Some(request.request_id)));
            Next::Prepared(request, prepared)
        }
        None => Next::Whole(request),
    }
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
    let front = front(runner.desk(), events.clone());
    std::thread::Builder::new()
        .name("issuance-worker".into())
        .spawn(move || {
            std::thread::scope(|scope| {
                let queue = issuance::pipeline::desk_stage(scope, rx, front);
                match left_running {
                    Ok(jobs) => {
                        for job in jobs {
                            tracing::info!(job, "resuming a job left running");
                            let outcome = runner.resume(job, &mut progress_to(&events, None));
                            let _ = events.send(finished(None, Some(job), outcome));
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
                        Next::Whole(request) => {
                            let _ = events.send(Event::Started { request_id: request.request_id });
                            let mut progress = progress_to(&events, Some(request.request_id));
                            match runner.start(&request, &mut progress) {
                                Ok((job, outcome)) => {
                                    finished(Some(request.request_id), Some(job), Ok(outcome))
                                }
                                Err(e) => finished(Some(request.request_id), None, Err(e)),
                            }
                        }
                        Next::Prepared(request, Ok((job, None))) => {
                            let mut progress = progress_to(&events, Some(request.request_id));
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
                    let _ = events.send(event);
                }
            })
        })
        .unwrap_or_else(|e| panic!("cannot start the issuance worker thread: {e}"));
    tx
}
