//! Stage 11, roll: a morning's class photos and a gallery → who is here.
//!
//! Reads: one or more photos (or folders of them) and a gallery. Writes into
//! a roll-call folder it owns: `roll.csv` (everyone in the gallery, present
//! or absent, with the photo and box of their best sighting and its score),
//! `faces.csv` (every kept face of every photo with its name, `unknown` or
//! `too_small_to_name`) and `annotated/<photo>.jpg` with a name on every
//! face. Faces are named as `predict` names them ([`NamedPhoto`]): one
//! person at most once per photo, faces too small to name said so. Several
//! photos of one morning combine: present in any is present.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rollcall_files::owned::{self, Kind};
use rollcall_files::photos::Listing;
use rollcall_files::shown::{escape_controls, shown};
use rollcall_models::Models;
use rollcall_shared::gallery::Gallery;

use crate::artifacts::Skipped;
use crate::artifacts::io::save_jpeg;
use crate::artifacts::names::{annotated_name, unique_keys};
use crate::artifacts::predictions::PredictionRow;
use crate::artifacts::roll::{self, ANNOTATED_DIR, Copies, RollRow, Status};
use crate::artifacts::skips::skipped;
use crate::error::{Error, Result};
use crate::render::annotate;
use crate::runner::{Outcome, Runner, photo_cost};
use crate::stages::predict::{ANNOTATED_SIDE, NamedPhoto, Naming, PredictOptions, key_root, listed};

/// What a roll call found.
#[derive(Debug, Clone, Default)]
pub struct Roll {
    /// Everyone in the gallery, in its order.
    pub rows: Vec<RollRow>,
    /// Every kept face of every photo.
    pub faces: Vec<PredictionRow>,
    /// Photos read.
    pub photos: usize,
    /// Faces nobody in the gallery matches, over all photos.
    pub strangers: usize,
    /// Faces found but too small to name, over all photos.
    pub too_small: usize,
    /// Photos that could not be used.
    pub skipped: Vec<Skipped>,
}

impl Roll {
    /// How many are present.
    pub fn present(&self) -> usize {
        self.rows.iter().filter(|r| r.status == Status::Present).count()
    }
}

/// The roll call of `photos` (files or folders) against `gallery`, written
/// into `out`, a folder rollcall makes or made earlier for a roll call; a
/// folder holding anything else is refused.
pub fn roll(photos: &[PathBuf], gallery: &Gallery, models: &dyn Models, out: &Path, opts: &PredictOptions) -> Result<Roll> {
    for p in photos {
        rollcall_files::photos::check_exists(p)?;
    }
    owned::claim(out, Kind::Roll)?;
    // Two roll calls into one folder would each remove the other's copies.
    let _lock = owned::lock(out)?;
    let previous = Copies::read(out)?;
    let annotated = out.join(ANNOTATED_DIR);
    rollcall_files::create_dir_private(&annotated).map_err(Error::write(&annotated))?;
    let Listing { photos: list, problems } = listed(photos, &[out.to_path_buf()])?;
    let root = key_root(photos, &list);
    let keys = unique_keys(&root, &list);
    let items: Vec<(&PathBuf, &String)> = list.iter().zip(&keys).collect();
    let kind = opts.classifier.unwrap_or(gallery.default_classifier);
    let outcomes = Runner::new(models, opts.jobs).run_largest_first(
        &items,
        "roll call",
        |(photo, _)| photo_cost(photo),
        |engine, (photo, key)| {
            let (named, decoded) = NamedPhoto::of(engine, photo, gallery, kind, opts)?;
            let name = copy_name(&annotated, key, &previous);
            let path = annotated.join(&name);
            save_jpeg(&path, &annotate::annotate_named(&decoded.image, &named.marks(gallery), ANNOTATED_SIDE))?;
            let sha256 = rollcall_files::sha256_file(&path).map_err(Error::read(&path))?;
            Ok((named, (name, sha256)))
        },
    )?;

    let mut r = Roll::default();
    let mut sightings = Sightings::new(gallery.people());
    let mut written = HashSet::new();
    let mut copies = Copies::default();
    for (photo, outcome) in list.iter().zip(outcomes) {
        let (named, annotated_file) = match outcome {
            Outcome::Done(v) => v,
            Outcome::Skipped(why) => {
                r.skipped.push(skipped(photo, &why));
                continue;
            }
        };
        r.photos += 1;
        written.insert(annotated_file.0.clone());
        copies.files.push(annotated_file);
        let rows = named.rows(photo, gallery);
        for (row, naming) in rows.iter().zip(named.namings()) {
            match naming {
                Naming::Person { index, score } => sightings.saw(index, score, row),
                Naming::Unknown { .. } => r.strangers += 1,
                Naming::TooSmall => r.too_small += 1,
            }
        }
        sightings.next_photo();
        r.faces.extend(rows);
    }
    for (path, why) in &problems {
        r.skipped.push(Skipped { path: path.clone(), reason: rollcall_models::error::describe(why) });
    }
    for s in &r.skipped {
        tracing::warn!("skipping {}: {}", shown(&s.path), escape_controls(&s.reason));
    }
    r.rows = sightings.rows(&gallery.labels);
    roll::write(out, &r.rows, &r.faces)?;
    // Copies an earlier roll call in this folder wrote and this one did
    // not, as it wrote them: a teacher's own files, and a copy they marked
    // up, stay.
    for (name, sha256) in &previous.files {
        let path = annotated.join(name);
        let unchanged = || rollcall_files::sha256_file(&path).is_ok_and(|now| now == *sha256);
        if !written.contains(name) && is_file_name(name) && unchanged() {
            std::fs::remove_file(&path).map_err(Error::write(&path))?;
        }
    }
    copies.write(out)?;
    let names: Vec<String> = copies.files.iter().map(|(name, _)| name.clone()).collect();
    crate::artifacts::io::write_atomic(&out.join(roll::ROLL_HTML), crate::render::roll::page(&r.rows, &names, r.photos).as_bytes())?;
    Ok(r)
}

/// The file name of a photo's named copy: `<key>.jpg`, unless a file the
/// teacher made (or marked up) is there under that name, which is never
/// written over: then `<key>.rollcall-<n>.jpg`.
fn copy_name(annotated: &Path, key: &str, previous: &Copies) -> String {
    let ours = |name: &str| {
        let path = annotated.join(name);
        !path.exists() || previous.files.iter().any(|(n, sha)| n == name && rollcall_files::sha256_file(&path).is_ok_and(|now| now == *sha))
    };
    let base = annotated_name(key);
    if ours(&base) {
        return base;
    }
    (1..).map(|n| annotated_name(&format!("{key}.rollcall-{n}"))).find(|name| ours(name)).unwrap_or(base)
}

/// Whether `name` (read from a record a user could edit) names a file in
/// its folder, not a path elsewhere.
fn is_file_name(name: &str) -> bool {
    Path::new(name).file_name().is_some_and(|n| n == name)
}

/// Each person's best sighting over the morning's photos (the highest
/// score), and in how many photos they were seen.
struct Sightings {
    best: Vec<Option<(f32, PredictionRow)>>,
    photos: Vec<usize>,
    /// Who was seen in the photo being read.
    here: HashSet<usize>,
}

impl Sightings {
    fn new(people: usize) -> Sightings {
        Sightings { best: vec![None; people], photos: vec![0; people], here: HashSet::new() }
    }

    /// Person `index` named on `row`'s face with `score`.
    fn saw(&mut self, index: usize, score: f32, row: &PredictionRow) {
        self.here.insert(index);
        if self.best[index].as_ref().is_none_or(|(s, _)| score > *s) {
            self.best[index] = Some((score, row.clone()));
        }
    }

    /// The photo's faces are all read.
    fn next_photo(&mut self) {
        for p in self.here.drain() {
            self.photos[p] += 1;
        }
    }

    /// One row per person of `labels`, present or absent.
    fn rows(self, labels: &[String]) -> Vec<RollRow> {
        labels
            .iter()
            .zip(self.best)
            .zip(self.photos)
            .map(|((label, best), photos)| match best {
                Some((score, row)) => RollRow {
                    person: label.clone(),
                    status: Status::Present,
                    photos,
                    photo: Some(row.image),
                    x1: Some(row.x1),
                    y1: Some(row.y1),
                    x2: Some(row.x2),
                    y2: Some(row.y2),
                    score: Some(score),
                },
                None => RollRow {
                    person: label.clone(),
                    status: Status::Absent,
                    photos: 0,
                    photo: None,
                    x1: None,
                    y1: None,
                    x2: None,
                    y2: None,
                    score: None,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotated_copies_are_named_from_the_photos_common_folder() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(crate::stages::predict::common_root(&[p("a/class/mon.jpg"), p("a/class/tue.jpg")]), p("a/class"));
        assert_eq!(crate::stages::predict::common_root(&[p("a/class/mon.jpg"), p("a/hall/x.jpg")]), p("a"));
        assert_eq!(crate::stages::predict::common_root(&[p("x.jpg"), p("y.jpg")]), p(""));
    }
}
