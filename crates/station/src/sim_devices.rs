//! Simulated devices wired together as the real ones are: the printer's contact station holds
//! a chip reader, so a card the printer feeds appears in the virtual reader when it reaches
//! the contact station, and leaves it when it moves on. Each card taken from the hopper is a
//! fresh blank chip, made by the card factory of the profile; each card the printer ejects can
//! be kept as a state file ([`KeptCards`]) for any PC/SC tool to read again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use card_sim::{CardImage, CardOs, SharedCard};
use firmware_profile::{FilePath, Profile};
use printer_sim::{CardExit, CardMove, CardPlace, SimPrinter};

/// Puts the chip of `card` into the printer's contact station: the slot starts empty, a fed
/// card is a new blank chip of `profile`, present in the reader only at the contact station.
/// Returns the keeper of the cards the printer ejects: they are kept once
/// [`KeptCards::keep_in`] names a directory, and forgotten if it never does.
pub fn chip_in_printer(
    printer: &SimPrinter,
    card: SharedCard,
    profile_path: &Path,
) -> Result<KeptCards, card_sim::SimError> {
    let profile = Arc::new(Profile::load(profile_path)?);
    let mut factory = card_sim::factory_for(&profile, profile_path)?;
    factory.blank = true;
    // A profile whose [isd] is wrong fails here, at start, not at the first card.
    card_sim::register_financial(
        &mut CardOs::manufacture(profile.clone(), &factory),
        card_sim::Interface::Auto,
    )?;
    card_sim::lock(&card).remove();
    let kept = KeptCards::new(&profile);
    let keeper = kept.clone();
    printer.lock().observe(Box::new(move |moved: CardMove| {
        let mut chip = card_sim::lock(&card);
        if moved.fed {
            *chip.os_mut() = CardOs::manufacture(profile.clone(), &factory);
            // The profile's [isd] was checked when the counter started (below).
            if let Err(e) = card_sim::register_financial(chip.os_mut(), card_sim::Interface::Auto) {
                tracing::error!(error = %e, "the simulated chip has no issuer security domain");
            }
        }
        // Only a card out through the exit is a made card: one in the reject box is spoiled and
        // its number released.
        if moved.left == Some(CardExit::Ejected) {
            keeper.ejected(&chip.os().image());
        }
        if moved.place == Some(CardPlace::Contact) {
            chip.insert();
        } else {
            chip.remove();
        }
    }));
    Ok(kept)
}

/// Where the simulated counter keeps the cards its printer ejects: `DIR/CARDNUMBER.json`, the
/// chip's state file (both applications, keys and counters), named by the card number the chip
/// itself holds in EF05, for `station sim card --state` to plug in again. A blank card is not
/// kept, nor one put in the reject box: that card is spoiled and its number released, so a
/// later card may carry the same number.
#[derive(Clone)]
pub struct KeptCards(Arc<Keeper>);

struct Keeper {
    /// EF05 of the profile's social-security application (`None`: no card can be named).
    ef05: Option<FilePath>,
    dir: Mutex<Option<PathBuf>>,
}

impl KeptCards {
    fn new(profile: &Profile) -> KeptCards {
        let ef05 = ssse::SsseLayout::from_profile(profile).ok().map(|l| l.df.join(l.ef05.fid));
        KeptCards(Arc::new(Keeper { ef05, dir: Mutex::new(None) }))
    }

    /// Keeps every card ejected from now on in `dir`, made if needed and private (0700): the
    /// cards hold applicants' data.
    pub fn keep_in(&self, dir: &Path) -> std::io::Result<()> {
        daemon::files::private_dir(dir)?;
        *self.0.dir.lock().unwrap_or_else(PoisonError::into_inner) = Some(dir.to_path_buf());
        Ok(())
    }

    /// A card with the chip `image` went out through the exit.
    fn ejected(&self, image: &CardImage) {
        let Some(dir) = self.0.dir.lock().unwrap_or_else(PoisonError::into_inner).clone() else { return };
        let Some(number) = self.0.ef05.as_ref().and_then(|ef05| card_number(image, ef05)) else {
            tracing::info!("a card without a card number was ejected: not kept");
            return;
        };
        let path = dir.join(format!("{number}.json"));
        match image.keep(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "made card kept"),
            Err(e) => tracing::error!(error = %e, "the ejected card was not kept"),
        }
    }
}

/// The card number in the chip's EF05 (record 07), when it holds one; letters and digits only,
/// so that it names a file and nothing else.
fn card_number(image: &CardImage, ef05: &FilePath) -> Option<String> {
    let records: std::collections::BTreeMap<u8, Vec<u8>> = ssse::records::EF05_TAGS
        .iter()
        .filter_map(|&tag| Some((tag, image.record(ef05, tag)?.to_vec())))
        .collect();
    let number = ssse::IssuerData::from_records(&records).ok()?.card_number;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(number)
}

/// A whole simulated counter: a private pcscd with the card (inside the printer) and the PSAM,
/// the printer on a pty, the identity verification service and the bank's card system;
/// stopped on drop.
pub struct SimCounter {
    /// The private pcscd.
    pub pcscd: pcsc_stack::Pcscd,
    /// The card's vpcd link.
    pub card: card_sim::VpcdHandle,
    /// The PSAM's vpcd link.
    pub psam: card_sim::VpcdHandle,
    /// The printer.
    pub printer: printer_sim::SimHandle,
    /// The verification service.
    pub idv: idv_sim::Handle,
    /// The bank's card system (plain HTTP; no account until a card is made).
    pub bank: bank_sim::Handle,
    /// The printer's selector (its pty).
    pub printer_selector: printer::Selector,
    /// Where the cards the printer ejects are kept (nowhere until told).
    pub kept: KeptCards,
}

/// Where a simulated counter's files are.
pub struct SimCounterFiles<'a> {
    /// The cards' profile.
    pub card_profile: &'a Path,
    /// The PSAM's profile.
    pub psam_profile: &'a Path,
    /// The police register of the verification simulator.
    pub roster: &'a Path,
    /// Where the printer writes its PNGs.
    pub printed: &'a Path,
}

/// Starts a simulated counter on vpcd port `port` (the PSAM on the next one); `timing_scale`
/// scales the printer's mechanical times (0: instant). Runs the verification service and the
/// bank's card system on `runtime`.
pub fn start_counter(
    port: u16,
    files: &SimCounterFiles<'_>,
    timing_scale: f64,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<SimCounter> {
    use anyhow::Context;
    let pcscd = pcsc_stack::Pcscd::start(port)?;
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let card_config = card_sim::SimConfig {
        profile: files.card_profile.to_path_buf(),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: addr(port),
        blank: true,
    };
    let card = card_sim::build_card(&card_config)?;
    let mut timing = printer_sim::Timing::realistic();
    timing.scale = timing_scale;
    let printer = printer_sim::serve(printer_sim::SimPrinterConfig {
        model: printer_sim::ModelConfig {
            out_dir: Some(files.printed.to_path_buf()),
            auto_take: true,
            timing,
            ..printer_sim::ModelConfig::default()
        },
        pty: true,
        tcp: None,
        faults: Vec::new(),
    })?;
    let kept = chip_in_printer(printer.sim(), card.clone(), files.card_profile)?;
    let card = card_sim::spawn(card, addr(port), card_sim::Faults::default())?;
    let psam = card_sim::start(&card_sim::SimConfig {
        profile: files.psam_profile.to_path_buf(),
        state: None,
        faults: card_sim::Faults::default(),
        vpcd: addr(port + 1),
        blank: false,
    })?;
    let roster = idv_sim::load_roster(files.roster)?;
    let idv = runtime.block_on(idv_sim::serve(addr(0), roster))?;
    let bank = runtime.block_on(bank_sim::serve(addr(0), Vec::new()))?;
    let printer_selector =
        printer.selectors().into_iter().next().context("the simulated printer has no pty")?;
    Ok(SimCounter { pcscd, card, psam, printer, idv, bank, printer_selector, kept })
}

/// What a person does at the simulated printer, for the page's training and test controls:
/// `printer:close-cover`, `printer:refill`, `printer:load-ribbon`, `printer:clear-jam`,
/// `printer:take-card`, or a fault in the simulator's syntax (`printer:cover-open`,
/// `printer:jam@Sis`, `printer:ribbon-out`, ...).
pub fn printer_actions(printer: SimPrinter) -> crate::runner::SimAction {
    Box::new(move |action: &str| {
        let what = action
            .strip_prefix("printer:")
            .ok_or_else(|| format!("{action}: only the printer is simulated here (printer:ACTION)"))?;
        let mut model = printer.lock();
        match what {
            "close-cover" => model.close_cover(),
            "refill" => model.refill(100),
            "load-ribbon" => model.load_ribbon(),
            "clear-jam" => model.clear_jam(),
            "take-card" => model.take_card(),
            fault => {
                let injection: printer_sim::Injection = fault.parse().map_err(|e| format!("{e}"))?;
                model.inject(injection);
            }
        }
        Ok(())
    })
}

/// The simulated counter's banks ([`bank_sim::sim_registry`], region `region`), all activated
/// through the simulated bank at `url`, which opens each card's account when it is made.
pub fn sim_bank(
    url: &str,
    region: &str,
) -> anyhow::Result<(Arc<daemon::state::BankSetup>, crate::financial::SimAccounts)> {
    let registry = bank_sim::sim_registry();
    let accounts = crate::financial::SimAccounts::new(url.to_string(), &registry);
    let codes: Vec<String> = registry.banks().iter().map(|b| b.code.clone()).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    let system =
        bank::HttpBank::new(url, &bank::Transport::PlainForSimulators, std::time::Duration::from_secs(10))?;
    let banks = bank::Banks::new(registry).with_system(url, &codes, system)?;
    Ok((Arc::new(daemon::state::BankSetup { banks, region: region.to_string() }), accounts))
}

/// The `[sms]` configuration of the simulated SMS gateway at `url`: an account whose secret is
/// written (0600) in `data_dir`.
pub fn sim_sms_config(url: &str, data_dir: &Path) -> anyhow::Result<sms::GatewayConfig> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let secret_file = data_dir.join("sms-sim-secret");
    std::fs::create_dir_all(data_dir)?;
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&secret_file)?;
    f.write_all(b"sim-secret\n")?;
    Ok(sms::GatewayConfig {
        url: url.to_string(),
        ca: None,
        account: "station-sim".into(),
        secret_file,
        signature: "模拟人社局".into(),
        timeout_seconds: 10,
        retry_seconds: 10,
    })
}

/// The embedded default: the daemon on SQLite archives and a simulated counter, until Ctrl-C.
pub fn serve_simulated(
    mut config: daemon::config::Config,
    profiles_dir: &Path,
    roster: &Path,
    vpcd_port: u16,
    timing_scale: f64,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    let card_profile = profiles_dir.join("ssc-3g-sim.toml");
    let psam_profile = profiles_dir.join("psam-sim.toml");
    let printed = config.data_dir.join("printed");
    std::fs::create_dir_all(&printed)?;
    let files = SimCounterFiles {
        card_profile: &card_profile,
        psam_profile: &psam_profile,
        roster,
        printed: &printed,
    };
    let counter = start_counter(vpcd_port, &files, timing_scale, &runtime)?;
    let cards_out = config.data_dir.join("cards-out");
    counter.kept.keep_in(&cards_out).with_context(|| format!("creating {}", cards_out.display()))?;
    // The embedded default has no station.toml: the simulators' keys.
    let keys = crate::serve::ArchiveKeys::simulators()?;
    let (local, province) = crate::serve::open_archives(&config.data_dir, &config.station, &keys)?;
    let profile = Profile::load(&card_profile)?;
    let region = profile.sim.derive.as_ref().map_or_else(|| "110100".to_string(), |d| d.region.clone());
    let printer = Box::new(printer::open_evolis(&counter.printer_selector, printer::Timeouts::default())?);
    let faces = Box::new(crate::faces::CardFaceRenderer::builtin(
        profile.generation,
        config.data_dir.clone(),
        local.file_key().cloned(),
    )?);
    let verifier = Box::new(idv::HttpVerifier::new(
        &counter.idv.url(),
        &idv::Transport::PlainForSimulators,
        std::time::Duration::from_secs(10),
    )?);
    let params = issuance::records::IssueParams {
        region,
        init_org: "11010000000000000001".into(),
        card_type: '1',
        issue_date: crate::clock::today(),
        validity_years: 10,
        vendor: None,
    };
    let province: Arc<dyn archive::ProvincialArchive> = Arc::new(province);
    let mut counter_runner = crate::serve::counter_runner(
        local.clone(),
        province.clone(),
        verifier,
        printer,
        faces,
        profile,
        (pcsc_stack::USER_CARD_READER, pcsc_stack::PSAM_READER),
        params,
    )?;
    counter_runner.manager = Box::new(crate::serve::pcsc_manager(profiles_dir)?);
    let (bank, sim_accounts) = sim_bank(&counter.bank.url(), &counter_runner.params.region)?;
    counter_runner.bank = Some(bank);
    counter_runner.sim_accounts = Some(sim_accounts);
    // The SMS gateway simulator: the pickup notices go there (`GET URL/v1/messages` lists them).
    let sms_gateway =
        runtime.block_on(sms_sim::serve(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), None))?;
    if config.sms.is_none() {
        config.sms = Some(sim_sms_config(&sms_gateway.url(), &config.data_dir)?);
    }
    config.simulators = true;
    eprintln!("simulated SMS gateway: {} (GET /v1/messages lists what it took)", sms_gateway.url());
    let camera = crate::runner::Camera::open("synthetic");
    let panel = crate::runner::CounterPanel::new(
        camera,
        Some(printed.clone()),
        Some(printer_actions(counter.printer.sim().clone())),
    );
    let runner = crate::runner::PanelRunner::new(counter_runner, panel);
    eprintln!(
        "simulated counter: pcscd pid {:?}, printer {}, verification {}, bank {}, printed faces in {}, made \
         cards kept in {}",
        counter.pcscd.pid(),
        counter.printer_selector,
        counter.idv.url(),
        counter.bank.url(),
        printed.display(),
        cards_out.display()
    );
    if config.station.is_empty() {
        config.station = "embedded".into();
    }
    let result = crate::serve::run_daemon(&runtime, &config, local, Some(province), Box::new(runner));
    let mut counter = counter;
    counter.pcscd.stop();
    result
}
