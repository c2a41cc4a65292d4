//! A gallery replaced while the device runs: swapped in between frames
//! without a restart, a `reload` event says so, people it no longer has
//! leave, and a broken replacement is refused while the old gallery keeps
//! working. A `dir:` replay at a fixed rate (`--fps`) stands in for the
//! camera. Fake engine, committed tiny gallery: a few seconds.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rollcall_shared::gallery::Gallery;
use rollcall_testkit::{synthetic, tiny_gallery};

/// Replaces `path` atomically, as `rollcall export` or a careful copy does.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[test]
fn a_replaced_gallery_is_swapped_in_and_a_broken_one_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stills = dir.path().join("stills");
    // Ada and Ben in view for 100 frames, at 50 frames/s: two seconds.
    for n in 0..100 {
        synthetic::photo(&stills.join(format!("{n:03}.png")), &[(101, 1), (102, 1)]);
    }
    let gallery = dir.path().join("gallery.rcg");
    let tiny = std::fs::read(tiny_gallery()).expect("tiny gallery");
    std::fs::write(&gallery, &tiny).expect("write");
    // The school's new gallery calls Ben's face "bea" and has no "ben".
    let mut renamed = Gallery::decode(&tiny).expect("decode");
    let ben = renamed.labels.iter().position(|l| l == "ben").expect("ben");
    renamed.labels[ben] = "bea".into();
    let renamed = renamed.encode().expect("encode");

    let mut child = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "warn")
        .arg("--gallery")
        .arg(&gallery)
        .arg("--source")
        .arg(format!("dir:{}", stills.display()))
        .args(["--heartbeat-secs", "0", "--fps", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rollcall-device");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let e: serde_json::Value = serde_json::from_str(&line.expect("line")).expect("a JSON line");
        let tag = format!("{} {}", e["event"].as_str().unwrap_or("?"), e["label"].as_str().unwrap_or(""));
        if tag == "arrived ben" {
            // First a broken file, then, a few frames later, the good one.
            replace(&gallery, b"half a gallery");
            std::thread::sleep(std::time::Duration::from_millis(300));
            replace(&gallery, &renamed);
        }
        if e["event"] == "reload" {
            assert_eq!(e["people"], 3, "{e}");
            assert_eq!(e["added"], serde_json::json!(["bea"]), "{e}");
            assert_eq!(e["removed"], serde_json::json!(["ben"]), "{e}");
        }
        seen.push(tag.trim().to_string());
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("gallery.rcg") && stderr.contains("the old gallery stays in use"), "the broken file is refused: {stderr}");
    let at = |t: &str| seen.iter().position(|s| s == t).unwrap_or_else(|| panic!("no `{t}` in {seen:?}"));
    assert!(at("arrived ada") < at("left ben"), "{seen:?}");
    assert!(at("left ben") < at("reload"), "{seen:?}");
    assert!(at("reload") < at("arrived bea"), "{seen:?}");
    // Ada stayed present through both replacements: she arrived once and
    // left only at the end of the replay.
    assert_eq!(seen.iter().filter(|s| *s == "arrived ada").count(), 1, "{seen:?}");
    assert_eq!(seen.iter().filter(|s| s.starts_with("left ")).count(), 3, "ben at the reload, ada and bea at the end: {seen:?}");
}
