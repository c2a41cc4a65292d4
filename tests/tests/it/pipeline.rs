//! The detect and embed stages end to end on real photos: every output file
//! exists with the documented shape, `run` (embedding in the same pass) and
//! `detect` then `embed` agree, and a chip of the wrong size is reported.

use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::detections::DetectionsFile;
use rollcall_host::artifacts::embeddings::EmbeddingTable;
use rollcall_host::artifacts::metadata::read as read_metadata_csv;
use rollcall_host::stages::detect::{DetectOptions, detect};
use rollcall_host::stages::embed::embed;
use rollcall_models::Models;
use rollcall_shared::embedding::{dot, norm};
use rollcall_tests::{faces_dir, models};

#[test]
fn detect_then_embed_writes_every_output_and_matches_a_single_pass() {
    let photos = faces_dir().join("misc_small");
    let out = tempfile::tempdir().expect("test step");
    let work = Work::new(out.path().join("work")).claim().expect("work dir");

    let staged = detect(&photos, &work, models(), &DetectOptions::default()).expect("detect");
    let s = &staged.file.summary;
    assert!(s.images_read >= 24 && s.images_skipped == 0, "{s:?}");
    assert!(s.faces_kept >= 24, "{s:?}");

    let header = std::fs::read_to_string(work.metadata_csv()).expect("test step");
    assert_eq!(header.lines().next(), Some("aligned_file,original_file,face_index,x1,y1,x2,y2,confidence"));
    let rows = read_metadata_csv(&work.metadata_csv()).expect("test step");
    assert_eq!(rows.len(), s.faces_kept);
    for r in &rows {
        assert!(work.aligned().join(&r.aligned_file).is_file(), "{}", r.aligned_file);
        assert!(r.confidence >= 0.7 && r.x2 - r.x1 >= 40.0 && r.y2 - r.y1 >= 40.0, "{r:?}");
        let chip = image::open(work.aligned().join(&r.aligned_file)).expect("test step");
        assert_eq!((chip.width(), chip.height()), (112, 112));
    }
    let json = DetectionsFile::read(&work.detections_json()).expect("test step");
    assert_eq!(json.summary, *s);
    let annotated = std::fs::read_dir(work.annotated()).expect("test step").count();
    assert_eq!(annotated, s.images_read);

    let embedded = embed(&work, models(), 2).expect("embed");
    assert!(embedded.skipped.is_empty());
    let table = EmbeddingTable::read(&work.embeddings()).expect("test step");
    assert_eq!(table.len(), rows.len());
    assert_eq!(table.dim, 128);
    assert_eq!(table.recognizer_sha256.as_deref(), Some(models().card().recognizer.sha256.as_str()));
    for i in 0..table.len() {
        assert!((norm(table.row(i)) - 1.0).abs() < 1e-4, "row {i} is not unit length");
    }
    assert!(work.similarity_png().is_file());

    // One pass (`rollcall run`) gives the same vectors: chips are lossless PNG.
    let single = tempfile::tempdir().expect("test step");
    let opts = DetectOptions { embed: true, annotate: false, ..DetectOptions::default() };
    let one = detect(&photos, &Work::new(single.path()).claim().expect("work dir"), models(), &opts).expect("run");
    assert_eq!(one.embeddings.len(), table.len());
    for (file, v) in &one.embeddings {
        let i = table.files.iter().position(|f| f == file).unwrap_or_else(|| panic!("{file} missing from the table"));
        assert!(dot(v, table.row(i)) > 0.9999, "{file}");
    }

    // A chip of the wrong size is named and skipped; the rest are embedded.
    image::RgbImage::new(100, 90).save(work.aligned().join("aligned_zz_bad_0.png")).expect("test step");
    let again = embed(&work, models(), 2).expect("embed goes on");
    assert_eq!(again.table.len(), rows.len());
    assert_eq!(again.skipped.len(), 1);
    assert!(again.skipped[0].path.ends_with("aligned_zz_bad_0.png") && again.skipped[0].reason.contains("100x90"), "{:?}", again.skipped);
}
