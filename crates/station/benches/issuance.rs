//! Instant issuance end to end on the simulated counter (processes: `station sim counter` and
//! `station serve --config`, the card through pcscd + vpcd, the printer over a pty), cards
//! issued one after another through the API as `station batch` does.
//!
//! Two runs: the printer's mechanical times off (scale 0), then scaled by `s`. The first is
//! the station's own time per card (API, journal, archives, identity check, face rendering,
//! the chip's exchange through pcscd, the printer protocol); the difference, divided by `s`,
//! is the printer's mechanical time at real speed. Beside them, the floor the chip's bytes
//! set on a real 9 600 bit/s contact link, and the batch throughput as a fraction of the
//! printer's rated speed (the chip is written in the printer's contact station, so the card
//! steps are serial with printing on a one-card-path printer). A third run posts the whole
//! batch at once, as `station batch` does: the station's desk then checks card N+1 (archives,
//! claim, identity) while card N is on the devices, and the time it saves per card is shown.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer cards.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use card_transport::{Card, LinkCount, Metered};
use common::counter::Counter;

/// Issues persons `0..n` one after another; the median wall time per card.
fn run(n: usize, scale: f64) -> Duration {
    run_mode(n, scale, false)
}

/// Persons `0..n`: one after another (the median wall time per card), or all posted at once
/// (the batch's wall time divided by `n`).
fn run_mode(n: usize, scale: f64, batch: bool) -> Duration {
    let _one = common::serial();
    let c = Counter::start_timed(n, scale);
    let _station = c.serve(None);
    if batch {
        let t = Instant::now();
        (0..n).for_each(|i| c.issue(i));
        for job in 1..=n as i64 {
            // Made and out of the printer, waiting for its holder's signature.
            assert_eq!(c.wait_job(job), "awaiting-handover", "job {job}");
        }
        return t.elapsed() / n as u32;
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        c.issue(i);
        assert_eq!(c.wait_job(i as i64 + 1), "awaiting-handover", "card {i}");
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// The SSSE personalisation's exchange (card and PSAM links), counted in process.
fn ssse_link(profile: &str) -> LinkCount {
    let p = firmware_profile::Profile::load(common::profile(profile)).expect("profile");
    let layout = ssse::SsseLayout::from_profile(&p).expect("layout");
    let (mut card, mut sam) = common::in_process_pair(profile);
    let atr = card.atr().to_vec();
    let (issuer, holder) = common::zhang_san(&p, &atr);
    let mut u = card.transaction().expect("card tx");
    let mut s = sam.transaction().expect("PSAM tx");
    let mut mu = Metered::new(u.as_mut());
    let mut ms = Metered::new(s.as_mut());
    ssse::personalise(&mut mu, &atr, &mut ssse::Psam::new(&mut ms), &layout, &issuer, &holder)
        .expect("personalise");
    let (a, b) = (mu.count(), ms.count());
    LinkCount { apdus: a.apdus + b.apdus, sent: a.sent + b.sent, received: a.received + b.received }
}

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let (n, scale) = if quick { (3, 0.05) } else { (10, 0.25) };
    println!(
        "instant issuance on the simulated counter, median of {n} cards (2-core machine: compare ratios)"
    );
    let station = run(n, 0.0).as_secs_f64();
    let scaled = run(n, scale).as_secs_f64();
    let pipelined = run_mode(n, scale, true).as_secs_f64();
    let printer = ((scaled - station) / scale).max(0.0);
    // What the desk overlapping the devices saves per card, at any printer speed.
    let saved = (scaled - pipelined).max(0.0);
    let link = ssse_link("ssc-3g-sim.toml").seconds_at(9_600);
    let per_card = printer + station + link;
    let per_card_batch = (per_card - saved).max(printer);
    println!("{:<44} {:>9.3} s", "station's own time per card (printer at 0)", station);
    println!("{:<44} {:>9.3} s", format!("printer mechanical time per card (from x{scale})"), printer);
    println!("{:<44} {:>9.3} s", "chip link floor per card (SSSE, 9600 bit/s)", link);
    println!("{:<44} {:>9.3} s", "card at real speed (sum)", per_card);
    println!("{:<44} {:>9.1} %", "station overhead / printer time", 100.0 * station / printer.max(1e-9));
    println!(
        "{:<44} {:>9.3} s one by one, {:.3} s posted at once ({:.3} s saved by the desk)",
        format!("per card at x{scale}"),
        scaled,
        pipelined,
        saved
    );
    for (what, card) in
        [("throughput one by one", per_card), ("batch throughput (desk ahead)", per_card_batch)]
    {
        println!(
            "{:<44} {:>9.1} cards/h = {:.0} % of the printer's rated {:.1} cards/h",
            what,
            3600.0 / card,
            100.0 * printer / card,
            3600.0 / printer.max(1e-9)
        );
    }
}
