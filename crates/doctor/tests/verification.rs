//! The identity verification check against the verification simulator over TLS on loopback
//! (mutual TLS, real certificates), and against configurations that cannot work.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use doctor::verification::{check_verification, VerificationPlan};
use doctor::{Device, Report, Severity};
use idv::{SetupError, Transport};

fn check(url: &str, transport: Result<Transport, SetupError>) -> Report {
    check_at(url, transport, SystemTime::now())
}

fn check_at(url: &str, transport: Result<Transport, SetupError>, now: SystemTime) -> Report {
    let mut report = Report::default();
    let plan = VerificationPlan { url, transport, timeout: Duration::from_secs(5) };
    check_verification(plan, now, &mut report);
    report
}

fn blocker(report: &Report) -> &doctor::Finding {
    let f = report.about(Device::IdentityVerification).find(|f| f.severity == Severity::Blocker);
    f.unwrap_or_else(|| panic!("no blocker in\n{report}"))
}

/// The simulator over TLS, client certificates required, on its own runtime.
fn mutual_tls_service(pki: &idv_sim::pki::TestPki) -> (tokio::runtime::Runtime, idv_sim::Handle) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let tls = pki.server_tls(true).expect("server TLS");
    let handle = runtime
        .block_on(idv_sim::serve_tls("127.0.0.1:0".parse().expect("addr"), Vec::new(), tls))
        .expect("serve");
    (runtime, handle)
}

#[test]
fn a_working_tls_service_is_reached_with_the_stations_certificate() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = idv_sim::pki::generate(&dir.path().join("service")).expect("pki");
    let (_runtime, sim) = mutual_tls_service(&pki);
    let report = check(&sim.url(), Ok(Transport::Tls(pki.station_tls(true))));
    assert_eq!(report.verdict().exit_code(), 0, "{report}");
    let text = report.to_string();
    assert!(
        text.contains("[ OK ] identity verification: verification CA certificate CN=Simulated"),
        "{text}"
    );
    assert!(text.contains("station's verification certificate CN=S-0101"), "{text}");
    assert!(text.contains(&format!("{} answers over mutual TLS", sim.url())), "{text}");

    // Without the station's certificate the service refuses the session: say what to give.
    let report = check(&sim.url(), Ok(Transport::Tls(pki.station_tls(false))));
    let f = blocker(&report);
    assert!(f.summary.contains("refused this station's TLS session"), "{report}");
    assert!(f.fix.as_ref().is_some_and(|x| x.zh.contains("client_cert") && x.en.contains("client_key")));

    // Trusting another CA: the service's certificate is not trusted.
    let other = idv_sim::pki::generate(&dir.path().join("other")).expect("pki");
    let report = check(&sim.url(), Ok(Transport::Tls(other.station_tls(false))));
    let f = blocker(&report);
    assert!(f.summary.contains("not trusted") && f.summary.contains("invalid peer certificate"), "{report}");

    // Certificates out of date block before the service is asked.
    let late = SystemTime::UNIX_EPOCH + Duration::from_secs(80_000_000_000); // year 4505
    let report = check_at(&sim.url(), Ok(Transport::Tls(pki.station_tls(true))), late);
    assert!(blocker(&report).summary.starts_with("the verification CA certificate expired on"), "{report}");
    assert!(!report.to_string().contains("answers over"), "{report}");

    // The service stops: unreachable, with what to check.
    sim.abort();
    drop(_runtime);
    let report = check(&sim.url(), Ok(Transport::Tls(pki.station_tls(true))));
    let f = blocker(&report);
    assert!(f.summary.contains("is unreachable"), "{report}");
    assert!(f.fix.as_ref().is_some_and(|x| x.en.contains("check this machine's network")), "{report}");
}

#[test]
fn a_bad_ca_path_blocks_with_where_relative_paths_are_taken_from() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = idv_sim::pki::generate(dir.path()).expect("pki");
    let missing = dir.path().join("no-such-ca.pem");
    let tls = idv::TlsConfig { ca: missing.clone(), client: pki.station_tls(true).client };
    let report = check("https://127.0.0.1:1", Ok(Transport::Tls(tls)));
    assert_eq!(report.verdict().exit_code(), 4, "{report}");
    let f = blocker(&report);
    assert!(f.summary.contains(&missing.display().to_string()), "{report}");
    let fix = f.fix.as_ref().expect("fix");
    assert!(
        fix.zh.contains("相对路径以配置文件所在目录为准")
            && fix.en.contains("configuration file's directory")
    );

    // A file that is not a certificate.
    let tls = idv::TlsConfig { ca: pki.client_key.clone(), client: None };
    let f = blocker(&check("https://127.0.0.1:1", Ok(Transport::Tls(tls)))).clone();
    assert!(f.summary.contains("no certificate in it"), "{f:?}");
}

#[test]
fn plain_http_without_the_simulators_and_a_key_others_can_read_say_what_to_change() {
    let report = check("http://127.0.0.1:8790", Err(SetupError::PlainHttp));
    let f = blocker(&report);
    assert!(f.summary.contains("http:// is only for the simulators"), "{report}");
    let fix = f.fix.as_ref().expect("fix");
    assert!(
        fix.zh.contains("ca = \"ca.pem\"") && fix.en.contains("identity_verification = { url = \"https://")
    );

    let dir = tempfile::tempdir().expect("tmp");
    let pki = idv_sim::pki::generate(dir.path()).expect("pki");
    std::fs::set_permissions(&pki.client_key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let report = check("https://127.0.0.1:1", Ok(Transport::Tls(pki.station_tls(true))));
    let f = blocker(&report);
    let key: PathBuf = pki.client_key.clone();
    assert!(f.summary.contains("mode 0640"), "{report}");
    assert!(f.fix.as_ref().is_some_and(|x| x.en.contains(&format!("chmod 600 {}", key.display()))));
}

#[test]
fn plain_http_to_a_simulator_is_checked_in_a_build_with_the_simulators() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim =
        runtime.block_on(idv_sim::serve("127.0.0.1:0".parse().expect("addr"), Vec::new())).expect("sim");
    let report = check(&sim.url(), Ok(Transport::PlainForSimulators));
    assert_eq!(report.verdict().exit_code(), 0, "{report}");
    assert!(report.to_string().contains("answers over plain HTTP"), "{report}");
}
