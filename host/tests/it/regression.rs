//! One test per bug, each named after it and telling its story, in the
//! manner of ripgrep's `tests/regression.rs`. They run the `rollcall` binary
//! on the fake engine: seconds, no models.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{classroom, fails, ok, rollcall, synthetic};

/// Every file under `dir` with its bytes, to show that nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walk(dir).into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("read"))).collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("list").filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// A JPEG whose header declares `width` x `height` but whose data is that of
/// a 16 x 16 image: a decompression bomb of a few hundred bytes.
fn jpeg_bomb(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 50)
        .encode(&[128u8; 16 * 16 * 3], 16, 16, image::ExtendedColorType::Rgb8)
        .expect("encode");
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).expect("a baseline SOF0 marker");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// `predict --annotate DIR` with DIR = the photo folder replaced obama.jpg
/// and biden.jpg by annotated copies; and `a b.jpg`, `a_b.jpg` and
/// `a_b.png` all went to one output file, so two annotations were lost.
#[test]
fn regression_predict_annotate_overwrote_photos() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, work) = common::named_classroom(dir.path());
    ok(&[&"train", &work.join("clusters"), &"--out", &dir.path().join("model")]);
    let gallery = dir.path().join("g.rcg");
    ok(&[&"export", &dir.path().join("model"), &"--out", &gallery]);

    let before = snapshot(&photos);
    let err = fails(&[&"predict", &photos, &"--gallery", &gallery, &"--annotate", &photos]);
    assert!(err.contains("holds files rollcall did not write"), "{err}");
    assert_eq!(snapshot(&photos), before, "no photo changed");

    let same = dir.path().join("same");
    for name in ["a b.png", "a_b.png", "a_b.jpg"] {
        std::fs::create_dir_all(&same).expect("mkdir");
        std::fs::copy(photos.join("p11/0.png"), same.join(name)).expect("copy");
    }
    let annotated = dir.path().join("annotated");
    ok(&[&"predict", &same, &"--gallery", &gallery, &"--annotate", &annotated]);
    let mut names: Vec<String> = walk(&annotated)
        .iter()
        .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    assert_eq!(names, ["a_b.jpg", "a_b~1.jpg", "a_b~2.jpg"], "one annotated copy per photo");
    // The folder is rollcall's now: a second run may write into it again.
    ok(&[&"predict", &same, &"--gallery", &gallery, &"--annotate", &annotated]);
}

/// `run --out DIR` into an existing folder replaced the user's own
/// metadata.csv, report/index.html, charts/pca.svg and similarity.png
/// without a word; only clusters/ was protected.
#[test]
fn regression_run_into_a_users_folder_overwrote_their_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let users = dir.path().join("mine");
    for f in ["metadata.csv", "report/index.html", "charts/pca.svg", "similarity.png"] {
        let p = users.join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, format!("the user's own {f}")).expect("write");
    }
    let before = snapshot(&users);
    let err = fails(&[&"run", &photos, &"--out", &users]);
    assert!(err.contains("holds files rollcall did not write"), "{err}");
    assert_eq!(snapshot(&users), before);
    // The other outputs are guarded the same way.
    std::fs::write(dir.path().join("notes.rcg"), "not a gallery").expect("write");
    std::fs::write(dir.path().join("notes.csv"), "my,own,table").expect("write");
    let work = dir.path().join("work");
    ok(&[&"run", &photos, &"--out", &work]);
    common::name_clusters(&work, &photos);
    let err = fails(&[&"train", &work.join("clusters"), &"--out", &users]);
    assert!(err.contains("holds files rollcall did not write"), "{err}");
    ok(&[&"train", &work.join("clusters"), &"--out", &dir.path().join("model")]);
    let err = fails(&[&"export", &dir.path().join("model"), &"--out", &dir.path().join("notes.rcg")]);
    assert!(err.contains("notes.rcg exists and is not a rollcall gallery"), "{err}");
    ok(&[&"export", &dir.path().join("model"), &"--out", &dir.path().join("g.rcg")]);
    let err = fails(&[&"predict", &photos, &"--gallery", &dir.path().join("g.rcg"), &"--out", &dir.path().join("notes.csv")]);
    assert!(err.contains("notes.csv exists and is not a prediction CSV"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("notes.csv")).expect("read"), "my,own,table");
    assert_eq!(snapshot(&users), before);
}

/// A Ctrl-C while `cluster` copied chips left 3 chips, no ledger and a
/// `.tmp…` file; the re-run refused, and `--force` then kept the orphans
/// (`person_1` holding one stray face, which `train` would learn as a
/// person) beside new `person_1_2`, `person_2_2`, ...
#[test]
fn regression_interrupted_cluster_left_orphans() {
    let dir = tempfile::tempdir().expect("temp dir");
    let photos = dir.path().join("photos");
    // Enough faces that copying them takes a while (each copy is flushed).
    let ids: Vec<u64> = (1..=40).collect();
    synthetic::portraits(&photos, &ids, 12);
    let work = dir.path().join("work");
    ok(&[&"detect", &photos, &"--out", &work, &"--no-annotate"]);
    ok(&[&"embed", &work]);
    let clusters = work.join("clusters");
    let ledger = clusters.join(".rollcall-ledger.json");

    // Interrupt `cluster` as soon as it has written its ledger, that is,
    // while it copies.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .env("ROLLCALL_ENGINE", "fake")
        .args(["-q", "cluster"])
        .arg(&work)
        .args(["--k", "40"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start cluster");
    let started = std::time::Instant::now();
    while !ledger.exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("cluster ended with {:?}", out.status.code());
    if out.status.code() == Some(130) {
        assert!(stderr.contains("interrupted"), "{stderr}");
    }
    // Whenever the signal landed: no temporary files, no half-made folders
    // in view, and a forced re-run leaves exactly the clusters, no orphans.
    let temporaries: Vec<PathBuf> = walk(&clusters).into_iter().filter(|p| p.to_string_lossy().contains(".rollcall-tmp")).collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
    ok(&[&"cluster", &work, &"--k", &"40", &"--force"]);
    let mut folders: Vec<String> = std::fs::read_dir(&clusters)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    folders.sort();
    let summary = rollcall_host::artifacts::clusters::ClustersFile::read(&work.join("clusters.json")).expect("clusters.json");
    assert_eq!(folders.len(), summary.k, "exactly the new clusters: {folders:?}");
    assert!(folders.iter().all(|f| f.strip_prefix("person_").is_some_and(|n| n.parse::<usize>().is_ok())), "no person_<n>_2: {folders:?}");
    let chips: usize = folders.iter().map(|f| walk(&clusters.join(f)).len()).sum();
    assert_eq!(chips, 40 * 12, "every face once");
}

/// Two `run`s at once on one work directory left `metadata.csv` from one
/// and `clusters.csv` from the other, and `report` rendered the mixture.
#[test]
fn regression_concurrent_runs_mixed_their_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = rollcall_host::artifacts::Work::new(dir.path().join("work"));
    let held = work.claim().expect("this process holds the work directory");
    let err = fails(&[&"run", &photos, &"--out", &work.root()]);
    let me = std::process::id();
    assert!(err.contains("in use by another rollcall command") && err.contains(&format!("process {me}")), "{err}");
    let err = fails(&[&"report", &work.root()]);
    assert!(err.contains("in use by another rollcall command"), "{err}");
    drop(held);
    ok(&[&"run", &photos, &"--out", &work.root()]);
}

/// A 632-byte JPEG declaring 60000 x 60000 pixels was decoded in full:
/// 10.7 GB resident and 1 min 40 s. The decoder was built with
/// `into_decoder`, which skips the allocation limit.
#[test]
fn regression_decompression_bomb_exhausted_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let bomb = jpeg_bomb(60_000, 60_000);
    assert!(bomb.len() < 1000);
    std::fs::write(photos.join("bomb.jpg"), &bomb).expect("write");
    let (out, peak) = measured(&[&"run", &photos, &"--out", &dir.path().join("work")]);
    assert!(out.contains("skipped") && out.contains("bomb.jpg: 60000x60000 pixels is more than the limit of 100 megapixels"), "{out}");
    assert!(peak < 1 << 30, "peak resident memory {} MiB", peak >> 20);
    // The limit is a setting.
    let err = ok(&[&"detect", &photos, &"--out", &dir.path().join("w2"), &"--max-megapixels", &"0.05"]);
    assert!(err.contains("320x240 pixels is more than the limit of 0 megapixels"), "{err}");
}

/// `rollcall` with `args` under `/usr/bin/time -v`: stdout, and the peak
/// resident memory in bytes.
fn measured(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (String, u64) {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_rollcall"))
        .env("ROLLCALL_ENGINE", "fake")
        .env("ROLLCALL_LOG", "warn")
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("/usr/bin/time (Debian package `time`; scripts/test installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let kb: u64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"));
    (String::from_utf8_lossy(&out.stdout).into_owned(), kb * 1024)
}

/// A `loop -> .` link made every photo be processed 41 times before the run
/// died on `File name too long`; two self-links made the listing endless.
#[test]
fn regression_symlink_loops_repeated_photos() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    for link in ["loop", "x", "y"] {
        std::os::unix::fs::symlink(".", photos.join(link)).expect("symlink");
    }
    std::os::unix::fs::symlink(photos.join("p11"), photos.join("p11-again")).expect("symlink");
    let out = ok(&[&"run", &photos, &"--out", &dir.path().join("work")]);
    assert!(out.contains("18 faces found, 18 kept"), "each photo once: {out}");
    assert!(out.contains("loop: a link loop back to"), "{out}");
}

/// A photo with a legal 250-byte name made `cannot write
/// work/aligned/aligned_nnnn…: File name too long` and exit 1, leaving the
/// chips already written without a metadata.csv.
#[test]
fn regression_long_photo_name_ended_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let long = format!("{}.png", "n".repeat(246));
    std::fs::copy(photos.join("p11/0.png"), photos.join(&long)).expect("copy");
    let work = dir.path().join("work");
    let out = ok(&[&"run", &photos, &"--out", &work]);
    assert!(out.contains("19 photos: 19 read, 0 skipped"), "{out}");
    assert!(work.join("metadata.csv").is_file());
    assert!(walk(&work.join("aligned")).iter().all(|p| p.file_name().is_some_and(|n| n.len() < 200)));

    // Any failure to write one photo's outputs skips that photo, and what it
    // had written already goes with it.
    // (A folder where one of p12/0.png's chips goes makes its write fail.)
    let blocked = dir.path().join("w2");
    ok(&[&"detect", &photos, &"--out", &blocked]);
    assert!(blocked.join("annotated/p12__0.jpg").is_file(), "the first detect wrote the photo's annotated copy");
    std::fs::remove_file(blocked.join("aligned/aligned_p12__0_0.png")).expect("chip");
    std::fs::create_dir(blocked.join("aligned/aligned_p12__0_0.png")).expect("a folder where the chip goes");
    let out = ok(&[&"detect", &photos, &"--out", &blocked]);
    assert!(out.contains("19 photos: 18 read, 1 skipped"), "{out}");
    assert!(out.contains("p12/0.png: cannot write"), "{out}");
    let metadata = std::fs::read_to_string(blocked.join("metadata.csv")).expect("metadata.csv");
    assert!(!metadata.contains("p12/0.png"), "the skipped photo's faces are not listed: {metadata}");
    assert!(!blocked.join("annotated/p12__0.jpg").exists(), "nothing of the skipped photo stays");
}

/// `run p --out p/work`, twice, went from 9 photos to 38: the second run
/// listed the first run's chips and annotated copies as photos.
#[test]
fn regression_work_dir_inside_photos_fed_on_itself() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = photos.join("work");
    let first = ok(&[&"run", &photos, &"--out", &work]);
    let second = ok(&[&"run", &photos, &"--out", &work, &"--force"]);
    for out in [first, second] {
        assert!(out.contains("18 photos: 18 read"), "{out}");
    }
    // A model folder inside the photos is left out too.
    common::name_clusters(&work, &photos);
    ok(&[&"train", &work.join("clusters"), &"--out", &photos.join("model")]);
    let third = ok(&[&"detect", &photos, &"--out", &dir.path().join("w3")]);
    assert!(third.contains("18 photos: 18 read"), "{third}");
}

/// `select-k` accepted `--threshold nan` and `--threshold 5`.
#[test]
fn regression_select_k_accepted_impossible_thresholds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    ok(&[&"run", &photos, &"--out", &work]);
    for bad in ["nan", "5", "inf", "-1.5"] {
        let err = fails(&[&"select-k", &work, &format!("--threshold={bad}")]);
        // Both parts: the flag named, and why (any "not a number" alone
        // passed before, `a && b || c` binding as `(a && b) || c`).
        assert!(err.contains("--threshold") && (err.contains("is outside -1..=1") || err.contains("not a number")), "{bad}: {err}");
    }
    let err = fails(&[&"train", &work.join("clusters"), &"--target-far", &"nan"]);
    assert!(err.contains("--target-far"), "{err}");
}

/// A photo named with `ESC[2J` cleared the screen: file names reached the
/// terminal raw.
#[test]
fn regression_control_characters_reached_the_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    std::fs::write(photos.join("\u{1b}[2Jclear.jpg"), b"not a photo").expect("write");
    let out = rollcall().arg("run").arg(&photos).arg("--out").arg(dir.path().join("work")).output().expect("run");
    assert!(out.status.success());
    for stream in [&out.stdout, &out.stderr] {
        assert!(!stream.contains(&0x1b), "a raw escape reached the terminal: {}", String::from_utf8_lossy(stream));
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("\\x1b[2Jclear.jpg"));
}

/// Non-UTF-8 file names were stored lossily, so `evaluate` could not match
/// them to the files.
#[test]
fn regression_non_utf8_names_were_stored_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let bad = photos.join(std::ffi::OsStr::from_bytes(b"caf\xe9.png"));
    std::fs::copy(photos.join("p11/0.png"), &bad).expect("copy");
    let out = ok(&[&"run", &photos, &"--out", &dir.path().join("work")]);
    assert!(out.contains("caf\u{fffd}.png: the file name is not valid UTF-8"), "{out}");
    assert!(out.contains("19 photos: 18 read, 1 skipped"), "{out}");
}

/// `embed` said `skipped X: X: reason`, the path twice.
#[test]
fn regression_messages_repeated_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    ok(&[&"detect", &photos, &"--out", &work]);
    image::RgbImage::new(10, 10).save(work.join("aligned/aligned_zz_bad_0.png")).expect("save");
    let out = ok(&[&"embed", &work]);
    let line = out.lines().find(|l| l.trim_start().starts_with("skipped")).expect("a skipped line");
    assert_eq!(line.matches("aligned_zz_bad_0.png").count(), 1, "{line}");
    assert!(line.ends_with("chip is 10x10, the recognizer needs 112x112"), "{line}");
}

/// The whole hostile folder at once: a bomb, a symlink loop, a 250-byte
/// name, a 0-byte file, a text file named `.jpg`, the work directory inside
/// it. The run finishes, skips each bad file with its reason, processes the
/// good photos, and stays under 1 GiB.
#[test]
fn hostile_folder_is_survived() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    std::fs::write(photos.join("bomb.jpg"), jpeg_bomb(60_000, 60_000)).expect("write");
    std::fs::write(photos.join("huge.jpg"), jpeg_bomb(20_000, 20_000)).expect("write");
    std::os::unix::fs::symlink(".", photos.join("loop")).expect("symlink");
    std::fs::copy(photos.join("p12/0.png"), photos.join(format!("{}.png", "n".repeat(246)))).expect("copy");
    std::fs::write(photos.join("empty.jpg"), b"").expect("write");
    std::fs::write(photos.join("notes.jpg"), b"my notes, not a photo").expect("write");
    let work = photos.join("work");
    let (out, peak) = measured(&[&"run", &photos, &"--out", &work]);
    let (_, again) = measured(&[&"run", &photos, &"--out", &work, &"--force"]);
    for (reason, file) in [
        ("60000x60000 pixels is more than the limit", "bomb.jpg"),
        ("20000x20000 pixels is more than the limit", "huge.jpg"),
        ("a link loop back to", "loop"),
        ("empty file (0 bytes)", "empty.jpg"),
        ("not a recognised image format", "notes.jpg"),
    ] {
        assert!(out.lines().any(|l| l.contains(file) && l.contains(reason)), "{file}: {reason}\n{out}");
    }
    assert!(out.contains("19 faces found, 19 kept"), "the good photos, the long name among them: {out}");
    assert!(out.contains("recommended k = 4"), "{out}");
    eprintln!("peak resident memory: {} MiB, {} MiB on the second run", peak >> 20, again >> 20);
    assert!(peak.max(again) < 1 << 30, "peak resident memory {} MiB", peak.max(again) >> 20);
}

/// Files named like photos that are not files: `ln -s /dev/zero
/// photos/zero.jpg` made `rollcall detect` spin at 100% CPU for ever
/// (hashing a file whose reported length is 0 and which never ends), and
/// `mkfifo photos/p.jpg` made it hang on open. Both are now listed as "not a
/// regular file" and the run goes on with the real photos.
#[test]
fn regression_a_link_to_dev_zero_or_a_fifo_among_the_photos_hung_detect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    std::os::unix::fs::symlink("/dev/zero", photos.join("zero.jpg")).expect("symlink");
    let status = Command::new("mkfifo").arg(photos.join("p.jpg")).status().expect("mkfifo");
    assert!(status.success());
    let out = rollcall()
        .args([std::ffi::OsStr::new("detect"), photos.as_os_str(), "--out".as_ref(), dir.path().join("work").as_os_str()])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("run rollcall");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("18 faces found"), "the real photos are all read: {stdout}");
    let text = format!("{stdout}{stderr}");
    for name in ["zero.jpg", "p.jpg"] {
        assert!(text.lines().any(|l| l.contains(name) && l.contains("not a regular file")), "{name} is named with the reason: {text}");
    }
}

/// Every file and folder under `dir` with its permission bits.
#[cfg(unix)]
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("list").filter_map(Result::ok) {
        let p = e.path();
        let mode = std::fs::symlink_metadata(&p).expect("metadata").permissions().mode() & 0o777;
        if p.is_dir() {
            out.extend(modes(&p));
        }
        out.push((p, mode));
    }
    out
}

/// A school's data protection officer found every work folder, chip,
/// `embeddings.parquet`, model, gallery and roll call created 0755/0644:
/// on a shared staff laptop any local user could read every child's face
/// and embedding. Everything rollcall makes is now owner-only, whatever
/// the umask; the one exception is the public key, which is meant to be
/// copied to the device (where the service user reads it).
#[cfg(unix)]
#[test]
fn regression_childrens_faces_were_readable_by_every_local_user() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    // The commands a teacher runs, under the usual umask (which would make
    // 0755 folders and 0644 files of anything not made private on purpose).
    let bin = assert_cmd::cargo::cargo_bin("rollcall");
    let run = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let status = Command::new("sh")
            .arg("-c")
            .arg("umask 022 && exec \"$0\" \"$@\"")
            .arg(&bin)
            .arg("-q")
            .args(args.iter().map(|a| a.as_ref()))
            .env("ROLLCALL_ENGINE", "fake")
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .status()
            .expect("run rollcall");
        assert!(status.success(), "rollcall {:?}", args.iter().map(|a| a.as_ref()).collect::<Vec<_>>());
    };
    let work = out.join("work");
    run(&[&"run", &photos, &"--out", &work]);
    common::name_clusters(&work, &photos);
    let model = out.join("deep/model");
    run(&[&"train", &work.join("clusters"), &"--out", &model]);
    run(&[&"keygen", &"--out", &out.join("keys/school")]);
    run(&[&"export", &model, &"--out", &out.join("galleries/g.rcg"), &"--sign", &out.join("keys/school")]);
    let gallery = out.join("galleries/g.rcg");
    run(&[&"predict", &photos.join("p11"), &"--gallery", &gallery, &"--annotate", &out.join("named")]);
    run(&[&"roll", &photos.join("_group"), &"--gallery", &gallery, &"--out", &out.join("roll")]);
    let forget = rollcall_host::artifacts::metadata::read(&work.join("metadata.csv")).expect("metadata");
    assert!(!forget.is_empty());
    run(&[&"forget", &"p14", &work]);

    let all = modes(&out);
    assert!(all.len() > 50, "the commands wrote {} files and folders", all.len());
    let public = out.join("keys/school.pub");
    let open: Vec<String> = all
        .iter()
        .filter(|(p, mode)| {
            let wanted = if *p == public {
                0o644
            } else if p.is_dir() {
                0o700
            } else {
                0o600
            };
            *mode != wanted
        })
        .map(|(p, mode)| format!("{:o} {}", mode, p.strip_prefix(&out).unwrap_or(p).display()))
        .collect();
    assert!(open.is_empty(), "not owner-only:\n{}", open.join("\n"));
}

/// The page refused bidi controls and zero-width characters, but `train`
/// (the file-manager route) accepted folders `Ann` + U+200B and `Ann` +
/// U+202E, and `roll` then listed three different "Ann"s, one turning the
/// terminal's line around. One rule on names now decides everywhere: train
/// refuses such folders by name (escaped), a look-alike of `unknown` is
/// the strangers' folder, and a gallery holding such a label is refused.
#[test]
fn regression_train_accepted_invisible_characters_in_folder_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, work) = common::named_classroom(dir.path());
    let clusters = work.join("clusters");
    std::fs::rename(clusters.join("p11"), clusters.join("Ann\u{200B}")).expect("rename");
    std::fs::rename(clusters.join("p12"), clusters.join("Ann\u{202E}")).expect("rename");
    let err = fails(&[&"train", &clusters, &"--out", &dir.path().join("model")]);
    assert!(err.contains("Ann\\u{200b}") && err.contains("Ann\\u{202e}") && err.contains("invisible"), "{err}");
    assert!(!err.contains('\u{202E}') && !err.contains('\u{200B}'), "printed raw: {err}");
    assert!(!dir.path().join("model/model.rcg").exists());

    // A Cyrillic look-alike of a Latin name is refused too.
    std::fs::rename(clusters.join("Ann\u{200B}"), clusters.join("Ann")).expect("rename");
    std::fs::rename(clusters.join("Ann\u{202E}"), clusters.join("\u{0410}nn")).expect("rename");
    let err = fails(&[&"train", &clusters, &"--out", &dir.path().join("model")]);
    assert!(err.contains("mix the letters of different scripts"), "{err}");

    // A fullwidth `ｕnknown` is the strangers' folder, not a person.
    std::fs::rename(clusters.join("\u{0410}nn"), clusters.join("ｕnknown")).expect("rename");
    let out = ok(&[&"train", &clusters, &"--out", &dir.path().join("model")]);
    assert!(out.contains("3 people"), "{out}");

    // A gallery whose label breaks the rule (made by hand, or by an old
    // rollcall) is refused wherever it is read.
    let gallery = dir.path().join("g.rcg");
    ok(&[&"export", &dir.path().join("model"), &"--out", &gallery]);
    let mut g = rollcall_shared::gallery::read_file(&gallery).expect("gallery");
    g.labels[0] = "A\u{FFFF}nn".into();
    let bad = dir.path().join("bad.rcg");
    std::fs::write(&bad, g.encode().expect("encode")).expect("write");
    let err = fails(&[&"predict", &photos.join("p13"), &"--gallery", &bad]);
    assert!(err.contains("label cannot be a name") && err.contains("unassigned"), "{err}");
}

/// A 16-bit RGB PNG of `side` x `side` pixels, flat but for a mark that
/// makes each file different.
fn png16(path: &Path, side: u32, mark: u16) {
    let mut img = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_pixel(side, side, image::Rgb([30_000, 20_000, 10_000]));
    img.put_pixel(mark as u32, 0, image::Rgb([mark, mark, mark]));
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    );
    // The encoder takes 16-bit samples as native-endian bytes.
    let bytes: Vec<u8> = img.as_raw().iter().flat_map(|x| x.to_ne_bytes()).collect();
    image::ImageEncoder::write_image(encoder, &bytes, side, side, image::ExtendedColorType::Rgb16).expect("encode");
}

/// The pixel cap held per photo, but nothing bounded the total: four
/// 100 MP 16-bit PNGs cost 2.7 GB with the default jobs and 4.5 GB with
/// `--jobs 4`, each worker decoding its own at once. Decoding now shares one
/// budget: a photo whose decode does not fit beside the others' waits, and
/// a photo's file is read as it is decoded, never held whole. Four 16 MP
/// 16-bit photos (stored uncompressed, 96 MB files), each needing more than
/// half the budget, so that they can only be decoded one at a time: the
/// run's peak stays below two photos' worth above the same command's on a
/// small photo.
#[test]
fn regression_big_photos_decoded_at_once_had_no_memory_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let side = 4000;
    let (small, big) = (dir.path().join("small"), dir.path().join("big"));
    std::fs::create_dir_all(&small).expect("folder");
    std::fs::create_dir_all(&big).expect("folder");
    png16(&small.join("s.png"), 64, 1);
    for i in 0..4 {
        png16(&big.join(format!("{i}.png")), side, i + 1);
    }
    // A photo's decode: its 16-bit pixels, and the 8-bit RGB copy.
    let photo = u64::from(side * side) * (6 + 3);
    let budget_mib = 128;
    assert!(photo > (budget_mib << 20) / 2, "one photo's decode leaves no room for a second");
    let args = |input: &Path, out: &str| -> Vec<std::ffi::OsString> {
        ["detect".into(), input.as_os_str().to_owned(), "--out".into(), dir.path().join(out).into_os_string()]
            .into_iter()
            .chain(["--jobs", "4", "--no-annotate", "--decode-budget-mib", &budget_mib.to_string()].map(Into::into))
            .collect()
    };
    let run = |a: Vec<std::ffi::OsString>| measured(&a.iter().map(|s| s as &dyn AsRef<std::ffi::OsStr>).collect::<Vec<_>>()).1;
    let base = run(args(&small, "w1"));
    let peak = run(args(&big, "w2"));
    assert!(peak < base + 2 * photo, "peak {} MiB, base {} MiB, a photo's decode {} MiB", peak >> 20, base >> 20, photo >> 20);
}

/// The real tier's open-set test names each person with links to photos
/// kept elsewhere: when `train` began to read folders inside a person's
/// folder, it stopped following links and found no one ("too few people:
/// 0"). Links to photos (and to folders) count again.
#[cfg(unix)]
#[test]
fn regression_train_stopped_following_links_to_photos() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let enrol = dir.path().join("enrol");
    for p in ["p11", "p12"] {
        std::fs::create_dir_all(enrol.join(p)).expect("folder");
        for i in 0..4 {
            std::os::unix::fs::symlink(photos.join(p).join(format!("{i}.png")), enrol.join(p).join(format!("{i}.png"))).expect("link");
        }
    }
    std::os::unix::fs::symlink(photos.join("p13"), enrol.join("p13")).expect("a linked folder");
    let out = ok(&[&"train", &enrol, &"--out", &dir.path().join("model")]);
    assert!(out.contains("learned 3 people from 12 faces"), "{out}");
}

/// A run's peak memory was a third above the Python pipeline's on `deepface`
/// (591-646 against 435-487 MiB): glibc's allocator kept what each worker
/// thread freed in that thread's heap, and after the first large free it
/// served buffers of up to 32 MiB from those heaps, so a 12 MP photo's
/// buffers and a fine pass's activations stayed resident after they were
/// freed. `rollcall` now runs on jemalloc with freed pages given back after
/// 100 ms (486-489 MiB). This checks that the process's `malloc`, the one
/// ONNX Runtime's shared library calls too, is that jemalloc with those
/// options: only an unprefixed jemalloc reads `MALLOC_CONF`, and it prints
/// the options it runs with.
#[test]
fn regression_freed_photos_and_activations_stayed_resident() {
    let bin = assert_cmd::cargo::cargo_bin("rollcall");
    let out = std::process::Command::new(bin).arg("--version").env("MALLOC_CONF", "stats_print:true").output().expect("rollcall runs");
    assert!(out.status.success());
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(stats.contains("opt.dirty_decay_ms: 100"), "not jemalloc with its options as malloc: {stats}");
    assert!(stats.contains("opt.muzzy_decay_ms: 0"), "{stats}");
    assert!(stats.contains("opt.thp: \"always\""), "{stats}");
}
