//! The station's data key (issue #25 item 4): 32 random bytes that open `station.db`
//! (SQLCipher) and, through a derived key, the photos and evidence kept beside it
//! (`archive::at_rest`). On disk it exists only wrapped, in `DATA_DIR/station.db.key` (0600,
//! written atomically), by an AES-256 key in the station's PKCS#11 token; the token unwraps it
//! at each start (AES-GCM inside the token, see `keystore::DataWrapKey`).
//!
//! `[database]` of station.toml names the wrapping key by its label; the token is
//! `[database.token]`, or the counter's `[counter.financial.token]` when it shares it:
//!
//! ```toml
//! [database]
//! wrap_key = "db-wrap"    # made by `station keys generate --label db-wrap --kind db-wrap`
//! ```
//!
//! Without `[database]` only a build with the simulators runs, with the simulators' wrapping
//! key (a public value in memory; the same file, the same code otherwise): every test and
//! `scripts/run` run an encrypted `station.db`. A counter's build refuses to start, and
//! refuses that public key in its token (by check value).
//!
//! The key file: three lines, `station.db.key v1`, `wrapping-key-kcv KCV` (which key wrapped
//! it, so that the wrong key is named as such), and `aes-256-gcm HEX` (nonce, wrapped key,
//! tag); the first two lines are the associated data. The data key itself is never printed,
//! logged, passed in argv or written anywhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use archive::at_rest::DataKey;
use secure_channel::{Algorithm, Kcv, SecretKey};
use serde::Deserialize;

use crate::config::TokenSettings;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "station.db.key";

const FORMAT: &str = "station.db.key v1";

/// `[database]`: the wrapping key's label, and its token when not the counter's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// The wrapping key's label in the token.
    pub wrap_key: String,
    /// The token (`[database.token]`); default: `[counter.financial.token]`.
    #[serde(default)]
    pub token: Option<TokenSettings>,
}

impl DatabaseSettings {
    /// The token the key is in: its own, else the counter's financial token.
    pub fn token<'a>(&'a self, counter_token: Option<&'a TokenSettings>) -> Result<&'a TokenSettings> {
        self.token.as_ref().or(counter_token).with_context(|| {
            format!(
                "[database] wrap_key = {:?} is a key in a token: name the token in [database.token] \
                 (module, label, pin_file) or [counter.financial.token]",
                self.wrap_key
            )
        })
    }
}

/// What wraps the data key: the token's key, or in a build with the simulators their public
/// key in memory. Both write `nonce || AES-256-GCM ciphertext || tag`.
pub trait KeyWrap: Send + Sync {
    /// `plain` wrapped, with associated data `aad`.
    fn wrap(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>>;
    /// What [`KeyWrap::wrap`] wrapped; `None` when it does not unwrap under this key.
    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>>;
    /// The wrapping key's check value (AES `E_K(01*16)`, first 3 bytes).
    fn kcv(&self) -> Kcv;
    /// Which key it is, for messages (never its value).
    fn describe(&self) -> String;
}

/// The simulators' wrapping key: public (it is in this source), AES-256, used in memory by a
/// build with the simulators when station.toml names no key.
const SIMULATORS_KEY: &str = "53494D2D44422D575241502D4B45592D312D5055424C49432D4E4F542D53454B";

fn simulators_key() -> SecretKey {
    SecretKey::from_hex(Algorithm::Aes, SIMULATORS_KEY).expect("the simulators' wrapping key is an AES key")
}

struct SimulatorsWrap {
    key: zeroize::Zeroizing<[u8; 32]>,
    kcv: Kcv,
}

impl KeyWrap for SimulatorsWrap {
    fn wrap(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        Ok(archive::at_rest::seal(&self.key, aad, plain)?)
    }
    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
        Ok(archive::at_rest::unseal(&self.key, aad, wrapped).ok())
    }
    fn kcv(&self) -> Kcv {
        self.kcv
    }
    fn describe(&self) -> String {
        format!("the simulators' public wrapping key, KCV {}", self.kcv)
    }
}

fn simulators_wrap() -> SimulatorsWrap {
    let value = simulators_key();
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    key.copy_from_slice(value.expose());
    SimulatorsWrap { key, kcv: value.kcv() }
}

/// The wrapping key in the token.
struct TokenWrap {
    key: keystore::DataWrapKey,
    token: String,
    kcv: Kcv,
}

impl KeyWrap for TokenWrap {
    fn wrap(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        Ok(self.key.wrap(aad, plain)?)
    }
    fn unwrap(&self, aad: &[u8], wrapped: &[u8]) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
        Ok(self.key.unwrap(aad, wrapped)?)
    }
    fn kcv(&self) -> Kcv {
        self.kcv
    }
    fn describe(&self) -> String {
        format!("key {:?} in token {}, KCV {}", self.key.label(), self.token, self.kcv)
    }
}

/// The wrapping key `[database]` names (`counter_token`: `[counter.financial.token]`, when
/// set), or, without `[database]`, the simulators' key in a build with them.
pub fn open(
    database: Option<&DatabaseSettings>,
    counter_token: Option<&TokenSettings>,
) -> Result<Arc<dyn KeyWrap>> {
    open_for(database, counter_token, crate::config::SIMULATORS)
}

/// [`open`] for a build that may (`simulators`) or may not use the simulators' key.
fn open_for(
    database: Option<&DatabaseSettings>,
    counter_token: Option<&TokenSettings>,
    simulators: bool,
) -> Result<Arc<dyn KeyWrap>> {
    let Some(database) = database else {
        if simulators {
            return Ok(Arc::new(simulators_wrap()));
        }
        bail!(
            "station.toml has no [database]: a counter's station.db and photos are encrypted under a data key \
             that a key in its token wraps. Make the key in the token (station keys generate --label db-wrap \
             --kind db-wrap) and name it: [database] wrap_key = \"db-wrap\""
        );
    };
    let token = database.token(counter_token)?;
    let store = keystore::Keystore::open(&token.token_config()?)
        .with_context(|| format!("the database key's token {}", token.label))?;
    let key = keystore::DataWrapKey::open(&store, &database.wrap_key)
        .with_context(|| format!("[database] wrap_key {:?} in token {}", database.wrap_key, token.label))?;
    let kcv = key.kcv()?;
    if !simulators && simulators_key().kcv() == kcv {
        bail!(
            "[database] wrap_key {:?} in token {} is the simulators' public wrapping key (check value {kcv}): \
             a counter never uses it; make the station's own (station keys generate --label NAME --kind db-wrap)",
            database.wrap_key,
            token.label
        );
    }
    Ok(Arc::new(TokenWrap { key, token: token.label.clone(), kcv }))
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

fn aad(kcv: Kcv) -> String {
    format!("{FORMAT}\nwrapping-key-kcv {kcv}\n")
}

/// The data key of the station whose data is in `data_dir`, unwrapped by `wrap` from
/// `station.db.key`; made (and its file written) when neither the file nor an encrypted
/// `station.db` exists yet. Each refusal says what to do.
pub fn unlock(data_dir: &Path, wrap: &dyn KeyWrap) -> Result<DataKey> {
    unlock_or_make(data_dir, wrap, true)
}

/// The data key of an encrypted `station.db` that a tool reads as records (`station compare
/// --archive`, `station payments prepare --archive`): unwrapped from the `station.db.key`
/// beside it by the wrapping key of the station's configuration (`STATION_CONFIG`), or in a
/// build with the simulators and no configuration, theirs. `None` for a plaintext file; no
/// key file is ever made here.
pub fn archive_key(archive: Option<&Path>) -> Result<Option<DataKey>> {
    let Some(path) = archive else { return Ok(None) };
    if !path.exists() || archive::local::is_plaintext_database(path) {
        return Ok(None);
    }
    let config = std::env::var_os("STATION_CONFIG")
        .map(|c| crate::config::StationConfig::load(Path::new(&c)))
        .transpose()?;
    let counter_token = config
        .as_ref()
        .and_then(|c| c.counter.as_ref())
        .and_then(|c| c.financial.as_ref())
        .and_then(|f| f.token.as_ref());
    let wrap = open(config.as_ref().and_then(|c| c.database.as_ref()), counter_token).with_context(|| {
        format!("{} is encrypted: its key is wrapped by the station's token", path.display())
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    unlock_or_make(dir, wrap.as_ref(), false).map(Some)
}

fn unlock_or_make(data_dir: &Path, wrap: &dyn KeyWrap, make: bool) -> Result<DataKey> {
    let path = key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => read_key_file(&path, &text, wrap),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !make => bail!(
            "{} is missing: an encrypted station.db is read with the key file made with it, beside it",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let db = data_dir.join("station.db");
            let encrypted = std::fs::metadata(&db).is_ok_and(|m| m.len() > 0)
                && !archive::local::is_plaintext_database(&db);
            if encrypted {
                bail!(
                    "{} is encrypted but {} is missing: without it station.db does not open. Restore \
                     {KEY_FILE} from the backup taken with station.db (and the token's wrapping key with it)",
                    db.display(),
                    path.display()
                );
            }
            let key = DataKey::generate()?;
            let wrapped = wrap.wrap(aad(wrap.kcv()).as_bytes(), key.bytes())?;
            let text = format!("{}aes-256-gcm {}\n", aad(wrap.kcv()), hex::encode(wrapped));
            daemon::files::private_dir(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            daemon::files::replace_file(&path, text.as_bytes(), 0o600)
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(file = %path.display(), wrap = %wrap.describe(), "data key made and kept wrapped");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn read_key_file(path: &Path, text: &str, wrap: &dyn KeyWrap) -> Result<DataKey> {
    let damaged = |why: &str| {
        anyhow::anyhow!(
            "{} is damaged ({why}): restore it from the backup taken with station.db",
            path.display()
        )
    };
    let mut lines = text.lines();
    if lines.next() != Some(FORMAT) {
        return Err(damaged(&format!("its first line is not {FORMAT:?}")));
    }
    let kcv = lines
        .next()
        .and_then(|l| l.strip_prefix("wrapping-key-kcv "))
        .and_then(|k| Kcv::from_hex(k).ok())
        .ok_or_else(|| damaged("no wrapping key check value"))?;
    let wrapped = lines
        .next()
        .and_then(|l| l.strip_prefix("aes-256-gcm "))
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| damaged("no wrapped key"))?;
    if kcv != wrap.kcv() {
        bail!(
            "{} was wrapped by the key with check value {kcv}, and this station's is {}: configure the \
             wrapping key that made it ([database] wrap_key and its token), or restore that key into the \
             token from its backup",
            path.display(),
            wrap.describe()
        );
    }
    let plain = wrap
        .unwrap(aad(kcv).as_bytes(), &wrapped)?
        .ok_or_else(|| damaged(&format!("it does not unwrap with {}", wrap.describe())))?;
    DataKey::from_bytes(&plain).ok_or_else(|| damaged("the key inside is not 32 bytes"))
}

/// Whether the data directory has a key file yet (doctor: "made at the first start").
pub fn key_file_exists(data_dir: &Path) -> bool {
    key_path(data_dir).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, wrap_key: &str) -> DatabaseSettings {
        DatabaseSettings {
            wrap_key: wrap_key.into(),
            token: Some(TokenSettings {
                module: keystore::SOFTHSM2_MODULE.into(),
                label: "S-DB".into(),
                pin_file: Some(dir.join("token.pin")),
                pin_env: None,
            }),
        }
    }

    /// Without `[database]` only a build with the simulators runs (their public key); a
    /// counter's build refuses that key in its token too, and takes the station's own, which
    /// unwraps in the token what the simulators' key of the same value wrapped in memory.
    #[test]
    fn the_simulators_key_only_in_their_build_and_the_stations_own_in_the_token() {
        let sim = open_for(None, None, true).expect("the simulators' key");
        assert!(sim.describe().contains("simulators' public wrapping key"), "{}", sim.describe());
        let e = open_for(None, None, false).err().expect("a counter's build").to_string();
        assert!(e.contains("no [database]") && e.contains("station keys generate"), "{e}");

        let dir = tempfile::tempdir().expect("tmp");
        let store = keystore::Keystore::open(
            &keystore::softhsm2_token(dir.path(), "S-DB", "2718").expect("a SoftHSM2 token"),
        )
        .expect("token");
        let value = hex::decode(SIMULATORS_KEY).expect("hex");
        let mask = vec![0x3C; 32];
        let other: Vec<u8> = value.iter().map(|b| b ^ 0x3C).collect();
        let components = [mask, other].map(|c| {
            let kcv = SecretKey::new(Algorithm::Aes, c.clone()).expect("key").kcv();
            keystore::Component::new(zeroize::Zeroizing::new(c), kcv)
        });
        store
            .import_components(
                "sim-wrap",
                keystore::KeyKind::Aes,
                keystore::KeyRole::DataWrap,
                &components,
                None,
            )
            .expect("ceremony");
        let e = open_for(Some(&settings(dir.path(), "sim-wrap")), None, false)
            .err()
            .expect("the public key in a counter's token")
            .to_string();
        assert!(e.contains("simulators' public wrapping key") && !e.contains(SIMULATORS_KEY), "{e}");
        let in_token = open_for(Some(&settings(dir.path(), "sim-wrap")), None, true).expect("sim build");
        let data = dir.path().join("data");
        let key = unlock(&data, sim.as_ref()).expect("made");
        assert_eq!(unlock(&data, in_token.as_ref()).expect("in the token").bytes(), key.bytes());

        // The station's own key, made in the token: the key file it wraps opens only with it.
        let kcv = store.generate_data_wrap_key("db-wrap").expect("generate");
        let own = open_for(Some(&settings(dir.path(), "db-wrap")), None, false).expect("the station's key");
        assert_eq!(own.describe(), format!("key \"db-wrap\" in token S-DB, KCV {kcv}"));
        let e = unlock(&data, own.as_ref()).expect_err("wrapped by another key").to_string();
        assert!(e.contains("was wrapped by the key with check value") && e.contains("db-wrap"), "{e}");
        let station = dir.path().join("station");
        let key = unlock(&station, own.as_ref()).expect("made");
        let text = std::fs::read_to_string(station.join(KEY_FILE)).expect("key file");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(station.join(KEY_FILE)).expect("meta").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert!(!text.contains(&hex::encode(key.bytes())), "only wrapped on disk");
        assert_eq!(unlock(&station, own.as_ref()).expect("again").bytes(), key.bytes());
        // A key file altered (its wrapped bytes), or gone while station.db is encrypted.
        let mut altered = text.clone();
        let last = altered.len() - 2;
        let flipped = if &altered[last..last + 1] == "0" { "1" } else { "0" };
        altered.replace_range(last..last + 1, flipped);
        std::fs::write(station.join(KEY_FILE), altered).expect("alter");
        let e = unlock(&station, own.as_ref()).expect_err("altered").to_string();
        assert!(e.contains("damaged") && e.contains("restore it from the backup"), "{e}");
        std::fs::write(station.join(KEY_FILE), &text).expect("restore");
        archive::local::LocalArchive::open(station.join("station.db"), "S1", &key).expect("db");
        std::fs::remove_file(station.join(KEY_FILE)).expect("lose the key file");
        let e = unlock(&station, own.as_ref()).expect_err("no key file").to_string();
        assert!(e.contains("station.db.key is missing") && e.contains("Restore"), "{e}");
        // The token named nowhere.
        let none = DatabaseSettings { wrap_key: "db-wrap".into(), token: None };
        let e = open_for(Some(&none), None, false).err().expect("no token").to_string();
        assert!(e.contains("[database.token]"), "{e}");
    }
}
