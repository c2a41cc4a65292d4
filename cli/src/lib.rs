//! What `rollcall` and `rollcall-device` share on the command line: the
//! model options and how they open the models, the `--classifier` choice,
//! logging, printing to a stdout that may close, and the error report.
//!
//! Both programs' `main` parse with clap, call [`init_logging`], run the
//! command, and end with [`exit`].

// Other crates build on this one: its public API is documented.
#![warn(missing_docs)]

pub mod models;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use rollcall_models::{DetectorScale, Manifest, ModelSource, ModelStore, Models};
use rollcall_shared::gallery::{ClassifierKind, Gallery};
use serde::Deserialize;

/// What a command says of its work (counts, a summary, a table): on
/// stdout, not with `-q`. A `println!` that escapes control characters (a
/// file name may hold some) and ends the program quietly when stdout is
/// closed (piped into `head`, say) instead of panicking. What a command is
/// run for (`predict`'s CSV, `inspect`'s description) is [`out!`].
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        if !$crate::quiet() {
            $crate::out!($($t)*);
        }
    }};
}

/// A command's output proper, printed with `-q` too; otherwise as [`say!`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = $crate::escape_controls(&format!($($t)*));
        if writeln!(std::io::stdout(), "{line}").is_err() {
            std::process::exit(0);
        }
    }};
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-q` was given: only warnings, errors and a command's output.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

pub use rollcall_files::shown::escape_controls;

/// Which face engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum EngineKind {
    /// The ONNX networks of the manifest.
    #[default]
    Onnx,
    /// The deterministic fake of `rollcall_models::fake`: painted synthetic
    /// faces only, for the fast tests.
    Fake,
}

/// Where the models come from.
#[derive(Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// Model cache directory [default: .models in the checkout, else ~/.cache/rollcall/models; env: ROLLCALL_MODELS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Use this model manifest instead of the built-in one [env: ROLLCALL_MANIFEST]
    #[arg(long, global = true, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The face engine (the fake one recognises painted test faces only)
    #[arg(long, global = true, value_enum, default_value_t, hide = true, env = "ROLLCALL_ENGINE")]
    pub engine: EngineKind,
}

impl ModelArgs {
    /// The models these flags name.
    pub fn source(&self) -> ModelSource {
        ModelSource { models_dir: self.models_dir.clone(), manifest: self.manifest.clone(), fake: self.engine == EngineKind::Fake }
    }

    /// The manifest: `--manifest`, else `ROLLCALL_MANIFEST`, else the built-in one.
    pub fn manifest(&self) -> Result<Manifest> {
        Ok(self.source().manifest()?)
    }

    /// The model cache with its manifest.
    pub fn store(&self) -> Result<ModelStore> {
        Ok(self.source().store()?)
    }

    /// The detector and recognizer named (or the manifest's defaults),
    /// fetched if needed and checked.
    pub fn load(&self, detector: Option<&str>, recognizer: Option<&str>) -> Result<Arc<dyn Models>> {
        self.load_scaled(detector, recognizer, DetectorScale::default())
    }

    /// [`load`](Self::load), with the detector seeing photos at `scale`.
    pub fn load_scaled(&self, detector: Option<&str>, recognizer: Option<&str>, scale: DetectorScale) -> Result<Arc<dyn Models>> {
        self.source().load(detector, recognizer, scale).context("cannot load the models")
    }

    /// The models a gallery was made with ([`ModelSource::load_for_gallery`]).
    pub fn load_for_gallery(&self, gallery: &Gallery) -> Result<Arc<dyn Models>> {
        self.source().load_for_gallery(gallery, None).context("cannot load the models")
    }

    /// The published same-person cosine of the recognizer called `name`
    /// ([`ModelSource::same_person_cosine`]).
    pub fn same_person_cosine(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.source().same_person_cosine(name)?)
    }
}

/// `--detector-scale`: how large the detector sees a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ScaleArg {
    /// Fine enough for the smallest face to keep (--min-size), in tiles
    /// for big photos, plus the whole photo fitted into 640 px for large
    /// faces
    #[default]
    Auto,
    /// Only the whole photo fitted into the detector's 640 px box (faster;
    /// misses faces under about 1/40 of the photo's width)
    Fit,
}

impl From<ScaleArg> for DetectorScale {
    fn from(s: ScaleArg) -> Self {
        match s {
            ScaleArg::Auto => DetectorScale::Auto,
            ScaleArg::Fit => DetectorScale::Fit,
        }
    }
}

/// `--classifier`: the four a gallery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classifier {
    /// Nearest centroid (cosine).
    Centroid,
    /// k nearest neighbours.
    Knn,
    /// One-vs-rest linear SVMs.
    Svm,
    /// Logistic regression.
    Logistic,
}

impl From<Classifier> for ClassifierKind {
    fn from(c: Classifier) -> Self {
        match c {
            Classifier::Centroid => ClassifierKind::NearestCentroid,
            Classifier::Knn => ClassifierKind::Knn,
            Classifier::Svm => ClassifierKind::LinearSvm,
            Classifier::Logistic => ClassifierKind::Logistic,
        }
    }
}

/// Panics unless the command and every subcommand under it are well formed
/// (unique argument and group names, valid defaults). clap checks a
/// subcommand only when it is parsed, so each program's tests call this.
pub fn assert_well_formed(command: &clap::Command) {
    command.clone().debug_assert();
    command.get_subcommands().for_each(assert_well_formed);
}

/// A clap value parser for a number that must lie in `lo..=hi` (and, for
/// floats, be finite): `#[arg(value_parser = rollcall_cli::range(0.0, 1.0))]`.
pub fn range<T>(lo: T, hi: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display + Send + Sync + 'static,
{
    move |text: &str| {
        let v: T = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
        check_range(v, lo, hi)
    }
}

/// `v` if it lies in `lo..=hi` (a NaN never does), else why not: for
/// settings read from files, with the same words as the flags.
pub fn check_range<T: PartialOrd + Copy + std::fmt::Display>(v: T, lo: T, hi: T) -> Result<T, String> {
    // `!(a <= b)` rather than `a > b`, so that NaN is refused.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let outside = !(lo <= v && v <= hi);
    if outside { Err(format!("{v} is outside {lo}..={hi}")) } else { Ok(v) }
}

/// [`check_range`], naming the setting (`window: 0 is outside 1..=1000`):
/// for settings that are checked after they are read, where the message
/// must say which one is wrong.
pub fn within<T: PartialOrd + Copy + std::fmt::Display>(name: &str, v: T, lo: T, hi: T) -> Result<T, String> {
    check_range(v, lo, hi).map_err(|why| format!("{name}: {why}"))
}

/// One worker per core.
pub fn default_jobs() -> usize {
    rollcall_models::runtime::default_workers()
}

/// Logs to stderr: `ROLLCALL_LOG` (a `tracing` filter) if set, else
/// warnings only (`quiet`), info, debug or everything as `verbose` grows.
/// Colour only on a terminal. Also installs the Ctrl-C handler.
pub fn init_logging(verbose: u8, quiet: bool) {
    rollcall_files::interrupt::install();
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info,ort=warn",
        (false, 1) => "debug,ort=warn",
        _ => "trace",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ROLLCALL_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if stderr_is_journal() {
        // The journal stamps every line itself.
        builder.without_time().init();
    } else {
        builder.init();
    }
}

/// Whether stderr is the systemd journal: systemd sets `JOURNAL_STREAM`
/// to the device and inode of the stream it connects (a child's stderr
/// redirected elsewhere keeps the variable but not the stream).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) =
        std::env::var("JOURNAL_STREAM").ok().and_then(|v| v.split_once(':').map(|(d, i)| (d.to_string(), i.to_string())))
    else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| m.dev().to_string() == dev && m.ino().to_string() == ino)
}

/// The end of `main`: success, or `error: ` and the error with its causes
/// on one line, each said once, control characters escaped. Ctrl-C exits
/// with 130, as shells expect.
pub fn exit(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", rollcall_files::shown::escape_controls(&describe(&e)));
            if e.chain().any(|c| c.is::<rollcall_files::interrupt::Interrupted>()) { ExitCode::from(130) } else { ExitCode::FAILURE }
        }
    }
}

/// An `anyhow` error and its causes as one line; see
/// [`rollcall_models::error::describe`].
pub fn describe(e: &anyhow::Error) -> String {
    rollcall_models::error::describe(e.as_ref())
}

/// `path` as one word of a shell command, quoted only when it must be.
pub fn shell_word(path: &std::path::Path) -> String {
    let s = path.display().to_string();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./-+=:,@%".contains(&b)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The word that runs `name` as this process was run, for a command the
/// user is told to type: `name` itself when the `name` on the PATH is this
/// very program, else this program's path (from the current folder when it
/// is below it). After the quick start's `cargo run`, which puts nothing
/// on the PATH, that is `target/debug/rollcall`, which runs as printed.
pub fn invocation(name: &str) -> String {
    let canonical = |p: &std::path::Path| std::fs::canonicalize(p).ok();
    let Some(me) = std::env::current_exe().ok().and_then(|p| canonical(&p)) else { return name.to_string() };
    if me.file_name().is_none_or(|f| f != name) {
        return name.to_string();
    }
    let on_path =
        std::env::var_os("PATH").map(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|c| c.is_file())).unwrap_or_default();
    if on_path.and_then(|p| canonical(&p)).is_some_and(|p| p == me) {
        return name.to_string();
    }
    let here = std::env::current_dir().ok().and_then(|d| canonical(&d));
    match here.as_deref().and_then(|d| me.strip_prefix(d).ok()) {
        Some(below) => shell_word(below),
        None => shell_word(&me),
    }
}

/// `step` with each command of this program (`rollcall review ...`)
/// written as [`invocation`] says it runs.
fn as_typed(step: &str) -> String {
    let Some(name) = std::env::current_exe().ok().and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned())) else {
        return step.to_string();
    };
    let word = invocation(&name);
    if word == name {
        return step.to_string();
    }
    let pattern = format!("{name} ");
    let mut out = String::with_capacity(step.len());
    let mut rest = step;
    while let Some(at) = rest.find(&pattern) {
        let before = rest[..at].chars().last();
        let after = rest[at + pattern.len()..].chars().next();
        let command = before.is_none_or(|c| " `(:".contains(c)) && after.is_some_and(|c| c.is_ascii_lowercase());
        out.push_str(&rest[..at]);
        out.push_str(if command { &word } else { &name });
        out.push(' ');
        rest = &rest[at + pattern.len()..];
    }
    out.push_str(rest);
    out
}

/// Says what the user does next, in a line or two with the exact command,
/// on stderr (stdout stays the command's own output) and not with `-q`
/// ([`quiet`]). The commands are written as they run here ([`invocation`]).
pub fn next_steps(steps: &[String]) {
    if quiet() {
        return;
    }
    for (i, step) in steps.iter().enumerate() {
        eprintln!("{} {}", if i == 0 { "next:" } else { "     " }, escape_controls(&as_typed(step)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifier_names_match_the_gallery() {
        for c in Classifier::value_variants() {
            let kind = ClassifierKind::from(*c);
            let name = c.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(kind.name()));
        }
    }

    #[test]
    fn ranges_refuse_nan_infinity_and_out_of_range_values() {
        let unit = range(0.0f32, 1.0);
        assert_eq!(unit("0.7"), Ok(0.7));
        for bad in ["nan", "NaN", "inf", "-inf", "5", "-0.1", "1e20", "x"] {
            assert!(unit(bad).is_err(), "{bad}");
        }
        let count = range(1usize, 1000);
        assert_eq!(count("3"), Ok(3));
        assert!(count("0").is_err() && count("-1").is_err());
        assert!(check_range(f64::NAN, 0.0, 1.0).is_err());
        assert_eq!(within("window", 0usize, 1, 1000), Err("window: 0 is outside 1..=1000".to_string()));
        assert!(within("iou", f32::NAN, 0.0, 1.0).is_err_and(|e| e.starts_with("iou: ")));
        assert_eq!(within("iou", 0.3f32, 0.0, 1.0), Ok(0.3));
    }

    #[test]
    fn the_fake_engine_needs_no_model_files() {
        let args = ModelArgs { engine: EngineKind::Fake, models_dir: Some("/nonexistent".into()), ..ModelArgs::default() };
        let m = args.load(None, None).unwrap();
        assert_eq!(m.card().recognizer.name, rollcall_models::fake::RECOGNIZER);
        assert_eq!(args.same_person_cosine(rollcall_models::fake::RECOGNIZER).unwrap(), Some(0.5));
    }
}
