//! The card services' schedule as data (issue #24 item 4): how long a temporary loss lasts and
//! what a replacement costs, from `data/card-services.toml` or a province's file in its form.
//! RULE 7 is not data: the first replacement is free and the holders of the fee-free
//! categories pay no card fee whatever the file says; every fee, or why it is waived, is one
//! ledger line ([`FEE_RECORDED`]) whose position is the receipt's number. Amounts are integer
//! fen.

use std::path::Path;

use archive::local::LocalArchive;
use serde::{Deserialize, Serialize};

use crate::lifecycle::LifecycleError;

/// The schedule the station ships.
pub const BUILTIN: &str = include_str!("../data/card-services.toml");

/// Ledger event: a card fee charged, or waived with its reason, with the receipt's number.
pub const FEE_RECORDED: &str = "card.fee";

/// The longest temporary loss a schedule may set, days (the province's limit).
pub const MAX_LOSS_DAYS: u32 = (archive::MAX_SUSPENSION_SECONDS / 86_400) as u32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    temporary_loss: LossSection,
    fees: FeeSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LossSection {
    days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeSection {
    replacement_fen: i64,
    #[serde(default)]
    fee_free_categories: Vec<String>,
}

/// Why a schedule file is unusable.
#[derive(Debug, thiserror::Error)]
#[error("card services schedule {origin}: {message}")]
pub struct ScheduleError {
    /// The file.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// The schedule in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Days a temporary loss lasts.
    pub temporary_loss_days: u32,
    /// A replacement's fee after the first, fen.
    pub replacement_fen: i64,
    /// Categories whose holders pay no card fee.
    pub fee_free_categories: Vec<String>,
    /// Where it came from (the built-in file or a path).
    pub origin: String,
}

/// Why a fee is waived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "waiver")]
pub enum Waiver {
    /// The holder's first replacement (RULE 7).
    FirstReplacement,
    /// The holder's category pays no card fees (RULE 7).
    FeeFreeCategory {
        /// The category on the application.
        category: String,
    },
}

/// What a replacement costs the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "fee")]
pub enum Fee {
    /// Charged, fen.
    Due {
        /// The amount in fen.
        fen: i64,
    },
    /// Nothing to pay, and why.
    Waived(Waiver),
}

impl Fee {
    /// The amount charged, fen (0 when waived).
    pub fn fen(&self) -> i64 {
        match self {
            Fee::Due { fen } => *fen,
            Fee::Waived(_) => 0,
        }
    }
}

impl Schedule {
    /// The schedule the station ships.
    pub fn builtin() -> Schedule {
        Schedule::from_toml(BUILTIN, "built-in card-services.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads a schedule's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Schedule, ScheduleError> {
        let bad = |message: String| ScheduleError { origin: origin.into(), message };
        let f: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if !(1..=MAX_LOSS_DAYS).contains(&f.temporary_loss.days) {
            return Err(bad(format!(
                "[temporary_loss] days = {}: 1 to {MAX_LOSS_DAYS} (a longer loss is a formal one)",
                f.temporary_loss.days
            )));
        }
        if !(0..=10_000_000).contains(&f.fees.replacement_fen) {
            return Err(bad(format!(
                "[fees] replacement_fen = {}: an amount in fen, 0 to 10000000",
                f.fees.replacement_fen
            )));
        }
        // A fee-free category is one the application form can carry: one no applicant can have
        // would waive nobody's fee.
        if let Some(c) = f
            .fees
            .fee_free_categories
            .iter()
            .find(|c| applicant::InsuranceCategory::parse(c).map(|k| k.key()) != Ok(c))
        {
            let keys: Vec<&str> = applicant::InsuranceCategory::all().iter().map(|k| k.key()).collect();
            return Err(bad(format!(
                "[fees] fee_free_categories: {c:?} is not a category of the application form; use the keys of \
                 applicant's insurance-categories.tsv: {}",
                keys.join(", ")
            )));
        }
        Ok(Schedule {
            temporary_loss_days: f.temporary_loss.days,
            replacement_fen: f.fees.replacement_fen,
            fee_free_categories: f.fees.fee_free_categories,
            origin: origin.into(),
        })
    }

    /// Reads a province's schedule file.
    pub fn load(path: &Path) -> Result<Schedule, ScheduleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScheduleError { origin: path.display().to_string(), message: e.to_string() })?;
        Schedule::from_toml(&text, &path.display().to_string())
    }

    /// A temporary loss's period, seconds.
    pub fn temporary_loss_seconds(&self) -> i64 {
        i64::from(self.temporary_loss_days) * 86_400
    }

    /// The fee of a replacement for a holder with `earlier` replacements before this one and
    /// the application's `category` (RULE 7 first, then the schedule).
    pub fn replacement_fee(&self, earlier: u32, category: Option<&str>) -> Fee {
        if let Some(c) = category.map(str::trim).filter(|c| self.fee_free_categories.iter().any(|f| f == c)) {
            return Fee::Waived(Waiver::FeeFreeCategory { category: c.to_string() });
        }
        if earlier == 0 {
            return Fee::Waived(Waiver::FirstReplacement);
        }
        Fee::Due { fen: self.replacement_fen }
    }
}

/// A fee's record: the receipt's number (the station and the ledger line's position), the
/// amount and why it was waived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The receipt's number.
    pub receipt: String,
    /// The card replaced.
    pub card_number: String,
    /// What was charged or waived.
    pub fee: Fee,
}

/// Replacement fees already recorded for `ssn`'s cards here: the receipts, oldest first.
pub fn replacement_receipts(local: &LocalArchive, ssn: &str) -> Result<Vec<Receipt>, LifecycleError> {
    let cards: Vec<String> =
        local.cards(None)?.into_iter().filter(|c| c.ssn == ssn).map(|c| c.card_number).collect();
    let mut out = Vec::new();
    for e in local.ledger()? {
        let Some(card) = e.card_number.clone().filter(|c| e.event == FEE_RECORDED && cards.contains(c))
        else {
            continue;
        };
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
        if detail["item"] != "replacement" {
            continue;
        }
        let fee = serde_json::from_value(detail["fee"].clone()).map_err(|err| LifecycleError::State {
            card: card.clone(),
            message: format!("fee record: {err}"),
        })?;
        out.push(Receipt { receipt: receipt_number(&e.station, e.seq), card_number: card, fee });
    }
    Ok(out)
}

fn receipt_number(station: &str, seq: i64) -> String {
    format!("{station}-{seq:08}")
}

/// The medical-insurance category (参保类别) on the holder's latest application here that gives
/// one: the category the schedule's fee-free categories are matched with. Read from the
/// applicant forms the station keeps, never from the fee's request.
pub fn holder_category(
    local: &LocalArchive,
    ssn: &str,
) -> Result<Option<applicant::InsuranceCategory>, LifecycleError> {
    for form in local.application_forms(ssn)? {
        let Ok(a) = serde_json::from_str::<applicant::Applicant>(&form) else { continue };
        let given = a.insurance.and_then(|i| i.category);
        if let Some(c) = given.and_then(|c| applicant::InsuranceCategory::parse(&c).ok()) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Records the fee of replacing `card` (this station's) by the schedule: charged, or waived
/// with its reason, in one ledger line whose position is the receipt's number (RULES 5, 7).
/// The holder's category is the one on their application form ([`holder_category`]). The
/// replacements before this one are the fees recorded here, or the holder's other cards the
/// province records stopped (a stopped card was replaced, at whichever station), whichever
/// are more: a first replacement is free once in the province, not once per station. A card's
/// replacement fee is recorded once: a second call gives the first receipt.
pub fn record_replacement_fee(
    local: &LocalArchive,
    province: &dyn archive::ProvincialArchive,
    schedule: &Schedule,
    operator: &str,
    card: &str,
) -> Result<Receipt, LifecycleError> {
    let ssn = local.card_holder(card)?.ok_or_else(|| LifecycleError::State {
        card: card.into(),
        message: "not made at this station".into(),
    })?;
    let category = holder_category(local, &ssn)?;
    let category = category.map(|c| c.key());
    // One fee record at a time: two calls for one card at once record it once.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    let earlier = replacement_receipts(local, &ssn)?;
    if let Some(first) = earlier.iter().find(|r| r.card_number == card) {
        // Recorded already: the first receipt, without asking the province again.
        return Ok(first.clone());
    }
    let stopped_elsewhere = province
        .lookup(&ssn)?
        .cards
        .iter()
        .filter(|c| c.card_number != card && c.status == archive::CardStatus::Stopped)
        .count();
    let count = earlier.len().max(stopped_elsewhere);
    let fee = schedule.replacement_fee(count as u32, category);
    let detail = serde_json::json!({"item": "replacement", "fee": fee, "fen": fee.fen(),
        "category": category, "schedule": schedule.origin, "earlier_replacements": count,
        "receipts_here": earlier.len(), "stopped_at_province": stopped_elsewhere});
    let entry = local.append_ledger(operator, None, Some(card), FEE_RECORDED, &detail)?;
    Ok(Receipt { receipt: receipt_number(&entry.station, entry.seq), card_number: card.into(), fee })
}

#[cfg(test)]
mod tests {
    use archive::local::PersonRow;

    use super::*;

    #[test]
    fn the_shipped_schedule_reads_and_a_provinces_file_is_checked() {
        let s = Schedule::builtin();
        assert_eq!((s.temporary_loss_days, s.replacement_fen), (5, 2000));
        assert_eq!(s.temporary_loss_seconds(), 5 * 86_400);
        let province = "[temporary_loss]\ndays = 7\n[fees]\nreplacement_fen = 1500\nfee_free_categories = [\"minimum-living-allowance\"]\n";
        assert_eq!(s.fee_free_categories.len(), 4, "every shipped fee-free category is on the form's list");
        let p = Schedule::from_toml(province, "province.toml").expect("province");
        assert_eq!((p.temporary_loss_days, p.replacement_fen), (7, 1500));
        for (bad, why) in [
            (province.replace("days = 7", "days = 0"), "days = 0"),
            (province.replace("days = 7", "days = 31"), "days = 31"),
            (province.replace("1500", "-1"), "replacement_fen = -1"),
            (province.replace("1500", "15.5"), "expected i64"),
            (format!("{province}surcharge_fen = 3\n"), "unknown field"),
            (province.replace("minimum-living-allowance", "低保"), "not a category of the application form"),
            (province.replace("minimum-living-allowance", ""), "not a category of the application form"),
        ] {
            let e = Schedule::from_toml(&bad, "province.toml").expect_err(why);
            assert!(e.to_string().contains(why) && e.to_string().contains("province.toml"), "{e}");
        }
    }

    #[test]
    fn rule_7_first_replacement_free_fee_free_categories_never_charged() {
        let s = Schedule::builtin();
        assert_eq!(s.replacement_fee(0, None), Fee::Waived(Waiver::FirstReplacement));
        assert_eq!(s.replacement_fee(1, None), Fee::Due { fen: 2000 });
        assert_eq!(s.replacement_fee(3, Some("farmer")), Fee::Due { fen: 2000 });
        let free = Fee::Waived(Waiver::FeeFreeCategory { category: "minimum-living-allowance".into() });
        assert_eq!(s.replacement_fee(0, Some("minimum-living-allowance")), free);
        assert_eq!(s.replacement_fee(5, Some("minimum-living-allowance")), free);
    }

    /// `cards` made here for `ssn`, each on an application whose form is `form` (JSON), stopped.
    fn holder_with_cards(a: &LocalArchive, ssn: &str, cards: &[&str], form: &str) {
        a.upsert_person(&PersonRow { ssn: ssn.into(), name: "张三".into(), sex: None, birth_date: None })
            .expect("person");
        for card in cards {
            let app = a.open_application(ssn, "new", form).expect("app");
            a.record_card(app, ssn, card, "id", "atr").expect("card");
            a.set_card_status(card, archive::CardStatus::Stopped).expect("stopped");
            a.set_application(app, archive::local::ApplicationStatus::Issued, None).expect("closed");
        }
    }

    #[test]
    fn each_fee_or_its_waiver_is_one_ledger_line_with_a_receipt() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        let p = archive::SqliteProvincial::open(dir.path().join("p.db"), "S1", 'B').expect("province");
        let ssn = "11010519491231002X";
        holder_with_cards(&a, ssn, &["B00000019", "B00000027"], "{}");
        let first = record_replacement_fee(&a, &p, &Schedule::builtin(), "op", "B00000019").expect("first");
        assert_eq!(first.fee, Fee::Waived(Waiver::FirstReplacement));
        let again = record_replacement_fee(&a, &p, &Schedule::builtin(), "op", "B00000019").expect("again");
        assert_eq!(again, first, "recorded once");
        let second = record_replacement_fee(&a, &p, &Schedule::builtin(), "op", "B00000027").expect("second");
        assert_eq!(second.fee, Fee::Due { fen: 2000 });
        assert_ne!(second.receipt, first.receipt);
        // The holder's next form gives the category 特困: the waiver follows the form.
        holder_with_cards(
            &a,
            ssn,
            &["B00000035"],
            r#"{"holder": {}, "insurance": {"category": "extremely-poor"}}"#,
        );
        let third = record_replacement_fee(&a, &p, &Schedule::builtin(), "op", "B00000035").expect("third");
        assert_eq!(third.fee, Fee::Waived(Waiver::FeeFreeCategory { category: "extremely-poor".into() }));
        let lines: Vec<_> =
            a.ledger().expect("ledger").into_iter().filter(|e| e.event == FEE_RECORDED).collect();
        assert_eq!(lines.len(), 3, "one line per fee");
        assert_eq!(format!("S1-{:08}", lines[1].seq), second.receipt, "the receipt is the line's position");
        let fens: Vec<i64> = lines
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.detail).expect("json")["fen"]
                    .as_i64()
                    .expect("fen")
            })
            .collect();
        assert_eq!(fens, [0, 2000, 0], "integer fen");
        assert_eq!(replacement_receipts(&a, ssn).expect("receipts"), vec![first, second, third]);
    }

    #[test]
    fn the_fee_waiver_reads_the_category_on_the_holders_form() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        let p = archive::SqliteProvincial::open(dir.path().join("p.db"), "S1", 'B').expect("province");
        let form =
            |category: &str| format!(r#"{{"holder": {{}}, "insurance": {{"category": "{category}"}}}}"#);
        // By the category's name on the form or its key; an employee pays from the second on.
        holder_with_cards(
            &a,
            "110000000000000001",
            &["B00000019"],
            &form("城乡居民基本医疗保险（低保对象）"),
        );
        holder_with_cards(&a, "110000000000000002", &["B00000027", "B00000035"], &form("employee"));
        holder_with_cards(&a, "110000000000000003", &["B00000043", "B00000051"], "{}");
        let low = Some(applicant::InsuranceCategory::parse("minimum-living-allowance").expect("listed"));
        assert_eq!(holder_category(&a, "110000000000000001").expect("110000000000000001"), low);
        assert_eq!(
            holder_category(&a, "110000000000000003").expect("110000000000000003"),
            None,
            "a form without a category"
        );
        let s = Schedule::builtin();
        let free = Waiver::FeeFreeCategory { category: "minimum-living-allowance".into() };
        assert_eq!(
            record_replacement_fee(&a, &p, &s, "op", "B00000019").expect("110000000000000001").fee,
            Fee::Waived(free)
        );
        record_replacement_fee(&a, &p, &s, "op", "B00000027").expect("P2 first");
        assert_eq!(
            record_replacement_fee(&a, &p, &s, "op", "B00000035").expect("110000000000000002").fee,
            Fee::Due { fen: 2000 }
        );
        record_replacement_fee(&a, &p, &s, "op", "B00000043").expect("P3 first");
        assert_eq!(
            record_replacement_fee(&a, &p, &s, "op", "B00000051").expect("110000000000000003").fee,
            Fee::Due { fen: 2000 }
        );
        let detail: serde_json::Value =
            serde_json::from_str(&a.ledger().expect("ledger")[0].detail).expect("json");
        assert_eq!(detail["category"], "minimum-living-allowance", "the ledger names the form's category");
    }

    #[test]
    fn rule_7_a_replacement_elsewhere_counts_the_first_one_is_free_once_in_the_province() {
        use archive::ProvincialArchive;
        let dir = tempfile::tempdir().expect("tmp");
        let p = archive::SqliteProvincial::open(dir.path().join("p.db"), "S2", 'B').expect("province");
        let ssn = archive::conformance::fresh_ssn();
        // Another station made the holder's first card and replaced it (stopped, a new card).
        let first = p.claim(&archive::conformance::claim_request(&ssn, None)).expect("claim");
        let old = p.commit(&archive::conformance::commit_request(first.claim_id)).expect("card").card_number;
        p.stop_card(&archive::conformance::replacement_stop(&old)).expect("stopped for the replacement");
        let second = p.claim(&archive::conformance::claim_request(&ssn, Some(&old))).expect("re-issue");
        let made =
            p.commit(&archive::conformance::commit_request(second.claim_id)).expect("card").card_number;
        // Here the holder's card (that second one, taken in) is replaced again: not the first.
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        holder_with_cards(&a, &ssn, &[&made], "{}");
        let receipt = record_replacement_fee(&a, &p, &Schedule::builtin(), "op", &made).expect("fee");
        assert_eq!(receipt.fee, Fee::Due { fen: 2000 }, "the first replacement was at S2");
        let line = a.ledger().expect("ledger").pop().expect("fee line");
        assert!(line.detail.contains("\"stopped_at_province\":1"), "{}", line.detail);
    }
}
