//! What one photo costs: time per processed frame (detect, crop, check, encode with the
//! quality search; median of N, the detector built once as a station does) at 640x480 and
//! 1920x1080, split into detection and encoding, and the output sizes per profile.
//! Run with `cargo bench -p photo`.

use std::time::{Duration, Instant};

use image::imageops;
use photo::{encode_within, ByteLimits, FaceDetector, PhotoProcessor, PhotoSpec, SeetaDetector};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    const N: usize = 11;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/frames");
    let t0 = Instant::now();
    let mut processor = PhotoProcessor::new(PhotoSpec::default()).expect("model");
    let mut detector = SeetaDetector::new().expect("model");
    println!("model load: {:.1} ms", ms(t0.elapsed()));
    let profiles = [
        ("card 9-20 KB", PhotoSpec::card(ByteLimits::KB_9_20)),
        ("card 14-40 KB", PhotoSpec::card(ByteLimits::KB_14_40)),
        ("card <100 KB", PhotoSpec::card(ByteLimits::UNDER_100KB)),
        ("1-inch 14-40 KB", PhotoSpec::one_inch(ByteLimits::KB_14_40)),
    ];
    for name in ["pass_640x480.jpg", "pass_1920x1080.jpg"] {
        let frame = image::open(dir.join(name)).expect("frame").to_rgb8();
        let (w, h) = frame.dimensions();
        let gray = imageops::grayscale(&frame);
        let detect: Vec<Duration> = (0..N)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(detector.detect(&gray).len(), 1);
                t.elapsed()
            })
            .collect();
        println!("{w}x{h}: detect {:.1} ms (median of {N})", ms(median(detect)));
        for (label, spec) in profiles {
            processor.spec = spec;
            let mut total = Vec::new();
            let mut last = None;
            for _ in 0..N {
                let t = Instant::now();
                let photo = processor.process(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
                total.push(t.elapsed());
                last = Some(photo);
            }
            let photo = last.expect("N > 0");
            let enc: Vec<Duration> = (0..N)
                .map(|_| {
                    let t = Instant::now();
                    encode_within(&photo.framed.image, &spec).expect("fits");
                    t.elapsed()
                })
                .collect();
            println!(
                "{w}x{h} -> {label:16} {:6.1} ms per photo (encode search {:5.1} ms), {:6} bytes, quality {}",
                ms(median(total)),
                ms(median(enc)),
                photo.jpeg.len(),
                photo.quality
            );
        }
    }
}
