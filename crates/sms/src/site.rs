//! Agent sites (代办网点) as the station's configuration lists them:
//!
//! ```toml
//! [[sites]]
//! id = "T03"                      # stable: the ledger, the overdue list and the SMS key use it
//! name = "龙街镇便民服务中心"       # as the holder knows it; named in the SMS
//! township = "龙街镇"
//! hours = "周一至周五 9:00-12:00, 14:00-17:30"
//! address = "龙街镇政府一楼社保窗口"
//! phone = "0878-6221234"
//! ```
//!
//! [`validate_sites`] checks the list as a whole and reports every problem at once.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One agent site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Short stable code (1-32 of `A-Z a-z 0-9 _ -`), unique; renaming a site keeps it.
    pub id: String,
    /// The site's name as the holder knows it, unique.
    pub name: String,
    /// The township (乡镇/街道) it serves.
    pub township: String,
    /// Opening hours as the SMS states them.
    pub hours: String,
    /// Where it is.
    pub address: String,
    /// The site's telephone for questions.
    pub phone: String,
}

/// A problem with one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteProblem {
    /// Position in the list, from 1.
    pub index: usize,
    /// The field (`id`, `name`, ...).
    pub field: &'static str,
    /// What is wrong and what to write.
    pub message: String,
}

/// Everything wrong with a list of sites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteErrors(pub Vec<SiteProblem>);

impl std::error::Error for SiteErrors {}

impl fmt::Display for SiteErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "[[sites]] #{} {}: {}", p.index, p.field, p.message)?;
        }
        Ok(())
    }
}

/// Text the SMS carries: no line breaks or control characters, no 【】 (which mark the SMS
/// signature), not blank, at most `max` characters.
fn text_problem(value: &str, max: usize) -> Option<String> {
    let n = value.chars().count();
    if value.trim().is_empty() {
        Some("must not be empty".into())
    } else if n > max {
        Some(format!("{n} characters: at most {max} (it goes into an SMS)"))
    } else if value.chars().any(|c| c.is_control() || c == '【' || c == '】') {
        Some("no line breaks, control characters or 【】 (they mark the SMS signature)".into())
    } else if value.trim() != value {
        Some("no leading or trailing spaces".into())
    } else {
        None
    }
}

/// Checks every site and the list: ids and names unique.
pub fn validate_sites(sites: &[Site]) -> Result<(), SiteErrors> {
    let mut problems = Vec::new();
    let (mut ids, mut names) = (HashSet::new(), HashSet::new());
    for (i, s) in sites.iter().enumerate() {
        let mut push = |field, message: String| problems.push(SiteProblem { index: i + 1, field, message });
        let id_ok = !s.id.is_empty()
            && s.id.len() <= 32
            && s.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !id_ok {
            push("id", format!("{:?}: 1 to 32 of A-Z a-z 0-9 _ - (e.g. \"T03\")", s.id));
        } else if !ids.insert(s.id.as_str()) {
            push("id", format!("{:?} is used by another site: ids are unique", s.id));
        }
        for (field, value, max) in [
            ("name", &s.name, 30),
            ("township", &s.township, 20),
            ("hours", &s.hours, 40),
            ("address", &s.address, 60),
        ] {
            if let Some(message) = text_problem(value, max) {
                push(field, message);
            }
        }
        if !s.name.trim().is_empty() && !names.insert(s.name.as_str()) {
            push("name", format!("{:?} is used by another site: names are unique", s.name));
        }
        let digits = s.phone.chars().filter(char::is_ascii_digit).count();
        let phone_ok = (5..=15).contains(&digits)
            && s.phone.chars().all(|c| c.is_ascii_digit() || c == '-')
            && !s.phone.starts_with('-')
            && !s.phone.ends_with('-');
        if !phone_ok {
            push("phone", format!("{:?}: digits and hyphens, e.g. \"0878-6221234\" or \"12333\"", s.phone));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SiteErrors(problems))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn site() -> Site {
        Site {
            id: "T03".into(),
            name: "龙街镇便民服务中心".into(),
            township: "龙街镇".into(),
            hours: "周一至周五 9:00-12:00, 14:00-17:30".into(),
            address: "龙街镇政府一楼社保窗口".into(),
            phone: "0878-6221234".into(),
        }
    }

    #[test]
    fn sites_read_from_toml_and_validate() {
        #[derive(Deserialize)]
        struct Config {
            sites: Vec<Site>,
        }
        let text = r#"
            [[sites]]
            id = "T03"
            name = "龙街镇便民服务中心"
            township = "龙街镇"
            hours = "周一至周五 9:00-12:00, 14:00-17:30"
            address = "龙街镇政府一楼社保窗口"
            phone = "0878-6221234"

            [[sites]]
            id = "T04"
            name = "桂花镇便民服务中心"
            township = "桂花镇"
            hours = "工作日 8:30-17:00"
            address = "桂花镇桂花街1号"
            phone = "12333"
        "#;
        let c: Config = toml::from_str(text).expect("toml");
        assert_eq!(c.sites[0], site());
        assert_eq!(validate_sites(&c.sites), Ok(()));
        let e =
            toml::from_str::<Config>(&text.replace("phone = \"12333\"", "phone = \"12333\"\nfax = \"1\""))
                .err()
                .expect("unknown field");
        assert!(e.to_string().contains("fax"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut twin = site();
        twin.phone = "电话".into();
        twin.hours = " ".into();
        let mut bad = site();
        bad.id = "T 05".into();
        bad.name = "【假】网点".into();
        bad.address = "第一行\n第二行".into();
        bad.township = "镇".repeat(21);
        let e = validate_sites(&[site(), twin, bad]).expect_err("bad");
        let fields: Vec<(usize, &str)> = e.0.iter().map(|p| (p.index, p.field)).collect();
        assert_eq!(
            fields,
            [
                (2, "id"),
                (2, "hours"),
                (2, "name"),
                (2, "phone"),
                (3, "id"),
                (3, "name"),
                (3, "township"),
                (3, "address")
            ]
        );
        let text = e.to_string();
        assert!(text.contains("[[sites]] #2 id: \"T03\" is used by another site"), "{text}");
        assert!(text.contains("【】"), "{text}");
    }
}
