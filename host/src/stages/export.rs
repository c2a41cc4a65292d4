//! Stage 7, export: the gallery a device loads.
//!
//! Reads: `model.rcg` in a model folder (written by `train`, full
//! precision). Writes: the gallery file, with reference embeddings stored
//! compactly (`i8` by default: on the shared photos it changes no
//! prediction, see `tests/tests/recognition.rs`; `f16` or `f32` on request)
//! and provenance filled in, signed with the school's key when asked. The
//! formats are `rollcall_shared::gallery` and `rollcall_shared::signature`.

use std::path::Path;

use rollcall_shared::gallery::{Gallery, VectorForm, Vectors};
use rollcall_shared::signature::SecretKey;

use crate::artifacts::io::replace_own;
use crate::artifacts::training::ModelDir;
use crate::error::{Error, Result};

/// Re-stores a gallery's reference vectors in `form`.
pub fn with_form(g: &Gallery, form: VectorForm) -> Gallery {
    let d = g.dim as usize;
    let restore = |v: &Vectors, rows: usize| -> Vectors {
        let mut all = vec![0f32; rows * d];
        for r in 0..rows {
            v.row_into(r, d, &mut all[r * d..(r + 1) * d]);
        }
        Vectors::encode(&all, d, form)
    };
    let mut out = g.clone();
    out.centroids = restore(&g.centroids, g.people());
    out.knn_refs = restore(&g.knn_refs, g.knn_labels.len());
    out
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub bytes: usize,
    /// People in the gallery.
    pub people: usize,
    /// Reference faces in it.
    pub references: usize,
    /// The signing key (hex prefix of its public half), if signed.
    pub signed_by: Option<String>,
    /// The signature's serial, if signed.
    pub serial: Option<u64>,
}

/// Writes the gallery of a model folder.
pub fn export(model: &ModelDir, out: &Path, form: VectorForm, note: &str) -> Result<Exported> {
    export_signed(model, out, form, note, None, false)
}

/// [`export`], signed with `key` when given (see
/// `rollcall_shared::signature`): a device told to trust the key's public
/// half accepts no other gallery. `reset_serial`: the clock is right now,
/// and the serial this machine last signed came from a wrong clock (see
/// [`next_serial`]).
pub fn export_signed(
    model: &ModelDir,
    out: &Path,
    form: VectorForm,
    note: &str,
    key: Option<&SecretKey>,
    reset_serial: bool,
) -> Result<Exported> {
    write_gallery(&model.read_gallery()?, out, form, note, key, reset_serial)
}

/// Stores `g`'s references in `form`, stamps provenance, signs with `key`
/// if given (`reset_serial` as for [`export_signed`]), writes `out`.
pub fn write_gallery(
    g: &Gallery,
    out: &Path,
    form: VectorForm,
    note: &str,
    key: Option<&SecretKey>,
    reset_serial: bool,
) -> Result<Exported> {
    let signing = Signing { reset_serial, record: SignedSerials::path(), now: now_secs() };
    write_at(g, out, form, note, key, &signing)
}

/// How a gallery is signed: the clock, the record of the serials signed
/// on this machine, whether to reset the serial.
struct Signing {
    reset_serial: bool,
    record: Option<std::path::PathBuf>,
    now: u64,
}

/// [`write_gallery`] at `signing.now`, recording in `signing.record`.
fn write_at(g: &Gallery, out: &Path, form: VectorForm, note: &str, key: Option<&SecretKey>, signing: &Signing) -> Result<Exported> {
    let (now, reset_serial, record) = (signing.now, signing.reset_serial, signing.record.clone());
    let mut g = with_form(g, form);
    g.created.unix_seconds = now;
    g.created.tool = format!("rollcall {}", env!("CARGO_PKG_VERSION"));
    g.created.note = note.to_string();
    let mut bytes = g.encode().map_err(|source| Error::Gallery { path: out.to_path_buf(), source })?;
    let mut serial = None;
    let mut signed = record.as_deref().filter(|_| key.is_some()).map(SignedSerials::read).unwrap_or_default();
    if let Some(key) = key {
        let last = signed.keys.get(&key.public().hex()).copied();
        let previous = previous_serial(out, key);
        let next = next_serial(now, last, previous, reset_serial)?;
        if let Some(warning) = far_ahead(now, last, previous) {
            tracing::warn!("{warning}");
        }
        bytes = key.sign(&bytes, next);
        serial = Some(next);
    }
    replace_own(out, &bytes, "a rollcall gallery", |head| head.starts_with(&rollcall_shared::gallery::MAGIC))?;
    if let (Some(key), Some(next), Some(record)) = (key, serial, record.as_deref()) {
        signed.keys.insert(key.public().hex(), LastSigned { serial: next, clock: now });
        // A record that cannot be written costs the check, not the gallery.
        if let Err(e) = signed.write(record) {
            tracing::warn!("cannot record the serial signed in {}: {e}", record.display());
        }
    }
    Ok(Exported {
        bytes: bytes.len(),
        people: g.people(),
        references: g.knn_labels.len(),
        signed_by: key.map(|k| k.public().short()),
        serial,
    })
}

/// The system clock, in seconds since the epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// How far ahead of its synchronised clock a device accepts a serial: a
/// day (`rollcall-device` refuses more).
pub const MAX_AHEAD: u64 = 86_400;

/// A serial (seconds since the epoch) as a UTC date, for people.
pub fn serial_date(serial: u64) -> String {
    i64::try_from(serial)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(|| serial.to_string(), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// Whether a device with a synchronised clock refuses `serial` now: more
/// than [`MAX_AHEAD`] ahead of this machine's clock.
pub fn ahead_of_clock(serial: u64) -> bool {
    serial > now_secs().saturating_add(MAX_AHEAD)
}

/// The serial the gallery at `out` carries, when `key` signed it.
fn previous_serial(out: &Path, key: &SecretKey) -> Option<u64> {
    rollcall_shared::gallery::read_bytes(out)
        .ok()
        .and_then(|bytes| Gallery::signature_claim(&bytes).ok().flatten())
        .filter(|claim| claim.signer == key.public().bytes())
        .map(|claim| claim.serial)
}

/// The last serial a key signed on this machine, and the clock then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct LastSigned {
    serial: u64,
    clock: u64,
}

/// `signed-serials.json` in the user's state folder (0600 in a 0700
/// folder): per key (its 64 hex digits), the last serial signed here.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SignedSerials {
    keys: std::collections::BTreeMap<String, LastSigned>,
}

impl SignedSerials {
    /// `$XDG_STATE_HOME/rollcall/signed-serials.json`, else under
    /// `~/.local/state`.
    fn path() -> Option<std::path::PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| std::path::PathBuf::from(h).join(".local/state")))?;
        Some(base.join("rollcall").join("signed-serials.json"))
    }

    /// The record at `path`; none (or unreadable, with a warning) is empty.
    fn read(path: &Path) -> SignedSerials {
        match rollcall_shared::regular::read(path, rollcall_shared::regular::cap::SMALL_TEXT, "state file") {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("{}: not a record of signed serials ({e}); starting afresh", path.display());
                SignedSerials::default()
            }),
            Err(rollcall_shared::regular::RegularError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => SignedSerials::default(),
            Err(e) => {
                tracing::warn!("cannot read {}: {e}; starting afresh", path.display());
                SignedSerials::default()
            }
        }
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent()
            && !dir.exists()
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        rollcall_files::write_atomic_with_mode(path, &bytes, 0o600)
    }
}

/// The serial for a gallery signed at `now` by a key that last signed
/// `last` on this machine, over a gallery it signed with serial
/// `previous`: the signing time in seconds, so that galleries signed later
/// rank higher wherever they were signed, and above both (two exports in
/// one second, a second laptop's clock a little behind), so that a device
/// never sees a new gallery rank below the one it replaces.
///
/// A serial is a time, and one from a wrong clock locks devices out: a
/// laptop that read 2100 once signed a serial no honest gallery could beat
/// for decades. So a clock before the one of the last signing here is
/// refused (it was set back, or the last signing was ahead), and so is a
/// gallery at `out` more than a day ahead of the clock (signing above it
/// would carry its wrong time on). `reset_serial` says the clock is right
/// now: the serial is the clock's, whatever came before (a device that
/// accepted the wrong one then goes back with `--allow-downgrade`).
fn next_serial(now: u64, last: Option<LastSigned>, previous: Option<u64>, reset_serial: bool) -> Result<u64> {
    if reset_serial {
        return Ok(now);
    }
    let reset = "if the clock is right now, and that serial came from a wrong clock, export once with \
                 `rollcall export MODEL --sign KEY --reset-serial` (then start each device that accepted it once with \
                 `rollcall-device --allow-downgrade`)";
    if let Some(last) = last
        && now < last.clock
    {
        return Err(Error::Setting {
            name: "the clock",
            value: serial_date(now),
            reason: format!(
                "before the time this key last signed a gallery on this machine ({}, serial {}): fix the clock; {reset}",
                serial_date(last.clock),
                last.serial
            ),
        });
    }
    if let Some(p) = previous
        && p > now.saturating_add(MAX_AHEAD)
    {
        return Err(Error::Setting {
            name: "the clock",
            value: serial_date(now),
            reason: format!(
                "the gallery being replaced carries serial {p} ({}), more than a day ahead: it was signed with a wrong clock, \
                 and a device with a synchronised clock refuses it; {reset}",
                serial_date(p)
            ),
        });
    }
    let above = |s: Option<u64>| s.map_or(0, |s| s.saturating_add(1));
    Ok(now.max(above(last.map(|l| l.serial))).max(above(previous)))
}

/// The day this code was written: a clock more than ten years after it,
/// with nothing signed before to compare with, is worth a word.
const WRITTEN: u64 = 1_796_083_200;

/// A warning when `now` looks far in the future: more than a year after the
/// last signing here or the gallery replaced, or, with neither, more than
/// ten years after [`WRITTEN`]. A device that accepts a serial from the
/// future refuses every honest gallery until then.
fn far_ahead(now: u64, last: Option<LastSigned>, previous: Option<u64>) -> Option<String> {
    const YEAR: u64 = 366 * 86_400;
    let reference = last.map(|l| l.clock).max(previous);
    let (limit, since) = match reference {
        Some(r) => (r.saturating_add(YEAR), format!("more than a year after the last gallery signed ({})", serial_date(r))),
        None => (WRITTEN.saturating_add(10 * YEAR), "more than ten years after this version of rollcall was made".to_string()),
    };
    (now > limit).then(|| {
        format!(
            "the clock reads {}, {since}: if that is wrong, fix the clock and export again before copying this gallery \
             to a device (a device that accepts a serial from the future refuses every gallery signed before it)",
            serial_date(now)
        )
    })
}

/// What `rollcall inspect` shows of a gallery file.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub gallery: Gallery,
    pub bytes: usize,
    /// The signature's claim (signer, serial); `None` when unsigned.
    pub claim: Option<rollcall_shared::signature::Claim>,
    /// With a key to check against: whether the signature verifies.
    pub verified: Option<std::result::Result<(), rollcall_shared::signature::SignatureError>>,
}

/// Reads a gallery file and its signature; verifies the signature when
/// given the key a device would trust.
pub fn inspect(path: &Path, trusted: Option<&rollcall_shared::signature::PublicKey>) -> Result<Inspection> {
    let bytes = rollcall_shared::gallery::read_bytes(path).map_err(|e| match e {
        rollcall_shared::gallery::FileError::Read { source, .. } => Error::read(path)(source.into()),
        rollcall_shared::gallery::FileError::Invalid { source, .. } => Error::Gallery { path: path.to_path_buf(), source },
        folder @ rollcall_shared::gallery::FileError::Folder { .. } => Error::GalleryFile(folder),
    })?;
    let invalid = |source| Error::Gallery { path: path.to_path_buf(), source };
    let gallery = Gallery::decode(&bytes).map_err(invalid)?;
    let claim = Gallery::signature_claim(&bytes).map_err(invalid)?;
    let verified = trusted.map(|key| {
        Gallery::decode_verified(&bytes, key).map(|_| ()).map_err(|e| match e {
            rollcall_shared::gallery::GalleryError::Signature(s) => s,
            _ => rollcall_shared::signature::SignatureError::BadSignature,
        })
    });
    Ok(Inspection { gallery, bytes: bytes.len(), claim, verified })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06 and 2100-01-01, as serials.
    const TODAY: u64 = 1_796_500_000;
    const Y2100: u64 = 4_102_444_800;

    fn tiny() -> Gallery {
        rollcall_shared::gallery::read_file(&rollcall_testkit::tiny_gallery()).expect("the tiny gallery")
    }

    /// Signs the tiny gallery into `out` at `now`, recording in `record`.
    fn sign(out: &Path, record: &Path, now: u64, reset_serial: bool) -> Result<Exported> {
        let key = SecretKey::from_seed(&[5; 32]);
        let signing = Signing { reset_serial, record: Some(record.to_path_buf()), now };
        write_at(&tiny(), out, VectorForm::I8, "test", Some(&key), &signing)
    }

    /// One export from a laptop whose clock read 2100 signed serial
    /// 4102444800, and every later export on that laptop signed above it
    /// (the gallery it replaced carried it), so the devices that accepted
    /// it refused every honest gallery. `export` now keeps the last serial
    /// and clock per key (0600), refuses a clock before it, refuses to sign
    /// above a gallery from more than a day ahead, warns of a clock far in
    /// the future, and `--reset-serial` signs with the clock's time.
    #[test]
    fn regression_a_laptop_clock_in_2100_signed_serials_no_gallery_could_beat() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let (out, record) = (dir.path().join("g.rcg"), dir.path().join("state/rollcall/signed-serials.json"));
        sign(&out, &record, TODAY, false).expect("today");
        assert_eq!(std::fs::metadata(&record).expect("record").permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(record.parent().expect("dir")).expect("dir").permissions().mode() & 0o777, 0o700);
        // Twice more in the same second: each above the last.
        assert_eq!(sign(&out, &record, TODAY, false).expect("again").serial, Some(TODAY + 1));
        assert_eq!(sign(&out, &record, TODAY, false).expect("again").serial, Some(TODAY + 2));

        // The clock jumps to 2100: signed (with a warning, below), then
        // set right: refused, with the way out.
        assert!(far_ahead(Y2100, Some(LastSigned { serial: TODAY + 2, clock: TODAY }), None).is_some());
        assert_eq!(sign(&out, &record, Y2100, false).expect("2100").serial, Some(Y2100));
        let e = sign(&out, &record, TODAY + 60, false).expect_err("a clock before the last signing");
        assert!(e.to_string().contains("before the time this key last signed") && e.to_string().contains("--reset-serial"), "{e}");
        // On another laptop without the record, the gallery from 2100 in
        // `out` is refused as a base too (signing above it carried 2100 on).
        let e = sign(&out, &dir.path().join("other-laptop.json"), TODAY + 60, false).expect_err("above a gallery from 2100");
        assert!(e.to_string().contains("more than a day ahead") && e.to_string().contains("--reset-serial"), "{e}");
        // The clock is right: reset, and go on from there.
        assert_eq!(sign(&out, &record, TODAY + 60, true).expect("reset").serial, Some(TODAY + 60));
        assert_eq!(sign(&out, &record, TODAY + 61, false).expect("then as usual").serial, Some(TODAY + 61));
    }

    #[test]
    fn a_clock_far_in_the_future_is_warned_about() {
        let last = Some(LastSigned { serial: TODAY, clock: TODAY });
        assert!(far_ahead(TODAY + 86_400 * 30, last, None).is_none(), "a month later");
        assert!(far_ahead(TODAY + 86_400 * 400, last, None).is_some(), "more than a year later");
        assert!(far_ahead(TODAY + 86_400 * 400, None, Some(TODAY)).is_some(), "the gallery replaced is the reference too");
        assert!(far_ahead(TODAY, None, None).is_none(), "nothing to compare: this version's date");
        assert!(far_ahead(Y2100, None, None).is_some_and(|w| w.contains("2100-01-01")));
        assert!(ahead_of_clock(Y2100) && !ahead_of_clock(now_secs()));
    }
}
