//! Whole-file transfers on a transparent EF, in as few READ/UPDATE BINARY commands as the
//! reader carries. A failure names the first byte that is not confirmed, so the caller never
//! reports as written what the card did not acknowledge.

use crate::{Command, Error, StatusWord};
use card_transport::CardTransaction;

/// Largest offset READ/UPDATE BINARY can address with P1 P2 (15 bits).
const MAX_OFFSET: usize = 0x7FFF;

fn chunk_size(tx: &dyn CardTransaction, write: bool) -> usize {
    let caps = tx.capabilities();
    match (caps.extended_length, write) {
        (true, true) => caps.max_command_data,
        (true, false) => caps.max_response_data,
        (false, true) => caps.max_command_data.min(255),
        (false, false) => caps.max_response_data.min(256),
    }
    .max(1)
}

/// Writes `data` into the current transparent EF from `offset`. `what` names the file in
/// errors (e.g. `"EF08"`); the error's step reads `UPDATE BINARY EF08 at offset 512 of 1000`,
/// meaning bytes before 512 are confirmed and none from 512 on.
pub fn update_binary_all(
    tx: &mut dyn CardTransaction,
    offset: usize,
    data: &[u8],
    what: &str,
) -> Result<(), Error> {
    let size = chunk_size(tx, true);
    let mut done = 0;
    while done < data.len() {
        let at = offset + done;
        let step = format!("UPDATE BINARY {what} at offset {done} of {}", data.len());
        if at > MAX_OFFSET {
            return Err(Error::Protocol { step, message: format!("offset {at} is past 32767") });
        }
        let n = size.min(data.len() - done);
        crate::expect_ok(tx, &Command::update_binary(at as u16, &data[done..done + n]), &step)?;
        done += n;
    }
    Ok(())
}

/// Reads `len` bytes of the current transparent EF from `offset`. A card that ends the file
/// early (6282, or fewer bytes than asked) gives what it has.
pub fn read_binary_all(
    tx: &mut dyn CardTransaction,
    offset: usize,
    len: usize,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let size = chunk_size(tx, false);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let at = offset + out.len();
        let step = format!("READ BINARY {what} at offset {} of {len}", out.len());
        if at > MAX_OFFSET {
            return Err(Error::Protocol { step, message: format!("offset {at} is past 32767") });
        }
        let want = size.min(len - out.len());
        let r = crate::transmit(tx, &Command::read_binary(at as u16, want))
            .map_err(|source| Error::Transport { step: step.clone(), source })?;
        match r.sw {
            StatusWord::Success | StatusWord::EndOfFile => {}
            sw => return Err(Error::Status { step, sw }),
        }
        let short = r.data.len() < want || r.sw == StatusWord::EndOfFile;
        if r.data.len() > want {
            return Err(Error::Protocol {
                step,
                message: format!("asked {want} bytes, got {}", r.data.len()),
            });
        }
        out.extend(r.data);
        if short {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_transport::transcript::Replay;
    use card_transport::TransportError;

    fn hexs(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn short_reader_writes_in_offset_chunks() {
        let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let text = format!(
            "! short\n> 00D60000FF{}\n< 9000\n> 00D600FF2D{}\n< 9000\n",
            hexs(&data[..255]),
            hexs(&data[255..])
        );
        let mut card = Replay::from_text(&text).expect("t");
        update_binary_all(&mut card, 0, &data, "EF08").expect("ok");
        assert_eq!(card.remaining(), 0);
    }

    #[test]
    fn a_pulled_card_names_the_first_unconfirmed_byte() {
        let data = vec![0x5A; 300];
        let text = format!("! short\n> 00D60000FF{}\n< 9000\n", hexs(&data[..255]));
        let mut card = Replay::from_text(&text).expect("t");
        // The replay ends where the card was pulled: the next transmit fails.
        let e = update_binary_all(&mut card, 0, &data, "EF08").expect_err("pulled");
        assert_eq!(e.step(), "UPDATE BINARY EF08 at offset 255 of 300");
        assert!(matches!(e, Error::Transport { source: TransportError::Other(_), .. }));
    }

    #[test]
    fn reads_stop_at_end_of_file() {
        let mut card = Replay::from_text("! short\n> 00B0000000\n< 0102 6282\n").expect("t");
        assert_eq!(read_binary_all(&mut card, 0, 1000, "EF08").expect("ok"), vec![1, 2]);
    }

    #[test]
    fn extended_reader_reads_in_one_command() {
        let mut text = String::from("! extended\n> 00B00000 0007D0\n< ");
        text.push_str(&"AA".repeat(2000));
        text.push_str(" 9000\n");
        let mut card = Replay::from_text(&text).expect("t");
        assert_eq!(read_binary_all(&mut card, 0, 2000, "EF08").expect("ok").len(), 2000);
    }
}
