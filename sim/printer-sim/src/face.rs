//! Printed faces: the downloaded panels decoded to densities and composited back to RGB, so
//! a person can look at what would have come out.
//!
//! Packing assumed (printer.md, and `evolis::DownloadBitmap`): 1016 lines of 648 dots, dots
//! packed MSB first in one continuous bit stream per panel at the panel's bits per dot
//! (1 for K/O, 5/6/7 for Y/M/C at 32/64/128 levels); a value is a density, 0 no ink.
//! Landscape artwork is rotated 90 degrees clockwise before packing, so the PNG turns it back:
//! landscape pixel (x, y) of the 1016 x 648 image is line x, dot 647 - y.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use evolis::{Levels, Panel, PANEL_DOTS_PER_LINE, PANEL_LINES};

/// Width of the written PNG (the card's long side).
pub const IMAGE_WIDTH: usize = PANEL_LINES;
/// Height of the written PNG.
pub const IMAGE_HEIGHT: usize = PANEL_DOTS_PER_LINE;

/// One decoded panel: a density per dot, line by line.
#[derive(Clone, PartialEq, Eq)]
pub struct PanelImage {
    /// The levels it was sent at.
    pub levels: Levels,
    /// `PANEL_LINES x PANEL_DOTS_PER_LINE` densities, from 0 (no ink) to `levels - 1`.
    pub dots: Vec<u8>,
}

impl std::fmt::Debug for PanelImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PanelImage").field("levels", &self.levels).field("inked", &self.inked()).finish()
    }
}

impl PanelImage {
    /// Unpacks a panel's payload (its length was checked by the request parser).
    pub fn unpack(levels: Levels, data: &[u8]) -> Self {
        let bits = levels.bits();
        let count = PANEL_LINES * PANEL_DOTS_PER_LINE;
        let mut dots = Vec::with_capacity(count);
        let (mut acc, mut held) = (0u32, 0usize);
        let mut bytes = data.iter();
        for _ in 0..count {
            while held < bits {
                acc = (acc << 8) | u32::from(bytes.next().copied().unwrap_or(0));
                held += 8;
            }
            held -= bits;
            dots.push(((acc >> held) & ((1 << bits) - 1)) as u8);
            acc &= (1 << held) - 1;
        }
        Self { levels, dots }
    }

    /// The density at `line`, `dot`, scaled to 0..=255.
    pub fn density(&self, line: usize, dot: usize) -> u8 {
        let max = u32::from(self.levels.value() - 1);
        let v = u32::from(self.dots[line * PANEL_DOTS_PER_LINE + dot]);
        (v * 255 / max) as u8
    }

    /// How many dots carry ink.
    pub fn inked(&self) -> usize {
        self.dots.iter().filter(|&&d| d != 0).count()
    }
}

/// A face as the printer printed it (or began to: `complete` is false when the print stopped
/// part-way, e.g. at a ribbon end).
#[derive(Debug, Clone)]
pub struct PrintedFace {
    /// The panels printed, by panel.
    pub panels: BTreeMap<char, PanelImage>,
    /// The PNG written, when an output directory is set.
    pub png: Option<PathBuf>,
    /// Whether every selected panel was printed.
    pub complete: bool,
}

impl PrintedFace {
    /// A decoded panel by its letter.
    pub fn panel(&self, panel: Panel) -> Option<&PanelImage> {
        self.panels.get(&panel.letter())
    }

    /// The composite as landscape RGB, `IMAGE_WIDTH x IMAGE_HEIGHT x 3` bytes: white card,
    /// cyan/magenta/yellow densities take away red/green/blue, resin K prints black; the
    /// overlay is clear varnish and changes no colour.
    pub fn rgb(&self) -> Vec<u8> {
        let get = |p: Panel| self.panel(p);
        let (y, m, c, k) = (get(Panel::Y), get(Panel::M), get(Panel::C), get(Panel::K));
        let mut out = vec![255u8; IMAGE_WIDTH * IMAGE_HEIGHT * 3];
        for py in 0..IMAGE_HEIGHT {
            for px in 0..IMAGE_WIDTH {
                let (line, dot) = (px, PANEL_DOTS_PER_LINE - 1 - py);
                let sub = |panel: Option<&PanelImage>| 255 - panel.map_or(0, |p| p.density(line, dot));
                let mut rgb = [sub(c), sub(m), sub(y)];
                if k.is_some_and(|k| k.density(line, dot) > 0) {
                    rgb = [0, 0, 0];
                }
                let at = (py * IMAGE_WIDTH + px) * 3;
                out[at..at + 3].copy_from_slice(&rgb);
            }
        }
        out
    }

    /// Writes the composite as an 8-bit RGB PNG.
    pub fn write_png(&self, path: &Path) -> io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, IMAGE_WIDTH as u32, IMAGE_HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(io::Error::other)?;
        writer.write_image_data(&self.rgb()).map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_seven_bit_and_one_bit() {
        // 8 dots of 7 bits in 7 bytes: 127, 0, 1, 0, 0, 0, 0, 64
        let mut data = vec![0u8; Levels::L128.panel_len()];
        let bits = "1111111".to_owned() + "0000000" + "0000001" + &"0".repeat(28) + "1000000";
        for (i, chunk) in bits.as_bytes().chunks(8).enumerate() {
            data[i] = u8::from_str_radix(std::str::from_utf8(chunk).expect("ascii"), 2).expect("bits");
        }
        let p = PanelImage::unpack(Levels::L128, &data);
        assert_eq!(&p.dots[..8], &[127, 0, 1, 0, 0, 0, 0, 64]);
        assert_eq!(p.density(0, 0), 255);
        assert_eq!(p.dots.len(), PANEL_LINES * PANEL_DOTS_PER_LINE);

        let mut data = vec![0u8; Levels::L2.panel_len()];
        data[0] = 0b1000_0001;
        data[81] = 0x80; // line 1, dot 0
        let k = PanelImage::unpack(Levels::L2, &data);
        assert_eq!((k.dots[0], k.dots[7], k.dots[648], k.inked()), (1, 1, 1, 3));
    }

    #[test]
    fn composite_and_png() {
        let mut panels = BTreeMap::new();
        let mut k = vec![0u8; Levels::L2.panel_len()];
        k[0] = 0x80; // line 0, dot 0: landscape x 0, y 647 (bottom left)
        panels.insert('k', PanelImage::unpack(Levels::L2, &k));
        let face = PrintedFace { panels, png: None, complete: true };
        let rgb = face.rgb();
        let at = |x: usize, y: usize| &rgb[(y * IMAGE_WIDTH + x) * 3..][..3];
        assert_eq!(at(0, IMAGE_HEIGHT - 1), &[0, 0, 0]);
        assert_eq!(at(0, 0), &[255, 255, 255]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("face.png");
        face.write_png(&path).expect("written");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
