//! [`HttpBank`]: the wire API of the crate documentation over HTTPS. The same stack as the
//! identity verification client (reqwest, blocking, rustls with ring): only the configured CA
//! is trusted (never the system's roots), the station shows its certificate (mutual TLS), and
//! its key file must be its owner's alone. Plain `http://` is for the simulator: the caller
//! says whether its build carries it ([`Transport::PlainForSimulators`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::request::{now_unix, scrub, Refusal, DEFAULT_MAX_PHOTO_AGE_SECONDS};
#[cfg(test)]
use crate::RefusalCode;
use crate::{AccountInfo, Activation, ActivationRequest, BankCardSystem, BankError, CardRef};

/// How the card system may be reached: the caller's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `https://` only, trusting only the configured CA.
    Tls(TlsConfig),
    /// `http://` to the simulator. Only a build that carries the simulators passes this.
    PlainForSimulators,
}

/// The card system's TLS as the configuration gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of the CA certificate(s) that anchor the bank's service; nothing else is
    /// trusted.
    pub ca: PathBuf,
    /// The station's certificate and key (banks ask for mutual TLS).
    pub client: Option<ClientIdentity>,
}

/// The station's certificate chain and its private key, two PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, the station's own certificate first.
    pub cert: PathBuf,
    /// The private key; readable by its owner only.
    pub key: PathBuf,
}

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
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| SetupError::Url { url: url.into(), message: e.to_string() })?;
        let builder = reqwest::blocking::Client::builder().timeout(timeout).connect_timeout(timeout);
        let builder = match (parsed.scheme(), transport) {
            ("https", Transport::Tls(tls)) => {
                builder.use_preconfigured_tls(client_config(tls)?).https_only(true)
            }
            ("http", Transport::Tls(_)) => return Err(SetupError::PlainHttp),
            ("https", Transport::PlainForSimulators) => return Err(SetupError::NoCa { url: url.into() }),
            ("http", Transport::PlainForSimulators) => builder,
            (scheme, _) => {
                return Err(SetupError::Url { url: url.into(), message: format!("scheme {scheme}") });
            }
        };
        let http = builder.build().map_err(|e| SetupError::Client(chain(&e)))?;
        Ok(HttpBank {
            http,
            base: url.trim_end_matches('/').to_string(),
            max_photo_age_seconds: DEFAULT_MAX_PHOTO_AGE_SECONDS,
        })
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

/// The rustls configuration: the CA's certificates as the only roots, and the station's
/// identity when there is one (rustls checks that the key is the certificate's).
fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(&tls.ca)? {
        roots.add(cert).map_err(|e| SetupError::Certificate {
            path: tls.ca.clone(),
            message: format!("not a usable CA certificate ({e})"),
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Client(e.to_string()))?
        .with_root_certificates(roots);
    match &tls.client {
        None => Ok(builder.with_no_client_auth()),
        Some(id) => {
            let (chain, key) = load_identity(id)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| SetupError::NotAPair {
                cert: id.cert.clone(),
                key: id.key.clone(),
                message: e.to_string(),
            })
        }
    }
}

/// The station's certificate chain and key; the key file must be its owner's alone.
fn load_identity(
    id: &ClientIdentity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), SetupError> {
    let chain = certificates(&id.cert)?;
    let io = |source| SetupError::Io { path: id.key.clone(), source };
    let mode = std::fs::metadata(&id.key).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SetupError::KeyReadable { path: id.key.clone(), mode });
    }
    let pem = Zeroizing::new(std::fs::read(&id.key).map_err(io)?);
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| SetupError::Key { path: id.key.clone(), message: e.to_string() })?;
    Ok((chain, key))
}

/// Every certificate of a PEM file; an error when there is none.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let bytes = std::fs::read(path).map_err(|source| SetupError::Io { path: path.to_path_buf(), source })?;
    let bad = |message: String| SetupError::Certificate { path: path.to_path_buf(), message };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM ({e})")))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it (PEM, -----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(certs)
}

/// An error and its causes on one line: reqwest's own text names only the URL (which carries
/// no ID or card number).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text = format!("{text}: {next}");
        }
        source = s.source();
    }
    text
}

/// rustls's error travels inside I/O errors (nested ones too), whose `source` skips what they
/// wrap: look inside each of those as well as down the chain.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
    if let Some(found) = inner.and_then(|i| rustls_error(i)) {
        return Some(found);
    }
    e.source().and_then(rustls_error)
}

/// A request that got no answer: a TLS failure is the configuration's; anything else is the
/// bank being unavailable.
fn from_request(e: &reqwest::Error) -> BankError {
    match rustls_error(e) {
        Some(tls) => BankError::Config(
            match tls {
                rustls::Error::InvalidCertificate(_) => TlsFailure::ServerCertificate(tls.to_string()),
                rustls::Error::AlertReceived(_) => TlsFailure::Refused(tls.to_string()),
                _ => TlsFailure::Other(tls.to_string()),
            }
            .to_string(),
        ),
        None => BankError::Unavailable(chain(e)),
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
        let e = certificates(&empty).expect_err("no certificate");
        assert!(e.to_string().contains("no certificate in it"), "{e}");
        let key = dir.path().join("client.key");
        write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o644);
        let id = ClientIdentity { cert: dir.path().join("missing.pem"), key: key.clone() };
        assert!(matches!(load_identity(&id), Err(SetupError::Io { .. })), "the certificate first");
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
