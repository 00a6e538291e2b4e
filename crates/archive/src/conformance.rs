//! One suite for every implementation of [`ProvincialArchive`] (SQLite here, the PostgreSQL
//! service in the `provincial` crate): the rules of workflows.md that keep a person to one
//! live card. `open(station)` must give a handle on the same store as that station.
//! Persons are fresh per run, so the suite may share a store with other tests.

use crate::kit::{
    CheckinRequest, CheckoutRequest, KitConflict, KitEvent, KitRecord, RecordOutcome, VisitRequest,
};
use crate::{
    ArchiveError, CardFate, CardStatus, ClaimRequest, CommitRequest, CorrectDeceasedRequest, DeceasedRequest,
    DeliverRequest, HolderAtCounter, HolderStop, ProvincialArchive, ReceiveRequest, Refusal, ReleaseRequest,
    RenewRequest, RestoreRequest, StopRequest,
};

/// A unique valid resident ID number for this run (region 110105, born 1980-2009).
pub fn fresh_ssn() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = crate::now() as u64 * 1000 + u64::from(std::process::id() % 1000);
    let n = seed.wrapping_mul(2_654_435_761).wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
    let day = n % 28 + 1;
    let month = (n / 28) % 12 + 1;
    let year = 1980 + (n / 336) % 30;
    let seq = (n / 10_080) % 1000;
    let first17 = format!("110105{year:04}{month:02}{day:02}{seq:03}");
    let check = applicant::gb11643_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// A unique request id.
pub fn request_id(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{what}-{}-{}-{}", std::process::id(), crate::now(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A claim request for `ssn` with a fresh request id.
pub fn claim_request(ssn: &str, reissue_of: Option<&str>) -> ClaimRequest {
    ClaimRequest {
        request_id: request_id("claim"),
        ssn: ssn.to_string(),
        name: "测试".into(),
        reissue_of: reissue_of.map(str::to_string),
        lease_seconds: 600,
    }
}

/// A commit request for `claim_id` with a fresh request id and a fixed chip read-back.
pub fn commit_request(claim_id: i64) -> CommitRequest {
    CommitRequest {
        request_id: request_id("commit"),
        claim_id,
        card_id: "110100D15600000500BF7C7A48FB4966".into(),
        atr: "3B8E0180730000C05800BF7C7A48FB4966C1".into(),
    }
}

/// A death with its evidence, recorded by `supervisor`.
pub fn deceased_request(ssn: &str, supervisor: &str) -> DeceasedRequest {
    DeceasedRequest {
        request_id: request_id("deceased"),
        ssn: ssn.into(),
        evidence: "死亡医学证明 No. 4401-2026-000123".into(),
        supervisor: supervisor.into(),
    }
}

/// A stop (or recall) of `card` by the station that made it.
pub fn stop_request(card: &str, end: crate::CardEnd) -> StopRequest {
    StopRequest {
        request_id: request_id("stop"),
        card_number: card.into(),
        reason: "re-issue".into(),
        end,
        for_holder: None,
    }
}

fn refusal(e: ArchiveError) -> Refusal {
    match e {
        ArchiveError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Runs every check. `open(station)` gives a station's handle (stations `station-a`,
/// `station-b` and `station-c`, the last opened only by the checks that need a station the
/// province has not seen yet); `open_kit(kit, owner)` the handle of an outreach kit that
/// belongs to station `owner`.
pub fn run_all(
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
    open_kit: &dyn Fn(&str, &str) -> Box<dyn ProvincialArchive>,
) {
    let a = open("station-a");
    let b = open("station-b");
    one_live_card_per_person(a.as_ref(), b.as_ref());
    retries_with_the_same_request_id_get_the_first_answer(a.as_ref());
    request_ids_are_each_stations_own(a.as_ref(), b.as_ref());
    released_numbers_are_reused_first(a.as_ref());
    a_number_whose_card_is_unaccounted_for_stays_out(a.as_ref(), b.as_ref());
    a_renewed_claim_outlives_its_first_lease(a.as_ref(), b.as_ref());
    reissue_stops_the_old_card_first(a.as_ref());
    a_recalled_card_ends_recalled_and_frees_the_person(a.as_ref());
    only_the_maker_stops_a_card_but_for_the_holder_at_the_counter(a.as_ref(), b.as_ref());
    deceased_cancels_and_refuses(a.as_ref(), b.as_ref());
    a_death_is_corrected_only_by_a_second_supervisor(a.as_ref(), b.as_ref());
    claims_lapse_after_their_lease(a.as_ref(), b.as_ref());
    a_delivered_card_is_taken_in_once_by_the_station_it_was_sent_to(a.as_ref(), b.as_ref());
    a_card_not_delivered_here_or_not_matching_the_list_is_refused(a.as_ref(), b.as_ref());
    a_dead_holders_card_is_neither_delivered_nor_taken_in(a.as_ref(), b.as_ref());
    a_card_goes_only_to_another_station_the_province_knows(a.as_ref(), open);
    a_ledger_head_is_anchored_only_forward(a.as_ref(), b.as_ref(), open);
    counters_taking_in_the_same_card_at_once_one_wins(open);
    a_reissue_is_restored_only_within_its_claim(a.as_ref(), b.as_ref());
    a_restore_after_the_lapse_or_the_commit_is_refused(a.as_ref());
    a_restore_and_a_claim_or_commit_at_the_same_moment_one_outcome(open);
    a_temporary_loss_suspends_the_live_card_until_lifted_lapsed_or_made_formal(a.as_ref(), b.as_ref());
    stations_reporting_the_same_card_lost_at_once_suspend_it_once(open);
    a_formal_loss_racing_a_temporary_one_and_its_lift_ends_stopped(open);
    let kit = open_kit("kit-1", "station-b");
    kit_checkout_claims_the_list_and_says_why_not(kit.as_ref(), b.as_ref());
    kit_records_apply_once_in_order_and_checkin_returns_the_rest(kit.as_ref(), b.as_ref(), a.as_ref());
    a_lapsed_kit_lease_frees_the_person_but_never_the_number(kit.as_ref(), b.as_ref());
    a_spoiled_card_is_recorded_once_and_its_number_stays_reserved(kit.as_ref(), b.as_ref());
    a_kit_hands_a_card_to_a_custodian_only_with_an_approval_the_province_holds(kit.as_ref(), open);
    a_kit_record_stands_only_signed_by_the_key_sent_at_checkout(kit.as_ref(), b.as_ref());
    kits_racing_the_same_record_id_apply_it_once(open_kit, b.as_ref());
}

/// Two stations number their requests alike (every station's first job is job 1): each gets
/// its own answer, never the other's; a replay of an id with another body is refused.
pub fn request_ids_are_each_stations_own(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let (for_a, for_b) = (fresh_ssn(), fresh_ssn());
    let id = request_id("job-1-claim");
    let qa = ClaimRequest { request_id: id.clone(), ..claim_request(&for_a, None) };
    let qb = ClaimRequest { request_id: id.clone(), ..claim_request(&for_b, None) };
    let ca = a.claim(&qa).expect("a's claim");
    let cb = b.claim(&qb).expect("b's claim under the same id");
    assert_eq!((ca.ssn.as_str(), ca.station.as_str()), (for_a.as_str(), "station-a"));
    assert_eq!((cb.ssn.as_str(), cb.station.as_str()), (for_b.as_str(), "station-b"));
    assert_ne!(ca.card_number, cb.card_number);
    assert_eq!(a.claim(&qa).expect("a's retry"), ca, "a retry gets the first answer");
    let other_body = ClaimRequest { request_id: id.clone(), ..claim_request(&fresh_ssn(), None) };
    match refusal(a.claim(&other_body).expect_err("same id, another person")) {
        Refusal::RequestIdReused { request_id, op } => assert_eq!((request_id, op.as_str()), (id, "claim")),
        other => panic!("{other:?}"),
    }
}

/// A number whose card may exist somewhere (the release could not say where, or the lease
/// lapsed) is not handed out until the station that held it says where the card is.
pub fn a_number_whose_card_is_unaccounted_for_stays_out(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    let first = a.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    let unknown = ReleaseRequest {
        request_id: request_id("release"),
        claim_id: first.claim_id,
        reason: "printer jammed; card not found".into(),
        card: CardFate::Unknown,
    };
    a.release(&unknown).expect("release");
    let next = b.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    assert_ne!(next.card_number, first.card_number, "held while its card is unaccounted for");
    let found = ReleaseRequest {
        request_id: request_id("release"),
        card: CardFate::Rejected,
        reason: "card found in the printer, now in the reject box".into(),
        ..unknown
    };
    assert!(
        matches!(refusal(b.release(&found).expect_err("not b's")), Refusal::ClaimNotLive { .. }),
        "only the station that held the claim accounts for its card"
    );
    a.release(&found).expect("accounted for");
    let again = b.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    assert_eq!(again.card_number, first.card_number, "the number is handed out again once accounted for");
}

/// A job that waits renews its claim: the claim outlives its first lease and commits; another
/// station cannot renew it.
pub fn a_renewed_claim_outlives_its_first_lease(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let c = a.claim(&ClaimRequest { lease_seconds: 1, ..claim_request(&ssn, None) }).expect("claim");
    let renew = RenewRequest { request_id: request_id("renew"), claim_id: c.claim_id, lease_seconds: 600 };
    assert!(matches!(refusal(b.renew(&renew).expect_err("not b's")), Refusal::ClaimNotLive { .. }));
    let renewed = a.renew(&renew).expect("renew");
    assert!(renewed.expires_at >= c.expires_at + 500, "{renewed:?}");
    assert_eq!((renewed.claim_id, renewed.card_number.as_str()), (c.claim_id, c.card_number.as_str()));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(matches!(
        refusal(b.claim(&claim_request(&ssn, None)).expect_err("still a's")),
        Refusal::AlreadyClaimed { .. }
    ));
    a.commit(&commit_request(c.claim_id)).expect("commit under the renewed lease");
}

/// RULE 10: a station stops or recalls the cards it made; another station only stops one for
/// the holder at its counter (ID checked, said so), and never recalls it.
pub fn only_the_maker_stops_a_card_but_for_the_holder_at_the_counter(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    let (_, card) = premade(a);
    for end in [crate::CardEnd::Stopped, crate::CardEnd::Recalled] {
        match refusal(b.stop_card(&stop_request(&card, end)).expect_err("not b's card")) {
            Refusal::NotYourCard { card_number, station } => {
                assert_eq!((card_number.as_str(), station.as_str()), (card.as_str(), "station-a"))
            }
            other => panic!("{other:?}"),
        }
    }
    let holder = |id_checked| HolderAtCounter { why: HolderStop::Loss, operator: "op-7".into(), id_checked };
    let unchecked =
        StopRequest { for_holder: Some(holder(false)), ..stop_request(&card, crate::CardEnd::Stopped) };
    assert!(matches!(
        refusal(b.stop_card(&unchecked).expect_err("ID not checked")),
        Refusal::NotYourCard { .. }
    ));
    let recall =
        StopRequest { for_holder: Some(holder(true)), ..stop_request(&card, crate::CardEnd::Recalled) };
    assert!(matches!(refusal(b.stop_card(&recall).expect_err("no recall")), Refusal::NotYourCard { .. }));
    let loss = StopRequest { for_holder: Some(holder(true)), ..stop_request(&card, crate::CardEnd::Stopped) };
    let stopped = b.stop_card(&loss).expect("a loss reported by the holder at b's counter");
    assert_eq!((stopped.status, stopped.station.as_str()), (CardStatus::Stopped, "station-a"));
}

/// A death recorded in error is taken back only by another supervisor; the cards cancelled
/// then stay cancelled, and the person may apply again.
pub fn a_death_is_corrected_only_by_a_second_supervisor(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    let (ssn, card) = premade(a);
    let no_evidence = DeceasedRequest { evidence: " ".into(), ..deceased_request(&ssn, "sup-1") };
    assert!(matches!(a.mark_deceased(&no_evidence), Err(ArchiveError::BadRequest(_))));
    assert_eq!(a.mark_deceased(&deceased_request(&ssn, "sup-1")).expect("deceased"), [card]);
    let correct = |supervisor: &str| CorrectDeceasedRequest {
        request_id: request_id("correct"),
        ssn: ssn.clone(),
        supervisor: supervisor.into(),
        reason: "the holder came to the counter in person".into(),
    };
    assert_eq!(refusal(a.correct_deceased(&correct("sup-1")).expect_err("same")), Refusal::SameSupervisor);
    b.correct_deceased(&correct("sup-2")).expect("a second supervisor corrects it");
    assert_eq!(refusal(b.correct_deceased(&correct("sup-2")).expect_err("again")), Refusal::NotDeceased);
    let p = a.lookup(&ssn).expect("lookup");
    assert!(!p.deceased);
    assert_eq!(p.cards.iter().map(|c| c.status).collect::<Vec<_>>(), [CardStatus::Cancelled]);
    let c = b.claim(&claim_request(&ssn, None)).expect("may apply again");
    b.commit(&commit_request(c.claim_id)).expect("commit");
}

/// Claim, commit, and every way a second card is refused.
pub fn one_live_card_per_person(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let empty = a.lookup(&ssn).expect("lookup");
    assert!(empty.cards.is_empty() && empty.live_claim.is_none() && !empty.deceased);
    let claim = a.claim(&claim_request(&ssn, None)).expect("claim");
    assert_eq!(claim.station, "station-a");
    assert_eq!(
        applicant::CardNumber::parse(&claim.card_number).map(|c| c.as_str().to_string()),
        Ok(claim.card_number.clone())
    );
    match refusal(b.claim(&claim_request(&ssn, None)).expect_err("claimed")) {
        Refusal::AlreadyClaimed { station, expires_at } => {
            assert_eq!((station.as_str(), expires_at), ("station-a", claim.expires_at));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refusal(b.commit(&commit_request(claim.claim_id)).expect_err("not b's claim")),
        Refusal::ClaimNotLive { .. }
    ));
    let card = a.commit(&commit_request(claim.claim_id)).expect("commit");
    assert_eq!((card.status, card.card_number.as_str()), (CardStatus::Made, claim.card_number.as_str()));
    let seen = b.lookup(&ssn).expect("lookup");
    assert_eq!(seen.live_card().map(|c| c.card_number.clone()), Some(claim.card_number.clone()));
    assert!(seen.live_claim.is_none());
    match refusal(b.claim(&claim_request(&ssn, None)).expect_err("live card")) {
        Refusal::LiveCard { card_number } => assert_eq!(card_number, claim.card_number),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refusal(a.commit(&commit_request(claim.claim_id)).expect_err("committed")),
        Refusal::ClaimNotLive { .. }
    ));
}

/// Idempotency: a retry after a lost answer never double-acts.
pub fn retries_with_the_same_request_id_get_the_first_answer(a: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let q = claim_request(&ssn, None);
    let first = a.claim(&q).expect("claim");
    assert_eq!(a.claim(&q).expect("retry"), first, "same claim, same card number");
    let c = commit_request(first.claim_id);
    let card = a.commit(&c).expect("commit");
    assert_eq!(a.commit(&c).expect("retry"), card);
    let again = claim_request(&ssn, None);
    let refused = refusal(a.claim(&again).expect_err("live card"));
    assert_eq!(refusal(a.claim(&again).expect_err("retry")), refused, "a refusal is stored too");
    let reused = ReleaseRequest {
        request_id: c.request_id.clone(),
        claim_id: first.claim_id,
        reason: "x".into(),
        card: CardFate::NotMade,
    };
    assert!(matches!(refusal(a.release(&reused).expect_err("id reused")), Refusal::RequestIdReused { .. }));
}

/// A released claim's number goes to the next claim: no gaps.
pub fn released_numbers_are_reused_first(a: &dyn ProvincialArchive) {
    let first = a.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    let release = ReleaseRequest {
        request_id: request_id("release"),
        claim_id: first.claim_id,
        reason: "chip failed".into(),
        card: CardFate::Rejected,
    };
    a.release(&release).expect("release");
    a.release(&release).expect("retry of a release");
    let second = a.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    assert_eq!(second.card_number, first.card_number, "the released number is handed out again");
    assert!(matches!(
        refusal(a.commit(&commit_request(first.claim_id)).expect_err("released")),
        Refusal::ClaimNotLive { .. }
    ));
}

/// Re-issue: the new card commits only once the old one is stopped.
pub fn reissue_stops_the_old_card_first(a: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let c1 = a.claim(&claim_request(&ssn, None)).expect("claim");
    let old = a.commit(&commit_request(c1.claim_id)).expect("commit");
    let c2 = a.claim(&claim_request(&ssn, Some(&old.card_number))).expect("re-issue claim");
    assert_ne!(c2.card_number, old.card_number);
    match refusal(a.commit(&commit_request(c2.claim_id)).expect_err("old live")) {
        Refusal::OldCardNotStopped { card_number } => assert_eq!(card_number, old.card_number),
        other => panic!("{other:?}"),
    }
    let stop = stop_request(&old.card_number, crate::CardEnd::Stopped);
    assert_eq!(a.stop_card(&stop).expect("stop").status, CardStatus::Stopped);
    assert_eq!(a.stop_card(&stop).expect("retry").status, CardStatus::Stopped);
    let again = StopRequest { request_id: request_id("stop"), ..stop };
    assert!(matches!(refusal(a.stop_card(&again).expect_err("not live")), Refusal::NotLive { .. }));
    let new = a.commit(&commit_request(c2.claim_id)).expect("commit re-issue");
    let p = a.lookup(&ssn).expect("lookup");
    let statuses: Vec<_> = p.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(statuses, [(old.card_number, CardStatus::Stopped), (new.card_number, CardStatus::Made)]);
}

/// A recall (RULE 6) ends the card `recalled`, not `stopped`, and the person may have a card
/// made again; a station that sends no `end` stops the card.
pub fn a_recalled_card_ends_recalled_and_frees_the_person(a: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let c = a.claim(&claim_request(&ssn, None)).expect("claim");
    let card = a.commit(&commit_request(c.claim_id)).expect("commit");
    let recall = StopRequest {
        reason: "two failed hand-overs: moved away; not at home".into(),
        ..stop_request(&card.card_number, crate::CardEnd::Recalled)
    };
    assert_eq!(a.stop_card(&recall).expect("recall").status, CardStatus::Recalled);
    assert_eq!(a.stop_card(&recall).expect("retry").status, CardStatus::Recalled, "same answer");
    let p = a.lookup(&ssn).expect("lookup");
    assert_eq!(p.cards.iter().map(|c| c.status).collect::<Vec<_>>(), [CardStatus::Recalled]);
    let again = a.claim(&claim_request(&ssn, None)).expect("no live card: a new one may be made");
    a.commit(&commit_request(again.claim_id)).expect("commit");

    let old: StopRequest = serde_json::from_value(serde_json::json!({
        "request_id": request_id("stop"), "card_number": card.card_number, "reason": "x"
    }))
    .expect("a request without `end`");
    assert_eq!(old.end, crate::CardEnd::Stopped);
}

/// A death cancels live cards and refuses every later claim.
pub fn deceased_cancels_and_refuses(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let c = a.claim(&claim_request(&ssn, None)).expect("claim");
    let card = a.commit(&commit_request(c.claim_id)).expect("commit");
    let q = deceased_request(&ssn, "sup-1");
    assert_eq!(b.mark_deceased(&q).expect("deceased"), vec![card.card_number.clone()]);
    assert_eq!(b.mark_deceased(&q).expect("retry"), vec![card.card_number]);
    let p = a.lookup(&ssn).expect("lookup");
    assert!(p.deceased);
    assert_eq!(p.cards[0].status, CardStatus::Cancelled);
    assert_eq!(refusal(a.claim(&claim_request(&ssn, None)).expect_err("deceased")), Refusal::Deceased);
}

/// A lapsed lease frees the person for another station.
pub fn claims_lapse_after_their_lease(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let short = ClaimRequest { lease_seconds: 1, ..claim_request(&ssn, None) };
    let c = a.claim(&short).expect("claim");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(a.lookup(&ssn).expect("lookup").live_claim.is_none());
    let taken = b.claim(&claim_request(&ssn, None)).expect("the lease lapsed");
    assert_eq!(taken.station, "station-b");
    assert!(matches!(
        refusal(a.commit(&commit_request(c.claim_id)).expect_err("lapsed")),
        Refusal::ClaimNotLive { .. }
    ));
}

/// A delivery of `card` to `to` with a fresh request id.
pub fn deliver_request(card: &str, to: &str) -> DeliverRequest {
    DeliverRequest { request_id: request_id("deliver"), card_number: card.into(), to_station: to.into() }
}

/// A receipt of `card` as the delivery list gives it (holder `ssn`, the chip of
/// [`commit_request`]), with a fresh request id.
pub fn receive_request(card: &str, ssn: &str) -> ReceiveRequest {
    ReceiveRequest {
        request_id: request_id("receive"),
        card_number: card.into(),
        ssn: ssn.into(),
        card_id: commit_request(0).card_id,
    }
}

/// The card-making centre (a) delivers a card to b; b takes it in once and from then answers
/// for it (a may no longer stop it); retries get the first answer; a second receipt and a
/// second delivery are refused.
pub fn a_delivered_card_is_taken_in_once_by_the_station_it_was_sent_to(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    let (ssn, card) = premade(a);
    let sent = deliver_request(&card, "station-b");
    assert_eq!(a.deliver_card(&sent).expect("delivered").station, "station-a");
    assert_eq!(a.deliver_card(&sent).expect("retry").station, "station-a", "same answer");
    let q = ReceiveRequest { ssn: ssn.to_lowercase(), ..receive_request(&card, &ssn) };
    let taken = b.receive_card(&q).expect("taken in");
    assert_eq!((taken.card_number.as_str(), taken.station.as_str()), (card.as_str(), "station-b"));
    assert_eq!((taken.status, taken.ssn.as_str()), (CardStatus::Made, ssn.as_str()));
    assert_eq!(b.receive_card(&q).expect("retry"), taken, "a retry gets the first answer");
    let p = a.lookup(&ssn).expect("lookup");
    assert_eq!(p.cards.iter().map(|c| c.station.as_str()).collect::<Vec<_>>(), ["station-b"]);
    for again in
        [b.receive_card(&receive_request(&card, &ssn)), a.receive_card(&receive_request(&card, &ssn))]
    {
        match refusal(again.expect_err("taken in before")) {
            Refusal::AlreadyReceived { card_number, station } => {
                assert_eq!((card_number.as_str(), station.as_str()), (card.as_str(), "station-b"))
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        refusal(a.deliver_card(&deliver_request(&card, "station-a")).expect_err("in b's stock")),
        Refusal::AlreadyReceived { .. }
    ));
    let recall = stop_request(&card, crate::CardEnd::Recalled);
    assert!(matches!(refusal(a.stop_card(&recall).expect_err("b's now")), Refusal::NotYourCard { .. }));
    assert_eq!(b.stop_card(&recall).expect("b answers for it").status, CardStatus::Recalled);
}

/// A card not delivered to the station (made there, sent elsewhere, never sent), a delivery of
/// another station's card, and a list whose holder or chip is not the card's are refused, and
/// none of them uses up the card: the right receipt still works.
pub fn a_card_not_delivered_here_or_not_matching_the_list_is_refused(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    let (ssn, card) = premade(a);
    let not_here = |r: Result<crate::CardRecord, ArchiveError>, why: &str| match refusal(r.expect_err(why)) {
        Refusal::NotDeliveredHere { card_number, why: said } => {
            assert_eq!(card_number, card, "{why}");
            assert!(!said.contains(&ssn), "{said}");
        }
        other => panic!("{why}: {other:?}"),
    };
    not_here(b.receive_card(&receive_request(&card, &ssn)), "never sent");
    not_here(a.receive_card(&receive_request(&card, &ssn)), "made here");
    assert!(matches!(
        refusal(b.deliver_card(&deliver_request(&card, "station-b")).expect_err("a's card")),
        Refusal::NotYourCard { .. }
    ));
    assert!(matches!(
        refusal(a.deliver_card(&deliver_request("X99999999", "station-b")).expect_err("no such card")),
        Refusal::NotFound { .. }
    ));
    a.deliver_card(&deliver_request(&card, "station-b")).expect("delivered to b");
    not_here(a.receive_card(&receive_request(&card, &ssn)), "sent to b");
    let other_holder = fresh_ssn();
    let wrong = [
        (ReceiveRequest { ssn: other_holder.clone(), ..receive_request(&card, &ssn) }, "holder"),
        (
            ReceiveRequest {
                card_id: "110100D15600000500FFFFFFFFFFFFFF".into(),
                ..receive_request(&card, &ssn)
            },
            "card identification code",
        ),
    ];
    for (q, expected) in wrong {
        match refusal(b.receive_card(&q).expect_err(expected)) {
            Refusal::CardMismatch { card_number, what } => {
                assert_eq!((card_number.as_str(), what.as_str()), (card.as_str(), expected));
                let said = Refusal::CardMismatch { card_number, what }.to_string();
                assert!(!said.contains(&ssn) && !said.contains(&other_holder), "{said}");
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
    assert_eq!(b.receive_card(&receive_request(&card, &ssn)).expect("the right list").station, "station-b");
}

/// A dead holder's card is cancelled: the centre may not deliver it, nor the station take it
/// in when it was delivered before the death.
pub fn a_dead_holders_card_is_neither_delivered_nor_taken_in(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    let (ssn, card) = premade(a);
    a.deliver_card(&deliver_request(&card, "station-b")).expect("delivered");
    a.mark_deceased(&deceased_request(&ssn, "sup-a")).expect("deceased");
    let not_live = |r: Result<crate::CardRecord, ArchiveError>| match refusal(r.expect_err("dead")) {
        Refusal::NotLive { status, .. } => assert_eq!(status, CardStatus::Cancelled),
        other => panic!("{other:?}"),
    };
    not_live(b.receive_card(&receive_request(&card, &ssn)));
    not_live(a.deliver_card(&deliver_request(&card, "station-b")));
    let p = b.lookup(&ssn).expect("lookup");
    assert_eq!(p.cards.iter().map(|c| c.station.as_str()).collect::<Vec<_>>(), ["station-a"]);
}

/// A delivery to the centre itself, or to a station that never connected (a mistyped id), is
/// refused and leaves the card deliverable; once that station has connected the card goes there.
pub fn a_card_goes_only_to_another_station_the_province_knows(
    a: &dyn ProvincialArchive,
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
) {
    let (ssn, card) = premade(a);
    let not_there = |to: &str| match refusal(a.deliver_card(&deliver_request(&card, to)).expect_err(to)) {
        Refusal::NotADestination { card_number, to_station, why } => {
            assert_eq!((card_number.as_str(), to_station.as_str()), (card.as_str(), to));
            why
        }
        other => panic!("{to}: {other:?}"),
    };
    assert!(not_there("station-a").contains("centre itself"));
    assert!(not_there("station-c").contains("check the id"));
    let c = open("station-c");
    assert!(c.lookup(&ssn).expect("station-c connects").live_claim.is_none());
    a.deliver_card(&deliver_request(&card, "station-c")).expect("now delivered");
    assert_eq!(c.receive_card(&receive_request(&card, &ssn)).expect("taken in").station, "station-c");
}

/// An anchor of `seq` with hash `hash` and a fresh request id.
pub fn anchor_request(seq: i64, hash: &str) -> crate::AnchorRequest {
    crate::AnchorRequest {
        request_id: request_id("anchor"),
        head: crate::LedgerHead { seq, hash: hash.into(), mac: None },
    }
}

/// A station's ledger heads only move forward: the same head again, or a later one, is
/// accepted; an earlier one (a ledger cut short) or the same entry with another hash (a ledger
/// rewritten) is refused and leaves the anchor as it was; each station's heads are its own; two
/// counters of one station anchoring different hashes for one entry at the same moment: exactly
/// one is kept.
pub fn a_ledger_head_is_anchored_only_forward(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
) {
    let base = a.ledger_anchor().expect("anchor").map_or(0, |h| h.seq);
    let head = |n: i64| crate::LedgerHead { seq: base + n, hash: format!("{:064X}", base + n), mac: None };
    let q = anchor_request(base + 5, &head(5).hash);
    assert_eq!(a.anchor_ledger(&q).expect("first"), head(5));
    assert_eq!(a.anchor_ledger(&q).expect("retry"), head(5), "a retry gets the first answer");
    assert_eq!(a.anchor_ledger(&anchor_request(base + 5, &head(5).hash)).expect("again"), head(5));
    for (seq, hash, why) in [(base + 3, head(3).hash, "cut short"), (base + 5, "AB".repeat(32), "rewritten")]
    {
        match refusal(a.anchor_ledger(&anchor_request(seq, &hash)).expect_err(why)) {
            Refusal::LedgerNotContinued { anchored_seq, anchored_hash, .. } => {
                assert_eq!((anchored_seq, anchored_hash), (base + 5, head(5).hash), "{why}")
            }
            other => panic!("{why}: {other:?}"),
        }
    }
    assert_eq!(a.ledger_anchor().expect("anchor"), Some(head(5)), "the refusals changed nothing");
    // A head with its MAC (a station with its ledger key): kept and answered with it.
    let keyed = crate::LedgerHead { mac: Some("5A".repeat(16)), ..head(9) };
    let q = crate::AnchorRequest { head: keyed.clone(), ..anchor_request(base + 9, &head(9).hash) };
    assert_eq!(a.anchor_ledger(&q).expect("later"), keyed);
    assert_eq!(a.ledger_anchor().expect("anchor"), Some(keyed.clone()), "kept with its MAC");
    // The same head again without it (a station without the key's code): the same head.
    assert_eq!(a.anchor_ledger(&anchor_request(base + 9, &head(9).hash)).expect("again"), head(9));
    assert_eq!(a.ledger_anchor().expect("anchor"), Some(keyed), "the MAC first kept stays");
    let b_before = b.ledger_anchor().expect("b's anchor");
    assert!(b_before.as_ref().is_none_or(|h| h.hash != head(9).hash), "a's heads are not b's");

    // Two counters of station a, one entry, two hashes, at the same moment.
    let counters = [open("station-a"), open("station-a")];
    let start = std::sync::Barrier::new(2);
    let outcomes: Vec<Result<crate::LedgerHead, ArchiveError>> = std::thread::scope(|s| {
        let running: Vec<_> = counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (start, q) = (&start, anchor_request(base + 12, &format!("{i:064}")));
                s.spawn(move || {
                    start.wait();
                    c.anchor_ledger(&q)
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().expect("anchor")).collect()
    });
    let kept: Vec<&crate::LedgerHead> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(kept.len(), 1, "{outcomes:?}");
    assert_eq!(a.ledger_anchor().expect("anchor").as_ref(), Some(kept[0]));
}

/// Counters of the station the card was delivered to and of another station take in the same
/// card at the same moment, each with its own request: exactly one (of the right station) wins;
/// every other is refused.
pub fn counters_taking_in_the_same_card_at_once_one_wins(open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>) {
    let a = open("station-a");
    let (ssn, card) = premade(a.as_ref());
    a.deliver_card(&deliver_request(&card, "station-b")).expect("delivered");
    let counters: Vec<Box<dyn ProvincialArchive>> =
        ["station-b", "station-a", "station-b", "station-a", "station-b", "station-b"].map(open).into();
    let start = std::sync::Barrier::new(counters.len());
    let outcomes: Vec<Result<crate::CardRecord, ArchiveError>> = std::thread::scope(|s| {
        let running: Vec<_> = counters
            .iter()
            .map(|c| {
                let (start, q) = (&start, receive_request(&card, &ssn));
                s.spawn(move || {
                    start.wait();
                    c.receive_card(&q)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().expect("counter")).collect()
    });
    let won: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert_eq!(won[0].station, "station-b");
    for o in outcomes.into_iter().filter(Result::is_err) {
        assert!(
            matches!(
                refusal(o.expect_err("lost")),
                Refusal::AlreadyReceived { .. } | Refusal::NotDeliveredHere { .. }
            ),
            "a loser is refused, never an error"
        );
    }
    assert_eq!(a.lookup(&ssn).expect("lookup").cards[0].station, "station-b");
}

/// A person with a card made (a batch card in stock) by `station`.
fn premade(station: &dyn ProvincialArchive) -> (String, String) {
    let ssn = fresh_ssn();
    let claim = station.claim(&claim_request(&ssn, None)).expect("claim");
    let card = station.commit(&commit_request(claim.claim_id)).expect("commit");
    (ssn, card.card_number)
}

fn visit(ssn: &str, premade_card: Option<&str>) -> VisitRequest {
    VisitRequest { ssn: ssn.into(), name: "测试".into(), premade_card: premade_card.map(str::to_string) }
}

/// A kit's record-signing key held in memory, for these checks only: a kit's own is made in
/// its token and never leaves it. Deterministic (`n`: which key), so every run signs alike.
pub struct KitKey(p256::ecdsa::SigningKey);

impl KitKey {
    /// Test key `n` (1 to 254).
    pub fn new(n: u8) -> KitKey {
        KitKey(p256::ecdsa::SigningKey::from_slice(&[n; 32]).expect("a P-256 scalar"))
    }

    /// The key of kit-1 in these checks.
    pub fn ours() -> KitKey {
        KitKey::new(1)
    }

    /// The public key as a checkout sends it (SEC1 uncompressed, hex).
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_encoded_point(false).as_bytes())
    }

    /// `r` signed over [`crate::kit::signing_bytes`], as the kit's token signs it.
    pub fn sign(&self, r: KitRecord) -> KitRecord {
        use p256::ecdsa::signature::Signer as _;
        let signature: p256::ecdsa::Signature = self.0.sign(&crate::kit::signing_bytes(&r));
        KitRecord { signature: Some(hex::encode(signature.to_bytes())), ..r }
    }
}

/// Record `seq` of lease `lease_id`, signed by [`KitKey::ours`].
fn record(lease_id: i64, seq: i64, event: KitEvent) -> KitRecord {
    KitKey::ours().sign(KitRecord {
        record_id: format!("{}-{lease_id}-{seq}", request_id("rec")),
        lease_id,
        seq,
        event,
        signature: None,
    })
}

/// Checkout claims every person it can for the kit (a reserved number each, pre-made cards in
/// its custody) and names the reason for the others; nobody else can claim a leased person.
pub fn kit_checkout_claims_the_list_and_says_why_not(
    kit: &dyn ProvincialArchive,
    counter: &dyn ProvincialArchive,
) {
    let new = fresh_ssn();
    let (with_card, card) = premade(counter);
    let dead = fresh_ssn();
    counter.mark_deceased(&deceased_request(&dead, "sup-1")).expect("deceased");
    let at_counter = fresh_ssn();
    counter.claim(&claim_request(&at_counter, None)).expect("counter claim");
    let no_card = fresh_ssn();
    let q = CheckoutRequest {
        request_id: request_id("checkout"),
        visits: vec![
            visit(&new, None),
            visit(&with_card, Some(&card)),
            visit(&dead, None),
            visit(&at_counter, None),
            visit(&no_card, Some("B99999999")),
        ],
        lease_seconds: 3600,
        record_key: Some(KitKey::ours().public_hex()),
    };
    let out = kit.checkout(&q).expect("checkout");
    assert_eq!(out.kit, "kit-1");
    let leased: Vec<(&str, Option<&str>)> =
        out.visits.iter().map(|v| (v.ssn.as_str(), v.premade_card.as_deref())).collect();
    assert_eq!(leased, [(new.as_str(), None), (with_card.as_str(), Some(card.as_str()))]);
    assert_ne!(out.visits[0].card_number, out.visits[1].card_number, "a number reserved for each");
    let refused: Vec<(&str, &Refusal)> = out.refused.iter().map(|r| (r.ssn.as_str(), &r.refusal)).collect();
    assert_eq!(refused[0], (dead.as_str(), &Refusal::Deceased));
    assert!(matches!(refused[1], (s, Refusal::AlreadyClaimed { .. }) if s == at_counter));
    assert!(matches!(refused[2], (s, Refusal::NotFound { .. }) if s == no_card));
    assert_eq!(kit.checkout(&q).expect("retry"), out, "a retried checkout leases nothing twice");
    for ssn in [&new, &with_card] {
        match refusal(counter.claim(&claim_request(ssn, None)).expect_err("leased")) {
            Refusal::AlreadyClaimed { station, expires_at } => {
                assert_eq!((station.as_str(), expires_at), ("kit-1", out.expires_at))
            }
            Refusal::LiveCard { .. } if *ssn == with_card => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(
            refusal(counter.claim(&claim_request(&with_card, Some(&card))).expect_err("leased")),
            Refusal::AlreadyClaimed { .. }
        ),
        "not even a re-issue while the kit holds the person"
    );
    let other_kit = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![visit(&new, None)],
            lease_seconds: 60,
            record_key: Some(KitKey::ours().public_hex()),
        })
        .expect("checkout");
    assert!(other_kit.visits.is_empty(), "a person is on one kit's list at a time");
    assert!(matches!(other_kit.refused[0].refusal, Refusal::AlreadyClaimed { .. }));
    let crowd = CheckoutRequest {
        request_id: request_id("checkout"),
        visits: (0..201).map(|_| visit(&fresh_ssn(), None)).collect(),
        lease_seconds: 3600,
        record_key: Some(KitKey::ours().public_hex()),
    };
    assert!(
        matches!(
            refusal(kit.checkout(&crowd).expect_err("over the cap")),
            Refusal::OverLimit { limit: 200, .. }
        ),
        "the province caps a checkout"
    );
}

/// Records apply once and in order; what cannot stand is a conflict for the supervisor; the
/// check-in waits for every record, then releases the people not served, returns unused
/// numbers and puts undelivered cards back in stock.
pub fn kit_records_apply_once_in_order_and_checkin_returns_the_rest(
    kit: &dyn ProvincialArchive,
    counter: &dyn ProvincialArchive,
    stranger: &dyn ProvincialArchive,
) {
    let (served, dies, absent) = (fresh_ssn(), fresh_ssn(), fresh_ssn());
    let (gets_premade, premade_card) = premade(counter);
    let (stopped, stopped_card) = premade(counter);
    let (not_home, stock_card) = premade(counter);
    let out = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![
                visit(&served, None),
                visit(&gets_premade, Some(&premade_card)),
                visit(&dies, None),
                visit(&absent, None),
                visit(&stopped, Some(&stopped_card)),
                visit(&not_home, Some(&stock_card)),
            ],
            lease_seconds: 3600,
            record_key: Some(KitKey::ours().public_hex()),
        })
        .expect("checkout");
    assert_eq!(out.visits.len(), 6, "{:?}", out.refused);
    let lease = out.lease_id;
    let by_ssn = |ssn: &str| out.visits.iter().find(|v| v.ssn == ssn).cloned().expect("leased");
    // While the kit is out: a death is reported, a card is stopped at a counter.
    counter.mark_deceased(&deceased_request(&dies, "sup-1")).expect("deceased");
    counter
        .stop_card(&StopRequest {
            reason: "reported lost".into(),
            ..stop_request(&stopped_card, crate::CardEnd::Stopped)
        })
        .expect("stop");
    let sig = "ab".repeat(32);
    let events = vec![
        KitEvent::Made {
            ssn: served.clone(),
            claim_id: by_ssn(&served).claim_id,
            card_id: "110100D15600000500BF7C7A48FB4966".into(),
            atr: "3B00".into(),
        },
        KitEvent::HandedOver {
            ssn: served.clone(),
            card_number: by_ssn(&served).card_number,
            signer: "本人".into(),
            signature_sm3: sig.clone(),
            custodian: None,
        },
        KitEvent::Activated {
            ssn: served.clone(),
            card_number: by_ssn(&served).card_number,
            photo_sm3: sig.clone(),
        },
        KitEvent::HandedOver {
            ssn: gets_premade.clone(),
            card_number: premade_card.clone(),
            signer: "本人".into(),
            signature_sm3: sig.clone(),
            custodian: None,
        },
        KitEvent::Made {
            ssn: dies.clone(),
            claim_id: by_ssn(&dies).claim_id,
            card_id: "110100D15600000500BF7C7A48FB4967".into(),
            atr: "3B00".into(),
        },
        KitEvent::HandedOver {
            ssn: stopped.clone(),
            card_number: stopped_card.clone(),
            signer: "本人".into(),
            signature_sm3: sig.clone(),
            custodian: None,
        },
        KitEvent::VisitFailed {
            ssn: not_home.clone(),
            card_number: Some(stock_card.clone()),
            reason: "nobody at home".into(),
        },
    ];
    let records: Vec<KitRecord> =
        events.into_iter().enumerate().map(|(i, e)| record(lease, i as i64 + 1, e)).collect();
    let e = kit.sync_record(&records[1]).expect_err("out of order");
    assert!(matches!(e, ArchiveError::BadRequest(_)), "{e}");
    let mut results = Vec::new();
    for r in &records {
        let first = kit.sync_record(r).expect("sync");
        assert_eq!(kit.sync_record(r).expect("retry"), first, "a retry applies nothing twice");
        assert_eq!((first.record_id.as_str(), first.seq), (r.record_id.as_str(), r.seq));
        results.push(first.outcome);
    }
    let applied: Vec<bool> = results.iter().map(|o| matches!(o, RecordOutcome::Applied { .. })).collect();
    assert_eq!(applied, [true, true, true, true, false, false, true], "{results:?}");
    let p = counter.lookup(&served).expect("lookup");
    assert_eq!(p.cards.len(), 1);
    assert_eq!(
        (p.cards[0].card_number.as_str(), p.cards[0].status),
        (by_ssn(&served).card_number.as_str(), CardStatus::Active)
    );
    assert_eq!(counter.lookup(&gets_premade).expect("lookup").cards[0].status, CardStatus::Issued);
    let d = counter.lookup(&dies).expect("lookup");
    assert_eq!(
        d.cards.iter().map(|c| c.status).collect::<Vec<_>>(),
        [CardStatus::Cancelled],
        "the offline card is on record, not live"
    );
    assert_eq!(counter.lookup(&stopped).expect("lookup").cards[0].status, CardStatus::Stopped);
    let conflicts: Vec<KitConflict> =
        kit.kit_conflicts().expect("conflicts").into_iter().filter(|c| c.lease_id == lease).collect();
    let who: Vec<(&str, Option<&str>)> =
        conflicts.iter().map(|c| (c.ssn.as_str(), c.card_number.as_deref())).collect();
    assert_eq!(
        who,
        [
            (dies.as_str(), Some(by_ssn(&dies).card_number.as_str())),
            (stopped.as_str(), Some(stopped_card.as_str()))
        ]
    );
    assert!(
        conflicts[0].reason.contains("deceased") && conflicts[1].reason.contains("stopped"),
        "{conflicts:?}"
    );
    let owned: Vec<String> =
        counter.kit_conflicts().expect("conflicts").into_iter().map(|c| c.record_id).collect();
    assert!(conflicts.iter().all(|c| owned.contains(&c.record_id)), "the kit's station sees its conflicts");
    assert!(
        stranger.kit_conflicts().expect("conflicts").iter().all(|c| c.lease_id != lease),
        "another station sees none of them"
    );
    // A supervisor settles the first: it leaves the open list; settling it again keeps the
    // first resolution; an unknown record and an empty note are refused.
    let settle = |record_id: &str, note: &str| crate::kit::ResolveRequest {
        record_id: record_id.into(),
        resolved_by: "supervisor-1".into(),
        note: note.into(),
    };
    assert!(matches!(
        counter.resolve_kit_conflict(&settle(&conflicts[0].record_id, " ")),
        Err(ArchiveError::BadRequest(_))
    ));
    assert!(matches!(
        refusal(
            counter.resolve_kit_conflict(&settle("no-such-record", "card taken back")).expect_err("unknown")
        ),
        Refusal::NotFound { .. }
    ));
    assert!(matches!(
        refusal(
            stranger
                .resolve_kit_conflict(&settle(&conflicts[0].record_id, "card taken back"))
                .expect_err("not the stranger's kit")
        ),
        Refusal::NotYourKit { .. }
    ));
    counter
        .resolve_kit_conflict(&settle(&conflicts[0].record_id, "card taken back from the family"))
        .expect("settle");
    counter.resolve_kit_conflict(&settle(&conflicts[0].record_id, "again")).expect("settled already");
    let open: Vec<String> = kit
        .kit_conflicts()
        .expect("conflicts")
        .into_iter()
        .filter(|c| c.lease_id == lease)
        .map(|c| c.record_id)
        .collect();
    assert_eq!(open, [conflicts[1].record_id.clone()], "only the unsettled conflict is open");

    let early = CheckinRequest {
        request_id: request_id("checkin"),
        lease_id: lease,
        records: records.len() as i64 + 1,
    };
    assert!(matches!(kit.checkin(&early).expect_err("a record missing"), ArchiveError::BadRequest(_)));
    let q = CheckinRequest { records: records.len() as i64, ..early };
    let done = kit.checkin(&q).expect("checkin");
    assert_eq!(done.not_seen, std::slice::from_ref(&absent));
    assert_eq!(done.back_to_stock, [stock_card]);
    let mut unused: Vec<String> =
        [&gets_premade, &absent, &stopped, &not_home].iter().map(|s| by_ssn(s).card_number).collect();
    unused.sort();
    assert_eq!(done.returned_numbers, unused);
    assert_eq!(done.released, 4);
    assert_eq!(kit.checkin(&q).expect("retry"), done);
    let late = record(
        lease,
        records.len() as i64 + 1,
        KitEvent::VisitFailed { ssn: absent.clone(), card_number: None, reason: "x".into() },
    );
    assert!(matches!(refusal(kit.sync_record(&late).expect_err("closed")), Refusal::NotFound { .. }));
    let again = counter.claim(&claim_request(&absent, None)).expect("released for the counter");
    assert!(unused.contains(&again.card_number), "a returned number is handed out again");
}

/// A kit back after its lease lapsed: a counter may have served the person meanwhile; the
/// number reserved for the kit was never handed to anyone else, and the card the kit made
/// is on record (not live) and listed for a supervisor.
pub fn a_lapsed_kit_lease_frees_the_person_but_never_the_number(
    kit: &dyn ProvincialArchive,
    counter: &dyn ProvincialArchive,
) {
    let ssn = fresh_ssn();
    let out = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![visit(&ssn, None)],
            lease_seconds: 1,
            record_key: Some(KitKey::ours().public_hex()),
        })
        .expect("checkout");
    let reserved = out.visits[0].clone();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let at_counter = counter.claim(&claim_request(&ssn, None)).expect("the lease lapsed");
    assert_ne!(
        at_counter.card_number, reserved.card_number,
        "the kit's number is not handed out while it is out"
    );
    let counter_card = counter.commit(&commit_request(at_counter.claim_id)).expect("commit");
    let made = KitEvent::Made {
        ssn: ssn.clone(),
        claim_id: reserved.claim_id,
        card_id: "110100D15600000500BF7C7A48FB4968".into(),
        atr: "3B00".into(),
    };
    let result = kit.sync_record(&record(out.lease_id, 1, made)).expect("sync");
    match result.outcome {
        RecordOutcome::Conflict { reason } => assert!(reason.contains(&counter_card.card_number), "{reason}"),
        other => panic!("{other:?}"),
    }
    let cards: Vec<(String, CardStatus)> =
        counter.lookup(&ssn).expect("lookup").cards.into_iter().map(|c| (c.card_number, c.status)).collect();
    assert_eq!(
        cards,
        [(counter_card.card_number, CardStatus::Made), (reserved.card_number, CardStatus::Recalled)]
    );
    let done = kit
        .checkin(&CheckinRequest { request_id: request_id("checkin"), lease_id: out.lease_id, records: 1 })
        .expect("checkin");
    assert!(done.returned_numbers.is_empty(), "the number is on a card: {:?}", done.returned_numbers);
}

/// A card spoiled on the visit (a device fault, a crash while it was made) reaches the archive
/// once, in order: the number stays reserved under the lease, nothing becomes live, and the
/// card made next under that number stands. A spoiled card under a number the lease did not
/// reserve for the person, or after a card carries it, is listed for a supervisor.
pub fn a_spoiled_card_is_recorded_once_and_its_number_stays_reserved(
    kit: &dyn ProvincialArchive,
    counter: &dyn ProvincialArchive,
) {
    let (ssn, other) = (fresh_ssn(), fresh_ssn());
    let out = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![visit(&ssn, None), visit(&other, None)],
            lease_seconds: 3600,
            record_key: Some(KitKey::ours().public_hex()),
        })
        .expect("checkout");
    let (mine, theirs) = (out.visits[0].clone(), out.visits[1].clone());
    let spoiled = |who: &str, number: &str, reason: &str| KitEvent::Spoiled {
        ssn: who.into(),
        card_number: number.into(),
        reason: reason.into(),
    };
    let first = record(out.lease_id, 1, spoiled(&ssn, &mine.card_number, "ribbon broke while printing"));
    let result = kit.sync_record(&first).expect("sync");
    assert_eq!(result.outcome, RecordOutcome::Applied { card: None });
    assert_eq!(kit.sync_record(&first).expect("retry"), result, "a retry applies nothing twice");
    assert!(counter.lookup(&ssn).expect("lookup").cards.is_empty(), "nothing becomes live");
    assert!(
        matches!(
            refusal(counter.claim(&claim_request(&ssn, None)).expect_err("held")),
            Refusal::AlreadyClaimed { .. }
        ),
        "the person stays the kit's"
    );
    let elsewhere = counter.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    assert_ne!(elsewhere.card_number, mine.card_number, "the spoiled card's number stays reserved");
    let foreign = record(out.lease_id, 2, spoiled(&other, &mine.card_number, "feeder jam"));
    let made = record(
        out.lease_id,
        3,
        KitEvent::Made {
            ssn: ssn.clone(),
            claim_id: mine.claim_id,
            card_id: "110100D15600000500BF7C7A48FB4969".into(),
            atr: "3B00".into(),
        },
    );
    let late = record(out.lease_id, 4, spoiled(&ssn, &mine.card_number, "chip does not read back"));
    let outcomes: Vec<RecordOutcome> =
        [&foreign, &made, &late].iter().map(|r| kit.sync_record(r).expect("sync").outcome).collect();
    assert!(matches!(&outcomes[0], RecordOutcome::Conflict { reason } if reason.contains("did not reserve")));
    assert!(
        matches!(&outcomes[1], RecordOutcome::Applied { card: Some(c) } if c.card_number == mine.card_number)
    );
    assert!(matches!(&outcomes[2], RecordOutcome::Conflict { .. }), "{outcomes:?}");
    let cards: Vec<(String, CardStatus)> =
        counter.lookup(&ssn).expect("lookup").cards.into_iter().map(|c| (c.card_number, c.status)).collect();
    assert_eq!(cards, [(mine.card_number.clone(), CardStatus::Made)], "one card under the number");
    let listed: Vec<(String, Option<String>)> = kit
        .kit_conflicts()
        .expect("conflicts")
        .into_iter()
        .filter(|c| c.lease_id == out.lease_id)
        .map(|c| (c.record_id, c.card_number))
        .collect();
    assert_eq!(
        listed,
        [
            (foreign.record_id.clone(), Some(mine.card_number.clone())),
            (late.record_id.clone(), Some(mine.card_number.clone()))
        ]
    );
    let done = kit
        .checkin(&CheckinRequest { request_id: request_id("checkin"), lease_id: out.lease_id, records: 4 })
        .expect("checkin");
    assert_eq!(done.returned_numbers, [theirs.card_number], "only the unused number goes back");
    assert!(done.not_seen.is_empty(), "{:?}", done.not_seen);
}

/// The replacement stop of `card` for the holder at the counter, as a re-issue sends it.
pub fn replacement_stop(card: &str) -> StopRequest {
    StopRequest {
        for_holder: Some(HolderAtCounter {
            why: HolderStop::Replacement,
            operator: "op-1".into(),
            id_checked: true,
        }),
        ..stop_request(card, crate::CardEnd::Stopped)
    }
}

/// A restore of `card` under `claim_id` by supervisor `sup-1`, the new card rejected.
pub fn restore_request(claim_id: i64, card: &str) -> RestoreRequest {
    RestoreRequest {
        request_id: request_id("restore"),
        claim_id,
        card_number: card.into(),
        supervisor: "sup-1".into(),
        reason: "the new card failed its chip check".into(),
        card: CardFate::Rejected,
    }
}

/// A person with a live card, re-issued by `a`: the claim and the old card stopped for it.
fn stranded(a: &dyn ProvincialArchive, lease_seconds: i64) -> (String, String, crate::Claim) {
    let ssn = fresh_ssn();
    let first = a.claim(&claim_request(&ssn, None)).expect("claim");
    let old = a.commit(&commit_request(first.claim_id)).expect("commit").card_number;
    let q = ClaimRequest { lease_seconds, ..claim_request(&ssn, Some(&old)) };
    let claim = a.claim(&q).expect("re-issue claim");
    assert_eq!(a.stop_card(&replacement_stop(&old)).expect("stop").status, CardStatus::Stopped);
    (ssn, old, claim)
}

/// A re-issue whose new card could not be made is given up only within its claim: by the
/// station that holds it, for the card its replacement stopped. The card is live again as it
/// was, the claim released; a retry gets the stored answer; nothing else may restore it.
pub fn a_reissue_is_restored_only_within_its_claim(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let (ssn, old, claim) = stranded(a, 600);
    let p = a.lookup(&ssn).expect("lookup");
    assert!(p.live_card().is_none(), "stranded: no live card");
    assert_eq!(p.live_claim.as_ref().map(|c| c.claim_id), Some(claim.claim_id));

    // Another station: not its claim; nor may it claim the person meanwhile.
    match refusal(b.restore_card(&restore_request(claim.claim_id, &old)).expect_err("b's restore")) {
        Refusal::ClaimNotLive { state, .. } => assert_eq!(state, "held by station-a"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refusal(b.claim(&claim_request(&ssn, None)).expect_err("b's claim")),
        Refusal::AlreadyClaimed { .. }
    ));
    // Another card, or a card of another claim: not this claim's replacement.
    let (_, other_old, other_claim) = stranded(a, 600);
    match refusal(a.restore_card(&restore_request(claim.claim_id, &other_old)).expect_err("another card")) {
        Refusal::NotRestorable { card_number, claim_id, .. } => {
            assert_eq!((card_number.as_str(), claim_id), (other_old.as_str(), claim.claim_id))
        }
        other => panic!("{other:?}"),
    }
    // A card stopped otherwise (not as this claim's replacement) is not restored by it.
    let loss_ssn = fresh_ssn();
    let c = a.claim(&claim_request(&loss_ssn, None)).expect("claim");
    let lost = a.commit(&commit_request(c.claim_id)).expect("commit").card_number;
    let reissue = a.claim(&claim_request(&loss_ssn, Some(&lost))).expect("re-issue claim");
    a.stop_card(&stop_request(&lost, crate::CardEnd::Stopped)).expect("stopped, not as a replacement");
    match refusal(a.restore_card(&restore_request(reissue.claim_id, &lost)).expect_err("not its stop")) {
        Refusal::NotRestorable { why, .. } => assert!(why.contains("not stopped for this claim"), "{why}"),
        other => panic!("{other:?}"),
    }
    // A restore names the supervisor and why.
    let anonymous = RestoreRequest { supervisor: " ".into(), ..restore_request(claim.claim_id, &old) };
    assert!(matches!(a.restore_card(&anonymous), Err(ArchiveError::BadRequest(_))));

    let q = restore_request(claim.claim_id, &old);
    let restored = a.restore_card(&q).expect("restore");
    assert_eq!((restored.card_number.as_str(), restored.status), (old.as_str(), CardStatus::Made));
    assert_eq!(
        a.restore_card(&q).expect("replay").status,
        CardStatus::Made,
        "a replay gets the stored answer"
    );
    let p = a.lookup(&ssn).expect("lookup");
    assert_eq!(
        p.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect::<Vec<_>>(),
        [(old.clone(), CardStatus::Made)]
    );
    assert!(p.live_claim.is_none(), "the claim is released");
    match refusal(a.restore_card(&restore_request(claim.claim_id, &old)).expect_err("again")) {
        Refusal::ClaimNotLive { state, .. } => assert_eq!(state, "released"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refusal(a.commit(&commit_request(claim.claim_id)).expect_err("the claim is gone")),
        Refusal::ClaimNotLive { .. }
    ));
    let other_body = RestoreRequest { reason: "another reason altogether".into(), ..q };
    assert!(matches!(
        refusal(a.restore_card(&other_body).expect_err("same id, another body")),
        Refusal::RequestIdReused { .. }
    ));
    // The restored card is the person's one live card: a new card only as a re-issue of it.
    assert!(matches!(
        refusal(b.claim(&claim_request(&ssn, None)).expect_err("live")),
        Refusal::LiveCard { .. }
    ));
    a.restore_card(&restore_request(other_claim.claim_id, &other_old)).expect("the other restore");
}

/// A restore after the claim lapsed, or after the new card was committed, is refused: the old
/// card stays stopped.
pub fn a_restore_after_the_lapse_or_the_commit_is_refused(a: &dyn ProvincialArchive) {
    let (ssn, old, claim) = stranded(a, 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    match refusal(a.restore_card(&restore_request(claim.claim_id, &old)).expect_err("lapsed")) {
        Refusal::ClaimNotLive { state, .. } => assert_eq!(state, "expired"),
        other => panic!("{other:?}"),
    }
    let p = a.lookup(&ssn).expect("lookup");
    assert_eq!(p.cards.iter().map(|c| c.status).collect::<Vec<_>>(), [CardStatus::Stopped]);

    let (ssn, old, claim) = stranded(a, 600);
    let new = a.commit(&commit_request(claim.claim_id)).expect("the new card");
    match refusal(a.restore_card(&restore_request(claim.claim_id, &old)).expect_err("committed")) {
        Refusal::ClaimNotLive { state, .. } => assert_eq!(state, "committed"),
        other => panic!("{other:?}"),
    }
    let p = a.lookup(&ssn).expect("lookup");
    let statuses: Vec<_> = p.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(statuses, [(old, CardStatus::Stopped), (new.card_number, CardStatus::Made)]);
}

/// At the same moment: the holding station restores, another station tries to restore the card
/// and to claim the person: exactly the restore stands, the others are refused. Then a restore
/// and the commit of the new card race at the holding station: exactly one stands.
pub fn a_restore_and_a_claim_or_commit_at_the_same_moment_one_outcome(
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
) {
    enum Call {
        Restore,
        Claim,
        Commit,
    }
    let a = open("station-a");
    let race = |calls: Vec<(&str, Call)>, claim_id: i64, ssn: &str, old: &str| {
        let handles: Vec<_> = calls.iter().map(|(station, _)| open(station)).collect();
        let start = std::sync::Barrier::new(calls.len());
        std::thread::scope(|s| {
            let running: Vec<_> = calls
                .iter()
                .zip(&handles)
                .map(|((_, call), h)| {
                    let start = &start;
                    s.spawn(move || {
                        start.wait();
                        match call {
                            Call::Restore => {
                                h.restore_card(&restore_request(claim_id, old)).map(|c| c.card_number)
                            }
                            Call::Claim => h.claim(&claim_request(ssn, None)).map(|c| c.card_number),
                            Call::Commit => h.commit(&commit_request(claim_id)).map(|c| c.card_number),
                        }
                    })
                })
                .collect();
            running.into_iter().map(|t| t.join().expect("counter")).collect::<Vec<_>>()
        })
    };
    for _ in 0..3 {
        let (ssn, old, claim) = stranded(a.as_ref(), 600);
        let outcomes = race(
            vec![("station-b", Call::Restore), ("station-a", Call::Restore), ("station-b", Call::Claim)],
            claim.claim_id,
            &ssn,
            &old,
        );
        let mut outcomes = outcomes.into_iter();
        let (b_restore, a_restore, b_claim) =
            (outcomes.next().expect("b"), outcomes.next().expect("a"), outcomes.next().expect("claim"));
        assert_eq!(a_restore.expect("the holding station's restore"), old);
        assert!(matches!(refusal(b_restore.expect_err("b's restore")), Refusal::ClaimNotLive { .. }));
        assert!(matches!(
            refusal(b_claim.expect_err("b's claim")),
            Refusal::AlreadyClaimed { .. } | Refusal::LiveCard { .. }
        ));
        let p = a.lookup(&ssn).expect("lookup");
        assert_eq!(p.live_card().map(|c| c.card_number.clone()), Some(old));
        assert!(p.live_claim.is_none());
    }
    for _ in 0..3 {
        let (ssn, old, claim) = stranded(a.as_ref(), 600);
        let outcomes =
            race(vec![("station-a", Call::Restore), ("station-a", Call::Commit)], claim.claim_id, &ssn, &old);
        let won: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).cloned().collect();
        assert_eq!(won.len(), 1, "exactly one stands");
        for o in outcomes.into_iter().filter(Result::is_err) {
            assert!(matches!(refusal(o.expect_err("lost")), Refusal::ClaimNotLive { .. }));
        }
        let p = a.lookup(&ssn).expect("lookup");
        let live: Vec<_> =
            p.cards.iter().filter(|c| c.status.is_live()).map(|c| c.card_number.clone()).collect();
        assert_eq!(live, won, "the one that stood is the one live card");
        assert!(p.live_claim.is_none());
    }
}

/// A temporary loss of `card` (holder `ssn`) reported to a station.
pub fn suspend_request(
    card: &str,
    ssn: &str,
    channel: crate::LossChannel,
    seconds: i64,
) -> crate::SuspendRequest {
    crate::SuspendRequest {
        request_id: request_id("suspend"),
        card_number: card.into(),
        ssn: ssn.into(),
        channel,
        operator: "op-3".into(),
        id_checked: channel == crate::LossChannel::Counter,
        seconds,
    }
}

/// The holder of `card` (`ssn`) at a counter, ID checked, asks to lift its temporary loss.
pub fn lift_request(card: &str, ssn: &str) -> crate::LiftRequest {
    crate::LiftRequest {
        request_id: request_id("lift"),
        card_number: card.into(),
        ssn: ssn.into(),
        operator: "op-4".into(),
        id_checked: true,
    }
}

/// A temporary loss (口头挂失) suspends a live card: by phone only at the station that answers
/// for it, at any counter for the holder (RULE 10); the card stays the person's live card (RULE
/// 1: no new card); a second report is refused with the first; the holder at a counter lifts it
/// (解挂); one that lapses leaves the card live; a formal loss (a stop) ends it for good and is
/// never lifted; then a new card may be made.
pub fn a_temporary_loss_suspends_the_live_card_until_lifted_lapsed_or_made_formal(
    a: &dyn ProvincialArchive,
    b: &dyn ProvincialArchive,
) {
    use crate::LossChannel::{Counter, Phone};
    let (ssn, card) = premade(a);
    let in_force = |who: &dyn ProvincialArchive| who.lookup(&ssn).expect("lookup").suspensions;
    match refusal(b.suspend_card(&suspend_request(&card, &ssn, Phone, 600)).expect_err("b by phone")) {
        Refusal::NotYourCard { station, .. } => assert_eq!(station, "station-a"),
        other => panic!("{other:?}"),
    }
    let stranger = fresh_ssn();
    assert!(matches!(
        refusal(a.suspend_card(&suspend_request(&card, &stranger, Phone, 600)).expect_err("misheard")),
        Refusal::CardMismatch { .. }
    ));
    let unchecked = crate::SuspendRequest { id_checked: false, ..suspend_request(&card, &ssn, Counter, 600) };
    assert!(matches!(b.suspend_card(&unchecked), Err(ArchiveError::BadRequest(_))), "counter without ID");
    let too_long = suspend_request(&card, &ssn, Phone, crate::MAX_SUSPENSION_SECONDS + 1);
    assert!(matches!(a.suspend_card(&too_long), Err(ArchiveError::BadRequest(_))));
    assert!(in_force(a).is_empty(), "nothing suspended by the refusals");

    let q = suspend_request(&card, &ssn, Phone, 600);
    let s = a.suspend_card(&q).expect("a takes the call");
    assert_eq!((s.card_number.as_str(), s.station.as_str(), s.channel), (card.as_str(), "station-a", Phone));
    assert!((599..=601).contains(&(s.until - s.since)), "{s:?}");
    assert_eq!(a.suspend_card(&q).expect("a retry"), s, "a retry gets the first answer");
    assert_eq!(in_force(b), vec![s.clone()], "every station sees it");
    let person = b.lookup(&ssn).expect("lookup");
    assert_eq!(
        person.live_card().map(|c| c.card_number.as_str()),
        Some(card.as_str()),
        "still live (RULE 1)"
    );
    assert!(matches!(
        refusal(b.claim(&claim_request(&ssn, None)).expect_err("no new card")),
        Refusal::LiveCard { .. }
    ));
    match refusal(b.suspend_card(&suspend_request(&card, &ssn, Counter, 600)).expect_err("twice")) {
        Refusal::AlreadySuspended { station, until, .. } => {
            assert_eq!((station.as_str(), until), ("station-a", s.until))
        }
        other => panic!("{other:?}"),
    }

    let unchecked = crate::LiftRequest { id_checked: false, ..lift_request(&card, &ssn) };
    assert!(matches!(b.lift_suspension(&unchecked), Err(ArchiveError::BadRequest(_))));
    assert!(matches!(
        refusal(b.lift_suspension(&lift_request(&card, &stranger)).expect_err("not the holder")),
        Refusal::CardMismatch { .. }
    ));
    assert_eq!(in_force(a).len(), 1, "still in force");
    let lift = lift_request(&card, &ssn);
    assert_eq!(b.lift_suspension(&lift).expect("lifted at b's counter"), s);
    assert_eq!(b.lift_suspension(&lift).expect("a retry"), s);
    assert!(in_force(a).is_empty(), "lifted");
    match refusal(a.lift_suspension(&lift_request(&card, &ssn)).expect_err("lifted already")) {
        Refusal::NotSuspended { why, .. } => assert_eq!(why, "lifted"),
        other => panic!("{other:?}"),
    }

    b.suspend_card(&suspend_request(&card, &ssn, Counter, 1)).expect("a second loss, one second");
    assert_eq!(in_force(a).len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(in_force(a).is_empty(), "lapsed by itself");
    assert!(a.lookup(&ssn).expect("lookup").live_card().is_some(), "live again");
    match refusal(a.lift_suspension(&lift_request(&card, &ssn)).expect_err("lapsed")) {
        Refusal::NotSuspended { why, .. } => assert!(why.starts_with("lapsed"), "{why}"),
        other => panic!("{other:?}"),
    }

    a.suspend_card(&suspend_request(&card, &ssn, Phone, 600)).expect("a third loss");
    let formal = StopRequest { reason: "loss".into(), ..stop_request(&card, crate::CardEnd::Stopped) };
    assert_eq!(a.stop_card(&formal).expect("made formal").status, CardStatus::Stopped);
    assert!(in_force(b).is_empty(), "a formal loss ends the temporary one");
    match refusal(b.lift_suspension(&lift_request(&card, &ssn)).expect_err("formal")) {
        Refusal::NotSuspended { why, .. } => assert!(why.starts_with("made formal"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refusal(a.suspend_card(&suspend_request(&card, &ssn, Phone, 600)).expect_err("stopped")),
        Refusal::NotLive { status: CardStatus::Stopped, .. }
    ));
    let c = b.claim(&claim_request(&ssn, None)).expect("a new card after the formal loss");
    b.commit(&commit_request(c.claim_id)).expect("committed");
}

/// Stations report the same card lost at the same moment, each with its own request, and one
/// station's request is sent twice at once (a retry racing its first): the card is suspended
/// once; the twins get one answer; every other report is refused with the loss in force.
pub fn stations_reporting_the_same_card_lost_at_once_suspend_it_once(
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
) {
    use crate::LossChannel::{Counter, Phone};
    let a = open("station-a");
    let (ssn, card) = premade(a.as_ref());
    let twin = suspend_request(&card, &ssn, Phone, 600);
    let reports: Vec<(Box<dyn ProvincialArchive>, crate::SuspendRequest)> = vec![
        (open("station-a"), twin.clone()),
        (open("station-a"), twin.clone()),
        (open("station-b"), suspend_request(&card, &ssn, Counter, 600)),
        (open("station-b"), suspend_request(&card, &ssn, Counter, 900)),
        (open("station-a"), suspend_request(&card, &ssn, Counter, 300)),
    ];
    let start = std::sync::Barrier::new(reports.len());
    let outcomes: Vec<Result<crate::Suspension, ArchiveError>> = std::thread::scope(|s| {
        let running: Vec<_> = reports
            .iter()
            .map(|(station, q)| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    station.suspend_card(q)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().expect("counter")).collect()
    });
    let twins = [&outcomes[0], &outcomes[1]].map(|o| o.as_ref().map_err(|e| e.to_string()).cloned());
    assert_eq!(twins[0], twins[1], "one request, one answer");
    let won: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert!(won.len() == 1 || (won.len() == 2 && twins[0].is_ok()), "{outcomes:?}");
    let in_force = a.lookup(&ssn).expect("lookup").suspensions;
    assert_eq!(in_force, vec![won[0].clone()], "suspended once");
    for o in outcomes.into_iter().filter(Result::is_err) {
        match refusal(o.expect_err("lost")) {
            Refusal::AlreadySuspended { until, .. } => assert_eq!(until, in_force[0].until),
            other => panic!("a loser is refused with the loss in force, got {other:?}"),
        }
    }
}

/// The card's station makes a loss formal while another station's counter reports it lost for a
/// while and a third lifts a loss, all at the same moment, each twice with one request id:
/// whatever the order, the card ends stopped with no loss in force, and every answer is the
/// first answer to its request id.
pub fn a_formal_loss_racing_a_temporary_one_and_its_lift_ends_stopped(
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
) {
    use crate::LossChannel::Counter;
    let a = open("station-a");
    let (ssn, card) = premade(a.as_ref());
    a.suspend_card(&suspend_request(&card, &ssn, Counter, 600)).expect("a first loss");
    let formal = StopRequest { reason: "loss".into(), ..stop_request(&card, crate::CardEnd::Stopped) };
    let temporary = suspend_request(&card, &ssn, Counter, 600);
    let lift = lift_request(&card, &ssn);
    let barrier = std::sync::Barrier::new(6);
    let start = &barrier;
    let answers: Vec<String> = std::thread::scope(|s| {
        let mut running = Vec::new();
        for _ in 0..2 {
            let (q, station) = (formal.clone(), open("station-a"));
            running.push(s.spawn(move || {
                start.wait();
                format!("stop {:?}", station.stop_card(&q).map_err(|e| e.to_string()))
            }));
            let (q, station) = (temporary.clone(), open("station-b"));
            running.push(s.spawn(move || {
                start.wait();
                format!("suspend {:?}", station.suspend_card(&q).map_err(|e| e.to_string()))
            }));
            let (q, station) = (lift.clone(), open("station-b"));
            running.push(s.spawn(move || {
                start.wait();
                format!("lift {:?}", station.lift_suspension(&q).map_err(|e| e.to_string()))
            }));
        }
        running.into_iter().map(|t| t.join().expect("counter")).collect()
    });
    for kind in ["stop", "suspend", "lift"] {
        let twins: Vec<&String> = answers.iter().filter(|a| a.starts_with(kind)).collect();
        assert_eq!(twins[0], twins[1], "one request id, one answer: {answers:?}");
    }
    assert!(answers.iter().any(|a| a.starts_with("stop Ok")), "the formal loss stands: {answers:?}");
    let person = a.lookup(&ssn).expect("lookup");
    assert_eq!(person.cards[0].status, CardStatus::Stopped);
    assert!(person.suspensions.is_empty(), "no loss in force on a stopped card: {person:?}");
    match refusal(a.lift_suspension(&lift_request(&card, &ssn)).expect_err("stopped")) {
        Refusal::NotSuspended { .. } | Refusal::NotLive { .. } => {}
        other => panic!("{other:?}"),
    }
}

/// A custody approval of `card` for the custodian 李四 (masked ID), until `valid_until`.
pub fn custody_request(card: &str, valid_until: &str) -> crate::custody::CustodyRequest {
    crate::custody::CustodyRequest {
        request_id: request_id("custody"),
        approval: crate::custody::CustodyApproval {
            card_number: card.into(),
            holder_group: "disabled".into(),
            custodian: "李四".into(),
            custodian_id: "440524********0014".into(),
            approved_by: "sup-1".into(),
            reason: "重度残疾, 由女儿代管".into(),
            valid_until: valid_until.into(),
        },
    }
}

/// RULE 4 for outreach kits: only the station that answers for a live card records its custody
/// approvals at the province (two stations at the same moment: the other is refused; two
/// counters of that station: both recorded); a kit's checkout carries the card's current
/// approvals, and a hand-over to a custodian stands only on an approval the province holds for
/// that card and custodian on that day: anything else is a conflict and the card stays in stock.
pub fn a_kit_hands_a_card_to_a_custodian_only_with_an_approval_the_province_holds(
    kit: &dyn ProvincialArchive,
    open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>,
) {
    let (owner, other) = (open("station-b"), open("station-a"));
    let (holder, card) = premade(owner.as_ref());
    let (holder2, card2) = premade(owner.as_ref());
    let today = applicant::days::today().compact();
    assert!(matches!(
        owner.record_custody(&crate::custody::CustodyRequest {
            approval: crate::custody::CustodyApproval {
                holder_group: "neighbour".into(),
                ..custody_request(&card, "20991231").approval
            },
            ..custody_request(&card, "20991231")
        }),
        Err(ArchiveError::BadRequest(_))
    ));
    assert!(matches!(
        refusal(owner.record_custody(&custody_request("B99999999", "20991231")).expect_err("unknown")),
        Refusal::NotFound { .. }
    ));
    let ended = owner.record_custody(&custody_request(&card, "20200101")).expect("an approval that ended");
    // The owner's two counters and another station, at the same moment.
    let asks = [
        (open("station-b"), custody_request(&card, "20991231")),
        (open("station-b"), custody_request(&card, "20981231")),
        (open("station-a"), custody_request(&card, "20991231")),
    ];
    let start = std::sync::Barrier::new(asks.len());
    let answers: Vec<_> = std::thread::scope(|s| {
        let running: Vec<_> = asks
            .iter()
            .map(|(station, q)| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    station.record_custody(q)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().expect("counter")).collect()
    });
    let (current, later) = match (&answers[0], &answers[1]) {
        (Ok(x), Ok(y)) => (x.clone(), y.clone()),
        other => panic!("both counters of the owner record: {other:?}"),
    };
    assert_ne!(current.approval_id, later.approval_id);
    assert_eq!((current.station.as_str(), later.station.as_str()), ("station-b", "station-b"));
    match &answers[2] {
        Err(ArchiveError::Refused(Refusal::NotYourCard { station, .. })) => assert_eq!(station, "station-b"),
        other => panic!("another station records no custody of this card: {other:?}"),
    }
    assert_eq!(
        owner.record_custody(&asks[0].1).expect("retry").approval_id,
        current.approval_id,
        "a retry gets the first answer"
    );
    assert!(other.record_custody(&custody_request(&card2, "20991231")).is_err(), "nor of the second card");

    let out = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![visit(&holder, Some(&card)), visit(&holder2, Some(&card2))],
            lease_seconds: 3600,
            record_key: Some(KitKey::ours().public_hex()),
        })
        .expect("checkout");
    let carried: Vec<i64> = out.visits[0].custody.iter().map(|c| c.approval_id).collect();
    let mut expected = vec![current.approval_id, later.approval_id];
    expected.sort();
    assert_eq!(carried, expected, "the current approvals, not the one that ended ({})", ended.approval_id);
    assert!(out.visits[1].custody.is_empty());

    let handed = |ssn: &str, card: &str, approval_id: i64, name: &str| KitEvent::HandedOver {
        ssn: ssn.into(),
        card_number: card.into(),
        signer: name.into(),
        signature_sm3: "ab".repeat(32),
        custodian: Some(crate::custody::KitCustodian {
            approval_id,
            name: name.into(),
            id_number: "440524********0014".into(),
            on: today.clone(),
        }),
    };
    let events = [
        // Another card's approval named for the second card.
        handed(&holder2, &card2, current.approval_id, "李四"),
        // An approval that ended, then someone the approval does not name.
        handed(&holder, &card, ended.approval_id, "李四"),
        handed(&holder, &card, current.approval_id, "王五"),
        handed(&holder, &card, current.approval_id, "李四"),
    ];
    let outcomes: Vec<RecordOutcome> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| kit.sync_record(&record(out.lease_id, i as i64 + 1, e)).expect("sync").outcome)
        .collect();
    for (i, o) in outcomes[..3].iter().enumerate() {
        match o {
            RecordOutcome::Conflict { reason } => {
                assert!(reason.contains("custodian") && reason.contains("take it back"), "{i}: {reason}")
            }
            other => panic!("record {i} must not stand: {other:?}"),
        }
    }
    match &outcomes[3] {
        RecordOutcome::Applied { card: Some(c) } => assert_eq!(c.status, CardStatus::Issued),
        other => panic!("the approved custodian's hand-over stands: {other:?}"),
    }
    assert_eq!(owner.lookup(&holder2).expect("lookup").cards[0].status, CardStatus::Made, "still in stock");
    // The same record id again with other content (a store changed after it was sent): refused,
    // and nothing changes.
    let first = kit
        .sync_record(&record(
            out.lease_id,
            5,
            KitEvent::VisitFailed {
                ssn: holder2.clone(),
                card_number: None,
                reason: "nobody at home".into(),
            },
        ))
        .expect("sync");
    let mut again = record(
        out.lease_id,
        5,
        KitEvent::VisitFailed { ssn: holder2.clone(), card_number: None, reason: "moved away".into() },
    );
    again.record_id = first.record_id.clone();
    assert!(matches!(refusal(kit.sync_record(&again).expect_err("altered")), Refusal::RecordAltered { .. }));
    let moved = KitRecord {
        seq: 6,
        ..record(
            out.lease_id,
            5,
            KitEvent::VisitFailed {
                ssn: holder2.clone(),
                card_number: None,
                reason: "nobody at home".into(),
            },
        )
    };
    let moved = KitRecord { record_id: first.record_id.clone(), ..moved };
    assert!(matches!(refusal(kit.sync_record(&moved).expect_err("moved")), Refusal::RecordAltered { .. }));
    let done = kit
        .checkin(&CheckinRequest { request_id: request_id("checkin"), lease_id: out.lease_id, records: 5 })
        .expect("checkin");
    assert_eq!(done.back_to_stock, [card2]);
}

/// A checkout brings the kit's record-signing key (a P-256 point) or is refused; a record
/// stands only with a signature by that key over its content: one without, one altered after
/// it was signed (a store opened with the passphrase, changed and re-sealed), one signed by
/// another key, are each refused with [`Refusal::RecordNotSigned`] and change nothing; the
/// signed record then applies, once.
pub fn a_kit_record_stands_only_signed_by_the_key_sent_at_checkout(
    kit: &dyn ProvincialArchive,
    counter: &dyn ProvincialArchive,
) {
    let (ssn, card) = premade(counter);
    let q = |record_key: Option<String>| CheckoutRequest {
        request_id: request_id("checkout"),
        visits: vec![visit(&ssn, Some(&card))],
        lease_seconds: 3600,
        record_key,
    };
    for key in [None, Some("04ab".to_string()), Some("zz".repeat(65)), Some("04".repeat(65))] {
        let e = kit.checkout(&q(key.clone())).expect_err("no usable key");
        assert!(
            matches!(&e, ArchiveError::BadRequest(m) if m.contains("record-signing key")),
            "{key:?}: {e}"
        );
    }
    let out = kit.checkout(&q(Some(KitKey::ours().public_hex().to_uppercase()))).expect("checkout");
    assert_eq!(out.visits.len(), 1, "{:?}", out.refused);
    let handed = KitEvent::HandedOver {
        ssn: ssn.clone(),
        card_number: card.clone(),
        signer: "本人".into(),
        signature_sm3: "ab".repeat(32),
        custodian: None,
    };
    let signed = record(out.lease_id, 1, handed.clone());
    let unsigned = KitRecord { signature: None, ..signed.clone() };
    let altered = KitRecord {
        event: KitEvent::HandedOver {
            ssn: ssn.clone(),
            card_number: card.clone(),
            signer: "someone else".into(),
            signature_sm3: "ab".repeat(32),
            custodian: None,
        },
        ..signed.clone()
    };
    let moved = KitRecord { seq: 2, ..signed.clone() };
    let foreign = KitKey::new(2).sign(KitRecord { signature: None, ..signed.clone() });
    let garbage = KitRecord { signature: Some("00".repeat(64)), ..signed.clone() };
    let not_hex = KitRecord { signature: Some("signed".into()), ..signed.clone() };
    for (what, r) in [
        ("unsigned", &unsigned),
        ("altered", &altered),
        ("moved", &moved),
        ("another key", &foreign),
        ("zero", &garbage),
        ("not hex", &not_hex),
    ] {
        match refusal(kit.sync_record(r).expect_err(what)) {
            Refusal::RecordNotSigned { record_id, why } => {
                assert_eq!(record_id, signed.record_id, "{what}");
                assert!(!why.is_empty(), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(
            counter.lookup(&ssn).expect("lookup").cards[0].status,
            CardStatus::Made,
            "{what}: in stock"
        );
    }
    let e = kit.sync_record(&unsigned).expect_err("unsigned");
    assert!(e.to_string().contains("not made by this kit's token"), "{e}");
    let first = kit.sync_record(&signed).expect("signed by the kit's key");
    assert!(
        matches!(&first.outcome, RecordOutcome::Applied { card: Some(c) } if c.status == CardStatus::Issued)
    );
    assert_eq!(kit.sync_record(&signed).expect("retry"), first, "a retry applies nothing twice");
    assert!(
        matches!(refusal(kit.sync_record(&altered).expect_err("altered")), Refusal::RecordAltered { .. }),
        "seen before with other content"
    );
    let done = kit
        .checkin(&CheckinRequest { request_id: request_id("checkin"), lease_id: out.lease_id, records: 1 })
        .expect("checkin");
    assert!(done.back_to_stock.is_empty());
}

/// Handles of the kit and of another kit of the same station send the same record id at the
/// same moment (a sync retried while the first is still running; a second kit replaying
/// what it copied, signed by its own key): the record applies once, every handle of the kit
/// gets that one result, the other kit is refused.
pub fn kits_racing_the_same_record_id_apply_it_once(
    open_kit: &dyn Fn(&str, &str) -> Box<dyn ProvincialArchive>,
    counter: &dyn ProvincialArchive,
) {
    let (ssn, card) = premade(counter);
    let kit = open_kit("kit-1", "station-b");
    let out = kit
        .checkout(&CheckoutRequest {
            request_id: request_id("checkout"),
            visits: vec![visit(&ssn, Some(&card))],
            lease_seconds: 3600,
            record_key: Some(KitKey::ours().public_hex()),
        })
        .expect("checkout");
    let signed = record(
        out.lease_id,
        1,
        KitEvent::HandedOver {
            ssn: ssn.clone(),
            card_number: card.clone(),
            signer: "本人".into(),
            signature_sm3: "cd".repeat(32),
            custodian: None,
        },
    );
    let copied = KitKey::new(3).sign(KitRecord { signature: None, ..signed.clone() });
    let senders: Vec<(Box<dyn ProvincialArchive>, &KitRecord)> = [
        ("kit-1", &signed),
        ("kit-2", &copied),
        ("kit-1", &signed),
        ("kit-2", &copied),
        ("kit-1", &signed),
        ("kit-1", &signed),
    ]
    .into_iter()
    .map(|(id, r)| (open_kit(id, "station-b"), r))
    .collect();
    let start = std::sync::Barrier::new(senders.len());
    let outcomes: Vec<Result<crate::kit::RecordResult, ArchiveError>> = std::thread::scope(|s| {
        let running: Vec<_> = senders
            .iter()
            .map(|(handle, r)| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    handle.sync_record(r)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().expect("sender")).collect()
    });
    let mut first = None;
    for (o, (_, r)) in outcomes.into_iter().zip(&senders) {
        if std::ptr::eq(*r, &copied) {
            let r = refusal(o.expect_err("the other kit"));
            assert!(matches!(r, Refusal::NotYourKit { .. } | Refusal::NotFound { .. }), "{r:?}");
            continue;
        }
        let got = o.expect("the kit's record applies");
        assert!(
            matches!(&got.outcome, RecordOutcome::Applied { card: Some(c) } if c.status == CardStatus::Issued)
        );
        assert_eq!(
            first.get_or_insert_with(|| got.clone()),
            &got,
            "every handle of the kit gets the one result"
        );
    }
    assert_eq!(counter.lookup(&ssn).expect("lookup").cards[0].status, CardStatus::Issued);
    kit.checkin(&CheckinRequest { request_id: request_id("checkin"), lease_id: out.lease_id, records: 1 })
        .expect("checkin: one record");
}
