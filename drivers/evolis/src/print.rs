//! The print sequence of one face: `Pr;<panels>` chooses the ribbon panels, `Ss` starts the
//! sequence, `Sr`/`Sv` choose the front/back, the panels are downloaded with `Db`, and `Se`
//! ends it.

use crate::request::{expect_ok, ok_command, write_command};
use crate::{ProtocolError, Request};

/// The ribbon panels a job prints, in order, as `Pr`'s letters (`y`, `m`, `c`, `k`, `o`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PanelSet(String);

impl PanelSet {
    /// The full colour ribbon of the social-security card: yellow, magenta, cyan, resin black,
    /// overlay.
    pub fn ymcko() -> Self {
        Self("ymcko".to_owned())
    }

    /// A set from its letters; `None` when empty or with a letter that is not a panel, since
    /// the printer would refuse it mid-job.
    pub fn parse(letters: &str) -> Option<Self> {
        let valid =
            !letters.is_empty() && letters.bytes().all(|b| matches!(b, b'y' | b'm' | b'c' | b'k' | b'o'));
        valid.then(|| Self(letters.to_owned()))
    }

    /// The letters as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Pr;<panels>`: select the ribbon panels to print.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SelectPanels(pub PanelSet);

impl Request for SelectPanels {
    type Response = ();

    fn step(&self) -> &'static str {
        "Pr"
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        write_command(buf, "Pr", &[self.0.as_str()]);
    }

    fn decode(&self, reply: &[u8]) -> Result<(), ProtocolError> {
        expect_ok(self.step(), reply)
    }
}

ok_command!(
    /// `Ss`: start a print sequence; the printer then expects the side and the panels.
    StartSequence,
    "Ss",
    "Ss"
);
ok_command!(
    /// `Sr`: the panels that follow are for the front.
    FrontSide,
    "Sr",
    "Sr"
);
ok_command!(
    /// `Sv`: the panels that follow are for the back (duplex models).
    BackSide,
    "Sv",
    "Sv"
);
ok_command!(
    /// `Se`: end the sequence and print; also the eject command (the card leaves unless
    /// `Pneab;E` keeps it back for a final chip check).
    EndSequence,
    "Se",
    "Se"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_to_vec;

    #[test]
    fn encodings() {
        assert_eq!(encode_to_vec(&SelectPanels(PanelSet::ymcko())), b"\x1bPr;ymcko\r");
        assert_eq!(encode_to_vec(&StartSequence), b"\x1bSs\r");
        assert_eq!(encode_to_vec(&FrontSide), b"\x1bSr\r");
        assert_eq!(encode_to_vec(&BackSide), b"\x1bSv\r");
        assert_eq!(encode_to_vec(&EndSequence), b"\x1bSe\r");
    }

    #[test]
    fn panel_sets() {
        assert_eq!(PanelSet::parse("k").map(|p| p.as_str().to_owned()).as_deref(), Some("k"));
        assert_eq!(PanelSet::parse(""), None);
        assert_eq!(PanelSet::parse("ymcx"), None);
        assert_eq!(PanelSet::parse("YMC"), None);
    }

    #[test]
    fn replies() {
        assert_eq!(SelectPanels(PanelSet::ymcko()).decode(b"OK\0"), Ok(()));
        assert_eq!(
            EndSequence.decode(b"ERR RIB DETECTION").expect_err("an error").fault_kind(),
            crate::FaultKind::OperatorRefill
        );
    }
}
