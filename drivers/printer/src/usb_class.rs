//! USB printer class (USB Device Class Definition for Printing Devices 1.1) as pure
//! functions: which interface and endpoints of a configuration to use, the two class
//! requests the driver sends (GET_DEVICE_ID, GET_PORT_STATUS) and how their answers read.
//! The transport in `transport::usb` does the I/O; everything here is tested on bytes.

use std::collections::BTreeMap;

use nusb::descriptors::{ConfigurationDescriptor, TransferType};
use nusb::transfer::Direction;

/// `bInterfaceClass` of a printer.
pub const CLASS_PRINTER: u8 = 0x07;
/// `bInterfaceSubClass` of a printer.
pub const SUBCLASS_PRINTER: u8 = 0x01;
/// `bInterfaceProtocol`: unidirectional (bulk OUT only; no replies can be read).
pub const PROTOCOL_UNIDIRECTIONAL: u8 = 0x01;
/// `bInterfaceProtocol`: bidirectional (bulk OUT and bulk IN).
pub const PROTOCOL_BIDIRECTIONAL: u8 = 0x02;
/// `bInterfaceProtocol`: IEEE 1284.4 compatible bidirectional.
pub const PROTOCOL_1284_4: u8 = 0x03;

/// Class request GET_DEVICE_ID (bRequest 0; bmRequestType 0xA1: class, interface, IN).
pub const GET_DEVICE_ID: u8 = 0x00;
/// Class request GET_PORT_STATUS (bRequest 1; bmRequestType 0xA1).
pub const GET_PORT_STATUS: u8 = 0x01;

/// The printer-class interface to claim, and its bulk endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterInterface {
    /// `bConfigurationValue` of the configuration it is in.
    pub configuration: u8,
    /// `bInterfaceNumber`.
    pub interface: u8,
    /// `bAlternateSetting`.
    pub alt_setting: u8,
    /// `bInterfaceProtocol` (2 or 3: both directions).
    pub protocol: u8,
    /// Bulk OUT endpoint address (requests).
    pub bulk_out: u8,
    /// Bulk IN endpoint address (replies).
    pub bulk_in: u8,
    /// wMaxPacketSize of the bulk IN endpoint (reads are asked in multiples of it).
    pub in_packet: usize,
}

impl PrinterInterface {
    /// `wValue` and `wIndex` of GET_DEVICE_ID: the zero-based configuration index, and the
    /// interface in the high byte with the alternate setting in the low byte.
    pub fn device_id_setup(&self, config_index: u8) -> (u16, u16) {
        (u16::from(config_index), u16::from(self.interface) << 8 | u16::from(self.alt_setting))
    }

    /// `wValue` and `wIndex` of GET_PORT_STATUS: 0 and the interface number.
    pub fn port_status_setup(&self) -> (u16, u16) {
        (0, u16::from(self.interface))
    }
}

/// Picks the printer-class interface of a configuration that has a bulk OUT and a bulk IN
/// endpoint and takes plain bytes: the Evolis protocol answers every command, so a
/// unidirectional interface (protocol 1) is of no use, and IEEE 1284.4 (protocol 3) wraps
/// data in a packet layer this driver does not speak. Bidirectional (protocol 2) is first;
/// a vendor's own protocol value with both endpoints is taken when there is nothing else.
///
/// The error says what the device offers, for the operator and for a bug report.
pub fn printer_interface(config: &ConfigurationDescriptor<'_>) -> Result<PrinterInterface, String> {
    let mut found = Vec::new();
    let mut best: Option<PrinterInterface> = None;
    for alt in config.interface_alt_settings() {
        found.push(format!(
            "interface {} alt {} class {:02x}/{:02x}/{:02x}",
            alt.interface_number(),
            alt.alternate_setting(),
            alt.class(),
            alt.subclass(),
            alt.protocol()
        ));
        let plain = !matches!(alt.protocol(), PROTOCOL_UNIDIRECTIONAL | PROTOCOL_1284_4);
        if alt.class() != CLASS_PRINTER || alt.subclass() != SUBCLASS_PRINTER || !plain {
            continue;
        }
        let bulk = |dir: Direction| {
            alt.endpoints()
                .find(|e| e.transfer_type() == TransferType::Bulk && e.direction() == dir)
                .map(|e| (e.address(), e.max_packet_size()))
        };
        let (Some((bulk_out, _)), Some((bulk_in, in_packet))) = (bulk(Direction::Out), bulk(Direction::In))
        else {
            continue;
        };
        let candidate = PrinterInterface {
            configuration: config.configuration_value(),
            interface: alt.interface_number(),
            alt_setting: alt.alternate_setting(),
            protocol: alt.protocol(),
            bulk_out,
            bulk_in,
            in_packet: in_packet.max(1),
        };
        let rank = |p: u8| u8::from(p != PROTOCOL_BIDIRECTIONAL);
        if best.is_none_or(|b| rank(candidate.protocol) < rank(b.protocol)) {
            best = Some(candidate);
        }
    }
    best.ok_or_else(|| {
        format!(
            "no bidirectional printer-class interface (class 07, subclass 01, protocol 02, bulk OUT \
             and bulk IN) (the device offers: {}); a unidirectional or IEEE 1284.4-only \
             interface cannot carry the Evolis protocol",
            if found.is_empty() { "no interfaces".to_owned() } else { found.join("; ") }
        )
    })
}

/// The IEEE 1284 device ID a printer answers to GET_DEVICE_ID: `KEY:value;` pairs such as
/// `MFG:Evolis;MDL:Primacy;CMD:...;CLS:PRINTER;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId {
    /// Every pair, keys as sent (upper case by convention).
    pub fields: BTreeMap<String, String>,
}

impl DeviceId {
    /// Parses the GET_DEVICE_ID answer: two length bytes (the length includes them), then the
    /// ID. The length is big-endian per IEEE 1284; some printers send it little-endian, so
    /// the other order is tried when the first does not fit (as CUPS does); a length longer
    /// than what came is cut to what came (the host asked for fewer bytes).
    pub fn parse(answer: &[u8]) -> Result<Self, String> {
        let [hi, lo, rest @ ..] = answer else {
            return Err(format!("{} bytes: too short for the two length bytes", answer.len()));
        };
        let fits = |n: usize| (2..=answer.len()).contains(&n);
        let be = usize::from(u16::from_be_bytes([*hi, *lo]));
        let le = usize::from(u16::from_le_bytes([*hi, *lo]));
        let len = match () {
            () if fits(be) => be,
            () if fits(le) => le,
            () if be > answer.len() => answer.len(),
            () => return Err(format!("length {be} is less than its own two bytes")),
        };
        let text = String::from_utf8_lossy(&rest[..len - 2]);
        let fields: BTreeMap<String, String> = text
            .split(';')
            .filter_map(|pair| pair.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        if fields.is_empty() {
            return Err(format!("no KEY:value; pairs in {text:?}"));
        }
        Ok(Self { fields })
    }

    fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.fields.get(*k)).map(String::as_str)
    }

    /// `MFG` / `MANUFACTURER`.
    pub fn manufacturer(&self) -> Option<&str> {
        self.get(&["MFG", "MANUFACTURER"])
    }

    /// `MDL` / `MODEL`.
    pub fn model(&self) -> Option<&str> {
        self.get(&["MDL", "MODEL"])
    }

    /// `CLS` / `CLASS` (`PRINTER`).
    pub fn class(&self) -> Option<&str> {
        self.get(&["CLS", "CLASS"])
    }

    /// `SN` / `SERN` / `SERIALNUMBER`, when the printer puts its serial number in the ID.
    pub fn serial(&self) -> Option<&str> {
        self.get(&["SN", "SERN", "SERIALNUMBER"])
    }

    /// `CMD` / `COMMAND SET`, split at commas.
    pub fn command_set(&self) -> Vec<&str> {
        self.get(&["CMD", "COMMAND SET"]).map(|c| c.split(',').map(str::trim).collect()).unwrap_or_default()
    }
}

/// The GET_PORT_STATUS byte: the three bits of a Centronics status port the class keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortStatus {
    /// Bit 5: out of paper (for a card printer: the feeder is empty).
    pub paper_empty: bool,
    /// Bit 4: selected (on line).
    pub selected: bool,
    /// Bit 3 is "not error": set when all is well, so `error` is its inverse.
    pub error: bool,
}

impl PortStatus {
    /// Reads the one-byte answer; other bits are reserved and ignored.
    pub fn parse(answer: &[u8]) -> Result<Self, String> {
        let [byte] = answer else {
            return Err(format!("{} bytes where GET_PORT_STATUS answers one", answer.len()));
        };
        Ok(Self { paper_empty: byte & 0x20 != 0, selected: byte & 0x10 != 0, error: byte & 0x08 == 0 })
    }

    /// On line, with paper and no error.
    pub fn ready(&self) -> bool {
        self.selected && !self.paper_empty && !self.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration as the USB printer class lays it out: the configuration descriptor,
    /// then the interfaces with their endpoints. (No capture of a real Evolis was at hand.)
    /// (bInterfaceNumber, bAlternateSetting, bInterfaceProtocol, [(address, attributes)]).
    type Alt<'a> = (u8, u8, u8, &'a [(u8, u8)]);

    fn config_bytes(interfaces: &[Alt<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        for &(number, alt, protocol, endpoints) in interfaces {
            body.extend_from_slice(&[9, 4, number, alt, endpoints.len() as u8, 7, 1, protocol, 0]);
            for &(address, attributes) in endpoints {
                body.extend_from_slice(&[7, 5, address, attributes, 0x40, 0x00, 0]);
            }
        }
        let total = (9 + body.len()) as u16;
        let mut out = vec![9, 2, total.to_le_bytes()[0], total.to_le_bytes()[1], 1, 1, 0, 0xC0, 1];
        out.extend(body);
        out
    }

    const BULK: u8 = 2;
    const INTERRUPT: u8 = 3;

    #[test]
    fn the_bidirectional_interface_is_chosen() {
        // Alt 0 unidirectional, alt 1 bidirectional, alt 2 IEEE 1284.4 (the class spec's
        // layout for a printer with several alternate settings).
        let bytes = config_bytes(&[
            (0, 0, 1, &[(0x01, BULK)]),
            (0, 1, 2, &[(0x01, BULK), (0x82, BULK)]),
            (0, 2, 3, &[(0x01, BULK), (0x82, BULK)]),
        ]);
        let config = ConfigurationDescriptor::new(&bytes).expect("a configuration");
        let chosen = printer_interface(&config).expect("an interface");
        assert_eq!(
            chosen,
            PrinterInterface {
                configuration: 1,
                interface: 0,
                alt_setting: 1,
                protocol: 2,
                bulk_out: 0x01,
                bulk_in: 0x82,
                in_packet: 64
            }
        );
        assert_eq!(chosen.device_id_setup(0), (0, 0x0001));
        assert_eq!(chosen.port_status_setup(), (0, 0));
    }

    #[test]
    fn a_printer_interface_after_another_function() {
        // A composite device: a vendor interface first, the printer as interface 1.
        let bytes =
            config_bytes(&[(0, 0, 0, &[(0x83, INTERRUPT)]), (1, 0, 2, &[(0x02, BULK), (0x81, BULK)])]);
        let mut bytes = bytes;
        bytes[14] = 0xFF; // interface 0 is vendor-specific, not a printer
        let config = ConfigurationDescriptor::new(&bytes).expect("a configuration");
        let chosen = printer_interface(&config).expect("an interface");
        assert_eq!((chosen.interface, chosen.bulk_out, chosen.bulk_in), (1, 0x02, 0x81));
        assert_eq!(chosen.device_id_setup(0), (0, 0x0100));
        assert_eq!(chosen.port_status_setup(), (0, 1));
    }

    #[test]
    fn a_unidirectional_printer_is_refused_with_what_it_offers() {
        let bytes = config_bytes(&[(0, 0, 1, &[(0x01, BULK)])]);
        let config = ConfigurationDescriptor::new(&bytes).expect("a configuration");
        let err = printer_interface(&config).expect_err("no IN endpoint");
        assert!(err.contains("interface 0 alt 0 class 07/01/01"), "{err}");
        assert!(err.contains("unidirectional"), "{err}");
        let bytes = config_bytes(&[(0, 0, 3, &[(0x01, BULK), (0x82, BULK)])]);
        let config = ConfigurationDescriptor::new(&bytes).expect("a configuration");
        let err = printer_interface(&config).expect_err("1284.4 only");
        assert!(err.contains("class 07/01/03"), "{err}");
    }

    #[test]
    fn device_id_of_the_linux_printer_gadget() {
        // drivers/usb/gadget/legacy/printer.c answers "XXMFG:linux;MDL:g_printer;CLS:PRINTER;SN:1;"
        // with XX the big-endian length, the two bytes included.
        let text = b"MFG:linux;MDL:g_printer;CLS:PRINTER;SN:1;";
        let mut answer = ((text.len() + 2) as u16).to_be_bytes().to_vec();
        answer.extend_from_slice(text);
        let id = DeviceId::parse(&answer).expect("parsed");
        assert_eq!(id.manufacturer(), Some("linux"));
        assert_eq!(id.model(), Some("g_printer"));
        assert_eq!(id.class(), Some("PRINTER"));
        assert_eq!(id.serial(), Some("1"));
        assert!(id.command_set().is_empty());
    }

    #[test]
    fn device_id_long_keys_little_endian_length_and_trailing_bytes() {
        let text = b"MANUFACTURER:Evolis;COMMAND SET:EVOLIS, PJL;MODEL:Primacy;CLASS:PRINTER;";
        // Little-endian length, then padding the printer left in the buffer.
        let mut answer = ((text.len() + 2) as u16).to_le_bytes().to_vec();
        answer.extend_from_slice(text);
        answer.extend_from_slice(&[0; 8]);
        let id = DeviceId::parse(&answer).expect("parsed");
        assert_eq!((id.manufacturer(), id.model()), (Some("Evolis"), Some("Primacy")));
        assert_eq!(id.command_set(), ["EVOLIS", "PJL"]);
        assert_eq!(id.serial(), None);
        // A length beyond what came: the host asked for fewer bytes; what came is parsed.
        let mut cut = 1000u16.to_be_bytes().to_vec();
        cut.extend_from_slice(b"MFG:Evolis;MDL:Zen");
        assert_eq!(DeviceId::parse(&cut).expect("parsed").model(), Some("Zen"));
    }

    #[test]
    fn device_id_errors() {
        assert!(DeviceId::parse(&[0]).expect_err("short").contains("too short"));
        assert!(DeviceId::parse(&[0, 1, b'x']).expect_err("bad length").contains("less than"));
        assert!(DeviceId::parse(&[0, 6, b'a', b'b', b'c', b'd']).expect_err("no pairs").contains("no KEY"));
    }

    #[test]
    fn port_status_bits() {
        // 0x18: selected, not error, paper present: ready.
        assert_eq!(
            PortStatus::parse(&[0x18]),
            Ok(PortStatus { paper_empty: false, selected: true, error: false })
        );
        assert!(PortStatus::parse(&[0x18]).expect("status").ready());
        // 0x38: paper empty (the feeder, on a card printer).
        let empty = PortStatus::parse(&[0x38]).expect("status");
        assert!(empty.paper_empty && !empty.ready());
        // 0x10: bit 3 clear is an error; 0x08: not selected.
        assert!(PortStatus::parse(&[0x10]).expect("status").error);
        assert!(!PortStatus::parse(&[0x08]).expect("status").selected);
        // Reserved bits change nothing.
        assert_eq!(PortStatus::parse(&[0x18 | 0xC7]), PortStatus::parse(&[0x18]));
        assert!(PortStatus::parse(&[]).is_err() && PortStatus::parse(&[0x18, 0]).is_err());
    }
}
