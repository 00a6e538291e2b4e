//! The outreach kit's visit list (`station kit checkout LIST`): a JSON array of visits, each
//! `{"applicant": {...}}` (a card may be made on the visit) or `{"ssn": ..., "name": ...,
//! "premade_card": "B..."}` (a batch card travels). The whole list is checked before anybody
//! is claimed: every problem of every visit is reported at once.

use anyhow::{bail, Context, Result};
use applicant::{mask_id, Applicant};
use archive::kit::VisitRequest;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// One line of the visit list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitEntry {
    /// The applicant (as for `station issue`): needed to make a card on the visit.
    #[serde(default)]
    applicant: Option<serde_json::Value>,
    /// Without an applicant: the person's ID number.
    #[serde(default)]
    ssn: Option<String>,
    /// Without an applicant: their name.
    #[serde(default)]
    name: Option<String>,
    /// A batch card made for them that travels with the kit.
    #[serde(default)]
    premade_card: Option<String>,
}

/// What the kit carries for a person, sealed in its store.
#[derive(Serialize, Deserialize)]
pub struct CarriedApplicant {
    /// The applicant as the list gave it.
    pub applicant: serde_json::Value,
    /// The photo file's bytes (base64), when the applicant names one.
    pub photo: Option<String>,
}

/// A checked visit list.
pub struct VisitList {
    /// The people to claim, in the list's order.
    pub visits: Vec<VisitRequest>,
    /// What the kit carries for the people with an applicant: their ID number and the
    /// [`CarriedApplicant`] as JSON.
    pub carried: Vec<(String, Vec<u8>)>,
}

/// Reads the visit list `text` (`source` names it in errors), checking each applicant for
/// `today`; `read_photo` gives the bytes of an applicant's `photo` (a `photos/NAME` the
/// applicant crate accepted).
pub fn read(
    text: &str,
    source: &str,
    today: applicant::Date,
    read_photo: &mut dyn FnMut(&str) -> Result<Vec<u8>>,
) -> Result<VisitList> {
    let entries: Vec<VisitEntry> = serde_json::from_str(text)
        .with_context(|| format!("{source}: not a visit list (a JSON array of visits)"))?;
    let mut visits = Vec::new();
    let mut carried = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        match visit_of(entry, today, read_photo) {
            Ok((visit, carry)) => {
                if visits.iter().any(|v: &VisitRequest| v.ssn == visit.ssn) {
                    problems.push(format!("visit {}: {} is on the list twice", i + 1, mask_id(&visit.ssn)));
                }
                if let Some(c) = carry {
                    carried.push((visit.ssn.clone(), c));
                }
                visits.push(visit);
            }
            Err(e) => problems.push(format!("visit {}: {e:#}", i + 1)),
        }
    }
    if !problems.is_empty() {
        bail!("the visit list needs correcting; nobody was claimed:\n{}", problems.join("\n"));
    }
    if visits.is_empty() {
        bail!("the visit list is empty: put the people to visit in it");
    }
    Ok(VisitList { visits, carried })
}

/// A visit of the list and what the kit carries for it.
fn visit_of(
    entry: VisitEntry,
    today: applicant::Date,
    read_photo: &mut dyn FnMut(&str) -> Result<Vec<u8>>,
) -> Result<(VisitRequest, Option<Vec<u8>>)> {
    let Some(value) = entry.applicant else {
        let (Some(ssn), Some(name)) = (entry.ssn, entry.name) else {
            bail!("give the applicant, or the ssn and name of a person with a pre-made card");
        };
        if entry.premade_card.is_none() {
            bail!("{}: without the applicant's data no card can be made on the visit", mask_id(&ssn));
        }
        return Ok((VisitRequest { ssn, name, premade_card: entry.premade_card }, None));
    };
    let applicant: Applicant =
        serde_json::from_value(value.clone()).context("not an applicant (see station issue)")?;
    let validated = applicant
        .validate(today)
        .map_err(|e| anyhow::anyhow!("the applicant's data need correcting:\n{e}"))?;
    let photo = match &validated.photo {
        None => None,
        Some(p) => Some(base64::engine::general_purpose::STANDARD.encode(read_photo(p)?)),
    };
    let carry = serde_json::to_vec(&CarriedApplicant { applicant: value, photo })?;
    let visit = VisitRequest {
        ssn: validated.id.as_str().to_string(),
        name: validated.name.as_str().to_string(),
        premade_card: entry.premade_card,
    };
    Ok((visit, Some(carry)))
}
