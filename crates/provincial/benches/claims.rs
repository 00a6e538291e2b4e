//! Claims per second and claim latency (p50/p99) of the provincial service with 1 M and 10 M
//! persons loaded (a generator fills the tables in the server), beside the bare rate of
//! single-row `INSERT ... ON CONFLICT DO NOTHING` on the same server at the same concurrency.
//! Figures only. `STATION_BENCH_QUICK=1`: 100 k persons and fewer claims.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use archive::conformance::{claim_request, fresh_ssn};
use archive::ProvincialArchive;

const CLIENTS: usize = 16;

/// Loads `n` persons (90 % with a live card, as in a province that has issued for years).
fn load(setup: &common::Setup, n: u64) -> Duration {
    let t = Instant::now();
    setup.runtime.block_on(async {
        let (client, conn) = tokio_postgres::connect(&setup.cluster.url(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "TRUNCATE requests, cards, claims, persons, free_card_numbers, card_number_counter CASCADE;
                 INSERT INTO persons (ssn, name)
                   SELECT '9' || lpad(i::text, 16, '0') || 'X', 'generated' FROM generate_series(1, {n}) AS i;
                 INSERT INTO cards (card_number, ssn, status, station)
                   SELECT 'G' || lpad(i::text, 8, '0'), '9' || lpad(i::text, 16, '0') || 'X', 'active', 'generator'
                   FROM generate_series(1, {n}) AS i WHERE i % 10 <> 0;
                 ANALYZE;"
            ))
            .await
            .expect("generator");
    });
    t.elapsed()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// `per_client` claims of fresh persons from each of CLIENTS stations at once.
fn claims(setup: &common::Setup, per_client: usize) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let client = setup.client(&format!("station-{i:02}"));
                s.spawn(move || {
                    (0..per_client)
                        .map(|_| {
                            let q = claim_request(&fresh_ssn(), None);
                            let t = Instant::now();
                            client.claim(&q).expect("claim");
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("client thread")).collect()
    });
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    (rate, percentile(&latencies, 50), percentile(&latencies, 99))
}

/// Single-row upserts straight to PostgreSQL from CLIENTS connections.
fn bare_upserts(setup: &common::Setup, per_client: usize) -> f64 {
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
                    let ssn = format!("8{c:02}{i:014}X");
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

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let (sizes, per_client): (&[u64], usize) =
        if quick { (&[100_000], 50) } else { (&[1_000_000, 10_000_000], 500) };
    let stations: Vec<String> = (0..CLIENTS).map(|i| format!("station-{i:02}")).collect();
    let names: Vec<&str> = stations.iter().map(String::as_str).collect();
    let setup = common::Setup::start(&names);
    println!(
        "provincial service: {CLIENTS} stations at once over mutual TLS, {} claims each (2-core machine: compare the ratio)",
        per_client
    );
    println!(
        "{:>12} {:>10} {:>12} {:>10} {:>10} {:>14} {:>8}",
        "persons", "load", "claims/s", "p50", "p99", "bare upserts/s", "ratio"
    );
    for &n in sizes {
        let loaded = load(&setup, n);
        let (rate, p50, p99) = claims(&setup, per_client);
        let bare = bare_upserts(&setup, per_client * 4);
        println!(
            "{n:>12} {:>8.1} s {rate:>12.0} {:>7.1} ms {:>7.1} ms {bare:>14.0} {:>7.1}x",
            loaded.as_secs_f64(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            bare / rate
        );
    }
}
