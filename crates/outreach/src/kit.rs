//! The kit's session: log-in opens the encrypted store with the operator's password; the
//! visit list comes from a checkout at the provincial archive; on the visit every action is
//! checked against the lease and the issuance rules and appended to the outbox, with its
//! evidence, in one local transaction. Nothing is issued for a person the kit did not claim
//! before leaving, nor after the longest time offline.
//!
//! The outbox is an SM3 hash chain: each sealed record carries the hash of the one before it
//! (the first, a hash of the kit and lease), and a sealed head names the last record. Sealing
//! alone stops a record being forged or altered without the key, but rows can still be
//! deleted, reordered or put back from an older copy of the file; the chain and the head are
//! checked at log-in and again before a sync, and such a store is refused, never synced. A
//! whole file put back from an older copy is consistent in itself and cannot be told locally.

use std::collections::BTreeMap;
use std::path::Path;

use archive::kit::{Checkin, Checkout, CheckoutRequest, KitEvent, KitRecord, RecordResult, VisitRequest};
use archive::{ArchiveError, ProvincialArchive};
use issuance::lifecycle::{self, ActivationEvidence, Handover, LifecycleError};
use issuance::Receiver;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::identity::{IdentityError, KitIdentity};
use crate::vault::{self, random, KdfCost, Vault, VaultError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
-- One sealed body per lease (the checkout, when it was made, the check-in).
CREATE TABLE IF NOT EXISTS leases (lease_id INTEGER PRIMARY KEY, body BLOB NOT NULL);
-- The outbox: sealed records in order, and the archive's sealed result once synced.
CREATE TABLE IF NOT EXISTS outbox (
    lease_id INTEGER NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL, result BLOB,
    PRIMARY KEY (lease_id, seq));
-- What the kit carries for a person (the applicant's data for a card made on the visit), sealed.
CREATE TABLE IF NOT EXISTS carried (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
-- The journal of cards made on the visit: an attempt is opened (sealed) before a blank card is
-- fed and closed when the card is recorded or spoiled; one left open is a make that a crash or
-- a pulled card interrupted.
CREATE TABLE IF NOT EXISTS makings (
    lease_id INTEGER NOT NULL, id INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (lease_id, id));
-- Evidence captured on the visit (signature and photo images), sealed.
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT, lease_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    body BLOB NOT NULL);
";

/// Why the kit refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The person was not claimed for this kit before it left.
    #[error("not claimed for this kit before leaving ({reason}): nothing can be issued offline; send the person to a counter or put them on the next visit list")]
    NotClaimed {
        /// Why (not on the list, or refused at checkout and why).
        reason: String,
    },
    /// The kit has been offline too long.
    #[error("offline since the checkout {hours} h ago, longer than allowed: connect and sync before issuing anything")]
    MustSync {
        /// Hours since the checkout.
        hours: i64,
    },
    /// An issuance rule forbids it.
    #[error(transparent)]
    Rule(#[from] LifecycleError),
    /// The visit's state does not allow it.
    #[error("{0}")]
    Visit(String),
    /// A card was being made when the kit stopped (a crash, a pulled card): its attempt is
    /// still open in the journal.
    #[error("the making of card {card_number} (attempt {attempt}) was interrupted and is not settled: settle it first (station kit make --settle rejects the card and records it spoiled)")]
    Interrupted {
        /// The reserved number it was made under.
        card_number: String,
        /// The person's attempt.
        attempt: u32,
    },
    /// No visit list is checked out.
    #[error("no visit list checked out: check one out before leaving")]
    NoLease,
    /// The last visit list is not synced and checked in yet.
    #[error("the last visit list is not checked in: sync first")]
    LeaseOpen,
    /// The archive.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The key or a sealed record.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The kit's certificate for the provincial service.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The kit's record-signing key (in its own token) is not open, or is not the key the
    /// lease was checked out with.
    #[error("{0}")]
    RecordKey(String),
    /// The kit's token.
    #[error("the kit's token: {0}")]
    Token(#[from] keystore::Error),
    /// The local store.
    #[error("kit store: {0}")]
    Store(String),
    /// The store's outbox is not the one this kit wrote: rows deleted, reordered, altered or
    /// put back from an older copy.
    #[error("{0}: the kit's store was tampered with or restored from an old copy; do not sync, call the supervisor")]
    Tampered(String),
}

fn store_err(e: impl std::fmt::Display) -> KitError {
    KitError::Store(e.to_string())
}

/// A lease as the kit keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    /// The archive's answer to the checkout.
    pub checkout: Checkout,
    /// Unix seconds of the checkout.
    pub checked_out_at: i64,
    /// After this (unix seconds) nothing is issued before a sync.
    pub must_sync_by: i64,
    /// The check-in's answer, once synced.
    pub checkin: Option<Checkin>,
    /// The record-signing public key sent at checkout (SEC1, hex): every record of the lease
    /// is signed by it, in the kit's token. `None` for a lease from before records were signed.
    #[serde(default)]
    pub record_key: Option<String>,
}

/// One outbox record with who made it and when (kit side only), and the archive's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outgoing {
    /// What goes to the archive.
    pub record: KitRecord,
    /// The operator.
    pub operator: String,
    /// Unix seconds.
    pub at: i64,
    /// SM3 (hex) of the record before it in the outbox, as sealed (the chain's link).
    pub prev_sm3: String,
    /// The archive's result, once synced.
    #[serde(skip)]
    pub result: Option<RecordResult>,
}

/// The last link of a lease's outbox chain, sealed in `meta` and rewritten with each record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    /// Records in the outbox.
    seq: i64,
    /// SM3 (hex) of the last record as sealed (the chain's start when there is none).
    sm3: String,
}

/// Evidence kept with a record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    /// `signature` or `photo`.
    pub kind: String,
    /// SM3 of the bytes (hex), as the record carries it.
    pub sm3: String,
    /// The image.
    pub bytes: Vec<u8>,
}

/// One attempt at making a card on the visit, journalled (sealed) before the blank card is
/// fed, so that a crash or a pulled card in the middle leaves it open and the next make finds
/// the spoiled card instead of forgetting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Making {
    /// Its row in the lease's journal, from 1.
    pub id: i64,
    /// The person.
    pub ssn: String,
    /// The reserved number the card is made under.
    pub card_number: String,
    /// The person's attempt on this visit list, from 1.
    pub attempt: u32,
    /// Unix seconds when it began.
    pub begun_at: i64,
    /// The device steps done so far (`fed`, `printed`, ...), each journalled once it is done.
    #[serde(default)]
    pub steps: Vec<String>,
    /// How it ended; `None` while the card is being made (or the make was interrupted).
    pub ended: Option<MakingEnd>,
}

/// How an attempt at making a card ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "kebab-case")]
pub enum MakingEnd {
    /// Read back and recorded as outbox record `seq`.
    Made {
        /// The outbox record.
        seq: i64,
    },
    /// Spoiled: rejected (or taken out by the operator) and recorded as outbox record `seq`.
    Spoiled {
        /// Why.
        reason: String,
        /// The outbox record.
        seq: i64,
    },
    /// No card left the hopper: nothing was spent.
    NotFed {
        /// Why.
        reason: String,
    },
}

/// Where a person on the list stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitState {
    /// The card made on the visit.
    pub made: Option<String>,
    /// Cards handed over.
    pub handed_over: Vec<String>,
    /// Cards activated.
    pub activated: Vec<String>,
    /// Failures recorded.
    pub failures: Vec<String>,
    /// Cards spoiled while making theirs: why.
    pub spoiled: Vec<String>,
}

/// What the kit carries for a person, opened (zeroized when dropped).
pub type Carried = zeroize::Zeroizing<Vec<u8>>;

/// The clock (unix seconds); tests move it.
pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

fn system_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// SM3 (hex) of evidence bytes.
pub fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(card_crypto::sm3(bytes))
}

/// A logged-in kit.
pub struct Kit {
    conn: Connection,
    vault: Vault,
    kit_id: String,
    operator: String,
    lease: Option<Lease>,
    outbox: Vec<Outgoing>,
    head: Option<Head>,
    makings: Vec<Making>,
    clock: Clock,
    record_key: Option<keystore::RecordKey>,
}

/// What to do when the kit's record-signing key is not open.
const NO_RECORD_KEY: &str =
    "the kit's record-signing key is not open: every record the kit writes is signed in \
     its own token; plug the kit's token in and name it in the kit's configuration ([kit] record_key and \
     [kit.token]; the key is made once with station kit keys generate)";

impl Kit {
    /// Creates the kit's store at `path` (it must not exist) for `kit_id` (its certificate
    /// name at the province), sealed under `password`.
    pub fn create(path: &Path, kit_id: &str, operator: &str, password: &str) -> Result<Kit, KitError> {
        if path.exists() {
            return Err(KitError::Store(format!("{} exists: log in instead", path.display())));
        }
        vault::passphrase_policy(password, kit_id)?;
        let conn = open_db(path)?;
        let salt = random::<16>()?;
        let cost = KdfCost::STOLEN_LAPTOP;
        let vault = Vault::derive(password, &salt, cost)?;
        let check = vault.seal("meta:check", b"outreach-kit")?;
        let kit = vault.seal("meta:kit", kit_id.as_bytes())?;
        let kdf = cost.to_text().into_bytes();
        for (name, value) in [("salt", salt.to_vec()), ("kdf", kdf), ("check", check), ("kit", kit)] {
            conn.execute("INSERT INTO meta (name, value) VALUES (?1, ?2)", params![name, value])
                .map_err(store_err)?;
        }
        Kit::load(conn, vault, operator)
    }

    /// Logs in: derives the key from `password`; a wrong password opens nothing.
    pub fn open(path: &Path, operator: &str, password: &str) -> Result<Kit, KitError> {
        if !path.exists() {
            return Err(KitError::Store(format!("no kit store at {}", path.display())));
        }
        let conn = open_db(path)?;
        let salt: Vec<u8> = meta(&conn, "salt")?;
        // The cost the store was made with; a store from before it was kept is the legacy one.
        let kdf: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE name = 'kdf'", [], |r| r.get(0))
            .optional()
            .map_err(store_err)?;
        let cost = match kdf {
            Some(text) => String::from_utf8(text).ok().as_deref().and_then(KdfCost::parse).ok_or_else(|| {
                KitError::Store(
                    "the store's key derivation row is damaged or asks for too little: do not use this store, \
                     call the supervisor"
                        .into(),
                )
            })?,
            None => KdfCost::LEGACY,
        };
        let vault = Vault::derive(password, &salt, cost)?;
        vault.open("meta:check", &meta(&conn, "check")?)?;
        Kit::load(conn, vault, operator)
    }

    fn load(conn: Connection, vault: Vault, operator: &str) -> Result<Kit, KitError> {
        let kit_id =
            String::from_utf8(vault.open("meta:kit", &meta(&conn, "kit")?)?.to_vec()).map_err(store_err)?;
        let mut kit = Kit {
            conn,
            vault,
            kit_id,
            operator: operator.to_string(),
            lease: None,
            outbox: Vec::new(),
            head: None,
            makings: Vec::new(),
            clock: Box::new(system_now),
            record_key: None,
        };
        if let Some((lease, outbox, head)) = kit.read_current()? {
            kit.makings = kit.read_makings(lease.checkout.lease_id)?;
            kit.lease = Some(lease);
            kit.outbox = outbox;
            kit.head = Some(head);
        }
        Ok(kit)
    }

    /// The current lease, its outbox and head as the file holds them, the chain checked.
    fn read_current(&self) -> Result<Option<(Lease, Vec<Outgoing>, Head)>, KitError> {
        let latest = self
            .conn
            .query_row("SELECT lease_id, body FROM leases ORDER BY lease_id DESC LIMIT 1", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()
            .map_err(store_err)?;
        let current = self.sealed_meta::<i64>("current_lease")?;
        let (id, body) = match (latest, current) {
            (None, None) => return Ok(None),
            (Some((id, body)), Some(current)) if id == current => (id, body),
            (_, Some(current)) => {
                return Err(KitError::Tampered(format!(
                    "the kit's current visit list (lease {current}) is missing"
                )))
            }
            (Some((id, _)), None) => {
                return Err(KitError::Tampered(format!(
                    "lease {id} is in the store but was never checked out here"
                )))
            }
        };
        let lease: Lease = serde_json::from_slice(
            &self
                .vault
                .open(&format!("lease:{id}"), &body)
                .map_err(|_| KitError::Tampered(format!("the record of lease {id} was altered or moved")))?,
        )
        .map_err(store_err)?;
        let head: Head = self
            .sealed_meta(&format!("head:{id}"))?
            .ok_or_else(|| KitError::Tampered(format!("the head of lease {id}'s outbox is missing")))?;
        let outbox = self.read_outbox(id, &head)?;
        Ok(Some((lease, outbox, head)))
    }

    /// A row of `meta` as stored (sealed), if there is one.
    fn meta_row(&self, name: &str) -> Result<Option<Vec<u8>>, KitError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(store_err)
    }

    /// A sealed JSON value of `meta`, if there is one.
    fn sealed_meta<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, KitError> {
        let Some(sealed) = self.meta_row(name)? else { return Ok(None) };
        let plain = self
            .vault
            .open(&format!("meta:{name}"), &sealed)
            .map_err(|_| KitError::Tampered(format!("the kit's {name} was altered")))?;
        serde_json::from_slice(&plain).map(Some).map_err(store_err)
    }

    /// Seals a JSON value for the `meta` row `name`.
    fn seal_meta<T: Serialize>(&self, name: &str, value: &T) -> Result<Vec<u8>, KitError> {
        Ok(self.vault.seal(&format!("meta:{name}"), &serde_json::to_vec(value).map_err(store_err)?)?)
    }

    /// The start of lease `lease_id`'s chain: no record can be moved from another kit or lease.
    fn chain_start(&self, lease_id: i64) -> String {
        sm3_hex(format!("outreach-outbox:{}:{lease_id}", self.kit_id).as_bytes())
    }

    /// Reads the outbox of `lease_id` in order and checks its chain up to `head`: every
    /// record in its place (1, 2, 3, ... without gaps), each carrying the hash of the one
    /// before, the last one the head's.
    fn read_outbox(&self, lease_id: i64, head: &Head) -> Result<Vec<Outgoing>, KitError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, CAST(body AS BLOB), CAST(result AS BLOB) FROM outbox \
                 WHERE lease_id = ?1 ORDER BY seq",
            )
            .map_err(store_err)?;
        let rows = stmt
            .query_map([lease_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Option<Vec<u8>>>(2)?))
            })
            .map_err(store_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(store_err)?;
        let mut out = Vec::new();
        let mut prev = self.chain_start(lease_id);
        let missing = |n: i64| KitError::Tampered(format!("outbox record {n} is missing or out of order"));
        for (n, (seq, body, result)) in (1i64..).zip(rows) {
            if seq != n {
                return Err(missing(n));
            }
            let altered = || KitError::Tampered(format!("outbox record {n} was altered or moved"));
            let plain = self.vault.open(&format!("outbox:{lease_id}:{seq}"), &body).map_err(|_| altered())?;
            let mut o: Outgoing = serde_json::from_slice(&plain).map_err(|_| altered())?;
            if o.record.seq != n || o.record.lease_id != lease_id || o.prev_sm3 != prev {
                return Err(missing(n));
            }
            prev = sm3_hex(&plain);
            if let Some(result) = result {
                let opened =
                    self.vault.open(&format!("result:{lease_id}:{seq}"), &result).map_err(|_| altered())?;
                o.result = Some(serde_json::from_slice(&opened).map_err(store_err)?);
            }
            out.push(o);
        }
        let n = out.len() as i64;
        if head.seq > n {
            return Err(missing(n + 1));
        }
        // Rows and head put back together from an older copy leave the later evidence behind.
        let evidence: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM evidence WHERE lease_id = ?1", [lease_id], |r| r.get(0))
            .map_err(store_err)?;
        if evidence.is_some_and(|m| m > n) {
            return Err(missing(n + 1));
        }
        if head.seq < n || head.sm3 != prev {
            return Err(KitError::Tampered(format!(
                "the outbox holds {n} records but its head names {}: they do not belong together",
                head.seq
            )));
        }
        Ok(out)
    }

    /// Checks that the file still holds what this session wrote: the current lease, every
    /// outbox record in its place and the chain unbroken. [`crate::sync`] calls it first, so a
    /// store tampered with while logged in is never synced.
    pub fn verify_store(&self) -> Result<(), KitError> {
        let on_file = self.read_current()?;
        let ours = self.lease.as_ref().map(|l| l.checkout.lease_id);
        let theirs = on_file.as_ref().map(|(l, _, _)| l.checkout.lease_id);
        if ours != theirs {
            return Err(KitError::Tampered("the kit's current visit list changed under this session".into()));
        }
        if let Some((_, outbox, head)) = on_file {
            if Some(&head) != self.head.as_ref() || outbox.len() != self.outbox.len() {
                return Err(KitError::Tampered(format!(
                    "the outbox holds {} records, this session wrote {}",
                    outbox.len(),
                    self.outbox.len()
                )));
            }
        }
        Ok(())
    }

    /// Signs the kit's records with `key`, its record-signing key in its own token: the
    /// checkout sends its public half, and every record is signed by it before it is sealed.
    pub fn use_record_key(&mut self, key: keystore::RecordKey) {
        self.record_key = Some(key);
    }

    /// The record key the token holds, checked against the one `lease` was checked out with.
    fn signer_for(&self, lease: &Lease) -> Result<&keystore::RecordKey, KitError> {
        let key = self.record_key.as_ref().ok_or_else(|| KitError::RecordKey(NO_RECORD_KEY.into()))?;
        let id = lease.checkout.lease_id;
        match lease.record_key.as_deref() {
            None => Err(KitError::RecordKey(format!(
                "lease {id} was checked out before the kit signed its records: the province refuses its records; \
                 bring the kit and its cards back and settle the lease with the supervisor"
            ))),
            Some(sent) if sent.eq_ignore_ascii_case(&hex::encode(key.public_key())) => Ok(key),
            Some(_) => Err(KitError::RecordKey(format!(
                "the token's record key {:?} is not the one lease {id} was checked out with: plug in the kit's own \
                 token (the province refuses records signed by another key)",
                key.label()
            ))),
        }
    }

    /// Replaces the clock (tests of the longest time offline).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Now by the kit's clock (unix seconds).
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The kit's id at the province.
    pub fn kit_id(&self) -> &str {
        &self.kit_id
    }

    /// Seals the kit's certificate and key (`kit-KIT.pem` from the province) in the store,
    /// in place of any earlier one: the kit's first certificate and each renewal. Refused
    /// unless the certificate is this kit's, with its own key, and has not ended. The caller
    /// zeroizes `pem` and has the file deleted.
    pub fn import_identity(&mut self, pem: &[u8]) -> Result<provincial::pki::ClientCertificate, KitError> {
        let identity =
            KitIdentity::check(zeroize::Zeroizing::new(pem.to_vec()), &self.kit_id, (self.clock)())?;
        let sealed = self.vault.seal("meta:identity", identity.pem())?;
        self.conn
            .execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('identity', ?1)", [sealed])
            .map_err(store_err)?;
        Ok(identity.certificate().clone())
    }

    /// The kit's certificate as the store holds it (what it says, not the key), if one was
    /// imported; it may have ended.
    pub fn certificate(&self) -> Result<Option<provincial::pki::ClientCertificate>, KitError> {
        let Some(pem) = self.identity_pem()? else { return Ok(None) };
        Ok(Some(provincial::pki::client_certificate(&pem).map_err(IdentityError::from)?))
    }

    /// The kit's certificate and key for a connection to the provincial service: from the
    /// sealed store or, deprecated, from `file` (checked the same way). `warn` is told at once
    /// of the deprecated file and of a certificate about to end.
    pub fn identity_for_connection(
        &self,
        file: Option<&Path>,
        warn: &mut dyn FnMut(&str),
    ) -> Result<KitIdentity, KitError> {
        let identity = match file {
            None => self.identity()?,
            Some(path) => {
                warn(&format!(
                    "a kit's key in a file ({}) is deprecated: import it into the kit's sealed store \
                     (station kit identity --import FILE --remove-file) and connect without the file",
                    path.display()
                ));
                KitIdentity::from_file(path, self.kit_id(), self.now())?
            }
        };
        if let Some(w) = crate::identity::renewal_warning(identity.certificate(), self.now()) {
            warn(&w);
        }
        Ok(identity)
    }

    /// The kit's certificate and key for a connection to the provincial service (zeroized
    /// when dropped). Refused, with what to do, when none was imported or it has ended.
    pub fn identity(&self) -> Result<KitIdentity, KitError> {
        let pem = self.identity_pem()?.ok_or_else(|| IdentityError::Missing { kit: self.kit_id.clone() })?;
        Ok(KitIdentity::check(pem, &self.kit_id, (self.clock)())?)
    }

    fn identity_pem(&self) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, KitError> {
        let Some(sealed) = self.meta_row("identity")? else { return Ok(None) };
        let pem = self
            .vault
            .open("meta:identity", &sealed)
            .map_err(|_| KitError::Tampered("the kit's certificate was altered or moved".into()))?;
        Ok(Some(pem))
    }

    /// The current (or last) lease.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// The current lease's outbox, in order, with results where synced.
    pub fn outbox(&self) -> &[Outgoing] {
        &self.outbox
    }

    /// Checks a visit list out: the archive claims the people for this kit and reserves a card
    /// number for each. `max_offline_seconds` (capped by the lease) is how long the kit may
    /// issue before it must sync. A checkout whose answer was lost is resent with the same
    /// request id, so nothing is leased twice.
    pub fn checkout(
        &mut self,
        archive: &dyn ProvincialArchive,
        visits: Vec<VisitRequest>,
        lease_seconds: i64,
        max_offline_seconds: i64,
    ) -> Result<&Checkout, KitError> {
        if self.lease.as_ref().is_some_and(|l| l.checkin.is_none()) {
            return Err(KitError::LeaseOpen);
        }
        let record_key = hex::encode(
            self.record_key.as_ref().ok_or_else(|| KitError::RecordKey(NO_RECORD_KEY.into()))?.public_key(),
        );
        let pending: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'pending_checkout'", [], |r| r.get(0))
            .optional()
            .map_err(store_err)?;
        let request = match pending {
            Some(sealed) => {
                let q: CheckoutRequest =
                    serde_json::from_slice(&self.vault.open("meta:pending_checkout", &sealed)?)
                        .map_err(store_err)?;
                if q.visits != visits {
                    return Err(KitError::Visit(
                        "an earlier checkout is still unanswered: retry it with the same list".into(),
                    ));
                }
                if q.record_key.as_deref() != Some(record_key.as_str()) {
                    return Err(KitError::RecordKey(
                        "an earlier checkout, still unanswered, sent another record key: retry it with the token \
                         that was plugged in then"
                            .into(),
                    ));
                }
                q
            }
            None => {
                let q = CheckoutRequest {
                    request_id: format!("{}/checkout/{}", self.kit_id, hex::encode(random::<8>()?)),
                    visits,
                    lease_seconds,
                    record_key: Some(record_key),
                };
                let sealed =
                    self.vault.seal("meta:pending_checkout", &serde_json::to_vec(&q).map_err(store_err)?)?;
                self.conn
                    .execute("INSERT INTO meta (name, value) VALUES ('pending_checkout', ?1)", [sealed])
                    .map_err(store_err)?;
                q
            }
        };
        let checkout = archive.checkout(&request)?;
        let now = (self.clock)();
        let must_sync_by = (now + max_offline_seconds).min(checkout.expires_at);
        let lease = Lease {
            checkout,
            checked_out_at: now,
            must_sync_by,
            checkin: None,
            record_key: request.record_key.clone(),
        };
        let id = lease.checkout.lease_id;
        let body =
            self.vault.seal(&format!("lease:{id}"), &serde_json::to_vec(&lease).map_err(store_err)?)?;
        let head = Head { seq: 0, sm3: self.chain_start(id) };
        let sealed_head = self.seal_meta(&format!("head:{id}"), &head)?;
        let current = self.seal_meta("current_lease", &id)?;
        let tx = self.conn.unchecked_transaction().map_err(store_err)?;
        tx.execute("INSERT OR REPLACE INTO leases (lease_id, body) VALUES (?1, ?2)", params![id, body])
            .map_err(store_err)?;
        tx.execute("DELETE FROM meta WHERE name = 'pending_checkout'", []).map_err(store_err)?;
        for (name, value) in [(format!("head:{id}"), sealed_head), ("current_lease".to_string(), current)] {
            tx.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)", params![name, value])
                .map_err(store_err)?;
        }
        tx.commit().map_err(store_err)?;
        self.lease = Some(lease);
        self.outbox.clear();
        self.makings.clear();
        self.head = Some(head);
        Ok(&self.lease.as_ref().ok_or(KitError::NoLease)?.checkout)
    }

    /// Where each leased person stands, from the outbox.
    pub fn visit_states(&self) -> BTreeMap<String, VisitState> {
        let mut states: BTreeMap<String, VisitState> = BTreeMap::new();
        if let Some(l) = &self.lease {
            for v in &l.checkout.visits {
                states.insert(v.ssn.clone(), VisitState::default());
            }
        }
        for o in &self.outbox {
            let s = states.entry(o.record.event.ssn().to_string()).or_default();
            match &o.record.event {
                KitEvent::Made { claim_id, .. } => {
                    s.made = self.lease.as_ref().and_then(|l| {
                        l.checkout
                            .visits
                            .iter()
                            .find(|v| v.claim_id == *claim_id)
                            .map(|v| v.card_number.clone())
                    })
                }
                KitEvent::HandedOver { card_number, .. } => s.handed_over.push(card_number.clone()),
                KitEvent::Activated { card_number, .. } => s.activated.push(card_number.clone()),
                KitEvent::VisitFailed { reason, .. } => s.failures.push(reason.clone()),
                KitEvent::Spoiled { reason, .. } => s.spoiled.push(reason.clone()),
            }
        }
        states
    }

    /// Cards in the kit's custody now: pre-made cards checked out and not handed over, and
    /// cards made on the visit and not handed over. What the operator must bring back.
    pub fn in_custody(&self) -> Vec<String> {
        let Some(lease) = self.lease.as_ref().filter(|l| l.checkin.is_none()) else {
            return Vec::new();
        };
        let states = self.visit_states();
        let mut cards = Vec::new();
        for v in &lease.checkout.visits {
            let s = states.get(&v.ssn).cloned().unwrap_or_default();
            for card in v.premade_card.iter().chain(s.made.iter()) {
                if !s.handed_over.contains(card) {
                    cards.push(card.clone());
                }
            }
        }
        cards
    }

    /// The leased visit of `ssn`, if issuing is allowed now.
    fn may_issue(&self, ssn: &str) -> Result<(archive::kit::LeasedVisit, VisitState), KitError> {
        let lease = self.lease.as_ref().ok_or(KitError::NoLease)?;
        if lease.checkin.is_some() {
            return Err(KitError::NoLease);
        }
        let now = (self.clock)();
        if now > lease.must_sync_by {
            return Err(KitError::MustSync { hours: (now - lease.checked_out_at) / 3600 });
        }
        // Asked before anything is spent: a record that cannot be signed cannot be kept.
        self.signer_for(lease)?;
        let Some(visit) = lease.checkout.visits.iter().find(|v| v.ssn == ssn) else {
            let reason = match lease.checkout.refused.iter().find(|r| r.ssn == ssn) {
                Some(r) => format!("refused at checkout: {}", r.refusal),
                None => "not on the visit list".to_string(),
            };
            return Err(KitError::NotClaimed { reason });
        };
        Ok((visit.clone(), self.visit_states().remove(ssn).unwrap_or_default()))
    }

    /// Appends a record and its evidence in one local transaction.
    fn append(&mut self, event: KitEvent, evidence: Vec<Evidence>) -> Result<i64, KitError> {
        self.append_closing(event, evidence, None)
    }

    /// Appends a record and its evidence, and closes the making it ends (`closing`, with the
    /// record's `seq`), in one local transaction: the journal never says a card was made or
    /// spoiled that the outbox does not hold, nor the reverse.
    fn append_closing(
        &mut self,
        event: KitEvent,
        evidence: Vec<Evidence>,
        closing: Option<(Making, &dyn Fn(i64) -> MakingEnd)>,
    ) -> Result<i64, KitError> {
        let lease = self.lease.as_ref().ok_or(KitError::NoLease)?;
        let lease_id = lease.checkout.lease_id;
        let seq = self.outbox.len() as i64 + 1;
        let closed = closing.map(|(m, end)| Making { ended: Some(end(seq)), ..m });
        let mut record = KitRecord {
            record_id: format!("{}/{lease_id}/{seq}", self.kit_id),
            lease_id,
            seq,
            event,
            signature: None,
        };
        // Signed in the token before it is sealed: the passphrase that opens the store does
        // not make this signature.
        let signature = self.signer_for(lease)?.sign(&archive::kit::signing_bytes(&record))?;
        record.signature = Some(hex::encode(signature));
        let prev_sm3 = self.head.as_ref().map(|h| h.sm3.clone()).ok_or(KitError::NoLease)?;
        let o =
            Outgoing { record, operator: self.operator.clone(), at: (self.clock)(), prev_sm3, result: None };
        let plain = serde_json::to_vec(&o).map_err(store_err)?;
        let body = self.vault.seal(&format!("outbox:{lease_id}:{seq}"), &plain)?;
        let head = Head { seq, sm3: sm3_hex(&plain) };
        let sealed_head = self.seal_meta(&format!("head:{lease_id}"), &head)?;
        let tx = self.conn.unchecked_transaction().map_err(store_err)?;
        tx.execute(
            "INSERT INTO outbox (lease_id, seq, body) VALUES (?1, ?2, ?3)",
            params![lease_id, seq, body],
        )
        .map_err(store_err)?;
        tx.execute(
            "UPDATE meta SET value = ?2 WHERE name = ?1",
            params![format!("head:{lease_id}"), sealed_head],
        )
        .map_err(store_err)?;
        for e in &evidence {
            let sealed = self.vault.seal(
                &format!("evidence:{lease_id}:{seq}:{}", e.kind),
                &serde_json::to_vec(e).map_err(store_err)?,
            )?;
            tx.execute(
                "INSERT INTO evidence (lease_id, seq, kind, body) VALUES (?1, ?2, ?3, ?4)",
                params![lease_id, seq, e.kind, sealed],
            )
            .map_err(store_err)?;
        }
        if let Some(m) = &closed {
            self.write_making(&tx, lease_id, m)?;
        }
        tx.commit().map_err(store_err)?;
        self.outbox.push(o);
        self.head = Some(head);
        if let Some(m) = closed {
            self.keep_making(m);
        }
        Ok(seq)
    }

    /// The lease's journal of cards made on the visit, in order.
    fn read_makings(&self, lease_id: i64) -> Result<Vec<Making>, KitError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, CAST(body AS BLOB) FROM makings WHERE lease_id = ?1 ORDER BY id")
            .map_err(store_err)?;
        let rows = stmt
            .query_map([lease_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(store_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(store_err)?;
        let mut out = Vec::new();
        for (n, (id, body)) in (1i64..).zip(rows) {
            let altered =
                || KitError::Tampered(format!("the journal of card making, row {id}, was altered or moved"));
            let plain = self.vault.open(&format!("making:{lease_id}:{id}"), &body).map_err(|_| altered())?;
            let m: Making = serde_json::from_slice(&plain).map_err(|_| altered())?;
            if m.id != id || id != n {
                return Err(altered());
            }
            out.push(m);
        }
        // A deleted row would hide a spoiled card: the sealed count names every attempt begun.
        let begun = self.sealed_meta::<i64>(&format!("makings:{lease_id}"))?.unwrap_or(0);
        if begun != out.len() as i64 {
            return Err(KitError::Tampered(format!(
                "the journal of card making holds {} attempts, {begun} were begun",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Writes (sealed) one row of the journal of card making.
    fn write_making(&self, conn: &Connection, lease_id: i64, m: &Making) -> Result<(), KitError> {
        let body = self
            .vault
            .seal(&format!("making:{lease_id}:{}", m.id), &serde_json::to_vec(m).map_err(store_err)?)?;
        conn.execute(
            "INSERT OR REPLACE INTO makings (lease_id, id, body) VALUES (?1, ?2, ?3)",
            params![lease_id, m.id, body],
        )
        .map_err(store_err)?;
        Ok(())
    }

    fn keep_making(&mut self, m: Making) {
        match self.makings.iter_mut().find(|k| k.id == m.id) {
            Some(k) => *k = m,
            None => self.makings.push(m),
        }
    }

    /// The journal of cards made on this visit list, in order.
    pub fn makings(&self) -> &[Making] {
        &self.makings
    }

    /// The make a crash or a pulled card interrupted: begun and never closed. Settle it
    /// ([`Kit::spoil_making`] or [`Kit::making_not_fed`]) before anything else is made or synced.
    pub fn interrupted_making(&self) -> Option<&Making> {
        self.makings.iter().find(|m| m.ended.is_none())
    }

    fn interrupted(m: &Making) -> KitError {
        KitError::Interrupted { card_number: m.card_number.clone(), attempt: m.attempt }
    }

    /// Journals the making of `ssn`'s card under their reserved number: call it before the
    /// blank card is fed. Refused while an earlier make is not settled.
    pub fn begin_making(&mut self, ssn: &str) -> Result<Making, KitError> {
        if let Some(open) = self.interrupted_making() {
            return Err(Kit::interrupted(open));
        }
        let visit = self.may_make(ssn)?;
        let lease_id = self.lease.as_ref().ok_or(KitError::NoLease)?.checkout.lease_id;
        let m = Making {
            id: self.makings.len() as i64 + 1,
            ssn: ssn.into(),
            card_number: visit.card_number,
            attempt: self.makings.iter().filter(|m| m.ssn == ssn).count() as u32 + 1,
            begun_at: (self.clock)(),
            steps: Vec::new(),
            ended: None,
        };
        let begun = self.seal_meta(&format!("makings:{lease_id}"), &m.id)?;
        let tx = self.conn.unchecked_transaction().map_err(store_err)?;
        self.write_making(&tx, lease_id, &m)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
            params![format!("makings:{lease_id}"), begun],
        )
        .map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        self.makings.push(m.clone());
        Ok(m)
    }

    /// The open make's card is spoiled (a device fault, or found after a crash): it is in the
    /// reject box or the operator took it out. Records it in the outbox for the province
    /// ([`KitEvent::Spoiled`]) and closes the attempt, in one transaction; the number stays
    /// reserved for the next card. Allowed even after the longest time offline: it happened.
    pub fn spoil_making(&mut self, reason: &str) -> Result<i64, KitError> {
        let m = self.open_making()?;
        if reason.trim().is_empty() {
            return Err(KitError::Visit("record why the card was spoiled".into()));
        }
        let event = KitEvent::Spoiled {
            ssn: m.ssn.clone(),
            card_number: m.card_number.clone(),
            reason: reason.into(),
        };
        let end = |seq| MakingEnd::Spoiled { reason: reason.into(), seq };
        self.append_closing(event, Vec::new(), Some((m, &end)))
    }

    /// Journals a device step of the open make once it is done (`fed`, `printed`, ...): after
    /// a crash, a card that is no longer in the printer was fed or not by this journal.
    pub fn making_step(&mut self, step: &str) -> Result<(), KitError> {
        let mut m = self.open_making()?;
        let lease_id = self.lease.as_ref().ok_or(KitError::NoLease)?.checkout.lease_id;
        m.steps.push(step.into());
        self.write_making(&self.conn, lease_id, &m)?;
        self.keep_making(m);
        Ok(())
    }

    /// The open make never fed a card (the printer said so): the attempt is closed, nothing
    /// was spent and nothing goes to the province.
    pub fn making_not_fed(&mut self, reason: &str) -> Result<(), KitError> {
        let m = self.open_making()?;
        let lease_id = self.lease.as_ref().ok_or(KitError::NoLease)?.checkout.lease_id;
        let closed = Making { ended: Some(MakingEnd::NotFed { reason: reason.into() }), ..m };
        self.write_making(&self.conn, lease_id, &closed)?;
        self.keep_making(closed);
        Ok(())
    }

    fn open_making(&self) -> Result<Making, KitError> {
        let lease = self.lease.as_ref().ok_or(KitError::NoLease)?;
        if lease.checkin.is_some() {
            return Err(KitError::NoLease);
        }
        self.interrupted_making().cloned().ok_or_else(|| KitError::Visit("no card is being made".into()))
    }

    /// Evidence kept with record `seq` of the current lease.
    pub fn evidence(&self, seq: i64) -> Result<Vec<Evidence>, KitError> {
        let lease_id = self.lease.as_ref().ok_or(KitError::NoLease)?.checkout.lease_id;
        let mut stmt = self
            .conn
            .prepare("SELECT kind, body FROM evidence WHERE lease_id = ?1 AND seq = ?2 ORDER BY id")
            .map_err(store_err)?;
        let rows = stmt
            .query_map(params![lease_id, seq], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(store_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(store_err)?;
        let mut out = Vec::new();
        for (kind, body) in rows {
            let opened = self.vault.open(&format!("evidence:{lease_id}:{seq}:{kind}"), &body)?;
            out.push(serde_json::from_slice(&opened).map_err(store_err)?);
        }
        Ok(out)
    }

    /// Makes a card on the visit for a claimed person without a pre-made card: the reserved
    /// number is the card's. `card_id` and `atr` are what the chip reads back.
    /// The make journalled by [`Kit::begin_making`] for `ssn`, if open, is closed with it.
    pub fn make_card(&mut self, ssn: &str, card_id: &str, atr: &str) -> Result<String, KitError> {
        let open = self.interrupted_making().cloned();
        if let Some(m) = open.as_ref().filter(|m| m.ssn != ssn) {
            return Err(Kit::interrupted(m));
        }
        let visit = self.may_make(ssn)?;
        if card_id.is_empty() || atr.is_empty() {
            return Err(KitError::Visit(
                "read the new card back (card id and ATR) before recording it".into(),
            ));
        }
        let event = KitEvent::Made {
            ssn: ssn.into(),
            claim_id: visit.claim_id,
            card_id: card_id.into(),
            atr: atr.into(),
        };
        let end = |seq| MakingEnd::Made { seq };
        self.append_closing(event, Vec::new(), open.map(|m| (m, &end as &dyn Fn(i64) -> MakingEnd)))?;
        Ok(visit.card_number)
    }

    /// Whether a card may be made on the visit for `ssn` now (asked before a blank card is
    /// spent): the person's leased visit, with the number reserved for them.
    pub fn may_make(&self, ssn: &str) -> Result<archive::kit::LeasedVisit, KitError> {
        let (visit, state) = self.may_issue(ssn)?;
        if let Some(premade) = &visit.premade_card {
            return Err(KitError::Visit(format!(
                "card {premade} was made for this person and travels with the kit: hand it over instead"
            )));
        }
        if let Some(made) = state.made {
            return Err(KitError::Visit(format!(
                "card {made} was already made for this person on this visit list"
            )));
        }
        Ok(visit)
    }

    /// Hands a card (pre-made, or made on this visit) to its holder, who signs; or records
    /// why it could not be handed over (RULES 5 and 6 of the counter, the same checks). The
    /// receiver (RULE 4) is the holder, the number on the ID document checked equal to the
    /// visit's, or a custodian admitted today (the kit's clock) by one of the card's custody
    /// approvals the kit carries from its checkout; the record names that approval, and the
    /// province checks it again when the record arrives.
    pub fn hand_over(
        &mut self,
        ssn: &str,
        card: &str,
        signer: &str,
        signature: Option<&[u8]>,
        failure: Option<&str>,
        receiver: Option<&Receiver>,
    ) -> Result<i64, KitError> {
        let (visit, state) = self.may_issue(ssn)?;
        let custodian = match failure {
            None => {
                let today = applicant::days::date(applicant::days::day_of_unix(self.now()))
                    .map(|d| d.compact())
                    .unwrap_or_default();
                lifecycle::check_receiver_on_visit(ssn, card, receiver, &visit.custody, &today)?
            }
            Some(_) => None,
        };
        let ours = visit.premade_card.as_deref() == Some(card) || state.made.as_deref() == Some(card);
        if !ours {
            return Err(KitError::Visit(format!(
                "card {card} is not this person's card in the kit's custody"
            )));
        }
        if state.handed_over.iter().any(|c| c == card) {
            return Err(KitError::Visit(format!("card {card} was already handed over")));
        }
        let signature_sm3 = signature.map(sm3_hex).unwrap_or_default();
        let outcome = match failure {
            Some(reason) => Handover::Failed { reason: reason.into() },
            None => Handover::Delivered { signer: signer.into(), signature_sm3: signature_sm3.clone() },
        };
        if let Some(reason) = lifecycle::check_handover(&outcome)? {
            let event = KitEvent::VisitFailed {
                ssn: ssn.into(),
                card_number: Some(card.into()),
                reason: reason.into(),
            };
            return self.append(event, Vec::new());
        }
        let evidence = vec![Evidence {
            kind: "signature".into(),
            sm3: signature_sm3.clone(),
            bytes: signature.unwrap_or_default().to_vec(),
        }];
        let event = KitEvent::HandedOver {
            ssn: ssn.into(),
            card_number: card.into(),
            signer: signer.into(),
            signature_sm3,
            custodian,
        };
        self.append(event, evidence)
    }

    /// Activates the financial function face to face (RULE 3, the counter's check): only a
    /// card handed over on this visit, the holder present, their ID checked and photo taken now.
    pub fn activate(
        &mut self,
        ssn: &str,
        card: &str,
        evidence: &ActivationEvidence,
        photo: &[u8],
    ) -> Result<i64, KitError> {
        let (_, state) = self.may_issue(ssn)?;
        let photo_sm3 = sm3_hex(photo);
        let e = ActivationEvidence {
            photo_sm3: (!photo.is_empty()).then(|| photo_sm3.clone()),
            ..evidence.clone()
        };
        lifecycle::check_face_to_face(&e)?;
        if !state.handed_over.iter().any(|c| c == card) {
            return Err(KitError::Visit(format!(
                "card {card} was not handed over on this visit: hand it over first"
            )));
        }
        if state.activated.iter().any(|c| c == card) {
            return Err(KitError::Visit(format!("card {card} is already activated")));
        }
        let kept = vec![Evidence { kind: "photo".into(), sm3: photo_sm3.clone(), bytes: photo.to_vec() }];
        self.append(KitEvent::Activated { ssn: ssn.into(), card_number: card.into(), photo_sm3 }, kept)
    }

    /// Records a visit that gave the person nothing, with the reason.
    pub fn visit_failed(&mut self, ssn: &str, reason: &str) -> Result<i64, KitError> {
        self.may_issue(ssn)?;
        if reason.trim().is_empty() {
            return Err(KitError::Visit("record why the visit failed".into()));
        }
        self.append(
            KitEvent::VisitFailed { ssn: ssn.into(), card_number: None, reason: reason.into() },
            Vec::new(),
        )
    }

    /// Keeps `data` sealed for the person `ssn` (what making their card on the visit needs:
    /// the applicant's data and photo), replacing what was kept for them before. Call it
    /// before the checkout; the check-in deletes everything carried.
    pub fn carry(&mut self, ssn: &str, data: &[u8]) -> Result<(), KitError> {
        let existing = self.find_carried(ssn)?.map(|(id, _)| id);
        let id = match existing {
            Some(id) => id,
            None => self
                .conn
                .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM carried", [], |r| r.get(0))
                .map_err(store_err)?,
        };
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(ssn.len() + 1 + data.len()));
        plain.extend_from_slice(ssn.as_bytes());
        plain.push(0);
        plain.extend_from_slice(data);
        let sealed = self.vault.seal(&format!("carried:{id}"), &plain)?;
        self.conn
            .execute("INSERT OR REPLACE INTO carried (id, body) VALUES (?1, ?2)", params![id, sealed])
            .map_err(store_err)?;
        Ok(())
    }

    /// What the kit carries for `ssn`, if anything.
    pub fn carried(&self, ssn: &str) -> Result<Option<Carried>, KitError> {
        Ok(self.find_carried(ssn)?.map(|(_, data)| data))
    }

    fn find_carried(&self, ssn: &str) -> Result<Option<(i64, Carried)>, KitError> {
        let mut stmt = self.conn.prepare("SELECT id, body FROM carried ORDER BY id").map_err(store_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(store_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(store_err)?;
        for (id, body) in rows {
            let plain = self
                .vault
                .open(&format!("carried:{id}"), &body)
                .map_err(|_| KitError::Tampered(format!("carried data {id} was altered or moved")))?;
            let key = ssn.as_bytes();
            if plain.len() > key.len() && plain.starts_with(key) && plain[key.len()] == 0 {
                return Ok(Some((id, zeroize::Zeroizing::new(plain[key.len() + 1..].to_vec()))));
            }
        }
        Ok(None)
    }

    /// Stores the archive's result of record `seq` (durable before the next record is sent).
    pub(crate) fn store_result(&mut self, seq: i64, result: RecordResult) -> Result<(), KitError> {
        let lease_id = self.lease.as_ref().ok_or(KitError::NoLease)?.checkout.lease_id;
        let sealed = self
            .vault
            .seal(&format!("result:{lease_id}:{seq}"), &serde_json::to_vec(&result).map_err(store_err)?)?;
        self.conn
            .execute(
                "UPDATE outbox SET result = ?3 WHERE lease_id = ?1 AND seq = ?2",
                params![lease_id, seq, sealed],
            )
            .map_err(store_err)?;
        if let Some(o) = self.outbox.get_mut((seq - 1) as usize) {
            o.result = Some(result);
        }
        Ok(())
    }

    /// Stores the check-in: the lease is closed.
    pub(crate) fn store_checkin(&mut self, checkin: Checkin) -> Result<(), KitError> {
        let lease = self.lease.as_mut().ok_or(KitError::NoLease)?;
        lease.checkin = Some(checkin);
        let id = lease.checkout.lease_id;
        let body =
            self.vault.seal(&format!("lease:{id}"), &serde_json::to_vec(&lease).map_err(store_err)?)?;
        let tx = self.conn.unchecked_transaction().map_err(store_err)?;
        tx.execute("UPDATE leases SET body = ?2 WHERE lease_id = ?1", params![id, body])
            .map_err(store_err)?;
        // The people's data need not travel any more.
        tx.execute("DELETE FROM carried", []).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        Ok(())
    }
}

fn open_db(path: &Path) -> Result<Connection, KitError> {
    let conn = Connection::open(path).map_err(store_err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(store_err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(store_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(store_err)?;
    conn.execute_batch(SCHEMA).map_err(store_err)?;
    Ok(conn)
}

fn meta(conn: &Connection, name: &str) -> Result<Vec<u8>, KitError> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0))
        .optional()
        .map_err(store_err)?
        .ok_or_else(|| KitError::Store(format!("the kit store has no {name}: not a kit store")))
}

/// The device sequence ([`issuance::device::make_card`]) journals each step of the open make
/// in the kit's sealed store.
impl issuance::device::CardJournal for Kit {
    fn step_done(
        &mut self,
        step: issuance::Step,
        _: &issuance::device::CardProgress,
        _: Option<&issuance::device::StepEvent>,
    ) -> Result<(), issuance::IssueError> {
        self.making_step(step.name()).map_err(|e| issuance::IssueError::Archive {
            step: "journal",
            source: ArchiveError::Store(format!("the kit's journal of card making: {e}")),
        })
    }
}
