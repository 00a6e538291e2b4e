//! Columns found by their headers, for the tables this crate reads with the roster's readers
//! ([`roster::input::read_table`]: CSV in UTF-8 or GBK, XLSX).

use std::path::Path;

use roster::input::{normalize_header, read_table, TableSink};
use roster::RosterError;

/// A header as compared: the roster's normalisation, and no quotation marks
/// (是否通过“一本通”发放).
pub fn norm(h: &str) -> String {
    normalize_header(h).chars().filter(|c| !matches!(c, '"' | '“' | '”' | '\'' | '‘' | '’')).collect()
}

/// For each wanted column (a list of accepted headers), the first file column with one of
/// them.
pub fn find_columns(headers: &[String], wanted: &[&[&str]]) -> Vec<Option<usize>> {
    let norm_headers: Vec<String> = headers.iter().map(|h| norm(h)).collect();
    wanted
        .iter()
        .map(|aliases| {
            let a: Vec<String> = aliases.iter().map(|x| norm(x)).collect();
            norm_headers.iter().position(|h| a.contains(h))
        })
        .collect()
}

/// A cell's text, empty when the column is absent or the row short.
pub fn cell(cells: &[(String, bool)], at: Option<usize>) -> &str {
    at.and_then(|i| cells.get(i)).map_or("", |c| c.0.as_str())
}

/// A small table read whole: its headers and its non-blank rows with their numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// The header row.
    pub headers: Vec<String>,
    /// Row number and cells.
    pub rows: Vec<(u32, Vec<(String, bool)>)>,
}

impl TableSink for Table {
    fn header(&mut self, headers: &[String]) -> Result<bool, RosterError> {
        self.headers = headers.to_vec();
        Ok(true)
    }

    fn row(&mut self, row: u32, cells: &[(String, bool)]) -> Result<bool, RosterError> {
        if cells.iter().any(|c| !c.0.is_empty()) {
            self.rows.push((row, cells.to_vec()));
        }
        Ok(true)
    }
}

/// Reads a small table (a register) whole.
pub fn read_small(path: &Path, sheet: Option<&str>) -> Result<Table, RosterError> {
    let mut t = Table::default();
    read_table(path, sheet, &mut t)?;
    Ok(t)
}

/// A file name made of a township's name (no path separators).
pub fn file_name(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    if s.is_empty() {
        "(未填乡镇)".into()
    } else {
        s
    }
}
