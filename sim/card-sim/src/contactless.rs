//! The card on a contactless reader. A dual-interface card answers the same commands through
//! its antenna, but the reader, not the card, makes the ATR the host sees: PC/SC part 3
//! (3.1.3.2.3) builds one for an ISO 14443-4 card, `3B 8n 80 01` followed by the n
//! historical bytes (type A: those of the ATS) and TCK. That pattern is how the host tells
//! a contactless card from a contact one.
//!
//! The EMV applications answer as contactless ([`Interface::Contactless`]): the PPSE and the
//! contactless DGIs (`9103`, `9105`, `8001`). The card's state file is the same as in the
//! contact slot, so a card personalised there can be presented here.

use crate::{
    build_card, lock, register_financial, spawn, Interface, SharedCard, SimConfig, SimError, VpcdHandle,
};

/// The PC/SC part 3 ATR of an ISO 14443-4 card with these historical bytes (at most 15).
pub fn contactless_atr(historical: &[u8]) -> Vec<u8> {
    let k = historical.len().min(15);
    // T0: TD1 follows, K historical bytes; TD1: TD2 follows, T=0; TD2: T=1.
    let mut atr = vec![0x3B, 0x80 | k as u8, 0x80, 0x01];
    atr.extend_from_slice(&historical[..k]);
    let tck = atr[1..].iter().fold(0u8, |acc, b| acc ^ b);
    atr.push(tck);
    atr
}

/// The card `config` describes as a contactless reader presents it (not yet connected).
pub fn build_contactless_card(config: &SimConfig) -> Result<SharedCard, SimError> {
    let card = build_card(config)?;
    {
        let mut slot = lock(&card);
        let atr = contactless_atr(slot.os().profile().atr.historical_bytes());
        register_financial(slot.os_mut(), Interface::Contactless)?;
        slot.set_slot_atr(atr);
    }
    Ok(card)
}

/// Builds the card and presents it to the contactless vpcd reader at `config.vpcd` on a
/// thread; returns at once.
pub fn start_contactless(config: &SimConfig) -> Result<VpcdHandle, SimError> {
    let card = build_contactless_card(config)?;
    tracing::info!(profile = %config.profile.display(), vpcd = %config.vpcd, "card presented contactless");
    Ok(spawn(card, config.vpcd, config.faults.clone())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apdu::Atr;

    #[test]
    fn the_contactless_atr_is_pcsc_part_3_and_keeps_the_historical_bytes() {
        let h = hex::decode("80730000C05800BF7C7A48FB4967").expect("hex");
        let atr = contactless_atr(&h);
        assert_eq!(&atr[..4], &[0x3B, 0x8E, 0x80, 0x01]);
        let parsed = Atr::parse(&atr).expect("a valid ATR");
        assert_eq!(parsed.historical_bytes(), &h[..]);
        assert_eq!(parsed.protocols(), &[0, 1]);
        assert!(parsed.extended_length(), "the card capabilities travel with the historical bytes");
    }

    #[test]
    fn a_card_on_the_contactless_reader_reports_that_atr() {
        let config = SimConfig {
            profile: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../firmware-profiles/ssc-3g-fin-sim.toml"),
            state: None,
            faults: crate::Faults::default(),
            vpcd: "127.0.0.1:9".parse().expect("addr"),
            blank: true,
        };
        let contact = lock(&build_card(&config).expect("card")).atr();
        let card = build_contactless_card(&config).expect("card");
        let atr = lock(&card).atr();
        assert_ne!(atr, contact);
        assert_eq!(&atr[..4], &[0x3B, 0x8E, 0x80, 0x01]);
        assert_eq!(Atr::parse(&contact).expect("contact").historical_bytes(), &atr[4..atr.len() - 1]);
    }
}
