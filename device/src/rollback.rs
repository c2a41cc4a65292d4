//! Refusing an older signed gallery (a rollback), and one from the future.
//!
//! A signature says who made a gallery, not that it is the current one:
//! anyone who can write the gallery file could put back any gallery the
//! school ever signed, people since removed included. Each signed gallery
//! carries a serial inside the signed bytes (`rollcall_shared::signature`,
//! the signing time in seconds); the device remembers, per trusted key, the
//! highest serial it has accepted, in a small state file of its own (0600
//! in a 0700 folder, which the packaged layout keeps away from the gallery's
//! writer), and refuses a lower one at start and on reload.
//!
//! A serial is a time, so a laptop whose clock was wrong (2100) signs a
//! gallery that outranks every honest one for decades. Two defences:
//!
//! - a serial more than [`MAX_AHEAD`] ahead of the device's clock, when the
//!   clock is synchronised, is refused and never recorded;
//! - `--allow-downgrade` (the recovery) accepts the gallery given at start
//!   below the recorded serial, and **retires** every serial this device
//!   accepted above it: they stay refused for good, so going back does not
//!   let the retired gallery in again (its serial would otherwise be above
//!   the new one to beat).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rollcall_shared::signature::PublicKey;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The state file's name in the state folder.
pub(crate) const FILE: &str = "gallery-serials.json";

/// How far ahead of a synchronised clock a serial may be: a day covers
/// time zones and a laptop's clock a few hours fast; the 2100 of a laptop
/// with a flat battery is refused.
pub(crate) const MAX_AHEAD: u64 = 86_400;

/// The accepted serials remembered per key (to retire on a downgrade): far
/// more galleries than a school signs between two downgrades.
const HISTORY: usize = 256;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// Highest serial accepted, by the trusted key's 64 hex digits.
    highest: BTreeMap<String, u64>,
    /// Serials accepted, by key (the newest [`HISTORY`]); absent in state
    /// files of earlier versions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    accepted: BTreeMap<String, BTreeSet<u64>>,
    /// Serials retired by a downgrade, by key: refused for good.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    retired: BTreeMap<String, BTreeSet<u64>>,
}

/// The serials accepted so far.
#[derive(Debug)]
pub(crate) struct Serials {
    path: PathBuf,
    state: State,
    /// No state file was there when opened.
    fresh: bool,
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

/// A serial (seconds since the epoch) as a UTC date, for people.
pub(crate) fn date(serial: u64) -> String {
    i64::try_from(serial)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(|| format!("serial {serial}"), |d| d.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// The system clock, in seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Refuses `serial` when it is more than [`MAX_AHEAD`] ahead of `now`, a
/// synchronised clock's time.
pub(crate) fn check_not_ahead(key: &PublicKey, serial: u64, now: u64) -> Result<()> {
    if serial > now.saturating_add(MAX_AHEAD) {
        return Err(Error::FutureSerial { serial, date: date(serial), now: date(now), key: key.short() });
    }
    Ok(())
}

impl Serials {
    /// Reads the state in `dir` (none yet: nothing accepted so far, which
    /// [`Serials::fresh`] tells).
    pub(crate) fn open(dir: &Path) -> Result<Serials> {
        let path = dir.join(FILE);
        let mut fresh = false;
        let state = match rollcall_shared::regular::read(&path, rollcall_shared::regular::cap::SMALL_TEXT, "state file") {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Content {
                path: path.clone(),
                what: "not a rollcall-device state file; move it away to start afresh".into(),
                source: Some(e.into()),
            })?,
            Err(rollcall_shared::regular::RegularError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                fresh = true;
                State::default()
            }
            Err(source) => return Err(Error::Read { path, source }),
        };
        Ok(Serials { path, state, fresh })
    }

    /// The state file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The highest serial accepted from `key`.
    pub(crate) fn highest(&self, key: &PublicKey) -> Option<u64> {
        self.state.highest.get(&key.hex()).copied()
    }

    /// The serials retired for `key`.
    pub(crate) fn retired(&self, key: &PublicKey) -> Vec<u64> {
        self.state.retired.get(&key.hex()).map(|r| r.iter().copied().collect()).unwrap_or_default()
    }

    /// Why nothing is recorded for `key`, when nothing is: a first start,
    /// or a state file deleted (which would let any older gallery in once).
    pub(crate) fn missing(&self, key: &PublicKey) -> Option<String> {
        if self.highest(key).is_some() {
            return None;
        }
        let why = if self.fresh { "there is no state file" } else { "the state file has no entry for it" };
        Some(format!(
            "no gallery serial recorded for key {} in {} ({why}): this is a first start, or the state was deleted, \
             and the gallery in place is accepted whatever its serial",
            key.short(),
            rollcall_files::shown(&self.path)
        ))
    }

    /// Refuses `serial` when it was retired, or `key` signed a higher one
    /// before, unless a downgrade is `allowed`.
    pub(crate) fn check(&self, key: &PublicKey, serial: u64, allowed: bool) -> Result<()> {
        if self.state.retired.get(&key.hex()).is_some_and(|r| r.contains(&serial)) {
            return Err(Error::Retired { serial, date: date(serial), key: key.short() });
        }
        match self.highest(key) {
            Some(highest) if serial < highest && !allowed => {
                let hint = if highest > now_secs().saturating_add(MAX_AHEAD) {
                    format!(
                        " (serial {highest} is {}, in the future: a gallery signed on a laptop whose clock was wrong; \
                         start once with --allow-downgrade and a gallery signed with a right clock, and serial {highest} is retired for good)",
                        date(highest)
                    )
                } else {
                    String::new()
                };
                Err(Error::Rollback { serial, highest, key: key.short(), hint })
            }
            Some(h) if serial < h => {
                tracing::warn!(
                    "going back from serial {h} to {serial} (--allow-downgrade): the serials accepted above {serial} are retired, \
                     refused from now on"
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records `serial` as the one in use; written atomically. Serials
    /// accepted before above it are retired (a downgrade).
    pub(crate) fn record(&mut self, key: &PublicKey, serial: u64) -> Result<()> {
        let hex = key.hex();
        if self.highest(key) == Some(serial) {
            return Ok(());
        }
        let accepted = self.state.accepted.entry(hex.clone()).or_default();
        if let Some(h) = self.state.highest.get(&hex) {
            accepted.insert(*h);
        }
        let above: Vec<u64> = accepted.range(serial.saturating_add(1)..).copied().collect();
        if !above.is_empty() {
            for s in &above {
                accepted.remove(s);
            }
            self.state.retired.entry(hex.clone()).or_default().extend(above);
        }
        accepted.insert(serial);
        while accepted.len() > HISTORY {
            accepted.pop_first();
        }
        self.state.highest.insert(hex, serial);
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(std::io::Error::other).map_err(Error::file("write", &self.path))?;
        if let Some(dir) = self.path.parent() {
            crate::events_log::private_dir(dir)?;
        }
        rollcall_files::write_atomic_with_mode(&self.path, &bytes, 0o600).map_err(Error::file("write", &self.path))?;
        self.fresh = false;
        Ok(())
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
        assert!(s.missing(&key).is_some_and(|m| m.contains("no state file")));
        s.check(&key, 10, false).expect("first");
        s.record(&key, 10).expect("record");
        let mut s = Serials::open(dir.path()).expect("reopen");
        assert_eq!(s.highest(&key), Some(10));
        assert!(s.missing(&key).is_none());
        assert!(s.missing(&other).is_some_and(|m| m.contains("no entry")));
        s.check(&key, 10, false).expect("the same gallery again (a restart)");
        let e = s.check(&key, 9, false).expect_err("older");
        assert!(e.chain().contains("serial 9") && e.chain().contains("--allow-downgrade"), "{}", e.chain());
        s.check(&other, 1, false).expect("each key has its own serials");
        s.check(&key, 9, true).expect("allowed");
        s.record(&key, 9).expect("record");
        let s = Serials::open(dir.path()).expect("reopen");
        assert_eq!(s.highest(&key), Some(9), "the downgrade is the one to beat");
        assert_eq!(s.retired(&key), [10], "and the gallery gone back from is retired");
        let e = s.check(&key, 10, false).expect_err("retired");
        assert!(e.chain().contains("retired"), "{}", e.chain());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path()).expect("state").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(dir.path().join(FILE), b"{\"highest\": 5}").expect("write");
        assert!(Serials::open(dir.path()).is_err(), "a damaged state file is an error, not a fresh start");
    }

    #[test]
    fn a_state_file_of_the_earlier_format_still_reads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = SecretKey::from_seed(&[3; 32]).public();
        std::fs::write(dir.path().join(FILE), format!("{{\"highest\": {{\"{}\": 200}}}}", key.hex())).expect("write");
        let s = Serials::open(dir.path()).expect("open");
        assert_eq!(s.highest(&key), Some(200));
        s.check(&key, 100, false).expect_err("older");
    }

    #[test]
    fn serials_more_than_a_day_ahead_are_refused() {
        let key = SecretKey::from_seed(&[3; 32]).public();
        let now = 1_796_000_000;
        check_not_ahead(&key, now + MAX_AHEAD, now).expect("a day ahead: a laptop's clock a little fast");
        let e = check_not_ahead(&key, 4_102_444_800, now).expect_err("2100");
        assert!(e.chain().contains("2100-01-01") && e.chain().contains("ahead of this device's clock"), "{}", e.chain());
    }
}
