//! EMV CPS personalisation of the PBOC/UnionPay debit application over GlobalPlatform, a
//! test data-preparation builder, and an EMV terminal flow with ARQC verification. No I/O
//! beyond a [`card_transport::CardTransaction`].
//!
//! - [`build_test_dp`]: a data-preparation (DP) file for one test card (PAN from a BIN and the
//!   holder with its Luhn digit, expiry, card keys from the test issuer master keys).
//! - [`personalise`]: SELECT of the issuer security domain, secure channel
//!   ([`secure_channel::Session::open`]), INSTALL [for personalization] and STORE DATA per
//!   application ([`store_data_blocks`] for the block rules). [`PersoParams::for_profile`]
//!   takes the ISD's AID, scheme (SCP02, SCP03, the SM4 variant) and master check value from
//!   the card's profile (`[isd]`); encrypted DGIs are re-padded to the DEK's block size.
//! - [`run_terminal`] and [`verify_arqc`]: PSE/PPSE, SELECT, GPO, READ RECORD, GET DATA,
//!   VERIFY, GENERATE AC; the ARQC checked against the issuer key. [`Interface::of_atr`]
//!   tells a card on a contactless reader by its PC/SC part 3 ATR.
//!
//! # The DP file (`emv-cps-dp/1`)
//!
//! JSON, one card per file:
//!
//! ```json
//! { "format": "emv-cps-dp/1",
//!   "card": { "pan": "6212...", "psn": 1, "expiry": "351231", "label": "PBOC DEBIT" },
//!   "transport_key_kcv": "A1B2C3",
//!   "applications": [
//!     { "name": "PSE", "aid": "315041592E5359532E4444463031",
//!       "dgis": [ { "dgi": "0101", "data": "70..." }, { "dgi": "9102", "data": "8801.." } ] },
//!     { "name": "PBOC debit", "aid": "A000000333010101",
//!       "dgis": [ { "dgi": "0101", "data": "70..." },
//!                { "dgi": "8000", "encrypted": "..." } ] } ] }
//! ```
//!
//! `card` is for the operator and the journal and is never sent. Applications are
//! personalised in file order, DGIs stored in file order. A DGI has either `data` (plain,
//! hex) or `encrypted`: its value with ISO 9797-1 method 2 padding (`80 00..`, always at
//! least one byte), 3DES-ECB under a transport key shared by the data-preparation system
//! and the personalisation host, identified by `transport_key_kcv` (`E_K(00*8)`, 3 bytes).
//! The host decrypts and re-encrypts the padded value under the session DEK (an HSM would do
//! this translation without showing the plaintext). Test files use
//! [`crypto::TEST_TRANSPORT_KEY`].
//!
//! # DGIs of the PBOC debit application (what [`build_test_dp`] writes, the simulator reads)
//!
//! | DGI | content |
//! |---|---|
//! | `0101`, `0102` | records SFI 1: `70 {57, 5F20, 9F1F}`, `70 {5A, 5F24, 5F25, 5F28, 5F34, 9F07, 8E, 9F0D-0F, 8C, 8D, 9F08, 5F30}` |
//! | `9102` / `9103` | contents of the A5 template of the SELECT answer, contact / contactless (50, 87, 9F38 PDOL, 5F2D, 9F11, 9F12) |
//! | `9104` / `9105` | GET PROCESSING OPTIONS data, contact / contactless: `82` AIP, `94` AFL [I: our assignment] |
//! | `9200` | card internal data: `9F10` IAD template `07 DKI CVN 03 CVR` [I: our assignment] |
//! | `8000` / `8001` (encrypted) | AC, MAC, ENC card keys (16 bytes each), contact / contactless |
//! | `9000` / `9001` | their check values (3 bytes each) |
//! | `8010` (encrypted) | reference PIN block, ISO 9564 format 2 |
//! | `9010` | PIN try limit, PIN try counter |
//!
//! PSE: `0101` its directory record `70 {61 {4F, 50, 87}}`, `9102` `88 01 01, 5F2D`. PPSE:
//! `9102` `BF0C {61 {4F, 50, 87}}`.
//!
//! # Cryptogram
//!
//! CVN 01 as PBOC / UnionPay define it (not EMV's common session key derivation): see
//! [`crypto`] for the exact option A key derivation, session key and MAC input.
#![forbid(unsafe_code)]

mod builder;
pub mod crypto;
mod dp;
mod error;
mod perso;
mod terminal;

pub use builder::{
    build_test_dp, pin_block, TestCard, AFL, AIP, CDOL1, CDOL2, PDOL_CONTACT, PDOL_CONTACTLESS,
};
pub use crypto::{test_pan, test_transport_key, IssuerKeys};
pub use dp::{
    decrypt_from_transport, encrypt_for_transport, holder_ref, CardSummary, Dgi, DpApplication, DpDgi,
    DpFile, TransportDecrypt, DP_FORMAT,
};
pub use error::Error;
pub use perso::{
    dgi_header, max_block, open_isd, personalise, store_application, store_data_blocks, PersoParams,
    PersoReport, StoreDataBlock,
};
pub use terminal::{run_terminal, verify_arqc, CardReading, GeneratedAc, Interface, TerminalParams};

/// The default issuer security domain (card-spec.md section 3).
pub const AID_ISD: &str = "A000000151000000";
/// PBOC / UnionPay debit.
pub const AID_PBOC_DEBIT: &str = "A000000333010101";
/// Payment system environment `1PAY.SYS.DDF01` (contact).
pub const AID_PSE: &str = "315041592E5359532E4444463031";
/// Proximity payment system environment `2PAY.SYS.DDF01` (contactless).
pub const AID_PPSE: &str = "325041592E5359532E4444463031";

#[cfg(test)]
mod tests;
