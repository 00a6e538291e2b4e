//! `station.db` as the tests open it behind the station's back: with the station's data key,
//! unwrapped from `station.db.key` by the key the station itself uses (`[database]` of the
//! `station.toml` in the data directory or beside it, else the simulators' wrapping key). The
//! one way a test reads, checks or tampers with a station's archive.

use std::path::Path;

use archive::at_rest::DataKey;
use archive::local::LocalArchive;

/// The `station.toml` of the station whose data is in `data_dir`, when there is one (in the
/// data directory, or in its parent when the data is in `data/`).
fn station_toml(data_dir: &Path) -> Option<std::path::PathBuf> {
    [Some(data_dir.join("station.toml")), data_dir.parent().map(|p| p.join("station.toml"))]
        .into_iter()
        .flatten()
        .find(|p| p.exists())
}

/// The station's data key, as `station serve` unwraps it.
pub fn key(data_dir: &Path) -> DataKey {
    let config = station_toml(data_dir)
        .map(|p| station::config::StationConfig::load(&p).expect("the station's station.toml"));
    let database = config.as_ref().and_then(|c| c.database.as_ref());
    let counter_token = config
        .as_ref()
        .and_then(|c| c.counter.as_ref())
        .and_then(|c| c.financial.as_ref())
        .and_then(|f| f.token.as_ref());
    let wrap = station::db_key::open(database, counter_token).expect("the station's wrapping key");
    station::db_key::unlock(data_dir, wrap.as_ref()).expect("the station's data key")
}

/// The station's local archive in `data_dir`, opened with its data key.
pub fn open(data_dir: &Path, station: &str) -> LocalArchive {
    LocalArchive::open(data_dir.join("station.db"), station, &key(data_dir)).expect("station.db with its key")
}

/// A raw SQLite connection to the station's archive, keyed: for looking at rows and for the
/// tamper tests.
pub fn raw(data_dir: &Path) -> rusqlite::Connection {
    LocalArchive::raw_connection(data_dir.join("station.db"), &key(data_dir))
        .expect("station.db with its key")
}
