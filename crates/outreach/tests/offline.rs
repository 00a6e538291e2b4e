//! The kit on the SQLite provincial archive (one machine serves): the offline rules, the store
//! at rest, the two-kits-and-a-counter day, and a sync killed at random points.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use archive::conformance::fresh_ssn;
use archive::kit::{self, VisitRequest};
use archive::{ArchiveError, ProvincialArchive, SqliteProvincial};
use common::*;
use issuance::lifecycle::{Channel, LifecycleError};
use outreach::{Kit, KitError};

fn sqlite(dir: &std::path::Path) -> impl Fn(&str) -> Box<dyn ProvincialArchive> + '_ {
    // Kits belong to the station "counter-1" (a kit's certificate names its station).
    move |station: &str| -> Box<dyn ProvincialArchive> {
        let path = dir.join("provincial.db");
        Box::new(match station.strip_prefix("kit-") {
            Some(_) => SqliteProvincial::as_kit(path, station, "counter-1", 'B').expect("open"),
            None => SqliteProvincial::open(path, station, 'B').expect("open"),
        })
    }
}

fn rule(e: KitError) -> u8 {
    match e {
        KitError::Rule(LifecycleError::Rule { rule, .. }) => rule,
        other => panic!("expected a rule, got {other}"),
    }
}

#[test]
fn two_kits_and_a_counter_on_overlapping_people_on_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    two_kits_and_a_counter(&sqlite(dir.path()), dir.path());
}

#[test]
fn offline_the_kit_keeps_the_counters_rules_and_its_lease() {
    let dir = tempfile::tempdir().expect("tmp");
    let open = sqlite(dir.path());
    let (arch, counter) = (open("kit-r"), open("counter-1"));
    let (with_card, card) = premade(counter.as_ref());
    let (new, other) = (fresh_ssn(), fresh_ssn());
    let path = dir.path().join("kit.db");
    let mut kit = signed(Kit::create(&path, "kit-r", "op", PASSWORD).expect("kit"));
    assert!(matches!(kit.visit_failed(&new, "x"), Err(KitError::NoLease)));
    kit.checkout(
        arch.as_ref(),
        vec![visit(&with_card, Some(&card)), visit(&new, None)],
        7 * 24 * 3600,
        8 * 3600,
    )
    .expect("checkout");
    match kit.make_card(&other, "110100D15600000500BF7C7A48FB0001", "3B00").expect_err("not claimed") {
        KitError::NotClaimed { reason } => assert_eq!(reason, "not on the visit list"),
        e => panic!("{e}"),
    }
    let e = kit.make_card(&with_card, "110100D15600000500BF7C7A48FB0001", "3B00").expect_err("pre-made");
    assert!(e.to_string().contains("hand it over"), "{e}");
    let e = kit.activate(&with_card, &card, &face_to_face(), &image("photo")).expect_err("not handed over");
    assert!(matches!(e, KitError::Visit(_)), "{e}");
    let to_holder = holder(&with_card);
    let sig = image("sig");
    let give = |kit: &mut Kit, r: Option<&issuance::Receiver>| {
        kit.hand_over(&with_card, &card, "本人", Some(&sig), None, r)
    };
    // RULE 4: the receiver's ID document is checked; another person's, or a custodian (whose
    // approval the kit does not carry), is refused with the reason.
    assert_eq!(rule(give(&mut kit, None).expect_err("nobody checked")), 4);
    let e = give(&mut kit, Some(&holder("110101199003070017"))).expect_err("another person");
    assert!(
        e.to_string().contains("not the holder's") && !e.to_string().contains("110101199003070017"),
        "{e}"
    );
    let custodian =
        issuance::Receiver::Custodian { name: "王五".into(), id_number: "110101199003070033".into() };
    let e = give(&mut kit, Some(&custodian)).expect_err("a custodian");
    assert!(e.to_string().contains("rule 4") && e.to_string().contains("station"), "{e}");
    assert_eq!(
        rule(
            kit.hand_over(&with_card, &card, "本人", None, None, Some(&to_holder)).expect_err("no signature")
        ),
        5
    );
    assert_eq!(rule(kit.hand_over(&with_card, &card, "", None, Some(" "), None).expect_err("no reason")), 6);
    let e = kit
        .hand_over(&with_card, "B99999999", "本人", Some(&image("sig")), None, Some(&to_holder))
        .expect_err("not ours");
    assert!(matches!(e, KitError::Visit(_)), "{e}");
    assert_eq!(
        kit.in_custody(),
        std::slice::from_ref(&card),
        "the pre-made card travels in the kit's custody"
    );
    let signature = image("sig");
    let seq = kit
        .hand_over(&with_card, &card, "本人", Some(&signature), None, Some(&to_holder))
        .expect("hand over");
    assert!(kit.in_custody().is_empty());
    let remote = issuance::lifecycle::ActivationEvidence { channel: Channel::Remote, ..face_to_face() };
    assert_eq!(rule(kit.activate(&with_card, &card, &remote, &image("photo")).expect_err("remote")), 3);
    let proxy = issuance::lifecycle::ActivationEvidence { holder_present: false, ..face_to_face() };
    assert_eq!(rule(kit.activate(&with_card, &card, &proxy, &image("photo")).expect_err("proxy")), 3);
    assert_eq!(rule(kit.activate(&with_card, &card, &face_to_face(), &[]).expect_err("no photo")), 3);
    kit.activate(&with_card, &card, &face_to_face(), &image("photo")).expect("face to face");
    let number = kit.make_card(&new, "110100D15600000500BF7C7A48FB0002", "3B00").expect("make");
    assert_eq!(
        Some(number.clone()),
        kit.lease()
            .and_then(|l| l.checkout.visits.iter().find(|v| v.ssn == new))
            .map(|v| v.card_number.clone())
    );
    assert!(kit.make_card(&new, "110100D15600000500BF7C7A48FB0003", "3B00").is_err(), "one card per claim");
    assert_eq!(kit.in_custody(), std::slice::from_ref(&number), "made, not yet handed over");

    // Past the longest time offline nothing more is issued.
    let late = kit.lease().expect("lease").must_sync_by + 1;
    kit.set_clock(Box::new(move || late));
    assert!(matches!(
        kit.hand_over(&new, &number, "本人", Some(&image("sig")), None, Some(&holder(&new))),
        Err(KitError::MustSync { hours: 8 })
    ));

    // Log out and in: everything is there, the evidence with its digest.
    drop(kit);
    assert!(
        matches!(Kit::open(&path, "op", "not the password"), Err(KitError::Vault(_))),
        "a wrong password opens nothing"
    );
    let kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
    assert_eq!(kit.outbox().len(), 3);
    let kept = kit.evidence(seq).expect("evidence");
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].bytes.as_slice(), kept[0].sm3.as_str()),
        (signature.as_slice(), outreach::kit::sm3_hex(&signature).as_str())
    );
}

#[test]
fn a_lost_laptop_shows_no_person_card_or_evidence() {
    let dir = tempfile::tempdir().expect("tmp");
    let open = sqlite(dir.path());
    let (arch, counter) = (open("kit-l"), open("counter-1"));
    let (ssn, card) = premade(counter.as_ref());
    let path = dir.path().join("kit.db");
    let mut kit = signed(Kit::create(&path, "kit-l", "op", PASSWORD).expect("kit"));
    kit.checkout(
        arch.as_ref(),
        vec![VisitRequest { ssn: ssn.clone(), name: "王秀英".into(), premade_card: Some(card.clone()) }],
        3600,
        3600,
    )
    .expect("checkout");
    let signature = b"SIGNATURE-IMAGE-BYTES-0123456789".to_vec();
    kit.hand_over(&ssn, &card, "王秀英", Some(&signature), None, Some(&holder(&ssn))).expect("hand over");
    drop(kit);
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let p = entry.expect("entry").path();
        if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("kit.db")) {
            raw.extend(std::fs::read(&p).expect("read"));
        }
    }
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!raw.is_empty());
    for secret in
        [ssn.as_bytes(), "王秀英".as_bytes(), card.as_bytes(), &signature, PASSWORD.as_bytes(), b"kit-l"]
    {
        assert!(!contains(secret), "{} readable in the store", String::from_utf8_lossy(secret));
    }
}

/// An archive whose first checkout answer is lost after it was applied.
struct LosesFirstCheckoutAnswer(Box<dyn ProvincialArchive>, AtomicBool);

impl ProvincialArchive for LosesFirstCheckoutAnswer {
    fn lookup(&self, ssn: &str) -> Result<archive::PersonCards, ArchiveError> {
        self.0.lookup(ssn)
    }
    fn claim(&self, q: &archive::ClaimRequest) -> Result<archive::Claim, ArchiveError> {
        self.0.claim(q)
    }
    fn commit(&self, q: &archive::CommitRequest) -> Result<archive::CardRecord, ArchiveError> {
        self.0.commit(q)
    }
    fn release(&self, q: &archive::ReleaseRequest) -> Result<(), ArchiveError> {
        self.0.release(q)
    }
    fn stop_card(&self, q: &archive::StopRequest) -> Result<archive::CardRecord, ArchiveError> {
        self.0.stop_card(q)
    }
    fn mark_deceased(&self, q: &archive::DeceasedRequest) -> Result<Vec<String>, ArchiveError> {
        self.0.mark_deceased(q)
    }
    fn restore_card(&self, q: &archive::RestoreRequest) -> Result<archive::CardRecord, ArchiveError> {
        self.0.restore_card(q)
    }
    fn renew(&self, q: &archive::RenewRequest) -> Result<archive::Claim, ArchiveError> {
        self.0.renew(q)
    }
    fn correct_deceased(&self, q: &archive::CorrectDeceasedRequest) -> Result<(), ArchiveError> {
        self.0.correct_deceased(q)
    }
    fn checkout(&self, q: &kit::CheckoutRequest) -> Result<kit::Checkout, ArchiveError> {
        let answer = self.0.checkout(q)?;
        if self.1.swap(false, Ordering::SeqCst) {
            return Err(ArchiveError::Unavailable("connection reset".into()));
        }
        Ok(answer)
    }
    fn sync_record(&self, r: &kit::KitRecord) -> Result<kit::RecordResult, ArchiveError> {
        self.0.sync_record(r)
    }
    fn checkin(&self, q: &kit::CheckinRequest) -> Result<kit::Checkin, ArchiveError> {
        self.0.checkin(q)
    }
    fn kit_conflicts(&self) -> Result<Vec<kit::KitConflict>, ArchiveError> {
        self.0.kit_conflicts()
    }
    fn resolve_kit_conflict(&self, q: &kit::ResolveRequest) -> Result<(), ArchiveError> {
        self.0.resolve_kit_conflict(q)
    }
}

#[test]
fn a_checkout_whose_answer_was_lost_is_resent_and_leases_nothing_twice() {
    let dir = tempfile::tempdir().expect("tmp");
    let arch = LosesFirstCheckoutAnswer(sqlite(dir.path())("kit-c"), AtomicBool::new(true));
    let mut kit = signed(Kit::create(&dir.path().join("kit.db"), "kit-c", "op", PASSWORD).expect("kit"));
    let list = vec![visit(&fresh_ssn(), None), visit(&fresh_ssn(), None)];
    let e = kit.checkout(&arch, list.clone(), 3600, 3600).expect_err("answer lost");
    assert!(matches!(e, KitError::Archive(ArchiveError::Unavailable(_))), "{e}");
    assert!(
        kit.checkout(&arch, vec![visit(&fresh_ssn(), None)], 3600, 3600).is_err(),
        "the unanswered checkout comes first"
    );
    let out = kit.checkout(&arch, list, 3600, 3600).expect("resent").clone();
    assert_eq!(out.visits.len(), 2, "the first answer, not 'already claimed by this kit': {:?}", out.refused);
}

#[test]
fn a_sync_killed_at_random_points_loses_nothing_and_applies_nothing_twice_on_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    let open = sqlite(dir.path());
    let (arch, counter) = (open("kit-k"), open("counter-1"));
    let path = dir.path().join("kit.db");
    let kit = busy_kit(arch.as_ref(), counter.as_ref(), &path, "kit-k", 120);
    let records = kit.outbox().len();
    drop(kit);
    let seed = fastrand::u64(..);
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let args: Vec<String> = [
        "--store",
        &path.to_string_lossy(),
        "--operator",
        "op",
        "--sqlite",
        &dir.path().join("provincial.db").to_string_lossy(),
        "--station",
        "counter-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let progress = || {
        let kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
        kit.outbox().iter().filter(|o| o.result.is_some()).count()
    };
    let (killed, _) = sync_with_kills(&args, &mut rng, &progress, records);
    println!("{records} records, {killed} runs killed mid-sync");
    assert!(killed >= 2, "the sync was killed mid-way several times");
    let kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
    every_record_once(&kit, arch.as_ref(), records);
}

/// Making a card is journalled before the blank card is fed: a crash in the middle leaves the
/// attempt open, found at the next log-in; it is settled (the card recorded spoiled, sealed in
/// the store, in the outbox for the province) before anything else is made or synced, and the
/// next card is made under the same reserved number.
#[test]
fn an_interrupted_make_is_found_settled_as_spoiled_and_the_number_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let open = sqlite(dir.path());
    let arch = open("kit-m");
    let (person, other) = (fresh_ssn(), fresh_ssn());
    let path = dir.path().join("kit.db");
    let mut kit = signed(Kit::create(&path, "kit-m", "op", PASSWORD).expect("kit"));
    kit.checkout(arch.as_ref(), vec![visit(&person, None), visit(&other, None)], 3600, 3600)
        .expect("checkout");
    let reserved = |ssn: &str, kit: &Kit| {
        kit.lease()
            .and_then(|l| l.checkout.visits.iter().find(|v| v.ssn == ssn))
            .map(|v| v.card_number.clone())
    };
    let number = reserved(&person, &kit).expect("reserved");
    kit.begin_making(&person).expect("begin");
    kit.making_step("fed").expect("journalled");
    kit.making_step("printed").expect("journalled");
    let begun = kit.interrupted_making().cloned().expect("open");
    assert_eq!((begun.attempt, begun.card_number.as_str(), begun.ended.as_ref()), (1, number.as_str(), None));
    assert_eq!(begun.steps, ["fed", "printed"]);
    drop(kit); // the process dies with the card in the printer

    let mut kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
    assert_eq!(kit.interrupted_making(), Some(&begun), "the interrupted make is found");
    let raw: Vec<u8> = rusqlite::Connection::open(&path)
        .and_then(|db| db.query_row("SELECT body FROM makings", [], |r| r.get(0)))
        .expect("raw SQL");
    assert!(!raw.windows(18).any(|w| w == person.as_bytes()), "the journal is sealed");
    let refused = |e: KitError| matches!(e, KitError::Interrupted { ref card_number, attempt: 1 } if *card_number == number);
    assert!(refused(kit.begin_making(&other).expect_err("not settled")));
    assert!(refused(
        kit.make_card(&other, "110100D15600000500BF7C7A48FB0005", "3B00").expect_err("not settled")
    ));
    match outreach::sync(&mut kit, arch.as_ref()) {
        Err(outreach::SyncError::Kit(e)) => assert!(refused(e)),
        other => panic!("a sync with a make not settled: {other:?}"),
    }
    let seq = kit.spoil_making("crash after the face was printed").expect("spoiled");
    assert_eq!(
        kit.outbox()[seq as usize - 1].record.event,
        kit::KitEvent::Spoiled {
            ssn: person.clone(),
            card_number: number.clone(),
            reason: "crash after the face was printed".into()
        }
    );
    assert!(kit.interrupted_making().is_none());
    assert!(kit.spoil_making("again").is_err(), "nothing left to settle");
    assert_eq!(kit.visit_states()[&person].spoiled, ["crash after the face was printed"]);

    // The next attempt: the same number; the feeder was empty the first time.
    let second = kit.begin_making(&person).expect("begin");
    assert_eq!((second.attempt, second.card_number.as_str()), (2, number.as_str()));
    kit.making_not_fed("feeder empty").expect("not fed");
    assert_eq!(kit.outbox().len(), 1, "a card never fed is not a spoiled card");
    let third = kit.begin_making(&person).expect("begin");
    assert_eq!(third.attempt, 3);
    let made = kit.make_card(&person, "110100D15600000500BF7C7A48FB0006", "3B00").expect("made");
    assert_eq!(made, number, "the card carries the reserved number");
    let kit = {
        drop(kit);
        signed(Kit::open(&path, "op", PASSWORD).expect("log in"))
    };
    let ends: Vec<_> = kit.makings().iter().map(|m| m.ended.clone()).collect();
    assert_eq!(
        ends,
        [
            Some(outreach::kit::MakingEnd::Spoiled {
                reason: "crash after the face was printed".into(),
                seq: 1
            }),
            Some(outreach::kit::MakingEnd::NotFed { reason: "feeder empty".into() }),
            Some(outreach::kit::MakingEnd::Made { seq: 2 }),
        ]
    );

    // At the province: the spoiled card on record once, the made card under the number.
    let mut kit = kit;
    let report = outreach::sync(&mut kit, arch.as_ref()).expect("sync");
    assert_eq!((report.sent, report.conflicts.len()), (2, 0), "{:?}", report.conflicts);
    let cards = arch.lookup(&person).expect("lookup").cards;
    assert_eq!(cards.iter().map(|c| c.card_number.as_str()).collect::<Vec<_>>(), [number.as_str()]);
    assert_eq!(report.checkin.returned_numbers, [reserved(&other, &kit).expect("reserved")]);
}
