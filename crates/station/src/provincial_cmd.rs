//! `station provincial ...`: the provincial archive service and its certificates. `certs` and
//! `revoke` run where the province keeps the CA key (offline); `serve` needs only the public
//! part of the PKI and the server's key.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ProvincialCmd {
    /// Make the service's PKI (CA, server certificate, empty revocation list) if DIR has none,
    /// and add station certificates and a short-lived kit certificate to it.
    Certs(CertsArgs),
    /// Revoke a station's (or kit's) certificate: crl.pem is signed again with its serial.
    Revoke(RevokeArgs),
    /// Serve the provincial archive over HTTPS with client certificates, on PostgreSQL.
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct CertsArgs {
    /// Directory for the PEM files (with ca.key when it exists already).
    #[arg(long, alias = "pki")]
    out: PathBuf,
    /// A station id (the client certificate's common name); repeat for each station.
    #[arg(long = "station")]
    stations: Vec<String>,
    /// An outreach kit id: a certificate for the kit, naming its station (--owner).
    #[arg(long, requires = "owner")]
    kit: Option<String>,
    /// The station that owns the kit (a station of this PKI).
    #[arg(long, requires = "kit")]
    owner: Option<String>,
    /// Days the kit certificate is valid (default 14, at most 31).
    #[arg(long, requires = "kit")]
    days: Option<u32>,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The PKI directory, with ca.key.
    #[arg(long)]
    pki: PathBuf,
    /// The station (or kit) whose certificate is revoked.
    #[arg(long, alias = "kit")]
    station: String,
}

#[derive(Args)]
pub struct ServeArgs {
    /// PostgreSQL connection string (`host=... port=... user=... dbname=...`).
    #[arg(long, env = "PROVINCIAL_DATABASE", conflicts_with = "embedded")]
    database: Option<String>,
    /// Run a private PostgreSQL cluster in this directory instead (one machine serves): durable,
    /// stopped with the service; one left there by an earlier start is stopped first.
    #[arg(long)]
    embedded: Option<PathBuf>,
    /// Port of the embedded cluster.
    #[arg(long, default_value_t = 54329)]
    embedded_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Directory with ca.pem, server.pem, server.key and crl.pem (`station provincial certs`);
    /// a new crl.pem copied there applies from the next connection.
    #[arg(long)]
    pki: PathBuf,
    /// Letter that starts new card numbers.
    #[arg(long, default_value_t = 'B')]
    prefix: char,
    /// Database connections: about twice PostgreSQL's cores (the default: twice this
    /// machine's); more only lengthen the slowest claims.
    #[arg(long, default_value_t = provincial::Store::default_pool_size())]
    pool: usize,
    /// Longest claim lease a station gets, in seconds (a longer ask is cut to it).
    #[arg(long, default_value_t = archive::Limits::default().max_lease_seconds)]
    max_lease_seconds: i64,
    /// Longest outreach-kit lease, in seconds.
    #[arg(long, default_value_t = archive::Limits::default().max_kit_lease_seconds)]
    max_kit_lease_seconds: i64,
    /// Most people on one kit checkout (more is refused).
    #[arg(long, default_value_t = archive::Limits::default().max_checkout_people)]
    max_checkout_people: usize,
}

pub fn run(cmd: ProvincialCmd) -> Result<()> {
    match cmd {
        ProvincialCmd::Certs(a) => certs(a),
        ProvincialCmd::Revoke(a) => {
            let paths = provincial::pki::PkiPaths { dir: a.pki };
            let r = provincial::pki::revoke(&paths, &a.station)?;
            if r.already {
                println!("{} (serial {}) was revoked already; crl.pem unchanged", a.station, r.serial);
            } else {
                println!(
                    "{} revoked (serial {}, {}); CRL number {}: copy {} to the service's PKI directory, \
                     it takes effect at the next connection",
                    a.station,
                    r.serial,
                    r.file.display(),
                    r.number,
                    paths.crl().display()
                );
            }
            Ok(())
        }
        ProvincialCmd::Serve(a) => serve(a),
    }
}

fn certs(a: CertsArgs) -> Result<()> {
    let names: Vec<&str> = a.stations.iter().map(String::as_str).collect();
    let paths = provincial::pki::PkiPaths { dir: a.out.clone() };
    if paths.ca().exists() {
        anyhow::ensure!(
            !names.is_empty() || a.kit.is_some(),
            "{} has a PKI: give --station or --kit to add",
            a.out.display()
        );
        provincial::pki::add_stations(&paths, &names)?;
    } else {
        provincial::pki::generate(&a.out, &names)?;
        println!(
            "new PKI in {}: CA {} (keep {} offline), server {}, revocation list {}",
            a.out.display(),
            paths.ca().display(),
            paths.ca_key().display(),
            paths.server_cert().display(),
            paths.crl().display()
        );
    }
    for name in &names {
        println!("station {name}: {}", paths.station(name).display());
    }
    if let (Some(kit), Some(owner)) = (&a.kit, &a.owner) {
        let days = a.days.unwrap_or(provincial::pki::KIT_DAYS_DEFAULT);
        let file = provincial::pki::add_kit(&paths, kit, owner, days)?;
        println!("kit {kit} of station {owner}, {days} days: {}", file.display());
    }
    Ok(())
}

/// Serves until SIGTERM or SIGINT. An embedded cluster is durable and the service's own: it is
/// stopped (fast shutdown) on either signal and on any error, and dies with the process even
/// when that is killed (see `provincial::cluster`); a start stops one left in DIR.
fn serve(a: ServeArgs) -> Result<()> {
    // Declared first, dropped last: the service and its connections end before the cluster.
    let mut cluster: Option<provincial::cluster::Cluster> = None;
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    // Caught from now on, so that a signal while the cluster starts stops it too (once it runs).
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        let _rt = runtime.enter();
        let term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        (term, int)
    };
    let url = match (&a.database, &a.embedded) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => {
            let c = provincial::cluster::Cluster::start(
                dir,
                a.embedded_port,
                provincial::cluster::Durability::Durable,
            )
            .with_context(|| format!("embedded PostgreSQL in {}", dir.display()))?;
            if let Some(found) = c.left_behind() {
                eprintln!("{}: {found}", dir.display());
            }
            eprintln!(
                "embedded PostgreSQL (pid {}) in {} on 127.0.0.1:{}, durable (fsync on)",
                c.pid().map_or_else(|| "?".to_string(), |p| p.to_string()),
                dir.display(),
                a.embedded_port
            );
            let url = c.url();
            cluster = Some(c);
            url
        }
        (None, None) => anyhow::bail!("give --database URL or --embedded DIR"),
    };
    let paths = provincial::pki::PkiPaths { dir: a.pki.clone() };
    if paths.ca_key().exists() {
        tracing::warn!(key = %paths.ca_key().display(), "the CA key is on the service's machine: keep it offline");
    }
    let tls = provincial::server::tls_config(&paths)?;
    runtime.block_on(async move {
        let limits = archive::Limits {
            max_lease_seconds: a.max_lease_seconds,
            max_kit_lease_seconds: a.max_kit_lease_seconds,
            max_checkout_people: a.max_checkout_people,
        };
        let store = provincial::Store::connect(&url, a.prefix, a.pool).await?.with_limits(limits);
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let service = provincial::server::spawn(listener, tls, provincial::server::router(store))?;
        eprintln!(
            "provincial archive on https://{} (client certificates from {}); Ctrl-C or SIGTERM stops",
            service.addr,
            paths.ca().display()
        );
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        service.abort();
        Ok::<(), anyhow::Error>(())
    })?;
    drop(runtime);
    if let Some(mut c) = cluster.take() {
        c.stop();
        eprintln!("embedded PostgreSQL stopped");
    }
    Ok(())
}
