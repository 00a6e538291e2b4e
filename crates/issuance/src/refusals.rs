//! A person's refusal (issue #24 item 4): of the financial function's activation, or of a card
//! change (a new card, another bank). RULE 8: nobody may force a person to change card or bank,
//! so the refusal is theirs, recorded as such with its date and the operator who heard it, in
//! one ledger line ([`REFUSED_BY_HOLDER`]); the action lists stop chasing the card for what was
//! refused ([`chased`]). A later activation ends a refusal of activation (the person changed
//! their mind); a refusal of a card change stands.

use std::collections::BTreeMap;

use archive::local::{LedgerEntry, LocalArchive};
use serde::{Deserialize, Serialize};

use crate::lifecycle::{ChosenBy, LifecycleError};

/// Ledger event: the holder refused an activation or a card change.
pub const REFUSED_BY_HOLDER: &str = "card.refused-by-holder";

/// What the person refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refused {
    /// Activating the card's financial function.
    Activation,
    /// Changing card (a new card, or a card at another bank).
    CardChange,
}

/// A refusal as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolderRefusal {
    /// The card.
    pub card_number: String,
    /// What was refused.
    pub what: Refused,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The operator who recorded it.
    pub recorded_by: String,
    /// The person's words, if they gave any.
    pub note: String,
}

/// Records that the holder of `card` refused `what` on `date` (`YYYY-MM-DD`): only as the
/// person's own choice (RULE 8). Recording the same refusal again changes nothing.
pub fn record_refusal(
    local: &LocalArchive,
    operator: &str,
    card: &str,
    what: Refused,
    chosen_by: ChosenBy,
    date: &str,
    note: &str,
) -> Result<HolderRefusal, LifecycleError> {
    if chosen_by != ChosenBy::Person {
        return Err(LifecycleError::Rule {
            rule: 8,
            message: "a refusal is the person's own choice: an operator or a bank may not refuse for them"
                .into(),
        });
    }
    if applicant::Date::parse(date).is_err() {
        return Err(LifecycleError::State {
            card: card.into(),
            message: format!("the date {date:?}: YYYY-MM-DD"),
        });
    }
    let status = local.card_status(card)?.ok_or_else(|| LifecycleError::State {
        card: card.into(),
        message: "not known at this station".into(),
    })?;
    if !status.is_live() || (what == Refused::Activation && status == archive::CardStatus::Active) {
        return Err(LifecycleError::State {
            card: card.into(),
            message: format!("is {status:?}: nothing left to refuse"),
        });
    }
    let ledger = local.ledger()?;
    if let Some(r) = standing(&ledger).remove(&(card.to_string(), what)) {
        return Ok(r);
    }
    let detail = serde_json::json!({"what": what, "chosen_by": "person", "date": date, "note": note.trim()});
    local.append_ledger(operator, None, Some(card), REFUSED_BY_HOLDER, &detail)?;
    Ok(HolderRefusal {
        card_number: card.into(),
        what,
        date: date.into(),
        recorded_by: operator.into(),
        note: note.trim().into(),
    })
}

/// The refusals that stand, by card and what, from the ledger: an activation ends a refusal of
/// activation.
pub fn standing(ledger: &[LedgerEntry]) -> BTreeMap<(String, Refused), HolderRefusal> {
    let mut out = BTreeMap::new();
    for e in ledger {
        let Some(card) = e.card_number.clone() else { continue };
        match e.event.as_str() {
            REFUSED_BY_HOLDER => {
                let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
                let Ok(what) = serde_json::from_value::<Refused>(d["what"].clone()) else { continue };
                let r = HolderRefusal {
                    card_number: card.clone(),
                    what,
                    date: d["date"].as_str().unwrap_or_default().into(),
                    recorded_by: e.operator.clone(),
                    note: d["note"].as_str().unwrap_or_default().into(),
                };
                out.entry((card, what)).or_insert(r);
            }
            "card.activated" => {
                out.remove(&(card, Refused::Activation));
            }
            _ => {}
        }
    }
    out
}

/// Whether an action list still chases `card` in `status` (a stock card to hand over, an
/// issued card to activate): not when its holder refused the card change, nor an issued card
/// whose activation they refused.
pub fn chased(refusals: &BTreeMap<(String, Refused), HolderRefusal>, card: &str, status: &str) -> bool {
    let refused = |what| refusals.contains_key(&(card.to_string(), what));
    !(refused(Refused::CardChange) || (status == "issued" && refused(Refused::Activation)))
}

#[cfg(test)]
mod tests {
    use archive::local::PersonRow;
    use archive::CardStatus;

    use super::*;

    fn card(a: &LocalArchive, ssn: &str, number: &str, status: CardStatus) {
        a.upsert_person(&PersonRow { ssn: ssn.into(), name: "张三".into(), sex: None, birth_date: None })
            .expect("person");
        let app = a.open_application(ssn, "new", "{}").expect("app");
        a.record_card(app, ssn, number, "id", "atr").expect("card");
        a.set_card_status(number, status).expect("status");
        a.set_application(app, archive::local::ApplicationStatus::Issued, None).expect("closed");
    }

    #[test]
    fn rule_8_a_refusal_is_the_persons_and_the_lists_stop_chasing_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        card(&a, "11010519491231002X", "B00000019", CardStatus::Issued);
        card(&a, "110105198001010014", "B00000027", CardStatus::Made);
        let e =
            record_refusal(&a, "op", "B00000019", Refused::Activation, ChosenBy::Operator, "2026-12-06", "")
                .expect_err("the operator's");
        assert!(matches!(e, LifecycleError::Rule { rule: 8, .. }), "{e}");
        assert!(record_refusal(
            &a,
            "op",
            "B00000019",
            Refused::Activation,
            ChosenBy::Person,
            "06.12.2026",
            ""
        )
        .is_err());
        let dormant = a.dormant_cards(-1).expect("dormant");
        let chased_now = |a: &LocalArchive| {
            let refusals = standing(&a.ledger().expect("ledger"));
            let dormant = a.dormant_cards(-1).expect("dormant");
            dormant.into_iter().filter(|(c, s)| chased(&refusals, c, s)).map(|(c, _)| c).collect::<Vec<_>>()
        };
        assert_eq!(dormant.len(), 2);
        assert_eq!(chased_now(&a), ["B00000019", "B00000027"]);

        let r = record_refusal(
            &a,
            "op",
            "B00000019",
            Refused::Activation,
            ChosenBy::Person,
            "2026-12-06",
            "不需要",
        )
        .expect("refused");
        assert_eq!((r.date.as_str(), r.recorded_by.as_str()), ("2026-12-06", "op"));
        let again =
            record_refusal(&a, "op2", "B00000019", Refused::Activation, ChosenBy::Person, "2026-12-07", "")
                .expect("again");
        assert_eq!(again, r, "the first record stands");
        let line = a.ledger().expect("ledger").pop().expect("entry");
        assert!(
            line.event == REFUSED_BY_HOLDER && line.detail.contains("\"chosen_by\":\"person\""),
            "{line:?}"
        );
        assert_eq!(chased_now(&a), ["B00000027"], "no more activation follow-ups for B00000019");

        record_refusal(&a, "op", "B00000027", Refused::Activation, ChosenBy::Person, "2026-12-06", "")
            .expect("refused");
        assert_eq!(chased_now(&a), ["B00000027"], "a stock card is still to be handed over");
        record_refusal(
            &a,
            "op",
            "B00000027",
            Refused::CardChange,
            ChosenBy::Person,
            "2026-12-06",
            "keeps the old card",
        )
        .expect("refused");
        assert!(chased_now(&a).is_empty(), "nor chased for its hand-over");
        assert!(a.dormant_cards(-1).expect("dormant").is_empty(), "the archive's list leaves them out too");
        let stats = a.stats(None, None, -1).expect("stats");
        assert_eq!(stats.stock.iter().map(|s| s.dormant).sum::<u64>(), 0, "and the bureau's report");

        // The person changes their mind: the activation ends that refusal.
        a.append_ledger("op", None, Some("B00000019"), "card.activated", &serde_json::json!({}))
            .expect("line");
        assert!(
            !standing(&a.ledger().expect("ledger")).contains_key(&("B00000019".into(), Refused::Activation))
        );
    }
}
