use std::path::PathBuf;
use std::sync::Arc;

use firmware_profile::{Algorithm, ApplicationKind, CardLifeCycle, FileLifeCycle, FilePath, Profile};

use super::*;
use card_crypto::external_auth_cryptogram;

pub(crate) fn profile_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles").join(name)
}

pub(crate) fn profile(name: &str) -> Arc<Profile> {
    Arc::new(Profile::load(profile_path(name)).expect("profile"))
}

pub(crate) fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("hex")
}

/// A card as the factory makes it (keys diversified from the PSAM profile).
pub(crate) fn manufactured(name: &str) -> CardOs {
    let p = profile(name);
    let factory = crate::factory_for(&p, &profile_path(name)).expect("factory");
    CardOs::manufacture(p, &factory)
}

fn card() -> CardOs {
    manufactured("ssc-3g-sim.toml")
}

/// Sends hex, returns (data, SW1SW2).
fn tx(os: &mut CardOs, apdu: &str) -> (Vec<u8>, u16) {
    tx_bytes(os, &h(apdu))
}

fn tx_bytes(os: &mut CardOs, apdu: &[u8]) -> (Vec<u8>, u16) {
    let r = os.process(apdu);
    let split = r.len() - 2;
    (r[..split].to_vec(), u16::from_be_bytes([r[split], r[split + 1]]))
}

fn sw(os: &mut CardOs, apdu: &str) -> u16 {
    tx(os, apdu).1
}

fn path(s: &str) -> FilePath {
    FilePath::parse(s).expect("path")
}

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";

/// GET CHALLENGE then EXTERNAL AUTHENTICATE with the profile's test key.
fn authenticate(os: &mut CardOs, df: &str, key_id: u8) -> u16 {
    let p = os.profile().clone();
    let key = p.find_key(&path(df), key_id).expect("key");
    let value = os.key_value(&key.df, key_id, None).expect("test value").to_vec();
    let (challenge, s) = tx(os, "0084000008");
    assert_eq!(s, 0x9000);
    let crypt = external_auth_cryptogram(key.algorithm, &value, &challenge).expect("cryptogram");
    let mut cmd = vec![0x00, 0x82, 0x00, key_id, crypt.len() as u8];
    cmd.extend(crypt);
    tx_bytes(os, &cmd).1
}

#[test]
fn select_by_aid_fid_and_path() {
    let mut os = card();
    let (fci, s) = tx(&mut os, &format!("{SELECT_SSSE}00"));
    assert_eq!(s, 0x9000);
    assert_eq!(fci[0], 0x6F);
    assert!(fci.windows(17).any(|w| w == h("840F7378312E73682EC9E7BBE1B1A3D5CF")), "{}", hex::encode(&fci));
    assert_eq!(os.current_df(), &path("3F00/DDF1"));
    // Without Le a card answers no data.
    assert_eq!(tx(&mut os, SELECT_SSSE), (vec![], 0x9000));
    // Right-truncated DF name.
    assert_eq!(sw(&mut os, "00A40400067378312E7368"), 0x9000);
    assert_eq!(sw(&mut os, "00A4000C023F00"), 0x9000);
    assert_eq!(os.current_df(), &FilePath::mf());
    assert_eq!(sw(&mut os, "00A4010C02DDF1"), 0x9000);
    assert_eq!(sw(&mut os, "00A4020C02EF05"), 0x9000);
    assert_eq!(os.current_ef(), Some(&path("3F00/DDF1/EF05")));
    assert_eq!(sw(&mut os, "00A4020C02DF01"), 0x6A82, "P1 02 selects EFs only");
    assert_eq!(sw(&mut os, "00A4010C02DF01"), 0x9000);
    assert_eq!(sw(&mut os, "00A4000C02DF02"), 0x9000, "sibling DF by FID");
    assert_eq!(sw(&mut os, "00A4030C"), 0x9000);
    assert_eq!(os.current_df(), &path("3F00/DDF1"));
    assert_eq!(sw(&mut os, "00A4080C04DDF1EF08"), 0x9000);
    assert_eq!(os.current_ef(), Some(&path("3F00/DDF1/EF08")));
    assert_eq!(sw(&mut os, "00A4080C063F00DDF1EF07"), 0x9000);
    assert_eq!(sw(&mut os, "00A4090C02EF06"), 0x9000);
    assert_eq!(sw(&mut os, "00A4080C04EF05DDF1"), 0x6A82);
    assert_eq!(sw(&mut os, "00A4000C02ABCD"), 0x6A82);
    assert_eq!(sw(&mut os, "00A4040008A000000003101001"), 0x6A82);
    assert_eq!(sw(&mut os, "00A4000C033F0000"), 0x6700);
    assert_eq!(sw(&mut os, "00A4050C023F00"), 0x6A86);
    assert_eq!(sw(&mut os, "00A4001C023F00"), 0x6A86);
    assert_eq!(sw(&mut os, "00A4000C00"), 0x9000, "case 2 with Le 256 and no data selects the MF");
}

#[test]
fn select_answers_fcp_with_descriptor_size_sfi_and_lcs() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    let (fcp, s) = tx(&mut os, "00A4020402EF0800");
    assert_eq!(s, 0x9000);
    assert_eq!(fcp, h("62 11 8201 01 8302 EF08 8002 1000 8801 40 8A01 05"));
    let (fcp, _) = tx(&mut os, "00A4020402EF0500");
    assert_eq!(&fcp[..9], &h("62 15 8205 04 21 00 12 07")[..]);
    let (fmd, s) = tx(&mut os, "00A4020802EF0500");
    assert_eq!((fmd, s), (h("6400"), 0x9000));
}

#[test]
fn read_record_by_number_identifier_and_sfi() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    // SFI 6 (P2 = 6 << 3 | 4): record 08 of EF06, the ID number.
    let (rec, s) = tx(&mut os, "00B208340000");
    assert_eq!(s, 0x6700, "READ RECORD with Lc is malformed for the card");
    let (rec2, s2) = tx(&mut os, "00B2083400");
    assert_eq!(s2, 0x9000);
    assert!(rec.is_empty());
    assert_eq!(rec2, h("0812313130313035313934393132333130303258"));
    // Now EF06 is current: by record identifier, exact Le.
    let (rec, s) = tx(&mut os, "00B2090020");
    assert_eq!((rec.len(), rec[0], s), (32, 0x09, 0x9000));
    let (rec, s) = tx(&mut os, "00B24E0100");
    assert_eq!((rec[0], s), (0x4E, 0x9000), "last occurrence");
    // Le shorter than the record: the first Le bytes.
    assert_eq!(tx(&mut os, "00B2080404"), (h("08123131"), 0x9000));
    assert_eq!(tx(&mut os, "00B2000400").0[0], 0x08, "P1 00 = current record");
    assert_eq!(sw(&mut os, "00B2010400"), 0x6A83, "EF06 has no record 1");
    assert_eq!(sw(&mut os, "00B2770000"), 0x6A83);
    assert_eq!(sw(&mut os, "00B2080200"), 0x6A81, "next occurrence is not supported");
    assert_eq!(sw(&mut os, "00B2080700"), 0x6A86);
    assert_eq!(sw(&mut os, "00B20104"), 0x6700, "no Le");
    // EF05 by SFI 5.
    let (rec, s) = tx(&mut os, "00B2012C00");
    assert_eq!((&rec[..2], s), (&h("0110")[..], 0x9000));
    assert_eq!(sw(&mut os, "00B2013C00"), 0x6981, "SFI 7 is transparent");
    assert_eq!(sw(&mut os, "00B201F400"), 0x6A82, "no SFI 30 in DDF1");
    let mut fresh = card();
    assert_eq!(sw(&mut fresh, "00B2010400"), 0x6986, "no current EF");
}

#[test]
fn update_and_append_record_need_the_update_key() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    tx(&mut os, "00A4020C02EF05");
    assert_eq!(sw(&mut os, "00DC0204 03 020132"), 0x6982);
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
    assert_eq!(sw(&mut os, "00DC0204 03 020132"), 0x9000);
    assert_eq!(os.record(&path("3F00/DDF1/EF05"), 2), Some(&h("020132")[..]));
    assert_eq!(sw(&mut os, "00DC0204 00"), 0x6700, "empty record data is malformed (Lc 00)");
    let long = format!("00DC0204 13 {}", "00".repeat(19));
    assert_eq!(sw(&mut os, &long), 0x6700, "19 bytes exceed the 18-byte records");
    assert_eq!(sw(&mut os, "00DC0804 03 080100"), 0x6A83);
    assert_eq!(sw(&mut os, "00DC0200 03 020132"), 0x6A81);
    assert_eq!(sw(&mut os, "00E20000 03 080100"), 0x6A84, "EF05 holds 7 records");
    assert_eq!(sw(&mut os, "00E20100 03 080100"), 0x6A86);
    // EF06 by SFI: tag 4E is record 78, the last possible.
    assert_eq!(sw(&mut os, "00E20030 03 4E0100"), 0x6A84);
    assert_eq!(sw(&mut os, "00DC4E34 03 4E0100"), 0x9000);
}

#[test]
fn append_record_numbers_after_the_last() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    tx(&mut os, "00A4010C02DF01");
    assert_eq!(authenticate(&mut os, "3F00/DDF1/DF01", 0x83), 0x9000);
    assert_eq!(sw(&mut os, "00E200A8 02 0102"), 0x9000, "SFI 21");
    assert_eq!(sw(&mut os, "00E20000 02 0304"), 0x9000);
    let ef15 = path("3F00/DDF1/DF01/EF15");
    assert_eq!((os.record(&ef15, 1), os.record(&ef15, 2)), (Some(&[1u8, 2][..]), Some(&[3u8, 4][..])));
}

#[test]
fn read_and_update_binary_with_offsets_and_extended_length() {
    let mut os = card();
    // EF0F under the MF, 4096 bytes, free access.
    assert_eq!(sw(&mut os, "00A4020C02EF0F"), 0x9000);
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let mut cmd = h("00D60000 001000");
    cmd.extend(&data);
    assert_eq!(tx_bytes(&mut os, &cmd).1, 0x9000);
    let (all, s) = tx(&mut os, "00B00000 000000");
    assert_eq!((all.len(), s), (4096, 0x9000));
    assert_eq!(all, data);
    let (part, s) = tx(&mut os, "00B00FA0 0000C8");
    assert_eq!((part.len(), s), (96, 0x6282), "end of file before Le bytes");
    assert_eq!(tx(&mut os, "00B00010 04"), (data[16..20].to_vec(), 0x9000));
    assert_eq!(sw(&mut os, "00B01000 01"), 0x6B00, "offset 4096 is outside");
    assert_eq!(sw(&mut os, "00D60FFF 02 AABB"), 0x6A84);
    assert_eq!(sw(&mut os, "00D61000 01 AA"), 0x6B00);
    assert_eq!(sw(&mut os, "00D60000"), 0x6700);
    assert_eq!(sw(&mut os, "00B00000"), 0x6700, "no Le");
    // SFI 15 in P1, offset in P2.
    assert_eq!(tx(&mut os, "00B08F02 02"), (data[2..4].to_vec(), 0x9000));
    assert_eq!(sw(&mut os, "00B0CF0002"), 0x6A86);
    // A record EF refuses binary access.
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00B0850000"), 0x6981);
}

#[test]
fn photo_needs_the_read_key_and_a_short_card_refuses_extended_apdus() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00B0880000"), 0x6982);
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x0A), 0x9000);
    let (photo, s) = tx(&mut os, "00B08800 000000");
    assert_eq!((photo.len(), s), (4096, 0x9000));
    assert_eq!(sw(&mut os, "00D6880001AA"), 0x6982, "the read key does not open writing");

    let mut short = manufactured("ssc-2g-sim.toml");
    assert_eq!(sw(&mut short, SELECT_SSSE), 0x9000, "the 2nd-generation MF carries the SSSE name");
    assert_eq!(short.current_df(), &FilePath::mf());
    assert_eq!(sw(&mut short, "00B2012C00"), 0x6A82, "this older COS gives EF05 no SFI");
    assert_eq!(sw(&mut short, "00A4020C02EF05"), 0x9000);
    assert_eq!(sw(&mut short, "00B20104 000012"), 0x6700);
    assert_eq!(tx(&mut short, "00B2010400").1, 0x9000);
}

#[test]
fn command_chaining_collects_update_binary() {
    let mut os = card();
    tx(&mut os, "00A4020C02EF0F");
    assert_eq!(sw(&mut os, "10D60010 03 010203"), 0x9000);
    assert_eq!(os.binary(&path("3F00/EF0F")).map(|d| d[16]), Some(0), "nothing written before the last link");
    assert_eq!(sw(&mut os, "10D60010 02 0405"), 0x9000);
    assert_eq!(sw(&mut os, "00D60010 01 06"), 0x9000);
    assert_eq!(os.binary(&path("3F00/EF0F")).map(|d| d[16..22].to_vec()), Some(h("010203040506")));
    // A chain broken by another command: 6883, the chain is dropped, nothing written.
    assert_eq!(sw(&mut os, "10D60100 02 AAAA"), 0x9000);
    assert_eq!(sw(&mut os, "00B0000001"), 0x6883);
    assert_eq!(sw(&mut os, "00D60100 01 BB"), 0x9000, "a new, unchained command");
    assert_eq!(os.binary(&path("3F00/EF0F")).map(|d| d[256..258].to_vec()), Some(h("BB00")));
    // Different P1 P2 in the middle of a chain also breaks it.
    assert_eq!(sw(&mut os, "10D60200 01 CC"), 0x9000);
    assert_eq!(sw(&mut os, "00D60201 01 CC"), 0x6883);
    assert_eq!(sw(&mut os, "10B0000001"), 0x6884, "READ BINARY does not chain");
    // A reset drops a pending chain.
    assert_eq!(sw(&mut os, "10D60300 01 DD"), 0x9000);
    os.reset();
    tx(&mut os, "00A4020C02EF0F");
    assert_eq!(sw(&mut os, "00D60300 01 EE"), 0x9000);
    assert_eq!(os.binary(&path("3F00/EF0F")).map(|d| d[0x300]), Some(0xEE));
}

#[test]
fn external_authenticate_counts_tries_and_blocks() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    let ddf1 = path("3F00/DDF1");
    assert_eq!(sw(&mut os, "0082000410 00000000000000000000000000000000"), 0x6985, "no challenge yet");
    tx(&mut os, "0084000008");
    assert_eq!(sw(&mut os, "0082000408 0000000000000000"), 0x6700, "the cryptogram is 16 bytes");
    assert_eq!(sw(&mut os, "0082000410 00000000000000000000000000000000"), 0x63CE);
    assert_eq!(
        sw(&mut os, "0082000410 00000000000000000000000000000000"),
        0x6985,
        "the challenge was used up"
    );
    assert_eq!(os.key_tries(&ddf1, 0x04, None), Some(14));
    tx(&mut os, "0084000008");
    assert_eq!(sw(&mut os, "0082007710 00000000000000000000000000000000"), 0x6A88, "no key 77");
    assert_eq!(sw(&mut os, "0082010410 00000000000000000000000000000000"), 0x6A86);
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
    assert_eq!(os.key_tries(&ddf1, 0x04, None), Some(15), "success resets the counter");
    for left in (0..15).rev() {
        tx(&mut os, "0084000008");
        assert_eq!(sw(&mut os, "0082000410 00000000000000000000000000000000"), 0x63C0 | left);
    }
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x6983, "blocked even with the right key");
}

#[test]
fn sm4_key_opens_card_termination() {
    let mut os = card();
    assert_eq!(sw(&mut os, "80FE0000"), 0x6E00);
    assert_eq!(sw(&mut os, "00FE0000"), 0x6982);
    assert_eq!(os.profile().find_key(&FilePath::mf(), 0).map(|k| k.algorithm), Some(Algorithm::Sm4));
    tx(&mut os, "0084000008");
    assert_eq!(sw(&mut os, "0082000010 00000000000000000000000000000000"), 0x63C4);
    assert_eq!(authenticate(&mut os, "3F00", 0x00), 0x9000);
    assert_eq!(sw(&mut os, "00FE0100"), 0x6A86);
    assert_eq!(sw(&mut os, "00FE0000"), 0x9000);
    assert_eq!(os.card_lifecycle(), CardLifeCycle::Terminated);
    assert_eq!(sw(&mut os, SELECT_SSSE), 0x6285);
    assert_eq!(sw(&mut os, "00B2012C00"), 0x6985);
    assert_eq!(sw(&mut os, "0084000008"), 0x6985);
}

#[test]
fn security_state_belongs_to_the_current_df() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
    tx(&mut os, "00A4020C02EF05");
    assert_eq!(sw(&mut os, "00DC0204 03 020132"), 0x9000, "selecting an EF keeps it");
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00DC022C 03 020132"), 0x9000, "re-selecting the same DF keeps it");
    tx(&mut os, "00A4000C023F00");
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00DC022C 03 020132"), 0x6982, "another DF in between clears it");
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
    os.reset();
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00DC022C 03 020132"), 0x6982, "reset clears it");
}

#[test]
fn verify_pin_opens_pin_protected_files() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    tx(&mut os, "00A4010C02DF01");
    assert_eq!(sw(&mut os, "00B201AC00"), 0x6982);
    assert_eq!(sw(&mut os, "00200001"), 0x63C3, "no data: tries left");
    assert_eq!(sw(&mut os, "0020000103 123457"), 0x63C2);
    assert_eq!(sw(&mut os, "0020000103 123456"), 0x9000);
    assert_eq!(sw(&mut os, "00200001"), 0x9000, "verified");
    assert_eq!(sw(&mut os, "00B201AC00"), 0x6A83, "access granted; EF15 is empty");
    assert_eq!(os.pin_tries(&path("3F00/DDF1"), 1), Some(3));
    assert_eq!(sw(&mut os, "0020000203 123456"), 0x6A88);
    assert_eq!(sw(&mut os, "0020000103 000000"), 0x63C2);
    assert_eq!(sw(&mut os, "00B201AC00"), 0x6982, "a wrong PIN drops the verified state");
    assert_eq!(sw(&mut os, "0020000103 000000"), 0x63C1);
    assert_eq!(sw(&mut os, "0020000103 000000"), 0x63C0);
    assert_eq!(sw(&mut os, "0020000103 123456"), 0x6983);
}

#[test]
fn get_challenge_lengths() {
    let mut os = card();
    for le in ["04", "08", "10"] {
        let (c, s) = tx(&mut os, &format!("00840000{le}"));
        assert_eq!((c.len(), s), (usize::from_str_radix(le, 16).expect("hex"), 0x9000));
    }
    assert_ne!(tx(&mut os, "0084000008").0, tx(&mut os, "0084000008").0);
    assert_eq!(sw(&mut os, "0084000005"), 0x6700);
    assert_eq!(sw(&mut os, "00840000"), 0x6700);
    assert_eq!(sw(&mut os, "0084010008"), 0x6A86);
}

#[test]
fn class_instruction_and_malformed_apdus() {
    let mut os = card();
    assert_eq!(sw(&mut os, "FFA4000C023F00"), 0x6E00);
    assert_eq!(sw(&mut os, "80B0000001"), 0x6E00);
    assert_eq!(sw(&mut os, "01A4000C023F00"), 0x6881);
    assert_eq!(sw(&mut os, "04A4000C023F00"), 0x6882);
    assert_eq!(sw(&mut os, "0012000000"), 0x6D00);
    assert_eq!(sw(&mut os, "00C0000010"), 0x6985, "GET RESPONSE with nothing waiting");
    assert_eq!(os.process(&h("00A4000005 3F00")), h("6700"));
    assert_eq!(os.process(&h("00A4")), h("6700"));
}

#[test]
fn deactivate_activate_and_terminate_files() {
    let mut os = card();
    tx(&mut os, SELECT_SSSE);
    let ef05 = path("3F00/DDF1/EF05");
    tx(&mut os, "00A4020C02EF05");
    assert_eq!(sw(&mut os, "00040000"), 0x6982, "admin = update key");
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
    assert_eq!(sw(&mut os, "00040000"), 0x9000);
    assert_eq!(os.file_lifecycle(&ef05), Some(FileLifeCycle::Deactivated));
    assert_eq!(sw(&mut os, "00A4020C02EF05"), 0x6283);
    let (fcp, s) = tx(&mut os, "00A4020402EF0500");
    assert_eq!((fcp[fcp.len() - 1], s), (0x04, 0x6283));
    assert_eq!(sw(&mut os, "00B2010400"), 0x6985);
    assert_eq!(sw(&mut os, "00440000"), 0x9000);
    assert_eq!(tx(&mut os, "00B2010400").1, 0x9000);
    // By FID from the DF, then TERMINATE EF.
    assert_eq!(sw(&mut os, "00E8000002EF06"), 0x9000);
    assert_eq!(sw(&mut os, "00E6000002EF05"), 0x6981, "TERMINATE DF on an EF");
    assert_eq!(sw(&mut os, "00A4020C02EF06"), 0x6285);
    assert_eq!(sw(&mut os, "00B2080400"), 0x6985);
    assert_eq!(sw(&mut os, "00440000"), 0x6985, "terminated is for good");
    // A DF's admin is `never` by default: not in operational state.
    assert_eq!(sw(&mut os, "0004000002DF02"), 0x6982);
}

#[test]
fn personalisation_is_free_until_the_mf_is_activated() {
    let text = std::fs::read_to_string(profile_path("ssc-3g-sim.toml"))
        .expect("read")
        .replace("card_lifecycle = \"operational\"", "card_lifecycle = \"initialisation\"");
    let mut os = CardOs::new(Arc::new(Profile::from_toml_str(&text, "init").expect("valid")));
    assert_eq!(os.card_lifecycle(), CardLifeCycle::Initialisation);
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00DC022C 03 020133"), 0x9000, "no key needed while personalising");
    let (fcp, _) = tx(&mut os, "00A4000402 3F00 00");
    assert_eq!(fcp[fcp.len() - 1], 0x03, "MF LCS byte says initialisation");
    assert_eq!(sw(&mut os, "00440000"), 0x9000, "ACTIVATE FILE on the MF");
    assert_eq!(os.card_lifecycle(), CardLifeCycle::Operational);
    tx(&mut os, SELECT_SSSE);
    assert_eq!(sw(&mut os, "00DC022C 03 020134"), 0x6982);
}

#[test]
fn state_survives_reopening_and_refuses_another_profile() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("card.state.json");
    {
        let p = profile("ssc-3g-sim.toml");
        let factory = crate::factory_for(&p, &profile_path("ssc-3g-sim.toml")).expect("factory");
        let mut os = CardOs::open_manufactured(p, &factory, &file).expect("new");
        tx(&mut os, SELECT_SSSE);
        assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
        assert_eq!(sw(&mut os, "00DC072C 0B 0709 423737333334373734"), 0x9000);
        tx(&mut os, "0084000008");
        assert_eq!(sw(&mut os, "0082000A10 00000000000000000000000000000000"), 0x63CE);
    }
    assert!(file.exists());
    assert!(!dir.path().join("card.state.json.tmp").exists());
    let os = CardOs::open(profile("ssc-3g-sim.toml"), &file).expect("reopen");
    assert_eq!(os.record(&path("3F00/DDF1/EF05"), 7), Some(&h("0709423737333334373734")[..]));
    assert_eq!(os.key_tries(&path("3F00/DDF1"), 0x0A, None), Some(14));
    let e = CardOs::open(profile("ssc-2g-sim.toml"), &file).expect_err("other profile");
    assert!(matches!(e, SimError::StateMismatch { .. }), "{e}");
    std::fs::write(&file, "{").expect("damage");
    assert!(matches!(CardOs::open(profile("ssc-3g-sim.toml"), &file), Err(SimError::StateParse { .. })));
}

#[test]
fn an_image_of_a_card_in_memory_is_kept_private_and_opens_as_that_card() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("B7K334774.json");
    let p = profile("ssc-3g-sim.toml");
    let mut factory = crate::factory_for(&p, &profile_path("ssc-3g-sim.toml")).expect("factory");
    factory.blank = true;
    let mut os = CardOs::manufacture(p.clone(), &factory);
    tx(&mut os, SELECT_SSSE);
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000);
    let card_number = h("0709423737333334373734");
    assert_eq!(sw(&mut os, "00DC072C 0B 0709 423737333334373734"), 0x9000);
    let ef05 = path("3F00/DDF1/EF05");
    let image = os.image();
    assert_eq!(image.record(&ef05, 7), Some(&card_number[..]));
    assert_eq!(image.record(&ef05, 1).map(|r| r[2..].iter().all(|b| *b == 0)), Some(true), "still blank");
    image.keep(&file).expect("kept");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777, 0o600);
    assert!(!dir.path().join("B7K334774.json.tmp").exists(), "no temporary file left");
    let read = crate::CardImage::read(&file).expect("read back");
    assert_eq!((read.profile_id(), &read), ("ssc-3g-sim", &image));
    let update_key = os.key_value(&path("3F00/DDF1"), 0x04, None).expect("key").to_vec();
    assert!(!format!("{image:?}").contains(&hex::encode(&update_key)), "no key in a log: {image:?}");

    // Opened with the factory that makes blank cards: the file decides, the card is the one made.
    let mut again = CardOs::open_manufactured(p, &factory, &file).expect("open");
    assert_eq!(again.key_value(&path("3F00/DDF1"), 0x04, None), Some(&update_key[..]), "its own keys");
    tx(&mut again, SELECT_SSSE);
    assert_eq!(tx(&mut again, "00B2072C00"), (card_number, 0x9000), "READ RECORD 07 of EF05 by SFI");
    assert_eq!(std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777, 0o600, "kept private");
}

#[test]
fn application_handlers_see_commands_first() {
    struct GetData;
    impl ApplicationHandler for GetData {
        fn handle(&mut self, card: &mut CardOs, cmd: &Command) -> Option<Response> {
            (cmd.cla == 0x80 && cmd.ins == 0xCA)
                .then(|| Response::new(card.current_df().to_string().into_bytes(), StatusWord::Success))
        }
    }
    let mut os = card();
    os.register_handler(ApplicationKind::Ssse, Box::new(GetData));
    assert_eq!(sw(&mut os, "80CA000000"), 0x6E00, "no application selected at the MF");
    tx(&mut os, SELECT_SSSE);
    assert_eq!(os.selected_application().map(|a| a.kind), Some(ApplicationKind::Ssse));
    assert_eq!(tx(&mut os, "80CA000000"), (b"3F00/DDF1".to_vec(), 0x9000));
    tx(&mut os, "00A4010C02DF01");
    assert_eq!(tx(&mut os, "80CA000000").0, b"3F00/DDF1/DF01".to_vec(), "DF01 lies inside the SSSE");
    assert_eq!(sw(&mut os, "00B2010C00"), 0x6A82, "the ISO core still answers the rest");
}

#[test]
fn a_blank_card_has_formatted_records_and_derived_keys() {
    let p = profile("ssc-3g-sim.toml");
    let mut factory = crate::factory_for(&p, &profile_path("ssc-3g-sim.toml")).expect("factory");
    factory.blank = true;
    let mut os = CardOs::manufacture(p, &factory);
    let ef06 = path("3F00/DDF1/EF06");
    let mut empty_name = vec![0x09, 0x1E];
    empty_name.resize(32, 0);
    assert_eq!(os.record(&ef06, 9), Some(&empty_name[..]), "tag and length kept, value zeroed");
    assert_eq!(os.binary(&path("3F00/DDF1/EF08")).map(|d| d.iter().all(|b| *b == 0)), Some(true));
    tx(&mut os, SELECT_SSSE);
    assert_eq!(
        sw(&mut os, "00DC0934 20 091E D5C5C8FD0000000000000000000000000000000000000000000000000000"),
        0x6982
    );
    assert_eq!(authenticate(&mut os, "3F00/DDF1", 0x04), 0x9000, "the derived update key opens writing");
    assert_eq!(
        sw(&mut os, "00DC0934 20 091E D5C5C8FD0000000000000000000000000000000000000000000000000000"),
        0x9000
    );
    assert_eq!(os.record(&ef06, 9).map(|r| r[2..4].to_vec()), Some(h("D5C5")));
    assert_ne!(os.key_value(&path("3F00/DDF1"), 0x04, None), os.key_value(&path("3F00/DDF1"), 0x0A, None));
}
