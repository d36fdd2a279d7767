//! Git as a source, read in-process with `gix`: what the index will commit (`staged`), and every
//! blob that history introduced (`history`, `pre-push`), each distinct blob read and scanned once
//! and its findings attributed to the oldest commit that introduced it at that path.
//!
//! One module per job: `index` reads the index file, `staged` diffs it against `HEAD`, `history`
//! walks commits, `renames` pairs moved files, `attribution` names the commits findings came from,
//! `parallel` is the one worker pool, `progress` the terminal progress line.

mod attribution;
mod history;
mod index;
mod parallel;
mod places;
mod progress;
mod renames;
mod resident;
mod shard;
mod staged;
mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;

use gix::ObjectId;

pub use history::{remote_tips, scan_history, HistoryCounters, HistoryScan, Revisions};
pub use shard::Shard;
pub use staged::{scan_changes, staged_changes, Change, Staged};
pub use state::{settings_digest, Incremental, State, StateError};

use super::fs::Counters;
use super::Event;
use crate::report::Finding;
use crate::rules::one_line;

/// The first bytes of a Git LFS pointer file: its content lives elsewhere, so there is nothing here
/// to scan, and the pointer itself holds only a hash.
const LFS_POINTER: &[u8] = b"version https://git-lfs.github.com/spec/v1";
/// Pointer files are tiny; anything larger that starts like one is scanned like any other file.
const LFS_POINTER_MAX: usize = 1024;

/// A failure to read the repository itself (not one blob): the command ends with exit 2.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("'{}' is not in a git repository ({reason})", path.display())]
    NotARepository { path: PathBuf, reason: String },
    #[error("cannot read {what}: {reason}")]
    Read { what: String, reason: String },
    #[error("bad revision '{spec}': {reason}")]
    Revision { spec: String, reason: String },
    /// A bug in hush, not a problem with the repository: a worker thread panicked.
    #[error("internal error while {0}: a worker thread panicked (please report this bug)")]
    Internal(&'static str),
}

fn read_error(what: impl Into<String>, e: &dyn std::fmt::Display) -> GitError {
    GitError::Read {
        what: what.into(),
        reason: one_line(e),
    }
}

/// Opens the repository that contains `dir` (like `git -C dir`).
pub fn open(dir: &Path) -> Result<gix::Repository, GitError> {
    // Absolute, so that messages name hook files and repositories unambiguously.
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    gix::discover(absolute).map_err(|e| GitError::NotARepository {
        path: dir.to_path_buf(),
        reason: one_line(&e),
    })
}

/// Where config and `.hushignore` are looked up: the working tree, or the git dir of a bare repo.
pub fn root(repo: &gix::Repository) -> PathBuf {
    repo.workdir()
        .unwrap_or_else(|| repo.git_dir())
        .to_path_buf()
}

/// How a blob larger than `--max-file-size` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// Skipped with a warning and counted (`scan`, `history`): a report says what it did not read.
    Skip,
    /// Read and scanned all the same, up to `GUARD_MAX_BLOB` bytes; a larger blob is an error
    /// that blocks (`staged` and the hooks): a guard never passes content it did not read.
    Read,
}

/// The largest blob a guard reads (a blob is inflated whole in memory). Larger files belong in
/// Git LFS; committing one needs `--no-verify`, after checking it by other means.
pub const GUARD_MAX_BLOB: u64 = 512 * 1024 * 1024;

/// The blob `id`, or `None` when it is over `max` bytes and `oversize` says to skip it (then
/// only its header is read). `what` names it for an error, e.g. "blob … of 'path'".
fn read_blob<'r>(
    repo: &'r gix::Repository,
    id: ObjectId,
    max: u64,
    oversize: Oversize,
    what: impl Fn() -> String,
) -> Result<Option<gix::Blob<'r>>, GitError> {
    if oversize == Oversize::Read {
        return guard_blob(repo, id, GUARD_MAX_BLOB, what).map(Some);
    }
    let header = repo.find_header(id).map_err(|e| read_error(what(), &e))?;
    if header.size() > max {
        return Ok(None);
    }
    let blob = repo.find_blob(id).map_err(|e| read_error(what(), &e))?;
    Ok(Some(blob))
}

/// The blob `id` whatever its size up to `ceiling` (`GUARD_MAX_BLOB`); a larger one is an
/// error that says how to proceed.
fn guard_blob<'r>(
    repo: &'r gix::Repository,
    id: ObjectId,
    ceiling: u64,
    what: impl Fn() -> String,
) -> Result<gix::Blob<'r>, GitError> {
    let size = repo
        .find_header(id)
        .map_err(|e| read_error(what(), &e))?
        .size();
    if size > ceiling {
        return Err(GitError::Read {
            what: what(),
            reason: format!(
                "it is {size} bytes, more than hush reads in a commit guard ({ceiling} bytes); \
                 store it with Git LFS, or check it by other means and bypass once with \
                 --no-verify"
            ),
        });
    }
    repo.find_blob(id).map_err(|e| read_error(what(), &e))
}

/// A Git LFS pointer: small, starts with the spec line, and holds nothing but pointer keys (so a
/// file that merely starts like one, to slip a secret past, is still scanned).
fn is_lfs_pointer(data: &[u8]) -> bool {
    data.len() <= LFS_POINTER_MAX
        && data.starts_with(LFS_POINTER)
        && data
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .all(|line| {
                [&b"version "[..], b"oid sha256:", b"size ", b"ext-"]
                    .iter()
                    .any(|key| line.starts_with(key))
            })
}

/// Counts a blob that was read.
fn count_read(counters: &Counters, len: usize) {
    counters.files.fetch_add(1, Ordering::Relaxed);
    counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
}

fn send_findings(events: &Sender<Event>, findings: Vec<Finding>) {
    if !findings.is_empty() {
        send(events, Event::Findings(findings));
    }
}

fn send(events: &Sender<Event>, event: Event) {
    // The receiver outlives the scan; a send fails only if the report writer died, and then its
    // own error is what gets reported.
    let _ = events.send(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_genuine_lfs_pointers_are_skipped() {
        let pointer = b"version https://git-lfs.github.com/spec/v1\n\
            oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n\
            size 12345\n";
        assert!(is_lfs_pointer(pointer));
        let mut smuggled = pointer.to_vec();
        smuggled.extend_from_slice(b"token = abc\n");
        assert!(!is_lfs_pointer(&smuggled));
    }

    #[test]
    fn a_guard_reads_past_the_size_limit_up_to_its_ceiling_then_refuses() {
        let dir = tempfile::TempDir::new().unwrap();
        let repo = gix::init(dir.path()).unwrap();
        let id = repo.write_blob(vec![b'x'; 100]).unwrap().detach();
        let what = || "blob of 'big'".to_string();
        assert!(read_blob(&repo, id, 10, Oversize::Skip, what)
            .unwrap()
            .is_none());
        let read = read_blob(&repo, id, 10, Oversize::Read, what).unwrap();
        assert_eq!(read.map(|b| b.data.len()), Some(100));
        let Err(refused) = guard_blob(&repo, id, 99, what) else {
            panic!("a blob over the ceiling was read");
        };
        let refused = refused.to_string();
        assert!(refused.contains("blob of 'big'"), "{refused}");
        assert!(
            refused.contains("100 bytes") && refused.contains("--no-verify"),
            "{refused}"
        );
    }
}
