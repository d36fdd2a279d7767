//! `hush history --state FILE`: what earlier scans of a repository covered, so that a later scan
//! reads only the commits and blobs it has not scanned yet. The file is binary and compact: the
//! repository's root commits (its identity), the tips scanned, every blob id read (sorted, so a
//! lookup is a binary search), the blobs whose content held something (those are read again if
//! history puts them at a new path), the findings reported so far as redacted JSON lines, and
//! the fingerprints a rename only moved (found, not reported, and not new later either).
//! A checksum over the whole file catches truncation and corruption; any mismatch is an error,
//! never a silent full or empty scan. The file is replaced atomically (temporary file, rename).
//!
//! Layout (integers little-endian): `hushstat`, format version (u32), settings digest (32
//! bytes), id length (u8), then roots, tips, blobs, held, commits (each a u32 count and the ids), the
//! findings and the silent fingerprints (each a u32 count, then each a u32 length and its text),
//! and a SHA-256 of all that precedes.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use gix::ObjectId;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"hushstat";
/// Bumped whenever the layout or the meaning of what is recorded changes.
pub const FORMAT_VERSION: u32 = 1;

/// A state file that cannot be used; each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file '{path}': {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write state file '{path}': {reason}")]
    Write { path: String, reason: String },
    #[error("'{path}' is not a hush state file (remove it, or give another --state path)")]
    NotState { path: String },
    #[error(
        "state file '{path}' is corrupt or truncated ({reason}): remove it to scan the whole \
         history again"
    )]
    Corrupt { path: String, reason: String },
    #[error(
        "state file '{path}' has format version {found}, this hush reads version \
         {FORMAT_VERSION}: remove it to scan the whole history again"
    )]
    Version { path: String, found: u32 },
    #[error(
        "state file '{path}' belongs to another repository (none of its root commits is here): \
         keep one state file per repository"
    )]
    Foreign { path: String },
    #[error(
        "state file '{path}' was recorded with other settings (hush version, rules, config, \
         .hushignore, --baseline, --max-file-size, --min-confidence or --shard): remove it, or \
         give another --state path, to scan the whole history with these"
    )]
    Settings { path: String },
}

/// What the scans recorded in a state file covered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    /// A digest of everything that decides what a scan finds (see `settings_digest`).
    pub settings: [u8; 32],
    pub roots: Vec<ObjectId>,
    pub tips: Vec<ObjectId>,
    /// Every blob read, sorted.
    pub blobs: Vec<ObjectId>,
    /// The blobs whose content held findings (or was hidden by an allowed path), sorted.
    pub held: Vec<ObjectId>,
    /// Every commit walked, sorted: the walk stops at them (their ancestry was walked too).
    pub commits: Vec<ObjectId>,
    /// The findings reported so far, one redacted JSON object each.
    pub findings: Vec<String>,
    /// Fingerprints found but not reported because their oldest place only moved them there
    /// (a rename): a later copy at that path is not new either.
    pub silent: Vec<String>,
}

/// A digest of the settings a scan ran with: a state is only valid for the same ones.
pub fn settings_digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"hush state settings");
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

impl State {
    /// The state at `path`; `None` when there is no file yet (the first scan).
    pub fn read(path: &Path) -> Result<Option<State>, StateError> {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StateError::Read {
                    path: name,
                    reason: e.to_string(),
                })
            }
        };
        Self::decode(&bytes, &name).map(Some)
    }

    fn decode(bytes: &[u8], path: &str) -> Result<State, StateError> {
        if !bytes.starts_with(MAGIC) {
            return Err(StateError::NotState { path: path.into() });
        }
        let corrupt = |reason: &str| StateError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        };
        let mut reader = Reader {
            bytes,
            at: MAGIC.len(),
        };
        let version = reader.u32().ok_or_else(|| corrupt("no version"))?;
        if version != FORMAT_VERSION {
            return Err(StateError::Version {
                path: path.into(),
                found: version,
            });
        }
        let body_len = bytes
            .len()
            .checked_sub(32)
            .ok_or_else(|| corrupt("too short"))?;
        let sum: [u8; 32] = Sha256::digest(&bytes[..body_len]).into();
        if sum[..] != bytes[body_len..] {
            return Err(corrupt("checksum mismatch"));
        }
        reader.bytes = &bytes[..body_len];
        let state = reader.state().ok_or_else(|| corrupt("bad layout"))?;
        if reader.at != body_len {
            return Err(corrupt("trailing bytes"));
        }
        Ok(state)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 20 * (self.blobs.len() + self.tips.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.settings);
        let id_len = self.blobs.first().or(self.tips.first()).map_or(20, |id| {
            id.as_bytes().len() // sha1: 20, sha256: 32
        });
        out.push(id_len as u8);
        for ids in [
            &self.roots,
            &self.tips,
            &self.blobs,
            &self.held,
            &self.commits,
        ] {
            out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
            for id in ids.iter() {
                out.extend_from_slice(id.as_bytes());
            }
        }
        for texts in [&self.findings, &self.silent] {
            out.extend_from_slice(&(texts.len() as u32).to_le_bytes());
            for text in texts.iter() {
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Replaces the file at `path` atomically: a temporary file beside it (owner-only), renamed.
    pub fn write(&self, path: &Path) -> Result<(), StateError> {
        let failed = |e: &dyn std::fmt::Display| StateError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".hush-state.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| failed(&e))?;
        temp.write_all(&self.encode()).map_err(|e| failed(&e))?;
        temp.as_file().sync_all().map_err(|e| failed(&e))?;
        temp.persist(path).map_err(|e| failed(&e.error))?;
        Ok(())
    }

    /// Refuses a state made with other settings or for another repository.
    pub fn check(
        &self,
        path: &Path,
        repo: &gix::Repository,
        settings: &[u8; 32],
    ) -> Result<(), StateError> {
        let path = path.display().to_string();
        if &self.settings != settings {
            return Err(StateError::Settings { path });
        }
        // Root commits never leave a repository (history is only ever added to them).
        if !self.roots.is_empty() && !self.roots.iter().any(|root| repo.has_object(root)) {
            return Err(StateError::Foreign { path });
        }
        Ok(())
    }

    /// The fingerprints found before: those reported, and those a rename only moved.
    pub fn fingerprints(&self) -> HashSet<String> {
        let reported = self.findings.iter().filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            Some(value.get("fingerprint")?.as_str()?.to_string())
        });
        reported.chain(self.silent.iter().cloned()).collect()
    }
}

/// Reads the layout `encode` writes; `None` where it does not hold.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn ids(&mut self, id_len: usize) -> Option<Vec<ObjectId>> {
        let count = self.u32()? as usize;
        let raw = self.take(count.checked_mul(id_len)?)?;
        raw.chunks(id_len)
            .map(|id| ObjectId::try_from(id).ok())
            .collect()
    }

    fn texts(&mut self) -> Option<Vec<String>> {
        let count = self.u32()? as usize;
        let mut texts = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let len = self.u32()? as usize;
            texts.push(String::from_utf8(self.take(len)?.to_vec()).ok()?);
        }
        Some(texts)
    }

    fn state(&mut self) -> Option<State> {
        let settings: [u8; 32] = self.take(32)?.try_into().ok()?;
        let id_len = usize::from(*self.take(1)?.first()?);
        let roots = self.ids(id_len)?;
        let tips = self.ids(id_len)?;
        let blobs = self.ids(id_len)?;
        let held = self.ids(id_len)?;
        let commits = self.ids(id_len)?;
        let findings = self.texts()?;
        let silent = self.texts()?;
        let sorted = |ids: &[ObjectId]| ids.windows(2).all(|w| w[0] < w[1]);
        (sorted(&blobs) && sorted(&held) && sorted(&commits)).then_some(State {
            settings,
            roots,
            tips,
            blobs,
            held,
            commits,
            findings,
            silent,
        })
    }
}

/// What an incremental scan knows from its state and learns as it goes: the history scan asks
/// it which tips to hide and which blobs to skip, and tells it what it read.
#[derive(Default)]
pub struct Incremental {
    prior: State,
    learned: Mutex<State>,
}

impl Incremental {
    /// Knowing `prior` (nothing, on a first scan).
    pub fn new(prior: Option<State>) -> Incremental {
        Incremental {
            prior: prior.unwrap_or_default(),
            learned: Mutex::default(),
        }
    }

    /// The state this scan started from.
    pub fn prior(&self) -> &State {
        &self.prior
    }

    /// Whether the commit `id` was walked before (and so was all its ancestry).
    pub fn walked(&self, id: &gix::oid) -> bool {
        self.prior
            .commits
            .binary_search_by(|c| c.as_ref().cmp(id))
            .is_ok()
    }

    pub fn learn_commits(&self, commits: impl Iterator<Item = ObjectId>) {
        self.learn(|s| s.commits.extend(commits));
    }

    /// Whether the blob `id` was read before.
    pub fn seen(&self, id: &ObjectId) -> bool {
        self.prior.blobs.binary_search(id).is_ok()
    }

    /// Whether the blob `id`'s content held something when it was read.
    pub fn held_before(&self, id: &ObjectId) -> bool {
        self.prior.held.binary_search(id).is_ok()
    }

    fn learn(&self, add: impl FnOnce(&mut State)) {
        if let Ok(mut learned) = self.learned.lock() {
            add(&mut learned);
        }
    }

    pub fn learn_tips(&self, tips: &[ObjectId]) {
        self.learn(|s| s.tips.extend_from_slice(tips));
    }

    pub fn learn_roots(&self, roots: &[ObjectId]) {
        self.learn(|s| s.roots.extend_from_slice(roots));
    }

    pub fn learn_blobs(&self, blobs: impl Iterator<Item = ObjectId>) {
        self.learn(|s| s.blobs.extend(blobs));
    }

    pub fn learn_held(&self, id: ObjectId) {
        self.learn(|s| s.held.push(id));
    }

    pub fn learn_silent(&self, fingerprint: &str) {
        self.learn(|s| s.silent.push(fingerprint.to_string()));
    }

    /// The state to record after a successful scan: what was known, plus what was learned, with
    /// `findings` (all known findings, as redacted JSON lines) and this run's `settings`.
    pub fn into_state(self, settings: [u8; 32], findings: Vec<String>) -> State {
        let learned = self.learned.into_inner().unwrap_or_default();
        let union = |mut a: Vec<ObjectId>, b: Vec<ObjectId>| {
            a.extend(b);
            a.sort_unstable();
            a.dedup();
            a
        };
        let tips = if learned.tips.is_empty() {
            self.prior.tips
        } else {
            let mut tips = learned.tips;
            tips.sort_unstable();
            tips.dedup();
            tips
        };
        State {
            settings,
            roots: union(self.prior.roots, learned.roots),
            tips,
            blobs: union(self.prior.blobs, learned.blobs),
            held: union(self.prior.held, learned.held),
            commits: union(self.prior.commits, learned.commits),
            findings,
            silent: {
                let mut silent = self.prior.silent;
                silent.extend(learned.silent);
                silent.sort_unstable();
                silent.dedup();
                silent
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::try_from(&[n; 20][..]).unwrap()
    }

    fn sample() -> State {
        State {
            settings: settings_digest(&[b"a", b"b"]),
            roots: vec![id(1)],
            tips: vec![id(2), id(3)],
            blobs: vec![id(4), id(5), id(6)],
            held: vec![id(5)],
            commits: vec![id(2), id(7)],
            findings: vec![r#"{"fingerprint":"f"}"#.into()],
            silent: vec!["g".into()],
        }
    }

    #[test]
    fn a_state_reads_back_as_written() {
        let state = sample();
        assert_eq!(State::decode(&state.encode(), "s").unwrap(), state);
        let known = HashSet::from(["f".to_string(), "g".to_string()]);
        assert_eq!(state.fingerprints(), known);
        let empty = State::default();
        assert_eq!(State::decode(&empty.encode(), "s").unwrap(), empty);
    }

    #[test]
    fn truncated_corrupt_foreign_and_other_versions_are_refused() {
        let bytes = sample().encode();
        for cut in [bytes.len() - 1, bytes.len() - 40, 12, 9] {
            let err = State::decode(&bytes[..cut], "s").unwrap_err();
            assert!(matches!(err, StateError::Corrupt { .. }), "{cut}: {err}");
        }
        let mut flipped = bytes.clone();
        flipped[60] ^= 1;
        assert!(matches!(
            State::decode(&flipped, "s"),
            Err(StateError::Corrupt { .. })
        ));
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&7u32.to_le_bytes());
        let err = State::decode(&other, "s").unwrap_err();
        assert!(err.to_string().contains("format version 7"), "{err}");
        assert!(matches!(
            State::decode(b"{\"findings\": []}", "s"),
            Err(StateError::NotState { .. })
        ));
    }

    #[test]
    fn digests_tell_settings_apart() {
        assert_ne!(
            settings_digest(&[b"ab", b""]),
            settings_digest(&[b"a", b"b"])
        );
        assert_eq!(
            settings_digest(&[b"a", b"b"]),
            settings_digest(&[b"a", b"b"])
        );
    }
}
