//! Which secure channel a card speaks: the protocol, its "i" parameter and the block cipher.
//! All three come from the card's firmware profile, never from a guess in code (the SM4
//! variant in particular has no public byte-level source: card-spec.md section 3 [?]).

use crate::{Algorithm, Error, SecurityLevel};

/// The protocol family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SCP02: 3DES, sequence-counter session keys, retail-MAC C-MAC.
    Scp02,
    /// SCP03 shape: SP 800-108 CMAC KDF, CMAC chaining, counter ICV. With AES this is
    /// GlobalPlatform SCP03; with SM4 it is the SM4 variant.
    Scp03,
}

/// A complete scheme: protocol, "i" parameter, block cipher, and the SCP identifier the card
/// reports in its INITIALIZE UPDATE answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scheme {
    /// Protocol family.
    pub protocol: Protocol,
    /// The "i" parameter (SCP02: `15`, `55`..; SCP03: `00`, `10`, `30`, `70`; b1 = S16).
    pub i: u8,
    /// Block cipher of keys and session.
    pub algorithm: Algorithm,
    /// SCP identifier byte the card puts after the key version (`02`, `03`; a vendor's SM4
    /// variant may use its own).
    pub scp_id: u8,
}

impl Scheme {
    /// SCP02 with parameter `i` (3DES).
    pub fn scp02(i: u8) -> Scheme {
        Scheme { protocol: Protocol::Scp02, i, algorithm: Algorithm::Tdes, scp_id: 0x02 }
    }

    /// SCP03 with parameter `i` (AES).
    pub fn scp03(i: u8) -> Scheme {
        Scheme { protocol: Protocol::Scp03, i, algorithm: Algorithm::Aes, scp_id: 0x03 }
    }

    /// The SM4 variant: the SCP03 shape with SM4 as its block cipher. [?] The card's SCP
    /// identifier byte is set with [`Scheme::with_scp_id`] when the profile says otherwise.
    pub fn scp03_sm4(i: u8) -> Scheme {
        Scheme { protocol: Protocol::Scp03, i, algorithm: Algorithm::Sm4, scp_id: 0x03 }
    }

    /// The same scheme with another reported SCP identifier.
    pub fn with_scp_id(mut self, scp_id: u8) -> Scheme {
        self.scp_id = scp_id;
        self
    }

    /// Host and card challenge length and cryptogram length: 8, or 16 in SCP03 S16 mode.
    pub fn challenge_len(&self) -> usize {
        if self.s16() {
            16
        } else {
            8
        }
    }

    /// SCP03 S16 mode (i b1): 16-byte challenges, cryptograms and MACs.
    pub fn s16(&self) -> bool {
        self.protocol == Protocol::Scp03 && self.i & 0x01 != 0
    }

    /// Length of C-MAC and R-MAC on the wire.
    pub fn mac_len(&self) -> usize {
        if self.s16() {
            16
        } else {
            8
        }
    }

    /// SCP02 i b2 = 1: the C-MAC is computed on the unmodified APDU (original CLA and Lc).
    pub fn scp02_mac_on_unmodified(&self) -> bool {
        self.protocol == Protocol::Scp02 && self.i & 0x02 != 0
    }

    /// SCP02 i b5: the ICV of each C-MAC after the first is DES-encrypted with S-MAC's first
    /// half.
    pub fn scp02_icv_encryption(&self) -> bool {
        self.protocol == Protocol::Scp02 && self.i & 0x10 != 0
    }

    /// SCP03 i b4: the card challenge is pseudo-random and a 3-byte sequence counter follows
    /// the cryptogram in the INITIALIZE UPDATE answer.
    pub fn scp03_pseudo_random(&self) -> bool {
        self.protocol == Protocol::Scp03 && self.i & 0x10 != 0
    }

    /// Length of the INITIALIZE UPDATE answer data.
    pub fn initialize_update_len(&self) -> usize {
        match self.protocol {
            Protocol::Scp02 => 28,
            Protocol::Scp03 => 13 + 2 * self.challenge_len() + if self.scp03_pseudo_random() { 3 } else { 0 },
        }
    }

    /// Refuses combinations that cannot work: a cipher that is not the protocol's, an SCP02
    /// "i" this crate does not implement, a level the card's "i" does not allow.
    pub fn check(&self, level: SecurityLevel) -> Result<(), Error> {
        match self.protocol {
            Protocol::Scp02 => {
                if self.algorithm != Algorithm::Tdes {
                    return Err(Error::Unsupported(format!("SCP02 with {}", self.algorithm)));
                }
                if self.i & 0x01 == 0 {
                    return Err(Error::Unsupported(format!("SCP02 i={:02X} with one base key", self.i)));
                }
                if self.i & 0x08 != 0 {
                    return Err(Error::Unsupported(format!(
                        "SCP02 i={:02X}: ICV from a MAC over the AID",
                        self.i
                    )));
                }
                if level.r_enc() {
                    return Err(Error::Unsupported("R-ENCRYPTION under SCP02".into()));
                }
            }
            Protocol::Scp03 => {
                if self.algorithm == Algorithm::Tdes {
                    return Err(Error::Unsupported("the SCP03 shape with 3DES".into()));
                }
                if level.r_mac() && self.i & 0x20 == 0 {
                    return Err(Error::Unsupported(format!("R-MAC with SCP03 i={:02X}", self.i)));
                }
                if level.r_enc() && self.i & 0x40 == 0 {
                    return Err(Error::Unsupported(format!("R-ENCRYPTION with SCP03 i={:02X}", self.i)));
                }
            }
        }
        Ok(())
    }
}
