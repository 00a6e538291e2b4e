//! The card printer: reachable, which model (and its profile), cover, feeder, ribbon, and no
//! card left inside from an interrupted job.

use std::path::Path;

use evolis::{CardPosition, SensorState};
use firmware_profile::devices::DeviceProfiles;
use printer::Printer;

use crate::{Device, Report};

/// Prints left below which the doctor warns when no printer profile says otherwise.
pub const DEFAULT_LOW_RIBBON: u32 = 20;

/// Checks the printer `selector` names; `opened` is the driver, or why it could not open.
pub fn check_printer(
    opened: Result<&mut dyn Printer, String>,
    selector: &str,
    devices: &DeviceProfiles,
    profiles_dir: &Path,
    report: &mut Report,
) {
    let unreachable_zh = format!(
        "打开打印机电源，检查 USB 线或网线；确认配置 [counter] printer = \"{selector}\" 与实际连接一致"
    );
    let unreachable_en =
        format!("switch the printer on and check its USB or network cable; check printer = \"{selector}\" under [counter]");
    let printer = match opened {
        Ok(p) => p,
        Err(why) => {
            report.block(
                Device::Printer,
                format!("cannot open {selector}: {why}"),
                &unreachable_zh,
                &unreachable_en,
            );
            return;
        }
    };
    let identity = match printer.identify() {
        Ok(id) => id,
        Err(e) => {
            report.block(
                Device::Printer,
                format!("no answer from {selector}: {e}"),
                &unreachable_zh,
                &unreachable_en,
            );
            return;
        }
    };
    let profile = devices.printer_for(&identity.model);
    let who = format!("{} (serial {}, firmware {})", identity.model, identity.serial, identity.firmware);
    match profile {
        Some(p) => report.ok(
            Device::Printer,
            format!(
                "{who}: profile {} ({}; encoder {}{}; ribbons {})",
                p.id,
                p.model,
                if p.encoder.contact { "contact" } else { "" },
                if p.encoder.contactless { " + contactless" } else { "" },
                p.ribbons.iter().map(|r| format!("{} x{}", r.kind, r.prints)).collect::<Vec<_>>().join(", ")
            ),
        ),
        None => report.warn(
            Device::Printer,
            format!("{who}: no printer profile matches model \"{}\"", identity.model),
            &format!("在 {}/printers/ 中新建该型号的 profile 文件（可复制同目录下的文件修改），无需重新编译", profiles_dir.display()),
            &format!(
                "add a profile for this model to {}/printers/ (copy one there and edit it); no rebuild needed",
                profiles_dir.display()
            ),
        ),
    }
    let status = match printer.status() {
        Ok(s) => s,
        Err(e) => {
            report.block(
                Device::Printer,
                format!("status unreadable: {e}"),
                &unreachable_zh,
                &unreachable_en,
            );
            return;
        }
    };
    let mut fine = true;
    if status.cover == SensorState::CoverOpen {
        fine = false;
        report.block(Device::Printer, "the cover is open", "关好打印机上盖", "close the printer's cover");
    }
    if status.feeder == SensorState::FeederEmpty {
        fine = false;
        report.block(
            Device::Printer,
            "the feeder is empty",
            "在进卡盒中放入空白卡（芯片朝向按打印机上的标示）",
            "load blank cards into the feeder (chip as marked on the printer)",
        );
    }
    let low = profile.map_or(DEFAULT_LOW_RIBBON, |p| p.low_ribbon_warning());
    match status.ribbon_remaining {
        None | Some(0) => {
            fine = false;
            report.block(
                Device::Printer,
                "no usable ribbon (missing, finished or refused)",
                "装入新色带（该型号打印机适用、中国区域的 YMCKO 色带）",
                "load a new ribbon (YMCKO for this printer model, China region)",
            );
        }
        Some(n) if n < low => {
            fine = false;
            report.warn(
                Device::Printer,
                format!("ribbon low: {n} prints left"),
                "色带即将用完：准备好新色带",
                "the ribbon is nearly finished: have a new one ready",
            );
        }
        Some(n) => {
            let zone = printer.ribbon().map(|r| format!(", zone {}", r.zone)).unwrap_or_default();
            report.ok(Device::Printer, format!("ribbon: {n} prints left{zone}"));
        }
    }
    if status.card != CardPosition::None {
        fine = false;
        report.warn(
            Device::Printer,
            format!("a card is inside ({:?})", status.card),
            "机内有上次中断留下的卡：在工作站页面上退卡或放入废卡盒，再开始新的制卡",
            "a card from an interrupted job is inside: eject or reject it from the station's page before the next card",
        );
    }
    if status.exit_slot == SensorState::ExitSlotCardPresent {
        fine = false;
        report.warn(
            Device::Printer,
            "a card waits at the exit slot",
            "取走出卡口的卡",
            "take the card from the exit slot",
        );
    }
    if fine {
        report.ok(Device::Printer, "cover closed, feeder loaded, no card inside");
    }
}
