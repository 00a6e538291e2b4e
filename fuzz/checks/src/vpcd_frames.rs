//! vpcd messages on the simulator's side (length-prefixed controls and APDUs, cut anywhere by
//! TCP) into a simulated card of each profile: every whole message is handled once, every
//! APDU gets an answer with a status word, the ATR parses, and frames carry their length.

use std::sync::{Arc, OnceLock};

use apdu::Atr;
use card_sim::{CardOs, Factory, PsamHandler, SimCard};
use firmware_profile::{ApplicationKind, Profile};

use crate::profile_path;

const PROFILES: [&str; 4] = ["ssc-3g-sim.toml", "ssc-3g-sm4-sim.toml", "ssc-2g-sim.toml", "psam-sim.toml"];

fn profiles() -> &'static Vec<(Arc<Profile>, Factory)> {
    static P: OnceLock<Vec<(Arc<Profile>, Factory)>> = OnceLock::new();
    P.get_or_init(|| {
        PROFILES
            .iter()
            .map(|name| {
                let path = profile_path(name);
                let profile = Arc::new(Profile::load(&path).expect("profile"));
                let factory = card_sim::factory_for(&profile, &path).expect("factory");
                (profile, factory)
            })
            .collect()
    })
}

/// The messages of the stream, as vpcd framed them (the oracle).
fn messages(mut s: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [a, b, rest @ ..] = s {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if rest.len() < len {
            break;
        }
        out.push(&rest[..len]);
        s = &rest[len..];
    }
    out
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let [pick, piece, stream @ ..] = data else { return };
    let (profile, factory) = &profiles()[usize::from(*pick) % PROFILES.len()];
    // As `card_sim::build_card` does, from a profile loaded once.
    let mut os = CardOs::manufacture(profile.clone(), factory);
    if profile.applications.iter().any(|a| a.kind == ApplicationKind::Psam) {
        os.register_handler(ApplicationKind::Psam, Box::<PsamHandler>::default());
    }
    card_sim::register_financial(&mut os, card_sim::Interface::Auto).expect("financial handlers");
    let card = SimCard::new(os).shared();

    let mut expected = messages(stream).into_iter().filter(|m| *m == [0x04] || m.len() > 1);
    let mut buf = Vec::new();
    for chunk in stream.chunks(usize::from(*piece).max(1)) {
        buf.extend_from_slice(chunk);
        let (frames, gone) = card_sim::vpcd::fuzzing::feed(&card, &mut buf);
        assert!(!gone, "no fault was set, yet the card left");
        for frame in frames {
            let len = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
            assert_eq!(len, frame.len() - 2, "the length prefix is the payload's");
            let payload = &frame[2..];
            let msg = expected.next().expect("one answer per message");
            if msg == [0x04] {
                assert!(Atr::parse(payload).is_ok(), "the simulator's ATR parses");
            } else {
                assert!(payload.len() >= 2, "an APDU answer ends with SW1 SW2");
            }
        }
    }
    assert!(expected.next().is_none(), "every whole message was answered");
}
