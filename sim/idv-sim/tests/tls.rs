//! The station's verification client against the simulator over TLS on loopback: real
//! certificates, real handshakes, the errors an operator would see.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use idv::{
    HttpVerifier, IdentityQuery, IdentityVerifier, IdvError, SetupError, TlsFailure, Transport, Verdict,
};
use idv_sim::pki::{self, TestPki};

const ID: &str = "11010519491231002X";

fn roster() -> Vec<idv_sim::Person> {
    serde_json::from_str(&format!(r#"[{{"id_number": "{ID}", "name": "张三"}}]"#)).expect("roster")
}

fn query() -> IdentityQuery {
    IdentityQuery { request_id: "t".into(), id_number: ID.into(), name: "张三".into(), valid_until: None }
}

/// A runtime with the simulator on it, serving TLS with `pki`'s certificates.
fn serve(pki: &TestPki, require_client: bool) -> (tokio::runtime::Runtime, idv_sim::Handle) {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let tls = pki.server_tls(require_client).expect("server TLS");
    let handle = rt.block_on(idv_sim::serve_tls("127.0.0.1:0".parse().expect("addr"), roster(), tls));
    (rt, handle.expect("serve"))
}

fn verifier(url: &str, tls: idv::TlsConfig) -> Result<HttpVerifier, SetupError> {
    HttpVerifier::new(url, &Transport::Tls(tls), Duration::from_secs(5))
}

#[test]
fn a_verification_over_tls_trusting_the_configured_ca_succeeds() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(dir.path()).expect("pki");
    let (_rt, sim) = serve(&pki, false);
    assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());
    let v = verifier(&sim.url(), pki.station_tls(false)).expect("client");
    assert_eq!(v.verify(&query()), Ok(Verdict::Match));
    assert_eq!(v.probe(), Ok(404), "the probe's GET / is answered (no such route) over TLS");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused_and_not_retried() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(&dir.path().join("service")).expect("pki");
    let other = pki::generate(&dir.path().join("other")).expect("other pki");
    let (_rt, sim) = serve(&pki, false);
    let v = verifier(&sim.url(), other.station_tls(false)).expect("client");
    let e = v.verify(&query()).expect_err("untrusted service");
    let IdvError::Tls(TlsFailure::ServerCertificate(why)) = &e else { panic!("{e:?}") };
    // The same CA name with another key: the signature does not hold.
    assert!(why.contains("invalid peer certificate"), "{why}");
    let text = e.to_string();
    assert!(text.contains("not trusted") && text.contains("is ca the CA"), "{text}");
    assert!(!text.contains(ID), "no ID number in errors: {text}");
    let policy = idv::RetryPolicy { attempts: 3, backoff: Duration::from_secs(5), corrections: 0 };
    let started = std::time::Instant::now();
    let out = idv::verify_with_retry(&v, query(), policy, |_, _| None);
    assert!(matches!(out, idv::Outcome::Waiting(IdvError::Tls(_))), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "no backoff for a certificate problem");
}

#[test]
fn mutual_tls_refuses_a_station_without_its_certificate_and_answers_one_with_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(&dir.path().join("service")).expect("pki");
    let (_rt, sim) = serve(&pki, true);

    let anonymous = verifier(&sim.url(), pki.station_tls(false)).expect("client");
    let e = anonymous.verify(&query()).expect_err("no client certificate");
    assert!(matches!(e, IdvError::Tls(TlsFailure::Refused(_))), "{e:?}");
    assert!(e.to_string().contains("client_cert, client_key"), "says what to give: {e}");
    assert!(matches!(anonymous.probe(), Err(IdvError::Tls(TlsFailure::Refused(_)))));

    // A client certificate from a CA the service does not trust is refused the same way.
    let other = pki::generate(&dir.path().join("other")).expect("other pki");
    let stranger = idv::TlsConfig { ca: pki.ca.clone(), client: other.station_tls(true).client };
    let e = verifier(&sim.url(), stranger).expect("client").verify(&query()).expect_err("stranger");
    assert!(matches!(e, IdvError::Tls(TlsFailure::Refused(_))), "{e:?}");

    let station = verifier(&sim.url(), pki.station_tls(true)).expect("client");
    assert_eq!(station.verify(&query()), Ok(Verdict::Match));
}

#[test]
fn plain_http_is_refused_under_the_tls_only_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(dir.path()).expect("pki");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sim = rt.block_on(idv_sim::serve("127.0.0.1:0".parse().expect("addr"), roster())).expect("serve");
    let e = verifier(&sim.url(), pki.station_tls(true)).err().expect("plain http under TLS");
    assert!(matches!(e, SetupError::PlainHttp), "{e}");
    assert!(e.to_string().contains("http:// is only for the simulators"), "{e}");
    // The simulators' policy reaches it; and it refuses https without a CA to anchor it.
    let v = HttpVerifier::new(&sim.url(), &Transport::PlainForSimulators, Duration::from_secs(5));
    assert_eq!(v.expect("plain for the simulators").verify(&query()), Ok(Verdict::Match));
    let https = sim.url().replace("http://", "https://");
    let e = HttpVerifier::new(&https, &Transport::PlainForSimulators, Duration::from_secs(5)).err();
    assert!(matches!(e, Some(SetupError::NoCa { .. })), "{e:?}");
}

#[test]
fn a_client_key_others_can_read_or_of_another_certificate_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(&dir.path().join("a")).expect("pki");
    let url = "https://127.0.0.1:1";
    std::fs::set_permissions(&pki.client_key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = verifier(url, pki.station_tls(true)).err().expect("key readable by others");
    assert!(matches!(e, SetupError::KeyReadable { mode: 0o644, .. }), "{e}");
    assert!(e.to_string().contains(&format!("chmod 600 {}", pki.client_key.display())), "{e}");
    std::fs::set_permissions(&pki.client_key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(verifier(url, pki.station_tls(true)).is_ok());

    let other = pki::generate(&dir.path().join("b")).expect("pki");
    let mixed = idv::ClientIdentity { cert: pki.client_cert.clone(), key: other.client_key.clone() };
    let e = verifier(url, idv::TlsConfig { ca: pki.ca.clone(), client: Some(mixed) }).err().expect("mixed");
    assert!(matches!(e, SetupError::NotAPair { .. }), "{e}");
    let key_text = std::fs::read_to_string(&other.client_key).expect("key");
    let body = key_text.lines().nth(1).expect("a base64 line");
    assert!(!e.to_string().contains(body), "no key material in the error: {e}");
}
