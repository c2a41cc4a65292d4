//! `rollcall keygen --out KEY`: a key pair for signing galleries.

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::keys;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Secret key file to create (owner-only); the public key goes beside it as KEY.pub
    #[arg(long, short)]
    out: PathBuf,
}

pub(super) fn run(a: Args) -> Result<()> {
    let (key, public) = keys::generate(&a.out)?;
    say!("wrote {} (secret: keep it off the device) and {} (public key {})", a.out.display(), public.display(), key.public().short());
    say!("sign with `rollcall export MODEL --sign {}`; trust with `rollcall-device --trust {}`", a.out.display(), public.display());
    Ok(())
}
