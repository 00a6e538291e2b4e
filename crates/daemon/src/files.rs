//! The station's files on disk: the data directory is the station's alone (0700), and every
//! file kept there (photos, signatures, activation photos) is written whole or not at all,
//! private (0600), before the ledger line that names it: a temporary file, fsync, rename,
//! fsync of the directory.

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
}
