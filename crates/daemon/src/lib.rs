//! The station daemon (`station serve`): it owns the counter's devices through a [`Runner`],
//! serves the HTTP/JSON API with an event stream of every job step ([`api`]), authenticates
//! every call with operator sessions and roles ([`auth`]), audits every action in the local
//! archive's hash-chained ledger, and resumes at start the jobs a crash left running.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cards_api;
pub mod config;
pub mod files;
mod form;
pub mod form_print;
pub mod hardening;
pub mod identity_api;
pub mod login;
pub mod losses_api;
pub mod notices;
pub mod reissue_api;
pub mod roles;
pub mod sites_api;
pub mod state;
pub mod stock_api;
pub mod tls;
pub mod ui;
pub mod ui_api;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use archive::local::LocalArchive;
pub use form::problems as form_problems;
pub use worker::{Desk, Event, JobRequest, JournalWatch, Runner};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The local archive.
    #[error("local archive: {0}")]
    Archive(#[from] archive::ArchiveError),
    /// TLS for the page.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// Listening beyond loopback without TLS.
    #[error("{0}")]
    Plain(String),
    /// The listening socket.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running daemon.
pub struct Daemon {
    /// Where the API listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Daemon {
    /// Stops serving.
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Starts the daemon on `config` with `runner` owning the devices; `local` is the station's
/// archive and `province` the provincial archive (both shared with the runner: the API serves
/// the card's later life with them). Must run inside a tokio runtime.
pub async fn start(
    config: &config::Config,
    local: Arc<LocalArchive>,
    province: Option<Arc<dyn archive::ProvincialArchive>>,
    runner: Box<dyn Runner>,
) -> Result<Daemon, DaemonError> {
    config.check_listen().map_err(DaemonError::Plain)?;
    let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
    let calendar = config.calendar().map_err(|e| DaemonError::Plain(e.to_string()))?;
    let card_services = config.card_services().map_err(|e| DaemonError::Plain(e.to_string()))?;
    // The gateway's client is a blocking one: made (and kept) off the async threads.
    let notices = match config.sms.clone() {
        None => None,
        Some(sms) => {
            let (simulators, dir) = (config.simulators, config.data_dir.clone());
            let made =
                tokio::task::spawn_blocking(move || notices::Notices::from_config(&sms, simulators, &dir))
                    .await
                    .map_err(|e| DaemonError::Plain(e.to_string()))?;
            Some(Arc::new(made.map_err(DaemonError::Plain)?))
        }
    };
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let ui = ui_api::UiState::new(runner.view(), config.data_dir.clone(), local.file_key().cloned());
    let (stock, journal_watch, bank) = (runner.stock(), runner.journal_watch(), runner.bank());
    let jobs = worker::spawn(runner, local.clone(), events.clone());
    let requeued = worker::recover_requests(&local, &jobs)?;
    if requeued > 0 {
        tracing::info!(requeued, "requests accepted before a stop run now");
    }
    let sessions = auth::Sessions::new(
        config.operators.clone(),
        local.operator_passwords()?,
        Duration::from_secs(config.session_minutes * 60),
        Duration::from_secs(config.idle_minutes.max(1) * 60),
    );
    let state = state::AppState::new(
        &config.station,
        sessions,
        local,
        jobs,
        events,
        config.data_dir.join("evidence"),
        config.login,
    )
    .with_province(province)
    .with_stock(stock, journal_watch)
    .with_bank(bank)
    .with_sites(config.sites.clone())
    .with_calendar(calendar)
    .with_card_services(card_services)
    .with_notices(notices.clone())
    .with_tls(tls.is_some())
    .with_first_passwords(config.data_dir.join(config::INITIAL_PASSWORDS));
    // Every first password was changed before a crash could remove their file.
    state.forget_first_passwords_if_all_chosen();
    state.follow_job_owners();
    if let Some(n) = notices {
        let (caught, local, sites) = (n.clone(), state.local().clone(), config.sites.clone());
        match tokio::task::spawn_blocking(move || caught.catch_up(&local, &sites)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(queued)) => {
                tracing::info!(queued, "pickup notices journalled for cards already at their site")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "pickup notices not caught up"),
            Err(e) => tracing::error!(error = %e, "pickup notices catch-up panicked"),
        }
        notices::spawn_worker(n);
    }
    if let Some(province) = state.inner.province.clone() {
        spawn_anchoring(state.local().clone(), province);
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| DaemonError::Listen { addr: config.listen, source })?;
    let hosts = Arc::new(hardening::Hosts { names: config.allowed_hosts(), https: tls.is_some() });
    let app = api::router(state)
        .layer(axum::Extension(ui))
        .layer(axum::middleware::from_fn_with_state(hosts, hardening::guard));
    let task = match tls {
        None => tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the API stopped");
            }
        }),
        Some(tls) => tokio::spawn(serve_tls(listener, tokio_rustls::TlsAcceptor::from(tls), app)),
    };
    tracing::info!(%addr, station = %config.station, "station daemon up");
    Ok(Daemon { addr, task })
}

/// Serves `app` over TLS: a handshake per connection on its own task (a slow or hostile
/// client holds up no one), the peer's address given to the handlers as axum does over TCP.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
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
            let stream = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let app = app.layer(axum::Extension(axum::extract::ConnectInfo(peer)));
            let svc = hyper_util::service::TowerToHyperService::new(app);
            if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

/// How often the ledger's head goes to the province: what a ledger cut short or rewritten can
/// hide is at most this much of the last entries (the daily reconciliation checks the rest).
pub const ANCHOR_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Anchors the ledger's head at the province at start and every [`ANCHOR_EVERY`] when it moved
/// (`issuance::reconcile::anchor`); a province that cannot be reached is tried again next
/// time, a refusal (the ledger no longer continues the anchored head) is logged as an error.
fn spawn_anchoring(local: Arc<archive::local::LocalArchive>, province: Arc<dyn archive::ProvincialArchive>) {
    tokio::spawn(async move {
        let mut last: Option<archive::LedgerHead> = None;
        loop {
            let (l, p) = (local.clone(), province.clone());
            let moved = last.clone();
            let done = tokio::task::spawn_blocking(move || {
                let head = l.ledger_head()?;
                if head.is_none() || head == moved {
                    return Ok(moved);
                }
                issuance::reconcile::anchor(&l, p.as_ref())
            })
            .await;
            match done {
                Ok(Ok(head)) => last = head,
                Ok(Err(archive::ArchiveError::Refused(r))) => {
                    tracing::error!(refusal = %r, "the province refused the ledger head")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "ledger head not anchored; tried again later"),
                Err(e) => tracing::error!(error = %e, "ledger anchoring panicked"),
            }
            tokio::time::sleep(ANCHOR_EVERY).await;
        }
    });
}
