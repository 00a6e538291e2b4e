//! Reader knowledge as data: which slot a reader name is (contact, contactless, SAM) and
//! which quirks clamp what it can carry.
//!
//! PC/SC only gives us a reader *name*; what the slot is for is written in that name by the
//! vendor (`... PICC 0`, `... SAM 0`, `... CL Reader`). The rules are an ordered list so a
//! station can add its own readers in configuration without a code change:
//!
//! 1. exact-name overrides (configuration first, then the built-in ones for vpcd);
//! 2. pattern rules, first match wins (configuration first, then [`ReaderRules::defaults`]);
//! 3. nothing matched: [`ReaderKind::Unknown`], and the operator has to say.
//!
//! Quirk rules are applied *all* (not first match): every matching rule clamps the
//! capabilities further, so a vendor-wide rule and a model rule can both hold.
//!
//! # Text format
//!
//! [`ReaderRules::parse_config`] reads one rule a line (`#` starts a comment):
//!
//! ```text
//! reader "Virtual PCD 00 00" = contact      # exact name -> kind (an override)
//! word "SAM" = sam                          # whole words, case-insensitive
//! contains "Dual Reader" = contact          # substring, case-insensitive
//! quirk word "ACR38U" = short               # no extended length on this reader
//! quirk reader "Foo 0" = max-command:128 max-response:128
//! ```
//!
//! Kinds are `contact`, `contactless`, `sam`, `unknown`. Quirk values are `short`
//! (no extended length), `max-command:N`, `max-response:N`.

use card_transport::{Capabilities, ReaderKind};

use crate::error::Error;

/// How a rule recognises a reader name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMatch {
    /// The whole name, exactly (case-sensitive: it is what the stack reports).
    Exact(String),
    /// One or more whole words, in order and adjacent, case-insensitive. Words are runs of
    /// letters and digits, so `ICC` does not match inside `PICC` and `CL` not inside `CLASS`.
    Word(String),
    /// A case-insensitive substring: for vendor strings that are not whole words.
    Contains(String),
}

/// Splits a name into lower-case words (runs of ASCII letters and digits; other characters
/// are kept whole so non-ASCII names still compare).
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

impl NameMatch {
    /// True when `name` is recognised by this pattern.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::Exact(want) => name == want,
            NameMatch::Word(want) => {
                let want = words(want);
                if want.is_empty() {
                    return false;
                }
                let have = words(name);
                have.windows(want.len()).any(|w| w == want.as_slice())
            }
            NameMatch::Contains(want) => name.to_lowercase().contains(&want.to_lowercase()),
        }
    }
}

/// A reader-name pattern and the kind it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindRule {
    /// What the name must look like.
    pub pattern: NameMatch,
    /// What such a reader is for.
    pub kind: ReaderKind,
}

/// A reader-name pattern and what such a reader needs: the most it carries in one APDU, the
/// protocols it speaks, a pause after powering the card up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuirkRule {
    /// Which readers this quirk applies to.
    pub pattern: NameMatch,
    /// The limit: the card's capabilities are clamped to it.
    pub limit: Capabilities,
    /// The slot speaks T=0 only (a SAM slot often does): the card's T=1 is not asked for.
    pub t0_only: bool,
    /// Wait this long after connecting before the first APDU (a PSAM that needs it).
    pub power_up_delay: std::time::Duration,
}

/// How to connect to one reader, from every quirk that matches its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotHandling {
    /// The most one APDU carries.
    pub limit: Capabilities,
    /// Connect with T=0 only.
    pub t0_only: bool,
    /// Pause after connecting.
    pub power_up_delay: std::time::Duration,
}

/// The ordered classification and quirk rules of one station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderRules {
    overrides: Vec<(String, ReaderKind)>,
    kinds: Vec<KindRule>,
    quirks: Vec<QuirkRule>,
}

impl Default for ReaderRules {
    fn default() -> Self {
        ReaderRules::defaults()
    }
}

impl ReaderRules {
    /// No rules at all: every reader is [`ReaderKind::Unknown`] and nothing is clamped.
    pub fn empty() -> ReaderRules {
        ReaderRules { overrides: Vec::new(), kinds: Vec::new(), quirks: Vec::new() }
    }

    /// The built-in rules for readers we know.
    ///
    /// - vpcd (the test stack): `Virtual PCD 00 00` is the applicant's card (contact),
    ///   `Virtual PCD 00 01` the PSAM. Other vpcd slots stay unknown on purpose.
    /// - Multi-slot readers name the slot: `SAM`/`PSAM` first (a SAM slot name may also say
    ///   `ICC`), then `PICC`/`Contactless`/`CL`/`NFC`, then `ICC`/`Contact`.
    /// - A reader that names no slot but calls itself a smart-card reader is a single contact
    ///   slot in practice (e.g. `Generic EMV Smartcard Reader 0`).
    ///
    /// No quirk rule is built in: we only add one after seeing a reader fail extended APDUs.
    pub fn defaults() -> ReaderRules {
        use NameMatch::Word;
        use ReaderKind::{Contact, Contactless, Sam};
        let kinds = [
            (Word("SAM".into()), Sam),
            (Word("PSAM".into()), Sam),
            (Word("PICC".into()), Contactless),
            (Word("Contactless".into()), Contactless),
            (Word("CL".into()), Contactless),
            (Word("NFC".into()), Contactless),
            (Word("ICC".into()), Contact),
            (Word("Contact".into()), Contact),
            (Word("Smartcard Reader".into()), Contact),
            (Word("Smart Card Reader".into()), Contact),
        ]
        .into_iter()
        .map(|(pattern, kind)| KindRule { pattern, kind })
        .collect();
        ReaderRules {
            overrides: vec![("Virtual PCD 00 00".into(), Contact), ("Virtual PCD 00 01".into(), Sam)],
            kinds,
            quirks: Vec::new(),
        }
    }

    /// Adds an exact-name override, checked before every other rule (and before the
    /// overrides added earlier).
    pub fn with_override(mut self, name: impl Into<String>, kind: ReaderKind) -> ReaderRules {
        self.overrides.insert(0, (name.into(), kind));
        self
    }

    /// Adds a pattern rule checked before the existing ones.
    pub fn with_rule(mut self, pattern: NameMatch, kind: ReaderKind) -> ReaderRules {
        self.kinds.insert(0, KindRule { pattern, kind });
        self
    }

    /// Adds a quirk: readers matching `pattern` carry at most `limit`.
    pub fn with_quirk(mut self, pattern: NameMatch, limit: Capabilities) -> ReaderRules {
        self.quirks.push(QuirkRule {
            pattern,
            limit,
            t0_only: false,
            power_up_delay: std::time::Duration::ZERO,
        });
        self
    }

    /// Adds a whole quirk rule (a reader profile's slot: limit, T=0 only, power-up delay).
    pub fn with_quirk_rule(mut self, rule: QuirkRule) -> ReaderRules {
        self.quirks.push(rule);
        self
    }

    /// How to connect to the reader called `name`: the limits clamped, T=0 only when any
    /// matching quirk says so, the longest power-up delay.
    pub fn handling(&self, name: &str) -> SlotHandling {
        let matching = || self.quirks.iter().filter(|q| q.pattern.matches(name));
        SlotHandling {
            limit: self.reader_limit(name),
            t0_only: matching().any(|q| q.t0_only),
            power_up_delay: matching().map(|q| q.power_up_delay).max().unwrap_or_default(),
        }
    }

    /// The pattern rules, in the order they are tried.
    pub fn kind_rules(&self) -> &[KindRule] {
        &self.kinds
    }

    /// The quirk rules.
    pub fn quirk_rules(&self) -> &[QuirkRule] {
        &self.quirks
    }

    /// What the reader called `name` is for.
    pub fn classify(&self, name: &str) -> ReaderKind {
        if let Some((_, kind)) = self.overrides.iter().find(|(n, _)| n == name) {
            return *kind;
        }
        self.kinds.iter().find(|r| r.pattern.matches(name)).map_or(ReaderKind::Unknown, |r| r.kind)
    }

    /// The most the reader called `name` can carry: [`Capabilities::EXTENDED`] clamped by
    /// every matching quirk.
    pub fn reader_limit(&self, name: &str) -> Capabilities {
        self.quirks
            .iter()
            .filter(|q| q.pattern.matches(name))
            .fold(Capabilities::EXTENDED, |caps, q| caps.clamp(q.limit))
    }

    /// What a card with `atr` in the reader called `name` can carry: extended length only
    /// when the ATR announces it (an ATR that does not parse or says nothing means short
    /// APDUs: a wrong guess the other way fails mid-write), clamped by the reader's quirks.
    pub fn capabilities(&self, name: &str, atr: &[u8]) -> Capabilities {
        capabilities_for(atr, self.reader_limit(name))
    }

    /// Reads configuration text (see the module docs) on top of these rules: its overrides
    /// and pattern rules are tried before the existing ones, in the order written.
    pub fn parse_config(mut self, text: &str) -> Result<ReaderRules, Error> {
        let mut overrides = Vec::new();
        let mut kinds = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = strip_comment(raw).trim();
            if l.is_empty() {
                continue;
            }
            let bad = |message: String| Error::BadRule { line, message };
            let (quirk, rest) = match l.strip_prefix("quirk") {
                Some(r) if r.starts_with(char::is_whitespace) => (true, r.trim_start()),
                _ => (false, l),
            };
            let (how, rest) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad("expected `reader|word|contains \"NAME\" = VALUE`".into()))?;
            let (pattern_text, value) = parse_quoted(rest.trim_start()).map_err(bad)?;
            let value = value
                .trim_start()
                .strip_prefix('=')
                .ok_or_else(|| bad("expected `=` after the name".into()))?;
            let value = value.trim();
            let pattern = match how {
                "reader" => NameMatch::Exact(pattern_text),
                "word" => NameMatch::Word(pattern_text),
                "contains" => NameMatch::Contains(pattern_text),
                other => return Err(bad(format!("unknown match {other:?}: use reader, word or contains"))),
            };
            if quirk {
                self.quirks.push(QuirkRule {
                    pattern,
                    limit: parse_limit(value).map_err(bad)?,
                    t0_only: false,
                    power_up_delay: std::time::Duration::ZERO,
                });
                continue;
            }
            let kind = parse_kind(value).ok_or_else(|| {
                bad(format!("unknown kind {value:?}: use contact, contactless, sam or unknown"))
            })?;
            match pattern {
                NameMatch::Exact(name) => overrides.push((name, kind)),
                pattern => kinds.push(KindRule { pattern, kind }),
            }
        }
        overrides.append(&mut self.overrides);
        kinds.append(&mut self.kinds);
        self.overrides = overrides;
        self.kinds = kinds;
        Ok(self)
    }
}

/// The capabilities a card announces in its ATR, clamped to what the reader can carry.
pub(crate) fn capabilities_for(atr: &[u8], reader_limit: Capabilities) -> Capabilities {
    let extended = apdu::Atr::parse(atr).map(|a| a.extended_length()).unwrap_or(false);
    let card = if extended { Capabilities::EXTENDED } else { Capabilities::SHORT };
    card.clamp(reader_limit)
}

/// A reader kind as written in configuration and selectors.
pub(crate) fn parse_kind(s: &str) -> Option<ReaderKind> {
    match s.to_ascii_lowercase().as_str() {
        "contact" => Some(ReaderKind::Contact),
        "contactless" => Some(ReaderKind::Contactless),
        "sam" | "psam" => Some(ReaderKind::Sam),
        "unknown" => Some(ReaderKind::Unknown),
        _ => None,
    }
}

/// Drops a `#` comment that is not inside the quoted name.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `"text" rest` -> (`text`, ` rest`). Reader names hold no quotes, so there are no escapes.
fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or_else(|| format!("expected a quoted name, found {s:?}"))?;
    let end = body.find('"').ok_or_else(|| "the quoted name is not closed".to_string())?;
    if end == 0 {
        return Err("the quoted name is empty".into());
    }
    Ok((body[..end].to_string(), &body[end + 1..]))
}

fn parse_limit(value: &str) -> Result<Capabilities, String> {
    let mut limit = Capabilities::EXTENDED;
    if value.is_empty() {
        return Err("a quirk needs a value: short, max-command:N or max-response:N".into());
    }
    for item in value.split_whitespace() {
        let number = |s: &str| s.parse::<usize>().map_err(|_| format!("{s:?} is not a number"));
        if item == "short" {
            limit = limit.clamp(Capabilities::SHORT);
        } else if let Some(n) = item.strip_prefix("max-command:") {
            limit.max_command_data = limit.max_command_data.min(number(n)?);
        } else if let Some(n) = item.strip_prefix("max-response:") {
            limit.max_response_data = limit.max_response_data.min(number(n)?);
        } else {
            return Err(format!("unknown quirk {item:?}: use short, max-command:N or max-response:N"));
        }
    }
    // Beyond 255/256 bytes the APDU needs extended length; a limit below that is short.
    if limit.max_command_data <= 255 && limit.max_response_data <= 256 {
        limit.extended_length = false;
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slots_quirks_combine_into_how_to_connect() {
        let sam = NameMatch::Word("SAM".into());
        let rules = ReaderRules::defaults()
            .with_quirk(NameMatch::Contains("ACR1281".into()), Capabilities::SHORT)
            .with_quirk_rule(QuirkRule {
                pattern: sam,
                limit: Capabilities::EXTENDED,
                t0_only: true,
                power_up_delay: std::time::Duration::from_millis(50),
            });
        let h = rules.handling("ACS ACR1281 1S Dual Reader SAM 00 02");
        assert_eq!(
            (h.limit, h.t0_only, h.power_up_delay),
            (Capabilities::SHORT, true, std::time::Duration::from_millis(50))
        );
        let contact = rules.handling("ACS ACR1281 1S Dual Reader ICC 00 00");
        assert_eq!(
            (contact.limit, contact.t0_only, contact.power_up_delay),
            (Capabilities::SHORT, false, std::time::Duration::ZERO)
        );
        let other = rules.handling("Virtual PCD 00 00");
        assert_eq!((other.limit, other.t0_only), (Capabilities::EXTENDED, false));
    }
    use ReaderKind::*;

    #[test]
    fn defaults_classify_real_reader_names() {
        let r = ReaderRules::defaults();
        for (name, kind) in [
            ("ACS ACR1281 1S Dual Reader PICC 0", Contactless),
            ("ACS ACR1281 1S Dual Reader SAM 0", Sam),
            ("ACS ACR1281 1S Dual Reader ICC 0", Contact),
            ("Identiv uTrust 3700 F CL Reader", Contactless),
            ("Generic EMV Smartcard Reader 0", Contact),
            ("Virtual PCD 00 00", Contact),
            ("Virtual PCD 00 01", Sam),
            ("Virtual PCD 00 02", Unknown),
            ("ACS ACR122U PICC Interface 00 00", Contactless),
            ("Some Reader With A CLASSY Name", Unknown),
        ] {
            assert_eq!(r.classify(name), kind, "{name}");
        }
    }

    #[test]
    fn word_matching_respects_word_boundaries() {
        let icc = NameMatch::Word("ICC".into());
        assert!(icc.matches("Reader ICC 0"));
        assert!(icc.matches("reader icc-0"));
        assert!(!icc.matches("Reader PICC 0"));
        let two = NameMatch::Word("smartcard reader".into());
        assert!(two.matches("Generic EMV Smartcard Reader 0"));
        assert!(!two.matches("Smartcard Generic Reader"));
        assert!(!NameMatch::Word(" ".into()).matches("anything"));
        assert!(NameMatch::Contains("dual read".into()).matches("ACS ACR1281 1S Dual Reader ICC 0"));
        assert!(!NameMatch::Exact("Virtual PCD 00 00".into()).matches("virtual pcd 00 00"));
    }

    #[test]
    fn overrides_and_config_come_first() {
        let r = ReaderRules::defaults()
            .with_override("ACS ACR1281 1S Dual Reader ICC 0", Sam)
            .with_rule(NameMatch::Contains("uTrust".into()), Contact);
        assert_eq!(r.classify("ACS ACR1281 1S Dual Reader ICC 0"), Sam);
        assert_eq!(r.classify("Identiv uTrust 3700 F CL Reader"), Contact);
        assert_eq!(r.classify("ACS ACR1281 1S Dual Reader ICC 1"), Contact);
    }

    #[test]
    fn config_text_parses_in_order() {
        let text = r##"
            # station 7: the left reader's contact slot holds the PSAM
            reader "Virtual PCD 00 00" = sam
            word "Dual Reader ICC" = contact   # # in a comment
            contains "#odd" = contactless
            quirk word "ACR38U" = short
            quirk reader "Slow 0" = max-command:128 max-response:200
        "##;
        let r = ReaderRules::defaults().parse_config(text).expect("parses");
        assert_eq!(r.classify("Virtual PCD 00 00"), Sam);
        assert_eq!(r.classify("Virtual PCD 00 01"), Sam);
        assert_eq!(r.classify("x #ODD y"), Contactless);
        assert_eq!(r.kind_rules()[0].pattern, NameMatch::Word("Dual Reader ICC".into()));
        assert_eq!(r.reader_limit("ACS ACR38U-CCID 00 00"), Capabilities::SHORT);
        assert_eq!(
            r.reader_limit("Slow 0"),
            Capabilities { extended_length: false, max_command_data: 128, max_response_data: 200 }
        );
        assert_eq!(r.reader_limit("Virtual PCD 00 00"), Capabilities::EXTENDED);
    }

    #[test]
    fn bad_config_names_the_line() {
        for (text, needle) in [
            ("word SAM = sam", "quoted"),
            ("word \"SAM = sam", "not closed"),
            ("word \"SAM\" sam", "`=`"),
            ("regex \"SAM\" = sam", "unknown match"),
            ("word \"SAM\" = reader", "unknown kind"),
            ("quirk word \"X\" = fast", "unknown quirk"),
            ("quirk word \"X\" = max-command:lots", "not a number"),
            ("word \"\" = sam", "empty"),
            ("sam", "expected"),
        ] {
            let e = ReaderRules::empty().parse_config(&format!("\n{text}")).expect_err(text);
            let s = e.to_string();
            assert!(s.contains("line 2") && s.contains(needle), "{text}: {s}");
        }
    }

    #[test]
    fn capabilities_come_from_the_atr_clamped_by_quirks() {
        // T=1 card whose historical bytes carry card capabilities 73 00 00 C0 (b7: extended).
        let mut ext = hex::decode("3B8A800180730000C09900BF7C7A").expect("hex");
        let tck = ext[1..].iter().fold(0u8, |a, b| a ^ b);
        ext.push(tck);
        let plain = hex::decode("3B80800101").expect("hex");
        let r = ReaderRules::defaults().with_quirk(NameMatch::Word("ACR38U".into()), Capabilities::SHORT);
        assert_eq!(r.capabilities("Virtual PCD 00 00", &ext), Capabilities::EXTENDED);
        assert_eq!(r.capabilities("ACS ACR38U 00 00", &ext), Capabilities::SHORT);
        // The ATR says nothing (or is malformed): extended length off.
        assert_eq!(r.capabilities("Virtual PCD 00 00", &plain), Capabilities::SHORT);
        assert_eq!(r.capabilities("Virtual PCD 00 00", &[0x3B]), Capabilities::SHORT);
        // Quirks accumulate.
        let r = r.with_quirk(
            NameMatch::Contains("acr".into()),
            Capabilities { extended_length: true, max_command_data: 100, max_response_data: 65_536 },
        );
        assert_eq!(r.reader_limit("ACS ACR38U").max_command_data, 100);
        assert!(!r.reader_limit("ACS ACR38U").extended_length);
        assert!(r.reader_limit("ACS ACR1281").extended_length);
    }
}
