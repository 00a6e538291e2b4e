//! The device sequence of one card: feed, financial application, face, social-security
//! application, read-back, eject. One place for it, over a [`CardPath`], for the counter's
//! engine (which commits to the province between read-back and eject, and journals each step
//! in the station's archive) and the outreach kit (which records the card offline, and
//! journals each step in its sealed store): both through [`CardJournal`]. A spoiled card is put
//! aside the same way by both ([`put_aside`]).

use std::fmt;

use applicant::Validated;
use firmware_profile::Profile;
use serde::{Deserialize, Serialize};
use ssse::{HolderData, IssuerData};

use crate::records::{card_data, IssueParams};
use crate::step::Step;
use crate::IssueError;

/// Where the card of the job is, as the card path reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardPlace {
    /// No card fed.
    NotFed,
    /// At the contact (chip) station.
    AtContact,
    /// At the print position.
    AtPrint,
    /// Out through the exit slot.
    Ejected,
    /// In the reject box.
    Rejected,
    /// Not known (the device cannot be asked).
    Unknown,
}

/// What the station should do about a device fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAction {
    /// Try again.
    Retry,
    /// A person must act first (refill, close the cover, clear a jam): the text says what.
    Operator(String),
    /// The card is spoiled: reject it.
    RejectCard,
    /// Stop the counter.
    Stop,
}

impl fmt::Display for DeviceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceAction::Retry => f.write_str("retry"),
            DeviceAction::Operator(what) => write!(f, "operator: {what}"),
            DeviceAction::RejectCard => f.write_str("reject the card"),
            DeviceAction::Stop => f.write_str("stop the counter"),
        }
    }
}

/// A device fault, with the step and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{step}: {message} ({action})")]
pub struct DeviceError {
    /// The device step (`UPDATE RECORD EF05 record 01`, `print face`).
    pub step: String,
    /// What happened.
    pub message: String,
    /// What to do.
    pub action: DeviceAction,
}

/// What goes on the card's face.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceText {
    /// Name.
    pub name: String,
    /// Social security number.
    pub ssn: String,
    /// Card number.
    pub card_number: String,
    /// Issue date YYYYMMDD.
    pub issue_date: String,
    /// Sex as printed (男, 女); the 2nd-generation face shows it.
    #[serde(default)]
    pub sex: Option<String>,
    /// Ethnicity as printed (汉, 蒙古); the 2nd-generation face shows it.
    #[serde(default)]
    pub ethnicity: Option<String>,
    /// Expiry date YYYYMMDD; the 2nd-generation face shows it.
    #[serde(default)]
    pub expiry_date: Option<String>,
    /// Photo file, when there is one.
    pub photo: Option<String>,
}

impl FaceText {
    /// What the face of `applicant`'s card numbered `card_number` shows; the template of the
    /// card's generation picks the fields it prints.
    pub fn of(applicant: &Validated, card_number: &str, params: &IssueParams) -> FaceText {
        FaceText {
            name: applicant.name.as_str().to_string(),
            ssn: applicant.id.as_str().to_string(),
            card_number: card_number.to_string(),
            issue_date: params.issue_date.compact(),
            sex: match applicant.sex {
                applicant::Sex::Male => Some("男".into()),
                applicant::Sex::Female => Some("女".into()),
                _ => None,
            },
            // The face prints the people's name without 族 (汉, not 汉族).
            ethnicity: applicant.ethnicity.map(|e| e.name().trim_end_matches('族').to_string()),
            expiry_date: params.issue_date.add_years(params.validity_years).map(|d| d.compact()),
            photo: applicant.photo.clone(),
        }
    }
}

/// Whose financial application a card gets.
#[derive(Debug, Clone, Copy)]
pub struct FinancialHolder<'a> {
    /// Resident ID number (the bank's customer key; never logged).
    pub ssn: &'a str,
    /// Name as on the card.
    pub name: &'a str,
    /// The social-security card number the account is bound to.
    pub card_number: &'a str,
    /// The card's ATR.
    pub atr: &'a [u8],
    /// The serving bank the person chose (its code), when chosen.
    pub bank: Option<&'a str>,
}

/// What the personalisation of the financial application did.
#[derive(Clone, PartialEq, Eq)]
pub struct FinancialDone {
    /// For the ledger (no full PAN, no keys).
    pub detail: String,
    /// The financial account the bank prepared the card for (its PAN from the DP data), to
    /// store with the card; never logged whole.
    pub account: Option<String>,
}

impl std::fmt::Debug for FinancialDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let account = self.account.as_deref().map(applicant::mask_id);
        f.debug_struct("FinancialDone").field("detail", &self.detail).field("account", &account).finish()
    }
}

/// The chip and the printer of one counter, as the job drives them.
pub trait CardPath {
    /// Where the job's card is now (asked after a crash).
    fn whereabouts(&mut self) -> CardPlace;
    /// Feeds a blank card to the contact station; returns its ATR.
    fn feed(&mut self) -> Result<Vec<u8>, DeviceError>;
    /// The ATR of the card at the contact station.
    fn atr(&mut self) -> Result<Vec<u8>, DeviceError>;
    /// Personalises the financial application of `holder`'s card (the bank prepares its data
    /// per holder); `Ok(None)` when this counter's cards carry none, `Ok(Some(done))` when
    /// done: the ledger's detail and the account.
    fn personalise_financial(
        &mut self,
        holder: &FinancialHolder<'_>,
    ) -> Result<Option<FinancialDone>, DeviceError>;
    /// Whether `face` can be printed (its layout and photo): asked before a card is fed, so
    /// that a missing or unreadable photo spoils no card.
    fn check_face(&mut self, face: &FaceText) -> Result<(), DeviceError> {
        let _ = face;
        Ok(())
    }
    /// Prints and laminates the face.
    fn print(&mut self, face: &FaceText) -> Result<(), DeviceError>;
    /// Writes the social-security application (authenticated, read back by the writer).
    fn personalise_ssc(
        &mut self,
        atr: &[u8],
        issuer: &IssuerData,
        holder: &HolderData,
    ) -> Result<(), DeviceError>;
    /// Reads EF05/EF06 by the public sequence, as any reader would.
    fn read_chip(&mut self, atr: &[u8]) -> Result<ssse::CardData, DeviceError>;
    /// Ejects the card to the holder.
    fn eject(&mut self) -> Result<(), DeviceError>;
    /// Sends the card to the reject box.
    fn reject(&mut self) -> Result<(), DeviceError>;
}

/// The card path of an engine that runs desk steps only ([`Engine::prepare`], on its own
/// thread while the counter's engine owns the devices): no card is ever fed here, and a step
/// that asks for a device is told so.
pub struct NoDevices;

impl NoDevices {
    fn none<T>(step: &str) -> Result<T, DeviceError> {
        Err(DeviceError {
            step: step.into(),
            message: "the desk has no devices: card steps run on the counter's engine".into(),
            action: DeviceAction::Stop,
        })
    }
}

impl CardPath for NoDevices {
    fn whereabouts(&mut self) -> CardPlace {
        CardPlace::NotFed
    }
    fn feed(&mut self) -> Result<Vec<u8>, DeviceError> {
        NoDevices::none("feed")
    }
    fn atr(&mut self) -> Result<Vec<u8>, DeviceError> {
        NoDevices::none("ATR")
    }
    fn personalise_financial(
        &mut self,
        _: &FinancialHolder<'_>,
    ) -> Result<Option<FinancialDone>, DeviceError> {
        NoDevices::none("personalise financial")
    }
    fn print(&mut self, _: &FaceText) -> Result<(), DeviceError> {
        NoDevices::none("print face")
    }
    fn personalise_ssc(&mut self, _: &[u8], _: &IssuerData, _: &HolderData) -> Result<(), DeviceError> {
        NoDevices::none("personalise SSC")
    }
    fn read_chip(&mut self, _: &[u8]) -> Result<ssse::CardData, DeviceError> {
        NoDevices::none("read chip")
    }
    fn eject(&mut self) -> Result<(), DeviceError> {
        NoDevices::none("eject")
    }
    fn reject(&mut self) -> Result<(), DeviceError> {
        NoDevices::none("reject")
    }
}

/// The device steps of a card, in their order (the engine's [`crate::STEPS`] has them in the
/// same order, with the commit between [`Step::VerifyChip`] and [`Step::Eject`]).
pub const DEVICE_STEPS: [Step; 6] = [
    Step::FeedCard,
    Step::PersonaliseFinancial,
    Step::PrintFace,
    Step::PersonaliseSsc,
    Step::VerifyChip,
    Step::Eject,
];

/// The card to make.
pub struct CardOrder<'a> {
    /// The holder, validated.
    pub validated: &'a Validated,
    /// The card number (claimed, or reserved for the kit).
    pub card_number: &'a str,
    /// The issuing office's parameters.
    pub params: &'a IssueParams,
    /// The cards' firmware profile.
    pub profile: &'a Profile,
    /// The serving bank the person chose (its code), when chosen.
    pub bank: Option<&'a str>,
}

/// What the device steps have learned of the card so far; journalled with each step so that a
/// resumed job or a settled make knows it. Debug masks the account.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardProgress {
    /// The chip's ATR (hex), once fed.
    pub atr: Option<String>,
    /// Card identification code, once the social-security application is written.
    pub card_id: Option<String>,
    /// The financial application's ledger detail, once personalised.
    pub financial: Option<String>,
    /// The financial account (the card's PAN from the bank's DP data), once personalised; stored
    /// with the card at the commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl std::fmt::Debug for CardProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardProgress")
            .field("atr", &self.atr)
            .field("card_id", &self.card_id)
            .field("financial", &self.financial)
            .field("account", &self.account.as_deref().map(applicant::mask_id))
            .finish()
    }
}

/// A ledger event a device step earns: its name and detail.
pub type StepEvent = (&'static str, serde_json::Value);

fn from_hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

/// The ATR of the card, as fed, or asked of the reader.
fn atr(path: &mut dyn CardPath, progress: &CardProgress) -> Result<Vec<u8>, DeviceError> {
    match &progress.atr {
        Some(hex) => Ok(from_hex(hex)),
        None => path.atr(),
    }
}

/// Runs one device step of `order`'s card; the ledger event it earns, if any.
pub fn device_step(
    path: &mut dyn CardPath,
    order: &CardOrder<'_>,
    step: Step,
    progress: &mut CardProgress,
) -> Result<Option<StepEvent>, IssueError> {
    let face = || FaceText::of(order.validated, order.card_number, order.params);
    match step {
        Step::FeedCard => {
            // The face is composed (its photo read) before a blank card is spent on it.
            path.check_face(&face())?;
            let atr = match path.whereabouts() {
                CardPlace::AtContact => path.atr()?,
                _ => path.feed()?,
            };
            let atr = hex::encode_upper(&atr);
            progress.atr = Some(atr.clone());
            Ok(Some(("card.fed", serde_json::json!({ "atr": atr }))))
        }
        Step::PersonaliseFinancial => {
            let atr = from_hex(progress.atr.as_deref().unwrap_or_default());
            let holder = FinancialHolder {
                ssn: order.validated.id.as_str(),
                name: order.validated.name.as_str(),
                card_number: order.card_number,
                atr: &atr,
                bank: order.bank,
            };
            let done = path.personalise_financial(&holder)?;
            progress.account = done.as_ref().and_then(|d| d.account.clone());
            progress.financial = done.map(|d| d.detail);
            Ok(progress
                .financial
                .as_ref()
                .map(|detail| ("card.financial_personalised", serde_json::json!({ "detail": detail }))))
        }
        Step::PrintFace => {
            path.print(&face())?;
            Ok(Some(("card.printed", serde_json::json!({}))))
        }
        Step::PersonaliseSsc => {
            let atr = atr(path, progress)?;
            let (issuer, holder) =
                card_data(order.validated, order.card_number, order.params, order.profile, &atr)?;
            path.personalise_ssc(&atr, &issuer, &holder)?;
            progress.card_id = Some(issuer.card_id.to_string());
            Ok(Some(("card.personalised", serde_json::json!({ "card_id": issuer.card_id.to_string() }))))
        }
        Step::VerifyChip => {
            let atr = atr(path, progress)?;
            let (issuer, holder) =
                card_data(order.validated, order.card_number, order.params, order.profile, &atr)?;
            let read = path.read_chip(&atr)?;
            if read.issuer != issuer || read.holder != holder {
                return Err(IssueError::Device(DeviceError {
                    step: "verify chip".into(),
                    message: "the chip does not hold what was written".into(),
                    action: DeviceAction::RejectCard,
                }));
            }
            Ok(None)
        }
        Step::Eject => {
            if !matches!(path.whereabouts(), CardPlace::Ejected) {
                path.eject()?;
            }
            Ok(Some(("card.ejected", serde_json::json!({}))))
        }
        other => Err(IssueError::Job { job_id: 0, message: format!("{other} is not a device step") }),
    }
}

/// Where the device steps of one card are journalled: the station's archive (the engine's job
/// journal, with the ledger) and the kit's sealed store both implement it. A step is
/// journalled done before the next begins, so that after a crash the card is found and
/// settled.
pub trait CardJournal {
    /// `step` begins; `progress` is what is known of the card so far. A begun step without
    /// its done line is the one a crash interrupted. The kit journals its make as a whole
    /// before the card is fed, so by default nothing is written here.
    fn step_begin(&mut self, step: Step, progress: &CardProgress) -> Result<(), IssueError> {
        let _ = (step, progress);
        Ok(())
    }
    /// `step` is done; `progress` is what is known of the card now, `event` the ledger event
    /// the step earned.
    fn step_done(
        &mut self,
        step: Step,
        progress: &CardProgress,
        event: Option<&StepEvent>,
    ) -> Result<(), IssueError>;
}

/// Runs one device step of `order`'s card between its journal lines.
pub fn journalled_step(
    path: &mut dyn CardPath,
    order: &CardOrder<'_>,
    step: Step,
    progress: &mut CardProgress,
    journal: &mut dyn CardJournal,
) -> Result<(), IssueError> {
    journal.step_begin(step, progress)?;
    let event = device_step(path, order, step, progress)?;
    journal.step_done(step, progress, event.as_ref())
}

/// Runs every device step of `order`'s card, journalling each: the card is made, read back
/// and out of the printer when this returns `Ok`. On an error the card is wherever the
/// failing step left it: [`put_aside`] it.
pub fn make_card(
    path: &mut dyn CardPath,
    order: &CardOrder<'_>,
    journal: &mut dyn CardJournal,
) -> Result<CardProgress, IssueError> {
    let mut progress = CardProgress::default();
    for step in DEVICE_STEPS {
        journalled_step(path, order, step, &mut progress, journal)?;
    }
    Ok(progress)
}

/// Where a spoiled card went.
#[derive(Debug)]
pub enum Aside {
    /// No card left the hopper: nothing was spent.
    NeverFed,
    /// Sent to the reject box now.
    Rejected,
    /// It was in the reject box already (the printer rejected it).
    InRejectBox,
    /// It cannot be moved: the operator takes it out of the printer and puts it with the
    /// rejected cards. `None`: the printer cannot say where it is (a jam); `Some`: the reject
    /// failed so.
    TakeOut(Option<DeviceError>),
    /// It left the printer: it is spoiled in the operator's hand.
    LeftPrinter,
}

/// Puts a spoiled card aside: asks the printer where it is and rejects it if it is still
/// inside. `fed`: whether, by the journal, a card left the hopper for this attempt.
pub fn put_aside(path: &mut dyn CardPath, fed: bool) -> Aside {
    match path.whereabouts() {
        CardPlace::NotFed if !fed => Aside::NeverFed,
        CardPlace::AtContact | CardPlace::AtPrint => match path.reject() {
            Ok(()) => Aside::Rejected,
            Err(e) => Aside::TakeOut(Some(e)),
        },
        CardPlace::Rejected => Aside::InRejectBox,
        CardPlace::NotFed | CardPlace::Ejected => Aside::LeftPrinter,
        CardPlace::Unknown => Aside::TakeOut(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_walks_the_device_steps_in_the_same_order() {
        let on_devices: Vec<Step> = crate::STEPS.into_iter().filter(|s| DEVICE_STEPS.contains(s)).collect();
        assert_eq!(on_devices, DEVICE_STEPS);
    }
}
