//! A transaction wrapper that counts what crosses the link: APDUs and bytes each way, for
//! reports and the link lower bound of the benchmarks.

use crate::{Capabilities, CardTransaction, TransportError};

/// What went over the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCount {
    /// Command APDUs sent.
    pub apdus: u64,
    /// Command bytes sent.
    pub sent: u64,
    /// Answer bytes received (data and status words).
    pub received: u64,
}

impl LinkCount {
    /// Both directions.
    pub fn bytes(&self) -> u64 {
        self.sent + self.received
    }

    /// Seconds the bytes need at `bits_per_second` with 10 bits a byte (start, 8 data, stop;
    /// T=1 block framing and guard times only add to it): a floor no reader can beat.
    pub fn seconds_at(&self, bits_per_second: u32) -> f64 {
        self.bytes() as f64 * 10.0 / f64::from(bits_per_second)
    }
}

/// Counts every APDU passed to the inner transaction.
pub struct Metered<'t> {
    inner: &'t mut dyn CardTransaction,
    count: LinkCount,
}

impl<'t> Metered<'t> {
    /// Wraps `inner`.
    pub fn new(inner: &'t mut dyn CardTransaction) -> Metered<'t> {
        Metered { inner, count: LinkCount::default() }
    }

    /// What has gone over the link so far.
    pub fn count(&self) -> LinkCount {
        self.count
    }
}

impl CardTransaction for Metered<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.count.apdus += 1;
        self.count.sent += command.len() as u64;
        let answer = self.inner.transmit(command)?;
        self.count.received += answer.len() as u64;
        Ok(answer)
    }

    fn was_reset(&self) -> bool {
        self.inner.was_reset()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl CardTransaction for Echo {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok([command, &[0x90, 0x00]].concat())
        }
        fn was_reset(&self) -> bool {
            false
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::SHORT
        }
    }

    #[test]
    fn counts_apdus_and_bytes_both_ways() {
        let mut echo = Echo;
        let mut m = Metered::new(&mut echo);
        m.transmit(&[0, 0xA4, 0, 0]).expect("one");
        m.transmit(&[0, 0xB0, 0, 0, 0]).expect("two");
        assert_eq!(m.count(), LinkCount { apdus: 2, sent: 9, received: 13 });
        assert_eq!(m.count().bytes(), 22);
        assert!((m.count().seconds_at(9600) - 22.0 * 10.0 / 9600.0).abs() < 1e-12);
    }
}
