//! `hush history --shard I/N`: N workers split one repository's history with no coordination.
//! Every shard walks all commits (attribution needs the whole graph) but reads and scans only
//! the blobs whose object id falls in its shard, and the commit texts (messages, identities) of
//! the commits whose id does. Ids are uniformly distributed hashes, so shards are even.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use gix::{oid, ObjectId};

use super::attribution::{Found, Walked};
use super::history::HistoryScan;
use super::places::{Path, Place};
use super::{read_blob, GitError};

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Whether the object `id` belongs to this shard: its first 8 bytes, big-endian, modulo the
    /// shard count.
    pub fn holds(&self, id: &oid) -> bool {
        let mut first = [0u8; 8];
        let bytes = id.as_bytes();
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        u64::from_be_bytes(first) % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N` with `1 <= I <= N`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("'{text}' is not a shard: give I/N with 1 <= I <= N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// How old a place is: its commit's time, then (on a tie) the later in the walk, as
/// `attribution::Oldest` orders them.
type Age = (i64, std::cmp::Reverse<usize>);

fn age(commits: &[Walked], at: usize) -> Age {
    (
        commits.get(at).map_or(i64::MAX, |c| c.time),
        std::cmp::Reverse(at),
    )
}

/// The blobs of the other shards at the paths this shard has findings at. One run reports a
/// fingerprint only at its oldest place (and not at all when that place only moved it there); a
/// shard must then stay silent where another shard's blob holds the same finding at an older
/// place, or the merged shards would report a copy that one run does not.
pub(super) struct Elsewhere {
    by_path: HashMap<Path, Vec<(Age, ObjectId)>>,
}

impl Elsewhere {
    /// From the blobs `others` (outside this shard), those at `paths`, oldest first.
    pub fn new(
        others: &[(ObjectId, Vec<Place>)],
        paths: &HashSet<Path>,
        commits: &[Walked],
    ) -> Elsewhere {
        let mut by_path: HashMap<Path, Vec<(Age, ObjectId)>> = HashMap::new();
        for (id, places) in others {
            for place in places.iter().filter(|p| paths.contains(&p.path)) {
                let entry = by_path.entry(place.path.clone()).or_default();
                entry.push((age(commits, place.at), *id));
            }
        }
        for list in by_path.values_mut() {
            list.sort_unstable();
        }
        Elsewhere { by_path }
    }

    /// Whether a blob of another shard holds `found`'s fingerprint at its path, at a place older
    /// than `found`'s. Reads those blobs oldest first, and stops at the first that does.
    pub fn older_copy(
        &self,
        repo: &gix::Repository,
        scan: &HistoryScan,
        path: &[u8],
        found: &Found,
        commits: &[Walked],
    ) -> Result<bool, GitError> {
        let Some(list) = self.by_path.get(path) else {
            return Ok(false);
        };
        let mine = age(commits, found.at);
        for (_, id) in list.iter().take_while(|(older, _)| *older < mine) {
            let what = || format!("blob {id} of '{}'", scan.examiner.shown_path(path));
            let blob = read_blob(repo, *id, scan.max_file_size, scan.oversize, what)?;
            let data = blob.as_ref().map(|b| &b.data[..]);
            let examined = scan.examiner.examine_raw(path, path, data, None);
            if examined
                .findings
                .iter()
                .any(|f| f.fingerprint == found.finding.fingerprint)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!("2/4".parse::<Shard>().unwrap().to_string(), "2/4");
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "-1/4", "1/4/2", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("I/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_object_falls_in_exactly_one_shard() {
        let shards: Vec<Shard> = (1..=4).map(|i| format!("{i}/4").parse().unwrap()).collect();
        let mut per_shard = [0usize; 4];
        for n in 0u32..4000 {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(n.to_le_bytes());
            let id = gix::ObjectId::try_from(&digest[..20]).unwrap();
            let holders: Vec<usize> = (0..4).filter(|&s| shards[s].holds(&id)).collect();
            assert_eq!(holders.len(), 1, "{id}");
            per_shard[holders[0]] += 1;
        }
        // Hashes spread evenly: each shard gets roughly a quarter.
        assert!(
            per_shard.iter().all(|&n| (800..1200).contains(&n)),
            "{per_shard:?}"
        );
    }
}
