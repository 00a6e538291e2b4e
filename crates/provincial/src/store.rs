//! The provincial archive's rules on PostgreSQL. Each change is one transaction that locks
//! the person's row first (so changes to one person are serialised, and locks are always
//! taken person -> claim -> card -> counter), records the request id, and stores its answer
//! there for retries. Deadlocks and serialisation failures are retried.
//!
//! The claim, the service's busiest change, is one call of PostgreSQL's `claim_person`
//! (migrations 0012 to 0015), which holds its decision: one round trip instead of thirteen,
//! the person's row locked only while PostgreSQL runs it, and card numbers from the
//! connection's own block, so that claims at once do not wait for each other. Claims that
//! queue for a connection together are decided in one call of `claim_persons`, by set
//! (`crate::claims`). The steps it shares with other changes (locking the person, ending
//! lapsed claims, allocating a number) are PostgreSQL functions that the other changes call
//! too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use archive::{
    AnchorRequest, ArchiveError, CardRecord, CardStatus, Claim, CommitRequest, CorrectDeceasedRequest,
    DeceasedRequest, DeliverRequest, LedgerHead, Limits, PersonCards, ReceiveRequest, Refusal,
    ReleaseRequest, RenewRequest, RestoreRequest, StopRequest,
};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

const SCHEMA: &str = include_str!("../migrations/provincial-pg.sql");
/// Migration 0002: outreach kits' leases, records and conflicts.
const KITS_SCHEMA: &str = include_str!("../migrations/provincial-pg-0002-kits.sql");
/// Migrations applied once each, in order, after the idempotent ones above (table
/// `schema_version`); a service starting beside another waits on an advisory lock.
const MIGRATIONS: [(i32, &str); 13] = [
    (3, include_str!("../migrations/provincial-pg-0003-stations.sql")),
    (4, include_str!("../migrations/provincial-pg-0004-deliveries.sql")),
    (5, include_str!("../migrations/provincial-pg-0005-restore.sql")),
    (6, include_str!("../migrations/provincial-pg-0006-known-stations.sql")),
    (7, include_str!("../migrations/provincial-pg-0007-losses.sql")),
    (8, include_str!("../migrations/provincial-pg-0008-ledger-anchors.sql")),
    (9, include_str!("../migrations/provincial-pg-0009-custody.sql")),
    (10, include_str!("../migrations/provincial-pg-0010-anchor-macs.sql")),
    (11, include_str!("../migrations/provincial-pg-0011-kit-record-keys.sql")),
    (12, include_str!("../migrations/provincial-pg-0012-claim-function.sql")),
    (13, include_str!("../migrations/provincial-pg-0013-number-blocks.sql")),
    (14, include_str!("../migrations/provincial-pg-0014-claim-batches.sql")),
    (15, include_str!("../migrations/provincial-pg-0015-claims-by-set.sql")),
];

/// The store behind the service.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    pub(crate) prefix: char,
    pub(crate) limits: Limits,
    /// Stations entered in `stations` by this process: each is written once, not per request.
    seen: Arc<Mutex<HashSet<String>>>,
    /// Claims waiting for a connection, decided together (crate::claims).
    pub(crate) claims: Arc<crate::claims::ClaimQueue>,
}

impl<T> Stored<T> {
    /// The caller's result: the value, or the refusal as an error.
    pub(crate) fn into_result(self) -> Result<T, ArchiveError> {
        match self {
            Stored::Ok(v) => Ok(v),
            Stored::Refused(r) => Err(ArchiveError::Refused(r)),
        }
    }

    /// The audit table's word for it.
    fn outcome(&self) -> String {
        match self {
            Stored::Ok(_) => "ok".into(),
            Stored::Refused(r) => archive::refusal_kind(r),
        }
    }
}

/// One row of the province's audit table: who asked for what, and what came of it.
pub(crate) async fn audit<C: GenericClient, Q: Serialize>(
    client: &C,
    station: &str,
    op: &str,
    request_id: Option<&str>,
    request: &Q,
    outcome: &str,
) -> Result<(), tokio_postgres::Error> {
    let request = serde_json::to_value(request).unwrap_or(serde_json::Value::Null);
    crate::sql::exec(
        client,
        "INSERT INTO audit (station, op, request_id, request, outcome) VALUES ($1, $2, $3, $4, $5)",
        &[&station, &op, &request_id, &request, &outcome],
    )
    .await?;
    Ok(())
}

pub(crate) fn pg(e: tokio_postgres::Error) -> ArchiveError {
    ArchiveError::Unavailable(format!("PostgreSQL: {e}"))
}

pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::UNIQUE_VIOLATION)
}

/// A request id as every change needs it.
pub(crate) fn check_request_id(request_id: &str) -> Result<(), ArchiveError> {
    if request_id.is_empty() || request_id.len() > 128 {
        return Err(ArchiveError::BadRequest("request id must be 1 to 128 characters".into()));
    }
    Ok(())
}

/// An answer stored with its request, read back (`None`: none stored); one that does not read
/// as this operation's answer is a refusal saying so.
pub(crate) fn stored_answer<T: DeserializeOwned>(
    request_id: &str,
    answer: Option<serde_json::Value>,
) -> Stored<T> {
    serde_json::from_value(answer.unwrap_or_default()).unwrap_or_else(|e| {
        Stored::Refused(Refusal::NotFound { what: format!("stored answer of {request_id} ({e})") })
    })
}

pub(crate) type Answer<T> = Result<T, Refusal>;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Stored<T> {
    Ok(T),
    Refused(Refusal),
}

pub(crate) fn claim_row(r: &Row) -> Claim {
    Claim {
        claim_id: r.get("claim_id"),
        ssn: r.get("ssn"),
        station: r.get("station"),
        card_number: r.get("card_number"),
        reissue_of: r.get("reissue_of"),
        expires_at: r.get("expires_unix"),
    }
}

pub(crate) fn card_row(r: &Row) -> Result<CardRecord, ArchiveError> {
    let status: String = r.get("status");
    Ok(CardRecord {
        card_number: r.get("card_number"),
        ssn: r.get("ssn"),
        card_id: r.get("card_id"),
        atr: r.get("atr"),
        status: CardStatus::parse(&status)
            .ok_or_else(|| ArchiveError::Store(format!("card status {status}")))?,
        station: r.get("station"),
    })
}

pub(crate) const CLAIM_COLUMNS: &str =
    "claim_id, ssn, station, card_number, reissue_of, extract(epoch from expires_at)::bigint AS expires_unix";
pub(crate) const CARD_COLUMNS: &str = "card_number, ssn, card_id, atr, status, station";

/// What an operation's body gives back: an answer to store, or a database error.
pub(crate) type Body<T> = Result<Answer<T>, tokio_postgres::Error>;

impl Store {
    /// The pool's size unless told: one connection per core of this machine (two at least).
    /// PostgreSQL runs as many claims at once as it has cores; more connections than that only
    /// move the queue from the pool (first come, first served, and decided together in
    /// batches) into the kernel's run queue (no order), and the tail grows. On the 2-core
    /// bench machine 32 connections gave p99 ~40 ms and 4 ~7 ms; since claims are decided by
    /// set (migration 0015), 2 gave p99 ~5.5 ms, 88 % of the claims in batches (4: 78 %) and
    /// as many claims a second. Where PostgreSQL has its own machine, size the pool to its cores.
    pub fn default_pool_size() -> usize {
        std::thread::available_parallelism().map_or(2, usize::from).max(2)
    }

    /// The schema's SQL as a service of migration `version` left it, in order (the idempotent
    /// schema, then each migration up to `version`): where an upgrade test starts from.
    pub fn schema_until(version: i32) -> Vec<&'static str> {
        let migrations = MIGRATIONS.iter().filter(|(v, _)| *v <= version).map(|(_, sql)| *sql);
        [SCHEMA, KITS_SCHEMA].into_iter().chain(migrations).collect()
    }

    /// Connects to `url` (a libpq connection string), creates the schema if needed.
    pub async fn connect(url: &str, prefix: char, pool_size: usize) -> Result<Store, ArchiveError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| ArchiveError::BadRequest(format!("database URL: {e}")))?;
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .build()
            .map_err(|e| ArchiveError::Store(e.to_string()))?;
        let store =
            Store { pool, prefix, limits: Limits::default(), seen: Arc::default(), claims: Arc::default() };
        let mut client = store.client().await?;
        client.batch_execute(SCHEMA).await.map_err(pg)?;
        client.batch_execute(KITS_SCHEMA).await.map_err(pg)?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(5418);
             CREATE TABLE IF NOT EXISTS schema_version (
                 version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(pg)?;
        for (version, sql) in MIGRATIONS {
            let done = crate::sql::opt(&tx, "SELECT 1 FROM schema_version WHERE version = $1", &[&version])
                .await
                .map_err(pg)?;
            if done.is_none() {
                tx.batch_execute(sql).await.map_err(pg)?;
                crate::sql::exec(&tx, "INSERT INTO schema_version (version) VALUES ($1)", &[&version])
                    .await
                    .map_err(pg)?;
            }
        }
        tx.commit().await.map_err(pg)?;
        Ok(store)
    }

    /// Enters `station` among the stations the province knows (deliveries go only to those),
    /// once per station and process. Called for each request of a station's certificate, never
    /// of a kit's.
    pub async fn station_seen(&self, station: &str) -> Result<(), ArchiveError> {
        if self.seen.lock().unwrap_or_else(|p| p.into_inner()).contains(station) {
            return Ok(());
        }
        let client = self.client().await?;
        crate::sql::exec(
            &client,
            "INSERT INTO stations (station) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&station],
        )
        .await
        .map_err(pg)?;
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).insert(station.to_string());
        Ok(())
    }

    /// The province's limits instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Store {
        self.limits = limits;
        self
    }

    /// The audit rows of a station, oldest first: (op, request id, outcome). For the province's
    /// auditors and the tests.
    pub async fn audit_of(
        &self,
        station: &str,
    ) -> Result<Vec<(String, Option<String>, String)>, ArchiveError> {
        let client = self.client().await?;
        let rows = crate::sql::all(
            &client,
            "SELECT op, request_id, outcome FROM audit WHERE station = $1 ORDER BY audit_id",
            &[&station],
        )
        .await
        .map_err(pg)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// The connection pool's size, idle connections and callers waiting for one (the claims
    /// benchmark samples it).
    pub fn pool_status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, ArchiveError> {
        self.pool.get().await.map_err(|e| ArchiveError::Unavailable(format!("PostgreSQL: {e}")))
    }

    /// Everything known of a person, for `station`.
    pub async fn lookup(&self, station: &str, ssn: &str) -> Result<PersonCards, ArchiveError> {
        let client = self.client().await?;
        audit(&client, station, "lookup", None, &archive::LookupRequest { ssn: ssn.into() }, "ok")
            .await
            .map_err(pg)?;
        let deceased = crate::sql::opt(
            &client,
            "SELECT deceased_at IS NOT NULL AS d FROM persons WHERE ssn = $1",
            &[&ssn],
        )
        .await
        .map_err(pg)?
        .is_some_and(|r| r.get::<_, bool>("d"));
        let cards = crate::sql::all(
            &client,
            &format!("SELECT {CARD_COLUMNS} FROM cards WHERE ssn = $1 ORDER BY created_at, card_number"),
            &[&ssn],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(card_row)
        .collect::<Result<Vec<_>, _>>()?;
        let live_claim = crate::sql::opt(
            &client,
            &format!(
                "SELECT {CLAIM_COLUMNS} FROM claims WHERE ssn = $1 AND state = 'live' AND expires_at > now()"
            ),
            &[&ssn],
        )
        .await
        .map_err(pg)?
        .map(|r| claim_row(&r));
        // Only a live card may be under a temporary loss: no second query for the others.
        let suspensions = match cards.iter().any(|c| c.status.is_live()) {
            true => crate::losses::suspensions_in_force(&client, ssn).await?,
            false => Vec::new(),
        };
        Ok(PersonCards { ssn: ssn.to_string(), deceased, cards, live_claim, suspensions })
    }

    /// Runs one idempotent change: the body runs only the first time `station` sends
    /// `request_id`; a retry gets the first answer, a replay of the id with another request is
    /// refused. Every call goes into the audit table.
    pub(crate) async fn idempotent<Q, T, F>(
        &self,
        station: &str,
        op: &str,
        request_id: &str,
        request: &Q,
        body: F,
    ) -> Result<T, ArchiveError>
    where
        Q: Serialize,
        T: Serialize + DeserializeOwned,
        F: for<'a> Fn(
            &'a Transaction<'a>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Body<T>> + Send + 'a>>,
    {
        check_request_id(request_id)?;
        let body = &body;
        self.retrying(|mut client| async move {
            Store::attempt(&mut client, station, request_id, op, request, body).await
        })
        .await
    }

    /// Runs `attempt` on a pooled connection, again (five times in all at most) when
    /// PostgreSQL aborted it for a deadlock, a serialisation failure or a key taken meanwhile;
    /// the stored answer as the caller's result.
    pub(crate) async fn retrying<T, F, Fut>(&self, attempt: F) -> Result<T, ArchiveError>
    where
        F: Fn(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<Stored<T>, tokio_postgres::Error>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt(self.client().await?).await {
                Ok(stored) => return stored.into_result(),
                Err(e) if tries < 5 && is_retryable(&e) => {
                    tracing::debug!(error = %e, attempt = tries, "retrying the transaction");
                }
                Err(e) => return Err(pg(e)),
            }
        }
    }

    async fn attempt<Q, T, F>(
        client: &mut deadpool_postgres::Object,
        station: &str,
        request_id: &str,
        op: &str,
        request: &Q,
        body: &F,
    ) -> Result<Stored<T>, tokio_postgres::Error>
    where
        Q: Serialize,
        T: Serialize + DeserializeOwned,
        F: for<'a> Fn(
            &'a Transaction<'a>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Body<T>> + Send + 'a>>,
    {
        let tx = client.transaction().await?;
        let hash = archive::request_hash(request);
        let fresh = crate::sql::exec(
            &tx,
            "INSERT INTO requests (station, request_id, op, body_hash) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            &[&station, &request_id, &op, &hash],
        )
        .await?;
        if fresh == 0 {
            let row = crate::sql::one(
                &tx,
                "SELECT op, body_hash, answer FROM requests WHERE station = $1 AND request_id = $2",
                &[&station, &request_id],
            )
            .await?;
            let (first_op, first_hash): (String, String) = (row.get("op"), row.get("body_hash"));
            let stored = if first_op != op || (!first_hash.is_empty() && first_hash != hash) {
                Stored::Refused(Refusal::RequestIdReused { request_id: request_id.into(), op: first_op })
            } else {
                stored_answer(request_id, row.get("answer"))
            };
            let outcome = match &stored {
                Stored::Refused(r @ Refusal::RequestIdReused { .. }) => archive::refusal_kind(r),
                _ => "replayed".into(),
            };
            audit(&tx, station, op, Some(request_id), request, &outcome).await?;
            tx.commit().await?;
            return Ok(stored);
        }
        let stored = match body(&tx).await? {
            Ok(v) => Stored::Ok(v),
            Err(r) => Stored::Refused(r),
        };
        let json = serde_json::to_value(&stored).unwrap_or(serde_json::Value::Null);
        crate::sql::exec(
            &tx,
            "UPDATE requests SET answer = $3 WHERE station = $1 AND request_id = $2",
            &[&station, &request_id, &json],
        )
        .await?;
        audit(&tx, station, op, Some(request_id), request, &stored.outcome()).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Ends the person's claims whose lease has lapsed. Their numbers are held out of
    /// circulation: the station may have made a card with one, and says where it is with a late
    /// release (a kit's number comes back at its check-in). PostgreSQL's function of the same
    /// name (migration 0012), which the claim runs too.
    pub(crate) async fn expire_lapsed_claims(
        tx: &Transaction<'_>,
        ssn: &str,
    ) -> Result<(), tokio_postgres::Error> {
        crate::sql::exec(tx, "SELECT expire_lapsed_claims($1)", &[&ssn]).await?;
        Ok(())
    }

    /// Locks the person's row (creating it), returns whether they are deceased: PostgreSQL's
    /// `lock_person` (migration 0012), which the claim runs too.
    pub(crate) async fn lock_person(
        tx: &Transaction<'_>,
        ssn: &str,
        name: &str,
    ) -> Result<bool, tokio_postgres::Error> {
        Ok(crate::sql::one(tx, "SELECT lock_person($1, $2)", &[&ssn, &name]).await?.get(0))
    }

    pub(crate) async fn live_card(
        tx: &Transaction<'_>,
        ssn: &str,
    ) -> Result<Option<String>, tokio_postgres::Error> {
        Ok(crate::sql::opt(
            tx,
            "SELECT card_number FROM cards WHERE ssn = $1 AND status IN ('made', 'issued', 'active')",
            &[&ssn],
        )
        .await?
        .map(|r| r.get("card_number")))
    }

    /// A number for a new claim, a free one first: PostgreSQL's `allocate_card_number`
    /// (migration 0013: the connection's block, else the counter), which the claim runs too.
    pub(crate) async fn allocate(tx: &Transaction<'_>, prefix: char) -> Body<String> {
        let p = prefix.to_string();
        let number: Option<String> =
            crate::sql::one(tx, "SELECT allocate_card_number($1)", &[&p]).await?.get(0);
        Ok(number.ok_or(Refusal::NumbersExhausted { prefix: p }))
    }

    /// The claim under its person's lock, when it is live (lease not lapsed) and `station`'s;
    /// otherwise why not.
    /// Locks the person of claim `claim_id` (the person first, as every change does); `false`
    /// when there is no such claim.
    async fn lock_person_of_claim(
        tx: &Transaction<'_>,
        claim_id: i64,
    ) -> Result<bool, tokio_postgres::Error> {
        let Some(found) =
            crate::sql::opt(tx, "SELECT ssn FROM claims WHERE claim_id = $1", &[&claim_id]).await?
        else {
            return Ok(false);
        };
        Store::lock_person(tx, &found.get::<_, String>("ssn"), "").await?;
        Ok(true)
    }

    async fn own_live_claim(tx: &Transaction<'_>, station: &str, claim_id: i64) -> Body<Claim> {
        if !Store::lock_person_of_claim(tx, claim_id).await? {
            return Ok(Err(Refusal::NotFound { what: format!("claim {claim_id}") }));
        }
        let row = crate::sql::one(
            tx,
            &format!(
                "SELECT {CLAIM_COLUMNS}, state, expires_at <= now() AS lapsed FROM claims
                     WHERE claim_id = $1 FOR UPDATE"
            ),
            &[&claim_id],
        )
        .await?;
        let claim = claim_row(&row);
        let state: String = row.get("state");
        if let Err(r) = archive::own_live_claim(station, &claim, &state, row.get("lapsed")) {
            return Ok(Err(r));
        }
        Ok(Ok(claim))
    }

    /// Records the card made under a live claim.
    pub async fn commit(&self, station: &str, q: &CommitRequest) -> Result<CardRecord, ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "commit", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (q, station) = (&q, station.as_str());
                let claim = match Store::own_live_claim(tx, station, q.claim_id).await? {
                    Ok(c) => c,
                    Err(r) => return Ok(Err(r)),
                };
                if let Some(live) = Store::live_card(tx, &claim.ssn).await? {
                    return Ok(Err(Refusal::OldCardNotStopped { card_number: live }));
                }
                crate::sql::exec(
                    tx,
                    "INSERT INTO cards (card_number, ssn, card_id, atr, status, station, claim_id)
                     VALUES ($1, $2, $3, $4, 'made', $5, $6)",
                    &[&claim.card_number, &claim.ssn, &q.card_id, &q.atr, &station, &claim.claim_id],
                )
                .await?;
                crate::sql::exec(
                    tx,
                    "UPDATE claims SET state = 'committed' WHERE claim_id = $1",
                    &[&claim.claim_id],
                )
                .await?;
                Ok(Ok(CardRecord {
                    card_number: claim.card_number,
                    ssn: claim.ssn,
                    card_id: Some(q.card_id.clone()),
                    atr: Some(q.atr.clone()),
                    status: CardStatus::Made,
                    station: station.to_string(),
                }))
            })
        })
        .await
    }

    /// Gives a claim up; its number goes back once its card is accounted for.
    pub async fn release(&self, station: &str, q: &ReleaseRequest) -> Result<(), ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "release", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (q, station) = (&q, station.as_str());
                if !Store::lock_person_of_claim(tx, q.claim_id).await? {
                    return Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) }));
                }
                let row = crate::sql::one(tx,
                        "SELECT state, station, card_number, expires_at <= now() AS lapsed,
                                EXISTS (SELECT 1 FROM held_card_numbers h WHERE h.claim_id = claims.claim_id) AS held
                         FROM claims WHERE claim_id = $1 FOR UPDATE",
                        &[&q.claim_id],
                    )
                    .await?;
                let (state, holder, number): (String, String, String) =
                    (row.get("state"), row.get("station"), row.get("card_number"));
                if holder != station {
                    return Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state: format!("held by {holder}") }));
                }
                let live = state == "live";
                if !live && !row.get::<_, bool>("held") {
                    return Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state }));
                }
                if live {
                    let end = if row.get::<_, bool>("lapsed") { "expired" } else { "released" };
                    crate::sql::exec(tx, "UPDATE claims SET state = $2 WHERE claim_id = $1", &[&q.claim_id, &end]).await?;
                }
                if q.card.accounted_for() {
                    crate::sql::exec(tx, "DELETE FROM held_card_numbers WHERE claim_id = $1", &[&q.claim_id]).await?;
                    crate::sql::exec(tx,
                        "INSERT INTO free_card_numbers (card_number) VALUES ($1) ON CONFLICT DO NOTHING",
                        &[&number],
                    )
                    .await?;
                } else if live {
                    crate::sql::exec(tx,
                        "INSERT INTO held_card_numbers (card_number, station, claim_id) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&number, &station, &q.claim_id],
                    )
                    .await?;
                }
                Ok(Ok(()))
            })
        })
        .await
    }

    /// Extends `station`'s live claim.
    pub async fn renew(&self, station: &str, q: &RenewRequest) -> Result<Claim, ArchiveError> {
        let lease = q.lease_seconds.clamp(1, self.limits.max_lease_seconds) as f64;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "renew", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                if let Err(r) = Store::own_live_claim(tx, &station, q.claim_id).await? {
                    return Ok(Err(r));
                }
                let row = crate::sql::one(tx,
                        &format!(
                            "UPDATE claims SET expires_at = greatest(expires_at, now() + make_interval(secs => $2))
                             WHERE claim_id = $1 RETURNING {CLAIM_COLUMNS}"
                        ),
                        &[&q.claim_id, &lease],
                    )
                    .await?;
                Ok(Ok(claim_row(&row)))
            })
        })
        .await
    }

    /// Stops a live card `station` made, or another's for the holder at its counter.
    pub async fn stop_card(&self, station: &str, q: &StopRequest) -> Result<CardRecord, ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "stop", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let q = &q;
                let Some(found) =
                    crate::sql::opt(tx, "SELECT ssn FROM cards WHERE card_number = $1", &[&q.card_number])
                        .await?
                else {
                    return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
                };
                Store::lock_person(tx, &found.get::<_, String>("ssn"), "").await?;
                let row = crate::sql::one(
                    tx,
                    &format!("SELECT {CARD_COLUMNS} FROM cards WHERE card_number = $1 FOR UPDATE"),
                    &[&q.card_number],
                )
                .await?;
                let mut card = match card_row(&row) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(Refusal::NotFound { what: e.to_string() })),
                };
                if let Err(r) = archive::may_stop(&station, &card, q) {
                    return Ok(Err(r));
                }
                Store::expire_lapsed_claims(tx, &card.ssn).await?;
                let claim = crate::sql::opt(
                    tx,
                    &format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE ssn = $1 AND state = 'live'"),
                    &[&card.ssn],
                )
                .await?
                .map(|r| claim_row(&r));
                let for_claim = archive::stops_for_reissue(&station, &card, q, claim.as_ref());
                let before = for_claim.map(|_| card.status.as_str());
                card.status = CardStatus::from(q.end);
                crate::sql::exec(
                    tx,
                    "UPDATE cards SET status = $2, updated_at = now(), stopped_for_claim = $3,
                     status_before_stop = $4 WHERE card_number = $1",
                    &[&q.card_number, &card.status.as_str(), &for_claim, &before],
                )
                .await?;
                crate::losses::end_suspension(tx, &q.card_number, "stopped", &format!("{station}/")).await?;
                Ok(Ok(card))
            })
        })
        .await
    }

    /// `station` gives a re-issue up within its claim: the old card live again as it was, the
    /// claim released.
    pub async fn restore_card(&self, station: &str, q: &RestoreRequest) -> Result<CardRecord, ArchiveError> {
        q.check()?;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "restore", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                if !Store::lock_person_of_claim(tx, q.claim_id).await? {
                    return Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) }));
                }
                let row = crate::sql::one(
                    tx,
                    &format!(
                        "SELECT {CLAIM_COLUMNS}, state, expires_at <= now() AS lapsed FROM claims
                             WHERE claim_id = $1 FOR UPDATE"
                    ),
                    &[&q.claim_id],
                )
                .await?;
                let (claim, state, lapsed): (Claim, String, bool) =
                    (claim_row(&row), row.get("state"), row.get("lapsed"));
                let Some(row) = crate::sql::opt(
                    tx,
                    &format!(
                        "SELECT {CARD_COLUMNS}, stopped_for_claim, status_before_stop FROM cards
                             WHERE card_number = $1 FOR UPDATE"
                    ),
                    &[&q.card_number],
                )
                .await?
                else {
                    return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
                };
                let mut card = match card_row(&row) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(Refusal::NotFound { what: e.to_string() })),
                };
                let (stopped_for, before): (Option<i64>, Option<String>) =
                    (row.get("stopped_for_claim"), row.get("status_before_stop"));
                if let Err(r) = archive::may_restore(&station, &claim, &state, lapsed, &card, stopped_for) {
                    return Ok(Err(r));
                }
                card.status = before
                    .as_deref()
                    .and_then(CardStatus::parse)
                    .filter(|s| s.is_live())
                    .unwrap_or(CardStatus::Issued);
                crate::sql::exec(
                    tx,
                    "UPDATE cards SET status = $2, updated_at = now(), stopped_for_claim = NULL,
                     status_before_stop = NULL WHERE card_number = $1",
                    &[&q.card_number, &card.status.as_str()],
                )
                .await?;
                crate::sql::exec(
                    tx,
                    "UPDATE claims SET state = 'released' WHERE claim_id = $1",
                    &[&claim.claim_id],
                )
                .await?;
                if q.card.accounted_for() {
                    crate::sql::exec(
                        tx,
                        "INSERT INTO free_card_numbers (card_number) VALUES ($1) ON CONFLICT DO NOTHING",
                        &[&claim.card_number],
                    )
                    .await?;
                } else {
                    crate::sql::exec(
                        tx,
                        "INSERT INTO held_card_numbers (card_number, station, claim_id) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&claim.card_number, &station, &claim.claim_id],
                    )
                    .await?;
                }
                Ok(Ok(card))
            })
        })
        .await
    }

    /// The card-making centre `station` delivers a card it made to another station.
    pub async fn deliver_card(&self, station: &str, q: &DeliverRequest) -> Result<CardRecord, ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "deliver", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let Some(row) = Store::card_for_update(tx, &q.card_number).await? else {
                    return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
                };
                let card = match card_row(&row) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(Refusal::NotFound { what: e.to_string() })),
                };
                let to_known =
                    crate::sql::opt(tx, "SELECT 1 FROM stations WHERE station = $1", &[&q.to_station])
                        .await?
                        .is_some();
                if let Err(r) =
                    archive::may_deliver(&station, &card, row.get("received"), &q.to_station, to_known)
                {
                    return Ok(Err(r));
                }
                crate::sql::exec(
                    tx,
                    "UPDATE cards SET deliver_to = $2, updated_at = now() WHERE card_number = $1",
                    &[&q.card_number, &q.to_station],
                )
                .await?;
                Ok(Ok(card))
            })
        })
        .await
    }

    /// Anchors `station`'s ledger head (see [`archive::ProvincialArchive::anchor_ledger`]).
    pub async fn anchor_ledger(&self, station: &str, q: &AnchorRequest) -> Result<LedgerHead, ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "anchor", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                // One station's anchors at a time: two of its requests cannot both pass the check.
                crate::sql::exec(tx, "SELECT pg_advisory_xact_lock(5419, hashtext($1))", &[&station]).await?;
                let anchored = Store::last_anchor(tx, &station).await?;
                if let Err(r) = archive::may_anchor(&q.head, anchored.as_ref()) {
                    return Ok(Err(r));
                }
                crate::sql::exec(
                    tx,
                    "INSERT INTO ledger_anchors (station, seq, hash, mac) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&station, &q.head.seq, &q.head.hash, &q.head.mac],
                )
                .await?;
                Ok(Ok(q.head.clone()))
            })
        })
        .await
    }

    /// The last ledger head `station` anchored.
    pub async fn ledger_anchor(&self, station: &str) -> Result<Option<LedgerHead>, ArchiveError> {
        let client = self.client().await?;
        Store::last_anchor(&client, station).await.map_err(pg)
    }

    async fn last_anchor<C: GenericClient>(
        client: &C,
        station: &str,
    ) -> Result<Option<LedgerHead>, tokio_postgres::Error> {
        let row = crate::sql::opt(
            client,
            "SELECT seq, hash, mac FROM ledger_anchors WHERE station = $1 ORDER BY seq DESC LIMIT 1",
            &[&station],
        )
        .await?;
        Ok(row.map(|r| LedgerHead { seq: r.get("seq"), hash: r.get("hash"), mac: r.get("mac") }))
    }

    /// `station` takes in a card delivered to it; from then on it answers for the card.
    pub async fn receive_card(&self, station: &str, q: &ReceiveRequest) -> Result<CardRecord, ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "receive", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let Some(row) = Store::card_for_update(tx, &q.card_number).await? else {
                    return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
                };
                let mut card = match card_row(&row) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(Refusal::NotFound { what: e.to_string() })),
                };
                let deliver_to: Option<String> = row.get("deliver_to");
                if let Err(r) =
                    archive::may_receive(&station, &card, &q, deliver_to.as_deref(), row.get("received"))
                {
                    return Ok(Err(r));
                }
                crate::sql::exec(tx,
                    "UPDATE cards SET made_by = station, station = $2, received_at = now(), updated_at = now()
                     WHERE card_number = $1",
                    &[&q.card_number, &station],
                )
                .await?;
                card.station = station;
                Ok(Ok(card))
            })
        })
        .await
    }

    /// A card's row locked for a change (its person's row first), with where it was delivered
    /// and whether it was taken in.
    pub(crate) async fn card_for_update(
        tx: &Transaction<'_>,
        card_number: &str,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let Some(found) =
            crate::sql::opt(tx, "SELECT ssn FROM cards WHERE card_number = $1", &[&card_number]).await?
        else {
            return Ok(None);
        };
        Store::lock_person(tx, &found.get::<_, String>("ssn"), "").await?;
        crate::sql::opt(
            tx,
            &format!(
                "SELECT {CARD_COLUMNS}, deliver_to, received_at IS NOT NULL AS received FROM cards
                 WHERE card_number = $1 FOR UPDATE"
            ),
            &[&card_number],
        )
        .await
    }

    /// Records a death with its evidence.
    pub async fn mark_deceased(
        &self,
        station: &str,
        q: &DeceasedRequest,
    ) -> Result<Vec<String>, ArchiveError> {
        q.check()?;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "deceased", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let q = &q;
                Store::lock_person(tx, &q.ssn, "").await?;
                crate::sql::exec(
                    tx,
                    "UPDATE persons SET deceased_at = coalesce(deceased_at, now()) WHERE ssn = $1",
                    &[&q.ssn],
                )
                .await?;
                crate::sql::exec(
                    tx,
                    "INSERT INTO deaths (ssn, station, supervisor, evidence) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&q.ssn, &station, &q.supervisor, &q.evidence],
                )
                .await?;
                let cancelled: Vec<String> = crate::sql::all(
                    tx,
                    "UPDATE cards SET status = 'cancelled', updated_at = now()
                         WHERE ssn = $1 AND status IN ('made', 'issued', 'active') RETURNING card_number",
                    &[&q.ssn],
                )
                .await?
                .iter()
                .map(|r| r.get("card_number"))
                .collect();
                // A live claim's card may be in a printer now: its number is held, not reused.
                crate::sql::exec(
                    tx,
                    "INSERT INTO held_card_numbers (card_number, station, claim_id)
                     SELECT card_number, station, claim_id FROM claims WHERE ssn = $1 AND state = 'live'
                     AND claim_id NOT IN (SELECT claim_id FROM kit_claims) ON CONFLICT DO NOTHING",
                    &[&q.ssn],
                )
                .await?;
                crate::sql::exec(
                    tx,
                    "UPDATE claims SET state = 'cancelled' WHERE ssn = $1 AND state = 'live'",
                    &[&q.ssn],
                )
                .await?;
                Ok(Ok(cancelled))
            })
        })
        .await
    }

    /// Takes back a death recorded in error: only another supervisor may.
    pub async fn correct_deceased(
        &self,
        station: &str,
        q: &CorrectDeceasedRequest,
    ) -> Result<(), ArchiveError> {
        q.check()?;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "correct-deceased", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let q = &q;
                Store::lock_person(tx, &q.ssn, "").await?;
                let Some(death) = crate::sql::opt(
                    tx,
                    "SELECT station, supervisor, evidence FROM deaths WHERE ssn = $1",
                    &[&q.ssn],
                )
                .await?
                else {
                    return Ok(Err(Refusal::NotDeceased));
                };
                let (by_station, by_supervisor, evidence): (String, String, String) =
                    (death.get(0), death.get(1), death.get(2));
                if by_station == station && by_supervisor == q.supervisor {
                    return Ok(Err(Refusal::SameSupervisor));
                }
                crate::sql::exec(
                    tx,
                    "INSERT INTO death_corrections (ssn, recorded_by, evidence, station, supervisor, reason)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &q.ssn,
                        &format!("{by_station}/{by_supervisor}"),
                        &evidence,
                        &station,
                        &q.supervisor,
                        &q.reason,
                    ],
                )
                .await?;
                crate::sql::exec(tx, "DELETE FROM deaths WHERE ssn = $1", &[&q.ssn]).await?;
                crate::sql::exec(tx, "UPDATE persons SET deceased_at = NULL WHERE ssn = $1", &[&q.ssn])
                    .await?;
                Ok(Ok(()))
            })
        })
        .await
    }
}
