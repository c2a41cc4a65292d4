//! `rollcall bench analysis|pipeline`: speed figures (see
//! docs/benchmarks.md). Speed is measured here, never asserted in a test.

use std::path::PathBuf;

use anyhow::Result;
use rollcall_cli::out;
use rollcall_host::bench;

use super::Global;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// KMeans and silhouette on synthetic unit vectors in blobs
    Analysis(AnalysisArgs),
    /// Strangers named and members missed, galleries of 3, 5 and 8 on labelled photos (see docs/learning.md)
    OpenSet(OpenSetArgs),
    /// select-k and cluster on synthetic SFace-like embeddings of a school (see docs/finding-people.md)
    Scale(ScaleArgs),
    /// Faces found and detector time at smaller detector inputs than 640 (see docs/device.md)
    DetectorSize(DetectorSizeArgs),
    /// Class photos composed from labelled portraits: faces found by width, names, time and memory, auto vs fit-to-640 (see docs/class-photos.md)
    ClassPhoto(ClassPhotoArgs),
    /// Detect + align + embed throughput over a folder of photos
    Pipeline(PipelineArgs),
    /// The whole `rollcall run` and bench/python_pipeline.py, one process each in paired rounds: wall, CPU and peak memory (GNU time)
    SideBySide(SideBySideArgs),
}

/// How every benchmark prints its figures.
#[derive(clap::Args, Debug)]
struct Output {
    /// Print JSON instead of text: one value a line, each run's figures
    /// as soon as they are measured
    #[arg(long)]
    json: bool,
}

impl Output {
    /// Prints `figures` as one line of JSON, or as `text` describes them.
    fn print<T: serde::Serialize>(&self, figures: &T, text: impl FnOnce(&T) -> String) -> Result<()> {
        if self.json {
            out!("{}", serde_json::to_string(figures)?);
        } else {
            out!("{}", text(figures));
        }
        Ok(())
    }
}

#[derive(clap::Args, Debug)]
struct AnalysisArgs {
    /// Vectors to cluster
    #[arg(long, default_value_t = 5000)]
    n: usize,
    /// Length of each vector
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
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args, Debug)]
struct OpenSetArgs {
    /// The labelled photos, with their labels.csv (../shared/data/faces)
    faces: PathBuf,
    /// Galleries drawn per size and enrolment
    #[arg(long, default_value_t = 100, value_parser = rollcall_cli::range(1usize, 10_000))]
    draws: usize,
    /// Gallery sizes
    #[arg(long, value_delimiter = ',', default_values_t = vec![3usize, 5, 8])]
    sizes: Vec<usize>,
    /// Photos each member enrols
    #[arg(long, value_delimiter = ',', default_values_t = vec![3usize, 5])]
    enrol: Vec<usize>,
    /// False-accept targets
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.01f32, 0.001])]
    targets: Vec<f32>,
    /// Seed of the draws
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args, Debug)]
struct ScaleArgs {
    /// Faces in the synthetic school
    #[arg(long, default_value_t = 20_000, value_parser = rollcall_cli::range(10usize, 10_000_000))]
    faces: usize,
    /// People (5% of the faces are strangers besides)
    #[arg(long, default_value_t = 1000, value_parser = rollcall_cli::range(2usize, 5_000_000))]
    people: usize,
    /// Seed of the embeddings
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args, Debug)]
struct DetectorSizeArgs {
    /// Folder of photos (all of them, group and hard photos included)
    photos: PathBuf,
    /// Sizes to compare with 640
    #[arg(long, value_delimiter = ',', default_values_t = vec![320u32, 480, 640])]
    sizes: Vec<u32>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args, Debug)]
struct ClassPhotoArgs {
    /// The labelled photos, with their labels.csv (../shared/data/faces)
    faces: PathBuf,
    /// Class photos to compose
    #[arg(long, default_value_t = 6, value_parser = rollcall_cli::range(1usize, 1000))]
    photos: usize,
    /// Photos each member enrols (identities with more are the class; the others are strangers)
    #[arg(long, default_value_t = 3, value_parser = rollcall_cli::range(1usize, 100))]
    enrol: usize,
    /// Seed of the split and the photos
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Smallest face named [default: half the recognizer's chip]
    #[arg(long)]
    min_name_size: Option<f32>,
    /// Skip the 48-megapixel photo
    #[arg(long)]
    no_large: bool,
    /// Compare these margins over the smallest anchor (measuring the scale rule)
    #[arg(long, value_delimiter = ',', hide = true)]
    anchor_margins: Vec<f32>,
    /// Keep the composed photos in this folder (new or empty), to time other commands on them
    #[arg(long, value_name = "DIR")]
    keep_photos: Option<PathBuf>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args, Debug)]
struct PipelineArgs {
    /// Folder of photos; folders starting with `_` are left out
    photos: PathBuf,
    /// Timed passes (after one warm-up)
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Worker counts to try, e.g. `--jobs 1,2`
    #[arg(long, value_delimiter = ',', default_values_t = vec![rollcall_cli::default_jobs()])]
    jobs: Vec<usize>,
    /// ONNX Runtime threads per session
    #[arg(long, default_value_t = 1)]
    intra_threads: usize,
    /// Also time the whole `rollcall run` (every photo, every stage) and print where its time goes
    #[arg(long)]
    whole_run: bool,
    /// How large the detector sees each photo
    #[arg(long, value_enum, default_value_t)]
    detector_scale: rollcall_cli::ScaleArg,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args, Debug)]
struct SideBySideArgs {
    /// Folder of photos (every photo, as `rollcall run` takes it)
    photos: PathBuf,
    /// The Python interpreter with uniface, onnxruntime, OpenCV and scikit-learn
    #[arg(long, default_value = "python3", value_name = "EXE")]
    python: PathBuf,
    /// The Python pipeline
    #[arg(long, default_value = "bench/python_pipeline.py", value_name = "FILE")]
    script: PathBuf,
    /// Paired rounds, each `rollcall run` then the Python pipeline
    #[arg(long, default_value_t = 3, value_parser = rollcall_cli::range(1usize, 100))]
    rounds: usize,
    /// GNU time, which measures each process from outside
    #[arg(long, default_value = "/usr/bin/time", value_name = "EXE")]
    time: PathBuf,
    #[command(flatten)]
    out: Output,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    match a.what {
        What::Analysis(a) => analysis(a),
        What::OpenSet(a) => open_set(a, g),
        What::Scale(a) => scale(a, g),
        What::DetectorSize(a) => detector_size(a, g),
        What::ClassPhoto(a) => class_photo(a, g),
        What::Pipeline(a) => pipeline(a, g),
        What::SideBySide(a) => side_by_side(a, g),
    }
}

/// `rollcall bench analysis`.
fn analysis(a: AnalysisArgs) -> Result<()> {
    let AnalysisArgs { n, dim, k, n_init, linfa, out } = a;
    let f = bench::analysis(n, dim, k, n_init, linfa);
    out.print(&f, |f| {
        let mut text = format!(
            "{n} x {dim} unit vectors in {k} blobs: KMeans k={k} n_init={n_init} {:.3} s (ARI {:.3}); silhouette over all points {:.3} s (mean {:.3})",
            f.kmeans_s, f.ari, f.silhouette_s, f.silhouette
        );
        if let (Some(a), Some(b)) = (f.linfa_kmeans_s, f.linfa_silhouette_s) {
            text.push_str(&format!("\nlinfa 0.8: KMeans {a:.3} s, silhouette {b:.3} s"));
        }
        text
    })
}

/// `rollcall bench open-set`.
fn open_set(a: OpenSetArgs, g: &Global) -> Result<()> {
    let OpenSetArgs { faces, draws, sizes, enrol, targets, seed, out } = a;
    let models = g.models.load(None, None)?;
    let opts = bench::open_set::OpenSetOptions {
        sizes,
        enrol,
        draws,
        targets,
        seed,
        same_person: models.card().same_person_cosine,
        jobs: rollcall_cli::default_jobs(),
    };
    let rows = bench::open_set::open_set(&faces, models.as_ref(), &opts)?;
    out.print(&rows, |rows| bench::open_set::table(rows))
}

/// `rollcall bench scale`.
fn scale(a: ScaleArgs, g: &Global) -> Result<()> {
    let ScaleArgs { faces, people, seed, out } = a;
    // The default recognizer's published same-person cosine, as
    // `run` would use it.
    let manifest = g.models.manifest()?;
    let recognizer = manifest.select(rollcall_models::manifest::Role::Recognizer, None)?;
    let same_person =
        recognizer.output.same_person_cosine.ok_or_else(|| anyhow::anyhow!("{}: no published same-person cosine", recognizer.name))?;
    let f = bench::scale::scale(faces, people, seed, same_person)?;
    out.print(&f, bench::scale::describe)
}

/// `rollcall bench detector-size`.
fn detector_size(a: DetectorSizeArgs, g: &Global) -> Result<()> {
    let DetectorSizeArgs { photos, sizes, out } = a;
    let models = g.models.load(None, None)?;
    let set = models.onnx().ok_or_else(|| anyhow::anyhow!("bench detector-size needs the ONNX models, not the fake engine"))?;
    let list = rollcall_files::photos::list(&photos, &[])?.photos;
    anyhow::ensure!(!list.is_empty(), "{}: no photos to benchmark", photos.display());
    for f in bench::detector_size::measure(set, &list, &sizes)? {
        out.print(&f, bench::detector_size::describe)?;
    }
    Ok(())
}

/// `rollcall bench class-photo`.
fn class_photo(a: ClassPhotoArgs, g: &Global) -> Result<()> {
    let ClassPhotoArgs { faces, photos, enrol, seed, min_name_size, no_large, anchor_margins, keep_photos, out } = a;
    let models = g.models.load(None, None)?;
    let set = models.onnx().ok_or_else(|| anyhow::anyhow!("bench class-photo needs the ONNX models, not the fake engine"))?;
    let scratch = tempfile::tempdir()?;
    let folder = match &keep_photos {
        Some(dir) => {
            anyhow::ensure!(
                !dir.exists() || std::fs::read_dir(dir)?.next().is_none(),
                "{}: --keep-photos takes a new or empty folder",
                dir.display()
            );
            rollcall_files::create_dir_private(dir)?;
            dir.clone()
        }
        None => scratch.path().to_path_buf(),
    };
    let opts = bench::class_photo::ClassPhotoOptions {
        photos,
        enrol,
        seed,
        min_name_size,
        large: (!no_large).then_some((8000, 6000)),
        margins: anchor_margins,
        ..Default::default()
    };
    let figs = bench::class_photo::class_photo(&faces, set, &folder, &opts)?;
    out.print(&figs, |f| bench::class_photo::table(f))
}

/// `rollcall bench pipeline`.
fn pipeline(a: PipelineArgs, g: &Global) -> Result<()> {
    let PipelineArgs { photos, repeat, jobs, intra_threads, whole_run, detector_scale, out } = a;
    let models = g.models.load_scaled(None, None, detector_scale.into())?;
    let list = bench::labelled_photos(&photos)?;
    anyhow::ensure!(!list.is_empty(), "{}: no photos to benchmark", photos.display());
    if whole_run {
        let mut runs = bench::whole_run(&photos, models.as_ref(), rollcall_cli::default_jobs(), repeat)?;
        runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
        if let Some(m) = runs.get(runs.len() / 2) {
            out.print(m, bench::describe_run)?;
        }
    }
    for j in jobs {
        let runs = bench::pipeline(&photos, &list, models.as_ref(), j, intra_threads, repeat)?;
        let Some(m) = bench::median(runs) else { continue };
        out.print(&m, bench::describe)?;
    }
    Ok(())
}

/// `rollcall bench side-by-side`.
fn side_by_side(a: SideBySideArgs, g: &Global) -> Result<()> {
    let SideBySideArgs { photos, python, script, rounds, time, out } = a;
    anyhow::ensure!(script.is_file(), "{}: no such script (bench/python_pipeline.py in the checkout)", script.display());
    // Fetched and checked before the first round, so that no round times a
    // download; both sides then read the same files.
    let models = g.models.load(None, None)?;
    let set = models.onnx().ok_or_else(|| anyhow::anyhow!("bench side-by-side needs the ONNX models, not the fake engine"))?;
    let models_dir = set.store().dir().to_path_buf();
    let mut rollcall_args: Vec<std::ffi::OsString> = vec!["--models-dir".into(), models_dir.clone().into()];
    if let Some(manifest) = &g.models.manifest {
        rollcall_args.extend(["--manifest".into(), manifest.clone().into()]);
    }
    let opts = bench::side_by_side::SideBySideOptions {
        rollcall: std::env::current_exe()?,
        rollcall_args,
        python,
        script,
        models_dir,
        time,
        rounds,
    };
    let all = bench::side_by_side::side_by_side(&photos, &opts, |r| out.print(r, bench::side_by_side::describe_round))?;
    out.print(&bench::side_by_side::summary(&all), bench::side_by_side::describe_summary)
}
