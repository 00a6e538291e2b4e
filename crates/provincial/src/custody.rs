//! Custody approvals (RULE 4) on PostgreSQL (migration 0009): the decisions are
//! [`archive::custody`]'s, shared with the SQLite archive; this file locks the card (its person
//! first, as every change to a card does), writes the approval in the request's transaction,
//! and reads the approvals a kit carries and the one its hand-over names.

use archive::custody::{CustodyApproval, CustodyRequest, ProvincialCustody};
use archive::{ArchiveError, Refusal};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::store::{card_row, Store};

const COLUMNS: &str =
    "approval_id, station, card_number, holder_group, custodian, custodian_id, approved_by, reason, valid_until";

fn custody_row(r: &Row) -> ProvincialCustody {
    ProvincialCustody {
        approval_id: r.get("approval_id"),
        station: r.get("station"),
        approval: CustodyApproval {
            card_number: r.get("card_number"),
            holder_group: r.get("holder_group"),
            custodian: r.get("custodian"),
            custodian_id: r.get("custodian_id"),
            approved_by: r.get("approved_by"),
            reason: r.get("reason"),
            valid_until: r.get("valid_until"),
        },
    }
}

/// Today in China Standard Time (YYYYMMDD), as custody approvals are dated.
pub(crate) fn today() -> String {
    applicant::days::today().compact()
}

/// The approval of that number, if the archive holds it.
pub(crate) async fn by_id<C: GenericClient>(
    client: &C,
    approval_id: i64,
) -> Result<Option<ProvincialCustody>, tokio_postgres::Error> {
    let row = crate::sql::opt(
        client,
        &format!("SELECT {COLUMNS} FROM custody_approvals WHERE approval_id = $1"),
        &[&approval_id],
    )
    .await?;
    Ok(row.as_ref().map(custody_row))
}

/// The approvals of a card that have not ended by today, oldest first.
pub(crate) async fn current<C: GenericClient>(
    client: &C,
    card_number: &str,
) -> Result<Vec<ProvincialCustody>, tokio_postgres::Error> {
    let rows = crate::sql::all(
        client,
        &format!(
            "SELECT {COLUMNS} FROM custody_approvals WHERE card_number = $1 AND valid_until >= $2
                 ORDER BY approval_id"
        ),
        &[&card_number, &today()],
    )
    .await?;
    Ok(rows.iter().map(custody_row).collect())
}

impl Store {
    /// `station` records a custody approval of a live card it answers for.
    pub async fn record_custody(
        &self,
        station: &str,
        q: &CustodyRequest,
    ) -> Result<ProvincialCustody, ArchiveError> {
        q.check()?;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "custody", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let number = &q.approval.card_number;
                let card = match Store::card_for_update(tx, number).await?.map(|r| card_row(&r)) {
                    Some(Ok(card)) => card,
                    Some(Err(e)) => return Ok(Err(Refusal::NotFound { what: e.to_string() })),
                    None => return Ok(Err(Refusal::NotFound { what: format!("card {number}") })),
                };
                if let Err(r) = archive::custody::may_record_custody(&station, &card) {
                    return Ok(Err(r));
                }
                let a = CustodyApproval { custodian: q.approval.custodian.trim().to_string(), ..q.approval.clone() };
                let id: i64 = crate::sql::one(tx,
                        "INSERT INTO custody_approvals (station, card_number, holder_group, custodian, custodian_id,
                             approved_by, reason, valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                         RETURNING approval_id",
                        &[
                            &station,
                            &a.card_number,
                            &a.holder_group,
                            &a.custodian,
                            &a.custodian_id,
                            &a.approved_by,
                            &a.reason,
                            &a.valid_until,
                        ],
                    )
                    .await?
                    .get(0);
                Ok(Ok(ProvincialCustody { approval_id: id, station, approval: a }))
            })
        })
        .await
    }
}
