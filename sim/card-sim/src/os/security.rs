//! GET CHALLENGE, EXTERNAL AUTHENTICATE and VERIFY, with persisted try counters.

use apdu::{Command, Response, StatusWord};

use super::{CardOs, Granted};
use crate::state::secret_ref;

/// Compares without stopping at the first difference (habit from real cards; the simulator
/// has no timing attacker, the code still reads as a card engineer expects).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl CardOs {
    pub(super) fn get_challenge(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let len = match cmd.le {
            Some(n @ (4 | 8 | 16)) => n,
            _ => return Err(StatusWord::WrongLength),
        };
        let mut challenge = Vec::with_capacity(len);
        while challenge.len() < len {
            challenge.extend(self.next_random().to_be_bytes());
        }
        challenge.truncate(len);
        self.vol.challenge = Some(challenge.clone());
        Ok(Response::new(challenge, StatusWord::Success))
    }

    /// Counts a failed try; 63Cx with the tries left (63C0 when this one blocked it).
    fn count_failure(&mut self, counter: &str, is_key: bool) -> StatusWord {
        let map = if is_key { &mut self.state.key_tries } else { &mut self.state.pin_tries };
        let left = map.get(counter).copied().unwrap_or(0).saturating_sub(1);
        map.insert(counter.to_string(), left);
        self.dirty = true;
        StatusWord::RetriesLeft(left)
    }

    /// Resets a try counter after a success.
    fn reset_tries(&mut self, counter: &str, is_key: bool, max: u8) {
        let map = if is_key { &mut self.state.key_tries } else { &mut self.state.pin_tries };
        if map.insert(counter.to_string(), max) != Some(max) {
            self.dirty = true;
        }
    }

    /// EXTERNAL AUTHENTICATE (P2 = card key id): the data must be the 16-byte
    /// [`card_crypto::external_auth_cryptogram`] of the last challenge. The
    /// challenge is used up either way, so a cryptogram cannot be replayed.
    pub(super) fn external_authenticate(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let df = self.vol.current_df.clone();
        let key = self.profile.find_key(&df, cmd.p2).cloned().ok_or(StatusWord::ReferencedDataNotFound)?;
        let value = self.key_value(&key.df, key.id, None).ok_or(StatusWord::ReferencedDataNotFound)?.to_vec();
        let counter = secret_ref(&key.df, key.id, None);
        if self.state.key_tries.get(&counter).copied().unwrap_or(0) == 0 {
            return Err(StatusWord::AuthenticationBlocked);
        }
        if cmd.data.len() != card_crypto::CRYPTOGRAM_LEN {
            return Err(StatusWord::WrongLength);
        }
        let challenge = self.vol.challenge.take().ok_or(StatusWord::ConditionsNotSatisfied)?;
        let expected = card_crypto::external_auth_cryptogram(key.algorithm, &value, &challenge)
            .map_err(|_| StatusWord::ReferenceDataNotUsable)?;
        if !same(&expected, &cmd.data) {
            return Err(self.count_failure(&counter, true));
        }
        self.reset_tries(&counter, true, key.tries);
        self.vol.granted.insert(Granted::Key(key.df, key.id));
        Ok(Response::status(StatusWord::Success))
    }

    /// VERIFY (P2 = PIN reference). Without data it reports the state: 9000 when verified,
    /// else 63Cx.
    pub(super) fn verify(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        if cmd.p1 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let df = self.vol.current_df.clone();
        let pin = self.profile.find_pin(&df, cmd.p2).cloned().ok_or(StatusWord::ReferencedDataNotFound)?;
        let counter = secret_ref(&pin.df, pin.id, None);
        let left = self.state.pin_tries.get(&counter).copied().unwrap_or(0);
        let granted = Granted::Pin(pin.df.clone(), pin.id);
        if left == 0 {
            return Err(StatusWord::AuthenticationBlocked);
        }
        if cmd.data.is_empty() {
            return Err(if self.vol.granted.contains(&granted) {
                StatusWord::Success
            } else {
                StatusWord::RetriesLeft(left)
            });
        }
        let value = self.profile.sim_pin(&pin.df, pin.id).ok_or(StatusWord::ReferenceDataNotUsable)?;
        if !same(value, &cmd.data) {
            self.vol.granted.remove(&granted);
            return Err(self.count_failure(&counter, false));
        }
        self.reset_tries(&counter, false, pin.tries);
        self.vol.granted.insert(granted);
        Ok(Response::status(StatusWord::Success))
    }
}
