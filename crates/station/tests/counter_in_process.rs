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
            local: common::station_db::open(dir.path(), "S1"),
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
        let faces = CardFaceRenderer::builtin(
            self.profile.generation,
            self.dir.path().to_path_buf(),
            self.local.file_key().cloned(),
        )
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
            track: Default::default(),
        };
        let mut engine = Engine {
            local: &self.local,
            province: &self.province,
            verifier: &self.police,
            path: &mut path,
            profile: &self.profile,
            operator: "op-1".into(),
            lease_seconds: 600,
            max_corrections: 2,
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
    let atr = desk.readers.wait_for_atr(&desk.card_reader, None, Duration::from_secs(1)).expect("atr");
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

/// Two custodians' components of `key_hex` as `station keys import` reads them off a terminal:
/// one `HEX KCV` line each (a fixed mask, and the key XOR the mask).
fn component_lines(key_hex: &str) -> String {
    let key: Vec<u8> = (0..key_hex.len() / 2)
        .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let mask: Vec<u8> = (0..key.len() as u8).map(|i| i.wrapping_mul(73).wrapping_add(0x2D)).collect();
    let other: Vec<u8> = key.iter().zip(&mask).map(|(k, m)| k ^ m).collect();
    [mask, other]
        .iter()
        .map(|c| {
            let hex: String = c.iter().map(|b| format!("{b:02X}")).collect();
            let kcv = secure_channel::SecretKey::from_hex(secure_channel::Algorithm::Tdes, &hex)
                .expect("key")
                .kcv();
            format!("{hex} {kcv}\n")
        })
        .collect()
}

/// The financial keys in a PKCS#11 token (SoftHSM2): two custodians form the ISD master key and
/// the DP transport key through `station keys import` (each component checked against its
/// check value; a wrong one refused), `station keys list` shows labels and check values only,
/// and a blank financial card is personalised with the keys where they are, never outside the
/// token; the card then answers a terminal with an ARQC the issuer key verifies.
#[test]
fn a_financial_card_is_personalised_with_the_keys_in_a_token() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tmp");
    let pin = "314159";
    common::counter::softhsm_token(dir.path(), "S-TEST", pin);
    let conf = dir.path().join("softhsm2.conf");
    let pin_file = dir.path().join("token.pin");
    let token = format!(
        "[counter.financial.token]\nmodule = \"{}\"\nlabel = \"S-TEST\"\npin_file = \"{}\"\n",
        keystore::SOFTHSM2_MODULE,
        pin_file.display()
    );
    let station_toml = dir.path().join("station.toml");
    std::fs::write(&station_toml, &token).expect("config");
    let keys = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(common::counter::STATION)
            .arg("keys")
            .args(args)
            .env("STATION_CONFIG", &station_toml)
            .env("SOFTHSM2_CONF", &conf)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("station keys");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("components");
        let out = child.wait_with_output().expect("station keys");
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    // The profile's test master (its [sim] isd_master) and the test transport key: a build with
    // the simulators takes them; the card simulator's ISD was made from that master.
    let (master, transport) = ("404142434445464748494A4B4C4D4E4F", emv_cps::crypto::TEST_TRANSPORT_KEY);
    let bad_kcv: String = component_lines(master)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 1 {
                format!("{} 000000\n", l.split(' ').next().expect("hex"))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let (ok, said) =
        keys(&["import", "--label", "isd-master", "--kind", "tdes", "--role", "isd-master"], &bad_kcv);
    assert!(
        !ok && said.contains("component 2") && said.contains("nothing was stored"),
        "a component that does not match its check value: {said}"
    );
    assert!(!said.contains(master), "no key in the output: {said}");
    let (ok, said) = keys(&["import", "--label", "isd-master", "--kind", "tdes", "--role", "isd-master"], "");
    assert!(!ok && said.contains("custodian 1: no component on stdin"), "{said}");
    let (ok, said) = keys(
        &["import", "--label", "isd-master", "--kind", "tdes", "--role", "isd-master"],
        &component_lines(master),
    );
    assert!(ok, "{said}");
    let (ok, said) = keys(
        &["import", "--label", "dp-transport", "--kind", "tdes", "--role", "transport"],
        &component_lines(transport),
    );
    assert!(ok, "{said}");
    let (ok, listed) = keys(&["list"], "");
    assert!(ok, "{listed}");
    let master_kcv =
        secure_channel::SecretKey::from_hex(secure_channel::Algorithm::Tdes, master).expect("key").kcv();
    assert!(listed.contains("isd-master") && listed.contains(&format!("KCV {master_kcv}")), "{listed}");
    assert!(listed.contains("dp-transport") && !listed.contains("NOT SEALED"), "{listed}");
    assert!(!listed.contains(master) && !listed.contains(transport), "never a key: {listed}");
    // The ledger's MAC key is made inside the token (no component exists), listed by its check
    // value; a second one under the label is refused.
    let (ok, said) = keys(&["generate", "--label", "ledger", "--kind", "ledger-mac"], "");
    assert!(
        ok && said.contains("made in the token") && said.contains("[ledger] mac_key = \"ledger\""),
        "{said}"
    );
    let kcv = said.split("KCV ").nth(1).and_then(|k| k.get(..6)).expect("its check value").to_string();
    let (ok, listed) = keys(&["list"], "");
    let line = listed.lines().find(|l| l.starts_with("ledger ")).expect("the ledger key listed");
    assert!(ok && line.contains("AES") && line.contains("ledger-mac") && line.contains(&kcv), "{listed}");
    let (ok, said) = keys(&["generate", "--label", "ledger", "--kind", "ledger-mac"], "");
    assert!(!ok && said.contains("already in the token"), "{said}");
    // The database wrapping key likewise, in the same token (the counter's), named in [database].
    let (ok, said) = keys(&["generate", "--label", "db-wrap", "--kind", "db-wrap"], "");
    assert!(
        ok && said.contains("made in the token") && said.contains("[database] wrap_key = \"db-wrap\""),
        "{said}"
    );
    let (ok, listed) = keys(&["list"], "");
    let line = listed.lines().find(|l| l.starts_with("db-wrap ")).expect("the wrapping key listed");
    assert!(ok && line.contains("AES") && line.contains("db-wrap") && line.contains("32 bytes"), "{listed}");

    // The card personalised with the token's keys.
    let profile_path = common::profile("ssc-3g-fin-sim.toml");
    let profile = Profile::load(&profile_path).expect("profile");
    let financial_config = station::config::FinancialConfig {
        dp: "test".into(),
        bin: "621234".into(),
        isd_key: "isd-master".into(),
        transport_key: "dp-transport".into(),
        token: Some(station::config::TokenSettings {
            module: keystore::SOFTHSM2_MODULE.into(),
            label: "S-TEST".into(),
            pin_file: Some(pin_file.clone()),
            pin_env: None,
        }),
    };
    let financial = station::financial::Financial::from_config(&financial_config, &profile)
        .expect("financial keys in the token");
    let chip = sim_card(&profile_path, true);
    let mut readers = SimReaders::new();
    let reader = readers.add(chip.clone());
    card_sim::lock(&chip).insert();
    let mut card = readers.connect(&reader).expect("connect");
    let mut tx = card.transaction().expect("transaction");
    let example = emv_cps::TestCard::example();
    let holder = issuance::FinancialHolder {
        ssn: &example.holder_id,
        name: "张三",
        card_number: "B00000019",
        atr: &[],
        bank: None,
    };
    let done = financial.personalise(tx.as_mut(), &holder).expect("personalised through the token");
    assert!(done.detail.contains("PBOC DEBIT") || done.detail.contains("DGIs"), "{}", done.detail);
    let reading = emv_cps::run_terminal(
        tx.as_mut(),
        &emv_cps::TerminalParams::counter(emv_cps::Interface::Contact, "261206", [1, 2, 3, 4]),
    )
    .expect("the terminal reads the card");
    assert_eq!(Some(reading.pan.clone()), done.account);
    emv_cps::verify_arqc(&reading, &emv_cps::IssuerKeys::test()).expect("the ARQC verifies");
}
