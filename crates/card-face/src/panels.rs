//! Separation into ribbon panels, packing into `Db` payloads, and the way back.
//!
//! Orientation (one convention, shared with sim/printer-sim): the landscape canvas is rotated
//! 90 degrees clockwise onto the panel, so canvas pixel (x, y) is panel line x, dot 647 - y.
//! Line 0 is the card's left edge (the chip end), dot 0 its bottom edge.
//!
//! Densities are 0 (no ink) to 255 in every plane; packing quantises them to the panel's
//! levels (Y/M/C 128 by default, K/O 2) and writes one continuous bit stream a panel, MSB
//! first, line after line: 648 dots x 7 bits = 567 bytes a line at 128 levels, 81 at 2.

use evolis::{DownloadBitmap, Levels, Panel, PANEL_DOTS_PER_LINE, PANEL_LINES};
use image::RgbImage;

use crate::{Face, FaceError};

/// Dots on one panel.
pub const PANEL_DOTS: usize = PANEL_LINES * PANEL_DOTS_PER_LINE;

/// The panels in the order they are printed (dye, then resin, then varnish).
pub const PRINT_ORDER: [Panel; 5] = [Panel::Y, Panel::M, Panel::C, Panel::K, Panel::O];

/// Panel (line, dot) of canvas pixel (x, y).
pub fn panel_position(x: u32, y: u32) -> (usize, usize) {
    (x as usize, PANEL_DOTS_PER_LINE - 1 - y as usize)
}

/// Canvas pixel (x, y) of panel (line, dot).
pub fn canvas_position(line: usize, dot: usize) -> (u32, u32) {
    (line as u32, (PANEL_DOTS_PER_LINE - 1 - dot) as u32)
}

/// The five planes of one face in panel order (index `line * PANEL_DOTS_PER_LINE + dot`),
/// a density 0..=255 a dot.
#[derive(Clone, PartialEq, Eq)]
pub struct Panels {
    planes: [Vec<u8>; 5],
}

impl std::fmt::Debug for Panels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Panels");
        for p in PRINT_ORDER {
            d.field(&p.letter().to_string(), &self.inked(p));
        }
        d.finish()
    }
}

fn slot(panel: Panel) -> usize {
    match panel {
        Panel::Y => 0,
        Panel::M => 1,
        Panel::C => 2,
        Panel::K => 3,
        Panel::O => 4,
    }
}

impl Panels {
    /// Nothing printed on any panel.
    pub fn blank() -> Self {
        Self { planes: std::array::from_fn(|_| vec![0; PANEL_DOTS]) }
    }

    /// A plane's densities.
    pub fn plane(&self, panel: Panel) -> &[u8] {
        &self.planes[slot(panel)]
    }

    /// A plane's densities, to change (the length is fixed).
    pub fn plane_mut(&mut self, panel: Panel) -> &mut [u8] {
        &mut self.planes[slot(panel)]
    }

    /// The density of a panel at canvas pixel (x, y).
    pub fn at(&self, panel: Panel, x: u32, y: u32) -> u8 {
        let (line, dot) = panel_position(x, y);
        self.plane(panel)[line * PANEL_DOTS_PER_LINE + dot]
    }

    /// Dots with any ink.
    pub fn inked(&self, panel: Panel) -> usize {
        self.plane(panel).iter().filter(|&&d| d != 0).count()
    }
}

/// Splits a face into panels: Y/M/C = 255 - B/G/R of the colour content, nothing under
/// black text (resin K alone prints it, sharper than a dye black); K = the black mask;
/// O = the overlay mask.
pub fn separate(face: &Face) -> Panels {
    let mut panels = Panels::blank();
    let (w, h) =
        (face.rgb.width().min(PANEL_LINES as u32), face.rgb.height().min(PANEL_DOTS_PER_LINE as u32));
    let [y_, m_, c_, k_, o_] = &mut panels.planes;
    for y in 0..h {
        for x in 0..w {
            let (line, dot) = panel_position(x, y);
            let i = line * PANEL_DOTS_PER_LINE + dot;
            if face.black.get(x, y) {
                k_[i] = 255;
            } else {
                let [r, g, b] = face.rgb.get_pixel(x, y).0;
                (y_[i], m_[i], c_[i]) = (255 - b, 255 - g, 255 - r);
            }
            if face.overlay.get(x, y) {
                o_[i] = 255;
            }
        }
    }
    panels
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

/// Packs one plane at `levels` into its `Db` payload.
pub fn pack_plane(plane: &[u8], levels: Levels) -> Vec<u8> {
    let bits = levels.bits() as u32;
    let mut out = Vec::with_capacity(levels.panel_len());
    let (mut acc, mut held) = (0u64, 0u32);
    for &d in plane {
        acc = (acc << bits) | u64::from(quantise(d, levels));
        held += bits;
        while held >= 8 {
            held -= 8;
            out.push((acc >> held) as u8);
        }
        acc &= (1 << held) - 1;
    }
    if held > 0 {
        out.push((acc << (8 - held)) as u8);
    }
    out
}

/// Unpacks a `Db` payload at `levels` into densities 0..=255 (missing bytes read as 0).
pub fn unpack_plane(data: &[u8], levels: Levels) -> Vec<u8> {
    let bits = levels.bits() as u32;
    let mask = (1u64 << bits) - 1;
    let mut out = Vec::with_capacity(PANEL_DOTS);
    let mut bytes = data.iter();
    let (mut acc, mut held) = (0u64, 0u32);
    for _ in 0..PANEL_DOTS {
        while held < bits {
            acc = (acc << 8) | u64::from(bytes.next().copied().unwrap_or(0));
            held += 8;
        }
        held -= bits;
        out.push(dequantise(((acc >> held) & mask) as u32, levels));
        acc &= (1 << held) - 1;
    }
    out
}

/// The five downloads of a face in print order, Y/M/C at 128 levels.
pub fn pack(panels: &Panels) -> Result<Vec<DownloadBitmap>, FaceError> {
    pack_with(panels, Levels::L128)
}

/// The five downloads with Y/M/C at `dye_levels` (32, 64 or 128: fewer levels, fewer bytes).
pub fn pack_with(panels: &Panels, dye_levels: Levels) -> Result<Vec<DownloadBitmap>, FaceError> {
    PRINT_ORDER
        .iter()
        .map(|&p| {
            let levels = if matches!(p, Panel::K | Panel::O) { Levels::L2 } else { dye_levels };
            Ok(DownloadBitmap::new(p, levels, pack_plane(panels.plane(p), levels))?)
        })
        .collect()
}

/// The panels back from their downloads (what the printer received); a panel not sent stays
/// blank.
pub fn unpack(downloads: &[DownloadBitmap]) -> Result<Panels, FaceError> {
    let mut panels = Panels::blank();
    let mut seen = Vec::new();
    for d in downloads {
        let letter = d.panel().letter();
        if seen.contains(&letter) {
            return Err(FaceError::Panel { panel: letter, message: "downloaded twice".into() });
        }
        seen.push(letter);
        panels.plane_mut(d.panel()).copy_from_slice(&unpack_plane(d.data(), d.levels()));
    }
    Ok(panels)
}

/// The card as printed, landscape RGB: white stock, cyan/magenta/yellow take away
/// red/green/blue, resin K prints black over everything, the clear overlay changes nothing.
pub fn composite(panels: &Panels) -> RgbImage {
    RgbImage::from_fn(PANEL_LINES as u32, PANEL_DOTS_PER_LINE as u32, |x, y| {
        if panels.at(Panel::K, x, y) >= 128 {
            return image::Rgb([0, 0, 0]);
        }
        let sub = |p| 255 - panels.at(p, x, y);
        image::Rgb([sub(Panel::C), sub(Panel::M), sub(Panel::Y)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_is_a_clockwise_quarter_turn() {
        // Top-left of the artwork: line 0 (the left edge comes first), last dot.
        assert_eq!(panel_position(0, 0), (0, 647));
        // Bottom-left: line 0, dot 0 (as sim/printer-sim reads it back).
        assert_eq!(panel_position(0, 647), (0, 0));
        assert_eq!(panel_position(1015, 0), (1015, 647));
        for (x, y) in [(0, 0), (17, 400), (1015, 647)] {
            let (l, d) = panel_position(x, y);
            assert_eq!(canvas_position(l, d), (x, y));
        }
    }

    #[test]
    fn one_dot_lands_in_the_right_byte() {
        let mut panels = Panels::blank();
        // Canvas (3, 647) = line 3, dot 0: byte 3 * 81, MSB.
        panels.plane_mut(Panel::K)[3 * PANEL_DOTS_PER_LINE] = 255;
        // Canvas (0, 0) = line 0, dot 647: the last bit of line 0's 81 bytes.
        panels.plane_mut(Panel::O)[647] = 255;
        // Y at line 0, dot 1, full: bits 7..14 of the stream = 0x01 0xFC.
        panels.plane_mut(Panel::Y)[1] = 255;
        let packed = pack(&panels).expect("packed");
        let k = packed.iter().find(|d| d.panel() == Panel::K).expect("k");
        assert_eq!(k.data()[3 * 81], 0x80);
        assert_eq!(k.data().iter().filter(|&&b| b != 0).count(), 1);
        let o = packed.iter().find(|d| d.panel() == Panel::O).expect("o");
        assert_eq!(o.data()[80], 0x01);
        let y = packed.iter().find(|d| d.panel() == Panel::Y).expect("y");
        assert_eq!(&y.data()[..3], &[0x01, 0xFC, 0x00]);
    }

    #[test]
    fn lengths_match_evolis() {
        let packed = pack(&Panels::blank()).expect("packed");
        let order: Vec<_> = packed.iter().map(|d| (d.panel(), d.levels(), d.data().len())).collect();
        assert_eq!(
            order,
            [
                (Panel::Y, Levels::L128, 576_072),
                (Panel::M, Levels::L128, 576_072),
                (Panel::C, Levels::L128, 576_072),
                (Panel::K, Levels::L2, 82_296),
                (Panel::O, Levels::L2, 82_296),
            ]
        );
        for levels in [Levels::L32, Levels::L64] {
            let packed = pack_with(&Panels::blank(), levels).expect("packed");
            assert_eq!(packed[0].data().len(), levels.panel_len());
        }
        assert!(pack_with(&Panels::blank(), Levels::L2).is_err(), "dye panels take no 2 levels");
    }

    #[test]
    fn round_trip_within_a_level() {
        let plane: Vec<u8> = (0..PANEL_DOTS).map(|i| (i * 7 % 256) as u8).collect();
        for levels in [Levels::L32, Levels::L64, Levels::L128] {
            let back = unpack_plane(&pack_plane(&plane, levels), levels);
            let step = 255 / max_level(levels) as i32;
            for (a, b) in plane.iter().zip(&back) {
                assert!((i32::from(*a) - i32::from(*b)).abs() <= step / 2 + 1, "{levels:?} {a} {b}");
            }
            assert_eq!(back[0], 0);
        }
        let full = vec![255u8; PANEL_DOTS];
        assert!(unpack_plane(&pack_plane(&full, Levels::L128), Levels::L128).iter().all(|&d| d == 255));
        let k: Vec<u8> = (0..PANEL_DOTS).map(|i| if i % 3 == 0 { 255 } else { 0 }).collect();
        assert_eq!(unpack_plane(&pack_plane(&k, Levels::L2), Levels::L2), k);
    }

    #[test]
    fn unpack_refuses_a_panel_twice() {
        let mut packed = pack(&Panels::blank()).expect("packed");
        packed.push(packed[3].clone());
        assert!(matches!(unpack(&packed), Err(FaceError::Panel { panel: 'k', .. })));
    }

    #[test]
    fn composite_colours() {
        let mut p = Panels::blank();
        let i = |x, y| {
            let (l, d) = panel_position(x, y);
            l * PANEL_DOTS_PER_LINE + d
        };
        p.plane_mut(Panel::C)[i(1, 1)] = 255;
        p.plane_mut(Panel::Y)[i(2, 1)] = 255;
        p.plane_mut(Panel::M)[i(2, 1)] = 255;
        p.plane_mut(Panel::K)[i(3, 1)] = 255;
        p.plane_mut(Panel::O)[i(4, 1)] = 255;
        let img = composite(&p);
        assert_eq!(img.get_pixel(1, 1).0, [0, 255, 255]);
        assert_eq!(img.get_pixel(2, 1).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(3, 1).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(4, 1).0, [255, 255, 255]);
        assert_eq!((img.width(), img.height()), (1016, 648));
    }
}
