//! `hush staged` and the pre-commit hook: what the index will commit, compared with `HEAD`'s
//! tree, and only the lines that change adds. The index and the tree are both sorted by path, so
//! they are merged in one pass, as git's own diff does, and directories the index's cache-tree
//! shows unchanged are passed over whole: cost follows the change, not the repository.

use std::collections::HashMap;
use std::iter::Peekable;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;

use gix::bstr::{BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::objs::TreeRefIter;
use gix::ObjectId;

use super::index::{self, CacheTree, Entry};
use super::parallel::Reads;
use super::renames::{best_source, pair_exact};
use super::{
    count_read, guard_blob, is_lfs_pointer, parallel, read_error, send, send_findings, GitError,
};
use crate::report::{Finding, Location};
use crate::source::fs::Counters;
use crate::source::{Event, Examiner};

/// One path whose staged content differs from what `HEAD` has there.
#[derive(Debug, Clone)]
pub struct Change {
    pub path: BString,
    /// The staged blob.
    pub id: ObjectId,
    /// What the path held in `HEAD` (and in each `MERGE_HEAD` during a merge), or, for a
    /// rename, what the old path held: only lines added relative to every one of them are new.
    /// Empty for new content at a new path.
    pub bases: Vec<ObjectId>,
    /// For a rename: the path, now gone from the index, that this file was moved from.
    pub renamed_from: Option<BString>,
}

impl Change {
    /// Whether the path is new to the repository (a sensitive file name then blocks on its own).
    fn is_new_path(&self) -> bool {
        self.bases.is_empty() && self.renamed_from.is_none()
    }
}

/// What the index would commit: the changed paths, and the committed files the index no longer
/// has, which may be where a new path was moved from (with edits).
pub struct Staged {
    pub changes: Vec<Change>,
    gone: Vec<Gone>,
}

impl Staged {
    /// The change of the named paths alone, if every name is a path the change adds or
    /// modifies (`None` otherwise).
    pub fn only(self, names: &[String]) -> Option<Staged> {
        let named: std::collections::HashSet<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        let changes: Vec<Change> = self
            .changes
            .into_iter()
            .filter(|c| named.contains(c.path.as_slice()))
            .collect();
        let found: std::collections::HashSet<&[u8]> =
            changes.iter().map(|c| c.path.as_slice()).collect();
        (found.len() == named.len()).then_some(Staged {
            changes,
            gone: self.gone,
        })
    }
}

/// A file `HEAD` has and the index does not.
struct Gone {
    id: ObjectId,
    path: BString,
}

/// Compares the index with `HEAD`'s tree (an empty tree when `HEAD` is unborn): added and
/// modified regular files only. Deletions scan nothing; symlinks and submodules are skipped;
/// exact renames of committed content are paired here, renames with edits when their content is
/// judged (`scan_changes`). A copy is new content at a new path, as `git diff --cached` shows it.
pub fn staged_changes(
    repo: &gix::Repository,
    warnings: &mut Vec<String>,
) -> Result<Staged, GitError> {
    let (index, cache_tree) = index::load(repo)?;
    let head_tree = repo
        .head_tree_id_or_empty()
        .map_err(|e| read_error("HEAD", &e))?
        .detach();
    let mut repo = repo.clone();
    parallel::with_caches(&mut repo, Reads::Repeated);
    let mut merge = Merge {
        repo: &repo,
        entries: index.entries().peekable(),
        changes: Vec::new(),
        gone: Vec::new(),
        unmerged: Vec::new(),
    };
    merge.tree(head_tree, &mut BString::default(), cache_tree.as_ref())?;
    merge.additions_while(|_| true);
    let Merge {
        mut changes,
        gone,
        unmerged,
        ..
    } = merge;
    for path in unmerged {
        warnings.push(format!(
            "'{}' has unresolved merge conflicts; resolve and stage it to have it scanned",
            path.to_str_lossy()
        ));
    }
    let gone = pair_exact_renames(&mut changes, gone);
    merge_heads(&repo, &mut changes)?;
    Ok(Staged { changes, gone })
}

/// The merge of the sorted index entries with a walk of `HEAD`'s tree in the same order.
struct Merge<'r, I: Iterator> {
    repo: &'r gix::Repository,
    entries: Peekable<I>,
    changes: Vec<Change>,
    gone: Vec<Gone>,
    unmerged: Vec<BString>,
}

impl<'r, 'i, I: Iterator<Item = Entry<'i>>> Merge<'r, I> {
    /// Merges the tree `tree_id` at `prefix` (`""` or `dir/`) with the index entries below it.
    fn tree(
        &mut self,
        tree_id: ObjectId,
        prefix: &mut BString,
        cache: Option<&CacheTree>,
    ) -> Result<(), GitError> {
        if let Some(cache) = cache.filter(|c| c.id == Some(tree_id)) {
            // The index holds this directory exactly as committed.
            return self.skip_unchanged(prefix, cache.entries);
        }
        if tree_id == ObjectId::empty_tree(tree_id.kind()) {
            return Ok(());
        }
        let what = || format!("tree {tree_id}");
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(|e| read_error(what(), &e))?;
        let len = prefix.len();
        for entry in TreeRefIter::from_bytes(&tree.data, tree_id.kind()) {
            let entry = entry.map_err(|e| read_error(what(), &e))?;
            prefix.extend_from_slice(entry.filename);
            let kind = entry.mode.kind();
            if kind == EntryKind::Tree {
                prefix.push(b'/');
                self.additions_while(|path| path < prefix.as_slice());
                // A sparse index keeps an unexpanded directory as one entry: it is not checked
                // out, so nothing in it can have been staged.
                let sparse = self
                    .entries
                    .next_if(|e| e.path == prefix.as_slice() && e.mode == 0o040000);
                if sparse.is_none() {
                    let child = cache.and_then(|c| c.child(entry.filename));
                    self.tree(entry.oid.to_owned(), prefix, child)?;
                    self.additions_while(|path| path.starts_with(prefix));
                }
            } else {
                self.additions_while(|path| path < prefix.as_slice());
                self.compare(prefix, entry.oid.to_owned(), kind);
            }
            prefix.truncate(len);
        }
        Ok(())
    }

    /// Passes over the `count` entries of an unchanged directory at `prefix`, stepping over them
    /// undecoded; an entry count that does not match the entries (a corrupt index) is an error,
    /// never a reason to pass over a change.
    fn skip_unchanged(&mut self, prefix: &BString, count: usize) -> Result<(), GitError> {
        let under = |e: &Entry| e.path.starts_with(prefix);
        let fits = match count {
            0 => true,
            1 => self.entries.next_if(under).is_some(),
            n => {
                self.entries.nth(n - 2).as_ref().is_some_and(under)
                    && self.entries.next_if(under).is_some()
            }
        };
        if !fits {
            return Err(GitError::Read {
                what: "the index".into(),
                reason: format!(
                    "its cache-tree counts {count} entries under '{prefix}' that are not there \
                     (run 'git write-tree' to rebuild it)"
                ),
            });
        }
        while self.entries.next_if(under).is_some() {}
        Ok(())
    }

    /// The index entries at `path`, which `HEAD` has as `(id, kind)`.
    fn compare(&mut self, path: &BString, id: ObjectId, kind: EntryKind) {
        let committed_blob = matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable);
        let Some(entry) = self.entries.next_if(|e| e.path == path.as_slice()) else {
            if committed_blob {
                self.gone.push(Gone {
                    id,
                    path: path.clone(),
                });
            }
            return;
        };
        if entry.stage != 0 {
            self.conflict(entry);
            return;
        }
        if !is_regular(&entry) || entry.id == id.as_ref() {
            return;
        }
        self.changes.push(Change {
            path: path.clone(),
            id: entry.id.to_owned(),
            // Content that replaces a symlink or a submodule is all new.
            bases: if committed_blob { vec![id] } else { Vec::new() },
            renamed_from: None,
        });
    }

    /// Takes the entries whose paths satisfy `take` (a prefix of the sorted entries) as
    /// paths `HEAD` does not have.
    fn additions_while(&mut self, take: impl Fn(&[u8]) -> bool) {
        while let Some(entry) = self.entries.next_if(|e| take(e.path)) {
            if entry.stage != 0 {
                self.conflict(entry);
            } else if is_regular(&entry) {
                self.changes.push(Change {
                    path: entry.path.into(),
                    id: entry.id.to_owned(),
                    bases: Vec::new(),
                    renamed_from: None,
                });
            }
        }
    }

    /// An unmerged path: its other stages are passed over, and it is warned about once.
    fn conflict(&mut self, entry: Entry<'i>) {
        while self.entries.next_if(|e| e.path == entry.path).is_some() {}
        self.unmerged.push(entry.path.into());
    }
}

/// Regular files only: symlinks, submodules (gitlinks) and sparse directories are not content.
fn is_regular(entry: &Entry) -> bool {
    entry.mode & 0o170000 == 0o100000
}

/// Exact renames: committed content at a new path, its old path gone from the index, is not new
/// content. Each old path is the source of one new path only (the others are copies). Returns the
/// gone paths left unpaired, the candidates for renames with edits.
fn pair_exact_renames(changes: &mut [Change], gone: Vec<Gone>) -> Vec<Gone> {
    if gone.is_empty() || !changes.iter().any(Change::is_new_path) {
        return gone;
    }
    let new: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].is_new_path())
        .collect();
    let paths: Vec<(ObjectId, &[u8])> = new
        .iter()
        .map(|&i| (changes[i].id, changes[i].path.as_slice()))
        .collect();
    let mut by_id: HashMap<ObjectId, Vec<BString>> = HashMap::new();
    for g in gone {
        by_id.entry(g.id).or_default().push(g.path);
    }
    let sources = pair_exact(&paths, &mut by_id);
    for (i, source) in new.into_iter().zip(sources) {
        if let Some(source) = source {
            changes[i].bases = vec![changes[i].id];
            changes[i].renamed_from = Some(source);
        }
    }
    let mut left: Vec<Gone> = by_id
        .into_iter()
        .flat_map(|(id, paths)| paths.into_iter().map(move |path| Gone { id, path }))
        .collect();
    left.sort_by(|a, b| a.path.cmp(&b.path));
    left
}

/// During a merge, a line is new only if no parent has it: content that arrives from the branch
/// being merged was committed there (and is judged there, by `history` and `pre-push`).
fn merge_heads(repo: &gix::Repository, changes: &mut Vec<Change>) -> Result<(), GitError> {
    let file = repo.git_dir().join("MERGE_HEAD");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(read_error(format!("'{}'", file.display()), &e)),
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let id = ObjectId::from_hex(line.as_bytes())
            .map_err(|e| read_error(format!("MERGE_HEAD '{line}'"), &e))?;
        let tree = repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(|e| read_error(format!("MERGE_HEAD commit {id}"), &e))?;
        changes.retain_mut(|change| {
            let components = change.path.split_str("/").map(|c| c.as_bstr().to_owned());
            match tree.lookup_entry(components) {
                Ok(Some(entry)) if entry.object_id() == change.id => false,
                Ok(Some(entry)) if entry.mode().is_blob() => {
                    change.bases.push(entry.object_id());
                    true
                }
                _ => true,
            }
        });
    }
    Ok(())
}

/// Examines the staged blob of each change and sends the findings on lines the change adds
/// (and sensitive-file findings for paths new to the repository). Every blob is read whatever
/// `--max-file-size` says (a guard never passes what it did not read), up to the guard's ceiling.
pub fn scan_changes(
    repo: &gix::Repository,
    staged: &Staged,
    examiner: &Examiner,
    counters: &Counters,
    events: &Sender<Event>,
) -> Result<(), GitError> {
    let judge = Judge {
        staged,
        examiner,
        counters,
    };
    parallel::map(
        repo,
        Reads::Once,
        &staged.changes,
        1,
        "scanning staged files",
        |repo, change| {
            match judge.change(repo, change) {
                Ok(found) => send_findings(events, found),
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    send(events, Event::Error(e.to_string()));
                }
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// What judging one staged change needs.
struct Judge<'a> {
    staged: &'a Staged,
    examiner: &'a Examiner<'a>,
    counters: &'a Counters,
}

impl Judge<'_> {
    /// The findings of one change that it is to blame for.
    fn change(&self, repo: &gix::Repository, change: &Change) -> Result<Vec<Finding>, GitError> {
        let shown = self.examiner.shown_path(&change.path);
        let what = || format!("blob {} of '{shown}'", change.id);
        let blob = guard_blob(repo, change.id, super::GUARD_MAX_BLOB, what)?;
        let data = &blob.data;
        if is_lfs_pointer(data) {
            return Ok(Vec::new());
        }
        count_read(self.counters, data.len());
        let found = self
            .examiner
            .examine_raw(&change.path, &change.path, Some(data), None);
        if found.binary {
            self.counters.binary.fetch_add(1, Ordering::Relaxed);
        }
        if found.findings.is_empty() {
            return Ok(found.findings);
        }
        let mut change = change.clone();
        if change.is_new_path() && found.findings.iter().any(|f| f.in_content()) {
            self.find_rename_source(repo, &mut change, data);
        }
        let added = added_mask(repo, &change, data, &shown)?;
        let renamed_rules = self.rules_raised_before(&change, data);
        let new_path = change.is_new_path();
        Ok(found
            .findings
            .into_iter()
            .filter(|f| match &f.location {
                // A sensitive-file finding stands for the whole file: new only if the path is,
                // or if the file it was renamed from did not already raise it.
                Location::File { .. } => {
                    new_path
                        || renamed_rules
                            .as_ref()
                            .is_some_and(|rules| !rules.contains(&f.rule_id))
                }
                Location::Content(at) => added.as_ref().is_none_or(|mask| {
                    at.line
                        .checked_sub(1)
                        .and_then(|i| mask.get(i))
                        .copied()
                        .unwrap_or(true)
                }),
            })
            .collect())
    }

    /// A new file that holds findings may be a committed file moved with edits: if a file the
    /// index no longer has is similar enough (as `git diff -M` judges), it becomes the base.
    fn find_rename_source(&self, repo: &gix::Repository, change: &mut Change, data: &[u8]) {
        let gone = &self.staged.gone;
        let size = |g: &Gone| repo.find_header(g.id).map_or(u64::MAX, |h| h.size());
        let read = |g: &Gone| repo.find_blob(g.id).ok().map(|b| b.detach().data);
        let best = best_source(data, &change.path, gone, size, |g| &g.path, read);
        if let Some(source) = best.and_then(|at| gone.get(at)) {
            change.bases = vec![source.id];
            change.renamed_from = Some(source.path.clone());
        }
    }

    /// For a renamed file: the sensitive-file rules its old path raised on this content.
    fn rules_raised_before(&self, change: &Change, data: &[u8]) -> Option<Vec<String>> {
        let source = change.renamed_from.as_ref()?;
        let found = self.examiner.examine_raw(source, source, Some(data), None);
        Some(
            found
                .findings
                .into_iter()
                .filter(|f| !f.in_content())
                .map(|f| f.rule_id)
                .collect(),
        )
    }
}

/// Which lines of `data` the change adds relative to every base (`None`: all, no base).
fn added_mask(
    repo: &gix::Repository,
    change: &Change,
    data: &[u8],
    shown: &str,
) -> Result<Option<Vec<bool>>, GitError> {
    let mut added: Option<Vec<bool>> = None;
    for base in &change.bases {
        let mask = if *base == change.id {
            vec![false; data.split(|&b| b == b'\n').count()]
        } else {
            let old = repo
                .find_blob(*base)
                .map_err(|e| read_error(format!("blob {base} of '{shown}'"), &e))?;
            added_lines(&old.data, data)
        };
        added = Some(match added {
            None => mask,
            Some(both) => both.iter().zip(&mask).map(|(a, b)| *a && *b).collect(),
        });
    }
    Ok(added)
}

/// For each line of `new` (1-based line n at index n-1), whether a line diff against `old` shows
/// it as added. A trailing `\r` is ignored, so converting line endings adds nothing new.
pub fn added_lines(old: &[u8], new: &[u8]) -> Vec<bool> {
    use gix::diff::blob::{Algorithm, Diff, InternedInput};
    let mut input: InternedInput<&[u8]> = InternedInput::default();
    input.update_before(lines(old));
    input.update_after(lines(new));
    let diff = Diff::compute(Algorithm::Histogram, &input);
    (0..input.after.len() as u32)
        .map(|i| diff.is_added(i))
        .collect()
}

fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_ignore_unchanged_and_line_ending_changes() {
        let old = b"a\nb\nc\n";
        let new = b"a\r\nx\r\nb\r\nc\r\n";
        let mask = added_lines(old, new);
        assert_eq!(&mask[..4], &[false, true, false, false]);
        assert!(added_lines(b"", b"one\ntwo")[..2].iter().all(|&a| a));
    }
}
