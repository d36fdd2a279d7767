//! Findings a user has accepted: paths allowed by glob in `.hush.toml`, and fingerprints listed in
//! `.hushignore` or a baseline. Values and inline comments are handled inside the scanner.

use std::collections::HashSet;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::rules::RuleError;

/// Path globs and fingerprints whose findings are not reported.
#[derive(Clone, Default)]
pub struct Allowlist {
    paths: GlobSet,
    /// From globs of the form `dir/**`: directories whose whole content is allowed, so a walk
    /// need not enter them.
    dirs: GlobSet,
    fingerprints: HashSet<String>,
}

impl Allowlist {
    /// Compiles path globs (relative to the root, `/`-separated).
    pub fn new(paths: &[String]) -> Result<Allowlist, RuleError> {
        let whole_dirs: Vec<&str> = paths.iter().filter_map(|p| p.strip_suffix("/**")).collect();
        Ok(Allowlist {
            paths: glob_set(paths.iter().map(String::as_str))?,
            dirs: glob_set(whole_dirs.into_iter())?,
            fingerprints: HashSet::new(),
        })
    }

    /// Adds the fingerprints of an ignore file: one per line, `#` starts a comment.
    pub fn add_ignore_file(&mut self, text: &str) {
        for line in text.lines() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if !entry.is_empty() {
                // Fingerprints are lower-case hex; one pasted in upper case still matches.
                self.fingerprints.insert(entry.to_ascii_lowercase());
            }
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
            self.fingerprints.insert(fp.to_string());
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

/// A baseline document: the sorted, distinct fingerprints of `fingerprints`.
pub fn baseline_json<'a>(fingerprints: impl Iterator<Item = &'a str>) -> serde_json::Value {
    let mut list: Vec<&str> = fingerprints.collect();
    list.sort_unstable();
    list.dedup();
    serde_json::json!({ "version": 1, "fingerprints": list })
}
