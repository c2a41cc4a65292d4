//! `rollcall run PHOTOS --out WORK`: the whole pipeline.

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::stages::cluster::ClusterOptions;

use super::Global;
use super::common::{ClusterArgs, KArgs, next_after_clustering, print_clusters, print_detect_summary, print_selection};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Photos, work directory, models and detection, as for `detect`.
    #[command(flatten)]
    detect: super::detect::Args,
    #[command(flatten)]
    k: KArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let super::detect::Args { io, models, detect } = a.detect;
    let opts = RunOptions {
        jobs: models.jobs(),
        detect: detect.options(&models, !io.no_annotate),
        select_k: a.k.options(),
        cluster: ClusterOptions { force: a.cluster.force, ..ClusterOptions::default() },
        threshold: a.k.threshold,
    };
    let models = models.load(g)?;
    // Nothing is made for a photo folder that is not there.
    rollcall_files::photos::check_exists(&io.photos)?;
    let work = Work::new(&io.out).claim()?;
    let o = pipeline::run(&io.photos, &work, models.as_ref(), &opts)?;
    print_detect_summary(&o.detect, &io.out);
    say!("embedded {} faces ({}-d) into {}", o.table.len(), o.table.dim, work.embeddings().display());
    let (Some(sel), Some(clusters), Some(report)) = (&o.selection, &o.clusters, &o.report) else {
        say!("too few faces to look for people; stopping after embedding");
        rollcall_cli::next_steps(&["add photos with more faces, then run again with the same --out".to_string()]);
        return Ok(());
    };
    print_selection(sel, &work);
    print_clusters(clusters, &work);
    say!("report: {}", report.display());
    next_after_clustering(&io.out);
    Ok(())
}
