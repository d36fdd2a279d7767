//! Which commit a history finding is blamed on: the oldest (by commit time, then ancestry) that
//! put the secret at that path, unless that commit only moved it there from another path. Commits
//! are indices into the walk until output, when the few that findings name are read for their
//! author and date.

use std::collections::HashMap;

use gix::bstr::ByteSlice;
use gix::ObjectId;

use super::{read_error, GitError};
use crate::report::{redact, Commit, Finding};
use crate::scan::Scanner;

/// A commit met in the walk (which lists descendants first).
pub struct Walked {
    pub id: ObjectId,
    pub time: i64,
}

/// How old a commit is: commit time, then (for equal times) the later in the walk. The smallest
/// is the oldest.
type Age = (i64, std::cmp::Reverse<usize>);

/// A finding of history, with where it was found: the commit (index in the walk), the blob
/// (index in the scan's blob list) and which of the blob's places (paths) it was found at.
pub struct Found {
    pub at: usize,
    pub blob: usize,
    pub place: usize,
    pub finding: Finding,
}

/// Keeps, for each fingerprint (rule, path, secret), the findings of its oldest commit.
#[derive(Default)]
pub struct Oldest {
    by_fingerprint: HashMap<String, (Age, Vec<Found>)>,
}

impl Oldest {
    pub fn keep(&mut self, commits: &[Walked], found: Found) {
        let age = (
            commits.get(found.at).map_or(i64::MAX, |c| c.time),
            std::cmp::Reverse(found.at),
        );
        match self.by_fingerprint.get_mut(&found.finding.fingerprint) {
            Some((best, list)) if age < *best => {
                *best = age;
                *list = vec![found];
            }
            Some((best, list)) if age == *best => list.push(found),
            Some(_) => {}
            None => {
                let key = found.finding.fingerprint.clone();
                self.by_fingerprint.insert(key, (age, vec![found]));
            }
        }
    }

    /// Every fingerprint's oldest findings, in no particular order.
    pub fn into_groups(self) -> impl Iterator<Item = Vec<Found>> {
        self.by_fingerprint.into_values().map(|(_, list)| list)
    }
}

/// Fills in each finding's commit (author, date) from its walk index, reading each named commit
/// once. An identity that holds something a rule matches is printed with it redacted.
pub fn name_commits(
    repo: &gix::Repository,
    scanner: &Scanner,
    commits: &[Walked],
    found: Vec<Found>,
) -> Result<Vec<Finding>, GitError> {
    let mut named: HashMap<usize, Commit> = HashMap::new();
    let mut out = Vec::with_capacity(found.len());
    for Found {
        at, mut finding, ..
    } in found
    {
        if let Some(walked) = commits.get(at) {
            let named = match named.entry(at) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(commit(repo, scanner, walked.id)?)
                }
            };
            finding.commit = Some(named.clone());
        }
        out.push(finding);
    }
    Ok(out)
}

/// A commit's attribution: its id, author (redacted where a rule matches) and date.
fn commit(repo: &gix::Repository, scanner: &Scanner, id: ObjectId) -> Result<Commit, GitError> {
    let what = || format!("commit {id}");
    let commit = repo.find_commit(id).map_err(|e| read_error(what(), &e))?;
    let decoded = commit.decode().map_err(|e| read_error(what(), &e))?;
    let author = decoded.author().map_err(|e| read_error(what(), &e))?;
    let time = author.time().map_err(|e| read_error(what(), &e))?;
    Ok(Commit {
        id: id.to_string(),
        author: masked(
            scanner,
            &format!(
                "{} <{}>",
                author.name.trim().to_str_lossy(),
                author.email.trim().to_str_lossy()
            ),
        ),
        date: rfc3339(time.seconds, time.offset),
    })
}

/// `text` with every secret a rule finds in it redacted as findings redact secrets.
pub fn masked(scanner: &Scanner, text: &str) -> String {
    let bytes = text.as_bytes();
    let mut spans: Vec<std::ops::Range<usize>> =
        scanner.scan(bytes).into_iter().map(|m| m.secret).collect();
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_by_key(|s| s.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        if span.start < at {
            continue;
        }
        out.push_str(&String::from_utf8_lossy(&bytes[at..span.start]));
        out.push_str(&redact(&bytes[span.clone()]));
        at = span.end;
    }
    out.push_str(&String::from_utf8_lossy(&bytes[at..]));
    out
}

/// `seconds` since the epoch at UTC offset `offset` (seconds) as RFC 3339, e.g.
/// `2024-05-01T12:00:00+02:00` (`Z` for UTC). A time or offset out of range (a corrupt commit)
/// is shown as the epoch rather than failing the scan.
pub fn rfc3339(seconds: i64, offset: i32) -> String {
    let time = jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    match jiff::tz::Offset::from_seconds(offset) {
        Ok(zone) if offset != 0 => time.display_with_offset(zone).to_string(),
        _ => time.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_in_the_authors_zone() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800, 7200), "2024-05-01T14:00:00+02:00");
        assert_eq!(rfc3339(1_714_564_800, -19_800), "2024-05-01T06:30:00-05:30");
        assert_eq!(rfc3339(i64::MAX, 0), "1970-01-01T00:00:00Z");
    }
}
