//! Printer replies on the host side: the framer splits a byte stream into trimmed replies,
//! and every command's decoder gives its typed value or a `ProtocolError` naming its step;
//! `ERR ...` is always an error, and the fault kind of any error is defined.

use evolis::codec::ReplyFramer;
use evolis::{
    BackSide, ClearError, Counter, EndSequence, FeedFromHopper, FrontSide, KeepCardAfterPrint, MoveToContact,
    MoveToContactless, MoveToPrint, ProtocolError, ReadCardPosition, ReadCounter, ReadFirmware, ReadHead,
    ReadModel, ReadRibbonCount, ReadRibbonRemaining, ReadRibbonZone, ReadSensor, ReadSerial, RejectCard,
    ReleaseCardAfterPrint, Request, Reset, Sensor, SetHostErrorMode, SetRejectMode, StartSequence,
};

fn decoded<R: Request>(request: &R, reply: &[u8]) {
    let text = String::from_utf8_lossy(reply);
    let trimmed = text.trim_matches(|c: char| matches!(c, '\r' | '\n' | '\0' | ' '));
    match request.decode(reply) {
        Ok(_) => assert!(!trimmed.starts_with("ERR"), "{}: an ERR reply decoded as a value", request.step()),
        Err(e) => {
            assert_eq!(e.step(), request.step(), "the error names the command");
            if trimmed.starts_with("ERR") {
                assert!(matches!(e, ProtocolError::Printer { .. } | ProtocolError::UnknownCommand { .. }));
            }
            let _ = e.fault_kind();
            assert!(!e.to_string().is_empty());
        }
    }
}

fn all(reply: &[u8]) {
    decoded(&ReadCardPosition, reply);
    for c in [Counter::Printed, Counter::Cleaning, Counter::SinceCleaning] {
        decoded(&ReadCounter(c), reply);
    }
    for s in [Sensor::ExitSlot, Sensor::Feeder, Sensor::Cover] {
        decoded(&ReadSensor(s), reply);
        if let Ok(reading) = ReadSensor(s).decode(reply) {
            let _ = (reading.state(), reading.fault());
        }
    }
    decoded(&ReadFirmware, reply);
    decoded(&ReadHead, reply);
    decoded(&ReadModel, reply);
    decoded(&ReadSerial, reply);
    decoded(&ReadRibbonCount, reply);
    decoded(&ReadRibbonRemaining, reply);
    decoded(&ReadRibbonZone, reply);
    decoded(&ClearError, reply);
    decoded(&RejectCard, reply);
    decoded(&Reset, reply);
    decoded(&MoveToContact, reply);
    decoded(&MoveToContactless, reply);
    decoded(&MoveToPrint, reply);
    decoded(&StartSequence, reply);
    decoded(&EndSequence, reply);
    decoded(&FrontSide, reply);
    decoded(&BackSide, reply);
    decoded(&SetHostErrorMode, reply);
    decoded(&SetRejectMode, reply);
    decoded(&FeedFromHopper, reply);
    decoded(&KeepCardAfterPrint, reply);
    decoded(&ReleaseCardAfterPrint, reply);
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let mut framer = ReplyFramer::new();
    let mut buf = Vec::new();
    // The stream arrives in pieces (as serial reads return them); the first byte says how big.
    let Some((&piece, stream)) = data.split_first() else { return };
    for chunk in stream.chunks(8 * usize::from(piece).max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match framer.decode(&mut buf) {
                Ok(Some(reply)) => {
                    assert!(!reply.is_empty());
                    assert!(!reply.contains(&0), "a framed reply holds a NUL");
                    assert!(buf.len() < before);
                    all(&reply);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(buf.is_empty(), "{e}: the over-long reply was dropped");
                    break;
                }
            }
        }
    }
    if let Some(reply) = framer.decode_idle(&mut buf) {
        assert!(!reply.is_empty());
        all(&reply);
    }
    assert!(buf.is_empty());
}
