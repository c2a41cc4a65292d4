//! The device loop on the real models: a `dir:` source replaying shared
//! photos (a known person, nobody, a stranger, two known people) against a
//! gallery built from other shared photos gives exactly the expected
//! events. (The binary's own parsing is covered by the device's fast tests,
//! and the aarch64 build by `scripts/cross-aarch64.sh`.)

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rollcall_device::events::Event;
use rollcall_device::settings::{Options, Settings};
use rollcall_device::sinks::Sink;
use rollcall_tests::{faces_dir, gallery_of};

/// Every event, kept for the test to read.
#[derive(Clone, Default)]
struct Recorded(Rc<RefCell<Vec<Event>>>);

impl Sink for Recorded {
    fn emit(&mut self, e: &Event) -> rollcall_device::Result<()> {
        self.0.borrow_mut().push(e.clone());
        Ok(())
    }
}

fn settings(gallery: &Path, source: String) -> Settings {
    let options = Options {
        gallery: Some(gallery.to_path_buf()),
        source: Some(source),
        heartbeat_secs: Some(0.0),
        no_stdout: true,
        threads: Some(2),
        ..Options::default()
    };
    Settings::resolve(&options).expect("settings")
}

fn replay(gallery: &Path, source: String) -> anyhow::Result<Vec<Event>> {
    let recorded = Recorded::default();
    rollcall_device::run::run_with(&settings(gallery, source), &mut [Box::new(recorded.clone())])?;
    Ok(recorded.0.take())
}

fn link(dir: &Path, n: usize, photo: &str) -> PathBuf {
    let to = dir.join(format!("{n:03}.jpg"));
    std::os::unix::fs::symlink(faces_dir().join(photo), &to).expect("link still");
    to
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
    add("misc_small/obama/obama3.jpg", 4); // Obama alone: arrives on the 3rd
    add("deepface/_nonface/dlib_eagle.jpg", 6); // nobody: Obama leaves after 5 empty frames
    add("misc_small/kit_harington/john1.jpg", 4); // a stranger: "unknown" arrives on the 3rd
    add("misc_small/_group/two_people.jpg", 3); // Obama and Biden together: both arrive on the 3rd
    let events = replay(&gallery, format!("dir:{}", stills.path().display())).expect("replay");
    let seq: Vec<String> = events.iter().map(|e| format!("{:?} {}", e.event, e.label.as_deref().unwrap_or("?"))).collect();
    assert_eq!(
        seq,
        [
            "Arrived obama",
            "Left obama",
            "Arrived unknown",
            "Arrived biden",
            "Arrived obama",
            // End of the stills: everyone present leaves.
            "Left biden",
            "Left obama",
            "Left unknown",
        ]
    );
    for e in &events {
        assert!(e.score.is_some_and(f32::is_finite) && e.ts > 1.7e9, "{e:?}");
    }
}

#[test]
fn a_gallery_for_other_models_is_refused_at_start() {
    let (dir, gallery) = gallery_of(&[("obama", &["misc_small/obama/obama.jpg"]), ("biden", &["misc_small/biden/biden2.jpg"])]);
    let mut g = rollcall_shared::gallery::read_file(&gallery).expect("decode");
    g.recognizer_sha256 = [7; 32];
    let other = dir.path().join("other.rcg");
    std::fs::write(&other, g.encode().expect("encode")).expect("write");
    let still = link(dir.path(), 1, "misc_small/obama/obama3.jpg");
    let err = replay(&other, format!("image:{}", still.display())).expect_err("refused");
    let msg = rollcall_cli::describe(&err);
    assert!(msg.contains("other.rcg") && msg.contains("different recognizer"), "{msg}");
}
