//! Log-in attempts: a growing delay and then a lock-out, per operator name and per client
//! address, so a password cannot be guessed at the speed of the network. A name locks until a
//! supervisor unlocks it; an address for a while. Every refusal goes to a bounded security log
//! (in memory: a password typed into the name field is not kept for ever); the ledger gets only
//! how many refusals each window saw.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The longest operator name the station takes (longer is refused before anything else).
pub const MAX_NAME_CHARS: usize = 64;
/// The shortest password an operator may choose.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest (Argon2 takes any length; a bound keeps a request small).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// What is wrong with `password` as `name`'s own new one, if anything.
pub fn password_problem(name: &str, current: &str, password: &str) -> Option<String> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Some(format!("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"));
    }
    if password == current {
        return Some("choose a password other than the one you were given".into());
    }
    if password.to_lowercase().contains(&name.to_lowercase()) {
        return Some("a password must not contain your name".into());
    }
    if password.chars().collect::<std::collections::BTreeSet<_>>().len() < 4 {
        return Some("a password needs at least 4 different characters".into());
    }
    None
}

/// Entries the security log keeps (the oldest go first).
const LOG_ENTRIES: usize = 500;
/// Names and addresses followed at most (the stalest are forgotten first).
const TRACKED: usize = 10_000;

/// How hard the counter makes guessing (`[login]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginPolicy {
    /// Failed log-ins before each further attempt waits.
    pub delay_after: u32,
    /// Failed log-ins after which a name is locked (until a supervisor unlocks it) and an
    /// address is shut out for `address_lock_minutes`.
    pub lock_after: u32,
    /// The first wait, in milliseconds; it doubles with each further failure.
    pub base_delay_ms: u64,
    /// The longest wait, in seconds.
    pub max_delay_seconds: u64,
    /// How long a locked address stays shut out.
    pub address_lock_minutes: u64,
    /// The ledger's window for counting refusals.
    pub window_minutes: u64,
    /// Password checks (Argon2) run at once; more wait their turn.
    pub concurrent_checks: usize,
}

impl Default for LoginPolicy {
    fn default() -> LoginPolicy {
        LoginPolicy {
            delay_after: 5,
            lock_after: 10,
            base_delay_ms: 1000,
            max_delay_seconds: 60,
            address_lock_minutes: 15,
            window_minutes: 15,
            concurrent_checks: 2,
        }
    }
}

/// Whether an attempt may go on to the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the password.
    Open,
    /// Too many failures lately: try again after this long.
    Wait(Duration),
    /// The name is locked: a supervisor unlocks it.
    NameLocked,
    /// The address is shut out for this long.
    AddressLocked(Duration),
}

/// One refused attempt, for the supervisor and the auditor.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecurityEntry {
    /// Unix seconds.
    pub at: u64,
    /// The name tried (at most [`MAX_NAME_CHARS`]).
    pub name: String,
    /// The client's address.
    pub address: String,
    /// `wrong-password`, `waiting`, `name-locked`, `address-locked`, `name-too-long`.
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug)]
struct State {
    names: HashMap<String, Failures>,
    addresses: HashMap<IpAddr, Failures>,
    log: VecDeque<SecurityEntry>,
    window: (Instant, SystemTime, u32),
}

/// A finished window of refusals for the ledger: when it began (unix seconds), its length in
/// minutes and how many attempts were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalWindow {
    /// Unix seconds.
    pub since: u64,
    /// Minutes.
    pub minutes: u64,
    /// Refused attempts.
    pub refused: u32,
}

/// The counter's log-in guard.
#[derive(Debug)]
pub struct LoginGuard {
    policy: LoginPolicy,
    state: Mutex<State>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Drops the stalest entries once a map follows too many.
fn bound<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Failures>) {
    if map.len() <= TRACKED {
        return;
    }
    let mut by_age: Vec<(Instant, K)> = map.iter().map(|(k, f)| (f.last, k.clone())).collect();
    by_age.sort_by_key(|(at, _)| *at);
    for (_, k) in by_age.into_iter().take(map.len() - TRACKED) {
        map.remove(&k);
    }
}

impl LoginGuard {
    /// A guard with `policy`.
    pub fn new(policy: LoginPolicy) -> LoginGuard {
        LoginGuard {
            policy,
            state: Mutex::new(State {
                names: HashMap::new(),
                addresses: HashMap::new(),
                log: VecDeque::new(),
                window: (Instant::now(), SystemTime::now(), 0),
            }),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &LoginPolicy {
        &self.policy
    }

    fn delay(&self, count: u32) -> Duration {
        if count < self.policy.delay_after {
            return Duration::ZERO;
        }
        let doublings = (count - self.policy.delay_after).min(16);
        Duration::from_millis(self.policy.base_delay_ms.saturating_mul(1 << doublings))
            .min(Duration::from_secs(self.policy.max_delay_seconds))
    }

    /// Whether `name` from `address` may try a password now.
    pub fn check(&self, name: &str, address: IpAddr) -> Gate {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if state.names.get(name).is_some_and(|f| f.count >= self.policy.lock_after) {
            return Gate::NameLocked;
        }
        if let Some(f) = state.addresses.get(&address) {
            if f.count >= self.policy.lock_after {
                let until = f.last + Duration::from_secs(self.policy.address_lock_minutes * 60);
                if until > now {
                    return Gate::AddressLocked(until - now);
                }
            }
        }
        let wait = [state.names.get(name).copied(), state.addresses.get(&address).copied()]
            .into_iter()
            .flatten()
            .map(|f| (f.last + self.delay(f.count)).saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait > Duration::ZERO {
            Gate::Wait(wait)
        } else {
            Gate::Open
        }
    }

    /// A wrong password (or an unknown name): counts against both.
    pub fn failed(&self, name: &str, address: IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let f = state.names.entry(name.to_string()).or_insert(Failures { count: 0, last: now });
        f.count += 1;
        f.last = now;
        let f = state.addresses.entry(address).or_insert(Failures { count: 0, last: now });
        f.count += 1;
        f.last = now;
        bound(&mut state.names);
        bound(&mut state.addresses);
    }

    /// A successful log-in clears the name's and the address's failures.
    pub fn succeeded(&self, name: &str, address: IpAddr) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.names.remove(name);
        state.addresses.remove(&address);
    }

    /// A supervisor unlocks a name; whether it was locked.
    pub fn unlock(&self, name: &str) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.names.remove(name).is_some_and(|f| f.count >= self.policy.lock_after)
    }

    /// Records a refused attempt in the security log; when the ledger's window has ended, its
    /// count (this attempt opens the next window).
    pub fn refused(&self, name: &str, address: IpAddr, reason: &'static str) -> Option<RefusalWindow> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let name: String = name.chars().take(MAX_NAME_CHARS).collect();
        state.log.push_back(SecurityEntry {
            at: unix(SystemTime::now()),
            name,
            address: address.to_string(),
            reason,
        });
        while state.log.len() > LOG_ENTRIES {
            state.log.pop_front();
        }
        let window = Duration::from_secs(self.policy.window_minutes * 60);
        let (began, since, count) = state.window;
        if began.elapsed() < window {
            state.window.2 += 1;
            return None;
        }
        state.window = (Instant::now(), SystemTime::now(), 1);
        (count > 0).then_some(RefusalWindow {
            since: unix(since),
            minutes: self.policy.window_minutes,
            refused: count,
        })
    }

    /// The security log, oldest first.
    pub fn log(&self) -> Vec<SecurityEntry> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).log.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> LoginGuard {
        LoginGuard::new(LoginPolicy { base_delay_ms: 200, max_delay_seconds: 1, ..LoginPolicy::default() })
    }

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const THERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));

    #[test]
    fn failures_wait_longer_then_lock_the_name_until_a_supervisor_unlocks_it() {
        let g = guard();
        for _ in 0..4 {
            g.failed("op", HERE);
        }
        assert_eq!(g.check("op", HERE), Gate::Open, "four failures: no wait yet");
        g.failed("op", HERE);
        assert!(matches!(g.check("op", THERE), Gate::Wait(d) if d > Duration::from_millis(100)), "per name");
        assert!(matches!(g.check("other", HERE), Gate::Wait(_)), "and per address");
        assert_eq!(g.check("other", THERE), Gate::Open);
        for _ in 0..5 {
            g.failed("op", THERE);
        }
        assert_eq!(g.check("op", IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8))), Gate::NameLocked);
        assert!(matches!(g.check("anyone", THERE), Gate::Wait(_) | Gate::AddressLocked(_)));
        assert!(g.unlock("op"));
        assert!(!g.unlock("op"), "unlocked once");
        g.succeeded("op", THERE);
        assert_eq!(g.check("op", THERE), Gate::Open);
    }

    #[test]
    fn the_security_log_is_bounded_and_names_are_cut() {
        let g = guard();
        let long = "x".repeat(100_000);
        for _ in 0..(LOG_ENTRIES + 20) {
            g.refused(&long, HERE, "wrong-password");
        }
        let log = g.log();
        assert_eq!(log.len(), LOG_ENTRIES);
        assert!(log.iter().all(|e| e.name.chars().count() == MAX_NAME_CHARS));
    }

    #[test]
    fn the_ledger_gets_one_count_per_window() {
        let g = LoginGuard::new(LoginPolicy { window_minutes: 0, ..LoginPolicy::default() });
        assert_eq!(g.refused("a", HERE, "wrong-password"), None, "the first window was empty");
        let w = g.refused("b", HERE, "wrong-password").expect("a window ended");
        assert_eq!(w.refused, 1);
    }
}
