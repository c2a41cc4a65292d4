//! Detection on the shared photos: group photos, non-faces, and every
//! labelled portrait.

use rollcall_models::{FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_tests::{faces_dir, labels, models};

fn kept_faces(path: &std::path::Path) -> usize {
    let img = rollcall_models::decode::load_rgb(path).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = models().engine(Default::default()).expect("engine");
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let faces = engine.faces(view, &FaceFilter::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    faces.iter().filter(|f| f.verdict == Verdict::Kept).count()
}

#[test]
fn insightface_group_photo_has_exactly_six_faces() {
    let path = faces_dir().join("deepface/_group/insightface_t1.jpg");
    assert_eq!(kept_faces(&path), 6);
}

#[test]
fn non_face_photos_have_no_faces() {
    let nonfaces: Vec<_> = labels().into_iter().filter(|l| l.identity == "_nonface").collect();
    assert!(nonfaces.len() >= 6, "expected the six non-face photos, found {}", nonfaces.len());
    for l in nonfaces {
        assert_eq!(kept_faces(&l.file()), 0, "{} is not a face", l.path);
    }
}

#[test]
fn every_labelled_deepface_photo_has_a_face() {
    let portraits: Vec<_> = labels().into_iter().filter(|l| l.set == "deepface" && l.is_identity()).collect();
    assert_eq!(portraits.len(), 62);
    let missing: Vec<String> = portraits.iter().filter(|l| kept_faces(&l.file()) == 0).map(|l| l.path.clone()).collect();
    assert!(missing.is_empty(), "no face kept in {missing:?}");
}
