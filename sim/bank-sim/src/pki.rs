//! A throw-away PKI for the simulator over TLS: a CA, the card system's certificate (127.0.0.1
//! and localhost) and one station's client certificate, written as the files an operator would
//! be handed; made by the identity verification simulator's PKI, as every simulator reached
//! over mutual TLS has its own.

use std::path::Path;

pub use idv_sim::pki::TestPki;

use crate::SimError;

/// Generates a CA, the card system's certificate and a client certificate into `dir` (created
/// if missing; existing files are replaced).
pub fn generate(dir: &Path) -> Result<TestPki, SimError> {
    idv_sim::pki::generate_for(dir, "bank card system").map_err(SimError::from)
}
