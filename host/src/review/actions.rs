//! What the review page can do, as plain file operations in
//! `WORK/clusters/`: renaming a folder, moving a chip, making or removing a
//! folder. The file-manager way keeps working, and `train` needs nothing
//! new.
//!
//! Every action becomes a list of [`Op`]s, applied in order and written to
//! the journal (`WORK/review-journal.jsonl`, append-only) before the call
//! returns; undo applies the inverse list of the last action not yet undone
//! and journals that too, so undo survives a reload and a restart.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::artifacts::clusters::OUTLIER_FOLDER;
pub use crate::artifacts::journal::{Entry, Journal, Op};
use crate::artifacts::people::{is_junk, name_key};

/// Where moved faces go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "folder")]
pub enum Target {
    /// An existing person folder.
    Person(String),
    /// A new person (a split).
    New,
    /// The `unknown` folder (strangers; `train` leaves it out).
    Unknown,
}

/// A user's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Give a person folder a name.
    Name { folder: String, name: String },
    /// Move every face of `from` into `into`.
    Merge { from: String, into: String },
    /// Move faces (`folder/file`) to a target.
    Move { faces: Vec<String>, to: Target },
    /// Mark a whole folder as junk (`train` leaves it out).
    Junk { folder: String },
    /// Undo the last action not yet undone.
    Undo,
}

impl Action {
    /// Words for the journal and the page.
    pub fn describe(&self) -> String {
        match self {
            Action::Name { folder, name } => format!("named {folder} {name}"),
            Action::Merge { from, into } => format!("merged {from} into {into}"),
            Action::Move { faces, to } => format!(
                "moved {} to {}",
                if faces.len() == 1 { "1 face".to_string() } else { format!("{} faces", faces.len()) },
                match to {
                    Target::Person(p) => p.as_str(),
                    Target::New => "a new person",
                    Target::Unknown => "unknown",
                }
            ),
            Action::Junk { folder } => format!("marked {folder} as junk"),
            Action::Undo => "undo".into(),
        }
    }
}

/// Checks a name the user typed against the one rule on names
/// ([`rollcall_shared::names`]), giving it in NFC; why not, in the page's
/// words (its buttons, not the command line's folder names).
pub fn check_name(name: &str) -> Result<String, String> {
    use rollcall_shared::names::NameError;
    rollcall_shared::names::check(name).map_err(|why| match why {
        NameError::Reserved(word) => format!(
            "`{word}` is not a name: for strangers, select their faces and move them to \"unknown\"; for a group that is \
             nobody, press \"Mark as junk\""
        ),
        NameError::Marker => "a name cannot start with _ or . (those mark groups that are nobody)".to_string(),
        why => why.to_string(),
    })
}

/// Folders rollcall keeps for itself: hidden ones (`.rollcall-staging`)
/// and the outliers, which are faces, not a person.
fn is_reserved(folder: &str) -> bool {
    folder.starts_with('.') || folder == OUTLIER_FOLDER
}

/// A folder name under `root` starting with `base` that is free.
fn free_name(root: &Path, base: &str, taken: &[String]) -> String {
    let mut n = 1;
    loop {
        let name = if n == 1 && !base.ends_with('_') { base.to_string() } else { format!("{base}{n}") };
        if !root.join(&name).exists() && !taken.contains(&name) {
            return name;
        }
        n += 1;
    }
}

/// A folder name the page may act on: one level, no tricks.
fn check_folder(root: &Path, folder: &str) -> Result<(), String> {
    if folder.is_empty() || folder.contains(['/', '\\']) || folder == "." || folder == ".." || folder.chars().any(char::is_control) {
        return Err(format!("`{folder}` is not a folder name"));
    }
    if !root.join(folder).is_dir() {
        return Err(format!("there is no folder {folder}"));
    }
    Ok(())
}

fn files_of(root: &Path, folder: &str) -> Result<Vec<String>, String> {
    let mut files: Vec<String> = std::fs::read_dir(root.join(folder))
        .map_err(|e| format!("{folder}: {e}"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    files.sort();
    Ok(files)
}

/// The operations an action makes in `root` (`clusters/`), checked against
/// what is there.
pub fn plan(root: &Path, action: &Action, junk: &[String]) -> Result<Vec<Op>, String> {
    match action {
        Action::Name { folder, name } => plan_name(root, folder, name, junk),
        Action::Merge { from, into } => plan_merge(root, from, into),
        Action::Move { faces, to } => plan_move(root, faces, to),
        Action::Junk { folder } => plan_junk(root, folder, junk),
        Action::Undo => Err("undo is not planned".into()),
    }
}

fn plan_name(root: &Path, folder: &str, name: &str, junk: &[String]) -> Result<Vec<Op>, String> {
    check_folder(root, folder)?;
    if is_reserved(folder) {
        return Err(format!("{folder} is rollcall's own folder, not a person; move its faces to a person instead"));
    }
    // A junk or strangers' folder may be named too: that is how a group
    // marked as junk by mistake becomes a person again.
    let name = check_name(name)?;
    if is_junk(&name, junk) {
        return Err(format!("`{name}` is not a name: for a group that is nobody, press \"Mark as junk\""));
    }
    let key = name_key(&name);
    let same = std::fs::read_dir(root)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|other| other != folder && name_key(other) == key);
    if let Some(other) = same {
        return Err(format!("there is already a folder named {other}; merge the two instead"));
    }
    Ok(vec![Op::Rename { from: folder.to_string(), to: name }])
}

fn plan_merge(root: &Path, from: &str, into: &str) -> Result<Vec<Op>, String> {
    check_folder(root, from)?;
    check_folder(root, into)?;
    if from.starts_with('.') || is_reserved(into) {
        return Err(format!("{} is rollcall's own folder", if from.starts_with('.') { from } else { into }));
    }
    if from == into {
        return Err("a person cannot be merged with themselves".into());
    }
    let mut ops: Vec<Op> = Vec::new();
    let mut taken = Vec::new();
    for f in files_of(root, from)? {
        // Same-named files (a user's note in both) keep both.
        let target = if root.join(into).join(&f).exists() { free_name(&root.join(into), &format!("{f}_"), &taken) } else { f.clone() };
        taken.push(target.clone());
        ops.push(Op::Rename { from: format!("{from}/{f}"), to: format!("{into}/{target}") });
    }
    ops.push(Op::RemoveDir { dir: from.to_string() });
    Ok(ops)
}

fn plan_move(root: &Path, faces: &[String], to: &Target) -> Result<Vec<Op>, String> {
    if faces.is_empty() {
        return Err("no faces selected".into());
    }
    let mut ops = Vec::new();
    let dest = match to {
        Target::Person(p) => {
            check_folder(root, p)?;
            p.clone()
        }
        Target::New => {
            let name = free_name(root, "person_new_", &[]);
            ops.push(Op::MakeDir { dir: name.clone() });
            name
        }
        Target::Unknown => {
            if !root.join("unknown").is_dir() {
                ops.push(Op::MakeDir { dir: "unknown".into() });
            }
            "unknown".into()
        }
    };
    for face in faces {
        let Some((folder, file)) = face.split_once('/') else { return Err(format!("`{face}` is not folder/file")) };
        check_folder(root, folder)?;
        if folder.starts_with('.') {
            return Err(format!("{folder} is rollcall's own folder"));
        }
        if file.is_empty() || file.contains(['/', '\\']) || !root.join(folder).join(file).is_file() {
            return Err(format!("{face} is not there any more"));
        }
        if folder == dest {
            continue;
        }
        ops.push(Op::Rename { from: face.clone(), to: format!("{dest}/{file}") });
    }
    // A group the move empties goes, folder and all, when nothing else is
    // in it (a note of the user's keeps it): an empty card would be a dead
    // end, an unnamed group that `train` refuses. Undo makes it again.
    let mut emptied: Vec<&str> = Vec::new();
    for face in faces {
        let Some((folder, _)) = face.split_once('/') else { continue };
        if folder == dest || is_reserved(folder) || emptied.contains(&folder) {
            continue;
        }
        let all_moved = files_of(root, folder)?.iter().all(|f| faces.iter().any(|m| *m == format!("{folder}/{f}")));
        if all_moved {
            emptied.push(folder);
            ops.push(Op::RemoveDir { dir: folder.to_string() });
        }
    }
    Ok(ops)
}

fn plan_junk(root: &Path, folder: &str, junk: &[String]) -> Result<Vec<Op>, String> {
    check_folder(root, folder)?;
    if folder.starts_with('.') {
        return Err(format!("{folder} is rollcall's own folder"));
    }
    if is_junk(folder, junk) {
        return Err(format!("{folder} is junk already"));
    }
    Ok(vec![Op::Rename { from: folder.to_string(), to: free_name(root, &format!("_junk_{folder}"), &[]) }])
}

/// Applies `ops` in order after checking each against what is there then;
/// on a failure midway, what was applied is rolled back.
pub fn apply(root: &Path, ops: &[Op]) -> Result<(), String> {
    let mut done: Vec<&Op> = Vec::new();
    for op in ops {
        let result = check(op, root).and_then(|()| apply_one(op, root).map_err(|e| e.to_string()));
        if let Err(why) = result {
            for d in done.iter().rev() {
                let _ = apply_one(&d.inverse(), root);
            }
            return Err(why);
        }
        done.push(op);
    }
    Ok(())
}

/// Checks the operation can be applied now: the source is there and the
/// target is not.
fn check(op: &Op, root: &Path) -> Result<(), String> {
    match op {
        Op::Rename { from, to } => {
            if !root.join(from).exists() {
                return Err(format!("{from} is not there any more"));
            }
            if root.join(to).exists() {
                return Err(format!("{to} exists already"));
            }
        }
        Op::MakeDir { dir } => {
            if root.join(dir).exists() {
                return Err(format!("{dir} exists already"));
            }
        }
        Op::RemoveDir { dir } => {
            let empty = std::fs::read_dir(root.join(dir)).map(|mut d| d.next().is_none()).unwrap_or(false);
            if !empty {
                return Err(format!("{dir} is not an empty folder"));
            }
        }
    }
    Ok(())
}

fn apply_one(op: &Op, root: &Path) -> std::io::Result<()> {
    match op {
        Op::Rename { from, to } => std::fs::rename(root.join(from), root.join(to)),
        Op::MakeDir { dir } => {
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, rollcall_files::PRIVATE_DIR);
            builder.create(root.join(dir))
        }
        Op::RemoveDir { dir } => std::fs::remove_dir(root.join(dir)),
    }
}

/// Plans, applies and journals `action` in `root`.
pub fn act(journal: &mut Journal, root: &Path, action: &Action, junk: &[String]) -> Result<String, String> {
    if *action == Action::Undo {
        let last = journal.undoable().cloned().ok_or("nothing to undo")?;
        let inverse: Vec<Op> = last.ops.iter().rev().map(Op::inverse).collect();
        apply(root, &inverse).map_err(|why| format!("cannot undo `{}`: {why} (changed since?)", last.what))?;
        let what = format!("undid: {}", last.what);
        journal.append(what.clone(), inverse, Some(last.id)).map_err(|e| e.to_string())?;
        return Ok(what);
    }
    let ops = plan(root, action, junk)?;
    apply(root, &ops)?;
    let what = action.describe();
    journal.append(what.clone(), ops, None).map_err(|e| e.to_string())?;
    Ok(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
            let e = e.expect("entry");
            out.push(e.path().strip_prefix(root).expect("under root").to_string_lossy().into_owned());
        }
        out
    }

    #[test]
    fn names_are_checked_and_non_ascii_is_fine() {
        for bad in ["", "  ", "a/b", "..", ".", "_x", "x\u{7}", "a\\b", "Ann\u{FE0F}", "ｕnknown"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_name(" Zoë "), Ok("Zoë".to_string()));
        assert_eq!(check_name("李雷"), Ok("李雷".to_string()));
    }

    #[test]
    fn every_action_undoes_exactly_and_the_journal_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("clusters");
        for (folder, files) in
            [("person_1", &["a.png", "b.png"][..]), ("person_2", &["c.png", "note.txt"][..]), ("person_3", &["note.txt"][..])]
        {
            std::fs::create_dir_all(root.join(folder)).expect("mkdir");
            for f in files {
                std::fs::write(root.join(folder).join(f), folder).expect("write");
            }
        }
        let journal_path = dir.path().join("journal.jsonl");
        let junk = crate::artifacts::people::default_junk();
        let start = tree(&root);
        let mut j = Journal::open(&journal_path);
        let actions = [
            Action::Name { folder: "person_1".into(), name: "Zoë".into() },
            Action::Merge { from: "person_3".into(), into: "person_2".into() },
            Action::Move { faces: vec!["Zoë/a.png".into()], to: Target::New },
            Action::Move { faces: vec!["person_2/c.png".into()], to: Target::Unknown },
            Action::Junk { folder: "person_2".into() },
        ];
        let mut trees = vec![start.clone()];
        for a in &actions {
            act(&mut j, &root, a, &junk).unwrap_or_else(|e| panic!("{a:?}: {e}"));
            trees.push(tree(&root));
        }
        assert!(trees[2].contains(&"person_2/note.txt_1".to_string()), "both notes kept: {:?}", trees[2]);
        assert!(trees[5].iter().any(|p| p.starts_with("_junk_person_2")), "{:?}", trees[5]);
        // Undo from a reopened journal, step by step back to the start.
        let mut j = Journal::open(&journal_path);
        for k in (0..actions.len()).rev() {
            act(&mut j, &root, &Action::Undo, &junk).expect("undo");
            assert_eq!(tree(&root), trees[k], "after undoing action {k}");
        }
        assert!(act(&mut j, &root, &Action::Undo, &junk).is_err(), "nothing left to undo");
        assert_eq!(tree(&root), start);
    }

    #[test]
    fn stale_or_unsafe_requests_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("clusters");
        std::fs::create_dir_all(root.join("person_1")).expect("mkdir");
        std::fs::create_dir_all(root.join("Robin")).expect("mkdir");
        let junk = crate::artifacts::people::default_junk();
        let mut j = Journal::open(&dir.path().join("j.jsonl"));
        for bad in [
            Action::Name { folder: "person_1".into(), name: "Robin".into() },
            Action::Name { folder: "../clusters".into(), name: "x".into() },
            Action::Name { folder: "person_9".into(), name: "x".into() },
            Action::Move { faces: vec!["person_1/../../etc".into()], to: Target::Unknown },
            Action::Name { folder: "person_1".into(), name: "junk".into() },
        ] {
            assert!(act(&mut j, &root, &bad, &junk).is_err(), "{bad:?}");
        }
        assert_eq!(tree(&root), ["Robin", "person_1"]);
        assert!(j.entries().is_empty());
    }

    /// Moving every face out of a group left its folder behind: a card with
    /// no faces that, unnamed, made `train` refuse. A group holding nothing
    /// after a move goes with it (and comes back with undo); one holding a
    /// note of the user's stays.
    #[test]
    fn regression_a_group_emptied_by_a_move_stayed_as_an_empty_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("clusters");
        for (folder, files) in [("person_1", &["a.png"][..]), ("person_2", &["b.png", "note.txt"][..]), ("person_3", &["c.png"][..])] {
            std::fs::create_dir_all(root.join(folder)).expect("mkdir");
            for f in files {
                std::fs::write(root.join(folder).join(f), folder).expect("write");
            }
        }
        let junk = crate::artifacts::people::default_junk();
        let mut j = Journal::open(&dir.path().join("j.jsonl"));
        let start = tree(&root);
        let faces = vec!["person_1/a.png".to_string(), "person_2/b.png".to_string()];
        act(&mut j, &root, &Action::Move { faces, to: Target::Person("person_3".into()) }, &junk).expect("move");
        assert_eq!(tree(&root), ["person_2", "person_2/note.txt", "person_3", "person_3/a.png", "person_3/b.png", "person_3/c.png"]);
        act(&mut j, &root, &Action::Undo, &junk).expect("undo");
        assert_eq!(tree(&root), start);
    }

    /// A group marked as junk (or the strangers' `unknown`) had no way back
    /// but undo: naming it was refused. Naming it now makes it a person.
    #[test]
    fn regression_a_group_marked_as_junk_could_not_be_named_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("clusters");
        for folder in ["person_1", "unknown", "_outliers"] {
            std::fs::create_dir_all(root.join(folder)).expect("mkdir");
        }
        let junk = crate::artifacts::people::default_junk();
        let mut j = Journal::open(&dir.path().join("j.jsonl"));
        act(&mut j, &root, &Action::Junk { folder: "person_1".into() }, &junk).expect("junk");
        act(&mut j, &root, &Action::Name { folder: "_junk_person_1".into(), name: "Ann".into() }, &junk).expect("named back");
        act(&mut j, &root, &Action::Name { folder: "unknown".into(), name: "Bob".into() }, &junk).expect("strangers named");
        assert!(act(&mut j, &root, &Action::Name { folder: "_outliers".into(), name: "Cy".into() }, &junk).is_err(), "rollcall's own");
        assert_eq!(tree(&root), ["Ann", "Bob", "_outliers"]);
    }
}
