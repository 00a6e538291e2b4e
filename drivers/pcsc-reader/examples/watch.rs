//! Prints what happens in a reader: insertion (with ATR and capabilities), removal, readers
//! plugged or unplugged, a pcscd restart. Needs a running pcscd; runs until the time is up.
//!
//! ```sh
//! cargo run -p pcsc-reader --example watch -- [SELECTOR] [SECONDS]
//! RUST_LOG=pcsc_reader=debug cargo run -p pcsc-reader --example watch -- kind:sam 60
//! ```
//!
//! `SELECTOR` defaults to `kind:contact`, `SECONDS` to 30.

use std::time::{Duration, Instant};

use card_transport::{Card, ReaderManager, TransportError};
use pcsc_reader::{PcscManager, ReaderEvent, ReaderRules};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let selector = args.next().unwrap_or_else(|| "kind:contact".into());
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let left = || deadline.saturating_duration_since(Instant::now());

    let mut manager = PcscManager::unconnected(ReaderRules::defaults());
    while !left().is_zero() {
        if let Err(e) = manager.wait_for_service(left()) {
            println!("service: {e}");
            break;
        }
        for r in manager.list_readers()? {
            println!("reader {:?}: {}{}", r.name, r.kind, if r.card_present { ", card present" } else { "" });
        }
        let reader = match manager.resolve(&selector) {
            Ok(r) => r.name,
            Err(e) => {
                println!("{e}; waiting for a reader change");
                println!("{:?}", manager.wait_for_reader_change(Some(left()))?);
                continue;
            }
        };
        match watch(&mut manager, &reader, left) {
            Ok(()) => break,
            Err(TransportError::ServiceUnavailable(why)) => println!("service lost ({why}); waiting for it"),
            Err(e) => println!("{e}"),
        }
    }
    Ok(())
}

fn watch(manager: &mut PcscManager, reader: &str, left: impl Fn() -> Duration) -> Result<(), TransportError> {
    loop {
        match manager.wait_for_card(reader, Some(left()))? {
            ReaderEvent::CardInserted { atr, .. } => {
                println!("card inserted: ATR {}", hex::encode_upper(&atr));
                let card = manager.open(reader)?;
                println!("capabilities: {:?}", card.capabilities());
                Box::new(card).disconnect(card_transport::Disposition::Leave)?;
            }
            ReaderEvent::Timeout | ReaderEvent::Cancelled => return Ok(()),
            other => println!("{other:?}"),
        }
        match manager.wait_for_removal(reader, Some(left()))? {
            ReaderEvent::CardRemoved { .. } => println!("card removed"),
            ReaderEvent::Timeout | ReaderEvent::Cancelled => return Ok(()),
            other => println!("{other:?}"),
        }
    }
}
