//! The APDU layer, with no I/O: command and response types, status words, the ATR, and the
//! one place where `61xx` GET RESPONSE, `6Cxx` re-send and command chaining are handled
//! ([`transmit`]), generic over any [`card_transport::CardTransaction`].
//!
//! BER-TLV and SIMPLE-TLV come from `iso7816-tlv`, re-exported as [`tlv`]; the one BER-TLV
//! writer and reader of the host and the simulators ([`encode_tlv`], [`parse_tlvs`],
//! [`find_primitive`], [`parse_dol`]) is built on it here, skipping `00` / `FF` padding inside
//! templates too.
#![forbid(unsafe_code)]

mod atr;
mod ber;
mod binary;
mod command;
mod error;
mod exchange;
mod response;
mod status;

pub use atr::{Atr, AtrError};
pub use ber::{
    encode_tlv, find_primitive, parse_dol, parse_tlvs, primitive_in, tag_number, try_parse_tlvs, BerError,
    MAX_TLV_DEPTH,
};
pub use binary::{read_binary_all, update_binary_all};
pub use command::{Command, ParseError, MAX_EXTENDED_LE, MAX_SHORT_LE};
pub use error::Error;
pub use exchange::{expect_ok, transmit};
pub use iso7816_tlv as tlv;
pub use response::Response;
pub use status::StatusWord;
