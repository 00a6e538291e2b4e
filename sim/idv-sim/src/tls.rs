//! The simulator over TLS, as the real service is reached: its own certificate, and client
//! certificates required when it is given a CA to check them against. Connections are served
//! one task each, as the provincial service's front does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::SimError;

/// The simulator's TLS configuration.
#[derive(Clone)]
pub struct SimTls {
    config: Arc<rustls::ServerConfig>,
}

fn tls_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> SimError + '_ {
    move |e| SimError::Tls(format!("{what}: {e}"))
}

impl SimTls {
    /// From PEM: the server's certificate chain and key, and the CA whose client certificates
    /// are required (`None`: no client certificate asked for).
    pub fn from_pem(chain: &[u8], key: &[u8], client_ca: Option<&[u8]>) -> Result<SimTls, SimError> {
        let chain = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_err("server certificate")(&e))?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| tls_err("server key")(&e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("protocol versions")(&e))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca) {
                    let cert = cert.map_err(|e| tls_err("client CA")(&e))?;
                    roots.add(cert).map_err(|e| tls_err("client CA")(&e))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| tls_err("client CA")(&e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| tls_err("server certificate")(&e))?;
        Ok(SimTls { config: Arc::new(config) })
    }

    /// The same from PEM files.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<SimTls, SimError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| SimError::Io { path: path.to_path_buf(), source })
        };
        let client_ca = client_ca.map(read).transpose()?;
        SimTls::from_pem(&read(cert)?, &read(key)?, client_ca.as_deref())
    }
}

/// Accepts TLS connections on `listener` and serves `app` on each until aborted (every
/// simulator reached over mutual TLS serves this way: identity verification, the bank).
pub fn spawn(listener: tokio::net::TcpListener, tls: SimTls, app: Router) -> tokio::task::JoinHandle<()> {
    let acceptor = TlsAcceptor::from(tls.config);
    tokio::spawn(async move {
        loop {
            let (tcp, peer): (_, SocketAddr) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::info!(%peer, error = %e, "TLS handshake refused");
                        return;
                    }
                };
                let svc = hyper_util::service::TowerToHyperService::new(app);
                if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            });
        }
    })
}
