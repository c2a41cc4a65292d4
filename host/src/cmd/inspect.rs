//! `rollcall inspect GALLERY`: what a gallery file holds and who signed it.

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::out;
use rollcall_host::artifacts::keys;
use rollcall_host::stages::export;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Gallery file (.rcg)
    gallery: PathBuf,
    /// Check the signature against this public key, as `rollcall-device --trust` would
    #[arg(long, value_name = "KEY.pub")]
    trust: Option<PathBuf>,
}

/// A Unix time as a UTC date, for people.
fn date(unix: u64) -> String {
    chrono::DateTime::from_timestamp(unix as i64, 0).map_or_else(|| unix.to_string(), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

pub(super) fn run(a: Args) -> Result<()> {
    let key = a.trust.as_deref().map(keys::read_public).transpose()?;
    let i = export::inspect(&a.gallery, key.as_ref())?;
    let g = &i.gallery;
    out!("{}: rollcall gallery, {} bytes", a.gallery.display(), i.bytes);
    out!("people ({}): {}", g.people(), g.labels.join(", "));
    out!("reference faces: {}; embeddings {}-d; default classifier {}", g.knn_labels.len(), g.dim, g.default_classifier.name());
    out!(
        "created {} by {} from {} faces{}",
        date(g.created.unix_seconds),
        g.created.tool,
        g.created.faces,
        if g.created.note.is_empty() { String::new() } else { format!(" ({})", g.created.note) }
    );
    match &i.claim {
        None => out!("signature: none (a device with --trust refuses it)"),
        Some(c) => {
            out!("signature: key {}, serial {} ({})", c.signer_short(), c.serial, date(c.serial));
            if export::ahead_of_clock(c.serial) {
                tracing::warn!(
                    "serial {} ({}) is more than a day ahead of this machine's clock: it was signed with a wrong clock (or this \
                     clock is wrong), and a device with a synchronised clock refuses it; export it again with a right clock \
                     (`rollcall export --sign KEY --reset-serial`)",
                    c.serial,
                    date(c.serial)
                );
            }
        }
    }
    match (&i.verified, &a.trust) {
        (Some(Ok(())), Some(p)) => out!("verified with {}", p.display()),
        (Some(Err(e)), Some(p)) => anyhow::bail!("{}: not trusted by {}: {e}", a.gallery.display(), p.display()),
        _ => {}
    }
    Ok(())
}
