//! The data-preparation file (`emv-cps-dp/1`, JSON from the data-preparation system): a
//! file that passes the checks writes and reads back the same; its DGIs split into STORE
//! DATA blocks that hold every byte once, none over the block size; errors are `Error::Dp`.
//!
//! The check is `fuzz_checks::emv_dp::check` (`fuzz/checks`), which the workspace's tests also
//! run on every file of `fuzz/corpus/emv_dp/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_checks::emv_dp::check(data));
