//! The benchmarks' own machinery (their figures are never asserted: speed is
//! measured in `rollcall bench`, not in tests).

use rollcall_host::bench::side_by_side::{SideBySideOptions, side_by_side};

use crate::common::classroom;

/// `bench side-by-side` measures each side as a process from outside, with
/// GNU time: a stand-in for the Python pipeline that holds 300 MiB shows a
/// peak of at least that, `rollcall run` (here on the fake engine) runs
/// for real beside it, and a side that fails is an error that says why.
#[test]
fn side_by_side_measures_both_processes_from_outside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let script = dir.path().join("stand_in.py");
    // The Python pipeline's arguments: MODELS_DIR PHOTOS OUT (OUT new).
    std::fs::write(
        &script,
        "import os, sys\nheld = b'x' * (300 << 20)\nassert os.path.isdir(sys.argv[1]) and os.path.isdir(sys.argv[2])\nos.makedirs(sys.argv[3])\n",
    )
    .expect("script");
    let mut opts = SideBySideOptions {
        rollcall: assert_cmd::cargo::cargo_bin("rollcall"),
        rollcall_args: vec!["--engine".into(), "fake".into()],
        python: "python3".into(),
        script: script.clone(),
        models_dir: dir.path().to_path_buf(),
        time: "/usr/bin/time".into(),
        rounds: 2,
    };
    let mut seen = 0;
    let rounds = side_by_side::<rollcall_host::Error>(&photos, &opts, |r| {
        seen += 1;
        assert_eq!(r.round, seen);
        Ok(())
    })
    .expect("two rounds");
    assert_eq!((rounds.len(), seen), (2, 2));
    for r in &rounds {
        assert!(r.python.peak_mib >= 300.0, "{r:?}");
        assert!(r.rollcall.peak_mib > 0.0 && r.rollcall.peak_mib < 300.0, "{r:?}");
        assert!(r.rollcall.wall_s > 0.0 && r.python.wall_s > 0.0 && r.python.cpu_s > 0.0, "{r:?}");
        assert!((r.speedup - r.python.wall_s / r.rollcall.wall_s).abs() < 1e-9, "{r:?}");
        assert!((r.memory_ratio - r.rollcall.peak_mib / r.python.peak_mib).abs() < 1e-9, "{r:?}");
    }

    std::fs::write(&script, "import sys\nsys.exit('boom: no uniface here')\n").expect("script");
    opts.rounds = 1;
    let err = side_by_side::<rollcall_host::Error>(&photos, &opts, |_| Ok(())).expect_err("the stand-in fails");
    let text = err.to_string();
    assert!(text.starts_with("python3: failed") && text.contains("boom: no uniface here"), "{text}");
}
