//! Personalisation of a blank simulated card, in-process: APDUs, bytes and time per card,
//! beside the link lower bound (10 bits a byte at 9 600 and 115 200 bit/s). Then one terminal
//! flow for comparison. `cargo bench -p emv-cps`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use card_sim::SimConnection;
use card_transport::{Card, LinkCount, Metered};
use emv_cps::{
    build_test_dp, personalise, run_terminal, test_transport_key, verify_arqc, Interface, IssuerKeys,
    PersoParams, TerminalParams, TestCard,
};
use secure_channel::{IsdSetup, SecurityLevel};

fn profile_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles/ssc-3g-fin-sim.toml")
}

fn card() -> card_sim::SharedCard {
    card_sim::build_card(&card_sim::SimConfig {
        profile: profile_path(),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank: true,
    })
    .expect("simulated card")
}

fn line(what: &str, count: LinkCount, per: Duration) {
    println!(
        "{what:<34} {:>4} APDUs {:>6} bytes  {:>8.2} ms in-process  link floor {:>6.0} ms @9600  {:>5.0} ms @115200",
        count.apdus,
        count.bytes(),
        per.as_secs_f64() * 1e3,
        count.seconds_at(9_600) * 1e3,
        count.seconds_at(115_200) * 1e3,
    );
}

fn main() {
    let dp = build_test_dp(&TestCard::example(), &IssuerKeys::test(), &test_transport_key()).expect("dp");
    let profile = firmware_profile::Profile::load(profile_path()).expect("profile");
    let keys = IsdSetup::from_profile(&profile).and_then(|s| s.sim_keys(&profile)).expect("ISD test keys");
    let rounds = 50;
    for (name, level) in [
        ("personalise, C-MAC", SecurityLevel::C_MAC),
        ("personalise, C-DEC + C-MAC", SecurityLevel::C_DEC_C_MAC),
    ] {
        let mut params = PersoParams::for_profile(&profile).expect("params");
        params.host.level = level;
        let mut total = Duration::ZERO;
        let mut count = LinkCount::default();
        for _ in 0..rounds {
            let shared = card();
            let mut conn = SimConnection::connect("sim 0", shared).expect("connect");
            let mut tx = conn.transaction().expect("tx");
            let mut metered = Metered::new(tx.as_mut());
            let t = Instant::now();
            personalise(&mut metered, &dp, &test_transport_key(), &keys, &params).expect("personalised");
            total += t.elapsed();
            count = metered.count();
        }
        line(name, count, total / rounds);
    }
    let shared = card();
    let mut conn = SimConnection::connect("sim 0", shared).expect("connect");
    let mut tx = conn.transaction().expect("tx");
    personalise(
        tx.as_mut(),
        &dp,
        &test_transport_key(),
        &keys,
        &PersoParams::for_profile(&profile).expect("params"),
    )
    .expect("personalised");
    for interface in [Interface::Contact, Interface::Contactless] {
        let mut params = TerminalParams::counter(interface, "260315", [1, 2, 3, 4]);
        params.pin = (interface == Interface::Contact).then(|| "123456".to_string());
        let mut metered = Metered::new(tx.as_mut());
        let t = Instant::now();
        let reading = run_terminal(&mut metered, &params).expect("terminal");
        let per = t.elapsed();
        verify_arqc(&reading, &IssuerKeys::test()).expect("ARQC");
        line(&format!("terminal flow, {interface:?}"), metered.count(), per);
    }
}
