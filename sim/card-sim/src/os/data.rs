//! READ/UPDATE BINARY, READ/UPDATE/APPEND RECORD, with SFI addressing.

use apdu::{Command, Response, StatusWord, MAX_EXTENDED_LE, MAX_SHORT_LE};
use firmware_profile::{EfSpec, EfStructure, FilePath};

use super::CardOs;

/// Le 00 (short) or 0000 (extended): "as many bytes as there are", not an exact count.
fn le_is_wildcard(le: usize) -> bool {
    le == MAX_SHORT_LE || le == MAX_EXTENDED_LE
}

/// Record access mode from P2 b3..b1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordRef {
    /// Record number in P1 (P1 = 00: the current record).
    Number(u8),
    /// First record whose first byte (the record identifier) is P1.
    FirstWithId(u8),
    /// Last record whose first byte is P1.
    LastWithId(u8),
}

impl CardOs {
    /// The EF a command addresses: by SFI (which also makes it the current EF) or the
    /// current EF.
    fn target_ef(&mut self, sfi: Option<u8>) -> Result<(FilePath, EfSpec), StatusWord> {
        let path = match sfi {
            Some(sfi) => {
                let df = self.vol.current_df.clone();
                let path = self
                    .profile
                    .children(&df)
                    .find(|f| f.ef().is_some_and(|e| e.sfi == Some(sfi)))
                    .map(|f| f.path.clone())
                    .ok_or(StatusWord::FileNotFound)?;
                self.vol.current_ef = Some(path.clone());
                self.vol.record_pointer = None;
                path
            }
            None => self.vol.current_ef.clone().ok_or(StatusWord::CommandNotAllowed)?,
        };
        let ef = self.spec(&path)?.ef().cloned().ok_or(StatusWord::CommandNotAllowed)?;
        self.usable(&path)?;
        Ok((path, ef))
    }

    /// P1 P2 of READ/UPDATE BINARY: b8 of P1 set = SFI in P1 b5..b1 and offset in P2, else a
    /// 15-bit offset.
    fn binary_target(&mut self, cmd: &Command) -> Result<(FilePath, usize, usize), StatusWord> {
        let (sfi, offset) = if cmd.p1 & 0x80 != 0 {
            if cmd.p1 & 0x60 != 0 || cmd.p1 & 0x1F == 0 {
                return Err(StatusWord::IncorrectP1P2);
            }
            (Some(cmd.p1 & 0x1F), cmd.p2 as usize)
        } else {
            (None, u16::from_be_bytes([cmd.p1, cmd.p2]) as usize)
        };
        let (path, ef) = self.target_ef(sfi)?;
        let EfStructure::Transparent { size } = ef.structure else {
            return Err(StatusWord::IncompatibleFileStructure);
        };
        if offset >= size {
            return Err(StatusWord::WrongParameters);
        }
        Ok((path, offset, size))
    }

    pub(super) fn read_binary(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        let le = cmd.le.ok_or(StatusWord::WrongLength)?;
        if !cmd.data.is_empty() {
            return Err(StatusWord::WrongLength);
        }
        let (path, offset, size) = self.binary_target(cmd)?;
        let ef = self.spec(&path)?.ef().map(|e| e.read).ok_or(StatusWord::CommandNotAllowed)?;
        self.allowed(self.spec(&path)?, ef)?;
        let max = self.profile.capabilities.max_response_data;
        let available = size - offset;
        let n = le.min(available).min(max);
        let data = self.binary(&path).map(|d| d[offset..offset + n].to_vec()).unwrap_or_default();
        let sw =
            if available < le && !le_is_wildcard(le) { StatusWord::EndOfFile } else { StatusWord::Success };
        Ok(Response::new(data, sw))
    }

    pub(super) fn update_binary(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.data.is_empty() {
            return Err(StatusWord::WrongLength);
        }
        let (path, offset, size) = self.binary_target(cmd)?;
        let cond = self.spec(&path)?.ef().map(|e| e.update).ok_or(StatusWord::CommandNotAllowed)?;
        self.allowed(self.spec(&path)?, cond)?;
        if offset + cmd.data.len() > size {
            return Err(StatusWord::NotEnoughMemory);
        }
        let file =
            self.state.file_mut(&path).and_then(|f| f.data.as_mut()).ok_or(StatusWord::MemoryFailure)?;
        file.0[offset..offset + cmd.data.len()].copy_from_slice(&cmd.data);
        self.dirty = true;
        Ok(Response::status(StatusWord::Success))
    }

    /// P2 of the record commands: SFI in b8..b4 (0 = current EF), mode in b3..b1.
    fn record_target(&mut self, cmd: &Command) -> Result<(FilePath, EfSpec), StatusWord> {
        let sfi = match cmd.p2 >> 3 {
            0 => None,
            31 => return Err(StatusWord::IncorrectP1P2),
            sfi => Some(sfi),
        };
        let (path, ef) = self.target_ef(sfi)?;
        if !ef.structure.is_record() {
            return Err(StatusWord::IncompatibleFileStructure);
        }
        Ok((path, ef))
    }

    fn record_ref(cmd: &Command) -> Result<RecordRef, StatusWord> {
        match cmd.p2 & 0x07 {
            0b100 => Ok(RecordRef::Number(cmd.p1)),
            0b000 => Ok(RecordRef::FirstWithId(cmd.p1)),
            0b001 => Ok(RecordRef::LastWithId(cmd.p1)),
            0b010 | 0b011 | 0b101 | 0b110 => Err(StatusWord::FunctionNotSupported),
            _ => Err(StatusWord::IncorrectP1P2),
        }
    }

    /// The number of the record `r` names in EF `path`.
    fn find_record(&self, path: &FilePath, r: RecordRef) -> Result<u8, StatusWord> {
        let records =
            self.state.file(path).and_then(|f| f.records.as_ref()).ok_or(StatusWord::RecordNotFound)?;
        let with_id = |id: u8| move |(_, rec): &(&u8, &crate::state::Hex)| rec.0.first() == Some(&id);
        let found = match r {
            RecordRef::Number(0) => self.vol.record_pointer,
            RecordRef::Number(n) => records.contains_key(&n).then_some(n),
            RecordRef::FirstWithId(id) => records.iter().find(with_id(id)).map(|(n, _)| *n),
            RecordRef::LastWithId(id) => records.iter().rev().find(with_id(id)).map(|(n, _)| *n),
        };
        found.ok_or(StatusWord::RecordNotFound)
    }

    /// Answers the whole record when Le is 00 or at least its length, the first Le bytes when
    /// Le is shorter (the `wrong-le` fault turns that into 6Cxx).
    pub(super) fn read_record(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.le.is_none() {
            return Err(StatusWord::WrongLength);
        }
        let mode = CardOs::record_ref(cmd)?;
        let (path, ef) = self.record_target(cmd)?;
        self.allowed(self.spec(&path)?, ef.read)?;
        let n = self.find_record(&path, mode)?;
        self.vol.record_pointer = Some(n);
        let record = self.record(&path, n).ok_or(StatusWord::RecordNotFound)?;
        // The whole record: delivery cuts it to Le, or answers 6Cxx under the wrong-le fault.
        Ok(Response::new(record.to_vec(), StatusWord::Success))
    }

    /// Checks a record's length against the EF's structure.
    fn record_len_ok(ef: &EfSpec, len: usize) -> Result<(), StatusWord> {
        let ok = match ef.structure {
            EfStructure::LinearFixed { record_size, .. } => len == record_size as usize,
            EfStructure::LinearVariable { max_record_size, .. } => {
                (1..=max_record_size as usize).contains(&len)
            }
            EfStructure::Transparent { .. } => false,
        };
        if ok {
            Ok(())
        } else {
            Err(StatusWord::WrongLength)
        }
    }

    pub(super) fn update_record(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p2 & 0x07 != 0b100 {
            return Err(StatusWord::FunctionNotSupported);
        }
        let (path, ef) = self.record_target(cmd)?;
        self.allowed(self.spec(&path)?, ef.update)?;
        CardOs::record_len_ok(&ef, cmd.data.len())?;
        let n = self.find_record(&path, RecordRef::Number(cmd.p1))?;
        self.write_record(&path, n, &cmd.data)
    }

    pub(super) fn append_record(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 || cmd.p2 & 0x07 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let (path, ef) = self.record_target(cmd)?;
        self.allowed(self.spec(&path)?, ef.update)?;
        CardOs::record_len_ok(&ef, cmd.data.len())?;
        let max = match ef.structure {
            EfStructure::LinearFixed { records, .. } | EfStructure::LinearVariable { records, .. } => records,
            EfStructure::Transparent { .. } => 0,
        };
        let last = self
            .state
            .file(&path)
            .and_then(|f| f.records.as_ref())
            .and_then(|r| r.keys().next_back().copied());
        let n = last.unwrap_or(0).checked_add(1).filter(|n| *n <= max).ok_or(StatusWord::NotEnoughMemory)?;
        self.write_record(&path, n, &cmd.data)
    }

    fn write_record(&mut self, path: &FilePath, n: u8, data: &[u8]) -> Result<Response, StatusWord> {
        let records =
            self.state.file_mut(path).and_then(|f| f.records.as_mut()).ok_or(StatusWord::MemoryFailure)?;
        records.insert(n, crate::state::Hex(data.to_vec()));
        self.vol.record_pointer = Some(n);
        self.dirty = true;
        Ok(Response::status(StatusWord::Success))
    }
}
