//! Reports for the county bureau: issuance progress per township against its deadline,
//! card-usage rates of new and existing beneficiaries against the 95% / 60% targets (FLOW C),
//! and stock, dormant and recalled cards (FLOW B step 5). Tables as CSV and Markdown, charts
//! as hand-written SVG (no plotting dependency; any browser or the web UI shows them).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use applicant::Date;

use crate::classify::{Action, Class, Outcome};
use crate::input::Field;
use crate::text::{csv_err, csv_out};
use crate::validate::{Kind, Person};
use crate::RosterError;

/// Usage-rate target for new beneficiaries, percent.
pub const TARGET_NEW: f64 = 95.0;
/// Usage-rate and payment-rate target for existing beneficiaries, percent.
pub const TARGET_EXISTING: f64 = 60.0;

/// Issuance deadlines: one for every township, and overrides per township.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deadlines {
    /// The deadline of townships not listed.
    pub default: Option<Date>,
    /// Per township.
    pub by_township: HashMap<String, Date>,
}

impl Deadlines {
    /// Reads a CSV with columns 镇街 (or township) and 期限 (or deadline), YYYY-MM-DD.
    pub fn load(path: &Path, default: Option<Date>) -> Result<Deadlines, RosterError> {
        let bad = |m: String| RosterError::Input { path: path.to_path_buf(), message: m };
        let mut rdr = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
        let h = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
        let col =
            |names: &[&str]| h.iter().position(|c| names.contains(&c.trim().trim_start_matches('\u{feff}')));
        let (t, d) = match (col(&["镇街", "乡镇", "township"]), col(&["期限", "发放期限", "deadline"]))
        {
            (Some(t), Some(d)) => (t, d),
            _ => {
                return Err(bad(
                    "the deadlines file needs the columns 镇街 and 期限 (township, deadline)".into()
                ))
            }
        };
        let mut by_township = HashMap::new();
        for (i, r) in rdr.records().enumerate() {
            let r = r.map_err(|e| bad(e.to_string()))?;
            let town = r.get(t).unwrap_or_default().trim().to_owned();
            let date = r.get(d).unwrap_or_default().trim();
            let date = Date::parse(date).map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
            by_township.insert(town, date);
        }
        Ok(Deadlines { default, by_township })
    }

    /// The deadline of `township`.
    pub fn of(&self, township: &str) -> Option<Date> {
        self.by_township.get(township).copied().or(self.default)
    }
}

/// Beneficiaries of one kind: how many, how many with an active card, how many paid to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Living beneficiaries.
    pub persons: u64,
    /// With an active card (用卡).
    pub active: u64,
    /// Paid to the card's financial account (资金拨付).
    pub paid: u64,
}

impl Usage {
    /// Active share, percent.
    pub fn usage_rate(&self) -> f64 {
        pct(self.active, self.persons)
    }
    /// Paid-to-card share, percent.
    pub fn payment_rate(&self) -> f64 {
        pct(self.paid, self.persons)
    }
}

fn pct(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 * 100.0 / d as f64
    }
}

/// Counts of one township.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Township {
    /// Persons per [`Class`].
    pub classes: [u64; 5],
    /// Persons per [`Action`].
    pub actions: [u64; 6],
    /// New ([0]) and existing ([1]) beneficiaries.
    pub usage: [Usage; 2],
    /// 库存卡.
    pub stock: u64,
    /// 睡眠卡.
    pub dormant: u64,
    /// 回收卡.
    pub recalled: u64,
    /// Actions per village.
    pub villages: BTreeMap<String, [u64; 6]>,
}

impl Township {
    /// Persons on the roster.
    pub fn persons(&self) -> u64 {
        self.classes.iter().sum()
    }
    /// Living persons (who should hold a card).
    pub fn living(&self) -> u64 {
        self.persons() - self.classes[Class::Deceased.index()]
    }
    /// Living persons holding a live card, percent.
    pub fn holding_rate(&self) -> f64 {
        pct(self.classes[Class::Active.index()] + self.classes[Class::NotActivated.index()], self.living())
    }

    fn merge(&mut self, o: &Township) {
        for i in 0..5 {
            self.classes[i] += o.classes[i];
        }
        for i in 0..6 {
            self.actions[i] += o.actions[i];
        }
        for k in 0..2 {
            self.usage[k].persons += o.usage[k].persons;
            self.usage[k].active += o.usage[k].active;
            self.usage[k].paid += o.usage[k].paid;
        }
        self.stock += o.stock;
        self.dormant += o.dormant;
        self.recalled += o.recalled;
    }
}

/// Everything the reports show, gathered as the roster streams past.
#[derive(Debug, Clone)]
pub struct Report {
    /// Per township (an empty name is the rows without one).
    pub towns: BTreeMap<String, Township>,
    /// The day of the report.
    pub today: Date,
    /// Deadlines.
    pub deadlines: Deadlines,
}

/// The label of rows without a township.
const NO_TOWNSHIP: &str = "(未填镇街)";

impl Report {
    /// An empty report.
    pub fn new(today: Date, deadlines: Deadlines) -> Report {
        Report { towns: BTreeMap::new(), today, deadlines }
    }

    /// Counts one person.
    pub fn add(&mut self, p: &Person, o: &Outcome<'_>) {
        // Looked up before inserting: no name copied for a township or village already seen.
        let town = p.get(Field::Township);
        if !self.towns.contains_key(town) {
            self.towns.insert(town.to_owned(), Township::default());
        }
        let Some(t) = self.towns.get_mut(town) else { return };
        t.classes[o.class.index()] += 1;
        if let Some(a) = o.action {
            t.actions[a.index()] += 1;
            let village = p.get(Field::Village);
            if !t.villages.contains_key(village) {
                t.villages.insert(village.to_owned(), [0; 6]);
            }
            if let Some(v) = t.villages.get_mut(village) {
                v[a.index()] += 1;
            }
        }
        if o.class != Class::Deceased {
            let u = &mut t.usage[usize::from(p.kind == Kind::Existing)];
            u.persons += 1;
            u.active += u64::from(o.class == Class::Active);
            u.paid += u64::from(o.paid_to_card);
        }
        t.stock += u64::from(o.stock.stock);
        t.dormant += u64::from(o.stock.dormant);
        t.recalled += u64::from(o.stock.recalled);
    }

    /// All townships together.
    pub fn total(&self) -> Township {
        let mut t = Township::default();
        for x in self.towns.values() {
            t.merge(x);
        }
        t
    }

    fn label(town: &str) -> &str {
        if town.is_empty() {
            NO_TOWNSHIP
        } else {
            town
        }
    }

    /// The progress status of a township: done, overdue, days left, or no deadline.
    pub fn status(&self, town: &str, t: &Township) -> (Option<Date>, Option<i32>, String) {
        let deadline = self.deadlines.of(town);
        let left = deadline.map(|d| crate::days::days(d) - crate::days::days(self.today));
        let done = t.living() == 0
            || t.classes[Class::Active.index()] + t.classes[Class::NotActivated.index()] == t.living();
        let status = match (done, left) {
            (true, _) => "已完成".to_owned(),
            (false, None) => "未设期限".to_owned(),
            (false, Some(l)) if l < 0 => format!("已逾期{}天", -l),
            (false, Some(l)) => format!("剩余{l}天"),
        };
        (deadline, left, status)
    }

    fn progress_rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut one = |name: &str, t: &Township, status: (Option<Date>, Option<i32>, String)| {
            let mut r = vec![name.to_owned(), t.persons().to_string(), t.living().to_string()];
            r.extend(Class::ALL.iter().map(|c| t.classes[c.index()].to_string()));
            r.push(format!("{:.1}", t.holding_rate()));
            r.push(format!("{:.1}", pct(t.classes[Class::Active.index()], t.living())));
            r.push(status.0.map(|d| d.to_string()).unwrap_or_default());
            r.push(status.1.map(|d| d.to_string()).unwrap_or_default());
            r.push(status.2);
            rows.push(r);
        };
        for (town, t) in &self.towns {
            one(Report::label(town), t, self.status(town, t));
        }
        let total = self.total();
        let s = (None, None, if total.holding_rate() >= 100.0 { "已完成".into() } else { String::new() });
        one("合计", &total, s);
        rows
    }

    fn usage_rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut towns: Vec<(&str, Township)> =
            self.towns.iter().map(|(k, v)| (Report::label(k), v.clone())).collect();
        towns.push(("合计", self.total()));
        for (name, t) in towns {
            for (k, kind) in [(0, Kind::New), (1, Kind::Existing)] {
                let u = t.usage[k];
                if u.persons == 0 {
                    continue;
                }
                let target = if kind == Kind::New { TARGET_NEW } else { TARGET_EXISTING };
                let pay_target = (kind == Kind::Existing).then_some(TARGET_EXISTING);
                let yes = |ok: bool| (if ok { "达标" } else { "未达标" }).to_owned();
                rows.push(vec![
                    name.to_owned(),
                    kind.word().to_owned(),
                    u.persons.to_string(),
                    u.active.to_string(),
                    format!("{:.1}", u.usage_rate()),
                    format!("{target:.0}"),
                    yes(u.usage_rate() >= target),
                    u.paid.to_string(),
                    format!("{:.1}", u.payment_rate()),
                    pay_target.map(|t| format!("{t:.0}")).unwrap_or_default(),
                    pay_target.map(|t| yes(u.payment_rate() >= t)).unwrap_or_default(),
                ]);
            }
        }
        rows
    }

    fn stock_rows(&self) -> Vec<Vec<String>> {
        let mut towns: Vec<(&str, Township)> =
            self.towns.iter().map(|(k, v)| (Report::label(k), v.clone())).collect();
        towns.push(("合计", self.total()));
        towns
            .into_iter()
            .map(|(name, t)| {
                vec![
                    name.to_owned(),
                    t.stock.to_string(),
                    t.dormant.to_string(),
                    t.recalled.to_string(),
                    t.actions[Action::CancelCard.index()].to_string(),
                ]
            })
            .collect()
    }

    /// Writes the tables (CSV and one Markdown file) and the charts (SVG) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, RosterError> {
        std::fs::create_dir_all(dir).map_err(|e| RosterError::io(dir.display().to_string(), e))?;
        let progress_h: Vec<&str> = ["镇街", "名单人数", "应持卡人数"]
            .into_iter()
            .chain(Class::ALL.iter().map(|c| c.word()))
            .chain(["持卡率%", "激活率%", "期限", "剩余天数", "状态"])
            .collect();
        let usage_h = [
            "镇街",
            "类别",
            "人数",
            "已激活",
            "用卡率%",
            "用卡率目标%",
            "用卡",
            "发放到社保卡",
            "资金拨付率%",
            "拨付率目标%",
            "拨付",
        ];
        let stock_h = ["镇街", "库存卡", "睡眠卡", "回收卡", "死亡人员待注销卡"];
        let tables: [Table<'_>; 3] = [
            (
                "progress",
                "制卡发放进度 (issuance progress against deadlines)",
                progress_h,
                self.progress_rows(),
            ),
            (
                "usage",
                "用卡率 (card usage: new >= 95%, existing >= 60%)",
                usage_h.to_vec(),
                self.usage_rows(),
            ),
            (
                "stock",
                "库存卡、睡眠卡、回收卡 (stock, dormant, recalled cards)",
                stock_h.to_vec(),
                self.stock_rows(),
            ),
        ];
        let mut files = Vec::new();
        let mut md = format!("# 社保卡比对报告 ({})\n\n", self.today);
        for (name, title, headers, rows) in &tables {
            let path = dir.join(format!("{name}.csv"));
            let mut w = csv_out(&path)?;
            w.write_record(headers).map_err(csv_err(&path))?;
            for r in rows {
                w.write_record(r).map_err(csv_err(&path))?;
            }
            w.flush().map_err(|e| RosterError::io(path.display().to_string(), e))?;
            files.push(path);
            let _ = writeln!(md, "## {title}\n\n![{name}]({name}.svg)\n");
            let _ = writeln!(md, "| {} |", headers.join(" | "));
            let _ = writeln!(md, "|{}", "---|".repeat(headers.len()));
            for r in rows {
                let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
                let _ = writeln!(md, "| {} |", cells.join(" | "));
            }
            md.push('\n');
        }
        let path = dir.join("report.md");
        std::fs::write(&path, md).map_err(|e| RosterError::io(path.display().to_string(), e))?;
        files.push(path);
        for (name, svg) in
            [("progress", self.progress_svg()), ("usage", self.usage_svg()), ("stock", self.stock_svg())]
        {
            let path = dir.join(format!("{name}.svg"));
            std::fs::write(&path, svg).map_err(|e| RosterError::io(path.display().to_string(), e))?;
            files.push(path);
        }
        Ok(files)
    }

    fn chart_towns(&self) -> (Vec<(String, Township)>, bool) {
        let mut v: Vec<(String, Township)> =
            self.towns.iter().map(|(k, t)| (Report::label(k).to_owned(), t.clone())).collect();
        let cut = v.len() > MAX_BARS;
        v.truncate(MAX_BARS);
        v.insert(0, ("合计".into(), self.total()));
        (v, cut)
    }

    /// Stacked bars: each township's roster split by class, in percent, with its deadline.
    pub fn progress_svg(&self) -> String {
        let (towns, cut) = self.chart_towns();
        let rows = towns
            .iter()
            .map(|(name, t)| {
                let n = t.persons().max(1) as f64;
                let note = if name == "合计" {
                    format!("持卡率 {:.1}%", t.holding_rate())
                } else {
                    let (d, _, s) = self.status(if name == NO_TOWNSHIP { "" } else { name }, t);
                    format!(
                        "持卡率 {:.1}% · {} {s}",
                        t.holding_rate(),
                        d.map(|d| d.to_string()).unwrap_or_default()
                    )
                };
                ChartRow {
                    label: name.clone(),
                    bars: vec![t.classes.iter().map(|&c| c as f64 * 100.0 / n).collect()],
                    note,
                }
            })
            .collect();
        let series: Vec<&str> = Class::ALL.iter().map(|c| c.word()).collect();
        bar_chart(&Chart {
            title: format!("制卡发放进度 {}{}", self.today, if cut { " (前 40 个镇街)" } else { "" }),
            series: &series,
            colors: &["#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#424242"],
            rows,
            max: 100.0,
            unit: "%",
            targets: &[],
        })
    }

    /// Two bars per township: usage rate of new and of existing beneficiaries, with the
    /// 95% and 60% targets drawn across.
    pub fn usage_svg(&self) -> String {
        let (towns, cut) = self.chart_towns();
        let rows = towns
            .iter()
            .map(|(name, t)| ChartRow {
                label: name.clone(),
                bars: vec![vec![t.usage[0].usage_rate(), 0.0], vec![0.0, t.usage[1].usage_rate()]],
                note: format!("新增 {:.1}% · 存量 {:.1}%", t.usage[0].usage_rate(), t.usage[1].usage_rate()),
            })
            .collect();
        bar_chart(&Chart {
            title: format!("用卡率 {}{}", self.today, if cut { " (前 40 个镇街)" } else { "" }),
            series: &["新增领待人员", "存量领待人员"],
            colors: &["#1565c0", "#6a1b9a"],
            rows,
            max: 100.0,
            unit: "%",
            targets: &[(TARGET_NEW, "#1565c0", "新增目标 95%"), (TARGET_EXISTING, "#6a1b9a", "存量目标 60%")],
        })
    }

    /// Stacked counts of stock, dormant and recalled cards per township.
    pub fn stock_svg(&self) -> String {
        let (towns, cut) = self.chart_towns();
        let max =
            towns.iter().skip(1).map(|(_, t)| t.stock + t.dormant + t.recalled).max().unwrap_or(0).max(1)
                as f64;
        let rows = towns
            .iter()
            .skip(1)
            .map(|(name, t)| ChartRow {
                label: name.clone(),
                bars: vec![vec![t.stock as f64, t.dormant as f64, t.recalled as f64]],
                note: format!("{} / {} / {}", t.stock, t.dormant, t.recalled),
            })
            .collect();
        bar_chart(&Chart {
            title: format!(
                "库存卡、睡眠卡、回收卡 {}{}",
                self.today,
                if cut { " (前 40 个镇街)" } else { "" }
            ),
            series: &["库存卡", "睡眠卡", "回收卡"],
            colors: &["#ef6c00", "#5d4037", "#00838f"],
            rows,
            max,
            unit: "",
            targets: &[],
        })
    }
}

/// A table: file stem, title, headers, rows.
type Table<'a> = (&'a str, &'a str, Vec<&'a str>, Vec<Vec<String>>);

/// Townships drawn in a chart (the tables have all).
const MAX_BARS: usize = 40;

/// One row of a [`bar_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRow {
    /// The label on the left.
    pub label: String,
    /// Bars of the row, each a stack of segments (one value per series).
    pub bars: Vec<Vec<f64>>,
    /// The note on the right.
    pub note: String,
}

/// A horizontal bar chart (the reports' SVG charts).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart<'a> {
    /// The title.
    pub title: String,
    /// The series' names, for the legend.
    pub series: &'a [&'a str],
    /// The series' colours.
    pub colors: &'a [&'a str],
    /// The rows.
    pub rows: Vec<ChartRow>,
    /// The value at the right end of the plot.
    pub max: f64,
    /// The unit after the axis' numbers (`%`, or empty).
    pub unit: &'a str,
    /// Target lines: value, colour, label.
    pub targets: &'a [(f64, &'a str, &'a str)],
}

/// Text escaped for SVG and XML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart: label on the left, bars, a note on the right.
pub fn bar_chart(c: &Chart<'_>) -> String {
    let (left, plot, right, bar_h, gap) = (150.0, 500.0, 260.0, 14.0, 8.0);
    let per_row = c.rows.iter().map(|r| r.bars.len()).max().unwrap_or(1) as f64 * bar_h + gap;
    let top = 60.0;
    let height = top + per_row * c.rows.len() as f64 + 50.0;
    let width = left + plot + right;
    let x = |v: f64| left + plot * (v / c.max).clamp(0.0, 1.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ =
        writeln!(s, r#"<text x="{left}" y="22" font-size="16" font-weight="bold">{}</text>"#, esc(&c.title));
    let mut lx = left;
    for (i, name) in c.series.iter().enumerate() {
        let color = c.colors.get(i).copied().unwrap_or("#777");
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="34" width="12" height="12" fill="{color}"/><text x="{}" y="44">{}</text>"#,
            lx + 16.0,
            esc(name)
        );
        lx += 24.0 + 13.0 * name.chars().count() as f64;
    }
    for i in 0..=4 {
        let v = c.max * f64::from(i) / 4.0;
        let gx = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{gx}" y1="{top}" x2="{gx}" y2="{}" stroke="#ddd"/><text x="{gx}" y="{}" text-anchor="middle" fill="#555">{:.0}{}</text>"##,
            height - 40.0,
            height - 26.0,
            v,
            c.unit
        );
    }
    for (i, row) in c.rows.iter().enumerate() {
        let y0 = top + per_row * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y0 + bar_h,
            esc(&row.label)
        );
        for (b, bar) in row.bars.iter().enumerate() {
            let y = y0 + bar_h * b as f64;
            let mut acc = 0.0;
            for (k, v) in bar.iter().enumerate() {
                if *v <= 0.0 {
                    continue;
                }
                let color = c.colors.get(k).copied().unwrap_or("#777");
                let (x0, x1) = (x(acc), x(acc + v));
                let _ = writeln!(
                    s,
                    r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} {:.1}{}</title></rect>"#,
                    (x1 - x0).max(0.0),
                    bar_h - 2.0,
                    esc(c.series.get(k).copied().unwrap_or("")),
                    v,
                    c.unit
                );
                acc += v;
            }
        }
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="#333">{}</text>"##,
            left + plot + 8.0,
            y0 + bar_h,
            esc(&row.note)
        );
    }
    for (v, color, label) in c.targets {
        let tx = x(*v);
        let _ = writeln!(
            s,
            r#"<line x1="{tx}" y1="{top}" x2="{tx}" y2="{}" stroke="{color}" stroke-width="2" stroke-dasharray="6 4"/><text x="{tx}" y="{}" text-anchor="middle" fill="{color}">{}</text>"#,
            height - 40.0,
            top - 4.0,
            esc(label)
        );
    }
    s.push_str("</svg>\n");
    s
}
