//! Face detection behind a trait, so geometry and checks can be tested with a stub and the
//! detector swapped without touching them. The shipped detector is SeetaFace (rustface) with
//! its model compiled in: the station needs no model file on disk and no download.

use image::imageops::FilterType;
use image::GrayImage;

/// A face found in an image, in that image's pixels. The SeetaFace box runs roughly from the
/// eyebrows to the chin and from cheek to cheek; the hair and ears are outside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge (may be negative near the border).
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Detector confidence (SeetaFace scores: about 2 and up for a clear face).
    pub score: f64,
}

impl FaceBox {
    /// Horizontal centre.
    pub fn centre_x(&self) -> f64 {
        f64::from(self.x) + f64::from(self.width) / 2.0
    }

    /// Vertical centre.
    pub fn centre_y(&self) -> f64 {
        f64::from(self.y) + f64::from(self.height) / 2.0
    }

    /// The same box in an image scaled by `k`.
    pub fn scaled(&self, k: f64) -> FaceBox {
        FaceBox {
            x: (f64::from(self.x) * k).round() as i32,
            y: (f64::from(self.y) * k).round() as i32,
            width: (f64::from(self.width) * k).round() as u32,
            height: (f64::from(self.height) * k).round() as u32,
            score: self.score,
        }
    }
}

/// Anything that finds faces in a grey image.
pub trait FaceDetector {
    /// All faces found, in any order.
    fn detect(&mut self, image: &GrayImage) -> Vec<FaceBox>;
}

impl<D: FaceDetector + ?Sized> FaceDetector for Box<D> {
    fn detect(&mut self, image: &GrayImage) -> Vec<FaceBox> {
        (**self).detect(image)
    }
}

/// The SeetaFace frontal model (BSD-2, VIPL ICT CAS; see `models/`).
static SEETA_MODEL: &[u8] = include_bytes!("../models/seeta_fd_frontal_v1.0.bin");

/// Why the detector could not be built.
#[derive(Debug, thiserror::Error)]
#[error("face model unreadable: {0}")]
pub struct ModelError(#[from] std::io::Error);

/// SeetaFace frontal face detector with the shipped model.
pub struct SeetaDetector {
    inner: Box<dyn rustface::Detector>,
    /// Frames are scaled down to this longest side before detection: the detector's cost grows
    /// with the area, and a card photo's face is large in any sensible framing.
    pub work_size: u32,
}

impl SeetaDetector {
    /// The detector with its compiled-in model and settings tuned for a head-and-shoulders
    /// frame (smallest face 40 px at the working size).
    pub fn new() -> Result<Self, ModelError> {
        let model = rustface::read_model(SEETA_MODEL)?;
        let mut inner = rustface::create_detector_with_model(model);
        inner.set_min_face_size(40);
        inner.set_score_thresh(2.0);
        inner.set_pyramid_scale_factor(0.8);
        inner.set_slide_window_step(4, 4);
        Ok(SeetaDetector { inner, work_size: 640 })
    }
}

impl std::fmt::Debug for SeetaDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeetaDetector").field("work_size", &self.work_size).finish_non_exhaustive()
    }
}

impl FaceDetector for SeetaDetector {
    fn detect(&mut self, image: &GrayImage) -> Vec<FaceBox> {
        let (w, h) = image.dimensions();
        if w < 20 || h < 20 {
            return Vec::new();
        }
        let longest = w.max(h);
        let scaled;
        let (img, k) = if longest > self.work_size {
            let k = f64::from(self.work_size) / f64::from(longest);
            let (sw, sh) =
                (((f64::from(w) * k).round() as u32).max(1), ((f64::from(h) * k).round() as u32).max(1));
            scaled = image::imageops::resize(image, sw, sh, FilterType::Triangle);
            (&scaled, f64::from(w) / f64::from(sw))
        } else {
            (image, 1.0)
        };
        let data = rustface::ImageData::new(img.as_raw(), img.width(), img.height());
        self.inner
            .detect(&data)
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox { x: b.x(), y: b.y(), width: b.width(), height: b.height(), score: f.score() }
                    .scaled(k)
            })
            .collect()
    }
}

/// A detector that returns fixed boxes, for tests of geometry and checks.
#[derive(Debug, Clone, Default)]
pub struct FixedDetector(pub Vec<FaceBox>);

impl FaceDetector for FixedDetector {
    fn detect(&mut self, _image: &GrayImage) -> Vec<FaceBox> {
        self.0.clone()
    }
}
