//! The card stack's BER-TLV writer and reader (`apdu`: `encode_tlv`, `parse_tlvs` with
//! padding, `find_primitive`, `parse_dol`; the EMV terminal side of `emv-cps` and the
//! simulator use them): what parses, written again with `encode_tlv`, parses back the same;
//! lookups return bytes of the input; DOLs give one-byte lengths.
//!
//! The check is `fuzz_checks::emv_tlv::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/emv_tlv/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::emv_tlv::check(data));
