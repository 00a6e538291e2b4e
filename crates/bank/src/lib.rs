//! The bank in the card's life: which banks cooperate where, and the activation of the card's
//! financial function through the bank's card system (issue #24, items 1 and 2).
//!
//! - [`Registry`]: the cooperating banks per region as data ([`Registry::builtin`] is
//!   `data/banks.toml`; a province supplies its own file): [`Registry::banks_for`] a region,
//!   [`Registry::bank`] by code, [`Registry::bank_for_bin`] for a card number.
//! - [`BankCardSystem`]: the trait the station activates through; [`HttpBank`] speaks the wire
//!   API below over mutual TLS; [`Banks`] routes each card to the system of its bank;
//!   the simulator (`bank-sim`) serves the same API on loopback.
//! - [`ActivationRequest`]: the card, the holder, the operator and station, the face-to-face
//!   evidence ([`FaceToFace`]) and the request id ([`ActivationKey`], the idempotency key).
//!   [`Pan`], [`IdNumber`] and [`AccountNumber`] print masked; only the body carries them
//!   whole.
//!
//! # Face to face only (RULE 3)
//!
//! [`HttpBank`] refuses, before any connection, a request whose evidence does not show the
//! holder in person, the ID document checked and still valid, and a photo taken by the
//! counter's camera at most `max_photo_age_seconds` (default 300) ago
//! ([`BankError::NotFaceToFace`]). The bank checks again on its side. The station also keeps
//! its own check of the channel (`issuance::lifecycle::check_face_to_face`).
//!
//! # What to do with an error
//!
//! [`BankError::kind`]: complete the evidence; tell the holder the bank's reason
//! ([`BankError::Refused`]: the account is frozen, the name does not match, the card is not
//! the bank's) or where to go ([`BankError::NoSystem`]); retry later ([`BankError::Unavailable`]:
//! the card stays not activated; a retry with the same request id is safe); fix the
//! configuration ([`BankError::Config`]); report a fault ([`BankError::Protocol`],
//! [`BankError::KeyConflict`]).
//!
//! # The wire API
//!
//! JSON over HTTPS, the station showing its client certificate (mutual TLS). No ID number and
//! no PAN ever appears in a URL: the URLs carry only the social-security card number.
//!
//! `POST {url}/v1/activations` with header `Idempotency-Key: STATION:ID` (the body's
//! `request_id`) and the body
//!
//! ```json
//! { "request_id": "S-0101:act-B00000019-1", "station": "S-0101", "operator": "op1",
//!   "bank_code": "ICBC", "card_number": "B00000019", "pan": "6212260000000000000",
//!   "holder": { "name": "张三", "id_type": "resident_id", "id_number": "11010519491231002X" },
//!   "face_to_face": { "holder_present": true, "id_document_checked": true,
//!     "id_valid_until": "2035-06-30",
//!     "photo": { "digest": { "algorithm": "sm3", "hex": "3de7…" }, "taken_at": 1750000000 } } }
//! ```
//!
//! Answers: `201` the [`Activation`] (`{ "card_number", "bank_code", "account", "status":
//! "activated" | "already-active", "reference", "activated_at" }`) given now; `200` the first
//! answer to this request id, again (nothing changed now); `422` a refusal `{ "code",
//! "reason" }` ([`RefusalCode`]: `account-frozen`, `account-closed`, `name-mismatch`,
//! `id-mismatch`, `unknown-card`, `not-face-to-face`, or the bank's own); `409` the request id
//! was used for another request; `400` malformed; `401`/`403` the station's certificate is not
//! accepted; `429`/`5xx` try again later. The bank keeps every final answer (activation or
//! refusal) by request id: a retry after a lost answer gets it back and changes nothing.
//!
//! `GET {url}/v1/cards/{card_number}/account`: `200` the [`AccountInfo`] (`{ "card_number",
//! "bank_code", "account", "status": "not-activated" | "active" | "frozen" | "closed" }`);
//! `404` with `{ "code": "unknown-card", "reason" }` the bank has no such card.
#![forbid(unsafe_code)]

mod http;
mod registry;
mod request;
mod router;

pub use http::{ClientIdentity, HttpBank, SetupError, SystemConfig, TlsConfig, TlsFailure, Transport};
pub use registry::{Bank, Problem, Region, Registry, RegistryError};
pub use request::{
    mask_name, now_unix, scrub, AccountInfo, AccountNumber, AccountStatus, Activation, ActivationKey,
    ActivationRequest, ActivationStatus, CardRef, DigestAlgorithm, FaceToFace, FaceToFaceProblem, Holder,
    IdNumber, Pan, Photo, PhotoDigest, Refusal, RefusalCode, ValueError, DEFAULT_MAX_PHOTO_AGE_SECONDS,
};
pub use router::{BankConfig, Banks};

/// What the station should do about a [`BankError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Complete the face-to-face evidence (holder, document, photo now) and ask again.
    CompleteEvidence,
    /// Tell the holder: the bank refused with a reason, or the card is another bank's.
    TellHolder,
    /// Try again later with the same request id; the card stays not activated meanwhile.
    Retry,
    /// The configuration (URL, CA, certificate, bank list) is wrong.
    FixConfiguration,
    /// A fault in the station or the bank: report it.
    Report,
}

/// Why a card was not activated (or its account not read). No variant carries a whole ID,
/// card or account number: texts from the bank are [`scrub`]bed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// Refused at the station, before anything was sent: not face to face (RULE 3).
    #[error("not sent to the bank: {0}")]
    NotFaceToFace(FaceToFaceProblem),
    /// The bank refused; `reason` is the bank's, for the operator to tell the holder.
    #[error("the bank refused ({code}): {reason}")]
    Refused {
        /// What kind of refusal.
        code: RefusalCode,
        /// The bank's words.
        reason: String,
    },
    /// The card is a bank's whose card system this station does not reach.
    #[error("this station has no connection to {bank}'s card system: the holder activates the card at a {bank} branch")]
    NoSystem {
        /// The bank ([`Bank::code`] and name).
        bank: String,
    },
    /// The bank's system is down, slow or busy: nothing changed that the station knows of.
    #[error("the bank's card system is unavailable ({0}): retry later with the same request; the card stays not activated")]
    Unavailable(String),
    /// The station's configuration is wrong.
    #[error("bank card system configuration: {0}")]
    Config(String),
    /// The bank's answer is not the API's, or the bank refused the request as malformed.
    #[error("bank card system protocol: {0} (report it)")]
    Protocol(String),
    /// The request id was used before for another request.
    #[error("activation request id {key} was used for another request: nothing done (a fault in the station; report it)")]
    KeyConflict {
        /// The key.
        key: String,
    },
}

impl BankError {
    /// What to do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BankError::NotFaceToFace(_) => ErrorKind::CompleteEvidence,
            BankError::Refused { .. } | BankError::NoSystem { .. } => ErrorKind::TellHolder,
            BankError::Unavailable(_) => ErrorKind::Retry,
            BankError::Config(_) => ErrorKind::FixConfiguration,
            BankError::Protocol(_) | BankError::KeyConflict { .. } => ErrorKind::Report,
        }
    }
}

/// A bank's card system.
///
/// Contract: `activate` refuses, before any I/O, a request that is not face to face
/// ([`FaceToFace::check`]); it is idempotent on [`ActivationRequest::request_id`]: the same
/// request again gets the first answer (`replayed`), and an error means the card may or may
/// not have been activated, so asking again with the same request is always safe. The card is
/// active only when an [`Activation`] comes back.
pub trait BankCardSystem: Send + Sync {
    /// Activates the card's financial function.
    fn activate(&self, request: &ActivationRequest) -> Result<Activation, BankError>;
    /// The financial account the bank opened for the card.
    fn account(&self, card: &CardRef) -> Result<AccountInfo, BankError>;
}

impl<B: BankCardSystem + ?Sized> BankCardSystem for &B {
    fn activate(&self, request: &ActivationRequest) -> Result<Activation, BankError> {
        (**self).activate(request)
    }
    fn account(&self, card: &CardRef) -> Result<AccountInfo, BankError> {
        (**self).account(card)
    }
}

impl<B: BankCardSystem + ?Sized> BankCardSystem for Box<B> {
    fn activate(&self, request: &ActivationRequest) -> Result<Activation, BankError> {
        (**self).activate(request)
    }
    fn account(&self, card: &CardRef) -> Result<AccountInfo, BankError> {
        (**self).account(card)
    }
}

impl<B: BankCardSystem + ?Sized> BankCardSystem for std::sync::Arc<B> {
    fn activate(&self, request: &ActivationRequest) -> Result<Activation, BankError> {
        (**self).activate(request)
    }
    fn account(&self, card: &CardRef) -> Result<AccountInfo, BankError> {
        (**self).account(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        let refused =
            BankError::Refused { code: RefusalCode::AccountFrozen, reason: "账户已冻结".into() };
        assert_eq!(refused.kind(), ErrorKind::TellHolder);
        assert_eq!(refused.to_string(), "the bank refused (account-frozen): 账户已冻结");
        let down = BankError::Unavailable("HTTP 503".into());
        assert_eq!(down.kind(), ErrorKind::Retry);
        assert!(down.to_string().contains("retry later") && down.to_string().contains("stays not activated"));
        assert_eq!(BankError::NotFaceToFace(FaceToFaceProblem::NoPhoto).kind(), ErrorKind::CompleteEvidence);
        assert_eq!(BankError::Config("x".into()).kind(), ErrorKind::FixConfiguration);
        assert_eq!(BankError::Protocol("x".into()).kind(), ErrorKind::Report);
        let other = BankError::NoSystem { bank: "农业银行 (ABC)".into() };
        assert!(other.to_string().contains("at a 农业银行 (ABC) branch"), "{other}");
    }
}
