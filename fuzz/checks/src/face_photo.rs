//! A photo file (JPEG or PNG, up to the station's 2 MiB) on the card face as the issuance job
//! prints it: `card_face::Renderer` of the shipped 3rd-generation template with the photo as
//! its encoded bytes (`Photo::Encoded`, what `station::faces` passes), the other values fixed.
//!
//! What must hold: the face renders, or fails with `FaceError::Photo` for a file that does not
//! decode to an image; the photo changes nothing outside its box (the canvas, the resin and
//! varnish masks are those of the face without a photo) and the box is where the template
//! puts it.

use std::sync::OnceLock;

use card_face::{Element, Face, FaceData, FaceError, Photo, Renderer, Template};

/// The shipped template with its font, and the face of the fixed values without a photo.
fn renderer() -> &'static (Renderer, Face) {
    static R: OnceLock<(Renderer, Face)> = OnceLock::new();
    R.get_or_init(|| {
        let template = Template::builtin("ssc-3g").expect("the shipped template");
        let renderer = Renderer::new(template, None).expect("the template's font (fonts-arphic-uming)");
        let blank = renderer.render(&data(None)).expect("the fixed values render");
        (renderer, blank)
    })
}

/// The test applicant's values (synthetic numbers).
pub(crate) fn data(photo: Option<Photo>) -> FaceData {
    FaceData {
        name: "张三".into(),
        ssn: "11010519491231002X".into(),
        card_number: "X00000019".into(),
        issue_date: "2026-11-22".into(),
        sex: Some("男".into()),
        ethnicity: Some("汉".into()),
        expiry_date: Some("2036-11-22".into()),
        photo,
    }
}

/// The target's check of one input.
pub fn check(bytes: &[u8]) {
    if bytes.len() > crate::MAX_PHOTO_BYTES {
        return;
    }
    let (renderer, blank) = renderer();
    match renderer.render(&data(Some(Photo::Encoded(bytes.to_vec())))) {
        Ok(face) => {
            let rect = face.placed(Element::Photo).expect("the photo box is placed");
            assert_eq!(blank.placed(Element::Photo), Some(rect), "the box is the template's");
            assert_eq!(face.placed, blank.placed, "the photo moves nothing else");
            assert_eq!(face.black, blank.black, "no resin from the photo");
            assert_eq!(face.overlay, blank.overlay, "the varnish is the template's");
            assert_eq!(face.rgb.dimensions(), blank.rgb.dimensions());
            for (x, y, p) in face.rgb.enumerate_pixels() {
                if !rect.contains(x, y) {
                    assert_eq!(
                        p,
                        blank.rgb.get_pixel(x, y),
                        "the photo painted outside its box at ({x}, {y})"
                    );
                }
            }
        }
        Err(FaceError::Photo(message)) => {
            assert!(!message.is_empty());
            let decoded = card_face::image::load_from_memory(bytes);
            assert!(
                decoded.is_err() || decoded.is_ok_and(|i| i.width() == 0 || i.height() == 0),
                "a photo that decodes was refused: {message}"
            );
        }
        Err(other) => panic!("only the photo can fail here: {other}"),
    }
}
