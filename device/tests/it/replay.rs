//! `rollcall-device` end to end on the fake engine: a `dir:` source replays
//! synthetic frames (a known person, nobody, a stranger, two known people)
//! against the committed tiny gallery, and stdout carries exactly the
//! expected events. Seconds, no models.

use std::path::Path;
use std::process::Command;

use rollcall_testkit::{synthetic, tiny_gallery};

fn device() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall-device"));
    c.env("ROLLCALL_ENGINE", "fake").env("ROLLCALL_LOG", "warn");
    c
}

fn frames(dir: &Path, script: &[(&[(u64, u64)], usize)]) {
    let mut n = 0;
    for (faces, times) in script {
        for _ in 0..*times {
            n += 1;
            let path = dir.join(format!("{n:03}.png"));
            if faces.is_empty() {
                synthetic::empty(&path)
            } else {
                synthetic::photo(&path, faces)
            };
        }
    }
}

fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn replayed_frames_give_the_expected_events() {
    let stills = tempfile::tempdir().expect("temp dir");
    // ada is identity 101, ben 102 (see rollcall_testkit::TINY_PEOPLE).
    frames(stills.path(), &[(&[(101, 20)], 4), (&[], 6), (&[(555, 1)], 4), (&[(101, 21), (102, 21)], 3)]);
    let out = device()
        .arg("--gallery")
        .arg(tiny_gallery())
        .arg("--source")
        .arg(format!("dir:{}", stills.path().display()))
        .args(["--heartbeat-secs", "0"])
        .output()
        .expect("run rollcall-device");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let events = events(&out.stdout);
    let seq: Vec<String> =
        events.iter().map(|e| format!("{} {}", e["event"].as_str().unwrap_or("?"), e["label"].as_str().unwrap_or("?"))).collect();
    assert_eq!(
        seq,
        [
            "arrived ada", // third frame of ada
            "left ada",    // fifth empty frame
            "arrived unknown",
            "arrived ada",
            "arrived ben",
            // End of the stills: everyone present leaves.
            "left ada",
            "left ben",
            "left unknown",
        ],
        "{stderr}"
    );
    for e in &events {
        assert!(e["score"].is_number() && e["ts"].as_f64().is_some_and(|t| t > 1.7e9), "{e}");
    }
}

#[test]
fn a_gallery_for_other_models_is_refused_at_start() {
    let mut g = rollcall_shared::gallery::read_file(&tiny_gallery()).expect("fixture");
    g.recognizer_sha256 = [7; 32];
    let dir = tempfile::tempdir().expect("temp dir");
    let other = dir.path().join("other.rcg");
    std::fs::write(&other, g.encode().expect("encode")).expect("write");
    let still = synthetic::photo(&dir.path().join("a.png"), &[(101, 1)]);
    let out = device().arg("--gallery").arg(&other).arg("--source").arg(format!("image:{}", still.display())).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("other.rcg") && stderr.contains("different recognizer"), "{stderr}");
}
