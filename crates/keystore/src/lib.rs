//! Keys at rest in a PKCS#11 token (an HSM, a USB crypto token; SoftHSM2 in tests and on the
//! simulated counter), issue #25 item 1.
//!
//! - [`Keystore`]: the module opened, the token found by label, the user logged in with a
//!   PIN from a 0600 file or an environment variable ([`PinSource`]), never the command line.
//! - [`TokenKeys`]: [`secure_channel::KeyProvider`] over the token, interchangeable with
//!   [`secure_channel::SoftwareKeys`]. Its module documentation lists what leaves the token.
//! - [`TransportKey`]: the DP file's encrypted DGIs decrypted inside the token.
//! - [`LedgerMac`]: the ledger's AES-CMAC key (its module says why CMAC with AES).
//! - [`RecordKey`]: an outreach kit's ECDSA P-256 record-signing key, made in the kit's own
//!   token ([`Keystore::generate_record_key`]).
//! - [`DataWrapKey`]: the key that wraps the station's data key (`station.db.key`) by AES-GCM
//!   inside the token (its module says why GCM through `C_Encrypt`).
//! - The ceremony: [`Keystore::import_components`] (two or more custodians' components,
//!   each checked against its check value, the key stored sealed), [`Keystore::list`]
//!   (labels, kinds, roles, check values only).
//!
//! Every key is stored `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, `CKA_PRIVATE`, with only its
//! role's usages. Check values are computed in the token: 3DES `E_K(00*8)`, AES
//! `E_K(01*16)` (GlobalPlatform Amendment D, as secure-channel's `Kcv`).
//!
//! What SoftHSM2 2.6 lacks: SM4 and SM3 (no PKCS#11 key type or mechanism; SM4 keys are
//! [`Error::NotOffered`]), `CKM_XOR_BASE_AND_DATA` (so components are combined in a wiped
//! host buffer, see [`ceremony`]), `CKM_SP800_108_COUNTER_KDF` (SCP03's KDF is run as
//! `C_Sign(CKM_AES_CMAC)` blocks, the session keys passing through host memory).
//!
//! What the [`secure_channel::KeyProvider`] trait makes leave the token: the session keys of
//! each secure channel (it returns [`secure_channel::SessionKeys`] as bytes) and, with
//! per-card diversification, the card's static keys while they are derived. Static and
//! master keys, the transport key, the ledger key and the database wrapping key never do. To keep session keys in the
//! token the trait would return an object able to compute with them instead: see the
//! crate README.
#![forbid(unsafe_code)]

pub mod ceremony;
mod dbwrap;
mod error;
mod ledger;
mod provider;
mod record_key;
mod softhsm;
mod token;
mod transport;

pub use ceremony::{CeremonyReport, Component, Formed};
pub use dbwrap::{DataWrapKey, WRAP_NONCE_LEN, WRAP_TAG_LEN};
pub use error::Error;
pub use ledger::{LedgerMac, LEDGER_MAC_LEN};
pub use provider::TokenKeys;
pub use record_key::{RecordKey, RECORD_SIGNATURE_LEN};
pub use softhsm::{softhsm2_installed, softhsm2_token};
pub use token::{KeyInfo, KeyKind, KeyRole, Keystore, PinSource, TokenConfig};
pub use transport::TransportKey;

/// Where Debian's `softhsm2` package puts the module.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
