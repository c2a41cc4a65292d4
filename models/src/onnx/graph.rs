//! Reading and building ONNX graph pieces: attribute look-ups, node and
//! attribute constructors, initializer maps, use counts and the opset. Every
//! pass (folding, preparation, quantization) reads graphs through these.

use std::collections::{HashMap, HashSet};

use super::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, attribute_proto::AttributeType};
use super::tensor::Tensor;
use crate::error::{Error, Result};

/// An error of the pass `what`.
pub fn err(what: &str, reason: impl Into<String>) -> Error {
    Error::Onnx { what: what.into(), reason: reason.into() }
}

/// The attribute `name` of a node.
pub fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}

/// An integer attribute, or `default`.
pub fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).and_then(|a| a.i).unwrap_or(default)
}

/// A float attribute, or `default`.
pub fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).and_then(|a| a.f).unwrap_or(default)
}

/// An integer attribute to put on a node.
pub fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), i: Some(v), r#type: Some(AttributeType::Int as i32), ..Default::default() }
}

/// A float attribute to put on a node.
pub fn float_attr(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: Some(name.into()), f: Some(v), r#type: Some(AttributeType::Float as i32), ..Default::default() }
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

/// The graph of a model.
pub fn graph_mut(model: &mut ModelProto) -> Result<&mut GraphProto> {
    model.graph.as_mut().ok_or_else(|| err("graph rewrite", "the model has no graph"))
}

/// Initializers by name, decoded.
pub fn initializers(g: &GraphProto) -> Result<HashMap<String, Tensor>> {
    g.initializer.iter().map(|t| Ok((t.name().to_string(), Tensor::from_proto(t).map_err(|e| err("graph rewrite", e))?))).collect()
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

/// Writes `inits` back as the graph's initializers, keeping only the ones a
/// node reads, in name order (so the bytes are deterministic), and drops
/// graph inputs that are initializers.
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
    model.opset_import.iter().find(|o| is_default_domain(o.domain())).map_or(0, |o| o.version())
}

/// Sets the default-domain opset, raising the IR version to 7 (the first
/// that knows opset 13) if it is older.
pub fn set_opset(model: &mut ModelProto, version: i64) {
    for o in model.opset_import.iter_mut().filter(|o| is_default_domain(o.domain())) {
        o.version = Some(version);
    }
    if model.ir_version() < 7 {
        model.ir_version = Some(7);
    }
}

fn is_default_domain(d: &str) -> bool {
    matches!(d, "" | "ai.onnx")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::OperatorSetIdProto;

    #[test]
    fn attributes_fall_back_to_defaults() {
        let n = node("Conv", "c", &["x", "w"], &["y"], vec![int_attr("group", 4)]);
        assert_eq!(attr_i(&n, "group", 1), 4);
        assert_eq!(attr_i(&n, "missing", 7), 7);
        assert_eq!(attr_f(&n, "alpha", 1.5), 1.5);
    }

    #[test]
    fn opset_is_read_and_raised_with_the_ir_version() {
        let mut m = ModelProto {
            ir_version: Some(6),
            opset_import: vec![
                OperatorSetIdProto { domain: Some("com.microsoft".into()), version: Some(1) },
                OperatorSetIdProto { domain: Some(String::new()), version: Some(11) },
            ],
            ..Default::default()
        };
        assert_eq!(opset(&m), 11);
        set_opset(&mut m, 13);
        assert_eq!((opset(&m), m.ir_version(), m.opset_import[0].version()), (13, 7, 1));
    }
}
