//! A pool of per-worker ONNX Runtime sessions.
//!
//! A rayon task borrows a session and returns it, so each worker thread ends
//! up with its own, created once, and no session is ever shared between
//! threads mid-run (`Session::run` takes `&mut self`).

use std::sync::Mutex;

use anyhow::{Result, anyhow};

/// Sessions of one kind, created on demand by `make`.
pub struct Pool<T, F: Fn() -> Result<T>> {
    make: F,
    free: Mutex<Vec<T>>,
}

impl<T, F: Fn() -> Result<T>> Pool<T, F> {
    /// An empty pool.
    pub fn new(make: F) -> Self {
        Pool { make, free: Mutex::new(Vec::new()) }
    }

    /// Runs `f` with a pooled value, creating one if none is free.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R> {
        let taken = self.free.lock().map_err(|_| anyhow!("session pool poisoned"))?.pop();
        let mut item = match taken {
            Some(item) => item,
            None => (self.make)()?,
        };
        let out = f(&mut item);
        self.free.lock().map_err(|_| anyhow!("session pool poisoned"))?.push(item);
        Ok(out)
    }

    /// Every value created so far.
    pub fn into_inner(self) -> Vec<T> {
        self.free.into_inner().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn creates_at_most_one_value_per_concurrent_user() {
        let made = AtomicUsize::new(0);
        let pool = Pool::new(|| Ok(made.fetch_add(1, Ordering::SeqCst)));
        let rayon_pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        rayon_pool.install(|| (0..100).into_par_iter().for_each(|_| pool.with(|_| ()).unwrap()));
        assert!(made.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.into_inner().len(), made.load(Ordering::SeqCst));
    }
}
