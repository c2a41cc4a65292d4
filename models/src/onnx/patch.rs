//! Graph edits as values, after tract's `ModelPatch`: a pass looks at a
//! graph without touching it, records what it would change in a [`Patch`],
//! and [`Patch::apply`] makes the changes in one place. Removing and replacing
//! nodes and redirecting tensors is written once, here, instead of in every
//! pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::proto::{GraphProto, NodeProto};

/// Changes to a graph's nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Patch {
    /// Nodes to drop, by index in the graph as it was looked at.
    pub remove: BTreeSet<usize>,
    /// Nodes to put in place of a node (by index, as for `remove`), in
    /// order: the graph stays sorted as long as they read only what the
    /// node read and each other.
    pub replace: BTreeMap<usize, Vec<NodeProto>>,
    /// Readers of a tensor (the key) read another one (the value) instead.
    pub rewire: HashMap<String, String>,
    /// The producer of a tensor (the key) produces it under another name
    /// (the value) instead.
    pub rename_outputs: HashMap<String, String>,
}

impl Patch {
    /// Applies every change to `g`.
    pub(crate) fn apply(mut self, g: &mut GraphProto) {
        if !self.remove.is_empty() || !self.replace.is_empty() {
            let old = std::mem::take(&mut g.node);
            for (i, n) in old.into_iter().enumerate() {
                if let Some(with) = self.replace.remove(&i) {
                    g.node.extend(with);
                } else if !self.remove.contains(&i) {
                    g.node.push(n);
                }
            }
        }
        for n in &mut g.node {
            for t in &mut n.input {
                if let Some(to) = self.rewire.get(t) {
                    t.clone_from(to);
                }
            }
            for t in &mut n.output {
                if let Some(to) = self.rename_outputs.get(t) {
                    t.clone_from(to);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::graph::node;

    #[test]
    fn removes_replaces_rewires_and_renames_in_one_pass() {
        let mut g = GraphProto {
            node: vec![
                node("Conv", "c", &["x", "w"], &["c_out"], vec![]),
                node("Identity", "i", &["c_out"], &["y"], vec![]),
                node("Relu", "r", &["y"], &["z"], vec![]),
            ],
            ..Default::default()
        };
        let mut p = Patch::default();
        p.remove.insert(1);
        p.rename_outputs.insert("c_out".into(), "y".into());
        p.rewire.insert("x".into(), "x_dq".into());
        p.replace.insert(2, vec![node("Neg", "n", &["y"], &["m"], vec![]), node("Relu", "r", &["m"], &["z"], vec![])]);
        p.apply(&mut g);
        let view: Vec<(&str, &[String], &[String])> = g.node.iter().map(|n| (n.op_type(), &n.input[..], &n.output[..])).collect();
        assert_eq!(view.len(), 3);
        assert_eq!(view[0], ("Conv", &["x_dq".to_string(), "w".to_string()][..], &["y".to_string()][..]));
        assert_eq!(view[1], ("Neg", &["y".to_string()][..], &["m".to_string()][..]), "the replacement in the Relu's place");
        assert_eq!(view[2].1, ["m".to_string()]);
    }
}
