//! hush's accuracy on its own labelled corpus: `tests/corpus/files`, written with
//! `tests/corpus/labels.toml` by `tests/corpus/generate.py` (generated values of every rule
//! family's documented shape, and decoy lines that trip naive rules). The built binary scans
//! the corpus once; recall is measured per family against the floors in `RECALL_FLOORS` (what
//! was measured, rounded down), precision overall, and no report may print a labelled secret.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use serde::Deserialize;

/// Lowest recall each family may fall to: the figures measured when the floor was last raised,
/// rounded down to 0.01. Raise a floor when a rule change lifts its family; never lower one
/// without saying which positive is no longer found and why.
const RECALL_FLOORS: [(&str, f64); 15] = [
    ("ai", 1.00),
    ("aws", 1.00),
    ("azure", 1.00),
    ("chat", 1.00),
    ("database-urls", 1.00),
    ("encoded", 1.00),
    ("encrypted-private-keys", 1.00),
    ("gcp", 1.00),
    ("generic-passwords", 0.98),
    ("github", 0.94),
    ("gitlab-and-other-vcs", 1.00),
    ("jwt", 1.00),
    ("payments", 1.00),
    ("private-keys", 1.00),
    ("saas-api", 0.95),
];

/// Share of findings that must be on labelled lines (or be file findings on sensitive files).
const PRECISION_FLOOR: f64 = 0.99;

/// What the corpus must hold to measure anything (issue 13): positives in all and per family,
/// and decoy lines.
const MIN_POSITIVES: usize = 400;
const MIN_POSITIVES_PER_FAMILY: usize = 15;
const MIN_NEGATIVE_LINES: usize = 1500;

#[derive(Deserialize)]
struct Labels {
    sensitive_files: Vec<String>,
    positives: Vec<Positive>,
    negatives: Vec<Negative>,
}

/// A secret in the corpus: it starts on `line` and, if it spans lines, ends on `end`.
#[derive(Deserialize, Clone)]
struct Positive {
    file: String,
    line: u64,
    end: Option<u64>,
    family: String,
    secrets: Vec<String>,
}

/// A line holding a decoy, with the family whose rules it tempts (`any`: every rule).
#[derive(Deserialize)]
struct Negative {
    file: String,
    line: u64,
    family: String,
}

/// One finding of a JSON report, with the finding's whole JSON text for the masking check.
struct Finding {
    path: String,
    line: u64,
    rule_id: String,
    confidence: Option<String>,
    /// A finding on a file as a whole (a `.env`, a key file), reported by name: no column.
    whole_file: bool,
    json: String,
}

#[derive(Default, Clone, Copy)]
struct FamilyScore {
    labels: usize,
    found: usize,
    true_findings: usize,
    false_findings: usize,
}

impl FamilyScore {
    fn recall(&self) -> f64 {
        ratio(self.found, self.labels)
    }

    fn precision(&self) -> f64 {
        ratio(self.true_findings, self.true_findings + self.false_findings)
    }
}

/// The score of one report against the labels.
struct Score {
    families: BTreeMap<String, FamilyScore>,
    true_findings: usize,
    /// Findings on unlabelled or decoy lines (and file findings on files not sensitive), as
    /// `path:line rule (family tempted)`.
    false_findings: Vec<String>,
    missed: Vec<String>,
}

impl Score {
    fn precision(&self) -> f64 {
        ratio(
            self.true_findings,
            self.true_findings + self.false_findings.len(),
        )
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn labels() -> &'static Labels {
    static LABELS: OnceLock<Labels> = OnceLock::new();
    LABELS.get_or_init(|| {
        let text = std::fs::read_to_string(corpus_dir().join("labels.toml")).expect("labels.toml");
        toml::from_str(&text).expect("labels.toml parses")
    })
}

/// hush's findings on the corpus, from one run of the built binary shared by the tests.
fn findings() -> &'static [Finding] {
    static FINDINGS: OnceLock<Vec<Finding>> = OnceLock::new();
    FINDINGS.get_or_init(|| {
        let out = Command::cargo_bin("hush")
            .expect("binary")
            .current_dir(corpus_dir().join("files"))
            .env_remove("HUSH_FORMAT")
            .env_remove("HUSH_MIN_CONFIDENCE")
            .args(["scan", "--config", "/dev/null", "--format", "json", "."])
            .output()
            .expect("run hush");
        assert_eq!(
            out.status.code(),
            Some(1),
            "hush scan should report findings: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
        doc["findings"]
            .as_array()
            .expect("findings array")
            .iter()
            .map(parse_finding)
            .collect()
    })
}

fn parse_finding(value: &serde_json::Value) -> Finding {
    let path = value["path"].as_str().expect("path");
    Finding {
        path: path.strip_prefix("./").unwrap_or(path).to_string(),
        line: value["line"].as_u64().unwrap_or(0),
        rule_id: value["rule_id"].as_str().unwrap_or("?").to_string(),
        confidence: value["confidence"].as_str().map(str::to_string),
        whole_file: value.get("column").is_none_or(|c| c.is_null()),
        json: value.to_string(),
    }
}

/// Scores findings against labels: a finding on any line of a positive's span finds it; a line
/// finding anywhere else, or a file finding on a file not listed as sensitive, is false. File
/// findings on sensitive files are right but count toward no family.
fn score(labels: &Labels, findings: &[Finding]) -> Score {
    let mut by_line: HashMap<(&str, u64), Vec<usize>> = HashMap::new();
    let mut families: BTreeMap<String, FamilyScore> = BTreeMap::new();
    for (i, p) in labels.positives.iter().enumerate() {
        families.entry(p.family.clone()).or_default().labels += 1;
        for line in p.line..=p.end.unwrap_or(p.line) {
            by_line.entry((p.file.as_str(), line)).or_default().push(i);
        }
    }
    let decoys: HashMap<(&str, u64), &str> = labels
        .negatives
        .iter()
        .map(|n| ((n.file.as_str(), n.line), n.family.as_str()))
        .collect();
    let sensitive: HashSet<&str> = labels.sensitive_files.iter().map(String::as_str).collect();
    let mut found: HashSet<usize> = HashSet::new();
    let (mut true_findings, mut false_findings) = (0, Vec::new());
    for f in findings {
        if f.whole_file {
            if !sensitive.contains(f.path.as_str()) {
                false_findings.push(format!("{} (file) {} (not sensitive)", f.path, f.rule_id));
            }
            continue;
        }
        if let Some(hits) = by_line.get(&(f.path.as_str(), f.line)) {
            found.extend(hits);
            true_findings += 1;
            let family = &labels.positives[hits[0]].family;
            families.entry(family.clone()).or_default().true_findings += 1;
            continue;
        }
        let tempted = decoys.get(&(f.path.as_str(), f.line)).copied();
        if let Some(family) = tempted.and_then(|t| families.get_mut(t)) {
            family.false_findings += 1;
        }
        let tempted = tempted.unwrap_or("unlabelled line");
        false_findings.push(format!("{}:{} {} ({tempted})", f.path, f.line, f.rule_id));
    }
    let mut missed = Vec::new();
    for (i, p) in labels.positives.iter().enumerate() {
        if found.contains(&i) {
            families.entry(p.family.clone()).or_default().found += 1;
        } else {
            missed.push(format!("{}:{} ({})", p.file, p.line, p.family));
        }
    }
    Score {
        families,
        true_findings,
        false_findings,
        missed,
    }
}

fn table(score: &Score) -> String {
    let mut out = String::from("| family | labels | found | recall | precision |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    for (family, s) in &score.families {
        out.push_str(&format!(
            "| {family} | {} | {} | {:.2} | {:.3} |\n",
            s.labels,
            s.found,
            s.recall(),
            s.precision()
        ));
    }
    let labels: usize = score.families.values().map(|s| s.labels).sum();
    let found: usize = score.families.values().map(|s| s.found).sum();
    out.push_str(&format!(
        "| all | {labels} | {found} | {:.2} | {:.3} ({} of {} findings false) |\n",
        ratio(found, labels),
        score.precision(),
        score.false_findings.len(),
        score.true_findings + score.false_findings.len()
    ));
    out
}

#[test]
fn corpus_recall_per_family_and_precision_meet_their_floors() {
    let score = score(labels(), findings());
    println!("{}", table(&score));
    for miss in &score.missed {
        println!("missed: {miss}");
    }
    for false_finding in &score.false_findings {
        println!("false: {false_finding}");
    }
    let floors: BTreeMap<&str, f64> = RECALL_FLOORS.into_iter().collect();
    let measured: Vec<&str> = score.families.keys().map(String::as_str).collect();
    assert_eq!(
        floors.keys().copied().collect::<Vec<_>>(),
        measured,
        "every family in the labels needs a floor in RECALL_FLOORS, and only those"
    );
    for (family, s) in &score.families {
        assert!(
            s.recall() + 1e-9 >= floors[family.as_str()],
            "{family}: recall {:.3} below its floor {:.2}",
            s.recall(),
            floors[family.as_str()]
        );
    }
    assert!(
        score.precision() >= PRECISION_FLOOR,
        "precision {:.4} below {PRECISION_FLOOR}: {:#?}",
        score.precision(),
        score.false_findings
    );
}

#[test]
fn reports_never_print_a_labelled_secret_whole() {
    let findings = findings();
    assert!(!findings.is_empty());
    for p in &labels().positives {
        for secret in p.secrets.iter().filter(|s| s.len() >= 8) {
            if let Some(f) = findings.iter().find(|f| f.json.contains(secret.as_str())) {
                panic!(
                    "the finding {} at {}:{} prints the secret labelled at {}:{} whole",
                    f.rule_id, f.path, f.line, p.file, p.line
                );
            }
        }
    }
}

/// Passphrase-protected keys in every form of the corpus (PKCS#8, legacy `Proc-Type` PEM,
/// OpenSSH with a cipher) are reported below `high`, plain ones at `high`.
#[test]
fn encrypted_private_keys_are_reported_less_sure_than_plain_ones() {
    let labels = labels();
    let on_family = |family: &str| -> Vec<&Finding> {
        let spans: Vec<&Positive> = labels
            .positives
            .iter()
            .filter(|p| p.family == family)
            .collect();
        findings()
            .iter()
            .filter(|f| {
                !f.whole_file
                    && spans.iter().any(|p| {
                        p.file == f.path && (p.line..=p.end.unwrap_or(p.line)).contains(&f.line)
                    })
            })
            .collect()
    };
    let encrypted = on_family("encrypted-private-keys");
    let plain = on_family("private-keys");
    assert!(!encrypted.is_empty() && !plain.is_empty());
    let as_sure: Vec<String> = encrypted
        .iter()
        .filter(|f| f.confidence.as_deref() == Some("high"))
        .map(|f| format!("{}:{} {}", f.path, f.line, f.rule_id))
        .collect();
    assert!(
        as_sure.is_empty(),
        "encrypted keys reported as surely as plain ones (high): {as_sure:#?}"
    );
    assert!(
        plain
            .iter()
            .any(|f| f.confidence.as_deref() == Some("high")),
        "no plain private key is reported with high confidence"
    );
}

#[test]
fn labels_point_at_lines_of_the_corpus_and_cover_every_family() {
    let labels = labels();
    let files = corpus_dir().join("files");
    let mut line_counts: HashMap<&str, u64> = HashMap::new();
    let lines_of = |file: &str| -> u64 {
        let text = std::fs::read_to_string(files.join(file)).expect("labelled file exists");
        text.lines().count() as u64
    };
    for p in &labels.positives {
        let count = *line_counts
            .entry(p.file.as_str())
            .or_insert_with(|| lines_of(&p.file));
        assert!(
            p.line >= 1 && p.end.unwrap_or(p.line) <= count,
            "{}:{}",
            p.file,
            p.line
        );
        assert!(!p.secrets.is_empty(), "{}:{} has no secret", p.file, p.line);
    }
    for n in &labels.negatives {
        let count = *line_counts
            .entry(n.file.as_str())
            .or_insert_with(|| lines_of(&n.file));
        assert!(n.line >= 1 && n.line <= count, "{}:{}", n.file, n.line);
    }
    assert!(labels.positives.len() >= MIN_POSITIVES);
    assert!(labels.negatives.len() >= MIN_NEGATIVE_LINES);
    let mut per_family: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &labels.positives {
        *per_family.entry(p.family.as_str()).or_default() += 1;
    }
    for (family, n) in per_family {
        assert!(
            n >= MIN_POSITIVES_PER_FAMILY,
            "{family}: only {n} positives"
        );
    }
}

/// The scoring itself, on labels and findings made here: the floors above mean something only
/// if a missing finding lowers recall and a stray one lowers precision.
mod scoring {
    use super::*;

    fn positive(file: &str, line: u64, end: Option<u64>, family: &str) -> Positive {
        Positive {
            file: file.into(),
            line,
            end,
            family: family.into(),
            secrets: vec!["s3cr3t-value".into()],
        }
    }

    fn finding(path: &str, line: u64, whole_file: bool) -> Finding {
        Finding {
            path: path.into(),
            line,
            rule_id: "rule".into(),
            confidence: None,
            whole_file,
            json: String::new(),
        }
    }

    fn sample() -> Labels {
        Labels {
            sensitive_files: vec![".env".into()],
            positives: vec![
                positive("a.py", 3, None, "aws"),
                positive("a.py", 7, None, "aws"),
                positive("key.pem", 1, Some(28), "private-keys"),
            ],
            negatives: vec![Negative {
                file: "a.py".into(),
                line: 9,
                family: "aws".into(),
            }],
        }
    }

    #[test]
    fn every_label_found_is_full_recall_and_precision() {
        let found = [
            finding("a.py", 3, false),
            finding("a.py", 7, false),
            finding("key.pem", 1, false),
        ];
        let s = score(&sample(), &found);
        assert_eq!(s.families["aws"].recall(), 1.0);
        assert_eq!(s.families["private-keys"].recall(), 1.0);
        assert_eq!(s.precision(), 1.0);
        assert!(s.missed.is_empty());
    }

    #[test]
    fn a_missing_finding_lowers_its_familys_recall() {
        let found = [finding("a.py", 3, false), finding("key.pem", 1, false)];
        let s = score(&sample(), &found);
        assert_eq!(s.families["aws"].recall(), 0.5);
        assert_eq!(s.missed, vec!["a.py:7 (aws)".to_string()]);
    }

    #[test]
    fn a_finding_on_a_decoy_or_unlabelled_line_lowers_precision() {
        let found = [
            finding("a.py", 3, false),
            finding("a.py", 9, false),
            finding("b.py", 1, false),
        ];
        let s = score(&sample(), &found);
        assert_eq!(s.false_findings.len(), 2);
        assert!((s.precision() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.families["aws"].precision(), 0.5);
    }

    #[test]
    fn a_finding_inside_a_multi_line_secret_finds_it() {
        let s = score(&sample(), &[finding("key.pem", 14, false)]);
        assert_eq!(s.families["private-keys"].found, 1);
        assert!(
            score(&sample(), &[finding("key.pem", 29, false)]).families["private-keys"]
                .found
                .eq(&0)
        );
    }

    #[test]
    fn file_findings_are_right_only_on_sensitive_files() {
        let s = score(&sample(), &[finding(".env", 1, true)]);
        assert!(s.false_findings.is_empty());
        let s = score(&sample(), &[finding("a.py", 1, true)]);
        assert_eq!(s.false_findings.len(), 1);
    }
}
