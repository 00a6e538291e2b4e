//! The station's bank client against the simulated card system on loopback: activation, a
//! repeated request id, refusals with the bank's reason, outages and lost answers, unknown cards,
//! and requests that are not face to face, which never reach the bank.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use applicant::CardNumber;
use bank::{
    AccountStatus, ActivationStatus, BankCardSystem, BankError, CardRef, ErrorKind, FaceToFaceProblem,
    RefusalCode,
};
use bank_sim::{SimAccount, Target};
use common::*;

/// A change that spoils a request's evidence, and the problem it must give.
type Spoiled = (Box<dyn Fn(&mut bank::ActivationRequest)>, FaceToFaceProblem);

fn card_ref(card: &str) -> CardRef {
    CardRef { card_number: CardNumber::parse(card).expect("card"), bank_code: "ICBC".into() }
}

#[test]
fn activation_once_then_the_account_is_active() {
    let (_rt, h) = start();
    let bank = client(&h);
    let info = bank.account(&card_ref(CARD)).expect("account");
    assert_eq!(info.status, AccountStatus::NotActivated);
    assert_eq!(info.account.expose(), PAN, "the account is the card's number");

    let a = bank.activate(&request("act-1")).expect("activated");
    assert_eq!(
        (a.status, a.replayed, a.reference.as_str()),
        (ActivationStatus::Activated, false, "SIMACT-000001")
    );
    assert_eq!(a.bank_code, "ICBC");
    assert_eq!(bank.account(&card_ref(CARD)).expect("account").status, AccountStatus::Active);
    assert_eq!(h.account(CARD).expect("sim account").status, AccountStatus::Active);

    // The same request again (a retry): the first answer, nothing done twice.
    let again = bank.activate(&request("act-1")).expect("replayed");
    assert!(again.replayed && again.status == ActivationStatus::Activated, "{again:?}");
    assert_eq!((again.reference.as_str(), again.activated_at), (a.reference.as_str(), a.activated_at));

    // A new request for an active card: answered so, with the first activation.
    let later = bank.activate(&request("act-2")).expect("already active");
    assert_eq!((later.status, later.replayed), (ActivationStatus::AlreadyActive, false));
    assert_eq!(later.reference, a.reference);

    // The same id for another request is refused.
    let mut other = request("act-1");
    other.operator = "op2".into();
    let e = bank.activate(&other).expect_err("key reused");
    assert_eq!(e, BankError::KeyConflict { key: "S-0101:act-1".into() });
    assert_eq!(e.kind(), ErrorKind::Report);
}

#[test]
fn refusals_carry_the_banks_reason() {
    let (_rt, h) = start();
    let bank = client(&h);

    let e = bank.activate(&frozen_request("f-1")).expect_err("frozen");
    let BankError::Refused { code, reason } = &e else { panic!("{e:?}") };
    assert_eq!(*code, RefusalCode::AccountFrozen);
    assert!(reason.contains("冻结"), "the bank's words for the operator: {reason}");
    assert_eq!(e.kind(), ErrorKind::TellHolder);

    let mut wrong_name = request("n-1");
    wrong_name.holder.name = "张山".into();
    let e = bank.activate(&wrong_name).expect_err("name");
    assert!(
        matches!(&e, BankError::Refused { code: RefusalCode::NameMismatch, reason } if reason.contains("户名")),
        "{e}"
    );

    let mut wrong_id = request("i-1");
    wrong_id.holder.id_number = bank::IdNumber::parse("34052419800101001X").expect("id");
    assert!(matches!(
        bank.activate(&wrong_id),
        Err(BankError::Refused { code: RefusalCode::IdMismatch, .. })
    ));

    // A refusal set for the holder, over HTTP, as a test of the counter would set it.
    let set = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sim/refusals", h.url()))
        .json(&serde_json::json!({"id_number": ID, "code": "aml-review", "reason": "客户身份待核实，请到网点办理"}))
        .send()
        .expect("POST");
    assert_eq!(set.status(), 204);
    let e = bank.activate(&request("r-1")).expect_err("held for review");
    assert_eq!(
        e,
        BankError::Refused {
            code: RefusalCode::Other("aml-review".into()),
            reason: "客户身份待核实，请到网点办理".into()
        }
    );
    assert_eq!(h.account(CARD).expect("account").status, AccountStatus::NotActivated, "nothing changed");
    // Refusals are final answers: the same request id gets the same refusal.
    assert_eq!(bank.activate(&request("r-1")).expect_err("same"), e);
    // In memory, per card.
    h.refuse(Target::CardNumber("X00000019".into()), RefusalCode::AccountClosed, "已销户");
    assert!(matches!(
        bank.activate(&frozen_request("f-2")),
        Err(BankError::Refused { code: RefusalCode::AccountClosed, .. })
    ));
    assert!(!e.to_string().contains(ID) && !e.to_string().contains(PAN), "{e}");
}

#[test]
fn an_unknown_card_is_not_the_banks() {
    let (_rt, h) = start();
    let bank = client(&h);
    let mut r = request("u-1");
    r.card_number = CardNumber::parse("188347080").expect("card");
    let e = bank.activate(&r).expect_err("unknown");
    assert!(
        matches!(&e, BankError::Refused { code: RefusalCode::UnknownCard, reason } if reason.contains("not one of ours")),
        "{e}"
    );
    let e = bank.account(&card_ref("188347080")).expect_err("unknown");
    assert!(matches!(e, BankError::Refused { code: RefusalCode::UnknownCard, .. }), "{e}");
    // The chip's number is not the account's: not this bank's card either.
    let mut r = request("u-2");
    r.pan = bank::Pan::parse(FROZEN_PAN).expect("pan");
    assert!(matches!(bank.activate(&r), Err(BankError::Refused { code: RefusalCode::UnknownCard, .. })));
}

#[test]
fn an_outage_leaves_the_card_not_activated_and_a_retry_activates_it() {
    let (_rt, h) = start();
    let bank = client(&h);
    h.faults.outage.store(1, Ordering::SeqCst);
    let e = bank.activate(&request("o-1")).expect_err("down");
    assert!(matches!(e, BankError::Unavailable(_)) && e.kind() == ErrorKind::Retry, "{e}");
    assert!(e.to_string().contains("stays not activated"), "{e}");
    assert_eq!(h.account(CARD).expect("account").status, AccountStatus::NotActivated);
    assert!(h.received().is_empty(), "an outage does nothing");
    let a = bank.activate(&request("o-1")).expect("retried");
    assert!(!a.replayed && a.status == ActivationStatus::Activated);

    // The answer lost on the way: the bank did it; the retry gets the first answer.
    let (_rt2, h2) = start();
    let bank2 = client(&h2);
    h2.faults.lose_answers.store(1, Ordering::SeqCst);
    assert!(matches!(bank2.activate(&request("l-1")), Err(BankError::Unavailable(_))));
    assert_eq!(h2.account(CARD).expect("account").status, AccountStatus::Active, "done, answer lost");
    let a = bank2.activate(&request("l-1")).expect("first answer");
    assert!(a.replayed && a.status == ActivationStatus::Activated && a.reference == "SIMACT-000001", "{a:?}");

    // Faults over HTTP; a dead system is unavailable too.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v1/faults", h.url()))
        .json(&serde_json::json!({"outage": 1}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 204);
    assert!(matches!(bank.account(&card_ref(CARD)), Err(BankError::Unavailable(_))));
    let bad = reqwest::blocking::Client::new()
        .post(format!("{}/v1/faults", h.url()))
        .header("content-type", "application/json")
        .body(r#"{"outages": 1}"#)
        .send()
        .expect("POST");
    assert_eq!(bad.status(), 422, "unknown fields are refused");
    h.abort();
    drop(_rt);
    let down =
        bank::HttpBank::new(&h.url(), &bank::Transport::PlainForSimulators, Duration::from_millis(500))
            .expect("client");
    assert!(matches!(down.activate(&request("d-1")), Err(BankError::Unavailable(_))));
}

#[test]
fn without_face_to_face_evidence_nothing_reaches_the_bank() {
    let (_rt, h) = start();
    let bank = client(&h);
    let cases: Vec<Spoiled> = vec![
        (Box::new(|r| r.face_to_face.holder_present = false), FaceToFaceProblem::HolderNotPresent),
        (Box::new(|r| r.face_to_face.id_document_checked = false), FaceToFaceProblem::IdNotChecked),
        (Box::new(|r| r.face_to_face.photo = None), FaceToFaceProblem::NoPhoto),
        (
            Box::new(|r| r.face_to_face.photo.as_mut().expect("photo").taken_at -= 3600),
            FaceToFaceProblem::PhotoTooOld { age_seconds: 3630, max_seconds: 300 },
        ),
    ];
    for (i, (spoil, want)) in cases.into_iter().enumerate() {
        let mut r = request(&format!("ff-{i}"));
        spoil(&mut r);
        let e = bank.activate(&r).expect_err("not face to face");
        assert_eq!(e, BankError::NotFaceToFace(want), "{e}");
        assert_eq!(e.kind(), ErrorKind::CompleteEvidence);
        assert!(e.to_string().contains("rule 3"), "{e}");
    }
    let expired = {
        let mut r = request("ff-x");
        r.face_to_face.id_valid_until =
            applicant::ValidUntil::Date(applicant::Date::new(2020, 1, 1).expect("d"));
        bank.activate(&r).expect_err("expired document")
    };
    assert!(matches!(expired, BankError::NotFaceToFace(FaceToFaceProblem::IdExpired(_))), "{expired}");
    assert!(h.received().is_empty(), "the bank was never asked: {:?}", h.received());
    assert_eq!(h.account(CARD).expect("account").status, AccountStatus::NotActivated);

    // A client that skips the check meets the bank's own.
    let mut r = request("raw-1");
    r.face_to_face.holder_present = false;
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/v1/activations", h.url()))
        .header("Idempotency-Key", "S-0101:raw-1")
        .json(&r)
        .send()
        .expect("POST");
    assert_eq!(answer.status(), 422);
    let body: bank::Refusal = answer.json().expect("refusal");
    assert_eq!(body.code, RefusalCode::NotFaceToFace);
}

#[test]
fn accounts_open_when_cards_are_registered() {
    let (_rt, h) = start();
    let account = |card: &str, name: &str| SimAccount {
        card_number: card.into(),
        bank_code: "ABC".into(),
        pan: "6228480000000000026".into(),
        account_number: None,
        holder_name: name.into(),
        id_number: "34052419800101001X".into(),
        status: AccountStatus::NotActivated,
    };
    let http = reqwest::blocking::Client::new();
    let post = |a: &SimAccount| {
        http.post(format!("{}/v1/sim/accounts", h.url())).json(a).send().expect("POST").status().as_u16()
    };
    assert_eq!(post(&account("188347080", "王五")), 201);
    assert_eq!(post(&account("188347080", "王五")), 200, "the same again");
    assert_eq!(post(&account("188347080", "王六")), 409, "other data");
    assert_eq!(post(&SimAccount { pan: "6228480000000000027".into(), ..account("B7K334774", "王五") }), 400);
    let info = client(&h).account(&card_ref("188347080")).expect("opened");
    assert_eq!((info.bank_code.as_str(), info.status), ("ABC", AccountStatus::NotActivated));
    assert_eq!(format!("{:?}", info.account), "AccountNumber(622848*********0026)");
    assert!(h.register(account("188347080", "王五")).is_ok_and(|opened| !opened));
    let debug = format!("{:?}", account("188347080", "王五"));
    assert!(!debug.contains("34052419800101001X") && !debug.contains("6228480000000000026"), "{debug}");
    let listed: Vec<bank_sim::Received> =
        http.get(format!("{}/v1/sim/requests", h.url())).send().expect("GET").json().expect("list");
    assert_eq!(listed, h.received());
    assert_eq!(listed[0].path, "/v1/cards/188347080/account");
}
