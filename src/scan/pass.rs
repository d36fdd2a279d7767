//! One scan of one blob. The keywords ahead are found a stretch at a time, overlapping ones
//! included, and each line holding one is taken whole; each hit gives each of its rules a window
//! (the line, clipped on huge lines, and narrowed to what the rule's regex can reach from the
//! hit); a rule's overlapping windows are merged and searched once, rule by rule, in batches of
//! lines. Every step costs time in proportion to the bytes it reads: nothing is redone per match
//! found, per hit on a line, or per line of a PEM block, and past a budget of work or findings
//! the rest of the blob is cut.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use regex_automata::util::captures::Captures;

use super::keywords::{distinct, Hit, Keywords};
use super::{resolve_overlaps, CompiledRule, Match, Overflow, Scanner};

/// A line longer than this is not confirmed whole: the window is clipped around the hit, so a
/// minified file with many hits on one huge line stays linear.
const MAX_LINE_WINDOW: usize = 4096;
/// How far either side of a hit a clipped window reaches.
const CLIP_REACH: usize = 1024;
/// How far past the keyword a multi-line rule (PEM blocks) may match.
const MULTILINE_REACH: usize = 64 * 1024;
/// How many bytes ahead keywords are searched for at a time.
const UPCOMING: usize = 64 * 1024;
/// How many bytes of keyword lines are gathered before their windows are confirmed.
const BATCH: usize = 64 * 1024;
/// How many bytes of regex search a blob may take per byte of it, beyond `WORK_SLACK`. Source
/// code takes under 3 (2.3 at most over the 14,000 files of this project's dependencies); a
/// line of nothing but keywords takes over 50. Past this, the rest of the blob is reported as
/// one `too-many-findings` finding rather than scanned at a crawl.
const WORK_PER_BYTE: usize = 16;
const WORK_SLACK: usize = 1 << 20;
/// How far a multi-line lookahead reads at a time.
const LOOKAHEAD_CHUNK: usize = 4096;
/// How far `extend_forward` walks to find the end of a token.
const TOKEN_REACH: usize = 256;
/// Comments that allow the line they are on: ours, and those of tools people migrate from.
const ALLOW_MARKERS: [&[u8]; 3] = [
    b"hush:allow",
    b"gitleaks:allow",
    b"pragma: allowlist secret",
];

/// The keywords of the multi-line rules: where a rule's next block may start ends its window.
pub(super) struct Blocks {
    automaton: AhoCorasick,
    /// For each pattern, the multi-line rules that declared it.
    rules: Vec<Vec<usize>>,
    longest: usize,
}

impl Blocks {
    pub(super) fn new(rules: &[CompiledRule]) -> Option<Blocks> {
        let multiline = rules.iter().enumerate().filter(|(_, r)| r.rule.multiline);
        let (patterns, owners) = distinct(multiline.map(|(i, r)| (i, r.rule.keywords.as_slice())));
        // No prefilter: a rare-byte prefilter thrashes on text dense with those bytes, and the
        // lookahead only ever reads what a multi-line hit needs, once.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&patterns)
            .ok()?;
        Some(Blocks {
            automaton,
            longest: patterns.iter().map(String::len).max().unwrap_or(0),
            rules: owners,
        })
    }
}

/// One scan of one blob: what it has found so far, and the scratch space reused throughout.
pub(super) struct Pass<'s, 'd> {
    scanner: &'s Scanner,
    data: &'d [u8],
    allowed: AllowedLines<'d>,
    /// Each rule's capture slots, made on its first window rather than on every window.
    captures: Vec<Option<Captures>>,
    /// Each rule's windows in this batch, merged where they overlap, in order of position.
    windows: Vec<Vec<Window>>,
    /// The rules with windows in this batch.
    touched: Vec<usize>,
    ahead: Ahead,
    found: Vec<Match>,
    /// Bytes handed to regex searches so far, and how many the blob may take.
    work: usize,
    budget: usize,
}

/// The multi-line keywords found ahead of the scan and not yet passed: (start, rule).
#[derive(Default)]
struct Ahead {
    hits: VecDeque<(usize, usize)>,
    scanned_to: usize,
}

/// The keywords of the blob ahead of the scan, found a stretch of `UPCOMING` bytes at a time:
/// every one ending in `lo+1..=scanned_to` and starting at or after `from`.
#[derive(Default)]
struct Upcoming {
    hits: Vec<Hit>,
    /// The first hit not yet passed.
    next: usize,
    from: usize,
    lo: usize,
    scanned_to: usize,
}

impl Upcoming {
    /// The first keyword (by its end) that starts at or after `at`.
    fn next(&mut self, keywords: &Keywords, data: &[u8], at: usize) -> Option<Hit> {
        loop {
            while let Some(&hit) = self.hits.get(self.next) {
                if hit.start >= at {
                    return Some(hit);
                }
                self.next += 1;
            }
            if self.scanned_to >= data.len() {
                return None;
            }
            // From the longest keyword's reach before the end of what was searched, so that a
            // keyword across that end is found; never before `at`.
            self.lo = self.scanned_to.max(at);
            let reach = keywords.longest.saturating_sub(1);
            self.from = at.max(self.lo.saturating_sub(reach));
            self.scanned_to = (self.lo + UPCOMING).min(data.len());
            self.hits.clear();
            self.next = 0;
            keywords.every(data, self.from, self.lo, self.scanned_to, &mut self.hits);
        }
    }

    /// The keywords ending in `at+1..=to` (some may start before `from`), if the stretch
    /// searched holds every one of them that starts at or after `from`.
    fn within(&self, from: usize, at: usize, to: usize) -> Option<&[Hit]> {
        if from < self.from || at < self.lo || to > self.scanned_to {
            return None;
        }
        let first = self.hits.partition_point(|h| h.end <= at);
        let last = self.hits.partition_point(|h| h.end <= to);
        Some(&self.hits[first..last])
    }
}

impl<'s, 'd> Pass<'s, 'd> {
    pub(super) fn new(scanner: &'s Scanner, data: &'d [u8]) -> Pass<'s, 'd> {
        Pass {
            scanner,
            data,
            allowed: AllowedLines::new(data),
            // Sized on the first hit: most blobs of a history have none.
            captures: Vec::new(),
            windows: Vec::new(),
            touched: Vec::new(),
            ahead: Ahead::default(),
            found: Vec::new(),
            work: 0,
            budget: data.len().saturating_mul(WORK_PER_BYTE) + WORK_SLACK,
        }
    }

    /// What the scan found, overlaps not yet resolved.
    pub(super) fn into_found(self) -> Vec<Match> {
        self.found
    }

    /// Scans the blob until its end, or until more than `limit` matches were found or its
    /// work budget is spent; returns where it stopped and why in those cases.
    pub(super) fn run(&mut self, limit: usize) -> Option<(usize, Overflow)> {
        // The keywords ahead are found a stretch at a time; each line holding one is then
        // taken whole, with every keyword on it.
        let (scanner, data) = (self.scanner, self.data);
        let keywords = &scanner.keywords;
        let longest = keywords.longest;
        let mut upcoming = Upcoming::default();
        let mut spare = Vec::new();
        // Overlaps are resolved (and the count checked) each time `limit` more matches came in.
        let mut next_check = limit;
        let mut batch_start = None;
        let mut at = 0;
        while let Some(first) = upcoming.next(keywords, data, at) {
            let line = Line::around(data, first.start, first.end);
            // Every keyword on the line from where the last line ended, a keyword cut by that
            // end included; those before it were confirmed with that line.
            let from = at
                .saturating_sub(longest.saturating_sub(1))
                .max(line.start_for(first.start));
            // Found ahead already, unless the line reaches outside the stretch searched.
            let on_line = match upcoming.within(from, at, line.end) {
                Some(hits) => hits,
                None => {
                    spare.clear();
                    keywords.every(data, from, from, line.end, &mut spare);
                    &spare
                }
            };
            for hit in on_line.iter().filter(|h| h.end > at && h.start >= from) {
                for &rule in &scanner.keyword_rules[hit.pattern] {
                    let window = self.window(&line, hit.start, hit.end, rule);
                    self.add(window);
                }
            }
            at = line.end.max(first.end);
            // Windows are confirmed in batches of lines: each rule's regex then runs over all
            // of its windows in a batch in a row, while its automaton is in the CPU's cache.
            let start = *batch_start.get_or_insert(first.start);
            if at - start >= BATCH || at >= data.len() {
                batch_start = None;
                self.confirm_windows();
                if self.found.len() > next_check {
                    resolve_overlaps(&mut self.found, &self.scanner.rules);
                    if self.found.len() > limit {
                        return Some((at, Overflow::Findings));
                    }
                    next_check = self.found.len().saturating_add(limit);
                }
                if self.work > self.budget {
                    return Some((at, Overflow::Candidates));
                }
            }
            if at >= data.len() {
                break;
            }
        }
        self.confirm_windows();
        None
    }

    /// The bytes a rule's regex may see around a keyword hit at `start..end` on `line`.
    fn window(&mut self, line: &Line, start: usize, end: usize, rule: usize) -> Window {
        let data = self.data;
        let compiled = &self.scanner.rules[rule];
        let shape = compiled.shape();
        let multiline = compiled.rule.multiline;
        // Every match holds a keyword and starts at most `lead` before it: on a line dense with
        // keywords, each rule then reads a few bytes around its own hits rather than the whole
        // line. A multi-line match may start lines before its keyword (a PEM header above its
        // `Proc-Type`); any other starts on the keyword's line.
        let mut from = match shape.lead {
            Some(lead) if multiline => start.saturating_sub(lead),
            Some(lead) => line.start_for(start).max(start.saturating_sub(lead)),
            None => line.start_for(start),
        };
        let (mut to, mut extend_end) = if multiline {
            (self.multiline_end(rule, end), false)
        } else {
            line.end_for(data.len(), end)
        };
        if let Some(longest) = shape.max_len {
            // A match holding this hit lies within its longest match of it. No token is cut
            // that a match could need: the search judges `\b` there by the bytes after it.
            from = from.max(end.saturating_sub(longest));
            let near = (start + longest).min(data.len());
            if near < to {
                (to, extend_end) = (near, false);
            }
        }
        Window {
            rule,
            start: from.min(start),
            end: to.max(from),
            extend_end,
        }
    }

    /// Where a multi-line rule's window ends: `MULTILINE_REACH` past the keyword (at a line end),
    /// or sooner at the rule's next keyword. A block starts at its keyword and never holds
    /// another (a PEM body has no second BEGIN line), and without that stop a keyword on every
    /// line would have every line search the next 64 KiB again.
    fn multiline_end(&mut self, rule: usize, end: usize) -> usize {
        let data = self.data;
        let reach = (end + MULTILINE_REACH).min(data.len());
        match self.next_block(rule, end, reach) {
            Some(next) => next,
            None if reach == data.len() => reach,
            None => memchr::memrchr(b'\n', &data[end..reach]).map_or(reach, |i| end + i),
        }
    }

    /// Where the next keyword of multi-line rule `rule` at or after `from` starts, if before
    /// `reach`. The keywords of every multi-line rule are found in one pass ahead of the scan
    /// and kept until passed, so that each byte is read once for all of those rules, not once
    /// for each. Calls come in order of `from`.
    fn next_block(&mut self, rule: usize, from: usize, reach: usize) -> Option<usize> {
        let blocks = self
            .scanner
            .blocks
            .get_or_init(|| Blocks::new(&self.scanner.rules));
        let blocks = blocks.as_ref()?;
        let ahead = &mut self.ahead;
        while ahead.hits.front().is_some_and(|&(start, _)| start < from) {
            ahead.hits.pop_front();
        }
        if ahead.scanned_to < from {
            ahead.hits.clear();
            ahead.scanned_to = from;
        }
        loop {
            let next = ahead
                .hits
                .iter()
                .find(|&&(start, r)| r == rule && start >= from);
            if let Some(&(start, _)) = next {
                return (start < reach).then_some(start);
            }
            if ahead.scanned_to >= reach {
                return None;
            }
            let end = (ahead.scanned_to + LOOKAHEAD_CHUNK).min(self.data.len());
            let begin = ahead
                .scanned_to
                .saturating_sub(blocks.longest.saturating_sub(1))
                .max(from);
            let input = Input::new(self.data).range(begin..end);
            for hit in blocks.automaton.find_overlapping_iter(input) {
                if hit.end() > ahead.scanned_to {
                    for &owner in &blocks.rules[hit.pattern().as_usize()] {
                        ahead.hits.push_back((hit.start(), owner));
                    }
                }
            }
            ahead.scanned_to = end;
        }
    }

    /// Adds a window to its rule's, merged with the last one if they overlap. A rule's windows
    /// come in order of their hits, so only the last can overlap. A multi-line rule's windows
    /// are never merged: each runs from one block's start to the next's, and one search over
    /// several would let a BEGIN line without a body swallow the next block.
    fn add(&mut self, window: Window) {
        let multiline = self.scanner.rules[window.rule].rule.multiline;
        if self.windows.is_empty() {
            let rules = self.scanner.rules.len();
            self.windows = (0..rules).map(|_| Vec::new()).collect();
            self.captures = (0..rules).map(|_| None).collect();
        }
        let windows = &mut self.windows[window.rule];
        match windows.last_mut() {
            Some(last) if window.start <= last.end && !multiline => {
                last.start = last.start.min(window.start);
                if window.end > last.end {
                    (last.end, last.extend_end) = (window.end, window.extend_end);
                } else if window.end == last.end {
                    last.extend_end |= window.extend_end;
                }
            }
            _ => {
                if windows.is_empty() {
                    self.touched.push(window.rule);
                }
                windows.push(window);
            }
        }
    }

    /// Confirms the batch's windows, rule by rule: one search over a stretch of overlapping
    /// windows reads each byte once, where searches from each hit could read the rest of the
    /// line again for every hit on it.
    fn confirm_windows(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        for &rule in &touched {
            let windows = std::mem::take(&mut self.windows[rule]);
            for window in &windows {
                let end = self.window_end(window);
                self.work += end - window.start;
                let mut at = window.start;
                while at <= end {
                    match self.confirm(rule, at..end) {
                        Some(after) => at = after,
                        None => break,
                    }
                }
            }
            self.windows[rule] = windows;
            self.windows[rule].clear();
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// Where a window ends once a clipped end is moved to the end of its token (once per
    /// merged window, not per hit: on a minified line of one long token, extending each hit's
    /// window would walk the same bytes again and again).
    fn window_end(&self, window: &Window) -> usize {
        if window.extend_end {
            extend_forward(self.data, window.end)
        } else {
            window.end
        }
    }

    /// Searches rule `index`'s regex in `span` once, keeping a match that passes every check;
    /// returns where the next search goes on, if anything matched.
    fn confirm(&mut self, index: usize, span: Range<usize>) -> Option<usize> {
        let compiled = &self.scanner.rules[index];
        let regex = compiled.regex()?;
        let rule = &compiled.rule;
        let captures = self.captures[index].get_or_insert_with(|| regex.create_captures());
        // The span lies in the whole blob, so that `\b` and `^` at its edges judge the bytes
        // around it, as they would on the whole line.
        let input = regex_automata::Input::new(self.data).span(span);
        regex.search_captures(&input, captures);
        let whole = captures.get_match()?;
        let next = whole.end() + usize::from(whole.is_empty());
        let Some(secret) = captures.get_group(rule.secret_group()) else {
            return Some(next);
        };
        let (s, e) = (secret.start, secret.end);
        let at = if rule.multiline { whole.start() } else { s };
        if self.scanner.accepts(rule, &self.data[s..e])
            && !self.allowed.contains(s)
            && !self.allowed.contains(at)
        {
            self.found.push(Match {
                rule: index,
                secret: s..e,
                at,
                line: 0,
                column: 0,
            });
        }
        Some(next)
    }
}

/// A rule's window around one keyword hit, before windows of one rule are merged. An end that
/// clips a line (rather than lying at its end) is moved to the end of the token it cuts once
/// windows are merged, so that `\b` there is judged on whole tokens. (The start needs no such
/// care: the regex sees the bytes before it.)
#[derive(Debug, Clone, Copy)]
struct Window {
    rule: usize,
    start: usize,
    end: usize,
    extend_end: bool,
}

/// The line around a keyword hit, clipped on huge lines: up to `MAX_LINE_WINDOW` either side
/// of a hit is taken whole, beyond that `CLIP_REACH` is. Every hit on one line shares its
/// newlines, so they are found once per line rather than once per hit. `end` is where the hits
/// confirmed together stop: the line's end, or on a huge line `MAX_LINE_WINDOW` past the first.
struct Line {
    end: usize,
    /// The newline before the first hit, if within `MAX_LINE_WINDOW` of it.
    newline_before: Option<usize>,
    /// The newline after the first hit, if within reach of every hit on the line.
    newline_after: Option<usize>,
}

impl Line {
    fn around(data: &[u8], start: usize, end: usize) -> Line {
        let floor = start.saturating_sub(MAX_LINE_WINDOW);
        let newline_before = memchr::memrchr(b'\n', &data[floor..start]).map(|i| floor + i);
        // Far enough for the last hit on a clipped line (at most `MAX_LINE_WINDOW +
        // TOKEN_REACH` past the first) to look `MAX_LINE_WINDOW` ahead, as the first does.
        let ceiling = (end + 2 * MAX_LINE_WINDOW + TOKEN_REACH).min(data.len());
        let newline_after = memchr::memchr(b'\n', &data[end..ceiling]).map(|i| end + i);
        let end = match newline_after {
            Some(newline) if newline < end + MAX_LINE_WINDOW => newline,
            _ if end + MAX_LINE_WINDOW >= data.len() => data.len(),
            _ => extend_forward(data, end + MAX_LINE_WINDOW),
        };
        Line {
            end,
            newline_before,
            newline_after,
        }
    }

    /// Where the window of a hit starting at `start` starts.
    fn start_for(&self, start: usize) -> usize {
        match self.newline_before {
            Some(newline) if newline + MAX_LINE_WINDOW >= start => newline + 1,
            None if start <= MAX_LINE_WINDOW => 0,
            _ => start.saturating_sub(CLIP_REACH),
        }
    }

    /// Where the window of a hit ending at `end` ends, and whether that clips the line.
    fn end_for(&self, len: usize, end: usize) -> (usize, bool) {
        match self.newline_after {
            Some(newline) if newline < end + MAX_LINE_WINDOW => (newline, false),
            _ if end + MAX_LINE_WINDOW >= len => (len, false),
            _ => ((end + CLIP_REACH).min(len), true),
        }
    }
}

/// Moves a clipped window end forward to the end of the token it cut.
fn extend_forward(data: &[u8], mut at: usize) -> usize {
    let limit = (at + TOKEN_REACH).min(data.len());
    while at < limit && is_token_byte(data[at]) {
        at += 1;
    }
    at
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=' | b'.')
}

/// Cuts `found` (sorted by position) to at most `limit` matches, and when the scan stopped
/// early, to those before where it stopped; returns where the first match left out lies (or
/// where scanning stopped, if sooner) and why, when anything was left out.
pub(super) fn cut_at(
    found: &mut Vec<Match>,
    limit: usize,
    stopped: Option<(usize, Overflow)>,
) -> Option<(usize, Overflow)> {
    let before = match stopped {
        None if found.len() <= limit => return None,
        None => found.len(),
        Some((to, _)) => found.partition_point(|m| m.at < to),
    };
    let (keep, why) = match stopped {
        Some((_, why)) if before <= limit => (before, why),
        _ => (limit, Overflow::Findings),
    };
    let cut = found
        .get(keep)
        .map(|m| m.at)
        .into_iter()
        .chain(stopped.map(|(to, _)| to))
        .min()?;
    found.truncate(keep);
    Some((cut, why))
}

/// The lines of a blob that carry an allow comment, found on first use, in one pass per marker:
/// looking up a match's line is then a binary search, not a walk over the line per match.
pub(super) struct AllowedLines<'a> {
    data: &'a [u8],
    /// Each allowed line's first byte and its end (the newline, or the end of the blob); sorted,
    /// and distinct lines never overlap.
    lines: OnceLock<Vec<(usize, usize)>>,
}

impl<'a> AllowedLines<'a> {
    pub(super) fn new(data: &'a [u8]) -> AllowedLines<'a> {
        AllowedLines {
            data,
            lines: OnceLock::new(),
        }
    }

    /// Whether the line holding byte `at` carries an allow comment. A newline belongs to the
    /// line it ends.
    pub(super) fn contains(&self, at: usize) -> bool {
        let lines = self.lines.get_or_init(|| allowed_lines(self.data));
        let i = lines.partition_point(|&(_, end)| end < at);
        lines.get(i).is_some_and(|&(start, _)| start <= at)
    }
}

/// The lines (start, end) holding an allow comment, in order.
pub(super) fn allowed_lines(data: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    for marker in ALLOW_MARKERS {
        let finder = memchr::memmem::Finder::new(marker);
        let mut from = 0;
        while let Some(i) = finder.find(&data[from..]) {
            let hit = from + i;
            let start = memchr::memrchr(b'\n', &data[from..hit]).map_or(from, |i| from + i + 1);
            let end = memchr::memchr(b'\n', &data[hit..]).map_or(data.len(), |i| hit + i);
            lines.push((start, end));
            // One marker is enough for a line: the search goes on from the next one.
            from = end + 1;
            if from >= data.len() {
                break;
            }
        }
    }
    lines.sort_unstable();
    lines.dedup();
    lines
}
