//! The instant-issuance job against the in-process card simulator and PSAM, the SQLite
//! archives and a verification roster: every RULE this job carries, and a crash at every
//! step boundary followed by a fresh engine on the same stores.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};

use applicant::Applicant;
use archive::local::LocalArchive;
use archive::{CardStatus, DeceasedRequest, ProvincialArchive, SqliteProvincial};
use common::{consenting, params, profile_path, Overlap, SimPath};
use firmware_profile::Profile;
use idv::{FieldHint, IdentityQuery, IdentityVerifier, IdvError, Verdict};
use issuance::{Collection, Engine, IssueError, JobOutcome, Phase, Release, Step, Storage, STEPS};

/// The police register: id number -> name; how many checks it answered; the request ids it saw.
#[derive(Default)]
struct Roster(Mutex<HashMap<String, String>>, Arc<(Mutex<usize>, Condvar)>, Mutex<Vec<String>>);

impl IdentityVerifier for Roster {
    fn verify(&self, q: &IdentityQuery) -> Result<Verdict, IdvError> {
        self.2.lock().expect("ids").push(q.request_id.clone());
        let (count, changed) = &*self.1;
        *count.lock().expect("checks") += 1;
        changed.notify_all();
        match self.0.lock().expect("roster").get(&q.id_number) {
            Some(name) if *name == q.name => Ok(Verdict::Match),
            Some(_) => Ok(Verdict::Mismatch {
                fields: vec![FieldHint { field: "name".into(), hint: "check".into() }],
            }),
            None => Ok(Verdict::Mismatch {
                fields: vec![FieldHint { field: "id_number".into(), hint: "unknown".into() }],
            }),
        }
    }
}

struct Counter {
    _dir: tempfile::TempDir,
    local: LocalArchive,
    province: SqliteProvincial,
    roster: Roster,
    path: SimPath,
    profile: Profile,
}

impl Counter {
    fn new() -> Counter {
        let dir = tempfile::tempdir().expect("tmp");
        Counter {
            local: LocalArchive::open_unencrypted(dir.path().join("station.db"), "S1").expect("local"),
            province: SqliteProvincial::open(dir.path().join("province.db"), "S1", 'B').expect("province"),
            roster: Roster::default(),
            path: SimPath::new(),
            profile: Profile::load(profile_path()).expect("profile"),
            _dir: dir,
        }
    }

    fn engine(&mut self) -> Engine<'_> {
        Engine {
            local: &self.local,
            province: &self.province,
            verifier: &self.roster,
            path: &mut self.path,
            profile: &self.profile,
            operator: "op-1".into(),
            lease_seconds: 600,
            max_corrections: 2,
            progress: None,
        }
    }

    /// A valid adult applicant with a fresh number, known to the police register.
    fn applicant(&self) -> Applicant {
        let ssn = archive::conformance::fresh_ssn();
        let a = common::adult(&ssn);
        self.roster.0.lock().expect("roster").insert(ssn, "测试".into());
        a
    }
}

/// The holder collects the card later: it goes to the station's safe.
fn later() -> Collection {
    Collection::Later(Storage { place: "保管柜 A".into(), keeper: "王主管".into(), collect_at: None })
}

/// Issues a card to `a`, who stands at the counter, and hands it over with their signature.
fn issue_at_counter(c: &mut Counter, a: &Applicant, reissue_of: Option<&str>) -> JobOutcome {
    let (job, outcome) = c.engine().start(a, &params(), reissue_of, &Collection::AtCounter).expect("job");
    if !matches!(outcome, JobOutcome::AwaitingHandover { .. }) {
        return outcome;
    }
    let receiver = serde_json::json!({"kind": "holder", "id_number": applicant::mask_id(&ssn_of(a))});
    let release = Release::Delivered { signer: "测试".into(), signature_sm3: "ef".repeat(32), receiver };
    issuance::release_at_counter(&c.local, None, "op-1", job, release).expect("handed over")
}

fn ssn_of(a: &Applicant) -> String {
    serde_json::to_value(a).expect("json")["holder"]["id_number"].as_str().expect("id").to_string()
}

#[test]
fn an_instant_card_from_form_to_hand_over() {
    let mut c = Counter::new();
    let a = c.applicant();
    let (job, outcome) = c.engine().start(&a, &params(), None, &Collection::AtCounter).expect("job");
    let JobOutcome::AwaitingHandover { card_number, card_id } = outcome else { panic!("{outcome:?}") };
    assert_eq!(card_number, "B00000019", "the first number of prefix B");
    assert!(card_id.starts_with("110100D156000005"));
    // The card is out of the printer, waiting for the receiver's signature: not issued yet,
    // and a resumed job (a restart) finds it waiting still, writing nothing.
    assert_eq!(c.local.card_status(&card_number).expect("local"), Some(CardStatus::Made));
    assert!(issuance::awaiting_handover(&c.local, job).expect("waits").is_some());
    let lines = c.local.journal_of(job).expect("journal").len();
    let again = c.engine().resume(job).expect("resume");
    assert!(matches!(again, JobOutcome::AwaitingHandover { .. }), "{again:?}");
    assert_eq!(c.local.journal_of(job).expect("journal").len(), lines, "nothing written while it waits");
    let release = Release::Delivered {
        signer: "测试".into(),
        signature_sm3: "ab".repeat(32),
        receiver: serde_json::json!({"kind": "holder", "id_number": applicant::mask_id(&ssn_of(&a))}),
    };
    let issued =
        issuance::release_at_counter(&c.local, None, "op-1", job, release.clone()).expect("handed over");
    assert!(matches!(&issued, JobOutcome::Issued { card_number: n, .. } if *n == card_number), "{issued:?}");
    assert!(issuance::release_at_counter(&c.local, None, "op-1", job, release).is_err(), "once");
    let person = c.province.lookup(&ssn_of(&a)).expect("lookup");
    assert_eq!(person.live_card().map(|c| c.card_number.clone()), Some(card_number.clone()));
    assert_eq!(c.local.card_status(&card_number).expect("local"), Some(CardStatus::Issued));
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "done");
    assert_eq!((c.path.printer.fed, c.path.printer.rejected, c.path.printed.len()), (1, 0, 1));
    assert_eq!(c.path.printed[0].card_number, card_number);
    let face = &c.path.printed[0];
    let sex = if ssn_of(&a).as_bytes()[16] % 2 == 1 { "男" } else { "女" };
    assert_eq!(
        (
            face.sex.as_deref(),
            face.ethnicity.as_deref(),
            face.issue_date.as_str(),
            face.expiry_date.as_deref()
        ),
        (Some(sex), Some("汉"), "20261123", Some("20361123")),
        "the 2nd-generation fields are there for the template that prints them"
    );
    let ledger = c.local.ledger().expect("ledger");
    let events: Vec<&str> = ledger.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "person.claimed",
            "card.fed",
            "card.printed",
            "card.personalised",
            "card.made",
            "card.ejected",
            "card.handed_over"
        ]
    );
    let handed = ledger.last().expect("entry");
    assert!(handed.detail.contains(&"ab".repeat(32)) && handed.detail.contains("holder"), "{handed:?}");
    c.local.verify_ledger().expect("chain intact");
    let journal = c.local.journal_of(job).expect("journal");
    assert_eq!(journal.iter().filter(|l| l.phase == "done").count(), STEPS.len());
    assert!(journal.iter().all(|l| !l.detail.contains(&ssn_of(&a))), "no full ID number in the journal");
}

#[test]
fn a_card_for_later_goes_to_stock_and_a_card_at_the_counter_may_be_parked_there() {
    let mut c = Counter::new();
    let a = c.applicant();
    let (_, outcome) = c.engine().start(&a, &params(), None, &later()).expect("job");
    let JobOutcome::Stocked { card_number, place, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(place, "保管柜 A");
    assert_eq!(c.local.card_status(&card_number).expect("local"), Some(CardStatus::Made));
    let ledger = c.local.ledger().expect("ledger");
    let last = ledger.last().expect("entry");
    assert!(last.event == "card.stocked" && last.detail.contains("王主管"), "{last:?}");
    assert!(!ledger.iter().any(|e| e.event == "card.handed_over"), "no hand-over that did not happen");

    // At the counter, the holder cannot take it after all: parked to stock with the reason; a
    // crash in the middle of it finishes the same release at the restart.
    let b = c.applicant();
    let (job, waiting) = c.engine().start(&b, &params(), None, &Collection::AtCounter).expect("job");
    assert!(matches!(waiting, JobOutcome::AwaitingHandover { .. }), "{waiting:?}");
    let park = Release::Stocked {
        storage: Storage { place: "保管柜 B".into(), keeper: "op-1".into(), collect_at: None },
        reason: "the holder left before signing".into(),
    };
    let mut crash = |_: i64, s: Step, p: Phase| {
        if (s, p) == (Step::HandOver, Phase::Begin) {
            panic!("crash hook")
        }
    };
    let crashed = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = issuance::release_at_counter(&c.local, Some(&mut crash), "op-1", job, park);
    }));
    assert!(crashed.is_err());
    assert!(issuance::awaiting_handover(&c.local, job).expect("state").is_none(), "decided already");
    let resumed = c.engine().resume(job).expect("resume");
    assert!(matches!(&resumed, JobOutcome::Stocked { place, .. } if place == "保管柜 B"), "{resumed:?}");
    let stocked: Vec<String> = c
        .local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.event == "card.stocked")
        .map(|e| e.detail)
        .collect();
    assert_eq!(stocked.len(), 2, "{stocked:?}");
    assert!(stocked[1].contains("left before signing"), "{stocked:?}");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees() && r.unsigned.is_empty(), "{r:?}");
}

#[test]
fn rule_1_one_live_card_and_a_reissue_stops_the_old_card_first() {
    let mut c = Counter::new();
    let a = c.applicant();
    let (_, first) = c.engine().start(&a, &params(), None, &later()).expect("first");
    let JobOutcome::Stocked { card_number: old, .. } = first else { panic!("{first:?}") };
    let (_, again) = c.engine().start(&a, &params(), None, &later()).expect("second");
    assert!(matches!(&again, JobOutcome::Refused(r) if r.contains("rule 1")), "{again:?}");
    assert_eq!(c.path.printer.fed, 1, "nothing was fed for the refused application");
    // The old card is stopped only with the holder's signed consent on the form.
    let refused = c.engine().start(&a, &params(), Some(&old), &later()).map(|(_, o)| o);
    assert!(
        matches!(&refused, Err(IssueError::Data(r)) if r.contains("previous_card.consent_to_stop")),
        "{refused:?}"
    );
    assert_eq!(
        c.province.lookup(&ssn_of(&a)).expect("lookup").live_card().map(|c| &c.card_number),
        Some(&old)
    );
    let consented = consenting(&a, &old);
    let (_, reissue) = c.engine().start(&consented, &params(), Some(&old), &later()).expect("re-issue");
    let JobOutcome::Stocked { card_number: new, .. } = reissue else { panic!("{reissue:?}") };
    let stop =
        c.local.ledger().expect("ledger").into_iter().find(|e| e.event == "card.stopped").expect("stop");
    let stop: serde_json::Value = serde_json::from_str(&stop.detail).expect("json");
    assert_eq!(stop["holder_consent"], true, "the stop records the consent: {stop}");
    let cards = c.province.lookup(&ssn_of(&a)).expect("lookup").cards;
    let statuses: Vec<(String, CardStatus)> = cards.into_iter().map(|c| (c.card_number, c.status)).collect();
    assert_eq!(statuses, [(old.clone(), CardStatus::Stopped), (new, CardStatus::Made)]);
    assert_eq!(c.local.card_status(&old).expect("local"), Some(CardStatus::Stopped));
}

#[test]
fn rule_2_the_deceased_get_no_card() {
    let mut c = Counter::new();
    let a = c.applicant();
    c.province
        .mark_deceased(&DeceasedRequest {
            request_id: "d1".into(),
            ssn: ssn_of(&a),
            evidence: "死亡医学证明 No. 0001".into(),
            supervisor: "sup-1".into(),
        })
        .expect("deceased");
    let (_, outcome) = c.engine().start(&a, &params(), None, &later()).expect("job");
    assert!(matches!(&outcome, JobOutcome::Refused(r) if r.contains("deceased")), "{outcome:?}");
    assert_eq!(c.path.printer.fed, 0);
    let events: Vec<String> = c.local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert_eq!(events, ["application.refused"]);
}

#[test]
fn an_identity_mismatch_nobody_can_correct_ends_the_application_and_frees_the_number() {
    let mut c = Counter::new();
    let a = c.applicant();
    c.roster.0.lock().expect("roster").insert(ssn_of(&a), "别人".into());
    // A batch: nobody at the counter to correct the applicant.
    let mut engine = c.engine();
    engine.max_corrections = 0;
    let (_, outcome) = engine.start(&a, &params(), None, &later()).expect("job");
    assert!(matches!(&outcome, JobOutcome::RolledBack(r) if r.contains("name")), "{outcome:?}");
    assert_eq!(c.path.printer.fed, 0);
    let b = c.applicant();
    let (_, next) = c.engine().start(&b, &params(), None, &later()).expect("next");
    assert!(
        matches!(&next, JobOutcome::Stocked { card_number, .. } if card_number == "B00000019"),
        "the released number is reused: {next:?}"
    );
}

#[test]
fn a_spoiled_card_goes_to_the_reject_box_and_is_recorded() {
    let mut c = Counter::new();
    let a = c.applicant();
    c.path.fail_next_print = true;
    let (_, outcome) = c.engine().start(&a, &params(), None, &later()).expect("job");
    assert!(matches!(&outcome, JobOutcome::RolledBack(_)), "{outcome:?}");
    assert_eq!((c.path.printer.fed, c.path.printer.rejected), (1, 1));
    let events: Vec<String> = c.local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert!(
        events.contains(&"card.rejected".to_string())
            && events.contains(&"application.rolled_back".to_string()),
        "{events:?}"
    );
    assert!(c.province.lookup(&ssn_of(&a)).expect("lookup").cards.is_empty());
}

#[test]
fn a_crash_at_every_step_boundary_resumes_to_one_card_and_loses_no_number() {
    let mut c = Counter::new();
    let mut issued = Vec::new();
    for step in STEPS {
        for phase in [Phase::Begin, Phase::Done] {
            let a = c.applicant();
            // The crash hook: a panic right after the journal line, as a kill would end it.
            let mut crash = |_: i64, s: Step, p: Phase| {
                if (s, p) == (step, phase) {
                    panic!("crash hook at {s} {p:?}")
                }
            };
            let crashed = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut engine = c.engine();
                engine.progress = Some(&mut crash);
                let _ = engine.start(&a, &params(), None, &later());
            }));
            assert!(crashed.is_err(), "the crash hook fired at {step} {phase:?}");
            let jobs = c.local.running_jobs().expect("running");
            assert_eq!(jobs.len(), 1, "{step} {phase:?}: one job left running");
            let outcome = c.engine().resume(jobs[0]).expect("resume");
            let JobOutcome::Stocked { card_number, .. } = outcome else {
                panic!("{step} {phase:?}: {outcome:?}")
            };
            let person = c.province.lookup(&ssn_of(&a)).expect("lookup");
            assert_eq!(person.cards.len(), 1, "{step} {phase:?}: exactly one card");
            assert_eq!(person.cards[0].card_number, card_number);
            issued.push(card_number);
        }
    }
    let unique: BTreeSet<&String> = issued.iter().collect();
    assert_eq!(unique.len(), issued.len(), "no card number twice");
    let expected: Vec<String> =
        (1..=issued.len() as u32).map(|n| archive::card_number('B', n).expect("number")).collect();
    assert_eq!(issued, expected, "no number lost: the sequence has no gap");
    // The only spoiled card is the one whose print was interrupted.
    assert_eq!(c.path.printer.rejected, 1);
    c.local.verify_ledger().expect("chain intact");
    let made = c.local.ledger().expect("ledger").iter().filter(|e| e.event == "card.made").count();
    assert_eq!(made, issued.len(), "ledger = archives");
}

#[test]
fn a_batch_checks_the_next_person_while_the_card_before_is_being_printed() {
    let mut c = Counter::new();
    let people: Vec<Applicant> = (0..3).map(|_| c.applicant()).collect();
    c.path.overlap =
        Some(Overlap { checks: c.roster.1.clone(), people: people.len(), seen_while_printing: Vec::new() });
    let rows = issuance::batch::run_batch(&mut c.engine(), &people, &params(), &later());
    assert!(rows.iter().all(|r| r.failed_stage.is_empty() && !r.card_number.is_empty()), "{rows:?}");
    assert_eq!(
        c.path.overlap.as_ref().expect("probe").seen_while_printing,
        [true, true],
        "card k was at the printer while person k+1 was claimed and checked (the desk stage runs ahead)"
    );
    let numbers: Vec<&str> = rows.iter().map(|r| r.card_number.as_str()).collect();
    assert_eq!(numbers, ["B00000019", "B00000027", "B00000035"], "numbers in the list's order");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{:?}", r.mismatches);
}

#[test]
fn a_batch_makes_what_it_can_and_returns_a_row_per_person() {
    let mut c = Counter::new();
    let people: Vec<Applicant> = (0..5).map(|_| c.applicant()).collect();
    c.province
        .mark_deceased(&DeceasedRequest {
            request_id: "d".into(),
            ssn: ssn_of(&people[1]),
            evidence: "死亡医学证明 No. 0001".into(),
            supervisor: "sup-1".into(),
        })
        .expect("deceased");
    c.roster.0.lock().expect("roster").insert(ssn_of(&people[3]), "别人".into());
    let params = params();
    let rows = issuance::batch::run_batch(&mut c.engine(), &people, &params, &later());
    let summary: Vec<(usize, &str, &str)> =
        rows.iter().map(|r| (r.seq, r.card_number.as_str(), r.failed_stage.as_str())).collect();
    assert_eq!(
        summary,
        [(1, "B00000019", ""), (2, "", "bank"), (3, "B00000027", ""), (4, "", "bank"), (5, "B00000035", "")],
        "the number of the rolled-back claim goes to the next card; a mismatch is refused, not waited on"
    );
    assert!(rows[1].failure_reason.contains("deceased"));
    assert!(rows[3].failure_reason.contains("name"));
    assert_eq!((rows[0].box_position.as_str(), rows[4].box_position.as_str()), ("1-001", "1-003"));
    assert_eq!(
        rows[0].atr,
        card_sim::lock(&c.path.card).atr().iter().map(|b| format!("{b:02X}")).collect::<String>()
    );
    assert_eq!((rows[0].issue_date.as_str(), rows[0].expiry_date.as_str()), ("20261123", "20361123"));
    let mut out = Vec::new();
    issuance::batch::write_return_file(&mut out, &rows).expect("csv");
    assert_eq!(String::from_utf8(out).expect("utf8").lines().count(), 6);
}

#[test]
fn the_daily_reconciliation_finds_ledger_local_and_province_agree_and_names_each_difference() {
    let mut c = Counter::new();
    let (a, b) = (c.applicant(), c.applicant());
    let first = issue_at_counter(&mut c, &a, None);
    let JobOutcome::Issued { card_number: old, .. } = first else { panic!("{first:?}") };
    let reissue = issue_at_counter(&mut c, &consenting(&a, &old), Some(&old));
    let JobOutcome::Issued { card_number: new, .. } = reissue else { panic!("{reissue:?}") };
    let other = issue_at_counter(&mut c, &b, None);
    let JobOutcome::Issued { card_number: b_card, .. } = other else { panic!("{other:?}") };
    /// A bank that confirms every activation.
    struct Yes;
    impl bank::BankCardSystem for Yes {
        fn activate(&self, r: &bank::ActivationRequest) -> Result<bank::Activation, bank::BankError> {
            Ok(bank::Activation {
                card_number: r.card_number.clone(),
                bank_code: r.bank_code.clone(),
                account: bank::AccountNumber::parse(r.pan.expose()).expect("account"),
                status: bank::ActivationStatus::Activated,
                reference: "R-1".into(),
                activated_at: 0,
                replayed: false,
            })
        }
        fn account(&self, _: &bank::CardRef) -> Result<bank::AccountInfo, bank::BankError> {
            Err(bank::BankError::Unavailable("not here".into()))
        }
    }
    c.local.set_card_account(&new, Some("ICBC"), Some("6212345302375609269")).expect("account");
    issuance::lifecycle::activate(
        &c.local,
        &Yes,
        "op-1",
        &new,
        &issuance::lifecycle::ActivationEvidence {
            channel: issuance::lifecycle::Channel::Counter,
            holder_present: true,
            id_checked: true,
            photo_sm3: Some("cd".repeat(32)),
        },
        &issuance::lifecycle::Presented {
            id_valid_until: applicant::ValidUntil::LongTerm,
            photo_taken_at: bank::now_unix(),
        },
    )
    .expect("activate");

    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{:#?}", r.mismatches);
    assert_eq!((r.cards, r.holders, r.live), (3, 2, 2));
    assert!(r.unsigned.is_empty(), "every hand-over carries the receiver's signature: {:?}", r.unsigned);

    // A status changed behind the ledger's back, and a card ended at the province only.
    c.local.set_card_status(&b_card, CardStatus::Active).expect("tamper");
    c.province
        .stop_card(&archive::StopRequest {
            request_id: "x-1".into(),
            card_number: new.clone(),
            reason: "loss".into(),
            end: archive::CardEnd::Stopped,
            for_holder: None,
        })
        .expect("stop at the province");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    type Seen<'a> = (&'a str, Option<CardStatus>, Option<CardStatus>, Option<CardStatus>);
    let found: Vec<Seen<'_>> =
        r.mismatches.iter().map(|m| (m.card_number.as_str(), m.ledger, m.local, m.provincial)).collect();
    assert_eq!(
        found,
        [
            (b_card.as_str(), Some(CardStatus::Issued), Some(CardStatus::Active), None),
            (new.as_str(), Some(CardStatus::Active), Some(CardStatus::Active), Some(CardStatus::Stopped)),
        ]
    );
    assert!(
        r.mismatches.iter().all(|m| !m.action.is_empty() && m.holder.contains("****")),
        "{:#?}",
        r.mismatches
    );
    assert!(
        !serde_json::to_string(&r).expect("json").contains(&ssn_of(&a)),
        "no full ID number in the report"
    );
}

#[test]
fn rule_2_a_deceased_holders_card_is_cancelled_and_a_lost_card_stopped_everywhere() {
    let mut c = Counter::new();
    let (a, b) = (c.applicant(), c.applicant());
    let first = issue_at_counter(&mut c, &a, None);
    let JobOutcome::Issued { card_number: lost, .. } = first else { panic!("{first:?}") };
    let (_, other) = c.engine().start(&b, &params(), None, &later()).expect("b");
    let JobOutcome::Stocked { card_number: dead, .. } = other else { panic!("{other:?}") };

    issuance::lifecycle::report_loss(&c.local, &c.province, "op-1", &lost, false, "loss-1").expect("loss");
    issuance::lifecycle::report_loss(&c.local, &c.province, "op-1", &lost, false, "loss-1")
        .expect_err("a stopped card is not lost twice");
    let (_, again) = c.engine().start(&a, &params(), None, &later()).expect("after the loss");
    assert!(
        matches!(again, JobOutcome::Stocked { .. }),
        "a new card once the lost one is stopped: {again:?}"
    );

    let cancelled = issuance::lifecycle::cancel_for_deceased(
        &c.local,
        &c.province,
        "sup-1",
        &ssn_of(&b),
        "火化证明 No. 77",
        "death-1",
    )
    .expect("cancel");
    assert_eq!(cancelled, std::slice::from_ref(&dead));
    assert_eq!(c.local.card_status(&dead).expect("local"), Some(CardStatus::Cancelled));
    assert_eq!(c.province.lookup(&ssn_of(&b)).expect("lookup").cards[0].status, CardStatus::Cancelled);
    let retry = issuance::lifecycle::cancel_for_deceased(
        &c.local,
        &c.province,
        "sup-1",
        &ssn_of(&b),
        "火化证明 No. 77",
        "death-1",
    )
    .expect("retry");
    assert_eq!(retry, std::slice::from_ref(&dead), "a retry gets the first answer and changes nothing");
    let (_, refused) = c.engine().start(&b, &params(), None, &later()).expect("deceased");
    assert!(matches!(&refused, JobOutcome::Refused(r) if r.contains("deceased")), "{refused:?}");

    let events: Vec<(String, Option<String>)> =
        c.local.ledger().expect("ledger").into_iter().map(|e| (e.event, e.card_number)).collect();
    assert!(events.contains(&("card.stopped".into(), Some(lost.clone()))), "{events:?}");
    assert_eq!(events.iter().filter(|e| e.0 == "card.cancelled").count(), 1, "{events:?}");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{:#?}", r.mismatches);
}

#[test]
fn a_waiting_job_keeps_its_claim_and_a_lapsed_one_is_never_committed() {
    let mut c = Counter::new();
    let other = SqliteProvincial::open(c._dir.path().join("province.db"), "S2", 'B').expect("S2");
    let (kept, lapsed) = (c.applicant(), c.applicant());

    // Prepared at the desk (claimed, verified), then waiting for the devices past half its lease
    // (the archive counts whole seconds: a 4 s lease lasts at least 3).
    let mut engine = c.engine();
    engine.lease_seconds = 4;
    let (job, ended) = engine.prepare(&kept, &params(), None, &later()).expect("desk");
    assert!(ended.is_none(), "{ended:?}");
    let first = c.province.lookup(&ssn_of(&kept)).expect("lookup").live_claim.expect("claimed").expires_at;
    std::thread::sleep(std::time::Duration::from_millis(2300));
    let mut engine = c.engine();
    engine.lease_seconds = 4;
    engine.keep_claim(job).expect("renewed");
    let renewed = c.province.lookup(&ssn_of(&kept)).expect("lookup").live_claim.expect("still claimed");
    assert!(renewed.expires_at > first, "{renewed:?} after {first}");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    assert!(
        matches!(
            other.claim(&archive::conformance::claim_request(&ssn_of(&kept), None)),
            Err(archive::ArchiveError::Refused(archive::Refusal::AlreadyClaimed { .. }))
        ),
        "past its first lease, the person is still the waiting job's"
    );
    let outcome = c.engine().resume(job).expect("resume");
    assert!(matches!(outcome, JobOutcome::Stocked { .. }), "{outcome:?}");

    // A job whose lease lapsed while nobody renewed it: another station took the person; the
    // job rolls back without feeding a card, and the number goes back only as not made.
    let mut engine = c.engine();
    engine.lease_seconds = 1;
    let (job, ended) = engine.prepare(&lapsed, &params(), None, &later()).expect("desk");
    assert!(ended.is_none(), "{ended:?}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let taken = other.claim(&archive::conformance::claim_request(&ssn_of(&lapsed), None)).expect("lapsed");
    let fed = c.path.printer.fed;
    let outcome = c.engine().resume(job).expect("resume");
    assert!(matches!(&outcome, JobOutcome::RolledBack(why) if why.contains("expired")), "{outcome:?}");
    assert_eq!(c.path.printer.fed, fed, "no card was fed for a lapsed claim");
    let person = c.province.lookup(&ssn_of(&lapsed)).expect("lookup");
    assert!(person.cards.is_empty());
    assert_eq!(person.live_claim.map(|c| c.station), Some(taken.station));
    assert!(c.province.held_card_numbers().expect("held").is_empty(), "accounted for: never fed");
}

#[test]
fn a_card_lost_in_a_jam_keeps_its_number_out_until_it_is_found() {
    let mut c = Counter::new();
    let jammed = c.applicant();
    c.path.printer.fail_at = Some((2, common::PrinterFault::Jam));
    let (_, outcome) = c.engine().start(&jammed, &params(), None, &later()).expect("job");
    assert!(matches!(outcome, JobOutcome::RolledBack(_)), "{outcome:?}");
    let held: Vec<String> = c.province.held_card_numbers().expect("held").into_iter().map(|h| h.0).collect();
    assert_eq!(held, ["B00000019"], "the jammed card's number is held");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert_eq!(r.unaccounted, ["B00000019"], "the reconciliation lists it for the supervisor");

    c.path.printer.clear();
    let second = c.applicant();
    let (_, next) = c.engine().start(&second, &params(), None, &later()).expect("next");
    assert!(
        matches!(&next, JobOutcome::Stocked { card_number, .. } if card_number != "B00000019"),
        "a number whose card may be anywhere goes to nobody: {next:?}"
    );
    issuance::lifecycle::account_for_card(&c.local, &c.province, "sup-1", "B00000019", "S1:account-1")
        .expect("found in the printer, put in the reject box");
    assert!(c.province.held_card_numbers().expect("held").is_empty());
    assert!(issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile").unaccounted.is_empty());
    let third = c.applicant();
    let (_, again) = c.engine().start(&third, &params(), None, &later()).expect("again");
    assert!(
        matches!(&again, JobOutcome::Stocked { card_number, .. } if card_number == "B00000019"),
        "accounted for, the number is given out again: {again:?}"
    );
    let e =
        issuance::lifecycle::account_for_card(&c.local, &c.province, "sup-1", "B00000019", "S1:account-2")
            .expect_err("nothing left to account for");
    assert!(e.to_string().contains("nothing to account for"), "{e}");
}

#[test]
fn the_reconciliation_finds_a_local_card_the_province_holds_for_someone_else() {
    let mut c = Counter::new();
    let a = c.applicant();
    let (_, outcome) = c.engine().start(&a, &params(), None, &later()).expect("job");
    let JobOutcome::Stocked { card_number, .. } = outcome else { panic!("{outcome:?}") };
    assert!(issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile").agrees());
    // The station's archive names a card under a number the province gave nobody here.
    let other = ssn_of(&c.applicant());
    c.local
        .upsert_person(&archive::local::PersonRow {
            ssn: other.clone(),
            name: "测试".into(),
            sex: None,
            birth_date: None,
        })
        .expect("person");
    let app = c.local.open_application(&other, "new", "{}").expect("application");
    c.local.record_card(app, &other, "B00000027", "00", "3B00").expect("a card behind the province's back");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    let found: Vec<&str> = r.mismatches.iter().map(|m| m.card_number.as_str()).collect();
    assert!(found.contains(&"B00000027"), "{:?}", r.mismatches);
    assert!(!found.contains(&card_number.as_str()), "{:?}", r.mismatches);
}

/// The ledger's (event, card) pairs, in order.
fn ledger_events(c: &Counter) -> Vec<(String, Option<String>)> {
    c.local.ledger().expect("ledger").into_iter().map(|e| (e.event, e.card_number)).collect()
}

/// A person holding card `old` (issued at the counter), whose re-issue failed at the print
/// after the old card was stopped: the job, where the holder stands.
fn held_reissue(c: &mut Counter, collection: &Collection) -> (Applicant, String, i64, issuance::HeldReissue) {
    held_reissue_leased(c, collection, None)
}

/// [`held_reissue`] with the engine's claims leased for `lease` seconds, when given.
fn held_reissue_leased(
    c: &mut Counter,
    collection: &Collection,
    lease: Option<i64>,
) -> (Applicant, String, i64, issuance::HeldReissue) {
    let a = c.applicant();
    let first = issue_at_counter(c, &a, None);
    let JobOutcome::Issued { card_number: old, .. } = first else { panic!("{first:?}") };
    c.path.fail_next_print = true;
    let mut engine = c.engine();
    if let Some(seconds) = lease {
        engine.lease_seconds = seconds;
    }
    let a = consenting(&a, &old);
    let (job, outcome) = engine.start(&a, &params(), Some(&old), collection).expect("re-issue");
    let JobOutcome::Held(held) = outcome else { panic!("{outcome:?}") };
    (a, old, job, held)
}

#[test]
fn a_reissue_whose_new_card_fails_after_the_stop_is_held_and_says_where_the_holder_stands() {
    let mut c = Counter::new();
    let (a, old, job, held) = held_reissue(&mut c, &later());
    assert_eq!((held.job_id, held.old_card.as_str(), held.step.as_str()), (job, old.as_str(), "print-face"));
    assert_ne!(held.new_card, old);
    assert_eq!(held.new_card_fate, archive::CardFate::Rejected, "the spoiled card is in the reject box");
    let told = held.to_string();
    for part in [old.as_str(), held.new_card.as_str(), "stopped at the province", "S1", "restore", "resume"] {
        assert!(told.contains(part), "{part} in {told}");
    }
    assert!(!told.contains(&ssn_of(&a)), "no ID number: {told}");
    // The province: the old card stopped, the claim still this station's until the lease ends.
    let p = c.province.lookup(&ssn_of(&a)).expect("lookup");
    assert!(p.live_card().is_none());
    let claim = p.live_claim.expect("the claim is kept");
    assert_eq!((claim.claim_id, claim.station.as_str()), (held.claim_id, "S1"));
    assert_eq!(claim.expires_at, held.held_until);
    // The station: the old card stopped, the job held (neither run nor renewed by itself).
    assert_eq!(c.local.card_status(&old).expect("local"), Some(CardStatus::Stopped));
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "held");
    assert_eq!(issuance::held_reissue(&c.local, job).expect("held"), Some(held.clone()));
    assert!(c.engine().resume(job).is_err(), "a held job runs only on a supervisor's word");
    let events = ledger_events(&c);
    assert!(events.contains(&(issuance::REISSUE_HELD.into(), Some(old.clone()))), "{events:?}");
    assert_eq!(c.path.printer.rejected, 1);
}

#[test]
fn a_held_reissue_restored_gives_the_holder_the_old_card_back_at_the_province_and_here() {
    let mut c = Counter::new();
    let (a, old, job, held) = held_reissue(&mut c, &later());
    let card = issuance::restore_held(&c.local, &c.province, "sup-1", job, "the ribbon is gone for the day")
        .expect("restore");
    assert_eq!((card.card_number.as_str(), card.status), (old.as_str(), CardStatus::Made));
    let p = c.province.lookup(&ssn_of(&a)).expect("lookup");
    let cards: Vec<_> = p.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(cards, [(old.clone(), CardStatus::Made)], "live again at the province, no new card");
    assert!(p.live_claim.is_none(), "the claim is released");
    assert_eq!(
        c.local.card_status(&old).expect("local"),
        Some(CardStatus::Issued),
        "live again here, as it was before the stop (handed over)"
    );
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "restored");
    let restored: Vec<_> = c
        .local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.event == issuance::CARD_RESTORED)
        .collect();
    assert_eq!(restored.len(), 1);
    assert_eq!(
        (restored[0].card_number.as_deref(), restored[0].operator.as_str()),
        (Some(old.as_str()), "sup-1")
    );
    assert!(issuance::restore_held(&c.local, &c.province, "sup-1", job, "once more").is_err(), "once");
    assert!(c.engine().resume_held(job, "sup-1").is_err(), "a restored job is not resumed");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{r:?}");
    // The spoiled new card's number was in the reject box: it goes to the next person.
    let b = c.applicant();
    let (_, next) = c.engine().start(&b, &params(), None, &later()).expect("next");
    assert!(
        matches!(&next, JobOutcome::Stocked { card_number, .. } if *card_number == held.new_card),
        "{next:?}"
    );
}

#[test]
fn a_held_reissue_resumed_makes_the_new_card_under_the_same_claim_and_number() {
    let mut c = Counter::new();
    let (a, old, job, held) = held_reissue(&mut c, &Collection::AtCounter);
    let outcome = c.engine().resume_held(job, "sup-1").expect("resume");
    let JobOutcome::AwaitingHandover { card_number, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(card_number, held.new_card, "the same card number");
    let receiver = serde_json::json!({"kind": "holder", "id_number": applicant::mask_id(&ssn_of(&a))});
    let release = Release::Delivered { signer: "测试".into(), signature_sm3: "cd".repeat(32), receiver };
    issuance::release_at_counter(&c.local, None, "op-1", job, release).expect("handed over");
    let p = c.province.lookup(&ssn_of(&a)).expect("lookup");
    let cards: Vec<_> = p.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(cards, [(old.clone(), CardStatus::Stopped), (held.new_card.clone(), CardStatus::Made)]);
    assert!(p.live_claim.is_none(), "the claim was committed");
    assert_eq!(c.local.card_status(&old).expect("local"), Some(CardStatus::Stopped));
    assert_eq!(c.local.card_status(&held.new_card).expect("local"), Some(CardStatus::Issued));
    let events: Vec<String> = ledger_events(&c).into_iter().map(|e| e.0).collect();
    let at = |e: &str| events.iter().position(|x| x == e).unwrap_or_else(|| panic!("{e} in {events:?}"));
    assert!(at(issuance::REISSUE_HELD) < at(issuance::REISSUE_RESUMED), "{events:?}");
    assert!(at(issuance::REISSUE_RESUMED) < events.iter().rposition(|x| x == "card.made").expect("made"));
    assert!(issuance::restore_held(&c.local, &c.province, "sup-1", job, "too late now").is_err());
    let restore = archive::conformance::restore_request(held.claim_id, &old);
    assert!(c.province.restore_card(&restore).is_err(), "the province refuses it too: committed");
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{r:?}");
}

#[test]
fn a_held_reissue_whose_claim_lapsed_is_not_restored_and_its_resume_rolls_back() {
    let mut c = Counter::new();
    let (a, old, job, _) = held_reissue_leased(&mut c, &later(), Some(2));
    std::thread::sleep(std::time::Duration::from_millis(2600));
    let e = issuance::restore_held(&c.local, &c.province, "sup-1", job, "ribbon out").expect_err("lapsed");
    assert!(e.to_string().contains("expired"), "{e}");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "held", "still held: nothing changed");
    let outcome = c.engine().resume_held(job, "sup-1").expect("resume");
    assert!(matches!(&outcome, JobOutcome::RolledBack(why) if why.contains("expired")), "{outcome:?}");
    let p = c.province.lookup(&ssn_of(&a)).expect("lookup");
    assert_eq!(p.cards.iter().map(|c| c.status).collect::<Vec<_>>(), [CardStatus::Stopped]);
    assert!(p.live_claim.is_none());
    assert_eq!(c.local.card_status(&old).expect("local"), Some(CardStatus::Stopped));
}

/// A held re-issue keeps its claim while it waits for the supervisor: the daemon's renewal
/// (`keep_claim` over `claim_holding_jobs`) renews it past its first lease, and the restore is
/// still possible then.
#[test]
fn a_held_reissues_claim_is_kept_while_it_waits_for_the_supervisor() {
    let mut c = Counter::new();
    let (a, old, job, _) = held_reissue_leased(&mut c, &later(), Some(6));
    assert!(c.local.claim_holding_jobs().expect("jobs").contains(&job), "a held job holds its claim");
    assert!(!c.local.running_jobs().expect("jobs").contains(&job), "and is not run again at a start");
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let mut engine = c.engine();
        engine.lease_seconds = 6;
        engine.keep_claim(job).expect("renewed");
    }
    // 6.3 s after the hold, past its first 6 s lease: the claim is still live, and the job's
    // view says until when.
    let p = c.province.lookup(&ssn_of(&a)).expect("lookup");
    let live = p.live_claim.clone().expect("the held claim was kept");
    let held = issuance::held_reissue(&c.local, job).expect("held").expect("a held job");
    assert_eq!(held.held_until, live.expires_at, "the view follows the renewal");
    issuance::restore_held(&c.local, &c.province, "sup-1", job, "ribbon out")
        .expect("restore still possible");
    assert_eq!(c.local.card_status(&old).expect("local"), Some(CardStatus::Issued));
}

#[test]
fn a_hold_or_a_restore_that_a_crash_cut_short_is_finished_once() {
    let mut c = Counter::new();
    let (a, old, job, held) = held_reissue(&mut c, &later());
    let fed = c.path.printer.fed;
    // The hold's journal line is written, its status not (a crash between the two): the start
    // after the crash resumes the job, which is held again, nothing fed.
    c.local.set_job_status(job, "running").expect("as the crash left it");
    let again = c.engine().resume(job).expect("resume");
    assert_eq!(again, JobOutcome::Held(held.clone()));
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "held");
    assert_eq!(c.path.printer.fed, fed, "no card fed without the supervisor's word");
    let count = |c: &Counter, event: &str| ledger_events(c).iter().filter(|e| e.0 == event).count();
    assert_eq!(count(&c, issuance::REISSUE_HELD), 1);

    // The restore wrote its ledger line, not the job's end (a crash): done again, it finishes
    // with the province's stored answer and writes the line once.
    issuance::restore_held(&c.local, &c.province, "sup-1", job, "no blank cards").expect("restore");
    c.local.set_job_status(job, "held").expect("as the crash left it");
    let card = issuance::restore_held(&c.local, &c.province, "sup-1", job, "no blank cards").expect("again");
    assert_eq!(card.card_number, old);
    assert_eq!(count(&c, issuance::CARD_RESTORED), 1, "one ledger line");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "restored");
    let p = c.province.lookup(&ssn_of(&a)).expect("lookup");
    assert_eq!(p.live_card().map(|c| c.card_number.clone()), Some(old));
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{r:?}");
}

/// The province whose first answer to a restore is lost after it was applied.
struct LosesTheRestoreAnswer<'a>(&'a SqliteProvincial, std::sync::atomic::AtomicBool);

impl ProvincialArchive for LosesTheRestoreAnswer<'_> {
    fn lookup(&self, ssn: &str) -> Result<archive::PersonCards, archive::ArchiveError> {
        self.0.lookup(ssn)
    }
    fn claim(&self, q: &archive::ClaimRequest) -> Result<archive::Claim, archive::ArchiveError> {
        self.0.claim(q)
    }
    fn commit(&self, q: &archive::CommitRequest) -> Result<archive::CardRecord, archive::ArchiveError> {
        self.0.commit(q)
    }
    fn release(&self, q: &archive::ReleaseRequest) -> Result<(), archive::ArchiveError> {
        self.0.release(q)
    }
    fn renew(&self, q: &archive::RenewRequest) -> Result<archive::Claim, archive::ArchiveError> {
        self.0.renew(q)
    }
    fn stop_card(&self, q: &archive::StopRequest) -> Result<archive::CardRecord, archive::ArchiveError> {
        self.0.stop_card(q)
    }
    fn restore_card(
        &self,
        q: &archive::RestoreRequest,
    ) -> Result<archive::CardRecord, archive::ArchiveError> {
        let answer = self.0.restore_card(q)?;
        if self.1.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(archive::ArchiveError::Unavailable("no answer within 10 s".into()));
        }
        Ok(answer)
    }
    fn mark_deceased(&self, q: &DeceasedRequest) -> Result<Vec<String>, archive::ArchiveError> {
        self.0.mark_deceased(q)
    }
    fn correct_deceased(&self, q: &archive::CorrectDeceasedRequest) -> Result<(), archive::ArchiveError> {
        self.0.correct_deceased(q)
    }
    fn checkout(
        &self,
        q: &archive::kit::CheckoutRequest,
    ) -> Result<archive::kit::Checkout, archive::ArchiveError> {
        self.0.checkout(q)
    }
    fn sync_record(
        &self,
        r: &archive::kit::KitRecord,
    ) -> Result<archive::kit::RecordResult, archive::ArchiveError> {
        self.0.sync_record(r)
    }
    fn checkin(
        &self,
        q: &archive::kit::CheckinRequest,
    ) -> Result<archive::kit::Checkin, archive::ArchiveError> {
        self.0.checkin(q)
    }
    fn kit_conflicts(&self) -> Result<Vec<archive::kit::KitConflict>, archive::ArchiveError> {
        self.0.kit_conflicts()
    }
    fn resolve_kit_conflict(&self, q: &archive::kit::ResolveRequest) -> Result<(), archive::ArchiveError> {
        self.0.resolve_kit_conflict(q)
    }
}

#[test]
fn a_restore_whose_answer_was_lost_is_finished_as_first_asked_and_blocks_the_resume() {
    let mut c = Counter::new();
    let (a, old, job, _) = held_reissue(&mut c, &later());
    let lossy = LosesTheRestoreAnswer(&c.province, std::sync::atomic::AtomicBool::new(true));
    let e = issuance::restore_held(&c.local, &lossy, "sup-1", job, "no blank cards today").expect_err("lost");
    assert!(e.to_string().contains("no answer"), "{e}");
    // Done at the province, not known here: the job is held still, and only the restore may
    // go on (a resume would make a new card for a holder whose old card is live again).
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "held");
    assert_eq!(
        c.province.lookup(&ssn_of(&a)).expect("lookup").live_card().map(|c| c.card_number.clone()),
        Some(old.clone())
    );
    let refused = issuance::reopen_held(&c.local, "sup-2", job).expect_err("a restore is under way");
    assert!(refused.to_string().contains("restore-card"), "{refused}");
    // Another supervisor retries with other words: the first request is repeated, the
    // province's stored answer taken, the station made to agree.
    let card = issuance::restore_held(&c.local, &lossy, "sup-2", job, "retry").expect("retry");
    assert_eq!(card.card_number, old);
    assert_eq!(c.local.card_status(&old).expect("local"), Some(CardStatus::Issued));
    let restored: Vec<_> = c
        .local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.event == issuance::CARD_RESTORED)
        .collect();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].operator, "sup-1", "the restore first asked");
    let replays = c.province.audit_of("S1").expect("audit");
    let outcomes: Vec<&str> = replays.iter().filter(|r| r.0 == "restore").map(|r| r.2.as_str()).collect();
    assert_eq!(outcomes, ["ok", "replayed"]);
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{r:?}");
}

/// The police register's checks so far.
fn checks(c: &Counter) -> usize {
    *c.roster.1 .0.lock().expect("checks")
}

/// `a` with its holder's `field` set to `value`.
fn with_holder(a: &Applicant, field: &str, value: serde_json::Value) -> Applicant {
    let mut v = serde_json::to_value(a).expect("json");
    v["holder"][field] = value;
    serde_json::from_value(v).expect("applicant")
}

/// An applicant whose name the register has otherwise (测试 registered, 测式 typed): the job
/// waits at its verification with the name's hint.
fn mistyped(c: &mut Counter) -> (Applicant, i64, issuance::IdentityMismatch) {
    let a = c.applicant();
    let typed = with_holder(&a, "name", "测式".into());
    let (job, outcome) = c.engine().start(&typed, &params(), None, &later()).expect("job");
    let JobOutcome::Correcting(m) = outcome else { panic!("{outcome:?}") };
    (a, job, m)
}

#[test]
fn a_mismatch_waits_for_the_operators_correction_and_the_corrected_applicant_gets_the_card() {
    let mut c = Counter::new();
    let (a, job, m) = mistyped(&mut c);
    assert_eq!((m.job_id, m.corrections, m.max_corrections, m.left()), (job, 0, 2, 2));
    assert_eq!(m.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["name"]);
    assert!(m.to_string().contains("station correct-identity"), "{m}");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, issuance::CORRECTING);
    assert_eq!(c.path.printer.fed, 0, "nothing is made while it waits");
    // The claim is the waiting job's: another station cannot take the person meanwhile.
    let claim = c.province.lookup(&ssn_of(&a)).expect("lookup").live_claim.expect("claimed");
    let (seen, applicant) = issuance::identity_mismatch(&c.local, job).expect("view").expect("waits");
    assert_eq!(seen, m);
    assert_eq!(applicant.holder.name.as_deref(), Some("测式"));

    // Only the register's fields are corrected; a form that changes more is refused, as is one
    // that changes nothing, and the job still waits.
    let mut moved = serde_json::to_value(&a).expect("json");
    moved["contact"]["mobile"] = "13900139000".into();
    let moved: Applicant = serde_json::from_value(moved).expect("applicant");
    let e = issuance::correct_identity(&c.local, "op-2", job, &moved).expect_err("not the holder's");
    assert!(e.to_string().contains("changes only the holder's"), "{e}");
    let same = with_holder(&a, "name", "测式".into());
    let e = issuance::correct_identity(&c.local, "op-2", job, &same).expect_err("nothing");
    assert!(e.to_string().contains("nothing was corrected"), "{e}");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, issuance::CORRECTING);

    let asked = checks(&c);
    let corrected = issuance::correct_identity(&c.local, "op-2", job, &a).expect("corrected");
    assert_eq!(corrected.corrections, 1);
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "running");
    // The application's record follows the correction before anything acts on it.
    let app = c.local.job(job).expect("job").expect("row").application_id;
    let data: Applicant =
        serde_json::from_str(&c.local.application_data(app).expect("data").expect("kept")).expect("form");
    assert_eq!(data.holder.name.as_deref(), Some("测试"));
    let e = issuance::correct_identity(&c.local, "op-2", job, &a).expect_err("once");
    assert!(e.to_string().contains("not waiting for an identity correction"), "{e}");

    let outcome = c.engine().resume(job).expect("resume");
    let JobOutcome::Stocked { card_number, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(checks(&c), asked + 1, "verified again");
    let ids = c.roster.2.lock().expect("ids").clone();
    assert!(ids.len() == 2 && ids[0] != ids[1] && ids[1].ends_with(":idv-1"), "a new question: {ids:?}");
    assert_eq!(card_number, claim.card_number, "the same claim and number");
    assert_eq!(c.path.printed[0].name, "测试", "the card carries the corrected name");
    let events: Vec<(String, String)> = c
        .local
        .ledger()
        .expect("ledger")
        .into_iter()
        .filter(|e| e.event.starts_with("identity."))
        .map(|e| (e.event, e.operator))
        .collect();
    assert_eq!(
        events,
        [("identity.mismatch".to_string(), "op-1".to_string()), ("identity.corrected".into(), "op-2".into())]
    );
    let corrected = c.local.ledger().expect("ledger").into_iter().find(|e| e.event == "identity.corrected");
    let detail: serde_json::Value = serde_json::from_str(&corrected.expect("line").detail).expect("json");
    assert_eq!(detail["fields"], serde_json::json!(["name"]), "which fields, not their values");
    assert!(!detail.to_string().contains("测"), "{detail}");
}

#[test]
fn a_restart_finds_the_job_waiting_at_the_same_mismatch_with_its_count() {
    let mut c = Counter::new();
    let (a, job, _) = mistyped(&mut c);
    let wrong = with_holder(&a, "name", "测拭".into());
    issuance::correct_identity(&c.local, "op-1", job, &wrong).expect("first correction");
    let outcome = c.engine().resume(job).expect("verified again");
    let JobOutcome::Correcting(m) = outcome else { panic!("{outcome:?}") };
    assert_eq!((m.corrections, m.left()), (1, 1));

    // The station stops and starts again on the same database: the job is not among those
    // resumed (nobody corrected it yet) and waits at the same mismatch, its count kept.
    let path = c._dir.path().join("station.db");
    let reopened = LocalArchive::open_unencrypted(&path, "S1").expect("reopen");
    assert!(!reopened.running_jobs().expect("running").contains(&job));
    assert!(reopened.claim_holding_jobs().expect("holding").contains(&job), "its claim is renewed");
    let (seen, held) = issuance::identity_mismatch(&reopened, job).expect("view").expect("waits");
    assert_eq!((seen, held.holder.name.as_deref()), (m.clone(), Some("测拭")));

    // A crash after the status of a correction but before its line: the job is running on its
    // `mismatch` line; a run finds it waiting again without asking the register.
    c.local.set_job_status(job, "running").expect("as the crash left it");
    let asked = checks(&c);
    let outcome = c.engine().resume(job).expect("resume");
    assert_eq!(outcome, JobOutcome::Correcting(m));
    assert_eq!(checks(&c), asked, "the register was not asked");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, issuance::CORRECTING);
    issuance::correct_identity(&c.local, "op-1", job, &a).expect("second correction");
    let outcome = c.engine().resume(job).expect("resume");
    assert!(matches!(outcome, JobOutcome::Stocked { .. }), "{outcome:?}");
}

#[test]
fn after_the_allowed_corrections_the_application_ends_with_the_reason_and_frees_the_number() {
    let mut c = Counter::new();
    let (a, job, m) = mistyped(&mut c);
    let claim = c.province.lookup(&ssn_of(&a)).expect("lookup").live_claim.expect("claimed");
    for (n, name) in ["测拭", "侧试"].into_iter().enumerate() {
        issuance::correct_identity(&c.local, "op-1", job, &with_holder(&a, "name", name.into()))
            .expect("correction");
        let outcome = c.engine().resume(job).expect("resume");
        match (n, outcome) {
            (0, JobOutcome::Correcting(again)) => assert_eq!(again.left(), m.left() - 1),
            (1, JobOutcome::RolledBack(why)) => {
                assert!(why.contains("still after 2 correction(s)") && why.contains("name"), "{why}")
            }
            (n, other) => panic!("after correction {}: {other:?}", n + 1),
        }
    }
    assert_eq!(c.local.job(job).expect("job").expect("row").status, "rolled_back");
    assert!(issuance::identity_mismatch(&c.local, job).expect("view").is_none());
    let e = issuance::correct_identity(&c.local, "op-1", job, &a).expect_err("ended");
    assert!(e.to_string().contains("has ended"), "{e}");
    let ended = c.local.ledger().expect("ledger").into_iter().find(|e| e.event == "application.rolled_back");
    assert!(ended.expect("ledger").detail.contains("does not confirm"));
    assert!(c.province.lookup(&ssn_of(&a)).expect("lookup").live_claim.is_none(), "released");
    let b = c.applicant();
    let (_, next) = c.engine().start(&b, &params(), None, &later()).expect("next");
    assert!(
        matches!(&next, JobOutcome::Stocked { card_number, .. } if *card_number == claim.card_number),
        "the number goes back: {next:?}"
    );
}

#[test]
fn the_operator_may_end_a_waiting_job_and_a_corrected_id_number_is_claimed_anew() {
    let mut c = Counter::new();
    // Ended by the operator: rolled back with the reason and the register's last hints.
    let (a, job, _) = mistyped(&mut c);
    issuance::end_correction(&c.local, "op-1", job, "the applicant left").expect("ended");
    let outcome = c.engine().resume(job).expect("resume");
    assert!(
        matches!(&outcome, JobOutcome::RolledBack(why) if why.contains("the applicant left") && why.contains("name")),
        "{outcome:?}"
    );
    assert!(c.province.lookup(&ssn_of(&a)).expect("lookup").live_claim.is_none());

    // A mistyped ID number (unknown to the register): corrected, the claim of the mistyped
    // number is released and the right one checked and claimed; the card is the right person's.
    let right = c.applicant();
    let typo = archive::conformance::fresh_ssn();
    let typed = common::adult(&typo);
    let (job, outcome) = c.engine().start(&typed, &params(), None, &later()).expect("job");
    let JobOutcome::Correcting(m) = outcome else { panic!("{outcome:?}") };
    assert_eq!(m.fields[0].field, "id_number");
    assert!(c.province.lookup(&typo).expect("lookup").live_claim.is_some());
    // A number whose person has an open application of their own is refused, nothing written.
    let busy = c.applicant();
    let (busy_job, waiting) = c
        .engine()
        .start(&with_holder(&busy, "name", "测式".into()), &params(), None, &later())
        .expect("busy");
    assert!(matches!(waiting, JobOutcome::Correcting(_)), "{waiting:?}");
    let lines = c.local.journal_of(job).expect("journal").len();
    let e = issuance::correct_identity(&c.local, "op-1", job, &busy).expect_err("another's application");
    assert!(e.to_string().contains("has an open application"), "{e}");
    assert_eq!(c.local.journal_of(job).expect("journal").len(), lines);
    issuance::end_correction(&c.local, "op-1", busy_job, "test").expect("ended");
    c.engine().resume(busy_job).expect("rolled back");
    let corrected = issuance::correct_identity(&c.local, "op-1", job, &right).expect("corrected");
    assert_eq!(corrected.corrections, 1);
    let outcome = c.engine().resume(job).expect("resume");
    let JobOutcome::Stocked { card_number, .. } = outcome else { panic!("{outcome:?}") };
    let typo_person = c.province.lookup(&typo).expect("lookup");
    assert!(typo_person.live_claim.is_none() && typo_person.cards.is_empty(), "{typo_person:?}");
    let person = c.province.lookup(&ssn_of(&right)).expect("lookup");
    assert_eq!(person.live_card().map(|c| c.card_number.clone()), Some(card_number.clone()));
    assert_eq!(c.local.card(&card_number).expect("card").expect("row").ssn, ssn_of(&right));
    let r = issuance::reconcile::reconcile(&c.local, &c.province).expect("reconcile");
    assert!(r.agrees(), "{:#?}", r.mismatches);
}

#[test]
fn a_reissue_waiting_for_a_correction_keeps_its_holders_number_and_ends_held() {
    let mut c = Counter::new();
    let a = c.applicant();
    let first = issue_at_counter(&mut c, &a, None);
    let JobOutcome::Issued { card_number: old, .. } = first else { panic!("{first:?}") };
    let typed = with_holder(&consenting(&a, &old), "name", "测式".into());
    let (job, outcome) = c.engine().start(&typed, &params(), Some(&old), &later()).expect("re-issue");
    assert!(matches!(outcome, JobOutcome::Correcting(_)), "{outcome:?}");
    // A re-issue replaces its holder's card: its ID number is not corrected.
    let fresh = serde_json::to_value(common::adult(&archive::conformance::fresh_ssn())).expect("json");
    let other = ["id_number", "birth_date", "sex"]
        .into_iter()
        .fold(typed.clone(), |a, f| with_holder(&a, f, fresh["holder"][f].clone()));
    let e = issuance::correct_identity(&c.local, "op-1", job, &other).expect_err("another person");
    assert!(e.to_string().contains("re-issue replaces card"), "{e}");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, issuance::CORRECTING);
    // Ended by the operator after the old card was stopped: held for a supervisor, never
    // stranded.
    issuance::end_correction(&c.local, "op-1", job, "the holder will come back").expect("ended");
    let outcome = c.engine().resume(job).expect("resume");
    let JobOutcome::Held(held) = outcome else { panic!("{outcome:?}") };
    assert_eq!((held.old_card.as_str(), held.step.as_str()), (old.as_str(), "verify-identity"));
    assert!(held.reason.contains("the holder will come back"), "{held:?}");
}

#[test]
fn a_job_waiting_for_a_correction_keeps_its_claim_and_the_correction_keeps_the_renewal() {
    let mut c = Counter::new();
    let a = c.applicant();
    let mut engine = c.engine();
    engine.lease_seconds = 4;
    let typed = with_holder(&a, "name", "测式".into());
    let (job, outcome) = engine.start(&typed, &params(), None, &later()).expect("job");
    assert!(matches!(outcome, JobOutcome::Correcting(_)), "{outcome:?}");
    let first = c.province.lookup(&ssn_of(&a)).expect("lookup").live_claim.expect("claimed").expires_at;
    std::thread::sleep(std::time::Duration::from_millis(2300));
    let mut engine = c.engine();
    engine.lease_seconds = 4;
    engine.keep_claim(job).expect("renewed");
    let renewed =
        c.province.lookup(&ssn_of(&a)).expect("lookup").live_claim.expect("still claimed").expires_at;
    assert!(renewed > first, "{renewed} after {first}");
    assert_eq!(c.local.job(job).expect("job").expect("row").status, issuance::CORRECTING, "still waiting");
    // The correction keeps the renewed claim in the job's state: the card is committed under it.
    issuance::correct_identity(&c.local, "op-1", job, &a).expect("corrected");
    let state: serde_json::Value =
        serde_json::from_str(&c.local.job(job).expect("job").expect("row").state).expect("state");
    assert_eq!(state["claim"]["expires_at"], renewed, "the renewal is in the corrected job's state");
    let outcome = c.engine().resume(job).expect("resume");
    assert!(matches!(outcome, JobOutcome::Stocked { .. }), "{outcome:?}");
}
