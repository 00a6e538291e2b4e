//! A month's payments for a county, end to end: the register and a GBK recipients roster
//! (bad rows, a deceased recipient, a deceased household member, stopped, lost, not
//! activated and not collected cards, households paid to the head's card, a passbook item)
//! to the bank's file, the bank's GBK return (a failure, a duplicate, a stranger, a payment
//! not returned), the reconciliation to the fen and the reports; an individual item from
//! XLSX beside it.

use std::path::Path;

use archive::CardStatus;
use payments::cards::{CardSource, IssuanceCards};
use payments::{import, prepare, report, Fen, Period, Register};
use roster::generate::{
    account_for, card_number_for, id_for, roster_row, write_issuance, IssuanceLine, ROSTER_HEADER,
};

fn card(i: u64, status: CardStatus, deceased: bool) -> IssuanceLine {
    IssuanceLine {
        ssn: id_for(i),
        card_number: card_number_for(i, 'B'),
        status,
        bank: "农村商业银行".into(),
        account: account_for(i),
        status_date: "2021-06-01".into(),
        deceased,
        failure: String::new(),
    }
}

/// A roster row of person `i`: amount, passbook account or none, deceased, head (id, name),
/// item code.
fn row(
    i: u64,
    amount: &str,
    passbook: bool,
    dead: bool,
    head: Option<(u64, &str)>,
    code: &str,
) -> Vec<String> {
    let mut r = roster_row(i, false);
    r[8] = amount.into();
    if !passbook {
        r[7] = String::new();
    }
    r.push(if dead { "是".into() } else { String::new() });
    match head {
        Some((h, name)) => r.extend([id_for(h), name.to_owned()]),
        None => r.extend([String::new(), String::new()]),
    }
    r.push(code.into());
    r
}

/// The recipients roster's columns: roster's, then the payments' own.
fn header() -> Vec<&'static str> {
    ROSTER_HEADER.iter().copied().chain(["是否死亡", "户主身份证号", "户主姓名", "项目代码"]).collect()
}

fn write_gbk_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("header");
    for r in rows {
        w.write_record(r).expect("row");
    }
    let text = String::from_utf8(w.into_inner().expect("csv")).expect("utf-8");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    std::fs::write(path, &gbk).expect("write");
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path).expect("open");
    let h =
        r.headers().expect("headers").iter().map(|s| s.trim_start_matches('\u{feff}').to_owned()).collect();
    let rows = r.records().map(|x| x.expect("row").iter().map(str::to_owned).collect()).collect();
    (h, rows)
}

fn col(h: &[String], name: &str) -> usize {
    h.iter().position(|x| x == name).unwrap_or_else(|| panic!("no column {name} in {h:?}"))
}

#[test]
fn a_month_of_a_county_from_register_and_roster_to_bank_file_return_and_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let register =
        Register::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/register.toml")).expect("register");
    let dibao = register.item("0101").expect("低保: household, passbook").clone();
    assert!(dibao.household && dibao.passbook);

    // The card system.
    let issuance = d.join("issuance.csv");
    let mut cards = vec![
        card(1, CardStatus::Active, false),
        card(2, CardStatus::Active, false),
        card(4, CardStatus::Active, false),
        card(5, CardStatus::Active, false),
        card(7, CardStatus::Active, false),
        card(8, CardStatus::Issued, true),
        card(9, CardStatus::Active, false),
        card(10, CardStatus::Active, true),
        card(11, CardStatus::Stopped, false),
        card(13, CardStatus::Issued, false),
        card(14, CardStatus::Made, false),
        card(21, CardStatus::Active, false),
        card(22, CardStatus::Stopped, false),
        card(23, CardStatus::Active, false),
    ];
    cards
        .push(IssuanceLine { card_number: card_number_for(101, 'C'), ..card(1, CardStatus::Stopped, false) });
    write_issuance(&issuance, &cards).expect("issuance");
    // A card reported lost (挂失): stopped, and said so.
    let mut text = std::fs::read_to_string(&issuance).expect("read");
    text.push_str(&format!(
        "{},{},挂失,农村商业银行,{},2021-09-01,0,\n",
        id_for(12),
        card_number_for(12, 'B'),
        account_for(12)
    ));
    std::fs::write(&issuance, text).expect("append");

    // The department's roster, GBK as Excel saves it on Chinese Windows.
    let mut rows = vec![
        row(1, "520", false, false, None, "0101"), // 2: paid to the card
        row(2, "300", false, false, None, "0101"), // 3: head of household H
        row(3, "260", false, false, Some((2, "")), "0101"), // 4: member of H without a card
        row(4, "260.5", false, false, Some((2, "")), "0101"), // 5: member of H with a card
        row(6, "410", false, false, Some((5, "户主五")), "0101"), // 6: household of 5, not on the roster
        row(7, "520", false, true, None, "0101"),  // 7: deceased (roster)
        row(8, "520", false, false, None, "0101"), // 8: deceased (card system)
        row(9, "300", false, false, None, "0101"), // 9: head of M
        row(10, "300", false, false, Some((9, "")), "0101"), // 10: member of M, deceased
        row(11, "520", true, false, None, "0101"), // 11: stopped card, passbook
        row(12, "520", false, false, None, "0101"), // 12: lost card
        row(13, "520", false, false, None, "0101"), // 13: not activated
        row(14, "520", false, false, None, "0101"), // 14: not collected
        row(15, "520", false, false, None, "0101"), // 15: no card at all
        row(16, "520", false, false, None, "0102"), // 16: another item's row
    ];
    let mut bad_id = row(17, "520", false, false, None, "0101");
    bad_id[1] = {
        let good = id_for(17);
        let last = if good.ends_with('0') { '1' } else { '0' };
        format!("{}{last}", &good[..17])
    };
    rows.push(bad_id); // 17: check character
    rows.push(row(18, "", false, false, None, "0101")); // 18: no amount
    rows.push(row(1, "520", false, false, None, "0101")); // 19: person 1 again
    let mut bad_head = row(19, "100", false, false, None, "0101");
    bad_head[12] = "37083119800101001".into();
    rows.push(bad_head); // 20: head's ID number too short
    rows.push(vec![String::new(); 15]); // 21: blank
    let recipients = d.join("低保-2022-03.csv");
    write_gbk_csv(&recipients, &header(), &rows);

    let out = d.join("out");
    let period = Period::parse("2022-03").expect("period");
    let mut opts = prepare::Options::new(
        dibao.clone(),
        period,
        recipients,
        vec![out.join("0101-2022-03.bank.csv"), out.join("0101-2022-03.bank.xlsx")],
    );
    opts.today = applicant::Date::new(2022, 3, 1).expect("day");
    let source = IssuanceCards::new(&issuance);
    let sources: [&dyn CardSource; 1] = [&source];
    let s = prepare::prepare(&opts, &sources).expect("prepare");
    let shown = s.to_string();
    assert_eq!(s.rows, 19, "{shown}");
    assert_eq!(s.other_items, 1, "{shown}");
    assert_eq!(s.rejected, 4, "{shown}");
    assert_eq!(s.payments.0, 5, "{shown}");
    assert_eq!(s.by_card.0, 4, "{shown}");
    assert_eq!(s.by_passbook, (1, Fen(52_000)), "{shown}");
    assert_eq!(s.refused.0, 7, "{shown}");
    for (p, n) in [("id-check-character", 1), ("amount-missing", 1), ("duplicate-id", 1), ("head-id", 1)] {
        assert_eq!(s.problems.get(p), Some(&n), "{p}: {shown}");
    }

    // The bank's file: the full ID number, the card's account, the summary, one payment per
    // household to the head's card.
    let (h, bank) = read_csv(&out.join("0101-2022-03.bank.csv"));
    assert_eq!(h, prepare::BANK_HEADERS);
    assert_eq!(bank.len(), 5);
    let by_id = |i: u64| bank.iter().find(|r| r[col(&h, "社会保障号码")] == id_for(i));
    let p1 = by_id(1).expect("person 1 paid");
    assert_eq!(p1[col(&h, "序号")], "1");
    assert_eq!(p1[col(&h, "社会保障卡号")], card_number_for(1, 'B'), "the live card, not the stopped one");
    assert_eq!(p1[col(&h, "银行卡号")], account_for(1));
    assert_eq!(p1[col(&h, "金额")], "520.00");
    assert_eq!(p1[col(&h, "摘要")], "2022-03 低保金");
    assert_eq!(p1[col(&h, "项目代码")], "0101");
    assert_eq!(p1[col(&h, "发放渠道")], "社保卡");
    let household = by_id(2).expect("household H to its head");
    assert_eq!(household[col(&h, "金额")], "820.50", "300 + 260 + 260.50, to the fen");
    assert_eq!(household[col(&h, "户内人数")], "3");
    assert!(by_id(3).is_none() && by_id(4).is_none(), "members are paid through the head");
    let k = by_id(5).expect("household K to its head, not on the roster");
    assert_eq!((k[col(&h, "姓名")].as_str(), k[col(&h, "金额")].as_str()), ("户主五", "410.00"));
    assert_eq!(
        by_id(9).expect("head of M")[col(&h, "金额")],
        "300.00",
        "the deceased member's share is not paid"
    );
    let passbook = by_id(11).expect("passbook");
    assert_eq!(passbook[col(&h, "发放渠道")], "一本通");
    assert_eq!(passbook[col(&h, "社会保障卡号")], "");
    assert_eq!(passbook[col(&h, "银行卡号")], roster_row(11, false)[7]);
    for i in [7, 8, 10, 12, 13, 14, 15] {
        assert!(by_id(i).is_none(), "person {i} is refused");
    }
    assert!(out.join("0101-2022-03.bank.xlsx").metadata().expect("xlsx").len() > 1000);

    // The status file and the to-do lists: every refusal with its reason and action.
    let (sh, status) = read_csv(&opts.status);
    assert_eq!(sh, prepare::STATUS_HEADERS);
    let refused: Vec<(String, String)> = status
        .iter()
        .filter(|r| r[col(&sh, "状态")] == "拒发")
        .map(|r| (r[col(&sh, "原因")].clone(), r[col(&sh, "姓名")].clone()))
        .collect();
    let reasons: Vec<&str> = refused.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "持卡人已死亡",
            "持卡人已死亡",
            "户内成员已死亡",
            "社保卡已挂失",
            "社保卡金融功能未激活",
            "社保卡未领取未激活",
            "无社保卡"
        ]
    );
    let deceased = status.iter().find(|r| r[col(&sh, "原因")] == "持卡人已死亡").expect("deceased");
    assert!(
        deceased[col(&sh, "处理建议")].contains("变更户主"),
        "a household item's head died: change the head"
    );
    let (th, todo) = read_csv(&opts.todo.join("全部.csv"));
    assert_eq!(todo.len(), 8, "7 refused and 1 paid to the passbook, to move to the card");
    assert!(todo.iter().any(|r| r[col(&th, "处理")].contains("一本通") && r[col(&th, "卡状态")] == "已停用"));
    let towns: std::collections::BTreeSet<&str> = todo.iter().map(|r| r[0].as_str()).collect();
    for t in towns {
        assert!(opts.todo.join(format!("{t}.csv")).exists(), "{t}");
    }
    let (rh, rejects) = read_csv(&opts.rejects);
    assert!(rejects.iter().all(|r| !r[col(&rh, "身份证号(隐去)")].contains(&id_for(17)[6..14])), "masked");

    // The bank's return, GBK: person 9 failed, person 1 twice, a stranger, person 11 missing.
    let ret = out.join("0101-2022-03.return.csv");
    let mut lines = Vec::new();
    for r in &bank {
        let g = |n: &str| r[col(&h, n)].clone();
        if g("社会保障号码") == id_for(11) {
            continue;
        }
        let failed = g("社会保障号码") == id_for(9);
        let line = vec![
            g("姓名"),
            g("银行卡号"),
            g("金额"),
            g("摘要"),
            "2022-03-15 09:30:00".into(),
            (if failed { "失败" } else { "成功" }).into(),
            (if failed { "账户已冻结" } else { "" }).into(),
        ];
        if g("社会保障号码") == id_for(1) {
            lines.push(line.clone());
        }
        lines.push(line);
    }
    lines.push(vec![
        "陌生人".into(),
        "6228480099999999999".into(),
        "10.00".into(),
        "2022-03 低保金".into(),
        String::new(),
        "成功".into(),
        String::new(),
    ]);
    write_gbk_csv(&ret, &["户名", "卡号", "金额", "摘要", "发放时间", "发放结果", "失败原因"], &lines);
    let io = import::Options::new(opts.status.clone(), ret.clone(), out.join("0101-2022-03.reconciled.csv"));
    let imp = import::import(&io).expect("import");
    let shown = imp.to_string();
    assert_eq!(imp.prepared, (5, Fen(52_000 + 82_050 + 41_000 + 30_000 + 52_000)), "{shown}");
    assert_eq!(imp.paid, (3, Fen(52_000 + 82_050 + 41_000), Fen(52_000 + 82_050 + 41_000)), "{shown}");
    assert_eq!(imp.failed, (1, Fen(30_000)), "{shown}");
    assert_eq!(imp.unreturned, (1, Fen(52_000)), "{shown}");
    assert_eq!(imp.duplicates, (1, Fen(52_000)), "{shown}");
    assert_eq!(imp.unmatched, (1, Fen(1_000)), "{shown}");
    assert!(imp.balanced(), "{shown}");
    assert!(shown.contains("yes, to the fen"), "{shown}");
    let (fh, failures) = read_csv(&io.failures.join("全部.csv"));
    assert_eq!(failures.len(), 2);
    let frozen = failures.iter().find(|r| r[col(&fh, "状态")] == "发放失败").expect("failed");
    assert!(frozen[col(&fh, "处理建议")].contains("冻结"));
    let (ph, problems) = read_csv(&io.problems);
    let rules: Vec<&str> = problems.iter().map(|r| r[col(&ph, "问题")].as_str()).collect();
    assert_eq!(rules, ["duplicate", "no-such-payment"]);

    // An individual item from XLSX: stopped card refused (no passbook), deceased refused.
    let pension = register.item("0501").expect("养老金").clone();
    assert!(!pension.household && !pension.passbook);
    let xlsx = d.join("养老金.xlsx");
    let mut w = roster::xlsx::SheetWriter::create(&xlsx, "基础信息表", &header()).expect("xlsx");
    for (i, dead) in [(21, false), (22, false), (23, true)] {
        let r = row(i, "188", true, dead, None, "");
        let fields: Vec<&str> = r.iter().map(String::as_str).collect();
        w.row(&fields).expect("row");
    }
    w.finish().expect("save");
    let mut o2 = prepare::Options::new(pension, period, xlsx, vec![out.join("0501-2022-03.bank.csv")]);
    o2.today = opts.today;
    let s2 = prepare::prepare(&o2, &sources).expect("prepare xlsx");
    assert_eq!((s2.payments.0, s2.refused.0), (1, 2), "{s2}");
    assert_eq!(s2.reasons[payments::cards::Refusal::Stopped.index()], 1);
    assert_eq!(s2.reasons[payments::cards::Refusal::Deceased.index()], 1);

    // The same batch prepared again (or the roster sent twice): nobody is paid twice for the
    // item in its pay period; the paid register says why, owner-only.
    let again_out = out.join("again");
    let mut again = prepare::Options::new(
        dibao.clone(),
        period,
        opts.recipients.clone(),
        vec![again_out.join("0101-2022-03.bank.csv")],
    );
    again.today = opts.today;
    again.paid = opts.paid.clone();
    let s3 = prepare::prepare(&again, &sources).expect("prepared again");
    assert_eq!(s3.payments.0, 0, "{s3}");
    assert_eq!(s3.reasons[payments::cards::Refusal::AlreadyPaid.index()], 5, "{s3}");
    let (_, bank_again) = read_csv(&again_out.join("0101-2022-03.bank.csv"));
    assert!(bank_again.is_empty(), "an empty bank file: {bank_again:?}");
    let (_, paid) = read_csv(&opts.paid.join("0101-2022-03.csv"));
    assert_eq!(paid.len(), 5, "0101's five payees in March: {paid:?}");
    let (_, pensions) = read_csv(&opts.paid.join("0501-2022-03.csv"));
    assert_eq!(pensions.len(), 1, "0501's one: {pensions:?}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = opts.paid.join("0101-2022-03.csv");
        let mode = std::fs::metadata(&file).expect("register").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the register holds full ID numbers");
    }

    // Reports over the month: the reconciled 0101 and the 0501 not yet returned.
    let files = report::status_files(std::slice::from_ref(&out)).expect("files");
    assert_eq!(files.len(), 2, "{files:?}");
    let rep = report::Report::read(&files, Some(&register)).expect("report");
    let written = rep.write(&out.join("report")).expect("write");
    assert!(written.iter().any(|f| f.ends_with("card_share.svg")));
    let (ih, items) = read_csv(&out.join("report/items.csv"));
    let dibao_row = items.iter().find(|r| r[0] == "0101").expect("0101");
    assert_eq!(dibao_row[col(&ih, "期间")], "2022-03");
    assert_eq!(dibao_row[col(&ih, "应发人数")], "12");
    assert_eq!(dibao_row[col(&ih, "已发放")], "3");
    assert_eq!(dibao_row[col(&ih, "发放失败")], "1");
    assert_eq!(dibao_row[col(&ih, "拒发")], "7");
    assert_eq!(dibao_row[col(&ih, "发放金额")], "1750.50");
    assert_eq!(dibao_row[col(&ih, "社保卡发放率%")], "25.0");
    assert_eq!(
        (dibao_row[col(&ih, "目标%")].as_str(), dibao_row[col(&ih, "达标")].as_str()),
        ("100", "未达标")
    );
    let svg = std::fs::read_to_string(out.join("report/card_share.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("最低生活保障金") && svg.contains("目标 100%"));

    // No full ID number anywhere but the bank's files, nor in what the console shows.
    let ids: Vec<String> = (1..=23).map(id_for).collect();
    let mut stack = vec![out.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).expect("dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            // The bank's files and the paid register (owner-only, checked above) carry the full
            // ID number: the bank pays against it, the register matches on it.
            if name.contains(".bank.")
                || name.ends_with(".xlsx")
                || path.parent().is_some_and(|d| d.ends_with("payments-paid"))
            {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            for id in &ids {
                assert!(!text.contains(id.as_str()), "a full ID number in {name}");
            }
        }
    }
    for text in [s.to_string(), s2.to_string(), imp.to_string()] {
        assert!(!ids.iter().any(|id| text.contains(id.as_str())));
    }

    // A return whose amount differs is not reconciled.
    let mut bad = lines.clone();
    bad.truncate(1);
    bad[0][2] = "519.99".into();
    let ret2 = out.join("0101-2022-03.return2.csv");
    write_gbk_csv(&ret2, &["户名", "卡号", "金额", "摘要", "发放时间", "发放结果", "失败原因"], &bad);
    let imp2 =
        import::import(&import::Options::new(opts.status.clone(), ret2, out.join("again.reconciled.csv")))
            .expect("import");
    assert!(!imp2.balanced());
    assert_eq!(imp2.mismatches.get("amount-mismatch"), Some(&1));
    assert!(imp2.to_string().contains("-0.01"), "{imp2}");
}
