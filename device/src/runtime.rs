//! The device loop: frame → detect → align → embed → classify → reject →
//! smooth → events.
//!
//! Detection, alignment and embedding are the `models` crate's
//! [`FaceEngine`], classification and rejection the gallery's own code in
//! `shared`: the same code the host trained and evaluated with.

use std::time::{Duration, Instant};

use anyhow::Result;
use rollcall_models::{FaceEngine, FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use rollcall_shared::gallery::{ClassifierKind, Gallery};

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
    pub faces: usize,
}

/// Recognition state for one camera.
pub struct Recognizer {
    engine: Box<dyn FaceEngine>,
    gallery: Gallery,
    classifier: ClassifierKind,
    filter: FaceFilter,
    tracker: Tracker,
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
            heartbeat,
            last_heartbeat: Instant::now(),
        })
    }

    /// The classifier in use.
    pub fn classifier(&self) -> ClassifierKind {
        self.classifier
    }

    /// Classifies the faces of one frame (no smoothing).
    pub fn observe(&mut self, frame: &Frame, times: &mut FrameTimes) -> Result<Vec<Observation>> {
        let view = RgbView { data: frame.image.as_raw(), width: frame.image.width(), height: frame.image.height() };
        let t = Instant::now();
        let faces = self.engine.faces(view, &self.filter)?;
        times.detect = t.elapsed();
        let t = Instant::now();
        let mut embedded = Vec::new();
        for f in faces.iter().filter(|f| f.verdict == Verdict::Kept) {
            if let Some(chip) = &f.chip {
                embedded.push((f.detection.bbox, self.engine.embed(chip)?));
            }
        }
        times.embed = t.elapsed();
        times.faces = embedded.len();
        let mut obs: Vec<Observation> = embedded
            .iter()
            .map(|(bbox, e)| {
                let p = self.gallery.predict(self.classifier, e);
                Observation { bbox: *bbox, who: p.person().map_or(Who::Unknown, Who::Person), score: p.score }
            })
            .collect();
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
pub fn dispatch(sinks: &mut [Box<dyn Sink>], events: &[Event]) {
    for e in events {
        for s in sinks.iter_mut() {
            if let Err(err) = s.emit(e) {
                tracing::warn!("{err:#}");
            }
        }
    }
}
