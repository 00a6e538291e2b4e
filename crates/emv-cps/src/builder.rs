//! Test data preparation: a DP file for one simulated card from a BIN, a holder and the test
//! issuer keys, so the demo and the tests need no outside data. Deterministic: the same
//! inputs give the same file, byte for byte.

use apdu::encode_tlv;
use secure_channel::SecretKey;

use crate::crypto::{card_key, test_pan, IssuerKeys};
use crate::dp::{encrypt_for_transport, CardSummary, DpApplication, DpDgi, DpFile, DP_FORMAT};
use crate::{Error, AID_PBOC_DEBIT, AID_PPSE, AID_PSE};

/// CDOL1: amount, other amount, terminal country, TVR, currency, date, type, unpredictable
/// number (EMV Book 2 A1.2's recommended minimum set, 29 bytes).
pub const CDOL1: &str = "9F02069F03069F1A0295055F2A029A039C019F3704";
/// CDOL2: authorisation response code, CDOL1's terminal data again.
pub const CDOL2: &str = "8A029F02069F03069F1A0295055F2A029A039C019F3704";
/// Contact PDOL: terminal country code.
pub const PDOL_CONTACT: &str = "9F1A02";
/// Contactless PDOL: terminal transaction qualifiers, amount, unpredictable number, country.
pub const PDOL_CONTACTLESS: &str = "9F66049F02069F37049F1A02";
/// AIP: cardholder verification and terminal risk management supported; no offline data
/// authentication (the test card has no RSA keys).
pub const AIP: [u8; 2] = [0x18, 0x00];
/// AFL: SFI 1, records 1 and 2, none for offline data authentication.
pub const AFL: [u8; 4] = [0x08, 0x01, 0x02, 0x00];

/// What a test card is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCard {
    /// Issuer BIN, 6 to 8 digits (UnionPay: `62...`).
    pub bin: String,
    /// The holder's identifier (e.g. the resident ID number): the account digits follow
    /// from it, hashed.
    pub holder_id: String,
    /// Holder name for 5F20 (ASCII, Pinyin, at most 26 characters, e.g. `ZHANG/SAN`).
    pub holder_name: String,
    /// PAN length, 16..19.
    pub pan_length: usize,
    /// PAN sequence number.
    pub psn: u8,
    /// Effective date `YYMMDD`.
    pub effective: String,
    /// Expiry date `YYMMDD`.
    pub expiry: String,
    /// Application label (ASCII, at most 16).
    pub label: String,
    /// Offline PIN, 4 to 12 digits.
    pub pin: String,
    /// PIN try limit.
    pub pin_try_limit: u8,
    /// Also prepare the contactless interface (PPSE, 9103, 9105, 8001, 9001).
    pub contactless: bool,
}

impl TestCard {
    /// The test holder of card-spec (resident ID 11010519491231002X), BIN 621234.
    pub fn example() -> TestCard {
        TestCard {
            bin: "621234".into(),
            holder_id: "11010519491231002X".into(),
            holder_name: "ZHANG/SAN".into(),
            pan_length: 19,
            psn: 1,
            effective: "250101".into(),
            expiry: "351231".into(),
            label: "PBOC DEBIT".into(),
            pin: "123456".into(),
            pin_try_limit: 3,
            contactless: true,
        }
    }
}

fn bcd_date(what: &str, yymmdd: &str) -> Result<Vec<u8>, Error> {
    let ok = yymmdd.len() == 6 && yymmdd.bytes().all(|b| b.is_ascii_digit());
    let month = yymmdd.get(2..4).and_then(|m| m.parse::<u8>().ok()).unwrap_or(0);
    let day = yymmdd.get(4..6).and_then(|m| m.parse::<u8>().ok()).unwrap_or(0);
    if !ok || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(Error::Dp(format!("{what} {yymmdd:?} is not YYMMDD")));
    }
    Ok(hex::decode(yymmdd).unwrap_or_default())
}

fn ascii(what: &str, text: &str, max: usize) -> Result<Vec<u8>, Error> {
    if text.is_empty() || text.len() > max || !text.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return Err(Error::Dp(format!("{what} {text:?}: 1 to {max} printable ASCII characters")));
    }
    Ok(text.as_bytes().to_vec())
}

/// Packs digits into BCD nibbles, padded with F to whole bytes.
fn nibbles_f(digits: &str) -> Vec<u8> {
    let mut n: Vec<u8> =
        digits.bytes().map(|b| if b == b'D' { 0xD } else { b.wrapping_sub(b'0') & 0x0F }).collect();
    if n.len() % 2 == 1 {
        n.push(0xF);
    }
    n.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// The ISO 9564 format 2 PIN block of `pin`.
pub fn pin_block(pin: &str) -> Result<Vec<u8>, Error> {
    if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Dp("the PIN is 4 to 12 digits".into()));
    }
    let mut s = format!("2{:X}{pin}", pin.len());
    while s.len() < 16 {
        s.push('F');
    }
    hex::decode(s).map_err(|e| Error::Dp(e.to_string()))
}

fn plain(dgi: u16, value: &[u8]) -> DpDgi {
    DpDgi { dgi: format!("{dgi:04X}"), data: Some(hex::encode_upper(value)), encrypted: None }
}

fn secret(tk: &SecretKey, dgi: u16, value: &[u8]) -> Result<DpDgi, Error> {
    Ok(DpDgi {
        dgi: format!("{dgi:04X}"),
        data: None,
        encrypted: Some(hex::encode_upper(encrypt_for_transport(tk, value)?)),
    })
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

/// Builds the DP file of `card`: PSE, PPSE (when contactless) and the PBOC debit application,
/// card keys derived from `issuer`'s master keys (option A), sensitive DGIs encrypted under
/// `transport_key`.
pub fn build_test_dp(
    card: &TestCard,
    issuer: &IssuerKeys,
    transport_key: &SecretKey,
) -> Result<DpFile, Error> {
    let pan = test_pan(&card.bin, &card.holder_id, card.pan_length)?;
    let expiry = bcd_date("expiry", &card.expiry)?;
    let effective = bcd_date("effective date", &card.effective)?;
    let name = ascii("holder name", &card.holder_name, 26)?;
    let label = ascii("label", &card.label, 16)?;
    let pin = pin_block(&card.pin)?;
    if card.pin_try_limit == 0 || card.pin_try_limit > 15 {
        return Err(Error::Dp("PIN try limit 1..15".into()));
    }
    let aid = h(AID_PBOC_DEBIT);
    if card.psn > 99 {
        return Err(Error::Dp("PAN sequence number 0..99".into()));
    }
    let psn = [((card.psn / 10) << 4) | (card.psn % 10)];

    // Records (SFI 1).
    let track2 = nibbles_f(&format!("{pan}D{}2201{:0>5}", &card.expiry[..4], "0"));
    let rec1 = encode_tlv(
        0x70,
        &[encode_tlv(0x57, &track2), encode_tlv(0x5F20, &name), encode_tlv(0x9F1F, b"000000")].concat(),
    );
    let rec2 = encode_tlv(
        0x70,
        &[
            encode_tlv(0x5A, &nibbles_f(&pan)),
            encode_tlv(0x5F24, &expiry),
            encode_tlv(0x5F25, &effective),
            encode_tlv(0x5F28, &[0x01, 0x56]),
            encode_tlv(0x5F34, &psn),
            encode_tlv(0x9F07, &[0xFF, 0x00]),
            // CVM list: X = Y = 0; offline plaintext PIN if terminal supports it, then online
            // enciphered PIN, then no CVM.
            encode_tlv(0x8E, &h("00000000000000000103420301031F00")),
            encode_tlv(0x9F0D, &h("D84004A800")),
            encode_tlv(0x9F0E, &h("0010980000")),
            encode_tlv(0x9F0F, &h("D84004F800")),
            encode_tlv(0x8C, &h(CDOL1)),
            encode_tlv(0x8D, &h(CDOL2)),
            encode_tlv(0x9F08, &[0x00, 0x30]),
            encode_tlv(0x5F30, &[0x02, 0x20]),
        ]
        .concat(),
    );
    let fci = |pdol: &str| {
        [
            encode_tlv(0x50, &label),
            encode_tlv(0x87, &[0x01]),
            encode_tlv(0x9F38, &h(pdol)),
            encode_tlv(0x5F2D, b"zhen"),
            encode_tlv(0x9F11, &[0x01]),
            encode_tlv(0x9F12, &label),
        ]
        .concat()
    };
    let gpo = [encode_tlv(0x82, &AIP), encode_tlv(0x94, &AFL)].concat();
    let mk_ac = card_key(&issuer.ac, &pan, card.psn)?;
    let mk_smi = card_key(&issuer.smi, &pan, card.psn)?;
    let mk_smc = card_key(&issuer.smc, &pan, card.psn)?;
    let keys = zeroize::Zeroizing::new([mk_ac.expose(), mk_smi.expose(), mk_smc.expose()].concat());
    let kcvs = [mk_ac.kcv().0, mk_smi.kcv().0, mk_smc.kcv().0].concat();
    let tk = transport_key;

    let mut pboc = vec![plain(0x0101, &rec1), plain(0x0102, &rec2), plain(0x9102, &fci(PDOL_CONTACT))];
    if card.contactless {
        pboc.push(plain(0x9103, &fci(PDOL_CONTACTLESS)));
    }
    pboc.push(plain(0x9104, &gpo));
    if card.contactless {
        pboc.push(plain(0x9105, &gpo));
    }
    // Card internal data: IAD template 07 | DKI 01 | CVN 01 | 03 CVR (filled by the card).
    pboc.push(plain(0x9200, &encode_tlv(0x9F10, &h("07010103000000"))));
    pboc.push(secret(tk, 0x8000, &keys)?);
    pboc.push(plain(0x9000, &kcvs));
    if card.contactless {
        pboc.push(secret(tk, 0x8001, &keys)?);
        pboc.push(plain(0x9001, &kcvs));
    }
    pboc.push(secret(tk, 0x8010, &pin)?);
    pboc.push(plain(0x9010, &[card.pin_try_limit, card.pin_try_limit]));

    let entry = encode_tlv(
        0x61,
        &[encode_tlv(0x4F, &aid), encode_tlv(0x50, &label), encode_tlv(0x87, &[0x01])].concat(),
    );
    let mut applications = vec![DpApplication {
        name: "PSE".into(),
        aid: AID_PSE.into(),
        dgis: vec![
            plain(0x0101, &encode_tlv(0x70, &entry)),
            plain(0x9102, &[encode_tlv(0x88, &[0x01]), encode_tlv(0x5F2D, b"zhen")].concat()),
        ],
    }];
    if card.contactless {
        applications.push(DpApplication {
            name: "PPSE".into(),
            aid: AID_PPSE.into(),
            dgis: vec![plain(0x9102, &encode_tlv(0xBF0C, &entry))],
        });
    }
    applications.push(DpApplication { name: "PBOC debit".into(), aid: AID_PBOC_DEBIT.into(), dgis: pboc });
    let dp = DpFile {
        format: DP_FORMAT.into(),
        card: CardSummary {
            pan,
            psn: card.psn,
            expiry: card.expiry.clone(),
            label: card.label.clone(),
            holder_ref: Some(crate::dp::holder_ref(&card.holder_id)),
        },
        transport_key_kcv: transport_key.kcv().to_string(),
        applications,
    };
    dp.check()?;
    Ok(dp)
}
