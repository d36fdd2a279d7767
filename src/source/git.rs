//! Git as a source, read in-process with `gix`: what the index will commit (`staged`), and every
//! blob that history introduced (`history`, `pre-push`), each distinct blob read and scanned once
//! and its findings attributed to the oldest commit that introduced it at that path.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gix::bstr::{BStr, BString, ByteSlice};
use gix::diff::blob::{Algorithm, Diff, InternedInput};
use gix::objs::tree::EntryKind;
use gix::objs::TreeRefIter;
use gix::ObjectId;

use super::fs::Counters;
use super::git_index::{CacheTree, Entry as IndexEntry, RawIndex};
use super::{Event, Examiner};
use crate::report::{Commit, Finding};
use crate::rules::one_line;

/// The first bytes of a Git LFS pointer file: its content lives elsewhere, so there is nothing here
/// to scan, and the pointer itself holds only a hash.
const LFS_POINTER: &[u8] = b"version https://git-lfs.github.com/spec/v1";
/// Pointer files are tiny; anything larger that starts like one is scanned like any other file.
const LFS_POINTER_MAX: usize = 1024;
/// What all history threads together may keep in caches: delta bases (so that neighbouring
/// objects in a pack share their inflated bases) and decoded trees. Split between threads, and
/// never more than `CACHE_PER_THREAD` each, so memory stays bounded whatever the core count.
const CACHE_TOTAL_BYTES: usize = 384 * 1024 * 1024;
const CACHE_PER_THREAD: usize = 48 * 1024 * 1024;

fn delta_cache_bytes() -> usize {
    (CACHE_TOTAL_BYTES / threads()).min(CACHE_PER_THREAD)
}
/// Below this many blobs, starting threads costs more than it saves (a hook scans a handful).
const PARALLEL_FROM: usize = 8;

/// A failure to read the repository itself (not one blob): the command ends with exit 2.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("'{}' is not in a git repository ({reason})", path.display())]
    NotARepository { path: PathBuf, reason: String },
    #[error("cannot read {what}: {reason}")]
    Read { what: String, reason: String },
    #[error("bad revision '{spec}': {reason}")]
    Revision { spec: String, reason: String },
}

fn read_error(what: impl Into<String>, e: &dyn std::fmt::Display) -> GitError {
    GitError::Read {
        what: what.into(),
        reason: one_line(e),
    }
}

/// The blob `id`, or `None` if it is larger than `max` bytes (then only its header is read).
/// `what` names it for an error, e.g. "blob … of 'path'".
fn blob_within<'r>(
    repo: &'r gix::Repository,
    id: ObjectId,
    max: u64,
    what: impl Fn() -> String,
) -> Result<Option<gix::Blob<'r>>, GitError> {
    let header = repo.find_header(id).map_err(|e| read_error(what(), &e))?;
    if header.size() > max {
        return Ok(None);
    }
    let blob = repo.find_blob(id).map_err(|e| read_error(what(), &e))?;
    Ok(Some(blob))
}

/// Exact rename detection as git does it: each new path `(blob, path)` takes one deleted path
/// of the same blob from `gone`, one with the same file name first, then any. Returns, for each
/// new path in order, the old path it was renamed from; a new path left without one is a copy
/// or new content.
fn pair_renames(
    new: &[(ObjectId, &[u8])],
    gone: &mut HashMap<ObjectId, Vec<BString>>,
) -> Vec<Option<BString>> {
    fn file_name(path: &[u8]) -> &[u8] {
        path.rsplit(|&b| b == b'/').next().unwrap_or(path)
    }
    let mut sources = vec![None; new.len()];
    for same_name in [true, false] {
        for ((id, path), source) in new.iter().zip(&mut sources) {
            let Some(paths) = gone.get_mut(id).filter(|_| source.is_none()) else {
                continue;
            };
            let pick = paths
                .iter()
                .position(|old| !same_name || file_name(old) == file_name(path));
            if let Some(at) = pick {
                *source = Some(paths.swap_remove(at));
            }
        }
    }
    sources
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

/// One path whose staged content differs from what `HEAD` has there.
#[derive(Debug, Clone)]
pub struct Change {
    pub path: BString,
    /// The staged blob.
    pub id: ObjectId,
    /// What the path held in `HEAD` (and in each `MERGE_HEAD` during a merge): only lines added
    /// relative to every one of them are new. Empty for a new path.
    pub bases: Vec<ObjectId>,
    /// For an exact rename: the path, now gone from the index, whose committed content this is.
    pub source: Option<BString>,
}

impl Change {
    /// Whether the path is new to the repository (a sensitive file name then blocks on its own).
    fn is_new_path(&self) -> bool {
        self.bases.is_empty() && self.source.is_none()
    }
}

/// What the index would commit, compared with `HEAD`'s tree (an empty tree when `HEAD` is unborn):
/// added and modified regular files only. Deletions scan nothing; symlinks and submodules are
/// skipped; exact renames of committed content carry their source. A copy is new content at a
/// new path, as `git diff --cached` shows it (and as `hush history` will report it).
///
/// It reads only the trees of directories that changed: the index's cache-tree records, for every
/// directory `git` has not touched since the last commit, the tree id it will be written as, and a
/// directory whose id equals `HEAD`'s is skipped whole.
pub fn staged_changes(
    repo: &gix::Repository,
    warnings: &mut Vec<String>,
) -> Result<Vec<Change>, GitError> {
    let (index, cache_tree) = load_index(repo)?;
    let head_tree = repo
        .head_tree_id_or_empty()
        .map_err(|e| read_error("HEAD", &e))?
        .detach();

    let mut head = HashMap::new();
    let mut skipped = Vec::new();
    let mut prefix = BString::default();
    collect_tree(
        repo,
        head_tree,
        &mut prefix,
        cache_tree.as_ref(),
        &mut head,
        &mut skipped,
    )?;
    skipped.sort();

    let mut changes = Vec::new();
    let mut unmerged: Vec<&[u8]> = Vec::new();
    // The paths read from `HEAD` that the index still has: the others were deleted or moved.
    let mut kept: HashSet<&[u8]> = HashSet::new();
    // Entries in unchanged directories are passed over a directory at a time (entries are
    // sorted by path, so a directory's entries are one run): a prefix check each, no lookups.
    let mut skipping: Option<&[u8]> = None;
    for entry in index.entries() {
        if skipping.is_some_and(|p| entry.path.starts_with(p)) {
            continue;
        }
        skipping = skipped_prefix(&skipped, entry.path.as_bstr());
        if skipping.is_some() {
            continue;
        }
        let committed = head.get(entry.path.as_bstr());
        if committed.is_some() {
            kept.insert(entry.path);
        }
        if entry.stage != 0 {
            if unmerged.last() != Some(&entry.path) {
                unmerged.push(entry.path);
            }
            continue;
        }
        // Regular files only: symlinks, submodules (gitlinks) and sparse directories are skipped.
        if entry.mode & 0o170000 != 0o100000 {
            continue;
        }
        let id = entry.id.to_owned();
        match committed {
            Some((committed, _)) if *committed == id => {}
            Some((committed, kind)) => changes.push(Change {
                path: entry.path.into(),
                id,
                bases: if matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
                    vec![*committed]
                } else {
                    Vec::new()
                },
                source: None,
            }),
            None => changes.push(Change {
                path: entry.path.into(),
                id,
                bases: Vec::new(),
                source: None,
            }),
        }
    }
    for path in unmerged {
        warnings.push(format!(
            "'{}' has unresolved merge conflicts; resolve and stage it to have it scanned",
            path.to_str_lossy()
        ));
    }

    // Exact renames: committed content at a new path, its old path gone from the index, is not
    // new content. Each old path is the source of one new path only (the others are copies),
    // one with the same file name first, as git pairs them.
    if changes.iter().any(Change::is_new_path) {
        let new: Vec<usize> = (0..changes.len())
            .filter(|&i| changes[i].is_new_path())
            .collect();
        let paths: Vec<(ObjectId, &[u8])> = new
            .iter()
            .map(|&i| (changes[i].id, changes[i].path.as_slice()))
            .collect();
        let wanted: HashSet<ObjectId> = paths.iter().map(|(id, _)| *id).collect();
        let mut gone: HashMap<ObjectId, Vec<BString>> = HashMap::new();
        for (path, (id, kind)) in &head {
            if wanted.contains(id)
                && matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable)
                && !kept.contains(path.as_slice())
            {
                gone.entry(*id).or_default().push(path.clone());
            }
        }
        let sources = pair_renames(&paths, &mut gone);
        for (i, source) in new.into_iter().zip(sources) {
            changes[i].source = source;
        }
    }

    merge_heads(repo, &mut changes)?;
    Ok(changes)
}

/// The index, as read by the lean reader or (for forms it leaves alone) by gix.
enum Index {
    Raw(RawIndex),
    Gix(Box<gix::index::File>),
}

impl Index {
    fn entries(&self) -> Box<dyn Iterator<Item = IndexEntry<'_>> + '_> {
        match self {
            Index::Raw(raw) => Box::new(raw.entries()),
            Index::Gix(file) => Box::new(file.entries().iter().map(|e| IndexEntry {
                path: e.path(file.as_ref()).as_bytes(),
                id: e.id.as_ref(),
                mode: e.mode.bits(),
                stage: e.stage_raw(),
            })),
        }
    }
}

/// The index as git left it, and its cache-tree; none yet (a fresh repository) reads as empty.
/// Its trailing checksum is not verified, as git does not either outside `fsck`: hashing a
/// 100,000-entry index would cost more than the whole rest of a pre-commit check.
fn load_index(repo: &gix::Repository) -> Result<(Index, Option<CacheTree>), GitError> {
    let path = repo.index_path();
    let what = || format!("the index '{}'", path.display());
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let empty = gix::index::State::new(repo.object_hash());
            return Ok((
                Index::Gix(Box::new(gix::index::File::from_state(empty, path))),
                None,
            ));
        }
        Err(e) => return Err(read_error(what(), &e)),
    };
    // Mapped rather than read: reading would fault in and copy megabytes of fresh pages, which
    // cost more than parsing them. SAFETY: git never rewrites an index file in place (it writes
    // `index.lock` and renames it over), so the mapped bytes do not change while we read them;
    // gix relies on the same.
    #[allow(unsafe_code)]
    let data = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| read_error(what(), &e))?;
    if let Some(mut raw) = RawIndex::parse(data, repo.object_hash()) {
        let tree = raw.tree.take();
        return Ok((Index::Raw(raw), tree));
    }
    let file = gix::index::File::at(&path, repo.object_hash(), true, Default::default())
        .map_err(|e| read_error(what(), &e))?;
    let tree = file.tree().map(CacheTree::from_gix);
    Ok((Index::Gix(Box::new(file)), tree))
}

/// The unchanged directory `path` lies in, if any (`skipped` is sorted, holds `dir/` prefixes
/// that never nest, and `""` for the whole tree).
fn skipped_prefix<'a>(skipped: &'a [BString], path: &BStr) -> Option<&'a [u8]> {
    let at = skipped.partition_point(|p| p.as_bstr() <= path);
    let prefix = skipped.get(at.checked_sub(1)?)?;
    path.starts_with(prefix.as_slice())
        .then_some(prefix.as_slice())
}

/// Records every non-tree entry below `tree_id` as `prefix/name → (id, kind)`, except in
/// directories the index's cache-tree shows to be unchanged, whose `dir/` prefix goes to `skipped`.
fn collect_tree(
    repo: &gix::Repository,
    tree_id: ObjectId,
    prefix: &mut BString,
    cache: Option<&CacheTree>,
    out: &mut HashMap<BString, (ObjectId, EntryKind)>,
    skipped: &mut Vec<BString>,
) -> Result<(), GitError> {
    if let Some(cache) = cache {
        if cache.id == Some(tree_id) {
            skipped.push(prefix.clone());
            return Ok(());
        }
    }
    if tree_id == ObjectId::empty_tree(tree_id.kind()) {
        return Ok(());
    }
    let tree = repo
        .find_tree(tree_id)
        .map_err(|e| read_error(format!("tree {tree_id}"), &e))?;
    let decoded = tree
        .decode()
        .map_err(|e| read_error(format!("tree {tree_id}"), &e))?;
    let entries: Vec<(BString, ObjectId, EntryKind)> = decoded
        .entries
        .iter()
        .map(|e| (e.filename.to_owned(), e.oid.to_owned(), e.mode.kind()))
        .collect();
    let len = prefix.len();
    for (name, id, kind) in entries {
        prefix.extend_from_slice(&name);
        if kind == EntryKind::Tree {
            prefix.push(b'/');
            let child = cache.and_then(|c| c.children.iter().find(|t| t.name[..] == name[..]));
            collect_tree(repo, id, prefix, child, out, skipped)?;
        } else {
            out.insert(prefix.clone(), (id, kind));
        }
        prefix.truncate(len);
    }
    Ok(())
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
/// (and sensitive-file findings for paths new to the repository).
pub fn scan_changes(
    repo: &gix::Repository,
    changes: &[Change],
    examiner: &Examiner,
    max_file_size: u64,
    counters: &Counters,
    events: &Sender<Event>,
) {
    let one = |repo: &gix::Repository, change: &Change| {
        if let Err(message) = scan_change(repo, change, examiner, max_file_size, counters, events) {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            send(events, Event::Error(message));
        }
    };
    if changes.len() < PARALLEL_FROM {
        for change in changes {
            one(repo, change);
        }
        return;
    }
    let shared = repo.clone().into_sync();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads() {
            scope.spawn(|| {
                let repo = shared.to_thread_local();
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(change) = changes.get(at) else { break };
                    one(&repo, change);
                }
            });
        }
    });
}

fn scan_change(
    repo: &gix::Repository,
    change: &Change,
    examiner: &Examiner,
    max_file_size: u64,
    counters: &Counters,
    events: &Sender<Event>,
) -> Result<(), String> {
    let shown = change.path.to_str_lossy();
    let what = || format!("blob {} of '{shown}'", change.id);
    let Some(blob) =
        blob_within(repo, change.id, max_file_size, what).map_err(|e| e.to_string())?
    else {
        skip_large(&shown, max_file_size, counters, events);
        if change.is_new_path() {
            let found = examiner.examine(&shown, &shown, None, None);
            send_findings(events, found.findings);
        }
        return Ok(());
    };
    let data = &blob.data;
    if is_lfs_pointer(data) {
        return Ok(());
    }
    counters.files.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    let found = examiner.examine(&shown, &shown, Some(data), None);
    if found.binary {
        counters.binary.fetch_add(1, Ordering::Relaxed);
    }
    if found.findings.is_empty() {
        return Ok(());
    }
    let mut added: Option<Vec<bool>> = None;
    for base in &change.bases {
        let old = repo
            .find_blob(*base)
            .map_err(|e| read_error(format!("blob {base} of '{shown}'"), &e).to_string())?;
        let mask = added_lines(&old.data, data);
        added = Some(match added {
            None => mask,
            Some(both) => both.iter().zip(&mask).map(|(a, b)| *a && *b).collect(),
        });
    }
    // A sensitive-file finding stands for the whole file: new only if the path is, or if the
    // file it was renamed from did not already raise it.
    let source_rules: Vec<String> = match &change.source {
        Some(source) => {
            let source = source.to_str_lossy();
            examiner
                .examine(&source, &source, Some(data), None)
                .findings
                .into_iter()
                .filter(|f| f.column.is_none())
                .map(|f| f.rule_id)
                .collect()
        }
        None => Vec::new(),
    };
    let source = change.source.is_some();
    let new_path = change.is_new_path();
    let kept: Vec<Finding> = found
        .findings
        .into_iter()
        .filter(|f| match f.column {
            None => new_path || (source && !source_rules.contains(&f.rule_id)),
            // An exact rename adds no line; otherwise a line is new unless a base has it.
            Some(_) if source => false,
            Some(_) => added.as_ref().is_none_or(|mask| {
                f.line
                    .checked_sub(1)
                    .and_then(|i| mask.get(i))
                    .copied()
                    .unwrap_or(true)
            }),
        })
        .collect();
    send_findings(events, kept);
    Ok(())
}

/// For each line of `new` (1-based line n at index n-1), whether a line diff against `old` shows
/// it as added. A trailing `\r` is ignored, so converting line endings adds nothing new.
pub fn added_lines(old: &[u8], new: &[u8]) -> Vec<bool> {
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

fn skip_large(shown: &str, max: u64, counters: &Counters, events: &Sender<Event>) {
    counters.skipped.fetch_add(1, Ordering::Relaxed);
    send(
        events,
        Event::Warning(format!(
            "skipped '{shown}': larger than --max-file-size ({max} bytes)"
        )),
    );
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

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Which commits a history scan covers.
#[derive(Debug, Clone)]
pub enum Revisions {
    /// Everything reachable from any reference (and `HEAD`).
    All,
    /// A revision or range as `git rev-list` takes it: `origin/main..HEAD`, `v1.0`, `A...B`.
    Spec(String),
    /// Commits reachable from `tips` but from none of `hidden` (what a push sends).
    Between {
        tips: Vec<ObjectId>,
        hidden: Vec<ObjectId>,
    },
}

/// The commits to walk from, and those whose history is excluded.
fn resolve(
    repo: &gix::Repository,
    revisions: &Revisions,
) -> Result<(Vec<ObjectId>, Vec<ObjectId>), GitError> {
    match revisions {
        Revisions::All => {
            let mut tips = Vec::new();
            let refs = repo
                .references()
                .map_err(|e| read_error("references", &e))?;
            let all = refs.all().map_err(|e| read_error("references", &e))?;
            for reference in all {
                let reference = reference.map_err(|e| read_error("references", &e))?;
                let name = reference.name().as_bstr().to_owned();
                let id = reference
                    .into_fully_peeled_id()
                    .map_err(|e| read_error(format!("reference '{name}'"), &e))?;
                if let Some(commit) = peel_to_commit(repo, id.detach()) {
                    tips.push(commit);
                }
            }
            if let Ok(id) = repo.head_id() {
                tips.push(id.detach());
            }
            tips.sort();
            tips.dedup();
            Ok((tips, Vec::new()))
        }
        Revisions::Spec(spec) => {
            let bad = |e: &dyn std::fmt::Display| GitError::Revision {
                spec: spec.clone(),
                reason: one_line(e),
            };
            let parsed = repo.rev_parse(spec.as_str()).map_err(|e| bad(&e))?.detach();
            let commit = |id: ObjectId| {
                peel_to_commit(repo, id).ok_or_else(|| bad(&format!("{id} is not a commit")))
            };
            use gix::revision::plumbing::Spec;
            match parsed {
                Spec::Include(id) => Ok((vec![commit(id)?], Vec::new())),
                Spec::Range { from, to } => Ok((vec![commit(to)?], vec![commit(from)?])),
                Spec::Merge { theirs, ours } => {
                    let (theirs, ours) = (commit(theirs)?, commit(ours)?);
                    let base = repo.merge_base(theirs, ours).map_err(|e| bad(&e))?;
                    Ok((
                        vec![theirs, ours],
                        base.map(|b| b.detach()).into_iter().collect(),
                    ))
                }
                Spec::IncludeOnlyParents(id) => {
                    let parents = repo
                        .find_commit(commit(id)?)
                        .map_err(|e| bad(&e))?
                        .parent_ids()
                        .map(|p| p.detach())
                        .collect();
                    Ok((parents, Vec::new()))
                }
                Spec::Exclude(_) | Spec::ExcludeParents(_) => Err(bad(
                    &"an exclusion alone selects no commits; give a range such as A..B",
                )),
            }
        }
        Revisions::Between { tips, hidden } => {
            let tips = tips.iter().filter_map(|&id| peel_to_commit(repo, id));
            let hidden = hidden.iter().filter_map(|&id| peel_to_commit(repo, id));
            Ok((tips.collect(), hidden.collect()))
        }
    }
}

/// `id` peeled through tags to a commit, if it is (or points at) one that we have.
fn peel_to_commit(repo: &gix::Repository, id: ObjectId) -> Option<ObjectId> {
    let object = repo.find_object(id).ok()?;
    object.peel_to_commit().ok().map(|c| c.id)
}

/// The tips of every remote-tracking branch (`refs/remotes/*`): what the remotes already have.
pub fn remote_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, GitError> {
    let refs = repo
        .references()
        .map_err(|e| read_error("references", &e))?;
    let remotes = refs
        .remote_branches()
        .map_err(|e| read_error("references", &e))?;
    let mut tips = Vec::new();
    for reference in remotes {
        let reference = reference.map_err(|e| read_error("references", &e))?;
        if let Ok(id) = reference.into_fully_peeled_id() {
            tips.push(id.detach());
        }
    }
    Ok(tips)
}

/// Totals of a history scan, beyond the per-file counters.
#[derive(Default)]
pub struct HistoryCounters {
    pub commits: AtomicU64,
    pub blobs: AtomicU64,
}

/// How old a commit is, for attribution: commit time, then (for equal times) the later in the
/// walk, which lists descendants first. The smallest is the oldest.
type Age = (i64, std::cmp::Reverse<usize>);

/// A commit met in the walk.
struct Walked {
    id: ObjectId,
    time: i64,
}

/// Scans every blob that the selected commits add or modify (against their first parent; a root
/// commit adds everything). Each distinct blob is read and scanned once, in parallel; a finding is
/// attributed, for each path the blob had, to the oldest commit that put it there.
pub fn scan_history(
    repo: &gix::Repository,
    revisions: &Revisions,
    examiner: &Examiner,
    max_file_size: u64,
    counters: &Counters,
    history: &HistoryCounters,
    events: &Sender<Event>,
) -> Result<(), GitError> {
    if repo.is_shallow().unwrap_or(false) {
        send(
            events,
            Event::Warning(
                "this is a shallow clone: only the commits it has are scanned \
                 (run 'git fetch --unshallow' to scan the full history)"
                    .into(),
            ),
        );
    }
    let (tips, hidden) = resolve(repo, revisions)?;
    if tips.is_empty() {
        return Ok(());
    }
    let progress = Progress::new(counters, history);
    let result = std::thread::scope(|scope| {
        if let Some(progress) = &progress {
            scope.spawn(|| progress.run());
        }
        let result = walk_and_scan(
            repo,
            &tips,
            &hidden,
            examiner,
            max_file_size,
            counters,
            history,
            events,
        );
        if let Some(progress) = &progress {
            progress.stop();
        }
        result
    });
    result
}

#[allow(clippy::too_many_arguments)]
fn walk_and_scan(
    repo: &gix::Repository,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    examiner: &Examiner,
    max_file_size: u64,
    counters: &Counters,
    history: &HistoryCounters,
    events: &Sender<Event>,
) -> Result<(), GitError> {
    use gix::revision::walk::Sorting;
    use gix::traverse::commit::simple::CommitTimeOrder;
    let walk = repo
        .rev_walk(tips.iter().copied())
        .with_hidden(hidden.iter().copied())
        .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
        .all()
        .map_err(|e| read_error("the commit graph", &e))?;
    let mut commits = Vec::new();
    for info in walk {
        let info = info.map_err(|e| read_error("the commit graph", &e))?;
        commits.push(Walked {
            id: info.id,
            time: info.commit_time.unwrap_or_default(),
        });
        history.commits.fetch_add(1, Ordering::Relaxed);
    }

    // Each commit's added and modified blobs, tree diffs in parallel; results kept in walk order
    // so that blobs are later read roughly in the order packs store them (newest first).
    let graph = repo.commit_graph_if_enabled().ok().flatten();
    let infos = match &graph {
        Some(graph) => commits
            .iter()
            .map(|walked| commit_info(repo, Some(graph), walked.id))
            .collect::<Result<Vec<_>, _>>()?,
        None => parallel_map(repo, &commits, |repo, walked| {
            commit_info(repo, None, walked.id)
        })?,
    };
    drop(graph);
    let trees: HashMap<ObjectId, ObjectId> = commits
        .iter()
        .zip(&infos)
        .map(|(walked, info)| (walked.id, info.tree))
        .collect();
    // Diffed in the pack order of their root trees: a tree's delta base is then read (and
    // cached) before it, whichever way the pack's delta chains run.
    let by_tree = pack_order(repo, infos.iter().map(|info| info.tree));
    let sorted = parallel_map(repo, &by_tree, |repo, &at| {
        commit_changes(repo, &infos[at], &trees)
    })?;
    let mut diffs: Vec<Vec<(ObjectId, BString)>> = vec![Vec::new(); infos.len()];
    let mut renames: Vec<Vec<(BString, BString)>> = vec![Vec::new(); infos.len()];
    for (&at, changes) in by_tree.iter().zip(sorted) {
        diffs[at] = changes.changed;
        renames[at] = changes.renamed;
    }
    // A range starts from history it does not include: what its first commits' parents already
    // had is not introduced by the range.
    let inherited = if hidden.is_empty() {
        Vec::new()
    } else {
        inherited(repo, &commits, &diffs, &trees)?
    };
    drop(trees);
    drop(infos);
    // Author and date are filled in at the end, for the few commits that findings name.
    let metas: Vec<Commit> = commits
        .iter()
        .map(|walked| Commit {
            id: walked.id.to_string(),
            author: String::new(),
            date: String::new(),
        })
        .collect();
    let mut blobs: Vec<(ObjectId, Vec<Place>)> = Vec::new();
    let mut slot: HashMap<ObjectId, usize> = HashMap::new();
    for (at, changed) in diffs.into_iter().enumerate() {
        for (id, path) in changed {
            let index = *slot.entry(id).or_insert_with(|| {
                blobs.push((id, Vec::new()));
                blobs.len() - 1
            });
            let renamed_from = || {
                renames[at]
                    .iter()
                    .find(|(to, _)| *to == path)
                    .map(|(_, from)| from.clone())
            };
            let places = &mut blobs[index].1;
            match places.iter_mut().find(|place| place.path == path) {
                // Oldest by commit time; on a tie, the one met later in the walk (an ancestor).
                Some(place) => {
                    if (commits[at].time, std::cmp::Reverse(at))
                        < (commits[place.at].time, std::cmp::Reverse(place.at))
                    {
                        place.at = at;
                        place.renamed_from = renamed_from();
                    }
                }
                None => {
                    let renamed_from = renamed_from();
                    places.push(Place {
                        path,
                        at,
                        renamed_from,
                    });
                }
            }
        }
    }
    drop(slot);
    drop(renames);

    // Read blobs in the order packs store them: a delta's base comes before it, so each thread,
    // walking a run of neighbours, finds most bases in its delta cache instead of inflating the
    // whole chain again (inflating dominates the cost of a history scan).
    let order = pack_order(repo, blobs.iter().map(|(id, _)| *id));
    let runs: Vec<&[usize]> = order
        .chunks((order.len() / (threads() * 16)).max(64))
        .collect();

    // A secret that stays in a file is in every later version of it: it is reported once, at
    // the oldest commit (by commit time, then ancestry) that introduced it at that path.
    let oldest: Mutex<HashMap<String, (Age, Vec<Finding>)>> = Mutex::new(HashMap::new());
    let by_id: HashMap<&str, usize> = metas
        .iter()
        .enumerate()
        .map(|(at, c)| (c.id.as_str(), at))
        .collect();
    let keep = |found: Vec<Finding>| {
        let Ok(mut oldest) = oldest.lock() else {
            return;
        };
        for finding in found {
            let at = finding
                .commit
                .as_ref()
                .and_then(|c| by_id.get(c.id.as_str()).copied())
                .unwrap_or(usize::MAX);
            let key = (
                commits.get(at).map_or(i64::MAX, |c| c.time),
                std::cmp::Reverse(at),
            );
            match oldest.get_mut(&finding.fingerprint) {
                Some((best, list)) if key < *best => {
                    *best = key;
                    *list = vec![finding];
                }
                Some((best, list)) if key == *best => list.push(finding),
                Some(_) => {}
                None => {
                    oldest.insert(finding.fingerprint.clone(), (key, vec![finding]));
                }
            }
        }
    };

    // Fingerprints a rename carried to a new path, with the renaming commit: not new there.
    let moved: Mutex<HashSet<(String, usize)>> = Mutex::new(HashSet::new());
    let shared = repo.clone().into_sync();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads() {
            scope.spawn(|| {
                let mut repo = shared.to_thread_local();
                // A delta cache keyed by pack offset: bases are looked up once per delta.
                repo.objects.set_pack_cache(|| {
                    Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                        delta_cache_bytes(),
                    ))
                });
                while let Some(run) = runs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    for &at in *run {
                        let (id, places) = &blobs[at];
                        let scanned = scan_blob(
                            &repo,
                            *id,
                            places,
                            &metas,
                            examiner,
                            max_file_size,
                            counters,
                        );
                        history.blobs.fetch_add(1, Ordering::Relaxed);
                        match scanned {
                            Ok(scanned) => {
                                for event in scanned.events {
                                    match event {
                                        Event::Findings(found) => keep(found),
                                        other => send(events, other),
                                    }
                                }
                                if let Ok(mut moved) = moved.lock() {
                                    moved.extend(scanned.moved);
                                }
                            }
                            Err(message) => {
                                counters.errors.fetch_add(1, Ordering::Relaxed);
                                send(events, Event::Error(message));
                            }
                        }
                    }
                }
            });
        }
    });
    let before = inherited_fingerprints(repo, &inherited, examiner, max_file_size)?;
    let moved = moved.into_inner().unwrap_or_default();
    let mut found: Vec<Finding> = oldest
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        // A rename is not where a secret starts: a fingerprint first seen at a renamed path is
        // the old path's finding, already reported there.
        .filter(|(fingerprint, ((_, first), _))| !moved.contains(&(fingerprint.clone(), first.0)))
        .flat_map(|(_, (_, list))| list)
        .filter(|f| !before.contains(&f.fingerprint))
        .collect();
    let mut named: HashMap<String, Commit> = HashMap::new();
    for finding in &mut found {
        let Some(commit) = &mut finding.commit else {
            continue;
        };
        if !named.contains_key(&commit.id) {
            let id = ObjectId::from_hex(commit.id.as_bytes())
                .map_err(|e| read_error(format!("commit {}", commit.id), &e))?;
            named.insert(commit.id.clone(), attribution(repo, id)?);
        }
        if let Some(full) = named.get(&commit.id) {
            *commit = full.clone();
        }
    }
    crate::report::sort(&mut found);
    send_findings(events, found);
    Ok(())
}

/// The (blob, path) pairs that parents outside the walk have at the paths their walked children
/// change: the content a range builds on. `walked` holds the walked commits.
fn inherited(
    repo: &gix::Repository,
    commits: &[Walked],
    diffs: &[Vec<(ObjectId, BString)>],
    walked: &HashMap<ObjectId, ObjectId>,
) -> Result<Vec<(ObjectId, BString)>, GitError> {
    let mut pairs = Vec::new();
    for (commit, changed) in commits.iter().zip(diffs) {
        if changed.is_empty() {
            continue;
        }
        let what = || format!("commit {}", commit.id);
        let parents: Vec<ObjectId> = repo
            .find_commit(commit.id)
            .map_err(|e| read_error(what(), &e))?
            .parent_ids()
            .map(|p| p.detach())
            .filter(|p| !walked.contains_key(p))
            .collect();
        for parent in parents {
            let what = || format!("commit {parent}");
            // Beyond a shallow clone's boundary there is nothing to compare with.
            let Some(object) = repo
                .try_find_object(parent)
                .map_err(|e| read_error(what(), &e))?
            else {
                continue;
            };
            let tree = object
                .try_into_commit()
                .map_err(|e| read_error(what(), &e))?
                .tree()
                .map_err(|e| read_error(what(), &e))?;
            let mut added = Vec::new();
            for (id, path) in changed {
                let entry = tree
                    .lookup_entry(path.split(|&b| b == b'/'))
                    .map_err(|e| read_error(what(), &e))?;
                match entry {
                    Some(entry) if entry.mode().is_blob() => {
                        pairs.push((entry.object_id(), path.clone()));
                    }
                    Some(_) => {}
                    None => added.push((*id, path)),
                }
            }
            // A path new to the parent may be a file it had, renamed: its content is inherited.
            if let Some(&own) = walked.get(&commit.id).filter(|_| !added.is_empty()) {
                let mut gone = deleted_paths(repo, tree.id, own)?;
                let new: Vec<(ObjectId, &[u8])> = added
                    .iter()
                    .map(|(id, path)| (*id, path.as_slice()))
                    .collect();
                for ((id, path), from) in added.iter().zip(pair_renames(&new, &mut gone)) {
                    if from.is_some() {
                        pairs.push((*id, (*path).clone()));
                    }
                }
            }
        }
    }
    pairs.sort();
    pairs.dedup();
    Ok(pairs)
}

/// The paths of each blob that the change from tree `old` to tree `new` deletes.
fn deleted_paths(
    repo: &gix::Repository,
    old: ObjectId,
    new: ObjectId,
) -> Result<HashMap<ObjectId, Vec<BString>>, GitError> {
    let what = || format!("trees {old} and {new}");
    let old = repo.find_tree(old).map_err(|e| read_error(what(), &e))?;
    let new = repo.find_tree(new).map_err(|e| read_error(what(), &e))?;
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        TreeRefIter::from_bytes(&old.data, old.id.kind()),
        TreeRefIter::from_bytes(&new.data, new.id.kind()),
        &mut gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )
    .map_err(|e| read_error(what(), &e))?;
    let mut gone: HashMap<ObjectId, Vec<BString>> = HashMap::new();
    for change in recorder.records {
        if let gix::diff::tree::recorder::Change::Deletion {
            entry_mode,
            oid,
            path,
            ..
        } = change
        {
            if entry_mode.is_blob() {
                gone.entry(oid).or_default().push(path);
            }
        }
    }
    Ok(gone)
}

/// The fingerprints of what `inherited` blobs hold at their paths.
fn inherited_fingerprints(
    repo: &gix::Repository,
    inherited: &[(ObjectId, BString)],
    examiner: &Examiner,
    max_file_size: u64,
) -> Result<HashSet<String>, GitError> {
    let mut fingerprints = HashSet::new();
    for (id, path) in inherited {
        let shown = path.to_str_lossy();
        let data = blob_within(repo, *id, max_file_size, || {
            format!("blob {id} of '{shown}'")
        })?;
        let examined = examiner.examine(&shown, &shown, data.as_ref().map(|b| &b.data[..]), None);
        fingerprints.extend(examined.findings.into_iter().map(|f| f.fingerprint));
    }
    Ok(fingerprints)
}

/// The indices of `ids`, sorted by where each object lies in the packs (loose objects last).
/// Reading in this order finds each delta's base already inflated in the delta cache.
fn pack_order(repo: &gix::Repository, ids: impl Iterator<Item = ObjectId>) -> Vec<usize> {
    // The pack indices are read directly: a binary search each, far cheaper per object than
    // the object database's general lookup. Objects elsewhere (loose, alternates) go last.
    let dir = repo.objects.store_ref().path().join("pack");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "idx"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    let indices: Vec<gix::odb::pack::index::File> = paths
        .iter()
        .filter_map(|p| gix::odb::pack::index::File::at(p, repo.object_hash()).ok())
        .collect();
    let mut located: Vec<(usize, u64, usize)> = ids
        .enumerate()
        .map(|(at, id)| {
            indices
                .iter()
                .enumerate()
                .find_map(|(pack, index)| {
                    let entry = index.lookup(id)?;
                    Some((pack, index.pack_offset_at_index(entry), at))
                })
                .unwrap_or((usize::MAX, 0, at))
        })
        .collect();
    located.sort_unstable();
    located.into_iter().map(|(_, _, at)| at).collect()
}

/// Runs `f` over `items` on all cores (each thread with its own repository handle), keeping order.
fn parallel_map<T: Sync, R: Send>(
    repo: &gix::Repository,
    items: &[T],
    f: impl Fn(&gix::Repository, &T) -> Result<R, GitError> + Sync,
) -> Result<Vec<R>, GitError> {
    // Runs long enough that neighbours (sharing delta bases) mostly land on one thread.
    let run = (items.len() / (threads() * 8)).max(64);
    let shared = repo.clone().into_sync();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut parts: Vec<Vec<(usize, Result<R, GitError>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads())
            .map(|_| {
                scope.spawn(|| {
                    let mut repo = shared.to_thread_local();
                    repo.object_cache_size_if_unset(delta_cache_bytes() / 3);
                    repo.objects.set_pack_cache(|| {
                        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                            delta_cache_bytes(),
                        ))
                    });
                    let mut out = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let start = next.fetch_add(run, Ordering::Relaxed);
                        let Some(chunk) = items.get(start..(start + run).min(items.len())) else {
                            break;
                        };
                        for (at, item) in (start..).zip(chunk) {
                            let result = f(&repo, item);
                            let bad = result.is_err();
                            out.push((at, result));
                            if bad {
                                failed.store(true, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut all: Vec<(usize, Result<R, GitError>)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(at, _)| *at);
    // The first failure in item order, so the message does not depend on thread timing.
    if let Some(at) = all.iter().position(|(_, r)| r.is_err()) {
        if let (_, Err(e)) = all.swap_remove(at) {
            return Err(e);
        }
    }
    if all.len() != items.len() {
        return Err(GitError::Read {
            what: "the commit graph".into(),
            reason: "a worker thread panicked".into(),
        });
    }
    Ok(all.into_iter().filter_map(|(_, r)| r.ok()).collect())
}

/// What the tree diff of a commit needs to know about it.
struct CommitInfo {
    id: ObjectId,
    tree: ObjectId,
    parent: Option<ObjectId>,
}

/// A commit's tree and first parent, from the commit-graph file when there is one (no object to
/// inflate), else from the commit itself.
fn commit_info(
    repo: &gix::Repository,
    graph: Option<&gix::commitgraph::Graph>,
    id: ObjectId,
) -> Result<CommitInfo, GitError> {
    if let Some((graph, commit)) = graph.and_then(|g| Some((g, g.commit_by_id(id)?))) {
        if let Ok(parent) = commit.parent1() {
            return Ok(CommitInfo {
                id,
                tree: commit.root_tree_id().to_owned(),
                parent: parent.map(|p| graph.id_at(p).to_owned()),
            });
        }
    }
    let what = || format!("commit {id}");
    let commit = repo.find_commit(id).map_err(|e| read_error(what(), &e))?;
    let decoded = commit.decode().map_err(|e| read_error(what(), &e))?;
    let parent = decoded.parents().next();
    Ok(CommitInfo {
        id,
        tree: decoded.tree(),
        parent,
    })
}

/// A commit's attribution: author and date, read only for commits that findings name.
fn attribution(repo: &gix::Repository, id: ObjectId) -> Result<Commit, GitError> {
    let what = || format!("commit {id}");
    let commit = repo.find_commit(id).map_err(|e| read_error(what(), &e))?;
    let decoded = commit.decode().map_err(|e| read_error(what(), &e))?;
    let author = decoded.author().map_err(|e| read_error(what(), &e))?;
    let time = author.time().map_err(|e| read_error(what(), &e))?;
    Ok(Commit {
        id: id.to_string(),
        author: format!(
            "{} <{}>",
            author.name.trim().to_str_lossy(),
            author.email.trim().to_str_lossy()
        ),
        date: rfc3339(time.seconds, time.offset),
    })
}

/// What a commit changed against its first parent: the blobs it added or modified, each at its
/// path, and which of the added paths are exact renames (the same blob deleted at another path).
#[derive(Default, Clone)]
struct Changes {
    changed: Vec<(ObjectId, BString)>,
    /// (new path, old path) for each exact rename.
    renamed: Vec<(BString, BString)>,
}

/// The changes of a commit relative to its first parent (everything, for a root commit or one
/// whose parent a shallow clone lacks). `trees` maps the walked commits to their trees; a parent
/// outside the walk is read.
fn commit_changes(
    repo: &gix::Repository,
    info: &CommitInfo,
    trees: &HashMap<ObjectId, ObjectId>,
) -> Result<Changes, GitError> {
    let (id, tree_id) = (info.id, info.tree);
    let parent_tree = match info.parent {
        Some(parent) => match trees.get(&parent) {
            Some(tree) => Some(*tree),
            None => match repo.try_find_object(parent) {
                Ok(Some(object)) => Some(
                    object
                        .try_into_commit()
                        .map_err(|e| read_error(format!("commit {parent}"), &e))?
                        .tree_id()
                        .map_err(|e| read_error(format!("commit {parent}"), &e))?
                        .detach(),
                ),
                // Beyond a shallow clone's boundary: this commit is where history starts here.
                Ok(None) => None,
                Err(e) => return Err(read_error(format!("commit {parent}"), &e)),
            },
        },
        None => None,
    };
    let new = repo
        .find_tree(tree_id)
        .map_err(|e| read_error(format!("tree {tree_id}"), &e))?;
    let old = match parent_tree {
        Some(old) => repo
            .find_tree(old)
            .map_err(|e| read_error(format!("tree {old}"), &e))?,
        None => repo.empty_tree(),
    };
    let mut recorder = gix::diff::tree::Recorder::default();
    let mut state = gix::diff::tree::State::default();
    gix::diff::tree(
        TreeRefIter::from_bytes(&old.data, old.id.kind()),
        TreeRefIter::from_bytes(&new.data, new.id.kind()),
        &mut state,
        &repo.objects,
        &mut recorder,
    )
    .map_err(|e| read_error(format!("the trees of commit {id}"), &e))?;
    use gix::diff::tree::recorder::Change;
    let mut changes = Changes::default();
    let mut added = Vec::new();
    let mut deleted: HashMap<ObjectId, Vec<BString>> = HashMap::new();
    for change in recorder.records {
        match change {
            Change::Addition {
                entry_mode,
                oid,
                path,
                ..
            } if entry_mode.is_blob() => {
                added.push(changes.changed.len());
                changes.changed.push((oid, path));
            }
            Change::Modification {
                entry_mode,
                oid,
                path,
                ..
            } if entry_mode.is_blob() => changes.changed.push((oid, path)),
            Change::Deletion {
                entry_mode,
                oid,
                path,
                ..
            } if entry_mode.is_blob() => deleted.entry(oid).or_default().push(path),
            _ => {}
        }
    }
    let new: Vec<(ObjectId, &[u8])> = added
        .iter()
        .map(|&at| (changes.changed[at].0, changes.changed[at].1.as_slice()))
        .collect();
    let sources = pair_renames(&new, &mut deleted);
    changes.renamed = added
        .into_iter()
        .zip(sources)
        .filter_map(|(at, from)| Some((changes.changed[at].1.clone(), from?)))
        .collect();
    Ok(changes)
}

/// Where history introduced a blob: a path, the oldest commit that put the blob there, and the
/// path that commit renamed it from, if it was an exact rename.
struct Place {
    path: BString,
    at: usize,
    renamed_from: Option<BString>,
}

/// What one blob held: findings and warnings, and the fingerprints that a rename only carried
/// over from the old path, each with the renaming commit.
struct Scanned {
    events: Vec<Event>,
    moved: Vec<(String, usize)>,
}

/// Reads one blob and examines it at every path it was introduced at, attributed to its commit.
fn scan_blob(
    repo: &gix::Repository,
    id: ObjectId,
    places: &[Place],
    commits: &[Commit],
    examiner: &Examiner,
    max_file_size: u64,
    counters: &Counters,
) -> Result<Scanned, String> {
    let mut scanned = Scanned {
        events: Vec::new(),
        moved: Vec::new(),
    };
    let Some(first) = places.first() else {
        return Ok(scanned);
    };
    let what = || {
        let commit = commits.get(first.at).map_or("?", |c| c.id.as_str());
        format!(
            "blob {id} of '{}' in commit {commit}",
            first.path.to_str_lossy()
        )
    };
    let Some(blob) = blob_within(repo, id, max_file_size, what).map_err(|e| e.to_string())? else {
        for place in places {
            let shown = place.path.to_str_lossy();
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            scanned.events.push(Event::Warning(format!(
                "skipped '{shown}' (blob {id}): larger than --max-file-size ({max_file_size} bytes)"
            )));
            let found = examiner.examine(&shown, &shown, None, commits.get(place.at));
            if !found.findings.is_empty() {
                scanned.events.push(Event::Findings(found.findings));
            }
        }
        return Ok(scanned);
    };
    let data = &blob.data;
    if is_lfs_pointer(data) {
        return Ok(scanned);
    }
    counters.files.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    let shown = first.path.to_str_lossy();
    let found = examiner.examine(&shown, &shown, Some(data), commits.get(first.at));
    if found.binary {
        counters.binary.fetch_add(1, Ordering::Relaxed);
    }
    // The content is scanned once. Another path needs a second look only if the content holds
    // something (findings, or an allowlisted first path hid them) or its name may be sensitive.
    let content =
        found.findings.iter().any(|f| f.column.is_some()) || examiner.allow.path_allowed(&shown);
    let mut per_place = vec![found.findings];
    for place in &places[1..] {
        let shown = place.path.to_str_lossy();
        per_place.push(
            if content || !examiner.scanner.files().candidates(&shown).is_empty() {
                examiner
                    .examine(&shown, &shown, Some(data), commits.get(place.at))
                    .findings
            } else {
                Vec::new()
            },
        );
    }
    // At a renamed path, what the old path also raised (same rule, same place in the same
    // content) moved with the file.
    for (place, found) in places.iter().zip(&per_place) {
        let Some(from) = &place.renamed_from else {
            continue;
        };
        let Some(old) = places.iter().position(|p| p.path == *from) else {
            continue;
        };
        for f in found {
            let same =
                |g: &&Finding| g.rule_id == f.rule_id && g.line == f.line && g.column == f.column;
            if per_place[old].iter().any(|g| same(&g)) {
                scanned.moved.push((f.fingerprint.clone(), place.at));
            }
        }
    }
    for found in per_place.into_iter().filter(|f| !f.is_empty()) {
        scanned.events.push(Event::Findings(found));
    }
    Ok(scanned)
}

/// `seconds` since the epoch at UTC offset `offset` (seconds) as RFC 3339, e.g.
/// `2024-05-01T12:00:00+02:00`.
pub fn rfc3339(seconds: i64, offset: i32) -> String {
    let local = seconds + i64::from(offset);
    let days = local.div_euclid(86_400);
    let rest = local.rem_euclid(86_400);
    let (year, month, day) = crate::time::civil_from_days(days);
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{zone}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A one-line progress report on stderr, redrawn a few times a second, only on a terminal.
struct Progress<'a> {
    counters: &'a Counters,
    history: &'a HistoryCounters,
    done: AtomicBool,
    started: Instant,
}

impl<'a> Progress<'a> {
    fn new(counters: &'a Counters, history: &'a HistoryCounters) -> Option<Progress<'a>> {
        std::io::stderr().is_terminal().then(|| Progress {
            counters,
            history,
            done: AtomicBool::new(false),
            started: Instant::now(),
        })
    }

    fn run(&self) {
        while !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let bytes = self.counters.bytes.load(Ordering::Relaxed);
            let seconds = self.started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r\x1b[Khush: {} commits, {} blobs scanned, {:.0} MB/s",
                self.history.commits.load(Ordering::Relaxed),
                self.history.blobs.load(Ordering::Relaxed),
                bytes as f64 / 1e6 / seconds
            );
        }
        eprint!("\r\x1b[K");
    }

    fn stop(&self) {
        self.done.store(true, Ordering::Relaxed);
    }
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
    fn dates_are_rfc3339_in_the_authors_zone() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800, 7200), "2024-05-01T14:00:00+02:00");
        assert_eq!(rfc3339(1_714_564_800, -19_800), "2024-05-01T06:30:00-05:30");
    }

    #[test]
    fn skipped_prefixes_cover_only_their_directory() {
        let under_skipped = |s: &[BString], p: &BStr| skipped_prefix(s, p).is_some();
        let skipped: Vec<BString> = vec!["a/".into(), "c/d/".into()];
        assert!(under_skipped(&skipped, b"a/x".as_bstr()));
        assert!(!under_skipped(&skipped, b"ab".as_bstr()));
        assert!(!under_skipped(&skipped, b"b/a/x".as_bstr()));
        assert!(under_skipped(&skipped, b"c/d/e/f".as_bstr()));
        assert!(!under_skipped(&skipped, b"c/e".as_bstr()));
        assert!(under_skipped(&[BString::from("")], b"anything".as_bstr()));
    }
}
