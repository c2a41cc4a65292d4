//! Finding the people: the recommended k equals the true number of people on
//! `deepface` (13), `dlib_johns` (5) and both pooled (18), whatever range
//! holds the truth; background strangers become outliers, not people; and the
//! clustering at the recommended k is perfect by BCubed F1.

use std::sync::OnceLock;

use rollcall_host::artifacts::clusters::read_rows as read_clusters_csv;
use rollcall_host::stages::cluster::{ClusterOptions, cluster};
use rollcall_host::stages::evaluate::evaluate;
use rollcall_host::stages::select_k::{SelectKOptions, select_k};
use rollcall_tests::{PipelineRun, run_pipeline, same_person_threshold};

fn deepface() -> &'static PipelineRun {
    static RUN: OnceLock<PipelineRun> = OnceLock::new();
    RUN.get_or_init(|| run_pipeline(&["deepface"]))
}

fn johns() -> &'static PipelineRun {
    static RUN: OnceLock<PipelineRun> = OnceLock::new();
    RUN.get_or_init(|| run_pipeline(&["dlib_johns"]))
}

fn sweep(run: &PipelineRun, k_min: usize, k_max: usize) -> usize {
    let opts = SelectKOptions { k_min, k_max, charts: false, ..SelectKOptions::default() };
    select_k(run.work(), same_person_threshold(), &opts).expect("select-k").recommended_k
}

#[test]
fn deepface_has_13_people_and_clusters_perfectly() {
    let run = deepface();
    assert_eq!(run.selection.recommended_k, 13);
    assert_eq!(run.selection.silhouette_best_k, Some(13), "the silhouette agrees");
    for (lo, hi) in [(2, 20), (10, 14), (13, 30)] {
        assert_eq!(sweep(run, lo, hi), 13, "range {lo}..={hi}");
    }
    let e = evaluate(run.work(), run.photos.path()).expect("evaluate");
    eprintln!("deepface: {e:?}");
    assert_eq!(e.scores.bcubed.f1, 1.0);
    assert_eq!(e.labelled_faces, 62);
    // The 7 extra faces are strangers behind the labelled person: they are
    // outliers, and no labelled face is.
    assert_eq!(e.labelled_outliers, 0);
    assert_eq!(run.selection.outliers.len(), e.unlabelled_faces);
}

#[test]
fn dlib_johns_has_5_people_and_clusters_perfectly() {
    let run = johns();
    assert_eq!(run.selection.recommended_k, 5);
    assert_eq!(run.selection.silhouette_best_k, Some(5), "the silhouette agrees");
    for (lo, hi) in [(2, 10), (3, 8), (5, 15), (4, 25)] {
        assert_eq!(sweep(run, lo, hi), 5, "range {lo}..={hi}");
    }
    let e = evaluate(run.work(), run.photos.path()).expect("evaluate");
    eprintln!("dlib_johns: {e:?}");
    assert_eq!(e.scores.bcubed.f1, 1.0);
    assert_eq!(e.labelled_faces, 51);
}

#[test]
fn pooled_sets_have_18_people() {
    let run = run_pipeline(&["deepface", "dlib_johns"]);
    // 18 is outside the default 5..=15: the recommendation follows the data
    // and the sweep widens to chart it.
    assert_eq!(run.selection.recommended_k, 18);
    assert_eq!(run.selection.silhouette_best_k, Some(18), "the silhouette agrees");
    assert!(run.selection.rows.iter().any(|r| r.k == 18));
    for (lo, hi) in [(10, 20), (15, 25), (18, 18)] {
        assert_eq!(sweep(&run, lo, hi), 18, "range {lo}..={hi}");
    }
    let e = evaluate(run.work(), run.photos.path()).expect("evaluate");
    eprintln!("pooled: {e:?}");
    assert_eq!(e.scores.bcubed.f1, 1.0);
}

#[test]
fn fewer_than_two_clusters_is_a_clear_error() {
    let run = johns();
    let dir = tempfile::tempdir().expect("test step");
    let work = rollcall_host::artifacts::Work::new(dir.path()).claim().expect("work dir");
    std::fs::copy(run.work().embeddings(), work.embeddings()).expect("test step");
    let err = cluster(&work, same_person_threshold(), &ClusterOptions { k: Some(1), ..ClusterOptions::default() }).unwrap_err();
    assert!(matches!(err, rollcall_host::Error::KBelowTwo { k: 1 }), "{err:?}");
}

#[test]
fn clusters_csv_has_a_row_per_face() {
    let run = deepface();
    let rows = read_clusters_csv(&run.work().clusters_csv()).expect("test step");
    assert_eq!(rows.len(), 69);
    let header = std::fs::read_to_string(run.work().clusters_csv()).expect("test step");
    assert!(header.starts_with("file,cluster,silhouette,distance_to_centroid"));
    for r in &rows {
        assert!(run.work().clusters().join(&r.folder).join(&r.file).is_file(), "{r:?}");
        assert_eq!(r.silhouette.is_some(), r.cluster > 0);
    }
}
