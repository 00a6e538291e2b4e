//! Each check on the simulators without pcscd: the card and PSAM simulators in process, the
//! printer simulator over its in-memory link, the synthetic camera, and the provincial
//! service's own TLS front (mutual TLS, real certificates) with a plain router behind it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use doctor::archive::{self, ArchivePlan, ArchiveProbe, HttpsProbe, ProbeError};
use doctor::{Device, Report, Severity};
use firmware_profile::devices::DeviceProfiles;

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles")
}

/// A card of `file`: user cards blank as in the hopper, the PSAM with its content.
fn sim_card(file: &str) -> card_sim::SharedCard {
    card_sim::build_card(&card_sim::SimConfig {
        profile: profiles_dir().join(file),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:1".parse().expect("addr"),
        blank: !file.starts_with("psam"),
    })
    .expect("simulated card")
}

fn severities(report: &Report, device: Device) -> Vec<Severity> {
    report.about(device).map(|f| f.severity).collect()
}

fn summaries(report: &Report, device: Device) -> String {
    report.about(device).map(|f| f.summary.clone()).collect::<Vec<_>>().join(" | ")
}

struct Readers {
    readers: card_sim::SimReaders,
    profile: firmware_profile::Profile,
    devices: DeviceProfiles,
}

impl Readers {
    fn new() -> Readers {
        let mut readers = card_sim::SimReaders::new();
        readers.add(sim_card("ssc-3g-sim.toml"));
        readers.add(sim_card("psam-sim.toml"));
        Readers {
            readers,
            profile: firmware_profile::Profile::load(profiles_dir().join("ssc-3g-sim.toml"))
                .expect("profile"),
            devices: DeviceProfiles::load(&profiles_dir()).expect("device profiles"),
        }
    }

    fn check(&mut self, card_reader: &str, psam_reader: &str) -> Report {
        let plan = doctor::readers::ReaderPlan {
            card_reader,
            psam_reader,
            card_profile: Some(&self.profile),
            devices: &self.devices,
            profiles_dir: &profiles_dir(),
        };
        let mut report = Report::default();
        doctor::readers::check_readers(&mut self.readers, &plan, &mut report);
        report
    }
}

#[test]
fn the_psam_is_asked_for_every_master_key_the_card_profile_names() {
    let mut r = Readers::new();
    let report = r.check("sim 0", "kind:sam");
    let psam = summaries(&report, Device::Psam);
    assert_eq!(severities(&report, Device::Psam), [Severity::Warning, Severity::Ok], "{psam}");
    assert!(psam.contains("no reader profile matches it"), "{psam}");
    assert!(
        psam.contains("terminal 000000000001") && psam.contains("47/0A") && psam.contains("48/12"),
        "{psam}"
    );
    assert!(summaries(&report, Device::Card).contains("profile ssc-3g-sim"), "{report}");
}

#[test]
fn a_psam_of_another_province_lacks_the_keys_and_blocks() {
    let mut r = Readers::new();
    // The cards of this profile are diversified from a master key the PSAM does not hold.
    for key in r.profile.keys.iter_mut().filter(|k| k.psam_key.is_some()).take(1) {
        key.psam_key = Some(firmware_profile::PsamKeyRef { usage: 0x48, id: 0x77 });
    }
    let report = r.check("sim 0", "sim 1");
    let psam = report.about(Device::Psam).find(|f| f.severity == Severity::Blocker).expect("blocker");
    assert!(psam.summary.contains("lacks master keys 48/77"), "{}", psam.summary);
    assert!(psam.fix.as_ref().expect("fix").en.contains("PSAM of this city"), "{psam:?}");
}

#[test]
fn a_card_in_the_psam_slot_is_not_taken_for_a_psam() {
    let mut readers = card_sim::SimReaders::new();
    readers.add(sim_card("ssc-3g-sim.toml"));
    readers.add(sim_card("ssc-2g-sim.toml"));
    let mut r = Readers::new();
    r.readers = readers;
    let report = r.check("sim 0", "sim 1");
    assert_eq!(report.verdict().exit_code(), 4);
    assert!(summaries(&report, Device::Psam).contains("is not a social-security PSAM"), "{report}");
}

#[test]
fn a_removed_psam_and_an_empty_card_reader_are_told_apart() {
    let mut r = Readers::new();
    card_sim::lock(r.readers.card("sim 1").expect("psam")).remove();
    card_sim::lock(r.readers.card("sim 0").expect("card")).remove();
    let report = r.check("sim 0", "sim 1");
    assert_eq!(severities(&report, Device::Card), [Severity::Warning], "no card in the field is a warning");
    let psam = report.about(Device::Psam).find(|f| f.severity == Severity::Blocker).expect("blocker");
    assert_eq!(psam.summary, "no PSAM in \"sim 1\"");
    assert_eq!(report.verdict().exit_code(), 4);
}

/// The simulators' readers with both cards pulled the moment the readers are listed: the
/// listing shows them present, the connect finds the slots empty.
struct PulledAfterListing(card_sim::SimReaders);

impl card_transport::ReaderManager for PulledAfterListing {
    fn list_readers(&mut self) -> Result<Vec<card_transport::ReaderInfo>, card_transport::TransportError> {
        let listed = self.0.list_readers()?;
        for name in ["sim 0", "sim 1"] {
            card_sim::lock(self.0.card(name).expect("card")).remove();
        }
        Ok(listed)
    }
    fn connect(
        &mut self,
        reader: &str,
    ) -> Result<Box<dyn card_transport::Card>, card_transport::TransportError> {
        self.0.connect(reader)
    }
    fn wait_for_atr(
        &mut self,
        reader: &str,
        after: Option<u64>,
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, card_transport::TransportError> {
        self.0.wait_for_atr(reader, after, timeout)
    }
    fn card_events(&mut self, reader: &str) -> Result<u64, card_transport::TransportError> {
        self.0.card_events(reader)
    }
}

#[test]
fn a_card_or_psam_that_does_not_answer_gets_the_fix_for_its_slot() {
    let r = Readers::new();
    let plan = doctor::readers::ReaderPlan {
        card_reader: "sim 0",
        psam_reader: "sim 1",
        card_profile: Some(&r.profile),
        devices: &r.devices,
        profiles_dir: &profiles_dir(),
    };
    let mut report = Report::default();
    doctor::readers::check_readers(&mut PulledAfterListing(r.readers), &plan, &mut report);
    let card = report.about(Device::Card).next().expect("card finding");
    assert_eq!(card.severity, Severity::Warning, "{report}");
    assert!(card.summary.starts_with("the card in \"sim 0\" does not answer: "), "{}", card.summary);
    assert!(card.fix.as_ref().expect("fix").en.contains("use another card"), "{card:?}");
    let psam = report.about(Device::Psam).find(|f| f.severity == Severity::Blocker).expect("blocker");
    assert!(psam.summary.starts_with("the PSAM in \"sim 1\" does not answer: "), "{}", psam.summary);
    assert!(psam.fix.as_ref().expect("fix").en.starts_with("reseat the PSAM"), "{psam:?}");
    assert_eq!(report.verdict().exit_code(), 4);
}

#[test]
fn a_selector_naming_no_reader_lists_the_readers_there_are() {
    let mut r = Readers::new();
    let report = r.check("ACS ACR39U ICC Reader 00 00", "sim 1");
    let f = report.about(Device::CardReader).next().expect("finding");
    assert_eq!(f.severity, Severity::Blocker);
    assert!(f.summary.contains("\"sim 0\" (contact), \"sim 1\" (sam)"), "{}", f.summary);
}

fn printer(
    config: printer_sim::ModelConfig,
) -> (printer_sim::SimPrinter, printer::EvolisPrinter<printer_sim::MemoryTransport>) {
    let sim = printer_sim::SimPrinter::new(config);
    let driver = printer::EvolisPrinter::new(printer_sim::MemoryTransport::new(sim.clone()));
    (sim, driver)
}

fn check_printer(p: &mut dyn printer::Printer) -> Report {
    let mut report = Report::default();
    let devices = DeviceProfiles::load(&profiles_dir()).expect("profiles");
    doctor::printer_check::check_printer(Ok(p), "memory", &devices, &profiles_dir(), &mut report);
    report
}

#[test]
fn printer_cover_feeder_and_ribbon_each_get_their_fix() {
    let (_sim, mut p) = printer(printer_sim::ModelConfig::default());
    let report = check_printer(&mut p);
    assert_eq!(report.verdict().exit_code(), 0, "{report}");
    assert!(summaries(&report, Device::Printer).contains("profile evolis-primacy ("), "{report}");

    let (sim, mut p) =
        printer(printer_sim::ModelConfig { feeder: 0, ribbon_capacity: 12, ..Default::default() });
    sim.inject("cover-open".parse().expect("fault"));
    let report = check_printer(&mut p);
    let text = report.to_string();
    assert!(text.contains("[FAIL] printer: the cover is open\n       处理: 关好打印机上盖"), "{text}");
    assert!(text.contains("[FAIL] printer: the feeder is empty"), "{text}");
    assert!(text.contains("[WARN] printer: ribbon low: 12 prints left"), "{text}");
    assert_eq!(report.verdict().exit_code(), 4);
}

#[test]
fn an_unopened_printer_blocks_with_the_selector_to_check() {
    let mut report = Report::default();
    let devices = DeviceProfiles::default();
    doctor::printer_check::check_printer(
        Err("No such file".into()),
        "serial:/dev/ttyUSB9",
        &devices,
        &profiles_dir(),
        &mut report,
    );
    let f = &report.findings[0];
    assert_eq!(f.severity, Severity::Blocker);
    assert!(f.fix.as_ref().expect("fix").zh.contains("printer = \"serial:/dev/ttyUSB9\""), "{f:?}");
}

#[test]
fn the_camera_check_needs_frames() {
    let mut report = Report::default();
    doctor::camera::check_camera("synthetic", photo::open_source("synthetic"), &mut report);
    doctor::camera::check_camera("synthetic:160x120", photo::open_source("synthetic:160x120"), &mut report);
    doctor::camera::check_camera("webcam:5", photo::open_source("webcam:5"), &mut report);
    let s: Vec<_> = report.findings.iter().map(|f| (f.severity, f.summary.as_str())).collect();
    assert_eq!(s[0].0, Severity::Ok, "{s:?}");
    assert!(s[0].1.ends_with(": 640x480 frames"), "{s:?}");
    assert_eq!(s[1].0, Severity::Warning, "{s:?}");
    assert!(s[1].1.contains("160x120 are smaller than a card photo"), "{s:?}");
    assert_eq!(s[2].0, Severity::Warning, "{s:?}");
    assert!(s[2].1.starts_with("no camera at \"webcam:5\""), "{s:?}");
}

/// A CA and a station certificate with the given validity, as the province would issue them.
fn pki(dir: &Path, cn: &str, not_after: (i32, u8, u8)) -> (PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Provincial card archive CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = p.signed_by(&key, &ca_cert, &ca_key).expect("cert");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("ca");
    std::fs::write(dir.join("station.pem"), format!("{}{}", cert.pem(), key.serialize_pem())).expect("id");
    (dir.join("ca.pem"), dir.join("station.pem"))
}

#[test]
fn certificates_expired_misnamed_or_from_another_ca_block() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ca, id) = pki(dir.path(), "S-0101", (2021, 1, 1));
    let mut report = Report::default();
    assert!(!archive::check_certificates(&ca, &id, "S-0101", SystemTime::now(), &mut report));
    assert!(report.findings[0].summary.starts_with("the station certificate expired on"), "{report}");
    assert!(report.findings[0].fix.as_ref().expect("fix").zh.contains("CN=S-0101"));

    let (ca, id) = pki(dir.path(), "S-0102", (2090, 1, 1));
    let mut report = Report::default();
    assert!(!archive::check_certificates(&ca, &id, "S-0101", SystemTime::now(), &mut report));
    assert!(report.to_string().contains("the certificate is for station \"S-0102\""), "{report}");

    let other = tempfile::tempdir().expect("tmp");
    let (other_ca, _) = pki(other.path(), "S-0101", (2090, 1, 1));
    let (_, id) = pki(dir.path(), "S-0101", (2090, 1, 1));
    let mut report = Report::default();
    assert!(!archive::check_certificates(&other_ca, &id, "S-0101", SystemTime::now(), &mut report));
    assert!(report.to_string().contains("not signed by the archive's CA"), "{report}");

    // Valid now, but in three weeks it expires: a warning.
    let (ca, id) = pki(dir.path(), "S-0101", (2090, 1, 1));
    let mut report = Report::default();
    let late = SystemTime::UNIX_EPOCH + Duration::from_secs(3_786_912_000 - 21 * 86_400); // 2090-01-01 - 21 d
    assert!(archive::check_certificates(&ca, &id, "S-0101", late, &mut report));
    assert_eq!(report.verdict().exit_code(), 3, "{report}");
    assert!(report.to_string().contains("expires in 21 days"), "{report}");
}

/// A service whose clock is off by `skew`.
struct Skewed(Duration);

impl ArchiveProbe for Skewed {
    fn server_time(&self) -> Result<SystemTime, ProbeError> {
        Ok(SystemTime::now() - self.0)
    }
}

#[test]
fn clock_skew_warns_then_blocks() {
    for (skew, code) in [(0, 0), (90, 3), (600, 4)] {
        let mut report = Report::default();
        archive::check_service(&Skewed(Duration::from_secs(skew)), "https://archive", &mut report);
        assert_eq!(report.verdict().exit_code(), code, "{skew} s: {report}");
    }
}

#[test]
fn the_service_is_reached_over_mutual_tls_and_its_clock_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = provincial::pki::generate(dir.path(), &["S-0101"]).expect("pki");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let service = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tls = provincial::server::tls_config(&paths).expect("tls");
        provincial::server::spawn(listener, tls, axum::Router::new()).expect("serve")
    });
    let url = format!("https://localhost:{}", service.addr.port());
    let probe =
        HttpsProbe::new(&url, &paths.ca(), &paths.station("S-0101"), Duration::from_secs(5)).expect("probe");
    let mut report = Report::default();
    let plan = ArchivePlan::Service {
        url: &url,
        ca: &paths.ca(),
        identity: &paths.station("S-0101"),
        station: "S-0101",
    };
    archive::check_archive(plan, Some(&probe), SystemTime::now(), &mut report);
    assert_eq!(report.verdict().exit_code(), 0, "{report}");
    assert!(report.to_string().contains("answers over mutual TLS"), "{report}");
    assert_eq!(severities(&report, Device::Clock), [Severity::Ok]);

    // The service stops: unreachable, a blocker with what to check.
    service.abort();
    drop(runtime);
    let mut report = Report::default();
    archive::check_service(&probe, &url, &mut report);
    let f = &report.findings[0];
    assert_eq!(f.severity, Severity::Blocker, "{report}");
    assert!(f.summary.contains("unreachable"), "{report}");
}
