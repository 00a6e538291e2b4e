//! The real PC/SC stack for tests and benchmarks: a private pcscd with vpcd, our simulated card
//! plugged in as a vpcd client, and the station's PC/SC driver connected to it.
#![allow(dead_code)]

pub mod counter;
pub mod station_db;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use card_sim::{Faults, SimConfig, VpcdHandle};
use pcsc_reader::{PcscManager, ReaderEvent};

pub const READER: &str = pcsc_stack::USER_CARD_READER;
pub const PSAM_READER: &str = pcsc_stack::PSAM_READER;

pub fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles").join(name)
}

pub struct Stack {
    pub pcscd: pcsc_stack::Pcscd,
    pub card: VpcdHandle,
    /// The simulated PSAM in the SAM slot, for issuance stacks.
    pub psam: Option<VpcdHandle>,
    pub manager: PcscManager,
    pub state_dir: tempfile::TempDir,
}

/// The vpcd port: `STATION_VPCD_PORT` lets a second stack run in its own mount namespace.
pub fn port() -> u16 {
    std::env::var("STATION_VPCD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(pcsc_stack::DEFAULT_VPCD_PORT)
}

impl Stack {
    /// Starts pcscd, plugs in a card of `profile_file` (state in a fresh file), waits for it.
    pub fn start(profile_file: &str) -> Stack {
        Stack::start_with(profile_file, false, false)
    }

    /// An issuance counter: a blank card of `profile_file` in the user reader and the
    /// simulated PSAM in the SAM slot.
    pub fn issuance(profile_file: &str) -> Stack {
        Stack::start_with(profile_file, true, true)
    }

    fn start_with(profile_file: &str, blank: bool, with_psam: bool) -> Stack {
        let port = port();
        let pcscd = pcsc_stack::Pcscd::start(port).expect("pcscd starts (run scripts/install-deps as root)");
        let state_dir = tempfile::tempdir().expect("tempdir");
        let config = SimConfig {
            profile: profile(profile_file),
            state: Some(state_dir.path().join("card.json")),
            faults: Faults::default(),
            vpcd: SocketAddr::from(([127, 0, 0, 1], port)),
            blank,
        };
        let card = card_sim::start(&config).expect("simulator starts");
        let psam = with_psam.then(|| {
            let config = SimConfig {
                profile: profile("psam-sim.toml"),
                state: Some(state_dir.path().join("psam.json")),
                faults: Faults::default(),
                vpcd: SocketAddr::from(([127, 0, 0, 1], port + 1)),
                blank: false,
            };
            card_sim::start(&config).expect("PSAM simulator starts")
        });
        let mut manager = PcscManager::new().expect("pcscd answers");
        wait_card(&mut manager);
        if with_psam {
            let event =
                manager.wait_for_card(PSAM_READER, Some(Duration::from_secs(15))).expect("wait for PSAM");
            assert!(matches!(event, ReaderEvent::CardInserted { .. }), "PSAM did not appear: {event:?}");
        }
        Stack { pcscd, card, psam, manager, state_dir }
    }
}

/// Waits (with get_status_change, no sleep) until the simulated card is in the reader.
pub fn wait_card(manager: &mut PcscManager) {
    let event = manager.wait_for_card(READER, Some(Duration::from_secs(15))).expect("wait for card");
    assert!(matches!(event, ReaderEvent::CardInserted { .. }), "card did not appear: {event:?}");
}

/// The simulated card's key `id` of DF `df` as its factory diversified it from the PSAM's
/// master key (in production only the PSAM can compute it).
pub fn factory_key(profile_file: &str, df: &str, id: u8) -> Vec<u8> {
    let path = profile(profile_file);
    let p = firmware_profile::Profile::load(&path).expect("profile");
    let factory = card_sim::factory_for(&p, &path).expect("factory");
    factory.key(&firmware_profile::FilePath::parse(df).expect("path"), id).expect("derived key").to_vec()
}

static ONE_PCSCD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One pcscd per machine: tests that start one hold this (`cargo test`; nextest uses the
/// `pcsc-stack` group).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_PCSCD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 张三, 11010519491231002X, for a card of `profile` with ATR `atr`.
pub fn zhang_san(profile: &firmware_profile::Profile, atr: &[u8]) -> (ssse::IssuerData, ssse::HolderData) {
    let region = &profile.sim.derive.as_ref().expect("sim.derive").region;
    let issuer = ssse::IssuerData {
        card_id: ssse::CardId::new(region, ssse::card8(atr).expect("card8")).expect("card id"),
        card_type: '1',
        spec_version: profile.spec_version.clone(),
        init_org: "11010000000000000001".into(),
        issue_date: "20261122".into(),
        expiry_date: "20361122".into(),
        card_number: "B7K334774".into(),
    };
    let holder = ssse::HolderData {
        ssn: "11010519491231002X".into(),
        name_gbk: vec![0xD5, 0xC5, 0xC8, 0xFD],
        name_extension: Vec::new(),
        sex: '2',
        ethnicity: "01".into(),
        birthplace: "110105".into(),
        birth_date: "19491231".into(),
    };
    (issuer, holder)
}

/// A blank card of `profile` and the simulated PSAM, in process (no PC/SC): for counting an
/// exchange, or timing it without the stack.
pub fn in_process_pair(profile: &str) -> (card_sim::SimConnection, card_sim::SimConnection) {
    let build = |profile: &str, blank| {
        card_sim::build_card(&SimConfig {
            profile: self::profile(profile),
            state: None,
            faults: Faults::default(),
            vpcd: "127.0.0.1:9".parse().expect("addr"),
            blank,
        })
        .expect("card")
    };
    let card = card_sim::SimConnection::connect("sim 0", build(profile, true)).expect("card");
    let sam = card_sim::SimConnection::connect("sim 1", build("psam-sim.toml", false)).expect("PSAM");
    (card, sam)
}
