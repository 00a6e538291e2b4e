//! The card printer simulator: an Evolis printer's state model (printer.md, "Simulator
//! model") answering the escape protocol exactly as the `evolis` crate defines it, reachable
//! over a pty (as a serial port), TCP loopback, or an in-memory [`MemoryTransport`].
//!
//! - [`Model`] / [`PrinterState`]: card position, feeder and reject box, cover, ribbon
//!   (kind, capacity, remaining, zone), error mode, no-eject flag, the sequence being
//!   downloaded, counters, pending faults; requests come from `evolis::codec::RequestParser`.
//! - [`Injection`] / [`Fault`]: feeder empty, cover open, jam, ribbon out or ending after N
//!   panels, head temperature, dropped link; now or at the Nth request of a step.
//! - [`Timing`]: insert, transfer, panel, eject, cleaning times, slept `x scale` (0 in CI) and
//!   added up unscaled as the simulated printer time.
//! - Every printed face is kept decoded ([`PrintedFace`]: the `Db` payloads unpacked by the
//!   `evolis` crate, composited by card-face) and written as a PNG into
//!   [`ModelConfig::out_dir`].
//! - [`serve`] starts the links and returns a [`SimHandle`] that tells where they listen;
//!   [`Args`] is the command line `station sim printer` can flatten in.
#![forbid(unsafe_code)]
#[cfg(not(debug_assertions))]
compile_error!(
    "the printer simulator is for tests and development only: it must never be built into a release binary"
);

mod face;
mod faults;
mod memory;
mod model;
mod server;
mod sim;
mod timing;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use face::{PrintedFace, IMAGE_HEIGHT, IMAGE_WIDTH};
pub use faults::{Fault, FaultParseError, Injection, Trigger};
pub use memory::MemoryTransport;
pub use model::{CardExit, CardMove, CardPlace, Model, ModelConfig, Outcome, PrinterState, Ribbon, Sequence};
pub use sim::SimPrinter;
pub use timing::Timing;

use printer::Selector;

/// What to serve.
#[derive(Debug, Clone)]
pub struct SimPrinterConfig {
    /// The printer's initial state, output directory and timing.
    pub model: ModelConfig,
    /// Serve a pty pair.
    pub pty: bool,
    /// Serve TCP on this address (`127.0.0.1:0` picks a free port).
    pub tcp: Option<SocketAddr>,
    /// Faults injected at start.
    pub faults: Vec<Injection>,
}

impl Default for SimPrinterConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            pty: true,
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            faults: Vec::new(),
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The pty pair could not be created.
    #[error("cannot create a pty pair: {0}")]
    Pty(#[source] std::io::Error),
    /// The TCP address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Tcp {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The output directory could not be created.
    #[error("cannot create the output directory {path}: {source}")]
    OutDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A running simulator: where it listens, and the printer for tests to inspect and to inject
/// faults into. Dropping it stops the serving threads.
#[derive(Debug)]
pub struct SimHandle {
    sim: SimPrinter,
    pty: Option<PathBuf>,
    tcp: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// The simulated printer.
    pub fn sim(&self) -> &SimPrinter {
        &self.sim
    }

    /// The pty slave the driver opens as a serial port.
    pub fn pty_path(&self) -> Option<&Path> {
        self.pty.as_deref()
    }

    /// The TCP address served.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
    }

    /// Selectors for the driver, pty first.
    pub fn selectors(&self) -> Vec<Selector> {
        let pty = self
            .pty
            .iter()
            .map(|path| Selector::Serial { path: path.clone(), baud: printer::selector::DEFAULT_BAUD });
        let tcp =
            self.tcp.iter().map(|addr| Selector::Tcp { host: addr.ip().to_string(), port: addr.port() });
        pty.chain(tcp).collect()
    }

    /// Stops serving and waits for the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the simulator on the configured links.
pub fn serve(config: SimPrinterConfig) -> Result<SimHandle, SimError> {
    if let Some(dir) = &config.model.out_dir {
        std::fs::create_dir_all(dir).map_err(|source| SimError::OutDir { path: dir.clone(), source })?;
    }
    let sim = SimPrinter::new(config.model);
    for injection in config.faults {
        sim.inject(injection);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut handle =
        SimHandle { sim: sim.clone(), pty: None, tcp: None, stop: stop.clone(), threads: Vec::new() };
    if config.pty {
        let (path, thread) = server::spawn_pty(sim.clone(), stop.clone()).map_err(SimError::Pty)?;
        handle.pty = Some(path);
        handle.threads.push(thread);
    }
    if let Some(addr) = config.tcp {
        let (local, thread) =
            server::spawn_tcp(sim, addr, stop).map_err(|source| SimError::Tcp { addr, source })?;
        handle.tcp = Some(local);
        handle.threads.push(thread);
    }
    Ok(handle)
}

/// Command line of the simulator, for `station sim printer` to flatten in.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Serve TCP on this address (e.g. 127.0.0.1:9100; port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub tcp: SocketAddr,
    /// Do not serve TCP.
    #[arg(long)]
    pub no_tcp: bool,
    /// Do not create a pty.
    #[arg(long)]
    pub no_pty: bool,
    /// Write each printed face as a PNG into this directory.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Cards in the hopper.
    #[arg(long, default_value_t = 100)]
    pub feeder: u32,
    /// Prints on the ribbon.
    #[arg(long, default_value_t = 200)]
    pub ribbon: u32,
    /// The ribbon's region.
    #[arg(long, default_value = "86")]
    pub zone: String,
    /// Factor on the mechanical times (1 real time, 0 instant).
    #[arg(long, default_value_t = 1.0)]
    pub timing_scale: f64,
    /// The applicant takes each card from the exit slot at once.
    #[arg(long)]
    pub auto_take: bool,
    /// A fault to inject: FAULT[@COMMAND[#N]] (repeatable), e.g. jam@Sis, drop@Se#2.
    #[arg(long = "fault")]
    pub faults: Vec<Injection>,
}

impl Args {
    /// The configuration these arguments describe.
    pub fn config(&self) -> SimPrinterConfig {
        SimPrinterConfig {
            model: ModelConfig {
                feeder: self.feeder,
                ribbon_capacity: self.ribbon,
                ribbon_zone: self.zone.clone(),
                auto_take: self.auto_take,
                out_dir: self.out_dir.clone(),
                timing: Timing { scale: self.timing_scale.max(0.0), ..Timing::realistic() },
            },
            pty: !self.no_pty,
            tcp: (!self.no_tcp).then_some(self.tcp),
            faults: self.faults.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn args_build_a_config() {
        let cli = Cli::try_parse_from([
            "sim",
            "--no-pty",
            "--tcp",
            "127.0.0.1:0",
            "--fault",
            "jam@Sis",
            "--timing-scale",
            "0",
        ])
        .expect("parses");
        let config = cli.args.config();
        assert!(!config.pty);
        assert_eq!(config.tcp, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        assert_eq!(config.faults, vec![Injection::at("Sis", 1, Fault::Jam)]);
        assert_eq!(config.model.timing.scale, 0.0);
        assert!(Cli::try_parse_from(["sim", "--fault", "smoke"]).is_err());
    }
}
