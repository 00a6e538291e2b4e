//! The service's small PKI: a CA, the server's certificate (localhost and 127.0.0.1), one
//! client certificate per station whose common name is the station id, short-lived ones for
//! outreach kits (common name the kit id, organisational unit the station that owns the kit),
//! and the CA's revocation list. PEM files, so the service, the stations and an operator's
//! tools read the same thing.
//!
//! `ca.key` signs everything: the province keeps it (and this whole directory) offline, and
//! copies only `ca.pem`, `server.pem`, `server.key` and `crl.pem` to the service. Private keys
//! are 0600 from the moment their file exists; no key, certificate or station file is ever
//! overwritten, so a certificate in force never loses the file its revocation is made from.

mod crl;
mod files;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};

pub use crl::{revoke, Revocation};
use files::{write_new, PRIVATE, PUBLIC};

/// A kit certificate's days when none are asked for.
pub const KIT_DAYS_DEFAULT: u32 = 14;
/// The most days a kit certificate gets: a lost kit stops working within a month even if
/// nobody revokes it.
pub const KIT_DAYS_MAX: u32 = 31;

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
    /// The file is there already; the PKI never overwrites a key or a certificate.
    #[error("{path} exists: keys and certificates are never overwritten (move the file away if it is no longer in force)")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Signing needs the CA key, which is kept offline.
    #[error("{path} is missing: adding certificates and revoking them needs the CA key the province keeps offline")]
    NoCaKey {
        /// Where the key was looked for.
        path: PathBuf,
    },
    /// `ca.key` is not the key of `ca.pem`.
    #[error("{key} is not the key of {cert}")]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The CA certificate.
        cert: PathBuf,
    },
    /// A station or kit id that cannot name a certificate (or a file).
    #[error("id {id:?}: {why}")]
    BadId {
        /// The id.
        id: String,
        /// What is wrong with it.
        why: String,
    },
    /// Neither a station nor a kit of this PKI has the id.
    #[error("no certificate for {id:?} in {dir}")]
    Unknown {
        /// The id.
        id: String,
        /// The PKI directory.
        dir: PathBuf,
    },
    /// A kit certificate's validity out of range.
    #[error("a kit certificate lasts 1 to {KIT_DAYS_MAX} days, not {0}")]
    KitDays(u32),
    /// The system's random source failed (serial numbers).
    #[error("the system's random source failed")]
    Random,
    /// A holder's certificate and key, given as bytes, cannot be used.
    #[error("not a certificate with its private key in one PEM: {0}")]
    Identity(String),
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
    /// CA private key: kept offline, needed only to add certificates and to revoke them.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    /// The CA's revocation list, which the service reloads when it changes.
    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }
    /// Server certificate chain.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    /// Server private key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// A station's certificate and key in one PEM file (what the station's client shows).
    pub fn station(&self, station: &str) -> PathBuf {
        self.dir.join(format!("station-{station}.pem"))
    }
    /// An outreach kit's certificate and key in one PEM file.
    pub fn kit(&self, kit: &str) -> PathBuf {
        self.dir.join(format!("kit-{kit}.pem"))
    }
}

/// Whom a client certificate is for.
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    /// A station: common name the station id, no organisational unit.
    Station(&'a str),
    /// An outreach kit: common name the kit id, organisational unit the owning station.
    Kit {
        /// The kit id.
        kit: &'a str,
        /// The station that owns the kit.
        owner: &'a str,
    },
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Not before.
    pub not_before: SystemTime,
    /// Not after.
    pub not_after: SystemTime,
}

impl Validity {
    /// From an hour ago (the service's clock may lag the signing machine's) for `days` days.
    pub fn days(days: u32) -> Validity {
        let now = SystemTime::now();
        Validity {
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(u64::from(days) * 86_400),
        }
    }
}

/// The CA, able to sign: its certificate and its key.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    /// Loads `ca.pem` and `ca.key`, and checks that the key is the certificate's.
    pub fn load(paths: &PkiPaths) -> Result<Ca, PkiError> {
        let pem = read_text(&paths.ca())?;
        let key_pem = match std::fs::read_to_string(paths.ca_key()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PkiError::NoCaKey { path: paths.ca_key() })
            }
            r => r.map_err(|source| PkiError::Io { path: paths.ca_key(), source })?,
        };
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| PkiError::Pem { path: paths.ca_key(), message: e.to_string() })?;
        let pem_err = |e: &dyn std::fmt::Display| PkiError::Pem { path: paths.ca(), message: e.to_string() };
        let params = CertificateParams::from_ca_cert_pem(&pem).map_err(|e| pem_err(&e))?;
        let der = first_certificate(&paths.ca())?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).map_err(|e| pem_err(&e))?;
        if parsed.public_key().raw != key.public_key_der().as_slice() {
            return Err(PkiError::KeyMismatch { key: paths.ca_key(), cert: paths.ca() });
        }
        // Signing again yields the same name and key identifier; only the issuer's
        // parameters are used, the new signature is never written.
        let cert = params.self_signed(&key)?;
        Ok(Ca { cert, key })
    }

    /// Makes a client certificate with a fresh key and writes it with the key into the
    /// holder's file, which must not exist. `validity` None: valid until revoked (stations).
    pub fn issue(
        &self,
        paths: &PkiPaths,
        holder: Holder<'_>,
        validity: Option<Validity>,
    ) -> Result<PathBuf, PkiError> {
        let (cn, ou, path, other) = match holder {
            Holder::Station(id) => (id, None, paths.station(id), paths.kit(id)),
            Holder::Kit { kit, owner } => {
                check_id(owner)?;
                if !paths.station(owner).exists() {
                    return Err(PkiError::Unknown { id: owner.to_string(), dir: paths.dir.clone() });
                }
                (kit, Some(owner), paths.kit(kit), paths.station(kit))
            }
        };
        check_id(cn)?;
        if other.exists() {
            // One id, one holder: the service knows a connection only by its common name.
            return Err(PkiError::BadId { id: cn.to_string(), why: format!("{} has it", other.display()) });
        }
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.serial_number = Some(random_serial()?);
        p.distinguished_name.push(DnType::CommonName, cn);
        if let Some(owner) = ou {
            p.distinguished_name.push(DnType::OrganizationalUnitName, owner);
        }
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if let Some(v) = validity {
            p.not_before = v.not_before.into();
            p.not_after = v.not_after.into();
        }
        let cert = p.signed_by(&key, &self.cert, &self.key)?;
        write_new(&path, &format!("{}{}", cert.pem(), key.serialize_pem()), PRIVATE)?;
        Ok(path)
    }
}

/// Generates a CA (with `ca.key`), the server certificate, an empty revocation list and one
/// client certificate per station into `dir`. Refuses a directory that already has a PKI.
pub fn generate(dir: &Path, stations: &[&str]) -> Result<PkiPaths, PkiError> {
    for station in stations {
        check_id(station)?;
    }
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_path_buf(), source })?;
    let paths = PkiPaths { dir: dir.to_path_buf() };
    for path in [paths.ca(), paths.ca_key(), paths.server_cert(), paths.server_key(), paths.crl()] {
        if path.exists() {
            return Err(PkiError::Exists { path });
        }
    }
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.serial_number = Some(random_serial()?);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Provincial card archive CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    write_new(&paths.ca_key(), &ca_key.serialize_pem(), PRIVATE)?;
    write_new(&paths.ca(), &ca_cert.pem(), PUBLIC)?;

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server.serial_number = Some(random_serial()?);
    server.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    server.distinguished_name.push(DnType::CommonName, "provincial archive");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;
    write_new(&paths.server_key(), &server_key.serialize_pem(), PRIVATE)?;
    write_new(&paths.server_cert(), &server_cert.pem(), PUBLIC)?;

    let ca = Ca { cert: ca_cert, key: ca_key };
    crl::write_first(&paths, &ca)?;
    for station in stations {
        ca.issue(&paths, Holder::Station(station), None)?;
    }
    Ok(paths)
}

/// Adds station certificates to an existing PKI (its CA and server certificate stay); none
/// if one of them exists already.
pub fn add_stations(paths: &PkiPaths, stations: &[&str]) -> Result<Vec<PathBuf>, PkiError> {
    for station in stations {
        check_id(station)?;
        if paths.station(station).exists() {
            return Err(PkiError::Exists { path: paths.station(station) });
        }
    }
    let ca = Ca::load(paths)?;
    stations.iter().map(|s| ca.issue(paths, Holder::Station(s), None)).collect()
}

/// Adds a short-lived certificate for outreach kit `kit` of station `owner` (a station of this
/// PKI), valid for `days` (1 to [`KIT_DAYS_MAX`]).
pub fn add_kit(paths: &PkiPaths, kit: &str, owner: &str, days: u32) -> Result<PathBuf, PkiError> {
    if !(1..=KIT_DAYS_MAX).contains(&days) {
        return Err(PkiError::KitDays(days));
    }
    Ca::load(paths)?.issue(paths, Holder::Kit { kit, owner }, Some(Validity::days(days)))
}

/// What a client certificate says, read from its holder's PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// Common name: the station or kit id the service knows the holder by.
    pub id: String,
    /// Organisational unit: the station that owns a kit; none for a station.
    pub owner: Option<String>,
    /// Valid from (unix seconds).
    pub not_before: i64,
    /// Valid until (unix seconds).
    pub not_after: i64,
}

/// Reads a holder's PEM (its certificate and private key, as [`Ca::issue`] writes them) and
/// checks that the key is the certificate's: a file that would only fail at the first
/// handshake, far from the province, is refused when it is handed over.
pub fn client_certificate(pem: &[u8]) -> Result<ClientCertificate, PkiError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| PkiError::Identity(format!("{what}: {e}"));
    let der = CertificateDer::from_pem_slice(pem).map_err(|e| bad("certificate", &e))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| bad("certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad("private key", &e))?;
    let key = KeyPair::try_from(&key).map_err(|e| bad("private key", &e))?;
    if cert.public_key().raw != key.public_key_der().as_slice() {
        return Err(PkiError::Identity("the private key is not the certificate's".into()));
    }
    let name = |attr: Option<&x509_parser::x509::AttributeTypeAndValue<'_>>| {
        attr.and_then(|a| a.as_str().ok()).map(String::from)
    };
    let id = name(cert.subject().iter_common_name().next())
        .ok_or_else(|| PkiError::Identity("the certificate names nobody (no common name)".into()))?;
    let owner = name(cert.subject().iter_organizational_unit().next());
    let validity = cert.validity();
    Ok(ClientCertificate {
        id,
        owner,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}

/// Ids name certificates and files: letters, digits, `-`, `_` and `.`, not starting with `.`.
fn check_id(id: &str) -> Result<(), PkiError> {
    let bad = |why: &str| Err(PkiError::BadId { id: id.to_string(), why: why.to_string() });
    if id.is_empty() || id.len() > 64 {
        return bad("1 to 64 characters");
    }
    if id.starts_with('.') || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return bad("letters, digits, '-', '_' and '.' only, not starting with '.'");
    }
    Ok(())
}

/// 16 random bytes, positive and minimal in DER (first byte 0x40..=0x7F): unique without a
/// counter the offline machine would have to keep.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider().secure_random.fill(&mut bytes).map_err(|_| PkiError::Random)?;
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// The first certificate of a PEM file, as DER.
fn first_certificate(path: &Path) -> Result<Vec<u8>, PkiError> {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&read(path)?)
        .map_err(|e| PkiError::Pem { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(der.to_vec())
}

/// Reads a file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, PkiError> {
    std::fs::read(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn read_text(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("file").permissions().mode() & 0o777
    }

    fn cert_of(path: &Path) -> (Vec<u8>, Option<String>, Option<String>, i64) {
        let der = first_certificate(path).expect("certificate");
        let (_, c) = x509_parser::parse_x509_certificate(&der).expect("parse");
        let cn = c.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).map(String::from);
        let ou =
            c.subject().iter_organizational_unit().next().and_then(|a| a.as_str().ok()).map(String::from);
        let seconds = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
        (c.raw_serial().to_vec(), cn, ou, seconds)
    }

    #[test]
    fn keys_are_private_and_certificates_public() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = generate(dir.path(), &["S-0101"]).expect("pki");
        let kit = add_kit(&paths, "kit-07", "S-0101", KIT_DAYS_DEFAULT).expect("kit");
        for key in [paths.ca_key(), paths.server_key(), paths.station("S-0101"), kit] {
            assert_eq!(mode(&key), 0o600, "{}", key.display());
        }
        for public in [paths.ca(), paths.server_cert(), paths.crl()] {
            assert_eq!(mode(&public) & 0o077 & !0o044, 0, "{} writable by others", public.display());
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn stations_are_added_under_the_same_ca_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = generate(dir.path(), &["S-0101"]).expect("pki");
        let before: Vec<Vec<u8>> =
            [paths.ca(), paths.ca_key(), paths.server_cert(), paths.server_key(), paths.station("S-0101")]
                .iter()
                .map(|p| read(p).expect("read"))
                .collect();
        add_stations(&paths, &["S-0102", "S-0103"]).expect("add");
        let after: Vec<Vec<u8>> =
            [paths.ca(), paths.ca_key(), paths.server_cert(), paths.server_key(), paths.station("S-0101")]
                .iter()
                .map(|p| read(p).expect("read"))
                .collect();
        assert_eq!(before, after, "CA, server and existing stations untouched");
        let e = add_stations(&paths, &["S-0104", "S-0101"]).expect_err("existing station");
        assert!(matches!(e, PkiError::Exists { .. }), "{e}");
        assert!(!paths.station("S-0104").exists(), "all or none");
        assert_eq!(read(&paths.station("S-0101")).expect("read"), before[4]);
        assert!(matches!(generate(dir.path(), &[]), Err(PkiError::Exists { .. })), "no second CA");

        // The added station's certificate chains to the CA: its issuer is the CA's subject.
        let ca_der = first_certificate(&paths.ca()).expect("ca");
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).expect("ca");
        let der = first_certificate(&paths.station("S-0102")).expect("station");
        let (_, st) = x509_parser::parse_x509_certificate(&der).expect("station");
        assert_eq!(st.issuer().as_raw(), ca.subject().as_raw());
        st.verify_signature(Some(ca.public_key())).expect("signed by the CA key");

        let serials: std::collections::BTreeSet<Vec<u8>> =
            ["S-0101", "S-0102", "S-0103"].iter().map(|s| cert_of(&paths.station(s)).0).collect();
        assert_eq!(serials.len(), 3, "serials differ");
        assert!(serials.iter().all(|s| s.len() == 16), "random 128-bit serials: {serials:?}");
    }

    #[test]
    fn without_the_ca_key_nothing_is_signed() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = generate(dir.path(), &[]).expect("pki");
        std::fs::rename(paths.ca_key(), dir.path().join("offline.key")).expect("move");
        assert!(matches!(add_stations(&paths, &["S-1"]), Err(PkiError::NoCaKey { .. })));
        let other = tempfile::tempdir().expect("tmp");
        let other = generate(other.path(), &[]).expect("pki");
        std::fs::copy(other.ca_key(), paths.ca_key()).expect("copy");
        assert!(matches!(add_stations(&paths, &["S-1"]), Err(PkiError::KeyMismatch { .. })));
        assert!(!paths.station("S-1").exists());
    }

    #[test]
    fn a_kit_certificate_is_short_lived_and_names_its_owner() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = generate(dir.path(), &["S-0101"]).expect("pki");
        let kit = add_kit(&paths, "kit-07", "S-0101", 14).expect("kit");
        let (_, cn, ou, seconds) = cert_of(&kit);
        assert_eq!((cn.as_deref(), ou.as_deref()), (Some("kit-07"), Some("S-0101")));
        assert_eq!(seconds, 14 * 86_400 + 3600);
        assert_eq!(cert_of(&paths.station("S-0101")).2, None, "stations have no OU");
        assert!(matches!(add_kit(&paths, "kit-08", "S-0101", 0), Err(PkiError::KitDays(0))));
        assert!(matches!(add_kit(&paths, "kit-08", "S-0101", 32), Err(PkiError::KitDays(32))));
        assert!(matches!(add_kit(&paths, "kit-08", "S-9999", 14), Err(PkiError::Unknown { .. })));
        assert!(matches!(add_kit(&paths, "S-0101", "S-0101", 14), Err(PkiError::BadId { .. })));
        assert!(matches!(add_stations(&paths, &["kit-07"]), Err(PkiError::BadId { .. })));
        assert!(matches!(add_kit(&paths, "kit-07", "S-0101", 14), Err(PkiError::Exists { .. })));
    }

    #[test]
    fn a_holder_reads_its_certificate_and_a_foreign_key_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = generate(dir.path(), &["S-0101"]).expect("pki");
        let kit = read(&add_kit(&paths, "kit-07", "S-0101", 3).expect("kit")).expect("read");
        let c = client_certificate(&kit).expect("kit certificate");
        assert_eq!((c.id.as_str(), c.owner.as_deref()), ("kit-07", Some("S-0101")));
        assert_eq!(c.not_after - c.not_before, 3 * 86_400 + 3600);
        let station = client_certificate(&read(&paths.station("S-0101")).expect("read")).expect("station");
        assert_eq!((station.id.as_str(), station.owner), ("S-0101", None));

        // The kit's certificate with the station's key: the first handshake would fail.
        let text = String::from_utf8(kit).expect("PEM text");
        let station_text = read_text(&paths.station("S-0101")).expect("read");
        let cert_end = "-----END CERTIFICATE-----\n";
        let cut = |t: &str| t.find(cert_end).expect("certificate block") + cert_end.len();
        let swapped = format!("{}{}", &text[..cut(&text)], &station_text[cut(&station_text)..]);
        let e = client_certificate(swapped.as_bytes()).expect_err("foreign key");
        assert!(e.to_string().contains("not the certificate's"), "{e}");
        for broken in [&text[..cut(&text)], &text[cut(&text)..], "not a PEM"] {
            let e = client_certificate(broken.as_bytes()).expect_err("broken");
            assert!(matches!(e, PkiError::Identity(_)), "{e}");
        }
    }

    #[test]
    fn ids_that_cannot_name_a_file_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        for id in ["", "../x", "a/b", ".hidden", "名字", &"x".repeat(65)] {
            let e = generate(&dir.path().join("p"), &[id]).expect_err(id);
            assert!(matches!(e, PkiError::BadId { .. }), "{id}: {e}");
        }
        assert!(!dir.path().join("p").exists(), "nothing made for a bad id");
    }
}
