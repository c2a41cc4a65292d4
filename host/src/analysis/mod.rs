//! The arithmetic behind the stages: KMeans, silhouettes, average-linkage
//! trees, PCA, the split into people and outliers, clustering-quality
//! metrics, and learning and calibrating the classifiers.

pub(crate) mod calibration;
pub(crate) mod kmeans;
pub(crate) mod learn;
pub(crate) mod linkage;
pub(crate) mod metrics;
pub(crate) mod pca;
pub(crate) mod population;
pub(crate) mod silhouette;
pub(crate) mod suspects;

#[cfg(test)]
pub(crate) mod probe {
    //! What a test sees of the analysis' parallelism: each parallel step
    //! records the threads it runs on (`rayon::current_num_threads`) for
    //! the test watching from the calling thread, a watch that
    //! `runner::install` carries into its pool.

    use std::cell::RefCell;
    use std::sync::{Arc, Mutex};

    /// The thread counts seen.
    pub(crate) type Seen = Arc<Mutex<Vec<usize>>>;

    thread_local! {
        static WATCH: RefCell<Option<Seen>> = const { RefCell::new(None) };
    }

    /// This thread's watch, if any.
    pub(crate) fn current() -> Option<Seen> {
        WATCH.with(|w| w.borrow().clone())
    }

    /// Runs `f` with `watch` as this thread's watch.
    pub(crate) fn with<T>(watch: Option<Seen>, f: impl FnOnce() -> T) -> T {
        let before = WATCH.with(|w| w.replace(watch));
        let out = f();
        WATCH.with(|w| *w.borrow_mut() = before);
        out
    }

    /// A parallel step of the analysis starts here.
    pub(crate) fn seen() {
        if let Some(watch) = current() {
            watch.lock().unwrap_or_else(|p| p.into_inner()).push(rayon::current_num_threads());
        }
    }
}
