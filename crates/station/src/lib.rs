//! The counter-station's library: what the `station` subcommands do, without the argument
//! parsing, so tests drive it directly.
#![forbid(unsafe_code)]

pub mod card_read;
pub mod client;
pub mod clock;
pub mod config;
pub mod counter;
#[cfg(feature = "sim")]
pub mod crash;
pub mod db_key;
pub mod exit;
pub mod faces;
pub mod financial;
pub mod id_input;
pub mod init;
pub mod kit_key;
pub mod ledger_key;
pub mod runner;
pub mod serve;
#[cfg(feature = "sim")]
pub mod sim_devices;
pub mod ssc;
pub mod term;
pub mod visits;
