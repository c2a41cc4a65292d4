//! `rollcall cluster WORK`

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::stages::cluster::{self, ClusterOptions};

use super::Global;
use super::common::{ClusterArgs, print_clusters, threshold};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    work: PathBuf,
    /// Number of people [default: the recommended k]
    #[arg(long, value_parser = rollcall_cli::range(2usize, 1_000_000))]
    k: Option<usize>,
    /// Same-person cosine threshold for finding outliers [default: the recognizer's]
    #[arg(long, value_parser = rollcall_cli::range(-1.0f32, 1.0))]
    threshold: Option<f32>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let work = Work::new(a.work).open()?;
    let t = threshold(g, &work, a.threshold)?;
    let outcome = cluster::cluster(&work, t, &ClusterOptions { k: a.k, force: a.cluster.force, ..ClusterOptions::default() })?;
    print_clusters(&outcome, &work);
    let report = rollcall_host::write_report(&work)?;
    say!("report: {}", report.display());
    super::common::next_after_clustering(work.root());
    Ok(())
}
