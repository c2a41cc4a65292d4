//! Static int8 quantization in QDQ form, and fp16 weight storage.
//!
//! `QuantizeLinear`/`DequantizeLinear` pairs are placed the way ONNX
//! Runtime's own `quantize_static` places them, so its CPU provider fuses
//! them into integer kernels (`QLinearConv`, `QGemm`, ...):
//!
//! - weights of `Conv`, `Gemm` and `MatMul`: int8, symmetric, one scale per
//!   output channel, stored quantized and dequantized in the graph;
//! - biases: int32 at scale `input_scale × weight_scale[c]`;
//! - every input and output activation of those nodes: uint8, asymmetric,
//!   one scale per tensor from calibration ranges.
//!
//! The ranges come from running the float model on the user's own data
//! ([`crate::quantize`]); this module only rewrites graphs.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::graph::{attr_i, err as pass_err, graph_mut, initializers, int_attr, node, rebuild_initializers};
use super::patch::Patch;
use super::proto::{ModelProto, NodeProto, TensorProto, ValueInfoProto, tensor_proto::DataType, type_proto};
use super::tensor::{Data, Tensor};
use crate::error::{Error, Result};

fn err(reason: impl Into<String>) -> Error {
    pass_err("quantization", reason)
}

/// Which nodes stay in floating point.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Keep depthwise convolutions (`group` = channels) in fp32: with a
    /// handful of weights per channel and wildly different ranges per
    /// channel, they lose the most to int8 and save the least.
    pub keep_depthwise: bool,
    /// Keep this many leading convolutions in fp32: in MobileNet-style
    /// networks, the stem and the first depthwise-separable block (three
    /// convolutions). They work at full input resolution on raw pixels and
    /// early features, where quantization noise propagates through the whole
    /// network.
    pub keep_leading: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { keep_depthwise: true, keep_leading: 3 }
    }
}

impl Policy {
    /// Every Conv, Gemm and MatMul in int8.
    pub fn all() -> Self {
        Policy { keep_depthwise: false, keep_leading: 0 }
    }
}

/// The nodes `policy` quantizes.
fn selected(model: &ModelProto, policy: Policy) -> Result<HashSet<String>> {
    let g = model.graph.as_ref().ok_or_else(|| err("no graph"))?;
    let inits: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let shapes: HashMap<&str, &Vec<i64>> = g.initializer.iter().map(|t| (t.name(), &t.dims)).collect();
    let mut convs = 0;
    let mut out = HashSet::new();
    for n in g.node.iter().filter(|n| quantizable(n, &inits)) {
        let leading = n.op_type() == "Conv" && {
            convs += 1;
            convs <= policy.keep_leading
        };
        let group = attr_i(n, "group", 1);
        // Depthwise: one input channel per group (weight dims [C, 1, kh, kw]).
        let depthwise = n.op_type() == "Conv" && group > 1 && shapes.get(n.input[1].as_str()).is_some_and(|d| d.get(1) == Some(&1));
        if leading || (policy.keep_depthwise && depthwise) {
            continue;
        }
        out.insert(n.name().to_string());
    }
    Ok(out)
}

/// The tensors to calibrate: inputs and outputs of every node that will be
/// quantized (non-constant ones).
pub fn calibration_tensors(model: &ModelProto, policy: Policy) -> Result<Vec<String>> {
    let g = model.graph.as_ref().ok_or_else(|| err("no graph"))?;
    let chosen = selected(model, policy)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for n in g.node.iter().filter(|n| chosen.contains(n.name())) {
        for t in [&n.input[0], &n.output[0]] {
            if seen.insert(t.clone()) {
                out.push(t.clone());
            }
        }
    }
    Ok(out)
}

fn quantizable(n: &NodeProto, inits: &HashSet<&str>) -> bool {
    let weight_const = n.input.get(1).is_some_and(|w| inits.contains(w.as_str()));
    match n.op_type() {
        "Conv" => weight_const && n.input.len() >= 2,
        "Gemm" => weight_const && attr_i(n, "transA", 0) == 0,
        "MatMul" => weight_const,
        _ => false,
    }
}

/// Adds the given tensors as graph outputs so that a session reports them.
pub fn with_extra_outputs(model: &ModelProto, names: &[String]) -> Result<ModelProto> {
    let mut m = model.clone();
    let g = graph_mut(&mut m)?;
    let existing: HashSet<String> = g.output.iter().map(|o| o.name().to_string()).collect();
    for n in names.iter().filter(|n| !existing.contains(*n)) {
        g.output.push(ValueInfoProto {
            name: Some(n.clone()),
            r#type: Some(super::proto::TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: Some(DataType::Float as i32), shape: None })),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Ok(m)
}

/// A tensor's observed range.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// Smallest value seen.
    pub min: f32,
    /// Largest value seen.
    pub max: f32,
}

fn activation_qparams(r: Range) -> (f32, u8) {
    // The range must hold 0 exactly, so padding and ReLU zeros stay exact.
    let (lo, hi) = (r.min.min(0.0), r.max.max(0.0));
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zp = (-lo / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zp)
}

/// Quantizes `model` (already prepared: constant identities inlined,
/// batch norms folded, opset 13) with the calibration `ranges`.
pub fn quantize_qdq(model: &ModelProto, ranges: &HashMap<String, Range>, policy: Policy) -> Result<ModelProto> {
    let chosen = selected(model, policy)?;
    let mut m = model.clone();
    let g = graph_mut(&mut m)?;
    let mut inits = initializers(g)?;
    let graph_outputs: HashSet<String> = g.output.iter().map(|o| o.name().to_string()).collect();

    // Activation tensors to wrap in Q/DQ, with their parameters.
    let mut act: BTreeMap<String, (f32, u8)> = BTreeMap::new();
    let mut nodes = Vec::with_capacity(g.node.len() * 2);
    for mut n in std::mem::take(&mut g.node) {
        if !chosen.contains(n.name()) {
            nodes.push(n);
            continue;
        }
        let (x, y) = (n.input[0].clone(), n.output[0].clone());
        let (Some(&rx), Some(&ry)) = (ranges.get(&x), ranges.get(&y)) else {
            return Err(err(format!("no calibration range for `{x}` or `{y}`")));
        };
        let input_scale = activation_qparams(rx).0;
        act.insert(x, activation_qparams(rx));
        if !graph_outputs.contains(&y) {
            act.insert(y, activation_qparams(ry));
        }
        nodes.extend(quantize_parameters(&mut n, &mut inits, input_scale)?);
        nodes.push(n);
    }
    let qdq = wrap_activations(&act, &mut inits);
    g.node = nodes;
    // Every reader of a wrapped tensor reads its dequantized copy instead.
    let mut readers = Patch::default();
    for (t, q) in &qdq {
        if q.op_type() == "DequantizeLinear" {
            readers.rewire.insert(t.clone(), q.output[0].clone());
        }
    }
    readers.apply(g);
    g.node = insert_after_producers(std::mem::take(&mut g.node), qdq, &g.input)?;
    rebuild_initializers(g, &inits);
    Ok(m)
}

/// Stores node `n`'s weight as int8 (symmetric, one scale per output
/// channel) and its bias as int32 (at input scale × weight scale), with the
/// `DequantizeLinear` nodes that restore them; `n` then reads those.
fn quantize_parameters(n: &mut NodeProto, inits: &mut HashMap<String, Tensor>, input_scale: f32) -> Result<Vec<NodeProto>> {
    let op = n.op_type().to_string();
    let wname = n.input[1].clone();
    let w = inits.get(&wname).cloned().ok_or_else(|| err(format!("weight `{wname}` missing")))?;
    let Data::F32(wv) = &w.data else { return Err(err(format!("weight `{wname}` is not float"))) };
    // The output-channel axis of the weight.
    let axis: usize = match op.as_str() {
        "Conv" => 0,
        "Gemm" if attr_i(n, "transB", 0) == 1 => 0,
        _ => 1,
    };
    let dims: Vec<usize> = w.dims.iter().map(|&d| d as usize).collect();
    if dims.len() < 2 {
        return Err(err(format!("weight `{wname}` has rank {}", dims.len())));
    }
    let channels = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let chan = |i: usize| (i / inner) % channels;
    let mut maxabs = vec![0f32; channels];
    for (i, v) in wv.iter().enumerate() {
        let c = chan(i);
        maxabs[c] = maxabs[c].max(v.abs());
    }
    let ws: Vec<f32> = maxabs.iter().map(|&a| if a > 0.0 { a / 127.0 } else { 1.0 }).collect();
    let wq: Vec<i8> = wv.iter().enumerate().map(|(i, v)| (v / ws[chan(i)]).round().clamp(-127.0, 127.0) as i8).collect();
    let base = n.name().replace(['/', ':', '.'], "_");
    let mut out = vec![dequantized(
        inits,
        &format!("{base}_w"),
        Tensor { dims: w.dims.clone(), data: Data::I8(wq) },
        &ws,
        Data::I8(vec![0; channels]),
        axis,
    )];
    n.input[1] = out[0].output[0].clone();

    let bias_at = if op == "MatMul" { None } else { Some(2) };
    if let Some(bi) = bias_at
        && let Some(bname) = n.input.get(bi).filter(|b| !b.is_empty()).cloned()
        && let Some(b) = inits.get(&bname).cloned()
        && let Data::F32(bv) = &b.data
        && bv.len() == channels
    {
        let scales: Vec<f32> = ws.iter().map(|s| s * input_scale).collect();
        let bq: Vec<i32> = bv.iter().zip(&scales).map(|(v, s)| (v / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32).collect();
        out.push(dequantized(
            inits,
            &format!("{base}_b"),
            Tensor { dims: b.dims.clone(), data: Data::I32(bq) },
            &scales,
            Data::I32(vec![0; channels]),
            0,
        ));
        n.input[bi] = out[1].output[0].clone();
    }
    Ok(out)
}

/// Adds a quantized constant, its per-channel scales and zero points as
/// initializers `<base>_q`, `<base>_scale`, `<base>_zp`, and returns the
/// `DequantizeLinear` node that produces `<base>_dq` from them.
fn dequantized(inits: &mut HashMap<String, Tensor>, base: &str, q: Tensor, scales: &[f32], zero: Data, axis: usize) -> NodeProto {
    let (q_n, s_n, z_n, d_n) = (format!("{base}_q"), format!("{base}_scale"), format!("{base}_zp"), format!("{base}_dq"));
    let channels = scales.len() as i64;
    inits.insert(q_n.clone(), q);
    inits.insert(s_n.clone(), Tensor { dims: vec![channels], data: Data::F32(scales.to_vec()) });
    inits.insert(z_n.clone(), Tensor { dims: vec![channels], data: zero });
    node("DequantizeLinear", &format!("{base}_DQ"), &[&q_n, &s_n, &z_n], &[&d_n], vec![int_attr("axis", axis as i64)])
}

/// A `QuantizeLinear` → `DequantizeLinear` pair for each activation, with
/// its scale and zero point as initializers; each pair is keyed by the
/// tensor it wraps.
fn wrap_activations(act: &BTreeMap<String, (f32, u8)>, inits: &mut HashMap<String, Tensor>) -> Vec<(String, NodeProto)> {
    let mut out = Vec::with_capacity(act.len() * 2);
    for (t, (scale, zp)) in act {
        let safe = t.replace(['/', ':', '.'], "_");
        let (s_n, z_n, q_n, d_n) = (format!("{safe}_scale"), format!("{safe}_zp"), format!("{safe}_q"), format!("{safe}_dq"));
        inits.insert(s_n.clone(), Tensor { dims: vec![], data: Data::F32(vec![*scale]) });
        inits.insert(z_n.clone(), Tensor { dims: vec![], data: Data::U8(vec![*zp]) });
        out.push((t.clone(), node("QuantizeLinear", &format!("{safe}_Q"), &[t, &s_n, &z_n], &[&q_n], vec![])));
        out.push((t.clone(), node("DequantizeLinear", &format!("{safe}_DQ"), &[&q_n, &s_n, &z_n], &[&d_n], vec![])));
    }
    out
}

/// `nodes` with each of `extra` placed right after the node producing the
/// tensor it is keyed by (or first, for graph inputs), so that the node list
/// stays topologically sorted.
fn insert_after_producers(nodes: Vec<NodeProto>, extra: Vec<(String, NodeProto)>, inputs: &[ValueInfoProto]) -> Result<Vec<NodeProto>> {
    let mut ordered = Vec::with_capacity(nodes.len() + extra.len());
    let mut pending: HashMap<String, Vec<NodeProto>> = HashMap::new();
    for (t, q) in extra {
        pending.entry(t).or_default().push(q);
    }
    for i in inputs {
        if let Some(v) = pending.remove(i.name()) {
            ordered.extend(v);
        }
    }
    for n in nodes {
        let outs = n.output.clone();
        ordered.push(n);
        for o in outs {
            if let Some(v) = pending.remove(&o) {
                ordered.extend(v);
            }
        }
    }
    match pending.keys().next() {
        Some(t) => Err(err(format!("tensor `{t}` has no producer"))),
        None => Ok(ordered),
    }
}

/// The fp16-weights variant: every float initializer of at least 16 values
/// is stored as float16 and cast back to float in the graph. ONNX Runtime
/// folds the casts when it loads the model, so it runs as fp32 at the same
/// speed from a file about half the size.
pub fn fp16_weights(model: &ModelProto) -> Result<ModelProto> {
    let mut m = model.clone();
    let g = graph_mut(&mut m)?;
    let mut casts = Vec::new();
    for t in &mut g.initializer {
        if t.data_type() != DataType::Float as i32 {
            continue;
        }
        let dec = Tensor::from_proto(t).map_err(err)?;
        let Data::F32(v) = &dec.data else { continue };
        if v.len() < 16 {
            continue;
        }
        let name = t.name().to_string();
        let half_name = format!("{name}_fp16");
        let raw: Vec<u8> = v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect();
        *t = TensorProto {
            dims: dec.dims.clone(),
            data_type: Some(DataType::Float16 as i32),
            name: Some(half_name.clone()),
            raw_data: Some(raw),
            ..Default::default()
        };
        casts.push(node("Cast", &format!("{name}_Cast"), &[&half_name], &[&name], vec![int_attr("to", DataType::Float as i64)]));
    }
    casts.append(&mut g.node);
    g.node = casts;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::GraphProto;

    #[test]
    fn activation_ranges_hold_zero_exactly() {
        let (s, z) = activation_qparams(Range { min: -1.0, max: 3.0 });
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert!(((0.0 - -1.0) / s - f32::from(z)).abs() < 0.5);
        let (_, z) = activation_qparams(Range { min: 0.5, max: 2.0 });
        assert_eq!(z, 0, "a positive range is widened down to 0");
    }

    #[test]
    fn conv_gets_per_channel_weights_and_qdq_activations() {
        let w = Tensor { dims: vec![2, 1, 1, 1], data: Data::F32(vec![0.5, -2.0]) };
        let b = Tensor { dims: vec![2], data: Data::F32(vec![0.1, 0.2]) };
        let g = GraphProto {
            node: vec![node("Conv", "conv", &["x", "w", "b"], &["y"], vec![]), node("Relu", "relu", &["y"], &["z"], vec![])],
            initializer: vec![w.to_proto("w"), b.to_proto("b")],
            input: vec![ValueInfoProto { name: Some("x".into()), ..Default::default() }],
            output: vec![ValueInfoProto { name: Some("z".into()), ..Default::default() }],
            ..Default::default()
        };
        let m = ModelProto { graph: Some(g), ..Default::default() };
        let all = Policy::all();
        assert_eq!(calibration_tensors(&m, all).unwrap(), vec!["x".to_string(), "y".to_string()]);
        assert!(calibration_tensors(&m, Policy::default()).unwrap().is_empty(), "the first conv stays fp32 by default");
        let ranges = HashMap::from([("x".to_string(), Range { min: 0.0, max: 1.0 }), ("y".to_string(), Range { min: -1.0, max: 1.0 })]);
        let q = quantize_qdq(&m, &ranges, all).unwrap();
        let g = q.graph.unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(
            ops,
            [
                "QuantizeLinear",
                "DequantizeLinear",
                "DequantizeLinear",
                "DequantizeLinear",
                "Conv",
                "QuantizeLinear",
                "DequantizeLinear",
                "Relu"
            ]
        );
        let inits = initializers(&g).unwrap();
        // Per channel: 0.5 -> 127 at scale 0.5/127; -2.0 -> -127 at scale 2/127.
        assert_eq!(inits["conv_w_q"].data, Data::I8(vec![127, -127]));
        assert_eq!(inits["conv_w_scale"].data, Data::F32(vec![0.5 / 127.0, 2.0 / 127.0]));
        let Data::I32(bq) = &inits["conv_b_q"].data else { panic!() };
        let sx = 1.0f32 / 255.0;
        assert_eq!(bq[0], (0.1f32 / (0.5 / 127.0 * sx)).round() as i32);
        assert_eq!(g.node[7].input[0], "y_dq", "the Relu reads the dequantized output");
    }

    #[test]
    fn fp16_weights_cast_back_to_float() {
        let w = Tensor { dims: vec![16], data: Data::F32((0..16).map(|i| i as f32 * 0.25).collect()) };
        let g = GraphProto {
            node: vec![node("Add", "add", &["x", "w"], &["y"], vec![])],
            initializer: vec![w.to_proto("w")],
            ..Default::default()
        };
        let m = fp16_weights(&ModelProto { graph: Some(g), ..Default::default() }).unwrap();
        let g = m.graph.unwrap();
        assert_eq!(g.node[0].op_type(), "Cast");
        assert_eq!(g.node[0].output[0], "w");
        assert_eq!(g.initializer[0].data_type(), DataType::Float16 as i32);
        assert_eq!(g.initializer[0].raw_data.as_ref().unwrap().len(), 32);
    }
}
