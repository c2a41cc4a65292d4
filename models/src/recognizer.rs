//! The face recognizer: an aligned chip in, an L2-normalised embedding out.
//!
//! Reads: a square RGB8 chip of the manifest's input size (112 x 112).
//! Writes: a unit-length embedding of the manifest's dimension.
//!
//! The channel order, mean and scale come from the manifest. SFace wants RGB
//! 0-255 and normalises inside the network; ArcFace wants RGB scaled to
//! [-1, 1]. Getting the order wrong costs SFace about 0.07 of same-person
//! similarity, so a unit test pins it.

use ort::session::Session;
use ort::value::TensorRef;
use rollcall_shared::embedding::l2_normalize;

use crate::error::{Error, Result};
use crate::manifest::{Channels, InputSpec, ModelSpec};
use crate::runtime::{self, InferenceClock, Threads};
use crate::store::ModelStore;

/// Converts an RGB8 chip into the NCHW input tensor `spec` describes.
pub fn chip_tensor(chip: &[u8], spec: &InputSpec) -> Result<Vec<f32>> {
    let [w, h] = spec.size;
    let plane = (w * h) as usize;
    if chip.len() != plane * 3 {
        return Err(Error::BadInput(format!("chip has {} bytes, a {w}x{h} RGB chip needs {}", chip.len(), plane * 3)));
    }
    let order: [usize; 3] = match spec.channels {
        Channels::Rgb => [0, 1, 2],
        Channels::Bgr => [2, 1, 0],
    };
    let mut t = vec![0f32; plane * 3];
    for (c_out, &c_in) in order.iter().enumerate() {
        let (mean, scale) = (spec.mean[c_out], spec.scale[c_out]);
        for (dst, px) in t[c_out * plane..(c_out + 1) * plane].iter_mut().zip(chip.chunks_exact(3)) {
            *dst = (px[c_in] as f32 - mean) * scale;
        }
    }
    Ok(t)
}

/// A recognizer session with its contract.
pub struct Recognizer {
    session: Session,
    spec: ModelSpec,
    dim: usize,
    /// Time spent inside ONNX Runtime.
    pub clock: InferenceClock,
    /// The session takes any batch.
    batched: bool,
    /// How many `PRelu`s the session runs spelled out.
    prelus_split: usize,
}

/// The graph rewrites a recognizer's network gets before its session is
/// built. Neither changes what the network computes (beyond rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphRewrites {
    /// A network exported with a batch of 1 takes any batch
    /// ([`crate::onnx::rewrite::free_batch`]).
    pub free_batch: bool,
    /// `PRelu`s become operators ONNX Runtime runs in its fast layout
    /// ([`crate::onnx::rewrite::split_prelu`]): SFace in half the time.
    pub split_prelu: bool,
}

impl GraphRewrites {
    /// The network as exported.
    pub const NONE: GraphRewrites = GraphRewrites { free_batch: false, split_prelu: false };
}

impl Default for GraphRewrites {
    fn default() -> Self {
        GraphRewrites { free_batch: true, split_prelu: true }
    }
}

/// The model after `rewrites`, whether its batch is free and how many
/// `PRelu`s were split; `None` when nothing changed (also when the bytes do
/// not decode: the session will say why).
fn rewritten(bytes: &[u8], rewrites: GraphRewrites) -> Option<(Vec<u8>, bool, usize)> {
    use prost::Message;
    if rewrites == GraphRewrites::NONE {
        return None;
    }
    let mut model = crate::onnx::proto::ModelProto::decode(bytes).ok()?;
    let split = if rewrites.split_prelu { crate::onnx::rewrite::split_prelu(&mut model).unwrap_or(0) } else { 0 };
    let batched = rewrites.free_batch && crate::onnx::rewrite::free_batch(&mut model).unwrap_or(false);
    (batched || split > 0).then(|| (model.encode_to_vec(), batched, split))
}

impl std::fmt::Debug for Recognizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recognizer").field("model", &self.spec.name).field("dim", &self.dim).finish()
    }
}

impl Recognizer {
    /// Builds a session for `spec` from checked model bytes, with every
    /// [`GraphRewrites`]: a network exported with a fixed batch of 1 (SFace)
    /// takes any batch, so that [`embed_batch`](Self::embed_batch) makes one
    /// call for several faces, and its `PRelu`s run in ONNX Runtime's fast
    /// layout. The bytes were checked against the manifest before this.
    pub fn new(store: &ModelStore, spec: &ModelSpec, bytes: &[u8], threads: Threads) -> Result<Self> {
        Self::with_rewrites(store, spec, bytes, threads, GraphRewrites::default())
    }

    /// [`new`](Self::new) with only `rewrites` (to compare with the network
    /// as exported, say).
    pub fn with_rewrites(store: &ModelStore, spec: &ModelSpec, bytes: &[u8], threads: Threads, rewrites: GraphRewrites) -> Result<Self> {
        let rewritten = rewritten(bytes, rewrites);
        let graph = rewritten.as_ref().map_or(bytes, |(b, _, _)| b.as_slice());
        let session = runtime::session(store, &spec.name, graph, threads)?;
        runtime::check_io(&session, &spec.name, &spec.input.name, &spec.output.names)?;
        let dim = spec.output.dim.unwrap_or(0);
        let (batched, prelus_split) = rewritten.map_or((false, 0), |(_, b, s)| (b, s));
        Ok(Recognizer { session, spec: spec.clone(), dim, clock: InferenceClock::default(), batched, prelus_split })
    }

    /// Whether several chips go through one inference call.
    pub fn batched(&self) -> bool {
        self.batched
    }

    /// How many `PRelu`s the session runs spelled out for speed.
    pub fn prelus_split(&self) -> usize {
        self.prelus_split
    }

    /// The manifest entry.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Chip side length in pixels.
    pub fn chip_size(&self) -> u32 {
        self.spec.input.size[0]
    }

    /// Embeds RGB8 chips: in one inference call when the session takes a
    /// batch, else one after the other. Each result has unit length.
    pub fn embed_batch(&mut self, chips: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
        if self.batched && chips.len() > 1 { self.run(chips) } else { chips.iter().map(|c| self.embed(c)).collect() }
    }

    /// Embeds one RGB8 chip; the result has unit length.
    pub fn embed(&mut self, chip: &[u8]) -> Result<Vec<f32>> {
        Ok(self.run(&[chip])?.remove(0))
    }

    /// One inference call over `chips` (at least one).
    fn run(&mut self, chips: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
        let mut tensor = Vec::new();
        for chip in chips {
            tensor.extend(chip_tensor(chip, &self.spec.input)?);
        }
        let [w, h] = self.spec.input.size;
        let name = self.spec.name.clone();
        let ort_err = |source: ort::Error| Error::Ort { model: name.clone(), source };
        let input = TensorRef::from_array_view(([chips.len(), 3, h as usize, w as usize], tensor.as_slice())).map_err(ort_err)?;
        let session = &mut self.session;
        let input_name = self.spec.input.name.as_str();
        let outputs = self.clock.time(|| session.run(ort::inputs![input_name => input])).map_err(ort_err)?;
        let (_, data) = outputs[self.spec.output.names[0].as_str()].try_extract_tensor::<f32>().map_err(ort_err)?;
        if data.len() != self.dim * chips.len() {
            return Err(Error::Contract {
                model: name.clone(),
                reason: format!(
                    "the manifest says {}-d embeddings, the network gave {} numbers for {} chip(s)",
                    self.dim,
                    data.len(),
                    chips.len()
                ),
            });
        }
        data.chunks_exact(self.dim)
            .map(|row| {
                let mut v = row.to_vec();
                if l2_normalize(&mut v) { Ok(v) } else { Err(Error::BadInput(format!("{name} produced a zero or non-finite embedding"))) }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, Role};

    #[test]
    fn sface_gets_raw_rgb_planes() {
        let spec = Manifest::builtin().select(Role::Recognizer, None).unwrap().input.clone();
        let mut chip = vec![0u8; 112 * 112 * 3];
        chip[0] = 200; // red of the first pixel
        chip[2] = 10; // blue of the first pixel
        let t = chip_tensor(&chip, &spec).unwrap();
        let plane = 112 * 112;
        assert_eq!(t[0], 200.0, "first plane is red");
        assert_eq!(t[2 * plane], 10.0, "third plane is blue");
    }

    #[test]
    fn arcface_is_scaled_to_unit_range() {
        let spec = Manifest::builtin().select(Role::Recognizer, Some("arcface-r50")).unwrap().input.clone();
        let chip = vec![255u8; 112 * 112 * 3];
        let t = chip_tensor(&chip, &spec).unwrap();
        assert!((t[0] - 1.0).abs() < 1e-4);
        assert!(chip_tensor(&chip[..100], &spec).is_err());
    }
}
