//! The decoding layer: spans of a blob that look encoded (base64, base64url, hex, percent-encoding,
//! string escapes) are decoded, and what decodes to text is scanned again with the same rules, to
//! a depth of two (a base64 `.dockerconfigjson` holding a base64 `auth`). Finding the spans is one
//! linear pass per encoding with no allocation; only spans past a minimum length are decoded, and
//! the bytes decoded per blob are bounded, so the layer costs a fraction of the scan itself.

use std::ops::Range;

use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use base64::Engine as _;

/// How a span was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    Base64Url,
    Hex,
    Percent,
    /// JSON/JavaScript string escapes: `\n`, `\"`, `\\`, `\/`, `\uXXXX`, `\xXX`.
    Escapes,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
            Encoding::Hex => "hex",
            Encoding::Percent => "percent",
            Encoding::Escapes => "escapes",
        }
    }
}

/// A span of a blob and the text it decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub span: Range<usize>,
    pub encoding: Encoding,
    pub text: Vec<u8>,
}

/// Shortest base64 or hex span decoded: 16 base64 characters are 12 bytes, shorter than any
/// token a rule recognises without context (and a bare value decoded loses its context).
const MIN_BASE64: usize = 16;
const MIN_HEX: usize = 32;
/// Shortest percent-encoded or escaped span decoded, and how many escapes it must hold. One
/// is enough: a token glued to the escape before it (`token%3Dghp_…`) has no word boundary as
/// written, so decoding is the only way it is found.
const MIN_ESCAPED: usize = 16;
const MIN_PERCENT_ESCAPES: usize = 1;
/// Decoded text kept per blob and level: past it, further spans are not decoded. Generous for
/// real files (a Kubernetes manifest decodes to a few KiB), a ceiling for hostile ones.
pub const MAX_DECODED: usize = 1 << 20;
/// Share of decoded bytes that must be text (printable ASCII, whitespace or UTF-8) for a span
/// to be scanned: random bytes (a hash, an image, a key's DER) are not text, and are skipped.
const MIN_TEXT_PERCENT: usize = 95;

/// Every span of `data` that decodes to text, in order of position, at most `MAX_DECODED`
/// bytes of it in all.
pub fn spans(data: &[u8]) -> Vec<Decoded> {
    let mut out = Vec::new();
    let mut budget = MAX_DECODED;
    let mut keep = |span: Range<usize>, encoding: Encoding, text: Option<Vec<u8>>| {
        if let Some(text) = text.filter(|t| is_text(t) && t.len() <= budget) {
            budget -= text.len();
            out.push(Decoded {
                span,
                encoding,
                text,
            });
        }
        budget > 0
    };
    for (span, encoding) in encoded_runs(data) {
        let text = match encoding {
            Encoding::Hex => unhex(&data[span.clone()]),
            _ => unbase64(&data[span.clone()], encoding),
        };
        if !keep(span, encoding, text) {
            break;
        }
    }
    for span in percent_runs(data) {
        if !keep(
            span.clone(),
            Encoding::Percent,
            Some(unpercent(&data[span])),
        ) {
            break;
        }
    }
    for span in escaped_strings(data) {
        if !keep(span.clone(), Encoding::Escapes, unescape(&data[span])) {
            break;
        }
    }
    out.sort_by_key(|d| d.span.start);
    out
}

/// Whether `bytes` read as text: valid UTF-8 nearly all printable or whitespace.
fn is_text(bytes: &[u8]) -> bool {
    // Most decoded text is ASCII: then a byte is a character, and no UTF-8 check is needed.
    if bytes.is_ascii() {
        let control = bytes
            .iter()
            .filter(|&&b| b.is_ascii_control() && !matches!(b, b'\n' | b'\r' | b'\t'))
            .count();
        return !bytes.is_empty()
            && (bytes.len() - control) * 100 >= bytes.len() * MIN_TEXT_PERCENT;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let printable = text
        .chars()
        .filter(|&c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    !text.is_empty() && printable * 100 >= text.chars().count() * MIN_TEXT_PERCENT
}

/// Byte classes of the encoded-run finder, as bits of [`CLASS`].
const DIGIT: u8 = 1;
const UPPER: u8 = 2;
const LOWER: u8 = 4;
/// `+` and `/`: standard base64 only.
const STANDARD: u8 = 8;
/// `-` and `_`: base64url only.
const URL_SAFE: u8 = 16;
/// Not a hex digit (a letter past `f`, or a base64 symbol).
const NOT_HEX: u8 = 32;

/// The class bits of every byte; zero for a byte outside both base64 alphabets.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b'0'..=b'9' => DIGIT,
            b'A'..=b'F' => UPPER,
            b'G'..=b'Z' => UPPER | NOT_HEX,
            b'a'..=b'f' => LOWER,
            b'g'..=b'z' => LOWER | NOT_HEX,
            b'+' | b'/' => STANDARD | NOT_HEX,
            b'-' | b'_' => URL_SAFE | NOT_HEX,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// The runs of `data` that may be base64, base64url or hex, in one pass over it: maximal runs of
/// the base64 alphabets (with their `=` padding) of at least `MIN_BASE64` bytes, hex when they
/// are all hex digits of even length at least `MIN_HEX`. A run mixing the two base64 alphabets,
/// or of one letter case and no digit (an identifier, a word), is neither.
fn encoded_runs(data: &[u8]) -> impl Iterator<Item = (Range<usize>, Encoding)> + '_ {
    let class = |b: u8| CLASS[usize::from(b)];
    // Every run still to be found starts at `at` or later, and the byte before `at` (if any) is
    // outside the alphabets.
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(start) = next_long_run(data, at) {
            at = start;
            let window = &data[at..at + MIN_BASE64];
            let mut seen = window.iter().fold(0, |seen, &b| seen | class(b));
            at += MIN_BASE64;
            while let Some(&b) = data.get(at) {
                if class(b) == 0 {
                    break;
                }
                seen |= class(b);
                at += 1;
            }
            let run_end = at;
            // The byte at `run_end` is outside the alphabets: the next run starts after it.
            at += 1;
            let len = run_end - start;
            let mixed = seen & DIGIT != 0 || seen & (UPPER | LOWER) == UPPER | LOWER;
            if !mixed || seen & (STANDARD | URL_SAFE) == STANDARD | URL_SAFE {
                continue;
            }
            if seen & NOT_HEX == 0 && seen & (UPPER | LOWER) != UPPER | LOWER {
                if len >= MIN_HEX && len % 2 == 0 && seen & DIGIT != 0 {
                    return Some((start..run_end, Encoding::Hex));
                }
                continue;
            }
            let mut end = run_end;
            while end < data.len() && end - run_end < 2 && data[end] == b'=' {
                end += 1;
            }
            if len % 4 == 1 {
                continue;
            }
            let encoding = match seen & URL_SAFE {
                0 => Encoding::Base64,
                _ => Encoding::Base64Url,
            };
            return Some((start..end, encoding));
        }
        None
    })
}

/// Where the first run of at least `MIN_BASE64` bytes of the base64 alphabets at or after `at`
/// starts, given that the byte before `at` (if any) is outside them. Text is looked at 64 bytes
/// at a time as a bit mask, with no branch per byte: most of it is short words between spaces
/// and punctuation, and a branch at every word's end is mispredicted at every word's end.
fn next_long_run(data: &[u8], mut at: usize) -> Option<usize> {
    const _: () = assert!(MIN_BASE64 == 16, "the shifts below find runs of 16");
    let mut low = alphabet_bits(data, at);
    while at + MIN_BASE64 <= data.len() {
        let high = alphabet_bits(data, at + 64);
        let bits = u128::from(low) | u128::from(high) << 64;
        // Bit i of `long` is set when bits i to i + 15 of `bits` all are.
        let mut long = bits & bits >> 1;
        long &= long >> 2;
        long &= long >> 4;
        long &= long >> 8;
        // Where such a run starts. Bit 0 counts as a start: the byte before `at` is outside, or
        // (past the first block) ends a run too short to have been found in the block before.
        let starts = (long & !(bits << 1)) as u64;
        if starts != 0 {
            return Some(at + starts.trailing_zeros() as usize);
        }
        at += 64;
        low = high;
    }
    None
}

/// Bit i is set when `data[from + i]` is in a base64 alphabet; bytes past the end are not.
fn alphabet_bits(data: &[u8], from: usize) -> u64 {
    let rest = data.get(from..).unwrap_or_default();
    match rest.first_chunk::<64>() {
        Some(block) => block_bits(block),
        None => {
            let mut block = [0u8; 64];
            block[..rest.len()].copy_from_slice(rest);
            block_bits(&block)
        }
    }
}

/// `alphabet_bits` of one block, written so that the compiler turns the tests into vector
/// compares: a flag byte per byte, then each 8 flags packed into a byte by one multiplication
/// (flag i of a word lands on bit 56 + i, and no two partial products meet).
fn block_bits(block: &[u8; 64]) -> u64 {
    let mut flags = [0u8; 64];
    for (flag, &b) in flags.iter_mut().zip(block) {
        *flag = u8::from(in_base64_alphabet(b));
    }
    (0..8).fold(0, |bits, k| {
        let word = u64::from_le_bytes(std::array::from_fn(|i| flags[8 * k + i]));
        bits | (word.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k)
    })
}

/// Whether `b` is in either base64 alphabet: `CLASS[b] != 0`, as compares rather than a lookup.
fn in_base64_alphabet(b: u8) -> bool {
    let folded = b | 0x20;
    b.is_ascii_digit()
        | folded.is_ascii_lowercase()
        | (b == b'+')
        | (b == b'/')
        | (b == b'-')
        | (b == b'_')
}

/// Decodes a base64 run; `None` unless it decodes, and its first bytes look like text (most
/// runs in source code are not base64, and this tells them apart without allocating).
fn unbase64(run: &[u8], encoding: Encoding) -> Option<Vec<u8>> {
    let engine = match encoding {
        Encoding::Base64Url => &URL_SAFE_PAD_INDIFFERENT,
        _ => &STANDARD_PAD_INDIFFERENT,
    };
    let mut head = [0u8; 12];
    let written = engine.decode_slice(&run[..16], &mut head).ok()?;
    let control = head[..written]
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t')) || b == 0x7f)
        .count();
    if control > 0 {
        return None;
    }
    engine.decode(run).ok()
}

/// Maximal runs of URL characters holding at least `MIN_PERCENT_ESCAPES` `%XX` escapes, found
/// from each `%` (rare in most text) rather than by walking every run.
fn percent_runs(data: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let url_byte = |b: u8| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`');
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(i) = memchr::memchr(b'%', &data[at..]) {
            let percent = at + i;
            let start = data[..percent]
                .iter()
                .rposition(|&b| !url_byte(b))
                .map_or(0, |n| n + 1);
            let end = data[percent..]
                .iter()
                .position(|&b| !url_byte(b))
                .map_or(data.len(), |n| percent + n);
            at = end.max(percent + 1);
            let text = &data[start..end];
            // Escapes are counted only as far as the minimum: the rest of a long run is not read.
            let enough_escapes = || {
                let escapes = text.windows(3).filter(|w| {
                    w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit()
                });
                escapes.take(MIN_PERCENT_ESCAPES).count() == MIN_PERCENT_ESCAPES
            };
            if text.len() >= MIN_ESCAPED && enough_escapes() {
                return Some(start..end);
            }
        }
        None
    })
}

/// The insides of quoted strings (`"…"` or `'…'`, on one line) that hold a backslash escape.
fn escaped_strings(data: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(i) = memchr::memchr(b'\\', &data[at..]) {
            let slash = at + i;
            let line_start = memchr::memrchr(b'\n', &data[..slash]).map_or(0, |n| n + 1);
            let line_end = memchr::memchr(b'\n', &data[slash..]).map_or(data.len(), |n| slash + n);
            at = line_end;
            // The string around the first escape of the line: from the quote before it to the
            // first unescaped quote of the same kind after it.
            let before = &data[line_start..slash];
            let Some(open) = before.iter().rposition(|&b| b == b'"' || b == b'\'') else {
                continue;
            };
            let quote = before[open];
            let start = line_start + open + 1;
            // The closing quote: the first not escaped, skipping from backslash to backslash.
            let mut j = start;
            let close = loop {
                match memchr::memchr2(quote, b'\\', data.get(j..line_end).unwrap_or_default()) {
                    Some(k) if data[j + k] == quote => break Some(j + k),
                    Some(k) => j += k + 2,
                    None => break None,
                }
            };
            if let Some(close) = close.filter(|&close| close - start >= MIN_ESCAPED) {
                at = close + 1;
                return Some(start..close);
            }
        }
        None
    })
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    text.chunks_exact(2)
        .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
        .collect()
}

fn unpercent(text: &[u8]) -> Vec<u8> {
    percent_encoding::percent_decode(text).collect()
}

/// Decodes JSON/JavaScript string escapes; `None` for an escape that is not one.
fn unescape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    let mut pending_high: Option<u32> = None;
    while i < text.len() {
        if text[i] != b'\\' {
            // Up to the next escape in one copy.
            let plain = memchr::memchr(b'\\', &text[i..]).unwrap_or(text.len() - i);
            out.extend_from_slice(&text[i..i + plain]);
            i += plain;
            continue;
        }
        let kind = *text.get(i + 1)?;
        let simple = match kind {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'"' | b'\'' | b'\\' | b'/' => Some(kind),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
            continue;
        }
        let digits = match kind {
            b'u' => 4,
            b'x' => 2,
            _ => return None,
        };
        let hex = text.get(i + 2..i + 2 + digits)?;
        let value = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        i += 2 + digits;
        let c = match (pending_high.take(), value) {
            (None, 0xd800..=0xdbff) => {
                pending_high = Some(value);
                continue;
            }
            (Some(high), 0xdc00..=0xdfff) => {
                char::from_u32(0x10000 + ((high - 0xd800) << 10) + (value - 0xdc00))
            }
            (_, value) => char::from_u32(value),
        }?;
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(data: &str) -> Vec<(String, Encoding, String)> {
        spans(data.as_bytes())
            .into_iter()
            .map(|d| {
                let span = data[d.span].to_string();
                (span, d.encoding, String::from_utf8(d.text).unwrap())
            })
            .collect()
    }

    #[test]
    fn base64_of_text_is_decoded_and_of_noise_is_not() {
        let text = "note: aGVsbG8gd29ybGQsIHRoaXMgaXMgdGV4dA==\n";
        assert_eq!(
            found(text),
            [(
                "aGVsbG8gd29ybGQsIHRoaXMgaXMgdGV4dA==".into(),
                Encoding::Base64,
                "hello world, this is text".into()
            )]
        );
        // A sha512 integrity hash is base64 of random bytes; an identifier is letters.
        let noise = "integrity sha512-pNEhd8bmGVXhPkdgjGXiTCN8u8VuTg3uG9C2x3i2bn/CbPYX0xKb\n\
                     fn someVeryLongFunctionNameHere() {}\n";
        assert!(found(noise).is_empty(), "{:?}", found(noise));
    }

    #[test]
    fn base64url_hex_percent_and_escapes() {
        let url = "x = aGk_IHRoZXJlLCBmcmllbmQ-Pz8_\n";
        assert_eq!(found(url)[0].1, Encoding::Base64Url);
        let hex = "k = 68656c6c6f2c20746869732069732068657820746578740a\n";
        assert_eq!(found(hex)[0].2, "hello, this is hex text\n");
        let pct = "u = https://h/?p=a%20b%2Fc%3Dd%26e\n";
        assert_eq!(found(pct)[0].2, "https://h/?p=a b/c=d&e");
        let esc = r#"{"key": "-----BEGIN X-----\nabc\u0041\"q\"\n-----END X-----"}"#;
        let got = found(esc);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].2, "-----BEGIN X-----\nabcA\"q\"\n-----END X-----");
    }

    #[test]
    fn escapes_decode_surrogate_pairs_and_refuse_bad_ones() {
        assert_eq!(unescape(br"\ud83d\udd11").unwrap(), "\u{1F511}".as_bytes());
        assert!(unescape(br"\q").is_none());
        assert!(unescape(br"\u12").is_none());
    }

    /// `count` texts of 40 pieces each, picked by a small deterministic generator.
    fn random_texts<'a>(
        pieces: &'a [&'a str],
        seed: u32,
        count: usize,
    ) -> impl Iterator<Item = String> + 'a {
        let mut state = seed;
        (0..count).map(move |_| {
            let mut text = String::new();
            for _ in 0..40 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                text.push_str(pieces[(state >> 16) as usize % pieces.len()]);
            }
            text
        })
    }

    #[test]
    fn the_ascii_text_test_agrees_with_the_character_count() {
        let by_chars = |bytes: &[u8]| {
            let text = std::str::from_utf8(bytes).unwrap();
            let printable = text
                .chars()
                .filter(|&c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
                .count();
            !text.is_empty() && printable * 100 >= text.chars().count() * MIN_TEXT_PERCENT
        };
        let mut pieces = vec!["a"; 60];
        pieces.extend(["\n", "\t", "\r", "\u{1}", "\u{7f}", "\u{1b}", "key=", " "]);
        // 95% printable is text, 90% is not; tabs and newlines count as printable.
        let edges = [
            "a".repeat(19) + "\u{1}",
            "a".repeat(18) + "\u{1}\u{7f}",
            "\t".repeat(20),
        ];
        assert_eq!(
            edges.each_ref().map(|t| is_text(t.as_bytes())),
            [true, false, true]
        );
        let extra = edges.into_iter().chain(["".into(), "\u{0}".into()]);
        for text in random_texts(&pieces, 11, 300).chain(extra) {
            for len in [1, 19, 20, 21, text.len()] {
                let bytes = &text.as_bytes()[..len.min(text.len())];
                assert_eq!(is_text(bytes), by_chars(bytes), "{bytes:?}");
            }
        }
        // Past the ASCII path: a character of several bytes counts once.
        assert!(is_text("ключ: значение".as_bytes()));
    }

    #[test]
    fn the_run_finder_skipping_ahead_finds_what_a_byte_by_byte_walk_finds() {
        // Every maximal run of the alphabets of at least MIN_BASE64 bytes, walked plainly.
        let naive = |data: &[u8]| -> Vec<Range<usize>> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < data.len() {
                let start = i;
                while i < data.len() && CLASS[usize::from(data[i])] != 0 {
                    i += 1;
                }
                if i - start >= MIN_BASE64 {
                    out.push(start..i);
                }
                i = i.max(start + 1);
            }
            out
        };
        let pieces = [
            "aGVsbG8g", "d29ybGQs", " ", "+/", "-_", "==", "\n", "x", "Q1", ".",
        ];
        for text in random_texts(&pieces, 7, 300) {
            let data = text.as_bytes();
            let found: Vec<usize> = encoded_runs(data).map(|(r, _)| r.start).collect();
            let all: Vec<usize> = naive(data).into_iter().map(|r| r.start).collect();
            // The finder reports a subset (it drops runs that cannot be base64 or hex), and
            // each at a start the plain walk found.
            assert!(found.iter().all(|s| all.contains(s)), "{text:?}");
            let mixed_ok = naive(data).into_iter().filter(|r| {
                let t = &data[r.clone()];
                let url = t.iter().any(|b| matches!(b, b'-' | b'_'));
                let std = t.iter().any(|b| matches!(b, b'+' | b'/'));
                !(url && std)
                    && t.len() % 4 != 1
                    && t.iter().any(u8::is_ascii_digit)
                    && t.iter().any(|b| CLASS[usize::from(*b)] & NOT_HEX != 0)
            });
            for r in mixed_ok {
                assert!(found.contains(&r.start), "{text:?} lacks {r:?}");
            }
        }
    }

    #[test]
    fn the_string_finder_jumping_between_backslashes_finds_what_a_byte_walk_finds() {
        // The strings holding an escape, walked plainly: per line, from the quote before its
        // first backslash to the first unescaped quote of that kind.
        let naive = |data: &[u8]| -> Vec<Range<usize>> {
            let mut out = Vec::new();
            let mut line_start = 0;
            for line in data.split(|&b| b == b'\n') {
                let line_end = line_start + line.len();
                let mut from = line_start;
                while let Some(i) = data[from..line_end].iter().position(|&b| b == b'\\') {
                    let slash = from + i;
                    let Some(open) = data[line_start..slash]
                        .iter()
                        .rposition(|&b| b == b'"' || b == b'\'')
                    else {
                        break;
                    };
                    let quote = data[line_start + open];
                    let start = line_start + open + 1;
                    let mut j = start;
                    while j < line_end && data[j] != quote {
                        j += if data[j] == b'\\' { 2 } else { 1 };
                    }
                    if j < line_end && j - start >= MIN_ESCAPED {
                        out.push(start..j);
                        from = j + 1;
                        continue;
                    }
                    break;
                }
                line_start = line_end + 1;
            }
            out
        };
        let pieces = ["\"", "'", "\\", "\\\\", "n", "abcdefgh", "\n", " ", "u00"];
        for text in random_texts(&pieces, 11, 500) {
            let data = text.as_bytes();
            let found: Vec<Range<usize>> = escaped_strings(data).collect();
            assert_eq!(found, naive(data), "{text:?}");
        }
    }

    #[test]
    fn the_alphabet_compares_agree_with_the_class_table() {
        for b in 0..=255u8 {
            assert_eq!(
                in_base64_alphabet(b),
                CLASS[usize::from(b)] != 0,
                "{b:#04x}"
            );
        }
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for from in [0, 1, 63, 64, 150, 199, 200, 300] {
            let expected = (0..64).fold(0u64, |bits, i| {
                let inside = data
                    .get(from + i)
                    .is_some_and(|&b| CLASS[usize::from(b)] != 0);
                bits | u64::from(inside) << i
            });
            assert_eq!(alphabet_bits(&data, from), expected, "from {from}");
        }
    }

    #[test]
    fn decoding_is_bounded() {
        let chunk = "aGVsbG8gd29ybGQsIHRoaXMgaXMgdGV4dA== ";
        let many = chunk.repeat(2 * MAX_DECODED / 25);
        let total: usize = spans(many.as_bytes()).iter().map(|d| d.text.len()).sum();
        assert!(total <= MAX_DECODED);
    }
}
