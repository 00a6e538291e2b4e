//! What the dependency tree may hold, checked from `cargo metadata` on every test run:
//!
//! - the workspace's `rust-version` is true. Our own code is held to it by clippy
//!   (`incompatible_msrv`, on in `scripts/test`, reads each crate's `rust-version`); this holds
//!   the dependencies to it: no package in `Cargo.lock` declares a newer one. (Building with that
//!   toolchain, `cargo +1.89.0 check --workspace --all-targets --all-features --locked`, is the
//!   stronger proof, but costs a toolchain download and a cold build on a clean CI machine.)
//! - `deny.toml`'s licences, banned crates and sources, as `cargo deny check bans licenses
//!   sources` reads them, for the Linux targets it names. cargo-deny itself takes about 20
//!   minutes to install on a clean machine and its advisory check needs the RustSec database from
//!   GitHub: run them where those are at hand (`cargo deny check`).

use std::process::Command;

/// The packages of the Linux build, from `cargo metadata` (all features: the simulators and the
/// camera are builds of ours too).
fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--all-features",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// The packages that are not ours.
fn dependencies(meta: &serde_json::Value) -> Vec<&serde_json::Value> {
    let workspace: Vec<&str> =
        meta["workspace_members"].as_array().expect("members").iter().filter_map(|m| m.as_str()).collect();
    let packages = meta["packages"].as_array().expect("packages");
    packages.iter().filter(|p| !workspace.contains(&p["id"].as_str().unwrap_or_default())).collect()
}

fn deny_toml() -> toml::Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deny.toml");
    toml::from_str(&std::fs::read_to_string(path).expect("deny.toml")).expect("deny.toml parses")
}

fn strings(v: &toml::Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn name(p: &serde_json::Value) -> String {
    format!("{} {}", p["name"].as_str().unwrap_or("?"), p["version"].as_str().unwrap_or("?"))
}

#[test]
fn licences_bans_and_sources_as_deny_toml_says() {
    let meta = metadata();
    let deny = deny_toml();
    let allowed = strings(&deny["licenses"]["allow"]);
    let banned: Vec<String> = deny["bans"]["deny"]
        .as_array()
        .expect("bans.deny")
        .iter()
        .filter_map(|b| b["crate"].as_str().map(String::from))
        .collect();
    let registries = strings(&deny["sources"]["allow-registry"]);
    let mut refused = Vec::new();
    for p in dependencies(&meta) {
        let crate_name = p["name"].as_str().unwrap_or_default();
        if banned.iter().any(|b| b == crate_name) {
            refused.push(format!("{} is banned in deny.toml", name(p)));
        }
        match p["source"].as_str() {
            Some(source) if registries.iter().any(|r| source == format!("registry+{r}")) => {}
            other => refused.push(format!("{} comes from {other:?}, not crates.io", name(p))),
        }
        let Some(licence) = p["license"].as_str() else {
            refused.push(format!("{} declares no SPDX licence (license-file only)", name(p)));
            continue;
        };
        match spdx::Expression::parse_mode(licence, spdx::ParseMode::LAX) {
            Ok(e) if e.evaluate(|req| allowed.contains(&req.to_string())) => {}
            Ok(_) => refused.push(format!("{} is under {licence}, not allowed by deny.toml", name(p))),
            Err(e) => refused.push(format!("{}: licence {licence:?} does not parse: {e}", name(p))),
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

/// `1.89` or `1.85.0` as (major, minor, patch).
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn no_dependency_needs_a_newer_rust_than_the_workspace_declares() {
    let meta = metadata();
    let ours = version(env!("CARGO_PKG_RUST_VERSION"));
    assert!(ours >= (1, 80, 0), "this crate declares rust-version: {ours:?}");
    let packages = meta["packages"].as_array().expect("packages");
    let workspace: Vec<&str> =
        meta["workspace_members"].as_array().expect("members").iter().filter_map(|m| m.as_str()).collect();
    let mut newer = Vec::new();
    for p in packages {
        let id = p["id"].as_str().unwrap_or_default();
        let declared = p["rust_version"].as_str();
        if workspace.contains(&id) {
            assert_eq!(
                declared.map(version),
                Some(ours),
                "{} must inherit the workspace's rust-version",
                p["name"]
            );
            continue;
        }
        if let Some(v) = declared.filter(|v| version(v) > ours) {
            newer.push(format!("{} {} needs {v}", p["name"].as_str().unwrap_or("?"), p["version"]));
        }
    }
    assert!(
        newer.is_empty(),
        "raise rust-version in Cargo.toml (and the README) or hold these back: {}",
        newer.join(", ")
    );
}
