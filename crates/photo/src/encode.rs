//! JPEG at the card's density, with the quality searched to land inside the province's byte
//! limits, and a reader for the JFIF density so a given file can be checked.

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::{ImageError, RgbImage};

use crate::spec::PhotoSpec;

/// Why no JPEG inside the byte limits could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Even the lowest quality is over the limit: the limit is too low for this pixel size.
    #[error("even quality 1 gives {bytes} bytes, over the profile's maximum of {max}")]
    TooLargeAtLowestQuality {
        /// Size at quality 1.
        bytes: usize,
        /// The profile's maximum.
        max: usize,
    },
    /// The best quality under the maximum is still under the minimum (a very plain image,
    /// or a range too narrow for the quality steps).
    #[error("quality {quality} gives {bytes} bytes, under the profile's minimum of {min} (max {max})")]
    TooSmall {
        /// Highest quality that stayed under the maximum.
        quality: u8,
        /// Its size.
        bytes: usize,
        /// The profile's minimum.
        min: usize,
        /// The profile's maximum.
        max: usize,
    },
    /// The encoder failed.
    #[error("JPEG encoder: {0}")]
    Image(#[from] ImageError),
}

/// A JPEG inside the byte limits and the quality that made it.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The file.
    pub bytes: Vec<u8>,
    /// JPEG quality 1..=100.
    pub quality: u8,
}

/// Baseline 24-bit JPEG with a JFIF density of `dpi` in both directions.
pub fn encode_jpeg(image: &RgbImage, quality: u8, dpi: u16) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut enc = JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    enc.set_pixel_density(PixelDensity::dpi(dpi));
    enc.encode_image(image)?;
    Ok(out)
}

/// The highest quality whose file fits under `spec.max_bytes`, found by binary search (size
/// grows with quality), refused if it is then under `spec.min_bytes`.
pub fn encode_within(image: &RgbImage, spec: &PhotoSpec) -> Result<Encoded, EncodeError> {
    let at = |q: u8| encode_jpeg(image, q, spec.dpi);
    let mut best: Option<(u8, Vec<u8>)> = None;
    let (mut lo, mut hi) = (1u8, 100u8);
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let bytes = at(mid)?;
        if bytes.len() <= spec.max_bytes {
            best = Some((mid, bytes));
            lo = mid + 1;
        } else if mid == 1 {
            return Err(EncodeError::TooLargeAtLowestQuality { bytes: bytes.len(), max: spec.max_bytes });
        } else {
            hi = mid - 1;
        }
    }
    // The search only ends without a fit by having tried quality 1, which returned above.
    let Some((best_q, best)) = best else {
        return Err(EncodeError::TooLargeAtLowestQuality { bytes: usize::MAX, max: spec.max_bytes });
    };
    if best.len() < spec.min_bytes {
        return Err(EncodeError::TooSmall {
            quality: best_q,
            bytes: best.len(),
            min: spec.min_bytes,
            max: spec.max_bytes,
        });
    }
    Ok(Encoded { bytes: best, quality: best_q })
}

/// The density in a JFIF APP0 segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Density {
    /// 0: aspect ratio only, 1: dots per inch, 2: dots per centimetre.
    pub unit: u8,
    /// Horizontal density.
    pub x: u16,
    /// Vertical density.
    pub y: u16,
}

impl Density {
    /// Dots per inch when both directions agree and the unit is physical.
    pub fn dpi(&self) -> Option<u16> {
        if self.x != self.y {
            return None;
        }
        match self.unit {
            1 => Some(self.x),
            2 => u16::try_from((u32::from(self.x) * 254 + 50) / 100).ok(),
            _ => None,
        }
    }
}

/// The JFIF density of a JPEG file, if it has a JFIF APP0 segment before the image data.
pub fn jfif_density(jpeg: &[u8]) -> Option<Density> {
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None; // start of scan: no more headers
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        let body = jpeg.get(i + 4..i + 2 + len)?;
        if marker == 0xE0 && body.len() >= 12 && &body[..5] == b"JFIF\0" {
            return Some(Density {
                unit: body[7],
                x: u16::from_be_bytes([body[8], body[9]]),
                y: u16::from_be_bytes([body[10], body[11]]),
            });
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ByteLimits;

    /// Texture so that the size depends on the quality as in a photo.
    fn textured(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 3;
            image::Rgb([(v & 0xFF) as u8 / 2 + 100, ((x + y) % 256) as u8, ((v >> 8) & 0xFF) as u8])
        })
    }

    #[test]
    fn density_reads_back_as_written() {
        let jpeg = encode_jpeg(&textured(358, 441), 80, 350).expect("encode");
        let d = jfif_density(&jpeg).expect("JFIF APP0");
        assert_eq!(d, Density { unit: 1, x: 350, y: 350 });
        assert_eq!(d.dpi(), Some(350));
        let one_inch = encode_jpeg(&textured(295, 413), 80, 300).expect("encode");
        assert_eq!(jfif_density(&one_inch).and_then(|d| d.dpi()), Some(300));
        let decoded = image::load_from_memory(&jpeg).expect("decode");
        assert_eq!(decoded.color(), image::ColorType::Rgb8);
    }

    #[test]
    fn dots_per_cm_convert_and_garbage_is_none() {
        assert_eq!(Density { unit: 2, x: 138, y: 138 }.dpi(), Some(351));
        assert_eq!(Density { unit: 0, x: 1, y: 1 }.dpi(), None);
        assert_eq!(jfif_density(b"not a jpeg"), None);
        assert_eq!(jfif_density(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]), None);
    }

    #[test]
    fn search_lands_inside_every_provincial_range() {
        let img = textured(358, 441);
        for limits in [ByteLimits::KB_9_20, ByteLimits::KB_14_40, ByteLimits::UNDER_100KB] {
            let spec = PhotoSpec::card(limits);
            let e = encode_within(&img, &spec).expect("fits");
            assert!(
                limits.contains(e.bytes.len()),
                "{} bytes at q{} for {limits:?}",
                e.bytes.len(),
                e.quality
            );
            // Highest quality that fits: one step up no longer fits (unless already at 100).
            if e.quality < 100 {
                let up = encode_jpeg(&img, e.quality + 1, spec.dpi).expect("encode");
                assert!(up.len() > limits.max);
            }
        }
    }

    #[test]
    fn impossible_limits_are_errors() {
        let img = textured(358, 441);
        let tiny = PhotoSpec { max_bytes: 500, ..PhotoSpec::card(ByteLimits::KB_9_20) };
        assert!(matches!(encode_within(&img, &tiny), Err(EncodeError::TooLargeAtLowestQuality { .. })));
        let flat = RgbImage::from_pixel(358, 441, image::Rgb([250, 250, 250]));
        let spec = PhotoSpec::card(ByteLimits::KB_9_20);
        assert!(matches!(encode_within(&flat, &spec), Err(EncodeError::TooSmall { quality: 100, .. })));
    }
}
