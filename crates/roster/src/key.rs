//! Resident ID numbers packed into a `u64`, the join key of the comparison.
//!
//! A checked 18-character number is fully determined by its first 17 digits (the 18th is
//! their check character), so those digits as an integer are a lossless key: 8 bytes instead
//! of a 24-byte `String` and its heap block, and hashing one integer instead of 18 bytes.
//! With 10 M issuance records streamed past a set of 1 M roster keys this is most of the
//! memory and much of the time.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// The first 17 digits of a checked resident ID number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdKey(u64);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

impl IdKey {
    /// The key of an 18-character number whose check character matches (lower-case x is
    /// taken as X). Nothing else is checked: this is for records that come from the card
    /// system, which checked them when the card was made; roster rows go through
    /// [`applicant::ResidentId::parse`] first.
    pub fn from_checked_bytes(b: &[u8]) -> Option<IdKey> {
        if b.len() != 18 {
            return None;
        }
        let mut n: u64 = 0;
        let mut s: u32 = 0;
        for (&c, w) in b[..17].iter().zip(WEIGHTS) {
            if !c.is_ascii_digit() {
                return None;
            }
            let d = c - b'0';
            n = n * 10 + u64::from(d);
            s += u32::from(d) * w;
        }
        let check = CHECK[(s % 11) as usize];
        (b[17].to_ascii_uppercase() == check).then_some(IdKey(n))
    }

    /// The key of a number that [`applicant::ResidentId`] has checked.
    pub fn of(id: &applicant::ResidentId) -> IdKey {
        // A ResidentId is 18 checked characters, so this cannot fail; 0 would only ever be
        // a key no real number has.
        IdKey::from_checked_bytes(id.as_str().as_bytes()).unwrap_or(IdKey(0))
    }

    /// The integer (the first 17 digits).
    pub fn value(self) -> u64 {
        self.0
    }

    /// Rebuilds the key from [`IdKey::value`]; `None` above 17 digits.
    pub fn from_value(v: u64) -> Option<IdKey> {
        (v < 100_000_000_000_000_000).then_some(IdKey(v))
    }

    /// The full 18-character number.
    pub fn to_id_string(self) -> String {
        let mut id = format!("{:017}", self.0);
        let check = applicant::gb11643_check_char(&id).unwrap_or('?');
        id.push(check);
        id
    }

    /// First six and last four characters, the rest hidden, for logs and action lists.
    pub fn masked(self) -> String {
        mask(&self.to_id_string())
    }
}

/// First six and last four characters of an ID number, the rest as `*`.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 10 {
        return "*".repeat(n);
    }
    s.chars().enumerate().map(|(i, c)| if i < 6 || i >= n - 4 { c } else { '*' }).collect()
}

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdKey({})", self.masked())
    }
}

/// A hasher for [`IdKey`]s: the keys are already well spread digits, one multiply-xorshift
/// round (SplitMix64's finaliser) is enough and several times cheaper than SipHash.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.0 = z ^ (z >> 31);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by ID number.
pub type KeyMap<V> = HashMap<IdKey, V, BuildHasherDefault<KeyHasher>>;
/// A set of ID numbers.
pub type KeySet = HashSet<IdKey, BuildHasherDefault<KeyHasher>>;

/// The keys of a [`KeyMap`] with a bit set in front: one bit per hashed key, 16 bits per key,
/// so most keys that are not in the map (nine issuance records in ten are of persons not on
/// the roster) are told apart by one probe into a table an eighth of the map's size, which
/// stays in the cache where the map does not.
#[derive(Debug)]
pub struct KeyFilter<'a, V> {
    map: &'a KeyMap<V>,
    bits: Vec<u64>,
    shift: u32,
}

impl<'a, V> KeyFilter<'a, V> {
    /// The filter of `map`'s keys.
    pub fn new(map: &'a KeyMap<V>) -> KeyFilter<'a, V> {
        let n = (map.len() * 16).next_power_of_two().max(64);
        let mut f = KeyFilter { map, bits: vec![0; n / 64], shift: 64 - n.trailing_zeros() };
        for k in map.keys() {
            let b = f.bit(*k);
            f.bits[b / 64] |= 1 << (b % 64);
        }
        f
    }

    fn bit(&self, k: IdKey) -> usize {
        (k.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// False when `key` is surely not in the map (the bit set alone).
    pub fn may_contain(&self, key: IdKey) -> bool {
        let b = self.bit(key);
        self.bits[b / 64] & (1 << (b % 64)) != 0
    }

    /// True when `key` is in the map.
    pub fn contains(&self, key: IdKey) -> bool {
        self.may_contain(key) && self.map.contains_key(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_holds_the_keys_of_its_map() {
        let mut map = KeyMap::default();
        for v in (0..5_000u64).map(|i| 110_105_194_912_310_000 / 10 + i * 7_919) {
            map.insert(IdKey(v), ());
        }
        let f = KeyFilter::new(&map);
        for v in (0..20_000u64).map(|i| 110_105_194_912_310_000 / 10 + i * 1_979) {
            assert_eq!(f.contains(IdKey(v)), map.contains_key(&IdKey(v)), "{v}");
        }
        assert!(!KeyFilter::new(&KeyMap::<()>::default()).contains(IdKey(1)));
    }

    #[test]
    fn round_trip_and_check_character() {
        for id in ["11010519491231002X", "440524188001010014", "34052419800101001X"] {
            let k = IdKey::from_checked_bytes(id.as_bytes()).expect(id);
            assert_eq!(k.to_id_string(), id);
            assert_eq!(IdKey::from_value(k.value()), Some(k));
        }
        assert_eq!(
            IdKey::from_checked_bytes(b"11010519491231002x"),
            IdKey::from_checked_bytes(b"11010519491231002X")
        );
        assert!(IdKey::from_checked_bytes(b"110105194912310021").is_none(), "wrong check");
        assert!(IdKey::from_checked_bytes(b"11010519491231002").is_none(), "short");
        assert!(IdKey::from_checked_bytes(b"1101051949123100AX").is_none(), "letter");
        assert_eq!(
            format!("{:?}", IdKey::from_checked_bytes(b"11010519491231002X").expect("ok")),
            "IdKey(110105********002X)"
        );
    }
}
