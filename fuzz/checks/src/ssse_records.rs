//! EF05 / EF06 records as read from a card: decoded fields that can be written again give
//! the same records back (decode(encode(x)) == x), errors name the field, and the holder's
//! `Debug` never shows a whole ID number.

use std::collections::BTreeMap;

use ssse::{HolderData, IssuerData};

/// `tag len bytes...` triples: the records by number.
fn records(mut data: &[u8]) -> BTreeMap<u8, Vec<u8>> {
    let mut out = BTreeMap::new();
    while let [tag, len, rest @ ..] = data {
        let take = (*len as usize).min(rest.len());
        out.insert(*tag, rest[..take].to_vec());
        data = &rest[take..];
    }
    out
}

fn by_number(recs: Vec<(u8, Vec<u8>)>) -> BTreeMap<u8, Vec<u8>> {
    recs.into_iter().collect()
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let recs = records(data);
    match IssuerData::from_records(&recs) {
        Ok(issuer) => {
            let _ = issuer.card_id.region();
            if let Ok(written) = issuer.records() {
                assert_eq!(written.len(), 7);
                let again = IssuerData::from_records(&by_number(written)).expect("written EF05 reads back");
                assert_eq!(again, issuer, "EF05 decode(encode(x)) == x");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match HolderData::from_records(&recs) {
        Ok(holder) => {
            if holder.ssn.len() == 18 {
                assert!(!format!("{holder:?}").contains(&holder.ssn), "Debug shows the whole ID number");
            }
            let with_extension = recs.contains_key(&ssse::records::NAME_EXTENSION_TAG);
            if let Ok(written) = holder.records(with_extension) {
                let again = HolderData::from_records(&by_number(written)).expect("written EF06 reads back");
                assert_eq!(again, holder, "EF06 decode(encode(x)) == x");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
