//! The EMV terminal flow of a counter's card check: application selection through the PSE
//! (contact) or the PPSE (contactless), SELECT of the PBOC application, GET PROCESSING
//! OPTIONS with the PDOL's data, READ RECORD over the AFL, GET DATA of the ATC and the PIN try
//! counter, VERIFY of a plaintext offline PIN when one is given, and a first GENERATE AC
//! asking for an ARQC; then [`verify_arqc`] checks the cryptogram against the issuer key as
//! the issuer host would.

use apdu::tlv::ber::{Tlv, Value};
use apdu::{
    encode_tlv, find_primitive, parse_dol, parse_tlvs, primitive_in, tag_number, Command, StatusWord,
};
use card_transport::CardTransaction;

use crate::crypto::{application_cryptogram, card_key, cryptogram_input, IssuerKeys};
use crate::{builder::pin_block, Error, AID_PBOC_DEBIT, AID_PPSE, AID_PSE};

/// Which interface the terminal talks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// Contact: application selection through the PSE.
    Contact,
    /// Contactless: through the PPSE.
    Contactless,
}

impl Interface {
    /// The interface a card was reached through, from the ATR the reader reports: a
    /// contactless reader makes `3B 8n 80 01 <n historical bytes> TCK` for an ISO 14443-4
    /// card (PC/SC part 3, 3.1.3.2.3); a contact card's ATR is its own.
    pub fn of_atr(atr: &[u8]) -> Interface {
        match atr {
            [0x3B, t0, 0x80, 0x01, rest @ ..]
                if t0 & 0xF0 == 0x80 && rest.len() == (t0 & 0x0F) as usize + 1 =>
            {
                Interface::Contactless
            }
            _ => Interface::Contact,
        }
    }
}

/// The terminal's side of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalParams {
    /// Interface.
    pub interface: Interface,
    /// Amount authorised, in minor units (fen).
    pub amount: u64,
    /// Transaction currency code (ISO 4217 numeric; 156 for CNY).
    pub currency: u16,
    /// Terminal country code (ISO 3166 numeric; 156 for China).
    pub country: u16,
    /// Transaction date `YYMMDD`.
    pub date: String,
    /// Transaction type (00 goods and services, 31 balance enquiry).
    pub transaction_type: u8,
    /// Unpredictable number (fresh per transaction in real use).
    pub unpredictable_number: [u8; 4],
    /// Offline PIN to present, if any.
    pub pin: Option<String>,
}

impl TerminalParams {
    /// A balance check at the counter: amount 0, CNY, China, `date`.
    pub fn counter(interface: Interface, date: &str, unpredictable_number: [u8; 4]) -> TerminalParams {
        TerminalParams {
            interface,
            amount: 0,
            currency: 156,
            country: 156,
            date: date.to_string(),
            transaction_type: 0x31,
            unpredictable_number,
            pin: None,
        }
    }
}

/// The first GENERATE AC's answer and what it was computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedAc {
    /// Cryptogram information data (`80` ARQC, `40` TC, `00` AAC).
    pub cid: u8,
    /// Application transaction counter.
    pub atc: u16,
    /// The application cryptogram.
    pub cryptogram: [u8; 8],
    /// Issuer application data.
    pub iad: Vec<u8>,
    /// The CDOL1 data the terminal sent.
    pub cdol1_data: Vec<u8>,
}

/// What the terminal read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardReading {
    /// Interface used.
    pub interface: Interface,
    /// Selected AID.
    pub aid: Vec<u8>,
    /// Application label (50).
    pub label: String,
    /// PAN (5A).
    pub pan: String,
    /// PAN sequence number (5F34), when present.
    pub psn: Option<u8>,
    /// Expiry `YYMMDD` (5F24).
    pub expiry: String,
    /// Cardholder name (5F20), when present.
    pub holder_name: Option<String>,
    /// Application interchange profile.
    pub aip: [u8; 2],
    /// Application file locator.
    pub afl: Vec<u8>,
    /// The records read, in AFL order.
    pub records: Vec<Vec<u8>>,
    /// ATC by GET DATA after GET PROCESSING OPTIONS.
    pub atc: u16,
    /// PIN try counter by GET DATA (before VERIFY).
    pub pin_try_counter: u8,
    /// Whether the offline PIN verified (`None`: none presented).
    pub pin_verified: Option<bool>,
    /// The first GENERATE AC.
    pub ac: GeneratedAc,
}

fn bcd_digits(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .take_while(|n| *n <= 9)
        .map(|n| (b'0' + n) as char)
        .collect()
}

fn bcd_number(value: u64, len: usize) -> Vec<u8> {
    let s = format!("{value:0width$}", width = len * 2);
    hex::decode(&s[s.len() - len * 2..]).unwrap_or_default()
}

impl TerminalParams {
    /// The terminal's value for a DOL entry; unknown tags are zeros, as EMV Book 3 5.4 says.
    fn dol_value(&self, tag: u32, len: usize) -> Vec<u8> {
        let v = match tag {
            0x9F02 => bcd_number(self.amount, 6),
            0x9F03 => bcd_number(0, 6),
            0x9F1A => bcd_number(self.country as u64, 2),
            0x5F2A => bcd_number(self.currency as u64, 2),
            0x9A => hex::decode(&self.date).unwrap_or_default(),
            0x9C => vec![self.transaction_type],
            0x9F37 => self.unpredictable_number.to_vec(),
            // Full PBOC flow over contactless, online capable, offline PIN not supported there.
            0x9F66 => vec![0x46, 0x00, 0x00, 0x00],
            0x9F35 => vec![0x22],
            0x9F33 => vec![0xE0, 0xE1, 0xC8],
            _ => Vec::new(),
        };
        let mut out = vec![0u8; len];
        let n = v.len().min(len);
        out[len - n..].copy_from_slice(&v[v.len() - n..]);
        out
    }

    /// The data a DOL asks for.
    pub fn dol_data(&self, dol: &[u8]) -> Result<Vec<u8>, Error> {
        let entries = parse_dol(dol).ok_or_else(|| Error::protocol("DOL", "malformed data object list"))?;
        Ok(entries.into_iter().flat_map(|(t, l)| self.dol_value(t, l)).collect())
    }
}

fn ok(tx: &mut dyn CardTransaction, cmd: &Command, step: &str) -> Result<Vec<u8>, Error> {
    Ok(apdu::expect_ok(tx, cmd, step)?)
}

/// The AIDs a directory offers, best priority first.
fn directory_entries(data: &[u8]) -> Vec<(Vec<u8>, u8)> {
    fn walk(objects: &[Tlv], out: &mut Vec<(Vec<u8>, u8)>) {
        for t in objects {
            let Value::Constructed(inner) = t.value() else { continue };
            if tag_number(t.tag()) == 0x61 {
                if let Some(aid) = primitive_in(inner, 0x4F) {
                    let prio =
                        primitive_in(inner, 0x87).and_then(|p| p.first().copied()).unwrap_or(0x0F) & 0x0F;
                    out.push((aid.to_vec(), prio));
                }
            } else {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&parse_tlvs(data), &mut out);
    out.sort_by_key(|(_, p)| *p);
    out
}

/// Application selection: the candidates of the PSE or PPSE; a card without a directory
/// falls back to the PBOC debit AID (EMV's list of AIDs method).
fn candidates(tx: &mut dyn CardTransaction, interface: Interface) -> Result<Vec<Vec<u8>>, Error> {
    let (dir, step) = match interface {
        Interface::Contact => (AID_PSE, "SELECT PSE"),
        Interface::Contactless => (AID_PPSE, "SELECT PPSE"),
    };
    let dir = hex::decode(dir).unwrap_or_default();
    let r = apdu::transmit(tx, &Command::select_aid(&dir))
        .map_err(|source| apdu::Error::transport(step, source))?;
    let fallback = vec![hex::decode(AID_PBOC_DEBIT).unwrap_or_default()];
    if r.sw == StatusWord::FileNotFound {
        return Ok(fallback);
    }
    if r.sw != StatusWord::Success {
        return Err(apdu::Error::status(step, r.sw).into());
    }
    let mut found = Vec::new();
    match interface {
        Interface::Contactless => found = directory_entries(&r.data),
        Interface::Contact => {
            let sfi = find_primitive(&r.data, 0x88)
                .and_then(|s| s.first().copied())
                .ok_or_else(|| Error::protocol(step, "no SFI of the directory (88) in the PSE's FCI"))?;
            for rec in 1..=u8::MAX {
                let r = apdu::transmit(tx, &Command::new(0x00, 0xB2, rec, (sfi << 3) | 4).with_le(256))
                    .map_err(|source| apdu::Error::transport("READ RECORD of the PSE", source))?;
                match r.sw {
                    StatusWord::Success => found.extend(directory_entries(&r.data)),
                    StatusWord::RecordNotFound => break,
                    sw => return Err(apdu::Error::status("READ RECORD of the PSE", sw).into()),
                }
            }
            found.sort_by_key(|(_, p)| *p);
        }
    }
    let pboc = hex::decode(AID_PBOC_DEBIT).unwrap_or_default();
    let mut aids: Vec<Vec<u8>> =
        found.into_iter().map(|(a, _)| a).filter(|a| a.starts_with(&pboc[..5])).collect();
    if aids.is_empty() {
        aids = fallback;
    }
    Ok(aids)
}

/// Runs the flow (see the module docs) and returns what the card said.
pub fn run_terminal(tx: &mut dyn CardTransaction, params: &TerminalParams) -> Result<CardReading, Error> {
    let aids = candidates(tx, params.interface)?;
    let aid = aids[0].clone();
    let fci = ok(tx, &Command::select_aid(&aid), "SELECT application")?;
    let label =
        find_primitive(&fci, 0x50).map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
    let pdol = find_primitive(&fci, 0x9F38).unwrap_or_default();
    let pdol_data = params.dol_data(&pdol)?;
    let gpo = ok(
        tx,
        &Command::new(0x80, 0xA8, 0x00, 0x00).with_data(encode_tlv(0x83, &pdol_data)).with_le(256),
        "GET PROCESSING OPTIONS",
    )?;
    let (aip, afl) = match gpo.first() {
        Some(0x80) => {
            let v = find_primitive(&gpo, 0x80).unwrap_or_default();
            if v.len() < 6 {
                return Err(Error::protocol("GET PROCESSING OPTIONS", "format 1 answer too short"));
            }
            (v[..2].to_vec(), v[2..].to_vec())
        }
        _ => (find_primitive(&gpo, 0x82).unwrap_or_default(), find_primitive(&gpo, 0x94).unwrap_or_default()),
    };
    let aip: [u8; 2] =
        aip.try_into().map_err(|_| Error::protocol("GET PROCESSING OPTIONS", "no 2-byte AIP"))?;
    if afl.is_empty() || afl.len() % 4 != 0 {
        return Err(Error::protocol("GET PROCESSING OPTIONS", "AFL is not whole 4-byte entries"));
    }
    let mut records = Vec::new();
    for entry in afl.chunks(4) {
        let sfi = entry[0] >> 3;
        if sfi == 0 || entry[1] == 0 || entry[2] < entry[1] {
            return Err(Error::protocol("GET PROCESSING OPTIONS", "bad AFL entry"));
        }
        for rec in entry[1]..=entry[2] {
            let step = format!("READ RECORD SFI {sfi} record {rec}");
            let r = ok(tx, &Command::new(0x00, 0xB2, rec, (sfi << 3) | 4).with_le(256), &step)?;
            if r.first() != Some(&0x70) {
                return Err(Error::protocol(&step, "record is not a 70 template"));
            }
            records.push(r);
        }
    }
    let in_records = |tag| records.iter().find_map(|r| find_primitive(r, tag));
    let pan = in_records(0x5A)
        .map(|p| bcd_digits(&p))
        .ok_or_else(|| Error::protocol("READ RECORD", "no PAN (5A)"))?;
    let expiry = in_records(0x5F24)
        .map(|e| bcd_digits(&e))
        .ok_or_else(|| Error::protocol("READ RECORD", "no expiry date (5F24)"))?;
    let psn = in_records(0x5F34).and_then(|p| p.first().map(|b| (b >> 4) * 10 + (b & 0x0F)));
    let holder_name = in_records(0x5F20).map(|n| String::from_utf8_lossy(&n).trim().to_string());
    let cdol1 = in_records(0x8C).ok_or_else(|| Error::protocol("READ RECORD", "no CDOL1 (8C)"))?;

    let atc = ok(tx, &Command::new(0x80, 0xCA, 0x9F, 0x36).with_le(256), "GET DATA ATC")?;
    let atc = find_primitive(&atc, 0x9F36)
        .and_then(|v| <[u8; 2]>::try_from(v).ok())
        .map(u16::from_be_bytes)
        .ok_or_else(|| Error::protocol("GET DATA ATC", "no 2-byte 9F36"))?;
    let ptc = ok(tx, &Command::new(0x80, 0xCA, 0x9F, 0x17).with_le(256), "GET DATA PIN try counter")?;
    let pin_try_counter = find_primitive(&ptc, 0x9F17)
        .and_then(|v| v.first().copied())
        .ok_or_else(|| Error::protocol("GET DATA PIN try counter", "no 9F17"))?;

    let pin_verified = match &params.pin {
        None => None,
        Some(pin) => {
            let cmd = Command::new(0x00, 0x20, 0x00, 0x80).with_data(pin_block(pin)?);
            let r = apdu::transmit(tx, &cmd).map_err(|source| apdu::Error::transport("VERIFY", source))?;
            match r.sw {
                StatusWord::Success => Some(true),
                StatusWord::RetriesLeft(_) | StatusWord::AuthenticationBlocked => Some(false),
                sw => return Err(apdu::Error::status("VERIFY", sw).into()),
            }
        }
    };

    let cdol1_data = params.dol_data(&cdol1)?;
    let answer = ok(
        tx,
        &Command::new(0x80, 0xAE, 0x80, 0x00).with_data(cdol1_data.clone()).with_le(256),
        "GENERATE AC",
    )?;
    let ac = parse_generate_ac(&answer, cdol1_data)?;
    Ok(CardReading {
        interface: params.interface,
        aid,
        label,
        pan,
        psn,
        expiry,
        holder_name,
        aip,
        afl,
        records,
        atc,
        pin_try_counter,
        pin_verified,
        ac,
    })
}

/// Reads a GENERATE AC answer in format 1 (`80`: CID, ATC, AC, IAD) or format 2 (`77`).
fn parse_generate_ac(answer: &[u8], cdol1_data: Vec<u8>) -> Result<GeneratedAc, Error> {
    let step = "GENERATE AC";
    let bad = |m: &str| Error::protocol(step, m);
    let (cid, atc, ac, iad) = match answer.first() {
        Some(0x80) => {
            let v = find_primitive(answer, 0x80).ok_or_else(|| bad("bad 80"))?;
            if v.len() < 11 {
                return Err(bad("format 1 answer too short"));
            }
            (v[0], [v[1], v[2]], v[3..11].to_vec(), v[11..].to_vec())
        }
        Some(0x77) => (
            find_primitive(answer, 0x9F27)
                .and_then(|c| c.first().copied())
                .ok_or_else(|| bad("no CID (9F27)"))?,
            find_primitive(answer, 0x9F36)
                .and_then(|a| a.try_into().ok())
                .ok_or_else(|| bad("no ATC (9F36)"))?,
            find_primitive(answer, 0x9F26).ok_or_else(|| bad("no cryptogram (9F26)"))?,
            find_primitive(answer, 0x9F10).unwrap_or_default(),
        ),
        _ => return Err(bad("neither a 80 nor a 77 template")),
    };
    let cryptogram: [u8; 8] = ac.try_into().map_err(|_| bad("cryptogram is not 8 bytes"))?;
    Ok(GeneratedAc { cid, atc: u16::from_be_bytes(atc), cryptogram, iad, cdol1_data })
}

/// Checks an ARQC as the issuer host does: the card's AC key from the issuer's IMK-AC, PAN
/// and PSN (option A), the CVN 01 session key from the ATC, the MAC over CDOL1 data, AIP,
/// ATC and the CVR (see [`crate::crypto`]).
pub fn verify_arqc(reading: &CardReading, issuer: &IssuerKeys) -> Result<(), Error> {
    let ac = &reading.ac;
    if ac.cid & 0xC0 != 0x80 {
        return Err(Error::Cryptogram(format!("the card answered CID {:02X}, not an ARQC", ac.cid)));
    }
    if ac.iad.len() < 7 || ac.iad[2] != 0x01 {
        return Err(Error::Cryptogram("issuer application data is not CVN 01".into()));
    }
    let mk = card_key(&issuer.ac, &reading.pan, reading.psn.unwrap_or(0))?;
    let input = cryptogram_input(&ac.cdol1_data, reading.aip, ac.atc, &ac.iad)?;
    let expected = application_cryptogram(&mk, ac.atc, &input)?;
    // Not secret once computed; a plain comparison is fine for a check.
    if expected != ac.cryptogram {
        return Err(Error::Cryptogram(format!(
            "ARQC {} does not verify under the issuer key (ATC {:04X})",
            hex::encode_upper(ac.cryptogram),
            ac.atc
        )));
    }
    Ok(())
}
