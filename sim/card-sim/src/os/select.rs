//! SELECT (A4) and the file control information it answers with.

use apdu::{encode_tlv, Command, Response, StatusWord};
use firmware_profile::{CardLifeCycle, EfStructure, FileKind, FileLifeCycle, FilePath, FileSpec};

use super::CardOs;

/// What SELECT P2 asks to be returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Template {
    Fci,
    Fcp,
    Fmd,
    None,
}

impl CardOs {
    pub(super) fn select(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p2 & 0xF3 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let template = match cmd.p2 & 0x0C {
            0x00 => Template::Fci,
            0x04 => Template::Fcp,
            0x08 => Template::Fmd,
            _ => Template::None,
        };
        if cmd.p1 == 0x04 {
            if let Some(r) = self.select_application_without_df(&cmd.data, template) {
                return Ok(r);
            }
        }
        let path = self.resolve(cmd.p1, &cmd.data)?;
        let spec = self.spec(&path)?;
        let data = match template {
            Template::Fci => encode_tlv(0x6F, &self.fcp_content(spec)),
            Template::Fcp => encode_tlv(0x62, &self.fcp_content(spec)),
            Template::Fmd => encode_tlv(0x64, &[]),
            Template::None => Vec::new(),
        };
        if spec.is_df() {
            self.set_current_df(path.clone());
            self.vol.current_ef = None;
        } else {
            self.set_current_df(path.parent().unwrap_or_else(FilePath::mf));
            self.vol.current_ef = Some(path.clone());
        }
        self.vol.record_pointer = None;
        let sw = match (self.state.card_lifecycle, self.file_lifecycle(&path)) {
            (CardLifeCycle::Terminated, _) | (_, Some(FileLifeCycle::Terminated)) => {
                StatusWord::FileTerminated
            }
            (_, Some(FileLifeCycle::Deactivated)) => StatusWord::FileDeactivated,
            _ => StatusWord::Success,
        };
        Ok(Response::new(data, sw))
    }

    /// An application with no DF of its own (a GlobalPlatform ISD, a PPSE) is selectable only
    /// when a handler for its kind is registered.
    fn select_application_without_df(&mut self, aid: &[u8], template: Template) -> Option<Response> {
        if self.profile.df_by_name(aid).is_some() {
            return None;
        }
        let i = self.profile.applications.iter().position(|a| a.df.is_none() && a.aid == aid)?;
        let kind = self.profile.applications[i].kind;
        if !self.handlers.iter().any(|(k, h)| *k == kind && h.is_some()) {
            return None;
        }
        self.vol.granted.clear();
        self.vol.current_ef = None;
        self.vol.selected_app = Some(i);
        let slot = self.handlers.iter().position(|(k, _)| *k == kind)?;
        let mut handler = self.handlers[slot].1.take()?;
        let own = handler.select(self, aid);
        self.handlers[slot].1 = Some(handler);
        if let Some(mut r) = own {
            if r.sw != StatusWord::Success {
                self.vol.selected_app = None;
            } else if template == Template::None {
                r.data.clear();
            }
            return Some(r);
        }
        let data =
            if template == Template::None { Vec::new() } else { encode_tlv(0x6F, &encode_tlv(0x84, aid)) };
        Some(Response::new(data, StatusWord::Success))
    }

    /// The file a SELECT-style P1 and data name (also used by the life-cycle commands).
    pub(super) fn resolve(&self, p1: u8, data: &[u8]) -> Result<FilePath, StatusWord> {
        let fid = || match data {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(StatusWord::WrongLength),
        };
        let current = &self.vol.current_df;
        let child = |df: &FilePath, fid: u16| {
            let p = df.join(fid);
            self.profile.file(&p).map(|f| (p, f.is_df()))
        };
        match p1 {
            0x00 if data.is_empty() => Ok(FilePath::mf()),
            0x00 => {
                let fid = fid()?;
                if fid == 0x3F00 {
                    return Ok(FilePath::mf());
                }
                if current.fid() == fid {
                    return Ok(current.clone());
                }
                if let Some((p, _)) = child(current, fid) {
                    return Ok(p);
                }
                // The parent DF, then the parent's children (sibling DFs and EFs).
                let parent = current.parent().ok_or(StatusWord::FileNotFound)?;
                if parent.fid() == fid {
                    return Ok(parent);
                }
                child(&parent, fid).map(|(p, _)| p).ok_or(StatusWord::FileNotFound)
            }
            0x01 => match child(current, fid()?) {
                Some((p, true)) => Ok(p),
                _ => Err(StatusWord::FileNotFound),
            },
            0x02 => match child(current, fid()?) {
                Some((p, false)) => Ok(p),
                _ => Err(StatusWord::FileNotFound),
            },
            0x03 => current.parent().ok_or(StatusWord::FileNotFound),
            0x04 if data.is_empty() => Ok(FilePath::mf()),
            0x04 => self
                .profile
                .files
                .iter()
                .find(|f| f.df_name().is_some_and(|n| n.starts_with(data)))
                .map(|f| f.path.clone())
                .ok_or(StatusWord::FileNotFound),
            0x08 | 0x09 => {
                if data.is_empty() || data.len() & 1 != 0 {
                    return Err(StatusWord::WrongLength);
                }
                let mut fids: Vec<u16> = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                let mut at = if p1 == 0x08 { FilePath::mf() } else { current.clone() };
                if p1 == 0x08 && fids.first() == Some(&0x3F00) {
                    fids.remove(0);
                }
                for (i, fid) in fids.iter().enumerate() {
                    match child(&at, *fid) {
                        Some((p, is_df)) if is_df || i + 1 == fids.len() => at = p,
                        _ => return Err(StatusWord::FileNotFound),
                    }
                }
                Ok(at)
            }
            _ => Err(StatusWord::IncorrectP1P2),
        }
    }

    /// The data objects of the FCP (ISO 7816-4 table 12): 82 descriptor, 83 FID, 84 DF name,
    /// 80 size, 88 SFI, 8A life cycle.
    fn fcp_content(&self, spec: &FileSpec) -> Vec<u8> {
        let mut out = Vec::new();
        match &spec.kind {
            FileKind::Df { df_name } => {
                out.extend(encode_tlv(0x82, &[0x38]));
                out.extend(encode_tlv(0x83, &spec.fid().to_be_bytes()));
                if let Some(name) = df_name {
                    out.extend(encode_tlv(0x84, name));
                }
            }
            FileKind::Ef(ef) => {
                let (descriptor, size) = match ef.structure {
                    EfStructure::Transparent { size } => (vec![0x01], size),
                    EfStructure::LinearFixed { records, record_size } => (
                        vec![0x02, 0x21, 0x00, record_size, records],
                        records as usize * record_size as usize,
                    ),
                    EfStructure::LinearVariable { records, max_record_size } => (
                        vec![0x04, 0x21, 0x00, max_record_size, records],
                        records as usize * max_record_size as usize,
                    ),
                };
                out.extend(encode_tlv(0x82, &descriptor));
                out.extend(encode_tlv(0x83, &spec.fid().to_be_bytes()));
                out.extend(encode_tlv(0x80, &(size.min(0xFFFF) as u16).to_be_bytes()));
                if let Some(sfi) = ef.sfi {
                    out.extend(encode_tlv(0x88, &[sfi << 3]));
                }
            }
        }
        let lcs = if spec.path.is_mf() && self.state.card_lifecycle != CardLifeCycle::Operational {
            self.state.card_lifecycle.lcs_byte()
        } else {
            self.file_lifecycle(&spec.path).unwrap_or(spec.lifecycle).lcs_byte()
        };
        out.extend(encode_tlv(0x8A, &[lcs]));
        out
    }
}
