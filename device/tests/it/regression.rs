//! One test per device bug, each named after it and telling its story. They
//! run the `rollcall-device` binary on the fake engine and the committed
//! tiny gallery: seconds, no models.

use std::path::Path;
use std::process::{Command, Output};

use rollcall_testkit::{synthetic, tiny_gallery};

fn device(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "warn")
        .args(args)
        .output()
        .expect("run rollcall-device")
}

fn still(dir: &Path) -> String {
    format!("image:{}", synthetic::photo(&dir.join("a.png"), &[(101, 1)]).display())
}

fn refused(out: &Output, wants: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code().filter(|c| *c != 101), out.status.code(), "a panic: {stderr}");
    assert!(!out.status.success(), "accepted: {stderr}");
    assert!(stderr.contains(wants), "wanted `{wants}` in: {stderr}");
}

/// `--heartbeat-secs 1e20`, or `heartbeat_secs = inf` in device.toml,
/// panicked with `cannot convert float seconds to Duration` (exit 101).
#[test]
fn regression_huge_heartbeat_panicked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = tiny_gallery();
    let source = still(dir.path());
    for bad in ["1e20", "inf", "nan", "-1"] {
        let out = device(&["--gallery", &gallery.to_string_lossy(), "--source", &source, &format!("--heartbeat-secs={bad}")]);
        refused(&out, "heartbeat_secs");
    }
    let config = dir.path().join("device.toml");
    std::fs::write(&config, "heartbeat_secs = inf\n").expect("write");
    let out = device(&["--gallery", &gallery.to_string_lossy(), "--source", &source, "--config", &config.to_string_lossy()]);
    refused(&out, "heartbeat_secs");
    std::fs::write(&config, "[smoothing]\nwindow = 0\n").expect("write");
    let out = device(&["--gallery", &gallery.to_string_lossy(), "--source", &source, "--config", &config.to_string_lossy()]);
    refused(&out, "window");
}

/// A `[smoothing]` table had to carry every key; now each has its default.
#[test]
fn regression_smoothing_table_needed_every_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("device.toml");
    std::fs::write(&config, format!("gallery = {:?}\nheartbeat_secs = 0\n[smoothing]\npresent_after = 2\n", tiny_gallery()))
        .expect("write");
    let out = device(&["--source", &still(dir.path()), "--config", &config.to_string_lossy()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `--source image:/nonexistent.jpg` warned and exited 0: a source that
/// cannot be read at start is a mistake in the settings.
#[test]
fn regression_unreadable_source_exited_0() {
    let gallery = tiny_gallery();
    let out = device(&["--gallery", &gallery.to_string_lossy(), "--source", "image:/nonexistent.jpg"]);
    refused(&out, "/nonexistent.jpg");
    let out = device(&["--gallery", &gallery.to_string_lossy(), "--source", "dir:/nonexistent"]);
    refused(&out, "/nonexistent");
}

/// `--led Nobody=17` was accepted although the gallery has no Nobody: the
/// LED would have stayed dark forever without a word.
#[test]
fn regression_led_for_a_label_the_gallery_lacks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = tiny_gallery();
    let source = still(dir.path());
    let out = device(&["--gallery", &gallery.to_string_lossy(), "--source", &source, "--led", "Nobody=17", "--gpio", "dry-run"]);
    refused(&out, "the gallery has no `Nobody`");
    let out = device(&[
        "--gallery",
        &gallery.to_string_lossy(),
        "--source",
        &source,
        "--led",
        "ada=17",
        "--led",
        "unknown=27",
        "--gpio",
        "dry-run",
        "--heartbeat-secs",
        "0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A gallery whose vectors had 64 values while the recognizer makes 128 was
/// accepted, and compared on a prefix.
#[test]
fn regression_gallery_of_another_dimension_was_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = rollcall_shared::gallery::read_file(&tiny_gallery()).expect("fixture");
    let d = 64;
    let cut = |v: &rollcall_shared::gallery::Vectors, rows: usize| {
        let mut all = vec![0f32; rows * d];
        let mut row = vec![0f32; g.dim as usize];
        for r in 0..rows {
            v.row_into(r, g.dim as usize, &mut row);
            all[r * d..(r + 1) * d].copy_from_slice(&row[..d]);
        }
        rollcall_shared::gallery::Vectors::encode(&all, d, rollcall_shared::gallery::VectorForm::F32)
    };
    g.centroids = cut(&g.centroids, g.people());
    g.knn_refs = cut(&g.knn_refs, g.knn_labels.len());
    for m in [&mut g.svm, &mut g.logistic] {
        m.weights = m.weights.chunks(g.dim as usize).flat_map(|w| w[..d].to_vec()).collect();
    }
    g.dim = d as u16;
    let short = dir.path().join("short.rcg");
    std::fs::write(&short, g.encode().expect("encode")).expect("write");
    let out = device(&["--gallery", &short.to_string_lossy(), "--source", &still(dir.path())]);
    refused(&out, "holds 64-d embeddings, the recognizer makes 128-d ones");
}

/// With identities carried from frame to frame, a stranger who took ada's
/// place in the next still (same box, give or take 5 px) kept the name
/// `unknown`'s track had, and ada, who came back into the stranger's
/// place, never arrived: a replay of stills is a sequence of cuts, and the
/// box alone cannot tell. The aligned chip's likeness to the embedded one
/// now can.
#[test]
fn regression_someone_else_in_the_same_place_kept_the_old_identity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stills = dir.path().join("stills");
    let mut n = 0;
    for (face, times) in [((555, 1), 4), ((101, 1), 4), ((102, 1), 4)] {
        for _ in 0..times {
            n += 1;
            synthetic::photo(&stills.join(format!("{n:03}.png")), &[face]);
        }
    }
    let out = device(&[
        "--gallery",
        &tiny_gallery().to_string_lossy(),
        "--source",
        &format!("dir:{}", stills.display()),
        "--heartbeat-secs",
        "0",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let arrived: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "arrived")
        .map(|e| e["label"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(arrived, ["unknown", "ada", "ben"]);
}

/// Files that are not files. The gallery path replaced by a FIFO blocked
/// the device at start with no frame and no log line; replaced by a link to
/// `/dev/zero`, it grew to 1.9 GB resident in 4 s before "out of memory".
/// The same for the trusted key and the settings file. Every file the
/// device reads is now opened without blocking, checked to be a regular
/// file on the handle and read with a cap.
#[test]
fn regression_a_fifo_or_dev_zero_as_the_gallery_hung_or_exhausted_the_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = still(dir.path());
    let fifo = dir.path().join("fifo.rcg");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let zero = dir.path().join("zero.rcg");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    for (path, kind) in [(&fifo, "FIFO"), (&zero, "device")] {
        let p = path.to_string_lossy();
        refused(&device(&["--gallery", &p, "--source", &source]), &format!("not a regular file (a {kind})"));
        let tiny = tiny_gallery();
        let g = tiny.to_string_lossy();
        let state = dir.path().join("state");
        refused(
            &device(&["--gallery", &g, "--source", &source, "--trust", &p, "--state-dir", &state.to_string_lossy()]),
            "not a regular file",
        );
        refused(&device(&["--config", &p, "--gallery", &g, "--source", &source]), "not a regular file");
    }
}
