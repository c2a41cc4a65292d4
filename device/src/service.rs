//! Running as a systemd service (`Type=notify`): READY once the gallery,
//! the models and the source are open, and a watchdog ping from the frame
//! loop, so that a camera that stops delivering frames or a model that
//! blocks gets the service restarted. Without systemd (`NOTIFY_SOCKET`
//! unset: a laptop, the tests' `dir:` sources) every call does nothing.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// The service manager's side of a run.
pub(crate) struct Service {
    /// Ping at least this often (half the unit's `WatchdogSec`), if asked.
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Service {
    /// From the environment systemd gives the service.
    pub(crate) fn from_env() -> Self {
        let every = sd_notify::watchdog_enabled().map(|d| d / 2);
        if let Some(d) = every {
            tracing::debug!("systemd watchdog: a ping every {d:?}");
        }
        Service { every, last: None }
    }

    /// Started: the service manager may call the unit active.
    pub(crate) fn ready(&mut self, status: &str) {
        self.notify(&[NotifyState::Ready, NotifyState::Status(status)]);
        self.last = Some(Instant::now());
    }

    /// One more frame was processed: the loop is alive.
    pub(crate) fn alive(&mut self) {
        let Some(every) = self.every else { return };
        if self.last.is_none_or(|t| t.elapsed() >= every) {
            self.notify(&[NotifyState::Watchdog]);
            self.last = Some(Instant::now());
        }
    }

    /// Ending on purpose.
    pub(crate) fn stopping(&self) {
        self.notify(&[NotifyState::Stopping]);
    }

    fn notify(&self, state: &[NotifyState<'_>]) {
        if let Err(e) = sd_notify::notify(state) {
            tracing::warn!("cannot tell systemd: {e}");
        }
    }
}
