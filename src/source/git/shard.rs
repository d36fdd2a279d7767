//! `hush history --shard I/N`: N workers split one repository's history with no coordination.
//! Every shard walks all commits (attribution needs the whole graph) but reads and scans only
//! the blobs whose object id falls in its shard, and the commit texts (messages, identities) of
//! the commits whose id does. Ids are uniformly distributed hashes, so shards are even.

use std::fmt;
use std::str::FromStr;

use gix::oid;

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
