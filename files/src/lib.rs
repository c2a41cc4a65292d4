//! Careful file handling shared by every rollcall crate.
//!
//! - [`write_atomic`]: a file appears whole or not at all (temporary file in
//!   the same folder, flushed, renamed over the target);
//! - [`sha256_file`]: a file's digest without reading it all into memory;
//! - [`photos`]: every photo under a folder, once, whatever its links;
//! - [`owned`]: the folders rollcall owns, and the lock on them;
//! - [`names`]: output names that fit any filesystem;
//! - [`shown`]: paths as they may safely reach a terminal;
//! - [`interrupt`]: Ctrl-C as a request to stop at the next safe point.

// Other crates build on this one: its public API is documented.
#![warn(missing_docs)]

pub mod interrupt;
pub mod names;
pub mod owned;
pub mod photos;
pub mod shown;

pub use shown::{shown, shown_str};

/// The prefix of every temporary file rollcall writes (a killed run may
/// leave one; the next command in that folder removes it).
pub const TEMP_PREFIX: &str = ".rollcall-tmp";

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The permission bits of every file rollcall writes: its outputs hold
/// children's faces and what can be learned from them, so they are the
/// owner's alone, whatever the umask.
pub const PRIVATE_FILE: u32 = 0o600;

/// The permission bits of every folder rollcall makes (see [`PRIVATE_FILE`]).
pub const PRIVATE_DIR: u32 = 0o700;

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, creating the folder if needed, so that a reader (or a run cut
/// short) never sees half a file. The file is owner-only
/// ([`PRIVATE_FILE`]), and so is every folder made for it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with_mode(path, bytes, PRIVATE_FILE)
}

/// Makes `dir` and any missing parent, each owner-only ([`PRIVATE_DIR`]);
/// folders that already exist are left as they are (they are the user's).
pub fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR);
    builder.create(dir)
}

/// Writes `bytes` to a new file at `path` in place, owner-only from its
/// first byte ([`PRIVATE_FILE`]): for files in a staging folder of
/// rollcall's own, which nobody reads until it is renamed into place.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE);
    options.open(path)?.write_all(bytes)
}

/// [`write_atomic`] with the file's permission bits from the start (a
/// private file is never readable by others, not even for a moment). The
/// umask can only take bits away, so the file never has more than `mode`.
pub fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_private(dir)?;
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    let mut tmp = builder.prefix(TEMP_PREFIX).tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The hex sha256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f: File = rollcall_shared::regular::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(rollcall_shared::digest::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("f.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        assert_eq!(sha256_file(&p).unwrap(), rollcall_shared::digest::sha256_hex(b"second"));
    }
}
