//! The daemon's runner on a real (or simulated) counter: the issuance engine over the local
//! and provincial archives, identity verification, and the PC/SC + printer card path; and what
//! the web page sees of that counter (device status, camera, printed faces, step times).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use applicant::Applicant;
use archive::local::LocalArchive;
use archive::ProvincialArchive;
use daemon::worker::{CounterView, DeviceState};
use daemon::{Desk, JobRequest, Runner};
use firmware_profile::Profile;
use idv::IdentityVerifier;
use issuance::records::IssueParams;
use issuance::{Engine, FaceText, IssueError, JobOutcome, Phase, Step};
use printer::{PrintJob, Printer};

use crate::counter::{Counter, FaceProblem, FaceRenderer};

/// Everything one counter issues with.
pub struct CounterRunner {
    /// The station's archive.
    pub local: Arc<LocalArchive>,
    /// The provincial archive (the service, or SQLite where one machine serves).
    pub province: Arc<dyn ProvincialArchive>,
    /// Identity verification.
    pub verifier: Arc<dyn IdentityVerifier>,
    /// The chip readers (PC/SC on a counter).
    pub manager: Box<dyn card_transport::ReaderManager + Send>,
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
    /// Corrections the operator may make after identity mismatches (`[idv] max_corrections`).
    pub max_corrections: u32,
    /// The financial application's data and keys, when the cards carry one.
    pub financial: Option<crate::financial::Financial>,
    /// Where cards go to stock and who answers for them (`[counter.stock]`).
    pub stock: issuance::StockSettings,
    /// The banks of the counter's region and the card systems it activates through
    /// (`[counter.bank]`).
    pub bank: Option<Arc<daemon::state::BankSetup>>,
    /// The simulated bank opening the accounts of cards without a financial application.
    pub sim_accounts: Option<crate::financial::SimAccounts>,
}

/// The progress callback with the kill -9 tests' crash hook in front: `STATION_CRASH_AT=
/// step:begin|done` kills the station right after that journal line. Only in builds with the
/// simulators; elsewhere the callback as it is.
#[cfg(feature = "sim")]
fn crash_hooked<'p>(
    progress: &'p mut (dyn FnMut(i64, Step, Phase) + Send),
) -> impl FnMut(i64, Step, Phase) + Send + 'p {
    let at = std::env::var("STATION_CRASH_AT").ok().and_then(|spec| {
        let (step, phase) = spec.split_once(':')?;
        let phase = match phase {
            "begin" => Phase::Begin,
            "done" => Phase::Done,
            _ => return None,
        };
        Some((Step::parse(step)?, phase))
    });
    move |job, step, phase| {
        progress(job, step, phase);
        if at == Some((step, phase)) {
            crate::crash::kill_now(step.name());
        }
    }
}

#[cfg(not(feature = "sim"))]
fn crash_hooked<'p>(
    progress: &'p mut (dyn FnMut(i64, Step, Phase) + Send),
) -> impl FnMut(i64, Step, Phase) + Send + 'p {
    progress
}

/// The crash hook for the journal lines the API writes (a hand-over at the counter), in
/// builds with the simulators when `STATION_CRASH_AT` asks for one.
#[cfg(feature = "sim")]
fn journal_watch() -> Option<daemon::JournalWatch> {
    std::env::var_os("STATION_CRASH_AT")?;
    Some(std::sync::Arc::new(|job, step, phase| {
        let mut nothing = |_: i64, _: Step, _: Phase| {};
        let mut hooked = crash_hooked(&mut nothing);
        hooked(job, step, phase);
    }))
}

#[cfg(not(feature = "sim"))]
fn journal_watch() -> Option<daemon::JournalWatch> {
    None
}

macro_rules! with_engine {
    ($self:ident, $operator:expr, $progress:ident, |$engine:ident| $body:expr) => {{
        with_engine!($self, $operator, true, $progress, |$engine| $body)
    }};
    ($self:ident, $operator:expr, $corrections:expr, $progress:ident, |$engine:ident| $body:expr) => {{
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
            max_corrections,
            financial,
            sim_accounts,
            ..
        } = $self;
        let mut path = Counter {
            readers: manager.as_mut(),
            card_reader: card_reader.clone(),
            psam_reader: psam_reader.clone(),
            printer: printer.as_mut(),
            faces: faces.as_ref(),
            profile,
            card_timeout: Duration::from_secs(15),
            financial: financial.as_ref(),
            sim_accounts: sim_accounts.as_ref(),
            track: Default::default(),
        };
        let mut hooked = crash_hooked($progress);
        let mut $engine = Engine {
            local,
            province: province.as_ref(),
            verifier: verifier.as_ref(),
            path: &mut path,
            profile,
            operator: $operator,
            lease_seconds: *lease_seconds,
            // A request nobody waits to correct (a batch) ends at a mismatch.
            max_corrections: if $corrections { *max_corrections } else { 0 },
            progress: Some(&mut hooked),
        };
        $body
    }};
}

/// The desk stage of a counter: the steps before the devices, with the counter's archives and
/// identity verification, and a card path that has no devices ([`issuance::NoDevices`]).
struct CounterDesk {
    local: Arc<LocalArchive>,
    province: Arc<dyn ProvincialArchive>,
    verifier: Arc<dyn IdentityVerifier>,
    profile: Profile,
    params: IssueParams,
    lease_seconds: i64,
    max_corrections: u32,
}

impl Desk for CounterDesk {
    fn prepare(
        &self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, Option<JobOutcome>), IssueError> {
        let applicant: &Applicant = &request.applicant;
        let mut params = self.params.clone();
        params.issue_date = crate::clock::today();
        let mut no_devices = issuance::NoDevices;
        let mut engine = Engine {
            local: &self.local,
            province: self.province.as_ref(),
            verifier: self.verifier.as_ref(),
            path: &mut no_devices,
            profile: &self.profile,
            operator: request.operator.clone(),
            lease_seconds: self.lease_seconds,
            max_corrections: if request.corrections { self.max_corrections } else { 0 },
            progress: Some(&mut crash_hooked(progress)),
        };
        engine.prepare(applicant, &params, request.reissue_of.as_deref(), &request.collection)
    }
}

impl Runner for CounterRunner {
    fn desk(&self) -> Option<Arc<dyn Desk>> {
        Some(Arc::new(CounterDesk {
            local: self.local.clone(),
            province: self.province.clone(),
            verifier: self.verifier.clone(),
            profile: self.profile.clone(),
            params: self.params.clone(),
            lease_seconds: self.lease_seconds,
            max_corrections: self.max_corrections,
        }))
    }

    fn run_prepared(
        &mut self,
        request: &JobRequest,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        with_engine!(self, request.operator.clone(), progress, |engine| engine.resume(job))
    }

    fn start(
        &mut self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError> {
        let applicant: &Applicant = &request.applicant;
        let mut params = self.params.clone();
        params.issue_date = crate::clock::today();
        let reissue = request.reissue_of.clone();
        with_engine!(self, request.operator.clone(), request.corrections, progress, |engine| engine.start(
            applicant,
            &params,
            reissue.as_deref(),
            &request.collection
        ))
    }

    fn stock(&self) -> issuance::StockSettings {
        self.stock.clone()
    }

    fn bank(&self) -> Option<Arc<daemon::state::BankSetup>> {
        self.bank.clone()
    }

    fn journal_watch(&self) -> Option<daemon::JournalWatch> {
        journal_watch()
    }

    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        with_engine!(self, "station".to_string(), progress, |engine| engine.resume(job))
    }

    fn keep_claims(&mut self) {
        // Held re-issues too: their claim is what lets a supervisor restore the old card.
        let jobs = match self.local.claim_holding_jobs() {
            Ok(jobs) => jobs,
            Err(e) => return tracing::warn!(error = %e, "cannot list the waiting jobs"),
        };
        let mut quiet = |_: i64, _: Step, _: Phase| {};
        let progress: &mut (dyn FnMut(i64, Step, Phase) + Send) = &mut quiet;
        for job in jobs {
            if let Err(e) =
                with_engine!(self, "station".to_string(), progress, |engine| engine.keep_claim(job))
            {
                tracing::warn!(job, error = %e, "the claim of a waiting job could not be renewed");
            }
        }
    }
}

/// Where the camera thread sends one frame (JPEG) or why there is none.
type FrameReply = mpsc::Sender<Result<Vec<u8>, String>>;

/// The counter's camera on a thread of its own (a webcam handle may not move between
/// threads): frames on request, as JPEG.
pub struct Camera {
    requests: Mutex<mpsc::Sender<FrameReply>>,
    describe: String,
}

impl Camera {
    /// Opens `selector` (`webcam`, `webcam:N`, `file:PATH`, `synthetic`; see `station photo
    /// capture`) on its own thread.
    pub fn open(selector: &str) -> Result<Camera, String> {
        let (tx, rx) = mpsc::channel::<FrameReply>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let selector = selector.to_string();
        std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || {
                let mut source = match photo::open_source(&selector) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(s.describe()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                for reply in rx {
                    let frame = source
                        .next_frame()
                        .map_err(|e| e.to_string())
                        .and_then(|f| photo::encode::encode_jpeg(&f, 90, 96).map_err(|e| e.to_string()));
                    let _ = reply.send(frame);
                }
            })
            .map_err(|e| format!("camera thread: {e}"))?;
        let describe = ready_rx.recv().map_err(|_| "the camera thread stopped".to_string())??;
        Ok(Camera { requests: Mutex::new(tx), describe })
    }

    /// One frame as JPEG.
    pub fn frame(&self) -> Result<Vec<u8>, String> {
        let (tx, rx) = mpsc::channel();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(tx)
            .map_err(|_| "the camera stopped".to_string())?;
        rx.recv_timeout(Duration::from_secs(10)).map_err(|_| "the camera gives no frame".to_string())?
    }
}

/// A physical action on a simulated device, for [`CounterView::simulate`].
pub type SimAction = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// What the web page sees of a counter: the devices as last polled, the camera, the printed
/// faces of the jobs and how long each step takes here.
pub struct CounterPanel {
    devices: Mutex<Vec<DeviceState>>,
    camera: Result<Camera, String>,
    /// Where the printer writes what it printed (the simulator's PNGs).
    printed_dir: Option<PathBuf>,
    /// The last face sent to the printer, composited from its panels (PNG): the preview
    /// where the printer gives back no picture of what it printed.
    rendered: Mutex<Option<Vec<u8>>>,
    faces: Mutex<VecDeque<(i64, Vec<u8>)>>,
    step_times: Mutex<HashMap<&'static str, (f64, u32)>>,
    sim: Option<SimAction>,
}

impl CounterPanel {
    /// A panel with `camera` (or why there is none); `printed_dir` where the printer leaves a
    /// PNG of each face; `sim` for simulated devices.
    pub fn new(
        camera: Result<Camera, String>,
        printed_dir: Option<PathBuf>,
        sim: Option<SimAction>,
    ) -> CounterPanel {
        CounterPanel {
            devices: Mutex::new(Vec::new()),
            camera,
            printed_dir,
            rendered: Mutex::new(None),
            faces: Mutex::new(VecDeque::new()),
            step_times: Mutex::new(HashMap::new()),
            sim,
        }
    }

    /// The face of the card just printed: the printer's own picture of it when it writes one
    /// (the simulator's PNGs, newest by their sequential names), else the face as rendered.
    fn printed_now(&self) -> Option<Vec<u8>> {
        let written = self.printed_dir.as_ref().and_then(|dir| {
            std::fs::read_dir(dir)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("card-") && n.ends_with(".png"))
                })
                .max()
        });
        match written {
            Some(path) => std::fs::read(path).ok(),
            None => self.rendered.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    fn keep_face(&self, job: i64, png: Vec<u8>) {
        let mut faces = self.faces.lock().unwrap_or_else(|p| p.into_inner());
        faces.retain(|(j, _)| *j != job);
        faces.push_back((job, png));
        while faces.len() > KEPT_FACES {
            faces.pop_front();
        }
    }

    fn timed(&self, step: Step, seconds: f64) {
        let mut times = self.step_times.lock().unwrap_or_else(|p| p.into_inner());
        let entry = times.entry(step.name()).or_insert((0.0, 0));
        entry.0 += seconds;
        entry.1 += 1;
    }
}

impl CounterView for CounterPanel {
    fn devices(&self) -> Vec<DeviceState> {
        let mut list = self.devices.lock().unwrap_or_else(|p| p.into_inner()).clone();
        list.push(match &self.camera {
            Ok(c) => DeviceState::ok("camera", c.describe.clone()),
            Err(e) => DeviceState::fault(
                "camera",
                "no-camera",
                e.clone(),
                "connect the camera, or capture the photo elsewhere and use its file",
            ),
        });
        list
    }

    fn camera_frame(&self) -> Result<Vec<u8>, String> {
        self.camera.as_ref().map_err(|e| e.clone())?.frame()
    }

    fn printed_face(&self, job: i64) -> Option<Vec<u8>> {
        let faces = self.faces.lock().unwrap_or_else(|p| p.into_inner());
        faces.iter().find(|(j, _)| *j == job).map(|(_, png)| png.clone())
    }

    fn step_seconds(&self) -> Vec<(String, f64)> {
        let times = self.step_times.lock().unwrap_or_else(|p| p.into_inner());
        times.iter().map(|(step, (sum, n))| (step.to_string(), sum / f64::from((*n).max(1)))).collect()
    }

    fn simulate(&self, action: &str) -> Result<(), String> {
        match &self.sim {
            Some(sim) => sim(action),
            None => Err(format!("{action}: this counter has no simulated devices")),
        }
    }
}

/// The printer's state for the status bar, with what the operator does about each fault.
fn printer_states(printer: &mut dyn Printer) -> Vec<DeviceState> {
    use evolis::SensorState;
    let status = match printer.status() {
        Ok(s) => s,
        Err(e) => {
            return vec![DeviceState::fault(
                "printer",
                "unreachable",
                e.to_string(),
                "check the printer's power and cable; the station reconnects by itself",
            )]
        }
    };
    let mut list = vec![DeviceState::ok("printer", format!("card: {:?}", status.card))];
    list.push(match status.ribbon_remaining {
        None | Some(0) => DeviceState::fault(
            "ribbon",
            "ribbon-out",
            "no usable ribbon",
            "open the cover, put in a new YMCKO ribbon, close the cover",
        ),
        Some(n) if n < RIBBON_LOW => DeviceState {
            problem: "ribbon-low".into(),
            action: "have a new ribbon ready".into(),
            ..DeviceState::ok("ribbon", format!("{n} prints left"))
        },
        Some(n) => DeviceState::ok("ribbon", format!("{n} prints left")),
    });
    list.push(if status.feeder == SensorState::FeederEmpty {
        DeviceState::fault("feeder", "feeder-empty", "the feeder is empty", "put blank cards into the feeder")
    } else {
        DeviceState::ok("feeder", "loaded")
    });
    list.push(if status.cover == SensorState::CoverOpen {
        DeviceState::fault("cover", "cover-open", "the cover is open", "close the printer cover")
    } else {
        DeviceState::ok("cover", "closed")
    });
    list
}

/// Below this many prints the status bar asks for a ribbon at hand.
const RIBBON_LOW: u32 = 20;

/// The readers for the status bar: the card reader must be there, the PSAM must be in its slot.
fn reader_states(
    manager: &mut dyn card_transport::ReaderManager,
    card_reader: &str,
    psam_reader: &str,
) -> Vec<DeviceState> {
    let mut resolve = |selector: &str| -> Result<card_transport::ReaderInfo, pcsc_reader::Error> {
        let selector: pcsc_reader::Selector = selector.parse()?;
        selector.resolve(&manager.list_readers()?)
    };
    let card = match resolve(card_reader) {
        Ok(r) => DeviceState::ok("card-reader", r.name),
        Err(e) => DeviceState::fault(
            "card-reader",
            "no-reader",
            e.to_string(),
            "check the printer's chip reader cable (USB) and that pcscd runs",
        ),
    };
    let psam = match resolve(psam_reader) {
        Ok(r) if r.card_present => DeviceState::ok("psam", r.name),
        Ok(r) => DeviceState::fault(
            "psam",
            "no-card",
            format!("no PSAM in {}", r.name),
            "insert the PSAM into the SAM slot",
        ),
        Err(e) => DeviceState::fault(
            "psam",
            "no-reader",
            e.to_string(),
            "check the PSAM reader's cable and that pcscd runs",
        ),
    };
    vec![card, psam]
}

/// How many jobs' printed faces the page can still show.
const KEPT_FACES: usize = 32;

/// The face layout, keeping a picture of each face it renders for the page's preview.
struct PreviewFaces {
    inner: Box<dyn FaceRenderer + Send>,
    panel: Arc<CounterPanel>,
}

impl FaceRenderer for PreviewFaces {
    fn render(&self, face: &FaceText) -> Result<PrintJob, FaceProblem> {
        let job = self.inner.render(face)?;
        // What the printer is sent, put back together: the preview shows those very panels.
        let png = crate::faces::preview_png(&job);
        *self.panel.rendered.lock().unwrap_or_else(|p| p.into_inner()) = png;
        Ok(job)
    }
}

/// A placeholder while the face layout is being wrapped.
struct NoFaces;

impl FaceRenderer for NoFaces {
    fn render(&self, _: &FaceText) -> Result<PrintJob, FaceProblem> {
        Err(FaceProblem::Layout("no face layout".into()))
    }
}

/// A counter runner that also shows itself to the web page.
pub struct PanelRunner {
    counter: CounterRunner,
    panel: Arc<CounterPanel>,
    /// When the printer last failed to answer a poll: an unplugged printer makes every command
    /// wait out its timeout, so it is asked again only after [`UNREACHABLE_BACKOFF`].
    unreachable_since: Option<Instant>,
}

/// How long the status bar leaves an unreachable printer alone between polls.
const UNREACHABLE_BACKOFF: Duration = Duration::from_secs(15);

impl PanelRunner {
    /// `counter` seen through `panel`: its faces are kept for the preview as they are rendered.
    pub fn new(mut counter: CounterRunner, panel: CounterPanel) -> PanelRunner {
        let panel = Arc::new(panel);
        let inner = std::mem::replace(&mut counter.faces, Box::new(NoFaces));
        counter.faces = Box::new(PreviewFaces { inner, panel: panel.clone() });
        PanelRunner { counter, panel, unreachable_since: None }
    }

    /// Wraps `progress` so that step times are measured and the printed face of the job is
    /// kept when its print step is done.
    fn watch<'a>(
        panel: &'a CounterPanel,
        progress: &'a mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> impl FnMut(i64, Step, Phase) + Send + 'a {
        let mut began: Option<(Step, Instant)> = None;
        move |job, step, phase| {
            match phase {
                Phase::Begin => began = Some((step, Instant::now())),
                Phase::Done => {
                    if let Some((s, at)) = began.take().filter(|(s, _)| *s == step) {
                        panel.timed(s, at.elapsed().as_secs_f64());
                    }
                    if step == Step::PrintFace {
                        if let Some(png) = panel.printed_now() {
                            panel.keep_face(job, png);
                        }
                    }
                }
            }
            progress(job, step, phase)
        }
    }
}

impl Runner for PanelRunner {
    fn view(&self) -> Option<Arc<dyn CounterView>> {
        Some(self.panel.clone())
    }

    fn poll_devices(&mut self) {
        let c = &mut self.counter;
        let mut list = reader_states(c.manager.as_mut(), &c.card_reader, &c.psam_reader);
        let printer = match self.unreachable_since {
            Some(at) if at.elapsed() < UNREACHABLE_BACKOFF => {
                let last = self.panel.devices.lock().unwrap_or_else(|p| p.into_inner());
                last.iter().filter(|d| d.device == "printer").cloned().collect()
            }
            _ => printer_states(c.printer.as_mut()),
        };
        let unreachable = printer.iter().any(|d| d.problem == "unreachable");
        self.unreachable_since = match (unreachable, self.unreachable_since) {
            (false, _) => None,
            (true, Some(at)) if at.elapsed() < UNREACHABLE_BACKOFF => Some(at),
            (true, _) => Some(Instant::now()),
        };
        list.extend(printer);
        *self.panel.devices.lock().unwrap_or_else(|p| p.into_inner()) = list;
    }

    fn start(
        &mut self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, JobOutcome), IssueError> {
        let panel = self.panel.clone();
        let mut watched = PanelRunner::watch(&panel, progress);
        self.counter.start(request, &mut watched)
    }

    fn resume(
        &mut self,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        let panel = self.panel.clone();
        let mut watched = PanelRunner::watch(&panel, progress);
        self.counter.resume(job, &mut watched)
    }

    fn keep_claims(&mut self) {
        self.counter.keep_claims();
    }

    fn stock(&self) -> issuance::StockSettings {
        self.counter.stock()
    }

    fn bank(&self) -> Option<Arc<daemon::state::BankSetup>> {
        self.counter.bank()
    }

    fn journal_watch(&self) -> Option<daemon::JournalWatch> {
        self.counter.journal_watch()
    }

    fn desk(&self) -> Option<Arc<dyn Desk>> {
        let inner = self.counter.desk()?;
        Some(Arc::new(PanelDesk { panel: self.panel.clone(), inner }))
    }

    fn run_prepared(
        &mut self,
        request: &JobRequest,
        job: i64,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<JobOutcome, IssueError> {
        let panel = self.panel.clone();
        let mut watched = PanelRunner::watch(&panel, progress);
        self.counter.run_prepared(request, job, &mut watched)
    }
}

/// The counter's desk stage, its step times measured for the page like the devices' steps.
struct PanelDesk {
    panel: Arc<CounterPanel>,
    inner: Arc<dyn Desk>,
}

impl Desk for PanelDesk {
    fn prepare(
        &self,
        request: &JobRequest,
        progress: &mut (dyn FnMut(i64, Step, Phase) + Send),
    ) -> Result<(i64, Option<JobOutcome>), IssueError> {
        let mut watched = PanelRunner::watch(&self.panel, progress);
        self.inner.prepare(request, &mut watched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_face_sent_to_the_printer_is_kept_as_its_jobs_preview() {
        let panel = Arc::new(CounterPanel::new(Err("no camera here".into()), None, None));
        let dir = tempfile::tempdir().expect("tmp");
        let layout = crate::faces::CardFaceRenderer::builtin(
            firmware_profile::Generation::Third,
            dir.path().into(),
            None,
        )
        .expect("face layout");
        let faces = PreviewFaces { inner: Box::new(layout), panel: panel.clone() };
        let face = FaceText {
            name: "张三".into(),
            ssn: "11010519491231002X".into(),
            card_number: "B00000019".into(),
            issue_date: "20261204".into(),
            sex: None,
            ethnicity: None,
            expiry_date: None,
            photo: None,
        };
        let job = faces.render(&face).expect("rendered");
        assert!(!job.panels().is_empty());
        let png = panel.printed_now().expect("a preview of the rendered face");
        let image = card_face::image::load_from_memory(&png).expect("PNG").to_rgb8();
        assert_eq!(image.dimensions(), (1016, 648));
        let ink = image.pixels().filter(|p| p.0.iter().all(|v| *v < 60)).count();
        assert!(ink > 2_000, "name, numbers and barcode in black ({ink} pixels)");
        panel.keep_face(7, png.clone());
        assert_eq!(panel.printed_face(7), Some(png));
        assert_eq!(panel.printed_face(8), None, "only the job's own face");
        let camera = panel.devices().into_iter().find(|d| d.device == "camera").expect("camera state");
        assert!(!camera.ok && camera.problem == "no-camera", "{camera:?}");
    }
}
