//! Certificates through the real service (private PostgreSQL, mutual TLS on loopback): a
//! revocation reaches the running service, an unusable revocation list refuses everyone, an
//! expired certificate is refused, and a kit's certificate tells the routes its station.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use archive::conformance::fresh_ssn;
use archive::{ArchiveError, ProvincialArchive};
use axum::{Extension, Json};
use common::Setup;
use provincial::pki::{self, Holder, Validity};
use provincial::server::Station;

/// One PostgreSQL at a time on a 2-core machine.
static ONE: Mutex<()> = Mutex::new(());

fn one() -> std::sync::MutexGuard<'static, ()> {
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

fn refused(setup: &Setup, station: &str) -> bool {
    match setup.client(station).lookup(&fresh_ssn()) {
        Err(ArchiveError::Unavailable(_)) => true,
        Err(e) => panic!("{station}: refused at the handshake, not by the rules: {e}"),
        Ok(_) => false,
    }
}

#[test]
fn a_revoked_station_is_refused_without_restarting_the_service() {
    let _one = one();
    let setup = Setup::start(&["station-a", "station-b"]);
    assert!(!refused(&setup, "station-b"), "served before the revocation");

    let r = pki::revoke(&setup.pki, "station-b").expect("revoke");
    assert_eq!((r.number, r.already), (2, false));
    assert!(refused(&setup, "station-b"), "the next handshake sees the new list");
    assert!(!refused(&setup, "station-a"), "the others are still served");

    // A station added to the PKI later is served by the same running service.
    pki::add_stations(&setup.pki, &["station-c"]).expect("add");
    assert!(!refused(&setup, "station-c"));
    assert!(refused(&setup, "station-b"), "and the revocation stays");

    // The keys the service and the stations read are private.
    for key in [setup.pki.ca_key(), setup.pki.server_key(), setup.pki.station("station-a")] {
        let mode = std::fs::metadata(&key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
}

#[test]
fn an_unusable_revocation_list_refuses_everyone_until_it_is_fixed() {
    let _one = one();
    let setup = Setup::start(&["station-a"]);
    let good = std::fs::read(setup.pki.crl()).expect("crl");
    std::fs::write(setup.pki.crl(), b"not a revocation list").expect("break");
    assert!(refused(&setup, "station-a"), "fail closed, not open");
    std::fs::remove_file(setup.pki.crl()).expect("remove");
    assert!(refused(&setup, "station-a"), "a missing list refuses too");
    std::fs::write(setup.pki.crl(), good).expect("restore");
    assert!(!refused(&setup, "station-a"), "served again, without a restart");
}

#[test]
fn an_expired_certificate_is_refused() {
    let _one = one();
    let setup = Setup::start(&["station-a"]);
    let ca = pki::Ca::load(&setup.pki).expect("ca");
    let week_ago = SystemTime::now() - Duration::from_secs(7 * 86_400);
    let expired = Validity { not_before: week_ago, not_after: week_ago + Duration::from_secs(86_400) };
    ca.issue(&setup.pki, Holder::Station("station-late"), Some(expired)).expect("issue");
    assert!(refused(&setup, "station-late"));
    let tomorrow = SystemTime::now() + Duration::from_secs(86_400);
    let early = Validity { not_before: tomorrow, not_after: tomorrow + Duration::from_secs(86_400) };
    ca.issue(&setup.pki, Holder::Station("station-early"), Some(early)).expect("issue");
    assert!(refused(&setup, "station-early"), "not yet valid");
    assert!(!refused(&setup, "station-a"));
}

#[test]
fn a_kit_certificate_tells_the_routes_its_station() {
    let _one = one();
    let setup = Setup::start_with(&["station-a"], |router| {
        router.route(
            "/whoami",
            axum::routing::get(|Extension(st): Extension<Station>| async move {
                Json(serde_json::json!({"id": st.id, "kit_of": st.kit_of}))
            }),
        )
    });
    let kit = pki::add_kit(&setup.pki, "kit-7", "station-a", pki::KIT_DAYS_DEFAULT).expect("kit");
    let whoami = |identity: &std::path::Path| -> serde_json::Value {
        let mut answer = provincial::client::mtls_agent(&setup.pki.ca(), identity, Duration::from_secs(10))
            .expect("client")
            .get(format!("{}/whoami", setup.url()))
            .call()
            .expect("whoami");
        assert!(answer.status().is_success(), "whoami: {}", answer.status());
        serde_json::from_str(&answer.body_mut().read_to_string().expect("body")).expect("JSON")
    };
    assert_eq!(whoami(&kit), serde_json::json!({"id": "kit-7", "kit_of": "station-a"}));
    assert_eq!(
        whoami(&setup.pki.station("station-a")),
        serde_json::json!({"id": "station-a", "kit_of": null})
    );

    pki::revoke(&setup.pki, "kit-7").expect("revoke the kit");
    let lost = provincial::Client::new(&setup.url(), &setup.pki.ca(), &kit, Duration::from_secs(10))
        .expect("client")
        .lookup(&fresh_ssn());
    assert!(matches!(lost, Err(ArchiveError::Unavailable(_))), "{lost:?}");
}
