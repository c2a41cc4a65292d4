//! Static int8 quantization of a model on calibration data, and its fp16
//! weight variant.
//!
//! The float graph is first prepared (constant `Identity` nodes inlined,
//! `BatchNormalization` folded into the preceding `Conv`/`Gemm`, opset moved
//! to 13), then run by ONNX Runtime on the calibration inputs with every
//! tensor to be quantized exposed as an extra output, recording each one's
//! minimum and maximum. Those ranges set the activation scales of the QDQ
//! graph ([`crate::onnx::quantize`]).
//!
//! **Why min/max and not a percentile clip.** The calibration sets are the
//! user's own photos and faces, tens to hundreds of samples; a percentile of
//! so few values is noisy, and the values a clip would cut are the detector's
//! strongest responses (the faces) and the recognizer's most distinctive
//! features. Per-channel weights already remove the worst range problem.
//! Measured fidelity (`rollcall quantize`) is the judge.

use std::collections::HashMap;

use ort::value::TensorRef;
use prost::Message;

use crate::error::{Error, Result};
use crate::onnx::proto::ModelProto;
use crate::onnx::quantize::{Policy, Range, calibration_tensors, fp16_weights, quantize_qdq, with_extra_outputs};
use crate::onnx::rewrite;
use crate::runtime::{self, Threads};
use crate::store::ModelStore;

/// A calibration input: NCHW shape and data.
pub type Sample = (Vec<usize>, Vec<f32>);

/// The int8 and fp16-weights versions of a model.
#[derive(Debug, Clone)]
pub struct Quantized {
    /// QDQ int8 model.
    pub int8: Vec<u8>,
    /// fp16-weights model.
    pub fp16: Vec<u8>,
    /// Tensors whose ranges were calibrated.
    pub calibrated: usize,
    /// Batch norms folded before quantizing.
    pub folded_batchnorms: usize,
}

fn decode(bytes: &[u8], what: &str) -> Result<ModelProto> {
    ModelProto::decode(bytes).map_err(|e| Error::Onnx { what: what.to_string(), reason: format!("not an ONNX model: {e}") })
}

/// Quantizes a float model. `input` is the graph input's name; `samples`
/// are calibration inputs in the network's own input format.
pub fn quantize(store: &ModelStore, what: &str, fp32: &[u8], input: &str, samples: &[Sample], policy: Policy) -> Result<Quantized> {
    if samples.is_empty() {
        return Err(Error::BadInput(format!("{what}: no calibration samples")));
    }
    let mut model = decode(fp32, what)?;
    rewrite::inline_constant_identities(&mut model)?;
    let folded_batchnorms = rewrite::fold_batchnorm(&mut model)?;
    rewrite::upgrade_to_opset13(&mut model)?;

    let names = calibration_tensors(&model, policy)?;
    let probe = with_extra_outputs(&model, &names)?.encode_to_vec();
    let mut session = runtime::session(store, &format!("{what} (calibration)"), &probe, Threads { intra: 2 })?;
    let ort_err = |source: ort::Error| Error::Ort { model: what.to_string(), source };
    let mut ranges: HashMap<String, Range> = HashMap::new();
    for (shape, data) in samples {
        let t = TensorRef::from_array_view((shape.clone(), data.as_slice())).map_err(ort_err)?;
        let outputs = session.run(ort::inputs![input => t]).map_err(ort_err)?;
        for n in &names {
            let Some(v) = outputs.get(n.as_str()) else { continue };
            let (_, values) = v.try_extract_tensor::<f32>().map_err(ort_err)?;
            let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            let r = ranges.entry(n.clone()).or_insert(Range { min: lo, max: hi });
            r.min = r.min.min(lo);
            r.max = r.max.max(hi);
        }
    }
    let int8 = quantize_qdq(&model, &ranges, policy)?.encode_to_vec();
    let fp16 = fp16_weights(&decode(fp32, what)?)?.encode_to_vec();
    Ok(Quantized { int8, fp16, calibrated: names.len(), folded_batchnorms })
}
