//! Helpers of the fast tests: the `rollcall` binary on the fake engine, and
//! synthetic photo folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
pub(crate) use rollcall_testkit::synthetic;

/// `rollcall` on the fake engine, logging warnings only (what it says of
/// its work still reaches stdout, where the tests read it), with the
/// user's state and keys folders in a folder of the test run's own (the
/// serials `export --sign` records stay out of the real home).
pub(crate) fn rollcall() -> Command {
    let mut c = Command::cargo_bin("rollcall").expect("the rollcall binary");
    c.env("ROLLCALL_ENGINE", "fake").env("ROLLCALL_LOG", "warn").env("XDG_STATE_HOME", home().join("state"));
    c.env("ROLLCALL_KEYS_DIR", home().join("keys"));
    c
}

/// A home for this test process's runs, in the temporary folder (never the
/// user's own).
fn home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("a temp dir")).path()
}

/// Runs `rollcall` with `args`, expects success, returns stdout.
pub(crate) fn ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = rollcall().args(args.iter().map(|a| a.as_ref())).output().expect("run rollcall");
    assert!(
        out.status.success(),
        "rollcall {:?} failed: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `rollcall` with `args`, expects failure, returns stderr.
pub(crate) fn fails(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = rollcall().args(args.iter().map(|a| a.as_ref())).output().expect("run rollcall");
    assert!(!out.status.success(), "rollcall {:?} should have failed", args.iter().map(|a| a.as_ref()).collect::<Vec<_>>());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Four painted people, four photos each, plus a group photo of two of them
/// and a photo with no face: `(folder, truth)`.
pub(crate) fn classroom(dir: &Path) -> (PathBuf, Vec<(String, PathBuf)>) {
    let photos = dir.join("photos");
    let truth = synthetic::portraits(&photos, &[11, 12, 13, 14], 4);
    synthetic::photo(&photos.join("_group").join("pair.png"), &[(11, 9), (12, 9)]);
    synthetic::empty(&photos.join("_group").join("empty.png"));
    (photos, truth)
}

/// The classroom run into `dir/work` and its folders named after the
/// people their faces are of: `(photos, work)`.
pub(crate) fn named_classroom(dir: &Path) -> (PathBuf, PathBuf) {
    let (photos, _) = classroom(dir);
    let work = dir.join("work");
    ok(&[&"run", &photos, &"--out", &work]);
    name_clusters(&work, &photos);
    (photos, work)
}

/// Renames the cluster folders of `work` to the people their chips came
/// from, as a user would: each folder takes the name most of its faces have
/// in `truth`.
pub(crate) fn name_clusters(work: &Path, photos: &Path) {
    let rows: Vec<rollcall_host::artifacts::metadata::MetadataRow> =
        rollcall_host::artifacts::metadata::read(&work.join("metadata.csv")).expect("metadata.csv");
    let clusters = work.join("clusters");
    for entry in std::fs::read_dir(&clusters).expect("clusters").filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("person_") {
            continue;
        }
        let mut votes = std::collections::BTreeMap::<String, usize>::new();
        for chip in std::fs::read_dir(entry.path()).expect("folder").filter_map(Result::ok) {
            let file = chip.file_name().to_string_lossy().into_owned();
            let row = rows.iter().find(|r| r.aligned_file == file).expect("chip in metadata.csv");
            let rel = Path::new(&row.original_file).strip_prefix(photos).expect("photo under the input");
            let who = rel.components().next().expect("a folder").as_os_str().to_string_lossy().into_owned();
            *votes.entry(who).or_default() += 1;
        }
        let who = votes.into_iter().max_by_key(|(_, n)| *n).expect("a face").0;
        std::fs::rename(entry.path(), clusters.join(who)).expect("rename");
    }
}
