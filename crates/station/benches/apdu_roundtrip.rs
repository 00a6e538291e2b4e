//! APDU round trip through the real stack (pcsc crate -> pcscd -> vpcd -> simulator) and
//! in-process (the same simulator, no I/O): median and p99 per APDU, and their ratio.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer rounds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use apdu::{expect_ok, Command};
use card_transport::{Card, CardTransaction};

struct Figures {
    median: Duration,
    p99: Duration,
}

fn measure(tx: &mut dyn CardTransaction, cmd: &[u8], rounds: usize) -> Figures {
    for _ in 0..rounds / 10 {
        tx.transmit(cmd).expect("warm-up");
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            let r = tx.transmit(cmd).expect("round trip");
            let d = t.elapsed();
            assert_eq!(r[r.len() - 2..], [0x90, 0x00]);
            d
        })
        .collect();
    samples.sort();
    Figures { median: samples[samples.len() / 2], p99: samples[samples.len() * 99 / 100] }
}

fn us(d: Duration) -> String {
    format!("{:9.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let rounds = if quick { 300 } else { 3000 };
    let cases: [(&str, Vec<u8>); 2] = [
        ("READ BINARY 16 B", Command::read_binary(0, 16).encode(false)),
        ("READ BINARY 4096 B (extended)", Command::read_binary(0, 4096).encode(true)),
    ];
    let select = Command::select_path(&[0xEF0F]);

    let mut stack = common::Stack::start("ssc-3g-sim.toml");
    let mut real = Vec::new();
    {
        let mut card = stack.manager.open(common::READER).expect("open");
        let mut tx = card.transaction().expect("transaction");
        expect_ok(tx.as_mut(), &select, "SELECT EF0F").expect("EF0F");
        for (_, cmd) in &cases {
            real.push(measure(tx.as_mut(), cmd, rounds));
        }
    }

    let local = card_sim::build_card(&card_sim::SimConfig {
        profile: common::profile("ssc-3g-sim.toml"),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank: false,
    })
    .expect("card");
    let mut conn = card_sim::SimConnection::connect("sim 0", local).expect("in-process");
    let mut in_process = Vec::new();
    {
        let mut tx = conn.transaction().expect("transaction");
        expect_ok(tx.as_mut(), &select, "SELECT EF0F").expect("EF0F");
        for (_, cmd) in &cases {
            in_process.push(measure(tx.as_mut(), cmd, rounds));
        }
    }

    println!(
        "APDU round trip, {rounds} rounds each after {} warm-up (2-core machine: compare ratios)",
        rounds / 10
    );
    println!(
        "{:<32} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "APDU", "real median", "real p99", "local median", "local p99", "ratio"
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        let (r, l) = (&real[i], &in_process[i]);
        println!(
            "{name:<32} {} {} {} {} {:>7.0}x",
            us(r.median),
            us(r.p99),
            us(l.median),
            us(l.p99),
            r.median.as_secs_f64() / l.median.as_secs_f64().max(1e-9)
        );
    }
    stack.pcscd.stop();
}
