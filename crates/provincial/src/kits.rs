//! Outreach kits on PostgreSQL: the decisions are `archive::kit`'s, shared with the SQLite
//! archive; this file gathers the facts under row locks (lease, then person, then claim and
//! card) and writes the outcome. A record is applied in one transaction that stores its result
//! under the record id; a retry, even one racing the first, gets that result.

use archive::kit::{
    self, CardFacts, Checkin, CheckinRequest, Checkout, CheckoutRequest, ClaimFacts, KitConflict, KitEvent,
    KitRecord, LeasedVisit, MadeDecision, MadeFacts, RecordOutcome, RecordResult, RefusedVisit,
    ResolveRequest, SpoiledFacts,
};
use archive::{ArchiveError, CardStatus, Refusal};
use deadpool_postgres::Transaction;

use crate::store::{audit, card_row, claim_row, is_retryable, pg, Body, Store, CARD_COLUMNS, CLAIM_COLUMNS};

/// A body that runs in one transaction: a database error is retried when retryable; an
/// answer that is an error rolls the transaction back.
type TxBody<'a, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Result<T, ArchiveError>, tokio_postgres::Error>> + Send + 'a>,
>;

fn json_err(e: serde_json::Error) -> ArchiveError {
    ArchiveError::Store(e.to_string())
}

impl Store {
    async fn transact<T, F>(&self, body: F) -> Result<T, ArchiveError>
    where
        F: for<'a> Fn(&'a Transaction<'a>) -> TxBody<'a, T>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = self.client().await?;
            let result = async {
                let tx = client.transaction().await?;
                let answer = body(&tx).await?;
                if answer.is_ok() {
                    tx.commit().await?;
                }
                Ok::<_, tokio_postgres::Error>(answer)
            }
            .await;
            match result {
                Ok(answer) => return answer,
                Err(e) if attempt < 5 && is_retryable(&e) => {
                    tracing::debug!(error = %e, attempt, "retrying the kit transaction");
                }
                Err(e) => return Err(pg(e)),
            }
        }
    }

    /// Claims a kit's visit list under one lease; `owner` is the station the kit belongs to
    /// (from its certificate).
    pub async fn checkout(
        &self,
        kit_id: &str,
        owner: Option<&str>,
        q: &CheckoutRequest,
    ) -> Result<Checkout, ArchiveError> {
        if q.visits.iter().any(|v| v.ssn.len() != 18) {
            return Err(ArchiveError::BadRequest(
                "every ssn must be the 18-character resident ID number".into(),
            ));
        }
        let record_key = kit::check_record_key(q)?;
        let lease = q.lease_seconds.clamp(1, self.limits.max_kit_lease_seconds) as f64;
        let (prefix, limits) = (self.prefix, self.limits);
        let (owned_q, owned_kit, owner) = (q.clone(), kit_id.to_string(), owner.map(str::to_string));
        self.idempotent(kit_id, "checkout", &q.request_id, q, move |tx| {
            let (q, kit_id, owner, key) =
                (owned_q.clone(), owned_kit.clone(), owner.clone(), record_key.clone());
            Box::pin(async move {
                if let Err(r) = limits.check_checkout(q.visits.len()) {
                    return Ok(Err(r));
                }
                checkout(tx, &kit_id, owner.as_deref(), &q, &key, lease, prefix).await
            })
        })
        .await
    }

    /// Applies one record of a kit's outbox, once.
    pub async fn sync_record(&self, kit_id: &str, r: &KitRecord) -> Result<RecordResult, ArchiveError> {
        if r.record_id.is_empty() || r.record_id.len() > 128 {
            return Err(ArchiveError::BadRequest("record id must be 1 to 128 characters".into()));
        }
        let (owned_r, owned_kit) = (r.clone(), kit_id.to_string());
        let answer = self
            .transact(move |tx| {
                let (r, kit_id) = (owned_r.clone(), owned_kit.clone());
                Box::pin(async move { record(tx, &kit_id, &r).await })
            })
            .await;
        // A refused record changed nothing (its transaction was rolled back); the refusal is
        // kept in the audit all the same.
        if let Err(ArchiveError::Refused(refusal)) = &answer {
            let client = self.client().await?;
            let word = archive::refusal_kind(refusal);
            audit(&client, kit_id, "kit-record", Some(&r.record_id), r, &word).await.map_err(pg)?;
        }
        answer
    }

    /// Closes a lease whose records all arrived.
    pub async fn checkin(&self, kit_id: &str, q: &CheckinRequest) -> Result<Checkin, ArchiveError> {
        let (owned_q, owned_kit) = (q.clone(), kit_id.to_string());
        self.transact(move |tx| {
            let (q, kit_id) = (owned_q.clone(), owned_kit.clone());
            Box::pin(async move {
                let answer = checkin(tx, &kit_id, &q).await?;
                let outcome = if answer.is_ok() { "ok" } else { "refused" };
                audit(tx, &kit_id, "kit-checkin", Some(&q.request_id), &q, outcome).await?;
                Ok(answer)
            })
        })
        .await
    }

    /// Settles a conflict of one of `station`'s kits for its supervisor; settling it again
    /// keeps the first.
    pub async fn resolve_kit_conflict(&self, station: &str, q: &ResolveRequest) -> Result<(), ArchiveError> {
        q.check()?;
        let client = self.client().await?;
        let found = crate::sql::opt(
            &client,
            "SELECT c.kit, l.owner FROM kit_conflicts c JOIN kit_leases l ON l.lease_id = c.lease_id
                 WHERE c.record_id = $1",
            &[&q.record_id],
        )
        .await
        .map_err(pg)?;
        let outcome = match found.map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1))) {
            None => Err(Refusal::NotFound { what: format!("conflict {}", q.record_id) }),
            Some((kit, owner)) if kit != station && owner.as_deref() != Some(station) => {
                Err(Refusal::NotYourKit { record_id: q.record_id.clone() })
            }
            Some(_) => Ok(()),
        };
        let word = outcome.as_ref().map_or_else(archive::refusal_kind, |()| "ok".into());
        audit(&client, station, "kit-resolve", None, q, &word).await.map_err(pg)?;
        outcome?;
        crate::sql::exec(&client,
                "INSERT INTO kit_conflict_resolutions (record_id, resolved_by, station, note) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (record_id) DO NOTHING",
                &[&q.record_id, &q.resolved_by, &station, &q.note],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    /// The spoiled cards kit `kit_id` reported under lease `lease_id`, in record order:
    /// (record id, holder, card number, reason), whatever the archive made of them.
    pub async fn spoiled_cards(
        &self,
        kit_id: &str,
        lease_id: i64,
    ) -> Result<Vec<(String, String, String, String)>, ArchiveError> {
        let client = self.client().await?;
        let rows = crate::sql::all(
            &client,
            "SELECT r.record_id, r.ssn, r.event->>'card_number' AS card_number, r.event->>'reason' AS reason
                 FROM kit_records r JOIN kit_leases l USING (lease_id)
                 WHERE l.kit = $1 AND r.lease_id = $2 AND r.event->>'event' = 'spoiled' ORDER BY r.seq",
            &[&kit_id, &lease_id],
        )
        .await
        .map_err(pg)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    /// The open conflicts of `station`'s kits (or of the kit itself), oldest first.
    pub async fn kit_conflicts(&self, station: &str) -> Result<Vec<KitConflict>, ArchiveError> {
        let client = self.client().await?;
        audit(&client, station, "kit-conflicts", None, &serde_json::json!({}), "ok").await.map_err(pg)?;
        let rows = crate::sql::all(
            &client,
            "SELECT c.record_id, c.kit, c.lease_id, c.ssn, c.card_number, c.reason FROM kit_conflicts c
                 JOIN kit_leases l ON l.lease_id = c.lease_id
                 WHERE NOT EXISTS (SELECT 1 FROM kit_conflict_resolutions r WHERE r.record_id = c.record_id)
                 AND (c.kit = $1 OR l.owner = $1)
                 ORDER BY c.created_at, c.record_id",
            &[&station],
        )
        .await
        .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| KitConflict {
                record_id: r.get("record_id"),
                kit: r.get("kit"),
                lease_id: r.get("lease_id"),
                ssn: r.get("ssn"),
                card_number: r.get("card_number"),
                reason: r.get("reason"),
            })
            .collect())
    }
}

async fn checkout(
    tx: &Transaction<'_>,
    kit_id: &str,
    owner: Option<&str>,
    q: &CheckoutRequest,
    record_key: &str,
    lease: f64,
    prefix: char,
) -> Body<Checkout> {
    let row = crate::sql::one(
        tx,
        "INSERT INTO kit_leases (kit, owner, state, expires_at, record_key)
             VALUES ($1, $3, 'open', now() + make_interval(secs => $2), $4)
             RETURNING lease_id, expires_at, extract(epoch from expires_at)::bigint AS expires_unix",
        &[&kit_id, &lease, &owner, &record_key],
    )
    .await?;
    let lease_id: i64 = row.get("lease_id");
    let expires: std::time::SystemTime = row.get("expires_at");
    let expires_at: i64 = row.get("expires_unix");
    let (mut visits, mut refused) = (Vec::new(), Vec::new());
    for v in &q.visits {
        let deceased = Store::lock_person(tx, &v.ssn, &v.name).await?;
        Store::expire_lapsed_claims(tx, &v.ssn).await?;
        let held = crate::sql::opt(
            tx,
            &format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE ssn = $1 AND state = 'live'"),
            &[&v.ssn],
        )
        .await?
        .map(|r| claim_row(&r))
        .map(|c| (c.station, c.expires_at));
        let live = crate::sql::opt(
            tx,
            "SELECT card_number, status FROM cards WHERE ssn = $1 AND status IN ('made', 'issued', 'active')",
            &[&v.ssn],
        )
        .await?
        .and_then(|r| Some((r.get::<_, String>("card_number"), CardStatus::parse(r.get("status"))?)));
        let number = match kit::decide_visit(v, deceased, held, live) {
            Ok(()) => Store::allocate(tx, prefix).await?,
            Err(r) => Err(r),
        };
        let number = match number {
            Ok(n) => n,
            Err(refusal) => {
                refused.push(RefusedVisit { ssn: v.ssn.clone(), refusal });
                continue;
            }
        };
        let claim_id: i64 = crate::sql::one(
            tx,
            "INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at)
                 VALUES ($1, $2, $3, $4, 'live', $5) RETURNING claim_id",
            &[&v.ssn, &kit_id, &number, &v.premade_card, &expires],
        )
        .await?
        .get("claim_id");
        crate::sql::exec(
            tx,
            "INSERT INTO kit_claims (claim_id, lease_id, ssn, premade_card) VALUES ($1, $2, $3, $4)",
            &[&claim_id, &lease_id, &v.ssn, &v.premade_card],
        )
        .await?;
        visits.push(LeasedVisit {
            ssn: v.ssn.clone(),
            name: v.name.clone(),
            claim_id,
            card_number: number,
            premade_card: v.premade_card.clone(),
            custody: match &v.premade_card {
                Some(card) => crate::custody::current(tx, card).await?,
                None => Vec::new(),
            },
        });
    }
    Ok(Ok(Checkout { lease_id, kit: kit_id.to_string(), expires_at, visits, refused }))
}

type TxResult<T> = Result<Result<T, ArchiveError>, tokio_postgres::Error>;

async fn record(tx: &Transaction<'_>, kit_id: &str, r: &KitRecord) -> TxResult<RecordResult> {
    // The lease first: a retry racing the first attempt waits here, then finds its result.
    let lease = crate::sql::opt(
        tx,
        "SELECT kit, state, next_seq, record_key FROM kit_leases WHERE lease_id = $1 FOR UPDATE",
        &[&r.lease_id],
    )
    .await?;
    if let Some(done) = crate::sql::opt(
        tx,
        "SELECT r.result, l.kit, r.lease_id, r.seq, r.event FROM kit_records r
             JOIN kit_leases l ON l.lease_id = r.lease_id WHERE r.record_id = $1",
        &[&r.record_id],
    )
    .await?
    {
        if done.get::<_, String>("kit") != kit_id {
            return Ok(Err(Refusal::NotYourKit { record_id: r.record_id.clone() }.into()));
        }
        if let Err(altered) = kit::same_record(done.get("lease_id"), done.get("seq"), &done.get("event"), r) {
            return Ok(Err(altered.into()));
        }
        audit(tx, kit_id, "kit-record", Some(&r.record_id), r, "replayed").await?;
        return Ok(serde_json::from_value(done.get("result")).map_err(json_err));
    }
    let record_key = lease.as_ref().and_then(|l| l.get::<_, Option<String>>("record_key"));
    let next_seq: i64 =
        match lease.map(|l| (l.get::<_, String>("kit"), l.get::<_, String>("state"), l.get("next_seq"))) {
            Some((kit, state, next)) if kit == kit_id && state == "open" => next,
            Some((kit, _, _)) if kit == kit_id => {
                return Ok(Err(Refusal::NotFound {
                    what: format!("open lease {} (it is checked in)", r.lease_id),
                }
                .into()))
            }
            _ => {
                return Ok(Err(
                    Refusal::NotFound { what: format!("lease {} of kit {kit_id}", r.lease_id) }.into()
                ))
            }
        };
    if let Err(unsigned) = kit::check_record_signature(record_key.as_deref(), r) {
        return Ok(Err(unsigned.into()));
    }
    if r.seq != next_seq {
        return Ok(Err(kit::out_of_order(next_seq, r.seq)));
    }
    let ssn = r.event.ssn();
    let deceased = Store::lock_person(tx, ssn, "").await?;
    let (outcome, card) = apply(tx, kit_id, r, deceased).await?;
    let result = RecordResult { record_id: r.record_id.clone(), seq: r.seq, outcome };
    let (event, stored) = match (serde_json::to_value(&r.event), serde_json::to_value(&result)) {
        (Ok(e), Ok(s)) => (e, s),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(json_err(e))),
    };
    crate::sql::exec(
        tx,
        "INSERT INTO kit_records (record_id, lease_id, seq, ssn, event, result, signature)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&r.record_id, &r.lease_id, &r.seq, &ssn, &event, &stored, &r.signature],
    )
    .await?;
    if let RecordOutcome::Conflict { reason } = &result.outcome {
        crate::sql::exec(tx,
            "INSERT INTO kit_conflicts (record_id, kit, lease_id, ssn, card_number, reason) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&r.record_id, &kit_id, &r.lease_id, &ssn, &card, reason],
        )
        .await?;
    }
    crate::sql::exec(tx, "UPDATE kit_leases SET next_seq = next_seq + 1 WHERE lease_id = $1", &[&r.lease_id])
        .await?;
    let outcome = match &result.outcome {
        RecordOutcome::Applied { .. } => "ok",
        RecordOutcome::Conflict { .. } => "conflict",
    };
    audit(tx, kit_id, "kit-record", Some(&r.record_id), r, outcome).await?;
    Ok(Ok(result))
}

async fn card(
    tx: &Transaction<'_>,
    number: &str,
) -> Result<Option<archive::CardRecord>, tokio_postgres::Error> {
    Ok(crate::sql::opt(
        tx,
        &format!("SELECT {CARD_COLUMNS} FROM cards WHERE card_number = $1 FOR UPDATE"),
        &[&number],
    )
    .await?
    .and_then(|r| card_row(&r).ok()))
}

/// Applies one event (the person's row is locked); returns the outcome and the card concerned.
async fn apply(
    tx: &Transaction<'_>,
    kit_id: &str,
    r: &KitRecord,
    deceased: bool,
) -> Result<(RecordOutcome, Option<String>), tokio_postgres::Error> {
    let ssn = r.event.ssn();
    match &r.event {
        KitEvent::HandedOver { card_number, .. } | KitEvent::Activated { card_number, .. } => {
            let in_lease: bool = crate::sql::one(
                tx,
                "SELECT EXISTS (SELECT 1 FROM kit_claims k JOIN claims c USING (claim_id)
                     WHERE k.lease_id = $1 AND (k.premade_card = $2 OR c.card_number = $2)) AS e",
                &[&r.lease_id, card_number],
            )
            .await?
            .get("e");
            let custody = match &r.event {
                KitEvent::HandedOver { custodian: Some(who), .. } => {
                    crate::custody::by_id(tx, who.approval_id).await?
                }
                _ => None,
            };
            let facts = CardFacts {
                card: card(tx, card_number).await?,
                in_lease,
                deceased,
                custody,
                today: crate::custody::today(),
            };
            let outcome = match kit::decide_card_event(&r.event, &facts) {
                Ok(status) => {
                    crate::sql::exec(
                        tx,
                        "UPDATE cards SET status = $2, updated_at = now() WHERE card_number = $1",
                        &[card_number, &status.as_str()],
                    )
                    .await?;
                    RecordOutcome::Applied { card: card(tx, card_number).await? }
                }
                Err(reason) => RecordOutcome::Conflict { reason },
            };
            Ok((outcome, Some(card_number.clone())))
        }
        KitEvent::Made { claim_id, card_id, atr, .. } => {
            let claim = crate::sql::opt(
                tx,
                "SELECT c.state, c.card_number FROM claims c JOIN kit_claims k USING (claim_id)
                     WHERE c.claim_id = $1 AND k.lease_id = $2 AND c.ssn = $3 FOR UPDATE OF c",
                &[claim_id, &r.lease_id, &ssn],
            )
            .await?;
            let claim = match claim {
                Some(row) => {
                    let number: String = row.get("card_number");
                    Some(ClaimFacts {
                        number_used: card(tx, &number).await?.is_some(),
                        state: row.get("state"),
                        card_number: number,
                    })
                }
                None => None,
            };
            let other_claim = crate::sql::opt(tx,
                    "SELECT station FROM claims WHERE ssn = $1 AND state = 'live' AND claim_id <> $2 AND expires_at > now()",
                    &[&ssn, claim_id],
                )
                .await?
                .map(|r| r.get::<_, String>("station"));
            let live_card = Store::live_card(tx, ssn).await?;
            let facts = MadeFacts { claim, deceased, live_card, other_claim };
            let (number, status, conflict) = match kit::decide_made(&facts) {
                MadeDecision::Commit { card_number } => (card_number, CardStatus::Made, None),
                MadeDecision::RecordDead { card_number, status, reason } => {
                    (card_number, status, Some(reason))
                }
                MadeDecision::Reject { reason } => {
                    return Ok((RecordOutcome::Conflict { reason }, facts.claim.map(|c| c.card_number)));
                }
            };
            crate::sql::exec(
                tx,
                "INSERT INTO cards (card_number, ssn, card_id, atr, status, station, claim_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&number, &ssn, card_id, atr, &status.as_str(), &kit_id, claim_id],
            )
            .await?;
            crate::sql::exec(
                tx,
                "UPDATE claims SET state = 'committed' WHERE claim_id = $1 AND state IN ('live', 'expired')",
                &[claim_id],
            )
            .await?;
            let outcome = match conflict {
                None => RecordOutcome::Applied { card: card(tx, &number).await? },
                Some(reason) => RecordOutcome::Conflict { reason },
            };
            Ok((outcome, Some(number)))
        }
        KitEvent::Spoiled { card_number, .. } => {
            let reserved_in_lease: bool = crate::sql::one(
                tx,
                "SELECT EXISTS (SELECT 1 FROM kit_claims k JOIN claims c USING (claim_id)
                     WHERE k.lease_id = $1 AND c.ssn = $2 AND c.card_number = $3) AS e",
                &[&r.lease_id, &ssn, card_number],
            )
            .await?
            .get("e");
            let facts =
                SpoiledFacts { reserved_in_lease, number_used: card(tx, card_number).await?.is_some() };
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

async fn strings(
    tx: &Transaction<'_>,
    sql: &str,
    lease_id: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(crate::sql::all(tx, sql, &[&lease_id]).await?.iter().map(|r| r.get(0)).collect())
}

async fn checkin(tx: &Transaction<'_>, kit_id: &str, q: &CheckinRequest) -> TxResult<Checkin> {
    let lease = crate::sql::opt(
        tx,
        "SELECT kit, next_seq, checkin FROM kit_leases WHERE lease_id = $1 FOR UPDATE",
        &[&q.lease_id],
    )
    .await?;
    let next_seq: i64 = match lease {
        Some(l) if l.get::<_, String>("kit") == kit_id => {
            if let Some(done) = l.get::<_, Option<serde_json::Value>>("checkin") {
                return Ok(serde_json::from_value(done).map_err(json_err));
            }
            l.get("next_seq")
        }
        _ => {
            return Ok(
                Err(Refusal::NotFound { what: format!("lease {} of kit {kit_id}", q.lease_id) }.into()),
            )
        }
    };
    if next_seq - 1 != q.records {
        return Ok(Err(kit::records_missing(next_seq - 1, q.records)));
    }
    let lease_id = q.lease_id;
    let not_seen = strings(
        tx,
        "SELECT k.ssn FROM kit_claims k WHERE k.lease_id = $1
         AND NOT EXISTS (SELECT 1 FROM kit_records r WHERE r.lease_id = k.lease_id AND r.ssn = k.ssn)
         ORDER BY k.claim_id",
        lease_id,
    )
    .await?;
    let returned_numbers = strings(
        tx,
        "SELECT c.card_number FROM claims c JOIN kit_claims k USING (claim_id)
         WHERE k.lease_id = $1 AND c.state IN ('live', 'expired', 'cancelled')
         AND NOT EXISTS (SELECT 1 FROM cards WHERE cards.card_number = c.card_number)
         ORDER BY c.card_number",
        lease_id,
    )
    .await?;
    for n in &returned_numbers {
        crate::sql::exec(
            tx,
            "INSERT INTO free_card_numbers (card_number) VALUES ($1) ON CONFLICT DO NOTHING",
            &[n],
        )
        .await?;
    }
    let released = crate::sql::exec(tx,
            "UPDATE claims SET state = 'released'
             WHERE claim_id IN (SELECT claim_id FROM kit_claims WHERE lease_id = $1) AND state IN ('live', 'expired')",
            &[&lease_id],
        )
        .await? as usize;
    let back_to_stock = strings(
        tx,
        "SELECT k.premade_card FROM kit_claims k JOIN cards c ON c.card_number = k.premade_card
         WHERE k.lease_id = $1 AND c.status = 'made' ORDER BY k.premade_card",
        lease_id,
    )
    .await?;
    let checkin = Checkin { lease_id, not_seen, released, returned_numbers, back_to_stock };
    let json = match serde_json::to_value(&checkin) {
        Ok(j) => j,
        Err(e) => return Ok(Err(json_err(e))),
    };
    crate::sql::exec(
        tx,
        "UPDATE kit_leases SET state = 'closed', checkin = $2 WHERE lease_id = $1",
        &[&lease_id, &json],
    )
    .await?;
    Ok(Ok(checkin))
}
