//! The rule files are their own test suite: every rule's true positives must be found by that
//! rule, and every false positive by no rule at all. A rule without examples fails.

use hush::rules::{compile, Allow, Confidence, RuleSet};
use hush::scan::Scanner;

fn defaults() -> RuleSet {
    RuleSet::defaults_with_examples().expect("built-in rules parse")
}

fn only(set: &RuleSet, index: usize) -> Scanner {
    let single = RuleSet {
        rules: vec![set.rules[index].clone()],
        files: Vec::new(),
        allow: Allow::default(),
    };
    Scanner::new(&single).expect("single-rule scanner")
}

#[test]
fn the_compiled_in_rules_are_the_rule_files() {
    // build.rs strips examples for start-up speed; nothing else may differ.
    let fast = RuleSet::defaults().expect("compact rules");
    let full = defaults();
    let ids = |set: &RuleSet| -> Vec<(String, String, Vec<String>)> {
        set.rules
            .iter()
            .map(|r| (r.id.clone(), r.regex.clone(), r.keywords.clone()))
            .collect()
    };
    assert_eq!(ids(&fast), ids(&full));
    assert_eq!(fast.files.len(), full.files.len());
}

#[test]
fn there_are_enough_rules_and_each_compiles_with_examples() {
    let set = defaults();
    assert!(
        set.rules.len() >= 150,
        "only {} secret rules",
        set.rules.len()
    );
    let mut problems = Vec::new();
    for rule in &set.rules {
        match compile(&rule.regex) {
            Ok(re) if rule.secret_group() >= re.captures_len() => problems.push(format!(
                "{}: no capture group {}",
                rule.id,
                rule.secret_group()
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", rule.id)),
        }
        if rule.true_positives.is_empty() || rule.false_positives.is_empty() {
            problems.push(format!(
                "{}: needs true and false positive examples",
                rule.id
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_true_positive_is_found_by_its_rule() {
    let set = defaults();
    let mut missed = Vec::new();
    for (index, rule) in set.rules.iter().enumerate() {
        let scanner = only(&set, index);
        for example in &rule.true_positives {
            if scanner.scan(example.as_bytes()).is_empty() {
                missed.push(format!("{}: {example:?}", rule.id));
            }
            // The same line in the middle of a file: `^` and `$` that mean the start and end
            // of the whole input would miss it there.
            for newline in ["\n", "\r\n"] {
                let embedded = format!("first line{newline}{example}{newline}last line{newline}");
                if scanner.scan(embedded.as_bytes()).is_empty() {
                    missed.push(format!("{} (mid-file, {newline:?}): {example:?}", rule.id));
                }
            }
        }
    }
    assert!(
        missed.is_empty(),
        "true positives not found:\n{}",
        missed.join("\n")
    );
}

#[test]
fn no_false_positive_is_found_by_any_rule() {
    let set = defaults();
    let scanner = Scanner::new(&set).expect("scanner");
    let mut found = Vec::new();
    for rule in &set.rules {
        for example in &rule.false_positives {
            for m in scanner.scan(example.as_bytes()) {
                found.push(format!(
                    "{}'s false positive {example:?} is found by {}",
                    rule.id,
                    scanner.rule(m.rule).id
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn file_rules_match_their_example_paths() {
    let set = defaults();
    let scanner = Scanner::new(&set).expect("scanner");
    let files = scanner.files();
    let mut problems = Vec::new();
    for (index, rule) in set.files.iter().enumerate() {
        if rule.true_positives.is_empty() || rule.false_positives.is_empty() {
            problems.push(format!("{}: needs example paths both ways", rule.id));
        }
        for path in &rule.true_positives {
            if !files.candidates(path).contains(&index) {
                problems.push(format!("{}: should match {path}", rule.id));
            }
        }
        for path in &rule.false_positives {
            if files.candidates(path).contains(&index) {
                problems.push(format!("{}: should not match {path}", rule.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn confidence_follows_what_a_rule_can_know() {
    let set = defaults();
    for rule in &set.rules {
        let c = rule.confidence();
        if rule.id.starts_with("generic-") {
            assert_eq!(
                c,
                Confidence::Low,
                "{}: a generic rule knows only context",
                rule.id
            );
        }
        if rule.checksum.is_some() && rule.id != "http-basic-auth-header" {
            assert_eq!(
                c,
                Confidence::High,
                "{}: a checksum is proof of shape",
                rule.id
            );
        }
        if rule.id.contains("encrypted") {
            assert!(
                c < Confidence::High,
                "{}: an encrypted key is less",
                rule.id
            );
        }
    }
    let count = |level| set.rules.iter().filter(|r| r.confidence() == level).count();
    // Most rules are sure of their shape: the default level (low) reports as much as before.
    assert!(count(Confidence::High) > count(Confidence::Low) * 4);
}

/// An encrypted private key in any of its forms is reported at less than high confidence, and
/// never also as the plain key of the same kind.
#[test]
fn an_encrypted_key_is_reported_only_as_encrypted() {
    let set = defaults();
    let scanner = Scanner::new(&set).expect("scanner");
    let mut problems = Vec::new();
    let encrypted = set.rules.iter().filter(|r| r.id.contains("encrypted"));
    for (rule, example) in encrypted.flat_map(|r| r.true_positives.iter().map(move |e| (r, e))) {
        let found: Vec<_> = scanner
            .scan(example.as_bytes())
            .iter()
            .map(|m| scanner.rule(m.rule))
            .collect();
        if found.is_empty() || found.iter().any(|r| r.confidence() == Confidence::High) {
            let ids: Vec<_> = found.iter().map(|r| r.id.as_str()).collect();
            problems.push(format!("{}'s example is found by {ids:?}", rule.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
