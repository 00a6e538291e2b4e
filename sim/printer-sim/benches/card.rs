//! What one card costs: bytes on the link, requests, and the simulated printer time with the
//! realistic timing model (computed by the model, not slept). Run with
//! `cargo bench -p printer-sim`.

use std::time::Instant;

use evolis::{DownloadBitmap, Levels, Panel};
use printer::{EvolisPrinter, PrintJob, Printer, Station};
use printer_sim::{MemoryTransport, ModelConfig, SimPrinter, Timing};

fn job() -> PrintJob {
    let dye = |panel| {
        DownloadBitmap::new(panel, Levels::L128, vec![0x55; Levels::L128.panel_len()]).expect("dye panel")
    };
    let mono =
        |panel| DownloadBitmap::new(panel, Levels::L2, vec![0xAA; Levels::L2.panel_len()]).expect("mono");
    PrintJob::new(vec![dye(Panel::Y), dye(Panel::M), dye(Panel::C), mono(Panel::K), mono(Panel::O)])
        .expect("job")
}

fn main() {
    const CARDS: u32 = 5;
    let sim =
        SimPrinter::new(ModelConfig { auto_take: true, timing: Timing::fast(), ..ModelConfig::default() });
    let mut printer = EvolisPrinter::new(MemoryTransport::new(sim.clone()));
    let job = job();
    let start = Instant::now();
    for _ in 0..CARDS {
        printer.prepare().expect("prepare");
        printer.load(Station::Contact).expect("load");
        printer.print_face(&job).expect("print");
        printer.eject().expect("eject");
    }
    let wall = start.elapsed();
    let transport = printer.transport();
    let state = sim.state();
    let timing = Timing::realistic();
    println!("cards:                        {CARDS}");
    println!("bytes sent per card:          {}", transport.bytes_sent() / u64::from(CARDS));
    println!("  of which panel data:        {}", job.data_len());
    println!("requests per card:            {}", transport.requests_sent() / u64::from(CARDS));
    println!("simulated printer time/card:  {:.1} s", (state.busy / CARDS).as_secs_f64());
    println!(
        "  model: insert {:?}, panel {:?}, eject {:?}, command {:?}",
        timing.insert, timing.panel, timing.eject, timing.command
    );
    println!("wall time per card (sim):     {:.3} s", (wall / CARDS).as_secs_f64());
    assert_eq!(state.ejected, CARDS);
}
