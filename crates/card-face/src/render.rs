//! Layout: the applicant's data drawn onto the landscape canvas where the template puts it.
//! Text, barcode and the contactless mark are black resin (a [`Mask`] for the K panel, also
//! drawn black on the RGB preview); the photo is colour for the dye panels.

use ab_glyph::{point, Font, PxScale, ScaleFont};
use image::{imageops, RgbImage};

use crate::template::{Field, MmRect, TextField};
use crate::{code128, FaceError, FaceFont, Template};

/// How far a too-wide value may be condensed (horizontal scale) before it is refused.
pub const MIN_CONDENSE: f64 = 0.6;

/// Glyph coverage from which a dot is inked: K is 1 bit a dot, so text is thresholded.
const COVERAGE_THRESHOLD: f32 = 0.5;

/// The applicant's photo.
#[derive(Debug, Clone, PartialEq)]
pub enum Photo {
    /// Decoded pixels.
    Rgb(RgbImage),
    /// A JPEG or PNG file's bytes (what the photo crate and the archive keep).
    Encoded(Vec<u8>),
}

/// What is printed on one card. Dates are `YYYYMMDD`, `YYYY-MM-DD`, `YYYYMM` or `YYYY-MM`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaceData {
    /// 姓名.
    pub name: String,
    /// 社会保障号码.
    pub ssn: String,
    /// 社会保障卡号.
    pub card_number: String,
    /// 发卡日期.
    pub issue_date: String,
    /// 性别, as printed (男, 女): 2nd generation.
    pub sex: Option<String>,
    /// 民族, as printed (汉): 2nd generation.
    pub ethnicity: Option<String>,
    /// 有效期限: 2nd generation.
    pub expiry_date: Option<String>,
    /// The photo; `None` leaves the box blank (children under about 7 may have none). Ignored
    /// when the template has no photo box.
    pub photo: Option<Photo>,
}

impl FaceData {
    fn raw(&self, field: Field) -> Option<&str> {
        let s = match field {
            Field::Name => Some(&self.name),
            Field::Ssn => Some(&self.ssn),
            Field::CardNumber => Some(&self.card_number),
            Field::IssueDate => Some(&self.issue_date),
            Field::Sex => self.sex.as_ref(),
            Field::Ethnicity => self.ethnicity.as_ref(),
            Field::ExpiryDate => self.expiry_date.as_ref(),
        }?;
        let s = s.trim();
        (!s.is_empty()).then_some(s)
    }
}

/// A rectangle of canvas pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PxRect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

impl PxRect {
    /// Whether pixel (x, y) is inside.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.width && y < self.y + self.height
    }

    /// Whether the two share a pixel.
    pub fn intersects(&self, o: &Self) -> bool {
        self.x < o.x + o.width
            && o.x < self.x + self.width
            && self.y < o.y + o.height
            && o.y < self.y + self.height
    }

    fn from_bounds(x0: i64, y0: i64, x1: i64, y1: i64) -> Self {
        let c = |v: i64| v.max(0) as u32;
        Self { x: c(x0), y: c(y0), width: c(x1 - x0), height: c(y1 - y0) }
    }
}

/// What was drawn where (the inked extent), for checks and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// The label of a text line.
    Label(Field),
    /// The value of a text line.
    Value(Field),
    /// The photo box.
    Photo,
    /// The barcode, quiet zones included.
    Barcode,
    /// The contactless mark.
    ContactlessMark,
}

/// One drawn element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// What.
    pub element: Element,
    /// Where, in canvas pixels.
    pub rect: PxRect,
}

/// One bit a canvas pixel.
#[derive(Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    bits: Vec<bool>,
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mask({}x{}, {} set)", self.width, self.height, self.count())
    }
}

impl Mask {
    /// All clear or all set.
    pub fn new(width: u32, height: u32, value: bool) -> Self {
        Self { width, height, bits: vec![value; width as usize * height as usize] }
    }

    /// Columns.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The bit at (x, y); `false` outside.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.bits[(y * self.width + x) as usize]
    }

    /// Sets the bit at (x, y); ignored outside.
    pub fn set(&mut self, x: u32, y: u32, value: bool) {
        if x < self.width && y < self.height {
            self.bits[(y * self.width + x) as usize] = value;
        }
    }

    /// Bits set.
    pub fn count(&self) -> usize {
        self.bits.iter().filter(|&&b| b).count()
    }

    /// Bits set inside `rect`.
    pub fn count_in(&self, rect: &PxRect) -> usize {
        (rect.y..rect.y + rect.height)
            .flat_map(|y| (rect.x..rect.x + rect.width).map(move |x| (x, y)))
            .filter(|&(x, y)| self.get(x, y))
            .count()
    }

    fn fill(&mut self, rect: &PxRect, value: bool) {
        for y in rect.y..rect.y + rect.height {
            for x in rect.x..rect.x + rect.width {
                self.set(x, y, value);
            }
        }
    }
}

/// A rendered face: the landscape canvas as the card should look, and the masks that
/// decide the resin and varnish panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// The canvas, `CANVAS_WIDTH_PX` x `CANVAS_HEIGHT_PX`, white where nothing is printed;
    /// black text is drawn (0, 0, 0) here too, so this is the preview.
    pub rgb: RgbImage,
    /// Pixels of black text, barcode and mark: printed with resin K only, no dye under them.
    pub black: Mask,
    /// Pixels the overlay varnish covers: all but the chip hole (and an edge strip, if set).
    pub overlay: Mask,
    /// What was drawn where.
    pub placed: Vec<Placed>,
}

impl Face {
    /// The first drawn element of that kind.
    pub fn placed(&self, element: Element) -> Option<PxRect> {
        self.placed.iter().find(|p| p.element == element).map(|p| p.rect)
    }
}

struct Canvas<'a> {
    template: &'a Template,
    card: PxRect,
    keep_out: Vec<(String, PxRect)>,
    face: Face,
}

impl Canvas<'_> {
    fn px(&self, r: &MmRect) -> PxRect {
        let (x0, y0) = self.template.to_px(r.x_mm, r.y_mm);
        let (x1, y1) = self.template.to_px(r.x_mm + r.width_mm, r.y_mm + r.height_mm);
        PxRect::from_bounds(x0.round() as i64, y0.round() as i64, x1.round() as i64, y1.round() as i64)
    }

    /// Refuses a rectangle off the card or over something already there.
    fn check_room(&self, field: &'static str, rect: &PxRect) -> Result<(), FaceError> {
        let card = self.card;
        if rect.x < card.x
            || rect.y < card.y
            || rect.x + rect.width > card.x + card.width
            || rect.y + rect.height > card.y + card.height
        {
            return Err(FaceError::DoesNotFit { field, message: format!("{rect:?} runs off the card") });
        }
        if let Some((what, _)) = self.keep_out.iter().find(|(_, r)| r.intersects(rect)) {
            return Err(FaceError::DoesNotFit { field, message: format!("{rect:?} runs into {what}") });
        }
        Ok(())
    }

    fn ink(&mut self, x: u32, y: u32) {
        self.face.black.set(x, y, true);
        if x < self.face.rgb.width() && y < self.face.rgb.height() {
            self.face.rgb.put_pixel(x, y, image::Rgb([0, 0, 0]));
        }
    }

    fn place(&mut self, element: Element, what: String, rect: PxRect) {
        self.keep_out.push((what, rect));
        self.face.placed.push(Placed { element, rect });
    }
}

/// Renders one face. Nothing is drawn unless everything fits: a value that runs into the
/// chip, the photo or another line is refused rather than printed wrong.
pub fn render(template: &Template, font: &FaceFont, data: &FaceData) -> Result<Face, FaceError> {
    let c = template.canvas();
    let (w, h) = (c.width_px, c.height_px);
    let full = MmRect {
        x_mm: 0.0,
        y_mm: 0.0,
        width_mm: crate::template::CARD_WIDTH_MM,
        height_mm: crate::template::CARD_HEIGHT_MM,
    };
    let mut canvas = Canvas {
        template,
        card: PxRect::default(),
        keep_out: Vec::new(),
        face: Face {
            rgb: RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255])),
            black: Mask::new(w, h, false),
            overlay: Mask::new(w, h, true),
            placed: Vec::new(),
        },
    };
    canvas.card = canvas.px(&full);

    let hole = canvas.px(&template.overlay_hole());
    canvas.keep_out.push(("the chip".into(), hole));
    let edge = template.overlay().edge_margin_mm;
    if edge > 0.0 {
        let inner = canvas.px(&full.grown(-edge));
        let mut overlay = Mask::new(w, h, false);
        overlay.fill(&inner, true);
        canvas.face.overlay = overlay;
    }
    canvas.face.overlay.fill(&hole, false);

    if let Some(photo_box) = template.photo() {
        let rect = canvas.px(photo_box);
        if let Some(photo) = &data.photo {
            draw_photo(&mut canvas.face.rgb, &rect, photo)?;
        }
        canvas.place(Element::Photo, "the photo".into(), rect);
    }
    if let Some(mark) = template.contactless_mark() {
        let rect = canvas.px(&MmRect {
            x_mm: mark.x_mm,
            y_mm: mark.y_mm,
            width_mm: mark.size_mm,
            height_mm: mark.size_mm,
        });
        canvas.check_room("contactless_mark", &rect)?;
        draw_contactless_mark(&mut canvas, &rect);
        canvas.place(Element::ContactlessMark, "the contactless mark".into(), rect);
    }
    if let Some(b) = template.barcode() {
        let field = b.field.key();
        let value = field_value(template, data, b.field, None)?;
        let modules = code128::modules(&value).map_err(|e| FaceError::BadValue {
            field,
            value: value.clone(),
            message: e.to_string(),
        })?;
        let (x0, y0) = template.to_px(b.x_mm, b.y_mm);
        let (x0, y0) = (x0.round() as u32, y0.round() as u32);
        let height = (b.height_mm * template.px_per_mm()).round() as u32;
        let width = (modules.len() as u32 + 2 * b.quiet_modules) * b.module_px;
        let rect = PxRect { x: x0, y: y0, width, height };
        canvas.check_room(field, &rect)?;
        let bars_x = x0 + b.quiet_modules * b.module_px;
        for (i, _) in modules.iter().enumerate().filter(|(_, &bar)| bar) {
            for dx in 0..b.module_px {
                for y in y0..y0 + height {
                    canvas.ink(bars_x + i as u32 * b.module_px + dx, y);
                }
            }
        }
        canvas.place(Element::Barcode, "the barcode".into(), rect);
    }
    for line in template.text() {
        draw_text_line(&mut canvas, font, data, line)?;
    }
    Ok(canvas.face)
}

fn field_value(
    template: &Template,
    data: &FaceData,
    field: Field,
    format: Option<&str>,
) -> Result<String, FaceError> {
    let key = field.key();
    let raw = data
        .raw(field)
        .ok_or_else(|| FaceError::MissingValue { template: template.id().into(), field: key })?;
    if let Some(ch) = raw.chars().find(|c| c.is_control()) {
        return Err(FaceError::BadValue {
            field: key,
            value: raw.into(),
            message: format!("control character U+{:04X}", u32::from(ch)),
        });
    }
    if !field.is_date() {
        return Ok(raw.to_owned());
    }
    let bad = |message: &str| FaceError::BadValue { field: key, value: raw.into(), message: message.into() };
    let digits: String = raw.chars().filter(|c| *c != '-').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 6 | 8) {
        return Err(bad("expected YYYYMMDD, YYYY-MM-DD, YYYYMM or YYYY-MM"));
    }
    let (yyyy, mm, dd) = (&digits[..4], &digits[4..6], digits.get(6..8));
    if !(1..=12).contains(&mm.parse::<u8>().unwrap_or(0)) {
        return Err(bad("month out of range"));
    }
    if dd.is_some_and(|d| !(1..=31).contains(&d.parse::<u8>().unwrap_or(0))) {
        return Err(bad("day out of range"));
    }
    let format = format.unwrap_or("{yyyy}年{mm}月");
    if format.contains("{dd}") && dd.is_none() {
        return Err(bad("the template prints the day but the date has none"));
    }
    Ok(format.replace("{yyyy}", yyyy).replace("{mm}", mm).replace("{dd}", dd.unwrap_or("")))
}

fn scale(font: &FaceFont, size_pt: f64, dpi: u32, condense: f64) -> PxScale {
    let f = font.font();
    let em_px = size_pt * f64::from(dpi) / 72.0;
    let upem = f64::from(f.units_per_em().unwrap_or(1000.0));
    let y = (em_px * f64::from(f.height_unscaled()) / upem) as f32;
    PxScale { x: y * condense as f32, y }
}

fn advance(font: &FaceFont, scale: PxScale, text: &str) -> f32 {
    let sf = font.font().as_scaled(scale);
    let mut width = 0.0;
    let mut prev = None;
    for ch in text.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            width += sf.kern(p, id);
        }
        width += sf.h_advance(id);
        prev = Some(id);
    }
    width
}

/// Inked dots of a line of text, and their extent (`None` for blanks).
struct Ink {
    dots: Vec<(u32, u32)>,
    extent: Option<PxRect>,
}

/// The inked dots of `text` from (x, baseline).
fn rasterise(
    font: &FaceFont,
    field: &'static str,
    scale: PxScale,
    text: &str,
    x: f32,
    baseline: f32,
) -> Result<Ink, FaceError> {
    if let Some(ch) = text.chars().find(|&ch| !font.has_glyph(ch)) {
        return Err(FaceError::MissingGlyph { field, ch });
    }
    let f = font.font();
    let sf = f.as_scaled(scale);
    let (mut caret, mut prev) = (x, None);
    let mut dots = Vec::new();
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for ch in text.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            caret += sf.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, baseline));
        caret += sf.h_advance(id);
        prev = Some(id);
        let Some(outline) = f.outline_glyph(glyph) else { continue };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            if coverage >= COVERAGE_THRESHOLD {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if px >= 0 && py >= 0 {
                    dots.push((px as u32, py as u32));
                    (x0, y0, x1, y1) = (x0.min(px), y0.min(py), x1.max(px + 1), y1.max(py + 1));
                }
            }
        });
    }
    let extent = (x0 <= x1).then(|| PxRect::from_bounds(x0, y0, x1, y1));
    Ok(Ink { dots, extent })
}

fn draw_text_line(
    canvas: &mut Canvas<'_>,
    font: &FaceFont,
    data: &FaceData,
    line: &TextField,
) -> Result<(), FaceError> {
    let template = canvas.template;
    let field = line.field.key();
    let value = field_value(template, data, line.field, line.format.as_deref())?;
    let dpi = template.canvas().dpi;
    let ppm = template.px_per_mm();
    let (x, baseline) = template.to_px(line.x_mm, line.baseline_mm);
    let full = scale(font, line.size_pt, dpi, 1.0);

    let mut value_x = line.value_x_mm.map(|v| template.to_px(v, 0.0).0 as f32);
    if let Some(label) = &line.label {
        let Ink { dots, extent } = rasterise(font, field, full, label, x as f32, baseline as f32)?;
        if let Some(rect) = extent {
            canvas.check_room(field, &rect)?;
            dots.into_iter().for_each(|(px, py)| canvas.ink(px, py));
            canvas.place(Element::Label(line.field), format!("the label of {field}"), rect);
        }
        if value_x.is_none() {
            value_x = Some(x as f32 + advance(font, full, label) + advance(font, full, " "));
        }
    }
    let value_x = value_x.unwrap_or(x as f32);

    let mut value_scale = full;
    if let Some(max_mm) = line.max_width_mm {
        let max_px = (max_mm * ppm) as f32;
        let width = advance(font, full, &value);
        if width > max_px {
            let condense = f64::from(max_px / width);
            if condense < MIN_CONDENSE {
                return Err(FaceError::DoesNotFit {
                    field,
                    message: format!(
                        "{value:?} is {:.1} mm wide, more than {max_mm} mm even condensed to {:.0} %",
                        f64::from(width) / ppm,
                        MIN_CONDENSE * 100.0
                    ),
                });
            }
            value_scale = scale(font, line.size_pt, dpi, condense);
        }
    }
    let Ink { dots, extent } = rasterise(font, field, value_scale, &value, value_x, baseline as f32)?;
    if let Some(rect) = extent {
        canvas.check_room(field, &rect)?;
        dots.into_iter().for_each(|(px, py)| canvas.ink(px, py));
        canvas.place(Element::Value(line.field), format!("the value of {field}"), rect);
    }
    Ok(())
}

fn draw_photo(rgb: &mut RgbImage, rect: &PxRect, photo: &Photo) -> Result<(), FaceError> {
    let decoded;
    let src = match photo {
        Photo::Rgb(img) => img,
        Photo::Encoded(bytes) => {
            decoded = image::load_from_memory(bytes).map_err(|e| FaceError::Photo(e.to_string()))?.to_rgb8();
            &decoded
        }
    };
    if src.width() == 0 || src.height() == 0 {
        return Err(FaceError::Photo("the image is empty".into()));
    }
    // Crop the centre to the box's aspect, then scale: a photo is never stretched.
    let (sw, sh) = (f64::from(src.width()), f64::from(src.height()));
    let box_aspect = f64::from(rect.width) / f64::from(rect.height);
    let (cw, ch) = if sw / sh > box_aspect { (sh * box_aspect, sh) } else { (sw, sw / box_aspect) };
    let (cw, ch) = ((cw.round() as u32).max(1), (ch.round() as u32).max(1));
    let (cx, cy) = ((src.width() - cw) / 2, (src.height() - ch) / 2);
    let cropped = imageops::crop_imm(src, cx, cy, cw, ch).to_image();
    let scaled = imageops::resize(&cropped, rect.width, rect.height, imageops::FilterType::CatmullRom);
    imageops::replace(rgb, &scaled, i64::from(rect.x), i64::from(rect.y));
    Ok(())
}

/// The contactless symbol: four concentric arcs opening to the right, in a square.
fn draw_contactless_mark(canvas: &mut Canvas<'_>, rect: &PxRect) {
    let s = f64::from(rect.width.min(rect.height));
    let (cx, cy) = (f64::from(rect.x) + 0.05 * s, f64::from(rect.y) + 0.5 * s);
    let stroke = (0.08 * s).max(2.0);
    let radii = [0.3, 0.5, 0.7, 0.9].map(|r| r * s);
    let half_angle = 50f64.to_radians();
    for y in rect.y..rect.y + rect.height {
        for x in rect.x..rect.x + rect.width {
            let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
            let d = dx.hypot(dy);
            let on_arc = radii.iter().any(|r| (d - r).abs() <= stroke / 2.0);
            if on_arc && dx > 0.0 && dy.atan2(dx).abs() <= half_angle {
                canvas.ink(x, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template::builtin("ssc-3g").expect("3g")
    }

    #[test]
    fn dates() {
        let t = template();
        let data = |d: &str| FaceData { issue_date: d.into(), ..FaceData::default() };
        let f = |d: &str, fmt: Option<&str>| field_value(&t, &data(d), Field::IssueDate, fmt);
        assert_eq!(f("2026-11-22", None).expect("ok"), "2026年11月");
        assert_eq!(f("20261122", Some("{yyyy}.{mm}.{dd}")).expect("ok"), "2026.11.22");
        assert_eq!(f("202611", None).expect("ok"), "2026年11月");
        assert!(matches!(f("2026-13-01", None), Err(FaceError::BadValue { field: "issue_date", .. })));
        assert!(matches!(f("26-11-22", None), Err(FaceError::BadValue { .. })));
        assert!(matches!(f("202611", Some("{dd}")), Err(FaceError::BadValue { .. })));
        assert!(matches!(f("", None), Err(FaceError::MissingValue { field: "issue_date", .. })));
    }

    #[test]
    fn mask_and_rect() {
        let mut m = Mask::new(4, 3, false);
        m.set(3, 2, true);
        m.set(9, 9, true);
        assert!(m.get(3, 2) && !m.get(0, 0) && !m.get(9, 9));
        assert_eq!(m.count(), 1);
        let r = PxRect { x: 2, y: 1, width: 2, height: 2 };
        assert_eq!(m.count_in(&r), 1);
        assert!(r.contains(3, 2) && !r.contains(4, 2));
        assert!(r.intersects(&PxRect { x: 3, y: 2, width: 5, height: 5 }));
        assert!(!r.intersects(&PxRect { x: 4, y: 0, width: 5, height: 5 }));
    }
}
