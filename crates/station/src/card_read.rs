//! `station card read`: what is on the card in a reader — its ATR and which of the known
//! applications answer a SELECT.
//!
//! The applications probed come from the firmware profiles (data), so a new card OS or
//! application needs a profile file, not code.

use apdu::{Atr, Command, StatusWord};
use card_transport::CardTransaction;
use serde::Serialize;

/// An application the station knows how to recognise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownApplication {
    /// Name a card engineer uses ("social-security environment", "PBOC debit").
    pub name: String,
    /// Its AID (DF name).
    pub aid: Vec<u8>,
}

/// What `card read` found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CardReport {
    /// The reader the card is in.
    pub reader: String,
    /// The ATR, hex.
    pub atr: String,
    /// Protocols offered by the ATR (0 = T=0, 1 = T=1).
    pub protocols: Vec<u8>,
    /// Historical bytes, hex.
    pub historical_bytes: String,
    /// Whether the ATR announces extended-length APDUs.
    pub extended_length: bool,
    /// Every probed application with the card's answer.
    pub applications: Vec<ApplicationProbe>,
    /// The iReadCardBas fields, when the SSSE answered and its EF05/EF06 decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_security: Option<ssse::BasicInfo>,
    /// Why the SSSE data could not be read (a blank card, odd records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_security_error: Option<String>,
}

/// The card's answer to SELECT of one application.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApplicationProbe {
    /// The application's name.
    pub name: String,
    /// Its AID, hex.
    pub aid: String,
    /// True when the SELECT was answered 9000 (or a warning that still selected it).
    pub present: bool,
    /// SW1SW2 of the SELECT, hex.
    pub sw: String,
    /// Length of the FCI returned.
    pub fci_len: usize,
    /// The application label (tag 50) from the FCI, when the card gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Why `card read` could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The ATR is malformed: the card or the reader is faulty.
    #[error("the card's ATR is malformed ({0}): clean the chip and re-insert, or try another reader")]
    Atr(#[from] apdu::AtrError),
    /// The link failed during a SELECT.
    #[error("reading the card failed at SELECT {name}: {source}")]
    Transport {
        /// Application being selected.
        name: String,
        /// What the reader said.
        #[source]
        source: card_transport::TransportError,
    },
}

/// Reads the ATR and probes `known` applications in order over one transaction.
pub fn inspect(
    tx: &mut dyn CardTransaction,
    reader: &str,
    atr_bytes: &[u8],
    known: &[KnownApplication],
) -> Result<CardReport, ReadError> {
    let atr = Atr::parse(atr_bytes)?;
    let mut applications = Vec::with_capacity(known.len());
    for app in known {
        let r = apdu::transmit(tx, &Command::select_aid(&app.aid))
            .map_err(|source| ReadError::Transport { name: app.name.clone(), source })?;
        let present =
            matches!(r.sw, StatusWord::Success | StatusWord::FileDeactivated | StatusWord::FileTerminated);
        applications.push(ApplicationProbe {
            name: app.name.clone(),
            aid: hex::encode_upper(&app.aid),
            present,
            sw: format!("{:04X}", r.sw.as_u16()),
            fci_len: r.data.len(),
            label: apdu::find_primitive(&r.data, 0x50).map(|l| String::from_utf8_lossy(&l).into_owned()),
        });
    }
    let ssse_present =
        applications.iter().zip(known).any(|(p, k)| p.present && k.aid == ssse::ENVIRONMENT_AID);
    let (social_security, social_security_error) = if ssse_present {
        match read_social_security(tx, atr_bytes) {
            Ok(info) => (Some(info), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    Ok(CardReport {
        reader: reader.to_string(),
        atr: hex::encode_upper(atr.as_bytes()),
        protocols: atr.protocols().to_vec(),
        historical_bytes: hex::encode_upper(atr.historical_bytes()),
        extended_length: atr.extended_length(),
        applications,
        social_security,
        social_security_error,
    })
}

/// EF05/EF06 by the public read sequence, with the name decoded.
fn read_social_security(tx: &mut dyn CardTransaction, atr: &[u8]) -> Result<ssse::BasicInfo, String> {
    let data = ssse::read_card(tx, atr).map_err(|e| e.to_string())?;
    if data.holder.ssn.is_empty() {
        return Err("the social-security application is blank (not personalised)".into());
    }
    let name = crate::ssc::card_name(&data.holder).map_err(|e| format!("EF06 name: {e}"))?;
    data.basic(name).map_err(|e| e.to_string())
}

impl std::fmt::Display for CardReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "reader:      {}", self.reader)?;
        writeln!(f, "ATR:         {}", self.atr)?;
        let protos: Vec<String> = self.protocols.iter().map(|p| format!("T={p}")).collect();
        writeln!(f, "protocols:   {}", protos.join(", "))?;
        writeln!(f, "historical:  {}", self.historical_bytes)?;
        writeln!(f, "extended:    {}", if self.extended_length { "yes" } else { "no" })?;
        writeln!(f, "applications:")?;
        for a in &self.applications {
            let mark = if a.present { "present" } else { "absent " };
            write!(f, "  {mark} {:<36} {} (SW {})", a.name, a.aid, a.sw)?;
            match &a.label {
                Some(label) => writeln!(f, " label {label:?}")?,
                None => writeln!(f)?,
            }
        }
        if let Some(s) = &self.social_security {
            writeln!(f, "social security (iReadCardBas):")?;
            writeln!(f, "  {}", s.line())?;
        }
        if let Some(e) = &self.social_security_error {
            writeln!(f, "social security: {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_transport::transcript::Replay;

    fn recorded() -> (Replay, Vec<u8>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transcripts/card-read-ssc-3g.apdu");
        let text = std::fs::read_to_string(path).expect(path);
        let atr_hex = text.lines().find_map(|l| l.strip_prefix("# ATR ")).expect("ATR line");
        (Replay::from_text(&text).expect("transcript"), hex::decode(atr_hex.trim()).expect("hex"))
    }

    fn known() -> Vec<KnownApplication> {
        vec![
            KnownApplication { name: "PSAM".into(), aid: hex::decode("D15600000590").expect("hex") },
            KnownApplication {
                name: "SSSE".into(),
                aid: hex::decode("7378312E73682EC9E7BBE1B1A3D5CF").expect("hex"),
            },
        ]
    }

    #[test]
    fn recorded_card_read_reports_the_applications() {
        let (mut card, atr) = recorded();
        let report = inspect(&mut card, "Virtual PCD 00 00", &atr, &known()).expect("read");
        assert_eq!(card.remaining(), 0);
        assert!(report.extended_length);
        assert_eq!(report.protocols, vec![1]);
        assert_eq!(report.historical_bytes.len(), 28);
        let present: Vec<(&str, bool, &str)> =
            report.applications.iter().map(|a| (a.name.as_str(), a.present, a.sw.as_str())).collect();
        assert_eq!(present, vec![("PSAM", false, "6A82"), ("SSSE", true, "9000")]);
        assert_eq!(report.applications[1].fci_len, 29);
        let text = report.to_string();
        assert!(text.contains("present SSSE"), "{text}");
        // The recording masks the records (personal data): they replay as zeros, which the
        // report names instead of showing garbage.
        assert_eq!(report.social_security, None);
        let e = report.social_security_error.expect("error");
        assert!(e.contains("EF05") || e.contains("blank"), "{e}");
    }

    #[test]
    fn a_malformed_atr_is_an_error_that_says_what_to_do() {
        let (mut card, _) = recorded();
        let e = inspect(&mut card, "r", &[0x3B, 0x8E], &known()).expect_err("bad ATR");
        assert!(e.to_string().contains("re-insert"), "{e}");
    }
}
