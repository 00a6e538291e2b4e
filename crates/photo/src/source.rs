//! Frame sources: where the station's photo comes from. The trait is where the camera and the
//! file meet, so capture, tests and CI run the same code with a camera, an uploaded file, a
//! folder played as frames, or a generated scene.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{ImageError, Rgb, RgbImage};

/// Why a source gave no frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// No camera on this machine. The station should fall back to a file or upload.
    #[error("no camera: {0}; use --source file:PATH (or an upload)")]
    NoCamera(String),
    /// This build has no camera support.
    #[error("no camera: this build has no camera support (cargo feature `webcam`); use --source file:PATH")]
    WebcamNotBuilt,
    /// The camera exists but failed (busy, unplugged, unsupported format).
    #[error("camera failed: {0}; use --source file:PATH (or an upload)")]
    Camera(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not a readable JPEG or PNG.
    #[error("{path}: not a readable JPEG/PNG: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: ImageError,
    },
    /// A folder with no JPEG or PNG in it.
    #[error("{0}: no .jpg, .jpeg or .png files")]
    NoImages(PathBuf),
    /// A source selector that names nothing known.
    #[error("unknown source {0:?}: use webcam[:N], file:PATH or synthetic[:WxH|:pattern]")]
    BadSelector(String),
}

impl SourceError {
    /// Whether this is the camera being absent or broken, after which the station goes on with
    /// a file or upload, as opposed to a bad file the operator should replace.
    pub fn is_camera_unavailable(&self) -> bool {
        matches!(self, SourceError::NoCamera(_) | SourceError::WebcamNotBuilt | SourceError::Camera(_))
    }
}

/// Anything that yields camera-like frames.
pub trait FrameSource {
    /// The next frame, 24-bit RGB.
    fn next_frame(&mut self) -> Result<RgbImage, SourceError>;

    /// What this source is, for the operator and the log ("file /x/a.jpg", "webcam /dev/video0").
    fn describe(&self) -> String;

    /// How many distinct frames it has, when finite: capture stops trying after that many.
    fn frame_count(&self) -> Option<usize> {
        None
    }
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn next_frame(&mut self) -> Result<RgbImage, SourceError> {
        (**self).next_frame()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn frame_count(&self) -> Option<usize> {
        (**self).frame_count()
    }
}

/// One JPEG/PNG file, or a folder of them played in name order, looping.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
}

impl FileSource {
    /// A file, or a folder whose `.jpg`/`.jpeg`/`.png` files become the frames.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SourceError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| SourceError::Io { path: path.clone(), source };
        let meta = std::fs::metadata(&path).map_err(io)?;
        let files = if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(SourceError::NoImages(path));
            }
            files
        } else {
            vec![path.clone()]
        };
        Ok(FileSource { path, files, next: 0 })
    }

    /// The frames, in play order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// Decode a JPEG or PNG (an upload, say) into a frame.
pub fn decode_frame(bytes: &[u8]) -> Result<RgbImage, ImageError> {
    Ok(image::load_from_memory(bytes)?.to_rgb8())
}

impl FrameSource for FileSource {
    fn next_frame(&mut self) -> Result<RgbImage, SourceError> {
        let path = &self.files[self.next % self.files.len()];
        self.next = (self.next + 1) % self.files.len();
        let bytes = std::fs::read(path).map_err(|source| SourceError::Io { path: path.clone(), source })?;
        decode_frame(&bytes).map_err(|source| SourceError::Decode { path: path.clone(), source })
    }

    fn describe(&self) -> String {
        if self.files.len() == 1 {
            format!("file {}", self.path.display())
        } else {
            format!("folder {} ({} frames)", self.path.display(), self.files.len())
        }
    }

    fn frame_count(&self) -> Option<usize> {
        Some(self.files.len())
    }
}

/// Head and shoulders of a public-domain portrait on white (see `testdata/README.md`): what the
/// synthetic source stands in front of its backdrop.
static PERSON_JPEG: &[u8] = include_bytes!("../testdata/cutout.jpg");

/// What the synthetic source shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// A person centred on a lit white backdrop: frames that pass.
    Applicant,
    /// A test pattern with no face.
    Pattern,
}

/// Generated frames for CI and demos: no camera, no files, deterministic, slightly different
/// from one frame to the next (position, noise) as a live camera's are.
#[derive(Debug, Clone)]
pub struct SyntheticSource {
    width: u32,
    height: u32,
    scene: Scene,
    person: RgbImage,
    n: u32,
}

impl SyntheticSource {
    /// `width` x `height` frames of `scene`.
    pub fn new(width: u32, height: u32, scene: Scene) -> Self {
        // The bytes are compiled in and tested; an empty person would only make frames fail.
        let person = decode_frame(PERSON_JPEG).unwrap_or_default();
        SyntheticSource { width: width.max(16), height: height.max(16), scene, person, n: 0 }
    }

    /// The person image pasted into applicant scenes.
    pub fn person(&self) -> &RgbImage {
        &self.person
    }
}

impl FrameSource for SyntheticSource {
    fn next_frame(&mut self) -> Result<RgbImage, SourceError> {
        let n = self.n;
        self.n = self.n.wrapping_add(1);
        let (w, h) = (self.width, self.height);
        let mut frame = match self.scene {
            Scene::Applicant => {
                let scale = f64::from(h) / 320.0;
                let sway = (f64::from(n % 5) - 2.0) * 0.004;
                studio_frame(w, h, &self.person, scale, 0.5 + sway)
            }
            Scene::Pattern => RgbImage::from_fn(w, h, |x, y| {
                let v = if ((x + n) / 40 + y / 40) & 1 == 0 { 60 } else { 200 };
                Rgb([v, v, (v / 2) + 60])
            }),
        };
        add_noise(&mut frame, n);
        Ok(frame)
    }

    fn describe(&self) -> String {
        let what = match self.scene {
            Scene::Applicant => "applicant",
            Scene::Pattern => "pattern",
        };
        format!("synthetic {what} {}x{}", self.width, self.height)
    }
}

/// A `w` x `h` frame of lit white backdrop (a faint vertical falloff) with `person` (on white)
/// scaled by `scale`, standing on the bottom edge, its centre at `cx` of the width. The white
/// of `person` is left out so the backdrop shows through.
pub fn studio_frame(w: u32, h: u32, person: &RgbImage, scale: f64, cx: f64) -> RgbImage {
    let mut frame = RgbImage::from_fn(w, h, |_, y| {
        let v = 246.0 - 10.0 * f64::from(y) / f64::from(h.max(1));
        Rgb([v as u8, v as u8, (v - 4.0) as u8])
    });
    paste_person(&mut frame, person, scale, cx);
    frame
}

/// Paste `person` (on white) into `frame`, scaled, standing on the bottom edge.
pub fn paste_person(frame: &mut RgbImage, person: &RgbImage, scale: f64, cx: f64) {
    let cw = ((f64::from(person.width()) * scale) as u32).max(1);
    let ch = ((f64::from(person.height()) * scale) as u32).max(1);
    let scaled = imageops::resize(person, cw, ch, FilterType::CatmullRom);
    let left = (f64::from(frame.width()) * cx) as i64 - i64::from(cw / 2);
    let top = i64::from(frame.height()) - i64::from(ch);
    for (x, y, p) in scaled.enumerate_pixels() {
        let (fx, fy) = (left + i64::from(x), top + i64::from(y));
        let inside = fx >= 0 && fy >= 0 && fx < i64::from(frame.width()) && fy < i64::from(frame.height());
        if inside && !p.0.iter().all(|&c| c >= 245) {
            frame.put_pixel(fx as u32, fy as u32, *p);
        }
    }
}

/// Mild deterministic sensor-like noise (±3).
fn add_noise(frame: &mut RgbImage, seed: u32) {
    let mut s = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453) | 1;
    for p in frame.pixels_mut() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let d = (s % 7) as i16 - 3;
        for c in &mut p.0 {
            *c = (i16::from(*c) + d).clamp(0, 255) as u8;
        }
    }
}

/// The `/dev/video*` devices present (empty off Linux or with no camera).
pub fn video_devices() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("video")))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_plays_in_name_order_and_loops() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, v) in [("b.png", 20u8), ("a.jpg", 200), ("c.PNG", 120)] {
            let img = RgbImage::from_pixel(8, 8, Rgb([v, v, v]));
            img.save(dir.path().join(name)).expect("save");
        }
        std::fs::write(dir.path().join("notes.txt"), "not a frame").expect("write");
        let mut s = FileSource::open(dir.path()).expect("open");
        assert_eq!(s.frame_count(), Some(3));
        let firsts: Vec<u8> = (0..4).map(|_| s.next_frame().expect("frame").get_pixel(0, 0).0[0]).collect();
        assert!(firsts[0] > 190 && firsts[1] == 20 && firsts[2] == 120 && firsts[3] > 190, "{firsts:?}");
        assert!(s.describe().contains("3 frames"));
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(FileSource::open(dir.path()), Err(SourceError::NoImages(_))));
        let bad = dir.path().join("x.jpg");
        std::fs::write(&bad, b"garbage").expect("write");
        let mut s = FileSource::open(&bad).expect("open");
        let e = s.next_frame().expect_err("garbage");
        assert!(e.to_string().contains("x.jpg"), "{e}");
        assert!(!e.is_camera_unavailable());
        assert!(matches!(FileSource::open(dir.path().join("none")), Err(SourceError::Io { .. })));
    }

    #[test]
    fn synthetic_frames_differ_and_have_the_size() {
        let mut s = SyntheticSource::new(320, 240, Scene::Applicant);
        assert!(s.person().width() > 100);
        let (a, b) = (s.next_frame().expect("a"), s.next_frame().expect("b"));
        assert_eq!(a.dimensions(), (320, 240));
        assert_ne!(a, b);
    }
}
