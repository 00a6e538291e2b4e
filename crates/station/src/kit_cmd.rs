//! `station kit ...`: the outreach kit (上门服务) from the station's one binary. The kit's
//! store (`outreach::Kit`, sealed under the operator's password) holds the lease, the outbox
//! and the applicants' data taken at checkout; cards are made on the visit through the same
//! card path as the counter's (`Counter`: the chip through PC/SC, the face through the
//! card printer), and everything goes to the provincial archive at `kit sync`.
//!
//! A make is journalled in the kit's store before the blank card is fed and after each device
//! step; a device error or a crash in the middle leaves a spoiled card that the journal
//! names: it is rejected and recorded spoiled (at once, or by the next `kit make`), and goes
//! to the province with the rest.
//!
//! The password comes from `STATION_PASSWORD`, never from the command line; so do ID numbers
//! (`STATION_ID_NUMBER`, `STATION_RECEIVER_ID`, or asked on the terminal: `station::id_input`),
//! and they are shown masked. The kit's short-lived certificate and key live sealed in its store
//! (`kit init --identity FILE`, renewed with `kit identity --import FILE`), not in a file on
//! the laptop: the configuration's `identity` is the counter's, never the kit's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use applicant::{mask_id, Applicant, Validated};
use archive::ProvincialArchive;
use base64::Engine as _;
use issuance::device::{Aside, CardJournal, CardOrder, CardProgress, StepEvent};
use issuance::lifecycle::{ActivationEvidence, Channel};
use issuance::{FaceText, Step};
use outreach::identity::{renewal_warning, standing, Standing};
use outreach::{Kit, KitIdentity};
use printer::PrintJob;
use station::counter::{Counter, FaceProblem, FaceRenderer};
use station::visits::VisitList;

#[derive(clap::Subcommand)]
pub enum KitCmd {
    /// Create the kit's encrypted store (the password from STATION_PASSWORD), with the kit's
    /// certificate and key from the province sealed in it.
    Init(InitArgs),
    /// Import the kit's certificate and key (kit-KIT.pem from the province, first or renewed)
    /// into its sealed store; without --import, show the certificate it holds.
    Identity(IdentityArgs),
    /// Check a visit list out at the provincial archive before leaving: the people are claimed
    /// for the kit, a card number reserved for each; their data travel sealed in the store.
    Checkout(CheckoutArgs),
    /// The lease, each visit and where it stands, time left offline, the outbox.
    Status(StatusArgs),
    /// Make a person's card on the visit under their reserved number: chip and face through
    /// the counter's card path, read back. Each step is journalled; a make that a crash or a
    /// pulled card interrupted is settled first (the card rejected and recorded spoiled).
    Make(MakeArgs),
    /// Hand a card (pre-made, or made on the visit) to its holder, who signs.
    Handover(HandoverArgs),
    /// Activate the financial function face to face, with the holder's photo taken now.
    Activate(ActivateArgs),
    /// Record a visit that gave the person nothing, with the reason (their card, if the kit
    /// carries one, goes back to stock at the check-in).
    Fail(FailArgs),
    /// Back online: send the outbox to the provincial archive and check the lease in.
    Sync(SyncArgs),
    /// The kit's record-signing key in its own token ([kit.token] of the configuration).
    #[command(subcommand)]
    Keys(KitKeysCmd),
}

/// `station kit keys ...`.
#[derive(clap::Subcommand)]
pub enum KitKeysCmd {
    /// Make the kit's record-signing key (ECDSA P-256) inside its token: every record the kit
    /// writes is signed there, and the province refuses a record its signature does not cover.
    Generate(KeysGenerateArgs),
    /// The key [kit] names: its label, token and fingerprint.
    Show(KeysShowArgs),
}

#[derive(clap::Args)]
pub struct KeysGenerateArgs {
    /// The station's configuration (its [kit.token]).
    #[arg(long, env = "STATION_CONFIG")]
    config: PathBuf,
    /// The key's label in the token; default: [kit] record_key, or kit-record.
    #[arg(long)]
    label: Option<String>,
}

#[derive(clap::Args)]
pub struct KeysShowArgs {
    /// The station's configuration (its [kit]).
    #[arg(long, env = "STATION_CONFIG")]
    config: PathBuf,
}

/// The store and who logs in.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The kit's store (one encrypted SQLite file).
    #[arg(long, env = "STATION_KIT_STORE")]
    store: PathBuf,
    /// The operator on the visit.
    #[arg(long, env = "STATION_OPERATOR")]
    operator: String,
    /// The station's configuration: its `[kit]` names the kit's token and record-signing key,
    /// its `[counter]` the provincial archive and the devices.
    #[arg(long, env = "STATION_CONFIG")]
    config: Option<PathBuf>,
}

/// Where the provincial archive and the devices are, beside the station's configuration.
#[derive(clap::Args)]
pub struct StationArgs {
    /// Without --config: the embedded default's data directory (SQLite provincial archive).
    #[arg(long, default_value = "station-data")]
    data_dir: PathBuf,
    /// Deprecated: the kit's certificate and key from a file instead of its sealed store
    /// (import it once with `station kit identity --import FILE` and delete the file).
    #[arg(long)]
    identity: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The kit's id: its certificate name at the province.
    #[arg(long)]
    kit_id: String,
    /// The kit's certificate and key from the province (kit-KIT.pem), sealed into the store;
    /// needed to reach the provincial service.
    #[arg(long)]
    identity: Option<PathBuf>,
    /// Delete the --identity file once it is sealed in the store.
    #[arg(long, requires = "identity")]
    remove_file: bool,
}

#[derive(clap::Args)]
pub struct IdentityArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The kit's certificate and key from the province (kit-KIT.pem): sealed into the store in
    /// place of the one before.
    #[arg(long)]
    import: Option<PathBuf>,
    /// Delete the imported file once it is sealed in the store.
    #[arg(long, requires = "import")]
    remove_file: bool,
}

#[derive(clap::Args)]
pub struct CheckoutArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    station: StationArgs,
    /// The visit list: a JSON array of `{"applicant": {...}}` (a card may be made on the
    /// visit) or `{"ssn": ..., "name": ..., "premade_card": "B..."}` (a batch card travels).
    list: PathBuf,
    /// Where the applicants' `photo` files are; default: beside the list.
    #[arg(long)]
    photos: Option<PathBuf>,
    /// Hours the archive holds the people for the kit (at most a week).
    #[arg(long, default_value_t = 72)]
    lease_hours: i64,
    /// Longest time offline: after this many hours nothing is issued before a sync.
    #[arg(long, default_value_t = 48)]
    max_offline_hours: i64,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct MakeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    station: StationArgs,
    /// Only settle a make that was interrupted (reject its card, record it spoiled); make no
    /// new card. Without it, the card is made for the person whose ID number STATION_ID_NUMBER
    /// gives (or asked on the terminal).
    #[arg(long)]
    settle: bool,
    /// Where the firmware profiles are.
    #[arg(long, env = "STATION_PROFILES")]
    profiles: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct HandoverArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Who signed for the card. The holder's ID number comes from STATION_ID_NUMBER and the
    /// number on the receiver's ID document, checked now, from STATION_RECEIVER_ID (each asked
    /// on the terminal when not set): RULE 4, the holder, or a custodian (`--custodian`).
    #[arg(long)]
    signer: String,
    /// The receiver is this custodian (name as on their ID document), admitted by a custody
    /// approval of the card the kit carries from its checkout; the holder otherwise.
    #[arg(long)]
    custodian: Option<String>,
    /// Their signature (PNG from the signature pad).
    #[arg(long)]
    signature: PathBuf,
    /// The card; default: the one the kit holds for this person.
    #[arg(long)]
    card: Option<String>,
}

#[derive(clap::Args)]
pub struct ActivateArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The holder's photo taken now (JPEG); the holder's ID number from STATION_ID_NUMBER (or
    /// asked on the terminal).
    #[arg(long)]
    photo: PathBuf,
    /// The holder is here in person (not a proxy).
    #[arg(long)]
    holder_present: bool,
    /// The holder's ID document was checked now.
    #[arg(long)]
    id_checked: bool,
    /// The card; default: the one handed over to this person on the visit.
    #[arg(long)]
    card: Option<String>,
}

#[derive(clap::Args)]
pub struct FailArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Why the visit gave the person (STATION_ID_NUMBER, or asked) nothing.
    #[arg(long)]
    reason: String,
}

#[derive(clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    station: StationArgs,
}

pub fn run(cmd: KitCmd) -> Result<()> {
    match cmd {
        KitCmd::Init(a) => init(a),
        KitCmd::Identity(a) => identity(a),
        KitCmd::Checkout(a) => checkout(a),
        KitCmd::Status(a) => status(a),
        KitCmd::Make(a) => make(a),
        KitCmd::Handover(a) => handover(a),
        KitCmd::Activate(a) => activate(a),
        KitCmd::Fail(a) => fail(a),
        KitCmd::Sync(a) => sync(a),
        KitCmd::Keys(KitKeysCmd::Generate(a)) => keys_generate(a),
        KitCmd::Keys(KitKeysCmd::Show(a)) => keys_show(a),
    }
}

/// The `[kit]` of `config`, or what to do without it.
fn kit_settings(config: Option<&Path>) -> Result<station::kit_key::KitSettings> {
    let settings = config.map(station::kit_key::settings).transpose()?.flatten();
    settings.ok_or_else(|| anyhow::anyhow!(station::kit_key::not_configured(config)))
}

fn keys_generate(a: KeysGenerateArgs) -> Result<()> {
    let settings = kit_settings(Some(&a.config))?;
    let label = a.label.unwrap_or_else(|| settings.record_key.clone());
    let store = station::kit_key::token(&settings)?;
    let public = store.generate_record_key(&label)?;
    println!(
        "record key {label:?} (ECDSA P-256) made in the kit's token {}: fingerprint {}. It exists only in the \
         token and never leaves it. Name it in the configuration: [kit] record_key = {label:?}; the kit sends \
         its public half at each checkout",
        settings.token.label,
        station::kit_key::fingerprint(&public)
    );
    Ok(())
}

fn keys_show(a: KeysShowArgs) -> Result<()> {
    let settings = kit_settings(Some(&a.config))?;
    let key = station::kit_key::open(&settings)?;
    println!(
        "record key {:?} in token {}: fingerprint {}",
        key.label(),
        settings.token.label,
        station::kit_key::fingerprint(key.public_key())
    );
    Ok(())
}

fn password() -> Result<String> {
    std::env::var("STATION_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .context("set STATION_PASSWORD to the kit operator's password (never on the command line)")
}

fn open(s: &StoreArgs) -> Result<Kit> {
    Kit::open(&s.store, &s.operator, &password()?)
        .with_context(|| format!("logging in to the kit store {}", s.store.display()))
}

/// Logs in to the kit's store with its record-signing key open in its token: what every
/// command that checks out or writes a record needs.
fn open_signing(s: &StoreArgs) -> Result<Kit> {
    let settings = kit_settings(s.config.as_deref())?;
    let key = station::kit_key::open(&settings)?;
    let mut kit = open(s)?;
    kit.use_record_key(key);
    Ok(kit)
}

fn init(a: InitArgs) -> Result<()> {
    let password = password()?;
    // Checked before the store exists: a wrong file leaves nothing half made.
    let identity = a
        .identity
        .as_deref()
        .map(|file| KitIdentity::from_file(file, &a.kit_id, now()).map(|identity| (file, identity)))
        .transpose()?;
    let mut kit = Kit::create(&a.store.store, &a.kit_id, &a.store.operator, &password)?;
    println!("kit {} store created at {}", kit.kit_id(), a.store.store.display());
    match identity {
        Some((file, identity)) => seal_identity(&mut kit, file, &identity, a.remove_file)?,
        None => println!(
            "the kit has no certificate yet: import the kit-{}.pem the province made for it (station kit \
             identity --import FILE) before it talks to the provincial service",
            kit.kit_id()
        ),
    }
    println!("check a visit list out before leaving (station kit checkout)");
    Ok(())
}

fn identity(a: IdentityArgs) -> Result<()> {
    let mut kit = open(&a.store)?;
    let Some(file) = &a.import else {
        println!("kit {}: {}", kit.kit_id(), certificate_text(&kit)?);
        return Ok(());
    };
    let identity = KitIdentity::from_file(file, kit.kit_id(), kit.now())?;
    seal_identity(&mut kit, file, &identity, a.remove_file)
}

/// Seals `identity`, read from `file`, into the kit's store, and deletes the file with
/// `remove` (or tells the operator to): the key must not stay beside the store.
fn seal_identity(kit: &mut Kit, file: &Path, identity: &KitIdentity, remove: bool) -> Result<()> {
    let c = kit.import_identity(identity.pem())?;
    println!(
        "certificate of kit {} (station {}) sealed in the kit's store: valid until {}",
        c.id,
        c.owner.as_deref().unwrap_or("?"),
        when(c.not_after)
    );
    if let Some(warning) = renewal_warning(&c, kit.now()) {
        eprintln!("warning: {warning}");
    }
    if remove {
        std::fs::remove_file(file)
            .with_context(|| format!("deleting {}: delete it by hand", file.display()))?;
        println!("{} deleted", file.display());
    } else {
        println!(
            "delete {} now: the kit's key must not stay in a file on the kit (--remove-file does it)",
            file.display()
        );
    }
    Ok(())
}

/// `unix_seconds` in China Standard Time, to the minute.
fn when(unix_seconds: i64) -> String {
    let minute = (unix_seconds + 8 * 3600).rem_euclid(86_400) / 60;
    format!("{} {:02}:{:02} (UTC+8)", station::clock::date_at(unix_seconds), minute / 60, minute % 60)
}

/// The kit's certificate for `kit status`: when it ends and what to do about it.
fn certificate_text(kit: &Kit) -> Result<String> {
    let Some(c) = kit.certificate()? else {
        return Ok(format!(
            "no certificate: import the kit-{}.pem the province made for it (station kit identity --import FILE)",
            kit.kit_id()
        ));
    };
    let owner = c.owner.as_deref().unwrap_or("STATION");
    Ok(match standing(&c, kit.now()) {
        Standing::Valid => format!("certificate valid until {}", when(c.not_after)),
        Standing::RenewSoon => format!(
            "certificate ends soon, {}: {}",
            when(c.not_after),
            outreach::identity::renewal(&c.id, owner)
        ),
        Standing::Expired => format!(
            "certificate EXPIRED {}: the province refuses the kit; {}",
            when(c.not_after),
            outreach::identity::renewal(&c.id, owner)
        ),
    })
}

/// The kit's certificate for `kit status --json`.
fn certificate_json(kit: &Kit) -> Result<serde_json::Value> {
    Ok(match kit.certificate()? {
        None => serde_json::Value::Null,
        Some(c) => serde_json::json!({
            "kit": c.id, "owner": c.owner, "not_after": c.not_after,
            "standing": match standing(&c, kit.now()) {
                Standing::Valid => "valid",
                Standing::RenewSoon => "renew-soon",
                Standing::Expired => "expired",
            },
        }),
    })
}

fn config(path: Option<&Path>) -> Result<Option<station::config::StationConfig>> {
    path.map(|p| station::config::StationConfig::load(p).map_err(anyhow::Error::from)).transpose()
}

/// The provincial archive the station uses, as this kit (its id is the station id there; on
/// one machine the kit belongs to that machine's station). The service sees the kit's own
/// certificate, out of its sealed store.
fn province(path: Option<&Path>, s: &StationArgs, kit: &Kit) -> Result<Box<dyn ProvincialArchive>> {
    let kit_id = kit.kit_id();
    let sqlite = |dir: &Path, owner: &str| -> Result<Box<dyn ProvincialArchive>> {
        let path = dir.join("provincial.db");
        let db = archive::SqliteProvincial::as_kit(&path, kit_id, owner, 'B').with_context(|| {
            format!(
                "opening the provincial archive {}: give the station's --config or --data-dir",
                path.display()
            )
        })?;
        Ok(Box::new(db))
    };
    let Some(config) = config(path)? else {
        return sqlite(&s.data_dir, &daemon::config::Config::embedded(&s.data_dir)?.station);
    };
    let counter = config
        .counter
        .as_ref()
        .context("the configuration has no [counter] section: it names the provincial archive")?;
    match &counter.provincial {
        station::config::ProvincialConfig::Sqlite => sqlite(&config.daemon.data_dir, &config.daemon.station),
        station::config::ProvincialConfig::Service { url, ca, .. } => {
            let identity =
                kit.identity_for_connection(s.identity.as_deref(), &mut |w| eprintln!("warning: {w}"))?;
            Ok(Box::new(provincial::Client::from_pem(url, ca, identity.pem(), Duration::from_secs(15))?))
        }
    }
}

fn checkout(a: CheckoutArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.list).with_context(|| format!("reading {}", a.list.display()))?;
    let photos = a.photos.clone().unwrap_or_else(|| a.list.parent().unwrap_or(Path::new(".")).to_path_buf());
    let mut read_photo = |p: &str| {
        let path = photos.join(p);
        std::fs::read(&path)
            .with_context(|| format!("photo {}: put it beside the list or give --photos DIR", path.display()))
    };
    let VisitList { visits, carried } = station::visits::read(
        &text,
        &a.list.display().to_string(),
        station::clock::today(),
        &mut read_photo,
    )?;
    let mut kit = open_signing(&a.store)?;
    let province = province(a.store.config.as_deref(), &a.station, &kit)?;
    // Everyone the kit is to make a card for is verified online now: nobody unverified is
    // carried or claimed, so no card is made offline for them.
    let VisitList { visits, carried } =
        verify_carried(a.store.config.as_deref(), kit.kit_id(), VisitList { visits, carried })?;
    // The data go into the sealed store first: a checkout whose answer is lost is resent.
    for (ssn, data) in &carried {
        kit.carry(ssn, data)?;
    }
    let out = kit
        .checkout(province.as_ref(), visits, a.lease_hours * 3600, a.max_offline_hours * 3600)
        .context("checking the visit list out at the provincial archive")?
        .clone();
    println!(
        "lease {}: {} people claimed for kit {}, a card number reserved for each",
        out.lease_id,
        out.visits.len(),
        out.kit
    );
    for v in &out.visits {
        match &v.premade_card {
            Some(card) => println!("  {} {}: card {card} travels with the kit", mask_id(&v.ssn), v.name),
            None => println!("  {} {}: number {} reserved", mask_id(&v.ssn), v.name, v.card_number),
        }
    }
    for r in &out.refused {
        println!(
            "  REFUSED {}: {} (nothing can be issued to them on this visit)",
            mask_id(&r.ssn),
            r.refusal
        );
    }
    if let Some(lease) = kit.lease() {
        println!("sync within {} before issuing more", hours_left(lease.must_sync_by - now()));
    }
    Ok(())
}

/// Verifies every carried applicant with the bank–police service `[counter]
/// identity_verification` names (their document's validity sent too) and takes the ones not
/// confirmed off the list, each said with the register's hint; an unreachable service stops
/// the checkout (a kit leaves only with verified people). Visits without an applicant (a card
/// made at a counter, handed over on the visit) were verified when their card was made.
fn verify_carried(path: Option<&Path>, kit_id: &str, list: VisitList) -> Result<VisitList> {
    let VisitList { visits, carried } = list;
    if carried.is_empty() {
        return Ok(VisitList { visits, carried });
    }
    let config = config(path)?.context(
        "the kit verifies each applicant's identity online at checkout: give the station's --config \
         (its [counter] identity_verification)",
    )?;
    let counter = config.counter.as_ref().context("the configuration has no [counter] section")?;
    let verifier = station::serve::identity_verifier(&counter.identity_verification)?;
    let mut refused = std::collections::HashSet::new();
    for (i, (ssn, data)) in carried.iter().enumerate() {
        let carried: station::visits::CarriedApplicant =
            serde_json::from_slice(data).context("the carried applicant")?;
        let applicant: Applicant =
            serde_json::from_value(carried.applicant).context("the carried applicant")?;
        let validated = applicant
            .validate(station::clock::today())
            .map_err(|e| anyhow::anyhow!("{}: the applicant's data need correcting:\n{e}", mask_id(ssn)))?;
        let query = idv::IdentityQuery {
            request_id: format!("{kit_id}-checkout-{}-{i}", now()),
            id_number: ssn.clone(),
            name: validated.name.as_str().to_string(),
            valid_until: validated.id_validity.map(|v| v.to.to_string()),
        };
        match idv::IdentityVerifier::verify(&verifier, &query) {
            Ok(idv::Verdict::Match) => {}
            Ok(idv::Verdict::Mismatch { fields }) => {
                let hints: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.hint)).collect();
                println!(
                    "  REFUSED {}: identity not confirmed ({}); correct the visit list and check out again, \
                     or serve them at a counter",
                    mask_id(ssn),
                    hints.join("; ")
                );
                refused.insert(ssn.clone());
            }
            Err(e) => bail!(
                "identity verification unreachable ({e}): a kit leaves only with people verified online; \
                 check out again when the service answers"
            ),
        }
    }
    let visits = visits.into_iter().filter(|v| !refused.contains(&v.ssn)).collect();
    let carried = carried.into_iter().filter(|(ssn, _)| !refused.contains(ssn)).collect();
    Ok(VisitList { visits, carried })
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn hours_left(seconds: i64) -> String {
    if seconds <= 0 {
        return "no time: sync now".into();
    }
    format!("{} h {:02} min", seconds / 3600, seconds % 3600 / 60)
}

fn status(a: StatusArgs) -> Result<()> {
    let kit = open(&a.store)?;
    let certificate = certificate_json(&kit)?;
    let Some(lease) = kit.lease() else {
        if a.json {
            println!(
                "{}",
                serde_json::json!({"kit": kit.kit_id(), "lease_id": null, "certificate": certificate})
            );
        } else {
            println!("kit {}: no visit list checked out; {}", kit.kit_id(), certificate_text(&kit)?);
        }
        return Ok(());
    };
    let states = kit.visit_states();
    let synced = kit.outbox().iter().filter(|o| o.result.is_some()).count();
    let visits: Vec<serde_json::Value> = lease
        .checkout
        .visits
        .iter()
        .map(|v| {
            let s = states.get(&v.ssn).cloned().unwrap_or_default();
            serde_json::json!({
                "ssn": mask_id(&v.ssn), "name": v.name, "reserved_number": v.card_number,
                "premade_card": v.premade_card, "made": s.made, "handed_over": s.handed_over,
                "activated": s.activated, "failures": s.failures, "spoiled": s.spoiled,
                "custody": v.custody.iter().map(|c| serde_json::json!({"approval_id": c.approval_id,
                    "custodian": c.approval.custodian, "custodian_id": c.approval.custodian_id,
                    "group": c.approval.holder_group, "valid_until": c.approval.valid_until})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let refused: Vec<serde_json::Value> = lease
        .checkout
        .refused
        .iter()
        .map(|r| serde_json::json!({"ssn": mask_id(&r.ssn), "refusal": r.refusal.to_string()}))
        .collect();
    let left = lease.must_sync_by - now();
    let interrupted = kit.interrupted_making().map(|m| {
        serde_json::json!({"ssn": mask_id(&m.ssn), "card_number": m.card_number, "attempt": m.attempt,
            "steps": m.steps})
    });
    let report = serde_json::json!({
        "certificate": certificate,
        "interrupted_make": interrupted,
        "kit": kit.kit_id(), "lease_id": lease.checkout.lease_id, "expires_at": lease.checkout.expires_at,
        "must_sync_by": lease.must_sync_by, "seconds_left_offline": left.max(0),
        "checked_in": lease.checkin.is_some(), "outbox": kit.outbox().len(), "synced": synced,
        "in_custody": kit.in_custody(), "visits": visits, "refused": refused,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "kit {}, lease {}{}; outbox {} records, {} synced",
        kit.kit_id(),
        lease.checkout.lease_id,
        if lease.checkin.is_some() {
            " (checked in)".to_string()
        } else {
            format!(", offline time left {}", hours_left(left))
        },
        kit.outbox().len(),
        synced
    );
    println!("{}", certificate_text(&kit)?);
    for v in &lease.checkout.visits {
        let s = states.get(&v.ssn).cloned().unwrap_or_default();
        let state = if !s.activated.is_empty() {
            format!("activated {}", s.activated.join(", "))
        } else if !s.handed_over.is_empty() {
            format!("handed over {}", s.handed_over.join(", "))
        } else if let Some(made) = &s.made {
            format!("card {made} made, not handed over")
        } else if let Some(f) = s.failures.last() {
            format!("failed: {f}")
        } else if let Some(card) = &v.premade_card {
            format!("to visit; card {card} in the kit")
        } else {
            format!("to visit; number {} reserved", v.card_number)
        };
        let spoiled =
            if s.spoiled.is_empty() { String::new() } else { format!(" ({} spoiled)", s.spoiled.len()) };
        println!("  {} {}: {state}{spoiled}", mask_id(&v.ssn), v.name);
        for c in &v.custody {
            println!(
                "    custodian {} ({}) approved for card {} until {} ({})",
                c.approval.custodian,
                c.approval.custodian_id,
                c.approval.card_number,
                c.approval.valid_until,
                c.approval.holder_group
            );
        }
    }
    if let Some(m) = kit.interrupted_making() {
        println!(
            "INTERRUPTED: card {} for {} (attempt {}) was being made when the kit stopped{}: run station kit \
             make --settle (or the next station kit make) to settle it: its card is rejected and recorded \
             spoiled before anything more is made or synced",
            m.card_number,
            mask_id(&m.ssn),
            m.attempt,
            if m.steps.is_empty() { String::new() } else { format!(" (done: {})", m.steps.join(", ")) }
        );
    }
    for r in &lease.checkout.refused {
        println!("  {} refused at checkout: {}", mask_id(&r.ssn), r.refusal);
    }
    let custody = kit.in_custody();
    if !custody.is_empty() {
        println!("cards in the kit's custody (bring back what is not handed over): {}", custody.join(", "));
    }
    Ok(())
}

/// The face of a card made on a visit: the counter's layout, the photo carried in the store.
struct CarriedFaces {
    layout: station::faces::CardFaceRenderer,
    photo: Option<Vec<u8>>,
}

impl FaceRenderer for CarriedFaces {
    fn render(&self, face: &FaceText) -> Result<PrintJob, FaceProblem> {
        self.layout.render_with_photo(face, self.photo.clone())
    }
}

/// The kit's journal of card making (its sealed store) as the device sequence journals each
/// step, with the test-only crash hook of simulator builds.
struct KitJournal<'k>(&'k mut Kit);

impl CardJournal for KitJournal<'_> {
    fn step_done(
        &mut self,
        step: Step,
        progress: &CardProgress,
        event: Option<&StepEvent>,
    ) -> Result<(), issuance::IssueError> {
        CardJournal::step_done(self.0, step, progress, event)?;
        crash_after(step);
        Ok(())
    }
}

/// `STATION_KIT_CRASH_AT=STEP` (a device step's name: `feed-card`, `personalise-ssc`, ...)
/// kills `station kit make` right after that step is journalled: the kill -9 tests. Only in
/// builds with the simulators.
#[cfg(feature = "sim")]
fn crash_after(step: Step) {
    if std::env::var("STATION_KIT_CRASH_AT").is_ok_and(|s| s == step.name()) {
        station::crash::kill_now(step.name());
    }
}

#[cfg(not(feature = "sim"))]
fn crash_after(_: Step) {}

/// The applicant the kit carries for `ssn`, and their photo.
fn carried_applicant(kit: &Kit, ssn: &str) -> Result<(Validated, Option<Vec<u8>>)> {
    let carried = kit.carried(ssn)?.with_context(|| {
        format!(
            "the kit carries no applicant data for {}: it was not on the visit list with its applicant; \
             send the person to a counter",
            mask_id(ssn)
        )
    })?;
    let carried: station::visits::CarriedApplicant =
        serde_json::from_slice(&carried).context("the carried applicant data")?;
    let applicant: Applicant = serde_json::from_value(carried.applicant).context("the carried applicant")?;
    let validated = applicant
        .validate(station::clock::today())
        .map_err(|e| anyhow::anyhow!("the applicant's data need correcting:\n{e}"))?;
    anyhow::ensure!(
        validated.id.as_str() == ssn,
        "the carried applicant is someone else: call the supervisor"
    );
    let photo = carried
        .photo
        .map(|p| base64::engine::general_purpose::STANDARD.decode(p))
        .transpose()
        .context("the carried photo")?;
    Ok((validated, photo))
}

fn make(a: MakeArgs) -> Result<()> {
    let mut kit = open_signing(&a.store)?;
    let interrupted = kit.interrupted_making().cloned();
    let person = match a.settle {
        false => {
            let ssn = &station::id_input::HOLDER.read()?;
            // Asked before a blank card is spent.
            let visit = kit.may_make(ssn)?;
            let (validated, photo) = carried_applicant(&kit, ssn)?;
            Some((visit, validated, photo))
        }
        _ if interrupted.is_none() => {
            println!("no make was interrupted: nothing to settle");
            return Ok(());
        }
        _ => None,
    };

    let config = config(a.store.config.as_deref())?.context(
        "give --config: the station's configuration names the printer, the readers and the card profile",
    )?;
    let counter =
        config.counter.clone().context("the configuration has no [counter] section: name the devices")?;
    if counter.printer.trim().is_empty() {
        bail!(
            "this kit has no card printer (the configuration's printer is empty): no card can be made on this \
             visit; only pre-made cards can be handed over (station kit handover), the others are served at a \
             counter or on a visit with a printer"
        );
    }
    let station::serve::CounterParts { profile, mut printer, mut manager, params, financial } =
        station::serve::open_counter_parts(&counter, &crate::profiles_dir(a.profiles.clone()))?;
    let faces = CarriedFaces {
        // The photo comes sealed in the kit's store (render_with_photo), never from a file.
        layout: station::faces::CardFaceRenderer::builtin(
            profile.generation,
            config.daemon.data_dir.clone(),
            None,
        )?,
        photo: person.as_ref().and_then(|(_, _, photo)| photo.clone()),
    };
    let mut path = Counter {
        readers: &mut manager,
        card_reader: counter.card_reader.clone(),
        psam_reader: counter.psam_reader.clone(),
        printer: &mut printer,
        faces: &faces,
        profile: &profile,
        card_timeout: Duration::from_secs(15),
        financial: financial.as_ref(),
        sim_accounts: None,
        track: Default::default(),
    };

    if let Some(m) = &interrupted {
        let done = if m.steps.is_empty() { "before any device step".to_string() } else { m.steps.join(", ") };
        let settled = settle(&mut kit, &mut path, &format!("the make was interrupted (done: {done})"))?;
        println!(
            "interrupted make of card {} (attempt {}) settled: {}",
            m.card_number, m.attempt, settled.said
        );
        if settled.operator_first {
            bail!("{}; then run station kit make again", settled.said);
        }
    }
    let Some((visit, validated, _)) = person else { return Ok(()) };
    let ssn = validated.id.as_str().to_string();

    let making = kit.begin_making(&ssn)?;
    let order = CardOrder {
        validated: &validated,
        card_number: &visit.card_number,
        params: &params,
        profile: &profile,
        bank: None,
    };
    let made = issuance::device::make_card(&mut path, &order, &mut KitJournal(&mut kit));
    let (card_id, atr) = match made {
        Ok(p) => (p.card_id.unwrap_or_default(), p.atr.unwrap_or_default()),
        Err(e) => {
            let settled = settle(&mut kit, &mut path, &e.to_string())?;
            bail!(
                "{e}; {}. Number {} is still reserved: fix the device and run station kit make again",
                settled.said,
                making.card_number
            );
        }
    };
    let number = kit.make_card(&ssn, &card_id, &atr).with_context(|| {
        format!(
            "the card {} was made but could not be recorded: keep it and call the supervisor",
            visit.card_number
        )
    })?;
    println!(
        "card {number} made for {} (card id {card_id}, attempt {}): chip read back, face printed; hand it over \
         with station kit handover",
        mask_id(&ssn),
        making.attempt
    );
    Ok(())
}

/// What settling an open make did.
struct Settled {
    /// For the operator.
    said: String,
    /// The card could not be moved: the operator takes it out before the next card.
    operator_first: bool,
}

/// Settles the open make (after a device fault, or found open after a crash): asks the card
/// path where the card is, rejects it if it is still in the printer, and records it spoiled
/// (the counter's rule: a card that was fed ends made or spoiled, never unaccounted for). A
/// card never fed spent nothing and is not recorded as spoiled.
fn settle(kit: &mut Kit, path: &mut Counter<'_>, reason: &str) -> Result<Settled> {
    let m = kit.interrupted_making().cloned().context("no make to settle")?;
    let fed = !m.steps.is_empty();
    let said =
        |said: String, operator_first: bool| -> Result<Settled> { Ok(Settled { said, operator_first }) };
    let spoil = |kit: &mut Kit, why: &str| -> Result<i64> {
        kit.spoil_making(why).with_context(|| {
            format!(
                "card {} is spoiled but could not be recorded: keep it and call the supervisor",
                m.card_number
            )
        })
    };
    match issuance::device::put_aside(path, fed) {
        Aside::NeverFed => {
            kit.making_not_fed(reason)?;
            said("no card had left the hopper: nothing was spent".into(), false)
        }
        Aside::Rejected => {
            let seq = spoil(kit, reason)?;
            said(format!("the card went to the reject box, recorded spoiled (outbox record {seq})"), false)
        }
        Aside::TakeOut(Some(e)) => {
            let seq = spoil(kit, reason)?;
            said(
                format!(
                    "the spoiled card cannot be moved ({}): take it out of the printer and put it with the \
                     rejected cards (recorded spoiled, outbox record {seq})",
                    e.message
                ),
                true,
            )
        }
        Aside::InRejectBox => {
            let seq = spoil(kit, reason)?;
            said(format!("the card is in the reject box, recorded spoiled (outbox record {seq})"), false)
        }
        Aside::LeftPrinter => {
            let seq = spoil(kit, reason)?;
            said(
                format!(
                    "the card left the printer: it is spoiled, put it with the rejected cards (recorded, outbox \
                     record {seq})"
                ),
                false,
            )
        }
        Aside::TakeOut(None) => {
            let seq = spoil(kit, reason)?;
            said(
                format!(
                    "the printer cannot say where the card is: open it and take the card out (recorded spoiled, \
                     outbox record {seq})"
                ),
                true,
            )
        }
    }
}

/// The card the kit holds for `ssn` (pre-made, or made on this visit) and not handed over.
fn card_in_custody(kit: &Kit, ssn: &str) -> Option<String> {
    let lease = kit.lease()?;
    let visit = lease.checkout.visits.iter().find(|v| v.ssn == ssn)?;
    let state = kit.visit_states().remove(ssn).unwrap_or_default();
    visit.premade_card.iter().chain(state.made.iter()).find(|c| !state.handed_over.contains(c)).cloned()
}

fn handover(a: HandoverArgs) -> Result<()> {
    let ssn = station::id_input::HOLDER.read()?;
    let shown = station::id_input::RECEIVER.read()?;
    let mut kit = open_signing(&a.store)?;
    let signature = std::fs::read(&a.signature)
        .with_context(|| format!("reading the signature {}", a.signature.display()))?;
    let card = match a.card.clone().or_else(|| card_in_custody(&kit, &ssn)) {
        Some(c) => c,
        None => bail!(
            "the kit holds no card for {} to hand over: make it first (station kit make) or record why \
             not (station kit fail)",
            mask_id(&ssn)
        ),
    };
    let receiver = match &a.custodian {
        Some(name) => issuance::Receiver::Custodian { name: name.clone(), id_number: shown },
        None => issuance::Receiver::Holder { id_number: shown },
    };
    let seq = kit.hand_over(&ssn, &card, &a.signer, Some(&signature), None, Some(&receiver))?;
    match &a.custodian {
        Some(name) => println!(
            "card {card} of {} handed over to the custodian {name} (outbox record {seq})",
            mask_id(&ssn)
        ),
        None => println!("card {card} handed over to {} (outbox record {seq})", mask_id(&ssn)),
    }
    Ok(())
}

fn activate(a: ActivateArgs) -> Result<()> {
    let ssn = station::id_input::HOLDER.read()?;
    let mut kit = open_signing(&a.store)?;
    let photo =
        std::fs::read(&a.photo).with_context(|| format!("reading the photo {}", a.photo.display()))?;
    let card = match a.card.clone() {
        Some(c) => c,
        None => {
            let state = kit.visit_states().remove(&ssn).unwrap_or_default();
            match state.handed_over.iter().find(|c| !state.activated.contains(c)) {
                Some(c) => c.clone(),
                None => {
                    bail!("no card was handed over to {} on this visit: hand it over first", mask_id(&ssn))
                }
            }
        }
    };
    let evidence = ActivationEvidence {
        channel: Channel::Counter,
        holder_present: a.holder_present,
        id_checked: a.id_checked,
        photo_sm3: None,
    };
    let seq = kit.activate(&ssn, &card, &evidence, &photo)?;
    println!("card {card}: financial function activated face to face (outbox record {seq})");
    Ok(())
}

fn fail(a: FailArgs) -> Result<()> {
    let ssn = station::id_input::HOLDER.read()?;
    let mut kit = open_signing(&a.store)?;
    let seq = match card_in_custody(&kit, &ssn) {
        Some(card) => kit.hand_over(&ssn, &card, "", None, Some(&a.reason), None)?,
        None => kit.visit_failed(&ssn, &a.reason)?,
    };
    println!("visit of {} recorded as failed (outbox record {seq})", mask_id(&ssn));
    Ok(())
}

fn sync(a: SyncArgs) -> Result<()> {
    let mut kit = open(&a.store)?;
    if kit.lease().is_none() {
        return Err(outreach::KitError::NoLease.into());
    }
    let province = province(a.store.config.as_deref(), &a.station, &kit)?;
    let report = outreach::sync(&mut kit, province.as_ref())?;
    println!(
        "synced lease {}: {} of {} records sent now, {} conflicts; checked in: {} not seen, {} claims released, \
         {} numbers returned, {} cards back to stock",
        report.checkin.lease_id,
        report.sent,
        report.records,
        report.conflicts.len(),
        report.checkin.not_seen.len(),
        report.checkin.released,
        report.checkin.returned_numbers.len(),
        report.checkin.back_to_stock.len()
    );
    for (seq, reason) in &report.conflicts {
        println!("  CONFLICT record {seq}: {reason} (the supervisor sees it)");
    }
    Ok(())
}
