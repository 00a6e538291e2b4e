//! Device profiles: the PC/SC readers and card printers of a counter, as data beside the card
//! OS profiles (`firmware-profiles/readers/*.toml`, `firmware-profiles/printers/*.toml`). A
//! station supports another reader or printer with a new file in the folder its configuration
//! names; nothing is compiled.
//!
//! # Reader schema
//!
//! ```toml
//! id = "acs-acr39u"
//! vendor = "ACS"
//! model = "ACR39U"
//! description = "..."
//!
//! [[slot]]                          # one per slot pcscd lists for this reader
//! name = { word = "ACR39U ICC" }    # exact | word | contains (as pcsc-reader's rules)
//! kind = "contact"                  # contact | contactless | sam
//! extended_length = false           # optional (default true): no extended APDUs through it
//! max_command_data = 255            # optional: most command bytes in one APDU
//! max_response_data = 256           # optional: most response bytes in one APDU
//! protocols = ["T=0"]               # optional (default both): what the slot can speak
//! power_up_delay_ms = 50            # optional: wait after power-up before the first APDU
//! field_reset_ms = 10               # optional, contactless: switch the field off this long
//!                                   # to reset a card that stopped answering
//! ```
//!
//! # Printer schema
//!
//! ```toml
//! id = "evolis-primacy-2"
//! vendor = "Evolis"
//! model = "Primacy 2"
//! protocol = "evolis"               # the driver that speaks to it
//! reports = ["Primacy 2"]           # what `Rtp` answers (case-insensitive prefix)
//! duplex = false
//!
//! [encoder]                         # the chip stations of the encoding module
//! contact = true
//! contactless = true
//! contact_offset_mm = 0.0           # optional: station offsets as set at the factory
//! contactless_offset_mm = 0.0
//!
//! [[ribbon]]
//! type = "YMCKO"                    # panels in print order
//! prints = 300                      # faces on a full ribbon
//! low_warning = 30                  # warn the operator below this many prints left
//! ```
//!
//! Errors name the file and the field, as for card profiles.

use std::path::{Path, PathBuf};

use card_transport::ReaderKind;
use serde::Deserialize;

use crate::ProfileError;

/// How a slot's PC/SC name is recognised (matched by pcsc-reader's rules, one implementation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SlotName {
    /// The whole name exactly.
    Exact(String),
    /// Whole words, in order, case-insensitive.
    Word(String),
    /// A case-insensitive substring.
    Contains(String),
}

/// A protocol a contact slot can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// Character protocol (61xx / 6Cxx answers, no extended length in practice).
    #[serde(rename = "T=0")]
    T0,
    /// Block protocol.
    #[serde(rename = "T=1")]
    T1,
    /// ISO 14443-4 on the contactless field.
    #[serde(rename = "T=CL")]
    Tcl,
}

/// What a slot cannot do, or needs, that the ATR does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotQuirks {
    /// Extended-length APDUs pass through it.
    pub extended_length: bool,
    /// Most command data bytes in one APDU, when the reader limits it.
    pub max_command_data: Option<usize>,
    /// Most response data bytes in one APDU, when the reader limits it.
    pub max_response_data: Option<usize>,
    /// The protocols it speaks (empty: whatever the card offers).
    pub protocols: Vec<Protocol>,
    /// Milliseconds to wait after power-up before the first APDU.
    pub power_up_delay_ms: u32,
    /// Contactless: milliseconds without field that reset a card that stopped answering.
    pub field_reset_ms: Option<u32>,
}

impl SlotQuirks {
    /// Only T=0 (a card's T=1 is not used; 61xx/6Cxx follow).
    pub fn t0_only(&self) -> bool {
        self.protocols == [Protocol::T0]
    }

    /// The limit the reader puts on one APDU, to clamp a card's capabilities with.
    pub fn limit(&self) -> card_transport::Capabilities {
        let base = if self.extended_length && !self.t0_only() {
            card_transport::Capabilities::EXTENDED
        } else {
            card_transport::Capabilities::SHORT
        };
        card_transport::Capabilities {
            extended_length: base.extended_length,
            max_command_data: self.max_command_data.unwrap_or(base.max_command_data),
            max_response_data: self.max_response_data.unwrap_or(base.max_response_data),
        }
    }

    /// The quirks in a few words for reports ("short APDUs, T=0 only, 50 ms after power-up").
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.extended_length {
            parts.push("short APDUs only".to_string());
        }
        if let Some(n) = self.max_command_data {
            parts.push(format!("at most {n} command bytes"));
        }
        if let Some(n) = self.max_response_data {
            parts.push(format!("at most {n} response bytes"));
        }
        if self.t0_only() {
            parts.push("T=0 only".to_string());
        }
        if self.power_up_delay_ms > 0 {
            parts.push(format!("{} ms after power-up", self.power_up_delay_ms));
        }
        if let Some(ms) = self.field_reset_ms {
            parts.push(format!("field reset {ms} ms"));
        }
        if parts.is_empty() {
            "no quirks".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// One slot of a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSlot {
    /// How pcscd names it.
    pub name: SlotName,
    /// What it is for.
    pub kind: ReaderKind,
    /// Its quirks.
    pub quirks: SlotQuirks,
}

/// A PC/SC reader model with its slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderProfile {
    /// Unique id over the folder.
    pub id: String,
    /// Maker.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Free text.
    pub description: String,
    /// The slots pcscd lists for it.
    pub slots: Vec<ReaderSlot>,
    /// The file it came from.
    pub source: PathBuf,
}

/// A ribbon a printer takes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ribbon {
    /// Panels in print order (`YMCKO`, `KO`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Faces on a full ribbon.
    pub prints: u32,
    /// Warn below this many prints left.
    pub low_warning: u32,
}

/// The encoding module of a printer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encoder {
    /// A contact chip station.
    pub contact: bool,
    /// A contactless antenna.
    pub contactless: bool,
    /// Contact station offset (mm), as set at the factory.
    pub contact_offset_mm: Option<f32>,
    /// Contactless station offset (mm).
    pub contactless_offset_mm: Option<f32>,
}

/// A card printer model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterProfile {
    /// Unique id over the folder.
    pub id: String,
    /// Maker.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The driver (`evolis`).
    pub protocol: String,
    /// What the printer's model read answers (case-insensitive prefixes).
    pub reports: Vec<String>,
    /// Prints both sides.
    #[serde(default)]
    pub duplex: bool,
    /// The chip stations.
    pub encoder: Encoder,
    /// The ribbons it takes.
    #[serde(rename = "ribbon")]
    pub ribbons: Vec<Ribbon>,
    /// The file it came from.
    #[serde(skip)]
    pub source: PathBuf,
}

impl PrinterProfile {
    /// True when the model the printer reports is this profile's.
    pub fn matches_model(&self, reported: &str) -> bool {
        let reported = reported.trim().to_lowercase();
        self.reports.iter().any(|r| reported.starts_with(&r.to_lowercase()))
    }

    /// The smallest low-ribbon threshold of its ribbons (the warning the doctor uses when the
    /// ribbon type is not known).
    pub fn low_ribbon_warning(&self) -> u32 {
        self.ribbons.iter().map(|r| r.low_warning).min().unwrap_or(0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReader {
    id: String,
    vendor: String,
    model: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "slot")]
    slots: Vec<RawSlot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlot {
    name: SlotName,
    kind: String,
    #[serde(default = "yes")]
    extended_length: bool,
    max_command_data: Option<usize>,
    max_response_data: Option<usize>,
    #[serde(default)]
    protocols: Vec<Protocol>,
    #[serde(default)]
    power_up_delay_ms: u32,
    field_reset_ms: Option<u32>,
}

fn yes() -> bool {
    true
}

fn source_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn read(path: &Path) -> Result<String, ProfileError> {
    std::fs::read_to_string(path).map_err(|source| ProfileError::Io { path: path.to_path_buf(), source })
}

impl ReaderProfile {
    /// Reads and checks one reader profile.
    pub fn load(path: &Path) -> Result<ReaderProfile, ProfileError> {
        ReaderProfile::parse(&read(path)?, path)
    }

    /// Parses a reader profile; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ReaderProfile, ProfileError> {
        let name = source_name(path);
        let raw: RawReader = toml::from_str(text)
            .map_err(|e| ProfileError::Syntax { source_name: name.clone(), message: e.to_string() })?;
        let invalid = |field: String, message: String| ProfileError::Invalid {
            source_name: name.clone(),
            field,
            message,
        };
        if raw.slots.is_empty() {
            return Err(invalid("slot".into(), "a reader has at least one [[slot]]".into()));
        }
        let mut slots = Vec::with_capacity(raw.slots.len());
        for (i, s) in raw.slots.into_iter().enumerate() {
            let kind = match s.kind.as_str() {
                "contact" => ReaderKind::Contact,
                "contactless" => ReaderKind::Contactless,
                "sam" => ReaderKind::Sam,
                other => {
                    return Err(invalid(
                        format!("slot[{i}].kind"),
                        format!("{other:?}: use contact, contactless or sam"),
                    ))
                }
            };
            if s.field_reset_ms.is_some() && kind != ReaderKind::Contactless {
                return Err(invalid(
                    format!("slot[{i}].field_reset_ms"),
                    "only a contactless slot has a field to reset".into(),
                ));
            }
            if s.protocols.contains(&Protocol::Tcl) && kind != ReaderKind::Contactless {
                return Err(invalid(format!("slot[{i}].protocols"), "T=CL is contactless only".into()));
            }
            for (field, v) in
                [("max_command_data", s.max_command_data), ("max_response_data", s.max_response_data)]
            {
                if v.is_some_and(|n| !(1..=65536).contains(&n)) {
                    return Err(invalid(format!("slot[{i}].{field}"), "between 1 and 65536".into()));
                }
            }
            let pattern = match &s.name {
                SlotName::Exact(p) | SlotName::Word(p) | SlotName::Contains(p) => p,
            };
            if pattern.trim().is_empty() {
                return Err(invalid(format!("slot[{i}].name"), "an empty pattern matches nothing".into()));
            }
            slots.push(ReaderSlot {
                name: s.name,
                kind,
                quirks: SlotQuirks {
                    extended_length: s.extended_length,
                    max_command_data: s.max_command_data,
                    max_response_data: s.max_response_data,
                    protocols: s.protocols,
                    power_up_delay_ms: s.power_up_delay_ms,
                    field_reset_ms: s.field_reset_ms,
                },
            });
        }
        Ok(ReaderProfile {
            id: raw.id,
            vendor: raw.vendor,
            model: raw.model,
            description: raw.description,
            slots,
            source: path.to_path_buf(),
        })
    }
}

impl PrinterProfile {
    /// Reads and checks one printer profile.
    pub fn load(path: &Path) -> Result<PrinterProfile, ProfileError> {
        PrinterProfile::parse(&read(path)?, path)
    }

    /// Parses a printer profile; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<PrinterProfile, ProfileError> {
        let name = source_name(path);
        let mut p: PrinterProfile = toml::from_str(text)
            .map_err(|e| ProfileError::Syntax { source_name: name.clone(), message: e.to_string() })?;
        let invalid = |field: String, message: &str| ProfileError::Invalid {
            source_name: name.clone(),
            field,
            message: message.into(),
        };
        if p.protocol != "evolis" {
            return Err(invalid("protocol".into(), "only \"evolis\" has a driver"));
        }
        if p.reports.iter().all(|r| r.trim().is_empty()) {
            return Err(invalid("reports".into(), "name what the printer answers to the model read"));
        }
        if p.ribbons.is_empty() {
            return Err(invalid("ribbon".into(), "a printer takes at least one [[ribbon]]"));
        }
        for (i, r) in p.ribbons.iter().enumerate() {
            if r.kind.is_empty() || !r.kind.chars().all(|c| "YMCKOR".contains(c)) {
                return Err(invalid(format!("ribbon[{i}].type"), "panels from Y, M, C, K, O, R"));
            }
            if r.prints == 0 || r.low_warning >= r.prints {
                return Err(invalid(format!("ribbon[{i}].low_warning"), "below prints, and prints above 0"));
            }
        }
        p.source = path.to_path_buf();
        Ok(p)
    }
}

/// The reader and printer profiles of a folder (its `readers/` and `printers/`; either may be
/// missing).
#[derive(Debug, Clone, Default)]
pub struct DeviceProfiles {
    /// Reader profiles, by file name.
    pub readers: Vec<ReaderProfile>,
    /// Printer profiles, by file name.
    pub printers: Vec<PrinterProfile>,
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, ProfileError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let io = |source| ProfileError::Io { path: dir.to_path_buf(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn unique<'a>(ids: impl Iterator<Item = (&'a str, &'a Path)>) -> Result<(), ProfileError> {
    let mut seen: Vec<(&str, &Path)> = Vec::new();
    for (id, path) in ids {
        if let Some((_, first)) = seen.iter().find(|(s, _)| *s == id) {
            return Err(ProfileError::DuplicateId {
                id: id.into(),
                first: source_name(first),
                second: source_name(path),
            });
        }
        seen.push((id, path));
    }
    Ok(())
}

impl DeviceProfiles {
    /// Loads `dir/readers/*.toml` and `dir/printers/*.toml`.
    pub fn load(dir: &Path) -> Result<DeviceProfiles, ProfileError> {
        let readers = toml_files(&dir.join("readers"))?
            .iter()
            .map(|p| ReaderProfile::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        let printers = toml_files(&dir.join("printers"))?
            .iter()
            .map(|p| PrinterProfile::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        unique(readers.iter().map(|r| (r.id.as_str(), r.source.as_path())))?;
        unique(printers.iter().map(|p| (p.id.as_str(), p.source.as_path())))?;
        Ok(DeviceProfiles { readers, printers })
    }

    /// The printer profile of a reported model: the longest matching name wins, so
    /// "Primacy 2" is not taken for "Primacy".
    pub fn printer_for(&self, reported_model: &str) -> Option<&PrinterProfile> {
        let reported = reported_model.trim().to_lowercase();
        self.printers
            .iter()
            .filter_map(|p| {
                p.reports
                    .iter()
                    .filter(|r| reported.starts_with(&r.to_lowercase()))
                    .map(|r| (r.len(), p))
                    .max_by_key(|(len, _)| *len)
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_profiles() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles")
    }

    #[test]
    fn the_shipped_reader_and_printer_profiles_load() {
        let all = DeviceProfiles::load(&repo_profiles()).expect("shipped profiles");
        assert!(all.readers.len() >= 4, "{:?}", all.readers.iter().map(|r| &r.id).collect::<Vec<_>>());
        let dual = all.readers.iter().find(|r| r.id == "acs-acr1281u-c1").expect("dual-interface reader");
        let kinds: Vec<_> = dual.slots.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [ReaderKind::Contact, ReaderKind::Contactless, ReaderKind::Sam]);
        assert!(all.readers.iter().flat_map(|r| &r.slots).any(|s| s.quirks.t0_only()));
        assert!(all.readers.iter().flat_map(|r| &r.slots).any(|s| !s.quirks.extended_length));
        assert!(all.readers.iter().flat_map(|r| &r.slots).any(|s| s.quirks.power_up_delay_ms > 0));
        assert!(all.readers.iter().flat_map(|r| &r.slots).any(|s| s.quirks.field_reset_ms.is_some()));
        assert_eq!(all.printer_for("Primacy 2").map(|p| p.id.as_str()), Some("evolis-primacy-2"));
        assert_eq!(all.printer_for("Primacy").map(|p| p.id.as_str()), Some("evolis-primacy"));
        assert!(all.printer_for("Zenius").is_some());
        assert!(all.printer_for("Agilia").is_none());
        // The card OS profiles beside them still load on their own.
        assert!(crate::load_dir(repo_profiles()).expect("card profiles").len() >= 3);
    }

    #[test]
    fn a_t0_only_short_slot_clamps_to_short_apdus() {
        let text = r#"id = "x"
vendor = "V"
model = "M"
[[slot]]
name = { word = "M ICC" }
kind = "contact"
protocols = ["T=0"]
power_up_delay_ms = 40
"#;
        let r = ReaderProfile::parse(text, Path::new("x.toml")).expect("valid");
        let q = &r.slots[0].quirks;
        assert!(!q.limit().extended_length, "T=0 carries no extended APDU");
        assert_eq!(q.describe(), "T=0 only, 40 ms after power-up");
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let bad_kind =
            "id = \"x\"\nvendor = \"V\"\nmodel = \"M\"\n[[slot]]\nname = { exact = \"A\" }\nkind = \"icc\"\n";
        let e = ReaderProfile::parse(bad_kind, Path::new("/x/acme.toml")).expect_err("kind");
        assert_eq!(e.to_string(), "acme.toml: slot[0].kind: \"icc\": use contact, contactless or sam");
        let reset_on_contact = "id = \"x\"\nvendor = \"V\"\nmodel = \"M\"\n[[slot]]\nname = { exact = \"A\" }\nkind = \"contact\"\nfield_reset_ms = 5\n";
        let e = ReaderProfile::parse(reset_on_contact, Path::new("a.toml")).expect_err("reset");
        assert!(e.to_string().contains("slot[0].field_reset_ms"), "{e}");
        let unknown = "id = \"x\"\nvendor = \"V\"\nmodel = \"M\"\nspeed = 3\n[[slot]]\nname = { exact = \"A\" }\nkind = \"sam\"\n";
        let e = ReaderProfile::parse(unknown, Path::new("a.toml")).expect_err("unknown field");
        assert!(e.to_string().contains("speed"), "{e}");
        let printer = "id = \"p\"\nvendor = \"E\"\nmodel = \"P\"\nprotocol = \"evolis\"\nreports = [\"P\"]\n[encoder]\ncontact = true\ncontactless = false\n[[ribbon]]\ntype = \"YMCKO\"\nprints = 100\nlow_warning = 100\n";
        let e = PrinterProfile::parse(printer, Path::new("p.toml")).expect_err("threshold");
        assert!(e.to_string().starts_with("p.toml: ribbon[0].low_warning"), "{e}");
    }

    #[test]
    fn two_files_with_one_id_are_refused() {
        let dir = std::env::temp_dir().join(format!("device-profiles-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("readers")).expect("dir");
        let text = "id = \"same\"\nvendor = \"V\"\nmodel = \"M\"\n[[slot]]\nname = { exact = \"A\" }\nkind = \"sam\"\n";
        std::fs::write(dir.join("readers/a.toml"), text).expect("a");
        std::fs::write(dir.join("readers/b.toml"), text).expect("b");
        let e = DeviceProfiles::load(&dir).expect_err("duplicate");
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert!(matches!(e, ProfileError::DuplicateId { .. }), "{e}");
    }
}
