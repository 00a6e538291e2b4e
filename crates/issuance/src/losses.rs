//! Losses (issue #24 item 4). A temporary loss (口头挂失), by phone or at the counter, suspends
//! the card at the province and here for the period of the station's schedule
//! ([`crate::services::Schedule::temporary_loss_seconds`]); it lapses by itself (the card is
//! live again) unless the holder lifts it at a counter first (解挂, ID checked) or it is made a
//! formal loss (正式挂失, [`crate::lifecycle::report_loss`]: the card is stopped for good and a
//! replacement may follow). A suspended card is still the person's live card (RULE 1: no new
//! card until the formal loss), and it is neither activated nor handed over.
//!
//! Every step is in the ledger (RULE 5): [`LOSS_REPORTED`], [`LOSS_LIFTED`]; the formal loss is
//! `card.stopped` with the reason `loss`. Here a loss in force is read from the ledger, so a
//! card made elsewhere is covered as well as one made here.

use archive::local::{LedgerEntry, LocalArchive};
use archive::{LiftRequest, LossChannel, ProvincialArchive, SuspendRequest, Suspension};

use crate::lifecycle::LifecycleError;

/// Ledger event: a temporary loss reported (the province suspended the card until `until`).
pub const LOSS_REPORTED: &str = "card.loss-reported";
/// Ledger event: a temporary loss lifted by the holder at the counter.
pub const LOSS_LIFTED: &str = "card.loss-lifted";

/// The loss in force on `card` by the station's ledger at `now` (Unix seconds): when it lapses.
pub fn loss_in_force(ledger: &[LedgerEntry], card: &str, now: i64) -> Option<i64> {
    let mut until = None;
    for e in ledger.iter().filter(|e| e.card_number.as_deref() == Some(card)) {
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
        match e.event.as_str() {
            LOSS_REPORTED => until = detail["until"].as_i64(),
            LOSS_LIFTED | "card.stopped" | "card.cancelled" | "card.recalled" => until = None,
            _ => {}
        }
    }
    until.filter(|u| *u > now)
}

/// Refuses an activation or a hand-over of a card under a temporary loss.
pub fn refuse_if_suspended(local: &LocalArchive, card: &str) -> Result<(), LifecycleError> {
    match loss_in_force(&local.ledger()?, card, now()) {
        Some(until) => Err(LifecycleError::State {
            card: card.into(),
            message: format!(
                "is reported lost until {until} (unix time): the holder lifts the loss at the counter first (ID checked), or it lapses"
            ),
        }),
        None => Ok(()),
    }
}

/// Refuses an activation or a hand-over of a card under a temporary loss here or at the
/// province (reported at another station's counter, which this station's ledger cannot know).
/// A province that cannot be reached leaves the ledger's word: the counter's work does not wait
/// on the network (a loss reported elsewhere meanwhile is then not seen).
pub fn refuse_if_suspended_anywhere(
    local: &LocalArchive,
    province: Option<&dyn ProvincialArchive>,
    card: &str,
) -> Result<(), LifecycleError> {
    refuse_if_suspended(local, card)?;
    let (Some(province), Some(ssn)) = (province, local.card_holder(card)?) else { return Ok(()) };
    match province.lookup(&ssn) {
        Ok(person) => match person.suspensions.iter().find(|s| s.card_number == card) {
            Some(s) => Err(LifecycleError::State {
                card: card.into(),
                message: format!(
                    "is reported lost at station {} until {} (unix time): the holder lifts the loss at a counter first (ID checked), or it lapses",
                    s.station, s.until
                ),
            }),
            None => Ok(()),
        },
        Err(e) if e.is_retryable() => {
            tracing::warn!(card, error = %e, "the province could not say whether the card is reported lost");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// What the counter took down of a temporary loss.
#[derive(Debug, Clone)]
pub struct LossReport {
    /// Phone or counter.
    pub channel: LossChannel,
    /// The holder's ID number, as the caller said it or read from the document shown.
    pub ssn: String,
    /// At the counter: the holder's ID document was checked.
    pub id_checked: bool,
    /// How long the card stays suspended (the schedule's period), seconds.
    pub seconds: i64,
}

/// The ledger line already written for the request `request_id` of `event`, if any (a retry
/// after a lost answer writes no second line).
fn ledgered(ledger: &[LedgerEntry], event: &str, request_id: &str) -> bool {
    ledger.iter().any(|e| {
        e.event == event
            && serde_json::from_str::<serde_json::Value>(&e.detail)
                .is_ok_and(|d| d["request_id"].as_str() == Some(request_id))
    })
}

/// Reports `card` lost for a while: the province suspends it (by phone only a card this station
/// answers for; at the counter any card of the holder, ID checked), then the ledger records it.
/// `request_id` makes a retry after a lost answer harmless.
pub fn report_temporary_loss(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    operator: &str,
    card: &str,
    report: &LossReport,
    request_id: &str,
) -> Result<Suspension, LifecycleError> {
    if let Some(status) = local.card_status(card)?.filter(|s| !s.is_live()) {
        return Err(LifecycleError::State {
            card: card.into(),
            message: format!("is {status:?}; a loss is reported for a live card"),
        });
    }
    let s = province.suspend_card(&SuspendRequest {
        request_id: request_id.into(),
        card_number: card.into(),
        ssn: report.ssn.clone(),
        channel: report.channel,
        operator: operator.into(),
        id_checked: report.id_checked,
        seconds: report.seconds,
    })?;
    if !ledgered(&local.ledger()?, LOSS_REPORTED, request_id) {
        let detail = serde_json::json!({"kind": "temporary", "channel": s.channel, "since": s.since,
            "until": s.until, "station": s.station, "request_id": request_id});
        local.append_ledger(operator, None, Some(card), LOSS_REPORTED, &detail)?;
    }
    Ok(s)
}

/// Lifts `card`'s temporary loss for its holder at the counter (`ssn` read from the ID
/// document checked now): the province lifts it, then the ledger records it. Only a temporary
/// loss in force is lifted; a formal loss never is (a replacement card is made instead).
pub fn lift_loss(
    local: &LocalArchive,
    province: &dyn ProvincialArchive,
    operator: &str,
    card: &str,
    ssn: &str,
    request_id: &str,
) -> Result<Suspension, LifecycleError> {
    let s = province.lift_suspension(&LiftRequest {
        request_id: request_id.into(),
        card_number: card.into(),
        ssn: ssn.into(),
        operator: operator.into(),
        id_checked: true,
    })?;
    if !ledgered(&local.ledger()?, LOSS_LIFTED, request_id) {
        let detail = serde_json::json!({"reported_at": s.station, "since": s.since, "until": s.until,
            "id_checked": true, "request_id": request_id});
        local.append_ledger(operator, None, Some(card), LOSS_LIFTED, &detail)?;
    }
    Ok(s)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use archive::{CardStatus, Refusal, SqliteProvincial};

    use super::*;
    use crate::lifecycle::{handover_attempt, report_loss, Handover};
    use crate::Receiver;

    /// A stock card of station S1 (made, not handed over, its `card.made` line), at a SQLite
    /// province and here.
    fn stock_card() -> (tempfile::TempDir, SqliteProvincial, LocalArchive, String, String) {
        let (dir, province, a, ssn, card) = crate::lifecycle::tests::stock_card_at_province();
        let app = a.card(&card).expect("card").expect("recorded").application_id;
        a.append_ledger("op", Some(app), Some(&card), "card.made", &serde_json::json!({})).expect("made");
        (dir, province, a, ssn, card)
    }

    fn phone(ssn: &str, seconds: i64) -> LossReport {
        LossReport { channel: LossChannel::Phone, ssn: ssn.into(), id_checked: false, seconds }
    }

    fn events(a: &LocalArchive, card: &str) -> Vec<String> {
        let ledger = a.ledger().expect("ledger");
        ledger.into_iter().filter(|e| e.card_number.as_deref() == Some(card)).map(|e| e.event).collect()
    }

    #[test]
    fn a_temporary_loss_suspends_the_card_here_and_at_the_province_until_the_holder_lifts_it() {
        let (_d, province, a, ssn, card) = stock_card();
        let s = report_temporary_loss(&a, &province, "op", &card, &phone(&ssn, 5 * 86_400), "loss-1")
            .expect("reported by phone");
        assert_eq!(s.until - s.since, 5 * 86_400);
        let again = report_temporary_loss(&a, &province, "op", &card, &phone(&ssn, 5 * 86_400), "loss-1")
            .expect("a retry after a lost answer");
        assert_eq!(again, s);
        assert_eq!(events(&a, &card), ["card.made", LOSS_REPORTED], "one ledger line for one report");
        assert_eq!(province.lookup(&ssn).expect("lookup").suspensions, vec![s.clone()]);
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Made), "still the person's live card");
        assert_eq!(loss_in_force(&a.ledger().expect("ledger"), &card, now()), Some(s.until));

        let receiver = Receiver::Holder { id_number: ssn.clone() };
        let signed = Handover::Delivered { signer: "张三".into(), signature_sm3: "ab".repeat(32) };
        let e =
            handover_attempt(&a, "op", &card, &signed, Some(&receiver), "20261206").expect_err("suspended");
        assert!(e.to_string().contains("reported lost"), "{e}");
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Made), "not handed over");

        let stranger = archive::conformance::fresh_ssn();
        let e = lift_loss(&a, &province, "op", &card, &stranger, "lift-1").expect_err("not the holder");
        assert!(matches!(
            e,
            LifecycleError::Archive(archive::ArchiveError::Refused(Refusal::CardMismatch { .. }))
        ));
        assert!(!e.to_string().contains(&stranger), "no ID number in the message: {e}");
        lift_loss(&a, &province, "op", &card, &ssn, "lift-2").expect("lifted by the holder");
        lift_loss(&a, &province, "op", &card, &ssn, "lift-2").expect("a retry");
        assert_eq!(events(&a, &card), ["card.made", LOSS_REPORTED, LOSS_LIFTED]);
        assert!(province.lookup(&ssn).expect("lookup").suspensions.is_empty());
        assert_eq!(loss_in_force(&a.ledger().expect("ledger"), &card, now()), None);
        handover_attempt(&a, "op", &card, &signed, Some(&receiver), "20261206").expect("handed over now");
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Issued));
    }

    #[test]
    fn a_temporary_loss_made_formal_stops_the_card_for_good() {
        let (_d, province, a, ssn, card) = stock_card();
        report_temporary_loss(&a, &province, "op", &card, &phone(&ssn, 600), "loss-1").expect("reported");
        report_loss(&a, &province, "op", &card, false, "stop-1").expect("formal loss");
        assert_eq!(a.card_status(&card).expect("s"), Some(CardStatus::Stopped));
        let person = province.lookup(&ssn).expect("lookup");
        assert_eq!((person.cards[0].status, person.suspensions.len()), (CardStatus::Stopped, 0));
        let formal = a.ledger().expect("ledger").pop().expect("entry");
        let detail: serde_json::Value = serde_json::from_str(&formal.detail).expect("json");
        assert_eq!(
            (formal.event.as_str(), &detail["kind"], &detail["after_temporary_loss"]),
            ("card.stopped", &serde_json::json!("formal"), &serde_json::json!(true))
        );
        let e =
            lift_loss(&a, &province, "op", &card, &ssn, "lift-1").expect_err("a formal loss is not lifted");
        assert!(e.to_string().contains("made formal"), "{e}");
        assert_eq!(
            events(&a, &card),
            ["card.made", LOSS_REPORTED, "card.stopped"],
            "nothing written for the refusal"
        );
        let e = report_temporary_loss(&a, &province, "op", &card, &phone(&ssn, 600), "loss-2")
            .expect_err("stopped");
        assert!(matches!(e, LifecycleError::State { .. }), "{e}");
    }

    #[test]
    fn a_loss_reported_at_another_stations_counter_stops_the_hand_over_here_too() {
        let (dir, province, a, ssn, card) = stock_card();
        let other = SqliteProvincial::open(dir.path().join("p.db"), "S2", 'B').expect("S2");
        let at_counter =
            LossReport { channel: LossChannel::Counter, ssn: ssn.clone(), id_checked: true, seconds: 600 };
        other
            .suspend_card(&SuspendRequest {
                request_id: "s2-loss".into(),
                card_number: card.clone(),
                ssn: at_counter.ssn.clone(),
                channel: at_counter.channel,
                operator: "op-s2".into(),
                id_checked: true,
                seconds: at_counter.seconds,
            })
            .expect("reported at S2's counter");
        refuse_if_suspended(&a, &card).expect("this station's ledger does not know");
        let e = refuse_if_suspended_anywhere(&a, Some(&province), &card).expect_err("the province knows");
        assert!(e.to_string().contains("reported lost at station S2"), "{e}");
        refuse_if_suspended_anywhere(&a, None, &card).expect("no province: the ledger's word");
        let r = crate::reconcile::reconcile(&a, &province).expect("reconcile");
        assert!(r.agrees(), "a loss taken elsewhere is no difference: {:?}", r.mismatches);
        assert_eq!(r.lost_elsewhere, vec![card]);
    }

    #[test]
    fn a_loss_the_province_holds_without_its_ledger_line_is_a_difference_until_reported_again() {
        let (_d, province, a, ssn, card) = stock_card();
        // The station's report reached the province; the station stopped before its ledger line.
        let q = SuspendRequest {
            request_id: "loss-1".into(),
            card_number: card.clone(),
            ssn: ssn.clone(),
            channel: LossChannel::Phone,
            operator: "op".into(),
            id_checked: false,
            seconds: 600,
        };
        province.suspend_card(&q).expect("at the province");
        let r = crate::reconcile::reconcile(&a, &province).expect("reconcile");
        assert_eq!(r.mismatches.len(), 1, "{:?}", r.mismatches);
        assert!(r.mismatches[0].action.contains("same request id"), "{:?}", r.mismatches);
        report_temporary_loss(&a, &province, "op", &card, &phone(&ssn, 600), "loss-1").expect("again");
        let r = crate::reconcile::reconcile(&a, &province).expect("reconcile");
        assert!(r.agrees() && r.lost_elsewhere.is_empty(), "{:?}", r.mismatches);
    }

    #[test]
    fn a_loss_lapses_by_itself_in_the_ledgers_reading_too() {
        let (_d, province, a, ssn, card) = stock_card();
        let s =
            report_temporary_loss(&a, &province, "op", &card, &phone(&ssn, 1), "loss-1").expect("reported");
        let ledger = a.ledger().expect("ledger");
        assert_eq!(loss_in_force(&ledger, &card, s.since), Some(s.until));
        assert_eq!(loss_in_force(&ledger, &card, s.until), None, "lapsed at its end");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(province.lookup(&ssn).expect("lookup").suspensions.is_empty());
        refuse_if_suspended(&a, &card).expect("live again");
    }
}
