//! The provincial service for real: PostgreSQL started privately, HTTP/JSON over mutual TLS on
//! loopback, station clients with their own certificates.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use archive::conformance::{claim_request, fresh_ssn, request_id};
use archive::{ArchiveError, CardStatus, CommitRequest, ProvincialArchive, Refusal};
use common::Setup;

/// One PostgreSQL at a time on a 2-core machine.
static ONE: Mutex<()> = Mutex::new(());

fn one() -> std::sync::MutexGuard<'static, ()> {
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn the_service_keeps_every_rule_of_the_conformance_suite() {
    let _one = one();
    let setup = Setup::start(&["station-a", "station-b"]);
    let open = |station: &str| -> Box<dyn ProvincialArchive> { Box::new(setup.client(station)) };
    let open_kit =
        |kit: &str, owner: &str| -> Box<dyn ProvincialArchive> { Box::new(setup.kit_client(kit, owner)) };
    archive::conformance::run_all(&open, &open_kit);
}

#[test]
fn a_client_without_a_certificate_of_the_ca_is_refused() {
    let _one = one();
    let setup = Setup::start(&["station-a"]);
    let other = provincial::pki::generate(&setup.path("other-pki"), &["intruder"]).expect("pki");
    // Trusts the service, but shows a certificate from another CA.
    let intruder = provincial::Client::new(
        &setup.url(),
        &setup.pki.ca(),
        &other.station("intruder"),
        Duration::from_secs(5),
    )
    .expect("client");
    let e = intruder.lookup(&fresh_ssn()).expect_err("refused at the handshake");
    assert!(matches!(e, ArchiveError::Unavailable(_)), "{e}");
    assert!(setup.client("station-a").lookup(&fresh_ssn()).is_ok());
}

#[test]
fn sixty_four_stations_race_for_the_same_thousand_people() {
    let _one = one();
    let stations: Vec<String> = (0..64).map(|i| format!("station-{i:02}")).collect();
    let names: Vec<&str> = stations.iter().map(String::as_str).collect();
    let setup = Setup::start(&names);
    let people: Vec<String> = (0..1000).map(|_| fresh_ssn()).collect();
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (i, station) in stations.iter().enumerate() {
            let (client, people, outcomes) = (setup.client(station), &people, &outcomes);
            s.spawn(move || {
                let mut mine = Vec::new();
                // Each station walks the people from its own starting point, so they collide.
                for k in 0..people.len() {
                    let ssn = &people[(k * 7 + i * 131) % people.len()];
                    let outcome = match client.claim(&claim_request(ssn, None)) {
                        Ok(claim) => {
                            let commit = CommitRequest {
                                request_id: request_id("commit"),
                                claim_id: claim.claim_id,
                                card_id: "110100D15600000500BF7C7A48FB4966".into(),
                                atr: "3B00".into(),
                            };
                            client.commit(&commit).map(|card| card.card_number).map_err(|e| e.to_string())
                        }
                        Err(ArchiveError::Refused(r)) => {
                            assert!(
                                matches!(r, Refusal::AlreadyClaimed { .. } | Refusal::LiveCard { .. }),
                                "a lost claim is told why: {r:?}"
                            );
                            Err(r.to_string())
                        }
                        Err(e) => panic!("{station}: {e}"),
                    };
                    mine.push((ssn.clone(), outcome));
                }
                outcomes.lock().expect("lock").extend(mine);
            });
        }
    });
    let outcomes = outcomes.into_inner().expect("outcomes");
    assert_eq!(outcomes.len(), 64 * 1000);
    let won: Vec<&(String, Result<String, String>)> = outcomes.iter().filter(|(_, o)| o.is_ok()).collect();
    let numbers: BTreeSet<&String> = won.iter().filter_map(|(_, o)| o.as_ref().ok()).collect();
    assert_eq!(numbers.len(), won.len(), "no card number repeats");
    let mut per_person: BTreeMap<&String, usize> = BTreeMap::new();
    for (ssn, _) in &won {
        *per_person.entry(ssn).or_default() += 1;
    }
    assert!(per_person.values().all(|n| *n == 1), "nobody got two cards");
    let checker = setup.client("station-00");
    for ssn in &people {
        let p = checker.lookup(ssn).expect("lookup");
        let live = p.cards.iter().filter(|c| c.status == CardStatus::Made).count();
        assert_eq!(live, 1, "{ssn} holds exactly one live card");
    }
    println!("race: {} of {} attempts won, {} people", won.len(), outcomes.len(), people.len());
}

#[test]
fn a_lost_commit_answer_is_recovered_by_retrying_with_the_same_request_id() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let _one = one();
    // The service commits, then its answer is held back longer than the station waits: the
    // station sees a timeout although the card is recorded.
    static HOLD_NEXT_COMMIT: AtomicBool = AtomicBool::new(true);
    let setup = Setup::start_with(&["station-a"], |router| {
        router.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let commit = req.uri().path() == "/v1/commit";
                let response = next.run(req).await;
                if commit && HOLD_NEXT_COMMIT.swap(false, Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                response
            },
        ))
    });
    let client = setup.client("station-a");
    let claim = client.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    let commit = CommitRequest {
        request_id: request_id("commit"),
        claim_id: claim.claim_id,
        card_id: "110100D15600000500BF7C7A48FB4966".into(),
        atr: "3B00".into(),
    };
    let impatient = provincial::Client::new(
        &setup.url(),
        &setup.pki.ca(),
        &setup.pki.station("station-a"),
        Duration::from_secs(1),
    )
    .expect("client");
    let lost = impatient.commit(&commit);
    assert!(matches!(lost, Err(ArchiveError::Unavailable(_))), "{lost:?}");
    let recorded = client.lookup(&claim.ssn).expect("lookup").cards;
    assert_eq!(recorded.len(), 1, "the service did commit although the answer was lost");
    let card = client.commit(&commit).expect("the retry gets the stored answer");
    assert_eq!(card, recorded[0]);
    assert_eq!(client.lookup(&claim.ssn).expect("lookup").cards.len(), 1, "nothing happened twice");
}

#[test]
fn service_down_and_postgres_restarted_mid_run() {
    let _one = one();
    let mut setup = Setup::start(&["station-a"]);
    // The service is not listening: a clear, retryable error, nothing issued.
    let down = provincial::Client::new(
        &format!("https://127.0.0.1:{}", common::free_port()),
        &setup.pki.ca(),
        &setup.pki.station("station-a"),
        Duration::from_secs(2),
    )
    .expect("client");
    let e = down.claim(&claim_request(&fresh_ssn(), None)).expect_err("down");
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("application waits"), "{e}");

    let client = setup.client("station-a");
    let ssn = fresh_ssn();
    let claim = client.claim(&claim_request(&ssn, None)).expect("claim");
    setup.cluster.restart().expect("PostgreSQL restarts");
    let commit = CommitRequest {
        request_id: request_id("commit"),
        claim_id: claim.claim_id,
        card_id: "110100D15600000500BF7C7A48FB4966".into(),
        atr: "3B00".into(),
    };
    // Pooled connections died with the server: the first tries may be unavailable; the
    // same request id then goes through once.
    let mut result = Err(ArchiveError::Unavailable("not tried".into()));
    for _ in 0..20 {
        result = client.commit(&commit);
        if !matches!(&result, Err(e) if e.is_retryable()) {
            break;
        }
    }
    let card = result.expect("committed after the restart");
    assert_eq!(card.ssn, ssn);
    assert_eq!(client.lookup(&ssn).expect("lookup").cards.len(), 1);
}
