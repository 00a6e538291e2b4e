//! EMV CPS personalisation of one blank financial card through its issuer security domain,
//! per secure-channel scheme the profiles name (SCP02, SCP03, the SM4 variant) and level:
//! APDUs and bytes on the link, the median time through the real stack (pcsc -> pcscd -> vpcd
//! -> simulator) and in-process, and the floor the bytes alone set on a contact link at 9 600
//! and 115 200 bit/s (10 bits a byte). A card is personalised once, so every round puts a
//! fresh blank card in the reader (taken out, a new one in: not timed).
//! Then the keys' place: the station's financial step (`station::financial::Financial`, the
//! DP file made and the card personalised in process) with the keys in memory beside the
//! same keys in a SoftHSM2 token (#25: derivations and the DP decryption run in the token),
//! time per card, median of N; skipped, with a line saying so, where softhsm2 is missing.
//! Figures only; nothing is asserted on time. `STATION_BENCH_QUICK=1` runs fewer rounds and
//! C-MAC only.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use card_transport::{Card, CardTransaction, LinkCount, Metered};
use emv_cps::{DpFile, IssuerKeys, PersoParams};
use pcsc_reader::ReaderEvent;
use secure_channel::{IsdSetup, SecurityLevel, SoftwareKeys};

const PROFILES: [&str; 3] = ["ssc-3g-fin-sim.toml", "ssc-3g-fin-scp03-sim.toml", "ssc-3g-fin-sm4-sim.toml"];

struct Run {
    median: Duration,
    count: LinkCount,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn blank_card(profile: &str) -> card_sim::SharedCard {
    card_sim::build_card(&card_sim::SimConfig {
        profile: common::profile(profile),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank: true,
    })
    .expect("card")
}

/// One personalisation, timed and counted.
fn personalise_once(
    tx: &mut dyn CardTransaction,
    dp: &DpFile,
    keys: &SoftwareKeys,
    params: &PersoParams,
) -> (Duration, LinkCount) {
    let mut metered = Metered::new(tx);
    let t = Instant::now();
    emv_cps::personalise(&mut metered, dp, &emv_cps::test_transport_key(), keys, params)
        .expect("personalised");
    (t.elapsed(), metered.count())
}

/// The card in the stack's contact reader is taken out and a fresh blank one put in.
fn new_blank_card(stack: &mut common::Stack, profile: &str) {
    stack.card.remove();
    let e = stack.manager.wait_for_removal(common::READER, Some(Duration::from_secs(15))).expect("out");
    assert!(matches!(e, ReaderEvent::CardRemoved { .. }), "{e:?}");
    let fresh = blank_card(profile);
    std::mem::swap(card_sim::lock(stack.card.card()).os_mut(), card_sim::lock(&fresh).os_mut());
    stack.card.insert();
    common::wait_card(&mut stack.manager);
}

/// Through pcscd, a fresh blank card in the reader for every round.
fn real(
    stack: &mut common::Stack,
    profile: &str,
    dp: &DpFile,
    keys: &SoftwareKeys,
    params: &PersoParams,
    rounds: usize,
) -> Run {
    let mut samples = Vec::with_capacity(rounds);
    let mut count = LinkCount::default();
    for round in 0..rounds {
        if round > 0 {
            new_blank_card(stack, profile);
        }
        let mut card = stack.manager.open(common::READER).expect("card");
        let mut tx = card.transaction().expect("tx");
        let (time, c) = personalise_once(tx.as_mut(), dp, keys, params);
        samples.push(time);
        count = c;
    }
    Run { median: median(samples), count }
}

fn in_process(profile: &str, dp: &DpFile, keys: &SoftwareKeys, params: &PersoParams, rounds: usize) -> Run {
    let mut samples = Vec::with_capacity(rounds);
    let mut count = LinkCount::default();
    for _ in 0..rounds {
        let mut conn = card_sim::SimConnection::connect("sim 0", blank_card(profile)).expect("card");
        let mut tx = conn.transaction().expect("tx");
        let (time, c) = personalise_once(tx.as_mut(), dp, keys, params);
        samples.push(time);
        count = c;
    }
    Run { median: median(samples), count }
}

/// The station's financial step with the keys in memory and in a SoftHSM2 token, in process
/// (where the keys' cost is not hidden behind pcscd): median time per card of each, and the
/// ratio. The counter's default profile (SCP02, EMV CPS diversification); SoftHSM2 has no SM4.
fn keys_in_token_beside_memory(rounds: usize) {
    let name = "ssc-3g-fin-sim.toml";
    if !keystore::softhsm2_installed() {
        println!(
            "keys in SoftHSM2 beside keys in memory: skipped, softhsm2 is not installed \
             ({} or softhsm2-util missing; scripts/install-deps installs it)",
            keystore::SOFTHSM2_MODULE
        );
        return;
    }
    let profile = firmware_profile::Profile::load(common::profile(name)).expect("profile");
    let dir = tempfile::tempdir().expect("tmp");
    // The same test keys, formed in the token by a ceremony (its [counter.financial] lines unused).
    common::counter::financial_keys_in_token(dir.path());
    let config = |token: Option<station::config::TokenSettings>| station::config::FinancialConfig {
        dp: "test".into(),
        bin: "621234".into(),
        isd_key: if token.is_some() { "isd-master" } else { "test" }.into(),
        transport_key: if token.is_some() { "dp-transport" } else { "test" }.into(),
        token,
    };
    let in_token = station::config::TokenSettings {
        module: keystore::SOFTHSM2_MODULE.into(),
        label: "S-TEST".into(),
        pin_file: Some(dir.path().join("token.pin")),
        pin_env: None,
    };
    let example = emv_cps::TestCard::example();
    let holder = issuance::FinancialHolder {
        ssn: &example.holder_id,
        name: "张三",
        card_number: "B00000019",
        atr: &[],
        bank: None,
    };
    let time = |financial: &station::financial::Financial| {
        let samples = (0..rounds)
            .map(|_| {
                let mut conn = card_sim::SimConnection::connect("sim 0", blank_card(name)).expect("card");
                let mut tx = conn.transaction().expect("tx");
                let t = Instant::now();
                financial.personalise(tx.as_mut(), &holder).expect("personalised");
                t.elapsed()
            })
            .collect();
        median(samples)
    };
    let memory = station::financial::Financial::from_config(&config(None), &profile).expect("keys in memory");
    let token = station::financial::Financial::from_config(&config(Some(in_token)), &profile)
        .expect("keys in the token");
    let (m, t) = (time(&memory), time(&token));
    println!(
        "{:<22} keys in memory {:>8.2} ms, in SoftHSM2 {:>8.2} ms per card (in process, median of {rounds}): {:.2}x",
        name.trim_end_matches(".toml"),
        m.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e3,
        t.as_secs_f64() / m.as_secs_f64().max(1e-9)
    );
}

fn main() {
    let quick = std::env::var_os("STATION_BENCH_QUICK").is_some();
    let rounds = if quick { 3 } else { 10 };
    let levels: &[(&str, SecurityLevel)] = if quick {
        &[("C-MAC", SecurityLevel::C_MAC)]
    } else {
        &[("C-MAC", SecurityLevel::C_MAC), ("C-DEC+C-MAC", SecurityLevel::C_DEC_C_MAC)]
    };
    let dp = emv_cps::build_test_dp(
        &emv_cps::TestCard::example(),
        &IssuerKeys::test(),
        &emv_cps::test_transport_key(),
    )
    .expect("dp");
    println!(
        "EMV CPS personalisation (PSE, PPSE, PBOC debit) of one blank card, median of {rounds} through pcscd \
         (2-core machine: compare ratios, not absolutes)"
    );
    println!(
        "{:<22} {:<12} {:>6} {:>7} {:>11} {:>11} {:>7} {:>11} {:>11}",
        "profile", "level", "APDUs", "bytes", "real", "in-process", "ratio", "floor 9600", "floor 115k"
    );
    for name in PROFILES {
        let profile = firmware_profile::Profile::load(common::profile(name)).expect("profile");
        let keys =
            IsdSetup::from_profile(&profile).and_then(|s| s.sim_keys(&profile)).expect("ISD test keys");
        let mut stack = common::Stack::issuance(name);
        for (i, &(level_name, level)) in levels.iter().enumerate() {
            let mut params = PersoParams::for_profile(&profile).expect("params");
            params.host.level = level;
            if i > 0 {
                // The card in the reader was personalised by the previous level's last round.
                new_blank_card(&mut stack, name);
            }
            let real = real(&mut stack, name, &dp, &keys, &params, rounds);
            let local = in_process(name, &dp, &keys, &params, rounds * 10);
            assert_eq!(real.count, local.count, "the same exchange either way");
            println!(
                "{:<22} {:<12} {:>6} {:>7} {:>8.2} ms {:>8.3} ms {:>6.0}x {:>8.0} ms {:>8.1} ms",
                name.trim_end_matches(".toml"),
                level_name,
                real.count.apdus,
                real.count.bytes(),
                real.median.as_secs_f64() * 1e3,
                local.median.as_secs_f64() * 1e3,
                real.median.as_secs_f64() / local.median.as_secs_f64().max(1e-9),
                real.count.seconds_at(9_600) * 1e3,
                real.count.seconds_at(115_200) * 1e3,
            );
        }
        stack.pcscd.stop();
    }
    keys_in_token_beside_memory(rounds * 10);
}
