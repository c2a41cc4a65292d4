//! The device binary end to end: a `dir:` source replaying shared photos
//! (a known person, nobody, a stranger, two known people) against a gallery
//! built from other shared photos gives the exact expected events on stdout.

use std::path::Path;
use std::process::Command;

use rollcall_tests::{faces_dir, gallery_of};

fn link(dir: &Path, n: usize, photo: &str) {
    std::os::unix::fs::symlink(faces_dir().join(photo), dir.join(format!("{n:03}.jpg"))).expect("link still");
}

#[test]
fn replayed_stills_give_the_expected_events() {
    // Obama and Biden from photos other than the ones replayed.
    let (_dir, gallery) = gallery_of(&[
        ("obama", &["misc_small/obama/obama.jpg", "misc_small/obama/obama1.jpg", "misc_small/obama/obama2.jpg"]),
        ("biden", &["misc_small/biden/biden2.jpg"]),
    ]);
    let stills = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    let mut add = |photo: &str, times: usize| {
        for _ in 0..times {
            n += 1;
            link(stills.path(), n, photo);
        }
    };
    add("misc_small/obama/obama3.jpg", 4); // Obama alone: arrives on the 3rd frame
    add("deepface/_nonface/dlib_eagle.jpg", 6); // nobody: Obama leaves after 5 empty frames
    add("misc_small/kit_harington/john1.jpg", 4); // a stranger: "unknown" arrives on the 3rd
    add("misc_small/_group/two_people.jpg", 3); // Obama and Biden together: both arrive on the 3rd
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .arg("--gallery")
        .arg(&gallery)
        .arg("--source")
        .arg(format!("dir:{}", stills.path().display()))
        .args(["--heartbeat-secs", "0", "--threads", "2"])
        .output()
        .expect("run rollcall-device");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let seq: Vec<String> =
        events.iter().map(|e| format!("{} {}", e["event"].as_str().unwrap_or("?"), e["label"].as_str().unwrap_or("?"))).collect();
    assert_eq!(
        seq,
        [
            "arrived obama",
            "left obama",
            "arrived unknown",
            "arrived biden",
            "arrived obama",
            // End of the stills: everyone present leaves.
            "left biden",
            "left obama",
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
    let (_dir, gallery) = gallery_of(&[("obama", &["misc_small/obama/obama.jpg"]), ("biden", &["misc_small/biden/biden2.jpg"])]);
    let mut g = rollcall_shared::gallery::Gallery::decode(&std::fs::read(&gallery).expect("read")).expect("decode");
    g.recognizer_sha256 = [7; 32];
    let other = gallery.with_file_name("other.rcg");
    std::fs::write(&other, g.encode().expect("encode")).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rollcall-device"))
        .arg("--gallery")
        .arg(&other)
        .args(["--source", "image:/nonexistent.jpg"])
        .output()
        .expect("run rollcall-device");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("other.rcg") && stderr.contains("different recognizer"), "{stderr}");
}
