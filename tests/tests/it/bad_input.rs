//! Bad and unusual input files, made here from a real portrait: each gives a
//! clear error naming the file, or the right result, and never a panic. The
//! detect stage reports the bad ones and goes on with the rest.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageEncoder, RgbImage};
use rollcall_host::artifacts::Work;
use rollcall_host::stages::detect::{DetectOptions, detect};
use rollcall_models::decode::DecodeError;
use rollcall_models::{FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::embedding::dot;
use rollcall_tests::{faces_dir, models};

fn portrait() -> (PathBuf, RgbImage) {
    let p = faces_dir().join("misc_small/obama/obama.jpg");
    let img = rollcall_models::decode::load_rgb(&p).unwrap_or_else(|e| panic!("{e}"));
    (p, img)
}

/// A kept face's landmarks and embedding.
type KeptFace = (rollcall_shared::align::Landmarks, Vec<f32>);

/// The kept faces of the photo at `path`.
fn faces(path: &Path) -> rollcall_models::Result<Vec<KeptFace>> {
    let img = rollcall_models::decode::load_rgb(path)?;
    let mut engine = models().engine(Default::default())?;
    let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
    let mut out = Vec::new();
    for (f, e) in engine.faces_with_embeddings(view, &FaceFilter::default())? {
        if f.verdict == Verdict::Kept {
            out.push((f.detection.landmarks, e.expect("kept faces are embedded")));
        }
    }
    Ok(out)
}

fn reference_embedding() -> Vec<f32> {
    let (p, _) = portrait();
    let f = faces(&p).expect("portrait");
    assert_eq!(f.len(), 1);
    f[0].1.clone()
}

fn jpeg_bytes(img: &RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 92);
    if let Some(exif) = exif {
        enc.set_exif_metadata(exif).expect("jpeg takes exif");
    }
    enc.write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8).expect("encode jpeg");
    buf
}

/// A little-endian TIFF block holding one IFD entry: Orientation = `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes()); // IFD offset
    t.extend(1u16.to_le_bytes()); // one entry
    t.extend(0x0112u16.to_le_bytes()); // Orientation
    t.extend(3u16.to_le_bytes()); // SHORT
    t.extend(1u32.to_le_bytes()); // count
    t.extend(value.to_le_bytes());
    t.extend([0, 0]); // value padding
    t.extend(0u32.to_le_bytes()); // no next IFD
    t
}

/// The decode error for `path`, which must name it.
fn decode_error(path: &Path, what: &str) -> DecodeError {
    match faces(path) {
        Err(rollcall_models::Error::Image { path: named, source }) => {
            assert_eq!(named, path, "the error for {what} names the file");
            source
        }
        Err(other) => panic!("{what}: {other:?}"),
        Ok(f) => panic!("{what} decoded into {} faces instead of failing", f.len()),
    }
}

#[test]
fn empty_text_and_truncated_files_give_clear_errors() {
    let dir = tempfile::tempdir().expect("test step");
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").expect("test step");
    assert!(matches!(decode_error(&empty, "a 0-byte file"), DecodeError::Empty));

    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, b"this is not a photo, just some text\n").expect("test step");
    assert!(matches!(decode_error(&text, "a text file named .jpg"), DecodeError::UnknownFormat));

    // A truncated JPEG: the decoder may refuse it or fill the missing rows;
    // either way no panic, and a refusal names the file.
    let (_, img) = portrait();
    let full = jpeg_bytes(&img, None);
    let cut = dir.path().join("truncated.jpg");
    std::fs::write(&cut, &full[..full.len() / 3]).expect("test step");
    match faces(&cut) {
        Err(e) => assert!(matches!(&e, rollcall_models::Error::Image { path, .. } if *path == cut), "{e:?}"),
        Ok(f) => assert!(f.len() <= 1, "a third of one face cannot hold {} faces", f.len()),
    }
}

#[test]
fn webp_named_jpg_rgba_and_16_bit_png_decode_correctly() {
    let want = reference_embedding();
    let (_, img) = portrait();
    let dir = tempfile::tempdir().expect("test step");

    let webp = dir.path().join("really_webp.jpg");
    let mut buf = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut buf)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .expect("test step");
    std::fs::write(&webp, &buf).expect("test step");

    let rgba = dir.path().join("rgba.png");
    DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(img.clone()).to_rgba8()).save(&rgba).expect("test step");

    let deep = dir.path().join("sixteen.png");
    DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(img.clone()).to_rgb16()).save(&deep).expect("test step");

    for p in [&webp, &rgba, &deep] {
        let f = faces(p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.len(), 1, "{}", p.display());
        let cos = dot(&f[0].1, &want);
        assert!(cos > 0.99, "{}: same pixels should embed alike, cosine {cos}", p.display());
    }
    // The shared set's own disguised WEBP decodes too.
    let shared = faces_dir().join("deepface/_hard/img47_webp_disguised_as.jpg");
    assert_eq!(faces(&shared).unwrap_or_else(|e| panic!("{e}")).len(), 1);
}

#[test]
fn exif_rotated_jpeg_is_turned_upright() {
    let want = reference_embedding();
    let (_, img) = portrait();
    // Store the pixels turned a quarter anticlockwise and tag them
    // "rotate 90 clockwise to display" (orientation 6).
    let stored = image::imageops::rotate270(&img);
    let dir = tempfile::tempdir().expect("test step");
    let p = dir.path().join("rotated.jpg");
    std::fs::write(&p, jpeg_bytes(&stored, Some(exif_orientation(6)))).expect("test step");

    let decoded = rollcall_models::decode::load_rgb(&p).expect("test step");
    assert_eq!(decoded.dimensions(), img.dimensions(), "orientation applied");
    let f = faces(&p).expect("test step");
    assert_eq!(f.len(), 1);
    let lm = f[0].0;
    assert!(lm[0][1] < lm[3][1] && lm[1][1] < lm[4][1], "eyes above the mouth: {lm:?}");
    let cos = dot(&f[0].1, &want);
    assert!(cos > 0.95, "upright face embeds like the original, cosine {cos}");
}

#[test]
fn detect_stage_reports_bad_files_and_goes_on() {
    let (_, img) = portrait();
    let photos = tempfile::tempdir().expect("test step");
    std::fs::write(photos.path().join("a_empty.jpg"), b"").expect("test step");
    std::fs::write(photos.path().join("b_text.jpg"), b"hello").expect("test step");
    std::fs::write(photos.path().join("c_good.jpg"), jpeg_bytes(&img, None)).expect("test step");
    let out = tempfile::tempdir().expect("test step");
    let work = Work::new(out.path()).claim().expect("work dir");
    let opts = DetectOptions { jobs: 2, ..DetectOptions::default() };
    let outcome = detect(photos.path(), &work, models(), &opts).expect("the run goes on");
    let s = &outcome.file.summary;
    assert_eq!((s.images_found, s.images_read, s.images_skipped, s.faces_kept), (3, 1, 2, 1));
    let reasons: Vec<(String, String)> = outcome.file.photos.iter().filter_map(|p| p.error.clone().map(|e| (p.path.clone(), e))).collect();
    assert!(reasons[0].0.ends_with("a_empty.jpg") && reasons[0].1.contains("empty"), "{reasons:?}");
    assert!(reasons[1].0.ends_with("b_text.jpg") && reasons[1].1.contains("not a recognised image format"), "{reasons:?}");
    assert!(work.aligned().join("aligned_c_good_0.png").is_file());
}

/// A model file that fails its sha256 is refused with an error naming it,
/// whether ONNX Runtime's library is in the cache (checked on a second
/// thread while the models are read) or still to fetch (fetched after the
/// models, so a bad model is reported before any download).
#[test]
fn a_model_that_fails_its_check_is_named_with_or_without_the_runtime_cached() {
    use rollcall_models::{ModelSet, ModelStore, Role};
    let real = models().store();
    for runtime_cached in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ModelStore::open(dir.path(), real.manifest().clone()).expect("store");
        let det = store.manifest().select(Role::Detector, None).expect("detector").clone();
        let rec = store.manifest().select(Role::Recognizer, None).expect("recognizer").clone();
        std::fs::write(store.model_path(&det), b"not a detector").expect("write the bad detector");
        std::fs::copy(real.model_path(&rec), store.model_path(&rec)).expect("copy the recognizer");
        if runtime_cached {
            std::fs::copy(real.runtime_path(), store.runtime_path()).expect("copy the runtime");
        }
        let err = ModelSet::load(&store, None, None).expect_err("a detector that fails its check");
        assert!(
            matches!(&err, rollcall_models::Error::Checksum { path, .. } if *path == store.model_path(&det)),
            "runtime cached: {runtime_cached}: {err}"
        );
        assert_eq!(store.runtime_path().is_file(), runtime_cached, "nothing fetched for a bad model");
    }
}

/// A run held each model file's bytes for as long as it lasted, beside the
/// sessions made from them: SFace's 37 MB, a tenth of the peak on
/// `deepface` (487-519 against 447-461 MiB without them, paired release
/// rounds). A model set now keeps only what it checked, and each session
/// reads its file again, checked against the digest the load found: this
/// is what makes dropping the bytes safe, so a model file changed after the
/// load must be refused, not used.
#[test]
fn regression_a_run_held_its_model_files_bytes_beside_their_sessions() {
    use rollcall_models::{ModelSet, ModelStore, Role};
    let real = models().store();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut manifest = real.manifest().clone();
    let store = ModelStore::open(dir.path(), manifest.clone()).expect("store");
    let det = store.manifest().select(Role::Detector, None).expect("detector").clone();
    let rec = store.manifest().select(Role::Recognizer, None).expect("recognizer").clone();
    std::fs::copy(real.model_path(&det), store.model_path(&det)).expect("copy the detector");
    std::fs::copy(real.model_path(&rec), store.model_path(&rec)).expect("copy the recognizer");
    std::fs::copy(real.runtime_path(), store.runtime_path()).expect("copy the runtime");
    let set = ModelSet::load(&store, None, None).expect("the models load");
    set.recognizer(Default::default()).expect("a session from the file as loaded");

    let mut changed = std::fs::read(store.model_path(&rec)).expect("read");
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(store.model_path(&rec), &changed).expect("change the recognizer file");
    let err = set.recognizer(Default::default()).expect_err("a file changed since the load");
    assert!(matches!(&err, rollcall_models::Error::Checksum { path, .. } if *path == store.model_path(&rec)), "{err}");

    // Also for a manifest entry without a digest, which the load accepts
    // unchecked: the digest the load found is the one each session's read
    // must match.
    for m in manifest.models.iter_mut() {
        m.sha256 = None;
    }
    let unchecked = ModelStore::open(dir.path(), manifest).expect("store");
    std::fs::copy(real.model_path(&rec), unchecked.model_path(&rec)).expect("restore the recognizer");
    let set = ModelSet::load(&unchecked, None, None).expect("the models load unchecked");
    std::fs::write(unchecked.model_path(&rec), &changed).expect("change the recognizer file");
    let err = set.recognizer(Default::default()).expect_err("a file changed since the load, unchecked entry");
    assert!(matches!(&err, rollcall_models::Error::Checksum { .. }), "{err}");

    // A file gone since the load is an error naming it, not fetched again
    // in the middle of a run.
    std::fs::remove_file(unchecked.model_path(&rec)).expect("remove the recognizer file");
    let err = set.recognizer(Default::default()).expect_err("a file gone since the load");
    assert!(err.to_string().contains(&unchecked.model_path(&rec).display().to_string()), "{err}");
    assert!(!unchecked.model_path(&rec).exists(), "nothing fetched");
}

/// Every worker of a run made its sessions when it started, all at the same
/// moment. Making SFace's holds about 100 MiB more than the session then
/// keeps (the file's bytes, the rewritten graph, ONNX Runtime's copies while
/// it optimises and packs them), so that moment was the peak of a whole
/// run: 367-389 MiB on `deepface`, 310-320 MiB once sessions are made one at
/// a time (docs/benchmarks.md). Four threads that set out together to make a
/// recognizer each make theirs in turn.
#[test]
fn regression_every_worker_made_its_sessions_at_the_same_moment() {
    let set = models();
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    set.recognizer(Default::default()).map(|_| ())
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a thread").expect("a session");
        }
    });
    assert_eq!(rollcall_models::most_sessions_made_at_once(), 1);
}
