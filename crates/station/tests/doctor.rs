//! `station doctor` on a simulated counter behind the real stack (pcscd + vpcd + card and PSAM
//! simulators, the printer simulator on a pty, the synthetic camera), healthy and then with
//! one device missing or faulty at a time: each problem is named with its fix and the exit
//! code says whether the counter can issue. And the hardware suite (`hw-tests`) run on the
//! simulated counter through a rig file naming the simulated devices, so the suite itself is
//! tested. One pcscd at a time (nextest group `pcsc-stack`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const STATION: &str = env!("CARGO_BIN_EXE_station");
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";

/// The profiles folder as a user would have it: the shipped card, reader and printer profiles
/// copied into a folder of their own.
fn copy_profiles(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles");
    for sub in ["", "readers", "printers"] {
        std::fs::create_dir_all(to.join(sub)).expect("dir");
        for entry in std::fs::read_dir(from.join(sub)).expect("profiles") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                std::fs::copy(&path, to.join(sub).join(path.file_name().expect("name"))).expect("copy");
            }
        }
    }
}

/// A simulated counter: the stack with a blank card and the PSAM, and a printer on a pty.
struct Counter {
    stack: common::Stack,
    printer: printer_sim::SimHandle,
    dir: tempfile::TempDir,
}

impl Counter {
    fn start() -> Counter {
        let stack = common::Stack::issuance("ssc-3g-sim.toml");
        let printer = printer_sim::serve(printer_sim::SimPrinterConfig {
            model: printer_sim::ModelConfig::default(),
            pty: true,
            tcp: None,
            faults: Vec::new(),
        })
        .expect("printer simulator");
        let dir = tempfile::tempdir().expect("tmp");
        copy_profiles(&dir.path().join("profiles"));
        Counter { stack, printer, dir }
    }

    fn printer_selector(&self) -> String {
        self.printer.selectors().first().expect("pty").to_string()
    }
}

/// The verification simulator over plain HTTP, as the simulated counter runs it: one for the
/// test process, on a runtime that lives as long.
fn idv_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().expect("runtime")));
        let sim = runtime.block_on(idv_sim::serve("127.0.0.1:0".parse().expect("addr"), Vec::new()));
        sim.expect("verification simulator").url()
    })
}

/// A station.toml for `printer` with `extra` lines in [counter] (readers, archive).
fn config(dir: &Path, printer: &str, counter_lines: &str, station: &str) -> PathBuf {
    let path = dir.join("station.toml");
    std::fs::write(
        &path,
        format!(
            r#"station = "{station}"
data_dir = "{data}"

[[operator]]
name = "op1"
role = "operator"
password_hash = "{HASH}"

[counter]
printer = "{printer}"
profile = "{profiles}/ssc-3g-sim.toml"
region = "110100"
init_org = "11010000000000000001"
identity_verification = "{idv}"
{counter_lines}
"#,
            data = dir.join("data").display(),
            profiles = dir.join("profiles").display(),
            idv = idv_url(),
        ),
    )
    .expect("config");
    path
}

const SIM_READERS: &str = "card_reader = \"Virtual PCD 00 00\"\npsam_reader = \"Virtual PCD 00 01\"\n";
const SQLITE: &str = "provincial = { kind = \"sqlite\" }\n";

/// Runs `station doctor`; returns its exit code and what it printed.
fn doctor(config: &Path, camera: &str) -> (i32, String) {
    let out = Command::new(STATION)
        .args(["doctor", "--config"])
        .arg(config)
        .args(["--camera", camera])
        .env_remove("STATION_PROFILES")
        .output()
        .expect("station doctor runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("exit code"), text)
}

/// The line of a finding and the two fix lines after it.
fn finding<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line {start:?} in\n{text}"));
    lines[i..(i + 3).min(lines.len())].to_vec()
}

/// The bank card system simulator over plain HTTP, one for the test process.
fn bank_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().expect("runtime")));
        let sim = runtime.block_on(bank_sim::serve("127.0.0.1:0".parse().expect("addr"), Vec::new()));
        sim.expect("bank simulator").url()
    })
}

/// `[counter.bank]` with one card system at `url` for `bank`.
fn bank_lines(url: &str, bank: &str) -> String {
    format!("[counter.bank]\n[[counter.bank.system]]\nbanks = [\"{bank}\"]\nurl = \"{url}\"\n")
}

fn healthy(counter: &Counter) -> PathBuf {
    let lines = format!("{SIM_READERS}{SQLITE}{}", bank_lines(bank_url(), "ICBC"));
    config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101")
}

#[test]
fn a_healthy_simulated_counter_can_issue() {
    let _one = common::serial();
    let counter = Counter::start();
    let (code, text) = doctor(&healthy(&counter), "synthetic");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("[ OK ] pcscd: running"), "{text}");
    assert!(
        text.contains("[ OK ] card reader: \"Virtual PCD 00 00\": vsmartcard vpcd (contact slot"),
        "{text}"
    );
    assert!(text.contains("[ OK ] card: card in the field: ATR"), "{text}");
    let psam = finding(&text, "[ OK ] PSAM: answers")[0];
    assert!(psam.contains("terminal 000000000001") && psam.contains("48/12"), "{psam}");
    assert!(text.contains("profile evolis-primacy"), "{text}");
    assert!(text.contains("[ OK ] camera: "), "{text}");
    assert!(text.contains(&format!("[ OK ] bank: {} answers", bank_url())), "{text}");
    assert!(text.contains("[ OK ] archive: ledger key: "), "the simulators' ledger key: {text}");
    assert!(
        text.contains("[ OK ] archive: database key: the simulators' public wrapping key")
            && text.contains("station.db.key is made at the first start"),
        "the simulators' wrapping key: {text}"
    );
    assert!(text.ends_with("可以制卡 / the counter can issue cards\n"), "{text}");
}

#[test]
fn a_ledger_key_named_without_its_token_blocks_issuing_and_says_how_to_make_it() {
    let _one = common::serial();
    let counter = Counter::start();
    let lines =
        format!("{SIM_READERS}{SQLITE}{}[ledger]\nmac_key = \"ledger\"\n", bank_lines(bank_url(), "ICBC"));
    let (code, text) =
        doctor(&config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101"), "synthetic");
    assert_ne!(code, 0, "{text}");
    let found = finding(&text, "[FAIL] archive: ledger key:");
    assert!(found[0].contains("[ledger.token]"), "{found:?}");
    assert!(
        found.iter().any(|l| l.contains("station keys generate --label ledger --kind ledger-mac")),
        "{found:?}"
    );
}

/// The database key in the token, checked as `station serve` uses it: before the first start
/// (its key file made then), with station.db opening under it, and with another database in
/// station.db's place (a swap or a restore without its key file), which blocks issuing with
/// what to do.
#[test]
fn the_database_key_opens_station_db_or_doctor_says_what_to_restore() {
    let _one = common::serial();
    let counter = Counter::start();
    let dir = counter.dir.path();
    let lines = common::counter::station_keys_in_token(&dir.join("token"));
    let lines = format!("{SIM_READERS}{SQLITE}{}{lines}", bank_lines(bank_url(), "ICBC"));
    let config = config(dir, &counter.printer_selector(), &lines, "S-0101");
    let (code, text) = doctor(&config, "synthetic");
    assert_eq!(code, 0, "{text}");
    let found = finding(&text, "[ OK ] archive: database key: key \"db-wrap\" in token S-LEDGER, KCV")[0];
    assert!(found.contains("station.db.key is made at the first start"), "{found}");

    // The station's first start: the key file made, station.db encrypted under it.
    let data = dir.join("data");
    let station = common::station_db::open(&data, "S-0101");
    station.append_ledger("op1", None, None, "test.entry", &serde_json::json!({})).expect("entry");
    drop(station);
    let (code, text) = doctor(&config, "synthetic");
    assert_eq!(code, 0, "{text}");
    let found = finding(&text, "[ OK ] archive: database key: key \"db-wrap\"")[0];
    assert!(found.contains("station.db opens with it"), "{found}");

    // Another station's database in its place.
    let other = archive::at_rest::DataKey::generate().expect("random");
    for side in ["station.db", "station.db-wal", "station.db-shm"] {
        let _ = std::fs::remove_file(data.join(side));
    }
    drop(archive::local::LocalArchive::open(data.join("station.db"), "S-0101", &other).expect("another"));
    let (code, text) = doctor(&config, "synthetic");
    assert_ne!(code, 0, "{text}");
    let found = finding(&text, "[FAIL] archive: database key:");
    assert!(found[0].contains("does not open with this station's data key"), "{found:?}");
    assert!(found.iter().any(|l| l.contains("restore station.db and station.db.key together")), "{found:?}");
}

#[test]
fn without_pcscd_the_counter_cannot_issue_and_is_told_to_start_it() {
    let _one = common::serial();
    let dir = tempfile::tempdir().expect("tmp");
    copy_profiles(&dir.path().join("profiles"));
    let printer = printer_sim::serve(printer_sim::SimPrinterConfig {
        model: printer_sim::ModelConfig::default(),
        pty: true,
        tcp: None,
        faults: Vec::new(),
    })
    .expect("printer");
    let selector = printer.selectors().first().expect("pty").to_string();
    let path = config(dir.path(), &selector, &format!("{SIM_READERS}{SQLITE}"), "S-0101");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, "[FAIL] pcscd: the PC/SC service is not running");
    assert!(
        f[1].contains("systemctl start pcscd.socket pcscd")
            && f[2].contains("systemctl start pcscd.socket pcscd"),
        "{f:?}"
    );
}

#[test]
fn a_reader_that_is_not_plugged_in_is_named_with_what_pcscd_sees() {
    let _one = common::serial();
    let counter = Counter::start();
    let lines = format!(
        "card_reader = \"ACS ACR39U ICC Reader 00 00\"\npsam_reader = \"Virtual PCD 00 01\"\n{SQLITE}"
    );
    let path = config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 4, "{text}");
    let f =
        finding(&text, "[FAIL] card reader: no reader matches card_reader = \"ACS ACR39U ICC Reader 00 00\"");
    assert!(f[0].contains("\"Virtual PCD 00 00\" (contact)"), "lists what is there: {f:?}");
    assert!(f[1].contains("station card list") && f[2].contains("station card list"), "{f:?}");
}

#[test]
fn a_missing_psam_blocks_issuing() {
    let _one = common::serial();
    let counter = Counter::start();
    counter.stack.psam.as_ref().expect("psam").remove();
    let mut manager = pcsc_reader::PcscManager::new().expect("pcscd");
    manager
        .wait_for_removal(common::PSAM_READER, Some(std::time::Duration::from_secs(5)))
        .expect("the PSAM leaves the slot");
    let (code, text) = doctor(&healthy(&counter), "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, "[FAIL] PSAM: no PSAM in \"Virtual PCD 00 01\"");
    assert!(f[1].contains("SAM 卡座") && f[2].contains("insert the PSAM"), "{f:?}");
}

#[test]
fn an_open_printer_cover_blocks_issuing() {
    let _one = common::serial();
    let counter = Counter::start();
    counter.printer.sim().inject("cover-open".parse().expect("fault"));
    let (code, text) = doctor(&healthy(&counter), "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, "[FAIL] printer: the cover is open");
    assert_eq!(f[1..], ["       处理: 关好打印机上盖", "       fix:  close the printer's cover"]);
}

#[test]
fn a_missing_camera_is_a_warning_with_the_way_round_it() {
    let _one = common::serial();
    let counter = Counter::start();
    let (code, text) = doctor(&healthy(&counter), "webcam:7");
    assert_eq!(code, 3, "everything else is fine: {text}");
    let f = finding(&text, "[WARN] camera: no camera at \"webcam:7\"");
    assert!(f[1].contains("/dev/video") && f[2].contains("photos can come as files"), "{f:?}");

    // The same for a monitoring script, as JSON.
    let out = Command::new(STATION)
        .args(["doctor", "--json", "--camera", "webcam:7", "--config"])
        .arg(healthy(&counter))
        .output()
        .expect("station doctor --json");
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (json["exit_code"].as_u64(), json["verdict"].as_str()),
        (Some(3), Some("can-issue-with-warnings"))
    );
    let camera = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["device"] == "camera")
        .expect("camera");
    assert_eq!(camera["severity"], "warning");
    assert!(camera["fix"]["en"].as_str().is_some_and(|en| en.contains("/dev/video")), "{camera}");
    // Without --camera, the configuration's [counter] camera is the one checked.
    let lines = format!("{SIM_READERS}{SQLITE}camera = \"webcam:7\"\n");
    let configured = config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101");
    let out = Command::new(STATION).args(["doctor", "--config"]).arg(&configured).output().expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("[WARN] camera: no camera at \"webcam:7\""), "{text}");
}

fn service_lines(url: &str, ca: &Path, identity: &Path) -> String {
    format!(
        "{SIM_READERS}provincial = {{ kind = \"service\", url = \"{url}\", ca = \"{}\", identity = \"{}\" }}\n",
        ca.display(),
        identity.display()
    )
}

#[test]
fn an_archive_that_does_not_answer_blocks_issuing() {
    let _one = common::serial();
    let counter = Counter::start();
    let pki = provincial::pki::generate(&counter.dir.path().join("pki"), &["S-0101"]).expect("pki");
    // A port nothing listens on: the service is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let url = format!("https://127.0.0.1:{port}");
    // The bank's card system is down as well (the same dead port, plain HTTP).
    let bank = format!("http://127.0.0.1:{port}");
    let lines = service_lines(&url, &pki.ca(), &pki.station("S-0101")) + &bank_lines(&bank, "ABC");
    let path = config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, &format!("[FAIL] bank: {bank} (ABC): "));
    assert!(f[1].contains("银行卡系统") && f[2].contains("[[counter.bank.system]]"), "{f:?}");
    assert!(
        text.contains("[ OK ] archive: station certificate CN=S-0101"),
        "the certificate is fine: {text}"
    );
    let f = finding(&text, &format!("[FAIL] archive: the provincial archive at {url} is unreachable"));
    assert!(f[1].contains("检查本机网络") && f[2].contains("check this machine's network"), "{f:?}");
}

#[test]
fn an_expired_station_certificate_blocks_issuing_and_says_whom_to_ask() {
    let _one = common::serial();
    let counter = Counter::start();
    let dir = counter.dir.path().join("pki");
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Provincial card archive CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, "S-0101");
    p.not_before = rcgen::date_time_ymd(2019, 1, 1);
    p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = p.signed_by(&key, &ca_cert, &ca_key).expect("station cert");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("ca");
    std::fs::write(dir.join("station.pem"), format!("{}{}", cert.pem(), key.serialize_pem())).expect("id");
    let lines = service_lines("https://127.0.0.1:8443", &dir.join("ca.pem"), &dir.join("station.pem"));
    let path = config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, "[FAIL] archive: the station certificate expired on");
    assert!(f[0].contains("2021"), "{f:?}");
    assert!(
        f[1].contains("申请新的工作站证书（CN=S-0101）")
            && f[2].contains("new station certificate (CN=S-0101)"),
        "{f:?}"
    );
    assert!(!text.contains("unreachable"), "an expired certificate is not tried on the service: {text}");
}

#[test]
fn identity_verification_over_mutual_tls_is_checked_as_configured() {
    let _one = common::serial();
    let dir = tempfile::tempdir().expect("tmp");
    copy_profiles(&dir.path().join("profiles"));
    let printer = printer_sim::serve(printer_sim::SimPrinterConfig {
        model: printer_sim::ModelConfig::default(),
        pty: true,
        tcp: None,
        faults: Vec::new(),
    })
    .expect("printer");
    let selector = printer.selectors().first().expect("pty").to_string();
    // The service's files beside the configuration, named relative to it.
    let pki = idv_sim::pki::generate(&dir.path().join("idv")).expect("pki");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let tls = pki.server_tls(true).expect("server TLS");
    let sim = runtime
        .block_on(idv_sim::serve_tls("127.0.0.1:0".parse().expect("addr"), Vec::new(), tls))
        .expect("verification simulator");
    let path = config(dir.path(), &selector, &format!("{SIM_READERS}{SQLITE}"), "S-0101");
    let table = format!(
        "identity_verification = {{ url = \"{}\", ca = \"idv/ca.pem\", client_cert = \"idv/client.pem\", client_key = \"idv/client.key\" }}",
        sim.url()
    );
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replace(&format!("identity_verification = \"{}\"", idv_url()), &table);
    std::fs::write(&path, text).expect("config");
    let (_, text) = doctor(&path, "synthetic");
    assert!(
        text.contains(&format!("[ OK ] identity verification: {} answers over mutual TLS", sim.url())),
        "{text}"
    );

    // A key others can read: refused, with the command that fixes it.
    let key = dir.path().join("idv/client.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, &format!("[FAIL] identity verification: {} can be read by others", key.display()));
    assert!(f[1].contains("chmod 600") && f[2].contains(&format!("chmod 600 {}", key.display())), "{f:?}");
}

#[test]
fn a_reader_profile_dropped_into_the_folder_is_used_without_rebuilding() {
    let _one = common::serial();
    let counter = Counter::start();
    let readers = counter.dir.path().join("profiles/readers");
    std::fs::remove_file(readers.join("virtual-pcd.toml")).expect("no vpcd profile yet");
    let path = healthy(&counter);
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 3, "{text}");
    let f = finding(&text, "[WARN] card reader: \"Virtual PCD 00 00\": no reader profile matches it");
    assert!(f[2].contains(&format!("{}", readers.display())), "says where to put one: {f:?}");

    // The engineer writes a profile for the counter's reader, with a quirk, and runs it again:
    // the same binary picks it up.
    std::fs::write(
        readers.join("counter-reader.toml"),
        r#"id = "counter-reader"
vendor = "Site"
model = "Counter encoder"
[[slot]]
name = { exact = "Virtual PCD 00 00" }
kind = "contact"
power_up_delay_ms = 30
[[slot]]
name = { exact = "Virtual PCD 00 01" }
kind = "sam"
protocols = ["T=0"]
"#,
    )
    .expect("profile");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("[ OK ] card reader: \"Virtual PCD 00 00\": Site Counter encoder (contact slot; 30 ms after power-up; profile counter-reader)"),
        "{text}"
    );
    assert!(text.contains("(sam slot; T=0 only; profile counter-reader)"), "{text}");
}

#[test]
fn the_hardware_suite_runs_on_the_simulated_counter_through_a_rig_file() {
    let _one = common::serial();
    let dir = tempfile::tempdir().expect("tmp");
    let profiles = dir.path().join("profiles");
    copy_profiles(&profiles);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let files = station::sim_devices::SimCounterFiles {
        card_profile: &profiles.join("ssc-3g-sim.toml"),
        psam_profile: &repo.join("firmware-profiles/psam-sim.toml"),
        roster: &repo.join("sim/idv-sim/roster.json"),
        printed: dir.path(),
    };
    let mut counter = station::sim_devices::start_counter(common::port(), &files, 0.0, &runtime)
        .expect("simulated counter");
    // The PSAM simulator connects to vpcd on its own thread: wait until pcscd sees it.
    let event = pcsc_reader::PcscManager::new()
        .expect("pcscd")
        .wait_for_card(common::PSAM_READER, Some(std::time::Duration::from_secs(15)))
        .expect("PSAM");
    assert!(matches!(event, pcsc_reader::ReaderEvent::CardInserted { .. }), "{event:?}");
    let rig_path = dir.path().join("sim-counter.toml");
    let rig_text = format!(
        r#"name = "simulated counter"
card_reader = "{}"
psam_reader = "{}"
printer = "{}"
camera = "synthetic"
card_profile = "profiles/ssc-3g-sim.toml"
region = "110100"
init_org = "11010000000000000001"
"#,
        common::READER,
        common::PSAM_READER,
        counter.printer_selector
    );
    // Without the written consent the rig is refused before any device is opened.
    std::fs::write(&rig_path, &rig_text).expect("rig file");
    let refused = hw_tests::rig::Rig::load(&rig_path).expect_err("no consent");
    assert!(refused.to_string().contains("cards_may_be_destroyed = true"), "{refused}");
    std::fs::write(&rig_path, rig_text + "cards_may_be_destroyed = true\n").expect("rig file");
    let rig = hw_tests::rig::Rig::load(&rig_path).expect("rig");
    let report = hw_tests::suite::run(&rig);
    report.write(&rig.report_path()).expect("report");
    counter.pcscd.stop();
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    assert_eq!(report.steps.len(), hw_tests::suite::STEPS);

    // The report on disk has per step the APDUs with status words and timings, and quirks.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sim-counter.report.json")).expect("report"),
    )
    .expect("json");
    let steps = json["steps"].as_array().expect("steps");
    let challenge = &steps[3]["apdus"];
    assert_eq!(challenge[1]["command"], "00 84 00 00 08", "{challenge}");
    assert_eq!(challenge[1]["sw"], "9000");
    let perso = steps[4]["apdus"].as_array().expect("APDUs");
    assert!(perso
        .iter()
        .any(|a| a["to"] == "psam" && a["command"].as_str().is_some_and(|c| c.starts_with("80 FA"))));
    assert!(perso.iter().all(|a| a["micros"].as_u64().is_some()));
    // Redacted as the station's traces: no written record's bytes in the report.
    assert!(!json.to_string().contains("11010519491231002X"), "no ID number in the report");
    let quirks = steps[0]["quirks"].to_string() + &steps[2]["quirks"].to_string();
    assert!(quirks.contains("profile virtual-pcd") && quirks.contains("card protocols T=1"), "{quirks}");
}

/// An outreach kit's record-signing key (`[kit]`) is checked as the kit's commands open it:
/// not made yet, it blocks with the command that makes it; made, a probe signed in the kit's
/// token verifies with its public half, and the doctor shows the key's fingerprint.
#[test]
fn a_kits_record_key_is_checked_in_its_token() {
    let _one = common::serial();
    let counter = Counter::start();
    let token = common::counter::softhsm_token(&counter.dir.path().join("kit-token"), "KIT-1", "97531");
    let keystore::PinSource::File(pin_file) = &token.pin else { panic!("a PIN file") };
    let kit = format!(
        "\n[kit]\nrecord_key = \"kit-record\"\n[kit.token]\nmodule = \"{}\"\nlabel = \"KIT-1\"\npin_file = \"{}\"\n",
        keystore::SOFTHSM2_MODULE,
        pin_file.display()
    );
    let lines = format!("{SIM_READERS}{SQLITE}{}{kit}", bank_lines(bank_url(), "ICBC"));
    let path = config(counter.dir.path(), &counter.printer_selector(), &lines, "S-0101");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 4, "{text}");
    let f = finding(&text, "[FAIL] archive: kit record key \"kit-record\" in token KIT-1: ");
    assert!(f[0].contains("station kit keys generate") && f[2].contains("plug the kit's token in"), "{f:?}");

    let public =
        keystore::Keystore::open(&token).expect("token").generate_record_key("kit-record").expect("key");
    let (code, text) = doctor(&path, "synthetic");
    assert_eq!(code, 0, "{text}");
    let fingerprint = station::kit_key::fingerprint(&public);
    assert!(
        text.contains(&format!(
            "[ OK ] archive: kit record key \"kit-record\" in token KIT-1: signs (public key {fingerprint})"
        )),
        "{text}"
    );
}
