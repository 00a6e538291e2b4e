//! The outreach kit's record-signing key (issue #25 item 4): an ECDSA P-256 key pair made in
//! the kit's own PKCS#11 token (a USB crypto token that travels with the kit; SoftHSM2 in
//! tests). Every record the kit writes offline is signed there, and the province refuses a
//! record its signature does not cover; the kit's passphrase opens its store, not this key.
//!
//! `[kit]` of the kit's station.toml names the key by its label and the token it is in:
//!
//! ```toml
//! [kit]
//! record_key = "kit-record"     # made by `station kit keys generate`
//!
//! [kit.token]
//! module = "/usr/lib/softhsm/libsofthsm2.so"   # the token vendor's PKCS#11 library
//! label = "KIT-1"
//! pin_file = "/etc/station/kit-token.pin"     # chmod 600; or pin_env = "STATION_KIT_TOKEN_PIN"
//! ```
//!
//! Only that table is read by the kit's commands that need the key (`kit keys`, `checkout`,
//! `make`, `handover`, `activate`, `fail`): a kit records a visit with its token and its store.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::config::TokenSettings;

/// `[kit]`: the record-signing key's label and its token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitSettings {
    /// The key's label in the token.
    #[serde(default = "default_record_key")]
    pub record_key: String,
    /// The kit's token (`[kit.token]`).
    pub token: TokenSettings,
}

/// The label `station kit keys generate` gives the key unless told otherwise.
pub const DEFAULT_RECORD_KEY: &str = "kit-record";

fn default_record_key() -> String {
    DEFAULT_RECORD_KEY.into()
}

/// The `[kit]` table of `config`, alone (the rest of the file is the station's); `None`
/// when the file has none.
pub fn settings(config: &Path) -> Result<Option<KitSettings>> {
    let path = config.display();
    let mut table: toml::Table =
        daemon::config::read_toml(config).with_context(|| format!("reading {path}"))?;
    table
        .remove("kit")
        .map(|t| t.try_into::<KitSettings>())
        .transpose()
        .with_context(|| format!("{path}: [kit]"))
}

/// What to do when the configuration names no kit token.
pub fn not_configured(config: Option<&Path>) -> String {
    format!(
        "{}: a kit signs every record in its own token: plug the kit's token in, name it in [kit.token] \
         (module, label, pin_file) and make its key once (station kit keys generate)",
        config
            .map_or("no --config (STATION_CONFIG)".to_string(), |p| format!("{} has no [kit]", p.display()))
    )
}

/// The kit's token, logged in.
pub fn token(settings: &KitSettings) -> Result<keystore::Keystore> {
    keystore::Keystore::open(&settings.token.token_config()?)
        .with_context(|| format!("the kit's token {}: is it plugged in?", settings.token.label))
}

/// The record-signing key `[kit]` names, in its token.
pub fn open(settings: &KitSettings) -> Result<keystore::RecordKey> {
    let store = token(settings)?;
    keystore::RecordKey::open(&store, &settings.record_key).with_context(|| {
        format!(
            "[kit] record_key {:?} in token {}: make it once with station kit keys generate",
            settings.record_key, settings.token.label
        )
    })
}

/// A short fingerprint of a public key for people to compare (the first 8 bytes of its SM3).
pub fn fingerprint(public: &[u8]) -> String {
    outreach::kit::sm3_hex(public)[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[kit]` alone is read (the rest of the file may be anything the station's is); the
    /// label defaults, a field the table does not know is refused, a file without it says
    /// what to do.
    #[test]
    fn the_kit_table_names_the_token_and_the_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.toml");
        std::fs::write(
            &path,
            "station = \"S-1\"\n[kit.token]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\nlabel = \"KIT-1\"\n\
             pin_file = \"/etc/station/kit.pin\"\n",
        )
        .expect("write");
        let kit = settings(&path).expect("read").expect("[kit]");
        assert_eq!((kit.record_key.as_str(), kit.token.label.as_str()), (DEFAULT_RECORD_KEY, "KIT-1"));
        std::fs::write(
            &path,
            "[kit]\nrecord_key = \"k\"\nkey = \"typo\"\n[kit.token]\nmodule = \"m\"\nlabel = \"l\"\n",
        )
        .expect("write");
        let e = format!("{:#}", settings(&path).expect_err("unknown field"));
        assert!(e.contains("[kit]") && e.contains("key"), "{e}");
        std::fs::write(&path, "station = \"S-1\"\n").expect("write");
        assert!(settings(&path).expect("read").is_none());
        assert!(not_configured(Some(&path)).contains("has no [kit]"));
        assert!(not_configured(None).contains("station kit keys generate"));
    }
}
