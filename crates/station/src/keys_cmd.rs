//! `station keys`: the financial application's keys, the ledger's MAC key and the database
//! wrapping key in the counter's PKCS#11 token (`[counter.financial.token]` of station.toml;
//! the ledger's key in `[ledger.token]`, the database's in `[database.token]`, when they name
//! their own). `import` is the key ceremony: two or more
//! custodians each enter a component with its check value, each checked in the token, the key
//! formed and sealed there (dual control; no one person ever holds it); `generate` makes the
//! ledger's key or the database wrapping key inside the token (no component exists); `list` shows labels, kinds, roles and
//! check values, never a key. Components are typed without echo on a terminal; off a terminal
//! (a script) each is one stdin line, `HEX KCV`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use keystore::{Component, KeyKind, KeyRole, Keystore};
use secure_channel::Kcv;
use zeroize::Zeroizing;

/// `station keys ...`.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Form a key in the token from the custodians' components (dual control).
    Import(ImportArgs),
    /// Make a key inside the token (the ledger's MAC key, the database wrapping key): no
    /// component ever exists.
    Generate(GenerateArgs),
    /// The keys in the token: label, kind, role, check value.
    List(TokenArgs),
}

/// Which station's token.
#[derive(clap::Args)]
pub struct TokenArgs {
    /// The station's configuration (its `[counter.financial.token]`).
    #[arg(long, env = "STATION_CONFIG", default_value = "/etc/station/station.toml")]
    config: PathBuf,
}

/// `station keys import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    token: TokenArgs,
    /// The key's label in the token (what `isd_key` or `transport_key` names).
    #[arg(long)]
    label: String,
    /// Its cipher.
    #[arg(long, value_enum)]
    kind: Kind,
    /// What it is for.
    #[arg(long, value_enum)]
    role: Role,
    /// How many custodians hold a component.
    #[arg(long, default_value_t = 2)]
    custodians: usize,
    /// The formed key's check value, when its owner announced one: the key is destroyed if
    /// it differs.
    #[arg(long)]
    kcv: Option<String>,
}

/// `station keys generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    token: TokenArgs,
    /// The key's label in the token (what `[ledger] mac_key` or `[database] wrap_key` names).
    #[arg(long)]
    label: String,
    /// What it is for.
    #[arg(long, value_enum)]
    kind: GeneratedKind,
}

/// The keys made inside the token.
#[derive(Clone, Copy, ValueEnum)]
enum GeneratedKind {
    /// The ledger's MAC key (AES-256, CMAC): in `[ledger.token]`, or the counter's token.
    LedgerMac,
    /// The database wrapping key (AES-256-GCM; wraps station.db.key): in `[database.token]`,
    /// or the counter's token.
    DbWrap,
}

/// The ciphers a ceremony forms.
#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Triple DES (2 or 3 keys): SCP02 ISD keys, the DP transport key.
    Tdes,
    /// AES: SCP03 ISD keys, the ledger's MAC key.
    Aes,
}

/// What a key is for.
#[derive(Clone, Copy, ValueEnum)]
enum Role {
    /// The issuer security domain's master key (KMC).
    IsdMaster,
    /// The DP transport key.
    Transport,
    /// The ledger's MAC key (AES; its components' check values are CMACs of a zero block).
    LedgerMac,
    /// The database wrapping key (AES-256, two 32-byte components).
    DbWrap,
}

/// Runs `station keys ...`.
pub fn run(cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::List(a) => {
            let store = open(&a, None)?;
            let keys = store.list()?;
            if keys.is_empty() {
                println!("no keys in the token yet: station keys import");
            }
            for k in keys {
                println!(
                    "{:<24} {:<12} {:<12} {:>3} bytes  KCV {}{}",
                    k.label,
                    k.kind.map_or("?".to_string(), |k| k.to_string()),
                    k.role.map_or("?", |r| r.name()),
                    k.len,
                    k.kcv.map_or("(none)".to_string(), |k| k.to_string()),
                    if k.sealed { "" } else { "  NOT SEALED: the token would give its value out" }
                );
            }
            Ok(())
        }
        KeysCmd::Import(a) => {
            if a.custodians < 2 {
                bail!("dual control: a key is formed from at least two custodians' components");
            }
            let expected = a
                .kcv
                .as_deref()
                .map(Kcv::from_hex)
                .transpose()
                .map_err(|_| anyhow::anyhow!("--kcv is 6 hex digits"))?;
            let kind = match a.kind {
                Kind::Tdes => KeyKind::Tdes,
                Kind::Aes => KeyKind::Aes,
            };
            let role = match a.role {
                Role::IsdMaster => KeyRole::IsdMaster,
                Role::Transport => KeyRole::Transport,
                Role::LedgerMac => KeyRole::LedgerMac,
                Role::DbWrap => KeyRole::DataWrap,
            };
            let store = open(&a.token, Some(role))?;
            let components = read_components(a.custodians)?;
            let report = store.import_components(&a.label, kind, role, &components, expected)?;
            println!("{report}");
            Ok(())
        }
        KeysCmd::Generate(a) => {
            let (role, section) = match a.kind {
                GeneratedKind::LedgerMac => (KeyRole::LedgerMac, "[ledger] mac_key"),
                GeneratedKind::DbWrap => (KeyRole::DataWrap, "[database] wrap_key"),
            };
            let store = open(&a.token, Some(role))?;
            let kcv = match role {
                KeyRole::DataWrap => store.generate_data_wrap_key(&a.label)?,
                _ => store.generate_ledger_key(&a.label)?,
            };
            println!(
                "key {:?} (AES 32 bytes, {}): made in the token; KCV {kcv}. \
                 Name it in station.toml: {section} = {:?}. It exists only in the token: \
                 back the token up (see the README's key ceremony)",
                a.label,
                role.name(),
                a.label
            );
            Ok(())
        }
    }
}

/// The token `[counter.financial.token]` names, or for the ledger's key the one
/// `[ledger.token]` names and for the database wrapping key the one `[database.token]` names,
/// when set (only those tables are read: the keys are imported before the counter's devices
/// are set up). `role`: the key's, when one is made.
fn open(a: &TokenArgs, role: Option<KeyRole>) -> Result<Keystore> {
    let path = a.config.display();
    let table: toml::Table =
        daemon::config::read_toml(&a.config).with_context(|| format!("reading {path}"))?;
    let token_of = |section: &[&str]| -> Result<Option<station::config::TokenSettings>> {
        let mut value = table.get(section[0]);
        for key in &section[1..] {
            value = value.and_then(|v| v.get(key));
        }
        value
            .cloned()
            .map(|t| t.try_into::<station::config::TokenSettings>())
            .transpose()
            .with_context(|| format!("{path}: [{}]", section.join(".")))
    };
    let own = match role {
        Some(KeyRole::LedgerMac) => Some("ledger"),
        Some(KeyRole::DataWrap) => Some("database"),
        _ => None,
    };
    let own_token = own.map(|s| token_of(&[s, "token"])).transpose()?.flatten();
    let token = match (own_token, token_of(&["counter", "financial", "token"])?) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => match own {
            Some(s) => {
                anyhow::bail!("{path}: no [{s}.token] nor [counter.financial.token]: name the token first")
            }
            None => anyhow::bail!("{path}: no [counter.financial.token]: name the token first"),
        },
    };
    Ok(Keystore::open(&token.token_config()?)?)
}

/// Each custodian's component and its check value: asked without echo on a terminal, one
/// `HEX KCV` line each from stdin otherwise.
fn read_components(custodians: usize) -> Result<Vec<Component>> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut lines = stdin.lock();
    let mut components = Vec::with_capacity(custodians);
    for i in 1..=custodians {
        let (hex, kcv) = if terminal {
            let hex = Zeroizing::new(
                rpassword::prompt_password(format!("custodian {i}: your component (hex, not shown): "))
                    .context("reading the component")?,
            );
            eprint!("custodian {i}: its check value (6 hex digits): ");
            std::io::stderr().flush().ok();
            let mut kcv = String::new();
            lines.read_line(&mut kcv).context("reading the check value")?;
            (hex, kcv.trim().to_string())
        } else {
            let mut line = Zeroizing::new(String::new());
            if lines.read_line(&mut line).context("reading a component")? == 0 {
                bail!("custodian {i}: no component on stdin (one `HEX KCV` line per custodian)");
            }
            let mut parts = line.split_whitespace();
            let (Some(hex), Some(kcv), None) = (parts.next(), parts.next(), parts.next()) else {
                bail!("custodian {i}: a line is the component in hex and its check value, `HEX KCV`");
            };
            (Zeroizing::new(hex.to_string()), kcv.to_string())
        };
        components.push(Component::from_hex(&hex, &kcv).with_context(|| format!("custodian {i}"))?);
    }
    Ok(components)
}
