//! `rollcall review WORK [--port P] [--no-open]`: name the people in a
//! browser; the page's "Train and export" button does what `rollcall train
//! WORK/clusters --out WORK/model` and `rollcall export WORK/model --out
//! WORK/gallery.rcg` do.

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::review::{self, Review};

use super::Global;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Work directory of `rollcall run`
    work: PathBuf,
    /// Port on 127.0.0.1 (0: any free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Do not open the browser
    #[arg(long)]
    no_open: bool,
    /// Sign the gallery the page's "Train and export" writes with this secret key (from `rollcall keygen`)
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let work = Work::new(&a.work);
    // Refuses a folder that is not a work directory, and says if another
    // command holds it.
    drop(work.open()?);
    let table = rollcall_host::artifacts::embeddings::EmbeddingTable::read(&work.embeddings()).ok();
    let threshold = table.as_ref().and_then(|t| super::common::published_same_person(g, t));
    let catalog = g.models.clone();
    let published = move |recognizer: &str| catalog.same_person_cosine(recognizer).ok().flatten();
    let models = g.models.clone();
    let load = move || models.load(None, None).map_err(|e| rollcall_host::Error::LoadModels(e.into()));
    let key = super::common::signing_key(a.sign.as_deref())?;
    let trainer = review::trainer(published, load, key);
    let server = review::bind(a.port)?;
    let port = server.local_addr().map_or(a.port, |s| s.port());
    let session = std::sync::Arc::new(Review::new(work, port, threshold, Some(trainer))?);
    rollcall_cli::out!("review {} at {}", a.work.display(), session.url());
    say!("(only this machine, in the tab it opens, can use it; press Ctrl-C to stop)");
    let w = rollcall_cli::shell_word(&a.work);
    rollcall_cli::next_steps(&[
        "when everyone is named, press \"Train and export\" on the page".to_string(),
        format!("(or stop here with Ctrl-C and run: rollcall train {w}/clusters --out {w}/model)"),
    ]);
    // Ctrl-C and SIGTERM are caught from here on, before the launch page
    // exists, so that either removes it.
    let server = review::server(session.clone(), server)?;
    // The browser gets a file only this user can read, never the key:
    // command lines are visible to every local user.
    let launch = if a.no_open {
        None
    } else {
        let (dir, page) = session.write_launch_file()?;
        let _ = std::process::Command::new("xdg-open")
            .arg(&page)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        Some(dir)
    };
    server.run();
    // Ctrl-C or SIGTERM: the launch page's folder goes with the guard,
    // before the process ends (a second Ctrl-C would end it without
    // destructors).
    drop(launch);
    say!("review stopped; the names given so far are saved in {}", a.work.join("clusters").display());
    Ok(())
}
