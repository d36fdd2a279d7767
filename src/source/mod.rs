//! Where bytes come from: the file system (`fs`), and the one place that turns a blob at a path
//! into findings, shared by every source so that all commands judge content the same way.

pub mod fs;
pub mod git;
mod git_index;

use std::ops::Range;

use crate::report::{Commit, Finding, Secret, CONTEXT_REACH};
use crate::scan::{
    fingerprint, is_binary, text, Allowlist, Cut, Overflow, Scanner, MAX_FINDINGS,
    TOO_MANY_FINDINGS,
};

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
                    Finding {
                        rule_id: rule.id.clone(),
                        description: rule.description.clone(),
                        path: shown.to_string(),
                        line: usize::from(data.is_none_or(|d| !d.is_empty())),
                        column: None,
                        commit: commit.cloned(),
                        secret: Secret::default(),
                        fingerprint: fingerprint(&rule.id, path, b""),
                        context: Vec::new(),
                        secret_in_context: 0..0,
                        secrets_in_context: Vec::new(),
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
        self.examine_text(shown, path, data, commit, &mut out.findings);
        out
    }

    /// Scans a text blob; UTF-16 and UTF-32 text is decoded first, its secrets reported as
    /// decoded text and their lines and columns in the original bytes. A blob holding more than
    /// `MAX_FINDINGS` gets one more finding, for the rest of it, which was not scanned.
    fn examine_text(
        &self,
        shown: &str,
        path: &str,
        data: &[u8],
        commit: Option<&Commit>,
        findings: &mut Vec<Finding>,
    ) {
        let wide = text::wide(data);
        let decoded = wide.map(|wide| text::decode(data, wide));
        let mut scanned = self
            .scanner
            .scan_limited(decoded.as_deref().unwrap_or(data), MAX_FINDINGS);
        if let Some(wide) = wide {
            text::relocate(data, wide, &mut scanned);
        }
        let data = decoded.as_deref().unwrap_or(data);
        // Sorted by position and never overlapping, so the secrets on a shown line are found by
        // a binary search, not by clipping every secret of the blob for every finding.
        let mut spans: Vec<Range<usize>> =
            scanned.matches.iter().map(|m| m.secret.clone()).collect();
        spans.sort_unstable_by_key(|s| s.start);
        for m in scanned.matches {
            let rule = self.scanner.rule(m.rule);
            let secret = &data[m.secret.clone()];
            let window = line_around(data, m.at, m.secret.end);
            let clip = |s: &Range<usize>| {
                let [start, end] = [s.start, s.end].map(|o| o.clamp(window.start, window.end));
                start - window.start..end - window.start
            };
            let first = spans.partition_point(|s| s.end <= window.start);
            let secrets_in_context = spans[first..]
                .iter()
                .take_while(|s| s.start < window.end)
                .map(clip)
                .filter(|s| !s.is_empty())
                .collect();
            self.push(
                findings,
                Finding {
                    rule_id: rule.id.clone(),
                    description: rule.description.clone(),
                    path: shown.to_string(),
                    line: m.line,
                    column: Some(m.column),
                    commit: commit.cloned(),
                    secret: Secret(secret.to_vec()),
                    fingerprint: fingerprint(&rule.id, path, secret),
                    context: data[window.clone()].to_vec(),
                    secret_in_context: clip(&m.secret),
                    secrets_in_context,
                },
            );
        }
        if let Some(cut) = scanned.cut {
            self.push(findings, rest_not_scanned(shown, path, cut, commit));
        }
    }

    fn push(&self, findings: &mut Vec<Finding>, finding: Finding) {
        if !self.allow.fingerprint_allowed(&finding.fingerprint) {
            findings.push(finding);
        }
    }
}

/// The finding that stands for the rest of a blob, from `cut` on, which was not scanned.
fn rest_not_scanned(shown: &str, path: &str, cut: Cut, commit: Option<&Commit>) -> Finding {
    let description = match cut.why {
        Overflow::Findings => format!(
            "more than {MAX_FINDINGS} findings: the rest of the file, from here, was not scanned"
        ),
        Overflow::Candidates => "too dense with keywords to confirm them all: the rest of the \
                                 file, from here, was not scanned"
            .to_string(),
    };
    Finding {
        rule_id: TOO_MANY_FINDINGS.to_string(),
        description,
        path: shown.to_string(),
        line: cut.line,
        column: Some(cut.column),
        commit: commit.cloned(),
        secret: Secret::default(),
        fingerprint: fingerprint(TOO_MANY_FINDINGS, path, b""),
        context: Vec::new(),
        secret_in_context: 0..0,
        secrets_in_context: Vec::new(),
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
