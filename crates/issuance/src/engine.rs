//! The FLOW A job: steps, their journal, resume and rollback.

use std::collections::BTreeMap;

use applicant::{Applicant, Validated};
use archive::local::{ApplicationStatus, LedgerRecord, LocalArchive, PersonRow};
use archive::{
    ArchiveError, CardStatus, Claim, ClaimRequest, CommitRequest, ProvincialArchive, ReleaseRequest,
    StopRequest,
};
use firmware_profile::Profile;
use idv::{FieldHint, IdentityQuery, IdentityVerifier, Verdict};
use serde::{Deserialize, Serialize};

use crate::collection::{Collection, Release, Storage};
use crate::device::{self, CardOrder, CardPath, CardPlace, CardProgress, DeviceAction};
use crate::records::IssueParams;
use crate::step::{Phase, Step, STEPS};
use crate::IssueError;

/// How a job ended (so far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The card was made and handed over.
    Issued {
        /// Card number.
        card_number: String,
        /// Card identification code.
        card_id: String,
    },
    /// The card is made and out of the printer; the job waits at its hand-over for the
    /// receiver's signature (or for the operator to park the card to stock).
    AwaitingHandover {
        /// Card number.
        card_number: String,
        /// Card identification code.
        card_id: String,
    },
    /// The card is made and in stock at a storage place until its holder collects it.
    Stocked {
        /// Card number.
        card_number: String,
        /// Card identification code.
        card_id: String,
        /// The storage place.
        place: String,
    },
    /// The archives or the verification said no; nothing was made.
    Refused(String),
    /// Stopped before the card was recorded; the claim released, any card rejected.
    RolledBack(String),
    /// Waiting for a person or the network; `station issue --resume` goes on.
    Waiting(String),
    /// A re-issue whose new card could not be made after its old card was stopped: the job
    /// holds the claim and waits for a supervisor to restore the old card or resume the new one.
    Held(HeldReissue),
    /// Identity verification answered a mismatch: the job waits at its verification for the
    /// operator to correct the fields the register did not confirm ([`correct_identity`]).
    Correcting(IdentityMismatch),
}

/// A job waiting at its identity verification after a mismatch: the fields the register did
/// not confirm, each with its hint for the operator, and the corrections made and allowed. No
/// ID number and no name: it is shown on screens and in logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityMismatch {
    /// The job.
    pub job_id: i64,
    /// The fields the register did not confirm, with the service's hint for each.
    pub fields: Vec<FieldHint>,
    /// Corrections made so far.
    pub corrections: u32,
    /// Corrections this job allows (`[idv] max_corrections` when it began): at a mismatch after
    /// the last, the application ends.
    pub max_corrections: u32,
}

impl IdentityMismatch {
    /// Corrections the operator may still make.
    pub fn left(&self) -> u32 {
        self.max_corrections.saturating_sub(self.corrections)
    }

    /// What the operator does, as the CLI and the API name it.
    pub fn way_on(&self) -> String {
        format!(
            "check the document with the applicant and correct the field(s): `station correct-identity {}` (POST /api/jobs/{}/correct); {} correction(s) left, after which the application ends",
            self.job_id,
            self.job_id,
            self.left()
        )
    }
}

impl std::fmt::Display for IdentityMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "identity not confirmed by the police register: {}; {}",
            hints_text(&self.fields),
            self.way_on()
        )
    }
}

/// The register's hints as one line: `field: hint; field: hint`.
fn hints_text(fields: &[FieldHint]) -> String {
    fields.iter().map(|f| format!("{}: {}", f.field, f.hint)).collect::<Vec<_>>().join("; ")
}

/// Where the holder of a held re-issue stands: the old card stopped for this re-issue at the
/// province, the new card not made, the claim this station holds until when; and the two ways
/// on (a supervisor restores the old card, or resumes the new card with the same claim and
/// card number). No ID number: it is shown on screens and in logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldReissue {
    /// The job.
    pub job_id: i64,
    /// The old card, stopped at the province for this re-issue.
    pub old_card: String,
    /// The new card's number (the claim's), not made.
    pub new_card: String,
    /// The claim the station holds.
    pub claim_id: i64,
    /// The station holding it.
    pub station: String,
    /// Unix seconds when the claim lapses: after that neither way is open.
    pub held_until: i64,
    /// The step that failed.
    pub step: String,
    /// Why.
    pub reason: String,
    /// Where the spoiled new card is (its number goes back only when accounted for).
    pub new_card_fate: archive::CardFate,
}

impl HeldReissue {
    /// The two ways on, as the CLI and the API name them.
    pub fn ways_on(&self) -> [String; 2] {
        [
            format!(
                "restore the old card {}: a supervisor, `station restore-card {}` (POST /api/jobs/{}/restore)",
                self.old_card, self.job_id, self.job_id
            ),
            format!(
                "resume the new card {}: a supervisor, `station resume-reissue {}` (POST /api/jobs/{}/resume-reissue)",
                self.new_card, self.job_id, self.job_id
            ),
        ]
    }
}

impl std::fmt::Display for HeldReissue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [restore, resume] = self.ways_on();
        write!(
            f,
            "re-issue held: card {} is stopped at the province for this re-issue; the new card {} was not made ({}: {}); station {} holds the claim {} until {}; either {restore}, or {resume}",
            self.old_card,
            self.new_card,
            self.step,
            self.reason,
            self.station,
            self.claim_id,
            local_time(self.held_until)
        )
    }
}

/// Unix seconds as the counter reads them: China Standard Time.
pub fn local_time(unix: i64) -> String {
    let day = applicant::days::date(applicant::days::day_of_unix(unix));
    let secs = (unix + 8 * 3600).rem_euclid(86_400);
    match day {
        Some(d) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} (UTC+8)",
            d.year(),
            d.month(),
            d.day(),
            secs / 3600,
            secs % 3600 / 60
        ),
        None => format!("{unix} (unix time)"),
    }
}

/// Where a run of a job's steps stopped.
enum Ran {
    /// The job ended (or waits for a person or the network).
    Ended(JobOutcome),
    /// Its desk steps are done; the card steps wait for the engine that owns the devices.
    ReadyForDevices,
}

impl Ran {
    fn outcome(self) -> JobOutcome {
        match self {
            Ran::Ended(outcome) => outcome,
            Ran::ReadyForDevices => {
                JobOutcome::Waiting("ready for the card steps: resume the job on the counter".into())
            }
        }
    }
}

/// What the job carries between steps (stored with every `done`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// Random, per job: with the station id it makes the job's request ids unique across the
    /// province (job numbers restart at 1 on every station and after a reinstall).
    #[serde(default)]
    uid: String,
    applicant: Option<Applicant>,
    params: Option<IssueParams>,
    reissue_of: Option<String>,
    claim: Option<Claim>,
    /// What the device steps learned of the card (ATR, card id, financial detail); flattened,
    /// so the stored state keeps its field names.
    #[serde(flatten)]
    card: CardProgress,
    spoiled: u32,
    /// At the counter or later (a job begun before collections were asked: at the counter).
    #[serde(default)]
    collection: Collection,
    /// How the card leaves the counter, once decided: kept from the hand-over's `begin` line, so
    /// a crash in the middle finishes the same hand-over.
    #[serde(default)]
    release: Option<Release>,
    /// Re-issue: the old card's status at this station before the job stopped it (a restore
    /// gives it back).
    #[serde(default)]
    old_status: Option<CardStatus>,
    /// The restore a supervisor asked of a held re-issue, kept before the province heard it.
    #[serde(default)]
    restoring: Option<archive::RestoreRequest>,
    /// Set while the job is a held re-issue (see [`HeldReissue`]).
    #[serde(default)]
    held: Option<HeldReissue>,
    /// Corrections the operator made to the applicant after identity mismatches.
    #[serde(default)]
    corrections: u32,
    /// Corrections this job allows, fixed when it began (a job begun before: the engine's).
    #[serde(default)]
    max_corrections: Option<u32>,
    /// Set while the job waits at its identity verification for a correction.
    #[serde(default)]
    mismatch: Option<IdentityMismatch>,
    /// The claim made for an ID number the operator corrected since: released before the
    /// corrected number is checked and claimed.
    #[serde(default)]
    stale_claim: Option<Claim>,
    /// ID numbers corrected since the first claim: each claim after one has a request id of
    /// its own.
    #[serde(default)]
    reclaims: u32,
    /// The operator ended the job while it waited for a correction: why (its verification ends
    /// the application with it).
    #[serde(default)]
    ended: Option<String>,
}

/// One release at a time: the API's hand-over and a resumed job never record the same card's
/// release twice.
static RELEASING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One decision on a waiting job at a time (a held re-issue, a job waiting for an identity
/// correction): a restore and a resume, or two corrections, never both start, and a claim's
/// renewal never overwrites what they wrote.
static HOLDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The ledger's word for a held re-issue (old card stopped, new card not made).
pub const REISSUE_HELD: &str = "reissue.held";
/// The ledger's word for a held re-issue a supervisor resumed.
pub const REISSUE_RESUMED: &str = "reissue.resumed";
/// The ledger's word for an old card live again after its re-issue was given up.
pub const CARD_RESTORED: &str = "card.restored";
/// The ledger's word for a job waiting for an identity correction after a mismatch.
pub const IDENTITY_MISMATCH: &str = "identity.mismatch";
/// The ledger's word for an operator's correction of the applicant after a mismatch.
pub const IDENTITY_CORRECTED: &str = "identity.corrected";
/// The job status of a job waiting for an identity correction.
pub const CORRECTING: &str = "correcting";
/// The journal phase of a verification that answered a mismatch (the job waits).
const MISMATCH: &str = "mismatch";
/// The journal phase of the operator's correction (the verification runs again).
const CORRECTED: &str = "corrected";
/// The journal phase of the operator's decision to end a job waiting for a correction.
const ENDED: &str = "ended";

/// One counter's issuance engine.
pub struct Engine<'a> {
    /// The station's archive (journal, ledger).
    pub local: &'a LocalArchive,
    /// The provincial archive.
    pub province: &'a dyn ProvincialArchive,
    /// Identity verification.
    pub verifier: &'a dyn IdentityVerifier,
    /// The chip and the printer.
    pub path: &'a mut dyn CardPath,
    /// The card's firmware profile.
    pub profile: &'a Profile,
    /// Who operates the counter.
    pub operator: String,
    /// Claim lease.
    pub lease_seconds: i64,
    /// Corrections the operator may make after identity mismatches before the application ends
    /// (`[idv] max_corrections`; 0 where nobody can correct: a batch); kept with each job.
    pub max_corrections: u32,
    /// Told of every journal line once it is written: `(job, step, phase)` (the daemon's
    /// progress stream; the kill -9 tests' crash hook).
    pub progress: Option<&'a mut (dyn FnMut(i64, Step, Phase) + Send)>,
}

fn archive_err(step: &'static str) -> impl Fn(ArchiveError) -> IssueError {
    move |source| IssueError::Archive { step, source }
}

fn masked(ssn: &str) -> String {
    applicant::mask_id(ssn)
}

/// A job's unique part of its request ids: its number and 64 random bits.
fn job_uid(job: i64) -> Result<String, IssueError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| IssueError::Job {
        job_id: job,
        message: format!("no randomness for request ids: {e}"),
    })?;
    Ok(format!("job-{job}-{}", hex::encode(bytes)))
}

/// The province answered for another person, station or card than the job asked about: no
/// card is made from it (RULE 10).
fn foreign_answer(step: &str, what: &str) -> String {
    format!(
        "the provincial archive's answer to {step} is for another {what}: no card is made; report it to the province"
    )
}

/// Writes one line of the job's journal (its state with it, and the ledger event a `done`
/// earned), then tells the progress callback.
fn write_line(
    local: &LocalArchive,
    progress: &mut Option<&mut (dyn FnMut(i64, Step, Phase) + Send)>,
    job_id: i64,
    step: Step,
    phase: Phase,
    state: &State,
    ledger: Option<&LedgerRecord<'_>>,
) -> Result<(), IssueError> {
    let state_json = serde_json::to_string(state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    let name = match phase {
        Phase::Begin => "begin",
        Phase::Done => "done",
    };
    local
        .journal(job_id, step.name(), name, &serde_json::json!({}), Some(&state_json), ledger)
        .map_err(archive_err("journal"))?;
    if let Some(progress) = progress.as_mut() {
        progress(job_id, step, phase);
    }
    Ok(())
}

/// The job's journal in the station's archive as the device sequence writes it: each line
/// with the job's whole state, a done line with its ledger event, and the application's
/// status moved on where a step earns one.
struct StationJournal<'j, 'p> {
    local: &'j LocalArchive,
    progress: &'j mut Option<&'p mut (dyn FnMut(i64, Step, Phase) + Send)>,
    job_id: i64,
    application: i64,
    operator: &'j str,
    state: &'j mut State,
}

impl device::CardJournal for StationJournal<'_, '_> {
    fn step_begin(&mut self, step: Step, progress: &CardProgress) -> Result<(), IssueError> {
        self.state.card = progress.clone();
        write_line(self.local, self.progress, self.job_id, step, Phase::Begin, self.state, None)
    }

    fn step_done(
        &mut self,
        step: Step,
        progress: &CardProgress,
        event: Option<&device::StepEvent>,
    ) -> Result<(), IssueError> {
        self.state.card = progress.clone();
        let status = match step {
            Step::PrintFace => Some(ApplicationStatus::Printed),
            Step::PersonaliseSsc => Some(ApplicationStatus::Personalised),
            _ => None,
        };
        if let Some(status) = status {
            self.local.set_application(self.application, status, None).map_err(archive_err("personalise"))?;
        }
        let card_number = self.state.claim.as_ref().map(|c| c.card_number.clone());
        let record = event.map(|(name, detail)| LedgerRecord {
            operator: self.operator,
            application_id: Some(self.application),
            card_number: card_number.as_deref(),
            event: name,
            detail,
        });
        write_line(self.local, self.progress, self.job_id, step, Phase::Done, self.state, record.as_ref())
    }
}

impl Engine<'_> {
    /// Starts a job for `applicant` (a re-issue when `reissue_of` names the live card), runs it;
    /// `collection` says whether the holder takes the card at the counter or later from stock.
    pub fn start(
        &mut self,
        applicant: &Applicant,
        params: &IssueParams,
        reissue_of: Option<&str>,
        collection: &Collection,
    ) -> Result<(i64, JobOutcome), IssueError> {
        let (job, ran) = self.open_and_run(applicant, params, reissue_of, collection, None)?;
        Ok((job, ran.outcome()))
    }

    /// Starts a job and runs its desk steps only (accept to identity verification: the
    /// archives and the network, no device), so that they overlap the devices' work on the
    /// job before it. `None`: the job is ready for the devices, and [`Engine::resume`] on the
    /// engine that owns them goes on from [`Step::FeedCard`]; `Some`: it ended at the desk
    /// (refused, rolled back, waiting). The journal makes the hand-over between the two
    /// engines as crash-safe as any other step boundary.
    pub fn prepare(
        &mut self,
        applicant: &Applicant,
        params: &IssueParams,
        reissue_of: Option<&str>,
        collection: &Collection,
    ) -> Result<(i64, Option<JobOutcome>), IssueError> {
        let (job, ran) =
            self.open_and_run(applicant, params, reissue_of, collection, Some(Step::FeedCard))?;
        Ok((
            job,
            match ran {
                Ran::Ended(outcome) => Some(outcome),
                Ran::ReadyForDevices => None,
            },
        ))
    }

    /// Records the person, the application and the job, then runs its steps before `until`.
    fn open_and_run(
        &mut self,
        applicant: &Applicant,
        params: &IssueParams,
        reissue_of: Option<&str>,
        collection: &Collection,
        until: Option<Step>,
    ) -> Result<(i64, Ran), IssueError> {
        // A re-issue stops the old card only with the holder's signed consent on the form.
        let intake = applicant::Intake { replacing: reissue_of, signed_form: false };
        let validated = applicant
            .validate_for(params.issue_date, &applicant::Rules::default(), &intake)
            .map_err(|e| IssueError::Data(e.to_string()))?;
        let ssn = validated.id.as_str().to_string();
        self.local
            .upsert_person(&PersonRow {
                ssn: ssn.clone(),
                name: validated.name.as_str().to_string(),
                sex: validated.sex.card_code().ok().map(|c| char::from(c).to_string()),
                birth_date: Some(validated.birth_date.compact()),
            })
            .map_err(archive_err("accept"))?;
        let kind = if reissue_of.is_some() { "reissue" } else { "new" };
        let data = serde_json::to_string(applicant).map_err(|e| IssueError::Data(e.to_string()))?;
        let application = self.local.open_application(&ssn, kind, &data).map_err(archive_err("accept"))?;
        if let Collection::Later(Storage { collect_at: Some(site), .. }) = collection {
            self.local.set_application_site(application, site).map_err(archive_err("accept"))?;
        }
        let job = self.local.create_job(application, "instant").map_err(archive_err("accept"))?;
        let mut state = State {
            uid: job_uid(job)?,
            applicant: Some(applicant.clone()),
            params: Some(params.clone()),
            reissue_of: reissue_of.map(str::to_string),
            collection: collection.clone(),
            max_corrections: Some(self.max_corrections),
            ..State::default()
        };
        let state_json = serde_json::to_string(&state).map_err(|e| IssueError::Data(e.to_string()))?;
        if let Err(e) = self.local.journal(
            job,
            Step::Accept.name(),
            "begin",
            &serde_json::json!({}),
            Some(&state_json),
            None,
        ) {
            // Without its first journal line the job has no state to resume from: it ends here,
            // before anything was claimed or fed.
            let why =
                format!("{}: free disk space on the station, then apply again", archive_err("journal")(e));
            let outcome = self.fail(job, application, Step::Accept, &mut state, Engine::job_err(job, why))?;
            return Ok((job, Ran::Ended(outcome)));
        }
        Ok((job, self.run(job, until)?))
    }

    /// Resumes a job left running (after a crash, an operator fix or a network outage), or
    /// prepared at the desk.
    pub fn resume(&mut self, job_id: i64) -> Result<JobOutcome, IssueError> {
        Ok(self.run(job_id, None)?.outcome())
    }

    fn job_err(job_id: i64, message: impl Into<String>) -> IssueError {
        IssueError::Job { job_id, message: message.into() }
    }

    /// Runs the job's steps not done yet, to its end or up to `until`.
    fn run(&mut self, job_id: i64, until: Option<Step>) -> Result<Ran, IssueError> {
        let row = self
            .local
            .job(job_id)
            .map_err(archive_err("resume"))?
            .ok_or_else(|| Engine::job_err(job_id, "no such job"))?;
        if row.status != "running" {
            return Err(Engine::job_err(job_id, format!("is {}, not running", row.status)));
        }
        let application = row.application_id;
        let mut state: State =
            serde_json::from_str(&row.state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
        let journal = self.local.journal_of(job_id).map_err(archive_err("resume"))?;
        // A hold whose status a crash left unwritten: held still, for the supervisor to decide.
        if let Some(held) = state.held.clone().filter(|_| journal.last().is_some_and(|l| l.phase == "held")) {
            self.local.set_job_status(job_id, "held").map_err(archive_err("hold"))?;
            return Ok(Ran::Ended(JobOutcome::Held(held)));
        }
        // A wait for a correction whose status a crash left unwritten, or a correction a crash
        // cut before its journal line: waiting still, for the operator's correction.
        if let Some(m) =
            state.mismatch.clone().filter(|_| journal.last().is_some_and(|l| l.phase == MISMATCH))
        {
            self.local.set_job_status(job_id, CORRECTING).map_err(archive_err("verify"))?;
            return Ok(Ran::Ended(JobOutcome::Correcting(m)));
        }
        if state.corrections > 0 {
            // The application's record follows the corrected applicant (again after a crash); a
            // record that cannot (the corrected person applied meanwhile) ends the job.
            if let Err(e) = sync_application(self.local, job_id, application, &state) {
                return self.fail(job_id, application, Step::VerifyIdentity, &mut state, e).map(Ran::Ended);
            }
        }
        // Replay: the last phase of each step; a trailing `begin` is the interrupted step.
        let mut last: BTreeMap<Step, String> = BTreeMap::new();
        for line in &journal {
            if let Some(step) = Step::parse(&line.step) {
                last.insert(step, line.phase.clone());
            }
            // A corrected ID number is another person: checked and claimed again.
            let reclaim = || {
                serde_json::from_str::<serde_json::Value>(&line.detail).is_ok_and(|d| d["reclaim"] == true)
            };
            if line.phase == CORRECTED && reclaim() {
                last.remove(&Step::ArchiveCheck);
                last.remove(&Step::Claim);
            }
        }
        if let Some(line) = journal.last().filter(|l| l.phase == "begin" && journal.len() > 1) {
            if let Some(step) = Step::parse(&line.step) {
                tracing::warn!(job = job_id, %step, "resuming a step that was interrupted");
                if step == Step::PrintFace {
                    // A half-printed face cannot be finished: the card is spoiled.
                    self.spoil(job_id, application, &mut state, "print interrupted")?;
                    last.retain(|s, _| !s.on_the_card());
                }
            }
        }
        let mut validated: Option<(Validated, IssueParams)> = None;
        for step in STEPS {
            if last.get(&step).map(String::as_str) == Some("done") {
                continue;
            }
            if until == Some(step) {
                return Ok(Ran::ReadyForDevices);
            }
            // The form is judged once per run (the API accepted only a valid one), not per step.
            let validated = match &validated {
                Some(v) => v,
                None => match Engine::validated(job_id, &state) {
                    Ok(v) => validated.insert(v),
                    Err(e) => return self.fail(job_id, application, step, &mut state, e).map(Ran::Ended),
                },
            };
            match self.step(job_id, application, step, &mut state, validated) {
                Ok(None) => {}
                Ok(Some(outcome)) => return Ok(Ran::Ended(outcome)),
                Err(e) => return self.fail(job_id, application, step, &mut state, e).map(Ran::Ended),
            }
        }
        self.local.set_job_status(job_id, "done").map_err(archive_err("hand-over"))?;
        Ok(Ran::Ended(released(&state)))
    }

    fn line(
        &mut self,
        job_id: i64,
        step: Step,
        phase: Phase,
        state: &State,
        ledger: Option<&LedgerRecord<'_>>,
    ) -> Result<(), IssueError> {
        write_line(self.local, &mut self.progress, job_id, step, phase, state, ledger)
    }

    /// Runs one step between its `begin` and `done` lines. `Some(outcome)` ends the job there.
    /// The job's applicant, validated for its issue date, with the issue parameters.
    fn validated(job_id: i64, state: &State) -> Result<(Validated, IssueParams), IssueError> {
        let applicant = state.applicant.as_ref().ok_or_else(|| Engine::job_err(job_id, "no applicant"))?;
        let params = state.params.clone().ok_or_else(|| Engine::job_err(job_id, "no parameters"))?;
        let validated = applicant.validate(params.issue_date).map_err(|e| IssueError::Data(e.to_string()))?;
        Ok((validated, params))
    }

    fn step(
        &mut self,
        job_id: i64,
        application: i64,
        step: Step,
        state: &mut State,
        (validated, params): &(Validated, IssueParams),
    ) -> Result<Option<JobOutcome>, IssueError> {
        if step == Step::HandOver {
            return self.hand_over(job_id, application, state);
        }
        if device::DEVICE_STEPS.contains(&step) {
            // The claim is renewed before the card is touched (until the commit makes the
            // card), then the device sequence runs the step between its journal lines.
            if step < Step::Commit {
                self.renew_if_due(job_id, state)?;
            }
            let card_number = state.claim.as_ref().map(|c| c.card_number.clone()).unwrap_or_default();
            let bank = state.applicant.as_ref().and_then(|a| a.bank.clone());
            let order = CardOrder {
                validated,
                card_number: &card_number,
                params,
                profile: self.profile,
                bank: bank.as_deref().map(str::trim).filter(|b| !b.is_empty()),
            };
            let mut progress = state.card.clone();
            let mut journal = StationJournal {
                local: self.local,
                progress: &mut self.progress,
                job_id,
                application,
                operator: &self.operator,
                state,
            };
            let done = device::journalled_step(&mut *self.path, &order, step, &mut progress, &mut journal);
            state.card = progress;
            return done.map(|()| None);
        }
        self.line(job_id, step, Phase::Begin, state, None)?;
        let ssn = validated.id.as_str().to_string();
        if step > Step::Claim && step <= Step::Commit {
            self.renew_if_due(job_id, state)?;
        }
        let rid = request_ids(self.local.station(), job_id, state);
        let card_number = state.claim.as_ref().map(|c| c.card_number.clone());
        let mut event: Option<(&str, serde_json::Value)> = None;
        match step {
            Step::Accept => {
                // RULE 8: the serving bank is the person's choice, recorded with the operator.
                let bank = state.applicant.as_ref().and_then(|a| a.bank.as_deref()).map(str::trim);
                if let Some(bank) = bank.filter(|b| !b.is_empty()) {
                    event = Some(("bank.chosen", serde_json::json!({"bank": bank, "chosen_by": "person"})));
                }
            }
            Step::ArchiveCheck => {
                if let Some(stale) = state.stale_claim.clone() {
                    // The claim of the ID number corrected since: nothing was made for it.
                    let release = ReleaseRequest {
                        request_id: rid(&format!("release-corrected-{}", stale.claim_id), 0),
                        claim_id: stale.claim_id,
                        reason: "the ID number was corrected after identity verification".into(),
                        card: archive::CardFate::NotMade,
                    };
                    match self.province.release(&release) {
                        Ok(()) | Err(ArchiveError::Refused(_)) => {}
                        Err(e) => return Err(archive_err("archive-check")(e)),
                    }
                    state.stale_claim = None;
                }
                let person = self.province.lookup(&ssn).map_err(archive_err("archive-check"))?;
                if person.deceased {
                    return self.refuse(
                        job_id,
                        application,
                        "the person is recorded deceased: no card can be issued (rule 2)",
                    );
                }
                match (person.live_card(), &state.reissue_of) {
                    (Some(live), Some(old)) if &live.card_number == old => {}
                    (Some(live), _) => {
                        return self.refuse(
                            job_id,
                            application,
                            &format!(
                                "the person holds live card {}: a new card only as a re-issue (rule 1)",
                                live.card_number
                            ),
                        )
                    }
                    (None, Some(old)) => {
                        return self.refuse(
                            job_id,
                            application,
                            &format!("card {old} is not live: nothing to re-issue"),
                        )
                    }
                    (None, None) => {}
                }
            }
            Step::Claim => {
                let request = ClaimRequest {
                    request_id: rid("claim", state.reclaims),
                    ssn: ssn.clone(),
                    name: validated.name.as_str().to_string(),
                    reissue_of: state.reissue_of.clone(),
                    lease_seconds: self.lease_seconds,
                };
                match self.province.claim(&request) {
                    Ok(claim) if claim.ssn != ssn || claim.station != self.local.station() => {
                        return self.refuse(
                            job_id,
                            application,
                            &foreign_answer("the claim", "person or station"),
                        );
                    }
                    Ok(claim) => {
                        self.local
                            .set_application_claim(application, claim.claim_id, &claim.card_number)
                            .map_err(archive_err("claim"))?;
                        self.local
                            .set_application(application, ApplicationStatus::Claimed, None)
                            .map_err(archive_err("claim"))?;
                        event = Some((
                            "person.claimed",
                            serde_json::json!({"card_number": claim.card_number, "ssn": masked(&ssn)}),
                        ));
                        state.claim = Some(claim);
                    }
                    Err(ArchiveError::Refused(r)) => return self.refuse(job_id, application, &r.to_string()),
                    Err(e) => return Err(archive_err("claim")(e)),
                }
            }
            Step::StopOldCard => {
                if let Some(old) = state.reissue_of.clone() {
                    // The holder stands at the counter with the ID checked at acceptance: a
                    // card another station made is stopped for them as a replacement.
                    let stop = StopRequest {
                        request_id: rid("stop", 0),
                        card_number: old.clone(),
                        reason: "re-issue".into(),
                        end: archive::CardEnd::Stopped,
                        for_holder: Some(archive::HolderAtCounter {
                            why: archive::HolderStop::Replacement,
                            operator: self.operator.clone(),
                            id_checked: true,
                        }),
                    };
                    match self.province.stop_card(&stop) {
                        Ok(card) if card.card_number != old || card.ssn != ssn => {
                            return Err(IssueError::Job {
                                job_id,
                                message: foreign_answer("the stop of the old card", "card or person"),
                            });
                        }
                        Ok(_) | Err(ArchiveError::Refused(archive::Refusal::NotLive { .. })) => {}
                        Err(e) => return Err(archive_err("stop-old-card")(e)),
                    }
                    let before = self.local.card_status(&old).map_err(archive_err("stop-old-card"))?;
                    if let Some(before) = before.filter(|s| s.is_live() && state.old_status.is_none()) {
                        state.old_status = Some(before);
                    }
                    if before.is_some() {
                        self.local
                            .set_card_status(&old, CardStatus::Stopped)
                            .map_err(archive_err("stop-old-card"))?;
                    }
                    // The holder's signed consent (同意注销原卡) goes with the stop.
                    let consent = state.applicant.as_ref().and_then(|a| a.previous_card.as_ref());
                    let consent = consent.is_some_and(|p| p.consent_to_stop);
                    event = Some((
                        "card.stopped",
                        serde_json::json!({"card_number": old, "reason": "re-issue", "holder_consent": consent}),
                    ));
                }
            }
            Step::VerifyIdentity => {
                if let Some(why) = state.ended.clone() {
                    return Err(IssueError::Identity(why));
                }
                let query = IdentityQuery {
                    // Each corrected applicant is a new question to the register, not a retry.
                    request_id: rid("idv", state.corrections),
                    id_number: ssn.clone(),
                    name: validated.name.as_str().to_string(),
                    // The document's validity goes with the query: the register compares it.
                    valid_until: validated.id_validity.map(|v| v.to.to_string()),
                };
                match self.verifier.verify(&query) {
                    Ok(Verdict::Match) => {
                        self.local
                            .set_application(application, ApplicationStatus::Verified, None)
                            .map_err(archive_err("verify"))?;
                    }
                    Ok(Verdict::Mismatch { fields }) => {
                        let allowed = state.max_corrections.unwrap_or(self.max_corrections);
                        if state.corrections >= allowed {
                            // No correction left: the application ends (rolled back, or a
                            // re-issue held) with the register's last word.
                            let after = match state.corrections {
                                0 => String::new(),
                                n => format!("still after {n} correction(s): "),
                            };
                            return Err(IssueError::Identity(format!(
                                "{after}the police register does not confirm the applicant: {}",
                                hints_text(&fields)
                            )));
                        }
                        return self.await_correction(job_id, application, state, fields, allowed).map(Some);
                    }
                    Err(e) => {
                        return Ok(Some(JobOutcome::Waiting(format!("{e}"))));
                    }
                }
            }
            Step::FeedCard
            | Step::PersonaliseFinancial
            | Step::PrintFace
            | Step::PersonaliseSsc
            | Step::VerifyChip
            | Step::Eject => {
                return Err(Engine::job_err(job_id, format!("{step} runs in the device sequence")))
            }
            Step::Commit => {
                let claim = state.claim.clone().ok_or_else(|| Engine::job_err(job_id, "no claim"))?;
                let card_id = state.card.card_id.clone().unwrap_or_default();
                let atr = state.card.atr.clone().unwrap_or_default();
                let commit = CommitRequest {
                    request_id: rid("commit", state.spoiled),
                    claim_id: claim.claim_id,
                    card_id: card_id.clone(),
                    atr: atr.clone(),
                };
                let made = self.province.commit(&commit).map_err(archive_err("commit"))?;
                if made.card_number != claim.card_number
                    || made.ssn != ssn
                    || made.station != self.local.station()
                {
                    return Err(IssueError::Job { job_id, message: foreign_answer("the commit", "card") });
                }
                if self.local.card_status(&claim.card_number).map_err(archive_err("commit"))?.is_none() {
                    self.local
                        .record_card(application, &ssn, &claim.card_number, &card_id, &atr)
                        .map_err(archive_err("commit"))?;
                }
                // The person's bank and the account it prepared the card for, with the card.
                let bank = state.applicant.as_ref().and_then(|a| a.bank.as_deref()).map(str::trim);
                self.local
                    .set_card_account(
                        &claim.card_number,
                        bank.filter(|b| !b.is_empty()),
                        state.card.account.as_deref(),
                    )
                    .map_err(archive_err("commit"))?;
                event = Some(("card.made", serde_json::json!({"card_id": card_id})));
            }
            Step::HandOver => {
                return Err(Engine::job_err(job_id, "the hand-over runs in its own function"));
            }
        }
        let operator = self.operator.clone();
        let record = event.as_ref().map(|(name, detail)| LedgerRecord {
            operator: &operator,
            application_id: Some(application),
            card_number: card_number.as_deref(),
            event: name,
            detail,
        });
        self.line(job_id, step, Phase::Done, state, record.as_ref())?;
        Ok(None)
    }

    /// The hand-over step: a card for later goes to stock now; a card for a holder at the
    /// counter waits for the receiver's signature ([`release_at_counter`]) and the job stops
    /// here without a journal line, so a restart finds it waiting again. A release decided
    /// before a crash is finished as it was decided.
    fn hand_over(
        &mut self,
        job_id: i64,
        application: i64,
        state: &mut State,
    ) -> Result<Option<JobOutcome>, IssueError> {
        let _one = RELEASING.lock().unwrap_or_else(|p| p.into_inner());
        // The API may have released the card while this run read the job or waited for the
        // lock: what the archive holds now decides.
        let row = self
            .local
            .job(job_id)
            .map_err(archive_err("hand-over"))?
            .ok_or_else(|| Engine::job_err(job_id, "no such job"))?;
        if let Ok(fresh) = serde_json::from_str::<State>(&row.state) {
            *state = fresh;
        }
        if row.status != "running" {
            return Ok(Some(released(state)));
        }
        let journal = self.local.journal_of(job_id).map_err(archive_err("hand-over"))?;
        if journal.iter().rev().find(|l| l.step == Step::HandOver.name()).is_some_and(|l| l.phase == "done") {
            return Ok(None);
        }
        let release = match (&state.release, &state.collection) {
            (Some(r), _) => r.clone(),
            (None, Collection::Later(storage)) => Release::Stocked {
                storage: storage.clone(),
                reason: "the holder collects the card later".into(),
            },
            (None, Collection::AtCounter) => {
                let card_number = state.claim.as_ref().map(|c| c.card_number.clone()).unwrap_or_default();
                let status = self.local.card_status(&card_number).map_err(archive_err("hand-over"))?;
                if status != Some(CardStatus::Made) {
                    // Stopped or cancelled while it waited (a loss, a death): nobody receives
                    // it; the job and its application end with the card, whose end the ledger
                    // already holds.
                    let why = format!("card {card_number} ended before its hand-over");
                    self.local
                        .set_application(application, ApplicationStatus::Cancelled, Some(&why))
                        .map_err(archive_err("hand-over"))?;
                    self.local.set_job_status(job_id, "done").map_err(archive_err("hand-over"))?;
                    return Ok(Some(JobOutcome::Refused(format!(
                        "card {card_number} is {status:?}: it ended before its hand-over"
                    ))));
                }
                return Ok(Some(JobOutcome::AwaitingHandover {
                    card_number,
                    card_id: state.card.card_id.clone().unwrap_or_default(),
                }));
            }
        };
        state.release = Some(release);
        release_card(self.local, &mut self.progress, &self.operator, job_id, application, state)?;
        Ok(None)
    }

    /// Renews the job's claim when half its lease is gone, so the person stays the job's while
    /// it waits on a device or an operator; a lease that lapsed is refused by the province and
    /// the job rolls back instead of committing a card whose number may be someone else's.
    fn renew_if_due(&mut self, job_id: i64, state: &mut State) -> Result<(), IssueError> {
        let Some(claim) = state.claim.clone() else { return Ok(()) };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if claim.expires_at - now > self.lease_seconds / 2 {
            return Ok(());
        }
        // A renewal sets the lease from now: each is a new request (a lost answer is simply
        // renewed again), with an id of its own.
        let mut nonce = [0u8; 6];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| Engine::job_err(job_id, format!("no randomness: {e}")))?;
        let request = archive::RenewRequest {
            request_id: request_ids(self.local.station(), job_id, state)(
                &format!("renew-{}", hex::encode(nonce)),
                0,
            ),
            claim_id: claim.claim_id,
            lease_seconds: self.lease_seconds,
        };
        let renewed = self.province.renew(&request).map_err(archive_err("renew-claim"))?;
        if renewed.claim_id != claim.claim_id || renewed.card_number != claim.card_number {
            return Err(IssueError::Job { job_id, message: foreign_answer("the renewal", "claim") });
        }
        state.claim = Some(renewed);
        Ok(())
    }

    /// Keeps the claim of a job that waits (cover open, operator away, a held re-issue waiting
    /// for its supervisor, a mismatch waiting for its correction) from lapsing: the daemon calls
    /// it now and then for the jobs of `claim_holding_jobs`. A job past its commit, or without a
    /// claim, is left alone.
    pub fn keep_claim(&mut self, job_id: i64) -> Result<(), IssueError> {
        let row = self
            .local
            .job(job_id)
            .map_err(archive_err("renew-claim"))?
            .ok_or_else(|| Engine::job_err(job_id, "no such job"))?;
        let mut state: State =
            serde_json::from_str(&row.state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
        let committed = self
            .local
            .journal_of(job_id)
            .map_err(archive_err("renew-claim"))?
            .iter()
            .any(|l| l.step == Step::Commit.name() && l.phase == "done");
        if !matches!(row.status.as_str(), "running" | "held" | CORRECTING) || committed {
            return Ok(());
        }
        if row.status == "running" {
            return self.renew_if_due(job_id, &mut state);
        }
        // A held re-issue (its claim is what keeps the restore possible) or a job waiting for
        // an identity correction. The renewal goes into the job's state, so the job's view says
        // until when it is kept; one writer of a waiting job's state at a time (a restore, a
        // resume or a correction may be under way): read again under the lock.
        let _one = HOLDING.lock().unwrap_or_else(|p| p.into_inner());
        let row = self
            .local
            .job(job_id)
            .map_err(archive_err("renew-claim"))?
            .ok_or_else(|| Engine::job_err(job_id, "no such job"))?;
        if !matches!(row.status.as_str(), "held" | CORRECTING) {
            return Ok(());
        }
        let mut state: State =
            serde_json::from_str(&row.state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
        let before = state.claim.as_ref().map(|c| c.expires_at);
        self.renew_if_due(job_id, &mut state)?;
        let after = state.claim.as_ref().map(|c| c.expires_at);
        if after != before {
            if let (Some(held), Some(until)) = (state.held.as_mut(), after) {
                held.held_until = until;
            }
            let json = serde_json::to_string(&state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
            self.local.update_job_state(job_id, &json).map_err(archive_err("renew-claim"))?;
        }
        Ok(())
    }

    /// A re-issue that failed before its commit after its old card was stopped, its claim
    /// still live: the job is held (RULE 1 and never stranded), the claim kept for a
    /// supervisor's decision, the ledger told where the holder stands. `None` otherwise.
    fn hold_if_stranded(
        &mut self,
        job_id: i64,
        application: i64,
        step: Step,
        state: &mut State,
        e: &IssueError,
        fate: archive::CardFate,
    ) -> Result<Option<HeldReissue>, IssueError> {
        let (Some(old), Some(claim)) = (state.reissue_of.clone(), state.claim.clone()) else {
            return Ok(None);
        };
        let claim_gone = matches!(
            e,
            IssueError::Archive { source: ArchiveError::Refused(archive::Refusal::ClaimNotLive { .. }), .. }
        );
        let journal = self.local.journal_of(job_id).map_err(archive_err("hold"))?;
        let stopped = journal.iter().any(|l| l.step == Step::StopOldCard.name() && l.phase == "done");
        if !stopped || claim_gone || step >= Step::Commit {
            return Ok(None);
        }
        let held = HeldReissue {
            job_id,
            old_card: old.clone(),
            new_card: claim.card_number.clone(),
            claim_id: claim.claim_id,
            station: self.local.station().to_string(),
            held_until: claim.expires_at,
            step: step.name().to_string(),
            reason: e.to_string(),
            new_card_fate: fate,
        };
        state.held = Some(held.clone());
        let detail = serde_json::json!({
            "old_card": held.old_card, "new_card": held.new_card, "claim_id": held.claim_id,
            "held_until": held.held_until, "step": held.step, "reason": held.reason,
            "new_card_fate": held.new_card_fate,
        });
        let record = LedgerRecord {
            operator: &self.operator,
            application_id: Some(application),
            card_number: Some(&old),
            event: REISSUE_HELD,
            detail: &detail,
        };
        let state_json = serde_json::to_string(state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
        self.local
            .journal(job_id, step.name(), "held", &detail, Some(&state_json), Some(&record))
            .map_err(archive_err("hold"))?;
        self.local.set_job_status(job_id, "held").map_err(archive_err("hold"))?;
        tracing::warn!(job = job_id, old_card = %old, new_card = %held.new_card, "re-issue held: the old card is stopped, the new card not made");
        Ok(Some(held))
    }

    /// A mismatch with corrections left: the job waits at its verification, its `mismatch` line
    /// (the hints in the state and the ledger) written before its status, so that a crash in
    /// between still finds it waiting (a run of the job).
    fn await_correction(
        &mut self,
        job_id: i64,
        application: i64,
        state: &mut State,
        fields: Vec<FieldHint>,
        allowed: u32,
    ) -> Result<JobOutcome, IssueError> {
        let mismatch =
            IdentityMismatch { job_id, fields, corrections: state.corrections, max_corrections: allowed };
        state.mismatch = Some(mismatch.clone());
        let detail = serde_json::json!({
            "fields": mismatch.fields, "corrections": mismatch.corrections,
            "max_corrections": mismatch.max_corrections, "job": job_id,
        });
        let card_number = state.claim.as_ref().map(|c| c.card_number.clone());
        let record = LedgerRecord {
            operator: &self.operator,
            application_id: Some(application),
            card_number: card_number.as_deref(),
            event: IDENTITY_MISMATCH,
            detail: &detail,
        };
        let state_json = serde_json::to_string(state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
        self.local
            .journal(job_id, Step::VerifyIdentity.name(), MISMATCH, &detail, Some(&state_json), Some(&record))
            .map_err(archive_err("verify"))?;
        self.local.set_job_status(job_id, CORRECTING).map_err(archive_err("verify"))?;
        tracing::info!(job = job_id, fields = %hints_text(&mismatch.fields), "identity mismatch: waiting for the operator's correction");
        Ok(JobOutcome::Correcting(mismatch))
    }

    /// A supervisor resumes the new card of a held re-issue ([`reopen_held`]), and the job
    /// goes on from where it stopped, with the same claim and card number (a spoiled card's
    /// steps again with a new blank). A claim that lapsed meanwhile rolls the job back.
    pub fn resume_held(&mut self, job_id: i64, supervisor: &str) -> Result<JobOutcome, IssueError> {
        reopen_held(self.local, supervisor, job_id)?;
        self.resume(job_id)
    }

    /// The archives or the verification said no: nothing was made; the application ends.
    fn refuse(&mut self, job_id: i64, application: i64, why: &str) -> Result<Option<JobOutcome>, IssueError> {
        self.local
            .set_application(application, ApplicationStatus::Failed, Some(why))
            .map_err(archive_err("refuse"))?;
        self.local
            .append_ledger(
                &self.operator,
                Some(application),
                None,
                "application.refused",
                &serde_json::json!({"reason": why}),
            )
            .map_err(archive_err("refuse"))?;
        self.local.set_job_status(job_id, "failed").map_err(archive_err("refuse"))?;
        Ok(Some(JobOutcome::Refused(why.to_string())))
    }

    /// A spoiled card: to the reject box, recorded; the card steps start again with a new card.
    fn spoil(
        &mut self,
        job_id: i64,
        application: i64,
        state: &mut State,
        why: &str,
    ) -> Result<(), IssueError> {
        // A card the printer cannot move waits for the operator (`resume` rejects it then); a
        // card lost to a jam the operator takes out, and it is recorded spoiled now.
        if let device::Aside::TakeOut(Some(e)) = device::put_aside(&mut *self.path, true) {
            return Err(e.into());
        }
        state.spoiled += 1;
        state.card.atr = None;
        state.card.card_id = None;
        let card_number = state.claim.as_ref().map(|c| c.card_number.clone());
        let detail = serde_json::json!({"reason": why, "spoiled": state.spoiled});
        let record = LedgerRecord {
            operator: &self.operator,
            application_id: Some(application),
            card_number: card_number.as_deref(),
            event: "card.rejected",
            detail: &detail,
        };
        let state_json = serde_json::to_string(state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
        for step in STEPS.into_iter().filter(|s| s.on_the_card()) {
            self.local
                .journal(
                    job_id,
                    step.name(),
                    "undone",
                    &detail,
                    Some(&state_json),
                    (step == Step::FeedCard).then_some(&record),
                )
                .map_err(archive_err("reject"))?;
        }
        Ok(())
    }

    /// A step failed: before the commit, roll back (reject the card, release the claim);
    /// after it, wait for the operator (the card is recorded; only its delivery is left).
    fn fail(
        &mut self,
        job_id: i64,
        application: i64,
        step: Step,
        state: &mut State,
        e: IssueError,
    ) -> Result<JobOutcome, IssueError> {
        let message = e.to_string();
        tracing::warn!(job = job_id, %step, error = %message, "issuance step failed");
        if matches!(&e, IssueError::Archive { step: "journal", .. }) {
            // Nothing more can be recorded: the job stops where its journal ends, as after a
            // crash, and `resume` carries on from there.
            return Ok(JobOutcome::Waiting(format!(
                "{step}: {message}: free disk space on the station, then resume the job"
            )));
        }
        if matches!(&e, IssueError::Archive { source, .. } if source.is_retryable()) {
            // Nothing is known to have happened (a claim may have been granted): `resume`
            // retries with the same request id; a blind rollback would strand the claim.
            return Ok(JobOutcome::Waiting(format!("{step}: {message}")));
        }
        if step >= Step::Commit {
            return Ok(JobOutcome::Waiting(format!("{step}: {message}")));
        }
        if matches!(&e, IssueError::Device(d) if d.action != DeviceAction::RejectCard && !step.on_the_card())
        {
            return Ok(JobOutcome::Waiting(format!("{step}: {message}")));
        }
        // A job that failed before feeding has no card: the printer's card (if any) is
        // another job's, whose steps may be running now (a desk step overlaps the devices).
        let card_fed = step >= Step::FeedCard
            && match self.path.whereabouts() {
                CardPlace::NotFed | CardPlace::Rejected | CardPlace::Ejected => false,
                // Jammed: the operator takes it out; it is recorded as spoiled all the same.
                CardPlace::Unknown => state.card.atr.is_some(),
                _ => true,
            };
        if card_fed {
            if let Err(reject) = self.spoil(job_id, application, state, &message) {
                // The printer cannot move the card (cover open, jam): the operator acts first,
                // then `resume` rejects it.
                return Ok(JobOutcome::Waiting(format!("{step}: {message}; the spoiled card: {reject}")));
            }
        }
        // Only a card known to be in the reject box (or never fed) frees its number.
        let fate = match (card_fed, self.path.whereabouts()) {
            (false, _) => archive::CardFate::NotMade,
            (true, CardPlace::Rejected) => archive::CardFate::Rejected,
            (true, _) => archive::CardFate::Unknown,
        };
        if let Some(held) = self.hold_if_stranded(job_id, application, step, state, &e, fate)? {
            return Ok(JobOutcome::Held(held));
        }
        if let Some(claim) = &state.claim {
            let card = fate;
            let release = ReleaseRequest {
                request_id: request_ids(self.local.station(), job_id, state)("release", 0),
                claim_id: claim.claim_id,
                reason: message.clone(),
                card,
            };
            match self.province.release(&release) {
                Ok(()) | Err(ArchiveError::Refused(_)) => {}
                Err(e) => return Ok(JobOutcome::Waiting(format!("releasing the claim: {e}"))),
            }
            if card == archive::CardFate::Unknown {
                // The card carrying the number is nowhere known: the province holds the number
                // until the station says where the card is (`station account-card`).
                self.local
                    .append_ledger(
                        &self.operator,
                        Some(application),
                        Some(&claim.card_number),
                        crate::lifecycle::CARD_UNACCOUNTED,
                        &serde_json::json!({"claim_id": claim.claim_id, "reason": message}),
                    )
                    .map_err(archive_err("rollback"))?;
            }
        }
        self.local
            .set_application(application, ApplicationStatus::Failed, Some(&message))
            .map_err(archive_err("rollback"))?;
        self.local
            .append_ledger(
                &self.operator,
                Some(application),
                None,
                "application.rolled_back",
                &serde_json::json!({"step": step.name(), "reason": message}),
            )
            .map_err(archive_err("rollback"))?;
        self.local.set_job_status(job_id, "rolled_back").map_err(archive_err("rollback"))?;
        Ok(JobOutcome::RolledBack(format!("{step}: {message}")))
    }
}

/// How a job that ran its last step ended: handed over, or in stock.
fn released(state: &State) -> JobOutcome {
    let card_number = state.claim.as_ref().map(|c| c.card_number.clone()).unwrap_or_default();
    let card_id = state.card.card_id.clone().unwrap_or_default();
    match &state.release {
        Some(Release::Stocked { storage, .. }) => {
            JobOutcome::Stocked { card_number, card_id, place: storage.place.clone() }
        }
        _ => JobOutcome::Issued { card_number, card_id },
    }
}

/// Records the release the job's state carries, between the hand-over's journal lines: the
/// card issued with the receiver's signature (its hand-over attempt, ledger line and status in
/// one transaction; after a crash that recorded them, not again), or the card in stock (its
/// ledger line written with the `done` line).
fn release_card(
    local: &LocalArchive,
    progress: &mut Option<&mut (dyn FnMut(i64, Step, Phase) + Send)>,
    operator: &str,
    job_id: i64,
    application: i64,
    state: &State,
) -> Result<(), IssueError> {
    let card = state
        .claim
        .as_ref()
        .map(|c| c.card_number.clone())
        .ok_or_else(|| Engine::job_err(job_id, "no card"))?;
    let release = state.release.clone().ok_or_else(|| Engine::job_err(job_id, "no release"))?;
    write_line(local, progress, job_id, Step::HandOver, Phase::Begin, state, None)?;
    match release {
        Release::Delivered { signer, signature_sm3, receiver } => {
            if local.card_status(&card).map_err(archive_err("hand-over"))? != Some(CardStatus::Issued) {
                local
                    .record_handover(&card, true, None, Some(operator), |n| {
                        Some((
                            "card.handed_over",
                            serde_json::json!({"attempt": n, "signer": signer, "signature_sm3": signature_sm3,
                                "receiver": receiver, "method": "in person at the counter", "job": job_id}),
                        ))
                    })
                    .map_err(archive_err("hand-over"))?;
            }
            local
                .set_application(application, ApplicationStatus::Issued, None)
                .map_err(archive_err("hand-over"))?;
            write_line(local, progress, job_id, Step::HandOver, Phase::Done, state, None)
        }
        Release::Stocked { storage, reason } => {
            // The application has its card; the card waits for its holder (no longer open).
            local
                .set_application(application, ApplicationStatus::Made, None)
                .map_err(archive_err("hand-over"))?;
            let detail = serde_json::json!({"place": storage.place, "keeper": storage.keeper, "reason": reason, "job": job_id});
            let record = LedgerRecord {
                operator,
                application_id: Some(application),
                card_number: Some(&card),
                event: crate::lifecycle::CARD_STOCKED,
                detail: &detail,
            };
            write_line(local, progress, job_id, Step::HandOver, Phase::Done, state, Some(&record))
        }
    }
}

/// Whether job `job_id` waits at its hand-over for the holder at the counter: running, its
/// card out of the printer, nothing decided yet. Its card's numbers when it does.
pub fn awaiting_handover(local: &LocalArchive, job_id: i64) -> Result<Option<JobCard>, IssueError> {
    let Some(row) = local.job(job_id).map_err(archive_err("hand-over"))? else { return Ok(None) };
    if row.status != "running" {
        return Ok(None);
    }
    let Ok(state) = serde_json::from_str::<State>(&row.state) else { return Ok(None) };
    if state.collection != Collection::AtCounter || state.release.is_some() {
        return Ok(None);
    }
    let journal = local.journal_of(job_id).map_err(archive_err("hand-over"))?;
    let done =
        |step: Step| journal.iter().rev().find(|l| l.step == step.name()).is_some_and(|l| l.phase == "done");
    if !done(Step::Eject) || journal.iter().any(|l| l.step == Step::HandOver.name()) {
        return Ok(None);
    }
    // A card stopped or cancelled while it waited (a loss, a death) is handed to nobody.
    let card = JobCard::from_state(&row.state);
    let number = card.card_number.clone().unwrap_or_default();
    if local.card_status(&number).map_err(archive_err("hand-over"))? != Some(CardStatus::Made) {
        return Ok(None);
    }
    Ok(Some(card))
}

/// Releases the card of a job waiting at its hand-over ([`awaiting_handover`]), for the
/// counter's API (the devices are not needed): handed over with the receiver's signature, or
/// parked to stock with the reason. The job ends with it; `progress` hears its journal lines.
pub fn release_at_counter(
    local: &LocalArchive,
    mut progress: Option<&mut (dyn FnMut(i64, Step, Phase) + Send)>,
    operator: &str,
    job_id: i64,
    release: Release,
) -> Result<JobOutcome, IssueError> {
    let _one = RELEASING.lock().unwrap_or_else(|p| p.into_inner());
    if awaiting_handover(local, job_id)?.is_none() {
        return Err(Engine::job_err(job_id, "does not wait at the hand-over"));
    }
    // A card reported lost while it waited is handed over only once the loss is lifted.
    if matches!(release, Release::Delivered { .. }) {
        let card = awaiting_handover(local, job_id)?.and_then(|c| c.card_number).unwrap_or_default();
        crate::losses::refuse_if_suspended(local, &card)
            .map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    }
    let row = local
        .job(job_id)
        .map_err(archive_err("hand-over"))?
        .ok_or_else(|| Engine::job_err(job_id, "no such job"))?;
    let mut state: State =
        serde_json::from_str(&row.state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    state.release = Some(release);
    release_card(local, &mut progress, operator, job_id, row.application_id, &state)?;
    local.set_job_status(job_id, "done").map_err(archive_err("hand-over"))?;
    Ok(released(&state))
}

/// The job's request ids: `station:job-N-RANDOM:what` (with the attempt for a step a
/// spoiled card repeats), unique across the province and the same on every retry.
fn request_ids(station: &str, job_id: i64, state: &State) -> impl Fn(&str, u32) -> String {
    let station = station.to_string();
    // A job begun before request ids had a random part keeps the ids it used.
    let uid = if state.uid.is_empty() { format!("job-{job_id}") } else { state.uid.clone() };
    move |what, attempt| {
        if attempt == 0 {
            format!("{station}:{uid}:{what}")
        } else {
            format!("{station}:{uid}:{what}-{attempt}")
        }
    }
}

/// What a job's state says openly of its card (the state also holds the applicant's form,
/// which this leaves out): for the API, the return file and the operator's screen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobCard {
    /// Card number, once claimed.
    pub card_number: Option<String>,
    /// Card identification code, once personalised.
    pub card_id: Option<String>,
    /// The chip's ATR (hex), once fed.
    pub atr: Option<String>,
    /// Issue date YYYYMMDD.
    pub issue_date: Option<String>,
    /// Expiry date YYYYMMDD.
    pub expiry_date: Option<String>,
    /// The financial account the bank prepared the card for (whole: the return file's
    /// account column; mask it anywhere else; never serialised).
    #[serde(skip)]
    pub account: Option<String>,
}

impl JobCard {
    /// Reads a job's stored state (`jobs.state`); an unreadable state gives an empty summary.
    pub fn from_state(state: &str) -> JobCard {
        let Ok(s) = serde_json::from_str::<State>(state) else { return JobCard::default() };
        let dates =
            s.params.as_ref().map(|p| (p.issue_date.compact(), p.issue_date.add_years(p.validity_years)));
        JobCard {
            card_number: s.claim.map(|c| c.card_number),
            card_id: s.card.card_id,
            atr: s.card.atr,
            account: s.card.account,
            issue_date: dates.as_ref().map(|d| d.0.clone()),
            expiry_date: dates.and_then(|d| d.1).map(|d| d.compact()),
        }
    }
}

/// Job `job_id`'s row and its state, read for `what` (the word of a store error).
fn job_and_state(
    local: &LocalArchive,
    job_id: i64,
    what: &'static str,
) -> Result<(archive::local::JobRow, State), IssueError> {
    let row = local
        .job(job_id)
        .map_err(archive_err(what))?
        .ok_or_else(|| Engine::job_err(job_id, "no such job"))?;
    let state = serde_json::from_str(&row.state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    Ok((row, state))
}

/// Job `job_id` when it is a held re-issue: its row, its state, where the holder stands.
fn held_job(
    local: &LocalArchive,
    job_id: i64,
) -> Result<(archive::local::JobRow, State, HeldReissue), IssueError> {
    let (row, state) = job_and_state(local, job_id, "held")?;
    match (&state.held, row.status.as_str()) {
        (Some(held), "held") => {
            let held = held.clone();
            Ok((row, state, held))
        }
        _ => Err(Engine::job_err(job_id, format!("is {}, not a held re-issue", row.status))),
    }
}

/// A supervisor resumes the new card of a held re-issue: the job runs again (`reissue.resumed`
/// in the ledger, the journal's `resumed` line), for the engine that owns the devices to
/// [`Engine::resume`] it; a start after a crash resumes it like any running job.
pub fn reopen_held(local: &LocalArchive, supervisor: &str, job_id: i64) -> Result<HeldReissue, IssueError> {
    let _one = HOLDING.lock().unwrap_or_else(|p| p.into_inner());
    let (row, mut state, held) = held_job(local, job_id)?;
    if let Some(asked) = &state.restoring {
        return Err(Engine::job_err(
            job_id,
            format!(
                "a restore of card {} was asked ({}) and may have been done at the province: finish it (station restore-card {job_id})",
                held.old_card, asked.request_id
            ),
        ));
    }
    state.held = None;
    let detail = serde_json::json!({
        "old_card": held.old_card, "new_card": held.new_card, "claim_id": held.claim_id,
        "supervisor": supervisor,
    });
    let record = LedgerRecord {
        operator: supervisor,
        application_id: Some(row.application_id),
        card_number: Some(&held.new_card),
        event: REISSUE_RESUMED,
        detail: &detail,
    };
    let state_json = serde_json::to_string(&state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    // Running first: a crash before the `resumed` line leaves the job running on its `held`
    // line, which a run holds again (the resume is asked again); never held without its state.
    local.set_job_status(job_id, "running").map_err(archive_err("resume"))?;
    local
        .journal(job_id, &held.step, "resumed", &detail, Some(&state_json), Some(&record))
        .map_err(archive_err("resume"))?;
    Ok(held)
}

/// Writes a held job's state again (its `held` line): what a restore asked.
fn keep_hold(local: &LocalArchive, job_id: i64, held: &HeldReissue, state: &State) -> Result<(), IssueError> {
    let state_json = serde_json::to_string(state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    let detail = serde_json::json!({"restoring": state.restoring.as_ref().map(|r| &r.request_id)});
    local.journal(job_id, &held.step, "held", &detail, Some(&state_json), None).map_err(archive_err("hold"))
}

/// Where the holder of job `job_id` stands, when it is a held re-issue.
pub fn held_reissue(local: &LocalArchive, job_id: i64) -> Result<Option<HeldReissue>, IssueError> {
    match held_job(local, job_id) {
        Ok((_, _, held)) => Ok(Some(held)),
        Err(IssueError::Job { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A supervisor gives a held re-issue up and restores the old card: at the province within the
/// job's claim (which is released, the spoiled new card's number accounted for as the job
/// recorded it), then locally, the card live again with its `card.restored` ledger line; the
/// application fails with the reason, the job ends `restored`. A refusal (the claim lapsed,
/// the card committed elsewhere) leaves the job held, with the province's reason.
pub fn restore_held(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    supervisor: &str,
    job_id: i64,
    reason: &str,
) -> Result<archive::CardRecord, IssueError> {
    let _one = HOLDING.lock().unwrap_or_else(|p| p.into_inner());
    let (row, mut state, held) = held_job(local, job_id)?;
    // The first restore asked is the one done: kept before the province hears it, so that a
    // retry after a lost answer or a crash repeats it unchanged (whoever retries, whatever they
    // say) and gets the province's stored answer.
    let request = match state.restoring.clone() {
        Some(asked) => asked,
        None => {
            let request = archive::RestoreRequest {
                request_id: request_ids(local.station(), job_id, &state)("restore", 0),
                claim_id: held.claim_id,
                card_number: held.old_card.clone(),
                supervisor: supervisor.to_string(),
                reason: reason.to_string(),
                card: held.new_card_fate,
            };
            request.check().map_err(archive_err("restore"))?;
            state.restoring = Some(request.clone());
            keep_hold(local, job_id, &held, &state)?;
            request
        }
    };
    let (supervisor, reason) = (request.supervisor.as_str(), request.reason.as_str());
    let card = match province.restore_card(&request) {
        Ok(card) => card,
        Err(e @ ArchiveError::Refused(_)) | Err(e @ ArchiveError::BadRequest(_)) => {
            // The province said no: nothing happened there; the hold is as it was.
            state.restoring = None;
            keep_hold(local, job_id, &held, &state)?;
            return Err(archive_err("restore")(e));
        }
        Err(e) => return Err(archive_err("restore")(e)),
    };
    let holder = Engine::validated(job_id, &state).ok().map(|(v, _)| v.id.as_str().to_string());
    if card.card_number != held.old_card || holder.is_some_and(|ssn| ssn != card.ssn) {
        return Err(Engine::job_err(job_id, foreign_answer("the restore", "card or person")));
    }
    // The station knows more of its card than the province (a hand-over, an activation).
    let status = state.old_status.filter(|s| s.is_live()).unwrap_or(card.status);
    let detail = serde_json::json!({
        "card_number": held.old_card, "status": status.as_str(), "province_status": card.status.as_str(),
        "claim_id": held.claim_id,
        "new_card": held.new_card, "supervisor": supervisor, "reason": reason, "job": job_id,
    });
    let record = LedgerRecord {
        operator: supervisor,
        application_id: Some(row.application_id),
        card_number: Some(&held.old_card),
        event: CARD_RESTORED,
        detail: &detail,
    };
    // A restore a crash interrupted after its ledger line is finished, not written twice.
    let recorded = local.ledger().map_err(archive_err("restore"))?.iter().any(|e| {
        e.event == CARD_RESTORED
            && serde_json::from_str::<serde_json::Value>(&e.detail).is_ok_and(|d| d["job"] == job_id)
    });
    if !recorded {
        if local.card_status(&held.old_card).map_err(archive_err("restore"))?.is_some() {
            local
                .set_card_status_ledgered(&held.old_card, status, &record)
                .map_err(archive_err("restore"))?;
        } else {
            local
                .append_ledger(
                    supervisor,
                    Some(row.application_id),
                    Some(&held.old_card),
                    CARD_RESTORED,
                    &detail,
                )
                .map_err(archive_err("restore"))?;
        }
        if held.new_card_fate == archive::CardFate::Unknown {
            // The spoiled new card is nowhere known: its number stays out until it is found.
            local
                .append_ledger(
                    supervisor,
                    Some(row.application_id),
                    Some(&held.new_card),
                    crate::lifecycle::CARD_UNACCOUNTED,
                    &serde_json::json!({"claim_id": held.claim_id, "reason": held.reason}),
                )
                .map_err(archive_err("restore"))?;
        }
    }
    let why = format!("re-issue given up: card {} restored ({reason})", held.old_card);
    local
        .set_application(row.application_id, ApplicationStatus::Failed, Some(&why))
        .map_err(archive_err("restore"))?;
    local.set_job_status(job_id, "restored").map_err(archive_err("restore"))?;
    Ok(card)
}

/// The fields of the applicant an identity correction may change: what the register compares
/// (name, ID number, the document's validity) and what the ID number carries (birth date, sex).
pub const CORRECTABLE: [&str; 5] = ["name", "id_number", "id_validity", "birth_date", "sex"];

/// Job `job_id` when it waits for an identity correction: where it stands, and the applicant as
/// the job holds it (which the correction changes; never shown whole).
pub fn identity_mismatch(
    local: &LocalArchive,
    job_id: i64,
) -> Result<Option<(IdentityMismatch, Applicant)>, IssueError> {
    match correction_target(local, job_id) {
        Ok((m, a, _)) => Ok(Some((m, a))),
        Err(IssueError::Job { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Job `job_id`, which must wait for an identity correction: where it stands, its applicant and
/// the card it replaces (a re-issue's corrected form is judged as the re-issue's); otherwise why
/// not, with what to do.
pub fn correction_target(
    local: &LocalArchive,
    job_id: i64,
) -> Result<(IdentityMismatch, Applicant, Option<String>), IssueError> {
    let (_, state, mismatch) = correcting_job(local, job_id)?;
    let applicant = state.applicant.ok_or_else(|| Engine::job_err(job_id, "no applicant"))?;
    Ok((mismatch, applicant, state.reissue_of))
}

/// Job `job_id`'s row, state and mismatch when it waits for an identity correction; otherwise
/// why not, with what to do.
fn correcting_job(
    local: &LocalArchive,
    job_id: i64,
) -> Result<(archive::local::JobRow, State, IdentityMismatch), IssueError> {
    let (row, state) = job_and_state(local, job_id, "correct")?;
    match state.mismatch.clone().filter(|_| row.status == CORRECTING) {
        Some(mismatch) => Ok((row, state, mismatch)),
        None => Err(not_correcting(job_id, &row.status)),
    }
}

/// What the operator does with a job that does not wait for a correction.
fn not_correcting(job_id: i64, status: &str) -> IssueError {
    let what = match status {
        "running" => format!("it is running: follow it (GET /api/jobs/{job_id})"),
        "held" => "it is a held re-issue: a supervisor restores the old card or resumes the new one".into(),
        "done" => "its card is made".into(),
        _ => "it has ended: the applicant applies again with the document in hand".into(),
    };
    Engine::job_err(job_id, format!("is {status}, not waiting for an identity correction: {what}"))
}

/// The operator corrects the applicant of a job waiting after a mismatch (only the
/// [`CORRECTABLE`] fields differ; the form validated as a job's request is): the correction is
/// journalled with the whole corrected applicant before anything acts on it, the count kept in
/// the job's state and the ledger told which fields changed (not their values). The job is
/// running again, for the engine that owns the devices to [`Engine::resume`] it: its
/// verification asks the register again. A corrected ID number is another person: the claim
/// made for the old one is released and the new one checked and claimed (not for a re-issue,
/// whose card names its holder). Where the job stood, with the corrections counted now.
pub fn correct_identity(
    local: &LocalArchive,
    operator: &str,
    job_id: i64,
    corrected: &Applicant,
) -> Result<IdentityMismatch, IssueError> {
    let _one = HOLDING.lock().unwrap_or_else(|p| p.into_inner());
    let (row, mut state, mismatch) = correcting_job(local, job_id)?;
    let before = state.applicant.clone().ok_or_else(|| Engine::job_err(job_id, "no applicant"))?;
    let changed = changed_fields(&before, corrected)?;
    if let Some(other) = changed.iter().find(|f| !CORRECTABLE.contains(&f.as_str())) {
        return Err(IssueError::Data(format!(
            "holder.{other}: an identity correction changes only {}; the rest of the form stands",
            CORRECTABLE.join(", ")
        )));
    }
    if changed.is_empty() {
        return Err(IssueError::Data(
            "nothing was corrected: change the field(s) the register did not confirm".into(),
        ));
    }
    let params = state.params.clone().ok_or_else(|| Engine::job_err(job_id, "no parameters"))?;
    let old = before.validate(params.issue_date).map_err(|e| IssueError::Data(e.to_string()))?;
    let new = corrected.validate(params.issue_date).map_err(|e| IssueError::Data(e.to_string()))?;
    let reclaim = old.id.as_str() != new.id.as_str();
    if reclaim && state.reissue_of.is_some() {
        return Err(IssueError::Data(format!(
            "holder.id_number: a re-issue replaces card {} of its holder, whose ID number it keeps: \
             correct the name or the validity, or end this application and apply with the right card",
            state.reissue_of.as_deref().unwrap_or_default()
        )));
    }
    if reclaim {
        let open = local.open_application_of(new.id.as_str()).map_err(archive_err("correct"))?;
        if open.is_some_and(|other| other != row.application_id) {
            return Err(IssueError::Data(format!(
                "holder.id_number: the corrected number's person has an open application ({}): finish or end that one first",
                open.unwrap_or_default()
            )));
        }
        if let Some(claim) = state.claim.take() {
            state.stale_claim = Some(claim);
        }
        state.reclaims += 1;
    }
    state.applicant = Some(corrected.clone());
    state.corrections += 1;
    state.mismatch = None;
    let detail = serde_json::json!({
        "fields": changed, "corrections": state.corrections, "max_corrections": mismatch.max_corrections,
        "reclaim": reclaim, "job": job_id,
    });
    let card_number = state.stale_claim.as_ref().or(state.claim.as_ref()).map(|c| c.card_number.clone());
    let record = LedgerRecord {
        operator,
        application_id: Some(row.application_id),
        card_number: card_number.as_deref(),
        event: IDENTITY_CORRECTED,
        detail: &detail,
    };
    let state_json = serde_json::to_string(&state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    // Running first: a crash before the `corrected` line leaves the job running on its
    // `mismatch` line, which a run finds waiting again (the correction is asked again); the
    // correction acts only once its line holds the corrected applicant.
    local.set_job_status(job_id, "running").map_err(archive_err("correct"))?;
    local
        .journal(job_id, Step::VerifyIdentity.name(), CORRECTED, &detail, Some(&state_json), Some(&record))
        .map_err(archive_err("correct"))?;
    // The correction stands from here: the job's run follows it with the application's record
    // again, and ends the job if it cannot.
    if let Err(e) = sync_application(local, job_id, row.application_id, &state) {
        tracing::warn!(job = job_id, error = %e, "the application's record follows the correction at the job's run");
    }
    Ok(IdentityMismatch { corrections: state.corrections, ..mismatch })
}

/// The operator ends a job waiting for an identity correction (the applicant cannot correct it
/// here, or left): the decision is journalled with the register's last hints and the job runs
/// again, for the engine that owns the devices to [`Engine::resume`] it: its verification ends
/// the application as at the last correction (the claim released; a re-issue held for its
/// supervisor).
pub fn end_correction(
    local: &LocalArchive,
    operator: &str,
    job_id: i64,
    reason: &str,
) -> Result<(), IssueError> {
    let _one = HOLDING.lock().unwrap_or_else(|p| p.into_inner());
    let (_, mut state, mismatch) = correcting_job(local, job_id)?;
    state.mismatch = None;
    state.ended = Some(format!(
        "ended by {operator} ({reason}) after {} correction(s): the police register does not confirm the applicant: {}",
        mismatch.corrections,
        hints_text(&mismatch.fields)
    ));
    let detail = serde_json::json!({"reason": reason, "corrections": mismatch.corrections, "job": job_id});
    let state_json = serde_json::to_string(&state).map_err(|e| Engine::job_err(job_id, e.to_string()))?;
    // As a correction: running first, the decision's line after it.
    local.set_job_status(job_id, "running").map_err(archive_err("correct"))?;
    local
        .journal(job_id, Step::VerifyIdentity.name(), ENDED, &detail, Some(&state_json), None)
        .map_err(archive_err("correct"))
}

/// Which holder fields differ between two forms (by their JSON names), or an error when
/// anything outside the holder differs.
fn changed_fields(before: &Applicant, after: &Applicant) -> Result<Vec<String>, IssueError> {
    let json = |a: &Applicant| serde_json::to_value(a).map_err(|e| IssueError::Data(e.to_string()));
    let (mut b, mut a) = (json(before)?, json(after)?);
    let (bh, ah) = (b["holder"].take(), a["holder"].take());
    if b != a {
        return Err(IssueError::Data(format!(
            "an identity correction changes only the holder's {}; the rest of the form stands",
            CORRECTABLE.join(", ")
        )));
    }
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    };
    let mut fields: Vec<String> = keys(&bh).into_iter().chain(keys(&ah)).collect();
    fields.sort();
    fields.dedup();
    fields.retain(|f| bh.get(f) != ah.get(f));
    Ok(fields)
}

/// The application's record follows the job's corrected applicant: its person (name, sex,
/// birth date) and its form. Done after the correction's journal line, and again by every run
/// of a corrected job (a crash in between): the same writes give the same record.
fn sync_application(
    local: &LocalArchive,
    job_id: i64,
    application: i64,
    state: &State,
) -> Result<(), IssueError> {
    let applicant = state.applicant.as_ref().ok_or_else(|| Engine::job_err(job_id, "no applicant"))?;
    let params = state.params.as_ref().ok_or_else(|| Engine::job_err(job_id, "no parameters"))?;
    let validated = applicant.validate(params.issue_date).map_err(|e| IssueError::Data(e.to_string()))?;
    let data = serde_json::to_string(applicant).map_err(|e| IssueError::Data(e.to_string()))?;
    if local.application_data(application).map_err(archive_err("correct"))?.as_deref() == Some(data.as_str())
    {
        return Ok(());
    }
    let ssn = validated.id.as_str().to_string();
    local
        .upsert_person(&PersonRow {
            ssn: ssn.clone(),
            name: validated.name.as_str().to_string(),
            sex: validated.sex.card_code().ok().map(|c| char::from(c).to_string()),
            birth_date: Some(validated.birth_date.compact()),
        })
        .map_err(archive_err("correct"))?;
    local.correct_application(application, &ssn, &data).map_err(archive_err("correct"))
}
