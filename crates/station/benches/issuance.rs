//! Instant issuance end to end on the simulated counter (processes: `station sim counter` and
//! `station serve --config`, the card through pcscd + vpcd, the printer over a pty), cards
//! issued one after another through the API as `station batch` does.
//!
//! Two runs: the printer's mechanical times off (scale 0), then scaled by `s`. The first is
//! the station's own time per card (API, journal, archives, identity check, face rendering,
//! the chip's exchange through pcscd, the printer protocol, and the simulated reader's wait for
//! each card the printer moves); the second is shown as it is. The printer's mechanical time at
//! real speed is the simulated printer's own account of one card. Beside them, the floor the chip's bytes
//! set on a real 9 600 bit/s contact link, and the batch throughput as a fraction of the
//! printer's rated speed (the chip is written in the printer's contact station, so the card
//! steps are serial with printing on a one-card-path printer). A third run posts the whole
//! batch at once, as `station batch` does: the station's desk then checks card N+1 (archives,
//! claim, identity) while card N is on the devices, and the time it saves per card is shown.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer cards.
//! Last, the ledger's own cost (#25): an entry appended with no key (the SM3 chain alone),
//! with the simulators' key in memory, and with the station's key in a SoftHSM2 token (the
//! entry's CMAC made there), median per entry, and the check of every entry's MAC that
//! `station ledger --verify` runs; the token's part is skipped, with a line saying so, where
//! softhsm2 is missing.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer cards.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archive::local::{LedgerKey, LocalArchive};

use card_transport::{Card, LinkCount, Metered};
use common::counter::Counter;
use station::client::{ApiClient, Collection, Progress};

/// The progress lines `station issue` prints, each with the instant it arrived: the job's
/// steps as the station's event stream tells them.
#[derive(Clone, Default)]
struct Stamped {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    pending: Vec<u8>,
}

impl Write for Stamped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line).trim().to_string();
            self.lines.lock().expect("lines").push((Instant::now(), text));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A step's begin or end in a progress line (`issue: step 6/13 feed-card begin`).
fn step_event(line: &str) -> Option<(&str, &str)> {
    let mut words = line.split_whitespace().skip_while(|w| *w != "step").skip(2);
    Some((words.next()?, words.next()?))
}

/// User plus system CPU seconds a process has used (`/proc/PID/stat`, in USER_HZ = 100 ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: the state is the first field, utime the 12th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// One run's figures.
struct Run {
    /// Median wall time per card (one by one), or the batch's wall time per card.
    per_card: Duration,
    /// Per step, its wall time on each card (one by one only), in the order first seen.
    steps: Vec<(String, Vec<Duration>)>,
    /// CPU seconds per card: the station (`station serve`), the simulators, pcscd.
    cpu: [f64; 3],
    /// Per card, the time the station waited for the card to show in the simulated reader.
    detection: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Persons `0..n` issued through the station's API as `station issue` does (one operator
/// session, the event stream followed): one after another, or all as `station batch` does (two
/// in the station at a time: the desk of the next card runs while one is on the devices).
fn run(n: usize, scale: f64, batch: bool) -> Run {
    let _one = common::serial();
    let c = Counter::start_timed(n, scale);
    let station = c.serve(None);
    let client = ApiClient::login(&c.api, "op", &c.password).expect("log-in");
    let stamped = Stamped::default();
    let mut progress = Progress::lines(stamped.clone());
    let pids = [Some(station.0.id()), Some(c.simulators_pid()), c.pcscd_pid];
    let cpu = || pids.map(|p| p.map_or(0.0, cpu_seconds));
    let cpu_before = cpu();
    let mut times = Vec::with_capacity(n);
    let started = Instant::now();
    if batch {
        let jobs: Vec<(serde_json::Value, Option<String>)> =
            c.people.iter().map(|p| (p.clone(), None)).collect();
        let ends = client.issue_all(&jobs, &Collection::default(), false, &mut progress).expect("batch");
        assert!(ends.iter().all(|e| e["status"] == "awaiting-handover"), "{ends:?}");
    } else {
        for person in &c.people {
            let t = Instant::now();
            let end =
                client.issue(person.clone(), None, &Collection::default(), &mut progress).expect("issue");
            assert_eq!(end["status"], "awaiting-handover", "{end}");
            times.push(t.elapsed());
        }
    }
    let wall = started.elapsed();
    let cpu_after = cpu();
    let cpu = [0, 1, 2].map(|i| (cpu_after[i] - cpu_before[i]) / n as f64);
    // Each step's wall time: from its begin to its done, card by card.
    let mut steps: Vec<(String, Vec<Duration>)> = Vec::new();
    let mut open: BTreeMap<String, Instant> = BTreeMap::new();
    for (at, line) in stamped.lines.lock().expect("lines").iter() {
        match step_event(line) {
            Some((name, "begin")) => drop(open.insert(name.to_string(), *at)),
            Some((name, "done")) => {
                if let Some(began) = open.remove(name) {
                    match steps.iter_mut().find(|(s, _)| s == name) {
                        Some((_, v)) => v.push(*at - began),
                        None => steps.push((name.to_string(), vec![*at - began])),
                    }
                }
            }
            _ => {}
        }
    }
    // The time the cards took to show in the simulated reader, per card: pcscd polls vpcd and
    // the simulator keeps a card out at least a second between two cards (docs: pcsc-sim.md).
    let log = std::fs::read_to_string(c.dir.path().join("serve.log")).unwrap_or_default();
    let waits: Vec<Duration> = log
        .lines()
        .filter(|l| l.contains("card present"))
        .filter_map(|l| {
            l.split("waited_ms=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .map(Duration::from_millis)
        .collect();
    let detection = waits.iter().sum::<Duration>() / n as u32;
    let per_card = if batch { wall / n as u32 } else { median(times) };
    Run { per_card, steps: if batch { Vec::new() } else { steps }, cpu, detection }
}

/// The printer's mechanical time for one card at real speed, as the simulated printer accounts
/// it (its realistic timings, unscaled): the card's commands driven in process through the
/// station's driver (fed to the contact station, the face printed, back to the contact
/// station, out). The wall-clock difference between a scaled run and one at 0 cannot give it:
/// the reader's wait for a card the printer moved overlaps the printer's own moves.
fn printer_seconds_per_card() -> f64 {
    use printer::{Printer, Station};
    use station::counter::FaceRenderer;
    let sim =
        printer_sim::SimPrinter::new(printer_sim::ModelConfig { auto_take: true, ..Default::default() });
    let mut p = printer::EvolisPrinter::new(printer_sim::MemoryTransport::new(sim.clone()));
    let dir = tempfile::tempdir().expect("dir");
    let faces = station::faces::CardFaceRenderer::builtin(
        firmware_profile::Generation::Third,
        dir.path().to_path_buf(),
        None,
    )
    .expect("face layout");
    let face = issuance::FaceText {
        name: "张三".into(),
        ssn: "110101199003071234".into(),
        card_number: "A00000011".into(),
        issue_date: "20261206".into(),
        sex: None,
        ethnicity: None,
        expiry_date: None,
        photo: None,
    };
    let job = faces.render(&face).expect("face");
    p.prepare().expect("prepare");
    p.load(Station::Contact).expect("to the contact station");
    p.print_face(&job).expect("print");
    p.load(Station::Contact).expect("back to the contact station");
    p.eject().expect("eject");
    sim.state().busy.as_secs_f64()
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

/// How one ledger of the comparison is kept: its MAC key (none: the chain only) and whether
/// its database is encrypted (SQLCipher, as a station's) or plain SQLite.
struct LedgerSetup {
    key: Option<Arc<dyn LedgerKey>>,
    encrypted: bool,
}

/// `n` entries appended to a fresh ledger for each of `setups`, the ledgers taking turns entry
/// by entry so that the disk's moods fall on each alike; then each whole ledger checked, three
/// times in turn.
fn ledger_costs(dir: &std::path::Path, setups: &[LedgerSetup], n: usize) -> Vec<LedgerCost> {
    let data_key = archive::at_rest::DataKey::generate().expect("random");
    let ledgers: Vec<LocalArchive> = setups
        .iter()
        .enumerate()
        .map(|(i, setup)| {
            let path = dir.join(format!("ledger-{i}.db"));
            let local = if setup.encrypted {
                LocalArchive::open(path, "S-BENCH", &data_key)
            } else {
                LocalArchive::open_unencrypted(path, "S-BENCH")
            }
            .expect("ledger");
            match &setup.key {
                Some(key) => local.with_ledger_key(key.clone()),
                None => local,
            }
        })
        .collect();
    let keys: Vec<_> = setups.iter().map(|s| s.key.clone()).collect();
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
    let simulators = station::ledger_key::open(None, None).expect("simulators' key");
    let mut keys: Vec<(&str, LedgerSetup)> = vec![
        ("no key (SM3 chain only), plain SQLite", LedgerSetup { key: None, encrypted: false }),
        ("no key, SQLCipher", LedgerSetup { key: None, encrypted: true }),
        ("key in memory, plain SQLite", LedgerSetup { key: Some(simulators.clone()), encrypted: false }),
        ("key in memory (simulators'), SQLCipher", LedgerSetup { key: Some(simulators), encrypted: true }),
    ];
    if keystore::softhsm2_installed() {
        // Made in the token and named by [ledger], as station.toml does.
        let lines = common::counter::station_keys_in_token(&dir.path().join("token"));
        let table: toml::Table = toml::from_str(&lines).expect("[ledger]");
        let settings: station::ledger_key::LedgerSettings =
            table["ledger"].clone().try_into().expect("[ledger] settings");
        let key = station::ledger_key::open(Some(&settings), None).expect("token key");
        keys.push((
            "key in SoftHSM2 (CMAC in the token), SQLCipher",
            LedgerSetup { key: Some(key), encrypted: true },
        ));
    }
    println!(
        "ledger append (one entry chained, synchronous=FULL) and check, plain SQLite beside SQLCipher, median of {n} (2-core machine: compare ratios)"
    );
    let (names, keys): (Vec<&str>, Vec<_>) = keys.into_iter().unzip();
    let costs = ledger_costs(dir.path(), &keys, n);
    let base = costs[0];
    for (what, cost) in names.into_iter().zip(costs) {
        println!(
            "{:<48} {:>7.1} µs per append ({:.2}x), check {:>5.1} µs per entry ({:.2}x), MAC alone {}",
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
            "{:<48} skipped: softhsm2 is not installed ({} or softhsm2-util missing; scripts/install-deps installs it)",
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
    // The reader driver logs how long each card took to show in the reader (debug).
    std::env::set_var("STATION_LOG", "info,pcsc_reader=debug");
    let own = run(n, 0.0, false);
    let station = own.per_card.as_secs_f64();
    let scaled = run(n, scale, false).per_card.as_secs_f64();
    let pipelined = run(n, scale, true).per_card.as_secs_f64();
    let printer = printer_seconds_per_card();
    // What the desk overlapping the devices saves per card, at any printer speed.
    let saved = (scaled - pipelined).max(0.0);
    let link = ssse_link("ssc-3g-sim.toml").seconds_at(9_600);
    let per_card = printer + station + link;
    let per_card_batch = (per_card - saved).max(printer);
    println!("{:<44} {:>9.3} s", "station's own time per card (printer at 0)", station);
    println!("{:<44} {:>9.3} s", "printer mechanical time per card (its own account)", printer);
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

    // Where the station's own time goes (printer at 0), step by step, and who spent CPU on it.
    println!("\nwhere a card's {:.3} s go, printer at 0 (median per step; wall time):", station);
    // One line of the breakdown: its wall time and its share of the card's.
    let row = |what: &str, t: f64| {
        println!("  {:<42} {:>9.1} ms {:>6.1} %", what, 1000.0 * t, 100.0 * t / station.max(1e-9))
    };
    let mut in_steps = 0.0;
    for (step, times) in &own.steps {
        let t = median(times.clone()).as_secs_f64();
        in_steps += t;
        row(step, t);
    }
    let detection = own.detection.as_secs_f64();
    row("  of which the simulated reader showing the card", detection);
    row("between steps (API, queue, event stream)", (station - in_steps).max(0.0));
    let [serve, sims, pcscd] = own.cpu;
    println!("CPU per card (user + system), printer at 0:");
    for (who, s) in [
        ("station serve (the station's own)", serve),
        ("simulators (chip, PSAM, printer, register, bank)", sims),
        ("pcscd", pcscd),
    ] {
        println!(
            "  {:<42} {:>9.1} ms {:>6.1} % of the wall time",
            who,
            1000.0 * s,
            100.0 * s / station.max(1e-9)
        );
    }
    let own_time = (station - detection).max(0.0);
    println!(
        "{:<44} {:>9.3} s = {:.1} % of the printer's time (goal: at most 2 %, {:.3} s)",
        "the station's own time, reader detection apart",
        own_time,
        100.0 * own_time / printer.max(1e-9),
        0.02 * printer
    );
    // The simulated reader's detection is the simulator's (vpcd is polled, and it keeps a card
    // out a second): a printer's CCID encoder reports an arrival at once, and a reader that
    // negotiates 115 200 bit/s (PPS) moves the same bytes in a twelfth of the 9 600 floor.
    let fast_link = ssse_link("ssc-3g-sim.toml").seconds_at(115_200);
    let counter_card = (printer + own_time + fast_link - saved).max(printer);
    println!(
        "{:<44} {:>9.1} cards/h = {:.1} % of the printer's rated speed (goal: at least 97 %)",
        "batch, reader detection apart, link 115 200",
        3600.0 / counter_card,
        100.0 * printer / counter_card
    );
    ledger_figures(if quick { 100 } else { 1000 });
}
