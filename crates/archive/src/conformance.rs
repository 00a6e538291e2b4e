//! One suite for every implementation of [`ProvincialArchive`] (SQLite here, the PostgreSQL
//! service in the `provincial` crate): the rules of workflows.md that keep a person to one
//! live card. `open(station)` must give a handle on the same store as that station.
//! Persons are fresh per run, so the suite may share a store with other tests.

use crate::{
    ArchiveError, CardStatus, ClaimRequest, CommitRequest, DeceasedRequest, ProvincialArchive, Refusal,
    ReleaseRequest, StopRequest,
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

fn commit_request(claim_id: i64) -> CommitRequest {
    CommitRequest {
        request_id: request_id("commit"),
        claim_id,
        card_id: "110100D15600000500BF7C7A48FB4966".into(),
        atr: "3B8E0180730000C05800BF7C7A48FB4966C1".into(),
    }
}

fn refusal(e: ArchiveError) -> Refusal {
    match e {
        ArchiveError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Runs every check.
pub fn run_all(open: &dyn Fn(&str) -> Box<dyn ProvincialArchive>) {
    let a = open("station-a");
    let b = open("station-b");
    one_live_card_per_person(a.as_ref(), b.as_ref());
    retries_with_the_same_request_id_get_the_first_answer(a.as_ref());
    released_numbers_are_reused_first(a.as_ref());
    reissue_stops_the_old_card_first(a.as_ref());
    deceased_cancels_and_refuses(a.as_ref(), b.as_ref());
    claims_lapse_after_their_lease(a.as_ref(), b.as_ref());
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
    let reused =
        ReleaseRequest { request_id: c.request_id.clone(), claim_id: first.claim_id, reason: "x".into() };
    assert!(matches!(refusal(a.release(&reused).expect_err("id reused")), Refusal::RequestIdReused { .. }));
}

/// A released claim's number goes to the next claim: no gaps.
pub fn released_numbers_are_reused_first(a: &dyn ProvincialArchive) {
    let first = a.claim(&claim_request(&fresh_ssn(), None)).expect("claim");
    let release = ReleaseRequest {
        request_id: request_id("release"),
        claim_id: first.claim_id,
        reason: "chip failed".into(),
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
    let stop = StopRequest {
        request_id: request_id("stop"),
        card_number: old.card_number.clone(),
        reason: "re-issue".into(),
    };
    assert_eq!(a.stop_card(&stop).expect("stop").status, CardStatus::Stopped);
    assert_eq!(a.stop_card(&stop).expect("retry").status, CardStatus::Stopped);
    let again = StopRequest { request_id: request_id("stop"), ..stop };
    assert!(matches!(refusal(a.stop_card(&again).expect_err("not live")), Refusal::NotLive { .. }));
    let new = a.commit(&commit_request(c2.claim_id)).expect("commit re-issue");
    let p = a.lookup(&ssn).expect("lookup");
    let statuses: Vec<_> = p.cards.iter().map(|c| (c.card_number.clone(), c.status)).collect();
    assert_eq!(statuses, [(old.card_number, CardStatus::Stopped), (new.card_number, CardStatus::Made)]);
}

/// A death cancels live cards and refuses every later claim.
pub fn deceased_cancels_and_refuses(a: &dyn ProvincialArchive, b: &dyn ProvincialArchive) {
    let ssn = fresh_ssn();
    let c = a.claim(&claim_request(&ssn, None)).expect("claim");
    let card = a.commit(&commit_request(c.claim_id)).expect("commit");
    let q = DeceasedRequest { request_id: request_id("deceased"), ssn: ssn.clone() };
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
