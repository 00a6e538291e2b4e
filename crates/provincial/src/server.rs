//! The provincial archive service: HTTP/JSON over TLS where every station shows a client
//! certificate signed by the service's CA; the certificate's common name is the station id
//! every change is recorded under.
//!
//! Routes (JSON bodies are the `archive` request types): `GET /v1/persons/{ssn}`,
//! `POST /v1/claim`, `/v1/commit`, `/v1/release`, `/v1/stop`, `/v1/deceased`; outreach kits:
//! `POST /v1/kit/checkout`, `/v1/kit/record`, `/v1/kit/checkin`, `GET /v1/kit/conflicts`,
//! `POST /v1/kit/conflicts/resolve`. Answers: 200
//! with the result, 409 with a refusal, 400 for a malformed request, 503 when the store is
//! unavailable (retry with the same request id).

use std::net::SocketAddr;
use std::sync::Arc;

use archive::ArchiveError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::pki::{read, PkiError, PkiPaths};
use crate::store::Store;

/// The station a connection belongs to (its client certificate's common name).
#[derive(Debug, Clone)]
pub struct Station(pub String);

fn answer<T: serde::Serialize>(r: Result<T, ArchiveError>) -> Response {
    match r {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(ArchiveError::Refused(refusal)) => (StatusCode::CONFLICT, Json(refusal)).into_response(),
        Err(ArchiveError::BadRequest(m)) => {
            (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": m}))).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": e.to_string()})))
            .into_response(),
    }
}

/// The routes, for a store.
pub fn router(store: Store) -> Router {
    Router::new()
        .route(
            "/v1/persons/{ssn}",
            get(
                |State(s): State<Store>, Path(ssn): Path<String>| async move { answer(s.lookup(&ssn).await) },
            ),
        )
        .route(
            "/v1/claim",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::ClaimRequest>| async move {
                    answer(s.claim(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/commit",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::CommitRequest>| async move {
                    answer(s.commit(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/release",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::ReleaseRequest>| async move {
                    answer(s.release(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/stop",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::StopRequest>| async move {
                    answer(s.stop_card(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/deceased",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::DeceasedRequest>| async move {
                    answer(s.mark_deceased(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/checkout",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::CheckoutRequest>| async move {
                    answer(s.checkout(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/record",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::KitRecord>| async move {
                    answer(s.sync_record(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/checkin",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::CheckinRequest>| async move {
                    answer(s.checkin(&st.0, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/conflicts",
            get(|State(s): State<Store>| async move { answer(s.kit_conflicts().await) }),
        )
        .route(
            "/v1/kit/conflicts/resolve",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::ResolveRequest>| async move {
                    answer(s.resolve_kit_conflict(&st.0, &q).await)
                },
            ),
        )
        .with_state(store)
}

/// The TLS configuration: the server's certificate, and client certificates required and
/// checked against the CA.
pub fn tls_config(paths: &PkiPaths) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let pem_err = |path: std::path::PathBuf| {
        move |e: rustls::pki_types::pem::Error| PkiError::Pem { path: path.clone(), message: e.to_string() }
    };
    let ca = read(&paths.ca())?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(pem_err(paths.ca()))?;
        roots.add(cert).map_err(|e| PkiError::Pem { path: paths.ca(), message: e.to_string() })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| PkiError::Pem { path: paths.ca(), message: e.to_string() })?;
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

/// The common name of a DER certificate.
fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}

/// A running service.
pub struct Service {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Stops accepting connections.
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Serves `app` (normally [`router`]) on `listener` with mutual TLS.
pub fn spawn(listener: TcpListener, tls: Arc<rustls::ServerConfig>, app: Router) -> std::io::Result<Service> {
    let addr = listener.local_addr()?;
    let acceptor = TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
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
                let station = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| common_name(c.as_ref()));
                let Some(station) = station else {
                    tracing::info!(%peer, "client certificate without a common name");
                    return;
                };
                let svc =
                    hyper_util::service::TowerToHyperService::new(app.layer(Extension(Station(station))));
                if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            });
        }
    });
    Ok(Service { addr, task })
}
