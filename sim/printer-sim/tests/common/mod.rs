//! Shared pieces of the end-to-end tests and the card benchmark: a print job, a station's
//! face, the full card, short timeouts, and the ways to connect the driver to a running
//! simulator.
#![allow(dead_code)]

use std::time::Duration;

use card_face::image::{Rgb, RgbImage};
use card_face::{FaceData, Panels, Photo, Renderer, Template};
use evolis::{DownloadBitmap, Levels, Panel};
use printer::transport::{SerialTransport, TcpTransport, UsbLpTransport};
use printer::{
    CardWhereabouts, EvolisPrinter, Plane, PrintJob, Printer, PrinterError, PrinterTransport, Station,
    Timeouts,
};
use printer_sim::{
    serve, CardPlace, MemoryTransport, ModelConfig, PrinterState, SimHandle, SimPrinterConfig,
};

/// Which link the driver uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The pty slave opened as a serial port.
    Pty,
    /// The pty slave opened as a USB printer-class device node (a plain file).
    PtyAsLp,
    /// TCP loopback.
    Tcp,
    /// The in-memory duplex.
    Memory,
}

/// Timeouts short enough that a lost reply costs little, long enough for a loaded CI box.
pub fn timeouts() -> Timeouts {
    Timeouts {
        command: Duration::from_millis(1500),
        print: Duration::from_secs(5),
        station: Duration::from_secs(2),
        poll: Duration::from_millis(2),
    }
}

/// The printer's name of a ribbon panel, by its letter.
fn job_panel(letter: char) -> printer::Panel {
    use printer::Panel::*;
    [Y, M, C, K, O].into_iter().find(|p| p.letter() == letter).expect("a ribbon panel")
}

/// card-face's name of a ribbon panel, by its letter.
fn face_panel(letter: char) -> card_face::Panel {
    card_face::PRINT_ORDER.into_iter().find(|p| p.letter() == letter).expect("a ribbon panel")
}

/// The job for card-face's panels, as the station makes it.
pub fn job_of(panels: Panels) -> PrintJob {
    let planes = panels.into_planes().into_iter().map(|(p, dots)| Plane::new(job_panel(p.letter()), dots));
    PrintJob::new(planes.collect::<Result<_, _>>().expect("whole planes")).expect("job")
}

/// What the printer is sent for `job` (the driver's `Db` downloads), back as card-face's
/// panels.
pub fn sent_panels(job: &PrintJob) -> Panels {
    let mut panels = Panels::blank();
    for d in printer::evolis_downloads(job).expect("downloads") {
        panels.plane_mut(face_panel(d.panel().letter())).copy_from_slice(&d.densities());
    }
    panels
}

/// A face with something on every panel: graded dye bands, a resin barcode-like stripe
/// pattern, and an overlay with a hole over the chip. Given as the `Db` payloads the printer
/// must receive, taken back to densities for the job (the driver packs them to the same
/// bytes).
pub fn job() -> PrintJob {
    let dye = |panel: Panel, seed: u8| {
        let data: Vec<u8> = (0..Levels::L128.panel_len()).map(|i| (i / 4096) as u8 ^ seed).collect();
        DownloadBitmap::new(panel, Levels::L128, data).expect("dye panel")
    };
    let mut k = vec![0u8; Levels::L2.panel_len()];
    for line in 100..300 {
        for byte in 10..40 {
            k[line * 81 + byte] = if (line / 8) % 2 == 0 { 0xF0 } else { 0x0F };
        }
    }
    let mut o = vec![0xFF; Levels::L2.panel_len()];
    for line in 150..300 {
        for byte in 40..60 {
            o[line * 81 + byte] = 0;
        }
    }
    let downloads = [
        dye(Panel::Y, 0x11),
        dye(Panel::M, 0x22),
        dye(Panel::C, 0x33),
        DownloadBitmap::new(Panel::K, Levels::L2, k).expect("k panel"),
        DownloadBitmap::new(Panel::O, Levels::L2, o).expect("o panel"),
    ];
    let planes = downloads.iter().map(|d| Plane::new(job_panel(d.panel().letter()), d.densities()));
    let job = PrintJob::new(planes.collect::<Result<_, _>>().expect("whole planes")).expect("job");
    let sent = printer::evolis_downloads(&job).expect("downloads");
    assert!(sent == downloads, "the driver packs the job to other bytes");
    job
}

/// The station's 3rd-generation template and a holder with a graded photo: the face a
/// counter renders for a card.
pub fn station_face() -> (Renderer, FaceData) {
    let renderer =
        Renderer::new(Template::builtin("ssc-3g").expect("template"), None).unwrap_or_else(|e| panic!("{e}"));
    let data = FaceData {
        name: "张三".into(),
        ssn: "11010519491231002X".into(),
        card_number: "X00000019".into(),
        issue_date: "2026-11-22".into(),
        photo: Some(Photo::Rgb(RgbImage::from_fn(358, 441, |x, y| {
            Rgb([(x * 255 / 357) as u8, (y * 255 / 440) as u8, 128])
        }))),
        ..FaceData::default()
    };
    (renderer, data)
}

/// The full card: prepare, park at the contact station (the chip would be personalised
/// here), print YMCKO, eject.
pub fn full_card(printer: &mut impl Printer, job: &PrintJob) -> Result<(), PrinterError> {
    printer.prepare()?;
    printer.load(Station::Contact)?;
    printer.print_face(job)?;
    printer.eject()
}

/// A simulator serving `link` (nothing for memory).
pub fn start(link: Link, model: ModelConfig) -> SimHandle {
    let config = SimPrinterConfig {
        model,
        pty: matches!(link, Link::Pty | Link::PtyAsLp),
        tcp: (link == Link::Tcp).then(|| "127.0.0.1:0".parse().expect("addr")),
        faults: Vec::new(),
    };
    serve(config).expect("simulator started")
}

/// The driver on `link` to `handle`'s printer.
pub fn connect(link: Link, handle: &SimHandle) -> EvolisPrinter<Box<dyn PrinterTransport>> {
    let transport: Box<dyn PrinterTransport> = match link {
        Link::Pty => {
            Box::new(SerialTransport::open(handle.pty_path().expect("pty"), 115_200).expect("serial open"))
        }
        Link::PtyAsLp => Box::new(UsbLpTransport::open(handle.pty_path().expect("pty")).expect("lp open")),
        Link::Tcp => {
            let addr = handle.tcp_addr().expect("tcp");
            Box::new(TcpTransport::connect(&addr.ip().to_string(), addr.port()).expect("tcp connect"))
        }
        Link::Memory => Box::new(MemoryTransport::new(handle.sim().clone())),
    };
    EvolisPrinter::new(transport).with_timeouts(timeouts()).with_ribbon_zone("86")
}

/// Where the simulator says the card of a one-card job is, in the driver's terms.
pub fn truth(state: &PrinterState) -> CardWhereabouts {
    match state.card {
        Some(CardPlace::Print) => CardWhereabouts::At(Station::Print),
        Some(CardPlace::Contact) => CardWhereabouts::At(Station::Contact),
        Some(CardPlace::Contactless) => CardWhereabouts::At(Station::Contactless),
        Some(CardPlace::Jammed) => CardWhereabouts::InPath,
        None if state.reject_box > 0 => CardWhereabouts::Rejected,
        None if state.ejected > 0 => CardWhereabouts::Ejected,
        None => CardWhereabouts::NotFed,
    }
}
