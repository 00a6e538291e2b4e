//! What must hold of each parser of bytes from outside the station: one module per cargo-fuzz
//! target of `fuzz/`, whose `check` is the whole body of the target. The targets call these
//! checks under libFuzzer (nightly, AddressSanitizer); this crate's test replays every file
//! of `fuzz/corpus/<target>/` through the same checks on the stable toolchain, as part of the
//! workspace's tests, so the seeds and the inputs kept from findings stay regression tests.
//!
//! The crate is a member of the station's workspace (its dependencies are the workspace's,
//! built once); `fuzz/` is a workspace of its own that depends on it by path.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use card_transport::{Capabilities, CardTransaction, TransportError};

pub mod apdu_command;
pub mod apdu_response;
pub mod apdu_transmit;
pub mod applicant_json;
pub mod ber_tlv;
pub mod daemon_api;
pub mod daemon_requests;
pub mod emv_dp;
pub mod emv_terminal;
pub mod emv_tlv;
pub mod evolis_replies;
pub mod evolis_requests;
pub mod face_photo;
pub mod face_template;
pub mod gp_init_update;
pub mod idv_answers;
pub mod kit_visits;
pub mod photo_input;
pub mod profile_toml;
pub mod provincial_answers;
pub mod provincial_requests;
pub mod roster_csv;
pub mod roster_xlsx;
pub mod ssse_read_card;
pub mod ssse_records;
pub mod station_toml;
#[cfg(feature = "sim")]
pub mod vpcd_frames;

/// A target's check: panics when something that must hold of the parser does not.
pub type Check = fn(&[u8]);

/// Every target by name (the name of its file in `fuzz/fuzz_targets/` and of its corpus in
/// `fuzz/corpus/`), with its check. `vpcd_frames` needs the simulator (feature `sim`).
pub const TARGETS: &[(&str, Check)] = &[
    ("apdu_command", apdu_command::check),
    ("apdu_response", apdu_response::check),
    ("apdu_transmit", apdu_transmit::check),
    ("applicant_json", applicant_json::check),
    ("ber_tlv", ber_tlv::check),
    ("daemon_api", daemon_api::check),
    ("daemon_requests", daemon_requests::check),
    ("emv_dp", emv_dp::check),
    ("emv_terminal", emv_terminal::check),
    ("emv_tlv", emv_tlv::check),
    ("evolis_replies", evolis_replies::check),
    ("evolis_requests", evolis_requests::check),
    ("face_photo", face_photo::check),
    ("face_template", face_template::check),
    ("gp_init_update", gp_init_update::check),
    ("idv_answers", idv_answers::check),
    ("kit_visits", kit_visits::check),
    ("photo_input", photo_input::check),
    ("profile_toml", profile_toml::check),
    ("provincial_answers", provincial_answers::check),
    ("provincial_requests", provincial_requests::check),
    ("roster_csv", roster_csv::check),
    ("roster_xlsx", roster_xlsx::check),
    ("ssse_read_card", ssse_read_card::check),
    ("ssse_records", ssse_records::check),
    ("station_toml", station_toml::check),
    #[cfg(feature = "sim")]
    ("vpcd_frames", vpcd_frames::check),
];

/// The day the checks validate applicants for (fixed, so a replay judges as the run did).
pub fn today() -> applicant::Date {
    applicant::Date::new(2026, 12, 4).expect("date")
}

/// The largest photo file the station reads ([`station::faces::MAX_PHOTO_BYTES`]): the photo
/// targets skip larger inputs.
pub const MAX_PHOTO_BYTES: usize = station::faces::MAX_PHOTO_BYTES as usize;

/// A card that answers each APDU with the next answer cut from the fuzzer's input: a length
/// byte, then that many bytes (fewer at the end of the input). When the input is used up the
/// card is gone ([`TransportError::CardRemoved`]), so every flow ends.
pub struct ScriptedCard<'a> {
    input: &'a [u8],
    caps: Capabilities,
    /// The APDUs sent, in order.
    pub sent: Vec<Vec<u8>>,
}

impl<'a> ScriptedCard<'a> {
    /// A card over `input`; its first byte chooses short or extended APDUs.
    pub fn new(input: &'a [u8]) -> ScriptedCard<'a> {
        let (caps, input) = match input.split_first() {
            Some((b, rest)) if b & 1 == 1 => (Capabilities::EXTENDED, rest),
            Some((_, rest)) => (Capabilities::SHORT, rest),
            None => (Capabilities::SHORT, input),
        };
        ScriptedCard { input, caps, sent: Vec::new() }
    }

    /// The next answer, as the card would send it.
    fn next_answer(&mut self) -> Option<Vec<u8>> {
        let (&len, rest) = self.input.split_first()?;
        let take = (len as usize).min(rest.len());
        let (answer, rest) = rest.split_at(take);
        self.input = rest;
        Some(answer.to_vec())
    }
}

impl CardTransaction for ScriptedCard<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        // What a reader would refuse to carry never reaches the card.
        assert!(command.len() >= 4, "a command APDU of {} bytes was sent", command.len());
        let data_limit = if self.caps.extended_length { 65_535 + 9 } else { 255 + 6 };
        assert!(command.len() <= data_limit, "an APDU of {} bytes exceeds the reader's limit", command.len());
        self.sent.push(command.to_vec());
        let answer = self.next_answer().ok_or(TransportError::CardRemoved)?;
        if answer.len() < 2 {
            // The transport contract: a short answer is never `Ok`.
            return Err(TransportError::ShortResponse(answer.len()));
        }
        Ok(answer)
    }

    fn was_reset(&self) -> bool {
        false
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }
}

/// The repository's root (this crate is `fuzz/checks`).
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// A firmware profile of the repository (`firmware-profiles/NAME`).
pub fn profile_path(name: &str) -> PathBuf {
    repo_path("firmware-profiles").join(name)
}

/// Reads `data` as a roster of the format extension `ext` names, as `station compare` reads
/// a file, checking what must hold of rows and errors.
pub fn roster_case(data: &[u8], ext: &str) {
    use roster::input::{read_bytes, Field, Format};
    use roster::validate::{check, Kind, Rules};

    // In memory, through the same readers as a file (no file, no reader thread per input).
    let format = if ext == "xlsx" { Format::Xlsx } else { Format::Csv };
    if format == Format::Xlsx {
        let_roster_catch_calamine_panics();
    }
    let rules = Rules { today: today(), default_kind: Kind::Existing, strict: false };
    match read_bytes(data, format, None) {
        Ok(rows) => {
            let mut last = 1;
            for (i, raw) in rows.iter().enumerate() {
                assert!(raw.row > last || ext == "xlsx", "CSV rows numbered after the header, in order");
                assert!(raw.row >= 2, "row {} is at or above the header", raw.row);
                last = raw.row;
                for f in Field::ALL {
                    let v = raw.get(f);
                    assert_eq!(v, v.trim(), "values are trimmed");
                }
                // Validation is per row: the first rows are enough to check it on every input.
                if i < 16 {
                    let checked = check(raw, &rules);
                    assert!(
                        checked.person.is_some() || !checked.problems.is_empty(),
                        "a rejected row says why"
                    );
                    for p in &checked.problems {
                        assert!(!p.rule().is_empty() && !p.hint().is_empty());
                    }
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// calamine panics on some hostile workbooks (an overflowing sheet dimension: a known bug of
/// 0.38, two inputs in `crates/roster/tests/data/`); roster's XLSX reader catches every panic
/// and returns the file's input error, which `roster_case` then checks like any error. The hook
/// libfuzzer-sys installs aborts at any panic, caught or not, so panics raised inside calamine
/// are let unwind to roster's guard; every other panic still goes to that hook and aborts, and
/// a calamine panic that roster failed to catch would still abort at the target's boundary.
fn let_roster_catch_calamine_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| l.file().contains("/calamine-")) {
                return;
            }
            fuzzer_hook(info)
        }));
    });
}

/// Validates an applicant and checks what a refusal must carry: at least one error, each
/// naming its field and rule, with a message and a hint for the operator.
pub fn validate(a: &applicant::Applicant, today: applicant::Date) {
    match a.validate(today) {
        Ok(v) => {
            let _ = v.id.as_str();
        }
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "a refusal without an error");
            for e in &errors.errors {
                assert!(!e.field.is_empty() && !e.rule.is_empty(), "{e:?}");
                assert!(!e.message.is_empty() && !e.hint.is_empty(), "{e:?}");
            }
            assert!(!errors.to_string().is_empty());
        }
    }
}

/// Whether `needle` occurs in `hay` (the empty slice occurs everywhere).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}
