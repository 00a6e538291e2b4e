//! A face rendered with the real CJK font, separated into panels and composited back,
//! compared with what the template asked for.
//!
//! Set `CARD_FACE_PNG_DIR` to also write the composites as PNGs to look at.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use card_face::image::{Rgb, RgbImage};
use card_face::{
    code128, composite, render, separate, Element, Face, FaceData, FaceError, FaceFont, Field, FontError,
    Panel, Panels, Photo, PxRect, Renderer, Template, PANEL_DOTS,
};

fn font() -> &'static FaceFont {
    static FONT: OnceLock<FaceFont> = OnceLock::new();
    FONT.get_or_init(|| {
        let t = Template::builtin("ssc-3g").expect("3g");
        FaceFont::for_template(&t, None).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn faces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles/faces")
}

/// A synthetic photo at the card-spec size: red across, green down, blue constant.
fn photo_pixel(x: u32, y: u32) -> Rgb<u8> {
    Rgb([(x * 255 / 357) as u8, (y * 255 / 440) as u8, 128])
}

fn synthetic_photo() -> RgbImage {
    RgbImage::from_fn(358, 441, photo_pixel)
}

fn data() -> FaceData {
    FaceData {
        name: "张三".into(),
        ssn: "11010519491231002X".into(),
        card_number: "X00000019".into(),
        issue_date: "2026-11-22".into(),
        photo: Some(Photo::Rgb(synthetic_photo())),
        ..FaceData::default()
    }
}

fn write_png(name: &str, img: &RgbImage) {
    if let Some(dir) = std::env::var_os("CARD_FACE_PNG_DIR") {
        let path = Path::new(&dir).join(name);
        img.save(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn is_black(img: &RgbImage, x: u32, y: u32) -> bool {
    img.get_pixel(x, y).0 == [0, 0, 0]
}

fn black_in(img: &RgbImage, r: &PxRect) -> usize {
    (r.y..r.y + r.height)
        .flat_map(|y| (r.x..r.x + r.width).map(move |x| (x, y)))
        .filter(|&(x, y)| is_black(img, x, y))
        .count()
}

fn rect(face: &Face, e: Element) -> PxRect {
    face.placed(e).unwrap_or_else(|| panic!("{e:?} not drawn"))
}

struct RoundTrip {
    template: Template,
    face: Face,
    panels: Panels,
    back: RgbImage,
}

fn round_trip(template: Template, data: &FaceData) -> RoundTrip {
    let face = render(&template, font(), data).unwrap_or_else(|e| panic!("{e}"));
    let panels = separate(&face);
    for p in [Panel::Y, Panel::M, Panel::C, Panel::K, Panel::O] {
        assert_eq!(panels.plane(p).len(), 1016 * 648, "{p:?}");
    }
    let back = composite(&panels);
    RoundTrip { template, face, panels, back }
}

#[test]
fn third_generation_face_survives_the_panels() {
    let RoundTrip { template, face, panels, back } =
        round_trip(Template::builtin("ssc-3g").expect("3g"), &data());
    write_png("ssc-3g.png", &back);
    write_png("ssc-3g-rendered.png", &face.rgb);

    // Black goes through K exactly: every black pixel of the composite is a K dot.
    for y in 0..back.height() {
        for x in 0..back.width() {
            assert_eq!(is_black(&back, x, y), face.black.get(x, y), "({x}, {y})");
        }
    }

    // Text lies where the template puts it: labels at x_mm, values at value_x_mm, resting on
    // the baseline.
    let px = |mm: f64| mm * template.px_per_mm();
    let [ox, oy] = template.canvas().card_origin_px;
    let em = 8.0 / 72.0 * 300.0;
    for line in template.text() {
        let value = rect(&face, Element::Value(line.field));
        let label = rect(&face, Element::Label(line.field));
        let baseline = oy + px(line.baseline_mm);
        let vx = ox + px(line.value_x_mm.expect("aligned column"));
        let lx = ox + px(line.x_mm);
        for (r, x, what) in [(value, vx, "value"), (label, lx, "label")] {
            let dx = f64::from(r.x) - x;
            assert!((-1.0..=0.2 * em).contains(&dx), "{:?} {what}: left {} vs {x}", line.field, r.x);
            let bottom = f64::from(r.y + r.height);
            assert!(
                (baseline - 0.15 * em..=baseline + 0.25 * em).contains(&bottom),
                "{:?} {what}: {bottom}",
                line.field
            );
            assert!(
                f64::from(r.height) > 0.5 * em && f64::from(r.height) < 1.2 * em,
                "{:?} {what}",
                line.field
            );
            let inked = black_in(&back, &r);
            assert!(inked > 40, "{:?} {what}: {inked} black pixels", line.field);
        }
    }

    // The real glyphs: 张三 is two full-width CJK characters; 三 is three horizontal strokes,
    // so a column through its middle crosses three black runs.
    let name = rect(&face, Element::Value(Field::Name));
    assert!((1.6 * em..=2.1 * em).contains(&f64::from(name.width)), "name width {}", name.width);
    let san_x = name.x + name.width * 3 / 4;
    let mut runs = 0;
    let mut inside = false;
    for y in name.y.saturating_sub(2)..name.y + name.height + 2 {
        let b = is_black(&back, san_x, y);
        if b && !inside {
            runs += 1;
        }
        inside = b;
    }
    assert_eq!(runs, 3, "三 at column {san_x}");
    // 张 (left half) has far more strokes than 三 (right half).
    let half = name.width / 2;
    let zhang = black_in(&back, &PxRect { width: half, ..name });
    let san = black_in(&back, &PxRect { x: name.x + half, width: name.width - half, ..name });
    assert!(zhang > san * 3 / 2, "张 {zhang} vs 三 {san}");

    // The photo: the composite matches the rendered face within a level, and the synthetic
    // photo (centre-cropped to the box, scaled) within resampling error.
    let photo = rect(&face, Element::Photo);
    let box_mm = template.photo().expect("photo box");
    assert!((f64::from(photo.x) - (ox + px(box_mm.x_mm))).abs() <= 1.0);
    assert!((f64::from(photo.y) - (oy + px(box_mm.y_mm))).abs() <= 1.0);
    assert!((f64::from(photo.width) - px(box_mm.width_mm)).abs() <= 1.0);
    let crop_w = 441.0 * f64::from(photo.width) / f64::from(photo.height);
    let crop_x = ((358.0 - crop_w) / 2.0).floor();
    let (mut diff, mut n) = (0u64, 0u64);
    for y in photo.y..photo.y + photo.height {
        for x in photo.x..photo.x + photo.width {
            let got = back.get_pixel(x, y).0;
            let rendered = face.rgb.get_pixel(x, y).0;
            for c in 0..3 {
                assert!((i32::from(got[c]) - i32::from(rendered[c])).abs() <= 2, "({x}, {y})");
            }
            let sx = crop_x + (f64::from(x - photo.x) + 0.5) * crop_w / f64::from(photo.width);
            let sy = (f64::from(y - photo.y) + 0.5) * 441.0 / f64::from(photo.height);
            let want = photo_pixel(sx as u32, sy as u32).0;
            for c in 0..3 {
                diff += u64::from(got[c].abs_diff(want[c]));
                n += 1;
            }
        }
    }
    assert!(diff / n <= 3, "photo mean error {}", diff as f64 / n as f64);

    // The chip hole is clear of varnish, resin and dye; the varnish covers all the rest.
    let hole_mm = template.overlay_hole();
    let hole = PxRect {
        x: (ox + px(hole_mm.x_mm)).round() as u32,
        y: (oy + px(hole_mm.y_mm)).round() as u32,
        width: px(hole_mm.width_mm).round() as u32,
        height: px(hole_mm.height_mm).round() as u32,
    };
    let mut varnished = 0;
    for y in 0..648 {
        for x in 0..1016 {
            let o = panels.at(Panel::O, x, y);
            if hole.contains(x, y) {
                assert_eq!(o, 0, "varnish over the chip at ({x}, {y})");
                for p in [Panel::Y, Panel::M, Panel::C, Panel::K] {
                    assert_eq!(panels.at(p, x, y), 0, "{p:?} over the chip at ({x}, {y})");
                }
            } else {
                varnished += usize::from(o == 255);
            }
        }
    }
    assert!(
        varnished.abs_diff(1016 * 648 - (hole.width * hole.height) as usize)
            <= 2 * (hole.width + hole.height) as usize
    );

    // K only inside text, barcode and mark; no dye under K.
    let black_rects: Vec<PxRect> =
        face.placed.iter().filter(|p| !matches!(p.element, Element::Photo)).map(|p| p.rect).collect();
    for y in 0..648 {
        for x in 0..1016 {
            if panels.at(Panel::K, x, y) != 0 {
                assert!(black_rects.iter().any(|r| r.contains(x, y)), "K dot at ({x}, {y}) outside text");
                for p in [Panel::Y, Panel::M, Panel::C] {
                    assert_eq!(panels.at(p, x, y), 0, "{p:?} under K at ({x}, {y})");
                }
            }
        }
    }
    assert!(panels.inked(Panel::K) > 1000);

    // The barcode reads back from the composite as the card number.
    let bar = rect(&face, Element::Barcode);
    let b = template.barcode().expect("barcode");
    let y = bar.y + bar.height / 2;
    let start = bar.x + b.quiet_modules * b.module_px;
    let count = (bar.width / b.module_px) - 2 * b.quiet_modules;
    let modules: Vec<bool> = (0..count).map(|i| is_black(&back, start + i * b.module_px, y)).collect();
    let values = code128::decode(&modules).expect("a readable barcode");
    assert_eq!(code128::text(&values).as_deref(), Some("X00000019"));
    // Quiet zones are white.
    assert!((bar.x..start).all(|x| !is_black(&back, x, y)));

    // The contactless mark is drawn, left of the photo and clear of it.
    let mark = rect(&face, Element::ContactlessMark);
    assert!(black_in(&back, &mark) > 100 && !mark.intersects(&photo));
}

#[test]
fn second_generation_prints_sex_ethnicity_and_expiry() {
    let template = Template::load(&faces_dir().join("ssc-2g.toml")).expect("2g");
    let mut d = data();
    d.sex = Some("男".into());
    d.ethnicity = Some("汉".into());
    d.expiry_date = Some("20361122".into());
    d.issue_date = "20161122".into();
    let RoundTrip { face, back, .. } = round_trip(template.clone(), &d);
    write_png("ssc-2g.png", &back);
    for f in [
        Field::Name,
        Field::Sex,
        Field::Ethnicity,
        Field::Ssn,
        Field::CardNumber,
        Field::IssueDate,
        Field::ExpiryDate,
    ] {
        let r = rect(&face, Element::Value(f));
        assert!(black_in(&back, &r) > 20, "{f:?}");
    }
    assert!(face.placed(Element::ContactlessMark).is_none());
    assert!(face.placed(Element::Barcode).is_none());

    d.sex = None;
    match render(&template, font(), &d) {
        Err(FaceError::MissingValue { field: "sex", template }) => assert_eq!(template, "ssc-2g"),
        other => panic!("expected a missing sex, got {other:?}"),
    }
}

#[test]
fn a_jpeg_photo_and_no_photo() {
    let template = Template::builtin("ssc-3g").expect("3g");
    let mut jpeg = Vec::new();
    synthetic_photo()
        .write_to(&mut std::io::Cursor::new(&mut jpeg), card_face::image::ImageFormat::Jpeg)
        .expect("jpeg");
    let mut d = data();
    d.photo = Some(Photo::Encoded(jpeg));
    let from_jpeg = render(&template, font(), &d).expect("rendered");
    let from_rgb = render(&template, font(), &data()).expect("rendered");
    let photo = rect(&from_rgb, Element::Photo);
    let (x, y) = (photo.x + photo.width / 2, photo.y + photo.height / 2);
    let (a, b) = (from_jpeg.rgb.get_pixel(x, y).0, from_rgb.rgb.get_pixel(x, y).0);
    assert!(a.iter().zip(b).all(|(a, b)| a.abs_diff(b) <= 8), "{a:?} {b:?}");

    d.photo = Some(Photo::Encoded(b"not an image".to_vec()));
    assert!(matches!(render(&template, font(), &d), Err(FaceError::Photo(_))));

    d.photo = None;
    let blank = render(&template, font(), &d).expect("a child without a photo");
    assert!(blank.rgb.get_pixel(x, y).0 == [255, 255, 255]);
}

#[test]
fn long_names_are_condensed_then_refused() {
    let template = Template::builtin("ssc-3g").expect("3g");
    let em_mm = 8.0 / 72.0 * 25.4;
    let max_mm = 34.0;
    let mut d = data();
    // 14 full-width characters: 39.5 mm at 8 pt, condensed to 34 mm (86 %).
    d.name = "阿卜杜热合曼·买买提艾力江".into();
    let face = render(&template, font(), &d).unwrap_or_else(|e| panic!("{e}"));
    let r = rect(&face, Element::Value(Field::Name));
    assert!(f64::from(r.width) <= max_mm * template.px_per_mm() + 1.0, "{}", r.width);
    assert!(f64::from(r.width) > 12.0 * em_mm * template.px_per_mm() * 0.8);
    d.name = "一二三四五六七八九十一二三四五六七八九十一二三四".into();
    match render(&template, font(), &d) {
        Err(FaceError::DoesNotFit { field: "name", message }) => {
            assert!(message.contains("condensed"), "{message}")
        }
        other => panic!("expected too wide, got {other:?}"),
    }
}

#[test]
fn unprintable_values_are_refused() {
    let template = Template::builtin("ssc-3g").expect("3g");
    let mut d = data();
    d.name = "张\u{1F600}".into();
    match render(&template, font(), &d) {
        Err(e @ FaceError::MissingGlyph { field: "name", ch: '\u{1F600}' }) => {
            assert!(e.to_string().contains("U+1F600"), "{e}")
        }
        other => panic!("expected a missing glyph, got {other:?}"),
    }
    let mut d = data();
    d.card_number = "卡X0001".into();
    assert!(matches!(render(&template, font(), &d), Err(FaceError::BadValue { field: "card_number", .. })));
    let mut d = data();
    d.ssn = "1101\n05".into();
    assert!(matches!(render(&template, font(), &d), Err(FaceError::BadValue { field: "ssn", .. })));
}

#[test]
fn text_that_runs_into_the_photo_is_refused() {
    let text = std::fs::read_to_string(faces_dir().join("ssc-3g.toml")).expect("read");
    // Move the values column right: the 18-digit SSN now runs into the photo box.
    let moved = text
        .replace("value_x_mm = 22.5", "value_x_mm = 44.0")
        .replace("max_width_mm = 34.0", "max_width_mm = 40.0");
    let template = Template::parse(&moved, "moved.toml").expect("valid on its own");
    match render(&template, font(), &data()) {
        Err(FaceError::DoesNotFit { field, message }) => {
            assert!(
                message.contains("photo") || message.contains("off the card") || message.contains("barcode"),
                "{field}: {message}"
            )
        }
        other => panic!("expected a collision, got {other:?}"),
    }
}

#[test]
fn missing_font_names_the_debian_package() {
    let err =
        Renderer::open(&faces_dir().join("ssc-3g.toml"), Some(Path::new("/nonexistent/fonts/uming.ttc")))
            .expect_err("no font there");
    assert!(matches!(err, FaceError::Font(FontError::Missing { .. })), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("fonts-arphic-uming") && text.contains("/nonexistent/fonts/uming.ttc"), "{text}");
}

#[test]
fn renderer_gives_the_panels() {
    let renderer = Renderer::new(Template::builtin("ssc-3g").expect("3g"), None).expect("font installed");
    let panels = renderer.panels(&data()).expect("panels");
    assert_eq!(panels, separate(&renderer.render(&data()).expect("face")));
    let planes = panels.into_planes();
    let order: String = planes.iter().map(|(p, _)| p.letter()).collect();
    assert_eq!(order, "ymcko");
    assert!(planes.iter().all(|(_, plane)| plane.len() == PANEL_DOTS));
}

/// printer.md's photo "at about (4 mm, 12 mm), 20 x 25 mm", on the right of the data side
/// where the chip is on the left (sources in firmware-profiles/faces/ssc-3g.toml, [photo]):
/// both generations, and clear of the chip hole.
#[test]
fn shipped_templates_put_the_photo_4_mm_from_the_right_edge() {
    for id in ["ssc-2g", "ssc-3g"] {
        let t = Template::builtin(id).expect("template");
        let photo = t.photo().unwrap_or_else(|| panic!("{id}: no photo box"));
        let right_gap = card_face::CARD_WIDTH_MM - (photo.x_mm + photo.width_mm);
        assert!((right_gap - 4.0).abs() < 0.05, "{id}: {right_gap} mm from the right edge");
        assert!((photo.y_mm - 12.0).abs() < 0.05, "{id}: {} mm from the top", photo.y_mm);
        assert_eq!((photo.width_mm, photo.height_mm), (20.0, 25.0), "{id}");
        let hole = t.overlay_hole();
        assert!(photo.x_mm > hole.x_mm + hole.width_mm, "{id}: the photo reaches the chip hole");
    }
}
