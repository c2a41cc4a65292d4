//! Constant folding that turns a block-quantized ONNX graph into a plain fp32
//! graph ONNX Runtime accepts.
//!
//! The SFace file on PyPI stores its weights as int8 with per-block scales
//! (`DequantizeLinear` with `block_size`, opset 21), lists its initializers as
//! graph inputs too, and feeds Dropout a ratio tensor ONNX Runtime rejects.
//! This pass:
//!
//! 1. evaluates every `DequantizeLinear`, `Reshape` and `Constant` node whose
//!    inputs are all constants, and stores the results as fp32 (or, for
//!    shapes, int64) initializers;
//! 2. turns `Dropout` (an inference no-op) into `Identity`;
//! 3. drops initializers, graph inputs and `value_info` entries that nothing
//!    uses any more, and graph inputs that are initializers;
//! 4. sets the default-domain opset to 13 (and the IR version to at least 7,
//!    the first to know opset 13).
//!
//! The rewrite is deterministic: the same input bytes give the same output
//! bytes, so the result is pinned by sha256 in the manifest.

use std::collections::{HashMap, HashSet};

use prost::Message;

use super::graph::{attr, attr_i, err as pass_err, set_opset};
use super::proto::{ModelProto, NodeProto, attribute_proto::AttributeType};
use super::tensor::{Data, Tensor};
use crate::error::{Error, Result};

fn err(reason: impl Into<String>) -> Error {
    pass_err("constant folding", reason)
}

/// Folds the constant parts of an encoded ONNX model; see the module docs.
pub(crate) fn fold_constants(model_bytes: &[u8]) -> Result<Vec<u8>> {
    let mut model = ModelProto::decode(model_bytes).map_err(|e| err(format!("not an ONNX model: {e}")))?;
    fold_model(&mut model)?;
    Ok(model.encode_to_vec())
}

/// In-place version of [`fold_constants`].
pub(crate) fn fold_model(model: &mut ModelProto) -> Result<()> {
    let graph = model.graph.as_mut().ok_or_else(|| err("the model has no graph"))?;

    let mut constants: HashMap<String, Tensor> = HashMap::new();
    for init in &graph.initializer {
        constants.insert(init.name().to_string(), Tensor::from_proto(init).map_err(err)?);
    }
    // Names produced by folding, in production order, so the output is
    // deterministic.
    let mut folded: Vec<String> = Vec::new();
    let mut kept: Vec<NodeProto> = Vec::with_capacity(graph.node.len());

    for mut node in std::mem::take(&mut graph.node) {
        let op = node.op_type().to_string();
        let foldable = matches!(op.as_str(), "DequantizeLinear" | "Reshape" | "Constant")
            && node.input.iter().filter(|i| !i.is_empty()).all(|i| constants.contains_key(i));
        if foldable {
            let value = match op.as_str() {
                "Constant" => constant_value(&node)?,
                "DequantizeLinear" => dequantize(&node, &constants)?,
                _ => reshape(&node, &constants)?,
            };
            let out = node.output.first().cloned().ok_or_else(|| err(format!("{op} node without output")))?;
            constants.insert(out.clone(), value);
            folded.push(out);
            continue;
        }
        if op == "Dropout" {
            // Inference-mode Dropout is the identity on its first input; a
            // consumer of its optional mask output would need real work.
            if node.output.len() > 1 && !node.output[1].is_empty() {
                return Err(err(format!("Dropout `{}` has a mask output, which cannot be folded", node.name())));
            }
            node.op_type = Some("Identity".into());
            node.input.truncate(1);
            node.output.truncate(1);
            node.attribute.clear();
        }
        kept.push(node);
    }
    graph.node = kept;

    let mut used: HashSet<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    used.extend(graph.output.iter().map(|o| o.name().to_string()));

    graph.initializer.retain(|t| used.contains(t.name()));
    let existing: HashSet<String> = graph.initializer.iter().map(|t| t.name().to_string()).collect();
    for name in &folded {
        if used.contains(name) && !existing.contains(name) {
            graph.initializer.push(constants[name].to_proto(name));
        }
    }
    let initializers: HashSet<String> = graph.initializer.iter().map(|t| t.name().to_string()).collect();
    graph.input.retain(|i| used.contains(i.name()) && !initializers.contains(i.name()));
    let produced: HashSet<String> = graph.node.iter().flat_map(|n| n.output.iter().cloned()).collect();
    graph.value_info.retain(|v| produced.contains(v.name()));

    set_opset(model, 13);
    Ok(())
}

fn constant_value(node: &NodeProto) -> Result<Tensor> {
    let a = attr(node, "value")
        .filter(|a| a.r#type() == AttributeType::Tensor)
        .ok_or_else(|| err(format!("Constant `{}` has no tensor `value` attribute", node.name())))?;
    let t = a.t.as_ref().ok_or_else(|| err(format!("Constant `{}` has an empty value", node.name())))?;
    Tensor::from_proto(t).map_err(err)
}

fn input<'a>(node: &NodeProto, i: usize, constants: &'a HashMap<String, Tensor>) -> Option<&'a Tensor> {
    node.input.get(i).filter(|n| !n.is_empty()).and_then(|n| constants.get(n))
}

/// `y = (x - zero_point) * scale`, per tensor, per axis, or per block along
/// `axis` (ONNX opset 21 semantics).
fn dequantize(node: &NodeProto, constants: &HashMap<String, Tensor>) -> Result<Tensor> {
    let name = node.name();
    let x = input(node, 0, constants).ok_or_else(|| err(format!("DequantizeLinear `{name}` lacks x")))?;
    let scale = input(node, 1, constants).ok_or_else(|| err(format!("DequantizeLinear `{name}` lacks scale")))?;
    let zero = input(node, 2, constants);
    let Data::F32(scales) = &scale.data else {
        return Err(err(format!("DequantizeLinear `{name}`: only float scales are supported")));
    };
    let rank = x.dims.len() as i64;
    let mut axis = attr_i(node, "axis", 1);
    if axis < 0 {
        axis += rank;
    }
    let block = attr_i(node, "block_size", 0);
    let n = x.numel();
    let x_dims: Vec<usize> = x.dims.iter().map(|&d| d as usize).collect();

    // For every element, the index of the scale (and zero point) it uses.
    let scale_index: Box<dyn Fn(usize) -> usize> = if scale.numel() == 1 {
        Box::new(|_| 0)
    } else {
        if axis < 0 || axis >= rank {
            return Err(err(format!("DequantizeLinear `{name}`: axis {axis} out of range")));
        }
        let axis = axis as usize;
        let inner: usize = x_dims[axis + 1..].iter().product();
        let len = x_dims[axis];
        if block > 0 {
            let block = block as usize;
            let blocks = len.div_ceil(block);
            let mut want = x.dims.clone();
            want[axis] = blocks as i64;
            if scale.dims != want {
                return Err(err(format!("DequantizeLinear `{name}`: scale dims {:?}, expected {want:?}", scale.dims)));
            }
            Box::new(move |i| {
                let outer = i / (inner * len);
                let a = (i / inner) % len;
                let rest = i % inner;
                (outer * blocks + a / block) * inner + rest
            })
        } else {
            if scale.numel() != len {
                return Err(err(format!("DequantizeLinear `{name}`: {} scales for axis length {len}", scale.numel())));
            }
            Box::new(move |i| (i / inner) % len)
        }
    };
    if let Some(z) = zero
        && z.numel() != scale.numel()
    {
        return Err(err(format!("DequantizeLinear `{name}`: zero point and scale differ in size")));
    }
    let out: Vec<f32> = (0..n)
        .map(|i| {
            let s = scale_index(i);
            let zp = zero.map_or(0.0, |z| z.data.get_f64(s));
            ((x.data.get_f64(i) - zp) * f64::from(scales[s])) as f32
        })
        .collect();
    Ok(Tensor { dims: x.dims.clone(), data: Data::F32(out) })
}

/// ONNX Reshape: `0` copies the input dimension (unless `allowzero`), `-1`
/// takes what is left.
fn reshape(node: &NodeProto, constants: &HashMap<String, Tensor>) -> Result<Tensor> {
    let name = node.name();
    let data = input(node, 0, constants).ok_or_else(|| err(format!("Reshape `{name}` lacks data")))?;
    let shape = input(node, 1, constants).ok_or_else(|| err(format!("Reshape `{name}` lacks shape")))?;
    let Data::I64(spec) = &shape.data else {
        return Err(err(format!("Reshape `{name}`: shape must be int64")));
    };
    let allow_zero = attr_i(node, "allowzero", 0) != 0;
    let mut dims: Vec<i64> = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            0 if !allow_zero => dims.push(*data.dims.get(i).ok_or_else(|| err(format!("Reshape `{name}`: 0 at {i} beyond input rank")))?),
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            d if d >= 0 => dims.push(d),
            d => return Err(err(format!("Reshape `{name}`: invalid dimension {d}"))),
        }
    }
    let known: i64 = dims.iter().product();
    let n = data.numel() as i64;
    if let Some(i) = infer {
        if known == 0 || n % known != 0 {
            return Err(err(format!("Reshape `{name}`: cannot infer -1 for {n} elements into {spec:?}")));
        }
        dims[i] = n / known;
    } else if known != n {
        return Err(err(format!("Reshape `{name}`: {n} elements do not fit {spec:?}")));
    }
    Ok(Tensor { dims, data: data.data.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::graph::int_attr;
    use crate::onnx::proto::{AttributeProto, GraphProto, OperatorSetIdProto, TensorProto, ValueInfoProto};

    fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
        crate::onnx::graph::node(op, &format!("{op}_{}", outputs[0]), inputs, outputs, attrs)
    }

    fn init(name: &str, dims: Vec<i64>, data: Data) -> TensorProto {
        Tensor { dims, data }.to_proto(name)
    }

    fn vi(name: &str) -> ValueInfoProto {
        ValueInfoProto { name: Some(name.into()), ..Default::default() }
    }

    /// A miniature of the SFace layout: a blocked weight, reshaped, used by
    /// a Gemm, with a Dropout fed by a Constant ratio.
    fn tiny_model() -> ModelProto {
        let ratio = TensorProto { data_type: Some(1), float_data: vec![0.4], ..Default::default() };
        let graph = GraphProto {
            node: vec![
                node("DequantizeLinear", &["wq", "ws", "wz"], &["wd"], vec![int_attr("axis", 1), int_attr("block_size", 2)]),
                node("Reshape", &["wd", "shape"], &["w"], vec![]),
                node(
                    "Constant",
                    &[],
                    &["ratio"],
                    vec![AttributeProto {
                        name: Some("value".into()),
                        t: Some(ratio),
                        r#type: Some(AttributeType::Tensor as i32),
                        ..Default::default()
                    }],
                ),
                node("Dropout", &["x", "ratio"], &["xd"], vec![]),
                node("Gemm", &["xd", "w"], &["y"], vec![int_attr("transB", 1)]),
            ],
            initializer: vec![
                // 2 x 4 int8 weight, blocks of 2 along axis 1: scales 2 x 2.
                init("wq", vec![2, 4], Data::I8(vec![1, 2, 3, 4, -1, -2, -3, -4])),
                init("ws", vec![2, 2], Data::F32(vec![0.5, 1.0, 2.0, 0.25])),
                init("wz", vec![2, 2], Data::I8(vec![1, 0, 0, -4])),
                init("shape", vec![2], Data::I64(vec![2, -1])),
            ],
            input: vec![vi("x"), vi("wq"), vi("ws"), vi("unused_weight")],
            output: vec![vi("y")],
            value_info: vec![vi("wd"), vi("w"), vi("xd")],
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(6),
            opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(21) }],
            graph: Some(graph),
            ..Default::default()
        }
    }

    #[test]
    fn folds_blocked_dequantize_and_cleans_the_graph() {
        let mut m = tiny_model();
        fold_model(&mut m).unwrap();
        let g = m.graph.as_ref().unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(ops, ["Identity", "Gemm"]);
        assert_eq!(g.node[0].input, ["x"]);
        let names: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["w"]);
        let w = Tensor::from_proto(&g.initializer[0]).unwrap();
        assert_eq!(w.dims, vec![2, 4]);
        // (q - z) * s per block: row 0 blocks (s .5, z 1), (s 1, z 0); row 1 (s 2, z 0), (s .25, z -4).
        assert_eq!(w.data, Data::F32(vec![0.0, 0.5, 3.0, 4.0, -2.0, -4.0, 0.25, 0.0]));
        let inputs: Vec<&str> = g.input.iter().map(|i| i.name()).collect();
        assert_eq!(inputs, ["x"]);
        assert_eq!(g.value_info.iter().map(|v| v.name()).collect::<Vec<_>>(), ["xd"]);
        assert_eq!(m.opset_import[0].version(), 13);
        assert_eq!(m.ir_version(), 7);
    }

    #[test]
    fn folding_is_deterministic() {
        let bytes = tiny_model().encode_to_vec();
        assert_eq!(fold_constants(&bytes).unwrap(), fold_constants(&bytes).unwrap());
    }

    #[test]
    fn per_axis_and_per_tensor_scales() {
        let x = Tensor { dims: vec![2, 2], data: Data::U8(vec![10, 20, 30, 40]) };
        let mut c = HashMap::new();
        c.insert("x".to_string(), x);
        c.insert("s".to_string(), Tensor { dims: vec![2], data: Data::F32(vec![1.0, 0.1]) });
        c.insert("z".to_string(), Tensor { dims: vec![2], data: Data::U8(vec![10, 20]) });
        c.insert("s1".to_string(), Tensor { dims: vec![], data: Data::F32(vec![2.0]) });
        let per_axis = node("DequantizeLinear", &["x", "s", "z"], &["y"], vec![int_attr("axis", 0)]);
        let y = dequantize(&per_axis, &c).unwrap();
        let Data::F32(v) = y.data else { panic!() };
        let want = [0.0, 10.0, 1.0, 2.0];
        assert!(v.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5), "{v:?}");
        let per_tensor = node("DequantizeLinear", &["x", "s1"], &["y"], vec![]);
        assert_eq!(dequantize(&per_tensor, &c).unwrap().data, Data::F32(vec![20.0, 40.0, 60.0, 80.0]));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(fold_constants(b"\xff\xff not protobuf").is_err());
    }
}
