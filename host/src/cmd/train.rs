//! `rollcall train CLUSTERS --out MODEL`

use std::path::{Path, PathBuf};

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::training::{Calibration, Method, ModelDir, TrainingReport};
use rollcall_host::stages::train::{self, LearnOptions, TrainOptions};

use super::Global;
use super::common::ModelChoice;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The clusters folder (renamed by you); its parent is the work directory. Any folder of
    /// <person>/<photo or chip> works: without a work directory, every face is embedded afresh
    clusters: PathBuf,
    /// Model folder to write
    #[arg(long, short, default_value = "model")]
    out: PathBuf,
    /// Work directory holding embeddings.parquet [default: the clusters folder's parent]
    #[arg(long)]
    work: Option<PathBuf>,
    /// Folder names that are not people (names starting with `_` never are)
    #[arg(long, value_delimiter = ',', default_values_t = rollcall_host::artifacts::people::default_junk())]
    junk: Vec<String>,
    /// False-accept rate the rejection thresholds aim for
    #[arg(long, default_value_t = 0.01, value_parser = rollcall_cli::range(1e-6f32, 0.5))]
    target_far: f32,
    /// Cross-validation folds
    #[arg(long, default_value_t = 5, value_parser = rollcall_cli::range(2usize, 100))]
    folds: usize,
    /// Refuse to train while any face or folder looks like a label mistake
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    models: ModelChoice,
}

pub fn run(a: Args, g: &Global) -> Result<()> {
    let work = Work::new(a.work.clone().unwrap_or_else(|| a.clusters.parent().map(Path::to_path_buf).unwrap_or_default()));
    let mut opts = TrainOptions {
        junk: a.junk.clone(),
        learn: LearnOptions { target_far: a.target_far, folds: a.folds, ..LearnOptions::default() },
        strict: a.strict,
    };
    let (gallery, report) = if work.embeddings().is_file() {
        // The published same-person score of the recognizer that made the
        // work directory's embeddings.
        let table = rollcall_host::artifacts::embeddings::EmbeddingTable::read(&work.embeddings())?;
        opts.learn.same_person = table.recognizer.as_deref().and_then(|n| g.models.same_person_cosine(n).ok().flatten());
        let load = || a.models.load(g).map_err(|e| rollcall_host::Error::LoadModels(e.into()));
        train::train_from_work(&a.clusters, &work.open()?, &opts, &load)?
    } else {
        // Folders of photos or chips from anywhere: embed them all now.
        say!("no {} here: embedding every face in {} afresh", work.embeddings().display(), a.clusters.display());
        train::train_with_models(&a.clusters, a.models.load(g)?.as_ref(), &opts)?
    };
    train::write_model_dir(&ModelDir::new(&a.out), &gallery, &report)?;
    print_report(&report);
    say!("wrote {}", a.out.display());
    Ok(())
}

fn print_report(report: &TrainingReport) {
    say!(
        "{} people, {} faces; {}-fold cross-validation; {} of your own strangers (outliers, junk folders, bystanders):",
        report.people.len(),
        report.faces.iter().sum::<usize>(),
        report.folds,
        report.strangers
    );
    say!("  classifier  accuracy  open-set  threshold  set by        FAR seen      FAR 95% bound  FRR");
    for c in &report.classifiers {
        let Some(cal) = &c.calibration else { continue };
        say!(
            "  {:<10}  {:>8.3}  {:>8.3}  {:>9.4}  {:<12}  {:>3} of {:<5}  {:>13.4}  {:.3}",
            c.classifier.name(),
            c.accuracy,
            c.open_set_accuracy,
            cal.threshold,
            method(cal.method),
            cal.accepted,
            cal.impostors,
            cal.far_upper,
            cal.frr
        );
    }
    say!("default classifier: {} (most held-out faces accepted and named correctly)", report.default_classifier.name());
    if let Some(cal) = report.classifiers.iter().find(|c| c.classifier == report.default_classifier).and_then(|c| c.calibration.as_ref()) {
        explain(cal);
    }
    if !report.suspects.is_empty() {
        say!("faces that look like label mistakes, left out of training and calibration:");
        for s in &report.suspects {
            say!("  {}: {}", s.file.display(), s.why);
        }
    }
    for la in &report.look_alikes {
        say!(
            "  note: {} and {} look like one person (centroid cosine {:.3}); neither counts as a stranger to the other",
            la.a,
            la.b,
            la.cosine
        );
    }
    if !report.never_held_out.is_empty() {
        say!("  note: one face only, so never held out: {}", report.never_held_out.join(", "));
    }
    for s in &report.skipped {
        say!("  skipped {}: {}", s.path.display(), s.reason);
    }
}

fn method(m: Method) -> &'static str {
    match m {
        Method::Prior => "prior",
        Method::Model => "model",
        Method::HighestSeen => "highest seen",
        Method::None => "nothing",
    }
}

/// A rate as a percentage, without trailing zeros: 0.01 is "1", 0.001 is "0.1".
fn percent(rate: f64) -> String {
    let s = format!("{:.4}", rate * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the default classifier's false-accept figures rest on, in words.
fn explain(c: &Calibration) {
    let target = percent(f64::from(c.target_far));
    let model = match (&c.model, c.model_far) {
        (Some(m), Some(far)) => format!(
            "a model of {} {} scores (as good as {:.0} independent ones: they come in {} groups of the same two people) puts its false-accept rate at {:.3}%",
            m.sample.n,
            if c.per_member { "single stranger-member" } else { "whole-gallery stranger" },
            m.sample.effective,
            m.sample.groups,
            far * 100.0
        ),
        _ => "there are too few stranger scores for a model".into(),
    };
    let set_by = match c.method {
        Method::Prior => {
            "the recognizer's published same-person score, on this classifier's scale and raised for the gallery's size (the model of stranger scores asked for less)"
        }
        Method::Model => "the model of stranger scores",
        Method::HighestSeen => "the highest stranger score seen",
        Method::None => "nothing: no stranger score was seen",
    };
    say!("  threshold {:.4} set by {set_by}; {model}", c.threshold);
    if c.too_thin {
        say!(
            "  note: the data is too thin to show a {target}% false-accept rate: {} of {} stranger scores (as good as {:.0} independent ones) were accepted, which supports no better than {:.1}% (95% bound). Add photos of more people, or keep outliers and junk folders: they are strangers too.",
            c.accepted,
            c.impostors,
            c.effective_impostors,
            c.far_upper * 100.0
        );
    } else {
        say!("  the data supports a false-accept rate of at most {:.3}% (95% bound; target {target}%)", c.far_upper * 100.0);
    }
}
