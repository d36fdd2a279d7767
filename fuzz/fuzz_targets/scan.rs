//! The scanner over arbitrary bytes with the default rules: no panic, every match inside the
//! input and on the line and column `locate` gives, and its redacted form never the whole secret.
#![no_main]

use std::sync::OnceLock;

use hush::rules::RuleSet;
use hush::scan::{locate, Scanner};
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
});
