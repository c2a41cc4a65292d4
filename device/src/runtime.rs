//! The device loop: frame → detect → align → embed → classify → reject →
//! smooth → events.
//!
//! Faces seen in the last frame keep their identity instead of being
//! embedded again, within the rules of [`crate::carry`]; the faces that do
//! need the recognizer go through it in one batch.
//!
//! Detection, alignment and embedding are the `models` crate's
//! [`FaceEngine`], classification and rejection the gallery's own code in
//! `shared`: the same code the host trained and evaluated with.

use std::time::{Duration, Instant};

use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::{ClassifierKind, Gallery};
use rollcall_shared::geometry::BBox;

use crate::carry::{Carrier, CarryRules, Likeness, Step};
use crate::error::Result;
use crate::events::{Event, Kind};
use crate::sinks::Sink;
use crate::source::Frame;
use crate::tracker::{Change, Observation, Smoothing, Tracker, Who, one_face_per_person};

/// Where the time of one frame went.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameTimes {
    pub detect: Duration,
    pub embed: Duration,
    /// Classification, rejection, smoothing and events.
    pub classify: Duration,
    /// Faces kept.
    pub faces: usize,
    /// Faces that went through the recognizer (the others kept the
    /// identity they had).
    pub embedded: usize,
}

/// Recognition state for one camera.
pub struct Recognizer {
    engine: Box<dyn FaceEngine>,
    gallery: Gallery,
    classifier: ClassifierKind,
    filter: FaceFilter,
    tracker: Tracker,
    carrier: Carrier,
    heartbeat: Option<Duration>,
    last_heartbeat: Instant,
}

impl Recognizer {
    /// Checks the gallery against the models and builds the sessions.
    pub fn new(
        models: &dyn Models,
        gallery: Gallery,
        classifier: Option<ClassifierKind>,
        smoothing: Smoothing,
        carry: CarryRules,
        heartbeat: Option<Duration>,
        threads: usize,
    ) -> Result<Self> {
        let card = models.card();
        gallery.check_models(&card.detector.digest(), &card.recognizer.digest())?;
        gallery.check_dimension(card.dim)?;
        let engine = models.engine(rollcall_models::runtime::Threads { intra: threads.max(1) })?;
        let classifier = classifier.unwrap_or(gallery.default_classifier);
        Ok(Recognizer {
            engine,
            gallery,
            classifier,
            filter: FaceFilter::default(),
            tracker: Tracker::new(smoothing),
            carrier: Carrier::new(carry, smoothing.iou),
            heartbeat,
            last_heartbeat: Instant::now(),
        })
    }

    /// Swaps in a new gallery between frames, after the checks
    /// [`new`](Self::new) makes. People it no longer has leave (their
    /// events come first, named as the old gallery named them); everyone
    /// else stays present; every face is embedded again in the next frame,
    /// since the new gallery may place everyone differently. On error the
    /// old gallery stays in use.
    pub fn replace_gallery(&mut self, models: &dyn Models, gallery: Gallery, ts: f64) -> Result<Vec<Event>> {
        let card = models.card();
        gallery.check_models(&card.detector.digest(), &card.recognizer.digest())?;
        gallery.check_dimension(card.dim)?;
        let old = &self.gallery.labels;
        let new = &gallery.labels;
        let map = |w: Who| match w {
            Who::Unknown => Some(Who::Unknown),
            Who::Person(i) => old.get(i).and_then(|l| new.iter().position(|n| n == l)).map(Who::Person),
        };
        let changes = self.tracker.remap(map);
        let mut events = self.events(changes, ts);
        let added: Vec<String> = new.iter().filter(|l| !old.contains(l)).cloned().collect();
        let removed: Vec<String> = old.iter().filter(|l| !new.contains(l)).cloned().collect();
        events.push(Event::reload(new.len(), added, removed, ts));
        self.gallery = gallery;
        self.carrier.forget();
        Ok(events)
    }

    /// The people of the gallery in use.
    pub fn labels(&self) -> &[String] {
        &self.gallery.labels
    }

    /// The classifier in use.
    pub fn classifier(&self) -> ClassifierKind {
        self.classifier
    }

    /// Classifies the faces of one frame (no smoothing): faces whose
    /// identity is carried forward keep it (see [`crate::carry`]), the
    /// others go through the recognizer in one batch.
    pub fn observe(&mut self, frame: &Frame, times: &mut FrameTimes) -> Result<Vec<Observation>> {
        let view = RgbView { data: frame.image.as_raw(), width: frame.image.width(), height: frame.image.height() };
        let t = Instant::now();
        let faces = self.engine.faces(view, &self.filter)?;
        times.detect = t.elapsed();
        let t = Instant::now();
        let kept: Vec<(BBox, &[u8])> = faces
            .iter()
            .filter(|f| f.verdict == Verdict::Kept)
            .filter_map(|f| f.chip.as_deref().map(|chip| (f.detection.bbox, chip)))
            .collect();
        let boxes: Vec<BBox> = kept.iter().map(|(b, _)| *b).collect();
        let side = self.engine.chip_size() as usize;
        let looks: Vec<Likeness> = kept.iter().map(|(_, chip)| Likeness::of(chip, side)).collect();
        let plan = self.carrier.plan(&boxes, &looks);
        let chips: Vec<&[u8]> = kept.iter().zip(&plan.steps).filter(|(_, s)| **s == Step::Embed).map(|((_, c), _)| *c).collect();
        let mut embeddings = self.engine.embed_batch(&chips)?.into_iter();
        times.embed = t.elapsed();
        times.faces = kept.len();
        times.embedded = chips.len();
        let mut verdicts = Vec::with_capacity(kept.len());
        for step in &plan.steps {
            verdicts.push(match step {
                Step::Carry(who, score) => (*who, *score),
                Step::Embed => {
                    let e = embeddings.next().ok_or_else(|| rollcall_models::Error::Contract {
                        model: "the recognizer".into(),
                        reason: "returned fewer embeddings than faces".into(),
                    })?;
                    let p = self.gallery.predict(self.classifier, &e);
                    // The classifier decides; what events report (and which
                    // of two faces keeps a name) is the one scale users read.
                    (p.person().map_or(Who::Unknown, Who::Person), p.similarity)
                }
            });
        }
        self.carrier.record(&boxes, looks, &plan, &verdicts);
        let mut obs: Vec<Observation> =
            boxes.iter().zip(&verdicts).map(|(bbox, &(who, score))| Observation { bbox: *bbox, who, score }).collect();
        one_face_per_person(&mut obs);
        Ok(obs)
    }

    fn name(&self, who: Who) -> &str {
        match who {
            Who::Person(i) => self.gallery.labels.get(i).map_or("?", String::as_str),
            Who::Unknown => "unknown",
        }
    }

    fn events(&self, changes: Vec<Change>, ts: f64) -> Vec<Event> {
        changes
            .into_iter()
            .map(|c| match c {
                Change::Arrived(w, s) => Event::person(Kind::Arrived, self.name(w), s, ts),
                Change::Left(w, s) => Event::person(Kind::Left, self.name(w), s, ts),
            })
            .collect()
    }

    /// One frame through the whole path; returns its events.
    pub fn process(&mut self, frame: &Frame, times: &mut FrameTimes) -> Result<Vec<Event>> {
        let obs = self.observe(frame, times)?;
        let t = Instant::now();
        let changes = self.tracker.update(&obs);
        let mut events = self.events(changes, frame.ts);
        if let Some(every) = self.heartbeat
            && self.last_heartbeat.elapsed() >= every
        {
            self.last_heartbeat = Instant::now();
            events.push(Event::heartbeat(self.tracker.present().count(), frame.ts));
        }
        times.classify = t.elapsed();
        Ok(events)
    }

    /// The end of input: everyone present leaves.
    pub fn finish(&mut self, ts: f64) -> Vec<Event> {
        let changes = self.tracker.finish();
        self.events(changes, ts)
    }
}

/// Sends events to every sink; a failing sink is reported, not fatal.
pub(crate) fn dispatch(sinks: &mut [Box<dyn Sink>], events: &[Event]) {
    for e in events {
        for s in sinks.iter_mut() {
            if let Err(err) = s.emit(e) {
                // The whole chain: "cannot write the events log X" alone
                // did not say whether the disk was full or a permission
                // was missing.
                tracing::warn!("{}", err.chain());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rollcall_models::fake::{FakeModels, PaintedFace, scene};

    use super::*;

    /// A 320 x 240 frame with `faces` (identity) side by side, at fixed
    /// places, so that two people who swap places leave the boxes as they
    /// were.
    fn frame(faces: &[u64]) -> Frame {
        let painted: Vec<PaintedFace> =
            faces.iter().enumerate().map(|(i, &id)| PaintedFace::new(8 + i as u32 * 124, 20, 120, id, 1)).collect();
        Frame { image: scene(320, 240, 5, &painted), ts: 0.0, origin: "test".into() }
    }

    fn recognizer(carry: CarryRules) -> Recognizer {
        let gallery = rollcall_shared::gallery::read_file(&rollcall_testkit::tiny_gallery()).expect("tiny gallery");
        Recognizer::new(&FakeModels::default(), gallery, None, Smoothing::default(), carry, None, 1).expect("recognizer")
    }

    /// Who the leftmost face is, and how many faces were embedded.
    fn left(rec: &mut Recognizer, faces: &[u64]) -> (String, usize) {
        let mut times = FrameTimes::default();
        let mut obs = rec.observe(&frame(faces), &mut times).expect("observe");
        obs.sort_by(|a, b| a.bbox.x1.total_cmp(&b.bbox.x1));
        (rec.name(obs[0].who).to_string(), times.embedded)
    }

    #[test]
    fn two_people_who_swap_places_are_caught() {
        let (ada, ben) = (101, 102);
        // With every rule on, the swap is seen in the very frame it happens:
        // the faces no longer look like what was embedded there.
        let mut rec = recognizer(CarryRules::default());
        for _ in 0..6 {
            assert_eq!(left(&mut rec, &[ada, ben]).0, "ada");
        }
        assert_eq!(left(&mut rec, &[ada, ben]).1, 0, "settled faces standing still are carried");
        assert_eq!(left(&mut rec, &[ben, ada]), ("ben".to_string(), 2));

        // Even with the likeness check off (two people who look alike to a
        // 16 x 16 thumbnail), the re-check finds the swap within
        // recheck_every frames, and the tracker's smoothing then needs its
        // agreeing frames as always.
        let carry = CarryRules { min_likeness: -1.0, recheck_every: 4, ..CarryRules::default() };
        let mut rec = recognizer(carry);
        for _ in 0..6 {
            left(&mut rec, &[ada, ben]);
        }
        let after: Vec<String> = (0..carry.recheck_every + carry.settle_after).map(|_| left(&mut rec, &[ben, ada]).0).collect();
        assert_eq!(after.last().map(String::as_str), Some("ben"), "{after:?}");
        let first_right = after.iter().position(|w| w == "ben").expect("caught");
        assert!(first_right < carry.recheck_every, "caught only after {first_right} frames: {after:?}");
    }

    #[test]
    fn embedding_every_frame_is_still_possible() {
        let mut rec = recognizer(CarryRules { recheck_every: 1, ..CarryRules::default() });
        for _ in 0..4 {
            assert_eq!(left(&mut rec, &[101, 102]).1, 2);
        }
    }
}
