//! Puts the git revision the binary is built from into `station --version`
//! (`STATION_GIT_REVISION`): `git rev-parse --short HEAD` in a checkout, else what the
//! environment's `STATION_GIT_REVISION` says (a source package built outside git), else
//! `unknown`. The build script runs again when HEAD moves: a commit, a checkout, a fetch into
//! packed refs.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STATION_GIT_REVISION");
    let revision = match std::env::var("STATION_GIT_REVISION") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_string(),
        _ => {
            watch_head();
            git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=STATION_GIT_REVISION={revision}");
}

/// What a git command prints, when git is there and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Reruns this script when HEAD, the branch it points to or the packed refs change. Only files
/// that exist are named: cargo would rerun the script on every build for a missing one.
fn watch_head() {
    let mut files =
        vec![git(&["rev-parse", "--git-path", "HEAD"]), git(&["rev-parse", "--git-path", "packed-refs"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        files.push(git(&["rev-parse", "--git-path", &branch]));
    }
    for file in files.into_iter().flatten().map(PathBuf::from) {
        if file.is_file() {
            println!("cargo:rerun-if-changed={}", file.display());
        }
    }
}
