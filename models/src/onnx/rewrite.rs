//! Graph rewrites that prepare a float model for quantization: inlining
//! constant `Identity` nodes, folding `BatchNormalization` into the `Conv` or
//! `Gemm` before it, and moving an opset-11/12 graph to opset 13 (the first
//! with per-channel `DequantizeLinear`).

use std::collections::{HashMap, HashSet};

use super::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, attribute_proto::AttributeType};
use super::tensor::{Data, Tensor};
use crate::error::{Error, Result};

pub(crate) fn err(reason: impl Into<String>) -> Error {
    Error::Onnx { what: "graph rewrite".into(), reason: reason.into() }
}

/// The graph of a model, or an error.
pub fn graph_mut(model: &mut ModelProto) -> Result<&mut GraphProto> {
    model.graph.as_mut().ok_or_else(|| err("the model has no graph"))
}

/// Initializers by name, decoded.
pub fn initializers(g: &GraphProto) -> Result<HashMap<String, Tensor>> {
    g.initializer.iter().map(|t| Ok((t.name().to_string(), Tensor::from_proto(t).map_err(err)?))).collect()
}

/// How many nodes (and graph outputs) read each tensor.
pub fn use_counts(g: &GraphProto) -> HashMap<String, usize> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &g.output {
        *uses.entry(o.name().to_string()).or_default() += 1;
    }
    uses
}

/// An integer attribute, or `default`.
pub fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    n.attribute.iter().find(|a| a.name() == name).and_then(|a| a.i).unwrap_or(default)
}

/// A float attribute, or `default`.
pub fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    n.attribute.iter().find(|a| a.name() == name).and_then(|a| a.f).unwrap_or(default)
}

/// An integer attribute.
pub fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), i: Some(v), r#type: Some(AttributeType::Int as i32), ..Default::default() }
}

/// A node.
pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// Replaces `Identity(initializer)` nodes by the initializer itself: the
/// PyTorch exporter routes shared weights through them, which hides the
/// weights from a pass looking for constant inputs.
pub fn inline_constant_identities(model: &mut ModelProto) -> Result<()> {
    let g = graph_mut(model)?;
    let inits: HashSet<String> = g.initializer.iter().map(|t| t.name().to_string()).collect();
    let outputs: HashSet<String> = g.output.iter().map(|o| o.name().to_string()).collect();
    let mut rename: HashMap<String, String> = HashMap::new();
    g.node.retain(|n| {
        let inline = n.op_type() == "Identity" && n.input.len() == 1 && inits.contains(&n.input[0]) && !outputs.contains(&n.output[0]);
        if inline {
            rename.insert(n.output[0].clone(), n.input[0].clone());
        }
        !inline
    });
    for n in &mut g.node {
        for i in &mut n.input {
            if let Some(r) = rename.get(i) {
                *i = r.clone();
            }
        }
    }
    Ok(())
}

/// Folds `BatchNormalization` into the `Conv` (or `Gemm` with `transB = 1`)
/// that feeds it, when the BN reads nothing else and all parameters are
/// constant: `w' = w·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β`. Quantizing
/// the folded weights is what the int8 kernels will run.
pub fn fold_batchnorm(model: &mut ModelProto) -> Result<usize> {
    let g = graph_mut(model)?;
    let mut inits = initializers(g)?;
    let uses = use_counts(g);
    let producer: HashMap<String, usize> =
        g.node.iter().enumerate().flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i))).collect();
    let mut remove = HashSet::new();
    let mut renames: Vec<(String, String)> = Vec::new();
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
        renames.push((prev.output[0].clone(), g.node[bi].output[0].clone()));
        remove.insert(bi);
        folded += 1;
    }
    for (from, to) in renames {
        for n in &mut g.node {
            for o in &mut n.output {
                if *o == from {
                    *o = to.clone();
                }
            }
        }
    }
    let mut i = 0;
    g.node.retain(|_| {
        let keep = !remove.contains(&i);
        i += 1;
        keep
    });
    rebuild_initializers(g, &inits);
    Ok(folded)
}

fn f32s(t: &Tensor) -> Option<Vec<f32>> {
    match &t.data {
        Data::F32(v) => Some(v.clone()),
        _ => None,
    }
}

/// Writes `inits` back as the graph's initializers, keeping only used ones,
/// in a deterministic (name) order.
pub fn rebuild_initializers(g: &mut GraphProto, inits: &HashMap<String, Tensor>) {
    let used: HashSet<&String> = g.node.iter().flat_map(|n| n.input.iter()).collect();
    let mut names: Vec<&String> = inits.keys().filter(|n| used.contains(n)).collect();
    names.sort();
    g.initializer = names.into_iter().map(|n| inits[n].to_proto(n)).collect();
    let init_names: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let kept: Vec<_> = g.input.iter().filter(|i| !init_names.contains(i.name())).cloned().collect();
    g.input = kept;
}

/// The default-domain opset version.
pub fn opset(model: &ModelProto) -> i64 {
    model.opset_import.iter().find(|o| matches!(o.domain(), "" | "ai.onnx")).map_or(0, |o| o.version())
}

/// Moves an opset 10-12 graph to opset 13: `Unsqueeze`/`Squeeze` take their
/// axes as an input, and `Softmax` must already work on the last axis (where
/// the old and new definitions agree). Other ops rollcall's models use did
/// not change meaning between these versions.
pub fn upgrade_to_opset13(model: &mut ModelProto) -> Result<()> {
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
    for o in &mut model.opset_import {
        if matches!(o.domain(), "" | "ai.onnx") {
            o.version = Some(13);
        }
    }
    if model.ir_version() < 7 {
        model.ir_version = Some(7);
    }
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
