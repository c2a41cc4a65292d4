//! Signing keys (`rollcall keygen`): `KEY`, the secret, readable by its
//! owner only, and `KEY.pub`, the public key a device is told to trust.
//! The text formats are `rollcall_shared::signature`'s.

use std::io::Write;
use std::path::{Path, PathBuf};

use rollcall_shared::signature::{PublicKey, SecretKey};

use crate::error::{Error, Result};

/// Where keys live when no path is given, as ssh keeps its keys in
/// `~/.ssh`: `$ROLLCALL_KEYS_DIR`, else `$XDG_CONFIG_HOME/rollcall/keys`,
/// else `~/.config/rollcall/keys`; out of any work tree a `git add .` would
/// commit.
pub fn default_dir() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("ROLLCALL_KEYS_DIR")
        .or_else(|| env("XDG_CONFIG_HOME").map(|c| c.join("rollcall").join("keys")))
        .or_else(|| env("HOME").map(|h| h.join(".config").join("rollcall").join("keys")))
}

/// The key file `arg` means: `arg` itself when it is a path or a file here,
/// else the key of that name in [`default_dir`] (`--sign school`).
pub fn resolve(arg: &Path) -> PathBuf {
    let bare = arg.components().count() == 1 && !arg.exists();
    match default_dir().map(|d| d.join(arg)) {
        Some(kept) if bare && kept.exists() => kept,
        _ => arg.to_path_buf(),
    }
}

/// The git work tree `path` would be in (a folder above it holds `.git`),
/// if any: a secret key there is one `git add .` away from a repository.
/// The path is looked at as written and as it resolves: a link on the way
/// (a `~/.config/rollcall` that a dotfile manager links into a repository)
/// leads into the work tree all the same.
pub fn git_work_tree(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let in_tree = |p: &Path| p.ancestors().skip(1).find(|dir| dir.join(".git").exists()).map(Path::to_path_buf);
    // The deepest folder that exists, resolved, with the rest of the path.
    let resolved = absolute.ancestors().find_map(|a| {
        let real = std::fs::canonicalize(a).ok()?;
        Some(real.join(absolute.strip_prefix(a).ok()?))
    });
    in_tree(&absolute).or_else(|| resolved.as_deref().and_then(in_tree))
}

/// The public key file beside the secret one.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_os_string();
    name.push(".pub");
    PathBuf::from(name)
}

/// Makes a new key pair at `secret` and `secret.pub`. Neither may exist:
/// a key is never overwritten (the galleries it signed would be orphaned).
pub fn generate(secret: &Path) -> Result<(SecretKey, PathBuf)> {
    let public = public_path(secret);
    for p in [secret, public.as_path()] {
        if p.exists() {
            return Err(Error::Exists { path: p.to_path_buf(), what: "a key file" });
        }
    }
    if let Some(dir) = secret.parent().filter(|d| !d.as_os_str().is_empty()) {
        rollcall_files::create_dir_private(dir).map_err(Error::write(dir))?;
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::write(secret)(std::io::Error::other(e.to_string())))?;
    let key = SecretKey::from_seed(&seed);
    seed.fill(0);
    write_new(secret, key.to_text().as_bytes(), 0o600)?;
    write_new(&public, key.public().to_text().as_bytes(), 0o644)?;
    Ok((key, public))
}

/// Creates `path` (which must not exist) with `mode`, from the first byte:
/// a secret is never readable by others, not even for a moment.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(path).map_err(Error::write(path))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(Error::write(path))
}

fn read_text(path: &Path) -> Result<String> {
    use rollcall_shared::regular;
    regular::read_to_string(path, regular::cap::SMALL_TEXT, "key file").map_err(|e| Error::read(path)(e.into()))
}

/// Reads a secret key file.
pub fn read_secret(path: &Path) -> Result<SecretKey> {
    SecretKey::parse(&read_text(path)?).map_err(|source| Error::Key { path: path.to_path_buf(), source })
}

/// The permission bits of a secret key file that others can read (as ssh
/// refuses such a key, rollcall warns); `None` when it is private.
pub fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Reads a public key file.
pub fn read_public(path: &Path) -> Result<PublicKey> {
    PublicKey::parse(&read_text(path)?).map_err(|source| Error::Key { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_pair_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("school");
        let (key, public) = generate(&secret).expect("keygen");
        assert_eq!(public, dir.path().join("school.pub"));
        assert_eq!(read_public(&public).expect("public"), key.public());
        assert_eq!(read_secret(&secret).expect("secret").public(), key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&secret).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let before = std::fs::read(&secret).expect("read");
        assert!(matches!(generate(&secret), Err(Error::Exists { .. })));
        assert_eq!(std::fs::read(&secret).expect("read"), before);
        assert!(matches!(read_public(&secret), Err(Error::Key { .. })), "a secret file is not a public key");
        assert_eq!(readable_by_others(&secret), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert_eq!(readable_by_others(&secret), Some(0o644));
        }
    }
}
