//! [`HttpGateway`]: the wire API of the crate documentation over HTTPS, trusting only the CA
//! the configuration names (a provincial platform's CA, or the system's bundle
//! `/etc/ssl/certs/ca-certificates.crt` for a public gateway). Plain `http://` is for the
//! simulator: the caller says whether its build carries it ([`Transport::PlainForSimulators`]).
//! The client is the one every service of the station is reached through
//! (`idv::transport::client`); this module keeps the `[sms]` wording of its errors.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use idv::transport::{chain, rustls_error};
use reqwest::StatusCode;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::{Message, Receipt, SmsError, SmsGateway};

/// How the gateway may be reached: the caller's policy (`https://` trusting only the CA file
/// of `[sms] ca`, with no client certificate; or `http://` to the simulator, which only a
/// build that carries the simulators passes).
pub use idv::Transport;

/// The station's account with the gateway. The secret never prints.
#[derive(Clone)]
pub struct Credentials {
    account: String,
    secret: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("account", &self.account).field("secret", &"***").finish()
    }
}

impl Credentials {
    /// An account and its secret.
    pub fn new(account: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials { account: account.into(), secret: Zeroizing::new(secret.into()) }
    }

    /// The secret from a file only its owner can read (surrounding white space dropped).
    pub fn from_file(account: impl Into<String>, path: &Path) -> Result<Credentials, SetupError> {
        let io = |source| SetupError::Io { path: path.to_path_buf(), source };
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SetupError::SecretReadable { path: path.to_path_buf(), mode });
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let secret = text.trim();
        if secret.is_empty() {
            return Err(SetupError::EmptySecret { path: path.to_path_buf() });
        }
        Ok(Credentials::new(account, secret))
    }

    /// The account.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// Why no gateway client could be made. Each says what to change; none carries the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The URL does not parse or has another scheme.
    #[error("sms.url {url:?} is not an https:// URL ({message})")]
    Url {
        /// What was configured.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Plain HTTP where only TLS is allowed.
    #[error(
        "sms.url: http:// is only for the simulator; give the gateway's https:// URL and its CA (sms.ca)"
    )]
    PlainHttp,
    /// An `https://` URL with no CA.
    #[error("sms.url {url} needs the CA that anchors the gateway: set sms.ca (a PEM file; /etc/ssl/certs/ca-certificates.crt for a public gateway)")]
    NoCa {
        /// The URL.
        url: String,
    },
    /// A file could not be read.
    #[error("{path}: {source} (check the path under [sms])")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("sms.ca {path}: {message}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The secret file can be read by others than its owner.
    #[error("sms.secret_file {path} can be read by others (mode {mode:04o}): run `chmod 600 {path}`")]
    SecretReadable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The secret file is empty.
    #[error("sms.secret_file {path} is empty: write the gateway secret into it")]
    EmptySecret {
        /// The file.
        path: PathBuf,
    },
    /// The HTTP client could not be built.
    #[error("SMS gateway client: {0}")]
    Client(String),
}

impl From<idv::SetupError> for SetupError {
    fn from(e: idv::SetupError) -> SetupError {
        match e {
            idv::SetupError::Url { url, message } => SetupError::Url { url, message },
            idv::SetupError::PlainHttp => SetupError::PlainHttp,
            idv::SetupError::NoCa { url } => SetupError::NoCa { url },
            idv::SetupError::Io { path, source } => SetupError::Io { path, source },
            idv::SetupError::Certificate { path, message } => SetupError::Certificate { path, message },
            // The gateway is reached without a client certificate: no key to read.
            other => SetupError::Client(other.to_string()),
        }
    }
}

/// The `[sms]` section of the station's configuration.
///
/// ```toml
/// [sms]
/// url = "https://sms.example.gov.cn:8443"
/// ca = "sms/ca.pem"
/// account = "S-0101"
/// secret_file = "sms/secret"     # chmod 600
/// signature = "某某县人社局"       # the registered SMS signature, without 【】
/// timeout_seconds = 10
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Base URL of the gateway.
    pub url: String,
    /// The CA that anchors it (required for `https://`).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The station's account.
    pub account: String,
    /// The file holding the secret.
    pub secret_file: PathBuf,
    /// The SMS signature, without 【】.
    pub signature: String,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The wait before the first retry of a message the gateway did not take (an outage, a
    /// lost answer); each further wait doubles, up to an hour.
    #[serde(default = "default_retry")]
    pub retry_seconds: u64,
}

fn default_timeout() -> u64 {
    10
}

fn default_retry() -> u64 {
    60
}

impl GatewayConfig {
    /// The outbox's retries from `retry_seconds` (at least a second).
    pub fn retry_policy(&self) -> crate::RetryPolicy {
        let first = i64::try_from(self.retry_seconds.max(1)).unwrap_or(i64::MAX);
        crate::RetryPolicy { backoff_seconds: first, ..crate::RetryPolicy::default() }
    }

    /// Relative paths are `dir`'s (the configuration file's directory).
    pub fn resolve(&mut self, dir: &Path) {
        for p in self.ca.iter_mut().chain(std::iter::once(&mut self.secret_file)) {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }

    /// The transport this build allows: TLS with `ca`; plain http only when `simulators`.
    pub fn transport(&self, simulators: bool) -> Result<Transport, SetupError> {
        match (&self.ca, self.url.starts_with("http://")) {
            (Some(ca), _) => Ok(Transport::Tls(idv::TlsConfig { ca: ca.clone(), client: None })),
            (None, true) if simulators => Ok(Transport::PlainForSimulators),
            (None, true) => Err(SetupError::PlainHttp),
            (None, false) => Err(SetupError::NoCa { url: self.url.clone() }),
        }
    }

    /// The gateway client; files are read now, so a wrong path fails at start.
    pub fn gateway(&self, simulators: bool) -> Result<HttpGateway, SetupError> {
        let credentials = Credentials::from_file(self.account.clone(), &self.secret_file)?;
        let timeout = Duration::from_secs(self.timeout_seconds.max(1));
        HttpGateway::new(&self.url, &self.transport(simulators)?, credentials, timeout)
    }
}

/// The gateway over HTTP(S).
pub struct HttpGateway {
    http: reqwest::blocking::Client,
    base: String,
    credentials: Credentials,
}

impl HttpGateway {
    /// A client of `url` over `transport` with a per-request `timeout`.
    pub fn new(
        url: &str,
        transport: &Transport,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<HttpGateway, SetupError> {
        let (http, base) = idv::transport::client(url, transport, timeout)?;
        Ok(HttpGateway { http, base, credentials })
    }
}

/// Whether rustls's error is among `e`'s causes.
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    rustls_error(e).is_some()
}

impl SmsGateway for HttpGateway {
    fn send(&self, message: &Message) -> Result<Receipt, SmsError> {
        let r = self
            .http
            .post(format!("{}/v1/messages", self.base))
            .basic_auth(&self.credentials.account, Some(self.credentials.secret.as_str()))
            .header("Idempotency-Key", message.key().as_str())
            .json(message)
            .send()
            .map_err(
                |e| if is_tls(&e) { SmsError::Tls(chain(&e)) } else { SmsError::Unavailable(chain(&e)) },
            )?;
        let status = r.status();
        let body = |r: reqwest::blocking::Response| {
            let t: String = r.text().unwrap_or_default().chars().take(200).collect();
            format!("{status}: {t}")
        };
        let replayed = match status {
            StatusCode::CREATED => false,
            StatusCode::OK => true,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                return Err(SmsError::Rejected(body(r)))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => return Err(SmsError::Credentials(body(r))),
            StatusCode::CONFLICT => return Err(SmsError::KeyConflict { key: message.key().clone() }),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                return Err(SmsError::Configuration(body(r)))
            }
            _ => return Err(SmsError::Unavailable(body(r))),
        };
        let mut receipt: Receipt = r
            .json()
            .map_err(|e| SmsError::Configuration(format!("the answer is not a receipt ({})", chain(&e))))?;
        if &receipt.key != message.key() {
            return Err(SmsError::Configuration(format!(
                "the receipt is for key {}, not {}",
                receipt.key,
                message.key()
            )));
        }
        receipt.replayed = replayed;
        tracing::info!(key = %receipt.key, id = %receipt.id, replayed, to = %message.to(), "SMS taken by the gateway");
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn the_scheme_must_match_the_policy() {
        let t = Duration::from_secs(1);
        let c = || Credentials::new("S-0101", "s3cret");
        let tls = Transport::Tls(idv::TlsConfig { ca: "/nonexistent/ca.pem".into(), client: None });
        let sim = Transport::PlainForSimulators;
        assert!(matches!(HttpGateway::new("http://127.0.0.1:1", &tls, c(), t), Err(SetupError::PlainHttp)));
        assert!(matches!(
            HttpGateway::new("https://sms.example", &sim, c(), t),
            Err(SetupError::NoCa { .. })
        ));
        assert!(matches!(HttpGateway::new("ftp://sms.example", &tls, c(), t), Err(SetupError::Url { .. })));
        assert!(matches!(HttpGateway::new("https://sms.example", &tls, c(), t), Err(SetupError::Io { .. })));
        let g = HttpGateway::new("http://127.0.0.1:1/", &sim, c(), t).expect("sim");
        assert_eq!(g.base, "http://127.0.0.1:1");
    }

    #[test]
    fn ca_and_secret_files_are_checked_at_start() {
        let dir = tempfile::tempdir().expect("tmp");
        let ca = dir.path().join("ca.pem");
        write(&ca, "not a certificate\n", 0o644);
        let tls = Transport::Tls(idv::TlsConfig { ca: ca.clone(), client: None });
        let e = HttpGateway::new(
            "https://sms.example",
            &tls,
            Credentials::new("S-0101", "x"),
            Duration::from_secs(1),
        )
        .err()
        .expect("no certificate");
        assert!(
            matches!(e, SetupError::Certificate { .. }) && e.to_string().contains("no certificate in it"),
            "{e}"
        );

        let secret = dir.path().join("secret");
        write(&secret, "s3cret\n", 0o644);
        let e = Credentials::from_file("S-0101", &secret).expect_err("readable by others");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        write(&secret, "s3cret\n", 0o600);
        let c = Credentials::from_file("S-0101", &secret).expect("secret");
        assert_eq!(c.secret.as_str(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        write(&secret, "\n", 0o600);
        assert!(matches!(Credentials::from_file("S-0101", &secret), Err(SetupError::EmptySecret { .. })));
    }

    #[test]
    fn the_configuration_section_reads_and_resolves() {
        #[derive(Deserialize)]
        struct Station {
            sms: GatewayConfig,
        }
        let text = r#"
            [sms]
            url = "https://sms.example.gov.cn:8443"
            ca = "sms/ca.pem"
            account = "S-0101"
            secret_file = "/etc/station/sms.secret"
            signature = "某某县人社局"
        "#;
        let mut c = toml::from_str::<Station>(text).expect("toml").sms;
        c.resolve(Path::new("/etc/station"));
        assert_eq!(c.ca.as_deref(), Some(Path::new("/etc/station/sms/ca.pem")));
        assert_eq!(c.secret_file, Path::new("/etc/station/sms.secret"));
        assert_eq!(c.timeout_seconds, 10);
        assert_eq!(c.retry_policy().backoff_seconds, 60, "a minute before the first retry");
        let quick = toml::from_str::<Station>(&format!("{text}retry_seconds = 0")).expect("toml").sms;
        assert_eq!(quick.retry_policy().backoff_seconds, 1, "at least a second");
        let tls = idv::TlsConfig { ca: "/etc/station/sms/ca.pem".into(), client: None };
        assert_eq!(c.transport(false).expect("tls"), Transport::Tls(tls));
        let plain = GatewayConfig { url: "http://127.0.0.1:8791".into(), ca: None, ..c.clone() };
        assert_eq!(plain.transport(true).expect("sim"), Transport::PlainForSimulators);
        assert!(matches!(plain.transport(false), Err(SetupError::PlainHttp)));
        let no_ca = GatewayConfig { ca: None, ..c };
        assert!(matches!(no_ca.transport(true), Err(SetupError::NoCa { .. })));
        assert!(toml::from_str::<Station>(&text.replace("account", "acount")).is_err());
    }
}
