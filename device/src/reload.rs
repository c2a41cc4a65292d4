//! Updating the gallery without a restart: the device notices when its
//! gallery file is replaced and reads the new one between frames.
//!
//! The file is polled, not watched: one `stat` a frame costs nothing next
//! to a frame, works on every file system (a gallery copied over `scp` or
//! `rsync`, an NFS mount), and needs no extra thread. A change is any
//! difference in modification time, size or inode (an atomic rename makes
//! a new inode even within the same second). A new file gets the checks the
//! one at start got (format, checksum, signature when a key is trusted);
//! the recognizer then checks the models, and with a trusted key the
//! serial must not be older than one in use before, nor retired, nor from
//! the future ([`crate::rollback`]).
//! One that fails is refused once,
//! with the reason, and the old gallery stays in use until the file changes
//! again.

use std::path::PathBuf;
use std::time::SystemTime;

use rollcall_shared::gallery::Gallery;
use rollcall_shared::signature::PublicKey;

use crate::error::Result;
use crate::rollback::Serials;

/// What identifies one version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { modified: m.modified().ok(), len: m.len(), inode })
}

/// The key galleries must be signed with, and the serials it signed that
/// this device accepted.
#[derive(Debug)]
pub(crate) struct Trust {
    pub key: PublicKey,
    pub serials: Serials,
}

/// A signed gallery's serial, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Serial {
    /// The serial the signature carries.
    pub value: u64,
    /// Whether to record it as the one to beat: not when it is more than a
    /// day ahead of a clock that is not synchronised (a Pi without a
    /// real-time clock at boot), which cannot tell a fresh gallery from one
    /// signed with a wrong clock.
    pub record: bool,
}

impl Trust {
    /// Reads and checks `path` as the gallery to use now: signed by the
    /// key, with a serial that is not retired, no lower than one accepted
    /// before (unless `downgrade`), and not more than a day ahead of the
    /// clock when it is synchronised. Gives the serial, to
    /// [`Trust::accepted`] once in use.
    pub(crate) fn read(&self, path: &std::path::Path, downgrade: bool) -> Result<(Gallery, Serial)> {
        let (gallery, serial) = rollcall_shared::gallery::read_file_verified(path, Some(&self.key))?;
        self.serials.check(&self.key, serial, downgrade)?;
        let now = crate::rollback::now_secs();
        let mut record = true;
        if serial > now.saturating_add(crate::rollback::MAX_AHEAD) {
            if crate::clock::synchronised() == Some(true) {
                crate::rollback::check_not_ahead(&self.key, serial, now)?;
            }
            tracing::warn!(
                "gallery serial {serial} ({}) is more than a day ahead of the clock ({}), which is not known to be synchronised: \
                 used, but not recorded as the serial to beat",
                crate::rollback::date(serial),
                crate::rollback::date(now)
            );
            record = false;
        }
        Ok((gallery, Serial { value: serial, record }))
    }

    /// Records that the gallery with `serial` is in use.
    pub(crate) fn accepted(&mut self, serial: Serial) -> Result<()> {
        if !serial.record {
            return Ok(());
        }
        self.serials.record(&self.key, serial.value)
    }
}

/// Reads the gallery at `path`: signed and current when `trust` is given
/// (see [`Trust::read`]); serial 0 otherwise.
pub(crate) fn read(path: &std::path::Path, trust: Option<&Trust>, downgrade: bool) -> Result<(Gallery, Serial)> {
    match trust {
        Some(t) => t.read(path, downgrade),
        None => Ok((rollcall_shared::gallery::read_file(path)?, Serial { value: 0, record: false })),
    }
}

/// Watches one gallery file.
#[derive(Debug)]
pub(crate) struct GalleryWatch {
    path: PathBuf,
    /// The version last read (used or refused).
    seen: Option<Stamp>,
}

impl GalleryWatch {
    /// Watches `path`, whose current version is the one in use.
    pub(crate) fn new(path: PathBuf) -> Self {
        let seen = stamp(&path);
        GalleryWatch { path, seen }
    }

    /// The new gallery and its serial, if the file changed since the last
    /// call: `Ok` with it, or the reason it cannot be used (an older serial
    /// among them). `None` when unchanged (or missing: a gallery being
    /// replaced by a non-atomic copy is absent for a moment, and the old
    /// one serves meanwhile).
    pub(crate) fn changed(&mut self, trust: Option<&Trust>) -> Option<Result<(Gallery, Serial)>> {
        let now = stamp(&self.path)?;
        if self.seen == Some(now) {
            return None;
        }
        self.seen = Some(now);
        Some(read(&self.path, trust, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_read_once_and_a_bad_one_is_refused_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("g.rcg");
        let tiny = std::fs::read(rollcall_testkit::tiny_gallery()).expect("tiny");
        std::fs::write(&path, &tiny).expect("write");
        let mut w = GalleryWatch::new(path.clone());
        assert!(w.changed(None).is_none(), "the version in use is not a change");
        let replace = |bytes: &[u8]| {
            let tmp = dir.path().join("tmp");
            std::fs::write(&tmp, bytes).expect("write");
            std::fs::rename(&tmp, &path).expect("rename");
        };
        replace(b"not a gallery");
        let err = w.changed(None).expect("a change").expect_err("refused");
        assert!(err.chain().contains("g.rcg"), "{}", err.chain());
        assert!(w.changed(None).is_none(), "refused once, not every frame");
        replace(&tiny);
        assert!(w.changed(None).expect("a change").is_ok());
        std::fs::remove_file(&path).expect("remove");
        assert!(w.changed(None).is_none(), "a missing file keeps the old gallery");
    }
}
