//! Ctrl-C: the first press asks the command to stop at the next safe point
//! (between two photos, two chips, two files), so that every file is either
//! whole or not there; a second press stops at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The command stopped because Ctrl-C was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted (Ctrl-C); every file written so far is whole, and a re-run picks up from here")]
pub struct Interrupted;

/// Installs the Ctrl-C handler (once per process; later calls do nothing).
pub fn install() {
    let installed = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!("\nfinishing the current write, then stopping (Ctrl-C again to stop at once)");
    });
    if let Err(e) = installed {
        tracing::debug!("no Ctrl-C handler: {e}");
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once a stop was asked for.
pub fn check() -> Result<(), Interrupted> {
    if requested() { Err(Interrupted) } else { Ok(()) }
}

/// Asks for a stop, as Ctrl-C does (tests, and callers with their own
/// signals).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forgets a stop request: for tests, and for a long-lived process (the
/// review server) that handles one command after another.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
