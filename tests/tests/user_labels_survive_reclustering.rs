//! The cluster folders are the user's labels. A re-run refuses to write into
//! them unless forced, and even forced never deletes a renamed folder, a
//! face the user moved, or a file the user added.

use rollcall_host::cluster::{ClusterOptions, LEDGER, cluster};
use rollcall_host::detect::{DetectOptions, detect};
use rollcall_host::embed::write_table;
use rollcall_host::work::Work;
use rollcall_tests::{labelled_tree, models, same_person_threshold};

fn files(dir: &std::path::Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).expect("list folder");
    let mut v: Vec<String> = entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn renamed_folders_moved_and_added_files_survive_a_forced_rerun() {
    let photos = labelled_tree(&["dlib_johns"]);
    let dir = tempfile::tempdir().expect("test step");
    let work = Work::new(dir.path());
    let out = detect(photos.path(), &work, models(), &DetectOptions { embed: true, annotate: false, ..DetectOptions::default() })
        .expect("test step");
    write_table(&work, models(), out.embeddings).expect("test step");
    let opts = ClusterOptions { k: Some(5), charts: false, ..ClusterOptions::default() };
    cluster(&work, same_person_threshold(), &opts).expect("test step");
    let c = work.clusters();

    // The user names person_1, moves a face from person_2 to person_3, and
    // leaves a note in person_4.
    std::fs::rename(c.join("person_1"), c.join("Robin")).expect("test step");
    let robin = files(&c.join("Robin"));
    let moved = files(&c.join("person_2"))[0].clone();
    std::fs::rename(c.join("person_2").join(&moved), c.join("person_3").join(&moved)).expect("test step");
    std::fs::write(c.join("person_4").join("notes.txt"), "the tall one").expect("test step");

    // Without --force: refused, nothing touched.
    let err = cluster(&work, same_person_threshold(), &opts).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(files(&c.join("Robin")), robin);

    // With --force: only rollcall's own untouched chips are replaced.
    cluster(&work, same_person_threshold(), &ClusterOptions { force: true, ..opts.clone() }).expect("test step");
    assert_eq!(files(&c.join("Robin")), robin, "a renamed folder is never touched");
    assert!(c.join("person_3").join(&moved).is_file(), "a moved face stays where the user put it");
    assert_eq!(std::fs::read_to_string(c.join("person_4").join("notes.txt")).expect("test step"), "the tall one");
    // The new clustering went into free names: person_3 and person_4 still
    // hold the user's files, so those clusters got person_3_2 and person_4_2.
    for name in ["person_1", "person_2", "person_3_2", "person_4_2", "person_5"] {
        assert!(c.join(name).is_dir(), "{name} written; have {:?}", files(&c));
    }
    assert!(c.join(LEDGER).is_file());
    // Nothing rollcall wrote the first time lingers unchanged elsewhere: the
    // old person_3 holds only its user-moved face plus the faces the user
    // never touched... which were rollcall's and are now removed.
    assert_eq!(files(&c.join("person_3")), vec![moved.clone()]);
    assert_eq!(files(&c.join("person_4")), vec!["notes.txt".to_string()]);
}
