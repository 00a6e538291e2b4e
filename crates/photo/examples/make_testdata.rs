//! Regenerates the test frames under `testdata/frames/` from the two public-domain/CC0 source
//! photos in `testdata/source/` (see `testdata/README.md`):
//! `cargo run -p photo --example make_testdata`.
//!
//! The astronaut's studio backdrop is flood-filled to white and the person cut to head and
//! shoulders (`testdata/cutout.png`, also what the synthetic source pastes); each frame then
//! stages one situation at the counter.

use std::collections::VecDeque;
use std::path::Path;

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use photo::source::{paste_person, studio_frame};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let astronaut = image::open(dir.join("source/astronaut.jpg"))?.to_rgb8();
    let coffee = image::open(dir.join("source/coffee.jpg"))?.to_rgb8();
    let cut = cutout(&astronaut);
    let mut f = std::fs::File::create(dir.join("cutout.jpg"))?;
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 90).encode_image(&cut)?;
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames)?;
    let save = |name: &str, img: &RgbImage| -> Result<(), Box<dyn std::error::Error>> {
        let path = frames.join(name);
        let mut f = std::fs::File::create(&path)?;
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 90).encode_image(img)?;
        println!("{}", path.display());
        Ok(())
    };

    // Passes: the applicant centred on the white backdrop at webcam and full-HD sizes.
    let studio = studio_frame(640, 480, &cut, 1.5, 0.5);
    save("pass_640x480.jpg", &studio)?;
    save("pass_1920x1080.jpg", &studio_frame(1920, 1080, &cut, 3.3, 0.5))?;
    save("pass_portrait_1080x1440.jpg", &studio_frame(1080, 1440, &cut, 3.6, 0.45))?;

    // Fails, one reason each.
    save("fail_no_face.jpg", &RgbImage::from_pixel(640, 480, Rgb([236, 236, 232])))?;
    save("fail_two_faces.jpg", &two_people(&cut))?;
    save("fail_face_too_small.jpg", &studio_frame(640, 480, &cut, 0.55, 0.5))?;
    save("fail_too_dark.jpg", &map(&studio, |v| (f64::from(v) * 0.22) as u8))?;
    save("fail_too_bright.jpg", &map(&studio, |v| (f64::from(v) * 1.3 + 45.0).min(255.0) as u8))?;
    save("fail_blurred.jpg", &imageops::blur(&studio, 4.0))?;
    save("fail_background_not_plain.jpg", &on_background(&cut, &coffee))?;
    // The original studio shot, as a 768 px frame: mottled grey-blue backdrop.
    save("fail_background_original.jpg", &imageops::resize(&astronaut, 768, 768, FilterType::CatmullRom))?;
    save("fail_off_centre.jpg", &studio_frame(640, 480, &cut, 1.5, 0.16))?;
    Ok(())
}

/// Head and shoulders of the astronaut on white: the backdrop flood-filled from seeds on it,
/// and everything outside a rough person outline (flag, shuttle model, helmet) whited out.
fn cutout(src: &RgbImage) -> RgbImage {
    let rows = 300.min(src.height());
    let mut out = imageops::crop_imm(src, 0, 0, src.width(), rows).to_image();
    let (w, h) = out.dimensions();
    let inside = |x: u32, y: u32| -> bool {
        let (x, y) = (f64::from(x), f64::from(y));
        if y < 160.0 {
            let (dx, dy) = ((x - 224.0) / 88.0, (y - 100.0) / 100.0);
            dx * dx + dy * dy <= 1.0
        } else {
            x >= 112.0 - (y - 160.0) * 0.45 && x <= 362.0
        }
    };
    let backdrop = |p: &Rgb<u8>| {
        let (mx, mn) = (p.0.iter().max().copied().unwrap_or(0), p.0.iter().min().copied().unwrap_or(0));
        let l = luma(p);
        l > 115.0 && mx - mn < 52
    };
    let mut white = vec![false; (w * h) as usize];
    let mut queue = VecDeque::new();
    for (x, y) in [(150, 12), (300, 12), (140, 150), (320, 150), (330, 60), (120, 60), (340, 250), (350, 180)]
    {
        queue.push_back((x, y));
    }
    while let Some((x, y)) = queue.pop_front() {
        let i = (y * w + x) as usize;
        if white[i] || !backdrop(out.get_pixel(x, y)) {
            continue;
        }
        white[i] = true;
        if x > 0 {
            queue.push_back((x - 1, y));
        }
        if x + 1 < w {
            queue.push_back((x + 1, y));
        }
        if y > 0 {
            queue.push_back((x, y - 1));
        }
        if y + 1 < h {
            queue.push_back((x, y + 1));
        }
    }
    for y in 0..h {
        for x in 0..w {
            if white[(y * w + x) as usize] || !inside(x, y) {
                out.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
    }
    out
}

fn luma(p: &Rgb<u8>) -> f64 {
    0.299 * f64::from(p.0[0]) + 0.587 * f64::from(p.0[1]) + 0.114 * f64::from(p.0[2])
}

fn two_people(cut: &RgbImage) -> RgbImage {
    let mut frame = studio_frame(640, 480, cut, 1.0, 0.3);
    paste_person(&mut frame, &imageops::flip_horizontal(cut), 1.0, 0.72);
    frame
}

fn on_background(cut: &RgbImage, bg: &RgbImage) -> RgbImage {
    let mut frame = imageops::resize(bg, 640, 480, FilterType::Triangle);
    paste_person(&mut frame, cut, 1.5, 0.5);
    frame
}

fn map(img: &RgbImage, f: impl Fn(u8) -> u8) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in &mut p.0 {
            *c = f(*c);
        }
    }
    out
}
