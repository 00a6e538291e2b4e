//! Back online: the outbox goes to the archive one record at a time, in order; each result is
//! stored (sealed) before the next record is sent, so a sync killed or cut off at any point
//! resumes where it stopped, and a record whose answer was lost is sent again under the same
//! record id, which the archive answers with its first result instead of applying it twice.
//! When every record has a result, the check-in releases the people not served and returns
//! the unused numbers and cards. A store whose outbox chain does not hold (rows deleted,
//! reordered, put back from an old copy) is refused before anything is sent.

use archive::kit::{Checkin, CheckinRequest, RecordOutcome};
use archive::{ArchiveError, ProvincialArchive};

use crate::kit::{Kit, KitError};

/// What a finished sync did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// Records sent in this run (the rest had results from an earlier run).
    pub sent: usize,
    /// Records of the lease.
    pub records: usize,
    /// Records the archive could not apply as recorded: (sequence, reason for the supervisor).
    pub conflicts: Vec<(i64, String)>,
    /// The check-in.
    pub checkin: Checkin,
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The archive went away: what was sent is kept; run the sync again.
    #[error("sync interrupted after {done} of {records} records ({cause}): run it again, nothing is lost or sent twice")]
    Interrupted {
        /// Records with a result.
        done: usize,
        /// Records of the lease.
        records: usize,
        /// What happened.
        cause: String,
    },
    /// Anything else.
    #[error(transparent)]
    Kit(#[from] KitError),
}

/// Sends what is pending and checks the lease in.
pub fn sync(kit: &mut Kit, archive: &dyn ProvincialArchive) -> Result<SyncReport, SyncError> {
    kit.verify_store()?;
    // A card spoiled by a crash must reach the province with the rest: settle it first.
    if let Some(m) = kit.interrupted_making() {
        return Err(KitError::Interrupted { card_number: m.card_number.clone(), attempt: m.attempt }.into());
    }
    let lease = kit.lease().ok_or(KitError::NoLease)?.clone();
    let records = kit.outbox().len();
    let interrupted = |kit: &Kit, e: ArchiveError| -> SyncError {
        let done = kit.outbox().iter().filter(|o| o.result.is_some()).count();
        if e.is_retryable() {
            SyncError::Interrupted { done, records, cause: e.to_string() }
        } else {
            SyncError::Kit(KitError::Archive(e))
        }
    };
    let mut sent = 0;
    let pending: Vec<_> =
        kit.outbox().iter().filter(|o| o.result.is_none()).map(|o| o.record.clone()).collect();
    for record in pending {
        let result = archive.sync_record(&record).map_err(|e| interrupted(kit, e))?;
        if result.record_id != record.record_id {
            return Err(KitError::Store(format!(
                "the archive answered record {} for {}",
                result.record_id, record.record_id
            ))
            .into());
        }
        kit.store_result(record.seq, result)?;
        sent += 1;
    }
    let checkin = match &lease.checkin {
        Some(done) => done.clone(),
        None => {
            let q = CheckinRequest {
                request_id: format!("{}/checkin/{}", kit.kit_id(), lease.checkout.lease_id),
                lease_id: lease.checkout.lease_id,
                records: records as i64,
            };
            let checkin = archive.checkin(&q).map_err(|e| interrupted(kit, e))?;
            kit.store_checkin(checkin.clone())?;
            checkin
        }
    };
    let conflicts = kit
        .outbox()
        .iter()
        .filter_map(|o| match &o.result.as_ref()?.outcome {
            RecordOutcome::Conflict { reason } => Some((o.record.seq, reason.clone())),
            RecordOutcome::Applied { .. } => None,
        })
        .collect();
    Ok(SyncReport { sent, records, conflicts, checkin })
}
