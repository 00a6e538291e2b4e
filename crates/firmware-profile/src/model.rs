//! The validated profile: what the station and the simulator work with.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

// A key's block cipher (`3des`, `sm4` in a profile) is card-crypto's: it knows the ciphers.
pub use card_crypto::Algorithm;

/// Card generation as the social-security specification counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Second generation (spec "2.00"; 3DES; contact only).
    Second,
    /// Third generation (spec "3.00"; SM2/SM3/SM4; contact and contactless).
    Third,
}

/// The card's life-cycle state (ISO 7816-4 5.3.3.2, the MF's LCS byte).
///
/// In `creation` and `initialisation` the card is being personalised and the simulator does
/// not enforce access conditions; from `operational` on it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardLifeCycle {
    /// Just manufactured: the file system is being created.
    Creation,
    /// Being personalised: files written without access conditions.
    Initialisation,
    /// Issued: access conditions apply.
    Operational,
    /// TERMINATE CARD USAGE was done: the card is dead for good.
    Terminated,
}

impl CardLifeCycle {
    /// True while personalisation is free (access conditions not enforced).
    pub fn is_personalisation(self) -> bool {
        matches!(self, CardLifeCycle::Creation | CardLifeCycle::Initialisation)
    }

    /// The ISO 7816-4 LCS byte.
    pub fn lcs_byte(self) -> u8 {
        match self {
            CardLifeCycle::Creation => 0x01,
            CardLifeCycle::Initialisation => 0x03,
            CardLifeCycle::Operational => 0x05,
            CardLifeCycle::Terminated => 0x0C,
        }
    }
}

/// A file's life-cycle state once the card is operational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileLifeCycle {
    /// Usable (LCS 05).
    Activated,
    /// DEACTIVATE FILE was done: selectable (6283) but not usable until ACTIVATE FILE.
    Deactivated,
    /// TERMINATE EF / DF was done: selectable (6285), never usable again.
    Terminated,
}

impl FileLifeCycle {
    /// The ISO 7816-4 LCS byte for the FCP tag 8A.
    pub fn lcs_byte(self) -> u8 {
        match self {
            FileLifeCycle::Activated => 0x05,
            FileLifeCycle::Deactivated => 0x04,
            FileLifeCycle::Terminated => 0x0C,
        }
    }
}

/// What an application is, so the station (and the simulator's application handlers) know
/// which protocol it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ApplicationKind {
    /// The social-security environment (SSSE).
    Ssse,
    /// The PSAM application that diversifies and encrypts for external authentication.
    Psam,
    /// Payment system environment (1PAY.SYS.DDF01), contact.
    Pse,
    /// Proximity payment system environment (2PAY.SYS.DDF01), contactless.
    Ppse,
    /// GlobalPlatform issuer security domain.
    Isd,
    /// PBOC debit/credit application.
    PbocDebit,
    /// Third-generation PKI application (certificates, SM2 keys).
    Pki,
}

/// One application on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Human name, e.g. `SSSE`.
    pub name: String,
    /// AID (5..16 bytes).
    pub aid: Vec<u8>,
    /// What it is.
    pub kind: ApplicationKind,
    /// The DF that holds it in the file tree, when it has one (its DF name is the AID).
    pub df: Option<FilePath>,
    /// SSSE only: how many levels of PSAM key diversification the province uses (1: card;
    /// 2: card and city; 3: card, city and province). Province data [?], so never a default.
    pub diversification_levels: Option<u8>,
}

/// A path from the MF, written `3F00/DDF1/EF05`. The first FID is always 3F00.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilePath(Vec<u16>);

impl FilePath {
    /// The MF's path.
    pub fn mf() -> FilePath {
        FilePath(vec![0x3F00])
    }

    /// Parses `3F00/DDF1/EF05`; `None` unless every part is 4 hex digits and the first 3F00.
    pub fn parse(text: &str) -> Option<FilePath> {
        let parts: Option<Vec<u16>> = text.split('/').map(parse_fid).collect();
        let parts = parts?;
        (parts.first() == Some(&0x3F00)).then_some(FilePath(parts))
    }

    /// The FIDs from the MF down.
    pub fn fids(&self) -> &[u16] {
        &self.0
    }

    /// The file's own FID.
    pub fn fid(&self) -> u16 {
        self.0.last().copied().unwrap_or(0x3F00)
    }

    /// The parent DF's path (`None` for the MF).
    pub fn parent(&self) -> Option<FilePath> {
        (self.0.len() > 1).then(|| FilePath(self.0[..self.0.len() - 1].to_vec()))
    }

    /// The path of child `fid`.
    pub fn join(&self, fid: u16) -> FilePath {
        let mut v = self.0.clone();
        v.push(fid);
        FilePath(v)
    }

    /// True for the MF.
    pub fn is_mf(&self) -> bool {
        self.0.len() == 1
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &FilePath) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fid) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{fid:04X}")?;
        }
        Ok(())
    }
}

/// Parses exactly 4 hex digits.
pub(crate) fn parse_fid(text: &str) -> Option<u16> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

/// Who may do something with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessCondition {
    /// Anybody.
    Always,
    /// Nobody once the card is operational.
    Never,
    /// EXTERNAL AUTHENTICATE with this card key, done in the current DF.
    Key(u8),
    /// VERIFY of this PIN, done in the current DF.
    Pin(u8),
}

impl AccessCondition {
    /// Parses `always`, `never`, `key:XX`, `pin:XX` (XX two hex digits).
    pub fn parse(text: &str) -> Option<AccessCondition> {
        match text {
            "always" => return Some(AccessCondition::Always),
            "never" => return Some(AccessCondition::Never),
            _ => {}
        }
        let (kind, id) = text.split_once(':')?;
        let id = parse_byte(id)?;
        match kind {
            "key" => Some(AccessCondition::Key(id)),
            "pin" => Some(AccessCondition::Pin(id)),
            _ => None,
        }
    }
}

impl fmt::Display for AccessCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessCondition::Always => f.write_str("always"),
            AccessCondition::Never => f.write_str("never"),
            AccessCondition::Key(id) => write!(f, "key:{id:02X}"),
            AccessCondition::Pin(id) => write!(f, "pin:{id:02X}"),
        }
    }
}

/// Parses exactly 2 hex digits.
pub(crate) fn parse_byte(text: &str) -> Option<u8> {
    if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

/// How an EF holds its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfStructure {
    /// Bytes addressed by offset (READ/UPDATE BINARY).
    Transparent {
        /// Size in bytes.
        size: usize,
    },
    /// Records of one size (READ/UPDATE RECORD).
    LinearFixed {
        /// Most records the file holds (record numbers 1..=records).
        records: u8,
        /// Size of every record.
        record_size: u8,
    },
    /// Records of their own length up to a maximum.
    LinearVariable {
        /// Most records the file holds (record numbers 1..=records).
        records: u8,
        /// Longest record.
        max_record_size: u8,
    },
}

impl EfStructure {
    /// True for record files.
    pub fn is_record(self) -> bool {
        !matches!(self, EfStructure::Transparent { .. })
    }
}

/// An EF's structure and access rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfSpec {
    /// Data structure.
    pub structure: EfStructure,
    /// Short file identifier (1..=30) for READ BINARY / READ RECORD without a SELECT.
    pub sfi: Option<u8>,
    /// Condition for READ BINARY / READ RECORD.
    pub read: AccessCondition,
    /// Condition for UPDATE BINARY / UPDATE RECORD / APPEND RECORD.
    pub update: AccessCondition,
}

/// A DF (the MF included) or an EF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A dedicated file, with its DF name (AID) when it has one.
    Df {
        /// DF name, selected with `00 A4 04 00`.
        df_name: Option<Vec<u8>>,
    },
    /// An elementary file.
    Ef(EfSpec),
}

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Path from the MF; its last FID is the file's own.
    pub path: FilePath,
    /// What the file is for (documentation).
    pub description: String,
    /// DF or EF.
    pub kind: FileKind,
    /// Condition for DEACTIVATE / ACTIVATE / TERMINATE on this file (and, on the MF,
    /// TERMINATE CARD USAGE). Defaults to `update` for EFs and `never` for DFs.
    pub admin: AccessCondition,
    /// Life-cycle state the file starts in.
    pub lifecycle: FileLifeCycle,
}

impl FileSpec {
    /// The file's FID.
    pub fn fid(&self) -> u16 {
        self.path.fid()
    }

    /// True for DFs (and the MF).
    pub fn is_df(&self) -> bool {
        matches!(self.kind, FileKind::Df { .. })
    }

    /// The EF part, for EFs.
    pub fn ef(&self) -> Option<&EfSpec> {
        match &self.kind {
            FileKind::Ef(ef) => Some(ef),
            FileKind::Df { .. } => None,
        }
    }

    /// The DF name, for named DFs.
    pub fn df_name(&self) -> Option<&[u8]> {
        match &self.kind {
            FileKind::Df { df_name } => df_name.as_deref(),
            FileKind::Ef(_) => None,
        }
    }

    /// The DF that governs this file's security: itself for a DF, the parent for an EF.
    pub fn security_df(&self) -> FilePath {
        if self.is_df() {
            self.path.clone()
        } else {
            self.path.parent().unwrap_or_else(FilePath::mf)
        }
    }
}

/// What a key is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeyUsage {
    /// External authentication that opens reading (e.g. RKSSSE for EF07/EF08).
    Read,
    /// External authentication that opens writing (e.g. UKSSSE for EF05..EF08).
    Update,
    /// INTERNAL AUTHENTICATE (the card proves it is genuine).
    Internal,
    /// Card administration: life-cycle commands, key loading.
    Admin,
    /// A master key in a PSAM that is diversified per card.
    Master,
    /// Secure-messaging MAC key.
    Mac,
}

/// A PSAM key named by usage and key id (the first two bytes of a key triple).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PsamKeyRef {
    /// PSAM key usage byte (e.g. 47 read, 48 update).
    pub usage: u8,
    /// PSAM key id.
    pub id: u8,
}

/// A key held by the card (its value is not here: production keys never are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// DF the key belongs to.
    pub df: FilePath,
    /// Card key id (EXTERNAL AUTHENTICATE P2).
    pub id: u8,
    /// Name used in the issuer's documents (e.g. RKSSSE).
    pub name: String,
    /// Purpose.
    pub usage: KeyUsage,
    /// Proprietary key-usage byte, for PSAM keys addressed by usage and id.
    pub usage_code: Option<u8>,
    /// Cipher.
    pub algorithm: Algorithm,
    /// Wrong cryptograms allowed before the key blocks (1..=15).
    pub tries: u8,
    /// The PSAM key this card key is diversified from, when the province uses a PSAM.
    pub psam_key: Option<PsamKeyRef>,
}

/// A PIN held by the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinSpec {
    /// DF the PIN belongs to.
    pub df: FilePath,
    /// PIN reference (VERIFY P2).
    pub id: u8,
    /// Name.
    pub name: String,
    /// Wrong PINs allowed before it blocks (1..=15).
    pub tries: u8,
}

/// Initial content of a file in the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimContent {
    /// Transparent EF bytes from offset 0 (the rest is 00).
    Binary(Vec<u8>),
    /// Records by record number.
    Records(BTreeMap<u8, Vec<u8>>),
}

/// A test secret (key value or PIN) of the simulator.
#[derive(Clone, PartialEq, Eq)]
pub struct SimSecret {
    /// DF of the key or PIN.
    pub df: FilePath,
    /// Key id or PIN reference.
    pub id: u8,
    /// Key-usage byte, for PSAM keys addressed by usage and id.
    pub usage_code: Option<u8>,
    /// The value: key bytes, or PIN bytes exactly as VERIFY sends them.
    pub value: Vec<u8>,
}

impl fmt::Debug for SimSecret {
    /// Even test secrets stay out of logs: a log line copied into a ticket must be harmless.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimSecret({} {:02X} <{} bytes>)", self.df, self.id, self.value.len())
    }
}

/// TEST values for the simulator only: never production keys or PINs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimOnly {
    /// Test key values.
    pub keys: Vec<SimSecret>,
    /// Initial PIN values.
    pub pins: Vec<SimSecret>,
    /// Initial file contents by path.
    pub files: BTreeMap<FilePath, SimContent>,
    /// Card keys derived at "manufacture" from a simulated PSAM's master keys, as a card
    /// factory does: the keys with a `psam_key` then need no `sim.key` value.
    pub derive: Option<SimDerive>,
    /// The issuer master key (KMC) the simulated ISD's keys are diversified from, with the
    /// cipher of the profile's [`IsdSpec::scheme`]. A personalisation bureau's HSM holds the
    /// real one; the tests' host reads this.
    pub isd_master: Option<TestKey>,
}

/// A TEST key value of the simulator; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct TestKey(pub Vec<u8>);

impl fmt::Debug for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestKey(<{} bytes>)", self.0.len())
    }
}

/// The GlobalPlatform secure channel an issuer security domain speaks (card-spec.md
/// section 3): the protocol and its block cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsdScheme {
    /// SCP02 (3DES).
    Scp02,
    /// SCP03 (AES).
    Scp03,
    /// The SM4 variant: SCP03's shape with SM4 as the block cipher.
    Scp03Sm4,
}

impl IsdScheme {
    /// The SCP identifier a card reports by default (`02`, `03`).
    pub fn default_scp_id(self) -> u8 {
        match self {
            IsdScheme::Scp02 => 0x02,
            IsdScheme::Scp03 | IsdScheme::Scp03Sm4 => 0x03,
        }
    }

    /// Whether a master key of `len` bytes fits the scheme's cipher.
    pub fn key_len_ok(self, len: usize) -> bool {
        match self {
            IsdScheme::Scp02 => len == 16 || len == 24,
            IsdScheme::Scp03 => matches!(len, 16 | 24 | 32),
            IsdScheme::Scp03Sm4 => len == 16,
        }
    }
}

/// How a card batch's ISD keys follow from the issuer master key and the card's KDD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsdDiversification {
    /// The card's own keys, not diversified.
    None,
    /// EMV CPS 1.1 ("KDC"), 3DES.
    EmvCps,
    /// VISA2, 3DES.
    Visa2,
    /// SP 800-108 CMAC counter KDF (GlobalPlatformPro's KDF3), AES or SM4.
    Kdf3,
}

/// The issuer security domain's secure channel and key set: what a personalisation host
/// needs to open it (the key values stay in an HSM; only their check value is here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsdSpec {
    /// Protocol and cipher.
    pub scheme: IsdScheme,
    /// The protocol's "i" parameter (SCP02 `15`, SCP03 `70`, ...).
    pub i: u8,
    /// SCP identifier the card reports in its INITIALIZE UPDATE answer.
    pub scp_id: u8,
    /// Key version number of the static key set (INITIALIZE UPDATE P1).
    pub key_version: u8,
    /// How the card keys follow from the master key.
    pub diversification: IsdDiversification,
    /// Check value of the master key (the key ceremony record): the host refuses a key that
    /// does not match before sending anything.
    pub master_kcv: Option<[u8; 3]>,
}

/// Where the simulator's card keys come from when they are diversified from a PSAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDerive {
    /// Profile id of the PSAM (a file `<id>.toml` beside this profile).
    pub psam: String,
    /// The six-digit region code (GB/T 2260) the card was made for; its first two digits are
    /// the province code.
    pub region: String,
}
