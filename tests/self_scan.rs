//! README's first command, `hush scan .` on this repository, reports nothing: the repository's
//! `.hush.toml` allows the rule examples and planted test secrets by path, and nothing else
//! here holds a secret.

use assert_cmd::Command;

#[test]
fn scanning_this_repository_finds_nothing() {
    let out = Command::cargo_bin("hush")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scan", "--format", "json", "."])
        .output()
        .expect("run hush");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_the_allowlist_the_rule_examples_are_found() {
    // The allowlist is doing the work: the examples themselves are real-format secrets.
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::cargo_bin("hush")
        .expect("binary")
        .current_dir(root)
        .args([
            "scan",
            "--config",
            "/dev/null",
            "--format",
            "json",
            "patterns/secrets.toml",
        ])
        .output()
        .expect("run hush");
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(doc["findings"].as_array().expect("findings").len() > 150);
}
