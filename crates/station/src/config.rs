//! The station's configuration file (`station.toml`): the daemon's part (`daemon::config`:
//! station id, listening address, accounts, log-in) and the counter's own section, read here:
//! `[counter]` names the devices, the archives, identity verification and the financial
//! application. Each section is checked against its own fields.
//!
//! Identity verification is the service's https URL and the CA that anchors it, with the
//! station's certificate and key when the service wants mutual TLS; its file paths are taken
//! from the configuration file's directory when relative:
//!
//! ```toml
//! [counter]
//! identity_verification = { url = "https://idv.example:8443", ca = "idv/ca.pem", client_cert = "idv/S-0101.pem", client_key = "idv/S-0101.key" }
//! ```
//!
//! A bare URL (`identity_verification = "http://127.0.0.1:8790"`) is the simulators' plain
//! HTTP, accepted only by a build with them ([`SIMULATORS`]).

use std::path::{Path, PathBuf};

use daemon::config::{Config, ConfigError};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// Whether this build carries the simulators: only then is plain `http://` identity
/// verification allowed.
pub const SIMULATORS: bool = cfg!(feature = "sim");

/// The `[[sites]]` of the table read from `path`, taken out of it and checked.
fn sites_of(path: &Path, table: &mut toml::Table) -> Result<Vec<sms::Site>, ConfigError> {
    let sites: Vec<sms::Site> = table
        .remove("sites")
        .map(|v| v.try_into())
        .transpose()
        .map_err(|e| ConfigError::Invalid { path: path.into(), message: format!("[[sites]]: {e}") })?
        .unwrap_or_default();
    sms::validate_sites(&sites)
        .map_err(|e| ConfigError::Invalid { path: path.into(), message: e.to_string() })?;
    Ok(sites)
}

/// The agent sites of a file holding only `[[sites]]` (as in station.toml), for the embedded
/// default (`station serve --sim --sites FILE`), which has no station.toml.
pub fn load_sites(path: &Path) -> Result<Vec<sms::Site>, ConfigError> {
    let mut table: toml::Table = daemon::config::read_toml(path)?;
    let sites = sites_of(path, &mut table)?;
    if let Some(other) = table.keys().next() {
        return Err(ConfigError::Invalid {
            path: path.into(),
            message: format!("{other}: this file holds only [[sites]]; the rest is station.toml's"),
        });
    }
    Ok(sites)
}

/// A station's whole configuration.
#[derive(Debug, Clone)]
pub struct StationConfig {
    /// The daemon's part.
    pub daemon: Config,
    /// The counter's devices and issuing settings (absent in the embedded default, which runs
    /// simulated devices).
    pub counter: Option<CounterConfig>,
    /// The station's policy for identity verification (`[idv]`).
    pub idv: IdvPolicy,
    /// The ledger's MAC key (`[ledger]`, see [`crate::ledger_key`]).
    pub ledger: Option<crate::ledger_key::LedgerSettings>,
    /// The outreach kit's record-signing key and token (`[kit]`, see [`crate::kit_key`]).
    pub kit: Option<crate::kit_key::KitSettings>,
    /// The key that wraps the station's data key (`[database]`, see [`crate::db_key`]).
    pub database: Option<crate::db_key::DatabaseSettings>,
}

/// `[idv]`: what the station does when the bank-police verification does not confirm an
/// applicant.
///
/// ```toml
/// [idv]
/// max_corrections = 2
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdvPolicy {
    /// Corrections the operator may make after mismatches (each verified again) before the
    /// application ends with the register's hints; 0: a mismatch ends it at once.
    #[serde(default = "default_max_corrections")]
    pub max_corrections: u32,
}

/// The most corrections a station may allow: beyond that the register is being guessed at.
pub const MAX_CORRECTIONS_CAP: u32 = 5;

fn default_max_corrections() -> u32 {
    2
}

impl Default for IdvPolicy {
    fn default() -> IdvPolicy {
        IdvPolicy { max_corrections: default_max_corrections() }
    }
}

impl StationConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<StationConfig, ConfigError> {
        let mut table: toml::Table = daemon::config::read_toml(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let counter = table
            .remove("counter")
            .map(|v| {
                v.try_into::<CounterConfig>()
                    .map(|mut c| {
                        c.identity_verification.resolve(dir);
                        if let Some(b) = c.bank.as_mut() {
                            b.resolve(dir);
                        }
                        c
                    })
                    .map_err(|e| ConfigError::Invalid {
                        path: path.into(),
                        message: format!("[counter]: {e}"),
                    })
            })
            .transpose()?;
        let idv = table
            .remove("idv")
            .map(|v| v.try_into::<IdvPolicy>())
            .transpose()
            .map_err(|e| ConfigError::Invalid { path: path.into(), message: format!("[idv]: {e}") })?
            .unwrap_or_default();
        if idv.max_corrections > MAX_CORRECTIONS_CAP {
            return Err(ConfigError::Invalid {
                path: path.into(),
                message: format!(
                    "[idv] max_corrections = {}: at most {MAX_CORRECTIONS_CAP} (each correction asks the police register again)",
                    idv.max_corrections
                ),
            });
        }
        let ledger = table
            .remove("ledger")
            .map(|v| v.try_into::<crate::ledger_key::LedgerSettings>())
            .transpose()
            .map_err(|e| ConfigError::Invalid { path: path.into(), message: format!("[ledger]: {e}") })?;
        let kit = table
            .remove("kit")
            .map(|v| v.try_into::<crate::kit_key::KitSettings>())
            .transpose()
            .map_err(|e| ConfigError::Invalid { path: path.into(), message: format!("[kit]: {e}") })?;
        let database = table
            .remove("database")
            .map(|v| v.try_into::<crate::db_key::DatabaseSettings>())
            .transpose()
            .map_err(|e| ConfigError::Invalid { path: path.into(), message: format!("[database]: {e}") })?;
        // The agent sites: the daemon delivers cards to them (and, with SMS, tells holders).
        let sites = sites_of(path, &mut table)?;
        let mut daemon = Config::from_table(path, table)?;
        daemon.sites = sites;
        // Plain http to the SMS gateway simulator only in a build that carries the simulators.
        daemon.simulators = cfg!(feature = "sim");
        Ok(StationConfig { daemon, counter, idv, ledger, kit, database })
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
    /// The identity verification service.
    pub identity_verification: IdentityVerificationConfig,
    /// The financial application, when the cards carry one.
    #[serde(default)]
    pub financial: Option<FinancialConfig>,
    /// The camera's frame source (`webcam`, `webcam:N`, `file:PATH`).
    #[serde(default = "default_camera")]
    pub camera: String,
    /// Where cards whose holders collect them later are kept (保管地点) and who answers for
    /// them: `[counter.stock] place = "...", keeper = "..."` (a job may name others).
    #[serde(default)]
    pub stock: issuance::StockSettings,
    /// The cooperating banks (the list) and the bank card systems this counter activates
    /// through (`[counter.bank]`, see `bank::BankConfig`); default: the list shipped, no system.
    #[serde(default)]
    pub bank: Option<bank::BankConfig>,
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
    /// The issuer security domain's master key: `test`, a file holding it in hex, or with
    /// `token` its label in the token.
    pub isd_key: String,
    /// The transport key the DP files are encrypted under: `test`, a file holding it in hex,
    /// or with `token` its label in the token.
    pub transport_key: String,
    /// The hardware token (PKCS#11) that holds the keys (`[counter.financial.token]`): the
    /// keys stay in it, put there by `station keys import`.
    #[serde(default)]
    pub token: Option<TokenSettings>,
}

/// `[counter.financial.token]`: which PKCS#11 token, and where its user PIN is (a file only its
/// owner reads, or an environment variable the service manager sets; never the command line).
///
/// ```toml
/// [counter.financial.token]
/// module = "/usr/lib/softhsm/libsofthsm2.so"   # the token vendor's PKCS#11 library
/// label = "S-0101"
/// pin_file = "/etc/station/token.pin"         # chmod 600; or pin_env = "STATION_TOKEN_PIN"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The PKCS#11 module.
    pub module: std::path::PathBuf,
    /// The token's label.
    pub label: String,
    /// A file holding the user PIN.
    #[serde(default)]
    pub pin_file: Option<std::path::PathBuf>,
    /// An environment variable holding the user PIN.
    #[serde(default)]
    pub pin_env: Option<String>,
}

impl TokenSettings {
    /// The key store's view of it: exactly one of `pin_file` and `pin_env`.
    pub fn token_config(&self) -> anyhow::Result<keystore::TokenConfig> {
        let pin = match (&self.pin_file, &self.pin_env) {
            (Some(file), None) => keystore::PinSource::File(file.clone()),
            (None, Some(var)) => keystore::PinSource::Env(var.clone()),
            _ => anyhow::bail!(
                "token {}: give the user PIN as pin_file (chmod 600) or pin_env, one of them",
                self.label
            ),
        };
        Ok(keystore::TokenConfig { module: self.module.clone(), token_label: self.label.clone(), pin })
    }
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

/// Where the identity verification service is and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityVerificationConfig {
    /// A bare URL: the simulators' plain HTTP (an `https://` one lacks its CA).
    Url(String),
    /// `{ url, ca, client_cert, client_key }`: over TLS trusting only `ca`, mutual TLS with the
    /// client pair.
    Service {
        /// Base URL (`https://idv.example:8443`).
        url: String,
        /// The CA and the station's identity.
        tls: idv::TlsConfig,
    },
}

impl IdentityVerificationConfig {
    /// The base URL.
    pub fn url(&self) -> &str {
        match self {
            IdentityVerificationConfig::Url(url) | IdentityVerificationConfig::Service { url, .. } => url,
        }
    }

    /// The transport this build allows: the table's TLS; a bare URL only when `simulators`
    /// (pass [`SIMULATORS`]), and then only plain http (`idv` refuses https without a CA).
    pub fn transport(&self, simulators: bool) -> Result<idv::Transport, idv::SetupError> {
        match self {
            IdentityVerificationConfig::Service { tls, .. } => Ok(idv::Transport::Tls(tls.clone())),
            IdentityVerificationConfig::Url(_) if simulators => Ok(idv::Transport::PlainForSimulators),
            IdentityVerificationConfig::Url(url) if url.starts_with("http://") => {
                Err(idv::SetupError::PlainHttp)
            }
            IdentityVerificationConfig::Url(url) => Err(idv::SetupError::NoCa { url: url.clone() }),
        }
    }

    /// Relative paths are the configuration file's directory's.
    fn resolve(&mut self, dir: &Path) {
        if let IdentityVerificationConfig::Service { tls, .. } = self {
            let abs = |p: &mut PathBuf| {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            };
            abs(&mut tls.ca);
            if let Some(id) = &mut tls.client {
                abs(&mut id.cert);
                abs(&mut id.key);
            }
        }
    }
}

/// The table form's fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerificationTable {
    url: String,
    ca: PathBuf,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

impl<'de> Deserialize<'de> for IdentityVerificationConfig {
    /// A string or a table, each with serde's own messages (an untagged enum would say only
    /// that neither matched).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = IdentityVerificationConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a URL or a table { url, ca, client_cert, client_key }")
            }
            fn visit_str<E: de::Error>(self, url: &str) -> Result<Self::Value, E> {
                Ok(IdentityVerificationConfig::Url(url.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let t = VerificationTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let client = match (t.client_cert, t.client_key) {
                    (Some(cert), Some(key)) => Some(idv::ClientIdentity { cert, key }),
                    (None, None) => None,
                    _ => {
                        return Err(de::Error::custom(
                            "identity_verification: client_cert and client_key go together (both for mutual TLS, or neither)",
                        ))
                    }
                };
                Ok(IdentityVerificationConfig::Service {
                    url: t.url,
                    tls: idv::TlsConfig { ca: t.ca, client },
                })
            }
        }
        d.deserialize_any(Either)
    }
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
identity_verification = { url = "https://idv.example:8443", ca = "idv/ca.pem", client_cert = "/etc/station/idv/S-0101.pem", client_key = "idv/S-0101.key" }
provincial = { kind = "service", url = "https://archive.example:8443", ca = "/etc/station/ca.pem", identity = "/etc/station/S-0101.pem" }
"#,
        )
        .expect("write");
        let c = StationConfig::load(&path).expect("config");
        let counter = c.counter.expect("counter");
        assert_eq!((counter.card_reader.as_str(), counter.validity_years), ("kind:contact", 10));
        assert!(matches!(counter.provincial, ProvincialConfig::Service { .. }));
        assert_eq!(c.daemon.station, "S-0101");
        // The table form: relative paths from the configuration's directory, absolute ones kept.
        let tls = idv::TlsConfig {
            ca: dir.path().join("idv/ca.pem"),
            client: Some(idv::ClientIdentity {
                cert: "/etc/station/idv/S-0101.pem".into(),
                key: dir.path().join("idv/S-0101.key"),
            }),
        };
        assert_eq!(
            counter.identity_verification,
            IdentityVerificationConfig::Service { url: "https://idv.example:8443".into(), tls: tls.clone() }
        );
        assert_eq!(counter.identity_verification.transport(false).expect("TLS"), idv::Transport::Tls(tls));
        // Each section is checked against its own fields.
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("region = ", "colour = \"red\"\nregion = ")).expect("write");
        let e = StationConfig::load(&path).expect_err("unknown field");
        assert!(e.to_string().contains("[counter]") && e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn the_stock_place_and_keeper_come_from_the_counter_section() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        let head = "station = \"S-0101\"\ndata_dir = \"/var/lib/station\"\n\n[[operator]]\nname = \"op1\"\n\
                    role = \"operator\"\npassword_hash = \"x\"\n\n[counter]\nprinter = \"usb:0x0F7E:0x0A01\"\n\
                    profile = \"p.toml\"\nregion = \"110100\"\ninit_org = \"1\"\n\
                    identity_verification = \"http://127.0.0.1:8790\"\nprovincial = { kind = \"sqlite\" }\n";
        std::fs::write(&path, head).expect("write");
        let unnamed = StationConfig::load(&path).expect("config").counter.expect("counter").stock;
        assert_eq!(unnamed, issuance::StockSettings::default(), "the station's safe, the operator answers");
        std::fs::write(
            &path,
            format!("{head}\n[counter.stock]\nplace = \"东城网点保管柜\"\nkeeper = \"王主管\"\n"),
        )
        .expect("write");
        let stock = StationConfig::load(&path).expect("config").counter.expect("counter").stock;
        assert_eq!(stock.storage("op1", None, None).keeper, "王主管");
        assert_eq!(stock.storage("op1", Some("乡镇代办点"), None).place, "乡镇代办点");
        std::fs::write(&path, format!("{head}\n[counter.stock]\nshelf = \"3\"\n")).expect("write");
        let e = StationConfig::load(&path).expect_err("unknown field");
        assert!(e.to_string().contains("shelf"), "{e}");
    }

    #[test]
    fn the_corrections_after_an_identity_mismatch_are_the_idv_sections() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        let head = "station = \"S-0101\"\ndata_dir = \"/var/lib/station\"\n\n[[operator]]\nname = \"op1\"\n\
                    role = \"operator\"\npassword_hash = \"x\"\n";
        std::fs::write(&path, head).expect("write");
        assert_eq!(StationConfig::load(&path).expect("config").idv.max_corrections, 2, "the default");
        std::fs::write(&path, format!("{head}\n[idv]\nmax_corrections = 0\n")).expect("write");
        assert_eq!(StationConfig::load(&path).expect("config").idv.max_corrections, 0);
        std::fs::write(&path, format!("{head}\n[idv]\nmax_corrections = 9\n")).expect("write");
        let e = StationConfig::load(&path).expect_err("too many");
        assert!(e.to_string().contains("at most 5"), "{e}");
        std::fs::write(&path, format!("{head}\n[idv]\nmax_correction = 1\n")).expect("write");
        let e = StationConfig::load(&path).expect_err("a misspelt key");
        assert!(e.to_string().contains("[idv]"), "{e}");
    }

    #[test]
    fn a_file_of_sites_alone_is_read_and_checked_as_in_station_toml() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sites.toml");
        let site = "[[sites]]\nid = \"T03\"\nname = \"龙街镇便民服务中心\"\ntownship = \"龙街镇\"\nhours = \"周一至周五 9:00-12:00\"\naddress = \"龙街镇政府一楼\"\nphone = \"0878-6221234\"\n";
        std::fs::write(&path, site).expect("write");
        let sites = load_sites(&path).expect("sites");
        assert_eq!((sites.len(), sites[0].id.as_str()), (1, "T03"));
        std::fs::write(&path, format!("{site}{site}")).expect("write");
        assert!(load_sites(&path).is_err(), "the same site twice is refused");
        std::fs::write(&path, format!("station = \"S1\"\n{site}")).expect("write");
        let e = load_sites(&path).expect_err("another setting");
        assert!(e.to_string().contains("only [[sites]]"), "{e}");
    }

    #[test]
    fn the_packaged_example_reads() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/debian/station.toml"));
        let c = StationConfig::load(path).expect("the example in the package's docs");
        assert_eq!((c.daemon.station.as_str(), c.daemon.operators.len()), ("S-0101", 2));
        c.daemon.check_listen().expect("loopback");
        assert!(matches!(c.counter.expect("counter").provincial, ProvincialConfig::Service { .. }));
    }

    /// The `[counter]` section of a configuration with `identity_verification = {value}`.
    fn verification(value: &str) -> Result<IdentityVerificationConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        let text = format!(
            "station = \"S-0101\"\ndata_dir = \"/var/lib/station\"\n\n[[operator]]\nname = \"op1\"\nrole = \"operator\"\npassword_hash = \"x\"\n\n[counter]\nprinter = \"usb:0x0F7E:0x0A01\"\nprofile = \"p.toml\"\nregion = \"110100\"\ninit_org = \"1\"\nprovincial = {{ kind = \"sqlite\" }}\nidentity_verification = {value}\n"
        );
        std::fs::write(&path, text).expect("write");
        StationConfig::load(&path).map(|c| c.counter.expect("counter").identity_verification)
    }

    #[test]
    fn the_table_form_takes_the_client_pair_both_or_neither() {
        let one_way =
            verification(r#"{ url = "https://idv.example", ca = "/etc/idv-ca.pem" }"#).expect("CA only");
        let IdentityVerificationConfig::Service { tls, .. } = &one_way else { panic!("{one_way:?}") };
        assert_eq!((tls.ca.as_path(), &tls.client), (Path::new("/etc/idv-ca.pem"), &None));
        for half in [r#"client_cert = "c.pem""#, r#"client_key = "c.key""#] {
            let e = verification(&format!(r#"{{ url = "https://idv.example", ca = "ca.pem", {half} }}"#))
                .expect_err("half a pair");
            assert!(e.to_string().contains("client_cert and client_key go together"), "{e}");
        }
        let e = verification(r#"{ url = "https://idv.example" }"#).expect_err("no CA");
        assert!(e.to_string().contains("missing field `ca`"), "{e}");
        let e = verification(r#"{ url = "https://idv.example", ca = "ca.pem", cert = "c.pem" }"#)
            .expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `cert`"), "{e}");
    }

    #[test]
    fn a_bare_url_is_plain_http_for_the_simulators_only() {
        let plain = verification(r#""http://127.0.0.1:8790""#).expect("the simulated set-ups' string");
        assert_eq!(plain.url(), "http://127.0.0.1:8790");
        assert_eq!(plain.transport(true).expect("with the simulators"), idv::Transport::PlainForSimulators);
        let e = plain.transport(false).expect_err("without the simulators");
        assert!(matches!(e, idv::SetupError::PlainHttp), "{e}");
        assert!(
            e.to_string().contains("http:// is only for the simulators") && e.to_string().contains("ca = ")
        );
        // An https string has no CA: refused here without the simulators, by idv with them.
        let e =
            verification(r#""https://idv.example""#).expect("parses").transport(false).expect_err("no CA");
        assert!(matches!(e, idv::SetupError::NoCa { .. }), "{e}");
        // The table is TLS in every build.
        let table = verification(r#"{ url = "https://idv.example", ca = "ca.pem" }"#).expect("table");
        for simulators in [false, true] {
            assert!(matches!(table.transport(simulators), Ok(idv::Transport::Tls(_))));
        }
        assert_eq!(SIMULATORS, cfg!(feature = "sim"));
    }
}
