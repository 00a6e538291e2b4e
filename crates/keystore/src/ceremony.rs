//! The key ceremony: two or more custodians each enter a key component with its check
//! value; each component is checked, the key is formed and stored sealed in the token, and
//! its check value is printed for the ceremony record.
//!
//! Where the components are combined depends on the token:
//! - with `CKM_XOR_BASE_AND_DATA` the first component becomes a session object and the
//!   others are XORed onto it by `C_DeriveKey`: the formed key exists only inside the token;
//! - SoftHSM2 (2.6) lists no XOR derivation, unwraps only AES key wrap and RSA, and its
//!   `*_ENCRYPT_DATA` derivations encrypt rather than XOR: no mechanism combines two
//!   components inside it. There the components are XORed in a zeroised host buffer,
//!   imported with `C_CreateObject` as a sensitive, non-extractable object, and the buffer
//!   is wiped at once. [`Formed::Host`] says so in the report.
//!
//! Each component's check value is computed in the token too (on a session object
//! destroyed straight after), so the ceremony needs no cipher outside the token.

use cryptoki::mechanism::misc::KeyDerivationStringData;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use secure_channel::Kcv;
use zeroize::{Zeroize, Zeroizing};

use crate::token::sealed_template;
use crate::{Error, KeyKind, KeyRole, Keystore};

/// One custodian's component: its bytes (zeroised on drop, never printed) and the check
/// value written on the custodian's form.
pub struct Component {
    bytes: Zeroizing<Vec<u8>>,
    kcv: Kcv,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Component({} bytes, KCV {})", self.bytes.len(), self.kcv)
    }
}

impl Component {
    /// A component from the hex the custodian typed (spaces allowed) and its check value.
    /// The caller should wipe its copy of the text (a `Zeroizing<String>`).
    pub fn from_hex(hex_text: &str, kcv: &str) -> Result<Component, Error> {
        let kcv = Kcv::from_hex(kcv).map_err(|_| Error::Invalid("a check value is 6 hex digits".into()))?;
        let digits: Zeroizing<Vec<u8>> =
            Zeroizing::new(hex_text.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
        if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(Error::Invalid("a component is an even number of hex digits".into()));
        }
        let nibble = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        let bytes = Zeroizing::new(digits.chunks(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])).collect());
        Ok(Component { bytes, kcv })
    }

    /// A component from bytes (moved in and wiped on drop) and its check value.
    pub fn new(bytes: Zeroizing<Vec<u8>>, kcv: Kcv) -> Component {
        Component { bytes, kcv }
    }
}

/// Where the components were combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formed {
    /// Inside the token (`CKM_XOR_BASE_AND_DATA`).
    Token,
    /// In a zeroised host buffer, for a token without an XOR derivation (SoftHSM2).
    Host,
}

/// What the ceremony record gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyReport {
    /// The new key's label.
    pub label: String,
    /// Its kind.
    pub kind: KeyKind,
    /// Its role.
    pub role: KeyRole,
    /// Key length in bytes.
    pub len: usize,
    /// Each component's check value, as verified.
    pub component_kcvs: Vec<Kcv>,
    /// The formed key's check value, computed in the token.
    pub kcv: Kcv,
    /// Where the components were combined.
    pub formed: Formed,
}

impl std::fmt::Display for CeremonyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let comps: Vec<String> = self.component_kcvs.iter().map(Kcv::to_string).collect();
        write!(
            f,
            "key {:?} ({} {} bytes, {}): components {} checked; KCV {}; formed {}",
            self.label,
            self.kind,
            self.len,
            self.role.name(),
            comps.join(", "),
            self.kcv,
            match self.formed {
                Formed::Token => "inside the token",
                Formed::Host => "in host memory (the token has no XOR derivation), wiped",
            }
        )
    }
}

impl Keystore {
    /// Forms the key `label` from the custodians' `components` (two or more, each checked
    /// against its check value) and stores it in the token, sealed. `expected`: the formed
    /// key's check value when its owner announced one (the key is destroyed if it differs).
    pub fn import_components(
        &self,
        label: &str,
        kind: KeyKind,
        role: KeyRole,
        components: &[Component],
        expected: Option<Kcv>,
    ) -> Result<CeremonyReport, Error> {
        if components.len() < 2 {
            return Err(Error::Invalid("dual control: a key is formed from at least two components".into()));
        }
        if role == KeyRole::LedgerMac && kind != KeyKind::Aes {
            return Err(Error::Invalid(format!("the ledger MAC key is an AES key (AES-CMAC), not {kind}")));
        }
        if role == KeyRole::DataWrap && (kind != KeyKind::Aes || components[0].bytes.len() != 32) {
            return Err(Error::Invalid(format!(
                "the database wrapping key is an AES-256 key (32-byte components), not {kind} of {} bytes",
                components[0].bytes.len()
            )));
        }
        let len = components[0].bytes.len();
        let key_type = kind.key_type(len)?;
        if !kind.len_ok(len) || components.iter().any(|c| c.bytes.len() != len) {
            return Err(Error::Invalid(format!(
                "every component of a {kind} key has the key's length; got {:?} bytes",
                components.iter().map(|c| c.bytes.len()).collect::<Vec<_>>()
            )));
        }
        self.label_free(label)?;
        let object = |label: &str, token: bool| {
            let mut t = sealed_template(label, role, token);
            t.push(Attribute::Class(ObjectClass::SECRET_KEY));
            t.push(Attribute::KeyType(key_type));
            t
        };
        // Each component, checked in the token as a short-lived session object.
        for (i, c) in components.iter().enumerate() {
            let mut t = object("ceremony component", false);
            t.push(Attribute::Value(c.bytes.to_vec()));
            let h = self.session().create_object(&t).map_err(Error::p11("C_CreateObject (component)"));
            // The template's copy of the value.
            wipe(&mut t);
            let h = h?;
            let actual = self.kcv_of(kind, Some(role), h);
            self.destroy(h);
            let actual = actual?;
            if actual != c.kcv {
                return Err(Error::ComponentKcv {
                    label: label.into(),
                    index: i + 1,
                    expected: c.kcv,
                    actual,
                });
            }
        }
        let (handle, formed) = if self.offers(MechanismType::XOR_BASE_AND_DATA) {
            (self.form_in_token(label, components, &object)?, Formed::Token)
        } else {
            let mut key = Zeroizing::new(components[0].bytes.to_vec());
            for c in &components[1..] {
                key.iter_mut().zip(c.bytes.iter()).for_each(|(k, b)| *k ^= b);
            }
            let mut t = object(label, true);
            t.push(Attribute::Value(key.to_vec()));
            let h = self.session().create_object(&t).map_err(Error::p11("C_CreateObject (formed key)"));
            wipe(&mut t);
            (h?, Formed::Host)
        };
        let kcv = match self.kcv_of(kind, Some(role), handle) {
            Ok(k) => k,
            Err(e) => {
                self.destroy(handle);
                return Err(e);
            }
        };
        if let Some(expected) = expected.filter(|e| *e != kcv) {
            self.destroy(handle);
            return Err(Error::FinalKcv { label: label.into(), expected, actual: kcv });
        }
        let report = CeremonyReport {
            label: label.into(),
            kind,
            role,
            len,
            component_kcvs: components.iter().map(|c| c.kcv).collect(),
            kcv,
            formed,
        };
        tracing::info!(%report, "key ceremony");
        Ok(report)
    }

    /// XORs components 2.. onto component 1 with `C_DeriveKey`; the intermediates are
    /// session objects, the last derivation makes the token object.
    fn form_in_token(
        &self,
        label: &str,
        components: &[Component],
        object: &dyn Fn(&str, bool) -> Vec<Attribute>,
    ) -> Result<ObjectHandle, Error> {
        let mut t = object("ceremony component", false);
        t.push(Attribute::Value(components[0].bytes.to_vec()));
        let base = self.session().create_object(&t).map_err(Error::p11("C_CreateObject (component 1)"));
        wipe(&mut t);
        let mut base = base?;
        for (i, c) in components.iter().enumerate().skip(1) {
            let last = i + 1 == components.len();
            let template = if last { object(label, true) } else { object("ceremony component", false) };
            let mech = Mechanism::XorBaseAndData(KeyDerivationStringData::new(&c.bytes));
            let next =
                self.session().derive_key(&mech, base, &template).map_err(Error::p11("C_DeriveKey (XOR)"));
            self.destroy(base);
            base = next?;
        }
        Ok(base)
    }

    fn destroy(&self, handle: ObjectHandle) {
        if let Err(e) = self.session().destroy_object(handle) {
            tracing::warn!("C_DestroyObject of a ceremony object: {e}");
        }
    }
}

/// Wipes the `CKA_VALUE` copies of a template.
fn wipe(template: &mut [Attribute]) {
    for a in template.iter_mut() {
        if let Attribute::Value(v) = a {
            v.zeroize();
        }
    }
}
