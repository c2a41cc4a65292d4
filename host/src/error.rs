//! The host library's errors. Each names the file or setting it concerns and
//! keeps its cause as a `source`, so that callers and tests match variants
//! and the CLI prints the whole chain, each part once.

use rollcall_files::shown;
use std::path::{Path, PathBuf};

use rollcall_shared::gallery::GalleryError;

/// Result alias for the host library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a host command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}", shown(path))]
    Read {
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file or folder could not be written, created or removed.
    #[error("cannot write {}", shown(path))]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A folder could not be listed.
    #[error(transparent)]
    List(#[from] rollcall_files::photos::ListError),
    /// A folder is not rollcall's to write into, or another command holds it.
    #[error(transparent)]
    Owned(#[from] rollcall_files::owned::OwnedError),
    /// Person folders nobody named yet.
    #[error(
        "{} still has {} folder(s) nobody named: {}. Rename each to the person's name, in `rollcall review` or a file \
         manager. Strangers' folders: name them `unknown`, `unknown 2`, `unknown_3` ... (or start the name with `_`), or move \
         them into one `unknown` folder (folders inside it are used too). Or pass --include-unnamed to learn them as they are",
        rollcall_files::shown(clusters),
        folders.len(),
        folders.join(", ")
    )]
    Unnamed {
        /// The clusters folder.
        clusters: PathBuf,
        folders: Vec<String>,
    },
    /// A secret key asked for inside a git work tree.
    #[error(
        "{} is inside the git work tree {}: `git add .` would commit the secret key. Keep keys out of work trees: \
         `rollcall keygen NAME` writes them to {}; or give --out a path outside the work tree",
        rollcall_files::shown(path),
        rollcall_files::shown(repo),
        default.as_deref().map(|d| rollcall_files::shown(d).to_string()).unwrap_or_else(|| "~/.config/rollcall/keys".to_string())
    )]
    KeyInWorkTree {
        /// The key file asked for.
        path: PathBuf,
        /// The work tree.
        repo: PathBuf,
        /// Where keys go by default.
        default: Option<PathBuf>,
    },
    /// Person folders whose names no label may have.
    #[error(
        "{}: {} cannot name a person:\n{}\nrename each (or start it with _ to leave its faces out)",
        rollcall_files::shown(clusters),
        if folders.len() == 1 { "this folder" } else { "these folders" },
        folders.iter().map(|(f, why)| format!("  {}: {why}", rollcall_files::shown_str(f))).collect::<Vec<_>>().join("\n")
    )]
    BadNames {
        /// The clusters folder.
        clusters: PathBuf,
        /// Each folder with why.
        folders: Vec<(String, rollcall_shared::names::NameError)>,
    },
    /// A label in a model or gallery that no name may be.
    #[error("{}: the label `{}` cannot name a person: {source}", rollcall_files::shown(path), rollcall_files::shown_str(label))]
    BadLabel {
        /// The model or gallery.
        path: PathBuf,
        /// The label.
        label: String,
        /// Why.
        #[source]
        source: rollcall_shared::names::NameError,
    },
    /// `forget` was asked for someone with no folder.
    #[error(
        "{} has no folder called `{name}`{}",
        rollcall_files::shown(clusters),
        if known.is_empty() { String::new() } else { format!(" (it has {})", known.join(", ")) }
    )]
    NoSuchPerson {
        /// The clusters folder.
        clusters: PathBuf,
        name: String,
        /// The people it has.
        known: Vec<String>,
    },
    /// Two person folders whose names are one name written two ways.
    #[error(
        "{}: `{}` and `{}` are one name written two ways (case, accents or letters that look the same); merge the two folders",
        rollcall_files::shown(clusters),
        rollcall_files::shown_str(a),
        rollcall_files::shown_str(b)
    )]
    SameName {
        /// The clusters folder.
        clusters: PathBuf,
        a: String,
        b: String,
    },
    /// Another `rollcall review` serves the work directory.
    #[error(
        "another `rollcall review`{} is open on {}; use that page, or stop it first",
        holder.map(|p| format!(" (process {p})")).unwrap_or_default(),
        rollcall_files::shown(path)
    )]
    ReviewRunning {
        /// The work directory.
        path: PathBuf,
        /// The other session's process, if it said.
        holder: Option<u32>,
    },
    /// The output file is there and rollcall did not write it.
    #[error(
        "{} exists and is not {what}; rollcall does not write over files it did not make: choose another name",
        rollcall_files::shown(path)
    )]
    NotOurFile {
        /// The file.
        path: PathBuf,
        /// What rollcall would have written there.
        what: &'static str,
    },
    /// A file that must be new is already there.
    #[error("{} exists already ({what}); rollcall never overwrites it: choose another name", rollcall_files::shown(path))]
    Exists {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A key file that does not parse.
    #[error("{}", rollcall_files::shown(path))]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: rollcall_shared::signature::SignatureError,
    },
    /// `train --strict` and faces or folders that look like label mistakes.
    #[error("{count} look like label mistakes (--strict refuses to train with them): {listing}")]
    Suspects {
        /// How many faces and folder pairs.
        count: usize,
        /// Them, in words.
        listing: String,
    },
    /// A setting is out of range.
    #[error("{name} = {value}: {reason}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: String,
        /// The range it must lie in.
        reason: String,
    },
    /// Ctrl-C: the photos in flight finished, no new one started.
    #[error("the command stopped")]
    Interrupted(#[from] rollcall_files::interrupt::Interrupted),
    /// A JSON artifact is malformed.
    #[error("{}: malformed", shown(path))]
    Json {
        path: PathBuf,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV artifact is malformed or could not be encoded.
    #[error("{}: malformed", shown(path))]
    Csv {
        path: PathBuf,
        /// The complaint.
        #[source]
        source: csv::Error,
    },
    /// The embedding table could not be read or written as Parquet.
    #[error("{}: not a readable embedding table", shown(path))]
    Parquet {
        path: PathBuf,
        /// The complaint.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The embedding table has the wrong shape.
    #[error("{}: {reason}", shown(path))]
    Table {
        /// The file (or the stage building it).
        path: PathBuf,
        reason: String,
    },
    /// An image could not be encoded.
    #[error("cannot encode {}", shown(path))]
    Encode {
        /// The file it was meant for.
        path: PathBuf,
        /// The encoder's complaint.
        #[source]
        source: image::ImageError,
    },
    /// A chart could not be drawn.
    #[error("cannot draw {}: {reason}", shown(path))]
    Chart { path: PathBuf, reason: String },
    /// Models could not be found, fetched, checked or run.
    #[error(transparent)]
    Models(#[from] rollcall_models::Error),
    /// Models the caller loads lazily could not be loaded.
    #[error("cannot load the models")]
    LoadModels(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A gallery file could not be read.
    #[error(transparent)]
    GalleryFile(#[from] rollcall_shared::gallery::FileError),
    /// A gallery is inconsistent, or was made with other models.
    #[error("{}", shown(path))]
    Gallery {
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: GalleryError,
    },
    /// A program a benchmark runs could not start, or failed.
    #[error("{}: {reason}", shown(program))]
    Program {
        /// The program.
        program: PathBuf,
        /// What went wrong.
        reason: String,
        /// The cause, where the system gave one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Worker threads could not start.
    #[error("cannot start worker threads")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    /// No photo under the input.
    #[error("{}: no photos found (looked for {})", shown(path), rollcall_files::photos::EXTENSIONS.join(", "))]
    NoPhotos { path: PathBuf },
    /// Too few faces for the analysis asked for.
    #[error("only {faces} faces: {what} needs at least {needed}")]
    TooFewFaces { faces: usize, needed: usize, what: &'static str },
    /// The k range cannot be swept.
    #[error("the k range {k_min}..={k_max} is invalid: silhouettes need k >= 2 and k_min <= k_max")]
    KRange {
        /// Smallest k asked for.
        k_min: usize,
        /// Largest k asked for.
        k_max: usize,
    },
    /// Fewer than two clusters asked for.
    #[error("k = {k}: the silhouette is undefined with fewer than 2 clusters; pass --k 2 or more")]
    KBelowTwo {
        /// The k asked for.
        k: usize,
    },
    /// More clusters asked for than there are faces to fill them.
    #[error("k = {k} needs more faces: only {inliers} are not outliers")]
    KTooLarge {
        /// The k asked for.
        k: usize,
        /// Faces that are not outliers.
        inliers: usize,
    },
    /// `clusters/` holds the user's labels and `--force` was not given.
    #[error(
        "{} already exists and may hold your labels (renamed folders, moved faces). Re-run with --force to re-cluster: \
         rollcall then removes only the chips it wrote that are still where it put them, unchanged; renamed folders and \
         anything you moved or added stay.",
        shown(dir)
    )]
    ClustersInUse { dir: PathBuf },
    /// Training needs at least two people.
    #[error("{}: found {found} people (folders with faces); training needs at least 2", shown(dir))]
    TooFewPeople { dir: PathBuf, found: usize },
    /// The work directory's chips came from another recognizer than the one loaded.
    #[error("the chips in {} were embedded with another recognizer than the one loaded; embed them again", shown(dir))]
    RecognizerMismatch { dir: PathBuf },
    /// A work directory does not record which model made its data.
    #[error("{}: no valid {which} sha256", shown(dir))]
    NoModelHash {
        dir: PathBuf,
        /// `detector` or `recognizer`.
        which: &'static str,
    },
    /// A classifier could not be fitted.
    #[error("{what}: {reason}")]
    Fit { what: String, reason: String },
    /// A value given on the command line is not of the right form.
    #[error("{what} `{value}`: expected {expected}")]
    BadValue { what: &'static str, value: String, expected: &'static str },
    /// An earlier stage's output is missing.
    #[error("{}: missing; {hint}", shown(path))]
    Missing {
        /// The file or folder.
        path: PathBuf,
        /// Which command makes it.
        hint: &'static str,
    },
    /// The command needs the ONNX networks themselves, not the fake engine.
    #[error("{command} rewrites the ONNX networks; it cannot run on the fake engine")]
    NeedsOnnx { command: &'static str },
    /// The truth for `evaluate` is unusable.
    #[error("{}: {reason}", shown(path))]
    Truth {
        /// The truth file or folder.
        path: PathBuf,
        reason: String,
    },
}

impl Error {
    /// `value` if it lies in `lo..=hi` (a NaN never does), else a
    /// [`Error::Setting`] naming it.
    pub fn check<T: PartialOrd + Copy + std::fmt::Display>(name: &'static str, value: T, lo: T, hi: T) -> Result<T> {
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let outside = !(lo <= value && value <= hi);
        if outside {
            return Err(Error::Setting { name, value: value.to_string(), reason: format!("must lie in {lo}..={hi}") });
        }
        Ok(value)
    }

    /// A read failure of `path`.
    pub fn read(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Read { path: path.to_path_buf(), source }
    }

    /// A write failure of `path`.
    pub fn write(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Write { path: path.to_path_buf(), source }
    }
}
