//! Where the CLI's output goes decides how it looks: live progress bars and colours on a
//! terminal; plain lines with no carriage return and no escape sequence anywhere else (a pipe,
//! a file, journald under systemd). `NO_COLOR` (<https://no-color.org>) turns colours off even
//! on a terminal.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether stderr is a terminal that takes cursor movement: a tty whose `TERM` is not `dumb`.
pub fn stderr_is_terminal() -> bool {
    interactive(std::io::stderr().is_terminal(), std::env::var_os("TERM").as_deref())
}

/// Whether what goes to stderr (the logs) may be coloured.
pub fn colour_on_stderr() -> bool {
    colour(stderr_is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// A tty with a `TERM` other than `dumb` (an unset `TERM` counts as a terminal: some consoles
/// set none).
fn interactive(is_tty: bool, term: Option<&OsStr>) -> bool {
    is_tty && term != Some(OsStr::new("dumb"))
}

/// Colours only on a terminal, and not when `NO_COLOR` is set to anything but the empty string.
fn colour(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))), "an empty NO_COLOR is as if unset");
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None), "a pipe, a file or journald gets no escape sequence");
    }

    #[test]
    fn a_dumb_terminal_or_no_tty_gets_plain_lines() {
        assert!(interactive(true, Some(OsStr::new("xterm-256color"))));
        assert!(interactive(true, None));
        assert!(!interactive(true, Some(OsStr::new("dumb"))));
        assert!(!interactive(false, Some(OsStr::new("xterm"))));
    }
}
