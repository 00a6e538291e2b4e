//! The subsidy item register (惠民惠农财政补贴资金项目), as data.
//!
//! Sishui's plan (seed 002) has each department list its items on 附件2, 项目核查表:
//! 序号, 项目资金大类名称, 序号, 项目资金小类名称, 发放周期, 代发银行, 是否通过"一本通"发放,
//! 发放层级（范围）; the departments are the "业务主管部门" of step 三(一); and step 三(四)
//! has the HR bureau code every item uniformly (统一编码). The county's code here is the two
//! 序号 of 附件2: category number and sub-item number, two digits each (`0101` is category 1,
//! sub-item 1). Beside 附件2's columns the register says whom an item pays (个人, or 到户:
//! "到户资金原则上发放到户主的社保卡金融账户", Sishui 四(三)), the summary the bank writes
//! (摘要, Guangdong's "xx月低保金", seed 004 三(四)) and the share to be paid through the card
//! (Guangdong: social assistance wholly through the card in 2022; Fengjie: >= 60% of existing
//! beneficiaries).
//!
//! A register is a CSV or XLSX table with those headers (附件2 as the department fills it
//! in, with its two 序号 columns, reads as is), or TOML:
//!
//! ```toml
//! [[item]]
//! code = "0101"            # optional: derived from the two numbers
//! category_no = 1
//! category = "社会救助"
//! sub_no = 1
//! name = "最低生活保障金"
//! cycle = "月"             # 月 季 半年 年 一次性
//! bank = "农商银行"
//! passbook = true          # paid through the old passbook (一本通) until now
//! level = "县级"           # 中央 省级 市级 县级 乡镇
//! department = "县民政局"
//! recipient = "到户"       # 个人 or 到户
//! summary = "低保金"       # optional: the sub-item's name
//! target = 100             # optional percent: 60
//! ```
//!
//! [`check`] reports every problem of every row at once; [`Register::load`] refuses a
//! register with any.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use crate::table::{cell, find_columns, norm, read_small, Table};
use crate::PaymentsError;

/// How often an item is paid (发放周期).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cycle {
    /// 按月.
    Monthly,
    /// 按季.
    Quarterly,
    /// 半年.
    HalfYearly,
    /// 按年.
    Yearly,
    /// 一次性 or as needed (临时救助).
    OneOff,
}

impl Cycle {
    /// The word in the outputs.
    pub fn word(self) -> &'static str {
        match self {
            Cycle::Monthly => "月",
            Cycle::Quarterly => "季",
            Cycle::HalfYearly => "半年",
            Cycle::Yearly => "年",
            Cycle::OneOff => "一次性",
        }
    }

    fn parse(s: &str) -> Option<Cycle> {
        match s.trim().to_ascii_lowercase().as_str() {
            "月" | "按月" | "每月" | "月度" | "monthly" => Some(Cycle::Monthly),
            "季" | "按季" | "每季" | "季度" | "按季度" | "quarterly" => Some(Cycle::Quarterly),
            "半年" | "每半年" | "按半年" | "half-yearly" => Some(Cycle::HalfYearly),
            "年" | "按年" | "每年" | "年度" | "yearly" | "annual" => Some(Cycle::Yearly),
            "一次性" | "不定期" | "临时" | "按需" | "one-off" => Some(Cycle::OneOff),
            _ => None,
        }
    }
}

/// The level that funds and pays an item (发放层级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// 中央.
    Central,
    /// 省级.
    Province,
    /// 市级.
    City,
    /// 县级.
    County,
    /// 乡镇.
    Township,
}

impl Level {
    /// The word in the outputs.
    pub fn word(self) -> &'static str {
        match self {
            Level::Central => "中央",
            Level::Province => "省级",
            Level::City => "市级",
            Level::County => "县级",
            Level::Township => "乡镇",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "中央" | "国家" | "国家级" | "中央级" | "central" => Some(Level::Central),
            "省" | "省级" | "全省" | "province" => Some(Level::Province),
            "市" | "市级" | "全市" | "city" => Some(Level::City),
            "县" | "县级" | "全县" | "县区" | "区县" | "county" => Some(Level::County),
            "乡" | "镇" | "乡镇" | "乡镇级" | "镇街" | "township" => Some(Level::Township),
            _ => None,
        }
    }
}

/// One subsidy item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// 项目代码: category and sub-item number, two digits each.
    pub code: String,
    /// 大类序号.
    pub category_no: u8,
    /// 项目资金大类名称.
    pub category: String,
    /// 小类序号.
    pub sub_no: u8,
    /// 项目资金小类名称.
    pub name: String,
    /// 发放周期.
    pub cycle: Cycle,
    /// 代发银行.
    pub bank: String,
    /// 是否通过"一本通"发放: until the card takes over, recipients without a usable card
    /// are still paid to the passbook account the department gave.
    pub passbook: bool,
    /// 发放层级.
    pub level: Level,
    /// 业务主管部门.
    pub department: String,
    /// 到户: paid once per household, to the head of household's card.
    pub household: bool,
    /// 摘要: what the bank writes on the statement ("2022-03 低保金").
    pub summary: String,
    /// The share of recipients to be paid through the card, percent.
    pub target: f64,
    /// Row (or `[[item]]` entry) in the register.
    pub row: u32,
}

impl Item {
    /// The summary of a payment for `period`: "2022-03 最低生活保障金".
    pub fn summary_for(&self, period: crate::Period) -> String {
        format!("{period} {}", self.summary)
    }
}

/// A problem in the register: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemProblem {
    /// Row (CSV/XLSX: the sheet row; TOML: the `[[item]]` entry, from 1).
    pub row: u32,
    /// The column.
    pub column: &'static str,
    /// What is wrong and what to write.
    pub message: String,
}

impl fmt::Display for ItemProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} {}: {}", self.row, self.column, self.message)
    }
}

/// Default share paid through the card: Fengjie's target for existing beneficiaries.
pub const DEFAULT_TARGET: f64 = roster::report::TARGET_EXISTING;

/// The register's columns: canonical header, accepted headers.
const COLUMNS: [(&str, &[&str]); 13] = [
    ("项目代码", &["项目代码", "项目编码", "资金项目代码", "code"]),
    ("大类序号", &["大类序号", "项目资金大类序号", "category_no"]),
    ("项目资金大类名称", &["项目资金大类名称", "大类名称", "项目大类", "category"]),
    ("小类序号", &["小类序号", "项目资金小类序号", "sub_no"]),
    ("项目资金小类名称", &["项目资金小类名称", "小类名称", "项目名称", "补贴项目", "name"]),
    ("发放周期", &["发放周期", "周期", "cycle"]),
    ("代发银行", &["代发银行", "发放银行", "bank"]),
    ("是否通过一本通发放", &["是否通过一本通发放", "一本通", "passbook"]),
    ("发放层级(范围)", &["发放层级(范围)", "发放层级", "层级", "level"]),
    ("业务主管部门", &["业务主管部门", "主管部门", "填报单位", "department"]),
    ("发放对象", &["发放对象", "发放方式", "recipient"]),
    ("摘要", &["摘要", "摘要名称", "summary"]),
    ("用卡目标%", &["用卡目标%", "用卡目标", "目标%", "target"]),
];

const CODE: usize = 0;
const CAT_NO: usize = 1;
const CAT: usize = 2;
const SUB_NO: usize = 3;
const NAME: usize = 4;
const CYCLE: usize = 5;
const BANK: usize = 6;
const PASSBOOK: usize = 7;
const LEVEL: usize = 8;
const DEPT: usize = 9;
const RECIPIENT: usize = 10;
const SUMMARY: usize = 11;
const TARGET: usize = 12;

/// A validated register.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Register {
    /// The items, in register order.
    pub items: Vec<Item>,
}

impl Register {
    /// Reads and checks a register (CSV, XLSX or TOML by extension); any problem refuses it,
    /// all of them listed.
    pub fn load(path: &Path) -> Result<Register, PaymentsError> {
        let (items, problems) = check(path)?;
        if problems.is_empty() {
            Ok(Register { items })
        } else {
            Err(PaymentsError::Register { path: path.to_path_buf(), problems })
        }
    }

    /// The item with `code` (or, failing that, with the name `code`).
    pub fn item(&self, code: &str) -> Option<&Item> {
        let code = code.trim();
        self.items.iter().find(|i| i.code == code).or_else(|| self.items.iter().find(|i| i.name == code))
    }

    /// The register as a table: one line per item, for `station payments items`.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str("项目代码  大类            小类                  周期   代发银行      一本通 层级 发放对象 业务主管部门      目标%\n");
        for i in &self.items {
            s.push_str(&format!(
                "{:<9} {:<14} {:<20} {:<6} {:<12} {:<6} {:<4} {:<7} {:<16} {:.0}\n",
                i.code,
                i.category,
                i.name,
                i.cycle.word(),
                i.bank,
                if i.passbook { "是" } else { "否" },
                i.level.word(),
                if i.household { "到户" } else { "个人" },
                i.department,
                i.target
            ));
        }
        s
    }
}

/// Reads a register and checks every row: the items that are sound and every problem found.
pub fn check(path: &Path) -> Result<(Vec<Item>, Vec<ItemProblem>), PaymentsError> {
    let is_toml = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let (rows, mut problems) = if is_toml {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PaymentsError::Roster(roster::RosterError::Io { what: path.display().to_string(), source: e })
        })?;
        toml_rows(&text).map_err(|m| PaymentsError::Input { path: path.to_path_buf(), message: m })?
    } else {
        table_rows(&read_small(path, None)?)
    };
    let items = check_rows(&rows, &mut problems);
    Ok((items, problems))
}

/// A register row: its number and the text of each column (in [`COLUMNS`] order).
type Row = (u32, [String; 13]);

/// The rows of a CSV/XLSX register. 附件2 names both numbers "序号": the first is the
/// category's, the second the sub-item's.
fn table_rows(t: &Table) -> (Vec<Row>, Vec<ItemProblem>) {
    let wanted: Vec<&[&str]> = COLUMNS.iter().map(|c| c.1).collect();
    let mut at = find_columns(&t.headers, &wanted);
    let serials: Vec<usize> =
        t.headers.iter().enumerate().filter(|(_, h)| norm(h) == "序号").map(|(i, _)| i).collect();
    if at[CAT_NO].is_none() && at[SUB_NO].is_none() && serials.len() >= 2 {
        at[CAT_NO] = Some(serials[0]);
        at[SUB_NO] = Some(serials[1]);
    }
    let mut problems = Vec::new();
    for (i, (name, _)) in COLUMNS.iter().enumerate() {
        let required = matches!(i, CAT | NAME | CYCLE | BANK | PASSBOOK | LEVEL | DEPT | RECIPIENT);
        if required && at[i].is_none() {
            problems.push(ItemProblem {
                row: 1,
                column: name,
                message: format!("the register has no '{name}' column"),
            });
        }
    }
    if at[CODE].is_none() && (at[CAT_NO].is_none() || at[SUB_NO].is_none()) {
        problems.push(ItemProblem {
            row: 1,
            column: "项目代码",
            message: "give 项目代码, or the two 序号 columns (大类序号, 小类序号) it is made of".into(),
        });
    }
    if !problems.is_empty() {
        return (Vec::new(), problems);
    }
    let rows = t
        .rows
        .iter()
        .map(|(n, cells)| {
            let mut v: [String; 13] = Default::default();
            for (i, slot) in v.iter_mut().enumerate() {
                *slot = cell(cells, at[i]).to_owned();
            }
            (*n, v)
        })
        .collect();
    (rows, problems)
}

/// The `[[item]]` entries of a TOML register.
fn toml_rows(text: &str) -> Result<(Vec<Row>, Vec<ItemProblem>), String> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let Some(toml::Value::Array(entries)) = doc.get("item") else {
        return Err("the register has no [[item]] entries".into());
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (n, e) in entries.iter().enumerate() {
        let n = n as u32 + 1;
        let Some(t) = e.as_table() else {
            problems.push(ItemProblem {
                row: n,
                column: "item",
                message: "an [[item]] must be a table".into(),
            });
            continue;
        };
        let mut v: [String; 13] = Default::default();
        for (k, val) in t {
            let Some(i) = COLUMNS.iter().position(|c| c.1.iter().any(|a| norm(a) == norm(k))) else {
                problems.push(ItemProblem {
                    row: n,
                    column: "item",
                    message: format!("unknown key '{k}' (known: code, category_no, category, sub_no, name, cycle, bank, passbook, level, department, recipient, summary, target)"),
                });
                continue;
            };
            v[i] = match val {
                toml::Value::String(s) => s.trim().to_owned(),
                toml::Value::Integer(x) => x.to_string(),
                toml::Value::Float(x) => x.to_string(),
                toml::Value::Boolean(b) => (if *b { "是" } else { "否" }).to_owned(),
                _ => String::from("?"),
            };
        }
        rows.push((n, v));
    }
    Ok((rows, problems))
}

fn check_rows(rows: &[Row], problems: &mut Vec<ItemProblem>) -> Vec<Item> {
    let mut items = Vec::new();
    let mut codes: HashMap<String, u32> = HashMap::new();
    let mut categories: BTreeMap<u8, (String, u32)> = BTreeMap::new();
    for (n, v) in rows {
        let n = *n;
        let before = problems.len();
        let mut bad =
            |i: usize, m: String| problems.push(ItemProblem { row: n, column: COLUMNS[i].0, message: m });
        let number = |s: &str| -> Option<u8> { s.trim().parse::<u8>().ok().filter(|x| (1..=99).contains(x)) };
        let cat_no = number(&v[CAT_NO]);
        let sub_no = number(&v[SUB_NO]);
        let code_text = v[CODE].trim();
        let from_code = (code_text.len() == 4 && code_text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (code_text[..2].parse::<u8>().ok(), code_text[2..].parse::<u8>().ok()));
        if !code_text.is_empty() && from_code.is_none() {
            bad(
                CODE,
                format!("'{code_text}' is not a code: four digits, category then sub-item number (0101)"),
            );
        }
        let (cat_no, sub_no) = match (cat_no, sub_no, from_code) {
            (Some(c), Some(s), Some((Some(cc), Some(ss)))) if (c, s) != (cc, ss) => {
                bad(
                    CODE,
                    format!("'{code_text}' does not match 序号 {c} and {s}: it should be {c:02}{s:02}"),
                );
                (Some(c), Some(s))
            }
            (Some(c), Some(s), _) => (Some(c), Some(s)),
            (c, s, Some((cc, ss))) => (c.or(cc), s.or(ss)),
            (c, s, None) => {
                if c.is_none() {
                    bad(CAT_NO, format!("'{}' is not a category number 1-99", v[CAT_NO]));
                }
                if s.is_none() {
                    bad(SUB_NO, format!("'{}' is not a sub-item number 1-99", v[SUB_NO]));
                }
                (c, s)
            }
        };
        let code = match (cat_no, sub_no) {
            (Some(c), Some(s)) if c > 0 && s > 0 => Some(format!("{c:02}{s:02}")),
            _ => None,
        };
        if code.is_none() && from_code.is_some() {
            bad(CODE, format!("'{code_text}': category and sub-item numbers start at 01"));
        }
        if let Some(code) = &code {
            if let Some(first) = codes.get(code) {
                bad(CODE, format!("{code} is already the code of row {first}: every item has its own code"));
            } else {
                codes.insert(code.clone(), n);
            }
        }
        let text = |i: usize| v[i].trim().to_owned();
        let category = text(CAT);
        if category.is_empty() {
            bad(CAT, "fill in the category's name (项目资金大类名称)".into());
        } else if let Some(c) = cat_no {
            match categories.get(&c) {
                Some((name, first)) if *name != category => {
                    bad(CAT, format!("category {c} is '{name}' on row {first}: one number, one name"))
                }
                Some(_) => {}
                None => {
                    categories.insert(c, (category.clone(), n));
                }
            }
        }
        let name = text(NAME);
        if name.is_empty() {
            bad(NAME, "fill in the sub-item's name (项目资金小类名称)".into());
        }
        let cycle = Cycle::parse(&v[CYCLE]);
        if cycle.is_none() {
            bad(CYCLE, format!("'{}' is not a cycle: write 月, 季, 半年, 年 or 一次性", v[CYCLE]));
        }
        let bank = text(BANK);
        if bank.is_empty() {
            bad(BANK, "fill in the paying bank (代发银行)".into());
        }
        let passbook = match v[PASSBOOK].trim() {
            "是" | "Y" | "y" | "1" | "true" | "yes" => Some(true),
            "否" | "N" | "n" | "0" | "false" | "no" => Some(false),
            other => {
                bad(
                    PASSBOOK,
                    format!("'{other}': write 是 or 否 (paid through the old passbook until now?)"),
                );
                None
            }
        };
        let level = Level::parse(&v[LEVEL]);
        if level.is_none() {
            bad(LEVEL, format!("'{}' is not a level: write 中央, 省级, 市级, 县级 or 乡镇", v[LEVEL]));
        }
        let department = text(DEPT);
        if department.is_empty() {
            bad(DEPT, "fill in the department in charge (业务主管部门)".into());
        }
        let household = match v[RECIPIENT].trim() {
            "个人" | "到人" | "person" => Some(false),
            "到户" | "户" | "家庭" | "household" => Some(true),
            other => {
                bad(RECIPIENT, format!("'{other}': write 个人 (to the person's card) or 到户 (to the head of household's card)"));
                None
            }
        };
        let summary = if v[SUMMARY].trim().is_empty() { name.clone() } else { text(SUMMARY) };
        let target = if v[TARGET].trim().is_empty() {
            Some(DEFAULT_TARGET)
        } else {
            let t = v[TARGET]
                .trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|t| (0.0..=100.0).contains(t));
            if t.is_none() {
                bad(TARGET, format!("'{}' is not a percentage 0-100", v[TARGET]));
            }
            t
        };
        if problems.len() > before {
            continue;
        }
        if let (
            Some(code),
            Some(category_no),
            Some(sub_no),
            Some(cycle),
            Some(passbook),
            Some(level),
            Some(household),
            Some(target),
        ) = (code, cat_no, sub_no, cycle, passbook, level, household, target)
        {
            items.push(Item {
                code,
                category_no,
                category,
                sub_no,
                name,
                cycle,
                bank,
                passbook,
                level,
                department,
                household,
                summary,
                target,
                row: n,
            });
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_register_is_sound() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/register.toml");
        let r = Register::load(&path).expect("sound");
        assert!(r.items.len() >= 10);
        let dibao = r.item("0101").expect("低保");
        assert!(dibao.household && dibao.passbook);
        assert_eq!(dibao.summary_for(crate::Period { year: 2022, month: 3 }), "2022-03 低保金");
        assert_eq!(r.item("最低生活保障金").map(|i| i.code.as_str()), Some("0101"));
        assert!(r.table().contains("0101"));
    }

    #[test]
    fn the_seeds_table_with_two_serial_columns_reads_and_every_problem_is_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("附件2.csv");
        std::fs::write(
            &path,
            "序号,项目资金大类名称,序号,项目资金小类名称,发放周期,代发银行,是否通过\u{201c}一本通\u{201d}发放,发放层级（范围）,业务主管部门,发放对象\n\
             1,社会救助,1,最低生活保障金,月,农商银行,是,县级,县民政局,到户\n\
             1,社会救助,2,特困人员救助供养金,月,农商银行,是,县级,县民政局,个人\n\
             1,社会福利,3,高龄津贴,每周,,也许,村级,,\n\
             1,社会救助,2,重复,月,邮储银行,否,县级,县民政局,个人\n\
             x,社会救助,,缺序号,月,邮储银行,否,县级,县民政局,个人\n",
        )
        .expect("write");
        let (items, problems) = check(&path).expect("read");
        assert_eq!(items.iter().map(|i| i.code.as_str()).collect::<Vec<_>>(), ["0101", "0102"]);
        let found: Vec<(u32, &str)> = problems.iter().map(|p| (p.row, p.column)).collect();
        assert_eq!(
            found,
            [
                (4, "项目资金大类名称"),
                (4, "发放周期"),
                (4, "代发银行"),
                (4, "是否通过一本通发放"),
                (4, "发放层级(范围)"),
                (4, "业务主管部门"),
                (4, "发放对象"),
                (5, "项目代码"),
                (6, "大类序号"),
                (6, "小类序号"),
            ],
            "{problems:#?}"
        );
        let e = Register::load(&path).expect_err("refused");
        assert!(e.to_string().contains("10 problems"), "{e}");
    }

    #[test]
    fn toml_keys_and_codes_are_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("r.toml");
        std::fs::write(
            &path,
            r#"
[[item]]
code = "0203"
category_no = 2
category = "养老"
sub_no = 4
name = "基础养老金"
cycle = "月"
bank = "农业银行"
passbook = false
level = "县级"
department = "县人社局"
recipient = "个人"
colour = "red"
target = 120
"#,
        )
        .expect("write");
        let (items, problems) = check(&path).expect("read");
        assert!(items.is_empty());
        let cols: Vec<&str> = problems.iter().map(|p| p.column).collect();
        assert_eq!(cols, ["item", "项目代码", "用卡目标%"], "{problems:#?}");
    }

    #[test]
    fn an_xlsx_register_reads_as_its_csv() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("附件2.xlsx");
        let headers = [
            "序号",
            "项目资金大类名称",
            "序号",
            "项目资金小类名称",
            "发放周期",
            "代发银行",
            "是否通过“一本通”发放",
            "发放层级（范围）",
            "业务主管部门",
            "发放对象",
            "用卡目标%",
        ];
        let mut w = roster::xlsx::SheetWriter::create(&path, "项目核查表", &headers).expect("xlsx");
        w.row(&[
            "2",
            "残疾人补贴",
            "1",
            "困难残疾人生活补贴",
            "按月",
            "邮储银行",
            "是",
            "县级",
            "县残疾人联合会",
            "个人",
            "80%",
        ])
        .expect("row");
        w.finish().expect("save");
        let r = Register::load(&path).expect("sound");
        let i = r.item("0201").expect("code from the two numbers");
        assert_eq!(
            (i.cycle, i.level, i.passbook, i.household, i.target),
            (Cycle::Monthly, Level::County, true, false, 80.0)
        );
        assert_eq!(i.summary, "困难残疾人生活补贴", "the sub-item's name when no summary is given");
    }
}
