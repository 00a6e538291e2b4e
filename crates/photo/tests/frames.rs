//! The shipped test frames (testdata/README.md) through the real detector, with the reason
//! each must give; the photos that pass, encoded and judged again as files.

use std::path::PathBuf;

use photo::cli::{self, CaptureArgs, CheckArgs, Form, SpecArgs};
use photo::encode::jfif_density;
use photo::{
    open_source, ByteLimits, FrameSource, PhotoError, PhotoProcessor, PhotoSpec, Rejection, Scene,
    SyntheticSource,
};

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

fn frame(name: &str) -> image::RgbImage {
    image::open(testdata(&format!("frames/{name}"))).expect("test frame").to_rgb8()
}

fn processor(spec: PhotoSpec) -> PhotoProcessor {
    PhotoProcessor::new(spec).expect("shipped model loads")
}

#[test]
fn each_failing_frame_gives_its_reason() {
    let mut p = processor(PhotoSpec::default());
    let cases: &[(&str, &[&str])] = &[
        ("fail_no_face.jpg", &["no_face"]),
        ("fail_two_faces.jpg", &["two_faces"]),
        ("fail_face_too_small.jpg", &["face_too_small"]),
        ("fail_too_dark.jpg", &["too_dark"]),
        ("fail_too_bright.jpg", &["too_bright"]),
        ("fail_blurred.jpg", &["blurred"]),
        ("fail_background_not_plain.jpg", &["background_not_plain", "background_not_light"]),
        ("fail_background_original.jpg", &["background_not_light"]),
        ("fail_off_centre.jpg", &["off_centre"]),
    ];
    for (name, want) in cases {
        match p.process(&frame(name)) {
            Err(PhotoError::Rejected(r)) => {
                assert_eq!(&r.codes(), want, "{name}: {r}");
                // Every reason reads in both languages.
                assert!(r.0.iter().all(|x| !x.message_zh().is_empty() && x.message().contains(" / ")));
            }
            other => panic!("{name}: expected rejection, got {other:?}"),
        }
    }
    let two = p.frame(&frame("fail_two_faces.jpg")).expect_err("two");
    assert_eq!(two.0, vec![Rejection::TwoFaces(2)]);
}

#[test]
fn passing_frames_make_photos_that_pass_the_file_check() {
    let forms = [
        PhotoSpec::card(ByteLimits::KB_9_20),
        PhotoSpec::card(ByteLimits::KB_14_40),
        PhotoSpec::card(ByteLimits::UNDER_100KB),
        PhotoSpec::one_inch(ByteLimits::KB_14_40),
    ];
    let mut p = processor(PhotoSpec::default());
    for (name, specs) in [
        ("pass_640x480.jpg", &forms[..]),
        ("pass_1920x1080.jpg", &forms[..1]),
        ("pass_portrait_1080x1440.jpg", &forms[3..]),
    ] {
        let f = frame(name);
        for &spec in specs {
            p.spec = spec;
            let photo = p.process(&f).unwrap_or_else(|e| panic!("{name} {spec:?}: {e}"));
            let n = photo.jpeg.len();
            assert!(spec.limits().contains(n), "{name}: {n} bytes for {spec:?}");
            assert_eq!(jfif_density(&photo.jpeg).and_then(|d| d.dpi()), Some(spec.dpi));
            let img = image::load_from_memory(&photo.jpeg).expect("decodes");
            assert_eq!((img.width(), img.height()), (spec.width, spec.height));
            assert_eq!(img.color(), image::ColorType::Rgb8);
            let m = photo.framed.measures;
            assert!((m.head_fraction - 2.0 / 3.0).abs() < 0.02, "{m:?}");
            let report = p.check(&photo.jpeg);
            assert!(report.passed(), "{name} {spec:?}: {:?}", report.rejections);
            let face = photo.framed.face;
            assert!((face.centre_x() - f64::from(spec.width) / 2.0).abs() < 0.05 * f64::from(spec.width));
        }
    }
}

#[test]
fn file_check_names_what_is_wrong_with_the_file() {
    let spec = PhotoSpec::card(ByteLimits::KB_9_20);
    let mut p = processor(spec);
    // A camera frame is not a card photo: wrong size, no 350 dpi, too large.
    let raw = std::fs::read(testdata("frames/pass_640x480.jpg")).expect("read");
    let r = p.check(&raw);
    let codes: Vec<_> = r.rejections.iter().map(Rejection::code).collect();
    assert!(codes.starts_with(&["file_too_large", "wrong_density", "wrong_size"]), "{codes:?}");
    // A PNG of the right size.
    let photo = processor(spec).process(&frame("pass_640x480.jpg")).expect("pass");
    let mut png = Vec::new();
    photo.framed.image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("png");
    let r = p.check(&png);
    assert!(r.rejections.contains(&Rejection::NotJpeg), "{:?}", r.rejections);
    // Grey JPEG.
    let grey = image::DynamicImage::ImageRgb8(photo.framed.image.clone()).to_luma8();
    let mut g = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut g, 90).encode_image(&grey).expect("grey");
    assert!(p.check(&g).rejections.contains(&Rejection::NotColour));
    // Garbage.
    let r = p.check(b"hello");
    assert_eq!(
        r.rejections,
        vec![Rejection::NotJpeg, Rejection::FileTooSmall { bytes: 5, min: spec.min_bytes }]
    );
    // A badly framed photo: the pass frame squeezed whole into 358x441 (head too small).
    let squeezed =
        image::imageops::resize(&frame("pass_640x480.jpg"), 358, 441, image::imageops::FilterType::Triangle);
    let jpeg = photo::encode::encode_within(&squeezed, &spec).expect("fits");
    let r = p.check(&jpeg.bytes);
    assert!(r.rejections.contains(&Rejection::HeadTooSmall), "{:?} {:?}", r.rejections, r.measures);
}

#[test]
fn real_detector_finds_the_one_face_in_the_source_photo() {
    use photo::FaceDetector;
    let img = image::open(testdata("source/astronaut.jpg")).expect("source").to_luma8();
    let mut d = photo::SeetaDetector::new().expect("model");
    let faces = d.detect(&img);
    assert_eq!(faces.len(), 1, "{faces:?}");
    let f = faces[0];
    // Her face is around x 175..270, y 70..165 in the 512 px original.
    assert!((f.centre_x() - 223.0).abs() < 15.0 && (f.centre_y() - 117.0).abs() < 15.0, "{f:?}");
    let none = image::open(testdata("source/coffee.jpg")).expect("coffee").to_luma8();
    assert!(d.detect(&none).is_empty());
}

#[test]
fn synthetic_source_passes_and_its_pattern_has_no_face() {
    let mut p = processor(PhotoSpec::default());
    for (w, h) in [(640, 480), (1280, 720)] {
        let mut s = SyntheticSource::new(w, h, Scene::Applicant);
        for _ in 0..2 {
            let f = s.next_frame().expect("frame");
            p.process(&f).unwrap_or_else(|e| panic!("{}: {e}", s.describe()));
        }
    }
    let mut s = open_source("synthetic:pattern").expect("pattern");
    let r = p.frame(&s.next_frame().expect("frame")).expect_err("no face");
    assert_eq!(r.codes()[0], "no_face");
}

fn spec_args() -> SpecArgs {
    SpecArgs { form: Form::Card, min_kb: 14, max_kb: 40 }
}

#[test]
fn capture_from_a_folder_skips_bad_frames_and_writes_the_first_good_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).expect("mkdir");
    for (i, name) in ["fail_blurred.jpg", "fail_too_dark.jpg", "pass_640x480.jpg"].iter().enumerate() {
        std::fs::copy(testdata(&format!("frames/{name}")), frames.join(format!("{i}.jpg"))).expect("copy");
    }
    let out = dir.path().join("photo.jpg");
    let args = CaptureArgs {
        source: format!("file:{}", frames.display()),
        fallback: None,
        out: out.clone(),
        frames: 30,
        spec: spec_args(),
    };
    let mut log = Vec::new();
    cli::run_capture(&args, &mut log).expect("capture");
    let log = String::from_utf8(log).expect("utf8");
    assert!(log.contains("frame 1: 照片模糊") && log.contains("frame 2: 光线太暗"), "{log}");
    assert!(log.contains("from folder") && log.contains("frame 3"), "{log}");
    let check = CheckArgs { file: out, spec: spec_args() };
    let mut text = Vec::new();
    cli::run_check(&check, &mut text).expect("written photo passes check");
    assert!(String::from_utf8(text).expect("utf8").contains("OK"));
}

#[test]
fn capture_without_a_camera_falls_back_to_the_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("photo.jpg");
    let upload = testdata("frames/pass_1920x1080.jpg");
    // Index 99: on a desk with a real camera this still exercises the fallback.
    let args = CaptureArgs {
        source: "webcam:99".into(),
        fallback: Some(format!("file:{}", upload.display())),
        out: out.clone(),
        frames: 5,
        spec: SpecArgs { form: Form::OneInch, min_kb: 9, max_kb: 20 },
    };
    let mut log = Vec::new();
    cli::run_capture(&args, &mut log).expect("fallback capture");
    let log = String::from_utf8(log).expect("utf8");
    if photo::source::video_devices().is_empty() {
        assert!(log.starts_with("no camera"), "{log}");
    }
    let bytes = std::fs::read(&out).expect("written");
    assert_eq!(jfif_density(&bytes).and_then(|d| d.dpi()), Some(300));
    // Without a fallback the same command fails with the camera's reason, not a panic.
    if photo::source::video_devices().is_empty() {
        let e = cli::run_capture(&CaptureArgs { fallback: None, ..args }, &mut Vec::new())
            .expect_err("no camera");
        assert!(e.to_string().starts_with("no camera"), "{e}");
    }
}

#[test]
fn capture_gives_up_with_the_last_reasons_and_check_refuses_a_bad_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = CaptureArgs {
        source: format!("file:{}", testdata("frames/fail_two_faces.jpg").display()),
        fallback: None,
        out: dir.path().join("x.jpg"),
        frames: 30,
        spec: spec_args(),
    };
    let e = cli::run_capture(&args, &mut Vec::new()).expect_err("two faces");
    assert!(matches!(e, cli::CliError::NoGoodFrame { frames: 1, .. }), "{e}");
    assert!(e.to_string().contains("2 faces"), "{e}");
    assert!(!args.out.exists());
    let check = CheckArgs { file: testdata("frames/fail_too_dark.jpg"), spec: spec_args() };
    let mut text = Vec::new();
    let e = cli::run_check(&check, &mut text).expect_err("refused");
    assert!(matches!(e, cli::CliError::Refused(_)));
    let text = String::from_utf8(text).expect("utf8");
    assert!(text.contains("- 照片尺寸为640×480像素") && text.contains("光线太暗"), "{text}");
}
