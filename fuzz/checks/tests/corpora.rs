//! Every file of `fuzz/corpus/<target>/` (the seeds, and the inputs kept from findings)
//! through its target's check, without libFuzzer, on the toolchain of the workspace's tests:
//! what once held of the parsers still holds. One test per target, so they run in parallel
//! and a failure names its target and files.

use std::path::{Path, PathBuf};

use fuzz_checks::{repo_path, Check, TARGETS};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = repo_path("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no seeds", dir.display());
    files
}

fn replay(target: &str) {
    let check: Check = TARGETS.iter().find(|(name, _)| *name == target).expect("a target").1;
    let mut failed = Vec::new();
    for file in corpus(target) {
        let data = std::fs::read(&file).expect("a corpus file");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(file.file_name().expect("a name").to_string_lossy().into_owned());
        }
    }
    assert!(failed.is_empty(), "{target}: the check fails on {failed:?} (the panics are printed above)");
}

/// Every target of `fuzz/fuzz_targets/` has a check here and a corpus, and the other way round.
#[test]
fn every_target_has_its_check_and_its_corpus() {
    let names = |dir: &Path, ext: Option<&str>| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("a directory")
            .map(|e| e.expect("an entry").path())
            .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
            .map(|p| p.file_stem().expect("a name").to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let targets = names(&repo_path("fuzz/fuzz_targets"), Some("rs"));
    assert_eq!(targets, names(&repo_path("fuzz/corpus"), None), "fuzz_targets/ and corpus/");
    let mut checks: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    if cfg!(not(feature = "sim")) {
        checks.push("vpcd_frames".into());
    }
    checks.sort();
    assert_eq!(targets, checks, "fuzz_targets/ and fuzz_checks::TARGETS");
}

macro_rules! replays {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target));
            }
        )*
    };
}

replays!(
    apdu_command,
    apdu_response,
    apdu_transmit,
    applicant_json,
    ber_tlv,
    daemon_api,
    daemon_requests,
    emv_dp,
    emv_terminal,
    emv_tlv,
    evolis_replies,
    evolis_requests,
    face_photo,
    face_template,
    gp_init_update,
    idv_answers,
    kit_visits,
    photo_input,
    profile_toml,
    provincial_answers,
    provincial_requests,
    roster_csv,
    roster_xlsx,
    ssse_read_card,
    ssse_records,
    station_toml,
);

#[cfg(feature = "sim")]
replays!(vpcd_frames);
