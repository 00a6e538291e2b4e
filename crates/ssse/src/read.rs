//! The public read sequence every social-security reader uses (no keys): SELECT the
//! environment AID, SELECT EF05, READ RECORD by number, SELECT EF06, READ RECORD by number.
//! What `station card read` shows and what iReadCardBas returns.

use apdu::{expect_ok, Atr, Command, StatusWord};
use card_transport::CardTransaction;
use serde::Serialize;

use crate::records::{HolderData, IssuerData, EF05_TAGS, EF06_TAGS};
use crate::{SsseError, ENVIRONMENT_AID};

/// EF05 and EF06 as read from a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardData {
    /// EF05.
    pub issuer: IssuerData,
    /// EF06.
    pub holder: HolderData,
    /// The ATR's historical bytes.
    pub historical: Vec<u8>,
}

/// The basic fields of the standard reader interface (iReadCardBas), in its order. The name
/// is decoded by the caller from the GBK name and its extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BasicInfo {
    /// Region code (from the card identification code).
    pub region: String,
    /// Social security number.
    pub ssn: String,
    /// Card number.
    pub card_number: String,
    /// Card identification code, hex.
    pub card_id: String,
    /// Name.
    pub name: String,
    /// ATR historical bytes, hex.
    pub atr_historical: String,
    /// Spec version.
    pub version: String,
    /// Issue date YYYYMMDD.
    pub issue_date: String,
    /// Expiry date YYYYMMDD.
    pub expiry_date: String,
}

impl BasicInfo {
    /// The `|`-separated line of iReadCardBas.
    pub fn line(&self) -> String {
        [
            &self.region,
            &self.ssn,
            &self.card_number,
            &self.card_id,
            &self.name,
            &self.atr_historical,
            &self.version,
            &self.issue_date,
            &self.expiry_date,
        ]
        .iter()
        .fold(String::new(), |acc, f| acc + f + "|")
    }
}

impl CardData {
    /// The iReadCardBas fields, with `name` already decoded.
    pub fn basic(&self, name: String) -> Result<BasicInfo, SsseError> {
        Ok(BasicInfo {
            region: self.issuer.card_id.region().map_err(SsseError::Record)?,
            ssn: self.holder.ssn.clone(),
            card_number: self.issuer.card_number.clone(),
            card_id: self.issuer.card_id.to_string(),
            name,
            atr_historical: hex::encode_upper(&self.historical),
            version: self.issuer.spec_version.clone(),
            issue_date: self.issuer.issue_date.clone(),
            expiry_date: self.issuer.expiry_date.clone(),
        })
    }
}

fn read_file(
    tx: &mut dyn CardTransaction,
    fid: u16,
    name: &str,
    tags: &[u8],
) -> Result<std::collections::BTreeMap<u8, Vec<u8>>, SsseError> {
    expect_ok(tx, &Command::select_fid(fid), &format!("SELECT {name}"))?;
    let mut out = std::collections::BTreeMap::new();
    for &tag in tags {
        match expect_ok(tx, &Command::read_record(tag, 256), &format!("READ RECORD {name} record {tag:02X}"))
        {
            Ok(r) => {
                out.insert(tag, r);
            }
            // The name extension is absent on older cards.
            Err(e) if e.status_word() == Some(StatusWord::RecordNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Reads EF05 and EF06 with the public sequence. A card that answers 6A82 to the
/// environment SELECT is still read (some COSes serve EF05 from the MF).
pub fn read_card(tx: &mut dyn CardTransaction, atr: &[u8]) -> Result<CardData, SsseError> {
    let historical = Atr::parse(atr).map_err(|e| SsseError::Atr(e.to_string()))?.historical_bytes().to_vec();
    match expect_ok(tx, &Command::select_aid(&ENVIRONMENT_AID), "SELECT SSSE by AID") {
        Err(e) if e.status_word() == Some(StatusWord::FileNotFound) => {}
        other => {
            other?;
        }
    }
    let ef05 = read_file(tx, 0xEF05, "EF05", &EF05_TAGS)?;
    let ef06 = read_file(tx, 0xEF06, "EF06", &EF06_TAGS)?;
    Ok(CardData {
        issuer: IssuerData::from_records(&ef05).map_err(SsseError::Record)?,
        holder: HolderData::from_records(&ef06).map_err(SsseError::Record)?,
        historical,
    })
}
