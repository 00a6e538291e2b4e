//! The social-security application (SSSE) of a 社会保障卡, without I/O of its own: it works
//! over any [`card_transport::CardTransaction`], the PC/SC reader or the simulator.
//!
//! - [`records`]: EF05 (issuer) and EF06 (holder) TLV records exactly per the table of
//!   card-spec.md section 1, and the card identification code ([`CardId`]).
//! - [`keys`]: the [`KeyProvider`] that computes EXTERNAL AUTHENTICATE cryptograms — the
//!   [`Psam`] in the SAM slot (`BF DE` + `80 FA`) or [`SoftwareKeys`] standing in for an HSM
//!   service; the counter never holds a card key.
//! - [`SsseLayout`]: what the firmware profile says about the application (AID, DF, SFIs,
//!   record sizes, update key and its key triple, diversification levels), checked before
//!   any APDU.
//! - [`personalise()`]: authenticate, write EF05/EF06 by SFI, read back and compare.
//! - [`read_card`]: the public read sequence and the iReadCardBas fields ([`BasicInfo`]).
//!
//! 3DES and SM4 cards differ only in the profile's key algorithm.
#![forbid(unsafe_code)]

mod error;
mod format;
pub mod keys;
mod layout;
mod personalise;
mod read;
pub mod records;

pub use error::{FieldError, SsseError};
pub use keys::{AuthRequest, KeyError, KeyProvider, Psam, SoftwareKeys, PSAM_AID};
pub use layout::{RecordFile, SsseLayout};
pub use personalise::{card8, personalise, Personalised};
pub use read::{read_card, BasicInfo, CardData};
pub use records::{CardId, HolderData, IssuerData};

/// The environment AID: ASCII "sx1.sh." then GBK "社会保障".
pub const ENVIRONMENT_AID: [u8; 15] = *b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";

#[cfg(test)]
mod tests;
