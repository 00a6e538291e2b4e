//! The station's bank client against the simulated card system over mutual TLS on loopback:
//! real certificates, real handshakes, the errors an operator would see.

mod common;

use std::time::Duration;

use bank::{ActivationStatus, BankCardSystem, BankError, ErrorKind, HttpBank, TlsConfig, Transport};
use bank_sim::pki::{self, TestPki};
use common::*;

fn serve(pki: &TestPki, require_client: bool) -> (tokio::runtime::Runtime, bank_sim::Handle) {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let tls = pki.server_tls(require_client).expect("server TLS");
    let handle = rt.block_on(bank_sim::serve_tls("127.0.0.1:0".parse().expect("addr"), accounts(), tls));
    (rt, handle.expect("serve"))
}

fn client(url: &str, tls: TlsConfig) -> HttpBank {
    HttpBank::new(url, &Transport::Tls(tls), Duration::from_secs(5)).expect("client")
}

#[test]
fn mutual_tls_activates_with_the_stations_certificate_and_refuses_without_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(&dir.path().join("bank")).expect("pki");
    let (_rt, sim) = serve(&pki, true);
    assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());

    let anonymous = client(&sim.url(), pki.station_tls(false));
    let e = anonymous.activate(&request("t-1")).expect_err("no client certificate");
    assert!(matches!(&e, BankError::Config(m) if m.contains("client_cert, client_key")), "{e}");
    assert_eq!(e.kind(), ErrorKind::FixConfiguration);
    assert!(sim.received().is_empty(), "refused at the handshake");

    let other = pki::generate(&dir.path().join("other")).expect("other pki");
    let untrusting = client(&sim.url(), other.station_tls(true));
    let e = untrusting.activate(&request("t-1")).expect_err("another CA");
    assert!(matches!(&e, BankError::Config(m) if m.contains("not trusted")), "{e}");

    let station = client(&sim.url(), pki.station_tls(true));
    assert_eq!(station.probe(), Ok(404), "the session holds; / is no route");
    let a = station.activate(&request("t-1")).expect("activated over mutual TLS");
    assert_eq!(a.status, ActivationStatus::Activated);
    assert!(!e.to_string().contains(ID) && !e.to_string().contains(PAN), "{e}");
}

#[test]
fn plain_http_is_refused_under_the_tls_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = pki::generate(dir.path()).expect("pki");
    let (_rt, sim) = start();
    let e = HttpBank::new(&sim.url(), &Transport::Tls(pki.station_tls(true)), Duration::from_secs(1)).err();
    assert!(matches!(e, Some(bank::SetupError::PlainHttp)), "{e:?}");
}
