//! The keyword search: where a blob holds a rule's keyword, and every keyword on a line.
//!
//! It is most of a scan's time, since it reads every byte, so two things keep it fast:
//! - **A small alphabet.** Keywords match ASCII-case-insensitively, and each byte that occurs in
//!   some keyword (case folded) is one symbol; every other byte is symbol 0. The automaton is
//!   built over those symbols, so its states have one column per symbol (~55) rather than one per
//!   case and per gap between used bytes (~110): rows half as long keep the states a search
//!   visits in the CPU's cache.
//! - **Streams in lockstep.** Each step of an automaton waits for the load of the step before.
//!   A stretch of input is cut into `STREAMS` segments searched side by side, each started
//!   `longest - 1` bytes early so that no keyword across a cut is missed: the loads of the
//!   streams overlap, and the search reads about twice as many bytes per second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{dfa, Anchored, BuildError, MatchKind, StartKind};

/// After this many bytes scanned, the DFA is built: it searches faster than the NFA but costs
/// more to build than a commit hook's few small files would ever repay.
const DFA_AFTER_BYTES: u64 = 1 << 20;
/// How many segments are searched side by side (`Segments::search` names each).
const STREAMS: usize = 4;
/// A stretch shorter than this many bytes per stream is searched in one stream.
const MIN_SEGMENT: usize = 256;

/// One keyword found: where it lies, and its pattern id (its index in the list given to `new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hit {
    pub start: usize,
    pub end: usize,
    pub pattern: usize,
}

/// The keywords, compiled: a quick-to-build NFA first, a DFA once enough input has been seen.
/// Both report the same pattern ids.
pub(super) struct Keywords {
    /// Each byte's symbol.
    symbols: [u8; 256],
    /// The keywords spelt in symbols, kept to build the DFA from.
    patterns: Vec<Vec<u8>>,
    /// The length of the longest keyword.
    pub longest: usize,
    nfa: contiguous::NFA,
    dfa: OnceLock<Option<dfa::DFA>>,
    scanned: AtomicU64,
}

impl Keywords {
    pub(super) fn new(keywords: &[String]) -> Result<Keywords, BuildError> {
        let symbols = alphabet(keywords);
        let patterns: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.bytes().map(|b| symbols[usize::from(b)]).collect())
            .collect();
        let nfa = contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&patterns)?;
        Ok(Keywords {
            symbols,
            longest: patterns.iter().map(Vec::len).max().unwrap_or(0),
            patterns,
            nfa,
            dfa: OnceLock::new(),
            scanned: AtomicU64::new(0),
        })
    }

    /// The search to use on `len` more bytes of input.
    pub(super) fn search(&self, len: usize) -> Search<'_> {
        let before = self.scanned.fetch_add(len as u64, Ordering::Relaxed);
        let dfa = if before + len as u64 <= DFA_AFTER_BYTES {
            None
        } else {
            self.dfa
                .get_or_init(|| {
                    dfa::Builder::new()
                        .match_kind(MatchKind::Standard)
                        .start_kind(StartKind::Unanchored)
                        .prefilter(false)
                        .build(&self.patterns)
                        .ok()
                })
                .as_ref()
        };
        Search {
            keywords: self,
            dfa,
        }
    }
}

/// The distinct keywords of `rules` (each a rule's index and its keywords), lowercased, in order
/// of first use, and for each the rules that declared it.
pub(super) fn distinct<'r>(
    rules: impl IntoIterator<Item = (usize, &'r [String])>,
) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut owners: Vec<Vec<usize>> = Vec::new();
    for (index, keywords) in rules {
        for keyword in keywords {
            let next = ids.len();
            let id = *ids.entry(keyword.to_ascii_lowercase()).or_insert(next);
            if id == owners.len() {
                owners.push(Vec::new());
            }
            if owners[id].last() != Some(&index) {
                owners[id].push(index);
            }
        }
    }
    let mut patterns = vec![String::new(); ids.len()];
    for (keyword, id) in ids {
        patterns[id] = keyword;
    }
    (patterns, owners)
}

/// Each byte's symbol: 1, 2, … for the bytes keywords hold (either case of a letter alike), 0 for
/// the others. Case folded, at most 230 distinct bytes exist, so every one has a symbol.
fn alphabet(keywords: &[String]) -> [u8; 256] {
    let mut used = [false; 256];
    for b in keywords.iter().flat_map(|k| k.bytes()) {
        used[usize::from(b.to_ascii_lowercase())] = true;
    }
    let mut symbols = [0u8; 256];
    let mut next = 0u8;
    for b in 0..=255u8 {
        if used[usize::from(b)] {
            next += 1;
            symbols[usize::from(b)] = next;
        }
    }
    for b in b'A'..=b'Z' {
        symbols[usize::from(b)] = symbols[usize::from(b.to_ascii_lowercase())];
    }
    symbols
}

/// A search with the automaton chosen for one input.
#[derive(Clone, Copy)]
pub(super) struct Search<'k> {
    keywords: &'k Keywords,
    dfa: Option<&'k dfa::DFA>,
}

impl Search<'_> {
    /// Every keyword ending in `lo+1..=to` and starting at or after `from`, overlapping ones
    /// included, in order of their ends (those ending together in no set order), appended to
    /// `out`. `lo - from` must be at least the longest keyword less one, unless no keyword
    /// before `from` is wanted: the search starts there.
    pub(super) fn every(&self, data: &[u8], from: usize, lo: usize, to: usize, out: &mut Vec<Hit>) {
        let segments = Segments::new(from, lo, to, self.keywords.longest);
        let symbols = &self.keywords.symbols;
        match self.dfa {
            Some(dfa) => segments.search(dfa, symbols, data, out),
            None => segments.search(&self.keywords.nfa, symbols, data, out),
        }
    }
}

/// A stretch of input cut for the streams: stream `k` runs from `starts[k]` to `ends[k]` and
/// reports the keywords ending past `los[k]`.
struct Segments {
    starts: [usize; STREAMS],
    los: [usize; STREAMS],
    ends: [usize; STREAMS],
    /// How many streams there are: 1 on a short stretch.
    count: usize,
}

impl Segments {
    fn new(from: usize, lo: usize, to: usize, longest: usize) -> Segments {
        let mut segments = Segments {
            starts: [from; STREAMS],
            los: [lo; STREAMS],
            ends: [to; STREAMS],
            count: 1,
        };
        let len = to.saturating_sub(lo);
        let each = len / STREAMS;
        if each < MIN_SEGMENT.max(2 * longest) {
            return segments;
        }
        segments.count = STREAMS;
        for k in 1..STREAMS {
            let cut = lo + k * each;
            segments.ends[k - 1] = cut;
            segments.los[k] = cut;
            segments.starts[k] = cut - longest.saturating_sub(1);
        }
        segments
    }

    fn search<A: Automaton>(&self, aut: &A, symbols: &[u8; 256], data: &[u8], out: &mut Vec<Hit>) {
        let Ok(start) = aut.start_state(Anchored::No) else {
            return;
        };
        if self.count == 1 {
            let mut sid = start;
            self.finish(aut, symbols, data, 0, self.starts[0], &mut sid, out);
            return;
        }
        // Every stream takes `steps` steps side by side, then each finishes on its own. Hits
        // wait in a buffer per stream, so that they come out in order.
        let steps = (0..STREAMS)
            .map(|k| self.ends[k] - self.starts[k])
            .min()
            .unwrap_or(0);
        let mut sids = [start; STREAMS];
        let mut later: [Vec<Hit>; STREAMS] = Default::default();
        let [s0, s1, s2, s3] = self.starts;
        let lanes = data[s0..s0 + steps]
            .iter()
            .zip(&data[s1..s1 + steps])
            .zip(&data[s2..s2 + steps])
            .zip(&data[s3..s3 + steps]);
        for (i, (((&b0, &b1), &b2), &b3)) in lanes.enumerate() {
            for (k, b) in [b0, b1, b2, b3].into_iter().enumerate() {
                let sid = aut.next_state(Anchored::No, sids[k], symbols[usize::from(b)]);
                sids[k] = sid;
                if aut.is_special(sid) {
                    let buffer = if k == 0 { &mut *out } else { &mut later[k] };
                    self.report(aut, sid, k, self.starts[k] + i + 1, buffer);
                }
            }
        }
        for k in 0..STREAMS {
            let from = self.starts[k] + steps;
            if k == 0 {
                self.finish(aut, symbols, data, k, from, &mut sids[k], out);
            } else {
                let mut hits = std::mem::take(&mut later[k]);
                self.finish(aut, symbols, data, k, from, &mut sids[k], &mut hits);
                out.append(&mut hits);
            }
        }
    }

    /// Runs stream `k` on its own from `from` to its end.
    #[allow(clippy::too_many_arguments)]
    fn finish<A: Automaton>(
        &self,
        aut: &A,
        symbols: &[u8; 256],
        data: &[u8],
        k: usize,
        from: usize,
        sid: &mut StateId,
        out: &mut Vec<Hit>,
    ) {
        for (at, &b) in (from + 1..).zip(&data[from..self.ends[k]]) {
            *sid = aut.next_state(Anchored::No, *sid, symbols[usize::from(b)]);
            if aut.is_special(*sid) {
                self.report(aut, *sid, k, at, out);
            }
        }
    }

    /// Reports the keywords of special state `sid` ending at `end`, if it is a match state and
    /// stream `k` reports there. (The loops test only for a special state, one compare: with no
    /// prefilter, the only special states a search reaches are match states.)
    fn report<A: Automaton>(
        &self,
        aut: &A,
        sid: StateId,
        k: usize,
        end: usize,
        out: &mut Vec<Hit>,
    ) {
        if end <= self.los[k] || !aut.is_match(sid) {
            return;
        }
        for i in 0..aut.match_len(sid) {
            let pattern = aut.match_pattern(sid, i);
            out.push(Hit {
                start: end - aut.pattern_len(pattern),
                end,
                pattern: pattern.as_usize(),
            });
        }
    }
}

type StateId = aho_corasick::automaton::StateID;

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(list: &[&str]) -> Keywords {
        let list: Vec<String> = list.iter().map(|k| k.to_string()).collect();
        Keywords::new(&list).expect("keywords")
    }

    /// Every keyword, the slow way: (start, end, pattern), case folded, by end then pattern.
    fn naive(list: &[&str], data: &[u8], from: usize, lo: usize, to: usize) -> Vec<Hit> {
        let text = data.to_ascii_lowercase();
        let mut hits = Vec::new();
        for end in lo + 1..=to {
            for (pattern, k) in list.iter().enumerate() {
                if end >= from + k.len() && text[..end].ends_with(k.as_bytes()) {
                    let start = end - k.len();
                    hits.push(Hit {
                        start,
                        end,
                        pattern,
                    });
                }
            }
        }
        hits
    }

    fn sorted(mut hits: Vec<Hit>) -> Vec<Hit> {
        hits.sort_by_key(|h| (h.end, h.pattern));
        hits
    }

    fn both(k: &Keywords) -> [Search<'_>; 2] {
        let nfa = Search {
            keywords: k,
            dfa: None,
        };
        let dfa = k.search(usize::MAX);
        assert!(dfa.dfa.is_some());
        [nfa, dfa]
    }

    #[test]
    fn streams_find_every_keyword_across_their_cuts() {
        let list = ["password", "ghp_", "pat", "key", "secret_key"];
        let k = keywords(&list);
        // Keywords at every offset, so that some lie across each cut between streams.
        let mut data = Vec::new();
        for i in 0..400 {
            data.extend_from_slice(b"x".repeat(i % 11).as_slice());
            data.extend_from_slice(list[i % list.len()].as_bytes());
            if i % 3 == 0 {
                data.extend_from_slice(b"SECRET_KEY");
            }
        }
        for search in both(&k) {
            for (from, lo, to) in [(0, 0, data.len()), (5, 14, data.len() - 3), (0, 0, 40)] {
                let mut out = Vec::new();
                search.every(&data, from, lo, to, &mut out);
                assert!(out.windows(2).all(|w| w[0].end <= w[1].end));
                let expected = naive(&list, &data, from, lo, to);
                assert_eq!(sorted(out), expected, "{from} {lo} {to}");
            }
        }
    }

    #[test]
    fn keywords_ending_together_are_all_given() {
        let k = keywords(&["secret_key", "key"]);
        for search in both(&k) {
            let mut out = Vec::new();
            search.every(b"my_secret_key", 0, 0, 13, &mut out);
            let found: Vec<(usize, usize)> =
                sorted(out).iter().map(|h| (h.start, h.pattern)).collect();
            assert_eq!(found, [(3, 0), (10, 1)]);
            // A search from after the longer one's start sees only the shorter.
            let mut out = Vec::new();
            search.every(b"my_secret_key", 5, 5, 13, &mut out);
            assert_eq!(out.iter().map(|h| h.pattern).collect::<Vec<_>>(), [1]);
        }
    }

    #[test]
    fn bytes_in_no_keyword_never_match_and_case_is_ignored() {
        let k = keywords(&["a-b"]);
        for search in both(&k) {
            let mut out = Vec::new();
            search.every(b"a\xffb a_b A-B a-b", 0, 0, 15, &mut out);
            let starts: Vec<usize> = out.iter().map(|h| h.start).collect();
            assert_eq!(starts, [8, 12]);
        }
    }
}
