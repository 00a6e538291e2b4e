//! Operators, their roles and sessions. Passwords are stored as Argon2id PHC strings; a
//! session is a random bearer token that expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

/// What a person may do at this counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes applications and issues cards.
    Operator,
    /// An operator who may also approve (custody, re-issue overrides) and read the ledger.
    Supervisor,
    /// Reads the ledger and reconciles; issues nothing.
    Auditor,
}

/// An operator account from the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string (`station serve --hash-password` makes one).
    pub password_hash: String,
    /// The password above was given to the person by someone else (the station's first set-up,
    /// an administrator): they must choose their own at the first log-in before anything else.
    #[serde(default)]
    pub first_password: bool,
}

/// Random bytes from the kernel.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    assert!(read.is_ok(), "/dev/urandom must be readable");
    buf
}

/// An Argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes(16))
        .unwrap_or_else(|_| unreachable!("16 bytes is a valid salt"));
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|_| unreachable!("Argon2 with default parameters"))
}

/// Whether `password` matches the PHC string.
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A logged-in operator.
#[derive(Clone)]
pub struct Session {
    /// Who.
    pub operator: String,
    /// Their role.
    pub role: Role,
    /// The page sends it back in `X-CSRF-Token` with every change it asks for: a request
    /// another site makes the browser send carries the cookie, never this.
    pub csrf: String,
    /// The session's bearer token (the cookie's value); never logged.
    pub(crate) key: String,
    /// The operator still has a first password: only changing it is allowed.
    pub must_change: bool,
    expires: Instant,
}

impl std::fmt::Debug for Session {
    // The token and the CSRF token stay out of every log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("operator", &self.operator)
            .field("role", &self.role)
            .field("must_change", &self.must_change)
            .finish()
    }
}

struct Open {
    session: Session,
    last_seen: Instant,
}

/// The open sessions: each ends at its absolute lifetime, or after `idle` without a request
/// (a counter left logged in while the operator is away).
pub struct Sessions {
    accounts: Vec<Account>,
    /// Checked for an unknown name, so it costs the same Argon2 time as a known one.
    decoy: String,
    open: Mutex<HashMap<String, Open>>,
    /// Passwords the operators chose (name -> PHC), over their accounts' first ones.
    chosen: Mutex<HashMap<String, String>>,
    ttl: Duration,
    idle: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).field("idle", &self.idle).finish_non_exhaustive()
    }
}

fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Sessions for `accounts` (with the passwords their operators chose, name and PHC), each
    /// lasting `ttl` at most and `idle` without a request.
    pub fn new(
        accounts: Vec<Account>,
        chosen: Vec<(String, String)>,
        ttl: Duration,
        idle: Duration,
    ) -> Sessions {
        let decoy = hash_password(&String::from_utf8_lossy(&random_bytes(16)));
        let chosen = Mutex::new(chosen.into_iter().collect());
        Sessions { accounts, decoy, open: Mutex::new(HashMap::new()), chosen, ttl, idle }
    }

    fn chosen(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.chosen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The account `name` if `password` is its password (the one the operator chose, else the
    /// first one), and whether it is still the first one. The same Argon2 time for an unknown
    /// name. Blocking.
    fn check(&self, name: &str, password: &str) -> Option<(&Account, bool)> {
        let account = self.accounts.iter().find(|a| a.name == name);
        let chosen = self.chosen().get(name).cloned();
        let phc = match (&chosen, account) {
            (Some(c), Some(_)) => c.as_str(),
            (None, Some(a)) => a.password_hash.as_str(),
            (_, None) => self.decoy.as_str(),
        };
        let matches = verify_password(phc, password);
        let account = account.filter(|_| matches)?;
        Some((account, account.first_password && chosen.is_none()))
    }

    /// Whether `password` is `name`'s password now. Blocking.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        self.check(name, password).is_some()
    }

    /// `name` chose `phc`: their open sessions may do their work now.
    pub fn choose(&self, name: &str, phc: String) {
        self.chosen().insert(name.to_string(), phc);
        for open in self.lock().values_mut().filter(|o| o.session.operator == name) {
            open.session.must_change = false;
        }
    }

    /// Whether every account that came with a first password has chosen its own.
    pub fn all_chosen(&self) -> bool {
        let chosen = self.chosen();
        self.accounts.iter().all(|a| !a.first_password || chosen.contains_key(&a.name))
    }

    /// Logs in; the token, or `None` for a wrong name or password (the same answer, and the
    /// same Argon2 time, for both). Blocking: an async caller runs it on a blocking thread.
    pub fn login(&self, name: &str, password: &str) -> Option<(String, Session)> {
        let (account, must_change) = self.check(name, password)?;
        let token = random_hex(32);
        let now = Instant::now();
        let session = Session {
            operator: account.name.clone(),
            role: account.role,
            csrf: random_hex(16),
            key: token.clone(),
            must_change,
            expires: now + self.ttl,
        };
        self.lock().insert(token.clone(), Open { session: session.clone(), last_seen: now });
        Some((token, session))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, open: &Open, now: Instant) -> bool {
        open.session.expires > now && now.duration_since(open.last_seen) < self.idle
    }

    /// The session of a token, if open, not expired and not idle too long; the request counts
    /// as activity.
    pub fn get(&self, token: &str) -> Option<Session> {
        let now = Instant::now();
        let mut open = self.lock();
        let entry = open.get_mut(token)?;
        if !self.live(entry, now) {
            open.remove(token);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    /// The session of a token, if open, without counting as activity: the page's background
    /// polling and the event stream must not keep an unattended counter logged in.
    pub fn peek(&self, token: &str) -> Option<Session> {
        let now = Instant::now();
        self.lock().get(token).filter(|o| self.live(o, now)).map(|o| o.session.clone())
    }

    /// Whether the session of a token is still open, without counting as activity.
    pub fn alive(&self, token: &str) -> bool {
        self.peek(token).is_some()
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) {
        self.lock().remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_sessions() {
        let phc = hash_password("秘密123");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password(&phc, "秘密123"));
        assert!(!verify_password(&phc, "秘密124"));
        assert!(!verify_password("not a hash", "x"));
        let s = Sessions::new(
            vec![Account {
                name: "op1".into(),
                role: Role::Operator,
                password_hash: phc,
                first_password: false,
            }],
            Vec::new(),
            Duration::from_millis(200),
            Duration::from_secs(60),
        );
        assert!(s.login("op1", "wrong").is_none());
        assert!(s.login("nobody", "秘密123").is_none());
        let (token, session) = s.login("op1", "秘密123").expect("login");
        assert_eq!((session.operator.as_str(), session.role), ("op1", Role::Operator));
        assert!(s.get(&token).is_some());
        std::thread::sleep(Duration::from_millis(250));
        assert!(s.get(&token).is_none(), "expired");
        let (token, _) = s.login("op1", "秘密123").expect("login");
        s.logout(&token);
        assert!(s.get(&token).is_none());
    }

    #[test]
    fn an_idle_session_ends_and_activity_keeps_one_open() {
        let s = Sessions::new(
            vec![Account {
                name: "op1".into(),
                role: Role::Operator,
                password_hash: hash_password("pw"),
                first_password: false,
            }],
            Vec::new(),
            Duration::from_secs(60),
            Duration::from_millis(300),
        );
        let (token, session) = s.login("op1", "pw").expect("login");
        assert_ne!(session.csrf, token, "the CSRF token is not the session token");
        assert!(!format!("{session:?}").contains(&token), "no token in a log line");
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(150));
            assert!(s.get(&token).is_some(), "a request within the idle time keeps it open");
        }
        std::thread::sleep(Duration::from_millis(150));
        assert!(s.alive(&token));
        std::thread::sleep(Duration::from_millis(200));
        assert!(!s.alive(&token), "asking whether it is alive is no activity");
        assert!(s.get(&token).is_none(), "idle too long");
    }

    #[test]
    fn a_first_password_opens_only_its_change_and_the_chosen_one_replaces_it() {
        let account = |name: &str, first| Account {
            name: name.into(),
            role: Role::Operator,
            password_hash: hash_password("first-pw"),
            first_password: first,
        };
        let s = Sessions::new(
            vec![account("new", true), account("old", false)],
            Vec::new(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(!s.all_chosen());
        let (token, session) = s.login("new", "first-pw").expect("first log-in");
        assert!(session.must_change);
        assert!(!s.login("old", "first-pw").expect("configured").1.must_change);
        s.choose("new", hash_password("my own pw 1"));
        assert!(!s.get(&token).expect("open").must_change, "the open session may work now");
        assert!(s.all_chosen());
        assert!(s.login("new", "first-pw").is_none(), "the first password is gone");
        assert!(!s.login("new", "my own pw 1").expect("chosen").1.must_change);
    }
}
