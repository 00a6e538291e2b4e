//! `station provincial ...`: the provincial archive service and its certificates.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ProvincialCmd {
    /// Make the service's CA, server certificate and one client certificate per station.
    Certs(CertsArgs),
    /// Serve the provincial archive over HTTPS with client certificates, on PostgreSQL.
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct CertsArgs {
    /// Directory for the PEM files.
    #[arg(long)]
    out: PathBuf,
    /// A station id (the client certificate's common name); repeat for each station.
    #[arg(long = "station", required = true)]
    stations: Vec<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// PostgreSQL connection string (`host=... port=... user=... dbname=...`).
    #[arg(long, env = "PROVINCIAL_DATABASE", conflicts_with = "embedded")]
    database: Option<String>,
    /// Run a private PostgreSQL cluster in this directory instead (one machine serves).
    #[arg(long)]
    embedded: Option<PathBuf>,
    /// Port of the embedded cluster.
    #[arg(long, default_value_t = 54329)]
    embedded_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Directory with ca.pem, server.pem and server.key (`station provincial certs`).
    #[arg(long)]
    pki: PathBuf,
    /// Letter that starts new card numbers.
    #[arg(long, default_value_t = 'B')]
    prefix: char,
    /// Database connections.
    #[arg(long, default_value_t = 32)]
    pool: usize,
}

pub fn run(cmd: ProvincialCmd) -> Result<()> {
    match cmd {
        ProvincialCmd::Certs(a) => {
            let names: Vec<&str> = a.stations.iter().map(String::as_str).collect();
            let paths = provincial::pki::generate(&a.out, &names)?;
            println!(
                "CA {}, server {}, {} station certificate(s) in {}",
                paths.ca().display(),
                paths.server_cert().display(),
                names.len(),
                a.out.display()
            );
            Ok(())
        }
        ProvincialCmd::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> Result<()> {
    let _cluster;
    let url = match (&a.database, &a.embedded) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => {
            let c = provincial::cluster::Cluster::start(dir, a.embedded_port)?;
            let url = c.url();
            eprintln!("embedded PostgreSQL pid {:?} in {}", c.pid(), dir.display());
            _cluster = c;
            url
        }
        (None, None) => anyhow::bail!("give --database URL or --embedded DIR"),
    };
    let paths = provincial::pki::PkiPaths { dir: a.pki.clone() };
    let tls = provincial::server::tls_config(&paths)?;
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    runtime.block_on(async move {
        let store = provincial::Store::connect(&url, a.prefix, a.pool).await?;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let service = provincial::server::spawn(listener, tls, provincial::server::router(store))?;
        eprintln!(
            "provincial archive on https://{} (client certificates from {}); Ctrl-C stops",
            service.addr,
            paths.ca().display()
        );
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        service.abort();
        Ok::<(), anyhow::Error>(())
    })
}
