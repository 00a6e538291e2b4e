//! The social-security application at the counter: from a validated applicant to the EF05
//! and EF06 records, and the personalisation of the card in a reader with the PSAM in the
//! SAM slot. The full issuance (archives, printing, ledger) is the daemon's; this is the
//! card step it and `station personalise` share.

use std::path::Path;

use anyhow::{bail, Context, Result};
use applicant::{Date, Validated};
use card_transport::{Card, Disposition};
use firmware_profile::Profile;
use serde::Serialize;
use ssse::{CardId, HolderData, IssuerData, SsseLayout};

/// What the issuing office sets, not the applicant.
#[derive(Debug, Clone)]
pub struct IssueParams {
    /// Six-digit region code of the issuing city (the card id starts with it, and the card's
    /// keys are diversified with it).
    pub region: String,
    /// Initialising organisation code (EF05 tag 04, up to 24 digits).
    pub init_org: String,
    /// Card type (EF05 tag 02).
    pub card_type: char,
    /// Issue date.
    pub issue_date: Date,
    /// Years of validity (3rd generation: 10).
    pub validity_years: u16,
    /// Vendor bytes of the card identification code; `None`: the card's `card8`.
    pub vendor: Option<[u8; 8]>,
}

/// The EF05 and EF06 data of `applicant` for a card of `profile` with ATR `atr`.
pub fn card_data(
    applicant: &Validated,
    card_number: &str,
    params: &IssueParams,
    profile: &Profile,
    atr: &[u8],
) -> Result<(IssuerData, HolderData)> {
    let ssn = applicant.id.as_str();
    if ssn.len() != 18 || applicant.id.birth_date.is_none() {
        bail!(
            "holder.id_number: a {:?} number is not a social security number; the provincial service assigns one \
             for this ID type (enter it as a resident ID number)",
            applicant.id.id_type
        );
    }
    let (name, ext) = applicant.name.encode_card_fields().context("holder.name")?;
    let trim = |b: &[u8]| b[..b.iter().rposition(|x| *x != 0).map_or(0, |i| i + 1)].to_vec();
    let ethnicity =
        applicant.ethnicity.map(|e| e.code()).context("holder.ethnicity: required on the card")?;
    let birthplace = applicant
        .birthplace
        .as_ref()
        .map(|b| b.as_str().to_string())
        .context("holder.birthplace: required on the card")?;
    let sex = applicant.sex.card_code().context("holder.sex")?;
    let vendor = match params.vendor {
        Some(v) => v,
        None => ssse::card8(atr)?,
    };
    let expiry = params
        .issue_date
        .add_years(params.validity_years)
        .context("issue date plus validity is not a calendar date")?;
    let issuer = IssuerData {
        card_id: CardId::new(&params.region, vendor)?,
        card_type: params.card_type,
        spec_version: profile.spec_version.clone(),
        init_org: params.init_org.clone(),
        issue_date: params.issue_date.compact(),
        expiry_date: expiry.compact(),
        card_number: applicant::CardNumber::parse(card_number)
            .map_err(|e| anyhow::anyhow!("card number {card_number}: {e}"))?
            .as_str()
            .to_string(),
    };
    let holder = HolderData {
        ssn: ssn.to_string(),
        name_gbk: trim(&name),
        name_extension: trim(&ext),
        sex: char::from(sex),
        ethnicity,
        birthplace,
        birth_date: applicant.birth_date.compact(),
    };
    Ok((issuer, holder))
}

/// The name on a card from its EF06 fields.
pub fn card_name(holder: &HolderData) -> Result<String, applicant::NameError> {
    applicant::Name::decode_card_fields(&holder.name_gbk, &holder.name_extension)
        .map(|n| n.as_str().to_string())
}

/// The profile whose ATR is the card's, from `dir`.
pub fn profile_for_atr(dir: &Path, atr: &[u8]) -> Result<Profile> {
    let profiles = firmware_profile::load_dir(dir)
        .with_context(|| format!("loading profiles from {}", dir.display()))?;
    profiles.into_iter().find(|p| p.atr.as_bytes() == atr).with_context(|| {
        format!(
            "no firmware profile in {} has ATR {}: pass --profile for this card",
            dir.display(),
            hex::encode_upper(atr)
        )
    })
}

/// What `station personalise` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Reader of the card.
    pub reader: String,
    /// Firmware profile used.
    pub profile: String,
    /// Card identification code written.
    pub card_id: String,
    /// Card number written.
    pub card_number: String,
    /// The holder's number, masked.
    pub ssn: String,
    /// Records written and read back identical.
    pub records: usize,
    /// APDUs to the card and to the PSAM.
    pub apdus: (u64, u64),
}

/// The counter's devices for one personalisation.
#[derive(Debug, Clone, Copy)]
pub struct Devices<'a> {
    /// Reader selector of the card.
    pub card_reader: &'a str,
    /// Reader selector of the PSAM.
    pub psam_reader: &'a str,
    /// The card's firmware profile; `None`: the one in `profiles_dir` whose ATR is the card's.
    pub profile: Option<&'a Profile>,
    /// Where the firmware profiles are.
    pub profiles_dir: &'a Path,
}

/// Personalises the SSSE of the card in the card reader with the PSAM in the SAM slot.
pub fn personalise_in_readers(
    manager: &mut pcsc_reader::PcscManager,
    devices: Devices<'_>,
    applicant: &Validated,
    card_number: &str,
    params: &IssueParams,
) -> Result<Outcome> {
    let (card_reader, psam_reader) = (devices.card_reader, devices.psam_reader);
    let mut card = manager.open(card_reader).with_context(|| format!("card reader {card_reader}"))?;
    let mut psam = manager
        .open(psam_reader)
        .with_context(|| format!("PSAM reader {psam_reader}: is the PSAM in the SAM slot?"))?;
    let atr = card.atr().to_vec();
    let found;
    let profile = match devices.profile {
        Some(p) => p,
        None => {
            found = profile_for_atr(devices.profiles_dir, &atr)?;
            &found
        }
    };
    let layout = SsseLayout::from_profile(profile)?;
    let (issuer, holder) = card_data(applicant, card_number, params, profile, &atr)?;
    let reader = card.reader().name.clone();
    let (done, apdus) = {
        let mut tx = card.transaction()?;
        let mut sam_tx = psam.transaction()?;
        let mut metered = card_transport::Metered::new(tx.as_mut());
        let mut sam_metered = card_transport::Metered::new(sam_tx.as_mut());
        let done = ssse::personalise(
            &mut metered,
            &atr,
            &mut ssse::Psam::new(&mut sam_metered),
            &layout,
            &issuer,
            &holder,
        )?;
        (done, (metered.count().apdus, sam_metered.count().apdus))
    };
    Box::new(card).disconnect(Disposition::Leave)?;
    Box::new(psam).disconnect(Disposition::Leave)?;
    Ok(Outcome {
        reader,
        profile: profile.id.clone(),
        card_id: done.card_id.to_string(),
        card_number: issuer.card_number,
        ssn: applicant.id.masked(),
        records: done.records,
        apdus,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(file: &str) -> Validated {
        let path = format!("{}/../applicant/testdata/{file}", env!("CARGO_MANIFEST_DIR"));
        let a: applicant::Applicant =
            serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json");
        a.validate(Date::new(2026, 11, 22).expect("date")).expect("valid")
    }

    fn params() -> IssueParams {
        IssueParams {
            region: "110100".into(),
            init_org: "11010000000000000001".into(),
            card_type: '1',
            issue_date: Date::new(2026, 11, 22).expect("date"),
            validity_years: 10,
            vendor: None,
        }
    }

    fn profile() -> Profile {
        Profile::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../firmware-profiles/ssc-3g-sim.toml"))
            .expect("profile")
    }

    #[test]
    fn an_adult_becomes_the_records_of_the_table() {
        let p = profile();
        let (issuer, holder) =
            card_data(&applicant("adult.json"), "B00000019", &params(), &p, p.atr.as_bytes()).expect("data");
        assert_eq!(issuer.card_id.to_string(), "110100D15600000500BF7C7A48FB4966");
        assert_eq!((issuer.issue_date.as_str(), issuer.expiry_date.as_str()), ("20261122", "20361122"));
        assert_eq!(issuer.spec_version, "3.00");
        assert_eq!(holder.ssn, "11010519491231002X");
        assert_eq!(holder.name_gbk, vec![0xD5, 0xC5, 0xC8, 0xFD]);
        assert!(holder.name_extension.is_empty());
        assert_eq!(
            (holder.sex, holder.ethnicity.as_str(), holder.birthplace.as_str()),
            ('2', "01", "110105")
        );
        assert_eq!(card_name(&holder).expect("name"), "张三");
    }

    #[test]
    fn a_rare_character_goes_to_the_extension_and_comes_back() {
        let p = profile();
        let (_, holder) =
            card_data(&applicant("rare_name.json"), "B00000019", &params(), &p, p.atr.as_bytes())
                .expect("data");
        assert!(!holder.name_extension.is_empty(), "𠮷 is outside GBK");
        assert_eq!(card_name(&holder).expect("name"), "王𠮷");
    }

    #[test]
    fn a_bad_card_number_is_refused_before_the_card() {
        let p = profile();
        let e = card_data(&applicant("adult.json"), "B00000018", &params(), &p, p.atr.as_bytes())
            .expect_err("check");
        assert!(e.to_string().contains("B00000018"), "{e}");
    }
}
