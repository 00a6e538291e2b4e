//! Cards made elsewhere and cards on the move (FLOW B step 4): the card-making centre's delivery
//! list is read ([`read_manifest`]: CSV in UTF-8 or GBK, or XLSX, with the roster's readers),
//! each card is checked with the province (delivered to this station, live, not taken in
//! before, the list's holder and chip the card's) and put in stock at a storage place with the
//! person who answers for it ([`receive`], ledger `card.received`). A stock card goes from one
//! storage place or agent site to another signed by both sides ([`move_card`], ledger
//! `card.moved`). Each card is all or nothing: a row that cannot stand is listed with its
//! reason and what to do, and changes nothing.

use std::collections::HashSet;

use archive::local::{LedgerRecord, LocalArchive, PersonRow};
use archive::{ArchiveError, CardStatus, ProvincialArchive, ReceiveRequest};
use roster::input::{normalize_header, TableSink};
use serde::Serialize;
use serde_json::json;

use crate::collection::Storage;
use crate::lifecycle::LifecycleError;

/// Ledger event of a card made elsewhere taken into stock.
pub const CARD_RECEIVED: &str = "card.received";
/// Ledger event of a stock card handed from one storage place or site to another.
pub const CARD_MOVED: &str = "card.moved";

/// One card of a delivery list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    /// The row as the operator sees it in the file (header = 1).
    pub row: u32,
    /// 社会保障卡号.
    pub card_number: String,
    /// The holder's resident ID number (never shown whole).
    pub id_number: String,
    /// The holder's name.
    pub name: String,
    /// 卡识别码 (hex).
    pub card_id: String,
    /// 批次号.
    pub batch: String,
    /// 箱号 / 盒号.
    pub box_no: String,
    /// Position in the box.
    pub position: String,
    /// The bank that prepared the card's financial account (开户银行), when the list says: its
    /// code (`ICBC`), PBOC code or name as the bank registry knows it.
    pub bank: String,
    /// The financial account on the card (金融账号), when the list says.
    pub account: String,
}

/// A row of the list that was not taken in: why, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    /// The row in the file (0: the file as a whole).
    pub row: u32,
    /// The card number as listed (may be empty).
    pub card_number: String,
    /// Why.
    pub reason: String,
    /// What to do.
    pub action: String,
}

/// A card taken in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// The row in the file.
    pub row: u32,
    /// The card.
    pub card_number: String,
    /// The holder, masked.
    pub holder: String,
    /// The holder's name.
    pub name: String,
    /// Where it is kept.
    pub place: String,
    /// Who answers for it.
    pub keeper: String,
}

/// What a delivery list did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReceiveReport {
    /// Cards now in stock.
    pub received: Vec<Received>,
    /// Rows not taken in, with reason and action.
    pub refused: Vec<RowProblem>,
}

/// The columns of a delivery list, as the centre names them (compared after the roster's
/// header normalisation).
const COLUMNS: [(&str, &[&str]); 9] = [
    ("card_number", &["社会保障卡号", "社保卡号", "卡号", "card_number"]),
    ("id_number", &["身份证号", "身份证号码", "公民身份号码", "社会保障号码", "证件号码", "id_number"]),
    ("name", &["姓名", "name"]),
    ("card_id", &["卡识别码", "卡片识别码", "card_id"]),
    ("batch", &["批次号", "批次", "batch"]),
    ("box", &["箱号", "盒号", "box"]),
    ("position", &["位置", "盒内位置", "序号", "position"]),
    ("bank", &["开户银行", "发卡银行", "合作银行", "bank"]),
    ("account", &["金融账号", "银行账号", "银行卡号", "account"]),
];

struct ManifestSink {
    at: [Option<usize>; 9],
    rows: Vec<ManifestRow>,
    problems: Vec<RowProblem>,
}

impl TableSink for ManifestSink {
    fn header(&mut self, headers: &[String]) -> Result<bool, roster::RosterError> {
        let norm: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
        for (i, (_, aliases)) in COLUMNS.iter().enumerate() {
            let wanted: Vec<String> = aliases.iter().map(|a| normalize_header(a)).collect();
            self.at[i] = norm.iter().position(|h| wanted.contains(h));
        }
        Ok(true)
    }

    fn row(&mut self, row: u32, cells: &[(String, bool)]) -> Result<bool, roster::RosterError> {
        let cell = |i: usize| {
            self.at[i].and_then(|c| cells.get(c)).map(|(t, _)| t.trim().to_string()).unwrap_or_default()
        };
        let as_number = self.at[1].and_then(|c| cells.get(c)).is_some_and(|(_, n)| *n);
        let r = ManifestRow {
            row,
            card_number: cell(0).to_ascii_uppercase(),
            id_number: cell(1).to_ascii_uppercase(),
            name: cell(2),
            card_id: cell(3),
            batch: cell(4),
            box_no: cell(5),
            position: cell(6),
            bank: cell(7),
            account: cell(8),
        };
        if [&r.card_number, &r.id_number, &r.name, &r.card_id].iter().all(|v| v.is_empty()) {
            return Ok(true);
        }
        let problem = |reason: &str, action: &str| RowProblem {
            row,
            card_number: r.card_number.clone(),
            reason: reason.into(),
            action: action.into(),
        };
        let bad = if applicant::CardNumber::parse(&r.card_number).is_err() {
            Some(problem(
                "the card number is missing or its check character is wrong",
                "compare the row with the card in hand and ask the card-making centre for a corrected list",
            ))
        } else if as_number {
            Some(problem(
                "the ID number was kept as a number by the spreadsheet (its last digits are lost)",
                "save the ID column as text and read the list again",
            ))
        } else if applicant::ResidentId::parse(&r.id_number, applicant::days::today()).is_err() {
            Some(problem(
                "the ID number is not a valid resident ID number",
                "compare the row with the card in hand and ask the card-making centre for a corrected list",
            ))
        } else if r.name.is_empty() {
            Some(problem("the holder's name is missing", "ask the card-making centre for a corrected list"))
        } else {
            None
        };
        match bad {
            Some(p) => self.problems.push(p),
            None => self.rows.push(r),
        }
        Ok(true)
    }
}

/// Reads a delivery list as uploaded (`name`: its file name; CSV in UTF-8 or GBK, or XLSX, by
/// its extension), in memory: a list of holders' ID numbers is never written out in the clear.
/// The rows that can be taken in, and those that cannot with the reason. A file without the
/// card number, ID number or name column is refused whole.
pub fn read_manifest(
    bytes: &[u8],
    name: &str,
) -> Result<(Vec<ManifestRow>, Vec<RowProblem>), LifecycleError> {
    let mut sink = ManifestSink { at: [None; 9], rows: Vec::new(), problems: Vec::new() };
    roster::input::read_table_bytes(bytes, name, None, &mut sink).map_err(|e| LifecycleError::State {
        card: "list".into(),
        message: format!("the delivery list cannot be read: {e}"),
    })?;
    let missing: Vec<&str> =
        [0, 1, 2].iter().filter(|&&i| sink.at[i].is_none()).map(|&i| COLUMNS[i].1[0]).collect();
    if !missing.is_empty() {
        return Err(LifecycleError::State {
            card: "list".into(),
            message: format!(
                "the delivery list has no {} column: it needs 社会保障卡号, 身份证号, 姓名 (and 卡识别码, 批次号, 箱号, 位置)",
                missing.join(", ")
            ),
        });
    }
    Ok((sink.rows, sink.problems))
}

/// What to do about a refusal of the province.
fn action_for(e: &ArchiveError) -> &'static str {
    use archive::Refusal::*;
    match e.refusal() {
        Some(NotDeliveredHere { .. }) => "the list's other rows stand",
        Some(AlreadyReceived { .. }) => "nothing to take in: find where the card is (station stock) before keeping a second one",
        Some(CardMismatch { .. }) => "keep the card apart; ask the card-making centre which record is right",
        Some(NotLive { .. }) => "the card is no longer live (stopped, cancelled): keep it apart for destruction and tell the centre",
        Some(NotFound { .. }) => "the province has no such card: check the number against the card in hand and ask the centre",
        Some(_) => "ask the card-making centre",
        None if e.is_retryable() => "read the same list again when the province answers: cards taken in are skipped",
        None => "read the same list again; if it fails again, call support",
    }
}

/// Takes the rows of a delivery list into stock at `storage`, each card all or nothing: the
/// province checks it and hands it to this station ([`ProvincialArchive::receive_card`], the
/// request id fixed by the station and the card, so reading a list again is harmless), then
/// the local archive records holder, card and the `card.received` line in one transaction.
/// `list` names the file for the ledger.
pub fn receive(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    operator: &str,
    storage: &Storage,
    list: &str,
    rows: Vec<ManifestRow>,
) -> ReceiveReport {
    let mut report = ReceiveReport::default();
    let mut seen = HashSet::new();
    for r in rows {
        let problem = |reason: String, action: &str| RowProblem {
            row: r.row,
            card_number: r.card_number.clone(),
            reason,
            action: action.into(),
        };
        if !seen.insert(r.card_number.clone()) {
            report.refused.push(problem(
                format!("card {} is listed twice", r.card_number),
                "take the card in once; ask the centre about the second row",
            ));
            continue;
        }
        match local.card(&r.card_number) {
            Ok(Some(row)) => {
                report.refused.push(problem(
                    format!("card {} is in this station's records already ({:?})", r.card_number, row.status),
                    "nothing to take in: the card was taken in (or made) before",
                ));
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                report.refused.push(problem(e.to_string(), action_for(&e)));
                continue;
            }
        }
        let request = ReceiveRequest {
            request_id: format!("{}:receive-{}", local.station(), r.card_number),
            card_number: r.card_number.clone(),
            ssn: r.id_number.clone(),
            card_id: r.card_id.clone(),
        };
        if let Err(e) = province.receive_card(&request) {
            report.refused.push(problem(e.to_string(), action_for(&e)));
            continue;
        }
        let person =
            PersonRow { ssn: r.id_number.clone(), name: r.name.clone(), sex: None, birth_date: None };
        let detail = json!({
            "place": storage.place, "keeper": storage.keeper, "list": list, "batch": r.batch, "box": r.box_no,
            "position": r.position, "holder": applicant::mask_id(&r.id_number),
        });
        let data =
            json!({"received": {"list": list, "batch": r.batch, "box": r.box_no, "position": r.position}});
        let record = LedgerRecord {
            operator,
            application_id: None,
            card_number: Some(&r.card_number),
            event: CARD_RECEIVED,
            detail: &detail,
        };
        let recorded =
            local.record_received_card(&person, &r.card_number, &r.card_id, &data, &record).and_then(|_| {
                // The card's bank and account, for its activation through that bank (RULE 8):
                // the bank as the registry knows it, by code, PBOC code or name.
                let registry = bank::Registry::builtin();
                let named = registry.bank(&r.bank).or_else(|| {
                    registry
                        .banks()
                        .iter()
                        .find(|b| !r.bank.is_empty() && (b.name == r.bank || b.short_name == r.bank))
                });
                let account = Some(r.account.as_str()).filter(|a| !a.is_empty());
                local.set_card_account(&r.card_number, named.map(|b| b.code.as_str()), account)
            });
        match recorded {
            Ok(()) => report.received.push(Received {
                row: r.row,
                card_number: r.card_number.clone(),
                holder: applicant::mask_id(&r.id_number),
                name: r.name.clone(),
                place: storage.place.clone(),
                keeper: storage.keeper.clone(),
            }),
            Err(e) => report.refused.push(problem(
                format!("the province handed the card to this station but it was not recorded here: {e}"),
                "read the same list again: the province answers the same and the card is recorded",
            )),
        }
    }
    report
}

/// Where a stock card goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The storage place there.
    pub place: String,
    /// The agent site, when the card goes to one (its id in `[[sites]]`).
    pub site: Option<String>,
}

/// The last storage of `card` in the ledger: where it is kept and by whom (`card.stocked`,
/// `card.received` or `card.moved`).
pub fn storage_of(entries: &[archive::local::LedgerEntry], card: &str) -> Option<serde_json::Value> {
    entries
        .iter()
        .rev()
        .find(|e| {
            [crate::lifecycle::CARD_STOCKED, CARD_RECEIVED, CARD_MOVED].contains(&e.event.as_str())
                && e.card_number.as_deref() == Some(card)
        })
        .and_then(|e| serde_json::from_str(&e.detail).ok())
}

/// Hands a stock card from its keeper (`giver`, who must be the one the ledger names) to
/// `receiver` at `to`, both named (RULE 5: the card's every hand-off in the ledger, signed by
/// both sides); ledger `card.moved`. The line's detail.
pub fn move_card(
    local: &LocalArchive,
    operator: &str,
    card: &str,
    to: &Destination,
    giver: &str,
    receiver: &str,
) -> Result<serde_json::Value, LifecycleError> {
    let (giver, receiver, place) = (giver.trim(), receiver.trim(), to.place.trim());
    let state = |message: String| LifecycleError::State { card: card.into(), message };
    if giver.is_empty() || receiver.is_empty() || place.is_empty() {
        return Err(LifecycleError::Rule {
            rule: 5,
            message: "a card moves with the place it goes to and both sides named: who gives it and who receives it".into(),
        });
    }
    match local.card_status(card)? {
        Some(CardStatus::Made) => {}
        Some(other) => {
            return Err(state(format!("is {other:?}: only a card in stock moves between storage places")))
        }
        None => {
            return Err(state(
                "is not in this station's records (take it in first: station stock receive)".into(),
            ))
        }
    }
    if crate::lifecycle::waiting_job(local, card)?.is_some() {
        return Err(state(
            "waits at the counter for its holder: hand it over, or park it to stock first".into(),
        ));
    }
    let ledger = local.ledger()?;
    let from = storage_of(&ledger, card)
        .ok_or_else(|| state("has no storage place in the ledger: park it to stock first".into()))?;
    let (from_place, from_keeper) =
        (from["place"].as_str().unwrap_or(""), from["keeper"].as_str().unwrap_or(""));
    if !from_keeper.trim().eq_ignore_ascii_case(giver) {
        return Err(LifecycleError::Rule {
            rule: 5,
            message: format!(
                "the card is kept by {from_keeper} at {from_place}: only its keeper gives it on"
            ),
        });
    }
    if from_place == place && from["site"].as_str() == to.site.as_deref() {
        return Err(state(format!("is at {place} already")));
    }
    if giver.eq_ignore_ascii_case(receiver) {
        return Err(LifecycleError::Rule {
            rule: 5,
            message: "the giver and the receiver are two people".into(),
        });
    }
    let detail = json!({
        "place": place, "keeper": receiver, "site": to.site, "from_place": from_place,
        "from_site": from["site"], "giver": giver, "receiver": receiver,
    });
    local.append_ledger(operator, None, Some(card), CARD_MOVED, &detail)?;
    Ok(detail)
}

#[cfg(test)]
mod tests {
    use archive::{ClaimRequest, CommitRequest, DeliverRequest, SqliteProvincial};

    use super::*;

    /// The centre (`CENTRE` on the province file in `dir`) makes a card for a fresh person and
    /// delivers it to `S-1`: its delivery-list row.
    fn delivered(dir: &std::path::Path) -> ManifestRow {
        let centre = SqliteProvincial::open(dir.join("province.db"), "CENTRE", 'C').expect("centre");
        let ssn = archive::conformance::fresh_ssn();
        let claim = centre
            .claim(&ClaimRequest {
                request_id: "claim".into(),
                ssn: ssn.clone(),
                name: "中心甲".into(),
                reissue_of: None,
                lease_seconds: 600,
            })
            .expect("claim");
        let card_id = "110100D15600000500".to_string();
        let commit = CommitRequest {
            request_id: "commit".into(),
            claim_id: claim.claim_id,
            card_id: card_id.clone(),
            atr: "3B00".into(),
        };
        centre.commit(&commit).expect("commit");
        let deliver = DeliverRequest {
            request_id: "deliver".into(),
            card_number: claim.card_number.clone(),
            to_station: "S-1".into(),
        };
        centre.deliver_card(&deliver).expect("deliver");
        ManifestRow {
            row: 2,
            card_number: claim.card_number,
            id_number: ssn,
            name: "中心甲".into(),
            card_id,
            batch: "P2026-12".into(),
            box_no: "1".into(),
            position: "1".into(),
            bank: String::new(),
            account: String::new(),
        }
    }

    /// A station stopped after the province handed it a card and before its own archive
    /// recorded it (a power cut): reading the same list again records the card, with its
    /// ledger line, once; a third reading says it is here already.
    #[test]
    fn a_receipt_cut_off_after_the_province_answered_is_completed_by_reading_the_list_again() {
        let dir = tempfile::tempdir().expect("tmp");
        let province = SqliteProvincial::open(dir.path().join("province.db"), "S-1", 'S').expect("province");
        let local = LocalArchive::open_unencrypted(dir.path().join("station.db"), "S-1").expect("local");
        let row = delivered(dir.path());
        // What the cut-off run did: the province's half, under the request id of the station and card.
        let request = ReceiveRequest {
            request_id: format!("S-1:receive-{}", row.card_number),
            card_number: row.card_number.clone(),
            ssn: row.id_number.clone(),
            card_id: row.card_id.clone(),
        };
        province.receive_card(&request).expect("the province hands the card over");
        assert!(local.card(&row.card_number).expect("card").is_none(), "not recorded here yet");

        let storage = Storage { place: "保管柜".into(), keeper: "sup".into(), collect_at: None };
        let again = receive(&local, &province, "sup", &storage, "list.csv", vec![row.clone()]);
        assert_eq!((again.received.len(), again.refused.len()), (1, 0), "{:?}", again.refused);
        assert!(local.card(&row.card_number).expect("card").is_some());
        let lines = local.ledger().expect("ledger");
        let received: Vec<_> = lines
            .iter()
            .filter(|l| {
                l.event == CARD_RECEIVED && l.card_number.as_deref() == Some(row.card_number.as_str())
            })
            .collect();
        assert_eq!(received.len(), 1, "one ledger line");
        assert!(!received[0].detail.contains(&row.id_number), "the holder masked: {}", received[0].detail);

        let third = receive(&local, &province, "sup", &storage, "list.csv", vec![row]);
        assert_eq!(third.received.len(), 0);
        assert!(third.refused[0].reason.contains("in this station's records already"), "{:?}", third.refused);
    }

    #[test]
    fn a_gbk_delivery_list_is_read_with_its_bad_rows_named() {
        let text = "社会保障卡号,身份证号,姓名,卡识别码,批次号,箱号,位置\n\
                    B00000019,11010519491231002X,张三,110100D15600000500,P2026-01,3,17\n\
                    B00000018,11010519491231002X,李四,,P2026-01,3,18\n\
                    ,,,,,,\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let (rows, problems) = read_manifest(&gbk, "list.csv").expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].name.as_str(), rows[0].box_no.as_str(), rows[0].row), ("张三", "3", 2));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].row, 3);
        assert!(problems[0].reason.contains("check character"), "{problems:?}");
        let e =
            read_manifest("卡号,姓名\nB00000019,张三\n".as_bytes(), "list.csv").expect_err("no ID column");
        assert!(e.to_string().contains("身份证号"), "{e}");
    }
}
