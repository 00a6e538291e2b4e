//! The daemon's configuration file (TOML). Without one, the embedded default: a data directory
//! of SQLite archives and three accounts (operator, supervisor, auditor) whose first passwords
//! are written once to `initial-passwords.txt` there (mode 0600) for the person setting up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{hash_password, random_bytes, Account, Role};

/// The configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This station's id (its certificate name at the province).
    pub station: String,
    /// Where the API listens (loopback by default).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the archives and journals live.
    pub data_dir: PathBuf,
    /// Session length in minutes.
    #[serde(default = "default_session_minutes")]
    pub session_minutes: u64,
    /// The accounts.
    #[serde(default, rename = "operator")]
    pub operators: Vec<Account>,
    /// Log-in backoff and lock-out.
    #[serde(default)]
    pub login: crate::login::LoginPolicy,
    /// The counter's devices and issuing settings (absent in the embedded default, which runs
    /// simulated devices).
    #[serde(default)]
    pub counter: Option<CounterConfig>,
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

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_session_minutes() -> u64 {
    480
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML or a field.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let config: Config = read_toml(path)?;
        if config.operators.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.into(),
                message: "no [[operator]] account".into(),
            });
        }
        if !config.listen.ip().is_loopback() {
            tracing::warn!(listen = %config.listen, "the API listens beyond loopback: put TLS in front of it");
        }
        Ok(config)
    }

    /// The embedded default in `data_dir`: creates the three first accounts once.
    pub fn embedded(data_dir: &Path) -> Result<Config, ConfigError> {
        crate::files::private_dir(data_dir)
            .map_err(|source| ConfigError::Io { path: data_dir.into(), source })?;
        let accounts_path = data_dir.join("accounts.toml");
        if !accounts_path.exists() {
            let mut accounts = String::new();
            let mut passwords =
                String::from("# First passwords of the embedded station. Change them; delete this file.\n");
            for (name, role) in
                [("operator", "operator"), ("supervisor", "supervisor"), ("auditor", "auditor")]
            {
                let password: String = random_bytes(9).iter().map(|b| format!("{b:02x}")).collect();
                passwords.push_str(&format!("{name} {password}\n"));
                accounts.push_str(&format!(
                    "[[operator]]\nname = \"{name}\"\nrole = \"{role}\"\npassword_hash = \"{}\"\n\n",
                    hash_password(&password)
                ));
            }
            let secret = data_dir.join("initial-passwords.txt");
            write_private(&secret, &passwords)?;
            write_private(&accounts_path, &accounts)?;
            eprintln!("first passwords written to {}", secret.display());
        }
        #[derive(Deserialize)]
        struct Accounts {
            operator: Vec<Account>,
        }
        let accounts: Accounts = read_toml(&accounts_path)?;
        Ok(Config {
            station: "embedded".into(),
            listen: default_listen(),
            data_dir: data_dir.to_path_buf(),
            session_minutes: default_session_minutes(),
            operators: accounts.operator,
            login: crate::login::LoginPolicy::default(),
            counter: None,
        })
    }

    /// Whether an account has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.operators.iter().any(|a| a.role == role)
    }
}

/// Reads the TOML file at `path` into a `T`; the errors name the file. The station's other
/// TOML files (a hardware rig) are read the same way.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid { path: path.into(), message: e.to_string() })
}

fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| ConfigError::Io { path: path.into(), source })?;
    f.write_all(text.as_bytes()).map_err(|source| ConfigError::Io { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_accounts_are_made_once_and_private() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = Config::embedded(dir.path()).expect("embedded");
        assert_eq!(c.operators.len(), 3);
        assert!(c.has_role(Role::Auditor));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("initial-passwords.txt")).expect("file").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let again = Config::embedded(dir.path()).expect("again");
        assert_eq!(again.operators[0].password_hash, c.operators[0].password_hash, "made once");
    }

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
        let c = Config::load(&path).expect("config");
        let counter = c.counter.expect("counter");
        assert_eq!((counter.card_reader.as_str(), counter.validity_years), ("kind:contact", 10));
        assert!(matches!(counter.provincial, ProvincialConfig::Service { .. }));
    }

    #[test]
    fn a_file_without_accounts_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        std::fs::write(&path, "station = \"S1\"\ndata_dir = \"/tmp/x\"\n").expect("write");
        let e = Config::load(&path).expect_err("no accounts");
        assert!(e.to_string().contains("no [[operator]]"), "{e}");
        std::fs::write(&path, "station = \"S1\"\ndata_dir = \"/tmp/x\"\nlisten = 5\n").expect("write");
        assert!(Config::load(&path).is_err());
    }
}
