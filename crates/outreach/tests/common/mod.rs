//! What the kit tests share: people with batch cards, a visit list, the two-kits-and-a-counter
//! day, and the sync-until-done loop over a killed child process.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use archive::conformance::{claim_request, fresh_ssn, request_id};
use archive::kit::{RecordOutcome, VisitRequest};
use archive::{CommitRequest, DeceasedRequest, ProvincialArchive, Refusal, StopRequest};
use issuance::lifecycle::{ActivationEvidence, Channel};
use outreach::{Kit, KitError};

pub const PASSWORD: &str = "the operator's password";

/// This test process's SoftHSM2 token, standing for the kits' USB tokens (one per process: a
/// PKCS#11 module reads its configuration once), made on first use under the target's
/// scratch directory.
pub fn token() -> &'static keystore::Keystore {
    static TOKEN: std::sync::OnceLock<keystore::Keystore> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kit-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("token directory");
        let config = keystore::softhsm2_token(&dir, "kit-tests", "24680")
            .expect("a SoftHSM2 token (scripts/install-deps)");
        keystore::Keystore::open(&config).expect("the token")
    })
}

/// The record-signing key `label` in the token (made on first use).
pub fn record_key(label: &str) -> keystore::RecordKey {
    match keystore::RecordKey::open(token(), label) {
        Ok(key) => key,
        Err(keystore::Error::NoKey(_)) => {
            token().generate_record_key(label).expect("generate");
            keystore::RecordKey::open(token(), label).expect("the key just made")
        }
        Err(e) => panic!("{e}"),
    }
}

/// `kit` signing its records with its own key in the token (labelled with its id).
pub fn signed(mut kit: Kit) -> Kit {
    let key = record_key(kit.kit_id());
    kit.use_record_key(key);
    kit
}

/// A person with a batch card in stock, made by `counter`.
pub fn premade(counter: &dyn ProvincialArchive) -> (String, String) {
    let ssn = fresh_ssn();
    let claim = counter.claim(&claim_request(&ssn, None)).expect("claim");
    let card = counter.commit(&commit(claim.claim_id)).expect("commit");
    (ssn, card.card_number)
}

pub fn commit(claim_id: i64) -> CommitRequest {
    CommitRequest {
        request_id: request_id("commit"),
        claim_id,
        card_id: format!("110100D156000005{claim_id:016X}"),
        atr: "3B8E0180730000C05800BF7C7A48FB4966C1".into(),
    }
}

pub fn visit(ssn: &str, premade_card: Option<&str>) -> VisitRequest {
    VisitRequest { ssn: ssn.into(), name: "上门".into(), premade_card: premade_card.map(str::to_string) }
}

/// What the operator attests at a face-to-face activation (the photo is taken by the kit).
pub fn face_to_face() -> ActivationEvidence {
    ActivationEvidence { channel: Channel::Counter, holder_present: true, id_checked: true, photo_sm3: None }
}

/// The holder as the receiver of their card, their ID document checked (RULE 4).
pub fn holder(ssn: &str) -> issuance::Receiver {
    issuance::Receiver::Holder { id_number: ssn.to_string() }
}

/// A made-up signature or photo image, different per call.
pub fn image(tag: &str) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(format!("{tag}-{}", request_id("img")).as_bytes());
    v
}

fn expect_not_claimed(e: KitError, why: &str) {
    match e {
        KitError::NotClaimed { reason } => assert!(reason.contains(why), "{reason}"),
        other => panic!("expected a refusal for a person not claimed, got {other}"),
    }
}

/// FLOW B's home visits on one day: two kits and a counter on overlapping people, offline;
/// afterwards no one holds two live cards and every record has its result.
pub fn two_kits_and_a_counter(open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>, dir: &Path) {
    let counter = open("counter-1");
    let p: Vec<String> = (0..12).map(|_| fresh_ssn()).collect();
    let mut batch = std::collections::BTreeMap::new();
    for i in [0, 1, 6, 7] {
        let (ssn, card) = premade(counter.as_ref());
        batch.insert(i, (ssn, card));
    }
    let person = |i: usize| batch.get(&i).map(|b| b.0.clone()).unwrap_or_else(|| p[i].clone());
    let card_of = |i: usize| batch.get(&i).map(|b| b.1.clone());
    let list =
        |ids: &[usize]| ids.iter().map(|&i| visit(&person(i), card_of(i).as_deref())).collect::<Vec<_>>();

    let a_arch = open("kit-a");
    let b_arch = open("kit-b");
    let mut a = signed(Kit::create(&dir.join("kit-a.db"), "kit-a", "op-a", PASSWORD).expect("kit a"));
    let mut b = signed(Kit::create(&dir.join("kit-b.db"), "kit-b", "op-b", PASSWORD).expect("kit b"));
    let out_a = a
        .checkout(a_arch.as_ref(), list(&[0, 1, 2, 3, 4, 5]), 3 * 24 * 3600, 48 * 3600)
        .expect("checkout a")
        .clone();
    assert_eq!(out_a.visits.len(), 6, "{:?}", out_a.refused);
    let out_b = b
        .checkout(b_arch.as_ref(), list(&[4, 5, 6, 7, 8, 9]), 3 * 24 * 3600, 48 * 3600)
        .expect("checkout b")
        .clone();
    let refused: Vec<&str> = out_b.refused.iter().map(|r| r.ssn.as_str()).collect();
    assert_eq!(refused, [person(4), person(5)], "kit b cannot claim people kit a holds");
    assert!(out_b
        .refused
        .iter()
        .all(|r| matches!(&r.refusal, Refusal::AlreadyClaimed { station, .. } if station == "kit-a")));
    let reserved = |out: &archive::kit::Checkout, i: usize| {
        out.visits.iter().find(|v| v.ssn == person(i)).map(|v| v.card_number.clone()).expect("leased")
    };

    // The counter, online, while the kits are out.
    for i in [2, 8] {
        match counter.claim(&claim_request(&person(i), None)) {
            Err(archive::ArchiveError::Refused(Refusal::AlreadyClaimed { station, .. })) => {
                assert!(station.starts_with("kit-"), "{station}")
            }
            other => panic!("the counter claimed a leased person: {other:?}"),
        }
    }
    let c10 = counter.claim(&claim_request(&person(10), None)).expect("counter claim");
    let counter_card = counter.commit(&commit(c10.claim_id)).expect("counter card");
    counter
        .mark_deceased(&DeceasedRequest {
            request_id: request_id("deceased"),
            ssn: person(3),
            evidence: "死亡医学证明 No. 0001".into(),
            supervisor: "sup-1".into(),
        })
        .expect("deceased");
    let stop = StopRequest {
        request_id: request_id("stop"),
        card_number: card_of(7).expect("batch"),
        reason: "reported lost".into(),
        end: archive::CardEnd::Stopped,
        for_holder: None,
    };
    counter.stop_card(&stop).expect("stop");

    // Kit A, offline.
    let c0 = card_of(0).expect("batch");
    a.hand_over(&person(0), &c0, "本人", Some(&image("sig")), None, Some(&holder(&person(0))))
        .expect("hand over pre-made");
    a.activate(&person(0), &c0, &face_to_face(), &image("photo")).expect("activate");
    a.hand_over(
        &person(1),
        &card_of(1).expect("batch"),
        "",
        None,
        Some("nobody at home"),
        Some(&holder(&person(1))),
    )
    .expect("failure recorded");
    let n2 = a.make_card(&person(2), "110100D15600000500BF7C7A48FB0002", "3B00").expect("make");
    assert_eq!(n2, reserved(&out_a, 2), "the reserved number");
    a.hand_over(&person(2), &n2, "本人", Some(&image("sig")), None, Some(&holder(&person(2))))
        .expect("hand over");
    a.activate(&person(2), &n2, &face_to_face(), &image("photo")).expect("activate");
    let n3 = a
        .make_card(&person(3), "110100D15600000500BF7C7A48FB0003", "3B00")
        .expect("make (the death is not known offline)");
    a.hand_over(&person(3), &n3, "本人", Some(&image("sig")), None, Some(&holder(&person(3))))
        .expect("hand over");
    a.visit_failed(&person(4), "in hospital").expect("failure");
    expect_not_claimed(
        a.make_card(&person(8), "110100D15600000500BF7C7A48FB0008", "3B00").expect_err("kit b's"),
        "not on the visit list",
    );
    expect_not_claimed(a.visit_failed(&person(10), "x").expect_err("not leased"), "not on the visit list");

    // Kit B, offline.
    expect_not_claimed(
        b.make_card(&person(4), "110100D15600000500BF7C7A48FB1004", "3B00").expect_err("a's"),
        "claimed by station kit-a",
    );
    b.hand_over(
        &person(6),
        &card_of(6).expect("batch"),
        "本人",
        Some(&image("sig")),
        None,
        Some(&holder(&person(6))),
    )
    .expect("hand over");
    b.hand_over(
        &person(7),
        &card_of(7).expect("batch"),
        "本人",
        Some(&image("sig")),
        None,
        Some(&holder(&person(7))),
    )
    .expect("hand over (stopped meanwhile)");
    let n8 = b.make_card(&person(8), "110100D15600000500BF7C7A48FB1008", "3B00").expect("make");
    b.hand_over(&person(8), &n8, "本人", Some(&image("sig")), None, Some(&holder(&person(8))))
        .expect("hand over");

    // Both back online.
    let ra = outreach::sync(&mut a, a_arch.as_ref()).expect("sync a");
    let rb = outreach::sync(&mut b, b_arch.as_ref()).expect("sync b");
    assert_eq!(
        (ra.sent, ra.records, rb.sent, rb.records),
        (a.outbox().len(), a.outbox().len(), b.outbox().len(), b.outbox().len())
    );
    for kit in [&a, &b] {
        for (i, o) in kit.outbox().iter().enumerate() {
            assert_eq!(o.record.seq, i as i64 + 1, "in order");
            let r = o.result.as_ref().expect("every record has its result");
            assert_eq!(r.record_id, o.record.record_id);
        }
    }
    let conflicts_a: Vec<&str> = ra.conflicts.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        conflicts_a.len(),
        2,
        "the card made for the deceased person and its hand-over: {conflicts_a:?}"
    );
    assert!(conflicts_a.iter().all(|r| r.contains("deceased")), "{conflicts_a:?}");
    assert_eq!(rb.conflicts.len(), 1, "{:?}", rb.conflicts);
    assert!(rb.conflicts[0].1.contains("stopped"), "{:?}", rb.conflicts);
    let supervisor = counter.kit_conflicts().expect("conflicts");
    let listed: BTreeSet<(String, String)> = supervisor
        .iter()
        .filter(|c| c.lease_id == out_a.lease_id || c.lease_id == out_b.lease_id)
        .map(|c| (c.kit.clone(), c.ssn.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> =
        [("kit-a".to_string(), person(3)), ("kit-b".to_string(), person(7))].into();
    assert_eq!(listed, expected, "the supervisor sees both");

    assert_eq!(ra.checkin.not_seen, [person(5)]);
    assert_eq!(ra.checkin.back_to_stock, [card_of(1).expect("batch")]);
    let mut unused_a: Vec<String> = [0, 1, 4, 5].iter().map(|&i| reserved(&out_a, i)).collect();
    unused_a.sort();
    assert_eq!(ra.checkin.returned_numbers, unused_a);
    assert_eq!(rb.checkin.not_seen, [person(9)]);
    assert!(rb.checkin.back_to_stock.is_empty());

    // No one holds two live cards; every card number appears once.
    let mut numbers = BTreeSet::new();
    for i in 0..12 {
        let cards = counter.lookup(&person(i)).expect("lookup").cards;
        let live = cards.iter().filter(|c| c.status.is_live()).count();
        assert!(live <= 1, "person {i} holds {live} live cards");
        for c in &cards {
            assert!(numbers.insert(c.card_number.clone()), "card number {} twice", c.card_number);
        }
    }
    let status = |i: usize| {
        counter.lookup(&person(i)).expect("lookup").cards.iter().map(|c| c.status).collect::<Vec<_>>()
    };
    use archive::CardStatus::*;
    assert_eq!(status(0), [Active]);
    assert_eq!(status(1), [Made], "back in stock");
    assert_eq!(status(2), [Active]);
    assert_eq!(status(3), [Cancelled], "the offline card of the deceased is on record, not live");
    assert_eq!(status(6), [Issued]);
    assert_eq!(status(7), [Stopped]);
    assert_eq!(status(8), [Issued]);
    assert_eq!(
        counter.lookup(&person(10)).expect("lookup").live_card().map(|c| c.card_number.clone()),
        Some(counter_card.card_number)
    );
    let applied = |k: &Kit| {
        k.outbox()
            .iter()
            .filter(|o| matches!(o.result.as_ref().map(|r| &r.outcome), Some(RecordOutcome::Applied { .. })))
            .count()
    };
    assert_eq!(applied(&a) + ra.conflicts.len(), a.outbox().len());
    assert_eq!(applied(&b) + rb.conflicts.len(), b.outbox().len());
    // Released: the people not served can be claimed again, at a counter or by the next kit.
    for i in [4, 5, 9] {
        counter.claim(&claim_request(&person(i), None)).expect("released");
    }
    // The kits can check out again.
    assert!(a.checkout(a_arch.as_ref(), list(&[11]), 3600, 3600).is_ok());
}

/// A kit store with `people` leased people and about three records each, ready to sync.
pub fn busy_kit(
    archive: &dyn ProvincialArchive,
    counter: &dyn ProvincialArchive,
    path: &Path,
    kit_id: &str,
    people: usize,
) -> Kit {
    let mut visits = Vec::new();
    for i in 0..people {
        if i % 3 == 0 {
            let (ssn, card) = premade(counter);
            visits.push(visit(&ssn, Some(&card)));
        } else {
            visits.push(visit(&fresh_ssn(), None));
        }
    }
    let mut kit = signed(Kit::create(path, kit_id, "op", PASSWORD).expect("kit"));
    let out = kit.checkout(archive, visits, 24 * 3600, 24 * 3600).expect("checkout").clone();
    assert!(out.refused.is_empty(), "{:?}", out.refused);
    for (i, v) in out.visits.iter().enumerate() {
        let card = match (&v.premade_card, i % 5) {
            (_, 4) => {
                kit.visit_failed(&v.ssn, "moved away").expect("failure");
                continue;
            }
            (Some(c), _) => c.clone(),
            (None, _) => kit.make_card(&v.ssn, &format!("110100D1560000{i:018X}"), "3B00").expect("make"),
        };
        kit.hand_over(&v.ssn, &card, "本人", Some(&image("sig")), None, Some(&holder(&v.ssn)))
            .expect("hand over");
        kit.activate(&v.ssn, &card, &face_to_face(), &image("photo")).expect("activate");
    }
    kit
}

/// Runs `outreach-sync` with `args` again and again, killing it (SIGKILL) after a random
/// delay from a window that widens run by run, until a run finishes on its own. `progress`
/// counts the records with a result. Returns (runs killed with some records done and some not,
/// runs that ended interrupted by the network).
pub fn sync_with_kills(
    args: &[String],
    rng: &mut fastrand::Rng,
    progress: &dyn Fn() -> usize,
    records: usize,
) -> (usize, usize) {
    let (mut killed_mid_sync, mut interrupted) = (0, 0);
    for run in 0..500u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outreach-sync"))
            .args(args)
            .env("OUTREACH_PASSWORD", PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("outreach-sync");
        let before = progress();
        let deadline = std::time::Instant::now() + Duration::from_millis(rng.u64(1..=40 + 15 * run));
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if std::time::Instant::now() >= deadline {
                child.kill().expect("kill -9");
                child.wait().expect("reap");
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        match status.map(|s| s.code()) {
            Some(Some(0)) => return (killed_mid_sync, interrupted),
            Some(Some(75)) => interrupted += 1,
            Some(other) => panic!("outreach-sync failed with status {other:?}"),
            None => {
                let after = progress();
                if after > before && after < records {
                    killed_mid_sync += 1;
                }
            }
        }
    }
    panic!("the sync never finished in 500 runs");
}

/// After an interrupted sync has finished: every record once, with a result, nothing twice.
pub fn every_record_once(kit: &Kit, archive: &dyn ProvincialArchive, records: usize) {
    assert_eq!(kit.outbox().len(), records);
    let lease = kit.lease().expect("lease");
    let checkin = lease.checkin.as_ref().expect("checked in");
    for o in kit.outbox() {
        let r = o.result.as_ref().expect("a result for every record");
        assert!(
            matches!(r.outcome, RecordOutcome::Applied { .. }),
            "record {} {:?}",
            o.record.seq,
            r.outcome
        );
        // A late duplicate changes nothing: it gets the stored result.
        if o.record.seq % 17 == 0 {
            assert_eq!(&archive.sync_record(&o.record).expect("duplicate"), r);
        }
    }
    for v in &lease.checkout.visits {
        let p = archive.lookup(&v.ssn).expect("lookup");
        let live: Vec<_> = p.cards.iter().filter(|c| c.status.is_live()).collect();
        assert!(live.len() <= 1);
        let failed = kit.visit_states()[&v.ssn].failures.len();
        if failed > 0 {
            assert_eq!(
                p.cards.len(),
                usize::from(v.premade_card.is_some()),
                "nothing made for a failed visit"
            );
        } else {
            assert_eq!(live.len(), 1);
            assert_eq!(live[0].status, archive::CardStatus::Active, "handed over and activated once each");
        }
    }
    let no_card_made =
        lease.checkout.visits.iter().filter(|v| kit.visit_states()[&v.ssn].made.is_none()).count();
    assert_eq!(checkin.released, no_card_made, "claims released where no card was made");
    assert_eq!(checkin.returned_numbers.len(), no_card_made, "their reserved numbers returned");
}
