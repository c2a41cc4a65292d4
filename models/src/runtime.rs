//! ONNX Runtime: loading the shared library and building sessions.
//!
//! `ort` runs with `load-dynamic`: the library is found here, never by the
//! user. `ORT_DYLIB_PATH` wins when set (a device with its own build, say);
//! otherwise the library comes from the model cache, fetched and checked
//! against the manifest like every model. ONNX Runtime allows one environment
//! per process, so it is created once and shared.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::error::{Error, Result};
use crate::store::ModelStore;

static ENVIRONMENT: OnceLock<std::result::Result<(Environment, PathBuf), String>> = OnceLock::new();

/// Loads ONNX Runtime once per process and returns the library's path.
pub fn init(store: &ModelStore) -> Result<PathBuf> {
    let outcome = ENVIRONMENT.get_or_init(|| {
        let path = match std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => store.runtime_library().map_err(|e| e.to_string())?,
        };
        let env = ort::init_from(&path)
            .map_err(|e| format!("{}: {e}", rollcall_files::shown(&path)))?
            .with_name("rollcall")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("{}: {e}", rollcall_files::shown(&path)))?;
        Ok((env, path))
    });
    match outcome {
        Ok((_, path)) => Ok(path.clone()),
        Err(reason) => Err(Error::Runtime { path: store.runtime_path(), reason: reason.clone() }),
    }
}

fn environment(store: &ModelStore) -> Result<&'static Environment> {
    init(store)?;
    match ENVIRONMENT.get() {
        Some(Ok((env, _))) => Ok(env),
        _ => Err(Error::Runtime { path: store.runtime_path(), reason: "not initialised".into() }),
    }
}

/// Worker threads by default: one per core, each with its own sessions.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How many threads one session may use.
///
/// rollcall keeps both cores busy by running one single-threaded session per
/// worker on different photos, which beats one session splitting each small
/// convolution across threads; a lone session (the device) may take more.
#[derive(Debug, Clone, Copy)]
pub struct Threads {
    /// Threads inside one operator.
    pub intra: usize,
}

impl Default for Threads {
    fn default() -> Self {
        Threads { intra: 1 }
    }
}

/// Builds a session from model bytes already checked against the manifest.
///
/// ONNX Runtime's own memory arena is off: each session's arena grew to its
/// largest run (a fine pass over a 12 MP photo) and kept it, one per worker
/// and per network. Without it, a run's tensors come from the process's
/// allocator, which gives them back (in `rollcall`, jemalloc: see
/// `host/src/main.rs`): `deepface` peaked at 388 instead of 446 MiB, the
/// 12 MP class photos at 500-524 instead of 654 MiB, and neither took longer
/// (`docs/benchmarks.md`).
pub fn session(store: &ModelStore, model: &str, bytes: &[u8], threads: Threads) -> Result<Session> {
    let env = environment(store)?;
    let ort_err = |source: ort::Error| Error::Ort { model: model.to_string(), source };
    Session::builder(env)
        .map_err(ort_err)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| ort_err(e.into()))?
        .with_intra_threads(threads.intra.max(1))
        .map_err(|e| ort_err(e.into()))?
        .with_inter_threads(1)
        .map_err(|e| ort_err(e.into()))?
        .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
        .map_err(|e| ort_err(e.into()))?
        .commit_from_memory(bytes)
        .map_err(ort_err)
}

/// A session fed raw NCHW tensors, for timing models side by side.
pub struct RawSession {
    session: Session,
    input: String,
    model: String,
}

impl std::fmt::Debug for RawSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSession").field("model", &self.model).finish()
    }
}

impl RawSession {
    /// Builds a session reading its single input `input`.
    pub fn new(store: &ModelStore, model: &str, bytes: &[u8], input: &str, threads: Threads) -> Result<Self> {
        Ok(RawSession { session: session(store, model, bytes, threads)?, input: input.to_string(), model: model.to_string() })
    }

    /// Runs once on `data` of `shape` and returns the time inside ONNX Runtime.
    pub fn run(&mut self, shape: &[usize], data: &[f32]) -> Result<Duration> {
        let ort_err = |source: ort::Error| Error::Ort { model: self.model.clone(), source };
        let t = ort::value::TensorRef::from_array_view((shape.to_vec(), data)).map_err(ort_err)?;
        let start = Instant::now();
        self.session.run(ort::inputs![self.input.as_str() => t]).map_err(ort_err)?;
        Ok(start.elapsed())
    }
}

/// Checks that a session has the named inputs and outputs of its contract.
pub fn check_io(session: &Session, model: &str, input: &str, outputs: &[String]) -> Result<()> {
    let have_in: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let have_out: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if !have_in.contains(&input) {
        return Err(Error::Contract {
            model: model.to_string(),
            reason: format!("the manifest names input `{input}`, the network has {have_in:?}"),
        });
    }
    for o in outputs {
        if !have_out.contains(&o.as_str()) {
            return Err(Error::Contract {
                model: model.to_string(),
                reason: format!("the manifest names output `{o}`, the network has {have_out:?}"),
            });
        }
    }
    Ok(())
}

/// Time spent inside ONNX Runtime, accumulated by a worker so a benchmark can
/// report the share of wall time the networks take.
#[derive(Debug, Default, Clone)]
pub struct InferenceClock {
    /// Total time inside `Session::run`.
    pub total: Duration,
    /// Number of runs.
    pub runs: u64,
    /// When recording is on, the start and end of every run (benchmarks use
    /// them to find the wall time during which no network was running).
    spans: Option<Vec<(Instant, Instant)>>,
}

impl InferenceClock {
    /// Runs `f`, adding its duration.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        let end = Instant::now();
        self.total += end - t;
        self.runs += 1;
        if let Some(spans) = &mut self.spans {
            spans.push((t, end));
        }
        out
    }

    /// Starts recording the span of every run (off by default, so a
    /// long-running device does not grow a list forever).
    pub fn record_spans(&mut self) {
        self.spans.get_or_insert_with(Vec::new);
    }

    /// The spans recorded since the last call.
    pub fn take_spans(&mut self) -> Vec<(Instant, Instant)> {
        self.spans.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The totals, without the spans.
    pub fn totals(&self) -> InferenceClock {
        InferenceClock { total: self.total, runs: self.runs, spans: None }
    }

    /// Totals added since `earlier`, an earlier copy of this clock.
    pub fn since(&self, earlier: &InferenceClock) -> InferenceClock {
        InferenceClock { total: self.total.saturating_sub(earlier.total), runs: self.runs - earlier.runs.min(self.runs), spans: None }
    }

    /// Adds another clock's totals.
    pub fn add(&mut self, other: &InferenceClock) {
        self.total += other.total;
        self.runs += other.runs;
    }
}
