//! [`TokenKeys`]: the GlobalPlatform [`KeyProvider`] over the token, interchangeable with
//! [`secure_channel::SoftwareKeys`].
//!
//! What stays in the token and what leaves it, per call:
//! - `kcvs`: computed in the token (`CKM_DES3_ECB` of `00*8`, `CKM_AES_ECB` of `01*16`);
//!   three bytes leave.
//! - SCP02 without diversification: each session key is `3DES-CBC_K(IV 0)(const || seq ||
//!   00*12)`, computed by `C_Encrypt(CKM_DES3_CBC)` under the static key in the token. The
//!   four session keys leave the token (the trait returns them); the static keys never do.
//! - SCP02 with EMV CPS or VISA2 diversification: the card's static keys are
//!   `C_Encrypt(CKM_DES3_ECB)` of the diversification blocks under the KMC in the token;
//!   they leave it for the few microseconds the session keys take to derive in memory, and
//!   are wiped. The KMC never leaves.
//! - SCP03 (AES): the SP 800-108 KDF blocks are `C_Sign(CKM_AES_CMAC)` in the token (with
//!   KDF3 diversification the card keys likewise); session keys, and with KDF3 the card keys,
//!   pass through host memory. Without diversification SCP03 needs the *static* Key-DEK as
//!   the session's DEK: that is refused ([`crate::Error::StaysInToken`]).
//! - SM4: [`crate::Error::NotOffered`] (no PKCS#11 SM4 in SoftHSM2).
//!
//! `C_DeriveKey` with `CKM_DES3_CBC_ENCRYPT_DATA` / `CKM_DES3_ECB_ENCRYPT_DATA` (which
//! SoftHSM2 offers) would compute the same values as derived objects. It is not used: the
//! trait returns the session keys as bytes, so a derived object would have to be made
//! extractable and read back (the same exposure, one step longer), and `cryptoki` 0.12 has
//! no safe constructor for those two mechanisms (this workspace forbids `unsafe`). With a
//! handle-based trait (see the crate documentation) they become the path.

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use secure_channel::{
    scp02, scp03, Algorithm, Diversification, Error as ScError, KcvSet, KeyProvider, KeySet, KeyUsage,
    SecretKey, SessionDerivation, SessionKeys, KDD_LEN,
};
use zeroize::Zeroizing;

use crate::token::sm4_not_offered;
use crate::{Error, KeyKind, Keystore};

/// ISD keys held in the token: a key set (ENC, MAC, DEK; often one KMC for all three) and
/// how each card's keys follow from it.
#[derive(Clone)]
pub struct TokenKeys {
    store: Keystore,
    version: u8,
    algorithm: Algorithm,
    keys: [ObjectHandle; 3],
    labels: [String; 3],
    diversification: Diversification,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenKeys({} KVN {:02X}, {:?}, labels {:?}, {:?})",
            self.algorithm, self.version, self.diversification, self.labels, self.store
        )
    }
}

impl TokenKeys {
    /// One master key (KMC) `label` for ENC, MAC and DEK, diversified per card by `method`
    /// (or the card's own static key with [`Diversification::None`]).
    pub fn from_master(
        store: &Keystore,
        version: u8,
        algorithm: Algorithm,
        label: &str,
        method: Diversification,
    ) -> Result<TokenKeys, Error> {
        TokenKeys::new(store, version, algorithm, [label, label, label], method)
    }

    /// Three keys, ENC, MAC and DEK, by label.
    pub fn new(
        store: &Keystore,
        version: u8,
        algorithm: Algorithm,
        labels: [&str; 3],
        method: Diversification,
    ) -> Result<TokenKeys, Error> {
        if algorithm == Algorithm::Sm4 {
            return Err(sm4_not_offered("SM4 ISD keys"));
        }
        let kind = KeyKind::of(algorithm);
        let keys = [
            store.find_kind(labels[0], kind)?.handle,
            store.find_kind(labels[1], kind)?.handle,
            store.find_kind(labels[2], kind)?.handle,
        ];
        match (algorithm, method) {
            (Algorithm::Tdes, Diversification::EmvCps | Diversification::Visa2)
            | (Algorithm::Aes, Diversification::Kdf3)
            | (_, Diversification::None) => {}
            _ => return Err(Error::Invalid(format!("{method:?} diversification of {algorithm} keys"))),
        }
        // `cryptoki` names only the mechanisms it knows in the token's list (CKM_DES3_CBC is
        // not among them): the ECB and CMAC ones stand for their families.
        let mechanism = match algorithm {
            Algorithm::Tdes => MechanismType::DES3_ECB,
            _ => MechanismType::AES_CMAC,
        };
        store.require(mechanism, "the GlobalPlatform key provider")?;
        Ok(TokenKeys {
            store: store.clone(),
            version,
            algorithm,
            keys,
            labels: labels.map(String::from),
            diversification: method,
        })
    }

    fn handle(&self, usage: KeyUsage) -> ObjectHandle {
        self.keys[usize::from(usage.number() - 1)]
    }

    /// `C_Encrypt` in the token, as a secure-channel key of this provider's cipher.
    fn encrypt_to_key(
        &self,
        mechanism: &Mechanism<'_>,
        key: ObjectHandle,
        data: &[u8],
        what: &str,
    ) -> Result<SecretKey, ScError> {
        let out = self.store.encrypt(mechanism, key, data, what)?;
        SecretKey::new(self.algorithm, out.to_vec())
    }

    /// AES-CMAC in the token.
    fn cmac(&self, key: ObjectHandle, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.store
            .session()
            .sign(&Mechanism::AesCMac, key, data)
            .map(Zeroizing::new)
            .map_err(Error::p11("C_Sign (AES-CMAC)"))
    }

    /// The SP 800-108 counter KDF with CMAC under `key`, as secure-channel's `scp03::kdf`
    /// and KDF3 diversification compute it: `prefix(i) || suffix` per block.
    fn cmac_kdf(
        &self,
        key: ObjectHandle,
        len: usize,
        block: impl Fn(u8) -> Vec<u8>,
    ) -> Result<SecretKey, ScError> {
        let mut out = Zeroizing::new(Vec::with_capacity(len + 16));
        let mut i = 1u8;
        while out.len() < len {
            out.extend_from_slice(&self.cmac(key, &block(i))?);
            i = i.wrapping_add(1);
        }
        SecretKey::new(self.algorithm, out[..len].to_vec())
    }

    fn key_len(&self, usage: KeyUsage) -> Result<usize, Error> {
        Ok(self.store.describe(self.handle(usage))?.len)
    }

    /// The card's static keys, derived from the masters in the token (they leave it: see
    /// the module documentation).
    fn card_keys(&self, kdd: &[u8]) -> Result<KeySet, ScError> {
        if kdd.len() != KDD_LEN {
            return Err(ScError::Key(format!("diversification data is {} bytes, not {KDD_LEN}", kdd.len())));
        }
        let one = |usage: KeyUsage| -> Result<SecretKey, ScError> {
            let x = usage.number();
            match self.diversification {
                Diversification::EmvCps | Diversification::Visa2 => {
                    let mut six = [0u8; 6];
                    if self.diversification == Diversification::EmvCps {
                        six.copy_from_slice(&kdd[4..10]);
                    } else {
                        six[..2].copy_from_slice(&kdd[..2]);
                        six[2..].copy_from_slice(&kdd[4..8]);
                    }
                    let block = [&six[..], &[0xF0, x], &six[..], &[0x0F, x]].concat();
                    self.encrypt_to_key(
                        &Mechanism::Des3Ecb,
                        self.handle(usage),
                        &block,
                        "EMV CPS diversification",
                    )
                }
                _ => {
                    let len = self.key_len(usage)?;
                    self.cmac_kdf(self.handle(usage), len, |i| [&[i, 0, 0, 0, x, 0][..], kdd].concat())
                }
            }
        };
        Ok(KeySet {
            version: self.version,
            enc: one(KeyUsage::Enc)?,
            mac: one(KeyUsage::Mac)?,
            dek: one(KeyUsage::Dek)?,
        })
    }

    /// SCP02 session keys straight from static keys held in the token.
    fn scp02_in_token(&self, seq: [u8; 2]) -> Result<SessionKeys, ScError> {
        let derive = |usage: KeyUsage, constant: [u8; 2]| {
            let mut block = [0u8; 16];
            block[..2].copy_from_slice(&constant);
            block[2..4].copy_from_slice(&seq);
            self.encrypt_to_key(&Mechanism::Des3Cbc([0; 8]), self.handle(usage), &block, "SCP02 session key")
        };
        Ok(SessionKeys {
            enc: derive(KeyUsage::Enc, scp02::S_ENC)?,
            mac: derive(KeyUsage::Mac, scp02::S_MAC)?,
            rmac: derive(KeyUsage::Mac, scp02::S_RMAC)?,
            dek: derive(KeyUsage::Dek, scp02::S_DEK)?,
        })
    }
}

impl KeyProvider for TokenKeys {
    fn key_version(&self) -> u8 {
        self.version
    }

    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn kcvs(&self) -> Result<KcvSet, ScError> {
        let kind = KeyKind::of(self.algorithm);
        let kcv = |u| self.store.kcv_of(kind, None, self.handle(u));
        Ok(KcvSet { enc: kcv(KeyUsage::Enc)?, mac: kcv(KeyUsage::Mac)?, dek: kcv(KeyUsage::Dek)? })
    }

    fn session_keys(&self, kdd: &[u8], derivation: &SessionDerivation<'_>) -> Result<SessionKeys, ScError> {
        match (self.diversification, derivation) {
            (Diversification::None, SessionDerivation::Scp02 { sequence_counter }) => {
                if self.algorithm != Algorithm::Tdes {
                    return Err(ScError::Key(format!("SCP02 with {} keys", self.algorithm)));
                }
                self.scp02_in_token(*sequence_counter)
            }
            (Diversification::None, SessionDerivation::Scp03 { .. }) => Err(Error::StaysInToken(
                "SCP03 hands the static Key-DEK to the session as its DEK; this key store does not export \
                 static keys: use KDF3 card keys, or the handle-based provider trait"
                    .into(),
            )
            .into()),
            (_, SessionDerivation::Scp02 { sequence_counter }) => {
                scp02::session_keys(&self.card_keys(kdd)?, *sequence_counter)
            }
            (_, SessionDerivation::Scp03 { context }) => scp03::session_keys(&self.card_keys(kdd)?, context),
        }
    }
}
