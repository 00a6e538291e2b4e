use super::*;

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles")
}

/// A small valid profile; tests break one field of it at a time.
const BASE: &str = r#"
id = "t"
description = "test"
vendor = "v"
card_os = "os"
generation = "3"
spec_version = "3.00"
atr = "3B 6D 00 00 00 81 4E 43 23 86 97 15 99 00 BF 7C 7A"

[capabilities]
extended_length = false
max_command_data = 255
max_response_data = 256

[[application]]
name = "SSSE"
aid = "7378312E73682EC9E7BBE1B1A3D5CF"
kind = "ssse"
diversification_levels = 3
df = "3F00/DDF1"

[[file]]
fid = "3F00"
type = "mf"

[[file]]
fid = "DDF1"
type = "df"
parent = "3F00"
df_name = "7378312E73682EC9E7BBE1B1A3D5CF"

[[file]]
fid = "EF05"
type = "ef"
parent = "3F00/DDF1"
structure = "linear-variable"
records = 7
record_size = 18
sfi = 5
read = "always"
update = "key:04"

[[key]]
df = "3F00/DDF1"
id = "04"
usage = "update"
algorithm = "3des"
tries = 15

[sim]
key = [{ df = "3F00/DDF1", id = "04", value = "505152535455565758595A5B5C5D5E5F" }]

[[sim.file]]
path = "3F00/DDF1/EF05"
records = { "02" = "02 01 31" }
"#;

fn broken(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    let e = Profile::from_toml_str(&BASE.replacen(from, to, 1), "t.toml").expect_err("must be refused");
    e.to_string()
}

#[test]
fn every_shipped_profile_validates() {
    let profiles = load_dir(profiles_dir()).expect("profiles validate");
    let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
    for want in ["ssc-3g-sim", "ssc-2g-sim", "psam-sim"] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
}

#[test]
fn ssc_3g_sim_has_what_the_simulator_needs() {
    let p = Profile::load(profiles_dir().join("ssc-3g-sim.toml")).expect("valid");
    assert_eq!(p.generation, Generation::Third);
    assert!(p.capabilities.extended_length && p.atr.extended_length());
    assert_eq!(p.atr.protocols(), &[1]);
    assert_eq!(p.card8(), Some([0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66]));
    let ssse = p.application(ApplicationKind::Ssse).expect("SSSE");
    let ddf1 = ssse.df.clone().expect("DF");
    assert_eq!(ddf1.to_string(), "3F00/DDF1");
    assert_eq!(p.df_by_name(&ssse.aid).map(|f| &f.path), Some(&ddf1));
    let ef08 = p.file(&ddf1.join(0xEF08)).and_then(FileSpec::ef).expect("EF08");
    assert_eq!(ef08.structure, EfStructure::Transparent { size: 4096 });
    assert_eq!((ef08.read, ef08.update), (AccessCondition::Key(0x0A), AccessCondition::Key(0x04)));
    assert_eq!(p.find_key(&ddf1, 0x0A).map(|k| k.algorithm), Some(Algorithm::TripleDes));
    // DF01's EF finds the PIN of DDF1 above it.
    assert!(p.find_pin(&ddf1.join(0xDF01), 0x01).is_some());
    assert_eq!(p.sim_key(&ddf1, 0x04), None, "the SSSE keys are derived from the PSAM's");
    assert_eq!(
        p.sim.derive.as_ref().map(|d| (d.psam.as_str(), d.region.as_str())),
        Some(("psam-sim", "110100"))
    );
    assert_eq!(ssse.diversification_levels, Some(3));
    match p.sim.files.get(&ddf1.join(0xEF06)) {
        Some(SimContent::Records(r)) => assert_eq!(r.get(&0x08).map(|r| r[0]), Some(0x08)),
        other => panic!("EF06 content: {other:?}"),
    }
    assert_eq!(p.mf().path, FilePath::mf());
    assert_eq!(p.children(&ddf1).count(), 8);
}

#[test]
fn debug_output_hides_test_secrets() {
    let p = Profile::from_toml_str(BASE, "t.toml").expect("valid");
    let text = format!("{:?}", p.sim);
    assert!(!text.contains("505152") && !text.contains("80, 81"), "{text}");
}

#[test]
fn errors_name_file_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("fid = \"DDF1\"", "fid = \"DDF\"", "t.toml: file[1].fid: \"DDF\" is not 4 hex digits"),
        (
            "parent = \"3F00\"",
            "parent = \"3F00/AAAA\"",
            "t.toml: file[1].parent: 3F00/AAAA is not in the file tree",
        ),
        ("generation = \"3\"", "generation = \"4\"", "t.toml: generation:"),
        ("atr = \"3B 6D", "atr = \"3A 6D", "t.toml: atr: ATR TS byte 3A"),
        ("atr = \"3B 6D 00", "atr = \"3B 6D 0G", "t.toml: atr: \"3B 6D 0G"),
        ("aid = \"7378312E73682EC9E7BBE1B1A3D5CF\"", "aid = \"D156\"", "t.toml: application[0].aid: 2 bytes"),
        ("update = \"key:04\"", "update = \"key:05\"", "t.toml: file[2].update: key 05 is not defined"),
        ("update = \"key:04\"", "update = \"pin:01\"", "t.toml: file[2].update: PIN 01 is not defined"),
        ("read = \"always\"", "read = \"sometimes\"", "t.toml: file[2].read: \"sometimes\""),
        (
            "diversification_levels = 3",
            "diversification_levels = 4",
            "t.toml: application[0].diversification_levels: 4; the PSAM knows 1, 2 or 3 levels",
        ),
        ("diversification_levels = 3", "", "t.toml: application[0].diversification_levels: missing"),
        (
            "key = [{ df",
            "derive = { psam = \"psam-sim\", region = \"11010\" }\nkey = [{ df",
            "t.toml: sim.derive.region: \"11010\": a six-digit",
        ),
        (
            "key = [{ df",
            "derive = { psam = \"../psam\", region = \"110100\" }\nkey = [{ df",
            "t.toml: sim.derive.psam: a profile id",
        ),
        ("record_size = 18", "record_size = 300", "t.toml: file[2].record_size: 300"),
        ("records = 7", "size = 7", "t.toml: file[2].size: a record EF"),
        ("sfi = 5", "sfi = 31", "t.toml: file[2].sfi: 31"),
        ("tries = 15", "tries = 16", "t.toml: key[0].tries: 16"),
        ("value = \"5051", "value = \"51", "t.toml: sim.key[0].value: 15 bytes"),
        (
            "\"02\" = \"02 01 31\"",
            "\"09\" = \"02 01 31\"",
            "t.toml: sim.file[0].records.\"09\": record number",
        ),
        ("\"02\" = \"02 01 31\"", "\"02\" = \"\"", "t.toml: sim.file[0].records.\"02\": 0 bytes"),
        (
            "extended_length = false",
            "extended_length = true",
            "t.toml: capabilities.extended_length: true but",
        ),
        ("max_command_data = 255", "max_command_data = 256", "t.toml: capabilities.max_command_data: 256"),
        ("df_name = \"7378", "df_name = \"7378AA", "t.toml: application[0].df: the df_name of 3F00/DDF1"),
    ];
    for (from, to, want) in cases {
        let got = broken(from, to);
        assert!(got.starts_with(want), "{from} -> {to}:\n got  {got}\n want {want}...");
    }
}

#[test]
fn duplicate_fids_and_structure_errors_are_named() {
    let dup = BASE.replace(
        "[[key]]",
        "[[file]]\nfid = \"EF05\"\ntype = \"ef\"\nparent = \"3F00/DDF1\"\nstructure = \"transparent\"\nsize = 5\nread = \"always\"\nupdate = \"always\"\n\n[[key]]",
    );
    let e = Profile::from_toml_str(&dup, "d.toml").expect_err("dup").to_string();
    assert_eq!(e, "d.toml: file[3].fid: 3F00/DDF1/EF05 is already file[2] (FIDs are unique in a DF)");
    let typo = BASE.replace("structure = \"linear-variable\"", "structure = \"cyclic\"");
    let e = Profile::from_toml_str(&typo, "s.toml").expect_err("typo").to_string();
    assert!(e.starts_with("s.toml: ") && e.contains("cyclic"), "{e}");
    let unknown = BASE.replace("sfi = 5", "sfi = 5\nshort_id = 5");
    let e = Profile::from_toml_str(&unknown, "u.toml").expect_err("unknown field").to_string();
    assert!(e.contains("short_id"), "{e}");
    let ef_parent =
        BASE.replace("parent = \"3F00/DDF1\"\nstructure", "parent = \"3F00/DDF1/EF05\"\nstructure");
    let e = Profile::from_toml_str(&ef_parent, "p.toml").expect_err("EF parent").to_string();
    assert!(e.contains("file[2]"), "{e}");
}

#[test]
fn duplicate_ids_in_a_directory_are_refused() {
    let dir = std::env::temp_dir().join(format!("fw-profile-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("a.toml"), BASE).expect("a");
    std::fs::write(dir.join("b.toml"), BASE).expect("b");
    let e = load_dir(&dir).expect_err("duplicate");
    assert!(matches!(e, ProfileError::DuplicateId { ref id, .. } if id == "t"), "{e}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn paths_and_conditions_round_trip() {
    let p = FilePath::parse("3F00/DDF1/EF05").expect("path");
    assert_eq!(p.to_string(), "3F00/DDF1/EF05");
    assert_eq!(p.parent().map(|p| p.to_string()).as_deref(), Some("3F00/DDF1"));
    assert!(FilePath::parse("DDF1/EF05").is_none());
    assert!(FilePath::parse("3F00/EF5").is_none());
    for c in ["always", "never", "key:0A", "pin:01"] {
        assert_eq!(AccessCondition::parse(c).map(|c| c.to_string()).as_deref(), Some(c));
    }
    assert!(AccessCondition::parse("key:A").is_none());
}

/// The same profile with an issuer security domain and its `[isd]`.
fn with_isd(isd: &str) -> String {
    let app = "[[application]]\nname = \"ISD\"\naid = \"A000000151000000\"\nkind = \"isd\"\n\n";
    BASE.replacen("[[file]]", &format!("{app}{isd}\n[[file]]"), 1)
}

#[test]
fn the_financial_profiles_carry_their_isd_scheme() {
    let want = [
        ("ssc-3g-fin-sim.toml", IsdScheme::Scp02, 0x15, 0x01, IsdDiversification::EmvCps, [0x8B, 0xAF, 0x47]),
        (
            "ssc-3g-fin-scp03-sim.toml",
            IsdScheme::Scp03,
            0x70,
            0x30,
            IsdDiversification::Kdf3,
            [0x50, 0x4A, 0x77],
        ),
        (
            "ssc-3g-fin-sm4-sim.toml",
            IsdScheme::Scp03Sm4,
            0x70,
            0x40,
            IsdDiversification::Kdf3,
            [0x18, 0x9D, 0x8A],
        ),
    ];
    for (file, scheme, i, kvn, method, kcv) in want {
        let p = Profile::load(profiles_dir().join(file)).expect("valid");
        let isd = p.isd.expect("[isd]");
        assert_eq!(
            (isd.scheme, isd.i, isd.key_version, isd.diversification),
            (scheme, i, kvn, method),
            "{file}"
        );
        assert_eq!((isd.scp_id, isd.master_kcv), (scheme.default_scp_id(), Some(kcv)), "{file}");
        let master = p.sim.isd_master.expect("sim.isd_master");
        assert!(scheme.key_len_ok(master.0.len()));
        assert_eq!(format!("{master:?}"), "TestKey(<16 bytes>)", "the test key never prints");
    }
}

#[test]
fn isd_section_is_checked() {
    let ok = "[isd]\nscheme = \"scp02\"\ni = \"15\"\nkey_version = \"01\"\ndiversification = \"visa2\"\n";
    let p = Profile::from_toml_str(&with_isd(ok), "t.toml").expect("valid");
    assert_eq!(p.isd.map(|i| (i.scp_id, i.master_kcv)), Some((0x02, None)));
    let refuse = |text: String, field: &str| {
        let e = Profile::from_toml_str(&text, "t.toml").expect_err("refused").to_string();
        assert!(e.contains(field), "{e}");
    };
    refuse(with_isd(""), "isd: missing");
    refuse(BASE.replacen("[[file]]", &format!("{ok}\n[[file]]"), 1), "no application of kind");
    refuse(with_isd(&ok.replace("visa2", "kdf3")), "isd.diversification");
    refuse(with_isd(&ok.replace("scp02", "scp03")), "isd.diversification");
    refuse(with_isd(&ok.replace("\"15\"", "\"1\"")), "isd.i");
    refuse(with_isd(&format!("{ok}master_kcv = \"8BAF\"\n")), "isd.master_kcv");
    refuse(with_isd(&ok.replace("scp02", "scp04")), "scp04");
    refuse(with_isd(ok).replace("[sim]\n", "[sim]\nisd_master = \"4041424344454647\"\n"), "sim.isd_master");
}
