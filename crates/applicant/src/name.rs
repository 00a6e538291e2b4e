//! A person's name, checked, and its two card fields: EF06 tag 09 (name in GBK, 30 bytes,
//! 00-padded) and tag 4E (name extension, 20 bytes).
//!
//! What a name may hold (decided here, so the operator gets a reason instead of a mangled
//! card): either Chinese script, meaning CJK unified ideographs of any extension, compatibility
//! ideographs, 〇, and the middle dot `·` (U+00B7, GBK A1A4) between the parts of a minority or
//! transliterated name; or Latin script for foreigners, meaning ASCII letters with single
//! spaces between words and `-` or `'` inside words. Not both, no digits, no control
//! characters, no leading, trailing or double spaces. Look-alike dots (`•`, `・`, `.`) and
//! radicals typed instead of characters are refused with a hint.
//!
//! "In GBK" means: encoded by GBK in two bytes the way Windows code page 936 does it, which is
//! what card readers and provincial systems decode. `encoding_rs` follows GB 18030-2022, which
//! maps 99 further characters to two-byte GBK positions that code page 936 leaves unmapped or
//! sends to the private-use area (A6D9-A6DF, A6EC-A6ED, A6F3, A8BC, A8BF, A989-A995,
//! FE50-FEA0: among them 䶮 FE9F and 龴 FE59); those count as outside GBK here. Its one-byte
//! `€` (0x80) does too. The encoder is only ever used without replacement: its convenience
//! `encode` would silently write `&#134071;` for 𠮷.

use crate::error::Explain;
use encoding_rs::{EncoderResult, GB18030, GBK};
use std::fmt;

/// Bytes of EF06 tag 09.
pub const NAME_FIELD_LEN: usize = 30;
/// Bytes of EF06 tag 4E.
pub const NAME_EXTENSION_LEN: usize = 20;
/// What stands in tag 09 for a character outside GBK unless another marker is chosen.
pub const DEFAULT_MARKER: char = '?';

/// The script a name is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// CJK ideographs, possibly with middle dots.
    Chinese,
    /// ASCII letters, spaces, hyphens and apostrophes.
    Latin,
}

/// A checked name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    text: String,
    script: Script,
}

/// Why a name, or its card fields, cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Nothing there.
    #[error("the name is empty")]
    Empty,
    /// A control character (tab, newline, zero-width...).
    #[error("character {position} is a control or invisible character (U+{code:04X})")]
    Control {
        /// 1-based position.
        position: usize,
        /// Its code point.
        code: u32,
    },
    /// Leading, trailing or doubled space, or a space in a Chinese name.
    #[error("the name has a space at character {position} where none is allowed")]
    Space {
        /// 1-based position.
        position: usize,
    },
    /// A dot that looks like the middle dot but is another character.
    #[error(
        "character {position} is '{found}' (U+{code:04X}), not the middle dot '·' (U+00B7)",
        code = *found as u32
    )]
    LookAlikeDot {
        /// 1-based position.
        position: usize,
        /// What is there.
        found: char,
    },
    /// A middle dot at the start or end, or two in a row.
    #[error("the middle dot at character {position} must stand between two parts of the name")]
    DotPlacement {
        /// 1-based position.
        position: usize,
    },
    /// A CJK radical or ideographic description character instead of an ideograph.
    #[error(
        "character {position} '{found}' (U+{code:04X}) is a radical or component, not a character",
        code = *found as u32
    )]
    Radical {
        /// 1-based position.
        position: usize,
        /// What is there.
        found: char,
    },
    /// Any other character a name may not hold.
    #[error("character {position} '{found}' (U+{code:04X}) is not allowed in a name", code = *found as u32)]
    Character {
        /// 1-based position.
        position: usize,
        /// What is there.
        found: char,
    },
    /// Chinese characters and Latin letters together.
    #[error("the name mixes Chinese characters and Latin letters")]
    MixedScripts,
    /// The GBK form does not fit tag 09.
    #[error("the name takes {bytes} bytes in GBK; the card's name field (tag 09) holds {limit}")]
    TooLong {
        /// Bytes needed.
        bytes: usize,
        /// Bytes available.
        limit: usize,
    },
    /// The GB 18030 form does not fit tag 4E (needed because of characters outside GBK).
    #[error(
        "the name has characters outside GBK ({outside}) and takes {bytes} bytes in GB 18030; \
         the name-extension field (tag 4E) holds {limit}"
    )]
    ExtensionTooLong {
        /// Bytes needed.
        bytes: usize,
        /// Bytes available.
        limit: usize,
        /// The characters outside GBK.
        outside: String,
    },
    /// The chosen marker for tag 09 is not itself a GBK character.
    #[error("the marker '{0}' for characters outside GBK is not itself a printable GBK character")]
    Marker(char),
    /// A card field does not decode.
    #[error("card field tag {tag:02X} is not valid {encoding}")]
    FieldEncoding {
        /// 0x09 or 0x4E.
        tag: u8,
        /// "GBK" or "GB 18030".
        encoding: &'static str,
    },
    /// A card field is longer than its tag allows.
    #[error("card field tag {tag:02X} has {len} bytes; at most {limit} allowed")]
    FieldLength {
        /// 0x09 or 0x4E.
        tag: u8,
        /// Bytes given.
        len: usize,
        /// Bytes allowed.
        limit: usize,
    },
}

impl Explain for NameError {
    fn rule(&self) -> &'static str {
        match self {
            NameError::Empty => "name-empty",
            NameError::Control { .. } => "name-control-character",
            NameError::Space { .. } => "name-space",
            NameError::LookAlikeDot { .. } => "name-middle-dot",
            NameError::DotPlacement { .. } => "name-middle-dot-placement",
            NameError::Radical { .. } => "name-radical",
            NameError::Character { .. } => "name-character",
            NameError::MixedScripts => "name-mixed-scripts",
            NameError::TooLong { .. } => "name-card-length",
            NameError::ExtensionTooLong { .. } => "name-extension-length",
            NameError::Marker(_) => "name-marker",
            NameError::FieldEncoding { .. } => "name-card-encoding",
            NameError::FieldLength { .. } => "name-card-field-length",
        }
    }

    fn hint(&self) -> String {
        match self {
            NameError::Empty => "type the name exactly as on the identity document".into(),
            NameError::Control { .. } => {
                "re-type the name; something pasted an invisible character into it".into()
            }
            NameError::Space { .. } => "remove the space: Chinese names have none, Latin names have \
                 single spaces between words only"
                .into(),
            NameError::LookAlikeDot { .. } => {
                "replace it with the middle dot '·' (U+00B7, GBK A1A4), as on the identity document".into()
            }
            NameError::DotPlacement { .. } => {
                "put exactly one middle dot between the parts, as on the identity document".into()
            }
            NameError::Radical { .. } => "the input method gave a radical: choose the full character \
                 (CJK unified ideograph); if the character cannot be typed, use the provincial \
                 rare-character service"
                .into(),
            NameError::Character { .. } => "type the name exactly as on the identity document; \
                 foreigners' names in Latin capitals from the passport, without digits or punctuation"
                .into(),
            NameError::MixedScripts => {
                "use either the Chinese name or the Latin name from the document, not both".into()
            }
            NameError::TooLong { .. } => "the name has more than 15 Chinese characters (or 30 Latin \
                 letters): ask the provincial card centre for the agreed short form and record it \
                 with them before issuing"
                .into(),
            NameError::ExtensionTooLong { .. } => "register the name with the provincial rare-character \
                 service; the card cannot carry it in full"
                .into(),
            NameError::Marker(_) => "choose an ASCII character such as '?' or a common GBK symbol".into(),
            NameError::FieldEncoding { .. } | NameError::FieldLength { .. } => {
                "the card holds a damaged or foreign-encoded name: read it again, or re-personalise \
                 the card from the applicant data"
                    .into()
            }
        }
    }
}

fn is_ideograph(c: char) -> bool {
    matches!(c as u32,
        0x3007
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2EE5F
        | 0x2F800..=0x2FA1F
        | 0x30000..=0x323AF)
}

fn is_radical(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x2FDF | 0x2FF0..=0x2FFF | 0x31C0..=0x31EF)
}

fn is_look_alike_dot(c: char) -> bool {
    matches!(
        c,
        '.' | '•'
            | '・'
            | '･'
            | '‧'
            | '∙'
            | '⋅'
            | '．'
            | '\u{0387}'
            | '\u{2E31}'
            | '\u{318D}'
            | '\u{A78F}'
            | '。'
    )
}

/// Two-byte GBK positions whose GB 18030-2022 meaning code page 936 does not share.
fn unstable_gbk_position(lead: u8, trail: u8) -> bool {
    match lead {
        0xA6 => matches!(trail, 0xD9..=0xDF | 0xEC | 0xED | 0xF3),
        0xA8 => matches!(trail, 0xBC | 0xBF),
        0xA9 => matches!(trail, 0x89..=0x95),
        0xFE => matches!(trail, 0x50..=0xA0),
        _ => false,
    }
}

/// Encodes `s` with `encoding`, refusing (not replacing) anything it cannot represent.
fn encode_strict(encoding: &'static encoding_rs::Encoding, s: &str) -> Option<Vec<u8>> {
    let mut encoder = encoding.new_encoder();
    let mut out = vec![0u8; s.len() * 4 + 16];
    let (result, _, written) = encoder.encode_from_utf8_without_replacement(s, &mut out, true);
    match result {
        EncoderResult::InputEmpty => {
            out.truncate(written);
            Some(out)
        }
        EncoderResult::Unmappable(_) | EncoderResult::OutputFull => None,
    }
}

/// The GBK bytes of `c` as code page 936 has them, or `None` when `c` is outside GBK.
pub fn gbk_bytes(c: char) -> Option<Vec<u8>> {
    if matches!(c as u32, 0xE000..=0xF8FF) {
        return None;
    }
    let mut buf = [0u8; 4];
    let bytes = encode_strict(GBK, c.encode_utf8(&mut buf))?;
    match bytes[..] {
        [b] if b < 0x80 => Some(bytes),
        [lead, trail] if !unstable_gbk_position(lead, trail) => Some(bytes),
        _ => None,
    }
}

/// True when `c` is in GBK in the sense above.
pub fn is_gbk(c: char) -> bool {
    gbk_bytes(c).is_some()
}

impl Name {
    /// Checks a name against the rules in the module documentation.
    pub fn new(s: &str) -> Result<Name, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        let chars: Vec<char> = s.chars().collect();
        let (mut chinese, mut latin) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            let position = i + 1;
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            if c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}') {
                return Err(NameError::Control { position, code: c as u32 });
            }
            if is_ideograph(c) {
                chinese = true;
            } else if c.is_ascii_alphabetic() {
                latin = true;
            } else if c == '·' {
                chinese = true;
                if prev.is_none_or(|p| p == '·') || next.is_none() {
                    return Err(NameError::DotPlacement { position });
                }
            } else if c == ' ' {
                if prev.is_none_or(|p| p == ' ') || next.is_none() {
                    return Err(NameError::Space { position });
                }
            } else if c == '-' || c == '\'' {
                let letter = |o: Option<char>| o.is_some_and(|x| x.is_ascii_alphabetic());
                if !letter(prev) || !letter(next) {
                    return Err(NameError::Character { position, found: c });
                }
            } else if c.is_whitespace() {
                return Err(NameError::Space { position });
            } else if is_look_alike_dot(c) {
                return Err(NameError::LookAlikeDot { position, found: c });
            } else if is_radical(c) {
                return Err(NameError::Radical { position, found: c });
            } else {
                return Err(NameError::Character { position, found: c });
            }
        }
        if chinese && latin {
            return Err(NameError::MixedScripts);
        }
        if chinese {
            if let Some(i) = chars.iter().position(|&c| c == ' ') {
                return Err(NameError::Space { position: i + 1 });
            }
            if let Some(i) = chars.iter().position(|&c| c == '-' || c == '\'') {
                return Err(NameError::Character { position: i + 1, found: chars[i] });
            }
        }
        let script = if chinese { Script::Chinese } else { Script::Latin };
        Ok(Name { text: s.to_owned(), script })
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Chinese or Latin.
    pub fn script(&self) -> Script {
        self.script
    }

    /// The characters that are outside GBK, in order of appearance.
    pub fn outside_gbk(&self) -> Vec<char> {
        self.text.chars().filter(|&c| !is_gbk(c)).collect()
    }

    /// True when the card needs the name-extension field (tag 4E).
    pub fn needs_extension(&self) -> bool {
        self.text.chars().any(|c| !is_gbk(c))
    }

    /// Tag 09 and tag 4E with the [`DEFAULT_MARKER`]; see [`Name::encode_card_fields_with`].
    pub fn encode_card_fields(&self) -> Result<([u8; NAME_FIELD_LEN], [u8; NAME_EXTENSION_LEN]), NameError> {
        self.encode_card_fields_with(DEFAULT_MARKER)
    }

    /// Tag 09 and tag 4E. When every character is in GBK, tag 09 is the GBK bytes, 00-padded,
    /// and tag 4E is all zero. Otherwise tag 09 is the GBK bytes with `marker` standing for each
    /// character outside GBK, and tag 4E is the whole name in GB 18030, 00-padded. A name that
    /// does not fit is an error, never truncated; no character is ever dropped or replaced
    /// silently.
    pub fn encode_card_fields_with(
        &self,
        marker: char,
    ) -> Result<([u8; NAME_FIELD_LEN], [u8; NAME_EXTENSION_LEN]), NameError> {
        let marker_bytes = gbk_bytes(marker)
            .filter(|_| !marker.is_control() && !is_ideograph(marker) && marker != '\0')
            .ok_or(NameError::Marker(marker))?;
        let mut gbk = Vec::with_capacity(NAME_FIELD_LEN);
        let mut outside = String::new();
        for c in self.text.chars() {
            match gbk_bytes(c) {
                Some(b) => gbk.extend(b),
                None => {
                    outside.push(c);
                    gbk.extend(&marker_bytes);
                }
            }
        }
        if gbk.len() > NAME_FIELD_LEN {
            return Err(NameError::TooLong { bytes: gbk.len(), limit: NAME_FIELD_LEN });
        }
        let mut field_09 = [0u8; NAME_FIELD_LEN];
        field_09[..gbk.len()].copy_from_slice(&gbk);
        let mut field_4e = [0u8; NAME_EXTENSION_LEN];
        if !outside.is_empty() {
            // GB 18030 covers all of Unicode except a few private-use points a Name cannot hold.
            let full = encode_strict(GB18030, &self.text)
                .ok_or(NameError::FieldEncoding { tag: 0x4E, encoding: "GB 18030" })?;
            if full.len() > NAME_EXTENSION_LEN {
                return Err(NameError::ExtensionTooLong {
                    bytes: full.len(),
                    limit: NAME_EXTENSION_LEN,
                    outside,
                });
            }
            field_4e[..full.len()].copy_from_slice(&full);
        }
        Ok((field_09, field_4e))
    }

    /// The name from tag 09 and tag 4E as read from a card. Tag 4E wins when it holds anything;
    /// tag 09 is then not cross-checked, because other issuers use other markers. Trailing
    /// 00, FF and space padding is ignored. Both fields are decoded strictly (no replacement)
    /// and the result must pass [`Name::new`].
    pub fn decode_card_fields(field_09: &[u8], field_4e: &[u8]) -> Result<Name, NameError> {
        for (tag, field, limit) in [(0x09, field_09, NAME_FIELD_LEN), (0x4E, field_4e, NAME_EXTENSION_LEN)] {
            if field.len() > limit {
                return Err(NameError::FieldLength { tag, len: field.len(), limit });
            }
        }
        let ext = unpad(field_4e);
        if !ext.is_empty() {
            let bad = NameError::FieldEncoding { tag: 0x4E, encoding: "GB 18030" };
            let text = GB18030.decode_without_bom_handling_and_without_replacement(ext).ok_or(bad)?;
            return Name::new(&text);
        }
        let bad = NameError::FieldEncoding { tag: 0x09, encoding: "GBK" };
        let text =
            GBK.decode_without_bom_handling_and_without_replacement(unpad(field_09)).ok_or(bad.clone())?;
        // encoding_rs decodes GBK as GB 18030; four-byte codes do not belong in tag 09.
        if !text.chars().all(is_gbk) {
            return Err(bad);
        }
        Name::new(&text)
    }
}

fn unpad(field: &[u8]) -> &[u8] {
    let end = field.iter().rposition(|&b| !matches!(b, 0x00 | 0xFF | b' ')).map_or(0, |i| i + 1);
    &field[..end]
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::new(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    fn gbk_membership() {
        assert_eq!(gbk_bytes('张'), Some(h("D5C5")));
        assert_eq!(gbk_bytes('·'), Some(h("A1A4")));
        assert_eq!(gbk_bytes('〇'), Some(h("A996")));
        assert_eq!(gbk_bytes('A'), Some(h("41")));
        assert_eq!(gbk_bytes('𠮷'), None, "U+20BB7 is four bytes in GB 18030");
        assert_eq!(gbk_bytes('䶮'), None, "FE9F: GB 18030-2022 only, not code page 936");
        assert_eq!(gbk_bytes('龴'), None, "FE59 likewise");
        assert_eq!(gbk_bytes('€'), None, "0x80 is a Windows extension");
        assert_eq!(gbk_bytes('\u{E855}'), None, "private use");
        assert!(is_gbk('龥'), "U+9FA5, last of the unified block in GBK");
        assert!(!is_gbk('\u{9FA6}'));
    }

    #[test]
    fn convenience_encoder_would_replace_silently() {
        // The reason for encode_strict: this must never reach a card.
        let (bytes, _, replaced) = GBK.encode("𠮷");
        assert!(replaced);
        assert_eq!(&bytes[..], b"&#134071;");
    }

    #[test]
    fn accepted_names() {
        for s in [
            "张三",
            "买买提·艾力",
            "阿卜杜拉·买买提·艾力",
            "王〇",
            "王𠮷",
            "刘䶮",
            "JOHN SMITH",
            "Mary-Jane O'Neil",
            "Li",
        ] {
            name(s);
        }
        assert_eq!(name("张三").script(), Script::Chinese);
        assert_eq!(name("JOHN SMITH").script(), Script::Latin);
    }

    #[test]
    fn refused_names_say_why() {
        let e = |s: &str| Name::new(s).expect_err(s).rule();
        assert_eq!(e(""), "name-empty");
        assert_eq!(e("张\t三"), "name-control-character");
        assert_eq!(e("张\u{200B}三"), "name-control-character");
        assert_eq!(e(" 张三"), "name-space");
        assert_eq!(e("张三 "), "name-space");
        assert_eq!(e("张 三"), "name-space");
        assert_eq!(e("JOHN  SMITH"), "name-space");
        assert_eq!(e("张\u{3000}三"), "name-space");
        assert_eq!(e("买买提•艾力"), "name-middle-dot");
        assert_eq!(e("买买提・艾力"), "name-middle-dot");
        assert_eq!(e("买买提.艾力"), "name-middle-dot");
        assert_eq!(e("·艾力"), "name-middle-dot-placement");
        assert_eq!(e("艾力·"), "name-middle-dot-placement");
        assert_eq!(e("艾··力"), "name-middle-dot-placement");
        assert_eq!(e("⻊三"), "name-radical");
        assert_eq!(e("张3"), "name-character");
        assert_eq!(e("ＪＯＨＮ"), "name-character");
        assert_eq!(e("-JOHN"), "name-character");
        assert_eq!(e("张三Li"), "name-mixed-scripts");
        assert_eq!(e("张-三"), "name-character");
        assert_eq!(e("\u{E855}"), "name-character");
    }

    #[test]
    fn gbk_name_has_no_extension() {
        let (f09, f4e) = name("张三").encode_card_fields().expect("fits");
        assert_eq!(&f09[..4], &h("D5C5C8FD")[..]);
        assert!(f09[4..].iter().all(|&b| b == 0));
        assert_eq!(f4e, [0u8; 20]);
        assert!(!name("张三").needs_extension());
        let (f09, _) = name("买买提·艾力").encode_card_fields().expect("fits");
        assert_eq!(&f09[6..8], &h("A1A4")[..]);
    }

    #[test]
    fn rare_character_goes_to_the_extension() {
        let n = name("王𠮷");
        assert!(n.needs_extension());
        assert_eq!(n.outside_gbk(), ['𠮷']);
        let (f09, f4e) = n.encode_card_fields().expect("fits");
        assert_eq!(&f09[..3], &h("CDF53F")[..], "marker '?' in place of 𠮷");
        assert!(f09[3..].iter().all(|&b| b == 0));
        assert_eq!(&f4e[..6], &h("CDF59534B235")[..], "full name in GB 18030");
        assert!(f4e[6..].iter().all(|&b| b == 0));
        assert_eq!(Name::decode_card_fields(&f09, &f4e).expect("decodes"), n);

        let (f09, f4e) = name("刘䶮").encode_card_fields().expect("fits");
        assert_eq!(&f09[..3], &h("C1F53F")[..]);
        assert_eq!(&f4e[..4], &h("C1F5FE9F")[..]);
    }

    #[test]
    fn marker_is_configurable_but_must_be_gbk() {
        let (f09, _) = name("王𠮷").encode_card_fields_with('□').expect("fits");
        assert_eq!(&f09[..4], &h("CDF5A1F5")[..]);
        assert_eq!(name("王𠮷").encode_card_fields_with('€'), Err(NameError::Marker('€')));
        assert_eq!(name("王𠮷").encode_card_fields_with('𠮷'), Err(NameError::Marker('𠮷')));
    }

    #[test]
    fn too_long_is_an_error_not_a_truncation() {
        let fifteen = "张".repeat(15);
        assert!(name(&fifteen).encode_card_fields().is_ok());
        let e = name(&"张".repeat(16)).encode_card_fields().expect_err("32 bytes");
        assert_eq!(e, NameError::TooLong { bytes: 32, limit: 30 });
        assert_eq!(e.rule(), "name-card-length");
        // Nine GBK characters and one rare one: 9 * 2 + 4 = 22 bytes of GB 18030.
        let e = name(&format!("{}𠮷", "张".repeat(9))).encode_card_fields().expect_err("22 bytes");
        assert_eq!(e.rule(), "name-extension-length");
        assert!(e.hint().contains("rare-character service"));
        assert!(name(&format!("{}𠮷", "张".repeat(8))).encode_card_fields().is_ok());
    }

    #[test]
    fn decoding_is_strict() {
        let e = Name::decode_card_fields(&[0x81], &[]).expect_err("truncated GBK");
        assert_eq!(e.rule(), "name-card-encoding");
        let e = Name::decode_card_fields(&h("9534B235"), &[]).expect_err("4-byte code in tag 09");
        assert_eq!(e.rule(), "name-card-encoding");
        let e = Name::decode_card_fields(&[0x41; 31], &[]).expect_err("too long");
        assert_eq!(e.rule(), "name-card-field-length");
        // FF and space padding are tolerated.
        let mut f09 = h("D5C5C8FD");
        f09.extend([0xFF; 6]);
        assert_eq!(Name::decode_card_fields(&f09, &[0xFF; 20]).expect("decodes").as_str(), "张三");
    }

    /// A tiny deterministic generator, enough for a property test without a framework.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    #[test]
    fn round_trip_property() {
        // Common surnames, edge characters of GBK, and characters outside it.
        let chinese: Vec<char> = concat!(
            "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于",
            "蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛",
            "闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤㐀〇龥",
        )
        .chars()
        .chain(['𠮷', '䶮', '龴', '𪚥', '𠀀', '\u{9FA6}', '\u{9FFF}', '\u{323AF}', '\u{2F800}', '\u{4DB5}'])
        .collect();
        let latin: Vec<char> = ('A'..='Z').chain('a'..='z').collect();
        let mut rng = Lcg(2024);
        let mut tried = (0, 0, 0);
        for _ in 0..3000 {
            let text = if rng.next(4) == 0 {
                let words = 1 + rng.next(3);
                (0..words)
                    .map(|_| (0..1 + rng.next(10)).map(|_| latin[rng.next(latin.len())]).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                let parts = 1 + rng.next(2);
                (0..parts)
                    .map(|_| {
                        (0..1 + rng.next(6)).map(|_| chinese[rng.next(chinese.len())]).collect::<String>()
                    })
                    .collect::<Vec<_>>()
                    .join("·")
            };
            let n = name(&text);
            match n.encode_card_fields() {
                Ok((f09, f4e)) => {
                    tried.0 += 1;
                    assert_eq!(Name::decode_card_fields(&f09, &f4e).expect("decodes"), n, "{text}");
                    assert_eq!(f4e.iter().any(|&b| b != 0), n.needs_extension(), "{text}");
                    assert!(!f09.windows(2).any(|w| w == b"&#"), "{text}: replacement slipped through");
                    if n.needs_extension() {
                        tried.1 += 1;
                        // Tag 09 alone keeps every GBK character and marks the others.
                        let expect: String =
                            text.chars().map(|c| if is_gbk(c) { c } else { DEFAULT_MARKER }).collect();
                        let alone = GBK.decode_without_bom_handling_and_without_replacement(unpad(&f09));
                        assert_eq!(alone.as_deref(), Some(expect.as_str()));
                    }
                }
                Err(e) => {
                    tried.2 += 1;
                    assert!(
                        matches!(e, NameError::TooLong { .. } | NameError::ExtensionTooLong { .. }),
                        "{e}"
                    );
                }
            }
        }
        assert!(tried.0 > 1000 && tried.1 > 100 && tried.2 > 10, "{tried:?}");
    }
}
