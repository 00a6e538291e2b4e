//! The station's client of the provincial service: blocking HTTP/JSON over mutual TLS,
//! implementing [`archive::ProvincialArchive`]. Timeouts and connection failures are
//! [`ArchiveError::Unavailable`]: nothing is known to have happened, and the caller retries
//! with the same request id.
//!
//! ureq does a request's I/O on the caller's thread. reqwest's blocking client, used here
//! before, hands each request to a runtime thread of its own and the answer back: with 16
//! stations claiming at once on the archive's two cores (the claims bench), the stations took
//! ~110-150 µs of CPU a claim that way, mostly the threads' switches, against ~55-60 µs here.

use std::path::Path;
use std::time::Duration;

use archive::{
    kit, ArchiveError, CardRecord, Claim, ClaimRequest, CommitRequest, DeceasedRequest, PersonCards,
    ProvincialArchive, Refusal, ReleaseRequest, StopRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::http::StatusCode;
use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig};

use crate::pki::{read, PkiError};

/// The largest answer read: far above the largest the service gives (a visit list of a few
/// thousand people), below what would exhaust a counter's memory.
const ANSWER_LIMIT: u64 = 64 << 20;

/// A connection to the provincial service as one station.
#[derive(Clone)]
pub struct Client {
    http: ureq::Agent,
    base: String,
}

impl Client {
    /// A client of the service at `base` (`https://127.0.0.1:8443`), trusting `ca` and
    /// showing the station's certificate and key from `identity` (one PEM file).
    pub fn new(base: &str, ca: &Path, identity: &Path, timeout: Duration) -> Result<Client, PkiError> {
        Ok(Client::over(base, mtls_agent(ca, identity, timeout)?))
    }

    /// Like [`Client::new`], with the certificate and key given as PEM bytes: an outreach
    /// kit's identity comes out of its sealed store, never from a file. The bytes are copied
    /// into the TLS configuration; the caller zeroizes its own.
    pub fn from_pem(
        base: &str,
        ca: &Path,
        identity_pem: &[u8],
        timeout: Duration,
    ) -> Result<Client, PkiError> {
        Ok(Client::over(base, mtls_agent_pem(ca, identity_pem, timeout)?))
    }

    fn over(base: &str, http: ureq::Agent) -> Client {
        Client { http, base: base.trim_end_matches('/').to_string() }
    }

    fn answer<T: DeserializeOwned>(
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ArchiveError> {
        let mut r = r.map_err(|e| ArchiveError::Unavailable(e.to_string()))?;
        let text = r
            .body_mut()
            .with_config()
            .limit(ANSWER_LIMIT)
            .read_to_string()
            .map_err(|e| ArchiveError::Unavailable(e.to_string()))?;
        read_answer(r.status(), &text)
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ArchiveError> {
        Client::answer(self.http.get(format!("{}{path}", self.base)).call())
    }

    fn post<Q: Serialize, T: DeserializeOwned>(&self, path: &str, q: &Q) -> Result<T, ArchiveError> {
        let body = serde_json::to_vec(q).map_err(|e| ArchiveError::BadRequest(e.to_string()))?;
        Client::answer(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .send(&body[..]),
        )
    }
}

/// The service's answer from its status and body: 200 with the result, 409 with the
/// [`Refusal`], 400 or 422 a malformed request ([`ArchiveError::BadRequest`] with the service's
/// message), anything else [`ArchiveError::Unavailable`]; a body that is not what its status
/// promises is [`ArchiveError::Store`].
pub fn read_answer<T: DeserializeOwned>(status: StatusCode, text: &str) -> Result<T, ArchiveError> {
    let message = || {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from))
            .unwrap_or_else(|| text.to_string())
    };
    match status.as_u16() {
        200 => serde_json::from_str(text).map_err(|e| ArchiveError::Store(format!("answer: {e}"))),
        409 => Err(ArchiveError::Refused(
            serde_json::from_str::<Refusal>(text)
                .map_err(|e| ArchiveError::Store(format!("refusal: {e}")))?,
        )),
        // 422: the service's JSON extractor refuses a body of the wrong shape (a field missing or
        // mistyped): as malformed as a 400, never worth retrying.
        400 | 422 => Err(ArchiveError::BadRequest(message())),
        _ => Err(ArchiveError::Unavailable(format!("HTTP {status}: {}", message()))),
    }
}

impl ProvincialArchive for Client {
    fn lookup(&self, ssn: &str) -> Result<PersonCards, ArchiveError> {
        self.post("/v1/lookup", &archive::LookupRequest { ssn: ssn.into() })
    }
    fn claim(&self, q: &ClaimRequest) -> Result<Claim, ArchiveError> {
        self.post("/v1/claim", q)
    }
    fn commit(&self, q: &CommitRequest) -> Result<CardRecord, ArchiveError> {
        self.post("/v1/commit", q)
    }
    fn release(&self, q: &ReleaseRequest) -> Result<(), ArchiveError> {
        self.post("/v1/release", q)
    }
    fn renew(&self, q: &archive::RenewRequest) -> Result<Claim, ArchiveError> {
        self.post("/v1/renew", q)
    }
    fn correct_deceased(&self, q: &archive::CorrectDeceasedRequest) -> Result<(), ArchiveError> {
        self.post("/v1/deceased/correct", q)
    }
    fn stop_card(&self, q: &StopRequest) -> Result<CardRecord, ArchiveError> {
        self.post("/v1/stop", q)
    }
    fn restore_card(&self, q: &archive::RestoreRequest) -> Result<CardRecord, ArchiveError> {
        self.post("/v1/restore", q)
    }
    fn suspend_card(&self, q: &archive::SuspendRequest) -> Result<archive::Suspension, ArchiveError> {
        self.post("/v1/suspend", q)
    }
    fn lift_suspension(&self, q: &archive::LiftRequest) -> Result<archive::Suspension, ArchiveError> {
        self.post("/v1/lift", q)
    }
    fn record_custody(
        &self,
        q: &archive::custody::CustodyRequest,
    ) -> Result<archive::custody::ProvincialCustody, ArchiveError> {
        self.post("/v1/custody", q)
    }
    fn deliver_card(&self, q: &archive::DeliverRequest) -> Result<CardRecord, ArchiveError> {
        self.post("/v1/deliver", q)
    }
    fn receive_card(&self, q: &archive::ReceiveRequest) -> Result<CardRecord, ArchiveError> {
        self.post("/v1/receive", q)
    }
    fn anchor_ledger(&self, q: &archive::AnchorRequest) -> Result<archive::LedgerHead, ArchiveError> {
        self.post("/v1/ledger/anchor", q)
    }
    fn ledger_anchor(&self) -> Result<Option<archive::LedgerHead>, ArchiveError> {
        self.get("/v1/ledger/anchor")
    }
    fn mark_deceased(&self, q: &DeceasedRequest) -> Result<Vec<String>, ArchiveError> {
        self.post("/v1/deceased", q)
    }
    fn checkout(&self, q: &kit::CheckoutRequest) -> Result<kit::Checkout, ArchiveError> {
        self.post("/v1/kit/checkout", q)
    }
    fn sync_record(&self, r: &kit::KitRecord) -> Result<kit::RecordResult, ArchiveError> {
        self.post("/v1/kit/record", r)
    }
    fn checkin(&self, q: &kit::CheckinRequest) -> Result<kit::Checkin, ArchiveError> {
        self.post("/v1/kit/checkin", q)
    }
    fn kit_conflicts(&self) -> Result<Vec<kit::KitConflict>, ArchiveError> {
        self.get("/v1/kit/conflicts")
    }
    fn resolve_kit_conflict(&self, q: &kit::ResolveRequest) -> Result<(), ArchiveError> {
        self.post("/v1/kit/conflicts/resolve", q)
    }
}

/// An HTTP client that trusts only `ca` and shows the station's certificate and key from
/// `identity` (one PEM file): how the station reaches the provincial service (and how
/// `station doctor` probes it). Answers of any status are returned, not errors.
///
/// `timeout` bounds each step of a request (connecting, sending it, the answer's head, its
/// body), not the request as a whole: an overall deadline would have ureq resolve the host on
/// a thread of its own at every request, which at the claims' rate cost more than the
/// request. The host's name is resolved by the system's resolver, with its own time-outs.
pub fn mtls_agent(ca: &Path, identity: &Path, timeout: Duration) -> Result<ureq::Agent, PkiError> {
    let id_pem = read(identity)?;
    mtls_agent_pem(ca, &id_pem, timeout).map_err(|e| match e {
        PkiError::Identity(message) => PkiError::Pem { path: identity.to_path_buf(), message },
        e => e,
    })
}

/// [`mtls_agent`] with the certificate and key as PEM bytes (an outreach kit's, from its
/// sealed store).
pub fn mtls_agent_pem(ca: &Path, identity_pem: &[u8], timeout: Duration) -> Result<ureq::Agent, PkiError> {
    let ca_pem = read(ca)?;
    let bad_ca = |message: String| PkiError::Pem { path: ca.to_path_buf(), message };
    let mut roots = Vec::new();
    for item in ureq::tls::parse_pem(&ca_pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| bad_ca(e.to_string()))? {
            roots.push(c);
        }
    }
    if roots.is_empty() {
        return Err(bad_ca("no certificate".into()));
    }
    let (mut chain, mut key) = (Vec::new(), None);
    for item in ureq::tls::parse_pem(identity_pem) {
        match item.map_err(|e| PkiError::Identity(e.to_string()))? {
            PemItem::Certificate(c) => chain.push(c),
            PemItem::PrivateKey(k) => key = Some(k),
            _ => {}
        }
    }
    let key = key.ok_or_else(|| PkiError::Identity("no private key".into()))?;
    if chain.is_empty() {
        return Err(PkiError::Identity("no certificate".into()));
    }
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .client_cert(Some(ClientCert::new_with_certs(&chain, key)))
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_connect(Some(timeout))
        .timeout_send_request(Some(timeout))
        .timeout_send_body(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .timeout_recv_body(Some(timeout))
        .build()
        .into())
}
