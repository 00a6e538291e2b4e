//! The provincial archive as a real service: [`store`] (the rules on PostgreSQL),
//! [`server`] (HTTP/JSON over mutual TLS, the station id from the client certificate),
//! [`client`] (what a station uses, implementing [`archive::ProvincialArchive`]), [`pki`]
//! (CA, server and station certificates) and [`cluster`] (a private PostgreSQL for tests,
//! benchmarks and the embedded set-up). `station provincial serve` runs it. Outreach kits
//! (`archive::kit`) are stations too: their certificate names the kit.
#![forbid(unsafe_code)]

mod claims;
pub mod client;
pub mod cluster;
mod custody;
mod kits;
mod losses;
pub mod pki;
pub mod server;
mod sql;
pub mod store;

pub use claims::{ClaimBatches, MAX_BATCH};
pub use client::Client;
pub use store::Store;
