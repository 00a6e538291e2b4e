//! Reader selectors: how an operator, a config file or a test names the reader it wants.
//!
//! - `Virtual PCD 00 00`: the reader with exactly this name;
//! - `name:#odd name`: the same, for a name that would otherwise look like a selector;
//! - `kind:contact`, `kind:contactless`, `kind:sam`: the first reader of that kind, in the
//!   order the stack lists them;
//! - `#0`, `#1`, ...: the reader at that position in the list.
//!
//! Kinds come from [`crate::ReaderRules`], so `kind:sam` follows the station's configuration.

use std::str::FromStr;

use card_transport::{ReaderInfo, ReaderKind};

use crate::error::Error;
use crate::rules::parse_kind;

/// A parsed reader selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Exactly this reader name.
    Name(String),
    /// The first reader of this kind.
    Kind(ReaderKind),
    /// The reader at this position in the stack's list (from 0).
    Index(usize),
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Selector, Error> {
        let bad = |why: &str| Error::BadSelector { selector: s.to_string(), why: why.to_string() };
        if s.trim().is_empty() {
            return Err(bad("it is empty"));
        }
        if let Some(name) = s.strip_prefix("name:") {
            if name.is_empty() {
                return Err(bad("no name after name:"));
            }
            return Ok(Selector::Name(name.to_string()));
        }
        if let Some(kind) = s.strip_prefix("kind:") {
            return match parse_kind(kind.trim()) {
                Some(ReaderKind::Unknown) => Err(bad("kind:unknown selects nothing useful; name the reader")),
                Some(k) => Ok(Selector::Kind(k)),
                None => Err(bad("the kind is not contact, contactless or sam")),
            };
        }
        if let Some(index) = s.strip_prefix('#') {
            return index
                .trim()
                .parse()
                .map(Selector::Index)
                .map_err(|_| bad("# must be followed by a number"));
        }
        Ok(Selector::Name(s.to_string()))
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Name(n) if n.starts_with("kind:") || n.starts_with('#') || n.starts_with("name:") => {
                write!(f, "name:{n}")
            }
            Selector::Name(n) => f.write_str(n),
            Selector::Kind(k) => write!(f, "kind:{k}"),
            Selector::Index(i) => write!(f, "#{i}"),
        }
    }
}

impl Selector {
    /// The reader this selector picks out of `readers`, if any.
    pub fn pick<'a>(&self, readers: &'a [ReaderInfo]) -> Option<&'a ReaderInfo> {
        match self {
            Selector::Name(n) => readers.iter().find(|r| &r.name == n),
            Selector::Kind(k) => readers.iter().find(|r| r.kind == *k),
            Selector::Index(i) => readers.get(*i),
        }
    }

    /// Like [`Selector::pick`], with an error that names what was asked and what exists.
    pub fn resolve(&self, readers: &[ReaderInfo]) -> Result<ReaderInfo, Error> {
        self.pick(readers)
            .cloned()
            .ok_or_else(|| Error::NoReader { selector: self.to_string(), available: readers.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers() -> Vec<ReaderInfo> {
        [("Virtual PCD 00 00", ReaderKind::Contact), ("Virtual PCD 00 01", ReaderKind::Sam)]
            .into_iter()
            .map(|(n, k)| ReaderInfo { name: n.into(), kind: k, card_present: false })
            .collect()
    }

    #[test]
    fn parses_every_form() {
        let p = |s: &str| s.parse::<Selector>().expect(s);
        assert_eq!(p("Virtual PCD 00 00"), Selector::Name("Virtual PCD 00 00".into()));
        assert_eq!(p("kind:contact"), Selector::Kind(ReaderKind::Contact));
        assert_eq!(p("kind:SAM"), Selector::Kind(ReaderKind::Sam));
        assert_eq!(p("kind:psam"), Selector::Kind(ReaderKind::Sam));
        assert_eq!(p("kind:contactless"), Selector::Kind(ReaderKind::Contactless));
        assert_eq!(p("#0"), Selector::Index(0));
        assert_eq!(p("#12"), Selector::Index(12));
        assert_eq!(p("name:#1 odd"), Selector::Name("#1 odd".into()));
        // Round trip through Display.
        for s in ["Virtual PCD 00 00", "kind:sam", "#3", "name:#1 odd", "name:kind:x"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_what_it_cannot_mean() {
        for (s, why) in [
            ("", "empty"),
            ("kind:printer", "not contact"),
            ("kind:unknown", "name the reader"),
            ("#", "number"),
            ("#x", "number"),
            ("#-1", "number"),
            ("name:", "no name"),
        ] {
            let e = s.parse::<Selector>().expect_err(s);
            let text = e.to_string();
            assert!(text.contains(why) && text.contains("kind:contact"), "{s}: {text}");
        }
    }

    #[test]
    fn resolves_against_the_reader_list() {
        let rs = readers();
        let r = |s: &str| s.parse::<Selector>().expect(s).resolve(&rs);
        assert_eq!(r("kind:sam").expect("sam").name, "Virtual PCD 00 01");
        assert_eq!(r("#0").expect("#0").name, "Virtual PCD 00 00");
        assert_eq!(r("Virtual PCD 00 01").expect("name").kind, ReaderKind::Sam);
        let e = r("kind:contactless").expect_err("none");
        let s = e.to_string();
        assert!(s.contains("kind:contactless") && s.contains("Virtual PCD 00 01"), "{s}");
        assert!(r("#2").is_err());
        assert!(r("Virtual PCD 00 02").is_err());
    }
}
