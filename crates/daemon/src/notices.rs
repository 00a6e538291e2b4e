//! SMS pickup notices (issue 23 item 5): when a stock card reaches the agent site where its
//! holder collects it (`POST /api/stock/move` with `to_site`), the holder's pickup notice
//! (`sms::PickupNotice`: Chinese, the site, its hours and address, what to bring, the holder's
//! name masked and at most the last four characters of the ID number) is journalled in the
//! outbox (`sms-outbox.jsonl` in the data directory, one entry per card and site,
//! `MessageKey::pickup`), and a worker sends it: right after the move, then every 30 seconds
//! (or `[sms] retry_seconds`, if shorter) until it is taken or marked failed. The gateway keeps one message per key, so a retry after
//! a lost answer, or the worker after a restart, never sends twice.
//!
//! The holder's site is the one the application names; a card whose application names none
//! (taken in from the card-making centre, or made here for later collection) is for the site it
//! was sent to. The mobile number is the application's contact (cards made here); a card with
//! none is listed on the supervisor's page, "no phone: tell the holder another way", as are
//! the messages that failed and a gateway that stopped the sending (`GET /api/sms/notices`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archive::local::LocalArchive;
use archive::CardStatus;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sms::{
    FileJournal, Journal, MessageKey, Outbox, PhoneNumber, PickupNotice, RetryPolicy, SmsGateway, Status,
};

use crate::state::{ApiError, AppState, Authed};

/// The outbox's file in the data directory.
pub const OUTBOX_FILE: &str = "sms-outbox.jsonl";

/// How often the worker looks for messages due, at most (sooner when the first retry wait of
/// `[sms] retry_seconds` is shorter).
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

/// The station's SMS side: the outbox and its gateway, the SMS signature, the worker's wake-up.
pub struct Notices {
    outbox: Outbox<FileJournal, Box<dyn SmsGateway>>,
    signature: String,
    wake: tokio::sync::Notify,
    /// Why the last flush stopped (the configuration to fix), if it did.
    stopped: Mutex<Option<String>>,
    /// How often the worker looks for messages due.
    flush_every: Duration,
}

/// What a card's arrival at a site did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// The notice is in the outbox (or was already: never twice).
    Queued,
    /// The holder collects elsewhere (the application names another site): nothing sent.
    NotTheHoldersSite(String),
    /// No mobile number for the holder: tell them another way.
    NoPhone,
    /// The notice could not be made or journalled: why.
    NotQueued(String),
}

impl Arrival {
    /// What the move's answer says of it.
    pub fn word(&self) -> String {
        match self {
            Arrival::Queued => "SMS queued".into(),
            Arrival::NotTheHoldersSite(site) => format!("no SMS: the holder collects at site {site}"),
            Arrival::NoPhone => NO_PHONE.into(),
            Arrival::NotQueued(why) => format!("SMS not queued ({why}): tell the holder another way"),
        }
    }
}

/// The word for a holder without a mobile number.
pub const NO_PHONE: &str = "no phone: tell the holder another way";

impl Notices {
    /// The outbox in `data_dir` over `gateway`, signing with `signature`, retrying by `retry`.
    pub fn open(
        data_dir: &Path,
        gateway: Box<dyn SmsGateway>,
        signature: &str,
        retry: RetryPolicy,
    ) -> Result<Notices, String> {
        let journal = FileJournal::open(&data_dir.join(OUTBOX_FILE)).map_err(|e| e.to_string())?;
        let first_retry = Duration::from_secs(u64::try_from(retry.backoff_seconds.max(1)).unwrap_or(1));
        Ok(Notices {
            outbox: Outbox::new(journal, gateway, retry),
            signature: signature.to_string(),
            wake: tokio::sync::Notify::new(),
            stopped: Mutex::new(None),
            flush_every: FLUSH_EVERY.min(first_retry),
        })
    }

    /// The outbox from the `[sms]` configuration (`simulators`: plain http to a simulator is
    /// allowed, a build with the simulators only).
    pub fn from_config(
        config: &sms::GatewayConfig,
        simulators: bool,
        data_dir: &Path,
    ) -> Result<Notices, String> {
        let gateway = config.gateway(simulators).map_err(|e| format!("[sms]: {e}"))?;
        Notices::open(data_dir, Box::new(gateway), &config.signature, config.retry_policy())
    }

    /// Journals the pickup notice of `card`, which has just reached `site`.
    pub fn card_arrived(&self, local: &LocalArchive, card: &str, site: &sms::Site) -> Arrival {
        match pickup(local, card, site) {
            Err(a) => a,
            Ok(None) => Arrival::NoPhone,
            Ok(Some((key, to, holder_name, holder_id))) => {
                let notice = PickupNotice {
                    signature: &self.signature,
                    holder_name: &holder_name,
                    holder_id: holder_id.as_ref(),
                    site,
                };
                let message = match notice.message(key, to) {
                    Ok(m) => m,
                    Err(e) => return Arrival::NotQueued(e.to_string()),
                };
                match self.outbox.submit(&message, unix_now()) {
                    Ok(_) => Arrival::Queued,
                    Err(e) => {
                        tracing::warn!(card, site = %site.id, error = %e, "pickup notice not journalled");
                        Arrival::NotQueued(e.to_string())
                    }
                }
            }
        }
    }

    /// Wakes the worker (a notice was queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends what is due; keeps why the sending stopped, if it did.
    pub fn flush(&self) {
        let stopped = match self.outbox.flush(unix_now()) {
            Ok(report) => {
                if !report.sent.is_empty() || !report.failed.is_empty() {
                    tracing::info!(
                        sent = report.sent.len(),
                        failed = report.failed.len(),
                        "SMS outbox flushed"
                    );
                }
                report.stopped.map(|e| format!("{e}: fix [sms] in station.toml and restart the station"))
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = &stopped {
            tracing::warn!(reason = %why, "SMS sending stopped");
        }
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = stopped;
    }

    /// The journal's entries.
    pub fn entries(&self) -> Result<Vec<sms::Entry>, String> {
        self.outbox.journal().entries().map_err(|e| e.to_string())
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The pickup message's key, recipient and holder for `card` at `site`; `None`: no mobile
/// number; `Err`: no notice for it.
#[allow(clippy::type_complexity)]
fn pickup(
    local: &LocalArchive,
    card: &str,
    site: &sms::Site,
) -> Result<Option<(MessageKey, PhoneNumber, String, Option<applicant::ResidentId>)>, Arrival> {
    let fail = |e: &dyn std::fmt::Display| Arrival::NotQueued(e.to_string());
    let row =
        local.card(card).map_err(|e| fail(&e))?.ok_or_else(|| fail(&"not in this station's records"))?;
    if let Some(other) = local.application_site(row.application_id).map_err(|e| fail(&e))? {
        if other != site.id {
            return Err(Arrival::NotTheHoldersSite(other));
        }
    }
    let number = applicant::CardNumber::parse(card).map_err(|e| fail(&e))?;
    let key = MessageKey::pickup(&number, &site.id).map_err(|e| fail(&e))?;
    let data: Value = local
        .application_data(row.application_id)
        .map_err(|e| fail(&e))?
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    let Some(to) = data["contact"]["mobile"].as_str().and_then(|m| PhoneNumber::parse(m).ok()) else {
        return Ok(None);
    };
    let holder_name = data["holder"]["name"].as_str().map(str::to_string).unwrap_or_else(|| row.name.clone());
    let holder_id = applicant::ResidentId::parse(&row.ssn, applicant::days::today()).ok().map(|(id, _)| id);
    Ok(Some((key, to, holder_name, holder_id)))
}

/// The cards waiting at their holder's site (`made`, in stock at a site the application does
/// not contradict) whose pickup key is not among `keys` (the outbox's): (card, site id).
fn waiting_without_notice(
    local: &LocalArchive,
    keys: &std::collections::HashSet<String>,
) -> Result<Vec<(archive::local::CardRow, String)>, String> {
    let ledger = local.ledger().map_err(|e| e.to_string())?;
    let mut waiting = Vec::new();
    for card in local.cards(Some(CardStatus::Made)).map_err(|e| e.to_string())? {
        let Some(at) = issuance::stock::storage_of(&ledger, &card.card_number) else { continue };
        let Some(site) = at["site"].as_str().map(str::to_string) else { continue };
        let named = local.application_site(card.application_id).map_err(|e| e.to_string())?;
        if named.as_deref().is_some_and(|n| n != site) {
            continue;
        }
        let key = applicant::CardNumber::parse(&card.card_number)
            .ok()
            .and_then(|n| MessageKey::pickup(&n, &site).ok());
        if key.is_some_and(|k| keys.contains(k.as_str())) {
            continue;
        }
        waiting.push((card, site));
    }
    Ok(waiting)
}

impl Notices {
    /// Journals the notice of every card that reached its holder's site with none in the
    /// outbox: a stop between a move's commit and its notice (a power cut) loses no message.
    /// Cards without a phone stay on the supervisor's list. Returns how many were journalled.
    pub fn catch_up(&self, local: &LocalArchive, sites: &[sms::Site]) -> Result<usize, String> {
        let keys = self.entries()?.iter().map(|e| e.message.key().as_str().to_string()).collect();
        let mut queued = 0;
        for (card, site_id) in waiting_without_notice(local, &keys)? {
            let Some(site) = sites.iter().find(|s| s.id == site_id) else { continue };
            match self.card_arrived(local, &card.card_number, site) {
                Arrival::Queued => queued += 1,
                Arrival::NotQueued(why) => {
                    tracing::warn!(card = %card.card_number, site = %site_id, reason = %why, "pickup notice not journalled")
                }
                Arrival::NoPhone | Arrival::NotTheHoldersSite(_) => {}
            }
        }
        Ok(queued)
    }
}

/// Runs the sending: at start (what a stop left pending), after each wake-up, every
/// [`FLUSH_EVERY`] or first retry wait; the blocking gateway calls off the async threads.
pub fn spawn_worker(notices: Arc<Notices>) {
    tokio::spawn(async move {
        loop {
            let n = notices.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || n.flush()).await {
                tracing::error!(error = %e, "SMS flush panicked");
            }
            tokio::select! {
                () = notices.wake.notified() => {}
                () = tokio::time::sleep(notices.flush_every) => {}
            }
        }
    });
}

/// The SMS routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/sms/notices", get(list))
}

/// The notices that need a person: failed, pending with an error, the sending stopped, and the
/// cards at their holder's site whose holder has no mobile number.
async fn list(State(s): State<AppState>, Authed(_): Authed) -> Result<Json<Value>, ApiError> {
    let state = s.clone();
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, String> {
        let local = state.local();
        let notices = state.inner.notices.as_deref();
        let entries = match notices {
            Some(n) => n.entries()?,
            None => Vec::new(),
        };
        let keys: std::collections::HashSet<String> =
            entries.iter().map(|e| e.message.key().as_str().to_string()).collect();
        let mut messages = Vec::new();
        let mut sent = 0;
        for e in &entries {
            let (state, why) = match &e.status {
                Status::Sent { .. } => {
                    sent += 1;
                    continue;
                }
                Status::Pending { last_error: None, .. } => ("pending", String::new()),
                Status::Pending { last_error: Some(err), attempts, .. } => {
                    ("retrying", format!("{attempts} attempts, last: {err}"))
                }
                Status::Failed { reason, .. } => ("failed", reason.clone()),
            };
            messages.push(json!({"key": e.message.key().as_str(), "to": e.message.to().masked(),
                "state": state, "reason": why, "queued_at": e.queued_at}));
        }
        // Cards waiting at a site with no notice journalled.
        let mut no_phone = Vec::new();
        for (card, site) in waiting_without_notice(local, &keys)? {
            let why = if notices.is_none() {
                "no SMS gateway ([sms]): tell the holder another way"
            } else {
                NO_PHONE
            };
            no_phone.push(json!({"card_number": card.card_number, "site": site,
                "holder": sms::mask_name(&card.name), "reason": why}));
        }
        let stopped = notices.and_then(|n| n.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone());
        Ok(json!({"configured": notices.is_some(), "stopped": stopped, "sent": sent,
            "messages": messages, "no_phone": no_phone}))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(answer))
}
