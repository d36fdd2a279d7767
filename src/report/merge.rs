//! `hush report merge`: joins reports (the shards of one history, or many repositories' runs)
//! into one. Inputs are JSON (`--format json`) or JSON Lines (`--format jsonl`), told apart by
//! their content. Findings are deduplicated by fingerprint, keeping those of the oldest
//! introducing commit (by date; on a tie, the first met in input order), and written through the
//! ordinary sinks. A finding read back carries its secret and path as the input showed them
//! (redacted, unless the input was written with `--show-secrets`).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::{Commit, Finding, Location, Position, Secret, Stats, Style};
use crate::rules::Confidence;
use crate::scan::decode::Encoding;

/// A report that cannot be read; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read '{path}': {reason}")]
    Read { path: String, reason: String },
    #[error("'{path}' is not a hush JSON or JSONL report: {reason}")]
    Format { path: String, reason: String },
}

/// A finding as the JSON formats write it (see `JsonFinding`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    rule_id: String,
    description: String,
    path: String,
    path_bytes: Option<String>,
    line: usize,
    column: Option<usize>,
    confidence: Option<String>,
    decoded: Option<String>,
    commit: Option<String>,
    author: Option<String>,
    date: Option<String>,
    secret: Option<String>,
    fingerprint: String,
}

/// A JSON report: its findings and totals.
#[derive(Deserialize)]
struct Document {
    findings: Vec<Record>,
    #[serde(default)]
    stats: Option<Stats>,
}

/// What one input held.
#[derive(Debug)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Totals, for a JSON report (JSON Lines carry none).
    pub stats: Option<Stats>,
}

/// Reads the JSON or JSON Lines report at `path`.
pub fn read(path: &Path) -> Result<Report, MergeError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| MergeError::Read {
        path: name.clone(),
        reason: e.to_string(),
    })?;
    parse(&text).map_err(|reason| MergeError::Format { path: name, reason })
}

/// A report's text: one JSON document with `findings`, or one finding per line.
pub fn parse(text: &str) -> Result<Report, String> {
    let one_line = |e: serde_json::Error| crate::rules::one_line(&e);
    if text.trim().is_empty() {
        // An empty JSON Lines report: a run that found nothing.
        return Ok(Report {
            findings: Vec::new(),
            stats: None,
        });
    }
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let is_document = match serde_json::from_str::<serde_json::Value>(first_line.trim()) {
        Ok(value) => value.get("findings").is_some(),
        // A pretty-printed document does not parse one line at a time.
        Err(_) => true,
    };
    if is_document {
        let doc: Document = serde_json::from_str(text).map_err(one_line)?;
        let findings = doc
            .findings
            .into_iter()
            .map(finding)
            .collect::<Result<_, _>>()?;
        return Ok(Report {
            findings,
            stats: doc.stats,
        });
    }
    let mut findings = Vec::new();
    for (at, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record =
            serde_json::from_str(line).map_err(|e| format!("line {}: {}", at + 1, one_line(e)))?;
        findings.push(finding(record).map_err(|e| format!("line {}: {e}", at + 1))?);
    }
    Ok(Report {
        findings,
        stats: None,
    })
}

/// One finding as a JSON line, as `--format jsonl` writes it with secrets redacted.
pub fn record(finding: &Finding) -> String {
    serde_json::to_string(&finding.json(Style::default())).unwrap_or_default()
}

/// A finding read back from its JSON line (see `record`).
pub fn from_record(line: &str) -> Result<Finding, String> {
    let record: Record = serde_json::from_str(line).map_err(|e| crate::rules::one_line(&e))?;
    finding(record)
}

fn finding(r: Record) -> Result<Finding, String> {
    let confidence = match r.confidence.as_deref() {
        None | Some("low") => Confidence::Low,
        Some("medium") => Confidence::Medium,
        Some("high") => Confidence::High,
        Some(other) => return Err(format!("unknown confidence '{other}'")),
    };
    let mut decoded = Vec::new();
    for name in r.decoded.iter().flat_map(|chain| chain.split('>')) {
        decoded.push(encoding(name).ok_or_else(|| format!("unknown encoding '{name}'"))?);
    }
    let location = match r.column {
        Some(column) => Location::Content(Position {
            line: r.line,
            column,
            // Not in the JSON formats; the byte column is the closest there is.
            column_utf16: column,
            span: 0..0,
        }),
        None => Location::File { empty: r.line == 0 },
    };
    let commit = r.commit.map(|id| Commit {
        id,
        author: r.author.unwrap_or_default(),
        date: r.date.unwrap_or_default(),
    });
    Ok(Finding {
        rule_id: r.rule_id,
        description: r.description,
        path: r.path,
        path_bytes: r.path_bytes.map(|p| percent_decode(&p)),
        location,
        confidence,
        decoded,
        commit,
        secret: Secret(r.secret.unwrap_or_default().into_bytes()),
        fingerprint: r.fingerprint,
        ..Finding::default()
    })
}

fn encoding(name: &str) -> Option<Encoding> {
    [
        Encoding::Base64,
        Encoding::Base64Url,
        Encoding::Hex,
        Encoding::Percent,
        Encoding::Escapes,
    ]
    .into_iter()
    .find(|e| e.as_str() == name)
}

fn percent_decode(text: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(text).collect()
}

/// When a finding's commit was made, for choosing the oldest: its date in seconds, a finding
/// without a commit (or a date that does not parse) after every dated one.
fn age(finding: &Finding) -> i64 {
    finding
        .commit
        .as_ref()
        .and_then(|c| c.date.parse::<jiff::Timestamp>().ok())
        .map_or(i64::MAX, |t| t.as_second())
}

/// The findings of the oldest commit of each fingerprint, in input order otherwise. Several
/// findings of one fingerprint in that commit (the same secret twice in a file) are all kept,
/// as one run reports them; the same finding read twice is kept once.
pub fn merge(findings: impl IntoIterator<Item = Finding>) -> Vec<Finding> {
    let mut order: Vec<String> = Vec::new();
    let mut best: HashMap<String, (i64, Vec<Finding>)> = HashMap::new();
    for finding in findings {
        let age = age(&finding);
        match best.get_mut(&finding.fingerprint) {
            None => {
                order.push(finding.fingerprint.clone());
                best.insert(finding.fingerprint.clone(), (age, vec![finding]));
            }
            Some((oldest, kept)) if age < *oldest => {
                *oldest = age;
                *kept = vec![finding];
            }
            Some((oldest, kept)) if age == *oldest => {
                let commit = |f: &Finding| f.commit.as_ref().map(|c| c.id.clone());
                let same_commit = kept.first().is_some_and(|k| commit(k) == commit(&finding));
                let same = |k: &Finding| {
                    (&k.path, k.line(), k.column(), &k.rule_id)
                        == (
                            &finding.path,
                            finding.line(),
                            finding.column(),
                            &finding.rule_id,
                        )
                };
                if same_commit && !kept.iter().any(same) {
                    kept.push(finding);
                }
            }
            Some(_) => {}
        }
    }
    order
        .into_iter()
        .filter_map(|fingerprint| best.remove(&fingerprint))
        .flat_map(|(_, kept)| kept)
        .collect()
}

/// The totals of several runs: counts add up, except commits, which every shard of a history
/// walks in full, so the largest count is the history's.
pub fn total(stats: impl IntoIterator<Item = Stats>) -> Stats {
    let mut sum = Stats::default();
    for s in stats {
        sum.files += s.files;
        sum.bytes += s.bytes;
        sum.commits = sum.commits.max(s.commits);
        sum.blobs += s.blobs;
        sum.skipped += s.skipped;
        sum.binary += s.binary;
        sum.symlinks += s.symlinks;
        sum.errors += s.errors;
        sum.duration_ms += s.duration_ms;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fingerprint: &str, commit: &str, date: &str, line: usize) -> String {
        format!(
            r#"{{"rule_id":"github-pat","description":"GitHub token","path":"a.txt","line":{line},"column":9,"confidence":"high","commit":"{commit}","author":"A <a@example.com>","date":"{date}","secret":"ghp_…","fingerprint":"{fingerprint}"}}"#
        )
    }

    fn commits(found: &[Finding]) -> Vec<(String, String, usize)> {
        found
            .iter()
            .map(|f| {
                let commit = f.commit.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                (f.fingerprint.clone(), commit, f.line())
            })
            .collect()
    }

    #[test]
    fn the_oldest_commit_of_each_fingerprint_is_kept() {
        let newer = line("f1", "c2", "2024-05-02T00:00:00Z", 3);
        let older = line("f1", "c1", "2024-05-01T23:00:00-02:00", 4);
        let other = line("f2", "c3", "2024-05-03T00:00:00Z", 1);
        let a = parse(&format!("{newer}\n{other}\n")).unwrap();
        let b = parse(&format!("{older}\n{older}\n")).unwrap();
        let merged = merge(a.findings.into_iter().chain(b.findings));
        // Dates are compared as instants: 23:00 at -02:00 is 01:00 UTC, an hour after c2.
        assert_eq!(
            commits(&merged),
            [("f1".into(), "c2".into(), 3), ("f2".into(), "c3".into(), 1)]
        );
        let oldest = line("f1", "c0", "2024-04-30T00:00:00Z", 7);
        let twice = line("f1", "c0", "2024-04-30T00:00:00Z", 9);
        let c = parse(&format!("{oldest}\n{twice}\n")).unwrap();
        let merged = merge(merged.into_iter().chain(c.findings));
        assert_eq!(
            commits(&merged),
            [
                ("f1".into(), "c0".into(), 7),
                ("f1".into(), "c0".into(), 9),
                ("f2".into(), "c3".into(), 1)
            ]
        );
    }

    #[test]
    fn json_documents_and_json_lines_are_both_read() {
        let doc = format!(
            "{{\n  \"findings\": [\n    {}\n  ],\n  \"stats\": {{\"files\": 2, \"bytes\": 10, \"commits\": 5, \"blobs\": 2, \"skipped\": 0, \"binary\": 0, \"symlinks\": 0, \"errors\": 0, \"duration_ms\": 1}}\n}}\n",
            line("f1", "c1", "2024-05-01T00:00:00Z", 2)
        );
        let report = parse(&doc).unwrap();
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.stats.map(|s| s.commits), Some(5));
        assert!(parse("").unwrap().findings.is_empty());
        assert!(parse("not json\n").is_err());
        let bad = parse(&format!("{}\n{{\"rule_id\": 1}}\n", line("f", "c", "d", 1)));
        assert!(bad.unwrap_err().starts_with("line 2:"));
    }

    #[test]
    fn a_record_reads_back_as_the_finding_it_was() {
        let text = line("f1", "c1", "2024-05-01T00:00:00Z", 2);
        let finding = from_record(&text).unwrap();
        assert_eq!(record(&finding), text);
    }
}
