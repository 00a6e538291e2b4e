//! The station's files on disk: the data directory is the station's alone (0700), and every
//! file kept there (photos, signatures, activation photos) is written whole or not at all,
//! private (0600), before the ledger line that names it: a temporary file, fsync, rename,
//! fsync of the directory.
//!
//! Applicants' photos and the evidence are also sealed, when the station's archive is
//! encrypted, under the files' key derived from its data key ([`write_sealed`],
//! [`read_sealed`]; `archive::at_rest` says how): every writer and reader of them goes
//! through these two. A file kept before the station encrypted its files still reads.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (and its parents) if needed and makes it the station's alone (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Writes `bytes` as `dir/name`, private (0600), atomically and durably: a reader sees the whole
/// file or none, and after a crash it is there whole if this returned.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    private_dir(dir)?;
    let path = dir.join(name);
    replace_file(&path, bytes, 0o600)?;
    Ok(path)
}

/// Writes `bytes` as `dir/name` like [`write_atomic`], sealed under `key` (AES-256-GCM, the
/// name bound to it) when the station's archive is encrypted; `None` (an archive opened
/// unencrypted, in tests and tools) writes them as they are.
pub fn write_sealed(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    key: Option<&archive::at_rest::FileKey>,
) -> std::io::Result<PathBuf> {
    match key {
        Some(key) => {
            let sealed = key.seal(name, bytes).map_err(std::io::Error::other)?;
            write_atomic(dir, name, &sealed)
        }
        None => write_atomic(dir, name, bytes),
    }
}

/// The content of a file [`write_sealed`] wrote (or a plain file of before), read with `key`.
/// A sealed file that does not open (altered, renamed, another station's), or one found
/// without a key, is an error of kind `InvalidData` that says so.
pub fn read_sealed(path: &Path, key: Option<&archive::at_rest::FileKey>) -> std::io::Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let refused =
        |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{name}: {why}"));
    match key {
        Some(key) => key.open(&name, bytes).map(|plain| plain.to_vec()).map_err(|e| refused(e.to_string())),
        None if archive::at_rest::is_sealed(&bytes) => {
            Err(refused("it is encrypted and this archive was opened without the station's data key".into()))
        }
        None => Ok(bytes),
    }
}

/// Replaces `path` with `bytes` in file mode `mode`, atomically and durably (a temporary file
/// beside it, fsync, rename, fsync of the directory), leaving the directory's own mode alone:
/// for files in a directory the station shares with root, such as `/etc/station`.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::other("a file name is needed"))?;
    let random: String = crate::auth::random_bytes(6).iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{}.{random}.tmp", name.to_string_lossy()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_whole_and_leave_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("tmp");
        let evidence = dir.path().join("data/evidence");
        let path = write_atomic(&evidence, "B00000019-signature-ab", b"png bytes").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"png bytes");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&evidence), 0o700);
        write_atomic(&evidence, "B00000019-signature-ab", b"again").expect("replace");
        let names: Vec<_> =
            std::fs::read_dir(&evidence).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    /// Sealed on disk (no PNG magic, no plaintext), read back under its own name and key only;
    /// a plain file of before reads as it is.
    #[test]
    fn evidence_is_sealed_under_its_name_and_plain_files_of_before_still_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = archive::at_rest::DataKey::generate().expect("random").files();
        let png = b"\x89PNG\r\n\x1a\n a signature drawn at the counter".to_vec();
        let path = write_sealed(dir.path(), "B00000019-signature-ab", &png, Some(&key)).expect("write");
        let raw = std::fs::read(&path).expect("raw");
        assert!(!raw.starts_with(b"\x89PNG") && !raw.windows(9).any(|w| w == b"signature"));
        assert_eq!(read_sealed(&path, Some(&key)).expect("read"), png);
        let e = read_sealed(&path, None).expect_err("no key");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("without the station's data key"), "{e}");
        std::fs::rename(&path, dir.path().join("B00000027-signature-ab")).expect("rename");
        let e = read_sealed(&dir.path().join("B00000027-signature-ab"), Some(&key)).expect_err("renamed");
        assert!(e.to_string().contains("does not open with this station's key"), "{e}");
        let old = write_atomic(dir.path(), "old.png", &png).expect("plain");
        assert_eq!(read_sealed(&old, Some(&key)).expect("plain of before"), png);
        assert_eq!(read_sealed(&old, None).expect("plain"), png);
    }
}
