//! The commands that work through a running `station serve` (its API): batch issuance, the
//! ledger, stock and dormant cards, hand-over, activation and recall. Each logs in with the
//! operator's account, so the daemon checks the role and audits the call as it does for the
//! counter's web page.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use issuance::batch::{write_return_file, BatchOutcome, ReturnRow};
use issuance::JobCard;

use station::client::{ApiClient, Collection};

/// Where the station is and who asks.
#[derive(clap::Args, Debug)]
pub struct ApiArgs {
    /// The station's API.
    #[arg(long, env = "STATION_API", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// Operator account.
    #[arg(long, env = "STATION_OPERATOR", default_value = "operator")]
    pub operator: String,
    /// Its password (better in the environment than on the command line).
    #[arg(long, env = "STATION_PASSWORD", hide_env_values = true)]
    pub password: String,
}

impl ApiArgs {
    pub(crate) fn login(&self) -> Result<ApiClient> {
        ApiClient::login(&self.api, &self.operator, &self.password)
    }
}

/// Where `station issue`'s card goes: the holder takes it at the counter (the default), or
/// collects it later from stock.
#[derive(clap::Args, Debug)]
pub struct CollectionArgs {
    /// The holder is not at the counter: the card goes to stock (the storage place and keeper of
    /// `[counter.stock]`, or the ones given).
    #[arg(long)]
    pub later: bool,
    /// The storage place (保管地点) of a card for later, over the station's.
    #[arg(long, requires = "later")]
    pub storage_place: Option<String>,
    /// The person responsible for it there, over the station's.
    #[arg(long, requires = "later")]
    pub keeper: Option<String>,
    /// The application is taken for an agent site (its id in `[[sites]]`): the card goes to
    /// stock and then to the site, within 15 working days (`station sites overdue`).
    #[arg(long)]
    pub site: Option<String>,
}

impl CollectionArgs {
    /// As the API client sends it.
    pub fn collection(&self) -> Collection {
        Collection {
            later: self.later || self.site.is_some(),
            place: self.storage_place.clone(),
            keeper: self.keeper.clone(),
            site: self.site.clone(),
        }
    }
}

/// What `station issue` says after a card is made: the hand-over it waits for, or its stock.
pub fn after_issue(end: &serde_json::Value) {
    let card = end["detail"].as_str().unwrap_or_default();
    match end["status"].as_str() {
        Some("correcting") => eprintln!(
            "job {} waits for the correction: check the document with the applicant, then \
             station correct-identity {} --name NAME (or --id-number, --valid-until DATE; --end REASON \
             if it cannot be corrected here)",
            end["job"], end["job"]
        ),
        Some("awaiting-handover") => eprintln!(
            "card {card} is made and waits at the hand-over: the holder shows their ID and signs \
             (station handover {card} --holder --signature SIG.png), or it goes to stock \
             (station handover {card} --to-stock REASON)"
        ),
        Some("stocked") => eprintln!("card {card} is made and in stock until its holder collects it"),
        _ => {}
    }
}

/// `station batch`.
#[derive(clap::Args, Debug)]
pub struct BatchArgs {
    /// Applicants: a JSON array, or one JSON object per line.
    pub file: PathBuf,
    /// The return file (CSV, card-spec.md section 5); default: FILE with `.return.csv`.
    #[arg(long = "return")]
    pub return_file: Option<PathBuf>,
    /// The holders are at the counter: each job waits at its hand-over for their signature.
    /// By default a batch's cards go to stock for their holders to collect.
    #[arg(long, conflicts_with_all = ["storage_place", "keeper"])]
    pub at_counter: bool,
    /// The storage place (保管地点) of the batch's cards, over the station's.
    #[arg(long)]
    pub storage_place: Option<String>,
    /// The person responsible for them there, over the station's.
    #[arg(long)]
    pub keeper: Option<String>,
    /// The applications are taken for an agent site (its id in `[[sites]]`): the cards go to
    /// stock and then to the site, within 15 working days (`station sites overdue`).
    #[arg(long, conflicts_with = "at_counter")]
    pub site: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station ledger`.
#[derive(clap::Args, Debug)]
pub struct LedgerArgs {
    /// Only check the hash chain.
    #[arg(long)]
    pub verify: bool,
    /// Only the entries of this card (with its status and custody).
    #[arg(long)]
    pub card: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station stock`.
#[derive(clap::Args, Debug)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct StockArgs {
    /// Take in cards made elsewhere, or move stock cards.
    #[command(subcommand)]
    pub action: Option<StockAction>,
    /// Cards in this status (made = in stock, issued, active, stopped, recalled, cancelled).
    #[arg(long, default_value = "made")]
    pub status: String,
    /// Instead: cards in stock or not yet activated for at least this many days (dormant).
    #[arg(long)]
    pub dormant: Option<i64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station handover`.
#[derive(clap::Args, Debug)]
pub struct HandoverArgs {
    /// The card.
    pub card: String,
    /// The holder receives it: the number on the ID document you checked comes from
    /// STATION_ID_NUMBER or is asked on the terminal (never on the command line).
    #[arg(long, conflicts_with_all = ["custodian", "failed", "to_stock"])]
    pub holder: bool,
    /// A custodian receives it for the holder (only with a current custody approval): their
    /// name; the number on their ID document from STATION_CUSTODIAN_ID or asked.
    #[arg(long, conflicts_with_all = ["failed", "to_stock"])]
    pub custodian: Option<String>,
    /// Who signed; default: the receiver's name.
    #[arg(long)]
    pub signer: Option<String>,
    /// Their signature (PNG from the signature pad).
    #[arg(long, required_unless_present_any = ["failed", "to_stock"])]
    pub signature: Option<PathBuf>,
    /// Nobody could take the stock card: why.
    #[arg(long, conflicts_with_all = ["signer", "signature", "to_stock"])]
    pub failed: Option<String>,
    /// The card waits at the counter but its holder cannot take it now: it goes to stock, why.
    #[arg(long, conflicts_with_all = ["signer", "signature"])]
    pub to_stock: Option<String>,
    /// With --to-stock: the storage place, over the station's.
    #[arg(long, requires = "to_stock")]
    pub storage_place: Option<String>,
    /// With --to-stock: the person responsible there, over the station's.
    #[arg(long, requires = "to_stock")]
    pub keeper: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station activate`.
#[derive(clap::Args, Debug)]
pub struct ActivateArgs {
    /// The card (made here or elsewhere: the local archive must know it).
    pub card: String,
    /// The ID document's last day of validity as checked now (`YYYY-MM-DD` or `长期`); default:
    /// the one on the card's application. The photo is taken by the counter's camera, now.
    #[arg(long)]
    pub id_valid_until: Option<String>,
    /// The holder is here in person (not a proxy).
    #[arg(long)]
    pub holder_present: bool,
    /// The holder's ID document was checked now.
    #[arg(long)]
    pub id_checked: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station custody`.
#[derive(clap::Args, Debug)]
pub struct CustodyArgs {
    /// The card.
    pub card: String,
    /// The holder's group: minimum-living-allowance, extremely-poor, disabled or minor (RULE 4).
    #[arg(long)]
    pub group: String,
    /// The custodian's name as on their ID document; the number on it comes from
    /// STATION_CUSTODIAN_ID or is asked on the terminal (kept masked).
    #[arg(long)]
    pub custodian: String,
    /// Why another person holds the card.
    #[arg(long)]
    pub reason: String,
    /// Until when (YYYYMMDD).
    #[arg(long)]
    pub until: String,
    /// The operator who will hand the card over (not you, the approving supervisor).
    #[arg(long)]
    pub handed_over_by: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// A supervisor records a custody approval (RULE 4): at the province first, where an outreach
/// kit that carries the card picks it up with its checkout, then in the station's ledger.
pub fn custody(a: &CustodyArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let body = serde_json::json!({"handed_over_by": a.handed_over_by, "holder_group": a.group,
        "custodian": a.custodian, "custodian_id": station::id_input::CUSTODIAN.read()?,
        "reason": a.reason, "valid_until": a.until});
    let v = client.post(&format!("/api/cards/{}/custody", a.card), &body)?;
    writeln!(
        out,
        "card {}: custody by {} approved until {} (province approval {})",
        a.card,
        a.custodian,
        v["valid_until"].as_str().unwrap_or_default(),
        v["province_approval"]
    )?;
    Ok(())
}

/// `station recall`, `station account-card`: one card.
#[derive(clap::Args, Debug)]
pub struct CardArgs {
    /// The card.
    pub card: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Reads a batch file: a JSON array of applicants, or JSON lines.
pub fn read_batch(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON array of applicants", path.display()));
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not a JSON applicant", path.display(), i + 1))
        })
        .collect()
}

/// Issues every applicant of the file through the station and writes the return file; a
/// failure is recorded in its row and the batch goes on. The station's worker owns the one
/// card path; its desk checks the next applicant while the card before is on the devices.
pub fn batch(a: &BatchArgs, out: &mut station::client::Progress<'_>) -> Result<Vec<ReturnRow>> {
    let applicants = read_batch(&a.file)?;
    let client = a.api.login()?;
    writeln!(out, "{} applicants", applicants.len())?;
    let jobs: Vec<(serde_json::Value, Option<String>)> =
        applicants.iter().map(|x| (x.clone(), None)).collect();
    let collection = Collection {
        later: !a.at_counter,
        place: a.storage_place.clone(),
        keeper: a.keeper.clone(),
        site: a.site.clone(),
    };
    // Nobody waits at the counter to correct a batch's applicant: a mismatch ends the
    // application with the register's hints, and the batch goes on.
    let ends = client.issue_all(&jobs, &collection, false, out)?;
    // The return file's account column is the card centre's, whole: only a supervisor reads it
    // (GET /api/jobs/{id}/account); an operator's return file leaves it empty and says so.
    let supervisor = client.get("/api/me")?["role"] == "supervisor";
    let mut rows = Vec::with_capacity(applicants.len());
    let mut made = 0;
    for (i, (applicant, end)) in applicants.iter().zip(&ends).enumerate() {
        let detail = end["detail"].as_str().unwrap_or("").to_string();
        let outcome = match end["status"].as_str() {
            Some("issued" | "stocked" | "awaiting-handover") => {
                made += 1;
                let job = end["job"].as_i64().context("the station named no job")?;
                let v = client.get(&format!("/api/jobs/{job}"))?;
                let account = match supervisor {
                    true => client.get(&format!("/api/jobs/{job}/account"))?["account"]
                        .as_str()
                        .map(str::to_string),
                    false => None,
                };
                BatchOutcome::Made(JobCard {
                    card_number: v["card_number"].as_str().map(str::to_string),
                    card_id: v["card_id"].as_str().map(str::to_string),
                    atr: v["atr"].as_str().map(str::to_string),
                    issue_date: v["issue_date"].as_str().map(str::to_string),
                    expiry_date: v["expiry_date"].as_str().map(str::to_string),
                    account,
                })
            }
            Some("refused") => BatchOutcome::Refused(detail),
            // Ended at its identity verification: refused before anything was made.
            Some("rolled-back") if ended_at_verification(&client, end)? => BatchOutcome::Refused(detail),
            _ => BatchOutcome::Failed(detail),
        };
        rows.push(ReturnRow::new(i + 1, applicant, &outcome, made));
    }
    let path = a.return_file.clone().unwrap_or_else(|| a.file.with_extension("return.csv"));
    let mut file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    write_return_file(&mut file, &rows)?;
    writeln!(out, "{made} of {} cards made; return file {}", rows.len(), path.display())?;
    if !supervisor && made > 0 {
        writeln!(out, "the bank_account column is left empty: a supervisor's batch fills it")?;
    }
    Ok(rows)
}

/// Whether a job that ended stopped at its identity verification (its journal's last step).
fn ended_at_verification(client: &ApiClient, end: &serde_json::Value) -> Result<bool> {
    let Some(job) = end["job"].as_i64() else { return Ok(false) };
    let v = client.get(&format!("/api/jobs/{job}"))?;
    let last = v["journal"].as_array().and_then(|j| j.last()).map(|l| l["step"].clone());
    Ok(last.is_some_and(|s| s == "verify-identity"))
}

/// Prints the ledger, one card's story, or whether the chain holds.
pub fn ledger(a: &LedgerArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    if a.verify {
        let v = client.get("/api/ledger/verify")?;
        if a.json {
            writeln!(out, "{v}")?;
        } else if v["intact"] == true {
            let entries = v["entries"].as_i64().unwrap_or(0);
            let macs = match (v["keyed_from"].as_i64(), v["key"].as_str()) {
                (Some(1), Some(key)) => format!("and every entry's MAC ({key})"),
                (Some(first), Some(key)) => format!(
                    "and the MAC of entries {first} to {entries} ({key}; the {} before had no key yet)",
                    first - 1
                ),
                (_, None) => "(MACs not checked: the station has no ledger key)".into(),
                (None, Some(_)) if entries == 0 => "(nothing to check)".into(),
                (None, Some(key)) => format!("(no entry has a MAC yet: written before the key {key})"),
            };
            writeln!(out, "ledger intact: {entries} entries, hash chain verified {macs}")?;
        } else {
            anyhow::bail!("the ledger was altered: {} (keep the database for the auditors)", v["error"]);
        }
        return Ok(());
    }
    let v = match &a.card {
        Some(card) => client.get(&format!("/api/cards/{card}"))?,
        None => client.get("/api/ledger")?,
    };
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    if a.card.is_some() {
        writeln!(out, "card {} of {} ({}): {}", v["card_number"], v["name"], v["holder"], v["status"])?;
    }
    let entries =
        v.get("history").or_else(|| v.get("entries")).and_then(|e| e.as_array()).cloned().unwrap_or_default();
    for e in entries {
        writeln!(
            out,
            "{:>6} {:>10} {:<10} {:<24} {} {}",
            e["seq"],
            e["at"],
            e["operator"].as_str().unwrap_or(""),
            e["event"].as_str().unwrap_or(""),
            e["card_number"].as_str().unwrap_or(""),
            e["detail"]
        )?;
    }
    Ok(())
}

/// Lists stock (or any status) and dormant cards.
pub fn stock(a: &StockArgs, out: &mut dyn Write) -> Result<()> {
    match &a.action {
        Some(StockAction::Receive(r)) => return stock_receive(r, out),
        Some(StockAction::Move(m)) => return stock_move(m, out),
        None => {}
    }
    let client = a.api.login()?;
    let v = match a.dormant {
        Some(days) => client.get(&format!("/api/cards/dormant?days={days}"))?,
        None => client.get(&format!("/api/cards?status={}", a.status))?,
    };
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let cards = v["cards"].as_array().cloned().unwrap_or_default();
    for c in &cards {
        let failures = c["failed_handovers"].as_array().map(|f| f.len()).unwrap_or(0);
        let place = match c["storage"]["place"].as_str() {
            Some(place) => format!(" at {place} ({})", c["storage"]["keeper"].as_str().unwrap_or_default()),
            None => String::new(),
        };
        writeln!(
            out,
            "{:<12} {:<10} {:<20} {}{}{}",
            c["card_number"].as_str().unwrap_or(""),
            c["status"].as_str().unwrap_or(""),
            c["holder"].as_str().unwrap_or(""),
            c["name"].as_str().unwrap_or(""),
            place,
            if failures > 0 { format!(" ({failures} failed hand-overs)") } else { String::new() }
        )?;
    }
    writeln!(out, "{} cards", cards.len())?;
    Ok(())
}

fn base64_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Records a hand-over (to the holder or an approved custodian, with the receiver's
/// signature), a failed attempt, or a card waiting at the counter put in stock.
pub fn handover(a: &HandoverArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    if let Some(reason) = &a.to_stock {
        let body = serde_json::json!({"reason": reason, "place": a.storage_place, "keeper": a.keeper});
        let v = client.post(&format!("/api/cards/{}/stock", a.card), &body)?;
        writeln!(
            out,
            "card {}: in stock at {} ({} responsible)",
            a.card,
            v["place"].as_str().unwrap_or_default(),
            v["keeper"].as_str().unwrap_or_default()
        )?;
        return Ok(());
    }
    let body = match (&a.failed, &a.signature) {
        (Some(reason), _) => serde_json::json!({"delivered": false, "reason": reason}),
        (None, Some(sig)) => {
            let receiver = match (a.holder, &a.custodian) {
                (true, _) => {
                    serde_json::json!({"kind": "holder", "id_number": station::id_input::HOLDER.read()?})
                }
                (false, Some(name)) => serde_json::json!({"kind": "custodian", "name": name,
                    "id_number": station::id_input::CUSTODIAN.read()?}),
                (false, None) => anyhow::bail!(
                    "say who receives the card: --holder (the holder's ID document, checked) or \
                     --custodian NAME (a custodian with a recorded approval)"
                ),
            };
            serde_json::json!({"delivered": true, "signer": a.signer, "signature_png": base64_file(sig)?,
                "receiver": receiver})
        }
        (None, None) => {
            anyhow::bail!("give --signature with the receiver, --failed REASON or --to-stock REASON")
        }
    };
    let v = client.post(&format!("/api/cards/{}/handover", a.card), &body)?;
    let what = match (&a.failed, v["receiver"]["kind"].as_str()) {
        (Some(_), _) => "failed".to_string(),
        (None, Some("custodian")) => format!("handed over to the custodian {}", v["receiver"]["name"]),
        (None, _) => format!("handed over to the holder {}", v["receiver"]["id_number"]),
    };
    writeln!(out, "card {}: attempt {} recorded ({what})", a.card, v["attempt"])?;
    Ok(())
}

/// Activates the financial function, face to face.
pub fn activate(a: &ActivateArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let body = serde_json::json!({"holder_present": a.holder_present, "id_checked": a.id_checked,
        "id_valid_until": a.id_valid_until});
    let v = client.post(&format!("/api/cards/{}/activate", a.card), &body)?;
    writeln!(
        out,
        "card {}: financial function active at {} (reference {}, account {})",
        a.card,
        v["bank"].as_str().unwrap_or("?"),
        v["reference"].as_str().unwrap_or("?"),
        v["account"].as_str().unwrap_or("?")
    )?;
    Ok(())
}

/// Recalls a stock card after its failed hand-overs.
pub fn recall(a: &CardArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    client.post(&format!("/api/cards/{}/recall", a.card), &serde_json::json!({}))?;
    writeln!(out, "card {}: recalled", a.card)?;
    Ok(())
}

/// A spoiled card whose place was unknown is in the reject box now (supervisor).
pub fn account_card(a: &CardArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    client.post(&format!("/api/cards/{}/account", a.card), &serde_json::json!({}))?;
    writeln!(out, "card {}: in the reject box; the province may give its number out again", a.card)?;
    Ok(())
}

/// `station restore-card`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The held re-issue's job (its number, as `station issue` and the page show it).
    pub job: i64,
    /// Why the re-issue is given up (what failed, what the holder chose).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station resume-reissue`.
#[derive(clap::Args, Debug)]
pub struct JobArgs {
    /// The held re-issue's job.
    pub job: i64,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station application-form`.
#[derive(clap::Args, Debug)]
pub struct ApplicationFormArgs {
    /// The job whose application form is printed.
    pub job: i64,
    /// The HTML file to write (private, 0600: it holds the whole ID number); open it in a
    /// browser and print it for the applicant to sign.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Writes a job's application form (福建省社会保障卡申领表) as HTML to print, whole or not at
/// all, readable by this user only.
pub fn application_form(a: &ApplicationFormArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let html = client.get_text(&format!("/api/jobs/{}/form", a.job))?;
    daemon::files::replace_file(&a.out, html.as_bytes(), 0o600)
        .with_context(|| format!("writing {}: choose a directory you may write to", a.out.display()))?;
    writeln!(
        out,
        "job {}: application form written to {} (open it in a browser and print it for the applicant to sign)",
        a.job,
        a.out.display()
    )?;
    Ok(())
}

/// A supervisor gives a held re-issue up: the old card is live again at the province and here,
/// the claim released.
pub fn restore_card(a: &RestoreArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let v = client.post(&format!("/api/jobs/{}/restore", a.job), &serde_json::json!({"reason": a.reason}))?;
    writeln!(
        out,
        "job {}: re-issue given up; card {} is live again at the province and here ({})",
        a.job,
        v["card_number"].as_str().unwrap_or_default(),
        v["card_status"].as_str().unwrap_or_default()
    )?;
    Ok(())
}

/// A supervisor resumes a held re-issue's new card: the job goes on with the same claim and
/// card number; followed to its end.
pub fn resume_reissue(a: &JobArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let v = client.post(&format!("/api/jobs/{}/resume-reissue", a.job), &serde_json::json!({}))?;
    let card = v["card_number"].as_str().unwrap_or_default().to_string();
    writeln!(out, "job {}: resumed, making card {card}", a.job)?;
    follow_job(&client, a.job, out)
}

/// Follows a job the station runs again (a held re-issue resumed, an applicant corrected) to
/// where it stops: its card made (at the hand-over or in stock), or why not, with what to do.
fn follow_job(client: &ApiClient, job_id: i64, out: &mut dyn Write) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let job = client.get(&format!("/api/jobs/{job_id}"))?;
        let card = job["card_number"].as_str().unwrap_or_default().to_string();
        match job["status"].as_str().unwrap_or_default() {
            "running" if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            "running" => anyhow::bail!("job {job_id} still runs: follow it with GET /api/jobs/{job_id}"),
            "held" => {
                anyhow::bail!("job {job_id}: {}", job["held"]["summary"].as_str().unwrap_or("held again"))
            }
            "correcting" => anyhow::bail!("job {job_id}: {}", mismatch_text(&job["mismatch"])),
            "awaiting-handover" => {
                writeln!(out, "card {card} is made and waits at the hand-over")?;
                return Ok(());
            }
            "done" => {
                let status = client.get(&format!("/api/cards/{card}"))?;
                writeln!(out, "card {card} is made ({})", status["status"].as_str().unwrap_or("made"))?;
                return Ok(());
            }
            other => anyhow::bail!(
                "job {job_id} ended {other}: the card was not made{}",
                job["ended"].as_str().map(|why| format!(" ({why})")).unwrap_or_default()
            ),
        }
    }
}

/// A job waiting after an identity mismatch, as its view says it: each field with the
/// register's hint, the corrections left and the command.
pub fn mismatch_text(mismatch: &serde_json::Value) -> String {
    let fields: Vec<String> = mismatch["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    format!("{}: {}", f["field"].as_str().unwrap_or("?"), f["hint"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "the police register does not confirm the applicant ({}); {}",
        fields.join("; "),
        mismatch["way_on"].as_str().unwrap_or("correct the applicant (station correct-identity)")
    )
}

/// `station correct-identity`.
#[derive(clap::Args, Debug)]
pub struct CorrectArgs {
    /// The job waiting after an identity mismatch (its number, as `station issue` and the page
    /// show it).
    pub job: i64,
    /// The name exactly as on the document.
    #[arg(long)]
    pub name: Option<String>,
    /// The ID number is corrected: read from STATION_ID_NUMBER or asked on the terminal, never
    /// given here (ps and the shell history would show it). The birth date and sex it carries
    /// go with it.
    #[arg(long)]
    pub id_number: bool,
    /// The document's first valid day (YYYY-MM-DD).
    #[arg(long)]
    pub valid_from: Option<String>,
    /// The document's last valid day (YYYY-MM-DD, or 长期).
    #[arg(long)]
    pub valid_until: Option<String>,
    /// The birth date (YYYY-MM-DD), as the ID number carries it.
    #[arg(long)]
    pub birth_date: Option<String>,
    /// The sex code (1 male, 2 female), as the ID number carries it.
    #[arg(long)]
    pub sex: Option<String>,
    /// End the application instead, saying why (the applicant cannot correct it here).
    #[arg(long, value_name = "REASON", conflicts_with_all = ["name", "id_number", "valid_from", "valid_until", "birth_date", "sex"])]
    pub end: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The corrected holder fields of `a` over the job's own (`mismatch["holder"]`, for the other
/// half of the document's validity).
fn corrected_holder(a: &CorrectArgs, mismatch: &serde_json::Value) -> Result<serde_json::Value> {
    let mut holder = serde_json::Map::new();
    if let Some(name) = &a.name {
        holder.insert("name".into(), name.trim().into());
    }
    if a.id_number {
        let number = station::id_input::IdInput {
            what: "the corrected resident ID number, as on the document",
            var: station::id_input::HOLDER.var,
        }
        .read()?;
        // The birth date and sex a resident ID number carries go with it (unless given).
        if let Ok((id, _)) = applicant::ResidentId::parse(&number, applicant::days::today()) {
            holder.insert("birth_date".into(), id.birth_date().to_string().into());
            holder.insert("sex".into(), id.sex().code().to_string().into());
        }
        holder.insert("id_number".into(), number.into());
    }
    if a.valid_from.is_some() || a.valid_until.is_some() {
        let now = &mismatch["holder"]["id_validity"];
        let from = a.valid_from.clone().map(serde_json::Value::from).unwrap_or_else(|| now["from"].clone());
        let to = a.valid_until.clone().map(serde_json::Value::from).unwrap_or_else(|| now["to"].clone());
        holder.insert("id_validity".into(), serde_json::json!({"from": from, "to": to}));
    }
    if let Some(date) = &a.birth_date {
        holder.insert("birth_date".into(), date.clone().into());
    }
    if let Some(sex) = &a.sex {
        holder.insert("sex".into(), sex.clone().into());
    }
    anyhow::ensure!(
        !holder.is_empty(),
        "say what is corrected (--name, --id-number, --valid-from/--valid-until, --birth-date, --sex) \
         or end the application (--end REASON)"
    );
    Ok(serde_json::Value::Object(holder))
}

/// The operator corrects the applicant of a job waiting after an identity mismatch (or ends
/// the application); the station verifies again and goes on: followed to where it stops.
pub fn correct_identity(a: &CorrectArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let path = format!("/api/jobs/{}/correct", a.job);
    if let Some(reason) = &a.end {
        client.post(&path, &serde_json::json!({"end": reason}))?;
        writeln!(out, "job {}: ending the application ({reason})", a.job)?;
        return follow_job(&client, a.job, out);
    }
    let job = client.get(&format!("/api/jobs/{}", a.job))?;
    let holder = corrected_holder(a, &job["mismatch"])?;
    let v = client.post(&path, &serde_json::json!({"holder": holder}))?;
    writeln!(
        out,
        "job {}: correction {} of {} recorded; verifying again",
        a.job, v["corrections"], v["max_corrections"]
    )?;
    follow_job(&client, a.job, out)
}

/// `station unlock`.
#[derive(clap::Args, Debug)]
pub struct UnlockArgs {
    /// The operator locked out by failed log-ins.
    pub name: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// A supervisor unlocks an operator locked out by failed log-ins.
pub fn unlock(a: &UnlockArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let v = client.post(&format!("/api/operators/{}/unlock", a.name), &serde_json::json!({}))?;
    let what = if v["was_locked"] == true { "unlocked" } else { "was not locked" };
    writeln!(out, "operator {}: {what}", a.name)?;
    Ok(())
}

/// `station report-loss`.
#[derive(clap::Args, Debug)]
pub struct LossArgs {
    /// The card the holder reports lost.
    pub card: String,
    /// The holder stands at this counter and their resident ID card was checked: needed for a
    /// card another station made (that station is not asked).
    #[arg(long)]
    pub holder_at_counter: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station deceased`.
#[derive(clap::Args, Debug)]
pub struct DeceasedArgs {
    /// The document seen: death certificate number or civil-affairs notice.
    #[arg(long, required_unless_present = "correct")]
    pub evidence: Option<String>,
    /// Take back a death recorded in error (a supervisor other than the one who recorded it),
    /// saying why.
    #[arg(long, value_name = "REASON", conflicts_with = "evidence")]
    pub correct: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Stops a lost card at the province and here.
pub fn report_loss(a: &LossArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    client.post(
        &format!("/api/cards/{}/loss", a.card),
        &serde_json::json!({"holder_at_counter": a.holder_at_counter}),
    )?;
    writeln!(out, "card {}: stopped (loss); a new card can be issued now", a.card)?;
    Ok(())
}

/// Records a death: the person's live cards are cancelled everywhere, no new card is made.
pub fn deceased(a: &DeceasedArgs, out: &mut dyn Write) -> Result<()> {
    let id_number = station::id_input::IdInput {
        what: "the deceased's resident ID number",
        var: station::id_input::HOLDER.var,
    }
    .read()?;
    let client = a.api.login()?;
    if let Some(reason) = &a.correct {
        let v = client.post(
            "/api/persons/deceased/correct",
            &serde_json::json!({"id_number": id_number, "reason": reason}),
        )?;
        writeln!(
            out,
            "{}: the death record is taken back; the person may apply again",
            v["holder"].as_str().unwrap_or("")
        )?;
        return Ok(());
    }
    let v = client.post(
        "/api/persons/deceased",
        &serde_json::json!({"id_number": id_number, "evidence": a.evidence}),
    )?;
    let cancelled: Vec<&str> =
        v["cancelled"].as_array().map(|c| c.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
    writeln!(
        out,
        "{}: recorded deceased; cards cancelled: {}",
        v["holder"].as_str().unwrap_or(""),
        if cancelled.is_empty() { "none".to_string() } else { cancelled.join(", ") }
    )?;
    Ok(())
}

/// `station conflicts`.
#[derive(clap::Args, Debug)]
pub struct ConflictsArgs {
    /// Settle this conflict (its record id).
    #[arg(long, requires = "note")]
    pub resolve: Option<String>,
    /// What was done about it (the card taken back, the family told, ...).
    #[arg(long, requires = "resolve")]
    pub note: Option<String>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Lists the kits' open conflicts, or settles one.
pub fn conflicts(a: &ConflictsArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    if let (Some(record), Some(note)) = (&a.resolve, &a.note) {
        client.post(&format!("/api/kit/conflicts/{record}/resolve"), &serde_json::json!({"note": note}))?;
        writeln!(out, "conflict {record}: settled")?;
        return Ok(());
    }
    let v = client.get("/api/kit/conflicts")?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let rows = v["conflicts"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        writeln!(out, "no open conflicts")?;
    }
    for c in rows {
        writeln!(
            out,
            "{}  kit {} lease {}  {}  card {}\n    {}",
            c["record_id"].as_str().unwrap_or(""),
            c["kit"].as_str().unwrap_or(""),
            c["lease_id"],
            c["holder"].as_str().unwrap_or(""),
            c["card_number"].as_str().unwrap_or("-"),
            c["reason"].as_str().unwrap_or("")
        )?;
    }
    Ok(())
}

/// `station stock receive` and `station stock move`.
#[derive(clap::Subcommand, Debug)]
pub enum StockAction {
    /// Take in the cards of the card-making centre's delivery list (CSV in UTF-8 or GBK, or
    /// XLSX: 社会保障卡号, 身份证号, 姓名, 卡识别码, 批次号, 箱号, 位置), each checked with the
    /// province and put in stock (supervisor). Rows that cannot be taken in are listed with the
    /// reason and what to do; reading the same list again is harmless.
    Receive(ReceiveArgs),
    /// Hand stock cards from their keeper to another storage place or an agent site, both
    /// sides named (supervisor).
    Move(MoveArgs),
}

/// `station stock receive`.
#[derive(clap::Args, Debug)]
pub struct ReceiveArgs {
    /// The delivery list.
    pub manifest: PathBuf,
    /// The storage place, over the station's `[counter.stock]`.
    #[arg(long)]
    pub place: Option<String>,
    /// The person responsible there, over the station's.
    #[arg(long)]
    pub keeper: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `station stock move`.
#[derive(clap::Args, Debug)]
pub struct MoveArgs {
    /// The cards.
    #[arg(required = true)]
    pub cards: Vec<String>,
    /// The storage place they go to.
    #[arg(long = "to", required_unless_present = "to_site")]
    pub to: Option<String>,
    /// The agent site they go to (its id in `[[sites]]`); the place defaults to the site's name.
    #[arg(long)]
    pub to_site: Option<String>,
    /// Who gives the cards (their keeper now).
    #[arg(long)]
    pub giver: String,
    /// Who receives them (their keeper then).
    #[arg(long)]
    pub receiver: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Sends a delivery list to the station and lists what was taken in and what not. Exit 1
/// when a row was not taken in.
fn stock_receive(a: &ReceiveArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let name = a.manifest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let body = serde_json::json!({"file_name": name, "content": base64_file(&a.manifest)?,
        "place": a.place, "keeper": a.keeper});
    let v = client.post("/api/stock/receive", &body)?;
    let refused = v["refused"].as_array().cloned().unwrap_or_default();
    let received = v["received"].as_array().cloned().unwrap_or_default();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for c in &received {
            writeln!(
                out,
                "IN      row {:<4} {:<12} {:<20} {} at {} ({})",
                c["row"].as_u64().unwrap_or(0),
                c["card_number"].as_str().unwrap_or(""),
                c["holder"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or(""),
                c["place"].as_str().unwrap_or(""),
                c["keeper"].as_str().unwrap_or("")
            )?;
        }
        for p in &refused {
            writeln!(
                out,
                "REFUSED row {:<4} {:<12} {}: {}",
                p["row"].as_u64().unwrap_or(0),
                p["card_number"].as_str().unwrap_or(""),
                p["reason"].as_str().unwrap_or(""),
                p["action"].as_str().unwrap_or("")
            )?;
        }
        writeln!(out, "{} cards taken in, {} rows refused", received.len(), refused.len())?;
    }
    anyhow::ensure!(refused.is_empty(), "{} rows of the list were not taken in: see above", refused.len());
    Ok(())
}

/// Moves stock cards; exit 1 when one did not move.
fn stock_move(a: &MoveArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let body = serde_json::json!({"cards": a.cards, "to_place": a.to, "to_site": a.to_site,
        "giver": a.giver, "receiver": a.receiver});
    let v = client.post("/api/stock/move", &body)?;
    let refused = v["refused"].as_array().cloned().unwrap_or_default();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for c in v["moved"].as_array().into_iter().flatten() {
            let site = c["site"].as_str().map(|s| format!(" (site {s})")).unwrap_or_default();
            let sms = c["sms"].as_str().map(|s| format!("; {s}")).unwrap_or_default();
            writeln!(
                out,
                "MOVED   {:<12} to {}{site}, kept by {}{sms}",
                c["card_number"].as_str().unwrap_or(""),
                c["place"].as_str().unwrap_or(""),
                c["keeper"].as_str().unwrap_or("")
            )?;
        }
        for c in &refused {
            writeln!(
                out,
                "REFUSED {:<12} {}",
                c["card_number"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or("")
            )?;
        }
    }
    anyhow::ensure!(refused.is_empty(), "{} cards did not move: see above", refused.len());
    Ok(())
}

/// `station sites`.
#[derive(clap::Subcommand, Debug)]
pub enum SitesCmd {
    /// The applications taken for agent sites whose card is not at the site within 15 working
    /// days (the national holiday calendar and `holiday_calendar`), per site, with the deadline
    /// and the working days late. Exit 1 when one is overdue or cannot be judged.
    Overdue(OverdueArgs),
}

/// `station sites overdue`.
#[derive(clap::Args, Debug)]
pub struct OverdueArgs {
    /// The day to judge on (YYYY-MM-DD); default today.
    #[arg(long)]
    pub on: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Lists the overdue applications per site; an error when any is overdue or not judged.
pub fn sites(cmd: &SitesCmd, out: &mut dyn Write) -> Result<()> {
    let SitesCmd::Overdue(a) = cmd;
    let client = a.api.login()?;
    let query = match &a.on {
        Some(on) => format!("?on={}", on.trim()),
        None => String::new(),
    };
    let v = client.get(&format!("/api/sites/overdue{query}"))?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    }
    let sites = v["sites"].as_array().cloned().unwrap_or_default();
    let (mut late, mut unjudged) = (0, 0);
    for s in &sites {
        let overdue = s["overdue"].as_array().cloned().unwrap_or_default();
        let not_judged = s["not_judged"].as_array().cloned().unwrap_or_default();
        late += overdue.len();
        unjudged += not_judged.len();
        if a.json {
            continue;
        }
        writeln!(
            out,
            "{} {}: {} waiting, {} overdue",
            s["site"].as_str().unwrap_or(""),
            s["name"].as_str().unwrap_or(""),
            s["waiting"].as_u64().unwrap_or(0),
            overdue.len()
        )?;
        for o in &overdue {
            writeln!(
                out,
                "  OVERDUE application {:<5} {:<6} card {:<12} applied {} deadline {}: {} working days late",
                o["application_id"].as_i64().unwrap_or(0),
                o["holder"].as_str().unwrap_or(""),
                o["card_number"].as_str().unwrap_or("(not made)"),
                o["applied"].as_str().unwrap_or(""),
                o["deadline"].as_str().unwrap_or(""),
                o["working_days_late"].as_u64().unwrap_or(0)
            )?;
        }
        for n in &not_judged {
            writeln!(
                out,
                "  NOT JUDGED application {:<5} applied {}: {}",
                n["application_id"].as_i64().unwrap_or(0),
                n["applied"].as_str().unwrap_or(""),
                n["reason"].as_str().unwrap_or("")
            )?;
        }
    }
    anyhow::ensure!(
        late == 0 && unjudged == 0,
        "{late} applications overdue on {}, {unjudged} the holiday calendar cannot judge",
        v["on"].as_str().unwrap_or("")
    );
    Ok(())
}

/// `station stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// The first day (YYYY-MM-DD, China time); default: the ledger's first.
    #[arg(long)]
    pub from: Option<String>,
    /// The last day, included; default: today. Overdue applications are judged on it.
    #[arg(long)]
    pub to: Option<String>,
    /// A card in stock or not activated this many days is dormant.
    #[arg(long, default_value_t = 90)]
    pub dormant_days: i64,
    /// Write the statistics to this file, CSV or XLSX by its extension, instead of a table.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The columns of `station stats`' file, one line per day, operator and site, then one per site
/// (its stock, dormant and overdue now), then the totals.
const STATS_HEADERS: [&str; 13] = [
    "日期 day",
    "操作员 operator",
    "网点 site",
    "制卡 made",
    "接收 received",
    "发放 issued",
    "入库 stocked",
    "激活 activated",
    "废卡 spoiled",
    "在库 in stock",
    "久未领取 dormant",
    "超期 overdue",
    "待送达 waiting",
];

/// The lines of the statistics as text cells, [`STATS_HEADERS`]' columns.
fn stats_lines(v: &serde_json::Value) -> Vec<Vec<String>> {
    let n = |x: &serde_json::Value| x.as_u64().unwrap_or(0).to_string();
    let site = |x: &serde_json::Value| match x.as_str().filter(|s| !s.is_empty()) {
        Some(s) => s.to_string(),
        None => "本站 station".to_string(),
    };
    let mut lines = Vec::new();
    for r in v["rows"].as_array().into_iter().flatten() {
        let mut line = vec![
            r["day"].as_str().unwrap_or("").to_string(),
            r["operator"].as_str().unwrap_or("").to_string(),
        ];
        line.push(site(&r["site"]));
        for k in ["made", "received", "issued", "stocked", "activated", "spoiled"] {
            line.push(n(&r[k]));
        }
        line.extend(std::iter::repeat_n(String::new(), 4));
        lines.push(line);
    }
    let range = format!("{}..{}", v["from"].as_str().unwrap_or(""), v["to"].as_str().unwrap_or(""));
    for s in v["sites"].as_array().into_iter().flatten() {
        let mut line = vec![format!("现在 now ({})", v["overdue_on"].as_str().unwrap_or("")), String::new()];
        line.push(site(&s["site"]));
        line.extend(std::iter::repeat_n(String::new(), 6));
        for k in ["in_stock", "dormant", "overdue", "waiting"] {
            line.push(n(&s[k]));
        }
        lines.push(line);
    }
    let t = &v["totals"];
    let mut line = vec![format!("合计 total {range}"), String::new(), String::new()];
    for k in
        ["made", "received", "issued", "stocked", "activated", "spoiled", "in_stock", "dormant", "overdue"]
    {
        line.push(n(&t[k]));
    }
    line.push(String::new());
    lines.push(line);
    lines
}

/// The station's statistics for the bureau: a table, JSON, or a CSV/XLSX file.
pub fn stats(a: &StatsArgs, out: &mut dyn Write) -> Result<()> {
    let client = a.api.login()?;
    let mut query = vec![format!("dormant_days={}", a.dormant_days)];
    for (k, v) in [("from", &a.from), ("to", &a.to)] {
        if let Some(v) = v {
            query.push(format!("{k}={}", v.trim()));
        }
    }
    let v = client.get(&format!("/api/stats?{}", query.join("&")))?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let lines = stats_lines(&v);
    let Some(path) = &a.out else {
        let t = &v["totals"];
        for line in &lines {
            writeln!(out, "{}", line.join("\t"))?;
        }
        writeln!(
            out,
            "made {} received {} issued {} stocked {} activated {} spoiled {} in stock {} dormant {} overdue {}",
            t["made"], t["received"], t["issued"], t["stocked"], t["activated"], t["spoiled"], t["in_stock"], t["dormant"], t["overdue"]
        )?;
        return Ok(());
    };
    let xlsx = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if xlsx {
        let mut w = roster::xlsx::SheetWriter::create(path, "统计", &STATS_HEADERS)?;
        for line in &lines {
            w.row(&line.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        w.finish()?;
    } else {
        let mut w = roster::text::csv_out(path)?;
        let err = roster::text::csv_err(path);
        w.write_record(STATS_HEADERS).map_err(&err)?;
        for line in &lines {
            w.write_record(line).map_err(&err)?;
        }
        w.flush().with_context(|| path.display().to_string())?;
    }
    writeln!(out, "{} lines written to {}", lines.len(), path.display())?;
    Ok(())
}
