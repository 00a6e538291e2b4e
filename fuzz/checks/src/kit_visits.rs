//! The outreach kit's visit list (`station kit checkout LIST`, read by `station::visits::read`
//! before anybody is claimed): a JSON array of applicants, or of people with a pre-made card.
//! The photos it names are served from memory and recorded.
//!
//! What must hold: the list makes the kit read only photos of the station's photo directory
//! (`photos/NAME`, the applicant crate's rule); a list that is refused says why (a list that is
//! not JSON names the file); a list that is taken has somebody on it, nobody twice (an ID
//! number in either case of its check character is one person), a card to hand over or the
//! applicant's data for everyone, and what the kit carries for a person is their applicant,
//! valid, with their photo.

use applicant::Applicant;
use base64::Engine as _;
use station::visits::CarriedApplicant;

/// The photo bytes the list's photos read as.
const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 a photo";

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut asked = Vec::new();
    let mut read_photo = |p: &str| {
        asked.push(p.to_string());
        Ok(PHOTO.to_vec())
    };
    let read = station::visits::read(text, "visits.json", crate::today(), &mut read_photo);
    for p in &asked {
        assert!(applicant::photo_name(p).is_some(), "the list made the kit read {p:?}");
    }
    let list = match read {
        Ok(list) => list,
        Err(e) => {
            let text = format!("{e:#}");
            assert!(!text.is_empty());
            if serde_json::from_str::<serde_json::Value>(std::str::from_utf8(data).unwrap_or("")).is_err() {
                assert!(text.starts_with("visits.json: not a visit list"), "{text}");
            }
            return;
        }
    };
    assert!(!list.visits.is_empty(), "an empty list taken");
    for (i, v) in list.visits.iter().enumerate() {
        let same = |w: &archive::kit::VisitRequest| w.ssn.eq_ignore_ascii_case(&v.ssn);
        assert!(!list.visits[..i].iter().any(same), "{} on the list twice", applicant::mask_id(&v.ssn));
        let carried: Vec<&Vec<u8>> =
            list.carried.iter().filter(|(ssn, _)| *ssn == v.ssn).map(|(_, c)| c).collect();
        match carried.as_slice() {
            [] => assert!(v.premade_card.is_some(), "a visit with neither a card nor the applicant's data"),
            [c] => {
                let c: CarriedApplicant = serde_json::from_slice(c).expect("the carried data");
                let a: Applicant = serde_json::from_value(c.applicant).expect("the carried applicant");
                let valid = a.validate(crate::today()).expect("the carried applicant is valid");
                assert_eq!(valid.id.as_str(), v.ssn, "the carried applicant is the visit's person");
                assert_eq!(valid.name.as_str(), v.name);
                let photo =
                    c.photo.map(|p| base64::engine::general_purpose::STANDARD.decode(p).expect("base64"));
                assert_eq!(photo.is_some(), valid.photo.is_some());
                assert!(photo.is_none_or(|p| p == PHOTO), "the photo read is the one carried");
            }
            more => panic!("{} carried {} times", applicant::mask_id(&v.ssn), more.len()),
        }
    }
    assert!(list.carried.len() <= list.visits.len());
}
