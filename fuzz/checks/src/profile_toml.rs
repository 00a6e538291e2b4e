//! The TOML profiles a station reads from its profile folder, where a new card OS, reader or
//! printer is supported by dropping in a file: card OS profiles (`firmware_profile::Profile::
//! from_toml_str`), reader profiles (`devices::ReaderProfile::parse`, `readers/`) and printer
//! profiles (`devices::PrinterProfile::parse`, `printers/`). The first byte picks the kind.
//!
//! What must hold: an error names the file; a profile that loads keeps what its schema
//! promises, which the card path relies on without checking again (the MF first and parents
//! before children, keys and PINs in DFs of the tree, AIDs of 5 to 16 bytes and unique,
//! capabilities within the APDU limits and agreeing with the ATR, `[isd]` exactly with an ISD
//! application; a reader's slots with a pattern and limits of 1 to 65536; a printer's ribbons
//! with their panels and a warning below their prints, and a model to answer to).

use std::path::Path;

use firmware_profile::devices::{PrinterProfile, ReaderProfile};
use firmware_profile::{ApplicationKind, FileKind, Profile, ProfileError};

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match pick % 3 {
        0 => card(text),
        1 => reader(text),
        _ => printer(text),
    }
}

fn named(e: &ProfileError) {
    let text = e.to_string();
    assert!(text.starts_with("fuzz.toml: "), "the error names the file: {text}");
    assert!(matches!(e, ProfileError::Syntax { .. } | ProfileError::Invalid { .. }), "{e:?}");
}

fn card(text: &str) {
    let p = match Profile::from_toml_str(text, "fuzz.toml") {
        Ok(p) => p,
        Err(e) => return named(&e),
    };
    assert_eq!(p.source, "fuzz.toml");
    assert!(!p.id.is_empty());
    assert!(p.mf().path.is_mf() && p.mf().is_df(), "the MF comes first");
    for (i, f) in p.files.iter().enumerate() {
        if let Some(parent) = f.path.parent() {
            let at = p.files.iter().position(|g| g.path == parent).expect("the parent is in the tree");
            assert!(at < i && p.files[at].is_df(), "{:?} before its parent DF", f.path);
        }
        assert!(p.files.iter().filter(|g| g.path == f.path).count() == 1, "{:?} twice", f.path);
        if let FileKind::Ef(ef) = &f.kind {
            assert!(ef.sfi.is_none_or(|s| (1..=30).contains(&s)));
        }
    }
    for k in &p.keys {
        assert!(p.file(&k.df).is_some_and(|d| d.is_df()), "key {:02X} outside the tree", k.id);
        assert!((1..=15).contains(&k.tries));
    }
    for pin in &p.pins {
        assert!(p.file(&pin.df).is_some_and(|d| d.is_df()), "PIN {:02X} outside the tree", pin.id);
        assert!((1..=15).contains(&pin.tries));
    }
    for (i, a) in p.applications.iter().enumerate() {
        assert!((5..=16).contains(&a.aid.len()));
        assert!(p.applications[..i].iter().all(|b| b.aid != a.aid), "AID twice");
        if let Some(df) = &a.df {
            assert_eq!(p.file(df).and_then(|f| f.df_name()), Some(&a.aid[..]));
        }
        assert_eq!(a.diversification_levels.is_some(), a.kind == ApplicationKind::Ssse);
    }
    assert_eq!(p.isd.is_some(), p.application(ApplicationKind::Isd).is_some());
    let c = p.capabilities;
    let (max_cmd, max_resp) = if c.extended_length { (65_535, 65_536) } else { (255, 256) };
    assert!((1..=max_cmd).contains(&c.max_command_data) && (1..=max_resp).contains(&c.max_response_data));
    assert_eq!(c.extended_length, p.atr.extended_length(), "the capabilities agree with the ATR");
    let historical = p.atr.historical_bytes();
    match p.card8() {
        Some(card8) => assert_eq!(&card8[..], &historical[historical.len() - 8..]),
        None => assert!(historical.len() < 8),
    }
}

fn reader(text: &str) {
    let r = match ReaderProfile::parse(text, Path::new("fuzz.toml")) {
        Ok(r) => r,
        Err(e) => return named(&e),
    };
    assert_eq!(r.source, Path::new("fuzz.toml"));
    assert!(!r.slots.is_empty());
    for s in &r.slots {
        let q = &s.quirks;
        for n in [q.max_command_data, q.max_response_data].into_iter().flatten() {
            assert!((1..=65536).contains(&n));
        }
        let limit = q.limit();
        assert!(limit.max_command_data >= 1 && limit.max_response_data >= 1);
        assert!(!limit.extended_length || q.extended_length);
        assert!(!q.describe().is_empty());
    }
}

fn printer(text: &str) {
    let p = match PrinterProfile::parse(text, Path::new("fuzz.toml")) {
        Ok(p) => p,
        Err(e) => return named(&e),
    };
    assert_eq!(p.source, Path::new("fuzz.toml"));
    assert!(!p.ribbons.is_empty());
    for r in &p.ribbons {
        assert!(!r.kind.is_empty() && r.kind.chars().all(|c| "YMCKOR".contains(c)));
        assert!(r.low_warning < r.prints);
    }
    assert!(p.low_ribbon_warning() < p.ribbons.iter().map(|r| r.prints).max().unwrap_or(0));
    // A printer is recognised by what it answers: every name the profile answers to is one.
    for report in &p.reports {
        assert!(!report.trim().is_empty(), "a blank `reports` entry would match every printer");
        assert!(p.matches_model(report));
    }
    assert!(!p.matches_model(""), "a printer that reports no model is nobody's");
}
