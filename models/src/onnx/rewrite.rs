//! Graph rewrites. For quantization: inlining constant `Identity` nodes,
//! folding `BatchNormalization` into the `Conv` or `Gemm` before it, and
//! moving an opset-11/12 graph to opset 13 (the first with per-channel
//! `DequantizeLinear`). For ONNX Runtime on the CPU: a free batch, and
//! `PRelu` spelled in operators its blocked-layout kernels run.

use std::collections::{HashMap, HashSet};

use super::graph::{
    attr_f, attr_i, err as pass_err, float_attr, graph_mut, initializers, node, opset, rebuild_initializers, set_opset, use_counts,
};
use super::patch::Patch;
use super::proto::tensor_shape_proto::{Dimension, dimension};
use super::proto::{ModelProto, NodeProto, TensorProto, ValueInfoProto, type_proto};
use super::tensor::{Data, Tensor};
use crate::error::{Error, Result};

fn err(reason: impl Into<String>) -> Error {
    pass_err("graph rewrite", reason)
}

/// Replaces `Identity(initializer)` nodes by the initializer itself: the
/// PyTorch exporter routes shared weights through them, which hides the
/// weights from a pass looking for constant inputs.
pub(crate) fn inline_constant_identities(model: &mut ModelProto) -> Result<()> {
    let g = graph_mut(model)?;
    let inits: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let outputs: HashSet<&str> = g.output.iter().map(|o| o.name()).collect();
    let mut patch = Patch::default();
    for (i, n) in g.node.iter().enumerate() {
        if n.op_type() == "Identity" && n.input.len() == 1 && inits.contains(n.input[0].as_str()) && !outputs.contains(n.output[0].as_str())
        {
            patch.remove.insert(i);
            patch.rewire.insert(n.output[0].clone(), n.input[0].clone());
        }
    }
    patch.apply(g);
    Ok(())
}

/// Folds `BatchNormalization` into the `Conv` (or `Gemm` with `transB = 1`)
/// that feeds it, when the BN reads nothing else and all parameters are
/// constant: `w' = w·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β`. Quantizing
/// the folded weights is what the int8 kernels will run.
pub(crate) fn fold_batchnorm(model: &mut ModelProto) -> Result<usize> {
    let g = graph_mut(model)?;
    let mut inits = initializers(g)?;
    let uses = use_counts(g);
    let producer: HashMap<String, usize> =
        g.node.iter().enumerate().flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i))).collect();
    let mut patch = Patch::default();
    let mut folded = 0;
    for bi in 0..g.node.len() {
        let bn = &g.node[bi];
        if bn.op_type() != "BatchNormalization" || bn.input.len() < 5 || bn.output.len() != 1 {
            continue;
        }
        let Some(&pi) = producer.get(&bn.input[0]) else { continue };
        let prev = &g.node[pi];
        let kind = prev.op_type();
        let gemm_ok = kind == "Gemm"
            && attr_i(prev, "transB", 0) == 1
            && attr_i(prev, "transA", 0) == 0
            && attr_f(prev, "alpha", 1.0) == 1.0
            && attr_f(prev, "beta", 1.0) == 1.0;
        if !(kind == "Conv" || gemm_ok) || uses.get(&bn.input[0]).copied().unwrap_or(0) != 1 {
            continue;
        }
        let params: Option<Vec<Vec<f32>>> = bn.input[1..5].iter().map(|n| inits.get(n).and_then(f32s)).collect();
        let (Some(params), Some(w)) = (params, prev.input.get(1).and_then(|n| inits.get(n)).cloned()) else { continue };
        let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
        let eps = attr_f(bn, "epsilon", 1e-5);
        let out_ch = w.dims.first().copied().unwrap_or(0) as usize;
        let Data::F32(wv) = &w.data else { continue };
        if out_ch == 0 || gamma.len() != out_ch {
            continue;
        }
        let per = wv.len() / out_ch;
        let scale: Vec<f32> = (0..out_ch).map(|c| gamma[c] / (var[c] + eps).sqrt()).collect();
        let new_w: Vec<f32> = wv.iter().enumerate().map(|(i, v)| v * scale[i / per]).collect();
        let old_b: Vec<f32> =
            prev.input.get(2).filter(|n| !n.is_empty()).and_then(|n| inits.get(n)).and_then(f32s).unwrap_or_else(|| vec![0.0; out_ch]);
        let new_b: Vec<f32> = (0..out_ch).map(|c| (old_b[c] - mean[c]) * scale[c] + beta[c]).collect();
        let (wname, bname) = (format!("{}_bnfolded_w", prev.name()), format!("{}_bnfolded_b", prev.name()));
        inits.insert(wname.clone(), Tensor { dims: w.dims.clone(), data: Data::F32(new_w) });
        inits.insert(bname.clone(), Tensor { dims: vec![out_ch as i64], data: Data::F32(new_b) });
        let prev = &mut g.node[pi];
        prev.input.truncate(2);
        prev.input[1] = wname;
        prev.input.push(bname);
        // The Conv now produces what the BN produced.
        patch.rename_outputs.insert(prev.output[0].clone(), g.node[bi].output[0].clone());
        patch.remove.insert(bi);
        folded += 1;
    }
    patch.apply(g);
    rebuild_initializers(g, &inits);
    Ok(folded)
}

fn f32s(t: &Tensor) -> Option<Vec<f32>> {
    match &t.data {
        Data::F32(v) => Some(v.clone()),
        _ => None,
    }
}

/// Moves an opset 10-12 graph to opset 13: `Unsqueeze`/`Squeeze` take their
/// axes as an input, and `Softmax` must already work on the last axis (where
/// the old and new definitions agree). Other ops rollcall's models use did
/// not change meaning between these versions.
pub(crate) fn upgrade_to_opset13(model: &mut ModelProto) -> Result<()> {
    let v = opset(model);
    if v >= 13 {
        return Ok(());
    }
    if v < 10 {
        return Err(err(format!("opset {v} is too old to upgrade (10 or later)")));
    }
    let ranks = known_ranks(model);
    let g = graph_mut(model)?;
    let mut extra = Vec::new();
    for n in &mut g.node {
        match n.op_type() {
            "Unsqueeze" | "Squeeze" => {
                if let Some(pos) = n.attribute.iter().position(|a| a.name() == "axes") {
                    let axes = n.attribute.remove(pos).ints;
                    let name = format!("{}_axes", n.name());
                    extra.push(Tensor { dims: vec![axes.len() as i64], data: Data::I64(axes) }.to_proto(&name));
                    n.input.truncate(1);
                    n.input.push(name);
                }
            }
            "Softmax" | "LogSoftmax" | "Hardmax" => {
                let axis = attr_i(n, "axis", 1);
                let rank = ranks.get(&n.output[0]).copied();
                let last = axis == -1 || rank.is_some_and(|r| axis == r - 1);
                if !last {
                    return Err(err(format!("{} `{}` on axis {axis} (rank {rank:?}) changes meaning in opset 13", n.op_type(), n.name())));
                }
            }
            "ReduceSum" | "Split" => {
                return Err(err(format!("{} `{}` needs an opset-13 rewrite this pass does not do", n.op_type(), n.name())));
            }
            _ => {}
        }
    }
    g.initializer.extend(extra);
    set_opset(model, 13);
    Ok(())
}

/// Ranks of tensors whose shape the model declares.
fn known_ranks(model: &ModelProto) -> HashMap<String, i64> {
    use super::proto::type_proto;
    let Some(g) = &model.graph else { return HashMap::new() };
    g.output
        .iter()
        .chain(&g.value_info)
        .chain(&g.input)
        .filter_map(|v| match v.r#type.as_ref()?.value.as_ref()? {
            type_proto::Value::TensorType(t) => Some((v.name().to_string(), t.shape.as_ref()?.dim.len() as i64)),
            _ => None,
        })
        .collect()
}

fn first_dim(v: &mut ValueInfoProto) -> Option<&mut Dimension> {
    match v.r#type.as_mut()?.value.as_mut()? {
        type_proto::Value::TensorType(t) => t.shape.as_mut()?.dim.first_mut(),
        _ => None,
    }
}

/// Operators that can carry the batch size as a constant (a `Reshape` to
/// `[1, -1]`, say): a graph holding any of them keeps its fixed batch.
const SHAPE_OPS: [&str; 8] = ["Reshape", "Expand", "Tile", "Slice", "Shape", "ConstantOfShape", "Split", "Squeeze"];

/// Lets a network exported with a fixed batch of 1 take any batch, so that
/// several faces go through one inference call: the first dimension of
/// every graph input and output becomes the symbol `batch`, and the
/// intermediate shapes recorded by the exporter are dropped (ONNX Runtime
/// infers them again). Done only when the graph's operators all work row by
/// row (convolutions, normalisations, `Flatten`, `Gemm`, ...): returns
/// `false`, leaving the model untouched, when it holds an operator of
/// [`SHAPE_OPS`] or an input or output whose first dimension is not 1.
pub(crate) fn free_batch(model: &mut ModelProto) -> Result<bool> {
    let g = graph_mut(model)?;
    if g.node.iter().any(|n| SHAPE_OPS.contains(&n.op_type())) {
        return Ok(false);
    }
    let inits: HashSet<String> = g.initializer.iter().map(|t| t.name().to_string()).collect();
    let mut dims: Vec<&mut Dimension> = Vec::new();
    for v in g.input.iter_mut().filter(|v| !inits.contains(v.name())).chain(g.output.iter_mut()) {
        match first_dim(v) {
            Some(d) if d.value == Some(dimension::Value::DimValue(1)) => dims.push(d),
            Some(d) if matches!(d.value, Some(dimension::Value::DimParam(_))) => {}
            _ => return Ok(false),
        }
    }
    for d in dims {
        d.value = Some(dimension::Value::DimParam("batch".into()));
    }
    g.value_info.clear();
    Ok(true)
}

/// Rewrites every `PRelu` whose slope is a constant per channel of a 2-D
/// convolution's output into `Relu(x)·(1 − a) + x·a`: a `Relu`, two
/// `BatchNormalization`s (scale `1 − a` and `a`, no shift) and an `Add`.
/// The value is the same (to a rounding); the point is speed. ONNX
/// Runtime's CPU provider has no `PRelu` in its blocked (NCHWc) layout, so
/// around each one it converts the tensor out of that layout and back, and
/// its broadcasting `PRelu` is slow: in SFace (27 of them) they took half
/// the network's time. The spelled-out form stays in the blocked layout
/// (each `BatchNormalization` becomes a per-channel scale there, with the
/// `Add` fused into one of them), and SFace runs in half the time. Returns
/// how many were rewritten; a `PRelu` whose input is not known to be a 4-D
/// `N, C, H, W` tensor with the slope's `C` is left alone.
pub(crate) fn split_prelu(model: &mut ModelProto) -> Result<usize> {
    // BatchNormalization's inference semantics are the same from opset 9 on.
    if opset(model) < 9 {
        return Ok(0);
    }
    let g = graph_mut(model)?;
    let inits: HashMap<&str, &TensorProto> = g.initializer.iter().map(|t| (t.name(), t)).collect();
    let producer: HashMap<&str, &NodeProto> = g.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let mut patch = Patch::default();
    let mut extra = Vec::new();
    let mut slopes = HashSet::new();
    for (i, n) in g.node.iter().enumerate() {
        let slope = per_channel_slope(n, &inits).filter(|a| conv2d_channels(&n.input[0], &producer, &inits) == Some(a.len()));
        let Some(a) = slope else { continue };
        slopes.insert(n.input[1].clone());
        let (x, y) = (n.input[0].as_str(), n.output[0].as_str());
        let name = |part: &str| format!("{y}/prelu_split/{part}");
        let c = a.len();
        let mut constant = |part: &str, v: Vec<f32>| {
            let n = name(part);
            extra.push(Tensor { dims: vec![c as i64], data: Data::F32(v) }.to_proto(&n));
            n
        };
        let (pos_scale, neg_scale) = (constant("one_minus_slope", a.iter().map(|s| 1.0 - s).collect()), constant("slope", a));
        let (zero, one) = (constant("zero", vec![0.0; c]), constant("one", vec![1.0; c]));
        let (relu, relu_scaled, x_scaled) = (name("relu"), name("relu_scaled"), name("x_scaled"));
        let bn = |input: &str, scale: &str, out: &str| {
            node("BatchNormalization", out, &[input, scale, &zero, &zero, &one], &[out], vec![float_attr("epsilon", 0.0)])
        };
        let spelled_out = vec![
            node("Relu", &relu, &[x], &[&relu], vec![]),
            bn(&relu, &pos_scale, &relu_scaled),
            bn(x, &neg_scale, &x_scaled),
            node("Add", &name("add"), &[&relu_scaled, &x_scaled], &[y], vec![]),
        ];
        patch.replace.insert(i, spelled_out);
    }
    let split = patch.replace.len();
    patch.apply(g);
    g.initializer.extend(extra);
    // The slopes nobody reads now go, and with them their graph inputs (an
    // older exporter lists every initializer as an input too).
    let read: HashSet<&String> = g.node.iter().flat_map(|n| &n.input).collect();
    slopes.retain(|s| !read.contains(s));
    g.initializer.retain(|t| !slopes.contains(t.name()));
    g.input.retain(|i| !slopes.contains(i.name()));
    Ok(split)
}

/// The slope of a `PRelu` whose slope is a constant of shape `[C, 1, 1]` or
/// `[1, C, 1, 1]` (one value per channel of an `N, C, H, W` input).
fn per_channel_slope(n: &NodeProto, inits: &HashMap<&str, &TensorProto>) -> Option<Vec<f32>> {
    if n.op_type() != "PRelu" || n.input.len() != 2 || n.output.len() != 1 {
        return None;
    }
    let t = inits.get(n.input[1].as_str())?;
    if !matches!(t.dims.as_slice(), [_, 1, 1] | [1, _, 1, 1]) {
        return None;
    }
    f32s(&Tensor::from_proto(t).ok()?)
}

/// The channel count of `tensor` when it is known to be the 4-D output of a
/// 2-D `Conv`, directly or through operators that keep the shape.
fn conv2d_channels(tensor: &str, producer: &HashMap<&str, &NodeProto>, inits: &HashMap<&str, &TensorProto>) -> Option<usize> {
    let mut t = tensor;
    // A few shape-keeping steps at most: Conv, then BatchNormalization, say.
    for _ in 0..4 {
        let n = producer.get(t)?;
        match n.op_type() {
            "Conv" => {
                let w = inits.get(n.input.get(1)?.as_str())?;
                return (w.dims.len() == 4).then(|| usize::try_from(w.dims[0]).ok()).flatten();
            }
            "BatchNormalization" | "Relu" | "LeakyRelu" | "PRelu" if n.output.len() == 1 => t = n.input.first()?,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::graph::{int_attr, node};
    use crate::onnx::proto::{AttributeProto, GraphProto, OperatorSetIdProto, ValueInfoProto, attribute_proto::AttributeType};

    fn vi(name: &str) -> ValueInfoProto {
        ValueInfoProto { name: Some(name.into()), ..Default::default() }
    }

    fn model(nodes: Vec<crate::onnx::proto::NodeProto>, inits: Vec<(&str, Tensor)>, outputs: &[&str], opset: i64) -> ModelProto {
        ModelProto {
            ir_version: Some(6),
            opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(opset) }],
            graph: Some(GraphProto {
                node: nodes,
                initializer: inits.iter().map(|(n, t)| t.to_proto(n)).collect(),
                input: vec![vi("x")],
                output: outputs.iter().map(|o| vi(o)).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn f32s_of(t: &Tensor) -> Vec<f32> {
        f32s(t).expect("float tensor")
    }

    #[test]
    fn constant_identities_are_inlined_but_graph_outputs_stay() {
        let w = Tensor { dims: vec![1], data: Data::F32(vec![2.0]) };
        let mut m = model(
            vec![
                node("Identity", "shared", &["w"], &["w_copy"], vec![]),
                node("Mul", "mul", &["x", "w_copy"], &["y"], vec![]),
                node("Identity", "out", &["w"], &["w_out"], vec![]),
            ],
            vec![("w", w)],
            &["y", "w_out"],
            13,
        );
        inline_constant_identities(&mut m).unwrap();
        let g = m.graph.unwrap();
        let ops: Vec<(&str, Vec<&str>)> = g.node.iter().map(|n| (n.name(), n.input.iter().map(String::as_str).collect())).collect();
        assert_eq!(ops, [("mul", vec!["x", "w"]), ("out", vec!["w"])]);
    }

    #[test]
    fn batch_norm_folds_into_the_conv_before_it() {
        // Two output channels, one input channel, 1x1 kernels.
        let w = Tensor { dims: vec![2, 1, 1, 1], data: Data::F32(vec![1.0, -2.0]) };
        let b = Tensor { dims: vec![2], data: Data::F32(vec![0.5, 0.0]) };
        let p = |v: [f32; 2]| Tensor { dims: vec![2], data: Data::F32(v.to_vec()) };
        let mut bn = node("BatchNormalization", "bn", &["c", "gamma", "beta", "mean", "var"], &["y"], vec![]);
        bn.attribute.push(AttributeProto {
            name: Some("epsilon".into()),
            f: Some(0.0),
            r#type: Some(AttributeType::Float as i32),
            ..Default::default()
        });
        let mut m = model(
            vec![node("Conv", "conv", &["x", "w", "b"], &["c"], vec![]), bn],
            vec![("w", w), ("b", b), ("gamma", p([2.0, 1.0])), ("beta", p([1.0, -1.0])), ("mean", p([0.5, 1.0])), ("var", p([4.0, 1.0]))],
            &["y"],
            13,
        );
        assert_eq!(fold_batchnorm(&mut m).unwrap(), 1);
        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.node.len(), 1);
        assert_eq!((g.node[0].op_type(), g.node[0].output[0].as_str()), ("Conv", "y"));
        let inits = initializers(g).unwrap();
        // scale = gamma / sqrt(var): [1, 1]; w' = w * scale; b' = (b - mean) * scale + beta.
        assert_eq!(f32s_of(&inits["conv_bnfolded_w"]), [1.0, -2.0]);
        assert_eq!(f32s_of(&inits["conv_bnfolded_b"]), [1.0, -2.0]);
        assert_eq!(g.initializer.len(), 2, "the unused BN parameters are gone");
    }

    #[test]
    fn opset_11_moves_to_13_with_unsqueeze_axes_as_an_input() {
        let axes =
            AttributeProto { name: Some("axes".into()), ints: vec![0], r#type: Some(AttributeType::Ints as i32), ..Default::default() };
        let mut m = model(vec![node("Unsqueeze", "u", &["x"], &["y"], vec![axes])], vec![], &["y"], 11);
        upgrade_to_opset13(&mut m).unwrap();
        assert_eq!((opset(&m), m.ir_version()), (13, 7));
        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.node[0].input, ["x", "u_axes"]);
        assert!(g.node[0].attribute.is_empty());
        assert_eq!(Tensor::from_proto(&g.initializer[0]).unwrap().data, Data::I64(vec![0]));

        let softmax = |axis| model(vec![node("Softmax", "s", &["x"], &["y"], vec![int_attr("axis", axis)])], vec![], &["y"], 11);
        assert!(upgrade_to_opset13(&mut softmax(-1)).is_ok());
        assert!(upgrade_to_opset13(&mut softmax(0)).is_err(), "softmax over a leading axis changes meaning");
        assert!(upgrade_to_opset13(&mut model(vec![], vec![], &[], 9)).is_err());
    }

    #[test]
    fn per_channel_prelu_after_a_conv_is_spelled_out() {
        let w = Tensor { dims: vec![2, 1, 1, 1], data: Data::F32(vec![1.0, -2.0]) };
        let slope = Tensor { dims: vec![2, 1, 1], data: Data::F32(vec![0.25, -0.5]) };
        let scalar = Tensor { dims: vec![1], data: Data::F32(vec![0.1]) };
        let mut m = model(
            vec![
                node("Conv", "conv", &["x", "w"], &["c"], vec![]),
                node("PRelu", "p", &["c", "slope"], &["y"], vec![]),
                // Not known to be N, C, H, W: left alone.
                node("PRelu", "on_input", &["x", "slope"], &["z"], vec![]),
                // One slope for all channels: not per channel, left alone.
                node("PRelu", "scalar", &["c", "scalar"], &["s"], vec![]),
            ],
            vec![("w", w), ("slope", slope), ("scalar", scalar)],
            &["y", "z", "s"],
            13,
        );
        assert_eq!(split_prelu(&mut m).unwrap(), 1);
        let g = m.graph.as_ref().unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(ops, ["Conv", "Relu", "BatchNormalization", "BatchNormalization", "Add", "PRelu", "PRelu"]);
        let [relu, pos, neg, add] = [&g.node[1], &g.node[2], &g.node[3], &g.node[4]];
        assert_eq!((relu.input[0].as_str(), neg.input[0].as_str()), ("c", "c"));
        assert_eq!(pos.input[0], relu.output[0]);
        assert_eq!(add.input, [pos.output[0].clone(), neg.output[0].clone()]);
        assert_eq!(add.output, ["y"], "the Add produces what the PRelu did");
        let inits = initializers(g).unwrap();
        let floats = |name: &str| f32s_of(&inits[name]);
        // Relu(c)·(1 − a) + c·a, with mean 0, variance 1 and epsilon 0.
        assert_eq!(floats(&pos.input[1]), [0.75, 1.5]);
        assert_eq!(floats(&neg.input[1]), [0.25, -0.5]);
        assert_eq!((floats(&pos.input[2]), floats(&pos.input[3]), floats(&pos.input[4])), (vec![0.0; 2], vec![0.0; 2], vec![1.0; 2]));
        assert_eq!(attr_f(pos, "epsilon", 1e-5), 0.0);
        assert!(inits.contains_key("slope"), "the PRelu left alone still reads its slope");

        // With no other reader, the slope goes.
        let mut only = model(
            vec![node("Conv", "conv", &["x", "w"], &["c"], vec![]), node("PRelu", "p", &["c", "slope"], &["y"], vec![])],
            vec![
                ("w", Tensor { dims: vec![1, 1, 1, 1], data: Data::F32(vec![1.0]) }),
                ("slope", Tensor { dims: vec![1, 1, 1, 1], data: Data::F32(vec![0.5]) }),
            ],
            &["y"],
            13,
        );
        assert_eq!(split_prelu(&mut only).unwrap(), 1);
        assert!(only.graph.as_ref().unwrap().initializer.iter().all(|t| t.name() != "slope"));
    }

    fn batch_one(name: &str) -> ValueInfoProto {
        use crate::onnx::proto::{TensorShapeProto, TypeProto};
        let dim = |v: i64| Dimension { value: Some(dimension::Value::DimValue(v)), ..Default::default() };
        ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(1),
                    shape: Some(TensorShapeProto { dim: vec![dim(1), dim(3)] }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn first_dims(m: &ModelProto) -> Vec<Option<dimension::Value>> {
        let g = m.graph.as_ref().expect("graph");
        g.input
            .iter()
            .chain(&g.output)
            .map(|v| match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(type_proto::Value::TensorType(t)) => t.shape.as_ref().and_then(|s| s.dim[0].value.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn batch_becomes_free_for_row_by_row_graphs_only() {
        let w = Tensor { dims: vec![3, 3], data: Data::F32(vec![1.0; 9]) };
        let mut m = model(vec![node("Gemm", "fc", &["x", "w"], &["y"], vec![int_attr("transB", 1)])], vec![("w", w.clone())], &["y"], 13);
        let g = m.graph.as_mut().expect("graph");
        g.input = vec![batch_one("x")];
        g.output = vec![batch_one("y")];
        g.value_info = vec![batch_one("between")];
        let mut reshaping = m.clone();
        assert!(free_batch(&mut m).expect("rewrite"));
        let batch = Some(dimension::Value::DimParam("batch".into()));
        assert_eq!(first_dims(&m), vec![batch.clone(), batch]);
        assert!(m.graph.as_ref().expect("graph").value_info.is_empty());

        // A Reshape may hold the batch of 1 as a constant: left alone.
        reshaping.graph.as_mut().expect("graph").node.push(node("Reshape", "r", &["y", "shape"], &["z"], vec![]));
        let before = reshaping.clone();
        assert!(!free_batch(&mut reshaping).expect("rewrite"));
        assert_eq!(reshaping, before);
    }
}
