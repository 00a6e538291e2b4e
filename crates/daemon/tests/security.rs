//! The daemon's defences over real HTTP: the page's session is an HttpOnly cookie checked
//! against a CSRF token on every change, no token is taken from a URL, a log-out ends the event
//! stream, the Host and Origin must be the station's own, every answer carries the security
//! headers, and beyond loopback the station serves only over TLS.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::{job_body, start, start_configured, stock_card, Scripted};
use reqwest::blocking::Response;

fn cookie_of(r: &Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("station_session="))
        .expect("a session cookie")
        .to_string()
}

/// `name=value` of a `Set-Cookie` line, as a browser sends it back.
fn sent_back(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_string()
}

#[test]
fn the_pages_session_is_an_httponly_cookie_and_every_change_needs_its_csrf_token() {
    let f = start(false);
    let r = f
        .http
        .post(format!("{}/api/session", f.base))
        .json(&serde_json::json!({"operator": "op", "password": "pw-123456"}))
        .send()
        .expect("login");
    assert_eq!(r.status(), 200);
    let set = cookie_of(&r);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    assert!(!set.contains("Secure"), "no Secure over plain loopback HTTP: {set}");
    let body: serde_json::Value = r.json().expect("json");
    assert!(body.get("token").is_none(), "the page's script never sees the session token: {body}");
    let csrf = body["csrf"].as_str().expect("csrf").to_string();
    let cookie = sent_back(&set);

    let me = f.http.get(format!("{}/api/me", f.base)).header("cookie", &cookie).send().expect("me");
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<serde_json::Value>().expect("json")["csrf"], csrf.as_str(), "a reload gets it back");

    let post = |csrf: Option<&str>| {
        let mut rq =
            f.http.post(format!("{}/api/jobs", f.base)).header("cookie", &cookie).json(&job_body("张三"));
        if let Some(c) = csrf {
            rq = rq.header("x-csrf-token", c);
        }
        rq.send().expect("post").status().as_u16()
    };
    assert_eq!(post(None), 403, "a change with the cookie alone (a cross-site form) is refused");
    assert_eq!(post(Some("0123456789abcdef0123456789abcdef")), 403, "a wrong CSRF token too");
    assert_eq!(post(Some(&csrf)), 202);
    assert!(
        f.local.ledger().expect("ledger").iter().filter(|e| e.event == "job.requested").count() == 1,
        "only the request with its CSRF token became a job"
    );

    // A token in a URL is never taken, not even a valid one.
    let token = f.login("op");
    for path in [format!("/api/me?token={token}"), format!("/api/events?token={token}")] {
        let r = f.http.get(format!("{}{path}", f.base)).send().expect("url token");
        assert_eq!(r.status(), 401, "{path}");
    }

    let out = f
        .http
        .delete(format!("{}/api/session", f.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .expect("logout");
    assert_eq!(out.status(), 204);
    assert!(cookie_of(&out).contains("Max-Age=0"), "the cookie is cleared");
    let me = f.http.get(format!("{}/api/me", f.base)).header("cookie", &cookie).send().expect("me");
    assert_eq!(me.status(), 401, "the old cookie opens nothing");
}

#[test]
fn logging_out_ends_the_event_stream() {
    let f = start(false);
    let token = f.login("op");
    let stream = reqwest::blocking::Client::new()
        .get(format!("{}/api/events", f.base))
        .bearer_auth(&token)
        .send()
        .expect("stream");
    assert_eq!(stream.status(), 200);
    let (http, base, t) = (f.http.clone(), f.base.clone(), token.clone());
    let logout = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        http.delete(format!("{base}/api/session")).bearer_auth(&t).send().expect("logout").status()
    });
    let began = Instant::now();
    for line in BufReader::new(stream).lines() {
        if line.is_err() {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(10), "the stream outlived its session");
    }
    assert_eq!(logout.join().expect("thread"), 204);
    assert!(began.elapsed() < Duration::from_secs(10));
}

#[test]
fn only_the_stations_own_host_and_origin_and_every_answer_carries_the_security_headers() {
    let f = start(false);
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut rq = f.http.get(format!("{}{path}", f.base));
        for (k, v) in headers {
            rq = rq.header(*k, *v);
        }
        rq.send().expect("get")
    };
    let rebound = get("/api/health", &[("host", "attacker.example")]);
    assert_eq!(rebound.status(), 421, "DNS rebinding: a name of another site is refused");
    let cross = get("/api/health", &[("origin", "http://attacker.example")]);
    assert_eq!(cross.status(), 403);
    let login_elsewhere = f
        .http
        .post(format!("{}/api/session", f.base))
        .header("origin", "http://attacker.example")
        .json(&serde_json::json!({"operator": "op", "password": "pw-123456"}))
        .send()
        .expect("login");
    assert_eq!(login_elsewhere.status(), 403, "no log-in from another site's page");

    for (path, status) in [("/", 200), ("/api/health", 200), ("/api/me", 401), ("/app.js", 200)] {
        let r = get(path, &[]);
        assert_eq!(r.status(), status, "{path}");
        let h = r.headers();
        let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        assert_eq!(h.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{path}");
        assert_eq!(h.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{path}");
    }
    let refused = get("/", &[("host", "attacker.example")]);
    assert!(refused.headers().contains_key("content-security-policy"), "refusals carry them too");
}

#[test]
fn beyond_loopback_the_station_serves_only_over_tls() {
    let plain = start_configured(
        false,
        |local, _| Box::new(Scripted(local)),
        |c| {
            c.listen = "0.0.0.0:0".parse().expect("addr");
        },
    );
    let e = plain.err().expect("refused without TLS").to_string();
    assert!(e.contains("[tls]") && e.contains("127.0.0.1"), "{e}");

    let certs = tempfile::tempdir().expect("tmp");
    let (files, fingerprint) = daemon::tls::self_signed(certs.path(), &["localhost".into()]).expect("pair");
    assert_eq!(fingerprint.split(':').count(), 32);
    let f = start_configured(
        false,
        |local, _| Box::new(Scripted(local)),
        |c| {
            c.listen = "127.0.0.1:0".parse().expect("addr");
            c.tls = Some(files.clone());
        },
    )
    .expect("TLS daemon");
    let port = f.base.rsplit(':').next().expect("port").to_string();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&files.cert).expect("cert")).expect("pem");
    let https = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let base = format!("https://localhost:{port}");
    let health = https.get(format!("{base}/api/health")).send().expect("https");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("strict-transport-security"));
    let login = https
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"operator": "op", "password": "pw-123456"}))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200);
    assert!(cookie_of(&login).contains("Secure"), "the cookie never travels in clear");
    let cleartext = f.http.get(format!("http://127.0.0.1:{port}/api/health")).send();
    assert!(
        cleartext.is_err() || !cleartext.expect("answer").status().is_success(),
        "no plain HTTP on the TLS port"
    );
    let untrusted =
        reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    assert!(
        untrusted.get(format!("{base}/api/health")).send().is_err(),
        "a certificate nobody vouched for fails"
    );
}

#[test]
fn a_first_password_does_nothing_but_make_way_for_the_operators_own() {
    let f = start(false);
    let first = f.dir.path().join(daemon::config::INITIAL_PASSWORDS);
    std::fs::write(&first, "fresh pw-123456\n").expect("first passwords");
    let token = f.login("fresh");
    let (status, me) = f.call(&token, "/api/me", None);
    assert_eq!((status, &me["must_change"]), (200, &serde_json::json!(true)));
    let (status, refused) = f.call(&token, "/api/jobs", Some(job_body("张三")));
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"].as_str().unwrap_or_default().contains("choose your own"), "{refused}");
    assert_eq!(f.call(&token, "/api/cards", None).0, 403, "no reading either");

    let change = |current: &str, new: &str| {
        f.call(&token, "/api/session/password", Some(serde_json::json!({"current": current, "new": new})))
    };
    assert_eq!(change("wrong-pw-1", "counter-3 night shift").0, 401, "the current password is checked");
    assert_eq!(change("pw-123456", "short").0, 422);
    assert_eq!(change("pw-123456", "pw-123456").0, 422, "not the one given");
    assert_eq!(change("pw-123456", "my name is fresh!").0, 422, "not the name");
    assert!(first.exists(), "kept while a first password is in use");
    let (status, answer) = change("pw-123456", "counter-3 night shift");
    assert_eq!((status, &answer["must_change"]), (200, &serde_json::json!(false)), "{answer}");
    assert!(!first.exists(), "every first password is changed: their file is gone");

    assert_eq!(f.call(&token, "/api/jobs", Some(job_body("张三"))).0, 202, "the same session works now");
    let events: Vec<String> = f.local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert!(events.contains(&"operator.password_changed".to_string()), "{events:?}");
    assert!(events.contains(&"setup.first_passwords_removed".to_string()), "{events:?}");
    let old = f
        .http
        .post(format!("{}/api/session", f.base))
        .json(&serde_json::json!({"operator": "fresh", "password": "pw-123456", "bearer": true}))
        .send()
        .expect("login");
    assert_eq!(old.status(), 401, "the first password is gone");
    let new = f
        .http
        .post(format!("{}/api/session", f.base))
        .json(&serde_json::json!({"operator": "fresh", "password": "counter-3 night shift", "bearer": true}))
        .send()
        .expect("login");
    assert_eq!(new.status(), 200);
    assert_eq!(new.json::<serde_json::Value>().expect("json")["must_change"], false);
}

/// A route's path with every parameter given a plain value.
fn concrete(path: &str) -> String {
    path.replace("{card}", "B00000019")
        .replace("{id}", "1")
        .replace("{name}", "op")
        .replace("{record}", "1")
        .replace("{device}", "printer")
        .replace("{action}", "take-card")
}

#[test]
fn every_route_with_every_role_is_answered_by_the_one_table() {
    let f = start(false);
    let roles = [
        ("op", daemon::auth::Role::Operator),
        ("sup", daemon::auth::Role::Supervisor),
        ("aud", daemon::auth::Role::Auditor),
    ];
    let mut checked = 0;
    for (who, role) in roles {
        let token = f.login(who);
        // Log-out last: it ends the session the other calls use.
        let mut rules: Vec<&daemon::roles::Rule> = daemon::roles::RULES.iter().collect();
        rules.sort_by_key(|r| r.method == "DELETE");
        for rule in rules {
            let url = format!("{}{}", f.base, concrete(rule.path));
            let request = match rule.method {
                "GET" => f.http.get(&url),
                "POST" => f.http.post(&url).json(&serde_json::json!({})),
                "DELETE" => f.http.delete(&url),
                other => panic!("a method the table should not have: {other}"),
            };
            let r = request.bearer_auth(&token).send().expect("call");
            let status = r.status().as_u16();
            let body = r.text().unwrap_or_default();
            // A job's printed face and application form show the whole ID number: another
            // operator's job is refused by the handler, past the table.
            let face_of_another = ["/api/jobs/{id}/face", "/api/jobs/{id}/form"].contains(&rule.path)
                && role == daemon::auth::Role::Operator;
            if rule.roles.contains(&role) && !face_of_another {
                assert_ne!(status, 403, "{who} may {} {}: {body}", rule.method, rule.path);
                assert!(!(status == 404 && body.is_empty()), "{} {} is not routed", rule.method, rule.path);
            } else {
                assert_eq!(status, 403, "{who} may not {} {}: {body}", rule.method, rule.path);
                assert!(body.contains("may not") || face_of_another, "{body}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * daemon::roles::RULES.len());
    let forbidden =
        f.local.ledger().expect("ledger").into_iter().filter(|e| e.event == "access.forbidden").count();
    assert!(forbidden > 0, "each refusal is in the ledger");
}

#[test]
fn only_a_supervisor_decides_a_held_reissue() {
    let f = start(false);
    for (who, allowed) in [("op", false), ("aud", false), ("sup", true)] {
        let token = f.login(who);
        for (path, body) in [
            ("/api/jobs/1/restore", serde_json::json!({"reason": "ribbon out for the day"})),
            ("/api/jobs/1/resume-reissue", serde_json::json!({})),
        ] {
            let r = f
                .http
                .post(format!("{}{path}", f.base))
                .json(&body)
                .bearer_auth(&token)
                .send()
                .expect("call");
            let (status, text) = (r.status().as_u16(), r.text().unwrap_or_default());
            if allowed {
                // No job 1 is held here: refused for that, never for the role.
                assert!([404, 409].contains(&status), "{who} {path}: {status} {text}");
            } else {
                assert_eq!(status, 403, "{who} {path}: {text}");
                assert!(text.contains("a supervisor decides"), "{text}");
            }
        }
    }
}

#[test]
fn the_form_check_names_live_cards_only_with_the_holders_name() {
    let f = start(false);
    let op = f.login("op");
    let mut form = job_body("张三")["applicant"].clone();
    let ssn = form["holder"]["id_number"].as_str().expect("id").to_string();
    stock_card(&f, &ssn, "张三", "B00000019");
    let live = |form: &serde_json::Value| {
        let (status, answer) = f.call(&op, "/api/validate", Some(form.clone()));
        assert_eq!(status, 200, "{answer}");
        answer["live_cards"].as_array().map(Vec::len).unwrap_or_default()
    };
    assert_eq!(live(&form), 1, "the holder at the counter: the re-issue is offered");
    form["holder"]["name"] = "李四".into();
    assert_eq!(live(&form), 0, "an ID number with another name tells nothing");
    let bare = serde_json::json!({"holder": {"id_number": ssn}});
    assert_eq!(live(&bare), 0, "nor an ID number alone");
}

#[test]
fn a_photo_file_the_applicant_brings_is_checked_like_a_camera_frame() {
    let f = start(false);
    let op = f.login("op");
    let frames = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../photo/testdata");
    let upload = |bytes: Vec<u8>| {
        let r = f
            .http
            .post(format!("{}/api/photo/upload", f.base))
            .bearer_auth(&op)
            .header("content-type", "image/jpeg")
            .body(bytes)
            .send()
            .expect("upload");
        (r.status().as_u16(), r.json::<serde_json::Value>().unwrap_or_default())
    };
    let (status, good) = upload(std::fs::read(frames.join("frames/pass_640x480.jpg")).expect("frame"));
    assert_eq!((status, &good["passed"]), (200, &serde_json::json!(true)), "{good}");
    let stored = good["photo"].as_str().expect("photo").to_string();
    assert!(stored.starts_with("photos/capture-"), "{stored}");
    let name = stored.trim_start_matches("photos/");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(f.dir.path().join("photos").join(name)).expect("kept").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "an applicant's photo is private");

    let (status, empty) = upload(std::fs::read(frames.join("frames/fail_no_face.jpg")).expect("frame"));
    assert_eq!((status, &empty["passed"]), (200, &serde_json::json!(false)));
    assert!(empty["reasons"].to_string().contains("no_face"), "{empty}");
    let (status, text) = upload(b"#!/bin/sh\necho not a picture\n".to_vec());
    assert_eq!(status, 422, "{text}");
    assert!(text["error"].as_str().unwrap_or_default().contains("JPEG or PNG"), "{text}");
    let (status, _) = upload(vec![0xFF; 2 * 1024 * 1024 + 10]);
    assert_eq!(status, 413, "over 2 MiB is not read");
    let events: Vec<String> = f.local.ledger().expect("ledger").into_iter().map(|e| e.event).collect();
    assert_eq!(events.iter().filter(|e| *e == "photo.uploaded").count(), 2);
}
