//! The data-preparation (DP) file: what a data-preparation system hands the personalisation
//! host for one card. JSON (format `emv-cps-dp/1`, described in the crate docs); sensitive
//! DGIs are encrypted under a transport key whose check value the file names.

use secure_channel::{pad80, unpad80, SecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;

/// Format identifier of this version of the file.
pub const DP_FORMAT: &str = "emv-cps-dp/1";

/// A data-preparation file for one card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpFile {
    /// Always [`DP_FORMAT`].
    pub format: String,
    /// What the card will say about itself: for the operator and the journal, never sent.
    pub card: CardSummary,
    /// Check value (3DES `E_K(00*8)`, 3 bytes, hex) of the transport key the encrypted DGIs
    /// are under.
    pub transport_key_kcv: String,
    /// Applications in personalisation order.
    pub applications: Vec<DpApplication>,
}

/// The card's public identity as prepared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSummary {
    /// Primary account number (digits).
    pub pan: String,
    /// PAN sequence number.
    pub psn: u8,
    /// Expiry date, `YYMMDD`.
    pub expiry: String,
    /// Application label.
    pub label: String,
    /// Whose card this is: [`holder_ref`] of the holder's resident ID number. Card numbers
    /// are reused (a released number goes to the next person), so the station checks this
    /// against the applicant before personalising, never the file name alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_ref: Option<String>,
}

/// The holder reference a DP file carries: SM3 of `emv-cps-holder:` and the resident ID
/// number, hex (the ID number itself stays out of the file's clear summary).
pub fn holder_ref(id_number: &str) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(format!("emv-cps-holder:{id_number}").as_bytes()))
}

impl CardSummary {
    /// Whether the file was prepared for the holder with `id_number`; why not, when it was not.
    pub fn check_holder(&self, id_number: &str) -> Result<(), Error> {
        match &self.holder_ref {
            None => Err(Error::Dp(
                "the DP file names no holder (card.holder_ref): ask the bank's data preparation for a file prepared for this applicant".into(),
            )),
            Some(r) if !r.eq_ignore_ascii_case(&holder_ref(id_number)) => Err(Error::Dp(
                "the DP file was prepared for another holder: do not personalise; ask the bank's data preparation for this applicant's file".into(),
            )),
            Some(_) => Ok(()),
        }
    }
}

/// The DGIs of one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpApplication {
    /// Human name (`PBOC debit`, `PSE`, `PPSE`).
    pub name: String,
    /// AID, hex: the target of INSTALL [for personalization].
    pub aid: String,
    /// DGIs in the order they are stored.
    pub dgis: Vec<DpDgi>,
}

/// One DGI: plain `data`, or `encrypted` (3DES-ECB under the transport key of the value with
/// ISO 9797-1 method 2 padding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpDgi {
    /// DGI number, 4 hex digits.
    pub dgi: String,
    /// Plain value, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Encrypted value, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<String>,
}

/// A DGI as checked: number, value bytes (ciphertext when `encrypted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dgi {
    /// DGI number.
    pub dgi: u16,
    /// Value (plain) or ciphertext (encrypted).
    pub value: Vec<u8>,
    /// Sensitive: the value is encrypted.
    pub encrypted: bool,
}

fn unhex(what: &str, text: &str) -> Result<Vec<u8>, Error> {
    hex::decode(text).map_err(|e| Error::Dp(format!("{what}: not hex ({e})")))
}

impl DpApplication {
    /// The AID bytes.
    pub fn aid_bytes(&self) -> Result<Vec<u8>, Error> {
        let aid = unhex(&format!("application {:?} aid", self.name), &self.aid)?;
        if !(5..=16).contains(&aid.len()) {
            return Err(Error::Dp(format!("application {:?}: an AID has 5 to 16 bytes", self.name)));
        }
        Ok(aid)
    }

    /// The DGIs, checked: numbers, hex, one of `data` / `encrypted`, whole blocks, no repeats.
    pub fn checked_dgis(&self) -> Result<Vec<Dgi>, Error> {
        let mut out: Vec<Dgi> = Vec::with_capacity(self.dgis.len());
        for d in &self.dgis {
            let what = format!("application {:?} DGI {:?}", self.name, d.dgi);
            let n = match unhex(&what, &d.dgi)?.as_slice() {
                [a, b] if [*a, *b] != [0, 0] && [*a, *b] != [0xFF, 0xFF] => u16::from_be_bytes([*a, *b]),
                _ => {
                    return Err(Error::Dp(format!("{what}: a DGI number is 4 hex digits, not 0000 or FFFF")))
                }
            };
            let (value, encrypted) = match (&d.data, &d.encrypted) {
                (Some(v), None) => (unhex(&what, v)?, false),
                (None, Some(v)) => {
                    let v = unhex(&what, v)?;
                    if v.is_empty() || v.len() % 8 != 0 {
                        return Err(Error::Dp(format!("{what}: encrypted value is not whole 8-byte blocks")));
                    }
                    (v, true)
                }
                _ => return Err(Error::Dp(format!("{what}: exactly one of data and encrypted"))),
            };
            if value.len() > 0xFFFF {
                return Err(Error::Dp(format!("{what}: {} bytes, a DGI holds at most 65 535", value.len())));
            }
            if out.iter().any(|o| o.dgi == n) {
                return Err(Error::Dp(format!("{what}: appears twice")));
            }
            out.push(Dgi { dgi: n, value, encrypted });
        }
        if out.is_empty() {
            return Err(Error::Dp(format!("application {:?} has no DGI", self.name)));
        }
        Ok(out)
    }
}

impl DpFile {
    /// Reads and checks a DP file.
    pub fn parse(text: &str) -> Result<DpFile, Error> {
        let dp: DpFile = serde_json::from_str(text).map_err(|e| Error::Dp(e.to_string()))?;
        dp.check()?;
        Ok(dp)
    }

    /// Checks everything that can be checked without keys.
    pub fn check(&self) -> Result<(), Error> {
        if self.format != DP_FORMAT {
            return Err(Error::Dp(format!("format {:?}, this host reads {DP_FORMAT:?}", self.format)));
        }
        if unhex("transport_key_kcv", &self.transport_key_kcv)?.len() != 3 {
            return Err(Error::Dp("transport_key_kcv: 3 bytes".into()));
        }
        if self.applications.is_empty() {
            return Err(Error::Dp("no application".into()));
        }
        for a in &self.applications {
            a.aid_bytes()?;
            a.checked_dgis()?;
        }
        Ok(())
    }

    /// The file as JSON, pretty-printed (deterministic: the same card gives the same bytes).
    pub fn to_json(&self) -> String {
        // Strings, numbers and vectors only: serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The application with `aid`.
    pub fn application(&self, aid: &[u8]) -> Option<&DpApplication> {
        self.applications.iter().find(|a| a.aid_bytes().is_ok_and(|x| x == aid))
    }

    /// Refuses a transport key whose check value is not the file's.
    pub fn check_transport_key(&self, key: &dyn TransportDecrypt) -> Result<(), Error> {
        let actual = key.transport_kcv()?.to_string();
        if !actual.eq_ignore_ascii_case(&self.transport_key_kcv) {
            return Err(Error::TransportKey { expected: self.transport_key_kcv.clone(), actual });
        }
        Ok(())
    }
}

/// The DP transport key, wherever it is kept: in memory ([`SecretKey`], the simulators and
/// tests) or in a hardware token, where the decryption runs inside it and the key never
/// leaves. The padded plaintext comes back (it is re-encrypted under the session DEK).
pub trait TransportDecrypt {
    /// Its check value (3DES `E_K(00*8)`, 3 bytes), what the DP file's `transport_key_kcv`
    /// names.
    fn transport_kcv(&self) -> Result<secure_channel::Kcv, Error>;

    /// The padded plaintext of encrypted DGI `dgi`; refused when the padding does not survive
    /// decryption (a damaged file or another key).
    fn decrypt_dgi(&self, dgi: u16, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error>;
}

impl TransportDecrypt for SecretKey {
    fn transport_kcv(&self) -> Result<secure_channel::Kcv, Error> {
        Ok(self.kcv())
    }

    fn decrypt_dgi(&self, dgi: u16, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        decrypt_from_transport(self, dgi, ciphertext)
    }
}

/// Encrypts a sensitive DGI value for the DP file.
pub fn encrypt_for_transport(key: &SecretKey, value: &[u8]) -> Result<Vec<u8>, Error> {
    let padded = Zeroizing::new(pad80(value, 8));
    Ok(key.encrypt_ecb(&padded)?)
}

/// The padded plaintext of an encrypted DGI (what is re-encrypted under the session DEK);
/// refuses a value whose padding does not survive decryption (a damaged file or the wrong
/// key).
pub fn decrypt_from_transport(
    key: &SecretKey,
    dgi: u16,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let plain = Zeroizing::new(key.decrypt_ecb(ciphertext)?);
    if unpad80(&plain).is_none() {
        return Err(Error::Dp(format!(
            "DGI {dgi:04X}: no padding after decryption: damaged or another transport key"
        )));
    }
    Ok(plain)
}
