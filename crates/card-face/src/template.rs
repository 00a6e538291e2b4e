//! Face templates: TOML files in `firmware-profiles/faces/`, parsed strictly (unknown keys are
//! errors) and validated at load so a bad template fails at start-up, naming file and field,
//! not on the first applicant's card. The schema is documented in the crate docs.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::TemplateError;

/// Width of an ID-1 card (ISO/IEC 7810), the card's long side.
pub const CARD_WIDTH_MM: f64 = 85.60;
/// Height of an ID-1 card, the card's short side.
pub const CARD_HEIGHT_MM: f64 = 53.98;
/// Millimetres in an inch.
pub const MM_PER_INCH: f64 = 25.4;
/// Canvas width in pixels: the card's long side with bleed, at the head's 300 dpi.
pub const CANVAS_WIDTH_PX: u32 = 1016;
/// Canvas height in pixels: the card's short side with bleed.
pub const CANVAS_HEIGHT_PX: u32 = 648;

const BUILTIN_3G: &str = include_str!("../../../firmware-profiles/faces/ssc-3g.toml");
const BUILTIN_2G: &str = include_str!("../../../firmware-profiles/faces/ssc-2g.toml");

/// A rectangle on the card, in millimetres from the card's top-left corner (landscape, the
/// printed side up, the chip on the left).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmRect {
    /// From the card's left edge.
    pub x_mm: f64,
    /// From the card's top edge.
    pub y_mm: f64,
    /// Width.
    pub width_mm: f64,
    /// Height.
    pub height_mm: f64,
}

impl MmRect {
    /// The rectangle grown by `margin` on every side.
    pub fn grown(&self, margin: f64) -> Self {
        Self {
            x_mm: self.x_mm - margin,
            y_mm: self.y_mm - margin,
            width_mm: self.width_mm + 2.0 * margin,
            height_mm: self.height_mm + 2.0 * margin,
        }
    }

    /// Whether the two share any area.
    pub fn intersects(&self, other: &Self) -> bool {
        self.x_mm < other.x_mm + other.width_mm
            && other.x_mm < self.x_mm + self.width_mm
            && self.y_mm < other.y_mm + other.height_mm
            && other.y_mm < self.y_mm + self.height_mm
    }

    fn within_card(&self) -> bool {
        self.x_mm >= 0.0
            && self.y_mm >= 0.0
            && self.x_mm + self.width_mm <= CARD_WIDTH_MM
            && self.y_mm + self.height_mm <= CARD_HEIGHT_MM
    }
}

/// A value printed on the face, taken from [`crate::FaceData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// 姓名.
    Name,
    /// 社会保障号码 (the resident ID number).
    Ssn,
    /// 社会保障卡号.
    CardNumber,
    /// 发卡日期.
    IssueDate,
    /// 性别 (2nd generation).
    Sex,
    /// 民族 (2nd generation).
    Ethnicity,
    /// 有效期限 (2nd generation).
    ExpiryDate,
}

impl Field {
    /// The key used in templates.
    pub fn key(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Ssn => "ssn",
            Self::CardNumber => "card_number",
            Self::IssueDate => "issue_date",
            Self::Sex => "sex",
            Self::Ethnicity => "ethnicity",
            Self::ExpiryDate => "expiry_date",
        }
    }

    /// Whether the value is a date (formatted with a text field's `format`).
    pub fn is_date(self) -> bool {
        matches!(self, Self::IssueDate | Self::ExpiryDate)
    }
}

/// How the 1016 x 648 canvas sits on the card.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canvas {
    /// Canvas width in pixels (the card's long side): must be [`CANVAS_WIDTH_PX`].
    pub width_px: u32,
    /// Canvas height in pixels: must be [`CANVAS_HEIGHT_PX`].
    pub height_px: u32,
    /// Resolution: must be 300, the head's.
    pub dpi: u32,
    /// Where the card's top-left corner lies on the canvas; the rest is bleed.
    pub card_origin_px: [f64; 2],
}

/// Where the CJK font is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FontSpec {
    /// The font file (a `.ttc` collection or a `.ttf`/`.otf`).
    pub path: String,
    /// The face in a collection.
    #[serde(default)]
    pub index: u32,
    /// The Debian package that ships it, named in the error when it is missing.
    pub debian_package: String,
}

/// The overlay (varnish) mask.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// The hole is the chip area grown by this, so the varnish spares the whole module plate.
    pub chip_margin_mm: f64,
    /// A strip along the card's edges left unvarnished (0: varnish to the edge and bleed).
    #[serde(default)]
    pub edge_margin_mm: f64,
}

/// One line of text: an optional label and the value of a field, in black on the K panel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextField {
    /// The value printed.
    pub field: Field,
    /// Printed before the value (姓名, 社会保障号码...), if the stock does not carry it.
    #[serde(default)]
    pub label: Option<String>,
    /// Left edge of the label (or of the value when there is no label).
    pub x_mm: f64,
    /// Left edge of the value, so values line up in a column; default: after the label
    /// and one space.
    #[serde(default)]
    pub value_x_mm: Option<f64>,
    /// Baseline.
    pub baseline_mm: f64,
    /// Type size in points (1 pt = 1/72 inch, the em square).
    pub size_pt: f64,
    /// Widest the value may be; a wider value is condensed horizontally down to
    /// `MIN_CONDENSE` of its width, then refused.
    #[serde(default)]
    pub max_width_mm: Option<f64>,
    /// For dates: `{yyyy}`, `{mm}` and `{dd}` are replaced; default `{yyyy}年{mm}月`.
    #[serde(default)]
    pub format: Option<String>,
}

/// A Code 128 barcode of a field, in black on the K panel.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Barcode {
    /// The value encoded.
    pub field: Field,
    /// Left edge of the quiet zone.
    pub x_mm: f64,
    /// Top of the bars.
    pub y_mm: f64,
    /// Bar height.
    pub height_mm: f64,
    /// Width of one module in dots (2 or 3 prints cleanly at 300 dpi).
    pub module_px: u32,
    /// Quiet zone each side, in modules (10 by the standard).
    pub quiet_modules: u32,
}

/// The contactless symbol (four arcs), in black on the K panel; 3rd generation cards.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactlessMark {
    /// Left edge of its square.
    pub x_mm: f64,
    /// Top edge of its square.
    pub y_mm: f64,
    /// Side of its square.
    pub size_mm: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    id: String,
    description: String,
    generation: u8,
    canvas: Canvas,
    font: FontSpec,
    #[serde(default)]
    photo: Option<MmRect>,
    chip: MmRect,
    overlay: Overlay,
    #[serde(default)]
    text: Vec<TextField>,
    #[serde(default)]
    barcode: Option<Barcode>,
    #[serde(default)]
    contactless_mark: Option<ContactlessMark>,
}

/// A validated face template. Built only by [`Template::load`], [`Template::parse`] or
/// [`Template::builtin`], which check everything the layout can check before any data is
/// seen; what depends on the data (the width of a name) is checked at render.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    file: String,
    id: String,
    description: String,
    generation: u8,
    canvas: Canvas,
    font: FontSpec,
    photo: Option<MmRect>,
    chip: MmRect,
    overlay: Overlay,
    text: Vec<TextField>,
    barcode: Option<Barcode>,
    contactless_mark: Option<ContactlessMark>,
}

impl Template {
    /// Reads and validates a template file.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| TemplateError::Read { file: file.clone(), source })?;
        Self::parse(&text, &file)
    }

    /// A template shipped with the crate (`ssc-3g`, `ssc-2g`), copied from
    /// `firmware-profiles/faces/` at build time so the station runs without the profile area.
    pub fn builtin(id: &str) -> Result<Self, TemplateError> {
        match id {
            "ssc-3g" => Self::parse(BUILTIN_3G, "firmware-profiles/faces/ssc-3g.toml"),
            "ssc-2g" => Self::parse(BUILTIN_2G, "firmware-profiles/faces/ssc-2g.toml"),
            other => Err(TemplateError::UnknownBuiltin(other.to_owned())),
        }
    }

    /// Parses and validates template text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, TemplateError> {
        let raw: RawTemplate = toml::from_str(text)
            .map_err(|e| TemplateError::Syntax { file: file.to_owned(), message: e.to_string() })?;
        let template = Self {
            file: file.to_owned(),
            id: raw.id,
            description: raw.description,
            generation: raw.generation,
            canvas: raw.canvas,
            font: raw.font,
            photo: raw.photo,
            chip: raw.chip,
            overlay: raw.overlay,
            text: raw.text,
            barcode: raw.barcode,
            contactless_mark: raw.contactless_mark,
        };
        template.validate()?;
        Ok(template)
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> TemplateError {
        TemplateError::Invalid { file: self.file.clone(), field: field.into(), message: message.into() }
    }

    fn check_rect(&self, field: &str, rect: &MmRect) -> Result<(), TemplateError> {
        let values = [rect.x_mm, rect.y_mm, rect.width_mm, rect.height_mm];
        if values.iter().any(|v| !v.is_finite()) || rect.width_mm <= 0.0 || rect.height_mm <= 0.0 {
            return Err(self.invalid(field, "needs finite values and a positive width and height"));
        }
        if !rect.within_card() {
            return Err(self.invalid(
                field,
                format!("{rect:?} reaches off the {CARD_WIDTH_MM} x {CARD_HEIGHT_MM} mm card"),
            ));
        }
        Ok(())
    }

    fn check_clear_of_hole(&self, field: &str, rect: &MmRect) -> Result<(), TemplateError> {
        if rect.intersects(&self.overlay_hole()) {
            return Err(self.invalid(
                field,
                format!("{rect:?} overlaps the chip and its overlay hole {:?}", self.overlay_hole()),
            ));
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), TemplateError> {
        if self.id.trim().is_empty() {
            return Err(self.invalid("id", "is empty"));
        }
        if !matches!(self.generation, 2 | 3) {
            return Err(self.invalid("generation", "must be 2 or 3"));
        }
        let c = &self.canvas;
        if c.width_px != CANVAS_WIDTH_PX || c.height_px != CANVAS_HEIGHT_PX {
            return Err(self.invalid(
                "canvas",
                format!(
                    "{} x {} px: the printed face is a landscape canvas of {CANVAS_WIDTH_PX} x {CANVAS_HEIGHT_PX}",
                    c.width_px, c.height_px,
                ),
            ));
        }
        if c.dpi != 300 {
            return Err(self.invalid("canvas.dpi", "the print head is 300 dpi"));
        }
        let [ox, oy] = c.card_origin_px;
        let card_w = CARD_WIDTH_MM * f64::from(c.dpi) / MM_PER_INCH;
        let card_h = CARD_HEIGHT_MM * f64::from(c.dpi) / MM_PER_INCH;
        if !(0.0..=f64::from(c.width_px) - card_w).contains(&ox)
            || !(0.0..=f64::from(c.height_px) - card_h).contains(&oy)
        {
            return Err(self.invalid("canvas.card_origin_px", "puts part of the card off the canvas"));
        }
        if self.font.path.trim().is_empty() {
            return Err(self.invalid("font.path", "is empty"));
        }
        if self.font.debian_package.trim().is_empty() {
            return Err(self.invalid("font.debian_package", "is empty"));
        }
        self.check_rect("chip", &self.chip)?;
        let o = &self.overlay;
        if !(0.0..=5.0).contains(&o.chip_margin_mm) {
            return Err(self.invalid("overlay.chip_margin_mm", "must be between 0 and 5 mm"));
        }
        if !(0.0..=5.0).contains(&o.edge_margin_mm) {
            return Err(self.invalid("overlay.edge_margin_mm", "must be between 0 and 5 mm"));
        }
        if let Some(photo) = &self.photo {
            self.check_rect("photo", photo)?;
            self.check_clear_of_hole("photo", photo)?;
        }
        let mut seen = HashSet::new();
        for (i, t) in self.text.iter().enumerate() {
            let at = |name: &str| format!("text[{i}].{name}");
            if !seen.insert(t.field) {
                return Err(self.invalid(at("field"), format!("{} is printed twice", t.field.key())));
            }
            if !(4.0..=24.0).contains(&t.size_pt) {
                return Err(self.invalid(at("size_pt"), "must be between 4 and 24 pt"));
            }
            let in_x = |v: f64| v.is_finite() && (0.0..CARD_WIDTH_MM).contains(&v);
            if !in_x(t.x_mm) {
                return Err(self.invalid(at("x_mm"), "is off the card"));
            }
            if t.value_x_mm.is_some_and(|v| !in_x(v) || v < t.x_mm) {
                return Err(self.invalid(at("value_x_mm"), "is off the card or left of x_mm"));
            }
            let em_mm = t.size_pt / 72.0 * MM_PER_INCH;
            if !t.baseline_mm.is_finite() || t.baseline_mm < em_mm || t.baseline_mm > CARD_HEIGHT_MM {
                return Err(self.invalid(at("baseline_mm"), "puts the line off the card"));
            }
            if t.max_width_mm.is_some_and(|w| !w.is_finite() || w <= 0.0) {
                return Err(self.invalid(at("max_width_mm"), "must be positive"));
            }
            if t.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
                return Err(self.invalid(at("label"), "is empty: leave it out instead"));
            }
            match (&t.format, t.field.is_date()) {
                (Some(_), false) => {
                    return Err(self.invalid(at("format"), "only dates (issue_date, expiry_date) take one"))
                }
                (Some(f), true) if !["{yyyy}", "{mm}", "{dd}"].iter().any(|p| f.contains(p)) => {
                    return Err(self.invalid(at("format"), "has none of {yyyy}, {mm}, {dd}"))
                }
                _ => {}
            }
        }
        if let Some(b) = &self.barcode {
            if !(1..=6).contains(&b.module_px) {
                return Err(self.invalid("barcode.module_px", "must be 1 to 6 dots"));
            }
            if b.quiet_modules > 20 {
                return Err(self.invalid("barcode.quiet_modules", "must be at most 20"));
            }
            let probe = MmRect { x_mm: b.x_mm, y_mm: b.y_mm, width_mm: 1.0, height_mm: b.height_mm };
            self.check_rect("barcode", &probe)?;
            self.check_clear_of_hole("barcode", &probe)?;
        }
        if let Some(m) = &self.contactless_mark {
            let rect = MmRect { x_mm: m.x_mm, y_mm: m.y_mm, width_mm: m.size_mm, height_mm: m.size_mm };
            self.check_rect("contactless_mark", &rect)?;
            self.check_clear_of_hole("contactless_mark", &rect)?;
        }
        Ok(())
    }

    /// The file it was read from (or the name given to [`Template::parse`]).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Its id (`ssc-3g`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What it is for.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Card generation, 2 or 3.
    pub fn generation(&self) -> u8 {
        self.generation
    }

    /// The canvas.
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// The font.
    pub fn font(&self) -> &FontSpec {
        &self.font
    }

    /// The photo box, if the face has a photo.
    pub fn photo(&self) -> Option<&MmRect> {
        self.photo.as_ref()
    }

    /// The chip's contact area.
    pub fn chip(&self) -> &MmRect {
        &self.chip
    }

    /// The overlay settings.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// The chip area grown by the overlay margin: no varnish, ink or resin goes there.
    pub fn overlay_hole(&self) -> MmRect {
        self.chip.grown(self.overlay.chip_margin_mm)
    }

    /// The text lines.
    pub fn text(&self) -> &[TextField] {
        &self.text
    }

    /// The barcode, if any.
    pub fn barcode(&self) -> Option<&Barcode> {
        self.barcode.as_ref()
    }

    /// The contactless mark, if any.
    pub fn contactless_mark(&self) -> Option<&ContactlessMark> {
        self.contactless_mark.as_ref()
    }

    /// Pixels per millimetre on the canvas.
    pub fn px_per_mm(&self) -> f64 {
        f64::from(self.canvas.dpi) / MM_PER_INCH
    }

    /// A card position in mm as a canvas position in (fractional) pixels.
    pub fn to_px(&self, x_mm: f64, y_mm: f64) -> (f64, f64) {
        let [ox, oy] = self.canvas.card_origin_px;
        (ox + x_mm * self.px_per_mm(), oy + y_mm * self.px_per_mm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles/faces").join(name);
        std::fs::read_to_string(path).expect("template file")
    }

    fn invalid_field(text: &str) -> String {
        match Template::parse(text, "t.toml") {
            Err(TemplateError::Invalid { file, field, .. }) => {
                assert_eq!(file, "t.toml");
                field
            }
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn shipped_templates_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles/faces");
        let t3 = Template::load(&dir.join("ssc-3g.toml")).expect("3g");
        assert_eq!((t3.id(), t3.generation()), ("ssc-3g", 3));
        assert!(t3.contactless_mark().is_some());
        let fields: Vec<_> = t3.text().iter().map(|t| t.field).collect();
        assert_eq!(fields, [Field::Name, Field::Ssn, Field::CardNumber, Field::IssueDate]);
        let t2 = Template::load(&dir.join("ssc-2g.toml")).expect("2g");
        assert_eq!(t2.generation(), 2);
        assert!(t2.contactless_mark().is_none());
        for f in [Field::Sex, Field::Ethnicity, Field::ExpiryDate] {
            assert!(t2.text().iter().any(|t| t.field == f), "{f:?}");
        }
        assert_eq!(Template::builtin("ssc-3g").expect("builtin").text(), t3.text());
        assert!(matches!(Template::builtin("ssc-4g"), Err(TemplateError::UnknownBuiltin(_))));
        let missing = Template::load(&dir.join("nope.toml")).expect_err("missing");
        assert!(missing.to_string().contains("nope.toml"), "{missing}");
    }

    #[test]
    fn iso_7816_2_chip_and_hole() {
        let t = Template::builtin("ssc-3g").expect("3g");
        // ISO/IEC 7816-2: contacts C1..C4 from 10.25 mm, C5..C8 up to 19.87 mm from the left
        // edge; C1 from 19.23 mm, C4 down to 28.55 mm from the top edge.
        let c = t.chip();
        assert!((c.x_mm - 10.25).abs() < 1e-9 && (c.y_mm - 19.23).abs() < 1e-9);
        assert!((c.x_mm + c.width_mm - 19.87).abs() < 1e-9 && (c.y_mm + c.height_mm - 28.55).abs() < 1e-9);
        // The hole covers a typical 8-contact module plate (about 12.6 x 11.4 mm around them).
        let hole = t.overlay_hole();
        assert!(hole.x_mm <= 8.8 && hole.x_mm + hole.width_mm >= 21.4);
        assert!(hole.y_mm <= 18.2 && hole.y_mm + hole.height_mm >= 29.6);
    }

    #[test]
    fn errors_name_file_and_field() {
        let good = shipped("ssc-3g.toml");
        let bad_size = good.replacen("size_pt = 8.0", "size_pt = 80.0", 1);
        assert_eq!(invalid_field(&bad_size), "text[0].size_pt");

        let e = Template::parse(&bad_size, "t.toml").expect_err("bad").to_string();
        assert!(e.starts_with("t.toml: text[0].size_pt: "), "{e}");

        // A photo at (4 mm, 12 mm) from the left edge would cover the chip.
        let over_chip = good.replacen("x_mm = 61.6", "x_mm = 4.0", 1);
        assert_eq!(invalid_field(&over_chip), "photo");

        let small_canvas = good.replacen("width_px = 1016", "width_px = 1011", 1);
        assert_eq!(invalid_field(&small_canvas), "canvas");

        let twice = good.replacen("field = \"ssn\"", "field = \"name\"", 1);
        assert_eq!(invalid_field(&twice), "text[1].field");

        let format_on_name = good.replacen("label = \"姓名\"", "label = \"姓名\"\nformat = \"{yyyy}\"", 1);
        assert_eq!(invalid_field(&format_on_name), "text[0].format");

        let unknown_key = good.replacen("size_pt = 8.0", "size_pt = 8.0\ncolour = \"red\"", 1);
        match Template::parse(&unknown_key, "t.toml") {
            Err(TemplateError::Syntax { file, message }) => {
                assert_eq!(file, "t.toml");
                assert!(message.contains("colour"), "{message}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        let unknown_field = good.replacen("field = \"ssn\"", "field = \"blood_type\"", 1);
        let e = Template::parse(&unknown_field, "t.toml").expect_err("unknown field").to_string();
        assert!(e.contains("blood_type") && e.starts_with("t.toml"), "{e}");
    }

    #[test]
    fn mm_to_px() {
        let t = Template::builtin("ssc-3g").expect("3g");
        let (x, y) = t.to_px(CARD_WIDTH_MM, CARD_HEIGHT_MM);
        let [ox, oy] = t.canvas().card_origin_px;
        assert!((x - ox - 1011.02).abs() < 0.01 && (y - oy - 637.56).abs() < 0.01, "{x} {y}");
        assert!(x <= 1016.0 && y <= 648.0);
    }
}
