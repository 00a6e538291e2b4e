//! Writing the PKI's files whole or not at all: the text goes to a temporary file in the same
//! directory, created with its final mode (a key is never readable by others, not even for a
//! moment), and is then linked (new files) or renamed (the revocation list) into place.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::PkiError;

/// Private keys and files that hold one.
pub(super) const PRIVATE: u32 = 0o600;
/// Certificates and the revocation list.
pub(super) const PUBLIC: u32 = 0o644;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io { path: path.to_path_buf(), source }
}

/// Writes `path` only if nothing is there (the link fails on an existing name, so two writers
/// cannot both win).
pub(super) fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), PkiError> {
    let tmp = temporary(path, text, mode)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(PkiError::Exists { path: path.to_path_buf() })
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Replaces `path` at once: a reader sees the old file or the new one, never half of one.
pub(super) fn replace(path: &Path, text: &str, mode: u32) -> Result<(), PkiError> {
    let tmp = temporary(path, text, mode)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path)(e));
    }
    sync_dir(path)
}

fn temporary(path: &Path, text: &str, mode: u32) -> Result<PathBuf, PkiError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io(path)(e))
        }
    }
}

/// The new name survives a power cut.
fn sync_dir(path: &Path) -> Result<(), PkiError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_files_keep_their_first_content_and_replaced_ones_take_the_last() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("k.key");
        write_new(&key, "first", PRIVATE).expect("write");
        assert!(matches!(write_new(&key, "second", PRIVATE), Err(PkiError::Exists { .. })));
        assert_eq!(std::fs::read_to_string(&key).expect("read"), "first");
        assert_eq!(std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777, 0o600);

        let list = dir.path().join("crl.pem");
        replace(&list, "one", PUBLIC).expect("replace");
        replace(&list, "two", PUBLIC).expect("replace");
        assert_eq!(std::fs::read_to_string(&list).expect("read"), "two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 2, "no temporary file left");
    }
}
