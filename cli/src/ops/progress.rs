//! Progress of long operations (many pages, many chunks) on stderr: a counter redrawn in
//! place when stderr is a terminal, nothing otherwise (logs and pipes get the final line of
//! each command only).

use std::fmt;
use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

/// A progress counter on stderr.
pub(crate) struct Progress {
    on: bool,
    drawn: bool,
    last: Option<Instant>,
}

impl Progress {
    /// A counter, drawn only if stderr is a terminal.
    pub(crate) fn new() -> Progress {
        Progress {
            on: io::stderr().is_terminal(),
            drawn: false,
            last: None,
        }
    }

    /// Redraws the counter (at most ten times a second).
    pub(crate) fn show(&mut self, what: fmt::Arguments<'_>) {
        if !self.on
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        eprint!("\r\x1b[2K{what}");
        self.drawn = true;
        self.last = Some(Instant::now());
    }

    /// Erases the counter, so the next line starts clean.
    pub(crate) fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
