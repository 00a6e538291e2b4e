//! Claims per second and claim latency (p50/p99) of the provincial service with 1 M and 10 M
//! persons loaded (a generator fills the tables in the server), beside the bare rate of
//! single-row `INSERT ... ON CONFLICT DO NOTHING` on the same server at the same concurrency
//! (three runs of the claims, each followed at once by one of the upserts; the run with the
//! median ratio is shown), and where a claim's time goes:
//! - the claims decided in batches (those that queued for a connection together) and the mean
//!   batch;
//! - the same claims straight to the store (no HTTP, TLS or JSON);
//! - the HTTPS round trip alone: a trivial endpoint that echoes a claim-sized body, over the
//!   same mutual TLS from the same 16 stations;
//! - JSON: the four encodings and decodings of a claim's request and answer;
//! - SQL round trips per claim, counted on the wire (a proxy between the store and PostgreSQL
//!   counts the client's Sync and Query messages: one each per round trip);
//! - CPU per claim of the stations, the service and PostgreSQL (the machine's two cores are
//!   what every layer shares);
//! - PostgreSQL's backends sampled while the claims run: on CPU, waiting for a lock, waiting
//!   for the service inside a transaction (round trips), idle; and claims queued for the
//!   pool's connections (one per core), which the next free connection decides together.
//!
//! `scripts/pg-claims-floor` gives PostgreSQL's own part: `claim_person`, and `claim_persons`
//! of six claims a call, against bare upserts with pgbench as the client.
//!
//! Each figure is printed with its goal beside it (issue #26: 3 000 claims/s with p99 under
//! 20 ms at 10 M persons, within 5x of the bare upserts). Figures only, nothing asserted.
//! `STATION_BENCH_QUICK=1`: 100 k persons and fewer claims. `STATION_BENCH_CLAIMS=N`: N claims
//! per station (a longer run to profile).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archive::conformance::{claim_request, fresh_ssn};
use archive::{Claim, ClaimRequest, ProvincialArchive};

const CLIENTS: usize = 16;
/// Calls each station makes before a run's clock starts.
const WARM: usize = 20;
/// The goal on this 2-core machine.
const GOAL_RATE: f64 = 3000.0;
const GOAL_P99_MS: f64 = 20.0;
const GOAL_RATIO: f64 = 5.0;
/// What one claim may cost of the two cores at the goal's rate, microseconds.
const CPU_BUDGET_US: f64 = 2.0 * 1e6 / GOAL_RATE;

/// Loads `n` persons (90 % with a live card made under a committed claim and its request, as
/// in a province that has issued for years). The claims and requests matter: planned on an
/// empty table, the claim's statements would scan it (a connection keeps its plan until the
/// table is analysed again), each claim slower than the one before.
fn load(setup: &common::Setup, n: u64) -> Duration {
    let t = Instant::now();
    setup.runtime.block_on(async {
        let client = setup.sql().await;
        client
            .batch_execute(&format!(
                "TRUNCATE requests, cards, claims, persons, free_card_numbers, card_number_blocks, card_number_counter CASCADE;
                 INSERT INTO persons (ssn, name)
                   SELECT '9' || lpad(i::text, 16, '0') || 'X', 'generated' FROM generate_series(1, {n}) AS i;
                 INSERT INTO cards (card_number, ssn, status, station)
                   SELECT 'G' || lpad(i::text, 8, '0'), '9' || lpad(i::text, 16, '0') || 'X', 'active', 'generator'
                   FROM generate_series(1, {n}) AS i WHERE i % 10 <> 0;
                 INSERT INTO claims (ssn, station, card_number, state, expires_at)
                   SELECT '9' || lpad(i::text, 16, '0') || 'X', 'generator', 'G' || lpad(i::text, 8, '0'),
                          'committed', now()
                   FROM generate_series(1, {n}) AS i WHERE i % 10 <> 0;
                 INSERT INTO requests (request_id, station, op, body_hash, answer)
                   SELECT 'generated-' || i, 'generator', 'claim', '', '{{}}'
                   FROM generate_series(1, {n}) AS i WHERE i % 10 <> 0;
                 ANALYZE;"
            ))
            .await
            .expect("generator");
        // A province's tables are vacuumed and checkpointed in their steady state: the claims
        // are measured without autovacuum going through the generated rows meanwhile.
        client.batch_execute("VACUUM (ANALYZE)").await.expect("vacuum");
        client.batch_execute("CHECKPOINT").await.expect("checkpoint");
    });
    t.elapsed()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// A run's rate and latencies.
struct Timed {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

impl Timed {
    fn of(mut latencies: Vec<Duration>, elapsed: Duration) -> Timed {
        latencies.sort();
        Timed {
            rate: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `per_client` calls of `call` from each of CLIENTS threads at once (`make(i)` gives thread
/// i its state: a station's client). A running service is warm: before the clock starts,
/// the stations make a few calls at once (their TLS handshakes, the pool's connections opened
/// and the claim's functions compiled in each).
fn threads<C: Send + Sync>(per_client: usize, make: impl Fn(usize) -> C, call: impl Fn(&C) + Sync) -> Timed {
    let clients: Vec<C> = (0..CLIENTS).map(make).collect();
    std::thread::scope(|s| {
        for c in &clients {
            let call = &call;
            s.spawn(move || (0..WARM).for_each(|_| call(c)));
        }
    });
    let start = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .into_iter()
            .map(|c| {
                let call = &call;
                s.spawn(move || {
                    (0..per_client)
                        .map(|_| {
                            let t = Instant::now();
                            call(&c);
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("client thread")).collect()
    });
    Timed::of(latencies, start.elapsed())
}

fn station(i: usize) -> String {
    format!("station-{i:02}")
}

/// Claims of fresh persons over HTTPS, from CLIENTS stations at once.
fn claims(setup: &common::Setup, per_client: usize) -> Timed {
    threads(
        per_client,
        |i| setup.client(&station(i)),
        |client| {
            client.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
        },
    )
}

/// The same claims straight to the store: CLIENTS tasks on the service's runtime.
fn store_claims(setup: &common::Setup, per_client: usize) -> Timed {
    setup.runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let store = setup.store.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let q = claim_request(&fresh_ssn(), None);
                        let t = Instant::now();
                        store.claim(&station(i), &q).await.expect("claim");
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.expect("task"));
        }
        Timed::of(latencies, start.elapsed())
    })
}

/// The trivial endpoint: echoes its body (mounted beside the service's routes, outside the
/// layer that enters the station: no store at all).
const ECHO: &str = "/bench/echo";

/// A claim-sized body to the echo endpoint over the same mutual TLS, from CLIENTS stations.
fn echoes(setup: &common::Setup, per_client: usize) -> Timed {
    let body = serde_json::to_vec(&claim_request(&fresh_ssn(), None)).expect("json");
    let url = format!("{}{ECHO}", setup.url());
    threads(
        per_client,
        |i| {
            provincial::client::mtls_agent(
                &setup.pki.ca(),
                &setup.pki.station(&station(i)),
                Duration::from_secs(30),
            )
            .expect("client")
        },
        |http| {
            let mut r = http.post(&url).send(&body[..]).expect("echo");
            assert!(r.status().is_success(), "echo: {}", r.status());
            r.body_mut().read_to_vec().expect("echo body");
        },
    )
}

/// Runs of the claims over HTTPS, each followed at once by a run of the bare upserts. The
/// machine's speed drifts over minutes (a single sub-second run of the upserts varied by half
/// from one run to the next), so each ratio compares two runs seconds apart, and the run with
/// the median ratio is the one shown.
const RUNS: usize = 3;

/// Single-row upserts straight to PostgreSQL from CLIENTS connections (run `run`'s own keys).
fn bare_upserts(setup: &common::Setup, run: usize, per_client: usize) -> f64 {
    let url = setup.cluster.url();
    setup.runtime.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let (client, conn) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
                tokio::spawn(conn);
                let stmt = client
                    .prepare("INSERT INTO persons (ssn, name) VALUES ($1, 'bare') ON CONFLICT DO NOTHING")
                    .await
                    .expect("prepare");
                for i in 0..per_client {
                    let ssn = format!("8{run}{c:02}{i:013}X");
                    client.execute(&stmt, &[&ssn]).await.expect("upsert");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        (CLIENTS * per_client) as f64 / start.elapsed().as_secs_f64()
    })
}

/// Microseconds of JSON per claim: the station encodes the request, the service decodes it,
/// encodes the answer, the station decodes that.
fn json_us() -> f64 {
    let q = claim_request(&fresh_ssn(), None);
    let answer = Claim {
        claim_id: 123_456_789,
        ssn: q.ssn.clone(),
        station: station(7),
        card_number: "B00000019".into(),
        reissue_of: None,
        expires_at: 1_800_000_000,
    };
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        let sent = serde_json::to_vec(std::hint::black_box(&q)).expect("encode");
        let got: ClaimRequest = serde_json::from_slice(&sent).expect("decode");
        let back = serde_json::to_vec(std::hint::black_box(&answer)).expect("encode");
        let read: Claim = serde_json::from_slice(&back).expect("decode");
        std::hint::black_box((got, read));
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// A TCP proxy in front of PostgreSQL that counts the round trips its clients make: every
/// extended-protocol exchange ends with a Sync ('S'), every simple query is one Query ('Q').
struct RoundTrips {
    port: u16,
    count: Arc<AtomicU64>,
}

impl RoundTrips {
    fn start(pg_port: u16) -> RoundTrips {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let server = TcpStream::connect(("127.0.0.1", pg_port)).expect("PostgreSQL");
                let (mut to_client, mut from_server) =
                    (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
                let counted = counted.clone();
                std::thread::spawn(move || RoundTrips::forward(client, server, &counted));
            }
        });
        RoundTrips { port, count }
    }

    /// Forwards the client's messages, counting them; the first ones (SSL request, startup)
    /// have no type byte.
    fn forward(mut client: TcpStream, mut server: TcpStream, count: &AtomicU64) -> std::io::Result<()> {
        let mut started = false;
        loop {
            let mut kind = [0u8; 1];
            if started {
                client.read_exact(&mut kind)?;
            }
            let mut len = [0u8; 4];
            client.read_exact(&mut len)?;
            let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
            client.read_exact(&mut body)?;
            if started {
                if kind[0] == b'S' || kind[0] == b'Q' {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                server.write_all(&kind)?;
            } else {
                // Protocol 3.0's startup message (not an SSL request): typed messages follow.
                started = body.starts_with(&196_608u32.to_be_bytes());
            }
            server.write_all(&len)?;
            server.write_all(&body)?;
        }
    }
}

/// SQL round trips per claim: `n` claims through a store connected via [`RoundTrips`].
fn round_trips_per_claim(setup: &common::Setup, n: usize) -> f64 {
    let url = setup.cluster.url();
    let pg_port: u16 = url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
        .expect("port in the cluster's URL");
    let proxy = RoundTrips::start(pg_port);
    let proxied = url.replace(&format!("port={pg_port}"), &format!("port={}", proxy.port));
    setup.runtime.block_on(async {
        let store = provincial::Store::connect(&proxied, 'B', 1).await.expect("store through the proxy");
        // Warm: the connection's statements prepared, as in a running service.
        store.claim(&station(0), &claim_request(&fresh_ssn(), None)).await.expect("claim");
        let before = proxy.count.load(Ordering::Relaxed);
        for _ in 0..n {
            store.claim(&station(0), &claim_request(&fresh_ssn(), None)).await.expect("claim");
        }
        (proxy.count.load(Ordering::Relaxed) - before) as f64 / n as f64
    })
}

/// CPU seconds so far of the stations (this process but the service's runtime workers, the
/// stations' threads ended or not), the service (its runtime workers) and PostgreSQL (the
/// postmaster and its children, living and ended), with each living client backend's own.
#[derive(Clone, Default)]
struct Cpu {
    stations: f64,
    service: f64,
    postgres: f64,
    backends: std::collections::HashMap<String, f64>,
}

/// CPU seconds between two [`Cpu`]s: PostgreSQL's split into its client backends (the store's
/// pooled connections) and the rest (autovacuum, checkpointer, writers, processes that ended).
#[derive(Clone, Copy)]
struct CpuSpent {
    stations: f64,
    service: f64,
    backends: f64,
    postgres_rest: f64,
}

/// Utime + stime (+ the ended children's with `children`) of a /proc stat file, seconds.
fn proc_cpu(stat: &str, children: bool) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(stat).ok()?;
    let (head, rest) = text.rsplit_once(") ")?;
    let comm = head.split_once(" (")?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14-17 of stat(5), counted from field 3 (state) here; USER_HZ is 100 on Linux.
    let take = if children { 4 } else { 2 };
    let ticks: u64 = fields.get(11..11 + take)?.iter().filter_map(|f| f.parse::<u64>().ok()).sum();
    Some((comm, ticks as f64 / 100.0))
}

fn parent_of(pid: &str) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()
}

impl Cpu {
    fn now(postmaster: u32) -> Cpu {
        let mut cpu = Cpu::default();
        // The process's own figure keeps the time of threads that ended (the stations' own).
        let process = proc_cpu("/proc/self/stat", false).map_or(0.0, |(_, s)| s);
        for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
            if let Some((comm, s)) = proc_cpu(&format!("{}/stat", task.path().display()), false) {
                // The service's runtime workers: "tokio-rt-worker" ("tokio-runtime-worker" before
                // tokio 1.44). The stations' clients run on their own threads.
                if comm.starts_with("tokio-r") {
                    cpu.service += s;
                }
            }
        }
        cpu.stations = process - cpu.service;
        cpu.postgres = proc_cpu(&format!("/proc/{postmaster}/stat"), true).map_or(0.0, |(_, s)| s);
        for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = p.file_name().to_string_lossy().into_owned();
            if pid.bytes().all(|b| b.is_ascii_digit()) && parent_of(&pid) == Some(postmaster) {
                let s = proc_cpu(&format!("/proc/{pid}/stat"), false).map_or(0.0, |(_, s)| s);
                cpu.postgres += s;
                // A client backend's title names its user and database: "postgres: station provincial ...".
                let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&title).starts_with("postgres: station ") {
                    cpu.backends.insert(pid, s);
                }
            }
        }
        cpu
    }

    fn since(&self, before: &Cpu) -> CpuSpent {
        let backends: f64 =
            self.backends.iter().map(|(pid, s)| s - before.backends.get(pid).copied().unwrap_or(0.0)).sum();
        CpuSpent {
            stations: self.stations - before.stations,
            service: self.service - before.service,
            backends,
            postgres_rest: self.postgres - before.postgres - backends,
        }
    }
}

/// What PostgreSQL's client backends were doing, summed over samples, and the claims waiting
/// for a pooled connection.
#[derive(Default)]
struct Waits {
    samples: u64,
    on_cpu: i64,
    /// Waiting for a row another transaction holds (the number counter, a person).
    row_lock: i64,
    /// Waiting for another lock (a table's extension, a relation).
    other_lock: i64,
    other_wait: i64,
    in_transaction: i64,
    idle: i64,
    claims_waiting: u64,
}

impl Waits {
    fn share(&self, n: i64) -> f64 {
        let all =
            self.on_cpu + self.row_lock + self.other_lock + self.other_wait + self.in_transaction + self.idle;
        100.0 * n as f64 / all.max(1) as f64
    }
}

/// Samples pg_stat_activity and the store's pool every 5 ms until `stop`.
fn sample_waits(setup: &common::Setup, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Waits> {
    let (url, store) = (setup.cluster.url(), setup.store.clone());
    setup.runtime.spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let sample = client
            .prepare(
                "SELECT count(*) FILTER (WHERE state = 'active' AND wait_event_type IS NULL),
                        count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'
                                         AND wait_event IN ('transactionid', 'tuple')),
                        count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'
                                         AND wait_event NOT IN ('transactionid', 'tuple')),
                        count(*) FILTER (WHERE state = 'active' AND wait_event_type <> 'Lock'),
                        count(*) FILTER (WHERE state LIKE 'idle in transaction%'),
                        count(*) FILTER (WHERE state = 'idle')
                 FROM pg_stat_activity
                 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()",
            )
            .await
            .expect("prepare");
        let mut w = Waits::default();
        while !stop.load(Ordering::Relaxed) {
            let r = client.query_one(&sample, &[]).await.expect("sample");
            w.samples += 1;
            w.on_cpu += r.get::<_, i64>(0);
            w.row_lock += r.get::<_, i64>(1);
            w.other_lock += r.get::<_, i64>(2);
            w.other_wait += r.get::<_, i64>(3);
            w.in_transaction += r.get::<_, i64>(4);
            w.idle += r.get::<_, i64>(5);
            w.claims_waiting += store.claim_batches().waiting as u64;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w
    })
}

/// `run` with the CPU it took and PostgreSQL's backends sampled meanwhile.
fn observed(setup: &common::Setup, run: impl FnOnce() -> Timed) -> (Timed, CpuSpent, Waits) {
    let postmaster = setup.cluster.pid().expect("PostgreSQL runs");
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_waits(setup, stop.clone());
    let before = Cpu::now(postmaster);
    let timed = run();
    let cpu = Cpu::now(postmaster).since(&before);
    stop.store(true, Ordering::Relaxed);
    let waits = setup.runtime.block_on(sampler).expect("sampler");
    (timed, cpu, waits)
}

/// One run of the claims over HTTPS and the bare upserts' rate just after it.
struct Run {
    http: Timed,
    cpu: CpuSpent,
    waits: Waits,
    /// Batches, and the claims in them, during the run.
    batches: u64,
    batched: u64,
    bare: f64,
}

impl Run {
    fn ratio(&self) -> f64 {
        self.bare / self.http.rate
    }
}

/// One figure with its goal.
fn figure(what: &str, value: String, goal: String, met: bool) {
    println!("  {what:<52} {value:>20}   goal {goal:<22} {}", if met { "met" } else { "MISSED" });
}

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let (sizes, per_client): (&[u64], usize) =
        if quick { (&[100_000], 200) } else { (&[1_000_000, 10_000_000], 1500) };
    let per_client =
        std::env::var("STATION_BENCH_CLAIMS").ok().and_then(|n| n.parse().ok()).unwrap_or(per_client);
    let stations: Vec<String> = (0..CLIENTS).map(station).collect();
    let names: Vec<&str> = stations.iter().map(String::as_str).collect();
    let setup = common::Setup::start_with(&names, |r| {
        r.route(ECHO, axum::routing::post(|body: String| async move { body }))
    });
    println!(
        "provincial service: {CLIENTS} stations at once over mutual TLS, {per_client} claims each \
         (2-core machine, shared: compare ratios)"
    );
    let per_claim = CPU_BUDGET_US;
    let json = json_us();
    figure(
        "JSON per claim (request and answer, both ends)",
        format!("{json:.1} us"),
        format!("<= {:.0} us (3 % of CPU)", per_claim * 0.03),
        json <= per_claim * 0.03,
    );
    for &n in sizes {
        let loaded = load(&setup, n);
        println!("{n} persons loaded in {:.1} s", loaded.as_secs_f64());
        let mut runs: Vec<Run> = (0..RUNS)
            .map(|run| {
                let before = setup.store.claim_batches();
                let (http, cpu, waits) = observed(&setup, || claims(&setup, per_client));
                let after = setup.store.claim_batches();
                let bare = bare_upserts(&setup, run, per_client * 4);
                Run {
                    http,
                    cpu,
                    waits,
                    batches: after.batches - before.batches,
                    batched: after.claims - before.claims,
                    bare,
                }
            })
            .collect();
        runs.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
        let ratios: Vec<String> = runs.iter().map(|r| format!("{:.1}x", r.ratio())).collect();
        let Run { http, cpu, waits, batches, batched: in_batches, bare } = runs.swap_remove(RUNS / 2);
        let claimed = (CLIENTS * per_client) as f64;
        let (direct, direct_cpu, _) = observed(&setup, || store_claims(&setup, per_client));
        let (echo, echo_cpu, _) = observed(&setup, || echoes(&setup, per_client * 2));
        let trips = round_trips_per_claim(&setup, 50);
        figure(
            "claims over HTTPS",
            format!("{:.0} /s", http.rate),
            format!(">= {GOAL_RATE:.0} /s"),
            http.rate >= GOAL_RATE,
        );
        figure(
            "  latency p50 / p99",
            format!("{:.1} / {:.1} ms", ms(http.p50), ms(http.p99)),
            format!("p99 < {GOAL_P99_MS:.0} ms"),
            ms(http.p99) < GOAL_P99_MS,
        );
        figure(
            "  bare single-row upserts, ratio",
            format!("{bare:.0} /s, {:.1}x", bare / http.rate),
            format!("<= {GOAL_RATIO:.0}x"),
            bare / http.rate <= GOAL_RATIO,
        );
        figure(
            &format!("  the ratio in each of {RUNS} runs (the median shown)"),
            ratios.join(" "),
            "-".into(),
            true,
        );
        figure(
            "  claims decided in batches, mean batch",
            format!(
                "{:.0} %, {:.1}",
                100.0 * in_batches as f64 / (claimed + (CLIENTS * WARM) as f64),
                in_batches as f64 / batches.max(1) as f64
            ),
            format!("- (at most {})", provincial::MAX_BATCH),
            true,
        );
        let us = |s: f64| s * 1e6 / claimed;
        let total = us(cpu.stations + cpu.service + cpu.backends + cpu.postgres_rest);
        figure(
            "  CPU per claim: stations + service + PostgreSQL (+ its rest)",
            format!(
                "{:.0}+{:.0}+{:.0} (+{:.0}) us",
                us(cpu.stations),
                us(cpu.service),
                us(cpu.backends),
                us(cpu.postgres_rest)
            ),
            format!("<= {per_claim:.0} us in all"),
            total <= per_claim,
        );
        figure(
            "same claims straight to the store (no HTTP/TLS/JSON)",
            format!("{:.0} /s", direct.rate),
            format!(">= {GOAL_RATE:.0} /s"),
            direct.rate >= GOAL_RATE,
        );
        figure(
            "  latency p50 / p99",
            format!("{:.1} / {:.1} ms", ms(direct.p50), ms(direct.p99)),
            format!("p99 < {GOAL_P99_MS:.0} ms"),
            ms(direct.p99) < GOAL_P99_MS,
        );
        let direct_us =
            us(direct_cpu.stations + direct_cpu.service + direct_cpu.backends + direct_cpu.postgres_rest);
        figure(
            "  CPU per claim: store + PostgreSQL (+ its rest)",
            format!(
                "{:.0}+{:.0} (+{:.0}) us",
                us(direct_cpu.stations + direct_cpu.service),
                us(direct_cpu.backends),
                us(direct_cpu.postgres_rest)
            ),
            format!("<= {:.0} us (2/3 of it)", per_claim * 2.0 / 3.0),
            direct_us <= per_claim * 2.0 / 3.0,
        );
        figure("  SQL round trips per claim (on the wire)", format!("{trips:.1}"), "1".into(), trips <= 1.0);
        let echoed = (CLIENTS * per_client * 2) as f64;
        let echo_us = (echo_cpu.stations + echo_cpu.service + echo_cpu.backends) * 1e6 / echoed;
        figure(
            "HTTPS echo of a claim-sized body (no store)",
            format!("{:.0} /s, p99 {:.1} ms", echo.rate, ms(echo.p99)),
            format!(">= {:.0} /s", 3.0 * GOAL_RATE),
            echo.rate >= 3.0 * GOAL_RATE,
        );
        figure(
            "  CPU per request: stations + service",
            format!("{:.0}+{:.0} us", echo_cpu.stations * 1e6 / echoed, echo_cpu.service * 1e6 / echoed),
            format!("<= {:.0} us (1/3 of it)", per_claim / 3.0),
            echo_us <= per_claim / 3.0,
        );
        figure(
            "PostgreSQL backends during the HTTPS claims: on CPU",
            format!("{:.0} %", waits.share(waits.on_cpu)),
            "-".into(),
            true,
        );
        let locked = waits.share(waits.row_lock + waits.other_lock);
        figure(
            "  waiting for a row lock / another lock / other waits",
            format!(
                "{:.0} / {:.0} / {:.0} %",
                waits.share(waits.row_lock),
                waits.share(waits.other_lock),
                waits.share(waits.other_wait)
            ),
            "locks < 10 %".into(),
            locked < 10.0,
        );
        figure(
            "  in a transaction, waiting for the service / idle",
            format!("{:.0} % / {:.0} %", waits.share(waits.in_transaction), waits.share(waits.idle)),
            "in transaction < 10 %".into(),
            waits.share(waits.in_transaction) < 10.0,
        );
        figure(
            &format!(
                "  claims queued for the pool's {} connections (mean)",
                setup.store.pool_status().max_size
            ),
            format!("{:.2}", waits.claims_waiting as f64 / waits.samples.max(1) as f64),
            "- (the next batch)".into(),
            true,
        );
    }
}
