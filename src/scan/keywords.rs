//! The keyword search: where a blob holds a rule's keyword, and every keyword on a line.
//!
//! It is most of a scan's time, since it reads every byte, so three things keep it fast:
//! - **A small alphabet.** Keywords match ASCII-case-insensitively, and each byte that occurs in
//!   some keyword (case folded) is one symbol; every other byte is symbol 0. The automaton's
//!   states have one column per symbol (~55, in rows of 64) rather than one per byte.
//! - **A dense table of `u16` states.** The keywords are one Aho-Corasick automaton with every
//!   transition resolved when it is built (no failure links to follow while searching): a step is
//!   one load from a table of 2-byte cells, ~0.7 MB for the built-in rules, of which the states a
//!   search visits most fit the CPU's first caches. Match states are numbered last, so "is this a
//!   match" is one compare. It builds in well under a millisecond, so even a commit hook's few
//!   small files use it.
//! - **Streams in lockstep.** Each step of an automaton waits for the load of the step before.
//!   A stretch of input is cut into `STREAMS` segments searched side by side, each started
//!   `longest - 1` bytes early so that no keyword across a cut is missed: the loads of the
//!   streams overlap, and the search reads about twice as many bytes per second.

use std::collections::HashMap;

/// How many segments are searched side by side (`Segments::search` names each).
const STREAMS: usize = 4;
/// A stretch shorter than this many bytes per stream is searched in one stream.
const MIN_SEGMENT: usize = 256;
/// The most states a `u16` numbers: about ten times what the built-in keywords make.
const MAX_STATES: usize = 1 << 16;

/// One keyword found: where it lies, and its pattern id (its index in the list given to `new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hit {
    pub start: usize,
    pub end: usize,
    pub pattern: usize,
}

/// Keywords that make more automaton states than a `u16` numbers.
#[derive(Debug, thiserror::Error)]
#[error("{keywords} keywords make more than {MAX_STATES} automaton states; use fewer or shorter keywords")]
pub(super) struct TooManyKeywords {
    keywords: usize,
}

/// The keywords, compiled: an Aho-Corasick automaton over the keywords' symbols, with every
/// transition resolved into a table.
pub(super) struct Keywords {
    /// Each byte's symbol.
    symbols: [u8; 256],
    /// The length of the longest keyword.
    pub longest: usize,
    /// A state has `1 << shift` columns, at least one per symbol.
    shift: u32,
    /// State `q` on symbol `y` goes to `table[(q << shift) + y]`. State 0 is the start: the
    /// root comes first in breadth-first order, and is a match state only if every state is
    /// one (an empty keyword, which every node inherits).
    table: Vec<u16>,
    /// States from this one on are match states.
    first_match: u16,
    /// Match state `first_match + i` ends the patterns `matches[bounds[i]..bounds[i + 1]]`.
    bounds: Vec<u32>,
    /// A pattern id and its length.
    matches: Vec<(u32, u32)>,
}

impl Keywords {
    /// Compiles `keywords`. (Rules' keywords have at least 3 bytes; an empty one would match
    /// at every position.)
    pub(super) fn new(keywords: &[String]) -> Result<Keywords, TooManyKeywords> {
        let symbols = alphabet(keywords);
        let columns = symbols
            .iter()
            .map(|&s| usize::from(s) + 1)
            .max()
            .unwrap_or(1);
        let trie = Trie::new(keywords, &symbols, columns);
        if trie.ends.len() > MAX_STATES {
            return Err(TooManyKeywords {
                keywords: keywords.len(),
            });
        }
        let longest = keywords.iter().map(String::len).max().unwrap_or(0);
        Ok(trie.resolve(symbols, columns, longest))
    }

    /// Every keyword ending in `lo+1..=to` and starting at or after `from`, overlapping ones
    /// included, in order of their ends (those ending together in no set order), appended to
    /// `out`. `lo - from` must be at least the longest keyword less one, unless no keyword
    /// before `from` is wanted: the search starts there.
    pub(super) fn every(&self, data: &[u8], from: usize, lo: usize, to: usize, out: &mut Vec<Hit>) {
        Segments::new(from, lo, to, self.longest).search(self, data, out);
    }

    #[inline(always)]
    fn step(&self, state: u16, symbol: u8) -> u16 {
        self.table[(usize::from(state) << self.shift) + usize::from(symbol)]
    }

    #[inline(always)]
    fn is_match(&self, state: u16) -> bool {
        state >= self.first_match
    }

    /// Each keyword ending at match state `state`: its pattern id and its length.
    fn matches(&self, state: u16) -> &[(u32, u32)] {
        let i = usize::from(state - self.first_match);
        &self.matches[self.bounds[i] as usize..self.bounds[i + 1] as usize]
    }
}

/// The keywords' trie: node 0 is the root, node `n`'s children are `children[n * columns..]`
/// (0 for none: the root is nobody's child), and each node lists the patterns it ends, with
/// their lengths.
struct Trie {
    children: Vec<u32>,
    ends: Vec<Vec<(u32, u32)>>,
}

impl Trie {
    fn new(keywords: &[String], symbols: &[u8; 256], columns: usize) -> Trie {
        let mut trie = Trie {
            children: vec![0; columns],
            ends: vec![Vec::new()],
        };
        for (pattern, keyword) in (0u32..).zip(keywords) {
            let mut node = 0;
            for b in keyword.bytes() {
                let cell = node * columns + usize::from(symbols[usize::from(b)]);
                if trie.children[cell] == 0 {
                    trie.children[cell] = trie.ends.len() as u32;
                    trie.children.resize(trie.children.len() + columns, 0);
                    trie.ends.push(Vec::new());
                }
                node = trie.children[cell] as usize;
            }
            trie.ends[node].push((pattern, keyword.len() as u32));
        }
        trie
    }

    /// The automaton, at most `MAX_STATES` nodes. Breadth first, each node's failure node (that
    /// of its longest proper suffix in the trie, already resolved) gives the transitions the
    /// node lacks and the matches it inherits. Then numbered again, match states last.
    fn resolve(self, symbols: [u8; 256], columns: usize, longest: usize) -> Keywords {
        let Trie {
            children: mut delta,
            mut ends,
        } = self;
        let nodes = ends.len();
        let mut fail = vec![0usize; nodes];
        let mut order = Vec::with_capacity(nodes);
        order.push(0);
        let mut i = 0;
        while let Some(&node) = order.get(i) {
            i += 1;
            for symbol in 0..columns {
                let cell = node * columns + symbol;
                let child = delta[cell] as usize;
                // The root's missing transitions stay on the root, and its children fail to it.
                let via_fail = if node == 0 {
                    0
                } else {
                    delta[fail[node] * columns + symbol]
                };
                if child == 0 {
                    delta[cell] = via_fail;
                } else {
                    fail[child] = via_fail as usize;
                    let inherited = ends[fail[child]].clone();
                    ends[child].extend(inherited);
                    order.push(child);
                }
            }
        }
        // Renumbered: breadth-first order keeps the states a search visits most together.
        let (mut by_number, matching): (Vec<usize>, Vec<usize>) =
            order.into_iter().partition(|&n| ends[n].is_empty());
        let first_match = by_number.len() as u16;
        by_number.extend(matching);
        let mut number = vec![0u16; nodes];
        for (n, &node) in (0u16..).zip(&by_number) {
            number[node] = n;
        }
        let shift = columns.next_power_of_two().trailing_zeros();
        let mut table = vec![0u16; nodes << shift];
        for (row, &node) in table.chunks_mut(1 << shift).zip(&by_number) {
            for (cell, &to) in row
                .iter_mut()
                .zip(&delta[node * columns..(node + 1) * columns])
            {
                *cell = number[to as usize];
            }
        }
        let mut bounds = vec![0];
        let mut matches = Vec::new();
        for &node in &by_number[usize::from(first_match)..] {
            matches.extend_from_slice(&ends[node]);
            bounds.push(matches.len() as u32);
        }
        Keywords {
            symbols,
            longest,
            shift,
            table,
            first_match,
            bounds,
            matches,
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

    fn search(&self, aut: &Keywords, data: &[u8], out: &mut Vec<Hit>) {
        if self.count == 1 {
            self.finish(aut, data, 0, self.starts[0], &mut 0, out);
            return;
        }
        // Every stream takes `steps` steps side by side, then each finishes on its own. Hits
        // wait in a buffer per stream, so that they come out in order.
        let steps = (0..STREAMS)
            .map(|k| self.ends[k] - self.starts[k])
            .min()
            .unwrap_or(0);
        let mut later: [Vec<Hit>; STREAMS] = Default::default();
        let [s0, s1, s2, s3] = self.starts;
        let lanes = data[s0..s0 + steps]
            .iter()
            .zip(&data[s1..s1 + steps])
            .zip(&data[s2..s2 + steps])
            .zip(&data[s3..s3 + steps]);
        // The states live in locals, and one test per step of all four asks for a match, so
        // that the loop keeps everything in registers.
        let symbols = &aut.symbols;
        let [mut q0, mut q1, mut q2, mut q3] = [0u16; STREAMS];
        for (i, (((&b0, &b1), &b2), &b3)) in lanes.enumerate() {
            q0 = aut.step(q0, symbols[usize::from(b0)]);
            q1 = aut.step(q1, symbols[usize::from(b1)]);
            q2 = aut.step(q2, symbols[usize::from(b2)]);
            q3 = aut.step(q3, symbols[usize::from(b3)]);
            if aut.is_match(q0.max(q1).max(q2.max(q3))) {
                self.report_streams(aut, [q0, q1, q2, q3], i, out, &mut later);
            }
        }
        let mut states = [q0, q1, q2, q3];
        for k in 0..STREAMS {
            let from = self.starts[k] + steps;
            if k == 0 {
                self.finish(aut, data, k, from, &mut states[k], out);
            } else {
                let mut hits = std::mem::take(&mut later[k]);
                self.finish(aut, data, k, from, &mut states[k], &mut hits);
                out.append(&mut hits);
            }
        }
    }

    /// Reports the keywords of the streams' states after step `i` side by side: stream 0's
    /// into `out`, the others' into their buffers.
    fn report_streams(
        &self,
        aut: &Keywords,
        states: [u16; STREAMS],
        i: usize,
        out: &mut Vec<Hit>,
        later: &mut [Vec<Hit>; STREAMS],
    ) {
        for (k, state) in states.into_iter().enumerate() {
            if aut.is_match(state) {
                let buffer = if k == 0 { &mut *out } else { &mut later[k] };
                self.report(aut, state, k, self.starts[k] + i + 1, buffer);
            }
        }
    }

    /// Runs stream `k` on its own from `from` to its end, from state `state`.
    fn finish(
        &self,
        aut: &Keywords,
        data: &[u8],
        k: usize,
        from: usize,
        state: &mut u16,
        out: &mut Vec<Hit>,
    ) {
        for (at, &b) in (from + 1..).zip(&data[from..self.ends[k]]) {
            *state = aut.step(*state, aut.symbols[usize::from(b)]);
            if aut.is_match(*state) {
                self.report(aut, *state, k, at, out);
            }
        }
    }

    /// Reports the keywords of match state `state` ending at `end`, if stream `k` reports there.
    fn report(&self, aut: &Keywords, state: u16, k: usize, end: usize, out: &mut Vec<Hit>) {
        if end <= self.los[k] {
            return;
        }
        for &(pattern, len) in aut.matches(state) {
            out.push(Hit {
                start: end - len as usize,
                end,
                pattern: pattern as usize,
            });
        }
    }
}

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
        for (from, lo, to) in [(0, 0, data.len()), (5, 14, data.len() - 3), (0, 0, 40)] {
            let mut out = Vec::new();
            k.every(&data, from, lo, to, &mut out);
            assert!(out.windows(2).all(|w| w[0].end <= w[1].end));
            let expected = naive(&list, &data, from, lo, to);
            assert_eq!(sorted(out), expected, "{from} {lo} {to}");
        }
    }

    #[test]
    fn keywords_that_are_prefixes_suffixes_and_infixes_of_each_other_are_all_found() {
        // Keyword sets over a tiny alphabet overlap in every way (a keyword inside another, the
        // end of one the start of the next), so that every failure link and every inherited
        // match of the automaton is used; texts in both cases over a few more bytes.
        let mut state = 7u32;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as usize % n
        };
        for _ in 0..40 {
            let list: Vec<String> = (0..1 + next(12))
                .map(|_| (0..3 + next(4)).map(|_| ['a', 'b', '-'][next(3)]).collect())
                .collect();
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            let k = Keywords::new(&list).expect("keywords");
            let data: Vec<u8> = (0..600 + next(3000))
                .map(|_| b"abAB-x\xff"[next(7)])
                .collect();
            let mut out = Vec::new();
            k.every(&data, 0, 0, data.len(), &mut out);
            assert_eq!(
                sorted(out),
                naive(&refs, &data, 0, 0, data.len()),
                "{list:?}"
            );
        }
    }

    #[test]
    fn keywords_ending_together_are_all_given() {
        let k = keywords(&["secret_key", "key"]);
        let mut out = Vec::new();
        k.every(b"my_secret_key", 0, 0, 13, &mut out);
        let found: Vec<(usize, usize)> = sorted(out).iter().map(|h| (h.start, h.pattern)).collect();
        assert_eq!(found, [(3, 0), (10, 1)]);
        // A search from after the longer one's start sees only the shorter.
        let mut out = Vec::new();
        k.every(b"my_secret_key", 5, 5, 13, &mut out);
        assert_eq!(out.iter().map(|h| h.pattern).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn bytes_in_no_keyword_never_match_and_case_is_ignored() {
        let k = keywords(&["a-b"]);
        let mut out = Vec::new();
        k.every(b"a\xffb a_b A-B a-b", 0, 0, 15, &mut out);
        let starts: Vec<usize> = out.iter().map(|h| h.start).collect();
        assert_eq!(starts, [8, 12]);
    }

    #[test]
    fn an_empty_keyword_matches_at_every_position_and_the_others_still_match() {
        // The rules never give one (keywords have 3 bytes or more), but then the start is a
        // match state, numbered with the others: it must still be state 0.
        let list = ["", "key", "ey"];
        let k = keywords(&list);
        let data = b"a key, a KEY and more text ".repeat(60);
        let mut out = Vec::new();
        k.every(&data, 0, 0, data.len(), &mut out);
        assert_eq!(sorted(out), naive(&list, &data, 0, 0, data.len()));
    }

    #[test]
    fn keywords_making_more_states_than_a_u16_numbers_are_refused() {
        // 70,000 distinct keywords of 6 letters share few prefixes: well over 65,536 states.
        let list: Vec<String> = (0..70_000u32)
            .map(|i| {
                (0..6)
                    .map(|d| char::from(b'a' + ((i >> (3 * d)) % 8) as u8 + 8 * (d % 2) as u8))
                    .collect()
            })
            .collect();
        let error = Keywords::new(&list).err().expect("too many states");
        assert!(
            error
                .to_string()
                .contains("70000 keywords make more than 65536"),
            "{error}"
        );
        // The built-in keywords are far below the limit.
        assert!(Keywords::new(&list[..1000]).is_ok());
    }
}
