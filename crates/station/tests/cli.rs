//! The command line's conventions, through the binary and without any device: the version
//! with its git revision, the exit codes of the table in `station::exit`, shell completions
//! and manual pages for the package, and plain output (no carriage return, no escape
//! sequence) where stderr is not a terminal, as under journald.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use station::exit;

const STATION: &str = env!("CARGO_BIN_EXE_station");

fn station(args: &[&str]) -> Output {
    Command::new(STATION)
        .args(args)
        .env_remove("STATION_CONFIG")
        .env_remove("NO_COLOR")
        .output()
        .expect("station runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_version_names_the_git_revision_it_was_built_from() {
    let out = station(&["--version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rest =
        text.trim_end().strip_prefix(concat!("station ", env!("CARGO_PKG_VERSION"), " (")).expect(&text);
    let revision = rest.strip_suffix(')').expect(&text);
    if revision == "unknown" {
        return; // built outside a git checkout
    }
    assert!(revision.len() >= 7 && revision.chars().all(|c| c.is_ascii_hexdigit()), "{text}");
    // A commit of this repository (HEAD may have moved on since the build).
    let known = Command::new("git")
        .args(["cat-file", "-e", &format!("{revision}^{{commit}}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    if let Ok(status) = known {
        assert!(status.success(), "{revision} is no commit here");
    }
}

#[test]
fn exit_codes_follow_the_documented_table() {
    // Help and version are not errors; the table is in the help.
    let out = station(&["--help"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::SUCCESS)));
    assert!(stdout(&out).contains(exit::HELP), "{}", stdout(&out));
    // A usage error is clap's 2, and nothing else is.
    let out = station(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)), "{}", stderr(&out));
    let out = station(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)), "{}", stderr(&out));
    // A doctor that cannot issue (here: no configuration at all) is 4, not clap's 2.
    let out = station(&["doctor"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::DOCTOR_CANNOT_ISSUE)), "{}", stdout(&out));
    assert!(stdout(&out).contains("[FAIL] profiles: no configuration given"), "{}", stdout(&out));
    let out = station(&["doctor", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["exit_code"], u64::from(exit::DOCTOR_CANNOT_ISSUE));
    assert_eq!(out.status.code(), Some(i32::from(exit::DOCTOR_CANNOT_ISSUE)));
}

/// A port on loopback where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn a_failure_is_1_with_plain_logs_off_a_terminal() {
    let applicant = concat!(env!("CARGO_MANIFEST_DIR"), "/../applicant/testdata/adult.json");
    let api = format!("http://127.0.0.1:{}", closed_port());
    let out = Command::new(STATION)
        .args(["issue", "--applicant", applicant, "--api", &api, "--password", "x"])
        .env("STATION_LOG", "trace")
        .env_remove("NO_COLOR")
        .output()
        .expect("station issue");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILURE)), "{text}");
    assert!(text.contains("error: no station at"), "{text}");
    // The HTTP client's trace lines are there, as plain text: stderr is a pipe here.
    assert!(text.contains("TRACE") || text.contains("DEBUG"), "{text}");
    assert!(!text.contains('\x1b') && !text.contains('\r'), "escape sequences in a pipe: {text:?}");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = station(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["station", "doctor", "issue", "completions"] {
            assert!(script.contains(word), "{shell}: no {word} in\n{script}");
        }
    }
    let bash = stdout(&station(&["completions", "bash"]));
    assert!(bash.contains("complete -F _station"), "{bash}");
}

#[test]
fn manual_pages_for_the_command_and_each_subcommand() {
    let dir = tempfile::tempdir().expect("tmp");
    let man = dir.path().join("man1");
    let out = station(&["man", man.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = |name: &str| {
        std::fs::read_to_string(Path::new(&man).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let main = page("station.1");
    assert!(main.contains(".TH station 1"), "{main}");
    assert!(main.contains(env!("CARGO_PKG_VERSION")), "the version is in the page: {main}");
    assert!(main.contains("Exit status"), "the exit codes are in the page: {main}");
    for sub in ["station-issue.1", "station-batch.1", "station-doctor.1", "station-card-read.1"] {
        assert!(page(sub).contains(".SH NAME"), "{sub}");
    }
    assert!(page("station-doctor.1").contains("3 with warnings"), "the doctor's codes");
}

#[test]
fn init_writes_a_configuration_doctor_reads_and_names_missing_flags_off_a_terminal() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("etc/station.toml");
    let data = dir.path().join("data");
    let (config_s, data_s) = (config.display().to_string(), data.display().to_string());
    let base = ["init", "--config", &config_s, "--data-dir", &data_s, "--service-user", "nobody-here"];
    // stdin is not a terminal here: every missing flag is named at once, nothing is written.
    let out = station(&[&base[..], &["--station", "S-0101"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for flag in ["--printer", "--profile", "--region", "--province-url", "--idv-ca"] {
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
    assert!(!config.exists());
    let flags = [
        "--station",
        "S-0101",
        "--printer",
        "tcp:192.0.2.7:9100",
        "--profile",
        "cards.toml",
        "--region",
        "110100",
        "--init-org",
        "11010000000000000001",
        "--province-url",
        "https://archive.example:8443",
        "--province-ca",
        "ca.pem",
        "--province-identity",
        "S-0101.pem",
        "--idv-url",
        "https://idv.example:8443",
        "--idv-ca",
        "idv-ca.pem",
        "--account",
        "wang:operator",
        "--account",
        "li:supervisor",
    ];
    let out = station(&[&base[..], &flags[..]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("wang (operator), li (supervisor)"), "{}", stdout(&out));
    let passwords = std::fs::read_to_string(data.join("initial-passwords.txt")).expect("passwords");
    assert_eq!(passwords.lines().filter(|l| !l.starts_with('#')).count(), 2, "{passwords}");
    // Doctor reads it and reports the devices it cannot reach (none exist here), not the file.
    let out = station(&["doctor", "--config", &config_s]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::DOCTOR_CANNOT_ISSUE)),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!stderr(&out).contains("station.toml:"), "the file itself is fine: {}", stderr(&out));
}

#[test]
fn payments_is_a_subcommand_that_checks_the_item_register() {
    let register = concat!(env!("CARGO_MANIFEST_DIR"), "/../payments/data/register.toml");
    let out = station(&["payments", "items", register]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("0101") && stdout(&out).contains("最低生活保障金"), "{}", stdout(&out));
    let out = station(&["payments", "items", "/nonexistent/register.csv"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILURE)), "{}", stderr(&out));
}

/// `station sim bank`: the simulated bank card system, its URL on the first line; an account
/// opened over HTTP answers for its card.
#[cfg(feature = "sim")]
#[test]
fn sim_bank_serves_the_simulated_bank_card_system() {
    use std::io::BufRead;
    let mut child = Command::new(STATION)
        .args(["sim", "bank", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("station sim bank");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("its URL");
    let url = line.trim();
    let http = reqwest::blocking::Client::new();
    let account = serde_json::json!({"card_number": "B00000019", "bank_code": "ICBC",
        "pan": "6212345302375609269", "holder_name": "张三", "id_number": "11010519491231002X"});
    let opened = http.post(format!("{url}/v1/sim/accounts")).json(&account).send().expect("open");
    assert_eq!(opened.status(), 201);
    let info: serde_json::Value =
        http.get(format!("{url}/v1/cards/B00000019/account")).send().and_then(|r| r.json()).expect("account");
    assert_eq!((info["bank_code"].as_str(), info["status"].as_str()), (Some("ICBC"), Some("not-activated")));
    let _ = child.kill();
    let _ = child.wait();
}

/// A station updated from a version that kept station.db in plaintext: its first start (here
/// `station reconcile` on the embedded default) encrypts it once, in place, and the ledger
/// says so; the chain and its MACs still verify, and the applicants' data is no longer in
/// clear on disk. A second start leaves it as it is.
#[test]
fn a_plaintext_station_db_is_encrypted_once_and_its_ledger_still_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    {
        let old = archive::local::LocalArchive::open_unencrypted(data.join("station.db"), "embedded")
            .expect("a plaintext archive")
            .with_ledger_key(station::ledger_key::open(None, None).expect("the simulators' ledger key"));
        let person = archive::local::PersonRow {
            ssn: "11010519491231002X".into(),
            name: "张三丰".into(),
            sex: None,
            birth_date: None,
        };
        old.upsert_person(&person).expect("person");
        for event in ["application.opened", "card.made"] {
            old.append_ledger("op1", None, None, event, &serde_json::json!({})).expect("entry");
        }
    }
    assert!(archive::local::is_plaintext_database(&data.join("station.db")));
    let data_s = data.to_string_lossy().to_string();
    let out = station(&["reconcile", "--data-dir", &data_s]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let raw = std::fs::read(data.join("station.db")).expect("station.db");
    assert!(!raw.starts_with(b"SQLite format 3") && !raw.windows(9).any(|w| w == "张三丰".as_bytes()));
    let local = common::station_db::open(&data, "embedded");
    let ledger = local.ledger().expect("ledger");
    let events: Vec<&str> = ledger.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["application.opened", "card.made", "database.encrypted", "reconcile.daily"]);
    assert!(ledger[2].detail.contains("plaintext"), "{}", ledger[2].detail);
    drop(local);
    let out = station(&["reconcile", "--data-dir", &data_s]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let local = common::station_db::open(&data, "embedded")
        .with_ledger_key(station::ledger_key::open(None, None).expect("the simulators' ledger key"));
    let check = local.check_ledger().expect("the chain and its MACs verify");
    assert_eq!(check.entries, 5);
    let encrypted =
        local.ledger().expect("ledger").iter().filter(|e| e.event == "database.encrypted").count();
    assert_eq!(encrypted, 1, "encrypted once");

    // `station compare --archive` reads the encrypted archive with the key beside it.
    let roster = dir.path().join("roster.csv");
    let rows =
        [roster::generate::scenario_header().join(","), roster::generate::roster_row(1, true).join(",")];
    std::fs::write(&roster, rows.join("\n") + "\n").expect("roster");
    let out_csv = dir.path().join("out.csv");
    let (roster_s, out_s) = (roster.to_string_lossy().to_string(), out_csv.to_string_lossy().to_string());
    let archive_s = data.join("station.db").to_string_lossy().to_string();
    let out = station(&["compare", "--roster", &roster_s, "--archive", &archive_s, "--out", &out_s]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(out_csv.exists());
}
