//! Image measures behind the checks: luminance statistics, variance of the Laplacian
//! (sharpness), and the background strips beside and above the head.

use image::GrayImage;

/// A rectangle clamped to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// The part of `[x0, x1) x [y0, y1)` inside a `width` x `height` image.
    pub fn clamped(x0: f64, y0: f64, x1: f64, y1: f64, width: u32, height: u32) -> Rect {
        let cx = |v: f64| v.round().clamp(0.0, f64::from(width)) as u32;
        let cy = |v: f64| v.round().clamp(0.0, f64::from(height)) as u32;
        let (x0, x1, y0, y1) = (cx(x0), cx(x1), cy(y0), cy(y1));
        Rect { x: x0, y: y0, w: x1.saturating_sub(x0), h: y1.saturating_sub(y0) }
    }

    /// Pixel count.
    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }
}

/// Mean, standard deviation and clipped (>= 250) fraction of the luminance in a region.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Mean 0..255.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Fraction of pixels at 250 or above.
    pub clipped: f64,
    /// Pixels counted.
    pub count: u64,
}

/// Luminance statistics over the given regions taken together.
pub fn stats(gray: &GrayImage, regions: &[Rect]) -> Stats {
    let (mut n, mut sum, mut sq, mut clipped) = (0u64, 0f64, 0f64, 0u64);
    for r in regions {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                let v = gray.get_pixel(x, y).0[0];
                let f = f64::from(v);
                n += 1;
                sum += f;
                sq += f * f;
                clipped += u64::from(v >= 250);
            }
        }
    }
    if n == 0 {
        return Stats::default();
    }
    let mean = sum / n as f64;
    let var = (sq / n as f64 - mean * mean).max(0.0);
    Stats { mean, std: var.sqrt(), clipped: clipped as f64 / n as f64, count: n }
}

/// Variance of the 4-neighbour Laplacian inside `r`: high for crisp edges (eyes, hairline),
/// low for a soft image. The usual focus measure, cheap and free of parameters.
pub fn laplacian_variance(gray: &GrayImage, r: Rect) -> f64 {
    let (w, h) = gray.dimensions();
    let x0 = r.x.max(1);
    let y0 = r.y.max(1);
    let x1 = (r.x + r.w).min(w.saturating_sub(1));
    let y1 = (r.y + r.h).min(h.saturating_sub(1));
    let (mut n, mut sum, mut sq) = (0u64, 0f64, 0f64);
    let px = |x: u32, y: u32| i32::from(gray.get_pixel(x, y).0[0]);
    for y in y0..y1 {
        for x in x0..x1 {
            let l = px(x - 1, y) + px(x + 1, y) + px(x, y - 1) + px(x, y + 1) - 4 * px(x, y);
            let l = f64::from(l);
            n += 1;
            sum += l;
            sq += l * l;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let mean = sum / n as f64;
    sq / n as f64 - mean * mean
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn stats_of_known_regions() {
        let img = GrayImage::from_fn(10, 10, |x, _| Luma([if x < 5 { 100 } else { 255 }]));
        let left = Rect::clamped(0.0, 0.0, 5.0, 10.0, 10, 10);
        let s = stats(&img, &[left]);
        assert_eq!((s.mean, s.std, s.clipped, s.count), (100.0, 0.0, 0.0, 50));
        let all = stats(&img, &[Rect::clamped(-5.0, -5.0, 50.0, 50.0, 10, 10)]);
        assert_eq!((all.mean, all.clipped, all.count), (177.5, 0.5, 100));
        assert!((all.std - 77.5).abs() < 1e-9);
        assert_eq!(stats(&img, &[]).count, 0);
    }

    #[test]
    fn laplacian_separates_sharp_from_soft() {
        let sharp =
            GrayImage::from_fn(64, 64, |x, y| Luma([if (x / 4 + y / 4) % 2 == 0 { 40 } else { 220 }]));
        let soft = image::imageops::blur(&sharp, 3.0);
        let r = Rect { x: 0, y: 0, w: 64, h: 64 };
        assert!(laplacian_variance(&sharp, r) > 20.0 * laplacian_variance(&soft, r));
        let flat = GrayImage::from_pixel(16, 16, Luma([128]));
        assert_eq!(laplacian_variance(&flat, r), 0.0);
    }
}
