//! The security level of a session: P1 of EXTERNAL AUTHENTICATE, what every later command
//! and answer carries.

use crate::Error;

/// A security level byte: C-MAC `01`, C-DECRYPTION `02`, R-MAC `10`, R-ENCRYPTION `20`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    /// No secure messaging after authentication.
    pub const NONE: SecurityLevel = SecurityLevel(0x00);
    /// Commands carry a C-MAC.
    pub const C_MAC: SecurityLevel = SecurityLevel(0x01);
    /// Commands are encrypted and carry a C-MAC (what personalisation uses).
    pub const C_DEC_C_MAC: SecurityLevel = SecurityLevel(0x03);
    /// C-MAC on commands, R-MAC on answers.
    pub const C_MAC_R_MAC: SecurityLevel = SecurityLevel(0x11);
    /// C-DECRYPTION, C-MAC and R-MAC.
    pub const C_DEC_C_MAC_R_MAC: SecurityLevel = SecurityLevel(0x13);
    /// Everything: C-DECRYPTION, C-MAC, R-MAC, R-ENCRYPTION (SCP03 only).
    pub const ALL: SecurityLevel = SecurityLevel(0x33);

    /// Checks a level byte: only known bits, C-DEC and R-MAC need C-MAC, R-ENC needs R-MAC and C-DEC.
    pub fn new(byte: u8) -> Result<SecurityLevel, Error> {
        let l = SecurityLevel(byte);
        let ok = byte & !0x33 == 0
            && (!l.c_dec() || l.c_mac())
            && (!l.r_mac() || l.c_mac())
            && (!l.r_enc() || (l.r_mac() && l.c_dec()));
        if ok {
            Ok(l)
        } else {
            Err(Error::Unsupported(format!("security level {byte:02X}")))
        }
    }

    /// The byte as EXTERNAL AUTHENTICATE P1 carries it.
    pub fn byte(self) -> u8 {
        self.0
    }

    /// Commands carry a C-MAC.
    pub fn c_mac(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Command data is encrypted.
    pub fn c_dec(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// Answers carry an R-MAC.
    pub fn r_mac(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// Answer data is encrypted.
    pub fn r_enc(self) -> bool {
        self.0 & 0x20 != 0
    }
}

impl std::fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (on, name) in [
            (self.c_dec(), "C-DEC"),
            (self.c_mac(), "C-MAC"),
            (self.r_mac(), "R-MAC"),
            (self.r_enc(), "R-ENC"),
        ] {
            if on {
                parts.push(name);
            }
        }
        if parts.is_empty() {
            parts.push("none");
        }
        write!(f, "{:02X} ({})", self.0, parts.join(" + "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_checked() {
        for ok in [0x00, 0x01, 0x03, 0x11, 0x13, 0x33] {
            assert_eq!(SecurityLevel::new(ok).expect("valid").byte(), ok);
        }
        for bad in [0x02, 0x04, 0x10, 0x23, 0x31, 0x80] {
            assert!(SecurityLevel::new(bad).is_err(), "{bad:02X}");
        }
        assert_eq!(SecurityLevel::C_DEC_C_MAC.to_string(), "03 (C-DEC + C-MAC)");
    }
}
