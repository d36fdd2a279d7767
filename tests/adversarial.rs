//! Hostile and unusual input for `hush scan` (issue 11): files full of findings or of keywords
//! must not make a commit hook hang, standard input is read no further than the size limit,
//! and UTF-16/UTF-32 text is scanned as text. Each case drives the real binary.

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

fn utf32le(text: &str, bom: bool) -> Vec<u8> {
    let chars = bom.then_some('\u{feff}').into_iter().chain(text.chars());
    chars.flat_map(|c| u32::from(c).to_le_bytes()).collect()
}

#[test]
fn utf16_and_utf32_text_is_scanned_with_original_columns() {
    // Item 8: a PowerShell script and a .reg export as Windows writes them.
    let script = format!("# déploiement\r\n$token = \"{}\"\r\n", token());
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("le-bom.ps1", utf16(&script, false, true)),
        ("le.ps1", utf16(&script, false, false)),
        ("be-bom.ps1", utf16(&script, true, true)),
        ("be.ps1", utf16(&script, true, false)),
        ("le32-bom.ps1", utf32le(&script, true)),
        ("le32.ps1", utf32le(&script, false)),
    ];
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let (out, _) = scan(&borrowed, &["--show-secrets"]);
    assert_eq!(out.status.code(), Some(1));
    let mut found: Vec<(String, u64, u64, String)> = findings(&out)
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    // `$token = "` is 10 characters: column 21 in UTF-16, 41 in UTF-32 (bytes of the file).
    let expected = |path: &str, column| (path.to_string(), 2, column, token());
    assert_eq!(
        found,
        vec![
            expected("be-bom.ps1", 21),
            expected("be.ps1", 21),
            expected("le-bom.ps1", 21),
            expected("le.ps1", 21),
            expected("le32-bom.ps1", 41),
            expected("le32.ps1", 41),
        ]
    );
    assert_eq!(json(&out)["stats"]["binary"], 0);
}

#[test]
fn a_secret_on_the_first_line_of_utf16_text_counts_the_byte_order_mark() {
    let reg = format!(
        "Windows Registry Editor Version 5.00\r\n\"Key\"=\"{}\"\r\n",
        aws()
    );
    let first = format!("k={}\r\n", aws());
    let (out, _) = scan(
        &[
            ("export.reg", &utf16(&reg, false, true)),
            ("first.txt", &utf16(&first, false, true)),
        ],
        &[],
    );
    let mut found = places(&out);
    found.sort();
    assert_eq!(
        found,
        vec![
            ("aws-access-key-id".to_string(), 1, 7),
            ("aws-access-key-id".to_string(), 2, 15),
        ]
    );
}

#[test]
fn binaries_with_nul_bytes_stay_binary() {
    // An ELF header and a PNG signature, each followed by a token: checked by name only.
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00".to_vec();
    elf.extend_from_slice(format!("t={}", token()).as_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10".to_vec();
    png.extend_from_slice(format!("t={}", token()).as_bytes());
    let (out, _) = scan(&[("tool", &elf), ("image.png", &png)], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["stats"]["binary"], 2);
}

#[test]
fn utf16_text_committed_to_git_is_scanned_by_history() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .current_dir(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "."]);
    let script = format!("$token = \"{}\"\r\n", token());
    std::fs::write(dir.path().join("deploy.ps1"), utf16(&script, false, true)).unwrap();
    git(&["add", "deploy.ps1"]);
    git(&["commit", "-q", "--no-verify", "-m", "add"]);
    let out = hush()
        .current_dir(dir.path())
        .args(["history", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(places(&out), vec![("github-pat".to_string(), 1, 23)]);
}
