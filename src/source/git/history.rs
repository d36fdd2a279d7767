//! `hush history` and the pre-push hook: every blob the selected commits add or modify (against
//! their first parent; a root commit adds everything). Tree diffs run in parallel, each distinct
//! blob is read and scanned once, in pack order, and each finding is blamed on the oldest commit
//! that put its secret at its path (see `attribution`). A rename, with or without edits, moves
//! what its source held: it is not where those secrets start.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;

use gix::bstr::{BString, ByteSlice};
use gix::objs::TreeRefIter;
use gix::ObjectId;

use super::attribution::{name_commits, Found, Oldest, Walked};
use super::parallel::Reads;
use super::places::{BlobPlaces, Changes, Place};
use super::renames::{best_source, pair_exact};
use super::resident::PackPages;
use super::shard::{Elsewhere, Shard};
use super::state::Incremental;
use super::{
    count_read, is_lfs_pointer, parallel, progress, read_blob, read_error, send, send_findings,
    GitError, Oversize,
};
use crate::rules::one_line;
use crate::source::fs::Counters;
use crate::source::{Event, Examiner};

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

/// Totals of a history scan, beyond the per-file counters.
#[derive(Default)]
pub struct HistoryCounters {
    pub commits: AtomicU64,
    pub blobs: AtomicU64,
}

/// How a history scan judges what it reads.
pub struct HistoryScan<'a> {
    pub examiner: &'a Examiner<'a>,
    pub max_file_size: u64,
    /// `Skip` for `history`, `Read` for the pre-push guard.
    pub oversize: Oversize,
    pub counters: &'a Counters,
    pub history: &'a HistoryCounters,
    /// `--shard I/N`: scan only the blobs (and commit texts) of this shard.
    pub shard: Option<Shard>,
    /// `--state FILE`: what earlier scans covered (not walked or read again), and what this
    /// one learns.
    pub incremental: Option<&'a Incremental>,
}

/// Scans the blobs `revisions` introduce and sends their findings, each attributed to a commit.
pub fn scan_history(
    repo: &gix::Repository,
    revisions: &Revisions,
    scan: &HistoryScan,
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
    if let Some(incremental) = scan.incremental {
        // The walk itself stops at the commits walked before (see `walk`).
        incremental.learn_tips(&tips);
    }
    if tips.is_empty() {
        return Ok(());
    }
    progress::around(scan.counters, scan.history, || {
        let found = scan_commits(repo, &tips, &hidden, scan, events)?;
        send_findings(events, found);
        Ok(())
    })
}

/// The walk, the diffs, the blob scan and the attribution, in that order.
fn scan_commits(
    repo: &gix::Repository,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    scan: &HistoryScan,
    events: &Sender<Event>,
) -> Result<Vec<crate::report::Finding>, GitError> {
    let (commits, roots) = walk(repo, tips, hidden, scan)?;
    // A range starts from history it does not include: what its first commits' parents already
    // had is not introduced by the range. (An incremental scan knows that from its state.)
    let with_inherited = !hidden.is_empty() && scan.incremental.is_none();
    let pages = PackPages::new(repo);
    let introduced = introduce(repo, &commits, with_inherited, DIFF_BATCH, &pages)?;
    let (inherited, mut blobs) = (introduced.inherited, introduced.places.blobs);
    let mut others = Vec::new();
    if let Some(shard) = scan.shard {
        (blobs, others) = blobs.into_iter().partition(|(id, _)| shard.holds(id));
    }
    if let Some(incremental) = scan.incremental {
        incremental.learn_roots(&roots);
        skip_seen(incremental, &mut blobs, scan.examiner);
    }
    let mut oldest = scan_blobs(repo, &blobs, &commits, scan, events, &pages)?;
    pages.release();
    for found in scan_commit_texts(repo, &commits, scan.examiner, scan.shard)? {
        oldest.keep(&commits, found);
    }
    let before = inherited_fingerprints(repo, &inherited, scan)?;
    let mut moves = Moves {
        repo,
        examiner: scan.examiner,
        commits: &commits,
        deleted: HashMap::new(),
        blobs: &blobs,
        secrets: HashMap::new(),
    };
    let groups: Vec<Vec<Found>> = oldest.into_groups().collect();
    let path_of = |f: &Found| Some(&blobs.get(f.blob)?.1.get(f.place)?.path);
    let elsewhere = scan.shard.map(|_| {
        let paths = groups
            .iter()
            .flatten()
            .filter_map(path_of)
            .cloned()
            .collect();
        Elsewhere::new(&others, &paths, &commits)
    });
    let mut found = Vec::new();
    for group in groups {
        if let Some(first) = group.first().filter(|first| moves.moved(first)) {
            if let Some(incremental) = scan.incremental {
                incremental.learn_silent(&first.finding.fingerprint);
            }
            continue;
        }
        if group
            .iter()
            .any(|f| before.contains(&f.finding.fingerprint))
        {
            continue;
        }
        if let (Some(elsewhere), Some(first)) = (&elsewhere, group.first()) {
            let path = path_of(first);
            if let Some(path) = path {
                if elsewhere.older_copy(repo, scan, path, first, &commits)? {
                    if let Some(incremental) = scan.incremental {
                        incremental.learn_silent(&first.finding.fingerprint);
                    }
                    continue;
                }
            }
        }
        found.extend(group);
    }
    let mut found = name_commits(repo, scan.examiner.scanner, &commits, found)?;
    crate::report::sort(&mut found);
    Ok(found)
}

/// The commits to walk from, and those whose history is excluded.
fn resolve(
    repo: &gix::Repository,
    revisions: &Revisions,
) -> Result<(Vec<ObjectId>, Vec<ObjectId>), GitError> {
    match revisions {
        Revisions::All => Ok((all_tips(repo)?, Vec::new())),
        Revisions::Spec(spec) => resolve_spec(repo, spec),
        Revisions::Between { tips, hidden } => {
            let tips = tips.iter().filter_map(|&id| peel_to_commit(repo, id));
            let hidden = hidden.iter().filter_map(|&id| peel_to_commit(repo, id));
            Ok((tips.collect(), hidden.collect()))
        }
    }
}

/// Every reference's commit, and `HEAD`'s.
fn all_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>, GitError> {
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
    Ok(tips)
}

/// A revision or range, as `git rev-list` reads it.
fn resolve_spec(
    repo: &gix::Repository,
    spec: &str,
) -> Result<(Vec<ObjectId>, Vec<ObjectId>), GitError> {
    use gix::revision::plumbing::Spec;
    let bad = |e: &dyn std::fmt::Display| GitError::Revision {
        spec: spec.to_string(),
        reason: one_line(e),
    };
    let parsed = repo.rev_parse(spec).map_err(|e| bad(&e))?.detach();
    let commit = |id: ObjectId| {
        peel_to_commit(repo, id).ok_or_else(|| bad(&format!("{id} is not a commit")))
    };
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

/// `id` peeled through tags to a commit, if it is (or points at) one that we have.
fn peel_to_commit(repo: &gix::Repository, id: ObjectId) -> Option<ObjectId> {
    let object = repo.find_object(id).ok()?;
    object.peel_to_commit().ok().map(|c| c.id)
}

/// What a push destination already has: the tips of its remote-tracking branches
/// (`refs/remotes/<remote>/*`) when `remote` names a configured remote. A push to a URL, or to a
/// remote never fetched, has none: then only the ref lines git gives the hook say what is there.
pub fn remote_tips(repo: &gix::Repository, remote: &str) -> Result<Vec<ObjectId>, GitError> {
    let configured = repo
        .remote_names()
        .iter()
        .any(|name| name.as_slice() == remote.as_bytes());
    if !configured {
        return Ok(Vec::new());
    }
    let refs = repo
        .references()
        .map_err(|e| read_error("references", &e))?;
    let prefix = format!("refs/remotes/{remote}/");
    let remotes = refs
        .prefixed(prefix.as_str())
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

/// The commits reachable from `tips` and not from `hidden`, newest first, and those of them
/// without parents (root commits).
fn walk(
    repo: &gix::Repository,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    scan: &HistoryScan,
) -> Result<(Vec<Walked>, Vec<ObjectId>), GitError> {
    use gix::revision::walk::Sorting;
    use gix::traverse::commit::simple::CommitTimeOrder;
    let walk = repo
        .rev_walk(tips.iter().copied())
        .with_hidden(hidden.iter().copied())
        .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst));
    // An incremental walk stops at commits walked before: their ancestry was walked with them.
    let incremental = scan.incremental;
    let walk = walk
        .selected(move |id| incremental.is_none_or(|state| !state.walked(id)))
        .map_err(|e| read_error("the commit graph", &e))?;
    let (mut commits, mut roots) = (Vec::new(), Vec::new());
    for info in walk {
        let info = info.map_err(|e| read_error("the commit graph", &e))?;
        if info.parent_ids.is_empty() {
            roots.push(info.id);
        }
        commits.push(Walked {
            id: info.id,
            time: info.commit_time.unwrap_or_default(),
        });
        scan.history.commits.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(incremental) = incremental {
        incremental.learn_commits(commits.iter().map(|c| c.id));
    }
    Ok((commits, roots))
}

/// What the tree diff of a commit needs to know about it.
struct CommitInfo {
    id: ObjectId,
    tree: ObjectId,
    parent: Option<ObjectId>,
}

/// How many commits' tree diffs are held at once. The diffs are folded into the list of blob
/// places batch by batch and then dropped: what a history scan holds for its whole length is
/// that compact list, never every commit's diff.
const DIFF_BATCH: usize = 16384;

/// The blobs the walked commits introduce, and where.
struct Introduced {
    places: BlobPlaces,
    /// What a range's first commits inherited from outside it (when asked for).
    inherited: Vec<(ObjectId, BString)>,
    /// The most commits' diffs held at once: at most the batch size.
    most_held: usize,
}

/// Diffs the walked commits against their first parents, `batch` commits at a time in walk
/// order, and folds each batch into the blob places before diffing the next. Within a batch,
/// tree diffs run in parallel in the pack order of the root trees: a tree's delta base is then
/// read (and cached) before it.
fn introduce(
    repo: &gix::Repository,
    commits: &[Walked],
    with_inherited: bool,
    batch: usize,
    pages: &PackPages,
) -> Result<Introduced, GitError> {
    let infos = commit_infos(repo, commits)?;
    pages.release();
    let trees: HashMap<ObjectId, ObjectId> = infos.iter().map(|i| (i.id, i.tree)).collect();
    let walked: HashSet<ObjectId> = match with_inherited {
        true => commits.iter().map(|c| c.id).collect(),
        false => HashSet::new(),
    };
    let mut introduced = Introduced {
        places: BlobPlaces::default(),
        inherited: Vec::new(),
        most_held: 0,
    };
    for (n, infos) in infos.chunks(batch.max(1)).enumerate() {
        let first = n * batch.max(1);
        let diffs = diff_batch(repo, infos, &trees)?;
        introduced.most_held = introduced.most_held.max(diffs.len());
        introduced.places.fold(commits, first, &diffs);
        // The caches' memory is not trimmed between batches: the next batch's caches reuse it.
        pages.release_pages();
        if with_inherited {
            let walk = &commits[first..first + diffs.len()];
            inherited(repo, walk, &diffs, &walked, &mut introduced.inherited)?;
        }
    }
    introduced.inherited.sort();
    introduced.inherited.dedup();
    pages.release();
    Ok(introduced)
}

/// Items handed to a worker at a time: enough neighbours to share delta bases.
fn run_length(items: usize) -> usize {
    (items / (parallel::threads() * 8)).max(64)
}

/// Each walked commit's tree and first parent, in walk order.
fn commit_infos(repo: &gix::Repository, commits: &[Walked]) -> Result<Vec<CommitInfo>, GitError> {
    match repo.commit_graph_if_enabled().ok().flatten() {
        Some(graph) => commits
            .iter()
            .map(|walked| commit_info(repo, Some(&graph), walked.id))
            .collect(),
        None => parallel::map(
            repo,
            Reads::Once,
            commits,
            run_length(commits.len()),
            "reading commits",
            |repo, w| commit_info(repo, None, w.id),
        ),
    }
}

/// The changes of each commit of `infos`, in their order, diffed in pack order.
fn diff_batch(
    repo: &gix::Repository,
    infos: &[CommitInfo],
    trees: &HashMap<ObjectId, ObjectId>,
) -> Result<Vec<Changes>, GitError> {
    let by_tree = pack_order(repo, infos.iter().map(|info| info.tree));
    let sorted = parallel::map(
        repo,
        Reads::Repeated,
        &by_tree,
        run_length(by_tree.len()),
        "diffing trees",
        |repo, &at| commit_changes(repo, &infos[at], trees),
    )?;
    let mut diffs: Vec<Changes> = vec![Changes::default(); infos.len()];
    for (&at, changes) in by_tree.iter().zip(sorted) {
        diffs[at] = changes;
    }
    Ok(diffs)
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
    let (tree, parent) = (decoded.tree(), decoded.parents().next());
    Ok(CommitInfo { id, tree, parent })
}

/// The tree of `commit`'s first parent: from `trees` for walked commits, else read; `None` for a
/// root commit or one whose parent a shallow clone lacks (history starts there).
fn parent_tree(
    repo: &gix::Repository,
    info: &CommitInfo,
    trees: &HashMap<ObjectId, ObjectId>,
) -> Result<Option<ObjectId>, GitError> {
    let Some(parent) = info.parent else {
        return Ok(None);
    };
    if let Some(tree) = trees.get(&parent) {
        return Ok(Some(*tree));
    }
    let what = || format!("commit {parent}");
    match repo.try_find_object(parent) {
        Ok(Some(object)) => Ok(Some(
            object
                .try_into_commit()
                .map_err(|e| read_error(what(), &e))?
                .tree_id()
                .map_err(|e| read_error(what(), &e))?
                .detach(),
        )),
        Ok(None) => Ok(None),
        Err(e) => Err(read_error(what(), &e)),
    }
}

/// The blob changes between two trees (`None`: the empty tree).
fn tree_diff(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
) -> Result<Vec<gix::diff::tree::recorder::Change>, GitError> {
    let what = || {
        format!(
            "trees {} and {new}",
            old.map_or("(empty)".into(), |o| o.to_string())
        )
    };
    let new = repo.find_tree(new).map_err(|e| read_error(what(), &e))?;
    let old = match old {
        Some(old) => repo.find_tree(old).map_err(|e| read_error(what(), &e))?,
        None => repo.empty_tree(),
    };
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        TreeRefIter::from_bytes(&old.data, old.id.kind()),
        TreeRefIter::from_bytes(&new.data, new.id.kind()),
        &mut gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )
    .map_err(|e| read_error(what(), &e))?;
    Ok(recorder.records)
}

/// The changes of a commit relative to its first parent (everything, for a root commit).
fn commit_changes(
    repo: &gix::Repository,
    info: &CommitInfo,
    trees: &HashMap<ObjectId, ObjectId>,
) -> Result<Changes, GitError> {
    use gix::diff::tree::recorder::Change;
    let old = parent_tree(repo, info, trees)?;
    let mut changes = Changes::default();
    let mut added = Vec::new();
    let mut deleted: HashMap<ObjectId, Vec<BString>> = HashMap::new();
    for change in tree_diff(repo, old, info.tree)? {
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
    let sources = pair_exact(&new, &mut deleted);
    let mut unpaired = false;
    for (at, from) in added.into_iter().zip(sources) {
        match from {
            Some(from) => changes.renamed.push((changes.changed[at].1.clone(), from)),
            None => unpaired = true,
        }
    }
    if unpaired {
        changes.deleted = deleted
            .into_iter()
            .flat_map(|(id, paths)| paths.into_iter().map(move |path| (id, path)))
            .collect();
        changes.deleted.sort();
    }
    Ok(changes)
}

/// Drops the blobs an earlier scan read, and records the rest as read. A blob read before is
/// read again only where it could find something new at a new path: its content held findings
/// then, or a path it is now at may be a sensitive file (findings already reported are dropped
/// by fingerprint afterwards).
fn skip_seen(
    incremental: &Incremental,
    blobs: &mut Vec<(ObjectId, Vec<Place>)>,
    examiner: &Examiner,
) {
    let files = examiner.scanner.files();
    blobs.retain(|(id, places)| {
        !incremental.seen(id)
            || incremental.held_before(id)
            || places
                .iter()
                .any(|p| !files.candidates(&p.path.to_str_lossy()).is_empty())
    });
    incremental.learn_blobs(blobs.iter().map(|(id, _)| *id));
}

/// Reads and examines every blob, in pack order (a delta's base comes before it, so each thread,
/// walking a run of neighbours, finds most bases in its delta cache instead of inflating the
/// whole chain again: inflating dominates the cost of a history scan).
fn scan_blobs(
    repo: &gix::Repository,
    blobs: &[(ObjectId, Vec<Place>)],
    commits: &[Walked],
    scan: &HistoryScan,
    events: &Sender<Event>,
    pages: &PackPages,
) -> Result<Oldest, GitError> {
    let order = pack_order(repo, blobs.iter().map(|(id, _)| *id));
    let runs: Vec<&[usize]> = order
        .chunks((order.len() / (parallel::threads() * 16)).max(64))
        .collect();
    let oldest = Mutex::new(Oldest::default());
    parallel::map(
        repo,
        Reads::Once,
        &runs,
        1,
        "scanning blobs",
        |repo, run| {
            for &at in *run {
                let found = scan_blob(repo, at, &blobs[at], commits, scan, events);
                scan.history.blobs.fetch_add(1, Ordering::Relaxed);
                pages.after(scan.counters.bytes.load(Ordering::Relaxed));
                match found {
                    Ok(found) if found.is_empty() => {}
                    Ok(found) => {
                        let mut oldest =
                            oldest.lock().map_err(|_| GitError::Internal("scanning"))?;
                        for f in found {
                            oldest.keep(commits, f);
                        }
                    }
                    Err(e) => {
                        scan.counters.errors.fetch_add(1, Ordering::Relaxed);
                        send(events, Event::Error(e.to_string()));
                    }
                }
            }
            Ok(())
        },
    )?;
    oldest
        .into_inner()
        .map_err(|_| GitError::Internal("scanning blobs"))
}

/// Reads one blob and examines it at every path it was introduced at.
fn scan_blob(
    repo: &gix::Repository,
    index: usize,
    (id, places): &(ObjectId, Vec<Place>),
    commits: &[Walked],
    scan: &HistoryScan,
    events: &Sender<Event>,
) -> Result<Vec<Found>, GitError> {
    let Some(first) = places.first() else {
        return Ok(Vec::new());
    };
    let what = || {
        let commit = commits.get(first.at).map(|c| c.id.to_string());
        format!(
            "blob {id} of '{}' in commit {}",
            scan.examiner.shown_path(&first.path),
            commit.as_deref().unwrap_or("?")
        )
    };
    let tag = |place: usize| {
        let at = places[place].at;
        move |finding| Found {
            at,
            blob: index,
            place,
            finding,
        }
    };
    let examiner = scan.examiner;
    let Some(blob) = read_blob(repo, *id, scan.max_file_size, scan.oversize, what)? else {
        let mut found = Vec::new();
        for (at, place) in places.iter().enumerate() {
            scan.counters.skipped.fetch_add(1, Ordering::Relaxed);
            let warning = format!(
                "skipped '{}' (blob {id}): larger than --max-file-size ({} bytes)",
                examiner.shown_path(&place.path),
                scan.max_file_size
            );
            send(events, Event::Warning(warning));
            let examined = examiner.examine_raw(&place.path, &place.path, None, None);
            found.extend(examined.findings.into_iter().map(tag(at)));
        }
        return Ok(found);
    };
    let data = &blob.data;
    if is_lfs_pointer(data) {
        return Ok(Vec::new());
    }
    count_read(scan.counters, data.len());
    let shown = first.path.to_str_lossy();
    let examined = examiner.examine_raw(&first.path, &first.path, Some(data), None);
    if examined.binary {
        scan.counters.binary.fetch_add(1, Ordering::Relaxed);
    }
    // The content is scanned once. Another path needs a second look only if the content holds
    // something (findings, or an allowlisted first path hid them) or its name may be sensitive.
    let content =
        examined.findings.iter().any(|f| f.in_content()) || examiner.allow.path_allowed(&shown);
    if let (true, Some(incremental)) = (content, scan.incremental) {
        incremental.learn_held(*id);
    }
    let mut found: Vec<Found> = examined.findings.into_iter().map(tag(0)).collect();
    for (at, place) in places.iter().enumerate().skip(1) {
        let shown = place.path.to_str_lossy();
        if content || !examiner.scanner.files().candidates(&shown).is_empty() {
            let examined = examiner.examine_raw(&place.path, &place.path, Some(data), None);
            found.extend(examined.findings.into_iter().map(tag(at)));
        }
    }
    Ok(found)
}

/// The (rule, secret) pairs a blob held at a path.
type Held = HashSet<(String, Vec<u8>)>;

/// Where a finding in a commit's own text is reported: its source in place of a path.
const MESSAGE: &str = "<commit message>";
const AUTHOR: &str = "<author>";
const COMMITTER: &str = "<committer>";

/// Scans each commit's message and its author and committer identities, as sources of their
/// own: a token pasted into a message, or used as a name, leaves with every push.
fn scan_commit_texts(
    repo: &gix::Repository,
    commits: &[Walked],
    examiner: &Examiner,
    shard: Option<Shard>,
) -> Result<Vec<Found>, GitError> {
    // A commit's own text belongs to the shard of its id.
    let chosen: Vec<usize> = (0..commits.len())
        .filter(|&at| shard.is_none_or(|s| s.holds(&commits[at].id)))
        .collect();
    let run = (chosen.len() / (parallel::threads() * 8)).max(64);
    let per_commit = parallel::map(
        repo,
        Reads::Once,
        &chosen,
        run,
        "scanning commit messages",
        |repo, &at| {
            let w = &commits[at];
            let what = || format!("commit {}", w.id);
            let commit = repo.find_commit(w.id).map_err(|e| read_error(what(), &e))?;
            let decoded = commit.decode().map_err(|e| read_error(what(), &e))?;
            let identity = |s: gix::actor::SignatureRef| {
                let mut text = s.name.to_vec();
                text.extend_from_slice(b" <");
                text.extend_from_slice(s.email);
                text.push(b'>');
                text
            };
            let texts = [
                (MESSAGE, decoded.message.to_vec()),
                (AUTHOR, decoded.author().map(identity).unwrap_or_default()),
                (
                    COMMITTER,
                    decoded.committer().map(identity).unwrap_or_default(),
                ),
            ];
            let mut found = Vec::new();
            for (source, text) in texts {
                let examined = examiner.examine(source, source, Some(&text), None);
                found.extend(examined.findings.into_iter().filter(|f| f.in_content()));
            }
            Ok(found)
        },
    )?;
    let mut out = Vec::new();
    for (&at, findings) in chosen.iter().zip(per_commit) {
        out.extend(findings.into_iter().map(|finding| Found {
            at,
            blob: usize::MAX,
            place: 0,
            finding,
        }));
    }
    Ok(out)
}

/// Decides whether a finding's oldest commit only moved its secret: the commit renamed the file
/// (exactly, or with edits as `git diff -M` judges) from a path whose content held the same
/// secret under the same rule.
struct Moves<'a> {
    repo: &'a gix::Repository,
    examiner: &'a Examiner<'a>,
    commits: &'a [Walked],
    /// The deleted blobs of the commits findings are blamed on (walk index to its deletions),
    /// diffed again when asked for: the scan keeps no commit's diff.
    deleted: HashMap<usize, Vec<(ObjectId, BString)>>,
    blobs: &'a [(ObjectId, Vec<Place>)],
    /// What a (blob, path) held, as (rule, secret) pairs, examined once each.
    secrets: HashMap<(ObjectId, BString), Held>,
}

impl Moves<'_> {
    fn moved(&mut self, found: &Found) -> bool {
        let finding = &found.finding;
        let blobs = self.blobs;
        let Some((id, places)) = blobs.get(found.blob) else {
            return false;
        };
        let Some(place) = places.get(found.place) else {
            return false;
        };
        let source = match &place.renamed_from {
            Some(from) => Some((*id, BString::from(&from[..]))),
            None => self.edited_rename_source(*id, place),
        };
        let Some(source) = source else {
            return false;
        };
        let held = self.secrets_of(source);
        held.contains(&(finding.rule_id.clone(), finding.secret.0.clone()))
    }

    /// The deleted file the commit at `place` renamed (with edits) to this blob, if any.
    fn edited_rename_source(&mut self, id: ObjectId, place: &Place) -> Option<(ObjectId, BString)> {
        let (repo, commits) = (self.repo, self.commits);
        let deleted = match self.deleted.entry(place.at) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let commit = commits.get(place.at)?.id;
                entry.insert(deleted_by(repo, commit).ok()?)
            }
        };
        if deleted.is_empty() {
            return None;
        }
        let data = self.repo.find_blob(id).ok()?.detach().data;
        let size = |d: &(ObjectId, BString)| repo.find_header(d.0).map_or(u64::MAX, |h| h.size());
        let read = |d: &(ObjectId, BString)| repo.find_blob(d.0).ok().map(|b| b.detach().data);
        let best = best_source(&data, &place.path, deleted, size, |d| &d.1, read)?;
        deleted.get(best).cloned()
    }

    fn secrets_of(&mut self, (id, path): (ObjectId, BString)) -> &Held {
        let (repo, examiner) = (self.repo, self.examiner);
        self.secrets
            .entry((id, path))
            .or_insert_with_key(|(id, path)| {
                let Ok(blob) = repo.find_blob(*id) else {
                    return HashSet::new();
                };
                examiner
                    .examine_raw(path, path, Some(&blob.data), None)
                    .findings
                    .into_iter()
                    .filter(|f| f.in_content())
                    .map(|f| (f.rule_id, f.secret.0))
                    .collect()
            })
    }
}

/// What `commit` deleted that no exact rename took, when it also added paths (the candidate
/// sources of its renames with edits), as its tree diff says.
fn deleted_by(
    repo: &gix::Repository,
    commit: ObjectId,
) -> Result<Vec<(ObjectId, BString)>, GitError> {
    let info = commit_info(repo, None, commit)?;
    Ok(commit_changes(repo, &info, &HashMap::new())?.deleted)
}

/// Adds to `pairs` the (blob, path) pairs that parents outside the walk (`walked`) have at the
/// paths their walked children (`commits`, whose changes are `diffs`) change: the content a
/// range builds on.
fn inherited(
    repo: &gix::Repository,
    commits: &[Walked],
    diffs: &[Changes],
    walked: &HashSet<ObjectId>,
    pairs: &mut Vec<(ObjectId, BString)>,
) -> Result<(), GitError> {
    for (commit, changes) in commits.iter().zip(diffs) {
        if changes.changed.is_empty() {
            continue;
        }
        let what = || format!("commit {}", commit.id);
        let found = repo
            .find_commit(commit.id)
            .map_err(|e| read_error(what(), &e))?;
        let own_tree = found
            .tree_id()
            .map_err(|e| read_error(what(), &e))?
            .detach();
        let parents: Vec<ObjectId> = found
            .parent_ids()
            .map(|p| p.detach())
            .filter(|p| !walked.contains(p))
            .collect();
        for parent in parents {
            inherited_from(repo, parent, own_tree, &changes.changed, pairs)?;
        }
    }
    Ok(())
}

/// What the unwalked `parent` held at the `changed` paths of its child (whose tree is `own`),
/// including files the child renamed from it.
fn inherited_from(
    repo: &gix::Repository,
    parent: ObjectId,
    own: ObjectId,
    changed: &[(ObjectId, BString)],
    pairs: &mut Vec<(ObjectId, BString)>,
) -> Result<(), GitError> {
    let what = || format!("commit {parent}");
    // Beyond a shallow clone's boundary there is nothing to compare with.
    let Some(object) = repo
        .try_find_object(parent)
        .map_err(|e| read_error(what(), &e))?
    else {
        return Ok(());
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
            Some(entry) if entry.mode().is_blob() => pairs.push((entry.object_id(), path.clone())),
            Some(_) => {}
            None => added.push((*id, path)),
        }
    }
    if added.is_empty() {
        return Ok(());
    }
    // A path new to the parent may be a file it had, renamed: its content is inherited.
    let mut gone: HashMap<ObjectId, Vec<BString>> = HashMap::new();
    for change in tree_diff(repo, Some(tree.id), own)? {
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
    let new: Vec<(ObjectId, &[u8])> = added.iter().map(|(id, p)| (*id, p.as_slice())).collect();
    for ((id, path), from) in added.iter().zip(pair_exact(&new, &mut gone)) {
        if from.is_some() {
            pairs.push((*id, (*path).clone()));
        }
    }
    Ok(())
}

/// The fingerprints of what `inherited` blobs hold at their paths.
fn inherited_fingerprints(
    repo: &gix::Repository,
    inherited: &[(ObjectId, BString)],
    scan: &HistoryScan,
) -> Result<HashSet<String>, GitError> {
    let mut fingerprints = HashSet::new();
    for (id, path) in inherited {
        let what = || format!("blob {id} of '{}'", scan.examiner.shown_path(path));
        let data = read_blob(repo, *id, scan.max_file_size, scan.oversize, what)?;
        let data = data.as_ref().map(|b| &b.data[..]);
        let examined = scan.examiner.examine_raw(path, path, data, None);
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

#[cfg(test)]
mod tests {
    use super::*;
    use gix::objs::tree::{Entry, EntryKind};

    /// A linear history of `count` commits over a flat tree: each edits one of five files, every
    /// third adds a file, every seventh renames one. Returned newest first, as the walk lists it.
    fn history(count: i64) -> (tempfile::TempDir, gix::Repository, Vec<Walked>) {
        let dir = tempfile::TempDir::new().unwrap();
        let repo = gix::init_bare(dir.path()).unwrap();
        let mut files: std::collections::BTreeMap<String, String> = (0..5)
            .map(|f| (format!("f{f}.txt"), format!("file {f}\n")))
            .collect();
        let (mut parent, mut walked) = (None, Vec::new());
        for n in 0..count {
            let edited = format!("f{}.txt", n % 5);
            files
                .entry(edited)
                .or_default()
                .push_str(&format!("line {n}\n"));
            if n % 3 == 0 {
                files.insert(format!("new{n}.txt"), format!("new {n}\n"));
            }
            if n % 7 == 6 {
                if let Some(text) = files.remove(&format!("new{}.txt", n - 6)) {
                    files.insert(format!("moved{n}.txt"), text);
                }
            }
            let entries = files
                .iter()
                .map(|(name, text)| Entry {
                    mode: EntryKind::Blob.into(),
                    filename: name.as_str().into(),
                    oid: repo.write_blob(text.as_bytes()).unwrap().detach(),
                })
                .collect();
            let tree = repo.write_object(gix::objs::Tree { entries }).unwrap();
            let who = gix::actor::Signature {
                name: "Dev".into(),
                email: "dev@example.com".into(),
                time: gix::date::Time::new(1_000_000 + n, 0),
            };
            let commit = gix::objs::Commit {
                tree: tree.detach(),
                parents: parent.into_iter().collect(),
                author: who.clone(),
                committer: who,
                encoding: None,
                message: format!("commit {n}\n").into(),
                extra_headers: Vec::new(),
            };
            let id = repo.write_object(commit).unwrap().detach();
            parent = Some(id);
            walked.push(Walked {
                id,
                time: 1_000_000 + n,
            });
        }
        walked.reverse();
        (dir, repo, walked)
    }

    /// (blob, [(path, commit, renamed from)]) of every introduced blob, in list order.
    type Listed = Vec<(ObjectId, Vec<(Vec<u8>, usize, Option<Vec<u8>>)>)>;

    fn listed(places: &BlobPlaces) -> Listed {
        let place = |p: &Place| {
            (
                p.path.to_vec(),
                p.at,
                p.renamed_from.as_deref().map(<[u8]>::to_vec),
            )
        };
        places
            .blobs
            .iter()
            .map(|(id, list)| (*id, list.iter().map(place).collect()))
            .collect()
    }

    #[test]
    fn diffs_are_held_a_batch_at_a_time_and_batching_changes_no_place() {
        let (_dir, repo, commits) = history(60);
        let whole = introduce(&repo, &commits, false, usize::MAX, &PackPages::new(&repo)).unwrap();
        assert_eq!(whole.most_held, 60);
        let expected = listed(&whole.places);
        // 5 edited files, 20 added ones, the renames' new paths: all there, each blob once.
        assert!(expected.len() > 60, "{}", expected.len());
        assert!(expected
            .iter()
            .flat_map(|(_, places)| places)
            .any(|(path, _, from)| path.starts_with(b"moved") && from.is_some()));
        for batch in [1, 7, 59] {
            let batched = introduce(&repo, &commits, false, batch, &PackPages::new(&repo)).unwrap();
            assert_eq!(batched.most_held, batch, "batch {batch}");
            assert_eq!(listed(&batched.places), expected, "batch {batch}");
            assert_eq!(
                batched.places.distinct_paths(),
                whole.places.distinct_paths()
            );
        }
    }
}
