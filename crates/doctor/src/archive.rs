//! The provincial archive: the station's certificate (dates, name, signed by the archive's
//! CA, key present), the service reachable over mutual TLS, and this machine's clock against
//! the service's.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::pem::Pem;
use x509_parser::prelude::X509Certificate;

use crate::{Device, Report};

/// Warn when the station certificate expires within this many days.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// Clock skew above which the doctor warns.
pub const SKEW_WARNING: Duration = Duration::from_secs(30);
/// Clock skew above which the counter must not issue (ledger times and certificate checks).
pub const SKEW_BLOCKER: Duration = Duration::from_secs(300);

/// Where the configuration says the provincial archive is.
#[derive(Debug, Clone, Copy)]
pub enum ArchivePlan<'a> {
    /// One machine serves: SQLite in the data directory.
    Sqlite {
        /// The data directory.
        data_dir: &'a Path,
    },
    /// The provincial service over mutual TLS.
    Service {
        /// Base URL.
        url: &'a str,
        /// The archive's CA certificate.
        ca: &'a Path,
        /// This station's certificate and key (one PEM file).
        identity: &'a Path,
        /// This station's id (the certificate's common name).
        station: &'a str,
    },
}

/// Why the service could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No TLS session: network, DNS, refused, handshake (our certificate refused included).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// It answered with a server error.
    #[error("the service answered HTTP {0}")]
    ServerError(u16),
    /// It answered without a usable `Date` header.
    #[error("the answer has no Date header")]
    NoDate,
}

/// The provincial service seen from here: one request, its answer's time.
pub trait ArchiveProbe {
    /// The service's clock, from an answer over mutual TLS.
    fn server_time(&self) -> Result<SystemTime, ProbeError>;
}

/// The real probe: HTTPS with the station's identity, trusting only the archive's CA (as the
/// station's client of the service does).
pub struct HttpsProbe {
    http: ureq::Agent,
    url: String,
}

impl HttpsProbe {
    /// A probe of the service at `url`.
    pub fn new(url: &str, ca: &Path, identity: &Path, timeout: Duration) -> Result<HttpsProbe, String> {
        let http = provincial::client::mtls_agent(ca, identity, timeout).map_err(|e| e.to_string())?;
        Ok(HttpsProbe { http, url: url.trim_end_matches('/').to_string() })
    }
}

impl ArchiveProbe for HttpsProbe {
    fn server_time(&self) -> Result<SystemTime, ProbeError> {
        // The root path: any answer proves the TLS session (the service checks our
        // certificate in the handshake) without touching its store.
        let answer = self.http.get(format!("{}/", self.url)).call().map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            ProbeError::Unreachable(text)
        })?;
        if answer.status().is_server_error() {
            return Err(ProbeError::ServerError(answer.status().as_u16()));
        }
        let date = answer.headers().get(ureq::http::header::DATE).ok_or(ProbeError::NoDate)?;
        let date = date.to_str().map_err(|_| ProbeError::NoDate)?;
        httpdate::parse_http_date(date).map_err(|_| ProbeError::NoDate)
    }
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn pems(path: &Path) -> Result<Vec<Pem>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Pem::iter_from_buffer(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not PEM ({e})", path.display()))
}

/// Checks the station's certificate and the archive's CA at `now`; true when they are usable.
pub fn check_certificates(
    ca: &Path,
    identity: &Path,
    station: &str,
    now: SystemTime,
    report: &mut Report,
) -> bool {
    let renew_zh = format!(
        "向省级档案中心申请新的工作站证书（CN={station}），替换 {}，然后重新运行 station doctor",
        identity.display()
    );
    let renew_en = format!(
        "ask the provincial archive for a new station certificate (CN={station}), replace {}, then run station doctor again",
        identity.display()
    );
    let (ca_pems, id_pems) = match (pems(ca), pems(identity)) {
        (Ok(c), Ok(i)) => (c, i),
        (Err(e), _) | (_, Err(e)) => {
            report.block(Device::Archive, format!("certificate files unreadable: {e}"), &renew_zh, &renew_en);
            return false;
        }
    };
    let parse = |pems: &[Pem]| -> Option<Vec<u8>> {
        pems.iter().find(|p| p.label == "CERTIFICATE").map(|p| p.contents.clone())
    };
    let (Some(ca_der), Some(leaf_der)) = (parse(&ca_pems), parse(&id_pems)) else {
        report.block(
            Device::Archive,
            format!("no certificate in {} or {}", ca.display(), identity.display()),
            &renew_zh,
            &renew_en,
        );
        return false;
    };
    let (Ok((_, ca_cert)), Ok((_, leaf))) =
        (x509_parser::parse_x509_certificate(&ca_der), x509_parser::parse_x509_certificate(&leaf_der))
    else {
        report.block(Device::Archive, "a certificate does not parse as X.509", &renew_zh, &renew_en);
        return false;
    };
    if !id_pems.iter().any(|p| p.label.ends_with("PRIVATE KEY")) {
        report.block(
            Device::Archive,
            format!("{} holds no private key", identity.display()),
            &format!("{} 中须同时包含证书和私钥（PEM）：按省级档案中心的说明重新生成该文件", identity.display()),
            &format!("{} must hold the certificate and its private key (PEM): rebuild it as the provincial archive instructs", identity.display()),
        );
        return false;
    }
    let mut usable =
        validity(Device::Archive, "station certificate", &leaf, now, &renew_zh, &renew_en, report);
    usable &= validity(
        Device::Archive,
        "archive CA certificate",
        &ca_cert,
        now,
        "省级档案中心的 CA 证书已过期或未生效：向省级档案中心索取新的 CA 证书",
        "the archive's CA certificate is out of date: ask the provincial archive for its current CA certificate",
        report,
    );
    if leaf.verify_signature(Some(ca_cert.public_key())).is_err() || leaf.issuer() != ca_cert.subject() {
        usable = false;
        report.block(
            Device::Archive,
            format!("the station certificate is not signed by the archive's CA ({})", ca.display()),
            &format!("证书链不符：确认 ca 与 identity 来自同一省级档案中心；必要时重新申请证书 (CN={station})"),
            &format!("the chain does not hold: ca and identity must come from the same provincial archive; if needed ask for a new certificate (CN={station})"),
        );
    }
    let cn = leaf.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).unwrap_or("");
    if cn != station {
        usable = false;
        report.block(
            Device::Archive,
            format!("the certificate is for station \"{cn}\", the configuration says \"{station}\""),
            &format!("配置文件中的 station 必须与证书的 CN 一致：改正 station，或申请 CN={station} 的证书"),
            &format!("station in the configuration must equal the certificate's CN: correct it, or get a certificate for CN={station}"),
        );
    }
    if usable {
        report.ok(
            Device::Archive,
            format!(
                "station certificate CN={cn}, valid until {}, signed by {}",
                leaf.validity().not_after,
                ca_cert.subject()
            ),
        );
    }
    usable
}

/// Whether `cert` is valid at `now`, reported under `device`: a blocker outside its dates, a
/// warning in its last [`EXPIRY_WARNING_DAYS`].
pub(crate) fn validity(
    device: Device,
    what: &str,
    cert: &X509Certificate<'_>,
    now: SystemTime,
    zh: &str,
    en: &str,
    report: &mut Report,
) -> bool {
    let now = unix(now);
    let v = cert.validity();
    if now < v.not_before.timestamp() {
        report.block(
            device,
            format!("the {what} is not valid before {} (or this machine's clock is wrong)", v.not_before),
            &format!("先核对本机时间（`timedatectl`）；时间无误时：{zh}"),
            &format!("check this machine's clock first (`timedatectl`); if it is right: {en}"),
        );
        return false;
    }
    if now > v.not_after.timestamp() {
        report.block(device, format!("the {what} expired on {}", v.not_after), zh, en);
        return false;
    }
    let days_left = (v.not_after.timestamp() - now) / 86_400;
    if days_left < EXPIRY_WARNING_DAYS {
        report.warn(device, format!("the {what} expires in {days_left} days ({})", v.not_after), zh, en);
    }
    true
}

/// Asks the service for its time: reachable, and the clock skew against it.
pub fn check_service(probe: &dyn ArchiveProbe, url: &str, report: &mut Report) {
    let before = SystemTime::now();
    let answer = probe.server_time();
    let after = SystemTime::now();
    match answer {
        Err(ProbeError::ServerError(code)) => report.block(
            Device::Archive,
            format!("{url} answers HTTP {code}: the service is up but failing"),
            "省级档案服务内部故障：联系省级档案中心值班人员",
            "the provincial archive service is failing inside: call the provincial archive's duty desk",
        ),
        Err(e) => report.block(
            Device::Archive,
            format!("the provincial archive at {url} is {e}"),
            &format!("检查本机网络（能否访问 {url}）；网络正常时联系省级档案中心确认服务是否运行、本站证书是否被接受"),
            &format!("check this machine's network (can it reach {url}); if it is fine, ask the provincial archive whether the service runs and accepts this station's certificate"),
        ),
        Ok(server) => {
            report.ok(Device::Archive, format!("{url} answers over mutual TLS"));
            // The answer was made between `before` and `after`: compare with the midpoint.
            let mid = before + after.duration_since(before).unwrap_or_default() / 2;
            let (skew, ahead) = match mid.duration_since(server) {
                Ok(d) => (d, true),
                Err(e) => (e.duration(), false),
            };
            let text = format!(
                "this machine is {} s {} the archive",
                skew.as_secs(),
                if ahead { "ahead of" } else { "behind" }
            );
            let zh = "校准本机时间：以 root 执行 `timedatectl set-ntp true`，确认能访问 NTP 服务器";
            let en = "set the clock right: as root run `timedatectl set-ntp true` and make sure an NTP server is reachable";
            if skew > SKEW_BLOCKER {
                report.block(Device::Clock, text, zh, en);
            } else if skew > SKEW_WARNING {
                report.warn(Device::Clock, text, zh, en);
            } else {
                report.ok(Device::Clock, format!("within {} s of the archive", skew.as_secs().max(1)));
            }
        }
    }
}

/// Checks the archive the configuration names at `now`; `probe` is asked only when the
/// certificates are usable (the service would refuse us anyway).
pub fn check_archive(
    plan: ArchivePlan<'_>,
    probe: Option<&dyn ArchiveProbe>,
    now: SystemTime,
    report: &mut Report,
) {
    match plan {
        ArchivePlan::Sqlite { data_dir } => {
            if data_dir.is_dir() || !data_dir.exists() {
                report.ok(Device::Archive, format!("one-machine archive: SQLite in {}", data_dir.display()));
            } else {
                report.block(
                    Device::Archive,
                    format!("data_dir {} is not a directory", data_dir.display()),
                    "改正配置文件中的 data_dir，使其指向一个目录",
                    "point data_dir in the configuration at a directory",
                );
            }
        }
        ArchivePlan::Service { url, ca, identity, station } => {
            if check_certificates(ca, identity, station, now, report) {
                if let Some(probe) = probe {
                    check_service(probe, url, report);
                }
            }
        }
    }
}
