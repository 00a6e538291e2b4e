//! From the raw TOML shape to a [`Profile`]: every check names the source and the field.

use std::collections::BTreeMap;

use card_transport::Capabilities;

use crate::model::{
    parse_byte, parse_fid, AccessCondition, Application, ApplicationKind, CardLifeCycle, EfSpec, EfStructure,
    FileKind, FileLifeCycle, FilePath, FileSpec, Generation, IsdDiversification, IsdScheme, IsdSpec, KeySpec,
    PinSpec, PsamKeyRef, SimContent, SimDerive, SimOnly, SimSecret, TestKey,
};
use crate::raw::{RawFile, RawFileType, RawIsd, RawProfile, RawSim, RawStructure};
use crate::{Atr, Profile, ProfileError};

/// Largest transparent EF: what an extended READ BINARY can answer in one go.
const MAX_EF_SIZE: usize = 65_535;

struct Ctx<'a> {
    source: &'a str,
}

type Result<T> = std::result::Result<T, ProfileError>;

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            source_name: self.source.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn hex(&self, field: &str, text: &str) -> Result<Vec<u8>> {
        let compact: String = text.split_whitespace().collect();
        hex::decode(&compact).map_err(|e| self.err(field, format!("{text:?} is not hex ({e})")))
    }

    fn byte(&self, field: &str, text: &str) -> Result<u8> {
        parse_byte(text).ok_or_else(|| self.err(field, format!("{text:?} is not 2 hex digits")))
    }

    fn path(&self, field: &str, text: &str) -> Result<FilePath> {
        FilePath::parse(text).ok_or_else(|| {
            self.err(
                field,
                format!("{text:?} is not a path from the MF like 3F00/DDF1 (4 hex digits per FID)"),
            )
        })
    }

    fn condition(&self, field: &str, text: &str) -> Result<AccessCondition> {
        AccessCondition::parse(text)
            .ok_or_else(|| self.err(field, format!("{text:?} is not always, never, key:XX or pin:XX")))
    }

    fn tries(&self, field: &str, tries: u8) -> Result<u8> {
        if (1..=15).contains(&tries) {
            Ok(tries)
        } else {
            Err(self.err(field, format!("{tries} is outside 1..=15 (63Cx counts at most 15)")))
        }
    }
}

pub(crate) fn validate(raw: RawProfile, source: &str) -> Result<Profile> {
    let cx = Ctx { source };
    if raw.id.is_empty()
        || !raw.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    {
        return Err(cx.err("id", format!("{:?} must be lower-case letters, digits, '-', '_' or '.'", raw.id)));
    }
    let generation = match raw.generation.as_str() {
        "2" => Generation::Second,
        "3" => Generation::Third,
        other => return Err(cx.err("generation", format!("{other:?} is neither \"2\" nor \"3\""))),
    };
    let atr_bytes = cx.hex("atr", &raw.atr)?;
    let atr = Atr::parse(&atr_bytes).map_err(|e| cx.err("atr", e.to_string()))?;
    let capabilities = capabilities(&cx, &raw, &atr)?;
    let card_lifecycle = raw.card_lifecycle.unwrap_or(CardLifeCycle::Operational);
    if card_lifecycle == CardLifeCycle::Terminated {
        return Err(cx.err("card_lifecycle", "a card cannot start terminated"));
    }

    let mut profile = Profile {
        id: raw.id,
        description: raw.description,
        vendor: raw.vendor,
        card_os: raw.card_os,
        generation,
        spec_version: raw.spec_version,
        atr,
        capabilities,
        card_lifecycle,
        applications: Vec::new(),
        files: files(&cx, &raw.file)?,
        keys: Vec::new(),
        pins: Vec::new(),
        isd: None,
        sim: SimOnly::default(),
        source: source.to_string(),
    };

    for (i, k) in raw.key.iter().enumerate() {
        let f = |name: &str| format!("key[{i}].{name}");
        let df = cx.path(&f("df"), &k.df)?;
        require_df(&cx, &profile, &f("df"), &df)?;
        let id = cx.byte(&f("id"), &k.id)?;
        let usage_code = k.usage_code.as_deref().map(|u| cx.byte(&f("usage_code"), u)).transpose()?;
        let psam_key = match &k.psam_key {
            Some(p) => Some(PsamKeyRef {
                usage: cx.byte(&f("psam_key.usage"), &p.usage)?,
                id: cx.byte(&f("psam_key.id"), &p.id)?,
            }),
            None => None,
        };
        if profile.keys.iter().any(|o| o.df == df && o.id == id && o.usage_code == usage_code) {
            return Err(cx.err(f("id"), format!("key {id:02X} is defined twice in {df}")));
        }
        let tries = cx.tries(&f("tries"), k.tries)?;
        profile.keys.push(KeySpec {
            df,
            id,
            name: k.name.clone(),
            usage: k.usage,
            usage_code,
            algorithm: k.algorithm,
            tries,
            psam_key,
        });
    }

    for (i, p) in raw.pin.iter().enumerate() {
        let f = |name: &str| format!("pin[{i}].{name}");
        let df = cx.path(&f("df"), &p.df)?;
        require_df(&cx, &profile, &f("df"), &df)?;
        let id = cx.byte(&f("id"), &p.id)?;
        if profile.pins.iter().any(|o| o.df == df && o.id == id) {
            return Err(cx.err(f("id"), format!("PIN {id:02X} is defined twice in {df}")));
        }
        let tries = cx.tries(&f("tries"), p.tries)?;
        profile.pins.push(PinSpec { df, id, name: p.name.clone(), tries });
    }

    check_references(&cx, &profile, &raw.file)?;

    for (i, a) in raw.application.iter().enumerate() {
        let f = |name: &str| format!("application[{i}].{name}");
        let aid = cx.hex(&f("aid"), &a.aid)?;
        if !(5..=16).contains(&aid.len()) {
            return Err(cx.err(f("aid"), format!("{} bytes; an AID has 5 to 16", aid.len())));
        }
        if profile.applications.iter().any(|o| o.aid == aid) {
            return Err(cx.err(f("aid"), "AID is used by an earlier application"));
        }
        let df = match &a.df {
            Some(text) => {
                let df = cx.path(&f("df"), text)?;
                require_df(&cx, &profile, &f("df"), &df)?;
                if profile.file(&df).and_then(|d| d.df_name()) != Some(&aid[..]) {
                    return Err(cx.err(f("df"), format!("the df_name of {df} is not this AID")));
                }
                Some(df)
            }
            None => None,
        };
        let diversification_levels = match (a.kind, a.diversification_levels) {
            (ApplicationKind::Ssse, Some(n @ 1..=3)) => Some(n),
            (ApplicationKind::Ssse, Some(n)) => {
                return Err(cx.err(f("diversification_levels"), format!("{n}; the PSAM knows 1, 2 or 3 levels")))
            }
            (ApplicationKind::Ssse, None) => {
                return Err(cx.err(
                    f("diversification_levels"),
                    "missing: an SSSE application needs the province's number of PSAM diversification levels (1..3)",
                ))
            }
            (_, Some(_)) => {
                return Err(cx.err(f("diversification_levels"), "only an SSSE application is diversified by a PSAM"))
            }
            (_, None) => None,
        };
        profile.applications.push(Application {
            name: a.name.clone(),
            aid,
            kind: a.kind,
            df,
            diversification_levels,
        });
    }

    let has_isd = profile.application(ApplicationKind::Isd).is_some();
    profile.isd = match (&raw.isd, has_isd) {
        (Some(isd), true) => Some(isd_spec(&cx, isd)?),
        (None, false) => None,
        (Some(_), false) => return Err(cx.err("isd", "there is no application of kind \"isd\" to describe")),
        (None, true) => {
            return Err(cx.err(
                "isd",
                "missing: a card with an issuer security domain needs its [isd] scheme, i, key_version and diversification",
            ))
        }
    };
    if let Some(sim) = &raw.sim {
        profile.sim = sim_only(&cx, &profile, sim)?;
    }
    Ok(profile)
}

fn isd_spec(cx: &Ctx<'_>, raw: &RawIsd) -> Result<IsdSpec> {
    let i = cx.byte("isd.i", &raw.i)?;
    let scp_id = match &raw.scp_id {
        Some(text) => cx.byte("isd.scp_id", text)?,
        None => raw.scheme.default_scp_id(),
    };
    let key_version = cx.byte("isd.key_version", &raw.key_version)?;
    let fits = match raw.diversification {
        IsdDiversification::None => true,
        IsdDiversification::EmvCps | IsdDiversification::Visa2 => raw.scheme == IsdScheme::Scp02,
        IsdDiversification::Kdf3 => raw.scheme != IsdScheme::Scp02,
    };
    if !fits {
        return Err(cx.err(
            "isd.diversification",
            format!(
                "{:?} does not fit {:?}: emv-cps and visa2 are for scp02 (3DES), kdf3 for scp03 and scp03-sm4",
                raw.diversification, raw.scheme
            ),
        ));
    }
    let master_kcv = match &raw.master_kcv {
        Some(text) => {
            let kcv = cx.hex("isd.master_kcv", text)?;
            Some(kcv.try_into().map_err(|v: Vec<u8>| {
                cx.err("isd.master_kcv", format!("{} bytes; a check value has 3", v.len()))
            })?)
        }
        None => None,
    };
    Ok(IsdSpec {
        scheme: raw.scheme,
        i,
        scp_id,
        key_version,
        diversification: raw.diversification,
        master_kcv,
    })
}

fn capabilities(cx: &Ctx<'_>, raw: &RawProfile, atr: &Atr) -> Result<Capabilities> {
    let c = &raw.capabilities;
    let (max_cmd, max_resp) = if c.extended_length { (65_535, 65_536) } else { (255, 256) };
    if c.max_command_data == 0 || c.max_command_data > max_cmd {
        return Err(cx.err(
            "capabilities.max_command_data",
            format!("{} is outside 1..={max_cmd}", c.max_command_data),
        ));
    }
    if c.max_response_data == 0 || c.max_response_data > max_resp {
        return Err(cx.err(
            "capabilities.max_response_data",
            format!("{} is outside 1..={max_resp}", c.max_response_data),
        ));
    }
    if c.extended_length != atr.extended_length() {
        return Err(cx.err(
            "capabilities.extended_length",
            format!(
                "{} but the ATR's card capabilities (compact-TLV 7x, third byte b7) say {}",
                c.extended_length,
                atr.extended_length()
            ),
        ));
    }
    Ok(Capabilities {
        extended_length: c.extended_length,
        max_command_data: c.max_command_data,
        max_response_data: c.max_response_data,
    })
}

fn require_df(cx: &Ctx<'_>, profile: &Profile, field: &str, df: &FilePath) -> Result<()> {
    match profile.file(df) {
        Some(f) if f.is_df() => Ok(()),
        Some(_) => Err(cx.err(field, format!("{df} is an EF, not a DF"))),
        None => Err(cx.err(field, format!("{df} is not in the file tree"))),
    }
}

/// Builds the file tree: the MF first, parents before children.
fn files(cx: &Ctx<'_>, raw: &[RawFile]) -> Result<Vec<FileSpec>> {
    let mut paths = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let fid = parse_fid(&r.fid)
            .ok_or_else(|| cx.err(format!("file[{i}].fid"), format!("{:?} is not 4 hex digits", r.fid)))?;
        let path = match (r.file_type, &r.parent) {
            (RawFileType::Mf, None) if fid == 0x3F00 => FilePath::mf(),
            (RawFileType::Mf, None) => return Err(cx.err(format!("file[{i}].fid"), "the MF is 3F00")),
            (RawFileType::Mf, Some(_)) => {
                return Err(cx.err(format!("file[{i}].parent"), "the MF has no parent"))
            }
            (_, None) => {
                return Err(cx.err(format!("file[{i}].parent"), "missing (only the MF has no parent)"))
            }
            (_, Some(parent)) => {
                if fid == 0x3F00 {
                    return Err(cx.err(format!("file[{i}].fid"), "3F00 is reserved for the MF"));
                }
                cx.path(&format!("file[{i}].parent"), parent)?.join(fid)
            }
        };
        if let Some(j) = paths.iter().position(|p| p == &path) {
            return Err(cx.err(
                format!("file[{i}].fid"),
                format!("{path} is already file[{j}] (FIDs are unique in a DF)"),
            ));
        }
        paths.push(path);
    }
    if !paths.iter().any(FilePath::is_mf) {
        return Err(cx.err("file", "no MF (a file with type = \"mf\", fid = \"3F00\")"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, (r, path)) in raw.iter().zip(&paths).enumerate() {
        let f = |name: &str| format!("file[{i}].{name}");
        if let Some(parent) = path.parent() {
            match raw.iter().zip(&paths).find(|(_, p)| **p == parent) {
                Some((pr, _)) if pr.file_type != RawFileType::Ef => {}
                Some(_) => return Err(cx.err(f("parent"), format!("{parent} is an EF, not a DF"))),
                None => return Err(cx.err(f("parent"), format!("{parent} is not in the file tree"))),
            }
        }
        let kind = if r.file_type == RawFileType::Ef {
            FileKind::Ef(ef_spec(cx, i, r)?)
        } else {
            df_kind(cx, i, r)?
        };
        if let (FileKind::Ef(EfSpec { sfi: Some(sfi), .. }), Some(parent)) = (&kind, path.parent()) {
            let clash = out.iter().any(|o: &FileSpec| {
                o.path.parent().as_ref() == Some(&parent) && o.ef().is_some_and(|e| e.sfi == Some(*sfi))
            });
            if clash {
                return Err(cx.err(f("sfi"), format!("SFI {sfi} is used twice in {parent}")));
            }
        }
        if let FileKind::Df { df_name: Some(name) } = &kind {
            if out.iter().any(|o: &FileSpec| o.df_name() == Some(&name[..])) {
                return Err(cx.err(f("df_name"), "DF name is used by an earlier DF"));
            }
        }
        let admin = match (&r.admin, &kind) {
            (Some(a), _) => cx.condition(&f("admin"), a)?,
            (None, FileKind::Ef(ef)) => ef.update,
            (None, FileKind::Df { .. }) => AccessCondition::Never,
        };
        out.push(FileSpec {
            path: path.clone(),
            description: r.description.clone(),
            kind,
            admin,
            lifecycle: r.lifecycle.unwrap_or(FileLifeCycle::Activated),
        });
    }
    out.sort_by_key(|f| f.path.fids().len());
    Ok(out)
}

fn df_kind(cx: &Ctx<'_>, i: usize, r: &RawFile) -> Result<FileKind> {
    let f = |name: &str| format!("file[{i}].{name}");
    let ef_only = [
        ("structure", r.structure.is_some()),
        ("size", r.size.is_some()),
        ("records", r.records.is_some()),
        ("record_size", r.record_size.is_some()),
        ("sfi", r.sfi.is_some()),
        ("read", r.read.is_some()),
        ("update", r.update.is_some()),
    ];
    if let Some((name, _)) = ef_only.iter().find(|(_, set)| *set) {
        return Err(cx.err(f(name), "only EFs have this; a DF's life-cycle commands use `admin`"));
    }
    let df_name = match &r.df_name {
        Some(text) => {
            let name = cx.hex(&f("df_name"), text)?;
            if !(1..=16).contains(&name.len()) {
                return Err(cx.err(f("df_name"), format!("{} bytes; a DF name has 1 to 16", name.len())));
            }
            Some(name)
        }
        None => None,
    };
    Ok(FileKind::Df { df_name })
}

fn ef_spec(cx: &Ctx<'_>, i: usize, r: &RawFile) -> Result<EfSpec> {
    let f = |name: &str| format!("file[{i}].{name}");
    if r.df_name.is_some() {
        return Err(cx.err(f("df_name"), "only DFs have a DF name"));
    }
    let structure = r
        .structure
        .ok_or_else(|| cx.err(f("structure"), "missing (transparent, linear-fixed or linear-variable)"))?;
    let structure = match structure {
        RawStructure::Transparent => {
            if r.records.is_some() || r.record_size.is_some() {
                return Err(cx.err(f("records"), "a transparent EF has a size, not records"));
            }
            let size = r.size.ok_or_else(|| cx.err(f("size"), "missing (bytes of the transparent EF)"))?;
            if size == 0 || size > MAX_EF_SIZE {
                return Err(cx.err(f("size"), format!("{size} is outside 1..={MAX_EF_SIZE}")));
            }
            EfStructure::Transparent { size }
        }
        RawStructure::LinearFixed | RawStructure::LinearVariable => {
            if r.size.is_some() {
                return Err(cx.err(f("size"), "a record EF has records and record_size, not a size"));
            }
            let records = r.records.ok_or_else(|| cx.err(f("records"), "missing (most records)"))?;
            let records = u8::try_from(records)
                .ok()
                .filter(|n| (1..=254).contains(n))
                .ok_or_else(|| cx.err(f("records"), format!("{records} is outside 1..=254")))?;
            let size = r.record_size.ok_or_else(|| cx.err(f("record_size"), "missing (bytes per record)"))?;
            let size = u8::try_from(size)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| cx.err(f("record_size"), format!("{size} is outside 1..=255")))?;
            if structure == RawStructure::LinearFixed {
                EfStructure::LinearFixed { records, record_size: size }
            } else {
                EfStructure::LinearVariable { records, max_record_size: size }
            }
        }
    };
    if let Some(sfi) = r.sfi {
        if !(1..=30).contains(&sfi) {
            return Err(cx.err(f("sfi"), format!("{sfi} is outside 1..=30")));
        }
    }
    let read = r
        .read
        .as_deref()
        .ok_or_else(|| cx.err(f("read"), "missing (an EF needs read and update conditions)"))?;
    let update = r
        .update
        .as_deref()
        .ok_or_else(|| cx.err(f("update"), "missing (an EF needs read and update conditions)"))?;
    Ok(EfSpec {
        structure,
        sfi: r.sfi,
        read: cx.condition(&f("read"), read)?,
        update: cx.condition(&f("update"), update)?,
    })
}

/// Every `key:XX` / `pin:XX` names a key or PIN of the file's DF or a DF above it.
fn check_references(cx: &Ctx<'_>, profile: &Profile, raw: &[RawFile]) -> Result<()> {
    for file in &profile.files {
        // Report with the index the author wrote, not the sorted one.
        let i = raw
            .iter()
            .position(|r| {
                parse_fid(&r.fid) == Some(file.fid())
                    && r.parent.as_deref().and_then(FilePath::parse) == file.path.parent()
            })
            .unwrap_or(0);
        let mut conditions = Vec::with_capacity(3);
        if let Some(ef) = file.ef() {
            conditions.extend([("read", ef.read), ("update", ef.update)]);
        }
        conditions.push(("admin", file.admin));
        let df = file.security_df();
        for (name, c) in conditions {
            let missing = match c {
                AccessCondition::Key(id) => {
                    profile.find_key(&df, id).is_none().then(|| format!("key {id:02X}"))
                }
                AccessCondition::Pin(id) => {
                    profile.find_pin(&df, id).is_none().then(|| format!("PIN {id:02X}"))
                }
                AccessCondition::Always | AccessCondition::Never => None,
            };
            if let Some(what) = missing {
                return Err(cx.err(
                    format!("file[{i}].{name}"),
                    format!("{what} is not defined in {df} or a DF above it"),
                ));
            }
        }
    }
    Ok(())
}

fn sim_only(cx: &Ctx<'_>, profile: &Profile, sim: &RawSim) -> Result<SimOnly> {
    let mut out = SimOnly::default();
    for (i, k) in sim.key.iter().enumerate() {
        let f = |name: &str| format!("sim.key[{i}].{name}");
        let df = cx.path(&f("df"), &k.df)?;
        let id = cx.byte(&f("id"), &k.id)?;
        let usage_code = k.usage_code.as_deref().map(|u| cx.byte(&f("usage_code"), u)).transpose()?;
        let spec =
            profile.keys.iter().find(|s| s.df == df && s.id == id && s.usage_code == usage_code).ok_or_else(
                || cx.err(f("id"), format!("no key {id:02X} in {df} among the [[key]] entries")),
            )?;
        let value = cx.hex(&f("value"), &k.value)?;
        if !spec.algorithm.key_len_ok(value.len()) {
            return Err(
                cx.err(f("value"), format!("{} bytes is not a {:?} key length", value.len(), spec.algorithm))
            );
        }
        out.keys.push(SimSecret { df, id, usage_code, value });
    }
    for (i, p) in sim.pin.iter().enumerate() {
        let f = |name: &str| format!("sim.pin[{i}].{name}");
        let df = cx.path(&f("df"), &p.df)?;
        let id = cx.byte(&f("id"), &p.id)?;
        if !profile.pins.iter().any(|s| s.df == df && s.id == id) {
            return Err(cx.err(f("id"), format!("no PIN {id:02X} in {df} among the [[pin]] entries")));
        }
        let value = cx.hex(&f("value"), &p.value)?;
        if !(1..=16).contains(&value.len()) {
            return Err(cx.err(f("value"), format!("{} bytes; a PIN has 1 to 16", value.len())));
        }
        out.pins.push(SimSecret { df, id, usage_code: None, value });
    }
    if let Some(d) = &sim.derive {
        if d.psam.is_empty() || d.psam.contains(['/', '.']) {
            return Err(
                cx.err("sim.derive.psam", "a profile id (file name without .toml), e.g. \"psam-sim\"")
            );
        }
        if d.region.len() != 6 || !d.region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                cx.err("sim.derive.region", format!("{:?}: a six-digit GB/T 2260 region code", d.region))
            );
        }
        out.derive = Some(SimDerive { psam: d.psam.clone(), region: d.region.clone() });
    }
    if let Some(text) = &sim.isd_master {
        let isd = profile
            .isd
            .as_ref()
            .ok_or_else(|| cx.err("sim.isd_master", "the profile has no [isd] whose master this would be"))?;
        let value = cx.hex("sim.isd_master", text)?;
        if !isd.scheme.key_len_ok(value.len()) {
            return Err(cx.err(
                "sim.isd_master",
                format!("{} bytes is not a key length of {:?}", value.len(), isd.scheme),
            ));
        }
        out.isd_master = Some(TestKey(value));
    }
    for (i, s) in sim.file.iter().enumerate() {
        let f = |name: &str| format!("sim.file[{i}].{name}");
        let path = cx.path(&f("path"), &s.path)?;
        let ef = profile
            .file(&path)
            .and_then(FileSpec::ef)
            .ok_or_else(|| cx.err(f("path"), format!("{path} is not an EF of the file tree")))?;
        let content = match (ef.structure, &s.data, &s.records) {
            (EfStructure::Transparent { size }, Some(data), None) => {
                let data = cx.hex(&f("data"), data)?;
                if data.len() > size {
                    return Err(
                        cx.err(f("data"), format!("{} bytes do not fit the {size}-byte EF", data.len()))
                    );
                }
                SimContent::Binary(data)
            }
            (EfStructure::Transparent { .. }, _, _) => {
                return Err(cx.err(f("data"), "a transparent EF takes `data` (and no `records`)"))
            }
            (structure, None, Some(records)) => SimContent::Records(sim_records(cx, i, structure, records)?),
            (_, _, _) => return Err(cx.err(f("records"), "a record EF takes `records` (and no `data`)")),
        };
        if out.files.insert(path.clone(), content).is_some() {
            return Err(cx.err(f("path"), format!("{path} is given twice")));
        }
    }
    Ok(out)
}

fn sim_records(
    cx: &Ctx<'_>,
    i: usize,
    structure: EfStructure,
    records: &BTreeMap<String, String>,
) -> Result<BTreeMap<u8, Vec<u8>>> {
    let (max, fixed, longest) = match structure {
        EfStructure::LinearFixed { records, record_size } => (records, true, record_size),
        EfStructure::LinearVariable { records, max_record_size } => (records, false, max_record_size),
        EfStructure::Transparent { .. } => (0, false, 0),
    };
    let mut out = BTreeMap::new();
    for (number, value) in records {
        let field = format!("sim.file[{i}].records.\"{number}\"");
        let n = parse_byte(number).filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            cx.err(&field, format!("record number {number:?} is not 2 hex digits in 01..={max:02X}"))
        })?;
        let data = cx.hex(&field, value)?;
        let ok =
            if fixed { data.len() == longest as usize } else { (1..=longest as usize).contains(&data.len()) };
        if !ok {
            let want = if fixed { format!("exactly {longest}") } else { format!("1 to {longest}") };
            return Err(cx.err(&field, format!("{} bytes; records of this EF have {want}", data.len())));
        }
        out.insert(n, data);
    }
    Ok(out)
}
