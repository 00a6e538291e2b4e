//! The station's ledger key (issue #25 item 3): each ledger entry carries the AES-CMAC of its
//! chain hash, computed and checked inside the station's PKCS#11 token, so whoever can write
//! `station.db` can recompute the plain SM3 chain but not the MACs.
//!
//! `[ledger]` of station.toml names the key by its label; the token is `[ledger.token]`, or
//! the counter's `[counter.financial.token]` when the ledger shares it:
//!
//! ```toml
//! [ledger]
//! mac_key = "ledger"      # made by `station keys generate --label ledger --kind ledger-mac`
//! ```
//!
//! Without `[ledger]` only a build with the simulators runs, with the simulators' key (a
//! public value in memory); a counter's build refuses to start, and refuses that public key
//! in its token as it refuses the other test keys (by check value).

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use archive::local::LedgerKey;
use secure_channel::{Algorithm, Kcv, SecretKey};
use serde::Deserialize;

use crate::config::TokenSettings;

/// `[ledger]`: the ledger MAC key's label, and its token when not the counter's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// The key's label in the token.
    pub mac_key: String,
    /// The token (`[ledger.token]`); default: `[counter.financial.token]`.
    #[serde(default)]
    pub token: Option<TokenSettings>,
}

impl LedgerSettings {
    /// The token the key is in: its own, else the counter's financial token.
    pub fn token<'a>(&'a self, counter_token: Option<&'a TokenSettings>) -> Result<&'a TokenSettings> {
        self.token.as_ref().or(counter_token).with_context(|| {
            format!(
                "[ledger] mac_key = {:?} is a key in a token: name the token in [ledger.token] \
                 (module, label, pin_file) or [counter.financial.token]",
                self.mac_key
            )
        })
    }
}

/// The simulators' ledger key: public (it is in this source), AES-128, used in memory by a
/// build with the simulators when station.toml names no key.
const SIMULATORS_KEY: &str = "4C45444745522D53494D2D4B45592D31";

fn simulators_key() -> SecretKey {
    SecretKey::from_hex(Algorithm::Aes, SIMULATORS_KEY).expect("the simulators' ledger key is an AES key")
}

/// The simulators' ledger key, in memory.
struct SimulatorsKey(SecretKey);

impl LedgerKey for SimulatorsKey {
    fn mac(&self, hash: &[u8]) -> Result<Vec<u8>, String> {
        self.0.cmac(hash).map(|t| t.to_vec()).map_err(|e| e.to_string())
    }
    fn verify(&self, hash: &[u8], tag: &[u8]) -> Result<bool, String> {
        Ok(self.mac(hash)? == tag)
    }
    fn describe(&self) -> String {
        let kcv = self.0.cmac_kcv().map_or_else(|e| e.to_string(), |k| k.to_string());
        format!("the simulators' public key, KCV {kcv}")
    }
}

/// The ledger key in the token: the MAC computed and checked there.
struct TokenKey {
    mac: keystore::LedgerMac,
    token: String,
    kcv: Kcv,
}

impl LedgerKey for TokenKey {
    fn mac(&self, hash: &[u8]) -> Result<Vec<u8>, String> {
        self.mac.mac(hash).map(|t| t.to_vec()).map_err(|e| e.to_string())
    }
    fn verify(&self, hash: &[u8], tag: &[u8]) -> Result<bool, String> {
        self.mac.verify(hash, tag).map_err(|e| e.to_string())
    }
    fn describe(&self) -> String {
        format!("key {:?} in token {}, KCV {}", self.mac.label(), self.token, self.kcv)
    }
}

/// The ledger key `[ledger]` names (`counter_token`: `[counter.financial.token]`, when set),
/// or, without `[ledger]`, the simulators' key in a build with them.
pub fn open(
    ledger: Option<&LedgerSettings>,
    counter_token: Option<&TokenSettings>,
) -> Result<Arc<dyn LedgerKey>> {
    open_for(ledger, counter_token, crate::config::SIMULATORS)
}

/// [`open`] for a build that may (`simulators`) or may not use the simulators' key.
fn open_for(
    ledger: Option<&LedgerSettings>,
    counter_token: Option<&TokenSettings>,
    simulators: bool,
) -> Result<Arc<dyn LedgerKey>> {
    let Some(ledger) = ledger else {
        if simulators {
            return Ok(Arc::new(SimulatorsKey(simulators_key())));
        }
        bail!(
            "station.toml has no [ledger]: a counter's ledger entries each carry a MAC with a key in its token. \
             Make the key in the token (station keys generate --label ledger --kind ledger-mac) and name it: \
             [ledger] mac_key = \"ledger\""
        );
    };
    let token = ledger.token(counter_token)?;
    let store = keystore::Keystore::open(&token.token_config()?)
        .with_context(|| format!("the ledger's token {}", token.label))?;
    let mac = keystore::LedgerMac::open(&store, &ledger.mac_key)
        .with_context(|| format!("[ledger] mac_key {:?} in token {}", ledger.mac_key, token.label))?;
    let kcv = mac.kcv()?;
    if !simulators && simulators_key().cmac_kcv()? == kcv {
        bail!(
            "[ledger] mac_key {:?} in token {} is the simulators' public ledger key (check value {kcv}): \
             a counter never uses it; make the station's own (station keys generate --label NAME --kind ledger-mac)",
            ledger.mac_key,
            token.label
        );
    }
    Ok(Arc::new(TokenKey { mac, token: token.label.clone(), kcv }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path, mac_key: &str) -> LedgerSettings {
        LedgerSettings {
            mac_key: mac_key.into(),
            token: Some(TokenSettings {
                module: keystore::SOFTHSM2_MODULE.into(),
                label: "S-TEST".into(),
                pin_file: Some(dir.join("token.pin")),
                pin_env: None,
            }),
        }
    }

    /// Without `[ledger]` only a build with the simulators runs (with their public key); a
    /// counter's build refuses that key in its token too, and takes the station's own, whose
    /// MACs are made and checked in the token.
    #[test]
    fn the_simulators_key_only_in_their_build_and_the_stations_own_in_the_token() {
        let sim = open_for(None, None, true).expect("the simulators' key");
        assert!(sim.describe().contains("simulators' public key"), "{}", sim.describe());
        let e = open_for(None, None, false).err().expect("a counter's build").to_string();
        assert!(e.contains("no [ledger]") && e.contains("station keys generate"), "{e}");

        let dir = tempfile::tempdir().expect("tmp");
        let store = keystore::Keystore::open(
            &keystore::softhsm2_token(dir.path(), "S-TEST", "2718").expect("a SoftHSM2 token"),
        )
        .expect("token");
        // The simulators' key, formed in the token by a ceremony: refused by a counter's build.
        let value = simulators_key();
        let mask = vec![0x3C; 16];
        let other: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&SIMULATORS_KEY[2 * i..2 * i + 2], 16).expect("hex") ^ 0x3C)
            .collect();
        let components = [mask, other].map(|c| {
            let kcv = SecretKey::new(Algorithm::Aes, c.clone()).and_then(|k| k.cmac_kcv()).expect("KCV");
            keystore::Component::new(zeroize::Zeroizing::new(c), kcv)
        });
        store
            .import_components(
                "sim-ledger",
                keystore::KeyKind::Aes,
                keystore::KeyRole::LedgerMac,
                &components,
                None,
            )
            .expect("ceremony");
        let e = open_for(Some(&settings(dir.path(), "sim-ledger")), None, false)
            .err()
            .expect("the public key in a counter's token")
            .to_string();
        assert!(e.contains("simulators' public ledger key") && !e.contains(SIMULATORS_KEY), "{e}");
        let in_token = open_for(Some(&settings(dir.path(), "sim-ledger")), None, true).expect("sim build");
        let hash = [7u8; 32];
        assert_eq!(in_token.mac(&hash).expect("token"), value.cmac(&hash).expect("memory").to_vec());

        // The station's own key, made in the token: its MACs verify there, another key's do not.
        let kcv = store.generate_ledger_key("ledger").expect("generate");
        let key = open_for(Some(&settings(dir.path(), "ledger")), None, false).expect("the station's key");
        assert_eq!(key.describe(), format!("key \"ledger\" in token S-TEST, KCV {kcv}"));
        let tag = key.mac(&hash).expect("mac");
        assert!(key.verify(&hash, &tag).expect("verify"));
        assert!(!key.verify(&hash, &sim.mac(&hash).expect("sim")).expect("verify"));
        // The token named nowhere.
        let none = LedgerSettings { mac_key: "ledger".into(), token: None };
        let e = open_for(Some(&none), None, false).err().expect("no token").to_string();
        assert!(e.contains("[ledger.token]"), "{e}");
    }
}
