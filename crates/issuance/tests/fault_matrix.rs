//! The fault matrix of an instant issuance: every device fault injected at every call of the
//! device operation it hits, one issuance per cell, on shared archives. Each job must end
//! issued, rolled back, or waiting with a reason that says what to do; once the fault is
//! cleared (the operator acts, the network comes back, disk space is freed) a waiting job
//! resumes to issued or rolled back. Over the whole matrix no card number is lost or given
//! twice, every card that left the hopper is accounted for in the ledger, and the ledger,
//! the local archive and the provincial archive agree.
//!
//! Devices: the chip and the PSAM are the in-process card simulator with its own fault
//! injection (pull the card, answer 6F00 at the n-th APDU); the printer is a state model
//! that fails on command at its n-th operation (jam, cover open, ribbon out, feeder empty)
//! with the operator actions the station's Evolis driver maps them to; the provincial archive
//! is the SQLite implementation behind a link that goes down, or loses the answer, at its
//! n-th call; identity verification goes down at its n-th call; the journal's disk fills up
//! at its n-th write (an SQLite trigger refusing the insert, as a full disk does). The engine
//! takes no photo (the face's photo is a file named by the applicant), so there is no camera
//! to lose.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use applicant::Applicant;
use archive::local::LocalArchive;
use archive::{
    kit, ArchiveError, CardRecord, CardStatus, Claim, ClaimRequest, CommitRequest, DeceasedRequest,
    PersonCards, ProvincialArchive, ReleaseRequest, SqliteProvincial, StopRequest,
};
use card_sim::Faults;
use common::{params, profile_path, PrinterFault, SimPath};
use firmware_profile::Profile;
use idv::{IdentityQuery, IdentityVerifier, IdvError, Verdict};
use issuance::{Engine, JobOutcome};

// ---------------------------------------------------------------------------------------
// The network services.

/// How the link to a service fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// The request never arrives.
    Down,
    /// The request is carried out, the answer never comes back.
    AnswerLost,
}

/// The provincial archive behind a link that fails at its n-th call and stays failed until
/// the network is back.
struct Province {
    inner: SqliteProvincial,
    calls: AtomicU32,
    fail_at: Mutex<Option<(u32, Link)>>,
    failing: Mutex<Option<Link>>,
}

impl Province {
    fn call<T>(&self, f: impl FnOnce() -> Result<T, ArchiveError>) -> Result<T, ArchiveError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((at, link)) = *self.fail_at.lock().expect("fail_at") {
            if at == n {
                *self.failing.lock().expect("failing") = Some(link);
            }
        }
        let failing = *self.failing.lock().expect("failing");
        match failing {
            None => f(),
            Some(Link::Down) => Err(ArchiveError::Unavailable("connection refused".into())),
            Some(Link::AnswerLost) => {
                let _ = f();
                Err(ArchiveError::Unavailable("no answer within 10 s".into()))
            }
        }
    }

    fn back_online(&self) {
        *self.fail_at.lock().expect("fail_at") = None;
        *self.failing.lock().expect("failing") = None;
    }
}

impl ProvincialArchive for Province {
    fn lookup(&self, ssn: &str) -> Result<PersonCards, ArchiveError> {
        self.call(|| self.inner.lookup(ssn))
    }
    fn claim(&self, request: &ClaimRequest) -> Result<Claim, ArchiveError> {
        self.call(|| self.inner.claim(request))
    }
    fn commit(&self, request: &CommitRequest) -> Result<CardRecord, ArchiveError> {
        self.call(|| self.inner.commit(request))
    }
    fn release(&self, request: &ReleaseRequest) -> Result<(), ArchiveError> {
        self.call(|| self.inner.release(request))
    }
    fn stop_card(&self, request: &StopRequest) -> Result<CardRecord, ArchiveError> {
        self.call(|| self.inner.stop_card(request))
    }
    fn mark_deceased(&self, request: &DeceasedRequest) -> Result<Vec<String>, ArchiveError> {
        self.call(|| self.inner.mark_deceased(request))
    }
    fn restore_card(&self, request: &archive::RestoreRequest) -> Result<CardRecord, ArchiveError> {
        self.call(|| self.inner.restore_card(request))
    }
    fn renew(&self, request: &archive::RenewRequest) -> Result<archive::Claim, ArchiveError> {
        self.call(|| self.inner.renew(request))
    }
    fn correct_deceased(&self, request: &archive::CorrectDeceasedRequest) -> Result<(), ArchiveError> {
        self.call(|| self.inner.correct_deceased(request))
    }
    // Outreach kits do not take part in a counter's issuance.
    fn checkout(&self, request: &kit::CheckoutRequest) -> Result<kit::Checkout, ArchiveError> {
        self.inner.checkout(request)
    }
    fn sync_record(&self, record: &kit::KitRecord) -> Result<kit::RecordResult, ArchiveError> {
        self.inner.sync_record(record)
    }
    fn checkin(&self, request: &kit::CheckinRequest) -> Result<kit::Checkin, ArchiveError> {
        self.inner.checkin(request)
    }
    fn kit_conflicts(&self) -> Result<Vec<kit::KitConflict>, ArchiveError> {
        self.inner.kit_conflicts()
    }
    fn resolve_kit_conflict(&self, q: &kit::ResolveRequest) -> Result<(), ArchiveError> {
        self.inner.resolve_kit_conflict(q)
    }
}

/// The police register behind a link that goes down at its n-th call.
#[derive(Default)]
struct Police {
    names: Mutex<HashMap<String, String>>,
    calls: AtomicU32,
    fail_at: Mutex<Option<u32>>,
    down: AtomicBool,
}

impl IdentityVerifier for Police {
    fn verify(&self, q: &IdentityQuery) -> Result<Verdict, IdvError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if *self.fail_at.lock().expect("fail_at") == Some(n) {
            self.down.store(true, Ordering::SeqCst);
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(IdvError::Unavailable("no answer from the bank-police network".into()));
        }
        match self.names.lock().expect("names").get(&q.id_number) {
            Some(name) if *name == q.name => Ok(Verdict::Match),
            _ => Ok(Verdict::Mismatch { fields: Vec::new() }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The journal's disk.

/// Fills the journal's disk from its n-th write on: a trigger refuses the insert with
/// SQLite's own "disk full" text, until `free` drops it.
struct JournalDisk {
    db: PathBuf,
}

impl JournalDisk {
    fn conn(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(&self.db).expect("second connection");
        c.busy_timeout(std::time::Duration::from_secs(10)).expect("busy timeout");
        c
    }

    fn fill_at(&self, n: u32) {
        let c = self.conn();
        let written: i64 = c.query_row("SELECT count(*) FROM journal", [], |r| r.get(0)).expect("count");
        c.execute_batch(&format!(
            "CREATE TRIGGER disk_full BEFORE INSERT ON journal
             WHEN (SELECT count(*) FROM journal) >= {}
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
            written + i64::from(n) - 1
        ))
        .expect("trigger");
    }

    fn free(&self) {
        self.conn().execute_batch("DROP TRIGGER IF EXISTS disk_full").expect("drop trigger");
    }
}

// ---------------------------------------------------------------------------------------
// The counter and the matrix.

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The clean run that counts the calls.
    None,
    CardPulled(u64),
    WrongStatusWord(u64),
    PsamPulled(u64),
    Printer(PrinterFault, u32),
    Archive(Link, u32),
    IdentityDown(u32),
    JournalFull(u32),
}

struct Counter {
    _dir: tempfile::TempDir,
    local: LocalArchive,
    province: Province,
    police: Police,
    path: SimPath,
    profile: Profile,
    disk: JournalDisk,
    /// The cells run so far.
    cases: Vec<Case>,
}

struct Case {
    fault: Fault,
    /// The step the job was in when it first stopped.
    step: String,
    job: i64,
    ssn: String,
    first: JobOutcome,
    last: JobOutcome,
}

/// Words by which an outcome's reason tells the operator what to do (the station's actions,
/// the archives' and the verification's own advice).
const WHAT_TO_DO: [&str; 9] = [
    "operator:",
    "reject the card",
    "retry",
    "stop the counter",
    "close the",
    "refill",
    "clear the",
    "free disk space",
    "resume",
];

fn scratch_dir() -> tempfile::TempDir {
    // The journal is synchronous (an fsync per line): on tmpfs the matrix takes seconds.
    match Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").expect("tmp"),
        false => tempfile::tempdir().expect("tmp"),
    }
}

impl Counter {
    fn new() -> Counter {
        let dir = scratch_dir();
        let db = dir.path().join("station.db");
        Counter {
            local: LocalArchive::open_unencrypted(&db, "S1").expect("local"),
            province: Province {
                inner: SqliteProvincial::open(dir.path().join("province.db"), "S1", 'B').expect("province"),
                calls: AtomicU32::new(0),
                fail_at: Mutex::new(None),
                failing: Mutex::new(None),
            },
            police: Police::default(),
            path: SimPath::new(),
            profile: Profile::load(profile_path()).expect("profile"),
            disk: JournalDisk { db },
            cases: Vec::new(),
            _dir: dir,
        }
    }

    fn engine(&mut self) -> Engine<'_> {
        Engine {
            local: &self.local,
            province: &self.province,
            verifier: &self.police,
            path: &mut self.path,
            profile: &self.profile,
            operator: "op-1".into(),
            lease_seconds: 600,
            max_corrections: 0,
            progress: None,
        }
    }

    /// A valid adult applicant with a fresh number, known to the police register.
    fn applicant(&self) -> (Applicant, String) {
        let ssn = archive::conformance::fresh_ssn();
        self.police.names.lock().expect("names").insert(ssn.clone(), "测试".into());
        (common::adult(&ssn), ssn)
    }

    /// Arms `fault`: the n-th call from now fails.
    fn arm(&mut self, fault: Fault) {
        let sim = |n: u64| Faults { pull_after: Some(n - 1), ..Faults::default() };
        match fault {
            Fault::CardPulled(n) => card_sim::lock(&self.path.card).set_faults(sim(n)),
            Fault::WrongStatusWord(n) => card_sim::lock(&self.path.card)
                .set_faults(Faults { fail_after: Some(n - 1), ..Faults::default() }),
            Fault::PsamPulled(n) => card_sim::lock(&self.path.psam).set_faults(sim(n)),
            Fault::Printer(kind, n) => {
                self.path.printer.ops = 0;
                self.path.printer.fail_at = Some((n, kind));
            }
            Fault::Archive(link, n) => {
                self.province.calls.store(0, Ordering::SeqCst);
                *self.province.fail_at.lock().expect("fail_at") = Some((n, link));
            }
            Fault::IdentityDown(n) => {
                self.police.calls.store(0, Ordering::SeqCst);
                *self.police.fail_at.lock().expect("fail_at") = Some(n);
            }
            Fault::JournalFull(n) => self.disk.fill_at(n),
            Fault::None => {}
        }
    }

    /// The fault is over: cards and PSAM back in their readers, the printer cleared, the
    /// networks back, disk space freed.
    fn clear(&mut self) {
        for sim in [&self.path.card, &self.path.psam] {
            let mut s = card_sim::lock(sim);
            s.set_faults(Faults::default());
            s.insert();
        }
        self.path.printer.clear();
        self.province.back_online();
        *self.police.fail_at.lock().expect("fail_at") = None;
        self.police.down.store(false, Ordering::SeqCst);
        self.disk.free();
    }

    /// One cell: an issuance with `fault` armed, then the fault cleared and a waiting job
    /// resumed. Returns the first and the final outcome.
    fn run(&mut self, fault: Fault) {
        let (a, ssn) = self.applicant();
        let jobs_before: BTreeSet<i64> = self.local.running_jobs().expect("running").into_iter().collect();
        self.arm(fault);
        let first = match self.engine().start(&a, &params(), None, &later()) {
            Ok((_, outcome)) => outcome,
            Err(e) => panic!("{fault:?}: the job stopped with an error instead of an outcome: {e}"),
        };
        let job = self
            .local
            .running_jobs()
            .expect("running")
            .into_iter()
            .find(|j| !jobs_before.contains(j))
            .or_else(|| self.last_job())
            .expect("the job");
        check_reason(fault, &first);
        let journal = self.local.journal_of(job).expect("journal");
        let step = journal.iter().rev().find(|l| l.phase == "begin").map_or("-".into(), |l| l.step.clone());
        self.clear();
        let mut last = first.clone();
        for _ in 0..3 {
            let JobOutcome::Waiting(_) = last else { break };
            last = match self.engine().resume(job) {
                Ok(outcome) => outcome,
                Err(e) => panic!("{fault:?}: resuming after the fault was cleared failed: {e}"),
            };
            check_reason(fault, &last);
        }
        assert!(
            matches!(last, JobOutcome::Stocked { .. } | JobOutcome::RolledBack(_)),
            "{fault:?}: after the fault was cleared the job ends issued or rolled back, not {last:?}"
        );
        self.cases.push(Case { fault, step, job, ssn, first, last });
    }

    fn last_job(&self) -> Option<i64> {
        let conn = self.disk.conn();
        conn.query_row("SELECT max(job_id) FROM jobs", [], |r| r.get(0)).ok()
    }

    /// How many calls a clean issuance makes of each device: the rows of the matrix.
    fn clean_run(&mut self) -> Calls {
        let before_card = card_sim::lock(&self.path.card).apdu_count();
        let before_psam = card_sim::lock(&self.path.psam).apdu_count();
        self.path.printer.ops = 0;
        self.province.calls.store(0, Ordering::SeqCst);
        self.police.calls.store(0, Ordering::SeqCst);
        let journal = self.journal_lines();
        let (a, ssn) = self.applicant();
        let (job, outcome) = self.engine().start(&a, &params(), None, &later()).expect("clean run");
        assert!(matches!(outcome, JobOutcome::Stocked { .. }), "{outcome:?}");
        let calls = Calls {
            card: card_sim::lock(&self.path.card).apdu_count() - before_card,
            psam: card_sim::lock(&self.path.psam).apdu_count() - before_psam,
            printer: self.path.printer.ops,
            archive: self.province.calls.load(Ordering::SeqCst),
            identity: self.police.calls.load(Ordering::SeqCst),
            journal: (self.journal_lines() - journal) as u32,
        };
        let step = "hand-over".to_string();
        self.cases.push(Case { fault: Fault::None, step, job, ssn, first: outcome.clone(), last: outcome });
        calls
    }

    fn journal_lines(&self) -> i64 {
        self.disk.conn().query_row("SELECT count(*) FROM journal", [], |r| r.get(0)).expect("count")
    }

    /// What must hold after every cell: numbers, ledger, archives, cards.
    fn check_books(&self) {
        let ledger = self.local.ledger().expect("ledger");
        self.local.verify_ledger().expect("the ledger's hash chain is intact");
        let mut issued: Vec<String> = Vec::new();
        let by_app = |app: i64, event: &str| {
            ledger.iter().filter(|e| e.application_id == Some(app) && e.event == event).count()
        };
        for case in &self.cases {
            let row = self.local.job(case.job).expect("job").expect("the job exists");
            let app = row.application_id;
            let person = self.province.inner.lookup(&case.ssn).expect("lookup");
            let what =
                format!("{:?} (job {}, first {:?}, last {:?})", case.fault, case.job, case.first, case.last);
            match &case.last {
                JobOutcome::Stocked { card_number, card_id, .. } => {
                    assert_eq!(row.status, "done", "{what}");
                    assert_eq!(person.cards.len(), 1, "{what}: one card in the province");
                    assert_eq!(&person.cards[0].card_number, card_number, "{what}");
                    assert_eq!(person.cards[0].card_id.as_deref(), Some(card_id.as_str()), "{what}");
                    assert!(person.live_claim.is_none(), "{what}: the claim was used up");
                    assert_eq!(
                        self.local.card_status(card_number).expect("local"),
                        Some(CardStatus::Made),
                        "{what}: the station's archive"
                    );
                    assert_eq!(by_app(app, "card.made"), 1, "{what}: one card.made in the ledger");
                    assert_eq!(by_app(app, "card.stocked"), 1, "{what}: in stock once");
                    issued.push(card_number.clone());
                }
                JobOutcome::RolledBack(_) => {
                    assert_eq!(row.status, "rolled_back", "{what}");
                    assert!(person.cards.is_empty(), "{what}: no card in the province");
                    assert!(person.live_claim.is_none(), "{what}: the claim was released");
                    assert_eq!(by_app(app, "card.made"), 0, "{what}");
                    assert_eq!(by_app(app, "application.rolled_back"), 1, "{what}");
                }
                other => panic!("{what}: ended {other:?}"),
            }
            // Every card that left the hopper for this application ends made or spoiled.
            let made = by_app(app, "card.made");
            assert_eq!(
                by_app(app, "card.fed"),
                by_app(app, "card.rejected") + made,
                "{what}: cards fed = cards rejected + the card made"
            );
        }
        let unique: BTreeSet<&String> = issued.iter().collect();
        assert_eq!(unique.len(), issued.len(), "a card number was given twice: {issued:?}");
        // A number whose card was lost in a jam is held, not reused, until the station says
        // where that card is: issued and held numbers together have no gap.
        let held: Vec<String> =
            self.province.inner.held_card_numbers().expect("held").into_iter().map(|h| h.0).collect();
        assert!(held.iter().all(|h| !issued.contains(h)), "a held number was issued: {held:?}");
        let unaccounted: Vec<String> = issuance::lifecycle::unaccounted_cards(&self.local)
            .expect("unaccounted")
            .into_iter()
            .map(|(card, _)| card)
            .collect();
        let mut held_sorted = held.clone();
        held_sorted.sort();
        let mut unaccounted_sorted = unaccounted;
        unaccounted_sorted.sort();
        assert_eq!(held_sorted, unaccounted_sorted, "each held number is a card.unaccounted in the ledger");
        let mut sorted: Vec<String> = issued.iter().chain(&held).cloned().collect();
        sorted.sort();
        let expected: Vec<String> =
            (1..=sorted.len() as u32).map(|n| archive::card_number('B', n).expect("number")).collect();
        assert_eq!(sorted, expected, "issued and held numbers have no gap: none was lost");
        let made_in_ledger = ledger.iter().filter(|e| e.event == "card.made").count();
        assert_eq!(made_in_ledger, issued.len(), "ledger = archives");
        assert_eq!(self.local.cards(None).expect("cards").len(), issued.len(), "local cards = issued");
        let fed = ledger.iter().filter(|e| e.event == "card.fed").count() as u32;
        assert_eq!(fed, self.path.printer.fed, "every card taken from the hopper is in the ledger");
        let rejected = ledger.iter().filter(|e| e.event == "card.rejected").count() as u32;
        assert_eq!(
            rejected,
            self.path.printer.rejected + self.path.printer.taken_out,
            "every spoiled card, rejected by the printer or taken out of a jam, is in the ledger"
        );
    }
}

#[derive(Debug, Clone, Copy)]
struct Calls {
    card: u64,
    psam: u64,
    printer: u32,
    archive: u32,
    identity: u32,
    journal: u32,
}

/// The holders of the matrix collect their cards later, from the station's safe.
fn later() -> issuance::Collection {
    issuance::Collection::Later(issuance::Storage {
        place: "保管柜".into(),
        keeper: "op-1".into(),
        collect_at: None,
    })
}

/// A waiting or rolled-back job says what happened and what to do.
fn check_reason(fault: Fault, outcome: &JobOutcome) {
    match outcome {
        JobOutcome::Issued { card_number, .. }
        | JobOutcome::Stocked { card_number, .. }
        | JobOutcome::AwaitingHandover { card_number, .. } => assert!(!card_number.is_empty(), "{fault:?}"),
        JobOutcome::Refused(r) => panic!("{fault:?}: a device fault is not a refusal: {r}"),
        JobOutcome::Held(held) => panic!("{fault:?}: the matrix issues no re-issue: {held}"),
        JobOutcome::Correcting(m) => panic!("{fault:?}: nobody corrects the matrix's applicants: {m}"),
        JobOutcome::RolledBack(reason) | JobOutcome::Waiting(reason) => {
            assert!(
                WHAT_TO_DO.iter().any(|w| reason.contains(w)),
                "{fault:?}: the reason does not say what to do: {reason:?}"
            );
        }
    }
}

/// Prints the matrix (run with `--nocapture` to see it): cell, first and final outcome.
fn report(c: &Counter) {
    let kind = |o: &JobOutcome| match o {
        JobOutcome::Issued { .. } => "issued",
        JobOutcome::Stocked { .. } => "stocked",
        JobOutcome::AwaitingHandover { .. } => "awaiting hand-over",
        JobOutcome::Refused(_) => "refused",
        JobOutcome::RolledBack(_) => "rolled back",
        JobOutcome::Waiting(_) => "waiting",
        JobOutcome::Held(_) => "held",
        JobOutcome::Correcting(_) => "waiting for a correction",
    };
    for case in &c.cases {
        println!("{:?} at {}: {} -> {}", case.fault, case.step, kind(&case.first), kind(&case.last));
    }
}

// ---------------------------------------------------------------------------------------
// The matrix, one test per device so that they run in parallel.

#[test]
fn chip_faults_at_every_apdu() {
    let mut c = Counter::new();
    let calls = c.clean_run();
    assert!(calls.card > 10, "{calls:?}");
    for n in 1..=calls.card {
        c.run(Fault::CardPulled(n));
        c.run(Fault::WrongStatusWord(n));
    }
    for n in 1..=calls.psam {
        c.run(Fault::PsamPulled(n));
    }
    report(&c);
    c.check_books();
}

#[test]
fn printer_faults_at_every_printer_operation() {
    let mut c = Counter::new();
    let calls = c.clean_run();
    assert_eq!(calls.printer, 3, "feed, print, eject: {calls:?}");
    for fault in PrinterFault::ALL {
        for n in 1..=calls.printer {
            c.run(Fault::Printer(fault, n));
        }
    }
    report(&c);
    c.check_books();
}

#[test]
fn network_faults_at_every_call() {
    let mut c = Counter::new();
    let calls = c.clean_run();
    assert_eq!((calls.archive, calls.identity), (3, 1), "lookup, claim, commit; verify: {calls:?}");
    for link in [Link::Down, Link::AnswerLost] {
        for n in 1..=calls.archive {
            c.run(Fault::Archive(link, n));
        }
    }
    c.run(Fault::IdentityDown(1));
    report(&c);
    c.check_books();
}

#[test]
fn a_full_disk_at_every_journal_write() {
    let mut c = Counter::new();
    let calls = c.clean_run();
    assert!(calls.journal >= 26, "{calls:?}");
    for n in 1..=calls.journal {
        c.run(Fault::JournalFull(n));
    }
    report(&c);
    c.check_books();
}
