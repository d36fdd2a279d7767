//! History at scale: `--shard I/N` splits one history between workers and `hush report merge`
//! joins their reports into what one run reports; `--state FILE` rescans only what is new.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::*;

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A small deterministic generator (xorshift), so the repository is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A GitHub token with a valid checksum (CRC32 of the body, base62, 6 digits).
    fn github_token(&mut self) -> String {
        let body: String = (0..30).map(|_| B62[self.below(62)] as char).collect();
        let mut crc = crc32fast::hash(body.as_bytes()) as u64;
        let mut digits = Vec::new();
        for _ in 0..6 {
            digits.push(B62[(crc % 62) as usize]);
            crc /= 62;
        }
        digits.reverse();
        format!("ghp_{body}{}", String::from_utf8(digits).unwrap())
    }
}

/// A fast-import `data` block.
fn data(out: &mut String, text: &str) {
    out.push_str(&format!("data {}\n{text}\n", text.len()));
}

/// A history of `commits` commits on `main` over 40 files, with tokens planted (some removed
/// again, some re-added at the same path later, some in commit messages) and a side branch
/// merged in, written with `git fast-import` and packed like a real clone. The tokens are
/// generated, so they never appear in this file; each is returned so output can be checked.
fn generated_history(commits: usize) -> (Repo, Vec<String>) {
    let repo = Repo::new();
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let mut stream = String::new();
    let mut files: Vec<Vec<String>> = (0..40).map(|f| vec![format!("# file {f}\n")]).collect();
    let mut planted = Vec::new();
    let mut tokens = Vec::new();
    let (mut main_tip, mut side_tip) = (None, None);
    let mut moved = String::new();
    for n in 0..commits {
        let when = 1_600_000_000 + n as i64 * 60;
        let branch = if n % 97 == 50 { "side" } else { "main" };
        stream.push_str(&format!("commit refs/heads/{branch}\nmark :{}\n", n + 1));
        let who = format!("Dev {} <dev{}@example.com> {when} +0000", n % 7, n % 7);
        stream.push_str(&format!("author {who}\ncommitter {who}\n"));
        let mut message = format!("change {n}\n");
        if n % 53 == 20 {
            let token = rng.github_token();
            message.push_str(&format!("\nused token {token} to test\n"));
            tokens.push(token);
        }
        data(&mut stream, &message);
        if let Some(tip) = main_tip {
            stream.push_str(&format!("from :{tip}\n"));
        }
        if branch == "side" {
            side_tip = Some(n + 1);
        } else {
            main_tip = Some(n + 1);
            // The commit after a side commit merges it.
            if let Some(side) = side_tip.take() {
                stream.push_str(&format!("merge :{side}\n"));
            }
        }
        let mut changed = BTreeSet::new();
        for _ in 0..1 + rng.below(3) {
            let f = rng.below(files.len());
            let at = 1 + rng.below(files[f].len());
            let line = format!("value_{} = compute({})\n", rng.below(1000), rng.below(1000));
            files[f].insert(at, line);
            changed.insert(f);
        }
        if n % 25 == 10 {
            let f = rng.below(files.len());
            let token = rng.github_token();
            files[f].insert(1, format!("API_TOKEN = \"{token}\"\n"));
            tokens.push(token);
            planted.push(f);
            changed.insert(f);
        } else if n % 25 == 20 && !planted.is_empty() {
            let f = planted.remove(0);
            let (kept, removed): (Vec<String>, Vec<String>) = files[f]
                .drain(..)
                .partition(|l| !l.starts_with("API_TOKEN"));
            files[f] = kept;
            changed.insert(f);
            // Half come back later, in the same file: the oldest commit is still the one named.
            if n % 50 == 20 {
                if let Some(line) = removed.into_iter().next() {
                    let later = (f + 1) % files.len();
                    files[later].push(line.clone());
                    files[f].push(line);
                    changed.insert(later);
                }
            }
        }
        for f in changed {
            stream.push_str(&format!("M 100644 inline dir{}/file{f}.py\n", f % 4));
            data(&mut stream, &files[f].concat());
        }
        // A file with a token, renamed, then edited: the rename only moves the token, and the
        // edit keeps it, so neither introduces it at the new path.
        match n % 100 {
            60 => {
                let token = rng.github_token();
                moved = format!("# keys\nKEY = \"{token}\"\n");
                tokens.push(token);
                stream.push_str(&format!("M 100644 inline keys/k{n}.cfg\n"));
                data(&mut stream, &moved);
            }
            61 => stream.push_str(&format!("R keys/k{}.cfg keys/moved{}.cfg\n", n - 1, n - 1)),
            62 => {
                moved.push_str("# edited\n");
                stream.push_str(&format!("M 100644 inline keys/moved{}.cfg\n", n - 2));
                data(&mut stream, &moved);
            }
            _ => {}
        }
    }
    let mut child = git_cmd(&repo.dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    repo.git(&["gc", "-q"]);
    (repo, tokens)
}

/// (fingerprint, commit, path, line) of every finding in a JSON report.
fn identities(doc: &serde_json::Value) -> BTreeSet<(String, String, String, u64)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fingerprint"].as_str().unwrap().to_string(),
                f["commit"].as_str().unwrap_or_default().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(out), stderr(out)))
}

fn no_token_in(text: &str, tokens: &[String]) {
    for token in tokens {
        assert!(!text.contains(token.as_str()), "a full token was printed");
    }
}

#[test]
fn four_merged_shards_report_what_one_run_reports() {
    let (repo, tokens) = generated_history(600);
    let whole = repo.hush(&["history", "--format", "json"]);
    assert_eq!(code(&whole), 1, "{}", stderr(&whole));
    let whole = json(&whole);
    let expected = identities(&whole);
    assert!(expected.len() >= 30, "{expected:#?}");
    assert!(expected.iter().any(|f| f.2 == "<commit message>"));
    let mut parts = Vec::new();
    let mut blobs = 0;
    for i in 1..=4 {
        let part = repo.tmp.path().join(format!("shard-{i}.jsonl"));
        let shard = format!("{i}/4");
        let out = repo.hush(&["history", "--shard", &shard, "--format", "jsonl"]);
        assert!(code(&out) <= 1, "{}", stderr(&out));
        no_token_in(&stdout(&out), &tokens);
        std::fs::write(&part, &out.stdout).unwrap();
        // Each shard walks every commit but reads only its quarter of the blobs.
        let json_out = repo.hush(&["history", "--shard", &shard, "--format", "json"]);
        let stats = &json(&json_out)["stats"];
        assert_eq!(stats["commits"], whole["stats"]["commits"]);
        let mine = stats["blobs"].as_u64().unwrap();
        assert!(
            mine < whole["stats"]["blobs"].as_u64().unwrap() / 2,
            "{stats}"
        );
        blobs += mine;
        parts.push(part);
    }
    assert_eq!(blobs, whole["stats"]["blobs"].as_u64().unwrap());
    let mut args = vec!["report", "merge", "--format", "json"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    let merged = repo.hush(&args);
    assert_eq!(code(&merged), 1, "{}", stderr(&merged));
    no_token_in(&stdout(&merged), &tokens);
    assert_eq!(identities(&json(&merged)), expected);
    // Merging a report with itself, or JSON with JSONL, changes nothing.
    let whole_file = repo.tmp.path().join("whole.json");
    std::fs::write(&whole_file, serde_json::to_vec(&whole).unwrap()).unwrap();
    let mut args = vec!["report", "merge", whole_file.to_str().unwrap()];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.push(whole_file.to_str().unwrap());
    let again = repo.hush(&args);
    assert_eq!(identities(&json(&again)), expected);
    // SARIF out carries every finding too.
    let sarif = repo.hush(&[
        "report",
        "merge",
        "--format",
        "sarif",
        parts[0].to_str().unwrap(),
    ]);
    let results = &json(&sarif)["runs"][0]["results"];
    let lines = std::fs::read_to_string(&parts[0]).unwrap().lines().count();
    assert_eq!(results.as_array().unwrap().len(), lines);
}

#[test]
fn a_bad_report_fails_the_merge_and_writes_nothing() {
    let repo = Repo::new();
    let good = repo.tmp.path().join("good.jsonl");
    std::fs::write(&good, "").unwrap();
    let bad = repo.tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"rule_id\": \"x\"}\n").unwrap();
    let out_file = repo.tmp.path().join("merged.json");
    let out = repo.hush(&[
        "report",
        "merge",
        "--output",
        out_file.to_str().unwrap(),
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.starts_with("hush: error:"), "{err}");
    assert!(
        err.contains("bad.jsonl") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out_file.exists());
    let missing = repo.hush(&["report", "merge", "no-such.json"]);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("no-such.json"));
    // Empty inputs merge into an empty report, exit 0.
    let empty = repo.hush(&["report", "merge", good.to_str().unwrap()]);
    assert_eq!(code(&empty), 0, "{}", stderr(&empty));
    assert_eq!(json(&empty)["findings"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_shard_specs_are_usage_errors() {
    let (repo, _) = generated_history(3);
    for bad in ["0/4", "5/4", "4", "x/y"] {
        let out = repo.hush(&["history", "--shard", bad]);
        assert_eq!(code(&out), 2, "{bad}");
        let err = stderr(&out);
        assert!(
            err.starts_with("hush: error:") && err.lines().count() == 1,
            "{err}"
        );
    }
}

fn state_run(repo: &Repo, state: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "history",
        "--state",
        state.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    repo.hush(&args)
}

#[test]
fn a_state_rescans_only_what_is_new() {
    let repo = Repo::new();
    repo.write("app.cfg", format!("token = \"{GITHUB}\"\n"));
    repo.add(&["app.cfg"]);
    let first = repo.commit_at("add", 1_000_000_100);
    let state = repo.tmp.path().join("hush.state");
    let out = state_run(&repo, &state, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(identities(&json(&out)).len(), 1);
    let recorded = std::fs::read(&state).unwrap();
    assert!(!String::from_utf8_lossy(&recorded).contains(GITHUB));
    // Nothing new: nothing reported, no blob read, no commit walked.
    let out = state_run(&repo, &state, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0);
    assert_eq!(doc["stats"]["blobs"], 0);
    assert_eq!(doc["stats"]["files"], 0);
    assert_eq!(doc["stats"]["commits"], 0);
    // A new commit with a new secret: only that one is reported, and only its blob read; an
    // edit of the file that still holds the old secret is not a new finding.
    repo.write("app.cfg", format!("# edited\ntoken = \"{GITHUB}\"\n"));
    repo.write("cloud.cfg", format!("aws = \"{AWS}\"\n"));
    repo.add(&["app.cfg", "cloud.cfg"]);
    let second = repo.commit_at("more", 1_000_000_200);
    let out = state_run(&repo, &state, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc = json(&out);
    let found = doc["findings"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["path"], "cloud.cfg");
    assert_eq!(found[0]["commit"], second.as_str());
    assert_eq!(doc["stats"]["commits"], 1);
    assert_eq!(doc["stats"]["blobs"], 2);
    // --report all: every finding known, each at the commit that introduced it.
    let out = state_run(&repo, &state, &["--report", "all"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let all: BTreeSet<(String, String)> = json(&out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["commit"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = BTreeSet::from([("app.cfg".into(), first), ("cloud.cfg".into(), second)]);
    assert_eq!(all, expected);
    // In human output too, with secrets redacted as ever.
    let out = repo.hush(&[
        "history",
        "--state",
        state.to_str().unwrap(),
        "--report",
        "all",
    ]);
    assert!(
        stdout(&out).contains("app.cfg:1:10: github-pat"),
        "{}",
        stdout(&out)
    );
    assert_eq!(code(&repo.hush(&["history", "--report", "all"])), 2);
}

#[test]
fn a_corrupt_foreign_or_mismatched_state_is_an_error() {
    let repo = Repo::new();
    repo.write("a.txt", "hello\n");
    repo.add(&["a.txt"]);
    repo.commit_at("init", 1_000_000_100);
    let state = repo.tmp.path().join("hush.state");
    assert_eq!(code(&state_run(&repo, &state, &[])), 0);
    let good = std::fs::read(&state).unwrap();
    let refused = |repo: &Repo, what: &str| {
        let out = state_run(repo, &state, &[]);
        assert_eq!(code(&out), 2, "{what}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.starts_with("hush: error:"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(what), "{err}");
        assert!(out.stdout.is_empty());
    };
    for cut in [good.len() - 1, good.len() / 2, 10] {
        std::fs::write(&state, &good[..cut]).unwrap();
        refused(&repo, "corrupt or truncated");
        // Left as it was: never replaced by a fresh full scan.
        assert_eq!(std::fs::read(&state).unwrap(), &good[..cut]);
    }
    let mut flipped = good.clone();
    flipped[50] ^= 0x40;
    std::fs::write(&state, &flipped).unwrap();
    refused(&repo, "corrupt or truncated");
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&state, &newer).unwrap();
    refused(&repo, "format version 99");
    std::fs::write(&state, b"{\"findings\": []}\n").unwrap();
    refused(&repo, "not a hush state file");
    // Another repository's state.
    std::fs::write(&state, &good).unwrap();
    let other = Repo::new();
    other.write("b.txt", "other\n");
    other.add(&["b.txt"]);
    other.commit_at("other", 1_000_000_100);
    refused(&other, "another repository");
    // Other settings: a config that changes what is found.
    repo.write(".hush.toml", "disable = [\"github-pat\"]\n");
    refused(&repo, "other settings");
    std::fs::remove_file(repo.dir.join(".hush.toml")).unwrap();
    assert_eq!(code(&state_run(&repo, &state, &[])), 0);
}

#[test]
fn an_incremental_scan_finds_what_a_full_scan_finds() {
    let (repo, tokens) = generated_history(400);
    let full = repo.hush(&["history", "--format", "json"]);
    let expected = identities(&json(&full));
    repo.git(&["branch", "-D", "side"]);
    let tip = repo.git(&["rev-parse", "main"]);
    // Split anywhere, even between a rename and the edit after it: the first part scanned
    // with a state, then the rest incrementally, find what one full scan finds.
    let renamed = repo.git(&["log", "-1", "--format=%H", "--diff-filter=R", "main"]);
    for (at, split) in ["main~200", renamed.as_str()].into_iter().enumerate() {
        repo.git(&["update-ref", "refs/heads/main", split]);
        let state = repo.tmp.path().join(format!("hush-{at}.state"));
        let first = state_run(&repo, &state, &[]);
        let first = identities(&json(&first));
        assert!(!first.is_empty() && first.len() < expected.len());
        repo.git(&["update-ref", "refs/heads/main", &tip]);
        let out = state_run(&repo, &state, &[]);
        no_token_in(&stdout(&out), &tokens);
        let new = identities(&json(&out));
        assert!(first.is_disjoint(&new), "{split}");
        let union: BTreeSet<_> = first.union(&new).cloned().collect();
        assert_eq!(union, expected, "{split}");
        let all = state_run(&repo, &state, &["--report", "all"]);
        assert_eq!(identities(&json(&all)), expected, "{split}");
    }
}
