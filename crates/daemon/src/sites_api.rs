//! Agent sites (代办网点) and their 15-working-day limit: an application taken for a site must
//! have its card at the site (moved there by `station stock move --to-site`) within 15 working
//! days of the day it was taken (seed 003, FLOW A). `GET /api/sites/overdue[?on=YYYY-MM-DD]`
//! (supervisors and auditors) lists, per site, the applications whose card is not there yet
//! and whose deadline has passed, with the deadline and the working days late; an application
//! the holiday calendar cannot judge (a year without its State Council notice) is listed as
//! such with the notice to add, never guessed. Holders are shown masked. `GET /api/sites`
//! lists the configured sites, for the application form's choice of where the holder collects
//! and the supervisor's moves.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use applicant::{days, Date};
use archive::local::{LedgerEntry, SiteApplication};
use workdays::Calendar;

use crate::state::{ApiError, AppState, Authed};

/// Working days from the application to the card at its site.
pub const LIMIT_WORKING_DAYS: u32 = 15;

/// The routes of the agent sites.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sites", get(sites_route))
        .route("/api/sites/overdue", get(overdue_route))
        .route("/api/stats", get(stats_route))
}

/// The agent sites of `[[sites]]`, in configuration order (none: the station takes no
/// application for a site).
async fn sites_route(State(s): State<AppState>, Authed(_): Authed) -> Json<serde_json::Value> {
    Json(serde_json::json!({"sites": s.inner.sites}))
}

/// An application past its limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overdue {
    /// The application.
    pub application_id: i64,
    /// The holder, masked (`张*`).
    pub holder: String,
    /// Its card, once made.
    pub card_number: Option<String>,
    /// Where it stands (`open` ... `made`).
    pub status: String,
    /// The day it was taken (China time).
    pub applied: String,
    /// The 15th working day after it.
    pub deadline: String,
    /// Working days past the deadline on the day judged.
    pub working_days_late: u32,
}

/// An application the calendar cannot judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotJudged {
    /// The application.
    pub application_id: i64,
    /// The day it was taken.
    pub applied: String,
    /// Why (the year whose notice is missing, and what to do).
    pub reason: String,
}

/// One site's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteOverdue {
    /// The site's id (`[[sites]]`).
    pub site: String,
    /// Its name (the id again for a site no longer configured).
    pub name: String,
    /// Applications taken for it and not yet delivered (any deadline).
    pub waiting: usize,
    /// Those past their deadline, oldest first.
    pub overdue: Vec<Overdue>,
    /// Those the calendar cannot judge.
    pub not_judged: Vec<NotJudged>,
}

/// The day of a Unix time in China.
fn date_of(unix_seconds: i64) -> Option<Date> {
    days::date(days::day_of_unix(unix_seconds))
}

/// The day `card` first reached `site` by a `card.moved` line, if it did.
fn arrived(ledger: &[LedgerEntry], card: &str, site: &str) -> Option<i64> {
    ledger
        .iter()
        .filter(|e| e.event == issuance::stock::CARD_MOVED && e.card_number.as_deref() == Some(card))
        .find(|e| {
            serde_json::from_str::<serde_json::Value>(&e.detail)
                .is_ok_and(|d| d["site"].as_str() == Some(site))
        })
        .map(|e| e.at)
}

/// The overdue applications per site on `on`: every configured site (in configuration order),
/// then any site an application names that is no longer configured.
pub fn overdue(
    applications: &[SiteApplication],
    ledger: &[LedgerEntry],
    sites: &[sms::Site],
    calendar: &Calendar,
    on: Date,
) -> Vec<SiteOverdue> {
    let mut out: Vec<SiteOverdue> = sites
        .iter()
        .map(|s| SiteOverdue {
            site: s.id.clone(),
            name: s.name.clone(),
            waiting: 0,
            overdue: Vec::new(),
            not_judged: Vec::new(),
        })
        .collect();
    for a in applications {
        // Handed over (at the station or the site): nothing is owed any more.
        if a.status == "issued" {
            continue;
        }
        if a.card_number.as_deref().is_some_and(|card| arrived(ledger, card, &a.site).is_some()) {
            continue;
        }
        let i = match out.iter().position(|s| s.site == a.site) {
            Some(i) => i,
            None => {
                out.push(SiteOverdue {
                    site: a.site.clone(),
                    name: a.site.clone(),
                    waiting: 0,
                    overdue: Vec::new(),
                    not_judged: Vec::new(),
                });
                out.len() - 1
            }
        };
        let entry = &mut out[i];
        entry.waiting += 1;
        let Some(applied) = date_of(a.created_at) else { continue };
        let judged = calendar.add_working_days(applied, LIMIT_WORKING_DAYS).and_then(|deadline| {
            if on <= deadline {
                return Ok(None);
            }
            calendar.working_days_between(deadline, on).map(|late| Some((deadline, late)))
        });
        match judged {
            Ok(None) | Ok(Some((_, 0))) => {}
            Ok(Some((deadline, late))) => entry.overdue.push(Overdue {
                application_id: a.application_id,
                holder: sms::mask_name(&a.name),
                card_number: a.card_number.clone(),
                status: a.status.clone(),
                applied: applied.to_string(),
                deadline: deadline.to_string(),
                working_days_late: late,
            }),
            Err(e) => entry.not_judged.push(NotJudged {
                application_id: a.application_id,
                applied: applied.to_string(),
                reason: e.to_string(),
            }),
        }
    }
    out
}

#[derive(Deserialize)]
struct OverdueQuery {
    /// The day to judge on (`YYYY-MM-DD`); default today in China.
    #[serde(default)]
    on: Option<String>,
}

async fn overdue_route(
    State(s): State<AppState>,
    Authed(_): Authed,
    Query(q): Query<OverdueQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let on = match q.on.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => days::today(),
        Some(text) => Date::parse(text).map_err(|e| {
            ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("on={text:?}: {e} (write YYYY-MM-DD)"))
        })?,
    };
    let local = s.local().clone();
    let state = s.clone();
    let sites = tokio::task::spawn_blocking(move || -> Result<Vec<SiteOverdue>, archive::ArchiveError> {
        let applications = local.site_applications()?;
        let ledger = local.ledger()?;
        Ok(overdue(&applications, &ledger, &state.inner.sites, &state.inner.calendar, on))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(serde_json::json!({
        "on": on.to_string(),
        "limit_working_days": LIMIT_WORKING_DAYS,
        "calendar_years": calendar_years(&s),
        "sites": sites,
    })))
}

#[derive(Deserialize)]
struct StatsQuery {
    /// The first day (`YYYY-MM-DD`), China time; default: the ledger's first.
    #[serde(default)]
    from: Option<String>,
    /// The last day, included; default: today. Overdue applications are judged on it.
    #[serde(default)]
    to: Option<String>,
    /// Days after which a card in stock or not activated is dormant (as `/api/cards/dormant`).
    #[serde(default = "default_dormant_days")]
    dormant_days: i64,
}

fn default_dormant_days() -> i64 {
    90
}

fn day_param(name: &str, value: Option<&str>) -> Result<Option<Date>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => Date::parse(text).map(Some).map_err(|e| {
            ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{name}={text:?}: {e} (write YYYY-MM-DD)"))
        }),
    }
}

/// The station's statistics for the bureau (supervisors and auditors): `GET
/// /api/stats?from=&to=[&dormant_days=]`. The ledger's cards made, received, handed over, put in
/// stock, activated and spoiled per day (China time), operator and agent site over the range;
/// per site now, the cards in stock, the dormant ones and the applications overdue on `to`
/// (default today); and the totals. No holder is named.
async fn stats_route(
    State(s): State<AppState>,
    Authed(_): Authed,
    Query(q): Query<StatsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let from = day_param("from", q.from.as_deref())?;
    let to = day_param("to", q.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("from={f} is after to={t}")));
        }
    }
    let on = to.unwrap_or_else(days::today);
    let local = s.local().clone();
    let state = s.clone();
    let dormant_days = q.dormant_days;
    let (stats, overdue) = tokio::task::spawn_blocking(move || -> Result<_, archive::ArchiveError> {
        let (f, t) = (from.map(|d| d.to_string()), to.map(|d| d.to_string()));
        let stats = local.stats(f.as_deref(), t.as_deref(), dormant_days)?;
        let applications = local.site_applications()?;
        let ledger = local.ledger()?;
        Ok((stats, overdue(&applications, &ledger, &state.inner.sites, &state.inner.calendar, on)))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    // Per site: the station's own cards first (site ""), then the configured sites, then any
    // other a card names.
    let mut sites: Vec<serde_json::Value> = vec![serde_json::json!({
        "site": "", "name": "", "in_stock": 0, "dormant": 0, "overdue": 0, "waiting": 0,
    })];
    for o in &overdue {
        sites.push(serde_json::json!({
            "site": o.site, "name": o.name, "in_stock": 0, "dormant": 0,
            "overdue": o.overdue.len(), "waiting": o.waiting,
        }));
    }
    for st in &stats.stock {
        let id = st.site.clone().unwrap_or_default();
        let i = match sites.iter().position(|v| v["site"] == id.as_str()) {
            Some(i) => i,
            None => {
                sites.push(serde_json::json!({
                    "site": id, "name": id, "in_stock": 0, "dormant": 0, "overdue": 0, "waiting": 0,
                }));
                sites.len() - 1
            }
        };
        sites[i]["in_stock"] = st.in_stock.into();
        sites[i]["dormant"] = st.dormant.into();
    }
    let sum = |f: fn(&archive::local::StatsRow) -> u64| stats.rows.iter().map(f).sum::<u64>();
    let site_sum = |k: &str| sites.iter().map(|v| v[k].as_u64().unwrap_or(0)).sum::<u64>();
    let totals = serde_json::json!({
        "made": sum(|r| r.made),
        "received": sum(|r| r.received),
        "issued": sum(|r| r.issued),
        "stocked": sum(|r| r.stocked),
        "activated": sum(|r| r.activated),
        "spoiled": sum(|r| r.spoiled),
        "in_stock": site_sum("in_stock"),
        "dormant": site_sum("dormant"),
        "overdue": site_sum("overdue"),
    });
    Ok(Json(serde_json::json!({
        "from": from.map(|d| d.to_string()),
        "to": to.map(|d| d.to_string()),
        "overdue_on": on.to_string(),
        "dormant_days": dormant_days,
        "rows": stats.rows,
        "sites": sites,
        "totals": totals,
    })))
}

/// The years the calendar answers for.
fn calendar_years(s: &AppState) -> Vec<u16> {
    s.inner.calendar.notices().map(|n| n.year).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: &str) -> sms::Site {
        sms::Site {
            id: id.into(),
            name: format!("{id}镇便民服务中心"),
            township: "龙街镇".into(),
            hours: "周一至周五 9:00-17:00".into(),
            address: "镇政府一楼".into(),
            phone: "0878-6221234".into(),
        }
    }

    fn app(id: i64, site: &str, applied: &str, card: Option<&str>, status: &str) -> SiteApplication {
        let d = Date::parse(applied).expect("date");
        SiteApplication {
            application_id: id,
            site: site.into(),
            status: status.into(),
            card_number: card.map(str::to_string),
            // Noon in China on that day.
            created_at: i64::from(days::days(d)) * 86_400 + 4 * 3600,
            name: "张三".into(),
            data: "{}".into(),
        }
    }

    fn moved(card: &str, site: &str, on: &str) -> LedgerEntry {
        let d = Date::parse(on).expect("date");
        LedgerEntry {
            seq: 1,
            at: i64::from(days::days(d)) * 86_400,
            station: "S".into(),
            operator: "sup".into(),
            application_id: None,
            card_number: Some(card.into()),
            event: issuance::stock::CARD_MOVED.into(),
            detail: serde_json::json!({"site": site, "place": "x", "keeper": "y"}).to_string(),
            prev_hash: String::new(),
            hash: String::new(),
            mac: None,
        }
    }

    #[test]
    fn the_limit_counts_working_days_over_the_national_day_and_never_guesses_a_year() {
        let cal = Calendar::builtin();
        let on = Date::parse("2025-10-27").expect("d");
        let apps = [
            // 26 Sep 2025: the 15th working day is 23 October (National Day in between).
            app(1, "T03", "2025-09-26", Some("B1"), "made"),
            // Delivered in time: not listed.
            app(2, "T03", "2025-09-26", Some("B2"), "made"),
            // Not due yet.
            app(3, "T03", "2025-10-20", None, "open"),
            // Issued: nothing owed.
            app(4, "T03", "2025-09-01", Some("B4"), "issued"),
            // A site no longer configured.
            app(5, "T09", "2025-09-26", None, "open"),
        ];
        let ledger = [moved("B2", "T03", "2025-10-10"), moved("B1", "T04", "2025-10-10")];
        let report = overdue(&apps, &ledger, &[site("T03"), site("T04")], &cal, on);
        assert_eq!(report.iter().map(|s| s.site.as_str()).collect::<Vec<_>>(), ["T03", "T04", "T09"]);
        let t03 = &report[0];
        assert_eq!(t03.waiting, 2);
        assert_eq!(t03.overdue.len(), 1, "{t03:?}");
        let o = &t03.overdue[0];
        assert_eq!((o.application_id, o.deadline.as_str()), (1, "2025-10-23"));
        // 24 and 27 October (a Friday and a Monday).
        assert_eq!(o.working_days_late, 2);
        assert_eq!(o.holder, "张*");
        assert_eq!(report[2].overdue.len(), 1);

        // A year without its notice is reported, not guessed.
        let late = [app(6, "T03", "2031-03-03", None, "open")];
        let report = overdue(&late, &[], &[site("T03")], &cal, Date::parse("2031-04-01").expect("d"));
        assert!(report[0].overdue.is_empty());
        assert_eq!(report[0].not_judged.len(), 1);
        assert!(report[0].not_judged[0].reason.contains("2031"), "{:?}", report[0].not_judged);
    }
}
