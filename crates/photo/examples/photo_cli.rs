//! The `station photo` subcommands as the station wires them, runnable on their own:
//! `cargo run -p photo --example photo_cli -- capture --source synthetic --out /tmp/p.jpg`,
//! `cargo run -p photo --example photo_cli -- check /tmp/p.jpg`.

use clap::{Parser, Subcommand};
use photo::cli::{run_capture, run_check, CaptureArgs, CheckArgs};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Take a card photo from a camera, file, folder or synthetic source.
    Capture(CaptureArgs),
    /// Judge a photo file against the profile.
    Check(CheckArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout();
    let result = match &cli.cmd {
        Cmd::Capture(a) => run_capture(a, &mut out),
        Cmd::Check(a) => run_check(a, &mut out),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
