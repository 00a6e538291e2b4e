//! The one place where an APDU becomes one or more wire exchanges: command chaining when the
//! data does not fit, `61xx` answered with GET RESPONSE, `6Cxx` answered by re-sending with
//! the exact Le. Protocol code calls [`transmit`] or [`expect_ok`] and never sees these.

use crate::{Command, Error, Response, StatusWord, MAX_SHORT_LE};
use card_transport::{CardTransaction, TransportError};

/// Most GET RESPONSE rounds for one command: a card that keeps answering 61xx past this is
/// broken, not slow.
const MAX_GET_RESPONSE: usize = 512;

fn send_one(tx: &mut dyn CardTransaction, bytes: &[u8]) -> Result<Response, TransportError> {
    let raw = tx.transmit(bytes)?;
    Response::from_bytes(&raw).ok_or(TransportError::ShortResponse(raw.len()))
}

/// Sends `cmd` and returns the card's final answer, whatever its status word.
///
/// - Data longer than the reader carries in one APDU (see
///   [`card_transport::Capabilities`]) is sent as a command chain (CLA b5); a link of the
///   chain that is not answered 9000 ends it and that answer is returned.
/// - Le is clamped to what the reader carries; the caller reads the rest by offset.
/// - `61xx`: GET RESPONSE until the card has no more; the data is joined.
/// - `6Cxx`: the command is sent once more with Le = xx.
pub fn transmit(tx: &mut dyn CardTransaction, cmd: &Command) -> Result<Response, TransportError> {
    let caps = tx.capabilities();
    let max_data = if caps.extended_length { caps.max_command_data } else { caps.max_command_data.min(255) };
    let max_le =
        if caps.extended_length { caps.max_response_data } else { caps.max_response_data.min(MAX_SHORT_LE) };

    let mut last = cmd.clone();
    last.le = cmd.le.map(|le| le.min(max_le));
    if cmd.data.len() > max_data {
        let chunks: Vec<&[u8]> = cmd.data.chunks(max_data.max(1)).collect();
        let (final_chunk, links) = chunks.split_last().expect("data is not empty here");
        for link in links {
            let mut c = Command::new(cmd.cla | 0x10, cmd.ins, cmd.p1, cmd.p2).with_data(*link);
            c.le = None;
            let r = send_one(tx, &c.encode(caps.extended_length && c.needs_extended()))?;
            if r.sw != StatusWord::Success {
                return Ok(r);
            }
        }
        last.data = final_chunk.to_vec();
    }

    let encode = |c: &Command| c.encode(caps.extended_length && c.needs_extended());
    let mut response = send_one(tx, &encode(&last))?;
    if let StatusWord::WrongLe(n) = response.sw {
        let mut again = last.clone();
        again.le = Some(if n == 0 { MAX_SHORT_LE } else { n as usize });
        response = send_one(tx, &encode(&again))?;
    }
    let mut data = std::mem::take(&mut response.data);
    let mut rounds = 0;
    while let StatusWord::BytesAvailable(n) = response.sw {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE {
            return Err(TransportError::Other(format!(
                "card kept answering 61xx after {MAX_GET_RESPONSE} GET RESPONSE commands"
            )));
        }
        let want = if n == 0 { MAX_SHORT_LE } else { n as usize };
        response = send_one(tx, &encode(&Command::get_response(cmd.cla, want)))?;
        data.append(&mut response.data);
    }
    Ok(Response { data, sw: response.sw })
}

/// Sends `cmd` for `step` and returns its data when the card answers 9000; any other status
/// word is an [`Error::Status`] naming the step.
pub fn expect_ok(tx: &mut dyn CardTransaction, cmd: &Command, step: &str) -> Result<Vec<u8>, Error> {
    let r = transmit(tx, cmd).map_err(|source| Error::Transport { step: step.to_string(), source })?;
    match r.sw {
        StatusWord::Success => Ok(r.data),
        sw => Err(Error::Status { step: step.to_string(), sw }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_transport::transcript::Replay;

    fn replay(name: &str) -> Replay {
        let path = format!("{}/tests/transcripts/{name}.apdu", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect(&path);
        Replay::from_text(&text).expect(&path)
    }

    #[test]
    fn get_response_joins_the_pieces() {
        let mut card = replay("t0-get-response");
        let data = expect_ok(&mut card, &Command::read_record(1, 256), "READ RECORD 1").expect("ok");
        assert_eq!(data.len(), 0x10 + 0x08);
        assert_eq!(card.remaining(), 0);
    }

    #[test]
    fn wrong_le_is_resent() {
        let mut card = replay("wrong-le-resend");
        let data = expect_ok(&mut card, &Command::read_record(8, 256), "READ EF06 08").expect("ok");
        assert_eq!(data.len(), 20);
        assert_eq!(card.remaining(), 0);
    }

    #[test]
    fn long_data_is_chained_on_a_short_reader() {
        let mut card = replay("chained-update-short-reader");
        let data: Vec<u8> = (0..600u16).map(|i| i as u8).collect();
        expect_ok(&mut card, &Command::update_binary(0, &data), "UPDATE BINARY").expect("ok");
        assert_eq!(card.remaining(), 0);
    }

    #[test]
    fn long_data_goes_extended_when_possible() {
        let mut card = replay("extended-update");
        let data: Vec<u8> = (0..600u16).map(|i| i as u8).collect();
        expect_ok(&mut card, &Command::update_binary(0, &data), "UPDATE BINARY").expect("ok");
        assert_eq!(card.remaining(), 0);
    }

    #[test]
    fn refusal_keeps_step_and_status_word() {
        let mut card = Replay::from_text("> 00 D6 00 00 01 AA\n< 69 82\n").expect("t");
        let e =
            expect_ok(&mut card, &Command::update_binary(0, &[0xAA]), "UPDATE EF05").expect_err("refused");
        assert_eq!(e.status_word(), Some(StatusWord::SecurityStatusNotSatisfied));
        assert_eq!(e.to_string(), "UPDATE EF05: card answered 6982 security status not satisfied");
    }

    /// A card that gives the same raw answer to everything.
    struct Parrot(Vec<u8>);

    impl CardTransaction for Parrot {
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(self.0.clone())
        }
        fn was_reset(&self) -> bool {
            false
        }
        fn capabilities(&self) -> card_transport::Capabilities {
            card_transport::Capabilities::SHORT
        }
    }

    #[test]
    fn a_short_answer_is_an_error() {
        let e = expect_ok(&mut Parrot(vec![0x90]), &Command::get_challenge(8), "GET CHALLENGE")
            .expect_err("short");
        assert!(matches!(e, Error::Transport { source: TransportError::ShortResponse(1), .. }));
    }

    #[test]
    fn endless_61xx_is_cut_off() {
        assert!(transmit(&mut Parrot(vec![0x01, 0x61, 0x01]), &Command::get_challenge(8)).is_err());
    }
}
