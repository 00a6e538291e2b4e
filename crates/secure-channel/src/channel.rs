//! The one engine both roles run: the host wraps commands and unwraps answers, the card
//! unwraps commands and wraps answers, with the same state (ICV or MAC chaining value,
//! encryption counter) on each side. Keeping it in one place is what makes a host/card pair
//! in the tests a real check of both.

use crate::key::{ct_eq, pad80, unpad80};
use crate::{CardRefusal, Error, Protocol, Scheme, SecurityLevel, SessionKeys};
use apdu::{Command, Response, StatusWord};

/// The INITIALIZE UPDATE answer, both forms.
///
/// SCP02 (28 bytes): KDD 10 | KVN | 02 | sequence counter 2 | card challenge 6 | cryptogram 8.
/// SCP03: KDD 10 | KVN | 03 | i | card challenge 8/16 | cryptogram 8/16 [| counter 3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitUpdateAnswer {
    /// Key diversification data.
    pub kdd: [u8; 10],
    /// Key version number of the set the card uses.
    pub key_version: u8,
    /// SCP identifier the card reports.
    pub scp_id: u8,
    /// SCP03 "i" as the card reports it (SCP02 has none in the answer).
    pub i: Option<u8>,
    /// SCP02: 2-byte sequence counter; SCP03 pseudo-random: 3-byte counter; else empty.
    pub sequence_counter: Vec<u8>,
    /// Card challenge (6 bytes SCP02, 8 or 16 SCP03).
    pub card_challenge: Vec<u8>,
    /// Card cryptogram.
    pub card_cryptogram: Vec<u8>,
}

impl InitUpdateAnswer {
    /// Parses the answer data for `scheme`.
    pub fn parse(scheme: &Scheme, data: &[u8]) -> Result<InitUpdateAnswer, Error> {
        const STEP: &str = "INITIALIZE UPDATE";
        let want = scheme.initialize_update_len();
        if data.len() != want {
            return Err(Error::protocol(
                STEP,
                format!(
                    "answer is {} bytes, {want} expected for {:?} i={:02X}",
                    data.len(),
                    scheme.protocol,
                    scheme.i
                ),
            ));
        }
        let mut kdd = [0u8; 10];
        kdd.copy_from_slice(&data[..10]);
        let (key_version, scp_id) = (data[10], data[11]);
        Ok(match scheme.protocol {
            Protocol::Scp02 => InitUpdateAnswer {
                kdd,
                key_version,
                scp_id,
                i: None,
                sequence_counter: data[12..14].to_vec(),
                card_challenge: data[14..20].to_vec(),
                card_cryptogram: data[20..28].to_vec(),
            },
            Protocol::Scp03 => {
                let n = scheme.challenge_len();
                InitUpdateAnswer {
                    kdd,
                    key_version,
                    scp_id,
                    i: Some(data[12]),
                    card_challenge: data[13..13 + n].to_vec(),
                    card_cryptogram: data[13 + n..13 + 2 * n].to_vec(),
                    sequence_counter: data[13 + 2 * n..].to_vec(),
                }
            }
        })
    }

    /// The answer data as the card sends it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.kdd.to_vec();
        out.push(self.key_version);
        out.push(self.scp_id);
        match self.i {
            None => {
                out.extend_from_slice(&self.sequence_counter);
                out.extend_from_slice(&self.card_challenge);
                out.extend_from_slice(&self.card_cryptogram);
            }
            Some(i) => {
                out.push(i);
                out.extend_from_slice(&self.card_challenge);
                out.extend_from_slice(&self.card_cryptogram);
                out.extend_from_slice(&self.sequence_counter);
            }
        }
        out
    }
}

/// Secure-messaging bit of CLA.
const CLA_SM: u8 = 0x04;

/// The state of one secure channel (either side).
pub(crate) struct Channel {
    pub(crate) scheme: Scheme,
    pub(crate) level: SecurityLevel,
    pub(crate) keys: SessionKeys,
    /// SCP02: the last C-MAC (None before EXTERNAL AUTHENTICATE: ICV zero).
    icv: Option<[u8; 8]>,
    /// SCP02: the last R-MAC (the next one's ICV).
    ricv: [u8; 8],
    /// SCP02: the unprotected command an R-MAC covers.
    rmac_command: Vec<u8>,
    /// SCP03: the MAC chaining value.
    chain: [u8; 16],
    /// SCP03: the encryption counter.
    counter: u128,
}

impl Channel {
    pub(crate) fn new(scheme: Scheme, keys: SessionKeys) -> Channel {
        Channel {
            scheme,
            level: SecurityLevel::NONE,
            keys,
            icv: None,
            ricv: [0; 8],
            rmac_command: Vec::new(),
            chain: [0; 16],
            counter: 0,
        }
    }

    // ----- host side -----

    /// Protects EXTERNAL AUTHENTICATE: C-MAC only, from a zero ICV or chaining value.
    pub(crate) fn wrap_external_authenticate(&mut self, cmd: &Command) -> Result<Command, Error> {
        self.wrap_with(cmd, true, false)
    }

    /// Protects a command at the session's level.
    /// With R-MAC a command without Le gets Le `00`: the answer carries the R-MAC as data,
    /// and a card (or reader) returns no data to a command that asks for none.
    pub(crate) fn wrap(&mut self, cmd: &Command) -> Result<Command, Error> {
        let mut out = self.wrap_with(cmd, self.level.c_mac(), self.level.c_dec())?;
        if self.level.r_mac() && out.le.is_none() {
            out.le = Some(256);
        }
        Ok(out)
    }

    fn wrap_with(&mut self, cmd: &Command, mac: bool, enc: bool) -> Result<Command, Error> {
        if !mac {
            return Ok(cmd.clone());
        }
        if cmd.cla & CLA_SM != 0 {
            return Err(Error::Unsupported(format!(
                "wrapping a command whose CLA {:02X} already says SM",
                cmd.cla
            )));
        }
        match self.scheme.protocol {
            Protocol::Scp02 => self.scp02_wrap(cmd, enc),
            Protocol::Scp03 => self.scp03_wrap(cmd, enc),
        }
    }

    fn scp02_wrap(&mut self, cmd: &Command, enc: bool) -> Result<Command, Error> {
        let n = cmd.data.len();
        let wire = if enc && n > 0 { (n / 8 + 1) * 8 } else { n } + 8;
        if wire > 255 {
            return Err(Error::Unsupported(format!(
                "SCP02 command with {n} data bytes: {wire} with padding and C-MAC, over 255"
            )));
        }
        let icv = self.scp02_icv()?;
        let mac = self.keys.mac.retail_mac(&icv, &self.scp02_mac_input(cmd.cla, cmd, &cmd.data))?;
        self.icv = Some(mac);
        if self.level.r_mac() {
            self.rmac_command = scp02_rmac_command(cmd.cla, cmd, &cmd.data);
        }
        let mut data = if enc && n > 0 {
            self.keys.enc.encrypt_cbc(&[0; 8], &pad80(&cmd.data, 8))?
        } else {
            cmd.data.clone()
        };
        data.extend_from_slice(&mac);
        Ok(Command { cla: cmd.cla | CLA_SM, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, le: cmd.le })
    }

    fn scp03_wrap(&mut self, cmd: &Command, enc: bool) -> Result<Command, Error> {
        let mut data = cmd.data.clone();
        if enc {
            // Counted for every command, with data or without (Amendment D 6.2.6).
            self.counter = self.counter.wrapping_add(1);
            if !data.is_empty() {
                let iv = self.scp03_iv(false)?;
                data = self.keys.enc.encrypt_cbc(&iv, &pad80(&data, 16))?;
            }
        }
        let mac_len = self.scheme.mac_len();
        let mut out =
            Command { cla: cmd.cla | CLA_SM, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, le: cmd.le };
        let body_len = out.data.len();
        out.data.resize(body_len + mac_len, 0);
        let full = self.scp03_cmac(&out, body_len)?;
        self.chain = full;
        out.data[body_len..].copy_from_slice(&full[..mac_len]);
        Ok(out)
    }

    /// Checks and strips the protection of an answer.
    pub(crate) fn unwrap_response(&mut self, resp: &Response, step: &str) -> Result<Response, Error> {
        if !self.level.r_mac() {
            return Ok(resp.clone());
        }
        let mac_len = self.scheme.mac_len();
        let bad_mac = || Error::Mac { step: step.to_string(), sw: resp.sw };
        if !is_normal(resp.sw) && resp.data.len() < mac_len {
            // An error answer: nothing to check (SCP03 never protects one, and SCP02 cards
            // differ); the caller sees the status word.
            if !resp.data.is_empty() {
                return Err(Error::protocol(step, "unprotected data with an error status word"));
            }
            return Ok(resp.clone());
        }
        if resp.data.len() < mac_len {
            return Err(bad_mac());
        }
        let (body, mac) = resp.data.split_at(resp.data.len() - mac_len);
        match self.scheme.protocol {
            Protocol::Scp02 => {
                let expected = self.scp02_rmac(body, resp.sw)?;
                if !ct_eq(&expected, mac) {
                    return Err(bad_mac());
                }
                self.ricv = expected;
                Ok(Response::new(body.to_vec(), resp.sw))
            }
            Protocol::Scp03 => {
                let expected = self.scp03_rmac(body, resp.sw)?;
                if !ct_eq(&expected[..mac_len], mac) {
                    return Err(bad_mac());
                }
                if !self.level.r_enc() || body.is_empty() {
                    return Ok(Response::new(body.to_vec(), resp.sw));
                }
                let iv = self.scp03_iv(true)?;
                if !body.len().is_multiple_of(16) {
                    return Err(Error::protocol(step, "encrypted answer is not whole blocks"));
                }
                let plain = self.keys.enc.decrypt_cbc(&iv, body)?;
                let data = unpad80(&plain)
                    .ok_or_else(|| Error::protocol(step, "bad padding in encrypted answer"))?;
                Ok(Response::new(data.to_vec(), resp.sw))
            }
        }
    }

    // ----- card side -----

    /// Checks EXTERNAL AUTHENTICATE's C-MAC and strips it.
    pub(crate) fn unwrap_external_authenticate(&mut self, cmd: &Command) -> Result<Command, CardRefusal> {
        self.unwrap_with(cmd, true, false)
    }

    /// Checks and strips a command's protection at the session's level.
    pub(crate) fn unwrap(&mut self, cmd: &Command) -> Result<Command, CardRefusal> {
        self.unwrap_with(cmd, self.level.c_mac(), self.level.c_dec())
    }

    fn unwrap_with(&mut self, cmd: &Command, mac: bool, enc: bool) -> Result<Command, CardRefusal> {
        if !mac {
            return Ok(cmd.clone());
        }
        let refuse = |why: &str| CardRefusal::new(StatusWord::SecurityStatusNotSatisfied, why);
        let mac_len = self.scheme.mac_len();
        if cmd.cla & CLA_SM == 0 {
            return Err(refuse("command without secure messaging in a secure channel"));
        }
        if cmd.data.len() < mac_len {
            return Err(refuse("command shorter than its C-MAC"));
        }
        let internal = |e: Error| CardRefusal::new(StatusWord::NoPreciseDiagnosis, e.to_string());
        let (body, mac) = cmd.data.split_at(cmd.data.len() - mac_len);
        let plain_cla = cmd.cla & !CLA_SM;
        match self.scheme.protocol {
            Protocol::Scp02 => {
                let plain = if enc && !body.is_empty() {
                    if !body.len().is_multiple_of(8) {
                        return Err(refuse("encrypted data is not whole blocks"));
                    }
                    let p = self.keys.enc.decrypt_cbc(&[0; 8], body).map_err(internal)?;
                    unpad80(&p).ok_or_else(|| refuse("bad padding in encrypted data"))?.to_vec()
                } else {
                    body.to_vec()
                };
                let icv = self.scp02_icv().map_err(internal)?;
                let expected = self
                    .keys
                    .mac
                    .retail_mac(&icv, &self.scp02_mac_input(plain_cla, cmd, &plain))
                    .map_err(internal)?;
                if !ct_eq(&expected, mac) {
                    return Err(refuse("C-MAC does not verify"));
                }
                self.icv = Some(expected);
                if self.level.r_mac() {
                    self.rmac_command = scp02_rmac_command(plain_cla, cmd, &plain);
                }
                Ok(Command { cla: plain_cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: plain, le: cmd.le })
            }
            Protocol::Scp03 => {
                let expected = self.scp03_cmac(cmd, body.len()).map_err(internal)?;
                if !ct_eq(&expected[..mac_len], mac) {
                    return Err(refuse("C-MAC does not verify"));
                }
                self.chain = expected;
                let mut plain = body.to_vec();
                if enc {
                    self.counter = self.counter.wrapping_add(1);
                    if !body.is_empty() {
                        if !body.len().is_multiple_of(16) {
                            return Err(refuse("encrypted data is not whole blocks"));
                        }
                        let iv = self.scp03_iv(false).map_err(internal)?;
                        let p = self.keys.enc.decrypt_cbc(&iv, body).map_err(internal)?;
                        plain = unpad80(&p).ok_or_else(|| refuse("bad padding in encrypted data"))?.to_vec();
                    }
                }
                Ok(Command { cla: plain_cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: plain, le: cmd.le })
            }
        }
    }

    /// Protects an answer at the session's level.
    pub(crate) fn wrap_response(&mut self, resp: &Response) -> Result<Response, Error> {
        if !self.level.r_mac() {
            return Ok(resp.clone());
        }
        match self.scheme.protocol {
            Protocol::Scp02 => {
                let mac = self.scp02_rmac(&resp.data, resp.sw)?;
                self.ricv = mac;
                Ok(Response::new([&resp.data[..], &mac].concat(), resp.sw))
            }
            Protocol::Scp03 => {
                if !is_normal(resp.sw) {
                    return Ok(Response::status(resp.sw));
                }
                let mut data = resp.data.clone();
                if self.level.r_enc() && !data.is_empty() {
                    let iv = self.scp03_iv(true)?;
                    data = self.keys.enc.encrypt_cbc(&iv, &pad80(&data, 16))?;
                }
                let mac = self.scp03_rmac(&data, resp.sw)?;
                data.extend_from_slice(&mac[..self.scheme.mac_len()]);
                Ok(Response::new(data, resp.sw))
            }
        }
    }

    // ----- shared pieces -----

    fn scp02_icv(&self) -> Result<[u8; 8], Error> {
        match self.icv {
            None => Ok([0; 8]),
            Some(last) if self.scheme.scp02_icv_encryption() => self.keys.mac.des_k1_encrypt(&last),
            Some(last) => Ok(last),
        }
    }

    /// The C-MAC input: the modified header (CLA with SM, Lc + 8) or, with i b2, the
    /// original one; then the plaintext data.
    fn scp02_mac_input(&self, plain_cla: u8, cmd: &Command, plain: &[u8]) -> Vec<u8> {
        let plain_cla = plain_cla & !CLA_SM;
        let (cla, lc) = if self.scheme.scp02_mac_on_unmodified() {
            (plain_cla, plain.len())
        } else {
            (plain_cla | CLA_SM, plain.len() + 8)
        };
        let mut out = vec![cla, cmd.ins, cmd.p1, cmd.p2, lc as u8];
        out.extend_from_slice(plain);
        out
    }

    fn scp02_rmac(&self, data: &[u8], sw: StatusWord) -> Result<[u8; 8], Error> {
        let mut input = self.rmac_command.clone();
        input.push(data.len() as u8);
        input.extend_from_slice(data);
        input.extend_from_slice(&sw.to_bytes());
        self.keys.rmac.retail_mac(&self.ricv, &input)
    }

    /// CMAC over chaining value, header (CLA, INS, P1, P2 and the Lc of the whole protected
    /// command) and the data before the MAC.
    fn scp03_cmac(&self, protected: &Command, body_len: usize) -> Result<[u8; 16], Error> {
        let n = protected.data.len();
        if n > 65_535 {
            return Err(Error::Unsupported(format!("command data of {n} bytes")));
        }
        let mut input = self.chain.to_vec();
        input.extend_from_slice(&[protected.cla, protected.ins, protected.p1, protected.p2]);
        if protected.needs_extended() {
            input.push(0);
            input.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            input.push(n as u8);
        }
        input.extend_from_slice(&protected.data[..body_len]);
        self.keys.mac.cmac(&input)
    }

    fn scp03_rmac(&self, data: &[u8], sw: StatusWord) -> Result<[u8; 16], Error> {
        let mut input = self.chain.to_vec();
        input.extend_from_slice(data);
        input.extend_from_slice(&sw.to_bytes());
        self.keys.rmac.cmac(&input)
    }

    /// ICV of command (or, with the first byte 80, answer) encryption: the counter
    /// encrypted under S-ENC.
    fn scp03_iv(&self, response: bool) -> Result<Vec<u8>, Error> {
        let mut block = self.counter.to_be_bytes();
        if response {
            block[0] = 0x80;
        }
        self.keys.enc.encrypt_ecb(&block)
    }
}

/// The command an SCP02 R-MAC covers: header without SM or channel bits, plain Lc and data.
/// [I] GlobalPlatformPro clears CLA b1-b3 the same way.
fn scp02_rmac_command(cla: u8, cmd: &Command, plain: &[u8]) -> Vec<u8> {
    let mut out = vec![cla & !0x07, cmd.ins, cmd.p1, cmd.p2];
    if !plain.is_empty() {
        out.push(plain.len() as u8);
        out.extend_from_slice(plain);
    }
    out
}

/// 9000 and the warnings 62xx/63xx: the answers SCP03 protects.
pub(crate) fn is_normal(sw: StatusWord) -> bool {
    let [sw1, _] = sw.to_bytes();
    sw == StatusWord::Success || sw1 == 0x62 || sw1 == 0x63
}
