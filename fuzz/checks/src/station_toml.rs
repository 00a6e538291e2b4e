//! The station's configuration file (`station.toml`) as `station serve --config` reads it:
//! `station::config::StationConfig::load`, the `[counter]` section by the station and the
//! rest by the daemon (`daemon::config::Config::from_table`). The input is written to a
//! scratch file and loaded from there (the loader reads a path; relative paths in it are the
//! file's directory's).
//!
//! What must hold: an error names the file and says what is wrong; a configuration that loads
//! has an account to log in with, and a counter section only where the file has one.

use std::cell::RefCell;
use std::path::PathBuf;

use station::config::StationConfig;

thread_local! {
    /// This thread's scratch file.
    static SCRATCH: RefCell<Option<(tempfile::TempDir, PathBuf)>> = const { RefCell::new(None) };
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    SCRATCH.with_borrow_mut(|scratch| {
        let (_, path) = scratch.get_or_insert_with(|| {
            let dir = tempfile::tempdir().expect("a scratch directory");
            let path = dir.path().join("station.toml");
            (dir, path)
        });
        std::fs::write(&*path, data).expect("the scratch file");
        let named = format!("{}: ", path.display());
        match StationConfig::load(path) {
            Ok(c) => {
                assert!(!c.daemon.operators.is_empty(), "a station nobody can log in to");
                assert!(c.counter.is_none() || crate::contains(data, b"counter"), "a [counter] from nowhere");
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with(&named), "the error names the file: {text}");
                assert!(text.len() > named.len(), "and says what is wrong");
            }
        }
    });
}
