//! The one parallel loop over photos and chips: [`each`], on `--jobs`
//! workers with a progress bar, stopping at Ctrl-C.
//!
//! [`Runner`] runs it with a face engine: each worker thread gets its own
//! [`FaceEngine`], made on first use and kept for the run (ONNX Runtime
//! sessions are not shared between threads), and every item ends
//! [`Done`](Outcome::Done) or [`Skipped`](Outcome::Skipped) with a typed
//! reason. Only a failure to make an engine stops the run: whatever goes
//! wrong with one photo skips that photo.

use std::sync::Mutex;

use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use rollcall_models::runtime::Threads;
use rollcall_models::{FaceEngine, Models};

pub(crate) use crate::artifacts::skips::SkipReason;
use crate::error::Result;

/// How one item ended.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    Done(T),
    /// Why it was left out.
    Skipped(SkipReason),
}

/// Worker threads, each with its own engine.
pub(crate) struct Runner<'m> {
    models: &'m dyn Models,
    jobs: usize,
    threads: Threads,
    record_spans: bool,
}

impl<'m> Runner<'m> {
    /// `jobs` workers over `models`, one single-threaded session each.
    pub(crate) fn new(models: &'m dyn Models, jobs: usize) -> Self {
        Runner { models, jobs: jobs.max(1), threads: Threads::default(), record_spans: false }
    }

    /// ONNX Runtime threads per session.
    pub(crate) fn threads(mut self, threads: Threads) -> Self {
        self.threads = threads;
        self
    }

    /// Engines record when each network runs (benchmarks).
    pub(crate) fn record_spans(mut self, on: bool) -> Self {
        self.record_spans = on;
        self
    }

    pub(crate) fn jobs(&self) -> usize {
        self.jobs
    }

    /// Runs `work` on every item, in parallel, and returns the outcomes in
    /// item order. `what` labels the progress bar.
    pub(crate) fn run<I, T, F>(&self, items: &[I], what: &str, work: F) -> Result<Vec<Outcome<T>>>
    where
        I: Sync,
        T: Send,
        F: Fn(&mut dyn FaceEngine, &I) -> Result<T, SkipReason> + Sync,
    {
        let engines: Mutex<Vec<Box<dyn FaceEngine>>> = Mutex::new(Vec::new());
        let make = || -> Result<Box<dyn FaceEngine>> {
            let mut e = self.models.engine(self.threads)?;
            if self.record_spans {
                e.record_spans();
            }
            Ok(e)
        };
        each(self.jobs, items, what, |item| {
            // A poisoned lock only means another worker panicked mid-push;
            // the engines in it are still whole.
            let taken = engines.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut engine = match taken {
                Some(e) => e,
                None => make()?,
            };
            let outcome = match work(engine.as_mut(), item) {
                Ok(t) => Outcome::Done(t),
                Err(why) => Outcome::Skipped(why),
            };
            engines.lock().unwrap_or_else(|p| p.into_inner()).push(engine);
            Ok(outcome)
        })
    }
}

/// Runs `work` on every item on `jobs` worker threads (a pool of its own,
/// not rayon's global one), counting them on a progress bar labelled
/// `what`; returns the results in item order, or the first error. At
/// Ctrl-C no new item starts and the ones in flight finish.
pub(crate) fn each<I, T, F>(jobs: usize, items: &[I], what: &str, work: F) -> Result<Vec<T>>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> Result<T> + Sync,
{
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).thread_name(|i| format!("worker-{i}")).build()?;
    let bar = progress(items.len(), what);
    let out = pool.install(|| {
        items
            .par_iter()
            .progress_with(bar.clone())
            .map(|item| {
                rollcall_files::interrupt::check()?;
                work(item)
            })
            .collect()
    });
    bar.finish_and_clear();
    out
}

/// A spinner on stderr for a step with no count (hidden, like the bars,
/// when stderr is not a terminal); it turns until the returned bar is
/// finished or dropped.
pub(crate) fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} {spinner} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_models::fake::FakeModels;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn outcomes_keep_item_order_and_skips_do_not_stop_the_run() {
        let models = FakeModels::default();
        let out = Runner::new(&models, 2)
            .run(&(0..50).collect::<Vec<u32>>(), "test", |_, &i| if i % 7 == 0 { Err(SkipReason::NoFace) } else { Ok(i * 2) })
            .unwrap();
        assert_eq!(out.len(), 50);
        for (i, o) in out.iter().enumerate() {
            match o {
                Outcome::Done(v) => assert_eq!(*v as usize, i * 2),
                Outcome::Skipped(SkipReason::NoFace) => assert_eq!(i % 7, 0),
                other => panic!("{other:?}"),
            }
        }
    }

    #[derive(Debug)]
    struct Counting(AtomicUsize);

    impl Models for Counting {
        fn card(&self) -> &rollcall_models::ModelCard {
            unreachable!("not used by the runner")
        }

        fn engine(&self, t: Threads) -> rollcall_models::Result<Box<dyn FaceEngine>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            FakeModels::default().engine(t)
        }
    }

    #[test]
    fn each_worker_makes_at_most_one_engine() {
        let models = Counting(AtomicUsize::new(0));
        Runner::new(&models, 2).run(&[0u8; 100], "test", |_, _| Ok(())).unwrap();
        let made = models.0.load(Ordering::SeqCst);
        assert!((1..=2).contains(&made), "{made} engines for 2 workers");
    }
}
