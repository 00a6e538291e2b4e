//! The card stack: pcscd, the card and PSAM readers with their device profiles, the PSAM and
//! its master keys, and a card in the field.

use std::path::Path;
use std::time::Duration;

use apdu::{expect_ok, Command};
use card_transport::{Card, Disposition, ReaderInfo, ReaderKind, ReaderManager, TransportError};
use firmware_profile::devices::{DeviceProfiles, ReaderProfile, ReaderSlot, SlotName};
use firmware_profile::{ApplicationKind, Profile};
use pcsc_reader::{NameMatch, ReaderRules, Selector};
use ssse::KeyProvider;

use crate::{Device, Report, Severity};

/// What the configuration says about the readers.
#[derive(Debug, Clone, Copy)]
pub struct ReaderPlan<'a> {
    /// Selector of the card reader (the printer's contact station).
    pub card_reader: &'a str,
    /// Selector of the PSAM reader.
    pub psam_reader: &'a str,
    /// The profile of the cards in the hopper, when it loaded.
    pub card_profile: Option<&'a Profile>,
    /// The reader and printer profiles.
    pub devices: &'a DeviceProfiles,
    /// The folder they came from (named in fixes).
    pub profiles_dir: &'a Path,
}

fn name_match(name: &SlotName) -> NameMatch {
    match name {
        SlotName::Exact(s) => NameMatch::Exact(s.clone()),
        SlotName::Word(s) => NameMatch::Word(s.clone()),
        SlotName::Contains(s) => NameMatch::Contains(s.clone()),
    }
}

/// The built-in reader rules with every profile's slots in front: a dropped-in profile
/// decides what its reader's slots are for and clamps what they carry.
pub fn reader_rules(devices: &DeviceProfiles) -> ReaderRules {
    let mut rules = ReaderRules::defaults();
    for slot in devices.readers.iter().flat_map(|r| &r.slots).rev() {
        rules = rules.with_rule(name_match(&slot.name), slot.kind);
        rules = rules.with_quirk_rule(pcsc_reader::QuirkRule {
            pattern: name_match(&slot.name),
            limit: slot.quirks.limit(),
            t0_only: slot.quirks.t0_only(),
            power_up_delay: std::time::Duration::from_millis(u64::from(slot.quirks.power_up_delay_ms)),
        });
    }
    rules
}

/// The profile and slot a reader name belongs to.
pub fn slot_profile<'p>(
    devices: &'p DeviceProfiles,
    name: &str,
) -> Option<(&'p ReaderProfile, &'p ReaderSlot)> {
    devices
        .readers
        .iter()
        .find_map(|r| r.slots.iter().find(|s| name_match(&s.name).matches(name)).map(|s| (r, s)))
}

fn resolve(selector: &str, readers: &[ReaderInfo]) -> Result<Option<ReaderInfo>, String> {
    let selector: Selector = selector.parse().map_err(|e: pcsc_reader::Error| e.to_string())?;
    Ok(selector.resolve(readers).ok())
}

fn names(readers: &[ReaderInfo]) -> String {
    if readers.is_empty() {
        "none".into()
    } else {
        readers.iter().map(|r| format!("\"{}\" ({})", r.name, r.kind)).collect::<Vec<_>>().join(", ")
    }
}

/// Runs every reader check and records the findings.
pub fn check_readers(manager: &mut dyn ReaderManager, plan: &ReaderPlan<'_>, report: &mut Report) {
    let readers = match manager.list_readers() {
        Ok(r) => r,
        Err(TransportError::ServiceUnavailable(why)) => {
            report.block(
                Device::Pcscd,
                format!("the PC/SC service is not running ({why})"),
                "PC/SC 服务 pcscd 未运行：以 root 身份执行 `systemctl start pcscd.socket pcscd`，然后重新运行 station doctor",
                "start the PC/SC service: as root run `systemctl start pcscd.socket pcscd`, then run station doctor again",
            );
            return;
        }
        Err(e) => {
            report.block(
                Device::Pcscd,
                format!("the PC/SC service refused to list readers: {e}"),
                "重启 PC/SC 服务：以 root 身份执行 `systemctl restart pcscd`",
                "restart the PC/SC service: as root run `systemctl restart pcscd`",
            );
            return;
        }
    };
    report.ok(Device::Pcscd, format!("running; readers: {}", names(&readers)));
    let card = reader_role(Device::CardReader, plan.card_reader, &readers, plan, report);
    if let Some(info) = card {
        check_card(manager, &info, plan, report);
    }
    if let Some(info) = reader_role(Device::Psam, plan.psam_reader, &readers, plan, report) {
        check_psam(manager, &info, plan, report);
    }
}

/// Finds the reader of one role and records its profile.
fn reader_role(
    device: Device,
    selector: &str,
    readers: &[ReaderInfo],
    plan: &ReaderPlan<'_>,
    report: &mut Report,
) -> Option<ReaderInfo> {
    let setting = if device == Device::Psam { "psam_reader" } else { "card_reader" };
    let info = match resolve(selector, readers) {
        Ok(Some(info)) => info,
        Ok(None) => {
            report.block(
                device,
                format!("no reader matches {setting} = \"{selector}\"; pcscd lists: {}", names(readers)),
                &format!(
                    "插好读卡器的 USB 线（{}）；用 `station card list` 查看读卡器名称，填入配置文件 [counter] 的 {setting}",
                    if device == Device::Psam { "PSAM 读卡器" } else { "打印机接触式读卡模块" }
                ),
                &format!(
                    "plug in the {} (USB); `station card list` shows the names pcscd sees: put the right one in {setting} under [counter]",
                    if device == Device::Psam { "PSAM reader" } else { "printer's contact encoder" }
                ),
            );
            return None;
        }
        Err(why) => {
            report.block(
                device,
                format!("{setting} = \"{selector}\" is not a reader selector: {why}"),
                &format!(
                    "改正配置文件 [counter] 中的 {setting}：读卡器名称、kind:contact / kind:sam，或 #序号"
                ),
                &format!("correct {setting} under [counter]: a reader name, kind:contact / kind:sam, or #N"),
            );
            return None;
        }
    };
    match slot_profile(plan.devices, &info.name) {
        Some((profile, slot)) => {
            let summary = format!(
                "\"{}\": {} {} ({} slot; {}; profile {})",
                info.name,
                profile.vendor,
                profile.model,
                slot.kind,
                slot.quirks.describe(),
                profile.id
            );
            let wanted = if device == Device::Psam { ReaderKind::Sam } else { ReaderKind::Contact };
            if slot.kind == wanted || (device == Device::CardReader && slot.kind == ReaderKind::Contactless) {
                report.ok(device, summary);
            } else {
                report.warn(
                    device,
                    format!("{summary}: a {} slot serves as the {}", slot.kind, device.label()),
                    &format!("核对配置 {setting}：它指向的是 {} 卡座", slot.kind),
                    &format!("check {setting}: it names a {} slot", slot.kind),
                );
            }
        }
        None => report.warn(
            device,
            format!("\"{}\": no reader profile matches it (quirks unknown)", info.name),
            &format!(
                "在 {}/readers/ 中新建该读卡器的 profile 文件（可复制同目录下的文件修改名称与特性），无需重新编译",
                plan.profiles_dir.display()
            ),
            &format!(
                "add a profile for this reader to {}/readers/ (copy one there and change the name and quirks); no rebuild needed",
                plan.profiles_dir.display()
            ),
        ),
    }
    Some(info)
}

fn power_up_delay(plan: &ReaderPlan<'_>, name: &str) {
    if let Some((_, slot)) = slot_profile(plan.devices, name) {
        std::thread::sleep(Duration::from_millis(u64::from(slot.quirks.power_up_delay_ms)));
    }
}

/// How the check of a slot words an empty slot and a card that does not answer.
struct SlotWords {
    device: Device,
    severity: Severity,
    /// The fix for an empty slot (Chinese, English).
    empty: (&'static str, &'static str),
    /// The fix for a card that does not answer.
    mute: (&'static str, &'static str),
}

/// An empty card reader is normal: the printer feeds a card when it issues.
const CARD_SLOT: SlotWords = SlotWords {
    device: Device::Card,
    severity: Severity::Warning,
    empty: (
        "读卡器中没有卡：若它是打印机的接触工位，制卡时打印机会送卡，属正常；若要检查卡片，放入一张空白卡后重新运行",
        "no card in the reader: normal for the printer's contact station (the printer feeds one when issuing); to check a card, put a blank one in and run again",
    ),
    mute: (
        "取出卡片检查芯片是否朝向正确、是否污损，重新放入；仍不响应则换一张卡",
        "take the card out, check the chip faces the contacts and is clean, put it back; if it still does not answer use another card",
    ),
};

/// No card is issued without the PSAM.
const PSAM_SLOT: SlotWords = SlotWords {
    device: Device::Psam,
    severity: Severity::Blocker,
    empty: (
        "PSAM 卡未插入：关闭读卡器电源（拔 USB），将 PSAM 卡芯片朝下插入 SAM 卡座，再接回",
        "the PSAM is missing: unplug the reader, insert the PSAM chip down into the SAM slot, plug the reader back in",
    ),
    mute: (
        "重新插拔 PSAM 卡；仍不响应则联系发卡机构更换 PSAM",
        "reseat the PSAM; if it still does not answer, ask the card issuer for a replacement PSAM",
    ),
};

/// The card in `info`'s reader, connected and past the reader's power-up delay; an empty
/// slot or a card that does not answer is reported as `words` say, and gives `None`.
fn connect_slot(
    manager: &mut dyn ReaderManager,
    info: &ReaderInfo,
    plan: &ReaderPlan<'_>,
    report: &mut Report,
    words: &SlotWords,
) -> Option<Box<dyn Card>> {
    let what = words.device.label();
    let (summary, (zh, en)) = if !info.card_present {
        (format!("no {what} in \"{}\"", info.name), words.empty)
    } else {
        match manager.connect(&info.name) {
            Ok(card) => {
                power_up_delay(plan, &info.name);
                return Some(card);
            }
            Err(e) => (format!("the {what} in \"{}\" does not answer: {e}", info.name), words.mute),
        }
    };
    report.push(words.device, words.severity, summary, zh, en);
    None
}

/// A card in the field: its ATR against the configured card profile.
fn check_card(
    manager: &mut dyn ReaderManager,
    info: &ReaderInfo,
    plan: &ReaderPlan<'_>,
    report: &mut Report,
) {
    let Some(card) = connect_slot(manager, info, plan, report, &CARD_SLOT) else { return };
    let atr = card.atr().to_vec();
    let atr_hex = hex::encode_upper(&atr);
    let protocols = apdu::Atr::parse(&atr)
        .map(|a| a.protocols().iter().map(|p| format!("T={p}")).collect::<Vec<_>>().join("/"))
        .unwrap_or_default();
    match plan.card_profile {
        Some(p) if p.atr.as_bytes() == atr => {
            report.ok(Device::Card, format!("card in the field: ATR {atr_hex} {protocols}, profile {}", p.id))
        }
        Some(p) => report.warn(
            Device::Card,
            format!("the card's ATR {atr_hex} is not that of profile {} ({})", p.id, hex::encode_upper(p.atr.as_bytes())),
            "进卡盒中的卡与配置的 profile 不符：换上与 profile 对应批次的空白卡，或在配置中改用该卡的 profile",
            "the cards are not the configured profile's: load blank cards of that batch, or name this card's profile in the configuration",
        ),
        None => report.ok(Device::Card, format!("card in the field: ATR {atr_hex} {protocols}")),
    }
    let _ = card.disconnect(Disposition::Leave);
}

/// The PSAM: present, answers, holds the master keys the card profile names.
fn check_psam(
    manager: &mut dyn ReaderManager,
    info: &ReaderInfo,
    plan: &ReaderPlan<'_>,
    report: &mut Report,
) {
    let Some(mut card) = connect_slot(manager, info, plan, report, &PSAM_SLOT) else { return };
    let (fix_zh, fix_en) = PSAM_SLOT.mute;
    let outcome = {
        let mut tx = match card.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                report.block(Device::Psam, format!("no transaction with the PSAM: {e}"), fix_zh, fix_en);
                return;
            }
        };
        // The terminal number (EF 0016 in the MF, SFI 22): who this PSAM was issued to.
        let terminal = expect_ok(
            tx.as_mut(),
            &Command::new(0x00, 0xB0, 0x80 | 22, 0).with_le(6),
            "READ terminal number",
        )
        .ok()
        .map(hex::encode_upper);
        let missing = psam_keys(tx.as_mut(), plan.card_profile);
        (terminal, missing)
    };
    let _ = card.disconnect(Disposition::Leave);
    match outcome {
        (_, Err(e)) => report.block(
            Device::Psam,
            format!("the card in \"{}\" is not a social-security PSAM: {e}", info.name),
            "SAM 卡座中的卡不是社保 PSAM：换上发卡机构下发的 PSAM 卡",
            "the card in the SAM slot is not a social-security PSAM: insert the PSAM the card issuer gave you",
        ),
        (terminal, Ok(check)) if check.missing.is_empty() => report.ok(
            Device::Psam,
            format!(
                "answers in \"{}\": terminal {}, master keys {}",
                info.name,
                terminal.as_deref().unwrap_or("unread"),
                if check.present.is_empty() { "not checked (no card profile)".into() } else { check.present.join(" ") }
            ),
        ),
        (_, Ok(check)) => report.block(
            Device::Psam,
            format!("the PSAM lacks master keys {} that the cards' profile needs", check.missing.join(" ")),
            "该 PSAM 没有本批卡片所需的主密钥：换用本地市的 PSAM，或核对配置中的卡片 profile",
            "this PSAM lacks the master keys these cards need: use the PSAM of this city, or check the card profile in the configuration",
        ),
    }
}

/// Master keys found and missing, as `usage/id`.
struct KeyCheck {
    present: Vec<String>,
    missing: Vec<String>,
}

/// Asks the PSAM for one cryptogram per master key the card profile names (SELECT, BF DE,
/// 80 FA: the same path as personalisation). A missing key answers 6A88; any other refusal
/// means this is no usable PSAM.
fn psam_keys(
    tx: &mut dyn card_transport::CardTransaction,
    profile: Option<&Profile>,
) -> Result<KeyCheck, apdu::Error> {
    let mut check = KeyCheck { present: Vec::new(), missing: Vec::new() };
    let Some(profile) = profile else {
        expect_ok(tx, &Command::select_aid(&ssse::PSAM_AID), "SELECT PSAM application")?;
        return Ok(check);
    };
    let levels = profile
        .application(ApplicationKind::Ssse)
        .and_then(|a| a.diversification_levels)
        .unwrap_or(1)
        .clamp(1, 3);
    let factors = vec![[0u8; 8]; usize::from(levels)];
    let mut psam = ssse::Psam::new(tx);
    let mut seen = Vec::new();
    for key in &profile.keys {
        let Some(psam_key) = key.psam_key else { continue };
        if seen.contains(&(psam_key, key.algorithm)) {
            continue;
        }
        seen.push((psam_key, key.algorithm));
        let label = format!("{:02X}/{:02X}", psam_key.usage, psam_key.id);
        let request =
            ssse::AuthRequest { psam_key, algorithm: key.algorithm, factors: &factors, challenge: &[0u8; 8] };
        match psam.external_auth(&request) {
            Ok(_) => check.present.push(label),
            Err(ssse::KeyError::Psam(e))
                if e.status_word() == Some(apdu::StatusWord::ReferencedDataNotFound) =>
            {
                check.missing.push(label)
            }
            Err(ssse::KeyError::Psam(e)) => return Err(e),
            Err(_) => check.missing.push(label),
        }
    }
    Ok(check)
}
