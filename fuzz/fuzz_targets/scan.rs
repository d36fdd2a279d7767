//! The scanner over arbitrary bytes with the default rules: no panic, every match inside the
//! input and on the line and column `locate` gives, and its redacted form never the whole secret.
//! Input that is UTF-16 or UTF-32 text is also decoded and scanned as the examiner does, with
//! every position mapped back inside the original bytes. The seeds in `corpus/scan/seed-*` are
//! the hostile inputs of issue 11 (findings or keywords on every line, a private key's BEGIN
//! line repeated, zeros, wide text): a regression to quadratic time shows as slow units there.
#![no_main]

use std::sync::OnceLock;

use hush::rules::RuleSet;
use hush::scan::{locate, text, Scanner, MAX_FINDINGS};
use libfuzzer_sys::fuzz_target;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let rules = RuleSet::defaults().expect("built-in rules load");
        Scanner::new(&rules).expect("built-in rules compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut found = scanner().scan(data);
    found.sort_by_key(|m| m.at);
    locate(data, &mut found);
    for m in &found {
        assert!(m.secret.start < m.secret.end && m.secret.end <= data.len());
        assert!(m.at <= m.secret.start && m.at < data.len());
        let line_start = m.at + 1 - m.column;
        assert_eq!(
            m.line,
            1 + data[..line_start].iter().filter(|&&b| b == b'\n').count()
        );
        assert!(line_start == 0 || data[line_start - 1] == b'\n');
        let secret = &data[m.secret.clone()];
        let shown = hush::report::redact(secret);
        assert!(secret.len() < 8 || !shown.as_bytes().windows(secret.len()).any(|w| w == secret));
    }
    if let Some(wide) = text::wide(data) {
        let decoded = text::decode(data, wide);
        let mut scanned = scanner().scan_limited(&decoded, MAX_FINDINGS);
        text::relocate(data, wide, &mut scanned);
        let lines = 1 + decoded.iter().filter(|&&b| b == b'\n').count();
        for m in &scanned.matches {
            assert!(m.secret.end <= decoded.len());
            assert!(m.line <= lines && m.column >= 1 && m.column <= data.len());
        }
        if let Some(cut) = scanned.cut {
            assert!(cut.line <= lines && cut.column >= 1 && cut.column <= data.len() + 1);
        }
    }
});
