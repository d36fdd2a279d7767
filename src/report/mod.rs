//! Findings and how they are written: human diagnostics, JSON, JSON Lines and SARIF.
//! Redaction lives here and only here: every format goes through `Finding::shown_secret`.

mod human;
pub mod merge;
mod sarif;

use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::rules::Confidence;
use crate::scan::decode::Encoding;

pub use human::Human;

/// How findings are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Jsonl,
    Sarif,
}

/// The commit a history finding was introduced in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Commit {
    pub id: String,
    pub author: String,
    /// RFC 3339.
    pub date: String,
}

/// A secret's bytes. Its `Debug` is redacted so that it cannot leak through a stray `{:?}`.
#[derive(Clone, Default)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// How much of a line either side of a secret a finding's context keeps: a context holds its
/// line from the start whenever the finding's column is within this reach of it.
pub const CONTEXT_REACH: usize = 240;

/// Where in its blob a finding lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file itself is the finding (a sensitive file such as `.env`); `empty` when it has no
    /// line at all.
    File { empty: bool },
    /// A secret in the content.
    Content(Position),
}

impl Default for Location {
    fn default() -> Location {
        Location::File { empty: false }
    }
}

/// Where a secret in a blob's content is reported, in the blob as stored (a UTF-16 file's
/// bytes, say, not its decoded text): every output format computes its positions from this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column in bytes of the line.
    pub column: usize,
    /// The same column in UTF-16 code units of the line's text, as SARIF counts it.
    pub column_utf16: usize,
    /// The secret's bytes in the blob.
    pub span: Range<usize>,
}

/// One reported finding.
#[derive(Debug, Clone, Default)]
pub struct Finding {
    pub rule_id: String,
    pub description: String,
    /// The path as reported (invalid UTF-8 replaced: `path_bytes` then holds the real bytes).
    pub path: String,
    /// The path's raw bytes, only when they are not UTF-8.
    pub path_bytes: Option<Vec<u8>>,
    /// Where secrets lie in the path (byte ranges of `path_bytes`, or of `path` when that is
    /// none): a file named after a token is shown masked like the token.
    pub path_secrets: Vec<Range<usize>>,
    pub location: Location,
    /// How sure the rule that found it is (a sensitive file's is `High`).
    pub confidence: Confidence,
    /// The encodings undone to find the secret, outermost first; empty when it was found as
    /// written. A decoded secret is reported at its encoded span, and shown decoded.
    pub decoded: Vec<Encoding>,
    pub commit: Option<Commit>,
    pub secret: Secret,
    pub fingerprint: String,
    /// The line holding the secret (for human output), where this secret lies in it, and
    /// where every secret found on it lies, this one included (allowed ones too: a secret
    /// in `.hushignore` is still a secret and is masked wherever its line is shown).
    pub context: Vec<u8>,
    pub secret_in_context: Range<usize>,
    pub secrets_in_context: Vec<Range<usize>>,
}

/// Totals for the run, reported with the findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub commits: u64,
    pub blobs: u64,
    /// Files not scanned: over `--max-file-size` or unreadable.
    pub skipped: u64,
    /// Binary files (NUL in the first 8 KiB), checked by name only.
    pub binary: u64,
    /// Symbolic links met while walking a directory: not followed, so not scanned.
    pub symlinks: u64,
    /// Inputs that could not be read (each reported on stderr); the run then exits 2.
    pub errors: u64,
    pub duration_ms: u64,
}

/// Presentation choices shared by all formats (the default: redacted, no colour).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub show_secrets: bool,
    pub color: bool,
}

impl Finding {
    /// 1-based line; 1 for a sensitive file, 0 for an empty one.
    pub fn line(&self) -> usize {
        match &self.location {
            Location::Content(at) => at.line,
            Location::File { empty } => usize::from(!empty),
        }
    }

    /// 1-based byte column of a secret; none for a sensitive-file finding.
    pub fn column(&self) -> Option<usize> {
        match &self.location {
            Location::Content(at) => Some(at.column),
            Location::File { .. } => None,
        }
    }

    /// The decoding chain as reports give it (`"base64"`, `"base64>escapes"`); none for a
    /// secret found as written.
    pub fn decoded_chain(&self) -> Option<String> {
        let names: Vec<&str> = self.decoded.iter().map(|e| e.as_str()).collect();
        (!names.is_empty()).then(|| names.join(">"))
    }

    /// Whether the finding is about content (a secret), not the file as a whole.
    pub fn in_content(&self) -> bool {
        matches!(self.location, Location::Content(_))
    }

    /// The secret as output shows it: redacted unless the user asked for it in full.
    pub fn shown_secret(&self, style: Style) -> String {
        if style.show_secrets {
            String::from_utf8_lossy(&self.secret.0).into_owned()
        } else {
            redact(&self.secret.0)
        }
    }

    /// The path as output shows it: every secret in it redacted unless the user asked for them,
    /// invalid UTF-8 replaced.
    pub fn shown_path(&self, style: Style) -> String {
        if self.path_secrets.is_empty() && self.path_bytes.is_none() {
            return self.path.clone();
        }
        String::from_utf8_lossy(&self.shown_path_bytes(style)).into_owned()
    }

    /// The path's bytes as output shows them: raw, with every secret in it redacted unless the
    /// user asked for them.
    pub fn shown_path_bytes(&self, style: Style) -> Vec<u8> {
        let raw = self.path_bytes.as_deref().unwrap_or(self.path.as_bytes());
        if style.show_secrets {
            return raw.to_vec();
        }
        mask(raw, &self.path_secrets)
    }

    /// The contract's JSON object for this finding, fields in the documented order.
    fn json(&self, style: Style) -> JsonFinding<'_> {
        JsonFinding {
            rule_id: &self.rule_id,
            description: &self.description,
            path: self.shown_path(style),
            path_bytes: self
                .path_bytes
                .is_some()
                .then(|| percent_encode(&self.shown_path_bytes(style))),
            line: self.line(),
            column: self.column(),
            confidence: self.confidence.as_str(),
            decoded: self.decoded_chain(),
            commit: self.commit.as_ref().map(|c| c.id.as_str()),
            author: self.commit.as_ref().map(|c| c.author.as_str()),
            date: self.commit.as_ref().map(|c| c.date.as_str()),
            secret: (!self.secret.0.is_empty()).then(|| self.shown_secret(style)),
            fingerprint: &self.fingerprint,
        }
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule_id: &'a str,
    description: &'a str,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<String>,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    confidence: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoded: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    fingerprint: &'a str,
}

/// `text` with each of `secrets` (sorted byte ranges) replaced by its redacted form.
pub fn mask(text: &[u8], secrets: &[Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for span in secrets {
        let (start, end) = (span.start.clamp(at, text.len()), span.end.min(text.len()));
        if start >= end {
            continue;
        }
        out.extend_from_slice(&text[at..start]);
        out.extend_from_slice(redact(&text[start..end]).as_bytes());
        at = end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// Bytes outside RFC 3986's unreserved set (and `/`) as `%XX`: lossless, and safe in a URI.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// At most the first 4 characters (fewer for a short secret), then `…`. A secret already shown
/// redacted (as a merged report reads it back) stays as it is.
pub fn redact(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let total = text.chars().count();
    if total <= 5 && text.ends_with('…') && !text.chars().any(|c| c.is_control()) {
        return text.into_owned();
    }
    let keep = if total >= 16 { 4 } else { total / 4 };
    let shown: String = text
        .chars()
        .take(keep)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("{shown}…")
}

/// Receives findings as they are found and writes the report at the end.
pub trait Sink: Send {
    fn finding(&mut self, finding: Finding) -> io::Result<()>;
    fn finish(self: Box<Self>, stats: &Stats) -> io::Result<()>;
}

/// The sink for `format`, writing to `out`.
pub fn sink(format: Format, style: Style, out: Box<dyn Write + Send>) -> Box<dyn Sink> {
    match format {
        Format::Human => Box::new(Human::new(style, out)),
        Format::Jsonl => Box::new(Jsonl { style, out }),
        Format::Json | Format::Sarif => Box::new(Collect {
            format,
            style,
            out,
            findings: Vec::new(),
        }),
    }
}

/// Sorts findings into a stable, readable order: by path, position, rule.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let key = |f: &Finding| (f.line(), f.column());
        (&a.path, key(a), &a.rule_id).cmp(&(&b.path, key(b), &b.rule_id))
    });
}

#[derive(Serialize)]
struct JsonReport<'a> {
    findings: Vec<JsonFinding<'a>>,
    stats: &'a Stats,
}

struct Jsonl {
    style: Style,
    out: Box<dyn Write + Send>,
}

impl Sink for Jsonl {
    fn finding(&mut self, finding: Finding) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &finding.json(self.style))?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn finish(mut self: Box<Self>, _stats: &Stats) -> io::Result<()> {
        self.out.flush()
    }
}

struct Collect {
    format: Format,
    style: Style,
    out: Box<dyn Write + Send>,
    findings: Vec<Finding>,
}

impl Sink for Collect {
    fn finding(&mut self, finding: Finding) -> io::Result<()> {
        self.findings.push(finding);
        Ok(())
    }

    fn finish(mut self: Box<Self>, stats: &Stats) -> io::Result<()> {
        sort(&mut self.findings);
        match self.format {
            Format::Sarif => serde_json::to_writer_pretty(
                &mut self.out,
                &sarif::document(&self.findings, self.style),
            )?,
            _ => serde_json::to_writer_pretty(
                &mut self.out,
                &JsonReport {
                    findings: self.findings.iter().map(|f| f.json(self.style)).collect(),
                    stats,
                },
            )?,
        }
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_shows_at_most_four_characters() {
        let token = b"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"; // hush:allow (test token)
        assert_eq!(redact(token), "ghp_…");
        assert_eq!(redact(b"hunter2hunter"), "hun…");
        assert_eq!(redact(b"abc"), "…");
        assert_eq!(
            format!("{:?}", Secret(b"supersecretvalue1234".to_vec())),
            "supe…"
        );
    }
}
