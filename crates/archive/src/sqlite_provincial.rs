//! The provincial-archive contract on SQLite, for a counter where one machine serves. One
//! connection behind a mutex; every change is one `BEGIN IMMEDIATE` transaction that also
//! stores its answer under the request id. The rules are constraints of the schema.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{
    now, ArchiveError, CardRecord, CardStatus, Claim, ClaimRequest, CommitRequest, DeceasedRequest,
    PersonCards, ProvincialArchive, Refusal, ReleaseRequest, StopRequest,
};

mod kits;

const SCHEMA: &str = include_str!("../migrations/provincial-sqlite.sql");
/// Outreach kits' leases, records and conflicts.
const KITS_SCHEMA: &str = include_str!("../migrations/provincial-sqlite-kits.sql");
/// Longest lease a station may ask for.
pub const MAX_LEASE_SECONDS: i64 = 24 * 3600;

/// The provincial archive in one SQLite file.
pub struct SqliteProvincial {
    conn: Mutex<Connection>,
    station: String,
    prefix: char,
}

/// A stored answer: what the first execution of a request returned.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stored<T> {
    Ok(T),
    Refused(Refusal),
}

fn store_err(e: rusqlite::Error) -> ArchiveError {
    ArchiveError::Store(e.to_string())
}

impl SqliteProvincial {
    /// Opens (creating) the archive at `path` for `station`; new card numbers start with
    /// `prefix`.
    pub fn open(
        path: impl AsRef<Path>,
        station: &str,
        prefix: char,
    ) -> Result<SqliteProvincial, ArchiveError> {
        let conn = Connection::open(path).map_err(store_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(store_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(store_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(store_err)?;
        conn.execute_batch(SCHEMA).map_err(store_err)?;
        conn.execute_batch(KITS_SCHEMA).map_err(store_err)?;
        Ok(SqliteProvincial { conn: Mutex::new(conn), station: station.to_string(), prefix })
    }

    /// The same archive file seen by another station (tests of cross-station rules).
    pub fn as_station(
        path: impl AsRef<Path>,
        station: &str,
        prefix: char,
    ) -> Result<SqliteProvincial, ArchiveError> {
        SqliteProvincial::open(path, station, prefix)
    }

    fn idempotent<T: Serialize + DeserializeOwned>(
        &self,
        request_id: &str,
        op: &str,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<Result<T, Refusal>>,
    ) -> Result<T, ArchiveError> {
        if request_id.is_empty() || request_id.len() > 128 {
            return Err(ArchiveError::BadRequest("request id must be 1 to 128 characters".into()));
        }
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_err)?;
        let earlier: Option<(String, String)> = tx
            .query_row("SELECT op, answer FROM requests WHERE request_id = ?1", [request_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(store_err)?;
        let stored = match earlier {
            Some((first_op, _)) if first_op != op => {
                Stored::Refused(Refusal::RequestIdReused { request_id: request_id.into(), op: first_op })
            }
            Some((_, answer)) => {
                serde_json::from_str(&answer).map_err(|e| ArchiveError::Store(e.to_string()))?
            }
            None => {
                let stored = match f(&tx).map_err(store_err)? {
                    Ok(v) => Stored::Ok(v),
                    Err(r) => Stored::Refused(r),
                };
                let answer =
                    serde_json::to_string(&stored).map_err(|e| ArchiveError::Store(e.to_string()))?;
                tx.execute(
                    "INSERT INTO requests (request_id, station, op, answer, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![request_id, self.station, op, answer, now()],
                )
                .map_err(store_err)?;
                stored
            }
        };
        tx.commit().map_err(store_err)?;
        match stored {
            Stored::Ok(v) => Ok(v),
            Stored::Refused(r) => Err(ArchiveError::Refused(r)),
        }
    }

    /// Expires lapsed claims of `ssn`; their numbers go back to the pool (a kit's only at its
    /// check-in: a card made offline may carry it).
    fn expire(tx: &Transaction<'_>, ssn: &str) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT OR IGNORE INTO free_card_numbers (card_number)
             SELECT card_number FROM claims WHERE ssn = ?1 AND state = 'live' AND expires_at <= ?2
             AND claim_id NOT IN (SELECT claim_id FROM kit_claims)",
            params![ssn, now()],
        )?;
        tx.execute(
            "UPDATE claims SET state = 'expired' WHERE ssn = ?1 AND state = 'live' AND expires_at <= ?2",
            params![ssn, now()],
        )?;
        Ok(())
    }

    fn allocate(&self, tx: &Transaction<'_>) -> rusqlite::Result<Result<String, Refusal>> {
        let reused: Option<String> = tx
            .query_row("SELECT card_number FROM free_card_numbers ORDER BY card_number LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(n) = reused {
            tx.execute("DELETE FROM free_card_numbers WHERE card_number = ?1", [&n])?;
            return Ok(Ok(n));
        }
        let prefix = self.prefix.to_string();
        tx.execute("INSERT OR IGNORE INTO card_number_counter (prefix, next) VALUES (?1, 1)", [&prefix])?;
        let next: i64 = tx.query_row(
            "UPDATE card_number_counter SET next = next + 1 WHERE prefix = ?1 RETURNING next - 1",
            [&prefix],
            |r| r.get(0),
        )?;
        let number = u32::try_from(next).ok().and_then(|n| crate::card_number(self.prefix, n));
        Ok(number.ok_or(Refusal::NumbersExhausted { prefix }))
    }

    fn live_claim(tx: &Connection, ssn: &str) -> rusqlite::Result<Option<Claim>> {
        tx.query_row(
            "SELECT claim_id, ssn, station, card_number, reissue_of, expires_at FROM claims
             WHERE ssn = ?1 AND state = 'live'",
            [ssn],
            claim_row,
        )
        .optional()
    }

    fn cards(conn: &Connection, ssn: &str) -> rusqlite::Result<Vec<CardRecord>> {
        let mut stmt = conn.prepare(
            "SELECT card_number, ssn, card_id, atr, status, station FROM cards WHERE ssn = ?1 ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([ssn], card_row)?;
        rows.collect()
    }

    fn card(conn: &Connection, number: &str) -> rusqlite::Result<Option<CardRecord>> {
        conn.query_row(
            "SELECT card_number, ssn, card_id, atr, status, station FROM cards WHERE card_number = ?1",
            [number],
            card_row,
        )
        .optional()
    }
}

fn claim_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Claim> {
    Ok(Claim {
        claim_id: r.get(0)?,
        ssn: r.get(1)?,
        station: r.get(2)?,
        card_number: r.get(3)?,
        reissue_of: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

fn card_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CardRecord> {
    let status: String = r.get(4)?;
    Ok(CardRecord {
        card_number: r.get(0)?,
        ssn: r.get(1)?,
        card_id: r.get(2)?,
        atr: r.get(3)?,
        status: CardStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("status {status}").into(),
            )
        })?,
        station: r.get(5)?,
    })
}

impl ProvincialArchive for SqliteProvincial {
    fn lookup(&self, ssn: &str) -> Result<PersonCards, ArchiveError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let deceased: Option<Option<i64>> = conn
            .query_row("SELECT deceased_at FROM persons WHERE ssn = ?1", [ssn], |r| r.get(0))
            .optional()
            .map_err(store_err)?;
        let live_claim =
            SqliteProvincial::live_claim(&conn, ssn).map_err(store_err)?.filter(|c| c.expires_at > now());
        Ok(PersonCards {
            ssn: ssn.to_string(),
            deceased: deceased.flatten().is_some(),
            cards: SqliteProvincial::cards(&conn, ssn).map_err(store_err)?,
            live_claim,
        })
    }

    fn claim(&self, q: &ClaimRequest) -> Result<Claim, ArchiveError> {
        if q.ssn.len() != 18 {
            return Err(ArchiveError::BadRequest("ssn must be the 18-character resident ID number".into()));
        }
        let lease = q.lease_seconds.clamp(1, MAX_LEASE_SECONDS);
        self.idempotent(&q.request_id, "claim", |tx| {
            tx.execute("INSERT OR IGNORE INTO persons (ssn, name) VALUES (?1, ?2)", params![q.ssn, q.name])?;
            let deceased: Option<i64> =
                tx.query_row("SELECT deceased_at FROM persons WHERE ssn = ?1", [&q.ssn], |r| r.get(0))?;
            if deceased.is_some() {
                return Ok(Err(Refusal::Deceased));
            }
            SqliteProvincial::expire(tx, &q.ssn)?;
            if let Some(c) = SqliteProvincial::live_claim(tx, &q.ssn)? {
                return Ok(Err(Refusal::AlreadyClaimed { station: c.station, expires_at: c.expires_at }));
            }
            let live = SqliteProvincial::cards(tx, &q.ssn)?.into_iter().find(|c| c.status.is_live());
            if let Some(live) = live {
                if q.reissue_of.as_deref() != Some(live.card_number.as_str()) {
                    return Ok(Err(Refusal::LiveCard { card_number: live.card_number }));
                }
            }
            let number = match self.allocate(tx)? {
                Ok(n) => n,
                Err(r) => return Ok(Err(r)),
            };
            let expires_at = now() + lease;
            tx.execute(
                "INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'live', ?5, ?6)",
                params![q.ssn, self.station, number, q.reissue_of, expires_at, now()],
            )?;
            Ok(Ok(Claim {
                claim_id: tx.last_insert_rowid(),
                ssn: q.ssn.clone(),
                station: self.station.clone(),
                card_number: number,
                reissue_of: q.reissue_of.clone(),
                expires_at,
            }))
        })
    }

    fn commit(&self, q: &CommitRequest) -> Result<CardRecord, ArchiveError> {
        self.idempotent(&q.request_id, "commit", |tx| {
            let row: Option<(Claim, String)> = tx
                .query_row(
                    "SELECT claim_id, ssn, station, card_number, reissue_of, expires_at, state FROM claims
                     WHERE claim_id = ?1",
                    [q.claim_id],
                    |r| Ok((claim_row(r)?, r.get(6)?)),
                )
                .optional()?;
            let Some((claim, state)) = row else {
                return Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) }));
            };
            let state = if state == "live" && claim.expires_at <= now() { "expired".to_string() } else { state };
            if state != "live" || claim.station != self.station {
                let state = if claim.station != self.station { format!("held by {}", claim.station) } else { state };
                return Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state }));
            }
            if let Some(live) = SqliteProvincial::cards(tx, &claim.ssn)?.into_iter().find(|c| c.status.is_live()) {
                return Ok(Err(Refusal::OldCardNotStopped { card_number: live.card_number }));
            }
            tx.execute(
                "INSERT INTO cards (card_number, ssn, card_id, atr, status, station, claim_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'made', ?5, ?6, ?7, ?7)",
                params![claim.card_number, claim.ssn, q.card_id, q.atr, self.station, claim.claim_id, now()],
            )?;
            tx.execute("UPDATE claims SET state = 'committed' WHERE claim_id = ?1", [claim.claim_id])?;
            Ok(Ok(CardRecord {
                card_number: claim.card_number,
                ssn: claim.ssn,
                card_id: Some(q.card_id.clone()),
                atr: Some(q.atr.clone()),
                status: CardStatus::Made,
                station: self.station.clone(),
            }))
        })
    }

    fn release(&self, q: &ReleaseRequest) -> Result<(), ArchiveError> {
        self.idempotent(&q.request_id, "release", |tx| {
            let row: Option<(String, String, String)> = tx
                .query_row(
                    "SELECT state, station, card_number FROM claims WHERE claim_id = ?1",
                    [q.claim_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            match row {
                None => Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) })),
                Some((state, station, number)) if state == "live" && station == self.station => {
                    tx.execute("UPDATE claims SET state = 'released' WHERE claim_id = ?1", [q.claim_id])?;
                    tx.execute(
                        "INSERT OR IGNORE INTO free_card_numbers (card_number) VALUES (?1)",
                        [number],
                    )?;
                    Ok(Ok(()))
                }
                Some((state, _, _)) => Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state })),
            }
        })
    }

    fn stop_card(&self, q: &StopRequest) -> Result<CardRecord, ArchiveError> {
        self.idempotent(&q.request_id, "stop", |tx| {
            let Some(mut card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            if !card.status.is_live() {
                return Ok(Err(Refusal::NotLive { card_number: card.card_number, status: card.status }));
            }
            card.status = CardStatus::from(q.end);
            tx.execute(
                "UPDATE cards SET status = ?3, updated_at = ?2 WHERE card_number = ?1",
                params![q.card_number, now(), card.status.as_str()],
            )?;
            Ok(Ok(card))
        })
    }

    fn mark_deceased(&self, q: &DeceasedRequest) -> Result<Vec<String>, ArchiveError> {
        self.idempotent(&q.request_id, "deceased", |tx| {
            tx.execute("INSERT OR IGNORE INTO persons (ssn, name) VALUES (?1, '')", [&q.ssn])?;
            tx.execute(
                "UPDATE persons SET deceased_at = coalesce(deceased_at, ?2) WHERE ssn = ?1",
                params![q.ssn, now()],
            )?;
            let cancelled: Vec<String> = SqliteProvincial::cards(tx, &q.ssn)?
                .into_iter()
                .filter(|c| c.status.is_live())
                .map(|c| c.card_number)
                .collect();
            tx.execute(
                "UPDATE cards SET status = 'cancelled', updated_at = ?2
                 WHERE ssn = ?1 AND status IN ('made', 'issued', 'active')",
                params![q.ssn, now()],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO free_card_numbers (card_number)
                 SELECT card_number FROM claims WHERE ssn = ?1 AND state = 'live'
                 AND claim_id NOT IN (SELECT claim_id FROM kit_claims)",
                [&q.ssn],
            )?;
            tx.execute("UPDATE claims SET state = 'cancelled' WHERE ssn = ?1 AND state = 'live'", [&q.ssn])?;
            Ok(Ok(cancelled))
        })
    }

    fn checkout(&self, q: &crate::kit::CheckoutRequest) -> Result<crate::kit::Checkout, ArchiveError> {
        self.kit_checkout(q)
    }

    fn sync_record(&self, r: &crate::kit::KitRecord) -> Result<crate::kit::RecordResult, ArchiveError> {
        self.kit_record(r)
    }

    fn checkin(&self, q: &crate::kit::CheckinRequest) -> Result<crate::kit::Checkin, ArchiveError> {
        self.kit_checkin(q)
    }

    fn kit_conflicts(&self) -> Result<Vec<crate::kit::KitConflict>, ArchiveError> {
        self.all_kit_conflicts()
    }

    fn resolve_kit_conflict(&self, q: &crate::kit::ResolveRequest) -> Result<(), ArchiveError> {
        self.resolve_conflict(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance_on_sqlite() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("provincial.db");
        let open = |station: &str| -> Box<dyn ProvincialArchive> {
            Box::new(SqliteProvincial::open(&path, station, 'B').expect("open"))
        };
        crate::conformance::run_all(&open);
    }

    #[test]
    fn the_schema_refuses_two_live_cards_even_behind_the_codes_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = SqliteProvincial::open(dir.path().join("p.db"), "S1", 'B').expect("open");
        let conn = a.conn.lock().expect("lock");
        conn.execute("INSERT INTO persons (ssn) VALUES ('11010519491231002X')", []).expect("person");
        let insert = |n: &str| {
            conn.execute(
                "INSERT INTO cards (card_number, ssn, status, station, created_at, updated_at)
                 VALUES (?1, '11010519491231002X', 'made', 'S1', 0, 0)",
                [n],
            )
        };
        insert("B00000019").expect("first live card");
        let e = insert("X00000019").expect_err("second live card");
        assert!(e.to_string().contains("UNIQUE"), "{e}");
    }
}
