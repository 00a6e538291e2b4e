//! `station init`: writes a counter's `station.toml` from flags, asking on the terminal for
//! what the flags leave out. The file is checked by the same loader `station serve` uses
//! before it replaces anything, and written atomically (0640: the service's group reads it).
//! Each account gets a first password, kept only as its hash in the configuration and in
//! clear in `DATA_DIR/initial-passwords.txt` (0600, the service's own), which the station
//! removes once every account has chosen its own.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

/// The ledger's key and the database wrapping key, which a counter's build needs before
/// `station serve` starts, and an outreach kit's record key: written out commented, with the
/// commands that make them, for the
/// set-up person to finish.
const LEDGER_HINT: &str = "
# The ledger's key (each entry's MAC; a counter without the simulators starts only with it).
# Make it inside the counter's PKCS#11 token, then uncomment and name the token:
#   station keys generate --label ledger --kind ledger-mac
# [ledger]
# mac_key = \"ledger\"
# [ledger.token]            # or the financial keys' [counter.financial.token]
# module = \"/usr/lib/softhsm/libsofthsm2.so\"
# label = \"station\"
# pin_file = \"/etc/station/token.pin\"
#
# On an outreach kit: its own token (a USB crypto token that travels with it) signs every
# record of a visit. Uncomment, name the token, then make the key once:
#   station kit keys generate
# [kit]
# record_key = \"kit-record\"
# [kit.token]
# module = \"/usr/lib/softhsm/libsofthsm2.so\"
# label = \"KIT-1\"
# pin_file = \"/etc/station/kit-token.pin\"

# The database wrapping key: station.db, photos and evidence are encrypted under a data key
# kept only wrapped by it (station.db.key). Make it in the token, then uncomment:
#   station keys generate --label db-wrap --kind db-wrap
# [database]
# wrap_key = \"db-wrap\"
# [database.token]          # or the financial keys' [counter.financial.token]
# module = \"/usr/lib/softhsm/libsofthsm2.so\"
# label = \"station\"
# pin_file = \"/etc/station/token.pin\"
";

/// `station init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The configuration to write.
    #[arg(long, default_value = "/etc/station/station.toml")]
    pub config: PathBuf,
    /// The station's data directory (archives, journal, photos; the first passwords).
    #[arg(long, default_value = "/var/lib/station")]
    pub data_dir: PathBuf,
    /// Replace an existing configuration (its accounts get new first passwords).
    #[arg(long)]
    pub force: bool,
    /// The station id: its certificate name at the province (`S-0101`).
    #[arg(long)]
    pub station: Option<String>,
    /// Where the page and the API listen; beyond loopback the page needs TLS (`--tls-cert`).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// A name the counter's browsers reach the station by; repeatable.
    #[arg(long = "host-name")]
    pub host_names: Vec<String>,
    /// The page's certificate chain (PEM), with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// An account as NAME:ROLE (operator, supervisor, auditor); repeatable. Default: one of each.
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// The card printer (`serial:/dev/ttyUSB0`, `usb:0f49:PID`, `tcp:HOST:PORT`).
    #[arg(long)]
    pub printer: Option<String>,
    /// The firmware profile of the cards in the hopper.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// The issuing city's region code (6 digits).
    #[arg(long)]
    pub region: Option<String>,
    /// The initialising organisation's code.
    #[arg(long)]
    pub init_org: Option<String>,
    /// The provincial service's URL (`https://archive.example:8443`).
    #[arg(long)]
    pub province_url: Option<String>,
    /// The provincial service's CA certificate.
    #[arg(long)]
    pub province_ca: Option<PathBuf>,
    /// This station's certificate and key from the province (one PEM).
    #[arg(long)]
    pub province_identity: Option<PathBuf>,
    /// The identity verification service's URL.
    #[arg(long)]
    pub idv_url: Option<String>,
    /// The identity verification service's CA certificate.
    #[arg(long)]
    pub idv_ca: Option<PathBuf>,
    /// This station's client certificate for identity verification (mutual TLS), with --idv-client-key.
    #[arg(long, requires = "idv_client_key")]
    pub idv_client_cert: Option<PathBuf>,
    /// Its key.
    #[arg(long, requires = "idv_client_cert")]
    pub idv_client_key: Option<PathBuf>,
    /// The camera (`webcam`, `webcam:N`).
    #[arg(long, default_value = "webcam")]
    pub camera: String,
    /// The account that runs the service: owner of the first passwords and the data
    /// directory, group of the configuration (when run as root and the account exists).
    #[arg(long, default_value = "station")]
    pub service_user: String,
}

/// One value the configuration needs: its flag, the question, and a default where one is safe.
struct Needed<'a> {
    flag: &'a str,
    question: &'a str,
    default: Option<&'a str>,
}

/// Asks for missing values on a terminal; without one, lists every missing flag at once.
struct Questions<'a> {
    terminal: bool,
    input: Box<dyn BufRead + 'a>,
    missing: Vec<String>,
}

impl Questions<'_> {
    fn value(&mut self, given: Option<String>, n: Needed<'_>) -> Result<String> {
        if let Some(v) = given {
            return Ok(v);
        }
        if !self.terminal {
            match n.default {
                Some(d) => return Ok(d.to_string()),
                None => {
                    self.missing.push(format!("--{} ({})", n.flag, n.question));
                    return Ok(String::new());
                }
            }
        }
        loop {
            match n.default {
                Some(d) => eprint!("{} [{d}]: ", n.question),
                None => eprint!("{}: ", n.question),
            }
            std::io::stderr().flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                bail!("no answer for --{}: the input ended", n.flag);
            }
            let line = line.trim();
            match (line.is_empty(), n.default) {
                (false, _) => return Ok(line.to_string()),
                (true, Some(d)) => return Ok(d.to_string()),
                (true, None) => eprintln!("  (needed: give --{} or type it)", n.flag),
            }
        }
    }

    fn path(&mut self, given: Option<PathBuf>, n: Needed<'_>) -> Result<PathBuf> {
        Ok(PathBuf::from(self.value(given.map(|p| p.display().to_string()), n)?))
    }
}

/// What `station init` wrote.
#[derive(Debug)]
pub struct Written {
    /// The configuration.
    pub config: PathBuf,
    /// The first passwords.
    pub passwords: PathBuf,
    /// The accounts, name and role.
    pub accounts: Vec<(String, String)>,
}

/// Runs `station init`, asking on stdin when it is a terminal.
pub fn run(a: InitArgs) -> Result<Written> {
    let terminal = std::io::stdin().is_terminal();
    let stdin = std::io::stdin();
    write(a, Questions { terminal, input: Box::new(stdin.lock()), missing: Vec::new() })
}

fn write(a: InitArgs, mut q: Questions<'_>) -> Result<Written> {
    if a.config.exists() && !a.force {
        bail!(
            "{} exists: give --force to replace it (its accounts get new first passwords), or edit it",
            a.config.display()
        );
    }
    let station = q.value(
        a.station,
        Needed {
            flag: "station",
            question: "Station id (as on its provincial certificate, e.g. S-0101)",
            default: None,
        },
    )?;
    let printer = q.value(
        a.printer,
        Needed {
            flag: "printer",
            question: "Card printer (serial:/dev/ttyUSB0, usb:0f49:PID, tcp:HOST:PORT)",
            default: None,
        },
    )?;
    let profile = q.path(
        a.profile,
        Needed { flag: "profile", question: "Firmware profile of the cards in the hopper", default: None },
    )?;
    let region = q.value(
        a.region,
        Needed { flag: "region", question: "Region code of the issuing city (6 digits)", default: None },
    )?;
    let init_org = q.value(
        a.init_org,
        Needed { flag: "init-org", question: "Initialising organisation code", default: None },
    )?;
    let province_url = q.value(
        a.province_url,
        Needed { flag: "province-url", question: "Provincial service URL (https://...)", default: None },
    )?;
    let province_ca = q.path(
        a.province_ca,
        Needed { flag: "province-ca", question: "Provincial service CA certificate (PEM)", default: None },
    )?;
    let province_identity = q.path(
        a.province_identity,
        Needed {
            flag: "province-identity",
            question: "This station's provincial certificate and key (PEM)",
            default: None,
        },
    )?;
    let idv_url = q.value(
        a.idv_url,
        Needed { flag: "idv-url", question: "Identity verification URL (https://...)", default: None },
    )?;
    let idv_ca = q.path(
        a.idv_ca,
        Needed { flag: "idv-ca", question: "Identity verification CA certificate (PEM)", default: None },
    )?;
    if !q.missing.is_empty() {
        bail!("station init needs {} (or run it on a terminal to be asked)", q.missing.join(", "));
    }
    let accounts = accounts(&a.accounts)?;

    let mut table = toml::Table::new();
    table.insert("station".into(), station.into());
    table.insert("data_dir".into(), a.data_dir.display().to_string().into());
    if let Some(listen) = a.listen {
        table.insert("listen".into(), listen.to_string().into());
    }
    if !a.host_names.is_empty() {
        table.insert("host_names".into(), a.host_names.clone().into());
    }
    if let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) {
        let mut tls = toml::Table::new();
        tls.insert("cert".into(), cert.display().to_string().into());
        tls.insert("key".into(), key.display().to_string().into());
        table.insert("tls".into(), tls.into());
    }
    let mut passwords = String::from(
        "# First passwords of this station. Each is changed at its first log-in; the station removes this file once all are.\n",
    );
    let mut operators = Vec::new();
    for (name, role) in &accounts {
        let password: String = daemon::auth::random_bytes(9).iter().map(|b| format!("{b:02x}")).collect();
        passwords.push_str(&format!("{name} {password}\n"));
        let mut account = toml::Table::new();
        account.insert("name".into(), name.clone().into());
        account.insert("role".into(), role.clone().into());
        account.insert("password_hash".into(), daemon::auth::hash_password(&password).into());
        account.insert("first_password".into(), true.into());
        operators.push(toml::Value::Table(account));
    }
    table.insert("operator".into(), operators.into());

    let mut counter = toml::Table::new();
    counter.insert("printer".into(), printer.into());
    counter.insert("profile".into(), profile.display().to_string().into());
    counter.insert("region".into(), region.into());
    counter.insert("init_org".into(), init_org.into());
    counter.insert("camera".into(), a.camera.clone().into());
    let mut province = toml::Table::new();
    province.insert("kind".into(), "service".into());
    province.insert("url".into(), province_url.into());
    province.insert("ca".into(), province_ca.display().to_string().into());
    province.insert("identity".into(), province_identity.display().to_string().into());
    counter.insert("provincial".into(), province.into());
    let mut idv = toml::Table::new();
    idv.insert("url".into(), idv_url.into());
    idv.insert("ca".into(), idv_ca.display().to_string().into());
    if let (Some(cert), Some(key)) = (&a.idv_client_cert, &a.idv_client_key) {
        idv.insert("client_cert".into(), cert.display().to_string().into());
        idv.insert("client_key".into(), key.display().to_string().into());
    }
    counter.insert("identity_verification".into(), idv.into());
    table.insert("counter".into(), counter.into());
    // Written out, so the set-up person sees the corrections an operator may make after a
    // mismatch before the application ends.
    let mut policy = toml::Table::new();
    let corrections = crate::config::IdvPolicy::default().max_corrections;
    policy.insert("max_corrections".into(), i64::from(corrections).into());
    table.insert("idv".into(), policy.into());

    let text = format!(
        "# Written by `station init`; `station doctor --config {}` checks every device it names.\n{}{LEDGER_HINT}",
        a.config.display(),
        toml::to_string(&table).context("writing the configuration")?
    );
    // The same checks as `station serve` before anything is replaced: a temporary copy beside it.
    let dir = a.config.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let random: String = daemon::auth::random_bytes(6).iter().map(|b| format!("{b:02x}")).collect();
    let probe = dir.join(format!(".station-init-{random}.toml"));
    daemon::files::replace_file(&probe, text.as_bytes(), 0o600)?;
    let checked = crate::config::StationConfig::load(&probe)
        .map_err(anyhow::Error::from)
        .and_then(|c| c.daemon.check_listen().map_err(anyhow::Error::msg));
    let _ = std::fs::remove_file(&probe);
    checked?;

    let owner = service_account(&a.service_user)?;
    daemon::files::private_dir(&a.data_dir).with_context(|| format!("creating {}", a.data_dir.display()))?;
    let secret = a.data_dir.join(daemon::config::INITIAL_PASSWORDS);
    daemon::files::replace_file(&secret, passwords.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", secret.display()))?;
    daemon::files::replace_file(&a.config, text.as_bytes(), 0o640)
        .with_context(|| format!("writing {}", a.config.display()))?;
    if let Some((uid, gid)) = owner {
        let own = |p: &Path, uid: Option<u32>| {
            std::os::unix::fs::chown(p, uid, Some(gid))
                .with_context(|| format!("giving {} to the service", p.display()))
        };
        own(&a.data_dir, Some(uid))?;
        own(&secret, Some(uid))?;
        own(&a.config, None)?;
    }
    Ok(Written { config: a.config, passwords: secret, accounts })
}

/// `NAME:ROLE` pairs; one account of each role by default.
fn accounts(given: &[String]) -> Result<Vec<(String, String)>> {
    if given.is_empty() {
        return Ok(["operator", "supervisor", "auditor"]
            .iter()
            .map(|r| (r.to_string(), r.to_string()))
            .collect());
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for g in given {
        let Some((name, role)) = g.split_once(':') else {
            bail!("--account {g:?}: give NAME:ROLE (roles: operator, supervisor, auditor)");
        };
        if !["operator", "supervisor", "auditor"].contains(&role) {
            bail!("--account {g:?}: the role is operator, supervisor or auditor");
        }
        if name.is_empty()
            || name.chars().count() > daemon::login::MAX_NAME_CHARS
            || name.chars().any(char::is_whitespace)
        {
            bail!(
                "--account {g:?}: a name of 1 to {} characters without spaces",
                daemon::login::MAX_NAME_CHARS
            );
        }
        if out.iter().any(|(n, _)| n == name) {
            bail!("--account {name}: given twice");
        }
        out.push((name.to_string(), role.to_string()));
    }
    if !out.iter().any(|(_, r)| r == "supervisor") {
        bail!("give at least one supervisor account: unlocking operators and recording deaths need one");
    }
    Ok(out)
}

/// The service account's uid and gid, when we are root and it exists (from /etc/passwd: the
/// package's `adduser --system` writes it there).
fn service_account(name: &str) -> Result<Option<(u32, u32)>> {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if !root {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Ok(passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path) -> InitArgs {
        InitArgs {
            config: dir.join("etc/station.toml"),
            data_dir: dir.join("data"),
            force: false,
            station: Some("S-0101".into()),
            listen: None,
            host_names: vec![],
            tls_cert: None,
            tls_key: None,
            accounts: vec![],
            printer: Some("usb:0f49:1011".into()),
            profile: Some("/usr/share/station/firmware-profiles/ssc-3g.toml".into()),
            region: Some("110100".into()),
            init_org: Some("11010000000000000001".into()),
            province_url: Some("https://archive.example:8443".into()),
            province_ca: Some("province/ca.pem".into()),
            province_identity: Some("province/S-0101.pem".into()),
            idv_url: Some("https://idv.example:8443".into()),
            idv_ca: Some("idv/ca.pem".into()),
            idv_client_cert: None,
            idv_client_key: None,
            camera: "webcam".into(),
            service_user: "no-such-user".into(),
        }
    }

    fn quiet(input: &str) -> Questions<'_> {
        Questions { terminal: false, input: Box::new(input.as_bytes()), missing: Vec::new() }
    }

    #[test]
    fn flags_make_a_configuration_the_station_loads() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = write(args(dir.path()), quiet("")).expect("init");
        let c = crate::config::StationConfig::load(&w.config).expect("loads");
        assert_eq!(c.daemon.station, "S-0101");
        assert_eq!(c.daemon.operators.len(), 3);
        assert!(c.daemon.operators.iter().all(|a| a.first_password));
        let counter = c.counter.expect("counter");
        assert!(matches!(counter.provincial, crate::config::ProvincialConfig::Service { .. }));
        let config_text = std::fs::read_to_string(&w.config).expect("config");
        assert!(config_text.contains("[idv]\nmax_corrections = 2"), "named in the file: {config_text}");
        assert!(
            config_text.contains("# [ledger]\n# mac_key = \"ledger\"")
                && config_text.contains("--kind ledger-mac")
                && config_text.contains("# [database]\n# wrap_key = \"db-wrap\"")
                && config_text.contains("--kind db-wrap"),
            "the ledger key's section, to finish: {config_text}"
        );
        assert_eq!(c.idv, crate::config::IdvPolicy::default());
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").mode() & 0o777;
        assert_eq!((mode(&w.config), mode(&w.passwords)), (0o640, 0o600));
        // Each first password verifies against its hash, and only the file has it in clear.
        let text = std::fs::read_to_string(&w.passwords).expect("passwords");
        for a in &c.daemon.operators {
            let line = text.lines().find(|l| l.starts_with(&format!("{} ", a.name))).expect("listed");
            let password = line.split(' ').nth(1).expect("password");
            assert!(daemon::auth::verify_password(&a.password_hash, password));
            assert!(!config_text.contains(password));
        }
        // No second init over it without --force.
        let e = write(args(dir.path()), quiet("")).expect_err("exists");
        assert!(e.to_string().contains("--force"), "{e}");
    }

    #[test]
    fn without_a_terminal_every_missing_flag_is_named_at_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut a = args(dir.path());
        (a.printer, a.region, a.idv_ca) = (None, None, None);
        let e = write(a, quiet("")).expect_err("missing");
        let text = e.to_string();
        for flag in ["--printer", "--region", "--idv-ca"] {
            assert!(text.contains(flag), "{text}");
        }
        assert!(!dir.path().join("etc/station.toml").exists(), "nothing written");
    }

    #[test]
    fn on_a_terminal_it_asks_and_refuses_what_the_station_would() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut a = args(dir.path());
        (a.printer, a.region) = (None, None);
        let answers = "tcp:192.0.2.7:9100\n\n110100\n";
        let q = Questions { terminal: true, input: Box::new(answers.as_bytes()), missing: Vec::new() };
        let w = write(a, q).expect("asked");
        let counter = crate::config::StationConfig::load(&w.config).expect("loads").counter.expect("counter");
        assert_eq!((counter.printer.as_str(), counter.region.as_str()), ("tcp:192.0.2.7:9100", "110100"));
        // Beyond loopback without TLS is refused before anything is written.
        let mut a = args(dir.path());
        a.force = true;
        a.config = dir.path().join("other.toml");
        a.listen = Some("0.0.0.0:8080".parse().expect("addr"));
        let e = write(a, quiet("")).expect_err("plain http beyond loopback");
        assert!(e.to_string().contains("TLS"), "{e}");
        assert!(!dir.path().join("other.toml").exists());
    }

    #[test]
    fn accounts_need_a_role_and_a_supervisor() {
        assert!(accounts(&["wang:operator".into(), "li:supervisor".into()]).is_ok());
        for bad in [vec!["wang".to_string()], vec!["wang:admin".into()], vec!["wang:operator".into()]] {
            assert!(accounts(&bad).is_err(), "{bad:?}");
        }
        assert!(accounts(&["li:supervisor".into(), "li:operator".into()]).is_err(), "twice");
    }
}
