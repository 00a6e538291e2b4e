//! `station sim ...`: the simulated devices, behind the real PC/SC stack.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use card_sim::{Faults, SimConfig};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum SimCmd {
    /// Plug the simulated user card (and PSAM) into a running pcscd's vpcd readers.
    Card(CardArgs),
    /// Start a private pcscd with vpcd, plug in the simulated card and PSAM, read the card
    /// back over PC/SC, and keep it all up until Ctrl-C.
    Stack(StackArgs),
    /// Serve the simulated bank-police identity verification service.
    Idv(IdvArgs),
    /// Start the simulated Evolis card printer on a pty and TCP; print where it listens.
    Printer(printer_sim::Args),
    /// A whole simulated counter in its own process (pcscd with the chip inside the printer,
    /// the PSAM, the printer on a pty, the verification service, the bank's card system), for
    /// a `station serve --config` to drive; prints a JSON line saying where each device is.
    Counter(CounterArgs),
    /// Serve the simulated bank card system (accounts, activation, refusals, outages) over
    /// plain HTTP, for `[[counter.bank.system]] url = "http://..."` on a build with the
    /// simulators; the bank list of the simulated counter is sim/bank-sim/banks.toml.
    Bank(BankArgs),
    /// Serve the simulated SMS gateway over plain HTTP (it sends nothing and records what it
    /// takes: `GET /v1/messages`), for `[sms] url = "http://..."` on a build with the
    /// simulators; prints its URL.
    Sms(SmsArgs),
}

#[derive(Args)]
pub struct SmsArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8792")]
    listen: SocketAddr,
    /// Require this account (HTTP basic authentication) with the secret of `--secret-file`.
    #[arg(long, requires = "secret_file")]
    account: Option<String>,
    /// The account's secret.
    #[arg(long, requires = "account")]
    secret_file: Option<PathBuf>,
    /// Answer 503 to the first N requests (an outage).
    #[arg(long, default_value_t = 0)]
    outage: u32,
}

#[derive(Args)]
pub struct BankArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8791")]
    listen: SocketAddr,
    /// Accounts open from the start (a JSON list of card_number, bank_code, pan, holder_name,
    /// id_number, status). Default: none; the simulated counter opens each card's account.
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// Answer 503 to the first N requests (an outage).
    #[arg(long, default_value_t = 0)]
    outage: u32,
}

#[derive(Args)]
pub struct CounterArgs {
    /// vpcd port of the card (the PSAM uses the next one).
    #[arg(long, env = "STATION_VPCD_PORT", default_value_t = pcsc_stack::DEFAULT_VPCD_PORT)]
    vpcd_port: u16,
    /// Where the printer writes its PNGs.
    #[arg(long, default_value = "station-data/printed")]
    printed: PathBuf,
    /// The police register of the verification service.
    #[arg(long, default_value = "sim/idv-sim/roster.json")]
    roster: PathBuf,
    /// Firmware profile of the cards in the hopper.
    #[arg(long, default_value = "firmware-profiles/ssc-3g-sim.toml")]
    profile: PathBuf,
    /// Firmware profile of the PSAM.
    #[arg(long, default_value = "firmware-profiles/psam-sim.toml")]
    psam_profile: PathBuf,
    /// Factor on the printer's mechanical times.
    #[arg(long, default_value_t = 0.0)]
    timing_scale: f64,
    /// Keep every card the printer ejects as DIR/CARDNUMBER.json, a card state file for
    /// `station sim card --state` (made if missing, 0700). Default: cards are forgotten.
    #[arg(long, value_name = "DIR")]
    cards_out: Option<PathBuf>,
}

#[derive(Args)]
pub struct IdvArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8790")]
    listen: SocketAddr,
    /// The register of people (JSON list of id_number, name, status).
    #[arg(long, default_value = "sim/idv-sim/roster.json")]
    roster: PathBuf,
    /// Answer 503 to the first N requests (an outage).
    #[arg(long, default_value_t = 0)]
    outage: u32,
}

#[derive(Args)]
pub struct CardArgs {
    #[command(flatten)]
    devices: DeviceArgs,
    /// vpcd address of the user-card reader ("Virtual PCD 00 00").
    #[arg(long, default_value = card_sim::DEFAULT_USER_CARD_ADDR)]
    vpcd: SocketAddr,
    /// vpcd address of the PSAM reader ("Virtual PCD 00 01").
    #[arg(long, default_value = card_sim::DEFAULT_PSAM_ADDR)]
    psam_vpcd: SocketAddr,
    /// User card state file (loaded if present; the card survives restarts), e.g. a card the
    /// simulated counter made and kept (`cards-out/CARDNUMBER.json`). Default: none.
    #[arg(long)]
    state: Option<PathBuf>,
    /// PSAM state file.
    #[arg(long)]
    psam_state: Option<PathBuf>,
}

#[derive(Args)]
pub struct StackArgs {
    #[command(flatten)]
    devices: DeviceArgs,
    /// vpcd port of the user card; the PSAM uses the next one.
    #[arg(long, env = "STATION_VPCD_PORT", default_value_t = pcsc_stack::DEFAULT_VPCD_PORT)]
    port: u16,
    /// Where the cards' state files live.
    #[arg(long, default_value = "sim-state")]
    state_dir: PathBuf,
}

#[derive(Args)]
struct DeviceArgs {
    /// Firmware profile of the user card. Default: the profile an existing state file's card
    /// was made from (found in the firmware-profiles directory), else
    /// firmware-profiles/ssc-3g-sim.toml.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Firmware profile of the PSAM.
    #[arg(long, default_value = "firmware-profiles/psam-sim.toml")]
    psam_profile: PathBuf,
    /// No PSAM in the SAM slot.
    #[arg(long)]
    no_psam: bool,
    /// Faults for the user card, e.g. `pull-after=5,reinsert=2s`, `t0`, `wrong-le`, `slow=20ms`.
    #[arg(long, default_value = "none")]
    fault: Faults,
    /// A blank user card (keys loaded, files empty), ready for `station personalise`. Applies
    /// when its state file is created; an existing state file keeps its card.
    #[arg(long)]
    blank: bool,
}

impl DeviceArgs {
    /// The user card's profile: `--profile`; else, for a card in an existing `state` file (a
    /// kept card), the profile it was made from, `<firmware-profiles>/<id>.toml`; else the
    /// default.
    fn card_profile(&self, state: Option<&Path>) -> Result<PathBuf> {
        if let Some(p) = &self.profile {
            return Ok(p.clone());
        }
        let dir = super::profiles_dir(None);
        let Some(state) = state.filter(|s| s.exists()) else { return Ok(dir.join("ssc-3g-sim.toml")) };
        let image = card_sim::CardImage::read(state)?;
        let path = dir.join(format!("{}.toml", image.profile_id()));
        anyhow::ensure!(
            path.is_file(),
            "{} holds a card of profile {:?}, not in {}: name its profile with --profile",
            state.display(),
            image.profile_id(),
            dir.display()
        );
        Ok(path)
    }
}

pub fn run(cmd: SimCmd) -> Result<()> {
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .context("installing the Ctrl-C handler")?;
    match cmd {
        SimCmd::Card(args) => {
            let _handles =
                start_devices(&args.devices, args.vpcd, args.psam_vpcd, args.state, args.psam_state)?;
            let psam = if args.devices.no_psam {
                "no PSAM".to_string()
            } else {
                format!("PSAM on {}", args.psam_vpcd)
            };
            eprintln!("simulated card on {}, {psam}: Ctrl-C stops", args.vpcd);
            let _ = stop_rx.recv();
            Ok(())
        }
        SimCmd::Stack(args) => stack(args, stop_rx),
        SimCmd::Printer(args) => {
            let handle = printer_sim::serve(args.config())?;
            for selector in handle.selectors() {
                println!("printer: {selector}");
            }
            eprintln!("simulated printer up: Ctrl-C stops");
            let _ = stop_rx.recv();
            Ok(())
        }
        SimCmd::Counter(a) => {
            std::fs::create_dir_all(&a.printed)
                .with_context(|| format!("creating {}", a.printed.display()))?;
            let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
            let files = station::sim_devices::SimCounterFiles {
                card_profile: &a.profile,
                psam_profile: &a.psam_profile,
                roster: &a.roster,
                printed: &a.printed,
            };
            let mut counter =
                station::sim_devices::start_counter(a.vpcd_port, &files, a.timing_scale, &runtime)?;
            if let Some(dir) = &a.cards_out {
                counter.kept.keep_in(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            println!(
                "{}",
                serde_json::json!({
                    "card_reader": pcsc_stack::USER_CARD_READER,
                    "psam_reader": pcsc_stack::PSAM_READER,
                    "printer": counter.printer_selector.to_string(),
                    "identity_verification": counter.idv.url(),
                    "bank": counter.bank.url(),
                    "pcscd_pid": counter.pcscd.pid(),
                    "cards_out": a.cards_out,
                })
            );
            use std::io::Write;
            std::io::stdout().flush()?;
            let _ = stop_rx.recv();
            counter.pcscd.stop();
            Ok(())
        }
        SimCmd::Bank(args) => {
            let accounts = match &args.accounts {
                Some(path) => bank_sim::load_accounts(path)?,
                None => Vec::new(),
            };
            let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
            let handle = runtime.block_on(bank_sim::serve(args.listen, accounts))?;
            handle.faults.outage.store(args.outage, std::sync::atomic::Ordering::SeqCst);
            println!("{}", handle.url());
            use std::io::Write;
            std::io::stdout().flush()?;
            eprintln!("bank card system simulator on {}: Ctrl-C stops", handle.url());
            let _ = stop_rx.recv();
            Ok(())
        }
        SimCmd::Sms(args) => {
            let account = match (&args.account, &args.secret_file) {
                (Some(account), Some(file)) => Some(sms_sim::Account {
                    account: account.clone(),
                    secret: std::fs::read_to_string(file)
                        .with_context(|| format!("reading {}", file.display()))?
                        .trim()
                        .to_string(),
                }),
                _ => None,
            };
            let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
            let handle = runtime.block_on(sms_sim::serve(args.listen, account))?;
            handle.faults.outage.store(args.outage, std::sync::atomic::Ordering::SeqCst);
            println!("{}", handle.url());
            use std::io::Write;
            std::io::stdout().flush()?;
            eprintln!("SMS gateway simulator on {}: Ctrl-C stops", handle.url());
            let _ = stop_rx.recv();
            Ok(())
        }
        SimCmd::Idv(args) => {
            let roster = idv_sim::load_roster(&args.roster)?;
            let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
            let handle = runtime.block_on(idv_sim::serve(args.listen, roster))?;
            handle.faults.outage.store(args.outage, std::sync::atomic::Ordering::SeqCst);
            eprintln!("identity verification simulator on {}: Ctrl-C stops", handle.url());
            let _ = stop_rx.recv();
            Ok(())
        }
    }
}

fn start_devices(
    d: &DeviceArgs,
    vpcd: SocketAddr,
    psam_vpcd: SocketAddr,
    state: Option<PathBuf>,
    psam_state: Option<PathBuf>,
) -> Result<Vec<card_sim::VpcdHandle>> {
    let mut handles = vec![card_sim::start(&SimConfig {
        profile: d.card_profile(state.as_deref())?,
        state,
        faults: d.fault.clone(),
        vpcd,
        blank: d.blank,
    })?];
    if !d.no_psam {
        handles.push(card_sim::start(&SimConfig {
            profile: d.psam_profile.clone(),
            state: psam_state,
            faults: Faults::default(),
            vpcd: psam_vpcd,
            blank: false,
        })?);
    }
    Ok(handles)
}

fn stack(args: StackArgs, stop: std::sync::mpsc::Receiver<()>) -> Result<()> {
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating {}", args.state_dir.display()))?;
    let mut pcscd = pcsc_stack::Pcscd::start(args.port)?;
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let state = |name: &str| Some(Path::new(&args.state_dir).join(name));
    let _handles = start_devices(
        &args.devices,
        addr(args.port),
        addr(args.port + 1),
        state("user-card.json"),
        state("psam.json"),
    )?;
    eprintln!(
        "pcscd pid {:?} (log {}), vpcd ports {} and {}",
        pcscd.pid(),
        pcscd.log_path().display(),
        args.port,
        args.port + 1
    );
    let mut manager = pcsc_reader::PcscManager::new()?;
    let event =
        manager.wait_for_card(pcsc_stack::USER_CARD_READER, Some(std::time::Duration::from_secs(10)))?;
    anyhow::ensure!(
        matches!(event, pcsc_reader::ReaderEvent::CardInserted { .. }),
        "the simulated card did not appear in {} ({event:?})",
        pcsc_stack::USER_CARD_READER
    );
    for r in card_transport::ReaderManager::list_readers(&mut manager)? {
        println!("{:<12} {:<8} {}", r.kind, if r.card_present { "card" } else { "empty" }, r.name);
    }
    let known = super::known_applications(&super::profiles_dir(None))?;
    let report = super::read_card(&mut manager, pcsc_stack::USER_CARD_READER, &known, None)?;
    print!("{report}");
    println!("station is up on simulated devices; Ctrl-C stops pcscd and the simulators");
    let _ = stop.recv();
    pcscd.stop();
    Ok(())
}
