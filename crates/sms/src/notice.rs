//! The pickup notice: the card has reached the site where its holder collects it.
//!
//! ```text
//! 【某某县人社局】张*您好：您的社会保障卡（身份证尾号002X）已送达龙街镇便民服务中心（龙街镇政府一楼社保窗口）。
//! 请于周一至周五 9:00-12:00, 14:00-17:30携带本人居民身份证前往领取。咨询电话：0878-6221234。
//! ```
//!
//! The holder's name is masked (first character only) and of the ID number only the last
//! four characters appear; [`crate::Message::new`] refuses any text with a full one.

use applicant::ResidentId;

use crate::{Message, MessageError, MessageKey, PhoneNumber, Site};

/// What the holder brings to collect the card.
pub const WHAT_TO_BRING: &str = "本人居民身份证";

/// The first character of a name, the rest as `*`: `张*`, `欧**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// The pickup notice of one card at one site.
#[derive(Debug, Clone, Copy)]
pub struct PickupNotice<'a> {
    /// The SMS signature (短信签名) registered for the bureau, without 【】.
    pub signature: &'a str,
    /// The holder's name (masked in the text).
    pub holder_name: &'a str,
    /// The holder's ID number: only its last four characters go into the text.
    pub holder_id: Option<&'a ResidentId>,
    /// Where the card waits.
    pub site: &'a Site,
}

impl PickupNotice<'_> {
    /// The text.
    pub fn text(&self) -> String {
        let tail = self
            .holder_id
            .map(|id| {
                let s = id.as_str();
                format!("（身份证尾号{}）", &s[s.len() - 4..])
            })
            .unwrap_or_default();
        let site = self.site;
        format!(
            "【{}】{}您好：您的社会保障卡{tail}已送达{}（{}）。请于{}携带{WHAT_TO_BRING}前往领取。咨询电话：{}。",
            self.signature,
            mask_name(self.holder_name),
            site.name,
            site.address,
            site.hours,
            site.phone,
        )
    }

    /// The message to `to` under `key` ([`MessageKey::pickup`]).
    pub fn message(&self, key: MessageKey, to: PhoneNumber) -> Result<Message, MessageError> {
        Message::new(key, to, self.text())
    }
}

#[cfg(test)]
mod tests {
    use applicant::Date;

    use super::*;
    use crate::site::tests::site;

    const ID: &str = "11010519491231002X";

    fn id() -> ResidentId {
        ResidentId::parse(ID, Date::new(2025, 6, 1).expect("d")).expect("id").0
    }

    #[test]
    fn the_notice_names_the_site_hours_and_what_to_bring_and_no_full_id_number() {
        let (site, id) = (site(), id());
        let notice = PickupNotice {
            signature: "某某县人社局",
            holder_name: "张三",
            holder_id: Some(&id),
            site: &site,
        };
        let text = notice.text();
        assert_eq!(
            text,
            "【某某县人社局】张*您好：您的社会保障卡（身份证尾号002X）已送达龙街镇便民服务中心（龙街镇政府一楼社保窗口）。\
             请于周一至周五 9:00-12:00, 14:00-17:30携带本人居民身份证前往领取。咨询电话：0878-6221234。"
        );
        for part in [&site.name, &site.hours, &site.address, &site.phone, &WHAT_TO_BRING.to_string()] {
            assert!(text.contains(part.as_str()), "{part}");
        }
        // No full ID number, no part of it longer than the last four, no full name.
        assert!(!text.contains(ID) && !text.contains(&ID.to_lowercase()));
        assert!(!text.contains(&ID[..6]) && !text.contains(&ID[6..14]) && !text.contains(&ID[..14]));
        assert!(!text.contains("张三"));
        let card = applicant::CardNumber::with_check("A1234567").expect("card");
        let key = MessageKey::pickup(&card, &site.id).expect("key");
        let to = PhoneNumber::parse("13800138000").expect("to");
        let m = notice.message(key, to).expect("a valid message");
        assert_eq!(m.text(), text);
        assert!(m.segments() <= 2, "{} characters", text.chars().count());
        // Without the ID number the sentence still reads.
        let bare = PickupNotice { holder_id: None, ..notice }.text();
        assert!(bare.contains("您的社会保障卡已送达"), "{bare}");
    }

    #[test]
    fn names_are_masked() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name(" 李 "), "李");
        assert_eq!(mask_name(""), "");
    }
}
