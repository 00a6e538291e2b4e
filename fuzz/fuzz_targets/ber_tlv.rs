//! BER-TLV and SIMPLE-TLV through `iso7816-tlv`, the library the card stack uses (apdu,
//! ssse records, the simulator): every object parsed encodes to bytes that parse back to it,
//! and a lookup returns bytes that were in the input.
//!
//! The check is `fuzz_checks::ber_tlv::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/ber_tlv/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::ber_tlv::check(data));
