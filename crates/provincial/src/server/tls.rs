//! The service's TLS: client certificates required, chained to the CA and checked against the
//! CA's revocation list. The list is looked at (its size, time and inode: one `stat`) before
//! every handshake and the configuration rebuilt when it changed, so a revocation reaches the
//! next handshake without a restart; a list that cannot be read or parsed refuses every
//! connection instead of accepting everyone.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::Station;
use crate::pki::{read, PkiError, PkiPaths};

/// What identifies one version of the revocation list's file: a replacement (rename) changes
/// the inode, an edit in place the time or the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: SystemTime,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok(Stamp { modified: m.modified()?, len: m.len(), inode: m.ino() })
}

/// The service's TLS, made from a PKI directory ([`super::tls_config`]) and handed to
/// [`super::spawn`], which asks it for the acceptor of each handshake.
pub struct ServerTls {
    paths: PkiPaths,
    stamp: Option<Stamp>,
    current: Result<TlsAcceptor, String>,
}

impl ServerTls {
    /// Reads the PKI; any unusable file (the revocation list too) is an error here.
    pub(super) fn load(paths: &PkiPaths) -> Result<ServerTls, PkiError> {
        let stamp = stamp(&paths.crl()).map_err(|source| PkiError::Io { path: paths.crl(), source })?;
        let acceptor = TlsAcceptor::from(config(paths)?);
        Ok(ServerTls { paths: paths.clone(), stamp: Some(stamp), current: Ok(acceptor) })
    }

    /// The acceptor for the next handshake, rebuilt first if the revocation list changed; the
    /// reason to refuse the connection when the list (or the rest of the PKI) is unusable.
    pub(super) fn acceptor(&mut self) -> Result<TlsAcceptor, &str> {
        let now = stamp(&self.paths.crl());
        let seen = now.as_ref().ok().copied();
        if seen != self.stamp || (seen.is_none() && self.current.is_ok()) {
            self.stamp = seen;
            self.current = match now {
                Ok(_) => config(&self.paths).map(TlsAcceptor::from).map_err(|e| e.to_string()),
                Err(e) => Err(format!("{}: {e}", self.paths.crl().display())),
            };
            match &self.current {
                Ok(_) => tracing::info!(crl = %self.paths.crl().display(), "revocation list loaded"),
                Err(e) => tracing::error!(error = %e, "the PKI is unusable: refusing every connection"),
            }
        }
        self.current.as_ref().cloned().map_err(String::as_str)
    }
}

/// The configuration: the server's certificate, and client certificates required, chained to
/// the CA and not on its revocation list.
fn config(paths: &PkiPaths) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let pem_err = |path: std::path::PathBuf| {
        move |e: rustls::pki_types::pem::Error| PkiError::Pem { path: path.clone(), message: e.to_string() }
    };
    let ca = read(&paths.ca())?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(pem_err(paths.ca()))?;
        roots.add(cert).map_err(|e| PkiError::Pem { path: paths.ca(), message: e.to_string() })?;
    }
    let crls = CertificateRevocationListDer::pem_slice_iter(&read(&paths.crl())?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(paths.crl()))?;
    if crls.is_empty() {
        return Err(PkiError::Pem { path: paths.crl(), message: "no revocation list".into() });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .only_check_end_entity_revocation()
        .build()
        .map_err(|e| PkiError::Pem { path: paths.crl(), message: e.to_string() })?;
    let chain = CertificateDer::pem_slice_iter(&read(&paths.server_cert())?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(paths.server_cert()))?;
    let key =
        PrivateKeyDer::from_pem_slice(&read(&paths.server_key())?).map_err(pem_err(paths.server_key()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_client_cert_verifier(verifier).with_single_cert(chain, key))
        .map_err(|e| PkiError::Pem { path: paths.server_cert(), message: e.to_string() })?;
    Ok(Arc::new(config))
}

/// Who a verified client certificate is: its common name, and its organisational unit (the
/// owning station) when it is a kit's. None without a common name.
pub(super) fn identity(der: &[u8]) -> Option<Station> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let id = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let kit_of = subject.iter_organizational_unit().next().and_then(|ou| ou.as_str().ok()).map(String::from);
    Some(Station { id, kit_of })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(path: &Path) -> Vec<u8> {
        CertificateDer::from_pem_slice(&read(path).expect("read")).expect("pem").to_vec()
    }

    #[test]
    fn a_kit_certificate_names_its_owning_station() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = crate::pki::generate(dir.path(), &["S-0101"]).expect("pki");
        let kit = crate::pki::add_kit(&paths, "kit-07", "S-0101", 14).expect("kit");
        let k = identity(&der(&kit)).expect("kit identity");
        assert_eq!((k.id.as_str(), k.kit_of.as_deref()), ("kit-07", Some("S-0101")));
        let s = identity(&der(&paths.station("S-0101"))).expect("station identity");
        assert_eq!((s.id.as_str(), s.kit_of), ("S-0101", None));
        assert!(identity(b"not a certificate").is_none());
    }

    #[test]
    fn an_unusable_revocation_list_refuses_until_a_good_one_returns() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = crate::pki::generate(dir.path(), &["S-0101"]).expect("pki");
        let good = std::fs::read(paths.crl()).expect("crl");
        let mut tls = ServerTls::load(&paths).expect("load");
        assert!(tls.acceptor().is_ok());

        std::fs::write(paths.crl(), "-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n")
            .expect("w");
        let e = tls.acceptor().err().map(String::from).expect("refused");
        assert!(e.contains("crl.pem"), "{e}");
        std::fs::remove_file(paths.crl()).expect("rm");
        assert!(tls.acceptor().is_err(), "a missing list refuses too");
        assert!(ServerTls::load(&paths).is_err(), "and the service does not start without one");

        std::fs::write(paths.crl(), &good).expect("restore");
        assert!(tls.acceptor().is_ok(), "back without a restart");
    }
}
