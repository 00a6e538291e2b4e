//! Claims decided in batches. A claim waits for one of the pool's connections anyway; the
//! claims that arrived meanwhile are decided with it, in one call of PostgreSQL's
//! `claim_persons` and one transaction (migration 0014): one wake-up of the backend, one
//! round trip and one commit for the lot instead of one each, and since migration 0015 one
//! statement per step for the lot (the persons, the numbers, the claims, the requests, the
//! audit) instead of one per claim. Nothing waits for a batch to fill: a claim alone is
//! decided at once, with `claim_person`, and a batch is what has queued while the
//! connections were busy, so batches grow with the load only.
//!
//! Each claim's answer is the one it gets alone, in the batch's order (the service's tests put
//! every kind of claim in one batch); what the batch shares is its statements and its
//! transaction. A batch that fails (a request sent twice within it, two stations claiming one
//! person at the same moment, a deadlock with another change) is rolled back whole, and its
//! claims are then decided one by one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use archive::{ArchiveError, Claim, ClaimRequest};
use tokio::sync::oneshot;

use crate::store::{is_retryable, stored_answer, Stored};
use crate::Store;

/// At most this many claims in one batch: the batch's latency is theirs all, ~0.1-0.2 ms of
/// PostgreSQL's time a claim. (Under pgbench 4 claims a call gave ~1.1x the claims a second of
/// one a call, 8 ~1.3x; 16 stations on a pool of 4 make batches of ~4.)
pub const MAX_BATCH: usize = 16;

/// A claim accepted by [`Store::claim`] and not yet decided, in arrival order.
pub(crate) struct Queued {
    station: String,
    claim: ClaimRequest,
    /// The request's SM3 and the request as sent, for the stored answer and the audit.
    hash: String,
    request: serde_json::Value,
    answer: oneshot::Sender<Result<Claim, ArchiveError>>,
}

/// The claims waiting for a connection, shared by the store's clones, and what became of
/// the batches so far.
#[derive(Default)]
pub(crate) struct ClaimQueue {
    waiting: Mutex<Waiting>,
    batches: AtomicU64,
    batched: AtomicU64,
    one_by_one: AtomicU64,
}

#[derive(Default)]
struct Waiting {
    claims: VecDeque<Queued>,
    /// A task is waiting for a connection to decide them. One is enough: the claims queue
    /// behind it, and it starts the next when it takes its batch and claims are left.
    decider: bool,
}

/// How the claims have been decided since the service started (batches of two or more).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClaimBatches {
    /// Claims accepted and not yet decided or deciding.
    pub waiting: usize,
    /// Batches decided in one call.
    pub batches: u64,
    /// Claims in those batches.
    pub claims: u64,
    /// Batches that failed and were decided one by one.
    pub one_by_one: u64,
}

impl ClaimQueue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues claim `q`; whether a task must be started to decide it (none is waiting yet).
    fn push(&self, q: Queued) -> bool {
        let mut w = self.waiting();
        w.claims.push_back(q);
        !std::mem::replace(&mut w.decider, true)
    }

    /// For the task that has a connection: the oldest claims, up to a batch, and whether
    /// claims are left (its successor is then started at once).
    fn take(&self) -> (Vec<Queued>, bool) {
        let mut w = self.waiting();
        let n = w.claims.len().min(MAX_BATCH);
        let batch: Vec<Queued> = w.claims.drain(..n).collect();
        w.decider = !w.claims.is_empty();
        (batch, w.decider)
    }
}

impl Store {
    /// Claims a person for one new card. On PostgreSQL the decision and its writes are
    /// `claim_person` (migrations 0012 to 0015, the rule itself, twin of the SQLite archive's
    /// claim), or `claim_persons` for the claims that queued together (see the module); here
    /// only the request's shape is checked and the lease capped. The claim is decided even if
    /// the caller goes away meanwhile (a station that retries gets the stored answer).
    pub async fn claim(&self, station: &str, q: &ClaimRequest) -> Result<Claim, ArchiveError> {
        archive::check_person(&q.ssn)?;
        crate::store::check_request_id(&q.request_id)?;
        let mut claim = q.clone();
        claim.lease_seconds = q.lease_seconds.clamp(1, self.limits.max_lease_seconds);
        let (answer, answered) = oneshot::channel();
        let start = self.claims.push(Queued {
            station: station.to_string(),
            hash: archive::request_hash(q),
            request: serde_json::to_value(q).unwrap_or_default(),
            claim,
            answer,
        });
        if start {
            self.clone().start_decider();
        }
        answered
            .await
            .unwrap_or_else(|_| Err(ArchiveError::Store("the claim's task ended without an answer".into())))
    }

    /// How the claims have been decided so far, and how many wait.
    pub fn claim_batches(&self) -> ClaimBatches {
        let q = &self.claims;
        ClaimBatches {
            waiting: q.waiting().claims.len(),
            batches: q.batches.load(Ordering::Relaxed),
            claims: q.batched.load(Ordering::Relaxed),
            one_by_one: q.one_by_one.load(Ordering::Relaxed),
        }
    }

    /// Starts the task that waits for the next free connection while claims queue behind it,
    /// then decides them (a batch at most). A task of its own, so that a caller that goes away
    /// cancels nobody's claim.
    fn start_decider(self) {
        tokio::spawn(async move {
            let client = self.client().await;
            let (batch, more) = self.claims.take();
            if more {
                self.clone().start_decider();
            }
            self.decide(client, batch).await;
        });
    }

    async fn decide(&self, client: Result<deadpool_postgres::Object, ArchiveError>, batch: Vec<Queued>) {
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                let message = e.to_string();
                for q in batch {
                    let _ = q.answer.send(Err(ArchiveError::Unavailable(message.clone())));
                }
                return;
            }
        };
        let decided = if let [q] = batch.as_slice() {
            self.claim_once(&client, q).await.map(|a| vec![a])
        } else {
            self.claims.batches.fetch_add(1, Ordering::Relaxed);
            self.claims.batched.fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.claim_batch(&client, &batch).await
        };
        drop(client);
        match decided {
            Ok(answers) => {
                for (q, a) in batch.into_iter().zip(answers) {
                    let _ = q.answer.send(a.into_result());
                }
            }
            Err(e) => {
                if batch.len() > 1 {
                    self.claims.one_by_one.fetch_add(1, Ordering::Relaxed);
                }
                // The SQLSTATE only: a key's detail could name a person.
                tracing::debug!(sqlstate = ?e.code(), claims = batch.len(), retryable = is_retryable(&e),
                    "deciding the claims one by one");
                for q in batch {
                    let answer = self.claim_alone(&q).await;
                    let _ = q.answer.send(answer);
                }
            }
        }
    }

    /// One claim, one call of `claim_person`.
    async fn claim_once(
        &self,
        client: &deadpool_postgres::Object,
        q: &Queued,
    ) -> Result<Stored<Claim>, tokio_postgres::Error> {
        let c = &q.claim;
        let lease = c.lease_seconds as f64;
        let prefix = self.prefix.to_string();
        let row = crate::sql::one(
            client,
            "SELECT claim_person($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &q.station,
                &c.request_id,
                &q.hash,
                &q.request,
                &c.ssn,
                &c.name,
                &c.reissue_of,
                &lease,
                &prefix,
            ],
        )
        .await?;
        Ok(stored_answer(&c.request_id, row.get(0)))
    }

    /// Claims together: one call of `claim_persons`, the answers in the batch's order.
    async fn claim_batch(
        &self,
        client: &deadpool_postgres::Object,
        batch: &[Queued],
    ) -> Result<Vec<Stored<Claim>>, tokio_postgres::Error> {
        let column = |f: fn(&Queued) -> &str| batch.iter().map(f).collect::<Vec<&str>>();
        let stations = column(|q| &q.station);
        let request_ids = column(|q| &q.claim.request_id);
        let hashes = column(|q| &q.hash);
        let ssns = column(|q| &q.claim.ssn);
        let names = column(|q| &q.claim.name);
        let requests: Vec<&serde_json::Value> = batch.iter().map(|q| &q.request).collect();
        let reissues: Vec<Option<&str>> = batch.iter().map(|q| q.claim.reissue_of.as_deref()).collect();
        let leases: Vec<f64> = batch.iter().map(|q| q.claim.lease_seconds as f64).collect();
        let prefix = self.prefix.to_string();
        let row = crate::sql::one(
            client,
            "SELECT claim_persons($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&stations, &request_ids, &hashes, &requests, &ssns, &names, &reissues, &leases, &prefix],
        )
        .await?;
        let answers: Vec<Option<serde_json::Value>> = row.get(0);
        // One answer per claim, always: a missing one reads as no stored answer.
        let answers = answers.into_iter().chain(std::iter::repeat(None));
        Ok(batch.iter().zip(answers).map(|(q, a)| stored_answer(&q.claim.request_id, a)).collect())
    }

    /// One claim on its own, retried as every change is (a deadlock, a key taken meanwhile).
    async fn claim_alone(&self, q: &Queued) -> Result<Claim, ArchiveError> {
        self.retrying(|client| async move { self.claim_once(&client, q).await }).await
    }
}
