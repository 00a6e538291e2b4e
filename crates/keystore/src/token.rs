//! The token: a PKCS#11 module opened once, one token found by its label, one logged-in
//! session. Keys are found by `CKA_LABEL`; their check values are computed inside the token.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use secure_channel::{Algorithm, Kcv};
use zeroize::Zeroizing;

use crate::Error;

/// Where the user PIN comes from. Never the command line: a file readable by its owner only,
/// or an environment variable the service manager sets.
#[derive(Clone, PartialEq, Eq)]
pub enum PinSource {
    /// A file of mode 0600 (or stricter) holding the PIN; one trailing newline is ignored.
    File(PathBuf),
    /// The name of an environment variable holding the PIN.
    Env(String),
}

impl std::fmt::Debug for PinSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinSource::File(p) => write!(f, "PinSource::File({})", p.display()),
            PinSource::Env(v) => write!(f, "PinSource::Env({v})"),
        }
    }
}

impl PinSource {
    /// The PIN, zeroised when dropped.
    pub fn read(&self) -> Result<Zeroizing<String>, Error> {
        let mut pin = match self {
            PinSource::File(path) => {
                check_private(path)?;
                Zeroizing::new(
                    std::fs::read_to_string(path)
                        .map_err(|e| Error::Pin(format!("reading {}: {e}", path.display())))?,
                )
            }
            PinSource::Env(var) => Zeroizing::new(
                std::env::var(var)
                    .map_err(|_| Error::Pin(format!("environment variable {var} is not set")))?,
            ),
        };
        while pin.ends_with('\n') || pin.ends_with('\r') {
            pin.pop();
        }
        if pin.is_empty() {
            return Err(Error::Pin(format!("{self:?} gives an empty PIN")));
        }
        Ok(pin)
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::Pin(format!("{}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Pin(format!(
            "{} has mode {mode:03o}: a PIN file must be readable by its owner only (chmod 600)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// Which token to open and how to log in.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token's label.
    pub token_label: String,
    /// Where the user PIN is.
    pub pin: PinSource,
}

/// The cipher or MAC a key in the token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// 2- or 3-key triple DES (`CKK_DES2`, `CKK_DES3`).
    Tdes,
    /// AES-128/192/256 (`CKK_AES`).
    Aes,
    /// SM4. PKCS#11 defines no SM4 key type or mechanism; tokens that have SM4 use vendor
    /// values. SoftHSM2 has none: every SM4 operation is [`Error::NotOffered`].
    Sm4,
}

impl KeyKind {
    /// The cipher.
    pub fn algorithm(self) -> Option<Algorithm> {
        match self {
            KeyKind::Tdes => Some(Algorithm::Tdes),
            KeyKind::Aes => Some(Algorithm::Aes),
            KeyKind::Sm4 => Some(Algorithm::Sm4),
        }
    }

    /// The kind of a secure-channel cipher.
    pub fn of(algorithm: Algorithm) -> KeyKind {
        match algorithm {
            Algorithm::Tdes => KeyKind::Tdes,
            Algorithm::Aes => KeyKind::Aes,
            Algorithm::Sm4 => KeyKind::Sm4,
        }
    }

    /// True when `len` bytes is a key of this kind.
    pub fn len_ok(self, len: usize) -> bool {
        self.algorithm().is_some_and(|a| a.key_len_ok(len))
    }

    pub(crate) fn key_type(self, len: usize) -> Result<KeyType, Error> {
        match (self, len) {
            (KeyKind::Tdes, 16) => Ok(KeyType::DES2),
            (KeyKind::Tdes, _) => Ok(KeyType::DES3),
            (KeyKind::Aes, _) => Ok(KeyType::AES),
            (KeyKind::Sm4, _) => Err(sm4_not_offered("an SM4 key")),
        }
    }
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyKind::Tdes => "3DES",
            KeyKind::Aes => "AES",
            KeyKind::Sm4 => "SM4",
        })
    }
}

pub(crate) fn sm4_not_offered(what: &str) -> Error {
    Error::NotOffered {
        what: what.into(),
        mechanism: "SM4: PKCS#11 defines no SM4 key type; SoftHSM2 has none".into(),
    }
}

/// What a key is for; stored as the key's `CKA_ID` so that [`Keystore::list`] can show it,
/// and deciding which operations the token allows with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// An issuer security domain master key (KMC) or static key: encrypt (check values,
    /// SCP02 and EMV CPS derivations), sign (CMAC for SCP03 and KDF3), derive.
    IsdMaster,
    /// The DP transport key: decrypt (the DP file's DGIs) and encrypt (its check value).
    Transport,
    /// The ledger's MAC key (AES-CMAC): sign and verify only.
    LedgerMac,
    /// The database wrapping key (AES-256-GCM): encrypt and decrypt the station's data key.
    DataWrap,
}

impl KeyRole {
    /// The name stored in `CKA_ID`.
    pub fn name(self) -> &'static str {
        match self {
            KeyRole::IsdMaster => "isd-master",
            KeyRole::Transport => "dp-transport",
            KeyRole::LedgerMac => "ledger-mac",
            KeyRole::DataWrap => "db-wrap",
        }
    }

    fn from_id(id: &[u8]) -> Option<KeyRole> {
        [KeyRole::IsdMaster, KeyRole::Transport, KeyRole::LedgerMac, KeyRole::DataWrap]
            .into_iter()
            .find(|r| r.name().as_bytes() == id)
    }

    /// The usage attributes of a key of this role.
    pub(crate) fn usage(self) -> Vec<Attribute> {
        let (encrypt, decrypt, sign, derive) = match self {
            KeyRole::IsdMaster => (true, false, true, true),
            KeyRole::Transport => (true, true, false, false),
            KeyRole::LedgerMac => (false, false, true, false),
            KeyRole::DataWrap => (true, true, false, false),
        };
        vec![
            Attribute::Encrypt(encrypt),
            Attribute::Decrypt(decrypt),
            Attribute::Sign(sign),
            Attribute::Verify(sign),
            Attribute::Derive(derive),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
        ]
    }
}

/// A key as [`Keystore::list`] shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `CKA_LABEL`.
    pub label: String,
    /// The cipher or MAC; `None` for a key type this store does not use.
    pub kind: Option<KeyKind>,
    /// What the key is for, when the ceremony recorded it.
    pub role: Option<KeyRole>,
    /// Key length in bytes.
    pub len: usize,
    /// Check value computed in the token (3DES `E_K(00*8)`, AES `E_K(01*16)`, the ledger's
    /// sign-only AES key `CMAC_K(00*16)`, first 3 bytes); `None` when the key does not allow
    /// the operation.
    pub kcv: Option<Kcv>,
    /// `CKA_SENSITIVE` and not `CKA_EXTRACTABLE`: the value cannot be read out.
    pub sealed: bool,
}

/// A key found in the token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub handle: ObjectHandle,
    pub kind: Option<KeyKind>,
    pub role: Option<KeyRole>,
    pub len: usize,
}

struct Inner {
    // Dropped before the module: the module is finalised when the last handle goes. A
    // PKCS#11 session is for one thread at a time: the lock makes the store shareable.
    session: Mutex<Session>,
    mechanisms: Vec<MechanismType>,
    token_label: String,
    _pkcs11: Pkcs11,
}

/// A logged-in session with one token. Cheap to clone (the clones share the session); the
/// GP key provider, the transport key and the ledger MAC each hold one.
#[derive(Clone)]
pub struct Keystore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keystore(token {:?})", self.inner.token_label)
    }
}

impl Keystore {
    /// Loads the module, finds the token by label and logs in as the user. A module is
    /// initialised once per process (PKCS#11 allows no second `C_Initialize`): a token opened
    /// already in this process (the financial keys and the ledger key share the counter's
    /// token) is the same store.
    pub fn open(config: &TokenConfig) -> Result<Keystore, Error> {
        static OPEN: Mutex<Vec<(PathBuf, String, Keystore)>> = Mutex::new(Vec::new());
        let mut open = OPEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, _, store)) =
            open.iter().find(|(m, t, _)| *m == config.module && *t == config.token_label)
        {
            return Ok(store.clone());
        }
        let module =
            open.iter().find(|(m, _, _)| *m == config.module).map(|(_, _, s)| s.inner._pkcs11.clone());
        let store = Keystore::open_in(config, module)?;
        open.push((config.module.clone(), config.token_label.clone(), store.clone()));
        Ok(store)
    }

    fn open_in(config: &TokenConfig, module: Option<Pkcs11>) -> Result<Keystore, Error> {
        let pin = config.pin.read()?;
        let pkcs11 = match module {
            Some(m) => m,
            None => {
                let pkcs11 = Pkcs11::new(&config.module)
                    .map_err(Error::p11(format!("loading {}", config.module.display())))?;
                pkcs11
                    .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
                    .map_err(Error::p11("C_Initialize"))?;
                pkcs11
            }
        };
        let mut slot = None;
        for s in pkcs11.get_slots_with_initialized_token().map_err(Error::p11("C_GetSlotList"))? {
            let info = pkcs11.get_token_info(s).map_err(Error::p11("C_GetTokenInfo"))?;
            if info.label().trim_end() == config.token_label {
                slot = Some(s);
                break;
            }
        }
        let slot = slot.ok_or_else(|| Error::NoToken(config.token_label.clone()))?;
        let mechanisms = pkcs11.get_mechanism_list(slot).map_err(Error::p11("C_GetMechanismList"))?;
        let session = pkcs11.open_rw_session(slot).map_err(Error::p11("C_OpenSession"))?;
        let auth = AuthPin::from(pin.as_str());
        session.login(UserType::User, Some(&auth)).map_err(Error::p11("C_Login (user PIN)"))?;
        tracing::info!(token = %config.token_label, "key store: logged in to the token");
        Ok(Keystore {
            inner: Arc::new(Inner {
                session: Mutex::new(session),
                mechanisms,
                token_label: config.token_label.clone(),
                _pkcs11: pkcs11,
            }),
        })
    }

    /// True when the token lists `mechanism`.
    pub fn offers(&self, mechanism: MechanismType) -> bool {
        self.inner.mechanisms.contains(&mechanism)
    }

    pub(crate) fn require(&self, mechanism: MechanismType, what: &str) -> Result<(), Error> {
        if self.offers(mechanism) {
            Ok(())
        } else {
            Err(Error::NotOffered { what: what.into(), mechanism: mechanism.to_string() })
        }
    }

    /// The session, locked for one call (never hold two at once).
    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        self.inner.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn handles(&self, label: &str) -> Result<Vec<ObjectHandle>, Error> {
        let template =
            [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Label(label.as_bytes().to_vec())];
        self.session().find_objects(&template).map_err(Error::p11("C_FindObjects"))
    }

    pub(crate) fn label_free(&self, label: &str) -> Result<(), Error> {
        if self.handles(label)?.is_empty() {
            Ok(())
        } else {
            Err(Error::LabelTaken(label.into()))
        }
    }

    pub(crate) fn find(&self, label: &str) -> Result<Found, Error> {
        let handles = self.handles(label)?;
        match handles.as_slice() {
            [] => Err(Error::NoKey(label.into())),
            [h] => self.describe(*h),
            _ => Err(Error::DuplicateLabel { label: label.into(), count: handles.len() }),
        }
    }

    /// A key of `kind`, or [`Error::WrongKind`].
    pub(crate) fn find_kind(&self, label: &str, kind: KeyKind) -> Result<Found, Error> {
        let found = self.find(label)?;
        if found.kind != Some(kind) {
            return Err(Error::WrongKind {
                label: label.into(),
                expected: kind.to_string(),
                actual: found.kind.map_or("another key type".into(), |k| k.to_string()),
            });
        }
        Ok(found)
    }

    pub(crate) fn describe(&self, handle: ObjectHandle) -> Result<Found, Error> {
        let attrs = self
            .session()
            .get_attributes(handle, &[AttributeType::KeyType, AttributeType::ValueLen, AttributeType::Id])
            .map_err(Error::p11("C_GetAttributeValue"))?;
        let mut found = Found { handle, kind: None, role: None, len: 0 };
        for a in attrs {
            match a {
                Attribute::KeyType(t) if t == KeyType::DES2 => {
                    (found.kind, found.len) = (Some(KeyKind::Tdes), 16)
                }
                Attribute::KeyType(t) if t == KeyType::DES3 => {
                    (found.kind, found.len) = (Some(KeyKind::Tdes), 24)
                }
                Attribute::KeyType(t) if t == KeyType::AES => found.kind = Some(KeyKind::Aes),
                Attribute::Id(id) => found.role = KeyRole::from_id(&id),
                Attribute::ValueLen(n) if found.len == 0 => {
                    found.len = usize::try_from(u64::from(n)).unwrap_or(0)
                }
                _ => {}
            }
        }
        Ok(found)
    }

    /// The check value of the key labelled `label`, computed in the token.
    pub fn kcv(&self, label: &str) -> Result<Kcv, Error> {
        let found = self.find(label)?;
        self.kcv_of(handle_kind(&found, label)?, found.role, found.handle)
    }

    /// The check value of a key of `kind` and `role`: by encryption, but for the ledger's
    /// sign-only key, by its CMAC (see [`crate::LedgerMac`]).
    pub(crate) fn kcv_of(
        &self,
        kind: KeyKind,
        role: Option<KeyRole>,
        handle: ObjectHandle,
    ) -> Result<Kcv, Error> {
        let out = match (kind, role) {
            (KeyKind::Aes, Some(KeyRole::LedgerMac)) => Zeroizing::new(
                self.session()
                    .sign(&Mechanism::AesCMac, handle, &[0u8; 16])
                    .map_err(Error::p11("C_Sign (CMAC check value)"))?,
            ),
            (KeyKind::Tdes, _) => self.encrypt(&Mechanism::Des3Ecb, handle, &[0u8; 8], "3DES check value")?,
            (KeyKind::Aes, _) => self.encrypt(&Mechanism::AesEcb, handle, &[1u8; 16], "AES check value")?,
            (KeyKind::Sm4, _) => return Err(sm4_not_offered("an SM4 check value")),
        };
        let mut kcv = [0u8; 3];
        kcv.copy_from_slice(out.get(..3).ok_or_else(|| Error::Invalid("short check value block".into()))?);
        Ok(Kcv(kcv))
    }

    pub(crate) fn encrypt(
        &self,
        mechanism: &Mechanism<'_>,
        handle: ObjectHandle,
        data: &[u8],
        what: &str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.session()
            .encrypt(mechanism, handle, data)
            .map(Zeroizing::new)
            .map_err(Error::p11(format!("C_Encrypt ({what})")))
    }

    /// Labels, kinds, roles and check values of every secret key in the token: what
    /// `station keys list` prints. Never a value.
    pub fn list(&self) -> Result<Vec<KeyInfo>, Error> {
        let handles = self
            .session()
            .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .map_err(Error::p11("C_FindObjects"))?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let found = self.describe(h)?;
            let attrs = self
                .session()
                .get_attributes(
                    h,
                    &[AttributeType::Label, AttributeType::Sensitive, AttributeType::Extractable],
                )
                .map_err(Error::p11("C_GetAttributeValue"))?;
            let (mut label, mut sensitive, mut extractable) = (String::new(), false, true);
            for a in attrs {
                match a {
                    Attribute::Label(l) => label = String::from_utf8_lossy(&l).into_owned(),
                    Attribute::Sensitive(s) => sensitive = s,
                    Attribute::Extractable(e) => extractable = e,
                    _ => {}
                }
            }
            let kcv = found.kind.and_then(|k| self.kcv_of(k, found.role, h).ok());
            out.push(KeyInfo {
                label,
                kind: found.kind,
                role: found.role,
                len: found.len,
                kcv,
                sealed: sensitive && !extractable,
            });
        }
        out.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(out)
    }

    /// Asks the token for the value of key `label` (`C_GetAttributeValue(CKA_VALUE)`), as an
    /// audit would, and answers true when the token refuses: what every key here must give.
    /// The value, should a token hand it out, is wiped unseen.
    pub fn value_refused(&self, label: &str) -> Result<bool, Error> {
        self.value_refused_of(self.find(label)?.handle)
    }

    /// [`Keystore::value_refused`] of the object `handle`.
    pub(crate) fn value_refused_of(&self, handle: ObjectHandle) -> Result<bool, Error> {
        let info = self.session().get_attribute_info(handle, &[AttributeType::Value]);
        match info {
            Ok(info) if matches!(info.first(), Some(cryptoki::object::AttributeInfo::Available(_))) => {
                let mut given = false;
                if let Ok(mut attrs) = self.session().get_attributes(handle, &[AttributeType::Value]) {
                    for a in attrs.iter_mut() {
                        if let Attribute::Value(v) = a {
                            given = true;
                            zeroize::Zeroize::zeroize(v);
                        }
                    }
                }
                Ok(!given)
            }
            Ok(_) => Ok(true),
            Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::AttributeSensitive, _)) => Ok(true),
            Err(e) => Err(Error::p11("C_GetAttributeValue")(e)),
        }
    }

    /// Destroys the key labelled `label` (a key retired after its ceremony record says so).
    pub fn delete(&self, label: &str) -> Result<(), Error> {
        let found = self.find(label)?;
        self.session().destroy_object(found.handle).map_err(Error::p11("C_DestroyObject"))
    }

    /// Generates a ledger MAC key (AES-256, made by the token's generator, never seen outside
    /// it) and returns its check value. No component exists: the token (or its backup) is the
    /// only copy.
    pub fn generate_ledger_key(&self, label: &str) -> Result<Kcv, Error> {
        self.require(MechanismType::AES_CMAC, "the ledger MAC")?;
        self.generate_aes256(label, KeyRole::LedgerMac, "ledger MAC key")
    }

    /// An AES-256 key of `role` made by the token's generator (`what` names it in errors);
    /// its check value.
    fn generate_aes256(&self, label: &str, role: KeyRole, what: &str) -> Result<Kcv, Error> {
        self.require(MechanismType::AES_KEY_GEN, &format!("a {what} made in the token"))?;
        self.label_free(label)?;
        let mut template = sealed_template(label, role, true);
        template.push(Attribute::Class(ObjectClass::SECRET_KEY));
        template.push(Attribute::KeyType(KeyType::AES));
        template.push(Attribute::ValueLen(32.into()));
        let h = self
            .session()
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(Error::p11(format!("C_GenerateKey ({what})")))?;
        self.kcv_of(KeyKind::Aes, Some(role), h)
    }
}

impl Keystore {
    /// Generates a database wrapping key (AES-256, made by the token's generator, never seen
    /// outside it) and returns its check value. Like the ledger's key, no component exists:
    /// the token (or its backup) is the only copy, and without it `station.db` stays closed.
    pub fn generate_data_wrap_key(&self, label: &str) -> Result<Kcv, Error> {
        self.require(MechanismType::AES_GCM, "the database wrapping key")?;
        self.generate_aes256(label, KeyRole::DataWrap, "database wrapping key")
    }
}

fn handle_kind(found: &Found, label: &str) -> Result<KeyKind, Error> {
    found.kind.ok_or_else(|| Error::WrongKind {
        label: label.into(),
        expected: "3DES or AES".into(),
        actual: "another key type".into(),
    })
}

/// The attributes every stored key carries: private, sensitive, never extractable,
/// unmodifiable, with its role's usages. `token`: a persistent object (else a session
/// object, gone at logout).
pub(crate) fn sealed_template(label: &str, role: KeyRole, token: bool) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(role.name().as_bytes().to_vec()),
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
    ];
    t.extend(role.usage());
    t
}
