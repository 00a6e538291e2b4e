//! Personalisation of EF05/EF06 at the counter: authenticate through the key provider, write
//! every record with one UPDATE RECORD addressed by SFI (no SELECTs), read every record back
//! and compare. Nothing is reported as done that is not on the chip.
//!
//! APDUs for a card with SFIs: SELECT AID, GET CHALLENGE, EXTERNAL AUTHENTICATE, 14 UPDATE
//! RECORD, 14 READ RECORD (31), plus the PSAM's three. Record files take one record per
//! command, so no fewer writes are possible.

use std::collections::BTreeMap;

use apdu::{expect_ok, Atr, Command, StatusWord};
use card_transport::CardTransaction;
use tracing::{debug, info};

use crate::keys::{AuthRequest, KeyProvider};
use crate::layout::{RecordFile, SsseLayout};
use crate::records::{HolderData, IssuerData};
use crate::SsseError;

/// What a successful personalisation wrote and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personalised {
    /// The card identification code written to EF05.
    pub card_id: crate::CardId,
    /// Records written and read back identical.
    pub records: usize,
}

/// The last 8 historical bytes of `atr`: the card-level diversification factor.
pub fn card8(atr: &[u8]) -> Result<[u8; 8], SsseError> {
    let atr = Atr::parse(atr).map_err(|e| SsseError::Atr(e.to_string()))?;
    let h = atr.historical_bytes();
    h.len()
        .checked_sub(8)
        .and_then(|start| h[start..].try_into().ok())
        .ok_or_else(|| SsseError::Atr(format!("{} historical bytes, 8 needed", h.len())))
}

/// Selects the SSSE environment by AID; some COSes answer 6A82 yet serve the files from the
/// DF's path, which is tried then.
pub(crate) fn select_ssse(tx: &mut dyn CardTransaction, layout: &SsseLayout) -> Result<(), SsseError> {
    let by_aid = Command::select_aid(&layout.aid);
    match expect_ok(tx, &by_aid, "SELECT SSSE by AID") {
        Err(e) if e.status_word() == Some(StatusWord::FileNotFound) => {
            let path: Vec<u16> = layout.df.fids().iter().copied().skip(1).collect();
            let select =
                if path.is_empty() { Command::select_fid(0x3F00) } else { Command::select_path(&path) };
            expect_ok(tx, &select, &format!("SELECT SSSE by path {}", layout.df))?;
            Ok(())
        }
        other => other.map(|_| ()).map_err(SsseError::from),
    }
}

/// P2 of a record command on `file` by record number: the SFI when there is one.
fn p2(file: &RecordFile) -> u8 {
    file.sfi.map_or(0x04, |sfi| (sfi << 3) | 0x04)
}

/// Makes `file` current when it has no SFI (record commands then use P2 = 04).
fn select_if_needed(tx: &mut dyn CardTransaction, file: &RecordFile, name: &str) -> Result<(), SsseError> {
    if file.sfi.is_none() {
        expect_ok(tx, &Command::select_fid(file.fid), &format!("SELECT {name}"))?;
    }
    Ok(())
}

/// Checks that every record fits its file before anything is sent.
fn check_fit(file: &RecordFile, name: &'static str, records: &[(u8, Vec<u8>)]) -> Result<(), SsseError> {
    for (tag, r) in records {
        if r.len() > file.record_size || *tag > file.records {
            return Err(SsseError::Layout { file: name, tag: *tag, len: r.len(), max: file.record_size });
        }
    }
    Ok(())
}

/// Personalises the SSSE application of the card behind `tx` (its ATR `atr`) with the
/// issuer and holder data; `keys` computes the cryptogram (PSAM or key service).
pub fn personalise(
    tx: &mut dyn CardTransaction,
    atr: &[u8],
    keys: &mut dyn KeyProvider,
    layout: &SsseLayout,
    issuer: &IssuerData,
    holder: &HolderData,
) -> Result<Personalised, SsseError> {
    let ef05 = issuer.records()?;
    let ef06 = holder.records(layout.has_name_extension())?;
    check_fit(&layout.ef05, "EF05", &ef05)?;
    check_fit(&layout.ef06, "EF06", &ef06)?;
    let region = issuer.card_id.region()?;
    let factors = card_crypto::ssse_factors(layout.levels, card8(atr)?, &region)
        .ok_or_else(|| SsseError::Atr(format!("region {region} with {} levels", layout.levels)))?;

    select_ssse(tx, layout)?;
    let challenge = expect_ok(tx, &Command::get_challenge(8), "GET CHALLENGE")?;
    let request = AuthRequest {
        psam_key: layout.psam_key,
        algorithm: layout.algorithm,
        factors: &factors,
        challenge: &challenge,
    };
    let step = format!(
        "cryptogram for update key {:02X} (PSAM key {:02X}/{:02X})",
        layout.update_key, layout.psam_key.usage, layout.psam_key.id
    );
    let cryptogram = keys.external_auth(&request).map_err(|source| SsseError::Key { step, source })?;
    expect_ok(
        tx,
        &Command::external_authenticate(layout.update_key, &cryptogram),
        &format!("EXTERNAL AUTHENTICATE with update key {:02X}", layout.update_key),
    )?;
    debug!(key = layout.update_key, "update key authenticated");

    for (file, name, records) in [(&layout.ef05, "EF05", &ef05), (&layout.ef06, "EF06", &ef06)] {
        select_if_needed(tx, file, name)?;
        for (tag, record) in records {
            let cmd = Command::new(0x00, 0xDC, *tag, p2(file)).with_data(record.clone());
            expect_ok(tx, &cmd, &format!("UPDATE RECORD {name} record {tag:02X}"))?;
        }
    }
    for (file, name, records) in [(&layout.ef05, "EF05", &ef05), (&layout.ef06, "EF06", &ef06)] {
        let read = read_records(tx, file, name, records.iter().map(|(t, _)| *t))?;
        for (tag, written) in records {
            if read.get(tag) != Some(written) {
                return Err(SsseError::Mismatch { file: name, tag: *tag });
            }
        }
    }
    let done = Personalised { card_id: issuer.card_id, records: ef05.len() + ef06.len() };
    info!(card_id = %done.card_id, records = done.records, "SSSE personalised and read back");
    Ok(done)
}

/// Reads records `tags` of `file` by number; a record the card does not have (6A83) is left
/// out.
pub(crate) fn read_records(
    tx: &mut dyn CardTransaction,
    file: &RecordFile,
    name: &str,
    tags: impl IntoIterator<Item = u8>,
) -> Result<BTreeMap<u8, Vec<u8>>, SsseError> {
    select_if_needed(tx, file, name)?;
    let mut out = BTreeMap::new();
    for tag in tags {
        let cmd = Command::new(0x00, 0xB2, tag, p2(file)).with_le(256);
        match expect_ok(tx, &cmd, &format!("READ RECORD {name} record {tag:02X}")) {
            Ok(record) => {
                out.insert(tag, record);
            }
            Err(e) if e.status_word() == Some(StatusWord::RecordNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
