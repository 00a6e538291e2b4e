//! The station's configuration file (`station.toml`): the daemon's part (`daemon::config`:
//! station id, listening address, accounts, log-in) and the counter's own section, read here:
//! `[counter]` names the devices, the archives, identity verification and the financial
//! application. Each section is checked against its own fields.

use std::path::{Path, PathBuf};

use daemon::config::{Config, ConfigError};
use serde::Deserialize;

/// A station's whole configuration.
#[derive(Debug, Clone)]
pub struct StationConfig {
    /// The daemon's part.
    pub daemon: Config,
    /// The counter's devices and issuing settings (absent in the embedded default, which runs
    /// simulated devices).
    pub counter: Option<CounterConfig>,
}

impl StationConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<StationConfig, ConfigError> {
        let mut table: toml::Table = daemon::config::read_toml(path)?;
        let counter = table
            .remove("counter")
            .map(|v| {
                v.try_into::<CounterConfig>().map_err(|e| ConfigError::Invalid {
                    path: path.into(),
                    message: format!("[counter]: {e}"),
                })
            })
            .transpose()?;
        Ok(StationConfig { daemon: Config::from_table(path, table)?, counter })
    }
}

/// The counter: devices by selector, the archives, verification, issuing settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterConfig {
    /// Reader of the printer's contact station (`kind:contact`, a name, `#N`).
    #[serde(default = "default_card_reader")]
    pub card_reader: String,
    /// Reader of the PSAM.
    #[serde(default = "default_psam_reader")]
    pub psam_reader: String,
    /// The printer (`serial:/dev/ttyUSB0`, `usb:VID:PID`, `tcp:host:port`).
    pub printer: String,
    /// Firmware profile file of the cards in the hopper.
    pub profile: PathBuf,
    /// Region code of the issuing city.
    pub region: String,
    /// Initialising organisation code.
    pub init_org: String,
    /// Years of validity.
    #[serde(default = "default_validity")]
    pub validity_years: u16,
    /// The provincial archive.
    pub provincial: ProvincialConfig,
    /// The identity verification service's base URL.
    pub identity_verification: String,
    /// The financial application, when the cards carry one.
    #[serde(default)]
    pub financial: Option<FinancialConfig>,
    /// The camera's frame source (`webcam`, `webcam:N`, `file:PATH`).
    #[serde(default = "default_camera")]
    pub camera: String,
}

fn default_camera() -> String {
    "webcam".into()
}

/// Where the financial application's data and keys come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinancialConfig {
    /// Each card's data-preparation file: `test` (made here from `bin` with the test issuer
    /// keys, simulated cards only) or the directory of the bank's DP files (`CARDNUMBER.json`).
    pub dp: String,
    /// Issuer BIN for `dp = "test"`.
    #[serde(default = "default_bin")]
    pub bin: String,
    /// The issuer security domain's master key: `test` or a file holding it in hex.
    pub isd_key: String,
    /// The transport key the DP files are encrypted under: `test` or a file holding it in hex.
    pub transport_key: String,
}

fn default_bin() -> String {
    "621234".into()
}

/// Where the provincial archive is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "lowercase")]
pub enum ProvincialConfig {
    /// The provincial service over mutual TLS.
    Service {
        /// Base URL (`https://archive.example:8443`).
        url: String,
        /// CA certificate of the service.
        ca: PathBuf,
        /// This station's certificate and key (one PEM file).
        identity: PathBuf,
    },
    /// One machine serves: SQLite in the data directory.
    Sqlite,
}

fn default_card_reader() -> String {
    "kind:contact".into()
}

fn default_psam_reader() -> String {
    "kind:sam".into()
}

fn default_validity() -> u16 {
    10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_configuration_reads() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        std::fs::write(
            &path,
            r#"station = "S-0101"
data_dir = "/var/lib/station"

[[operator]]
name = "op1"
role = "operator"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"

[counter]
printer = "usb:0x0F7E:0x0A01"
profile = "/etc/station/profiles/vendor-3g.toml"
region = "110100"
init_org = "11010000000000000001"
identity_verification = "https://idv.example"
provincial = { kind = "service", url = "https://archive.example:8443", ca = "/etc/station/ca.pem", identity = "/etc/station/S-0101.pem" }
"#,
        )
        .expect("write");
        let c = StationConfig::load(&path).expect("config");
        let counter = c.counter.expect("counter");
        assert_eq!((counter.card_reader.as_str(), counter.validity_years), ("kind:contact", 10));
        assert!(matches!(counter.provincial, ProvincialConfig::Service { .. }));
        assert_eq!(c.daemon.station, "S-0101");
        // Each section is checked against its own fields.
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("region = ", "colour = \"red\"\nregion = ")).expect("write");
        let e = StationConfig::load(&path).expect_err("unknown field");
        assert!(e.to_string().contains("[counter]") && e.to_string().contains("colour"), "{e}");
    }
}
