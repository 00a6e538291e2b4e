//! The applicant for a social-security card, with validation that explains itself.
//!
//! [`Applicant`] is the JSON the station reads (`station personalise --applicant FILE.json`).
//! [`Applicant::validate`] checks every field and cross-field rule as of a given day (the
//! clock is never read here) and returns either [`Validated`] typed values or *all* the
//! problems at once, each a [`FieldError`] naming the field (JSON path), the rule, what is
//! wrong and what the operator should do. Things worth knowing that do not stop issuance (an
//! abolished county code in an old ID number) come back as [`Warning`]s.
//!
//! The value types can be used on their own: [`ResidentId`] (GB 11643: check character, real
//! birth date, known province, 15-digit upgrade; masked in Debug and Display), [`CardNumber`],
//! [`Name`] with its card encoding, the code tables [`Sex`], [`Ethnicity`], [`Nationality`],
//! [`RegionCode`] (GB/T 2260, shipped as data), [`IdType`] and [`IdValidity`].
//!
//! # Names on the card
//!
//! EF06 tag 09 holds the name in GBK, 30 bytes, 00-padded; tag 4E, 20 bytes, is the name
//! extension for characters GBK lacks. If every character is in GBK, tag 09 holds the GBK
//! bytes and tag 4E is all zero. Otherwise tag 09 holds the GBK bytes with a marker (`?` by
//! default, [`DEFAULT_MARKER`]; any printable GBK symbol can be chosen) for each character
//! outside GBK, and tag 4E holds the whole name in GB 18030, 00-padded. Reading prefers tag 4E
//! whenever it is not empty. A name that does not fit is refused with the limit and the remedy
//! (too long for tag 4E: the provincial rare-character service); nothing is ever dropped,
//! truncated or replaced silently. "In GBK" means as Windows code page 936 has it: see
//! [`name`] for the 99 GB 18030-2022 two-byte positions (䶮 among them) that
//! therefore go to the extension.
//!
//! # Example
//!
//! ```
//! use applicant::{Applicant, Date};
//!
//! let json = r#"{
//!   "holder": {
//!     "id_type": "resident_id", "id_number": "11010519491231002X",
//!     "id_validity": { "from": "2010-01-01", "to": "长期" },
//!     "name": "张三", "sex": "2", "ethnicity": "01", "birthplace": "110105",
//!     "birth_date": "1949-12-31", "occupation": "退休人员"
//!   },
//!   "contact": { "address": "北京市朝阳区建国路1号", "mobile": "13800138000" },
//!   "photo": "photos/zhang-san.jpg"
//! }"#;
//! let applicant: Applicant = serde_json::from_str(json).expect("well-formed JSON");
//! let today = Date::new(2025, 6, 1).expect("a real day");
//! let ok = applicant.validate(today).expect("valid applicant");
//! assert_eq!(ok.age, 75);
//! assert_eq!(format!("{:?}", ok.id), "DocumentId(resident_id 110105********002X)");
//! let (tag09, tag4e) = ok.name.encode_card_fields().expect("fits the card");
//! assert_eq!(&tag09[..4], &[0xD5, 0xC5, 0xC8, 0xFD]);
//! assert_eq!(tag4e, [0; 20]);
//! applicant.account_opening_check().expect("all nine elements");
//!
//! // A wrong sex code and a missing mobile are reported together, one line each.
//! let mut bad = applicant.clone();
//! bad.holder.sex = Some("1".into());
//! bad.contact.mobile = None;
//! let errors = bad.validate(today).expect_err("two problems");
//! assert!(errors.has("holder.sex", "sex-matches-id"));
//! assert!(errors.has("contact.mobile", "contact-required"));
//! assert_eq!(errors.to_string().lines().count(), 2);
//! ```
#![forbid(unsafe_code)]

mod applicant;
mod card_number;
mod codes;
mod date;
pub mod days;
mod document;
mod error;
mod id;
mod insurance;
pub mod name;
mod region;

pub use applicant::{
    photo_name, AccountElement, Applicant, Contact, Employer, Guardian, Holder, Insurance, Intake,
    MissingElements, PreviousCard, Rules, Validated, ValidatedGuardian, ValidatedPreviousCard, Validity,
};
pub use card_number::{CardNumber, CardNumberError};
pub use codes::{CodeError, Ethnicity, Nationality, Sex, ETHNICITIES};
pub use date::{Date, DateError};
pub use document::{DocumentId, IdType, IdValidity, ValidUntil, ValidityError};
pub use error::{Explain, FieldError, ValidationErrors, Warning};
pub use id::{gb11643_check_char, mask as mask_id, mask_in as mask_ids_in, IdError, ResidentId};
pub use insurance::{CategoryError, InsuranceCategory};
pub use name::{Name, NameError, Script, DEFAULT_MARKER, NAME_EXTENSION_LEN, NAME_FIELD_LEN};
/// The birthplace on the card (EF06 tag 0C) is a GB/T 2260 region code.
pub type Birthplace = RegionCode;

pub use region::{
    lookup as region_lookup, province_name, RegionCode, RegionError, RegionStatus, GB2260_REVISION, PROVINCES,
};
