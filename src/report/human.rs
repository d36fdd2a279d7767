//! Human output, shaped like a compiler diagnostic: `path:line:col`, rule and description, the
//! redacted secret, and the line with every secret on it masked. Colour only when asked for.

use std::io::{self, Write};
use std::ops::Range;

use super::{sort, Finding, Sink, Stats, Style};

/// Context lines longer than this are cut around the secret.
const MAX_CONTEXT: usize = 160;

pub struct Human {
    style: Style,
    out: Box<dyn Write + Send>,
    findings: Vec<Finding>,
}

impl Human {
    pub fn new(style: Style, out: Box<dyn Write + Send>) -> Human {
        Human {
            style,
            out,
            findings: Vec::new(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.style.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

impl Sink for Human {
    fn finding(&mut self, finding: Finding) -> io::Result<()> {
        self.findings.push(finding);
        Ok(())
    }

    fn finish(mut self: Box<Self>, stats: &Stats) -> io::Result<()> {
        let mut findings = std::mem::take(&mut self.findings);
        sort(&mut findings);
        for f in &findings {
            let path = f.shown_path(self.style);
            let location = match f.column() {
                Some(column) => format!("{path}:{}:{column}", f.line()),
                None => format!("{path}:{}", f.line()),
            };
            let mut secret = if f.secret.0.is_empty() {
                String::new()
            } else {
                format!(" {}", self.paint("33", &f.shown_secret(self.style)))
            };
            if let Some(chain) = f.decoded_chain() {
                secret.push_str(&format!(" (decoded: {chain})"));
            }
            writeln!(
                self.out,
                "{}: {} {}{}",
                self.paint("1", &sanitize(&location)),
                self.paint("1;31", &f.rule_id),
                f.description,
                secret
            )?;
            if let Some(commit) = &f.commit {
                let short = commit.id.get(..12).unwrap_or(&commit.id);
                writeln!(
                    self.out,
                    "    commit {short} by {} on {}",
                    sanitize(&commit.author),
                    commit.date
                )?;
            }
            if !f.context.is_empty() {
                writeln!(self.out, "{:>6} | {}", f.line(), masked(f, self.style))?;
            }
        }
        let files: std::collections::HashSet<&[u8]> = findings
            .iter()
            .map(|f| f.path_bytes.as_deref().unwrap_or(f.path.as_bytes()))
            .collect();
        let unread = stats.errors as usize;
        let verdict = match (findings.len(), unread) {
            (0, 0) => self.paint("32", "no secrets found"),
            (0, e) => self.paint(
                "1;31",
                &format!(
                    "{e} input{} could not be read (see above); no secrets in the rest",
                    plural(e)
                ),
            ),
            (n, e) => {
                let mut verdict = format!(
                    "{n} finding{} in {} file{}",
                    plural(n),
                    files.len(),
                    plural(files.len())
                );
                if e > 0 {
                    verdict.push_str(&format!(", and {e} input{} could not be read", plural(e)));
                }
                self.paint("1;31", &verdict)
            }
        };
        let mut scanned = format!(
            "scanned {} file{} ({})",
            stats.files,
            plural(stats.files as usize),
            human_bytes(stats.bytes)
        );
        if stats.commits > 0 {
            scanned.push_str(&format!(
                ", {} commit{}, {} blob{}",
                stats.commits,
                plural(stats.commits as usize),
                stats.blobs,
                plural(stats.blobs as usize)
            ));
        }
        if stats.skipped > 0 {
            // Said plainly: a clean verdict covers only what was read.
            scanned.push_str(&format!(
                ", {} file{} not read (over --max-file-size)",
                stats.skipped,
                plural(stats.skipped as usize)
            ));
        }
        if stats.symlinks > 0 {
            scanned.push_str(&format!(
                ", {} symlink{} not followed",
                stats.symlinks,
                plural(stats.symlinks as usize)
            ));
        }
        writeln!(
            self.out,
            "hush: {verdict}; {scanned} in {:.2} s",
            stats.duration_ms as f64 / 1000.0
        )?;
        self.out.flush()
    }
}

/// The context line with every secret on it replaced by its shown form, cut to a readable
/// length around this finding's secret.
fn masked(f: &Finding, style: Style) -> String {
    let line = &f.context;
    let mut spans: Vec<Range<usize>> = f
        .secrets_in_context
        .iter()
        .map(|s| s.start.min(line.len())..s.end.min(line.len()))
        .collect();
    spans.sort_by_key(|s| s.start);
    // Overlapping secrets (two rules on one token) are masked as one, never leaving a tail.
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    let mut out = String::new();
    let mut at = 0;
    let mut focus = 0;
    for span in merged {
        out.push_str(&sanitize(&String::from_utf8_lossy(&line[at..span.start])));
        if span.contains(&f.secret_in_context.start) {
            focus = out.chars().count();
        }
        let secret = &line[span.clone()];
        out.push_str(&if style.show_secrets {
            sanitize(&String::from_utf8_lossy(secret))
        } else {
            super::redact(secret)
        });
        at = span.end;
    }
    out.push_str(&sanitize(&String::from_utf8_lossy(&line[at..])));
    let chars: Vec<char> = out.trim_end().chars().collect();
    if chars.len() <= MAX_CONTEXT {
        return chars.into_iter().collect();
    }
    let start = focus.saturating_sub(MAX_CONTEXT / 3);
    let end = (start + MAX_CONTEXT).min(chars.len());
    let mut cut: String = chars[start..end].iter().collect();
    if start > 0 {
        cut.insert(0, '…');
    }
    if end < chars.len() {
        cut.push('…');
    }
    cut
}

/// Scanned content must not drive the terminal: tabs become spaces, other controls `?`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
