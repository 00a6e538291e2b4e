//! The nine-character card number (卡号, EF05 tag 07): eight digits or capital letters and a
//! check character. A letter counts 10 + (c - 'A'); weights 3 7 9 10 5 8 4 2;
//! r = 11 - (sum mod 11), written as a digit, 'X' for 10 and '0' for 11. The provincial
//! service assigns the number; the station only checks it and never invents one.

use crate::error::Explain;
use std::fmt;

const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A card number whose check character matches.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardNumber(String);

/// Why a card number is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardNumberError {
    /// Wrong number of characters.
    #[error("a card number has {expected} characters; this one has {len}")]
    Length {
        /// Characters found.
        len: usize,
        /// Characters needed (9, or 8 for [`CardNumber::with_check`]).
        expected: usize,
    },
    /// Not a digit or capital letter (or, in the last place, digit or X).
    #[error("character {position} is '{found}'; only digits and capital letters A-Z are allowed")]
    Character {
        /// 1-based position.
        position: usize,
        /// What is there.
        found: char,
    },
    /// The check character does not match.
    #[error("the check character is '{found}' but the first eight characters give '{expected}'")]
    CheckCharacter {
        /// What the number has.
        found: char,
        /// What it should be.
        expected: char,
    },
}

impl Explain for CardNumberError {
    fn rule(&self) -> &'static str {
        match self {
            CardNumberError::Length { .. } => "card-number-length",
            CardNumberError::Character { .. } => "card-number-character",
            CardNumberError::CheckCharacter { .. } => "card-number-check-character",
        }
    }
    fn hint(&self) -> String {
        "copy the card number exactly as the provincial card service assigned it (nine characters, \
         e.g. B00000019), or leave it out and let the service assign one"
            .into()
    }
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(10 + u32::from(c - b'A')),
        _ => None,
    }
}

fn check_of(prefix: &[u8; 8]) -> char {
    let sum: u32 = prefix.iter().zip(WEIGHTS).map(|(&c, w)| value(c).unwrap_or(0) * w).sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        r => char::from(b'0' + r as u8),
    }
}

/// The eight characters upper-cased and checked.
fn prefix(s: &str) -> Result<[u8; 8], CardNumberError> {
    let mut out = [0u8; 8];
    for (i, c) in s.chars().take(8).enumerate() {
        let u = c.to_ascii_uppercase();
        if !u.is_ascii_alphanumeric() {
            return Err(CardNumberError::Character { position: i + 1, found: c });
        }
        out[i] = u as u8;
    }
    Ok(out)
}

impl CardNumber {
    /// Checks a nine-character card number. Lower-case letters are taken as capitals.
    pub fn parse(s: &str) -> Result<CardNumber, CardNumberError> {
        let len = s.chars().count();
        if len != 9 {
            return Err(CardNumberError::Length { len, expected: 9 });
        }
        let p = prefix(s)?;
        let last = s.chars().last().unwrap_or(' ').to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(CardNumberError::Character { position: 9, found: last });
        }
        let expected = check_of(&p);
        if last != expected {
            return Err(CardNumberError::CheckCharacter { found: last, expected });
        }
        Ok(CardNumber(s.to_ascii_uppercase()))
    }

    /// Appends the check character to eight digits or capital letters.
    pub fn with_check(prefix8: &str) -> Result<CardNumber, CardNumberError> {
        let len = prefix8.chars().count();
        if len != 8 {
            return Err(CardNumberError::Length { len, expected: 8 });
        }
        let p = prefix(prefix8)?;
        let mut s = String::from_utf8_lossy(&p).into_owned();
        s.push(check_of(&p));
        Ok(CardNumber(s))
    }

    /// The nine characters (card format "an", EF05 tag 07).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 4] = ["B00000019", "X00000019", "B7K334774", "188347080"];

    #[test]
    fn spec_vectors() {
        for v in VALID {
            assert_eq!(CardNumber::parse(v).expect(v).as_str(), v);
            assert_eq!(CardNumber::with_check(&v[..8]).expect(v).as_str(), v);
        }
    }

    #[test]
    fn every_single_digit_corruption_is_caught() {
        // A digit changed to another digit is always caught (weights are non-zero mod 11 and
        // the change is below 11). A letter is not so protected: 'B' (11) and '0' differ by
        // 11, so "000000019" passes as well as "B00000019"; the service is the authority.
        for v in VALID {
            for pos in 0..9 {
                if !v.as_bytes()[pos].is_ascii_digit() && pos != 8 {
                    continue;
                }
                for c in b"0123456789".iter().chain(if pos == 8 { &b"X"[..] } else { &b""[..] }) {
                    let mut b = v.as_bytes().to_vec();
                    if b[pos] == *c {
                        continue;
                    }
                    b[pos] = *c;
                    let s = String::from_utf8(b).expect("ascii");
                    assert!(CardNumber::parse(&s).is_err(), "{s} accepted");
                }
            }
        }
        assert!(CardNumber::parse("000000019").is_ok(), "the documented letter blind spot");
    }

    #[test]
    fn errors() {
        let e = |s: &str| CardNumber::parse(s).expect_err(s).rule();
        assert_eq!(e("B0000001"), "card-number-length");
        assert_eq!(e("B0000-019"), "card-number-character");
        assert_eq!(e("B0000001Y"), "card-number-character");
        assert_eq!(e("B00000018"), "card-number-check-character");
        assert_eq!(CardNumber::parse("b00000019").expect("lower case").as_str(), "B00000019");
        assert_eq!(CardNumber::with_check("B000000").expect_err("short").rule(), "card-number-length");
    }
}
