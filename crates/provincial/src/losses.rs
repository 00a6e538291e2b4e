//! Temporary losses (口头挂失) on PostgreSQL: the decisions are `archive`'s
//! ([`archive::may_suspend`], [`archive::may_lift`]), shared with the SQLite archive; this file
//! takes the person's row lock first (as every change to a card does), gathers the card and its
//! latest loss, and writes the outcome in the request's transaction.

use archive::{ArchiveError, LiftRequest, LossChannel, Refusal, SuspendRequest, Suspension};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use crate::store::{card_row, pg, Body, Store};

const SUSPENSION_COLUMNS: &str = "card_number, station, channel, since, until";

fn suspension_row(r: &Row) -> Result<Suspension, ArchiveError> {
    let channel: String = r.get("channel");
    Ok(Suspension {
        card_number: r.get("card_number"),
        station: r.get("station"),
        channel: LossChannel::parse(&channel)
            .ok_or_else(|| ArchiveError::Store(format!("loss channel {channel}")))?,
        since: r.get("since"),
        until: r.get("until"),
    })
}

/// Unix seconds now, as the service's clock says.
fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The card's row and its latest loss with how it ended, the person's row locked first.
type CardAndLoss = (archive::CardRecord, Option<(Suspension, Option<String>)>);

/// The card (locked, its person first: [`Store::card_for_update`]) and its latest loss; a card
/// the archive does not have, or cannot read, is refused as not found.
async fn card_and_loss(tx: &Transaction<'_>, card_number: &str) -> Body<CardAndLoss> {
    let not_found = |what: String| Ok(Err(Refusal::NotFound { what }));
    let Some(row) = Store::card_for_update(tx, card_number).await? else {
        return not_found(format!("card {card_number}"));
    };
    let latest = crate::sql::opt(
        tx,
        &format!(
            "SELECT {SUSPENSION_COLUMNS}, ended FROM card_suspensions WHERE card_number = $1
                 ORDER BY suspension_id DESC LIMIT 1"
        ),
        &[&card_number],
    )
    .await?;
    let card = match card_row(&row) {
        Ok(c) => c,
        Err(e) => return not_found(e.to_string()),
    };
    let latest = match latest.map(|r| suspension_row(&r).map(|s| (s, r.get::<_, Option<String>>("ended")))) {
        Some(Err(e)) => return not_found(e.to_string()),
        other => other.transpose().ok().flatten(),
    };
    Ok(Ok((card, latest)))
}

/// Ends the card's temporary loss in force, if any (`how`: lifted or stopped).
pub(crate) async fn end_suspension(
    tx: &Transaction<'_>,
    card_number: &str,
    how: &str,
    ended_by: &str,
) -> Result<(), tokio_postgres::Error> {
    crate::sql::exec(
        tx,
        "UPDATE card_suspensions SET ended = $2, ended_at = $3, ended_by = $4
         WHERE card_number = $1 AND ended IS NULL AND until > $3",
        &[&card_number, &how, &now(), &ended_by],
    )
    .await?;
    Ok(())
}

/// The person's temporary losses in force now (on live cards).
pub(crate) async fn suspensions_in_force<C: GenericClient>(
    client: &C,
    ssn: &str,
) -> Result<Vec<Suspension>, ArchiveError> {
    crate::sql::all(client,
            "SELECT s.card_number, s.station, s.channel, s.since, s.until FROM card_suspensions s
             JOIN cards c ON c.card_number = s.card_number
             WHERE c.ssn = $1 AND c.status IN ('made', 'issued', 'active') AND s.ended IS NULL AND s.until > $2
             ORDER BY s.suspension_id",
            &[&ssn, &now()],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(suspension_row)
        .collect()
}

impl Store {
    /// `station` suspends a live card for a while (a temporary loss).
    pub async fn suspend_card(&self, station: &str, q: &SuspendRequest) -> Result<Suspension, ArchiveError> {
        q.check()?;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "suspend", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (card, latest) = match card_and_loss(tx, &q.card_number).await? {
                    Ok(found) => found,
                    Err(r) => return Ok(Err(r)),
                };
                let in_force = latest.as_ref().filter(|(s, ended)| ended.is_none() && s.until > now());
                if let Err(r) = archive::may_suspend(&station, &card, &q, in_force.map(|(s, _)| s)) {
                    return Ok(Err(r));
                }
                let s = Suspension {
                    card_number: q.card_number.clone(),
                    station: station.clone(),
                    channel: q.channel,
                    since: now(),
                    until: now() + q.seconds,
                };
                crate::sql::exec(
                    tx,
                    "INSERT INTO card_suspensions (card_number, station, channel, operator, since, until)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&s.card_number, &s.station, &s.channel.as_str(), &q.operator, &s.since, &s.until],
                )
                .await?;
                Ok(Ok(s))
            })
        })
        .await
    }

    /// The holder at `station`'s counter lifts a temporary loss in force.
    pub async fn lift_suspension(&self, station: &str, q: &LiftRequest) -> Result<Suspension, ArchiveError> {
        q.check()?;
        let (owned_q, owned_station) = (q.clone(), station.to_string());
        self.idempotent(station, "lift", &q.request_id, q, move |tx| {
            let (q, station) = (owned_q.clone(), owned_station.clone());
            Box::pin(async move {
                let (card, latest) = match card_and_loss(tx, &q.card_number).await? {
                    Ok(found) => found,
                    Err(r) => return Ok(Err(r)),
                };
                let lifted = match archive::may_lift(
                    &card,
                    &q,
                    latest.as_ref().map(|(s, e)| (s, e.as_deref())),
                    now(),
                ) {
                    Ok(s) => s,
                    Err(r) => return Ok(Err(r)),
                };
                end_suspension(tx, &q.card_number, "lifted", &format!("{station}/{}", q.operator)).await?;
                Ok(Ok(lifted))
            })
        })
        .await
    }
}
