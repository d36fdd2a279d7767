//! Where bytes come from: the file system (`fs`), and the one place that turns a blob at a path
//! into findings, shared by every source so that all commands judge content the same way.

pub mod fs;
pub mod git;

use std::ops::Range;

use crate::report::{mask, Commit, Finding, Location, Position, Secret, CONTEXT_REACH};
use crate::rules::Confidence;
use crate::scan::{
    fingerprint_bytes, is_binary, text, Allowlist, Candidate, Cut, Overflow, Scanner, MAX_FINDINGS,
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
        self.examine_raw(shown.as_bytes(), path.as_bytes(), data, commit)
    }

    /// [`Examiner::examine`] with paths as raw bytes: a file name need not be UTF-8, and its
    /// fingerprint and report keep the bytes that name it.
    pub fn examine_raw(
        &self,
        shown: &[u8],
        path: &[u8],
        data: Option<&[u8]>,
        commit: Option<&Commit>,
    ) -> Examined {
        let mut out = self.judge(&String::from_utf8_lossy(shown), path, data, commit);
        self.name_path(&mut out.findings, shown);
        out
    }

    fn judge(
        &self,
        shown: &str,
        raw_path: &[u8],
        data: Option<&[u8]>,
        commit: Option<&Commit>,
    ) -> Examined {
        let path = &*String::from_utf8_lossy(raw_path);
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
                    raw_path,
                    Finding {
                        rule_id: rule.id.clone(),
                        description: rule.description.clone(),
                        path: shown.to_string(),
                        location: Location::File {
                            empty: data.is_some_and(<[u8]>::is_empty),
                        },
                        confidence: Confidence::High,
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
        self.examine_text(shown, raw_path, data, commit, &mut out.findings);
        out
    }

    /// Scans a text blob; UTF-16 and UTF-32 text is decoded first, its secrets reported as
    /// decoded text and their lines and columns in the original bytes. A blob holding more than
    /// `MAX_FINDINGS` gets one more finding, for the rest of it, which was not scanned.
    fn examine_text(
        &self,
        shown: &str,
        raw_path: &[u8],
        data: &[u8],
        commit: Option<&Commit>,
        findings: &mut Vec<Finding>,
    ) {
        let wide = text::wide(data);
        let decoded = wide.map(|wide| text::decode(data, wide));
        let text = decoded.as_deref().unwrap_or(data);
        let mut scanned = self.scanner.scan_limited(text, MAX_FINDINGS);
        // The decoding layer looks only where the plain scan did.
        let scanned_to = scanned.cut.map_or(text.len(), |c| c.at);
        let mut unwrapped = self
            .scanner
            .scan_decoded(&text[..scanned_to], &mut scanned.matches);
        // Positions and contexts are taken from the text scanned, before a wide file's are
        // mapped back to its bytes.
        let columns_utf16 = text::utf16_columns(text, &scanned.matches);
        let unwrapped_utf16: Vec<usize> = unwrapped
            .iter()
            .map(|d| text::utf16_units(&text[d.span.start + 1 - d.column..d.span.start]) + 1)
            .collect();
        let mut spans: Vec<Range<usize>> = (scanned.matches.iter().map(|m| m.secret.clone()))
            .chain(unwrapped.iter().map(|d| d.span.clone()))
            .collect();
        spans.sort_unstable_by_key(|s| s.start);
        let contexts: Vec<Context> = (scanned.matches.iter())
            .map(|m| Context::of(text, &spans, m.at, &m.secret))
            .collect();
        let unwrapped_contexts: Vec<Context> = (unwrapped.iter())
            .map(|d| Context::of(text, &spans, d.span.start, &d.span))
            .collect();
        let originals = match wide {
            Some(wide) => {
                text::relocate_decoded(data, wide, &mut unwrapped);
                text::relocate(data, wide, &mut scanned)
            }
            None => scanned.matches.iter().map(|m| m.secret.clone()).collect(),
        };
        let plain = (scanned.matches.into_iter().zip(columns_utf16))
            .zip(originals)
            .zip(contexts);
        for (((m, column_utf16), span), context) in plain {
            let position = Position {
                line: m.line,
                column: m.column,
                column_utf16,
                span,
            };
            let secret = text[m.secret.clone()].to_vec();
            let finding = self.content_finding(shown, commit, m.rule, position, secret, context);
            self.push(findings, raw_path, finding);
        }
        let unwrapped = (unwrapped.into_iter().zip(unwrapped_utf16)).zip(unwrapped_contexts);
        for ((d, column_utf16), context) in unwrapped {
            let position = Position {
                line: d.line,
                column: d.column,
                column_utf16,
                span: d.span,
            };
            let mut finding =
                self.content_finding(shown, commit, d.rule, position, d.secret, context);
            finding.decoded = d.chain;
            self.push(findings, raw_path, finding);
        }
        if let Some(cut) = scanned.cut {
            self.push(findings, raw_path, rest_not_scanned(shown, cut, commit));
        }
    }

    fn content_finding(
        &self,
        shown: &str,
        commit: Option<&Commit>,
        rule: usize,
        position: Position,
        secret: Vec<u8>,
        context: Context,
    ) -> Finding {
        let rule = self.scanner.rule(rule);
        Finding {
            rule_id: rule.id.clone(),
            description: rule.description.clone(),
            path: shown.to_string(),
            location: Location::Content(position),
            confidence: rule.confidence(),
            commit: commit.cloned(),
            secret: Secret(secret),
            context: context.line,
            secret_in_context: context.secret,
            secrets_in_context: context.secrets,
            ..Finding::default()
        }
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

    /// Where secrets lie in `path` (a file may be named after a token).
    fn path_secrets(&self, path: &[u8]) -> Vec<Range<usize>> {
        self.scanner
            .scan(path)
            .into_iter()
            .map(|m| m.secret)
            .collect()
    }

    /// `path` as a warning or error shows it: secrets in it redacted, invalid UTF-8 replaced.
    pub fn shown_path(&self, path: &[u8]) -> String {
        String::from_utf8_lossy(&mask(path, &self.path_secrets(path))).into_owned()
    }

    /// Gives findings what their path needs to be shown: where secrets lie in it (a file named
    /// after a token is masked like the token) and its raw bytes when they are not UTF-8.
    fn name_path(&self, findings: &mut [Finding], shown: &[u8]) {
        if findings.is_empty() {
            return;
        }
        let secrets = self.path_secrets(shown);
        let raw = std::str::from_utf8(shown).is_err().then(|| shown.to_vec());
        for finding in findings {
            finding.path_secrets.clone_from(&secrets);
            finding.path_bytes.clone_from(&raw);
        }
    }
}

/// The finding that stands for the rest of a blob, from `cut` on, which was not scanned.
fn rest_not_scanned(shown: &str, cut: Cut, commit: Option<&Commit>) -> Finding {
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
        location: Location::Content(Position {
            line: cut.line,
            column: cut.column,
            column_utf16: cut.column,
            span: cut.at..cut.at,
        }),
        confidence: Confidence::High,
        commit: commit.cloned(),
        ..Finding::default()
    }
}

/// The line a finding is shown with: its bytes, where the finding's secret lies in it, and where
/// every secret found on it does (all masked when it is shown).
struct Context {
    line: Vec<u8>,
    secret: Range<usize>,
    secrets: Vec<Range<usize>>,
}

impl Context {
    /// The context of a secret at `secret` reported at `at`; `spans` are every secret's bytes
    /// in `text`, sorted by start, so those on the line are found by a binary search, not by
    /// clipping every secret of the blob for every finding.
    fn of(text: &[u8], spans: &[Range<usize>], at: usize, secret: &Range<usize>) -> Context {
        let window = line_around(text, at, secret.end);
        let clip = |s: &Range<usize>| {
            let [start, end] = [s.start, s.end].map(|o| o.clamp(window.start, window.end));
            start - window.start..end - window.start
        };
        let first = spans.partition_point(|s| s.end <= window.start);
        let mut secrets: Vec<Range<usize>> = spans[first..]
            .iter()
            .take_while(|s| s.start < window.end)
            .map(clip)
            .filter(|s| !s.is_empty())
            .collect();
        // A decoded secret's span may hold or overlap a secret found as written: one mask.
        secrets.dedup_by(|next, kept| {
            let overlaps = next.start < kept.end;
            if overlaps {
                kept.end = kept.end.max(next.end);
            }
            overlaps
        });
        Context {
            line: text[window.clone()].to_vec(),
            secret: clip(secret),
            secrets,
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
