//! The comparison end to end on the generated scenario: every class, every action and every
//! kind of bad row, from CSV against an issuance file and from XLSX against the archives.

use std::collections::HashMap;
use std::path::Path;

use applicant::Date;
use roster::compare::{compare, Options};
use roster::generate::{self, Expect};
use roster::records::{ArchiveRecords, IssuanceFile, IssuanceRecords};
use roster::report::Deadlines;
use roster::validate::{Kind, Rules};
use roster::Class;

fn rules() -> Rules {
    Rules { today: Date::new(2025, 6, 1).expect("day"), default_kind: Kind::Existing, strict: false }
}

/// Reads a CSV output (BOM and all) into header -> column maps, one per row.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h: Vec<String> =
        r.headers().expect("headers").iter().map(|s| s.trim_start_matches('\u{feff}').to_owned()).collect();
    r.records()
        .map(|rec| h.iter().cloned().zip(rec.expect("record").iter().map(str::to_owned)).collect())
        .collect()
}

fn check_outputs(dir: &Path, s: &generate::Scenario, summary: &roster::Summary, blank_rows_seen: bool) {
    let out = read_csv(&dir.join("out.csv"));
    let by_row: HashMap<u32, &HashMap<String, String>> =
        out.iter().map(|r| (r["行号"].parse().expect("row"), r)).collect();
    let rejects = read_csv(&dir.join("out.rejects.csv"));
    for (row, e) in &s.expect {
        let rej: Vec<&str> =
            rejects.iter().filter(|r| r["行号"] == row.to_string()).map(|r| r["规则"].as_str()).collect();
        match e {
            Expect::Class(c) => {
                assert_eq!(by_row.get(row).map(|r| r["比对结果"].as_str()), Some(c.word()), "row {row}");
                assert!(rej.is_empty(), "row {row}: {rej:?}");
            }
            Expect::Fix(rule, c) => {
                assert_eq!(by_row.get(row).map(|r| r["比对结果"].as_str()), Some(c.word()), "row {row}");
                assert!(by_row[row]["数据问题"].contains(rule), "row {row}");
                assert_eq!(rej, [*rule], "row {row}");
            }
            Expect::Reject(rule) => {
                assert!(!by_row.contains_key(row), "row {row} must not be compared");
                assert_eq!(rej, [*rule], "row {row}");
                let line = rejects.iter().find(|r| r["行号"] == row.to_string()).expect("line");
                assert_eq!(line["处理"], "拒收");
                assert!(!line["处理建议"].is_empty());
            }
            Expect::Blank => assert!(!by_row.contains_key(row) && rej.is_empty(), "row {row}"),
        }
    }
    // Nothing dropped silently: every non-blank row is compared or rejected.
    // (A blank row has no cells in XLSX, so the reader never sees it there.)
    let blank = s.expect.iter().filter(|(_, e)| *e == Expect::Blank).count() as u64;
    assert_eq!(summary.blank_rows, if blank_rows_seen { blank } else { 0 });
    assert_eq!(summary.compared + summary.rejected + blank, s.rows.len() as u64);
    assert_eq!(summary.rows, summary.compared + summary.rejected);
    assert_eq!(summary.compared as usize, out.len());

    // The card's bank and account are filled in, each row's from its card's record (an
    // archive's bank code by its name); payment elsewhere asks for a switch.
    let active = by_row[&2];
    assert_eq!(active["社保卡金融账号"], generate::account_for(1));
    assert!(!active["社保卡号"].is_empty());
    let mut filled = 0;
    for row in by_row.values() {
        let Some(card) =
            s.cards.iter().find(|c| !c.card_number.is_empty() && c.card_number == row["社保卡号"])
        else {
            continue;
        };
        assert_eq!(
            (row["社保卡发卡银行"].as_str(), row["社保卡金融账号"].as_str()),
            (card.bank.as_str(), card.account.as_str()),
            "row {}",
            row["行号"]
        );
        filled += 1;
    }
    assert!(filled >= 4, "the bank and account of every card are filled in ({filled})");
    assert_eq!(active["待办事项"], "");
    assert_eq!(by_row[&3]["待办事项"], "变更发放账号");
    assert_eq!(
        (by_row[&4]["待办事项"].as_str(), by_row[&4]["库存/睡眠/回收"].as_str()),
        ("领卡并激活", "库存卡")
    );
    assert_eq!((by_row[&5]["待办事项"].as_str(), by_row[&5]["库存/睡眠/回收"].as_str()), ("激活", "睡眠卡"));
    assert_eq!(by_row[&6]["待办事项"], "核实后重新申领");
    assert_eq!(by_row[&7]["待办事项"], "申领");
    assert_eq!(by_row[&8]["库存/睡眠/回收"], "回收卡");
    assert_eq!(by_row[&9]["社保卡号"], generate::card_number_for(108, 'C'), "the re-issued card");
    assert_eq!(by_row[&10]["待办事项"], "注销卡片");
    assert_eq!(by_row[&11]["待办事项"], "");
    assert_eq!(by_row[&12]["身份证号"].len(), 18, "15-digit number upgraded");

    // Action lists: one file per township, sorted by village, IDs masked.
    let summary_rows = read_csv(&dir.join("actions").join("汇总.csv"));
    let listed: u64 = summary_rows
        .iter()
        .map(|r| roster::Action::ALL.iter().map(|a| r[a.word()].parse::<u64>().expect("n")).sum::<u64>())
        .sum();
    assert_eq!(listed, summary.actions.iter().sum::<u64>());
    let mut in_files = 0;
    for entry in std::fs::read_dir(dir.join("actions")).expect("dir") {
        let p = entry.expect("entry").path();
        if p.file_name().is_some_and(|n| n == "汇总.csv") {
            continue;
        }
        let rows = read_csv(&p);
        let villages: Vec<&str> = rows.iter().map(|r| r["村(社区)"].as_str()).collect();
        assert!(villages.windows(2).all(|w| w[0] <= w[1]), "{}: sorted by village", p.display());
        for r in &rows {
            assert!(r["身份证号(隐去)"].contains("********"), "masked");
        }
        in_files += rows.len() as u64;
    }
    assert_eq!(in_files, listed);

    // Reports: tables, Markdown and charts.
    let reports = dir.join("reports");
    for f in ["progress.csv", "usage.csv", "stock.csv", "report.md", "progress.svg", "usage.svg", "stock.svg"]
    {
        assert!(reports.join(f).exists(), "{f}");
    }
    let progress = read_csv(&reports.join("progress.csv"));
    let total = progress.iter().find(|r| r["镇街"] == "合计").expect("total row");
    assert_eq!(total["名单人数"], summary.compared.to_string());
    assert!(progress.iter().any(|r| r["状态"].starts_with("剩余")), "deadline counted down");
    let usage = read_csv(&reports.join("usage.csv"));
    assert!(usage.iter().any(|r| r["类别"] == "新增" && r["用卡率目标%"] == "95"));
    assert!(usage.iter().any(|r| r["类别"] == "存量" && r["用卡率目标%"] == "60"));
    let stock = read_csv(&reports.join("stock.csv"));
    let t = stock.iter().find(|r| r["镇街"] == "合计").expect("total");
    assert_eq!(
        (t["库存卡"].as_str(), t["睡眠卡"].as_str(), t["回收卡"].as_str(), t["死亡人员待注销卡"].as_str()),
        ("1", "1", "1", "1")
    );
    let svg = std::fs::read_to_string(reports.join("usage.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("新增目标 95%"));
}

fn options(dir: &Path, roster: &Path, outs: &[&str]) -> Options {
    let mut o = Options::new(roster.to_path_buf(), outs.iter().map(|f| dir.join(f)).collect(), rules());
    o.actions = dir.join("actions");
    o.reports = Some(dir.join("reports"));
    o.deadlines = Deadlines { default: Date::new(2025, 8, 20).ok(), ..Deadlines::default() };
    o.batch = 7; // several batches, so order across batches is exercised
    o
}

#[test]
fn csv_roster_against_an_issuance_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = generate::scenario();
    let roster = dir.path().join("roster.csv");
    generate::write_scenario_csv(&roster, &s).expect("roster");
    let issuance = dir.path().join("issuance.csv");
    generate::write_issuance(&issuance, &s.cards).expect("issuance");
    let opts = options(dir.path(), &roster, &["out.csv", "out.xlsx"]);
    let summary = compare(&opts, &IssuanceFile::new(&issuance).with_block_size(256)).expect("compare");
    assert_eq!(summary.scan.unreadable, 1, "the line with a bad check character");
    assert_eq!(summary.classes[Class::Deceased.index()], 2);
    check_outputs(dir.path(), &s, &summary, true);
    // The XLSX copy reads back with the same rows.
    let back = roster::input::read_all(&dir.path().join("out.xlsx"), None).expect("xlsx");
    assert_eq!(back.len() as u64, summary.compared);
    // No spool left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".roster-spool"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn xlsx_roster_against_the_archives() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = generate::scenario();
    // One more row whose ID number Excel holds as a number.
    let mut row = generate::roster_row(500, true);
    row.resize(12, String::new());
    s.rows.push(row);
    let numeric_row = s.rows.len() as u32 + 1;
    s.expect.push((numeric_row, Expect::Reject("id-number-cell")));
    let roster = dir.path().join("roster.xlsx");
    generate::write_scenario_xlsx(&roster, &s, Some(numeric_row)).expect("xlsx");
    let (local, prov) = (dir.path().join("station.db"), dir.path().join("provincial.db"));
    generate::write_scenario_archive(&local, &prov, &s).expect("archives");
    // Encrypted as a station keeps it: read with its data key, refused without.
    let key = archive::at_rest::DataKey::generate().expect("random");
    drop(archive::local::LocalArchive::open(&local, "S1", &key).expect("encrypted"));
    let e = ArchiveRecords::new(&local, Some(prov.clone())).lookup(&generate::id_for(8)).expect_err("no key");
    assert!(e.to_string().contains("is encrypted"), "{e}");
    let source = ArchiveRecords::new(&local, Some(prov)).with_key(Some(key));
    let opts = options(dir.path(), &roster, &["out.csv"]);
    let summary = compare(&opts, &source).expect("compare");
    check_outputs(dir.path(), &s, &summary, false);
    // The single-person lookup of the trait.
    let one = source.lookup(&generate::id_for(8)).expect("lookup").expect("found");
    assert_eq!(one.cards.len(), 2);
    assert!(source.lookup(&generate::id_for(6)).expect("lookup").is_none());
}

#[test]
fn gbk_csv_and_strict_mode() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = generate::scenario();
    let mut text = String::new();
    text.push_str(&generate::scenario_header().join(","));
    text.push('\n');
    for r in &s.rows {
        text.push_str(&r.join(","));
        text.push('\n');
    }
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let roster = dir.path().join("roster-gbk.csv");
    std::fs::write(&roster, &gbk).expect("write");
    let issuance = dir.path().join("issuance.csv");
    generate::write_issuance(&issuance, &s.cards).expect("issuance");
    let mut opts = options(dir.path(), &roster, &["out.csv"]);
    opts.rules.strict = true;
    let summary = compare(&opts, &IssuanceFile::new(&issuance)).expect("compare");
    let fixes =
        s.expect.iter().filter(|(_, e)| matches!(e, Expect::Fix(r, _) if *r != "id-upgraded-15")).count()
            as u64;
    let rejects = s.expect.iter().filter(|(_, e)| matches!(e, Expect::Reject(_))).count() as u64;
    assert_eq!(summary.rejected, fixes + rejects);
    let out = read_csv(&dir.path().join("out.csv"));
    assert!(out.iter().any(|r| r["姓名"] == s.rows[0][0]), "names decoded from GBK");
}

#[test]
fn a_roster_without_an_id_column_fails_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let roster = dir.path().join("r.csv");
    std::fs::write(&roster, "姓名,手机号\n张三,13800138000\n").expect("write");
    let issuance = dir.path().join("i.csv");
    std::fs::write(&issuance, format!("{}\n", generate::ISSUANCE_HEADER)).expect("write");
    let e =
        compare(&options(dir.path(), &roster, &["o.csv"]), &IssuanceFile::new(&issuance)).expect_err("no ID");
    assert!(e.to_string().contains("身份证号"), "{e}");
}
