//! A photo file (JPEG or PNG, up to the station's 2 MiB) through the photo crate as the
//! station uses it: judged as a finished file (`PhotoProcessor::check`: format, size, density,
//! bytes, face, framing, light, background), and decoded as a frame
//! (`source::decode_frame`) made into a card photo (`process`: detect, crop, check, encode).
//!
//! What must hold: the report counts the file's bytes, a file that does not decode is refused
//! and has no size, a file that passes is a JPEG of the spec's size and density; each refusal
//! has a code and a message in both languages; the frame decodes exactly when the check could
//! decode it; a card photo made from a frame is a colour JPEG of the spec's size and density
//! within its byte limits, cropped inside the frame, and a refused frame says why.

use std::cell::RefCell;

use card_face::image::{self, ColorType, ImageFormat, RgbImage};
use photo::{PhotoError, PhotoProcessor, PhotoSpec, Rejection};

thread_local! {
    /// The shipped detector (not `Send`): one per thread, made once.
    static PROCESSOR: RefCell<PhotoProcessor> =
        RefCell::new(PhotoProcessor::new(PhotoSpec::default()).expect("the shipped face model"));
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    if data.len() > crate::MAX_PHOTO_BYTES {
        return;
    }
    PROCESSOR.with_borrow_mut(|p| {
        let spec = p.spec;
        let report = p.check(data);
        assert_eq!(report.bytes, data.len());
        report.rejections.iter().for_each(said);
        if report.size.is_none() {
            assert!(!report.passed(), "a file that does not decode passed");
            assert!(report.measures.is_none());
        }
        if report.passed() {
            assert_eq!(report.size, Some((spec.width, spec.height)));
            assert_eq!(report.dpi, Some(spec.dpi));
            assert!(spec.limits().contains(data.len()));
            assert!(report.measures.is_some());
        }
        match photo::source::decode_frame(data) {
            Ok(frame) => {
                assert_eq!(report.size, Some(frame.dimensions()), "the check decodes what a frame decodes");
                card_photo(p, &frame);
            }
            Err(e) => {
                assert!(report.size.is_none(), "the check decoded what a frame could not: {e}");
                assert!(!e.to_string().is_empty());
            }
        }
    });
}

/// Every refusal is named and tells the operator what to do, in both languages.
fn said(r: &Rejection) {
    assert!(!r.code().is_empty() && !r.message_zh().is_empty() && !r.message_en().is_empty(), "{r:?}");
}

fn card_photo(p: &mut PhotoProcessor, frame: &RgbImage) {
    let spec = p.spec;
    match p.process(frame) {
        Ok(card) => {
            assert_eq!(card.framed.image.dimensions(), (spec.width, spec.height));
            assert!(spec.limits().contains(card.jpeg.len()), "{} bytes outside the limits", card.jpeg.len());
            assert!(card.framed.crop.x + card.framed.crop.w <= frame.width());
            assert!(card.framed.crop.y + card.framed.crop.h <= frame.height());
            // What the station writes is a file of the spec (the file checks of `check`,
            // without detecting the face again: whatever the checks then say of it).
            let written = image::load_from_memory(&card.jpeg).expect("the written photo decodes");
            assert_eq!(image::guess_format(&card.jpeg).ok(), Some(ImageFormat::Jpeg));
            assert_eq!(written.color(), ColorType::Rgb8);
            assert_eq!((written.width(), written.height()), (spec.width, spec.height));
            assert_eq!(photo::jfif_density(&card.jpeg).and_then(|d| d.dpi()), Some(spec.dpi));
        }
        Err(PhotoError::Rejected(r)) => {
            assert!(!r.0.is_empty(), "a frame refused without a reason");
            r.0.iter().for_each(said);
        }
        Err(e @ PhotoError::Encode(_)) => assert!(!e.to_string().is_empty()),
    }
}
