//! `rollcall keygen [NAME] [--out KEY]`: a key pair for signing galleries,
//! kept where ssh would keep it (see `keys::default_dir`), never in a git
//! work tree.

use std::path::PathBuf;

use anyhow::{Result, bail};
use rollcall_cli::say;
use rollcall_host::artifacts::keys;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The key's name: the pair is NAME and NAME.pub in ~/.config/rollcall/keys ($ROLLCALL_KEYS_DIR)
    #[arg(default_value = "school")]
    name: String,
    /// Write the secret key to this file instead (owner-only; not inside a git work tree); the public key goes beside it as KEY.pub
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub(super) fn run(a: Args) -> Result<()> {
    let secret = match &a.out {
        Some(out) => out.clone(),
        None => {
            if a.name.is_empty() || a.name.contains(['/', '\\']) || a.name.starts_with('.') {
                bail!("`{}` is not a key name (use --out for a path)", rollcall_files::shown_str(&a.name));
            }
            let Some(dir) = keys::default_dir() else { bail!("no home folder to keep keys in (set HOME, or give --out)") };
            dir.join(&a.name)
        }
    };
    if let Some(repo) = keys::git_work_tree(&secret) {
        return Err(rollcall_host::Error::KeyInWorkTree { path: secret, repo, default: keys::default_dir() }.into());
    }
    let (key, public) = keys::generate(&secret)?;
    say!("wrote {} (secret: keep it off the device) and {} (public key {})", secret.display(), public.display(), key.public().short());
    let sign = match &a.out {
        Some(out) => rollcall_cli::shell_word(out),
        None => rollcall_cli::shell_word(std::path::Path::new(&a.name)),
    };
    rollcall_cli::next_steps(&[
        format!("sign a gallery: rollcall export MODEL --out gallery.rcg --sign {sign}"),
        format!(
            "on the device, trust it: copy {} to /etc/rollcall/ and set `trust` in /etc/rollcall/device.toml",
            rollcall_cli::shell_word(&public)
        ),
    ]);
    Ok(())
}
