//! From a validated applicant to the EF05 and EF06 records of the card.

use applicant::{Date, Validated};
use firmware_profile::Profile;
use ssse::{CardId, HolderData, IssuerData};

use crate::IssueError;

/// What the issuing office sets, not the applicant.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
) -> Result<(IssuerData, HolderData), IssueError> {
    let ssn = applicant.id.as_str();
    let data = |m: String| IssueError::Data(m);
    if ssn.len() != 18 || applicant.id.birth_date.is_none() {
        return Err(data(format!(
            "holder.id_number: a {:?} number is not a social security number; the provincial service assigns one \
             for this ID type (enter it as a resident ID number)",
            applicant.id.id_type
        )));
    }
    let (name, ext) = applicant.name.encode_card_fields().map_err(|e| data(format!("holder.name: {e}")))?;
    let trim = |b: &[u8]| b[..b.iter().rposition(|x| *x != 0).map_or(0, |i| i + 1)].to_vec();
    let ethnicity = applicant
        .ethnicity
        .map(|e| e.code())
        .ok_or_else(|| data("holder.ethnicity: required on the card".into()))?;
    let birthplace = applicant
        .birthplace
        .as_ref()
        .map(|b| b.as_str().to_string())
        .ok_or_else(|| data("holder.birthplace: required on the card".into()))?;
    let sex = applicant.sex.card_code().map_err(|e| data(format!("holder.sex: {e}")))?;
    let vendor = match params.vendor {
        Some(v) => v,
        None => ssse::card8(atr)?,
    };
    let expiry = params
        .issue_date
        .add_years(params.validity_years)
        .ok_or_else(|| data("issue date plus validity is not a calendar date".into()))?;
    let issuer = IssuerData {
        card_id: CardId::new(&params.region, vendor).map_err(ssse::SsseError::from)?,
        card_type: params.card_type,
        spec_version: profile.spec_version.clone(),
        init_org: params.init_org.clone(),
        issue_date: params.issue_date.compact(),
        expiry_date: expiry.compact(),
        card_number: applicant::CardNumber::parse(card_number)
            .map_err(|e| data(format!("card number {card_number}: {e}")))?
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
