//! Separation into ribbon panels, and the way back to the card as printed.
//!
//! A panel is a plane of densities, 0 (no ink) to 255, one a canvas pixel, row after row
//! (index `y * CANVAS_WIDTH_PX + x`): no printer's format. The printer driver turns the
//! planes into its own commands (the Evolis driver: a quarter turn onto its panel and `Db`
//! packing at the panel's levels).

use image::RgbImage;

use crate::template::{CANVAS_HEIGHT_PX, CANVAS_WIDTH_PX};
use crate::Face;

/// Dots on one panel: one a canvas pixel.
pub const PANEL_DOTS: usize = CANVAS_WIDTH_PX as usize * CANVAS_HEIGHT_PX as usize;

/// A ribbon panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Yellow dye.
    Y,
    /// Magenta dye.
    M,
    /// Cyan dye.
    C,
    /// Resin black: text, barcode and mark.
    K,
    /// Overlay varnish, with a hole over the chip.
    O,
}

impl Panel {
    /// Its letter, as ribbons name panels (`ymcko`).
    pub fn letter(self) -> char {
        match self {
            Self::Y => 'y',
            Self::M => 'm',
            Self::C => 'c',
            Self::K => 'k',
            Self::O => 'o',
        }
    }

    fn slot(self) -> usize {
        match self {
            Self::Y => 0,
            Self::M => 1,
            Self::C => 2,
            Self::K => 3,
            Self::O => 4,
        }
    }
}

/// The panels in the order they are printed (dye, then resin, then varnish).
pub const PRINT_ORDER: [Panel; 5] = [Panel::Y, Panel::M, Panel::C, Panel::K, Panel::O];

/// The five planes of one face, a density 0..=255 a canvas pixel, row after row.
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

fn index(x: u32, y: u32) -> usize {
    y as usize * CANVAS_WIDTH_PX as usize + x as usize
}

impl Panels {
    /// Nothing printed on any panel.
    pub fn blank() -> Self {
        Self { planes: std::array::from_fn(|_| vec![0; PANEL_DOTS]) }
    }

    /// A plane's densities.
    pub fn plane(&self, panel: Panel) -> &[u8] {
        &self.planes[panel.slot()]
    }

    /// A plane's densities, to change (the length is fixed).
    pub fn plane_mut(&mut self, panel: Panel) -> &mut [u8] {
        &mut self.planes[panel.slot()]
    }

    /// The planes in print order, for the printer.
    pub fn into_planes(self) -> [(Panel, Vec<u8>); 5] {
        let [y, m, c, k, o] = self.planes;
        [(Panel::Y, y), (Panel::M, m), (Panel::C, c), (Panel::K, k), (Panel::O, o)]
    }

    /// The density of a panel at canvas pixel (x, y).
    pub fn at(&self, panel: Panel, x: u32, y: u32) -> u8 {
        self.plane(panel)[index(x, y)]
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
    let (w, h) = (face.rgb.width().min(CANVAS_WIDTH_PX), face.rgb.height().min(CANVAS_HEIGHT_PX));
    let [y_, m_, c_, k_, o_] = &mut panels.planes;
    for y in 0..h {
        for x in 0..w {
            let i = index(x, y);
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

/// The card as printed, landscape RGB: white stock, cyan/magenta/yellow take away
/// red/green/blue, resin K prints black over everything (from a density of 128), the clear
/// overlay changes nothing.
pub fn composite(panels: &Panels) -> RgbImage {
    RgbImage::from_fn(CANVAS_WIDTH_PX, CANVAS_HEIGHT_PX, |x, y| {
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
    fn planes_are_canvas_rows_in_print_order() {
        let mut panels = Panels::blank();
        panels.plane_mut(Panel::K)[index(3, 2)] = 255;
        assert_eq!(panels.at(Panel::K, 3, 2), 255);
        assert_eq!(panels.plane(Panel::K)[2 * 1016 + 3], 255);
        assert_eq!(format!("{panels:?}"), "Panels { y: 0, m: 0, c: 0, k: 1, o: 0 }");
        let letters: String = panels
            .into_planes()
            .iter()
            .map(|(p, plane)| {
                assert_eq!(plane.len(), 1016 * 648);
                p.letter()
            })
            .collect();
        assert_eq!(letters, "ymcko");
    }

    #[test]
    fn composite_colours() {
        let mut p = Panels::blank();
        p.plane_mut(Panel::C)[index(1, 1)] = 255;
        p.plane_mut(Panel::Y)[index(2, 1)] = 255;
        p.plane_mut(Panel::M)[index(2, 1)] = 255;
        p.plane_mut(Panel::K)[index(3, 1)] = 255;
        p.plane_mut(Panel::O)[index(4, 1)] = 255;
        let img = composite(&p);
        assert_eq!(img.get_pixel(1, 1).0, [0, 255, 255]);
        assert_eq!(img.get_pixel(2, 1).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(3, 1).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(4, 1).0, [255, 255, 255]);
        assert_eq!((img.width(), img.height()), (1016, 648));
    }
}
