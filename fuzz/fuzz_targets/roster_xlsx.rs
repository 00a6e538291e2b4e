//! A department's roster as XLSX (a zip of XML parts, read by calamine): it reads into rows
//! or fails with a `RosterError` that says what to fix; every row validates to a person or
//! to problems with a hint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use station_fuzz::roster_case;

fuzz_target!(|data: &[u8]| {
    roster_case(data, "xlsx");
});
