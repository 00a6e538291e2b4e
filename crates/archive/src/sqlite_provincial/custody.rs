//! Custody approvals (RULE 4) on the SQLite provincial archive (migration 9): the decisions are
//! [`crate::custody`]'s, shared with the PostgreSQL service.

use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteProvincial;
use crate::custody::{CustodyApproval, CustodyRequest, ProvincialCustody};
use crate::{now, ArchiveError, Refusal};

const COLUMNS: &str =
    "approval_id, station, card_number, holder_group, custodian, custodian_id, approved_by, reason, valid_until";

fn custody_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProvincialCustody> {
    Ok(ProvincialCustody {
        approval_id: r.get(0)?,
        station: r.get(1)?,
        approval: CustodyApproval {
            card_number: r.get(2)?,
            holder_group: r.get(3)?,
            custodian: r.get(4)?,
            custodian_id: r.get(5)?,
            approved_by: r.get(6)?,
            reason: r.get(7)?,
            valid_until: r.get(8)?,
        },
    })
}

impl SqliteProvincial {
    pub(super) fn custody_record(&self, q: &CustodyRequest) -> Result<ProvincialCustody, ArchiveError> {
        q.check()?;
        self.idempotent("custody", &q.request_id, q, |tx| {
            let number = &q.approval.card_number;
            let Some(card) = SqliteProvincial::card(tx, number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {number}") }));
            };
            if let Err(r) = crate::custody::may_record_custody(&self.station, &card) {
                return Ok(Err(r));
            }
            let a = &q.approval;
            tx.execute(
                "INSERT INTO custody_approvals (station, card_number, holder_group, custodian, custodian_id,
                     approved_by, reason, valid_until, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    self.station,
                    a.card_number,
                    a.holder_group,
                    a.custodian.trim(),
                    a.custodian_id,
                    a.approved_by,
                    a.reason,
                    a.valid_until,
                    now()
                ],
            )?;
            Ok(Ok(ProvincialCustody {
                approval_id: tx.last_insert_rowid(),
                station: self.station.clone(),
                approval: CustodyApproval { custodian: a.custodian.trim().to_string(), ..a.clone() },
            }))
        })
    }

    /// The approval of that number, if the archive holds it.
    pub(super) fn custody_by_id(
        conn: &Connection,
        approval_id: i64,
    ) -> rusqlite::Result<Option<ProvincialCustody>> {
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM custody_approvals WHERE approval_id = ?1"),
            [approval_id],
            custody_row,
        )
        .optional()
    }

    /// The approvals of a card that have not ended by `today` (YYYYMMDD), oldest first.
    pub(super) fn current_custody(
        conn: &Connection,
        card_number: &str,
        today: &str,
    ) -> rusqlite::Result<Vec<ProvincialCustody>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM custody_approvals WHERE card_number = ?1 AND valid_until >= ?2 ORDER BY approval_id"
        ))?;
        let rows = stmt.query_map(params![card_number, today], custody_row)?;
        rows.collect()
    }
}
