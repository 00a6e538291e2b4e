//! The face of a social-security card, from a data template to ribbon panels and back.
//!
//! ```text
//! Template (TOML) + FaceFont + FaceData --render--> Face (RGB canvas, black mask, overlay mask)
//!   --separate--> Panels (Y M C K O densities) --> the printer driver (Evolis: `Db` downloads)
//!   Panels --composite--> RgbImage (the card as printed: the preview, the printer simulator)
//! ```
//!
//! - [`render`] draws the photo (colour), the text lines, an optional Code 128 barcode and the
//!   contactless mark (black) where the [`Template`] puts them, and refuses a value that
//!   would run off the card, into the chip, the photo or another line, or that the font
//!   cannot draw; it never prints a face wrong.
//! - [`separate`]: Y/M/C density = 255 - B/G/R; black text and barcodes go to the resin K
//!   panel only (no dye under them); O = varnish everywhere except the chip hole.
//! - [`composite`] puts panels back together as the card would look.
//!
//! Panels are in no printer's format: a density 0..=255 a canvas pixel, row after row. How
//! a printer lays them on its ribbon (the Evolis panel's orientation, its levels and bit
//! packing) is its driver's business (`drivers/evolis`).
//!
//! # Geometry
//!
//! The canvas is landscape, 1016 x 648 px at 300 dpi (86.02 x 54.86 mm): the card (85.60 x
//! 53.98 mm = 1011 x 638 px) placed at `canvas.card_origin_px`, the rest bleed.
//!
//! Template positions are millimetres from the card's top-left corner, looking at the printed
//! side with the chip on the left. On the social-security card the chip, photo and data are on
//! one side (the emblem side is pre-printed), so the photo sits on the right: printer.md's
//! photo "at about (4 mm, 12 mm)" read from the left edge would cover the chip, which
//! validation refuses.
//!
//! The chip: ISO/IEC 7816-2 puts the contacts within 10.25-19.87 mm from the left edge and
//! 19.23-28.55 mm from the top edge (C1 top-left, C8 bottom-right); the module plate around
//! them is about 12.6 x 11.4 mm and vendor-dependent, hence `overlay.chip_margin_mm` (2.5 mm
//! in the shipped templates: hole 7.75-22.37 x 16.73-31.05 mm). No ink, resin or element
//! may touch the hole.
//!
//! # Template schema (`firmware-profiles/faces/*.toml`)
//!
//! Unknown keys are errors; every error names the file and the field (`text[2].size_pt`).
//!
//! | key | meaning |
//! |---|---|
//! | `id`, `description` | name (`ssc-3g`) and what it is for |
//! | `generation` | 2 or 3 |
//! | `[canvas]` `width_px`, `height_px`, `dpi`, `card_origin_px = [x, y]` | must be 1016, 648, 300; where the card's corner lies on the canvas |
//! | `[font]` `path`, `index`, `debian_package` | CJK font file, face in the collection, package named when it is missing |
//! | `[photo]` `x_mm`, `y_mm`, `width_mm`, `height_mm` | photo box (optional section); the photo is centre-cropped to its aspect |
//! | `[chip]` `x_mm`, `y_mm`, `width_mm`, `height_mm` | the contact area |
//! | `[overlay]` `chip_margin_mm`, `edge_margin_mm` | hole = chip grown by the margin; optional unvarnished strip along the card's edge |
//! | `[[text]]` `field`, `label`, `x_mm`, `value_x_mm`, `baseline_mm`, `size_pt`, `max_width_mm`, `format` | one line: `field` is `name`, `ssn`, `card_number`, `issue_date`, `sex`, `ethnicity` or `expiry_date`; optional label at `x_mm`, value at `value_x_mm` (default: after the label and a space); a wider value is condensed to at least [`MIN_CONDENSE`], then refused; dates use `format` with `{yyyy}`, `{mm}`, `{dd}` (default `{yyyy}年{mm}月`) |
//! | `[barcode]` `field`, `x_mm`, `y_mm`, `height_mm`, `module_px`, `quiet_modules` | optional Code 128 (set B, or C for even digit strings) on K |
//! | `[contactless_mark]` `x_mm`, `y_mm`, `size_mm` | optional four-arc symbol on K (3rd generation) |
//!
//! # Font
//!
//! The shipped templates use AR PL UMing CN (a Ming, i.e. Song-style, face) from the Debian
//! package [`DEBIAN_FONT_PACKAGE`] at [`DEFAULT_FONT_PATH`]; [`FaceFont::for_template`] takes
//! an override path. A missing file is [`FontError::Missing`], naming the package.
//!
//! ```no_run
//! use card_face::{FaceData, Renderer, Template};
//!
//! let renderer = Renderer::new(Template::builtin("ssc-3g")?, None)?;
//! let data = FaceData {
//!     name: "张三".into(),
//!     ssn: "11010519491231002X".into(),
//!     card_number: "X00000019".into(),
//!     issue_date: "2026-11-22".into(),
//!     ..FaceData::default()
//! };
//! let panels = renderer.panels(&data)?; // Y, M, C, K, O
//! # Ok::<(), card_face::FaceError>(())
//! ```
#![forbid(unsafe_code)]

pub mod code128;
mod error;
mod font;
mod panels;
mod render;
mod template;

use std::path::Path;

pub use error::{FaceError, FontError, TemplateError};
pub use font::{FaceFont, DEBIAN_FONT_PACKAGE, DEFAULT_FONT_PATH};
/// The image crate, re-exported so callers build [`Photo::Rgb`] with the same version.
pub use image;
pub use panels::{composite, separate, Panel, Panels, PANEL_DOTS, PRINT_ORDER};
pub use render::{render, Element, Face, FaceData, Mask, Photo, Placed, PxRect, MIN_CONDENSE};
pub use template::{
    Barcode, Canvas, ContactlessMark, Field, FontSpec, MmRect, Overlay, Template, TextField,
    CANVAS_HEIGHT_PX, CANVAS_WIDTH_PX, CARD_HEIGHT_MM, CARD_WIDTH_MM, MM_PER_INCH,
};

/// A template with its font loaded: what a station keeps to print many cards.
#[derive(Debug)]
pub struct Renderer {
    template: Template,
    font: FaceFont,
}

impl Renderer {
    /// Loads the template's font, or the one at `font_path` when given.
    pub fn new(template: Template, font_path: Option<&Path>) -> Result<Self, FaceError> {
        let font = FaceFont::for_template(&template, font_path)?;
        Ok(Self { template, font })
    }

    /// Reads a template file, then as [`Renderer::new`].
    pub fn open(template_path: &Path, font_path: Option<&Path>) -> Result<Self, FaceError> {
        Self::new(Template::load(template_path)?, font_path)
    }

    /// The template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The font.
    pub fn font(&self) -> &FaceFont {
        &self.font
    }

    /// See [`render`].
    pub fn render(&self, data: &FaceData) -> Result<Face, FaceError> {
        render(&self.template, &self.font, data)
    }

    /// Render and separate: the panels of one face.
    pub fn panels(&self, data: &FaceData) -> Result<Panels, FaceError> {
        Ok(separate(&self.render(data)?))
    }
}
