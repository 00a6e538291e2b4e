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
    /// Residence address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
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
    /// Things the operator should see that do not stop issuance.
    pub warnings: Vec<Warning>,
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
    /// Validates with the national [`Rules`]; see [`Applicant::validate_with`].
    pub fn validate(&self, today: Date) -> Result<Validated, ValidationErrors> {
        self.validate_with(today, &Rules::default())
    }

    /// Checks every field and every cross-field rule as of `today`, and reports all failures
    /// together. Cross-field rules: sex and birth date agree with the ID number; nationality
    /// agrees with the document type; a household register only under 16; a guardian under
    /// 16, whose own document validates and who is an adult; a photo from age 7.
    pub fn validate_with(&self, today: Date, rules: &Rules) -> Result<Validated, ValidationErrors> {
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

    #[test]
    fn json_round_trip() {
        for json in [
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
