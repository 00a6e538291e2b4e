//! The kit's certificate and key for the provincial service (`kit-KIT.pem`, made by the
//! province for 14 days by default). The kit travels to villages, so its key lives where the
//! people's data live: sealed in the kit's store ([`crate::Kit::import_identity`]), opened
//! only for a connection and zeroized after it. The file it came from is deleted once
//! imported; a renewed certificate is imported over the old one.

use std::fmt;
use std::path::{Path, PathBuf};

use provincial::pki::{self, ClientCertificate, PkiError};
use zeroize::Zeroizing;

/// A certificate ending within this many seconds is renewed before the kit leaves again.
pub const RENEW_WITHIN: i64 = 2 * 86_400;

/// Why a kit's certificate cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The store holds no certificate.
    #[error("kit {kit} holds no certificate for the provincial service: import the kit-{kit}.pem the province made for it (station kit identity --import FILE), then delete the file")]
    Missing {
        /// The kit.
        kit: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a certificate with its own key.
    #[error(transparent)]
    Unusable(#[from] PkiError),
    /// Another holder's certificate: the service would know the kit by that name.
    #[error("the certificate is {found}'s, not kit {kit}'s: import the kit's own kit-{kit}.pem")]
    WrongKit {
        /// The kit.
        kit: String,
        /// The certificate's common name.
        found: String,
    },
    /// A station's certificate (no owning station in it), not a kit's.
    #[error("the certificate of {kit} names no owning station: it is a station's; ask the province for a kit certificate (station provincial certs --out PKI --kit {kit} --owner STATION)")]
    NotAKit {
        /// The kit.
        kit: String,
    },
    /// Past its end: the service refuses the kit.
    #[error("kit {kit}'s certificate expired {hours} h ago: {}", renewal(kit, owner))]
    Expired {
        /// The kit.
        kit: String,
        /// The station that owns it.
        owner: String,
        /// Hours since it ended.
        hours: i64,
    },
}

/// Where a kit's certificate stands at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Valid for longer than [`RENEW_WITHIN`].
    Valid,
    /// Still valid, ending within [`RENEW_WITHIN`]: renew it before the kit leaves.
    RenewSoon,
    /// Ended.
    Expired,
}

/// Where `c` stands at `now` (unix seconds).
pub fn standing(c: &ClientCertificate, now: i64) -> Standing {
    if now > c.not_after {
        Standing::Expired
    } else if c.not_after - now <= RENEW_WITHIN {
        Standing::RenewSoon
    } else {
        Standing::Valid
    }
}

/// What to do for a new certificate: the province makes it, the kit imports it.
pub fn renewal(kit: &str, owner: &str) -> String {
    format!(
        "ask the province for a new short-lived certificate (station provincial certs --out PKI --kit {kit} \
         --owner {owner}) and import it (station kit identity --import kit-{kit}.pem)"
    )
}

/// The warning for a certificate about to end, if it is.
pub fn renewal_warning(c: &ClientCertificate, now: i64) -> Option<String> {
    (standing(c, now) == Standing::RenewSoon).then(|| {
        format!(
            "kit {}'s certificate ends in {} h: {}",
            c.id,
            (c.not_after - now) / 3600,
            renewal(&c.id, c.owner.as_deref().unwrap_or("STATION"))
        )
    })
}

/// The kit's certificate and key, opened for a connection: zeroized when dropped, never
/// printed (its `Debug` shows the certificate only).
pub struct KitIdentity {
    pem: Zeroizing<Vec<u8>>,
    certificate: ClientCertificate,
}

impl KitIdentity {
    /// Checks `pem` as kit `kit_id`'s certificate and key at `now`: the certificate names the
    /// kit and its owning station, the key is its own, and it has not ended.
    pub fn check(pem: Zeroizing<Vec<u8>>, kit_id: &str, now: i64) -> Result<KitIdentity, IdentityError> {
        let certificate = pki::client_certificate(&pem)?;
        if certificate.id != kit_id {
            return Err(IdentityError::WrongKit { kit: kit_id.into(), found: certificate.id });
        }
        let Some(owner) = certificate.owner.clone() else {
            return Err(IdentityError::NotAKit { kit: kit_id.into() });
        };
        if standing(&certificate, now) == Standing::Expired {
            let hours = (now - certificate.not_after) / 3600;
            return Err(IdentityError::Expired { kit: kit_id.into(), owner, hours });
        }
        Ok(KitIdentity { pem, certificate })
    }

    /// Reads and checks a `kit-KIT.pem` file (to import it, or the deprecated file override).
    pub fn from_file(path: &Path, kit_id: &str, now: i64) -> Result<KitIdentity, IdentityError> {
        let pem = std::fs::read(path)
            .map(Zeroizing::new)
            .map_err(|source| IdentityError::Read { path: path.to_path_buf(), source })?;
        KitIdentity::check(pem, kit_id, now)
    }

    /// The certificate and key, PEM (for [`provincial::Client::from_pem`]).
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// What the certificate says.
    pub fn certificate(&self) -> &ClientCertificate {
        &self.certificate
    }
}

impl fmt::Debug for KitIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KitIdentity").field("certificate", &self.certificate).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::{Kit, KitError};
    use crate::vault::Vault;
    use provincial::pki::PkiPaths;

    const PASSWORD: &str = "kit operator's password";

    struct Setup {
        dir: tempfile::TempDir,
        pki: PkiPaths,
    }

    impl Setup {
        fn new() -> Setup {
            let dir = tempfile::tempdir().expect("tmp");
            let pki = pki::generate(&dir.path().join("pki"), &["counter-1"]).expect("pki");
            Setup { dir, pki }
        }

        /// A new certificate for `kit` (the old file moved away, as the province does).
        fn certificate(&self, kit: &str, days: u32) -> Vec<u8> {
            let path = self.pki.kit(kit);
            if path.exists() {
                std::fs::rename(&path, path.with_extension("old")).expect("move the old file away");
            }
            std::fs::read(pki::add_kit(&self.pki, kit, "counter-1", days).expect("kit certificate"))
                .expect("read")
        }

        fn store(&self) -> PathBuf {
            self.dir.path().join("kit-1.db")
        }
    }

    /// The lines of the PEM's private key block.
    fn key_lines(pem: &[u8]) -> Vec<String> {
        let text = String::from_utf8(pem.to_vec()).expect("PEM text");
        let key = text.split("-----BEGIN PRIVATE KEY-----").nth(1).expect("a key block");
        key.lines()
            .take_while(|l| !l.starts_with("-----END"))
            .filter(|l| l.len() > 16)
            .map(String::from)
            .collect()
    }

    /// Every byte the store has on disk (the database and its write-ahead log).
    fn on_disk(store: &Path) -> Vec<u8> {
        let dir = store.parent().expect("dir");
        let name = store.file_name().and_then(|n| n.to_str()).expect("name");
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(name)) {
                bytes.extend(std::fs::read(&path).expect("read"));
            }
        }
        bytes
    }

    #[test]
    fn the_certificate_is_sealed_in_the_store_and_only_the_password_opens_it() {
        let s = Setup::new();
        let pem = s.certificate("kit-1", 14);
        let mut kit = Kit::create(&s.store(), "kit-1", "op", PASSWORD).expect("kit");
        let e = kit.identity().expect_err("nothing imported yet");
        assert!(e.to_string().contains("station kit identity --import"), "{e}");
        assert_eq!(kit.certificate().expect("read"), None);

        let c = kit.import_identity(&pem).expect("import");
        assert_eq!((c.id.as_str(), c.owner.as_deref()), ("kit-1", Some("counter-1")));
        assert_eq!(kit.identity().expect("identity").pem(), pem.as_slice());
        drop(kit);

        let disk = on_disk(&s.store());
        assert!(disk.windows(16).any(|w| w == b"SQLite format 3\0"), "the store's file was read");
        let lines = key_lines(&pem);
        assert!(lines.len() >= 2, "{lines:?}");
        for line in &lines {
            assert!(!disk.windows(line.len()).any(|w| w == line.as_bytes()), "key in clear: {line}");
        }
        assert!(!disk.windows(11).any(|w| w == b"PRIVATE KEY"), "no PEM in clear");

        let kit = Kit::open(&s.store(), "op", PASSWORD).expect("log in");
        assert_eq!(kit.identity().expect("identity").pem(), pem.as_slice(), "kept across log-ins");
        assert_eq!(kit.certificate().expect("read").as_ref(), Some(&c));
        assert!(
            !format!("{:?}", kit.identity().expect("identity")).contains(&lines[0]),
            "Debug hides the key"
        );
        drop(kit);

        assert!(matches!(Kit::open(&s.store(), "op", "wrong password"), Err(KitError::Vault(_))));
        // Below the log-in check too: the sealed row opens only under the password's key.
        let db = rusqlite::Connection::open(s.store()).expect("raw");
        let meta = |name: &str| -> Vec<u8> {
            db.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).expect(name)
        };
        let (salt, sealed) = (meta("salt"), meta("identity"));
        let wrong =
            Vault::derive("wrong password", &salt, crate::vault::KdfCost::STOLEN_LAPTOP).expect("key");
        assert!(wrong.open("meta:identity", &sealed).is_err(), "a wrong password opens nothing");
        let right = Vault::derive(PASSWORD, &salt, crate::vault::KdfCost::STOLEN_LAPTOP).expect("key");
        assert_eq!(right.open("meta:identity", &sealed).expect("open").as_slice(), pem.as_slice());
        assert!(right.open("meta:check", &sealed).is_err(), "sealed for its own row");
    }

    #[test]
    fn only_the_kits_own_valid_certificate_is_imported() {
        let s = Setup::new();
        let mut kit = Kit::create(&s.store(), "kit-1", "op", PASSWORD).expect("kit");
        let other = s.certificate("kit-2", 14);
        let e = kit.import_identity(&other).expect_err("another kit's");
        assert!(
            matches!(e, KitError::Identity(IdentityError::WrongKit { ref found, .. }) if found == "kit-2"),
            "{e}"
        );
        let station = std::fs::read(s.pki.station("counter-1")).expect("read");
        assert!(matches!(
            kit.import_identity(&station),
            Err(KitError::Identity(IdentityError::WrongKit { .. }))
        ));
        let e = kit.import_identity(b"not a certificate").expect_err("garbage");
        assert!(matches!(e, KitError::Identity(IdentityError::Unusable(_))), "{e}");
        assert_eq!(kit.certificate().expect("read"), None, "nothing refused was kept");

        // A store named like a station cannot take the station's certificate as a kit's.
        let mut named = Kit::create(&s.dir.path().join("s.db"), "counter-1", "op", PASSWORD).expect("kit");
        let e = named.import_identity(&station).expect_err("a station's");
        assert!(matches!(e, KitError::Identity(IdentityError::NotAKit { .. })), "{e}");

        // After its end, nothing: neither imported nor used.
        let pem = s.certificate("kit-1", 1);
        let now = kit.now();
        kit.set_clock(Box::new(move || now + 3 * 86_400));
        let e = kit.import_identity(&pem).expect_err("expired");
        assert!(matches!(e, KitError::Identity(IdentityError::Expired { hours: 47 | 48, .. })), "{e}");
        kit.set_clock(Box::new(move || now));
        kit.import_identity(&pem).expect("import");
        kit.set_clock(Box::new(move || now + 3 * 86_400));
        let e = kit.identity().expect_err("expired");
        let said = e.to_string();
        assert!(said.contains("station provincial certs --out PKI --kit kit-1 --owner counter-1"), "{said}");
        assert!(said.contains("station kit identity --import kit-kit-1.pem"), "{said}");
    }

    #[test]
    fn a_connection_warns_of_a_file_and_of_an_ending_certificate() {
        let s = Setup::new();
        let mut kit = Kit::create(&s.store(), "kit-1", "op", PASSWORD).expect("kit");
        let mut said = Vec::new();
        let e =
            kit.identity_for_connection(None, &mut |w| said.push(w.to_string())).expect_err("none imported");
        assert!(matches!(e, KitError::Identity(IdentityError::Missing { .. })), "{e}");
        assert!(said.is_empty(), "{said:?}");

        s.certificate("kit-2", 14);
        let e = kit
            .identity_for_connection(Some(&s.pki.kit("kit-2")), &mut |w| said.push(w.to_string()))
            .expect_err("another kit's file");
        assert!(matches!(e, KitError::Identity(IdentityError::WrongKit { .. })), "{e}");
        assert!(said.len() == 1 && said[0].contains("deprecated"), "{said:?}");

        said.clear();
        let pem = s.certificate("kit-1", 1);
        let from_file = kit
            .identity_for_connection(Some(&s.pki.kit("kit-1")), &mut |w| said.push(w.to_string()))
            .expect("the kit's own file");
        assert_eq!(from_file.pem(), pem.as_slice());
        assert!(said.len() == 2 && said[1].contains("ends in"), "deprecated, and ending: {said:?}");

        said.clear();
        kit.import_identity(&pem).expect("import");
        let sealed = kit.identity_for_connection(None, &mut |w| said.push(w.to_string())).expect("sealed");
        assert_eq!(sealed.pem(), pem.as_slice());
        assert!(said.len() == 1 && said[0].contains("station provincial certs"), "{said:?}");
    }

    #[test]
    fn a_renewed_certificate_replaces_the_old_one_and_an_ending_one_warns() {
        let s = Setup::new();
        let mut kit = Kit::create(&s.store(), "kit-1", "op", PASSWORD).expect("kit");
        let first = kit.import_identity(&s.certificate("kit-1", 1)).expect("import");
        let now = kit.now();
        assert_eq!(standing(&first, now), Standing::RenewSoon);
        let warning = renewal_warning(&first, first.not_after - 30 * 3600).expect("a warning");
        assert!(
            warning.contains("kit kit-1's certificate ends in 30 h") && warning.contains("--owner counter-1"),
            "{warning}"
        );
        assert_eq!(standing(&first, first.not_after - RENEW_WITHIN - 1), Standing::Valid);
        assert_eq!(standing(&first, first.not_after), Standing::RenewSoon);
        assert_eq!(standing(&first, first.not_after + 1), Standing::Expired);

        let renewed = s.certificate("kit-1", 14);
        let second = kit.import_identity(&renewed).expect("renewal");
        assert!(second.not_after > first.not_after + 12 * 86_400);
        assert_eq!((standing(&second, now), renewal_warning(&second, now)), (Standing::Valid, None));
        drop(kit);
        let kit = Kit::open(&s.store(), "op", PASSWORD).expect("log in");
        assert_eq!(
            kit.identity().expect("identity").pem(),
            renewed.as_slice(),
            "the renewal is what is used"
        );
    }
}
