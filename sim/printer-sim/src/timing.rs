//! The timing model: how long the mechanics take (printer.md: insert ~1-2 s, ~3-5 s a panel,
//! eject ~1 s). The simulator sleeps `duration x scale`; scale 0 is the fast mode for CI. The
//! unscaled durations are added up as the simulated printer time, so a benchmark gets the
//! realistic figure without waiting for it.

use std::time::Duration;

/// Durations of the mechanical actions, and the factor applied before sleeping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Feeding a card from the hopper to a station.
    pub insert: Duration,
    /// Moving a card between two stations.
    pub transfer: Duration,
    /// Printing one panel.
    pub panel: Duration,
    /// Ejecting or rejecting a card.
    pub eject: Duration,
    /// A cleaning cycle.
    pub clean: Duration,
    /// Answering any command (firmware and link latency).
    pub command: Duration,
    /// Factor applied to every duration before sleeping: 1.0 real time, 0.0 no sleep.
    pub scale: f64,
}

impl Timing {
    /// printer.md's figures, slept in full.
    pub fn realistic() -> Self {
        Self {
            insert: Duration::from_millis(1500),
            transfer: Duration::from_millis(500),
            panel: Duration::from_millis(4000),
            eject: Duration::from_millis(1000),
            clean: Duration::from_secs(20),
            command: Duration::from_millis(5),
            scale: 1.0,
        }
    }

    /// The same figures for the printer-time account, never slept: for CI.
    pub fn fast() -> Self {
        Self { scale: 0.0, ..Self::realistic() }
    }

    /// How long to actually wait for `d` of printer time.
    pub fn scaled(&self, d: Duration) -> Duration {
        if self.scale <= 0.0 {
            Duration::ZERO
        } else {
            d.mul_f64(self.scale)
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::fast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_mode_never_waits() {
        let t = Timing::fast();
        assert_eq!(t.scaled(t.panel), Duration::ZERO);
        let half = Timing { scale: 0.5, ..Timing::realistic() };
        assert_eq!(half.scaled(half.panel), Duration::from_secs(2));
    }
}
