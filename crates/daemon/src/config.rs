//! The daemon's configuration file (TOML). Without one, the embedded default: a data directory
//! of SQLite archives and three accounts (operator, supervisor, auditor) whose first passwords
//! are written once to `initial-passwords.txt` there (mode 0600) for the person setting up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{hash_password, random_bytes, Account, Role};

/// The file of the embedded default's first passwords, in the data directory: removed once
/// every account has chosen its own.
pub const INITIAL_PASSWORDS: &str = "initial-passwords.txt";

/// The longest any time setting may be, in minutes (a week).
pub const MAX_MINUTES: u64 = 7 * 24 * 60;

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
    /// Session length in minutes (the absolute limit).
    #[serde(default = "default_session_minutes")]
    pub session_minutes: u64,
    /// Minutes without a request after which a session ends (a counter left logged in).
    #[serde(default = "default_idle_minutes")]
    pub idle_minutes: u64,
    /// The page over TLS: required to listen beyond loopback.
    #[serde(default)]
    pub tls: Option<crate::tls::TlsFiles>,
    /// The names the counter's browsers reach the station by, besides `localhost` and the
    /// listening address: a request for any other Host, or from any other Origin, is refused
    /// (a web page elsewhere cannot rebind a name of its own to the station).
    #[serde(default)]
    pub host_names: Vec<String>,
    /// The accounts.
    #[serde(default, rename = "operator")]
    pub operators: Vec<Account>,
    /// Log-in backoff and lock-out.
    #[serde(default)]
    pub login: crate::login::LoginPolicy,
    /// The agent sites (`[[sites]]`), checked by the station's configuration, which takes them
    /// out of the table before this part is read.
    #[serde(skip)]
    pub sites: Vec<sms::Site>,
    /// The holiday calendar file (`holiday_calendar`, the form of the `workdays` crate's
    /// `cn-holidays.toml`): next year's State Council notice before the station ships it, or a
    /// corrected one; on top of the built-in years. Relative to the configuration file.
    #[serde(default)]
    pub holiday_calendar: Option<PathBuf>,
    /// The province's card services schedule (`card_services`, the form of the `issuance`
    /// crate's `data/card-services.toml`: a temporary loss's days, the fees), instead of the
    /// built-in one. Relative to the configuration file.
    #[serde(default)]
    pub card_services: Option<PathBuf>,
    /// The SMS gateway the pickup notices go through (`[sms]`, see `sms::GatewayConfig`);
    /// without it no SMS is sent and the supervisor's page lists whom to tell another way.
    #[serde(default)]
    pub sms: Option<sms::GatewayConfig>,
    /// Whether this build carries the simulators (plain http to the SMS simulator is allowed);
    /// set by the station, never read from the file.
    #[serde(skip)]
    pub simulators: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_session_minutes() -> u64 {
    480
}

fn default_idle_minutes() -> u64 {
    15
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
        Config::from_table(path, read_toml(path)?)
    }

    /// Checks the daemon's part of a configuration file `path` (the station reads its own
    /// sections, such as `[counter]`, out of the table first).
    pub fn from_table(path: &Path, table: toml::Table) -> Result<Config, ConfigError> {
        let mut config: Config = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            ConfigError::Invalid { path: path.into(), message: e.to_string() }
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Some(file) = config.holiday_calendar.take() {
            config.holiday_calendar = Some(dir.join(file));
        }
        if let Some(file) = config.card_services.take() {
            config.card_services = Some(dir.join(file));
        }
        if let Some(sms) = config.sms.as_mut() {
            sms.resolve(dir);
        }
        // Minutes become seconds and instants: an absurd number would overflow (and a wrapped
        // lock-out would last seconds). A week bounds every one of them.
        for (field, minutes) in [
            ("session_minutes", config.session_minutes),
            ("idle_minutes", config.idle_minutes),
            ("[login] address_lock_minutes", config.login.address_lock_minutes),
            ("[login] window_minutes", config.login.window_minutes),
            ("[login] max_delay_seconds / 60", config.login.max_delay_seconds / 60),
        ] {
            if minutes > MAX_MINUTES {
                return Err(ConfigError::Invalid {
                    path: path.into(),
                    message: format!("{field} = {minutes}: at most {MAX_MINUTES} (a week)"),
                });
            }
        }
        if config.operators.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.into(),
                message: "no [[operator]] account".into(),
            });
        }
        Ok(config)
    }

    /// The working-day calendar: the built-in notices and `holiday_calendar`'s on top.
    pub fn calendar(&self) -> Result<workdays::Calendar, workdays::LoadError> {
        match &self.holiday_calendar {
            None => Ok(workdays::Calendar::builtin()),
            Some(file) => workdays::Calendar::builtin().with_file(file),
        }
    }

    /// The card services' schedule: the province's file if one is given, else the built-in.
    pub fn card_services(&self) -> Result<issuance::services::Schedule, issuance::services::ScheduleError> {
        match &self.card_services {
            None => Ok(issuance::services::Schedule::builtin()),
            Some(file) => issuance::services::Schedule::load(file),
        }
    }

    /// Beyond loopback only with TLS: the page carries passwords, session cookies and every
    /// applicant's data.
    pub fn check_listen(&self) -> Result<(), String> {
        if self.listen.ip().is_loopback() || self.tls.is_some() {
            return Ok(());
        }
        Err(format!(
            "listen = {} reaches beyond this computer, so the page needs TLS: give [tls] cert and key \
             (`station serve --make-tls-cert NAME` makes a self-signed pair and prints its fingerprint), \
             or listen on 127.0.0.1",
            self.listen
        ))
    }

    /// The host names a request may name (Host, Origin): loopback's, the listening address and
    /// the configured names.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        if !self.listen.ip().is_unspecified() {
            hosts.push(self.listen.ip().to_string());
        }
        hosts.extend(self.host_names.iter().map(|h| h.to_ascii_lowercase()));
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// The embedded default in `data_dir`: creates the three first accounts once.
    pub fn embedded(data_dir: &Path) -> Result<Config, ConfigError> {
        crate::files::private_dir(data_dir)
            .map_err(|source| ConfigError::Io { path: data_dir.into(), source })?;
        let accounts_path = data_dir.join("accounts.toml");
        if !accounts_path.exists() {
            let mut accounts = String::new();
            let mut passwords =
                String::from("# First passwords of the embedded station. Each is changed at its first log-in; this file is removed once all are.\n");
            for (name, role) in
                [("operator", "operator"), ("supervisor", "supervisor"), ("auditor", "auditor")]
            {
                let password: String = random_bytes(9).iter().map(|b| format!("{b:02x}")).collect();
                passwords.push_str(&format!("{name} {password}\n"));
                accounts.push_str(&format!(
                    "[[operator]]\nname = \"{name}\"\nrole = \"{role}\"\npassword_hash = \"{}\"\nfirst_password = true\n\n",
                    hash_password(&password)
                ));
            }
            let secret = data_dir.join(INITIAL_PASSWORDS);
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
            idle_minutes: default_idle_minutes(),
            tls: None,
            host_names: Vec::new(),
            operators: accounts.operator,
            login: crate::login::LoginPolicy::default(),
            sites: Vec::new(),
            holiday_calendar: None,
            card_services: None,
            sms: None,
            simulators: false,
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
    fn a_file_without_accounts_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        std::fs::write(&path, "station = \"S1\"\ndata_dir = \"/tmp/x\"\n").expect("write");
        let e = Config::load(&path).expect_err("no accounts");
        assert!(e.to_string().contains("no [[operator]]"), "{e}");
        std::fs::write(&path, "station = \"S1\"\ndata_dir = \"/tmp/x\"\nlisten = 5\n").expect("write");
        assert!(Config::load(&path).is_err());
    }

    #[test]
    fn time_settings_beyond_a_week_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        let account = "[[operator]]\nname = \"op\"\nrole = \"operator\"\npassword_hash = \"x\"\n";
        for (top, table, field) in [
            ("idle_minutes = 9223372036854775807\n", "", "idle_minutes"),
            ("session_minutes = 20000\n", "", "session_minutes"),
            ("", "[login]\naddress_lock_minutes = 307445734561825861\n", "address_lock_minutes"),
        ] {
            let text = format!("station = \"S1\"\ndata_dir = \"/tmp/x\"\n{top}{account}{table}");
            std::fs::write(&path, text).expect("write");
            let e = Config::load(&path).expect_err(field).to_string();
            assert!(e.contains(field) && e.contains("a week"), "{e}");
        }
        let fine = format!("station = \"S1\"\ndata_dir = \"/tmp/x\"\nidle_minutes = 30\n{account}");
        std::fs::write(&path, fine).expect("write");
        assert_eq!(Config::load(&path).expect("a half hour").idle_minutes, 30);
    }
}
