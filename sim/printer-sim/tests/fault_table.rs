//! Each fault injected at each step of the full card, over a real pty, TCP loopback and in
//! memory: the driver's error has the right kind, it reports the card where the simulator
//! has it, and after the operator's fix and the station's action every card fed is
//! finished, rejected or taken out of the path by hand.

mod common;

use std::time::Duration;

use common::{connect, full_card, job, start, truth, Link};
use printer::{CardWhereabouts, FaultKind, PrintJob, Printer};
use printer_sim::{Fault, Injection, ModelConfig};

/// The full card's requests, as (step, occurrence).
const STEPS: [(&str, u32); 21] = [
    ("Pem;2", 1),
    ("Pcim;F", 1),
    ("Pneab;E", 1),
    ("Rse;f", 1),
    ("Rse;o", 1),
    ("Rrt;qty", 1),
    ("Rrt;zone", 1),
    ("Rlr;p", 1),
    ("Rse;b", 1),
    ("Sis", 1),
    ("Rlr;p", 2),
    ("Pr", 1),
    ("Ss", 1),
    ("Sr", 1),
    ("Db;y", 1),
    ("Db;m", 1),
    ("Db;c", 1),
    ("Db;k", 1),
    ("Db;o", 1),
    ("Se", 1),
    ("Se", 2),
];
const SIS: usize = 9;
const PRINT: usize = 19;

fn faults() -> Vec<Fault> {
    vec![
        Fault::FeederEmpty,
        Fault::CoverOpen,
        Fault::Jam,
        Fault::RibbonOut,
        Fault::RibbonEndsAfter(2),
        Fault::WrongZone("33".into()),
        Fault::HeadTemperature,
        Fault::Drop,
    ]
}

/// The kind the station must get, `None` when the fault cannot affect this card.
fn expected_kind(fault: &Fault, step: usize) -> Option<FaultKind> {
    match fault {
        Fault::FeederEmpty => (step <= SIS).then_some(FaultKind::OperatorRefill),
        Fault::CoverOpen => Some(FaultKind::OperatorCloseCover),
        Fault::Jam => Some(FaultKind::OperatorClearJam),
        // A wrong zone is caught by the driver's zone check or refused by the printer at `Se`.
        Fault::RibbonOut | Fault::RibbonEndsAfter(_) | Fault::WrongZone(_) => {
            (step <= PRINT).then_some(FaultKind::OperatorRefill)
        }
        // An undocumented text with nothing wrong on the public sensors: a person looks.
        Fault::HeadTemperature => (step <= PRINT).then_some(FaultKind::Stop),
        Fault::Drop => Some(FaultKind::Retry),
    }
}

fn run_case(link: Link, fault: &Fault, step: usize, job: &PrintJob) {
    let (name, nth) = STEPS[step];
    let case = format!("{link:?}: {fault:?} at {name}#{nth}");
    let handle = start(link, ModelConfig::default());
    let sim = handle.sim();
    sim.inject(Injection::at(name, nth, fault.clone()));
    // A lost reply costs one command timeout; keep them short here.
    let mut printer = connect(link, &handle).with_timeouts(printer::Timeouts {
        command: Duration::from_millis(800),
        print: Duration::from_secs(3),
        ..common::timeouts()
    });
    let result = full_card(&mut printer, job);
    let state = sim.state();
    match (expected_kind(fault, step), result) {
        (None, Ok(())) => {
            assert_eq!(truth(&state), CardWhereabouts::Ejected, "{case}");
            return;
        }
        (None, Err(e)) => panic!("{case}: unexpected error {e}"),
        (Some(kind), Ok(())) => panic!("{case}: expected {kind:?}, the card went through"),
        (Some(kind), Err(e)) => {
            assert_eq!(e.kind(), kind, "{case}: {e}");
            assert_eq!(e.card, truth(&state), "{case}: {e}");
            assert_ne!(e.card, CardWhereabouts::Unknown, "{case}: {e}");
        }
    }

    // The operator fixes what the kind asked for; the station rejects a card left inside.
    {
        let mut model = sim.lock();
        model.close_cover();
        model.refill(10);
        model.load_ribbon();
        model.clear_jam();
    }
    if let CardWhereabouts::At(_) = printer.whereabouts() {
        printer.reject().unwrap_or_else(|e| panic!("{case}: reject failed: {e}"));
        assert_eq!(printer.whereabouts(), CardWhereabouts::Rejected, "{case}");
    }
    let state = sim.state();
    assert_eq!(state.card, None, "{case}: a card is still inside");
    assert_eq!(
        state.ejected + state.reject_box + state.cleared,
        state.fed,
        "{case}: a card is unaccounted for"
    );
}

fn table(link: Link) {
    let job = job();
    for fault in faults() {
        for step in 0..STEPS.len() {
            run_case(link, &fault, step, &job);
        }
    }
}

#[test]
fn every_fault_at_every_step_over_a_pty() {
    table(Link::Pty);
}

#[test]
fn every_fault_at_every_step_over_tcp_loopback() {
    table(Link::Tcp);
}

#[test]
fn every_fault_at_every_step_in_memory() {
    table(Link::Memory);
}

#[test]
fn after_the_fix_the_next_card_goes_through() {
    let job = job();
    for fault in faults() {
        let handle = start(Link::Memory, ModelConfig::default());
        handle.sim().inject(Injection::at("Sis", 1, fault.clone()));
        let mut printer = connect(Link::Memory, &handle);
        let _ = full_card(&mut printer, &job);
        {
            let mut model = handle.sim().lock();
            model.close_cover();
            model.refill(1);
            model.load_ribbon();
            model.clear_jam();
            model.take_card();
        }
        if let CardWhereabouts::At(_) = printer.whereabouts() {
            printer.reject().expect("rejected");
        }
        handle.sim().lock().take_card();
        full_card(&mut printer, &job).unwrap_or_else(|e| panic!("{fault:?}: next card: {e}"));
    }
}
