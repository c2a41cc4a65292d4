//! Option groups several commands share, and the summaries more than one
//! command prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::clusters::OUTLIER_FOLDER;
use rollcall_host::artifacts::selection::{Selection, ThresholdSource};
use rollcall_host::stages::cluster::ClusterOutcome;
use rollcall_host::stages::detect::{DetectOptions, DetectOutcome};
use rollcall_host::stages::predict::PredictOptions;
use rollcall_models::decode::Limits;
use rollcall_models::{FaceFilter, Models};

use rollcall_host::stages::select_k::SelectKOptions;

use super::Global;

/// Which models, and how many workers.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct ModelChoice {
    /// Detector model name from the manifest [default: the manifest's default]
    #[arg(long)]
    pub detector: Option<String>,
    /// Recognizer model name from the manifest [default: the manifest's default]
    #[arg(long)]
    pub recognizer: Option<String>,
    /// Worker threads [default: one per core]
    #[arg(long, short = 'j', value_parser = rollcall_cli::range(1usize, 1024))]
    pub jobs: Option<usize>,
    /// How large the detector sees each photo
    #[arg(long, value_enum, default_value_t)]
    pub detector_scale: rollcall_cli::ScaleArg,
}

impl ModelChoice {
    pub(super) fn load(&self, g: &Global) -> Result<Arc<dyn Models>> {
        g.models.load_scaled(self.detector.as_deref(), self.recognizer.as_deref(), self.detector_scale.into())
    }

    pub(super) fn jobs(&self) -> usize {
        self.jobs.unwrap_or_else(rollcall_cli::default_jobs)
    }
}

/// Which detections count as faces.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct DetectArgs {
    /// Minimum detector confidence for a face to be kept
    #[arg(long, default_value_t = 0.7, value_parser = rollcall_cli::range(0.0f32, 1.0))]
    pub min_confidence: f32,
    /// Minimum width and height of a kept face's box, in pixels
    #[arg(long, default_value_t = 40.0, value_parser = rollcall_cli::range(0.0f32, 100_000.0))]
    pub min_size: f32,
    /// Photos declaring more pixels than this are skipped before they are decoded
    #[arg(long, default_value_t = 100.0, value_name = "MEGAPIXELS", value_parser = rollcall_cli::range(0.01f64, 10_000.0))]
    pub max_megapixels: f64,
    /// Memory the workers may hold in decoded photos and their detector scans at once (a photo waits for room; one larger than this runs alone)
    #[arg(long, default_value_t = 1024, value_name = "MIB", value_parser = clap::value_parser!(u64).range(16..=1 << 20))]
    pub decode_budget_mib: u64,
}

impl DetectArgs {
    pub(super) fn filter(&self) -> FaceFilter {
        FaceFilter { min_confidence: self.min_confidence, min_size: self.min_size, ..FaceFilter::default() }
    }

    /// How large a photo may be.
    pub(super) fn limits(&self) -> Limits {
        Limits { budget_bytes: self.decode_budget_mib << 20, ..Limits::megapixels(self.max_megapixels) }
    }

    /// The detect stage's settings.
    pub(super) fn options(&self, models: &ModelChoice, annotate: bool) -> DetectOptions {
        DetectOptions { filter: self.filter(), jobs: models.jobs(), annotate, limits: self.limits(), ..DetectOptions::default() }
    }
}

/// How faces are named.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct NameArgs {
    /// The classifier [default: the gallery's]
    #[arg(long, value_enum)]
    pub classifier: Option<rollcall_cli::Classifier>,
    /// Faces narrower than this (pixels) are found but not named: too_small_to_name [default: half the recognizer's chip, 56 for SFace]
    #[arg(long, value_parser = rollcall_cli::range(0.0f32, 100_000.0))]
    pub min_name_size: Option<f32>,
}

impl NameArgs {
    /// The naming settings of `predict` and `roll`.
    pub(super) fn options(&self, models: &ModelChoice, detect: &DetectArgs, annotate: Option<PathBuf>) -> PredictOptions {
        PredictOptions {
            classifier: self.classifier.map(Into::into),
            filter: detect.filter(),
            min_name_size: self.min_name_size,
            annotate,
            limits: detect.limits(),
            jobs: models.jobs(),
        }
    }
}

/// Photos in, a work directory out.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct PhotosArgs {
    /// A photo or a folder of photos (searched recursively)
    pub photos: PathBuf,
    /// Work directory
    #[arg(long, short)]
    pub out: PathBuf,
    /// Do not write annotated copies of the photos into the work directory
    #[arg(long)]
    pub no_annotate: bool,
}

/// The k range and the same-person threshold.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct KArgs {
    /// Smallest k tried [default: 5, or lower to include the people found]
    #[arg(long, value_parser = rollcall_cli::range(2usize, 1_000_000))]
    pub k_min: Option<usize>,
    /// Largest k tried [default: 15, or higher to include the people found]
    #[arg(long, value_parser = rollcall_cli::range(2usize, 1_000_000))]
    pub k_max: Option<usize>,
    /// Same-person cosine threshold for counting people and finding outliers [default: the recognizer's, from the manifest]
    #[arg(long, value_parser = rollcall_cli::range(-1.0f32, 1.0))]
    pub threshold: Option<f32>,
}

/// Re-clustering over the user's folders.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct ClusterArgs {
    /// Re-cluster into an existing clusters/ folder (renamed folders and moved or added files are never touched)
    #[arg(long)]
    pub force: bool,
}

/// The same-person threshold for a work directory, as select-k and cluster
/// find it: the flag, else the recognizer's published one.
impl KArgs {
    /// The sweep's settings: the range asked for, else the default one.
    pub(super) fn options(&self) -> SelectKOptions {
        let d = SelectKOptions::default();
        SelectKOptions {
            k_min: self.k_min.unwrap_or(d.k_min),
            k_max: self.k_max.unwrap_or(d.k_max),
            range_given: self.k_min.is_some() || self.k_max.is_some(),
            ..d
        }
    }
}

/// The published same-person cosine of the recognizer that made `table`'s
/// embeddings, if the manifest knows one.
pub(super) fn published_same_person(g: &Global, table: &rollcall_host::artifacts::embeddings::EmbeddingTable) -> Option<f32> {
    table.recognizer.as_deref().and_then(|n| g.models.same_person_cosine(n).ok().flatten())
}

pub(super) fn threshold(g: &Global, work: &Work, flag: Option<f32>) -> Result<Option<(f32, ThresholdSource)>> {
    let published = |name: &str| g.models.same_person_cosine(name).ok().flatten();
    Ok(rollcall_host::stages::select_k::threshold_for(work, flag, &published)?)
}

/// The detect stage's summary.
/// The secret key `--sign` names, if any, with a warning (as ssh gives)
/// when other users can read it.
pub(super) fn signing_key(path: Option<&Path>) -> Result<Option<rollcall_shared::signature::SecretKey>> {
    let Some(path) = path else { return Ok(None) };
    let path = &rollcall_host::artifacts::keys::resolve(path);
    let key = rollcall_host::artifacts::keys::read_secret(path)?;
    if let Some(mode) = rollcall_host::artifacts::keys::readable_by_others(path) {
        tracing::warn!(
            "the secret key {} can be read by other users (mode {mode:o}): anyone who copies it can sign galleries; `chmod 600` it",
            path.display()
        );
    }
    Ok(Some(key))
}

/// After `run` or `cluster`: name the people.
pub(super) fn next_after_clustering(work: &Path) {
    let w = rollcall_cli::shell_word(work);
    rollcall_cli::next_steps(&[
        format!("name the people in your browser: rollcall review {w}"),
        format!("(or rename the folders in {w}/clusters/ yourself, then: rollcall train {w}/clusters --out {w}/model)"),
    ]);
}

pub(super) fn print_detect_summary(o: &DetectOutcome, out: &Path) {
    let s = &o.file.summary;
    say!(
        "{} photos: {} read, {} skipped; {} faces found, {} kept ({} too small); {} low-confidence candidates shown as rejected",
        s.images_found,
        s.images_read,
        s.images_skipped,
        s.faces_found,
        s.faces_kept,
        s.rejected_too_small,
        s.rejected_low_confidence
    );
    if o.reused + o.re_embedded > 0 {
        say!(
            "{} photos unchanged since the last run (reused), {} embedded again from their chips, {} detected",
            o.reused,
            o.re_embedded,
            o.detected
        );
    }
    for p in o.file.photos.iter().filter(|p| p.error.is_some()) {
        say!("  skipped {}: {}", p.path, p.error.as_deref().unwrap_or(""));
    }
    say!("wrote {}", out.display());
}

/// select-k's recommendation.
pub(super) fn print_selection(s: &Selection, work: &Work) {
    say!(
        "recommended k = {} ({} people by average linkage at cosine {:.3}; {} of {} faces are outliers); silhouette peaks at {}",
        s.recommended_k,
        s.people_estimate,
        s.threshold,
        s.outliers.len(),
        s.faces,
        s.silhouette_best_k.map_or("-".to_string(), |k| k.to_string())
    );
    for w in &s.warnings {
        say!("  note: {w}");
    }
    say!("wrote {} and charts in {}", work.k_selection_csv().display(), work.charts().display());
}

/// cluster's people.
pub(super) fn print_clusters(o: &ClusterOutcome, work: &Work) {
    let s = &o.summary;
    say!(
        "{} people, mean silhouette {:.3}; {} outliers in {}",
        s.k,
        s.mean_silhouette,
        s.outliers,
        work.clusters().join(OUTLIER_FOLDER).display()
    );
    for c in &s.clusters {
        say!("  {:<12} {:>4} faces  mean silhouette {:.3}", c.folder, c.size, c.mean_silhouette);
    }
}
