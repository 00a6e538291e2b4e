//! A card-face template (`firmware-profiles/faces/*.toml`, a file a province may drop in) as
//! `card_face::Template::parse` reads it, then a face rendered with it (the test applicant's
//! values, a photo, the shipped font).
//!
//! What must hold: an error names the file (and the field, for a value); a template that parses
//! keeps the checks its schema documents (generation 2 or 3, the 1016 x 648 canvas at 300 dpi,
//! the photo on the card and clear of the chip hole, text sizes, one line per field, barcode
//! modules); a face from it renders or is refused for the data (never for the template, the
//! font or the photo), and nothing is inked in the chip's hole or off the card.

use std::collections::HashSet;
use std::sync::OnceLock;

use card_face::image::{Rgb, RgbImage};
use card_face::{
    render, FaceError, FaceFont, Photo, PxRect, Template, TemplateError, CANVAS_HEIGHT_PX, CANVAS_WIDTH_PX,
    CARD_HEIGHT_MM, CARD_WIDTH_MM, DEBIAN_FONT_PACKAGE, DEFAULT_FONT_PATH,
};

fn font() -> &'static FaceFont {
    static FONT: OnceLock<FaceFont> = OnceLock::new();
    FONT.get_or_init(|| {
        FaceFont::load(std::path::Path::new(DEFAULT_FONT_PATH), 0, DEBIAN_FONT_PACKAGE)
            .expect("the shipped font")
    })
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let template = match Template::parse(text, "fuzz.toml") {
        Ok(t) => t,
        Err(e) => {
            assert!(e.to_string().starts_with("fuzz.toml: "), "the error names the file: {e}");
            assert!(matches!(e, TemplateError::Syntax { .. } | TemplateError::Invalid { .. }), "{e:?}");
            return;
        }
    };
    schema(&template);
    // The font the shipped templates name, whatever this one names (a template names a file
    // on the station: the station's setting may override it).
    let photo = Photo::Rgb(RgbImage::from_pixel(36, 45, Rgb([200, 170, 150])));
    match render(&template, font(), &crate::face_photo::data(Some(photo))) {
        Ok(face) => {
            let card = px(&template, 0.0, 0.0, CARD_WIDTH_MM, CARD_HEIGHT_MM);
            let hole = template.overlay_hole();
            let hole = px(&template, hole.x_mm, hole.y_mm, hole.width_mm, hole.height_mm);
            for p in &face.placed {
                let r = p.rect;
                assert!(r.width > 0 || r.height == 0, "{p:?}");
                assert!(
                    r.x >= card.x
                        && r.y >= card.y
                        && r.x + r.width <= card.x + card.width
                        && r.y + r.height <= card.y + card.height,
                    "{p:?} is off the card {card:?}"
                );
                assert!(!r.intersects(&hole), "{p:?} is in the chip's hole {hole:?}");
            }
            for y in hole.y..hole.y + hole.height {
                for x in hole.x..hole.x + hole.width {
                    assert!(!face.black.get(x, y), "resin in the chip's hole at ({x}, {y})");
                    assert!(!face.overlay.get(x, y), "varnish over the chip at ({x}, {y})");
                }
            }
        }
        Err(
            e @ (FaceError::MissingValue { .. }
            | FaceError::BadValue { .. }
            | FaceError::MissingGlyph { .. }
            | FaceError::DoesNotFit { .. }),
        ) => assert!(!e.to_string().is_empty()),
        Err(e) => panic!("a template that parsed failed to render: {e}"),
    }
}

/// What `Template::parse` promises of a template it returns.
fn schema(t: &Template) {
    assert_eq!(t.file(), "fuzz.toml");
    assert!(!t.id().trim().is_empty());
    assert!(matches!(t.generation(), 2 | 3));
    let c = t.canvas();
    assert_eq!((c.width_px, c.height_px, c.dpi), (CANVAS_WIDTH_PX, CANVAS_HEIGHT_PX, 300));
    let on_card = |x: f64, y: f64, w: f64, h: f64| {
        [x, y, w, h].iter().all(|v| v.is_finite())
            && w > 0.0
            && h > 0.0
            && x >= 0.0
            && y >= 0.0
            && x + w <= CARD_WIDTH_MM
            && y + h <= CARD_HEIGHT_MM
    };
    let chip = t.chip();
    assert!(on_card(chip.x_mm, chip.y_mm, chip.width_mm, chip.height_mm), "{chip:?}");
    if let Some(p) = t.photo() {
        assert!(on_card(p.x_mm, p.y_mm, p.width_mm, p.height_mm), "{p:?}");
        assert!(!p.intersects(&t.overlay_hole()), "the photo over the chip");
    }
    let mut fields = HashSet::new();
    for line in t.text() {
        assert!(fields.insert(line.field), "{:?} printed twice", line.field);
        assert!((4.0..=24.0).contains(&line.size_pt));
    }
    if let Some(b) = t.barcode() {
        assert!((1..=6).contains(&b.module_px) && b.quiet_modules <= 20);
    }
}

/// A rectangle in millimetres as canvas pixels, rounded as the renderer rounds.
fn px(t: &Template, x: f64, y: f64, w: f64, h: f64) -> PxRect {
    let (x0, y0) = t.to_px(x, y);
    let (x1, y1) = t.to_px(x + w, y + h);
    let c = |v: f64| v.round().max(0.0) as u32;
    PxRect { x: c(x0), y: c(y0), width: c(x1).saturating_sub(c(x0)), height: c(y1).saturating_sub(c(y0)) }
}
