//! The compiled scanner: an Aho-Corasick keyword prefilter finds candidate positions, and only rules
//! whose keywords occur are confirmed by their regex, in a window around each hit (the enclosing
//! line). Cost stays linear in the input whatever the rule count. Knows nothing of files or git.

mod allow;
mod checks;
mod files;
pub mod fingerprint;

pub use allow::{baseline_json, Allowlist, Candidate};
pub use checks::{entropy, is_placeholder, verify_checksum};
pub use files::FileMatcher;
pub use fingerprint::{allow_entry, fingerprint, fingerprint_bytes, Entry};

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use regex::bytes::{Regex, RegexSet};

use crate::rules::{Rule, RuleError, RuleSet};

/// A line longer than this is not confirmed whole: the window is clipped around the hit, so a
/// minified file with many hits on one huge line stays linear.
const MAX_LINE_WINDOW: usize = 4096;
/// How far either side of a hit a clipped window reaches.
const CLIP_REACH: usize = 1024;
/// How far past the keyword a multi-line rule (PEM blocks) may match.
const MULTILINE_REACH: usize = 64 * 1024;
/// Comments that allow the line they are on: ours, and those of tools people migrate from.
const ALLOW_MARKERS: [&[u8]; 3] = [
    b"hush:allow",
    b"gitleaks:allow",
    b"pragma: allowlist secret",
];

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

/// The rule set, compiled for scanning. Shared by all worker threads.
pub struct Scanner {
    rules: Vec<CompiledRule>,
    keywords: Keywords,
    /// For each keyword pattern id, the rules that declared it.
    keyword_rules: Vec<Vec<usize>>,
    files: FileMatcher,
    allowed_values: RegexSet,
}

struct CompiledRule {
    rule: Rule,
    /// Compiled on first use, so a hook scanning three files does not compile hundreds of regexes.
    regex: OnceLock<Option<Regex>>,
}

impl Scanner {
    /// Compiles `set`. Fails only on a broken allowlist or path glob (regexes of config rules were
    /// checked when the config loaded; the defaults' by the test suite).
    pub fn new(set: &RuleSet) -> Result<Scanner, RuleError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (index, rule) in set.rules.iter().enumerate() {
            for keyword in &rule.keywords {
                let keyword = keyword.to_ascii_lowercase();
                match patterns.iter().position(|k| *k == keyword) {
                    Some(id) => keyword_rules[id].push(index),
                    None => {
                        patterns.push(keyword);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
        }
        let keywords = Keywords::new(patterns)?;
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
                })
                .collect(),
            keywords,
            keyword_rules,
            files: FileMatcher::new(&set.files)?,
            allowed_values,
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

    /// Every confirmed secret in `data`, in order of position, with overlaps resolved (the longer
    /// secret wins; on a tie, the rule listed first, so provider rules beat generic ones).
    pub fn scan(&self, data: &[u8]) -> Vec<Match> {
        // A plain (non-overlapping) search finds the next line holding any keyword fast; only
        // that line is then searched for every keyword, overlapping ones included, and the rules
        // found there are confirmed before moving on. Overlapping search over the whole input,
        // or collecting every window before confirming, costs several times more.
        let keywords = self.keywords.for_input(data.len());
        let mut found = Vec::new();
        let mut windows: Vec<(usize, usize, usize)> = Vec::new();
        let mut at = 0;
        while let Some(first) = keywords.find(Input::new(data).range(at..)) {
            let (start, end) = segment(data, first.start(), first.end());
            windows.clear();
            for hit in keywords.find_overlapping_iter(Input::new(data).range(start..end)) {
                for &rule in &self.keyword_rules[hit.pattern().as_usize()] {
                    let (start, end) = self.window(data, hit.start(), hit.end(), rule);
                    windows.push((rule, start, end));
                }
            }
            windows.sort_unstable();
            let mut i = 0;
            while i < windows.len() {
                let (rule, start, mut end) = windows[i];
                i += 1;
                while i < windows.len() && windows[i].0 == rule && windows[i].1 <= end {
                    end = end.max(windows[i].2);
                    i += 1;
                }
                self.confirm(rule, data, start..end, &mut found);
            }
            at = end.max(first.end());
            if at >= data.len() {
                break;
            }
        }
        resolve_overlaps(&mut found);
        found.retain(|m| !line_is_allowed(data, m.secret.start) && !line_is_allowed(data, m.at));
        found.sort_unstable_by_key(|m| m.at);
        locate(data, &mut found);
        found
    }

    /// The bytes a rule's regex may see around a keyword hit at `start..end`.
    fn window(&self, data: &[u8], start: usize, end: usize, rule: usize) -> (usize, usize) {
        let floor = start.saturating_sub(MAX_LINE_WINDOW);
        let line_start = match memchr::memrchr(b'\n', &data[floor..start]) {
            Some(i) => floor + i + 1,
            None if floor == 0 => 0,
            None => extend_back(data, start.saturating_sub(CLIP_REACH)),
        };
        let reach = if self.rules[rule].rule.multiline {
            MULTILINE_REACH
        } else {
            MAX_LINE_WINDOW
        };
        let ceiling = (end + reach).min(data.len());
        let line_end = match memchr::memchr(b'\n', &data[end..ceiling]) {
            Some(i) if !self.rules[rule].rule.multiline => end + i,
            _ if ceiling == data.len() => ceiling,
            _ if self.rules[rule].rule.multiline => {
                memchr::memrchr(b'\n', &data[end..ceiling]).map_or(ceiling, |i| end + i)
            }
            _ => extend_forward(data, (end + CLIP_REACH).min(data.len())),
        };
        (line_start, line_end)
    }

    /// Runs rule `index`'s regex over `window` and keeps the matches that pass every check.
    fn confirm(&self, index: usize, data: &[u8], window: Range<usize>, out: &mut Vec<Match>) {
        let compiled = &self.rules[index];
        let Some(regex) = compiled
            .regex
            .get_or_init(|| crate::rules::compile(&compiled.rule.regex).ok())
        else {
            return;
        };
        let rule = &compiled.rule;
        let group = rule.secret_group();
        let base = window.start;
        let hay = &data[window];
        let mut locations = regex.capture_locations();
        let mut at = 0;
        while at <= hay.len() {
            let Some(whole) = regex.captures_read_at(&mut locations, hay, at) else {
                break;
            };
            at = if whole.end() > whole.start() {
                whole.end()
            } else {
                whole.end() + 1
            };
            let Some((s, e)) = locations.get(group) else {
                continue;
            };
            let secret = &hay[s..e];
            if secret.is_empty()
                || rule.entropy.is_some_and(|min| entropy(secret) < min)
                || rule
                    .checksum
                    .is_some_and(|kind| !verify_checksum(kind, secret))
                || is_placeholder(secret)
                || self.allowed_values.is_match(secret)
            {
                continue;
            }
            out.push(Match {
                rule: index,
                secret: base + s..base + e,
                at: base + if rule.multiline { whole.start() } else { s },
                line: 0,
                column: 0,
            });
        }
    }
}

/// After this many bytes scanned, the keyword DFA is built: it searches faster than the NFA but
/// costs more to build than a commit hook's few small files would ever repay.
const DFA_AFTER_BYTES: u64 = 1 << 20;

/// The keyword automaton: a quick-to-build NFA first, a DFA once enough input has been seen.
struct Keywords {
    patterns: Vec<String>,
    nfa: AhoCorasick,
    dfa: OnceLock<Option<AhoCorasick>>,
    scanned: AtomicU64,
}

impl Keywords {
    fn new(patterns: Vec<String>) -> Result<Keywords, RuleError> {
        let nfa = automaton(&patterns, AhoCorasickKind::ContiguousNFA).map_err(|e| {
            RuleError::Config {
                origin: "rules".into(),
                problem: format!("cannot build keyword automaton: {e}"),
            }
        })?;
        Ok(Keywords {
            patterns,
            nfa,
            dfa: OnceLock::new(),
            scanned: AtomicU64::new(0),
        })
    }

    /// The automaton to search `len` more bytes with. Both report the same pattern ids.
    fn for_input(&self, len: usize) -> &AhoCorasick {
        let before = self.scanned.fetch_add(len as u64, Ordering::Relaxed);
        if before + len as u64 <= DFA_AFTER_BYTES {
            return &self.nfa;
        }
        self.dfa
            .get_or_init(|| automaton(&self.patterns, AhoCorasickKind::DFA).ok())
            .as_ref()
            .unwrap_or(&self.nfa)
    }
}

/// Keywords matched ASCII-case-insensitively, reporting every match (overlapping search needs
/// standard semantics).
fn automaton(
    patterns: &[String],
    kind: AhoCorasickKind,
) -> Result<AhoCorasick, aho_corasick::BuildError> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(kind))
        .build(patterns)
}

/// The line around a keyword hit, clipped on huge lines like a rule's window.
fn segment(data: &[u8], start: usize, end: usize) -> (usize, usize) {
    let floor = start.saturating_sub(MAX_LINE_WINDOW);
    let line_start = match memchr::memrchr(b'\n', &data[floor..start]) {
        Some(i) => floor + i + 1,
        None if floor == 0 => 0,
        None => extend_back(data, start.saturating_sub(CLIP_REACH)),
    };
    let ceiling = (end + MAX_LINE_WINDOW).min(data.len());
    let line_end = match memchr::memchr(b'\n', &data[end..ceiling]) {
        Some(i) => end + i,
        None if ceiling == data.len() => ceiling,
        None => extend_forward(data, (end + CLIP_REACH).min(data.len())),
    };
    (line_start, line_end)
}

/// Moves a clipped window start back to the beginning of the token it cut, so that `\b` and
/// prefixes are judged on whole tokens.
fn extend_back(data: &[u8], mut at: usize) -> usize {
    let limit = at.saturating_sub(256);
    while at > limit && is_token_byte(data[at - 1]) {
        at -= 1;
    }
    at
}

/// Moves a clipped window end forward to the end of the token it cut.
fn extend_forward(data: &[u8], mut at: usize) -> usize {
    let limit = (at + 256).min(data.len());
    while at < limit && is_token_byte(data[at]) {
        at += 1;
    }
    at
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=' | b'.')
}

/// Keeps one match per overlapping group: the longest secret, then the earliest rule.
fn resolve_overlaps(found: &mut Vec<Match>) {
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
                let (ml, ll) = (m.secret.len(), last.secret.len());
                if ml > ll || (ml == ll && m.rule < last.rule) {
                    *last = m;
                }
            }
            _ => kept.push(m),
        }
    }
    *found = kept;
}

/// Whether the line holding byte `at` carries an allow comment.
fn line_is_allowed(data: &[u8], at: usize) -> bool {
    let start = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
    let line = &data[start..end];
    ALLOW_MARKERS
        .iter()
        .any(|marker| memchr::memmem::find(line, marker).is_some())
}

/// Fills in 1-based line and byte column of each match's `at`, in one pass over matches sorted
/// by position.
pub fn locate(data: &[u8], found: &mut [Match]) {
    let (mut line, mut line_start, mut pos) = (1, 0, 0);
    for m in found.iter_mut() {
        let at = m.at;
        for nl in memchr::memchr_iter(b'\n', &data[pos..at]) {
            line += 1;
            line_start = pos + nl + 1;
        }
        pos = at;
        m.line = line;
        m.column = at - line_start + 1;
    }
}

/// Whether a blob is binary: a NUL byte in its first 8 KiB, as git judges it.
pub fn is_binary(data: &[u8]) -> bool {
    memchr::memchr(0, &data[..data.len().min(8192)]).is_some()
}
