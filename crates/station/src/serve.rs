//! `station serve`: the daemon on this counter's devices. With `--sim` (debug builds with the
//! `sim` feature), the embedded default: SQLite archives (the provincial one too: one machine
//! serves) and a whole simulated counter behind a private pcscd.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use archive::local::LocalArchive;

use crate::counter::FaceRenderer;
use crate::runner::CounterRunner;

/// What serve needs that is not in the daemon's configuration.
pub struct ServeOptions {
    /// The daemon configuration (embedded default when the caller has none).
    pub config: daemon::config::Config,
    /// Where the firmware profiles are.
    pub profiles: PathBuf,
    /// The cards' profile id.
    pub card_profile: String,
}

/// The keys a station opens its archive with: the ledger's MAC key and the key that wraps
/// its data key.
#[derive(Clone)]
pub struct ArchiveKeys {
    /// The ledger's MAC key.
    pub ledger: Arc<dyn archive::local::LedgerKey>,
    /// What wraps `station.db.key`.
    pub database: Arc<dyn crate::db_key::KeyWrap>,
}

impl ArchiveKeys {
    /// The keys `[ledger]` and `[database]` name (in the counter's token unless they name
    /// their own), or without them, in a build with the simulators, the simulators' keys.
    pub fn open(
        ledger: Option<&crate::ledger_key::LedgerSettings>,
        database: Option<&crate::db_key::DatabaseSettings>,
        counter_token: Option<&crate::config::TokenSettings>,
    ) -> Result<ArchiveKeys> {
        Ok(ArchiveKeys {
            ledger: crate::ledger_key::open(ledger, counter_token)?,
            database: crate::db_key::open(database, counter_token)?,
        })
    }

    /// The keys of the embedded default (no station.toml): the simulators', in their build.
    pub fn simulators() -> Result<ArchiveKeys> {
        ArchiveKeys::open(None, None, None)
    }
}

/// Opens the station's archives in the data directory: `station.db` with the data key that
/// `station.db.key` wraps (made at the first start; a plaintext station.db found is encrypted
/// once, and the ledger says so), the ledger with its key.
pub fn open_archives(
    data_dir: &Path,
    station: &str,
    keys: &ArchiveKeys,
) -> Result<(Arc<LocalArchive>, archive::SqliteProvincial)> {
    // The station's alone: applicants' forms, photos, signatures and the ledger live here.
    daemon::files::private_dir(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let data_key = crate::db_key::unlock(data_dir, keys.database.as_ref())?;
    let local = LocalArchive::open(data_dir.join("station.db"), station, &data_key)?
        .with_ledger_key(keys.ledger.clone());
    if local.migrated_from_plaintext() {
        tracing::warn!("station.db was plaintext: encrypted now with the station's data key");
        local.append_ledger(
            "station",
            None,
            None,
            "database.encrypted",
            &serde_json::json!({"from": "plaintext", "cipher": "SQLCipher AES-256",
                "wrapping_key": keys.database.describe()}),
        )?;
    }
    let local = Arc::new(local);
    let province = archive::SqliteProvincial::open(data_dir.join("provincial.db"), station, 'B')?;
    Ok((local, province))
}

/// The local archive with the keys `[ledger]` and `[database]` name (in the counter's token
/// unless they name their own), and the provincial one the `[counter]` section names (the
/// service, or SQLite beside the station where one machine serves).
pub fn configured_archives(
    config: &daemon::config::Config,
    counter: &crate::config::CounterConfig,
    ledger: Option<&crate::ledger_key::LedgerSettings>,
    database: Option<&crate::db_key::DatabaseSettings>,
) -> Result<(Arc<LocalArchive>, Box<dyn archive::ProvincialArchive>)> {
    let counter_token = counter.financial.as_ref().and_then(|f| f.token.as_ref());
    let keys = ArchiveKeys::open(ledger, database, counter_token)?;
    let (local, sqlite) = open_archives(&config.data_dir, &config.station, &keys)?;
    let province: Box<dyn archive::ProvincialArchive> = match &counter.provincial {
        crate::config::ProvincialConfig::Sqlite => Box::new(sqlite),
        crate::config::ProvincialConfig::Service { url, ca, identity } => {
            Box::new(provincial::Client::new(url, ca, identity, std::time::Duration::from_secs(30))?)
        }
    };
    Ok((local, province))
}

/// The daily reconciliation: ledger = local archive = provincial archive. The result goes
/// into the ledger too, so the auditor sees each run.
pub fn reconcile(
    local: &LocalArchive,
    province: &dyn archive::ProvincialArchive,
) -> Result<issuance::reconcile::Reconciliation> {
    let r = issuance::reconcile::reconcile(local, province)?;
    local.append_ledger(
        "station",
        None,
        None,
        "reconcile.daily",
        &serde_json::json!({"cards": r.cards, "holders": r.holders, "live": r.live, "mismatches": r.mismatches.len(),
            "ledger_problem": r.ledger_problem.is_some()}),
    )?;
    // The head (this reconciliation's own line) goes to the province, unless the ledger no
    // longer holds what was anchored: that head stays there for the auditors.
    if r.ledger_problem.is_none() {
        issuance::reconcile::anchor(local, province)?;
    }
    Ok(r)
}

/// The PC/SC reader rules of this station: the built-in ones with the reader profiles of
/// `profiles_dir/readers/` in front (a dropped-in profile needs no rebuild), so each slot's
/// quirks (APDU limits, T=0 only, a pause after power-up) apply to every card connection.
pub fn pcsc_manager(profiles_dir: &Path) -> Result<pcsc_reader::PcscManager> {
    let devices = firmware_profile::devices::DeviceProfiles::load(profiles_dir)
        .with_context(|| format!("reader profiles in {}", profiles_dir.display()))?;
    pcsc_reader::PcscManager::with_rules(doctor::readers::reader_rules(&devices))
        .context("connecting to pcscd")
}

/// Builds the runner of a counter from its parts.
#[allow(clippy::too_many_arguments)]
pub fn counter_runner(
    local: Arc<LocalArchive>,
    province: Arc<dyn archive::ProvincialArchive>,
    verifier: Box<dyn idv::IdentityVerifier>,
    printer: Box<dyn printer::Printer + Send>,
    faces: Box<dyn FaceRenderer + Send>,
    profile: firmware_profile::Profile,
    readers: (&str, &str),
    params: issuance::records::IssueParams,
) -> Result<CounterRunner> {
    Ok(CounterRunner {
        local,
        province,
        verifier: Arc::from(verifier),
        manager: Box::new(pcsc_reader::PcscManager::new().context("connecting to pcscd")?),
        printer,
        faces,
        profile,
        card_reader: readers.0.to_string(),
        psam_reader: readers.1.to_string(),
        params,
        lease_seconds: 1800,
        max_corrections: crate::config::IdvPolicy::default().max_corrections,
        financial: None,
        stock: issuance::StockSettings::default(),
        bank: None,
        sim_accounts: None,
    })
}

/// What a `[counter]` section names, opened: the cards' firmware profile, the printer, PC/SC
/// with the reader profiles beside the card profile, the issuing office's parameters (issue
/// date today) and the financial application's data and keys. The counter's daemon and the
/// outreach kit's `kit make` issue with these.
pub struct CounterParts {
    /// The cards' firmware profile.
    pub profile: firmware_profile::Profile,
    /// The card printer.
    pub printer: printer::EvolisPrinter<Box<dyn printer::PrinterTransport>>,
    /// PC/SC, with the reader profiles applied.
    pub manager: pcsc_reader::PcscManager,
    /// Issuing office settings.
    pub params: issuance::records::IssueParams,
    /// The financial application's data and keys, when the cards carry one.
    pub financial: Option<crate::financial::Financial>,
}

/// Opens what `counter` names; the card profile's path is taken below `profiles_dir` unless
/// absolute.
pub fn open_counter_parts(
    counter: &crate::config::CounterConfig,
    profiles_dir: &Path,
) -> Result<CounterParts> {
    let profile_path = if counter.profile.is_absolute() {
        counter.profile.clone()
    } else {
        profiles_dir.join(&counter.profile)
    };
    let profile = firmware_profile::Profile::load(&profile_path)?;
    let selector: printer::Selector = counter.printer.parse()?;
    let printer = printer::open_evolis(&selector, printer::Timeouts::default())
        .with_context(|| format!("opening the printer {}: check its cable and power", counter.printer))?;
    let params = issuance::records::IssueParams {
        region: counter.region.clone(),
        init_org: counter.init_org.clone(),
        card_type: '1',
        issue_date: crate::clock::today(),
        validity_years: counter.validity_years,
        vendor: None,
    };
    let financial = counter
        .financial
        .as_ref()
        .map(|f| crate::financial::Financial::from_config(f, &profile))
        .transpose()?;
    let manager = pcsc_manager(profile_path.parent().unwrap_or(profiles_dir))?;
    Ok(CounterParts { profile, printer, manager, params, financial })
}

/// Runs the daemon until Ctrl-C on the devices `config`'s `[counter]` names.
pub fn serve_configured(config: crate::config::StationConfig, profiles_dir: &Path) -> Result<()> {
    let counter = config.counter.clone().context(
        "the configuration has no [counter] section: name the readers, the printer and the archives",
    )?;
    let idv = config.idv;
    let ledger = config.ledger;
    let database = config.database;
    let config = config.daemon;
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    let (local, province) = configured_archives(&config, &counter, ledger.as_ref(), database.as_ref())?;
    let province: Arc<dyn archive::ProvincialArchive> = Arc::from(province);
    let verifier = Box::new(identity_verifier(&counter.identity_verification)?);
    let parts = open_counter_parts(&counter, profiles_dir)?;
    let faces = Box::new(crate::faces::CardFaceRenderer::builtin(
        parts.profile.generation,
        config.data_dir.clone(),
        local.file_key().cloned(),
    )?);
    let mut runner = counter_runner(
        local.clone(),
        province.clone(),
        verifier,
        Box::new(parts.printer),
        faces,
        parts.profile,
        (&counter.card_reader, &counter.psam_reader),
        parts.params,
    )?;
    let (bank, sim_bank) = bank_setup(&counter)?;
    // On the simulated counter the simulated bank opens each card's account: with the test DP
    // data's PAN, or, for cards without a financial application, one numbered the same way.
    let test_dp = counter.financial.as_ref().is_some_and(|f| f.dp == "test");
    runner.financial = parts.financial.map(|f| f.with_sim_bank(sim_bank.clone().filter(|_| test_dp)));
    runner.sim_accounts = sim_bank
        .filter(|_| counter.financial.is_none())
        .map(|url| crate::financial::SimAccounts::new(url, bank.banks.registry()));
    runner.manager = Box::new(parts.manager);
    runner.stock = counter.stock.clone();
    runner.bank = Some(bank);
    runner.max_corrections = idv.max_corrections;
    let panel = crate::runner::CounterPanel::new(crate::runner::Camera::open(&counter.camera), None, None);
    let runner = crate::runner::PanelRunner::new(runner, panel);
    run_daemon(&runtime, &config, local, Some(province), Box::new(runner))
}

/// The banks `[counter.bank]` names for the counter's region, each system's client made now (a
/// wrong file stops the start), and, on a build with the simulators, the simulated bank that
/// opens each card's account when it is made (its first plain `http://` system).
pub fn bank_setup(
    counter: &crate::config::CounterConfig,
) -> Result<(Arc<daemon::state::BankSetup>, Option<String>)> {
    let config: bank::BankConfig = match &counter.bank {
        Some(c) => c.clone(),
        None => toml::from_str("").context("the default bank section")?,
    };
    let banks = config.open(crate::config::SIMULATORS).context("[counter.bank]")?;
    let sim_bank = config
        .systems
        .iter()
        .find(|s| s.url.starts_with("http://"))
        .filter(|_| crate::config::SIMULATORS)
        .map(|s| s.url.clone());
    Ok((Arc::new(daemon::state::BankSetup { banks, region: counter.region.clone() }), sim_bank))
}

/// The identity verification client `[counter] identity_verification` names, over the transport
/// this build allows (plain http only with the simulators). Its CA and key files are read now:
/// a wrong one stops the start with what to change.
pub fn identity_verifier(config: &crate::config::IdentityVerificationConfig) -> Result<idv::HttpVerifier> {
    let transport = config.transport(crate::config::SIMULATORS)?;
    Ok(idv::HttpVerifier::new(config.url(), &transport, std::time::Duration::from_secs(20))?)
}

/// Starts the daemon and waits for Ctrl-C; the API shares the runner's provincial archive
/// (the card's later life: losses, deaths, recalls).
pub fn run_daemon(
    runtime: &tokio::runtime::Runtime,
    config: &daemon::config::Config,
    local: Arc<LocalArchive>,
    province: Option<Arc<dyn archive::ProvincialArchive>>,
    runner: Box<dyn daemon::Runner>,
) -> Result<()> {
    runtime.block_on(async {
        let d = daemon::start(config, local, province, runner).await?;
        println!("station {} serving on http://{}", config.station, d.addr);
        // Ctrl-C or SIGTERM (systemd, a supervisor): stop taking requests. A job under way is
        // journalled step by step; the next start resumes it.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        d.abort();
        Ok(())
    })
}
