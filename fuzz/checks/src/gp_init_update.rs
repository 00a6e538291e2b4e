//! GlobalPlatform answers on the host side: the INITIALIZE UPDATE answer of each scheme the
//! profiles use re-encodes byte for byte; a handshake fed a card's answer fails with a typed
//! error and never builds EXTERNAL AUTHENTICATE for a cryptogram that does not verify.

use apdu::Response;
use secure_channel::{
    Algorithm, HostHandshake, HostParams, InitUpdateAnswer, KeySet, Scheme, SecretKey, SecurityLevel,
    SoftwareKeys,
};

const TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let schemes = [Scheme::scp02(0x55), Scheme::scp03(0x00), Scheme::scp03(0x70), Scheme::scp03_sm4(0x30)];
    let Some((&pick, answer)) = data.split_first() else { return };
    for scheme in &schemes {
        match InitUpdateAnswer::parse(scheme, answer) {
            Ok(iu) => {
                assert_eq!(iu.encode(), answer, "encode(decode(b)) == b");
                assert_eq!(answer.len(), scheme.initialize_update_len());
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let scheme = schemes[pick as usize % schemes.len()];
    let Ok(key) = SecretKey::from_hex(scheme.algorithm, TEST_KEY) else { return };
    let keys = SoftwareKeys::new(KeySet::single(0x20, key)).expect("keys");
    let level = SecurityLevel::new(0x01).expect("C-MAC");
    let params = HostParams { scheme, level, expected_kcvs: None };
    let challenge = vec![0x11; scheme.challenge_len()];
    let Ok(handshake) = HostHandshake::new(&keys, params, &challenge) else { return };
    let _ = handshake.initialize_update();
    if let Some(resp) = Response::from_bytes(answer) {
        if let Err(e) = handshake.external_authenticate(&resp) {
            assert!(!e.to_string().is_empty());
        }
    }
    let _ = Algorithm::Tdes;
}
