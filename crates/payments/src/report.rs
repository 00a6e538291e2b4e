//! `station payments report`: per item, township and month, from the batches' status files
//! (reconciled by `import`, or as `prepare` wrote them): recipients, refused, paid, failed,
//! the amount paid, and the share of recipients paid through the card against the item's
//! target (the register's; Guangdong: social assistance wholly through the card in 2022;
//! Fengjie: >= 95% new, >= 60% existing beneficiaries). Tables as CSV and Markdown, charts as
//! SVG with roster's chart code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use roster::input::TableSink;
use roster::report::{bar_chart, Chart, ChartRow};
use roster::text::{csv_err, csv_out};
use roster::RosterError;

use crate::items::{Register, DEFAULT_TARGET};
use crate::money::Fen;
use crate::status;
use crate::table::{cell, find_columns};
use crate::PaymentsError;

/// The counts of one item, month and township (or of any sum of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines of the batches: payees and refused members (应发人数).
    pub recipients: u64,
    /// Refused (拒发).
    pub refused: u64,
    /// In the bank's file, not (yet) returned.
    pub pending: u64,
    /// Paid (已发放).
    pub paid: u64,
    /// Failed (发放失败).
    pub failed: u64,
    /// Paid, or in the bank's file, to the card.
    pub to_card: u64,
    /// Paid, or in the bank's file, to the passbook.
    pub to_passbook: u64,
    /// The amount paid (the bank's), or in the bank's file when not returned.
    pub amount: Fen,
    /// Lines that come from a reconciled batch.
    pub reconciled: u64,
    /// In a reconciled batch, not returned by the bank.
    pub unreturned: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.recipients += o.recipients;
        self.refused += o.refused;
        self.pending += o.pending;
        self.paid += o.paid;
        self.failed += o.failed;
        self.to_card += o.to_card;
        self.to_passbook += o.to_passbook;
        self.amount += o.amount;
        self.reconciled += o.reconciled;
        self.unreturned += o.unreturned;
    }

    /// The share of recipients paid (or to be paid) through the card, percent.
    pub fn card_share(&self) -> f64 {
        if self.recipients == 0 {
            0.0
        } else {
            self.to_card as f64 * 100.0 / self.recipients as f64
        }
    }
}

/// Item, month, township.
pub type Key = (String, String, String);

/// Everything the report shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per item code, month and township.
    pub cells: BTreeMap<Key, Counts>,
    /// Names and targets per item code.
    pub items: BTreeMap<String, (String, f64)>,
    /// Files read.
    pub files: Vec<PathBuf>,
}

struct StatusPass<'a> {
    at: Vec<Option<usize>>,
    reconciled: bool,
    cells: &'a mut BTreeMap<Key, Counts>,
}

impl TableSink for StatusPass<'_> {
    fn header(&mut self, headers: &[String]) -> Result<bool, RosterError> {
        self.at = find_columns(
            headers,
            &[&["项目代码"], &["期间"], &["乡镇"], &["金额"], &["发放渠道"], &["状态"], &["回盘金额"]],
        );
        if self.at[..6].iter().any(Option::is_none) {
            return Err(RosterError::Usage("not a status file of `payments prepare` or `import`".into()));
        }
        self.reconciled = self.at[6].is_some();
        Ok(true)
    }

    fn row(&mut self, _row: u32, cells: &[(String, bool)]) -> Result<bool, RosterError> {
        let g = |i: usize| cell(cells, self.at[i]);
        let key = (g(0).to_owned(), g(1).to_owned(), g(2).to_owned());
        let c = self.cells.entry(key).or_default();
        c.recipients += 1;
        c.reconciled += u64::from(self.reconciled);
        let state = g(5);
        match state {
            status::REFUSED => c.refused += 1,
            status::PAID => c.paid += 1,
            status::FAILED => c.failed += 1,
            status::UNRETURNED => {
                c.pending += 1;
                c.unreturned += 1;
            }
            _ => c.pending += 1,
        }
        let counts = if self.reconciled { state == status::PAID } else { state == status::PENDING };
        if counts {
            match g(4) {
                status::CARD => c.to_card += 1,
                status::PASSBOOK => c.to_passbook += 1,
                _ => {}
            }
            let returned = if self.reconciled { Fen::parse(g(6)) } else { None };
            c.amount += returned.or_else(|| Fen::parse(g(3))).unwrap_or_default();
        }
        Ok(true)
    }
}

/// The status files to read: files as given; in a directory, its `*.reconciled.csv`, and
/// the `*.status.csv` of batches not reconciled.
pub fn status_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PaymentsError> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| PaymentsError::io(p, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .collect();
        names.sort();
        let s = |f: &Path| f.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        let reconciled: Vec<String> =
            names.iter().filter_map(|f| s(f).strip_suffix(".reconciled.csv").map(str::to_owned)).collect();
        for f in &names {
            let n = s(f);
            if n.ends_with(".reconciled.csv") {
                out.push(f.clone());
            } else if let Some(stem) = n.strip_suffix(".status.csv") {
                if !reconciled.iter().any(|r| r == stem) {
                    out.push(f.clone());
                }
            }
        }
    }
    Ok(out)
}

impl Report {
    /// Reads the status files; names and targets from `register` when given.
    pub fn read(files: &[PathBuf], register: Option<&Register>) -> Result<Report, PaymentsError> {
        let mut r = Report::default();
        if let Some(reg) = register {
            for i in &reg.items {
                r.items.insert(i.code.clone(), (i.name.clone(), i.target));
            }
        }
        for f in files {
            let mut pass = StatusPass { at: Vec::new(), reconciled: false, cells: &mut r.cells };
            roster::input::read_table(f, None, &mut pass).map_err(|e| match e {
                RosterError::Usage(m) => PaymentsError::Input { path: f.clone(), message: m },
                e => e.into(),
            })?;
            r.files.push(f.clone());
        }
        Ok(r)
    }

    fn name(&self, code: &str) -> &str {
        self.items.get(code).map_or("", |i| i.0.as_str())
    }

    fn target(&self, code: &str) -> f64 {
        self.items.get(code).map_or(DEFAULT_TARGET, |i| i.1)
    }

    fn sum_by<F: Fn(&Key) -> Key>(&self, f: F) -> BTreeMap<Key, Counts> {
        let mut m: BTreeMap<Key, Counts> = BTreeMap::new();
        for (k, c) in &self.cells {
            m.entry(f(k)).or_default().add(c);
        }
        m
    }

    /// All items, months and townships together.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.cells.values() {
            t.add(c);
        }
        t
    }

    fn row(&self, k: &Key, c: &Counts, with_target: bool) -> Vec<String> {
        let target = with_target.then(|| self.target(&k.0));
        vec![
            k.0.clone(),
            self.name(&k.0).to_owned(),
            k.1.clone(),
            k.2.clone(),
            c.recipients.to_string(),
            c.refused.to_string(),
            c.pending.to_string(),
            c.paid.to_string(),
            c.failed.to_string(),
            c.amount.to_string(),
            c.to_card.to_string(),
            c.to_passbook.to_string(),
            format!("{:.1}", c.card_share()),
            target.map(|t| format!("{t:.0}")).unwrap_or_default(),
            target
                .map(|t| (if c.card_share() >= t { "达标" } else { "未达标" }).to_owned())
                .unwrap_or_default(),
        ]
    }

    /// Writes the tables (CSV, one Markdown file) and the charts (SVG) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, PaymentsError> {
        std::fs::create_dir_all(dir).map_err(|e| PaymentsError::io(dir, e))?;
        const ALL: &str = "合计";
        let detail: Vec<Vec<String>> = self.cells.iter().map(|(k, c)| self.row(k, c, true)).collect();
        let by_item: Vec<Vec<String>> = self
            .sum_by(|k| (k.0.clone(), k.1.clone(), ALL.into()))
            .iter()
            .map(|(k, c)| self.row(k, c, true))
            .collect();
        let by_town: Vec<Vec<String>> = self
            .sum_by(|k| (ALL.into(), ALL.into(), k.2.clone()))
            .iter()
            .map(|(k, c)| self.row(k, c, false))
            .collect();
        let by_month: Vec<Vec<String>> = self
            .sum_by(|k| (ALL.into(), k.1.clone(), ALL.into()))
            .iter()
            .map(|(k, c)| self.row(k, c, false))
            .collect();
        let headers = [
            "项目代码",
            "项目名称",
            "期间",
            "乡镇",
            "应发人数",
            "拒发",
            "待回盘",
            "已发放",
            "发放失败",
            "发放金额",
            "社保卡发放",
            "一本通发放",
            "社保卡发放率%",
            "目标%",
            "达标",
        ];
        let tables = [
            ("items", "按项目、月份 (per item and month)", &by_item),
            ("townships", "按乡镇 (per township, all items and months)", &by_town),
            ("months", "按月份 (per month, all items)", &by_month),
            ("detail", "按项目、月份、乡镇 (per item, month and township)", &detail),
        ];
        let mut files = Vec::new();
        let total = self.total();
        let mut md = format!(
            "# 社保卡\"一卡通\"补贴发放报告\n\n{} 条发放记录, 已发放 {}, 失败 {}, 拒发 {}, 发放金额 {} 元, 社保卡发放率 {:.1}%\n\n",
            total.recipients,
            total.paid,
            total.failed,
            total.refused,
            total.amount,
            total.card_share()
        );
        for (name, svg, title) in [
            ("card_share", self.share_svg(), "社保卡发放率 (share paid through the card, per item)"),
            ("outcomes", self.outcomes_svg(), "发放结果 (outcomes per township)"),
            ("amounts", self.amounts_svg(), "发放金额 (amount per month)"),
        ] {
            let path = dir.join(format!("{name}.svg"));
            std::fs::write(&path, svg).map_err(|e| PaymentsError::io(&path, e))?;
            files.push(path);
            let _ = writeln!(md, "## {title}\n\n![{name}]({name}.svg)\n");
        }
        for (name, title, rows) in tables {
            let path = dir.join(format!("{name}.csv"));
            let mut w = csv_out(&path)?;
            w.write_record(headers).map_err(csv_err(&path))?;
            for r in rows.iter() {
                w.write_record(r).map_err(csv_err(&path))?;
            }
            w.flush().map_err(|e| PaymentsError::io(&path, e))?;
            files.push(path);
            let _ =
                writeln!(md, "## {title}\n\n| {} |\n|{}", headers.join(" | "), "---|".repeat(headers.len()));
            for r in rows.iter() {
                let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
                let _ = writeln!(md, "| {} |", cells.join(" | "));
            }
            md.push('\n');
        }
        let path = dir.join("report.md");
        std::fs::write(&path, md).map_err(|e| PaymentsError::io(&path, e))?;
        files.push(path);
        Ok(files)
    }

    /// Share paid through the card per item (all months), with the targets.
    pub fn share_svg(&self) -> String {
        let per_item = self.sum_by(|k| (k.0.clone(), String::new(), String::new()));
        let rows = per_item
            .iter()
            .take(40)
            .map(|(k, c)| ChartRow {
                label: format!("{} {}", k.0, self.name(&k.0)),
                bars: vec![vec![c.card_share()]],
                note: format!(
                    "{:.1}% · 目标 {:.0}% · {}/{}",
                    c.card_share(),
                    self.target(&k.0),
                    c.to_card,
                    c.recipients
                ),
            })
            .collect();
        let mut targets: Vec<f64> = per_item.keys().map(|k| self.target(&k.0)).collect();
        targets.sort_by(f64::total_cmp);
        targets.dedup();
        let labels: Vec<(f64, String)> =
            targets.iter().take(3).map(|t| (*t, format!("目标 {t:.0}%"))).collect();
        let lines: Vec<(f64, &str, &str)> = labels.iter().map(|(t, l)| (*t, "#c62828", l.as_str())).collect();
        bar_chart(&Chart {
            title: "社保卡发放率 (按项目)".into(),
            series: &["社保卡发放"],
            colors: &["#2e7d32"],
            rows,
            max: 100.0,
            unit: "%",
            targets: &lines,
        })
    }

    /// Outcomes per township, percent of recipients.
    pub fn outcomes_svg(&self) -> String {
        let mut per_town: Vec<(String, Counts)> = self
            .sum_by(|k| (String::new(), String::new(), k.2.clone()))
            .into_iter()
            .map(|(k, c)| (k.2, c))
            .collect();
        per_town.truncate(40);
        per_town.insert(0, ("合计".into(), self.total()));
        let rows = per_town
            .iter()
            .map(|(name, c)| {
                let n = c.recipients.max(1) as f64;
                let pct = |x: u64| x as f64 * 100.0 / n;
                ChartRow {
                    label: if name.is_empty() { "(未填乡镇)".into() } else { name.clone() },
                    bars: vec![vec![
                        pct(c.to_card),
                        pct(c.to_passbook),
                        pct(c.failed),
                        pct(c.refused),
                        pct(c.unreturned),
                    ]],
                    note: format!("社保卡 {:.1}% · 拒发 {}", c.card_share(), c.refused),
                }
            })
            .collect();
        bar_chart(&Chart {
            title: "发放结果 (按乡镇)".into(),
            series: &["社保卡", "一本通", "发放失败", "拒发", "未回盘"],
            colors: &["#2e7d32", "#f9a825", "#c62828", "#424242", "#9e9e9e"],
            rows,
            max: 100.0,
            unit: "%",
            targets: &[],
        })
    }

    /// The amount per month, in yuan (the bars only: the notes give the exact amounts).
    pub fn amounts_svg(&self) -> String {
        let per_month = self.sum_by(|k| (String::new(), k.1.clone(), String::new()));
        let max = per_month.values().map(|c| c.amount.0).max().unwrap_or(0).max(1) as f64 / 100.0;
        let rows = per_month
            .iter()
            .map(|(k, c)| ChartRow {
                label: k.1.clone(),
                bars: vec![vec![c.amount.0 as f64 / 100.0]],
                note: format!("{} 元 · {} 笔", c.amount, c.to_card + c.to_passbook),
            })
            .collect();
        bar_chart(&Chart {
            title: "发放金额 (按月份, 元)".into(),
            series: &["发放金额"],
            colors: &["#1565c0"],
            rows,
            max,
            unit: "",
            targets: &[],
        })
    }
}
