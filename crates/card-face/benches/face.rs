//! What one face costs: the time to render, separate and pack it (median of N, the font
//! loaded once as a station does), and the bytes of panel data sent per card. Run with
//! `cargo bench -p card-face` (needs the Debian package fonts-arphic-uming).

use std::time::{Duration, Instant};

use card_face::image::{Rgb, RgbImage};
use card_face::{composite, pack, pack_with, render, separate, unpack, FaceData, FaceFont, Photo, Template};
use evolis::{encode_to_vec, Levels};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    const N: usize = 21;
    let template = Template::builtin("ssc-3g").expect("template");
    let start = Instant::now();
    let font = FaceFont::for_template(&template, None).unwrap_or_else(|e| panic!("{e}"));
    let font_load = start.elapsed();
    let data = FaceData {
        name: "张三".into(),
        ssn: "11010519491231002X".into(),
        card_number: "X00000019".into(),
        issue_date: "2026-11-22".into(),
        photo: Some(Photo::Rgb(RgbImage::from_fn(358, 441, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))),
        ..FaceData::default()
    };

    let (mut t_render, mut t_separate, mut t_pack, mut t_total) = (vec![], vec![], vec![], vec![]);
    let mut downloads = Vec::new();
    for _ in 0..N {
        let t0 = Instant::now();
        let face = render(&template, &font, &data).expect("render");
        let t1 = Instant::now();
        let panels = separate(&face);
        let t2 = Instant::now();
        downloads = pack(&panels).expect("pack");
        let t3 = Instant::now();
        t_render.push(t1 - t0);
        t_separate.push(t2 - t1);
        t_pack.push(t3 - t2);
        t_total.push(t3 - t0);
    }
    let mut t_back = vec![];
    for _ in 0..N {
        let t0 = Instant::now();
        let img = composite(&unpack(&downloads).expect("unpack"));
        t_back.push(t0.elapsed());
        assert_eq!(img.width(), 1016);
    }

    let data_bytes: usize = downloads.iter().map(|d| d.data().len()).sum();
    let wire_bytes: usize = downloads.iter().map(|d| encode_to_vec(d).len()).sum();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("font load (once):                  {:.1} ms", ms(font_load));
    println!("render (median of {N}):             {:.2} ms", ms(median(t_render)));
    println!("separate (median):                 {:.2} ms", ms(median(t_separate)));
    println!("pack (median):                     {:.2} ms", ms(median(t_pack)));
    println!("render + separate + pack (median): {:.2} ms", ms(median(t_total)));
    println!("unpack + composite (median):       {:.2} ms", ms(median(t_back)));
    for d in &downloads {
        println!("  Db;{};{}: {} bytes", d.panel().letter(), d.levels().value(), d.data().len());
    }
    println!("panel data per card (YMC 128):     {data_bytes} bytes");
    println!("Db commands on the wire per card:  {wire_bytes} bytes");
    for levels in [Levels::L64, Levels::L32] {
        let panels = unpack(&downloads).expect("unpack");
        let bytes: usize = pack_with(&panels, levels).expect("pack").iter().map(|d| d.data().len()).sum();
        println!("panel data per card (YMC {:>3}):     {bytes} bytes", levels.value());
    }
}
