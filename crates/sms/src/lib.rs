//! SMS notices to card holders: "your card has reached the site, come and collect it".
//!
//! - [`SmsGateway`]: the trait the station sends through. [`HttpGateway`] speaks the JSON API
//!   below over TLS (trusting only the configured CA) with the station's account and secret;
//!   the simulator (`sms-sim`) serves the same API on loopback; tests may implement the trait.
//! - [`Message`]: a [`MessageKey`] (idempotency key), a mainland mobile [`PhoneNumber`] and the
//!   text. A text holding what looks like a full ID number is refused at construction.
//! - [`PickupNotice`]: the Chinese pickup text: the site, its hours, its address and phone, and
//!   what to bring (本人居民身份证); the holder's name masked, at most the last four characters of
//!   the ID number.
//! - [`Site`]: an agent site (代办网点) as configured (`[[sites]]`), with [`validate_sites`].
//! - [`Outbox`]: journals each message before it is sent ([`Journal`]; [`FileJournal`] is a
//!   fsync'd JSON-lines file), sends pending ones, retries with backoff, gives up after a
//!   number of attempts with a reason an operator can act on.
//!
//! # Never twice
//!
//! Each message has a key fixed by what it announces ([`MessageKey::pickup`]: card number and
//! site). The journal keeps one entry per key, so submitting the same notice again is a no-op;
//! the gateway keeps one message per key, so a retry after a lost answer (sent, but the station
//! crashed or timed out before recording it) gets the original [`Receipt`] back
//! ([`Receipt::replayed`]) and sends nothing. Both sides refuse the same key with other
//! content ([`SmsError::KeyConflict`]).
//!
//! # The wire API
//!
//! `POST {url}/v1/messages` with HTTP basic authentication (account, secret), header
//! `Idempotency-Key: KEY` and the JSON body `{ "key", "to", "text" }`. Answers: `201` with the
//! receipt `{ "id", "key" }` (sent now), `200` with the original receipt (the key was sent
//! before), `400` the message is refused, `401`/`403` wrong credentials, `409` the key was used
//! for another message, `429`/`5xx` try again later. `GET {url}/v1/messages` (simulator only)
//! lists what was sent. An adapter in front of a commercial or provincial SMS platform speaks
//! this API and keeps the key-to-receipt table.
#![forbid(unsafe_code)]

mod http;
mod notice;
mod outbox;
mod site;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use http::{Credentials, GatewayConfig, HttpGateway, SetupError, Transport};
pub use notice::{mask_name, PickupNotice, WHAT_TO_BRING};
pub use outbox::{
    Entry, FileJournal, FlushReport, Journal, JournalError, MemoryJournal, Outbox, OutboxError, RetryPolicy,
    Status,
};
pub use site::{validate_sites, Site, SiteErrors, SiteProblem};

/// The longest text accepted, in characters (a long SMS of several segments).
pub const MAX_TEXT_CHARS: usize = 500;

/// The idempotency key of a message: 1 to 64 of `A-Z a-z 0-9 . _ : @ -`, and never an ID
/// number (no run of 15 or more digits): keys go to the gateway and into logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageKey(String);

impl MessageKey {
    /// A key from its text.
    pub fn new(key: impl Into<String>) -> Result<MessageKey, MessageError> {
        let key = key.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || ".:_@-".contains(c);
        if key.is_empty() || key.len() > 64 || !key.chars().all(ok_char) {
            return Err(MessageError::Key(key));
        }
        if longest_id_like_run(&key) >= 15 {
            return Err(MessageError::IdNumber);
        }
        Ok(MessageKey(key))
    }

    /// The key of the pickup notice of `card_number` at site `site_id`: one notice per card and
    /// site, however often it is submitted.
    pub fn pickup(card_number: &applicant::CardNumber, site_id: &str) -> Result<MessageKey, MessageError> {
        MessageKey::new(format!("pickup:{}:{site_id}", card_number.as_str()))
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageKey {
    type Error = MessageError;
    fn try_from(s: String) -> Result<MessageKey, MessageError> {
        MessageKey::new(s)
    }
}

impl From<MessageKey> for String {
    fn from(k: MessageKey) -> String {
        k.0
    }
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageKey({})", self.0)
    }
}

/// A mainland mobile number: 11 digits, `1[3-9]…`. `+86`/`86` in front, spaces and hyphens
/// are dropped. Debug and Display are masked (`138****8000`); [`PhoneNumber::as_str`] is the
/// whole number, for the gateway.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks and normalises `s`.
    pub fn parse(s: &str) -> Result<PhoneNumber, MessageError> {
        let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = digits.strip_prefix("+86").or_else(|| digits.strip_prefix("0086")).unwrap_or(&digits);
        let digits = if digits.len() == 13 { digits.strip_prefix("86").unwrap_or(digits) } else { digits };
        let b = digits.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if ok {
            Ok(PhoneNumber(digits.to_string()))
        } else {
            Err(MessageError::Phone(applicant::mask_id(s)))
        }
    }

    /// The whole number.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****8000`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = MessageError;
    fn try_from(s: String) -> Result<PhoneNumber, MessageError> {
        PhoneNumber::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// A message that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The key is empty, too long or has other characters.
    #[error("message key {0:?}: 1 to 64 of A-Z a-z 0-9 . _ : @ -")]
    Key(String),
    /// Not a mainland mobile number (shown masked).
    #[error("{0} is not a mainland mobile number (11 digits, 13x-19x): check the holder's contact details")]
    Phone(String),
    /// The text is empty or too long.
    #[error("the text has {0} characters: 1 to {MAX_TEXT_CHARS}")]
    Length(usize),
    /// The text or key holds what looks like a full ID number.
    #[error(
        "the message holds what looks like a full ID number: an SMS may carry only the last four characters"
    )]
    IdNumber,
}

/// The length of the longest run of digits (an `X` may close it) in `s`.
fn longest_id_like_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        if c.is_ascii_digit() {
            run += 1;
        } else if matches!(c, 'X' | 'x') && run > 0 {
            best = best.max(run + 1);
            run = 0;
        } else {
            run = 0;
        }
        best = best.max(run);
    }
    best
}

/// One SMS.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawMessage", into = "RawMessage")]
pub struct Message {
    key: MessageKey,
    to: PhoneNumber,
    text: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    key: MessageKey,
    to: PhoneNumber,
    text: String,
}

impl TryFrom<RawMessage> for Message {
    type Error = MessageError;
    fn try_from(r: RawMessage) -> Result<Message, MessageError> {
        Message::new(r.key, r.to, r.text)
    }
}

impl From<Message> for RawMessage {
    fn from(m: Message) -> RawMessage {
        RawMessage { key: m.key, to: m.to, text: m.text }
    }
}

impl Message {
    /// A message; its text must be 1 to [`MAX_TEXT_CHARS`] characters and hold no full ID
    /// number (no run of 15 or more digits).
    pub fn new(key: MessageKey, to: PhoneNumber, text: String) -> Result<Message, MessageError> {
        let n = text.chars().count();
        if n == 0 || n > MAX_TEXT_CHARS {
            return Err(MessageError::Length(n));
        }
        if longest_id_like_run(&text) >= 15 {
            return Err(MessageError::IdNumber);
        }
        Ok(Message { key, to, text })
    }

    /// The idempotency key.
    pub fn key(&self) -> &MessageKey {
        &self.key
    }

    /// The recipient.
    pub fn to(&self) -> &PhoneNumber {
        &self.to
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How many SMS segments the text takes (70 characters for one, 67 each when longer).
    pub fn segments(&self) -> usize {
        let n = self.text.chars().count();
        if n <= 70 {
            1
        } else {
            n.div_ceil(67)
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("key", &self.key)
            .field("to", &self.to)
            .field("chars", &self.text.chars().count())
            .finish()
    }
}

/// The gateway's acknowledgement: it took the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The gateway's id of the message.
    pub id: String,
    /// The message's key.
    pub key: MessageKey,
    /// This answer repeats the receipt of an earlier send of the same key: nothing was sent now.
    #[serde(skip)]
    pub replayed: bool,
}

/// What the caller should do about an [`SmsError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later; nothing is wrong with the message or the configuration.
    Retry,
    /// The configuration (URL, CA, account, secret) is wrong: every message will fail until it
    /// is put right.
    FixConfiguration,
    /// This message is refused: retrying will not help (another way to tell the holder).
    Refused,
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmsError {
    /// The gateway is down, slow or busy.
    #[error("SMS gateway unavailable ({0}): retry later; the notice stays in the outbox")]
    Unavailable(String),
    /// The gateway refused the account or secret.
    #[error("SMS gateway refused the station's credentials ({0}): fix sms.account and sms.secret_file")]
    Credentials(String),
    /// TLS with the gateway failed (its certificate is not trusted by the configured CA, ...).
    #[error("SMS gateway over TLS failed ({0}): fix sms.ca (the CA that anchors the gateway)")]
    Tls(String),
    /// The URL does not lead to the API, or the answer is not the API's.
    #[error("SMS gateway at the configured URL does not speak the API ({0}): fix sms.url")]
    Configuration(String),
    /// The gateway refused this message (number, content).
    #[error("SMS gateway refused the message ({0}): check the mobile number; it will not be retried")]
    Rejected(String),
    /// The key was used before for another message.
    #[error("message key {key} was used for another message: not sent (a fault in the sender; report it)")]
    KeyConflict {
        /// The key.
        key: MessageKey,
    },
}

impl SmsError {
    /// What to do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SmsError::Unavailable(_) => ErrorKind::Retry,
            SmsError::Credentials(_) | SmsError::Tls(_) | SmsError::Configuration(_) => {
                ErrorKind::FixConfiguration
            }
            SmsError::Rejected(_) | SmsError::KeyConflict { .. } => ErrorKind::Refused,
        }
    }
}

/// An SMS gateway.
///
/// Contract: `send` is idempotent on [`Message::key`]. A key the gateway has taken before is
/// answered with the original receipt (`replayed: true`) and nothing is sent; the same key with
/// another recipient or text is [`SmsError::KeyConflict`]. An error means the message may or
/// may not have been taken: sending it again with the same key is always safe.
pub trait SmsGateway: Send + Sync {
    /// Sends one message.
    fn send(&self, message: &Message) -> Result<Receipt, SmsError>;
}

impl<G: SmsGateway + ?Sized> SmsGateway for &G {
    fn send(&self, message: &Message) -> Result<Receipt, SmsError> {
        (**self).send(message)
    }
}

impl<G: SmsGateway + ?Sized> SmsGateway for Box<G> {
    fn send(&self, message: &Message) -> Result<Receipt, SmsError> {
        (**self).send(message)
    }
}

impl<G: SmsGateway + ?Sized> SmsGateway for std::sync::Arc<G> {
    fn send(&self, message: &Message) -> Result<Receipt, SmsError> {
        (**self).send(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> MessageKey {
        MessageKey::new(s).expect("key")
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("13800138000").expect("phone")
    }

    #[test]
    fn phone_numbers_normalise_and_mask() {
        for s in ["13800138000", "+86 138 0013 8000", "86-138-0013-8000", "008613800138000"] {
            assert_eq!(
                PhoneNumber::parse(s).map(|p| p.as_str().to_string()),
                Ok("13800138000".into()),
                "{s}"
            );
        }
        for s in ["1380013800", "12800138000", "138001380001", "0871-6512345", "1380013800x", ""] {
            assert!(PhoneNumber::parse(s).is_err(), "{s}");
        }
        assert_eq!(phone().to_string(), "138****8000");
        assert_eq!(format!("{:?}", phone()), "PhoneNumber(138****8000)");
        let e = PhoneNumber::parse("11010519491231002X").expect_err("an ID number");
        assert!(!e.to_string().contains("11010519491231002X"), "{e}");
    }

    #[test]
    fn keys_are_plain_and_never_id_numbers() {
        let card = applicant::CardNumber::with_check("A1234567").expect("card");
        let k = MessageKey::pickup(&card, "T03").expect("key");
        assert_eq!(k.as_str(), format!("pickup:{}:T03", card.as_str()));
        assert!(MessageKey::new("").is_err());
        assert!(MessageKey::new("a b").is_err());
        assert!(MessageKey::new("张三").is_err());
        assert!(MessageKey::new("x".repeat(65)).is_err());
        assert_eq!(MessageKey::new("pickup:11010519491231002X"), Err(MessageError::IdNumber));
        assert_eq!(MessageKey::new("pickup:110105194912310"), Err(MessageError::IdNumber), "15 digits");
    }

    #[test]
    fn texts_with_an_id_number_are_refused() {
        let make = |text: &str| Message::new(key("k"), phone(), text.into());
        assert!(make("您的卡已到。尾号002X").is_ok());
        assert_eq!(make("身份证11010519491231002X"), Err(MessageError::IdNumber));
        assert_eq!(make("身份证11010519491231002x"), Err(MessageError::IdNumber));
        assert_eq!(make("旧证号110105491231002"), Err(MessageError::IdNumber), "15-digit first generation");
        assert!(make("电话0878-12345678，13800138000").is_ok(), "phone numbers are shorter");
        assert_eq!(make(""), Err(MessageError::Length(0)));
        assert_eq!(make(&"字".repeat(501)), Err(MessageError::Length(501)));
        // Deserialising checks the same rules (the simulator and the journal read this form).
        let json = r#"{"key":"k","to":"13800138000","text":"身份证11010519491231002X"}"#;
        assert!(serde_json::from_str::<Message>(json).is_err());
    }

    #[test]
    fn messages_round_trip_and_debug_hides_the_text_and_number() {
        let m = Message::new(key("pickup:A:T03"), phone(), "请携带本人居民身份证".into()).expect("m");
        let json = serde_json::to_string(&m).expect("json");
        assert_eq!(json, r#"{"key":"pickup:A:T03","to":"13800138000","text":"请携带本人居民身份证"}"#);
        assert_eq!(serde_json::from_str::<Message>(&json).expect("back"), m);
        let debug = format!("{m:?}");
        assert!(!debug.contains("13800138000") && !debug.contains("身份证"), "{debug}");
        assert_eq!(m.segments(), 1);
        let long = Message::new(key("k"), phone(), "字".repeat(140)).expect("long");
        assert_eq!(long.segments(), 3);
    }

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(SmsError::Unavailable("503".into()).kind(), ErrorKind::Retry);
        assert_eq!(SmsError::Credentials("401".into()).kind(), ErrorKind::FixConfiguration);
        assert_eq!(SmsError::Rejected("number".into()).kind(), ErrorKind::Refused);
        assert!(SmsError::Unavailable("x".into()).to_string().contains("retry later"));
        assert!(SmsError::Credentials("x".into()).to_string().contains("fix sms.account"));
        assert!(SmsError::Tls("x".into()).to_string().contains("fix sms.ca"));
    }
}
