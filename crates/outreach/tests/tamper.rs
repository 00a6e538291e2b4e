//! The outbox's SM3 chain: a kit store whose outbox rows were deleted, reordered, altered or
//! put back from an older copy of the file (with raw SQL, as someone with the laptop could)
//! is refused at log-in and before a sync, with what to do; nothing of it reaches the archive.

mod common;

use std::path::{Path, PathBuf};

use archive::conformance::fresh_ssn;
use archive::{ProvincialArchive, SqliteProvincial};
use common::*;
use outreach::{Kit, KitError};
use rusqlite::Connection;

/// A kit with three people leased and five records: two cards made, handed over, a failure.
struct Fixture {
    dir: tempfile::TempDir,
    store: PathBuf,
    people: Vec<String>,
}

fn province(dir: &Path, station: &str) -> SqliteProvincial {
    SqliteProvincial::open(dir.join("provincial.db"), station, 'B').expect("provincial")
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("kit.db");
    let people: Vec<String> = (0..3).map(|_| fresh_ssn()).collect();
    let mut kit = signed(Kit::create(&store, "kit-t", "op", PASSWORD).expect("kit"));
    let arch = province(dir.path(), "kit-t");
    kit.checkout(&arch, people.iter().map(|p| visit(p, None)).collect(), 3600, 3600).expect("checkout");
    for (i, p) in people.iter().take(2).enumerate() {
        let card = kit.make_card(p, &format!("110100D15600000500BF7C7A48FB000{i}"), "3B00").expect("make");
        kit.hand_over(p, &card, "本人", Some(&image("sig")), None, Some(&holder(p))).expect("hand over");
    }
    kit.visit_failed(&people[2], "moved away").expect("failure");
    assert_eq!(kit.outbox().len(), 5);
    drop(kit);
    Fixture { dir, store, people }
}

fn sql(store: &Path, statements: &str) {
    let conn = Connection::open(store).expect("raw store");
    conn.execute_batch(statements).expect("raw SQL");
}

fn refused(store: &Path) -> String {
    match Kit::open(store, "op", PASSWORD) {
        Err(e @ KitError::Tampered(_)) => {
            let text = e.to_string();
            assert!(text.contains("do not sync, call the supervisor"), "{text}");
            text
        }
        Err(other) => panic!("expected a refusal of the tampered store, got: {other}"),
        Ok(kit) => panic!("a tampered store opened with {} records", kit.outbox().len()),
    }
}

#[test]
fn an_untouched_store_opens_with_its_chain_whole() {
    let f = fixture();
    let kit = signed(Kit::open(&f.store, "op", PASSWORD).expect("log in"));
    kit.verify_store().expect("the chain holds");
    assert_eq!(kit.outbox().len(), 5);
    let links: Vec<&str> = kit.outbox().iter().map(|o| o.prev_sm3.as_str()).collect();
    assert!(links.iter().all(|l| l.len() == 64), "each record carries an SM3 link: {links:?}");
    let distinct: std::collections::BTreeSet<&&str> = links.iter().collect();
    assert_eq!(distinct.len(), links.len(), "each link is the hash of a different record");
}

#[test]
fn a_deleted_record_is_refused() {
    let f = fixture();
    sql(&f.store, "DELETE FROM outbox WHERE seq = 4");
    let e = refused(&f.store);
    assert!(e.contains("outbox record 4 is missing or out of order"), "{e}");
}

#[test]
fn the_last_record_deleted_is_refused() {
    let f = fixture();
    sql(&f.store, "DELETE FROM outbox WHERE seq = 5");
    let e = refused(&f.store);
    assert!(e.contains("outbox record 5 is missing"), "{e}");
}

#[test]
fn renumbered_records_after_a_deletion_are_refused() {
    // Record 2 deleted and the rest moved up to close the gap: the bodies are sealed to
    // their place, so record 2's row no longer opens there.
    let f = fixture();
    sql(&f.store, "DELETE FROM outbox WHERE seq = 2; UPDATE outbox SET seq = seq - 1 WHERE seq > 2;");
    let e = refused(&f.store);
    assert!(e.contains("outbox record 2 "), "{e}");
}

#[test]
fn reordered_records_are_refused() {
    let f = fixture();
    sql(
        &f.store,
        "UPDATE outbox SET seq = 100 WHERE seq = 2; UPDATE outbox SET seq = 2 WHERE seq = 3;
         UPDATE outbox SET seq = 3 WHERE seq = 100;",
    );
    let e = refused(&f.store);
    assert!(e.contains("outbox record 2 "), "{e}");
}

#[test]
fn a_record_with_its_body_altered_is_refused() {
    let f = fixture();
    sql(&f.store, "UPDATE outbox SET body = substr(body, 1, 40) || X'00' || substr(body, 42) WHERE seq = 3");
    let e = refused(&f.store);
    assert!(e.contains("outbox record 3 was altered or moved"), "{e}");
}

#[test]
fn records_put_back_from_an_older_copy_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, old) = (dir.path().join("kit.db"), dir.path().join("old-kit.db"));
    let people: Vec<String> = (0..2).map(|_| fresh_ssn()).collect();
    let arch = province(dir.path(), "kit-o");
    let mut kit = signed(Kit::create(&store, "kit-o", "op", PASSWORD).expect("kit"));
    kit.checkout(&arch, people.iter().map(|p| visit(p, None)).collect(), 3600, 3600).expect("checkout");
    let card = kit.make_card(&people[0], "110100D15600000500BF7C7A48FB0000", "3B00").expect("make");
    kit.hand_over(&people[0], &card, "本人", Some(&image("sig")), None, Some(&holder(&people[0])))
        .expect("hand over");
    drop(kit);
    // The older copy: two records.
    std::fs::copy(&store, &old).expect("copy");
    let mut kit = signed(Kit::open(&store, "op", PASSWORD).expect("log in"));
    kit.activate(&people[0], &card, &face_to_face(), &image("photo")).expect("activate");
    kit.visit_failed(&people[1], "in hospital").expect("failure");
    drop(kit);
    let attach = format!("ATTACH DATABASE '{}' AS old;", old.display());

    // Its outbox rows put back: the head names four records.
    sql(&store, &format!("{attach} DELETE FROM outbox; INSERT INTO outbox SELECT * FROM old.outbox;"));
    let e = refused(&store);
    assert!(e.contains("outbox record 3 is missing or out of order"), "{e}");

    // Its head put back too: the evidence of the later records is still there.
    sql(
        &store,
        &format!(
            "{attach} DELETE FROM meta WHERE name LIKE 'head:%';
             INSERT INTO meta SELECT * FROM old.meta WHERE name LIKE 'head:%';"
        ),
    );
    let e = refused(&store);
    assert!(e.contains("outbox record 3 is missing"), "{e}");
}

#[test]
fn a_deleted_lease_is_refused() {
    let f = fixture();
    sql(&f.store, "DELETE FROM leases");
    let e = refused(&f.store);
    assert!(e.contains("current visit list"), "{e}");
}

#[test]
fn a_store_tampered_with_while_logged_in_is_not_synced() {
    let f = fixture();
    let mut kit = signed(Kit::open(&f.store, "op", PASSWORD).expect("log in"));
    sql(&f.store, "DELETE FROM outbox WHERE seq = 3");
    let arch = province(f.dir.path(), "kit-t");
    match outreach::sync(&mut kit, &arch) {
        Err(outreach::SyncError::Kit(e @ KitError::Tampered(_))) => {
            assert!(e.to_string().contains("outbox record 3 is missing or out of order"), "{e}")
        }
        Err(other) => panic!("expected a refusal, got: {other}"),
        Ok(report) => panic!("a tampered store was synced: {} sent", report.sent),
    }
    for p in &f.people {
        assert!(arch.lookup(p).expect("lookup").cards.is_empty(), "nothing reached the archive");
    }
}

#[test]
fn an_untampered_store_syncs_and_its_chain_survives_the_results() {
    let f = fixture();
    let mut kit = signed(Kit::open(&f.store, "op", PASSWORD).expect("log in"));
    let arch = province(f.dir.path(), "kit-t");
    let report = outreach::sync(&mut kit, &arch).expect("sync");
    assert_eq!((report.sent, report.records), (5, 5));
    drop(kit);
    let kit = signed(Kit::open(&f.store, "op", PASSWORD).expect("log in after the sync"));
    assert!(kit.outbox().iter().all(|o| o.result.is_some()));
    for p in f.people.iter().take(2) {
        assert_eq!(arch.lookup(p).expect("lookup").cards.len(), 1, "the card made on the visit");
    }
}

#[test]
fn carried_data_is_sealed_kept_per_person_and_gone_after_the_check_in() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("kit.db");
    let (a, b) = (fresh_ssn(), fresh_ssn());
    let mut kit = signed(Kit::create(&store, "kit-c", "op", PASSWORD).expect("kit"));
    kit.carry(&a, b"{\"applicant\":\"A\"}").expect("carry a");
    kit.carry(&b, b"{\"applicant\":\"B\"}").expect("carry b");
    kit.carry(&a, b"{\"applicant\":\"A2\"}").expect("carry a again");
    drop(kit);
    let raw = std::fs::read(&store).expect("read");
    assert!(!raw.windows(a.len()).any(|w| w == a.as_bytes()), "no ID number readable in the store");
    let mut kit = signed(Kit::open(&store, "op", PASSWORD).expect("log in"));
    assert_eq!(
        kit.carried(&a).expect("a").as_deref().map(Vec::as_slice),
        Some(&b"{\"applicant\":\"A2\"}"[..])
    );
    assert_eq!(
        kit.carried(&b).expect("b").as_deref().map(Vec::as_slice),
        Some(&b"{\"applicant\":\"B\"}"[..])
    );
    assert!(kit.carried(&fresh_ssn()).expect("other").is_none());
    let arch = province(dir.path(), "kit-c");
    kit.checkout(&arch, vec![visit(&a, None), visit(&b, None)], 3600, 3600).expect("checkout");
    kit.visit_failed(&a, "not at home").expect("failure");
    outreach::sync(&mut kit, &arch).expect("sync");
    assert!(kit.carried(&a).expect("a").is_none(), "the people's data leave the kit at check-in");
    assert!(kit.carried(&b).expect("b").is_none());
}

#[test]
fn a_make_hidden_by_deleting_its_journal_row_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("kit.db");
    let person = fresh_ssn();
    let mut kit = signed(Kit::create(&store, "kit-t", "op", PASSWORD).expect("kit"));
    kit.checkout(&province(dir.path(), "kit-t"), vec![visit(&person, None)], 3600, 3600).expect("checkout");
    kit.begin_making(&person).expect("begin");
    kit.making_step("printed").expect("journalled");
    drop(kit); // killed with a spoiled card in the printer
    let copy = dir.path().join("copy.db");
    std::fs::copy(&store, &copy).expect("copy");
    sql(&copy, "UPDATE makings SET body = body || x'00'");
    let e = refused(&copy);
    assert!(e.contains("journal of card making, row 1, was altered"), "{e}");
    sql(&store, "DELETE FROM makings");
    let e = refused(&store);
    assert!(e.contains("holds 0 attempts, 1 were begun"), "{e}");
}

#[test]
fn a_store_whose_key_derivation_cost_was_lowered_is_refused() {
    let f = fixture();
    let kdf: Vec<u8> = Connection::open(&f.store)
        .and_then(|db| db.query_row("SELECT value FROM meta WHERE name = 'kdf'", [], |r| r.get(0)))
        .expect("kdf row");
    assert_eq!(String::from_utf8(kdf).expect("text"), "argon2id m=65536 t=3 p=1", "a new store's cost");
    // A thief lowering the cost to guess faster learns nothing: the key differs; a cost below
    // the legacy floor is refused before any guess.
    sql(&f.store, "UPDATE meta SET value = CAST('argon2id m=19456 t=2 p=1' AS BLOB) WHERE name = 'kdf'");
    assert!(matches!(Kit::open(&f.store, "op", PASSWORD), Err(KitError::Vault(_))));
    sql(&f.store, "UPDATE meta SET value = CAST('argon2id m=8 t=1 p=1' AS BLOB) WHERE name = 'kdf'");
    let e = Kit::open(&f.store, "op", PASSWORD).err().expect("refused").to_string();
    assert!(e.contains("asks for too little") && e.contains("call the supervisor"), "{e}");
}

#[test]
fn a_new_store_needs_a_strong_passphrase() {
    let dir = tempfile::tempdir().expect("tmp");
    let e = Kit::create(&dir.path().join("kit.db"), "kit-w", "op", "password12").err().expect("weak");
    assert!(e.to_string().contains("at least 12 characters"), "{e}");
    assert!(!dir.path().join("kit.db").exists(), "no store is made for a refused passphrase");
}

/// Records are signed in the kit's own token, which the passphrase does not open: without a
/// record key the kit checks nothing out, and after the checkout it writes no record without
/// the key the lease was checked out with (another token's key is refused as well), before
/// anything is spent; with its own key it goes on.
#[test]
fn a_kit_writes_records_only_with_the_key_its_lease_was_checked_out_with() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("kit.db");
    let person = fresh_ssn();
    let arch = province(dir.path(), "kit-k");
    let mut kit = Kit::create(&store, "kit-k", "op", PASSWORD).expect("kit");
    match kit.checkout(&arch, vec![visit(&person, None)], 3600, 3600) {
        Err(KitError::RecordKey(why)) => assert!(why.contains("station kit keys generate"), "{why}"),
        other => panic!("checked out without a record key: {:?}", other.map(|c| c.lease_id)),
    }
    kit.use_record_key(record_key("kit-k"));
    kit.checkout(&arch, vec![visit(&person, None)], 3600, 3600).expect("checkout");
    drop(kit);
    let mut kit = Kit::open(&store, "op", PASSWORD).expect("log in with the passphrase alone");
    match kit.visit_failed(&person, "nobody at home") {
        Err(KitError::RecordKey(why)) => assert!(why.contains("not open"), "{why}"),
        other => panic!("a record without the token: {other:?}"),
    }
    kit.use_record_key(record_key("another-token"));
    match kit.may_make(&person) {
        Err(KitError::RecordKey(why)) => assert!(why.contains("not the one lease"), "{why}"),
        other => panic!("another token's key: {:?}", other.map(|v| v.claim_id)),
    }
    assert!(kit.outbox().is_empty(), "nothing written");
    kit.use_record_key(record_key("kit-k"));
    let seq = kit.visit_failed(&person, "nobody at home").expect("with the kit's own key");
    let signature = kit.outbox()[0].record.signature.clone().expect("signed");
    assert_eq!((seq, signature.len()), (1, 128));
    outreach::sync(&mut kit, &arch).expect("the province takes the signed record");
}
