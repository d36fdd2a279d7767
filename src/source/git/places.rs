//! Where history introduced each distinct blob: its paths, and for each the oldest commit that
//! put it there. Built from the commits' tree diffs one batch at a time (see `history`), so only
//! this compact list lives as long as the scan: a history changes the same few thousand paths
//! again and again, and each path is stored once, shared by every place that names it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gix::bstr::BString;
use gix::ObjectId;

use super::attribution::Walked;

/// A path, stored once however many places name it.
pub(super) type Path = Arc<[u8]>;

/// Each distinct path met, shared.
#[derive(Default)]
struct Paths(HashSet<Path>);

impl Paths {
    fn intern(&mut self, path: &[u8]) -> Path {
        if let Some(known) = self.0.get(path) {
            return known.clone();
        }
        let path: Path = Arc::from(path);
        self.0.insert(path.clone());
        path
    }
}

/// Where history introduced a blob: a path, the oldest commit that put the blob there, and the
/// path that commit renamed it from, if it was an exact rename.
pub(super) struct Place {
    pub(super) path: Path,
    pub(super) at: usize,
    pub(super) renamed_from: Option<Path>,
}

/// What a commit changed against its first parent.
#[derive(Default, Clone)]
pub(super) struct Changes {
    /// The blobs it added or modified, each at its path.
    pub(super) changed: Vec<(ObjectId, BString)>,
    /// (new path, old path) for each exact rename.
    pub(super) renamed: Vec<(BString, BString)>,
    /// Blobs it deleted that no exact rename took, kept only when it also added paths: the
    /// candidate sources of renames with edits.
    pub(super) deleted: Vec<(ObjectId, BString)>,
}

/// Each distinct blob the commits introduce, with every path it was introduced at, in the
/// order the walk first met them (blobs, and each blob's places).
#[derive(Default)]
pub(super) struct BlobPlaces {
    pub(super) blobs: Vec<(ObjectId, Vec<Place>)>,
    slot: HashMap<ObjectId, usize>,
    paths: Paths,
}

impl BlobPlaces {
    /// Adds the changes of the commits at walk indices `first..`, in walk order: folding every
    /// batch in turn lists the same places as folding all commits at once.
    pub(super) fn fold(&mut self, commits: &[Walked], first: usize, diffs: &[Changes]) {
        for (at, changes) in (first..).zip(diffs) {
            for (id, path) in &changes.changed {
                let renamed_from = changes
                    .renamed
                    .iter()
                    .find(|(to, _)| to == path)
                    .map(|(_, from)| from.as_slice());
                self.add(commits, *id, path, at, renamed_from);
            }
        }
    }

    fn add(
        &mut self,
        commits: &[Walked],
        id: ObjectId,
        path: &[u8],
        at: usize,
        renamed_from: Option<&[u8]>,
    ) {
        let blobs = &mut self.blobs;
        let index = *self.slot.entry(id).or_insert_with(|| {
            blobs.push((id, Vec::new()));
            blobs.len() - 1
        });
        let places = &mut self.blobs[index].1;
        let age = |at: usize| (commits[at].time, std::cmp::Reverse(at));
        match places.iter_mut().find(|place| *place.path == *path) {
            // Oldest by commit time; on a tie, the one met later in the walk (an ancestor).
            Some(place) => {
                if age(at) < age(place.at) {
                    place.at = at;
                    place.renamed_from = renamed_from.map(|from| self.paths.intern(from));
                }
            }
            None => {
                // Most blobs have one place: room for one, not the four a first push makes.
                places.reserve_exact(1);
                places.push(Place {
                    path: self.paths.intern(path),
                    at,
                    renamed_from: renamed_from.map(|from| self.paths.intern(from)),
                });
            }
        }
    }

    /// How many distinct paths the places name (each stored once).
    #[cfg(test)]
    pub(super) fn distinct_paths(&self) -> usize {
        self.paths.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (blob, [(path, commit, renamed from)]) of every introduced blob, in list order.
    type Listed<'a> = Vec<(ObjectId, Vec<(&'a [u8], usize, Option<&'a [u8]>)>)>;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn places_keep_the_oldest_commit_and_share_paths() {
        // Walk order: newest first; times fall with the index.
        let commits: Vec<Walked> = (0..4)
            .map(|n| Walked {
                id: id(100 + n),
                time: 1000 - i64::from(n),
            })
            .collect();
        let change = |blob: u8, path: &str| (id(blob), BString::from(path));
        let diffs = vec![
            Changes {
                changed: vec![change(1, "a.txt"), change(2, "b.txt")],
                ..Changes::default()
            },
            Changes {
                changed: vec![change(1, "c.txt")],
                renamed: vec![("c.txt".into(), "a.txt".into())],
                ..Changes::default()
            },
            Changes::default(),
            Changes {
                changed: vec![change(1, "a.txt")],
                ..Changes::default()
            },
        ];
        let mut whole = BlobPlaces::default();
        whole.fold(&commits, 0, &diffs);
        let mut batched = BlobPlaces::default();
        for (first, batch) in [(0, &diffs[..1]), (1, &diffs[1..3]), (3, &diffs[3..])] {
            batched.fold(&commits, first, batch);
        }
        for places in [&whole, &batched] {
            let listed: Listed = places
                .blobs
                .iter()
                .map(|(id, list)| {
                    let list = list
                        .iter()
                        .map(|p| (&p.path[..], p.at, p.renamed_from.as_deref()))
                        .collect();
                    (*id, list)
                })
                .collect();
            let expected: Listed = vec![
                (
                    id(1),
                    vec![(&b"a.txt"[..], 3, None), (b"c.txt", 1, Some(&b"a.txt"[..]))],
                ),
                (id(2), vec![(&b"b.txt"[..], 0, None)]),
            ];
            assert_eq!(listed, expected);
            // a.txt is named by a place and a rename source, and stored once.
            assert_eq!(places.distinct_paths(), 3);
            let a = &places.blobs[0].1;
            assert!(Arc::ptr_eq(&a[0].path, a[1].renamed_from.as_ref().unwrap()));
        }
    }
}
