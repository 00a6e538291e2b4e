//! Malformed workbooks found by `fuzz/` (roster_xlsx): they are refused with an error that
//! names the file, never a panic in the reader thread (which dropped the rows after it).

use roster::input::read_all;
use roster::RosterError;

/// A cell of type `s` whose index is past the shared-string table (calamine 0.30 indexed the
/// table unchecked and panicked; 0.38 returns an error).
#[test]
fn a_shared_string_index_past_the_table_is_an_input_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("roster.xlsx");
    std::fs::write(&path, include_bytes!("data/shared-string-out-of-range.xlsx")).expect("write");
    let err = read_all(&path, None).expect_err("a malformed workbook is refused");
    assert!(matches!(&err, RosterError::Input { path: p, .. } if *p == path), "{err:?}");
}

/// A sheet dimension whose numbers overflow inside calamine 0.38 (`attempt to multiply with
/// overflow` in `get_dimension`): the panic stays in the reader thread and is the file's error.
#[test]
fn an_overflowing_sheet_dimension_is_an_input_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("roster.xlsx");
    std::fs::write(&path, include_bytes!("data/dimension-overflow.xlsx")).expect("write");
    let err = read_all(&path, None).expect_err("a malformed workbook is refused");
    assert!(
        matches!(&err, RosterError::Input { path: p, message } if *p == path && message.contains("save it again")),
        "{err:?}"
    );
}

/// The same workbooks read from memory (the fuzzer's way in) are refused the same way.
#[test]
fn malformed_workbooks_in_memory_are_input_errors_too() {
    use roster::input::{read_bytes, Format};
    for bytes in [
        &include_bytes!("data/shared-string-out-of-range.xlsx")[..],
        &include_bytes!("data/dimension-overflow.xlsx")[..],
        // The evening rerun's input: another dimension that overflows the same multiply.
        &include_bytes!("data/dimension-overflow-2.xlsx")[..],
    ] {
        let err = read_bytes(bytes, Format::Xlsx, None).expect_err("a malformed workbook is refused");
        assert!(matches!(&err, RosterError::Input { .. }), "{err:?}");
    }
}
