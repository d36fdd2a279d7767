//! Hostile and unusual input for `hush scan` (issue 11): files full of findings or of keywords
//! must not make a commit hook hang, and standard input is read no further than the size
//! limit. Each case drives the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hush::rules::RuleSet;
use serde_json::Value;

/// A real-format GitHub token with a valid checksum and an AWS access key id, built at run time
/// so that this file holds neither.
fn token() -> String {
    ["ghp_UU2h7RsOIv020X", "EpWXEhWi955aBVsI0j08yS"].concat()
}

fn aws() -> String {
    ["AKIAZ7VLRD", "Q4HWMFNB5K"].concat()
}

fn hush() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("hush"));
    cmd.env_remove("HUSH_FORMAT").env("NO_COLOR", "1");
    cmd
}

/// `hush scan --format json` on `files` written into a temp dir; the output and how long the
/// scan took.
fn scan(files: &[(&str, &[u8])], args: &[&str]) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let started = Instant::now();
    let out = hush()
        .current_dir(dir.path())
        .args(["scan", "--format", "json"])
        .args(args)
        .arg(".")
        .output()
        .unwrap();
    let took = started.elapsed();
    let streams = if args.contains(&"--show-secrets") {
        vec![&out.stderr]
    } else {
        vec![&out.stdout, &out.stderr]
    };
    for secret in [token(), aws()] {
        for stream in &streams {
            assert!(!String::from_utf8_lossy(stream).contains(&secret));
        }
    }
    (out, took)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn findings(out: &Output) -> Vec<Value> {
    json(out)["findings"].as_array().unwrap().clone()
}

/// (rule, line, column) of each finding.
fn places(out: &Output) -> Vec<(String, u64, u64)> {
    findings(out)
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Far above what these inputs take once linear (well under a second, even in a debug build
/// on a loaded machine), far below what they took before (minutes).
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn a_file_with_too_many_findings_reports_the_rest_as_one_finding() {
    // Issue 11, item 1: one key per line, 2 MB; 11.5 s in a release build before.
    let text = format!("key = {}\n", aws()).repeat(80_000);
    let (out, took) = scan(&[("keys.txt", text.as_bytes())], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(took < PATIENCE, "took {took:?}");
    let found = places(&out);
    assert_eq!(found.len(), 1001);
    assert!(found[..1000]
        .iter()
        .all(|(rule, _, _)| rule == "aws-access-key-id"));
    assert_eq!(found[1000], ("too-many-findings".to_string(), 1001, 7));
    let last = &findings(&out)[1000];
    assert!(last["description"]
        .as_str()
        .unwrap()
        .contains("not scanned"));
    assert!(last.get("secret").is_none());
}

#[test]
fn many_findings_on_one_line_cost_no_more_than_on_many() {
    // Item 1 on one line: 1 MB took 16 s before.
    let text = format!("{} ", aws()).repeat(50_000);
    let (out, took) = scan(&[("one-line.txt", text.as_bytes())], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(took < PATIENCE, "took {took:?}");
    let found = places(&out);
    assert_eq!(found.len(), 1001);
    assert_eq!(
        found[999],
        ("aws-access-key-id".to_string(), 1, 999 * 21 + 1)
    );
    assert_eq!(found[1000].0, "too-many-findings");
}

#[test]
fn a_private_key_begin_line_on_every_line_is_scanned_once() {
    // Item 2: 2 MB of BEGIN lines without a body took 7 s before; a real key after them is
    // still found, at its own BEGIN line.
    let rules = RuleSet::defaults_with_examples().unwrap();
    let rsa = rules
        .rules
        .iter()
        .find(|r| r.id == "private-key-rsa")
        .unwrap();
    let block = rsa.true_positives[0].trim();
    let junk = "-----BEGIN RSA PRIVATE KEY-----\n".repeat(65_536);
    let (out, took) = scan(
        &[
            ("junk.pem.txt", junk.as_bytes()),
            ("key.txt", format!("{junk}{block}\n").as_bytes()),
        ],
        &["--config", "/dev/null"],
    );
    assert!(took < PATIENCE, "took {took:?}");
    assert_eq!(
        places(&out),
        vec![("private-key-rsa".to_string(), 65_537, 1)]
    );
}

#[test]
fn keyword_floods_are_scanned_in_bounded_time() {
    // Item 2: `password=` repeated, and every keyword of every rule on one line.
    let mut keywords: Vec<String> = RuleSet::defaults()
        .unwrap()
        .rules
        .into_iter()
        .flat_map(|r| r.keywords)
        .collect();
    keywords.sort_unstable();
    keywords.dedup();
    let all = format!("{} ", keywords.join(" ")).repeat(512);
    let passwords = "password=".repeat(400_000);
    let (out, took) = scan(
        &[
            ("passwords.txt", passwords.as_bytes()),
            ("keywords.txt", all.as_bytes()),
        ],
        &[],
    );
    assert!(took < PATIENCE, "took {took:?}");
    // The keyword flood is past the work a file may take: its rest is one finding, the file is
    // not passed over in silence. Repeated `password=` is no secret and cheap enough.
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["rule_id"], "too-many-findings");
    assert_eq!(found[0]["path"], "keywords.txt");
    assert!(found[0]["description"]
        .as_str()
        .unwrap()
        .contains("keywords"));
}

/// Runs `hush scan -` with `input` streamed to it `repeat` times; returns its output and how
/// many bytes it took before closing its end of the pipe. What it never read, it cannot hold:
/// that count bounds its memory (a child's peak RSS from `wait4` would not: until `exec`, a
/// spawned child shares this process's memory, and its peak counts it).
fn scan_stdin(args: &[&str], input: &'static [u8], repeat: usize) -> (Output, usize) {
    let mut child = hush()
        .args(["scan", "--format", "json"])
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut written = 0;
        for _ in 0..repeat {
            match stdin.write_all(input) {
                Ok(()) => written += input.len(),
                // Broken pipe: hush stopped reading.
                Err(_) => break,
            }
        }
        written
    });
    let out = child.wait_with_output().unwrap();
    (out, writer.join().unwrap())
}

#[test]
fn standard_input_is_read_no_further_than_the_size_limit() {
    // Item 3: 64 MiB of zeros with a 1 MiB limit; before, all of it was read into memory.
    static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
    let (out, written) = scan_stdin(&["--max-file-size", "1048576"], &ZEROS, 1024);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped '-': larger than --max-file-size (1048576 bytes)"),
        "{stderr}"
    );
    assert_eq!(json(&out)["stats"]["skipped"], 1);
    // The limit, plus what the pipe buffers.
    assert!(written < 4 << 20, "hush took {written} bytes");
}

#[test]
fn standard_input_within_the_limit_is_scanned_whole() {
    static TEXT: &[u8] = b"x = 1\n";
    let (out, written) = scan_stdin(&["--max-file-size", "60"], TEXT, 10);
    assert_eq!(written, 60);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["stats"]["files"], 1);
    assert_eq!(json(&out)["stats"]["bytes"], 60);
}
