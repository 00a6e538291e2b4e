//! One card, host side beside printer side: the time to render the 3rd-generation face and to
//! pack it (separation + `Db` packing; medians, the font loaded once as a station does), the
//! bytes the driver sends for the whole card, and the printer's time for it from the
//! simulator's timing model (added up by the model, not slept), with host time / printer
//! time. Figures only; nothing is asserted on time.
//!
//! `cargo bench -p printer-sim --bench card`; `STATION_BENCH_QUICK=1` runs fewer rounds.
//! Needs the Debian package fonts-arphic-uming (the shipped templates' CJK font).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use card_face::separate;
use printer::{evolis_downloads, EvolisPrinter};
use printer_sim::{MemoryTransport, ModelConfig, SimPrinter, Timing};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let (runs, cards) = if quick { (5, 2u32) } else { (21, 5u32) };

    let (renderer, data) = common::station_face();

    let (mut t_render, mut t_pack) = (Vec::new(), Vec::new());
    let mut downloads = Vec::new();
    let mut job = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let face = renderer.render(&data).unwrap_or_else(|e| panic!("{e}"));
        let t1 = Instant::now();
        let this = common::job_of(separate(&face));
        downloads = evolis_downloads(&this).expect("packed");
        t_render.push(t1 - t0);
        t_pack.push(t1.elapsed());
        job = Some(this);
    }
    let job = job.expect("at least one run");

    // The printer's side: whole cards through the driver to the simulator in memory, the
    // timing model's durations added up, never slept.
    let sim =
        SimPrinter::new(ModelConfig { auto_take: true, timing: Timing::fast(), ..ModelConfig::default() });
    let mut printer = EvolisPrinter::new(MemoryTransport::new(sim.clone()));
    for _ in 0..cards {
        common::full_card(&mut printer, &job).expect("a full card");
    }
    let state = sim.state();
    assert_eq!(state.ejected, cards, "every card came out");
    let transport = printer.transport();
    let printer_time = state.busy / cards;
    let (render, pack) = (median(t_render), median(t_pack));
    let host = render + pack;
    let timing = Timing::fast();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("one card, face ssc-3g ({runs} renders, {cards} cards through the simulator)");
    println!("render (median):              {:8.2} ms", ms(render));
    println!("pack: separate + Db (median): {:8.2} ms", ms(pack));
    println!("bytes sent per card:          {:8}", transport.bytes_sent() / u64::from(cards));
    println!("  of which panel data:        {:8}", downloads.iter().map(|d| d.data().len()).sum::<usize>());
    println!("requests per card:            {:8}", transport.requests_sent() / u64::from(cards));
    println!("simulated printer time/card:  {:8.2} s", printer_time.as_secs_f64());
    println!(
        "  model: insert {:?}, panel {:?}, eject {:?}, command {:?}",
        timing.insert, timing.panel, timing.eject, timing.command
    );
    println!(
        "host time / printer time:     {:8.5} (render + pack {:.2} ms per {:.2} s card)",
        host.as_secs_f64() / printer_time.as_secs_f64(),
        ms(host),
        printer_time.as_secs_f64()
    );
}
