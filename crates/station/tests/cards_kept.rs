//! Made cards kept: the simulated counter keeps every card its printer ejects as a card state
//! file named by the card number the chip holds, and `station sim card --state FILE` plugs it
//! into the virtual reader again, where an independent PC/SC client (OpenSC's `opensc-tool`)
//! reads it.
//!
//! - In process (no pcscd): which cards are kept (ejected with a card number) and which not
//!   (rejected, blank), and that a kept file opens as the card that was made.
//! - Through the real stack, one pcscd at a time (nextest group `pcsc-stack`): a card made by
//!   `station serve --sim`, and a card with its financial application made by `station sim
//!   counter --cards-out` driven by `station serve --config`, each read back by opensc-tool
//!   after the counter is gone.
#![cfg(feature = "sim")]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use archive::ProvincialArchive;
use card_sim::{CardImage, SimConfig, SimConnection};
use card_transport::Card;
use common::counter::{free_port, repo, station_toml, Proc, STATION};
use printer_sim::{ModelConfig, SimPrinter};

const SSSE_AID: &str = "7378312E73682EC9E7BBE1B1A3D5CF";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Waits until `path` exists (the keeper writes it on a thread of its own once the printer has
/// ejected the card).
fn wait_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} was not kept", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends Evolis requests to the simulated printer as its pty link would.
fn printer_do(printer: &SimPrinter, wire: &[u8]) {
    let mut parser = evolis::codec::RequestParser::new();
    let mut buf = wire.to_vec();
    while let Some(request) = parser.decode(&mut buf).expect("a request") {
        printer.lock().handle(&request, Instant::now());
    }
}

/// Personalises the SSSE of the chip at the contact station as `card_number`, in process.
fn personalise(chip: &card_sim::SharedCard, psam: &card_sim::SharedCard, card_number: &str) {
    let profile = firmware_profile::Profile::load(common::profile("ssc-3g-sim.toml")).expect("profile");
    let mut user = SimConnection::connect("sim 0", chip.clone()).expect("chip at the contact station");
    let mut sam = SimConnection::connect("sim 1", psam.clone()).expect("PSAM");
    let atr = user.atr().to_vec();
    let (mut issuer, holder) = common::zhang_san(&profile, &atr);
    issuer.card_number = card_number.into();
    let mut sam_tx = sam.transaction().expect("PSAM tx");
    let mut keys = ssse::Psam::new(sam_tx.as_mut());
    let mut tx = user.transaction().expect("tx");
    let layout = ssse::SsseLayout::from_profile(&profile).expect("layout");
    ssse::personalise(tx.as_mut(), &atr, &mut keys, &layout, &issuer, &holder).expect("personalised");
}

#[test]
fn ejected_cards_are_kept_by_their_number_rejected_and_blank_ones_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("cards-out");
    let profile = common::profile("ssc-3g-sim.toml");
    let build = |profile: &Path, blank| {
        card_sim::build_card(&SimConfig {
            profile: profile.to_path_buf(),
            state: None,
            faults: card_sim::Faults::default(),
            vpcd: "127.0.0.1:9".parse().expect("addr"),
            blank,
        })
        .expect("card")
    };
    let (chip, psam) = (build(&profile, true), build(&common::profile("psam-sim.toml"), false));
    let printer = SimPrinter::new(ModelConfig { auto_take: true, ..ModelConfig::default() });
    let kept = station::sim_devices::chip_in_printer(&printer, chip.clone(), &profile).expect("chip");
    // Before a directory is named nothing is kept.
    printer_do(&printer, b"\x1bPem;2\r\x1bPneab;E\r\x1bSis\r");
    personalise(&chip, &psam, "B00000019");
    printer_do(&printer, b"\x1bSe\r");
    kept.keep_in(&out).expect("cards-out");
    assert_eq!(mode(&out), 0o700, "the cards hold applicants' data");

    // Made and ejected: kept by the number the chip holds.
    printer_do(&printer, b"\x1bSis\r");
    personalise(&chip, &psam, "B7K334774");
    printer_do(&printer, b"\x1bSe\r");
    let made = out.join("B7K334774.json");
    wait_file(&made);
    assert_eq!(mode(&made), 0o600);
    // Personalised, then spoiled: the reject box keeps it, the directory does not.
    printer_do(&printer, b"\x1bSis\r");
    personalise(&chip, &psam, "B00000027");
    printer_do(&printer, b"\x1bPneab;A;1\r\x1bPcrm;D\r\x1bSer\r");
    // Fed and ejected blank (a card the station never wrote).
    printer_do(&printer, b"\x1bSis\r\x1bSe\r");
    printer_do(&printer, b"\x1bSis\r");
    personalise(&chip, &psam, "B00000035");
    printer_do(&printer, b"\x1bPneab;E\r\x1bSe\r");
    wait_file(&out.join("B00000035.json"));
    let state = printer.state();
    assert_eq!((state.fed, state.ejected, state.reject_box), (5, 4, 1));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["B00000035.json", "B7K334774.json"], "only the made cards, no temporary file");

    // The kept file is that card: plugged in again it reads as it was made.
    assert_eq!(CardImage::read(&made).expect("state file").profile_id(), "ssc-3g-sim");
    let again = card_sim::build_card(&SimConfig {
        profile: profile.clone(),
        state: Some(made),
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank: true,
    })
    .expect("the kept card");
    let mut user = SimConnection::connect("sim 0", again).expect("connect");
    let atr = user.atr().to_vec();
    let mut tx = user.transaction().expect("tx");
    let read = ssse::read_card(tx.as_mut(), &atr).expect("public read");
    let p = firmware_profile::Profile::load(&profile).expect("profile");
    assert_eq!((read.issuer, read.holder), common::zhang_san(&p, &atr));
}

// --- through the real stack ---------------------------------------------------------------

/// Plugs the kept card `state` into the user-card reader of a fresh pcscd with `station sim
/// card --state` (its profile taken from the file), sends `apdus` (hex) with opensc-tool in one
/// session, and returns each answer's data and status word.
fn opensc_reads(state: &Path, apdus: &[String]) -> Vec<(Vec<u8>, u16)> {
    let port = common::port();
    let mut pcscd = pcsc_stack::Pcscd::start(port).expect("pcscd starts (run scripts/install-deps as root)");
    let card = Proc(
        Command::new(STATION)
            .args(["sim", "card", "--no-psam", "--vpcd", &format!("127.0.0.1:{port}")])
            .arg("--state")
            .arg(state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("station sim card"),
    );
    let mut manager = pcsc_reader::PcscManager::new().expect("pcscd answers");
    common::wait_card(&mut manager);
    drop(manager);
    let mut cmd = Command::new("opensc-tool");
    cmd.args(["--reader", "0"]);
    for a in apdus {
        cmd.args(["--send-apdu", a]);
    }
    let out = cmd.output().expect("opensc-tool (Debian package opensc: scripts/install-deps)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "opensc-tool: {text}{}", String::from_utf8_lossy(&out.stderr));
    drop(card);
    pcscd.stop();
    let answers = parse_opensc(&text);
    assert_eq!(answers.len(), apdus.len(), "one answer per APDU:\n{text}");
    answers
}

/// opensc-tool's `--send-apdu` output: `Received (SW1=0x90, SW2=0x00)` and, when there are
/// data, lines of up to 16 hex bytes (`XX `), maybe padded with spaces, then as many characters
/// of ASCII: the count of hex bytes is the one that leaves that many characters.
fn parse_opensc(text: &str) -> Vec<(Vec<u8>, u16)> {
    let mut answers: Vec<(Vec<u8>, u16)> = Vec::new();
    let mut in_answer = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Received (SW1=0x") {
            let sw1 = u8::from_str_radix(&rest[..2], 16).expect("SW1");
            let sw2 = rest.split("SW2=0x").nth(1).map(|s| &s[..2]).expect("SW2");
            let sw2 = u8::from_str_radix(sw2, 16).expect("SW2");
            answers.push((Vec::new(), u16::from_be_bytes([sw1, sw2])));
            in_answer = true;
        } else if line.starts_with("Sending:") || line.trim().is_empty() {
            in_answer = false;
        } else if in_answer {
            let hex_at = |i: usize| {
                line.get(i * 3..i * 3 + 3)
                    .filter(|c| c.ends_with(' '))
                    .and_then(|c| u8::from_str_radix(&c[..2], 16).ok())
            };
            let most = (0..16).take_while(|&i| hex_at(i).is_some()).count();
            let n = (1..=most)
                .rev()
                .find(|&n| line[n * 3..].trim_start().chars().count() == n)
                .unwrap_or_else(|| panic!("{line:?} is not a hex dump line; opensc-tool said:\n{text}"));
            answers.last_mut().expect("answer").0.extend((0..n).filter_map(hex_at));
        }
    }
    answers
}

/// The value of a SIMPLE-TLV record `tag len value` read from the card.
fn record_value(record: &(Vec<u8>, u16), tag: u8) -> Vec<u8> {
    assert_eq!(record.1, 0x9000, "READ RECORD {tag:02X}");
    assert_eq!(record.0[0], tag, "record {tag:02X}");
    let len = record.0[1] as usize;
    record.0[2..2 + len].to_vec()
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end_matches('\0').to_string()
}

/// SELECT of the SSSE, then READ RECORD by SFI: EF05 07 (card number), EF06 08 (ID number),
/// 09 (name in GBK).
fn ssse_apdus() -> Vec<String> {
    vec![format!("00A404000F{SSSE_AID}"), "00B2072C00".into(), "00B2083400".into(), "00B2093400".into()]
}

/// Checks the SSSE answers of [`ssse_apdus`] against what the station recorded.
fn check_ssse(answers: &[(Vec<u8>, u16)], card_number: &str, ssn: &str, name: &str) {
    assert_eq!(answers[0].1, 0x9000, "SELECT the social-security application");
    assert_eq!(ascii(&record_value(&answers[1], 0x07)), card_number, "EF05 card number");
    assert_eq!(ascii(&record_value(&answers[2], 0x08)), ssn, "EF06 ID number");
    let gbk: Vec<u8> = record_value(&answers[3], 0x09).into_iter().take_while(|b| *b != 0).collect();
    let expected: Vec<u8> = name.chars().flat_map(|c| applicant::name::gbk_bytes(c).expect("GBK")).collect();
    assert_eq!(gbk, expected, "EF06 name");
}

fn login(http: &reqwest::blocking::Client, api: &str, who: &str, password: &str) -> serde_json::Value {
    let r = http
        .post(format!("{api}/api/session"))
        .json(&serde_json::json!({"operator": who, "password": password, "bearer": true}))
        .send()
        .expect("log-in");
    assert_eq!(r.status(), 200, "log-in as {who}");
    r.json().expect("json")
}

/// Posts a job for `applicant` and follows it to its end; the job's JSON.
fn issue(
    http: &reqwest::blocking::Client,
    api: &str,
    token: &str,
    applicant: &serde_json::Value,
) -> serde_json::Value {
    let r = http
        .post(format!("{api}/api/jobs"))
        .bearer_auth(token)
        // Nobody waits at this counter: the card goes to stock and the job ends.
        .json(&serde_json::json!({"applicant": applicant, "collection": "later"}))
        .send()
        .expect("issue");
    assert_eq!(r.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = http.get(format!("{api}/api/jobs/1")).bearer_auth(token).send().expect("job");
        if r.status() == 200 {
            let v: serde_json::Value = r.json().expect("json");
            if v["status"] != "running" {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "job 1 still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_up(api: &str, child: &mut Proc, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::blocking::get(format!("{api}/api/health")).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("station serve stopped ({status}):\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "station serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The live card the province recorded for `ssn`: its number.
fn recorded_card(provincial_db: &Path, ssn: &str) -> String {
    let province = archive::SqliteProvincial::open(provincial_db, "reader", 'B').expect("provincial");
    let person = province.lookup(ssn).expect("lookup");
    person.live_card().expect("a live card").card_number.clone()
}

/// `station serve --sim`: the embedded default keeps its cards in `<data-dir>/cards-out`.
fn a_card_made_by_serve_sim() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("photos")).expect("photos");
    let applicant = common::counter::applicant(&data, 0);
    let (ssn, name) = (
        applicant["holder"]["id_number"].as_str().expect("ssn"),
        applicant["holder"]["name"].as_str().expect("name"),
    );
    let roster = serde_json::json!([{"id_number": ssn, "name": name}]);
    std::fs::write(dir.path().join("roster.json"), roster.to_string()).expect("roster");
    let log = dir.path().join("serve.log");
    let (mut serve, api) = common::counter::spawn_serve_sim(&data, &dir.path().join("roster.json"), &log);
    wait_up(&api, &mut serve, &log);
    let first = std::fs::read_to_string(data.join("initial-passwords.txt")).expect("first passwords");
    let password = first
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("operator "))
        .expect("the operator's first password")
        .trim()
        .to_string();
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let session = login(&http, &api, "operator", &password);
    let token = session["token"].as_str().expect("token");
    let chosen = http
        .post(format!("{api}/api/session/password"))
        .bearer_auth(token)
        .json(&serde_json::json!({"current": password, "new": "kept-cards-test-7"}))
        .send()
        .expect("choose a password");
    assert_eq!(chosen.status(), 200, "{}", chosen.text().unwrap_or_default());
    let job = issue(&http, &api, token, &applicant);
    assert_eq!(job["status"], "done", "{job}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    let card_number = job["card_number"].as_str().expect("card number").to_string();
    assert_eq!(recorded_card(&data.join("provincial.db"), ssn), card_number);
    let kept = data.join("cards-out").join(format!("{card_number}.json"));
    wait_file(&kept);
    assert_eq!(mode(&kept), 0o600);
    drop(serve);

    let answers = opensc_reads(&kept, &ssse_apdus());
    check_ssse(&answers, &card_number, ssn, name);
}

/// `station sim counter --cards-out` with cards carrying the financial application, driven by
/// `station serve --config`: both applications are read back.
fn a_card_with_its_financial_application_made_by_sim_counter() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("photos")).expect("photos");
    let applicant = common::counter::applicant(dir.path(), 0);
    let (ssn, name) = (
        applicant["holder"]["id_number"].as_str().expect("ssn"),
        applicant["holder"]["name"].as_str().expect("name"),
    );
    let roster = serde_json::json!([{"id_number": ssn, "name": name}]);
    std::fs::write(dir.path().join("roster.json"), roster.to_string()).expect("roster");
    let profile = repo("firmware-profiles/ssc-3g-fin-sim.toml");
    let cards_out: PathBuf = dir.path().join("made");
    let mut devices = Command::new(STATION)
        .args(["sim", "counter", "--timing-scale", "0", "--vpcd-port", &common::port().to_string()])
        .arg("--printed")
        .arg(dir.path().join("printed"))
        .arg("--roster")
        .arg(dir.path().join("roster.json"))
        .arg("--profile")
        .arg(&profile)
        .arg("--psam-profile")
        .arg(repo("firmware-profiles/psam-sim.toml"))
        .arg("--cards-out")
        .arg(&cards_out)
        .stdout(Stdio::piped())
        .spawn()
        .expect("station sim counter");
    let mut line = String::new();
    BufReader::new(devices.stdout.take().expect("stdout")).read_line(&mut line).expect("device line");
    let devices = Proc(devices);
    let info: serde_json::Value = serde_json::from_str(&line).expect("device JSON");
    assert_eq!(info["cards_out"].as_str().map(PathBuf::from), Some(cards_out.clone()));
    let password = "test-password-1";
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let financial = "[counter.financial]\ndp = \"test\"\nbin = \"621234\"\nisd_key = \"test\"\ntransport_key = \"test\"\n";
    let config = station_toml(
        "S-TEST",
        api_port,
        dir.path(),
        password,
        &info,
        &profile,
        r#"{ kind = "sqlite" }"#,
        financial,
    );
    std::fs::write(dir.path().join("station.toml"), config).expect("config");
    let log = dir.path().join("serve.log");
    let mut serve = Proc(
        Command::new(STATION)
            .args(["serve", "--config"])
            .arg(dir.path().join("station.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("station serve"),
    );
    wait_up(&api, &mut serve, &log);
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let session = login(&http, &api, "op", password);
    let job = issue(&http, &api, session["token"].as_str().expect("token"), &applicant);
    assert_eq!(job["status"], "done", "{job}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    let card_number = job["card_number"].as_str().expect("card number").to_string();
    assert_eq!(recorded_card(&dir.path().join("provincial.db"), ssn), card_number);
    let kept = cards_out.join(format!("{card_number}.json"));
    wait_file(&kept);
    drop(serve);
    drop(devices);

    let mut apdus = ssse_apdus();
    apdus.extend([
        format!("00A4040008{}", emv_cps::AID_PBOC_DEBIT),
        "00B2010C00".into(),
        "00B2020C00".into(),
    ]);
    let answers = opensc_reads(&kept, &apdus);
    check_ssse(&answers, &card_number, ssn, name);
    assert_eq!(answers[4].1, 0x9000, "SELECT the PBOC debit application");
    let (rec1, rec2) = (&answers[5], &answers[6]);
    assert_eq!((rec1.1, rec2.1), (0x9000, 0x9000), "READ RECORD SFI 1");
    // The station's test data preparation: the PAN follows from the BIN and the holder's
    // number, the name is a placeholder.
    let pan = emv_cps::crypto::test_pan("621234", ssn, 19).expect("PAN");
    let in_record = |r: &[u8], tag| apdu::find_primitive(r, tag);
    assert_eq!(rec2.0[0], 0x70);
    assert_eq!(in_record(&rec2.0, 0x5A).map(hex::encode_upper), Some(format!("{pan}F")), "5A PAN");
    assert_eq!(in_record(&rec1.0, 0x5F20), Some(b"CARDHOLDER/".to_vec()), "5F20 holder name");
    let track2 = in_record(&rec1.0, 0x57).map(hex::encode_upper).expect("57 track 2");
    assert!(track2.starts_with(&format!("{pan}D")), "{track2}");
}

#[test]
fn made_cards_are_kept_and_read_back_by_opensc_tool() {
    let _one = common::serial();
    a_card_made_by_serve_sim();
    a_card_with_its_financial_application_made_by_sim_counter();
}
