//! How [`crate::HttpVerifier`] reaches the service. The identity numbers of every applicant go
//! over this connection, so the default is TLS that trusts only the CA the configuration names
//! (never the system's roots), with the station's own certificate when the service asks for
//! mutual TLS. Plain `http://` is for the simulators on this machine: the caller says whether
//! it may be used ([`Transport::PlainForSimulators`]), since only the caller knows whether its
//! build carries them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

/// How the service may be reached: the caller's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `https://` only, trusting only the configured CA.
    Tls(TlsConfig),
    /// `http://` to a simulator. Only a build that carries the simulators passes this; an
    /// `https://` URL is refused with it (there is no CA to anchor the service).
    PlainForSimulators,
}

/// The service's TLS as the configuration gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of the CA certificate(s) that anchor the service; nothing else is trusted.
    pub ca: PathBuf,
    /// The station's certificate and key, when the service wants mutual TLS.
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

/// Why no client of the service could be made. Each says what to change; none carries key
/// material.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL does not parse, or its scheme is neither `https` nor `http`.
    #[error("identity_verification: {url:?} is not an https:// URL ({message})")]
    Url {
        /// What was configured.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// Plain HTTP where only TLS is allowed.
    #[error("identity_verification: http:// is only for the simulators; give the service's https URL and its CA (identity_verification = {{ url = \"https://...\", ca = \"ca.pem\" }})")]
    PlainHttp,
    /// An `https://` URL with no CA to anchor it.
    #[error("identity_verification: {url} needs the CA that anchors the service (identity_verification = {{ url = \"{url}\", ca = \"ca.pem\" }}; client_cert and client_key too for mutual TLS)")]
    NoCa {
        /// The URL.
        url: String,
    },
    /// A file could not be read.
    #[error("{path}: {source} (check the path under identity_verification)")]
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
        "client_key {key} is not the key of client_cert {cert} ({message}): give the pair the service issued"
    )]
    NotAPair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("identity verification client: {0}")]
    Client(String),
}

/// Why a TLS session with the service failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    /// The service's certificate is not one the configured CA vouches for (another CA,
    /// expired, another host name).
    #[error("the service's certificate is not trusted ({0}): is ca the CA that anchors this service?")]
    ServerCertificate(String),
    /// The service ended the handshake: it wants a client certificate it trusts.
    #[error("the service refused the TLS session ({0}): it wants this station's certificate (client_cert, client_key) from a CA it trusts")]
    Refused(String),
    /// Anything else TLS said.
    #[error("TLS: {0}")]
    Other(String),
}

/// A blocking HTTP client of `url` over `transport`, and the URL without its trailing `/`.
/// Every service the station reaches over mutual TLS (identity verification, the banks' card
/// systems) is reached through this one; a caller with its own configuration section maps the
/// [`SetupError`] into its own words.
pub fn client(
    url: &str,
    transport: &Transport,
    timeout: Duration,
) -> Result<(reqwest::blocking::Client, String), SetupError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| SetupError::Url { url: url.into(), message: e.to_string() })?;
    let builder = reqwest::blocking::Client::builder().timeout(timeout).connect_timeout(timeout);
    let builder = match (parsed.scheme(), transport) {
        ("https", Transport::Tls(tls)) => builder.use_preconfigured_tls(client_config(tls)?).https_only(true),
        ("http", Transport::Tls(_)) => return Err(SetupError::PlainHttp),
        ("https", Transport::PlainForSimulators) => return Err(SetupError::NoCa { url: url.into() }),
        ("http", Transport::PlainForSimulators) => builder,
        (scheme, _) => {
            return Err(SetupError::Url { url: url.into(), message: format!("scheme {scheme}") });
        }
    };
    let http = builder.build().map_err(|e| SetupError::Client(chain(&e)))?;
    Ok((http, url.trim_end_matches('/').to_string()))
}

/// The rustls configuration: the CA's certificates as the only roots, and the station's
/// identity when there is one (rustls checks that the key is the certificate's).
pub(crate) fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, SetupError> {
    let roots = load_ca(&tls.ca)?;
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

/// The CA file's certificates as a root store. A system bundle (a public SMS gateway's
/// `/etc/ssl/certs/ca-certificates.crt`) may hold certificates rustls cannot use: those are
/// skipped, but at least one must be usable.
pub(crate) fn load_ca(path: &Path) -> Result<rustls::RootCertStore, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let (added, _skipped) = roots.add_parsable_certificates(certificates(path)?);
    if added == 0 {
        return Err(SetupError::Certificate {
            path: path.to_path_buf(),
            message: "no usable CA certificate in it".into(),
        });
    }
    Ok(roots)
}

/// The station's certificate chain and key. The key file must be its owner's alone: a key
/// others can read is a station anyone on the machine can impersonate.
pub fn load_identity(
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
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
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

/// An error and its causes on one line: reqwest's own text names only the URL.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// The TLS failure among `e`'s causes, if there is one.
pub(crate) fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
    let tls = rustls_error(e)?;
    Some(match tls {
        rustls::Error::InvalidCertificate(_) => TlsFailure::ServerCertificate(tls.to_string()),
        rustls::Error::AlertReceived(_) => TlsFailure::Refused(tls.to_string()),
        _ => TlsFailure::Other(tls.to_string()),
    })
}

/// rustls's error travels inside I/O errors (nested ones too), whose `source` skips what
/// they wrap: look inside each of those as well as down the chain.
pub fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
    if let Some(found) = inner.and_then(|i| rustls_error(i)) {
        return Some(found);
    }
    e.source().and_then(rustls_error)
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
        let tls = Transport::Tls(TlsConfig { ca: "/nonexistent/ca.pem".into(), client: None });
        let t = Duration::from_secs(1);
        let e = client("http://127.0.0.1:8790", &tls, t).expect_err("plain under TLS");
        assert!(matches!(e, SetupError::PlainHttp), "{e}");
        assert!(e.to_string().contains("only for the simulators") && e.to_string().contains("ca = "), "{e}");
        let e = client("https://idv.example", &Transport::PlainForSimulators, t).expect_err("no CA");
        assert!(matches!(e, SetupError::NoCa { .. }), "{e}");
        assert!(matches!(client("ftp://idv.example", &tls, t), Err(SetupError::Url { .. })));
        assert!(matches!(client("idv.example", &tls, t), Err(SetupError::Url { .. })));
        let (_, base) = client("http://127.0.0.1:8790/", &Transport::PlainForSimulators, t).expect("sim");
        assert_eq!(base, "http://127.0.0.1:8790");
        let e = client("https://idv.example", &tls, t).expect_err("missing CA file");
        assert!(matches!(&e, SetupError::Io { path, .. } if path.ends_with("ca.pem")), "{e}");
    }

    #[test]
    fn files_without_certificates_are_refused_the_certificate_before_the_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let empty = dir.path().join("empty.pem");
        write(&empty, "not a certificate\n", 0o644);
        let e = load_ca(&empty).expect_err("no certificate");
        assert!(e.to_string().contains("no certificate in it"), "{e}");

        let key = dir.path().join("client.key");
        write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0o644);
        let id = ClientIdentity { cert: dir.path().join("missing.pem"), key: key.clone() };
        assert!(matches!(load_identity(&id), Err(SetupError::Io { .. })), "the certificate first");
        let id = ClientIdentity { cert: empty.clone(), key: key.clone() };
        assert!(matches!(load_identity(&id), Err(SetupError::Certificate { .. })));
    }
}
