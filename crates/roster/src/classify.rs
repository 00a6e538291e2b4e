//! The five classes of FLOW B step 1 and what must happen next for each person (FLOW D:
//! "mark those who have not applied or not activated; banks then help them").

use archive::CardStatus;

use crate::input::Field;
use crate::records::{Card, MatchIndex, PersonRecord};
use crate::validate::Person;

/// Where a person on the roster stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// 已制卡已激活: a live card with its financial function on.
    Active,
    /// 已制卡未激活: a live card not yet activated (in stock, or handed over).
    NotActivated,
    /// 制卡失败: the last making failed and there is no live card.
    MakingFailed,
    /// 无制卡记录: no live card and no failed making (never applied, or the card ended).
    NoCard,
    /// 已死亡: recorded deceased (roster or card system): no card, no data collection.
    Deceased,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 5] =
        [Class::Active, Class::NotActivated, Class::MakingFailed, Class::NoCard, Class::Deceased];

    /// The word in the outputs.
    pub fn word(self) -> &'static str {
        match self {
            Class::Active => "已制卡已激活",
            Class::NotActivated => "已制卡未激活",
            Class::MakingFailed => "制卡失败",
            Class::NoCard => "无制卡记录",
            Class::Deceased => "已死亡",
        }
    }

    /// Position in [`Class::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What someone must do for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// 申领: apply for a card (no card record).
    Apply,
    /// 核实后重新申领: check the data (photo, nine elements) and apply again (making failed).
    Reapply,
    /// 领卡并激活: the card waits at the site: collect it and activate face to face.
    CollectAndActivate,
    /// 激活: handed over but not activated: activate face to face at the card's bank.
    Activate,
    /// 变更发放账号: active card, but the department pays elsewhere: switch payment to the card.
    SwitchPayment,
    /// 注销卡片: deceased with a live card: cancel it (FLOW B step 5).
    CancelCard,
}

impl Action {
    /// Every action, in list order.
    pub const ALL: [Action; 6] = [
        Action::Apply,
        Action::Reapply,
        Action::CollectAndActivate,
        Action::Activate,
        Action::SwitchPayment,
        Action::CancelCard,
    ];

    /// The word in the outputs.
    pub fn word(self) -> &'static str {
        match self {
            Action::Apply => "申领",
            Action::Reapply => "核实后重新申领",
            Action::CollectAndActivate => "领卡并激活",
            Action::Activate => "激活",
            Action::SwitchPayment => "变更发放账号",
            Action::CancelCard => "注销卡片",
        }
    }

    /// Position in [`Action::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Card-stock flags (FLOW B step 5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stock {
    /// 库存卡: made, never handed over.
    pub stock: bool,
    /// 睡眠卡: handed over, not activated for at least the dormant period.
    pub dormant: bool,
    /// 回收卡: the last card was recalled after a failed second issuance.
    pub recalled: bool,
}

impl Stock {
    /// The words in the outputs, joined by ';'.
    pub fn words(self) -> &'static str {
        match (self.stock, self.dormant, self.recalled) {
            (false, false, false) => "",
            (true, false, false) => "库存卡",
            (false, true, false) => "睡眠卡",
            (false, false, true) => "回收卡",
            (true, true, false) => "库存卡;睡眠卡",
            (true, false, true) => "库存卡;回收卡",
            (false, true, true) => "睡眠卡;回收卡",
            (true, true, true) => "库存卡;睡眠卡;回收卡",
        }
    }
}

/// The outcome for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The class.
    pub class: Class,
    /// What must happen next, if anything.
    pub action: Option<Action>,
    /// The card shown: the live one, else the last ended one.
    pub card: Option<&'a Card>,
    /// Stock, dormant, recalled.
    pub stock: Stock,
    /// The payment account is the card's financial account (the "资金拨付" half of usage).
    pub paid_to_card: bool,
}

/// Classifies a person from the roster row and the card system's record.
pub fn classify<'a>(
    person: &Person,
    record: Option<&'a PersonRecord>,
    today: i32,
    dormant_days: i32,
) -> Outcome<'a> {
    let live = record.and_then(PersonRecord::live);
    let ended = record.and_then(PersonRecord::last_ended);
    let deceased = person.deceased || record.is_some_and(|r| r.deceased);
    let class = if deceased {
        Class::Deceased
    } else {
        match (live, ended) {
            (Some(c), _) if c.status == CardStatus::Active => Class::Active,
            (Some(_), _) => Class::NotActivated,
            (None, Some(c)) if c.status == CardStatus::Failed => Class::MakingFailed,
            (None, _) => Class::NoCard,
        }
    };
    let roster_account = person.get(Field::Account);
    let paid_to_card =
        live.is_some_and(|c| c.status == CardStatus::Active && c.account.as_deref() == Some(roster_account));
    let action = match class {
        Class::Active if !paid_to_card => Some(Action::SwitchPayment),
        Class::Active => None,
        Class::NotActivated if live.is_some_and(|c| c.status == CardStatus::Made) => {
            Some(Action::CollectAndActivate)
        }
        Class::NotActivated => Some(Action::Activate),
        Class::MakingFailed => Some(Action::Reapply),
        Class::NoCard => Some(Action::Apply),
        Class::Deceased => live.map(|_| Action::CancelCard),
    };
    // A deceased holder's card is to be cancelled, not counted as stock or dormant.
    let live = live.filter(|_| class != Class::Deceased);
    let stock = Stock {
        stock: live.is_some_and(|c| c.status == CardStatus::Made),
        dormant: live.is_some_and(|c| {
            c.status == CardStatus::Issued && c.since.is_some_and(|d| today - d >= dormant_days)
        }),
        recalled: live.is_none() && ended.is_some_and(|c| c.status == CardStatus::Recalled),
    };
    Outcome { class, action, card: record.and_then(PersonRecord::live).or(ended), stock, paid_to_card }
}

/// The card's fields as the outputs show them: number, status, bank, account, status date,
/// failure reason; `date` is the buffer the status date is written to.
pub fn card_columns<'a>(card: Option<&'a Card>, index: &'a MatchIndex, date: &'a mut String) -> [&'a str; 6] {
    use std::fmt::Write as _;
    date.clear();
    let Some(c) = card else { return Default::default() };
    if let Some(d) = c.since.and_then(crate::days::date) {
        let _ = write!(date, "{d}");
    }
    [
        &c.number,
        status_word(c.status),
        index.bank(c.bank),
        c.account.as_deref().unwrap_or_default(),
        date,
        c.failure.as_deref().unwrap_or_default(),
    ]
}

/// A card status in Chinese.
pub fn status_word(s: CardStatus) -> &'static str {
    match s {
        CardStatus::Made => "已制卡待领",
        CardStatus::Issued => "已发放",
        CardStatus::Active => "已激活",
        CardStatus::Stopped => "已停用",
        CardStatus::Recalled => "已回收",
        CardStatus::Cancelled => "已注销",
        CardStatus::Failed => "制卡失败",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::IdKey;
    use crate::validate::Kind;

    fn person(account: &str, deceased: bool) -> Person {
        let mut values: [String; 13] = Default::default();
        values[Field::Account.index()] = account.into();
        Person {
            row: 2,
            key: IdKey::from_checked_bytes(b"11010519491231002X").expect("key"),
            values,
            kind: Kind::New,
            deceased,
            problems: vec![],
        }
    }

    fn record(cards: &[(CardStatus, i32)], deceased: bool) -> PersonRecord {
        let mut r = PersonRecord { cards: vec![], deceased };
        for (i, (status, since)) in cards.iter().enumerate() {
            r.add(Card {
                number: format!("B{i:08}").into(),
                status: *status,
                bank: 1,
                account: Some("6228480000000000001".into()),
                since: Some(*since),
                failure: None,
            });
        }
        r
    }

    #[test]
    fn every_class_and_action() {
        let p = person("6228480000000000001", false);
        let c = |r: Option<&PersonRecord>, p: &Person| {
            let o = classify(p, r, 1000, 180);
            (o.class, o.action, o.stock)
        };
        let active = record(&[(CardStatus::Stopped, 10), (CardStatus::Active, 20)], false);
        assert_eq!(c(Some(&active), &p), (Class::Active, None, Stock::default()));
        assert_eq!(c(Some(&active), &person("6217000000000000009", false)).1, Some(Action::SwitchPayment));
        let made = record(&[(CardStatus::Made, 990)], false);
        assert_eq!(
            c(Some(&made), &p),
            (
                Class::NotActivated,
                Some(Action::CollectAndActivate),
                Stock { stock: true, ..Stock::default() }
            )
        );
        let issued = record(&[(CardStatus::Issued, 100)], false);
        assert_eq!(
            c(Some(&issued), &p),
            (Class::NotActivated, Some(Action::Activate), Stock { dormant: true, ..Stock::default() })
        );
        let fresh = record(&[(CardStatus::Issued, 990)], false);
        assert!(!c(Some(&fresh), &p).2.dormant);
        let failed = record(&[(CardStatus::Failed, 900)], false);
        assert_eq!(c(Some(&failed), &p), (Class::MakingFailed, Some(Action::Reapply), Stock::default()));
        assert_eq!(c(None, &p), (Class::NoCard, Some(Action::Apply), Stock::default()));
        let recalled = record(&[(CardStatus::Failed, 800), (CardStatus::Recalled, 900)], false);
        assert_eq!(
            c(Some(&recalled), &p),
            (Class::NoCard, Some(Action::Apply), Stock { recalled: true, ..Stock::default() })
        );
        let dead_with_card = record(&[(CardStatus::Issued, 990)], true);
        assert_eq!(c(Some(&dead_with_card), &p).0, Class::Deceased);
        assert_eq!(c(Some(&dead_with_card), &p).1, Some(Action::CancelCard));
        assert_eq!(c(None, &person("", true)), (Class::Deceased, None, Stock::default()));
    }
}
