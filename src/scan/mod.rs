//! The compiled scanner: an Aho-Corasick keyword prefilter finds candidate positions, and only rules
//! whose keywords occur are confirmed by their regex, in a window around each hit (the enclosing
//! line, or less where the regex says so). Cost stays linear in the input whatever the rule count
//! and whatever the input: see `pass` for how one blob is scanned. Knows nothing of files or git.

mod allow;
mod checks;
pub mod decode;
mod files;
pub mod fingerprint;
mod keywords;
mod pass;
mod shape;
pub mod text;

pub use allow::{baseline_json, Allowlist, Candidate};
pub use checks::{entropy, is_placeholder, verify_checksum};
pub use files::FileMatcher;
pub use fingerprint::{allow_entry, fingerprint, fingerprint_bytes, Entry};
pub use text::is_binary;

use keywords::Keywords;
use pass::{Blocks, Pass};
use shape::Shape;

use std::ops::Range;
use std::sync::OnceLock;

use regex::bytes::RegexSet;
use regex_automata::meta;

use crate::rules::{Rule, RuleError, RuleSet};

/// How many findings one blob may report. A file holding more is machine-made (a dump, a test
/// vector, an attack on the hook): the rest of it is reported as one `too-many-findings` finding
/// instead of being scanned, so that no input makes a commit hook run for minutes.
pub const MAX_FINDINGS: usize = 1000;
/// The rule id of the finding that stands for the unscanned rest of a blob with too many.
pub const TOO_MANY_FINDINGS: &str = "too-many-findings";
/// One confirmed secret in a blob: which rule, and where the secret itself lies (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub rule: usize,
    /// The secret's bytes (the rule's secret group).
    pub secret: Range<usize>,
    /// Where the finding is reported: the secret's first byte, or for a multi-line rule the
    /// start of the whole match (a PEM block's BEGIN line, where a reader looks for it).
    pub at: usize,
    /// 1-based line of `at`.
    pub line: usize,
    /// 1-based byte column of `at`.
    pub column: usize,
}

/// A secret found in the decoded text of an encoded span, reported at that span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedMatch {
    pub rule: usize,
    /// The secret as decoded.
    pub secret: Vec<u8>,
    /// The outermost encoded span holding it, in the blob.
    pub span: Range<usize>,
    /// The encodings undone, outermost first.
    pub chain: Vec<decode::Encoding>,
    /// 1-based line and byte column of the span's start.
    pub line: usize,
    pub column: usize,
}

/// What scanning one blob found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scanned {
    /// The matches, sorted by position.
    pub matches: Vec<Match>,
    /// Set when the blob was not scanned to its end: where the rest begins, and why. Nothing
    /// from there on was reported (and most of it was not scanned).
    pub cut: Option<Cut>,
}

/// Where a blob stopped being scanned: a byte offset with its 1-based line and byte column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    pub at: usize,
    pub line: usize,
    pub column: usize,
    pub why: Overflow,
}

/// Why a blob was not scanned to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// It held more findings than the limit.
    Findings,
    /// It is so dense with keywords that confirming them all would cost more than
    /// `WORK_PER_BYTE` bytes of regex search per byte of it.
    Candidates,
}

impl Cut {
    fn at(data: &[u8], at: usize, why: Overflow) -> Cut {
        let line_start = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
        Cut {
            at,
            line: 1 + memchr::memchr_iter(b'\n', &data[..line_start]).count(),
            column: at - line_start + 1,
            why,
        }
    }
}

/// The rule set, compiled for scanning. Shared by all worker threads.
pub struct Scanner {
    rules: Vec<CompiledRule>,
    keywords: Keywords,
    /// For each keyword pattern id, the rules that declared it.
    keyword_rules: Vec<Vec<usize>>,
    files: FileMatcher,
    allowed_values: RegexSet,
    /// The keywords of the multi-line rules, built on the first multi-line hit.
    blocks: OnceLock<Option<Blocks>>,
}

struct CompiledRule {
    rule: Rule,
    /// Compiled on first use, so a hook scanning three files does not compile hundreds of regexes.
    regex: OnceLock<Option<meta::Regex>>,
    /// Where its matches lie around its keywords; found on first use.
    shape: OnceLock<Shape>,
}

impl CompiledRule {
    fn shape(&self) -> Shape {
        *self
            .shape
            .get_or_init(|| Shape::of(&self.rule.regex, &self.rule.keywords))
    }

    fn regex(&self) -> Option<&meta::Regex> {
        self.regex
            .get_or_init(|| shape::compile(&self.rule.regex))
            .as_ref()
    }
}

impl Scanner {
    /// Compiles `set`. Fails only on a broken allowlist or path glob (regexes of config rules were
    /// checked when the config loaded; the defaults' by the test suite).
    pub fn new(set: &RuleSet) -> Result<Scanner, RuleError> {
        let rules = set.rules.iter().map(|rule| rule.keywords.as_slice());
        let (patterns, keyword_rules) = keywords::distinct(rules.enumerate());
        let keywords = Keywords::new(&patterns).map_err(|e| RuleError::Config {
            origin: "rules".into(),
            problem: format!("cannot build keyword automaton: {e}"),
        })?;
        let allowed_values = RegexSet::new(&set.allow.values).map_err(|e| RuleError::Config {
            origin: "allow.values".into(),
            problem: crate::rules::one_line(&e),
        })?;
        Ok(Scanner {
            rules: set
                .rules
                .iter()
                .map(|rule| CompiledRule {
                    rule: rule.clone(),
                    regex: OnceLock::new(),
                    shape: OnceLock::new(),
                })
                .collect(),
            keywords,
            keyword_rules,
            files: FileMatcher::new(&set.files)?,
            allowed_values,
            blocks: OnceLock::new(),
        })
    }

    /// The rule behind `Match::rule`.
    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index].rule
    }

    /// The sensitive-file rules.
    pub fn files(&self) -> &FileMatcher {
        &self.files
    }

    /// Every confirmed secret in `data` up to the ceiling of `MAX_FINDINGS`, in order of
    /// position, with overlaps resolved (the longer secret wins; on a tie, the rule listed first,
    /// so provider rules beat generic ones). `scan_limited` says whether the ceiling was reached.
    pub fn scan(&self, data: &[u8]) -> Vec<Match> {
        self.scan_limited(data, MAX_FINDINGS).matches
    }

    /// Every confirmed secret in `data`, as `scan`, but at most `limit` of them: a blob holding
    /// more is cut at the first one past the limit, and the rest of it is not scanned.
    /// Every step costs time in proportion to the bytes it looks at, never to the number of
    /// matches found before it, so that a blob full of findings stays linear.
    pub fn scan_limited(&self, data: &[u8], limit: usize) -> Scanned {
        let mut pass = Pass::new(self, data);
        let stopped = pass.run(limit);
        let mut found = pass.into_found();
        resolve_overlaps(&mut found, &self.rules);
        found.sort_unstable_by_key(|m| m.at);
        let cut = pass::cut_at(&mut found, limit, stopped);
        locate(data, &mut found);
        Scanned {
            matches: found,
            cut: cut.map(|(at, why)| Cut::at(data, at, why)),
        }
    }

    /// The secrets in the encoded spans of `data` (see [`decode`]), two levels deep, in order
    /// of position. One is left out when it lies on a line with an allow comment, or when a
    /// match of the plain scan (`plain`) overlapping its span is at least as sure: a secret
    /// found as written is not reported again decoded. A plain match that a surer decoded one
    /// stands for (a generic `token: <base64>` holding a GitHub token) is dropped from `plain`.
    pub fn scan_decoded(&self, data: &[u8], plain: &mut Vec<Match>) -> Vec<DecodedMatch> {
        let mut found = Vec::new();
        for outer in decode::spans(data) {
            let span = outer.span.clone();
            self.scan_one_decoded(&outer.text, &span, &[outer.encoding], &mut found);
            for inner in decode::spans(&outer.text) {
                let chain = [outer.encoding, inner.encoding];
                self.scan_one_decoded(&inner.text, &span, &chain, &mut found);
            }
            if found.len() >= MAX_FINDINGS {
                break;
            }
        }
        if found.is_empty() {
            return found;
        }
        let allowed = pass::allowed_lines(data);
        found.retain(|d| {
            let confidence = self.rule(d.rule).confidence();
            let on_allowed_line = allowed
                .iter()
                .any(|&(start, end)| (start..=end).contains(&d.span.start));
            let known = plain.iter().any(|m| {
                m.secret.start < d.span.end
                    && d.span.start < m.secret.end
                    && self.rule(m.rule).confidence() >= confidence
            });
            !on_allowed_line && !known
        });
        found.sort_by(|a, b| {
            (a.span.start, a.rule, &a.secret).cmp(&(b.span.start, b.rule, &b.secret))
        });
        found.dedup_by(|a, b| a.span == b.span && a.rule == b.rule && a.secret == b.secret);
        found.truncate(MAX_FINDINGS);
        plain.retain(|m| {
            let confidence = self.rule(m.rule).confidence();
            !found.iter().any(|d| {
                m.secret.start < d.span.end
                    && d.span.start < m.secret.end
                    && self.rule(d.rule).confidence() > confidence
            })
        });
        let mut lines = Lines::new(data);
        for d in &mut found {
            (d.line, d.column) = lines.at(d.span.start);
        }
        found
    }

    fn scan_one_decoded(
        &self,
        text: &[u8],
        span: &Range<usize>,
        chain: &[decode::Encoding],
        found: &mut Vec<DecodedMatch>,
    ) {
        for m in self.scan_limited(text, MAX_FINDINGS).matches {
            found.push(DecodedMatch {
                rule: m.rule,
                secret: text[m.secret].to_vec(),
                span: span.clone(),
                chain: chain.to_vec(),
                line: 0,
                column: 0,
            });
        }
    }

    /// Whether a candidate secret of `rule` passes every check.
    fn accepts(&self, rule: &Rule, secret: &[u8]) -> bool {
        !(secret.is_empty()
            || rule.entropy.is_some_and(|min| entropy(secret) < min)
            || rule
                .checksum
                .is_some_and(|kind| !verify_checksum(kind, secret))
            || is_placeholder(secret)
            || self.allowed_values.is_match(secret))
    }
}

/// Keeps one match per overlapping group: the surest rule's (a named provider's over a generic
/// assignment that holds the same token), then the longest secret, then the earliest rule's.
fn resolve_overlaps(found: &mut Vec<Match>, rules: &[CompiledRule]) {
    let preference = |m: &Match| {
        (
            rules[m.rule].rule.confidence(),
            m.secret.len(),
            std::cmp::Reverse(m.rule),
        )
    };
    found.sort_unstable_by(|a, b| {
        (a.secret.start, std::cmp::Reverse(a.secret.end), a.rule).cmp(&(
            b.secret.start,
            std::cmp::Reverse(b.secret.end),
            b.rule,
        ))
    });
    let mut kept: Vec<Match> = Vec::with_capacity(found.len());
    for m in found.drain(..) {
        match kept.last_mut() {
            Some(last) if m.secret.start < last.secret.end => {
                if preference(&m) > preference(last) {
                    *last = m;
                }
            }
            _ => kept.push(m),
        }
    }
    *found = kept;
}

/// Fills in 1-based line and byte column of each match's `at`, in one pass over matches sorted
/// by position.
pub fn locate(data: &[u8], found: &mut [Match]) {
    let mut lines = Lines::new(data);
    for m in found.iter_mut() {
        (m.line, m.column) = lines.at(m.at);
    }
}

/// 1-based line and byte column of offsets asked for in increasing order, counting the
/// newlines between one and the next only: linear in the blob however many are asked for.
struct Lines<'d> {
    data: &'d [u8],
    line: usize,
    line_start: usize,
    pos: usize,
}

impl<'d> Lines<'d> {
    fn new(data: &'d [u8]) -> Lines<'d> {
        Lines {
            data,
            line: 1,
            line_start: 0,
            pos: 0,
        }
    }

    /// Line and column of `at`, which is not before the offset asked for last.
    fn at(&mut self, at: usize) -> (usize, usize) {
        for nl in memchr::memchr_iter(b'\n', &self.data[self.pos..at]) {
            self.line += 1;
            self.line_start = self.pos + nl + 1;
        }
        self.pos = at;
        (self.line, at - self.line_start + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> Scanner {
        Scanner::new(&RuleSet::defaults().expect("rules")).expect("scanner")
    }

    /// A real-format AWS access key id, built at run time so this file holds none.
    fn aws() -> String {
        ["AKIAZ7VLRD", "Q4HWMFNB5K"].concat()
    }

    #[test]
    fn an_allow_comment_allows_every_match_on_its_line_and_no_other() {
        let key = aws();
        let line = format!("{key} ").repeat(200);
        let text = format!("{line}\n{line} # hush:allow\n{line}\n");
        let found = scanner().scan_limited(text.as_bytes(), usize::MAX).matches;
        assert_eq!(found.len(), 400);
        assert!(found.iter().all(|m| m.line == 1 || m.line == 3));
        let allowed = pass::AllowedLines::new(text.as_bytes());
        let second = line.len() + 1;
        assert!(!allowed.contains(second - 1));
        // The newline ending a line belongs to it.
        assert!(allowed.contains(second) && allowed.contains(2 * line.len() + 14));
        assert!(!allowed.contains(2 * line.len() + 15));
    }

    #[test]
    fn a_named_rule_wins_over_a_generic_one_on_the_same_token() {
        // Built at run time, like aws(): an Instagram token's shape, random characters.
        let token = format!(
            "IGQVJ{}",
            "ravLmnz7O4i646mbERrY6YeJCUPY1KeGDmHFbtD".repeat(3)
        );
        let line = format!("INSTAGRAM_ACCESS_TOKEN={token}\n");
        let s = scanner();
        let found = s.scan(line.as_bytes());
        let ids: Vec<_> = found.iter().map(|m| s.rule(m.rule).id.as_str()).collect();
        assert_eq!(ids, ["instagram-access-token"]);
    }

    #[test]
    fn past_the_limit_the_rest_is_cut_at_the_first_match_left_out() {
        let text = format!("x = {}\n", aws()).repeat(10);
        let scanned = scanner().scan_limited(text.as_bytes(), 4);
        assert_eq!(scanned.matches.len(), 4);
        let cut = scanned.cut.expect("cut");
        assert_eq!((cut.line, cut.column, cut.why), (5, 5, Overflow::Findings));
        assert_eq!(scanner().scan_limited(text.as_bytes(), 10).cut, None);
    }

    #[test]
    fn a_blob_too_dense_with_keywords_is_cut_when_its_work_is_spent() {
        let rules = RuleSet::defaults().expect("rules");
        let mut keywords: Vec<&str> = rules
            .rules
            .iter()
            .flat_map(|r| r.keywords.iter().map(String::as_str))
            .collect();
        keywords.sort_unstable();
        keywords.dedup();
        let text = format!("{} ", keywords.join(" ")).repeat(100);
        let scanned = scanner().scan(text.as_bytes());
        let cut = scanned_cut(&scanner(), text.as_bytes());
        assert!(scanned.is_empty());
        assert_eq!(cut.why, Overflow::Candidates);
        assert!(cut.at < text.len());
    }

    fn scanned_cut(scanner: &Scanner, data: &[u8]) -> Cut {
        scanner.scan_limited(data, MAX_FINDINGS).cut.expect("a cut")
    }

    #[test]
    fn private_keys_are_found_after_begin_lines_without_a_body() {
        let rules = RuleSet::defaults_with_examples().expect("rules");
        let rsa = rules
            .rules
            .iter()
            .find(|r| r.id == "private-key-rsa")
            .expect("rule");
        let block = rsa.true_positives[0].trim();
        let junk = "-----BEGIN RSA PRIVATE KEY-----\n".repeat(5000);
        let text = format!("{junk}{block}\n");
        let scanner = Scanner::new(&rules).expect("scanner");
        let found = scanner.scan(text.as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 5001);
        // Two blocks in one JSON line, each found on its own.
        let escaped = block.replace('\n', "\\n");
        let json = format!("{{\"a\": \"{escaped}\", \"b\": \"{escaped}\"}}");
        assert_eq!(scanner.scan(json.as_bytes()).len(), 2);
    }

    #[test]
    fn hits_on_a_huge_line_are_confirmed_whatever_their_place() {
        let key = aws();
        let filler = "password=x;".repeat(50_000);
        for at in [0, 4000, 100_000, filler.len()] {
            let text = format!("{} {key} {}", &filler[..at], &filler[at..]);
            let found = scanner().scan(text.as_bytes());
            let aws: Vec<usize> = found
                .iter()
                .filter(|m| &text.as_bytes()[m.secret.clone()] == key.as_bytes())
                .map(|m| m.column)
                .collect();
            assert_eq!(aws, vec![at + 2], "at {at}");
        }
    }
}
