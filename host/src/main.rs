//! `rollcall`: find the people in a folder of photos, learn them, and export
//! what a device needs to recognise them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use rollcall_host::cluster::{self, ClusterOptions};
use rollcall_host::detect::{self, DetectOptions, DetectOutcome};
use rollcall_host::quantize::QuantizeOptions;
use rollcall_host::select_k::{self, SelectKOptions, ThresholdSource};
use rollcall_host::table::EmbeddingTable;
use rollcall_host::train::{self, TrainOptions};
use rollcall_host::work::Work;
use rollcall_host::{bench, embed, evaluate, export, predict, report};
use rollcall_models::onnx::quantize::Policy;
use rollcall_models::{FaceFilter, Manifest, ModelSet, ModelStore};
use rollcall_shared::gallery::{ClassifierKind, VectorForm};

/// `println!` that ends the program quietly when stdout is closed (piped
/// into `head`, say) instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

#[derive(Parser, Debug)]
#[command(name = "rollcall", version, about = "Face recognition for a small closed group, from unlabelled photos")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// Model cache directory [default: .models in the checkout, else ~/.cache/rollcall/models; env: ROLLCALL_MODELS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    models_dir: Option<PathBuf>,
    /// Use this model manifest instead of the built-in one [env: ROLLCALL_MANIFEST]
    #[arg(long, global = true, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// More log output (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only warnings and errors
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Args, Debug, Clone)]
struct ModelChoice {
    /// Detector model name from the manifest [default: the manifest's default]
    #[arg(long)]
    detector: Option<String>,
    /// Recognizer model name from the manifest [default: the manifest's default]
    #[arg(long)]
    recognizer: Option<String>,
    /// Worker threads [default: one per core]
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct DetectArgs {
    /// Minimum detector confidence for a face to be kept
    #[arg(long, default_value_t = 0.7)]
    min_confidence: f32,
    /// Minimum width and height of a kept face's box, in pixels
    #[arg(long, default_value_t = 40.0)]
    min_size: f32,
    /// Do not write annotated copies of the photos
    #[arg(long)]
    no_annotate: bool,
}

#[derive(Args, Debug, Clone)]
struct PhotosArgs {
    /// A photo or a folder of photos (searched recursively)
    photos: PathBuf,
    /// Work directory
    #[arg(long, short)]
    out: PathBuf,
}

#[derive(Args, Debug, Clone)]
struct KArgs {
    /// Smallest k tried
    #[arg(long, default_value_t = 5)]
    k_min: usize,
    /// Largest k tried
    #[arg(long, default_value_t = 15)]
    k_max: usize,
    /// Same-person cosine threshold for counting people and finding outliers [default: the recognizer's, from the manifest]
    #[arg(long)]
    threshold: Option<f32>,
}

#[derive(Args, Debug, Clone)]
struct ClusterArgs {
    /// Re-cluster into an existing clusters/ folder (renamed folders and moved or added files are never touched)
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fetch, list or verify the models and ONNX Runtime
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Find faces in photos; write aligned chips, annotated photos and metadata.csv
    Detect {
        #[command(flatten)]
        io: PhotosArgs,
        #[command(flatten)]
        models: ModelChoice,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// Embed the aligned chips of a work directory into embeddings.parquet
    Embed {
        /// Work directory
        work: PathBuf,
        #[command(flatten)]
        models: ModelChoice,
    },
    /// Sweep KMeans over a range of k, chart it, and recommend k
    SelectK {
        /// Work directory
        work: PathBuf,
        #[command(flatten)]
        k: KArgs,
        /// KMeans starts per k
        #[arg(long, default_value_t = 10)]
        n_init: usize,
    },
    /// Group the faces into people: clusters/person_<n>/, clusters.csv, charts, report
    Cluster {
        /// Work directory
        work: PathBuf,
        /// Number of people [default: the recommended k]
        #[arg(long)]
        k: Option<usize>,
        /// Same-person cosine threshold for finding outliers [default: the recognizer's]
        #[arg(long)]
        threshold: Option<f32>,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Score the clustering against known identities (a folder tree or a path,identity CSV)
    Evaluate {
        /// Work directory
        work: PathBuf,
        /// Truth: a folder of <identity>/<photo>, or a CSV with path,identity
        #[arg(long)]
        truth: PathBuf,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Learn the named cluster folders: four classifiers, cross-validated, with calibrated rejection
    Train {
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
        #[arg(long, value_delimiter = ',', default_values_t = vec!["unknown".to_string(), "junk".to_string()])]
        junk: Vec<String>,
        /// False-accept rate the rejection thresholds aim for
        #[arg(long, default_value_t = 0.01)]
        target_far: f32,
        /// Cross-validation folds
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[command(flatten)]
        models: ModelChoice,
    },
    /// Write the gallery a device loads
    Export {
        /// Model folder written by `train`
        model: PathBuf,
        /// Gallery file to write
        #[arg(long, short, default_value = "gallery.rcg")]
        out: PathBuf,
        /// How reference embeddings are stored
        #[arg(long, value_parser = ["i8", "f16", "f32"], default_value = "i8")]
        references: String,
        /// Also write int8 models calibrated on the training run, and a gallery for them (<out>.int8.rcg)
        #[arg(long)]
        quantize: bool,
        #[command(flatten)]
        models: ModelChoice,
    },
    /// Name the faces in photos with a gallery (CSV: image,face_index,x1,y1,x2,y2,label,score)
    Predict {
        /// A photo or a folder of photos
        photos: PathBuf,
        /// Gallery file
        #[arg(long, short)]
        gallery: PathBuf,
        /// centroid, knn, svm or logistic [default: the gallery's]
        #[arg(long)]
        classifier: Option<String>,
        /// Write the CSV here instead of stdout
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write annotated copies with names into this folder
        #[arg(long)]
        annotate: Option<PathBuf>,
        #[command(flatten)]
        models: ModelChoice,
        #[command(flatten)]
        detect: DetectArgs,
    },
    /// int8 (and fp16-weights) models calibrated on a work directory, with measured fidelity
    Quantize {
        /// Work directory (its photos and chips calibrate the models)
        work: PathBuf,
        /// Folder for the models, their manifest and fidelity.json
        #[arg(long, short, default_value = "models-int8")]
        out: PathBuf,
        /// Calibration samples per network
        #[arg(long, default_value_t = 64)]
        samples: usize,
        /// Quantize depthwise convolutions too (less faithful; see README)
        #[arg(long)]
        all_layers: bool,
        #[command(flatten)]
        models: ModelChoice,
    },
    /// Write report/index.html from what the work directory holds
    Report {
        /// Work directory
        work: PathBuf,
    },
    /// The whole pipeline: detect, align, embed, select k, cluster, report
    Run {
        #[command(flatten)]
        io: PhotosArgs,
        #[command(flatten)]
        models: ModelChoice,
        #[command(flatten)]
        detect: DetectArgs,
        #[command(flatten)]
        k: KArgs,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Print speed figures (see README: Benchmarks)
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand, Debug)]
enum BenchWhat {
    /// KMeans and silhouette on synthetic unit vectors in blobs
    Analysis {
        /// Points
        #[arg(long, default_value_t = 5000)]
        n: usize,
        /// Dimension
        #[arg(long, default_value_t = 512)]
        dim: usize,
        /// Blobs and clusters
        #[arg(long, default_value_t = 13)]
        k: usize,
        /// KMeans starts
        #[arg(long, default_value_t = 10)]
        n_init: usize,
        /// Also time linfa's KMeans and silhouette (slow)
        #[arg(long)]
        linfa: bool,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Detect + align + embed throughput over a folder of photos
    Pipeline {
        /// Folder of photos; folders starting with `_` are left out
        photos: PathBuf,
        /// Timed passes (after one warm-up)
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Worker counts to try, e.g. `--jobs 1,2`
        #[arg(long, value_delimiter = ',', default_values_t = vec![detect::default_jobs()])]
        jobs: Vec<usize>,
        /// ONNX Runtime threads per session
        #[arg(long, default_value_t = 1)]
        intra_threads: usize,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ModelsAction {
    /// Download what is missing with pip and verify every file
    Fetch,
    /// List the models in the manifest and whether each is cached
    List,
    /// Check every cached file against the manifest
    Verify,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(g: &Global) {
    let default = match (g.quiet, g.verbose) {
        (true, _) => "warn",
        (false, 0) => "info,ort=warn",
        (false, 1) => "debug,ort=warn",
        _ => "trace",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ROLLCALL_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn store(g: &Global) -> Result<ModelStore> {
    let manifest = match &g.manifest {
        Some(p) => Manifest::load(p)?,
        None => Manifest::from_env()?,
    };
    let dir = g.models_dir.clone().unwrap_or_else(rollcall_models::store::default_models_dir);
    Ok(ModelStore::open(dir, manifest)?)
}

fn model_set(g: &Global, m: &ModelChoice) -> Result<ModelSet> {
    let store = store(g)?;
    ModelSet::load(&store, m.detector.as_deref(), m.recognizer.as_deref()).context("cannot load the models")
}

fn detect_options(m: &ModelChoice, d: &DetectArgs, embed: bool) -> DetectOptions {
    DetectOptions {
        filter: FaceFilter { min_confidence: d.min_confidence, min_size: d.min_size, ..FaceFilter::default() },
        jobs: m.jobs.unwrap_or_else(detect::default_jobs),
        annotate: !d.no_annotate,
        embed,
        ..DetectOptions::default()
    }
}

fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Models { action } => models_command(g, action),
        Command::Bench { what } => bench_command(g, what),
        Command::Detect { io: PhotosArgs { photos, out }, models, detect: d } => {
            let set = model_set(g, &models)?;
            let outcome = detect::detect(&photos, &Work::new(&out), &set, &detect_options(&models, &d, false))?;
            print_detect_summary(&outcome, &out);
            Ok(())
        }
        Command::Embed { work, models } => {
            let set = model_set(g, &models)?;
            let outcome = embed::embed(&Work::new(&work), &set, models.jobs.unwrap_or_else(detect::default_jobs))?;
            say!(
                "embedded {} chips ({}-d, {}) into {}; {} skipped",
                outcome.table.len(),
                outcome.table.dim,
                set.recognizer_spec().name,
                Work::new(&work).embeddings().display(),
                outcome.skipped.len()
            );
            for (p, why) in &outcome.skipped {
                say!("  skipped {}: {why}", p.display());
            }
            Ok(())
        }
        Command::SelectK { work, k, n_init } => {
            let work = Work::new(work);
            let threshold = same_person_threshold(g, &work, k.threshold)?;
            let sel = select_k::select_k(
                &work,
                threshold,
                &SelectKOptions { k_min: k.k_min, k_max: k.k_max, n_init, ..SelectKOptions::default() },
            )?;
            print_selection(&sel, &work);
            Ok(())
        }
        Command::Cluster { work, k, threshold, cluster: c } => {
            let work = Work::new(work);
            let threshold = same_person_threshold(g, &work, threshold)?;
            let outcome = cluster::cluster(&work, threshold, &ClusterOptions { k, force: c.force, ..ClusterOptions::default() })?;
            print_clusters(&outcome, &work);
            let report = report::write(&work)?;
            say!("report: {}", report.display());
            Ok(())
        }
        Command::Evaluate { work, truth, json } => {
            let e = evaluate::evaluate(&Work::new(work), &truth)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                say!("{}", evaluate::table(&e));
            }
            Ok(())
        }
        Command::Train { clusters, out, work, junk, target_far, folds, models } => {
            let work = Work::new(work.unwrap_or_else(|| clusters.parent().map(Path::to_path_buf).unwrap_or_default()));
            let opts = TrainOptions { junk, target_far, folds, ..TrainOptions::default() };
            let (gallery, report) = if work.embeddings().is_file() {
                let mut loader = || model_set(g, &models);
                train::train_from_work(&clusters, &work, &opts, &mut loader)?
            } else {
                // Folders of photos or chips from anywhere: embed them all now.
                say!("no {} here: embedding every face in {} afresh", work.embeddings().display(), clusters.display());
                train::train_with_models(&clusters, &model_set(g, &models)?, &opts)?
            };
            train::write_model_dir(&out, &gallery, &report)?;
            say!("{} people, {} faces; {}-fold cross-validation:", report.people.len(), report.faces.iter().sum::<usize>(), report.folds);
            say!("  classifier  accuracy  open-set  threshold  est. FAR  est. FRR");
            for c in &report.classifiers {
                say!(
                    "  {:<10}  {:>8.3}  {:>8.3}  {:>9.4}  {:>8.3}  {:>8.3}",
                    c.classifier,
                    c.accuracy,
                    c.open_set_accuracy,
                    c.threshold.value,
                    c.threshold.estimated_far,
                    c.threshold.estimated_frr
                );
            }
            say!("default classifier: {} (most held-out faces accepted and named correctly)", report.default_classifier);
            if !report.never_held_out.is_empty() {
                say!("  note: one face only, so never held out: {}", report.never_held_out.join(", "));
            }
            for (p, why) in &report.skipped {
                say!("  skipped {p}: {why}");
            }
            say!("wrote {}", out.display());
            Ok(())
        }
        Command::Export { model, out, references, quantize, models } => {
            let form = match references.as_str() {
                "i8" => VectorForm::I8,
                "f32" => VectorForm::F32,
                _ => VectorForm::F16,
            };
            let e = export::export(&model, &out, form, &model.display().to_string())?;
            say!(
                "wrote {}: {} people, {} reference faces, {} bytes ({references} references)",
                out.display(),
                e.people,
                e.references,
                e.bytes
            );
            if quantize {
                let set = model_set(g, &models)?;
                let q = export::export_quantized(&model, &out, form, &set)?;
                print_fidelity(&q.fidelity, &q.models_dir);
                say!("wrote {}: gallery for the int8 models, {} bytes", q.gallery.display(), q.exported.bytes);
            }
            Ok(())
        }
        Command::Predict { photos, gallery, classifier, out, annotate, models, detect: d } => {
            let gal = export::read_gallery(&gallery)?;
            let set = model_set(g, &models)?;
            predict::check_models(&gal, &set, &gallery)?;
            let classifier = match classifier {
                Some(name) => Some(
                    ClassifierKind::from_name(&name)
                        .with_context(|| format!("unknown classifier `{name}` (centroid, knn, svm, logistic)"))?,
                ),
                None => None,
            };
            let opts = predict::PredictOptions {
                classifier,
                filter: FaceFilter { min_confidence: d.min_confidence, min_size: d.min_size, ..FaceFilter::default() },
                annotate,
                jobs: models.jobs.unwrap_or_else(detect::default_jobs),
            };
            let (rows, skipped) = predict::predict(&photos, &gal, &set, &opts)?;
            let csv = predict::to_csv(&rows)?;
            match out {
                Some(p) => rollcall_host::work::write_atomic(&p, &csv)?,
                None => {
                    use std::io::Write as _;
                    if std::io::stdout().write_all(&csv).is_err() {
                        return Ok(());
                    }
                }
            }
            for (p, why) in skipped {
                eprintln!("skipped {p}: {why}");
            }
            Ok(())
        }
        Command::Quantize { work, out, samples, all_layers, models } => {
            let set = model_set(g, &models)?;
            let policy = if all_layers { Policy::all() } else { Policy::default() };
            let f = rollcall_host::quantize::quantize(
                &Work::new(work),
                &set,
                &out,
                &QuantizeOptions { samples, policy, ..QuantizeOptions::default() },
            )?;
            print_fidelity(&f, &out);
            Ok(())
        }
        Command::Report { work } => {
            let report = report::write(&Work::new(work))?;
            say!("report: {}", report.display());
            Ok(())
        }
        Command::Run { io: PhotosArgs { photos, out }, models, detect: d, k, cluster: c } => {
            let set = model_set(g, &models)?;
            let work = Work::new(&out);
            if work.clusters().exists() && !c.force {
                // Fail before the slow part: the last step would refuse anyway.
                cluster::check_clusters_dir(&work.clusters())?;
            }
            let outcome = detect::detect(&photos, &work, &set, &detect_options(&models, &d, true))?;
            print_detect_summary(&outcome, &out);
            let table = embed::write_table(&work, &set, outcome.embeddings)?;
            say!("embedded {} faces ({}-d) into {}", table.len(), table.dim, work.embeddings().display());
            if table.len() < 3 {
                say!("too few faces to look for people; stopping after embedding");
                return Ok(());
            }
            let threshold = same_person_threshold(g, &work, k.threshold)?;
            let sel = select_k::select_k(
                &work,
                threshold.clone(),
                &SelectKOptions { k_min: k.k_min, k_max: k.k_max, ..SelectKOptions::default() },
            )?;
            print_selection(&sel, &work);
            let outcome = cluster::cluster(&work, threshold, &ClusterOptions { force: c.force, ..ClusterOptions::default() })?;
            print_clusters(&outcome, &work);
            let report = report::write(&work)?;
            say!("report: {}", report.display());
            Ok(())
        }
    }
}

/// The same-person threshold: the flag, else the recognizer's published
/// one (found through the model name the embedding table records), else
/// none (select-k then reads it off the data).
fn same_person_threshold(g: &Global, work: &Work, flag: Option<f32>) -> Result<Option<(f32, ThresholdSource)>> {
    if let Some(t) = flag {
        return Ok(Some((t, ThresholdSource::Flag)));
    }
    let table = EmbeddingTable::read(&work.embeddings())?;
    let Some(name) = table.recognizer else { return Ok(None) };
    let store = store(g)?;
    Ok(store.manifest().model(&name).ok().and_then(|m| m.output.same_person_cosine).map(|t| (t, ThresholdSource::Manifest(name))))
}

fn print_selection(s: &select_k::Selection, work: &Work) {
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

fn print_clusters(o: &cluster::ClusterOutcome, work: &Work) {
    let s = &o.summary;
    say!(
        "{} people, mean silhouette {:.3}; {} outliers in {}",
        s.k,
        s.mean_silhouette,
        s.outliers,
        work.clusters().join(cluster::OUTLIER_FOLDER).display()
    );
    for c in &s.clusters {
        say!("  {:<12} {:>4} faces  mean silhouette {:.3}", c.folder, c.size, c.mean_silhouette);
    }
}

fn print_fidelity(f: &rollcall_host::quantize::Fidelity, out: &Path) {
    let r = &f.recognizer;
    let d = &f.detector;
    say!("size int8/fp32 {:.3}; speed int8/fp32 {:.3} ({})", f.size_ratio, f.speed_ratio, f.cpu);
    say!(
        "recognizer: cosine fp32 vs int8 mean {:.4}, min {:.4} over {} faces (fp16 weights min {:.5}); nearest-centroid accuracy fp32 {:.3}, int8 {:.3}",
        r.cosine_mean,
        r.cosine_min,
        r.faces,
        r.fp16_cosine_min,
        r.accuracy_fp32,
        r.accuracy_int8
    );
    say!(
        "detector: int8 against fp32 on {} photos: recall {:.3}, precision {:.3}, landmark shift {:.2} px ({:.2}% of the face width)",
        d.photos,
        d.recall,
        d.precision,
        d.landmark_shift_px,
        d.landmark_shift_rel * 100.0
    );
    for (name, m) in &f.models {
        say!(
            "  {name}: {} -> {} bytes int8, {} fp16; {:.3} s fp32, {:.3} s int8, {:.3} s fp16 over {} runs",
            m.fp32_bytes,
            m.int8_bytes,
            m.fp16_bytes,
            m.fp32_s,
            m.int8_s,
            m.fp16_s,
            m.runs
        );
    }
    say!("wrote {} (use with --models-dir {0} --manifest {0}/manifest.toml)", out.display());
}

fn bench_command(g: &Global, what: BenchWhat) -> Result<()> {
    match what {
        BenchWhat::Analysis { n, dim, k, n_init, linfa, json } => {
            let f = bench::analysis(n, dim, k, n_init, linfa);
            if json {
                say!("{}", serde_json::to_string(&f)?);
            } else {
                say!(
                    "{n} x {dim} unit vectors in {k} blobs: KMeans k={k} n_init={n_init} {:.3} s (ARI {:.3}); silhouette over all points {:.3} s (mean {:.3})",
                    f.kmeans_s,
                    f.ari,
                    f.silhouette_s,
                    f.silhouette
                );
                if let (Some(a), Some(b)) = (f.linfa_kmeans_s, f.linfa_silhouette_s) {
                    say!("linfa 0.8: KMeans {a:.3} s, silhouette {b:.3} s");
                }
            }
            Ok(())
        }
        BenchWhat::Pipeline { photos, repeat, jobs, intra_threads, json } => {
            let set = model_set(g, &ModelChoice { detector: None, recognizer: None, jobs: None })?;
            let list = bench::labelled_photos(&photos)?;
            anyhow::ensure!(!list.is_empty(), "{}: no photos to benchmark", photos.display());
            for j in jobs {
                let runs = bench::pipeline(&photos, &list, &set, j, intra_threads, repeat)?;
                let Some(m) = bench::median(runs) else { continue };
                if json {
                    say!("{}", serde_json::to_string(&m)?);
                } else {
                    say!("{}", bench::describe(&m));
                }
            }
            Ok(())
        }
    }
}

fn print_detect_summary(o: &DetectOutcome, out: &Path) {
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
    for p in o.file.photos.iter().filter(|p| p.error.is_some()) {
        say!("  skipped {}: {}", p.path, p.error.as_deref().unwrap_or(""));
    }
    say!("wrote {}", out.display());
}

fn models_command(g: &Global, action: ModelsAction) -> Result<()> {
    let store = store(g)?;
    match action {
        ModelsAction::Fetch => {
            for f in store.fetch_all()? {
                let how = if f.downloaded { "fetched" } else { "present" };
                say!("{how:>8}  {:<22} {}  {}", f.name, f.sha256, f.path.display());
            }
            Ok(())
        }
        ModelsAction::List => {
            say!("cache: {}", store.dir().display());
            for m in &store.manifest().models {
                let path = store.model_path(m);
                let state = if path.is_file() {
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
            Ok(())
        }
        ModelsAction::Verify => {
            let mut bad = 0;
            let rt = store.runtime_path();
            let target = store.manifest().runtime_target()?;
            let mut check = |name: &str, path: &Path, expected: Option<&str>| {
                let result = if !path.is_file() {
                    Err("missing".to_string())
                } else {
                    rollcall_models::store::sha256_file(path).map_err(|e| e.to_string()).and_then(|sha| match expected {
                        Some(e) if !e.eq_ignore_ascii_case(&sha) => Err(format!("sha256 {sha}, manifest says {e}")),
                        _ => Ok(sha),
                    })
                };
                match result {
                    Ok(sha) => say!("ok       {name:<22} {sha}"),
                    Err(why) => {
                        bad += 1;
                        say!("BAD      {name:<22} {}: {why}", path.display());
                    }
                }
            };
            check("onnxruntime", &rt, Some(&target.sha256));
            for m in store.manifest().models.iter().filter(|m| store.model_path(m).is_file() || m.source.is_some()) {
                check(&m.name, &store.model_path(m), m.sha256.as_deref());
            }
            if bad > 0 {
                anyhow::bail!("{bad} file(s) failed verification; run `rollcall models fetch`");
            }
            Ok(())
        }
    }
}
