//! Learning named people and refusing strangers, on the shared photos.
//!
//! The gallery is trained on half of the photos of every `deepface` and
//! `dlib_johns` identity with 4 or more photos (sorted by file name, every
//! other one), the way a user would: the main face of each photo copied into
//! a folder named after the person. The other half are the known test faces.
//! Strangers are every face in `misc_small` (its people, its group photos and
//! its hard cases): none of them is in the gallery. `deepface`'s group photos
//! are left out of the strangers: they may show gallery people.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::training::{ModelDir, TrainingReport};
use rollcall_host::stages::export::with_form;
use rollcall_host::stages::predict::{PredictOptions, check_models, predict};
use rollcall_host::stages::train::{train_from_work, write_model_dir};
use rollcall_shared::gallery::read_file as read_gallery;
use rollcall_shared::gallery::{ClassifierKind, FileError, Gallery, GalleryError, VectorForm};
use rollcall_tests::{build_clusters, embeddings, faces_dir, identities, labels, load_models, main_embedding, models, train_options};

struct Trained {
    _dir: tempfile::TempDir,
    model: ModelDir,
    gallery: Gallery,
    report: TrainingReport,
    /// (identity, photo) of the held-out half.
    test: Vec<(String, PathBuf)>,
}

fn trained() -> &'static Trained {
    static T: OnceLock<Trained> = OnceLock::new();
    T.get_or_init(|| {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for set in ["deepface", "dlib_johns"] {
            for (who, photos) in identities(set).into_iter().filter(|(_, p)| p.len() >= 4) {
                for (i, p) in photos.into_iter().enumerate() {
                    if i % 2 == 0 { &mut train } else { &mut test }.push((who.clone(), p));
                }
            }
        }
        let dir = tempfile::tempdir().expect("test step");
        let work = Work::new(dir.path().join("work")).claim().expect("work dir");
        build_clusters(&work, &train);
        let (gallery, report) = train_from_work(&work.clusters(), &work, &train_options(), &load_models).expect("train");
        let model = ModelDir::new(dir.path().join("model"));
        write_model_dir(&model, &gallery, &report).expect("test step");
        Trained { _dir: dir, model, gallery, report, test }
    })
}

fn known_test_faces() -> &'static Vec<(String, Vec<f32>)> {
    static K: OnceLock<Vec<(String, Vec<f32>)>> = OnceLock::new();
    K.get_or_init(|| trained().test.iter().map(|(who, p)| (who.clone(), main_embedding(p))).collect())
}

fn stranger_faces() -> &'static Vec<Vec<f32>> {
    static S: OnceLock<Vec<Vec<f32>>> = OnceLock::new();
    S.get_or_init(|| {
        labels().into_iter().filter(|l| l.set == "misc_small" && l.identity != "_nonface").flat_map(|l| embeddings(&l.file())).collect()
    })
}

#[test]
fn every_classifier_names_the_held_out_half() {
    let t = trained();
    assert_eq!(t.gallery.people(), 14, "9 deepface and 5 dlib_johns identities have 4+ photos");
    let known = known_test_faces();
    for kind in ClassifierKind::ALL {
        let correct = known.iter().filter(|(who, e)| t.gallery.labels[t.gallery.score(kind, e).0] == *who).count();
        let acc = correct as f64 / known.len() as f64;
        let cv = t.report.classifiers[kind.index()].accuracy;
        eprintln!("{:<9} held-out half {correct}/{} = {acc:.3}; cross-validated {cv:.3}", kind.name(), known.len());
        assert!(acc >= 0.95, "{}: {acc:.3}", kind.name());
    }
}

#[test]
fn strangers_are_rejected_and_known_people_accepted_at_the_default_threshold() {
    let t = trained();
    let kind = t.gallery.default_classifier;
    let strangers = stranger_faces();
    assert!(strangers.len() >= 30, "misc_small holds {} faces", strangers.len());
    let rejected = strangers.iter().filter(|e| t.gallery.predict(kind, e).person().is_none()).count();
    let known = known_test_faces();
    let right = known.iter().filter(|(who, e)| t.gallery.predict(kind, e).person().map(|i| &t.gallery.labels[i]) == Some(who)).count();
    let (rej, acc) = (rejected as f64 / strangers.len() as f64, right as f64 / known.len() as f64);
    eprintln!(
        "default {}: threshold {:.4}; strangers rejected {rejected}/{} = {rej:.3}; known accepted and correct {right}/{} = {acc:.3}",
        kind.name(),
        t.gallery.threshold(kind).value,
        strangers.len(),
        known.len()
    );
    for k in ClassifierKind::ALL {
        let r = strangers.iter().filter(|e| t.gallery.predict(k, e).person().is_none()).count();
        let a = known.iter().filter(|(who, e)| t.gallery.predict(k, e).person().map(|i| &t.gallery.labels[i]) == Some(who)).count();
        eprintln!("  {:<9} rejects {r}/{} strangers, accepts {a}/{} known correctly", k.name(), strangers.len(), known.len());
    }
    assert!(rej >= 0.90, "only {rej:.3} of strangers rejected");
    assert!(acc >= 0.95, "only {acc:.3} of known faces accepted and correct");
}

#[test]
fn compact_references_lose_nothing_on_the_shared_photos() {
    let t = trained();
    let known = known_test_faces();
    let strangers = stranger_faces();
    let full = with_form(&t.gallery, VectorForm::F32);
    for form in [VectorForm::F16, VectorForm::I8] {
        let small = with_form(&t.gallery, form);
        for kind in [ClassifierKind::NearestCentroid, ClassifierKind::Knn] {
            for e in known.iter().map(|(_, e)| e).chain(strangers.iter()) {
                assert_eq!(full.predict(kind, e).person(), small.predict(kind, e).person(), "{form:?} {kind:?}");
            }
        }
    }
    let sizes: Vec<usize> = [VectorForm::F32, VectorForm::F16, VectorForm::I8]
        .iter()
        .map(|&f| with_form(&t.gallery, f).encode().expect("test step").len())
        .collect();
    eprintln!(
        "gallery of {} people, {} faces: f32 {} B, f16 {} B, i8 {} B",
        t.gallery.people(),
        t.gallery.knn_labels.len(),
        sizes[0],
        sizes[1],
        sizes[2]
    );
    assert!(sizes[1] < sizes[0] && sizes[2] < sizes[1]);
}

#[test]
fn exported_gallery_loads_and_names_obama_and_biden() {
    // A two-person gallery from their other photos: obama3.jpg and biden.jpg
    // are crops of two_people.jpg, so they stay out.
    let dir = tempfile::tempdir().expect("test step");
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let m = faces_dir().join("misc_small");
    let photos: Vec<(String, PathBuf)> =
        [("obama", "obama/obama.jpg"), ("obama", "obama/obama1.jpg"), ("obama", "obama/obama2.jpg"), ("biden", "biden/biden2.jpg")]
            .iter()
            .map(|(w, p)| (w.to_string(), m.join(p)))
            .collect();
    build_clusters(&work, &photos);
    let (gallery, report) = train_from_work(&work.clusters(), &work, &train_options(), &load_models).expect("train");
    let model = ModelDir::new(dir.path().join("model"));
    write_model_dir(&model, &gallery, &report).expect("test step");
    let file = dir.path().join("gallery.rcg");
    rollcall_host::stages::export::export(&model, &file, VectorForm::F16, "test").expect("test step");
    let g = read_gallery(&file).expect("test step");
    check_models(&g, models(), &file).expect("test step");

    let photo = m.join("_group/two_people.jpg");
    let opts = PredictOptions { jobs: 2, ..PredictOptions::default() };
    let found = predict(std::slice::from_ref(&photo), &g, models(), &opts).expect("test step");
    assert!(found.skipped.is_empty());
    let rows = found.rows;
    let by_x: BTreeMap<i64, &str> = rows.iter().map(|r| (r.x1 as i64, r.label.as_str())).collect();
    eprintln!("two_people.jpg: {rows:?}");
    // Obama stands on the left of the picture, Biden on the right.
    assert_eq!(by_x.values().copied().collect::<Vec<_>>(), vec!["obama", "biden"]);
}

#[test]
fn gallery_files_report_each_defect_by_name() {
    let t = trained();
    let dir = tempfile::tempdir().expect("test step");
    let good = dir.path().join("g.rcg");
    rollcall_host::stages::export::export(&t.model, &good, VectorForm::F16, "test").expect("test step");
    let bytes = std::fs::read(&good).expect("test step");
    let case = |name: &str, data: &[u8]| -> GalleryError {
        let p = dir.path().join(name);
        std::fs::write(&p, data).expect("test step");
        match read_gallery(&p) {
            Err(FileError::Invalid { path, source }) => {
                assert_eq!(path, p, "the error names the file");
                source
            }
            other => panic!("{name}: {other:?}"),
        }
    };
    assert!(matches!(case("truncated.rcg", &bytes[..bytes.len() / 2]), GalleryError::Truncated { .. }));
    let mut flipped = bytes.clone();
    flipped[40] ^= 1;
    assert_eq!(case("corrupted.rcg", &flipped), GalleryError::Checksum);
    assert_eq!(case("photo.rcg", b"\xff\xd8\xff\xe0 a jpeg, not a gallery"), GalleryError::WrongMagic);
    let mut v9 = bytes.clone();
    v9[8] = 9;
    assert_eq!(case("future.rcg", &v9), GalleryError::WrongVersion { found: 9, supported: 1 });
    // Made with another recognizer: refused before any face is read.
    let mut g = read_gallery(&good).expect("test step");
    g.recognizer_sha256[0] ^= 0xff;
    let other = dir.path().join("other_model.rcg");
    std::fs::write(&other, g.encode().expect("test step")).expect("test step");
    let err = check_models(&read_gallery(&other).expect("test step"), models(), &other).unwrap_err();
    assert!(
        matches!(&err, rollcall_host::Error::Gallery { path, source: GalleryError::WrongModel { which: "recognizer", .. } } if *path == other),
        "{err:?}"
    );
}

/// Scores changed meaning with the classifier: `predict` gave 1.0 for a
/// face with one classifier and 0.868 with another (a logit, a vote's
/// mean, a cosine). The score a person reads is now one scale, the cosine
/// to the named person's mean face, whichever classifier named them.
#[test]
fn regression_the_score_changed_meaning_with_the_classifier() {
    let t = trained();
    let known = known_test_faces();
    let mut agreed = 0;
    for (_, e) in known {
        let p: Vec<_> = ClassifierKind::ALL.iter().map(|&k| t.gallery.predict(k, e)).collect();
        for q in &p {
            assert_eq!(q.similarity, t.gallery.similarity(q.best, e), "the cosine to the person named, for every classifier");
        }
        // Where the four name the same person, they report the same score,
        // though they decided on four different scales.
        if p.iter().all(|q| q.best == p[0].best) {
            agreed += 1;
            assert!(p.iter().all(|q| q.similarity == p[0].similarity), "{p:?}");
            assert!(p.iter().any(|q| (q.score - q.similarity).abs() > 1e-3), "{p:?}");
        }
    }
    eprintln!("the four classifiers name the same person for {agreed} of {} held-out faces", known.len());
    assert!(agreed > 0);
}
