//! Firmware profiles: what a card OS looks like (ATR, applications, file tree, keys, PINs),
//! kept as data in `firmware-profiles/*.toml` and validated on load, so supporting another
//! card OS or province is a new file, not new code.
//!
//! # Schema
//!
//! ```toml
//! id = "ssc-3g-sim"                 # unique over the directory
//! description = "..."
//! vendor = "..."
//! card_os = "..."
//! generation = "3"                  # "2" or "3"
//! spec_version = "3.00"
//! atr = "3B 8E 01 ..."              # hex, spaces allowed; must parse as an ISO 7816-3 ATR
//! card_lifecycle = "operational"    # creation | initialisation | operational (default)
//!
//! [capabilities]                    # must agree with what the ATR announces
//! extended_length = true
//! max_command_data = 65535
//! max_response_data = 65536
//!
//! [[application]]
//! name = "SSSE"
//! aid = "7378312E73682EC9E7BBE1B1A3D5CF"   # 5..16 bytes
//! kind = "ssse"                     # ssse | psam | pse | ppse | isd | pboc-debit | pki
//! df = "3F00/DDF1"                  # optional: the DF whose df_name is this AID
//! diversification_levels = 3        # SSSE only, required: PSAM diversification levels (1..3)
//!
//! [[file]]
//! fid = "EF05"
//! type = "ef"                       # mf (3F00, no parent) | df | ef
//! parent = "3F00/DDF1"              # path of the parent DF
//! structure = "linear-variable"     # transparent (size) | linear-fixed | linear-variable
//! records = 7                       # record files: most records (numbers 1..=records)
//! record_size = 18                  # record files: size (fixed) or longest record (variable)
//! sfi = 5                           # optional, 1..=30
//! read = "always"                   # always | never | key:XX | pin:XX (EFs only, required)
//! update = "key:04"
//! admin = "key:04"                  # optional: DEACTIVATE/ACTIVATE/TERMINATE (default: update
//!                                   # for EFs, never for DFs)
//! lifecycle = "activated"           # activated (default) | deactivated | terminated
//!
//! [[key]]
//! df = "3F00/DDF1"
//! id = "04"                         # card key id (EXTERNAL AUTHENTICATE P2)
//! name = "UKSSSE"
//! usage = "update"                  # read | update | internal | admin | master | mac
//! algorithm = "3des"                # 3des | sm4
//! tries = 15                        # 1..=15
//! psam_key = { usage = "48", id = "12" }   # optional: the PSAM key it is diversified from
//! # usage_code = "47"               # PSAM keys: the key-usage byte they are addressed by
//!
//! [[pin]]
//! df = "3F00/DDF1"
//! id = "01"
//! tries = 3
//!
//! [isd]                             # required with (and only with) an `isd` application
//! scheme = "scp02"                  # scp02 (3DES) | scp03 (AES) | scp03-sm4 (SM4 variant)
//! i = "15"                          # the protocol's i parameter
//! # scp_id = "02"                   # optional: SCP id the card reports (default 02 / 03)
//! key_version = "01"
//! diversification = "emv-cps"       # none | emv-cps | visa2 (SCP02) | kdf3 (SCP03, SM4)
//! master_kcv = "8BAF47"             # optional: check value of the issuer master key (KMC)
//!
//! [sim]                             # TEST values for the simulator only
//! key = [{ df = "3F00/DDF1", id = "04", value = "<16 or 24 bytes hex>" }]
//! pin = [{ df = "3F00/DDF1", id = "01", value = "123456" }]
//! [[sim.file]]
//! path = "3F00/DDF1/EF05"
//! records = { "01" = "01 10 ...", "02" = "02 01 31" }   # record number (hex) = record
//! # data = "..."                    # transparent EFs: content from offset 0, rest 00
//! # optional: keys with a psam_key are diversified at "manufacture" from this PSAM
//! # profile's sim keys for this region (its first two digits: the province)
//! # derive = { psam = "psam-sim", region = "110100" }     (a key of [sim], before [[sim.file]])
//! # isd_master = "404142..4F"       # the test KMC of the [isd] (its cipher's key length)
//! ```
//!
//! Access conditions `key:XX` and `pin:XX` name a key or PIN of the file's DF or of a DF
//! above it; validation checks that it exists. Errors name the source and the field, e.g.
//! `ssc-3g.toml: file[3].fid: "3F0" is not 4 hex digits` (indices count from 0).
#![forbid(unsafe_code)]

mod model;
mod raw;
mod validate;

/// Reader and printer profiles (`readers/`, `printers/` beside the card profiles).
pub mod devices;

use std::path::{Path, PathBuf};

pub use apdu::Atr;
pub use card_transport::Capabilities;
pub use model::{
    AccessCondition, Algorithm, Application, ApplicationKind, CardLifeCycle, EfSpec, EfStructure, FileKind,
    FileLifeCycle, FilePath, FileSpec, Generation, IsdDiversification, IsdScheme, IsdSpec, KeySpec, KeyUsage,
    PinSpec, PsamKeyRef, SimContent, SimDerive, SimOnly, SimSecret, TestKey,
};

/// A profile that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML of the profile's shape (serde's message has line and column).
    #[error("{source_name}: {message}")]
    Syntax {
        /// File name or other source label.
        source_name: String,
        /// What the TOML parser said.
        message: String,
    },
    /// A field has a value the schema does not allow.
    #[error("{source_name}: {field}: {message}")]
    Invalid {
        /// File name or other source label.
        source_name: String,
        /// The field, e.g. `file[3].fid`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two profiles in one directory share an id.
    #[error("{second}: id {id:?} is already used by {first}")]
    DuplicateId {
        /// The id.
        id: String,
        /// The file that had it first.
        first: String,
        /// The file that repeats it.
        second: String,
    },
}

/// A validated firmware profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Unique id, e.g. `ssc-3g-sim`.
    pub id: String,
    /// What card this is.
    pub description: String,
    /// Card vendor.
    pub vendor: String,
    /// Card OS name and version.
    pub card_os: String,
    /// Social-security card generation.
    pub generation: Generation,
    /// Specification version the card follows, e.g. `3.00`.
    pub spec_version: String,
    /// The answer to reset.
    pub atr: Atr,
    /// What one APDU can carry.
    pub capabilities: Capabilities,
    /// Life-cycle state the card starts in.
    pub card_lifecycle: CardLifeCycle,
    /// Applications.
    pub applications: Vec<Application>,
    /// The file tree, parents before children.
    pub files: Vec<FileSpec>,
    /// Keys.
    pub keys: Vec<KeySpec>,
    /// PINs.
    pub pins: Vec<PinSpec>,
    /// The GlobalPlatform issuer security domain's channel, when the card has one.
    pub isd: Option<IsdSpec>,
    /// TEST values for the simulator only.
    pub sim: SimOnly,
    /// Where the profile came from (file path or label).
    pub source: String,
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ProfileError::Io { path: path.to_path_buf(), source })?;
        Profile::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates profile text; `source_name` labels errors.
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Profile, ProfileError> {
        let raw: raw::RawProfile = toml::from_str(text).map_err(|e| ProfileError::Syntax {
            source_name: source_name.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        validate::validate(raw, source_name)
    }

    /// The MF.
    pub fn mf(&self) -> &FileSpec {
        // Validation guarantees the MF is the first file.
        &self.files[0]
    }

    /// The file at `path`.
    pub fn file(&self, path: &FilePath) -> Option<&FileSpec> {
        self.files.iter().find(|f| &f.path == path)
    }

    /// The files directly under DF `df`.
    pub fn children<'a>(&'a self, df: &'a FilePath) -> impl Iterator<Item = &'a FileSpec> + 'a {
        self.files.iter().filter(move |f| f.path.parent().as_ref() == Some(df))
    }

    /// The DF whose DF name is `name`.
    pub fn df_by_name(&self, name: &[u8]) -> Option<&FileSpec> {
        self.files.iter().find(|f| f.df_name() == Some(name))
    }

    /// The first application of `kind`.
    pub fn application(&self, kind: ApplicationKind) -> Option<&Application> {
        self.applications.iter().find(|a| a.kind == kind)
    }

    /// The application with this AID.
    pub fn application_by_aid(&self, aid: &[u8]) -> Option<&Application> {
        self.applications.iter().find(|a| a.aid == aid)
    }

    /// Key `id` as seen from DF `df`: the key of that DF, else of the nearest DF above.
    pub fn find_key(&self, df: &FilePath, id: u8) -> Option<&KeySpec> {
        self.search_up(df, |p| self.keys.iter().find(|k| &k.df == p && k.id == id && k.usage_code.is_none()))
    }

    /// PIN `id` as seen from DF `df`: the PIN of that DF, else of the nearest DF above.
    pub fn find_pin(&self, df: &FilePath, id: u8) -> Option<&PinSpec> {
        self.search_up(df, |p| self.pins.iter().find(|k| &k.df == p && k.id == id))
    }

    fn search_up<'a, T>(&'a self, df: &FilePath, find: impl Fn(&FilePath) -> Option<&'a T>) -> Option<&'a T> {
        let mut at = Some(df.clone());
        while let Some(p) = at {
            if let Some(found) = find(&p) {
                return Some(found);
            }
            at = p.parent();
        }
        None
    }

    /// The simulator's TEST value of key `id` in DF `df`.
    pub fn sim_key(&self, df: &FilePath, id: u8) -> Option<&[u8]> {
        self.sim
            .keys
            .iter()
            .find(|k| &k.df == df && k.id == id && k.usage_code.is_none())
            .map(|k| &k.value[..])
    }

    /// The simulator's initial value of PIN `id` in DF `df`.
    pub fn sim_pin(&self, df: &FilePath, id: u8) -> Option<&[u8]> {
        self.sim.pins.iter().find(|k| &k.df == df && k.id == id).map(|k| &k.value[..])
    }

    /// The last 8 historical bytes of the ATR ("card8", a diversification factor of the
    /// social-security external authentication).
    pub fn card8(&self) -> Option<[u8; 8]> {
        let h = self.atr.historical_bytes();
        let start = h.len().checked_sub(8)?;
        h[start..].try_into().ok()
    }
}

/// Loads and validates every `*.toml` in `dir`, sorted by file name; ids must be unique.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<Profile>, ProfileError> {
    let dir = dir.as_ref();
    let io = |source| ProfileError::Io { path: dir.to_path_buf(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut profiles: Vec<Profile> = Vec::with_capacity(paths.len());
    for path in paths {
        let p = Profile::load(&path)?;
        if let Some(first) = profiles.iter().find(|q| q.id == p.id) {
            return Err(ProfileError::DuplicateId {
                id: p.id,
                first: first.source.clone(),
                second: p.source,
            });
        }
        profiles.push(p);
    }
    Ok(profiles)
}

#[cfg(test)]
mod tests;
