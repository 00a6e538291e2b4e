//! [`HttpBank`]: the wire API of the crate documentation over HTTPS. The same stack as the
//! identity verification client (reqwest, blocking, rustls with ring): only the configured CA
//! is trusted (never the system's roots), the station shows its certificate (mutual TLS), and
//! its key file must be its owner's alone. Plain `http://` is for the simulator: the caller
//! says whether its build carries it ([`Transport::PlainForSimulators`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use crate::request::{now_unix, scrub, Refusal, DEFAULT_MAX_PHOTO_AGE_SECONDS};
#[cfg(test)]
use crate::RefusalCode;
use crate::{AccountInfo, Activation, ActivationRequest, BankCardSystem, BankError, CardRef};

/// How the card system may be reached, its TLS and the station's identity: the same types
/// (and the same client) as identity verification's.
pub use idv::{ClientIdentity, TlsConfig, Transport};

/// Why no client of a card system could be made. Each says what to change; none carries key
/// material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The URL does not parse, or its scheme is neither `https` nor `http`.
    #[error("[counter.bank] system url {url:?} is not an https:// URL ({message})")]
    Url {
        /// What was configured.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Plain HTTP where only TLS is allowed.
    #[error("[counter.bank] system url: http:// is only for the simulator; give the bank's https:// URL and its CA (ca, client_cert, client_key)")]
    PlainHttp,
    /// An `https://` URL with no CA.
    #[error("[counter.bank] system url {url} needs the CA that anchors the bank's service (ca = \"bank/ca.pem\"; client_cert and client_key for mutual TLS)")]
    NoCa {
        /// The URL.
        url: String,
    },
    /// Only one of the client certificate and key.
    #[error("[counter.bank] system {url}: client_cert and client_key go together (both for mutual TLS, or neither)")]
    HalfIdentity {
        /// The system's URL.
        url: String,
    },
    /// A file could not be read.
    #[error("{path}: {source} (check the path under [counter.bank])")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CA or client certificate file holds no usable certificate.
    #[error("{path}: {message}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The private key file holds no usable key.
    #[error("{path}: no usable private key ({message}); client_key must be a PEM private key")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the key).
        message: String,
    },
    /// The private key can be read by others than its owner.
    #[error("{path} can be read by others (mode {mode:04o}): run `chmod 600 {path}`")]
    KeyReadable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key is not the certificate's.
    #[error(
        "client_key {key} is not the key of client_cert {cert} ({message}): give the pair the bank issued"
    )]
    NotAPair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
    /// The bank list.
    #[error("[counter.bank] banks_file: {0}")]
    Registry(#[from] crate::RegistryError),
    /// A system names a bank the list does not have.
    #[error("[counter.bank] system {url} serves bank {code}, which the bank list does not have: use a code of the list ({known})")]
    UnknownBank {
        /// The system's URL.
        url: String,
        /// The code.
        code: String,
        /// The list's codes.
        known: String,
    },
    /// Two systems for one bank.
    #[error("[counter.bank] bank {0} is served by two systems: each bank by one")]
    TwiceServed(String),
    /// The HTTP client could not be built.
    #[error("bank card system client: {0}")]
    Client(String),
}

/// The shared client's set-up errors in `[counter.bank]`'s words (the same cases, the hints
/// naming this section).
impl From<idv::SetupError> for SetupError {
    fn from(e: idv::SetupError) -> SetupError {
        match e {
            idv::SetupError::Url { url, message } => SetupError::Url { url, message },
            idv::SetupError::PlainHttp => SetupError::PlainHttp,
            idv::SetupError::NoCa { url } => SetupError::NoCa { url },
            idv::SetupError::Io { path, source } => SetupError::Io { path, source },
            idv::SetupError::Certificate { path, message } => SetupError::Certificate { path, message },
            idv::SetupError::Key { path, message } => SetupError::Key { path, message },
            idv::SetupError::KeyReadable { path, mode } => SetupError::KeyReadable { path, mode },
            idv::SetupError::NotAPair { cert, key, message } => SetupError::NotAPair { cert, key, message },
            idv::SetupError::Client(message) => SetupError::Client(message),
        }
    }
}

/// Why a TLS session with the bank failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    /// The bank's certificate is not one the configured CA vouches for.
    #[error("the bank's certificate is not trusted ({0}): is ca the CA that anchors this bank's service?")]
    ServerCertificate(String),
    /// The bank ended the handshake: it wants a client certificate it trusts.
    #[error("the bank refused the TLS session ({0}): it wants this station's certificate (client_cert, client_key) from a CA it trusts")]
    Refused(String),
    /// Anything else TLS said.
    #[error("TLS: {0}")]
    Other(String),
}

/// One card system in `[counter.bank]`:
///
/// ```toml
/// [[counter.bank.system]]
/// banks = ["ICBC"]                         # the banks whose cards it activates
/// url = "https://cards.bank.example:8443"
/// ca = "bank/ca.pem"
/// client_cert = "bank/S-0101.pem"
/// client_key = "bank/S-0101.key"           # chmod 600
/// timeout_seconds = 20
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    /// The codes of the banks whose cards it activates.
    pub banks: Vec<String>,
    /// Base URL.
    pub url: String,
    /// The CA that anchors it (required for `https://`).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The station's certificate.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// Its key.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    20
}

impl SystemConfig {
    /// Relative paths are `dir`'s (the configuration file's directory).
    pub fn resolve(&mut self, dir: &Path) {
        for p in self.ca.iter_mut().chain(self.client_cert.iter_mut()).chain(self.client_key.iter_mut()) {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }

    /// The transport this build allows: TLS with `ca`; plain http only when `simulators`.
    pub fn transport(&self, simulators: bool) -> Result<Transport, SetupError> {
        let client = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientIdentity { cert: cert.clone(), key: key.clone() }),
            (None, None) => None,
            _ => return Err(SetupError::HalfIdentity { url: self.url.clone() }),
        };
        match (&self.ca, self.url.starts_with("http://")) {
            (Some(ca), _) => Ok(Transport::Tls(TlsConfig { ca: ca.clone(), client })),
            (None, true) if simulators => Ok(Transport::PlainForSimulators),
            (None, true) => Err(SetupError::PlainHttp),
            (None, false) => Err(SetupError::NoCa { url: self.url.clone() }),
        }
    }

    /// The client; its files are read now, so a wrong path fails at start.
    pub fn client(&self, simulators: bool, max_photo_age_seconds: u64) -> Result<HttpBank, SetupError> {
        let timeout = Duration::from_secs(self.timeout_seconds.max(1));
        Ok(HttpBank::new(&self.url, &self.transport(simulators)?, timeout)?
            .max_photo_age(max_photo_age_seconds))
    }
}

/// A bank's card system over HTTP(S).
pub struct HttpBank {
    http: reqwest::blocking::Client,
    base: String,
    max_photo_age_seconds: u64,
}

impl HttpBank {
    /// A client of `url` over `transport` with a per-request `timeout`. The CA and client
    /// files are read here.
    pub fn new(url: &str, transport: &Transport, timeout: Duration) -> Result<HttpBank, SetupError> {
        let (http, base) = idv::transport::client(url, transport, timeout)?;
        Ok(HttpBank { http, base, max_photo_age_seconds: DEFAULT_MAX_PHOTO_AGE_SECONDS })
    }

    /// The oldest photo accepted, in seconds (default [`DEFAULT_MAX_PHOTO_AGE_SECONDS`]).
    pub fn max_photo_age(mut self, seconds: u64) -> HttpBank {
        self.max_photo_age_seconds = seconds;
        self
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET {url}/`: any answer proves the session (the handshake and the bank's acceptance of
    /// the station's certificate) without asking about any card. The answer's HTTP status.
    pub fn probe(&self) -> Result<u16, BankError> {
        let r = self.http.get(format!("{}/", self.base)).send().map_err(|e| from_request(&e))?;
        Ok(r.status().as_u16())
    }
}

/// A request that got no answer: a TLS failure is the configuration's; anything else is the
/// bank being unavailable.
fn from_request(e: &reqwest::Error) -> BankError {
    match idv::transport::rustls_error(e) {
        Some(tls) => BankError::Config(
            match tls {
                rustls::Error::InvalidCertificate(_) => TlsFailure::ServerCertificate(tls.to_string()),
                rustls::Error::AlertReceived(_) => TlsFailure::Refused(tls.to_string()),
                _ => TlsFailure::Other(tls.to_string()),
            }
            .to_string(),
        ),
        None => BankError::Unavailable(idv::transport::chain(e)),
    }
}

/// The first 200 characters of an answer's body, scrubbed.
fn excerpt(status: StatusCode, text: &str) -> String {
    let t: String = text.chars().take(200).collect();
    format!("HTTP {status}: {}", scrub(&t))
}

/// A refusal body, scrubbed; `None` when the body is not one.
fn refusal(text: &str) -> Option<BankError> {
    let r: Refusal = serde_json::from_str(text).ok()?;
    Some(BankError::Refused { code: r.code, reason: scrub(&r.reason) })
}

/// What an answer's status says when it is not a success.
fn failure(status: StatusCode, text: &str, key: Option<&str>) -> BankError {
    match status {
        StatusCode::UNPROCESSABLE_ENTITY => refusal(text)
            .unwrap_or_else(|| BankError::Protocol(format!("a refusal without code and reason ({})", excerpt(status, text)))),
        StatusCode::CONFLICT if key.is_some() => BankError::KeyConflict { key: key.unwrap_or_default().into() },
        StatusCode::BAD_REQUEST => BankError::Protocol(format!("the bank refused the request as malformed ({})", excerpt(status, text))),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BankError::Config(format!(
            "the bank does not accept this station ({}): check client_cert and client_key and that the bank registered the station",
            excerpt(status, text)
        )),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
            BankError::Config(format!("no card system API at the configured url ({})", excerpt(status, text)))
        }
        _ => BankError::Unavailable(excerpt(status, text)),
    }
}

impl BankCardSystem for HttpBank {
    fn activate(&self, request: &ActivationRequest) -> Result<Activation, BankError> {
        let key = request.request_id.as_str();
        if let Err(problem) = request.face_to_face.check(now_unix(), self.max_photo_age_seconds) {
            tracing::info!(%key, card = %request.card_number, %problem, "activation refused at the station");
            return Err(BankError::NotFaceToFace(problem));
        }
        request.check_scope().map_err(|e| BankError::Protocol(e.to_string()))?;
        let r = self
            .http
            .post(format!("{}/v1/activations", self.base))
            .header("Idempotency-Key", key)
            .json(request)
            .send()
            .map_err(|e| from_request(&e))?;
        let status = r.status();
        let text = r.text().map_err(|e| from_request(&e))?;
        let replayed = match status {
            StatusCode::CREATED => false,
            StatusCode::OK => true,
            _ => {
                let e = failure(status, &text, Some(key));
                tracing::info!(%key, card = %request.card_number, error = %e, "activation not done");
                return Err(e);
            }
        };
        let mut a: Activation = serde_json::from_str(&text)
            .map_err(|e| BankError::Protocol(format!("the answer is not an activation ({e})")))?;
        if a.card_number != request.card_number || a.bank_code != request.bank_code {
            return Err(BankError::Protocol(format!(
                "the answer is for card {} at {}, not {} at {}",
                a.card_number, a.bank_code, request.card_number, request.bank_code
            )));
        }
        a.replayed = replayed;
        tracing::info!(%key, card = %a.card_number, bank = %a.bank_code, account = %a.account,
            status = ?a.status, reference = %a.reference, replayed, "activation confirmed by the bank");
        Ok(a)
    }

    fn account(&self, card: &CardRef) -> Result<AccountInfo, BankError> {
        let r = self
            .http
            .get(format!("{}/v1/cards/{}/account", self.base, card.card_number.as_str()))
            .send()
            .map_err(|e| from_request(&e))?;
        let status = r.status();
        let text = r.text().map_err(|e| from_request(&e))?;
        match status {
            StatusCode::OK => {}
            // A 404 with a refusal body is the bank's "no such card"; without one, a wrong URL.
            StatusCode::NOT_FOUND => {
                return Err(refusal(&text).unwrap_or_else(|| failure(status, &text, None)))
            }
            _ => return Err(failure(status, &text, None)),
        }
        let info: AccountInfo = serde_json::from_str(&text)
            .map_err(|e| BankError::Protocol(format!("the answer is not an account ({e})")))?;
        if info.card_number != card.card_number {
            return Err(BankError::Protocol(format!(
                "the answer is for card {}, not {}",
                info.card_number, card.card_number
            )));
        }
        Ok(info)
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
        let tls = Transport::Tls(TlsConfig { ca: "/nonexistent/ca.pem".into(), client: None });
        let sim = Transport::PlainForSimulators;
        assert!(matches!(HttpBank::new("http://127.0.0.1:1", &tls, t), Err(SetupError::PlainHttp)));
        assert!(matches!(HttpBank::new("https://bank.example", &sim, t), Err(SetupError::NoCa { .. })));
        assert!(matches!(HttpBank::new("ftp://bank.example", &tls, t), Err(SetupError::Url { .. })));
        assert!(matches!(HttpBank::new("https://bank.example", &tls, t), Err(SetupError::Io { .. })));
        let b = HttpBank::new("http://127.0.0.1:1/", &sim, t).expect("sim");
        assert_eq!(b.url(), "http://127.0.0.1:1");
    }

    #[test]
    fn files_are_checked_at_start() {
        let dir = tempfile::tempdir().expect("tmp");
        let empty = dir.path().join("empty.pem");
        write(&empty, "not a certificate\n", 0o644);
        let e = SetupError::from(idv::certificates(&empty).expect_err("no certificate"));
        assert!(e.to_string().contains("no certificate in it"), "{e}");
        let key = dir.path().join("client.key");
        write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o644);
        let id = ClientIdentity { cert: dir.path().join("missing.pem"), key: key.clone() };
        let e = idv::transport::load_identity(&id).map_err(SetupError::from);
        assert!(matches!(e, Err(SetupError::Io { .. })), "the certificate first");
    }

    #[test]
    fn a_system_section_reads_resolves_and_picks_its_transport() {
        let text = r#"
            banks = ["ICBC"]
            url = "https://cards.bank.example:8443"
            ca = "bank/ca.pem"
            client_cert = "bank/S-0101.pem"
            client_key = "/etc/station/bank/S-0101.key"
        "#;
        let mut c: SystemConfig = toml::from_str(text).expect("toml");
        c.resolve(Path::new("/etc/station"));
        assert_eq!(c.timeout_seconds, 20);
        let want = TlsConfig {
            ca: "/etc/station/bank/ca.pem".into(),
            client: Some(ClientIdentity {
                cert: "/etc/station/bank/S-0101.pem".into(),
                key: "/etc/station/bank/S-0101.key".into(),
            }),
        };
        assert_eq!(c.transport(false).expect("tls"), Transport::Tls(want));
        let half = SystemConfig { client_key: None, ..c.clone() };
        assert!(matches!(half.transport(false), Err(SetupError::HalfIdentity { .. })));
        let plain = SystemConfig {
            url: "http://127.0.0.1:8792".into(),
            ca: None,
            client_cert: None,
            client_key: None,
            ..c.clone()
        };
        assert_eq!(plain.transport(true).expect("sim"), Transport::PlainForSimulators);
        assert!(matches!(plain.transport(false), Err(SetupError::PlainHttp)));
        let no_ca = SystemConfig { ca: None, client_cert: None, client_key: None, ..c };
        assert!(matches!(no_ca.transport(true), Err(SetupError::NoCa { .. })));
        assert!(toml::from_str::<SystemConfig>(&text.replace("banks", "bank")).is_err());
    }

    #[test]
    fn answers_map_to_what_to_do() {
        let refused = failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"code":"name-mismatch","reason":"户名与证件 11010519491231002X 不符"}"#,
            Some("k"),
        );
        assert_eq!(
            refused,
            BankError::Refused {
                code: RefusalCode::NameMismatch,
                reason: "户名与证件 110105********002X 不符".into()
            }
        );
        assert!(matches!(
            failure(StatusCode::UNPROCESSABLE_ENTITY, "nope", Some("k")),
            BankError::Protocol(_)
        ));
        assert_eq!(
            failure(StatusCode::CONFLICT, "", Some("S:k")),
            BankError::KeyConflict { key: "S:k".into() }
        );
        assert!(matches!(failure(StatusCode::FORBIDDEN, "", None), BankError::Config(_)));
        assert!(matches!(failure(StatusCode::NOT_FOUND, "", None), BankError::Config(_)));
        assert!(matches!(failure(StatusCode::BAD_REQUEST, "", None), BankError::Protocol(_)));
        let busy = failure(StatusCode::SERVICE_UNAVAILABLE, "card 6212345302375609269 busy", None);
        assert_eq!(
            busy,
            BankError::Unavailable("HTTP 503 Service Unavailable: card 621234*********9269 busy".into())
        );
    }
}
