//! Sources by name: `webcam[:N]`, `file:PATH` (or a bare path), `synthetic[:WxH|:pattern]`,
//! and the fall-back from an absent or broken camera to a file or upload.

use std::path::Path;

use crate::source::{FileSource, FrameSource, Scene, SourceError, SyntheticSource};
#[cfg(feature = "webcam")]
use crate::webcam::Webcam;

/// Open the source a selector names:
/// `webcam` / `webcam:N` (camera index N), `file:PATH` or a bare existing PATH (a file or a
/// folder), `synthetic` / `synthetic:WxH` (an applicant on white, 640x480 by default),
/// `synthetic:pattern`.
pub fn open_source(selector: &str) -> Result<Box<dyn FrameSource>, SourceError> {
    let (kind, arg) = selector.split_once(':').unwrap_or((selector, ""));
    match kind {
        "webcam" | "camera" => {
            let index = if arg.is_empty() {
                0
            } else {
                arg.parse().map_err(|_| SourceError::BadSelector(selector.into()))?
            };
            open_webcam(index)
        }
        "file" if !arg.is_empty() => Ok(Box::new(FileSource::open(arg)?)),
        "synthetic" => {
            if arg == "pattern" {
                return Ok(Box::new(SyntheticSource::new(640, 480, Scene::Pattern)));
            }
            let (w, h) = if arg.is_empty() {
                (640, 480)
            } else {
                let (w, h) = arg.split_once('x').ok_or_else(|| SourceError::BadSelector(selector.into()))?;
                match (w.parse(), h.parse()) {
                    (Ok(w), Ok(h)) if (64..=8192).contains(&w) && (64..=8192).contains(&h) => (w, h),
                    _ => return Err(SourceError::BadSelector(selector.into())),
                }
            };
            Ok(Box::new(SyntheticSource::new(w, h, Scene::Applicant)))
        }
        _ if Path::new(selector).exists() => Ok(Box::new(FileSource::open(selector)?)),
        _ => Err(SourceError::BadSelector(selector.into())),
    }
}

/// Open `primary`; if it is a camera that is absent or broken and `fallback` is given, open
/// that instead and hand back the camera's error for the operator to see.
pub fn open_with_fallback(
    primary: &str,
    fallback: Option<&str>,
) -> Result<(Box<dyn FrameSource>, Option<SourceError>), SourceError> {
    match open_source(primary) {
        Ok(s) => Ok((s, None)),
        Err(e) if e.is_camera_unavailable() => match fallback {
            Some(f) => {
                tracing::warn!(error = %e, fallback = f, "camera unavailable, using the fallback source");
                Ok((open_source(f)?, Some(e)))
            }
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

#[cfg(feature = "webcam")]
fn open_webcam(index: u32) -> Result<Box<dyn FrameSource>, SourceError> {
    Ok(Box::new(Webcam::open(index)?))
}

#[cfg(not(feature = "webcam"))]
fn open_webcam(_index: u32) -> Result<Box<dyn FrameSource>, SourceError> {
    Err(SourceError::WebcamNotBuilt)
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::*;
    use crate::source::video_devices;

    #[test]
    fn selectors() {
        assert!(matches!(open_source("nonsense"), Err(SourceError::BadSelector(_))));
        assert!(matches!(open_source("synthetic:12xq"), Err(SourceError::BadSelector(_))));
        assert!(matches!(open_source("webcam:x"), Err(SourceError::BadSelector(_))));
        let s = open_source("synthetic:800x600").expect("synthetic");
        assert_eq!(s.describe(), "synthetic applicant 800x600");
        let mut p = open_source("synthetic:pattern").expect("pattern");
        assert_eq!(p.next_frame().expect("frame").dimensions(), (640, 480));
    }

    /// No camera here (CI, containers): the camera source says so, and the fallback is used.
    #[test]
    fn without_a_camera_the_station_falls_back_to_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("upload.png");
        RgbImage::from_pixel(8, 8, Rgb([1, 2, 3])).save(&f).expect("save");
        let fallback = format!("file:{}", f.display());
        match open_with_fallback("webcam", Some(&fallback)) {
            // A machine with a working camera: nothing to fall back from.
            Ok((s, None)) => assert!(s.describe().starts_with("webcam")),
            Ok((mut s, Some(e))) => {
                assert!(e.is_camera_unavailable());
                assert!(e.to_string().starts_with("no camera") || e.to_string().starts_with("camera failed"));
                assert!(e.to_string().contains("file:PATH"), "{e}");
                assert_eq!(s.next_frame().expect("frame").get_pixel(0, 0).0, [1, 2, 3]);
            }
            Err(e) => panic!("fallback not used: {e}"),
        }
        if video_devices().is_empty() {
            let e = open_source("webcam").err().expect("no camera here");
            assert!(e.to_string().starts_with("no camera"), "{e}");
            assert!(matches!(open_with_fallback("webcam", None), Err(ref e) if e.is_camera_unavailable()));
        }
    }
}
