//! `station`: the counter-station's one binary. Subcommands grow with the issues.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::{Context, Result};
use card_transport::{Disposition, ReaderManager};
use clap::{CommandFactory, Parser, Subcommand};
use station::card_read::{self, KnownApplication};

/// `station --version`: the package version and the git revision it was built from
/// (`build.rs`; `unknown` outside a git checkout unless `STATION_GIT_REVISION` names it).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("STATION_GIT_REVISION"), ")");

#[derive(Parser)]
#[command(
    name = "station",
    version = VERSION,
    about = "Counter-station for social-security cards",
    after_help = station::exit::HELP
)]
struct Cli {
    /// More logging (-v debug with redacted APDU traces, -vv trace). `STATION_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Cards in readers over PC/SC.
    #[command(subcommand)]
    Card(CardCmd),
    /// Personalise the social-security application of the card in the reader (the PSAM in the
    /// SAM slot computes the cryptogram). The full issuance comes with the station daemon.
    Personalise(PersonaliseArgs),
    /// Run the station: the API and the issuance worker on this counter's devices. Without
    /// `--config`, the embedded default (`--sim`: SQLite archives, simulated devices).
    Serve(ServeArgs),
    /// Issue a card through the running station (`station serve`): applicant in, card out,
    /// with the progress of every step.
    Issue(IssueArgs),
    /// Issue a list of applicants through the running station and write the return file.
    Batch(api_cmd::BatchArgs),
    /// The ledger of the running station: every entry, one card's story, or `--verify`.
    Ledger(api_cmd::LedgerArgs),
    /// Cards in stock (made, not handed over), in another status, or dormant.
    Stock(api_cmd::StockArgs),
    /// The agent sites (代办网点): applications past the 15-working-day limit.
    #[command(subcommand)]
    Sites(api_cmd::SitesCmd),
    /// Statistics for the bureau: cards made, issued, in stock, dormant, activated, spoiled and
    /// overdue, per day, operator and site; a table, or a CSV/XLSX file (`--out`).
    Stats(api_cmd::StatsArgs),
    /// Record the hand-over of a stock card with the receiver's signature, or a failed attempt.
    Handover(api_cmd::HandoverArgs),
    /// Approve custody of a card by another person for the groups RULE 4 allows (supervisor):
    /// recorded at the province, where an outreach kit carrying the card picks it up.
    Custody(api_cmd::CustodyArgs),
    /// Activate a card's financial function, face to face, with the holder's photo taken now.
    Activate(api_cmd::ActivateArgs),
    /// Recall a stock card after failed hand-overs (supervisor).
    Recall(api_cmd::CardArgs),
    /// The holder reports the card lost: it is stopped at the province and here.
    ReportLoss(api_cmd::LossArgs),
    /// A temporary loss (口头挂失) by phone or at the counter: the card is suspended at the
    /// province and here for the schedule's days, then lapses by itself.
    TemporaryLoss(losses_cmd::TemporaryLossArgs),
    /// Lift a temporary loss (解挂) for the holder at the counter, ID checked.
    LiftLoss(losses_cmd::LiftLossArgs),
    /// Record a replacement's fee by the card services' schedule, or why it is waived, with
    /// its receipt.
    ReplacementFee(losses_cmd::FeeArgs),
    /// Record a person's refusal of an activation or a card change, as their own choice.
    Refusal(losses_cmd::RefusalArgs),
    /// A spoiled card whose place was unknown (a jam, taken out by hand) is found and put in the
    /// reject box (supervisor): the province may give its number out again.
    AccountCard(api_cmd::CardArgs),
    /// Write a job's application form (福建省社会保障卡申领表) as an HTML file to print, with
    /// the signature block for the applicant or guardian, the date and the operator.
    ApplicationForm(api_cmd::ApplicationFormArgs),
    /// A re-issue held after its old card was stopped and its new card failed: give it up and
    /// make the old card live again at the province and here (supervisor).
    RestoreCard(api_cmd::RestoreArgs),
    /// A re-issue held after its old card was stopped and its new card failed: make the new
    /// card after all, with the same claim and card number (supervisor).
    ResumeReissue(api_cmd::JobArgs),
    /// An applicant the identity verification did not confirm: correct the field(s) the police
    /// register's hints name (the job verifies again), or end the application.
    CorrectIdentity(api_cmd::CorrectArgs),
    /// Unlock an operator locked out by failed log-ins (supervisor).
    Unlock(api_cmd::UnlockArgs),
    /// Record a holder's death (supervisor, certificate seen): live cards are cancelled.
    Deceased(api_cmd::DeceasedArgs),
    /// The outreach kits' records that could not stand, or settle one (`--resolve RECORD
    /// --note "what was done"`, supervisor).
    Conflicts(api_cmd::ConflictsArgs),
    /// The daily reconciliation: ledger = local archive = provincial archive. Exit 1 when
    /// they differ, with what to do for each card.
    Reconcile(ReconcileArgs),
    /// Compare a recipient or "no card yet" roster (CSV/XLSX) with the issuance records:
    /// classified roster, rejects, action lists per township and village, reports.
    Compare(roster::cli::Args),
    /// Subsidy payments through the card: the item register, the bank's payment file for an
    /// item and a month, the bank's return file, and the reports.
    Payments(payments::cli::Args),
    /// Build a test data-preparation file for a card's financial application (PAN from a BIN
    /// and the holder, expiry, keys from the test issuer master keys).
    Dp(DpArgs),
    /// The applicant's photo: capture from the camera (or a file) and check.
    #[command(subcommand)]
    Photo(PhotoCmd),
    /// The provincial archive service (runs at the province, or beside a one-machine station).
    #[command(subcommand)]
    Provincial(provincial_cmd::ProvincialCmd),
    /// Check every device the configuration names and say how to fix each problem. Exit code:
    /// 0 the counter can issue, 3 with warnings, 4 it cannot.
    Doctor(doctor::DoctorArgs),
    /// The outreach kit on a home visit: checkout, offline visits, sync.
    #[command(subcommand)]
    Kit(kit_cmd::KitCmd),
    /// The financial keys in the counter's PKCS#11 token: the custodians' key ceremony
    /// (`import`) and the list of labels and check values (`list`).
    #[command(subcommand)]
    Keys(keys_cmd::KeysCmd),
    /// Simulated devices for development and CI (debug builds with the `sim` feature only).
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Sim(sim_cmd::SimCmd),
    /// Write a counter's configuration (/etc/station/station.toml) from flags, asking on the
    /// terminal for what they leave out; each account gets a first password.
    Init(Box<station::init::InitArgs>),
    /// Print the completion script of a shell on stdout (the package installs them).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (station.1 and one per subcommand, station-issue.1 ...) into a
    /// directory (the package installs them).
    Man {
        /// The directory; made if missing.
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum CardCmd {
    /// List the readers with their kind (contact, contactless, sam) and whether a card is in.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read the card in a reader: ATR and which known applications answer.
    Read {
        /// Reader: a name, `kind:contact|contactless|sam`, or `#N`.
        #[arg(long, default_value = "kind:contact")]
        reader: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Firmware profiles whose applications are probed.
        #[arg(long, env = "STATION_PROFILES")]
        profiles: Option<PathBuf>,
        /// Write the APDU exchange as a transcript (secrets and personal data masked).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Wait this many seconds for a card to be inserted first.
        #[arg(long)]
        wait: Option<u64>,
    },
}

#[derive(clap::Args)]
struct DpArgs {
    /// Where to write the DP file (JSON, emv-cps-dp/1).
    #[arg(long)]
    out: PathBuf,
    /// Issuer BIN (UnionPay: 62...).
    #[arg(long, default_value = "621234")]
    bin: String,
    /// The holder's ID number (the account digits follow from it).
    #[arg(long, default_value = "11010519491231002X")]
    holder_id: String,
    /// Holder name for tag 5F20 (Pinyin, SURNAME/GIVEN).
    #[arg(long, default_value = "ZHANG/SAN")]
    holder_name: String,
    /// Expiry YYMMDD.
    #[arg(long, default_value = "351231")]
    expiry: String,
    /// Leave out the contactless interface.
    #[arg(long)]
    contact_only: bool,
}

#[derive(Subcommand)]
enum PhotoCmd {
    /// Take frames until one makes a card photo; write it as JPEG.
    Capture(photo::cli::CaptureArgs),
    /// Judge an existing photo file against the card-photo rules.
    Check(photo::cli::CheckArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The station's configuration (TOML with accounts and a [counter] section).
    #[arg(long, env = "STATION_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded default (archives, journal, photos, printed faces).
    #[arg(long, default_value = "station-data")]
    data_dir: PathBuf,
    /// Run on a simulated counter (debug builds with the `sim` feature).
    #[arg(long)]
    sim: bool,
    /// Address of the API (default 127.0.0.1:8080); beyond loopback only with TLS.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// The page's TLS certificate chain (PEM); with --tls-key, in place of `[tls]`.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM, mode 0600).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A name (or address) the counter's browsers reach the station by; repeatable. Requests
    /// for any other Host are refused.
    #[arg(long = "host-name")]
    host_names: Vec<String>,
    /// First set-up: make a self-signed certificate for the --host-name names in the data
    /// directory, print its fingerprint and the settings to use, and exit.
    #[arg(long, requires = "host_names")]
    make_tls_cert: bool,
    /// vpcd port of the simulated card (the PSAM uses the next one).
    #[arg(long, env = "STATION_VPCD_PORT", default_value_t = 35963)]
    vpcd_port: u16,
    /// Factor on the simulated printer's mechanical times (0: instant, 1: real time).
    #[arg(long, default_value_t = 0.0)]
    timing_scale: f64,
    /// Where the firmware profiles are.
    #[arg(long, env = "STATION_PROFILES")]
    profiles: Option<PathBuf>,
    /// The police register of the simulated verification service.
    #[arg(long)]
    roster: Option<PathBuf>,
    /// The embedded default's agent sites: a TOML file of `[[sites]]` as in station.toml
    /// (with --config they are in that file).
    #[arg(long, conflicts_with = "config")]
    sites: Option<PathBuf>,
    /// The embedded default's holiday calendar file (`holiday_calendar` in station.toml):
    /// next year's notice, on top of the built-in years.
    #[arg(long, conflicts_with = "config")]
    holiday_calendar: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ReconcileArgs {
    /// The station's configuration; without it, the embedded default in --data-dir.
    #[arg(long, env = "STATION_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded default.
    #[arg(long, default_value = "station-data")]
    data_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct IssueArgs {
    /// The applicant (JSON).
    #[arg(long)]
    applicant: PathBuf,
    /// Re-issue: the live card this one replaces (it is stopped first).
    #[arg(long)]
    reissue_of: Option<String>,
    #[command(flatten)]
    collection: api_cmd::CollectionArgs,
    /// The station's API.
    #[arg(long, env = "STATION_API", default_value = "http://127.0.0.1:8080")]
    api: String,
    /// Operator account.
    #[arg(long, env = "STATION_OPERATOR", default_value = "operator")]
    operator: String,
    /// Its password (better in the environment than on the command line).
    #[arg(long, env = "STATION_PASSWORD", hide_env_values = true)]
    password: String,
}

#[derive(clap::Args)]
struct PersonaliseArgs {
    /// The applicant (JSON, see crates/applicant/testdata/adult.json).
    #[arg(long)]
    applicant: PathBuf,
    /// Card number (with its check character); default: the applicant file's.
    #[arg(long)]
    card_number: Option<String>,
    /// Reader of the card: a name, `kind:contact|contactless`, or `#N`.
    #[arg(long, default_value = "kind:contact")]
    reader: String,
    /// Reader of the PSAM.
    #[arg(long, default_value = "kind:sam")]
    psam_reader: String,
    /// Firmware profile of the card; default: the profile whose ATR is the card's.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Where the firmware profiles are.
    #[arg(long, env = "STATION_PROFILES")]
    profiles: Option<PathBuf>,
    /// Region code of the issuing city (its cards' keys are diversified with it).
    #[arg(long, env = "STATION_REGION")]
    region: String,
    /// Initialising organisation code (EF05 tag 04).
    #[arg(long, env = "STATION_INIT_ORG")]
    init_org: String,
    /// Card type (EF05 tag 02).
    #[arg(long, default_value = "1")]
    card_type: char,
    /// Years of validity.
    #[arg(long, default_value_t = 10)]
    validity_years: u16,
    /// The 8 vendor bytes of the card identification code, hex, when the provincial service
    /// gives them; default: the card's own (the last 8 ATR historical bytes).
    #[arg(long, value_parser = parse_vendor)]
    card_id_vendor: Option<[u8; 8]>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_vendor(s: &str) -> Result<[u8; 8], String> {
    hex::decode(s.replace(' ', ""))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{s:?}: 8 bytes in hex (16 hex digits)"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn,station=info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STATION_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal without NO_COLOR: journald and log files get plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(station::term::colour_on_stderr())
        .init();
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::from(station::exit::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(station::exit::FAILURE)
        }
    }
}

fn run(command: Top) -> Result<()> {
    match command {
        Top::Card(CardCmd::List { json }) => card_list(json),
        Top::Card(CardCmd::Read { reader, json, profiles, record, wait }) => {
            card_read_cmd(&reader, json, profiles, record, wait)
        }
        Top::Personalise(args) => personalise(args),
        Top::Serve(a) => serve(a),
        Top::Dp(a) => {
            let mut card = emv_cps::TestCard::example();
            card.bin = a.bin;
            card.holder_id = a.holder_id;
            card.holder_name = a.holder_name;
            card.expiry = a.expiry;
            card.contactless = !a.contact_only;
            let dp =
                emv_cps::build_test_dp(&card, &emv_cps::IssuerKeys::test(), &emv_cps::test_transport_key())?;
            std::fs::write(&a.out, dp.to_json()).with_context(|| format!("writing {}", a.out.display()))?;
            println!(
                "test DP file for {} written to {} (test keys: never for real cards)",
                card.bin,
                a.out.display()
            );
            Ok(())
        }
        Top::Photo(PhotoCmd::Capture(a)) => {
            photo::cli::run_capture(&a, &mut std::io::stdout()).map_err(anyhow::Error::from)
        }
        Top::Photo(PhotoCmd::Check(a)) => {
            photo::cli::run_check(&a, &mut std::io::stdout()).map_err(anyhow::Error::from)
        }
        Top::Compare(mut a) => {
            a.archive_key = station::db_key::archive_key(a.archive.as_deref())?;
            roster::run(a).map(|_| ()).map_err(anyhow::Error::from)
        }
        Top::Payments(mut a) => {
            if let payments::cli::Command::Prepare(p) = &mut a.command {
                p.archive_key = station::db_key::archive_key(p.archive.as_deref())?;
            }
            payments::run(a).map_err(anyhow::Error::from)
        }
        Top::Issue(a) => {
            let text = std::fs::read_to_string(&a.applicant)
                .with_context(|| format!("reading {}", a.applicant.display()))?;
            let applicant: serde_json::Value =
                serde_json::from_str(&text).context("the applicant file is not JSON")?;
            let client = station::client::ApiClient::login(&a.api, &a.operator, &a.password)?;
            let mut progress = station::client::Progress::stderr();
            let end = client.issue(
                applicant,
                a.reissue_of.as_deref(),
                &a.collection.collection(),
                &mut progress,
            )?;
            println!("{}", serde_json::to_string_pretty(&end)?);
            if end["status"] == "correcting" {
                api_cmd::after_issue(&end);
                anyhow::bail!("the card is not made yet: {}", end["detail"].as_str().unwrap_or_default());
            }
            let action = match (end["action"]["kind"].as_str(), end["action"]["what"].as_str()) {
                (Some("operator"), Some(what)) => format!("; do this first: {what}"),
                (Some(kind), _) => format!("; the station asks: {kind}"),
                _ => String::new(),
            };
            anyhow::ensure!(
                ["issued", "awaiting-handover", "stocked"]
                    .contains(&end["status"].as_str().unwrap_or_default()),
                "the card was not made: {}{action}",
                end["detail"]
            );
            api_cmd::after_issue(&end);
            Ok(())
        }
        Top::Batch(a) => {
            let rows = api_cmd::batch(&a, &mut station::client::Progress::stderr())?;
            let failed = rows.iter().filter(|r| !r.failed_stage.is_empty()).count();
            anyhow::ensure!(
                failed == 0,
                "{failed} of {} applicants got no card: see the return file",
                rows.len()
            );
            Ok(())
        }
        Top::Ledger(a) => api_cmd::ledger(&a, &mut std::io::stdout()),
        Top::Stock(a) => api_cmd::stock(&a, &mut std::io::stdout()),
        Top::Sites(cmd) => api_cmd::sites(&cmd, &mut std::io::stdout()),
        Top::Stats(a) => api_cmd::stats(&a, &mut std::io::stdout()),
        Top::Handover(a) => api_cmd::handover(&a, &mut std::io::stdout()),
        Top::Custody(a) => api_cmd::custody(&a, &mut std::io::stdout()),
        Top::Activate(a) => api_cmd::activate(&a, &mut std::io::stdout()),
        Top::Recall(a) => api_cmd::recall(&a, &mut std::io::stdout()),
        Top::AccountCard(a) => api_cmd::account_card(&a, &mut std::io::stdout()),
        Top::RestoreCard(a) => api_cmd::restore_card(&a, &mut std::io::stdout()),
        Top::ApplicationForm(a) => api_cmd::application_form(&a, &mut std::io::stdout()),
        Top::ResumeReissue(a) => api_cmd::resume_reissue(&a, &mut std::io::stdout()),
        Top::CorrectIdentity(a) => api_cmd::correct_identity(&a, &mut std::io::stdout()),
        Top::Unlock(a) => api_cmd::unlock(&a, &mut std::io::stdout()),
        Top::ReportLoss(a) => api_cmd::report_loss(&a, &mut std::io::stdout()),
        Top::TemporaryLoss(a) => losses_cmd::temporary_loss(&a, &mut std::io::stdout()),
        Top::LiftLoss(a) => losses_cmd::lift_loss(&a, &mut std::io::stdout()),
        Top::ReplacementFee(a) => losses_cmd::replacement_fee(&a, &mut std::io::stdout()),
        Top::Refusal(a) => losses_cmd::refusal(&a, &mut std::io::stdout()),
        Top::Deceased(a) => api_cmd::deceased(&a, &mut std::io::stdout()),
        Top::Conflicts(a) => api_cmd::conflicts(&a, &mut std::io::stdout()),
        Top::Reconcile(a) => reconcile(a),
        Top::Provincial(cmd) => provincial_cmd::run(cmd),
        Top::Doctor(a) => std::process::exit(i32::from(doctor::run(&a))),
        Top::Kit(cmd) => kit_cmd::run(cmd),
        Top::Keys(cmd) => keys_cmd::run(cmd),
        #[cfg(feature = "sim")]
        Top::Sim(cmd) => sim_cmd::run(cmd),
        Top::Init(a) => {
            let w = station::init::run(*a)?;
            println!("configuration written to {}", w.config.display());
            let names: Vec<String> = w.accounts.iter().map(|(n, r)| format!("{n} ({r})")).collect();
            println!("accounts: {}", names.join(", "));
            println!(
                "first passwords in {} (each is changed at its first log-in); check the devices with \
                 `station doctor --config {}`, then start the service: systemctl enable --now station",
                w.passwords.display(),
                w.config.display()
            );
            Ok(())
        }
        Top::Completions { shell } => {
            // Into memory first: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "station", &mut script);
            std::io::Write::write_all(&mut std::io::stdout(), &script)
                .context("writing the completion script")
        }
        Top::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing the manual pages into {}", dir.display()))?;
            println!("manual pages written to {}", dir.display());
            Ok(())
        }
    }
}

fn reconcile(a: ReconcileArgs) -> Result<()> {
    let (local, province) = match &a.config {
        Some(path) => {
            let config = station::config::StationConfig::load(path)?;
            let counter = config
                .counter
                .clone()
                .context("the configuration has no [counter] section: it names the provincial archive")?;
            station::serve::configured_archives(
                &config.daemon,
                &counter,
                config.ledger.as_ref(),
                config.database.as_ref(),
            )?
        }
        None => {
            let config = daemon::config::Config::embedded(&a.data_dir)?;
            // The embedded default (no station.toml): the simulators' keys, in their build.
            let keys = station::serve::ArchiveKeys::simulators()?;
            let (local, sqlite) = station::serve::open_archives(&a.data_dir, &config.station, &keys)?;
            (local, Box::new(sqlite) as Box<dyn archive::ProvincialArchive>)
        }
    };
    let r = station::serve::reconcile(&local, province.as_ref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{} ledger entries (chain intact), {} cards of {} holders, {} live at the province",
            r.ledger_entries, r.cards, r.holders, r.live
        );
        if let Some(h) = &r.anchored {
            println!("the province holds ledger entry {} as this station's anchored head", h.seq);
        }
        for m in &r.mismatches {
            println!(
                "MISMATCH {} {}: ledger {:?}, local {:?}, province {:?}: {}",
                m.card_number, m.holder, m.ledger, m.local, m.provincial, m.action
            );
        }
        for card in &r.unsigned {
            println!(
                "UNSIGNED {card}: handed over without the receiver's signature in the ledger yet: \
                 station handover {card} --holder --signer NAME --signature SIG.png"
            );
        }
        if let Some(problem) = &r.ledger_problem {
            println!("LEDGER {problem}");
        }
        for card in &r.unaccounted {
            println!(
                "UNACCOUNTED {card}: a spoiled card whose place is unknown; its number is held at the province: \
                 find it, put it in the reject box, then station account-card {card}"
            );
        }
        for card in &r.lost_elsewhere {
            println!(
                "LOST {card}: reported lost at another station's counter: neither activate nor hand it over                  until its holder lifts the loss (station lift-loss {card}) or it lapses"
            );
        }
    }
    anyhow::ensure!(
        r.ledger_problem.is_none(),
        "the ledger does not hold the head the province anchored: see LEDGER above"
    );
    anyhow::ensure!(
        r.agrees(),
        "{} cards differ between ledger, local and provincial archives",
        r.mismatches.len()
    );
    if !a.json {
        println!("ledger = local archive = provincial archive");
    }
    Ok(())
}

/// What the command line sets over the configuration: the address, TLS, host names.
fn serve_overrides(a: &ServeArgs, config: &mut daemon::config::Config) {
    if let Some(listen) = a.listen {
        config.listen = listen;
    }
    if let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) {
        config.tls = Some(daemon::tls::TlsFiles { cert: cert.clone(), key: key.clone() });
    }
    config.host_names.extend(a.host_names.iter().cloned());
}

/// `station serve --make-tls-cert --host-name NAME...`: a self-signed pair in the data directory.
fn make_tls_cert(data_dir: &std::path::Path, names: &[String]) -> Result<()> {
    daemon::files::private_dir(data_dir)?;
    let (files, fingerprint) = daemon::tls::self_signed(data_dir, names)?;
    println!("certificate {} (key {}, mode 0600)", files.cert.display(), files.key.display());
    println!("SHA-256 fingerprint {fingerprint}");
    println!(
        "in station.toml:\n  host_names = {names:?}\n  [tls]\n  cert = {:?}\n  key = {:?}",
        files.cert.display().to_string(),
        files.key.display().to_string()
    );
    println!(
        "the first time a browser opens the page it warns of a self-signed certificate: accept it only \
         if the fingerprint it shows is the one above"
    );
    Ok(())
}

fn serve(a: ServeArgs) -> Result<()> {
    let profiles = profiles_dir(a.profiles.clone());
    if let Some(path) = &a.config {
        let mut config = station::config::StationConfig::load(path)?;
        if a.make_tls_cert {
            return make_tls_cert(&config.daemon.data_dir, &a.host_names);
        }
        serve_overrides(&a, &mut config.daemon);
        config.daemon.check_listen().map_err(anyhow::Error::msg)?;
        return station::serve::serve_configured(config, &profiles);
    }
    if a.make_tls_cert {
        return make_tls_cert(&a.data_dir, &a.host_names);
    }
    let mut config = daemon::config::Config::embedded(&a.data_dir)?;
    serve_overrides(&a, &mut config);
    if let Some(file) = &a.sites {
        config.sites = station::config::load_sites(file)?;
    }
    if let Some(file) = &a.holiday_calendar {
        config.holiday_calendar = Some(file.clone());
    }
    // Before any device is started: the page beyond loopback needs TLS.
    config.check_listen().map_err(anyhow::Error::msg)?;
    if !a.sim {
        anyhow::bail!(
            "no --config: write a station.toml with the accounts and a [counter] section (README), or run the \
             embedded default on simulated devices with --sim"
        );
    }
    #[cfg(feature = "sim")]
    {
        let roster = a.roster.clone().unwrap_or_else(|| {
            let here = PathBuf::from("sim/idv-sim/roster.json");
            if here.exists() {
                here
            } else {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sim/idv-sim/roster.json"))
            }
        });
        station::sim_devices::serve_simulated(config, &profiles, &roster, a.vpcd_port, a.timing_scale)
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = (a.vpcd_port, a.timing_scale, a.roster);
        anyhow::bail!("this build has no simulated devices: build with --features sim (debug builds only)")
    }
}

fn personalise(a: PersonaliseArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.applicant)
        .with_context(|| format!("reading {}", a.applicant.display()))?;
    let applicant: applicant::Applicant = serde_json::from_str(&text)
        .with_context(|| format!("{}: not an applicant file", a.applicant.display()))?;
    let today = station::clock::today();
    let validated = applicant
        .validate(today)
        .map_err(|e| anyhow::anyhow!("the applicant's data need correcting:\n{e}"))?;
    for w in &validated.warnings {
        eprintln!("warning: {w}");
    }
    let card_number = match (&a.card_number, &validated.card_number) {
        (Some(n), _) => n.clone(),
        (None, Some(n)) => n.as_str().to_string(),
        (None, None) => {
            anyhow::bail!("no card number: give --card-number (the provincial service allocates it)")
        }
    };
    let profile = a.profile.as_ref().map(firmware_profile::Profile::load).transpose()?;
    let params = station::ssc::IssueParams {
        region: a.region,
        init_org: a.init_org,
        card_type: a.card_type,
        issue_date: today,
        validity_years: a.validity_years,
        vendor: a.card_id_vendor,
    };
    let mut manager = pcsc_reader::PcscManager::new().context("connecting to pcscd")?;
    let dir = profiles_dir(a.profiles);
    let devices = station::ssc::Devices {
        card_reader: &a.reader,
        psam_reader: &a.psam_reader,
        profile: profile.as_ref(),
        profiles_dir: &dir,
    };
    let outcome =
        station::ssc::personalise_in_readers(&mut manager, devices, &validated, &card_number, &params)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "personalised and read back: card {} (id {}) for {} in {} [{}], {} records, {} card + {} PSAM APDUs",
            outcome.card_number,
            outcome.card_id,
            outcome.ssn,
            outcome.reader,
            outcome.profile,
            outcome.records,
            outcome.apdus.0,
            outcome.apdus.1
        );
    }
    Ok(())
}

fn card_list(json: bool) -> Result<()> {
    let mut manager = pcsc_reader::PcscManager::new().context("connecting to pcscd")?;
    let readers = manager.list_readers()?;
    if json {
        let list: Vec<serde_json::Value> = readers
            .iter()
            .map(|r| serde_json::json!({"name": r.name, "kind": r.kind.as_str(), "card_present": r.card_present}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if readers.is_empty() {
        println!("no readers: plug one in (or start the simulated stack with scripts/run)");
    } else {
        for r in readers {
            println!("{:<12} {:<8} {}", r.kind, if r.card_present { "card" } else { "empty" }, r.name);
        }
    }
    Ok(())
}

/// Where the firmware profiles are: the flag or `STATION_PROFILES`, else `firmware-profiles/`
/// in the working directory, else the copy in the source tree this binary was built from.
fn profiles_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        let here = PathBuf::from("firmware-profiles");
        if here.is_dir() {
            here
        } else {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../firmware-profiles"))
        }
    })
}

/// The applications of every profile, each AID once, in profile order.
fn known_applications(dir: &std::path::Path) -> Result<Vec<KnownApplication>> {
    let profiles = firmware_profile::load_dir(dir)
        .with_context(|| format!("loading firmware profiles from {}", dir.display()))?;
    let mut known: Vec<KnownApplication> = Vec::new();
    for app in profiles.iter().flat_map(|p| p.applications.iter()) {
        if !known.iter().any(|k| k.aid == app.aid) {
            known.push(KnownApplication { name: app.name.clone(), aid: app.aid.clone() });
        }
    }
    Ok(known)
}

fn card_read_cmd(
    selector: &str,
    json: bool,
    profiles: Option<PathBuf>,
    record: Option<PathBuf>,
    wait: Option<u64>,
) -> Result<()> {
    let known = known_applications(&profiles_dir(profiles))?;
    let mut manager = pcsc_reader::PcscManager::new().context("connecting to pcscd")?;
    if let Some(secs) = wait {
        let info = manager.resolve(selector)?;
        let event = manager.wait_for_card(&info.name, Some(std::time::Duration::from_secs(secs)))?;
        anyhow::ensure!(
            matches!(event, pcsc_reader::ReaderEvent::CardInserted { .. }),
            "no card in {} after {secs} s ({event:?}): insert the card and retry",
            info.name
        );
    }
    let report = read_card(&mut manager, selector, &known, record.as_deref())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// Opens the card `selector` names, inspects it in one transaction (recording the exchange
/// when asked) and leaves it as it was.
fn read_card(
    manager: &mut pcsc_reader::PcscManager,
    selector: &str,
    known: &[KnownApplication],
    record: Option<&std::path::Path>,
) -> Result<card_read::CardReport> {
    use card_transport::Card;
    let mut card = manager.open(selector)?;
    let reader = card.reader().name.clone();
    let atr = card.atr().to_vec();
    let report = {
        let mut tx = card.transaction()?;
        match record {
            Some(path) => {
                let mut rec = card_transport::transcript::Recorder::new(tx.as_mut());
                let report = card_read::inspect(&mut rec, &reader, &atr, known);
                let header =
                    format!("# station card read, reader {reader}\n# ATR {}\n", hex::encode_upper(&atr));
                std::fs::write(path, header + rec.text())
                    .with_context(|| format!("writing transcript {}", path.display()))?;
                report
            }
            None => card_read::inspect(tx.as_mut(), &reader, &atr, known),
        }?
    };
    Box::new(card).disconnect(Disposition::Leave)?;
    Ok(report)
}

mod api_cmd;
mod doctor;
mod keys_cmd;
mod kit_cmd;
mod losses_cmd;
mod provincial_cmd;
#[cfg(feature = "sim")]
mod sim_cmd;
