//! `station doctor`: opens every device the configuration names, runs the `doctor` crate's
//! checks on them and prints each finding with its fix. Exit code (`station::exit`): 0 the
//! counter can issue, 3 it can with warnings, 4 it cannot (a configuration that does not load
//! counts as 4).
//!
//! The reader and printer profiles are read from `readers/` and `printers/` beside the cards'
//! profile file the configuration names (`[counter] profile`), so a new device is a dropped-in
//! file there.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use doctor::archive::{ArchivePlan, ArchiveProbe, HttpsProbe};
use doctor::{Device, Report};
use firmware_profile::devices::DeviceProfiles;

/// `station doctor`'s arguments.
#[derive(clap::Args)]
pub struct DoctorArgs {
    /// The station's configuration (the file `station serve --config` reads).
    #[arg(long, env = "STATION_CONFIG")]
    config: Option<PathBuf>,
    /// Where a relative `[counter] profile` is looked for (as `station serve`).
    #[arg(long, env = "STATION_PROFILES")]
    profiles: Option<PathBuf>,
    /// The camera's frame source (`webcam`, `webcam:N`, `file:PATH`); default: the
    /// configuration's `[counter] camera`.
    #[arg(long)]
    camera: Option<String>,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the checks, prints them, and returns the exit code.
pub fn run(args: &DoctorArgs) -> u8 {
    let report = check(args);
    if args.json {
        let verdict = report.verdict();
        let out = serde_json::json!({
            "findings": report.findings,
            "verdict": verdict,
            "exit_code": verdict.exit_code(),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{report}");
    }
    report.verdict().exit_code()
}

fn default_profiles_dir() -> PathBuf {
    let here = PathBuf::from("firmware-profiles");
    if here.is_dir() {
        here
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../firmware-profiles"))
    }
}

/// Every check the configuration calls for.
pub fn check(args: &DoctorArgs) -> Report {
    let mut report = Report::default();
    let Some(path) = &args.config else {
        report.block(
            Device::Profiles,
            "no configuration given",
            "用 --config 指定工作站配置文件（即 station serve --config 使用的 station.toml）",
            "name the station's configuration with --config (the station.toml that station serve --config reads)",
        );
        return report;
    };
    let config = match station::config::StationConfig::load(path) {
        Ok(c) => c,
        Err(e) => {
            report.block(
                Device::Profiles,
                format!("the configuration does not load: {e}"),
                "按提示改正配置文件（字段见 README 的 station serve --config 一节）",
                "correct the configuration as the message says (fields in the README, station serve --config)",
            );
            return report;
        }
    };
    let Some(counter) = config.counter.clone() else {
        report.block(
            Device::Profiles,
            format!("{} has no [counter] section: no device to check", path.display()),
            "在配置文件中加入 [counter] 一节，写明读卡器、PSAM 读卡器、打印机、卡片 profile 和省级档案",
            "add a [counter] section naming the readers, the printer, the cards' profile and the provincial archive",
        );
        return report;
    };
    let profiles_dir = args.profiles.clone().unwrap_or_else(default_profiles_dir);
    let card_profile_path = if counter.profile.is_absolute() {
        counter.profile.clone()
    } else {
        profiles_dir.join(&counter.profile)
    };
    let device_dir = card_profile_path.parent().map_or_else(|| profiles_dir.clone(), Path::to_path_buf);
    let card_profile = match firmware_profile::Profile::load(&card_profile_path) {
        Ok(p) => {
            report.ok(Device::Profiles, format!("cards: {} ({})", p.id, card_profile_path.display()));
            Some(p)
        }
        Err(e) => {
            report.block(
                Device::Profiles,
                format!("the cards' profile does not load: {e}"),
                "改正该 profile 文件，或在配置 [counter] profile 中填写正确的文件",
                "correct that profile file, or name the right one in profile under [counter]",
            );
            None
        }
    };
    let devices = match DeviceProfiles::load(&device_dir) {
        Ok(d) => {
            report.ok(
                Device::Profiles,
                format!(
                    "{} reader and {} printer profiles in {}",
                    d.readers.len(),
                    d.printers.len(),
                    device_dir.display()
                ),
            );
            d
        }
        Err(e) => {
            report.warn(
                Device::Profiles,
                format!("device profiles in {}: {e}", device_dir.display()),
                "按提示改正或移走出错的 profile 文件",
                "correct or remove the profile file the message names",
            );
            DeviceProfiles::default()
        }
    };

    let mut manager = pcsc_reader::PcscManager::unconnected(doctor::readers::reader_rules(&devices));
    let plan = doctor::readers::ReaderPlan {
        card_reader: &counter.card_reader,
        psam_reader: &counter.psam_reader,
        card_profile: card_profile.as_ref(),
        devices: &devices,
        profiles_dir: &device_dir,
    };
    doctor::readers::check_readers(&mut manager, &plan, &mut report);

    let timeouts = printer::Timeouts {
        command: Duration::from_secs(5),
        print: Duration::from_secs(5),
        station: Duration::from_secs(5),
        poll: Duration::from_millis(200),
    };
    let opened = counter
        .printer
        .parse::<printer::Selector>()
        .map_err(|e| e.to_string())
        .and_then(|s| printer::open_evolis(&s, timeouts).map_err(|e| e.to_string()));
    match opened {
        Ok(mut p) => doctor::printer_check::check_printer(
            Ok(&mut p),
            &counter.printer,
            &devices,
            &device_dir,
            &mut report,
        ),
        Err(e) => {
            doctor::printer_check::check_printer(Err(e), &counter.printer, &devices, &device_dir, &mut report)
        }
    }

    let camera = args.camera.as_deref().unwrap_or(&counter.camera);
    doctor::camera::check_camera(camera, photo::open_source(camera), &mut report);

    match &counter.provincial {
        station::config::ProvincialConfig::Sqlite => doctor::archive::check_archive(
            ArchivePlan::Sqlite { data_dir: &config.daemon.data_dir },
            None,
            SystemTime::now(),
            &mut report,
        ),
        station::config::ProvincialConfig::Service { url, ca, identity } => {
            let probe = match HttpsProbe::new(url, ca, identity, Duration::from_secs(10)) {
                Ok(p) => Some(p),
                Err(e) => {
                    report.block(
                        Device::Archive,
                        format!("no TLS client for {url}: {e}"),
                        "检查配置中 ca 与 identity 两个 PEM 文件（证书与私钥）是否完整",
                        "check the ca and identity PEM files of the configuration (certificate and key) are complete",
                    );
                    None
                }
            };
            let plan = ArchivePlan::Service { url, ca, identity, station: &config.daemon.station };
            doctor::archive::check_archive(
                plan,
                probe.as_ref().map(|p| p as &dyn ArchiveProbe),
                SystemTime::now(),
                &mut report,
            );
        }
    }

    // As `station serve` reaches it: the transport this build allows, the same client.
    let verification = &counter.identity_verification;
    let plan = doctor::verification::VerificationPlan {
        url: verification.url(),
        transport: verification.transport(station::config::SIMULATORS),
        timeout: Duration::from_secs(10),
    };
    doctor::verification::check_verification(plan, SystemTime::now(), &mut report);
    check_banks(counter.bank.as_ref(), &mut report);
    check_ledger_key(&config, &counter, &mut report);
    check_database_key(&config, &counter, &mut report);
    check_kit_key(config.kit.as_ref(), &mut report);
    report
}

/// An outreach kit's record-signing key (`[kit]`), as its commands open it: the token logged
/// in, both halves of the key found, a probe signed in the token and checked with the public
/// half, and the private half refused to anyone who asks for it. No `[kit]`: a counter, not a
/// kit, nothing to check.
fn check_kit_key(kit: Option<&station::kit_key::KitSettings>, report: &mut Report) {
    let Some(kit) = kit else { return };
    let probe = b"station doctor: kit record key";
    let checked = station::kit_key::open(kit).and_then(|key| {
        let signature = key.sign(probe)?;
        Ok((
            key.verify(probe, &signature),
            key.private_refused()?,
            station::kit_key::fingerprint(key.public_key()),
        ))
    });
    let what = format!("kit record key {:?} in token {}", kit.record_key, kit.token.label);
    match checked {
        Ok((true, true, fingerprint)) => report.ok(Device::Archive, format!("{what}: signs (public key {fingerprint})")),
        Ok((verified, _, _)) => report.block(
            Device::Archive,
            format!(
                "{what}: {}",
                if verified { "the token hands out the private half" } else { "its signature does not verify" }
            ),
            "更换外出套件的令牌，重新生成记录签名密钥（station kit keys generate），并在下次借出时报送新公钥",
            "replace the kit's token, make the record key again (station kit keys generate) and check out with the new key",
        ),
        Err(e) => report.block(
            Device::Archive,
            format!("{what}: {e:#}"),
            "插入外出套件的令牌，核对 [kit.token]（module、label、pin_file），必要时生成密钥（station kit keys generate）",
            "plug the kit's token in, check [kit.token] (module, label, pin_file), and make the key if need be (station kit keys generate)",
        ),
    }
}

/// The database key as `station serve` opens it (a build without the simulators starts only
/// with `[database]`): the wrapping key found in its token, `station.db.key` unwrapped by it,
/// and `station.db` opened with the data key. Nothing is made or changed: a station without
/// its key file yet is told that its first start makes one.
fn check_database_key(
    config: &station::config::StationConfig,
    counter: &station::config::CounterConfig,
    report: &mut Report,
) {
    let counter_token = counter.financial.as_ref().and_then(|f| f.token.as_ref());
    let data_dir = &config.daemon.data_dir;
    let db = data_dir.join("station.db");
    let wrap = match station::db_key::open(config.database.as_ref(), counter_token) {
        Ok(w) => w,
        Err(e) => {
            return report.block(
                Device::Archive,
                format!("database key: {e:#}"),
                "在令牌中生成数据库包装密钥（station keys generate --label db-wrap --kind db-wrap），并在配置 [database] 中写明 wrap_key",
                "make the database wrapping key in the token (station keys generate --label db-wrap --kind db-wrap) and name it in [database] wrap_key",
            )
        }
    };
    if !station::db_key::key_file_exists(data_dir) {
        let summary = format!("database key: {}; station.db.key is made at the first start", wrap.describe());
        if std::fs::metadata(&db).is_ok_and(|m| m.len() > 0) && !archive::local::is_plaintext_database(&db) {
            return report.block(
                Device::Archive,
                format!("{} is encrypted and station.db.key is missing", db.display()),
                "从与 station.db 同一次的备份中恢复 station.db.key",
                "restore station.db.key from the backup taken with station.db",
            );
        }
        return report.ok(Device::Archive, summary);
    }
    let opened = station::db_key::unlock(data_dir, wrap.as_ref()).and_then(|key| {
        if archive::local::is_plaintext_database(&db) {
            return Ok("station.db is plaintext: the next start encrypts it".to_string());
        }
        if !db.exists() {
            return Ok("station.db is made encrypted at the first start".to_string());
        }
        let conn = archive::local::LocalArchive::raw_connection(&db, &key)?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        Ok(format!("station.db opens with it ({tables} schema objects)"))
    });
    match opened {
        Ok(what) => report.ok(Device::Archive, format!("database key: {}; {what}", wrap.describe())),
        Err(e) => report.block(
            Device::Archive,
            format!("database key: {e:#}"),
            "将 station.db 与 station.db.key 从同一次备份中一并恢复，并在 [database] 中写明包装它的令牌密钥",
            "restore station.db and station.db.key together from the same backup, and name the token key that wrapped it in [database]",
        ),
    }
}

/// The ledger's MAC key as `station serve` opens it (a build without the simulators starts only
/// with it): named in `[ledger]`, found in its token, making a MAC that it then verifies.
fn check_ledger_key(
    config: &station::config::StationConfig,
    counter: &station::config::CounterConfig,
    report: &mut Report,
) {
    let counter_token = counter.financial.as_ref().and_then(|f| f.token.as_ref());
    let probe = [0u8; 32];
    let key = station::ledger_key::open(config.ledger.as_ref(), counter_token).map_err(|e| format!("{e:#}"));
    match key.and_then(|k| Ok((k.mac(&probe).and_then(|m| k.verify(&probe, &m))?, k.describe()))) {
        Ok((true, what)) => report.ok(Device::Archive, format!("ledger key: {what}")),
        Ok((false, what)) => report.block(
            Device::Archive,
            format!("ledger key {what} does not verify its own MAC"),
            "检查令牌中的台账密钥（station keys list），必要时重新生成并在 [ledger] 中写明",
            "check the ledger key in the token (station keys list); make it again if need be and name it in [ledger]",
        ),
        Err(e) => report.block(
            Device::Archive,
            format!("ledger key: {e}"),
            "在令牌中生成台账密钥（station keys generate --label ledger --kind ledger-mac），并在配置 [ledger] 中写明 mac_key",
            "make the ledger key in the token (station keys generate --label ledger --kind ledger-mac) and name it in [ledger] mac_key",
        ),
    }
}

/// The bank card systems of `[counter.bank]`, each reached as `station serve` reaches it (the
/// same client, its CA and certificate read now) and asked for `/`: any answer proves the
/// session without naming a card. No section: the counter activates no card, nothing to check.
fn check_banks(config: Option<&bank::BankConfig>, report: &mut Report) {
    let Some(config) = config else { return };
    if let Err(e) = config.registry() {
        report.block(
            Device::Bank,
            format!("the bank list: {e}"),
            "改正 [counter.bank] 的 banks_file（本省合作银行名单）",
            "correct banks_file under [counter.bank] (the province's list of cooperating banks)",
        );
    }
    for s in &config.systems {
        let banks = s.banks.join(", ");
        let client = s.client(station::config::SIMULATORS, config.max_photo_age_seconds);
        match client.map_err(|e| e.to_string()).and_then(|c| c.probe().map_err(|e| e.to_string())) {
            Ok(status) => {
                report.ok(Device::Bank, format!("{} answers (HTTP {status}); activates {banks}", s.url))
            }
            Err(e) => report.block(
                Device::Bank,
                format!("{} ({banks}): {e}", s.url),
                "检查银行卡系统的地址、CA 证书与本站证书（[[counter.bank.system]]），或联系银行运维",
                "check the card system's url, CA and this station's certificate ([[counter.bank.system]]), or call the bank's operators",
            ),
        }
    }
}
