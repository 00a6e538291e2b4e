//! The social-security PSAM: diversifies a master key for one card and encrypts that card's
//! challenge, so the counter never holds a card key.
//!
//! - `BF DE <usage> <keyId> Lc <factors>`: 8, 16 or 24 bytes of factors in the order of
//!   [`card_crypto::ssse_factors`]; the master key is found by usage byte and key id in the
//!   current DF; the derived card key is kept until the next `BF DE` or reset.
//! - `80 FA 00 00 <Lc> <challenge>`: answers the 16-byte
//!   [`card_crypto::external_auth_cryptogram`] of the challenge under the derived key
//!   (`6985` without a `BF DE` before it).
//!
//! [I]: the exact PSAM command set is vendor-specific; this is the shape seen in public reader
//! code (card-spec.md section 1).

use apdu::{Command, Response, StatusWord};
use card_crypto::{Algorithm, Key};

use crate::{ApplicationHandler, CardOs};

/// The PSAM application handler (kind `psam`).
#[derive(Debug, Default)]
pub struct PsamHandler {
    session: Option<(Algorithm, Key, u64)>,
}

impl PsamHandler {
    fn diversify(&mut self, card: &CardOs, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.data.is_empty() || !cmd.data.len().is_multiple_of(8) || cmd.data.len() > 24 {
            return Err(StatusWord::WrongLength);
        }
        let df = card.current_df().clone();
        let spec = card
            .profile()
            .keys
            .iter()
            .find(|k| k.df == df && k.id == cmd.p2 && k.usage_code == Some(cmd.p1))
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        let master = card.key_value(&df, cmd.p2, Some(cmd.p1)).ok_or(StatusWord::ReferenceDataNotUsable)?;
        let factors: Vec<[u8; 8]> = cmd
            .data
            .chunks(8)
            .map(|c| {
                let mut f = [0u8; 8];
                f.copy_from_slice(c);
                f
            })
            .collect();
        let key = card_crypto::ssse_card_key(spec.algorithm, master, &factors)
            .map_err(|_| StatusWord::ReferenceDataNotUsable)?;
        self.session = Some((spec.algorithm, key, card.power_ups()));
        Ok(Response::status(StatusWord::Success))
    }

    fn encrypt(&mut self, card: &CardOs, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        // A reset since BF DE forgets the derived key, as RAM on a real PSAM does.
        let Some((algorithm, key, _)) = self.session.as_ref().filter(|s| s.2 == card.power_ups()) else {
            return Err(StatusWord::ConditionsNotSatisfied);
        };
        if cmd.data.is_empty() || cmd.data.len() > card_crypto::CRYPTOGRAM_LEN {
            return Err(StatusWord::WrongLength);
        }
        let out = card_crypto::external_auth_cryptogram(*algorithm, key.expose(), &cmd.data)
            .map_err(|_| StatusWord::ReferenceDataNotUsable)?;
        Ok(Response::new(out, StatusWord::Success))
    }
}

impl ApplicationHandler for PsamHandler {
    fn handle(&mut self, card: &mut CardOs, cmd: &Command) -> Option<Response> {
        let r = match (cmd.cla, cmd.ins) {
            (0xBF, 0xDE) => self.diversify(card, cmd),
            (0x80, 0xFA) => self.encrypt(card, cmd),
            _ => return None,
        };
        Some(r.unwrap_or_else(Response::status))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    fn psam() -> CardOs {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles");
        let profile = firmware_profile::Profile::load(dir.join("psam-sim.toml")).expect("profile");
        let mut os = CardOs::new(Arc::new(profile));
        os.register_handler(firmware_profile::ApplicationKind::Psam, Box::<PsamHandler>::default());
        os
    }

    fn tx(os: &mut CardOs, apdu: &str) -> (Vec<u8>, u16) {
        let out = os.process(&h(apdu));
        let (data, sw) = out.split_at(out.len() - 2);
        (data.to_vec(), u16::from_be_bytes([sw[0], sw[1]]))
    }

    #[test]
    fn diversify_then_encrypt_gives_the_card_keys_cryptogram() {
        let mut os = psam();
        assert_eq!(tx(&mut os, "00A4040006D15600000590").1, 0x9000);
        let factors = h("00BF7C7A48FB4966 3131303130307378 3131303030307368");
        assert_eq!(tx(&mut os, "80FA0000081122334455667788").1, 0x6985, "no BF DE yet");
        assert_eq!(tx(&mut os, &format!("BFDE4812 18 {}", hex::encode(&factors))).1, 0x9000);
        let (crypt, sw) = tx(&mut os, "80FA000008112233445566778810");
        assert_eq!(sw, 0x9000);
        let master = h("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF");
        let f: Vec<[u8; 8]> = factors.chunks(8).map(|c| c.try_into().expect("8")).collect();
        let key = card_crypto::ssse_card_key(Algorithm::TripleDes, &master, &f).expect("key");
        let expected =
            card_crypto::external_auth_cryptogram(Algorithm::TripleDes, key.expose(), &h("1122334455667788"))
                .expect("crypt");
        assert_eq!(crypt, expected);
    }

    #[test]
    fn unknown_key_bad_factors_and_reset() {
        let mut os = psam();
        tx(&mut os, "00A4040006D15600000590");
        assert_eq!(tx(&mut os, "BFDE4899 08 0011223344556677").1, 0x6A88, "no key 48/99");
        assert_eq!(tx(&mut os, "BFDE4712 08 0011223344556677").1, 0x6A88, "key 12 has usage 48");
        assert_eq!(tx(&mut os, "BFDE4812 07 00112233445566").1, 0x6700);
        assert_eq!(tx(&mut os, "BFDE4812 08 0011223344556677").1, 0x9000);
        os.reset();
        tx(&mut os, "00A4040006D15600000590");
        assert_eq!(tx(&mut os, "80FA0000081122334455667788").1, 0x6985, "reset forgets the derived key");
    }
}
