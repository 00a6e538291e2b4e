//! The daemon's API request bodies (`POST /api/session`, `POST /api/jobs`) as its `Json`
//! extractors read them, and the applicant inside a job request as the worker turns it into
//! an `Applicant` and validates it: a typed error or a value, and a refused applicant names
//! each field with a hint.

use applicant::{Applicant, Date};
use daemon::api::fuzzing;

/// The target's check of one input.
pub fn check(data: &[u8]) {
    if let Ok((operator, password)) = fuzzing::login(data) {
        let _ = (operator.len(), password.len());
    }
    let Ok((applicant, reissue_of)) = fuzzing::issue(data) else { return };
    let _ = reissue_of;
    let Ok(a) = serde_json::from_value::<Applicant>(applicant) else { return };
    crate::validate(&a, Date::new(2026, 12, 4).expect("date"));
}
