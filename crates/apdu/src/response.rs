//! Response APDUs: data followed by SW1 SW2.

use crate::StatusWord;

/// A card's answer: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data (may be empty).
    pub data: Vec<u8>,
    /// SW1 SW2.
    pub sw: StatusWord,
}

impl std::fmt::Debug for Response {
    /// Only the length of the data is shown: it may hold personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response(<{} bytes> {:04X})", self.data.len(), self.sw.as_u16())
    }
}

impl Response {
    /// A response with data and a status word.
    pub fn new(data: impl Into<Vec<u8>>, sw: StatusWord) -> Response {
        Response { data: data.into(), sw }
    }

    /// A bare status word.
    pub fn status(sw: StatusWord) -> Response {
        Response { data: Vec::new(), sw }
    }

    /// Splits a raw answer; `None` when it is shorter than the 2 status bytes.
    pub fn from_bytes(raw: &[u8]) -> Option<Response> {
        let split = raw.len().checked_sub(2)?;
        Some(Response { data: raw[..split].to_vec(), sw: (raw[split], raw[split + 1]).into() })
    }

    /// Data followed by SW1 SW2, as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend(&self.data);
        out.extend(self.sw.to_bytes());
        out
    }
}
