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
use rollcall_files::shown::{escape_controls, shown};
use rollcall_models::Models;
use rollcall_shared::gallery::Gallery;

use crate::artifacts::Skipped;
use crate::artifacts::io::{remove_files_except, save_jpeg};
use crate::artifacts::names::{annotated_name, unique_keys};
use crate::artifacts::predictions::PredictionRow;
use crate::artifacts::roll::{self, ANNOTATED_DIR, RollRow, Status};
use crate::artifacts::skips::skipped;
use crate::error::{Error, Result};
use crate::render::annotate;
use crate::runner::{Outcome, Runner};
use crate::stages::predict::{ANNOTATED_SIDE, NamedPhoto, Naming, PredictOptions};

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
    owned::claim(out, Kind::Roll)?;
    let annotated = out.join(ANNOTATED_DIR);
    std::fs::create_dir_all(&annotated).map_err(Error::write(&annotated))?;
    let mut list = Vec::new();
    let mut problems = Vec::new();
    for p in photos {
        let listing = rollcall_files::photos::list(p, &[out.to_path_buf()])?;
        list.extend(listing.photos);
        problems.extend(listing.problems);
    }
    list.sort();
    list.dedup();
    if list.is_empty() && problems.is_empty() {
        return Err(Error::NoPhotos { path: photos.first().cloned().unwrap_or_default() });
    }
    let root = common_root(&list);
    let keys = unique_keys(&root, &list);
    let items: Vec<(&PathBuf, &String)> = list.iter().zip(&keys).collect();
    let kind = opts.classifier.unwrap_or(gallery.default_classifier);
    let outcomes = Runner::new(models, opts.jobs).run(&items, "roll call", |engine, (photo, key)| {
        let (named, img) = NamedPhoto::of(engine, photo, gallery, kind, opts)?;
        let name = annotated_name(key);
        save_jpeg(&annotated.join(&name), &annotate::annotate_named(&img, &named.marks(gallery), ANNOTATED_SIDE))?;
        Ok((named, name))
    })?;

    let mut r = Roll { rows: Vec::with_capacity(gallery.people()), ..Roll::default() };
    let mut best: Vec<Option<(f32, String, [f32; 4])>> = vec![None; gallery.people()];
    let mut seen_in = vec![0usize; gallery.people()];
    let mut written = HashSet::new();
    for (photo, outcome) in list.iter().zip(outcomes) {
        let (named, annotated_file) = match outcome {
            Outcome::Done(v) => v,
            Outcome::Skipped(why) => {
                r.skipped.push(skipped(photo, &why));
                continue;
            }
        };
        r.photos += 1;
        written.insert(annotated_file);
        let rows = named.rows(photo, gallery);
        let mut here = HashSet::new();
        for (row, naming) in rows.iter().zip(named.namings()) {
            match naming {
                Naming::Person { index, score } => {
                    here.insert(index);
                    if best[index].as_ref().is_none_or(|(s, _, _)| score > *s) {
                        best[index] = Some((score, row.image.clone(), [row.x1, row.y1, row.x2, row.y2]));
                    }
                }
                Naming::Unknown { .. } => r.strangers += 1,
                Naming::TooSmall => r.too_small += 1,
            }
        }
        r.faces.extend(rows);
        for p in here {
            seen_in[p] += 1;
        }
    }
    for (path, why) in &problems {
        r.skipped.push(Skipped { path: path.clone(), reason: rollcall_models::error::describe(why) });
    }
    for s in &r.skipped {
        tracing::warn!("skipping {}: {}", shown(&s.path), escape_controls(&s.reason));
    }
    for (i, label) in gallery.labels.iter().enumerate() {
        let row = match &best[i] {
            Some((score, photo, [x1, y1, x2, y2])) => RollRow {
                person: label.clone(),
                status: Status::Present,
                photos: seen_in[i],
                photo: Some(photo.clone()),
                x1: Some(*x1),
                y1: Some(*y1),
                x2: Some(*x2),
                y2: Some(*y2),
                score: Some(*score),
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
        };
        r.rows.push(row);
    }
    roll::write(out, &r.rows, &r.faces)?;
    // Copies an earlier roll call in this folder wrote and this one did not.
    remove_files_except(&annotated, &written.iter().map(String::as_str).collect())?;
    Ok(r)
}

/// The deepest folder holding every photo, which names their annotated
/// copies (`class/mon.jpg` and `class/tue.jpg` become `mon.jpg`, `tue.jpg`).
fn common_root(photos: &[PathBuf]) -> PathBuf {
    let mut root = photos.first().and_then(|p| p.parent()).map(Path::to_path_buf).unwrap_or_default();
    for p in photos {
        while !p.starts_with(&root) {
            if !root.pop() {
                return PathBuf::new();
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotated_copies_are_named_from_the_photos_common_folder() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(common_root(&[p("a/class/mon.jpg"), p("a/class/tue.jpg")]), p("a/class"));
        assert_eq!(common_root(&[p("a/class/mon.jpg"), p("a/hall/x.jpg")]), p("a"));
        assert_eq!(common_root(&[p("x.jpg"), p("y.jpg")]), p(""));
    }
}
