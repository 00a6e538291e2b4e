//! SCP02 derivations (GlobalPlatform Card Specification 2.2 appendix E): session keys from
//! the sequence counter, and the two authentication cryptograms. The wrapping of commands
//! and answers lives in the shared channel engine.
//!
//! - Session key: `3DES-CBC_K(IV 0)(const || seq || 00*12)`; S-ENC `0182` from Key-ENC,
//!   C-MAC `0101` and R-MAC `0102` from Key-MAC, S-DEK `0181` from Key-DEK.
//! - Card cryptogram: full 3DES MAC with S-ENC over `host challenge || seq || card challenge`;
//!   host cryptogram over `seq || card challenge || host challenge`.

use crate::{Error, KeySet, SecretKey, SessionKeys};

/// Derivation constant of S-ENC.
pub const S_ENC: [u8; 2] = [0x01, 0x82];
/// Derivation constant of C-MAC (S-MAC).
pub const S_MAC: [u8; 2] = [0x01, 0x01];
/// Derivation constant of R-MAC.
pub const S_RMAC: [u8; 2] = [0x01, 0x02];
/// Derivation constant of S-DEK.
pub const S_DEK: [u8; 2] = [0x01, 0x81];

/// One session key from a static 3DES key.
pub fn derive(key: &SecretKey, constant: [u8; 2], sequence_counter: [u8; 2]) -> Result<SecretKey, Error> {
    let mut block = [0u8; 16];
    block[..2].copy_from_slice(&constant);
    block[2..4].copy_from_slice(&sequence_counter);
    let out = zeroize::Zeroizing::new(key.encrypt_cbc(&[0u8; 8], &block)?);
    SecretKey::new(key.algorithm(), out.to_vec())
}

/// The four session keys from the card's static keys.
pub fn session_keys(keys: &KeySet, sequence_counter: [u8; 2]) -> Result<SessionKeys, Error> {
    Ok(SessionKeys {
        enc: derive(&keys.enc, S_ENC, sequence_counter)?,
        mac: derive(&keys.mac, S_MAC, sequence_counter)?,
        rmac: derive(&keys.mac, S_RMAC, sequence_counter)?,
        dek: derive(&keys.dek, S_DEK, sequence_counter)?,
    })
}

/// The card cryptogram the card sends in its INITIALIZE UPDATE answer.
pub fn card_cryptogram(
    s_enc: &SecretKey,
    host_challenge: &[u8],
    sequence_counter: [u8; 2],
    card_challenge: &[u8],
) -> Result<[u8; 8], Error> {
    s_enc.full_tdes_mac(&[host_challenge, &sequence_counter, card_challenge].concat())
}

/// The host cryptogram EXTERNAL AUTHENTICATE carries.
pub fn host_cryptogram(
    s_enc: &SecretKey,
    sequence_counter: [u8; 2],
    card_challenge: &[u8],
    host_challenge: &[u8],
) -> Result<[u8; 8], Error> {
    s_enc.full_tdes_mac(&[&sequence_counter, card_challenge, host_challenge].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn key() -> SecretKey {
        SecretKey::from_hex(Algorithm::Tdes, "404142434445464748494A4B4C4D4E4F").expect("key")
    }

    /// card-spec.md section 3: K = 404142..4F, seq 0000.
    #[test]
    fn session_key_kcvs_vector() {
        let keys = session_keys(&KeySet::single(0x20, key()), [0, 0]).expect("derive");
        assert_eq!(keys.enc.kcv().to_string(), "F2DCDD");
        assert_eq!(keys.mac.kcv().to_string(), "5FCC69");
        assert_eq!(keys.dek.kcv().to_string(), "85272E");
        assert_eq!(keys.rmac.kcv().to_string(), "9F749A");
    }

    /// card-spec.md section 3: the real-card trace (seq 0007, host challenge 00*8).
    #[test]
    fn real_card_trace_keys_and_cryptograms() {
        let keys = session_keys(&KeySet::single(0xFF, key()), [0x00, 0x07]).expect("derive");
        assert_eq!(keys.enc.expose(), &hex::decode("A2268F71917EFE0F33CC6166E1154E27").expect("hex")[..]);
        assert_eq!(keys.mac.expose(), &hex::decode("7A227D376A9DBE23AB50B7DCB45B2093").expect("hex")[..]);
        assert_eq!(keys.dek.expose(), &hex::decode("F39FCFB2383B09578723B8C2E03B2729").expect("hex")[..]);
        let card_challenge = hex::decode("2503683B31FA").expect("hex");
        let card = card_cryptogram(&keys.enc, &[0; 8], [0, 7], &card_challenge).expect("mac");
        assert_eq!(card.to_vec(), hex::decode("B7F4E8D8857D0CB4").expect("hex"));
        let host = host_cryptogram(&keys.enc, [0, 7], &card_challenge, &[0; 8]).expect("mac");
        assert_eq!(host.to_vec(), hex::decode("80F1BB4686D30DF9").expect("hex"));
    }
}
