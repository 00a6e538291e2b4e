//! Life-cycle commands (ISO 7816-9): DEACTIVATE FILE (04), ACTIVATE FILE (44), TERMINATE DF
//! (E6), TERMINATE EF (E8), TERMINATE CARD USAGE (FE). Each needs the file's `admin`
//! condition (free during personalisation).

use apdu::{Command, Response, StatusWord};
use firmware_profile::{CardLifeCycle, FileLifeCycle, FilePath};

use super::CardOs;

impl CardOs {
    pub(super) fn file_lifecycle_command(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p2 & !0x0C != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        // No data: the current EF, else the current DF. With data: named as SELECT names it.
        let path = if cmd.data.is_empty() && cmd.p1 == 0 {
            self.vol.current_ef.clone().unwrap_or_else(|| self.vol.current_df.clone())
        } else {
            self.resolve(cmd.p1, &cmd.data)?
        };
        let spec = self.spec(&path)?;
        match (cmd.ins, spec.is_df()) {
            (0xE8, true) | (0xE6, false) => return Err(StatusWord::IncompatibleFileStructure),
            _ => {}
        }
        self.allowed(spec, spec.admin)?;
        let now = self.file_lifecycle(&path).ok_or(StatusWord::FileNotFound)?;
        if now == FileLifeCycle::Terminated {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let next = match cmd.ins {
            0x04 => FileLifeCycle::Deactivated,
            0x44 => {
                // ACTIVATE FILE on the MF ends personalisation (ISO 7816-9 8.4).
                if path.is_mf() && self.state.card_lifecycle.is_personalisation() {
                    self.state.card_lifecycle = CardLifeCycle::Operational;
                    self.dirty = true;
                }
                FileLifeCycle::Activated
            }
            _ => FileLifeCycle::Terminated,
        };
        self.set_file_lifecycle(&path, next)
    }

    fn set_file_lifecycle(&mut self, path: &FilePath, lcs: FileLifeCycle) -> Result<Response, StatusWord> {
        let file = self.state.file_mut(path).ok_or(StatusWord::FileNotFound)?;
        if file.lifecycle != lcs {
            file.lifecycle = lcs;
            self.dirty = true;
        }
        Ok(Response::status(StatusWord::Success))
    }

    /// TERMINATE CARD USAGE: irreversible. Afterwards SELECT answers 6285 and every other
    /// command 6985.
    pub(super) fn terminate_card_usage(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let mf = self.spec(&FilePath::mf())?;
        self.allowed(mf, mf.admin)?;
        self.state.card_lifecycle = CardLifeCycle::Terminated;
        self.dirty = true;
        Ok(Response::status(StatusWord::Success))
    }
}
