//! Findings and how they are written: human diagnostics, JSON, JSON Lines and SARIF.
//! Redaction lives here and only here: every format goes through `Finding::shown_secret`.

mod human;
mod sarif;

use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

use serde::Serialize;

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
#[derive(Debug, Clone, Serialize)]
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

/// One reported finding.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule_id: String,
    pub description: String,
    pub path: String,
    /// 1-based; 1 for a sensitive file (0 when it is empty).
    pub line: usize,
    /// 1-based byte column; none for a sensitive-file finding.
    pub column: Option<usize>,
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
#[derive(Debug, Clone, Default, Serialize)]
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

/// Presentation choices shared by all formats.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub show_secrets: bool,
    pub color: bool,
}

impl Finding {
    /// The secret as output shows it: redacted unless the user asked for it in full.
    pub fn shown_secret(&self, style: Style) -> String {
        if style.show_secrets {
            String::from_utf8_lossy(&self.secret.0).into_owned()
        } else {
            redact(&self.secret.0)
        }
    }

    /// The contract's JSON object for this finding, fields in the documented order.
    fn json(&self, style: Style) -> JsonFinding<'_> {
        JsonFinding {
            rule_id: &self.rule_id,
            description: &self.description,
            path: &self.path,
            line: self.line,
            column: self.column,
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
    path: &'a str,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
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

/// At most the first 4 characters (fewer for a short secret), then `…`.
pub fn redact(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let total = text.chars().count();
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
        (&a.path, a.line, a.column, &a.rule_id).cmp(&(&b.path, b.line, b.column, &b.rule_id))
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
