//! Whether the system clock is synchronised. A Pi has no real-time clock:
//! until NTP has answered it runs from the last time it was shut down, and
//! the attendance log would file the day under the wrong date.

use std::time::{Duration, Instant};

/// `Some(true)` once the kernel clock is synchronised (systemd's
/// `NTPSynchronized`, whichever NTP client sets it), `Some(false)` while it
/// is not, `None` when there is no way to ask.
pub(crate) fn synchronised() -> Option<bool> {
    // Not with the service's NOTIFY_SOCKET: a systemd tool that fails says
    // ERRNO= on it, as if it were the service.
    let out = std::process::Command::new("timedatectl")
        .args(["show", "--property=NTPSynchronized", "--value"])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Asks [`synchronised`] at most once a minute.
pub(crate) struct ClockWatch {
    last: Option<(Instant, Option<bool>)>,
}

impl ClockWatch {
    pub(crate) fn new() -> Self {
        ClockWatch { last: None }
    }

    /// Whether the clock is known not to be synchronised.
    pub(crate) fn unsynchronised(&mut self) -> bool {
        let stale = self.last.is_none_or(|(at, _)| at.elapsed() > Duration::from_secs(60));
        if stale {
            self.last = Some((Instant::now(), synchronised()));
        }
        self.last.is_some_and(|(_, s)| s == Some(false))
    }
}

impl Default for ClockWatch {
    fn default() -> Self {
        Self::new()
    }
}
