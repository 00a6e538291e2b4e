//! The provincial-archive contract on SQLite, for a counter where one machine serves. One
//! connection behind a mutex; every change is one `BEGIN IMMEDIATE` transaction that also
//! stores its answer under the request id. The rules are constraints of the schema.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{
    now, AnchorRequest, ArchiveError, CardRecord, CardStatus, Claim, ClaimRequest, CommitRequest,
    CorrectDeceasedRequest, DeceasedRequest, DeliverRequest, LedgerHead, PersonCards, ProvincialArchive,
    ReceiveRequest, Refusal, ReleaseRequest, RenewRequest, RestoreRequest, StopRequest,
};
use crate::{LiftRequest, SuspendRequest, Suspension};

mod custody;
mod kits;

const SCHEMA: &str = include_str!("../migrations/provincial-sqlite.sql");
/// Outreach kits' leases, records and conflicts.
const KITS_SCHEMA: &str = include_str!("../migrations/provincial-sqlite-kits.sql");
/// Migrations applied once each, in order, after the idempotent ones above; `user_version`
/// says how far a file is.
const MIGRATIONS: [(i64, &str); 9] = [
    (3, include_str!("../migrations/provincial-sqlite-0003-stations.sql")),
    (4, include_str!("../migrations/provincial-sqlite-0004-deliveries.sql")),
    (5, include_str!("../migrations/provincial-sqlite-0005-restore.sql")),
    (6, include_str!("../migrations/provincial-sqlite-0006-known-stations.sql")),
    (7, include_str!("../migrations/provincial-sqlite-0007-losses.sql")),
    (8, include_str!("../migrations/provincial-sqlite-0008-ledger-anchors.sql")),
    (9, include_str!("../migrations/provincial-sqlite-0009-custody.sql")),
    (10, include_str!("../migrations/provincial-sqlite-0010-anchor-macs.sql")),
    (11, include_str!("../migrations/provincial-sqlite-0011-kit-record-keys.sql")),
];

/// The provincial archive in one SQLite file, as one station (or kit) sees it.
pub struct SqliteProvincial {
    conn: Mutex<Connection>,
    station: String,
    /// For a kit: the station it belongs to.
    kit_of: Option<String>,
    prefix: char,
    limits: crate::Limits,
}

/// A stored answer: what the first execution of a request returned.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stored<T> {
    Ok(T),
    Refused(Refusal),
}

impl<T> Stored<T> {
    /// The audit table's word for it.
    fn outcome(&self) -> String {
        match self {
            Stored::Ok(_) => "ok".into(),
            Stored::Refused(r) => crate::refusal_kind(r),
        }
    }
}

fn store_err(e: rusqlite::Error) -> ArchiveError {
    ArchiveError::Store(e.to_string())
}

impl SqliteProvincial {
    /// The last ledger head `station` anchored.
    fn last_anchor(conn: &Connection, station: &str) -> rusqlite::Result<Option<LedgerHead>> {
        conn.query_row(
            "SELECT seq, hash, mac FROM ledger_anchors WHERE station = ?1 ORDER BY seq DESC LIMIT 1",
            [station],
            |r| Ok(LedgerHead { seq: r.get(0)?, hash: r.get(1)?, mac: r.get(2)? }),
        )
        .optional()
    }

    /// Opens (creating) the archive at `path` for `station`; new card numbers start with
    /// `prefix`.
    pub fn open(
        path: impl AsRef<Path>,
        station: &str,
        prefix: char,
    ) -> Result<SqliteProvincial, ArchiveError> {
        SqliteProvincial::open_as(path.as_ref(), station, None, prefix)
    }

    /// Opens the archive for `id`, a station, or a kit of station `kit_of`. A station is
    /// entered among the stations the province knows (what its first connection does at the
    /// service); a kit is not.
    fn open_as(
        path: &Path,
        id: &str,
        kit_of: Option<&str>,
        prefix: char,
    ) -> Result<SqliteProvincial, ArchiveError> {
        let mut conn = crate::open_private(path).map_err(store_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(store_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(store_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(store_err)?;
        conn.execute_batch(SCHEMA).map_err(store_err)?;
        conn.execute_batch(KITS_SCHEMA).map_err(store_err)?;
        for (version, sql) in MIGRATIONS {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive).map_err(store_err)?;
            let at: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(store_err)?;
            if at < version {
                tx.execute_batch(sql).map_err(store_err)?;
                tx.pragma_update(None, "user_version", version).map_err(store_err)?;
            }
            tx.commit().map_err(store_err)?;
        }
        if kit_of.is_none() {
            conn.execute(
                "INSERT OR IGNORE INTO stations (station, first_seen) VALUES (?1, ?2)",
                params![id, now()],
            )
            .map_err(store_err)?;
        }
        Ok(SqliteProvincial {
            conn: Mutex::new(conn),
            station: id.to_string(),
            kit_of: kit_of.map(str::to_string),
            prefix,
            limits: crate::Limits::default(),
        })
    }

    /// The same archive as outreach kit `kit` of station `owner` (a kit's certificate names
    /// both).
    pub fn as_kit(
        path: impl AsRef<Path>,
        kit: &str,
        owner: &str,
        prefix: char,
    ) -> Result<SqliteProvincial, ArchiveError> {
        SqliteProvincial::open_as(path.as_ref(), kit, Some(owner), prefix)
    }

    /// The province's limits instead of the defaults.
    pub fn with_limits(mut self, limits: crate::Limits) -> SqliteProvincial {
        self.limits = limits;
        self
    }

    /// The same archive file seen by another station (tests of cross-station rules).
    pub fn as_station(
        path: impl AsRef<Path>,
        station: &str,
        prefix: char,
    ) -> Result<SqliteProvincial, ArchiveError> {
        SqliteProvincial::open(path, station, prefix)
    }

    /// Runs one change once per (station, request id): a retry gets the first answer, a
    /// replay of the id with another request is refused. Every call goes into the audit table.
    fn idempotent<Q: Serialize, T: Serialize + DeserializeOwned>(
        &self,
        op: &str,
        request_id: &str,
        request: &Q,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<Result<T, Refusal>>,
    ) -> Result<T, ArchiveError> {
        if request_id.is_empty() || request_id.len() > 128 {
            return Err(ArchiveError::BadRequest("request id must be 1 to 128 characters".into()));
        }
        let hash = crate::request_hash(request);
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_err)?;
        let earlier: Option<(String, String, String)> = tx
            .query_row(
                "SELECT op, body_hash, answer FROM requests WHERE station = ?1 AND request_id = ?2",
                [&self.station, request_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(store_err)?;
        let (stored, outcome) = match earlier {
            Some((first_op, first_hash, _))
                if first_op != op || (!first_hash.is_empty() && first_hash != hash) =>
            {
                let r = Refusal::RequestIdReused { request_id: request_id.into(), op: first_op };
                (Stored::Refused(r), "refused:request-id-reused".to_string())
            }
            Some((_, _, answer)) => (
                serde_json::from_str(&answer).map_err(|e| ArchiveError::Store(e.to_string()))?,
                "replayed".into(),
            ),
            None => {
                let stored = match f(&tx).map_err(store_err)? {
                    Ok(v) => Stored::Ok(v),
                    Err(r) => Stored::Refused(r),
                };
                let answer =
                    serde_json::to_string(&stored).map_err(|e| ArchiveError::Store(e.to_string()))?;
                tx.execute(
                    "INSERT INTO requests (station, request_id, op, body_hash, answer, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![self.station, request_id, op, hash, answer, now()],
                )
                .map_err(store_err)?;
                let outcome = stored.outcome();
                (stored, outcome)
            }
        };
        self.audit(&tx, op, Some(request_id), request, &outcome).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        match stored {
            Stored::Ok(v) => Ok(v),
            Stored::Refused(r) => Err(ArchiveError::Refused(r)),
        }
    }

    /// One row of the province's audit table.
    fn audit<Q: Serialize>(
        &self,
        conn: &Connection,
        op: &str,
        request_id: Option<&str>,
        request: &Q,
        outcome: &str,
    ) -> rusqlite::Result<()> {
        let request = serde_json::to_string(request).unwrap_or_default();
        conn.execute(
            "INSERT INTO audit (at, station, op, request_id, request, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now(), self.station, op, request_id, request, outcome],
        )?;
        Ok(())
    }

    /// Numbers held out of circulation (card number, station, claim), by number: a card
    /// carrying one may exist until its station says where it is.
    pub fn held_card_numbers(&self) -> Result<Vec<(String, String, i64)>, ArchiveError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare("SELECT card_number, station, claim_id FROM held_card_numbers ORDER BY card_number")
            .map_err(store_err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(store_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(store_err)
    }

    /// The audit rows of a station, oldest first: (op, request id, outcome). For the province's
    /// auditors and the tests.
    pub fn audit_of(&self, station: &str) -> Result<Vec<(String, Option<String>, String)>, ArchiveError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare("SELECT op, request_id, outcome FROM audit WHERE station = ?1 ORDER BY audit_id")
            .map_err(store_err)?;
        let rows = stmt.query_map([station], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(store_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(store_err)
    }

    /// Expires lapsed claims of `ssn`. Their numbers are held out of circulation: the station
    /// may have made a card with one, and says where it is with a late release (a kit's number
    /// comes back at its check-in).
    fn expire(tx: &Transaction<'_>, ssn: &str) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT OR IGNORE INTO held_card_numbers (card_number, station, claim_id, since)
             SELECT card_number, station, claim_id, ?2 FROM claims WHERE ssn = ?1 AND state = 'live'
             AND expires_at <= ?2 AND claim_id NOT IN (SELECT claim_id FROM kit_claims)",
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

    /// The claim, when it is live (lease not lapsed) and this station's; otherwise why not.
    fn own_live_claim(
        &self,
        tx: &Transaction<'_>,
        claim_id: i64,
    ) -> rusqlite::Result<Result<Claim, Refusal>> {
        let row: Option<(Claim, String)> = tx
            .query_row(
                "SELECT claim_id, ssn, station, card_number, reissue_of, expires_at, state FROM claims
                 WHERE claim_id = ?1",
                [claim_id],
                |r| Ok((claim_row(r)?, r.get(6)?)),
            )
            .optional()?;
        let Some((claim, state)) = row else {
            return Ok(Err(Refusal::NotFound { what: format!("claim {claim_id}") }));
        };
        if let Err(r) = crate::own_live_claim(&self.station, &claim, &state, claim.expires_at <= now()) {
            return Ok(Err(r));
        }
        Ok(Ok(claim))
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
        self.audit(&conn, "lookup", None, &crate::LookupRequest { ssn: ssn.into() }, "ok")
            .map_err(store_err)?;
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
            suspensions: SqliteProvincial::suspensions_in_force(&conn, ssn).map_err(store_err)?,
        })
    }

    /// The claim's decision, step for step the twin of PostgreSQL's `claim_person`
    /// (crates/provincial/migrations/provincial-pg-0013-number-blocks.sql, first in 0012), which
    /// decides the service's claims in one round trip: a change to one is a change to the other,
    /// and the conformance suite, run on both, proves they decide alike. (PostgreSQL hands out
    /// numbers by block per connection so that claims at once do not wait for each other; one
    /// writer at a time here takes the counter's next, as one connection there does.)
    fn claim(&self, q: &ClaimRequest) -> Result<Claim, ArchiveError> {
        crate::check_person(&q.ssn)?;
        let lease = q.lease_seconds.clamp(1, self.limits.max_lease_seconds);
        self.idempotent("claim", &q.request_id, q, |tx| {
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
        self.idempotent("commit", &q.request_id, q, |tx| {
            let claim = match self.own_live_claim(tx, q.claim_id)? {
                Ok(c) => c,
                Err(r) => return Ok(Err(r)),
            };
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
        self.idempotent("release", &q.request_id, q, |tx| {
            let row: Option<(String, String, String, i64)> = tx
                .query_row(
                    "SELECT state, station, card_number, expires_at FROM claims WHERE claim_id = ?1",
                    [q.claim_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((state, station, number, expires_at)) = row else {
                return Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) }));
            };
            if station != self.station {
                return Ok(Err(Refusal::ClaimNotLive {
                    claim_id: q.claim_id,
                    state: format!("held by {station}"),
                }));
            }
            let held: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM held_card_numbers WHERE claim_id = ?1)",
                [q.claim_id],
                |r| r.get(0),
            )?;
            let live = state == "live";
            if !live && !held {
                return Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state }));
            }
            if live {
                let state = if expires_at <= now() { "expired" } else { "released" };
                tx.execute("UPDATE claims SET state = ?2 WHERE claim_id = ?1", params![q.claim_id, state])?;
            }
            if q.card.accounted_for() {
                tx.execute("DELETE FROM held_card_numbers WHERE claim_id = ?1", [q.claim_id])?;
                tx.execute("INSERT OR IGNORE INTO free_card_numbers (card_number) VALUES (?1)", [&number])?;
            } else if live {
                tx.execute(
                    "INSERT OR IGNORE INTO held_card_numbers (card_number, station, claim_id, since)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![number, self.station, q.claim_id, now()],
                )?;
            }
            Ok(Ok(()))
        })
    }

    fn renew(&self, q: &RenewRequest) -> Result<Claim, ArchiveError> {
        let lease = q.lease_seconds.clamp(1, self.limits.max_lease_seconds);
        self.idempotent("renew", &q.request_id, q, |tx| {
            let mut claim = match self.own_live_claim(tx, q.claim_id)? {
                Ok(c) => c,
                Err(r) => return Ok(Err(r)),
            };
            claim.expires_at = claim.expires_at.max(now() + lease);
            tx.execute(
                "UPDATE claims SET expires_at = ?2 WHERE claim_id = ?1",
                params![q.claim_id, claim.expires_at],
            )?;
            Ok(Ok(claim))
        })
    }

    fn stop_card(&self, q: &StopRequest) -> Result<CardRecord, ArchiveError> {
        self.idempotent("stop", &q.request_id, q, |tx| {
            let Some(mut card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            if let Err(r) = crate::may_stop(&self.station, &card, q) {
                return Ok(Err(r));
            }
            SqliteProvincial::expire(tx, &card.ssn)?;
            let claim = SqliteProvincial::live_claim(tx, &card.ssn)?;
            let for_claim = crate::stops_for_reissue(&self.station, &card, q, claim.as_ref());
            let before = card.status;
            card.status = CardStatus::from(q.end);
            tx.execute(
                "UPDATE cards SET status = ?3, updated_at = ?2, stopped_for_claim = ?4,
                 status_before_stop = ?5 WHERE card_number = ?1",
                params![
                    q.card_number,
                    now(),
                    card.status.as_str(),
                    for_claim,
                    for_claim.map(|_| before.as_str())
                ],
            )?;
            self.end_suspension(tx, &q.card_number, "stopped", "")?;
            Ok(Ok(card))
        })
    }

    fn restore_card(&self, q: &RestoreRequest) -> Result<CardRecord, ArchiveError> {
        q.check()?;
        self.idempotent("restore", &q.request_id, q, |tx| {
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
            let Some(mut card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            let (stopped_for, before): (Option<i64>, Option<String>) = tx.query_row(
                "SELECT stopped_for_claim, status_before_stop FROM cards WHERE card_number = ?1",
                [&q.card_number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let lapsed = claim.expires_at <= now();
            if let Err(r) = crate::may_restore(&self.station, &claim, &state, lapsed, &card, stopped_for) {
                return Ok(Err(r));
            }
            card.status = before.as_deref().and_then(CardStatus::parse).filter(|s| s.is_live()).unwrap_or(CardStatus::Issued);
            tx.execute(
                "UPDATE cards SET status = ?2, updated_at = ?3, stopped_for_claim = NULL, status_before_stop = NULL
                 WHERE card_number = ?1",
                params![q.card_number, card.status.as_str(), now()],
            )?;
            tx.execute("UPDATE claims SET state = 'released' WHERE claim_id = ?1", [claim.claim_id])?;
            if q.card.accounted_for() {
                tx.execute("INSERT OR IGNORE INTO free_card_numbers (card_number) VALUES (?1)", [&claim.card_number])?;
            } else {
                tx.execute(
                    "INSERT OR IGNORE INTO held_card_numbers (card_number, station, claim_id, since)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![claim.card_number, self.station, claim.claim_id, now()],
                )?;
            }
            Ok(Ok(card))
        })
    }

    fn deliver_card(&self, q: &DeliverRequest) -> Result<CardRecord, ArchiveError> {
        self.idempotent("deliver", &q.request_id, q, |tx| {
            let Some(card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            let received: Option<i64> = tx.query_row(
                "SELECT received_at FROM cards WHERE card_number = ?1",
                [&q.card_number],
                |r| r.get(0),
            )?;
            let to_known = tx
                .query_row("SELECT 1 FROM stations WHERE station = ?1", [&q.to_station], |_| Ok(()))
                .optional()?
                .is_some();
            if let Err(r) =
                crate::may_deliver(&self.station, &card, received.is_some(), &q.to_station, to_known)
            {
                return Ok(Err(r));
            }
            tx.execute(
                "UPDATE cards SET deliver_to = ?2, updated_at = ?3 WHERE card_number = ?1",
                params![q.card_number, q.to_station, now()],
            )?;
            Ok(Ok(card))
        })
    }

    fn anchor_ledger(&self, q: &AnchorRequest) -> Result<LedgerHead, ArchiveError> {
        self.idempotent("anchor", &q.request_id, q, |tx| {
            let anchored = SqliteProvincial::last_anchor(tx, &self.station)?;
            if let Err(r) = crate::may_anchor(&q.head, anchored.as_ref()) {
                return Ok(Err(r));
            }
            tx.execute(
                "INSERT OR IGNORE INTO ledger_anchors (station, seq, hash, anchored_at, mac) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![self.station, q.head.seq, q.head.hash, now(), q.head.mac],
            )?;
            Ok(Ok(q.head.clone()))
        })
    }

    fn ledger_anchor(&self) -> Result<Option<LedgerHead>, ArchiveError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        SqliteProvincial::last_anchor(&conn, &self.station).map_err(store_err)
    }

    fn receive_card(&self, q: &ReceiveRequest) -> Result<CardRecord, ArchiveError> {
        self.idempotent("receive", &q.request_id, q, |tx| {
            let Some(mut card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            let (deliver_to, received): (Option<String>, Option<i64>) = tx.query_row(
                "SELECT deliver_to, received_at FROM cards WHERE card_number = ?1",
                [&q.card_number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Err(r) = crate::may_receive(&self.station, &card, q, deliver_to.as_deref(), received.is_some()) {
                return Ok(Err(r));
            }
            tx.execute(
                "UPDATE cards SET made_by = station, station = ?2, received_at = ?3, updated_at = ?3 WHERE card_number = ?1",
                params![q.card_number, self.station, now()],
            )?;
            card.station = self.station.clone();
            Ok(Ok(card))
        })
    }

    fn mark_deceased(&self, q: &DeceasedRequest) -> Result<Vec<String>, ArchiveError> {
        q.check()?;
        self.idempotent("deceased", &q.request_id, q, |tx| {
            tx.execute("INSERT OR IGNORE INTO persons (ssn, name) VALUES (?1, '')", [&q.ssn])?;
            tx.execute(
                "UPDATE persons SET deceased_at = coalesce(deceased_at, ?2) WHERE ssn = ?1",
                params![q.ssn, now()],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO deaths (ssn, station, supervisor, evidence, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![q.ssn, self.station, q.supervisor, q.evidence, now()],
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
            // A live claim's card may be in a printer now: its number is held, not reused.
            tx.execute(
                "INSERT OR IGNORE INTO held_card_numbers (card_number, station, claim_id, since)
                 SELECT card_number, station, claim_id, ?2 FROM claims WHERE ssn = ?1 AND state = 'live'
                 AND claim_id NOT IN (SELECT claim_id FROM kit_claims)",
                params![q.ssn, now()],
            )?;
            tx.execute("UPDATE claims SET state = 'cancelled' WHERE ssn = ?1 AND state = 'live'", [&q.ssn])?;
            Ok(Ok(cancelled))
        })
    }

    fn correct_deceased(&self, q: &CorrectDeceasedRequest) -> Result<(), ArchiveError> {
        q.check()?;
        self.idempotent("correct-deceased", &q.request_id, q, |tx| {
            let death: Option<(String, String, String)> = tx
                .query_row("SELECT station, supervisor, evidence FROM deaths WHERE ssn = ?1", [&q.ssn], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let Some((station, supervisor, evidence)) = death else {
                return Ok(Err(Refusal::NotDeceased));
            };
            if station == self.station && supervisor == q.supervisor {
                return Ok(Err(Refusal::SameSupervisor));
            }
            tx.execute(
                "INSERT INTO death_corrections (ssn, recorded_by, evidence, station, supervisor, reason, corrected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![q.ssn, format!("{station}/{supervisor}"), evidence, self.station, q.supervisor, q.reason, now()],
            )?;
            tx.execute("DELETE FROM deaths WHERE ssn = ?1", [&q.ssn])?;
            tx.execute("UPDATE persons SET deceased_at = NULL WHERE ssn = ?1", [&q.ssn])?;
            Ok(Ok(()))
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

    fn suspend_card(&self, q: &SuspendRequest) -> Result<Suspension, ArchiveError> {
        q.check()?;
        self.idempotent("suspend", &q.request_id, q, |tx| {
            let Some(card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            let latest = SqliteProvincial::latest_suspension(tx, &q.card_number)?;
            let in_force =
                latest.as_ref().filter(|(s, ended)| ended.is_none() && s.until > now()).map(|(s, _)| s);
            if let Err(r) = crate::may_suspend(&self.station, &card, q, in_force) {
                return Ok(Err(r));
            }
            let s = Suspension {
                card_number: q.card_number.clone(),
                station: self.station.clone(),
                channel: q.channel,
                since: now(),
                until: now() + q.seconds,
            };
            tx.execute(
                "INSERT INTO card_suspensions (card_number, station, channel, operator, since, until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.card_number, s.station, s.channel.as_str(), q.operator, s.since, s.until],
            )?;
            Ok(Ok(s))
        })
    }

    fn record_custody(
        &self,
        q: &crate::custody::CustodyRequest,
    ) -> Result<crate::custody::ProvincialCustody, ArchiveError> {
        self.custody_record(q)
    }

    fn lift_suspension(&self, q: &LiftRequest) -> Result<Suspension, ArchiveError> {
        q.check()?;
        self.idempotent("lift", &q.request_id, q, |tx| {
            let Some(card) = SqliteProvincial::card(tx, &q.card_number)? else {
                return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
            };
            let latest = SqliteProvincial::latest_suspension(tx, &q.card_number)?;
            let lifted =
                match crate::may_lift(&card, q, latest.as_ref().map(|(s, e)| (s, e.as_deref())), now()) {
                    Ok(s) => s,
                    Err(r) => return Ok(Err(r)),
                };
            self.end_suspension(tx, &q.card_number, "lifted", &q.operator)?;
            Ok(Ok(lifted))
        })
    }
}

/// Temporary losses (migration 7).
impl SqliteProvincial {
    /// The card's latest temporary loss and how it ended (`None`: not ended; lapsed when its
    /// `until` is past).
    fn latest_suspension(
        conn: &Connection,
        card_number: &str,
    ) -> rusqlite::Result<Option<(Suspension, Option<String>)>> {
        conn.query_row(
            "SELECT card_number, station, channel, since, until, ended FROM card_suspensions
             WHERE card_number = ?1 ORDER BY suspension_id DESC LIMIT 1",
            [card_number],
            |r| Ok((suspension_row(r)?, r.get(5)?)),
        )
        .optional()
    }

    /// The person's temporary losses in force now.
    fn suspensions_in_force(conn: &Connection, ssn: &str) -> rusqlite::Result<Vec<Suspension>> {
        let mut stmt = conn.prepare(
            "SELECT s.card_number, s.station, s.channel, s.since, s.until FROM card_suspensions s
             JOIN cards c ON c.card_number = s.card_number
             WHERE c.ssn = ?1 AND c.status IN ('made', 'issued', 'active') AND s.ended IS NULL AND s.until > ?2
             ORDER BY s.suspension_id",
        )?;
        let rows = stmt.query_map(params![ssn, now()], suspension_row)?;
        rows.collect()
    }

    /// Ends the card's temporary loss in force, if any (`how`: lifted or stopped).
    fn end_suspension(
        &self,
        tx: &Transaction<'_>,
        card_number: &str,
        how: &str,
        operator: &str,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE card_suspensions SET ended = ?2, ended_at = ?3, ended_by = ?4
             WHERE card_number = ?1 AND ended IS NULL AND until > ?3",
            params![card_number, how, now(), format!("{}/{operator}", self.station)],
        )?;
        Ok(())
    }
}

fn suspension_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Suspension> {
    let channel: String = r.get(2)?;
    Ok(Suspension {
        card_number: r.get(0)?,
        station: r.get(1)?,
        channel: crate::LossChannel::parse(&channel).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("channel {channel}").into(),
            )
        })?,
        since: r.get(3)?,
        until: r.get(4)?,
    })
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
        let open_kit = |kit: &str, owner: &str| -> Box<dyn ProvincialArchive> {
            Box::new(SqliteProvincial::as_kit(&path, kit, owner, 'B').expect("open"))
        };
        crate::conformance::run_all(&open, &open_kit);
    }

    #[test]
    fn a_restore_is_audited_and_frees_the_claims_number() {
        use crate::conformance::{
            claim_request, commit_request, fresh_ssn, replacement_stop, restore_request,
        };
        let dir = tempfile::tempdir().expect("tmp");
        let a = SqliteProvincial::open(dir.path().join("p.db"), "S1", 'B').expect("open");
        let ssn = fresh_ssn();
        let first = a.claim(&claim_request(&ssn, None)).expect("claim");
        let old = a.commit(&commit_request(first.claim_id)).expect("commit").card_number;
        let claim = a.claim(&claim_request(&ssn, Some(&old))).expect("re-issue claim");
        a.stop_card(&replacement_stop(&old)).expect("stop");
        let q = restore_request(claim.claim_id, &old);
        a.restore_card(&q).expect("restore");
        a.restore_card(&q).expect("replay");
        let rows: Vec<_> =
            a.audit_of("S1").expect("audit").into_iter().filter(|r| r.0 == "restore").collect();
        let id = Some(q.request_id.clone());
        assert_eq!(
            rows,
            [("restore".into(), id.clone(), "ok".into()), ("restore".into(), id, "replayed".into())]
        );
        let next = a.claim(&claim_request(&fresh_ssn(), None)).expect("another person");
        assert_eq!(next.card_number, claim.card_number, "the rejected new card's number is reused");
        let conn = a.conn.lock().expect("lock");
        let (for_claim, before): (Option<i64>, Option<String>) = conn
            .query_row(
                "SELECT stopped_for_claim, status_before_stop FROM cards WHERE card_number = ?1",
                [&old],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("card");
        assert_eq!((for_claim, before), (None, None), "the restored card keeps no stop");
    }

    /// A record refused for its signature changes nothing but leaves its refusal in the
    /// audit; the signed record is kept with its signature.
    #[test]
    fn a_kit_record_not_signed_by_its_key_is_audited_and_changes_nothing() {
        use crate::conformance::{claim_request, commit_request, fresh_ssn, request_id, KitKey};
        use crate::kit::{CheckoutRequest, KitEvent, KitRecord, VisitRequest};
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("p.db");
        let counter = SqliteProvincial::open(&path, "S1", 'B').expect("open");
        let kit = SqliteProvincial::as_kit(&path, "kit-9", "S1", 'B').expect("open");
        let ssn = fresh_ssn();
        let claim = counter.claim(&claim_request(&ssn, None)).expect("claim");
        let card = counter.commit(&commit_request(claim.claim_id)).expect("commit").card_number;
        let out = kit
            .checkout(&CheckoutRequest {
                request_id: request_id("checkout"),
                visits: vec![VisitRequest {
                    ssn: ssn.clone(),
                    name: "测试".into(),
                    premade_card: Some(card.clone()),
                }],
                lease_seconds: 600,
                record_key: Some(KitKey::ours().public_hex()),
            })
            .expect("checkout");
        let record = KitRecord {
            record_id: request_id("kit-9-record"),
            lease_id: out.lease_id,
            seq: 1,
            event: KitEvent::VisitFailed {
                ssn: ssn.clone(),
                card_number: Some(card),
                reason: "not home".into(),
            },
            signature: None,
        };
        let forged = KitKey::new(7).sign(record.clone());
        assert!(matches!(
            kit.sync_record(&forged),
            Err(ArchiveError::Refused(Refusal::RecordNotSigned { .. }))
        ));
        let signed = KitKey::ours().sign(record);
        kit.sync_record(&signed).expect("signed");
        let rows: Vec<_> =
            kit.audit_of("kit-9").expect("audit").into_iter().filter(|r| r.0 == "kit-record").collect();
        let id = Some(signed.record_id.clone());
        assert_eq!(
            rows,
            [
                ("kit-record".into(), id.clone(), "refused:record-not-signed".into()),
                ("kit-record".into(), id, "ok".into())
            ]
        );
        let conn = kit.conn.lock().expect("lock");
        let (count, kept): (i64, Option<String>) = conn
            .query_row(
                "SELECT COUNT(*), MAX(signature) FROM kit_records WHERE lease_id = ?1",
                [out.lease_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("records");
        assert_eq!((count, kept), (1, signed.signature), "the forged record left nothing");
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
