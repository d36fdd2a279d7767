//! Which blobs are text, and in which encoding. UTF-16 and UTF-32 text (Windows tools write
//! PowerShell scripts, `.reg` exports and many configs so) holds NUL bytes, which would make it
//! look binary: it is recognised, decoded to UTF-8 for the scanner, and positions found in the
//! decoded text are mapped back to byte offsets of the original.

use std::ops::Range;

/// How much of a blob decides whether it is binary (as git decides).
pub const PROBE: usize = 8192;

/// A text encoding with NUL bytes in ordinary (ASCII) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wide {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

impl Wide {
    /// Bytes per code unit.
    fn unit(self) -> usize {
        match self {
            Wide::Utf16Le | Wide::Utf16Be => 2,
            Wide::Utf32Le | Wide::Utf32Be => 4,
        }
    }

    fn bom(self) -> &'static [u8] {
        match self {
            Wide::Utf16Le => &[0xff, 0xfe],
            Wide::Utf16Be => &[0xfe, 0xff],
            Wide::Utf32Le => &[0xff, 0xfe, 0, 0],
            Wide::Utf32Be => &[0, 0, 0xfe, 0xff],
        }
    }

    /// The code unit at the start of `bytes` (which holds at least one unit).
    fn read(self, bytes: &[u8]) -> u32 {
        match self {
            Wide::Utf16Le => u32::from(u16::from_le_bytes([bytes[0], bytes[1]])),
            Wide::Utf16Be => u32::from(u16::from_be_bytes([bytes[0], bytes[1]])),
            Wide::Utf32Le => u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            Wide::Utf32Be => u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        }
    }
}

/// Whether a blob is binary: a NUL byte in its first 8 KiB, as git judges it, unless it is
/// UTF-16 or UTF-32 text.
pub fn is_binary(data: &[u8]) -> bool {
    has_nul(data) && wide(data).is_none()
}

fn has_nul(data: &[u8]) -> bool {
    memchr::memchr(0, &data[..data.len().min(PROBE)]).is_some()
}

/// The wide encoding `data` is text in, if it holds NUL bytes in its first 8 KiB because it is
/// UTF-16 or UTF-32: a byte order mark says which; without one, ASCII text shows as a regular
/// pattern of NULs (every other byte, or three bytes in four, on the same side). No code unit in
/// the probe may be NUL, as none is in text; binaries (executables, images) have runs of them.
pub fn wide(data: &[u8]) -> Option<Wide> {
    if !has_nul(data) {
        // Text without NULs is scanned as it is (a UTF-16 BOM on it would be a coincidence:
        // real UTF-16 text has spaces and newlines, and so NULs).
        return None;
    }
    let probe = &data[..data.len().min(PROBE)];
    let candidates = [Wide::Utf32Le, Wide::Utf32Be, Wide::Utf16Le, Wide::Utf16Be];
    if let Some(&bommed) = candidates.iter().find(|w| probe.starts_with(w.bom())) {
        return looks_like(bommed, &probe[bommed.bom().len()..], false).then_some(bommed);
    }
    candidates.into_iter().find(|&w| looks_like(w, probe, true))
}

/// Whether `probe` reads as text in `wide`: no NUL unit, every unit a valid scalar value (for
/// UTF-32), and, without a BOM to go by, nine units in ten ASCII.
fn looks_like(wide: Wide, probe: &[u8], need_ascii: bool) -> bool {
    let unit = wide.unit();
    let units = probe.len() / unit;
    if units == 0 {
        return !need_ascii;
    }
    let mut ascii = 0;
    for chunk in probe.chunks_exact(unit) {
        let value = wide.read(chunk);
        if value == 0 || (unit == 4 && char::from_u32(value).is_none()) {
            return false;
        }
        if value < 0x80 {
            ascii += 1;
        }
    }
    !need_ascii || ascii * 10 >= units * 9
}

/// `data` (text in `wide`) as UTF-8, without its byte order mark; code units that are not text
/// (lone surrogates, a cut-off last unit) become U+FFFD.
pub fn decode(data: &[u8], wide: Wide) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / wide.unit() + 16);
    let mut buf = [0u8; 4];
    for (c, _) in chars(data, wide) {
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    out
}

/// The characters of `data` with the length in bytes of each in the original.
fn chars(data: &[u8], wide: Wide) -> impl Iterator<Item = (char, usize)> + '_ {
    let unit = wide.unit();
    let body = data.strip_prefix(wide.bom()).unwrap_or(data);
    let mut units = body
        .chunks(unit)
        .map(move |c| (c.len() == unit).then(|| wide.read(c)));
    let mut pending: Option<Option<u32>> = None;
    std::iter::from_fn(move || {
        let first = pending.take().or_else(|| units.next())?;
        let Some(first) = first else {
            // A cut-off last unit.
            return Some((char::REPLACEMENT_CHARACTER, body.len() % unit));
        };
        if unit == 4 {
            return Some((
                char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER),
                4,
            ));
        }
        if (0xd800..0xdc00).contains(&first) {
            match units.next() {
                Some(Some(low)) if (0xdc00..0xe000).contains(&low) => {
                    let value = 0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00);
                    let c = char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER);
                    return Some((c, 4));
                }
                other => pending = other,
            }
        }
        Some((
            char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER),
            2,
        ))
    })
}

/// Maps byte offsets of the decoded text (sorted) to byte offsets of the original `data`, in
/// one walk over it. An offset inside a decoded character maps to that character's first byte.
pub fn original_offsets(data: &[u8], wide: Wide, offsets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut targets = offsets.iter().copied().peekable();
    let (mut decoded, mut original) = (0, wide_bom_len(data, wide));
    for (c, len) in chars(data, wide) {
        let next = decoded + c.len_utf8();
        while targets.next_if(|&t| t < next).is_some() {
            out.push(original);
        }
        decoded = next;
        original += len;
    }
    out.extend(targets.map(|_| original));
    out
}

fn wide_bom_len(data: &[u8], wide: Wide) -> usize {
    if data.starts_with(wide.bom()) {
        wide.bom().len()
    } else {
        0
    }
}

/// Gives the columns of a scan of the decoded text of `data` as byte columns of `data` itself
/// (lines are the same: each newline decodes to one newline), and returns where each match's
/// secret lies in `data`.
pub fn relocate(data: &[u8], wide: Wide, scanned: &mut super::Scanned) -> Vec<Range<usize>> {
    let points = (scanned.matches.iter())
        .flat_map(|m| Relocation::points(m.at, m.column).chain([m.secret.start, m.secret.end]))
        .chain(
            scanned
                .cut
                .iter()
                .flat_map(|c| Relocation::points(c.at, c.column)),
        );
    let map = Relocation::new(data, wide, points);
    for m in &mut scanned.matches {
        m.column = map.column(m.at, m.column);
    }
    if let Some(cut) = &mut scanned.cut {
        cut.column = map.column(cut.at, cut.column);
    }
    (scanned.matches.iter())
        .map(|m| map.original(m.secret.start)..map.original(m.secret.end))
        .collect()
}

/// Offsets of a wide file's decoded text mapped back to the file's bytes: those asked for at
/// construction, found in one pass over the file.
struct Relocation {
    offsets: Vec<usize>,
    mapped: Vec<usize>,
}

impl Relocation {
    fn new(data: &[u8], wide: Wide, points: impl Iterator<Item = usize>) -> Relocation {
        let mut offsets: Vec<usize> = points.collect();
        offsets.sort_unstable();
        offsets.dedup();
        let mapped = original_offsets(data, wide, &offsets);
        Relocation { offsets, mapped }
    }

    /// The points a position with its 1-based decoded `column` needs: it and its line's start.
    fn points(at: usize, column: usize) -> impl Iterator<Item = usize> {
        [at + 1 - column, at].into_iter()
    }

    /// Where decoded offset `at` (one of those asked for) lies in the file.
    fn original(&self, at: usize) -> usize {
        self.mapped[self.offsets.partition_point(|&o| o < at)]
    }

    /// The 1-based byte column in the file of decoded offset `at` at decoded `column`.
    fn column(&self, at: usize, column: usize) -> usize {
        let line_start = at + 1 - column;
        // The first line starts at the file's first byte, before any byte order mark.
        let line_start = match line_start {
            0 => 0,
            start => self.original(start),
        };
        self.original(at) - line_start + 1
    }
}

/// [`relocate`] for the matches of the decoding layer: their spans and columns in the decoded
/// text become byte offsets and columns of `data` itself.
pub fn relocate_decoded(data: &[u8], wide: Wide, found: &mut [super::DecodedMatch]) {
    let points =
        (found.iter()).flat_map(|d| Relocation::points(d.span.start, d.column).chain([d.span.end]));
    let map = Relocation::new(data, wide, points);
    for d in found {
        d.column = map.column(d.span.start, d.column);
        d.span = map.original(d.span.start)..map.original(d.span.end);
    }
}

/// How many UTF-16 code units the UTF-8 `bytes` take (an invalid byte counts as one).
pub fn utf16_units(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0xbf => 0,
            0xf0..=0xff => 2,
            _ => 1,
        })
        .sum()
}

/// The 1-based UTF-16 column of each match's `at` in `text` (UTF-8, invalid bytes counted as
/// one unit each), from their decoded-text columns: for matches sorted by position, linear in
/// the text before the last match, however many matches share a minified line.
pub fn utf16_columns(text: &[u8], matches: &[super::Match]) -> Vec<usize> {
    let units = utf16_units;
    let (mut line_start, mut last, mut count) = (usize::MAX, 0, 0);
    matches
        .iter()
        .map(|m| {
            let start = m.at + 1 - m.column;
            // A new line, or (a multi-line match reported at its start) a step back.
            if start != line_start || m.at < last {
                (line_start, last, count) = (start, start, 0);
            }
            count += units(&text[last..m.at]);
            last = m.at;
            count + 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let units = bom.then_some(0xfeff).into_iter().chain(text.encode_utf16());
        units
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    fn utf32(text: &str, bom: bool) -> Vec<u8> {
        let chars = bom.then_some('\u{feff}').into_iter().chain(text.chars());
        chars.flat_map(|c| u32::from(c).to_le_bytes()).collect()
    }

    #[test]
    fn wide_text_is_recognised_with_or_without_a_byte_order_mark() {
        let text = "$token = 'abc'\r\nWrite-Host $token\r\n";
        for (data, expected) in [
            (utf16(text, false, true), Wide::Utf16Le),
            (utf16(text, false, false), Wide::Utf16Le),
            (utf16(text, true, true), Wide::Utf16Be),
            (utf16(text, true, false), Wide::Utf16Be),
            (utf32(text, true), Wide::Utf32Le),
            (utf32(text, false), Wide::Utf32Le),
        ] {
            assert_eq!(wide(&data), Some(expected), "{data:?}");
            assert!(!is_binary(&data));
            assert_eq!(decode(&data, expected), text.as_bytes());
        }
    }

    #[test]
    fn binaries_and_plain_text_are_not_wide() {
        // An ELF header and a PNG signature with its first chunk: NUL pairs early on.
        let elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00";
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06";
        for data in [&elf[..], &png[..], b"a\x00\x00\x00b\x00c\x00"] {
            assert_eq!(wide(data), None, "{data:?}");
            assert!(is_binary(data));
        }
        // No NUL: scanned as it is, even when it starts like a UTF-16 byte order mark.
        assert_eq!(wide(b"\xff\xfe bad utf8\r\n"), None);
        assert!(!is_binary(b"\xff\xfe bad utf8\r\n"));
    }

    #[test]
    fn decoding_replaces_what_is_not_text() {
        // A lone high surrogate, then 'a', then a cut-off unit.
        let data = [0xff, 0xfe, 0x00, 0xd8, b'a', 0x00, b'b'];
        assert_eq!(decode(&data, Wide::Utf16Le), "\u{fffd}a\u{fffd}".as_bytes());
        // A pair decodes to one character.
        let pair = utf16("x\u{1f600}y", false, false);
        assert_eq!(decode(&pair, Wide::Utf16Le), "x\u{1f600}y".as_bytes());
    }

    #[test]
    fn decoded_offsets_map_back_to_the_original_bytes() {
        let text = "é\u{1f600}ab\ncd";
        let data = utf16(text, false, true);
        // Decoded: é (2 bytes) 😀 (4) a b \n c d; original: BOM (2), é (2), 😀 (4), a (2)...
        let decoded = [0, 1, 2, 6, 7, 8, 9, 11];
        let original = original_offsets(&data, Wide::Utf16Le, &decoded);
        assert_eq!(original, vec![2, 2, 4, 8, 10, 12, 14, 18]);
        let data = utf32("ab\ncd", false);
        assert_eq!(
            original_offsets(&data, Wide::Utf32Le, &[0, 3, 4]),
            vec![0, 12, 16]
        );
    }
}
