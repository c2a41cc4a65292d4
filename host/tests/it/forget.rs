//! `rollcall forget`: erasure on request, end to end on the fake engine.
//! After it, no file in the work directory, the model folder or the
//! gallery holds the person's name, one of their embeddings (nor one
//! within rounding of it) or the name of one of their face chips; the
//! others are still there, and the gallery is signed again with a higher
//! serial.

use crate::common;

use std::path::{Path, PathBuf};

use common::{fails, ok};
use rollcall_host::artifacts::cache::Cache;
use rollcall_host::artifacts::embeddings::EmbeddingTable;

const NAME: &str = "Zoë Quixote";

fn files_under(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()).map(|e| e.into_path()).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(1e-12)
}

/// Whether any of `vectors` is `theirs` up to the rounding of an int8
/// gallery.
fn holds_any(vectors: &[Vec<f32>], theirs: &[Vec<f32>]) -> bool {
    vectors.iter().any(|v| theirs.iter().any(|t| cosine(v, t) > 0.999))
}

#[test]
fn forget_leaves_no_name_and_no_embedding_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, work) = common::named_classroom(dir.path());
    std::fs::rename(work.join("clusters/p12"), work.join("clusters").join(NAME)).expect("name a person");
    let model = dir.path().join("model");
    let gallery = dir.path().join("gallery.rcg");
    let key = dir.path().join("school");
    ok(&[&"train", &work.join("clusters"), &"--out", &model]);
    ok(&[&"keygen", &"--out", &key]);
    ok(&[&"export", &model, &"--out", &gallery, &"--sign", &key]);
    let public = rollcall_host::artifacts::keys::read_public(&dir.path().join("school.pub")).expect("public key");
    let verified = |path: &Path| {
        rollcall_shared::gallery::Gallery::decode_verified(&std::fs::read(path).expect("gallery"), &public).expect("signed by the school")
    };
    let (before, serial_before) = verified(&gallery);
    assert!(before.labels.iter().any(|l| l == NAME), "{:?}", before.labels);

    // Their chips and embeddings, and the rest, before.
    let chips: Vec<String> = std::fs::read_dir(work.join("clusters").join(NAME))
        .expect("their folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // The report shows their faces.
    let report = files_under(&work.join("report")).into_iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect::<String>();
    assert!(chips.iter().all(|c| report.contains(c.as_str())), "the report shows their faces before");
    let table = EmbeddingTable::read(&work.join("embeddings.parquet")).expect("embeddings");
    let theirs: Vec<Vec<f32>> = (0..table.len()).filter(|&i| chips.contains(&table.files[i])).map(|i| table.row(i).to_vec()).collect();
    assert_eq!(theirs.len(), chips.len());
    let others = table.len() - theirs.len();

    // The review page's journal, as renaming them there leaves it.
    let journal = work.join(rollcall_host::review::JOURNAL);
    let other = r#"{"id":1,"ts":1.0,"what":"named person_1 p11","ops":[{"rename":{"from":"person_1","to":"p11"}}]}"#;
    let theirs_line =
        format!(r#"{{"id":2,"ts":2.0,"what":"named person_2 {NAME}","ops":[{{"rename":{{"from":"person_2","to":"{NAME}"}}}}]}}"#);
    std::fs::write(&journal, format!("{other}\n{theirs_line}\n")).expect("journal");

    // Not a person here: refused, with the names there are.
    let err = fails(&[&"forget", &"Nobody", &work]);
    assert!(err.contains("no folder called `Nobody`") && err.contains(NAME), "{err}");

    // Asked in another case: still them.
    let out = ok(&[&"forget", &NAME.to_lowercase(), &work, &"--model", &model, &"--gallery", &gallery, &"--sign", &key]);
    assert!(out.contains(&format!("with {} faces", chips.len())) && out.contains("trained") && out.contains("serial"), "{out}");

    // No file anywhere holds the name.
    let everything: Vec<PathBuf> = [files_under(&work), files_under(&model), vec![gallery.clone()]].concat();
    for path in &everything {
        let bytes = std::fs::read(path).expect("read");
        assert!(!bytes.windows(NAME.len()).any(|w| w == NAME.as_bytes()), "{} still names them", path.display());
        // Nor names one of their face chips (the report showed them).
        for chip in &chips {
            assert!(!bytes.windows(chip.len()).any(|w| w == chip.as_bytes()), "{} still lists {chip}", path.display());
        }
        // Nor one of their embeddings, as stored uncompressed.
        for v in &theirs {
            let raw: Vec<u8> = v[..8].iter().flat_map(|x| x.to_le_bytes()).collect();
            assert!(!bytes.windows(raw.len()).any(|w| w == raw.as_slice()), "{} still holds an embedding of theirs", path.display());
        }
    }
    // Nor, decoded, in the tables, the cache and the gallery.
    let table = EmbeddingTable::read(&work.join("embeddings.parquet")).expect("embeddings");
    let rows: Vec<Vec<f32>> = (0..table.len()).map(|i| table.row(i).to_vec()).collect();
    assert_eq!(rows.len(), others, "the others stay");
    assert!(!holds_any(&rows, &theirs));
    let cache = Cache::read(&work.join("cache.bin")).expect("cache");
    let cached: Vec<Vec<f32>> = cache.entries.values().flat_map(|e| e.embeddings.clone().unwrap_or_default()).collect();
    assert!(!cached.is_empty() && !holds_any(&cached, &theirs));
    for chip in &chips {
        assert!(!work.join("aligned").join(chip).exists(), "{chip}");
    }
    let (after, serial_after) = verified(&gallery);
    assert_eq!(after.people(), before.people() - 1);
    assert!(serial_after > serial_before, "a device that saw the old gallery takes the new one");
    let dim = theirs[0].len();
    let refs: Vec<Vec<f32>> = (0..after.knn_labels.len())
        .map(|i| {
            let mut v = vec![0.0; dim];
            after.knn_refs.row_into(i, dim, &mut v);
            v
        })
        .collect();
    assert!(!refs.is_empty() && !holds_any(&refs, &theirs));

    assert_eq!(std::fs::read_to_string(&journal).expect("journal"), format!("{other}\n"), "the other lines stay");
    assert!(out.contains("1 review journal lines"), "{out}");

    // The work directory still works: the report and training read it.
    assert!(work.join("report/index.html").is_file());
    let out = ok(&[&"train", &work.join("clusters"), &"--out", &dir.path().join("again")]);
    assert!(out.contains("3 people"), "{out}");
}

/// A journal line renaming `from` to `to`, as the review page writes it.
fn named(id: u64, from: &str, to: &str) -> String {
    let op = serde_json::json!({"id": id, "ts": 1.0, "what": format!("named {from} {to}"), "ops": [{"rename": {"from": from, "to": to}}]});
    op.to_string()
}

/// `forget` scrubbed the review journal with a substring match on the raw
/// JSON line: `forget Ann` removed Anna's lines, left the lines of the
/// earlier spelling `ann`, and `forget 'Zoë "Z"'` removed nothing (the
/// quotes are escaped in JSON). `detections.json` kept the paths of the
/// photos that were theirs alone, and `charts/` and `similarity.png` still
/// plotted their faces. Now journal entries are parsed and matched by the
/// one rule on names, their own photos leave `detections.json`, the
/// heatmap is drawn again without them and the per-face charts go.
#[test]
fn regression_forget_ann_removed_annas_lines_and_kept_the_earlier_spelling() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, work) = common::named_classroom(dir.path());
    let clusters = work.join("clusters");
    std::fs::rename(clusters.join("p12"), clusters.join("Ann")).expect("name Ann");
    std::fs::rename(clusters.join("p13"), clusters.join("Anna")).expect("name Anna");
    std::fs::rename(clusters.join("p14"), clusters.join(r#"Zoë "Z""#)).expect("name Zoë");
    let journal = work.join(rollcall_host::review::JOURNAL);
    let lines = [
        named(1, "person_2", "ann"),
        named(2, "ann", "Ann"),
        named(3, "person_3", "Anna"),
        named(4, "person_4", r#"Zoë "Z""#),
        named(5, "person_1", "p11"),
    ];
    std::fs::write(&journal, lines.join("\n") + "\n").expect("journal");

    // Ann's photos, and which of them hold someone else's face too.
    let rows = rollcall_host::artifacts::metadata::read(&work.join("metadata.csv")).expect("metadata");
    let chips_of = |folder: &str| -> Vec<String> {
        std::fs::read_dir(clusters.join(folder))
            .expect("folder")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let ann = chips_of("Ann");
    let photos_of = |chips: &[String]| -> std::collections::BTreeSet<String> {
        rows.iter().filter(|r| chips.contains(&r.aligned_file)).map(|r| r.original_file.clone()).collect()
    };
    let others: Vec<String> = ["p11", "Anna", r#"Zoë "Z""#].iter().flat_map(|f| chips_of(f)).collect();
    let shared = photos_of(&others);
    let alone: Vec<String> = photos_of(&ann).into_iter().filter(|p| !shared.contains(p)).collect();
    assert!(!alone.is_empty() && photos_of(&ann).iter().any(|p| shared.contains(p)), "a group photo and photos of Ann alone");
    let heatmap = std::fs::read(work.join("similarity.png")).expect("similarity.png");
    assert!(work.join("charts/pca.svg").is_file());

    ok(&[&"forget", &"Ann", &work]);
    let left = std::fs::read_to_string(&journal).expect("journal");
    assert_eq!(left, [&lines[2], &lines[3], &lines[4]].map(|l| format!("{l}\n")).concat(), "Anna's lines stay, both spellings of Ann's go");
    let detections = std::fs::read_to_string(work.join("detections.json")).expect("detections.json");
    for photo in &alone {
        let json = serde_json::to_string(photo).expect("json");
        assert!(!detections.contains(json.trim_matches('"')), "detections.json still lists {photo}");
    }
    assert!(photos_of(&others).iter().all(|p| detections.contains(serde_json::to_string(p).expect("json").trim_matches('"'))));
    assert_ne!(std::fs::read(work.join("similarity.png")).expect("similarity.png"), heatmap, "the heatmap is drawn again");
    assert!(!work.join("charts/pca.svg").exists(), "a chart that plots each face goes");

    ok(&[&"forget", &r#"Zoë "Z""#, &work]);
    let left = std::fs::read_to_string(&journal).expect("journal");
    assert_eq!(left, [&lines[2], &lines[4]].map(|l| format!("{l}\n")).concat());

    // An empty name is no one (it matched every line).
    let err = fails(&[&"forget", &"", &work]);
    assert!(err.contains("empty"), "{err}");
    assert_eq!(std::fs::read_to_string(&journal).expect("journal"), left);
}
