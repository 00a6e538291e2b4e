//! Records the seed corpora that need a real card or a real file: the APDU answers of the
//! simulated cards to the public SSSE read and to the EMV terminal flow, INITIALIZE UPDATE
//! answers of the GlobalPlatform card role, the test data-preparation file and an XLSX
//! roster. `cargo +nightly fuzz build -a` builds it with the targets; `scripts/fuzz --seeds`
//! runs it. The other seeds are cut from the transcripts and fixtures by `scripts/fuzz`.

use std::path::{Path, PathBuf};

use card_sim::{SharedCard, SimConnection};
use card_transport::{Capabilities, Card, CardTransaction, TransportError};
use emv_cps::{
    build_test_dp, personalise, run_terminal, test_transport_key, Interface, IssuerKeys, PersoParams,
    TerminalParams, TestCard,
};
use secure_channel::{
    CardSession, HostHandshake, HostParams, KeySet, Scheme, SecretKey, SecurityLevel, SoftwareKeys,
};
use station_fuzz::profile_path;

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
    println!("seeds written under {}", out.display());
}
