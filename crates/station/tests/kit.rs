//! A home visit with the outreach kit, through the `station` binary: the simulated counter
//! (`station sim counter`: a private pcscd with the chip inside the simulated printer on a
//! pty, the PSAM) as the kit's devices, and the provincial service on PostgreSQL over mutual
//! TLS. Checkout of three people, the service stopped, a card made on the visit through the
//! counter's card path, a pre-made card handed over to the custodian whose approval the kit
//! carries from the province (another receiver refused), activations face to face, a failure;
//! the service back, the sync: the province shows the cards live, nobody holds two, and a
//! second sync applies nothing twice. A make killed between its device steps
//! (`STATION_KIT_CRASH_AT`) is found by the next status, settled by the next make (the card
//! rejected and recorded spoiled) and the card made under the same number; the province gets
//! the spoiled cards once. The kit's certificate and key are imported into its sealed store
//! (another kit's refused) and the file deleted: the kit talks to the province without it,
//! never with the counter's identity its configuration names. Run inside `isolated` (pcscd
//! and PostgreSQL).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use archive::conformance::{claim_request, request_id};
use archive::{CardStatus, CommitRequest, ProvincialArchive};
use common::counter::{free_port, Counter, STATION};
use provincial::{server, Client, Store};

const KIT_PASSWORD: &str = "kit operator's password";
/// An ID number whose check character is wrong.
const WRONG_ID: &str = "110105194912310021";

/// The kit's own token (a SoftHSM2 token in `dir`, standing for the kit's USB token; the
/// `station` commands inherit SOFTHSM2_CONF): the `[kit]` lines that name it. Its record key is
/// made by `station kit keys generate`.
fn kit_token(dir: &Path) -> String {
    let token = common::counter::softhsm_token(&dir.join("kit-token"), "KIT-1", "97531");
    let keystore::PinSource::File(pin_file) = token.pin else { panic!("a PIN file") };
    format!(
        "\n[kit]\nrecord_key = \"kit-record\"\n[kit.token]\nmodule = \"{}\"\nlabel = \"KIT-1\"\npin_file = \"{}\"\n",
        keystore::SOFTHSM2_MODULE,
        pin_file.display()
    )
}

/// The provincial service on `port` (the same port each time it is started again).
fn serve(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    pki: &provincial::pki::PkiPaths,
    port: u16,
) -> server::Service {
    runtime.block_on(async {
        let store = Store::connect(url, 'B', 4).await.expect("store");
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    eprintln!("port {port} not free yet: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("port {port}: {e}"),
            }
        };
        server::spawn(listener, server::tls_config(pki).expect("tls"), server::router(store)).expect("serve")
    })
}

/// The environment that names the holder to a kit command.
fn holder(id: &str) -> [(&'static str, &str); 1] {
    [("STATION_ID_NUMBER", id)]
}

/// The environment of a kit hand-over: the holder, and the ID document the receiver shows.
fn receiving<'a>(holder: &'a str, receiver: &'a str) -> [(&'static str, &'a str); 2] {
    [("STATION_ID_NUMBER", holder), ("STATION_RECEIVER_ID", receiver)]
}

struct Kit<'a> {
    dir: &'a Path,
    config: PathBuf,
    store: PathBuf,
    /// Every full ID number, and the kit's private key: none may appear in any output.
    secrets: Vec<String>,
}

impl Kit<'_> {
    /// `station kit ARGS` with the ID numbers `ids` in the environment (never in the
    /// arguments: `station::id_input`), killed by `STATION_KIT_CRASH_AT=crash` when given.
    fn run_with(&self, args: &[&str], crash: Option<&str>, ids: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(STATION);
        if let Some(step) = crash {
            cmd.env("STATION_KIT_CRASH_AT", step);
        }
        let out = cmd
            .arg("kit")
            .args(args)
            .envs(ids.iter().copied())
            .env("STATION_PASSWORD", KIT_PASSWORD)
            .env("STATION_OPERATOR", "outreach-op")
            .env("STATION_KIT_STORE", &self.store)
            .env("STATION_CONFIG", &self.config)
            .current_dir(self.dir)
            .output()
            .expect("station kit");
        let text = text(&out);
        for s in &self.secrets {
            assert!(!text.contains(s.as_str()), "a secret in the output of kit {args:?}:\n{text}");
        }
        assert!(!text.contains(KIT_PASSWORD), "the password in the output");
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_for(args, &[])
    }

    /// `station kit ARGS` for the ID numbers `ids`, which must succeed: its stdout.
    fn ok_for(&self, args: &[&str], ids: &[(&str, &str)]) -> String {
        let out = self.run_with(args, None, ids);
        assert!(out.status.success(), "kit {args:?} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn refused(&self, args: &[&str], why: &str) {
        self.refused_for(args, &[], why)
    }

    /// `station kit ARGS` for the ID numbers `ids`, which must be refused saying `why`.
    fn refused_for(&self, args: &[&str], ids: &[(&str, &str)], why: &str) {
        let out = self.run_with(args, None, ids);
        assert!(!out.status.success(), "kit {args:?} should be refused");
        assert!(text(&out).contains(why), "kit {args:?}: expected {why:?} in:\n{}", text(&out));
    }

    /// `station kit ARGS` for `ids`, killed (kill -9) right after device step `step`.
    fn crash(&self, args: &[&str], ids: &[(&str, &str)], step: &str) -> String {
        let out = self.run_with(args, Some(step), ids);
        assert_eq!(out.status.signal(), Some(9), "kit {args:?} was not killed at {step}:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status JSON")
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn visit<'v>(status: &'v serde_json::Value, masked: &str) -> &'v serde_json::Value {
    status["visits"].as_array().expect("visits").iter().find(|v| v["ssn"] == masked).expect("the visit")
}

#[test]
fn a_home_visit_offline_then_synced_through_the_station_binary() {
    let _one = common::serial();
    let c = Counter::start(3);
    let dir = c.dir.path();
    let cluster = provincial::cluster::Cluster::start(
        &dir.join("pg"),
        free_port(),
        provincial::cluster::Durability::TestsOnly,
    )
    .expect("PostgreSQL starts (scripts/install-deps)");
    let pki = provincial::pki::generate(&dir.join("pki"), &["counter-1"]).expect("pki");
    let kit_pem = provincial::pki::add_kit(&pki, "kit-1", "counter-1", 14).expect("kit certificate");
    assert_eq!(kit_pem, pki.kit("kit-1"));
    let key_lines: Vec<String> = std::fs::read_to_string(&kit_pem)
        .expect("kit-1.pem")
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .expect("the kit's key")
        .lines()
        .filter(|l| l.len() > 16 && !l.starts_with("-----"))
        .map(String::from)
        .collect();
    assert!(!key_lines.is_empty());
    let other_kit = provincial::pki::add_kit(&pki, "kit-2", "counter-1", 14).expect("kit certificate");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let service = serve(&runtime, &cluster.url(), &pki, port);
    let counter =
        Client::new(&url, &pki.ca(), &pki.station("counter-1"), Duration::from_secs(30)).expect("client");

    // The kit's configuration: the counter's devices, the province as a service. Its
    // identity is the counter's: the kit shows its own certificate, sealed in its store.
    let station_toml = std::fs::read_to_string(dir.join("station.toml")).expect("station.toml");
    let service_line = format!(
        "provincial = {{ kind = \"service\", url = \"{url}\", ca = \"{}\", identity = \"{}\" }}",
        pki.ca().display(),
        pki.station("counter-1").display()
    );
    assert!(station_toml.contains("provincial = { kind = \"sqlite\" }"));
    let config = dir.join("kit.toml");
    let kit_toml = station_toml.replace("provincial = { kind = \"sqlite\" }", &service_line);
    std::fs::write(&config, kit_toml + &kit_token(dir)).expect("kit.toml");

    let ssn = |i: usize| c.ssn(i);
    let masked = |i: usize| applicant::mask_id(&ssn(i));
    let name = |i: usize| c.people[i]["holder"]["name"].as_str().expect("name").to_string();
    // Person 1 has a batch card made at a counter; it travels with the kit.
    let claim = counter.claim(&claim_request(&ssn(1), None)).expect("claim");
    let premade = counter
        .commit(&CommitRequest {
            request_id: request_id("commit"),
            claim_id: claim.claim_id,
            card_id: format!("110100D156000005{:016X}", claim.claim_id),
            atr: "3B8E0180730000C05800BF7C7A48FB4966C1".into(),
        })
        .expect("batch card")
        .card_number;

    // Person 1 is disabled: a supervisor at counter-1 approved custody by a relative, which
    // the station records at the province too (what `POST /api/cards/{card}/custody` does).
    let custodian_id = archive::conformance::fresh_ssn();
    let approval = counter
        .record_custody(&archive::custody::CustodyRequest {
            request_id: request_id("custody"),
            approval: archive::custody::CustodyApproval {
                card_number: premade.clone(),
                holder_group: "disabled".into(),
                custodian: "李秀英".into(),
                custodian_id: applicant::mask_id(&custodian_id),
                approved_by: "supervisor-1".into(),
                reason: "重度残疾, 由女儿代领".into(),
                valid_until: "20991231".into(),
            },
        })
        .expect("custody recorded at the province");

    // Someone the police register does not know, on the visit list with their applicant.
    let unknown = common::counter::applicant(dir, 3);
    let unknown_id = unknown["holder"]["id_number"].as_str().expect("id").to_string();
    let kit = Kit {
        dir,
        config,
        store: dir.join("kit-1.db"),
        secrets: (0..3)
            .map(ssn)
            .chain([archive::conformance::fresh_ssn(), WRONG_ID.to_string(), unknown_id.clone()])
            .chain([custodian_id.clone()])
            .chain(key_lines)
            .collect(),
    };
    let stranger = kit.secrets[3].clone();

    // Before leaving.
    kit.refused(&["status"], "no kit store");
    let out = kit.ok(&["init", "--kit-id", "kit-1"]);
    assert!(out.contains("the kit has no certificate yet"), "{out}");
    assert!(kit.status()["certificate"].is_null());
    // The kit's record-signing key, made once in its own token; nothing is checked out or
    // recorded before it exists.
    let carried_only = serde_json::json!([{"ssn": ssn(1), "name": name(1), "premade_card": premade}]);
    std::fs::write(dir.join("carried-only.json"), carried_only.to_string()).expect("visit list");
    kit.refused(&["checkout", "carried-only.json"], "make it once with station kit keys generate");
    let out = kit.ok(&["keys", "generate"]);
    assert!(out.contains("record key \"kit-record\" (ECDSA P-256) made in the kit's token KIT-1"), "{out}");
    let fingerprint = out.split("fingerprint ").nth(1).and_then(|s| s.get(..16)).expect("fingerprint");
    assert!(kit.ok(&["keys", "show"]).contains(fingerprint));
    kit.refused(&["keys", "generate"], "kit-record");
    let list = serde_json::json!([
        {"applicant": c.people[0]},
        {"ssn": ssn(1), "name": name(1), "premade_card": premade},
        {"applicant": c.people[2]},
        {"applicant": unknown},
    ]);
    let mut wrong = c.people[2].clone();
    wrong["holder"]["id_number"] = WRONG_ID.into();
    let bad = serde_json::json!([{"applicant": c.people[0]}, {"applicant": wrong}, {"ssn": ssn(1), "name": name(1)}]);
    std::fs::write(dir.join("bad-visits.json"), bad.to_string()).expect("visit list");
    kit.refused(&["checkout", "bad-visits.json"], "the visit list needs correcting; nobody was claimed");
    assert!(kit.status()["lease_id"].is_null(), "nothing checked out");
    std::fs::write(dir.join("visits.json"), list.to_string()).expect("visit list");
    kit.refused(&["checkout", "visits.json"], "kit kit-1 holds no certificate");
    kit.refused(&["checkout", "visits.json"], "station kit identity --import");
    assert!(kit.status()["lease_id"].is_null(), "nothing checked out without the kit's certificate");

    // The kit's certificate goes into its sealed store; the file is deleted.
    let pem = kit_pem.to_string_lossy().to_string();
    kit.refused(&["identity", "--import", &other_kit.to_string_lossy()], "not kit kit-1's");
    kit.refused(&["identity", "--import", &pki.station("counter-1").to_string_lossy()], "not kit kit-1's");
    let out = kit.ok(&["identity", "--import", &pem, "--remove-file"]);
    assert!(out.contains("certificate of kit kit-1 (station counter-1) sealed in the kit's store"), "{out}");
    assert!(out.contains("deleted"), "{out}");
    assert!(!kit_pem.exists(), "the key no longer lies in a file");
    let certificate = &kit.status()["certificate"];
    assert_eq!(
        (certificate["kit"].as_str(), certificate["owner"].as_str()),
        (Some("kit-1"), Some("counter-1"))
    );
    assert_eq!(certificate["standing"], "valid");
    let shown = kit.ok(&["identity"]);
    assert!(shown.contains("certificate valid until"), "{shown}");

    // Each applicant is verified online at checkout: the unknown person is neither carried
    // nor claimed, with the register's hint.
    let out = kit.ok(&["checkout", "visits.json"]);
    assert!(out.contains("3 people claimed"), "{out}");
    let unverified = format!(
        "REFUSED {}: identity not confirmed (id_number: 公民身份号码在公安登记中不存在",
        applicant::mask_id(&unknown_id)
    );
    assert!(out.contains(&unverified), "{out}");
    kit.refused_for(&["make"], &holder(&unknown_id), "not on the visit list");
    let before = kit.status();
    let reserved = visit(&before, &masked(0))["reserved_number"].as_str().expect("reserved").to_string();
    assert_eq!(visit(&before, &masked(1))["premade_card"], premade.as_str());
    let carried = &visit(&before, &masked(1))["custody"];
    assert_eq!(
        (carried[0]["approval_id"].as_i64(), carried[0]["custodian"].as_str()),
        (Some(approval.approval_id), Some("李秀英")),
        "the kit carries the card's custody approval: {carried}"
    );
    assert!(kit.ok(&["status"]).contains("custodian 李秀英"), "shown to the operator");
    assert_eq!(before["outbox"], 0);
    assert!(before["seconds_left_offline"].as_i64().expect("time left") > 40 * 3600);

    // Offline: the provincial service is stopped.
    service.abort();
    std::thread::sleep(Duration::from_millis(200));
    let fresh =
        Client::new(&url, &pki.ca(), &pki.station("counter-1"), Duration::from_secs(5)).expect("client");
    assert!(fresh.lookup(&ssn(0)).is_err(), "the province is unreachable");

    // A card made on the visit for person 0 through the counter's card path.
    kit.refused_for(&["make"], &holder(&ssn(1)), "hand it over instead");
    kit.refused_for(&["make"], &holder(&stranger), "not on the visit list");
    // A kit without a printer makes no card and spends nothing.
    let no_printer = dir.join("kit-no-printer.toml");
    let with_printer = std::fs::read_to_string(&kit.config).expect("kit.toml");
    let printer_line = with_printer.lines().find(|l| l.starts_with("printer = ")).expect("printer line");
    std::fs::write(&no_printer, with_printer.replace(printer_line, "printer = \"\"")).expect("config");
    let bare = Kit { config: no_printer, secrets: kit.secrets.clone(), store: kit.store.clone(), ..kit };
    bare.refused_for(&["make"], &holder(&ssn(0)), "only pre-made cards can be handed over");
    assert!(kit.status()["interrupted_make"].is_null(), "nothing begun without a printer");
    // A device error after the card was fed (the contact station's reader is not there): the
    // card goes to the reject box and is recorded spoiled; the number stays reserved.
    let no_reader = dir.join("kit-no-reader.toml");
    let reader_line = with_printer.lines().find(|l| l.starts_with("card_reader = ")).expect("reader line");
    std::fs::write(&no_reader, with_printer.replace(reader_line, "card_reader = \"No Such Reader 00 00\""))
        .expect("config");
    let broken = Kit { config: no_reader, secrets: kit.secrets.clone(), store: kit.store.clone(), ..kit };
    let out = broken.run_with(&["make"], None, &holder(&ssn(0)));
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("card at the contact station"), "{said}");
    assert!(said.contains("the card went to the reject box, recorded spoiled (outbox record 1)"), "{said}");
    assert!(said.contains(&format!("Number {reserved} is still reserved")), "{said}");
    let status = kit.status();
    assert!(status["interrupted_make"].is_null(), "the spoiled card is settled at once");
    assert_eq!(visit(&status, &masked(0))["spoiled"].as_array().map(Vec::len), Some(1));

    // Killed right after the feed, then (settling the first) right after the chip was
    // written: each make is found interrupted, its card rejected and recorded spoiled.
    for (step, attempt) in [("feed-card", 2), ("personalise-ssc", 3)] {
        let out = kit.crash(&["make"], &holder(&ssn(0)), step);
        if attempt == 3 {
            assert!(out.contains("(attempt 2) settled: the card went to the reject box"), "{out}");
        }
        let status = kit.status();
        let open = &status["interrupted_make"];
        assert_eq!(
            (open["card_number"].as_str(), open["attempt"].as_i64()),
            (Some(reserved.as_str()), Some(attempt))
        );
        assert_eq!(open["steps"].as_array().and_then(|s| s.last()).and_then(|s| s.as_str()), Some(step));
        assert_eq!(
            status["outbox"],
            attempt - 1,
            "the interrupted card is not recorded before it is settled"
        );
        let shown = kit.ok(&["status"]);
        assert!(shown.contains(&format!("INTERRUPTED: card {reserved}")), "{shown}");
        kit.refused(&["sync"], "was interrupted and is not settled");
    }
    // Settled alone (no new card), then the card made under the same number.
    let out = kit.ok(&["make", "--settle"]);
    assert!(out.contains("(attempt 3) settled: the card went to the reject box"), "{out}");
    assert!(kit.ok(&["make", "--settle"]).contains("nothing to settle"));
    let out = kit.ok_for(&["make"], &holder(&ssn(0)));
    println!("{out}");
    assert!(!out.contains("settled"), "{out}");
    assert!(out.contains(&format!("card {reserved} made")) && out.contains("attempt 4"), "{out}");
    assert!(out.contains("chip read back"), "{out}");
    let status = kit.status();
    assert!(status["interrupted_make"].is_null());
    assert_eq!(visit(&status, &masked(0))["spoiled"].as_array().map(Vec::len), Some(3));
    let card_id =
        out.split("card id ").nth(1).and_then(|s| s.split(',').next()).expect("card id").to_string();
    // The face of the spoiled card killed after its chip was written is card-0001.
    let face = card_face::image::open(dir.join("printed/card-0002.png")).expect("printed face").to_rgb8();
    assert_eq!((face.width(), face.height()), (1016, 648));
    let skin = face
        .pixels()
        .filter(|p| p.0[0].abs_diff(192) < 12 && p.0[1].abs_diff(128) < 12 && p.0[2].abs_diff(96) < 12)
        .count();
    assert!(skin > 8_000, "the photo carried in the kit's store is on the face ({skin} skin pixels)");
    kit.refused_for(&["make"], &holder(&ssn(0)), "already made");

    // Hand-overs with signatures, activations face to face, a failure.
    let signature = dir.join("signature.png");
    card_face::image::RgbImage::from_fn(200, 60, |x, y| {
        card_face::image::Rgb(if (x + 2 * y) % 17 == 0 { [0, 0, 0] } else { [255, 255, 255] })
    })
    .save(&signature)
    .expect("signature");
    let photo = dir.join("photos/p0.jpg");
    let (sig, pic) = (signature.to_string_lossy().to_string(), photo.to_string_lossy().to_string());
    kit.refused_for(
        &["activate", "--photo", &pic, "--holder-present", "--id-checked"],
        &holder(&ssn(0)),
        "hand it over first",
    );
    // RULE 4: the ID document shown must be the holder's.
    let (id0, id1, name0, name1) = (ssn(0), ssn(1), name(0), name(1));
    let h0 = ["handover", "--signer", &name0, "--signature", &sig];
    let h1 = ["handover", "--signer", &name1, "--signature", &sig];
    kit.refused_for(&h1, &receiving(&id0, &id1), "rule 4");
    kit.ok_for(&h0, &receiving(&id0, &id0));
    kit.refused_for(&["activate", "--photo", &pic, "--id-checked"], &holder(&id0), "rule 3");
    kit.ok_for(&["activate", "--photo", &pic, "--holder-present", "--id-checked"], &holder(&id0));
    // Person 1's card goes to the approved custodian: not to someone else with her name,
    // nor under another name.
    let by_custodian = ["handover", "--signer", "李秀英", "--signature", &sig, "--custodian", "李秀英"];
    kit.refused_for(&by_custodian, &receiving(&id1, &id0), "carries no custody approval of 李秀英");
    let by_other = ["handover", "--signer", "李四", "--signature", &sig, "--custodian", "李四"];
    kit.refused_for(&by_other, &receiving(&id1, &custodian_id), "nobody may collect another person's card");
    let out = kit.ok_for(&by_custodian, &receiving(&id1, &custodian_id));
    assert!(
        out.contains(&format!("card {premade} of {} handed over to the custodian 李秀英", masked(1))),
        "{out}"
    );
    kit.refused_for(&h1, &receiving(&id1, &id1), "the kit holds no card for");
    kit.ok_for(&["activate", "--photo", &pic, "--holder-present", "--id-checked"], &holder(&id1));
    kit.ok_for(&["fail", "--reason", "在医院, 不能面签"], &holder(&ssn(2)));
    let shown = kit.ok(&["status"]);
    println!("{shown}");
    assert!(shown.contains("outbox 9 records, 0 synced") && shown.contains(&masked(0)), "{shown}");
    assert!(shown.contains("certificate valid until"), "{shown}");
    let offline = kit.status();
    assert_eq!(offline["outbox"], 9);
    assert_eq!(offline["synced"], 0);
    assert_eq!(visit(&offline, &masked(0))["activated"], serde_json::json!([reserved]));
    assert_eq!(visit(&offline, &masked(1))["activated"], serde_json::json!([premade]));
    assert_eq!(visit(&offline, &masked(2))["failures"].as_array().map(Vec::len), Some(1));

    // A copy of the store with a record deleted is refused, and says what to do.
    let tampered = dir.join("tampered.db");
    std::fs::copy(&kit.store, &tampered).expect("copy");
    rusqlite::Connection::open(&tampered)
        .and_then(|db| db.execute("DELETE FROM outbox WHERE seq = 3", []))
        .expect("raw SQL");
    let out = Command::new(STATION)
        .args(["kit", "sync", "--store"])
        .arg(&tampered)
        .env("STATION_PASSWORD", KIT_PASSWORD)
        .env("STATION_OPERATOR", "outreach-op")
        .env("STATION_CONFIG", &kit.config)
        .output()
        .expect("station kit sync");
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("outbox record 3 is missing or out of order"), "{said}");
    assert!(said.contains("do not sync, call the supervisor"), "{said}");

    // A sync while the service is down keeps everything for the next one.
    kit.refused(&["sync"], "run it again");
    assert_eq!(kit.status()["synced"], 0);

    // Back online.
    let service = serve(&runtime, &cluster.url(), &pki, port);
    let out = kit.ok(&["sync"]);
    println!("{out}");
    assert!(out.contains("9 of 9 records sent now, 0 conflicts"), "{out}");
    let after = kit.status();
    assert_eq!((after["outbox"].clone(), after["synced"].clone()), (9.into(), 9.into()));
    assert_eq!(after["checked_in"], true);

    let cards = |i: usize| counter.lookup(&ssn(i)).expect("lookup").cards;
    let made = cards(0);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        (made[0].card_number.as_str(), made[0].status, made[0].card_id.as_deref(), made[0].station.as_str()),
        (reserved.as_str(), CardStatus::Active, Some(card_id.as_str()), "kit-1"),
        "the card made on the visit, live under its reserved number"
    );
    let handed = cards(1);
    assert_eq!(handed.len(), 1);
    assert_eq!((handed[0].card_number.as_str(), handed[0].status), (premade.as_str(), CardStatus::Active));
    assert!(cards(2).is_empty(), "nothing made for the failed visit");
    for i in 0..3 {
        assert!(
            cards(i).iter().filter(|c| c.status.is_live()).count() <= 1,
            "person {i} holds two live cards"
        );
    }
    counter.claim(&claim_request(&ssn(2), None)).expect("the failed visit's claim is released");

    // A second sync applies nothing twice.
    // The province holds the three spoiled cards once, under the number the made card carries.
    let lease_id = after["lease_id"].as_i64().expect("lease");
    let spoiled = runtime.block_on(async {
        let store = Store::connect(&cluster.url(), 'B', 1).await.expect("store");
        store.spoiled_cards("kit-1", lease_id).await.expect("spoiled cards")
    });
    let reasons: Vec<&str> = spoiled.iter().map(|(_, _, _, reason)| reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{spoiled:?}");
    assert!(reasons[0].contains("card at the contact station"), "{reasons:?}");
    assert!(reasons[1].contains("interrupted (done: feed-card)"), "{reasons:?}");
    assert!(
        reasons[2]
            .contains("interrupted (done: feed-card, personalise-financial, print-face, personalise-ssc)"),
        "{reasons:?}"
    );
    for (_, holder, number, _) in &spoiled {
        assert_eq!((holder, number), (&ssn(0), &reserved));
    }
    let out = kit.ok(&["sync"]);
    assert!(out.contains("0 of 9 records sent now"), "{out}");
    assert_eq!(cards(0), made);
    assert_eq!(cards(1), handed);
    let named = cluster.log_lines_naming_persons();
    assert!(named.is_empty(), "ID numbers in PostgreSQL's log:\n{}", named.join("\n"));
    service.abort();
}

/// Someone who knows the kit's passphrase (but does not hold its token) opens the store,
/// rewrites a failed visit as a hand-over of the card the kit carried, and seals it again with
/// the outbox chain and head recomputed, as the kit's own code would: the store opens and
/// shows the card handed over, but the province refuses the record (it was not signed in the
/// kit's token), applies nothing and keeps the refusal in its audit; the card stays in stock.
/// The province here is the station's SQLite archive (`provincial = sqlite`).
#[test]
fn a_store_resealed_with_the_passphrase_alone_syncs_nothing_it_changed() {
    let _one = common::serial();
    let c = Counter::start(1);
    let dir = c.dir.path();
    let config = dir.join("kit.toml");
    let station_toml = std::fs::read_to_string(dir.join("station.toml")).expect("station.toml");
    std::fs::write(&config, station_toml + &kit_token(dir)).expect("kit.toml");
    let province =
        archive::SqliteProvincial::open(dir.join("provincial.db"), "S-TEST", 'B').expect("province");
    let ssn = c.ssn(0);
    let claim = province.claim(&claim_request(&ssn, None)).expect("claim");
    let card = province.commit(&archive::conformance::commit_request(claim.claim_id)).expect("batch card");
    let kit = Kit { dir, config, store: dir.join("kit-9.db"), secrets: vec![ssn.clone()] };
    kit.ok(&["init", "--kit-id", "kit-9"]);
    kit.ok(&["keys", "generate"]);
    let name = c.people[0]["holder"]["name"].as_str().expect("name");
    let list = serde_json::json!([{"ssn": ssn, "name": name, "premade_card": card.card_number}]);
    std::fs::write(dir.join("visits.json"), list.to_string()).expect("visit list");
    assert!(kit.ok(&["checkout", "visits.json"]).contains("1 people claimed"));
    kit.ok_for(&["fail", "--reason", "nobody at home"], &holder(&ssn));

    // With the passphrase alone: record 1 rewritten as a hand-over, sealed again in place.
    let db = rusqlite::Connection::open(&kit.store).expect("the store");
    let meta = |name: &str| -> Vec<u8> {
        db.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).expect(name)
    };
    let cost = outreach::vault::KdfCost::parse(&String::from_utf8(meta("kdf")).expect("text")).expect("cost");
    let vault = outreach::vault::Vault::derive(KIT_PASSWORD, &meta("salt"), cost).expect("the key");
    let (lease, body): (i64, Vec<u8>) = db
        .query_row("SELECT lease_id, body FROM outbox WHERE seq = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("record 1");
    let mut outgoing: serde_json::Value =
        serde_json::from_slice(&vault.open(&format!("outbox:{lease}:1"), &body).expect("opened"))
            .expect("json");
    assert_eq!(outgoing["record"]["event"]["event"], "visit-failed");
    assert!(outgoing["record"]["signature"].is_string(), "the kit signed it");
    outgoing["record"]["event"] = serde_json::json!({
        "event": "handed-over", "ssn": ssn, "card_number": card.card_number, "signer": name,
        "signature_sm3": outreach::kit::sm3_hex(b"a signature never given"),
    });
    let plain = serde_json::to_vec(&outgoing).expect("json");
    let sealed = vault.seal(&format!("outbox:{lease}:1"), &plain).expect("sealed");
    db.execute("UPDATE outbox SET body = ?1 WHERE seq = 1", [sealed]).expect("record 1 replaced");
    let head = serde_json::json!({"seq": 1, "sm3": outreach::kit::sm3_hex(&plain)});
    let head = vault.seal(&format!("meta:head:{lease}"), head.to_string().as_bytes()).expect("head");
    db.execute(
        "UPDATE meta SET value = ?2 WHERE name = ?1",
        rusqlite::params![format!("head:{lease}"), head],
    )
    .expect("head replaced");
    drop(db);
    let status = kit.status();
    let masked = applicant::mask_id(&ssn);
    assert_eq!(
        visit(&status, &masked)["handed_over"],
        serde_json::json!([card.card_number]),
        "the kit believes it"
    );

    kit.refused(&["sync"], "was not made by this kit's token");
    kit.refused(&["sync"], "nothing of it was applied");
    let held = province.lookup(&ssn).expect("lookup").cards;
    assert_eq!(
        (held[0].card_number.as_str(), held[0].status),
        (card.card_number.as_str(), CardStatus::Made),
        "in stock"
    );
    let refusals = province
        .audit_of("kit-9")
        .expect("audit")
        .into_iter()
        .filter(|(op, _, outcome)| op == "kit-record" && outcome == "refused:record-not-signed")
        .count();
    assert_eq!(refusals, 2, "each refusal is in the province's audit");
}
