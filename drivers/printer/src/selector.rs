//! Printer selectors: how an operator, a config file or a test names the printer to open.
//!
//! | selector | transport |
//! |---|---|
//! | `serial:PATH[@BAUD]` | serial port or pty, BAUD default 115200 |
//! | `tcp:HOST:PORT` | TCP; HOST is a name, an IPv4 address or `[IPv6]` |
//! | `lp:PATH` | USB printer-class device node, e.g. `/dev/usb/lp0` |
//! | `usb:VID:PID[:SERIAL]` | the USB printer with these ids (4 hex digits each; the serial number string when several are attached), driven over its printer-class bulk endpoints |
//! | `/dev/usb/lpN` | short for `lp:/dev/usb/lpN` |
//! | any other path (`/...` or `./...`), optionally `@BAUD` | short for `serial:PATH[@BAUD]` |
//! | `HOST:PORT` | short for `tcp:HOST:PORT` |
//!
//! The prefixed forms are never ambiguous; the short forms are for people typing at a prompt.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Serial speed when a selector does not give one; Evolis serial models default to it.
pub const DEFAULT_BAUD: u32 = 115_200;

/// A parsed printer selector (see the module documentation for the grammar).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// A serial port (or the slave side of a pty).
    Serial {
        /// The device path.
        path: PathBuf,
        /// The speed in baud.
        baud: u32,
    },
    /// A network printer.
    Tcp {
        /// Host name or address (without brackets for IPv6).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A USB printer-class device node.
    UsbLp {
        /// The device path, e.g. `/dev/usb/lp0`.
        path: PathBuf,
    },
    /// A USB printer by vendor and product id, and serial number when several are attached.
    Usb {
        /// USB vendor id.
        vid: u16,
        /// USB product id.
        pid: u16,
        /// The device's serial number string.
        serial: Option<String>,
    },
}

/// A selector that does not parse; `why` says what is wrong in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("printer selector {selector:?}: {why} (expected serial:PATH[@BAUD], tcp:HOST:PORT, lp:PATH, usb:VID:PID[:SERIAL], a path or HOST:PORT)")]
pub struct SelectorError {
    /// The selector as given.
    pub selector: String,
    /// What is wrong with it.
    pub why: String,
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, SelectorError> {
        let bad = |why: &str| SelectorError { selector: s.to_owned(), why: why.to_owned() };
        let text = s.trim();
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if let Some(rest) = text.strip_prefix("serial:") {
            return parse_serial(rest).map_err(|why| bad(&why));
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            return parse_tcp(rest).map_err(|why| bad(&why));
        }
        if let Some(rest) = text.strip_prefix("lp:") {
            if rest.is_empty() {
                return Err(bad("no device path after lp:"));
            }
            return Ok(Selector::UsbLp { path: PathBuf::from(rest) });
        }
        if let Some(rest) = text.strip_prefix("usb:") {
            return parse_usb(rest).map_err(|why| bad(&why));
        }
        if text.starts_with('/') || text.starts_with("./") || text.starts_with("../") {
            if text.starts_with("/dev/usb/lp") {
                return Ok(Selector::UsbLp { path: PathBuf::from(text) });
            }
            return parse_serial(text).map_err(|why| bad(&why));
        }
        if text.contains(':') {
            return parse_tcp(text).map_err(|why| bad(&why));
        }
        Err(bad("not a path, not HOST:PORT and no known prefix"))
    }
}

fn parse_serial(rest: &str) -> Result<Selector, String> {
    let (path, baud) = match rest.rsplit_once('@') {
        Some((path, baud)) => {
            let baud: u32 = baud.parse().map_err(|_| format!("baud {baud:?} is not a number"))?;
            if baud == 0 {
                return Err("baud 0 is not a speed".to_owned());
            }
            (path, baud)
        }
        None => (rest, DEFAULT_BAUD),
    };
    if path.is_empty() {
        return Err("no device path for the serial port".to_owned());
    }
    Ok(Selector::Serial { path: PathBuf::from(path), baud })
}

fn parse_tcp(rest: &str) -> Result<Selector, String> {
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err("no :PORT after the host".to_owned());
    };
    let port: u16 = port.parse().map_err(|_| format!("port {port:?} is not a number from 1 to 65535"))?;
    if port == 0 {
        return Err("port 0 is not a printer's port".to_owned());
    }
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or("IPv6 address without its closing ]")?,
        None if host.contains(':') => return Err("an IPv6 address goes in brackets: [ADDR]:PORT".to_owned()),
        None => host,
    };
    if host.is_empty() {
        return Err("no host before :PORT".to_owned());
    }
    Ok(Selector::Tcp { host: host.to_owned(), port })
}

fn parse_usb(rest: &str) -> Result<Selector, String> {
    let mut fields = rest.splitn(3, ':');
    let hex_id = |field: Option<&str>, what: &str| -> Result<u16, String> {
        let field = field.unwrap_or_default();
        if field.len() != 4 || !field.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{what} {field:?} is not 4 hex digits"));
        }
        u16::from_str_radix(field, 16).map_err(|e| e.to_string())
    };
    let vid = hex_id(fields.next(), "vendor id")?;
    let pid = hex_id(fields.next(), "product id")?;
    let serial = match fields.next() {
        Some("") => return Err("empty serial number after VID:PID:".to_owned()),
        other => other.map(str::to_owned),
    };
    Ok(Selector::Usb { vid, pid, serial })
}

impl fmt::Display for Selector {
    /// The canonical (prefixed) form, which parses back to the same selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial { path, baud } => write!(f, "serial:{}@{baud}", path.display()),
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Self::UsbLp { path } => write!(f, "lp:{}", path.display()),
            Self::Usb { vid, pid, serial: None } => write!(f, "usb:{vid:04x}:{pid:04x}"),
            Self::Usb { vid, pid, serial: Some(serial) } => write!(f, "usb:{vid:04x}:{pid:04x}:{serial}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Selector {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn why(s: &str) -> String {
        s.parse::<Selector>().expect_err("an error").why
    }

    #[test]
    fn prefixed_forms() {
        assert_eq!(
            parse("serial:/dev/ttyUSB0"),
            Selector::Serial { path: "/dev/ttyUSB0".into(), baud: DEFAULT_BAUD }
        );
        assert_eq!(
            parse("serial:/dev/ttyS1@9600"),
            Selector::Serial { path: "/dev/ttyS1".into(), baud: 9600 }
        );
        assert_eq!(
            parse("tcp:printer.local:9100"),
            Selector::Tcp { host: "printer.local".into(), port: 9100 }
        );
        assert_eq!(parse("tcp:[::1]:9100"), Selector::Tcp { host: "::1".into(), port: 9100 });
        assert_eq!(parse("lp:/dev/usb/lp1"), Selector::UsbLp { path: "/dev/usb/lp1".into() });
        assert_eq!(parse("usb:F00A:0001"), Selector::Usb { vid: 0xF00A, pid: 1, serial: None });
        assert_eq!(
            parse("usb:f00a:000e:A1:B2"),
            Selector::Usb { vid: 0xF00A, pid: 0xE, serial: Some("A1:B2".into()) }
        );
    }

    #[test]
    fn short_forms() {
        assert_eq!(parse("/dev/usb/lp0"), Selector::UsbLp { path: "/dev/usb/lp0".into() });
        assert_eq!(parse("/dev/pts/7"), Selector::Serial { path: "/dev/pts/7".into(), baud: DEFAULT_BAUD });
        assert_eq!(parse(" ./tty@57600 "), Selector::Serial { path: "./tty".into(), baud: 57600 });
        assert_eq!(parse("10.0.0.5:9100"), Selector::Tcp { host: "10.0.0.5".into(), port: 9100 });
        assert_eq!(parse("localhost:1"), Selector::Tcp { host: "localhost".into(), port: 1 });
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(why(""), "it is empty");
        assert_eq!(why("printer"), "not a path, not HOST:PORT and no known prefix");
        assert_eq!(why("serial:"), "no device path for the serial port");
        assert_eq!(why("serial:/dev/ttyS0@fast"), "baud \"fast\" is not a number");
        assert_eq!(why("/dev/ttyS0@0"), "baud 0 is not a speed");
        assert_eq!(why("tcp:host"), "no :PORT after the host");
        assert_eq!(why("tcp:host:99999"), "port \"99999\" is not a number from 1 to 65535");
        assert_eq!(why("host:0"), "port 0 is not a printer's port");
        assert_eq!(why("tcp::9100"), "no host before :PORT");
        assert_eq!(why("tcp:::1:9100"), "an IPv6 address goes in brackets: [ADDR]:PORT");
        assert_eq!(why("tcp:[::1:9100"), "IPv6 address without its closing ]");
        assert_eq!(why("lp:"), "no device path after lp:");
        assert_eq!(why("usb:F00A"), "product id \"\" is not 4 hex digits");
        assert_eq!(why("usb:F0A:0001"), "vendor id \"F0A\" is not 4 hex digits");
        assert_eq!(why("usb:F00A:0001:"), "empty serial number after VID:PID:");
        let err = "tcp:host".parse::<Selector>().expect_err("an error");
        assert!(err
            .to_string()
            .starts_with("printer selector \"tcp:host\": no :PORT after the host (expected"));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "serial:/dev/ttyUSB0@115200",
            "tcp:10.1.2.3:9100",
            "tcp:[fe80::1]:9100",
            "lp:/dev/usb/lp0",
            "usb:f00a:0001",
            "usb:f00a:0001:SN:1",
        ] {
            assert_eq!(parse(s).to_string(), s);
            assert_eq!(parse(&parse(s).to_string()), parse(s));
        }
    }
}
