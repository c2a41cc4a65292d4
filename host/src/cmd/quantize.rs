//! `rollcall quantize WORK --out DIR`

use std::path::{Path, PathBuf};

use anyhow::Result;
use rollcall_cli::say;
use rollcall_host::Error;
use rollcall_host::artifacts::Work;
use rollcall_host::artifacts::fidelity::Fidelity;
use rollcall_host::stages::quantize::{self, QuantizeOptions};
use rollcall_models::onnx::quantize::Policy;

use super::Global;
use super::common::ModelChoice;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Work directory (its photos and chips calibrate the models)
    work: PathBuf,
    /// Folder for the models, their manifest and fidelity.json
    #[arg(long, short, default_value = "models-int8")]
    out: PathBuf,
    /// Calibration samples per network
    #[arg(long, default_value_t = 64, value_parser = rollcall_cli::range(1usize, 100_000))]
    samples: usize,
    /// Quantize depthwise convolutions too (less faithful; see docs/learning.md)
    #[arg(long)]
    all_layers: bool,
    #[command(flatten)]
    models: ModelChoice,
}

pub(super) fn run(a: Args, g: &Global) -> Result<()> {
    let models = a.models.load(g)?;
    let onnx = models.onnx().ok_or(Error::NeedsOnnx { command: "quantize" })?;
    let policy = if a.all_layers { Policy::all() } else { Policy::default() };
    let f = quantize::quantize(
        &Work::new(a.work).open()?,
        onnx,
        &a.out,
        &QuantizeOptions { samples: a.samples, policy, ..QuantizeOptions::default() },
    )?;
    print_fidelity(&f, &a.out);
    Ok(())
}

/// What quantizing cost.
pub(super) fn print_fidelity(f: &Fidelity, out: &Path) {
    let r = &f.recognizer;
    let d = &f.detector;
    say!("size int8/fp32 {:.3}; speed int8/fp32 {:.3} ({})", f.size_ratio, f.speed_ratio, f.cpu);
    say!(
        "recognizer: cosine fp32 vs int8 mean {:.4}, min {:.4} over {} faces (fp16 weights min {:.5}); nearest-centroid accuracy fp32 {:.3}, int8 {:.3}",
        r.cosine_mean,
        r.cosine_min,
        r.faces,
        r.fp16_cosine_min,
        r.accuracy_fp32,
        r.accuracy_int8
    );
    say!(
        "detector: int8 against fp32 on {} photos: recall {:.3}, precision {:.3}, landmark shift {:.2} px ({:.2}% of the face width)",
        d.photos,
        d.recall,
        d.precision,
        d.landmark_shift_px,
        d.landmark_shift_rel * 100.0
    );
    for (name, m) in &f.models {
        say!(
            "  {name}: {} -> {} bytes int8, {} fp16; {:.3} s fp32, {:.3} s int8, {:.3} s fp16 over {} runs",
            m.fp32_bytes,
            m.int8_bytes,
            m.fp16_bytes,
            m.fp32_s,
            m.int8_s,
            m.fp16_s,
            m.runs
        );
    }
    say!("wrote {} (use with --models-dir {0} --manifest {0}/manifest.toml)", out.display());
}
