//! The page over TLS: the daemon's certificate and key from files (rustls), and a first
//! set-up's self-signed pair with the SHA-256 fingerprint the operator compares in the browser.
//! Without TLS the daemon listens on loopback only ([`crate::config::Config::check_listen`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use sha2::Digest;

/// `[tls]` of `station.toml`: the certificate chain and its key, PEM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain (the daemon's first).
    pub cert: PathBuf,
    /// Its private key; readable by the station's user only.
    pub key: PathBuf,
}

/// Why TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {message}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io { path: path.into(), source })
}

/// The server configuration from `files`: the key must not be readable by group or others.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |path: &Path, message: String| TlsError::Bad { path: path.into(), message };
    let mode = std::fs::metadata(&files.key)
        .map_err(|source| TlsError::Io { path: files.key.clone(), source })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(bad(
            &files.key,
            format!(
                "the key is readable by others (mode {:o}): chmod 600 {}",
                mode & 0o777,
                files.key.display()
            ),
        ));
    }
    let chain = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(bad(&files.cert, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|e| bad(&files.key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| bad(&files.cert, format!("the certificate and key do not make a TLS identity: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The SHA-256 fingerprint of the first certificate in `cert` (`AB:CD:...`), as a browser's
/// certificate viewer shows it.
pub fn fingerprint(cert: &Path) -> Result<String, TlsError> {
    let der = CertificateDer::pem_slice_iter(&read(cert)?)
        .next()
        .ok_or_else(|| TlsError::Bad { path: cert.into(), message: "no certificate in the file".into() })?
        .map_err(|e| TlsError::Bad { path: cert.into(), message: e.to_string() })?;
    let digest = sha2::Sha256::digest(der.as_ref());
    Ok(digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}

/// Makes a self-signed certificate for `names` (host names or IP addresses the counter's
/// browsers use) in `dir` (`station-tls.crt`, `station-tls.key` 0600); the files and the
/// certificate's fingerprint. An existing pair is never overwritten.
pub fn self_signed(dir: &Path, names: &[String]) -> Result<(TlsFiles, String), TlsError> {
    let files = TlsFiles { cert: dir.join("station-tls.crt"), key: dir.join("station-tls.key") };
    for path in [&files.cert, &files.key] {
        if path.exists() {
            return Err(TlsError::Bad {
                path: path.clone(),
                message: "already there: use it (its fingerprint: `station serve --tls-fingerprint`) or move it away first".into(),
            });
        }
    }
    let bad = |message: String| TlsError::Bad { path: files.cert.clone(), message };
    let key = rcgen::KeyPair::generate().map_err(|e| bad(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| bad(e.to_string()))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, names.first().cloned().unwrap_or_default());
    let cert = params.self_signed(&key).map_err(|e| bad(e.to_string()))?;
    crate::files::write_atomic(dir, "station-tls.key", key.serialize_pem().as_bytes())
        .map_err(|source| TlsError::Io { path: files.key.clone(), source })?;
    crate::files::write_atomic(dir, "station-tls.crt", cert.pem().as_bytes())
        .map_err(|source| TlsError::Io { path: files.cert.clone(), source })?;
    let print = fingerprint(&files.cert)?;
    Ok((files, print))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_serves_and_a_readable_key_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let (files, print) =
            self_signed(dir.path(), &["counter-3.example".into(), "10.0.0.3".into()]).expect("pair");
        assert_eq!(print.len(), 32 * 3 - 1, "{print}");
        assert_eq!(fingerprint(&files.cert).expect("again"), print);
        server_config(&files).expect("usable");
        assert!(self_signed(dir.path(), &["x".into()]).is_err(), "never overwritten");

        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = server_config(&files).expect_err("readable key").to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
