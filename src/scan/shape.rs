//! What a rule's regex says about where its matches can lie relative to its keywords, so that a
//! rule reads only the bytes near its own keyword hits: the longest match (if bounded), and how
//! far before a keyword every match starts (its lead). Also compiles the regex for confirmation.

use regex_automata::meta::{self, Regex};
use regex_automata::MatchKind;
use regex_syntax::hir::{Class, Hir, HirKind};

/// What is known of a rule's matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// The longest match, if bounded.
    pub max_len: Option<usize>,
    /// Every match holds one of the rule's keywords starting at most this many bytes after the
    /// match's start; `None` when that cannot be told from the regex.
    pub lead: Option<usize>,
}

impl Shape {
    /// The shape of `pattern` with `keywords` (unknown if the pattern does not parse).
    pub fn of(pattern: &str, keywords: &[String]) -> Shape {
        let Ok(hir) = syntax().build().parse(pattern) else {
            return Shape::default();
        };
        let keywords: Vec<Vec<u8>> = keywords
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| k.to_ascii_lowercase().into_bytes())
            .collect();
        Shape {
            max_len: hir.properties().maximum_len(),
            lead: lead(&hir, &[], &keywords),
        }
    }
}

/// The parser settings of `rules::compile` (bytes, no Unicode classes).
fn syntax() -> regex_syntax::ParserBuilder {
    let mut builder = regex_syntax::ParserBuilder::new();
    builder.unicode(false).utf8(false);
    builder
}

/// `pattern` compiled as `rules::compile` compiles it (the same engine and settings that
/// `regex::bytes::Regex` uses), for searches the `regex` crate does not offer: anchored at a
/// position, within a span whose edges `\b` and `^` judge by the bytes outside it.
pub fn compile(pattern: &str) -> Option<Regex> {
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(MatchKind::LeftmostFirst)
                .utf8_empty(false)
                .nfa_size_limit(Some(10 * (1 << 20)))
                .hybrid_cache_capacity(2 * (1 << 20)),
        )
        .syntax(
            // `^` and `$` are line anchors (`\r\n` too): the scanner searches a line's window
            // within the whole blob, so input anchors would hold only on its first and last
            // line, and `KEY=token` at the end of any other line would be missed.
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false)
                .multi_line(true)
                .crlf(true),
        )
        .build(pattern)
        .ok()
}

/// How far after a match's start a keyword begins, at most, in every match of `hir` preceded
/// by `run` (bytes known up to ASCII case, which count from the start).
fn lead(hir: &Hir, run: &[u8], keywords: &[Vec<u8>]) -> Option<usize> {
    match hir.kind() {
        HirKind::Concat(parts) => lead_in(parts, run, keywords),
        HirKind::Capture(capture) => lead(&capture.sub, run, keywords),
        HirKind::Repetition(repeat) if repeat.min >= 1 => lead(&repeat.sub, run, keywords),
        HirKind::Alternation(branches) => branches.iter().try_fold(0, |most, branch| {
            Some(most.max(lead(branch, run, keywords)?))
        }),
        _ => match fixed(hir) {
            Some(bytes) => find_keyword(&[run, &bytes].concat(), keywords),
            None => find_keyword(run, keywords),
        },
    }
}

/// `lead` of a sequence. Consecutive parts that each match one known byte (up to ASCII case,
/// as `(?i)` letters do) form a run, searched for a keyword; any other part either holds a
/// keyword in every match (with the run before it: alternations are factored, as in
/// `a(?:ws|mazon)`) or moves the offset on by its longest match.
fn lead_in(parts: &[Hir], run: &[u8], keywords: &[Vec<u8>]) -> Option<usize> {
    let mut offset = 0;
    let mut run = run.to_vec();
    for part in parts {
        if let Some(bytes) = fixed(part) {
            run.extend(bytes);
            continue;
        }
        if let Some(at) = lead(part, &run, keywords) {
            return Some(offset + at);
        }
        offset += run.len() + part.properties().maximum_len()?;
        run.clear();
    }
    find_keyword(&run, keywords).map(|at| offset + at)
}

/// The bytes `hir` always matches, lower-cased, if it is a literal or a one-letter class such
/// as `[Pp]`.
fn fixed(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(literal.0.to_ascii_lowercase()),
        HirKind::Class(Class::Bytes(class)) => {
            let mut bytes = class.ranges().iter().flat_map(|r| r.start()..=r.end());
            one_letter(&mut bytes)
        }
        HirKind::Class(Class::Unicode(class)) => {
            let mut bytes = class
                .ranges()
                .iter()
                .flat_map(|r| r.start()..=r.end())
                .map(|c| u8::try_from(c).unwrap_or(0x80));
            one_letter(&mut bytes)
        }
        _ => None,
    }
}

/// The one byte (up to ASCII case) that `bytes` holds, if there is one; at most three are read.
fn one_letter(bytes: &mut dyn Iterator<Item = u8>) -> Option<Vec<u8>> {
    let first = bytes.next()?.to_ascii_lowercase();
    let same = bytes
        .take(2)
        .all(|b| b.is_ascii() && b.to_ascii_lowercase() == first);
    (first.is_ascii() && same).then(|| vec![first])
}

/// Where the first keyword begins in `run` (lower-cased), if any does.
fn find_keyword(run: &[u8], keywords: &[Vec<u8>]) -> Option<usize> {
    keywords
        .iter()
        .filter_map(|k| memchr::memmem::find(run, k))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead_of(pattern: &str, keywords: &[&str]) -> Option<usize> {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        Shape::of(pattern, &keywords).lead
    }

    #[test]
    fn a_keyword_at_or_near_the_start_gives_a_lead() {
        assert_eq!(lead_of(r"\b(ghp_[A-Za-z0-9]{36})\b", &["ghp_"]), Some(0));
        assert_eq!(
            lead_of(
                r"-----BEGIN RSA PRIVATE KEY-----[\s\S]*?-----END",
                &["begin rsa private key"]
            ),
            Some(5)
        );
        // One byte that is not ':', an optional ':', then the keyword, in either case.
        assert_eq!(
            lead_of(
                r"(?:(?m:^)|[^:]):?(?i:password|\bpass|_pass)\s*=\s*(\S+)",
                &["pass"]
            ),
            Some(3)
        );
        // Alternatives with a common first letter are factored: a(?:ws|mazon).
        assert_eq!(
            lead_of(r"(?i:aws|amazon)_?key=(\w+)", &["aws", "amazon"]),
            Some(0)
        );
        assert_eq!(lead_of(r"x(?:aws|amazon)", &["aws", "amazon"]), Some(1));
    }

    #[test]
    fn a_keyword_that_may_be_absent_or_far_gives_none() {
        // A branch without the keyword.
        assert_eq!(lead_of(r"(?:token|bearer)=(\w+)", &["token"]), None);
        // Any amount of text before it.
        assert_eq!(lead_of(r"\bkey\s*=\s*password=(\w+)", &["password"]), None);
        // An optional keyword.
        assert_eq!(lead_of(r"(?:token)?=(\w+)", &["token"]), None);
        assert_eq!(Shape::of("(unclosed", &[]), Shape::default());
    }

    #[test]
    fn bounded_patterns_have_a_longest_match() {
        let shape = Shape::of(r"\b(AKIA[A-Z0-9]{16})\b", &["akia".to_string()]);
        assert_eq!(shape.max_len, Some(20));
        assert_eq!(Shape::of(r"key=(\w+)", &[]).max_len, None);
    }
}
