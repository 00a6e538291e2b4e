//! Streaming framing for both ends of the link, in the shape of `tokio_util::codec::Decoder`
//! (`decode(&mut self, buf) -> Result<Option<Frame>, _>`, consuming what it returns) but on a
//! plain `Vec<u8>`, so this crate stays free of tokio; a driver wraps them in a real codec.
//!
//! - [`RequestParser`], the printer side (the simulator): bytes in, whole requests out. The
//!   bitmap download `Db;<panel>;<levels>;` is followed by a payload whose length the
//!   parameters imply; the parser counts it and never looks for CR inside it.
//! - [`ReplyFramer`], the host side: replies end with NUL, or with an idle gap the driver
//!   measures and reports through [`ReplyFramer::decode_idle`].

use crate::bitmap::{payload_len, BitmapError, Levels, Panel};
use crate::request::{CR, ESC};

/// Longest request header (`ESC` to `CR`, or to the `;` before a bitmap payload) accepted.
/// Real headers are a few dozen bytes; the bound stops a stream without CR from growing the
/// buffer for ever.
pub const MAX_HEADER_LEN: usize = 256;

/// Longest reply accepted without a NUL; replies are short texts.
pub const MAX_REPLY_LEN: usize = 4096;

/// One request as the printer receives it.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    /// The case-sensitive mnemonic, e.g. `Pem`.
    pub mnemonic: String,
    /// The `;`-separated parameters, e.g. `["2"]`; for `Db` the panel and levels.
    pub params: Vec<String>,
    /// The raw payload of a bitmap download, `None` for other commands.
    pub data: Option<Vec<u8>>,
}

impl std::fmt::Debug for ParsedRequest {
    // A bitmap payload is hundreds of kilobytes; its length says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedRequest")
            .field("mnemonic", &self.mnemonic)
            .field("params", &self.params)
            .field("data_len", &self.data.as_ref().map(Vec::len))
            .finish()
    }
}

impl ParsedRequest {
    /// The request's bytes again, as the host sent them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![ESC];
        buf.extend_from_slice(self.mnemonic.as_bytes());
        for param in &self.params {
            buf.push(b';');
            buf.extend_from_slice(param.as_bytes());
        }
        if let Some(data) = &self.data {
            buf.push(b';');
            buf.extend_from_slice(data);
        }
        buf.push(CR);
        buf
    }

    /// The mnemonic and parameters joined by `;`, e.g. `Rlr;p`: what a simulator matches on.
    pub fn command(&self) -> String {
        std::iter::once(self.mnemonic.as_str())
            .chain(self.params.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// Why the request stream could not be parsed. The offending bytes have been dropped from the
/// buffer, so the next call goes on with what follows; the simulator answers an error and
/// carries on. After [`ParseError::BadBitmap`] and [`ParseError::UnsupportedCompression`] the
/// payload length is unknown and whatever of it follows is dropped as junk up to the next ESC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Bytes before an `ESC` that start no request.
    #[error("{skipped} bytes outside any request")]
    Junk {
        /// How many were dropped.
        skipped: usize,
    },
    /// A new `ESC` came before the request's `CR`.
    #[error("request {header:?} cut short by a new ESC")]
    Truncated {
        /// The header received so far.
        header: String,
    },
    /// No `CR` within [`MAX_HEADER_LEN`] bytes.
    #[error("request header longer than {MAX_HEADER_LEN} bytes")]
    HeaderTooLong,
    /// The header holds bytes that are not printable ASCII.
    #[error("request header is not printable ASCII")]
    NotAscii,
    /// `Db` with a panel or levels that imply no length.
    #[error("bad bitmap header {header:?}")]
    BadBitmap {
        /// The header received.
        header: String,
        /// Why it is refused, when the panel and levels were readable.
        #[source]
        source: Option<BitmapError>,
    },
    /// `Dbc` (compressed lines): the payload length is not implied by the parameters, which
    /// this parser does not follow yet.
    #[error("compressed bitmap download (Dbc) is not supported")]
    UnsupportedCompression,
    /// The byte after a bitmap payload is not `CR`.
    #[error("bitmap {header:?} not ended by CR after its payload")]
    MissingCr {
        /// The header of the bitmap command.
        header: String,
    },
}

/// The printer side's streaming request parser.
#[derive(Debug, Clone, Default)]
pub struct RequestParser {
    _private: (),
}

impl RequestParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one complete request off the front of `buf`, `Ok(None)` when more bytes are
    /// needed (nothing is consumed then).
    pub fn decode(&mut self, buf: &mut Vec<u8>) -> Result<Option<ParsedRequest>, ParseError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != ESC {
            let skipped = buf.iter().position(|&b| b == ESC).unwrap_or(buf.len());
            buf.drain(..skipped);
            return Err(ParseError::Junk { skipped });
        }
        for i in 1..buf.len() {
            let byte = buf[i];
            if i > MAX_HEADER_LEN {
                drop_to_next_esc(buf, i);
                return Err(ParseError::HeaderTooLong);
            }
            match byte {
                CR => {
                    let request = split_header(&buf[1..i]);
                    buf.drain(..=i);
                    let request = request?;
                    if matches!(request.mnemonic.as_str(), "Db" | "Dbc") {
                        // A bitmap command needs its payload; with CR here it has none.
                        return Err(ParseError::BadBitmap { header: request.command(), source: None });
                    }
                    return Ok(Some(request));
                }
                ESC => {
                    let header = String::from_utf8_lossy(&buf[1..i]).into_owned();
                    buf.drain(..i);
                    return Err(ParseError::Truncated { header });
                }
                b';' => {
                    if let Some(found) = self.bitmap(buf, i)? {
                        return Ok(found);
                    }
                }
                _ => {}
            }
        }
        if buf.len() > MAX_HEADER_LEN + 1 {
            drop_to_next_esc(buf, MAX_HEADER_LEN + 1);
            return Err(ParseError::HeaderTooLong);
        }
        Ok(None)
    }

    /// At a `;` (index `semi`): if the header so far is a whole bitmap header, the payload
    /// starts here. `Ok(None)` means "not a bitmap header, keep scanning"; `Ok(Some(None))`
    /// means "bitmap, payload not complete yet".
    fn bitmap(
        &mut self,
        buf: &mut Vec<u8>,
        semi: usize,
    ) -> Result<Option<Option<ParsedRequest>>, ParseError> {
        let header = &buf[1..semi];
        if header == b"Dbc" {
            drop_to_next_esc(buf, semi + 1);
            return Err(ParseError::UnsupportedCompression);
        }
        let mut fields = header.split(|&b| b == b';');
        if fields.next() != Some(b"Db".as_slice()) {
            return Ok(None);
        }
        let (Some(panel), Some(levels), None) = (fields.next(), fields.next(), fields.next()) else {
            return Ok(None); // `Db;k` so far: wait for the levels
        };
        let header_text = String::from_utf8_lossy(header).into_owned();
        let bad = |source| ParseError::BadBitmap { header: header_text.clone(), source };
        let panel = match panel {
            [letter] => Panel::from_letter(*letter),
            _ => None,
        };
        let levels =
            std::str::from_utf8(levels).ok().and_then(|l| l.parse().ok()).and_then(Levels::from_value);
        let (Some(panel), Some(levels)) = (panel, levels) else {
            drop_to_next_esc(buf, semi + 1);
            return Err(bad(None));
        };
        let len = match payload_len(panel, levels) {
            Ok(len) => len,
            Err(source) => {
                drop_to_next_esc(buf, semi + 1);
                return Err(bad(Some(source)));
            }
        };
        let end = semi + 1 + len; // index of the CR after the payload
        if buf.len() <= end {
            return Ok(Some(None));
        }
        if buf[end] != CR {
            buf.drain(..end);
            return Err(ParseError::MissingCr { header: header_text });
        }
        let data = buf[semi + 1..end].to_vec();
        buf.drain(..=end);
        Ok(Some(Some(ParsedRequest {
            mnemonic: "Db".to_owned(),
            params: vec![panel.letter().to_string(), levels.value().to_string()],
            data: Some(data),
        })))
    }
}

/// Drops `buf[..from]` and then any bytes up to the next `ESC`.
fn drop_to_next_esc(buf: &mut Vec<u8>, from: usize) {
    let from = from.min(buf.len());
    let end = buf[from..].iter().position(|&b| b == ESC).map_or(buf.len(), |p| from + p);
    buf.drain(..end);
}

/// Splits `mnemonic;param;...` (without ESC and CR).
fn split_header(header: &[u8]) -> Result<ParsedRequest, ParseError> {
    if !header.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Err(ParseError::NotAscii);
    }
    // Checked ASCII above, so the lossy conversion never replaces anything.
    let text = String::from_utf8_lossy(header);
    let mut fields = text.split(';');
    let mnemonic = fields.next().unwrap_or_default().to_owned();
    Ok(ParsedRequest { mnemonic, params: fields.map(str::to_owned).collect(), data: None })
}

/// Why the reply stream could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// No NUL within [`MAX_REPLY_LEN`] bytes; the bytes were dropped.
    #[error("reply longer than {MAX_REPLY_LEN} bytes without NUL")]
    TooLong,
}

/// The host side's reply framer: splits on NUL and trims CR/LF/NUL/spaces; empty frames
/// (a CR LF before the NUL, doubled NULs) are skipped.
#[derive(Debug, Clone, Default)]
pub struct ReplyFramer {
    _private: (),
}

impl ReplyFramer {
    /// A framer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one NUL-terminated reply off the front of `buf`, `Ok(None)` when no NUL came yet.
    pub fn decode(&mut self, buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, FrameError> {
        while let Some(nul) = buf.iter().position(|&b| b == 0) {
            let frame = trim(&buf[..nul]).to_vec();
            buf.drain(..=nul);
            if !frame.is_empty() {
                return Ok(Some(frame));
            }
        }
        if buf.len() > MAX_REPLY_LEN {
            buf.clear();
            return Err(FrameError::TooLong);
        }
        Ok(None)
    }

    /// The driver saw an idle gap after the last byte: what is buffered is the whole reply
    /// (printers that end replies without NUL). `None` when only whitespace was buffered.
    pub fn decode_idle(&mut self, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
        let frame = trim(buf).to_vec();
        buf.clear();
        (!frame.is_empty()).then_some(frame)
    }
}

/// Appends a reply as the printer sends it: the text and a NUL (for the simulator).
pub fn encode_reply(text: &str, buf: &mut Vec<u8>) {
    buf.extend_from_slice(text.as_bytes());
    buf.push(0);
}

fn trim(bytes: &[u8]) -> &[u8] {
    let keep = |b: &u8| !matches!(b, b'\r' | b'\n' | 0 | b' ');
    let start = bytes.iter().position(keep).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(keep).map_or(start, |p| p + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    fn parse_all(parser: &mut RequestParser, buf: &mut Vec<u8>) -> Vec<Result<ParsedRequest, ParseError>> {
        let mut out = Vec::new();
        loop {
            match parser.decode(buf) {
                Ok(Some(r)) => out.push(Ok(r)),
                Ok(None) => return out,
                Err(e) => out.push(Err(e)),
            }
        }
    }

    /// Feeds `stream` in chunks of the given sizes (cycled) and collects what comes out.
    fn feed_chunked(stream: &[u8], sizes: &[usize]) -> Vec<Result<ParsedRequest, ParseError>> {
        let mut parser = RequestParser::new();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut rest = stream;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            buf.extend_from_slice(chunk);
            rest = tail;
            out.extend(parse_all(&mut parser, &mut buf));
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        out
    }

    /// A K panel whose data holds CR and ESC (and NUL) in awkward places.
    fn nasty_k_panel() -> DownloadBitmap {
        let mut data: Vec<u8> = (0..Levels::L2.panel_len()).map(|i| (i * 7) as u8).collect();
        data[0] = CR;
        data[1] = ESC;
        data[2] = b';';
        data[100] = ESC;
        data[101] = b'S';
        data[102] = b'e';
        data[103] = CR;
        let last = data.len() - 1;
        data[last] = CR;
        DownloadBitmap::new(Panel::K, Levels::L2, data).expect("ok")
    }

    /// The issuance sequence of printer.md as the host sends it, one write per command:
    /// settings, checks, move to the contact station, print YMCKO, eject.
    fn encoded_issuance() -> (Vec<Vec<u8>>, Vec<u8>) {
        let dye = |panel| {
            DownloadBitmap::new(panel, Levels::L128, vec![0x1B; Levels::L128.panel_len()]).expect("ok")
        };
        let overlay =
            DownloadBitmap::new(Panel::O, Levels::L2, vec![CR; Levels::L2.panel_len()]).expect("ok");
        let parts = vec![
            encode_to_vec(&SetHostErrorMode),
            encode_to_vec(&FeedFromHopper),
            encode_to_vec(&KeepCardAfterPrint),
            encode_to_vec(&ReadSensor(Sensor::Feeder)),
            encode_to_vec(&ReadSensor(Sensor::Cover)),
            encode_to_vec(&ReadRibbonRemaining),
            encode_to_vec(&ReadRibbonZone),
            encode_to_vec(&ReadCardPosition),
            encode_to_vec(&MoveToContact),
            encode_to_vec(&ReadCardPosition),
            encode_to_vec(&SelectPanels(PanelSet::ymcko())),
            encode_to_vec(&StartSequence),
            encode_to_vec(&FrontSide),
            encode_to_vec(&dye(Panel::Y)),
            encode_to_vec(&dye(Panel::M)),
            encode_to_vec(&dye(Panel::C)),
            encode_to_vec(&nasty_k_panel()),
            encode_to_vec(&overlay),
            encode_to_vec(&EndSequence),
            encode_to_vec(&EndSequence),
            encode_to_vec(&ReadSensor(Sensor::ExitSlot)),
        ];
        let stream = parts.concat();
        (parts, stream)
    }

    fn expected_commands() -> Vec<&'static str> {
        vec![
            "Pem;2", "Pcim;F", "Pneab;E", "Rse;f", "Rse;o", "Rrt;qty", "Rrt;zone", "Rlr;p", "Sis", "Rlr;p",
            "Pr;ymcko", "Ss", "Sr", "Db;y;128", "Db;m;128", "Db;c;128", "Db;k;2", "Db;o;2", "Se", "Se",
            "Rse;b",
        ]
    }

    fn check_issuance(out: Vec<Result<ParsedRequest, ParseError>>, parts: &[Vec<u8>]) {
        let out: Vec<ParsedRequest> = out.into_iter().collect::<Result<_, _>>().expect("ok");
        assert_eq!(out.iter().map(ParsedRequest::command).collect::<Vec<_>>(), expected_commands());
        for (parsed, sent) in out.iter().zip(parts) {
            assert!(parsed.to_bytes() == *sent, "{parsed:?} differs from what was sent");
        }
        assert_eq!(out[16].data.as_deref(), Some(nasty_k_panel().data()));
    }

    #[test]
    fn issuance_sequence_in_one_chunk() {
        let (parts, stream) = encoded_issuance();
        check_issuance(feed_chunked(&stream, &[stream.len()]), &parts);
    }

    #[test]
    fn issuance_sequence_byte_by_byte() {
        let (parts, stream) = encoded_issuance();
        check_issuance(feed_chunked(&stream, &[1]), &parts);
    }

    #[test]
    fn issuance_sequence_in_odd_chunks() {
        let (parts, stream) = encoded_issuance();
        check_issuance(feed_chunked(&stream, &[3, 1, 7, 2, 13, 4096, 5, 65_537]), &parts);
    }

    #[test]
    fn bitmap_waits_for_its_whole_payload() {
        let bytes = encode_to_vec(&nasty_k_panel());
        let mut parser = RequestParser::new();
        let mut buf = bytes[..bytes.len() - 1].to_vec(); // all but the final CR
        assert_eq!(parser.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), bytes.len() - 1, "nothing consumed while waiting");
        buf.push(CR);
        let parsed = parser.decode(&mut buf).expect("ok").expect("ok");
        assert_eq!(parsed.command(), "Db;k;2");
        assert!(buf.is_empty());
    }

    #[test]
    fn simple_requests() {
        let mut parser = RequestParser::new();
        let mut buf = b"\x1bPneab;A;1\r\x1bRtp\r\x1bPem".to_vec();
        let r = parser.decode(&mut buf).expect("ok").expect("ok");
        assert_eq!(
            (r.mnemonic.as_str(), r.params.clone(), r.data.clone()),
            ("Pneab", vec!["A".into(), "1".into()], None)
        );
        assert_eq!(parser.decode(&mut buf).expect("ok").expect("ok").command(), "Rtp");
        assert_eq!(parser.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b";2\r");
        assert_eq!(parser.decode(&mut buf).expect("ok").expect("ok").command(), "Pem;2");
    }

    #[test]
    fn errors_drop_the_bad_bytes_and_resume() {
        let mut buf = b"junk\x1bSi\r".to_vec();
        let out = parse_all(&mut RequestParser::new(), &mut buf);
        assert_eq!(out[0], Err(ParseError::Junk { skipped: 4 }));
        assert_eq!(out[1].as_ref().map(ParsedRequest::command), Ok("Si".to_owned()));

        let mut buf = b"\x1bPem;\x1bSe\r".to_vec();
        let out = parse_all(&mut RequestParser::new(), &mut buf);
        assert_eq!(out[0], Err(ParseError::Truncated { header: "Pem;".into() }));
        assert_eq!(out[1].as_ref().map(ParsedRequest::command), Ok("Se".to_owned()));

        let mut buf = b"\x1bP\xC3\xA9m\r\x1bSe\r".to_vec();
        let out = parse_all(&mut RequestParser::new(), &mut buf);
        assert_eq!(out[0], Err(ParseError::NotAscii));
        assert_eq!(out.len(), 2);

        let mut buf = vec![ESC];
        buf.extend(std::iter::repeat_n(b'A', MAX_HEADER_LEN + 10));
        buf.extend_from_slice(b"\x1bSe\r");
        let out = parse_all(&mut RequestParser::new(), &mut buf);
        assert_eq!(out[0], Err(ParseError::HeaderTooLong));
        assert_eq!(out[1].as_ref().map(ParsedRequest::command), Ok("Se".to_owned()));
        assert!(buf.is_empty());
    }

    #[test]
    fn header_without_cr_is_bounded_while_streaming() {
        let mut parser = RequestParser::new();
        let mut buf = vec![ESC];
        let mut seen = None;
        for _ in 0..MAX_HEADER_LEN + 5 {
            buf.extend_from_slice(b"x");
            if let Err(e) = parser.decode(&mut buf) {
                seen = Some(e);
                break;
            }
        }
        assert_eq!(seen, Some(ParseError::HeaderTooLong));
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_bitmap_headers() {
        let mut buf = b"\x1bDb;k;128;\x00\x01\x1bSe\r".to_vec();
        let out = parse_all(&mut RequestParser::new(), &mut buf);
        assert_eq!(
            out[0],
            Err(ParseError::BadBitmap {
                header: "Db;k;128".into(),
                source: Some(BitmapError::Levels { panel: 'k', levels: 128 })
            })
        );
        assert_eq!(out[1].as_ref().map(ParsedRequest::command), Ok("Se".to_owned()));

        let mut buf = b"\x1bDb;x;2;\x00".to_vec();
        assert_eq!(
            RequestParser::new().decode(&mut buf),
            Err(ParseError::BadBitmap { header: "Db;x;2".into(), source: None })
        );
        let mut buf = b"\x1bDb;k\r".to_vec();
        assert!(matches!(RequestParser::new().decode(&mut buf), Err(ParseError::BadBitmap { .. })));
        let mut buf = b"\x1bDbc;k;2;\x03\xff\xff\xff\r".to_vec();
        assert_eq!(RequestParser::new().decode(&mut buf), Err(ParseError::UnsupportedCompression));
        assert!(buf.is_empty());
    }

    #[test]
    fn bitmap_without_final_cr() {
        let mut bytes = encode_to_vec(&nasty_k_panel());
        *bytes.last_mut().expect("ok") = b'X';
        bytes.extend_from_slice(b"\x1bSe\r");
        let out = parse_all(&mut RequestParser::new(), &mut bytes);
        assert_eq!(out[0], Err(ParseError::MissingCr { header: "Db;k;2".into() }));
        assert_eq!(out[1], Err(ParseError::Junk { skipped: 1 }));
        assert_eq!(out[2].as_ref().map(ParsedRequest::command), Ok("Se".to_owned()));
    }

    #[test]
    fn replies_split_on_nul() {
        let mut framer = ReplyFramer::new();
        let mut buf = b"OK\0\r\nSMART CARD\r\n\0\0ERR RIB DETECTION\0ERROR C".to_vec();
        assert_eq!(framer.decode(&mut buf), Ok(Some(b"OK".to_vec())));
        assert_eq!(framer.decode(&mut buf), Ok(Some(b"SMART CARD".to_vec())));
        assert_eq!(framer.decode(&mut buf), Ok(Some(b"ERR RIB DETECTION".to_vec())));
        assert_eq!(framer.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"DE\0");
        assert_eq!(framer.decode(&mut buf), Ok(Some(b"ERROR CDE".to_vec())));
        assert!(buf.is_empty());
    }

    #[test]
    fn replies_by_idle_gap_and_bounds() {
        let mut framer = ReplyFramer::new();
        let mut buf = b"4,95 Volts\r\n".to_vec();
        assert_eq!(framer.decode(&mut buf), Ok(None));
        assert_eq!(framer.decode_idle(&mut buf), Some(b"4,95 Volts".to_vec()));
        assert_eq!(framer.decode_idle(&mut b"\r\n".to_vec()), None);
        let mut buf = vec![b'A'; MAX_REPLY_LEN + 1];
        assert_eq!(framer.decode(&mut buf), Err(FrameError::TooLong));
        assert!(buf.is_empty());
    }

    /// Host side of the issuance: each reply framed from one stream and decoded by its
    /// command into typed values.
    #[test]
    fn issuance_replies_host_side() {
        let mut stream = Vec::new();
        for text in ["OK", "OK", "OK", "5,00 Volts", "4,95 Volts", "180", "86", "OK", "OK", "SMART CARD"] {
            encode_reply(text, &mut stream);
        }
        let mut framer = ReplyFramer::new();
        let mut next = || framer.decode(&mut stream).expect("ok").expect("ok");
        assert_eq!(SetHostErrorMode.decode(&next()), Ok(()));
        assert_eq!(FeedFromHopper.decode(&next()), Ok(()));
        assert_eq!(KeepCardAfterPrint.decode(&next()), Ok(()));
        assert_eq!(ReadSensor(Sensor::Feeder).decode(&next()).expect("ok").fault(), None);
        assert_eq!(ReadSensor(Sensor::Cover).decode(&next()).expect("ok").state(), SensorState::CoverClosed);
        assert_eq!(ReadRibbonRemaining.decode(&next()), Ok(180));
        assert_eq!(ReadRibbonZone.decode(&next()).as_deref(), Ok("86"));
        assert_eq!(ReadCardPosition.decode(&next()).expect("ok").fault_before_feed(), None);
        assert_eq!(MoveToContact.decode(&next()), Ok(()));
        assert_eq!(ReadCardPosition.decode(&next()), Ok(CardPosition::ContactStation));
    }

    /// The faults a station meets in the issuance, from the replies alone.
    #[test]
    fn issuance_faults_host_side() {
        let mut stream = Vec::new();
        for text in ["0,00 Volts", "0,00 Volts", "ERR RIB DETECTION", "CARD", "ERROR CDE", "ERR FEEDER JAM X"]
        {
            encode_reply(text, &mut stream);
        }
        let mut framer = ReplyFramer::new();
        let mut next = || framer.decode(&mut stream).expect("ok").expect("ok");
        assert_eq!(
            ReadSensor(Sensor::Feeder).decode(&next()).expect("ok").fault(),
            Some(FaultKind::OperatorRefill)
        );
        assert_eq!(
            ReadSensor(Sensor::Cover).decode(&next()).expect("ok").fault(),
            Some(FaultKind::OperatorCloseCover)
        );
        assert_eq!(
            ReadRibbonRemaining.decode(&next()).expect_err("an error").fault_kind(),
            FaultKind::OperatorRefill
        );
        assert_eq!(
            ReadCardPosition.decode(&next()).expect("ok").fault_before_feed(),
            Some(FaultKind::RejectCard)
        );
        assert_eq!(MoveToContact.decode(&next()).expect_err("an error").fault_kind(), FaultKind::Stop);
        let err = EndSequence.decode(&next()).expect_err("an error");
        assert_eq!(err.fault_kind(), FaultKind::Stop);
        assert_eq!(err, ProtocolError::Printer { step: "Se", text: "ERR FEEDER JAM X".into() });
    }
}
