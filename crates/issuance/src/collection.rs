//! How a job's card reaches its holder (FLOW A step 5, FLOW B step 4): handed over at the
//! counter with the receiver's signature, or put in stock at a named storage place (保管地点)
//! with the person who answers for it, until the holder collects it. A job says which when it
//! is asked for; a holder at the counter who cannot take the card after all has it parked to
//! stock with the reason. The ledger records what happened, never a hand-over that did not
//! (RULE 5).

use serde::{Deserialize, Serialize};

/// Where a card waits for its holder and who answers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    /// The storage place (保管地点): a safe, a drawer, a township site.
    pub place: String,
    /// The person responsible for the cards kept there.
    pub keeper: String,
    /// The agent site (its id in `[[sites]]`) where the holder collects the card: the
    /// application records it, and the card is moved there from stock (`station stock move
    /// --to-site`) within 15 working days of the application. Not where the card is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collect_at: Option<String>,
}

/// The station's stock settings (`[counter.stock]` in station.toml): the storage place, and
/// the person responsible (when none is named, the operator who puts the card in stock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockSettings {
    /// The storage place.
    #[serde(default = "default_place")]
    pub place: String,
    /// The person responsible; empty: the operator who stocks the card.
    #[serde(default)]
    pub keeper: Option<String>,
}

fn default_place() -> String {
    "网点保管柜 (the station's card safe)".into()
}

impl Default for StockSettings {
    fn default() -> StockSettings {
        StockSettings { place: default_place(), keeper: None }
    }
}

impl StockSettings {
    /// Where `operator` puts a card, with a job's overrides (empty ones ignored).
    pub fn storage(&self, operator: &str, place: Option<&str>, keeper: Option<&str>) -> Storage {
        let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        Storage {
            place: given(place).unwrap_or_else(|| self.place.clone()),
            keeper: given(keeper).or_else(|| self.keeper.clone()).unwrap_or_else(|| operator.to_string()),
            collect_at: None,
        }
    }
}

/// Whether the holder takes the card at the counter now, or collects it later from stock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Collection {
    /// The holder is at the counter: the job waits at its hand-over for their signature.
    #[default]
    AtCounter,
    /// The holder is not here (a batch, an agent site's application): the card goes to stock.
    Later(Storage),
}

impl Collection {
    /// The word of the API and the CLI.
    pub fn word(&self) -> &'static str {
        match self {
            Collection::AtCounter => "at-counter",
            Collection::Later(_) => "later",
        }
    }
}

/// Who receives a card (RULE 4): the holder, their ID document checked, or a custodian with a
/// current recorded approval for the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Receiver {
    /// The holder in person: the number on the ID document the operator checked.
    Holder {
        /// The ID number read from the document (compared, then kept masked).
        id_number: String,
    },
    /// Another person holding the card for the holder, with a supervisor's approval.
    Custodian {
        /// The custodian's name as on their ID document.
        name: String,
        /// The number on the custodian's ID document (compared masked, kept masked).
        id_number: String,
    },
}

/// How a card waiting at the counter leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "release", rename_all = "kebab-case")]
pub enum Release {
    /// Received and signed for.
    Delivered {
        /// Who signed.
        signer: String,
        /// SM3 of the signature image (hex).
        signature_sm3: String,
        /// Who received it, as the ledger keeps it (ID numbers masked).
        receiver: serde_json::Value,
    },
    /// Put in stock until the holder collects it.
    Stocked {
        /// Where, and who answers for it.
        storage: Storage,
        /// Why it was not handed over now.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_storage_comes_from_the_settings_with_its_overrides() {
        let s = StockSettings { place: "柜A".into(), keeper: Some("王主管".into()) };
        assert_eq!(
            s.storage("op", None, None),
            Storage { place: "柜A".into(), keeper: "王主管".into(), collect_at: None }
        );
        assert_eq!(s.storage("op", Some("乡镇站"), Some(" ")).place, "乡镇站");
        let unnamed = StockSettings::default();
        assert_eq!(unnamed.storage("op", None, None).keeper, "op", "the operator who stocks it answers");
        let later = Collection::Later(s.storage("op", None, None));
        let json = serde_json::to_value(&later).expect("json");
        assert_eq!(json["mode"], "later");
        assert_eq!(serde_json::from_value::<Collection>(json).expect("back"), later);
        assert_eq!(
            serde_json::from_str::<Collection>(r#"{"mode":"at-counter"}"#).expect("at"),
            Collection::AtCounter
        );
    }
}
