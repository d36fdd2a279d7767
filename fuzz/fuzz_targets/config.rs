//! `.hush.toml` text, as a repository may carry it: parsing, merging with the built-in rules and
//! compiling must fail with an error, never panic; the proxy's `[proxy]` table likewise.
#![no_main]

use hush::rules::Config;
use hush::rules::RuleSet;
use hush::scan::Scanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::parse(text, "fuzz.toml") {
        if let Ok(rules) = RuleSet::with_config(&config) {
            if let Ok(scanner) = Scanner::new(&rules) {
                // Split so that this file holds no scannable key.
                let line = concat!("password = \"hunter2hunter2\" AKIA", "QWERTYUIOPASDFGH\n");
                scanner.scan(line.as_bytes());
            }
        }
    }
    let _ = hush::proxy::config::Config::parse(text, std::path::Path::new("fuzz.toml"));
});
