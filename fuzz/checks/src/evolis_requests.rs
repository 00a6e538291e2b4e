//! Requests on the printer's side (the simulator's parser): whatever arrives, every call
//! consumes bytes or waits for more, and a parsed request encodes to bytes that parse back
//! to the same request.

use evolis::codec::{ParsedRequest, RequestParser};

fn reparse(request: &ParsedRequest) {
    let mut bytes = request.to_bytes();
    let again = RequestParser::new().decode(&mut bytes).expect("an encoded request parses");
    assert_eq!(again.as_ref(), Some(request), "decode(encode(x)) == x");
    assert!(bytes.is_empty(), "the encoded request is consumed whole");
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&piece, stream)) = data.split_first() else { return };
    let mut parser = RequestParser::new();
    let mut buf = Vec::new();
    for chunk in stream.chunks(usize::from(piece).max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match parser.decode(&mut buf) {
                Ok(Some(request)) => {
                    assert!(buf.len() < before);
                    let _ = request.command();
                    reparse(&request);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "nothing is consumed while waiting");
                    break;
                }
                Err(e) => {
                    assert!(buf.len() < before, "{e}: no progress");
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
