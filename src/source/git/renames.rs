//! Rename detection as git does it: exact renames (the same blob deleted at one path and added at
//! another) and renames with edits (`R 82%` in `git diff -M`), judged by how much of the old
//! content the new file keeps. A renamed file's lines are new only where they differ from its
//! source, so moving a file with a committed secret, and editing it, adds no secret.

use std::collections::HashMap;

use gix::bstr::BString;
use gix::ObjectId;

/// How similar two files must be for git to call one a rename of the other (`-M50%`).
const RENAME_SCORE: f64 = 0.5;
/// Files larger than this are not compared for renames with edits (git's own limit is close:
/// `core.bigFileThreshold`); an exact rename of any size is still found.
pub const MAX_COMPARED: usize = 8 * 1024 * 1024;
/// At most this many candidate sources are read and compared for one new file.
pub const MAX_CANDIDATES: usize = 64;

fn file_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// Exact renames: each new path `(blob, path)` takes one deleted path of the same blob from
/// `gone`, one with the same file name first, then any. Returns, for each new path in order, the
/// old path it was renamed from; a new path left without one is a copy or new content.
pub fn pair_exact(
    new: &[(ObjectId, &[u8])],
    gone: &mut HashMap<ObjectId, Vec<BString>>,
) -> Vec<Option<BString>> {
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

/// A file's lines as git's similarity estimate sees them: each distinct line (without its line
/// ending) hashed, with the bytes it occupies, sorted by hash.
pub struct Profile {
    lines: Vec<(u64, u64)>,
    size: u64,
}

impl Profile {
    pub fn of(data: &[u8]) -> Profile {
        let mut lines: Vec<(u64, u64)> = data
            .split(|&b| b == b'\n')
            .map(|line| {
                let text = line.strip_suffix(b"\r").unwrap_or(line);
                (hash(text), line.len() as u64 + 1)
            })
            .collect();
        lines.sort_unstable();
        Profile {
            lines,
            size: data.len() as u64,
        }
    }

    /// The share of the larger file's bytes that both files hold (git's score: bytes copied
    /// from the source over the size of the larger one), 0 to 1.
    pub fn similarity(&self, other: &Profile) -> f64 {
        let larger = self.size.max(other.size);
        if larger == 0 {
            return 1.0;
        }
        let (mut a, mut b, mut common) = (0, 0, 0u64);
        while let (Some(x), Some(y)) = (self.lines.get(a), other.lines.get(b)) {
            match x.0.cmp(&y.0) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    common += x.1.min(y.1);
                    a += 1;
                    b += 1;
                }
            }
        }
        (common as f64 / larger as f64).min(1.0)
    }

    /// Whether sizes alone rule out a rename (the smaller under half the larger).
    pub fn could_match(size: u64, other: u64) -> bool {
        let (small, large) = (size.min(other), size.max(other));
        small as f64 >= large as f64 * RENAME_SCORE
    }
}

/// FNV-1a: a fast, well-spread hash for lines (collisions only blur a similarity estimate).
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Of `candidates` (size, and a way to read its content), the index of the one `data` is a
/// rename of, if any: the most similar at or above the rename score. Only candidates whose size
/// could match are read, at most `MAX_CANDIDATES` of them; same file names are tried first.
pub fn best_source<C>(
    data: &[u8],
    path: &[u8],
    candidates: &[C],
    size: impl Fn(&C) -> u64,
    name: impl Fn(&C) -> &[u8],
    mut read: impl FnMut(&C) -> Option<Vec<u8>>,
) -> Option<usize> {
    if data.len() > MAX_COMPARED {
        return None;
    }
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| Profile::could_match(data.len() as u64, size(&candidates[i])))
        .filter(|&i| size(&candidates[i]) as usize <= MAX_COMPARED)
        .collect();
    order.sort_by_key(|&i| file_name(name(&candidates[i])) != file_name(path));
    order.truncate(MAX_CANDIDATES);
    let profile = Profile::of(data);
    let mut best: Option<(f64, usize)> = None;
    for i in order {
        let Some(old) = read(&candidates[i]) else {
            continue;
        };
        let score = profile.similarity(&Profile::of(&old));
        if score >= RENAME_SCORE && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, i));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn exact_pairs_prefer_the_same_file_name_and_use_each_source_once() {
        // (new paths, gone paths, expected source of each new path)
        type Paths<'a> = &'a [(u8, &'a str)];
        let cases: &[(Paths, Paths, &[Option<&str>])] = &[
            (&[(1, "b/x.py")], &[(1, "a/x.py")], &[Some("a/x.py")]),
            (&[(1, "b/x.py")], &[(2, "a/x.py")], &[None]),
            // Two new copies of one deleted file: one rename, one copy.
            (
                &[(1, "b/x.py"), (1, "c/x.py")],
                &[(1, "a/x.py")],
                &[Some("a/x.py"), None],
            ),
            // The same file name wins over an earlier, differently named path.
            (
                &[(1, "new/other.py"), (1, "new/x.py")],
                &[(1, "old/x.py"), (1, "old/y.py")],
                &[Some("old/y.py"), Some("old/x.py")],
            ),
            (&[], &[(1, "a")], &[]),
        ];
        for (new, gone, expected) in cases {
            let new: Vec<(ObjectId, &[u8])> =
                new.iter().map(|(n, p)| (id(*n), p.as_bytes())).collect();
            let mut map: HashMap<ObjectId, Vec<BString>> = HashMap::new();
            for (n, p) in *gone {
                map.entry(id(*n)).or_default().push((*p).into());
            }
            let got = pair_exact(&new, &mut map);
            let expected: Vec<Option<BString>> =
                expected.iter().map(|e| e.map(BString::from)).collect();
            assert_eq!(got, expected, "new {new:?}");
        }
    }

    #[test]
    fn similarity_follows_gits_rename_score() {
        let base: String = (0..40).map(|i| format!("line number {i}\n")).collect();
        let edited = base.replace("line number 7\n", "token = changed\n");
        let unrelated: String = (0..40).map(|i| format!("other text {i}\n")).collect();
        let half: String = base.lines().take(15).map(|l| format!("{l}\n")).collect();
        let score =
            |a: &str, b: &str| Profile::of(a.as_bytes()).similarity(&Profile::of(b.as_bytes()));
        assert_eq!(score(&base, &base), 1.0);
        assert!(score(&edited, &base) > 0.9);
        assert!(score(&unrelated, &base) < 0.1);
        // Keeping under half of the larger file is not a rename.
        assert!(score(&half, &base) < RENAME_SCORE);
        // Line endings do not matter.
        assert!(score(&base.replace('\n', "\r\n"), &base) > 0.9);
        assert!(Profile::could_match(100, 150));
        assert!(!Profile::could_match(100, 250));
    }

    #[test]
    fn the_best_source_is_the_most_similar_above_the_score() {
        let base: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let near = base.replace("line 3\n", "x\n");
        let far = base.replace("line 3\n", "x\n").replace("line 4\n", "y\n");
        let unrelated: String = (0..40).map(|i| format!("zzz {i}\n")).collect();
        let candidates = vec![
            ("a/unrelated.txt", unrelated),
            ("a/far.txt", far),
            ("a/near.txt", near),
        ];
        let best = best_source(
            base.as_bytes(),
            b"b/new.txt",
            &candidates,
            |c| c.1.len() as u64,
            |c| c.0.as_bytes(),
            |c| Some(c.1.clone().into_bytes()),
        );
        assert_eq!(best, Some(2));
        let none = best_source(
            base.as_bytes(),
            b"b/new.txt",
            &candidates[..1],
            |c| c.1.len() as u64,
            |c| c.0.as_bytes(),
            |c| Some(c.1.clone().into_bytes()),
        );
        assert_eq!(none, None);
    }
}
