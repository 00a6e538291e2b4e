//! Every request body and query of the daemon's HTTP API through the extractor its handler
//! uses (`daemon::api::fuzzing`: axum's `Json::from_bytes` and `Query::try_from_uri`), the
//! numeric path parameters as axum parses them, then what the handlers do with the values
//! before they act. The first byte picks the route ([`routes`]); the rest is the body, the
//! query string or the path segment. (The photo upload's body, a picture's bytes, is the
//! `photo_input` target's: `decode_frame` and `process`, as the handler judges it.)
//!
//! What must hold: a refused request is a 4xx with a message; an accepted one hands the
//! handler exactly the request's fields (the default where a field was left out, no unknown
//! key through a strict type); a new password is only one the rules allow; a job is only ever
//! an applicant the steps accept, and a refused form says why field by field without echoing
//! a whole ID number; an ID number the death routes accept is the archive's person key, shown
//! masked; the dormant-card query answers for any number of days.

use std::sync::OnceLock;

use applicant::{mask_id, ResidentId};
use archive::local::LocalArchive;
use axum::extract::Query;
use axum::http::Uri;
use daemon::api::fuzzing::{
    self, Field, Fields, BODIES, IDENTITY_BODIES, LOSS_BODIES, QUERIES, REISSUE_BODIES,
};
use serde_json::Value;

/// The numeric path parameters (`Path<i64>`).
pub const NUMERIC_PATHS: [&str; 3] =
    ["GET /api/jobs/{id}", "GET /api/jobs/{id}/face", "GET /api/requests/{id}"];

/// The routes in the order the first byte picks them: the bodies, the queries, the numeric
/// paths, then the bodies of losses, fees and refusals, of a held re-issue's restore, and of an
/// identity correction.
pub fn routes() -> Vec<&'static str> {
    BODIES
        .iter()
        .chain(&QUERIES)
        .chain(&NUMERIC_PATHS)
        .chain(&LOSS_BODIES)
        .chain(&REISSUE_BODIES)
        .chain(&IDENTITY_BODIES)
        .copied()
        .collect()
}

/// An input of `route` (for the seeds): its pick byte, then `rest`.
pub fn input(route: &str, rest: &[u8]) -> Vec<u8> {
    let pick = routes().iter().position(|r| *r == route).expect("a route of the API");
    [&[pick as u8][..], rest].concat()
}

/// The target's check of one input.
pub fn check(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let routes = routes();
    let route = routes[usize::from(pick) % routes.len()];
    let bodies = [&BODIES[..], &LOSS_BODIES, &REISSUE_BODIES, &IDENTITY_BODIES];
    if bodies.iter().any(|b| b.contains(&route)) {
        body(route, rest);
    } else if QUERIES.contains(&route) {
        query(route, rest);
    } else {
        numeric_path(rest);
    }
}

fn body(route: &str, bytes: &[u8]) {
    let extracted = fuzzing::body(route, bytes).expect("a route of BODIES takes a body");
    let fields = match extracted {
        Ok(fields) => fields,
        Err(rejection) => {
            let status = rejection.status().as_u16();
            assert!(matches!(status, 400 | 422), "{route}: a refused body is a 400 or 422, not {status}");
            assert!(!rejection.body_text().is_empty(), "{route}: a refusal says why");
            return;
        }
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(sent) => as_sent(route, &fields, &sent),
        // serde_json skips the value of a key a lenient type ignores without checking that its
        // strings are UTF-8: such a body is taken though it is not JSON (harmless: nothing
        // reads that value); a strict type reads every value.
        Err(e) => assert!(!fields.strict, "{route}: a body that is not JSON ({e}) was taken"),
    }
    let value = |name: &str| -> &Value {
        &fields.fields.iter().find(|f| f.name == name).expect("the route's field").value
    };
    match route {
        "POST /api/session/password" => password(text(value("current")), text(value("new"))),
        "POST /api/jobs" => job(value("applicant").clone()),
        "POST /api/validate" => form(value("").clone()),
        "POST /api/persons/deceased" | "POST /api/persons/deceased/correct" => {
            death(route, text(value("id_number")), value("request_key").as_str());
        }
        "POST /api/cards/{card}/custody" => {
            let id = text(value("custodian_id"));
            let masked = mask_id(id);
            assert_eq!(masked.chars().count(), id.chars().count());
            let shown = masked.chars().zip(id.chars()).filter(|(m, c)| m == c && *c != '*').count();
            assert!(shown <= 10, "a custodian's ID number is kept masked: {shown} characters shown");
        }
        "POST /api/cards/{card}/loss" => {
            let client = value("request_key").as_str();
            let key = fuzzing::request_key("loss", "B00000019", client);
            assert!(key.starts_with("loss-B00000019-"), "{key}");
            if let Some(k) = client.filter(|k| !k.trim().is_empty()) {
                assert_eq!(
                    key,
                    format!("loss-B00000019-{k}"),
                    "a retry with the caller's key is the same call"
                );
            }
        }
        _ => {}
    }
}

/// The handler sees the fields as sent: each one given (by name in an object, by position in
/// an array, which serde also takes), the default of one left out, and a strict type lets
/// no other key through.
fn as_sent(route: &str, fields: &Fields, sent: &Value) {
    if let [Field { name: "", value, .. }] = fields.fields.as_slice() {
        assert_eq!(value, sent, "{route}: the whole body");
        return;
    }
    for (i, f) in fields.fields.iter().enumerate() {
        let given = match sent {
            Value::Object(map) => map.get(f.name),
            Value::Array(items) => items.get(i),
            other => panic!("{route}: a {other} body was taken as a struct"),
        };
        match (given, &f.default) {
            (Some(given), _) => assert_eq!(&f.value, given, "{route}: {} as sent", f.name),
            (None, Some(default)) => assert_eq!(&f.value, default, "{route}: {} left out", f.name),
            (None, None) => panic!("{route}: required field {} left out, yet taken", f.name),
        }
    }
    match sent {
        Value::Object(map) if fields.strict => {
            for key in map.keys() {
                assert!(
                    fields.fields.iter().any(|f| f.name == key),
                    "{route}: unknown key {key:?} let through"
                );
            }
        }
        Value::Array(items) => {
            assert!(items.len() <= fields.fields.len(), "{route}: extra items let through")
        }
        _ => {}
    }
}

fn text(v: &Value) -> &str {
    v.as_str().expect("a string field")
}

/// `POST /api/session/password`: a password the station takes has the length it asks for, is
/// new, does not hold the operator's name and has at least four different characters.
fn password(current: &str, new: &str) {
    let name = "Op-1";
    match daemon::login::password_problem(name, current, new) {
        None => {
            let chars = new.chars().count();
            assert!(
                (daemon::login::MIN_PASSWORD_CHARS..=daemon::login::MAX_PASSWORD_CHARS).contains(&chars),
                "a password of {chars} characters taken"
            );
            assert_ne!(new, current, "the password given was taken again");
            assert!(!new.to_lowercase().contains("op-1"), "a password with the operator's name taken");
            assert!(new.chars().collect::<std::collections::BTreeSet<_>>().len() >= 4);
        }
        Some(why) => assert!(!why.is_empty()),
    }
}

/// `POST /api/jobs`: the applicant becomes a job only if the steps will accept it.
fn job(applicant: Value) {
    let holder_id = holder_id(&applicant);
    match fuzzing::accept(applicant.clone(), crate::today()) {
        Ok(a) => {
            assert!(
                a.validate(crate::today()).is_ok(),
                "a job was accepted for an applicant the steps refuse"
            )
        }
        Err(verdict) => {
            refusal(&verdict);
            private(&applicant, holder_id.as_deref(), &verdict);
        }
    }
}

/// `POST /api/validate`: a verdict that says valid or why not, and the ID number whose live
/// cards it lists.
fn form(body: Value) {
    let holder_id = holder_id(&body);
    let (verdict, id) = fuzzing::verdict(body.clone(), crate::today());
    if verdict["valid"] == true {
        assert!(verdict["errors"].as_array().is_some_and(|e| e.is_empty()), "valid with errors: {verdict}");
    } else {
        refusal(&verdict);
    }
    if let Some(id) = &id {
        assert!(id.len() >= 15, "live cards looked up for {id:?}");
        assert_eq!(Some(id), holder_id.as_ref(), "the live cards are the holder's");
    }
    private(&body, holder_id.as_deref(), &verdict);
}

fn holder_id(applicant: &Value) -> Option<String> {
    applicant.get("holder")?.get("id_number")?.as_str().map(str::to_string)
}

/// A refused form: not valid, every error with its rule, what is wrong and what to do.
fn refusal(verdict: &Value) {
    assert_eq!(verdict["valid"], false, "{verdict}");
    let errors = verdict["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "refused without an error: {verdict}");
    for e in errors {
        for key in ["rule", "message", "hint"] {
            assert!(e[key].as_str().is_some_and(|s| !s.is_empty()), "an error without its {key}: {e}");
        }
    }
}

/// The verdict never carries the holder's whole ID number, unless the form had it elsewhere
/// too (a value the parser quotes in its message).
fn private(form: &Value, id: Option<&str>, verdict: &Value) {
    let Some(id) = id.filter(|id| id.chars().count() >= 15) else { return };
    let mut strings = Vec::new();
    collect_strings(form, &mut strings);
    if strings.iter().filter(|s| s.contains(id)).count() > 1 {
        return;
    }
    assert!(!verdict.to_string().contains(id), "the verdict shows the whole ID number {}", mask_id(id));
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

/// The death routes: an ID number they accept is the archive's person key, shown masked, and
/// the province's request key is the caller's when given.
fn death(route: &str, id_number: &str, client_key: Option<&str>) {
    let Ok((id, _)) = ResidentId::parse(id_number, crate::today()) else { return };
    archive::check_person(id.as_str())
        .unwrap_or_else(|e| panic!("{route}: accepted ID not a person key: {e}"));
    let masked = id.masked();
    assert!(!masked.contains(id.as_str()) && masked.contains('*'), "{route}: {masked}");
    let kind = if route.ends_with("correct") { "correct-deceased" } else { "deceased" };
    let key = fuzzing::request_key(kind, &masked, client_key);
    assert!(!key.contains(id.as_str()), "{route}: the whole ID number in the province's request key");
}

fn query(route: &str, rest: &[u8]) {
    let path = route.trim_start_matches("GET ");
    let uri: Vec<u8> = [path.as_bytes(), b"?", rest].concat();
    // A request line hyper would not take never reaches the extractor.
    let Ok(uri) = Uri::try_from(uri) else { return };
    let extracted = fuzzing::query(route, &uri).expect("a route of QUERIES takes a query");
    let fields = match extracted {
        Ok(fields) => fields,
        Err(rejection) => {
            assert_eq!(rejection.status().as_u16(), 400, "{route}: a refused query is a 400");
            assert!(!rejection.body_text().is_empty());
            return;
        }
    };
    // The pairs as sent, decoded by the same rules (a key given twice is refused above).
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(&uri).expect("the query's pairs").0;
    for f in &fields.fields {
        let given: Vec<&String> = pairs.iter().filter(|(k, _)| k == f.name).map(|(_, v)| v).collect();
        match (given.as_slice(), f.name) {
            ([], _) => assert_eq!(Some(&f.value), f.default.as_ref(), "{route}: {} left out", f.name),
            ([v], "days") => assert_eq!(f.value.as_i64(), v.parse::<i64>().ok(), "{route}: days as sent"),
            ([v], _) => assert_eq!(f.value.as_str(), Some(v.as_str()), "{route}: {} as sent", f.name),
            (more, _) => panic!("{route}: {} given {} times, yet taken", f.name, more.len()),
        }
    }
    match route {
        "GET /api/cards" => {
            if let Some(word) = fields.fields[0].value.as_str().filter(|w| !w.is_empty()) {
                match archive::CardStatus::parse(word) {
                    Some(s) => assert_eq!(s.as_str(), word),
                    None => assert!(archive::CardStatus::ALL.iter().all(|s| s.as_str() != word)),
                }
            }
        }
        "GET /api/cards/dormant" => {
            let days = fields.fields[0].value.as_i64().expect("days");
            // What the handler asks the station's archive, for any number of days.
            archive().dormant_cards(days).unwrap_or_else(|e| panic!("dormant cards of {days} days: {e}"));
        }
        _ => {}
    }
}

/// An empty archive of the station, made once.
fn archive() -> &'static LocalArchive {
    static ARCHIVE: OnceLock<(tempfile::TempDir, LocalArchive)> = OnceLock::new();
    let (_, archive) = ARCHIVE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let archive =
            LocalArchive::open_unencrypted(dir.path().join("station.db"), "S-FUZZ").expect("archive");
        (dir, archive)
    });
    archive
}

/// `Path<i64>` (`/api/jobs/{id}`, `/api/jobs/{id}/face`): axum parses the segment as `i64`.
fn numeric_path(segment: &[u8]) {
    let Ok(text) = std::str::from_utf8(segment) else { return };
    if let Ok(id) = text.parse::<i64>() {
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()), "{text:?} taken as {id}");
        assert_eq!(text.parse::<i128>().ok(), Some(i128::from(id)));
    }
}
