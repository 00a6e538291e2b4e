//! A full card (feed, park at the contact station, print YMCKO, eject) over a real pty, TCP
//! loopback, the pty opened as a USB printer-class node, and in memory; the face is written
//! as a PNG and decodes to the panels that were sent. A face rendered by card-face from the
//! shipped template comes out of the simulator as a PNG that shows the photo, the name and
//! the numbers where the rendered face has them.

mod common;

use std::time::Duration;

use common::{connect, full_card, job, job_of, sent_panels, start, station_face, Link};
use evolis::{Panel, SensorState};
use printer::{CardWhereabouts, Printer};
use printer_sim::{ModelConfig, IMAGE_HEIGHT, IMAGE_WIDTH};

fn one_card(link: Link) {
    let out = tempfile::tempdir().expect("tempdir");
    let handle = start(link, ModelConfig { out_dir: Some(out.path().to_owned()), ..ModelConfig::default() });
    let mut printer = connect(link, &handle);
    let job = job();

    let id = printer.identify().expect("identify");
    assert_eq!(id.model, "Primacy");
    full_card(&mut printer, &job).expect("a full card");
    assert_eq!(printer.whereabouts(), CardWhereabouts::Ejected);

    let state = handle.sim().state();
    assert_eq!((state.card, state.ejected, state.exit_slot, state.feeder), (None, 1, true, 99));
    assert!(state.host_error_mode && state.no_eject);
    let status = printer.status().expect("status");
    assert_eq!(status.exit_slot, SensorState::ExitSlotCardPresent);
    handle.sim().lock().take_card();
    printer.wait_taken(Duration::from_secs(1)).expect("taken");

    let counters = printer.counters().expect("counters");
    assert_eq!((counters.printed, counters.since_cleaning), (1, 1));
    assert_eq!(printer.ribbon().expect("ribbon").remaining, 199);

    let faces = handle.sim().faces();
    assert_eq!(faces.len(), 1);
    let face = &faces[0];
    assert!(face.complete);
    assert_eq!(face.printed, "ymcko");
    let sent = sent_panels(&job);
    assert!(face.panels == sent, "the printed panels differ from the ones sent");
    assert!(face.inked(Panel::K) > 0);
    let png = face.png.as_ref().expect("a PNG was written");
    let image = card_face::image::open(png).expect("the PNG decodes").to_rgb8();
    assert_eq!((image.width(), image.height()), (IMAGE_WIDTH as u32, IMAGE_HEIGHT as u32));
    assert!(image == card_face::composite(&sent), "the PNG is not the composite of the panels sent");
}

#[test]
fn full_card_over_a_pty() {
    one_card(Link::Pty);
}

#[test]
fn full_card_over_tcp_loopback() {
    one_card(Link::Tcp);
}

#[test]
fn full_card_over_a_usb_printer_class_node() {
    one_card(Link::PtyAsLp);
}

#[test]
fn full_card_in_memory() {
    one_card(Link::Memory);
}

#[test]
fn selectors_from_the_handle_open_the_driver() {
    let handle = start(Link::Tcp, ModelConfig::default());
    for selector in handle.selectors() {
        let text = selector.to_string();
        let parsed: printer::Selector = text.parse().expect("round trip");
        let mut printer = printer::open_evolis(&parsed, common::timeouts()).expect("open");
        assert_eq!(printer.identify().expect("identify").serial, "SIM00001");
    }
}

#[test]
fn a_card_left_inside_is_rejected_before_the_next() {
    let handle = start(Link::Tcp, ModelConfig::default());
    let mut printer = connect(Link::Tcp, &handle);
    printer.prepare().expect("prepared");
    printer.load(printer::Station::Contact).expect("at the contact station");
    // The station crashed here; a new session starts.
    let mut printer = connect(Link::Tcp, &handle);
    let err = printer.prepare().expect_err("a card is inside");
    assert_eq!(err.kind(), printer::FaultKind::RejectCard);
    assert_eq!(err.card, CardWhereabouts::At(printer::Station::Contact));
    printer.reject().expect("rejected");
    assert_eq!(printer.whereabouts(), CardWhereabouts::Rejected);
    assert_eq!(handle.sim().state().reject_box, 1);
    full_card(&mut printer, &job()).expect("the next card");
}

/// The station's way: render the 3rd-generation face, separate it, print it through the
/// driver (which packs it); the simulator's PNG, decoded, is the composite of the panels sent
/// and shows the photo, the name and the numbers where the rendered face has them.
fn rendered_face(link: Link) {
    use card_face::{Element, Field};

    let (renderer, data) = station_face();
    let face = renderer.render(&data).unwrap_or_else(|e| panic!("{e}"));
    let job = job_of(card_face::separate(&face));

    let out = tempfile::tempdir().expect("tempdir");
    let handle = start(link, ModelConfig { out_dir: Some(out.path().to_owned()), ..ModelConfig::default() });
    let mut printer = connect(link, &handle);
    full_card(&mut printer, &job).expect("a full card");

    let faces = handle.sim().faces();
    let png = faces[0].png.as_ref().expect("a PNG was written");
    let printed = card_face::image::open(png).expect("the PNG decodes").to_rgb8();
    let panels = sent_panels(&job);
    assert!(printed == card_face::composite(&panels), "the PNG is not the composite of the panels sent");

    // Photo: every pixel of the box within a dye level of the rendered face, and not blank.
    let photo = face.placed(Element::Photo).expect("photo drawn");
    let mut coloured = 0;
    for y in photo.y..photo.y + photo.height {
        for x in photo.x..photo.x + photo.width {
            let (got, want) = (printed.get_pixel(x, y).0, face.rgb.get_pixel(x, y).0);
            for c in 0..3 {
                assert!(got[c].abs_diff(want[c]) <= 2, "photo at ({x}, {y}): {got:?} vs {want:?}");
            }
            coloured += usize::from(got != [255, 255, 255]);
        }
    }
    assert!(coloured > (photo.width * photo.height) as usize * 9 / 10, "the photo box is blank");

    // Name and numbers: black in the PNG exactly where the rendered face has black text.
    for field in [Field::Name, Field::Ssn, Field::CardNumber, Field::IssueDate] {
        for element in [Element::Label(field), Element::Value(field)] {
            let r = face.placed(element).unwrap_or_else(|| panic!("{element:?} drawn"));
            let mut inked = 0;
            for y in r.y..r.y + r.height {
                for x in r.x..r.x + r.width {
                    let black = printed.get_pixel(x, y).0 == [0, 0, 0];
                    assert_eq!(black, face.black.get(x, y), "{element:?} at ({x}, {y})");
                    inked += usize::from(black);
                }
            }
            assert!(inked > 40, "{element:?}: {inked} black pixels");
        }
    }
}

#[test]
fn rendered_face_over_a_pty_comes_out_as_the_png() {
    rendered_face(Link::Pty);
}

#[test]
fn rendered_face_over_tcp_loopback_comes_out_as_the_png() {
    rendered_face(Link::Tcp);
}
