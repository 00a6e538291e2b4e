//! Sensor reads (`Rse;b` exit slot, `Rse;f` feeder, `Rse;o` cover), checked before a card is
//! fed and while waiting for the card to be taken. The reply is a voltage with a decimal
//! comma, `"4,95 Volts"`.

use crate::request::{reply_text, write_command};
use crate::{FaultKind, ProtocolError, Request};

/// A sensor voltage in millivolts (integers, so thresholds compare exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Volts {
    /// The reading in millivolts.
    pub millivolts: u32,
}

impl Volts {
    /// Parses `"4,95 Volts"`; a decimal point and a missing fraction (`"5 Volts"`) are taken
    /// too, since they cost nothing and a firmware with another locale may send them.
    pub fn parse(text: &str) -> Option<Self> {
        let number = text.trim().strip_suffix("Volts")?.trim_end();
        let (int, frac) = match number.split_once([',', '.']) {
            Some((int, frac)) => (int, frac),
            None => (number, ""),
        };
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut millivolts = int.parse::<u32>().ok()?.checked_mul(1000)?;
        // Up to three fraction digits are significant; more are below a millivolt.
        let mut scale = 100;
        for digit in frac.bytes().take(3) {
            millivolts += u32::from(digit - b'0') * scale;
            scale /= 10;
        }
        Some(Self { millivolts })
    }
}

/// Which sensor `Rse` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sensor {
    /// `b`: the exit slot; >= 1 V when a card waits there.
    ExitSlot,
    /// `f`: the feeder; about 5 V with cards, 0 V when empty.
    Feeder,
    /// `o`: the cover; 0 V when open.
    Cover,
}

/// The threshold for all three sensors. printer.md gives 0 V for empty/open, about 5 V for
/// loaded/closed and ">= 1 V" for a card at the exit slot; 1 V keeps noise around 0 V from
/// reading as a card, a full feeder or a closed cover.
const THRESHOLD: Volts = Volts { millivolts: 1000 };

/// What a sensor reading means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SensorState {
    /// A card waits at the exit slot (not yet taken).
    ExitSlotCardPresent,
    /// The exit slot is clear.
    ExitSlotClear,
    /// The feeder has cards.
    FeederLoaded,
    /// The feeder is empty.
    FeederEmpty,
    /// The cover is closed.
    CoverClosed,
    /// The cover is open.
    CoverOpen,
}

/// One sensor's voltage, with its interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorReading {
    /// The sensor read.
    pub sensor: Sensor,
    /// Its voltage.
    pub volts: Volts,
}

impl SensorReading {
    /// What the voltage means for this sensor.
    pub fn state(&self) -> SensorState {
        let high = self.volts >= THRESHOLD;
        match (self.sensor, high) {
            (Sensor::ExitSlot, true) => SensorState::ExitSlotCardPresent,
            (Sensor::ExitSlot, false) => SensorState::ExitSlotClear,
            (Sensor::Feeder, true) => SensorState::FeederLoaded,
            (Sensor::Feeder, false) => SensorState::FeederEmpty,
            (Sensor::Cover, true) => SensorState::CoverClosed,
            (Sensor::Cover, false) => SensorState::CoverOpen,
        }
    }

    /// The fault this reading means before a card is fed: an empty feeder asks for a refill,
    /// an open cover for closing it, and the previous card still at the exit slot is waited
    /// for ([`FaultKind::Retry`]) until the applicant takes it.
    pub fn fault(&self) -> Option<FaultKind> {
        match self.state() {
            SensorState::FeederEmpty => Some(FaultKind::OperatorRefill),
            SensorState::CoverOpen => Some(FaultKind::OperatorCloseCover),
            SensorState::ExitSlotCardPresent => Some(FaultKind::Retry),
            SensorState::ExitSlotClear | SensorState::FeederLoaded | SensorState::CoverClosed => None,
        }
    }
}

/// `Rse;<b|f|o>`: read one sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadSensor(pub Sensor);

impl Request for ReadSensor {
    type Response = SensorReading;

    fn step(&self) -> &'static str {
        match self.0 {
            Sensor::ExitSlot => "Rse;b",
            Sensor::Feeder => "Rse;f",
            Sensor::Cover => "Rse;o",
        }
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        let selector = match self.0 {
            Sensor::ExitSlot => "b",
            Sensor::Feeder => "f",
            Sensor::Cover => "o",
        };
        write_command(buf, "Rse", &[selector]);
    }

    fn decode(&self, reply: &[u8]) -> Result<SensorReading, ProtocolError> {
        let text = reply_text(self.step(), reply)?;
        let volts = Volts::parse(&text).ok_or_else(|| ProtocolError::unexpected(self.step(), &text))?;
        Ok(SensorReading { sensor: self.0, volts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;

    fn mv(millivolts: u32) -> Volts {
        Volts { millivolts }
    }

    #[test]
    fn encodings() {
        assert_eq!(encode_to_vec(&ReadSensor(Sensor::ExitSlot)), b"\x1bRse;b\r");
        assert_eq!(encode_to_vec(&ReadSensor(Sensor::Feeder)), b"\x1bRse;f\r");
        assert_eq!(encode_to_vec(&ReadSensor(Sensor::Cover)), b"\x1bRse;o\r");
    }

    #[test]
    fn volts_with_decimal_comma() {
        assert_eq!(Volts::parse("4,95 Volts"), Some(mv(4950)));
        assert_eq!(Volts::parse("5,00 Volts"), Some(mv(5000)));
        assert_eq!(Volts::parse("0,00 Volts"), Some(mv(0)));
        assert_eq!(Volts::parse("0,9 Volts"), Some(mv(900)));
        assert_eq!(Volts::parse("1,2345 Volts"), Some(mv(1234)));
        assert_eq!(Volts::parse("5 Volts"), Some(mv(5000)));
        assert_eq!(Volts::parse("4.95 Volts"), Some(mv(4950)));
        assert_eq!(Volts::parse("4,95"), None);
        assert_eq!(Volts::parse(",5 Volts"), None);
        assert_eq!(Volts::parse("-1,0 Volts"), None);
        assert_eq!(Volts::parse("4,9x Volts"), None);
    }

    #[test]
    fn readings_are_interpreted() {
        let feeder = ReadSensor(Sensor::Feeder);
        let r = feeder.decode(b"5,00 Volts\0").expect("ok");
        assert_eq!((r.volts, r.state(), r.fault()), (mv(5000), SensorState::FeederLoaded, None));
        let r = feeder.decode(b"0,00 Volts\r\n").expect("ok");
        assert_eq!((r.state(), r.fault()), (SensorState::FeederEmpty, Some(FaultKind::OperatorRefill)));

        let cover = ReadSensor(Sensor::Cover);
        assert_eq!(cover.decode(b"4,95 Volts").expect("ok").fault(), None);
        let r = cover.decode(b"0,00 Volts").expect("ok");
        assert_eq!((r.state(), r.fault()), (SensorState::CoverOpen, Some(FaultKind::OperatorCloseCover)));

        let exit = ReadSensor(Sensor::ExitSlot);
        assert_eq!(exit.decode(b"0,10 Volts").expect("ok").state(), SensorState::ExitSlotClear);
        assert_eq!(exit.decode(b"1,00 Volts").expect("ok").state(), SensorState::ExitSlotCardPresent);
        assert_eq!(exit.decode(b"0,99 Volts").expect("ok").state(), SensorState::ExitSlotClear);
        assert_eq!(exit.decode(b"4,95 Volts").expect("ok").fault(), Some(FaultKind::Retry));
    }

    #[test]
    fn bad_replies_keep_step_and_text() {
        assert_eq!(
            ReadSensor(Sensor::Cover).decode(b"OK"),
            Err(ProtocolError::Unexpected { step: "Rse;o", reply: "OK".into() })
        );
        assert_eq!(
            ReadSensor(Sensor::Feeder).decode(b"ERROR CDE"),
            Err(ProtocolError::UnknownCommand { step: "Rse;f" })
        );
    }
}
