//! Custody of a card by another person (RULE 4): only for the allowed groups, only with a
//! supervisor's approval saying for whom, why and until when. The station keeps its approvals
//! (its own hand-overs check them there); the province keeps them too, because an outreach kit
//! reaches only the province: a kit carries the current approvals of its pre-made cards with
//! its checkout, hands a card to an approved custodian offline, and the province checks the
//! approval again when the hand-over record arrives. One rule for every store and the kit.

use serde::{Deserialize, Serialize};

use crate::{CardRecord, Refusal};

/// The groups whose cards another person may hold (RULE 4).
pub const CUSTODY_GROUPS: [&str; 4] = ["minimum-living-allowance", "extremely-poor", "disabled", "minor"];

/// A custody approval (RULE 4), as the station records it and sends it to the province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyApproval {
    /// The card.
    pub card_number: String,
    /// One of [`CUSTODY_GROUPS`].
    pub holder_group: String,
    /// The custodian's name.
    pub custodian: String,
    /// The custodian's ID number, masked (the full number never leaves the counter).
    pub custodian_id: String,
    /// The supervisor who approved.
    pub approved_by: String,
    /// Why.
    pub reason: String,
    /// Until when (YYYYMMDD, China Standard Time).
    pub valid_until: String,
}

impl CustodyApproval {
    /// The approval's own checks: an allowed group, who approved, why, until when, and a
    /// custodian named with a masked ID number.
    pub fn check(&self) -> Result<(), String> {
        if !CUSTODY_GROUPS.contains(&self.holder_group.as_str()) {
            return Err(format!(
                "nobody may hold another person's card; custody only for {}",
                CUSTODY_GROUPS.join(", ")
            ));
        }
        if self.approved_by.trim().is_empty()
            || self.reason.trim().is_empty()
            || self.valid_until.len() != 8
            || !self.valid_until.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(
                "custody needs a recorded approval: who approved, why, and until when (YYYYMMDD)".into()
            );
        }
        if self.custodian.trim().is_empty() || !self.custodian_id.contains('*') {
            return Err(
                "custody names the custodian and the number on their ID document (kept masked)".into()
            );
        }
        Ok(())
    }

    /// Whether this approval lets `name`, whose ID document reads `masked_id` (masked), receive
    /// the card on `day` (YYYYMMDD).
    pub fn admits(&self, name: &str, masked_id: &str, day: &str) -> bool {
        CUSTODY_GROUPS.contains(&self.holder_group.as_str())
            && self.custodian.trim() == name.trim()
            && self.custodian_id.trim().eq_ignore_ascii_case(masked_id.trim())
            && self.valid_until.as_str() >= day
    }
}

/// Record a custody approval at the province (the station that answers for the card).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyRequest {
    /// Idempotency key.
    pub request_id: String,
    /// The approval.
    pub approval: CustodyApproval,
}

impl CustodyRequest {
    /// The request's own checks, before the archive acts.
    pub fn check(&self) -> Result<(), crate::ArchiveError> {
        self.approval.check().map_err(crate::ArchiveError::BadRequest)
    }
}

/// A custody approval as the province holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvincialCustody {
    /// The province's number for it: a kit's hand-over names it.
    pub approval_id: i64,
    /// The station that recorded it.
    pub station: String,
    /// The approval.
    #[serde(flatten)]
    pub approval: CustodyApproval,
}

/// Who received a card on a visit when it was not the holder: an approved custodian, with the
/// approval the kit carried and the day of the hand-over by the kit's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitCustodian {
    /// The province's approval.
    pub approval_id: i64,
    /// The custodian's name.
    pub name: String,
    /// The number on their ID document, masked.
    pub id_number: String,
    /// The day of the hand-over (YYYYMMDD).
    pub on: String,
}

/// Whether `station` may record custody of `card`: a live card that this station answers for
/// (it made or took it in). One rule for both archives.
pub fn may_record_custody(station: &str, card: &CardRecord) -> Result<(), Refusal> {
    if !card.status.is_live() {
        return Err(Refusal::NotLive { card_number: card.card_number.clone(), status: card.status });
    }
    if card.station != station {
        return Err(Refusal::NotYourCard {
            card_number: card.card_number.clone(),
            station: card.station.clone(),
        });
    }
    Ok(())
}

/// The province's check of a custodian's hand-over made offline: the approval `named` (looked
/// up by the record's approval id) is of this card, admits this custodian on the record's day,
/// and that day is not after the record arrived (`today`). The reason for the supervisor when not.
pub fn check_kit_custodian(
    card_number: &str,
    who: &KitCustodian,
    named: Option<&ProvincialCustody>,
    today: &str,
) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "handed over offline to the custodian {}: {why}; the card was not given to its holder: take it back, \
             or record a current custody approval at the station and settle this",
            who.name.trim()
        ))
    };
    let Some(custody) = named.filter(|c| c.approval.card_number == card_number) else {
        return refuse(&format!(
            "the province holds no custody approval {} for card {card_number}",
            who.approval_id
        ));
    };
    if who.on.as_str() > today {
        return refuse(&format!("the kit's day of the hand-over ({}) is after today", who.on));
    }
    if !custody.approval.admits(&who.name, &who.id_number, &who.on) {
        return refuse(&format!(
            "approval {} does not admit this custodian on {} (it names {} {}, until {})",
            who.approval_id,
            who.on,
            custody.approval.custodian.trim(),
            custody.approval.custodian_id,
            custody.approval.valid_until
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> CustodyApproval {
        CustodyApproval {
            card_number: "B00000019".into(),
            holder_group: "disabled".into(),
            custodian: "李四".into(),
            custodian_id: "440524********0014".into(),
            approved_by: "sup".into(),
            reason: "重度残疾, 由女儿代管".into(),
            valid_until: "20271231".into(),
        }
    }

    #[test]
    fn an_approval_needs_an_allowed_group_a_reason_a_date_and_a_masked_custodian() {
        assert!(approval().check().is_ok());
        let neighbour = CustodyApproval { holder_group: "neighbour".into(), ..approval() };
        assert!(neighbour.check().expect_err("group").contains("custody only for"));
        assert!(CustodyApproval { reason: " ".into(), ..approval() }.check().is_err());
        assert!(CustodyApproval { valid_until: "2027-12-31".into(), ..approval() }.check().is_err());
        let full = CustodyApproval { custodian_id: "440524199001010014".into(), ..approval() };
        assert!(full.check().expect_err("full number").contains("masked"));
    }

    #[test]
    fn the_province_checks_the_kits_custodian_against_the_approval_it_holds() {
        let held = ProvincialCustody { approval_id: 7, station: "counter-1".into(), approval: approval() };
        let who = KitCustodian {
            approval_id: 7,
            name: "李四".into(),
            id_number: "440524********0014".into(),
            on: "20270105".into(),
        };
        assert!(check_kit_custodian("B00000019", &who, Some(&held), "20270106").is_ok());
        let e = check_kit_custodian("B00000027", &who, Some(&held), "20270106").expect_err("other card");
        assert!(e.contains("holds no custody approval 7") && e.contains("take it back"), "{e}");
        assert!(check_kit_custodian("B00000019", &who, None, "20270106").is_err());
        let stranger = KitCustodian { name: "王五".into(), ..who.clone() };
        assert!(check_kit_custodian("B00000019", &stranger, Some(&held), "20270106").is_err());
        let late = KitCustodian { on: "20280101".into(), ..who.clone() };
        let e = check_kit_custodian("B00000019", &late, Some(&held), "20280102").expect_err("ended");
        assert!(e.contains("until 20271231"), "{e}");
        assert!(
            check_kit_custodian("B00000019", &who, Some(&held), "20270104").is_err(),
            "a day in the future"
        );
    }
}
