//! ISO 7816-4 status words as a typed enum, built from and turned back into SW1 SW2.

/// A status word (SW1 SW2). Every pair maps to exactly one variant and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum StatusWord {
    /// 9000: normal processing.
    #[error("9000 success")]
    Success,
    /// 61xx: xx more bytes are waiting for GET RESPONSE (00 means 256 or more).
    #[error("61{0:02X} response bytes still available")]
    BytesAvailable(u8),
    /// 6281: part of the returned data may be corrupted.
    #[error("6281 returned data may be corrupted")]
    DataMaybeCorrupted,
    /// 6282: end of file or record reached before Le bytes.
    #[error("6282 end of file or record reached before reading Le bytes")]
    EndOfFile,
    /// 6283: the selected file is deactivated.
    #[error("6283 selected file deactivated")]
    FileDeactivated,
    /// 6285: the selected file is in termination state.
    #[error("6285 selected file in termination state")]
    FileTerminated,
    /// 63Cx: verification failed, x tries left.
    #[error("63C{0:X} verification failed, {0} tries left")]
    RetriesLeft(u8),
    /// 6310: more data available (GlobalPlatform GET STATUS).
    #[error("6310 more data available")]
    MoreData,
    /// 6300: verification or authentication failed, no counter given.
    #[error("6300 authentication failed")]
    AuthenticationFailed,
    /// 6581: memory failure.
    #[error("6581 memory failure")]
    MemoryFailure,
    /// 6700: wrong length.
    #[error("6700 wrong length")]
    WrongLength,
    /// 6881: logical channel not supported.
    #[error("6881 logical channel not supported")]
    LogicalChannelNotSupported,
    /// 6882: secure messaging not supported.
    #[error("6882 secure messaging not supported")]
    SecureMessagingNotSupported,
    /// 6883: last command of the chain expected.
    #[error("6883 last command of the chain expected")]
    LastCommandOfChainExpected,
    /// 6884: command chaining not supported.
    #[error("6884 command chaining not supported")]
    ChainingNotSupported,
    /// 6981: command incompatible with file structure.
    #[error("6981 command incompatible with file structure")]
    IncompatibleFileStructure,
    /// 6982: security status not satisfied (authenticate first).
    #[error("6982 security status not satisfied")]
    SecurityStatusNotSatisfied,
    /// 6983: authentication method blocked.
    #[error("6983 authentication method blocked")]
    AuthenticationBlocked,
    /// 6984: reference data not usable.
    #[error("6984 reference data not usable")]
    ReferenceDataNotUsable,
    /// 6985: conditions of use not satisfied.
    #[error("6985 conditions of use not satisfied")]
    ConditionsNotSatisfied,
    /// 6986: command not allowed (no current EF).
    #[error("6986 command not allowed (no current EF)")]
    CommandNotAllowed,
    /// 6987: expected secure-messaging data objects missing.
    #[error("6987 secure-messaging data objects missing")]
    SecureMessagingObjectsMissing,
    /// 6988: secure-messaging data objects incorrect.
    #[error("6988 secure-messaging data objects incorrect")]
    SecureMessagingObjectsIncorrect,
    /// 6A80: incorrect parameters in the data field.
    #[error("6A80 incorrect data field")]
    IncorrectData,
    /// 6A81: function not supported.
    #[error("6A81 function not supported")]
    FunctionNotSupported,
    /// 6A82: file or application not found.
    #[error("6A82 file or application not found")]
    FileNotFound,
    /// 6A83: record not found.
    #[error("6A83 record not found")]
    RecordNotFound,
    /// 6A84: not enough memory space in the file.
    #[error("6A84 not enough memory in the file")]
    NotEnoughMemory,
    /// 6A86: incorrect P1 P2.
    #[error("6A86 incorrect P1 P2")]
    IncorrectP1P2,
    /// 6A88: referenced data (key, PIN) not found.
    #[error("6A88 referenced data not found")]
    ReferencedDataNotFound,
    /// 6B00: wrong parameters (offset outside the EF).
    #[error("6B00 wrong parameters (offset outside the file)")]
    WrongParameters,
    /// 6Cxx: wrong Le; xx is the exact length to ask for (00 means 256).
    #[error("6C{0:02X} wrong Le, card has {0:#04x} bytes")]
    WrongLe(u8),
    /// 6D00: instruction not supported.
    #[error("6D00 instruction not supported")]
    InsNotSupported,
    /// 6E00: class not supported.
    #[error("6E00 class not supported")]
    ClaNotSupported,
    /// 6F00: no precise diagnosis.
    #[error("6F00 no precise diagnosis")]
    NoPreciseDiagnosis,
    /// 9303: application permanently locked.
    #[error("9303 application locked")]
    ApplicationLocked,
    /// Any other pair, kept as it came.
    #[error("{0:02X}{1:02X} unknown status")]
    Other(u8, u8),
}

impl From<(u8, u8)> for StatusWord {
    fn from((sw1, sw2): (u8, u8)) -> StatusWord {
        use StatusWord::*;
        match (sw1, sw2) {
            (0x90, 0x00) => Success,
            (0x61, n) => BytesAvailable(n),
            (0x62, 0x81) => DataMaybeCorrupted,
            (0x62, 0x82) => EndOfFile,
            (0x62, 0x83) => FileDeactivated,
            (0x62, 0x85) => FileTerminated,
            (0x63, 0xC0..=0xCF) => RetriesLeft(sw2 & 0x0F),
            (0x63, 0x10) => MoreData,
            (0x63, 0x00) => AuthenticationFailed,
            (0x65, 0x81) => MemoryFailure,
            (0x67, 0x00) => WrongLength,
            (0x68, 0x81) => LogicalChannelNotSupported,
            (0x68, 0x82) => SecureMessagingNotSupported,
            (0x68, 0x83) => LastCommandOfChainExpected,
            (0x68, 0x84) => ChainingNotSupported,
            (0x69, 0x81) => IncompatibleFileStructure,
            (0x69, 0x82) => SecurityStatusNotSatisfied,
            (0x69, 0x83) => AuthenticationBlocked,
            (0x69, 0x84) => ReferenceDataNotUsable,
            (0x69, 0x85) => ConditionsNotSatisfied,
            (0x69, 0x86) => CommandNotAllowed,
            (0x69, 0x87) => SecureMessagingObjectsMissing,
            (0x69, 0x88) => SecureMessagingObjectsIncorrect,
            (0x6A, 0x80) => IncorrectData,
            (0x6A, 0x81) => FunctionNotSupported,
            (0x6A, 0x82) => FileNotFound,
            (0x6A, 0x83) => RecordNotFound,
            (0x6A, 0x84) => NotEnoughMemory,
            (0x6A, 0x86) => IncorrectP1P2,
            (0x6A, 0x88) => ReferencedDataNotFound,
            (0x6B, 0x00) => WrongParameters,
            (0x6C, n) => WrongLe(n),
            (0x6D, 0x00) => InsNotSupported,
            (0x6E, 0x00) => ClaNotSupported,
            (0x6F, 0x00) => NoPreciseDiagnosis,
            (0x93, 0x03) => ApplicationLocked,
            (a, b) => Other(a, b),
        }
    }
}

impl From<StatusWord> for (u8, u8) {
    fn from(sw: StatusWord) -> (u8, u8) {
        use StatusWord::*;
        match sw {
            Success => (0x90, 0x00),
            BytesAvailable(n) => (0x61, n),
            DataMaybeCorrupted => (0x62, 0x81),
            EndOfFile => (0x62, 0x82),
            FileDeactivated => (0x62, 0x83),
            FileTerminated => (0x62, 0x85),
            RetriesLeft(n) => (0x63, 0xC0 | (n & 0x0F)),
            MoreData => (0x63, 0x10),
            AuthenticationFailed => (0x63, 0x00),
            MemoryFailure => (0x65, 0x81),
            WrongLength => (0x67, 0x00),
            LogicalChannelNotSupported => (0x68, 0x81),
            SecureMessagingNotSupported => (0x68, 0x82),
            LastCommandOfChainExpected => (0x68, 0x83),
            ChainingNotSupported => (0x68, 0x84),
            IncompatibleFileStructure => (0x69, 0x81),
            SecurityStatusNotSatisfied => (0x69, 0x82),
            AuthenticationBlocked => (0x69, 0x83),
            ReferenceDataNotUsable => (0x69, 0x84),
            ConditionsNotSatisfied => (0x69, 0x85),
            CommandNotAllowed => (0x69, 0x86),
            SecureMessagingObjectsMissing => (0x69, 0x87),
            SecureMessagingObjectsIncorrect => (0x69, 0x88),
            IncorrectData => (0x6A, 0x80),
            FunctionNotSupported => (0x6A, 0x81),
            FileNotFound => (0x6A, 0x82),
            RecordNotFound => (0x6A, 0x83),
            NotEnoughMemory => (0x6A, 0x84),
            IncorrectP1P2 => (0x6A, 0x86),
            ReferencedDataNotFound => (0x6A, 0x88),
            WrongParameters => (0x6B, 0x00),
            WrongLe(n) => (0x6C, n),
            InsNotSupported => (0x6D, 0x00),
            ClaNotSupported => (0x6E, 0x00),
            NoPreciseDiagnosis => (0x6F, 0x00),
            ApplicationLocked => (0x93, 0x03),
            Other(a, b) => (a, b),
        }
    }
}

impl StatusWord {
    /// SW1 SW2 as a 16-bit number, e.g. `0x6A82`.
    pub fn as_u16(self) -> u16 {
        let (a, b) = self.into();
        u16::from_be_bytes([a, b])
    }

    /// The two bytes as they go on the wire.
    pub fn to_bytes(self) -> [u8; 2] {
        let (a, b) = self.into();
        [a, b]
    }

    /// Normal processing (9000) or a warning that still delivered the data (62xx, 63xx
    /// other than a failed verification).
    pub fn is_success(self) -> bool {
        self == StatusWord::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_round_trips() {
        for sw1 in 0..=255u8 {
            for sw2 in 0..=255u8 {
                let sw = StatusWord::from((sw1, sw2));
                assert_eq!(<(u8, u8)>::from(sw), (sw1, sw2), "{sw1:02X}{sw2:02X} -> {sw:?}");
            }
        }
    }

    #[test]
    fn typed_variants() {
        assert_eq!(StatusWord::from((0x63, 0xC2)), StatusWord::RetriesLeft(2));
        assert_eq!(StatusWord::from((0x6C, 0x10)), StatusWord::WrongLe(0x10));
        assert_eq!(StatusWord::from((0x6A, 0x82)).as_u16(), 0x6A82);
        assert_eq!(StatusWord::FileNotFound.to_string(), "6A82 file or application not found");
    }
}
