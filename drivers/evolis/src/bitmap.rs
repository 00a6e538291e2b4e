//! The panel download `Db;<panel>;<levels>;<data>`: raw bytes whose length follows from the
//! panel and the levels, so a parser counts them instead of looking for CR (the data may hold
//! any byte, CR and ESC included).
//!
//! Sizes come from the panel geometry of printer.md (1016 lines x 648 dots, 81 bytes a line
//! at 1 bit/dot): lines x dots x bits-per-dot / 8. printer.md's totals (84 624 for K/O and
//! 423 120 / 507 744 / 592 368 for Y/M/C) are 84 624 x bits, which does not match its own
//! 81 x 1016 = 82 296; the geometry is used here and kept in one place
//! ([`Levels::panel_len`]) until a real printer settles it.

use crate::request::{expect_ok, CR, ESC};
use crate::{ProtocolError, Request};

/// Dots on one panel line (300 dpi across the card's short side, with bleed).
pub const PANEL_DOTS_PER_LINE: usize = 648;
/// Lines on one panel (300 dpi along the card's long side, with bleed).
pub const PANEL_LINES: usize = 1016;

/// A ribbon panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Yellow dye.
    Y,
    /// Magenta dye.
    M,
    /// Cyan dye.
    C,
    /// Resin black: text and barcodes.
    K,
    /// Overlay varnish, with holes over the chip.
    O,
}

impl Panel {
    /// The letter on the wire.
    pub fn letter(self) -> char {
        match self {
            Self::Y => 'y',
            Self::M => 'm',
            Self::C => 'c',
            Self::K => 'k',
            Self::O => 'o',
        }
    }

    /// The panel for a wire letter.
    pub fn from_letter(letter: u8) -> Option<Self> {
        match letter {
            b'y' => Some(Self::Y),
            b'm' => Some(Self::M),
            b'c' => Some(Self::C),
            b'k' => Some(Self::K),
            b'o' => Some(Self::O),
            _ => None,
        }
    }

    fn is_dye(self) -> bool {
        matches!(self, Self::Y | Self::M | Self::C)
    }
}

/// Grey levels of a panel, which fix the bits per dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Levels {
    /// 2 levels, 1 bit a dot, MSB first: the K and O panels.
    L2,
    /// 32 levels, 5 bits a dot.
    L32,
    /// 64 levels, 6 bits a dot.
    L64,
    /// 128 levels, 7 bits a dot (8 dots in 7 bytes).
    L128,
}

impl Levels {
    /// The number on the wire.
    pub fn value(self) -> u16 {
        match self {
            Self::L2 => 2,
            Self::L32 => 32,
            Self::L64 => 64,
            Self::L128 => 128,
        }
    }

    /// The levels for a wire number.
    pub fn from_value(value: u16) -> Option<Self> {
        match value {
            2 => Some(Self::L2),
            32 => Some(Self::L32),
            64 => Some(Self::L64),
            128 => Some(Self::L128),
            _ => None,
        }
    }

    /// Bits a dot.
    pub fn bits(self) -> usize {
        match self {
            Self::L2 => 1,
            Self::L32 => 5,
            Self::L64 => 6,
            Self::L128 => 7,
        }
    }

    /// Bytes of one panel at these levels.
    pub fn panel_len(self) -> usize {
        PANEL_LINES * PANEL_DOTS_PER_LINE * self.bits() / 8
    }
}

/// Why a panel download cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BitmapError {
    /// K and O are 2-level; Y, M and C are 32, 64 or 128-level.
    #[error("Db;{panel}: {levels} levels are not supported on this panel")]
    Levels {
        /// The panel letter.
        panel: char,
        /// The levels asked for.
        levels: u16,
    },
    /// The data does not have the length the parameters imply; sent anyway, the printer
    /// would take the following commands as image data.
    #[error("Db;{panel};{levels}: {expected} bytes expected, {actual} given")]
    Length {
        /// The panel letter.
        panel: char,
        /// The levels.
        levels: u16,
        /// Bytes the parameters imply.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A face plane without one density a dot ([`crate::FACE_DOTS`]).
    #[error("Db;{panel}: {expected} dots expected, {actual} given")]
    Dots {
        /// The panel letter.
        panel: char,
        /// Dots of a face.
        expected: usize,
        /// Densities given.
        actual: usize,
    },
}

/// The payload length of `Db;<panel>;<levels>`, or why the pair is not allowed.
pub(crate) fn payload_len(panel: Panel, levels: Levels) -> Result<usize, BitmapError> {
    let allowed = if panel.is_dye() { levels != Levels::L2 } else { levels == Levels::L2 };
    if allowed {
        Ok(levels.panel_len())
    } else {
        Err(BitmapError::Levels { panel: panel.letter(), levels: levels.value() })
    }
}

/// `Db;<panel>;<levels>;<data>`: download one panel of the current side. Built only with the
/// exact length, so [`Request::encode`] cannot put a wrong-sized payload on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadBitmap {
    panel: Panel,
    levels: Levels,
    data: Vec<u8>,
}

impl std::fmt::Debug for DownloadBitmap {
    // The payload is hundreds of kilobytes; its length says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadBitmap")
            .field("panel", &self.panel)
            .field("levels", &self.levels)
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl DownloadBitmap {
    /// Checks that `levels` suit `panel` and that `data` has the implied length.
    pub fn new(panel: Panel, levels: Levels, data: Vec<u8>) -> Result<Self, BitmapError> {
        let expected = payload_len(panel, levels)?;
        if data.len() != expected {
            return Err(BitmapError::Length {
                panel: panel.letter(),
                levels: levels.value(),
                expected,
                actual: data.len(),
            });
        }
        Ok(Self { panel, levels, data })
    }

    /// The panel.
    pub fn panel(&self) -> Panel {
        self.panel
    }

    /// The levels.
    pub fn levels(&self) -> Levels {
        self.levels
    }

    /// The packed panel data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

impl Request for DownloadBitmap {
    type Response = ();

    fn step(&self) -> &'static str {
        match self.panel {
            Panel::Y => "Db;y",
            Panel::M => "Db;m",
            Panel::C => "Db;c",
            Panel::K => "Db;k",
            Panel::O => "Db;o",
        }
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        buf.reserve(self.data.len() + 16);
        buf.push(ESC);
        buf.extend_from_slice(format!("Db;{};{};", self.panel.letter(), self.levels.value()).as_bytes());
        buf.extend_from_slice(&self.data);
        buf.push(CR);
    }

    fn decode(&self, reply: &[u8]) -> Result<(), ProtocolError> {
        expect_ok(self.step(), reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;

    #[test]
    fn panel_lengths_follow_the_geometry() {
        assert_eq!(Levels::L2.panel_len(), 81 * 1016);
        assert_eq!(Levels::L2.panel_len(), 82_296);
        assert_eq!(Levels::L128.panel_len(), 576_072);
        assert_eq!(Levels::L128.panel_len(), 1016 * 648 / 8 * 7);
        assert_eq!(Levels::L32.panel_len(), 411_480);
        assert_eq!(Levels::L64.panel_len(), 493_776);
    }

    #[test]
    fn levels_per_panel() {
        assert_eq!(payload_len(Panel::K, Levels::L2), Ok(82_296));
        assert_eq!(payload_len(Panel::O, Levels::L2), Ok(82_296));
        assert_eq!(payload_len(Panel::Y, Levels::L128), Ok(576_072));
        assert_eq!(payload_len(Panel::K, Levels::L128), Err(BitmapError::Levels { panel: 'k', levels: 128 }));
        assert_eq!(payload_len(Panel::C, Levels::L2), Err(BitmapError::Levels { panel: 'c', levels: 2 }));
        for v in [2, 32, 64, 128] {
            assert_eq!(Levels::from_value(v).map(Levels::value), Some(v));
        }
        assert_eq!(Levels::from_value(16), None);
        for l in [b'y', b'm', b'c', b'k', b'o'] {
            assert_eq!(Panel::from_letter(l).map(|p| p.letter() as u8), Some(l));
        }
        assert_eq!(Panel::from_letter(b'K'), None);
    }

    #[test]
    fn length_is_validated() {
        let err = DownloadBitmap::new(Panel::K, Levels::L2, vec![0; 82_295]).expect_err("an error");
        assert_eq!(err, BitmapError::Length { panel: 'k', levels: 2, expected: 82_296, actual: 82_295 });
        assert_eq!(err.to_string(), "Db;k;2: 82296 bytes expected, 82295 given");
        assert!(DownloadBitmap::new(Panel::M, Levels::L128, vec![0; 576_073]).is_err());
        assert!(DownloadBitmap::new(Panel::M, Levels::L32, vec![0; 411_480]).is_ok());
        assert!(DownloadBitmap::new(Panel::C, Levels::L64, vec![0; 493_776]).is_ok());
    }

    #[test]
    fn encoding_carries_raw_data() {
        let mut data = vec![0xFF; 82_296];
        data[0] = CR;
        data[1] = ESC;
        let db = DownloadBitmap::new(Panel::K, Levels::L2, data).expect("ok");
        let bytes = encode_to_vec(&db);
        assert_eq!(&bytes[..9], b"\x1bDb;k;2;\x0d");
        assert_eq!(bytes[9], ESC);
        assert_eq!(bytes.len(), 8 + 82_296 + 1);
        assert_eq!(bytes.last(), Some(&CR));
        assert_eq!(db.step(), "Db;k");
        assert_eq!(db.decode(b"OK\0"), Ok(()));
        assert!(format!("{db:?}").contains("data_len: 82296"));
    }
}
