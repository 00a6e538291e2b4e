//! What can go wrong with a key store: the module or token (its PKCS#11 return value and
//! function kept), the PIN's source, a key not found or of the wrong kind, a mechanism the
//! token does not offer, and the ceremony's checks. No variant carries key material: a
//! component's check value is shown only when it was refused, and then only the value the
//! custodian typed beside the one computed.

use secure_channel::Kcv;

/// Why the key store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PKCS#11 module could not be loaded or a call failed (the function and the
    /// token's return value are kept).
    #[error("PKCS#11 {step}: {source}")]
    Pkcs11 {
        /// What was being done.
        step: String,
        /// The module's answer.
        #[source]
        source: cryptoki::error::Error,
    },
    /// No token with this label in any slot of the module.
    #[error("no token labelled {0:?} in the PKCS#11 module")]
    NoToken(String),
    /// The PIN could not be read from where the configuration says it is.
    #[error("PIN: {0}")]
    Pin(String),
    /// No secret key with this label in the token.
    #[error("no key labelled {0:?} in the token")]
    NoKey(String),
    /// Two or more secret keys carry the label: refused rather than guess.
    #[error("{count} keys are labelled {label:?} in the token: a label names one key")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// How many keys carry it.
        count: usize,
    },
    /// A key exists already under the label a ceremony was to give the new key.
    #[error("a key labelled {0:?} is already in the token: delete it first or choose another label")]
    LabelTaken(String),
    /// The key is of another kind than the operation needs.
    #[error("key {label:?} is {actual}; {expected} is needed here")]
    WrongKind {
        /// The key's label.
        label: String,
        /// What the operation needs.
        expected: String,
        /// What the token holds.
        actual: String,
    },
    /// The token does not offer a mechanism this operation needs (SM4 and SM3 in SoftHSM2,
    /// for example).
    #[error("{what}: not offered by this token ({mechanism})")]
    NotOffered {
        /// What could not be done.
        what: String,
        /// The PKCS#11 mechanism or key type missing.
        mechanism: String,
    },
    /// A custodian's component does not give the check value written beside it.
    #[error("component {index} of {label:?}: its check value is {actual}, the custodian's form says {expected}; nothing was stored")]
    ComponentKcv {
        /// The key being formed.
        label: String,
        /// 1-based number of the component.
        index: usize,
        /// The value on the form.
        expected: Kcv,
        /// The value of what was entered.
        actual: Kcv,
    },
    /// The formed key's check value is not the one the key's owner announced.
    #[error("the formed key {label:?} has check value {actual}, {expected} was expected; it was not kept")]
    FinalKcv {
        /// The key being formed.
        label: String,
        /// The announced value.
        expected: Kcv,
        /// The value of the key formed.
        actual: Kcv,
    },
    /// The operation needs a key out of the token in clear, which this store never does.
    #[error("{0}")]
    StaysInToken(String),
    /// A component, a length or an argument that cannot be used (the text says why; it never
    /// quotes a component).
    #[error("{0}")]
    Invalid(String),
    /// A DP file's encrypted DGI did not decrypt to padded data.
    #[error("DGI {0:04X}: no padding after decryption: damaged or another transport key")]
    TransportPadding(u16),
}

impl Error {
    pub(crate) fn p11(step: impl Into<String>) -> impl FnOnce(cryptoki::error::Error) -> Error {
        let step = step.into();
        move |source| Error::Pkcs11 { step, source }
    }
}

impl From<Error> for secure_channel::Error {
    fn from(e: Error) -> secure_channel::Error {
        match e {
            Error::NotOffered { .. } | Error::StaysInToken(_) => {
                secure_channel::Error::Unsupported(e.to_string())
            }
            other => secure_channel::Error::Key(other.to_string()),
        }
    }
}
