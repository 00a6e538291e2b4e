//! `station temporary-loss`, `lift-loss`, `replacement-fee` and `refusal` (issue #24 item 4):
//! the card-life commands of losses, fees and refusals, through the running station's API like
//! `report-loss` (the formal loss). The holder's ID number goes in the request's body, and is
//! never printed whole.

use std::io::Write;

use anyhow::Result;

use crate::api_cmd::ApiArgs;

/// `station temporary-loss`.
#[derive(clap::Args, Debug)]
pub struct TemporaryLossArgs {
    /// The card reported lost. The holder's resident ID number, as the caller says it or from
    /// the document shown, comes from STATION_ID_NUMBER or is asked on the terminal.
    pub card: String,
    /// Reported by phone (only for a card this station answers for).
    #[arg(long, conflicts_with = "at_counter", required_unless_present = "at_counter")]
    pub phone: bool,
    /// Reported by the holder at this counter.
    #[arg(long, requires = "id_checked")]
    pub at_counter: bool,
    /// The holder's resident ID card was checked against the person.
    #[arg(long)]
    pub id_checked: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station lift-loss`.
#[derive(clap::Args, Debug)]
pub struct LiftLossArgs {
    /// The card whose temporary loss is lifted. The holder's resident ID number, from the
    /// document shown now, comes from STATION_ID_NUMBER or is asked on the terminal.
    pub card: String,
    /// The holder is at the counter and their resident ID card was checked.
    #[arg(long)]
    pub id_checked: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station replacement-fee`.
#[derive(clap::Args, Debug)]
pub struct FeeArgs {
    /// The card replaced. The fee is waived for the holder's medical-insurance category on their
    /// application form when the schedule names it fee-free (RULE 7).
    pub card: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// What a person refuses.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Refused {
    /// The financial function's activation.
    Activation,
    /// A card change (a new card, another bank).
    CardChange,
}

/// `station refusal`.
#[derive(clap::Args, Debug)]
pub struct RefusalArgs {
    /// The card.
    pub card: String,
    /// What the person refuses.
    #[arg(long, value_enum)]
    pub what: Refused,
    /// The refusal is the person's own choice, in their words (RULE 8): required.
    #[arg(long)]
    pub by_person: bool,
    /// The day (YYYY-MM-DD), today when absent.
    #[arg(long)]
    pub date: Option<String>,
    /// The person's words.
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Unix seconds as a China-time day and minute.
fn china_time(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let date = applicant::days::date(days as i32).map(|d| d.to_string()).unwrap_or_else(|| unix.to_string());
    format!("{date} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// Fen as yuan, `20.00`: integers only.
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

/// Reports a card lost for the schedule's period.
pub fn temporary_loss(a: &TemporaryLossArgs, out: &mut dyn Write) -> Result<()> {
    let id_number = station::id_input::HOLDER.read()?;
    let client = a.api.login()?;
    let channel = if a.phone { "phone" } else { "counter" };
    let v = client.post(
        &format!("/api/cards/{}/temporary-loss", a.card),
        &serde_json::json!({"id_number": id_number, "channel": channel, "id_checked": a.id_checked}),
    )?;
    writeln!(
        out,
        "card {}: reported lost ({channel}) until {} China time; it lapses by itself then, unless lifted \
         (station lift-loss) or made formal (station report-loss)",
        a.card,
        china_time(v["until"].as_i64().unwrap_or_default())
    )?;
    Ok(())
}

/// Lifts a temporary loss for the holder at the counter.
pub fn lift_loss(a: &LiftLossArgs, out: &mut dyn Write) -> Result<()> {
    let id_number = station::id_input::HOLDER.read()?;
    let client = a.api.login()?;
    client.post(
        &format!("/api/cards/{}/lift-loss", a.card),
        &serde_json::json!({"id_number": id_number, "id_checked": a.id_checked}),
    )?;
    writeln!(out, "card {}: loss lifted; the card is usable again", a.card)?;
    Ok(())
}

/// Records a replacement's fee by the schedule.
pub fn replacement_fee(a: &FeeArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let v = client.post(&format!("/api/cards/{}/replacement-fee", a.card), &serde_json::json!({}))?;
    let what = match v["fee"]["waiver"].as_str() {
        Some("first-replacement") => "no fee: the first replacement is free (RULE 7)".to_string(),
        Some("fee-free-category") => format!("no fee: {} pays no card fees (RULE 7)", v["fee"]["category"]),
        _ => format!("fee {} yuan", yuan(v["fen"].as_i64().unwrap_or_default())),
    };
    writeln!(out, "card {}: receipt {}, {what}", a.card, v["receipt"].as_str().unwrap_or("?"))?;
    Ok(())
}

/// Records a person's refusal as theirs.
pub fn refusal(a: &RefusalArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let what = match a.what {
        Refused::Activation => "activation",
        Refused::CardChange => "card-change",
    };
    let chosen_by = if a.by_person { "person" } else { "operator" };
    let v = client.post(
        &format!("/api/cards/{}/refusal", a.card),
        &serde_json::json!({"what": what, "chosen_by": chosen_by, "date": a.date, "note": a.note}),
    )?;
    writeln!(
        out,
        "card {}: the holder's refusal of the {what} recorded ({}); the action lists no longer chase it for it",
        a.card,
        v["date"].as_str().unwrap_or("?")
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_in_china_and_fen_as_yuan() {
        assert_eq!(super::china_time(1_765_000_000), "2025-12-06 13:46");
        assert_eq!(super::yuan(2000), "20.00");
        assert_eq!(super::yuan(5), "0.05");
    }
}
