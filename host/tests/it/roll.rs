//! `rollcall roll` on the fake engine: a class photo of painted faces named
//! against a gallery, present and absent, a stranger, a face too small to
//! name, several photos of one morning, and the folders it refuses.

use crate::common;

use std::path::Path;

use common::{classroom, fails, name_clusters, ok};
use rollcall_host::artifacts::predictions::{TOO_SMALL_TO_NAME, UNKNOWN};
use rollcall_host::artifacts::roll::{self, Status};
use rollcall_models::fake::{PaintedFace, scene};

/// A gallery of the four painted people p11..p14.
fn gallery(dir: &Path) -> std::path::PathBuf {
    let (photos, _) = classroom(dir);
    let work = dir.join("work");
    ok(&[&"run", &photos, &"--out", &work]);
    name_clusters(&work, &photos);
    let model = dir.join("model");
    ok(&[&"train", &work.join("clusters"), &"--out", &model]);
    let gallery = dir.join("class.rcg");
    ok(&[&"export", &model, &"--out", &gallery]);
    gallery
}

/// A 640 x 360 photo of painted faces `(identity, side)`, side by side.
fn class_photo(path: &Path, faces: &[(u64, u32)]) {
    let mut x = 10;
    let painted: Vec<PaintedFace> = faces
        .iter()
        .map(|&(id, side)| {
            let f = PaintedFace::new(x, 40, side, id, 77);
            x += side + 20;
            f
        })
        .collect();
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
    scene(640, 360, 5, &painted).save(path).expect("save");
}

#[test]
fn a_class_photo_gives_everyone_present_or_absent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = gallery(dir.path());
    let morning = dir.path().join("morning");
    // p11 large, p12 at 45 px (found, too small to name), a stranger (99);
    // p13 in a second photo of the same morning; p14 in none.
    class_photo(&morning.join("front.png"), &[(11, 120), (12, 45), (99, 110)]);
    class_photo(&morning.join("back.png"), &[(13, 100)]);
    let out = dir.path().join("roll");
    let text = ok(&[&"roll", &morning, &"--gallery", &gallery, &"--out", &out]);
    assert!(text.contains("2 of 4 present in 2 photo(s)"), "{text}");
    assert!(text.contains("strangers: 1 face(s); too small to name: 1 face(s)"), "{text}");

    let rows = roll::read(&out).expect("roll.csv");
    let status: Vec<(&str, Status)> = rows.iter().map(|r| (r.person.as_str(), r.status)).collect();
    assert_eq!(status, [("p11", Status::Present), ("p12", Status::Absent), ("p13", Status::Present), ("p14", Status::Absent)]);
    let p13 = &rows[2];
    assert!(p13.photo.as_deref().is_some_and(|p| p.ends_with("back.png")) && p13.score.is_some() && p13.x1.is_some(), "{p13:?}");
    let faces = std::fs::read_to_string(out.join("faces.csv")).expect("faces.csv");
    assert!(faces.contains(&format!(",{TOO_SMALL_TO_NAME},")) && faces.contains(&format!(",{UNKNOWN},")), "{faces}");
    for photo in ["front.jpg", "back.jpg"] {
        let img = image::open(out.join("annotated").join(photo)).expect("annotated copy");
        assert!(img.width() >= 640, "{photo}");
    }

    // p12 named when the smallest face named is lowered below 45 px.
    let again = ok(&[&"roll", &morning, &"--gallery", &gallery, &"--out", &out, &"--min-name-size", &"40"]);
    assert!(again.contains("3 of 4 present"), "{again}");
    // The same folder again, with one photo: the other's annotated copy goes.
    ok(&[&"roll", &morning.join("front.png"), &"--gallery", &gallery, &"--out", &out]);
    assert!(!out.join("annotated/back.jpg").exists());
}

#[test]
fn roll_refuses_a_folder_it_does_not_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = gallery(dir.path());
    let photo = dir.path().join("p.png");
    class_photo(&photo, &[(11, 120)]);
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(&mine).expect("folder");
    std::fs::write(mine.join("notes.txt"), "mine").expect("a user's file");
    let err = fails(&[&"roll", &photo, &"--gallery", &gallery, &"--out", &mine]);
    assert!(err.contains("mine") && err.contains("rollcall did not write"), "{err}");
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).expect("kept"), "mine");
    assert_eq!(std::fs::read_dir(&mine).expect("listing").count(), 1, "nothing written");
}

/// A second `rollcall roll ... --out OUT` deleted the teacher's
/// `OUT/annotated/teacher-notes.txt` and `my-marked-copy.jpg`: the roll
/// call removed every file in `annotated/` it had not just written. Now it
/// removes only the copies an earlier roll call wrote, and only as it
/// wrote them (a copy the teacher marked up stays).
#[test]
fn regression_a_second_roll_call_deleted_the_teachers_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = gallery(dir.path());
    let morning = dir.path().join("morning");
    class_photo(&morning.join("front.png"), &[(11, 120)]);
    class_photo(&morning.join("back.png"), &[(13, 100)]);
    class_photo(&morning.join("side.png"), &[(14, 100)]);
    let out = dir.path().join("roll");
    ok(&[&"roll", &morning, &"--gallery", &gallery, &"--out", &out]);
    let annotated = out.join("annotated");
    std::fs::write(annotated.join("teacher-notes.txt"), "Robin left at 10").expect("a note");
    std::fs::copy(annotated.join("front.jpg"), annotated.join("my-marked-copy.jpg")).expect("a copy");
    std::fs::write(annotated.join("side.jpg"), "marked up by the teacher").expect("marked up");

    ok(&[&"roll", &morning.join("front.png"), &"--gallery", &gallery, &"--out", &out]);
    assert!(annotated.join("front.jpg").is_file(), "this roll call's copy");
    assert!(!annotated.join("back.jpg").exists(), "the earlier roll call's copy, as it wrote it, goes");
    assert_eq!(std::fs::read_to_string(annotated.join("teacher-notes.txt")).expect("kept"), "Robin left at 10");
    assert!(annotated.join("my-marked-copy.jpg").is_file(), "the teacher's copy stays");
    assert_eq!(std::fs::read_to_string(annotated.join("side.jpg")).expect("kept"), "marked up by the teacher");

    // Nor is a file of the teacher's written over when a later photo's
    // copy would take its name: the copy goes beside it.
    std::fs::write(annotated.join("back.jpg"), "the teacher's own back.jpg").expect("a file of the teacher's");
    std::fs::write(annotated.join("front.jpg"), "front.jpg, marked up").expect("marked up");
    ok(&[&"roll", &morning, &"--gallery", &gallery, &"--out", &out]);
    assert_eq!(std::fs::read_to_string(annotated.join("back.jpg")).expect("kept"), "the teacher's own back.jpg");
    assert_eq!(std::fs::read_to_string(annotated.join("front.jpg")).expect("kept"), "front.jpg, marked up");
    assert!(image::open(annotated.join("back.rollcall-1.jpg")).is_ok() && image::open(annotated.join("front.rollcall-1.jpg")).is_ok());
}

/// Two roll calls into one new folder at once both exited 0, and one's
/// outputs were deleted by the other. A roll-call folder is locked like a
/// work folder: the second command is refused, naming the folder.
#[test]
fn regression_two_roll_calls_into_one_folder_deleted_each_others_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = gallery(dir.path());
    let photo = dir.path().join("p.png");
    class_photo(&photo, &[(11, 120)]);
    let out = dir.path().join("roll");
    ok(&[&"roll", &photo, &"--gallery", &gallery, &"--out", &out]);
    // Another roll call holds the folder (as a process would while it runs).
    let held = rollcall_files::owned::lock(&out).expect("lock the folder");
    let err = fails(&[&"roll", &photo, &"--gallery", &gallery, &"--out", &out]);
    assert!(err.contains("in use by another rollcall command"), "{err}");
    drop(held);
    ok(&[&"roll", &photo, &"--gallery", &gallery, &"--out", &out]);
}

/// The named copy showed who was there; who was absent was only in the
/// terminal and `roll.csv`. `roll.html` now puts the absent first, then the
/// present, then the named photos: one thing for a teacher to print.
#[test]
fn regression_the_absent_were_not_on_anything_a_teacher_could_print() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gallery = gallery(dir.path());
    let morning = dir.path().join("morning");
    class_photo(&morning.join("front.png"), &[(11, 120), (13, 100)]);
    let out = dir.path().join("roll");
    ok(&[&"roll", &morning, &"--gallery", &gallery, &"--out", &out]);
    let html = std::fs::read_to_string(out.join("roll.html")).expect("roll.html");
    let absent = html.find("<h2>Absent (2)</h2>").expect("the absent, counted");
    let present = html.find("<h2>Present (2)</h2>").expect("the present, counted");
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s} in {html}"));
    assert!(absent < at("<li>p12</li>") && at("<li>p14</li>") < present, "p12 and p14 listed as absent");
    assert!(present < at("<li>p11</li>") && present < at("<li>p13</li>"));
    assert!(at("<img src=\"annotated/front.jpg\"") > present, "then the named photo");
}
