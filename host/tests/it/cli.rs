//! The `rollcall` binary end to end on the fake engine: every command, run
//! as a user runs it, on synthetic photos made here. Seconds, no models.

use crate::common;

use common::{classroom, fails, ok, synthetic};
use rollcall_host::artifacts::clusters::{self, ClustersFile};
use rollcall_host::artifacts::detections::DetectionsFile;
use rollcall_host::artifacts::embeddings::EmbeddingTable;
use rollcall_host::artifacts::selection::Selection;

#[test]
fn run_finds_the_painted_people() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    let out = ok(&[&"run", &photos, &"--out", &work]);
    assert!(out.contains("18 photos: 18 read, 0 skipped; 18 faces found, 18 kept"), "{out}");

    let d = DetectionsFile::read(&work.join("detections.json")).expect("detections.json");
    assert_eq!((d.summary.images_found, d.summary.faces_kept), (18, 18));
    assert_eq!(d.detector.name, "fake-detector");
    let table = EmbeddingTable::read(&work.join("embeddings.parquet")).expect("embeddings");
    assert_eq!((table.len(), table.dim), (18, 128));
    let sel = Selection::read(&work.join("k_selection.json")).expect("k_selection.json");
    assert_eq!((sel.recommended_k, sel.people_estimate, sel.outliers.len()), (4, 4, 0), "{sel:?}");
    let c = ClustersFile::read(&work.join("clusters.json")).expect("clusters.json");
    let mut sizes: Vec<usize> = c.clusters.iter().map(|c| c.size).collect();
    sizes.sort();
    assert_eq!(sizes, [4, 4, 5, 5], "two people are also in the group photo");
    for c in &c.clusters {
        assert_eq!(std::fs::read_dir(work.join("clusters").join(&c.folder)).expect("folder").count(), c.size);
    }
    assert!(work.join("report/index.html").is_file() && work.join("similarity.png").is_file());
    assert!(work.join("charts/clusters_pca.svg").is_file());

    let eval = ok(&[&"evaluate", &work, &"--truth", &photos]);
    assert!(eval.contains("BCubed F1           1.0000"), "{eval}");
}

#[test]
fn named_people_are_learned_exported_and_predicted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, work) = common::named_classroom(dir.path());
    let model = dir.path().join("model");
    let out = ok(&[&"train", &work.join("clusters"), &"--out", &model]);
    assert!(out.contains("4 people, 18 faces; 5-fold cross-validation"), "{out}");
    for f in ["model.rcg", "training.json", "confusion_centroid.svg", "confusion_logistic.svg"] {
        assert!(model.join(f).is_file(), "{f}");
    }
    // 18 faces of 4 people cannot show a 1% false-accept rate, and train
    // says so, with the bound it stores.
    assert!(out.contains("FAR 95% bound") && out.contains("the data is too thin to show a 1% false-accept rate"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("training.json")).expect("training.json")).expect("json");
    let bound = report["classifiers"][0]["calibration"]["far_upper"].as_f64().expect("a stored bound");
    assert!(bound > 0.01 && bound <= 1.0, "{bound}");

    // A chip copied into a second folder: --strict refuses and names it.
    let chip = std::fs::read_dir(work.join("clusters/p11")).expect("p11").filter_map(Result::ok).next().expect("a chip").file_name();
    std::fs::copy(work.join("clusters/p11").join(&chip), work.join("clusters/p12").join(&chip)).expect("copy");
    let err = fails(&[&"train", &work.join("clusters"), &"--out", &dir.path().join("strict"), &"--strict"]);
    assert!(err.contains("look like label mistakes") && err.contains(&format!("p12/{}", chip.to_string_lossy())), "{err}");
    let out = ok(&[&"train", &work.join("clusters"), &"--out", &dir.path().join("lenient")]);
    assert!(out.contains("faces that look like label mistakes, left out") && out.contains(&*chip.to_string_lossy()), "{out}");
    std::fs::remove_file(work.join("clusters/p12").join(&chip)).expect("undo the copy");
    let gallery = dir.path().join("g.rcg");
    let out = ok(&[&"export", &model, &"--out", &gallery]);
    assert!(out.contains("4 people, 18 reference faces"), "{out}");

    // A key pair; a signed gallery verifies with its public half only.
    let key = dir.path().join("school");
    ok(&[&"keygen", &"--out", &key]);
    let err = fails(&[&"keygen", &"--out", &key]);
    assert!(err.contains("exists already"), "{err}");
    let signed = dir.path().join("signed.rcg");
    let out = ok(&[&"export", &model, &"--out", &signed, &"--sign", &key]);
    assert!(out.contains("signed by key"), "{out}");
    let public = rollcall_host::artifacts::keys::read_public(&dir.path().join("school.pub")).expect("public key");
    let bytes = std::fs::read(&signed).expect("signed gallery");
    rollcall_shared::gallery::Gallery::decode_trusted(&bytes, &public).expect("verifies");
    let unsigned = std::fs::read(&gallery).expect("gallery");
    assert!(rollcall_shared::gallery::Gallery::decode_trusted(&unsigned, &public).is_err());
    let err = fails(&[&"export", &model, &"--out", &dir.path().join("x.rcg"), &"--sign", &dir.path().join("school.pub")]);
    assert!(err.contains("school.pub") && err.contains("not a rollcall secret key file"), "{err}");

    // Each export signs a higher serial than the gallery it replaces, even
    // within the same second; inspect shows it and checks the signer.
    let serial = |path: &std::path::Path| {
        let bytes = std::fs::read(path).expect("gallery");
        rollcall_shared::gallery::Gallery::decode_verified(&bytes, &public).expect("verifies").1
    };
    let first = serial(&signed);
    ok(&[&"export", &model, &"--out", &signed, &"--sign", &key]);
    let second = serial(&signed);
    assert!(second > first, "{first} then {second}");
    let out = ok(&[&"inspect", &signed, &"--trust", &dir.path().join("school.pub")]);
    assert!(out.contains("people (4): p11, p12, p13, p14"), "{out}");
    assert!(out.contains(&format!("serial {second}")) && out.contains("verified with"), "{out}");
    let out = ok(&[&"inspect", &gallery]);
    assert!(out.contains("signature: none"), "{out}");
    let err = fails(&[&"inspect", &gallery, &"--trust", &dir.path().join("school.pub")]);
    assert!(err.contains("not trusted") && err.contains("not signed"), "{err}");

    // A secret key others can read still signs, with a warning (as ssh).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = common::rollcall()
            .args([
                std::ffi::OsStr::new("export"),
                model.as_os_str(),
                "--out".as_ref(),
                signed.as_os_str(),
                "--sign".as_ref(),
                key.as_os_str(),
            ])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.contains("can be read by other users"), "{stderr}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    // New pictures of two people.
    let new = dir.path().join("new");
    synthetic::photo(&new.join("a.png"), &[(12, 50)]);
    synthetic::photo(&new.join("b.png"), &[(14, 51), (13, 52)]);
    let csv = ok(&[&"predict", &new, &"--gallery", &gallery]);
    let labels: Vec<String> = csv.lines().skip(1).map(|l| l.rsplit(',').nth(1).unwrap_or("").to_string()).collect();
    assert_eq!(labels, ["p12", "p14", "p13"], "{csv}");
    for classifier in ["centroid", "knn", "svm", "logistic"] {
        let csv = ok(&[&"predict", &new.join("a.png"), &"--gallery", &gallery, &"--classifier", &classifier]);
        assert!(csv.contains(",p12,"), "{classifier}: {csv}");
    }
}

#[test]
fn the_stages_one_by_one_match_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&[&"run", &photos, &"--out", &a]);
    ok(&[&"detect", &photos, &"--out", &b]);
    ok(&[&"embed", &b]);
    ok(&[&"select-k", &b]);
    ok(&[&"cluster", &b]);
    ok(&[&"report", &b]);
    for f in ["metadata.csv", "k_selection.csv", "clusters.csv"] {
        assert_eq!(std::fs::read(a.join(f)).expect("a"), std::fs::read(b.join(f)).expect("b"), "{f}");
    }
    let (ta, tb) =
        (EmbeddingTable::read(&a.join("embeddings.parquet")).expect("a"), EmbeddingTable::read(&b.join("embeddings.parquet")).expect("b"));
    assert_eq!(ta, tb);
    assert_eq!(clusters::read_rows(&a.join("clusters.csv")).expect("a").len(), 18);
}

#[test]
fn mistakes_get_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("nothing");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = fails(&[&"run", &empty, &"--out", &dir.path().join("w")]);
    assert!(err.contains("no photos found") && err.contains("nothing"), "{err}");

    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    ok(&[&"run", &photos, &"--out", &work]);
    let err = fails(&[&"cluster", &work]);
    assert!(err.contains("already exists and may hold your labels"), "{err}");
    let err = fails(&[&"select-k", &work, &"--k-min", &"9", &"--k-max", &"3"]);
    assert!(err.contains("k range 9..=3 is invalid"), "{err}");
    let err = fails(&[&"select-k", &work, &"--k-min", &"1"]);
    assert!(err.contains("1 is outside 2..=1000000"), "{err}");
    let err = fails(&[&"quantize", &work]);
    assert!(err.contains("cannot run on the fake engine"), "{err}");
    let err = fails(&[&"export", &dir.path().join("no-model")]);
    assert!(err.contains("model.rcg: missing; run `rollcall train` first"), "{err}");
    let err = fails(&[&"predict", &photos, &"--gallery", &work.join("metadata.csv")]);
    assert!(err.contains("metadata.csv: not a rollcall gallery"), "{err}");
}

/// A teacher's first hour: each command says what comes next, with the
/// exact command (on stderr, so that stdout stays data), and `-q` keeps
/// it quiet; `train` refuses folders nobody named, with the list; the
/// report opens with naming the people.
#[test]
fn every_step_says_what_comes_next_and_train_wants_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    // `rollcall` on the PATH, as after `cargo install`: the commands are
    // printed with its name.
    let bin = assert_cmd::cargo::cargo_bin("rollcall");
    let path = std::env::join_paths(
        std::iter::once(bin.parent().expect("a folder").to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let loud = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut c = assert_cmd::Command::cargo_bin("rollcall").expect("the rollcall binary");
        let out = c.env("ROLLCALL_ENGINE", "fake").env("PATH", &path).args(args.iter().map(|a| a.as_ref())).output().expect("run");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let w = work.display().to_string();
    let (success, stdout, stderr) = loud(&[&"run", &photos, &"--out", &work]);
    assert!(success, "{stderr}");
    assert!(stderr.contains(&format!("next: name the people in your browser: rollcall review {w}")), "{stderr}");
    assert!(!stdout.contains("next:"), "stdout stays the command's output: {stdout}");
    // With -q, the run says nothing of what comes next.
    // `-q` said "Only warnings and errors", yet `rollcall -q run` printed
    // the cluster table: now it prints nothing of its work.
    let quiet = common::rollcall()
        .args([std::ffi::OsStr::new("-q"), "run".as_ref(), photos.as_os_str(), "--out".as_ref(), dir.path().join("quiet").as_os_str()])
        .output()
        .expect("run");
    let quiet_err = String::from_utf8_lossy(&quiet.stderr);
    assert!(quiet.status.success() && !quiet_err.contains("next:"), "{quiet_err}");
    assert!(stdout.contains("person_1"), "the table, without -q: {stdout}");
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), "", "-q prints only warnings and errors");

    // No range was given: the report and the terminal speak of none.
    assert!(!stdout.contains("outside the range"), "{stdout}");

    // The report's first section names the people and gives the command.
    let html = std::fs::read_to_string(work.join("report/index.html")).expect("report");
    let first = html.find("<h2").map(|i| &html[i..]).expect("a section");
    assert!(first.starts_with("<h2>4 people found in 18 photos: name them</h2>"), "{}", &first[..first.len().min(200)]);
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no `{s}` in the report"));
    assert!(at(&format!("rollcall review {w}")) < at("<h2>The people</h2>"));
    assert!(at("<h2>The people</h2>") < at("Checking the grouping") && at("Checking the grouping") < at("How many people?"));
    // Only the faces that need a look are captioned; every face's number is
    // there on hover.
    assert!(!html.contains(">typical</figcaption>") && html.contains("(silhouette 0."), "faces in words, numbers on hover");

    // Two of four folders named: train refuses and lists the other two.
    let clusters = work.join("clusters");
    let mut unnamed: Vec<String> = std::fs::read_dir(&clusters)
        .expect("clusters")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("person_"))
        .collect();
    unnamed.sort();
    for (folder, name) in unnamed[..2].iter().zip(["Ada", "Ben"]) {
        std::fs::rename(clusters.join(folder), clusters.join(name)).expect("rename");
    }
    let model = dir.path().join("model");
    let err = fails(&[&"train", &clusters, &"--out", &model]);
    assert!(err.contains("2 folder(s) nobody named") && err.contains(&unnamed[2]) && err.contains(&unnamed[3]), "{err}");
    assert!(!model.exists(), "nothing written");
    let (success, stdout, stderr) = loud(&[&"train", &clusters, &"--out", &model, &"--include-unnamed"]);
    assert!(success, "{stderr}");
    // Plain words first, the table after.
    let plain = stdout.find("learned 4 people from 18 faces.").expect("how many, in words");
    assert!(stdout.contains("telling them apart: ") && stdout.contains("strangers: "), "{stdout}");
    assert!(plain < stdout.find("details:").expect("then the details"), "{stdout}");
    assert!(stderr.contains(&format!("next: write the gallery a device loads: rollcall export {}", model.display())), "{stderr}");
    let gallery = dir.path().join("g.rcg");
    let (success, _, stderr) = loud(&[&"export", &model, &"--out", &gallery]);
    assert!(
        success && stderr.contains(&format!("next: try it on photos: rollcall predict PHOTOS --gallery {}", gallery.display())),
        "{stderr}"
    );
}

/// Every benchmark prints its figures as text, or with `--json` as one
/// JSON value a line (pipe it to `jq`).
#[test]
fn bench_prints_text_or_one_json_value_a_line() {
    let args = ["bench", "analysis", "--n", "300", "--dim", "8", "--k", "3", "--n-init", "2"];
    let text = ok(&args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>).collect::<Vec<_>>());
    assert!(text.contains("KMeans k=3") && text.contains("silhouette"), "{text}");
    let json = ok(&args.iter().chain(&["--json"]).map(|a| a as &dyn AsRef<std::ffi::OsStr>).collect::<Vec<_>>());
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 1, "{json}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    assert!(v["kmeans_s"].as_f64().is_some() && v["ari"].as_f64().is_some_and(|a| a > 0.5), "{v}");
}

/// The quick start runs `cargo run --bin rollcall -- run ...`, which puts
/// nothing on the PATH; every `next:` line and the report then said
/// `rollcall review work`, which answered "command not found". A command
/// this program prints now runs as printed: its name when that is this
/// program on the PATH, else its path.
#[test]
fn regression_printed_commands_were_not_found_after_cargo_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let work = dir.path().join("work");
    let bin = assert_cmd::cargo::cargo_bin("rollcall");
    // A PATH without rollcall on it; the command run from the folder the
    // user is in.
    let out = std::process::Command::new(&bin)
        .current_dir(dir.path())
        .env("ROLLCALL_ENGINE", "fake")
        .env("PATH", "/usr/bin:/bin")
        .args([std::ffi::OsStr::new("run"), photos.as_os_str(), "--out".as_ref(), "work".as_ref()])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("next:")).expect("a next step");
    let command = line.split(": ").last().expect("a command");
    assert!(command.ends_with(" review work") && !command.starts_with("rollcall "), "{line}");
    // The printed `train` line, run as printed, finds the program.
    let train = stderr.lines().find(|l| l.contains(" train ")).expect("the file-manager way");
    let train = train.trim().trim_start_matches("(or rename the folders in work/clusters/ yourself, then: ").trim_end_matches(')');
    common::name_clusters(&work, &photos);
    let status = std::process::Command::new("sh")
        .current_dir(dir.path())
        .env("ROLLCALL_ENGINE", "fake")
        .env("PATH", "/usr/bin:/bin")
        .arg("-c")
        .arg(format!("{train} -q"))
        .status()
        .expect("sh");
    assert!(status.success(), "`{train}` did not run as printed");
    assert!(work.join("model/model.rcg").is_file());
    // The report says the same command.
    let html = std::fs::read_to_string(work.join("report/index.html")).expect("report");
    assert!(html.contains(&format!("<pre>{} review work</pre>", bin.display())), "the report names the program's path");
}

/// `rollcall keygen --out school` in the checkout wrote the secret key
/// where `git add .` commits it. Keys now live where ssh keeps its own
/// (`~/.config/rollcall/keys`, 0600 in 0700 folders), `export --sign NAME`
/// finds them there, and a key asked for inside a git work tree is refused.
/// After `export --sign`, the next step names the public key to trust.
#[cfg(unix)]
#[test]
fn regression_keygen_wrote_the_secret_key_into_the_git_work_tree() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    let with_home = |args: &[&str]| {
        common::rollcall()
            .env("XDG_CONFIG_HOME", &config)
            .env_remove("ROLLCALL_KEYS_DIR")
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("run")
    };
    let repo = dir.path().join("checkout");
    std::fs::create_dir_all(repo.join(".git")).expect("a git work tree");
    let out = with_home(&["keygen", "--out", "checkout/school"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("git work tree") && err.contains("git add"), "{err}");
    assert!(!repo.join("school").exists() && !repo.join("school.pub").exists());
    // Nor through a link into the work tree (as a dotfile manager links
    // ~/.config/rollcall into a repository).
    std::fs::create_dir_all(repo.join("dotfiles")).expect("folder");
    std::os::unix::fs::symlink(repo.join("dotfiles"), dir.path().join("linked")).expect("link");
    let out = with_home(&["keygen", "--out", "linked/school"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("git work tree"));
    assert!(!repo.join("dotfiles/school").exists());

    let out = with_home(&["keygen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = config.join("rollcall/keys");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&keys.join("school")), 0o600);
    assert_eq!(mode(&keys), 0o700);
    assert!(keys.join("school.pub").is_file());

    // The key by name, and the device's next step with its public half.
    let (photos, _) = classroom(dir.path());
    ok(&[&"run", &photos, &"--out", &dir.path().join("work")]);
    common::name_clusters(&dir.path().join("work"), &photos);
    ok(&[&"train", &dir.path().join("work/clusters"), &"--out", &dir.path().join("model")]);
    let out = with_home(&["export", "model", "--out", "g.rcg", "--sign", "school"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let public = keys.join("school.pub").display().to_string();
    assert!(err.contains(&format!("--trust {public}")) && err.contains("trust = \"/etc/rollcall/school.pub\""), "{err}");
    // Where the package reads the gallery from, as the README's Pi steps say.
    assert!(err.contains("/var/lib/rollcall-gallery/gallery.rcg"), "{err}");
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("README");
    assert!(readme.contains("/var/lib/rollcall-gallery/"), "the README's Pi steps put the gallery where the hint does");
}

/// Mistakes a new user made in the first hour, each answered in plain
/// words: a JPEG or a model folder given as `--gallery` said only "wrong
/// magic bytes"; a mistyped photo folder left `work2/` behind with its
/// marker and lock; `predict` refused a second folder; `--help` listed the
/// commands in the pipeline's internal order, `run` near the bottom.
#[test]
fn regression_first_hour_mistakes_got_unhelpful_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, _) = classroom(dir.path());
    let photo = photos.join("p11/0.png");

    let err = fails(&[&"predict", &photos, &"--gallery", &photo]);
    assert!(err.contains("not a rollcall gallery") && err.contains("rollcall export MODEL --out gallery.rcg"), "{err}");
    let err = fails(&[&"predict", &photos, &"--gallery", &photos]);
    assert!(err.contains("is a folder, not a gallery") && err.contains("rollcall export"), "{err}");

    let mistyped = dir.path().join("photoss");
    let out = dir.path().join("work2");
    let err = fails(&[&"run", &mistyped, &"--out", &out]);
    assert!(err.contains("photoss"), "{err}");
    assert!(!out.exists(), "nothing is made for a photo folder that is not there");

    // predict takes several photos and folders, as roll does.
    let work = dir.path().join("work");
    ok(&[&"run", &photos, &"--out", &work]);
    common::name_clusters(&work, &photos);
    ok(&[&"train", &work.join("clusters"), &"--out", &dir.path().join("model")]);
    let gallery = dir.path().join("g.rcg");
    ok(&[&"export", &dir.path().join("model"), &"--out", &gallery]);
    let csv = ok(&[&"predict", &photos.join("p11"), &photos.join("p12/0.png"), &"--gallery", &gallery]);
    assert_eq!(csv.lines().skip(1).filter(|l| l.contains(",p11,")).count(), 4, "{csv}");
    assert_eq!(csv.lines().skip(1).filter(|l| l.contains(",p12,")).count(), 1, "{csv}");

    // The teacher's commands first, in the order of the day.
    let help = ok(&[&"--help"]);
    let at = |c: &str| help.find(&format!("\n  {c} ")).unwrap_or_else(|| panic!("no {c} in {help}"));
    let day = ["run", "review", "train", "export", "predict", "roll", "attendance"];
    assert!(day.windows(2).all(|w| at(w[0]) < at(w[1])), "{help}");
    assert!(at("attendance") < at("detect") && at("detect") < at("keygen"), "then the stages, then the tools: {help}");
}

/// Naming in a file manager: with nine stranger folders a file manager
/// cannot give them all one name, and moving them into `unknown/` made
/// nested folders that `train` left out without a word. Numbered names
/// (`unknown 2`, `unknown_3`) mark strangers too, folders inside a
/// person's or the strangers' folder are used and named in the output, and
/// the refusal says how. With one photo per person, train said "0 in 100
/// faces held out of training were named correctly": it now says it could
/// not measure, and how many photos would let it.
#[test]
fn regression_stranger_folders_in_a_file_manager_were_left_out_silently() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (photos, work) = common::named_classroom(dir.path());
    let clusters = work.join("clusters");
    // p13 and p14 are strangers: one renamed `unknown 2`, the other moved
    // into `unknown/` as a folder.
    std::fs::rename(clusters.join("p13"), clusters.join("unknown 2")).expect("rename");
    std::fs::create_dir_all(clusters.join("unknown")).expect("unknown");
    std::fs::rename(clusters.join("p14"), clusters.join("unknown/p14")).expect("move");
    let out = ok(&[&"train", &clusters, &"--out", &dir.path().join("model")]);
    assert!(out.contains("learned 2 people"), "{out}");
    assert!(out.contains("unknown/p14"), "the nested folder is named: {out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("model/training.json")).expect("training.json")).expect("json");
    assert!(report["strangers"].as_u64().is_some_and(|n| n >= 8), "both stranger folders' faces are strangers: {}", report["strangers"]);

    // A person's folder still called person_<n>: the refusal says how to
    // mark strangers.
    std::fs::rename(clusters.join("p12"), clusters.join("person_9")).expect("rename");
    let err = fails(&[&"train", &clusters, &"--out", &dir.path().join("model2")]);
    assert!(err.contains("`unknown 2`") && err.contains("start the name with `_`"), "{err}");

    // One photo per person: not measured, and why.
    let one = dir.path().join("one");
    for p in ["p11", "p12", "p13"] {
        std::fs::create_dir_all(one.join(p)).expect("folder");
        std::fs::copy(photos.join(p).join("0.png"), one.join(p).join("0.png")).expect("copy");
    }
    let out = ok(&[&"train", &one, &"--out", &dir.path().join("model3")]);
    assert!(out.contains("not measured") && out.contains("2 or more photos of each person"), "{out}");
    assert!(!out.contains("0 in 100 faces held out"), "{out}");
}
