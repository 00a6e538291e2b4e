//! From a camera frame to the card photo: find the one face, crop to the card geometry
//! (head about 2/3 of the height, face centred, shoulders in), check exposure, sharpness and
//! background, encode within the byte limits. The same checks judge a finished file.

use image::imageops::{self, FilterType};
use image::{GrayImage, RgbImage};

use crate::detect::{FaceBox, FaceDetector, ModelError, SeetaDetector};
use crate::encode::{encode_within, jfif_density, EncodeError};
use crate::measure::{laplacian_variance, stats, Rect};
use crate::reject::{Edge, Rejection, Rejections};
use crate::spec::PhotoSpec;

/// How a detector's face box relates to the head, and where the head goes in the photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Framing {
    /// Top of the hair above the face box's top, in box heights.
    pub crown_above_box: f64,
    /// Crown-to-chin height in box heights.
    pub head_per_box: f64,
    /// Head height as a fraction of the photo height (the spec's "about 2/3").
    pub head_fraction: f64,
    /// Space above the crown, as a fraction of the photo height.
    pub top_margin: f64,
    /// How far (fraction of the crop) the crop may be shifted off the face centre to stay in
    /// the frame before the operator is asked to re-aim.
    pub max_shift: f64,
    /// Largest enlargement from frame pixels to photo pixels before the face counts as too
    /// small (an enlarged face is soft).
    pub max_upscale: f64,
    /// Accepted head fraction in a finished photo.
    pub head_fraction_range: (f64, f64),
    /// Accepted horizontal offset of the face centre in a finished photo (fraction of width).
    pub max_centre_offset: f64,
}

impl Default for Framing {
    fn default() -> Self {
        // Measured on SeetaFace boxes of the test faces: the box spans brows to just above the
        // chin, the crown sits half a box above it and the chin about 0.15 below.
        Framing {
            crown_above_box: 0.5,
            head_per_box: 1.65,
            head_fraction: 2.0 / 3.0,
            top_margin: 0.09,
            max_shift: 0.06,
            max_upscale: 1.67,
            head_fraction_range: (0.58, 0.76),
            max_centre_offset: 0.08,
        }
    }
}

/// Limits of the checks. Luminance is 0..255 (Rec. 601).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Face mean luminance below this is too dark.
    pub face_min_luma: f64,
    /// Face mean luminance above this is too bright.
    pub face_max_luma: f64,
    /// Fraction of clipped face pixels above which it is too bright.
    pub face_max_clipped: f64,
    /// Variance of the Laplacian over the face below this is blurred.
    pub min_sharpness: f64,
    /// Background mean luminance below this is not light.
    pub background_min_luma: f64,
    /// Background luminance deviation above this is not plain.
    pub background_max_std: f64,
    /// Difference between the strips' means above this is a shadow or an object.
    pub background_max_spread: f64,
    /// A second face smaller than this fraction of the largest is ignored (a poster, noise).
    pub second_face_min_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            face_min_luma: 85.0,
            face_max_luma: 215.0,
            face_max_clipped: 0.12,
            min_sharpness: 25.0,
            background_min_luma: 200.0,
            background_max_std: 14.0,
            background_max_spread: 25.0,
            second_face_min_ratio: 0.4,
        }
    }
}

/// What the checks measured, for the operator screen and for tuning.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measures {
    /// Mean luminance of the face.
    pub face_luma: f64,
    /// Fraction of clipped face pixels.
    pub face_clipped: f64,
    /// Variance of the Laplacian over the face.
    pub sharpness: f64,
    /// Mean luminance of the background strips.
    pub background_luma: f64,
    /// Luminance deviation of the background strips.
    pub background_std: f64,
    /// Largest difference between the strips' means.
    pub background_spread: f64,
    /// Head height as a fraction of the photo height.
    pub head_fraction: f64,
}

/// A frame cropped and scaled to the photo size, having passed the checks.
#[derive(Debug, Clone)]
pub struct Framed {
    /// The photo pixels, `spec.width` x `spec.height`.
    pub image: RgbImage,
    /// The face in photo pixels.
    pub face: FaceBox,
    /// The part of the frame that was used.
    pub crop: Rect,
    /// What the checks measured.
    pub measures: Measures,
}

/// A card photo ready to store or send.
#[derive(Debug, Clone)]
pub struct CardPhoto {
    /// The pixels and measures.
    pub framed: Framed,
    /// The JPEG file, inside the profile's byte limits, with the profile's dpi.
    pub jpeg: Vec<u8>,
    /// The JPEG quality found.
    pub quality: u8,
}

/// Why no card photo came out of a frame.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The frame failed checks: the operator can act on the reasons.
    #[error("photo refused: {0}")]
    Rejected(#[from] Rejections),
    /// The profile's byte limits cannot be met for this image.
    #[error("photo cannot be encoded within the profile: {0}")]
    Encode(#[from] EncodeError),
}

/// The verdict on a finished photo file.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// File size.
    pub bytes: usize,
    /// Pixel size, if it decoded.
    pub size: Option<(u32, u32)>,
    /// JFIF density in dpi, if present and physical.
    pub dpi: Option<u16>,
    /// Measures, if a face was found.
    pub measures: Option<Measures>,
    /// Every reason to refuse it; empty when it passes.
    pub rejections: Vec<Rejection>,
}

impl CheckReport {
    /// Whether the file is acceptable.
    pub fn passed(&self) -> bool {
        self.rejections.is_empty()
    }
}

/// Turns frames into card photos and judges photo files, with one detector and one spec.
#[derive(Debug)]
pub struct PhotoProcessor<D = SeetaDetector> {
    detector: D,
    /// The file to produce.
    pub spec: PhotoSpec,
    /// Crop geometry.
    pub framing: Framing,
    /// Check limits.
    pub thresholds: Thresholds,
}

impl PhotoProcessor<SeetaDetector> {
    /// With the shipped SeetaFace detector.
    pub fn new(spec: PhotoSpec) -> Result<Self, ModelError> {
        Ok(Self::with_detector(SeetaDetector::new()?, spec))
    }
}

impl<D: FaceDetector> PhotoProcessor<D> {
    /// With any detector (a stub in tests, another model later).
    pub fn with_detector(detector: D, spec: PhotoSpec) -> Self {
        PhotoProcessor { detector, spec, framing: Framing::default(), thresholds: Thresholds::default() }
    }

    /// The one face in `gray`, or why there is not exactly one.
    fn one_face(&mut self, gray: &GrayImage) -> Result<FaceBox, Vec<Rejection>> {
        let mut faces = self.detector.detect(gray);
        faces.sort_by_key(|f| std::cmp::Reverse(f.width));
        let Some(&largest) = faces.first() else {
            let mut why = vec![Rejection::NoFace];
            // A face lost to exposure: say what to fix rather than only "no face".
            let s = stats(gray, &[Rect { x: 0, y: 0, w: gray.width(), h: gray.height() }]);
            if s.mean < 50.0 {
                why.push(Rejection::TooDark);
            } else if s.clipped > 0.35 {
                why.push(Rejection::TooBright);
            }
            return Err(why);
        };
        let min_w = f64::from(largest.width) * self.thresholds.second_face_min_ratio;
        let n = faces.iter().filter(|f| f64::from(f.width) >= min_w).count();
        if n > 1 {
            return Err(vec![Rejection::TwoFaces(n)]);
        }
        Ok(largest)
    }

    /// Where to crop `face` in a `fw` x `fh` frame, or why the framing cannot work.
    pub fn crop_for(&self, face: &FaceBox, fw: u32, fh: u32) -> Result<Rect, Rejection> {
        let fr = &self.framing;
        let (sw, sh) = (f64::from(self.spec.width), f64::from(self.spec.height));
        let box_h = f64::from(face.height);
        let crop_h = fr.head_per_box * box_h / fr.head_fraction;
        let crop_w = crop_h * sw / sh;
        if crop_h * fr.max_upscale < sh {
            return Err(Rejection::FaceTooSmall);
        }
        let (fwf, fhf) = (f64::from(fw), f64::from(fh));
        if crop_h > fhf + 0.5 || crop_w > fwf + 0.5 {
            return Err(Rejection::TooClose);
        }
        let crown = f64::from(face.y) - fr.crown_above_box * box_h;
        let mut top = crown - fr.top_margin * crop_h;
        let mut left = face.centre_x() - crop_w / 2.0;
        let (max_dx, max_dy) = (fr.max_shift * crop_w, fr.max_shift * crop_h);
        if left < 0.0 {
            if -left > max_dx {
                return Err(Rejection::OffCentre(Edge::Left));
            }
            left = 0.0;
        } else if left + crop_w > fwf {
            if left + crop_w - fwf > max_dx {
                return Err(Rejection::OffCentre(Edge::Right));
            }
            left = fwf - crop_w;
        }
        if top < 0.0 {
            if -top > max_dy {
                return Err(Rejection::OffCentre(Edge::Top));
            }
            top = 0.0;
        } else if top + crop_h > fhf {
            if top + crop_h - fhf > max_dy {
                return Err(Rejection::OffCentre(Edge::Bottom));
            }
            top = fhf - crop_h;
        }
        Ok(Rect::clamped(left, top, left + crop_w, top + crop_h, fw, fh))
    }

    /// Crop and scale `frame` to the photo and run the checks.
    pub fn frame(&mut self, frame: &RgbImage) -> Result<Framed, Rejections> {
        let gray = imageops::grayscale(frame);
        let face = self.one_face(&gray).map_err(Rejections)?;
        let crop = self.crop_for(&face, frame.width(), frame.height()).map_err(|r| Rejections(vec![r]))?;
        let (w, h) = (self.spec.width, self.spec.height);
        let view = imageops::crop_imm(frame, crop.x, crop.y, crop.w, crop.h);
        let image = imageops::resize(&*view, w, h, FilterType::CatmullRom);
        let k = f64::from(h) / f64::from(crop.h);
        let face_out = FaceBox {
            x: ((f64::from(face.x) - f64::from(crop.x)) * k).round() as i32,
            y: ((f64::from(face.y) - f64::from(crop.y)) * k).round() as i32,
            width: (f64::from(face.width) * k).round() as u32,
            height: (f64::from(face.height) * k).round() as u32,
            score: face.score,
        };
        let gray_out = imageops::grayscale(&image);
        let (measures, why) = self.assess(&gray_out, &face_out);
        if !why.is_empty() {
            return Err(Rejections(why));
        }
        Ok(Framed { image, face: face_out, crop, measures })
    }

    /// [`frame`](Self::frame), then JPEG within the byte limits.
    pub fn process(&mut self, frame: &RgbImage) -> Result<CardPhoto, PhotoError> {
        let framed = self.frame(frame)?;
        let enc = encode_within(&framed.image, &self.spec)?;
        Ok(CardPhoto { framed, jpeg: enc.bytes, quality: enc.quality })
    }

    /// Exposure, sharpness and background of a photo-sized grey image with its face.
    fn assess(&self, gray: &GrayImage, face: &FaceBox) -> (Measures, Vec<Rejection>) {
        let t = &self.thresholds;
        let (w, h) = gray.dimensions();
        let (fx, fy, fw, fh) =
            (f64::from(face.x), f64::from(face.y), f64::from(face.width), f64::from(face.height));
        let skin = Rect::clamped(fx + 0.2 * fw, fy + 0.25 * fh, fx + 0.8 * fw, fy + 0.9 * fh, w, h);
        let face_rect = Rect::clamped(fx, fy, fx + fw, fy + fh, w, h);
        let s = stats(gray, &[skin]);
        let sharpness = laplacian_variance(gray, face_rect);
        let cx = face.centre_x();
        let crown = fy - self.framing.crown_above_box * fh;
        let strips = [
            Rect::clamped(0.0, 0.0, f64::from(w), crown - 0.12 * fh, w, h),
            Rect::clamped(0.0, 0.0, cx - 0.85 * fw, fy + 0.5 * fh, w, h),
            Rect::clamped(cx + 0.85 * fw, 0.0, f64::from(w), fy + 0.5 * fh, w, h),
        ];
        let bg = stats(gray, &strips);
        let means: Vec<f64> =
            strips.iter().filter(|r| r.area() >= 200).map(|r| stats(gray, &[*r]).mean).collect();
        let spread = means.iter().fold(0f64, |m, a| means.iter().fold(m, |m, b| m.max((a - b).abs())));
        let measures = Measures {
            face_luma: s.mean,
            face_clipped: s.clipped,
            sharpness,
            background_luma: bg.mean,
            background_std: bg.std,
            background_spread: spread,
            head_fraction: self.framing.head_per_box * fh / f64::from(h),
        };
        let mut why = Vec::new();
        let dark = s.mean < t.face_min_luma;
        let bright = s.mean > t.face_max_luma || s.clipped > t.face_max_clipped;
        if dark {
            why.push(Rejection::TooDark);
        } else if bright {
            why.push(Rejection::TooBright);
        }
        // A badly exposed face has little contrast: blame the light, not the focus.
        if !dark && !bright && sharpness < t.min_sharpness {
            why.push(Rejection::Blurred);
        }
        if bg.count > 0 {
            if bg.std > t.background_max_std || spread > t.background_max_spread {
                why.push(Rejection::BackgroundNotPlain);
            }
            if !dark && bg.mean < t.background_min_luma {
                why.push(Rejection::BackgroundNotLight);
            }
        }
        (measures, why)
    }

    /// Judge a finished photo file against the spec: format, size, density, bytes, then the
    /// face, its framing and the same checks as a capture.
    pub fn check(&mut self, file: &[u8]) -> CheckReport {
        let spec = self.spec;
        let mut report = CheckReport {
            bytes: file.len(),
            size: None,
            dpi: jfif_density(file).and_then(|d| d.dpi()),
            measures: None,
            rejections: Vec::new(),
        };
        let why = &mut report.rejections;
        let is_jpeg = image::guess_format(file).ok() == Some(image::ImageFormat::Jpeg);
        if !is_jpeg {
            why.push(Rejection::NotJpeg);
        }
        if file.len() > spec.max_bytes {
            why.push(Rejection::FileTooLarge { bytes: file.len(), max: spec.max_bytes });
        } else if file.len() < spec.min_bytes {
            why.push(Rejection::FileTooSmall { bytes: file.len(), min: spec.min_bytes });
        }
        let Ok(img) = image::load_from_memory(file) else {
            if is_jpeg {
                why.push(Rejection::NotJpeg);
            }
            return report;
        };
        if is_jpeg && report.dpi != Some(spec.dpi) {
            why.push(Rejection::WrongDensity(report.dpi));
        }
        if img.color() != image::ColorType::Rgb8 {
            why.push(Rejection::NotColour);
        }
        let (w, h) = (img.width(), img.height());
        report.size = Some((w, h));
        if (w, h) != (spec.width, spec.height) {
            why.push(Rejection::WrongSize { width: w, height: h });
        }
        let gray = img.to_luma8();
        let face = match self.one_face(&gray) {
            Ok(f) => f,
            Err(more) => {
                report.rejections.extend(more);
                return report;
            }
        };
        let (measures, more) = self.assess(&gray, &face);
        let fr = &self.framing;
        if measures.head_fraction < fr.head_fraction_range.0 {
            report.rejections.push(Rejection::HeadTooSmall);
        } else if measures.head_fraction > fr.head_fraction_range.1 {
            report.rejections.push(Rejection::HeadTooLarge);
        }
        let off = face.centre_x() - f64::from(w) / 2.0;
        if off.abs() > fr.max_centre_offset * f64::from(w) {
            report.rejections.push(Rejection::OffCentre(if off < 0.0 { Edge::Left } else { Edge::Right }));
        }
        report.rejections.extend(more);
        report.measures = Some(measures);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::FixedDetector;
    use crate::source::{FrameSource, Scene, SyntheticSource};
    use crate::spec::ByteLimits;

    fn face(x: i32, y: i32, size: u32) -> FaceBox {
        FaceBox { x, y, width: size, height: size, score: 10.0 }
    }

    fn stub(faces: Vec<FaceBox>) -> PhotoProcessor<FixedDetector> {
        PhotoProcessor::with_detector(FixedDetector(faces), PhotoSpec::card(ByteLimits::KB_14_40))
    }

    #[test]
    fn crop_puts_the_head_at_two_thirds_and_the_face_in_the_middle() {
        let p = stub(vec![]);
        let f = face(250, 150, 140);
        let r = p.crop_for(&f, 640, 480).expect("fits");
        // Head = 1.65 box heights = 2/3 of the crop height.
        let head = 1.65 * 140.0;
        assert!((f64::from(r.h) * 2.0 / 3.0 - head).abs() <= 1.0, "{r:?}");
        assert!((f64::from(r.w) / f64::from(r.h) - 358.0 / 441.0).abs() < 0.01);
        let centre = f64::from(r.x) + f64::from(r.w) / 2.0;
        assert!((centre - f.centre_x()).abs() <= 1.0);
        // The crown sits the top margin below the crop's top edge.
        let crown = 150.0 - 0.5 * 140.0;
        assert!((crown - f64::from(r.y) - 0.09 * f64::from(r.h)).abs() <= 1.0);
    }

    #[test]
    fn crop_shifts_a_little_but_asks_to_re_aim_for_more() {
        let p = stub(vec![]);
        // Slightly left: shifted to the edge, accepted.
        let r = p.crop_for(&face(60, 150, 140), 640, 480).expect("small shift");
        assert_eq!(r.x, 0);
        assert_eq!(p.crop_for(&face(10, 150, 140), 640, 480), Err(Rejection::OffCentre(Edge::Left)));
        assert_eq!(p.crop_for(&face(520, 150, 140), 640, 480), Err(Rejection::OffCentre(Edge::Right)));
        assert_eq!(p.crop_for(&face(250, 40, 140), 640, 480), Err(Rejection::OffCentre(Edge::Top)));
        assert_eq!(p.crop_for(&face(250, 300, 140), 640, 480), Err(Rejection::OffCentre(Edge::Bottom)));
        assert_eq!(p.crop_for(&face(200, 100, 220), 640, 480), Err(Rejection::TooClose));
        assert_eq!(p.crop_for(&face(300, 200, 60), 640, 480), Err(Rejection::FaceTooSmall));
    }

    #[test]
    fn face_count_ignores_tiny_false_faces_but_not_a_second_person() {
        let frame = SyntheticSource::new(640, 480, Scene::Pattern).next_frame().expect("frame");
        let mut p = stub(vec![face(250, 150, 140), face(10, 10, 30)]);
        assert!(!p.frame(&frame).is_err_and(|r| r.codes().contains(&"two_faces")));
        let mut p = stub(vec![face(100, 150, 140), face(400, 150, 120)]);
        assert_eq!(p.frame(&frame).expect_err("two").0, vec![Rejection::TwoFaces(2)]);
        let mut p = stub(vec![]);
        assert_eq!(p.frame(&frame).expect_err("none").0, vec![Rejection::NoFace]);
    }

    #[test]
    fn no_face_in_a_black_or_burnt_frame_says_why() {
        let mut p = stub(vec![]);
        let black = RgbImage::from_pixel(320, 240, image::Rgb([10, 10, 10]));
        assert_eq!(p.frame(&black).expect_err("dark").codes(), ["no_face", "too_dark"]);
        let white = RgbImage::from_pixel(320, 240, image::Rgb([255, 255, 255]));
        assert_eq!(p.frame(&white).expect_err("bright").codes(), ["no_face", "too_bright"]);
    }

    #[test]
    fn stub_geometry_on_a_flat_frame_flags_blur_not_background() {
        // A flat light frame with a stub face: plain light background, no detail in the face.
        let frame = RgbImage::from_pixel(640, 480, image::Rgb([180, 170, 160]));
        let mut p = stub(vec![face(250, 150, 140)]);
        let r = p.frame(&frame).expect_err("flat face");
        assert_eq!(r.codes(), ["blurred", "background_not_light"]);
    }
}
