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
    let setup = Setup::start(&["station-a", "station-b", "station-c"]);
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
    let gaps = setup.query("SELECT * FROM card_number_gaps('B')").len();
    assert_eq!(gaps, 0, "every number below the counter is on a claim or in a block");
    println!("race: {} of {} attempts won, {} people", won.len(), outcomes.len(), people.len());
}

/// A claim sent again while its first try is still running (a station that timed out and
/// retried at once) gets the first try's answer: the claim's request row is written at its end,
/// so the later try meets its key there, is rolled back and retried, and replays the stored
/// answer. The same request id for other persons at once: one claim, the rest refused.
#[test]
fn the_same_claim_sent_again_at_the_same_moment_is_decided_once() {
    let _one = one();
    let setup = Setup::start(&["st-a"]);
    let at_once = |requests: &[archive::ClaimRequest]| -> Vec<Result<archive::Claim, ArchiveError>> {
        let start = std::sync::Barrier::new(requests.len());
        std::thread::scope(|s| {
            let running: Vec<_> = requests
                .iter()
                .map(|q| {
                    let (client, start) = (setup.client("st-a"), &start);
                    s.spawn(move || {
                        start.wait();
                        client.claim(q)
                    })
                })
                .collect();
            running.into_iter().map(|r| r.join().expect("claim thread")).collect()
        })
    };
    let q = claim_request(&fresh_ssn(), None);
    let answers = at_once(&vec![q.clone(); 8]);
    let first = answers[0].as_ref().expect("claimed").clone();
    for a in &answers {
        let a = a.as_ref().expect("every try gets the claim");
        assert_eq!((a.claim_id, a.card_number.as_str()), (first.claim_id, first.card_number.as_str()));
    }
    let p = setup.client("st-a").lookup(&q.ssn).expect("lookup");
    assert_eq!(p.live_claim.map(|c| c.claim_id), Some(first.claim_id), "one claim");

    let reused = request_id("claim");
    let requests: Vec<archive::ClaimRequest> = (0..8)
        .map(|_| archive::ClaimRequest { request_id: reused.clone(), ..claim_request(&fresh_ssn(), None) })
        .collect();
    let answers = at_once(&requests);
    let won: Vec<&archive::Claim> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "one request decided: {answers:?}");
    for a in answers.iter().filter_map(|a| a.as_ref().err()) {
        assert!(matches!(a, ArchiveError::Refused(Refusal::RequestIdReused { .. })), "{a}");
    }
    let claimed = requests
        .iter()
        .filter(|q| setup.client("st-a").lookup(&q.ssn).expect("lookup").live_claim.is_some())
        .count();
    assert_eq!(claimed, 1, "only the decided request's person is claimed");

    let audit = setup.runtime.block_on(setup.store.audit_of("st-a")).expect("audit");
    let outcomes: Vec<&str> = audit.iter().filter(|r| r.0 == "claim").map(|r| r.2.as_str()).collect();
    let count = |o: &str| outcomes.iter().filter(|x| **x == o).count();
    assert_eq!(
        (count("ok"), count("replayed"), count("refused:request-id-reused"), outcomes.len()),
        (2, 7, 7, 16),
        "{outcomes:?}"
    );
}

/// A store with one connection, and a second connection holding person `ssn`'s row: the
/// store's claim of that person takes the connection and waits there, and the claims after it
/// queue until [`Blocked::release`].
struct Blocked {
    store: provincial::Store,
    holder: tokio_postgres::Client,
    first: tokio::task::JoinHandle<Result<archive::Claim, ArchiveError>>,
}

impl Blocked {
    async fn on(setup: &Setup, ssn: &str) -> Blocked {
        let store = provincial::Store::connect(&setup.cluster.url(), 'B', 1).await.expect("store");
        let holder = setup.sql().await;
        holder
            .batch_execute(&format!(
                "INSERT INTO persons (ssn, name) VALUES ('{ssn}', 'held');
                 BEGIN; SELECT 1 FROM persons WHERE ssn = '{ssn}' FOR UPDATE;"
            ))
            .await
            .expect("hold the row");
        let (s, q) = (store.clone(), claim_request(ssn, None));
        let first = tokio::spawn(async move { s.claim("st-a", &q).await });
        // The store's one backend waits for the row.
        let watch = setup.sql().await;
        while watch
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", &[])
            .await
            .expect("activity")
            .get::<_, i64>(0)
            == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Blocked { store, holder, first }
    }

    /// Station `station`'s claim `q` into the queue, after those queued before it (while the
    /// first claim holds the connection, nothing takes them out).
    async fn queue(
        store: &provincial::Store,
        station: &str,
        q: archive::ClaimRequest,
    ) -> tokio::task::JoinHandle<Result<archive::Claim, ArchiveError>> {
        let waiting = store.claim_batches().waiting;
        let (s, station) = (store.clone(), station.to_string());
        let claim = tokio::spawn(async move { s.claim(&station, &q).await });
        while store.claim_batches().waiting == waiting && !claim.is_finished() {
            tokio::task::yield_now().await;
        }
        claim
    }

    /// Lets the first claim through: the queued ones follow, together.
    async fn release(self) -> (provincial::Store, Result<archive::Claim, ArchiveError>) {
        self.holder.batch_execute("ROLLBACK").await.expect("release the row");
        (self.store, self.first.await.expect("first claim"))
    }

    /// Queues `claims` (station, request) in their order behind the first, lets the first
    /// through, and waits for the queued ones: the store, the first claim's answer and theirs.
    async fn batch(
        self,
        claims: &[(&str, archive::ClaimRequest)],
    ) -> (provincial::Store, Result<archive::Claim, ArchiveError>, Vec<Result<archive::Claim, ArchiveError>>)
    {
        let mut queued = Vec::new();
        for (station, q) in claims {
            queued.push(Blocked::queue(&self.store, station, q.clone()).await);
        }
        assert_eq!(self.store.claim_batches().waiting, claims.len(), "all queued behind the first");
        let (store, first) = self.release().await;
        let mut answers = Vec::new();
        for c in queued {
            answers.push(c.await.expect("claim task"));
        }
        (store, first, answers)
    }
}

/// Claims that queue while the connections are busy are decided in one batch (migrations 0014
/// and 0015), each as it would be alone: a replay and a reused request id, a deceased person,
/// one with a live card and one known without, beside new persons; each claim in the audit in
/// the batch's order, the numbers without a gap.
#[test]
fn claims_that_queue_together_are_decided_in_one_batch_each_as_alone() {
    let _one = one();
    let setup = Setup::start(&["st-a", "st-b"]);
    setup.runtime.block_on(async {
        let (dead, carded, known) = (fresh_ssn(), fresh_ssn(), fresh_ssn());
        let sql = setup.sql().await;
        sql.batch_execute(&format!(
            "INSERT INTO persons (ssn, name, deceased_at) VALUES ('{dead}', 'd', now());
             INSERT INTO persons (ssn, name) VALUES ('{carded}', 'c'), ('{known}', 'k');
             INSERT INTO cards (card_number, ssn, status, station) VALUES ('G00000001', '{carded}', 'active', 'st-x');"
        ))
        .await
        .expect("persons");
        let earlier = claim_request(&fresh_ssn(), None);
        let before = setup.store.claim("st-a", &earlier).await.expect("a claim alone");

        let blocked = Blocked::on(&setup, &fresh_ssn()).await;
        let reused = archive::ClaimRequest { request_id: earlier.request_id.clone(), ..claim_request(&fresh_ssn(), None) };
        let queued = [
            ("st-a", claim_request(&fresh_ssn(), None)),
            ("st-a", earlier.clone()),
            ("st-a", reused),
            ("st-b", claim_request(&dead, None)),
            ("st-b", claim_request(&carded, None)),
            ("st-a", claim_request(&fresh_ssn(), None)),
            ("st-b", claim_request(&known, None)),
        ];
        let (store, first, answers) = blocked.batch(&queued).await;
        first.expect("the first claim");
        assert_eq!(
            store.claim_batches(),
            provincial::ClaimBatches { waiting: 0, batches: 1, claims: queued.len() as u64, one_by_one: 0 },
            "one batch: {answers:?}"
        );
        let got = answers[0].as_ref().expect("a new person");
        assert_eq!((got.station.as_str(), got.ssn.as_str()), ("st-a", queued[0].1.ssn.as_str()));
        assert_eq!(answers[1].as_ref().expect("replayed").claim_id, before.claim_id, "the stored answer");
        assert!(matches!(answers[2], Err(ArchiveError::Refused(Refusal::RequestIdReused { .. }))), "{:?}", answers[2]);
        assert!(matches!(answers[3], Err(ArchiveError::Refused(Refusal::Deceased))), "{:?}", answers[3]);
        assert!(
            matches!(&answers[4], Err(ArchiveError::Refused(Refusal::LiveCard { card_number })) if card_number == "G00000001"),
            "{:?}",
            answers[4]
        );
        let new = answers[5].as_ref().expect("another new person");
        assert_ne!(new.card_number, got.card_number);
        assert!(new.claim_id > got.claim_id, "claims made in the batch's order");
        let claimed = answers[6].as_ref().expect("a person known, without a card");
        assert_eq!((claimed.station.as_str(), claimed.ssn.as_str()), ("st-b", known.as_str()));

        let outcomes = |station: &'static str| {
            let store = store.clone();
            async move {
                let audit = store.audit_of(station).await.expect("audit");
                audit.into_iter().filter(|r| r.0 == "claim").map(|r| r.2).collect::<Vec<String>>()
            }
        };
        assert_eq!(
            outcomes("st-a").await,
            ["ok", "ok", "ok", "replayed", "refused:request-id-reused", "ok"],
            "st-a: the claim alone, the blocked one, then the batch's in its order"
        );
        assert_eq!(outcomes("st-b").await, ["refused:deceased", "refused:live-card", "ok"]);
        let gaps = sql.query("SELECT * FROM card_number_gaps('B')", &[]).await.expect("gaps");
        assert!(gaps.is_empty(), "{} numbers lost", gaps.len());
    });
}

/// A batch that fails is decided again one claim at a time. Here it fails twice over: the
/// same request twice (a station that timed out and sent it again while both waited), whose
/// second request row breaks the requests' key, and two stations claiming one person at the
/// same moment, whose second live claim the batch refuses to make (without naming the person:
/// no ID number in PostgreSQL's log). Its claims then get what they get alone: the claim and
/// its replay, the first station's claim and the second's refusal, and the claim beside them.
#[test]
fn a_batch_that_fails_is_decided_one_by_one() {
    let _one = one();
    let setup = Setup::start(&["st-a", "st-b"]);
    setup.runtime.block_on(async {
        let blocked = Blocked::on(&setup, &fresh_ssn()).await;
        let (q, other, twice) = (claim_request(&fresh_ssn(), None), claim_request(&fresh_ssn(), None), fresh_ssn());
        let queued = [
            ("st-a", q.clone()),
            ("st-a", q.clone()),
            ("st-a", claim_request(&twice, None)),
            ("st-b", claim_request(&twice, None)),
            ("st-a", other.clone()),
        ];
        let (store, first, answers) = blocked.batch(&queued).await;
        first.expect("the first claim");
        assert_eq!(
            store.claim_batches(),
            provincial::ClaimBatches { waiting: 0, batches: 1, claims: 5, one_by_one: 1 },
            "{answers:?}"
        );
        let claimed = |i: usize| answers[i].as_ref().expect("claimed");
        assert_eq!(claimed(0).claim_id, claimed(1).claim_id, "the request sent twice: one claim, replayed");
        assert_eq!((claimed(2).station.as_str(), claimed(2).ssn.as_str()), ("st-a", twice.as_str()));
        assert!(
            matches!(&answers[3], Err(ArchiveError::Refused(Refusal::AlreadyClaimed { station, .. })) if station == "st-a"),
            "the second station is refused: {:?}",
            answers[3]
        );
        assert_eq!(claimed(4).ssn, other.ssn);
        let outcomes = |station: &'static str| {
            let store = store.clone();
            async move {
                let audit = store.audit_of(station).await.expect("audit");
                audit.into_iter().map(|r| r.2).collect::<Vec<String>>()
            }
        };
        assert_eq!(outcomes("st-a").await, ["ok", "ok", "replayed", "ok", "ok"], "the failed batch left nothing");
        assert_eq!(outcomes("st-b").await, ["refused:already-claimed"]);
        let log = std::fs::read_to_string(setup.dir.path().join("pg/postgres.log")).expect("PostgreSQL's log");
        assert!(log.contains("claim_persons"), "the failed batch is in the log");
        for (_, q) in &queued {
            assert!(!log.contains(&q.ssn), "an ID number in PostgreSQL's log");
        }
    });
}

/// A batch takes the prefix's last numbers in its order (migration 0015): the claims before
/// them get the numbers left, one after the other, and the last is refused, its numbers
/// exhausted, as each would be alone.
#[test]
fn a_batch_takes_the_last_numbers_in_its_order() {
    let _one = one();
    let setup = Setup::start(&["st-a"]);
    setup.runtime.block_on(async {
        setup
            .sql()
            .await
            .batch_execute("INSERT INTO card_number_counter (prefix, next) VALUES ('B', 9999997)")
            .await
            .expect("counter");
        let blocked = Blocked::on(&setup, &fresh_ssn()).await;
        let queued: Vec<_> = (0..3).map(|_| ("st-a", claim_request(&fresh_ssn(), None))).collect();
        let (store, first, answers) = blocked.batch(&queued).await;
        assert_eq!(Some(first.expect("the first claim").card_number), archive::card_number('B', 9_999_997));
        assert_eq!(
            store.claim_batches(),
            provincial::ClaimBatches { waiting: 0, batches: 1, claims: 3, one_by_one: 0 },
            "{answers:?}"
        );
        let numbers: Vec<Option<String>> =
            answers[..2].iter().map(|a| Some(a.as_ref().expect("a number left").card_number.clone())).collect();
        assert_eq!(numbers, [archive::card_number('B', 9_999_998), archive::card_number('B', 9_999_999)]);
        assert!(
            matches!(&answers[2], Err(ArchiveError::Refused(Refusal::NumbersExhausted { prefix })) if prefix == "B"),
            "{:?}",
            answers[2]
        );
        let audit = store.audit_of("st-a").await.expect("audit");
        let outcomes: Vec<&str> = audit.iter().map(|r| r.2.as_str()).collect();
        assert_eq!(outcomes, ["ok", "ok", "ok", "refused:numbers-exhausted"]);
    });
}

/// A station that gives up waiting (its connection closed, the service's handler dropped)
/// cancels nobody's claim, its own included: the batch decides it, and the station's retry
/// with the same request id gets the stored answer.
#[test]
fn a_claim_whose_caller_went_away_is_decided_and_its_retry_replays_it() {
    let _one = one();
    let setup = Setup::start(&["st-a"]);
    setup.runtime.block_on(async {
        let blocked = Blocked::on(&setup, &fresh_ssn()).await;
        let (gone, other) = (claim_request(&fresh_ssn(), None), claim_request(&fresh_ssn(), None));
        let gone_caller = Blocked::queue(&blocked.store, "st-a", gone.clone()).await;
        let other_caller = Blocked::queue(&blocked.store, "st-a", other).await;
        gone_caller.abort();
        assert!(gone_caller.await.expect_err("the caller went away").is_cancelled());
        let (store, first) = blocked.release().await;
        first.expect("the first claim");
        let decided = other_caller.await.expect("claim task").expect("the other claim");
        assert_eq!(store.claim_batches().claims, 2, "both decided in one batch");
        let retried = store.claim("st-a", &gone).await.expect("the retry");
        assert_ne!(retried.card_number, decided.card_number);
        let audit = store.audit_of("st-a").await.expect("audit");
        let of_gone: Vec<&str> = audit
            .iter()
            .filter(|r| r.1.as_deref() == Some(gone.request_id.as_str()))
            .map(|r| r.2.as_str())
            .collect();
        assert_eq!(of_gone, ["ok", "replayed"], "decided without its caller, then replayed");
    });
}

/// A province numbered by its counter until now (migrations up to 0012, claims made and one
/// released) upgraded to numbering by block (0013) at a service's start: the released number
/// goes out first, then the counter's next and the block after it; no gap, before or after.
#[test]
fn a_province_numbered_by_its_counter_goes_on_by_block_without_gaps() {
    let _one = one();
    let dir = tempfile::tempdir().expect("tmp");
    let cluster = provincial::cluster::Cluster::start(
        &dir.path().join("pg"),
        common::free_port(),
        provincial::cluster::Durability::TestsOnly,
    )
    .expect("PostgreSQL starts (scripts/install-deps)");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let number = |n: u32| archive::card_number('B', n).expect("number");
    runtime.block_on(async {
        let (client, conn) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        // The schema as a service before 0013 left it.
        for sql in provincial::Store::schema_until(12) {
            client.batch_execute(sql).await.expect("migration");
        }
        client
            .batch_execute(
                "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
                 INSERT INTO schema_version (version) SELECT generate_series(3, 12);",
            )
            .await
            .expect("versions");
        // Three claims numbered by the counter; the second released, its number free again.
        for i in 1..=3 {
            let ssn = fresh_ssn();
            let q = format!(
                "SELECT claim_person('st-a', 'old-{i}', '', '{{}}'::jsonb, '{ssn}', 'n', NULL, 600, 'B')"
            );
            client.batch_execute(&q).await.expect("claim under 0012");
        }
        client
            .batch_execute(&format!(
                "UPDATE claims SET state = 'released' WHERE card_number = '{0}';
                 INSERT INTO free_card_numbers VALUES ('{0}');",
                number(2)
            ))
            .await
            .expect("release");

        let store = provincial::Store::connect(&cluster.url(), 'B', 1).await.expect("the upgrade");
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(store.claim("st-a", &claim_request(&fresh_ssn(), None)).await.expect("claim").card_number);
        }
        assert_eq!(got, [number(2), number(4), number(5)], "the free number, then the counter's next and its block");
        let gaps = client.query("SELECT * FROM card_number_gaps('B')", &[]).await.expect("gaps");
        assert!(gaps.is_empty(), "{} numbers lost", gaps.len());
    });
}

/// The next card number of prefix B on connection `c`.
async fn take(c: &tokio_postgres::Client) -> String {
    c.query_one("SELECT allocate_card_number('B')", &[]).await.expect("allocate").get(0)
}

/// Card numbers come from a block per connection (migration 0013): connections at once take
/// numbers from their own blocks; a claim rolled back puts its number back; a connection that
/// ends leaves its block to the next one to take its slot; never a gap.
#[test]
fn card_numbers_come_from_a_block_per_connection_without_gaps() {
    let _one = one();
    let setup = Setup::start(&["st-a"]);
    setup.runtime.block_on(async {
        let connect = || async {
            let (client, conn) =
                tokio_postgres::connect(&setup.cluster.url(), tokio_postgres::NoTls).await.expect("connect");
            let task = tokio::spawn(conn);
            (client, task)
        };
        let number = |n: u32| archive::card_number('B', n).expect("number");
        let (mut first, first_task) = connect().await;
        let (mut second, _second_task) = connect().await;
        // One connection alone: 1, 2, 3 ...
        assert_eq!(take(&first).await, number(1));
        assert_eq!(take(&first).await, number(2));
        // Another at once: its own block, after the first one's 128 numbers.
        assert_eq!(take(&second).await, number(129));
        // Rolled back: the number goes back to the block.
        let tx = first.transaction().await.expect("begin");
        let rolled_back = tx.query_one("SELECT allocate_card_number('B')", &[]).await.expect("allocate");
        assert_eq!(rolled_back.get::<_, String>(0), number(3));
        tx.rollback().await.expect("rollback");
        assert_eq!(take(&first).await, number(3));
        // Both in open transactions at once: neither waits for the other.
        let (ta, tb) =
            (first.transaction().await.expect("begin"), second.transaction().await.expect("begin"));
        let (a, b) = tokio::join!(
            ta.query_one("SELECT allocate_card_number('B')", &[]),
            tb.query_one("SELECT allocate_card_number('B')", &[])
        );
        assert_eq!(
            (a.expect("a").get::<_, String>(0), b.expect("b").get::<_, String>(0)),
            (number(4), number(130))
        );
        ta.commit().await.expect("commit");
        tb.commit().await.expect("commit");
        // The first connection ends; the next connection takes its slot and block.
        drop(first);
        first_task.await.expect("connection task").expect("connection closed");
        // Its backend may still be leaving: its slot's lock goes with it.
        let slot_held =
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 5420 AND objid = 0";
        for _ in 0..250 {
            if second.query_one(slot_held, &[]).await.expect("locks").get::<_, i64>(0) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (third, _third_task) = connect().await;
        let got = take(&third).await;
        assert_eq!(got, number(5), "the next connection carries on the ended one's block");
        let gaps = third.query("SELECT * FROM card_number_gaps('B')", &[]).await.expect("gaps");
        let gaps: Vec<String> = gaps.iter().map(|r| r.get(0)).collect();
        // Numbers handed out here went to no claim: they are what the gap check finds, and only them.
        let handed: Vec<String> = [1, 2, 3, 4, 129, 130].into_iter().map(number).chain([got]).collect();
        let mut expected = handed.clone();
        expected.sort();
        let mut found = gaps.clone();
        found.sort();
        assert_eq!(found, expected, "the numbers handed out without claims, and no other");

        // The counter run out and the second connection's block used up: it takes what is left
        // in the other's block, and only then is the prefix exhausted.
        third
            .batch_execute(
                "UPDATE card_number_counter SET next = 10000000;
                 UPDATE card_number_blocks SET next = last + 1 WHERE slot = 1",
            )
            .await
            .expect("run out");
        assert_eq!(take(&second).await, number(6), "the first slot's block, still there");
        third.batch_execute("UPDATE card_number_blocks SET next = last + 1").await.expect("used up");
        let exhausted = second.query_one("SELECT allocate_card_number('B')", &[]).await.expect("allocate");
        assert_eq!(exhausted.get::<_, Option<String>>(0), None, "no number left anywhere");
    });
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

/// RULE 10 against a hostile station with a valid certificate: it reuses another station's
/// request ids and bodies, acts on its claims, cards and kit, and every attempt gets its own
/// answer or a refusal, never the other station's data; the province's audit table keeps who
/// asked for what; once revoked, its certificate is refused.
#[test]
fn a_hostile_station_gets_nothing_of_another_and_is_audited_then_revoked() {
    use archive::kit::{CheckoutRequest, KitEvent, KitRecord, VisitRequest};
    use archive::{CardEnd, ReleaseRequest, RenewRequest, StopRequest};
    let _one = one();
    let setup = Setup::start(&["st-a", "st-b"]);
    let (a, b) = (setup.client("st-a"), setup.client("st-b"));

    // The same request id and the very same body: b gets b's own answer (the person is a's).
    let first = claim_request(&fresh_ssn(), None);
    let claim = a.claim(&first).expect("a's claim");
    match b.claim(&first) {
        Err(ArchiveError::Refused(Refusal::AlreadyClaimed { station, .. })) => assert_eq!(station, "st-a"),
        other => panic!("b must not get a's stored answer: {other:?}"),
    }
    // a's claim is a's alone: b cannot commit, renew or release it.
    let refused = |r: Result<(), ArchiveError>, what: &str| match r {
        Err(ArchiveError::Refused(Refusal::ClaimNotLive { state, .. })) => {
            assert!(state.contains("st-a"), "{what}: {state}")
        }
        other => panic!("{what}: {other:?}"),
    };
    refused(b.commit(&archive::conformance::commit_request(claim.claim_id)).map(drop), "commit");
    refused(
        b.renew(&RenewRequest {
            request_id: request_id("renew"),
            claim_id: claim.claim_id,
            lease_seconds: 600,
        })
        .map(drop),
        "renew",
    );
    refused(
        b.release(&ReleaseRequest {
            request_id: request_id("release"),
            claim_id: claim.claim_id,
            reason: "hostile".into(),
            card: archive::CardFate::NotMade,
        }),
        "release",
    );
    let card = a.commit(&archive::conformance::commit_request(claim.claim_id)).expect("a's card");
    for end in [CardEnd::Stopped, CardEnd::Recalled] {
        let stop =
            StopRequest { for_holder: None, ..archive::conformance::stop_request(&card.card_number, end) };
        assert!(matches!(b.stop_card(&stop), Err(ArchiveError::Refused(Refusal::NotYourCard { .. }))));
    }

    // a's kit: b neither sees nor settles its conflicts, nor writes into its lease.
    let kit = setup.kit_client("kit-a1", "st-a");
    let dead = fresh_ssn();
    let out = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![VisitRequest { ssn: dead.clone(), name: "测试".into(), premade_card: None }],
            lease_seconds: 3600,
            record_key: Some(archive::conformance::KitKey::ours().public_hex()),
        })
        .expect("checkout");
    a.mark_deceased(&archive::conformance::deceased_request(&dead, "sup-a")).expect("deceased");
    let record = archive::conformance::KitKey::ours().sign(KitRecord {
        record_id: request_id("kit-a1-rec"),
        lease_id: out.lease_id,
        seq: 1,
        event: KitEvent::Made {
            ssn: dead.clone(),
            claim_id: out.visits[0].claim_id,
            card_id: "110100D15600000500BF7C7A48FB4966".into(),
            atr: "3B00".into(),
        },
        signature: None,
    });
    // The same record signed by another key (a store re-sealed with the passphrase alone):
    // refused over HTTPS with its reason, nothing applied, the refusal in the audit.
    let forged = archive::conformance::KitKey::new(5).sign(KitRecord { signature: None, ..record.clone() });
    match kit.sync_record(&forged) {
        Err(ArchiveError::Refused(Refusal::RecordNotSigned { record_id, .. })) => {
            assert_eq!(record_id, record.record_id)
        }
        other => panic!("{other:?}"),
    }
    kit.sync_record(&record).expect("sync");
    assert!(b.sync_record(&record).is_err(), "b replays the kit's record: refused");
    assert!(a.kit_conflicts().expect("a's").iter().any(|c| c.record_id == record.record_id));
    assert!(b.kit_conflicts().expect("b's").is_empty(), "b sees none of a's kit's conflicts");
    let settle = archive::kit::ResolveRequest {
        record_id: record.record_id.clone(),
        resolved_by: "sup-b".into(),
        note: "nothing to see".into(),
    };
    assert!(matches!(
        b.resolve_kit_conflict(&settle),
        Err(ArchiveError::Refused(Refusal::NotYourKit { .. }))
    ));

    // Who asked for what, at the province.
    let audit = setup.runtime.block_on(setup.store.audit_of("st-b")).expect("audit");
    let ops: Vec<(&str, &str)> =
        audit.iter().map(|(op, _, outcome)| (op.as_str(), outcome.as_str())).collect();
    for expected in [
        ("claim", "refused:already-claimed"),
        ("commit", "refused:claim-not-live"),
        ("renew", "refused:claim-not-live"),
        ("release", "refused:claim-not-live"),
        ("stop", "refused:not-your-card"),
        ("kit-conflicts", "ok"),
        ("kit-resolve", "refused:not-your-kit"),
    ] {
        assert!(ops.contains(&expected), "{expected:?} in {ops:?}");
    }
    assert!(
        audit.iter().any(|(op, id, _)| op == "claim" && id.as_deref() == Some(first.request_id.as_str())),
        "b's use of a's request id is b's own row"
    );
    let kit_audit = setup.runtime.block_on(setup.store.audit_of("kit-a1")).expect("audit");
    let kit_rows: Vec<&str> = kit_audit
        .iter()
        .filter(|(op, id, _)| op == "kit-record" && id.as_deref() == Some(record.record_id.as_str()))
        .map(|(_, _, outcome)| outcome.as_str())
        .collect();
    assert_eq!(kit_rows, ["refused:record-not-signed", "conflict"], "{kit_audit:?}");
    let a_audit = setup.runtime.block_on(setup.store.audit_of("st-a")).expect("audit");
    assert!(a_audit.iter().any(|(op, _, outcome)| op == "deceased" && outcome == "ok"), "{a_audit:?}");

    // Revoked: the next connection is refused; a is still served.
    provincial::pki::revoke(&setup.pki, "st-b").expect("revoke");
    let again = setup.client("st-b");
    assert!(matches!(again.lookup(&fresh_ssn()), Err(ArchiveError::Unavailable(_))));
    assert!(setup.client("st-a").lookup(&fresh_ssn()).is_ok());
}

#[test]
fn a_restore_over_https_is_in_the_provinces_audit_with_its_replay_and_another_stations_refusal() {
    let _one = one();
    let setup = Setup::start(&["st-a", "st-b"]);
    let (a, b) = (setup.client("st-a"), setup.client("st-b"));
    let ssn = fresh_ssn();
    let first = a.claim(&claim_request(&ssn, None)).expect("claim");
    let old = a.commit(&archive::conformance::commit_request(first.claim_id)).expect("commit").card_number;
    let claim = a.claim(&claim_request(&ssn, Some(&old))).expect("re-issue claim");
    a.stop_card(&archive::conformance::replacement_stop(&old)).expect("stopped for the re-issue");
    let q = archive::conformance::restore_request(claim.claim_id, &old);
    let refused = b.restore_card(&q).expect_err("another station's claim");
    assert!(matches!(refused, ArchiveError::Refused(Refusal::ClaimNotLive { .. })), "{refused}");
    assert_eq!(a.restore_card(&q).expect("restore").status, CardStatus::Made);
    assert_eq!(a.restore_card(&q).expect("replay").status, CardStatus::Made);
    let person = a.lookup(&ssn).expect("lookup");
    assert_eq!(person.live_card().map(|c| c.card_number.clone()), Some(old));
    assert!(person.live_claim.is_none());
    let audit = |station: &str| -> Vec<String> {
        let rows = setup.runtime.block_on(setup.store.audit_of(station)).expect("audit");
        rows.into_iter().filter(|r| r.0 == "restore").map(|r| r.2).collect()
    };
    assert_eq!(audit("st-a"), ["ok", "replayed"]);
    assert_eq!(audit("st-b"), ["refused:claim-not-live"]);
}

/// PostgreSQL numbers the claims itself (migration 0012): its check characters are the ones
/// the station checks (`archive::card_number`, after `applicant::CardNumber`), and past the
/// prefix's last number a claim is refused as exhausted, the refusal replayed and audited.
#[test]
fn the_provinces_card_numbers_are_the_ones_the_station_checks_until_they_run_out() {
    let _one = one();
    let setup = Setup::start(&["st-a"]);
    let rows = setup.query(
        "SELECT p, n, card_number_of(p, n) FROM unnest(ARRAY['A', 'B', 'K', 'Z', 'b', '1']) AS p,
             (SELECT generate_series(0, 9999999, 7919)::bigint UNION VALUES (1), (9999999), (10000000), (-1)) AS ns (n)",
    );
    assert!(rows.len() > 7000, "{} numbers compared", rows.len());
    for r in &rows {
        let (p, n, numbered): (String, i64, Option<String>) = (r.get(0), r.get(1), r.get(2));
        let prefix = p.chars().next().expect("prefix");
        let checked = u32::try_from(n).ok().and_then(|n| archive::card_number(prefix, n));
        assert_eq!(numbered, checked, "prefix {p}, number {n}");
    }

    let a = setup.client("st-a");
    setup.query("INSERT INTO card_number_counter (prefix, next) VALUES ('B', 9999999)");
    let last = a.claim(&claim_request(&fresh_ssn(), None)).expect("the last number");
    assert_eq!(Some(last.card_number), archive::card_number('B', 9_999_999));
    let q = claim_request(&fresh_ssn(), None);
    for _ in 0..2 {
        let e = a.claim(&q).expect_err("no number left");
        assert!(
            matches!(&e, ArchiveError::Refused(Refusal::NumbersExhausted { prefix }) if prefix == "B"),
            "{e}"
        );
    }
    let audit = setup.runtime.block_on(setup.store.audit_of("st-a")).expect("audit");
    let outcomes: Vec<&str> = audit.iter().filter(|r| r.0 == "claim").map(|r| r.2.as_str()).collect();
    assert_eq!(outcomes, ["ok", "refused:numbers-exhausted", "replayed"]);
}
