//! The outreach kit (上门服务, workflows.md): a station profile for home visits.
//!
//! - Before leaving, [`Kit::checkout`] claims the visit list at the provincial archive under
//!   one lease (kit id = the kit's certificate name), a card number reserved per person;
//!   pre-made batch cards travel in the kit's custody.
//! - Offline, [`Kit`] hands cards over with the holder's signature, makes a card under the
//!   reserved number, activates the financial function face to face (the counter's rule
//!   checks, `issuance::lifecycle`), records failures with reasons, and refuses anything for a
//!   person not claimed before leaving, or after the longest time offline.
//! - Back online, [`sync::sync`] sends the outbox once, in order, resumably, and checks in.
//! - At rest, every record is sealed with AES-256-GCM under a key derived (Argon2id, 64 MiB,
//!   3 passes, the cost kept with the store) from the operator's passphrase at log-in, which a
//!   new store takes only if it passes [`vault::passphrase_policy`]; the key is never written
//!   ([`vault`]). The kit's own
//!   short-lived certificate and key for the provincial service are sealed there too, never
//!   kept in a file on the laptop ([`identity`]).
//! - The outbox is an SM3 hash chain with a sealed head: a store whose records were deleted,
//!   reordered or put back from an older copy is refused at log-in and before a sync.
//! - Every record is signed (ECDSA P-256) in the kit's own PKCS#11 token, whose key the
//!   passphrase does not open ([`Kit::use_record_key`]); the checkout sends the key's public
//!   half, and the province refuses a record its signature does not cover: a store opened with
//!   the passphrase, altered and re-sealed syncs nothing it changed.
#![forbid(unsafe_code)]

pub mod identity;
pub mod kit;
pub mod sync;
pub mod vault;

pub use identity::{IdentityError, KitIdentity};
pub use kit::{Kit, KitError};
pub use sync::{sync, SyncError, SyncReport};
