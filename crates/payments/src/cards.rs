//! Where a recipient's card is found, and whether a payment may go to it.
//!
//! [`CardSource`] is the small trait the station implements over its archives; two
//! implementations come with the crate, the same two sources `station compare` reads:
//!
//! - [`IssuanceCards`]: an exported issuance file (roster's [`IssuanceFile`] columns, and a
//!   status `lost`/挂失 read as a stopped card the holder reported lost);
//! - [`ArchiveCards`]: the station's local SQLite archive (roster's [`ArchiveRecords`]: cards,
//!   failed applications, and the provincial SQLite archive for deaths and other stations'
//!   cards), where a card stopped with the ledger's reason `loss` is a lost card.
//!
//! Several sources are read together ([`Cards`]): a person's cards from all of them are merged
//! as roster merges the local and provincial archives.
//!
//! [`decide`] is FLOW D's rule: money goes to a live, activated card's financial account;
//! everything else is refused with the reason and the action that would let the next batch
//! pay (activate face to face, collect, replace, apply, cancel a deceased holder's card).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use archive::CardStatus;
use roster::key::IdKey;
use roster::records::{
    ArchiveRecords, Card, IssuanceFile, IssuanceRecords, MatchIndex, PersonRecord, Wanted,
};
use roster::RosterError;

/// A source of card records for payments.
pub trait CardSource: Send + Sync {
    /// What the source is, for the summary.
    fn describe(&self) -> String;
    /// Scans once; the records of the `wanted` persons only.
    fn find(&self, wanted: &Wanted) -> Result<MatchIndex, RosterError>;
    /// Of the `stopped` card numbers, those stopped because the holder reported the card
    /// lost (挂失). A source that cannot tell answers none: they stay "stopped".
    fn lost(&self, stopped: &BTreeSet<String>) -> Result<BTreeSet<String>, RosterError> {
        let _ = stopped;
        Ok(BTreeSet::new())
    }
}

/// An issuance export (see [`roster::records`] for its columns).
#[derive(Debug, Clone)]
pub struct IssuanceCards {
    path: PathBuf,
    file: IssuanceFile,
    block: usize,
}

impl IssuanceCards {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> IssuanceCards {
        let path = path.into();
        IssuanceCards { file: IssuanceFile::new(&path), path, block: 8 << 20 }
    }

    /// Sets the block size of the readers (tests use small blocks).
    pub fn with_block_size(mut self, bytes: usize) -> IssuanceCards {
        self.block = bytes.max(64);
        self.file = self.file.with_block_size(self.block);
        self
    }
}

impl CardSource for IssuanceCards {
    fn describe(&self) -> String {
        self.file.describe()
    }

    fn find(&self, wanted: &Wanted) -> Result<MatchIndex, RosterError> {
        self.file.find(wanted)
    }

    fn lost(&self, stopped: &BTreeSet<String>) -> Result<BTreeSet<String>, RosterError> {
        let mut found = BTreeSet::new();
        if stopped.is_empty() {
            return Ok(found);
        }
        // Only lines with a loss word are parsed: the file is searched in blocks for the
        // words, as bytes, and the few lines around a hit read as CSV.
        let io = |e: std::io::Error| RosterError::Io { what: self.path.display().to_string(), source: e };
        let mut file = std::fs::File::open(&self.path).map_err(io)?;
        let mut header: Option<(usize, usize)> = None;
        let finders = [memchr::memmem::Finder::new("挂失"), memchr::memmem::Finder::new("lost")];
        let mut carry: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; self.block];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf).map_err(io)?;
            let mut block = std::mem::take(&mut carry);
            block.extend_from_slice(&buf[..n]);
            let end = if n == 0 {
                block.len()
            } else {
                block.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
            };
            let (whole, rest) = block.split_at(end);
            let mut body = whole;
            if header.is_none() {
                let Some(nl) = whole.iter().position(|&b| b == b'\n') else {
                    carry = block;
                    if n == 0 {
                        break;
                    }
                    continue;
                };
                let rec =
                    csv::ReaderBuilder::new().has_headers(false).from_reader(&whole[..nl]).records().next();
                let h = rec.and_then(Result::ok).unwrap_or_default();
                let col = |names: &[&str]| {
                    h.iter().position(|c| {
                        names.iter().any(|x| x.eq_ignore_ascii_case(c.trim().trim_start_matches('\u{feff}')))
                    })
                };
                match (col(&["status", "卡状态"]), col(&["card_number", "社保卡号", "卡号"])) {
                    (Some(s), Some(c)) => header = Some((s, c)),
                    _ => return Ok(found),
                }
                body = &whole[nl + 1..];
            }
            let Some((status, number)) = header else { break };
            let mut lines: BTreeSet<usize> = BTreeSet::new();
            for f in &finders {
                for hit in f.find_iter(body) {
                    lines.insert(body[..hit].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1));
                }
            }
            for start in lines {
                let stop = body[start..].iter().position(|&b| b == b'\n').map_or(body.len(), |p| start + p);
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&body[start..stop]);
                let mut rec = csv::ByteRecord::new();
                if rdr.read_byte_record(&mut rec).unwrap_or(false) {
                    let s = rec.get(status).unwrap_or_default();
                    if s == b"lost" || s == "挂失".as_bytes() || s == "已挂失".as_bytes() {
                        let n =
                            String::from_utf8_lossy(rec.get(number).unwrap_or_default()).trim().to_owned();
                        if stopped.contains(&n) {
                            found.insert(n);
                        }
                    }
                }
            }
            carry = rest.to_vec();
            if n == 0 {
                break;
            }
        }
        Ok(found)
    }
}

/// The station's local archive, with the provincial SQLite archive beside it when given.
#[derive(Debug, Clone)]
pub struct ArchiveCards {
    local: PathBuf,
    records: ArchiveRecords,
}

impl ArchiveCards {
    /// The local archive at `local`; `provincial` adds deaths and other stations' cards;
    /// `key`: the station's data key, the archive being encrypted.
    pub fn new(
        local: impl Into<PathBuf>,
        provincial: Option<PathBuf>,
        key: Option<archive::at_rest::DataKey>,
    ) -> ArchiveCards {
        let local = local.into();
        ArchiveCards { records: ArchiveRecords::new(&local, provincial).with_key(key), local }
    }
}

impl CardSource for ArchiveCards {
    fn describe(&self) -> String {
        self.records.describe()
    }

    fn find(&self, wanted: &Wanted) -> Result<MatchIndex, RosterError> {
        self.records.find(wanted)
    }

    fn lost(&self, stopped: &BTreeSet<String>) -> Result<BTreeSet<String>, RosterError> {
        let err =
            |e: rusqlite::Error| RosterError::Archive { path: self.local.clone(), message: e.to_string() };
        let conn = self.records.open_local()?;
        // issuance::lifecycle::report_loss records `card.stopped` with {"reason": "loss"}.
        let mut stmt = conn
            .prepare("SELECT card_number, detail FROM ledger WHERE event = 'card.stopped' AND card_number IS NOT NULL")
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut found = BTreeSet::new();
        while let Some(r) = rows.next().map_err(err)? {
            let number: String = r.get(0).map_err(err)?;
            let detail: String = r.get(1).map_err(err)?;
            if stopped.contains(&number)
                && (detail.contains("\"reason\":\"loss\"") || detail.contains("挂失"))
            {
                found.insert(number);
            }
        }
        Ok(found)
    }
}

/// Every source's records of the wanted persons.
pub struct Cards {
    indexes: Vec<MatchIndex>,
    /// The sources, described.
    pub described: Vec<String>,
    lost: BTreeSet<String>,
}

impl Cards {
    /// Scans every source for the `wanted` persons.
    pub fn find(sources: &[&dyn CardSource], wanted: &Wanted) -> Result<Cards, RosterError> {
        let mut indexes = Vec::with_capacity(sources.len());
        for s in sources {
            indexes.push(s.find(wanted)?);
        }
        Ok(Cards {
            indexes,
            described: sources.iter().map(|s| s.describe()).collect(),
            lost: BTreeSet::new(),
        })
    }

    /// A person's record, merged over the sources; `None` when no source knows them.
    pub fn get(&self, key: IdKey) -> Option<PersonRecord> {
        let mut found = self.indexes.iter().filter_map(|i| i.get(key));
        let mut merged = found.next()?.clone();
        for r in found {
            merged.deceased |= r.deceased;
            for c in &r.cards {
                // Bank names are numbered per source: [`Cards::bank_of`] finds them by card.
                merged.add(Card { bank: 0, ..c.clone() });
            }
        }
        Some(merged)
    }

    /// The bank's name of a card found for `key`, from the source that has it.
    pub fn bank_of(&self, key: IdKey, number: &str) -> String {
        for i in &self.indexes {
            if let Some(c) = i.get(key).and_then(|r| r.cards.iter().find(|c| &*c.number == number)) {
                let b = i.bank(c.bank);
                if !b.is_empty() {
                    return b.to_owned();
                }
            }
        }
        String::new()
    }

    /// Unreadable records across the sources.
    pub fn unreadable(&self) -> u64 {
        self.indexes.iter().map(|i| i.stats.unreadable).sum()
    }

    /// Records read across the sources.
    pub fn records(&self) -> u64 {
        self.indexes.iter().map(|i| i.stats.records).sum()
    }

    /// Asks the sources which of the stopped cards were reported lost.
    pub fn learn_lost(
        &mut self,
        sources: &[&dyn CardSource],
        stopped: &BTreeSet<String>,
    ) -> Result<(), RosterError> {
        for s in sources {
            self.lost.extend(s.lost(stopped)?);
        }
        Ok(())
    }

    /// True when the card was reported lost.
    pub fn is_lost(&self, number: &str) -> bool {
        self.lost.contains(number)
    }
}

/// Why a payment is not made to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// The payee is recorded deceased (roster or card system).
    Deceased,
    /// A member of a household is deceased: their share is not paid.
    MemberDeceased,
    /// No card record at all.
    NoCard,
    /// The last making failed.
    MakingFailed,
    /// Made, waiting at the site: never collected, never activated.
    NotCollected,
    /// Handed over, the financial function not activated.
    NotActivated,
    /// Stopped (re-issue, or for another reason) with no live card after it.
    Stopped,
    /// Reported lost (挂失), no replacement yet.
    Lost,
    /// Recalled after failed hand-overs.
    Recalled,
    /// Cancelled, the holder not recorded deceased.
    Cancelled,
    /// Active, but the card system has no financial account number for it.
    NoAccount,
    /// Already paid for this item and pay period by an earlier batch (the paid register).
    AlreadyPaid,
}

impl Refusal {
    /// Every refusal, in list order.
    pub const ALL: [Refusal; 12] = [
        Refusal::Deceased,
        Refusal::MemberDeceased,
        Refusal::NoCard,
        Refusal::MakingFailed,
        Refusal::NotCollected,
        Refusal::NotActivated,
        Refusal::Stopped,
        Refusal::Lost,
        Refusal::Recalled,
        Refusal::Cancelled,
        Refusal::NoAccount,
        Refusal::AlreadyPaid,
    ];

    /// The reason, as the lists write it.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Deceased => "持卡人已死亡",
            Refusal::MemberDeceased => "户内成员已死亡",
            Refusal::NoCard => "无社保卡",
            Refusal::MakingFailed => "制卡失败",
            Refusal::NotCollected => "社保卡未领取未激活",
            Refusal::NotActivated => "社保卡金融功能未激活",
            Refusal::Stopped => "社保卡已停用",
            Refusal::Lost => "社保卡已挂失",
            Refusal::Recalled => "社保卡已回收",
            Refusal::Cancelled => "社保卡已注销",
            Refusal::NoAccount => "无社保卡金融账号",
            Refusal::AlreadyPaid => "本期已发放",
        }
    }

    /// What to do so that the next batch pays; `household` for items paid to the head.
    pub fn action(self, household: bool) -> &'static str {
        match self {
            Refusal::Deceased if household => {
                "户主已死亡: 变更户主后发放到新户主的社保卡; 注销死亡人员社保卡"
            }
            Refusal::Deceased => "停发待遇, 核减发放名单; 注销死亡人员社保卡",
            Refusal::MemberDeceased => "停发该成员补贴, 核减户内保障人数",
            Refusal::NoCard => "申领社保卡 (合作银行绿色通道或上门服务)",
            Refusal::MakingFailed => "核实身份信息与照片后重新申领",
            Refusal::NotCollected => "到网点领卡并本人面签激活金融功能",
            Refusal::NotActivated => "本人持卡到发卡银行面签激活金融功能",
            Refusal::Stopped => "补换社保卡并激活后发放",
            Refusal::Lost => "挂失后补办社保卡并激活后发放",
            Refusal::Recalled => "重新申领社保卡",
            Refusal::Cancelled => "核实是否健在, 重新申领社保卡",
            Refusal::NoAccount => "到发卡银行核实社保卡金融账号",
            Refusal::AlreadyPaid => "同一项目同一发放周期只发放一次: 核实名单是否重复列入",
        }
    }

    /// Position in [`Refusal::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a payment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// To this live, activated card's financial account.
    Card(Card),
    /// Not to a card, for this reason; the card shown is the live one or the last ended.
    Refused(Refusal, Option<Card>),
}

/// FLOW D: a payment goes to the payee's live, activated card; anything else is refused.
/// `deceased` is the roster's own death marker; `is_lost` tells a lost card from a stopped
/// one.
pub fn decide(record: Option<&PersonRecord>, deceased: bool, is_lost: &dyn Fn(&str) -> bool) -> Decision {
    let live = record.and_then(PersonRecord::live).cloned();
    let ended = record.and_then(PersonRecord::last_ended).cloned();
    if deceased || record.is_some_and(|r| r.deceased) {
        return Decision::Refused(Refusal::Deceased, live.or(ended));
    }
    match (live, ended) {
        (Some(c), _) if c.status == CardStatus::Active => {
            if c.account.as_deref().is_some_and(|a| !a.is_empty()) {
                Decision::Card(c)
            } else {
                Decision::Refused(Refusal::NoAccount, Some(c))
            }
        }
        (Some(c), _) if c.status == CardStatus::Made => Decision::Refused(Refusal::NotCollected, Some(c)),
        (Some(c), _) => Decision::Refused(Refusal::NotActivated, Some(c)),
        (None, Some(c)) => {
            let r = match c.status {
                CardStatus::Stopped if is_lost(&c.number) => Refusal::Lost,
                CardStatus::Stopped => Refusal::Stopped,
                CardStatus::Recalled => Refusal::Recalled,
                CardStatus::Cancelled => Refusal::Cancelled,
                _ => Refusal::MakingFailed,
            };
            Decision::Refused(r, Some(c))
        }
        (None, None) => Decision::Refused(Refusal::NoCard, None),
    }
}

/// A card status in Chinese (roster's words), `挂失` for a lost card.
pub fn status_word(card: Option<&Card>, lost: bool) -> &'static str {
    match card {
        None => "",
        Some(_) if lost => "已挂失",
        Some(c) => roster::classify::status_word(c.status),
    }
}

/// Opens the sources the command line names.
pub fn open_sources(
    issuance: &[PathBuf],
    archive: Option<&Path>,
    provincial: Option<PathBuf>,
    key: Option<archive::at_rest::DataKey>,
) -> Vec<Box<dyn CardSource>> {
    let mut v: Vec<Box<dyn CardSource>> = Vec::new();
    if let Some(a) = archive {
        v.push(Box::new(ArchiveCards::new(a, provincial, key)));
    }
    for f in issuance {
        v.push(Box::new(IssuanceCards::new(f)));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cards: &[(CardStatus, i32, Option<&str>)], deceased: bool) -> PersonRecord {
        let mut r = PersonRecord { cards: vec![], deceased };
        for (i, (status, since, account)) in cards.iter().enumerate() {
            r.add(Card {
                number: format!("B{i:08}").into(),
                status: *status,
                bank: 1,
                account: account.map(Into::into),
                since: Some(*since),
                failure: None,
            });
        }
        r
    }

    #[test]
    fn only_a_live_activated_card_with_an_account_is_paid() {
        let none = |_: &str| false;
        let acct = Some("6228480000000000001");
        let r = |cards: &[(CardStatus, i32, Option<&str>)]| record(cards, false);
        let refused = |d: Decision| match d {
            Decision::Refused(r, _) => Some(r),
            Decision::Card(_) => None,
        };
        assert!(matches!(
            decide(Some(&r(&[(CardStatus::Stopped, 1, acct), (CardStatus::Active, 2, acct)])), false, &none),
            Decision::Card(c) if &*c.number == "B00000001"
        ));
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Active, 2, None)])), false, &none)),
            Some(Refusal::NoAccount)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Active, 2, acct)])), true, &none)),
            Some(Refusal::Deceased)
        );
        assert_eq!(
            refused(decide(Some(&record(&[(CardStatus::Active, 2, acct)], true)), false, &none)),
            Some(Refusal::Deceased)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Made, 2, acct)])), false, &none)),
            Some(Refusal::NotCollected)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Issued, 2, acct)])), false, &none)),
            Some(Refusal::NotActivated)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Stopped, 2, acct)])), false, &none)),
            Some(Refusal::Stopped)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Stopped, 2, acct)])), false, &|n| n == "B00000000")),
            Some(Refusal::Lost)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Recalled, 2, acct)])), false, &none)),
            Some(Refusal::Recalled)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Cancelled, 2, acct)])), false, &none)),
            Some(Refusal::Cancelled)
        );
        assert_eq!(
            refused(decide(Some(&r(&[(CardStatus::Failed, 2, None)])), false, &none)),
            Some(Refusal::MakingFailed)
        );
        assert_eq!(refused(decide(None, false, &none)), Some(Refusal::NoCard));
        for r in Refusal::ALL {
            assert!(!r.reason().is_empty() && !r.action(false).is_empty() && !r.action(true).is_empty());
        }
        assert_ne!(Refusal::Deceased.action(true), Refusal::Deceased.action(false));
    }

    /// The station's archive as a source beside an issuance file: a card stopped for a loss
    /// in the ledger is lost; a person known to one source only is found.
    #[test]
    fn the_local_archive_and_a_file_together() {
        use archive::local::{ApplicationStatus, LocalArchive, PersonRow};
        use roster::generate::{account_for, card_number_for, id_for};
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("station.db");
        let a = LocalArchive::open_unencrypted(&db, "S1").expect("archive");
        for i in [1u64, 2, 3] {
            let ssn = id_for(i);
            a.upsert_person(&PersonRow {
                ssn: ssn.clone(),
                name: "测试".into(),
                sex: None,
                birth_date: None,
            })
            .expect("person");
            let app = a.open_application(&ssn, "new", "{}").expect("application");
            let number = card_number_for(i, 'B');
            a.record_card(app, &ssn, &number, &format!("{i:08X}"), "3B").expect("card");
            a.set_application(app, ApplicationStatus::Issued, None).expect("issued");
            let status = if i == 1 { CardStatus::Active } else { CardStatus::Stopped };
            a.set_card_status(&number, status).expect("status");
            let detail =
                serde_json::json!({"card_number": number, "reason": if i == 2 { "loss" } else { "reissue" }});
            if i != 1 {
                a.append_ledger("op", Some(app), Some(&number), "card.stopped", &detail).expect("ledger");
            }
        }
        drop(a);
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "UPDATE cards SET bank = '农业银行', account = ?1 WHERE card_number = ?2",
            [account_for(1), card_number_for(1, 'B')],
        )
        .expect("account");
        drop(conn);
        let file = dir.path().join("issuance.csv");
        std::fs::write(
            &file,
            format!(
                "ssn,card_number,status,bank,account\n{},{},active,邮储银行,{}\n",
                id_for(4),
                card_number_for(4, 'B'),
                account_for(4)
            ),
        )
        .expect("file");
        let (archive, issuance) = (ArchiveCards::new(&db, None, None), IssuanceCards::new(&file));
        let sources: [&dyn CardSource; 2] = [&archive, &issuance];
        let mut wanted = Wanted::default();
        for i in 1..=4 {
            wanted.insert(IdKey::from_checked_bytes(id_for(i).as_bytes()).expect("key"), 2);
        }
        let mut cards = Cards::find(&sources, &wanted).expect("find");
        let stopped: BTreeSet<String> =
            [card_number_for(2, 'B'), card_number_for(3, 'B')].into_iter().collect();
        cards.learn_lost(&sources, &stopped).expect("lost");
        let key = |i: u64| IdKey::from_checked_bytes(id_for(i).as_bytes()).expect("key");
        let d = |i: u64| decide(cards.get(key(i)).as_ref(), false, &|n| cards.is_lost(n));
        assert!(matches!(d(1), Decision::Card(c) if c.account.as_deref() == Some(account_for(1).as_str())));
        assert_eq!(cards.bank_of(key(1), &card_number_for(1, 'B')), "农业银行");
        assert!(matches!(d(2), Decision::Refused(Refusal::Lost, _)));
        assert!(matches!(d(3), Decision::Refused(Refusal::Stopped, _)));
        assert!(matches!(d(4), Decision::Card(_)), "from the file");
        assert_eq!(cards.bank_of(key(4), &card_number_for(4, 'B')), "邮储银行");
    }

    #[test]
    fn lost_cards_are_found_across_block_ends() {
        use roster::generate::{card_number_for, id_for};
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("issuance.csv");
        let mut text = String::from("\u{feff}ssn,card_number,status,bank\n");
        let mut stopped = BTreeSet::new();
        for i in 0..500u64 {
            let status = match i % 5 {
                0 => "挂失",
                1 => "lost",
                2 => "stopped",
                _ => "active",
            };
            text.push_str(&format!("{},{},{status},lost bank\n", id_for(i), card_number_for(i, 'B')));
            if i % 5 < 3 && i % 2 == 0 {
                stopped.insert(card_number_for(i, 'B'));
            }
        }
        text.push_str(&format!("{},{},挂失,", id_for(999), card_number_for(999, 'B')));
        stopped.insert(card_number_for(999, 'B'));
        std::fs::write(&path, text).expect("write");
        let want: BTreeSet<String> = (0..500u64)
            .filter(|i| i % 5 < 2 && i % 2 == 0)
            .chain([999])
            .map(|i| card_number_for(i, 'B'))
            .collect();
        for block in [64, 100, 1000, 1 << 20] {
            let found = IssuanceCards::new(&path).with_block_size(block).lost(&stopped).expect("scan");
            assert_eq!(found, want, "block {block}");
        }
    }
}
