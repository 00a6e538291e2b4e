//! The in-process transport: simulated cards behind the card-transport traits, for unit
//! tests and benchmarks without pcscd. Readers are named `sim 0`, `sim 1`, ...

use std::time::Duration;

use card_transport::{
    Capabilities, Card, CardTransaction, Disposition, ReaderInfo, ReaderKind, ReaderManager, TransportError,
};
use firmware_profile::ApplicationKind;

use crate::sim::{lock, Answer, SharedCard};

/// Readers with simulated cards in them.
#[derive(Debug, Default, Clone)]
pub struct SimReaders {
    slots: Vec<(String, SharedCard)>,
}

fn kind_of(card: &SharedCard) -> ReaderKind {
    if lock(card).os().profile().application(ApplicationKind::Psam).is_some() {
        ReaderKind::Sam
    } else {
        ReaderKind::Contact
    }
}

impl SimReaders {
    /// No readers yet.
    pub fn new() -> SimReaders {
        SimReaders::default()
    }

    /// Adds a reader holding `card`; returns its name (`sim N`).
    pub fn add(&mut self, card: SharedCard) -> String {
        let name = format!("sim {}", self.slots.len());
        self.slots.push((name.clone(), card));
        name
    }

    /// The card in reader `name`.
    pub fn card(&self, name: &str) -> Option<&SharedCard> {
        self.slots.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

impl ReaderManager for SimReaders {
    fn list_readers(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        Ok(self
            .slots
            .iter()
            .map(|(name, card)| ReaderInfo {
                name: name.clone(),
                kind: kind_of(card),
                card_present: lock(card).is_present(),
            })
            .collect())
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn Card>, TransportError> {
        let card =
            self.card(reader).ok_or_else(|| TransportError::ReaderUnavailable(reader.to_string()))?.clone();
        SimConnection::connect(reader, card).map(|c| Box::new(c) as Box<dyn Card>)
    }

    /// Looks every few milliseconds: the card's presence changes under the lock (a printer's
    /// contact station inserts it), with no event to wait on.
    fn wait_for_atr(
        &mut self,
        reader: &str,
        after: Option<u64>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let card = self.card(reader).ok_or_else(|| TransportError::ReaderUnavailable(reader.to_string()))?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            {
                let mut c = lock(card);
                if c.is_present() && after != Some(c.events()) {
                    return Ok(c.atr());
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(TransportError::NoCard(reader.to_string()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn card_events(&mut self, reader: &str) -> Result<u64, TransportError> {
        let card = self.card(reader).ok_or_else(|| TransportError::ReaderUnavailable(reader.to_string()))?;
        Ok(lock(card).events())
    }
}

/// A connection to a simulated card.
#[derive(Debug)]
pub struct SimConnection {
    card: SharedCard,
    info: ReaderInfo,
    atr: Vec<u8>,
    capabilities: Capabilities,
    /// The card's reset count when this connection last selected something.
    seen_resets: u64,
}

impl SimConnection {
    /// Connects to `card` (powering it on) as reader `reader`.
    pub fn connect(reader: &str, card: SharedCard) -> Result<SimConnection, TransportError> {
        let kind = kind_of(&card);
        let mut c = lock(&card);
        if !c.is_present() {
            return Err(TransportError::NoCard(reader.to_string()));
        }
        c.reset();
        let atr = c.atr();
        let capabilities = c.os().profile().capabilities;
        let seen_resets = c.resets();
        drop(c);
        Ok(SimConnection {
            card,
            info: ReaderInfo { name: reader.to_string(), kind, card_present: true },
            atr,
            capabilities,
            seen_resets,
        })
    }

    /// The card behind this connection.
    pub fn card(&self) -> &SharedCard {
        &self.card
    }
}

impl Card for SimConnection {
    fn reader(&self) -> &ReaderInfo {
        &self.info
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn transaction(&mut self) -> Result<Box<dyn CardTransaction + '_>, TransportError> {
        if !lock(&self.card).is_present() {
            return Err(TransportError::NoCard(self.info.name.clone()));
        }
        Ok(Box::new(SimTransaction { conn: self }))
    }

    fn disconnect(self: Box<Self>, disposition: Disposition) -> Result<(), TransportError> {
        let mut c = lock(&self.card);
        match disposition {
            Disposition::Leave => {}
            Disposition::Reset => c.reset(),
            Disposition::Unpower => c.power_off(),
        }
        Ok(())
    }
}

/// A transaction on a simulated card.
struct SimTransaction<'a> {
    conn: &'a mut SimConnection,
}

impl CardTransaction for SimTransaction<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let (answer, delay, resets): (Answer, Option<Duration>, u64) = {
            let mut c = lock(&self.conn.card);
            let answer = c.transmit(command);
            (answer, c.delay(), c.resets())
        };
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        match answer {
            Answer::Reply(r) if r.len() < 2 => Err(TransportError::ShortResponse(r.len())),
            Answer::Reply(r) => {
                if command.get(1) == Some(&0xA4) {
                    self.conn.seen_resets = resets;
                }
                Ok(r)
            }
            Answer::Pulled => Err(TransportError::CardRemoved),
            Answer::Absent => Err(TransportError::NoCard(self.conn.info.name.clone())),
        }
    }

    fn was_reset(&self) -> bool {
        lock(&self.conn.card).resets() != self.conn.seen_resets
    }

    fn capabilities(&self) -> Capabilities {
        self.conn.capabilities
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use apdu::{expect_ok, read_binary_all, transmit, update_binary_all, Command, StatusWord};
    use card_transport::{CardTransaction, Disposition, ReaderKind, ReaderManager, TransportError};
    use firmware_profile::FilePath;

    use super::*;
    use crate::os::tests::{h, manufactured};
    use crate::SimCard;
    use card_crypto::external_auth_cryptogram;

    const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";

    fn card(profile_file: &str, faults: &str) -> SharedCard {
        let c = SimCard::new(manufactured(profile_file)).shared();
        lock(&c).set_faults(faults.parse().expect("faults"));
        c
    }

    fn readers(card: &SharedCard) -> SimReaders {
        let mut r = SimReaders::new();
        r.add(card.clone());
        r
    }

    fn send(tx: &mut dyn CardTransaction, apdu: &str) -> Result<Vec<u8>, TransportError> {
        tx.transmit(&h(apdu))
    }

    fn ok(tx: &mut dyn CardTransaction, apdu: &str) -> Vec<u8> {
        let r = send(tx, apdu).expect("answer");
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "{apdu} -> {}", hex::encode_upper(&r));
        r[..r.len() - 2].to_vec()
    }

    /// EXTERNAL AUTHENTICATE through the APDU layer, as the station does it.
    fn authenticate(tx: &mut dyn CardTransaction, card: &SharedCard, df: &FilePath, key_id: u8) {
        let p = lock(card).os().profile().clone();
        let key = p.find_key(df, key_id).expect("key");
        let value = lock(card).os().key_value(&key.df, key_id, None).expect("value").to_vec();
        let challenge = expect_ok(tx, &Command::get_challenge(8), "GET CHALLENGE").expect("challenge");
        let crypt = external_auth_cryptogram(key.algorithm, &value, &challenge).expect("crypt");
        expect_ok(tx, &Command::external_authenticate(key_id, &crypt), "EXTERNAL AUTHENTICATE")
            .expect("auth");
    }

    #[test]
    fn readers_are_listed_and_connected() {
        let user = card("ssc-3g-sim.toml", "");
        let psam = card("psam-sim.toml", "");
        let mut r = SimReaders::new();
        assert_eq!(r.add(user.clone()), "sim 0");
        assert_eq!(r.add(psam), "sim 1");
        let list = r.list_readers().expect("list");
        assert_eq!(
            list.iter().map(|i| (i.name.as_str(), i.kind)).collect::<Vec<_>>(),
            [("sim 0", ReaderKind::Contact), ("sim 1", ReaderKind::Sam)]
        );
        assert!(matches!(r.connect("sim 9"), Err(TransportError::ReaderUnavailable(_))));
        let mut c = r.connect("sim 0").expect("connect");
        assert_eq!(c.atr(), &h("3B8E01807300 00C0 58 00BF7C7A48FB4966 C1")[..]);
        let tx = c.transaction().expect("tx");
        assert!(tx.capabilities().extended_length);
        drop(tx);
        c.disconnect(Disposition::Leave).expect("leave");
        lock(&user).remove();
        assert!(!r.list_readers().expect("list")[0].card_present);
        assert!(matches!(r.connect("sim 0"), Err(TransportError::NoCard(_))));
    }

    /// A wait for the card's arrival after a count of the reader's events does not take the
    /// card that was there then; the card taken out and put back is an arrival.
    #[test]
    fn a_wait_after_a_move_takes_the_arrival_not_the_card_before() {
        let c = card("ssc-3g-sim.toml", "");
        let mut r = readers(&c);
        let before = r.card_events("sim 0").expect("events");
        let short = Duration::from_millis(30);
        assert!(r.wait_for_atr("sim 0", None, short).is_ok(), "any card: the one there");
        assert!(matches!(r.wait_for_atr("sim 0", Some(before), short), Err(TransportError::NoCard(_))));
        lock(&c).remove();
        lock(&c).insert();
        assert_eq!(r.card_events("sim 0").expect("events"), before + 2, "out and back in");
        assert!(r.wait_for_atr("sim 0", Some(before), short).is_ok(), "the arrival");
        assert!(matches!(r.card_events("sim 9"), Err(TransportError::ReaderUnavailable(_))));
    }

    #[test]
    fn another_connections_reset_is_noticed_until_the_next_select() {
        let c = card("ssc-3g-sim.toml", "");
        let mut r = readers(&c);
        let mut a = r.connect("sim 0").expect("a");
        let b = r.connect("sim 0").expect("b");
        {
            let tx = a.transaction().expect("tx");
            assert!(tx.was_reset(), "b's power-on reset the card after a connected");
        }
        ok(&mut *a.transaction().expect("tx"), SELECT_SSSE);
        assert!(!a.transaction().expect("tx").was_reset());
        b.disconnect(Disposition::Reset).expect("reset");
        let mut tx = a.transaction().expect("tx");
        assert!(tx.was_reset());
        assert_eq!(send(&mut *tx, "00B2012C00").map(|r| r.len()).ok(), Some(2), "MF is current again: 6A82");
    }

    #[test]
    fn a_short_reader_chains_a_photo_and_reads_it_back() {
        let c = card("ssc-2g-sim.toml", "");
        let mut conn = readers(&c).connect("sim 0").expect("connect");
        let mut tx = conn.transaction().expect("tx");
        assert!(!tx.capabilities().extended_length);
        expect_ok(&mut *tx, &Command::select_aid(&h("7378312E73682EC9E7BBE1B1A3D5CF")), "SELECT")
            .expect("ssse");
        authenticate(&mut *tx, &c, &FilePath::mf(), 0x04);
        expect_ok(&mut *tx, &Command::select_fid(0xEF08), "SELECT EF08").expect("ef08");
        let photo: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        update_binary_all(&mut *tx, 0, &photo, "EF08").expect("write");
        authenticate(&mut *tx, &c, &FilePath::mf(), 0x0A);
        expect_ok(&mut *tx, &Command::select_fid(0xEF08), "SELECT EF08").expect("ef08");
        assert_eq!(read_binary_all(&mut *tx, 0, 1000, "EF08").expect("read"), photo);
    }

    #[test]
    fn pull_after_takes_the_card_before_the_apdu_runs() {
        let c = card("ssc-3g-sim.toml", "pull-after=2");
        let mut r = readers(&c);
        let mut conn = r.connect("sim 0").expect("connect");
        let mut tx = conn.transaction().expect("tx");
        ok(&mut *tx, "00A4020C02EF0F");
        ok(&mut *tx, "00D6000001AA");
        assert_eq!(send(&mut *tx, "00D6000101BB"), Err(TransportError::CardRemoved));
        assert!(matches!(send(&mut *tx, "00B0000002"), Err(TransportError::NoCard(_))));
        drop(tx);
        assert_eq!(
            lock(&c).os().binary(&FilePath::parse("3F00/EF0F").expect("p")).map(|d| d[..2].to_vec()),
            Some(h("AA00"))
        );
        assert!(!r.list_readers().expect("list")[0].card_present);
        lock(&c).insert();
        let mut conn = r.connect("sim 0").expect("back");
        let mut tx = conn.transaction().expect("tx");
        ok(&mut *tx, "00A4020C02EF0F");
        assert_eq!(ok(&mut *tx, "00B0000002"), h("AA00"), "the pull fires once");
    }

    #[test]
    fn reinsert_fault_brings_the_card_back() {
        let c = card("ssc-3g-sim.toml", "pull-after=0,reinsert=30ms");
        assert_eq!(lock(&c).transmit(&h("00A4000C023F00")), Answer::Pulled);
        assert!(!lock(&c).is_present());
        std::thread::sleep(Duration::from_millis(40));
        assert!(lock(&c).is_present());
    }

    #[test]
    fn t0_answers_61xx_and_hands_out_pieces() {
        let c = card("ssc-3g-sim.toml", "t0");
        let mut conn = readers(&c).connect("sim 0").expect("connect");
        let mut tx = conn.transaction().expect("tx");
        assert_eq!(send(&mut *tx, &format!("{SELECT_SSSE}00")).expect("select")[..1], [0x61]);
        assert_eq!(send(&mut *tx, "00B2083400").expect("read"), h("6114"));
        assert_eq!(send(&mut *tx, "00C0000008").expect("gr1"), h("0812313130313035 610C"));
        assert_eq!(send(&mut *tx, "00C000000C").expect("gr2"), h("313934393132333130303258 9000"));
        assert_eq!(send(&mut *tx, "00C0000008").expect("gr3"), h("6985"), "nothing left");
        // Another command drops what was waiting.
        assert_eq!(send(&mut *tx, "00B2083400").expect("read"), h("6114"));
        assert_eq!(send(&mut *tx, "00A4000C023F00").expect("select"), h("9000"));
        assert_eq!(send(&mut *tx, "00C0000014").expect("gr"), h("6985"));
        // The APDU layer joins the pieces.
        expect_ok(&mut *tx, &Command::select_aid(&h("7378312E73682EC9E7BBE1B1A3D5CF")), "SELECT")
            .expect("ssse");
        expect_ok(&mut *tx, &Command::select_fid(0xEF06), "SELECT EF06").expect("ef06");
        let rec = expect_ok(&mut *tx, &Command::read_record(9, 256), "READ EF06 09");
        assert_eq!(rec.map(|r| r.len()), Ok(0x20));
    }

    #[test]
    fn wrong_le_answers_6cxx_and_the_apdu_layer_resends() {
        let c = card("ssc-3g-sim.toml", "wrong-le");
        let mut conn = readers(&c).connect("sim 0").expect("connect");
        let mut tx = conn.transaction().expect("tx");
        ok(&mut *tx, SELECT_SSSE);
        assert_eq!(send(&mut *tx, "00B2083400").expect("read"), h("6C14"));
        assert_eq!(ok(&mut *tx, "00B2083414").len(), 20);
        assert_eq!(send(&mut *tx, "00B2083405").expect("short le"), h("6C14"));
        let r = transmit(&mut *tx, &Command::read_record(8, 256)).expect("resend");
        assert_eq!((r.data.len(), r.sw), (20, StatusWord::Success));
        assert_eq!(ok(&mut *tx, "00B2083400 0000").len(), 20, "extended Le is not second-guessed");
    }

    #[test]
    fn fail_corrupt_short_and_slow() {
        let c = card("ssc-3g-sim.toml", "fail-after=1");
        let mut conn = readers(&c).connect("sim 0").expect("connect");
        let mut tx = conn.transaction().expect("tx");
        ok(&mut *tx, "00A4020C02EF0F");
        assert_eq!(send(&mut *tx, "00D6000001AA").expect("fail"), h("6F00"));
        assert_eq!(ok(&mut *tx, "00B0000001"), h("00"), "the failed APDU was not executed");
        drop(tx);

        lock(&c).set_faults("corrupt-after=1".parse().expect("f"));
        let mut tx = conn.transaction().expect("tx");
        ok(&mut *tx, "00D6000001AA");
        assert_eq!(send(&mut *tx, "00B0000001").expect("corrupt"), h("55 9000"));
        lock(&c).set_faults("corrupt-after=0".parse().expect("f"));
        assert_eq!(send(&mut *tx, "00D6000001AA").expect("corrupt"), h("6F00"), "no data: 6F00");

        lock(&c).set_faults("short-after=0".parse().expect("f"));
        assert_eq!(send(&mut *tx, "00B0000001"), Err(TransportError::ShortResponse(1)));

        lock(&c).set_faults("slow=30ms".parse().expect("f"));
        let t = Instant::now();
        ok(&mut *tx, "00B0000001");
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert_eq!(lock(&c).apdu_count(), 8);
    }
}
