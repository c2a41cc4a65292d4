//! The pipeline's stages, in the order a user meets them:
//!
//! 1. [`detect`]: photos → aligned chips, `detections.json`, `metadata.csv`
//! 2. [`embed`]: chips → `embeddings.parquet`
//! 3. [`select_k`]: embeddings → how many people, `k_selection.json`
//! 4. [`cluster`]: embeddings → `clusters/person_<n>/`, `clusters.csv`
//! 5. [`evaluate`]: clusters + known identities → `evaluation.json`
//! 6. [`train`]: named folders → a model folder
//! 7. [`export`]: a model folder → the gallery a device loads
//! 8. [`predict`]: photos + a gallery → names
//! 9. [`quantize`]: float networks + a run → int8 networks, `fidelity.json`
//! 10. [`attendance`]: the device's events log → the day's roll call
//! 11. [`roll`]: class photos + a gallery → the roll call, named photos
//! 12. [`forget`]: one person out of a work directory (erasure on request)
//!
//! A stage reads and writes artifacts (`crate::artifacts`) and never calls
//! another stage; [`crate::pipeline`] chains them.

pub mod attendance;
pub mod cluster;
pub mod detect;
pub mod embed;
pub mod evaluate;
pub mod export;
pub mod forget;
pub mod predict;
pub mod quantize;
pub mod roll;
pub mod select_k;
pub mod train;
