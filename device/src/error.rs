//! The device library's errors. Each keeps its cause (`source()`); the
//! binary prints the whole chain, naming the file or setting at fault.

use std::path::PathBuf;

use rollcall_files::shown;

use crate::source::SourceError;

/// What the device library returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed cause of another kind (a TOML, JSON, PEM or broker error).
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why the device could not do something.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be opened, listed, written or deleted.
    #[error("cannot {action} {}", shown(path))]
    File {
        /// What was tried: "read", "write", "list", "delete", ...
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A file read within limits (regular, capped) could not be read.
    #[error("cannot read {}", shown(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// Not a regular file, too big, or what the system said.
        #[source]
        source: rollcall_shared::regular::RegularError,
    },
    /// A file was read but its content is not what it should be.
    #[error("{}: {what}", shown(path))]
    Content {
        /// The file.
        path: PathBuf,
        /// What it should have been, and what to do.
        what: String,
        /// The parser's complaint, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// A flag or a setting of the settings file is missing or out of
    /// bounds; the text names it.
    #[error("{0}")]
    Setting(String),
    /// A gallery file could not be read or is not a gallery.
    #[error(transparent)]
    GalleryFile(#[from] rollcall_shared::gallery::FileError),
    /// The gallery does not fit the models (made with others, or of
    /// another embedding size).
    #[error("the gallery does not fit the models")]
    GalleryFit(#[from] rollcall_shared::gallery::GalleryError),
    /// A cause, with the file it concerns.
    #[error("{}", shown(path))]
    In {
        /// The file.
        path: PathBuf,
        /// What went wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// A signed gallery older than one this device accepted before.
    #[error(
        "an older gallery: serial {serial}, but this device already accepted serial {highest} from key {key} (a rollback?); \
         to go back on purpose, start once with --allow-downgrade{hint}"
    )]
    Rollback {
        /// The offered gallery's serial number.
        serial: u64,
        /// The highest serial this device accepted from the same key.
        highest: u64,
        /// The signing key, shortened as `rollcall keys` shows it.
        key: String,
        /// More to say when the recorded serial is itself in the future.
        hint: String,
    },
    /// A signed gallery whose serial (its signing time) is more than a day
    /// ahead of this device's synchronised clock.
    #[error(
        "serial {serial} ({date}) from key {key} is more than a day ahead of this device's clock ({now}): \
         it was signed on a laptop whose clock was wrong; fix that clock, export and sign again \
         (`rollcall export --sign KEY`; with `--reset-serial` once the clock is right)"
    )]
    FutureSerial {
        /// The offered gallery's serial number.
        serial: u64,
        /// The serial as a date.
        date: String,
        /// The device's clock as a date.
        now: String,
        /// The signing key, shortened.
        key: String,
    },
    /// A signed gallery whose serial a downgrade retired.
    #[error(
        "serial {serial} ({date}) from key {key} was retired when this device went back to an older gallery \
         (--allow-downgrade): it is refused for good; export and sign the gallery again"
    )]
    Retired {
        /// The offered gallery's serial number.
        serial: u64,
        /// The serial as a date.
        date: String,
        /// The signing key, shortened.
        key: String,
    },
    /// The models could not be found, loaded or run.
    #[error(transparent)]
    Models(#[from] rollcall_models::Error),
    /// The camera or the stills.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Events could not be written to a sink (stdout, the serial line).
    #[error("cannot write events to {sink}")]
    Sink {
        /// Which sink: "stdout", "serial".
        sink: &'static str,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A serial port could not be opened.
    #[error("cannot open serial port {port} at {baud} baud")]
    Serial {
        /// The port's device file.
        port: String,
        /// The speed asked for.
        baud: u32,
        /// What the driver said.
        #[source]
        source: serialport::Error,
    },
    /// GPIO could not be opened or a pin taken.
    #[error("{what}")]
    Gpio {
        /// What was tried, naming the pin.
        what: String,
        /// What the GPIO library said.
        #[source]
        source: rppal::gpio::Error,
    },
    /// The MQTT settings or connection.
    #[error("{what}")]
    Mqtt {
        /// What was tried, naming the setting or the broker.
        what: String,
        /// The client's or the TLS library's complaint, when there is one.
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    /// A failed file operation on `path`.
    pub(crate) fn file(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::File { action, path, source }
    }

    /// An MQTT failure with no further cause.
    pub(crate) fn mqtt(what: impl Into<String>) -> Error {
        Error::Mqtt { what: what.into(), source: None }
    }

    /// The whole chain, `outer: cause: cause`, each text once.
    pub fn chain(&self) -> String {
        rollcall_models::error::describe(self)
    }
}
