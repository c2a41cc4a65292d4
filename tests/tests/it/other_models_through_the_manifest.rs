//! Another recognizer is a manifest entry, not a code change: a 512-d model
//! with ArcFace's contract (input `input.1`, output `683`, RGB scaled to
//! [-1, 1]) goes through the same embedding code and table. The seed's real
//! ArcFace weights cannot be fetched here, so the test builds a small
//! network with that exact interface and drops it into the cache under the
//! manifest's file name.

use prost::Message;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::embeddings::EmbeddingTable;
use rollcall_host::stages::embed::write_table;
use rollcall_models::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    tensor_shape_proto, type_proto,
};
use rollcall_models::onnx::tensor::{Data, Tensor};
use rollcall_models::{Manifest, ModelSet, ModelStore, Models};
use rollcall_shared::embedding::norm;

fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| tensor_shape_proto::Dimension {
                value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                ..Default::default()
            })
            .collect(),
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: Some(1), shape: Some(shape) })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> rollcall_models::onnx::proto::NodeProto {
    rollcall_models::onnx::graph::node(op, output, inputs, &[output], attribute)
}

/// input.1 [1,3,112,112] -> GlobalAveragePool -> Flatten -> Gemm(3 -> 512) -> 683 [1,512]
fn arcface_shaped_model() -> Vec<u8> {
    let weights: Vec<f32> = (0..512 * 3).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let bias: Vec<f32> = (0..512).map(|i| (i % 7) as f32 * 0.01).collect();
    let init = |name: &str, dims: Vec<i64>, v: Vec<f32>| -> TensorProto { Tensor { dims, data: Data::F32(v) }.to_proto(name) };
    let graph = GraphProto {
        name: Some("arcface-shaped".into()),
        node: vec![
            node("GlobalAveragePool", &["input.1"], "pooled", vec![]),
            node("Flatten", &["pooled"], "flat", vec![]),
            node("Gemm", &["flat", "w", "b"], "683", vec![rollcall_models::onnx::graph::int_attr("transB", 1)]),
        ],
        initializer: vec![init("w", vec![512, 3], weights), init("b", vec![512], bias)],
        input: vec![value_info("input.1", &[1, 3, 112, 112])],
        output: vec![value_info("683", &[1, 512])],
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(13) }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn a_512_d_recognizer_needs_only_its_manifest_entry() {
    // Share the real cache for ONNX Runtime and the detector; the stand-in
    // model goes into a private copy of the cache directory.
    let real = ModelStore::open_default().expect("test step");
    real.runtime_library().expect("test step");
    let dir = tempfile::tempdir().expect("test step");
    for f in [real.runtime_path(), real.model_path(real.manifest().model("retinaface-mnet025").expect("test step"))] {
        std::os::unix::fs::symlink(&f, dir.path().join(f.file_name().expect("test step"))).expect("test step");
    }
    let manifest = Manifest::builtin();
    let spec = manifest.model("arcface-r50").expect("test step").clone();
    std::fs::write(dir.path().join(&spec.file), arcface_shaped_model()).expect("test step");
    let store = ModelStore::open(dir.path(), manifest).expect("test step");

    let set = ModelSet::load(&store, None, Some("arcface-r50")).expect("the 512-d entry loads");
    let mut rec = set.recognizer(Default::default()).expect("test step");
    assert_eq!(rec.dim(), 512);
    let chip: Vec<u8> = (0..112 * 112 * 3).map(|i| (i % 251) as u8).collect();
    let e = rec.embed(&chip).expect("embedding");
    assert_eq!(e.len(), 512);
    assert!((norm(&e) - 1.0).abs() < 1e-5);

    // The table takes the dimension from the manifest too.
    let out = tempfile::tempdir().expect("test step");
    let work = Work::new(out.path()).claim().expect("work dir");
    write_table(&work, set.card(), vec![("a.png".into(), e.clone()), ("b.png".into(), e)]).expect("test step");
    let t = EmbeddingTable::read(&work.embeddings()).expect("test step");
    assert_eq!(t.dim, 512);
    assert_eq!(t.recognizer.as_deref(), Some("arcface-r50"));
}
