//! The medical-insurance category on the application form (参保类别: 参加医疗保险或新农合的类型),
//! a closed list shipped as data (`data/insurance-categories.tsv`): the Fujian form's schemes
//! and the resident scheme's groups whose holders pay no card fees (低保, 特困, 重度残疾, other
//! subsidy recipients; RULE 7). The card services' schedule names its fee-free categories by
//! these keys, so a waiver follows the category the applicant gave on the form.

use crate::error::Explain;
use std::fmt;
use std::sync::OnceLock;

const DATA: &str = include_str!("../data/insurance-categories.tsv");

/// One category of the closed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsuranceCategory {
    key: &'static str,
    name: &'static str,
}

/// A category that is not on the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a medical-insurance category of the form")]
pub struct CategoryError(pub String);

impl Explain for CategoryError {
    fn rule(&self) -> &'static str {
        "insurance-category"
    }
    fn hint(&self) -> String {
        let keys: Vec<&str> = InsuranceCategory::all().iter().map(|c| c.key).collect();
        format!("tick one box of the form: {}", keys.join(", "))
    }
}

impl InsuranceCategory {
    /// Every category, in the form's order.
    pub fn all() -> &'static [InsuranceCategory] {
        static ALL: OnceLock<Vec<InsuranceCategory>> = OnceLock::new();
        ALL.get_or_init(|| {
            DATA.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(|l| {
                    let (key, name) =
                        l.split_once('\t').unwrap_or_else(|| panic!("insurance-categories.tsv: {l:?}"));
                    InsuranceCategory { key: key.trim(), name: name.trim() }
                })
                .collect()
        })
    }

    /// The category by its key (`extremely-poor`) or its name on the form.
    pub fn parse(s: &str) -> Result<InsuranceCategory, CategoryError> {
        let s = s.trim();
        InsuranceCategory::all()
            .iter()
            .find(|c| c.key == s || c.name == s)
            .copied()
            .ok_or_else(|| CategoryError(s.chars().take(40).collect()))
    }

    /// The stable key the files, the API and the fee schedule use.
    pub fn key(self) -> &'static str {
        self.key
    }

    /// The name printed on the form.
    pub fn name(self) -> &'static str {
        self.name
    }
}

impl fmt::Display for InsuranceCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_data_with_unique_keys_and_names() {
        let all = InsuranceCategory::all();
        assert!(all.len() >= 6, "{all:?}");
        for c in all {
            assert_eq!(all.iter().filter(|o| o.key == c.key || o.name == c.name).count(), 1, "{c:?}");
            assert_eq!(InsuranceCategory::parse(c.key()), Ok(*c));
            assert_eq!(InsuranceCategory::parse(c.name()), Ok(*c));
        }
        assert_eq!(
            InsuranceCategory::parse(" extremely-poor ").map(|c| c.name()),
            Ok("城乡居民基本医疗保险（特困人员）")
        );
        let e = InsuranceCategory::parse("vip").expect_err("not on the list");
        assert_eq!(e.rule(), "insurance-category");
        assert!(
            e.hint().contains("employee") && e.hint().contains("minimum-living-allowance"),
            "{}",
            e.hint()
        );
    }
}
