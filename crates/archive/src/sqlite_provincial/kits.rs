//! Outreach kits on the SQLite provincial archive: the decisions are `kit`'s, shared with the
//! PostgreSQL service; this file gathers the facts and writes the outcome, each record in one
//! `BEGIN IMMEDIATE` transaction that also stores its result under the record id.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{store_err, SqliteProvincial};
use crate::kit::{
    self, CardFacts, Checkin, CheckinRequest, Checkout, CheckoutRequest, ClaimFacts, KitConflict, KitEvent,
    KitRecord, LeasedVisit, MadeDecision, MadeFacts, RecordOutcome, RecordResult, RefusedVisit, SpoiledFacts,
};
use crate::{now, ArchiveError, CardStatus, Refusal};

fn json_err(e: serde_json::Error) -> ArchiveError {
    ArchiveError::Store(e.to_string())
}

/// Today in China Standard Time (YYYYMMDD), as custody approvals are dated.
fn today() -> String {
    applicant::days::today().compact()
}

fn deceased(tx: &Transaction<'_>, ssn: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .query_row("SELECT deceased_at FROM persons WHERE ssn = ?1", [ssn], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten()
        .is_some())
}

impl SqliteProvincial {
    pub(super) fn kit_checkout(&self, q: &CheckoutRequest) -> Result<Checkout, ArchiveError> {
        if q.visits.iter().any(|v| v.ssn.len() != 18) {
            return Err(ArchiveError::BadRequest(
                "every ssn must be the 18-character resident ID number".into(),
            ));
        }
        let record_key = kit::check_record_key(q)?;
        let lease = q.lease_seconds.clamp(1, self.limits.max_kit_lease_seconds);
        self.idempotent("checkout", &q.request_id, q, |tx| {
            if let Err(r) = self.limits.check_checkout(q.visits.len()) {
                return Ok(Err(r));
            }
            let expires_at = now() + lease;
            tx.execute(
                "INSERT INTO kit_leases (kit, owner, state, expires_at, created_at, record_key)
                 VALUES (?1, ?2, 'open', ?3, ?4, ?5)",
                params![self.station, self.kit_of, expires_at, now(), record_key],
            )?;
            let lease_id = tx.last_insert_rowid();
            let (mut visits, mut refused) = (Vec::new(), Vec::new());
            for v in &q.visits {
                tx.execute(
                    "INSERT OR IGNORE INTO persons (ssn, name) VALUES (?1, ?2)",
                    params![v.ssn, v.name],
                )?;
                SqliteProvincial::expire(tx, &v.ssn)?;
                let held = SqliteProvincial::live_claim(tx, &v.ssn)?.map(|c| (c.station, c.expires_at));
                let live = SqliteProvincial::cards(tx, &v.ssn)?
                    .into_iter()
                    .find(|c| c.status.is_live())
                    .map(|c| (c.card_number, c.status));
                let allowed = kit::decide_visit(v, deceased(tx, &v.ssn)?, held, live);
                let number = match allowed {
                    Ok(()) => self.allocate(tx)?,
                    Err(r) => Err(r),
                };
                let number = match number {
                    Ok(n) => n,
                    Err(refusal) => {
                        refused.push(RefusedVisit { ssn: v.ssn.clone(), refusal });
                        continue;
                    }
                };
                tx.execute(
                    "INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, 'live', ?5, ?6)",
                    params![v.ssn, self.station, number, v.premade_card, expires_at, now()],
                )?;
                let claim_id = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO kit_claims (claim_id, lease_id, ssn, premade_card) VALUES (?1, ?2, ?3, ?4)",
                    params![claim_id, lease_id, v.ssn, v.premade_card],
                )?;
                visits.push(LeasedVisit {
                    ssn: v.ssn.clone(),
                    name: v.name.clone(),
                    claim_id,
                    card_number: number,
                    premade_card: v.premade_card.clone(),
                    custody: match &v.premade_card {
                        Some(card) => SqliteProvincial::current_custody(tx, card, &today())?,
                        None => Vec::new(),
                    },
                });
            }
            Ok(Ok(Checkout { lease_id, kit: self.station.clone(), expires_at, visits, refused }))
        })
    }

    pub(super) fn kit_record(&self, r: &KitRecord) -> Result<RecordResult, ArchiveError> {
        if r.record_id.is_empty() || r.record_id.len() > 128 {
            return Err(ArchiveError::BadRequest("record id must be 1 to 128 characters".into()));
        }
        let answer = self.kit_record_once(r);
        // A refused record changed nothing (its transaction was rolled back); the refusal is
        // kept in the audit all the same.
        if let Err(ArchiveError::Refused(refusal)) = &answer {
            let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            self.audit(&conn, "kit-record", Some(&r.record_id), r, &crate::refusal_kind(refusal))
                .map_err(store_err)?;
        }
        answer
    }

    fn kit_record_once(&self, r: &KitRecord) -> Result<RecordResult, ArchiveError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_err)?;
        let earlier: Option<(String, String, i64, i64, String)> = tx
            .query_row(
                "SELECT r.result, l.kit, r.lease_id, r.seq, r.event FROM kit_records r
                 JOIN kit_leases l ON l.lease_id = r.lease_id WHERE r.record_id = ?1",
                [&r.record_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .optional()
            .map_err(store_err)?;
        match earlier {
            Some((result, kit, lease, seq, event)) if kit == self.station => {
                let event: serde_json::Value = serde_json::from_str(&event).map_err(json_err)?;
                kit::same_record(lease, seq, &event, r)?;
                self.audit(&tx, "kit-record", Some(&r.record_id), r, "replayed").map_err(store_err)?;
                tx.commit().map_err(store_err)?;
                return serde_json::from_str(&result).map_err(json_err);
            }
            Some(_) => return Err(Refusal::NotYourKit { record_id: r.record_id.clone() }.into()),
            None => {}
        }
        let lease: Option<(String, String, i64, Option<String>)> = tx
            .query_row(
                "SELECT kit, state, next_seq, record_key FROM kit_leases WHERE lease_id = ?1",
                [r.lease_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(store_err)?;
        let (next_seq, record_key) = match lease {
            Some((kit, state, next, key)) if kit == self.station && state == "open" => (next, key),
            Some((kit, _, _, _)) if kit == self.station => {
                return Err(Refusal::NotFound {
                    what: format!("open lease {} (it is checked in)", r.lease_id),
                }
                .into())
            }
            _ => {
                return Err(Refusal::NotFound {
                    what: format!("lease {} of kit {}", r.lease_id, self.station),
                }
                .into())
            }
        };
        kit::check_record_signature(record_key.as_deref(), r)?;
        if r.seq != next_seq {
            return Err(kit::out_of_order(next_seq, r.seq));
        }
        let (outcome, card) = self.apply(&tx, r).map_err(store_err)?;
        let result = RecordResult { record_id: r.record_id.clone(), seq: r.seq, outcome };
        let event = serde_json::to_string(&r.event).map_err(json_err)?;
        let stored = serde_json::to_string(&result).map_err(json_err)?;
        tx.execute(
            "INSERT INTO kit_records (record_id, lease_id, seq, ssn, event, result, created_at, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![r.record_id, r.lease_id, r.seq, r.event.ssn(), event, stored, now(), r.signature],
        )
        .map_err(store_err)?;
        if let RecordOutcome::Conflict { reason } = &result.outcome {
            tx.execute(
                "INSERT INTO kit_conflicts (record_id, kit, lease_id, ssn, card_number, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![r.record_id, self.station, r.lease_id, r.event.ssn(), card, reason, now()],
            )
            .map_err(store_err)?;
        }
        tx.execute("UPDATE kit_leases SET next_seq = next_seq + 1 WHERE lease_id = ?1", [r.lease_id])
            .map_err(store_err)?;
        let outcome = match &result.outcome {
            RecordOutcome::Applied { .. } => "ok",
            RecordOutcome::Conflict { .. } => "conflict",
        };
        self.audit(&tx, "kit-record", Some(&r.record_id), r, outcome).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        Ok(result)
    }

    /// Applies one event; returns the outcome and the card concerned.
    fn apply(
        &self,
        tx: &Transaction<'_>,
        r: &KitRecord,
    ) -> rusqlite::Result<(RecordOutcome, Option<String>)> {
        let ssn = r.event.ssn();
        match &r.event {
            KitEvent::HandedOver { card_number, .. } | KitEvent::Activated { card_number, .. } => {
                let in_lease: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM kit_claims k JOIN claims c USING (claim_id)
                     WHERE k.lease_id = ?1 AND (k.premade_card = ?2 OR c.card_number = ?2))",
                    params![r.lease_id, card_number],
                    |row| row.get(0),
                )?;
                let custody = match &r.event {
                    KitEvent::HandedOver { custodian: Some(who), .. } => {
                        SqliteProvincial::custody_by_id(tx, who.approval_id)?
                    }
                    _ => None,
                };
                let facts = CardFacts {
                    card: SqliteProvincial::card(tx, card_number)?,
                    in_lease,
                    deceased: deceased(tx, ssn)?,
                    custody,
                    today: today(),
                };
                let outcome = match kit::decide_card_event(&r.event, &facts) {
                    Ok(status) => {
                        tx.execute(
                            "UPDATE cards SET status = ?2, updated_at = ?3 WHERE card_number = ?1",
                            params![card_number, status.as_str(), now()],
                        )?;
                        RecordOutcome::Applied { card: SqliteProvincial::card(tx, card_number)? }
                    }
                    Err(reason) => RecordOutcome::Conflict { reason },
                };
                Ok((outcome, Some(card_number.clone())))
            }
            KitEvent::Made { claim_id, card_id, atr, .. } => {
                let claim: Option<(String, String, i64)> = tx
                    .query_row(
                        "SELECT c.state, c.card_number, c.expires_at FROM claims c JOIN kit_claims k USING (claim_id)
                         WHERE c.claim_id = ?1 AND k.lease_id = ?2 AND c.ssn = ?3",
                        params![claim_id, r.lease_id, ssn],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()?;
                let claim = match claim {
                    Some((state, card_number, _)) => Some(ClaimFacts {
                        number_used: SqliteProvincial::card(tx, &card_number)?.is_some(),
                        state,
                        card_number,
                    }),
                    None => None,
                };
                let other_claim = SqliteProvincial::live_claim(tx, ssn)?
                    .filter(|c| c.claim_id != *claim_id && c.expires_at > now())
                    .map(|c| c.station);
                let live_card = SqliteProvincial::cards(tx, ssn)?
                    .into_iter()
                    .find(|c| c.status.is_live())
                    .map(|c| c.card_number);
                let facts = MadeFacts { claim, deceased: deceased(tx, ssn)?, live_card, other_claim };
                let (card_number, status, conflict) = match kit::decide_made(&facts) {
                    MadeDecision::Commit { card_number } => (card_number, CardStatus::Made, None),
                    MadeDecision::RecordDead { card_number, status, reason } => {
                        (card_number, status, Some(reason))
                    }
                    MadeDecision::Reject { reason } => {
                        let number = facts.claim.map(|c| c.card_number);
                        return Ok((RecordOutcome::Conflict { reason }, number));
                    }
                };
                tx.execute(
                    "INSERT INTO cards (card_number, ssn, card_id, atr, status, station, claim_id, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    params![card_number, ssn, card_id, atr, status.as_str(), self.station, claim_id, now()],
                )?;
                tx.execute(
                    "UPDATE claims SET state = 'committed' WHERE claim_id = ?1 AND state IN ('live', 'expired')",
                    [claim_id],
                )?;
                let outcome = match conflict {
                    None => RecordOutcome::Applied { card: SqliteProvincial::card(tx, &card_number)? },
                    Some(reason) => RecordOutcome::Conflict { reason },
                };
                Ok((outcome, Some(card_number)))
            }
            KitEvent::Spoiled { card_number, .. } => {
                let reserved_in_lease: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM kit_claims k JOIN claims c USING (claim_id)
                     WHERE k.lease_id = ?1 AND c.ssn = ?2 AND c.card_number = ?3)",
                    params![r.lease_id, ssn, card_number],
                    |row| row.get(0),
                )?;
                let facts = SpoiledFacts {
                    reserved_in_lease,
                    number_used: SqliteProvincial::card(tx, card_number)?.is_some(),
                };
                let outcome = match kit::decide_spoiled(&r.event, &facts) {
                    Ok(()) => RecordOutcome::Applied { card: None },
                    Err(reason) => RecordOutcome::Conflict { reason },
                };
                Ok((outcome, Some(card_number.clone())))
            }
            KitEvent::VisitFailed { card_number, .. } => {
                Ok((RecordOutcome::Applied { card: None }, card_number.clone()))
            }
        }
    }

    pub(super) fn kit_checkin(&self, q: &CheckinRequest) -> Result<Checkin, ArchiveError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_err)?;
        let lease: Option<(String, String, i64, Option<String>)> = tx
            .query_row(
                "SELECT kit, state, next_seq, checkin FROM kit_leases WHERE lease_id = ?1",
                [q.lease_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(store_err)?;
        let next_seq = match lease {
            Some((kit, _, _, Some(done))) if kit == self.station => {
                return serde_json::from_str(&done).map_err(json_err);
            }
            Some((kit, _, next, None)) if kit == self.station => next,
            _ => {
                return Err(Refusal::NotFound {
                    what: format!("lease {} of kit {}", q.lease_id, self.station),
                }
                .into())
            }
        };
        if next_seq - 1 != q.records {
            return Err(kit::records_missing(next_seq - 1, q.records));
        }
        let checkin = checkin(&tx, q.lease_id).map_err(store_err)?;
        self.audit(&tx, "kit-checkin", Some(&q.request_id), q, "ok").map_err(store_err)?;
        let json = serde_json::to_string(&checkin).map_err(json_err)?;
        tx.execute(
            "UPDATE kit_leases SET state = 'closed', checkin = ?2 WHERE lease_id = ?1",
            params![q.lease_id, json],
        )
        .map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        Ok(checkin)
    }

    pub(super) fn resolve_conflict(&self, q: &crate::kit::ResolveRequest) -> Result<(), ArchiveError> {
        q.check()?;
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let kit_of: Option<(String, Option<String>)> = conn
            .query_row(
                "SELECT c.kit, l.owner FROM kit_conflicts c JOIN kit_leases l ON l.lease_id = c.lease_id
                 WHERE c.record_id = ?1",
                [&q.record_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(store_err)?;
        let outcome = match &kit_of {
            None => Err(Refusal::NotFound { what: format!("conflict {}", q.record_id) }),
            Some((kit, owner)) if !self.sees_kit(kit, owner.as_deref()) => {
                Err(Refusal::NotYourKit { record_id: q.record_id.clone() })
            }
            Some(_) => Ok(()),
        };
        let word = outcome.as_ref().map_or_else(crate::refusal_kind, |()| "ok".into());
        self.audit(&conn, "kit-resolve", None, q, &word).map_err(store_err)?;
        outcome?;
        conn.execute(
            "INSERT INTO kit_conflict_resolutions (record_id, resolved_by, station, note, resolved_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (record_id) DO NOTHING",
            params![q.record_id, q.resolved_by, self.station, q.note, now()],
        )
        .map_err(store_err)?;
        Ok(())
    }

    /// A station sees the conflicts of the kits it owns (and a kit its own).
    fn sees_kit(&self, kit: &str, owner: Option<&str>) -> bool {
        kit == self.station || owner == Some(self.station.as_str())
    }

    pub(super) fn all_kit_conflicts(&self) -> Result<Vec<KitConflict>, ArchiveError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.audit(&conn, "kit-conflicts", None, &serde_json::json!({}), "ok").map_err(store_err)?;
        let mut stmt = conn
            .prepare(
                "SELECT c.record_id, c.kit, c.lease_id, c.ssn, c.card_number, c.reason FROM kit_conflicts c
                 JOIN kit_leases l ON l.lease_id = c.lease_id
                 WHERE NOT EXISTS (SELECT 1 FROM kit_conflict_resolutions r WHERE r.record_id = c.record_id)
                 AND (c.kit = ?1 OR l.owner = ?1)
                 ORDER BY c.created_at, c.rowid",
            )
            .map_err(store_err)?;
        let rows = stmt
            .query_map([&self.station], |r| {
                Ok(KitConflict {
                    record_id: r.get(0)?,
                    kit: r.get(1)?,
                    lease_id: r.get(2)?,
                    ssn: r.get(3)?,
                    card_number: r.get(4)?,
                    reason: r.get(5)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(store_err)
    }
}

fn strings(tx: &Transaction<'_>, sql: &str, lease_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map([lease_id], |r| r.get(0))?;
    rows.collect()
}

/// Releases what the lease holds and did not use.
fn checkin(tx: &Transaction<'_>, lease_id: i64) -> rusqlite::Result<Checkin> {
    let not_seen = strings(
        tx,
        "SELECT k.ssn FROM kit_claims k WHERE k.lease_id = ?1
         AND NOT EXISTS (SELECT 1 FROM kit_records r WHERE r.lease_id = k.lease_id AND r.ssn = k.ssn)
         ORDER BY k.claim_id",
        lease_id,
    )?;
    let returned_numbers = strings(
        tx,
        "SELECT c.card_number FROM claims c JOIN kit_claims k USING (claim_id)
         WHERE k.lease_id = ?1 AND c.state IN ('live', 'expired', 'cancelled')
         AND NOT EXISTS (SELECT 1 FROM cards WHERE cards.card_number = c.card_number)
         ORDER BY c.card_number",
        lease_id,
    )?;
    for n in &returned_numbers {
        tx.execute("INSERT OR IGNORE INTO free_card_numbers (card_number) VALUES (?1)", [n])?;
    }
    let released = tx.execute(
        "UPDATE claims SET state = 'released'
         WHERE claim_id IN (SELECT claim_id FROM kit_claims WHERE lease_id = ?1) AND state IN ('live', 'expired')",
        [lease_id],
    )?;
    let back_to_stock = strings(
        tx,
        "SELECT k.premade_card FROM kit_claims k JOIN cards c ON c.card_number = k.premade_card
         WHERE k.lease_id = ?1 AND c.status = 'made' ORDER BY k.premade_card",
        lease_id,
    )?;
    Ok(Checkin { lease_id, not_seen, released, returned_numbers, back_to_stock })
}
