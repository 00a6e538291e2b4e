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
//! Last, the ledger's own cost (#25): an entry appended with no key (the SM3 chain alone),
//! with the simulators' key in memory, and with the station's key in a SoftHSM2 token (the
//! entry's CMAC made there), median per entry, and the check of every entry's MAC that
//! `station ledger --verify` runs; the token's part is skipped, with a line saying so, where
//! softhsm2 is missing.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer cards.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use std::sync::Arc;

use archive::local::{LedgerKey, LocalArchive};
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
    median(times)
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

/// What one ledger key costs: median per append, per entry of the whole check (chain and
/// MACs), and the median MAC of one entry alone.
#[derive(Clone, Copy)]
struct LedgerCost {
    append: Duration,
    check: Duration,
    mac: Option<Duration>,
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `n` entries appended to a fresh ledger for each of `keys` (none: the chain only), the
/// ledgers taking turns entry by entry so that the disk's moods fall on each alike; then each
/// whole ledger checked, three times in turn.
fn ledger_costs(dir: &std::path::Path, keys: &[Option<Arc<dyn LedgerKey>>], n: usize) -> Vec<LedgerCost> {
    let ledgers: Vec<LocalArchive> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let local = LocalArchive::open(dir.join(format!("ledger-{i}.db")), "S-BENCH").expect("ledger");
            match key {
                Some(key) => local.with_ledger_key(key.clone()),
                None => local,
            }
        })
        .collect();
    let detail = serde_json::json!({"step": "print-face", "card_number": "B00000019"});
    let mut appends = vec![Vec::with_capacity(n); keys.len()];
    for _ in 0..n {
        for (local, times) in ledgers.iter().zip(&mut appends) {
            let t = Instant::now();
            local.append_ledger("op", None, Some("B00000019"), "card.printed", &detail).expect("append");
            times.push(t.elapsed());
        }
    }
    let mut checks = vec![Vec::new(); keys.len()];
    for _ in 0..3 {
        for (local, times) in ledgers.iter().zip(&mut checks) {
            let t = Instant::now();
            assert_eq!(local.verify_ledger().expect("intact"), n);
            times.push(t.elapsed() / n as u32);
        }
    }
    let macs = keys.iter().map(|key| {
        key.as_ref().map(|key| {
            median(
                (0..n)
                    .map(|i| {
                        let t = Instant::now();
                        key.mac(&[i as u8; 32]).expect("mac");
                        t.elapsed()
                    })
                    .collect(),
            )
        })
    });
    appends
        .into_iter()
        .zip(checks)
        .zip(macs)
        .map(|((append, check), mac)| LedgerCost { append: median(append), check: median(check), mac })
        .collect()
}

/// The ledger append and check with and without the keyed MAC.
fn ledger_figures(n: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut keys: Vec<(&str, Option<Arc<dyn LedgerKey>>)> = vec![
        ("no key (SM3 chain only)", None),
        (
            "key in memory (simulators')",
            Some(station::ledger_key::open(None, None).expect("simulators' key")),
        ),
    ];
    if keystore::softhsm2_installed() {
        // Made in the token and named by [ledger], as station.toml does.
        let lines = common::counter::ledger_key_in_token(&dir.path().join("token"));
        let table: toml::Table = toml::from_str(&lines).expect("[ledger]");
        let settings: station::ledger_key::LedgerSettings =
            table["ledger"].clone().try_into().expect("[ledger] settings");
        let key = station::ledger_key::open(Some(&settings), None).expect("token key");
        keys.push(("key in SoftHSM2 (CMAC in the token)", Some(key)));
    }
    println!(
        "ledger append (one entry chained, SQLite synchronous=FULL) and check, median of {n} (2-core machine: compare ratios)"
    );
    let (names, keys): (Vec<&str>, Vec<_>) = keys.into_iter().unzip();
    let costs = ledger_costs(dir.path(), &keys, n);
    let base = costs[0];
    for (what, cost) in names.into_iter().zip(costs) {
        println!(
            "{:<36} {:>7.1} µs per append ({:.2}x), check {:>5.1} µs per entry ({:.2}x), MAC alone {}",
            what,
            cost.append.as_secs_f64() * 1e6,
            cost.append.as_secs_f64() / base.append.as_secs_f64().max(1e-12),
            cost.check.as_secs_f64() * 1e6,
            cost.check.as_secs_f64() / base.check.as_secs_f64().max(1e-12),
            cost.mac.map_or("-".to_string(), |m| format!("{:.1} µs", m.as_secs_f64() * 1e6))
        );
    }
    if !keystore::softhsm2_installed() {
        println!(
            "{:<36} skipped: softhsm2 is not installed ({} or softhsm2-util missing; scripts/install-deps installs it)",
            "key in SoftHSM2",
            keystore::SOFTHSM2_MODULE
        );
    }
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
    ledger_figures(if quick { 100 } else { 1000 });
}
