//! The personalisation host: SELECT the issuer security domain, open the secure channel,
//! then per application INSTALL [for personalization] and STORE DATA of its DGIs.
//!
//! Before the first APDU: the DP file is checked, the transport key's check value compared
//! with the file's, every encrypted DGI decrypted and its padding checked; the secure
//! channel checks the ISD key set's check values before INITIALIZE UPDATE. A wrong key or a
//! damaged file therefore never costs the card anything.
//!
//! STORE DATA blocks ([`store_data_blocks`]): DGIs are packed in order into blocks of at most
//! the block size ([`max_block`]: what the reader carries, less the secure channel's MAC and
//! padding); a block holds only plain DGIs (P1 b7b6 = 00) or only encrypted ones (11, 0x60),
//! a DGI header is never split, a DGI longer than the room left continues in the next
//! block; P1 b8 marks the last block, P2 counts blocks from 00.

use apdu::Command;
use card_transport::{Capabilities, CardTransaction};
use firmware_profile::{ApplicationKind, Profile};
use secure_channel::{HostParams, IsdSetup, KcvSet, KeyProvider, Scheme, SecurityLevel, Session};
use tracing::{debug, info};

use crate::dp::{Dgi, DpFile, TransportDecrypt};
use crate::{Error, AID_ISD};

/// How to reach and protect the security domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersoParams {
    /// The issuer security domain's AID.
    pub isd_aid: Vec<u8>,
    /// Secure channel scheme, level and the expected ISD key check values.
    pub host: HostParams,
    /// A smaller STORE DATA block than the reader allows (tests, quirky cards).
    pub max_block: Option<usize>,
}

impl PersoParams {
    /// How to reach the ISD of a card of `profile`: its AID, the `[isd]` scheme and master
    /// check value, C-MAC (raise [`HostParams::level`] for C-DECRYPTION or R-MAC).
    pub fn for_profile(profile: &Profile) -> Result<PersoParams, Error> {
        let setup = IsdSetup::from_profile(profile)?;
        let isd = profile.application(ApplicationKind::Isd).ok_or_else(|| {
            Error::Dp(format!("{}: the card profile has no issuer security domain", profile.id))
        })?;
        Ok(PersoParams {
            isd_aid: isd.aid.clone(),
            host: HostParams {
                scheme: setup.scheme,
                level: SecurityLevel::C_MAC,
                expected_kcvs: setup.master_kcvs,
            },
            max_block: None,
        })
    }

    /// What a card of `ssc-3g-fin-sim` expects ([`PersoParams::for_profile`] of it, which the
    /// tests check): ISD `A000000151000000`, SCP02 i=15, C-MAC, the test KMC `404142..4F`
    /// (KCV 8BAF47) as master.
    pub fn test() -> PersoParams {
        let kcv = secure_channel::Kcv([0x8B, 0xAF, 0x47]);
        PersoParams {
            isd_aid: hex::decode(AID_ISD).unwrap_or_default(),
            host: HostParams {
                scheme: Scheme::scp02(0x15),
                level: SecurityLevel::C_MAC,
                expected_kcvs: Some(KcvSet { enc: kcv, mac: kcv, dek: kcv }),
            },
            max_block: None,
        }
    }
}

/// What a personalisation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersoReport {
    /// Applications personalised.
    pub applications: usize,
    /// DGIs stored.
    pub dgis: usize,
    /// STORE DATA commands sent.
    pub store_data: usize,
    /// Block size used (STORE DATA data bytes before secure messaging).
    pub block_size: usize,
}

/// One STORE DATA command before secure messaging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreDataBlock {
    /// P1: b8 last block, b7b6 `11` when the block's DGIs are encrypted.
    pub p1: u8,
    /// P2: block number from 00.
    pub p2: u8,
    /// DGIs (or pieces of them).
    pub data: Vec<u8>,
}

impl StoreDataBlock {
    /// The command `80 E2 P1 P2 Lc data`.
    pub fn command(&self) -> Command {
        Command::new(0x80, 0xE2, self.p1, self.p2).with_data(self.data.clone())
    }
}

/// A DGI's header: number, then its length in 1 byte (up to 254) or `FF` and 2 bytes.
pub fn dgi_header(dgi: u16, len: usize) -> Vec<u8> {
    let mut out = dgi.to_be_bytes().to_vec();
    if len < 0xFF {
        out.push(len as u8);
    } else {
        out.push(0xFF);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    out
}

/// The largest STORE DATA data field that still fits one short APDU of `caps` once the
/// secure channel has added its MAC (and, with C-DECRYPTION, its padding).
pub fn max_block(caps: Capabilities, scheme: Scheme, level: SecurityLevel) -> usize {
    // Secure messaging covers one short APDU only (see secure_channel::Session::transmit).
    let limit = caps.max_command_data.min(255);
    let mac = if level.c_mac() { scheme.mac_len() } else { 0 };
    let room = limit.saturating_sub(mac);
    if level.c_dec() {
        let bs = scheme.algorithm.block_size();
        (room / bs * bs).saturating_sub(1)
    } else {
        room
    }
}

/// Splits DGIs (values already as the card must receive them) into STORE DATA blocks of at
/// most `block` bytes. See the module docs for the rules.
pub fn store_data_blocks(dgis: &[Dgi], block: usize) -> Result<Vec<StoreDataBlock>, Error> {
    if block < 6 {
        return Err(Error::Dp(format!("STORE DATA block of {block} bytes is too small for a DGI header")));
    }
    let mut blocks: Vec<StoreDataBlock> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut current_enc = false;
    let mut flush = |current: &mut Vec<u8>, enc: bool| {
        if !current.is_empty() {
            blocks.push(StoreDataBlock {
                p1: if enc { 0x60 } else { 0x00 },
                p2: 0,
                data: std::mem::take(current),
            });
        }
    };
    for d in dgis {
        if d.encrypted != current_enc {
            flush(&mut current, current_enc);
            current_enc = d.encrypted;
        }
        let header = dgi_header(d.dgi, d.value.len());
        if block - current.len() < header.len() + 1 {
            flush(&mut current, current_enc);
        }
        current.extend_from_slice(&header);
        let mut rest = &d.value[..];
        loop {
            let room = block - current.len();
            let take = room.min(rest.len());
            current.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if rest.is_empty() {
                break;
            }
            flush(&mut current, current_enc);
        }
    }
    flush(&mut current, current_enc);
    if blocks.len() > 256 {
        return Err(Error::Dp(format!("{} STORE DATA blocks: P2 counts to 256 at most", blocks.len())));
    }
    for (i, b) in blocks.iter_mut().enumerate() {
        b.p2 = i as u8;
    }
    match blocks.last_mut() {
        Some(last) => last.p1 |= 0x80,
        None => return Err(Error::Dp("no DGI to store".into())),
    }
    Ok(blocks)
}

/// Personalises every application of `dp`; see the module docs for the order of checks.
pub fn personalise(
    tx: &mut dyn CardTransaction,
    dp: &DpFile,
    transport_key: &dyn TransportDecrypt,
    isd_keys: &dyn KeyProvider,
    params: &PersoParams,
) -> Result<PersoReport, Error> {
    dp.check()?;
    dp.check_transport_key(transport_key)?;
    // Decrypt (and check) everything before the card sees anything.
    let mut apps = Vec::with_capacity(dp.applications.len());
    for a in &dp.applications {
        let mut dgis = a.checked_dgis()?;
        for d in dgis.iter_mut().filter(|d| d.encrypted) {
            let plain = transport_key.decrypt_dgi(d.dgi, &d.value)?;
            d.value = plain.to_vec();
        }
        apps.push((a.aid_bytes()?, a.name.clone(), dgis));
    }
    let mut session = open_isd(tx, isd_keys, params)?;
    let mut block = max_block(tx.capabilities(), params.host.scheme, params.host.level);
    if let Some(m) = params.max_block {
        block = block.min(m);
    }
    let mut report = PersoReport { applications: 0, dgis: 0, store_data: 0, block_size: block };
    for (aid, name, mut dgis) in apps {
        let cipher_block = params.host.scheme.algorithm.block_size();
        for d in dgis.iter_mut().filter(|d| d.encrypted) {
            // Plaintext from the transport key to the session DEK, padded again to the DEK's
            // block (the transport key is 3DES; an SCP03 or SM4 DEK has 16-byte blocks).
            let padded = zeroize::Zeroizing::new(std::mem::take(&mut d.value));
            let value = secure_channel::unpad80(&padded)
                .ok_or_else(|| Error::Dp(format!("DGI {:04X}: padding lost", d.dgi)))?;
            let plain = zeroize::Zeroizing::new(secure_channel::pad80(value, cipher_block));
            d.value = session.encrypt_sensitive(&plain)?;
        }
        report.store_data += store_application(tx, &mut session, &aid, &dgis, block)?;
        report.dgis += dgis.len();
        report.applications += 1;
        info!(application = %name, dgis = dgis.len(), "personalised");
    }
    Ok(report)
}

/// The step of the first command a personalisation sends (see [`Error::lost_before_any_change`]).
pub(crate) const SELECT_ISD: &str = "SELECT issuer security domain";

/// SELECT of the ISD and the secure channel.
pub fn open_isd(
    tx: &mut dyn CardTransaction,
    isd_keys: &dyn KeyProvider,
    params: &PersoParams,
) -> Result<Session, Error> {
    // The key check comes first: a wrong key set sends nothing, not even the SELECT.
    secure_channel::HostHandshake::new(
        isd_keys,
        params.host.clone(),
        &vec![0; params.host.scheme.challenge_len()],
    )?;
    apdu::expect_ok(tx, &Command::select_aid(&params.isd_aid), SELECT_ISD)?;
    Ok(Session::open(tx, isd_keys, params.host.clone())?)
}

/// INSTALL [for personalization] of `aid`, then its DGIs (values as the card must receive
/// them: encrypted ones under the session DEK) in STORE DATA blocks of at most `block`
/// bytes. Returns the number of STORE DATA commands.
pub fn store_application(
    tx: &mut dyn CardTransaction,
    session: &mut Session,
    aid: &[u8],
    dgis: &[Dgi],
    block: usize,
) -> Result<usize, Error> {
    let mut install = vec![0x00, 0x00, aid.len() as u8];
    install.extend_from_slice(aid);
    install.extend_from_slice(&[0x00, 0x00, 0x00]);
    let step = format!("INSTALL [for personalization] {}", hex::encode_upper(aid));
    session.expect_ok(tx, &Command::new(0x80, 0xE6, 0x20, 0x00).with_data(install).with_le(256), &step)?;
    let blocks = store_data_blocks(dgis, block)?;
    for b in &blocks {
        let step = format!("STORE DATA {:02X} of {}", b.p2, hex::encode_upper(aid));
        debug!(p1 = b.p1, p2 = b.p2, len = b.data.len(), "STORE DATA");
        session.expect_ok(tx, &b.command(), &step)?;
    }
    Ok(blocks.len())
}
