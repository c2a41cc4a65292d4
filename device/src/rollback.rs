//! Refusing an older signed gallery (a rollback).
//!
//! A signature says who made a gallery, not that it is the current one:
//! anyone who can write the gallery file could put back any gallery the
//! school ever signed, people since removed included. Each signed gallery
//! carries a serial inside the signed bytes (`rollcall_shared::signature`);
//! the device remembers, per trusted key, the highest serial it has
//! accepted, in a small state file of its own, and refuses a lower one at
//! start and on reload. `--allow-downgrade` lets the gallery given at
//! start through on purpose; its serial then becomes the one to beat.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rollcall_shared::signature::PublicKey;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The state file's name in the state folder.
pub(crate) const FILE: &str = "gallery-serials.json";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// Highest serial accepted, by the trusted key's 64 hex digits.
    highest: BTreeMap<String, u64>,
}

/// The highest serials accepted so far.
#[derive(Debug)]
pub(crate) struct Serials {
    path: PathBuf,
    state: State,
}

/// The state folder when none is set: systemd's `StateDirectory=`, else
/// the XDG state folder.
pub(crate) fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may list several, separated by colons: the first is ours.
        let first = d.to_string_lossy().split(':').next().unwrap_or_default().to_string();
        return Some(PathBuf::from(first));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("rollcall-device"));
    }
    std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".local/state/rollcall-device"))
}

impl Serials {
    /// Reads the state in `dir` (none yet: nothing accepted so far).
    pub(crate) fn open(dir: &Path) -> Result<Serials> {
        let path = dir.join(FILE);
        let state = match rollcall_shared::regular::read(&path, rollcall_shared::regular::cap::SMALL_TEXT, "state file") {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Content {
                path: path.clone(),
                what: "not a rollcall-device state file; move it away to start afresh".into(),
                source: Some(e.into()),
            })?,
            Err(rollcall_shared::regular::RegularError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(source) => return Err(Error::Read { path, source }),
        };
        Ok(Serials { path, state })
    }

    /// The highest serial accepted from `key`.
    pub(crate) fn highest(&self, key: &PublicKey) -> Option<u64> {
        self.state.highest.get(&key.hex()).copied()
    }

    /// Refuses `serial` when `key` signed a higher one before, unless a
    /// downgrade is `allowed`.
    pub(crate) fn check(&self, key: &PublicKey, serial: u64, allowed: bool) -> Result<()> {
        match self.highest(key) {
            Some(highest) if serial < highest && !allowed => Err(Error::Rollback { serial, highest, key: key.short() }),
            Some(h) if serial < h => {
                tracing::warn!("going back from serial {h} to {serial} (--allow-downgrade)");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records `serial` as the one in use; written atomically.
    pub(crate) fn record(&mut self, key: &PublicKey, serial: u64) -> Result<()> {
        if self.highest(key) == Some(serial) {
            return Ok(());
        }
        self.state.highest.insert(key.hex(), serial);
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(std::io::Error::other).map_err(Error::file("write", &self.path))?;
        rollcall_files::write_atomic(&self.path, &bytes).map_err(Error::file("write", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_shared::signature::SecretKey;

    #[test]
    fn lower_serials_are_refused_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = SecretKey::from_seed(&[3; 32]).public();
        let other = SecretKey::from_seed(&[4; 32]).public();
        let mut s = Serials::open(dir.path()).expect("open");
        s.check(&key, 10, false).expect("first");
        s.record(&key, 10).expect("record");
        let mut s = Serials::open(dir.path()).expect("reopen");
        assert_eq!(s.highest(&key), Some(10));
        s.check(&key, 10, false).expect("the same gallery again (a restart)");
        let e = s.check(&key, 9, false).expect_err("older");
        assert!(e.chain().contains("serial 9") && e.chain().contains("--allow-downgrade"), "{}", e.chain());
        s.check(&other, 1, false).expect("each key has its own serials");
        s.check(&key, 9, true).expect("allowed");
        s.record(&key, 9).expect("record");
        assert_eq!(Serials::open(dir.path()).expect("reopen").highest(&key), Some(9), "the downgrade is the one to beat");
        std::fs::write(dir.path().join(FILE), b"{\"highest\": 5}").expect("write");
        assert!(Serials::open(dir.path()).is_err(), "a damaged state file is an error, not a fresh start");
    }
}
