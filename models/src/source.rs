//! Where a program's models come from: a cache folder, a manifest, and
//! which engine runs. `rollcall` and `rollcall-device` fill one from their
//! flags and settings and open the models through it.

use std::path::PathBuf;
use std::sync::Arc;

use rollcall_shared::gallery::Gallery;
use serde::Deserialize;

use crate::error::Result;
use crate::fake::FakeModels;
use crate::manifest::Role;
use crate::{DetectorScale, Manifest, ModelSet, ModelStore, Models};

/// The cache, the manifest and the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSource {
    /// The model cache [default: `store::default_models_dir`].
    pub models_dir: Option<PathBuf>,
    /// A manifest instead of `ROLLCALL_MANIFEST` or the built-in one.
    pub manifest: Option<PathBuf>,
    /// The deterministic fake engine instead of the manifest's networks
    /// (painted test faces only).
    pub fake: bool,
}

impl ModelSource {
    /// The manifest: [`manifest`](Self::manifest), else `ROLLCALL_MANIFEST`, else the built-in one.
    pub fn manifest(&self) -> Result<Manifest> {
        match &self.manifest {
            Some(p) => Manifest::load(p),
            None => Manifest::from_env(),
        }
    }

    /// The model cache with its manifest.
    pub fn store(&self) -> Result<ModelStore> {
        let dir = self.models_dir.clone().unwrap_or_else(crate::store::default_models_dir);
        ModelStore::open(dir, self.manifest()?)
    }

    /// The detector and recognizer named (or the manifest's defaults),
    /// fetched if needed and checked, the detector seeing photos at `scale`.
    pub fn load(&self, detector: Option<&str>, recognizer: Option<&str>, scale: DetectorScale) -> Result<Arc<dyn Models>> {
        if self.fake {
            return Ok(Arc::new(FakeModels::default()));
        }
        let set = ModelSet::load(&self.store()?, detector, recognizer)?;
        Ok(Arc::new(set.with_detector_scale(scale)))
    }

    /// The models a gallery was made with (the manifest entries whose
    /// sha256 it records, else the defaults, and the gallery's own check
    /// then says what differs), the detector seeing frames as
    /// `detector_size` says: fitted into the manifest's box (`None`), into
    /// a box of a given side (see [`ModelSet::with_detector_size`]), or by
    /// the scale rule (`auto`).
    pub fn load_for_gallery(&self, gallery: &Gallery, detector_size: Option<DetectorSize>) -> Result<Arc<dyn Models>> {
        if self.fake {
            return Ok(Arc::new(FakeModels::default()));
        }
        let store = self.store()?;
        let (det, rec) = names_for_gallery(store.manifest(), gallery);
        let set = ModelSet::load(&store, det.as_deref(), rec.as_deref())?;
        let set = match detector_size {
            None => set.with_detector_scale(DetectorScale::Fit),
            Some(DetectorSize::Side(side)) => set.with_detector_size(side)?,
            Some(DetectorSize::Auto) => set.with_detector_scale(DetectorScale::Auto),
        };
        Ok(Arc::new(set))
    }

    /// The files [`load_for_gallery`](Self::load_for_gallery) would need
    /// and the cache lacks (it would fetch them): the two models and ONNX
    /// Runtime.
    pub fn missing_for_gallery(&self, gallery: &Gallery) -> Result<Vec<PathBuf>> {
        if self.fake {
            return Ok(Vec::new());
        }
        let store = self.store()?;
        let (det, rec) = names_for_gallery(store.manifest(), gallery);
        let mut paths = vec![store.runtime_path()];
        for (role, name) in [(Role::Detector, det), (Role::Recognizer, rec)] {
            paths.push(store.model_path(store.manifest().select(role, name.as_deref())?));
        }
        Ok(paths.into_iter().filter(|p| !p.is_file()).collect())
    }

    /// The published same-person cosine of the recognizer called `name`
    /// (as an embedding table records it), if the manifest or the fake
    /// knows one.
    pub fn same_person_cosine(&self, name: &str) -> Result<Option<f32>> {
        if name == crate::fake::RECOGNIZER {
            return Ok(Some(crate::fake::SAME_PERSON_COSINE));
        }
        Ok(self.manifest()?.model(name).ok().and_then(|m| m.output.same_person_cosine))
    }
}

/// The manifest's detector and recognizer with the gallery's hashes
/// (`None`: the default of that role).
fn names_for_gallery(manifest: &Manifest, gallery: &Gallery) -> (Option<String>, Option<String>) {
    let pick = |role: Role, digest: &[u8; 32]| {
        manifest
            .models
            .iter()
            .find(|m| m.role == role && m.sha256.as_deref().and_then(rollcall_shared::gallery::parse_sha256).as_ref() == Some(digest))
            .map(|m| m.name.clone())
    };
    (pick(Role::Detector, &gallery.detector_sha256), pick(Role::Recognizer, &gallery.recognizer_sha256))
}

/// How large a camera's frames are given to the detector: a side in
/// pixels, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SizeInFile")]
pub enum DetectorSize {
    /// The frame fitted into a box of this side.
    Side(u32),
    /// Fine enough for the smallest face to keep (`min_size`), as the
    /// host's `--detector-scale auto`: for a camera across the room.
    Auto,
}

/// `detector_size` in a settings file: a number or `"auto"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum SizeInFile {
    Side(u32),
    Word(String),
}

impl TryFrom<SizeInFile> for DetectorSize {
    type Error = String;
    fn try_from(v: SizeInFile) -> std::result::Result<Self, String> {
        match v {
            SizeInFile::Side(n) => Ok(DetectorSize::Side(n)),
            SizeInFile::Word(w) => w.parse(),
        }
    }
}

impl std::str::FromStr for DetectorSize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(DetectorSize::Auto);
        }
        s.parse().map(DetectorSize::Side).map_err(|_| format!("`{s}` is neither a number of pixels nor `auto`"))
    }
}
