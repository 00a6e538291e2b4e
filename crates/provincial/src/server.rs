//! The provincial archive service: HTTP/JSON over TLS where every station shows a client
//! certificate signed by the service's CA; the certificate's common name is the station id
//! every change is recorded under (a kit's certificate names its station in the organisational
//! unit). Certificates on the CA's revocation list are refused; the list is reloaded when it
//! changes ([`ServerTls`]).
//!
//! Routes (JSON bodies are the `archive` request types; an ID number never goes into a URL):
//! `POST /v1/lookup`, `/v1/claim`, `/v1/commit`, `/v1/release`, `/v1/renew`, `/v1/stop`,
//! `/v1/restore` (a re-issue given up within its claim, the old card live again),
//! `/v1/deceased`, `/v1/deceased/correct`; cards made elsewhere: `/v1/deliver` (the
//! card-making centre), `/v1/receive` (the station the card was delivered to); the station's
//! ledger head: `POST /v1/ledger/anchor`, `GET /v1/ledger/anchor`; temporary losses:
//! `/v1/suspend` (口头挂失), `/v1/lift` (解挂); custody approvals (RULE 4): `/v1/custody`;
//! outreach kits (a checkout carries its pre-made cards' current custody approvals):
//! `POST /v1/kit/checkout`, `/v1/kit/record`, `/v1/kit/checkin`, `GET /v1/kit/conflicts`,
//! `POST /v1/kit/conflicts/resolve`. Answers: 200
//! with the result, 409 with a refusal, 400 for a malformed request, 503 when the store is
//! unavailable (retry with the same request id).

use std::net::SocketAddr;

use archive::ArchiveError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::pki::{PkiError, PkiPaths};
use crate::store::Store;

mod tls;
use tls::identity;
pub use tls::ServerTls;

/// Who a connection is: its client certificate's common name, and for an outreach kit the
/// station it belongs to (the certificate's organisational unit).
#[derive(Debug, Clone)]
pub struct Station {
    /// The station (or kit) id every change is recorded under.
    pub id: String,
    /// For a kit's certificate: the station that owns the kit.
    pub kit_of: Option<String>,
}

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
            "/v1/lookup",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::LookupRequest>| async move {
                    answer(s.lookup(&st.id, &q.ssn).await)
                },
            ),
        )
        .route(
            "/v1/claim",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::ClaimRequest>| async move {
                    answer(s.claim(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/commit",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::CommitRequest>| async move {
                    answer(s.commit(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/release",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::ReleaseRequest>| async move {
                    answer(s.release(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/renew",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::RenewRequest>| async move {
                    answer(s.renew(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/deceased/correct",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::CorrectDeceasedRequest>| async move {
                    answer(s.correct_deceased(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/deliver",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::DeliverRequest>| async move {
                    answer(s.deliver_card(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/ledger/anchor",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::AnchorRequest>| async move {
                    answer(s.anchor_ledger(&st.id, &q).await)
                },
            )
            .get(|State(s): State<Store>, Extension(st): Extension<Station>| async move {
                answer(s.ledger_anchor(&st.id).await)
            }),
        )
        .route(
            "/v1/receive",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::ReceiveRequest>| async move {
                    answer(s.receive_card(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/stop",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::StopRequest>| async move {
                    answer(s.stop_card(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/restore",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::RestoreRequest>| async move {
                    answer(s.restore_card(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/suspend",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::SuspendRequest>| async move {
                    answer(s.suspend_card(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/custody",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::custody::CustodyRequest>| async move {
                    answer(s.record_custody(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/lift",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::LiftRequest>| async move {
                    answer(s.lift_suspension(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/deceased",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::DeceasedRequest>| async move {
                    answer(s.mark_deceased(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/checkout",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::CheckoutRequest>| async move {
                    answer(s.checkout(&st.id, st.kit_of.as_deref(), &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/record",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::KitRecord>| async move {
                    answer(s.sync_record(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/checkin",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::CheckinRequest>| async move {
                    answer(s.checkin(&st.id, &q).await)
                },
            ),
        )
        .route(
            "/v1/kit/conflicts",
            get(|State(s): State<Store>, Extension(st): Extension<Station>| async move {
                answer(s.kit_conflicts(&st.id).await)
            }),
        )
        .route(
            "/v1/kit/conflicts/resolve",
            post(
                |State(s): State<Store>,
                 Extension(st): Extension<Station>,
                 Json(q): Json<archive::kit::ResolveRequest>| async move {
                    answer(s.resolve_kit_conflict(&st.id, &q).await)
                },
            ),
        )
        .layer(axum::middleware::from_fn_with_state(store.clone(), known_station))
        .with_state(store)
}

/// Enters the calling station among those the province knows before its request runs (a kit
/// is not a station: nothing is delivered to it).
async fn known_station(
    State(s): State<Store>,
    Extension(st): Extension<Station>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if st.kit_of.is_none() {
        if let Err(e) = s.station_seen(&st.id).await {
            return answer::<()>(Err(e));
        }
    }
    next.run(request).await
}

/// The service's TLS from a PKI directory (`ca.pem`, `server.pem`, `server.key`, `crl.pem`):
/// client certificates required, chained to the CA and not revoked.
pub fn tls_config(paths: &PkiPaths) -> Result<ServerTls, PkiError> {
    ServerTls::load(paths)
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

/// Serves `app` (normally [`router`]) on `listener` with mutual TLS. Each handshake uses what
/// `tls` holds at its start, so a new revocation list applies from the next connection (one
/// already open keeps going until it closes).
pub fn spawn(listener: TcpListener, mut tls: ServerTls, app: Router) -> std::io::Result<Service> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let acceptor = match tls.acceptor() {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(%peer, error = %e, "connection refused: the PKI is unusable");
                    continue;
                }
            };
            let app = app.clone();
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
                    .and_then(|c| identity(c.as_ref()));
                let Some(station) = station else {
                    tracing::info!(%peer, "client certificate without a common name");
                    return;
                };
                let svc = hyper_util::service::TowerToHyperService::new(app.layer(Extension(station)));
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
