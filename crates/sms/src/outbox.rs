//! The outbox: each message is journalled before it is sent, sent when due, retried with
//! backoff while the gateway is unavailable, and marked failed, with a reason an operator can
//! act on, when it is refused or the attempts run out.
//!
//! Nothing here reads the clock: `now` (Unix seconds) is a parameter.
//!
//! # Never twice
//!
//! [`Journal::enqueue`] keeps one entry per [`MessageKey`]: the station may submit the pickup
//! notices of every card waiting at a site as often as it likes (after a restart, say) and each
//! is sent once. A send whose answer is lost (timeout, crash before [`Journal::update`]) stays
//! pending and goes again with the same key; the gateway answers with the original receipt.
//!
//! # Where the journal lives
//!
//! [`FileJournal`] is an append-only JSON-lines file, synced after each record, locked against
//! a second process, readable by its owner only (it holds mobile numbers): put it in the
//! station's data directory (`DATA_DIR/sms-outbox.jsonl`). The station's archive may implement
//! [`Journal`] instead, so that a card's move to a site and its notice are recorded in one
//! transaction; the trait's documentation states what an implementation must do.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::{ErrorKind, Message, MessageKey, Receipt, SmsError, SmsGateway};

/// Where a message stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    /// Not sent yet.
    Pending {
        /// Attempts made so far.
        attempts: u32,
        /// Not before this time (Unix seconds).
        next_at: i64,
        /// Why the last attempt failed.
        #[serde(default)]
        last_error: Option<String>,
    },
    /// The gateway took it.
    Sent {
        /// Its receipt.
        receipt: Receipt,
        /// When (Unix seconds).
        at: i64,
    },
    /// It will not be sent: tell the holder another way.
    Failed {
        /// Why, and what to do.
        reason: String,
        /// When (Unix seconds).
        at: i64,
    },
}

/// A journalled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The message.
    pub message: Message,
    /// When it was journalled (Unix seconds).
    pub queued_at: i64,
    /// Where it stands.
    pub status: Status,
}

/// The journal could not record or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing the file.
    #[error("SMS outbox journal {path}: {source} (check the disk and the data directory)")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A record in the middle of the file does not read.
    #[error("SMS outbox journal {path}, line {line}: {message}; the file is damaged: keep a copy and repair or move it aside")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// Another process holds the journal.
    #[error("SMS outbox journal {path} is in use by another process: one station daemon per data directory")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The key is journalled for another message.
    #[error("message key {key} is already journalled for another recipient or text: not queued (a fault in the sender; report it)")]
    KeyConflict {
        /// The key.
        key: MessageKey,
    },
    /// No entry has this key.
    #[error("message key {0} is not in the SMS outbox journal")]
    Unknown(MessageKey),
    /// Another store's failure (an archive implementing [`Journal`]).
    #[error("SMS outbox journal: {0}")]
    Store(String),
}

/// Durable storage of the outbox's entries.
///
/// An implementation must:
/// - make each change durable before returning `Ok` (a crash afterwards loses nothing);
/// - keep one entry per key: [`Journal::enqueue`] of a known key changes nothing and returns
///   the existing entry when the message is the same, [`JournalError::KeyConflict`] when not;
/// - return [`Journal::entries`] in the order they were enqueued.
pub trait Journal: Send + Sync {
    /// Records `message` as pending (first attempt due at `now`), unless its key is known.
    fn enqueue(&self, message: &Message, now: i64) -> Result<Entry, JournalError>;
    /// Sets the status of the entry of `key`.
    fn update(&self, key: &MessageKey, status: &Status) -> Result<(), JournalError>;
    /// Every entry, oldest first.
    fn entries(&self) -> Result<Vec<Entry>, JournalError>;
    /// The entries still pending, oldest first.
    fn pending(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(self.entries()?.into_iter().filter(|e| matches!(e.status, Status::Pending { .. })).collect())
    }
}

/// Entries in memory: the state both journals keep.
#[derive(Debug, Default)]
struct Book {
    entries: Vec<Entry>,
    index: HashMap<MessageKey, usize>,
}

impl Book {
    /// `Ok(None)`: new, to be recorded; `Ok(Some(entry))`: known, nothing to record.
    fn check(&self, message: &Message) -> Result<Option<Entry>, JournalError> {
        match self.index.get(message.key()) {
            None => Ok(None),
            Some(&i) if &self.entries[i].message == message => Ok(Some(self.entries[i].clone())),
            Some(_) => Err(JournalError::KeyConflict { key: message.key().clone() }),
        }
    }

    fn queue(&mut self, message: Message, at: i64) -> Entry {
        let entry = Entry {
            message,
            queued_at: at,
            status: Status::Pending { attempts: 0, next_at: at, last_error: None },
        };
        self.index.insert(entry.message.key().clone(), self.entries.len());
        self.entries.push(entry.clone());
        entry
    }

    fn set(&mut self, key: &MessageKey, status: Status) -> Result<(), JournalError> {
        let i = *self.index.get(key).ok_or_else(|| JournalError::Unknown(key.clone()))?;
        self.entries[i].status = status;
        Ok(())
    }
}

/// A journal in memory, for tests and as the model of the trait.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    book: Mutex<Book>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> MemoryJournal {
        MemoryJournal::default()
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Journal for MemoryJournal {
    fn enqueue(&self, message: &Message, now: i64) -> Result<Entry, JournalError> {
        let mut book = self.book();
        match book.check(message)? {
            Some(entry) => Ok(entry),
            None => Ok(book.queue(message.clone(), now)),
        }
    }

    fn update(&self, key: &MessageKey, status: &Status) -> Result<(), JournalError> {
        self.book().set(key, status.clone())
    }

    fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(self.book().entries.clone())
    }
}

/// A record of the journal file, one per line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Record {
    Queued { message: Message, at: i64 },
    Status { key: MessageKey, status: Status },
}

struct Open {
    file: File,
    len: u64,
    book: Book,
}

/// The journal as an append-only JSON-lines file (see the module documentation).
pub struct FileJournal {
    path: PathBuf,
    open: Mutex<Open>,
}

impl std::fmt::Debug for FileJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileJournal").field("path", &self.path).finish()
    }
}

impl FileJournal {
    /// Opens (or creates, mode 0600) the journal at `path` and reads it. A last line cut short
    /// by a crash is dropped (it was never acknowledged); a damaged line before the last is an
    /// error. The file stays locked until the journal is dropped.
    pub fn open(path: &Path) -> Result<FileJournal, JournalError> {
        let io = |source| JournalError::Io { path: path.to_path_buf(), source };
        let existed = path.exists();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked { path: path.to_path_buf() })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        if !existed {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole < bytes.len() {
            tracing::warn!(path = %path.display(), bytes = bytes.len() - whole, "dropping a record cut short by a crash");
            file.set_len(whole as u64).and_then(|()| file.sync_data()).map_err(io)?;
        }
        let mut book = Book::default();
        for (i, line) in bytes[..whole].split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let corrupt =
                |message: String| JournalError::Corrupt { path: path.to_path_buf(), line: i + 1, message };
            let record: Record = serde_json::from_slice(line).map_err(|e| corrupt(e.to_string()))?;
            match record {
                Record::Queued { message, at } => {
                    if book.check(&message).map_err(|e| corrupt(e.to_string()))?.is_none() {
                        book.queue(message, at);
                    }
                }
                Record::Status { key, status } => {
                    book.set(&key, status).map_err(|e| corrupt(e.to_string()))?
                }
            }
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let open = Open { file, len: whole as u64, book };
        Ok(FileJournal { path: path.to_path_buf(), open: Mutex::new(open) })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends one record and syncs it; a failed write is cut off again so that the next
    /// record starts on a line of its own.
    fn append(&self, open: &mut Open, record: &Record) -> Result<(), JournalError> {
        let io = |source| JournalError::Io { path: self.path.clone(), source };
        let mut line = serde_json::to_vec(record).map_err(|e| JournalError::Store(e.to_string()))?;
        line.push(b'\n');
        let written = open.file.write_all(&line).and_then(|()| open.file.sync_data());
        if let Err(e) = written {
            let _ = open.file.set_len(open.len);
            let _ = open.file.seek(SeekFrom::Start(open.len));
            return Err(io(e));
        }
        open.len += line.len() as u64;
        Ok(())
    }
}

impl Journal for FileJournal {
    fn enqueue(&self, message: &Message, now: i64) -> Result<Entry, JournalError> {
        let mut open = self.lock();
        if let Some(entry) = open.book.check(message)? {
            return Ok(entry);
        }
        self.append(&mut open, &Record::Queued { message: message.clone(), at: now })?;
        Ok(open.book.queue(message.clone(), now))
    }

    fn update(&self, key: &MessageKey, status: &Status) -> Result<(), JournalError> {
        let mut open = self.lock();
        if !open.book.index.contains_key(key) {
            return Err(JournalError::Unknown(key.clone()));
        }
        self.append(&mut open, &Record::Status { key: key.clone(), status: status.clone() })?;
        open.book.set(key, status.clone())
    }

    fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(self.lock().book.entries.clone())
    }
}

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// Wait after the first failed attempt, doubled after each further one.
    pub backoff_seconds: i64,
    /// The longest wait.
    pub max_backoff_seconds: i64,
}

impl Default for RetryPolicy {
    /// Eight attempts over about two hours: 1, 2, 4 ... 32 minutes, then an hour.
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 8, backoff_seconds: 60, max_backoff_seconds: 3600 }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts.
    pub fn backoff(&self, attempts: u32) -> i64 {
        let factor = 1_i64.checked_shl(attempts.saturating_sub(1).min(30)).unwrap_or(i64::MAX);
        self.backoff_seconds.saturating_mul(factor).min(self.max_backoff_seconds)
    }
}

/// What one [`Outbox::flush`] did.
#[derive(Debug, Default)]
pub struct FlushReport {
    /// Taken by the gateway now (or earlier, `replayed`).
    pub sent: Vec<Receipt>,
    /// Failed this time, to be retried.
    pub retrying: Vec<(MessageKey, SmsError)>,
    /// Marked failed: not retried; tell the holder another way.
    pub failed: Vec<(MessageKey, String)>,
    /// Pending but not due yet.
    pub waiting: usize,
    /// The flush stopped here: the configuration must be fixed before anything can be sent.
    pub stopped: Option<SmsError>,
}

/// Why the outbox could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The journalled sender.
pub struct Outbox<J, G> {
    journal: J,
    gateway: G,
    policy: RetryPolicy,
    flushing: Mutex<()>,
}

impl<J: Journal, G: SmsGateway> Outbox<J, G> {
    /// An outbox over `journal` sending through `gateway`.
    pub fn new(journal: J, gateway: G, policy: RetryPolicy) -> Outbox<J, G> {
        Outbox { journal, gateway, policy, flushing: Mutex::new(()) }
    }

    /// The journal (for the supervisor's list of pending and failed notices).
    pub fn journal(&self) -> &J {
        &self.journal
    }

    /// Journals `message` for sending; a message already journalled under its key is not
    /// journalled again (its entry comes back as it stands). Nothing is sent here.
    pub fn submit(&self, message: &Message, now: i64) -> Result<Entry, OutboxError> {
        let entry = self.journal.enqueue(message, now)?;
        tracing::debug!(key = %message.key(), to = %message.to(), "SMS journalled");
        Ok(entry)
    }

    /// Sends every pending message that is due, oldest first. One flush runs at a time.
    pub fn flush(&self, now: i64) -> Result<FlushReport, OutboxError> {
        let _one = self.flushing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut report = FlushReport::default();
        for entry in self.journal.pending()? {
            let Status::Pending { attempts, next_at, .. } = entry.status else { continue };
            if next_at > now {
                report.waiting += 1;
                continue;
            }
            let key = entry.message.key().clone();
            let e = match self.gateway.send(&entry.message) {
                Ok(receipt) => {
                    self.journal.update(&key, &Status::Sent { receipt: receipt.clone(), at: now })?;
                    report.sent.push(receipt);
                    continue;
                }
                Err(e) => e,
            };
            match e.kind() {
                ErrorKind::Retry if attempts + 1 < self.policy.max_attempts => {
                    let attempts = attempts + 1;
                    let status = Status::Pending {
                        attempts,
                        next_at: now.saturating_add(self.policy.backoff(attempts)),
                        last_error: Some(e.to_string()),
                    };
                    self.journal.update(&key, &status)?;
                    tracing::info!(%key, attempts, error = %e, "SMS not sent, will retry");
                    report.retrying.push((key, e));
                }
                ErrorKind::Retry | ErrorKind::Refused => {
                    let reason = match e.kind() {
                        ErrorKind::Retry => format!(
                            "not sent after {} attempts (last: {e}): tell the holder another way (telephone, notice at the site)",
                            attempts + 1
                        ),
                        _ => format!("{e}: tell the holder another way (telephone, notice at the site)"),
                    };
                    self.journal.update(&key, &Status::Failed { reason: reason.clone(), at: now })?;
                    tracing::warn!(%key, %reason, "SMS failed");
                    report.failed.push((key, reason));
                }
                ErrorKind::FixConfiguration => {
                    let status = Status::Pending { attempts, next_at, last_error: Some(e.to_string()) };
                    self.journal.update(&key, &status)?;
                    tracing::error!(error = %e, "SMS gateway set-up is wrong: sending stopped");
                    report.stopped = Some(e);
                    break;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::PhoneNumber;

    /// A gateway that keeps one message per key, fails as scripted, and can take a message
    /// and lose the answer.
    #[derive(Default)]
    struct Fake {
        taken: Mutex<Vec<Message>>,
        script: Mutex<VecDeque<Fault>>,
    }

    #[derive(Clone)]
    enum Fault {
        Fail(SmsError),
        LoseAnswer,
    }

    impl Fake {
        fn then(&self, f: Fault) -> &Fake {
            self.script.lock().expect("lock").push_back(f);
            self
        }
        fn taken(&self) -> usize {
            self.taken.lock().expect("lock").len()
        }
    }

    impl SmsGateway for Fake {
        fn send(&self, m: &Message) -> Result<Receipt, SmsError> {
            let fault = self.script.lock().expect("lock").pop_front();
            if let Some(Fault::Fail(e)) = fault {
                return Err(e);
            }
            let mut taken = self.taken.lock().expect("lock");
            let known = taken.iter().position(|t| t.key() == m.key());
            let (i, replayed) = match known {
                Some(i) => (i, true),
                None => {
                    taken.push(m.clone());
                    (taken.len() - 1, false)
                }
            };
            if let Some(Fault::LoseAnswer) = fault {
                return Err(SmsError::Unavailable("timed out".into()));
            }
            Ok(Receipt { id: format!("r{i}"), key: m.key().clone(), replayed })
        }
    }

    fn msg(key: &str, text: &str) -> Message {
        let to = PhoneNumber::parse("13800138000").expect("to");
        Message::new(MessageKey::new(key).expect("key"), to, text.into()).expect("m")
    }

    fn down() -> Fault {
        Fault::Fail(SmsError::Unavailable("503".into()))
    }

    #[test]
    fn a_message_submitted_twice_is_sent_once() {
        let outbox = Outbox::new(MemoryJournal::new(), Fake::default(), RetryPolicy::default());
        outbox.submit(&msg("a", "x"), 100).expect("submit");
        outbox.submit(&msg("a", "x"), 101).expect("again");
        assert!(matches!(
            outbox.submit(&msg("a", "y"), 102),
            Err(OutboxError::Journal(JournalError::KeyConflict { .. }))
        ));
        let r = outbox.flush(100).expect("flush");
        assert_eq!(r.sent.len(), 1);
        assert_eq!(outbox.flush(200).expect("flush").sent.len(), 0, "nothing pending");
        outbox.submit(&msg("a", "x"), 300).expect("after sending");
        assert_eq!(outbox.flush(300).expect("flush").sent.len(), 0, "still sent once");
        assert_eq!(outbox.gateway.taken(), 1);
        let entries = outbox.journal().entries().expect("entries");
        assert!(matches!(&entries[0].status, Status::Sent { at: 100, .. }));
        assert_eq!(entries[0].queued_at, 100);
    }

    #[test]
    fn an_outage_is_ridden_out_with_backoff() {
        let fake = Fake::default();
        fake.then(down()).then(down());
        let outbox = Outbox::new(MemoryJournal::new(), &fake, RetryPolicy::default());
        outbox.submit(&msg("a", "x"), 0).expect("submit");
        let r = outbox.flush(0).expect("flush");
        assert_eq!((r.sent.len(), r.retrying.len()), (0, 1));
        let r = outbox.flush(59).expect("flush");
        assert_eq!((r.sent.len(), r.waiting), (0, 1), "not due before a minute");
        let r = outbox.flush(60).expect("flush");
        assert_eq!(r.retrying.len(), 1, "second failure");
        let Status::Pending { attempts, next_at, last_error } =
            &outbox.journal().entries().expect("e")[0].status
        else {
            panic!("pending")
        };
        assert_eq!((*attempts, *next_at), (2, 60 + 120));
        assert!(last_error.as_deref().is_some_and(|e| e.contains("retry later")));
        assert_eq!(outbox.flush(180).expect("flush").sent.len(), 1);
        assert_eq!(fake.taken(), 1);
    }

    #[test]
    fn a_lost_answer_is_retried_under_the_same_key_and_not_sent_again() {
        let fake = Fake::default();
        fake.then(Fault::LoseAnswer);
        let outbox = Outbox::new(MemoryJournal::new(), &fake, RetryPolicy::default());
        outbox.submit(&msg("a", "x"), 0).expect("submit");
        assert_eq!(outbox.flush(0).expect("flush").retrying.len(), 1);
        let r = outbox.flush(60).expect("flush");
        assert!(r.sent[0].replayed, "the gateway's original receipt");
        assert_eq!(r.sent[0].id, "r0");
        assert_eq!(fake.taken(), 1);
    }

    #[test]
    fn attempts_run_out_and_refusals_fail_at_once() {
        let fake = Fake::default();
        for _ in 0..3 {
            fake.then(down());
        }
        let policy = RetryPolicy { max_attempts: 3, backoff_seconds: 10, max_backoff_seconds: 15 };
        assert_eq!([policy.backoff(1), policy.backoff(2), policy.backoff(3)], [10, 15, 15]);
        let outbox = Outbox::new(MemoryJournal::new(), &fake, policy);
        outbox.submit(&msg("a", "x"), 0).expect("submit");
        outbox.flush(0).expect("1");
        outbox.flush(10).expect("2");
        let r = outbox.flush(25).expect("3");
        assert_eq!(r.failed.len(), 1);
        assert!(r.failed[0].1.contains("not sent after 3 attempts") && r.failed[0].1.contains("another way"));
        assert_eq!(outbox.flush(1000).expect("no more").sent.len(), 0);

        fake.then(Fault::Fail(SmsError::Rejected("400: unknown number".into())));
        outbox.submit(&msg("b", "x"), 2000).expect("submit");
        let r = outbox.flush(2000).expect("flush");
        assert!(r.failed[0].1.contains("unknown number"), "{:?}", r.failed);
        assert_eq!(fake.taken(), 0);
        assert!(RetryPolicy::default().backoff(100) == 3600, "capped, no overflow");
    }

    #[test]
    fn a_configuration_fault_stops_the_flush_and_keeps_everything_pending() {
        let fake = Fake::default();
        fake.then(Fault::Fail(SmsError::Credentials("401".into())));
        let outbox = Outbox::new(MemoryJournal::new(), &fake, RetryPolicy::default());
        outbox.submit(&msg("a", "x"), 0).expect("a");
        outbox.submit(&msg("b", "x"), 0).expect("b");
        let r = outbox.flush(0).expect("flush");
        assert!(matches!(r.stopped, Some(SmsError::Credentials(_))));
        assert_eq!(r.sent.len() + r.retrying.len() + r.failed.len(), 0, "b not tried");
        let pending = outbox.journal().pending().expect("pending");
        assert_eq!(pending.len(), 2);
        assert!(
            matches!(&pending[0].status, Status::Pending { attempts: 0, last_error: Some(e), .. } if e.contains("fix sms.account"))
        );
        assert_eq!(outbox.flush(1).expect("fixed").sent.len(), 2);
    }

    #[test]
    fn the_file_journal_survives_a_restart_and_a_torn_record() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sms-outbox.jsonl");
        {
            let fake = Fake::default();
            let outbox = Outbox::new(FileJournal::open(&path).expect("open"), &fake, RetryPolicy::default());
            outbox.submit(&msg("a", "x"), 0).expect("a");
            outbox.submit(&msg("b", "x"), 0).expect("b");
            fake.then(down());
            let r = outbox.flush(0).expect("flush");
            assert_eq!((r.retrying.len(), r.sent.len()), (1, 1));
            let e = FileJournal::open(&path).expect_err("locked");
            assert!(matches!(e, JournalError::Locked { .. }), "{e}");
        }
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "it holds mobile numbers");
        // A crash in the middle of writing a record leaves half a line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("append");
        f.write_all(br#"{"status":{"key":"a","sta"#).expect("torn");
        drop(f);
        let journal = FileJournal::open(&path).expect("reopen");
        let entries = journal.entries().expect("entries");
        assert_eq!(entries.len(), 2);
        assert!(matches!(entries[0].status, Status::Pending { attempts: 1, .. }));
        assert!(matches!(entries[1].status, Status::Sent { .. }));
        journal.enqueue(&msg("c", "x"), 5).expect("appends after the cut");
        assert!(matches!(journal.enqueue(&msg("c", "y"), 6), Err(JournalError::KeyConflict { .. })));
        assert!(matches!(
            journal.update(&MessageKey::new("zz").expect("k"), &Status::Failed { reason: "r".into(), at: 0 }),
            Err(JournalError::Unknown(_))
        ));
        drop(journal);
        let journal = FileJournal::open(&path).expect("reopen");
        assert_eq!(journal.entries().expect("e").len(), 3);
        drop(journal);
        // Damage before the last line is not guessed around.
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen("queued", "qeued", 1)).expect("damage");
        let e = FileJournal::open(&path).expect_err("corrupt");
        assert!(matches!(e, JournalError::Corrupt { line: 1, .. }), "{e}");
    }
}
