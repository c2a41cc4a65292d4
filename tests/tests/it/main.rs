//! The real-model tier, one binary: rollcall on the real networks and the
//! shared photos, one module per subject.

mod attendance;
mod bad_input;
mod class_photo;
mod detect;
mod device_replay;
mod golden;
mod identity;
mod open_set;
mod other_models_through_the_manifest;
mod people;
mod pipeline;
mod quantization;
mod recognition;
mod report;
mod review;
