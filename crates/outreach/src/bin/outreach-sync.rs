//! `outreach-sync`: logs in to a kit's store and syncs it with the provincial archive (the
//! service over mutual TLS, or an SQLite archive file on one machine). Exit status 0: synced
//! and checked in; 75: interrupted, run again; 1: anything else. The password comes from
//! `OUTREACH_PASSWORD`, never from the command line; the kit's certificate and key from its
//! sealed store (`station kit identity --import FILE`), never from a file on the laptop.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use archive::ProvincialArchive;
use clap::Parser;

/// Sync an outreach kit with the provincial archive.
#[derive(Parser)]
struct Args {
    /// The kit's store.
    #[arg(long)]
    store: PathBuf,
    /// The operator logging in.
    #[arg(long)]
    operator: String,
    /// The provincial service's base URL.
    #[arg(long, requires = "ca")]
    url: Option<String>,
    /// The service's CA certificate.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Deprecated: the kit's certificate and key from a file instead of its sealed store
    /// (import it once with `station kit identity --import FILE` and delete the file).
    #[arg(long, requires = "url")]
    identity: Option<PathBuf>,
    /// An SQLite provincial archive instead of the service.
    #[arg(long, conflicts_with = "url", requires = "station")]
    sqlite: Option<PathBuf>,
    /// With --sqlite: the station the kit belongs to (its certificate says so at the service).
    #[arg(long)]
    station: Option<String>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

fn run(args: Args) -> Result<outreach::SyncReport, outreach::SyncError> {
    let password = std::env::var("OUTREACH_PASSWORD")
        .map_err(|_| outreach::KitError::Store("set OUTREACH_PASSWORD to the operator's password".into()))?;
    let mut kit = outreach::Kit::open(&args.store, &args.operator, &password)?;
    let archive: Box<dyn ProvincialArchive> = match (&args.url, &args.ca, &args.sqlite) {
        (Some(url), Some(ca), None) => {
            let identity =
                kit.identity_for_connection(args.identity.as_deref(), &mut |w| eprintln!("warning: {w}"))?;
            Box::new(
                provincial::Client::from_pem(url, ca, identity.pem(), Duration::from_secs(args.timeout))
                    .map_err(|e| outreach::KitError::Store(e.to_string()))?,
            )
        }
        (None, _, Some(db)) => Box::new(
            archive::SqliteProvincial::as_kit(
                db,
                kit.kit_id(),
                args.station.as_deref().unwrap_or_default(),
                'B',
            )
            .map_err(outreach::KitError::Archive)?,
        ),
        _ => return Err(outreach::KitError::Store("give --url and --ca, or --sqlite".into()).into()),
    };
    outreach::sync(&mut kit, archive.as_ref())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(report) => {
            println!(
                "synced: {} sent, {} records, {} conflicts; {} not seen, {} numbers returned, {} cards back to stock",
                report.sent,
                report.records,
                report.conflicts.len(),
                report.checkin.not_seen.len(),
                report.checkin.returned_numbers.len(),
                report.checkin.back_to_stock.len()
            );
            ExitCode::SUCCESS
        }
        Err(e @ outreach::SyncError::Interrupted { .. }) => {
            eprintln!("{e}");
            ExitCode::from(75)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
