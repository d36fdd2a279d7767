//! The git index as `hush staged` needs it: each entry's path, blob id, mode and stage, borrowed
//! straight from the file's bytes, plus the cache-tree. A pre-commit hook in a 100,000-file
//! repository cannot afford to allocate and decode every entry; formats this reader does not
//! handle (version 4, split or sparse indexes) are read with gix instead.

use gix::bstr::ByteSlice;
use gix::ObjectId;

use super::{read_error, GitError};

/// One index entry.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub path: &'a [u8],
    pub id: &'a gix::hash::oid,
    /// The raw git mode (0o100644, 0o100755, 0o120000, 0o160000, 0o040000 for sparse dirs).
    pub mode: u32,
    pub stage: u32,
}

/// The cache-tree extension: for each directory git has not touched since it last wrote the
/// tree, the tree id the directory will be committed as.
#[derive(Debug, Clone)]
pub struct CacheTree {
    pub name: Vec<u8>,
    /// `None` when git invalidated the directory (something in it changed).
    pub id: Option<ObjectId>,
    /// How many index entries the directory holds, when `id` is known.
    pub entries: usize,
    pub children: Vec<CacheTree>,
}

impl CacheTree {
    pub fn from_gix(tree: &gix::index::extension::Tree) -> CacheTree {
        CacheTree::new(
            tree.name.to_vec(),
            tree.num_entries.map(|n| (tree.id, n as usize)),
            tree.children.iter().map(CacheTree::from_gix).collect(),
        )
    }

    /// Children are sorted by name here (git orders them by length first), so that `child`
    /// is a binary search: a directory with thousands of subdirectories stays linear.
    fn new(
        name: Vec<u8>,
        valid: Option<(ObjectId, usize)>,
        mut children: Vec<CacheTree>,
    ) -> CacheTree {
        children.sort_by(|a, b| a.name.cmp(&b.name));
        CacheTree {
            name,
            id: valid.map(|(id, _)| id),
            entries: valid.map_or(0, |(_, n)| n),
            children,
        }
    }

    /// The node of the subdirectory `name`.
    pub fn child(&self, name: &[u8]) -> Option<&CacheTree> {
        let at = self
            .children
            .binary_search_by(|c| c.name.as_slice().cmp(name))
            .ok()?;
        self.children.get(at)
    }
}

/// The index, as read by the lean reader or (for forms it leaves alone) by gix.
pub enum Index {
    Raw(RawIndex),
    Gix(Box<gix::index::File>),
}

impl Index {
    /// The entries, in index order (sorted by path, then stage).
    pub fn entries(&self) -> Box<dyn Iterator<Item = Entry<'_>> + '_> {
        match self {
            Index::Raw(raw) => Box::new(raw.entries()),
            Index::Gix(file) => Box::new(file.entries().iter().map(|e| Entry {
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
pub fn load(repo: &gix::Repository) -> Result<(Index, Option<CacheTree>), GitError> {
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

/// An index read from its bytes: version 2 or 3, not split, not sparse.
pub struct RawIndex {
    data: memmap2::Mmap,
    version: u32,
    count: usize,
    hash: gix::hash::Kind,
    pub tree: Option<CacheTree>,
    /// Where entry `k * CHECKPOINT` starts, for each `k`: stepping over a large unchanged
    /// directory jumps to the nearest checkpoint instead of touching every entry again.
    checkpoints: Vec<usize>,
}

const CHECKPOINT: usize = 1024;

const HEADER: usize = 12;
/// ctime, mtime, dev, ino, mode, uid, gid, size: the fixed fields before the object id.
const STAT: usize = 40;

impl RawIndex {
    /// Parses `data`; `None` if it is in a form this reader leaves to gix (or not an index at
    /// all, which gix then reports properly).
    pub fn parse(data: memmap2::Mmap, hash: gix::hash::Kind) -> Option<RawIndex> {
        let hash_len = hash.len_in_bytes();
        if data.len() < HEADER + hash_len || &data[..4] != b"DIRC" {
            return None;
        }
        let version = u32::from_be_bytes(data[4..8].try_into().ok()?);
        let count = u32::from_be_bytes(data[8..12].try_into().ok()?) as usize;
        if !(2..=3).contains(&version) {
            return None;
        }
        let mut index = RawIndex {
            data,
            version,
            count,
            hash,
            tree: None,
            checkpoints: Vec::with_capacity(count / CHECKPOINT + 1),
        };
        let mut at = HEADER;
        for i in 0..count {
            if i % CHECKPOINT == 0 {
                index.checkpoints.push(at);
            }
            at = index.entry_end(at)?;
        }
        let end = index.data.len() - hash_len;
        while at + 8 <= end {
            let signature = &index.data[at..at + 4];
            let size = u32::from_be_bytes(index.data[at + 4..at + 8].try_into().ok()?) as usize;
            let body = index.data.get(at + 8..at + 8 + size)?;
            match signature {
                // Split and sparse indexes: entries live elsewhere or stand for whole trees.
                b"link" | b"sdir" => return None,
                b"TREE" => {
                    let mut rest = body;
                    index.tree = Some(parse_tree(&mut rest, hash)?);
                }
                _ => {}
            }
            at += 8 + size;
        }
        Some(index)
    }

    /// The entries, in index order (sorted by path, then stage).
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            index: self,
            at: HEADER,
            left: self.count,
        }
    }

    /// Where the entry starting at byte `at` ends (the next one starts): its flags and name
    /// length only, so that stepping over a million entries stays cheap.
    fn entry_end(&self, at: usize) -> Option<usize> {
        let flags_at = at + STAT + self.hash.len_in_bytes();
        let flags = u16::from_be_bytes(self.data.get(flags_at..flags_at + 2)?.try_into().ok()?);
        let mut name_at = flags_at + 2;
        if self.version >= 3 && flags & 0x4000 != 0 {
            name_at += 2;
        }
        let len = match usize::from(flags & 0x0fff) {
            0x0fff => memchr::memchr(0, self.data.get(name_at..)?)?,
            len => len,
        };
        if self.data.get(name_at + len) != Some(&0) {
            return None;
        }
        Some(at + ((name_at - at + len + 8) & !7))
    }

    /// The entry starting at byte `at`, and where the next one starts.
    fn entry_at(&self, at: usize) -> Option<(Entry<'_>, usize)> {
        let hash_len = self.hash.len_in_bytes();
        let data = &self.data;
        let field = |from: usize| -> Option<u32> {
            Some(u32::from_be_bytes(
                data.get(from..from + 4)?.try_into().ok()?,
            ))
        };
        let mode = field(at + 24)?;
        let id_at = at + STAT;
        let id = gix::hash::oid::try_from_bytes(data.get(id_at..id_at + hash_len)?).ok()?;
        let flags_at = id_at + hash_len;
        let flags = u16::from_be_bytes(data.get(flags_at..flags_at + 2)?.try_into().ok()?);
        let mut name_at = flags_at + 2;
        if self.version >= 3 && flags & 0x4000 != 0 {
            name_at += 2;
        }
        let rest = data.get(name_at..)?;
        let len = match usize::from(flags & 0x0fff) {
            // The length field saturates: longer names are found by their terminator.
            0x0fff => memchr::memchr(0, rest)?,
            len => len,
        };
        if rest.get(len) != Some(&0) {
            return None;
        }
        // Entries are NUL-padded to a multiple of 8 bytes, with at least one NUL.
        let size = (name_at - at + len + 8) & !7;
        let entry = Entry {
            path: &rest[..len],
            id,
            mode,
            stage: u32::from((flags >> 12) & 0x3),
        };
        Some((entry, at + size))
    }
}

/// Iterates over a parsed index's entries (already validated by `parse`).
pub struct Entries<'a> {
    index: &'a RawIndex,
    at: usize,
    left: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 {
            return None;
        }
        let (entry, next) = self.index.entry_at(self.at)?;
        self.at = next;
        self.left -= 1;
        Some(entry)
    }

    /// Steps over `n` entries without decoding them (a directory the cache-tree shows unchanged).
    fn nth(&mut self, n: usize) -> Option<Entry<'a>> {
        let count = self.index.count;
        let here = count - self.left;
        let target = here.saturating_add(n).min(count);
        let mark = target / CHECKPOINT;
        if mark * CHECKPOINT > here {
            if let Some(&at) = self.index.checkpoints.get(mark) {
                self.at = at;
                self.left = count - mark * CHECKPOINT;
            }
        }
        for _ in 0..(target - (count - self.left)) {
            self.at = self.index.entry_end(self.at)?;
            self.left -= 1;
        }
        self.next()
    }
}

/// One cache-tree node and its children: `name NUL entry_count SP subtree_count LF [id]`.
fn parse_tree(data: &mut &[u8], hash: gix::hash::Kind) -> Option<CacheTree> {
    let nul = memchr::memchr(0, data)?;
    let name = data[..nul].to_vec();
    *data = &data[nul + 1..];
    let space = memchr::memchr(b' ', data)?;
    let entries: i64 = std::str::from_utf8(&data[..space]).ok()?.parse().ok()?;
    *data = &data[space + 1..];
    let newline = memchr::memchr(b'\n', data)?;
    let subtrees: usize = std::str::from_utf8(&data[..newline]).ok()?.parse().ok()?;
    *data = &data[newline + 1..];
    let valid = if entries >= 0 {
        let len = hash.len_in_bytes();
        let id = ObjectId::try_from(data.get(..len)?).ok()?;
        *data = &data[len..];
        Some((id, usize::try_from(entries).ok()?))
    } else {
        None
    };
    let mut children = Vec::with_capacity(subtrees.min(1024));
    for _ in 0..subtrees {
        children.push(parse_tree(data, hash)?);
    }
    Some(CacheTree::new(name, valid, children))
}
