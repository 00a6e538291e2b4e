//! The CA's revocation list, `crl.pem`: made empty with the PKI, then signed again at every
//! revocation with a number one higher and every earlier entry kept, so the newest file alone
//! is all the service needs.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rcgen::{CertificateRevocationListParams, RevokedCertParams, SerialNumber};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateRevocationListDer;

use super::files::{replace, write_new, PUBLIC};
use super::{check_id, first_certificate, read, Ca, PkiError, PkiPaths};

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The revoked certificate's file.
    pub file: PathBuf,
    /// Its serial number, hex.
    pub serial: String,
    /// The list's number after the revocation.
    pub number: u64,
    /// The certificate was listed already: nothing was written.
    pub already: bool,
}

/// The list's announced next update. The service does not enforce it: a list is replaced at
/// the next revocation, and a province that revokes nothing for a year must not lock out
/// every station.
const NEXT_UPDATE: Duration = Duration::from_secs(365 * 86_400);

/// The first, empty list (number 1).
pub(super) fn write_first(paths: &PkiPaths, ca: &Ca) -> Result<(), PkiError> {
    write_new(&paths.crl(), &sign(ca, 1, Vec::new())?, PUBLIC)
}

/// Revokes the certificate of station or kit `id` (its file in the PKI directory): `crl.pem`
/// is signed again with its serial added. Revoking twice changes nothing.
pub fn revoke(paths: &PkiPaths, id: &str) -> Result<Revocation, PkiError> {
    check_id(id)?;
    let ca = Ca::load(paths)?;
    let file = [paths.station(id), paths.kit(id)]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| PkiError::Unknown { id: id.to_string(), dir: paths.dir.clone() })?;
    let der = first_certificate(&file)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| PkiError::Pem { path: file.clone(), message: e.to_string() })?;
    let serial = cert.raw_serial().to_vec();
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    let (number, mut revoked) = listed(paths, &ca)?;
    if revoked.iter().any(|r| r.serial_number.as_ref() == serial.as_slice()) {
        return Ok(Revocation { file, serial: hex, number, already: true });
    }
    revoked.push(RevokedCertParams {
        serial_number: SerialNumber::from_slice(&serial),
        revocation_time: SystemTime::now().into(),
        reason_code: None,
        invalidity_date: None,
    });
    let number = number + 1;
    replace(&paths.crl(), &sign(&ca, number, revoked)?, PUBLIC)?;
    Ok(Revocation { file, serial: hex, number, already: false })
}

/// The current list's number and entries, once its signature is found to be the CA's.
fn listed(paths: &PkiPaths, ca: &Ca) -> Result<(u64, Vec<RevokedCertParams>), PkiError> {
    let path = paths.crl();
    let bad = |m: &dyn std::fmt::Display| PkiError::Pem { path: path.clone(), message: m.to_string() };
    let der = CertificateRevocationListDer::from_pem_slice(&read(&path)?).map_err(|e| bad(&e))?;
    let (_, list) = x509_parser::parse_x509_crl(&der).map_err(|e| bad(&e))?;
    let (_, ca_cert) = x509_parser::parse_x509_certificate(ca.cert.der()).map_err(|e| bad(&e))?;
    list.verify_signature(ca_cert.public_key()).map_err(|e| bad(&format!("not signed by the CA: {e}")))?;
    let number = list
        .crl_number()
        .map(|n| n.to_bytes_be())
        .filter(|b| b.len() <= 8)
        .map(|b| b.iter().fold(0u64, |n, byte| n << 8 | u64::from(*byte)))
        .ok_or_else(|| bad(&"no CRL number (or one too large)"))?;
    let revoked = list
        .iter_revoked_certificates()
        .map(|r| RevokedCertParams {
            serial_number: SerialNumber::from_slice(r.raw_serial()),
            revocation_time: r.revocation_date.to_datetime(),
            reason_code: None,
            invalidity_date: None,
        })
        .collect();
    Ok((number, revoked))
}

fn sign(ca: &Ca, number: u64, revoked: Vec<RevokedCertParams>) -> Result<String, PkiError> {
    let now = SystemTime::now();
    let params = CertificateRevocationListParams {
        this_update: now.into(),
        next_update: (now + NEXT_UPDATE).into(),
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: ca.cert.params().key_identifier_method.clone(),
    };
    Ok(params.signed_by(&ca.cert, &ca.key)?.pem()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(paths: &PkiPaths) -> (u64, Vec<Vec<u8>>) {
        let der =
            CertificateRevocationListDer::from_pem_slice(&read(&paths.crl()).expect("read")).expect("pem");
        let (_, list) = x509_parser::parse_x509_crl(&der).expect("parse");
        let number = list.crl_number().and_then(|n| n.to_u64_digits().first().copied()).unwrap_or(0);
        (number, list.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()).collect())
    }

    fn serial(path: &std::path::Path) -> Vec<u8> {
        let der = first_certificate(path).expect("cert");
        x509_parser::parse_x509_certificate(&der).expect("parse").1.raw_serial().to_vec()
    }

    #[test]
    fn each_revocation_adds_one_entry_and_keeps_the_earlier_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = super::super::generate(dir.path(), &["S-1", "S-2", "S-3"]).expect("pki");
        assert_eq!(entries(&paths), (1, vec![]), "the PKI starts with an empty list");

        let first = revoke(&paths, "S-2").expect("revoke");
        assert_eq!((first.number, first.already), (2, false));
        super::super::add_kit(&paths, "kit-1", "S-1", 7).expect("kit");
        let second = revoke(&paths, "kit-1").expect("revoke kit");
        assert_eq!(second.number, 3);
        assert_eq!(entries(&paths), (3, vec![serial(&paths.station("S-2")), serial(&paths.kit("kit-1"))]));

        let again = revoke(&paths, "S-2").expect("again");
        assert_eq!((again.number, again.already), (3, true));
        assert_eq!(entries(&paths).0, 3, "nothing written");
        assert!(matches!(revoke(&paths, "S-9"), Err(PkiError::Unknown { .. })));
    }

    #[test]
    fn a_list_not_signed_by_the_ca_is_not_carried_forward() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = super::super::generate(&dir.path().join("a"), &["S-1"]).expect("pki");
        let other = super::super::generate(&dir.path().join("b"), &["S-1"]).expect("pki");
        std::fs::copy(other.crl(), paths.crl()).expect("copy");
        let e = revoke(&paths, "S-1").expect_err("foreign list");
        assert!(e.to_string().contains("not signed by the CA"), "{e}");
    }
}
