//! The kit against the real provincial service: PostgreSQL started privately, HTTP/JSON over
//! mutual TLS on loopback, each kit with its own certificate. One test (one PostgreSQL) runs
//! the two-kits-and-a-counter day, a sync killed at random points in a child process (its
//! certificate sealed in the kit's store, the file deleted), and a sync through a proxy that
//! cuts connections mid-stream. Run inside `isolated`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use archive::ProvincialArchive;
use common::*;
use outreach::Kit;
use provincial::cluster::{Cluster, Durability};
use provincial::{server, Client, Store};

/// Runs `outreach-sync` with `args`, which must fail before sending anything: what it said.
fn no_identity(args: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outreach-sync"))
        .args(args)
        .env("OUTREACH_PASSWORD", PASSWORD)
        .output()
        .expect("outreach-sync");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// A TCP proxy to `target` that cuts every connection (both ways, mid-stream) after a random
/// number of bytes. Counts the cuts.
fn cutting_proxy(target: SocketAddr, seed: u64) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cuts = Arc::new(AtomicUsize::new(0));
    let counted = cuts.clone();
    std::thread::spawn(move || {
        let mut rng = fastrand::Rng::with_seed(seed);
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(upstream) = TcpStream::connect(target) else { continue };
            // Enough for the TLS handshake most of the time, then a few records at most.
            let budget = Arc::new(AtomicIsize::new(rng.isize(2_000..14_000)));
            for (mut from, mut to) in [
                (client.try_clone().expect("clone"), upstream.try_clone().expect("clone")),
                (upstream, client),
            ] {
                let (budget, cuts) = (budget.clone(), counted.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if budget.fetch_sub(n as isize, Ordering::SeqCst) < n as isize {
                            // Pass part of it, then drop the line.
                            let _ = to.write_all(&buf[..n / 2]);
                            if from.shutdown(Shutdown::Both).is_ok() {
                                cuts.fetch_add(1, Ordering::SeqCst);
                            }
                            let _ = to.shutdown(Shutdown::Both);
                            break;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    (addr, cuts)
}

#[test]
fn kits_on_the_provincial_service_on_postgresql() {
    let dir = tempfile::tempdir().expect("tmp");
    let cluster = Cluster::start(&dir.path().join("pg"), free_port(), Durability::TestsOnly)
        .expect("PostgreSQL starts (scripts/install-deps)");
    let pki = provincial::pki::generate(&dir.path().join("pki"), &["counter-1"]).expect("pki");
    // Each kit's short-lived certificate names the station it belongs to.
    for kit in ["kit-a", "kit-b", "kit-k", "kit-n"] {
        provincial::pki::add_kit(&pki, kit, "counter-1", 14).expect("kit certificate");
    }
    let identity = |id: &str| if id.starts_with("kit-") { pki.kit(id) } else { pki.station(id) };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    // Counts the record requests the service answered: more than the records means retries
    // reached it and were answered from the stored results.
    let handled = Arc::new(AtomicUsize::new(0));
    let counter_layer = handled.clone();
    let service = runtime.block_on(async {
        let store = Store::connect(&cluster.url(), 'B', 16).await.expect("store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tls = server::tls_config(&pki).expect("tls");
        let app = server::router(store).layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let handled = counter_layer.clone();
                async move {
                    let record = req.uri().path() == "/v1/kit/record";
                    let response = next.run(req).await;
                    if record && response.status().is_success() {
                        handled.fetch_add(1, Ordering::SeqCst);
                    }
                    response
                }
            },
        ));
        server::spawn(listener, tls, app).expect("serve")
    });
    let url = format!("https://127.0.0.1:{}", service.addr.port());
    let client = |station: &str, base: &str, timeout: u64| {
        Client::new(base, &pki.ca(), &identity(station), Duration::from_secs(timeout)).expect("client")
    };
    let open = |station: &str| -> Box<dyn ProvincialArchive> { Box::new(client(station, &url, 30)) };
    let seed = fastrand::u64(..);
    println!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);

    // (a) Two kits and a counter on overlapping people.
    two_kits_and_a_counter(&open, dir.path());

    // (b1) A sync in a child process killed at random points, then resumed; the kit's
    // certificate and key are sealed in its store and the file is gone.
    let counter = open("counter-1");
    let path = dir.path().join("kit-k.db");
    let mut kit = busy_kit(open("kit-k").as_ref(), counter.as_ref(), &path, "kit-k", 60);
    let records = kit.outbox().len();
    let args = |store: &std::path::Path| -> Vec<String> {
        [
            "--store",
            &store.to_string_lossy(),
            "--operator",
            "op",
            "--url",
            &url,
            "--ca",
            &pki.ca().to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let refused = no_identity(&args(&path));
    assert!(refused.contains("kit kit-k holds no certificate"), "{refused}");
    assert!(refused.contains("station kit identity --import"), "{refused}");
    // The deprecated file override is checked like an import: another kit's file is refused.
    let mut other = args(&path);
    other.extend(["--identity".to_string(), pki.kit("kit-a").to_string_lossy().into_owned()]);
    let refused = no_identity(&other);
    assert!(refused.contains("deprecated") && refused.contains("not kit kit-k's"), "{refused}");
    let kit_pem = pki.kit("kit-k");
    let certificate = kit.import_identity(&std::fs::read(&kit_pem).expect("kit-k.pem")).expect("import");
    assert_eq!((certificate.id.as_str(), certificate.owner.as_deref()), ("kit-k", Some("counter-1")));
    std::fs::remove_file(&kit_pem).expect("the file is deleted once sealed");
    drop(kit);
    let args = args(&path);
    let progress = || {
        let kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
        kit.outbox().iter().filter(|o| o.result.is_some()).count()
    };
    let before = handled.load(Ordering::SeqCst);
    let (killed, _) = sync_with_kills(&args, &mut rng, &progress, records);
    let answered = handled.load(Ordering::SeqCst) - before;
    println!("killed: {records} records, {killed} runs killed mid-sync, {answered} record requests answered");
    assert!(killed >= 2, "the sync was killed mid-way several times");
    let kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
    let sealed =
        Client::from_pem(&url, &pki.ca(), kit.identity().expect("sealed").pem(), Duration::from_secs(30))
            .expect("client");
    every_record_once(&kit, &sealed, records);

    // (b2) A sync through a network that drops connections mid-stream, resumed until done.
    let path = dir.path().join("kit-n.db");
    let mut kit = busy_kit(open("kit-n").as_ref(), counter.as_ref(), &path, "kit-n", 60);
    let records = kit.outbox().len();
    let (proxy, cuts) = cutting_proxy(service.addr, rng.u64(..));
    let flaky = client("kit-n", &format!("https://127.0.0.1:{}", proxy.port()), 5);
    let before = handled.load(Ordering::SeqCst);
    let mut interruptions = 0;
    loop {
        match outreach::sync(&mut kit, &flaky) {
            Ok(report) => {
                assert_eq!(report.records, records);
                break;
            }
            Err(outreach::SyncError::Interrupted { .. }) => interruptions += 1,
            Err(e) => panic!("{e}"),
        }
        assert!(interruptions < 5_000, "the sync never got through");
    }
    let answered = handled.load(Ordering::SeqCst) - before;
    println!(
        "dropped network: {records} records, {interruptions} interruptions, {} cuts, {answered} record requests answered",
        cuts.load(Ordering::SeqCst)
    );
    assert!(interruptions > 0 && cuts.load(Ordering::SeqCst) > 0, "the network did drop");
    assert!(answered >= records);
    drop(kit);
    let kit = signed(Kit::open(&path, "op", PASSWORD).expect("log in"));
    every_record_once(&kit, open("kit-n").as_ref(), records);
    let named = cluster.log_lines_naming_persons();
    assert!(named.is_empty(), "ID numbers in PostgreSQL's log:\n{}", named.join("\n"));
    service.abort();
}
