//! Fingerprints and allowlist entries: ids for findings that are safe to publish (reports, SARIF
//! dashboards) and to commit (baselines, `.hushignore`). Both are derived with a deliberately
//! costly, memory-hard, salted function, so that a guessed secret cannot be confirmed cheaply.
//!
//! # Design
//! Anyone can recompute a deterministic id from a guess, at the cost hush pays to compute it: an
//! unsalted SHA-256 (hush 0.1) let `Summer2024!` be confirmed in 677 guesses (1 ms). So:
//!
//! - **Fingerprint** (the `fingerprint` field of every finding, 32 hex digits): must be stable
//!   across runs, machines and line moves, so it cannot carry a random salt. It is Argon2id over a
//!   SHA-256 of (rule, path, secret), salted with a SHA-256 of (rule, path): the salt stops one
//!   precomputed table from serving every repository (only findings of the same rule at the same
//!   path share one), and each guess costs one Argon2id run ([`PARAMS`]: 4 MiB, one pass).
//!   hush pays the same price once per distinct (rule, path, secret) in a run (cached), which is
//!   what bounds the price: `history` reports each of those once anyway.
//! - **Allow entry** (`hush2:<rule>:<salt>:<hash>`, what the hook advice and `hush baseline`
//!   write): path-independent, so an allowance survives renames. Argon2id over a SHA-256 of
//!   (rule, secret) with a random 16-byte salt kept in the entry, so nothing can be precomputed
//!   and each entry must be attacked on its own. Checking one costs a derivation per (finding
//!   secret, entry) of the finding's rule, cached per (secret, salt): only findings whose rule has
//!   entries pay at all.
//! - **Legacy fingerprint** (hush 0.1, 32 hex digits, unsalted SHA-256): still accepted in
//!   `.hushignore` and baselines, never written.
//!
//! Rejecting a finding that an entry does not allow is the same computation as rejecting a wrong
//! guess, so no shortcut can make hush's side cheaper without making the attacker's cheaper too:
//! the cost is bounded by deriving as rarely as possible (cache, rule filter), not by a prefilter.
//!
//! A fingerprint or entry says which rule matched (and, for a fingerprint, that some secret sits at
//! that path); confirming a guessed secret costs one derivation per guess. It cannot make a
//! weak secret strong: a secret guessable in a few thousand tries is still found in seconds.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use sha2::{Digest, Sha256};

/// Argon2id cost of fingerprints and allow entries: 4 MiB of memory, one pass, one lane. About
/// 1.6 ms per derivation on one core of this project's 2-core machine (`benches/fingerprint.rs`),
/// some three thousand times an unsalted SHA-256, and memory-hard, which limits what GPUs gain.
/// It is below what password storage uses (tens of ms) because hush pays it per finding, not per
/// login. Changing it changes every fingerprint: a new entry version (`hush3`) goes with it.
pub const PARAMS: Cost = Cost {
    memory_kib: 4096,
    passes: 1,
};

/// Argon2id memory (KiB) and time (passes) cost.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub memory_kib: u32,
    pub passes: u32,
}

const OUT_LEN: usize = 16;
const SALT_LEN: usize = 16;
/// The prefix of a path-independent allow entry.
pub const ENTRY_PREFIX: &str = "hush2:";
/// Past this many cached derivations the cache starts over: a run with more distinct findings
/// pays for some twice rather than growing without bound (a long-running proxy).
const CACHE_LIMIT: usize = 1 << 16;

/// The finding's fingerprint: stable, path-bound, costly to confirm a guess against.
pub fn fingerprint(rule_id: &str, path: &str, secret: &[u8]) -> String {
    fingerprint_bytes(rule_id, path.as_bytes(), secret)
}

/// [`fingerprint`] of a path given as raw bytes (a file name need not be UTF-8).
pub fn fingerprint_bytes(rule_id: &str, path: &[u8], secret: &[u8]) -> String {
    let input = hashed(b"hush fingerprint v2", &[rule_id.as_bytes(), path, secret]);
    let salt = hashed(b"hush fingerprint salt v2", &[rule_id.as_bytes(), path]);
    let mut short = [0; SALT_LEN];
    short.copy_from_slice(&salt[..SALT_LEN]);
    hex(&derive(&input, &short))
}

/// The fingerprint hush 0.1 wrote: `hex(SHA-256(rule NUL path NUL SHA-256(secret)))[..32]`.
/// Cheap to confirm a guess against, so only ever computed to honour old entries.
pub fn legacy_fingerprint(rule_id: &str, path: &[u8], secret: &[u8]) -> String {
    let secret_hash = Sha256::digest(secret);
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0]);
    hasher.update(path);
    hasher.update([0]);
    hasher.update(secret_hash);
    hex(&hasher.finalize()[..16])
}

/// A path-independent allowance of one secret under one rule: `hush2:<rule>:<salt>:<hash>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub rule_id: String,
    salt: [u8; SALT_LEN],
    hash: [u8; OUT_LEN],
}

impl Entry {
    /// A new entry for `secret` found by `rule_id`, with a fresh random salt. `None` for an empty
    /// secret (a sensitive-file finding: its fingerprint, which names the path, allows it) or
    /// when the system has no random source.
    pub fn new(rule_id: &str, secret: &[u8]) -> Option<Entry> {
        if secret.is_empty() {
            return None;
        }
        let mut salt = [0; SALT_LEN];
        getrandom::fill(&mut salt).ok()?;
        let hash = derive(&entry_input(rule_id, secret), &salt);
        Some(Entry {
            rule_id: rule_id.to_string(),
            salt,
            hash,
        })
    }

    /// Parses `hush2:<rule>:<salt hex>:<hash hex>` (hex in either case); `None` if malformed.
    pub fn parse(text: &str) -> Option<Entry> {
        let rest = text.strip_prefix(ENTRY_PREFIX)?;
        // The rule id comes first and may itself hold a `:`; salt and hash never do.
        let mut parts = rest.rsplitn(3, ':');
        let hash = unhex::<OUT_LEN>(parts.next()?)?;
        let salt = unhex::<SALT_LEN>(parts.next()?)?;
        let rule_id = parts.next().filter(|r| !r.is_empty())?;
        Some(Entry {
            rule_id: rule_id.to_string(),
            salt,
            hash,
        })
    }

    /// Whether this entry allows `secret` found by `rule_id` (one derivation, cached).
    pub fn matches(&self, rule_id: &str, secret: &[u8]) -> bool {
        rule_id == self.rule_id
            && !secret.is_empty()
            && derive(&entry_input(rule_id, secret), &self.salt) == self.hash
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ENTRY_PREFIX}{}:{}:{}",
            self.rule_id,
            hex(&self.salt),
            hex(&self.hash)
        )
    }
}

/// What a user should add to `.hushignore` (or a baseline) to allow a finding: a
/// path-independent entry for a secret, the path-bound fingerprint for a sensitive file.
pub fn allow_entry(rule_id: &str, fingerprint: &str, secret: &[u8]) -> String {
    Entry::new(rule_id, secret).map_or_else(|| fingerprint.to_string(), |e| e.to_string())
}

fn entry_input(rule_id: &str, secret: &[u8]) -> [u8; 32] {
    hashed(b"hush allow entry v2", &[rule_id.as_bytes(), secret])
}

/// SHA-256 of a domain tag and length-prefixed fields, so no two field lists hash alike.
fn hashed(domain: &[u8], fields: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    hasher.finalize().into()
}

type Cache = Mutex<HashMap<([u8; 32], [u8; SALT_LEN]), [u8; OUT_LEN]>>;

/// Argon2id of `input` (already a hash: fixed length, so the derivation cannot fail on input)
/// with `salt`, cached per (input, salt) for the whole process.
fn derive(input: &[u8; 32], salt: &[u8; SALT_LEN]) -> [u8; OUT_LEN] {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = (*input, *salt);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).copied()) {
        return hit;
    }
    // Computed outside the lock: two threads may both derive the same value, never wait on one.
    let out = argon2id(input, salt, PARAMS);
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, out);
    }
    out
}

/// One uncached derivation at `cost` (public for the cost bench).
pub fn argon2id(input: &[u8], salt: &[u8; SALT_LEN], cost: Cost) -> [u8; OUT_LEN] {
    thread_local! {
        // The 4 MiB work area, kept per thread instead of allocated (and page-faulted) each time.
        static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut out = [0; OUT_LEN];
    let derived = Params::new(cost.memory_kib, cost.passes, 1, Some(OUT_LEN))
        .map(|params| Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
        .and_then(|argon| {
            MEMORY.with_borrow_mut(|memory| {
                memory.resize(cost.memory_kib as usize, Block::default());
                argon.hash_password_into_with_memory(input, salt, &mut out, &mut memory[..])
            })
        });
    if derived.is_err() {
        // Cannot happen: the parameters are constants Argon2 accepts and input and salt have
        // fixed, valid lengths. Should it ever, ids must stay distinct per input (a constant
        // would merge every finding into one), so fall back to a plain hash of both.
        out.copy_from_slice(&hashed(b"hush argon2 unavailable", &[input, salt])[..OUT_LEN]);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_sensitive_to_each_input() {
        let base = fingerprint("r", "a.py", b"s3cr3t");
        assert_eq!(base, fingerprint("r", "a.py", b"s3cr3t"));
        // Pinned: a change here changes every fingerprint users have recorded.
        assert_eq!(base, "327e552014e1c223158fc633358993a2");
        assert_eq!(base.len(), 32);
        assert_ne!(base, fingerprint("q", "a.py", b"s3cr3t"));
        assert_ne!(base, fingerprint("r", "b.py", b"s3cr3t"));
        assert_ne!(base, fingerprint("r", "a.py", b"s3cr3T"));
        assert_ne!(base, legacy_fingerprint("r", b"a.py", b"s3cr3t"));
        // Field boundaries are unambiguous.
        assert_ne!(fingerprint("r", "ab", b"c"), fingerprint("r", "a", b"bc"));
        // Raw path bytes are kept: two non-UTF-8 names that read alike differ.
        assert_ne!(
            fingerprint_bytes("r", b"a\xff", b"s"),
            fingerprint_bytes("r", b"a\xfe", b"s")
        );
    }

    #[test]
    fn legacy_fingerprints_are_what_hush_0_1_wrote() {
        assert_eq!(
            legacy_fingerprint("r", b"a.py", b"s3cr3t"),
            "b3a85a499e6132aac3a81b4f71c8ff93"
        );
    }

    #[test]
    fn entries_round_trip_match_their_secret_only_and_are_salted() {
        let entry = Entry::new("generic-password", b"Summer2024!").unwrap();
        let text = entry.to_string();
        assert!(text.starts_with("hush2:generic-password:"), "{text}");
        assert!(!text.contains("Summer"));
        let parsed = Entry::parse(&text).unwrap();
        assert_eq!(parsed, entry);
        let prefix = "hush2:generic-password:";
        let upper = format!("{prefix}{}", text[prefix.len()..].to_ascii_uppercase());
        assert_eq!(Entry::parse(&upper), Some(entry.clone()));
        assert!(entry.matches("generic-password", b"Summer2024!"));
        assert!(!entry.matches("generic-password", b"Summer2025!"));
        assert!(!entry.matches("other-rule", b"Summer2024!"));
        // A fresh salt each time: two entries for one secret share nothing.
        let again = Entry::new("generic-password", b"Summer2024!").unwrap();
        assert_ne!(again.to_string(), text);
        assert!(again.matches("generic-password", b"Summer2024!"));
        // A rule id may hold a colon.
        let odd = Entry::new("team:rule", b"x").unwrap();
        assert_eq!(Entry::parse(&odd.to_string()), Some(odd));
    }

    #[test]
    fn malformed_entries_and_empty_secrets_are_refused() {
        assert_eq!(Entry::new("file-env", b""), None);
        for text in [
            "hush2:",
            "hush2:r:00:11",
            "hush2::00000000000000000000000000000000:00000000000000000000000000000000",
            "hush2:r:0000000000000000000000000000000g:00000000000000000000000000000000",
            "r:00000000000000000000000000000000:00000000000000000000000000000000",
        ] {
            assert_eq!(Entry::parse(text), None, "{text}");
        }
    }

    /// The cost of one derivation, printed (`cargo test --release --lib fingerprint -- --nocapture`).
    #[test]
    fn one_derivation_costs_milliseconds_not_microseconds() {
        let rounds = 20u32;
        let started = std::time::Instant::now();
        for i in 0..rounds {
            argon2id(&i.to_le_bytes(), &[7; SALT_LEN], PARAMS);
        }
        let each = started.elapsed() / rounds;
        println!("one Argon2id derivation ({PARAMS:?}): {each:?}");
        // Far above a SHA-256 (about a microsecond), far below what a hook could not afford.
        assert!(each > std::time::Duration::from_micros(100), "{each:?}");
    }
}
