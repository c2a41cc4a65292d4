//! Updating the gallery without a restart: the device notices when its
//! gallery file is replaced and reads the new one between frames.
//!
//! The file is polled, not watched: one `stat` a frame costs nothing next
//! to a frame, works on every file system (a gallery copied over `scp` or
//! `rsync`, an NFS mount), and needs no extra thread. A change is any
//! difference in modification time, size or inode (an atomic rename makes
//! a new inode even within the same second). A new file gets the checks the
//! one at start got (format, checksum, signature when a key is trusted);
//! the recognizer then checks the models. One that fails is refused once,
//! with the reason, and the old gallery stays in use until the file changes
//! again.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Result;
use rollcall_shared::gallery::Gallery;
use rollcall_shared::signature::PublicKey;

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

/// Watches one gallery file.
#[derive(Debug)]
pub struct GalleryWatch {
    path: PathBuf,
    trust: Option<PublicKey>,
    /// The version last read (used or refused).
    seen: Option<Stamp>,
}

impl GalleryWatch {
    /// Watches `path`, whose current version is the one in use.
    pub fn new(path: PathBuf, trust: Option<PublicKey>) -> Self {
        let seen = stamp(&path);
        GalleryWatch { path, trust, seen }
    }

    /// The new gallery, if the file changed since the last call: `Ok` with
    /// it, or the reason it cannot be used. `None` when unchanged (or
    /// missing: a gallery being replaced by a non-atomic copy is absent for
    /// a moment, and the old one serves meanwhile).
    pub fn changed(&mut self) -> Option<Result<Gallery>> {
        let now = stamp(&self.path)?;
        if self.seen == Some(now) {
            return None;
        }
        self.seen = Some(now);
        Some(
            rollcall_shared::gallery::read_file_trusted(&self.path, self.trust.as_ref())
                .map_err(|e| anyhow::Error::new(e).context(format!("new gallery {}", rollcall_files::shown(&self.path)))),
        )
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
        let mut w = GalleryWatch::new(path.clone(), None);
        assert!(w.changed().is_none(), "the version in use is not a change");
        let replace = |bytes: &[u8]| {
            let tmp = dir.path().join("tmp");
            std::fs::write(&tmp, bytes).expect("write");
            std::fs::rename(&tmp, &path).expect("rename");
        };
        replace(b"not a gallery");
        let err = w.changed().expect("a change").expect_err("refused");
        assert!(format!("{err:#}").contains("g.rcg"), "{err:#}");
        assert!(w.changed().is_none(), "refused once, not every frame");
        replace(&tiny);
        assert!(w.changed().expect("a change").is_ok());
        std::fs::remove_file(&path).expect("remove");
        assert!(w.changed().is_none(), "a missing file keeps the old gallery");
    }
}
