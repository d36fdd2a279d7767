//! The one worker pool of the git sources: items handed out in runs to one thread per core, each
//! with its own repository handle and object caches. One failure policy: the first error (in item
//! order) stops the others and is returned; a panicking worker is an internal error.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::GitError;

/// What all threads together may keep in caches: delta bases (so that neighbouring objects in a
/// pack share their inflated bases) and decoded trees. Split between threads, and never more than
/// `CACHE_PER_THREAD` each, so memory stays bounded whatever the core count.
const CACHE_TOTAL_BYTES: usize = 384 * 1024 * 1024;
const CACHE_PER_THREAD: usize = 48 * 1024 * 1024;
/// Below this many items, starting threads costs more than it saves (a hook scans a handful).
const PARALLEL_FROM: usize = 8;

pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn delta_cache_bytes() -> usize {
    (CACHE_TOTAL_BYTES / threads()).min(CACHE_PER_THREAD)
}

/// What a pool's workers read, which decides their caches.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Objects read more than once (the trees of neighbouring commits): an object cache beside
    /// the delta cache.
    Repeated,
    /// Objects read once each (blobs, commits): the delta cache only. An object cache would
    /// copy every object into itself for nothing.
    Once,
}

/// Gives `repo` the caches a long read of many objects wants.
pub fn with_caches(repo: &mut gix::Repository, reads: Reads) {
    if reads == Reads::Repeated {
        repo.object_cache_size_if_unset(delta_cache_bytes() / 3);
    }
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
            delta_cache_bytes(),
        ))
    });
}

/// Runs `f` over `items` on all cores and returns the results in item order. Items are handed
/// out in runs of `run` neighbours (objects near each other in a pack share delta bases, so a run
/// lands on one thread's cache). `doing` names the work for the internal-error message.
pub fn map<T: Sync, R: Send>(
    repo: &gix::Repository,
    reads: Reads,
    items: &[T],
    run: usize,
    doing: &'static str,
    f: impl Fn(&gix::Repository, &T) -> Result<R, GitError> + Sync,
) -> Result<Vec<R>, GitError> {
    if items.len() < PARALLEL_FROM {
        return items.iter().map(|item| f(repo, item)).collect();
    }
    let run = run.max(1);
    let shared = repo.clone().into_sync();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    type Part<R> = std::thread::Result<Vec<(usize, Result<R, GitError>)>>;
    let parts: Vec<Part<R>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads())
            .map(|_| {
                scope.spawn(|| {
                    let mut repo = shared.to_thread_local();
                    with_caches(&mut repo, reads);
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
        workers.into_iter().map(|w| w.join()).collect()
    });
    let mut all = Vec::with_capacity(items.len());
    for part in parts {
        all.extend(part.map_err(|_| GitError::Internal(doing))?);
    }
    all.sort_by_key(|(at, _)| *at);
    // The first failure in item order, so the message does not depend on thread timing.
    let results: Result<Vec<R>, GitError> = all.into_iter().map(|(_, r)| r).collect();
    let results = results?;
    if results.len() != items.len() {
        return Err(GitError::Internal(doing));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, gix::Repository) {
        let dir = tempfile::TempDir::new().unwrap();
        let repo = gix::init(dir.path()).unwrap();
        (dir, repo)
    }

    #[test]
    fn results_keep_item_order_and_the_first_error_wins() {
        let (_dir, repo) = repo();
        let items: Vec<usize> = (0..1000).collect();
        let doubled = map(&repo, Reads::Once, &items, 7, "testing", |_, &i| Ok(i * 2)).unwrap();
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let failed = map(&repo, Reads::Once, &items, 7, "testing", |_, &i| {
            if i >= 500 {
                Err(GitError::Revision {
                    spec: i.to_string(),
                    reason: String::new(),
                })
            } else {
                Ok(i)
            }
        });
        assert!(matches!(failed, Err(GitError::Revision { spec, .. }) if spec == "500"));
    }

    #[test]
    fn a_panicking_worker_is_an_internal_error() {
        let (_dir, repo) = repo();
        let items: Vec<usize> = (0..100).collect();
        let result = map(&repo, Reads::Once, &items, 1, "testing", |_, &i| {
            if i == 42 {
                panic!("boom");
            }
            Ok(i)
        });
        assert!(matches!(result, Err(GitError::Internal("testing"))));
    }
}
