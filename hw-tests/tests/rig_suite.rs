//! The rig suite on the devices of the rig file `STATION_RIG` names (the default nextest
//! profile excludes this package): `STATION_RIG=counter-3.toml cargo nextest run -P hardware
//! --test rig_suite`. One test: the steps run one at a time, in order.

use hw_tests::rig::{rig_path, Rig, RIG_ENV};

#[test]
fn the_end_to_end_suite_passes_on_the_rig() {
    let path = rig_path(&[], std::env::var(RIG_ENV).ok()).unwrap_or_else(|| {
        panic!(
            "set {RIG_ENV} to a rig file (hw-tests/rigs/example.toml) and run \
             `cargo nextest run -P hardware --test rig_suite`; without one no device is touched"
        )
    });
    let rig = Rig::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let report = hw_tests::suite::run(&rig);
    print!("{report}");
    report.write(&rig.report_path()).unwrap_or_else(|e| panic!("writing the report: {e}"));
    assert!(report.passed(), "see {}:\n{report}", rig.report_path().display());
}
