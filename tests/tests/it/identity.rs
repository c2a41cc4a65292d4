//! The embeddings carry identity: on `dlib_johns` (five different Johns),
//! nearly every face's nearest neighbour is the same person, and same-person
//! pairs are far more similar than different-person pairs.

use rollcall_models::recognizer::GraphRewrites;
use rollcall_models::{FaceFilter, Models, Recognizer, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::embedding::dot;
use rollcall_tests::{identities, models};

#[test]
fn dlib_johns_nearest_neighbours_share_identity() {
    let mut engine = models().engine(Default::default()).expect("engine");
    let mut embs: Vec<(String, Vec<f32>)> = Vec::new();
    for (who, photos) in identities("dlib_johns") {
        for p in photos {
            let img = rollcall_models::decode::load_rgb(&p).unwrap_or_else(|e| panic!("{e}"));
            let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
            let faces = engine.faces(view, &FaceFilter::default()).expect("faces");
            // The chips are tightly cropped portraits: the best face is the person.
            let best = faces.into_iter().find(|f| f.verdict == Verdict::Kept).unwrap_or_else(|| panic!("no face in {}", p.display()));
            embs.push((who.clone(), engine.embed(best.chip.as_ref().expect("chip")).expect("embed")));
        }
    }
    assert_eq!(embs.len(), 51);
    let n = embs.len();
    let mut correct = 0;
    let (mut same, mut same_n, mut diff, mut diff_n) = (0f64, 0usize, 0f64, 0usize);
    for i in 0..n {
        let mut best = (f32::MIN, 0);
        for j in (0..n).filter(|&j| j != i) {
            let s = dot(&embs[i].1, &embs[j].1);
            if s > best.0 {
                best = (s, j);
            }
            if j > i {
                if embs[i].0 == embs[j].0 {
                    same += f64::from(s);
                    same_n += 1;
                } else {
                    diff += f64::from(s);
                    diff_n += 1;
                }
            }
        }
        correct += usize::from(embs[best.1].0 == embs[i].0);
    }
    let accuracy = correct as f64 / n as f64;
    let gap = same / same_n as f64 - diff / diff_n as f64;
    eprintln!("nearest-neighbour identity {correct}/{n} = {accuracy:.3}; same-person mean cosine exceeds different-person by {gap:.3}");
    assert!(accuracy >= 0.95, "nearest neighbour has the same identity in only {accuracy:.3} of cases");
    assert!(gap >= 0.3, "same-person mean cosine exceeds different-person mean by only {gap:.3}");
}

/// One kept face's chip from the first photo of each of five Johns.
fn five_chips() -> Vec<Vec<u8>> {
    let mut engine = models().engine(Default::default()).expect("engine");
    let mut chips = Vec::new();
    for (_, photos) in identities("dlib_johns").into_iter().take(5) {
        let img = rollcall_models::decode::load_rgb(&photos[0]).unwrap_or_else(|e| panic!("{e}"));
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        let face =
            engine.faces(view, &FaceFilter::default()).expect("faces").into_iter().find(|f| f.verdict == Verdict::Kept).expect("a face");
        chips.push(face.chip.expect("chip"));
    }
    chips
}

/// SFace is exported with a batch of 1; the recognizer frees it so that the
/// device embeds several faces in one call. One call over five chips gives
/// the embeddings five calls give.
#[test]
fn a_batch_of_chips_embeds_as_one_by_one() {
    let mut recognizer = models().recognizer(Default::default()).expect("recognizer");
    assert!(recognizer.batched(), "SFace's graph allows a free batch");
    let chips = five_chips();
    let refs: Vec<&[u8]> = chips.iter().map(Vec::as_slice).collect();
    let batch = recognizer.embed_batch(&refs).expect("batch");
    assert_eq!(batch.len(), 5);
    for (chip, b) in refs.iter().zip(&batch) {
        let one = recognizer.embed(chip).expect("one");
        assert!(dot(&one, b) > 0.9999, "batched and single embeddings differ");
    }
}

/// The recognizer runs SFace with its 27 `PRelu`s spelled out as `Relu`,
/// per-channel scales and an `Add` (ONNX Runtime ran the `PRelu`s slowly,
/// half of SFace's time). The spelled-out network gives the embeddings of
/// the network as exported, to rounding.
#[test]
fn sface_with_its_prelus_spelled_out_embeds_as_exported() {
    let set = models();
    let (spec, bytes) = (set.recognizer_spec(), set.recognizer_bytes().expect("the recognizer file"));
    let mut fast = set.recognizer(Default::default()).expect("recognizer");
    assert_eq!(fast.prelus_split(), 27, "every PRelu of SFace is spelled out");
    let mut exported = Recognizer::with_rewrites(set.store(), spec, &bytes, Default::default(), GraphRewrites::NONE).expect("as exported");
    assert_eq!((exported.prelus_split(), exported.batched()), (0, false));
    for chip in five_chips() {
        let (a, b) = (fast.embed(&chip).expect("rewritten"), exported.embed(&chip).expect("as exported"));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "an embedding component differs by {worst} between the rewritten and the exported network");
    }
}
