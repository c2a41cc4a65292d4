//! The one parallel loop over photos and chips: [`each`], on `--jobs`
//! workers with a progress bar, stopping at Ctrl-C; and [`install`], which
//! runs a stage's analysis (KMeans, silhouettes, linkage: rayon loops) on
//! `--jobs` threads too, so that one setting governs the whole run.
//!
//! [`Runner`] runs it with a face engine: each worker thread gets its own
//! [`FaceEngine`], made on first use and kept for the run (ONNX Runtime
//! sessions are not shared between threads), and every item ends
//! [`Done`](Outcome::Done) or [`Skipped`](Outcome::Skipped) with a typed
//! reason. Only a failure to make an engine stops the run: whatever goes
//! wrong with one photo skips that photo.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
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
        self.run_in((0..items.len()).collect(), items, what, work)
    }

    /// [`run`](Self::run), starting with the items of the highest `cost`
    /// (see [`each_largest_first`]).
    pub(crate) fn run_largest_first<I, T, F>(&self, items: &[I], what: &str, cost: impl Fn(&I) -> u64, work: F) -> Result<Vec<Outcome<T>>>
    where
        I: Sync,
        T: Send,
        F: Fn(&mut dyn FaceEngine, &I) -> Result<T, SkipReason> + Sync,
    {
        self.run_in(largest_first(items, cost), items, what, work)
    }

    fn run_in<I, T, F>(&self, order: Vec<usize>, items: &[I], what: &str, work: F) -> Result<Vec<Outcome<T>>>
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
        queue(self.jobs, items, order, what, |item| {
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
/// Ctrl-C, or after an error, no new item starts and the ones in flight
/// finish. Items are handed out one at a time, in order, to whichever
/// worker is free.
pub(crate) fn each<I, T, F>(jobs: usize, items: &[I], what: &str, work: F) -> Result<Vec<T>>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> Result<T> + Sync,
{
    queue(jobs, items, (0..items.len()).collect(), what, work)
}

/// [`each`], starting with the items of the highest `cost`.
///
/// With the largest photo last, one worker decodes and scans it while the
/// others have nothing left to do: on `deepface` (76 photos, 2 workers) in
/// listing order one worker ran alone for the last 0.8 s of a 6.4 s run.
/// Handed out largest first, the last items are the quickest and the
/// workers finish together (Graham's longest-processing-time rule).
pub(crate) fn each_largest_first<I, T, F>(jobs: usize, items: &[I], what: &str, cost: impl Fn(&I) -> u64, work: F) -> Result<Vec<T>>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> Result<T> + Sync,
{
    queue(jobs, items, largest_first(items, cost), what, work)
}

/// A photo's cost in the queue: its size in bytes, which grows with its
/// pixels and so with the time to decode and scan it; 0 when it cannot be
/// read (it is skipped at once).
pub(crate) fn photo_cost(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The indices of `items`, highest `cost` first; equal costs keep item
/// order.
fn largest_first<I>(items: &[I], cost: impl Fn(&I) -> u64) -> Vec<usize> {
    let costs: Vec<u64> = items.iter().map(cost).collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(costs[i]));
    order
}

/// Runs `work` on `items[order[0]]`, `items[order[1]]`, ... as workers
/// come free; the results in item order.
fn queue<I, T, F>(jobs: usize, items: &[I], order: Vec<usize>, what: &str, work: F) -> Result<Vec<T>>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> Result<T> + Sync,
{
    let pool = pool(jobs)?;
    let bar = progress(items.len(), what);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<T>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    pool.broadcast(|_| {
        while !failed.load(Ordering::Relaxed) {
            let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
            let out = rollcall_files::interrupt::check().map_err(Into::into).and_then(|()| work(&items[i]));
            failed.fetch_or(out.is_err(), Ordering::Relaxed);
            *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
    let mut out = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(t)) => out.push(t),
            Some(Err(e)) => return Err(e),
            // Never started: an error, in another slot, stopped the queue.
            None => {}
        }
    }
    Ok(out)
}

/// `jobs` worker threads (at least one), a pool of their own.
fn pool(jobs: usize) -> Result<rayon::ThreadPool> {
    Ok(rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).thread_name(|i| format!("worker-{i}")).build()?)
}

/// Runs `work` on a pool of `jobs` threads, so that the rayon loops inside
/// it (the analysis) run on those and not on rayon's global pool, which
/// has a thread per core whatever `--jobs` says.
pub(crate) fn install<T: Send>(jobs: usize, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    // A test watches the analysis from its own thread: the watch goes
    // along into the pool.
    #[cfg(test)]
    let work = {
        let watch = crate::analysis::probe::current();
        move || crate::analysis::probe::with(watch, work)
    };
    pool(jobs)?.install(work)
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

    #[test]
    fn the_largest_items_go_first_and_results_keep_item_order() {
        let started = Mutex::new(Vec::new());
        let sizes = [3u64, 90, 7, 90, 40];
        let out = each_largest_first(
            1,
            &sizes,
            "test",
            |&s| s,
            |&s| {
                started.lock().unwrap().push(s);
                Ok(s * 10)
            },
        )
        .unwrap();
        assert_eq!(started.into_inner().unwrap(), [90, 90, 40, 7, 3], "one worker, largest first");
        assert_eq!(out, [30, 900, 70, 900, 400], "results in item order");
    }

    #[test]
    fn an_error_stops_the_queue_and_is_returned() {
        let ran = AtomicUsize::new(0);
        let out = each(1, &[1u32, 2, 3, 4], "test", |&i| {
            ran.fetch_add(1, Ordering::SeqCst);
            if i == 2 { Err(crate::error::Error::Interrupted(rollcall_files::interrupt::Interrupted)) } else { Ok(i) }
        });
        assert!(matches!(out, Err(crate::error::Error::Interrupted(_))), "{out:?}");
        assert_eq!(ran.load(Ordering::SeqCst), 2, "no item starts after the error");
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
