//! The rig file: which real devices the suite may use. Nothing in this package touches a
//! device without one, and a rig must say in writing that the cards in the hopper may be
//! destroyed (the suite feeds and personalises them).
//!
//! ```toml
//! name = "counter 3, Futian branch"
//! card_reader = "ACS ACR1281 1S Dual Reader ICC 0"   # the printer's contact station (PC/SC name)
//! psam_reader = "ACS ACR1281 1S Dual Reader SAM 0"   # the PSAM slot
//! printer = "usb:F00A:0001"                          # printer selector
//! camera = "webcam"                                  # frame source selector
//! card_profile = "../firmware-profiles/ssc-3g-sim.toml"   # relative to this file
//! region = "440300"                                  # issuing city (the cards' keys)
//! init_org = "44030000000000000001"
//! cards_may_be_destroyed = true
//! # report = "rig-report.json"                       # default: <rig file>.report.json
//! ```

use std::path::{Path, PathBuf};

use daemon::config::{read_toml, ConfigError};
use serde::Deserialize;

/// The environment variable that names a rig file when `--rig` is not given.
pub const RIG_ENV: &str = "STATION_RIG";

/// A rig: the devices under test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rig {
    /// A name for the report.
    pub name: String,
    /// PC/SC name (or selector) of the card reader: the printer's contact station.
    pub card_reader: String,
    /// PC/SC name (or selector) of the PSAM slot.
    pub psam_reader: String,
    /// The printer (`usb:VID:PID`, `serial:/dev/ttyUSB0`, `tcp:host:port`).
    pub printer: String,
    /// The camera's frame source (`webcam`, `webcam:N`).
    pub camera: String,
    /// The cards' firmware profile (relative paths from the rig file's folder).
    pub card_profile: PathBuf,
    /// Region code of the issuing city.
    pub region: String,
    /// Initialising organisation code.
    pub init_org: String,
    /// The cards in the hopper may be destroyed: must be `true`.
    #[serde(default)]
    pub cards_may_be_destroyed: bool,
    /// Where the report goes.
    #[serde(default)]
    pub report: Option<PathBuf>,
}

/// Why a rig file is refused.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    /// Unreadable, or not a rig.
    #[error(transparent)]
    File(#[from] ConfigError),
    /// No written consent to destroy cards.
    #[error(
        "{path}: the suite feeds, personalises and may destroy the cards in the hopper; add the line \
         `cards_may_be_destroyed = true` to the rig file to agree"
    )]
    NoConsent {
        /// The file.
        path: PathBuf,
    },
}

impl Rig {
    /// Reads a rig file; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Rig, RigError> {
        let mut rig: Rig = read_toml(path)?;
        if !rig.cards_may_be_destroyed {
            return Err(RigError::NoConsent { path: path.into() });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if rig.card_profile.is_relative() {
            rig.card_profile = base.join(&rig.card_profile);
        }
        rig.report = Some(match rig.report.take() {
            Some(r) if r.is_relative() => base.join(r),
            Some(r) => r,
            None => path.with_extension("report.json"),
        });
        Ok(rig)
    }

    /// The report's path.
    pub fn report_path(&self) -> PathBuf {
        self.report.clone().unwrap_or_else(|| PathBuf::from("rig.report.json"))
    }
}

/// The rig file named by `--rig FILE` (or `--rig=FILE`) in `args`, else by `env` (the value
/// of [`RIG_ENV`]); `None`: no rig, and nothing may touch a device.
pub fn rig_path(args: &[String], env: Option<String>) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--rig" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--rig=") {
            return Some(PathBuf::from(p));
        }
    }
    env.filter(|e| !e.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (std::path::PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("rig-{}-{}", std::process::id(), text.len()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("counter.toml");
        std::fs::write(&path, text).expect("rig");
        (dir, path)
    }

    const RIG: &str = r#"name = "bench"
card_reader = "Virtual PCD 00 00"
psam_reader = "Virtual PCD 00 01"
printer = "tcp:127.0.0.1:9100"
camera = "synthetic"
card_profile = "profiles/ssc-3g-sim.toml"
region = "110100"
init_org = "11010000000000000001"
"#;

    #[test]
    fn a_rig_without_consent_is_refused() {
        let (dir, path) = write(RIG);
        let e = Rig::load(&path).expect_err("no consent");
        assert!(e.to_string().contains("cards_may_be_destroyed = true"), "{e}");
        let (dir2, path) = write(&format!("{RIG}cards_may_be_destroyed = true\n"));
        let rig = Rig::load(&path).expect("rig");
        assert_eq!(rig.card_profile, dir2.join("profiles/ssc-3g-sim.toml"));
        assert_eq!(rig.report_path(), dir2.join("counter.report.json"));
        std::fs::remove_dir_all(dir).expect("clean");
        std::fs::remove_dir_all(dir2).expect("clean");
    }

    #[test]
    fn a_rig_that_is_not_a_rig_is_refused_naming_the_file() {
        let (dir, path) = write(&format!("{RIG}cards_may_be_destroyed = true\nprinterr = \"usb:1:2\"\n"));
        let e = Rig::load(&path).expect_err("unknown field");
        let text = e.to_string();
        assert!(text.starts_with(&format!("{}: ", path.display())) && text.contains("printerr"), "{text}");
        let missing = dir.join("missing.toml");
        let e = Rig::load(&missing).expect_err("no file");
        assert!(e.to_string().starts_with(&format!("{}: ", missing.display())), "{e}");
        std::fs::remove_dir_all(dir).expect("clean");
    }

    #[test]
    fn the_rig_comes_from_the_flag_or_the_environment_only() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rig_path(&args(&["hw-rig", "--rig", "a.toml"]), Some("b.toml".into())),
            Some("a.toml".into())
        );
        assert_eq!(rig_path(&args(&["hw-rig", "--rig=a.toml"]), None), Some("a.toml".into()));
        assert_eq!(rig_path(&args(&["hw-rig"]), Some("b.toml".into())), Some("b.toml".into()));
        assert_eq!(rig_path(&args(&["hw-rig"]), Some(String::new())), None);
        assert_eq!(rig_path(&args(&["hw-rig"]), None), None);
    }
}
