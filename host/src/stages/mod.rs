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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::cluster::{ClusterOptions, cluster};
    use super::select_k::{SelectKOptions, select_k};
    use crate::analysis::probe;
    use crate::artifacts::Work;
    use crate::artifacts::embeddings::EmbeddingTable;
    use crate::artifacts::selection::ThresholdSource;

    /// `people` people of `each` faces, 16-d unit vectors close to their
    /// person's.
    fn faces(people: usize, each: usize) -> EmbeddingTable {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut rows = Vec::new();
        for p in 0..people {
            let centre: Vec<f32> = (0..16).map(|_| rng.random_range(-1.0..1.0)).collect();
            for i in 0..each {
                let mut v: Vec<f32> = centre.iter().map(|c| c + rng.random_range(-0.05..0.05)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                rows.push((format!("p{p}_{i}.png"), v));
            }
        }
        EmbeddingTable::from_rows(rows, 16).expect("a table")
    }

    /// select-k and cluster ran their KMeans, silhouettes and linkage on
    /// rayon's global pool, a thread per core, whatever `--jobs` said.
    #[test]
    fn regression_the_analysis_ignored_jobs() {
        // One of the two differs from the global pool's size on any machine.
        for jobs in [1, rollcall_models::runtime::default_workers() + 1] {
            let dir = tempfile::tempdir().expect("temp dir");
            let work = Work::new(dir.path().join("work")).claim().expect("work dir");
            faces(4, 6).write(&work.embeddings()).expect("embeddings");
            let threshold = Some((0.5, ThresholdSource::Flag));
            let seen = probe::Seen::default();
            probe::with(Some(seen.clone()), || {
                let opts = SelectKOptions { k_min: 2, k_max: 5, charts: false, jobs, ..SelectKOptions::default() };
                select_k(&work, threshold.clone(), &opts).expect("select-k");
                let opts = ClusterOptions { k: Some(4), charts: false, jobs, ..ClusterOptions::default() };
                cluster(&work, threshold, &opts).expect("cluster");
            });
            let seen = seen.lock().expect("seen").clone();
            assert!(seen.len() >= 4, "linkage, KMeans and silhouettes of both stages: {seen:?}");
            assert!(seen.iter().all(|&n| n == jobs), "--jobs {jobs}: {seen:?}");
        }
    }
}
