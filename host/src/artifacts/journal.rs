//! The review page's journal, `WORK/review-journal.jsonl`: one JSON line
//! per action, append-only, each with the file operations ([`Op`]) it made
//! in `WORK/clusters/`, so that undo survives a reload and a restart, and
//! `rollcall forget` can drop the entries that name a person. The page
//! (`review::actions`) plans and applies the operations; this is the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::artifacts::people::name_key;
use crate::error::{Error, Result};

/// The journal's file name in the work directory.
pub const JOURNAL: &str = "review-journal.jsonl";

/// One file operation, paths relative to `clusters/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Rename { from: String, to: String },
    MakeDir { dir: String },
    RemoveDir { dir: String },
}

impl Op {
    /// The folders under `clusters/` the operation touches (a path's first
    /// part: `Ann` of `Ann/chip.png`).
    pub(crate) fn folders(&self) -> impl Iterator<Item = &str> {
        let (a, b) = match self {
            Op::Rename { from, to } => (from.as_str(), Some(to.as_str())),
            Op::MakeDir { dir } | Op::RemoveDir { dir } => (dir.as_str(), None),
        };
        [Some(a), b].into_iter().flatten().filter_map(|p| p.split('/').next())
    }

    /// The operation that undoes this one.
    pub fn inverse(&self) -> Op {
        match self {
            Op::Rename { from, to } => Op::Rename { from: to.clone(), to: from.clone() },
            Op::MakeDir { dir } => Op::RemoveDir { dir: dir.clone() },
            Op::RemoveDir { dir } => Op::MakeDir { dir: dir.clone() },
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Sequence number, from 1.
    pub id: u64,
    /// Seconds since the epoch.
    pub ts: f64,
    /// In words.
    pub what: String,
    pub ops: Vec<Op>,
    /// The entry this one undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<u64>,
}

/// The append-only journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl Journal {
    /// Drops the entries of the journal at `path` whose operations touch a
    /// folder called any of `names` (`rollcall forget`), written any way
    /// the one rule on names counts as the same name (`ann` for `Ann`, but
    /// not `Anna`), rewriting it atomically; returns how many lines went. A
    /// torn line (a crash mid-write) cannot be parsed, so it goes when it
    /// holds one of the names as text. No journal, nothing to drop.
    pub fn scrub(path: &Path, names: &[&str]) -> Result<usize> {
        let text = match rollcall_shared::regular::read_to_string(path, rollcall_shared::regular::cap::TABLE, "journal") {
            Ok(text) => text,
            Err(rollcall_shared::regular::RegularError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::Read { path: path.to_path_buf(), source: e.into() }),
        };
        let names: Vec<&str> = names.iter().copied().filter(|n| !n.trim().is_empty()).collect();
        let keys: Vec<String> = names.iter().map(|n| name_key(n)).collect();
        let as_text: Vec<String> = names
            .iter()
            .flat_map(|n| [n.to_string(), serde_json::to_string(n).unwrap_or_default().trim_matches('"').to_string()])
            .collect();
        let names_them = |line: &&str| match serde_json::from_str::<Entry>(line) {
            Ok(entry) => entry.ops.iter().flat_map(Op::folders).any(|f| keys.contains(&name_key(f))),
            Err(_) => as_text.iter().any(|n| !n.is_empty() && line.contains(n.as_str())),
        };
        let (gone, kept): (Vec<&str>, Vec<&str>) = text.lines().partition(names_them);
        if !gone.is_empty() {
            let kept: String = kept.iter().map(|l| format!("{l}\n")).collect();
            crate::artifacts::io::write_atomic(path, kept.as_bytes())?;
        }
        Ok(gone.len())
    }

    /// Reads the journal at `path` (a torn last line is skipped).
    pub fn open(path: &Path) -> Journal {
        let entries = rollcall_shared::regular::read_to_string(path, rollcall_shared::regular::cap::TABLE, "journal")
            .map(|t| t.lines().filter_map(|l| serde_json::from_str::<Entry>(l).ok()).collect())
            .unwrap_or_default();
        Journal { path: path.to_path_buf(), entries }
    }

    /// Appends an entry (`what` in words, the `ops` made, the entry it
    /// undoes) and writes it to the file before returning it.
    pub fn append(&mut self, what: String, ops: Vec<Op>, undoes: Option<u64>) -> Result<&Entry> {
        use std::io::Write;
        let id = self.entries.last().map_or(1, |e| e.id + 1);
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let entry = Entry { id, ts, what, ops, undoes };
        let mut line = serde_json::to_string(&entry).map_err(|source| Error::Json { path: self.path.clone(), source })?;
        line.push('\n');
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, rollcall_files::PRIVATE_FILE);
        let mut f = options.open(&self.path).map_err(Error::write(&self.path))?;
        f.write_all(line.as_bytes()).and_then(|()| f.sync_data()).map_err(Error::write(&self.path))?;
        self.entries.push(entry);
        Ok(self.entries.last().expect("just pushed"))
    }

    /// The last action that is not undone and not itself an undo.
    pub fn undoable(&self) -> Option<&Entry> {
        let undone: std::collections::HashSet<u64> = self.entries.iter().filter_map(|e| e.undoes).collect();
        self.entries.iter().rev().find(|e| e.undoes.is_none() && !undone.contains(&e.id))
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}
