//! GlobalPlatform secure channels for personalising the financial application: SCP02
//! (3DES), SCP03 (AES) and its SM4 variant (the SCP03 shape with SM4 as the block cipher),
//! in both roles.
//!
//! - Host role: [`Session::open`] over any [`card_transport::CardTransaction`], or
//!   [`HostHandshake`] driven with bytes; then [`Session::wrap`] / [`Session::unwrap`].
//! - Card role: [`CardSession`], which the card simulator plugs in; the unit tests pair it
//!   with the host role, so both halves are checked against each other and against the
//!   vectors of card-spec.md section 3.
//! - Profiles: [`IsdSetup`] reads a card profile's `[isd]` (scheme, key version,
//!   diversification, master check value) for both roles.
//! - Keys: [`KeyProvider`] (software keys in [`SoftwareKeys`], room for a PSAM or HSM),
//!   diversification ([`Diversification`]: EMV CPS, VISA2, KDF3), check values ([`Kcv`]),
//!   PUT KEY ([`put_key`]). Secrets are zeroised on drop and never printed.
//!
//! The scheme (protocol, "i", cipher) and the security level come from the card's profile:
//! see [`Scheme`] and [`SecurityLevel`]. A wrong key set is caught by its check values
//! before any APDU, and a card cryptogram that does not verify stops the handshake before
//! EXTERNAL AUTHENTICATE, so neither costs the card a try.
#![forbid(unsafe_code)]

mod card;
mod channel;
mod diversify;
mod error;
mod host;
mod kcv;
mod key;
mod level;
mod profile;
mod provider;
pub mod put_key;
mod scheme;
pub mod scp02;
pub mod scp03;

pub use card::CardSession;
pub use channel::InitUpdateAnswer;
pub use diversify::{diversify, diversify_set, Diversification, KDD_LEN};
pub use error::{CardRefusal, Error};
pub use host::{Authenticating, HostHandshake, HostParams, Session};
pub use kcv::{Kcv, KcvSet};
pub use key::{pad80, unpad80, Algorithm, KeySet, KeyUsage, SecretKey, SessionKeys};
pub use level::SecurityLevel;
pub use profile::IsdSetup;
pub use provider::{KeyProvider, SessionDerivation, SoftwareKeys};
pub use scheme::{Protocol, Scheme};

#[cfg(test)]
mod tests;
