//! SSSE personalisation of one card (authenticate through the PSAM, 14 records written by
//! SFI, all read back): APDUs and bytes on the user-card and PSAM links, the median time
//! through the real stack (pcsc -> pcscd -> vpcd -> simulator) and in-process, and the floor
//! the bytes alone set on a real contact link at 9 600 and 115 200 bit/s.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer rounds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use card_transport::{Card, CardTransaction, LinkCount, Metered};
use ssse::{Psam, SsseLayout};

struct Run {
    median: Duration,
    card: LinkCount,
    psam: LinkCount,
}

fn run(
    user: &mut dyn CardTransaction,
    sam: &mut dyn CardTransaction,
    atr: &[u8],
    profile: &firmware_profile::Profile,
    rounds: usize,
) -> Run {
    let layout = SsseLayout::from_profile(profile).expect("layout");
    let (issuer, holder) = common::zhang_san(profile, atr);
    let mut samples = Vec::with_capacity(rounds);
    let (mut card, mut psam) = (LinkCount::default(), LinkCount::default());
    for _ in 0..rounds {
        let mut u = Metered::new(&mut *user);
        let mut s = Metered::new(&mut *sam);
        let t = Instant::now();
        ssse::personalise(&mut u, atr, &mut Psam::new(&mut s), &layout, &issuer, &holder)
            .expect("personalised");
        samples.push(t.elapsed());
        (card, psam) = (u.count(), s.count());
    }
    samples.sort();
    Run { median: samples[samples.len() / 2], card, psam }
}

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let rounds = if quick { 10 } else { 100 };
    println!("SSSE personalisation, median of {rounds} (2-core machine: compare ratios, not absolutes)");
    println!(
        "{:<16} {:>6} {:>10} {:>6} {:>10} {:>11} {:>11} {:>7} {:>11} {:>11}",
        "profile",
        "APDUs",
        "card bytes",
        "PSAM",
        "PSAM bytes",
        "real",
        "in-process",
        "ratio",
        "floor 9600",
        "floor 115k"
    );
    for name in ["ssc-3g-sim.toml", "ssc-3g-sm4-sim.toml", "ssc-2g-sim.toml"] {
        let profile = firmware_profile::Profile::load(common::profile(name)).expect("profile");
        let mut stack = common::Stack::issuance(name);
        let real = {
            let mut card = stack.manager.open(common::READER).expect("card");
            let mut sam = stack.manager.open(common::PSAM_READER).expect("PSAM");
            let atr = card.atr().to_vec();
            let mut u = card.transaction().expect("card tx");
            let mut s = sam.transaction().expect("PSAM tx");
            run(u.as_mut(), s.as_mut(), &atr, &profile, rounds)
        };
        stack.pcscd.stop();

        let (mut card, mut sam) = common::in_process_pair(name);
        let atr = card.atr().to_vec();
        let in_process = {
            let mut u = card.transaction().expect("card tx");
            let mut s = sam.transaction().expect("PSAM tx");
            run(u.as_mut(), s.as_mut(), &atr, &profile, rounds * 10)
        };
        assert_eq!(real.card, in_process.card, "the same exchange either way");
        // Both links run at the same rate; the PSAM's exchange is sequential with the card's.
        let both = LinkCount {
            apdus: real.card.apdus + real.psam.apdus,
            sent: real.card.sent + real.psam.sent,
            received: real.card.received + real.psam.received,
        };
        println!(
            "{:<16} {:>6} {:>10} {:>6} {:>10} {:>8.2} ms {:>8.3} ms {:>6.0}x {:>8.1} ms {:>8.1} ms",
            name.trim_end_matches(".toml"),
            real.card.apdus,
            real.card.bytes(),
            real.psam.apdus,
            real.psam.bytes(),
            real.median.as_secs_f64() * 1e3,
            in_process.median.as_secs_f64() * 1e3,
            real.median.as_secs_f64() / in_process.median.as_secs_f64().max(1e-9),
            both.seconds_at(9_600) * 1e3,
            both.seconds_at(115_200) * 1e3,
        );
    }
}
