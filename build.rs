//! Turns the rule files into compact JSON without their examples, so that every run of hush
//! (a commit hook runs often) parses 60 KB of JSON instead of 230 KB of TOML: start-up cost.
//! `telemetry-env.toml` loses its `source` links the same way (`hush run` reads it).
//! The TOML files stay the source of truth; the test suite reads them whole, examples included.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Each file, the key of its entries, and the fields only humans and tests read.
    let examples: &[&str] = &["true_positives", "false_positives"];
    for (name, key, drop) in [
        ("secrets", "rule", examples),
        ("files", "file", examples),
        ("telemetry-env", "env", &["source"][..]),
    ] {
        let path = format!("patterns/{name}.toml");
        println!("cargo:rerun-if-changed={path}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{path}: {e}"));
        if let Some(toml::Value::Array(items)) = doc.get_mut(key) {
            for item in items.iter_mut().filter_map(toml::Value::as_table_mut) {
                for field in drop {
                    item.remove(*field);
                }
            }
        }
        let json = serde_json::to_string(&doc).unwrap_or_else(|e| panic!("{path}: {e}"));
        std::fs::write(out.join(format!("{name}.json")), json)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
