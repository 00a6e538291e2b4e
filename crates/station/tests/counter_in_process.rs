//! The counter's card path on the in-process simulators: the same [`station::counter::Counter`]
//! a real counter runs (readers through the `ReaderManager` trait, the Evolis driver), over the
//! simulated readers and an in-memory link to the simulated printer whose contact station holds
//! the chip. No pcscd: these run beside the PC/SC tests, in a fraction of their time.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use applicant::Applicant;
use archive::local::LocalArchive;
use archive::{CardStatus, ProvincialArchive, SqliteProvincial};
use card_sim::{Faults, SharedCard, SimConfig, SimReaders};
use card_transport::ReaderManager;
use firmware_profile::Profile;
use idv::{FieldHint, IdentityQuery, IdentityVerifier, IdvError, Verdict};
use issuance::records::IssueParams;
use issuance::{Engine, JobOutcome};
use printer_sim::{MemoryTransport, ModelConfig, SimPrinter};
use station::counter::Counter;
use station::faces::CardFaceRenderer;

/// The police register: id number -> name.
struct Police(HashMap<String, String>);

impl IdentityVerifier for Police {
    fn verify(&self, q: &IdentityQuery) -> Result<Verdict, IdvError> {
        match self.0.get(&q.id_number) {
            Some(name) if *name == q.name => Ok(Verdict::Match),
            _ => Ok(Verdict::Mismatch {
                fields: vec![FieldHint { field: "name".into(), hint: "check".into() }],
            }),
        }
    }
}

fn sim_card(profile: &Path, blank: bool) -> SharedCard {
    card_sim::build_card(&SimConfig {
        profile: profile.to_path_buf(),
        state: None,
        faults: Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank,
    })
    .expect("simulated card")
}

/// One counter: the archives, the police register, the printer with the chip in its contact
/// station and the PSAM in the readers.
struct Desk {
    dir: tempfile::TempDir,
    local: LocalArchive,
    province: SqliteProvincial,
    police: Police,
    profile: Profile,
    chip: SharedCard,
    readers: SimReaders,
    card_reader: String,
    psam_reader: String,
    printer: SimPrinter,
}

impl Desk {
    fn new(chip_faults: Faults) -> Desk {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("photos")).expect("photos");
        let profile_path = common::profile("ssc-3g-sim.toml");
        let chip = sim_card(&profile_path, true);
        let psam = sim_card(&common::profile("psam-sim.toml"), false);
        let printer = SimPrinter::new(ModelConfig { auto_take: true, ..ModelConfig::default() });
        station::sim_devices::chip_in_printer(&printer, chip.clone(), &profile_path)
            .expect("chip in printer");
        // Counted from here: the first APDUs are the job's.
        card_sim::lock(&chip).set_faults(chip_faults);
        let mut readers = SimReaders::new();
        let card_reader = readers.add(chip.clone());
        let psam_reader = readers.add(psam);
        Desk {
            local: LocalArchive::open(dir.path().join("station.db"), "S1").expect("local"),
            province: SqliteProvincial::open(dir.path().join("province.db"), "S1", 'B').expect("province"),
            police: Police(HashMap::new()),
            profile: Profile::load(&profile_path).expect("profile"),
            chip,
            readers,
            card_reader,
            psam_reader,
            printer,
            dir,
        }
    }

    /// A valid applicant with a photo, known to the police.
    fn applicant(&mut self) -> Applicant {
        let v = common::counter::applicant(self.dir.path(), 0);
        let ssn = v["holder"]["id_number"].as_str().expect("id").to_string();
        self.police.0.insert(ssn, v["holder"]["name"].as_str().expect("name").to_string());
        serde_json::from_value(v).expect("applicant")
    }

    /// Runs one job through the counter's card path.
    fn issue(&mut self, applicant: &Applicant) -> (i64, JobOutcome) {
        let faces = CardFaceRenderer::builtin(self.profile.generation, self.dir.path().to_path_buf())
            .expect("face layout");
        let mut printer = printer::EvolisPrinter::new(MemoryTransport::new(self.printer.clone()));
        let mut path = Counter {
            readers: &mut self.readers,
            card_reader: self.card_reader.clone(),
            psam_reader: self.psam_reader.clone(),
            printer: &mut printer,
            faces: &faces,
            profile: &self.profile,
            card_timeout: Duration::from_millis(500),
            financial: None,
            sim_accounts: None,
        };
        let mut engine = Engine {
            local: &self.local,
            province: &self.province,
            verifier: &self.police,
            path: &mut path,
            profile: &self.profile,
            operator: "op-1".into(),
            lease_seconds: 600,
            progress: None,
        };
        engine.start(applicant, &params(), None, &issuance::Collection::AtCounter).expect("job")
    }
}

fn params() -> IssueParams {
    IssueParams {
        region: "110100".into(),
        init_org: "11010000000000000001".into(),
        card_type: '1',
        issue_date: station::clock::today(),
        validity_years: 10,
        vendor: None,
    }
}

#[test]
fn the_counters_card_path_makes_a_card_on_in_process_readers() {
    let mut desk = Desk::new(Faults::default());
    let applicant = desk.applicant();
    let (_, outcome) = desk.issue(&applicant);
    let JobOutcome::AwaitingHandover { card_number, card_id } = outcome else { panic!("{outcome:?}") };
    let state = desk.printer.state();
    assert_eq!((state.fed, state.printed, state.ejected, state.reject_box), (1, 1, 1, 0));
    assert!(!card_sim::lock(&desk.chip).is_present(), "the card left the contact station");
    assert_eq!(
        desk.local.card_status(&card_number).expect("local"),
        Some(CardStatus::Made),
        "out of the printer, waiting for the holder's signature"
    );

    // The holder puts the card into any reader: the chip holds what the face says.
    card_sim::lock(&desk.chip).insert();
    let atr = desk.readers.wait_for_atr(&desk.card_reader, Duration::from_secs(1)).expect("atr");
    let mut card = desk.readers.connect(&desk.card_reader).expect("connect");
    let mut tx = card.transaction().expect("transaction");
    let read = ssse::read_card(tx.as_mut(), &atr).expect("public read sequence");
    assert_eq!(read.issuer.card_number, card_number);
    assert_eq!(read.issuer.card_id.to_string(), card_id);
    assert_eq!(read.holder.ssn, ssn_of(&applicant));
}

#[test]
fn a_chip_that_leaves_the_reader_mid_write_spoils_the_card_and_frees_the_number() {
    // The chip stops answering after a few APDUs of the social-security write and does not
    // come back: the counter's path waits for it, gives up, and the card goes to the reject box.
    let mut desk = Desk::new(Faults { pull_after: Some(6), ..Faults::default() });
    let applicant = desk.applicant();
    let (job, outcome) = desk.issue(&applicant);
    assert!(matches!(outcome, JobOutcome::RolledBack(_)), "{outcome:?}");
    let state = desk.printer.state();
    assert_eq!(
        (state.fed, state.ejected, state.reject_box),
        (1, 0, 1),
        "the spoiled card is in the reject box"
    );
    let person = desk.province.lookup(&ssn_of(&applicant)).expect("lookup");
    assert!(person.live_card().is_none(), "no card was recorded for the person");
    let events: Vec<String> = desk.local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert!(events.contains(&"card.rejected".to_string()), "{events:?}");
    assert!(!events.contains(&"card.made".to_string()), "{events:?}");
    let journal = desk.local.journal_of(job).expect("journal");
    assert!(journal.iter().any(|l| l.step == "personalise-ssc" && l.phase == "begin"));
}

fn ssn_of(a: &Applicant) -> String {
    serde_json::to_value(a).expect("json")["holder"]["id_number"].as_str().expect("id").to_string()
}
