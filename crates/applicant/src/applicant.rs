//! The applicant as the station reads it (`station personalise --applicant FILE.json`), and its
//! validation. The JSON model keeps every field as the text the operator or the provincial
//! service gave, so that one pass can report every problem at once; [`Applicant::validate`]
//! turns it into typed values ([`Validated`]) or into the full list of [`FieldError`]s.

use crate::card_number::CardNumber;
use crate::codes::{Ethnicity, Nationality, Sex};
use crate::date::Date;
use crate::document::{DocumentId, IdType, IdValidity};
use crate::error::{Explain, FieldError, ValidationErrors, Warning};
use crate::id::mask;
use crate::insurance::InsuranceCategory;
use crate::name::Name;
use crate::region::RegionCode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One application, as JSON. Unknown keys are refused, so a misspelt key is not silently lost.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// The card holder.
    pub holder: Holder,
    /// Residence address and how to reach the holder.
    #[serde(default)]
    pub contact: Contact,
    /// Employer, if any (its address can stand for the residence address for the bank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<Employer>,
    /// Guardian: required when the holder is under 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardian: Option<Guardian>,
    /// Path of the photo (JPEG); children under 7 may have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    /// Card number, when the provincial service has already assigned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    /// The serving bank the person chose (RULE 8): a bank's code (`ICBC`) from the cooperating
    /// banks of the counter's region (`bank::Registry::banks_for`; the daemon checks the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// The medical insurance the holder is in: the form's category and its agency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance: Option<Insurance>,
    /// The card the person already holds in the province (the form's 是否首次申领: 否), with their
    /// signed consent to stop it; a re-issue needs it (see [`Intake::replacing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_card: Option<PreviousCard>,
    /// The applicant read and accepted the form's declaration (申明: the data are true and
    /// complete); required on a signed form (see [`Intake::signed_form`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub declaration: bool,
}

/// The medical insurance on the form (参加医疗保险或新农合的类型 and 所参加医疗保险的经办机构).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insurance {
    /// The category's key or its name on the form, from the closed list
    /// ([`InsuranceCategory::all`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The insuring agency (参保机构/经办机构), e.g. 石狮市医疗保险管理中心.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
}

/// The card the person holds in the province, as the form has it: "本人在福建省 CITY 市已持有
/// 社保卡，卡号为 NUMBER。本人现同意停用该社保卡。" and the applicant's signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousCard {
    /// The city where the card was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Its card number, when the applicant knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    /// The applicant signed the consent to stop it (同意注销原卡).
    #[serde(default)]
    pub consent_to_stop: bool,
}

/// How the application was taken, for the checks that depend on it: a re-issue needs the
/// consent to stop the card it replaces; a form signed at the counter needs the declaration
/// and the insurance category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Intake<'a> {
    /// The live card this application replaces (a re-issue), if any.
    pub replacing: Option<&'a str>,
    /// The application is the counter's form, signed by the applicant.
    pub signed_form: bool,
}

/// The card holder's identity, as given.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// Document type, e.g. `resident_id` (see [`IdType::key`]).
    #[serde(default)]
    pub id_type: Option<String>,
    /// Document number.
    #[serde(default)]
    pub id_number: Option<String>,
    /// Document validity; may be left out for a household register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_validity: Option<Validity>,
    /// Name, exactly as on the document.
    #[serde(default)]
    pub name: Option<String>,
    /// GB/T 2261.1 code: "1" male, "2" female.
    #[serde(default)]
    pub sex: Option<String>,
    /// GB 3304 two-digit code (or the Chinese name); required for Chinese citizens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    /// GB/T 2260 six-digit region code of the birthplace; required for Chinese citizens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthplace: Option<String>,
    /// Birth date, YYYY-MM-DD.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// ISO 3166-1 alpha-3; CHN when left out with a Chinese citizen's document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Occupation: GB/T 6565 code or plain text.
    #[serde(default)]
    pub occupation: Option<String>,
}

/// Document validity as given: `to` is a date or 长期.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// First day, YYYY-MM-DD.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD, or 长期 (long-term).
    #[serde(default)]
    pub to: Option<String>,
}

/// Where the holder lives and how to reach them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Residence address (常住地地址).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Household-registration address (户口所在地地址), when it differs from the residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household_address: Option<String>,
    /// Six-digit postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// Fixed-line phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Mobile phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The holder's employer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Employer {
    /// Employer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Employer address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The guardian of a minor, as given.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardian {
    /// Guardian's document type.
    #[serde(default)]
    pub id_type: Option<String>,
    /// Guardian's document number.
    #[serde(default)]
    pub id_number: Option<String>,
    /// Guardian's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Relation to the holder, e.g. 父亲, 母亲, father, mother.
    #[serde(default)]
    pub relation: Option<String>,
}

/// Ages that the rules depend on; the defaults are the national ones. Provinces may differ on
/// the photo age [?], so it is a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Under this age a guardian is required and a household register is accepted (16).
    pub guardian_under: u16,
    /// A guardian must be at least this old (18).
    pub adult_age: u16,
    /// Under this age the photo may be missing (7).
    pub photo_optional_under: u16,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules { guardian_under: 16, adult_age: 18, photo_optional_under: 7 }
    }
}

/// A checked guardian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedGuardian {
    /// Their document.
    pub id: DocumentId,
    /// Their name.
    pub name: Name,
    /// Relation to the holder.
    pub relation: String,
}

/// An applicant whose every field passed: typed values, ready for the card and the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The holder's document (type and number).
    pub id: DocumentId,
    /// Its validity; `None` for a household register given without one.
    pub id_validity: Option<IdValidity>,
    /// Name.
    pub name: Name,
    /// Sex (male or female: the card can hold nothing else).
    pub sex: Sex,
    /// Birth date.
    pub birth_date: Date,
    /// Age in completed years on the validation day.
    pub age: u16,
    /// Nationality.
    pub nationality: Nationality,
    /// Ethnicity (always present for Chinese citizens).
    pub ethnicity: Option<Ethnicity>,
    /// Birthplace (always present for Chinese citizens).
    pub birthplace: Option<RegionCode>,
    /// Occupation as given.
    pub occupation: String,
    /// Contact data as given (checked).
    pub contact: Contact,
    /// Employer as given.
    pub employer: Option<Employer>,
    /// Guardian, when given.
    pub guardian: Option<ValidatedGuardian>,
    /// Photo path.
    pub photo: Option<String>,
    /// Card number, when assigned.
    pub card_number: Option<CardNumber>,
    /// The medical-insurance category, when given.
    pub category: Option<InsuranceCategory>,
    /// The insuring agency, when given.
    pub agency: Option<String>,
    /// The card the person holds in the province, and whether they consented to stop it.
    pub previous_card: Option<ValidatedPreviousCard>,
    /// The declaration was accepted.
    pub declaration: bool,
    /// Things the operator should see that do not stop issuance.
    pub warnings: Vec<Warning>,
}

/// A checked previous card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedPreviousCard {
    /// The city where it was issued.
    pub city: Option<String>,
    /// Its number, when given.
    pub card_number: Option<CardNumber>,
    /// The consent to stop it was signed (always true once validated).
    pub consent_to_stop: bool,
}

/// One of the nine elements a bank needs to open the account (AML customer identification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountElement {
    /// 姓名
    Name,
    /// 性别
    Sex,
    /// 国籍
    Nationality,
    /// 职业
    Occupation,
    /// 住所地或工作单位地址
    Address,
    /// 联系方式
    Contact,
    /// 证件种类
    IdType,
    /// 证件号码
    IdNumber,
    /// 证件有效期限
    IdValidity,
}

impl AccountElement {
    /// The JSON path where the element is given.
    pub fn field(self) -> &'static str {
        match self {
            AccountElement::Name => "holder.name",
            AccountElement::Sex => "holder.sex",
            AccountElement::Nationality => "holder.nationality",
            AccountElement::Occupation => "holder.occupation",
            AccountElement::Address => "contact.address",
            AccountElement::Contact => "contact.mobile",
            AccountElement::IdType => "holder.id_type",
            AccountElement::IdNumber => "holder.id_number",
            AccountElement::IdValidity => "holder.id_validity",
        }
    }
}

impl fmt::Display for AccountElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountElement::Name => "name (姓名)",
            AccountElement::Sex => "sex (性别)",
            AccountElement::Nationality => "nationality (国籍)",
            AccountElement::Occupation => "occupation (职业)",
            AccountElement::Address => "residence or employer address (住所地或工作单位地址)",
            AccountElement::Contact => "phone or mobile (联系方式)",
            AccountElement::IdType => "ID type (证件种类)",
            AccountElement::IdNumber => "ID number (证件号码)",
            AccountElement::IdValidity => "ID validity (证件有效期限)",
        })
    }
}

/// The account-opening elements that are missing. No account without all nine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no bank account without all nine identification elements; missing: {}",
    .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
)]
pub struct MissingElements(pub Vec<AccountElement>);

/// Collects errors and warnings across the whole applicant.
/// The file name of a photo path `photos/NAME.jpg` (or `.jpeg`, `.png`): one plain name in the
/// station's photo directory, so an applicant's form can never make the station read another
/// file (no `/`, no `..`, no hidden name, no control character).
pub fn photo_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix("photos/")?;
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let plain = !name.is_empty()
        && name.chars().count() <= 128
        && !name.starts_with('.')
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    (plain && matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))).then_some(name)
}

#[derive(Default)]
struct Report {
    errors: Vec<FieldError>,
    warnings: Vec<Warning>,
}

impl Report {
    fn error(
        &mut self,
        field: &str,
        rule: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.errors.push(FieldError::new(field, rule, message, hint));
    }

    fn explain(&mut self, field: &str, e: &dyn Explain) {
        self.errors.push(FieldError::from_explain(field, e));
    }

    fn warn(&mut self, field: &str, warnings: Vec<Warning>) {
        self.warnings.extend(warnings.into_iter().map(|w| w.at(field)));
    }

    /// The value when present and not blank; a `required` error otherwise.
    fn required<'a>(&mut self, field: &str, value: &'a Option<String>, what: &str) -> Option<&'a str> {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => value.as_deref(),
            _ => {
                self.error(field, "required", format!("{what} is missing"), format!("enter the {what}"));
                None
            }
        }
    }

    /// Free text: no control characters, at most `max` characters.
    fn text(&mut self, field: &str, value: &str, max: usize) -> bool {
        if value.chars().any(char::is_control) {
            self.error(field, "text-control-character", "the text holds a control character", "re-type it");
            return false;
        }
        let n = value.chars().count();
        if n > max {
            self.error(field, "text-length", format!("{n} characters; at most {max}"), "shorten it");
            return false;
        }
        true
    }
}

fn present(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn id_type_hint() -> String {
    let keys: Vec<&str> = IdType::ALL.iter().map(|t| t.key()).collect();
    format!("use one of: {}", keys.join(", "))
}

impl Applicant {
    /// Validates with the national [`Rules`]; see [`Applicant::validate_for`].
    pub fn validate(&self, today: Date) -> Result<Validated, ValidationErrors> {
        self.validate_with(today, &Rules::default())
    }

    /// [`Applicant::validate_for`] an application file that is neither a re-issue nor a signed
    /// form.
    pub fn validate_with(&self, today: Date, rules: &Rules) -> Result<Validated, ValidationErrors> {
        self.validate_for(today, rules, &Intake::default())
    }

    /// Checks every field and every cross-field rule as of `today`, and reports all failures
    /// together. Cross-field rules: sex and birth date agree with the ID number; nationality
    /// agrees with the document type; a household register only under 16; a guardian under
    /// 16, whose own document validates and who is an adult; a photo from age 7; a previous
    /// card only with the consent to stop it, and a re-issue only with the consent to stop the
    /// card it replaces; a signed form with its declaration accepted and its insurance category.
    pub fn validate_for(
        &self,
        today: Date,
        rules: &Rules,
        intake: &Intake,
    ) -> Result<Validated, ValidationErrors> {
        let mut r = Report::default();
        let h = &self.holder;

        // Document.
        let id_type = r.required("holder.id_type", &h.id_type, "ID type").and_then(|s| {
            let t = IdType::from_key(s.trim());
            if t.is_none() {
                r.error("holder.id_type", "id-type", format!("'{s}' is not a known ID type"), id_type_hint());
            }
            t
        });
        let id = match (id_type, r.required("holder.id_number", &h.id_number, "ID number")) {
            (Some(t), Some(n)) => match t.check_number(n.trim(), today) {
                Ok((doc, w)) => {
                    r.warn("holder.id_number", w);
                    Some(doc)
                }
                Err(e) => {
                    r.explain("holder.id_number", &e);
                    None
                }
            },
            _ => None,
        };
        let id_validity = self.check_validity(id_type, today, &mut r);

        // Name.
        let name = r.required("holder.name", &h.name, "name").and_then(|s| match Name::new(s) {
            Ok(n) => match n.encode_card_fields() {
                Ok(_) => Some(n),
                Err(e) => {
                    r.explain("holder.name", &e);
                    None
                }
            },
            Err(e) => {
                r.explain("holder.name", &e);
                None
            }
        });

        // Sex and birth date, against the number.
        let sex = r.required("holder.sex", &h.sex, "sex code").and_then(|s| {
            let sex = Sex::parse(s.trim()).and_then(|x| x.card_code().map(|_| x));
            sex.map_err(|e| r.explain("holder.sex", &e)).ok()
        });
        if let (Some(sex), Some(from_id)) = (sex, id.as_ref().and_then(|d| d.sex)) {
            if sex != from_id {
                r.error(
                    "holder.sex",
                    "sex-matches-id",
                    format!("sex is {} but the ID number says {}", sex.word(), from_id.word()),
                    "check the sex and the ID number against the document; the 17th character is odd for \
                     men, even for women",
                );
            }
        }
        let birth_date = r.required("holder.birth_date", &h.birth_date, "birth date").and_then(|s| {
            match Date::parse(s.trim()) {
                Ok(d) if d > today => {
                    r.error(
                        "holder.birth_date",
                        "birth-date-future",
                        format!("{d} is after today"),
                        "check the date",
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    r.error(
                        "holder.birth_date",
                        "date-format",
                        e.to_string(),
                        "enter YYYY-MM-DD as on the document",
                    );
                    None
                }
            }
        });
        if let (Some(given), Some(from_id)) = (birth_date, id.as_ref().and_then(|d| d.birth_date)) {
            if given != from_id {
                r.error(
                    "holder.birth_date",
                    "birth-date-matches-id",
                    format!("birth date is {given} but the ID number says {from_id}"),
                    "check the birth date and the ID number against the document",
                );
            }
        }
        let age = birth_date.or(id.as_ref().and_then(|d| d.birth_date)).map(|b| b.years_until(today));

        if let (Some(v), Some(b), Some(IdType::ResidentId)) = (id_validity, birth_date, id_type) {
            r.warn("holder.id_validity", v.resident_id_warning(b).into_iter().collect());
        }
        if let (Some(IdType::HouseholdRegister), Some(age)) = (id_type, age) {
            if age >= rules.guardian_under {
                r.error(
                    "holder.id_type",
                    "household-register-age",
                    format!(
                        "a household register is accepted only under {}; the holder is {age}",
                        rules.guardian_under
                    ),
                    "ask for the resident ID card (居民身份证)",
                );
            }
        }

        // Nationality, ethnicity, birthplace.
        let nationality = self.check_nationality(id_type, &mut r);
        let citizen = nationality == Some(Nationality::CHINA);
        let ethnicity = match (&h.ethnicity, citizen) {
            (Some(s), _) if !s.trim().is_empty() => {
                Ethnicity::parse(s.trim()).map_err(|e| r.explain("holder.ethnicity", &e)).ok()
            }
            (_, true) => {
                r.required("holder.ethnicity", &None, "ethnicity (GB 3304 code)");
                None
            }
            _ => None,
        };
        let birthplace = match (&h.birthplace, citizen) {
            (Some(s), _) if !s.trim().is_empty() => match RegionCode::parse(s.trim()) {
                Ok((code, w)) => {
                    r.warn("holder.birthplace", w);
                    Some(code)
                }
                Err(e) => {
                    r.explain("holder.birthplace", &e);
                    None
                }
            },
            (_, true) => {
                r.required("holder.birthplace", &None, "birthplace (GB/T 2260 code)");
                None
            }
            _ => None,
        };
        let occupation = r.required("holder.occupation", &h.occupation, "occupation").and_then(|s| {
            let s = s.trim();
            r.text("holder.occupation", s, 64).then(|| s.to_owned())
        });

        self.check_contact(&mut r);
        let guardian = self.check_guardian(today, rules, age, id.as_ref(), &mut r);

        if let Some(photo) = self.photo.as_deref().filter(|p| !p.trim().is_empty()) {
            if photo_name(photo).is_none() {
                r.error(
                    "photo",
                    "photo-path",
                    "the photo must be a file of the station's photo directory, named photos/NAME.jpg (or .png)",
                    "take the photo at the counter, or copy the applicant's photo into the photo directory and name it there",
                );
            }
        }
        if !present(&self.photo) && age.is_some_and(|a| a >= rules.photo_optional_under) {
            r.error(
                "photo",
                "photo-required",
                format!("no photo; only children under {} may go without", rules.photo_optional_under),
                "take the photo at the counter (358 x 441 px, white background) or load the applicant's file",
            );
        }
        let card_number = self
            .card_number
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| CardNumber::parse(s).map_err(|e| r.explain("card_number", &e)).ok());
        if let Some(bank) = self.bank.as_deref().filter(|b| !b.trim().is_empty()) {
            let code = bank.trim();
            if code.len() > 16
                || !code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            {
                r.error(
                    "bank",
                    "bank-code",
                    format!("{code:?} is not a bank's code"),
                    "choose the serving bank from the counter's list of cooperating banks (ICBC, ABC, ...)",
                );
            }
        }

        let (category, agency) = self.check_insurance(intake, &mut r);
        let previous_card = self.check_previous_card(intake, &mut r);
        if intake.signed_form && !self.declaration {
            r.error(
                "declaration",
                "declaration-required",
                "the applicant has not accepted the declaration (申明)",
                "read the declaration to the applicant; once they accept it, tick it (\"declaration\": true)",
            );
        }

        match (id, name, sex, birth_date, age, nationality, occupation) {
            (
                Some(id),
                Some(name),
                Some(sex),
                Some(birth_date),
                Some(age),
                Some(nationality),
                Some(occupation),
            ) if r.errors.is_empty() => Ok(Validated {
                id,
                id_validity,
                name,
                sex,
                birth_date,
                age,
                nationality,
                ethnicity,
                birthplace,
                occupation,
                contact: self.contact.clone(),
                employer: self.employer.clone(),
                guardian,
                photo: self.photo.clone().filter(|p| !p.trim().is_empty()),
                card_number,
                category,
                agency,
                previous_card,
                declaration: self.declaration,
                warnings: r.warnings,
            }),
            _ => {
                if r.errors.is_empty() {
                    r.error(
                        "holder",
                        "internal",
                        "a field was left unchecked",
                        "report this to the station's maintainers",
                    );
                }
                Err(ValidationErrors { errors: r.errors, warnings: r.warnings })
            }
        }
    }

    fn check_insurance(
        &self,
        intake: &Intake,
        r: &mut Report,
    ) -> (Option<InsuranceCategory>, Option<String>) {
        let insurance = self.insurance.clone().unwrap_or_default();
        let category = match insurance.category.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => InsuranceCategory::parse(s).map_err(|e| r.explain("insurance.category", &e)).ok(),
            None if intake.signed_form => {
                r.required("insurance.category", &None, "medical-insurance category (参保类别)");
                None
            }
            None => None,
        };
        let agency = insurance.agency.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let agency = agency.filter(|a| r.text("insurance.agency", a, 100)).map(str::to_owned);
        (category, agency)
    }

    fn check_previous_card(&self, intake: &Intake, r: &mut Report) -> Option<ValidatedPreviousCard> {
        let consent_hint =
            "have the applicant sign the form's 本人现同意停用该社保卡 (\"consent_to_stop\": true)";
        let Some(p) = &self.previous_card else {
            if let Some(old) = intake.replacing {
                r.error(
                    "previous_card.consent_to_stop",
                    "consent-to-stop",
                    format!("a re-issue stops card {old}, and the form has no signed consent to stop it"),
                    format!("enter the card the person holds and {consent_hint}"),
                );
            }
            return None;
        };
        let city = p.city.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let city = city.filter(|c| r.text("previous_card.city", c, 32)).map(str::to_owned);
        let card_number =
            p.card_number.as_deref().map(str::trim).filter(|s| !s.is_empty()).and_then(|s| {
                CardNumber::parse(s).map_err(|e| r.explain("previous_card.card_number", &e)).ok()
            });
        if let (Some(old), Some(given)) = (intake.replacing, &card_number) {
            if given.as_str() != old.trim() {
                r.error(
                    "previous_card.card_number",
                    "previous-card-matches",
                    format!("the form names card {} but the re-issue replaces card {old}", given.as_str()),
                    "check the card number with the applicant: the consent must be for the card that is stopped",
                );
            }
        }
        if !p.consent_to_stop {
            r.error(
                "previous_card.consent_to_stop",
                "consent-to-stop",
                "the person holds a card in the province and has not signed the consent to stop it",
                format!("{consent_hint}, or leave the previous card out if they hold none"),
            );
            return None;
        }
        Some(ValidatedPreviousCard { city, card_number, consent_to_stop: true })
    }

    fn check_validity(&self, id_type: Option<IdType>, today: Date, r: &mut Report) -> Option<IdValidity> {
        let v = self.holder.id_validity.clone().unwrap_or_default();
        if id_type == Some(IdType::HouseholdRegister) && !present(&v.from) && !present(&v.to) {
            return None;
        }
        let from = r.required("holder.id_validity.from", &v.from, "first day of the ID's validity");
        let to = r.required("holder.id_validity.to", &v.to, "last day of the ID's validity (or 长期)");
        let (from, to) = (from?.trim(), to?.trim());
        match IdValidity::parse(from, to, today) {
            Ok(v) => Some(v),
            Err(e) => {
                let field = match &e {
                    crate::document::ValidityError::Date(s) if s == from => "holder.id_validity.from",
                    crate::document::ValidityError::NotYetValid(_) => "holder.id_validity.from",
                    _ => "holder.id_validity.to",
                };
                r.explain(field, &e);
                None
            }
        }
    }

    fn check_nationality(&self, id_type: Option<IdType>, r: &mut Report) -> Option<Nationality> {
        let field = "holder.nationality";
        let given = self.holder.nationality.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let nationality = match (given, id_type) {
            (Some(s), _) => Nationality::parse(s).map_err(|e| r.explain(field, &e)).ok()?,
            (None, Some(t)) if t.is_chinese_citizen() => Nationality::CHINA,
            (None, _) => {
                r.required(field, &None, "nationality (ISO 3166 alpha-3)");
                return None;
            }
        };
        match id_type {
            Some(t) if t.is_chinese_citizen() && nationality != Nationality::CHINA => {
                r.error(
                    field,
                    "nationality-matches-id-type",
                    format!(
                        "a {} belongs to a Chinese citizen, but nationality is {nationality}",
                        t.chinese_name()
                    ),
                    "use CHN, or choose the document type the applicant actually presented",
                );
                None
            }
            Some(t) if !t.is_chinese_citizen() && nationality == Nationality::CHINA => {
                r.error(
                    field,
                    "nationality-matches-id-type",
                    format!("a {} belongs to a foreign national, but nationality is CHN", t.chinese_name()),
                    "enter the nationality from the passport, or choose the Chinese document type",
                );
                None
            }
            _ => Some(nationality),
        }
    }

    fn check_contact(&self, r: &mut Report) {
        let c = &self.contact;
        let employer_address = self.employer.as_ref().and_then(|e| e.address.clone());
        if !present(&c.address) && !present(&employer_address) {
            r.error(
                "contact.address",
                "address-required",
                "neither a residence address nor an employer address is given",
                "enter the residence address (or the employer's address)",
            );
        }
        for (field, v) in [("contact.address", &c.address), ("employer.address", &employer_address)] {
            if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
                r.text(field, v.trim(), 200);
            }
        }
        if let Some(h) = c.household_address.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            r.text("contact.household_address", h, 200);
        }
        if let Some(e) = self.employer.as_ref().and_then(|e| e.name.as_deref()) {
            r.text("employer.name", e.trim(), 100);
        }
        if !present(&c.phone) && !present(&c.mobile) {
            r.error(
                "contact.mobile",
                "contact-required",
                "neither a mobile nor a fixed-line phone number is given",
                "enter the applicant's mobile number (or a fixed-line number)",
            );
        }
        if let Some(m) = c.mobile.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let digits: String = m.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            let mainland =
                digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit());
            let international = digits.starts_with('+')
                && (8..=16).contains(&(digits.len() - 1))
                && digits[1..].bytes().all(|b| b.is_ascii_digit());
            if !mainland && !international {
                r.error(
                    "contact.mobile",
                    "mobile-format",
                    "not a mobile number: 11 digits starting with 1, or + and the country code",
                    "re-type the mobile number",
                );
            }
        }
        if let Some(p) = c.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let allowed = p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
            if !allowed || !(5..=20).contains(&digits) {
                r.error(
                    "contact.phone",
                    "phone-format",
                    "not a phone number: 5 to 20 digits, with + - ( ) or spaces",
                    "re-type the number with its area code, e.g. 010-12345678",
                );
            }
        }
        if let Some(p) = c.postcode.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            if p.len() != 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                r.error(
                    "contact.postcode",
                    "postcode-format",
                    "a postcode is six digits",
                    "re-type the postcode or leave it out",
                );
            }
        }
        if let Some(e) = c.email.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let ok =
                e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.')) && !e.contains(' ');
            if !ok {
                r.error(
                    "contact.email",
                    "email-format",
                    "not an e-mail address",
                    "re-type it or leave it out",
                );
            }
        }
    }

    fn check_guardian(
        &self,
        today: Date,
        rules: &Rules,
        age: Option<u16>,
        holder_id: Option<&DocumentId>,
        r: &mut Report,
    ) -> Option<ValidatedGuardian> {
        let Some(g) = &self.guardian else {
            if let Some(age) = age.filter(|&a| a < rules.guardian_under) {
                r.error(
                    "guardian",
                    "guardian-required",
                    format!("the holder is {age}; under {} a guardian is required", rules.guardian_under),
                    "enter the guardian's ID type, ID number, name and relation, from the guardian's \
                     own document",
                );
            }
            return None;
        };
        let id_type = r.required("guardian.id_type", &g.id_type, "guardian's ID type").and_then(|s| {
            let t = IdType::from_key(s.trim());
            if t.is_none() {
                r.error(
                    "guardian.id_type",
                    "id-type",
                    format!("'{s}' is not a known ID type"),
                    id_type_hint(),
                );
            }
            t
        });
        if id_type == Some(IdType::HouseholdRegister) {
            r.error(
                "guardian.id_type",
                "guardian-document",
                "a household register cannot identify a guardian",
                "use the guardian's resident ID card or passport",
            );
        }
        let id = match (id_type, r.required("guardian.id_number", &g.id_number, "guardian's ID number")) {
            (Some(t), Some(n)) => match t.check_number(n.trim(), today) {
                Ok((doc, w)) => {
                    r.warn("guardian.id_number", w);
                    Some(doc)
                }
                Err(e) => {
                    r.explain("guardian.id_number", &e);
                    None
                }
            },
            _ => None,
        };
        if let (Some(gid), Some(hid)) = (&id, holder_id) {
            if gid.as_str() == hid.as_str() {
                r.error(
                    "guardian.id_number",
                    "guardian-self",
                    format!("the guardian's number {} is the holder's own", gid.masked()),
                    "enter the guardian's own document",
                );
            }
        }
        match id.as_ref().map(|d| d.birth_date) {
            Some(Some(born)) => {
                let gage = born.years_until(today);
                if gage < rules.adult_age {
                    r.error(
                        "guardian.id_number",
                        "guardian-adult",
                        format!("the guardian is {gage}; a guardian must be at least {}", rules.adult_age),
                        "a parent or another adult guardian must come with the child",
                    );
                }
            }
            Some(None) => r.warnings.push(
                Warning::new(
                    "guardian-age-unchecked",
                    "the guardian's document number does not show a birth date; check on the \
                     document that the guardian is an adult",
                )
                .at("guardian.id_number"),
            ),
            None => {}
        }
        let name = r
            .required("guardian.name", &g.name, "guardian's name")
            .and_then(|s| Name::new(s).map_err(|e| r.explain("guardian.name", &e)).ok());
        let relation =
            r.required("guardian.relation", &g.relation, "guardian's relation to the holder").and_then(|s| {
                let s = s.trim();
                r.text("guardian.relation", s, 20).then(|| s.to_owned())
            });
        Some(ValidatedGuardian { id: id?, name: name?, relation: relation? })
    }

    /// Whether the bank may open the account: the nine identification elements (name, sex,
    /// nationality, occupation, residence or employer address, contact, ID type, ID number, ID
    /// validity) must all be given. Only presence is checked here; [`Applicant::validate`]
    /// checks the values. Nationality left out counts as CHN for a Chinese citizen's document;
    /// a household register needs no validity (it has none).
    pub fn account_opening_check(&self) -> Result<(), MissingElements> {
        let h = &self.holder;
        let id_type = h.id_type.as_deref().and_then(|s| IdType::from_key(s.trim()));
        let validity = h.id_validity.clone().unwrap_or_default();
        let employer_address = self.employer.as_ref().and_then(|e| e.address.clone());
        let checks = [
            (AccountElement::Name, present(&h.name)),
            (AccountElement::Sex, present(&h.sex)),
            (
                AccountElement::Nationality,
                present(&h.nationality) || id_type.is_some_and(IdType::is_chinese_citizen),
            ),
            (AccountElement::Occupation, present(&h.occupation)),
            (AccountElement::Address, present(&self.contact.address) || present(&employer_address)),
            (AccountElement::Contact, present(&self.contact.mobile) || present(&self.contact.phone)),
            (AccountElement::IdType, present(&h.id_type)),
            (AccountElement::IdNumber, present(&h.id_number)),
            (
                AccountElement::IdValidity,
                (present(&validity.from) && present(&validity.to))
                    || id_type == Some(IdType::HouseholdRegister),
            ),
        ];
        let missing: Vec<AccountElement> = checks.iter().filter(|(_, ok)| !ok).map(|(e, _)| *e).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(MissingElements(missing))
        }
    }
}

/// `Some("110105********002X")`-style output for optional numbers in Debug.
struct Masked<'a>(&'a Option<String>);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "Some({:?})", mask(s)),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for Applicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applicant")
            .field("holder", &self.holder)
            .field("contact", &self.contact)
            .field("employer", &self.employer)
            .field("guardian", &self.guardian)
            .field("photo", &self.photo)
            .field("card_number", &self.card_number)
            .field("bank", &self.bank)
            .field("insurance", &self.insurance)
            .field("previous_card", &self.previous_card)
            .field("declaration", &self.declaration)
            .finish()
    }
}

impl fmt::Debug for Holder {
    /// ID numbers are masked: Debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Holder")
            .field("id_type", &self.id_type)
            .field("id_number", &Masked(&self.id_number))
            .field("id_validity", &self.id_validity)
            .field("name", &self.name)
            .field("sex", &self.sex)
            .field("ethnicity", &self.ethnicity)
            .field("birthplace", &self.birthplace)
            .field("birth_date", &self.birth_date)
            .field("nationality", &self.nationality)
            .field("occupation", &self.occupation)
            .finish()
    }
}

impl fmt::Debug for Guardian {
    /// ID numbers are masked: Debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guardian")
            .field("id_type", &self.id_type)
            .field("id_number", &Masked(&self.id_number))
            .field("name", &self.name)
            .field("relation", &self.relation)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::ValidUntil;

    fn today() -> Date {
        Date::new(2025, 6, 1).expect("date")
    }

    fn load(json: &str) -> Applicant {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("testdata does not parse: {e}"))
    }

    fn valid(json: &str) -> Validated {
        load(json).validate(today()).unwrap_or_else(|e| panic!("expected valid:\n{e}"))
    }

    fn invalid(json: &str) -> ValidationErrors {
        load(json).validate(today()).expect_err("expected errors")
    }

    #[test]
    fn adult() {
        let v = valid(include_str!("../testdata/adult.json"));
        assert_eq!(v.id.id_type, IdType::ResidentId);
        assert_eq!(v.id.as_str(), "11010519491231002X");
        assert_eq!(v.sex, Sex::Female);
        assert_eq!(v.birth_date, Date::new(1949, 12, 31).expect("date"));
        assert_eq!(v.age, 75);
        assert_eq!(v.nationality, Nationality::CHINA);
        assert_eq!(v.ethnicity.map(|e| e.name()), Some("汉族"));
        assert_eq!(v.birthplace.map(|b| b.to_bcd()), Some([0x11, 0x01, 0x05]));
        assert_eq!(v.id_validity.map(|v| v.to), Some(ValidUntil::LongTerm));
        assert_eq!(v.card_number.as_ref().map(CardNumber::as_str), Some("B00000019"));
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        assert!(v.guardian.is_none());
        load(include_str!("../testdata/adult.json")).account_opening_check().expect("nine elements");
    }

    #[test]
    fn minor_with_guardian() {
        let v = valid(include_str!("../testdata/minor.json"));
        assert_eq!(v.id.id_type, IdType::HouseholdRegister);
        assert_eq!(v.age, 10);
        assert_eq!(v.id_validity, None, "a household register has no validity");
        let g = v.guardian.expect("guardian");
        assert_eq!(g.name.as_str(), "王丽");
        assert_eq!(g.relation, "母亲");
        assert_eq!(g.id.sex, Some(Sex::Female));
        load(include_str!("../testdata/minor.json")).account_opening_check().expect("nine elements");
    }

    #[test]
    fn a_photo_is_a_plain_name_in_the_photo_directory() {
        for good in ["photos/zhang-san.jpg", "photos/张三.JPG", "photos/p0.png"] {
            assert!(photo_name(good).is_some(), "{good}");
        }
        for bad in [
            "../../../../etc/ssl/certs/ca-certificates.crt",
            "photos/../station.db",
            "photos/a/b.jpg",
            "photos/.hidden.jpg",
            "/etc/passwd",
            "photos/x.txt",
            "photos/x\u{0}.jpg",
            "zhang.jpg",
        ] {
            assert!(photo_name(bad).is_none(), "{bad}");
        }
        let mut a = load(include_str!("../testdata/adult.json"));
        a.photo = Some("../../../../etc/ssl/certs/ca-certificates.crt".into());
        let e = a.validate(Date::new(2026, 12, 4).expect("date")).expect_err("refused");
        assert!(e.has("photo", "photo-path"), "{e}");
    }

    #[test]
    fn infant_needs_no_photo() {
        let v = valid(include_str!("../testdata/infant.json"));
        assert_eq!(v.age, 3);
        assert_eq!(v.photo, None);
        // The same child at seven needs one.
        let at_seven = Date::new(2028, 9, 10).expect("date");
        let e = load(include_str!("../testdata/infant.json")).validate(at_seven).expect_err("photo");
        assert!(e.has("photo", "photo-required"), "{e}");
    }

    #[test]
    fn rare_character_name() {
        let v = valid(include_str!("../testdata/rare_name.json"));
        assert!(!crate::name::is_gbk('𠮷'), "the test character must really be outside GBK");
        assert!(v.name.needs_extension());
        let (f09, f4e) = v.name.encode_card_fields().expect("fits");
        assert_eq!(Name::decode_card_fields(&f09, &f4e).expect("decodes"), v.name);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn foreigner() {
        let v = valid(include_str!("../testdata/foreigner.json"));
        assert_eq!(v.nationality.as_str(), "DEU");
        assert_eq!(v.ethnicity, None);
        assert_eq!(v.birthplace, None);
        assert_eq!(v.name.script(), crate::name::Script::Latin);
        load(include_str!("../testdata/foreigner.json")).account_opening_check().expect("employer address");
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let e = invalid(include_str!("../testdata/bad_fields.json"));
        for (field, rule) in [
            ("holder.id_validity.to", "id-expired"),
            ("holder.name", "name-middle-dot"),
            ("holder.sex", "sex-matches-id"),
            ("holder.birth_date", "birth-date-matches-id"),
            ("holder.nationality", "nationality-code"),
            ("holder.ethnicity", "ethnicity-code"),
            ("holder.birthplace", "region-province"),
            ("contact.mobile", "mobile-format"),
            ("photo", "photo-required"),
            ("card_number", "card-number-check-character"),
        ] {
            assert!(e.has(field, rule), "missing {field} {rule} in:\n{e}");
        }
        assert_eq!(e.errors.len(), 10, "{e}");
        let text = e.to_string();
        assert_eq!(text.lines().count(), 10);
        assert!(text.lines().all(|l| l.contains(" [") && l.contains("]: ") && l.contains(" -> ")), "{text}");
    }

    #[test]
    fn bad_id_number() {
        let e = invalid(include_str!("../testdata/bad_id.json"));
        assert!(e.has("holder.id_number", "id-check-character"), "{e}");
        assert_eq!(e.errors.len(), 1, "{e}");
        assert!(!e.to_string().contains("110105194912310021"), "the number must not be echoed");
    }

    #[test]
    fn minor_without_guardian() {
        let e = invalid(include_str!("../testdata/bad_minor_no_guardian.json"));
        assert!(e.has("guardian", "guardian-required"), "{e}");
        assert_eq!(e.errors.len(), 1, "{e}");
    }

    #[test]
    fn guardian_must_be_an_adult_with_all_fields() {
        let e = invalid(include_str!("../testdata/bad_guardian.json"));
        assert!(e.has("guardian.id_number", "guardian-adult"), "{e}");
        assert!(e.has("guardian.relation", "required"), "{e}");
        assert_eq!(e.errors.len(), 2, "{e}");
    }

    #[test]
    fn guardian_cannot_be_the_holder() {
        let mut a = load(include_str!("../testdata/minor.json"));
        if let Some(g) = a.guardian.as_mut() {
            g.id_number = Some("110105201503080035".into());
        }
        let e = a.validate(today()).expect_err("self");
        assert!(e.has("guardian.id_number", "guardian-self"), "{e}");
        assert!(e.has("guardian.id_number", "guardian-adult"), "{e}");
    }

    #[test]
    fn guardian_with_passport_warns_that_age_is_unchecked() {
        let mut a = load(include_str!("../testdata/minor.json"));
        a.guardian = Some(Guardian {
            id_type: Some("foreign_passport".into()),
            id_number: Some("C01X00T47".into()),
            name: Some("ANNA MUELLER".into()),
            relation: Some("mother".into()),
        });
        let v = a.validate(today()).expect("valid");
        assert_eq!(v.warnings.iter().map(|w| w.rule).collect::<Vec<_>>(), ["guardian-age-unchecked"]);
        assert_eq!(v.warnings[0].field, "guardian.id_number");
    }

    #[test]
    fn household_register_only_under_16() {
        let e = invalid(include_str!("../testdata/bad_household_adult.json"));
        assert!(e.has("holder.id_type", "household-register-age"), "{e}");
        assert_eq!(e.errors.len(), 1, "{e}");
    }

    #[test]
    fn rare_name_too_long_for_the_extension() {
        let e = invalid(include_str!("../testdata/bad_rare_name_too_long.json"));
        assert!(e.has("holder.name", "name-extension-length"), "{e}");
        assert!(e.to_string().contains("rare-character service"), "{e}");
    }

    #[test]
    fn account_opening_elements() {
        let a = load(include_str!("../testdata/bad_no_account_elements.json"));
        let missing = a.account_opening_check().expect_err("missing");
        assert_eq!(
            missing.0,
            [
                AccountElement::Occupation,
                AccountElement::Address,
                AccountElement::Contact,
                AccountElement::IdValidity
            ]
        );
        assert!(missing.to_string().contains("occupation (职业)"), "{missing}");
        // Validation reports the same gaps, among others.
        let e = a.validate(today()).expect_err("invalid");
        for (field, rule) in [
            ("holder.occupation", "required"),
            ("contact.address", "address-required"),
            ("contact.mobile", "contact-required"),
            ("holder.id_validity.from", "required"),
            ("holder.id_validity.to", "required"),
        ] {
            assert!(e.has(field, rule), "missing {field} {rule} in:\n{e}");
        }
        let mut empty = Applicant::default();
        assert_eq!(empty.account_opening_check().expect_err("empty").0.len(), 9);
        // Nationality defaults to CHN only with a Chinese citizen's document.
        empty.holder.id_type = Some("foreign_passport".into());
        assert!(empty.account_opening_check().expect_err("empty").0.contains(&AccountElement::Nationality));
        empty.holder.id_type = Some("resident_id".into());
        assert!(!empty.account_opening_check().expect_err("empty").0.contains(&AccountElement::Nationality));
    }

    #[test]
    fn empty_applicant_lists_every_required_field() {
        let e = Applicant::default().validate(today()).expect_err("empty");
        assert_eq!(
            e.fields(),
            [
                "holder.id_type",
                "holder.id_number",
                "holder.id_validity.from",
                "holder.id_validity.to",
                "holder.name",
                "holder.sex",
                "holder.birth_date",
                "holder.nationality",
                "holder.occupation",
                "contact.address",
                "contact.mobile",
            ]
        );
    }

    #[test]
    fn nationality_must_fit_the_document() {
        let mut a = load(include_str!("../testdata/adult.json"));
        a.holder.nationality = Some("DEU".into());
        assert!(a
            .validate(today())
            .expect_err("DEU")
            .has("holder.nationality", "nationality-matches-id-type"));
        let mut f = load(include_str!("../testdata/foreigner.json"));
        f.holder.nationality = Some("CHN".into());
        assert!(f
            .validate(today())
            .expect_err("CHN")
            .has("holder.nationality", "nationality-matches-id-type"));
        f.holder.nationality = None;
        assert!(f.validate(today()).expect_err("none").has("holder.nationality", "required"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = serde_json::from_str::<Applicant>(include_str!("../testdata/bad_unknown_key.json"))
            .expect_err("misspelt key");
        assert!(e.to_string().contains("id_nubmer"), "{e}");
    }

    #[test]
    fn warnings_travel_with_a_valid_result() {
        let mut a = load(include_str!("../testdata/adult.json"));
        a.holder.birthplace = Some("440524".into());
        let v = a.validate(today()).expect("valid");
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(
            (v.warnings[0].field.as_str(), v.warnings[0].rule),
            ("holder.birthplace", "region-withdrawn")
        );
    }

    #[test]
    fn debug_masks_id_numbers() {
        let a = load(include_str!("../testdata/minor.json"));
        let text = format!("{a:?}");
        assert!(!text.contains("110105201503080035") && !text.contains("110105198205050028"), "{text}");
        assert!(text.contains("110105********0035"), "{text}");
        let v = a.validate(today()).expect("valid");
        let text = format!("{v:?}");
        assert!(!text.contains("110105201503080035") && !text.contains("110105198205050028"), "{text}");
    }

    fn signed(replacing: Option<&str>) -> Intake<'_> {
        Intake { replacing, signed_form: true }
    }

    #[test]
    fn the_full_fujian_form() {
        let a = load(include_str!("../testdata/full_form.json"));
        let v = a.validate_for(today(), &Rules::default(), &signed(Some("B00000027"))).expect("valid");
        let category = v.category.expect("category");
        assert_eq!((category.key(), category.name()), ("extremely-poor", "城乡居民基本医疗保险（特困人员）"));
        assert_eq!(v.agency.as_deref(), Some("石狮市医疗保险管理中心"));
        assert_eq!(v.contact.household_address.as_deref(), Some("福建省泉州市鲤城区中山路2号"));
        let previous = v.previous_card.expect("previous card");
        assert_eq!(previous.card_number.as_ref().map(CardNumber::as_str), Some("B00000027"));
        assert_eq!((previous.city.as_deref(), previous.consent_to_stop), (Some("泉州"), true));
        assert!(v.declaration);
        // The category by its name on the form is the same category.
        let mut by_name = a.clone();
        by_name.insurance.as_mut().expect("insurance").category =
            Some("城乡居民基本医疗保险（特困人员）".into());
        let v = by_name.validate_for(today(), &Rules::default(), &signed(None)).expect("valid");
        assert_eq!(v.category, Some(category));
    }

    #[test]
    fn an_old_file_without_the_forms_new_fields_still_reads_and_validates() {
        let a = load(include_str!("../testdata/foreigner.json"));
        assert_eq!((a.insurance.clone(), a.previous_card.clone(), a.declaration), (None, None, false));
        let v = a.validate(today()).expect("valid");
        assert_eq!((v.category, v.previous_card, v.declaration), (None, None, false));
        let json = serde_json::to_value(&a).expect("ser");
        for key in ["insurance", "previous_card", "declaration"] {
            assert!(json.get(key).is_none(), "an old file is written back as it was: {json}");
        }
    }

    #[test]
    fn a_signed_form_needs_the_declaration_and_a_category_from_the_list() {
        let mut a = load(include_str!("../testdata/full_form.json"));
        a.declaration = false;
        a.insurance = Some(Insurance { category: Some("vip".into()), agency: Some("x\u{7}".into()) });
        a.contact.household_address = Some("地".repeat(201));
        let e = a.validate_for(today(), &Rules::default(), &signed(None)).expect_err("refused");
        for (field, rule) in [
            ("declaration", "declaration-required"),
            ("insurance.category", "insurance-category"),
            ("insurance.agency", "text-control-character"),
            ("contact.household_address", "text-length"),
        ] {
            assert!(e.has(field, rule), "missing {field} {rule} in:\n{e}");
        }
        assert_eq!(e.errors.len(), 4, "{e}");
        let hint = &e.errors.iter().find(|x| x.rule == "insurance-category").expect("category").hint;
        assert!(hint.contains("employee") && hint.contains("extremely-poor"), "{hint}");
        // Unsigned (an application file), neither is asked for; a bad category is still refused.
        a.insurance = None;
        a.contact.household_address = None;
        a.validate(today()).expect("an application file needs neither");
        let e = a.validate_for(today(), &Rules::default(), &signed(None)).expect_err("signed");
        assert!(
            e.has("insurance.category", "required") && e.has("declaration", "declaration-required"),
            "{e}"
        );
    }

    #[test]
    fn a_reissue_needs_the_signed_consent_to_stop_the_card_it_replaces() {
        let a = load(include_str!("../testdata/full_form.json"));
        // No previous card on the form.
        let mut none = a.clone();
        none.previous_card = None;
        let e = none
            .validate_for(today(), &Rules::default(), &signed(Some("B00000027")))
            .expect_err("no consent");
        assert!(e.has("previous_card.consent_to_stop", "consent-to-stop"), "{e}");
        assert!(e.to_string().contains("B00000027"), "{e}");
        none.validate_for(today(), &Rules::default(), &signed(None)).expect("a first application needs none");
        // Named, not signed: refused whether or not the job is a re-issue.
        let mut unsigned = a.clone();
        unsigned.previous_card.as_mut().expect("card").consent_to_stop = false;
        for replacing in [Some("B00000027"), None] {
            let e =
                unsigned.validate_for(today(), &Rules::default(), &signed(replacing)).expect_err("unsigned");
            assert!(e.has("previous_card.consent_to_stop", "consent-to-stop"), "{e}");
            assert_eq!(e.errors.len(), 1, "{e}");
        }
        // Signed for another card than the one replaced.
        let e =
            a.validate_for(today(), &Rules::default(), &signed(Some("B00000035"))).expect_err("other card");
        assert!(e.has("previous_card.card_number", "previous-card-matches"), "{e}");
        // A bad card number is the card number's error.
        let mut typo = a.clone();
        typo.previous_card.as_mut().expect("card").card_number = Some("B00000028".into());
        let e = typo.validate_for(today(), &Rules::default(), &signed(None)).expect_err("typo");
        assert!(e.has("previous_card.card_number", "card-number-check-character"), "{e}");
    }

    #[test]
    fn json_round_trip() {
        for json in [
            include_str!("../testdata/full_form.json"),
            include_str!("../testdata/adult.json"),
            include_str!("../testdata/minor.json"),
            include_str!("../testdata/rare_name.json"),
            include_str!("../testdata/foreigner.json"),
        ] {
            let a = load(json);
            let again: Applicant =
                serde_json::from_str(&serde_json::to_string(&a).expect("ser")).expect("de");
            assert_eq!(again, a);
        }
    }
}
