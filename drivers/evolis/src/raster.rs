//! A face's ink to `Db` payloads and back.
//!
//! A face comes as one plane a panel of ink densities, 0 (none) to 255, row after row over
//! the landscape face ([`FACE_WIDTH`] dots across, [`FACE_HEIGHT`] down): no printer's
//! format. What is Evolis is the rest:
//!
//! - Orientation: the head runs along the card's long side, so the face is turned a quarter
//!   clockwise onto the panel: face dot (x, y) is panel line x, dot 647 - y. Line 0 is the
//!   card's left edge (the chip end), dot 0 its bottom edge. [`panel_position`] holds the
//!   convention.
//! - Packing: each density is quantised to the panel's levels (Y/M/C 128 by default, K/O 2,
//!   inked from 128) and the panel is one continuous bit stream, MSB first, line after line:
//!   648 dots x 7 bits = 567 bytes a line at 128 levels, 81 at 2.

use crate::bitmap::{payload_len, BitmapError, DownloadBitmap, Levels, Panel};
use crate::{PANEL_DOTS_PER_LINE, PANEL_LINES};

/// Dots across the landscape face: the panel's lines.
pub const FACE_WIDTH: usize = PANEL_LINES;
/// Dots down the landscape face: the dots of a panel line.
pub const FACE_HEIGHT: usize = PANEL_DOTS_PER_LINE;
/// Dots of one face, and of one panel.
pub const FACE_DOTS: usize = FACE_WIDTH * FACE_HEIGHT;

/// Panel (line, dot) of face dot (x, y).
pub fn panel_position(x: usize, y: usize) -> (usize, usize) {
    (x, PANEL_DOTS_PER_LINE - 1 - y)
}

/// Face dot (x, y) of panel (line, dot).
pub fn face_position(line: usize, dot: usize) -> (usize, usize) {
    (line, PANEL_DOTS_PER_LINE - 1 - dot)
}

/// Where panel (line, dot) is in a face plane.
fn face_index(line: usize, dot: usize) -> usize {
    let (x, y) = face_position(line, dot);
    y * FACE_WIDTH + x
}

fn max_level(levels: Levels) -> u32 {
    u32::from(levels.value()) - 1
}

/// A density 0..=255 to a level 0..levels-1, rounded (K/O: inked from 128).
fn quantise(d: u8, levels: Levels) -> u32 {
    let max = max_level(levels);
    (u32::from(d) * max + 127) / 255
}

fn dequantise(q: u32, levels: Levels) -> u8 {
    let max = max_level(levels);
    ((q.min(max) * 255 + max / 2) / max) as u8
}

/// Packs a face plane (`FACE_DOTS` densities) at `levels`, in panel order.
fn pack_plane(plane: &[u8], levels: Levels) -> Vec<u8> {
    let bits = levels.bits() as u32;
    let mut out = Vec::with_capacity(levels.panel_len());
    let (mut acc, mut held) = (0u64, 0u32);
    for line in 0..PANEL_LINES {
        for dot in 0..PANEL_DOTS_PER_LINE {
            acc = (acc << bits) | u64::from(quantise(plane[face_index(line, dot)], levels));
            held += bits;
            while held >= 8 {
                held -= 8;
                out.push((acc >> held) as u8);
            }
            acc &= (1 << held) - 1;
        }
    }
    if held > 0 {
        out.push((acc << (8 - held)) as u8);
    }
    out
}

/// Unpacks a payload at `levels` into a face plane of densities 0..=255 (missing bytes read
/// as 0).
fn unpack_plane(data: &[u8], levels: Levels) -> Vec<u8> {
    let bits = levels.bits() as u32;
    let mask = (1u64 << bits) - 1;
    let mut out = vec![0; FACE_DOTS];
    let mut bytes = data.iter();
    let (mut acc, mut held) = (0u64, 0u32);
    for line in 0..PANEL_LINES {
        for dot in 0..PANEL_DOTS_PER_LINE {
            while held < bits {
                acc = (acc << 8) | u64::from(bytes.next().copied().unwrap_or(0));
                held += 8;
            }
            held -= bits;
            out[face_index(line, dot)] = dequantise(((acc >> held) & mask) as u32, levels);
            acc &= (1 << held) - 1;
        }
    }
    out
}

impl DownloadBitmap {
    /// The download of one panel of a face: `plane` is [`FACE_DOTS`] densities, row after
    /// row over the landscape face, packed at `levels`.
    pub fn from_densities(panel: Panel, levels: Levels, plane: &[u8]) -> Result<Self, BitmapError> {
        payload_len(panel, levels)?;
        if plane.len() != FACE_DOTS {
            return Err(BitmapError::Dots {
                panel: panel.letter(),
                expected: FACE_DOTS,
                actual: plane.len(),
            });
        }
        DownloadBitmap::new(panel, levels, pack_plane(plane, levels))
    }

    /// The panel back as a face plane: [`FACE_DOTS`] densities 0..=255, row after row (what
    /// the printer received, for the simulator and the tests).
    pub fn densities(&self) -> Vec<u8> {
        unpack_plane(self.data(), self.levels())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: usize, y: usize) -> usize {
        y * FACE_WIDTH + x
    }

    #[test]
    fn orientation_is_a_clockwise_quarter_turn() {
        // Top-left of the artwork: line 0 (the left edge comes first), last dot.
        assert_eq!(panel_position(0, 0), (0, 647));
        // Bottom-left: line 0, dot 0 (as sim/printer-sim reads it back).
        assert_eq!(panel_position(0, 647), (0, 0));
        assert_eq!(panel_position(1015, 0), (1015, 647));
        for (x, y) in [(0, 0), (17, 400), (1015, 647)] {
            let (l, d) = panel_position(x, y);
            assert_eq!(face_position(l, d), (x, y));
        }
    }

    #[test]
    fn one_dot_lands_in_the_right_byte() {
        let mut k = vec![0; FACE_DOTS];
        // Face (3, 647) = line 3, dot 0: byte 3 * 81, MSB.
        k[at(3, 647)] = 255;
        let k = DownloadBitmap::from_densities(Panel::K, Levels::L2, &k).expect("k");
        assert_eq!(k.data()[3 * 81], 0x80);
        assert_eq!(k.data().iter().filter(|&&b| b != 0).count(), 1);
        // Face (0, 0) = line 0, dot 647: the last bit of line 0's 81 bytes.
        let mut o = vec![0; FACE_DOTS];
        o[at(0, 0)] = 255;
        let o = DownloadBitmap::from_densities(Panel::O, Levels::L2, &o).expect("o");
        assert_eq!(o.data()[80], 0x01);
        // Y at line 0, dot 1 (face (0, 646)), full: bits 7..14 of the stream = 0x01 0xFC.
        let mut y = vec![0; FACE_DOTS];
        y[at(0, 646)] = 255;
        let y = DownloadBitmap::from_densities(Panel::Y, Levels::L128, &y).expect("y");
        assert_eq!(&y.data()[..3], &[0x01, 0xFC, 0x00]);
    }

    #[test]
    fn lengths_and_levels() {
        let blank = vec![0; FACE_DOTS];
        for (panel, levels, len) in [
            (Panel::Y, Levels::L128, 576_072),
            (Panel::M, Levels::L64, 493_776),
            (Panel::C, Levels::L32, 411_480),
            (Panel::K, Levels::L2, 82_296),
            (Panel::O, Levels::L2, 82_296),
        ] {
            let d = DownloadBitmap::from_densities(panel, levels, &blank).expect("packed");
            assert_eq!((d.panel(), d.levels(), d.data().len()), (panel, levels, len));
        }
        assert_eq!(
            DownloadBitmap::from_densities(Panel::Y, Levels::L2, &blank),
            Err(BitmapError::Levels { panel: 'y', levels: 2 })
        );
        assert_eq!(
            DownloadBitmap::from_densities(Panel::K, Levels::L2, &blank[1..]),
            Err(BitmapError::Dots { panel: 'k', expected: FACE_DOTS, actual: FACE_DOTS - 1 })
        );
    }

    #[test]
    fn round_trip_within_a_level() {
        let plane: Vec<u8> = (0..FACE_DOTS).map(|i| (i * 7 % 256) as u8).collect();
        for levels in [Levels::L32, Levels::L64, Levels::L128] {
            let back = unpack_plane(&pack_plane(&plane, levels), levels);
            let step = 255 / max_level(levels) as i32;
            for (a, b) in plane.iter().zip(&back) {
                assert!((i32::from(*a) - i32::from(*b)).abs() <= step / 2 + 1, "{levels:?} {a} {b}");
            }
            assert_eq!(back[0], 0);
            // Every level survives the way back and forth, so a payload unpacked and packed
            // again is the same bytes.
            for q in 0..=max_level(levels) {
                assert_eq!(quantise(dequantise(q, levels), levels), q, "{levels:?} level {q}");
            }
        }
        let full = vec![255u8; FACE_DOTS];
        assert!(unpack_plane(&pack_plane(&full, Levels::L128), Levels::L128).iter().all(|&d| d == 255));
        let k: Vec<u8> = (0..FACE_DOTS).map(|i| if i % 3 == 0 { 255 } else { 0 }).collect();
        assert_eq!(unpack_plane(&pack_plane(&k, Levels::L2), Levels::L2), k);
        let packed = DownloadBitmap::from_densities(Panel::K, Levels::L2, &k).expect("k");
        assert_eq!(packed.densities(), k);
    }
}
