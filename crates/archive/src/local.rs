//! The station's local archive in SQLite (the embedded default): persons, applications,
//! cards and the ledger. WAL journal, foreign keys on, migrations numbered in
//! `migrations/local-*.sql` and recorded in `PRAGMA user_version`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::{now, ArchiveError, CardStatus};

/// The migrations, in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/local-0001.sql"),
    include_str!("../migrations/local-0002.sql"),
    include_str!("../migrations/local-0003.sql"),
    include_str!("../migrations/local-0004.sql"),
    include_str!("../migrations/local-0005.sql"),
    include_str!("../migrations/local-0006.sql"),
    include_str!("../migrations/local-0007.sql"),
    include_str!("../migrations/local-0008.sql"),
    include_str!("../migrations/local-0009.sql"),
    include_str!("../migrations/local-0010.sql"),
];

fn store_err(e: rusqlite::Error) -> ArchiveError {
    ArchiveError::Store(e.to_string())
}

/// An application taken for an agent site ([`LocalArchive::site_applications`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteApplication {
    /// The application.
    pub application_id: i64,
    /// The site's id in `[[sites]]`.
    pub site: String,
    /// Its status (`open` ... `made`, `issued`).
    pub status: String,
    /// Its card, once the province allocated one.
    pub card_number: Option<String>,
    /// When it was taken (Unix seconds).
    pub created_at: i64,
    /// The holder's name (mask it before showing).
    pub name: String,
    /// The applicant form (JSON): the contact phone is there.
    pub data: String,
}

/// An application's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationStatus {
    /// Data collected.
    Open,
    /// Identity verified.
    Verified,
    /// Person claimed at the province.
    Claimed,
    /// Chip written and read back.
    Personalised,
    /// Face printed.
    Printed,
    /// The card is made and waits for its holder in stock (no longer open: the card is live).
    Made,
    /// Handed over.
    Issued,
    /// Given up (see `failure`).
    Failed,
    /// Withdrawn.
    Cancelled,
}

impl ApplicationStatus {
    fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Open => "open",
            ApplicationStatus::Verified => "verified",
            ApplicationStatus::Claimed => "claimed",
            ApplicationStatus::Personalised => "personalised",
            ApplicationStatus::Printed => "printed",
            ApplicationStatus::Made => "made",
            ApplicationStatus::Issued => "issued",
            ApplicationStatus::Failed => "failed",
            ApplicationStatus::Cancelled => "cancelled",
        }
    }
}

/// A person as the station records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    /// Resident ID number.
    pub ssn: String,
    /// Name.
    pub name: String,
    /// `1` or `2`.
    pub sex: Option<String>,
    /// YYYYMMDD.
    pub birth_date: Option<String>,
}

/// A card the station made, with its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRow {
    /// Card number.
    pub card_number: String,
    /// The holder's resident ID number (mask it before showing or logging).
    pub ssn: String,
    /// The holder's name.
    pub name: String,
    /// Status.
    pub status: CardStatus,
    /// Bank of the financial account, when known.
    pub bank: Option<String>,
    /// The financial account the bank opened for the card (the card's PAN from the bank's DP
    /// data, or the bank's answer), when known: whole here; mask it before showing or logging.
    pub account: Option<String>,
    /// The application it was made for.
    pub application_id: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last status change.
    pub updated_at: i64,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// Position.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Station.
    pub station: String,
    /// Operator.
    pub operator: String,
    /// Application, if any.
    pub application_id: Option<i64>,
    /// Card, if any.
    pub card_number: Option<String>,
    /// What happened (`card.personalised`, `card.issued`, ...).
    pub event: String,
    /// Details (JSON).
    pub detail: String,
    /// Hash of the entry before.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
    /// The MAC of `hash` under the station's ledger key (hex); `None` for entries written
    /// before the station had one.
    pub mac: Option<String>,
}

/// The station's ledger key (issue #25): each entry's MAC over its chain hash. In the
/// station's PKCS#11 token, where the MAC is computed and checked and the key never leaves; a
/// key in memory only as the simulators' (a build with them).
pub trait LedgerKey: Send + Sync {
    /// The MAC of an entry's chain hash (its 32 bytes).
    fn mac(&self, hash: &[u8]) -> Result<Vec<u8>, String>;
    /// True when `tag` is the MAC of `hash`.
    fn verify(&self, hash: &[u8], tag: &[u8]) -> Result<bool, String>;
    /// What names the key in messages: where it is, its label and check value (never a value).
    fn describe(&self) -> String;
}

/// What [`LocalArchive::check_ledger`] found in a ledger that holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerCheck {
    /// Entries, their chain checked.
    pub entries: usize,
    /// The first entry carrying a MAC (every later one carries one), if any.
    pub keyed_from: Option<i64>,
    /// Whether the MACs were checked: with the station's key only. Names the key.
    pub key: Option<String>,
}

/// One group of [`LocalArchive::stats`]: what the ledger records on one day (China time), by one
/// operator, for the cards of one agent site (`None`: taken at the station).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsRow {
    /// The day, `YYYY-MM-DD`, China time (UTC+8).
    pub day: String,
    /// The operator the ledger names.
    pub operator: String,
    /// The agent site of the card's application.
    pub site: Option<String>,
    /// Cards made here (`card.made`).
    pub made: u64,
    /// Cards made elsewhere taken in (`card.received`).
    pub received: u64,
    /// Cards handed over (`card.handed_over`).
    pub issued: u64,
    /// Cards put in stock (`card.stocked`).
    pub stocked: u64,
    /// Cards activated (`card.activated`).
    pub activated: u64,
    /// Cards spoiled in the making, to the reject box (`card.rejected`).
    pub spoiled: u64,
}

/// The cards of one site as they stand now, for [`LocalArchive::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SiteStock {
    /// The agent site of the card's application (`None`: taken at the station).
    pub site: Option<String>,
    /// Made (or received), not handed over, with a storage place in the ledger.
    pub in_stock: u64,
    /// Dormant as [`LocalArchive::dormant_cards`] counts them, with the same threshold.
    pub dormant: u64,
}

/// The station's statistics for the bureau ([`LocalArchive::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// The ledger's events per day, operator and site, in that order.
    pub rows: Vec<StatsRow>,
    /// Stock and dormant cards per site now (the station's own first).
    pub stock: Vec<SiteStock>,
}

/// A ledger entry to append.
#[derive(Debug, Clone, Copy)]
pub struct LedgerRecord<'a> {
    /// Who acted.
    pub operator: &'a str,
    /// The application.
    pub application_id: Option<i64>,
    /// The card.
    pub card_number: Option<&'a str>,
    /// What happened.
    pub event: &'a str,
    /// Details (no keys, PINs or full ID numbers).
    pub detail: &'a serde_json::Value,
}

/// The hash chain's start.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry's chain hash: SM3 over the previous entry's hash and the entry's fields (public:
/// an auditor's tool, or a test, recomputes a chain with it).
pub fn entry_hash(prev: &str, e: &LedgerEntry) -> String {
    let canonical = serde_json::json!([
        e.seq,
        e.at,
        e.station,
        e.operator,
        e.application_id,
        e.card_number,
        e.event,
        e.detail
    ])
    .to_string();
    let mut data = prev.as_bytes().to_vec();
    data.extend_from_slice(canonical.as_bytes());
    card_crypto::sm3(&data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A chain hash (hex) as its bytes, for the MAC.
fn hash_bytes(seq: i64, hash: &str) -> Result<Vec<u8>, ArchiveError> {
    unhex(hash).filter(|b| b.len() == 32).ok_or_else(|| altered(seq, "its hash is not an SM3 hash"))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| text.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn altered(seq: i64, why: &str) -> ArchiveError {
    ArchiveError::Store(format!(
        "ledger entry {seq} is not the one recorded ({why}): the ledger was altered; keep station.db for the auditors"
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The local archive.
pub struct LocalArchive {
    conn: Mutex<Connection>,
    station: String,
    key: Option<std::sync::Arc<dyn LedgerKey>>,
    files: Option<crate::at_rest::FileKey>,
    migrated: bool,
}

/// SQLCipher's settings, set at every open rather than left to the library's defaults (which a
/// later SQLCipher may change): SQLCipher 4's, stated. The key is raw (`x'...'`), so the KDF
/// settings only say what a passphrase would get; the page size and the HMAC are what count.
const CIPHER_SETTINGS: &[(&str, &str)] = &[
    ("cipher_page_size", "4096"),
    ("kdf_iter", "256000"),
    ("cipher_hmac_algorithm", "HMAC_SHA512"),
    ("cipher_kdf_algorithm", "PBKDF2_HMAC_SHA512"),
    ("cipher_plaintext_header_size", "0"),
];

/// The first 16 bytes of a plaintext SQLite database.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether the file at `path` is a plaintext SQLite database (false when absent or empty).
pub fn is_plaintext_database(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == SQLITE_HEADER
}

/// Keys connection `conn` (schema `schema`: `main` or an attached database) with `key` and
/// SQLCipher's settings; nothing is read yet.
fn apply_key(
    conn: &Connection,
    schema: rusqlite::DatabaseName<'_>,
    key: &crate::at_rest::DataKey,
) -> rusqlite::Result<()> {
    conn.pragma_update(Some(schema), "key", key.sqlcipher_literal().as_str())?;
    for (pragma, value) in CIPHER_SETTINGS {
        conn.pragma_update(Some(schema), pragma, value)?;
    }
    Ok(())
}

fn path_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn wrong_key(path: &Path) -> ArchiveError {
    let name = path_name(path);
    ArchiveError::Store(format!(
        "{} does not open with this station's data key ({name}.key): it is another database \
         (swapped or another station's), or {name}.key is not the one made with it. Restore {name} \
         and {name}.key together from the same backup; keep the file found for the auditors",
        path.display()
    ))
}

/// Opens `path` (which exists, encrypted) with `key`, or says that the key is not its.
fn open_keyed(path: &Path, key: &crate::at_rest::DataKey) -> Result<Connection, ArchiveError> {
    let conn = crate::open_private(path).map_err(store_err)?;
    apply_key(&conn, rusqlite::DatabaseName::Main, key).map_err(store_err)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => Ok(conn),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::NotADatabase => {
            Err(wrong_key(path))
        }
        Err(e) => Err(store_err(e)),
    }
}

/// Encrypts the plaintext database at `path` with `key` in place: exported into a temporary
/// file beside it (its own WAL checkpointed first, so nothing is left behind in it), that
/// file synced and renamed over it, the directory synced. A crash leaves either the plaintext
/// database whole (and the temporary file, removed at the next try) or the encrypted one.
fn encrypt_in_place(path: &Path, key: &crate::at_rest::DataKey) -> Result<(), ArchiveError> {
    const ENCRYPTED: rusqlite::DatabaseName<'static> = rusqlite::DatabaseName::Attached("encrypted");
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.encrypting", path_name(path)));
    let _ = std::fs::remove_file(&tmp);
    // Created private first: SQLite would create it with the umask's mode.
    drop(crate::open_private(&tmp).map_err(store_err)?);
    let tmp_text = tmp.to_str().ok_or_else(|| {
        ArchiveError::Store(format!("{}: the data directory's path is not UTF-8", dir.display()))
    })?;
    let exported = (|| -> rusqlite::Result<()> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        conn.execute("ATTACH DATABASE ?1 AS encrypted KEY ''", [tmp_text])?;
        apply_key(&conn, ENCRYPTED, key)?;
        conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        // sqlcipher_export copies the schema and the rows, not the header's user_version.
        conn.pragma_update(Some(ENCRYPTED), "user_version", version)?;
        conn.execute("DETACH DATABASE encrypted", [])?;
        conn.close().map_err(|(_, e)| e)
    })();
    let renamed = exported.map_err(store_err).and_then(|()| {
        let io = |e: std::io::Error| ArchiveError::Store(format!("encrypting {}: {e}", path.display()));
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        // The WAL was checkpointed and truncated: what is left of it and the index belong to the
        // plaintext file and must not be applied to the encrypted one.
        for suffix in ["-wal", "-shm"] {
            let side = dir.join(format!("{}{suffix}", path_name(path)));
            match std::fs::remove_file(&side) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

impl LocalArchive {
    /// Opens (creating and migrating) the archive at `path` for `station`, encrypted with the
    /// station's data key (SQLCipher). A plaintext archive found there is encrypted once, in
    /// place ([`LocalArchive::migrated_from_plaintext`] then says so, for the ledger). A file
    /// that does not open with the key is refused with what to do.
    pub fn open(
        path: impl AsRef<Path>,
        station: &str,
        key: &crate::at_rest::DataKey,
    ) -> Result<LocalArchive, ArchiveError> {
        LocalArchive::open_with(path.as_ref(), station, Some(key))
    }

    /// Opens (creating and migrating) a plaintext archive: for tests and tools that need an
    /// archive and no station's data; a station never opens its own so.
    pub fn open_unencrypted(path: impl AsRef<Path>, station: &str) -> Result<LocalArchive, ArchiveError> {
        LocalArchive::open_with(path.as_ref(), station, None)
    }

    /// The one way an archive is opened.
    fn open_with(
        path: &Path,
        station: &str,
        key: Option<&crate::at_rest::DataKey>,
    ) -> Result<LocalArchive, ArchiveError> {
        let mut migrated = false;
        let mut conn = match key {
            Some(key) => {
                if is_plaintext_database(path) {
                    encrypt_in_place(path, key)?;
                    migrated = true;
                }
                open_keyed(path, key)?
            }
            None => crate::open_private(path).map_err(store_err)?,
        };
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| match (key, &e) {
            (None, rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::NotADatabase => {
                ArchiveError::Store(format!(
                    "{} is encrypted: open it with the station's data key",
                    path.display()
                ))
            }
            _ => store_err(e),
        })?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(store_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(store_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(store_err)?;
        migrate(&mut conn)?;
        Ok(LocalArchive {
            conn: Mutex::new(conn),
            station: station.to_string(),
            key: None,
            files: key.map(|k| k.files()),
            migrated,
        })
    }

    /// A read-only connection to the archive at `path` for the tools that read it as records
    /// (`station compare --archive`, `station payments prepare --archive`): keyed with `key`
    /// when the file is encrypted. A plaintext file (an archive kept unencrypted, or from
    /// before) opens without one; an encrypted one without a key is refused saying so.
    pub fn read_only(
        path: impl AsRef<Path>,
        key: Option<&crate::at_rest::DataKey>,
    ) -> Result<Connection, ArchiveError> {
        let path = path.as_ref();
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_err)?;
        match key {
            Some(key) if !is_plaintext_database(path) => {
                apply_key(&conn, rusqlite::DatabaseName::Main, key).map_err(store_err)?;
            }
            None if !is_plaintext_database(path) && path.exists() => {
                return Err(ArchiveError::Store(format!(
                    "{} is encrypted: read it with the station's data key (run this on the station, \
                     with its configuration)",
                    path.display()
                )))
            }
            _ => {}
        }
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
            Ok(_) => Ok(conn),
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::NotADatabase => {
                Err(wrong_key(path))
            }
            Err(e) => Err(store_err(e)),
        }
    }

    /// A raw connection to the encrypted archive at `path`, keyed: for an auditor's tool and
    /// for tests that look at (or tamper with) the file behind the archive's back.
    pub fn raw_connection(
        path: impl AsRef<Path>,
        key: &crate::at_rest::DataKey,
    ) -> Result<Connection, ArchiveError> {
        open_keyed(path.as_ref(), key)
    }

    /// True when this open found the archive in plaintext and encrypted it: the station
    /// records it in the ledger.
    pub fn migrated_from_plaintext(&self) -> bool {
        self.migrated
    }

    /// The key of the files kept beside the archive (photos, evidence), when it is encrypted.
    pub fn file_key(&self) -> Option<&crate::at_rest::FileKey> {
        self.files.as_ref()
    }

    /// The archive with the station's ledger key: each entry appended from now on carries its
    /// MAC, and [`LocalArchive::check_ledger`] checks every MAC. A station opens its archive so.
    pub fn with_ledger_key(mut self, key: std::sync::Arc<dyn LedgerKey>) -> LocalArchive {
        self.key = Some(key);
        self
    }

    /// The ledger key's description, when the archive has one.
    pub fn ledger_key(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.describe())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schema version.
    pub fn version(&self) -> Result<i64, ArchiveError> {
        self.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(store_err)
    }

    /// Records or updates a person.
    pub fn upsert_person(&self, p: &PersonRow) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "INSERT INTO persons (ssn, name, sex, birth_date, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (ssn) DO UPDATE SET name = ?2, sex = ?3, birth_date = ?4, updated_at = ?5",
                params![p.ssn, p.name, p.sex, p.birth_date, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// Opens an application (at most one open per person: the index refuses a second).
    pub fn open_application(&self, ssn: &str, kind: &str, data: &str) -> Result<i64, ArchiveError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO applications (ssn, kind, status, data, created_at, updated_at) VALUES (?1, ?2, 'open', ?3, ?4, ?4)",
            params![ssn, kind, data, now()],
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                ArchiveError::BadRequest("this person already has an open application: resume it".into())
            }
            e => store_err(e),
        })?;
        Ok(conn.last_insert_rowid())
    }

    /// The person's open application (at most one), if any.
    pub fn open_application_of(&self, ssn: &str) -> Result<Option<i64>, ArchiveError> {
        self.conn()
            .query_row(
                "SELECT application_id FROM applications WHERE ssn = ?1
                 AND status IN ('open', 'verified', 'claimed', 'personalised', 'printed')",
                [ssn],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_err)
    }

    /// An application's person and form after an identity correction (the ID number may be
    /// another's: at most one open application per person still holds).
    pub fn correct_application(&self, id: i64, ssn: &str, data: &str) -> Result<(), ArchiveError> {
        let n = self
            .conn()
            .execute(
                "UPDATE applications SET ssn = ?2, data = ?3, updated_at = ?4 WHERE application_id = ?1",
                params![id, ssn, data, now()],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                {
                    ArchiveError::BadRequest(
                        "the corrected ID number's person already has an open application: finish that one"
                            .into(),
                    )
                }
                e => store_err(e),
            })?;
        if n == 0 {
            return Err(ArchiveError::BadRequest(format!("no application {id}")));
        }
        Ok(())
    }

    /// Records the agent site an application was taken for (its id in `[[sites]]`).
    pub fn set_application_site(&self, id: i64, site: &str) -> Result<(), ArchiveError> {
        let n = self
            .conn()
            .execute(
                "UPDATE applications SET site = ?2, updated_at = ?3 WHERE application_id = ?1",
                params![id, site, now()],
            )
            .map_err(store_err)?;
        if n == 0 {
            return Err(ArchiveError::BadRequest(format!("no application {id}")));
        }
        Ok(())
    }

    /// The applications taken for agent sites, oldest first (cancelled and failed ones left
    /// out: no card is owed for them).
    pub fn site_applications(&self) -> Result<Vec<SiteApplication>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT a.application_id, a.site, a.status, a.card_number, a.created_at, p.name, a.data
                 FROM applications a JOIN persons p ON p.ssn = a.ssn
                 WHERE a.site IS NOT NULL AND a.status NOT IN ('failed', 'cancelled')
                 ORDER BY a.created_at, a.application_id",
            )
            .map_err(store_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SiteApplication {
                    application_id: r.get(0)?,
                    site: r.get(1)?,
                    status: r.get(2)?,
                    card_number: r.get(3)?,
                    created_at: r.get(4)?,
                    name: r.get(5)?,
                    data: r.get(6)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The site an application was taken for, if any.
    pub fn application_site(&self, id: i64) -> Result<Option<String>, ArchiveError> {
        self.conn()
            .query_row("SELECT site FROM applications WHERE application_id = ?1", [id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(store_err)
    }

    /// Moves an application on.
    pub fn set_application(
        &self,
        id: i64,
        status: ApplicationStatus,
        failure: Option<&str>,
    ) -> Result<(), ArchiveError> {
        let n = self
            .conn()
            .execute(
                "UPDATE applications SET status = ?2, failure = coalesce(?3, failure), updated_at = ?4 WHERE application_id = ?1",
                params![id, status.as_str(), failure, now()],
            )
            .map_err(store_err)?;
        if n == 0 {
            return Err(ArchiveError::BadRequest(format!("no application {id}")));
        }
        Ok(())
    }

    /// Records a card made for an application.
    pub fn record_card(
        &self,
        application_id: i64,
        ssn: &str,
        card_number: &str,
        card_id: &str,
        atr: &str,
    ) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "INSERT INTO cards (card_number, ssn, application_id, card_id, atr, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'made', ?6, ?6)",
                params![card_number, ssn, application_id, card_id, atr, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// Records the bank of a card and the financial account it opened for it (RULE 8: the
    /// person's bank); a value not given keeps what is there.
    pub fn set_card_account(
        &self,
        card_number: &str,
        bank: Option<&str>,
        account: Option<&str>,
    ) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE cards SET bank = COALESCE(?2, bank), account = COALESCE(?3, account) WHERE card_number = ?1",
                params![card_number, bank, account],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// A card's status.
    pub fn set_card_status(&self, card_number: &str, status: CardStatus) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE cards SET status = ?2, updated_at = ?3 WHERE card_number = ?1",
                params![card_number, status.as_str(), now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// Changes a card's status and writes the ledger line that says why, in one transaction:
    /// the two never disagree, whatever stops the station between them (RULE 5).
    pub fn set_card_status_ledgered(
        &self,
        card_number: &str,
        status: CardStatus,
        record: &LedgerRecord<'_>,
    ) -> Result<LedgerEntry, ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        tx.execute(
            "UPDATE cards SET status = ?2, updated_at = ?3 WHERE card_number = ?1",
            params![card_number, status.as_str(), now()],
        )
        .map_err(store_err)?;
        let entry = self.append_in(&tx, record)?;
        tx.commit().map_err(store_err)?;
        Ok(entry)
    }

    /// A card's status, if the station made it.
    pub fn card_status(&self, card_number: &str) -> Result<Option<CardStatus>, ArchiveError> {
        let s: Option<String> = self
            .conn()
            .query_row("SELECT status FROM cards WHERE card_number = ?1", [card_number], |r| r.get(0))
            .optional()
            .map_err(store_err)?;
        Ok(s.and_then(|s| CardStatus::parse(&s)))
    }

    /// Appends a ledger entry chained to the last one; returns it.
    pub fn append_ledger(
        &self,
        operator: &str,
        application_id: Option<i64>,
        card_number: Option<&str>,
        event: &str,
        detail: &serde_json::Value,
    ) -> Result<LedgerEntry, ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        let record = LedgerRecord { operator, application_id, card_number, event, detail };
        let e = self.append_in(&tx, &record)?;
        tx.commit().map_err(store_err)?;
        Ok(e)
    }

    fn append_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        r: &LedgerRecord<'_>,
    ) -> Result<LedgerEntry, ArchiveError> {
        let (operator, application_id, card_number, event, detail) =
            (r.operator, r.application_id, r.card_number, r.event, r.detail);
        let (last_seq, prev, keyed): (i64, String, bool) = tx
            .query_row("SELECT seq, hash, mac IS NOT NULL FROM ledger ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(store_err)?
            .unwrap_or((0, GENESIS.to_string(), false));
        if keyed && self.key.is_none() {
            return Err(ArchiveError::Store(
                "this ledger's entries carry MACs and this process has not the station's ledger key: \
                 write to it through the station (its [ledger] key)"
                    .into(),
            ));
        }
        let mut e = LedgerEntry {
            seq: last_seq + 1,
            at: now(),
            station: self.station.clone(),
            operator: operator.to_string(),
            application_id,
            card_number: card_number.map(str::to_string),
            event: event.to_string(),
            detail: detail.to_string(),
            prev_hash: prev.clone(),
            hash: String::new(),
            mac: None,
        };
        e.hash = entry_hash(&prev, &e);
        if let Some(key) = &self.key {
            let tag = key.mac(&hash_bytes(e.seq, &e.hash)?).map_err(|why| {
                ArchiveError::Store(format!("the ledger key ({}) made no MAC: {why}", key.describe()))
            })?;
            e.mac = Some(hex(&tag));
        }
        tx.execute(
            "INSERT INTO ledger (seq, at, station, operator, application_id, card_number, event, detail, prev_hash, hash, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![e.seq, e.at, e.station, e.operator, e.application_id, e.card_number, e.event, e.detail, e.prev_hash, e.hash, e.mac],
        )
        .map_err(store_err)?;
        Ok(e)
    }

    /// Every ledger entry in order.
    pub fn ledger(&self) -> Result<Vec<LedgerEntry>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT seq, at, station, operator, application_id, card_number, event, detail, prev_hash, hash, mac FROM ledger ORDER BY seq")
            .map_err(store_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LedgerEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    station: r.get(2)?,
                    operator: r.get(3)?,
                    application_id: r.get(4)?,
                    card_number: r.get(5)?,
                    event: r.get(6)?,
                    detail: r.get(7)?,
                    prev_hash: r.get(8)?,
                    hash: r.get(9)?,
                    mac: r.get(10)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The last entry's sequence number, chain hash and MAC (what the province anchors), if any.
    /// With the station's key, only a head carrying the key's MAC: a ledger put in the
    /// station's place (another station's, or one rewritten without the key) never moves the
    /// province's anchor.
    pub fn ledger_head(&self) -> Result<Option<crate::LedgerHead>, ArchiveError> {
        let head: Option<(crate::LedgerHead, Option<String>)> = self
            .conn()
            .query_row("SELECT seq, hash, mac FROM ledger ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((crate::LedgerHead { seq: r.get(0)?, hash: r.get(1)?, mac: r.get(2)? }, r.get(2)?))
            })
            .optional()
            .map_err(store_err)?;
        match (head, &self.key) {
            (Some((head, mac)), Some(key)) => {
                let tag = mac.as_deref().and_then(unhex).unwrap_or_default();
                let good = key.verify(&hash_bytes(head.seq, &head.hash)?, &tag).map_err(|why| {
                    ArchiveError::Store(format!("the ledger key ({}) checked no MAC: {why}", key.describe()))
                })?;
                if !good {
                    return Err(altered(
                        head.seq,
                        &format!(
                            "the last entry has not the MAC the station's ledger key ({}) makes",
                            key.describe()
                        ),
                    ));
                }
                Ok(Some(head))
            }
            (head, _) => Ok(head.map(|(h, _)| h)),
        }
    }

    /// Checks the hash chain and, with the station's key, every entry's MAC; returns the
    /// number of entries, or names the first entry that is not the one recorded.
    pub fn verify_ledger(&self) -> Result<usize, ArchiveError> {
        self.check_ledger().map(|c| c.entries)
    }

    /// [`LocalArchive::verify_ledger`], saying which entries carry MACs and whether they
    /// were checked. An entry fails when it is not in its place, does not continue the chain,
    /// has no MAC after one that has, or, with the station's key, was written by another
    /// station or its MAC is not the key's: a ledger rewritten and its plain chain recomputed, or another
    /// station's database, is named at its first entry that differs.
    pub fn check_ledger(&self) -> Result<LedgerCheck, ArchiveError> {
        let entries = self.ledger()?;
        let mut prev = GENESIS.to_string();
        let mut keyed_from = None;
        for (i, e) in entries.iter().enumerate() {
            if e.seq != i as i64 + 1 {
                return Err(altered(e.seq, &format!("it stands where entry {} should", i + 1)));
            }
            if e.prev_hash != prev || entry_hash(&prev, e) != e.hash {
                return Err(altered(e.seq, "its hash does not continue the chain"));
            }
            // The station itself (it opens its archive with its key) checks the entries are its own.
            if self.key.is_some() && e.station != self.station {
                return Err(altered(
                    e.seq,
                    &format!("station {} wrote it: this is not station {}'s ledger", e.station, self.station),
                ));
            }
            match (&e.mac, keyed_from) {
                (None, Some(first)) => {
                    return Err(altered(e.seq, &format!("it has no MAC, every entry from {first} has one")))
                }
                (Some(_), None) => keyed_from = Some(e.seq),
                _ => {}
            }
            if let (Some(mac), Some(key)) = (&e.mac, &self.key) {
                let good = match unhex(mac) {
                    Some(tag) => key.verify(&hash_bytes(e.seq, &e.hash)?, &tag).map_err(|why| {
                        ArchiveError::Store(format!(
                            "the ledger key ({}) checked no MAC: {why}",
                            key.describe()
                        ))
                    })?,
                    None => false,
                };
                if !good {
                    return Err(altered(
                        e.seq,
                        &format!(
                            "its MAC is not the one the station's ledger key ({}) makes",
                            key.describe()
                        ),
                    ));
                }
            }
            prev = e.hash.clone();
        }
        Ok(LedgerCheck { entries: entries.len(), keyed_from, key: self.key.as_ref().map(|k| k.describe()) })
    }
}

/// A journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalLine {
    /// Order within the job.
    pub seq: i64,
    /// The step.
    pub step: String,
    /// `begin`, `done`, `failed` or `undone`.
    pub phase: String,
    /// JSON detail.
    pub detail: String,
}

/// A request the API accepted ([`LocalArchive::queue_request`]), as a start after a crash
/// finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    /// Its number (never reused).
    pub request_id: i64,
    /// Who asked.
    pub operator: String,
    /// What was asked (JSON, as the daemon wrote it).
    pub request: String,
    /// `queued`, `started` or `ended`.
    pub status: String,
    /// The job serving it, once there is one.
    pub job_id: Option<i64>,
    /// How it ended: `issued`, `refused`, `rolled-back`, `error`, `interrupted`.
    pub outcome: Option<String>,
    /// The card number or the reason.
    pub detail: Option<String>,
}

fn request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        request_id: r.get(0)?,
        operator: r.get(1)?,
        request: r.get(2)?,
        status: r.get(3)?,
        job_id: r.get(4)?,
        outcome: r.get(5)?,
        detail: r.get(6)?,
    })
}

/// The application form a job was taken on ([`LocalArchive::job_form`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobForm {
    /// The applicant form (JSON).
    pub data: String,
    /// `new`, `reissue` or `replacement`.
    pub kind: String,
    /// When the application was taken (unix seconds).
    pub taken_at: i64,
    /// The operator who asked for the job, when it came through the API.
    pub operator: Option<String>,
}

const REQUEST_COLUMNS: &str = "request_id, operator, request, status, job_id, outcome, detail";

impl LocalArchive {
    /// Keeps a request before the API answers for it, with its ledger line (`ledger`, whose
    /// detail gets the request's number): after a crash it runs, or ends with its reason.
    /// Returns its number.
    pub fn queue_request(
        &self,
        operator: &str,
        request: &str,
        event: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        tx.execute(
            "INSERT INTO job_requests (operator, request, status, created_at, updated_at) VALUES (?1, ?2, 'queued', ?3, ?3)",
            params![operator, request, now()],
        )
        .map_err(store_err)?;
        let id = tx.last_insert_rowid();
        let mut detail = detail.clone();
        detail["request_id"] = id.into();
        let record =
            LedgerRecord { operator, application_id: None, card_number: None, event, detail: &detail };
        self.append_in(&tx, &record)?;
        tx.commit().map_err(store_err)?;
        Ok(id)
    }

    /// The worker took the request.
    pub fn request_started(&self, request_id: i64) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE job_requests SET status = 'started', updated_at = ?2 WHERE request_id = ?1 AND status = 'queued'",
                params![request_id, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// `job` serves the request (the first time it is seen; later calls change nothing).
    pub fn request_job(&self, request_id: i64, job: i64) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE job_requests SET job_id = ?2, updated_at = ?3 WHERE request_id = ?1 AND job_id IS NULL",
                params![request_id, job, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// The request ended (`outcome`, with the card number or the reason).
    pub fn request_ended(&self, request_id: i64, outcome: &str, detail: &str) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE job_requests SET status = 'ended', outcome = ?2, detail = ?3, updated_at = ?4
                 WHERE request_id = ?1 AND status <> 'ended'",
                params![request_id, outcome, detail, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// The request `job` serves ended (a job resumed after a crash or a wait).
    pub fn job_request_ended(&self, job: i64, outcome: &str, detail: &str) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE job_requests SET status = 'ended', outcome = ?2, detail = ?3, updated_at = ?4
                 WHERE job_id = ?1 AND status <> 'ended'",
                params![job, outcome, detail, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// The requests not ended yet, oldest first.
    pub fn open_requests(&self) -> Result<Vec<RequestRow>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {REQUEST_COLUMNS} FROM job_requests WHERE status <> 'ended' ORDER BY request_id"
            ))
            .map_err(store_err)?;
        let rows = stmt.query_map([], request_row).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// One request.
    pub fn request(&self, request_id: i64) -> Result<Option<RequestRow>, ArchiveError> {
        self.conn()
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM job_requests WHERE request_id = ?1"),
                [request_id],
                request_row,
            )
            .optional()
            .map_err(store_err)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Id.
    pub job_id: i64,
    /// Its application.
    pub application_id: i64,
    /// `running`, `done`, `failed`, `rolled_back`.
    pub status: String,
    /// What the steps produced (JSON).
    pub state: String,
}

/// A job that waits for a person ([`LocalArchive::waiting_jobs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingJob {
    /// The job.
    pub job_id: i64,
    /// `held` or `correcting`.
    pub status: String,
    /// The holder's ID number (mask it before showing).
    pub ssn: String,
    /// The holder's name.
    pub name: String,
    /// When the job last changed (unix seconds).
    pub since: i64,
}

impl LocalArchive {
    /// Creates a job for an application.
    pub fn create_job(&self, application_id: i64, kind: &str) -> Result<i64, ArchiveError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO jobs (application_id, kind, status, created_at, updated_at) VALUES (?1, ?2, 'running', ?3, ?3)",
            params![application_id, kind, now()],
        )
        .map_err(store_err)?;
        Ok(conn.last_insert_rowid())
    }

    /// Writes one journal line (durably: its own transaction, `synchronous = FULL`), with the
    /// job's state and a ledger entry in the same transaction when given: a step's ledger entry
    /// exists exactly when its `done` line does.
    pub fn journal(
        &self,
        job_id: i64,
        step: &str,
        phase: &str,
        detail: &serde_json::Value,
        state: Option<&str>,
        ledger: Option<&LedgerRecord<'_>>,
    ) -> Result<(), ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        tx.execute(
            "INSERT INTO journal (job_id, seq, step, phase, detail, at)
             VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM journal WHERE job_id = ?1), ?2, ?3, ?4, ?5)",
            params![job_id, step, phase, detail.to_string(), now()],
        )
        .map_err(store_err)?;
        if let Some(state) = state {
            tx.execute(
                "UPDATE jobs SET state = ?2, updated_at = ?3 WHERE job_id = ?1",
                params![job_id, state, now()],
            )
            .map_err(store_err)?;
        }
        if let Some(record) = ledger {
            self.append_in(&tx, record)?;
        }
        tx.commit().map_err(store_err)
    }

    /// A job's journal in order.
    pub fn journal_of(&self, job_id: i64) -> Result<Vec<JournalLine>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT seq, step, phase, detail FROM journal WHERE job_id = ?1 ORDER BY seq")
            .map_err(store_err)?;
        let rows = stmt
            .query_map([job_id], |r| {
                Ok(JournalLine { seq: r.get(0)?, step: r.get(1)?, phase: r.get(2)?, detail: r.get(3)? })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// Sets a job's status.
    pub fn set_job_status(&self, job_id: i64, status: &str) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE jobs SET status = ?2, updated_at = ?3 WHERE job_id = ?1",
                params![job_id, status, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }

    /// A job.
    pub fn job(&self, job_id: i64) -> Result<Option<JobRow>, ArchiveError> {
        self.conn()
            .query_row(
                "SELECT job_id, application_id, status, state FROM jobs WHERE job_id = ?1",
                [job_id],
                |r| {
                    Ok(JobRow {
                        job_id: r.get(0)?,
                        application_id: r.get(1)?,
                        status: r.get(2)?,
                        state: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(store_err)
    }

    /// Jobs left running (by a crash): the ones to resume at start.
    pub fn running_jobs(&self) -> Result<Vec<i64>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT job_id FROM jobs WHERE status = 'running' ORDER BY job_id")
            .map_err(store_err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// Replaces a job's state (JSON) outside a journal line: a held re-issue's renewed claim.
    pub fn update_job_state(&self, job_id: i64, state: &str) -> Result<(), ArchiveError> {
        self.conn()
            .execute("UPDATE jobs SET state = ?2 WHERE job_id = ?1", params![job_id, state])
            .map_err(store_err)?;
        Ok(())
    }

    /// The jobs that hold a provincial claim while they wait: running ones, re-issues held for
    /// a supervisor's word (their claim keeps the restore possible) and jobs waiting for an
    /// identity correction, oldest first.
    pub fn claim_holding_jobs(&self) -> Result<Vec<i64>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT job_id FROM jobs WHERE status IN ('running', 'held', 'correcting') ORDER BY job_id",
            )
            .map_err(store_err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The jobs that wait for a person's decision, oldest first: a held re-issue (a supervisor
    /// restores the old card or resumes the new one) and a job at an identity mismatch (the
    /// operator corrects the form or ends it).
    pub fn waiting_jobs(&self) -> Result<Vec<WaitingJob>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT j.job_id, j.status, a.ssn, coalesce(p.name, ''), j.updated_at FROM jobs j
                 JOIN applications a ON a.application_id = j.application_id
                 LEFT JOIN persons p ON p.ssn = a.ssn
                 WHERE j.status IN ('held', 'correcting') ORDER BY j.job_id",
            )
            .map_err(store_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(WaitingJob {
                    job_id: r.get(0)?,
                    status: r.get(1)?,
                    ssn: r.get(2)?,
                    name: r.get(3)?,
                    since: r.get(4)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The jobs of an application, oldest first.
    pub fn jobs_of_application(&self, application_id: i64) -> Result<Vec<i64>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT job_id FROM jobs WHERE application_id = ?1 ORDER BY job_id")
            .map_err(store_err)?;
        let rows = stmt.query_map([application_id], |r| r.get(0)).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The applicant form an application was opened with (JSON).
    pub fn application_data(&self, id: i64) -> Result<Option<String>, ArchiveError> {
        self.conn()
            .query_row("SELECT data FROM applications WHERE application_id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(store_err)
    }

    /// The applicant forms of a person's applications here (JSON), newest first.
    pub fn application_forms(&self, ssn: &str) -> Result<Vec<String>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT data FROM applications WHERE ssn = ?1 ORDER BY application_id DESC")
            .map_err(store_err)?;
        let rows = stmt.query_map([ssn], |r| r.get(0)).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The application form a job was taken on: what the printable form shows.
    pub fn job_form(&self, job_id: i64) -> Result<Option<JobForm>, ArchiveError> {
        self.conn()
            .query_row(
                "SELECT a.data, a.kind, a.created_at,
                        (SELECT r.operator FROM job_requests r WHERE r.job_id = j.job_id ORDER BY r.request_id LIMIT 1)
                 FROM jobs j JOIN applications a ON a.application_id = j.application_id WHERE j.job_id = ?1",
                [job_id],
                |r| Ok(JobForm { data: r.get(0)?, kind: r.get(1)?, taken_at: r.get(2)?, operator: r.get(3)? }),
            )
            .optional()
            .map_err(store_err)
    }

    /// The application's row: status and card number.
    pub fn application(&self, id: i64) -> Result<Option<(String, Option<String>)>, ArchiveError> {
        self.conn()
            .query_row("SELECT status, card_number FROM applications WHERE application_id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(store_err)
    }

    /// Why an application failed, as its job recorded it for the operator.
    pub fn application_failure(&self, id: i64) -> Result<Option<String>, ArchiveError> {
        self.conn()
            .query_row("SELECT failure FROM applications WHERE application_id = ?1", [id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(store_err)
    }

    /// Records the province's claim on an application.
    pub fn set_application_claim(
        &self,
        id: i64,
        claim_id: i64,
        card_number: &str,
    ) -> Result<(), ArchiveError> {
        self.conn()
            .execute(
                "UPDATE applications SET claim_id = ?2, card_number = ?3, updated_at = ?4 WHERE application_id = ?1",
                params![id, claim_id, card_number, now()],
            )
            .map(|_| ())
            .map_err(store_err)
    }
}

pub use crate::custody::CustodyApproval;

impl LocalArchive {
    /// Records a custody approval (the schema refuses other groups and an empty reason).
    pub fn add_custody_approval(
        &self,
        a: &CustodyApproval,
        ledger: &LedgerRecord<'_>,
    ) -> Result<(), ArchiveError> {
        self.with_ledger(ledger, |tx| {
            tx.execute(
                "INSERT INTO custody_approvals (card_number, holder_group, custodian, custodian_id, approved_by, reason,
                     valid_until, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.card_number, a.holder_group, a.custodian, a.custodian_id, a.approved_by, a.reason, a.valid_until, now()],
            )
            .map(|_| ())
        })
    }

    /// The passwords operators chose themselves (name, Argon2id PHC string).
    pub fn operator_passwords(&self) -> Result<Vec<(String, String)>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT name, password_hash FROM operator_passwords ORDER BY name")
            .map_err(store_err)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// Keeps the password `name` chose (an Argon2id PHC string), with its ledger line, in one
    /// transaction.
    pub fn set_operator_password(
        &self,
        name: &str,
        phc: &str,
        ledger: &LedgerRecord<'_>,
    ) -> Result<(), ArchiveError> {
        self.with_ledger(ledger, |tx| {
            tx.execute(
                "INSERT INTO operator_passwords (name, password_hash, changed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, changed_at = excluded.changed_at",
                params![name, phc, now()],
            )
            .map(|_| ())
        })
    }

    /// Runs `write` and appends `ledger` in one transaction: a record of the card's life is
    /// never without its ledger line, nor the line without it (RULE 5).
    fn with_ledger(
        &self,
        ledger: &LedgerRecord<'_>,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<(), ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        write(&tx).map_err(store_err)?;
        self.append_in(&tx, ledger)?;
        tx.commit().map_err(store_err)
    }

    /// Takes a card made elsewhere into this station's records, with its ledger line, in one
    /// transaction: the holder (kept if known), an application in status `made` standing for
    /// the one the card-making centre made it for (`data`: where it came from), and the card
    /// `made`. Refused when the card is here already or the holder holds another live card
    /// here. The application's number.
    pub fn record_received_card(
        &self,
        person: &PersonRow,
        card_number: &str,
        card_id: &str,
        data: &serde_json::Value,
        ledger: &LedgerRecord<'_>,
    ) -> Result<i64, ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        let known: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM cards WHERE card_number = ?1)", [card_number], |r| {
                r.get(0)
            })
            .map_err(store_err)?;
        if known {
            return Err(ArchiveError::BadRequest(format!(
                "card {card_number} is in this station's records already"
            )));
        }
        tx.execute(
            "INSERT INTO persons (ssn, name, sex, birth_date, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (ssn) DO NOTHING",
            params![person.ssn, person.name, person.sex, person.birth_date, now()],
        )
        .map_err(store_err)?;
        tx.execute(
            "INSERT INTO applications (ssn, kind, status, card_number, data, created_at, updated_at)
             VALUES (?1, 'new', 'made', ?2, ?3, ?4, ?4)",
            params![person.ssn, card_number, data.to_string(), now()],
        )
        .map_err(store_err)?;
        let application_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO cards (card_number, ssn, application_id, card_id, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'made', ?5, ?5)",
            params![card_number, person.ssn, application_id, card_id, now()],
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                ArchiveError::BadRequest(format!(
                    "the holder of card {card_number} holds another live card at this station: settle that card first"
                ))
            }
            e => store_err(e),
        })?;
        let record = LedgerRecord { application_id: Some(application_id), ..*ledger };
        self.append_in(&tx, &record)?;
        tx.commit().map_err(store_err)?;
        Ok(application_id)
    }

    /// The custody approvals of a card.
    pub fn custody_approvals(&self, card_number: &str) -> Result<Vec<CustodyApproval>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT card_number, holder_group, custodian, custodian_id, approved_by, reason, valid_until
                 FROM custody_approvals WHERE card_number = ?1 ORDER BY approval_id",
            )
            .map_err(store_err)?;
        let rows = stmt
            .query_map([card_number], |r| {
                Ok(CustodyApproval {
                    card_number: r.get(0)?,
                    holder_group: r.get(1)?,
                    custodian: r.get(2)?,
                    custodian_id: r.get(3)?,
                    approved_by: r.get(4)?,
                    reason: r.get(5)?,
                    valid_until: r.get(6)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// Records an attempt to hand over a stock card; a failure needs its reason (schema).
    pub fn record_handover_attempt(
        &self,
        card_number: &str,
        succeeded: bool,
        reason: Option<&str>,
    ) -> Result<u32, ArchiveError> {
        self.record_handover(card_number, succeeded, reason, None, |_| None)
    }

    /// A hand-over attempt with its ledger line (`ledger(attempt)`: event and detail, written
    /// by `operator`) and, when it succeeded and `issued` is set, the card issued: one
    /// transaction. The attempt's number.
    pub fn record_handover(
        &self,
        card_number: &str,
        succeeded: bool,
        reason: Option<&str>,
        operator: Option<&str>,
        ledger: impl FnOnce(u32) -> Option<(&'static str, serde_json::Value)>,
    ) -> Result<u32, ArchiveError> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
        let attempt: u32 = tx
            .query_row(
                "SELECT count(*) + 1 FROM handover_attempts WHERE card_number = ?1",
                [card_number],
                |r| r.get(0),
            )
            .map_err(store_err)?;
        tx.execute(
            "INSERT INTO handover_attempts (card_number, attempt, succeeded, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![card_number, attempt, i64::from(succeeded), reason, now()],
        )
        .map_err(store_err)?;
        if let (Some(operator), Some((event, detail))) = (operator, ledger(attempt)) {
            let record = LedgerRecord {
                operator,
                application_id: None,
                card_number: Some(card_number),
                event,
                detail: &detail,
            };
            self.append_in(&tx, &record)?;
            if succeeded {
                tx.execute(
                    "UPDATE cards SET status = ?2, updated_at = ?3 WHERE card_number = ?1",
                    params![card_number, CardStatus::Issued.as_str(), now()],
                )
                .map_err(store_err)?;
            }
        }
        tx.commit().map_err(store_err)?;
        Ok(attempt)
    }

    /// The failed hand-over attempts of a card with their reasons, in order.
    pub fn failed_handovers(&self, card_number: &str) -> Result<Vec<String>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT reason FROM handover_attempts WHERE card_number = ?1 AND succeeded = 0 ORDER BY attempt")
            .map_err(store_err)?;
        let rows = stmt.query_map([card_number], |r| r.get(0)).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// Records a replacement (the schema refuses a fee on the first and a bank not chosen by
    /// the person).
    pub fn record_replacement(
        &self,
        ssn: &str,
        old_card: &str,
        bank: &str,
        chosen_by: &str,
        fee_fen: i64,
        ledger: &LedgerRecord<'_>,
    ) -> Result<(), ArchiveError> {
        self.with_ledger(ledger, |tx| {
            tx.execute(
                "INSERT INTO replacements (ssn, old_card, bank, chosen_by, fee_fen, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![ssn, old_card, bank, chosen_by, fee_fen, now()],
            )
            .map(|_| ())
        })
    }

    /// How many replacements a person has had.
    pub fn replacements(&self, ssn: &str) -> Result<u32, ArchiveError> {
        self.conn()
            .query_row("SELECT count(*) FROM replacements WHERE ssn = ?1", [ssn], |r| r.get(0))
            .map_err(store_err)
    }

    /// Cards made or issued but not yet active, older than `days`: stock and dormant cards.
    /// A card whose holder refused what it waits for (RULE 8, [`NOT_REFUSED`]) is not one.
    pub fn dormant_cards(&self, days: i64) -> Result<Vec<(String, String)>, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT card_number, status FROM cards c WHERE status IN ('made', 'issued') AND updated_at <= ?1
                 AND {NOT_REFUSED} ORDER BY card_number"
            ))
            .map_err(store_err)?;
        // `days` comes from a query: any number reaches back to the archive's first day at most.
        let before = now().saturating_sub(days.saturating_mul(86_400));
        let rows = stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?))).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The statistics for the bureau: the ledger's card events from `from` to `to` (days,
    /// `YYYY-MM-DD`, China time, both included; `None`: unbounded) per day, operator and agent
    /// site (the site of the card's application), and the stock and dormant cards (dormant after
    /// `dormant_days`, as [`LocalArchive::dormant_cards`]) per site now. Two grouped queries,
    /// whatever the number of cards.
    pub fn stats(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        dormant_days: i64,
    ) -> Result<Stats, ArchiveError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT date(l.at + 28800, 'unixepoch') AS day, l.operator, COALESCE(a.site, ca.site) AS the_site,
                        SUM(l.event = 'card.made'), SUM(l.event = 'card.received'),
                        SUM(l.event = 'card.handed_over'), SUM(l.event = 'card.stocked'),
                        SUM(l.event = 'card.activated'), SUM(l.event = 'card.rejected')
                 FROM ledger l
                 LEFT JOIN applications a ON a.application_id = l.application_id
                 LEFT JOIN cards c ON c.card_number = l.card_number
                 LEFT JOIN applications ca ON ca.application_id = c.application_id
                 WHERE l.event IN ('card.made', 'card.received', 'card.handed_over', 'card.stocked',
                                   'card.activated', 'card.rejected')
                   AND (?1 IS NULL OR date(l.at + 28800, 'unixepoch') >= ?1)
                   AND (?2 IS NULL OR date(l.at + 28800, 'unixepoch') <= ?2)
                 GROUP BY day, l.operator, the_site
                 ORDER BY day, l.operator, the_site IS NOT NULL, the_site",
            )
            .map_err(store_err)?;
        let count = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<u64> {
            Ok(r.get::<_, i64>(i)?.max(0) as u64)
        };
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(StatsRow {
                    day: r.get(0)?,
                    operator: r.get(1)?,
                    site: r.get(2)?,
                    made: count(r, 3)?,
                    received: count(r, 4)?,
                    issued: count(r, 5)?,
                    stocked: count(r, 6)?,
                    activated: count(r, 7)?,
                    spoiled: count(r, 8)?,
                })
            })
            .map_err(store_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_err)?;
        let before = now().saturating_sub(dormant_days.saturating_mul(86_400));
        let mut stmt = conn
            .prepare(&format!(
                "SELECT a.site,
                        SUM(c.status = 'made' AND EXISTS (SELECT 1 FROM ledger l WHERE l.card_number = c.card_number
                            AND l.event IN ('card.stocked', 'card.received', 'card.moved'))),
                        SUM(c.status IN ('made', 'issued') AND c.updated_at <= ?1 AND {NOT_REFUSED})
                 FROM cards c JOIN applications a ON a.application_id = c.application_id
                 WHERE c.status IN ('made', 'issued')
                 GROUP BY a.site ORDER BY a.site IS NOT NULL, a.site"
            ))
            .map_err(store_err)?;
        let stock = stmt
            .query_map([before], |r| {
                Ok(SiteStock { site: r.get(0)?, in_stock: count(r, 1)?, dormant: count(r, 2)? })
            })
            .map_err(store_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_err)?;
        Ok(Stats { rows, stock })
    }

    /// The station this archive belongs to.
    pub fn station(&self) -> &str {
        &self.station
    }

    /// The station's cards, newest change first; only those in `status` when given.
    pub fn cards(&self, status: Option<CardStatus>) -> Result<Vec<CardRow>, ArchiveError> {
        self.card_rows("WHERE ?1 IS NULL OR c.status = ?1", params![status.map(CardStatus::as_str)])
    }

    /// One card, if the station made it.
    pub fn card(&self, card_number: &str) -> Result<Option<CardRow>, ArchiveError> {
        Ok(self.card_rows("WHERE c.card_number = ?1", params![card_number])?.pop())
    }

    fn card_rows(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<CardRow>, ArchiveError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT c.card_number, c.ssn, p.name, c.status, c.bank, c.application_id, c.created_at, c.updated_at,
                    c.account
             FROM cards c JOIN persons p ON p.ssn = c.ssn {filter} ORDER BY c.updated_at DESC, c.card_number"
        );
        let mut stmt = conn.prepare(&sql).map_err(store_err)?;
        let rows = stmt
            .query_map(args, |r| {
                let status: String = r.get(3)?;
                Ok(CardRow {
                    card_number: r.get(0)?,
                    ssn: r.get(1)?,
                    name: r.get(2)?,
                    status: CardStatus::parse(&status).unwrap_or(CardStatus::Failed),
                    bank: r.get(4)?,
                    account: r.get(8)?,
                    application_id: r.get(5)?,
                    created_at: r.get(6)?,
                    updated_at: r.get(7)?,
                })
            })
            .map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }

    /// The holder (SSN) of a card.
    pub fn card_holder(&self, card_number: &str) -> Result<Option<String>, ArchiveError> {
        self.conn()
            .query_row("SELECT ssn FROM cards WHERE card_number = ?1", [card_number], |r| r.get(0))
            .optional()
            .map_err(store_err)
    }
}

/// Runs the migrations the database has not seen, each in its own transaction.
fn migrate(conn: &mut Connection) -> Result<(), ArchiveError> {
    let version: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(store_err)? as usize;
    if version > MIGRATIONS.len() {
        return Err(ArchiveError::Store(format!(
            "the archive has schema version {version}, newer than this station ({}): update the station",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(store_err)?;
        tx.execute_batch(sql).map_err(store_err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
    }
    Ok(())
}

/// A card `c` the action lists still chase: its holder refused neither the card change nor,
/// for an issued card, the activation (RULE 8; the ledger event `card.refused-by-holder` of
/// `issuance::refusals`). An activation ends a refusal of activation, and leaves the lists too.
pub const NOT_REFUSED: &str = "NOT EXISTS (SELECT 1 FROM ledger r WHERE r.card_number = c.card_number
    AND r.event = 'card.refused-by-holder' AND (json_extract(r.detail, '$.what') = 'card-change'
    OR (c.status = 'issued' AND json_extract(r.detail, '$.what') = 'activation')))";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_and_its_ledger_line_are_written_together() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LocalArchive::open_unencrypted(dir.path().join("s.db"), "S1").expect("open");
        a.upsert_person(&PersonRow {
            ssn: "11010519491231002X".into(),
            name: "张三".into(),
            sex: None,
            birth_date: None,
        })
        .expect("person");
        let app = a.open_application("11010519491231002X", "new", "{}").expect("application");
        a.record_card(app, "11010519491231002X", "B00000019", "00", "3B00").expect("card");
        let detail = serde_json::json!({"photo_sm3": "ab"});
        let record = LedgerRecord {
            operator: "op",
            application_id: None,
            card_number: Some("B00000019"),
            event: "card.activated",
            detail: &detail,
        };
        // The ledger refuses a line that would break its chain: nothing is changed then.
        a.conn()
            .execute(
                "CREATE TRIGGER no_more BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'disk full'); END",
                [],
            )
            .expect("trigger");
        a.set_card_status_ledgered("B00000019", CardStatus::Active, &record).expect_err("the ledger refused");
        assert_eq!(
            a.card_status("B00000019").expect("status"),
            Some(CardStatus::Made),
            "no status without its line"
        );
        a.conn().execute("DROP TRIGGER no_more", []).expect("drop");
        a.set_card_status_ledgered("B00000019", CardStatus::Active, &record).expect("both");
        assert_eq!(a.card_status("B00000019").expect("status"), Some(CardStatus::Active));
        assert_eq!(a.ledger().expect("ledger").last().map(|e| e.event.as_str()), Some("card.activated"));
        let n = a
            .record_handover("B00000019", false, Some("not at home"), Some("op"), |n| {
                Some(("card.handover_failed", serde_json::json!({"attempt": n})))
            })
            .expect("attempt");
        assert_eq!(n, 1);
    }

    #[test]
    fn the_archive_files_are_the_stations_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.db");
        let a = LocalArchive::open_unencrypted(&path, "S1").expect("open");
        a.append_ledger("op", None, None, "test.entry", &serde_json::json!({})).expect("ledger");
        let province = dir.path().join("provincial.db");
        crate::SqliteProvincial::open(&province, "S1", 'B').expect("province");
        for file in [path.clone(), path.with_extension("db-wal"), province] {
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    fn archive() -> (tempfile::TempDir, LocalArchive) {
        let dir = tempfile::tempdir().expect("tmp");
        let a = LocalArchive::open_unencrypted(dir.path().join("station.db"), "S1").expect("open");
        (dir, a)
    }

    fn person(a: &LocalArchive) {
        a.upsert_person(&PersonRow {
            ssn: "11010519491231002X".into(),
            name: "张三".into(),
            sex: Some("2".into()),
            birth_date: Some("19491231".into()),
        })
        .expect("person");
    }

    #[test]
    fn stats_count_each_event_per_day_operator_and_site_and_the_stock_now() {
        let (_dir, a) = archive();
        let json = serde_json::json!({});
        let mut cards = Vec::new();
        for (i, site) in [None, None, Some("T03"), Some("T03")].into_iter().enumerate() {
            let ssn = format!("1101051949123100{i}X");
            a.upsert_person(&PersonRow {
                ssn: ssn.clone(),
                name: "张三".into(),
                sex: None,
                birth_date: None,
            })
            .expect("person");
            let app = a.open_application(&ssn, "new", "{}").expect("application");
            if let Some(site) = site {
                a.set_application_site(app, site).expect("site");
            }
            let card = format!("B0000001{i}");
            a.record_card(app, &ssn, &card, "00", "3B00").expect("card");
            a.append_ledger(if i == 0 { "li" } else { "wang" }, Some(app), Some(&card), "card.made", &json)
                .expect("made");
            cards.push(card);
        }
        // Card 0 handed over and activated by li; 1 to stock; 2 and 3 to stock (site T03), 3
        // moved; a spoiled card (no card row) for the station; a line of no interest.
        a.append_ledger("li", None, Some(&cards[0]), "card.handed_over", &json).expect("l");
        a.set_card_status(&cards[0], CardStatus::Issued).expect("issued");
        a.append_ledger("li", None, Some(&cards[0]), "card.activated", &json).expect("l");
        a.set_card_status(&cards[0], CardStatus::Active).expect("active");
        for c in &cards[1..] {
            a.append_ledger("wang", None, Some(c), "card.stocked", &json).expect("l");
        }
        a.append_ledger("wang", None, Some(&cards[3]), "card.moved", &json).expect("l");
        a.append_ledger("wang", None, Some("B00000099"), "card.rejected", &json).expect("l");
        a.append_ledger("wang", None, Some(&cards[1]), "card.printed", &json).expect("l");

        let today: String =
            a.conn().query_row("SELECT date(unixepoch() + 28800, 'unixepoch')", [], |r| r.get(0)).expect("d");
        let s = a.stats(Some(&today), Some(&today), 90).expect("stats");
        let row = |op: &str, site: Option<&str>| {
            s.rows.iter().find(|r| r.operator == op && r.site.as_deref() == site).cloned().expect("row")
        };
        assert_eq!(s.rows.len(), 3, "{:?}", s.rows);
        let li = row("li", None);
        assert_eq!(
            (li.day.as_str(), li.made, li.issued, li.activated, li.stocked),
            (today.as_str(), 1, 1, 1, 0)
        );
        let wang = row("wang", None);
        assert_eq!((wang.made, wang.stocked, wang.spoiled, wang.issued), (1, 1, 1, 0));
        let t03 = row("wang", Some("T03"));
        assert_eq!((t03.made, t03.stocked, t03.received, t03.spoiled), (2, 2, 0, 0));
        // Now: the station holds card 1 in stock (card 0 is active), T03 cards 2 and 3; none is
        // dormant after 90 days, all the live unactivated ones after -1 (a day from now).
        let stock =
            |s: &Stats| s.stock.iter().map(|x| (x.site.clone(), x.in_stock, x.dormant)).collect::<Vec<_>>();
        assert_eq!(stock(&s), vec![(None, 1, 0), (Some("T03".into()), 2, 0)]);
        let all = a.stats(None, None, -1).expect("stats");
        assert_eq!(stock(&all), vec![(None, 1, 1), (Some("T03".into()), 2, 2)]);
        assert_eq!(
            all.stock.iter().map(|x| x.dormant).sum::<u64>(),
            a.dormant_cards(-1).expect("d").len() as u64
        );
        // Another range: no events, the same stock.
        let before = a.stats(Some("2000-01-01"), Some("2000-01-31"), 90).expect("stats");
        assert!(before.rows.is_empty(), "{:?}", before.rows);
        assert_eq!(stock(&before), stock(&s));
        // The day is China's: 17:00 UTC on 1 January is 2 January there.
        a.conn()
            .execute(
                "INSERT INTO ledger (at, station, operator, card_number, event, prev_hash, hash)
                 VALUES (1767286800, 'S1', 'zhao', 'B00000010', 'card.made', '', '')",
                [],
            )
            .expect("raw line");
        let jan = a.stats(Some("2026-01-02"), Some("2026-01-02"), 90).expect("stats");
        assert_eq!(
            jan.rows.iter().map(|r| (r.day.as_str(), r.operator.as_str(), r.made)).collect::<Vec<_>>(),
            [("2026-01-02", "zhao", 1)]
        );
        assert!(a.stats(Some("2026-01-01"), Some("2026-01-01"), 90).expect("stats").rows.is_empty());
    }

    #[test]
    fn migrations_wal_and_foreign_keys() {
        let (dir, a) = archive();
        assert_eq!(a.version().expect("version"), MIGRATIONS.len() as i64);
        let mode: String = a.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        let e = a.open_application("11010519491231002X", "new", "{}").expect_err("no such person");
        assert!(e.to_string().contains("FOREIGN KEY"), "{e}");
        drop(a);
        let again = LocalArchive::open_unencrypted(dir.path().join("station.db"), "S1").expect("reopen");
        assert_eq!(again.version().expect("version"), MIGRATIONS.len() as i64, "migrations run once");
    }

    /// A station archive at `path` as version `version` left it (its migrations up to that one
    /// only), opened without migrating further: what an upgrade finds.
    fn at_version(path: &Path, version: usize) -> LocalArchive {
        let mut conn = Connection::open(path).expect("open");
        conn.pragma_update(None, "foreign_keys", true).expect("fk");
        for (i, sql) in MIGRATIONS[..version].iter().enumerate() {
            let tx = conn.transaction().expect("tx");
            tx.execute_batch(sql).expect("migration");
            tx.pragma_update(None, "user_version", (i + 1) as i64).expect("version");
            tx.commit().expect("commit");
        }
        LocalArchive { conn: Mutex::new(conn), station: "S1".into(), key: None, files: None, migrated: false }
    }

    /// A ledger line as versions 1 to 8 wrote it (no MAC column yet), chained to the last.
    fn old_ledger_line(a: &LocalArchive, app: i64, card: &str, event: &str) {
        let prev: String = a
            .conn()
            .query_row("SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .expect("head")
            .unwrap_or_else(|| GENESIS.to_string());
        let seq: i64 = a.conn().query_row("SELECT count(*) + 1 FROM ledger", [], |r| r.get(0)).expect("seq");
        let mut e = LedgerEntry {
            seq,
            at: now(),
            station: "S1".into(),
            operator: "op".into(),
            application_id: Some(app),
            card_number: Some(card.into()),
            event: event.into(),
            detail: "{}".into(),
            prev_hash: prev.clone(),
            hash: String::new(),
            mac: None,
        };
        e.hash = entry_hash(&prev, &e);
        a.conn()
            .execute(
                "INSERT INTO ledger (seq, at, station, operator, application_id, card_number, event, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![e.seq, e.at, e.station, e.operator, e.application_id, e.card_number, e.event, e.detail, e.prev_hash, e.hash],
            )
            .expect("ledger line");
    }

    #[test]
    fn version_8_keeps_every_job_and_its_numbers_and_lets_a_reissue_be_held() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.db");
        {
            let a = at_version(&path, 7);
            person(&a);
            let app = a.open_application("11010519491231002X", "reissue", "{}").expect("application");
            for _ in 0..3 {
                a.create_job(app, "instant").expect("job");
            }
            a.journal(2, "claim", "done", &serde_json::json!({}), Some("{\"k\":1}"), None).expect("line");
            a.conn().execute("DELETE FROM jobs WHERE job_id = 3", []).expect("the last job gone");
            // As version 7 queued a request (its ledger line has no part here).
            a.conn()
                .execute(
                    "INSERT INTO job_requests (operator, request, status, created_at, updated_at) VALUES ('op', '{}', 'queued', 1, 1)",
                    [],
                )
                .expect("request");
            let request = a.conn().last_insert_rowid();
            a.request_job(request, 2).expect("a request pointing at job 2");
        }
        let a = LocalArchive::open_unencrypted(&path, "S1").expect("migrated");
        assert_eq!(a.version().expect("version"), MIGRATIONS.len() as i64);
        assert_eq!(a.job(2).expect("job").map(|j| j.state), Some("{\"k\":1}".into()), "kept with its state");
        assert_eq!(a.journal_of(2).expect("journal").len(), 1);
        let next = a.create_job(1, "instant").expect("job");
        assert_eq!(next, 4, "job numbers never repeat");
        a.journal(next, "feed-card", "held", &serde_json::json!({}), None, None).expect("held line");
        a.journal(next, "feed-card", "resumed", &serde_json::json!({}), None, None).expect("resumed line");
        a.set_job_status(next, "held").expect("held");
        a.set_job_status(next, "restored").expect("restored");
        assert!(a.set_job_status(next, "lost").is_err(), "still a closed list");
    }

    #[test]
    fn version_9_keeps_every_job_and_lets_a_job_wait_for_an_identity_correction() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.db");
        {
            let a = at_version(&path, 8);
            person(&a);
            let app = a.open_application("11010519491231002X", "new", "{}").expect("application");
            let job = a.create_job(app, "instant").expect("job");
            a.journal(job, "claim", "done", &serde_json::json!({}), Some("{\"k\":1}"), None).expect("line");
            a.set_job_status(job, "held").expect("held");
            assert!(a.set_job_status(job, "correcting").is_err(), "not yet");
        }
        let a = LocalArchive::open_unencrypted(&path, "S1").expect("migrated");
        assert_eq!(a.version().expect("version"), MIGRATIONS.len() as i64);
        let kept = a.job(1).expect("job").expect("kept");
        assert_eq!((kept.status.as_str(), kept.state.as_str()), ("held", "{\"k\":1}"));
        let next = a.create_job(1, "instant").expect("job");
        assert_eq!(next, 2, "job numbers go on");
        for phase in ["mismatch", "corrected", "ended"] {
            a.journal(next, "verify-identity", phase, &serde_json::json!({}), None, None).expect(phase);
        }
        a.set_job_status(next, "correcting").expect("correcting");
        assert_eq!(a.claim_holding_jobs().expect("holding"), [1, 2]);
        assert!(a.journal(next, "verify-identity", "lost", &serde_json::json!({}), None, None).is_err());
    }

    #[test]
    fn version_6_keeps_every_application_and_lets_a_made_card_wait_for_its_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.db");
        {
            // A station of version 5 with a card and its story.
            let a = at_version(&path, 5);
            person(&a);
            let app = a.open_application("11010519491231002X", "new", "{}").expect("application");
            a.record_card(app, "11010519491231002X", "B00000019", "id", "atr").expect("card");
            a.create_job(app, "instant").expect("job");
            old_ledger_line(&a, app, "B00000019", "card.made");
        }
        let a = LocalArchive::open_unencrypted(&path, "S1").expect("migrated");
        assert_eq!(a.version().expect("version"), MIGRATIONS.len() as i64);
        assert_eq!(a.application(1).expect("row").map(|r| r.0), Some("open".into()), "kept with its id");
        a.verify_ledger().expect("the ledger is untouched");
        let fk: Vec<String> = {
            let conn = a.conn();
            let mut stmt = conn.prepare("PRAGMA foreign_key_check").expect("check");
            stmt.query_map([], |r| r.get(0)).expect("rows").collect::<Result<_, _>>().expect("rows")
        };
        assert!(fk.is_empty(), "{fk:?}");
        a.set_application(1, ApplicationStatus::Made, None).expect("made");
        assert_eq!(a.open_application("11010519491231002X", "reissue", "{}").expect("no longer open"), 2);
        let e = a.conn().execute("DELETE FROM applications WHERE application_id = 1", []).expect_err("fk");
        assert!(e.to_string().contains("FOREIGN KEY"), "foreign keys still hold: {e}");
    }

    #[test]
    fn an_application_for_an_agent_site_is_listed_with_its_site_until_it_fails() {
        let (_dir, a) = archive();
        person(&a);
        let app = a.open_application("11010519491231002X", "new", r#"{"contact":{}}"#).expect("application");
        assert!(a.site_applications().expect("none").is_empty());
        a.set_application_site(app, "T03").expect("site");
        assert_eq!(a.application_site(app).expect("site").as_deref(), Some("T03"));
        let listed = a.site_applications().expect("listed");
        assert_eq!((listed.len(), listed[0].site.as_str(), listed[0].status.as_str()), (1, "T03", "open"));
        assert!(a.set_application_site(99, "T03").is_err(), "no application 99");
        a.set_application(app, ApplicationStatus::Failed, Some("refused")).expect("failed");
        assert!(a.site_applications().expect("none owed").is_empty());
    }

    #[test]
    fn one_open_application_and_one_live_card_per_person() {
        let (_dir, a) = archive();
        person(&a);
        let id = a.open_application("11010519491231002X", "new", "{}").expect("open");
        let e = a.open_application("11010519491231002X", "new", "{}").expect_err("second");
        assert!(e.to_string().contains("resume"), "{e}");
        a.record_card(id, "11010519491231002X", "B00000019", "110100D156", "3B00").expect("card");
        a.set_application(id, ApplicationStatus::Issued, None).expect("issued");
        let id2 = a.open_application("11010519491231002X", "reissue", "{}").expect("after the first ended");
        assert!(
            a.record_card(id2, "11010519491231002X", "X00000019", "x", "y").is_err(),
            "old card still live"
        );
        a.set_card_status("B00000019", CardStatus::Stopped).expect("stop");
        a.record_card(id2, "11010519491231002X", "X00000019", "x", "y").expect("new card");
        assert_eq!(a.card_status("B00000019").expect("status"), Some(CardStatus::Stopped));
    }

    #[test]
    fn the_ledger_is_chained_and_append_only() {
        let (_dir, a) = archive();
        person(&a);
        let id = a.open_application("11010519491231002X", "new", "{}").expect("open");
        for event in ["application.opened", "card.personalised", "card.printed", "card.issued"] {
            a.append_ledger(
                "op1",
                Some(id),
                Some("B00000019"),
                event,
                &serde_json::json!({"ssn": "110105********002X"}),
            )
            .expect("append");
        }
        assert_eq!(a.verify_ledger().expect("intact"), 4);
        let e = a
            .conn()
            .execute("UPDATE ledger SET event = 'card.destroyed' WHERE seq = 2", [])
            .expect_err("refused");
        assert!(e.to_string().contains("append-only"), "{e}");
        assert!(a.conn().execute("DELETE FROM ledger WHERE seq = 4", []).is_err());
        // Behind the triggers' back (a raw edit of the file): the chain shows it.
        a.conn()
            .execute_batch("DROP TRIGGER ledger_no_update; UPDATE ledger SET operator = 'op2' WHERE seq = 3;")
            .expect("tamper");
        let e = a.verify_ledger().expect_err("tampered");
        assert!(e.to_string().contains("entry 3"), "{e}");
    }

    /// A stand-in for the token's key in these tests: SM3 over a secret and the data.
    struct TestKey(u8);

    impl LedgerKey for TestKey {
        fn mac(&self, hash: &[u8]) -> Result<Vec<u8>, String> {
            let mut data = vec![self.0; 16];
            data.extend_from_slice(hash);
            Ok(card_crypto::sm3(&data)[..16].to_vec())
        }
        fn verify(&self, hash: &[u8], tag: &[u8]) -> Result<bool, String> {
            Ok(self.mac(hash)? == tag)
        }
        fn describe(&self) -> String {
            format!("test key {}", self.0)
        }
    }

    fn keyed(path: &Path, station: &str, key: u8) -> LocalArchive {
        LocalArchive::open_unencrypted(path, station)
            .expect("open")
            .with_ledger_key(std::sync::Arc::new(TestKey(key)))
    }

    fn append(a: &LocalArchive, event: &str) -> LedgerEntry {
        a.append_ledger("op", None, None, event, &serde_json::json!({"n": 1})).expect("append")
    }

    /// Every entry carries the MAC of its chain hash; a row rewritten with its plain chain
    /// recomputed (the triggers dropped) keeps a valid chain but is named by its MAC.
    #[test]
    fn a_rewritten_entry_with_its_chain_recomputed_is_named_by_its_mac() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("station.db");
        let a = keyed(&path, "S1", 7);
        for event in ["card.made", "card.handed_over", "card.activated", "reconcile.daily"] {
            assert_eq!(append(&a, event).mac.map(|m| m.len()), Some(32));
        }
        let check = a.check_ledger().expect("intact");
        assert_eq!((check.entries, check.keyed_from, check.key.as_deref()), (4, Some(1), Some("test key 7")));
        // Rewrite entry 2 and recompute the chain from there, as whoever holds the file can.
        let mut entries = a.ledger().expect("ledger");
        a.conn().execute_batch("DROP TRIGGER ledger_no_update;").expect("drop");
        entries[1].event = "card.destroyed".into();
        for i in 1..entries.len() {
            let prev = entries[i - 1].hash.clone();
            entries[i].prev_hash = prev.clone();
            entries[i].hash = entry_hash(&prev, &entries[i]);
            a.conn()
                .execute(
                    "UPDATE ledger SET event = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
                    params![entries[i].seq, entries[i].event, entries[i].prev_hash, entries[i].hash],
                )
                .expect("rewrite");
        }
        let chain_only = LocalArchive::open_unencrypted(&path, "S1").expect("keyless");
        assert_eq!(chain_only.check_ledger().expect("the plain chain holds").key, None);
        let e = a.check_ledger().expect_err("the MAC tells");
        assert!(
            e.to_string().contains("ledger entry 2 is not the one recorded") && e.to_string().contains("MAC"),
            "{e}"
        );
        // A MAC taken away is named too, and a keyless process may not append to a keyed ledger.
        a.conn().execute("UPDATE ledger SET mac = NULL WHERE seq = 4", []).expect("strip");
        let e = chain_only.check_ledger().expect_err("no MAC after MACs");
        assert!(e.to_string().contains("entry 4") && e.to_string().contains("no MAC"), "{e}");
        a.conn()
            .execute_batch("DROP TRIGGER ledger_no_delete; DELETE FROM ledger WHERE seq = 4;")
            .expect("cut");
        let e = chain_only.append_ledger("op", None, None, "x", &serde_json::json!({})).expect_err("keyless");
        assert!(e.to_string().contains("ledger key"), "{e}");
    }

    /// Another station's database (or one keyed with another key) put in the station's place
    /// fails at its first entry; entries written before the station had its key are checked
    /// by their chain, and every later one carries a MAC.
    #[test]
    fn another_stations_database_or_key_is_refused_and_older_entries_keep_their_chain() {
        let dir = tempfile::tempdir().expect("tmp");
        let other = dir.path().join("other.db");
        append(&keyed(&other, "S2", 7), "card.made");
        let e = keyed(&other, "S1", 7).check_ledger().expect_err("another station's");
        assert!(e.to_string().contains("entry 1") && e.to_string().contains("station S2 wrote it"), "{e}");
        let e = keyed(&other, "S2", 8).check_ledger().expect_err("another key");
        assert!(e.to_string().contains("entry 1") && e.to_string().contains("test key 8"), "{e}");
        let path = dir.path().join("station.db");
        append(&LocalArchive::open_unencrypted(&path, "S1").expect("before the key"), "card.made");
        let a = keyed(&path, "S1", 7);
        assert_eq!(append(&a, "card.handed_over").seq, 2);
        let check = a.check_ledger().expect("intact");
        assert_eq!((check.entries, check.keyed_from), (2, Some(2)));
        // The head the province would anchor: only one the key made.
        assert_eq!(a.ledger_head().expect("head").map(|h| h.seq), Some(2));
        let e = keyed(&other, "S2", 8).ledger_head().expect_err("another key's head");
        assert!(e.to_string().contains("entry 1") && e.to_string().contains("last entry"), "{e}");
        assert!(LocalArchive::open_unencrypted(&other, "S2")
            .expect("keyless")
            .ledger_head()
            .expect("head")
            .is_some());
    }

    /// The database on disk: no SQLite header and no applicant's bytes; it opens only with its
    /// key; a plaintext archive is encrypted once in place (its WAL's last writes kept), its
    /// ledger still verifying; another database under the name, or another key, is refused
    /// with what to do.
    #[test]
    fn the_archive_is_encrypted_on_disk_and_a_plaintext_one_is_migrated_once() {
        use crate::at_rest::DataKey;
        let dir = tempfile::tempdir().expect("tmp");
        let key = DataKey::generate().expect("random");
        let path = dir.path().join("station.db");
        let name = "张三丰";
        {
            let a = LocalArchive::open(&path, "S1", &key).expect("open");
            assert!(!a.migrated_from_plaintext() && a.file_key().is_some());
            a.upsert_person(&PersonRow {
                ssn: "11010519491231002X".into(),
                name: name.into(),
                sex: None,
                birth_date: None,
            })
            .expect("person");
            append(&a, "card.made");
        }
        let raw = |p: &Path| {
            let mut bytes = std::fs::read(p).expect("db");
            bytes.extend(std::fs::read(p.with_extension("db-wal")).unwrap_or_default());
            bytes
        };
        let on_disk = raw(&path);
        assert!(!on_disk.starts_with(SQLITE_HEADER) && !is_plaintext_database(&path));
        for needle in [name.as_bytes(), b"11010519491231002X".as_slice(), b"card.made".as_slice()] {
            assert!(!on_disk.windows(needle.len()).any(|w| w == needle), "{needle:?} in clear");
        }
        // Without the key, with another key: refused, saying what to do; nothing quotes a key.
        let e = LocalArchive::open_unencrypted(&path, "S1").err().expect("no key").to_string();
        assert!(e.contains("is encrypted"), "{e}");
        let other = DataKey::generate().expect("random");
        let e = LocalArchive::open(&path, "S1", &other).err().expect("another key").to_string();
        assert!(e.contains("does not open with this station's data key") && e.contains("same backup"), "{e}");
        let hex: String = other.bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!e.contains(&hex[..16]), "{e}");
        let a = LocalArchive::open(&path, "S1", &key).expect("reopen");
        assert_eq!(a.verify_ledger().expect("intact"), 1);
        drop(a);

        // A plaintext archive of before.
        let plain = dir.path().join("old.db");
        let old = LocalArchive::open_unencrypted(&plain, "S1").expect("plaintext");
        for event in ["card.made", "card.issued", "card.handed_over"] {
            append(&old, event);
        }
        drop(old);
        assert!(is_plaintext_database(&plain));
        let a = LocalArchive::open(&plain, "S1", &key).expect("migrated");
        assert!(a.migrated_from_plaintext());
        assert_eq!(a.verify_ledger().expect("the chain survives"), 3);
        assert_eq!(a.version().expect("version"), MIGRATIONS.len() as i64);
        let sides: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("encrypting"))
            .collect();
        assert!(sides.is_empty(), "{sides:?}");
        assert!(!is_plaintext_database(&plain));
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&plain).expect("meta").permissions());
        assert_eq!(mode & 0o777, 0o600);
        drop(a);
        let again = LocalArchive::open(&plain, "S1", &key).expect("reopen");
        assert!(!again.migrated_from_plaintext(), "migrated once");
        assert_eq!(again.verify_ledger().expect("intact"), 3);
        drop(again);

        // Another station's database put in its place: refused as not this key's.
        std::fs::copy(&plain, &path).expect("swap");
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
        let e = LocalArchive::open(&path, "S1", &other).err().expect("swapped").to_string();
        assert!(e.contains("swapped or another station's"), "{e}");
        // The raw connection an auditor's tool uses opens with the key.
        let conn = LocalArchive::raw_connection(&plain, &key).expect("raw");
        let n: i64 = conn.query_row("SELECT count(*) FROM ledger", [], |r| r.get(0)).expect("count");
        assert_eq!(n, 3);
    }
}
