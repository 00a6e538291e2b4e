//! The identity verification service: the URL's scheme against what this build allows, the CA
//! file and the station's client identity, their dates, and one request over the session (a
//! `GET /` that asks about nobody; any answer proves the handshake, and that the service took
//! our certificate).

use std::time::{Duration, SystemTime};

use idv::{IdvError, SetupError, TlsFailure, Transport};

use crate::archive::validity;
use crate::{Device, Report};

const D: Device = Device::IdentityVerification;

/// What the configuration says about the service.
pub struct VerificationPlan<'a> {
    /// Base URL.
    pub url: &'a str,
    /// The transport the station's policy gives for it, or why it refused one.
    pub transport: Result<Transport, SetupError>,
    /// How long the request may take.
    pub timeout: Duration,
}

/// Checks the service at `now`; the request is made only when the files are usable.
pub fn check_verification(plan: VerificationPlan<'_>, now: SystemTime, report: &mut Report) {
    let url = plan.url;
    let verifier = match plan.transport {
        Ok(t) => idv::HttpVerifier::new(url, &t, plan.timeout).map(|v| (v, t)),
        Err(e) => Err(e),
    };
    let (verifier, transport) = match verifier {
        Ok(v) => v,
        Err(e) => {
            let (zh, en) = setup_fix(&e);
            report.block(D, e.to_string(), &zh, &en);
            return;
        }
    };
    let how = match &transport {
        Transport::PlainForSimulators => "plain HTTP (a simulator: only builds with the simulators allow it)",
        Transport::Tls(tls) => {
            if !certificate_dates(tls, now, report) {
                return;
            }
            if tls.client.is_some() {
                "mutual TLS"
            } else {
                "TLS"
            }
        }
    };
    match verifier.probe() {
        Ok(status) if status >= 500 => report.block(
            D,
            format!("{url} answers HTTP {status}: the service is up but failing"),
            "核查服务内部故障：联系核查服务的运维方",
            "the verification service is failing inside: call its operators",
        ),
        Ok(_) => report.ok(D, format!("{url} answers over {how}")),
        Err(IdvError::Tls(TlsFailure::ServerCertificate(why))) => report.block(
            D,
            format!("{url}: the service's certificate is not trusted ({why})"),
            "确认 ca 是核查服务的 CA 证书（向其运维方索取），且 url 中的主机名与服务证书一致",
            "make sure ca is the verification service's CA certificate (ask its operators) and the host in url is the one its certificate names",
        ),
        Err(IdvError::Tls(TlsFailure::Refused(why))) => report.block(
            D,
            format!("{url} refused this station's TLS session ({why})"),
            "服务要求本站的客户端证书：在 identity_verification 中写明核查服务签发的 client_cert 与 client_key，或请其运维方登记本站证书",
            "the service wants this station's certificate: give client_cert and client_key, the pair it issued, under identity_verification, or ask its operators to register this station's certificate",
        ),
        Err(e) => report.block(
            D,
            format!("the identity verification service at {url} is unreachable: {e}"),
            &format!("检查本机网络（能否访问 {url}）；网络正常时联系核查服务的运维方确认服务是否运行"),
            &format!("check this machine's network (can it reach {url}); if it is fine, ask the verification service's operators whether it runs"),
        ),
    }
}

/// The CA's and the client certificate's dates; true when both are in force.
fn certificate_dates(tls: &idv::TlsConfig, now: SystemTime, report: &mut Report) -> bool {
    let mut files = vec![("verification CA certificate", tls.ca.as_path())];
    if let Some(id) = &tls.client {
        files.push(("station's verification certificate", id.cert.as_path()));
    }
    let mut usable = true;
    for (what, path) in files {
        // Both files parsed when the client was made: only the first certificate matters here.
        let Some(der) = idv::certificates(path).ok().and_then(|c| c.into_iter().next()) else { continue };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
            report.block(
                D,
                format!("{}: the certificate does not parse as X.509", path.display()),
                "向核查服务的运维方索取正确的证书文件",
                "ask the verification service's operators for the right certificate file",
            );
            usable = false;
            continue;
        };
        let zh =
            format!("向核查服务的运维方索取新的证书，替换 {}，然后重新运行 station doctor", path.display());
        let en = format!(
            "ask the verification service's operators for a new certificate, replace {}, then run station doctor again",
            path.display()
        );
        if validity(D, what, &cert, now, &zh, &en, report) {
            report.ok(
                D,
                format!(
                    "{what} {} ({}), valid until {}",
                    cert.subject(),
                    path.display(),
                    cert.validity().not_after
                ),
            );
        } else {
            usable = false;
        }
    }
    usable
}

/// What to do about a configuration or file the client could not be made from.
fn setup_fix(e: &SetupError) -> (String, String) {
    let table_zh = "在 [counter] 中写明核查服务的 https 地址及其 CA 证书：identity_verification = { url = \"https://…\", ca = \"ca.pem\" }（服务要求双向 TLS 时再加 client_cert 与 client_key）";
    let table_en = "name the verification service's https URL and its CA certificate under [counter]: identity_verification = { url = \"https://...\", ca = \"ca.pem\" } (add client_cert and client_key if it wants mutual TLS)";
    match e {
        SetupError::PlainHttp | SetupError::NoCa { .. } => (table_zh.into(), table_en.into()),
        SetupError::Url { .. } => (
            "改正 identity_verification 的 url（形如 https://主机:端口）".into(),
            "correct the url of identity_verification (https://host:port)".into(),
        ),
        SetupError::Io { path, .. } => (
            format!("确认 {} 存在且可读；相对路径以配置文件所在目录为准", path.display()),
            format!(
                "make sure {} exists and can be read; relative paths are taken from the configuration file's directory",
                path.display()
            ),
        ),
        SetupError::Certificate { path, .. } => (
            format!("{} 中应为 PEM 格式的证书：向核查服务的运维方索取正确的文件", path.display()),
            format!("{} must hold PEM certificates: ask the verification service's operators for the right file", path.display()),
        ),
        SetupError::Key { path, .. } => (
            format!("{} 中应为 PEM 格式的私钥（与 client_cert 配对）", path.display()),
            format!("{} must hold the PEM private key of client_cert", path.display()),
        ),
        SetupError::KeyReadable { path, .. } => (
            format!("以 root 执行 `chmod 600 {}`，私钥只能由工作站自己的账户读取", path.display()),
            format!("as root run `chmod 600 {}`: the private key is for the station's own account only", path.display()),
        ),
        SetupError::NotAPair { .. } => (
            "client_cert 与 client_key 必须是核查服务签发的同一对证书和私钥".into(),
            "client_cert and client_key must be the certificate and key the verification service issued together".into(),
        ),
        SetupError::Client(_) => (
            "按提示检查 identity_verification 的配置；无法解决时联系技术支持".into(),
            "check identity_verification as the message says; if that does not help, call support".into(),
        ),
    }
}
