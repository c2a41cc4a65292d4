//! Each stage of the library on the fake engine: what it writes, and the
//! typed error it returns for each mistake. Seconds, no models.

use crate::common;

use std::path::Path;

use common::{classroom, name_clusters, synthetic};
use rollcall_files::owned::OwnedError;
use rollcall_host::Error;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::clusters::LEDGER;
use rollcall_host::artifacts::skips::SkipReason;
use rollcall_host::artifacts::training::ModelDir;
use rollcall_host::pipeline::{self, RunOptions};
use rollcall_host::stages::cluster::{ClusterOptions, cluster};
use rollcall_host::stages::detect::{DetectOptions, detect};
use rollcall_host::stages::embed::embed;
use rollcall_host::stages::evaluate::evaluate;
use rollcall_host::stages::predict::{PredictOptions, check_models, predict};
use rollcall_host::stages::select_k::{SelectKOptions, select_k};
use rollcall_host::stages::{export, train};
use rollcall_models::fake::FakeModels;
use rollcall_models::{Models, Verdict};
use rollcall_shared::gallery::{GalleryError, VectorForm};

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn fake_threshold() -> Option<(f32, rollcall_host::artifacts::selection::ThresholdSource)> {
    pipeline::same_person_threshold(&FakeModels::default(), None)
}

#[test]
fn detect_records_every_verdict_and_skips_unreadable_photos() {
    let dir = tempfile::tempdir().expect("temp dir");
    let photos = dir.path().join("photos");
    synthetic::photo(&photos.join("big.png"), &[(1, 1)]);
    // A face too small to keep, and one the detector is unsure of.
    let mut img = rollcall_models::fake::scene(200, 200, 5, &[]);
    rollcall_models::fake::paint_face(&mut img, &rollcall_models::fake::PaintedFace::new(5, 5, 24, 2, 1));
    let mut doubtful = rollcall_models::fake::PaintedFace::new(60, 60, 80, 3, 1);
    doubtful.confidence = 0.5;
    rollcall_models::fake::paint_face(&mut img, &doubtful);
    img.save(photos.join("odd.png")).expect("save");
    std::fs::write(photos.join("empty.jpg"), b"").expect("write");
    std::fs::write(photos.join("text.jpg"), b"not a photo at all").expect("write");

    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let out = detect(&photos, &work, &FakeModels::default(), &DetectOptions::default()).expect("detect");
    let s = &out.file.summary;
    assert_eq!((s.images_found, s.images_read, s.images_skipped), (4, 2, 2));
    assert_eq!((s.faces_kept, s.rejected_too_small, s.rejected_low_confidence), (1, 1, 1));
    let odd = out.file.photos.iter().find(|p| p.path.ends_with("odd.png")).expect("odd.png");
    let verdicts: Vec<Verdict> = odd.faces.iter().map(|f| f.verdict).collect();
    assert!(verdicts.contains(&Verdict::TooSmall) && verdicts.contains(&Verdict::LowConfidence), "{verdicts:?}");
    let reason = |name: &str| out.file.photos.iter().find(|p| p.path.ends_with(name)).and_then(|p| p.error.clone()).expect(name);
    assert_eq!(reason("empty.jpg"), "empty file (0 bytes)");
    assert!(reason("text.jpg").starts_with("not a recognised image format"), "{}", reason("text.jpg"));
    assert_eq!(files(&work.aligned()), ["aligned_big_0.png"]);
    assert_eq!(files(&work.annotated()), ["big.jpg", "odd.jpg"]);
}

#[test]
fn embed_skips_a_chip_of_the_wrong_size_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    detect(&photos, &work, &FakeModels::default(), &DetectOptions::default()).expect("detect");
    image::RgbImage::new(100, 90).save(work.aligned().join("aligned_zz_bad_0.png")).expect("save");
    let out = embed(&work, &FakeModels::default(), 2).expect("embed goes on");
    assert_eq!(out.table.len(), 18);
    assert_eq!(out.skipped.len(), 1);
    assert!(out.skipped[0].path.ends_with("aligned_zz_bad_0.png"));
    assert_eq!(out.skipped[0].reason, "chip is 100x90, the recognizer needs 112x112");
    let nowhere = Work::new(dir.path().join("nowhere")).open().unwrap_err();
    assert!(matches!(nowhere, Error::Owned(OwnedError::Missing { .. })), "{nowhere:?}");
    let fresh = Work::new(dir.path().join("fresh")).claim().expect("work dir");
    let missing = embed(&fresh, &FakeModels::default(), 1).unwrap_err();
    assert!(matches!(missing, Error::Missing { .. }), "{missing:?}");
}

#[test]
fn select_k_and_cluster_refuse_what_they_cannot_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    pipeline::run(&photos, &work, &FakeModels::default(), &RunOptions::default()).expect("run");
    let bad_range = SelectKOptions { k_min: 6, k_max: 3, ..SelectKOptions::default() };
    assert!(matches!(select_k(&work, fake_threshold(), &bad_range), Err(Error::KRange { k_min: 6, k_max: 3 })));
    let force = |k| ClusterOptions { k: Some(k), force: true, charts: false, ..ClusterOptions::default() };
    assert!(matches!(cluster(&work, fake_threshold(), &force(1)), Err(Error::KBelowTwo { k: 1 })));
    assert!(matches!(cluster(&work, fake_threshold(), &force(40)), Err(Error::KTooLarge { k: 40, inliers: 18 })));
    assert!(matches!(cluster(&work, fake_threshold(), &ClusterOptions::default()), Err(Error::ClustersInUse { .. })));

    // A broken k_selection.json is an error, not a silent fallback to the
    // linkage count.
    std::fs::write(work.k_selection_json(), b"{ broken").expect("write");
    assert!(matches!(
        cluster(&work, fake_threshold(), &ClusterOptions { force: true, ..ClusterOptions::default() }),
        Err(Error::Json { .. })
    ));
}

#[test]
fn renamed_folders_moved_and_added_files_survive_a_forced_rerun() {
    let dir = tempfile::tempdir().expect("temp dir");
    let photos = dir.path().join("photos");
    synthetic::portraits(&photos, &[21, 22, 23, 24, 25], 4);
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let opts = RunOptions { cluster: ClusterOptions { k: Some(5), charts: false, ..ClusterOptions::default() }, ..RunOptions::default() };
    pipeline::run(&photos, &work, &FakeModels::default(), &opts).expect("run");
    let c = work.clusters();

    // The user names person_1, moves a face from person_2 to person_3, and
    // leaves a note in person_4.
    std::fs::rename(c.join("person_1"), c.join("Robin")).expect("rename");
    let robin = files(&c.join("Robin"));
    let moved = files(&c.join("person_2"))[0].clone();
    std::fs::rename(c.join("person_2").join(&moved), c.join("person_3").join(&moved)).expect("move");
    std::fs::write(c.join("person_4").join("notes.txt"), "the tall one").expect("note");

    // Without --force: refused, nothing touched.
    assert!(matches!(cluster(&work, fake_threshold(), &opts.cluster), Err(Error::ClustersInUse { .. })));
    assert_eq!(files(&c.join("Robin")), robin);

    // With --force: only rollcall's own untouched chips are replaced.
    cluster(&work, fake_threshold(), &ClusterOptions { force: true, ..opts.cluster.clone() }).expect("forced");
    assert_eq!(files(&c.join("Robin")), robin, "a renamed folder is never touched");
    assert!(c.join("person_3").join(&moved).is_file(), "a moved face stays where the user put it");
    assert_eq!(std::fs::read_to_string(c.join("person_4").join("notes.txt")).expect("note"), "the tall one");
    // The new clustering went into free names: person_3 and person_4 still
    // hold the user's files, so those clusters got person_3_2 and person_4_2.
    for name in ["person_1", "person_2", "person_3_2", "person_4_2", "person_5"] {
        assert!(c.join(name).is_dir(), "{name} written; have {:?}", files(&c));
    }
    assert!(c.join(LEDGER).is_file());
    assert_eq!(files(&c.join("person_3")), vec![moved.clone()]);
    assert_eq!(files(&c.join("person_4")), vec!["notes.txt".to_string()]);
}

#[test]
fn evaluate_scores_against_a_tree_and_a_csv() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, truth) = classroom(dir.path());
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    pipeline::run(&photos, &work, &FakeModels::default(), &RunOptions::default()).expect("run");
    let e = evaluate(&work, &photos).expect("evaluate");
    assert_eq!((e.labelled_faces, e.unlabelled_faces, e.scores.bcubed.f1), (16, 2, 1.0));
    let csv = dir.path().join("truth.csv");
    let mut text = "path,identity\n".to_string();
    for (who, p) in &truth {
        text.push_str(&format!("{},{who}\n", p.strip_prefix(dir.path()).expect("under dir").display()));
    }
    std::fs::write(&csv, text).expect("write");
    assert_eq!(evaluate(&work, &csv).expect("csv truth").scores.bcubed.f1, 1.0);
    std::fs::write(&csv, "who,what\n").expect("write");
    assert!(matches!(evaluate(&work, &csv), Err(Error::Truth { .. })));
}

#[test]
fn train_export_and_predict_through_the_library() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let models = FakeModels::default();
    pipeline::run(&photos, &work, &models, &RunOptions::default()).expect("run");
    name_clusters(work.root(), &photos);
    let load = || Ok(std::sync::Arc::new(FakeModels::default()) as std::sync::Arc<dyn Models>);
    // A photo the user dropped into a folder is embedded on the fly.
    synthetic::photo(&work.clusters().join("p13").join("added.png"), &[(13, 77)]);
    std::fs::write(work.clusters().join("p13").join("broken.jpg"), b"").expect("write");
    let (gallery, report) = train::train_from_work(&work.clusters(), &work, &train::TrainOptions::default(), &load).expect("train");
    assert_eq!(report.people, ["p11", "p12", "p13", "p14"]);
    assert_eq!(report.faces.iter().sum::<usize>(), 19);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].path.ends_with("broken.jpg") && report.skipped[0].reason == "empty file (0 bytes)", "{:?}", report.skipped);
    let model = ModelDir::new(dir.path().join("model"));
    train::write_model_dir(&model, &gallery, &report).expect("model");
    let g = dir.path().join("g.rcg");
    export::export(&model, &g, VectorForm::I8, "test").expect("export");
    let gallery = rollcall_shared::gallery::read_file(&g).expect("read");
    check_models(&gallery, &models, &g).expect("fake models");

    let new = dir.path().join("new");
    synthetic::photo(&new.join("x.png"), &[(11, 40), (14, 41)]);
    let opts = PredictOptions { annotate: Some(dir.path().join("annotated")), jobs: 2, ..PredictOptions::default() };
    let found = predict(std::slice::from_ref(&new), &gallery, &models, &opts).expect("predict");
    let labels: Vec<&str> = found.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["p11", "p14"]);
    assert!(dir.path().join("annotated/x.jpg").is_file());

    // Too few people, and a gallery for other models.
    let lonely = dir.path().join("lonely");
    std::fs::create_dir_all(lonely.join("only")).expect("mkdir");
    std::fs::copy(work.aligned().join("aligned_p11__0_0.png"), lonely.join("only/a.png")).expect("copy");
    assert!(matches!(
        train::train_with_models(&lonely, &models, &train::TrainOptions::default()),
        Err(Error::TooFewPeople { found: 1, .. })
    ));
    let mut other = gallery.clone();
    other.detector_sha256 = [3; 32];
    assert!(matches!(
        check_models(&other, &models, &g),
        Err(Error::Gallery { source: GalleryError::WrongModel { which: "detector", .. }, .. })
    ));
}

#[test]
fn skip_reasons_say_why_without_the_path() {
    let reason = SkipReason::ChipSize { width: 1, height: 2, size: 112 };
    assert_eq!(reason.describe(), "chip is 1x2, the recognizer needs 112x112");
    let decode = rollcall_models::decode::load_rgb(Path::new("/nonexistent/x.jpg")).unwrap_err();
    let why = SkipReason::from(decode);
    assert!(why.describe().starts_with("cannot read the file: "), "{}", why.describe());
    assert!(!why.describe().contains("/nonexistent"), "{}", why.describe());
}

#[test]
fn bystanders_count_as_strangers_and_strict_refuses_label_mistakes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    // A visitor, photographed beside p11, whom the user will not name.
    synthetic::photo(&photos.join("_group").join("visitor.png"), &[(11, 20), (77, 0)]);
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let models = FakeModels::default();
    pipeline::run(&photos, &work, &models, &RunOptions::default()).expect("run");
    name_clusters(work.root(), &photos);
    // The user takes the visitor's face out of the clusters altogether,
    // and empties the outlier folder.
    let rows = rollcall_host::artifacts::metadata::read(&work.metadata_csv()).expect("metadata.csv");
    let p11: Vec<String> = files(&work.clusters().join("p11"));
    let visitor =
        rows.iter().find(|r| r.original_file.ends_with("visitor.png") && !p11.contains(&r.aligned_file)).expect("the visitor's chip");
    for folder in std::fs::read_dir(work.clusters()).expect("clusters").filter_map(Result::ok) {
        if folder.file_name().to_string_lossy().starts_with('_') {
            std::fs::remove_dir_all(folder.path()).expect("empty the outliers");
        } else {
            let _ = std::fs::remove_file(folder.path().join(&visitor.aligned_file));
        }
    }
    let load = || Ok(std::sync::Arc::new(FakeModels::default()) as std::sync::Arc<dyn Models>);
    let opts = train::TrainOptions::default();
    let (_, report) = train::train_from_work(&work.clusters(), &work, &opts, &load).expect("train");
    assert_eq!(report.strangers, 1, "the visitor is a stranger to calibrate on");
    assert!(report.suspects.is_empty(), "{:?}", report.suspects);

    // A chip copied into a second folder: named by --strict, which refuses.
    let chip = files(&work.clusters().join("p11")).into_iter().next().expect("a chip");
    std::fs::copy(work.clusters().join("p11").join(&chip), work.clusters().join("p12").join(&chip)).expect("copy");
    let (_, report) = train::train_from_work(&work.clusters(), &work, &opts, &load).expect("train without --strict");
    assert_eq!(report.suspects.len(), 1);
    assert_eq!(report.suspects[0].file, work.clusters().join("p12").join(&chip));
    let strict = train::TrainOptions { strict: true, ..train::TrainOptions::default() };
    match train::train_from_work(&work.clusters(), &work, &strict, &load) {
        Err(Error::Suspects { count: 1, listing }) => assert!(listing.contains(&format!("p12/{chip}")), "{listing}"),
        other => panic!("--strict trained anyway: {:?}", other.map(|r| r.1.suspects)),
    }
}

/// The fake models with another recognizer digest: a new recognizer that
/// happens to compute the same embeddings.
#[derive(Debug)]
struct OtherRecognizer(rollcall_models::ModelCard);

impl Models for OtherRecognizer {
    fn card(&self) -> &rollcall_models::ModelCard {
        &self.0
    }

    fn engine(&self, threads: rollcall_models::runtime::Threads) -> rollcall_models::Result<Box<dyn rollcall_models::FaceEngine>> {
        FakeModels::default().engine(threads)
    }
}

#[test]
fn incremental_runs_detect_only_new_photos_and_rebuild_a_bad_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = Work::new(dir.path().join("work")).claim().expect("work dir");
    let models = FakeModels::default();
    let opts = DetectOptions { embed: true, ..DetectOptions::default() };
    let run = |models: &dyn Models, opts: &DetectOptions| detect(&photos, &work, models, opts).expect("detect");
    let sorted = |mut e: Vec<(String, Vec<f32>)>| {
        e.sort_by(|a, b| a.0.cmp(&b.0));
        e
    };

    let first = run(&models, &opts);
    let all = first.file.photos.len();
    assert_eq!((first.detected, first.reused, first.re_embedded), (all, 0, 0));
    assert!(work.cache_bin().is_file());

    // Nothing changed: nothing detected, the same results.
    let second = run(&models, &opts);
    assert_eq!((second.detected, second.reused), (0, all));
    assert_eq!(sorted(second.embeddings.clone()), sorted(first.embeddings.clone()));
    // Compared as JSON text: a failure to serialise fails the test (two
    // `None`s would have compared equal).
    assert_eq!(serde_json::to_string(&second.file.photos).expect("json"), serde_json::to_string(&first.file.photos).expect("json"));

    // Two new photos, one removed: only the new ones are detected, and the
    // removed one's chips and annotated copy go.
    synthetic::photo(&photos.join("new").join("a.png"), &[(31, 1)]);
    synthetic::photo(&photos.join("new").join("b.png"), &[(32, 1)]);
    let gone = first.file.photos.iter().find(|p| !p.faces.is_empty() && !p.path.contains("_group")).expect("a portrait");
    std::fs::remove_file(&gone.path).expect("remove a photo");
    let third = run(&models, &opts);
    assert_eq!((third.detected, third.reused), (2, all - 1));
    assert_eq!(third.file.photos.len(), all + 1);
    assert!(third.file.photos.iter().all(|p| p.path != gone.path), "the removed photo has no row");
    for chip in gone.faces.iter().filter_map(|f| f.aligned_file.as_ref()) {
        assert!(!work.aligned().join(chip).exists(), "{chip} of the removed photo is gone");
        assert!(third.embeddings.iter().all(|(f, _)| f != chip));
    }
    let annotated = gone.annotated_file.as_ref().expect("annotated");
    assert!(!work.annotated().join(annotated).exists());
    let faces = |o: &rollcall_host::stages::detect::DetectOutcome| o.file.summary.faces_kept;
    assert_eq!(faces(&third), third.embeddings.len());
    assert_eq!(files(&work.aligned()).len(), faces(&third));

    // A new recognizer: every photo embedded again from its chips, none
    // detected again.
    let mut card = rollcall_models::fake::card();
    card.recognizer.sha256 = rollcall_shared::digest::sha256_hex(b"another recognizer");
    let fourth = run(&OtherRecognizer(card), &opts);
    let with_faces = fourth.file.photos.iter().filter(|p| p.faces.iter().any(|f| f.aligned_file.is_some())).count();
    assert_eq!((fourth.detected, fourth.re_embedded), (0, with_faces));
    assert_eq!(sorted(fourth.embeddings), sorted(third.embeddings.clone()));

    // A new detection setting: everything detected again.
    let strict = DetectOptions { filter: rollcall_models::FaceFilter { min_size: 30.0, ..opts.filter }, ..opts.clone() };
    assert_eq!(run(&models, &strict).detected, all + 1);
    // Larger annotated copies: every photo drawn again (which detects it).
    let larger = DetectOptions { annotate_max_side: opts.annotate_max_side + 1, ..strict.clone() };
    assert_eq!(run(&models, &larger).detected, all + 1);
    assert_eq!(run(&models, &larger).detected, 0);

    // A chip the user deleted by hand: that photo is detected again.
    let chip = files(&work.aligned())[0].clone();
    std::fs::remove_file(work.aligned().join(&chip)).expect("remove chip");
    let after = run(&models, &larger);
    assert_eq!(after.detected, 1);
    assert!(work.aligned().join(&chip).is_file(), "the chip is made again");

    // A corrupt cache, and one from another version: never trusted, rebuilt.
    std::fs::write(work.cache_bin(), b"RCCACHE\0\x01\0\0\0garbage").expect("corrupt");
    assert_eq!(run(&models, &larger).detected, all + 1);
    assert_eq!(run(&models, &larger).detected, 0, "rebuilt");
    let mut bytes = std::fs::read(work.cache_bin()).expect("cache");
    bytes[8] = 99;
    std::fs::write(work.cache_bin(), bytes).expect("other version");
    assert_eq!(run(&models, &larger).detected, all + 1);
}
