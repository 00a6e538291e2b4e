//! No whole ID number or PAN in any URL, log line, error or Debug output, through every path
//! of the client and the simulator: everything logged at TRACE by both sides is captured.

mod common;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use applicant::CardNumber;
use bank::{BankCardSystem, CardRef};
use common::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_id_number_or_pan_in_urls_logs_errors_or_debug() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let (_rt, h) = start();
    let bank = client(&h);
    let mut seen = Vec::new();
    seen.push(format!("{:?}", request("s-1")));
    seen.push(format!("{:?}", bank.activate(&request("s-1"))));
    seen.push(format!("{:?}", bank.activate(&request("s-1"))));
    let mut wrong = request("s-2");
    wrong.holder.name = "张山".into();
    let e = bank.activate(&wrong).expect_err("name");
    seen.push(format!("{e} {e:?}"));
    let frozen = bank.activate(&frozen_request("s-3")).expect_err("frozen");
    seen.push(format!("{frozen} {frozen:?}"));
    let mut old = request("s-4");
    old.face_to_face.photo = None;
    let local = bank.activate(&old).expect_err("no photo");
    seen.push(format!("{local} {local:?}"));
    h.faults.outage.store(1, Ordering::SeqCst);
    let down = bank.activate(&request("s-5")).expect_err("down");
    seen.push(format!("{down} {down:?}"));
    let card = CardRef { card_number: CardNumber::parse(CARD).expect("card"), bank_code: "ICBC".into() };
    seen.push(format!("{:?}", bank.account(&card)));
    seen.push(format!("{:?}", accounts()));

    let received = h.received();
    assert!(received.len() >= 4, "{received:?}");
    for r in &received {
        seen.push(format!("{} {r:?}", r.path));
    }
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(logs.contains("activation confirmed by the bank"), "the logs were captured: {logs}");
    assert!(logs.contains("activation refused at the station"), "{logs}");
    seen.push(logs);
    for text in &seen {
        for secret in [ID, PAN, FROZEN_ID, FROZEN_PAN] {
            assert!(!text.contains(secret), "{secret} in: {text}");
        }
    }
}
