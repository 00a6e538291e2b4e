//! A full card (feed, park at the contact station, print YMCKO, eject) over a real pty, TCP
//! loopback, the pty opened as a USB printer-class node, and in memory; the face is written
//! as a PNG and decodes to the panels that were sent.

mod common;

use std::time::Duration;

use common::{connect, full_card, job, start, Link};
use evolis::{Panel, SensorState};
use printer::{CardWhereabouts, Printer};
use printer_sim::{ModelConfig, PanelImage, IMAGE_HEIGHT, IMAGE_WIDTH};

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
    for sent in job.panels() {
        let got = face.panel(sent.panel()).expect("panel printed");
        assert_eq!(got, &PanelImage::unpack(sent.levels(), sent.data()), "panel {:?}", sent.panel());
    }
    assert!(face.panel(Panel::K).expect("k").inked() > 0);
    let png = face.png.as_ref().expect("a PNG was written");
    let bytes = std::fs::read(png).expect("read PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height of the landscape card.
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().expect("4")), IMAGE_WIDTH as u32);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().expect("4")), IMAGE_HEIGHT as u32);
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
