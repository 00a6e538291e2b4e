//! [`Banks`]: the station's one [`BankCardSystem`], sending each card to the card system of its
//! bank. A station at a bank's branch reaches that bank's system (or a provincial hub that
//! fronts several); a card of a bank it does not reach is [`BankError::NoSystem`]: the holder
//! activates it at that bank (the seeds: activation at the card's bank).
//!
//! The `[counter.bank]` section of `station.toml` ([`BankConfig`]):
//!
//! ```toml
//! [counter.bank]
//! banks_file = "banks-fujian.toml"   # the province's list; default: the list shipped here
//! max_photo_age_seconds = 300        # RULE 3: the photo is taken at that moment
//!
//! [[counter.bank.system]]
//! banks = ["ICBC"]
//! url = "https://cards.icbc.example:8443"
//! ca = "bank/icbc-ca.pem"
//! client_cert = "bank/S-0101.pem"
//! client_key = "bank/S-0101.key"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::http::{SetupError, SystemConfig};
use crate::request::DEFAULT_MAX_PHOTO_AGE_SECONDS;
use crate::{
    AccountInfo, Activation, ActivationRequest, Bank, BankCardSystem, BankError, CardRef, Registry,
    RegistryError,
};

/// The `[counter.bank]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    /// The province's bank list; default [`Registry::builtin`].
    #[serde(default)]
    pub banks_file: Option<PathBuf>,
    /// The oldest photo an activation accepts, in seconds.
    #[serde(default = "default_max_photo_age")]
    pub max_photo_age_seconds: u64,
    /// The card systems this station reaches.
    #[serde(default, rename = "system")]
    pub systems: Vec<SystemConfig>,
}

fn default_max_photo_age() -> u64 {
    DEFAULT_MAX_PHOTO_AGE_SECONDS
}

impl BankConfig {
    /// Relative paths are `dir`'s (the configuration file's directory).
    pub fn resolve(&mut self, dir: &Path) {
        if let Some(p) = self.banks_file.as_mut().filter(|p| p.is_relative()) {
            *p = dir.join(&*p);
        }
        for s in &mut self.systems {
            s.resolve(dir);
        }
    }

    /// The bank list it names.
    pub fn registry(&self) -> Result<Registry, RegistryError> {
        match &self.banks_file {
            Some(path) => Registry::load(path),
            None => Ok(Registry::builtin()),
        }
    }

    /// The list and a client of each system; every file is read now, so a wrong one stops the
    /// start with what to change. Plain `http://` only when `simulators`.
    pub fn open(&self, simulators: bool) -> Result<Banks, SetupError> {
        let mut banks = Banks::new(self.registry()?);
        for s in &self.systems {
            let codes: Vec<&str> = s.banks.iter().map(String::as_str).collect();
            banks = banks.with_system(&s.url, &codes, s.client(simulators, self.max_photo_age_seconds)?)?;
        }
        Ok(banks)
    }
}

/// The bank list and the card systems, each serving some of its banks.
pub struct Banks {
    registry: Registry,
    systems: Vec<(Vec<String>, Box<dyn BankCardSystem>)>,
}

impl Banks {
    /// No system yet.
    pub fn new(registry: Registry) -> Banks {
        Banks { registry, systems: Vec::new() }
    }

    /// Adds `system` (named `name` in errors) for the banks of `codes`: each must be in the
    /// list and served by no other system.
    pub fn with_system(
        mut self,
        name: &str,
        codes: &[&str],
        system: impl BankCardSystem + 'static,
    ) -> Result<Banks, SetupError> {
        for code in codes {
            if self.list_bank(code).is_none() {
                let known =
                    self.registry.banks().iter().map(|b| b.code.as_str()).collect::<Vec<_>>().join(", ");
                return Err(SetupError::UnknownBank { url: name.into(), code: code.to_string(), known });
            }
            if self.serves(code) {
                return Err(SetupError::TwiceServed(code.to_string()));
            }
        }
        self.systems.push((codes.iter().map(ToString::to_string).collect(), Box::new(system)));
        Ok(self)
    }

    /// The bank list.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether a system here serves the bank of `code`.
    pub fn serves(&self, code: &str) -> bool {
        self.systems.iter().any(|(codes, _)| codes.iter().any(|c| c == code))
    }

    fn list_bank(&self, code: &str) -> Option<&Bank> {
        self.registry.banks().iter().find(|b| b.code == code)
    }

    /// The system of the bank of `code`.
    fn system(&self, code: &str) -> Result<&dyn BankCardSystem, BankError> {
        let Some(bank) = self.list_bank(code) else {
            return Err(BankError::Config(format!(
                "bank code {code} is not in the bank list (banks_file): the card's bank must be one of the list's codes"
            )));
        };
        self.systems
            .iter()
            .find(|(codes, _)| codes.iter().any(|c| c == code))
            .map(|(_, s)| s.as_ref())
            .ok_or_else(|| BankError::NoSystem { bank: bank.to_string() })
    }
}

impl BankCardSystem for Banks {
    fn activate(&self, request: &ActivationRequest) -> Result<Activation, BankError> {
        let system = self.system(&request.bank_code)?;
        if let Some(owner) = self.registry.bank_for_bin(request.pan.expose()) {
            if owner.code != request.bank_code {
                return Err(BankError::Protocol(format!(
                    "card {} carries a card number of {owner} but is recorded at {}: check the card's bank in its record",
                    request.card_number, request.bank_code
                )));
            }
        }
        system.activate(request)
    }

    fn account(&self, card: &CardRef) -> Result<AccountInfo, BankError> {
        self.system(&card.bank_code)?.account(card)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use applicant::{CardNumber, IdType, ValidUntil};

    use super::*;
    use crate::*;

    /// Answers every activation, recording the cards asked about.
    #[derive(Default)]
    struct Yes(Mutex<Vec<String>>);

    impl BankCardSystem for Yes {
        fn activate(&self, r: &ActivationRequest) -> Result<Activation, BankError> {
            self.0.lock().expect("lock").push(r.card_number.to_string());
            Ok(Activation {
                card_number: r.card_number.clone(),
                bank_code: r.bank_code.clone(),
                account: AccountNumber::parse(r.pan.expose()).expect("account"),
                status: ActivationStatus::Activated,
                reference: "R1".into(),
                activated_at: 0,
                replayed: false,
            })
        }
        fn account(&self, c: &CardRef) -> Result<AccountInfo, BankError> {
            Err(BankError::Refused { code: RefusalCode::UnknownCard, reason: c.card_number.to_string() })
        }
    }

    fn request(bank: &str, pan: &str) -> ActivationRequest {
        ActivationRequest {
            request_id: ActivationKey::new("S-0101", "a1").expect("key"),
            station: "S-0101".into(),
            operator: "op1".into(),
            bank_code: bank.into(),
            card_number: CardNumber::parse("B00000019").expect("card"),
            pan: Pan::parse(pan).expect("pan"),
            holder: Holder {
                name: "张三".into(),
                id_type: IdType::ResidentId,
                id_number: IdNumber::parse("11010519491231002X").expect("id"),
            },
            face_to_face: FaceToFace {
                holder_present: true,
                id_document_checked: true,
                id_valid_until: ValidUntil::LongTerm,
                photo: None,
            },
        }
    }

    /// A Luhn-valid number under `bin`.
    fn pan(bin: &str) -> String {
        (0..10)
            .map(|d| format!("{bin}000000000000{d}"))
            .find(|p| Pan::parse(p).is_ok())
            .expect("a check digit")
    }

    #[test]
    fn each_card_goes_to_its_banks_system() {
        let banks =
            Banks::new(Registry::builtin()).with_system("icbc", &["ICBC"], Yes::default()).expect("icbc");
        let a = banks.activate(&request("ICBC", &pan("621226"))).expect("ICBC's card");
        assert_eq!(a.reference, "R1");
        let e = banks.activate(&request("ABC", &pan("622848"))).expect_err("ABC has no system here");
        assert_eq!(e, BankError::NoSystem { bank: "农业银行 (ABC)".into() });
        assert_eq!(e.kind(), ErrorKind::TellHolder);
        let e = banks.activate(&request("ICBC", &pan("622848"))).expect_err("an ABC number recorded at ICBC");
        assert!(matches!(&e, BankError::Protocol(m) if m.contains("农业银行 (ABC)")), "{e}");
        assert!(banks.activate(&request("ICBC", &pan("621234"))).is_ok(), "a BIN the list does not know");
        let e = banks.activate(&request("NOPE", &pan("621226"))).expect_err("not in the list");
        assert!(matches!(e, BankError::Config(_)), "{e}");
        let card =
            CardRef { card_number: CardNumber::parse("B00000019").expect("card"), bank_code: "CCB".into() };
        assert!(matches!(banks.account(&card), Err(BankError::NoSystem { .. })));
    }

    #[test]
    fn systems_name_listed_banks_once() {
        let e = Banks::new(Registry::builtin())
            .with_system("x", &["XYZ"], Yes::default())
            .err()
            .expect("unknown");
        assert!(e.to_string().contains("ICBC, ABC"), "{e}");
        let e = Banks::new(Registry::builtin())
            .with_system("a", &["ICBC"], Yes::default())
            .and_then(|b| b.with_system("b", &["ABC", "ICBC"], Yes::default()))
            .err()
            .expect("twice");
        assert!(matches!(e, SetupError::TwiceServed(ref c) if c == "ICBC"), "{e}");
    }

    #[test]
    fn the_section_reads_and_opens() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("banks.toml"), include_str!("../data/banks.toml")).expect("write");
        let text = r#"
            banks_file = "banks.toml"
            [[system]]
            banks = ["ICBC", "ABC"]
            url = "http://127.0.0.1:8792"
        "#;
        let mut c: BankConfig = toml::from_str(text).expect("toml");
        c.resolve(dir.path());
        assert_eq!(c.banks_file.as_deref(), Some(dir.path().join("banks.toml").as_path()));
        assert_eq!(c.max_photo_age_seconds, 300);
        let banks = c.open(true).expect("simulators");
        assert!(banks.serves("ABC") && !banks.serves("CCB"));
        assert!(matches!(c.open(false), Err(SetupError::PlainHttp)));
        let default: BankConfig = toml::from_str("").expect("empty section");
        assert_eq!(default.registry().expect("builtin"), Registry::builtin());
        let missing = BankConfig { banks_file: Some(dir.path().join("nope.toml")), ..default };
        assert!(matches!(missing.open(true), Err(SetupError::Registry(_))));
    }
}
