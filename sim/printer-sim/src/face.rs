//! Printed faces: what the printer received, unpacked to densities by the `evolis` crate
//! (`DownloadBitmap::densities`: the one inverse of the driver's packing) and composited to
//! RGB by card-face (`composite`), so a person can look at what would have come out.

use std::io;
use std::path::{Path, PathBuf};

use card_face::image::RgbImage;
use card_face::Panels;
use evolis::{DownloadBitmap, Panel, PANEL_DOTS_PER_LINE, PANEL_LINES};

/// Width of the written PNG (the card's long side).
pub const IMAGE_WIDTH: usize = PANEL_LINES;
/// Height of the written PNG.
pub const IMAGE_HEIGHT: usize = PANEL_DOTS_PER_LINE;

/// A face as the printer printed it (or began to: `complete` is false when the print stopped
/// part-way, e.g. at a ribbon end).
#[derive(Debug, Clone)]
pub struct PrintedFace {
    /// The panels printed, decoded to densities 0..=255; a panel not printed (never
    /// downloaded, or after the ribbon ended) is blank.
    pub panels: Panels,
    /// The ribbon panels printed, in order, as `Pr` letters (`ymcko` for a whole face).
    pub printed: String,
    /// The PNG written, when an output directory is set.
    pub png: Option<PathBuf>,
    /// Whether every selected panel was printed.
    pub complete: bool,
}

impl PrintedFace {
    /// Decodes the panels printed (`printed`, as `Pr` letters) from the downloads received;
    /// a panel printed without a download is blank, and one printed twice (`Pr;yy`) prints
    /// the same download again.
    pub(crate) fn decode(printed: String, received: &[&DownloadBitmap], complete: bool) -> Self {
        let mut panels = Panels::blank();
        let mut seen: Vec<Panel> = Vec::with_capacity(received.len());
        for &d in received {
            let wanted = printed.contains(d.panel().letter());
            if wanted && !seen.contains(&d.panel()) {
                seen.push(d.panel());
                panels.plane_mut(face_panel(d.panel())).copy_from_slice(&d.densities());
            }
        }
        Self { panels, printed, png: None, complete }
    }

    /// Whether `panel` was printed.
    pub fn was_printed(&self, panel: Panel) -> bool {
        self.printed.contains(panel.letter())
    }

    /// The density of `panel` at face dot (x, y) (0 where it was not printed).
    pub fn at(&self, panel: Panel, x: u32, y: u32) -> u8 {
        self.panels.at(face_panel(panel), x, y)
    }

    /// Dots of `panel` with any ink.
    pub fn inked(&self, panel: Panel) -> usize {
        self.panels.inked(face_panel(panel))
    }

    /// The card as printed, landscape `IMAGE_WIDTH x IMAGE_HEIGHT` (card-face's composite:
    /// white stock, Y/M/C take away B/G/R, resin K black, the clear overlay changes nothing).
    pub fn rgb(&self) -> RgbImage {
        card_face::composite(&self.panels)
    }

    /// Writes the composite as an 8-bit RGB PNG.
    pub fn write_png(&self, path: &Path) -> io::Result<()> {
        self.rgb().save_with_format(path, card_face::image::ImageFormat::Png).map_err(io::Error::other)
    }
}

/// card-face's name of a ribbon panel.
fn face_panel(panel: Panel) -> card_face::Panel {
    match panel {
        Panel::Y => card_face::Panel::Y,
        Panel::M => card_face::Panel::M,
        Panel::C => card_face::Panel::C,
        Panel::K => card_face::Panel::K,
        Panel::O => card_face::Panel::O,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evolis::Levels;

    #[test]
    fn composite_and_png() {
        let mut k = vec![0u8; Levels::L2.panel_len()];
        k[0] = 0x80; // line 0, dot 0: landscape x 0, y 647 (bottom left)
        let k = DownloadBitmap::new(Panel::K, Levels::L2, k).expect("k");
        let face = PrintedFace::decode("k".into(), &[&k], true);
        assert!(face.was_printed(Panel::K) && !face.was_printed(Panel::Y));
        assert_eq!(face.inked(Panel::K), 1);
        assert_eq!(face.at(Panel::K, 0, IMAGE_HEIGHT as u32 - 1), 255);
        let rgb = face.rgb();
        assert_eq!(rgb.get_pixel(0, IMAGE_HEIGHT as u32 - 1).0, [0, 0, 0]);
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("face.png");
        face.write_png(&path).expect("written");
        let back = card_face::image::open(&path).expect("decoded").to_rgb8();
        assert_eq!(back, rgb);
    }
}
