//! What the station sends the bank and what comes back, with the numbers that must never print
//! whole kept in types whose Debug and Display are masked: [`Pan`], [`IdNumber`],
//! [`AccountNumber`]. Their serialised form (the request body) is whole.

use std::fmt;

use applicant::{CardNumber, Date, IdType, ValidUntil};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest a photo may have been taken before the activation, by default (RULE 3: taken
/// at that moment, at the counter).
pub const DEFAULT_MAX_PHOTO_AGE_SECONDS: u64 = 300;

/// How far ahead of the station's clock a photo's time may be (two clocks of one counter).
const CLOCK_SKEW_SECONDS: i64 = 60;

/// Unix seconds now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `s` with every run of 12 or more digits (an `X` may close it) masked as [`applicant::mask_id`]
/// does: a text from the bank shown to the operator or logged never carries a whole card, account
/// or ID number.
pub fn scrub(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 {
            out.push_str(&applicant::mask_id(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() || (matches!(c, 'X' | 'x') && !run.is_empty()) {
            run.push(c);
            if !c.is_ascii_digit() {
                flush(&mut run, &mut out);
            }
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A value that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not a card number (PAN): 12 to 19 digits with a Luhn check digit.
    #[error(
        "{0} is not a bank card number (12 to 19 digits, Luhn check digit): read it from the chip again"
    )]
    Pan(String),
    /// Not an account number.
    #[error("{0} is not an account number (8 to 32 digits)")]
    Account(String),
    /// No ID number, or other characters.
    #[error("the ID number {0} has other characters than A-Z and digits, or none")]
    IdNumber(String),
    /// Not a social-security card number.
    #[error("card number: {0}")]
    CardNumber(String),
    /// A photo digest that is not 32 bytes of hex.
    #[error("photo digest: 64 hex digits of SM3 or SHA-256, not {0} characters")]
    Digest(usize),
    /// A key of other characters, too long, or with an ID number in it.
    #[error("activation request id {0:?}: STATION:ID, 1 to 100 of A-Z a-z 0-9 . _ : @ -, no ID or card number in it")]
    Key(String),
    /// The request's key is another station's.
    #[error("activation request id {key} is not station {station}'s: ids are scoped to the station that sends them (RULE 10)")]
    ForeignKey {
        /// The key.
        key: String,
        /// The station of the request.
        station: String,
    },
    /// A document validity that does not parse.
    #[error("document valid until {0:?}: YYYY-MM-DD or 长期")]
    ValidUntil(String),
}

fn luhn_ok(pan: &str) -> bool {
    let sum: u32 = pan
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

macro_rules! masked_number {
    ($(#[$doc:meta])* $name:ident, $check:expr, $err:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks `s` (spaces dropped).
            pub fn parse(s: &str) -> Result<$name, ValueError> {
                let s: String = s.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok($name(s))
                } else {
                    Err(ValueError::$err(applicant::mask_id(&s)))
                }
            }

            /// The whole number, for the request body only.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The first six and last four characters, the rest as `*`.
            pub fn masked(&self) -> String {
                applicant::mask_id(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.masked())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.masked())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

masked_number!(
    /// The financial application's card number (PAN), 12 to 19 digits with a Luhn check digit.
    /// Debug and Display show `621226*********1234`.
    Pan,
    |s| (12..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && luhn_ok(s),
    Pan
);

masked_number!(
    /// The account the bank opened for the card (often the PAN itself), 8 to 32 digits. Debug
    /// and Display are masked.
    AccountNumber,
    |s| (8..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()),
    Account
);

masked_number!(
    /// The holder's document number. Debug and Display are masked (`110105********002X`); the
    /// whole number goes only into the request body, never into a URL, a log or an error.
    IdNumber,
    |s| (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
    IdNumber
);

/// The request id of an activation, scoped to the station: `STATION:ID`. It is the
/// idempotency key: a retry of the same request sends the same id and gets the bank's first
/// answer; a new attempt (after a refusal was put right) takes a new id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ActivationKey(String);

impl ActivationKey {
    /// `station:id`; 1 to 100 of `A-Z a-z 0-9 . _ : @ -`, and no run of 12 or more digits (no
    /// ID, card or account number: keys travel in headers and logs).
    pub fn new(station: &str, id: &str) -> Result<ActivationKey, ValueError> {
        ActivationKey::parse(&format!("{station}:{id}"))
    }

    /// A key in its `STATION:ID` form.
    pub fn parse(key: &str) -> Result<ActivationKey, ValueError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || ".:_@-".contains(c);
        let (station, id) = key.split_once(':').unwrap_or(("", ""));
        let ok = !station.is_empty()
            && !id.is_empty()
            && key.len() <= 100
            && key.chars().all(ok_char)
            && scrub(key) == key;
        if ok {
            Ok(ActivationKey(key.to_string()))
        } else {
            Err(ValueError::Key(scrub(key)))
        }
    }

    /// The station part.
    pub fn station(&self) -> &str {
        self.0.split_once(':').map_or("", |(s, _)| s)
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ActivationKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ActivationKey, D::Error> {
        ActivationKey::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ActivationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ActivationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActivationKey({})", self.0)
    }
}

/// A social-security card number on the wire: nine characters, check character verified.
pub(crate) mod card_number {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(c: &CardNumber, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CardNumber, D::Error> {
        let s = String::deserialize(d)?;
        CardNumber::parse(&s).map_err(|e| serde::de::Error::custom(ValueError::CardNumber(e.to_string())))
    }
}

/// A document's last day on the wire: `YYYY-MM-DD` or `长期`.
mod valid_until {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &ValidUntil, s: S) -> Result<S::Ok, S::Error> {
        match v {
            ValidUntil::Date(d) => s.collect_str(d),
            ValidUntil::LongTerm => s.serialize_str("长期"),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ValidUntil, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "长期" | "long_term" => Ok(ValidUntil::LongTerm),
            other => Date::parse(other)
                .map(ValidUntil::Date)
                .map_err(|_| serde::de::Error::custom(ValueError::ValidUntil(s.clone()))),
        }
    }
}

/// How the photo was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestAlgorithm {
    /// SM3 (GB/T 32905), as the station names its evidence files.
    Sm3,
    /// SHA-256.
    Sha256,
}

/// The digest of the photo taken at the counter: the bank may ask the station for the photo
/// by it; the photo itself stays at the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawDigest")]
pub struct PhotoDigest {
    algorithm: DigestAlgorithm,
    hex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl TryFrom<RawDigest> for PhotoDigest {
    type Error = ValueError;
    fn try_from(r: RawDigest) -> Result<PhotoDigest, ValueError> {
        PhotoDigest::new(r.algorithm, &r.hex)
    }
}

impl PhotoDigest {
    /// 32 bytes as 64 hex digits (either case; kept lower-case).
    pub fn new(algorithm: DigestAlgorithm, hex: &str) -> Result<PhotoDigest, ValueError> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ValueError::Digest(hex.len()));
        }
        Ok(PhotoDigest { algorithm, hex: hex.to_ascii_lowercase() })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The digest in hex.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

/// The photo taken at the counter for this activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Photo {
    /// Its digest.
    pub digest: PhotoDigest,
    /// When it was taken (Unix seconds, the station's clock).
    pub taken_at: i64,
}

/// What the operator saw, the proof that the activation is face to face (面签, RULE 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceToFace {
    /// The holder in person is in front of the operator (not a proxy).
    pub holder_present: bool,
    /// The holder's ID document was checked now.
    pub id_document_checked: bool,
    /// The document's last day of validity.
    #[serde(with = "valid_until")]
    pub id_valid_until: ValidUntil,
    /// The photo taken now by the counter's camera.
    pub photo: Option<Photo>,
}

/// Why an activation is refused at the station before anything is sent (RULE 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaceToFaceProblem {
    /// The person at the counter is not the holder, or the holder is not there.
    #[error("rule 3: only the holder in person may activate the financial function, never a proxy")]
    HolderNotPresent,
    /// The ID document was not checked.
    #[error("rule 3: check the holder's ID document now, then activate")]
    IdNotChecked,
    /// The document has expired.
    #[error("rule 3: the holder's ID document expired on {0}: a valid document is needed to activate")]
    IdExpired(Date),
    /// No photo.
    #[error("rule 3: take the holder's photo with the counter's camera now, then activate")]
    NoPhoto,
    /// The photo was taken too long ago.
    #[error("rule 3: the photo was taken {age_seconds} s ago (at most {max_seconds} s): take it again now")]
    PhotoTooOld {
        /// Its age.
        age_seconds: i64,
        /// The limit.
        max_seconds: u64,
    },
    /// The photo's time is ahead of the station's clock.
    #[error(
        "rule 3: the photo's time is {0} s ahead of the station's clock: take it again (and check the clock)"
    )]
    PhotoFromTheFuture(i64),
}

impl FaceToFace {
    /// RULE 3 on the evidence, at `now` (Unix seconds): the holder present, the document
    /// checked and still valid today (China Standard Time), a photo at most `max_age_seconds`
    /// old.
    pub fn check(&self, now: i64, max_age_seconds: u64) -> Result<(), FaceToFaceProblem> {
        if !self.holder_present {
            return Err(FaceToFaceProblem::HolderNotPresent);
        }
        if !self.id_document_checked {
            return Err(FaceToFaceProblem::IdNotChecked);
        }
        if let ValidUntil::Date(last) = self.id_valid_until {
            if applicant::days::days(last) < applicant::days::day_of_unix(now) {
                return Err(FaceToFaceProblem::IdExpired(last));
            }
        }
        let Some(photo) = &self.photo else { return Err(FaceToFaceProblem::NoPhoto) };
        let age = now - photo.taken_at;
        if age < -CLOCK_SKEW_SECONDS {
            return Err(FaceToFaceProblem::PhotoFromTheFuture(-age));
        }
        if age > i64::try_from(max_age_seconds).unwrap_or(i64::MAX) {
            return Err(FaceToFaceProblem::PhotoTooOld { age_seconds: age, max_seconds: max_age_seconds });
        }
        Ok(())
    }
}

/// The holder as the bank knows them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// The name as on the document.
    pub name: String,
    /// The document type.
    pub id_type: IdType,
    /// The document number.
    pub id_number: IdNumber,
}

/// The name with every character after the first as `*`.
pub fn mask_name(name: &str) -> String {
    name.chars().enumerate().map(|(i, c)| if i == 0 { c } else { '*' }).collect()
}

impl fmt::Debug for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Holder")
            .field("name", &mask_name(&self.name))
            .field("id_type", &self.id_type)
            .field("id_number", &self.id_number)
            .finish()
    }
}

/// One activation of a card's financial function, asked by an operator at a station's
/// counter. The body of `POST /v1/activations`; Debug shows no whole number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRequest")]
pub struct ActivationRequest {
    /// The request id, also the `Idempotency-Key`.
    pub request_id: ActivationKey,
    /// The station that asks.
    pub station: String,
    /// The operator at its counter.
    pub operator: String,
    /// The bank whose card it is ([`crate::Bank::code`]).
    pub bank_code: String,
    /// The social-security card number.
    #[serde(with = "card_number")]
    pub card_number: CardNumber,
    /// The financial application's card number.
    pub pan: Pan,
    /// The holder.
    pub holder: Holder,
    /// The face-to-face evidence.
    pub face_to_face: FaceToFace,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    request_id: ActivationKey,
    station: String,
    operator: String,
    bank_code: String,
    #[serde(with = "card_number")]
    card_number: CardNumber,
    pan: Pan,
    holder: Holder,
    face_to_face: FaceToFace,
}

impl TryFrom<RawRequest> for ActivationRequest {
    type Error = ValueError;
    fn try_from(r: RawRequest) -> Result<ActivationRequest, ValueError> {
        if r.request_id.station() != r.station {
            return Err(ValueError::ForeignKey { key: r.request_id.to_string(), station: r.station });
        }
        Ok(ActivationRequest {
            request_id: r.request_id,
            station: r.station,
            operator: r.operator,
            bank_code: r.bank_code,
            card_number: r.card_number,
            pan: r.pan,
            holder: r.holder,
            face_to_face: r.face_to_face,
        })
    }
}

impl ActivationRequest {
    /// The request's own consistency: its id is its station's (RULE 10).
    pub fn check_scope(&self) -> Result<(), ValueError> {
        if self.request_id.station() != self.station {
            return Err(ValueError::ForeignKey {
                key: self.request_id.to_string(),
                station: self.station.clone(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for ActivationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationRequest")
            .field("request_id", &self.request_id)
            .field("station", &self.station)
            .field("operator", &self.operator)
            .field("bank_code", &self.bank_code)
            .field("card_number", &self.card_number)
            .field("pan", &self.pan)
            .field("holder", &self.holder)
            .field("face_to_face", &self.face_to_face)
            .finish()
    }
}

/// How the bank answered an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationStatus {
    /// Activated now.
    Activated,
    /// It was active already (activated before, here or at a branch): nothing changed.
    AlreadyActive,
}

/// The bank's confirmation: the card's financial function is active. Only this makes the card
/// active at the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// The card.
    #[serde(with = "card_number")]
    pub card_number: CardNumber,
    /// The bank.
    pub bank_code: String,
    /// The financial account (masked in Debug and Display).
    pub account: AccountNumber,
    /// Activated now, or already active.
    pub status: ActivationStatus,
    /// The bank's reference of the activation, for the ledger.
    pub reference: String,
    /// When the bank activated it (Unix seconds, the bank's clock).
    pub activated_at: i64,
    /// This answer repeats the bank's first answer to the same request id.
    #[serde(skip)]
    pub replayed: bool,
}

/// Which card: its social-security number and the bank whose card it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRef {
    /// The social-security card number (it goes into the URL; it is no secret).
    #[serde(with = "card_number")]
    pub card_number: CardNumber,
    /// The bank ([`crate::Bank::code`]).
    pub bank_code: String,
}

/// The state of the financial account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStatus {
    /// Opened with the card, not activated yet.
    NotActivated,
    /// Activated.
    Active,
    /// Frozen (by a court, the bank's risk control, a loss): no activation until lifted.
    Frozen,
    /// Closed.
    Closed,
}

/// The financial account the bank opened for the card: what the return file's bank and
/// account columns carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The card.
    #[serde(with = "card_number")]
    pub card_number: CardNumber,
    /// The bank.
    pub bank_code: String,
    /// The account number (masked in Debug and Display).
    pub account: AccountNumber,
    /// Its state.
    pub status: AccountStatus,
}

/// The bank's reason for refusing, as a code the station can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalCode {
    /// The account is frozen.
    AccountFrozen,
    /// The account is closed.
    AccountClosed,
    /// The name is not the account holder's.
    NameMismatch,
    /// The document number is not the account holder's.
    IdMismatch,
    /// The bank has no such card (not one of ours).
    UnknownCard,
    /// The bank's own face-to-face rules are not met.
    NotFaceToFace,
    /// Another reason.
    #[serde(untagged)]
    Other(String),
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalCode::Other(s) => f.write_str(s),
            known => {
                let json = serde_json::to_value(known).map_err(|_| fmt::Error)?;
                f.write_str(json.as_str().unwrap_or("?"))
            }
        }
    }
}

/// A refusal as the bank sends it (a `422` body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The code.
    pub code: RefusalCode,
    /// The bank's reason, for the operator.
    pub reason: String,
}

impl Refusal {
    /// The refusal for a card the bank does not have.
    pub fn unknown_card(card: &str) -> Refusal {
        Refusal { code: RefusalCode::UnknownCard, reason: format!("card {card} is not one of ours") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "11010519491231002X";
    const PAN: &str = "6212345302375609269";

    pub(crate) fn request(now: i64) -> ActivationRequest {
        ActivationRequest {
            request_id: ActivationKey::new("S-0101", "act-B00000019-1").expect("key"),
            station: "S-0101".into(),
            operator: "op1".into(),
            bank_code: "ICBC".into(),
            card_number: CardNumber::parse("B00000019").expect("card"),
            pan: Pan::parse(PAN).expect("pan"),
            holder: Holder {
                name: "张三".into(),
                id_type: IdType::ResidentId,
                id_number: IdNumber::parse(ID).expect("id"),
            },
            face_to_face: FaceToFace {
                holder_present: true,
                id_document_checked: true,
                id_valid_until: ValidUntil::LongTerm,
                photo: Some(Photo {
                    digest: PhotoDigest::new(DigestAlgorithm::Sm3, &"A".repeat(64)).expect("digest"),
                    taken_at: now - 30,
                }),
            },
        }
    }

    #[test]
    fn numbers_are_checked_and_masked() {
        let pan = Pan::parse("6212 3453 0237 5609 269").expect("spaces dropped");
        assert_eq!(pan.expose(), PAN);
        assert_eq!(pan.to_string(), "621234*********9269");
        assert_eq!(format!("{pan:?}"), "Pan(621234*********9269)");
        let e = Pan::parse("6212345302375609268").expect_err("Luhn");
        assert!(!e.to_string().contains("6212345302375609268"), "{e}");
        assert!(Pan::parse("62123").is_err() && Pan::parse("62123453023756092691").is_err());
        let id = IdNumber::parse("11010519491231002x").expect("lower-case x");
        assert_eq!(id.expose(), ID);
        assert_eq!(format!("{id:?} {id}"), "IdNumber(110105********002X) 110105********002X");
        assert!(IdNumber::parse("").is_err() && IdNumber::parse("1101-05").is_err());
        let a = AccountNumber::parse(PAN).expect("account");
        assert_eq!(format!("{a:?}"), "AccountNumber(621234*********9269)");
        assert_eq!(serde_json::to_string(&a).expect("json"), format!("\"{PAN}\""));
        assert!(serde_json::from_str::<Pan>("\"6212345302375609268\"").is_err());
    }

    #[test]
    fn keys_are_scoped_and_carry_no_numbers() {
        let k = ActivationKey::new("S-0101", "act-B00000019-1").expect("key");
        assert_eq!((k.as_str(), k.station()), ("S-0101:act-B00000019-1", "S-0101"));
        for bad in ["", "S-0101", ":x", "S-0101:", "S 0101:x", "S-0101:张三"] {
            assert!(ActivationKey::parse(bad).is_err(), "{bad:?}");
        }
        let e = ActivationKey::new("S-0101", ID).expect_err("an ID number");
        assert!(!e.to_string().contains(ID), "{e}");
        assert!(ActivationKey::new("S-0101", PAN).is_err(), "a card number");
        assert!(ActivationKey::new("S-0101", &"a".repeat(100)).is_err());
    }

    #[test]
    fn scrub_masks_long_numbers_only() {
        assert_eq!(
            scrub(&format!("户名不符 {ID}, 卡 {PAN}.")),
            "户名不符 110105********002X, 卡 621234*********9269."
        );
        assert_eq!(scrub("电话 0878-12345678 尾号 002X"), "电话 0878-12345678 尾号 002X");
        assert_eq!(scrub("x11010519491231002x"), "x110105********002x");
    }

    #[test]
    fn the_request_serialises_whole_and_debugs_masked() {
        let r = request(now_unix());
        let json = serde_json::to_string(&r).expect("json");
        assert!(json.contains(ID) && json.contains(PAN), "the body carries them: {json}");
        assert!(json.contains(r#""id_valid_until":"长期""#), "{json}");
        let back: ActivationRequest = serde_json::from_str(&json).expect("back");
        assert_eq!(back, r);
        let debug = format!("{r:?}");
        for secret in [ID, PAN, "张三"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("110105********002X") && debug.contains("张*"), "{debug}");
        let foreign = json.replace(r#""station":"S-0101""#, r#""station":"S-0202""#);
        let e = serde_json::from_str::<ActivationRequest>(&foreign).expect_err("another station's key");
        assert!(e.to_string().contains("RULE 10"), "{e}");
        let mut r2 = r.clone();
        r2.station = "S-0202".into();
        assert!(matches!(r2.check_scope(), Err(ValueError::ForeignKey { .. })));
    }

    #[test]
    fn face_to_face_is_checked_on_the_evidence() {
        let now = 1_750_000_000; // 2025-06-15
        let ok = request(now).face_to_face;
        assert_eq!(ok.check(now, 300), Ok(()));
        let with = |f: &dyn Fn(&mut FaceToFace)| {
            let mut e = ok.clone();
            f(&mut e);
            e.check(now, 300)
        };
        assert_eq!(with(&|e| e.holder_present = false), Err(FaceToFaceProblem::HolderNotPresent));
        assert_eq!(with(&|e| e.id_document_checked = false), Err(FaceToFaceProblem::IdNotChecked));
        assert_eq!(with(&|e| e.photo = None), Err(FaceToFaceProblem::NoPhoto));
        let old = with(&|e| e.photo.as_mut().expect("photo").taken_at = now - 301);
        assert_eq!(old, Err(FaceToFaceProblem::PhotoTooOld { age_seconds: 301, max_seconds: 300 }));
        let ahead = with(&|e| e.photo.as_mut().expect("photo").taken_at = now + 120);
        assert_eq!(ahead, Err(FaceToFaceProblem::PhotoFromTheFuture(120)));
        let yesterday = Date::new(2025, 6, 14).expect("day");
        let expired = with(&|e| e.id_valid_until = ValidUntil::Date(yesterday));
        assert_eq!(expired, Err(FaceToFaceProblem::IdExpired(yesterday)));
        let today = Date::new(2025, 6, 15).expect("day");
        assert_eq!(
            with(&|e| e.id_valid_until = ValidUntil::Date(today)),
            Ok(()),
            "valid through its last day"
        );
        assert!(FaceToFaceProblem::NoPhoto.to_string().contains("camera"));
    }

    #[test]
    fn refusal_codes_read_known_and_other() {
        let r: Refusal = serde_json::from_str(r#"{"code":"account-frozen","reason":"冻结"}"#).expect("r");
        assert_eq!(r.code, RefusalCode::AccountFrozen);
        let r: Refusal = serde_json::from_str(r#"{"code":"bank-specific-9","reason":"x"}"#).expect("r");
        assert_eq!(r.code, RefusalCode::Other("bank-specific-9".into()));
        assert_eq!(RefusalCode::NameMismatch.to_string(), "name-mismatch");
        assert_eq!(r.code.to_string(), "bank-specific-9");
        assert_eq!(serde_json::to_string(&RefusalCode::UnknownCard).expect("json"), r#""unknown-card""#);
    }
}
