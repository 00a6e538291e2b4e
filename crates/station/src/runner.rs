//! The daemon's runner on a real (or simulated) counter: the issuance engine over the local
//! and provincial archives, identity verification, and the PC/SC + printer card path.

use std::sync::Arc;
use std::time::Duration;

use applicant::Applicant;
use archive::local::LocalArchive;
use archive::ProvincialArchive;
use daemon::{JobRequest, Runner};
use firmware_profile::Profile;
use idv::IdentityVerifier;
use issuance::records::IssueParams;
use issuance::{Engine, JobOutcome, Phase, Step};
use printer::Printer;

use crate::counter::{FaceRenderer, PcscCounter};

/// Everything one counter issues with.
pub struct CounterRunner {
    /// The station's archive.
    pub local: Arc<LocalArchive>,
    /// The provincial archive (the service, or SQLite where one machine serves).
    pub province: Arc<dyn ProvincialArchive>,
    /// Identity verification.
    pub verifier: Box<dyn IdentityVerifier>,
    /// PC/SC.
    pub manager: pcsc_reader::PcscManager,
    /// The printer.
    pub printer: Box<dyn Printer + Send>,
    /// The face layout.
    pub faces: Box<dyn FaceRenderer + Send>,
    /// The cards' firmware profile.
    pub profile: Profile,
    /// Reader of the printer's contact station.
    pub card_reader: String,
    /// Reader of the PSAM.
    pub psam_reader: String,
    /// Issuing office settings (the issue date is set per job).
    pub params: IssueParams,
    /// Claim lease.
    pub lease_seconds: i64,
    /// The financial application's data and keys, when the cards carry one.
    pub financial: Option<crate::financial::Financial>,
}

/// `STATION_CRASH_AT=step:begin|done` kills the station right after that journal line (the
/// kill -9 tests); never set in production.
fn crash_hook() -> Option<(Step, Phase, issuance::Crash)> {
    let spec = std::env::var("STATION_CRASH_AT").ok()?;
    let (step, phase) = spec.split_once(':')?;
    let phase = match phase {
        "begin" => Phase::Begin,
        "done" => Phase::Done,
        _ => return None,
    };
    Some((Step::parse(step)?, phase, issuance::Crash::Kill))
}

macro_rules! with_engine {
    ($self:ident, $operator:expr, $progress:ident, |$engine:ident| $body:expr) => {{
        let CounterRunner {
            local,
            province,
            verifier,
            manager,
            printer,
            faces,
            profile,
            card_reader,
            psam_reader,
            lease_seconds,
            financial,
            ..
        } = $self;
        let mut path = PcscCounter {
            manager,
            card_reader: card_reader.clone(),
            psam_reader: psam_reader.clone(),
            printer: printer.as_mut(),
            faces: faces.as_ref(),
            profile,
            card_timeout: Duration::from_secs(15),
            financial: financial.as_ref(),
        };
        let mut $engine = Engine {
            local,
            province: province.as_ref(),
            verifier: verifier.as_ref(),
            path: &mut path,
            profile,
            operator: $operator,
            crash_at: crash_hook(),
            lease_seconds: *lease_seconds,
            progress: Some($progress),
        };
        $body
    }};
}

impl Runner for CounterRunner {
    fn province(&self) -> Option<Arc<dyn ProvincialArchive>> {
        Some(self.province.clone())
    }

    fn start(
        &mut self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), String> {
        let applicant: Applicant = serde_json::from_value(request.applicant.clone())
            .map_err(|e| format!("not an applicant: {e}"))?;
        let mut params = self.params.clone();
        params.issue_date = crate::clock::today();
        let reissue = request.reissue_of.clone();
        with_engine!(self, request.operator.clone(), progress, |engine| engine
            .start(&applicant, &params, reissue.as_deref())
            .map_err(|e| e.to_string()))
    }

    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, String> {
        with_engine!(self, "station".to_string(), progress, |engine| engine
            .resume(job)
            .map_err(|e| e.to_string()))
    }
}
