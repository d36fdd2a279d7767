//! Allowances through git: the entry a blocked hook prints allows its secret in `staged`,
//! `history`, `pre-push` and `scan` whatever the file is later renamed to, and the advice shows
//! no secret, not even one in a file name.

mod common;

use common::*;

fn install(repo: &Repo, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["hook", "install"];
    args.extend_from_slice(extra);
    repo.hush(&args)
}

/// A clone of a bare remote holding one clean commit, with both hooks installed.
fn pushing() -> (Repo, Repo) {
    let origin = Repo::new();
    origin.write("README", "hello\n");
    origin.add(&["README"]);
    origin.commit_at("init", 1_000_000_000);
    let bare = origin.tmp.path().join("remote.git");
    origin.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    let work = origin.tmp.path().join("work");
    origin.git(&[
        "clone",
        "-q",
        bare.to_str().unwrap(),
        work.to_str().unwrap(),
    ]);
    let repo = origin.at(work);
    assert_eq!(code(&install(&repo, &["--pre-push"])), 0);
    (origin, repo)
}

/// The `.hushignore` entries a blocked hook's advice offers (`echo ENTRY >> .hushignore`).
fn advised_entries(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("echo "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn an_allowance_from_the_hook_advice_survives_renames_everywhere() {
    let (_origin, repo) = pushing();
    repo.write("a.py", format!("token = \"{GITHUB}\"\n"));
    repo.add(&["a.py"]);
    let out = repo.git_try(&["commit", "-m", "reviewed test token"]);
    assert!(!out.status.success(), "the commit went through");
    let entries = advised_entries(&out);
    assert_eq!(entries.len(), 1, "{}", stderr(&out));
    assert!(
        entries[0].starts_with("hush2:github-pat:"),
        "not a path-independent entry: {}",
        entries[0]
    );
    repo.write(".hushignore", format!("{}\n", entries[0]));
    repo.add(&[".hushignore"]);
    let out = repo.git_try(&["commit", "-q", "-m", "reviewed test token"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // An exact rename, then a copy with an edit: the secret stays allowed.
    repo.git(&["mv", "a.py", "b.py"]);
    let out = repo.git_try(&["commit", "-q", "-m", "rename"]);
    assert!(out.status.success(), "{}", stderr(&out));
    repo.write("c.py", format!("# copied\ntoken = \"{GITHUB}\"\n"));
    repo.add(&["c.py"]);
    let out = repo.git_try(&["commit", "-q", "-m", "copy"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for args in [&["scan", "."][..], &["history"], &["staged"]] {
        let out = repo.hush(args);
        assert_eq!(code(&out), 0, "{args:?}: {}{}", stdout(&out), stderr(&out));
    }
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // It allows that secret only.
    repo.write("d.py", format!("key = \"{AWS}\"\n"));
    repo.add(&["d.py"]);
    let out = repo.git_try(&["commit", "-q", "-m", "another"]);
    assert!(!out.status.success(), "another secret went through");
}

/// An entry from hush 0.1 (a path-bound fingerprint) in `.hushignore` still allows its finding.
#[test]
fn old_fingerprints_still_allow_in_history() {
    use sha2::{Digest, Sha256};
    let repo = Repo::new();
    repo.write("a.py", format!("t = \"{GITHUB}\"\n"));
    repo.add(&["a.py"]);
    repo.commit_at("leak", 1_000_000_100);
    let mut hasher = Sha256::new();
    hasher.update(b"github-pat\0a.py\0");
    hasher.update(Sha256::digest(GITHUB.as_bytes()));
    let old: String = hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(code(&repo.hush(&["history"])), 1);
    repo.write(".hushignore", format!("{old}\n"));
    let out = repo.hush(&["history"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

/// A file named after a token: the block message and its advice show the name masked (the
/// advice's comment would otherwise put the token into `.hushignore`). `assert_no_secret`,
/// run on every output, checks that no format shows it.
#[test]
fn the_hook_advice_masks_a_secret_in_a_file_name() {
    let (_origin, repo) = pushing();
    let name = format!("{GITHUB}.txt");
    repo.write(&name, format!("key = \"{AWS}\"\n"));
    repo.add(&[&name]);
    let out = repo.git_try(&["commit", "-m", "leak"]);
    assert!(!out.status.success(), "the commit went through");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("ghp_….txt:1:8: aws-access-key-id"), "{all}");
    assert!(all.contains("# ghp_….txt:1 aws-access-key-id"), "{all}");
    for format in ["human", "json", "jsonl", "sarif"] {
        let out = repo.hush(&["staged", "--format", format]);
        assert_eq!(code(&out), 1, "{format}");
    }
    repo.git(&["commit", "-q", "--no-verify", "-m", "leak"]);
    let out = repo.git_try(&["push", "origin", "main"]);
    assert!(!out.status.success(), "the push went through");
    for format in ["human", "json", "jsonl", "sarif"] {
        let out = repo.hush(&["history", "--format", format]);
        assert_eq!(code(&out), 1, "{format}");
    }
}
