//! USB printer class over bulk endpoints, from user space through `nusb` (pure Rust, usbfs
//! on Linux): `usb:VID:PID[:SERIAL]` is looked up among the attached devices, its
//! printer-class interface ([`printer_interface`]) claimed (the kernel's usblp is detached
//! from it first), requests go out on bulk OUT and replies come back on bulk IN. The class
//! requests GET_DEVICE_ID and GET_PORT_STATUS are there for identification and a quick
//! look at the port without a protocol exchange.

use std::io;
use std::time::{Duration, Instant};

use nusb::transfer::{Buffer, Bulk, ControlIn, ControlType, In, Out, Recipient, TransferError};
use nusb::{DeviceInfo, Endpoint, Interface, MaybeFuture};

use super::{at_least_1ms, Framing, PrinterTransport, TransportError, DEFAULT_IDLE_GAP};
use crate::selector::Selector;
use crate::usb_class::{
    printer_interface, DeviceId, PortStatus, PrinterInterface, CLASS_PRINTER, GET_DEVICE_ID, GET_PORT_STATUS,
};

/// Largest piece of a request handed to the host controller at once (a bitmap download is
/// over half a megabyte; usbfs limits the memory of one transfer).
const WRITE_CHUNK: usize = 64 * 1024;
/// Largest GET_DEVICE_ID answer asked for (what Linux's usblp asks too).
const DEVICE_ID_MAX: u16 = 1024;
/// Timeout of a class request on the control endpoint.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// What an operator checks when the printer is not found, or cannot be opened.
pub const WHAT_TO_CHECK: &str = "check that the printer is switched on and its USB cable plugged \
    in, that `lsusb` lists it with these ids (`lsusb -d VID:PID`), and that this user may open \
    it (/dev/bus/usb: run as root or add a udev rule for the ids)";

/// A claimed printer-class interface and its two bulk endpoints.
#[derive(Debug)]
struct Link {
    interface: Interface,
    chosen: PrinterInterface,
    config_index: u8,
    out: Endpoint<Bulk, Out>,
    input: Endpoint<Bulk, In>,
}

/// A USB printer driven over its bulk endpoints.
#[derive(Debug)]
pub struct UsbTransport {
    vid: u16,
    pid: u16,
    serial: Option<String>,
    link: Option<Link>,
    framing: Framing,
}

/// Why a selector names no attached device (after "cannot find "), listing the printers that are
/// attached (`VID:PID[:SERIAL] product`) so an operator sees a mistyped id at once.
pub fn not_found_message(wanted: &Selector, printers: &[String]) -> String {
    let attached = if printers.is_empty() {
        "no USB printers are attached".to_owned()
    } else {
        format!("USB printers attached: {}", printers.join(", "))
    };
    format!("{wanted} ({attached}); {WHAT_TO_CHECK}")
}

fn describe_device(d: &DeviceInfo) -> String {
    let serial = d.serial_number().map(|s| format!(":{s}")).unwrap_or_default();
    let product = d.product_string().map(|p| format!(" {p}")).unwrap_or_default();
    format!("{:04x}:{:04x}{serial}{product}", d.vendor_id(), d.product_id())
}

/// Adds what to do to the errors an operator can fix.
fn with_hint(e: nusb::Error, step: &str) -> io::Error {
    let hint = match e.kind() {
        nusb::ErrorKind::PermissionDenied => "run as root or add a udev rule giving this user the device",
        nusb::ErrorKind::Busy => "another program holds the printer (CUPS, the vendor's service): stop it",
        nusb::ErrorKind::Disconnected => "the printer went away: check its cable and power",
        _ => "unplug and replug the printer, then try again",
    };
    io::Error::new(io::Error::from(e.clone()).kind(), format!("{step}: {e}; {hint}"))
}

impl UsbTransport {
    /// Finds the printer `vid:pid[:serial]`, claims its printer-class interface and opens the
    /// bulk endpoints.
    pub fn open(vid: u16, pid: u16, serial: Option<&str>) -> Result<Self, TransportError> {
        let mut transport = Self {
            vid,
            pid,
            serial: serial.map(str::to_owned),
            link: None,
            framing: Framing::new(DEFAULT_IDLE_GAP),
        };
        transport.reconnect()?;
        Ok(transport)
    }

    fn selector(&self) -> Selector {
        Selector::Usb { vid: self.vid, pid: self.pid, serial: self.serial.clone() }
    }

    fn find(&self) -> Result<DeviceInfo, TransportError> {
        let wanted = self.selector();
        let devices = nusb::list_devices().wait().map_err(|e| {
            TransportError::NotFound(format!(
                "{wanted}: the USB devices cannot be listed ({e}); {WHAT_TO_CHECK}"
            ))
        })?;
        let all: Vec<DeviceInfo> = devices.collect();
        let matching: Vec<&DeviceInfo> = all
            .iter()
            .filter(|d| d.vendor_id() == self.vid && d.product_id() == self.pid)
            .filter(|d| self.serial.is_none() || d.serial_number() == self.serial.as_deref())
            .collect();
        match matching.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                let printers: Vec<String> = all
                    .iter()
                    .filter(|d| d.interfaces().any(|i| i.class() == CLASS_PRINTER))
                    .map(describe_device)
                    .collect();
                Err(TransportError::NotFound(not_found_message(&wanted, &printers)))
            }
            several => {
                let found: Vec<String> = several.iter().map(|d| describe_device(d)).collect();
                Err(TransportError::NotFound(format!(
                    "{wanted} matches {} devices ({}): add the serial number, usb:VID:PID:SERIAL",
                    several.len(),
                    found.join(", ")
                )))
            }
        }
    }

    fn connect(&self) -> Result<Link, TransportError> {
        let info = self.find()?;
        let open = |source| TransportError::Open { target: self.describe(), source };
        let device = info.open().wait().map_err(|e| open(with_hint(e, "open")))?;
        let (chosen, config_index) = {
            let config = device.active_configuration().map_err(|e| open(io::Error::other(e)))?;
            let chosen = printer_interface(&config).map_err(|why| open(io::Error::other(why)))?;
            let index = device
                .configurations()
                .position(|c| c.configuration_value() == chosen.configuration)
                .unwrap_or(0);
            (chosen, u8::try_from(index).unwrap_or(0))
        };
        let interface = device
            .detach_and_claim_interface(chosen.interface)
            .wait()
            .map_err(|e| open(with_hint(e, "claim the printer interface")))?;
        if chosen.alt_setting != 0 {
            interface
                .set_alt_setting(chosen.alt_setting)
                .wait()
                .map_err(|e| open(with_hint(e, "select the bidirectional setting")))?;
        }
        let out =
            interface.endpoint::<Bulk, Out>(chosen.bulk_out).map_err(|e| open(with_hint(e, "bulk OUT")))?;
        let input =
            interface.endpoint::<Bulk, In>(chosen.bulk_in).map_err(|e| open(with_hint(e, "bulk IN")))?;
        Ok(Link { interface, chosen, config_index, out, input })
    }

    fn link(&mut self) -> Result<&mut Link, TransportError> {
        let target = self.describe();
        self.link.as_mut().ok_or(TransportError::Closed { target })
    }

    fn class_in(&mut self, request: u8, setup: (u16, u16), length: u16) -> Result<Vec<u8>, TransportError> {
        let target = self.describe();
        let link = self.link()?;
        let (value, index) = setup;
        let control = ControlIn {
            control_type: ControlType::Class,
            recipient: Recipient::Interface,
            request,
            value,
            index,
            length,
        };
        link.interface
            .control_in(control, CONTROL_TIMEOUT)
            .wait()
            .map_err(|e| transfer_error(e, "read", &target, CONTROL_TIMEOUT))
    }

    /// GET_DEVICE_ID: the printer's IEEE 1284 device ID (maker, model, command set, serial).
    pub fn device_id(&mut self) -> Result<DeviceId, TransportError> {
        let target = self.describe();
        let link = self.link()?;
        let setup = link.chosen.device_id_setup(link.config_index);
        let answer = self.class_in(GET_DEVICE_ID, setup, DEVICE_ID_MAX)?;
        DeviceId::parse(&answer).map_err(|why| TransportError::Io {
            op: "read",
            target,
            source: io::Error::other(format!("device ID: {why}")),
        })
    }

    /// GET_PORT_STATUS: paper (feeder) empty, selected, error.
    pub fn port_status(&mut self) -> Result<PortStatus, TransportError> {
        let target = self.describe();
        let setup = self.link()?.chosen.port_status_setup();
        let answer = self.class_in(GET_PORT_STATUS, setup, 1)?;
        PortStatus::parse(&answer).map_err(|why| TransportError::Io {
            op: "read",
            target,
            source: io::Error::other(format!("port status: {why}")),
        })
    }
}

/// A failed transfer in the transport's terms: a cancelled one ran out of time, a vanished
/// device closed the link.
fn transfer_error(e: TransferError, op: &'static str, target: &str, waited: Duration) -> TransportError {
    match e {
        TransferError::Cancelled => TransportError::Timeout { target: target.to_owned(), waited },
        TransferError::Disconnected => TransportError::Closed { target: target.to_owned() },
        other => TransportError::Io { op, target: target.to_owned(), source: other.into() },
    }
}

/// One bulk IN transfer of at most `buf.len()` bytes (in whole packets), waiting `wait`.
fn read_within(
    input: &mut Endpoint<Bulk, In>,
    packet: usize,
    buf: &mut [u8],
    wait: Duration,
) -> io::Result<usize> {
    let asked = (buf.len() / packet).max(1) * packet;
    let completion = input.transfer_blocking(Buffer::new(asked), at_least_1ms(wait));
    let got = &completion.buffer[..completion.buffer.len().min(buf.len())];
    buf[..got.len()].copy_from_slice(got);
    match completion.status {
        // A zero-length packet is no end of file: the printer has nothing to say yet.
        Ok(()) if got.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
        Ok(()) => Ok(got.len()),
        // Cut short by the deadline: what came, or a timeout.
        Err(TransferError::Cancelled) if !got.is_empty() => Ok(got.len()),
        Err(TransferError::Cancelled) => Err(io::ErrorKind::TimedOut.into()),
        Err(TransferError::Disconnected) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

impl PrinterTransport for UsbTransport {
    fn describe(&self) -> String {
        self.selector().to_string()
    }

    fn write_request(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let target = self.describe();
        let link = self.link()?;
        let start = Instant::now();
        for chunk in bytes.chunks(WRITE_CHUNK) {
            let remaining = timeout.saturating_sub(start.elapsed());
            let completion = link.out.transfer_blocking(Buffer::from(chunk), at_least_1ms(remaining));
            completion.status.map_err(|e| transfer_error(e, "write", &target, start.elapsed()))?;
        }
        Ok(())
    }

    fn read_reply(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let target = self.describe();
        let mut framing = std::mem::replace(&mut self.framing, Framing::new(DEFAULT_IDLE_GAP));
        let result = match self.link() {
            Ok(link) => {
                let packet = link.chosen.in_packet;
                framing
                    .read_reply(&target, timeout, |buf, wait| read_within(&mut link.input, packet, buf, wait))
            }
            Err(e) => Err(e),
        };
        self.framing = framing;
        result
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        // Release the interface before claiming it again (the device may also have been
        // re-enumerated: it is looked up anew).
        self.link = None;
        self.framing.clear();
        self.link = Some(self.connect()?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_says_what_is_attached_and_what_to_check() {
        let wanted = Selector::Usb { vid: 0x0f49, pid: 0x1234, serial: None };
        let none = not_found_message(&wanted, &[]);
        assert!(none.starts_with("usb:0f49:1234 (no USB printers are attached); check"), "{none}");
        assert!(none.contains("lsusb -d VID:PID") && none.contains("udev rule"), "{none}");
        let some = not_found_message(&wanted, &["0f49:5678:SN1 Primacy".to_owned()]);
        assert!(some.contains("(USB printers attached: 0f49:5678:SN1 Primacy)"), "{some}");
    }

    /// No printer with these ids is attached to a build machine: opening one fails with the
    /// lookup's error, never a panic or a hang.
    #[test]
    fn an_absent_printer_is_not_found() {
        let err = UsbTransport::open(0xf00a, 0xfffe, Some("NO-SUCH-SERIAL")).expect_err("no such printer");
        assert!(matches!(err, TransportError::NotFound(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.starts_with("cannot find usb:f00a:fffe:NO-SUCH-SERIAL"), "{message}");
        assert!(message.contains(WHAT_TO_CHECK), "{message}");
    }
}
