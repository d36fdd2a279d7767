//! Findings a user has accepted: paths allowed by glob in `.hush.toml`, and the fingerprints and
//! entries listed in `.hushignore` or a baseline. Values and inline comments are handled inside
//! the scanner. See `fingerprint.rs` for what each kind of entry is and costs.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::fingerprint::{legacy_fingerprint, Entry, ENTRY_PREFIX};
use crate::rules::RuleError;

/// Path globs, fingerprints and entries whose findings are not reported.
#[derive(Clone, Default)]
pub struct Allowlist {
    paths: GlobSet,
    /// From globs of the form `dir/**`: directories whose whole content is allowed, so a walk
    /// need not enter them.
    dirs: GlobSet,
    /// Path-bound ids, lower-case: fingerprints as reports show them, and hush 0.1's.
    fingerprints: HashSet<String>,
    /// Path-independent entries (`hush2:…`), by rule: a finding is checked against its rule's only.
    entries: HashMap<String, Vec<Entry>>,
}

/// One finding as the allowlist judges it.
pub struct Candidate<'a> {
    pub rule_id: &'a str,
    /// Relative to the root, raw bytes: what fingerprints are made of.
    pub path: &'a [u8],
    /// Empty for a sensitive-file finding.
    pub secret: &'a [u8],
}

impl Allowlist {
    /// Compiles path globs (relative to the root, `/`-separated).
    pub fn new(paths: &[String]) -> Result<Allowlist, RuleError> {
        let whole_dirs: Vec<&str> = paths.iter().filter_map(|p| p.strip_suffix("/**")).collect();
        Ok(Allowlist {
            paths: glob_set(paths.iter().map(String::as_str))?,
            dirs: glob_set(whole_dirs.into_iter())?,
            ..Allowlist::default()
        })
    }

    /// Adds the fingerprints and entries of an ignore file: one per line, `#` starts a comment.
    pub fn add_ignore_file(&mut self, text: &str) {
        for line in text.lines() {
            self.add_entry(line.split('#').next().unwrap_or(""));
        }
    }

    /// Adds one entry: `hush2:…`, or a fingerprint (today's or hush 0.1's). A malformed `hush2:`
    /// entry allows nothing, so its finding stays reported (the safe way to be wrong).
    fn add_entry(&mut self, text: &str) {
        let text = text.trim();
        if text.starts_with(ENTRY_PREFIX) {
            if let Some(entry) = Entry::parse(text) {
                let rule = entry.rule_id.clone();
                self.entries.entry(rule).or_default().push(entry);
            }
        } else if !text.is_empty() {
            // Fingerprints are lower-case hex; one pasted in upper case still matches.
            self.fingerprints.insert(text.to_ascii_lowercase());
        }
    }

    /// Adds a baseline's fingerprints (see `baseline_json`).
    pub fn add_baseline(&mut self, path: &Path) -> Result<(), RuleError> {
        let problem = |problem: String| RuleError::Config {
            origin: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| problem(format!("cannot read baseline: {e}")))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| problem(format!("not a hush baseline (invalid JSON: {e})")))?;
        // Accept a baseline and also a full `--format json` report: both list fingerprints.
        let list = doc
            .get("fingerprints")
            .and_then(|v| v.as_array())
            .cloned()
            .or_else(|| {
                doc.get("findings")
                    .and_then(|v| v.as_array())
                    .map(|findings| {
                        findings
                            .iter()
                            .filter_map(|f| f.get("fingerprint").cloned())
                            .collect()
                    })
            })
            .ok_or_else(|| problem("not a hush baseline (no \"fingerprints\" list)".into()))?;
        for fp in list {
            let fp = fp
                .as_str()
                .ok_or_else(|| problem("baseline fingerprints must be strings".into()))?;
            self.add_entry(fp);
        }
        Ok(())
    }

    /// Whether everything below directory `path` is allowed.
    pub fn dir_allowed(&self, path: &str) -> bool {
        self.dirs.is_match(path)
    }

    pub fn path_allowed(&self, path: &str) -> bool {
        self.paths.is_match(path)
    }

    pub fn fingerprint_allowed(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }

    /// Whether a path-independent entry allows `finding`. Costs one derivation per entry of the
    /// finding's rule (cached per secret and salt), nothing when its rule has none.
    pub fn entry_allows(&self, finding: &Candidate) -> bool {
        self.entries.get(finding.rule_id).is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e.matches(finding.rule_id, finding.secret))
        })
    }

    /// Whether `finding`, whose fingerprint is `fingerprint`, is allowed by a listed fingerprint:
    /// today's, or hush 0.1's (computed only when some fingerprint is listed at all).
    pub fn fingerprint_allows(&self, finding: &Candidate, fingerprint: &str) -> bool {
        if self.fingerprints.is_empty() {
            return false;
        }
        // hush 0.1 hashed the path as text, invalid UTF-8 replaced.
        let path = String::from_utf8_lossy(finding.path);
        self.fingerprint_allowed(fingerprint)
            || self.fingerprint_allowed(&legacy_fingerprint(
                finding.rule_id,
                path.as_bytes(),
                finding.secret,
            ))
    }
}

fn glob_set<'a>(patterns: impl Iterator<Item = &'a str>) -> Result<GlobSet, RuleError> {
    let error = |e: globset::Error| RuleError::Config {
        origin: "allow.paths".into(),
        problem: crate::rules::one_line(&e),
    };
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(
            GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(error)?,
        );
    }
    builder.build().map_err(error)
}

/// A baseline document: the sorted, distinct allow entries of `entries` (`hush2:…` entries and
/// path-bound fingerprints; version 1 baselines held fingerprints only, and are still read).
pub fn baseline_json<'a>(entries: impl Iterator<Item = &'a str>) -> serde_json::Value {
    let mut list: Vec<&str> = entries.collect();
    list.sort_unstable();
    list.dedup();
    serde_json::json!({ "version": 2, "fingerprints": list })
}
