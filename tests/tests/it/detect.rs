//! Detection on the shared photos: group photos, non-faces, and every
//! labelled portrait.

use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
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

/// A run's workers used to build a recognizer session each: SFace's weights,
/// and ONNX Runtime's packed copy of them, about 80 MiB, held once per worker
/// (the Python pipeline, with one session, peaked lower than rollcall on
/// `deepface`). Now the engines of one model set share one recognizer
/// session; this checks that they do, that a lone recognizer still has its
/// own, and that two workers embedding at once through the shared session
/// get exactly what one session alone gives.
#[test]
fn regression_every_worker_held_its_own_copy_of_the_recognizers_weights() {
    let set = models();
    let img = rollcall_models::decode::load_rgb(&faces_dir().join("deepface/_group/insightface_t1.jpg")).expect("photo");
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let mut first = set.onnx_engine(Default::default()).expect("engine");
    let second = set.onnx_engine(Default::default()).expect("engine");
    assert!(first.recognizer.shares_session_with(&second.recognizer), "two workers' engines share the recognizer");
    let mut lone = set.recognizer(Default::default()).expect("recognizer");
    assert!(!lone.shares_session_with(&first.recognizer), "a recognizer asked for alone has its own session");

    let faces = first.faces(view, &FaceFilter::default()).expect("faces");
    let chips: Vec<Vec<u8>> = faces.into_iter().filter_map(|f| f.chip).collect();
    assert_eq!(chips.len(), 6);
    let alone: Vec<Vec<f32>> = chips.iter().map(|c| lone.embed(c).expect("embed")).collect();
    let engines = [first, second];
    std::thread::scope(|s| {
        for mut engine in engines {
            let (chips, alone) = (&chips, &alone);
            s.spawn(move || {
                for _ in 0..5 {
                    for (chip, expected) in chips.iter().zip(alone) {
                        assert_eq!(&engine.recognizer.embed(chip).expect("embed"), expected, "the same numbers through the shared session");
                    }
                }
            });
        }
    });
}
