//! A USB (UVC) camera through V4L2, via nokhwa. Compiled with the cargo feature `webcam`.

use image::RgbImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};
use nokhwa::Camera;

use crate::source::{video_devices, FrameSource, SourceError};

/// An open camera streaming frames.
pub struct Webcam {
    camera: Camera,
    name: String,
}

impl std::fmt::Debug for Webcam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webcam").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Webcam {
    /// Open camera `index` (`/dev/video<index>` on Linux) near 1280x720 and start streaming.
    /// With no `/dev/video*` at all this fails at once with [`SourceError::NoCamera`], without
    /// touching the driver, so a counter without a camera gets a plain message.
    pub fn open(index: u32) -> Result<Self, SourceError> {
        let devices = video_devices();
        if devices.is_empty() {
            return Err(SourceError::NoCamera("no /dev/video* device".into()));
        }
        let wanted = CameraFormat::new(Resolution::new(1280, 720), FrameFormat::MJPEG, 30);
        let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
        let mut camera = Camera::new(CameraIndex::Index(index), request).map_err(|e| {
            let list: Vec<String> = devices.iter().map(|d| d.display().to_string()).collect();
            SourceError::Camera(format!("camera {index} ({}): {e}", list.join(", ")))
        })?;
        camera.open_stream().map_err(|e| SourceError::Camera(format!("camera {index}: {e}")))?;
        let name = format!("webcam {} {}", camera.info().human_name(), camera.camera_format());
        tracing::info!(camera = %name, "camera open");
        Ok(Webcam { camera, name })
    }
}

impl FrameSource for Webcam {
    fn next_frame(&mut self) -> Result<RgbImage, SourceError> {
        let buf = self.camera.frame().map_err(|e| SourceError::Camera(e.to_string()))?;
        let res = buf.resolution();
        if buf.source_frame_format() == FrameFormat::MJPEG {
            // Decoded here with the pure-Rust JPEG decoder instead of nokhwa's mozjpeg (C).
            return crate::source::decode_frame(buf.buffer())
                .map_err(|e| SourceError::Camera(format!("bad MJPEG frame: {e}")));
        }
        let img = buf.decode_image::<RgbFormat>().map_err(|e| SourceError::Camera(e.to_string()))?;
        RgbImage::from_raw(res.width(), res.height(), img.into_raw())
            .ok_or_else(|| SourceError::Camera("frame size does not match its resolution".into()))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}
