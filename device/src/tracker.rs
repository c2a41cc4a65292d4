//! Temporal smoothing: faces followed across frames, people declared
//! present only after agreeing frames, and gone only after a gap.
//!
//! Each face is a track, matched from frame to frame by box overlap (IoU),
//! or, when it jumped, by the person it already is. A track keeps the last
//! `window` frames of what the classifier said. It *is* someone once that
//! person (or "unknown") won `present_after` of those frames; that person
//! then **arrives**. A present person **leaves** after `absent_after`
//! frames in which no track is them.
//!
//! Two invariants hold in every frame: a track is at most one person, and
//! no person is two tracks (the one with more agreeing frames wins, the
//! other counts as unknown for that frame). Strangers share one presence,
//! `unknown`: "someone we do not know is here".

use std::collections::{BTreeMap, VecDeque};

use rollcall_cli::within;
use rollcall_shared::geometry::BBox;

/// Who a face is: a gallery person, or a stranger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Who {
    /// Index into the gallery's labels.
    Person(usize),
    /// Below the rejection threshold.
    Unknown,
}

/// One classified face in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Box in frame pixels.
    pub bbox: BBox,
    /// Whom the gallery's classifier named, or nobody.
    pub who: Who,
    /// The classifier's score for `who`.
    pub score: f32,
}

/// Smoothing settings, checked. Made from the `[smoothing]` table of
/// `device.toml` and its flags ([`crate::settings::SmoothingOptions`]),
/// each unset one taking its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smoothing {
    /// Agreeing frames needed to declare someone present.
    pub present_after: usize,
    /// Frames a track remembers.
    pub window: usize,
    /// Frames without a person before they have left.
    pub absent_after: usize,
    /// Box overlap that makes two detections the same face.
    pub iou: f32,
}

impl Default for Smoothing {
    fn default() -> Self {
        Smoothing { present_after: 3, window: 5, absent_after: 5, iou: 0.3 }
    }
}

impl Smoothing {
    /// Checks every setting is in range, naming the one that is not.
    pub fn validate(&self) -> Result<(), String> {
        let frames = |name: &str, v: usize| within(name, v, 1, 1000).map(drop);
        frames("present_after", self.present_after)?;
        frames("window", self.window)?;
        // One frame is never enough: a stranger the gallery names wrongly
        // for a single frame would be announced as that person.
        if self.present_after < 2 {
            return Err("present_after: must be at least 2, so that one misnamed frame is never an arrival".into());
        }
        if self.window < self.present_after {
            return Err(format!(
                "window: {} frames cannot hold the {} agreeing frames present_after asks for",
                self.window, self.present_after
            ));
        }
        frames("absent_after", self.absent_after)?;
        within("iou", self.iou, 0.0, 1.0).map(drop)
    }
}

/// A presence change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Someone arrived, with their mean score over the agreeing frames.
    Arrived(Who, f32),
    /// Someone left, with their last mean score.
    Left(Who, f32),
}

#[derive(Debug)]
struct Track {
    bbox: BBox,
    history: VecDeque<Option<(Who, f32)>>,
    unseen: usize,
}

impl Track {
    /// The person this track is, with their agreeing votes and mean score.
    fn identity(&self, need: usize) -> Option<(Who, usize, f32)> {
        let mut tally: BTreeMap<Who, (usize, f32)> = BTreeMap::new();
        for (w, s) in self.history.iter().flatten() {
            let e = tally.entry(*w).or_default();
            e.0 += 1;
            e.1 += s;
        }
        tally
            .into_iter()
            .filter(|(_, (n, _))| *n >= need)
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then(a.1.1.total_cmp(&b.1.1)))
            .map(|(w, (n, s))| (w, n, s / n as f32))
    }
}

/// The smoothing state machine.
#[derive(Debug)]
pub struct Tracker {
    params: Smoothing,
    tracks: Vec<Track>,
    /// Present people: frames since last held by a track, last score.
    present: BTreeMap<Who, (usize, f32)>,
}

impl Tracker {
    /// A tracker with nobody present.
    pub fn new(params: Smoothing) -> Self {
        let params =
            Smoothing { window: params.window.max(1), present_after: params.present_after.clamp(1, params.window.max(1)), ..params };
        Tracker { params, tracks: Vec::new(), present: BTreeMap::new() }
    }

    /// Who is present now.
    pub fn present(&self) -> impl Iterator<Item = Who> + '_ {
        self.present.keys().copied()
    }

    /// Feeds one frame's faces; returns who arrived and left.
    pub fn update(&mut self, observations: &[Observation]) -> Vec<Change> {
        let assigned = self.assign(observations);
        self.record(observations, &assigned);
        self.presence_changes()
    }

    /// The track each face continues, if any: by box overlap, best pairs
    /// first; else, for a face that jumped (a cut, a fast move), the track
    /// already known to be the same person.
    fn assign(&self, observations: &[Observation]) -> Vec<Option<usize>> {
        let p = self.params;
        let boxes: Vec<BBox> = observations.iter().map(|o| o.bbox).collect();
        let olds: Vec<BBox> = self.tracks.iter().map(|t| t.bbox).collect();
        let mut assigned = match_boxes(&boxes, &olds, p.iou);
        let mut taken = vec![false; self.tracks.len()];
        assigned.iter().flatten().for_each(|&t| taken[t] = true);
        for (o, obs) in observations.iter().enumerate() {
            if assigned[o].is_some() || obs.who == Who::Unknown {
                continue;
            }
            let same = (0..self.tracks.len())
                .find(|&t| !taken[t] && self.tracks[t].identity(p.present_after).is_some_and(|(w, _, _)| w == obs.who));
            if let Some(t) = same {
                assigned[o] = Some(t);
                taken[t] = true;
            }
        }
        assigned
    }

    /// Adds this frame to every track: what each face said to its track
    /// (new tracks for new faces), a gap to the tracks nobody continued;
    /// tracks unseen for a whole window are dropped.
    fn record(&mut self, observations: &[Observation], assigned: &[Option<usize>]) {
        let p = self.params;
        let continued: Vec<usize> = assigned.iter().flatten().copied().collect();
        for (t, tr) in self.tracks.iter_mut().enumerate() {
            if !continued.contains(&t) {
                tr.history.push_back(None);
                tr.unseen += 1;
            }
        }
        for (obs, slot) in observations.iter().zip(assigned) {
            let t = match slot {
                Some(t) => *t,
                None => {
                    self.tracks.push(Track { bbox: obs.bbox, history: VecDeque::new(), unseen: 0 });
                    self.tracks.len() - 1
                }
            };
            let tr = &mut self.tracks[t];
            tr.bbox = obs.bbox;
            tr.unseen = 0;
            tr.history.push_back(Some((obs.who, obs.score)));
        }
        for tr in &mut self.tracks {
            while tr.history.len() > p.window {
                tr.history.pop_front();
            }
        }
        self.tracks.retain(|t| t.unseen < p.window);
    }

    /// Who is here this frame (seen tracks with an identity; a person held
    /// by two tracks goes to the one with more agreeing frames), and so who
    /// arrived and who has been gone long enough to have left.
    fn presence_changes(&mut self) -> Vec<Change> {
        let p = self.params;
        let mut holders: BTreeMap<Who, (usize, f32)> = BTreeMap::new();
        for tr in self.tracks.iter().filter(|t| t.unseen == 0) {
            if let Some((w, n, s)) = tr.identity(p.present_after) {
                let e = holders.entry(w).or_insert((0, s));
                if n > e.0 || (n == e.0 && s > e.1) {
                    *e = (n, s);
                }
            }
        }
        let mut changes = Vec::new();
        for (w, (_, s)) in &holders {
            match self.present.get_mut(w) {
                Some(state) => *state = (0, *s),
                None => {
                    self.present.insert(*w, (0, *s));
                    changes.push(Change::Arrived(*w, *s));
                }
            }
        }
        let mut gone = Vec::new();
        for (w, state) in self.present.iter_mut() {
            if !holders.contains_key(w) {
                state.0 += 1;
                if state.0 >= p.absent_after {
                    gone.push((*w, state.1));
                }
            }
        }
        for (w, s) in gone {
            self.present.remove(&w);
            changes.push(Change::Left(w, s));
        }
        changes
    }

    /// A new gallery: each known person becomes `map(who)`, and those it
    /// maps to `None` (no longer in the gallery) are forgotten by every
    /// track and, if present, leave now. Everyone else keeps their presence
    /// and their tracks' history, so a reload announces nobody twice.
    pub fn remap(&mut self, map: impl Fn(Who) -> Option<Who>) -> Vec<Change> {
        for tr in &mut self.tracks {
            for vote in tr.history.iter_mut() {
                *vote = vote.and_then(|(w, s)| map(w).map(|w| (w, s)));
            }
        }
        let mut changes = Vec::new();
        let mut present = BTreeMap::new();
        for (w, state) in std::mem::take(&mut self.present) {
            match map(w) {
                Some(new) => {
                    present.insert(new, state);
                }
                None => changes.push(Change::Left(w, state.1)),
            }
        }
        self.present = present;
        changes
    }

    /// Everyone present leaves (end of input).
    pub fn finish(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.present).into_iter().map(|(w, (_, s))| Change::Left(w, s)).collect()
    }
}

/// Matches this frame's `boxes` to last frame's `olds` by overlap, best
/// pairs first (ties by index), each at most once: for each box, the index
/// of the old box it continues, if any overlaps by at least `min_iou`. The
/// tracker and [`crate::carry`] both follow faces this way, so they agree
/// on which face is which.
pub fn match_boxes(boxes: &[BBox], olds: &[BBox], min_iou: f32) -> Vec<Option<usize>> {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (b, bbox) in boxes.iter().enumerate() {
        for (o, old) in olds.iter().enumerate() {
            let iou = bbox.iou(old);
            if iou >= min_iou {
                pairs.push((iou, b, o));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut matched = vec![None; boxes.len()];
    let mut taken = vec![false; olds.len()];
    for (_, b, o) in pairs {
        if matched[b].is_none() && !taken[o] {
            matched[b] = Some(o);
            taken[o] = true;
        }
    }
    matched
}

/// Makes one frame's verdicts consistent: no person twice. The
/// highest-scoring face keeps the name; the others become unknown.
pub fn one_face_per_person(obs: &mut [Observation]) {
    let mut order: Vec<usize> = (0..obs.len()).collect();
    order.sort_by(|&a, &b| obs[b].score.total_cmp(&obs[a].score));
    let mut seen = std::collections::HashSet::new();
    for i in order {
        if let Who::Person(p) = obs[i].who
            && !seen.insert(p)
        {
            obs[i].who = Who::Unknown;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32, who: Who) -> Observation {
        Observation { bbox: BBox { x1: x, y1: 0.0, x2: x + 100.0, y2: 100.0 }, who, score: 0.8 }
    }

    #[test]
    fn arrives_after_agreeing_frames_and_leaves_after_a_gap() {
        let mut t = Tracker::new(Smoothing::default());
        let robin = Who::Person(0);
        assert!(t.update(&[at(0.0, robin)]).is_empty());
        assert!(t.update(&[at(2.0, robin)]).is_empty());
        assert_eq!(t.update(&[at(4.0, robin)]), vec![Change::Arrived(robin, 0.8)]);
        // A missed frame or two is not a departure.
        for _ in 0..4 {
            assert!(t.update(&[]).is_empty());
        }
        assert_eq!(t.update(&[]), vec![Change::Left(robin, 0.8)]);
    }

    #[test]
    fn a_single_wrong_frame_does_not_change_who_it_is() {
        let mut t = Tracker::new(Smoothing::default());
        let (robin, sam) = (Who::Person(0), Who::Person(1));
        let frames = [robin, robin, sam, robin, robin, robin];
        let mut changes = Vec::new();
        for w in frames {
            changes.extend(t.update(&[at(0.0, w)]));
        }
        assert_eq!(changes, vec![Change::Arrived(robin, 0.8)]);
    }

    #[test]
    fn one_misnamed_frame_of_a_stranger_is_never_an_arrival() {
        // A stranger in view for up to ten frames, named as Robin in exactly
        // one of them (any one), alone or beside Sam, who is really there,
        // at every allowed smoothing with up to ten frames of memory: Robin
        // never arrives.
        let (robin, sam) = (Who::Person(0), Who::Person(1));
        for window in 2..=10 {
            for present_after in 2..=window {
                let params = Smoothing { present_after, window, ..Smoothing::default() };
                params.validate().unwrap();
                for frames in 1..=10 {
                    for wrong in 0..frames {
                        for with_sam in [false, true] {
                            let mut t = Tracker::new(params);
                            let mut changes = Vec::new();
                            for f in 0..frames {
                                let who = if f == wrong { robin } else { Who::Unknown };
                                let mut obs = vec![at(f as f32 * 3.0, who)];
                                if with_sam {
                                    obs.push(at(600.0, sam));
                                }
                                changes.extend(t.update(&obs));
                            }
                            changes.extend(t.finish());
                            assert!(
                                !changes.iter().any(|c| matches!(c, Change::Arrived(w, _) if *w == robin)),
                                "{params:?}, {frames} frames, wrong at {wrong}: {changes:?}"
                            );
                        }
                    }
                }
            }
        }
        let one = Smoothing { present_after: 1, ..Smoothing::default() };
        assert!(one.validate().unwrap_err().contains("present_after"), "a one-frame arrival is refused");
        let short = Smoothing { present_after: 4, window: 3, ..Smoothing::default() };
        assert!(short.validate().unwrap_err().contains("window"));
    }

    #[test]
    fn two_faces_are_never_the_same_person() {
        let mut obs = vec![at(0.0, Who::Person(0)), Observation { score: 0.9, ..at(300.0, Who::Person(0)) }];
        one_face_per_person(&mut obs);
        assert_eq!(obs[0].who, Who::Unknown);
        assert_eq!(obs[1].who, Who::Person(0));
        // Two tracks that both come to look like the same person: one holds it.
        let mut t = Tracker::new(Smoothing { present_after: 2, ..Smoothing::default() });
        let mut changes = Vec::new();
        for _ in 0..3 {
            changes.extend(t.update(&[at(0.0, Who::Person(0)), at(500.0, Who::Person(0))]));
        }
        assert_eq!(changes, vec![Change::Arrived(Who::Person(0), 0.8)]);
    }

    #[test]
    fn strangers_are_one_presence_and_finish_empties_the_room() {
        let mut t = Tracker::new(Smoothing::default());
        let mut changes = Vec::new();
        for _ in 0..3 {
            changes.extend(t.update(&[at(0.0, Who::Unknown), at(400.0, Who::Unknown)]));
        }
        assert_eq!(changes, vec![Change::Arrived(Who::Unknown, 0.8)]);
        assert_eq!(t.finish(), vec![Change::Left(Who::Unknown, 0.8)]);
        assert_eq!(t.present().count(), 0);
    }

    #[test]
    fn a_face_that_jumps_keeps_its_track() {
        let mut t = Tracker::new(Smoothing::default());
        let robin = Who::Person(0);
        for x in [0.0, 2.0, 4.0] {
            t.update(&[at(x, robin)]);
        }
        // A cut: same person, far away. Still present, no new arrival.
        for _ in 0..6 {
            assert!(t.update(&[at(900.0, robin)]).is_empty());
        }
    }
}
