//! `rollcall bench side-by-side`: the whole `rollcall run` and the Python
//! pipeline (`bench/python_pipeline.py`) as the user runs them, one process
//! each, in paired rounds: wall time, CPU time and peak resident memory.
//!
//! Each side is a process of its own, measured from outside by GNU time
//! (`/usr/bin/time`, Debian's `time` package): start-up, imports and model
//! loading count, and the peak is the whole process's (`%M`, the largest
//! resident size), the same measure for both. Rounds alternate the two one
//! right after the other, because a shared machine's speed drifts within the
//! hour: compare within a round, never across sittings.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};

/// What to run, and how often.
#[derive(Debug, Clone)]
pub struct SideBySideOptions {
    /// The `rollcall` to time (this one, normally).
    pub rollcall: PathBuf,
    /// Arguments put before `run` (the models' directory and manifest).
    pub rollcall_args: Vec<OsString>,
    /// The Python interpreter with uniface, onnxruntime, OpenCV and
    /// scikit-learn.
    pub python: PathBuf,
    /// `bench/python_pipeline.py`.
    pub script: PathBuf,
    /// The models' directory, passed to the script.
    pub models_dir: PathBuf,
    /// GNU time.
    pub time: PathBuf,
    /// Paired rounds.
    pub rounds: usize,
}

/// One process, measured from outside.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProcessFigures {
    /// Wall time, seconds.
    pub wall_s: f64,
    /// User and system time, seconds.
    pub cpu_s: f64,
    /// Peak resident size, MiB.
    pub peak_mib: f64,
}

/// One round: `rollcall run`, then the Python pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// 1, 2, ...
    pub round: usize,
    pub rollcall: ProcessFigures,
    pub python: ProcessFigures,
    /// The Python pipeline's wall time over rollcall's.
    pub speedup: f64,
    /// rollcall's peak over the Python pipeline's.
    pub memory_ratio: f64,
}

/// Runs the rounds on `photos`, calling `each` with every round as soon as
/// it is measured (and stopping at its error).
pub fn side_by_side<E: From<Error>>(
    photos: &Path,
    opts: &SideBySideOptions,
    mut each: impl FnMut(&Round) -> std::result::Result<(), E>,
) -> std::result::Result<Vec<Round>, E> {
    let mut rounds = Vec::with_capacity(opts.rounds);
    for round in 1..=opts.rounds.max(1) {
        let scratch = tempfile::tempdir().map_err(Error::write(&std::env::temp_dir()))?;
        let figures_file = scratch.path().join("time.txt");
        let mut rollcall: Vec<OsString> = vec![opts.rollcall.clone().into()];
        rollcall.extend(opts.rollcall_args.iter().cloned());
        rollcall.extend(["run".into(), photos.into(), "--out".into(), scratch.path().join("rollcall").into()]);
        let rollcall = measure(&opts.time, &rollcall, &figures_file)?;
        let python: Vec<OsString> = vec![
            opts.python.clone().into(),
            opts.script.clone().into(),
            opts.models_dir.clone().into(),
            photos.into(),
            scratch.path().join("python").into(),
        ];
        let python = measure(&opts.time, &python, &figures_file)?;
        let r = Round {
            round,
            rollcall,
            python,
            speedup: python.wall_s / rollcall.wall_s.max(f64::MIN_POSITIVE),
            memory_ratio: rollcall.peak_mib / python.peak_mib.max(f64::MIN_POSITIVE),
        };
        each(&r)?;
        rounds.push(r);
    }
    Ok(rounds)
}

/// The format GNU time writes: wall, user and system seconds, and the
/// peak resident size in KiB.
const FORMAT: &str = "%e %U %S %M";

/// Runs `command` under GNU time, which writes its figures to `figures`.
fn measure(time: &Path, command: &[OsString], figures: &Path) -> Result<ProcessFigures> {
    let program = PathBuf::from(command.first().cloned().unwrap_or_default());
    let output = Command::new(time).args(["-f", FORMAT, "-o"]).arg(figures).args(command).output().map_err(|source| Error::Program {
        program: time.to_path_buf(),
        reason: "cannot start it (GNU time: Debian's `time` package)".into(),
        source: Some(source),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        return Err(Error::Program { program, reason: format!("failed ({}): {tail}", output.status), source: None });
    }
    let text = std::fs::read_to_string(figures).map_err(|source| Error::Read { path: figures.to_path_buf(), source })?;
    parse(&text).ok_or_else(|| Error::Program {
        program: time.to_path_buf(),
        reason: format!("figures not of the form `{FORMAT}`: {text:?}"),
        source: None,
    })
}

/// Reads the last line GNU time wrote in [`FORMAT`] (a line before it may
/// say that the command exited with a non-zero status).
fn parse(text: &str) -> Option<ProcessFigures> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut fields = line.split_whitespace();
    let mut next = || fields.next()?.parse::<f64>().ok();
    let (wall_s, user, sys, kib) = (next()?, next()?, next()?, next()?);
    Some(ProcessFigures { wall_s, cpu_s: user + sys, peak_mib: kib / 1024.0 })
}

/// One round as a line.
pub fn describe_round(r: &Round) -> String {
    format!(
        "round {}: rollcall {:.2} s wall, {:.2} s CPU, {:.0} MiB peak; Python pipeline {:.2} s, {:.2} s, {:.0} MiB: {:.2} times as fast, {:.2} of its peak",
        r.round,
        r.rollcall.wall_s,
        r.rollcall.cpu_s,
        r.rollcall.peak_mib,
        r.python.wall_s,
        r.python.cpu_s,
        r.python.peak_mib,
        r.speedup,
        r.memory_ratio
    )
}

/// The ranges over all rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub rounds: usize,
    /// Smallest and largest speedup.
    pub speedup: [f64; 2],
    /// Smallest and largest peak ratio.
    pub memory_ratio: [f64; 2],
    /// Rounds in which rollcall's peak was at most the Python pipeline's.
    pub peak_at_most_python: usize,
}

/// Sums up `rounds`.
pub fn summary(rounds: &[Round]) -> Summary {
    let range = |f: fn(&Round) -> f64| rounds.iter().map(f).fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], x| [lo.min(x), hi.max(x)]);
    Summary {
        rounds: rounds.len(),
        speedup: range(|r| r.speedup),
        memory_ratio: range(|r| r.memory_ratio),
        peak_at_most_python: rounds.iter().filter(|r| r.rollcall.peak_mib <= r.python.peak_mib).count(),
    }
}

/// The summary as a line.
pub fn describe_summary(s: &Summary) -> String {
    format!(
        "{} rounds: {:.2}-{:.2} times as fast as the Python pipeline; peak {:.2}-{:.2} of its peak, at most its peak in {} of {}",
        s.rounds, s.speedup[0], s.speedup[1], s.memory_ratio[0], s.memory_ratio[1], s.peak_at_most_python, s.rounds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_times_figures_are_read_after_a_status_line() {
        let f = parse("Command exited with non-zero status 1\n4.69 8.23 0.86 393968\n").expect("figures");
        assert_eq!(f.wall_s, 4.69);
        assert!((f.cpu_s - 9.09).abs() < 1e-9);
        assert!((f.peak_mib - 393968.0 / 1024.0).abs() < 1e-9);
        assert!(parse("").is_none());
        assert!(parse("4.69 8.23\n").is_none());
        assert!(parse("a b c d\n").is_none());
    }

    #[test]
    fn the_summary_spans_the_rounds() {
        let p = |wall_s, peak_mib| ProcessFigures { wall_s, cpu_s: wall_s, peak_mib };
        let round = |i, r: ProcessFigures, py: ProcessFigures| Round {
            round: i,
            rollcall: r,
            python: py,
            speedup: py.wall_s / r.wall_s,
            memory_ratio: r.peak_mib / py.peak_mib,
        };
        let s = summary(&[round(1, p(4.0, 380.0), p(10.0, 440.0)), round(2, p(5.0, 450.0), p(9.0, 430.0))]);
        assert_eq!(s.rounds, 2);
        assert_eq!(s.speedup, [1.8, 2.5]);
        assert_eq!(s.peak_at_most_python, 1);
        assert!(describe_summary(&s).contains("at most its peak in 1 of 2"));
    }
}
