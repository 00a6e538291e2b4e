//! `station serve`: the daemon on this counter's devices. With `--sim` (debug builds with the
//! `sim` feature), the embedded default: SQLite archives (the provincial one too: one machine
//! serves) and a whole simulated counter behind a private pcscd.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use archive::local::LocalArchive;

use crate::counter::FaceRenderer;
use crate::runner::CounterRunner;

/// What serve needs that is not in the daemon's configuration.
pub struct ServeOptions {
    /// The daemon configuration (embedded default when the caller has none).
    pub config: daemon::config::Config,
    /// Where the firmware profiles are.
    pub profiles: PathBuf,
    /// The cards' profile id.
    pub card_profile: String,
}

/// Opens the station's archives in the data directory.
pub fn open_archives(
    data_dir: &Path,
    station: &str,
) -> Result<(Arc<LocalArchive>, archive::SqliteProvincial)> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let local = Arc::new(LocalArchive::open(data_dir.join("station.db"), station)?);
    let province = archive::SqliteProvincial::open(data_dir.join("provincial.db"), station, 'B')?;
    Ok((local, province))
}

/// Builds the runner of a counter from its parts.
#[allow(clippy::too_many_arguments)]
pub fn counter_runner(
    local: Arc<LocalArchive>,
    province: Box<dyn archive::ProvincialArchive>,
    verifier: Box<dyn idv::IdentityVerifier>,
    printer: Box<dyn printer::Printer + Send>,
    faces: Box<dyn FaceRenderer + Send>,
    profile: firmware_profile::Profile,
    readers: (&str, &str),
    params: issuance::records::IssueParams,
) -> Result<CounterRunner> {
    Ok(CounterRunner {
        local,
        province,
        verifier,
        manager: pcsc_reader::PcscManager::new().context("connecting to pcscd")?,
        printer,
        faces,
        profile,
        card_reader: readers.0.to_string(),
        psam_reader: readers.1.to_string(),
        params,
        lease_seconds: 1800,
    })
}
