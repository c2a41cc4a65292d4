//! Reading, rewriting and writing ONNX model files.
//!
//! `proto` holds the message types of `onnx.proto` (ONNX 1.19, Apache-2.0),
//! generated once by prost-build and committed, as sonos/tract does, so that
//! building rollcall needs no protobuf compiler. `models/proto/onnx.proto` is
//! the source; regenerate with prost-build and protox if it ever changes.

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto;

pub(crate) mod fold;
pub mod graph;
pub(crate) mod patch;
pub mod quantize;
pub(crate) mod rewrite;
pub mod tensor;
