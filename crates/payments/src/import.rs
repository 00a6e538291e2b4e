//! `station payments import`: the paying bank's return file (回盘) against the batch.
//!
//! Guangdong's notice (seed 004, 三(四)) has the banks report every payment back: 户名, 卡号,
//! 金额, 摘要, 发放时间. A return file is a CSV (UTF-8 or GBK) or XLSX with those headers
//! (and 发放结果/失败原因 when some payments failed; without them every line is a success).
//!
//! Each return line is matched to the batch's payment by the account (卡号); then the holder's
//! name, the amount (to the fen) and the summary are compared. A second line for a payment
//! already returned is a duplicate and refused (never counted twice); a line matching no
//! payment of the batch is refused. Payments the bank did not return stay "未回盘". The
//! reconciliation holds to the fen: prepared = paid + failed + not returned.
//!
//! Outputs: the reconciled status file (the batch's [`STATUS_HEADERS`] with the return's
//! amount, time and remarks: read by `report`), the failures per township with the action
//! ([`FAILURE_HEADERS`]), and the return's problems ([`PROBLEM_HEADERS`]).
//!
//! [`STATUS_HEADERS`]: crate::prepare::STATUS_HEADERS

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use roster::input::TableSink;
use roster::key::mask;
use roster::text::{csv_err, csv_out};
use roster::RosterError;

use crate::money::Fen;
use crate::status;
use crate::table::{cell, find_columns};
use crate::PaymentsError;

/// The failures lists.
pub const FAILURE_HEADERS: [&str; 13] = [
    "乡镇",
    "村(社区)",
    "状态",
    "原因",
    "处理建议",
    "姓名",
    "身份证号(隐去)",
    "社会保障卡号",
    "银行卡号(隐去)",
    "金额",
    "项目代码",
    "期间",
    "序号",
];

/// The return's problems: lines refused or flagged.
pub const PROBLEM_HEADERS: [&str; 9] =
    ["行号", "处理", "问题", "说明", "户名", "卡号(隐去)", "金额", "摘要", "发放时间"];

/// Columns the reconciled status file adds.
pub const RECONCILED_EXTRA: [&str; 3] = ["回盘金额", "发放时间", "回盘说明"];

/// What to import and where the results go.
#[derive(Debug, Clone)]
pub struct Options {
    /// The batch's status file (from `prepare`).
    pub status: PathBuf,
    /// The bank's return file.
    pub returns: PathBuf,
    /// The XLSX sheet of the return (default: the first).
    pub sheet: Option<String>,
    /// The reconciled status file.
    pub out: PathBuf,
    /// Directory of the failures lists.
    pub failures: PathBuf,
    /// The problems file.
    pub problems: PathBuf,
}

impl Options {
    /// Defaults beside `out`: `<stem>.failures/`, `<stem>.problems.csv`.
    pub fn new(status: PathBuf, returns: PathBuf, out: PathBuf) -> Options {
        let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("reconciled").to_owned();
        let dir = out.parent().map(Path::to_path_buf).unwrap_or_default();
        Options {
            status,
            returns,
            sheet: None,
            failures: dir.join(format!("{stem}.failures")),
            problems: dir.join(format!("{stem}.problems.csv")),
            out,
        }
    }
}

/// The reconciliation of a batch with its return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Payments in the batch, and their amount.
    pub prepared: (u64, Fen),
    /// Paid: count, the amount the batch asked, the amount the bank reports.
    pub paid: (u64, Fen, Fen),
    /// Failed, with the batch's amount.
    pub failed: (u64, Fen),
    /// Not in the return.
    pub unreturned: (u64, Fen),
    /// Return lines refused as duplicates, and their amount.
    pub duplicates: (u64, Fen),
    /// Return lines matching no payment of the batch.
    pub unmatched: (u64, Fen),
    /// Return lines that could not be read.
    pub unreadable: u64,
    /// Paid lines whose name, amount or summary differ from the batch.
    pub mismatches: BTreeMap<&'static str, u64>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl Summary {
    /// prepared = paid + failed + not returned, to the fen, and the bank paid what was asked.
    pub fn balanced(&self) -> bool {
        self.prepared.1 == self.paid.1 + self.failed.1 + self.unreturned.1
            && self.prepared.0 == self.paid.0 + self.failed.0 + self.unreturned.0
            && self.paid.1 == self.paid.2
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "prepared:     {:>8} payments, {} yuan", self.prepared.0, self.prepared.1)?;
        writeln!(
            f,
            "paid:         {:>8}, {} yuan (the bank reports {} yuan)",
            self.paid.0, self.paid.1, self.paid.2
        )?;
        writeln!(f, "failed:       {:>8}, {} yuan", self.failed.0, self.failed.1)?;
        writeln!(f, "not returned: {:>8}, {} yuan", self.unreturned.0, self.unreturned.1)?;
        writeln!(
            f,
            "refused return lines: {} duplicates ({} yuan), {} matching no payment ({} yuan), {} unreadable",
            self.duplicates.0, self.duplicates.1, self.unmatched.0, self.unmatched.1, self.unreadable
        )?;
        for (k, n) in &self.mismatches {
            writeln!(f, "  {k}: {n}")?;
        }
        let diff = self.paid.2 - self.paid.1;
        write!(
            f,
            "reconciled: {} (difference paid - asked: {diff} yuan)",
            if self.balanced() { "yes, to the fen" } else { "NO" }
        )
    }
}

/// What to do about a failed payment, from the bank's reason.
pub fn failure_action(reason: &str) -> &'static str {
    let has = |w: &[&str]| w.iter().any(|x| reason.contains(x));
    if has(&["户名", "姓名", "名称不符"]) {
        "核对户名与社保卡持卡人一致后补发"
    } else if has(&["销户", "注销", "已关闭"]) {
        "账户已销户: 补换社保卡并激活后补发"
    } else if has(&["冻结", "止付", "挂失"]) {
        "账户冻结或挂失: 持卡人到发卡银行解冻或补卡后补发"
    } else if has(&["未激活", "睡眠", "休眠", "久悬"]) {
        "本人到发卡银行面签激活金融功能后补发"
    } else if has(&["不存在", "错误", "无此", "账号有误", "卡号有误"]) {
        "核实社保卡金融账号后补发"
    } else {
        "联系代发银行核实原因后补发"
    }
}

fn parse_result(result: &str, reason: &str) -> Option<bool> {
    match result.trim().to_ascii_lowercase().as_str() {
        "" => Some(reason.trim().is_empty()),
        "成功" | "已发放" | "发放成功" | "入账成功" | "已入账" | "交易成功" | "0000" | "s" | "success"
        | "ok" => Some(true),
        "失败" | "发放失败" | "入账失败" | "退回" | "退票" | "交易失败" | "f" | "fail" | "failed" => {
            Some(false)
        }
        _ => None,
    }
}

/// One payment of the batch.
struct Pay {
    record: csv::StringRecord,
    state: &'static str,
    returned: Option<Fen>,
    time: String,
    remarks: Vec<String>,
    reason: String,
}

/// The status file's column positions.
struct StatusCols {
    seq: usize,
    name: usize,
    account: usize,
    amount: usize,
    summary: usize,
    state: usize,
    reason: usize,
    action: usize,
}

fn read_status(path: &Path) -> Result<(csv::StringRecord, StatusCols, Vec<Pay>), PaymentsError> {
    let bad = |m: String| PaymentsError::Input { path: path.to_path_buf(), message: m };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(|e| bad(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
    let hs: Vec<String> = headers.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
    let want: Vec<&[&str]> = ["序号", "姓名", "银行卡号", "金额", "摘要", "状态", "原因", "处理建议"]
        .iter()
        .map(std::slice::from_ref)
        .collect();
    let at = find_columns(&hs, &want);
    let need = |i: usize| {
        at[i].ok_or_else(|| {
            bad(format!("not a status file of `payments prepare`: no '{}' column", want[i][0]))
        })
    };
    let cols = StatusCols {
        seq: need(0)?,
        name: need(1)?,
        account: need(2)?,
        amount: need(3)?,
        summary: need(4)?,
        state: need(5)?,
        reason: need(6)?,
        action: need(7)?,
    };
    let mut pays = Vec::new();
    for r in rdr.records() {
        let record = r.map_err(|e| bad(e.to_string()))?;
        let state = match record.get(cols.state).unwrap_or_default() {
            status::REFUSED => status::REFUSED,
            _ => status::PENDING,
        };
        pays.push(Pay {
            record,
            state,
            returned: None,
            time: String::new(),
            remarks: Vec::new(),
            reason: String::new(),
        });
    }
    Ok((headers, cols, pays))
}

/// Reads the return file into the batch.
struct ReturnPass<'a> {
    cols: Vec<Option<usize>>,
    pays: &'a mut [Pay],
    sc: &'a StatusCols,
    by_account: HashMap<Box<str>, usize>,
    problems: csv::Writer<std::io::BufWriter<std::fs::File>>,
    problems_path: &'a Path,
    summary: &'a mut Summary,
}

const R_NAME: usize = 0;
const R_ACCOUNT: usize = 1;
const R_AMOUNT: usize = 2;
const R_SUMMARY: usize = 3;
const R_TIME: usize = 4;
const R_RESULT: usize = 5;
const R_REASON: usize = 6;
const RETURN_COLUMNS: [&[&str]; 7] = [
    &["户名", "姓名", "持卡人姓名", "账户名称", "收款人姓名"],
    &["卡号", "银行卡号", "金融账号", "账号", "收款账号"],
    &["金额", "发放金额", "交易金额", "实发金额"],
    &["摘要", "用途", "附言"],
    &["发放时间", "交易时间", "入账时间", "处理时间", "时间"],
    &["发放结果", "处理结果", "结果", "状态", "交易状态"],
    &["失败原因", "原因", "备注", "说明"],
];

impl ReturnPass<'_> {
    #[allow(clippy::too_many_arguments)]
    fn problem(
        &mut self,
        row: u32,
        refused: bool,
        rule: &str,
        message: &str,
        cells: &[(String, bool)],
    ) -> Result<(), RosterError> {
        let c = |i: usize| cell(cells, self.cols[i]).to_owned();
        self.problems
            .write_record([
                row.to_string().as_str(),
                if refused { "拒收" } else { "需核对" },
                rule,
                message,
                &c(R_NAME),
                &mask(&c(R_ACCOUNT)),
                &c(R_AMOUNT),
                &c(R_SUMMARY),
                &c(R_TIME),
            ])
            .map_err(csv_err(self.problems_path))
    }
}

impl TableSink for ReturnPass<'_> {
    fn header(&mut self, headers: &[String]) -> Result<bool, RosterError> {
        self.cols = find_columns(headers, &RETURN_COLUMNS);
        for (i, what) in [(R_ACCOUNT, "卡号"), (R_AMOUNT, "金额")] {
            if self.cols[i].is_none() {
                return Err(RosterError::MissingColumn { column: what, found: headers.join(", ") });
            }
        }
        Ok(true)
    }

    fn row(&mut self, row: u32, cells: &[(String, bool)]) -> Result<bool, RosterError> {
        if cells.iter().all(|c| c.0.is_empty()) {
            return Ok(true);
        }
        let get = |i: usize| cell(cells, self.cols[i]);
        let account: String = get(R_ACCOUNT).chars().filter(|c| !c.is_whitespace()).collect();
        let amount = Fen::parse(get(R_AMOUNT));
        let ok = parse_result(get(R_RESULT), get(R_REASON));
        let (Some(amount), Some(ok), false) = (amount, ok, account.is_empty()) else {
            self.summary.unreadable += 1;
            let why = if account.is_empty() {
                "the line has no card number (卡号)"
            } else if amount.is_none() {
                "the amount is not yuan with at most two decimals"
            } else {
                "the result is neither success (成功) nor failure (失败)"
            };
            self.problem(row, true, "unreadable", why, cells)?;
            return Ok(true);
        };
        let Some(&i) = self.by_account.get(account.as_str()) else {
            self.summary.unmatched.0 += 1;
            self.summary.unmatched.1 += amount;
            self.problem(
                row,
                true,
                "no-such-payment",
                "no payment of this batch went to this card number",
                cells,
            )?;
            return Ok(true);
        };
        if self.pays[i].returned.is_some() || self.pays[i].state != status::PENDING {
            self.summary.duplicates.0 += 1;
            self.summary.duplicates.1 += amount;
            self.problem(
                row,
                true,
                "duplicate",
                "this payment is already returned: a second line is not counted",
                cells,
            )?;
            return Ok(true);
        }
        let sc = self.sc;
        let pay = &mut self.pays[i];
        let field = |k: usize| pay.record.get(k).unwrap_or_default().to_owned();
        let asked = Fen::parse(&field(sc.amount)).unwrap_or_default();
        let mut flags: Vec<(&'static str, String)> = Vec::new();
        let name = get(R_NAME);
        if !name.is_empty() && name != field(sc.name) {
            flags.push(("name-mismatch", "户名不符".into()));
        }
        if amount != asked {
            flags.push(("amount-mismatch", format!("金额不符: 应发 {asked}, 回盘 {amount}")));
        }
        let summary = get(R_SUMMARY);
        if !summary.is_empty() && summary != field(sc.summary) {
            flags.push(("summary-mismatch", "摘要不符".into()));
        }
        pay.returned = Some(amount);
        pay.time = get(R_TIME).to_owned();
        if ok {
            pay.state = status::PAID;
        } else {
            pay.state = status::FAILED;
            pay.reason = if get(R_REASON).is_empty() {
                "银行未说明原因".into()
            } else {
                get(R_REASON).to_owned()
            };
        }
        pay.remarks = flags.iter().map(|f| f.1.clone()).collect();
        for (rule, message) in flags {
            *self.summary.mismatches.entry(rule).or_default() += 1;
            self.problem(row, false, rule, &message, cells)?;
        }
        Ok(true)
    }
}

/// Imports the bank's return of a batch.
pub fn import(opts: &Options) -> Result<Summary, PaymentsError> {
    let (headers, sc, mut pays) = read_status(&opts.status)?;
    let mut summary = Summary::default();
    let mut by_account: HashMap<Box<str>, usize> = HashMap::with_capacity(pays.len());
    for (i, p) in pays.iter().enumerate() {
        if p.state == status::PENDING {
            let account = p.record.get(sc.account).unwrap_or_default();
            summary.prepared.0 += 1;
            summary.prepared.1 += Fen::parse(p.record.get(sc.amount).unwrap_or_default()).unwrap_or_default();
            if by_account.insert(account.into(), i).is_some() {
                return Err(PaymentsError::Input {
                    path: opts.status.clone(),
                    message: format!(
                        "two payments of the batch go to account {}: prepare the batch again",
                        mask(account)
                    ),
                });
            }
        }
    }
    let mut problems = csv_out(&opts.problems)?;
    problems.write_record(PROBLEM_HEADERS).map_err(csv_err(&opts.problems))?;
    let mut pass = ReturnPass {
        cols: Vec::new(),
        pays: &mut pays,
        sc: &sc,
        by_account,
        problems,
        problems_path: &opts.problems,
        summary: &mut summary,
    };
    roster::input::read_table(&opts.returns, opts.sheet.as_deref(), &mut pass)?;
    let mut problems = pass.problems;
    problems.flush().map_err(|e| PaymentsError::io(&opts.problems, e))?;

    let mut out = csv_out(&opts.out)?;
    let mut h: Vec<String> = headers.iter().map(|h| h.trim_start_matches('\u{feff}').to_owned()).collect();
    h.extend(RECONCILED_EXTRA.iter().map(|s| (*s).to_owned()));
    out.write_record(&h).map_err(csv_err(&opts.out))?;
    let mut failures: BTreeMap<Box<str>, Vec<Vec<String>>> = BTreeMap::new();
    let col = |name: &str| h.iter().position(|x| x == name);
    let (town, village, id, card, code, period) = (
        col("乡镇"),
        col("村(社区)"),
        col("身份证号(隐去)"),
        col("社会保障卡号"),
        col("项目代码"),
        col("期间"),
    );
    for p in &mut pays {
        if p.state == status::PENDING {
            p.state = status::UNRETURNED;
            p.reason = "银行未回盘".into();
        }
        let asked = Fen::parse(p.record.get(sc.amount).unwrap_or_default()).unwrap_or_default();
        match p.state {
            status::PAID => {
                summary.paid.0 += 1;
                summary.paid.1 += asked;
                summary.paid.2 += p.returned.unwrap_or_default();
            }
            status::FAILED => {
                summary.failed.0 += 1;
                summary.failed.1 += asked;
            }
            status::UNRETURNED => {
                summary.unreturned.0 += 1;
                summary.unreturned.1 += asked;
            }
            _ => {}
        }
        let mut fields: Vec<String> = p.record.iter().map(str::to_owned).collect();
        fields.resize(h.len() - RECONCILED_EXTRA.len(), String::new());
        fields[sc.state] = p.state.to_owned();
        if matches!(p.state, status::FAILED | status::UNRETURNED) {
            let action = if p.state == status::UNRETURNED {
                "向代发银行查询发放结果"
            } else {
                failure_action(&p.reason)
            };
            fields[sc.reason].clone_from(&p.reason);
            fields[sc.action] = action.to_owned();
            let f = |c: Option<usize>| c.and_then(|i| fields.get(i)).cloned().unwrap_or_default();
            failures.entry(f(town).into()).or_default().push(vec![
                f(town),
                f(village),
                p.state.to_owned(),
                p.reason.clone(),
                action.to_owned(),
                fields[sc.name].clone(),
                f(id),
                f(card),
                mask(&fields[sc.account]),
                fields[sc.amount].clone(),
                f(code),
                f(period),
                fields[sc.seq].clone(),
            ]);
        }
        fields.push(p.returned.map(|a| a.to_string()).unwrap_or_default());
        fields.push(p.time.clone());
        fields.push(p.remarks.join(";"));
        out.write_record(&fields).map_err(csv_err(&opts.out))?;
    }
    out.flush().map_err(|e| PaymentsError::io(&opts.out, e))?;
    summary.files.push(opts.out.clone());
    summary.files.extend(crate::prepare::write_todo(&opts.failures, &FAILURE_HEADERS, failures)?);
    summary.files.push(opts.problems.clone());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_actions() {
        assert_eq!(parse_result("", ""), Some(true));
        assert_eq!(parse_result("", "账户冻结"), Some(false));
        assert_eq!(parse_result("成功", ""), Some(true));
        assert_eq!(parse_result("退回", "户名不符"), Some(false));
        assert_eq!(parse_result("处理中", ""), None);
        assert!(failure_action("户名不符").contains("户名"));
        assert!(failure_action("账户已冻结").contains("冻结"));
        assert!(failure_action("卡片未激活").contains("激活"));
        assert!(failure_action("账号不存在").contains("账号"));
        assert!(failure_action("系统繁忙").contains("代发银行"));
    }
}
