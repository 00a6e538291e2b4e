//! `hw-rig --rig FILE` (or `STATION_RIG=FILE hw-rig`): runs the end-to-end suite on the real
//! devices the rig file names and writes its report. Without a rig it touches nothing.
//! Exit code: 0 every step passed, 1 a step failed, 2 no usable rig.
#![forbid(unsafe_code)]

use hw_tests::rig::{rig_path, Rig, RIG_ENV};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = rig_path(&args, std::env::var(RIG_ENV).ok()) else {
        eprintln!(
            "hw-rig runs the end-to-end suite on real devices and may destroy the cards in the hopper.\n\
             Give the rig file: hw-rig --rig FILE (or {RIG_ENV}=FILE); see hw-tests/rigs/example.toml.\n\
             Nothing was touched."
        );
        return std::process::ExitCode::from(2);
    };
    let rig = match Rig::load(&path) {
        Ok(rig) => rig,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let report = hw_tests::suite::run(&rig);
    print!("{report}");
    let out = rig.report_path();
    match report.write(&out) {
        Ok(()) => println!("report: {}", out.display()),
        Err(e) => eprintln!("writing the report {}: {e}", out.display()),
    }
    std::process::ExitCode::from(if report.passed() { 0 } else { 1 })
}
