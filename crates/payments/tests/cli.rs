//! `station payments` as the station runs it: prepare, the bank's return, import, report,
//! with the default file names.

use clap::Parser;
use payments::cli::Args;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn run(args: &[&str]) {
    let mut v = vec!["station-payments"];
    v.extend_from_slice(args);
    payments::run(Cli::try_parse_from(v).expect("arguments").args).expect("run");
}

#[test]
fn prepare_import_and_report_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = |p: &str| dir.path().join(p).display().to_string();
    let register = concat!(env!("CARGO_MANIFEST_DIR"), "/data/register.toml");
    roster::generate::write_bench_issuance(dir.path().join("issuance.csv").as_path(), 2_000)
        .expect("issuance");
    let reg = payments::Register::load(std::path::Path::new(register)).expect("register");
    let item = reg.item("0102").expect("特困");
    payments::generate::write_recipients(&dir.path().join("r.csv"), item, 300, 2_000, 1).expect("roster");
    run(&[
        "prepare",
        "--items",
        register,
        "--item",
        "0102",
        "--period",
        "2022-04",
        "--recipients",
        &d("r.csv"),
        "--issuance",
        &d("issuance.csv"),
        "--out",
        &d("out/0102-2022-04.bank.csv"),
        "--today",
        "2022-04-01",
    ]);
    let status = dir.path().join("out/0102-2022-04.status.csv");
    assert!(status.exists() && dir.path().join("out/0102-2022-04.todo/全部.csv").exists());
    payments::generate::write_return(&status, &dir.path().join("ret.csv"), 7, 11).expect("return");
    run(&["import", "--status", &status.display().to_string(), "--return", &d("ret.csv")]);
    assert!(dir.path().join("out/0102-2022-04.reconciled.csv").exists());
    run(&["report", &d("out"), "--items", register, "--out", &d("report")]);
    for f in [
        "report.md",
        "items.csv",
        "townships.csv",
        "months.csv",
        "detail.csv",
        "card_share.svg",
        "outcomes.svg",
        "amounts.svg",
    ] {
        assert!(dir.path().join("report").join(f).exists(), "{f}");
    }
    let items = std::fs::read_to_string(dir.path().join("report/items.csv")).expect("items");
    assert!(items.contains("0102,特困人员救助供养金,2022-04,合计,300,"), "{items}");
}
