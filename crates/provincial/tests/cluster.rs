//! The private cluster's promises: durable unless a test asks otherwise, and a start that
//! stops the cluster an earlier one left running in its directory.

use std::process::Command;

use provincial::cluster::{bin_dir, Cluster, Durability, LeftBehind};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// `SHOW name` on the cluster.
fn show(cluster: &Cluster, name: &str) -> String {
    let out = Command::new(bin_dir().expect("PostgreSQL").join("psql"))
        .args(["-X", "-tA", "-d"])
        .arg(cluster.url())
        .args(["-c", &format!("SHOW {name}")])
        .output()
        .expect("psql");
    assert!(out.status.success(), "SHOW {name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn settings(cluster: &Cluster) -> [String; 3] {
    ["fsync", "synchronous_commit", "full_page_writes"].map(|name| show(cluster, name))
}

fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

#[test]
fn the_durable_cluster_syncs_the_test_one_does_not_and_a_leftover_is_stopped() {
    let dir = tempfile::tempdir().expect("tmp");
    let pg = dir.path().join("pg");
    let fast = Cluster::start(&pg, free_port(), Durability::TestsOnly).expect("PostgreSQL starts");
    assert_eq!(settings(&fast), ["off", "off", "off"]);
    assert_eq!(fast.left_behind(), None);
    let leftover = fast.pid().expect("pid");
    // Its owner forgets it without stopping it: still running, as after a crash of a station
    // whose postgres had no parent-death signal.
    std::mem::forget(fast);
    assert!(running(leftover));

    let durable = Cluster::start(&pg, free_port(), Durability::Durable).expect("PostgreSQL starts");
    assert_eq!(durable.left_behind(), Some(&LeftBehind::Stopped { pid: leftover }));
    assert!(!running(leftover), "the leftover was stopped");
    assert_eq!(settings(&durable), ["on", "on", "on"]);
    assert_eq!(Durability::default(), Durability::Durable);
    let pid = durable.pid().expect("pid");
    drop(durable);
    assert!(!running(pid), "stopped on drop");
    assert!(!pg.join("data/postmaster.pid").exists(), "a clean shutdown");
}
