//! The crash hook of the kill -9 tests: kills this process at once, as a power cut would,
//! right after a journal line. Only in builds with the simulators (feature `sim`): a counter's
//! build has no way to be told to die.

/// Kills the process with SIGKILL (nothing runs after it, as with `kill -9`).
pub fn kill_now(at: &str) -> ! {
    tracing::error!(at, "crash hook: killing the process");
    let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
    std::thread::sleep(std::time::Duration::from_secs(60));
    std::process::abort()
}
