//! The docs stay true: every path `ARCHITECTURE.md` names in backticks
//! exists, every relative link in the README and `docs/` leads to a file
//! that exists, and the host's layers import only what `ARCHITECTURE.md`
//! allows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// Backticked spans that name a path in the workspace: they contain a `/`
/// and start with one of its top-level folders.
fn named_paths(text: &str) -> Vec<String> {
    let tops = ["host/", "device/", "models/", "shared/", "files/", "cli/", "testkit/", "tests/", "docs/", "scripts/", "fuzz/", "bench/"];
    text.split('`').skip(1).step_by(2).filter(|s| tops.iter().any(|t| s.starts_with(t)) && !s.contains(' ')).map(str::to_string).collect()
}

#[test]
fn every_path_architecture_md_names_exists() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let paths = named_paths(&text);
    assert!(paths.len() > 30, "the map names the modules: {paths:?}");
    let missing: Vec<&String> = paths.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md names what is not there: {missing:?}");
    // A module it names by its folder is one of those there.
    // The check can fail: a path that is not there is extracted, and found
    // missing (an empty extraction would pass anything).
    let absent = named_paths("`host/src/nothing_here.rs`");
    assert_eq!(absent, ["host/src/nothing_here.rs"], "the check can fail");
    assert!(!root().join(&absent[0]).exists(), "the check can fail");
}

#[test]
fn relative_links_in_the_docs_lead_somewhere() {
    let mut files = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    files.extend(
        std::fs::read_dir(root().join("docs"))
            .expect("docs")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md")),
    );
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("doc");
        for link in text.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
            let target = link.split('#').next().unwrap_or("");
            if target.is_empty() || target.contains("://") {
                continue;
            }
            if !file.parent().expect("folder").join(target).exists() {
                broken.push(format!("{}: {link}", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// The `crate::<layer>` paths the Rust files under `host/src/<folder>` use.
fn layers_used(folder: &str) -> Vec<(String, String)> {
    let layers = ["analysis", "artifacts", "stages", "render", "cmd", "pipeline", "runner", "review", "bench"];
    let mut used = Vec::new();
    let path = root().join("host/src").join(folder);
    let files = if path.is_dir() { walk(&path) } else { vec![path] };
    for entry in files {
        let text = std::fs::read_to_string(&entry).expect("source");
        for layer in layers {
            if text.contains(&format!("crate::{layer}::"))
                || text.contains(&format!("crate::{layer}}}"))
                || text.contains(&format!("crate::{layer};"))
            {
                used.push((entry.strip_prefix(root()).expect("inside").display().to_string(), layer.to_string()));
            }
        }
    }
    used
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("folder").filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_layers_import_one_way() {
    // artifacts is the schema: it once re-exported analysis's calibration
    // and suspect types while analysis imported artifacts, a cycle.
    let wrong: Vec<_> = layers_used("artifacts").into_iter().filter(|(_, l)| l != "artifacts").collect();
    assert!(wrong.is_empty(), "artifacts imports another layer: {wrong:?}");
    let wrong: Vec<_> = layers_used("analysis")
        .into_iter()
        .filter(|(_, l)| ["stages", "render", "cmd", "pipeline", "runner"].contains(&l.as_str()))
        .collect();
    assert!(wrong.is_empty(), "analysis imports a layer above it: {wrong:?}");
    let wrong: Vec<_> =
        layers_used("render").into_iter().filter(|(_, l)| ["stages", "cmd", "pipeline", "runner"].contains(&l.as_str())).collect();
    assert!(wrong.is_empty(), "render imports a layer above it: {wrong:?}");
    // ARCHITECTURE.md's chain: cmd -> pipeline, review, bench -> stages ->
    // runner -> artifacts, analysis, render. It once said runner sat above
    // stages while stages imported runner, and stages/forget.rs imported
    // review (for the journal, now an artifact).
    let above = |folder: &str, forbidden: &[&str]| -> Vec<(String, String)> {
        layers_used(folder).into_iter().filter(|(_, l)| forbidden.contains(&l.as_str())).collect()
    };
    let wrong = above("runner.rs", &["stages", "pipeline", "review", "bench", "cmd"]);
    assert!(wrong.is_empty(), "runner imports a layer above it: {wrong:?}");
    let wrong = above("stages", &["pipeline", "review", "bench", "cmd"]);
    assert!(wrong.is_empty(), "a stage imports a layer above it: {wrong:?}");
    let wrong = above("pipeline.rs", &["review", "bench", "cmd"]);
    assert!(wrong.is_empty(), "pipeline imports a layer above it: {wrong:?}");
    let wrong = above("review", &["bench", "cmd"]);
    assert!(wrong.is_empty(), "review imports a layer above it: {wrong:?}");
    // A stage does not call another stage; the one exception is roll,
    // which names each photo the way predict does.
    let wrong: Vec<_> = layers_used("stages")
        .into_iter()
        .filter(|(file, l)| l == "stages" && !file.ends_with("stages/roll.rs") && !file.ends_with("stages/mod.rs"))
        .collect();
    assert!(wrong.is_empty(), "a stage calls another stage: {wrong:?}");
    // The check sees imports: the stages do use the artifacts and the
    // runner (an empty result would pass anything).
    assert!(layers_used("stages").iter().any(|(_, l)| l == "artifacts"), "the check can fail");
    assert!(layers_used("stages").iter().any(|(_, l)| l == "runner"), "the check can fail");
}

/// What `text` names after `prefix` (`rollcall_cli::`, `crate::`): the
/// first word of each path, and each path of a braced list
/// (`use rollcall_cli::{ModelArgs, within}`).
fn named_after(text: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut items = Vec::new();
    for rest in text.split(prefix).skip(1) {
        match rest.strip_prefix('{') {
            Some(list) => items.extend(list.split('}').next().unwrap_or("").split(',').map(|i| ident(i.trim())).filter(|i| !i.is_empty())),
            None => items.push(ident(rest)),
        }
    }
    items
}

#[test]
fn the_device_library_has_typed_errors_and_takes_only_the_shared_flags_from_the_cli_crate() {
    // The device library returned anyhow, through rollcall-cli's model
    // loading. It takes from rollcall-cli the command line both programs
    // share (the model flags, `--classifier`, the named range check), none
    // of which returns anyhow; the rest of rollcall-cli is for main.rs.
    let shared = ["ModelArgs", "EngineKind", "Classifier", "within"];
    let files = walk(&root().join("device/src"));
    assert!(files.len() > 10, "the device's modules: {files:?}");
    let mut wrong = Vec::new();
    let mut used = 0;
    for file in files.iter().filter(|f| !f.ends_with("main.rs")) {
        let text = std::fs::read_to_string(file).expect("source");
        if text.contains("anyhow") {
            wrong.push(format!("{}: anyhow", file.display()));
        }
        for item in named_after(&text, "rollcall_cli::") {
            used += 1;
            if !shared.contains(&item.as_str()) {
                wrong.push(format!("{}: rollcall_cli::{item}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "only device/src/main.rs may use anyhow and the rest of rollcall_cli: {wrong:?}");
    // The check can fail: it sees the shared flags the settings use, and
    // an item outside them.
    assert!(used > 0, "the check can fail");
    assert_eq!(
        named_after("use rollcall_cli::{ModelArgs, exit};\nrollcall_cli::within(", "rollcall_cli::"),
        ["ModelArgs", "exit", "within"]
    );
}

/// For each top-level module of `krate` (a file or a folder of `src/`),
/// the others its code names as `crate::<module>`: comments (doc links)
/// and the `tests` module left out.
fn module_imports(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join(krate).join("src");
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in walk(&src) {
        let rel = file.strip_prefix(&src).expect("inside");
        let top = rel.components().next().map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string()).unwrap_or_default();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let code: Vec<&str> =
            text.split("#[cfg(test)]\nmod tests").next().unwrap_or("").lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        let named = named_after(&code.join("\n"), "crate::");
        imports.entry(top.clone()).or_default().extend(named.into_iter().filter(|m| *m != top));
    }
    imports
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    // device's carry and tracker imported settings' range check while
    // settings imported their rules; models' detector and scan imported
    // each other. `error` aside: it wraps the errors of the modules that
    // return it.
    let mut circles = Vec::new();
    for krate in ["shared", "files", "models", "cli", "host", "device"] {
        let imports = module_imports(krate);
        for (a, used) in &imports {
            for b in used.iter().filter(|b| a < *b && a != "error" && *b != "error") {
                if imports.get(b).is_some_and(|back| back.contains(a)) {
                    circles.push(format!("{krate}: {a} <-> {b}"));
                }
            }
        }
    }
    assert!(circles.is_empty(), "{circles:?}");
    // The check can fail: it sees the imports that replaced the circles.
    let models = module_imports("models");
    assert!(["detector", "scan"].iter().all(|m| models[*m].contains("detection")), "the check can fail: {models:?}");
    assert!(module_imports("device")["carry"].contains("tracker"), "the check can fail");
}

/// `cmd/forget.rs` ran forget, train, the model's writing and export
/// itself, and `review/` trained and exported again its own way: only
/// `pipeline` chains stages. The steps of training and exporting are
/// called from `pipeline.rs` and nowhere above it.
#[test]
fn only_pipeline_chains_train_and_export() {
    let steps = ["train_from_work(", "train_from_table(", "train_with_models(", "write_model_dir(", "export_signed(", "forget::forget("];
    let mut above: Vec<PathBuf> = walk(&root().join("host/src/cmd"));
    above.extend(walk(&root().join("host/src/review")));
    let wrong: Vec<(String, &str)> = above
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("source");
            steps.iter().filter(move |s| text.contains(**s)).map(move |s| (f.display().to_string(), *s)).collect::<Vec<_>>()
        })
        // `rollcall export` is the export stage alone: one step, no chain.
        .filter(|(file, step)| !(file.ends_with("cmd/export.rs") && *step == "export_signed("))
        .collect();
    assert!(wrong.is_empty(), "a command or the review page chains stages itself: {wrong:?}");
    let pipeline = std::fs::read_to_string(root().join("host/src/pipeline.rs")).expect("pipeline");
    let called = ["train_from_table(", "train_with_models(", "write_model_dir(", "export_signed(", "forget::forget("];
    assert!(called.iter().all(|s| pipeline.contains(s)), "the check can fail: pipeline.rs calls the steps");
}

#[test]
fn the_stages_have_no_parallel_loop_of_their_own() {
    // Photo hashing in detect ran on rayon's global pool (ignoring
    // --jobs) and cluster copied chips with its own loop and bar: every
    // parallel loop of a stage goes through runner::each.
    let parallel = |text: &str| {
        ["par_iter", "par_bridge", "broadcast(", "ThreadPoolBuilder", "thread::spawn", "thread::scope"].iter().any(|p| text.contains(p))
    };
    let files = walk(&root().join("host/src/stages"));
    let wrong: Vec<_> = files.iter().filter(|f| parallel(&std::fs::read_to_string(f).expect("source"))).collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    let runner = std::fs::read_to_string(root().join("host/src/runner.rs")).expect("runner");
    assert!(parallel(&runner), "the check can fail: the runner's loop is seen");
}

#[test]
fn the_quick_start_and_the_tests_build_in_one_profile() {
    // The first `scripts/test --fast` after the quick start compiled for 7
    // minutes. The README and docs/tests.md say why (the tests build more,
    // and cargo picks features per build), which stays true while both
    // build in the dev profile: neither names another, and there is no
    // [profile.test] to set the tests apart.
    let read = |p: &str| std::fs::read_to_string(root().join(p)).expect(p);
    let (readme, script, manifest) = (read("README.md"), read("scripts/test"), read("Cargo.toml"));
    let other_profile = |line: &str| line.contains("--release") || line.contains("--profile");
    let quick: Vec<&str> = readme.lines().filter(|l| l.starts_with("cargo run --bin rollcall")).collect();
    let tests: Vec<&str> = script.lines().map(str::trim_start).filter(|l| l.starts_with("cargo test")).collect();
    assert!(!quick.is_empty() && !tests.is_empty(), "the check can fail: {quick:?} {tests:?}");
    assert!(!quick.iter().chain(&tests).any(|l| other_profile(l)), "{quick:?} {tests:?}");
    assert!(!manifest.contains("[profile.test"), "a test profile of its own");
    assert!(readme.contains("compiles again") && read("docs/tests.md").contains("compiles for about"), "the docs say so");
}

#[test]
fn no_doc_comment_holds_an_example_that_would_never_run() {
    // scripts/test leaves rustdoc's doc-test pass out (`--tests`): there
    // were no examples to run. An example added later would never run, so
    // a code block in a doc comment must name a language that is not Rust.
    let not_rust = ["toml", "text", "json", "sh", "console", "ini"];
    let mut blocks = 0;
    let mut rust = Vec::new();
    for krate in ["shared", "files", "models", "host", "device", "cli", "testkit"] {
        for file in walk(&root().join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).expect("source");
            let mut open = false;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_start();
                let Some(fence) =
                    line.strip_prefix("//!").or_else(|| line.strip_prefix("///")).map(str::trim).and_then(|l| l.strip_prefix("```"))
                else {
                    continue;
                };
                if !open {
                    blocks += 1;
                    if !not_rust.contains(&fence) {
                        rust.push(format!("{}:{}", file.display(), n + 1));
                    }
                }
                open = !open;
            }
        }
    }
    assert!(blocks >= 1, "the check can fail: the TOML block in device/src/settings.rs is seen");
    assert!(rust.is_empty(), "doc examples that scripts/test would not run (drop `--tests` there): {rust:?}");
}
