//! The service's small PKI: a CA, the server's certificate (localhost and 127.0.0.1), and
//! one client certificate per station whose common name is the station id. Written as PEM
//! files so the service, the stations and an operator's tools read the same thing.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// Why the PKI could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Where the PKI files of a directory are.
#[derive(Debug, Clone)]
pub struct PkiPaths {
    /// The directory.
    pub dir: PathBuf,
}

impl PkiPaths {
    /// CA certificate (both sides trust it).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    /// Server certificate chain.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    /// Server private key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// A station's certificate and key in one PEM file (what reqwest's identity takes).
    pub fn station(&self, station: &str) -> PathBuf {
        self.dir.join(format!("station-{station}.pem"))
    }
}

fn write(path: PathBuf, text: &str) -> Result<(), PkiError> {
    std::fs::write(&path, text).map_err(|source| PkiError::Io { path, source })
}

/// Generates a CA, the server certificate and one client certificate per station into `dir`.
pub fn generate(dir: &Path, stations: &[&str]) -> Result<PkiPaths, PkiError> {
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_path_buf(), source })?;
    let paths = PkiPaths { dir: dir.to_path_buf() };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Provincial card archive CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    write(paths.ca(), &ca_cert.pem())?;

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    server.distinguished_name.push(DnType::CommonName, "provincial archive");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;
    write(paths.server_cert(), &server_cert.pem())?;
    write(paths.server_key(), &server_key.serialize_pem())?;

    for station in stations {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, *station);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = p.signed_by(&key, &ca_cert, &ca_key)?;
        write(paths.station(station), &format!("{}{}", cert.pem(), key.serialize_pem()))?;
    }
    Ok(paths)
}

/// Reads a file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, PkiError> {
    std::fs::read(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}
