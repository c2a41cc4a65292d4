//! The docs stay true: every path `ARCHITECTURE.md` names in backticks
//! exists, and every relative link in the README and `docs/` leads to a
//! file that exists.

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
    assert!(named_paths("`host/src/nothing_here.rs`").iter().all(|p| !root().join(p).exists()), "the check can fail");
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
