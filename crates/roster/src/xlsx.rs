//! XLSX output in rust_xlsxwriter's constant-memory mode: each row goes to a temporary file
//! as it is written, so a million-row roster does not sit in memory as cells. A sheet holds
//! 1 048 576 rows; past that the writer starts "比对结果2", "比对结果3"...

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::RosterError;

/// Rows per sheet, the header included.
const MAX_ROWS: u32 = 1_048_576;

/// Writes rows of text to one workbook.
pub struct SheetWriter {
    path: PathBuf,
    workbook: Workbook,
    name: String,
    headers: Vec<String>,
    sheet: usize,
    sheets: usize,
    row: u32,
    bold: Format,
}

impl SheetWriter {
    /// A workbook at `path` with a first sheet `name` and its header row.
    pub fn create(path: &Path, name: &str, headers: &[&str]) -> Result<SheetWriter, RosterError> {
        let mut w = SheetWriter {
            path: path.to_path_buf(),
            workbook: Workbook::new(),
            name: name.to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            sheet: 0,
            sheets: 0,
            row: 0,
            bold: Format::new().set_bold(),
        };
        w.new_sheet()?;
        Ok(w)
    }

    fn err(&self) -> impl Fn(XlsxError) -> RosterError + '_ {
        move |e| RosterError::Output { path: self.path.clone(), message: e.to_string() }
    }

    fn new_sheet(&mut self) -> Result<(), RosterError> {
        let name =
            if self.sheets == 0 { self.name.clone() } else { format!("{}{}", self.name, self.sheets + 1) };
        let path = &self.path;
        let err = |e: XlsxError| RosterError::Output { path: path.clone(), message: e.to_string() };
        let sheet = self.workbook.add_worksheet_with_constant_memory().map_err(err)?;
        sheet.set_name(&name).map_err(err)?;
        self.sheet = self.sheets;
        self.sheets += 1;
        self.row = 0;
        let headers = std::mem::take(&mut self.headers);
        let bold = self.bold.clone();
        let sheet = self
            .workbook
            .worksheet_from_index(self.sheet)
            .map_err(|e| RosterError::Output { path: self.path.clone(), message: e.to_string() })?;
        let mut result = Ok(());
        for (c, h) in headers.iter().enumerate() {
            if let Err(e) = sheet.write_string_with_format(0, c as u16, h, &bold) {
                result = Err(e);
                break;
            }
            let _ = sheet.set_column_width(c as u16, 14);
        }
        let _ = sheet.set_freeze_panes(1, 0);
        self.headers = headers;
        result.map_err(self.err())?;
        self.row = 1;
        Ok(())
    }

    /// Appends a row of text cells.
    pub fn row(&mut self, fields: &[&str]) -> Result<(), RosterError> {
        if self.row >= MAX_ROWS {
            self.new_sheet()?;
        }
        let (idx, row) = (self.sheet, self.row);
        let sheet = self
            .workbook
            .worksheet_from_index(idx)
            .map_err(|e| RosterError::Output { path: self.path.clone(), message: e.to_string() })?;
        let mut result = Ok(());
        for (c, f) in fields.iter().enumerate() {
            if !f.is_empty() {
                if let Err(e) = sheet.write_string(row, c as u16, *f) {
                    result = Err(e);
                    break;
                }
            }
        }
        result.map_err(self.err())?;
        self.row += 1;
        Ok(())
    }

    /// Writes the file.
    pub fn finish(mut self) -> Result<(), RosterError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| RosterError::io(dir.display().to_string(), e))?;
        }
        let path = self.path.clone();
        self.workbook.save(&path).map_err(|e| RosterError::Output { path, message: e.to_string() })
    }
}
