//! Records the seed corpora that need a real card or a real file: the APDU answers of the
//! simulated cards to the public SSSE read and to the EMV terminal flow, INITIALIZE UPDATE
//! answers of the GlobalPlatform card role, the test data-preparation file and an XLSX
//! roster; the repository's profiles, face templates, applicant files and photos for the
//! targets of the files a station reads; requests and answers of the daemon's API, the
//! provincial service and identity verification. `cargo +nightly fuzz build -a` builds it with
//! the targets; `scripts/fuzz --seeds` runs it. The other seeds are cut from the transcripts
//! and fixtures by `scripts/fuzz`.

use std::path::{Path, PathBuf};

use card_sim::{SharedCard, SimConnection};
use card_transport::{Capabilities, Card, CardTransaction, TransportError};
use emv_cps::{
    build_test_dp, personalise, run_terminal, test_transport_key, Interface, IssuerKeys, PersoParams,
    TerminalParams, TestCard,
};
use fuzz_checks::{daemon_requests, profile_path};
use secure_channel::{
    CardSession, HostHandshake, HostParams, KeySet, Scheme, SecretKey, SecurityLevel, SoftwareKeys,
};

/// Passes APDUs through and keeps the card's answers.
struct Recorder<'a> {
    inner: &'a mut dyn CardTransaction,
    answers: Vec<Vec<u8>>,
}

impl CardTransaction for Recorder<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.inner.transmit(command)?;
        self.answers.push(answer.clone());
        Ok(answer)
    }
    fn was_reset(&self) -> bool {
        self.inner.was_reset()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

/// The answers in the `ScriptedCard` format: a capabilities byte, then length-prefixed answers.
fn script(extended: bool, answers: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![u8::from(extended)];
    for a in answers {
        let a = &a[..a.len().min(255)];
        out.push(a.len() as u8);
        out.extend_from_slice(a);
    }
    out
}

fn card(profile: &str, blank: bool) -> SharedCard {
    card_sim::build_card(&card_sim::SimConfig {
        profile: profile_path(profile),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: "127.0.0.1:9".parse().expect("addr"),
        blank,
    })
    .expect("simulated card")
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("corpus dir");
    std::fs::write(d.join(name), bytes).expect("seed");
}

fn read_card_seeds(out: &Path) {
    for profile in ["ssc-3g-sim.toml", "ssc-2g-sim.toml"] {
        let sim = card(profile, false);
        let atr = card_sim::lock(&sim).atr();
        let mut conn = SimConnection::connect("sim", sim).expect("connect");
        let mut tx = conn.transaction().expect("transaction");
        let extended = tx.capabilities().extended_length;
        let mut rec = Recorder { inner: tx.as_mut(), answers: Vec::new() };
        ssse::read_card(&mut rec, &atr).expect("read");
        let mut seed = vec![atr.len() as u8];
        seed.extend_from_slice(&atr);
        seed.extend(script(extended, &rec.answers));
        write(out, "ssse_read_card", &profile.replace(".toml", ".bin"), &seed);
    }
}

fn emv_seeds(out: &Path) {
    let sim = card("ssc-3g-fin-sim.toml", true);
    let dp = build_test_dp(&TestCard::example(), &IssuerKeys::test(), &test_transport_key()).expect("dp");
    write(out, "emv_dp", "test-card.json", dp.to_json().as_bytes());
    let profile = firmware_profile::Profile::load(profile_path("ssc-3g-fin-sim.toml")).expect("profile");
    let isd =
        secure_channel::IsdSetup::from_profile(&profile).and_then(|s| s.sim_keys(&profile)).expect("keys");
    let mut conn = SimConnection::connect("sim", sim).expect("connect");
    let mut tx = conn.transaction().expect("transaction");
    personalise(tx.as_mut(), &dp, &test_transport_key(), &isd, &PersoParams::test()).expect("personalise");
    for (pick, interface, name) in
        [(0u8, Interface::Contact, "contact"), (1, Interface::Contactless, "contactless")]
    {
        let extended = tx.capabilities().extended_length;
        let mut rec = Recorder { inner: tx.as_mut(), answers: Vec::new() };
        let params = TerminalParams::counter(interface, "261204", [1, 2, 3, 4]);
        if run_terminal(&mut rec, &params).is_err() {
            continue;
        }
        let mut seed = vec![pick];
        seed.extend(script(extended, &rec.answers));
        write(out, "emv_terminal", &format!("{name}.bin"), &seed);
        // Each answer is also a sample of EMV BER-TLV.
        for (i, a) in rec.answers.iter().enumerate().filter(|(_, a)| a.len() > 2) {
            write(out, "emv_tlv", &format!("{name}-{i:02}.bin"), &a[..a.len() - 2]);
            write(out, "ber_tlv", &format!("{name}-{i:02}.bin"), &a[..a.len() - 2]);
        }
    }
}

fn gp_seeds(out: &Path) {
    const TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";
    let schemes = [Scheme::scp02(0x55), Scheme::scp03(0x00), Scheme::scp03(0x70), Scheme::scp03_sm4(0x30)];
    for (pick, scheme) in schemes.iter().enumerate() {
        let key = SecretKey::from_hex(scheme.algorithm, TEST_KEY).expect("key");
        let keys = SoftwareKeys::new(KeySet::single(0x20, key.clone())).expect("keys");
        let params = HostParams {
            scheme: *scheme,
            level: SecurityLevel::new(0x01).expect("level"),
            expected_kcvs: None,
        };
        let challenge = vec![0x11; scheme.challenge_len()];
        let host = HostHandshake::new(&keys, params, &challenge).expect("host");
        let mut card = CardSession::new(*scheme, KeySet::single(0x20, key), [0x42; 10]).expect("card");
        let counter: &[u8] = if scheme.scp03_pseudo_random() {
            &[0, 0, 1]
        } else if scheme.i == 0x55 {
            &[0, 1]
        } else {
            &[]
        };
        let card_challenge = vec![0x22; scheme.challenge_len().min(if scheme.i == 0x55 { 6 } else { 16 })];
        let Ok(answer) = card.initialize_update(&host.initialize_update(), &card_challenge, counter) else {
            continue;
        };
        let mut seed = vec![pick as u8];
        seed.extend(answer.to_bytes());
        write(out, "gp_init_update", &format!("scheme-{pick}.bin"), &seed);
    }
}

fn xlsx_seed(out: &Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let rows = [
        [
            "姓名",
            "身份证号",
            "民族",
            "手机号",
            "镇街",
            "村(社区)",
            "开户行",
            "银行卡号",
            "补贴额",
            "预计发放时间",
        ],
        [
            "张三",
            "11010519491231002X",
            "汉族",
            "13800138000",
            "泗张镇",
            "王家庄村",
            "农商银行",
            "6212340000000000001",
            "120.5",
            "2026-12-01",
        ],
        ["李四", "110105194912310037", "01", "13900139000", "泗张镇", "王家庄村", "", "", "80", "2026/12/01"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32, c as u16, *v).expect("cell");
        }
    }
    ws.write_number(3, 1, 110105194912310037.0).expect("number cell");
    let bytes = wb.save_to_buffer().expect("xlsx");
    write(out, "roster_xlsx", "sishui.xlsx", &bytes);
}

/// One recorded exchange: `(name, extended, [(command, answer)])`.
type Transcript = (String, bool, Vec<(Vec<u8>, Vec<u8>)>);

/// The repository's recorded APDU transcripts.
fn transcripts(root: &Path) -> Vec<Transcript> {
    let mut out = Vec::new();
    for dir in ["crates/apdu/tests/transcripts", "crates/ssse/tests/transcripts"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("transcripts")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("transcript");
            let hex = |l: &str| -> Vec<u8> {
                l[1..].split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect()
            };
            let mut pairs = Vec::new();
            let mut cmd = None;
            for line in text.lines() {
                match line.chars().next() {
                    Some('>') => cmd = Some(hex(line)),
                    Some('<') => pairs.push((cmd.take().expect("command before answer"), hex(line))),
                    _ => {}
                }
            }
            let name = f.file_stem().expect("name").to_string_lossy().into_owned();
            out.push((name, !text.contains("! short"), pairs));
        }
    }
    out
}

fn transcript_seeds(out: &Path, root: &Path) {
    for (name, extended, pairs) in transcripts(root) {
        for (i, (cmd, answer)) in pairs.iter().enumerate().take(24) {
            write(out, "apdu_command", &format!("{name}-{i:02}.bin"), cmd);
            write(out, "apdu_response", &format!("{name}-{i:02}.bin"), answer);
            if answer.len() > 4 && answer[0] == 0x6F {
                write(out, "ber_tlv", &format!("{name}-{i:02}.bin"), &answer[..answer.len() - 2]);
                write(out, "emv_tlv", &format!("{name}-{i:02}.bin"), &answer[..answer.len() - 2]);
            }
        }
        let answers: Vec<Vec<u8>> = pairs.iter().map(|(_, a)| a.clone()).collect();
        let first = &pairs[0].0;
        let mut seed = vec![first.len() as u8];
        seed.extend_from_slice(first);
        seed.extend(script(extended, &answers));
        write(out, "apdu_transmit", &format!("{name}.bin"), &seed);
        // vpcd: power on, ATR, then the transcript's commands, cut in pieces of 7 bytes.
        let mut frames = vec![0u8, 7];
        for msg in [vec![0x01], vec![0x04]].into_iter().chain(pairs.iter().map(|(c, _)| c.clone())) {
            frames.extend((msg.len() as u16).to_be_bytes());
            frames.extend(msg);
        }
        write(out, "vpcd_frames", &format!("{name}.bin"), &frames);
        // SSSE records as written by UPDATE RECORD (P2 = SFI << 3 | 4): tag, length, record.
        for (sfi, file) in [(0x2C_u8, "ef05"), (0x34, "ef06")] {
            let records: Vec<u8> = pairs
                .iter()
                .filter(|(c, _)| c.len() > 5 && c[1] == 0xDC && c[3] == sfi)
                .flat_map(|(c, _)| [vec![c[2], c[4]], c[5..].to_vec()].concat())
                .collect();
            if !records.is_empty() {
                write(out, "ssse_records", &format!("{name}-{file}.bin"), &records);
            }
        }
    }
}

fn printer_seeds(out: &Path) {
    use evolis::*;
    let replies: &[&str] = &[
        "OK",
        "SMART CARD",
        "CARD",
        "CONTACTLESS CARD",
        "4,98 Volts",
        "0,00 Volts",
        "1234",
        "Primacy",
        "ERR RIB DETECTION",
        "ERROR CDE",
        "ERR MECA JAM",
        "\r\nPrimacy\r\n",
        "250",
        "ZONE 4",
    ];
    let mut stream = vec![5u8];
    for r in replies {
        codec::encode_reply(r, &mut stream);
    }
    write(out, "evolis_replies", "replies.bin", &stream);
    write(out, "evolis_replies", "no-nul.bin", b"\x40OK\r\n");
    let mut requests = vec![3u8];
    for r in [
        encode_to_vec(&SetHostErrorMode),
        encode_to_vec(&ReadCardPosition),
        encode_to_vec(&MoveToContact),
        encode_to_vec(&ReadSensor(Sensor::Feeder)),
        encode_to_vec(&ReadCounter(Counter::Printed)),
        encode_to_vec(&ReadRibbonRemaining),
        encode_to_vec(&StartSequence),
        encode_to_vec(&EndSequence),
        encode_to_vec(&RejectCard),
    ] {
        requests.extend(r);
    }
    write(out, "evolis_requests", "requests.bin", &requests);
    write(out, "evolis_requests", "junk-then-request.bin", b"\x01zz\x1bRfv\r\x1bDb;k;2;");
}

fn text_seeds(out: &Path, root: &Path) {
    let csv = "姓名,身份证号,民族,手机号,镇街,村（社区）,开户行,银行卡号,补贴额,预计发放时间\n\
               张三,11010519491231002X,汉族,13800138000,泗张镇,王家庄村,农商银行,6212340000000000001,120.5,2026-12-01\n\
               李四, 110105194912310037 ,01,139 0013 9000,泗张镇,王家庄村,,,80,2026/12/01\n";
    write(out, "roster_csv", "sishui-utf8.csv", csv.as_bytes());
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    write(out, "roster_csv", "sishui-gbk.csv", &gbk);
    write(
        out,
        "roster_csv",
        "english.csv",
        b"name,ssn,township\n\"Zhang, San\",11010519491231002X,Sizhang\n",
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("crates/applicant/testdata"))
        .expect("testdata")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read(&f).expect("applicant");
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        write(out, "applicant_json", &name, &text);
        if name == "adult.json" || name == "minor.json" {
            let body = format!("{{\"applicant\": {}, \"reissue_of\": null}}", String::from_utf8_lossy(&text));
            write(out, "daemon_api", &format!("issue-{name}"), body.as_bytes());
        }
    }
    write(out, "daemon_api", "login.json", br#"{"operator": "op-1", "password": "correct horse"}"#);
    write(out, "daemon_api", "reissue.json", br#"{"applicant": {}, "reissue_of": "B00000019"}"#);
    write(
        out,
        "apdu_command",
        "atr-3g.bin",
        b"\x3B\x8E\x01\x80\x73\x00\x00\xC0\x58\x00\xBF\x7C\x7A\x48\xFB\x49\x66\xC1",
    );
}

fn main() {
    let out: PathBuf = std::env::args_os().nth(1).map_or_else(|| PathBuf::from("fuzz/corpus"), PathBuf::from);
    read_card_seeds(&out);
    emv_seeds(&out);
    gp_seeds(&out);
    xlsx_seed(&out);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    transcript_seeds(&out, &root);
    printer_seeds(&out);
    text_seeds(&out, &root);
    daemon_seeds(&out, &root);
    photo_seeds(&out, &root);
    toml_seeds(&out, &root);
    service_seeds(&out);
    visit_seeds(&out, &root);
    println!("seeds written under {}", out.display());
}

/// A seed of a target whose first byte picks what the rest is.
fn picked(pick: u8, rest: &[u8]) -> Vec<u8> {
    [&[pick][..], rest].concat()
}

fn applicant_file(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join("crates/applicant/testdata").join(name)).expect("applicant")
}

/// `daemon_requests`: a request of every route (`fuzz_checks::daemon_requests::routes`).
fn daemon_seeds(out: &Path, root: &Path) {
    let adult = applicant_file(root, "adult.json");
    let minor = applicant_file(root, "minor.json");
    let seeds: Vec<(&str, &str, String)> = vec![
        ("login", "POST /api/session", r#"{"operator": "op-1", "password": "correct horse"}"#.into()),
        ("login-bearer", "POST /api/session", r#"{"operator": "op-1", "password": "correct horse", "bearer": true}"#.into()),
        ("password", "POST /api/session/password", r#"{"current": "given-7f3a", "new": "a longer one of mine"}"#.into()),
        ("issue-adult", "POST /api/jobs", format!(r#"{{"applicant": {adult}, "reissue_of": null}}"#)),
        ("issue-minor", "POST /api/jobs", format!(r#"{{"applicant": {minor}}}"#)),
        ("issue-later", "POST /api/jobs", format!(r#"{{"applicant": {adult}, "collection": "later", "storage_place": "乡镇代办点", "keeper": "王主管"}}"#)),
        ("issue-site", "POST /api/jobs", format!(r#"{{"applicant": {adult}, "site": "T03"}}"#)),
        ("issue-bad-id", "POST /api/jobs", format!(r#"{{"applicant": {}}}"#, applicant_file(root, "bad_id.json"))),
        ("validate-adult", "POST /api/validate", adult.clone()),
        ("validate-bad-fields", "POST /api/validate", applicant_file(root, "bad_fields.json")),
        ("handover", "POST /api/cards/{card}/handover", r#"{"delivered": true, "signer": "张三", "signature_png": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"}"#.into()),
        ("handover-failed", "POST /api/cards/{card}/handover", r#"{"delivered": false, "reason": "nobody at home"}"#.into()),
        ("handover-holder", "POST /api/cards/{card}/handover", r#"{"delivered": true, "signature_png": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC", "receiver": {"kind": "holder", "id_number": "11010519491231002X"}}"#.into()),
        ("handover-custodian", "POST /api/cards/{card}/handover", r#"{"delivered": true, "signer": "李四", "signature_png": "iVBORw0KGgo=", "receiver": {"kind": "custodian", "name": "李四", "id_number": "110105194912310037"}}"#.into()),
        ("stock", "POST /api/cards/{card}/stock", r#"{"reason": "持卡人有事先离开", "place": "网点保管柜 A", "keeper": null}"#.into()),
        ("activate", "POST /api/cards/{card}/activate", r#"{"holder_present": true, "id_checked": true, "photo_jpeg": null}"#.into()),
        ("custody", "POST /api/cards/{card}/custody", r#"{"handed_over_by": "op-1", "holder_group": "敬老院", "custodian": "李四", "custodian_id": "110105194912310037", "reason": "the holder is bedridden", "valid_until": "20271231"}"#.into()),
        ("replace", "POST /api/cards/{card}/replace", r#"{"bank": "农商银行", "chosen_by": "person", "fee_fen": 0}"#.into()),
        ("loss", "POST /api/cards/{card}/loss", r#"{"request_key": "k-1", "holder_at_counter": true}"#.into()),
        ("loss-empty", "POST /api/cards/{card}/loss", "{}".into()),
        ("temporary-loss-phone", "POST /api/cards/{card}/temporary-loss", r#"{"id_number": "11010519491231002X", "channel": "phone", "request_key": "call-1"}"#.into()),
        ("temporary-loss-counter", "POST /api/cards/{card}/temporary-loss", r#"{"id_number": "11010519491231002X", "channel": "counter", "id_checked": true}"#.into()),
        ("lift-loss", "POST /api/cards/{card}/lift-loss", r#"{"id_number": "11010519491231002X", "id_checked": true, "request_key": "lift-1"}"#.into()),
        ("replacement-fee-empty", "POST /api/cards/{card}/replacement-fee", "{}".into()),
        ("refusal", "POST /api/cards/{card}/refusal", r#"{"what": "card-change", "chosen_by": "person", "date": "2026-12-06", "note": "不换卡"}"#.into()),
        ("refusal-by-operator", "POST /api/cards/{card}/refusal", r#"{"what": "activation", "chosen_by": "operator"}"#.into()),
        ("restore", "POST /api/jobs/{id}/restore", r#"{"reason": "the new card failed its chip check"}"#.into()),
        ("identity-correct", "POST /api/jobs/{id}/correct", r#"{"holder": {"name": "张三", "id_validity": {"from": "2016-05-01", "to": "2036-05-01"}}}"#.into()),
        ("identity-end", "POST /api/jobs/{id}/correct", r#"{"end": "the applicant will bring the document"}"#.into()),
        ("deceased", "POST /api/persons/deceased", r#"{"id_number": "11010519491231002X", "evidence": "死亡医学证明 No. 0001", "request_key": "d-1"}"#.into()),
        ("correct", "POST /api/persons/deceased/correct", r#"{"id_number": "11010519491231002X", "reason": "the person came to the counter"}"#.into()),
        ("resolve", "POST /api/kit/conflicts/{record}/resolve", r#"{"note": "the card was taken back from the family"}"#.into()),
        ("stock-receive", "POST /api/stock/receive", r#"{"file_name": "交付清单-2026-11.csv", "content": "Y2FyZF9udW1iZXIsaWRfbnVtYmVyLG5hbWUsY2FyZF9pZCxiYXRjaCxib3gscG9zaXRpb24KQjAwMDAwMDE5LDExMDEwNTE5NDkxMjMxMDAyWCzlvKDkuIksMTEwMTAwRDE1NjAwMDAwNTAwQkY3QzdBNDhGQjQ5NjYsMjAyNi0xMSwzLDE3Cg==", "place": "网点保管柜 A", "keeper": null}"#.into()),
        ("stock-move", "POST /api/stock/move", r#"{"cards": ["B00000019", "B00000027"], "to_site": "site-dongcun", "giver": "王主管", "receiver": "李代办员"}"#.into()),
        ("cards", "GET /api/cards", "status=made".into()),
        ("cards-twice", "GET /api/cards", "status=made&status=issued".into()),
        ("dormant", "GET /api/cards/dormant", "days=90".into()),
        ("dormant-negative", "GET /api/cards/dormant", "days=-1".into()),
        ("job", "GET /api/jobs/{id}", "42".into()),
        ("face", "GET /api/jobs/{id}/face", "-7".into()),
        ("request", "GET /api/requests/{id}", "+3".into()),
    ];
    for (name, route, body) in seeds {
        write(
            out,
            "daemon_requests",
            &format!("{name}.bin"),
            &daemon_requests::input(route, body.as_bytes()),
        );
    }
    // Inputs of findings (fuzz/README.md), kept with their route's byte.
    let kept: [(&str, &str, &[u8]); 2] = [
        ("dormant-days-overflow", "GET /api/cards/dormant", b"days=9223372036854775807"),
        ("ignored-key-invalid-utf8", "POST /api/jobs", b"{\"applicant\": {}, \"contact\": \"\xE5\x8C\x97\x9C\"}"),
    ];
    for (name, route, body) in kept {
        write(out, "daemon_requests", &format!("{name}.bin"), &daemon_requests::input(route, body));
    }
}

/// `photo_input` and `face_photo`: frames of the photo crate's test data, a card photo made
/// from one, and small images of each colour type.
fn photo_seeds(out: &Path, root: &Path) {
    use card_face::image::{self, ImageFormat};
    let testdata = root.join("crates/photo/testdata/frames");
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for name in ["pass_640x480.jpg", "fail_no_face.jpg"] {
        seeds.push((name.into(), std::fs::read(testdata.join(name)).expect("frame")));
    }
    let frame = photo::source::decode_frame(&seeds[0].1).expect("a frame");
    let mut processor = photo::PhotoProcessor::new(photo::PhotoSpec::default()).expect("face model");
    let card = processor.process(&frame).expect("the pass frame makes a photo");
    seeds.push(("card-photo.jpg".into(), card.jpeg));
    let encode = |img: image::DynamicImage, format: ImageFormat| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, format).expect("encode");
        bytes.into_inner()
    };
    let small = image::imageops::thumbnail(&frame, 24, 18);
    seeds.push(("small-rgb.png".into(), encode(small.clone().into(), ImageFormat::Png)));
    seeds.push(("small-rgb.jpg".into(), encode(small.clone().into(), ImageFormat::Jpeg)));
    let gray = image::DynamicImage::ImageRgb8(small).to_luma8();
    seeds.push(("small-gray.jpg".into(), encode(gray.clone().into(), ImageFormat::Jpeg)));
    let rgba = image::DynamicImage::ImageLuma8(gray).to_rgba8();
    seeds.push(("small-rgba.png".into(), encode(rgba.into(), ImageFormat::Png)));
    for (name, bytes) in &seeds {
        write(out, "photo_input", name, bytes);
        write(out, "face_photo", name, bytes);
    }
}

/// `profile_toml` (the byte: card, reader or printer profile), `face_template`, `station_toml`.
fn toml_seeds(out: &Path, root: &Path) {
    let profiles = root.join("firmware-profiles");
    for (pick, dir) in [(0u8, ""), (1, "readers"), (2, "printers")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(profiles.join(dir))
            .expect("profiles")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().expect("name").to_string_lossy().into_owned();
            let text = std::fs::read(&f).expect("profile");
            write(
                out,
                "profile_toml",
                &format!("{}{name}", if dir.is_empty() { String::new() } else { format!("{dir}-") }),
                &picked(pick, &text),
            );
        }
    }
    for name in ["ssc-3g.toml", "ssc-2g.toml"] {
        write(out, "face_template", name, &std::fs::read(profiles.join("faces").join(name)).expect("face"));
    }
    // Synthetic accounts: the hash is of no real password.
    let accounts = r#"
[[operator]]
name = "op1"
role = "operator"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"

[[operator]]
name = "sup1"
role = "supervisor"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
"#;
    let head = "station = \"S-0101\"\ndata_dir = \"/var/lib/station\"\n";
    let counter = r#"
[counter]
printer = "usb:0x0F7E:0x0A01"
profile = "/etc/station/profiles/vendor-3g.toml"
region = "110100"
init_org = "11010000000000000001"
identity_verification = "http://127.0.0.1:8790"
"#;
    let seeds = [
        ("daemon-only.toml", format!("{head}{accounts}")),
        (
            "login-policy.toml",
            format!("{head}listen = \"127.0.0.1:8443\"\nsession_minutes = 480\n{accounts}\n[login]\ndelay_after = 5\nlock_after = 10\nbase_delay_ms = 1000\nmax_delay_seconds = 60\naddress_lock_minutes = 15\nwindow_minutes = 15\nconcurrent_checks = 2\n"),
        ),
        (
            "counter-service.toml",
            format!("{head}{accounts}{counter}provincial = {{ kind = \"service\", url = \"https://archive.example:8443\", ca = \"ca.pem\", identity = \"S-0101.pem\" }}\n"),
        ),
        (
            "counter-sqlite-financial.toml",
            format!("{head}{accounts}{counter}card_reader = \"kind:contact\"\npsam_reader = \"#1\"\nvalidity_years = 10\ncamera = \"file:/var/lib/station/frames\"\nprovincial = {{ kind = \"sqlite\" }}\n\n[counter.financial]\ndp = \"test\"\nbin = \"621234\"\nisd_key = \"test\"\ntransport_key = \"test\"\n"),
        ),
        (
            "counter-idv-tls.toml",
            format!("{head}{accounts}{}provincial = {{ kind = \"sqlite\" }}\n", counter.replace("\"http://127.0.0.1:8790\"", "{ url = \"https://idv.example:8443\", ca = \"idv/ca.pem\", client_cert = \"idv/S-0101.pem\", client_key = \"idv/S-0101.key\" }")),
        ),
    ];
    for (name, text) in seeds {
        write(out, "station_toml", name, text.as_bytes());
    }
}

/// The conformance suite's kit key (`archive::conformance::KitKey::ours`), public half, and its
/// signature of the `record` seed: the seed is a record the province takes.
const KIT_RECORD_KEY: &str = "046ff03b949241ce1dadd43519e6960e0a85b41a69a05c328103aa2bce1594ca163c4f753a55bf01dc53f6c0b0c7eee78b40c6ff7d25a96e2282b989cef71c144a";
const KIT_RECORD_SIGNATURE: &str = "64dce0395f32f93deb6754fff44016501f9b1c9e37cb5d57ce72f35446f9de230158624492191a729b3d81d1d726172078f219cad4ae0ba46053b022556f4725";

/// `provincial_requests` (the byte: the route), `provincial_answers` (the call and the
/// status), `idv_answers` (the status).
fn service_seeds(out: &Path) {
    let id = "11010519491231002X";
    let requests: [(&str, String); 22] = [
        ("lookup", format!(r#"{{"ssn": "{id}"}}"#)),
        ("claim", format!(r#"{{"request_id": "S-0101:1", "ssn": "{id}", "name": "张三", "reissue_of": null, "lease_seconds": 900}}"#)),
        ("commit", r#"{"request_id": "S-0101:2", "claim_id": 7, "card_id": "0102030405060708", "atr": "3B8E018073"}"#.into()),
        ("release", r#"{"request_id": "S-0101:3", "claim_id": 7, "reason": "printer jam", "card": "rejected"}"#.into()),
        ("renew", r#"{"request_id": "S-0101:4", "claim_id": 7, "lease_seconds": 600}"#.into()),
        ("correct", format!(r#"{{"request_id": "S-0101:5", "ssn": "{id}", "supervisor": "sup2", "reason": "seen alive at the counter"}}"#)),
        ("stop", r#"{"request_id": "S-0101:6", "card_number": "B00000019", "reason": "lost", "end": "stopped", "for_holder": {"why": "loss", "operator": "op1", "id_checked": true}}"#.into()),
        ("deceased", format!(r#"{{"request_id": "S-0101:7", "ssn": "{id}", "evidence": "死亡医学证明 No. 0001", "supervisor": "sup1"}}"#)),
        ("checkout", format!(r#"{{"request_id": "kit-1:1", "visits": [{{"ssn": "{id}", "name": "张三", "premade_card": null}}, {{"ssn": "110105194912310037", "name": "李四", "premade_card": "B00000027"}}], "lease_seconds": 259200, "record_key": "{KIT_RECORD_KEY}"}}"#)),
        ("record", format!(r#"{{"record_id": "kit-1:3:1", "lease_id": 3, "seq": 1, "event": {{"event": "handed-over", "ssn": "{id}", "card_number": "B00000027", "signer": "张三", "signature_sm3": "00ff"}}, "signature": "{KIT_RECORD_SIGNATURE}"}}"#)),
        ("checkin", r#"{"request_id": "kit-1:2", "lease_id": 3, "records": 1}"#.into()),
        ("resolve", r#"{"record_id": "kit-1:3:1", "resolved_by": "sup1", "note": "card taken back"}"#.into()),
        ("deliver", r#"{"request_id": "C-0001:9", "card_number": "B00000019", "to_station": "S-0101"}"#.into()),
        ("receive", format!(r#"{{"request_id": "S-0101:9", "card_number": "B00000019", "ssn": "{id}", "card_id": "0102030405060708"}}"#)),
        ("restore", r#"{"request_id": "S-0101:10", "claim_id": 7, "card_number": "B00000019", "supervisor": "sup1", "reason": "the new card failed its chip check", "card": "rejected"}"#.into()),
        ("suspend", format!(r#"{{"request_id": "S-0101:11", "card_number": "B00000019", "ssn": "{id}", "channel": "phone", "operator": "op1", "id_checked": false, "seconds": 432000}}"#)),
        ("lift", format!(r#"{{"request_id": "S-0101:12", "card_number": "B00000019", "ssn": "{id}", "operator": "op1", "id_checked": true}}"#)),
        ("anchor", r#"{"request_id": "S-0101:anchor-42", "head": {"seq": 42, "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}"#.into()),
        ("custody", r#"{"request_id": "S-0101:custody-B00000019-9f86d081", "approval": {"card_number": "B00000019", "holder_group": "disabled", "custodian": "李秀英", "custodian_id": "110101********0038", "approved_by": "sup1", "reason": "重度残疾, 由女儿代领", "valid_until": "20271231"}}"#.into()),
        ("release-unknown", r#"{"request_id": "S-0101:8", "claim_id": 7, "reason": "crash"}"#.into()),
        ("record-custodian", format!(r#"{{"record_id": "kit-1:3:2", "lease_id": 3, "seq": 2, "event": {{"event": "handed-over", "ssn": "{id}", "card_number": "B00000027", "signer": "李秀英", "signature_sm3": "00ff", "custodian": {{"approval_id": 4, "name": "李秀英", "id_number": "110101********0038", "on": "20261206"}}}}}}"#)),
        // Its signer changed after the kit signed it: the province refuses it.
        ("record-altered", format!(r#"{{"record_id": "kit-1:3:1", "lease_id": 3, "seq": 1, "event": {{"event": "handed-over", "ssn": "{id}", "card_number": "B00000027", "signer": "李四", "signature_sm3": "00ff"}}, "signature": "{KIT_RECORD_SIGNATURE}"}}"#)),
    ];
    for (i, (name, body)) in requests.iter().enumerate() {
        let pick = match *name {
            "release-unknown" => 3,
            "record-custodian" | "record-altered" => 9,
            _ => i as u8,
        };
        write(out, "provincial_requests", &format!("{name}.json.bin"), &picked(pick, body.as_bytes()));
    }
    let card = format!(
        r#"{{"card_number": "B00000019", "ssn": "{id}", "card_id": null, "atr": null, "status": "made", "station": "S-0101"}}"#
    );
    let claim = format!(
        r#"{{"claim_id": 7, "ssn": "{id}", "station": "S-0101", "card_number": "B00000019", "reissue_of": null, "expires_at": 1796000000}}"#
    );
    // (call, status index in provincial_answers::STATUSES, body)
    let answers: Vec<(&str, u8, u8, String)> = vec![
        ("person", 0, 0, format!(r#"{{"ssn": "{id}", "deceased": false, "cards": [{card}], "live_claim": {claim}}}"#)),
        ("claim", 1, 0, claim.clone()),
        ("card", 2, 0, card.clone()),
        ("unit", 3, 0, "null".into()),
        ("cancelled", 4, 0, r#"["B00000019"]"#.into()),
        ("checkout", 5, 0, format!(r#"{{"lease_id": 3, "kit": "kit-1", "expires_at": 1796000000, "visits": [{{"ssn": "{id}", "name": "张三", "claim_id": 8, "card_number": "B00000035", "premade_card": null}}], "refused": [{{"ssn": "110105194912310037", "refusal": {{"refusal": "deceased"}}}}]}}"#)),
        ("record", 6, 0, r#"{"record_id": "kit-1:3:1", "seq": 1, "outcome": {"outcome": "conflict", "reason": "the card was stopped"}}"#.into()),
        ("checkin", 7, 0, r#"{"lease_id": 3, "not_seen": [], "released": 1, "returned_numbers": ["B00000035"], "back_to_stock": []}"#.into()),
        ("conflicts", 8, 0, format!(r#"[{{"record_id": "kit-1:3:1", "kit": "kit-1", "lease_id": 3, "ssn": "{id}", "card_number": null, "reason": "deceased"}}]"#)),
        ("refused", 1, 1, r#"{"refusal": "already-claimed", "station": "S-0202", "expires_at": 1796000000}"#.into()),
        ("bad-request", 2, 2, r#"{"error": "ssn must be the 18-character resident ID number"}"#.into()),
        ("unprocessable", 2, 3, "Failed to deserialize the JSON body into the target type".into()),
        ("unavailable", 0, 5, r#"{"error": "store: connection refused"}"#.into()),
    ];
    for (name, call, status, body) in answers {
        write(
            out,
            "provincial_answers",
            &format!("{name}.bin"),
            &[&[call, status][..], body.as_bytes()].concat(),
        );
    }
    // (status index in idv_answers::STATUSES, body)
    let verdicts: [(&str, u8, &str); 5] = [
        ("match", 0, r#"{"verdict": "match"}"#),
        (
            "mismatch",
            0,
            r#"{"verdict": "mismatch", "fields": [{"field": "name", "hint": "check the characters against the ID card"}]}"#,
        ),
        ("bad-request", 1, "id_number: 17 characters"),
        ("unavailable", 3, "<html>503 Service Unavailable</html>"),
        ("garbled", 0, r#"{"verdict": "maybe"}"#),
    ];
    for (name, status, body) in verdicts {
        write(out, "idv_answers", &format!("{name}.bin"), &picked(status, body.as_bytes()));
    }
}

/// `kit_visits`: lists of applicants and of people with a pre-made card.
fn visit_seeds(out: &Path, root: &Path) {
    let adult = applicant_file(root, "adult.json");
    let minor = applicant_file(root, "minor.json");
    let lists = [
        ("applicants.json", format!(r#"[{{"applicant": {adult}}}, {{"applicant": {minor}}}]"#)),
        (
            "premade.json",
            r#"[{"ssn": "110105194912310037", "name": "李四", "premade_card": "B00000027"}]"#.to_string(),
        ),
        (
            "mixed.json",
            format!(
                r#"[{{"applicant": {adult}, "premade_card": "B00000019"}}, {{"ssn": "110105194912310037", "name": "李四", "premade_card": "B00000027"}}]"#
            ),
        ),
        (
            "twice.json",
            format!(
                r#"[{{"applicant": {adult}}}, {{"ssn": "11010519491231002X", "name": "张三", "premade_card": "B00000019"}}]"#
            ),
        ),
        (
            "refused.json",
            format!(
                r#"[{{"applicant": {}}}, {{"ssn": "110105194912310037", "name": "李四"}}]"#,
                applicant_file(root, "bad_id.json")
            ),
        ),
        ("empty.json", "[]".to_string()),
    ];
    for (name, text) in lists {
        write(out, "kit_visits", name, text.as_bytes());
    }
}
