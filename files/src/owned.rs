//! Folders rollcall owns, and the lock that keeps two commands out of one.
//!
//! rollcall writes only into folders it made: a work directory, a model
//! folder, a folder of annotated copies, a folder of int8 models. Each holds
//! a marker file, [`MARKER`], saying what it is. [`claim`] takes a folder
//! that does not exist yet, or is empty, or already is rollcall's folder of
//! that kind; anything else holds the user's files and is refused. The photo
//! listing leaves every marked folder out, so outputs never feed back in.
//!
//! [`lock`] holds an exclusive lock on such a folder for as long as a
//! command works in it; a second command fails at once and says which
//! process holds it. The lock is released when the process ends, however it
//! ends.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::shown::shown;

/// The marker file in every folder rollcall owns.
pub const MARKER: &str = ".rollcall";
/// The lock file in every folder rollcall owns.
pub const LOCK: &str = ".rollcall-lock";
/// The marker format this build writes and reads.
pub const FORMAT: u32 = 1;

/// What an owned folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A work directory (`rollcall run`, `detect`).
    Work,
    /// A model folder (`rollcall train`).
    Model,
    /// Annotated copies (`rollcall predict --annotate`).
    Annotated,
    /// Quantized models (`rollcall quantize`).
    Int8Models,
    /// A roll call from class photos (`rollcall roll`).
    Roll,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Work => "work directory",
            Kind::Model => "model folder",
            Kind::Annotated => "annotated-photos folder",
            Kind::Int8Models => "int8-models folder",
            Kind::Roll => "roll-call folder",
        })
    }
}

/// The marker's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// What the folder is.
    pub kind: Kind,
    /// Marker format.
    pub format: u32,
    /// The rollcall that made it.
    pub made_by: String,
}

impl Marker {
    fn new(kind: Kind) -> Self {
        Marker { kind, format: FORMAT, made_by: format!("rollcall {}", env!("CARGO_PKG_VERSION")) }
    }

    /// The marker of `dir`, if it has a readable one.
    pub fn read(dir: &Path) -> Option<Marker> {
        let text = rollcall_shared::regular::read_to_string(&dir.join(MARKER), rollcall_shared::regular::cap::SMALL_TEXT, "marker").ok()?;
        toml::from_str(&text).ok()
    }

    fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        crate::write_atomic(&dir.join(MARKER), text.as_bytes())
    }
}

/// Why a folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OwnedError {
    /// The folder holds the user's files.
    #[error(
        "{} exists and holds files rollcall did not write (it has no {MARKER} marker); \
         to keep them safe, rollcall writes only into a new or empty folder, or one it made",
        shown(path)
    )]
    NotOurs {
        /// The folder.
        path: PathBuf,
    },
    /// The folder is rollcall's, but of another kind.
    #[error("{} is a rollcall {found}, not a {wanted}", shown(path))]
    OtherKind {
        /// The folder.
        path: PathBuf,
        /// What it is.
        found: Kind,
        /// What was asked for.
        wanted: Kind,
    },
    /// A newer rollcall made it.
    #[error("{} was made by a newer rollcall (format {found}; this one reads format {FORMAT})", shown(path))]
    NewerFormat {
        /// The folder.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
    /// The folder is not there, or not rollcall's.
    #[error("{} is not a rollcall {wanted}", shown(path))]
    Missing {
        /// The folder.
        path: PathBuf,
        /// What was asked for.
        wanted: Kind,
    },
    /// Another command is working in the folder.
    #[error("{} is in use by another rollcall command{}; wait for it to finish", shown(path), holder.map(|p| format!(" (process {p})")).unwrap_or_default())]
    Locked {
        /// The folder.
        path: PathBuf,
        /// The process holding the lock, if it said.
        holder: Option<u32>,
    },
    /// The folder or its marker could not be written.
    #[error("cannot write {}", shown(path))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OwnedError + '_ {
    move |source| OwnedError::Io { path: path.to_path_buf(), source }
}

/// Makes `dir` rollcall's folder of `kind`, or accepts it if it already is:
/// see the module docs.
pub fn claim(dir: &Path, kind: Kind) -> Result<(), OwnedError> {
    match Marker::read(dir) {
        Some(m) => check(dir, &m, kind),
        None if !dir.exists() || is_empty(dir) => {
            crate::create_dir_private(dir).map_err(io(dir))?;
            Marker::new(kind).write(dir).map_err(io(dir))
        }
        None => Err(OwnedError::NotOurs { path: dir.to_path_buf() }),
    }
}

/// Checks that `dir` is rollcall's folder of `kind` (for commands that work
/// in one an earlier command made).
pub fn open(dir: &Path, kind: Kind) -> Result<(), OwnedError> {
    match Marker::read(dir) {
        Some(m) => check(dir, &m, kind),
        None => Err(OwnedError::Missing { path: dir.to_path_buf(), wanted: kind }),
    }
}

fn check(dir: &Path, m: &Marker, kind: Kind) -> Result<(), OwnedError> {
    if m.format > FORMAT {
        return Err(OwnedError::NewerFormat { path: dir.to_path_buf(), found: m.format });
    }
    if m.kind != kind {
        return Err(OwnedError::OtherKind { path: dir.to_path_buf(), found: m.kind, wanted: kind });
    }
    Ok(())
}

/// Whether `dir` is a folder rollcall owns (of any kind).
pub fn is_owned(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false)
}

/// An exclusive lock on an owned folder, released when dropped (or when the
/// process ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Locks `dir` for this process, or fails at once naming the holder.
pub fn lock(dir: &Path) -> Result<Lock, OwnedError> {
    let lock = lock_named(dir, LOCK)?;
    remove_stale_temporaries(dir);
    Ok(lock)
}

/// [`lock`], waiting up to `wait` for a holder to let go: for a step of a
/// long session (a review page's action) that must not fail because
/// another step, or a process forked while the lock was held, still has
/// it for a moment. A holder that keeps it longer (a `run`) is named as
/// [`lock`] names it.
pub fn lock_within(dir: &Path, wait: std::time::Duration) -> Result<Lock, OwnedError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match lock(dir) {
            Err(OwnedError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A lock of its own in `dir`, file `name`, for what must run once per
/// folder beside the folder's lock (a review session), or fails at once
/// naming the holder.
pub fn lock_named(dir: &Path, name: &str) -> Result<Lock, OwnedError> {
    let path = dir.join(name);
    let mut options = File::options();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::PRIVATE_FILE);
    let mut file = options.open(&path).map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(OwnedError::Locked { path: dir.to_path_buf(), holder: text.trim().parse().ok() });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(OwnedError::Io { path, source: e }),
    }
    // Only the holder writes: say who it is.
    file.set_len(0).and_then(|_| file.rewind()).and_then(|_| write!(file, "{}", std::process::id())).map_err(io(&path))?;
    Ok(Lock { _file: file })
}

/// Temporary files an earlier command left when it was killed outright
/// (atomic writes clean up after themselves otherwise).
fn remove_stale_temporaries(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir).max_depth(3).into_iter().filter_map(Result::ok) {
        let stale = entry.file_type().is_file() && entry.file_name().to_str().is_some_and(|n| n.starts_with(crate::TEMP_PREFIX));
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!("removed {}, left by an interrupted run", shown(entry.path()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_new_empty_and_own_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("work");
        claim(&fresh, Kind::Work).unwrap();
        claim(&fresh, Kind::Work).unwrap();
        assert!(matches!(claim(&fresh, Kind::Model), Err(OwnedError::OtherKind { found: Kind::Work, wanted: Kind::Model, .. })));
        open(&fresh, Kind::Work).unwrap();

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        claim(&empty, Kind::Model).unwrap();

        let users = dir.path().join("users");
        std::fs::create_dir(&users).unwrap();
        std::fs::write(users.join("metadata.csv"), "mine").unwrap();
        assert!(matches!(claim(&users, Kind::Work), Err(OwnedError::NotOurs { .. })));
        assert!(matches!(open(&users, Kind::Work), Err(OwnedError::Missing { .. })));
        assert_eq!(std::fs::read_to_string(users.join("metadata.csv")).unwrap(), "mine");
        assert!(is_owned(&fresh) && !is_owned(&users));
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        match lock(dir.path()) {
            Err(OwnedError::Locked { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        lock(dir.path()).unwrap();
    }
}
