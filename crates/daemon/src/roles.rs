//! Who may call each route: one table, read by the session check in front of every handler
//! ([`crate::state::Authed`]), stated in the README's table of routes and roles, and walked
//! by the test that calls every route with every role. A route missing here is refused to
//! everyone: a new route is closed until someone decides who may use it.

use crate::auth::Role;

const ANYONE: &[Role] = &[Role::Operator, Role::Supervisor, Role::Auditor];
const ISSUERS: &[Role] = &[Role::Operator, Role::Supervisor];
const SUPERVISORS: &[Role] = &[Role::Supervisor];
const READERS: &[Role] = &[Role::Supervisor, Role::Auditor];

/// One route: its method and path (as the router names it), the roles that may call it and
/// what it does, for the refusal ("an auditor may not issue cards").
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern, `{name}` for a parameter.
    pub path: &'static str,
    /// Who may.
    pub roles: &'static [Role],
    /// What it does, after "may not".
    pub what: &'static str,
}

const fn rule(method: &'static str, path: &'static str, roles: &'static [Role], what: &'static str) -> Rule {
    Rule { method, path, roles, what }
}

/// Every route that needs a session. (`GET /api/health`, `POST /api/session` and the page's
/// own files need none.)
pub const RULES: &[Rule] = &[
    rule("GET", "/api/me", ANYONE, "see who is logged in"),
    rule("DELETE", "/api/session", ANYONE, "log out"),
    rule("POST", "/api/session/password", ANYONE, "choose a password"),
    rule("POST", "/api/operators/{name}/unlock", SUPERVISORS, "unlock an account (a supervisor unlocks)"),
    rule("GET", "/api/security/log", READERS, "read the security log"),
    rule("POST", "/api/jobs", ISSUERS, "issue cards"),
    rule("GET", "/api/jobs/waiting", ANYONE, "list the jobs that wait for a person"),
    rule("GET", "/api/jobs/{id}", ANYONE, "follow a job"),
    rule("GET", "/api/requests/{id}", ANYONE, "follow a request"),
    rule("GET", "/api/jobs/{id}/face", ISSUERS, "see a printed face (full ID number and photo)"),
    rule("GET", "/api/jobs/{id}/form", ISSUERS, "print an application form (full ID number)"),
    rule("GET", "/api/events", ANYONE, "follow the jobs"),
    rule("GET", "/api/ledger", READERS, "read the ledger"),
    rule("GET", "/api/ledger/verify", READERS, "verify the ledger"),
    rule("GET", "/api/cards", ANYONE, "list cards"),
    rule("GET", "/api/cards/dormant", ANYONE, "list dormant cards"),
    rule("GET", "/api/cards/{card}", ANYONE, "see a card"),
    rule("POST", "/api/cards/{card}/handover", ISSUERS, "hand cards over"),
    rule("POST", "/api/cards/{card}/stock", ISSUERS, "put cards in stock"),
    rule("POST", "/api/cards/{card}/activate", ISSUERS, "activate cards"),
    rule("GET", "/api/banks", ANYONE, "list the banks"),
    rule("GET", "/api/insurance-categories", ANYONE, "list the medical-insurance categories"),
    rule(
        "GET",
        "/api/jobs/{id}/account",
        SUPERVISORS,
        "read a made card's whole account (the batch's return file: a supervisor)",
    ),
    rule(
        "POST",
        "/api/jobs/{id}/restore",
        SUPERVISORS,
        "restore a held re-issue's old card (a supervisor decides)",
    ),
    rule(
        "POST",
        "/api/jobs/{id}/resume-reissue",
        SUPERVISORS,
        "resume a held re-issue's new card (a supervisor decides)",
    ),
    rule(
        "POST",
        "/api/jobs/{id}/correct",
        ISSUERS,
        "correct an applicant the identity verification did not confirm, or end the application",
    ),
    rule("POST", "/api/cards/{card}/custody", SUPERVISORS, "approve custody (a supervisor approves)"),
    rule("POST", "/api/cards/{card}/recall", SUPERVISORS, "recall cards (a supervisor recalls)"),
    rule("POST", "/api/cards/{card}/replace", ISSUERS, "record replacements"),
    rule("POST", "/api/cards/{card}/loss", ISSUERS, "record losses"),
    rule("POST", "/api/cards/{card}/temporary-loss", ISSUERS, "record losses"),
    rule("POST", "/api/cards/{card}/lift-loss", ISSUERS, "lift losses"),
    rule("POST", "/api/cards/{card}/replacement-fee", ISSUERS, "record fees"),
    rule("GET", "/api/card-services", ANYONE, "see the card services' schedule"),
    rule("POST", "/api/cards/{card}/refusal", ISSUERS, "record a person's refusal"),
    rule("GET", "/api/cards/refusals", ANYONE, "list the persons' refusals"),
    rule(
        "POST",
        "/api/cards/{card}/account",
        SUPERVISORS,
        "account for a spoiled card (a supervisor checks the reject box)",
    ),
    rule(
        "POST",
        "/api/persons/deceased",
        SUPERVISORS,
        "record a death (a supervisor checks the certificate)",
    ),
    rule(
        "POST",
        "/api/persons/deceased/correct",
        SUPERVISORS,
        "correct a death record (a second supervisor)",
    ),
    rule(
        "POST",
        "/api/stock/receive",
        SUPERVISORS,
        "take in cards made elsewhere (a supervisor checks the delivery)",
    ),
    rule("POST", "/api/stock/move", SUPERVISORS, "move stock cards between places and sites (a supervisor)"),
    rule("GET", "/api/sites", ANYONE, "list the agent sites"),
    rule("GET", "/api/sites/overdue", READERS, "see the agent sites' overdue applications"),
    rule("GET", "/api/stats", READERS, "read the station's statistics"),
    rule("GET", "/api/sms/notices", READERS, "see the SMS notices that need a person"),
    rule("GET", "/api/kit/conflicts", READERS, "see the outreach kits' conflicts"),
    rule(
        "POST",
        "/api/kit/conflicts/{record}/resolve",
        SUPERVISORS,
        "settle the outreach kits' conflicts (a supervisor settles)",
    ),
    rule("POST", "/api/validate", ISSUERS, "check application forms"),
    rule("GET", "/api/codes", ANYONE, "read the code tables"),
    rule("GET", "/api/devices", ANYONE, "see the devices' status"),
    rule("GET", "/api/camera/frame", ISSUERS, "use the camera"),
    rule("POST", "/api/photo/capture", ISSUERS, "take applicants' photos"),
    rule("POST", "/api/photo/upload", ISSUERS, "take applicants' photos"),
    rule("GET", "/api/photos/{name}", ISSUERS, "see applicants' photos"),
    rule("GET", "/api/steps", ANYONE, "read the step times"),
    rule("POST", "/api/sim/{device}/{action}", ISSUERS, "act on the simulated devices"),
];

/// The rule of a route, if it has one.
pub fn rule_of(method: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method == method && r.path == path)
}

/// A role's name as the page and the refusals say it.
pub fn name(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::Supervisor => "supervisor",
        Role::Auditor => "auditor",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_one_rule_and_auditors_only_read() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                RULES[i + 1..].iter().all(|o| (o.method, o.path) != (r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            let own_session = ["/api/session", "/api/session/password"].contains(&r.path);
            if r.roles.contains(&Role::Auditor) && !own_session {
                assert_eq!(r.method, "GET", "an auditor changes nothing: {} {}", r.method, r.path);
            }
        }
    }

    #[test]
    fn a_held_reissue_is_decided_by_a_supervisor_only() {
        for path in ["/api/jobs/{id}/restore", "/api/jobs/{id}/resume-reissue"] {
            let rule = rule_of("POST", path).unwrap_or_else(|| panic!("{path} has a rule"));
            assert_eq!(rule.roles, [Role::Supervisor], "{path}");
        }
        assert!(
            rule_of("GET", "/api/jobs/{id}").is_some_and(|r| r.roles.len() == 3),
            "anyone follows the job"
        );
    }
}
