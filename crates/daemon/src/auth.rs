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

impl Role {
    /// Whether the role may start issuance jobs.
    pub fn may_issue(self) -> bool {
        matches!(self, Role::Operator | Role::Supervisor)
    }

    /// Whether the role may read the ledger.
    pub fn may_audit(self) -> bool {
        matches!(self, Role::Supervisor | Role::Auditor)
    }
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
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub operator: String,
    /// Their role.
    pub role: Role,
    expires: Instant,
}

/// The open sessions.
#[derive(Debug)]
pub struct Sessions {
    accounts: Vec<Account>,
    /// Checked for an unknown name, so it costs the same Argon2 time as a known one.
    decoy: String,
    open: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

impl Sessions {
    /// Sessions for `accounts`, each lasting `ttl`.
    pub fn new(accounts: Vec<Account>, ttl: Duration) -> Sessions {
        let decoy = hash_password(&String::from_utf8_lossy(&random_bytes(16)));
        Sessions { accounts, decoy, open: Mutex::new(HashMap::new()), ttl }
    }

    /// Logs in; the token, or `None` for a wrong name or password (the same answer, and the
    /// same Argon2 time, for both). Blocking: an async caller runs it on a blocking thread.
    pub fn login(&self, name: &str, password: &str) -> Option<(String, Session)> {
        let account = self.accounts.iter().find(|a| a.name == name);
        let phc = account.map_or(self.decoy.as_str(), |a| a.password_hash.as_str());
        let matches = verify_password(phc, password);
        let account = account.filter(|_| matches)?;
        let token: String = random_bytes(32).iter().map(|b| format!("{b:02x}")).collect();
        let session = Session {
            operator: account.name.clone(),
            role: account.role,
            expires: Instant::now() + self.ttl,
        };
        self.open.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), session.clone());
        Some((token, session))
    }

    /// The session of a token, if open and not expired.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                open.remove(token);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(token);
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
            vec![Account { name: "op1".into(), role: Role::Operator, password_hash: phc }],
            Duration::from_millis(200),
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
}
