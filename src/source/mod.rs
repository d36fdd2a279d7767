//! Where bytes come from: the file system (`fs`), and the one place that turns a blob at a path
//! into findings, shared by every source so that all commands judge content the same way.

pub mod fs;
pub mod git;
mod git_index;

use std::ops::Range;

use crate::report::{Commit, Finding, Secret, CONTEXT_REACH};
use crate::scan::{fingerprint_bytes, is_binary, Allowlist, Candidate, Scanner};

/// What a source reports as it goes: findings of one blob, or a one-line problem for stderr.
pub enum Event {
    Findings(Vec<Finding>),
    Warning(String),
    /// Something could not be read: reported, and the run fails closed (exit 2).
    Error(String),
}

/// Scanner plus allowlist: everything needed to judge one blob.
pub struct Examiner<'a> {
    pub scanner: &'a Scanner,
    pub allow: &'a Allowlist,
}

/// What examining one blob found.
#[derive(Default)]
pub struct Examined {
    pub findings: Vec<Finding>,
    pub binary: bool,
}

impl Examiner<'_> {
    /// Judges `data` found at `path`. `shown` is the path as reported; `path` is relative to the
    /// root (used for path rules, path allowlists and fingerprints). `data` is `None` when the
    /// content was not read (too large): only name rules apply then.
    pub fn examine(
        &self,
        shown: &str,
        path: &str,
        data: Option<&[u8]>,
        commit: Option<&Commit>,
    ) -> Examined {
        let mut out = Examined::default();
        if self.allow.path_allowed(path) {
            return out;
        }
        let files = self.scanner.files();
        for index in files.candidates(path) {
            let confirmed = match data {
                Some(data) => files.confirm(index, data),
                None => !files.needs_content(index),
            };
            if confirmed {
                let rule = files.rule(index);
                self.push(
                    &mut out.findings,
                    path.as_bytes(),
                    Finding {
                        rule_id: rule.id.clone(),
                        description: rule.description.clone(),
                        path: shown.to_string(),
                        line: usize::from(data.is_none_or(|d| !d.is_empty())),
                        column: None,
                        commit: commit.cloned(),
                        secret: Secret::default(),
                        ..Finding::default()
                    },
                );
            }
        }
        let Some(data) = data else {
            return out;
        };
        if is_binary(data) {
            out.binary = true;
            return out;
        }
        let found = self.scanner.scan(data);
        let spans: Vec<Range<usize>> = found.iter().map(|m| m.secret.clone()).collect();
        for m in found {
            let rule = self.scanner.rule(m.rule);
            let secret = &data[m.secret.clone()];
            let window = line_around(data, m.at, m.secret.end);
            let clip = |s: &Range<usize>| {
                let [start, end] = [s.start, s.end].map(|o| o.clamp(window.start, window.end));
                start - window.start..end - window.start
            };
            let secrets_in_context = spans.iter().map(clip).filter(|s| !s.is_empty()).collect();
            self.push(
                &mut out.findings,
                path.as_bytes(),
                Finding {
                    rule_id: rule.id.clone(),
                    description: rule.description.clone(),
                    path: shown.to_string(),
                    line: m.line,
                    column: Some(m.column),
                    commit: commit.cloned(),
                    secret: Secret(secret.to_vec()),
                    context: data[window.clone()].to_vec(),
                    secret_in_context: clip(&m.secret),
                    secrets_in_context,
                    ..Finding::default()
                },
            );
        }
        out
    }

    /// Keeps `finding` unless the allowlist allows it, and gives it its fingerprint. A
    /// path-independent entry is checked first: the finding it allows needs no fingerprint.
    fn push(&self, findings: &mut Vec<Finding>, path: &[u8], mut finding: Finding) {
        let candidate = Candidate {
            rule_id: &finding.rule_id,
            path,
            secret: &finding.secret.0,
        };
        if self.allow.entry_allows(&candidate) {
            return;
        }
        let fingerprint = fingerprint_bytes(&finding.rule_id, path, &finding.secret.0);
        if !self.allow.fingerprint_allows(&candidate, &fingerprint) {
            finding.fingerprint = fingerprint;
            findings.push(finding);
        }
    }
}

/// The part of the line holding byte `at` (where a finding is reported) that is shown with it:
/// up to `CONTEXT_REACH` bytes either side of `at` and of `end` (the secret's end), no line ending.
fn line_around(data: &[u8], at: usize, end: usize) -> Range<usize> {
    // Bounded either side, so a finding on a minified megabyte line does not carry the megabyte.
    let floor = at.saturating_sub(CONTEXT_REACH);
    let ceiling = (at.max(end) + CONTEXT_REACH).min(data.len());
    let start = memchr::memrchr(b'\n', &data[floor..at]).map_or(floor, |i| floor + i + 1);
    let end = memchr::memchr(b'\n', &data[at..ceiling]).map_or(ceiling, |i| at + i);
    let end = if end > start && data[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    start..end
}
