//! A private PostgreSQL, the provincial service on loopback with mutual TLS, and station
//! clients: what the service tests and the benchmark share.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use provincial::cluster::{Cluster, Durability};
use provincial::pki::PkiPaths;
use provincial::{server, Client, Store};

/// A free loopback port (bound and released: good enough on a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub cluster: Cluster,
    pub pki: PkiPaths,
    pub runtime: tokio::runtime::Runtime,
    pub service: server::Service,
    pub store: Store,
}

impl Setup {
    /// PostgreSQL, PKI for `stations`, and the service.
    pub fn start(stations: &[&str]) -> Setup {
        Setup::start_with(stations, |r| r)
    }

    /// The same, with `wrap` adding layers (fault injection) around the routes.
    pub fn start_with(stations: &[&str], wrap: impl FnOnce(axum::Router) -> axum::Router) -> Setup {
        let dir = tempfile::tempdir().expect("tmp");
        let cluster = Cluster::start(&dir.path().join("pg"), free_port(), Durability::TestsOnly)
            .expect("PostgreSQL starts (scripts/install-deps)");
        let pki = provincial::pki::generate(&dir.path().join("pki"), stations).expect("pki");
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let (service, store) = runtime.block_on(async {
            let store = Store::connect(&cluster.url(), 'B', Store::default_pool_size()).await.expect("store");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let tls = server::tls_config(&pki).expect("tls");
            (server::spawn(listener, tls, wrap(server::router(store.clone()))).expect("serve"), store)
        });
        Setup { dir, cluster, pki, runtime, service, store }
    }

    /// A connection of its own straight to the cluster, outside the service (on the setup's
    /// runtime).
    pub async fn sql(&self) -> tokio_postgres::Client {
        let (client, conn) =
            tokio_postgres::connect(&self.cluster.url(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client
    }

    /// The rows of `sql`, run straight on the cluster on a connection of its own.
    pub fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.runtime.block_on(async { self.sql().await.query(sql, &[]).await.expect("query") })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.service.addr.port())
    }

    /// A client for `station` (its certificate was generated at start).
    pub fn client(&self, station: &str) -> Client {
        Client::new(&self.url(), &self.pki.ca(), &self.pki.station(station), Duration::from_secs(30))
            .expect("client")
    }

    /// A client for outreach kit `kit` of station `owner` (its short-lived certificate is made
    /// on first use).
    pub fn kit_client(&self, kit: &str, owner: &str) -> Client {
        if !self.pki.kit(kit).exists() {
            provincial::pki::add_kit(&self.pki, kit, owner, 14).expect("kit certificate");
        }
        Client::new(&self.url(), &self.pki.ca(), &self.pki.kit(kit), Duration::from_secs(30)).expect("client")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// What a test leaves in PostgreSQL's log names nobody: an error's DETAIL (a key that already
/// exists, a row that fails a check) would carry an ID number into a log the province's
/// administrators read and keep. Checked as every test's cluster stops, unless the test failed
/// already; the lines are shown with the numbers masked.
impl Drop for Setup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let named = self.cluster.log_lines_naming_persons();
        assert!(named.is_empty(), "ID numbers in PostgreSQL's log:\n{}", named.join("\n"));
    }
}
