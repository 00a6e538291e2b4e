//! The camera: it opens and delivers frames large enough for a card photo.

use photo::{FrameSource, SourceError};

use crate::{Device, Report};

/// Frames tried before the camera is declared silent (a webcam's first frames may fail while
/// its exposure settles).
const ATTEMPTS: usize = 5;
/// The card photo's pixel size (358 x 441): a smaller frame cannot make one.
const MIN_SIZE: (u32, u32) = (358, 441);

/// Checks the frame source `selector` names; `opened` is it, or why it did not open.
///
/// A missing camera is a warning, not a blocker: applicants' photos can still come as files
/// (the applicant file names `photos/...`), but the face-to-face activation needs the camera.
pub fn check_camera(selector: &str, opened: Result<Box<dyn FrameSource>, SourceError>, report: &mut Report) {
    let zh = "接好摄像头的 USB 线（`ls /dev/video*` 应列出设备）；修好之前可使用申请人提供的照片文件，但当面激活金融功能需要摄像头";
    let en = "plug the camera's USB cable in (`ls /dev/video*` should list it); until then photos can come as files, but face-to-face activation needs the camera";
    let mut source = match opened {
        Ok(s) => s,
        Err(e) => {
            report.warn(Device::Camera, format!("no camera at \"{selector}\": {e}"), zh, en);
            return;
        }
    };
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        match source.next_frame() {
            Ok(frame) => {
                let (w, h) = frame.dimensions();
                if w < MIN_SIZE.0 || h < MIN_SIZE.1 {
                    report.warn(
                        Device::Camera,
                        format!(
                            "{}: frames of {w}x{h} are smaller than a card photo ({}x{})",
                            source.describe(),
                            MIN_SIZE.0,
                            MIN_SIZE.1
                        ),
                        "在摄像头设置中选择更高的分辨率（至少 640x480）",
                        "set the camera to a higher resolution (at least 640x480)",
                    );
                } else {
                    report.ok(Device::Camera, format!("{}: {w}x{h} frames", source.describe()));
                }
                return;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let why = last_error.map_or_else(String::new, |e| e.to_string());
    report.warn(Device::Camera, format!("{} delivers no frames: {why}", source.describe()), zh, en);
}
