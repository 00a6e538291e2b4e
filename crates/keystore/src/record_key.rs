//! The outreach kit's record-signing key (issue #25 item 4): an ECDSA P-256 key pair made
//! inside the kit's own token (`CKM_EC_KEY_PAIR_GEN`), the private half `CKA_SENSITIVE`, not
//! `CKA_EXTRACTABLE`, sign-only. Each record the kit writes offline is signed in the token
//! (`CKM_ECDSA_SHA256` where the token offers it, else the SHA-256 computed here and
//! `CKM_ECDSA`: the same signature); the province checks it with the public half the kit sent
//! at checkout. The kit's passphrase opens its store, not this key: a store altered and
//! re-sealed with the passphrase alone carries records no signature covers.

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use sha2::Digest as _;

use crate::{Error, Keystore};

/// `CKA_ID` of both halves: what the key is for.
const RECORD_KEY_ID: &[u8] = b"kit-record";
/// DER of the named curve prime256v1 (P-256, OID 1.2.840.10045.3.1.7): `CKA_EC_PARAMS`.
const P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// Length of a signature: `r || s`, 32 bytes each.
pub const RECORD_SIGNATURE_LEN: usize = 64;

/// The kit's record-signing key in its token.
#[derive(Clone)]
pub struct RecordKey {
    store: Keystore,
    private: ObjectHandle,
    public: Vec<u8>,
    label: String,
}

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordKey({:?} in {:?})", self.label, self.store)
    }
}

impl Keystore {
    fn objects(&self, class: ObjectClass, label: &str) -> Result<Vec<ObjectHandle>, Error> {
        let template = [Attribute::Class(class), Attribute::Label(label.as_bytes().to_vec())];
        self.session().find_objects(&template).map_err(Error::p11("C_FindObjects"))
    }

    /// Makes the kit's record-signing key pair in the token under `label` and returns its
    /// public half (SEC1 uncompressed point, 65 bytes). The private half never leaves the
    /// token; no copy exists anywhere else.
    pub fn generate_record_key(&self, label: &str) -> Result<Vec<u8>, Error> {
        self.require(MechanismType::ECC_KEY_PAIR_GEN, "a kit's record-signing key made in the token")?;
        self.require(MechanismType::ECDSA, "a kit's record signatures")?;
        self.label_free(label)?;
        if !self.objects(ObjectClass::PRIVATE_KEY, label)?.is_empty() {
            return Err(Error::LabelTaken(label.into()));
        }
        let common = |private: bool| {
            vec![
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(RECORD_KEY_ID.to_vec()),
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::KeyType(KeyType::EC),
            ]
        };
        let mut public = common(false);
        public.extend([
            Attribute::EcParams(P256.to_vec()),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
        ]);
        let mut private = common(true);
        private.extend([
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Derive(false),
            Attribute::Unwrap(false),
        ]);
        let (public, _) = self
            .session()
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
            .map_err(Error::p11("C_GenerateKeyPair (kit record key)"))?;
        self.ec_point(public)
    }

    /// The public point of an EC public key: `CKA_EC_POINT` is a DER OCTET STRING around it
    /// (PKCS#11 2.40; some tokens give the bare point).
    fn ec_point(&self, public: ObjectHandle) -> Result<Vec<u8>, Error> {
        let attrs = self
            .session()
            .get_attributes(public, &[AttributeType::EcPoint])
            .map_err(Error::p11("C_GetAttributeValue (EC point)"))?;
        let point = attrs.into_iter().find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        });
        match point.as_deref() {
            Some([0x04, 0x41, rest @ ..]) if rest.len() == 65 => Ok(rest.to_vec()),
            Some(bare @ [0x04, ..]) if bare.len() == 65 => Ok(bare.to_vec()),
            _ => Err(Error::Invalid("the token's record key is not an uncompressed P-256 point".into())),
        }
    }
}

impl RecordKey {
    /// The record-signing key `label` (made by [`Keystore::generate_record_key`]).
    pub fn open(store: &Keystore, label: &str) -> Result<RecordKey, Error> {
        store.require(MechanismType::ECDSA, "a kit's record signatures")?;
        let one = |class, what: &str| -> Result<ObjectHandle, Error> {
            let found = store.objects(class, label)?;
            match found.as_slice() {
                [h] => Ok(*h),
                [] => Err(Error::NoKey(format!("{label} ({what})"))),
                _ => Err(Error::DuplicateLabel { label: label.into(), count: found.len() }),
            }
        };
        let private = one(ObjectClass::PRIVATE_KEY, "the private half of a record key")?;
        let public = store.ec_point(one(ObjectClass::PUBLIC_KEY, "the public half of a record key")?)?;
        Ok(RecordKey { store: store.clone(), private, public, label: label.into() })
    }

    /// The key's label in the token.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The public half (SEC1 uncompressed point, 65 bytes), as the kit sends it at checkout.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// ECDSA P-256 signature (`r || s`) of the SHA-256 of `data`, made in the token.
    pub fn sign(&self, data: &[u8]) -> Result<[u8; RECORD_SIGNATURE_LEN], Error> {
        let signature = if self.store.offers(MechanismType::ECDSA_SHA256) {
            self.store.session().sign(&Mechanism::EcdsaSha256, self.private, data)
        } else {
            let digest = sha2::Sha256::digest(data);
            self.store.session().sign(&Mechanism::Ecdsa, self.private, digest.as_slice())
        }
        .map_err(Error::p11("C_Sign (kit record)"))?;
        signature.try_into().map_err(|_| Error::Invalid("the token's P-256 signature is not 64 bytes".into()))
    }

    /// Whether `signature` is this key's over `data`, checked with the public half outside the
    /// token, as the province checks a kit's records: `station doctor` signs a probe and checks it.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.public);
        let signature = p256::ecdsa::Signature::from_slice(signature);
        matches!((key, signature), (Ok(k), Ok(s)) if k.verify(data, &s).is_ok())
    }

    /// Asks the token for the private half's value, as an audit would: true when it refuses
    /// (what the key must give; the value, should a token hand it out, is wiped unseen).
    pub fn private_refused(&self) -> Result<bool, Error> {
        self.store.value_refused_of(self.private)
    }
}
