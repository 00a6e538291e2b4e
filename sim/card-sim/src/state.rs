//! The card's persistent state (EEPROM): file contents, life cycles, try counters. Kept in a
//! JSON file written atomically after every APDU that changed it, so a card survives being
//! re-inserted and the simulator process being restarted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use firmware_profile::{CardLifeCycle, EfStructure, FileLifeCycle, FilePath, Profile, SimContent};
use serde::{Deserialize, Serialize};

use crate::SimError;

/// Bytes written as upper-case hex in the JSON file, so a person can read and diff it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hex, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map(Hex).map_err(serde::de::Error::custom)
    }
}

/// One file's persistent part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileState {
    pub lifecycle: FileLifeCycle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Hex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<BTreeMap<u8, Hex>>,
}

/// Everything that survives a power cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CardState {
    /// Which profile built this card: a state file never silently changes card OS.
    pub profile_id: String,
    pub card_lifecycle: CardLifeCycle,
    /// By path (`3F00/DDF1/EF05`).
    pub files: BTreeMap<String, FileState>,
    /// Tries left by `DF:KEYID` (PSAM keys `DF:USAGE:KEYID`).
    pub key_tries: BTreeMap<String, u8>,
    /// Tries left by `DF:PINID`.
    pub pin_tries: BTreeMap<String, u8>,
    /// Key values loaded at manufacture (by the same reference as `key_tries`); keys not here
    /// take the profile's `sim.key` value.
    #[serde(default)]
    pub keys: BTreeMap<String, Hex>,
    /// The GlobalPlatform security domain and the EMV applications it personalised; absent
    /// from the files of cards without them.
    #[serde(default, skip_serializing_if = "EmvState::is_empty")]
    pub emv: EmvState,
}

/// What the issuer security domain keeps, and the applications it personalised.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct EmvState {
    /// SCP02 sequence counter: one more for every INITIALIZE UPDATE.
    #[serde(default)]
    pub isd_sequence_counter: u16,
    /// Personalised applications by AID (upper-case hex).
    #[serde(default)]
    pub apps: BTreeMap<String, AppState>,
}

impl EmvState {
    fn is_empty(&self) -> bool {
        self.isd_sequence_counter == 0 && self.apps.is_empty()
    }
}

/// One personalised application: its DGIs as the card keeps them (sensitive ones decrypted:
/// this is the card's EEPROM) and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct AppState {
    /// DGI contents by DGI number (4 hex digits).
    pub dgis: BTreeMap<String, Hex>,
    /// Application transaction counter (incremented by GET PROCESSING OPTIONS).
    #[serde(default)]
    pub atc: u16,
    /// Offline PIN tries left.
    #[serde(default)]
    pub pin_tries: u8,
}

impl AppState {
    /// The content of DGI `dgi`.
    pub fn dgi(&self, dgi: u16) -> Option<&[u8]> {
        self.dgis.get(&format!("{dgi:04X}")).map(|h| &h.0[..])
    }
}

/// What the card factory did before the card reached the counter.
#[derive(Debug, Clone, Default)]
pub struct Factory {
    /// A blank card for personalisation: transparent EFs empty, TLV records formatted with
    /// their tag and length and a zero value.
    pub blank: bool,
    /// Key values by key reference (`DF:KEYID`), e.g. diversified from a PSAM's master keys.
    pub keys: BTreeMap<String, Vec<u8>>,
}

impl Factory {
    /// The value loaded for card key `id` of DF `df`, if the factory loaded one.
    pub fn key(&self, df: &FilePath, id: u8) -> Option<&[u8]> {
        self.keys.get(&secret_ref(df, id, None)).map(|v| &v[..])
    }
}

/// The map key of a key's or PIN's try counter.
pub(crate) fn secret_ref(df: &FilePath, id: u8, usage_code: Option<u8>) -> String {
    match usage_code {
        Some(u) => format!("{df}:{u:02X}:{id:02X}"),
        None => format!("{df}:{id:02X}"),
    }
}

/// A blank card's record: the factory formats TLV records (`tag len value`) with the tag and
/// length in place and the value zeroed, so UPDATE RECORD can fill them in at the counter.
fn blank_record(record: &[u8]) -> Vec<u8> {
    let mut r = vec![0; record.len()];
    r[..record.len().min(2)].copy_from_slice(&record[..record.len().min(2)]);
    r
}

fn initial_file(profile: &Profile, path: &FilePath, blank: bool) -> Option<FileState> {
    let spec = profile.file(path)?;
    let content = match profile.sim.files.get(path) {
        Some(SimContent::Records(r)) if blank => {
            Some(SimContent::Records(r.iter().map(|(n, rec)| (*n, blank_record(rec))).collect()))
        }
        _ if blank => None,
        other => other.cloned(),
    };
    let content = content.as_ref();
    let (data, records) = match spec.ef().map(|e| e.structure) {
        None => (None, None),
        Some(EfStructure::Transparent { size }) => {
            let mut data = match content {
                Some(SimContent::Binary(d)) => d.clone(),
                _ => Vec::new(),
            };
            data.resize(size, 0);
            (Some(Hex(data)), None)
        }
        Some(structure) => {
            let mut records: BTreeMap<u8, Hex> = BTreeMap::new();
            // ISO 7816-4: a linear-fixed EF is created with all its records; a linear-variable
            // one holds only the records written to it.
            if let EfStructure::LinearFixed { records: n, record_size } = structure {
                records.extend((1..=n).map(|i| (i, Hex(vec![0; record_size as usize]))));
            }
            if let Some(SimContent::Records(given)) = content {
                records.extend(given.iter().map(|(n, r)| (*n, Hex(r.clone()))));
            }
            (None, Some(records))
        }
    };
    Some(FileState { lifecycle: spec.lifecycle, data, records })
}

impl CardState {
    /// A fresh card as the profile and the factory made it.
    pub fn from_profile(profile: &Profile, factory: &Factory) -> CardState {
        let mut s = CardState {
            profile_id: profile.id.clone(),
            card_lifecycle: profile.card_lifecycle,
            files: BTreeMap::new(),
            key_tries: BTreeMap::new(),
            pin_tries: BTreeMap::new(),
            keys: factory.keys.iter().map(|(k, v)| (k.clone(), Hex(v.clone()))).collect(),
            emv: EmvState::default(),
        };
        s.fill_missing(profile, factory.blank);
        s
    }

    /// Adds what the profile has and the state lacks (a profile that grew a file).
    fn fill_missing(&mut self, profile: &Profile, blank: bool) {
        for f in &profile.files {
            if let Some(fs) = initial_file(profile, &f.path, blank) {
                self.files.entry(f.path.to_string()).or_insert(fs);
            }
        }
        for k in &profile.keys {
            self.key_tries.entry(secret_ref(&k.df, k.id, k.usage_code)).or_insert(k.tries);
        }
        for p in &profile.pins {
            self.pin_tries.entry(secret_ref(&p.df, p.id, None)).or_insert(p.tries);
        }
    }

    /// Reads the state file, or builds a fresh card when there is none.
    pub fn load_or_new(profile: &Profile, factory: &Factory, path: &Path) -> Result<CardState, SimError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CardState::from_profile(profile, factory))
            }
            Err(source) => return Err(SimError::StateIo { path: path.to_path_buf(), source }),
        };
        let mut s: CardState = serde_json::from_str(&text)
            .map_err(|e| SimError::StateParse { path: path.to_path_buf(), message: e.to_string() })?;
        if s.profile_id != profile.id {
            return Err(SimError::StateMismatch {
                path: path.to_path_buf(),
                state: s.profile_id,
                profile: profile.id.clone(),
            });
        }
        s.fill_missing(profile, factory.blank);
        Ok(s)
    }

    /// Writes the state atomically: a temporary file next to it, then a rename, so a crash
    /// leaves either the old or the new card, never half of one. Private (0600): a card may
    /// hold a person's data. Not synced to disk: this runs after every APDU that changes the
    /// card (see [`CardImage::keep`] for a copy that must survive the machine).
    pub fn save(&self, path: &Path) -> Result<(), SimError> {
        self.write(path, false)
    }

    fn write(&self, path: &Path, durable: bool) -> Result<(), SimError> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |source| SimError::StateIo { path: path.to_path_buf(), source };
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| SimError::StateParse { path: path.to_path_buf(), message: e.to_string() })?;
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        // A temporary file left by an older simulator may have been made readable to all.
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        if durable {
            f.sync_all().map_err(io)?;
        }
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)?;
        if durable {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }

    pub fn file(&self, path: &FilePath) -> Option<&FileState> {
        self.files.get(&path.to_string())
    }

    pub fn file_mut(&mut self, path: &FilePath) -> Option<&mut FileState> {
        self.files.get_mut(&path.to_string())
    }
}

/// A copy of a card's persistent memory (its EEPROM image), taken from a card that lives in
/// memory only ([`crate::CardOs::image`], e.g. the chip inside the simulated printer) to keep
/// it as a state file: [`crate::SimConfig::state`] (`station sim card --state FILE`) plugs that
/// card in again, both applications as they were.
#[derive(Clone, PartialEq, Eq)]
pub struct CardImage(pub(crate) CardState);

impl std::fmt::Debug for CardImage {
    // The image holds the card's keys and a person's data: neither goes into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardImage")
            .field("profile_id", &self.0.profile_id)
            .field("files", &self.0.files.len())
            .field("emv_apps", &self.0.emv.apps.len())
            .finish_non_exhaustive()
    }
}

impl CardImage {
    /// Reads a state file (to see which profile's card it holds before opening it).
    pub fn read(path: &Path) -> Result<CardImage, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::StateIo { path: path.to_path_buf(), source })?;
        serde_json::from_str(&text)
            .map(CardImage)
            .map_err(|e| SimError::StateParse { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Id of the profile the card was made from.
    pub fn profile_id(&self) -> &str {
        &self.0.profile_id
    }

    /// Record `number` of a record EF, as the card holds it.
    pub fn record(&self, path: &FilePath, number: u8) -> Option<&[u8]> {
        self.0.file(path)?.records.as_ref()?.get(&number).map(|h| &h.0[..])
    }

    /// Writes the image as the state file `path`: private (0600), atomically and durably (a
    /// temporary file, fsync, rename, fsync of the directory), so after a crash the file is
    /// there whole or not at all.
    pub fn keep(&self, path: &Path) -> Result<(), SimError> {
        self.0.write(path, true)
    }
}
