//! The cooperating banks per region, as data: [`Registry::builtin`] is `data/banks.toml`,
//! [`Registry::load`] a province's file of the same form. Every problem of a file is reported
//! at once, each saying what to change.
//!
//! ```toml
//! source = "where the list comes from"
//!
//! [[region]]               # optional: the regions that must each have a bank
//! code = "350581"
//! name = "福建省泉州市石狮市"
//!
//! [[bank]]
//! code = "ICBC"            # the key: letters, digits, '-' (the short name)
//! pboc_code = "102"        # 行别代码, three digits (shared by rural and city banks)
//! name = "中国工商银行"
//! short_name = "工商银行"
//! regions = ["350581", "3501", "35", "*"]   # a county, a city, a province, everywhere
//! bins = ["621226"]        # 6 to 8 digits
//! ```
//!
//! A region of a bank serves every code it is a prefix of. Codes ending in `00` are taken as
//! the city or province they name (`350100` is `3501`, Fuzhou; `350000` is `35`, Fujian), both
//! in the file and in a query.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

const BUILTIN: &str = include_str!("../data/banks.toml");

/// A cooperating bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    /// The key, the bank's short code (`ICBC`).
    pub code: String,
    /// The PBOC bank category code (行别代码), three digits (`102`).
    pub pboc_code: String,
    /// The full name (中国工商银行).
    pub name: String,
    /// The name on the counter's choice list (工商银行).
    pub short_name: String,
    /// The regions it serves: region-code prefixes of 2, 4 or 6 digits, or `*`.
    pub regions: Vec<String>,
    /// The BINs it issues social-security financial cards under, 6 to 8 digits.
    pub bins: Vec<String>,
}

impl Bank {
    /// Whether the bank serves `region` (a normalised region code).
    fn serves(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == "*" || region.starts_with(normalise(r)))
    }
}

/// A region the file says must have a bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Its code (2, 4 or 6 digits).
    pub code: String,
    /// Its name.
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    source: Option<String>,
    #[serde(default, rename = "region")]
    regions: Vec<Region>,
    #[serde(default, rename = "bank")]
    banks: Vec<Bank>,
}

/// One thing wrong with a bank list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file does not parse.
    #[error("not a bank list ({0}): [[bank]] tables with code, pboc_code, name, short_name, regions, bins")]
    Syntax(String),
    /// No bank at all.
    #[error("no [[bank]] in it: list the banks that cooperate with the card centre")]
    NoBanks,
    /// A code that is empty or has other characters.
    #[error("bank code {0:?}: 1 to 16 of A-Z 0-9 '-' (the bank's short code, e.g. ICBC)")]
    Code(String),
    /// Two banks with one code.
    #[error("bank code {0} is listed twice: each bank once, with all its regions and BINs")]
    DuplicateCode(String),
    /// A PBOC code that is not three digits.
    #[error("bank {code}: pboc_code {value:?} is not the three-digit bank category code (102 ICBC, 314 rural commercial banks, ...)")]
    PbocCode {
        /// The bank.
        code: String,
        /// What is there.
        value: String,
    },
    /// A name left empty.
    #[error("bank {0}: name and short_name are both needed (the counter shows the short name)")]
    Name(String),
    /// No BIN.
    #[error("bank {0}: no BIN; give the BIN(s) it issues social-security cards under (bins = [\"621226\"])")]
    NoBins(String),
    /// A BIN that is not 6 to 8 digits.
    #[error("bank {code}: BIN {bin:?} is not 6 to 8 digits")]
    Bin {
        /// The bank.
        code: String,
        /// What is there.
        bin: String,
    },
    /// One BIN under two banks.
    #[error("BIN {bin} is listed under both {first} and {second}: a BIN belongs to one bank")]
    DuplicateBin {
        /// The BIN.
        bin: String,
        /// The first bank.
        first: String,
        /// The second.
        second: String,
    },
    /// No region.
    #[error("bank {0}: no region; give the region codes it serves (regions = [\"350581\"], \"35\" for a province, \"*\" for all)")]
    NoRegions(String),
    /// A region code that is not 2, 4 or 6 digits of a known province.
    #[error(
        "{owner}: region {value:?} is not a region code (2, 4 or 6 digits of a GB/T 2260 code, or \"*\")"
    )]
    RegionCode {
        /// The bank or `[[region]]`.
        owner: String,
        /// What is there.
        value: String,
    },
    /// A listed region no bank serves.
    #[error("region {code} ({name}) has no bank: add it to the regions of the banks that serve it")]
    RegionWithoutBank {
        /// The region.
        code: String,
        /// Its name.
        name: String,
    },
}

/// A bank list that cannot be used: where it came from and every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bank list {origin}: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct RegistryError {
    /// The file (or `built-in`).
    pub origin: String,
    /// What is wrong, all of it.
    pub problems: Vec<Problem>,
}

/// The checked bank list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    source: Option<String>,
    regions: Vec<Region>,
    banks: Vec<Bank>,
}

/// The 2-, 4- or 6-digit form of a region code: trailing `00` pairs name the city or province.
fn normalise(code: &str) -> &str {
    let mut c = code;
    while c.len() > 2 && c.ends_with("00") {
        c = &c[..c.len() - 2];
    }
    c
}

fn region_ok(code: &str) -> bool {
    code == "*"
        || (matches!(code.len(), 2 | 4 | 6)
            && code.bytes().all(|b| b.is_ascii_digit())
            && applicant::province_name(&code[..2]).is_some())
}

impl Registry {
    /// The list shipped with the crate (`data/banks.toml`; its `source` says where it comes
    /// from).
    pub fn builtin() -> Registry {
        // The shipped file is checked by this crate's tests.
        Registry::parse(BUILTIN, "built-in").unwrap_or_else(|e| panic!("{e}"))
    }

    /// A province's list from `path`.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RegistryError {
            origin: origin.clone(),
            problems: vec![Problem::Syntax(e.to_string())],
        })?;
        Registry::parse(&text, &origin)
    }

    /// A list from its TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Registry, RegistryError> {
        let err = |problems| RegistryError { origin: origin.to_string(), problems };
        let file: File =
            toml::from_str(text).map_err(|e| err(vec![Problem::Syntax(e.message().to_string())]))?;
        let registry = Registry { source: file.source, regions: file.regions, banks: file.banks };
        let problems = registry.problems();
        if problems.is_empty() {
            Ok(registry)
        } else {
            Err(err(problems))
        }
    }

    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.banks.is_empty() {
            out.push(Problem::NoBanks);
        }
        let mut codes = HashMap::new();
        let mut bins: HashMap<&str, &str> = HashMap::new();
        for b in &self.banks {
            let code_ok = !b.code.is_empty()
                && b.code.len() <= 16
                && b.code.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-');
            if !code_ok {
                out.push(Problem::Code(b.code.clone()));
            }
            if codes.insert(b.code.as_str(), ()).is_some() {
                out.push(Problem::DuplicateCode(b.code.clone()));
            }
            if b.pboc_code.len() != 3 || !b.pboc_code.bytes().all(|c| c.is_ascii_digit()) {
                out.push(Problem::PbocCode { code: b.code.clone(), value: b.pboc_code.clone() });
            }
            if b.name.trim().is_empty() || b.short_name.trim().is_empty() {
                out.push(Problem::Name(b.code.clone()));
            }
            if b.bins.is_empty() {
                out.push(Problem::NoBins(b.code.clone()));
            }
            for bin in &b.bins {
                if !(6..=8).contains(&bin.len()) || !bin.bytes().all(|c| c.is_ascii_digit()) {
                    out.push(Problem::Bin { code: b.code.clone(), bin: bin.clone() });
                } else if let Some(first) = bins.insert(bin, &b.code) {
                    out.push(Problem::DuplicateBin {
                        bin: bin.clone(),
                        first: first.to_string(),
                        second: b.code.clone(),
                    });
                }
            }
            if b.regions.is_empty() {
                out.push(Problem::NoRegions(b.code.clone()));
            }
            for r in b.regions.iter().filter(|r| !region_ok(r)) {
                out.push(Problem::RegionCode { owner: format!("bank {}", b.code), value: r.clone() });
            }
        }
        for r in &self.regions {
            if r.code == "*" || !region_ok(&r.code) {
                out.push(Problem::RegionCode { owner: "[[region]]".into(), value: r.code.clone() });
            } else if !self.banks.iter().any(|b| b.serves(normalise(&r.code))) {
                out.push(Problem::RegionWithoutBank { code: r.code.clone(), name: r.name.clone() });
            }
        }
        out
    }

    /// Where the list comes from, as its file says.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Every bank, in the file's order.
    pub fn banks(&self) -> &[Bank] {
        &self.banks
    }

    /// The regions the file lists.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The banks serving `region` (a region code, 2 to 6 digits), in the file's order: the
    /// applicant's choices at a counter there. Empty for a code that is not one.
    pub fn banks_for(&self, region: &str) -> Vec<&Bank> {
        if region == "*" || !region_ok(region) {
            return Vec::new();
        }
        let region = normalise(region);
        self.banks.iter().filter(|b| b.serves(region)).collect()
    }

    /// The bank with this code (`ICBC`), or with this PBOC code (`102`) when one bank alone
    /// has it.
    pub fn bank(&self, code: &str) -> Option<&Bank> {
        if let Some(b) = self.banks.iter().find(|b| b.code == code) {
            return Some(b);
        }
        let mut by_pboc = self.banks.iter().filter(|b| b.pboc_code == code);
        match (by_pboc.next(), by_pboc.next()) {
            (Some(b), None) => Some(b),
            _ => None,
        }
    }

    /// The bank whose BIN starts `pan` (the longest BIN that does); `None` for a number that
    /// is not all digits or no listed bank's.
    pub fn bank_for_bin(&self, pan: &str) -> Option<&Bank> {
        if pan.len() < 6 || !pan.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        self.banks
            .iter()
            .flat_map(|b| b.bins.iter().map(move |bin| (bin, b)))
            .filter(|(bin, _)| pan.starts_with(bin.as_str()))
            .max_by_key(|(bin, _)| bin.len())
            .map(|(_, b)| b)
    }
}

impl fmt::Display for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.short_name, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(banks: Vec<&Bank>) -> Vec<&str> {
        banks.into_iter().map(|b| b.code.as_str()).collect()
    }

    #[test]
    fn the_shipped_list_is_valid_and_answers_the_seeds_regions() {
        let r = Registry::builtin();
        assert!(r.source().is_some_and(|s| s.contains("seeds")));
        assert_eq!(codes(r.banks_for("350581")), ["ICBC", "ABC"], "Shishi: the plan's two banks");
        assert_eq!(codes(r.banks_for("500236")).len(), 7, "Fengjie: seven banks");
        assert_eq!(codes(r.banks_for("370831")), ["ICBC", "ABC", "BOC", "CCB", "PSBC", "SSRCB"]);
        assert_eq!(codes(r.banks_for("500101")), ["CQRCB"], "the rural bank serves all Chongqing");
        assert!(r.banks_for("110105").is_empty(), "no bank listed for Beijing");
        assert_eq!(r.bank("ICBC").map(|b| b.name.as_str()), Some("中国工商银行"));
        assert_eq!(r.bank("102").map(|b| b.code.as_str()), Some("ICBC"), "a PBOC code one bank has");
        assert_eq!(r.bank("313"), None, "two city banks share 313");
        assert_eq!(r.bank("XX"), None);
        assert_eq!(r.bank_for_bin("6212262000000000000").map(|b| b.code.as_str()), Some("ICBC"));
        assert_eq!(r.bank_for_bin("6228480000000000000").map(|b| b.code.as_str()), Some("ABC"));
        assert_eq!(r.bank_for_bin("6212340000000000000"), None);
        assert_eq!(r.bank_for_bin("62122"), None);
        assert_eq!(r.bank_for_bin("62122x2000000000000"), None);
        assert_eq!(r.bank("ABC").map(ToString::to_string).as_deref(), Some("农业银行 (ABC)"));
    }

    const ONE: &str = r#"
        source = "test"
        [[region]]
        code = "350100"
        name = "福州市"
        [[bank]]
        code = "FJNX"
        pboc_code = "402"
        name = "福建省农村信用社联合社"
        short_name = "福建农信"
        regions = ["3501"]
        bins = ["621701", "62170199"]
        [[bank]]
        code = "ICBC"
        pboc_code = "102"
        name = "中国工商银行"
        short_name = "工商银行"
        regions = ["*"]
        bins = ["621226"]
    "#;

    #[test]
    fn prefixes_and_normalised_codes_match() {
        let r = Registry::parse(ONE, "one.toml").expect("valid");
        assert_eq!(codes(r.banks_for("350102")), ["FJNX", "ICBC"], "a Fuzhou district");
        assert_eq!(codes(r.banks_for("350100")), ["FJNX", "ICBC"], "Fuzhou itself");
        assert_eq!(codes(r.banks_for("3501")), ["FJNX", "ICBC"]);
        assert_eq!(codes(r.banks_for("350581")), ["ICBC"], "Quanzhou is not Fuzhou");
        assert_eq!(codes(r.banks_for("35")), ["ICBC"], "all Fujian: only the bank of everywhere");
        assert!(
            r.banks_for("990101").is_empty() && r.banks_for("abc").is_empty() && r.banks_for("*").is_empty()
        );
        assert_eq!(r.bank("402").map(|b| b.code.as_str()), Some("FJNX"));
        assert_eq!(r.bank_for_bin("6217019900000000000").map(|b| b.code.as_str()), Some("FJNX"));
        assert_eq!(r.bank_for_bin("6217010000000000000").map(|b| b.code.as_str()), Some("FJNX"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = r#"
            [[region]]
            code = "530000"
            name = "云南省"
            [[region]]
            code = "99"
            name = "nowhere"
            [[bank]]
            code = "icbc"
            pboc_code = "12"
            name = "中国工商银行"
            short_name = ""
            regions = ["3501", "35011", "990000"]
            bins = ["62122", "621226", "6212261234"]
            [[bank]]
            code = "ABC"
            pboc_code = "103"
            name = "中国农业银行"
            short_name = "农业银行"
            regions = []
            bins = ["621226"]
            [[bank]]
            code = "ABC"
            pboc_code = "103"
            name = "中国农业银行"
            short_name = "农业银行"
            regions = ["11"]
            bins = []
        "#;
        let e = Registry::parse(bad, "yunnan.toml").expect_err("bad");
        let want = [
            Problem::Code("icbc".into()),
            Problem::PbocCode { code: "icbc".into(), value: "12".into() },
            Problem::Name("icbc".into()),
            Problem::Bin { code: "icbc".into(), bin: "62122".into() },
            Problem::Bin { code: "icbc".into(), bin: "6212261234".into() },
            Problem::RegionCode { owner: "bank icbc".into(), value: "35011".into() },
            Problem::RegionCode { owner: "bank icbc".into(), value: "990000".into() },
            Problem::DuplicateBin { bin: "621226".into(), first: "icbc".into(), second: "ABC".into() },
            Problem::NoRegions("ABC".into()),
            Problem::DuplicateCode("ABC".into()),
            Problem::NoBins("ABC".into()),
            Problem::RegionWithoutBank { code: "530000".into(), name: "云南省".into() },
            Problem::RegionCode { owner: "[[region]]".into(), value: "99".into() },
        ];
        for p in &want {
            assert!(e.problems.contains(p), "missing {p:?} in {e}");
        }
        assert_eq!(e.problems.len(), want.len(), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with("bank list yunnan.toml: ") && text.contains("has no bank: add it"),
            "{text}"
        );

        let e = Registry::parse("[[bank]]\ncode = \"A\"\nflavour = 1\n", "x").expect_err("unknown field");
        assert!(matches!(&e.problems[..], [Problem::Syntax(m)] if m.contains("flavour")), "{e}");
        assert_eq!(Registry::parse("", "x").expect_err("empty").problems, [Problem::NoBanks]);
    }

    #[test]
    fn a_provinces_file_loads() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("fujian.toml");
        std::fs::write(&path, ONE).expect("write");
        let r = Registry::load(&path).expect("load");
        assert_eq!(r.banks().len(), 2);
        assert_eq!(r.regions()[0].name, "福州市");
        let e = Registry::load(&dir.path().join("missing.toml")).expect_err("missing");
        assert!(e.origin.ends_with("missing.toml") && matches!(e.problems[0], Problem::Syntax(_)), "{e}");
    }
}
