//! The financial application in the issuance job: where each card's data-preparation file
//! comes from (the bank's DP files, or test data made here for simulated cards), the ISD's
//! master key and the transport key, checked against the card profile before any card is
//! touched so that a wrong key never costs a card its authentication tries.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use card_transport::CardTransaction;
use emv_cps::{DpFile, PersoParams, TransportDecrypt};
use firmware_profile::{ApplicationKind, Profile};
use issuance::FinancialHolder;
use secure_channel::{Algorithm, IsdSetup, Kcv, KeyProvider, SecretKey, SoftwareKeys};

/// Where each card's data-preparation file comes from.
pub enum DpSource {
    /// Built here from a test BIN and the test issuer keys: simulated cards only.
    Test {
        /// Issuer BIN.
        bin: String,
    },
    /// The bank's DP files, one per card, named `CARDNUMBER.json`.
    Directory(PathBuf),
}

/// What the job needs to personalise the financial application. The keys are behind their
/// traits: in memory (the simulators, `test`, hex files) or in a PKCS#11 token
/// (`[counter.financial.token]`), where they never leave it.
pub struct Financial {
    dp: DpSource,
    transport_key: Box<dyn TransportDecrypt + Send + Sync>,
    isd_keys: Box<dyn KeyProvider + Send + Sync>,
    params: PersoParams,
    /// The simulated bank that opens each card's account (the simulated counter only).
    sim_bank: Option<String>,
}

fn key_file(path: &str, algorithm: Algorithm, what: &str) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the {what} from {path}"))?;
    SecretKey::from_hex(algorithm, text.trim()).map_err(|e| anyhow::anyhow!("{path}: not a {what} ({e})"))
}

/// Whether this build may use the public test keys and test data: only a build that carries
/// the simulators. A counter's build refuses them, so a configuration copied from a test
/// machine can never put public keys on real cards.
const TEST_KEYS_ALLOWED: bool = cfg!(feature = "sim");

/// The GlobalPlatform default key (40..4F), the simulators' ISD master: public, in every
/// GlobalPlatform tool and test card.
const GP_DEFAULT_KEY: &str = "404142434445464748494A4B4C4D4E4F";

/// Refuses `"test"` for `what` (`setting` in `[counter.financial]`) in a build without the
/// simulators.
fn no_test_value(value: &str, setting: &str, what: &str, allowed: bool) -> Result<()> {
    if value == "test" && !allowed {
        bail!(
            "[counter.financial] {setting} = \"test\" uses {what}, public values for the simulators: \
             this build (without the simulators) never puts them on a card; give the bank's {setting}"
        );
    }
    Ok(())
}

/// Refuses a key read from `path` whose value is a public test value (`known`, by check
/// value: the key itself is never compared outside the key type), in a build without the
/// simulators.
fn not_a_test_key(kcv: Kcv, known: &[SecretKey], path: &str, what: &str, allowed: bool) -> Result<()> {
    if !allowed && known.iter().any(|k| k.kcv() == kcv) {
        bail!(
            "{path}: this {what} is a public test key (check value {kcv}): a counter never uses it; \
             load the bank's key (station keys import)"
        );
    }
    Ok(())
}

/// The public test values an ISD master key of `setup` must not have: the profile's [sim]
/// master and the GlobalPlatform default.
fn test_masters(setup: &IsdSetup, profile: &Profile) -> Vec<SecretKey> {
    let mut known: Vec<SecretKey> = setup.sim_master(profile).into_iter().collect();
    known.extend(SecretKey::from_hex(setup.algorithm(), GP_DEFAULT_KEY));
    known
}

/// Why the financial step failed, and whether it may simply run again (the link was lost
/// before the card changed: [`emv_cps::Error::lost_before_any_change`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinancialFailure {
    /// What failed, with the step.
    pub message: String,
    /// Nothing on the card changed: another attempt may succeed.
    pub again: bool,
}

impl FinancialFailure {
    fn once(message: String) -> FinancialFailure {
        FinancialFailure { message, again: false }
    }
}

impl std::fmt::Display for FinancialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Financial {
    /// From the `[counter.financial]` section, for cards of `profile` (whose `[isd]` says the
    /// secure channel, the key version and how the card keys follow from the master key).
    pub fn from_config(c: &crate::config::FinancialConfig, profile: &Profile) -> Result<Financial> {
        Financial::from_config_for(c, profile, TEST_KEYS_ALLOWED)
    }

    /// [`Financial::from_config`] for a build that may (`test_keys`) or may not use the test
    /// keys and data.
    fn from_config_for(
        c: &crate::config::FinancialConfig,
        profile: &Profile,
        test_keys: bool,
    ) -> Result<Financial> {
        no_test_value(
            &c.dp,
            "dp",
            "test data-preparation files signed with the test issuer keys",
            test_keys,
        )?;
        no_test_value(&c.transport_key, "transport_key", "the test DP transport key", test_keys)?;
        no_test_value(&c.isd_key, "isd_key", "the profile's test ISD master key", test_keys)?;
        if profile.application(ApplicationKind::Isd).is_none()
            || profile.application(ApplicationKind::PbocDebit).is_none()
        {
            bail!(
                "[counter.financial] is set but the cards' profile {} has no issuer security domain and debit \
                 application: use a financial profile or remove the section",
                profile.id
            );
        }
        let dp = match c.dp.as_str() {
            "test" => DpSource::Test { bin: c.bin.clone() },
            dir => {
                let dir = PathBuf::from(dir);
                anyhow::ensure!(
                    dir.is_dir(),
                    "the DP directory {} does not exist: mount the bank's DP share",
                    dir.display()
                );
                DpSource::Directory(dir)
            }
        };
        let setup = IsdSetup::from_profile(profile)?;
        let (transport_key, isd_keys): (
            Box<dyn TransportDecrypt + Send + Sync>,
            Box<dyn KeyProvider + Send + Sync>,
        ) = match &c.token {
            Some(token) => {
                let store = keystore::Keystore::open(&token.token_config()?)
                    .with_context(|| format!("[counter.financial.token] {}", token.label))?;
                let transport =
                    keystore::TransportKey::open(&store, &c.transport_key).with_context(|| {
                        format!("transport_key {:?} in token {}", c.transport_key, token.label)
                    })?;
                let in_token = format!("key {:?} in token {}", c.transport_key, token.label);
                let known = [emv_cps::test_transport_key()];
                not_a_test_key(transport.kcv()?, &known, &in_token, "DP transport key", test_keys)?;
                let in_token = format!("key {:?} in token {}", c.isd_key, token.label);
                let master = store.kcv(&c.isd_key).with_context(|| in_token.clone())?;
                not_a_test_key(
                    master,
                    &test_masters(&setup, profile),
                    &in_token,
                    "ISD master key",
                    test_keys,
                )?;
                let isd = keystore::TokenKeys::from_master(
                    &store,
                    setup.key_version,
                    setup.algorithm(),
                    &c.isd_key,
                    setup.diversification,
                )
                .with_context(|| format!("isd_key {:?} in token {}", c.isd_key, token.label))?;
                (Box::new(transport), Box::new(isd))
            }
            None => {
                let transport = match c.transport_key.as_str() {
                    "test" => emv_cps::test_transport_key(),
                    path => {
                        let key = key_file(path, Algorithm::Tdes, "DP transport key")?;
                        let known = [emv_cps::test_transport_key()];
                        not_a_test_key(key.kcv(), &known, path, "DP transport key", test_keys)?;
                        key
                    }
                };
                let isd = match c.isd_key.as_str() {
                    // The profile's [sim] test master: only simulator profiles carry one.
                    "test" => setup.sim_keys(profile)?,
                    path => {
                        let key = key_file(path, setup.algorithm(), "ISD master key")?;
                        let known = test_masters(&setup, profile);
                        not_a_test_key(key.kcv(), &known, path, "ISD master key", test_keys)?;
                        SoftwareKeys::from_master(setup.key_version, key, setup.diversification)
                    }
                };
                (Box::new(transport), Box::new(isd))
            }
        };
        // The parameters carry the check values of the master key the profile's cards expect:
        // the personalisation compares them before the card's first authentication.
        let params = PersoParams::for_profile(profile)?;
        Ok(Financial { dp, transport_key, isd_keys, params, sim_bank: None })
    }

    /// The DP file of `holder`'s card.
    pub fn dp_for(&self, holder: &FinancialHolder<'_>) -> Result<DpFile, String> {
        match &self.dp {
            DpSource::Test { bin } => {
                let mut card = emv_cps::TestCard::example();
                card.bin = bin.clone();
                card.holder_id = holder.ssn.to_string();
                // 5F20 is ASCII; the bank's own files carry the Pinyin, test data a placeholder.
                card.holder_name = "CARDHOLDER/".into();
                // Test data is encrypted under the test transport key: the configured key must
                // be that one (its check value is compared before the card is touched).
                emv_cps::build_test_dp(&card, &emv_cps::IssuerKeys::test(), &emv_cps::test_transport_key())
                    .map_err(|e| format!("building the test DP file: {e}"))
            }
            DpSource::Directory(dir) => {
                let path = dir.join(format!("{}.json", holder.card_number));
                let dp = read_dp(&path)?;
                dp.card.check_holder(holder.ssn).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(dp)
            }
        }
    }

    /// Personalises the card in `tx` with `holder`'s DP file: a ledger line (no PAN) and the
    /// account, the DP data's PAN. On the simulated counter the simulated bank opens the account
    /// now ([`Financial::with_sim_bank`]), as the real bank did when it prepared the data.
    pub fn personalise(
        &self,
        tx: &mut dyn CardTransaction,
        holder: &FinancialHolder<'_>,
    ) -> Result<issuance::FinancialDone, FinancialFailure> {
        let dp = self.dp_for(holder).map_err(FinancialFailure::once)?;
        let report =
            emv_cps::personalise(tx, &dp, self.transport_key.as_ref(), self.isd_keys.as_ref(), &self.params)
                .map_err(|e| FinancialFailure {
                    again: e.lost_before_any_change(),
                    message: e.to_string(),
                })?;
        if let Some(url) = &self.sim_bank {
            register_sim_account(url, holder, &dp.card.pan).map_err(FinancialFailure::once)?;
        }
        let names: Vec<&str> = dp.applications.iter().map(|a| a.name.as_str()).collect();
        let detail = format!(
            "{} ({} DGIs in {} STORE DATA of up to {} bytes)",
            names.join(", "),
            report.dgis,
            report.store_data,
            report.block_size
        );
        Ok(issuance::FinancialDone { detail, account: Some(dp.card.pan.clone()) })
    }

    /// The simulated counter's: each personalised card's account is opened at the simulated
    /// bank at `url` (`POST /v1/sim/accounts`).
    pub fn with_sim_bank(mut self, url: Option<String>) -> Financial {
        self.sim_bank = url;
        self
    }
}

/// The simulated counter's bank for cards that carry no financial application (the default
/// simulator profile): at the financial step each card's account is opened at the simulated
/// bank under the chosen bank's first BIN, numbered as `dp = "test"` numbers it
/// ([`emv_cps::test_pan`]), so the bank knows the card when it is activated. Nothing is stored
/// with the card: the activation asks the bank for the account, as for a card made elsewhere.
pub struct SimAccounts {
    url: String,
    /// Bank code to the BIN its accounts are opened under.
    bins: std::collections::HashMap<String, String>,
}

impl SimAccounts {
    /// The simulated bank at `url`, with the BINs of `registry`'s banks.
    pub fn new(url: String, registry: &bank::Registry) -> SimAccounts {
        let bins =
            registry.banks().iter().filter_map(|b| Some((b.code.clone(), b.bins.first()?.clone()))).collect();
        SimAccounts { url, bins }
    }

    /// Opens the account of `holder`'s card at the bank the person chose (none chosen: no
    /// account, the activation will say the bank is not recorded).
    pub fn open(&self, holder: &FinancialHolder<'_>) -> Result<(), String> {
        let Some(code) = holder.bank else { return Ok(()) };
        let bin =
            self.bins.get(code).ok_or_else(|| format!("bank {code} is not in the simulated bank list"))?;
        let pan = emv_cps::test_pan(bin, holder.ssn, 19).map_err(|e| e.to_string())?;
        register_sim_account(&self.url, holder, &pan)
    }
}

/// Opens `holder`'s account at the simulated bank: the chosen bank's, or the one of the
/// PAN's BIN in the built-in list.
fn register_sim_account(url: &str, holder: &FinancialHolder<'_>, pan: &str) -> Result<(), String> {
    let registry = bank::Registry::builtin();
    let code = holder
        .bank
        .map(str::to_string)
        .or_else(|| registry.bank_for_bin(pan).map(|b| b.code.clone()))
        .unwrap_or_else(|| "ICBC".into());
    let body = serde_json::json!({"card_number": holder.card_number, "bank_code": code, "pan": pan,
        "holder_name": holder.name, "id_number": holder.ssn});
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sim/accounts", url.trim_end_matches('/')))
        .json(&body)
        .send()
        .map_err(|e| format!("the simulated bank at {url}: {e}"))?;
    match answer.status().as_u16() {
        200 | 201 => Ok(()),
        s => Err(format!(
            "the simulated bank did not open the account of card {} (HTTP {s})",
            holder.card_number
        )),
    }
}

fn read_dp(path: &Path) -> Result<DpFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("no DP file {} ({e}): ask the bank's data preparation for this card", path.display())
    })?;
    DpFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(file: &str) -> Profile {
        Profile::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles").join(file))
            .expect("profile")
    }

    /// A build without the simulators refuses "test" for each setting and a key file holding
    /// a public test key (the DP transport key, the profile's ISD master, the GlobalPlatform
    /// default), naming the setting or the file; a bank's own keys pass.
    #[test]
    fn a_counters_build_refuses_the_test_keys_and_data() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = |name: &str, hex: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("{hex}\n")).expect("key file");
            path.display().to_string()
        };
        let bank_transport = key("transport.hex", "0123456789ABCDEFFEDCBA9876543210");
        let bank_master = key("master.hex", "8899AABBCCDDEEFF0011223344556677");
        let dp = dir.path().join("dp");
        std::fs::create_dir(&dp).expect("dp dir");
        let bank = crate::config::FinancialConfig {
            dp: dp.display().to_string(),
            bin: "621234".into(),
            isd_key: bank_master.clone(),
            transport_key: bank_transport,
            token: None,
        };
        let p = profile("ssc-3g-fin-sim.toml");
        let refused = |c: &crate::config::FinancialConfig| match Financial::from_config_for(c, &p, false) {
            Ok(_) => panic!("accepted {c:?}"),
            Err(e) => e.to_string(),
        };
        for (setting, c) in [
            ("dp", crate::config::FinancialConfig { dp: "test".into(), ..bank.clone() }),
            (
                "transport_key",
                crate::config::FinancialConfig { transport_key: "test".into(), ..bank.clone() },
            ),
            ("isd_key", crate::config::FinancialConfig { isd_key: "test".into(), ..bank.clone() }),
        ] {
            let e = refused(&c);
            assert!(
                e.contains(&format!("{setting} = \"test\"")) && e.contains("without the simulators"),
                "{e}"
            );
        }
        let public_transport = key("public-transport.hex", emv_cps::crypto::TEST_TRANSPORT_KEY);
        let e = refused(&crate::config::FinancialConfig {
            transport_key: public_transport.clone(),
            ..bank.clone()
        });
        assert!(e.contains(&public_transport) && e.contains("public test key"), "{e}");
        let gp_default = key("gp.hex", GP_DEFAULT_KEY);
        let e = refused(&crate::config::FinancialConfig { isd_key: gp_default.clone(), ..bank.clone() });
        assert!(e.contains(&gp_default) && e.contains("ISD master key is a public test key"), "{e}");
        assert!(!e.contains(GP_DEFAULT_KEY), "the key itself is never printed: {e}");
        assert!(Financial::from_config_for(&bank, &p, false).is_ok(), "a bank's own keys");
        let sim = crate::config::FinancialConfig {
            dp: "test".into(),
            bin: "621234".into(),
            isd_key: "test".into(),
            transport_key: "test".into(),
            token: None,
        };
        assert!(Financial::from_config_for(&sim, &p, true).is_ok(), "the simulators' build takes them");
    }

    fn holder<'a>(ssn: &'a str, card_number: &'a str) -> issuance::FinancialHolder<'a> {
        issuance::FinancialHolder { ssn, name: "张三", card_number, atr: &[], bank: None }
    }

    #[test]
    fn a_banks_dp_file_is_used_only_for_the_holder_it_was_prepared_for() {
        let dir = tempfile::tempdir().expect("tmp");
        let profile = Profile::load(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware-profiles/ssc-3g-fin-sim.toml"),
        )
        .expect("profile");
        let config = crate::config::FinancialConfig {
            dp: dir.path().display().to_string(),
            bin: "621234".into(),
            isd_key: "test".into(),
            transport_key: "test".into(),
            token: None,
        };
        let financial = Financial::from_config_for(&config, &profile, true).expect("financial");
        let card = emv_cps::TestCard::example();
        let mut dp =
            emv_cps::build_test_dp(&card, &emv_cps::IssuerKeys::test(), &emv_cps::test_transport_key())
                .expect("dp");
        let write = |number: &str, dp: &DpFile| {
            std::fs::write(
                dir.path().join(format!("{number}.json")),
                serde_json::to_string(dp).expect("json"),
            )
            .expect("write")
        };
        write("B00000019", &dp);
        let found = financial.dp_for(&holder(&card.holder_id, "B00000019")).expect("the holder's file");
        assert_eq!(found.card.pan, dp.card.pan);
        // The number went to someone else after a release: the file is not theirs.
        let e = financial.dp_for(&holder("440106198001010012", "B00000019")).expect_err("another holder");
        assert!(e.contains("prepared for another holder"), "{e}");
        dp.card.holder_ref = None;
        write("B00000027", &dp);
        let e = financial.dp_for(&holder(&card.holder_id, "B00000027")).expect_err("no holder named");
        assert!(e.contains("names no holder"), "{e}");
    }
}
