//! The provincial archive's rules on PostgreSQL. Each change is one transaction that locks
//! the person's row first (so changes to one person are serialised, and locks are always
//! taken person -> claim -> card -> counter), records the request id, and stores its answer
//! there for retries. Deadlocks and serialisation failures are retried.

use archive::{
    ArchiveError, CardRecord, CardStatus, Claim, ClaimRequest, CommitRequest, DeceasedRequest, PersonCards,
    Refusal, ReleaseRequest, StopRequest,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

const SCHEMA: &str = include_str!("../migrations/provincial-pg.sql");
/// Migration 0002: outreach kits' leases, records and conflicts.
const KITS_SCHEMA: &str = include_str!("../migrations/provincial-pg-0002-kits.sql");
/// Longest lease a station may ask for.
pub const MAX_LEASE_SECONDS: i64 = 24 * 3600;

/// The store behind the service.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    pub(crate) prefix: char,
}

pub(crate) fn pg(e: tokio_postgres::Error) -> ArchiveError {
    ArchiveError::Unavailable(format!("PostgreSQL: {e}"))
}

pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::UNIQUE_VIOLATION)
}

pub(crate) type Answer<T> = Result<T, Refusal>;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stored<T> {
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
        let store = Store { pool, prefix };
        let client = store.client().await?;
        client.batch_execute(SCHEMA).await.map_err(pg)?;
        client.batch_execute(KITS_SCHEMA).await.map_err(pg)?;
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, ArchiveError> {
        self.pool.get().await.map_err(|e| ArchiveError::Unavailable(format!("PostgreSQL: {e}")))
    }

    /// Everything known of a person.
    pub async fn lookup(&self, ssn: &str) -> Result<PersonCards, ArchiveError> {
        let client = self.client().await?;
        let deceased = client
            .query_opt("SELECT deceased_at IS NOT NULL AS d FROM persons WHERE ssn = $1", &[&ssn])
            .await
            .map_err(pg)?
            .is_some_and(|r| r.get::<_, bool>("d"));
        let cards = client
            .query(
                &format!("SELECT {CARD_COLUMNS} FROM cards WHERE ssn = $1 ORDER BY created_at, card_number"),
                &[&ssn],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(card_row)
            .collect::<Result<Vec<_>, _>>()?;
        let live_claim = client
            .query_opt(
                &format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE ssn = $1 AND state = 'live' AND expires_at > now()"),
                &[&ssn],
            )
            .await
            .map_err(pg)?
            .map(|r| claim_row(&r));
        Ok(PersonCards { ssn: ssn.to_string(), deceased, cards, live_claim })
    }

    /// Runs one idempotent change: the body runs only the first time `request_id` is seen.
    pub(crate) async fn idempotent<T, F>(
        &self,
        station: &str,
        request_id: &str,
        op: &str,
        body: F,
    ) -> Result<T, ArchiveError>
    where
        T: Serialize + DeserializeOwned,
        F: for<'a> Fn(
            &'a Transaction<'a>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Body<T>> + Send + 'a>>,
    {
        if request_id.is_empty() || request_id.len() > 128 {
            return Err(ArchiveError::BadRequest("request id must be 1 to 128 characters".into()));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = self.client().await?;
            match Store::attempt(&mut client, station, request_id, op, &body).await {
                Ok(stored) => {
                    return match stored {
                        Stored::Ok(v) => Ok(v),
                        Stored::Refused(r) => Err(ArchiveError::Refused(r)),
                    }
                }
                Err(e) if attempt < 5 && is_retryable(&e) => {
                    tracing::debug!(error = %e, attempt, "retrying the transaction");
                }
                Err(e) => return Err(pg(e)),
            }
        }
    }

    async fn attempt<T, F>(
        client: &mut deadpool_postgres::Object,
        station: &str,
        request_id: &str,
        op: &str,
        body: &F,
    ) -> Result<Stored<T>, tokio_postgres::Error>
    where
        T: Serialize + DeserializeOwned,
        F: for<'a> Fn(
            &'a Transaction<'a>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Body<T>> + Send + 'a>>,
    {
        let tx = client.transaction().await?;
        let fresh = tx
            .execute(
                "INSERT INTO requests (request_id, station, op) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&request_id, &station, &op],
            )
            .await?;
        if fresh == 0 {
            let row =
                tx.query_one("SELECT op, answer FROM requests WHERE request_id = $1", &[&request_id]).await?;
            let first_op: String = row.get("op");
            tx.commit().await?;
            if first_op != op {
                return Ok(Stored::Refused(Refusal::RequestIdReused {
                    request_id: request_id.into(),
                    op: first_op,
                }));
            }
            let answer: serde_json::Value = row.get("answer");
            return Ok(serde_json::from_value(answer).unwrap_or_else(|e| {
                Stored::Refused(Refusal::NotFound { what: format!("stored answer of {request_id} ({e})") })
            }));
        }
        let stored = match body(&tx).await? {
            Ok(v) => Stored::Ok(v),
            Err(r) => Stored::Refused(r),
        };
        let json = serde_json::to_value(&stored).unwrap_or(serde_json::Value::Null);
        tx.execute("UPDATE requests SET answer = $2 WHERE request_id = $1", &[&request_id, &json]).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Ends the person's claims whose lease has lapsed; their numbers go back to the pool,
    /// except a kit's (a card may have been made offline under it).
    pub(crate) async fn expire_lapsed_claims(
        tx: &Transaction<'_>,
        ssn: &str,
    ) -> Result<(), tokio_postgres::Error> {
        tx.execute(
            "INSERT INTO free_card_numbers (card_number)
             SELECT card_number FROM claims WHERE ssn = $1 AND state = 'live' AND expires_at <= now()
             AND claim_id NOT IN (SELECT claim_id FROM kit_claims)
             ON CONFLICT DO NOTHING",
            &[&ssn],
        )
        .await?;
        tx.execute(
            "UPDATE claims SET state = 'expired' WHERE ssn = $1 AND state = 'live' AND expires_at <= now()",
            &[&ssn],
        )
        .await?;
        Ok(())
    }

    /// Locks the person's row (creating it), returns whether they are deceased.
    pub(crate) async fn lock_person(
        tx: &Transaction<'_>,
        ssn: &str,
        name: &str,
    ) -> Result<bool, tokio_postgres::Error> {
        tx.execute(
            "INSERT INTO persons (ssn, name) VALUES ($1, $2) ON CONFLICT (ssn) DO NOTHING",
            &[&ssn, &name],
        )
        .await?;
        let row = tx
            .query_one("SELECT deceased_at IS NOT NULL AS d FROM persons WHERE ssn = $1 FOR UPDATE", &[&ssn])
            .await?;
        Ok(row.get("d"))
    }

    pub(crate) async fn live_card(
        tx: &Transaction<'_>,
        ssn: &str,
    ) -> Result<Option<String>, tokio_postgres::Error> {
        Ok(tx
            .query_opt(
                "SELECT card_number FROM cards WHERE ssn = $1 AND status IN ('made', 'issued', 'active')",
                &[&ssn],
            )
            .await?
            .map(|r| r.get("card_number")))
    }

    pub(crate) async fn allocate(tx: &Transaction<'_>, prefix: char) -> Body<String> {
        let reused = tx
            .query_opt(
                "DELETE FROM free_card_numbers WHERE card_number =
                   (SELECT card_number FROM free_card_numbers ORDER BY card_number LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING card_number",
                &[],
            )
            .await?;
        if let Some(r) = reused {
            return Ok(Ok(r.get("card_number")));
        }
        let p = prefix.to_string();
        tx.execute(
            "INSERT INTO card_number_counter (prefix, next) VALUES ($1, 1) ON CONFLICT DO NOTHING",
            &[&p],
        )
        .await?;
        let next: i64 = tx
            .query_one(
                "UPDATE card_number_counter SET next = next + 1 WHERE prefix = $1 RETURNING next - 1 AS n",
                &[&p],
            )
            .await?
            .get("n");
        let number = u32::try_from(next).ok().and_then(|n| archive::card_number(prefix, n));
        Ok(number.ok_or(Refusal::NumbersExhausted { prefix: p }))
    }

    /// Claims a person for one new card.
    pub async fn claim(&self, station: &str, q: &ClaimRequest) -> Result<Claim, ArchiveError> {
        if q.ssn.len() != 18 {
            return Err(ArchiveError::BadRequest("ssn must be the 18-character resident ID number".into()));
        }
        let lease = q.lease_seconds.clamp(1, MAX_LEASE_SECONDS);
        let prefix = self.prefix;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, &q.request_id, "claim", move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (q, station) = (&q, station.as_str());
                if Store::lock_person(tx, &q.ssn, &q.name).await? {
                    return Ok(Err(Refusal::Deceased));
                }
                Store::expire_lapsed_claims(tx, &q.ssn).await?;
                let held = tx
                    .query_opt(
                        &format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE ssn = $1 AND state = 'live'"),
                        &[&q.ssn],
                    )
                    .await?;
                if let Some(c) = held.map(|r| claim_row(&r)) {
                    return Ok(Err(Refusal::AlreadyClaimed { station: c.station, expires_at: c.expires_at }));
                }
                if let Some(live) = Store::live_card(tx, &q.ssn).await? {
                    if q.reissue_of.as_deref() != Some(live.as_str()) {
                        return Ok(Err(Refusal::LiveCard { card_number: live }));
                    }
                }
                let number = match Store::allocate(tx, prefix).await? {
                    Ok(n) => n,
                    Err(r) => return Ok(Err(r)),
                };
                let row = tx
                    .query_one(
                        &format!(
                            "INSERT INTO claims (ssn, station, card_number, reissue_of, state, expires_at)
                             VALUES ($1, $2, $3, $4, 'live', now() + make_interval(secs => $5))
                             RETURNING {CLAIM_COLUMNS}"
                        ),
                        &[&q.ssn, &station, &number, &q.reissue_of, &(lease as f64)],
                    )
                    .await?;
                Ok(Ok(claim_row(&row)))
            })
        })
        .await
    }

    /// Records the card made under a live claim.
    pub async fn commit(&self, station: &str, q: &CommitRequest) -> Result<CardRecord, ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, &q.request_id, "commit", move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (q, station) = (&q, station.as_str());
                let Some(found) =
                    tx.query_opt("SELECT ssn FROM claims WHERE claim_id = $1", &[&q.claim_id]).await?
                else {
                    return Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) }));
                };
                let ssn: String = found.get("ssn");
                Store::lock_person(tx, &ssn, "").await?;
                let row = tx
                    .query_one(
                        &format!(
                            "SELECT {CLAIM_COLUMNS}, state, expires_at <= now() AS lapsed FROM claims
                             WHERE claim_id = $1 FOR UPDATE"
                        ),
                        &[&q.claim_id],
                    )
                    .await?;
                let claim = claim_row(&row);
                let mut state: String = row.get("state");
                if state == "live" && row.get::<_, bool>("lapsed") {
                    state = "expired".into();
                }
                if claim.station != station {
                    state = format!("held by {}", claim.station);
                }
                if state != "live" {
                    return Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state }));
                }
                if let Some(live) = Store::live_card(tx, &claim.ssn).await? {
                    return Ok(Err(Refusal::OldCardNotStopped { card_number: live }));
                }
                tx.execute(
                    "INSERT INTO cards (card_number, ssn, card_id, atr, status, station, claim_id)
                     VALUES ($1, $2, $3, $4, 'made', $5, $6)",
                    &[&claim.card_number, &claim.ssn, &q.card_id, &q.atr, &station, &claim.claim_id],
                )
                .await?;
                tx.execute("UPDATE claims SET state = 'committed' WHERE claim_id = $1", &[&claim.claim_id])
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

    /// Gives a live claim up.
    pub async fn release(&self, station: &str, q: &ReleaseRequest) -> Result<(), ArchiveError> {
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, &q.request_id, "release", move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (q, station) = (&q, station.as_str());
                let Some(found) =
                    tx.query_opt("SELECT ssn FROM claims WHERE claim_id = $1", &[&q.claim_id]).await?
                else {
                    return Ok(Err(Refusal::NotFound { what: format!("claim {}", q.claim_id) }));
                };
                Store::lock_person(tx, &found.get::<_, String>("ssn"), "").await?;
                let row = tx
                    .query_one(
                        "SELECT state, station, card_number FROM claims WHERE claim_id = $1 FOR UPDATE",
                        &[&q.claim_id],
                    )
                    .await?;
                let (state, holder): (String, String) = (row.get("state"), row.get("station"));
                if state != "live" || holder != station {
                    return Ok(Err(Refusal::ClaimNotLive { claim_id: q.claim_id, state }));
                }
                tx.execute("UPDATE claims SET state = 'released' WHERE claim_id = $1", &[&q.claim_id])
                    .await?;
                tx.execute(
                    "INSERT INTO free_card_numbers (card_number) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&row.get::<_, String>("card_number")],
                )
                .await?;
                Ok(Ok(()))
            })
        })
        .await
    }

    /// Stops a live card.
    pub async fn stop_card(&self, station: &str, q: &StopRequest) -> Result<CardRecord, ArchiveError> {
        let owned_q = q.clone();
        self.idempotent(station, &q.request_id, "stop", move |tx| {
            let q = owned_q.clone();
            Box::pin(async move {
                let q = &q;
                let Some(found) =
                    tx.query_opt("SELECT ssn FROM cards WHERE card_number = $1", &[&q.card_number]).await?
                else {
                    return Ok(Err(Refusal::NotFound { what: format!("card {}", q.card_number) }));
                };
                Store::lock_person(tx, &found.get::<_, String>("ssn"), "").await?;
                let row = tx
                    .query_one(
                        &format!("SELECT {CARD_COLUMNS} FROM cards WHERE card_number = $1 FOR UPDATE"),
                        &[&q.card_number],
                    )
                    .await?;
                let mut card = match card_row(&row) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(Refusal::NotFound { what: e.to_string() })),
                };
                if !card.status.is_live() {
                    return Ok(Err(Refusal::NotLive { card_number: card.card_number, status: card.status }));
                }
                card.status = CardStatus::from(q.end);
                tx.execute(
                    "UPDATE cards SET status = $2, updated_at = now() WHERE card_number = $1",
                    &[&q.card_number, &card.status.as_str()],
                )
                .await?;
                Ok(Ok(card))
            })
        })
        .await
    }

    /// Records a death.
    pub async fn mark_deceased(
        &self,
        station: &str,
        q: &DeceasedRequest,
    ) -> Result<Vec<String>, ArchiveError> {
        if q.ssn.len() != 18 {
            return Err(ArchiveError::BadRequest("ssn must be the 18-character resident ID number".into()));
        }
        let owned_q = q.clone();
        self.idempotent(station, &q.request_id, "deceased", move |tx| {
            let q = owned_q.clone();
            Box::pin(async move {
                let q = &q;
                Store::lock_person(tx, &q.ssn, "").await?;
                tx.execute(
                    "UPDATE persons SET deceased_at = coalesce(deceased_at, now()) WHERE ssn = $1",
                    &[&q.ssn],
                )
                .await?;
                let cancelled: Vec<String> = tx
                    .query(
                        "UPDATE cards SET status = 'cancelled', updated_at = now()
                         WHERE ssn = $1 AND status IN ('made', 'issued', 'active') RETURNING card_number",
                        &[&q.ssn],
                    )
                    .await?
                    .iter()
                    .map(|r| r.get("card_number"))
                    .collect();
                tx.execute(
                    "INSERT INTO free_card_numbers (card_number)
                     SELECT card_number FROM claims WHERE ssn = $1 AND state = 'live'
                     AND claim_id NOT IN (SELECT claim_id FROM kit_claims) ON CONFLICT DO NOTHING",
                    &[&q.ssn],
                )
                .await?;
                tx.execute(
                    "UPDATE claims SET state = 'cancelled' WHERE ssn = $1 AND state = 'live'",
                    &[&q.ssn],
                )
                .await?;
                Ok(Ok(cancelled))
            })
        })
        .await
    }
}
