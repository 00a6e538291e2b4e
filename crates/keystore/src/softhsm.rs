//! A SoftHSM2 token of its own (tests, benchmarks, the simulated counter): its token
//! directory and configuration in a directory of the caller's, the token initialised by
//! `softhsm2-util`, the user PIN in a file readable by its owner only.

use std::path::Path;

use crate::{Error, PinSource, TokenConfig, SOFTHSM2_MODULE};

/// Whether Debian's `softhsm2` is installed (its module and `softhsm2-util`); benchmarks skip
/// without it.
pub fn softhsm2_installed() -> bool {
    Path::new(SOFTHSM2_MODULE).exists()
        && std::process::Command::new("softhsm2-util")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Makes a fresh token labelled `label` with user PIN `pin` under `dir` and points this
/// process's `SOFTHSM2_CONF` (inherited by the commands it starts) at it; the PIN goes to
/// `dir/token.pin` (mode 0600). Returns the configuration that opens it.
pub fn softhsm2_token(dir: &Path, label: &str, pin: &str) -> Result<TokenConfig, Error> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| Error::Invalid(format!("SoftHSM2 token: {what}: {e}"))
    };
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).map_err(io("the token directory"))?;
    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&conf, text).map_err(io("its configuration"))?;
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let status = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "271828"])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(io("softhsm2-util (install Debian's softhsm2: scripts/install-deps)"))?;
    if !status.success() {
        return Err(Error::Invalid(format!("softhsm2-util --init-token --label {label}: {status}")));
    }
    let pin_file = dir.join("token.pin");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&pin_file)
        .map_err(io("the PIN file"))?;
    f.write_all(format!("{pin}\n").as_bytes()).map_err(io("the PIN file"))?;
    Ok(TokenConfig {
        module: SOFTHSM2_MODULE.into(),
        token_label: label.into(),
        pin: PinSource::File(pin_file),
    })
}
