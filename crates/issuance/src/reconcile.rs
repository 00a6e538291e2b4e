//! The daily reconciliation: the ledger, the local archive and the provincial archive tell the
//! same story of every card this station made. The ledger is replayed to a status per card
//! (its hash chain checked first), compared with the local `cards` table, and each holder is
//! looked up at the province, whose view is coarser (it knows a card is live or ended, not
//! whether it was handed over or activated), so there liveness and the card number are
//! compared. Anything that differs is listed with what to do; nothing is changed.

use std::collections::{BTreeMap, BTreeSet};

use archive::local::LocalArchive;
use archive::{ArchiveError, CardStatus, LedgerHead, ProvincialArchive};
use serde::Serialize;

/// A card whose three records disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The card.
    pub card_number: String,
    /// The holder, masked.
    pub holder: String,
    /// What the ledger's events make of it (None: no event names it).
    pub ledger: Option<CardStatus>,
    /// The local archive's status (None: not in the local archive).
    pub local: Option<CardStatus>,
    /// The province's status (None: unknown there).
    pub provincial: Option<CardStatus>,
    /// What to do, for the supervisor.
    pub action: String,
}

/// The result of a reconciliation.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    /// Ledger entries checked (the chain holds).
    pub ledger_entries: usize,
    /// Cards compared.
    pub cards: usize,
    /// Holders looked up at the province.
    pub holders: usize,
    /// Live cards among them.
    pub live: usize,
    /// What differs.
    pub mismatches: Vec<Mismatch>,
    /// Cards in their holders' hands whose hand-over has no signature in the ledger yet (an
    /// instant card's receiver signs on the counter's screen after the job): not a difference
    /// between the records, but an open item until the signature is taken.
    pub unsigned: Vec<String>,
    /// Spoiled cards whose place is unknown (a jam, a card taken out by hand): the province
    /// holds their numbers until the card is found (`station account-card CARD`).
    pub unaccounted: Vec<String>,
    /// The ledger head the province holds for this station (the last one anchored).
    pub anchored: Option<LedgerHead>,
    /// How the ledger departs from that head: cut short before it, or rewritten at it.
    pub ledger_problem: Option<String>,
    /// Cards of this station under a temporary loss taken at another station (its holder at
    /// that counter): not a difference, the ledger here has no line for it; neither activated
    /// nor handed over until lifted or lapsed.
    #[serde(default)]
    pub lost_elsewhere: Vec<String>,
}

impl Reconciliation {
    /// True when ledger = local archive = provincial archive, and the ledger still holds the
    /// head the province anchored.
    pub fn agrees(&self) -> bool {
        self.mismatches.is_empty() && self.ledger_problem.is_none()
    }
}

/// How `ledger` departs from the head the province anchored for it: `None` when it holds that
/// entry with that hash. The chain itself is checked before ([`LocalArchive::verify_ledger`]):
/// a ledger whose chain was recomputed after a change passes that check, not this one.
/// `keyed`: the station has its ledger key, so every entry after the anchored head carries a
/// MAC (the check before holds each one to the key): entries there without one were rewritten
/// with their MACs taken away, which the chain alone would not show.
pub fn anchor_problem(
    ledger: &[archive::local::LedgerEntry],
    anchored: &LedgerHead,
    keyed: bool,
) -> Option<String> {
    if let Some(e) = ledger.iter().find(|e| keyed && e.seq > anchored.seq && e.mac.is_none()) {
        return Some(format!(
            "ledger entry {} has no MAC, though the station has its ledger key and the province anchored entry {}: \
             the entries after it were rewritten without the key; stop issuing and call the province's auditors",
            e.seq, anchored.seq
        ));
    }
    match ledger.iter().find(|e| e.seq == anchored.seq) {
        None => Some(format!(
            "the ledger ends at entry {} but the province holds entry {} of it (anchored): the ledger was cut short; restore it from its backup, stop issuing and call the province's auditors",
            ledger.last().map_or(0, |e| e.seq),
            anchored.seq
        )),
        Some(e) if e.hash != anchored.hash => Some(format!(
            "ledger entry {} is not the one anchored at the province (hash {} there, {} here): the ledger was rewritten; stop issuing and call the province's auditors",
            anchored.seq, anchored.hash, e.hash
        )),
        Some(e) if anchored.mac.is_some() && e.mac != anchored.mac => Some(format!(
            "ledger entry {} has not the MAC anchored at the province with it: its MAC was taken away or replaced; \
             stop issuing and call the province's auditors",
            anchored.seq
        )),
        Some(_) => None,
    }
}

/// Anchors the ledger's head at the province (request id: the station and the entry, so a
/// retry is the same request). Nothing to anchor in an empty ledger.
pub fn anchor(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
) -> Result<Option<LedgerHead>, ArchiveError> {
    let Some(head) = local.ledger_head()? else { return Ok(None) };
    let request =
        archive::AnchorRequest { request_id: format!("{}:anchor-{}", local.station(), head.seq), head };
    province.anchor_ledger(&request).map(Some)
}

/// The status a ledger event leaves a card in, and which card it names (a re-issue's
/// `card.stopped` is written on the new card's job and names the old card in its detail).
fn ledger_effect(
    event: &str,
    card: Option<&str>,
    detail: &serde_json::Value,
) -> Option<(String, CardStatus)> {
    let status = match event {
        "card.made" | crate::stock::CARD_RECEIVED => CardStatus::Made,
        "card.handed_over" => CardStatus::Issued,
        "card.activated" => CardStatus::Active,
        "card.stopped" => CardStatus::Stopped,
        "card.recalled" => CardStatus::Recalled,
        "card.cancelled" => CardStatus::Cancelled,
        // A re-issue given up: the old card live again, as it was before the stop.
        crate::CARD_RESTORED => CardStatus::parse(detail["status"].as_str().unwrap_or_default())?,
        _ => return None,
    };
    let named = if event == "card.stopped" { detail["card_number"].as_str().or(card) } else { card };
    named.map(|c| (c.to_string(), status))
}

/// Compares the three records; fails only when one cannot be read (or the ledger's chain is
/// broken, which is itself the finding: nothing else can be trusted then).
pub fn reconcile(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
) -> Result<Reconciliation, ArchiveError> {
    let ledger_entries = local.verify_ledger()?;
    let anchored = province.ledger_anchor()?;
    let mut by_ledger: BTreeMap<String, CardStatus> = BTreeMap::new();
    let mut signed = BTreeSet::new();
    let ledger = local.ledger()?;
    for e in &ledger {
        if crate::lifecycle::is_signed_handover(e) {
            signed.extend(e.card_number.clone());
        }
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
        if let Some((card, status)) = ledger_effect(&e.event, e.card_number.as_deref(), &detail) {
            by_ledger.insert(card, status);
        }
    }
    let cards = local.cards(None)?;
    let mut mismatches = Vec::new();
    // Each holder's cards of this station, grouped once.
    let mut holders: BTreeMap<&str, Vec<&archive::local::CardRow>> = BTreeMap::new();
    let mut live = 0;
    let mut seen = BTreeSet::new();
    for row in &cards {
        seen.insert(row.card_number.clone());
        holders.entry(row.ssn.as_str()).or_default().push(row);
        let ledger = by_ledger.get(&row.card_number).copied();
        let failed = row.status == CardStatus::Failed;
        if ledger != Some(row.status) && !(failed && ledger.is_none()) {
            mismatches.push(Mismatch {
                card_number: row.card_number.clone(),
                holder: applicant::mask_id(&row.ssn),
                ledger,
                local: Some(row.status),
                provincial: None,
                action: "the local archive changed without a ledger entry: find who changed it (the ledger is the record) and restore the status the ledger shows".into(),
            });
        }
    }
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut lost_elsewhere = Vec::new();
    for (ssn, rows) in &holders {
        let person = province.lookup(ssn)?;
        // Temporary losses: the ledger's (this station's reports) and the province's agree.
        for row in rows.iter().filter(|r| r.status.is_live()) {
            let here = crate::losses::loss_in_force(&ledger, &row.card_number, now);
            let there = person.suspensions.iter().find(|s| s.card_number == row.card_number);
            let action = match (here, there) {
                (None, Some(s)) if s.station != local.station() => {
                    lost_elsewhere.push(row.card_number.clone());
                    None
                }
                (None, Some(_)) => Some("the province suspended the card at this station's report, the ledger has no line for it: report the loss again with the same request id, or lift it with the holder"),
                (Some(_), None) => Some("the ledger has a temporary loss in force the province does not: report the loss again (or, if the holder lifted it, record the lift)"),
                _ => None,
            };
            if let Some(action) = action {
                mismatches.push(Mismatch {
                    card_number: row.card_number.clone(),
                    holder: applicant::mask_id(ssn),
                    ledger: by_ledger.get(&row.card_number).copied(),
                    local: Some(row.status),
                    provincial: person
                        .cards
                        .iter()
                        .find(|c| c.card_number == row.card_number)
                        .map(|c| c.status),
                    action: action.into(),
                });
            }
        }
        // Every card of this station's archive is the province's record of this holder and
        // station: a number the province gave someone else means an answer went astray.
        for row in rows {
            let held =
                person.cards.iter().any(|c| c.card_number == row.card_number && c.station == local.station());
            if !held {
                mismatches.push(Mismatch {
                    card_number: row.card_number.clone(),
                    holder: applicant::mask_id(ssn),
                    ledger: by_ledger.get(&row.card_number).copied(),
                    local: Some(row.status),
                    provincial: None,
                    action: "the province does not record this card for this holder and station: do not hand it over; report it to the province with the job's request ids".into(),
                });
            }
        }
        for card in person.cards.iter().filter(|c| c.station == local.station()) {
            let local_status = cards.iter().find(|r| r.card_number == card.card_number).map(|r| r.status);
            if card.status.is_live() {
                live += 1;
            }
            let agree = local_status.is_some_and(|l| l.is_live() == card.status.is_live());
            if !agree {
                let action = match local_status {
                    None => "the province holds a card of this station that the station does not: look for an unfinished job and resume it (station serve does at start)",
                    Some(l) if l.is_live() => "the province ended a card that is live here: stop it here too and tell the holder",
                    Some(CardStatus::Recalled) => "recalled here, still live at the province: recall it again (`station recall CARD`), which registers the recall there",
                    Some(_) => "ended here, still live at the province: stop it at the province",
                };
                mismatches.push(Mismatch {
                    card_number: card.card_number.clone(),
                    holder: applicant::mask_id(ssn),
                    ledger: by_ledger.get(&card.card_number).copied(),
                    local: local_status,
                    provincial: Some(card.status),
                    action: action.into(),
                });
            }
        }
    }
    for (card, status) in &by_ledger {
        if !seen.contains(card) && status.is_live() {
            mismatches.push(Mismatch {
                card_number: card.clone(),
                holder: String::new(),
                ledger: Some(*status),
                local: None,
                provincial: None,
                action: "the ledger names a live card the local archive lacks: restore the archive from its backup".into(),
            });
        }
    }
    let unsigned = cards
        .iter()
        .filter(|c| {
            matches!(c.status, CardStatus::Issued | CardStatus::Active) && !signed.contains(&c.card_number)
        })
        .map(|c| c.card_number.clone())
        .collect();
    let unaccounted = crate::lifecycle::unaccounted_in(&ledger).into_iter().map(|(card, _)| card).collect();
    let keyed = local.ledger_key().is_some();
    let ledger_problem = anchored.as_ref().and_then(|h| anchor_problem(&ledger, h, keyed));
    Ok(Reconciliation {
        anchored,
        ledger_problem,
        ledger_entries,
        cards: cards.len(),
        holders: holders.len(),
        live,
        mismatches,
        unsigned,
        unaccounted,
        lost_elsewhere,
    })
}

#[cfg(test)]
mod tests {
    use archive::SqliteProvincial;

    use super::*;

    /// The ledger against the head anchored at the province: the same entry passes, a ledger
    /// cut before it or rewritten at it (its chain recomputed, so the chain check alone passes)
    /// is named with what to do; anchoring is idempotent and only moves forward.
    #[test]
    fn a_ledger_cut_short_or_rewritten_after_its_anchor_is_found() {
        let dir = tempfile::tempdir().expect("tmp");
        let local = LocalArchive::open_unencrypted(dir.path().join("station.db"), "S-1").expect("local");
        let province = SqliteProvincial::open(dir.path().join("province.db"), "S-1", 'S').expect("province");
        assert_eq!(anchor(&local, &province).expect("nothing to anchor"), None);
        for i in 0..3 {
            local
                .append_ledger("op", None, None, "test.event", &serde_json::json!({"i": i}))
                .expect("ledger");
        }
        let head = anchor(&local, &province).expect("anchored").expect("a head");
        assert_eq!(head.seq, 3);
        assert_eq!(anchor(&local, &province).expect("again").as_ref(), Some(&head), "the same request");
        let ledger = local.ledger().expect("ledger");
        assert_eq!(anchor_problem(&ledger, &head, false), None);
        let cut = anchor_problem(&ledger[..2], &head, false).expect("cut short");
        assert!(cut.contains("ends at entry 2") && cut.contains("cut short"), "{cut}");
        let mut rewritten = ledger.clone();
        rewritten[2].hash = "00".repeat(32);
        let said = anchor_problem(&rewritten, &head, false).expect("rewritten");
        assert!(said.contains("entry 3 is not the one anchored") && said.contains("rewritten"), "{said}");
        // With the station's key every entry after the anchored head carries a MAC: entries
        // there without one (rewritten, their MACs taken away) are named.
        let mut stripped = ledger.clone();
        stripped.push(archive::local::LedgerEntry { seq: 4, mac: None, ..ledger[2].clone() });
        assert_eq!(anchor_problem(&stripped, &head, false), None, "a station without its key cannot tell");
        let said = anchor_problem(&stripped, &head, true).expect("no MAC after the anchor");
        assert!(said.contains("entry 4 has no MAC") && said.contains("anchored entry 3"), "{said}");
        stripped[3].mac = Some("00".repeat(16));
        assert_eq!(anchor_problem(&stripped, &head, true), None);
        // A head anchored with its MAC: the entry there must still carry that MAC.
        let keyed = LedgerHead { mac: Some("5A".repeat(16)), ..head.clone() };
        let said = anchor_problem(&ledger, &keyed, false).expect("the anchored MAC is gone");
        assert!(said.contains("entry 3 has not the MAC anchored"), "{said}");
        let mut kept = ledger.clone();
        kept[2].mac = keyed.mac.clone();
        assert_eq!(anchor_problem(&kept, &keyed, false), None);
        let r = reconcile(&local, &province).expect("reconcile");
        assert!(r.agrees() && r.anchored == Some(head), "{r:?}");
    }
}
