//! `station payments prepare`: one item, one month, from the recipients roster to the
//! paying bank's payment file.
//!
//! 1. The roster is read with roster's readers (CSV in UTF-8 or GBK, XLSX) and every row
//!    validated with roster's rules (a bad row goes to the rejects file with its row number,
//!    the rule and the remedy; never dropped silently), plus the payment's own: an amount in
//!    yuan is required, the same person once per item, the head of household's ID number
//!    valid. Rows of other items (a 项目代码 or 补贴项目 naming another) are skipped and
//!    counted.
//! 2. The cards of the recipients (and their heads of household) are found in the sources in
//!    one scan each ([`crate::cards`]).
//! 3. Each payee is decided ([`crate::cards::decide`]): a household item pays the household's
//!    members' amounts together to the head's card (a deceased member's share is refused);
//!    an item still paid through the passbook (一本通) pays those without a usable card to
//!    the passbook account they had, and lists them to move to the card.
//!
//! Outputs: the bank's payment file ([`BANK_HEADERS`], CSV and/or XLSX: the only file with
//! full ID numbers), the status file ([`STATUS_HEADERS`], every payment and refusal, read by
//! `import` and `report`), the to-do lists per township sorted by village
//! ([`TODO_HEADERS`]), and the rejects file ([`REJECT_HEADERS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use roster::input::{Field, RawRow, TableSink};
use roster::key::{mask, IdKey, KeyMap};
use roster::records::{Card, Wanted};
use roster::text::{csv_err, csv_out};
use roster::validate::{check, Kind, Rules, Severity};
use roster::RosterError;

use crate::cards::{decide, status_word, CardSource, Cards, Decision, Refusal};
use crate::items::Item;
use crate::money::Fen;
use crate::period::Period;
use crate::status;
use crate::table::{cell, file_name, find_columns};
use crate::PaymentsError;

/// The bank's payment file: Sishui's 附件3 columns the bank pays against (姓名, 身份证号 as
/// 社会保障号码, 开户行, 银行卡号, 补贴额), the card's number, and Guangdong's summary
/// (摘要, "2022-03 低保金"), with the item's code and the place.
pub const BANK_HEADERS: [&str; 13] = [
    "序号",
    "姓名",
    "社会保障号码",
    "社会保障卡号",
    "开户银行",
    "银行卡号",
    "金额",
    "摘要",
    "项目代码",
    "乡镇",
    "村(社区)",
    "发放渠道",
    "户内人数",
];

/// The batch's status file: one line per payment and per refusal, the ID number masked.
pub const STATUS_HEADERS: [&str; 18] = [
    "序号",
    "项目代码",
    "期间",
    "乡镇",
    "村(社区)",
    "姓名",
    "身份证号(隐去)",
    "社会保障卡号",
    "开户银行",
    "银行卡号",
    "金额",
    "摘要",
    "发放渠道",
    "状态",
    "原因",
    "处理建议",
    "行号",
    "户内人数",
];

/// The to-do lists: who must do what so that the next batch pays to the card.
pub const TODO_HEADERS: [&str; 13] = [
    "乡镇",
    "村(社区)",
    "处理",
    "原因",
    "处理建议",
    "姓名",
    "身份证号(隐去)",
    "手机号",
    "社会保障卡号",
    "卡状态",
    "金额",
    "项目代码",
    "行号",
];

/// The rejects file.
pub const REJECT_HEADERS: [&str; 9] =
    ["行号", "处理", "规则", "问题说明", "处理建议", "姓名", "身份证号(隐去)", "镇街", "村(社区)"];

/// What to prepare and where the results go.
#[derive(Debug, Clone)]
pub struct Options {
    /// The item.
    pub item: Item,
    /// The month paid.
    pub period: Period,
    /// The recipients roster (CSV or XLSX).
    pub recipients: PathBuf,
    /// The XLSX sheet (default: the first).
    pub sheet: Option<String>,
    /// The bank's payment file(s): `.xlsx` as XLSX, anything else as CSV.
    pub bank_files: Vec<PathBuf>,
    /// The status file (CSV).
    pub status: PathBuf,
    /// Directory of the to-do lists.
    pub todo: PathBuf,
    /// The rejects file (CSV).
    pub rejects: PathBuf,
    /// The day ID numbers are checked against.
    pub today: applicant::Date,
    /// The directory of the register of payments already made ([`crate::paid`]): nobody is
    /// paid twice for the item in one pay period of its cycle.
    pub paid: PathBuf,
}

impl Options {
    /// Defaults beside the first bank file `<stem>[.bank].csv`: `<stem>.status.csv`,
    /// `<stem>.todo/`, `<stem>.rejects.csv`, and the paid register `payments-paid/`.
    pub fn new(item: Item, period: Period, recipients: PathBuf, bank_files: Vec<PathBuf>) -> Options {
        let base = bank_files.first().cloned().unwrap_or_else(|| PathBuf::from("payments.csv"));
        let stem = base.file_stem().and_then(|s| s.to_str()).unwrap_or("payments");
        let stem = stem.strip_suffix(".bank").unwrap_or(stem).to_owned();
        let dir = base.parent().map(Path::to_path_buf).unwrap_or_default();
        Options {
            item,
            period,
            recipients,
            sheet: None,
            bank_files,
            status: dir.join(format!("{stem}.status.csv")),
            todo: dir.join(format!("{stem}.todo")),
            rejects: dir.join(format!("{stem}.rejects.csv")),
            today: roster::days::today(),
            paid: dir.join("payments-paid"),
        }
    }
}

/// What a batch came to.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// `0101 最低生活保障金 2022-03`.
    pub batch: String,
    /// The card sources.
    pub sources: Vec<String>,
    /// Card records read, and unreadable.
    pub records: (u64, u64),
    /// Non-blank rows read.
    pub rows: u64,
    /// Rows of other items, skipped.
    pub other_items: u64,
    /// Rows not paid for their data (see the rejects file).
    pub rejected: u64,
    /// Rows paid or refused.
    pub recipients: u64,
    /// Payments in the bank's file, and their amount.
    pub payments: (u64, Fen),
    /// Of which to the card.
    pub by_card: (u64, Fen),
    /// Of which to the passbook (一本通).
    pub by_passbook: (u64, Fen),
    /// Refused lines, and their amount.
    pub refused: (u64, Fen),
    /// Refused or paid to the passbook, per [`Refusal`].
    pub reasons: [u64; 12],
    /// Problems per rule.
    pub problems: BTreeMap<&'static str, u64>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Time of the whole batch and of each pass: roster, card scan, decisions and outputs.
    pub elapsed: Duration,
    /// Per pass.
    pub passes: [Duration; 3],
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.batch)?;
        writeln!(
            f,
            "roster: {} rows, {} of other items skipped, {} rejected, {} recipients",
            self.rows, self.other_items, self.rejected, self.recipients
        )?;
        writeln!(
            f,
            "cards: {} ({} records, {} unreadable)",
            self.sources.join("; "),
            self.records.0,
            self.records.1
        )?;
        writeln!(f, "bank file: {} payments, {} yuan", self.payments.0, self.payments.1)?;
        writeln!(f, "  to the card ({}): {}, {} yuan", status::CARD, self.by_card.0, self.by_card.1)?;
        writeln!(
            f,
            "  to the passbook ({}): {}, {} yuan",
            status::PASSBOOK,
            self.by_passbook.0,
            self.by_passbook.1
        )?;
        writeln!(f, "refused: {}, {} yuan", self.refused.0, self.refused.1)?;
        for r in Refusal::ALL {
            if self.reasons[r.index()] > 0 {
                writeln!(f, "  {}: {}", r.reason(), self.reasons[r.index()])?;
            }
        }
        for (rule, n) in &self.problems {
            writeln!(f, "  problem {rule}: {n}")?;
        }
        write!(f, "{:.2} s", self.elapsed.as_secs_f64())
    }
}

/// A recipient row that passed validation.
#[derive(Debug, Clone)]
struct Recipient {
    row: u32,
    key: IdKey,
    /// The head of household, when another person (household items only).
    head: Option<IdKey>,
    name: Box<str>,
    head_name: Box<str>,
    phone: Box<str>,
    township: Box<str>,
    village: Box<str>,
    amount: Fen,
    deceased: bool,
    /// The passbook's bank and account (一本通), as the department gave them.
    bank: Box<str>,
    account: Box<str>,
}

/// A problem with a row, for the rejects file.
#[derive(Debug, Clone)]
struct RowProblem {
    severity: Severity,
    rule: &'static str,
    message: String,
    hint: String,
}

/// Columns beyond roster's: the head of household and the item code.
const HEAD_ID: usize = 0;
const HEAD_NAME: usize = 1;
const ITEM_CODE: usize = 2;
const EXTRA: [&[&str]; 3] = [
    &["户主身份证号", "户主身份证号码", "户主公民身份号码", "户主证件号码", "head_id"],
    &["户主姓名", "户主", "head_name"],
    &["项目代码", "项目编码", "item_code"],
];

/// Checks one row: roster's rules, then the payment's.
fn check_row(
    raw: &RawRow,
    extra: &[String; 3],
    item: &Item,
    rules: &Rules,
) -> (Option<Recipient>, Vec<RowProblem>) {
    let c = check(raw, rules);
    let mut problems: Vec<RowProblem> = c
        .problems
        .iter()
        .map(|p| RowProblem {
            severity: p.severity(),
            rule: p.rule(),
            message: p.to_string(),
            hint: p.hint(),
        })
        .collect();
    // roster reports a bad amount as a fix; a payment cannot be made without it.
    for p in problems.iter_mut().filter(|p| p.rule == "amount-format") {
        p.severity = Severity::Reject;
    }
    let mut reject = |rule: &'static str, message: String, hint: &str| {
        problems.push(RowProblem { severity: Severity::Reject, rule, message, hint: hint.into() })
    };
    let amount_text = raw.get(Field::Amount);
    let amount = Fen::parse(amount_text);
    match amount {
        _ if amount_text.is_empty() => reject(
            "amount-missing",
            "the amount is empty".into(),
            "write the amount in yuan, e.g. 120 or 85.50",
        ),
        None => {}
        Some(Fen(0)) => reject("amount-zero", "the amount is 0".into(), "leave out rows with nothing to pay"),
        Some(_) => {}
    }
    let head = if item.household && !extra[HEAD_ID].is_empty() {
        match applicant::ResidentId::parse(&extra[HEAD_ID], rules.today) {
            Ok((id, _)) => Some(IdKey::of(&id)),
            Err(e) => {
                reject(
                    "head-id",
                    format!("the head of household's ID number: {e}"),
                    "fill in the head of household's 18-character ID number from the household register",
                );
                None
            }
        }
    } else {
        None
    };
    let rejected = problems.iter().any(|p| p.severity == Severity::Reject);
    let recipient = match (c.person, amount) {
        (Some(p), Some(amount)) if !rejected => Some(Recipient {
            row: raw.row,
            key: p.key,
            head: head.filter(|h| *h != p.key),
            name: p.get(Field::Name).into(),
            head_name: extra[HEAD_NAME].as_str().into(),
            phone: p.get(Field::Phone).into(),
            township: p.get(Field::Township).into(),
            village: p.get(Field::Village).into(),
            amount,
            deceased: p.deceased,
            bank: p.get(Field::Bank).into(),
            account: if p.problems.contains(&"account-format") {
                "".into()
            } else {
                p.get(Field::Account).into()
            },
        }),
        _ => None,
    };
    (recipient, problems)
}

/// Reads and validates the roster, writing the rejects.
struct RosterPass<'a> {
    opts: &'a Options,
    rules: Rules,
    cols: Vec<Option<usize>>,
    extra: Vec<Option<usize>>,
    pending: Vec<(RawRow, [String; 3])>,
    recipients: Vec<Recipient>,
    seen: KeyMap<u32>,
    rejects: csv::Writer<std::io::BufWriter<std::fs::File>>,
    summary: &'a mut Summary,
}

impl RosterPass<'_> {
    fn flush(&mut self) -> Result<(), RosterError> {
        let pending = std::mem::take(&mut self.pending);
        let (item, rules) = (&self.opts.item, &self.rules);
        let checked: Vec<_> =
            pending.par_iter().map(|(raw, extra)| check_row(raw, extra, item, rules)).collect();
        for ((raw, _), (recipient, mut problems)) in pending.iter().zip(checked) {
            let mut recipient = recipient;
            if let Some(r) = &recipient {
                if let Some(first) = self.seen.get(&r.key) {
                    problems.push(RowProblem {
                        severity: Severity::Reject,
                        rule: "duplicate-id",
                        message: format!("the same ID number is already on row {first} for this item"),
                        hint: "keep one row per person and item (a household's members: one row each)".into(),
                    });
                    recipient = None;
                } else {
                    self.seen.insert(r.key, r.row);
                }
            }
            if recipient.is_none() {
                self.summary.rejected += 1;
            }
            let path = &self.opts.rejects;
            let masked = mask(raw.get(Field::Id));
            let row = raw.row.to_string();
            for p in &problems {
                *self.summary.problems.entry(p.rule).or_default() += 1;
                let sev = if recipient.is_none() { Severity::Reject } else { p.severity };
                self.rejects
                    .write_record([
                        row.as_str(),
                        sev.word(),
                        p.rule,
                        &p.message,
                        &p.hint,
                        raw.get(Field::Name),
                        &masked,
                        raw.get(Field::Township),
                        raw.get(Field::Village),
                    ])
                    .map_err(csv_err(path))?;
            }
            if let Some(r) = recipient {
                self.recipients.push(r);
            }
        }
        Ok(())
    }
}

impl TableSink for RosterPass<'_> {
    fn header(&mut self, headers: &[String]) -> Result<bool, RosterError> {
        let fields: Vec<&[&str]> = Field::ALL.iter().map(|f| f.aliases()).collect();
        self.cols = find_columns(headers, &fields);
        self.extra = find_columns(headers, &EXTRA);
        for f in [Field::Name, Field::Id, Field::Amount] {
            if self.cols[f.index()].is_none() {
                return Err(RosterError::MissingColumn { column: f.header(), found: headers.join(", ") });
            }
        }
        Ok(true)
    }

    fn row(&mut self, row: u32, cells: &[(String, bool)]) -> Result<bool, RosterError> {
        let mut raw = RawRow { row, ..RawRow::default() };
        for f in Field::ALL {
            if let Some((v, num)) = self.cols[f.index()].and_then(|i| cells.get(i)) {
                raw.values[f.index()].clone_from(v);
                if f == Field::Id {
                    raw.id_was_number = *num;
                }
            }
        }
        if raw.is_blank() {
            return Ok(true);
        }
        self.summary.rows += 1;
        let code = cell(cells, self.extra[ITEM_CODE]);
        let named = raw.get(Field::Item);
        let item = &self.opts.item;
        if (!code.is_empty() && code != item.code)
            || (code.is_empty() && !named.is_empty() && named != item.name && named != item.code)
        {
            self.summary.other_items += 1;
            return Ok(true);
        }
        let extra = [
            cell(cells, self.extra[HEAD_ID]).to_owned(),
            cell(cells, self.extra[HEAD_NAME]).to_owned(),
            String::new(),
        ];
        self.pending.push((raw, extra));
        if self.pending.len() >= 16_384 {
            self.flush()?;
        }
        Ok(true)
    }
}

/// One payment (or one refusal) of the batch.
#[derive(Debug, Clone)]
struct Line {
    seq: Option<u32>,
    payee: IdKey,
    name: Box<str>,
    phone: Box<str>,
    township: Box<str>,
    village: Box<str>,
    card: Option<Card>,
    lost: bool,
    bank: String,
    account: Box<str>,
    amount: Fen,
    channel: &'static str,
    refusal: Option<Refusal>,
    row: u32,
    members: u32,
}

/// Prepares one batch: reads `opts.recipients`, finds the cards in `sources`, writes the
/// bank's file, the status file, the to-do lists and the rejects.
pub fn prepare(opts: &Options, sources: &[&dyn CardSource]) -> Result<Summary, PaymentsError> {
    if sources.is_empty() {
        return Err(PaymentsError::Usage("no card source: give --issuance and/or --archive".into()));
    }
    let start = Instant::now();
    let item = &opts.item;
    let summary_text = item.summary_for(opts.period);
    let mut summary =
        Summary { batch: format!("{} {} {}", item.code, item.name, opts.period), ..Summary::default() };

    // Pass 1: the roster.
    let rules = Rules { today: opts.today, default_kind: Kind::Existing, strict: false };
    let mut rejects = csv_out(&opts.rejects)?;
    rejects.write_record(REJECT_HEADERS).map_err(csv_err(&opts.rejects))?;
    let mut pass = RosterPass {
        opts,
        rules,
        cols: Vec::new(),
        extra: Vec::new(),
        pending: Vec::new(),
        recipients: Vec::new(),
        seen: KeyMap::default(),
        rejects,
        summary: &mut summary,
    };
    roster::input::read_table(&opts.recipients, opts.sheet.as_deref(), &mut pass)?;
    pass.flush()?;
    let RosterPass { recipients, mut rejects, .. } = pass;
    summary.recipients = recipients.len() as u64;
    summary.passes[0] = start.elapsed();

    // Pass 2: the cards.
    let t = Instant::now();
    let mut wanted = Wanted::default();
    for r in &recipients {
        wanted.insert(r.key, r.row);
        if let Some(h) = r.head {
            wanted.entry(h).or_insert(r.row);
        }
    }
    let mut cards = Cards::find(sources, &wanted)?;
    drop(wanted);
    summary.sources.clone_from(&cards.described);
    summary.records = (cards.records(), cards.unreadable());
    summary.passes[1] = t.elapsed();

    // Pass 3: decide, payee by payee.
    let t = Instant::now();
    let pay_period = crate::paid::cycle_key(opts.period, item.cycle);
    let mut register = crate::paid::PaidRegister::open_for(&opts.paid, &item.code, &pay_period)?;
    let mut groups: Vec<(IdKey, Vec<usize>)> = Vec::new();
    let mut group_of: KeyMap<usize> = KeyMap::default();
    let mut row_of: KeyMap<usize> = KeyMap::default();
    for (i, r) in recipients.iter().enumerate() {
        row_of.insert(r.key, i);
        let payee = if item.household { r.head.unwrap_or(r.key) } else { r.key };
        let g = *group_of.entry(payee).or_insert_with(|| {
            groups.push((payee, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let decisions: Vec<(Option<bool>, Decision)> = groups
        .iter()
        .map(|(payee, _)| {
            let own = row_of.get(payee).map(|&i| recipients[i].deceased);
            (own, decide(cards.get(*payee).as_ref(), own.unwrap_or(false), &|_| false))
        })
        .collect();
    let stopped: BTreeSet<String> = decisions
        .iter()
        .filter_map(|(_, d)| match d {
            Decision::Refused(Refusal::Stopped, Some(c)) => Some(c.number.to_string()),
            _ => None,
        })
        .collect();
    if !stopped.is_empty() {
        cards.learn_lost(sources, &stopped)?;
    }
    let mut lines: Vec<Line> = Vec::with_capacity(groups.len());
    let mut seq = 0u32;
    for ((payee, members), (_, decision)) in groups.iter().zip(decisions) {
        let decision = match decision {
            Decision::Refused(Refusal::Stopped, Some(c)) if cards.is_lost(&c.number) => {
                Decision::Refused(Refusal::Lost, Some(c))
            }
            d => d,
        };
        let head_row = row_of.get(payee).map(|&i| &recipients[i]);
        let first = &recipients[members[0]];
        let place = head_row.unwrap_or(first);
        let name: Box<str> = match head_row {
            Some(h) => h.name.clone(),
            None => members
                .iter()
                .map(|&i| &recipients[i].head_name)
                .find(|n| !n.is_empty())
                .cloned()
                .unwrap_or_default(),
        };
        if name.is_empty() {
            // A head of household known only by number: the bank pays against the name too.
            for &i in members {
                let r = &recipients[i];
                summary.rejected += 1;
                *summary.problems.entry("head-name-missing").or_default() += 1;
                rejects
                    .write_record([
                        r.row.to_string().as_str(),
                        Severity::Reject.word(),
                        "head-name-missing",
                        "the head of household is not on the roster and 户主姓名 is empty",
                        "fill in 户主姓名 as on the head's ID card, or add the head's own row",
                        &r.name,
                        &r.key.masked(),
                        &r.township,
                        &r.village,
                    ])
                    .map_err(csv_err(&opts.rejects))?;
            }
            summary.recipients -= members.len() as u64;
            continue;
        }
        // A household's deceased members: their shares are refused.
        let mut amount = Fen::ZERO;
        let mut living = 0u32;
        for &i in members {
            let r = &recipients[i];
            if r.key == *payee {
                amount += r.amount;
                living += 1;
                continue;
            }
            let dead = r.deceased || cards.get(r.key).is_some_and(|p| p.deceased);
            if dead {
                lines.push(Line {
                    seq: None,
                    payee: r.key,
                    name: r.name.clone(),
                    phone: r.phone.clone(),
                    township: r.township.clone(),
                    village: r.village.clone(),
                    card: None,
                    lost: false,
                    bank: String::new(),
                    account: "".into(),
                    amount: r.amount,
                    channel: "",
                    refusal: Some(Refusal::MemberDeceased),
                    row: r.row,
                    members: 1,
                });
            } else {
                amount += r.amount;
                living += 1;
            }
        }
        if living == 0 {
            continue;
        }
        let mut line = Line {
            seq: None,
            payee: *payee,
            name,
            phone: place.phone.clone(),
            township: place.township.clone(),
            village: place.village.clone(),
            card: None,
            lost: false,
            bank: String::new(),
            account: "".into(),
            amount,
            channel: "",
            refusal: None,
            row: place.row,
            members: living,
        };
        match decision {
            Decision::Card(c) => {
                line.bank = cards.bank_of(*payee, &c.number);
                line.account = c.account.clone().unwrap_or_default();
                line.card = Some(c);
                line.channel = status::CARD;
            }
            Decision::Refused(r, c) => {
                line.lost = r == Refusal::Lost;
                line.card = c;
                line.refusal = Some(r);
                // The passbook is the payee's own (a head known only from the members' rows
                // has none here: a member's passbook is not the head's).
                if let Some(own) =
                    head_row.filter(|h| item.passbook && r != Refusal::Deceased && !h.account.is_empty())
                {
                    line.channel = status::PASSBOOK;
                    line.bank = own.bank.to_string();
                    line.account = own.account.clone();
                }
            }
        }
        if !line.channel.is_empty() && register.paid(&item.code, &pay_period, &payee.to_id_string()).is_some()
        {
            line.channel = "";
            line.refusal = Some(Refusal::AlreadyPaid);
        }
        if !line.channel.is_empty() {
            seq += 1;
            line.seq = Some(seq);
        }
        lines.push(line);
    }
    drop(row_of);
    drop(group_of);

    // Outputs.
    rejects.flush().map_err(|e| PaymentsError::io(&opts.rejects, e))?;
    summary.files.push(opts.rejects.clone());
    let mut banks = opts
        .bank_files
        .iter()
        .map(|p| Out::open(p, "发放明细", &BANK_HEADERS))
        .collect::<Result<Vec<_>, _>>()?;
    let mut st = csv_out(&opts.status)?;
    st.write_record(STATUS_HEADERS).map_err(csv_err(&opts.status))?;
    let period = opts.period.to_string();
    let mut todo: BTreeMap<Box<str>, Vec<Vec<String>>> = BTreeMap::new();
    for l in &lines {
        let seq = l.seq.map(|s| s.to_string()).unwrap_or_default();
        let amount = l.amount.to_string();
        let number = l.card.as_ref().map(|c| c.number.to_string()).unwrap_or_default();
        let card_no = if l.channel == status::CARD { number.as_str() } else { "" };
        let members = l.members.to_string();
        let row = l.row.to_string();
        let masked = l.payee.masked();
        if l.seq.is_some() {
            let id = l.payee.to_id_string();
            let fields = [
                seq.as_str(),
                &l.name,
                &id,
                card_no,
                &l.bank,
                &l.account,
                &amount,
                &summary_text,
                &item.code,
                &l.township,
                &l.village,
                l.channel,
                &members,
            ];
            for b in &mut banks {
                b.row(&fields)?;
            }
            summary.payments.0 += 1;
            summary.payments.1 += l.amount;
            let c = if l.channel == status::CARD { &mut summary.by_card } else { &mut summary.by_passbook };
            c.0 += 1;
            c.1 += l.amount;
        } else {
            summary.refused.0 += 1;
            summary.refused.1 += l.amount;
        }
        let (reason, action) = match l.refusal {
            Some(r) => (r.reason(), r.action(item.household)),
            None => ("", ""),
        };
        if let Some(r) = l.refusal {
            summary.reasons[r.index()] += 1;
        }
        let state = if l.seq.is_some() { status::PENDING } else { status::REFUSED };
        st.write_record([
            seq.as_str(),
            &item.code,
            &period,
            &l.township,
            &l.village,
            &l.name,
            &masked,
            card_no,
            &l.bank,
            &l.account,
            &amount,
            &summary_text,
            l.channel,
            state,
            reason,
            action,
            &row,
            &members,
        ])
        .map_err(csv_err(&opts.status))?;
        if l.refusal.is_some() {
            let doing = if l.seq.is_some() { "一本通代发, 待转社保卡" } else { status::REFUSED };
            todo.entry(l.township.clone()).or_default().push(vec![
                l.township.to_string(),
                l.village.to_string(),
                doing.to_owned(),
                reason.to_owned(),
                action.to_owned(),
                l.name.to_string(),
                masked,
                l.phone.to_string(),
                number,
                status_word(l.card.as_ref(), l.lost).to_owned(),
                amount,
                item.code.clone(),
                row,
            ]);
        }
    }
    for b in banks {
        b.finish()?;
    }
    summary.files.extend(opts.bank_files.iter().cloned());
    // The bank's file is written: its payments go into the register.
    for l in lines.iter().filter(|l| l.seq.is_some()) {
        register.record(&item.code, &pay_period, &l.payee.to_id_string(), &summary.batch);
    }
    register.save()?;
    st.flush().map_err(|e| PaymentsError::io(&opts.status, e))?;
    summary.files.push(opts.status.clone());
    summary.files.extend(write_todo(&opts.todo, &TODO_HEADERS, todo)?);
    summary.passes[2] = t.elapsed();
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// Writes one to-do list per township (sorted by village, then row) and one of them all.
pub(crate) fn write_todo(
    dir: &Path,
    headers: &[&str],
    mut by_town: BTreeMap<Box<str>, Vec<Vec<String>>>,
) -> Result<Vec<PathBuf>, PaymentsError> {
    std::fs::create_dir_all(dir).map_err(|e| PaymentsError::io(dir, e))?;
    let all_path = dir.join("全部.csv");
    let mut all = csv_out(&all_path)?;
    all.write_record(headers).map_err(csv_err(&all_path))?;
    let mut files = Vec::new();
    for (town, rows) in by_town.iter_mut() {
        let order =
            |r: &Vec<String>| (r[1].clone(), r.last().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0));
        rows.sort_by_cached_key(order);
        let path = dir.join(format!("{}.csv", file_name(town)));
        let mut w = csv_out(&path)?;
        w.write_record(headers).map_err(csv_err(&path))?;
        for r in rows.iter() {
            w.write_record(r).map_err(csv_err(&path))?;
            all.write_record(r).map_err(csv_err(&all_path))?;
        }
        w.flush().map_err(|e| PaymentsError::io(&path, e))?;
        files.push(path);
    }
    all.flush().map_err(|e| PaymentsError::io(&all_path, e))?;
    files.push(all_path);
    Ok(files)
}

/// An output table: CSV (UTF-8 with a BOM) or XLSX (roster's writers).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Out {
    Csv(PathBuf, csv::Writer<std::io::BufWriter<std::fs::File>>),
    Xlsx(roster::xlsx::SheetWriter),
}

impl Out {
    pub(crate) fn open(path: &Path, sheet: &str, headers: &[&str]) -> Result<Out, PaymentsError> {
        if roster::input::Format::of(path) == roster::input::Format::Xlsx {
            return Ok(Out::Xlsx(roster::xlsx::SheetWriter::create(path, sheet, headers)?));
        }
        let mut w = csv_out(path)?;
        w.write_record(headers).map_err(csv_err(path))?;
        Ok(Out::Csv(path.to_path_buf(), w))
    }

    pub(crate) fn row(&mut self, fields: &[&str]) -> Result<(), PaymentsError> {
        match self {
            Out::Csv(p, w) => w.write_record(fields).map_err(|e| csv_err(p)(e).into()),
            Out::Xlsx(x) => Ok(x.row(fields)?),
        }
    }

    pub(crate) fn finish(self) -> Result<(), PaymentsError> {
        match self {
            Out::Csv(p, mut w) => w.flush().map_err(|e| PaymentsError::io(&p, e)),
            Out::Xlsx(x) => Ok(x.finish()?),
        }
    }
}
