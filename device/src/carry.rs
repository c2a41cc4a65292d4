//! Recognising per face, not per frame: which faces of a frame need the
//! recognizer, and which keep the identity they already have.
//!
//! Embedding is most of a frame's cost (about 20 ms a face on one x86 core,
//! 60 ms on a Pi 4), and a child standing at the door is the same child in
//! the next frame. So each face seen before (matched to the last frame's
//! faces by box overlap) carries its identity forward, unless:
//! - it is new, or its identity is not settled yet (fewer than
//!   `settle_after` agreeing embeddings in a row);
//! - its box moved or changed size a lot since it was last embedded
//!   (overlap with that box below `min_overlap`): two people crossing each
//!   other, or one walking off as another walks in;
//! - it no longer looks like the face that was embedded: the correlation
//!   of the two aligned chips, shrunk to 16 x 16 grey levels, is below
//!   `min_likeness`. Aligned chips of one person a frame apart differ by
//!   noise and a little pose; another person in the same place (a cut in a
//!   replay, a child stepping in front of another) does not pass;
//! - it is due for a re-check: carried for `recheck_every` frames. At most
//!   `ceil(faces / recheck_every)` re-checks happen in one frame, oldest
//!   first, so that five children arriving together do not all come due in
//!   the same frame.
//!
//! The re-check bounds how long a wrong carried identity can last (two
//! people who swap places without their boxes changing): `recheck_every`
//! frames plus the settling, and the tracker's smoothing still needs its
//! agreeing frames before anyone arrives, exactly as when every face is
//! embedded in every frame. `recheck_every = 1` embeds every face in every
//! frame.

use rollcall_cli::within;
use rollcall_shared::geometry::BBox;

use crate::tracker::Who;

/// When a face seen before is embedded again, checked. Made from the
/// `[carry]` table of `device.toml` and its flags
/// ([`crate::settings::CarryOptions`]), each unset one taking its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CarryRules {
    /// Frames an identity is carried before the face is embedded again
    /// (1: every face in every frame).
    pub recheck_every: usize,
    /// Agreeing embeddings in a row before an identity is carried.
    pub settle_after: usize,
    /// Overlap with the box of the last embedding below which the face is
    /// embedded again.
    pub min_overlap: f32,
    /// Likeness of the face to how it looked when last embedded (see
    /// [`Likeness`]) below which it is embedded again.
    pub min_likeness: f32,
}

impl Default for CarryRules {
    fn default() -> Self {
        CarryRules { recheck_every: 10, settle_after: 2, min_overlap: 0.6, min_likeness: 0.9 }
    }
}

impl CarryRules {
    /// Checks every setting is in range, naming the one that is not.
    pub fn validate(&self) -> Result<(), String> {
        within("recheck_every", self.recheck_every, 1, 1000)?;
        within("settle_after", self.settle_after, 1, 100)?;
        within("min_overlap", self.min_overlap, 0.0, 1.0)?;
        within("min_likeness", self.min_likeness, -1.0, 1.0)?;
        Ok(())
    }
}

/// A face of the last frame and what it is.
#[derive(Debug, Clone)]
struct Known {
    /// Its box in the last frame.
    bbox: BBox,
    /// Its box when it was last embedded.
    embedded_at: BBox,
    /// How it looked when it was last embedded.
    looked: Likeness,
    who: Who,
    score: f32,
    /// Agreeing embeddings in a row.
    agreeing: usize,
    /// Frames since it was last embedded.
    age: usize,
}

/// What to do with one face of this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Run the recognizer on it.
    Embed,
    /// It keeps this identity and score.
    Carry(Who, f32),
}

/// This frame's steps, and which known face each box continues.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One step per box of the frame, in order.
    pub steps: Vec<Step>,
    continues: Vec<Option<usize>>,
}

/// The faces of the last frame, with their identities.
#[derive(Debug, Clone, Default)]
pub struct Carrier {
    rules: CarryRules,
    /// Overlap that makes a box the same face as one of the last frame (the
    /// tracker's, so that both agree on what a face is).
    match_iou: f32,
    known: Vec<Known>,
}

/// Side of the grey thumbnail a chip is compared by.
const THUMB: usize = 16;

/// A chip's appearance: its grey levels shrunk to 16 x 16, centred and
/// scaled to unit length, so that the dot product of two is their
/// correlation (a change of brightness or contrast does not count).
#[derive(Debug, Clone, PartialEq)]
pub struct Likeness(Vec<f32>);

impl Likeness {
    /// Of a square RGB8 chip `side` pixels wide.
    pub fn of(chip: &[u8], side: usize) -> Likeness {
        let mut sums = vec![0f32; THUMB * THUMB];
        let mut counts = vec![0u32; THUMB * THUMB];
        for (i, px) in chip.chunks_exact(3).enumerate() {
            let (x, y) = (i % side.max(1), i / side.max(1));
            let cell = (y * THUMB / side.max(1)).min(THUMB - 1) * THUMB + (x * THUMB / side.max(1)).min(THUMB - 1);
            sums[cell] += 0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2]);
            counts[cell] += 1;
        }
        let mut v: Vec<f32> = sums.iter().zip(&counts).map(|(s, &n)| s / n.max(1) as f32).collect();
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        v.iter_mut().for_each(|x| *x -= mean);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Likeness(v)
    }

    /// Correlation with `other`, -1 to 1 (0 when either is flat).
    pub fn to(&self, other: &Likeness) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

impl Carrier {
    /// A carrier that knows no face yet; a box continues a known face
    /// when their overlap (IoU) is at least `match_iou`.
    pub fn new(rules: CarryRules, match_iou: f32) -> Self {
        Carrier { rules, match_iou, known: Vec::new() }
    }

    /// Decides, for each box of this frame, whether it is embedded or keeps
    /// its identity.
    pub fn plan(&self, boxes: &[BBox], looks: &[Likeness]) -> Plan {
        let r = self.rules;
        let olds: Vec<BBox> = self.known.iter().map(|k| k.bbox).collect();
        let continues = crate::tracker::match_boxes(boxes, &olds, self.match_iou);

        let mut steps = vec![Step::Embed; boxes.len()];
        let mut due: Vec<(usize, usize)> = Vec::new();
        for (b, bbox) in boxes.iter().enumerate() {
            let Some(k) = continues[b] else { continue };
            let known = &self.known[k];
            let unsettled = known.agreeing < r.settle_after;
            let moved = bbox.iou(&known.embedded_at) < r.min_overlap;
            let changed = looks.get(b).is_none_or(|l| l.to(&known.looked) < r.min_likeness);
            if r.recheck_every <= 1 || unsettled || moved || changed {
                continue;
            }
            steps[b] = Step::Carry(known.who, known.score);
            if known.age + 1 >= r.recheck_every {
                due.push((known.age, b));
            }
        }
        // The oldest re-checks first, a bounded number per frame.
        due.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let per_frame = boxes.len().div_ceil(r.recheck_every).max(1);
        for &(_, b) in due.iter().take(per_frame) {
            steps[b] = Step::Embed;
        }
        Plan { steps, continues }
    }

    /// Forgets every face: each is embedded again in the next frame.
    pub fn forget(&mut self) {
        self.known.clear();
    }

    /// Records what each box of the frame turned out to be (`verdicts` in
    /// box order: the recognizer's for embedded boxes, the carried identity
    /// for the others). Faces not seen in this frame are forgotten: one that
    /// comes back is embedded again.
    pub fn record(&mut self, boxes: &[BBox], looks: Vec<Likeness>, plan: &Plan, verdicts: &[(Who, f32)]) {
        let mut next = Vec::with_capacity(boxes.len());
        let faces = boxes.iter().zip(looks).zip(&plan.steps).zip(verdicts.iter().zip(&plan.continues));
        for (((bbox, look), step), (&(who, score), k)) in faces {
            let before = k.map(|k| &self.known[k]);
            next.push(match (step, before) {
                (Step::Carry(..), Some(known)) => Known { bbox: *bbox, age: known.age + 1, ..known.clone() },
                (_, before) => {
                    let agreeing = match before {
                        Some(known) if known.who == who => known.agreeing + 1,
                        _ => 1,
                    };
                    Known { bbox: *bbox, embedded_at: *bbox, looked: look, who, score, agreeing, age: 0 }
                }
            });
        }
        self.known = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32) -> BBox {
        BBox { x1: x, y1: 0.0, x2: x + 100.0, y2: 100.0 }
    }

    fn embeds(plan: &Plan) -> usize {
        plan.steps.iter().filter(|s| **s == Step::Embed).count()
    }

    /// Runs frames of still boxes whose true identities are `truth`,
    /// returning how many faces each frame embedded.
    fn look(seed: u8) -> Likeness {
        let chip: Vec<u8> = (0..112 * 112 * 3).map(|i| ((i / 3 % 112) as u8).wrapping_mul(seed).wrapping_add((i / 336) as u8)).collect();
        Likeness::of(&chip, 112)
    }

    fn looks(truth: &[Who]) -> Vec<Likeness> {
        truth.iter().map(|w| look(if let Who::Person(i) = w { *i as u8 + 3 } else { 1 })).collect()
    }

    fn still(carrier: &mut Carrier, boxes: &[BBox], truth: &[Who], frames: usize) -> Vec<usize> {
        (0..frames)
            .map(|_| {
                let plan = carrier.plan(boxes, &looks(truth));
                let verdicts: Vec<(Who, f32)> = plan
                    .steps
                    .iter()
                    .zip(truth)
                    .map(|(s, &t)| match s {
                        Step::Embed => (t, 0.9),
                        Step::Carry(w, sc) => (*w, *sc),
                    })
                    .collect();
                carrier.record(boxes, looks(truth), &plan, &verdicts);
                embeds(&plan)
            })
            .collect()
    }

    #[test]
    fn new_faces_settle_then_are_carried_and_rechecked_in_turn() {
        let mut c = Carrier::new(CarryRules::default(), 0.3);
        let boxes: Vec<BBox> = (0..5).map(|i| at(i as f32 * 120.0)).collect();
        let truth: Vec<Who> = (0..5).map(Who::Person).collect();
        let per_frame = still(&mut c, &boxes, &truth, 40);
        // Two frames to settle, then at most one re-check per frame.
        assert_eq!(&per_frame[..2], &[5, 5]);
        assert!(per_frame[2..].iter().all(|&n| n <= 1), "{per_frame:?}");
        // Every face is re-checked within recheck_every frames (plus the
        // frames the others' re-checks pushed it back by).
        let total: usize = per_frame[2..].iter().sum();
        assert!(total >= 38 / 10 * 5 - 5, "{per_frame:?}");
    }

    #[test]
    fn every_frame_when_asked() {
        let mut c = Carrier::new(CarryRules { recheck_every: 1, ..CarryRules::default() }, 0.3);
        let per_frame = still(&mut c, &[at(0.0), at(200.0)], &[Who::Person(0), Who::Person(1)], 6);
        assert_eq!(per_frame, vec![2; 6]);
    }

    #[test]
    fn a_moved_box_is_embedded_again() {
        let mut c = Carrier::new(CarryRules::default(), 0.3);
        still(&mut c, &[at(0.0)], &[Who::Person(0)], 3);
        let same = looks(&[Who::Person(0)]);
        assert_eq!(c.plan(&[at(10.0)], &same).steps, vec![Step::Carry(Who::Person(0), 0.9)]);
        // 40 px to the side: the same face (overlap 0.43 against the tracker's 0.3), but moved.
        assert_eq!(c.plan(&[at(40.0)], &same).steps, vec![Step::Embed]);
    }

    #[test]
    fn someone_else_in_the_same_place_is_embedded_again() {
        let mut c = Carrier::new(CarryRules::default(), 0.3);
        still(&mut c, &[at(0.0)], &[Who::Person(0)], 3);
        assert_eq!(c.plan(&[at(0.0)], &looks(&[Who::Person(1)])).steps, vec![Step::Embed]);
    }

    #[test]
    fn likeness_ignores_brightness_but_not_the_face() {
        let a = look(5);
        let chip: Vec<u8> = (0..112 * 112 * 3).map(|i| ((i / 3 % 112) as u8).wrapping_mul(5).wrapping_add((i / 336) as u8)).collect();
        let brighter: Vec<u8> = chip.iter().map(|&v| (f32::from(v) * 0.8 + 20.0) as u8).collect();
        assert!(Likeness::of(&brighter, 112).to(&a) > 0.99);
        assert!(look(9).to(&a) < 0.9);
        assert!((a.to(&a) - 1.0).abs() < 1e-4);
    }
}
