//! The card photo: from a frame source (camera, file, generated scene) to a JPEG the
//! province accepts, and the verdict on a given file.
//!
//! - [`source`]: the [`FrameSource`] trait where the camera and the file meet;
//!   [`FileSource`], [`SyntheticSource`], and `Webcam` with the cargo feature `webcam`
//!   (V4L2 through nokhwa).
//! - [`selector`]: a source by name ([`open_source`]); without a camera the station falls
//!   back to a file or upload ([`open_with_fallback`]).
//! - [`detect`]: the [`FaceDetector`] trait; [`SeetaDetector`] ships its model compiled in.
//! - [`process`]: crop to the card geometry (head about 2/3 of the height, face centred),
//!   check exposure, sharpness and background, encode ([`PhotoProcessor`]).
//! - [`reject`]: each refusal as a [`Rejection`] with a Chinese and English message that says
//!   what to do.
//! - [`encode`]: JPEG with the JFIF density of the spec, quality searched to fit the byte
//!   limits.
//! - [`spec`]: [`PhotoSpec`] (358 x 441 at 350 dpi, or the 295 x 413 1-inch form at 300 dpi),
//!   [`ByteLimits`] and [`PhotoPolicy`] (who may have no photo): profile settings.
//! - [`cli`]: clap arguments and runners for `station photo capture` and `station photo check`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod detect;
pub mod encode;
pub mod measure;
pub mod process;
pub mod reject;
pub mod selector;
pub mod source;
pub mod spec;
#[cfg(feature = "webcam")]
pub mod webcam;

pub use detect::{FaceBox, FaceDetector, SeetaDetector};
pub use encode::{encode_within, jfif_density, EncodeError};
pub use process::{CardPhoto, CheckReport, PhotoError, PhotoProcessor};
pub use reject::{Edge, Rejection, Rejections};
pub use selector::{open_source, open_with_fallback};
pub use source::{FileSource, FrameSource, Scene, SourceError, SyntheticSource};
pub use spec::{ByteLimits, PhotoPolicy, PhotoSpec};
#[cfg(feature = "webcam")]
pub use webcam::Webcam;
