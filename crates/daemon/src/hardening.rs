//! What every answer carries and every request must show, in front of every route: security
//! headers (the page runs only its own script, in no frame, sends no referrer), and the Host
//! and Origin checks (a page elsewhere cannot reach the station through a name of its own, DNS
//! rebinding, nor post to it from another origin).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The page's own script, styles and pictures only (camera frames and signatures are blobs
/// and data URLs it makes itself); never in a frame; no plugin, no base, forms post here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; media-src 'self' blob:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Who may be asked for: the host names of [`crate::config::Config::allowed_hosts`], and the
/// scheme the daemon serves.
#[derive(Debug, Clone)]
pub struct Hosts {
    /// Lower-case host names and addresses, without ports.
    pub names: Vec<String>,
    /// Whether the daemon serves TLS (`https` origins).
    pub https: bool,
}

/// `host[:port]` or `[v6]:port` -> the host, lower case, without brackets.
fn host_of(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    authority.rsplit_once(':').map_or(authority.clone(), |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h.to_string()
        } else {
            authority.clone()
        }
    })
}

impl Hosts {
    fn allows(&self, host: &str) -> bool {
        self.names.iter().any(|n| *n == host)
    }

    /// `None` when the request may go on; else the refusal.
    fn judge(&self, request: &Request) -> Option<(StatusCode, String)> {
        let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).map(host_of);
        match host {
            Some(h) if self.allows(&h) => {}
            _ => {
                return Some((
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "this station answers as {}: open the page by one of these names (host_names in station.toml adds one)",
                        self.names.join(", ")
                    ),
                ))
            }
        }
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let scheme = if self.https { "https://" } else { "http://" };
            let ok = origin
                .to_str()
                .ok()
                .and_then(|o| o.strip_prefix(scheme))
                .is_some_and(|authority| self.allows(&host_of(authority)));
            if !ok {
                return Some((
                    StatusCode::FORBIDDEN,
                    "a request from another web site is refused: use the station's own page".into(),
                ));
            }
        }
        None
    }
}

/// The middleware: refuses a wrong Host or Origin, and puts the security headers on every
/// answer (refusals included).
pub async fn guard(State(hosts): State<Arc<Hosts>>, request: Request, next: Next) -> Response {
    let mut response = match hosts.judge(&request) {
        Some((status, why)) => {
            tracing::info!(%status, "request refused by the Host/Origin check");
            (status, axum::Json(serde_json::json!({"error": why}))).into_response()
        }
        None => next.run(request).await,
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if hosts.https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: Option<&str>, origin: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder().uri("/api/me");
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(axum::body::Body::empty()).expect("request")
    }

    fn hosts(https: bool) -> Hosts {
        Hosts {
            names: vec!["127.0.0.1".into(), "::1".into(), "counter-3.example".into(), "localhost".into()],
            https,
        }
    }

    #[test]
    fn host_and_origin_must_be_the_stations_own() {
        let h = hosts(false);
        assert!(h.judge(&request(Some("127.0.0.1:8080"), None)).is_none());
        assert!(h.judge(&request(Some("[::1]:8080"), None)).is_none());
        assert!(h
            .judge(&request(Some("Counter-3.example"), Some("http://counter-3.example:8080")))
            .is_none());
        let (status, _) = h.judge(&request(Some("evil.example:8080"), None)).expect("rebinding");
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
        assert!(h.judge(&request(None, None)).is_some(), "no Host at all");
        let (status, _) =
            h.judge(&request(Some("127.0.0.1:8080"), Some("http://evil.example"))).expect("cross-site");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(h.judge(&request(Some("127.0.0.1:8080"), Some("null"))).is_some());
        let tls = hosts(true);
        assert!(tls.judge(&request(Some("localhost"), Some("http://localhost"))).is_some(), "scheme too");
        assert!(tls.judge(&request(Some("localhost"), Some("https://localhost:8443"))).is_none());
    }
}
