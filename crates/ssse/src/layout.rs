//! What the SSSE application looks like on one card OS, taken from its firmware profile and
//! checked before the first APDU: a personalisation that cannot fit fails at the desk, not
//! half-way through the card.

use firmware_profile::{
    AccessCondition, Algorithm, ApplicationKind, EfStructure, FilePath, Profile, PsamKeyRef,
};

use crate::SsseError;

/// One record EF of the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFile {
    /// File id (EF05, EF06).
    pub fid: u16,
    /// Short file id, when the card has one: record commands can then name the file in P2
    /// and no SELECT is needed.
    pub sfi: Option<u8>,
    /// Highest record number.
    pub records: u8,
    /// Longest record.
    pub record_size: usize,
}

/// The SSSE application of one firmware profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsseLayout {
    /// Profile id, for messages.
    pub profile: String,
    /// Environment AID.
    pub aid: Vec<u8>,
    /// Its DF in the file tree.
    pub df: FilePath,
    /// PSAM diversification levels.
    pub levels: u8,
    /// Issuer data.
    pub ef05: RecordFile,
    /// Holder data.
    pub ef06: RecordFile,
    /// Card key id that opens writing EF05/EF06 (EXTERNAL AUTHENTICATE P2).
    pub update_key: u8,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The PSAM master key it is diversified from.
    pub psam_key: PsamKeyRef,
}

impl SsseLayout {
    /// Reads the layout from `profile`; errors name the profile and what is missing.
    pub fn from_profile(profile: &Profile) -> Result<SsseLayout, SsseError> {
        let err = |message: String| SsseError::Profile { profile: profile.id.clone(), message };
        let app = profile
            .applications
            .iter()
            .find(|a| a.kind == ApplicationKind::Ssse)
            .ok_or_else(|| err("no SSSE application".into()))?;
        let df = app.df.clone().ok_or_else(|| err("the SSSE application has no DF".into()))?;
        let levels = app.diversification_levels.ok_or_else(|| err("no diversification_levels".into()))?;
        let record_file = |fid: u16| -> Result<(RecordFile, AccessCondition), SsseError> {
            let path = df.join(fid);
            let ef = profile
                .file(&path)
                .and_then(|f| f.ef())
                .ok_or_else(|| err(format!("no EF {fid:04X} under {df}")))?;
            let (records, record_size) = match ef.structure {
                EfStructure::LinearFixed { records, record_size } => (records, record_size as usize),
                EfStructure::LinearVariable { records, max_record_size } => {
                    (records, max_record_size as usize)
                }
                EfStructure::Transparent { .. } => {
                    return Err(err(format!("{path} is transparent; SSSE data are record files")))
                }
            };
            Ok((RecordFile { fid, sfi: ef.sfi, records, record_size }, ef.update))
        };
        let (ef05, update05) = record_file(0xEF05)?;
        let (ef06, update06) = record_file(0xEF06)?;
        let update_key = match (update05, update06) {
            (AccessCondition::Key(a), AccessCondition::Key(b)) if a == b => a,
            other => return Err(err(format!("EF05/EF06 must be written under one key; found {other:?}"))),
        };
        let key = profile.find_key(&df, update_key).ok_or_else(|| err(format!("no key {update_key:02X}")))?;
        let psam_key = key
            .psam_key
            .ok_or_else(|| err(format!("key {update_key:02X} names no psam_key (its key triple)")))?;
        Ok(SsseLayout {
            profile: profile.id.clone(),
            aid: app.aid.clone(),
            df,
            levels,
            ef05,
            ef06,
            update_key,
            algorithm: key.algorithm,
            psam_key,
        })
    }

    /// Whether EF06 has room for the name-extension record 4E.
    pub fn has_name_extension(&self) -> bool {
        self.ef06.records >= crate::records::NAME_EXTENSION_TAG
    }
}
