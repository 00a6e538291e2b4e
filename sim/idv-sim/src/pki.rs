//! A throw-away PKI for the simulator over TLS: a CA, the service's certificate (127.0.0.1 and
//! localhost) and one client certificate, written as the files an operator would be handed.
//! Private keys are 0600 from the moment their file exists.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

use crate::tls::SimTls;
use crate::SimError;

/// The files of a generated PKI.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate: what the station's `ca` names.
    pub ca: PathBuf,
    /// The service's certificate.
    pub server_cert: PathBuf,
    /// The service's key.
    pub server_key: PathBuf,
    /// A station's client certificate, signed by the CA.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

impl TestPki {
    /// The simulator's TLS: requiring a client certificate from this CA, or none.
    pub fn server_tls(&self, require_client: bool) -> Result<SimTls, SimError> {
        SimTls::from_files(&self.server_cert, &self.server_key, require_client.then_some(self.ca.as_path()))
    }

    /// The station's side: trusting this CA, showing the client certificate or not.
    pub fn station_tls(&self, with_client: bool) -> idv::TlsConfig {
        idv::TlsConfig {
            ca: self.ca.clone(),
            client: with_client.then(|| idv::ClientIdentity {
                cert: self.client_cert.clone(),
                key: self.client_key.clone(),
            }),
        }
    }
}

/// Generates a CA, the service's certificate and a client certificate into `dir` (created if
/// missing; existing files are replaced).
pub fn generate(dir: &Path) -> Result<TestPki, SimError> {
    generate_for(dir, "identity verification")
}

/// [`generate`] for another simulated `service` (its name in the CA's and the server's common
/// names): every simulator reached over mutual TLS has its PKI made here.
pub fn generate_for(dir: &Path, service: &str) -> Result<TestPki, SimError> {
    let gen = |e: rcgen::Error| SimError::Tls(format!("certificate generation: {e}"));
    std::fs::create_dir_all(dir).map_err(|source| SimError::Io { path: dir.to_path_buf(), source })?;
    let ca_key = KeyPair::generate().map_err(gen)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, format!("Simulated {service} CA"));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(gen)?;

    let server_key = KeyPair::generate().map_err(gen)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(gen)?;
    server.subject_alt_names.push(SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
    server.distinguished_name.push(DnType::CommonName, format!("simulated {service}"));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).map_err(gen)?;

    let client_key = KeyPair::generate().map_err(gen)?;
    let mut client = CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
    client.distinguished_name.push(DnType::CommonName, "S-0101");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key).map_err(gen)?;

    let pki = TestPki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    };
    write(&pki.ca, &ca_cert.pem(), 0o644)?;
    write(&pki.server_cert, &server_cert.pem(), 0o644)?;
    write(&pki.server_key, &server_key.serialize_pem(), 0o600)?;
    write(&pki.client_cert, &client_cert.pem(), 0o644)?;
    write(&pki.client_key, &client_key.serialize_pem(), 0o600)?;
    Ok(pki)
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), SimError> {
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| SimError::Io { path: path.to_path_buf(), source })
}
