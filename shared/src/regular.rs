//! Reading a file that must be a file: every file rollcall reads goes
//! through [`open`] or [`read`].
//!
//! A path may name a FIFO, a device or a link to one (`/dev/zero`). Opening
//! a FIFO blocks until someone writes to it; a device reports length 0 and
//! never ends. So the file is opened without blocking, checked to be a
//! regular file *on the opened handle* (a check of the path, then an open,
//! leaves a window for a swap), and read with a hard cap.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum RegularError {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A FIFO, a device, a socket or a folder.
    #[error("not a regular file (a {0})")]
    NotAFile(&'static str),
    /// Larger than anything of its kind should be.
    #[error("larger than {cap} bytes, more than a {what} should be")]
    TooLarge {
        /// The cap, in bytes.
        cap: u64,
        /// What the file was read as.
        what: &'static str,
    },
}

impl From<RegularError> for std::io::Error {
    fn from(e: RegularError) -> Self {
        match e {
            RegularError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_dir() { "folder" } else { "special file" }
}

/// Opens `path` (following links) for reading, and checks on the handle
/// that it is a regular file. Never blocks on a FIFO.
pub fn open(path: &Path) -> Result<File, RegularError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(RegularError::NotAFile(kind_of(t)));
    }
    // O_NONBLOCK means nothing to a regular file's reads, which is all
    // that is left once the check passed.
    Ok(file)
}

/// Reads all of `path`, which must be a regular file of at most `cap`
/// bytes (`what` names the kind of file in the error).
pub fn read(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, RegularError> {
    let file = open(path)?;
    let len = file.metadata()?.len();
    if len > cap {
        return Err(RegularError::TooLarge { cap, what });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The cap holds even if the file grows after the length was read.
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(RegularError::TooLarge { cap, what });
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, cap: u64, what: &'static str) -> Result<String, RegularError> {
    let bytes = read(path, cap, what)?;
    String::from_utf8(bytes).map_err(|_| RegularError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")))
}

/// Caps by kind of file: far above anything real, far below what would
/// exhaust a Pi.
pub mod cap {
    /// A photo (a 200 MP JPEG is about 100 MiB).
    pub const PHOTO: u64 = 256 << 20;
    /// A gallery (30 people with 50 f32 references each is under 1 MiB).
    pub const GALLERY: u64 = 64 << 20;
    /// A key file, a settings file, a password file.
    pub const SMALL_TEXT: u64 = 1 << 20;
    /// A CSV or JSON artifact, a cache.
    pub const TABLE: u64 = 1 << 30;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_capped() {
        let dir = std::env::temp_dir().join(format!("rollcall-regular-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("f");
        std::fs::write(&f, b"12345").expect("write");
        assert_eq!(read(&f, 5, "test").expect("read"), b"12345");
        assert!(matches!(read(&f, 4, "test"), Err(RegularError::TooLarge { cap: 4, .. })));
        assert!(matches!(read(&dir, 100, "test"), Err(RegularError::NotAFile("folder"))));
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_links_to_them_are_refused_without_reading() {
        assert!(matches!(read(Path::new("/dev/zero"), 1 << 20, "test"), Err(RegularError::NotAFile("device"))));
        let dir = std::env::temp_dir().join(format!("rollcall-regular-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let link = dir.join("zero.jpg");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev/zero", &link).expect("link");
        assert!(matches!(open(&link), Err(RegularError::NotAFile("device"))));
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
