//! The worker: one thread that owns the counter's devices and runs issuance jobs one at a
//! time, telling everyone who listens how each step goes. At start it resumes the jobs a crash
//! left running, before it takes new ones.

use std::sync::mpsc;
use std::sync::Arc;

use archive::local::LocalArchive;
use issuance::{JobOutcome, Phase, Step};
use serde::Serialize;
use tokio::sync::broadcast;

/// A request to issue a card.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// The API's request number.
    pub request_id: u64,
    /// Who asked.
    pub operator: String,
    /// The applicant (JSON of the applicant crate).
    pub applicant: serde_json::Value,
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
    },
}

/// Runs jobs on the counter's devices.
pub trait Runner: Send + 'static {
    /// Starts a job for the request.
    fn start(
        &mut self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), String>;
    /// Resumes a job left running.
    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, String>;
    /// The provincial archive the runner claims in, shared with the API for the card's later
    /// life (loss, a holder's death); `None` when the runner has none.
    fn province(&self) -> Option<std::sync::Arc<dyn archive::ProvincialArchive>> {
        None
    }
}

fn finished(request_id: Option<u64>, job: Option<i64>, outcome: Result<JobOutcome, String>) -> Event {
    let (status, detail) = match outcome {
        Ok(JobOutcome::Issued { card_number, .. }) => ("issued", card_number),
        Ok(JobOutcome::Refused(r)) => ("refused", r),
        Ok(JobOutcome::RolledBack(r)) => ("rolled-back", r),
        Ok(JobOutcome::Waiting(r)) => ("waiting", r),
        Err(e) => ("error", e),
    };
    Event::Finished { request_id, job, status: status.into(), detail }
}

/// Starts the worker thread; returns where to send requests.
pub fn spawn(
    mut runner: Box<dyn Runner>,
    local: Arc<LocalArchive>,
    events: broadcast::Sender<Event>,
) -> mpsc::Sender<JobRequest> {
    let (tx, rx) = mpsc::channel::<JobRequest>();
    std::thread::Builder::new()
        .name("issuance-worker".into())
        .spawn(move || {
            let progress_events = events.clone();
            let mut progress = move |job: i64, step: Step, phase: Phase| {
                let phase = match phase {
                    Phase::Begin => "begin",
                    Phase::Done => "done",
                };
                let _ =
                    progress_events.send(Event::Step { job, step: step.name().into(), phase: phase.into() });
            };
            match local.running_jobs() {
                Ok(jobs) => {
                    for job in jobs {
                        tracing::info!(job, "resuming a job left running");
                        let outcome = runner.resume(job, &mut progress);
                        let _ = events.send(finished(None, Some(job), outcome));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot list the jobs left running"),
            }
            for request in rx {
                let _ = events.send(Event::Started { request_id: request.request_id });
                let event = match runner.start(&request, &mut progress) {
                    Ok((job, outcome)) => finished(Some(request.request_id), Some(job), Ok(outcome)),
                    Err(e) => finished(Some(request.request_id), None, Err(e)),
                };
                let _ = events.send(event);
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the issuance worker thread: {e}"));
    tx
}
