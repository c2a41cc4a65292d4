//! `rollcall bench open-set`: how often strangers are named as someone, and
//! members are not named, with small galleries trained the way `train` does.
//!
//! Protocol, on a folder of labelled photos with a `labels.csv`
//! (`set,identity,path,source_path,note`; the shared `../shared/data/faces`):
//!
//! - each labelled photo's largest face is that identity;
//! - galleries of `sizes` people (default 3, 5, 8) are drawn, seeded,
//!   `draws` times each, among the identities with at least one photo more
//!   than the enrolment; each member enrols `enrol` (3 and 5) photos drawn
//!   at random, and their other photos are the known probes;
//! - the stranger probes are every labelled photo of everyone else, and the
//!   faces of the group photos whose people are known and none of them a
//!   member (the group photos that may show a labelled identity without
//!   saying so, and derived copies in `_hard`, are left out);
//! - each gallery is trained with `train`'s defaults and calibrated for each
//!   target; the default classifier names every probe;
//! - FPIR is strangers named as someone over stranger probes, FNIR members
//!   not named correctly over member probes; and for every gallery the
//!   false-accept bound `train` reports is compared with the FPIR measured
//!   on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rollcall_models::{FaceFilter, Models, Verdict};
use rollcall_shared::align::RgbView;
use serde::{Deserialize, Serialize};

use crate::analysis::learn::{Context, LearnOptions, TrainingSet, learn};
use crate::error::{Error, Result};
use crate::runner::{Outcome, Runner};

/// The group photos of the shared set whose people are known: the file, and
/// the identities it shows (`labels.csv` notes and the set's README). Every
/// other face in them is in no set.
const KNOWN_GROUPS: [(&str, &[&str]); 6] = [
    ("misc_small/_group/kit_with_rose.jpg", &["kit_harington", "rose_leslie"]),
    ("misc_small/_group/obama_and_biden.jpg", &["obama", "biden"]),
    ("misc_small/_group/two_people.jpg", &["obama", "biden"]),
    ("misc_small/_group/longoria-cooper.jpg", &[]),
    ("deepface/_group/couple.jpg", &["angelina_jolie"]),
    ("deepface/_group/selfie-many-people.jpg", &["angelina_jolie"]),
];

/// Settings of the benchmark.
#[derive(Debug, Clone)]
pub struct OpenSetOptions {
    /// Gallery sizes.
    pub sizes: Vec<usize>,
    /// Photos each member enrols.
    pub enrol: Vec<usize>,
    /// Galleries drawn per size and enrolment.
    pub draws: usize,
    /// False-accept targets.
    pub targets: Vec<f32>,
    /// Seed of the draws.
    pub seed: u64,
    /// The recognizer's published same-person cosine.
    pub same_person: Option<f32>,
    /// Worker threads for embedding.
    pub jobs: usize,
}

/// One row of the result: a gallery size, an enrolment and a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenSetRow {
    /// People per gallery.
    pub size: usize,
    /// Photos enrolled per member.
    pub enrol: usize,
    /// The false-accept target.
    pub target_far: f32,
    /// Galleries drawn.
    pub draws: usize,
    /// Stranger probes named as someone.
    pub false_accepts: usize,
    /// Stranger probes.
    pub strangers: usize,
    /// False-positive identification rate: `false_accepts / strangers`.
    pub fpir: f64,
    /// Member probes not named correctly.
    pub misses: usize,
    /// Member probes.
    pub members: usize,
    /// False-negative identification rate: `misses / members`.
    pub fnir: f64,
    /// Mean of the false-accept bound `train` reported.
    pub mean_bound: f64,
    /// Galleries whose reported bound was below the FPIR measured on them.
    pub bound_below_measured: usize,
    /// The default classifiers chosen, with counts.
    pub classifiers: BTreeMap<String, usize>,
    /// Mean threshold of the default classifier.
    pub mean_threshold: f64,
}

/// One labelled face.
#[derive(Debug, Clone)]
struct Face {
    identity: String,
    embedding: Vec<f32>,
}

/// A face from a group photo, with the identities the photo shows.
#[derive(Debug, Clone)]
struct GroupFace {
    shows: Vec<String>,
    embedding: Vec<f32>,
}

#[derive(Debug, Deserialize)]
struct Label {
    identity: String,
    path: String,
}

/// Embeds the labelled photos' main faces and the known group photos' faces.
fn embed_set(faces: &Path, models: &dyn Models, jobs: usize) -> Result<(Vec<Face>, Vec<GroupFace>)> {
    let labels: Vec<Label> = crate::artifacts::io::read_csv(&faces.join("labels.csv"))?;
    let portraits: Vec<&Label> = labels.iter().filter(|l| !l.identity.starts_with('_')).collect();
    let photos: Vec<PathBuf> =
        portraits.iter().map(|l| faces.join(&l.path)).chain(KNOWN_GROUPS.iter().map(|(p, _)| faces.join(p))).collect();
    let outcomes = Runner::new(models, jobs).run(&photos, "embed", |engine, photo| {
        let img = rollcall_models::decode::load_rgb(photo)?;
        let view = RgbView { data: img.as_raw(), width: img.width(), height: img.height() };
        let mut kept: Vec<(f32, Vec<f32>)> = engine
            .faces_with_embeddings(view, &FaceFilter::default())?
            .into_iter()
            .filter(|(f, _)| f.verdict == Verdict::Kept)
            .filter_map(|(f, e)| Some((f.detection.bbox.area(), e?)))
            .collect();
        kept.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(kept.into_iter().map(|(_, e)| e).collect::<Vec<_>>())
    })?;
    let (mut main, mut group) = (Vec::new(), Vec::new());
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let Outcome::Done(found) = outcome else { continue };
        if i < portraits.len() {
            if let Some(e) = found.into_iter().next() {
                main.push(Face { identity: portraits[i].identity.clone(), embedding: e });
            }
        } else {
            let shows: Vec<String> = KNOWN_GROUPS[i - portraits.len()].1.iter().map(|s| s.to_string()).collect();
            group.extend(found.into_iter().map(|embedding| GroupFace { shows: shows.clone(), embedding }));
        }
    }
    Ok((main, group))
}

/// Runs the protocol; see the module docs.
pub fn open_set(faces: &Path, models: &dyn Models, opts: &OpenSetOptions) -> Result<Vec<OpenSetRow>> {
    let (main, group) = embed_set(faces, models, opts.jobs)?;
    let mut by_person: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in main.iter().enumerate() {
        by_person.entry(f.identity.clone()).or_default().push(i);
    }
    let faces_set = FaceSet { path: faces, main: &main, group: &group, by_person: &by_person, dim: models.card().dim };
    let mut rows = Vec::new();
    for &enrol in &opts.enrol {
        let eligible: Vec<&String> = by_person.iter().filter(|(_, v)| v.len() > enrol).map(|(k, _)| k).collect();
        for &size in &opts.sizes {
            if size > eligible.len() {
                tracing::warn!("{size} people with {} photos each: only {} identities have that many", enrol + 1, eligible.len());
                continue;
            }
            let mut tallies: Vec<OpenSetRow> = opts.targets.iter().map(|&t| empty_row(size, enrol, t)).collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ ((size as u64) << 8) ^ enrol as u64);
            for _ in 0..opts.draws {
                let members: Vec<&String> = eligible.choose_multiple(&mut rng, size).copied().collect();
                let draw = faces_set.draw(&members, enrol, &mut rng)?;
                let learn_opts = LearnOptions { same_person: opts.same_person, target_far: opts.targets[0], ..LearnOptions::default() };
                let learned = learn(&draw.data, &Context::default(), &learn_opts)?;
                for (t, row) in opts.targets.iter().zip(&mut tallies) {
                    let at = learned.at_target(*t);
                    let kind = at.gallery.default_classifier;
                    let bound = at.reports[kind.index()].calibration.as_ref().map_or(1.0, |c| c.far_upper);
                    row.add(&at.gallery, bound, &draw, &main);
                }
            }
            for mut row in tallies {
                row.fpir = row.false_accepts as f64 / row.strangers.max(1) as f64;
                row.fnir = row.misses as f64 / row.members.max(1) as f64;
                row.mean_bound /= row.draws.max(1) as f64;
                row.mean_threshold /= row.draws.max(1) as f64;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// The embedded photos a draw picks from.
struct FaceSet<'a> {
    path: &'a Path,
    main: &'a [Face],
    group: &'a [GroupFace],
    by_person: &'a BTreeMap<String, Vec<usize>>,
    dim: usize,
}

/// One draw: a gallery's training set, its members' other faces, and the
/// faces of everyone else.
struct Draw<'a> {
    data: TrainingSet,
    /// (label index, face in `main`) of each member's photo not enrolled.
    probes: Vec<(usize, usize)>,
    strangers: Vec<&'a [f32]>,
}

impl<'a> FaceSet<'a> {
    /// `members` enrolled with `enrol` photos each, drawn with `rng`.
    fn draw(&self, members: &[&String], enrol: usize, rng: &mut rand::rngs::StdRng) -> Result<Draw<'a>> {
        let mut labels: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        labels.sort();
        let index = |p: usize| labels.iter().position(|l| l == members[p]).unwrap_or(0);
        let (mut enrolled, mut probes) = (Vec::new(), Vec::new());
        for (p, who) in members.iter().enumerate() {
            let mut photos = self.by_person[*who].clone();
            photos.shuffle(rng);
            enrolled.extend(photos[..enrol].iter().map(|&i| (index(p), i)));
            probes.extend(photos[enrol..].iter().map(|&i| (index(p), i)));
        }
        let is_member = |who: &str| members.iter().any(|m| m.as_str() == who);
        let mut strangers: Vec<&[f32]> = self.main.iter().filter(|f| !is_member(&f.identity)).map(|f| f.embedding.as_slice()).collect();
        strangers.extend(self.group.iter().filter(|g| !g.shows.iter().any(|s| is_member(s))).map(|g| g.embedding.as_slice()));
        let x = Array2::from_shape_vec(
            (enrolled.len(), self.dim),
            enrolled.iter().flat_map(|&(_, i)| self.main[i].embedding.clone()).collect(),
        )
        .map_err(|e| Error::Table { path: self.path.to_path_buf(), reason: e.to_string() })?;
        let data = TrainingSet {
            x,
            y: enrolled.iter().map(|&(label, _)| label).collect(),
            labels,
            files: enrolled.iter().map(|&(_, i)| i.to_string()).collect(),
        };
        Ok(Draw { data, probes, strangers })
    }
}

impl OpenSetRow {
    /// Counts one draw's gallery (at this row's target) against its
    /// strangers and its members' other faces.
    fn add(&mut self, g: &rollcall_shared::gallery::Gallery, bound: f64, draw: &Draw<'_>, main: &[Face]) {
        let kind = g.default_classifier;
        let accepted = draw.strangers.iter().filter(|e| g.predict(kind, e).person().is_some()).count();
        let missed = draw.probes.iter().filter(|&&(label, i)| g.predict(kind, &main[i].embedding).person() != Some(label)).count();
        self.false_accepts += accepted;
        self.strangers += draw.strangers.len();
        self.misses += missed;
        self.members += draw.probes.len();
        self.mean_bound += bound;
        self.mean_threshold += f64::from(g.threshold(kind).value);
        self.bound_below_measured += usize::from(bound < accepted as f64 / draw.strangers.len().max(1) as f64);
        *self.classifiers.entry(kind.name().to_string()).or_default() += 1;
        self.draws += 1;
    }
}

fn empty_row(size: usize, enrol: usize, target_far: f32) -> OpenSetRow {
    OpenSetRow {
        size,
        enrol,
        target_far,
        draws: 0,
        false_accepts: 0,
        strangers: 0,
        fpir: 0.0,
        misses: 0,
        members: 0,
        fnir: 0.0,
        mean_bound: 0.0,
        bound_below_measured: 0,
        classifiers: BTreeMap::new(),
        mean_threshold: 0.0,
    }
}

/// The rows as a Markdown table.
pub fn table(rows: &[OpenSetRow]) -> String {
    let mut out = String::from(
        "| people | enrolled | target | FPIR | FNIR | train's FAR bound (mean) | bound < measured | threshold (mean) | default |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let classifiers: Vec<String> = r.classifiers.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {:.2}% ({} of {}) | {:.2}% ({} of {}) | {:.2}% | {} of {} | {:.3} | {} |\n",
            r.size,
            r.enrol,
            r.target_far,
            r.fpir * 100.0,
            r.false_accepts,
            r.strangers,
            r.fnir * 100.0,
            r.misses,
            r.members,
            r.mean_bound * 100.0,
            r.bound_below_measured,
            r.draws,
            r.mean_threshold,
            classifiers.join(", ")
        ));
    }
    out
}
