//! Runs one simulated card against vpcd until killed, for trying the real PC/SC stack by
//! hand (the station's `station sim card` does the same through `card_sim::run`).
//!
//! `cargo run -p card-sim --example vpcd_card -- PROFILE [STATE] [ADDR] [FAULTS]`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let mut args = std::env::args().skip(1);
    let profile = PathBuf::from(args.next().ok_or("usage: vpcd_card PROFILE [STATE] [ADDR] [FAULTS]")?);
    let state = args.next().filter(|s| s != "-").map(PathBuf::from);
    let vpcd = args.next().unwrap_or_else(|| card_sim::DEFAULT_USER_CARD_ADDR.to_string()).parse()?;
    let faults = args.next().unwrap_or_default().parse()?;
    card_sim::run(card_sim::SimConfig { profile, state, faults, vpcd })?;
    Ok(())
}
