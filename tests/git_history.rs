//! `hush history`: every commit's added blobs, each scanned once, each finding attributed to the
//! oldest commit that introduced it.

mod common;

use common::*;

fn secret_line(secret: &str) -> String {
    format!("token = \"{secret}\"\n")
}

/// main: init (t=100) ─ main work (t=400) ─ merge (t=500)
/// side:        └ add secret (t=200) ─ delete it (t=300) ┘
/// plus a later commit on `other` (t=600) that re-adds the same blob at the same path.
fn side_branch_history() -> (Repo, String) {
    let repo = Repo::new();
    repo.write("README", "hello\n");
    repo.add(&["README"]);
    repo.commit_at("init", 1_000_000_100);
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("conf/keys.txt", format!("# keys\n{}", secret_line(GITHUB)));
    repo.add(&["conf/keys.txt"]);
    let leak = repo.commit_at("add keys", 1_000_000_200);
    repo.git(&["rm", "-q", "conf/keys.txt"]);
    repo.commit_at("remove keys", 1_000_000_300);
    repo.git(&["checkout", "-q", "main"]);
    repo.write("main.txt", "main\n");
    repo.add(&["main.txt"]);
    repo.commit_at("main work", 1_000_000_400);
    let out = git_cmd(&repo.dir)
        .args(["merge", "-q", "--no-edit", "side"])
        .env("GIT_AUTHOR_DATE", "@1000000500 +0000")
        .env("GIT_COMMITTER_DATE", "@1000000500 +0000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    repo.git(&["checkout", "-q", "-b", "other"]);
    repo.write("conf/keys.txt", format!("# keys\n{}", secret_line(GITHUB)));
    repo.add(&["conf/keys.txt"]);
    repo.commit_at("re-add keys", 1_000_000_600);
    repo.git(&["checkout", "-q", "main"]);
    (repo, leak)
}

#[test]
fn a_secret_added_on_a_side_branch_and_deleted_is_attributed_to_its_commit() {
    let (repo, leak) = side_branch_history();
    let out = repo.hush(&["history", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f["rule_id"], "github-pat");
    assert_eq!(f["path"], "conf/keys.txt");
    assert_eq!(f["line"], 2);
    assert_eq!(f["commit"], leak.as_str());
    assert_eq!(f["author"], "Test Author <author@example.com>");
    assert_eq!(f["date"], "2001-09-09T01:50:00Z");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["commits"], 6);
    // `--all` is the default spelled out.
    assert_eq!(
        findings(&repo.hush(&["history", "--all", "--format", "json"])).len(),
        1
    );
}

#[test]
fn human_output_names_the_commit_and_author() {
    let (repo, leak) = side_branch_history();
    let out = repo.hush(&["history"]);
    let text = stdout(&out);
    assert!(text.contains("conf/keys.txt:2:10: github-pat"), "{text}");
    assert!(
        text.contains(&format!("commit {} by Test Author", &leak[..12])),
        "{text}"
    );
    assert!(text.contains("6 commits"), "{text}");
}

#[test]
fn sarif_results_carry_the_commit() {
    let (repo, leak) = side_branch_history();
    let out = repo.hush(&["history", "--format", "sarif"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "github-pat");
    assert_eq!(result["properties"]["commit"], leak.as_str());
    assert_eq!(
        result["properties"]["author"],
        "Test Author <author@example.com>"
    );
}

#[test]
fn jsonl_lines_carry_the_commit() {
    let (repo, leak) = side_branch_history();
    let out = repo.hush(&["history", "--format", "jsonl"]);
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["commit"], leak.as_str());
}

#[test]
fn a_range_scans_only_its_commits() {
    let repo = Repo::new();
    repo.write("old.txt", secret_line(GITHUB));
    repo.add(&["old.txt"]);
    repo.commit_at("old", 1_000_000_100);
    repo.git(&["tag", "v1"]);
    repo.write("new.txt", secret_line(AWS));
    repo.add(&["new.txt"]);
    let new = repo.commit_at("new", 1_000_000_200);
    let out = repo.hush(&["history", "v1..HEAD", "--format", "json"]);
    assert_eq!(code(&out), 1);
    let found = findings(&out);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["path"], "new.txt");
    assert_eq!(found[0]["commit"], new.as_str());
    assert_eq!(code(&repo.hush(&["history", "HEAD..HEAD"])), 0);
    let out = repo.hush(&["history", "no-such-ref"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).starts_with("hush: error:"), "{}", stderr(&out));
}

#[test]
fn a_range_is_not_blamed_for_secrets_it_inherits() {
    let repo = Repo::new();
    repo.write("app.cfg", secret_line(GITHUB));
    repo.add(&["app.cfg"]);
    repo.commit_at("add", 1_000_000_100);
    repo.git(&["tag", "base"]);
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.cfg", secret_line(AWS));
    repo.add(&["side.cfg"]);
    repo.commit_at("side", 1_000_000_150);
    repo.git(&["checkout", "-q", "main"]);
    // An edit of a file that already held the secret does not introduce it.
    repo.write("app.cfg", format!("# edited\n{}", secret_line(GITHUB)));
    repo.add(&["app.cfg"]);
    repo.commit_at("edit", 1_000_000_200);
    let out = repo.hush(&["history", "base..HEAD"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // A secret the range does add to that file is still reported, at its commit.
    let both = format!("# edited\n{}{}", secret_line(GITHUB), secret_line(AWS));
    repo.write("app.cfg", both);
    repo.add(&["app.cfg"]);
    let added = repo.commit_at("add aws", 1_000_000_300);
    // A merge brings in a side branch from outside the range: what the side had is not new.
    let out = git_cmd(&repo.dir)
        .args(["merge", "-q", "--no-edit", "side"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = repo.hush(&["history", "side..HEAD", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["path"], "app.cfg");
    assert_eq!(found[0]["line"], 3);
    assert_eq!(found[0]["commit"], added.as_str());
}

#[test]
fn a_blob_is_scanned_once_but_reported_at_each_path() {
    let repo = Repo::new();
    repo.write("a.txt", secret_line(GITHUB));
    repo.add(&["a.txt"]);
    let first = repo.commit_at("a", 1_000_000_100);
    repo.write("b/copy.txt", secret_line(GITHUB));
    repo.add(&["b/copy.txt"]);
    let second = repo.commit_at("copy", 1_000_000_200);
    let out = repo.hush(&["history", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["blobs"], 1);
    let found = findings(&out);
    let pairs: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["commit"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        vec![("a.txt", first.as_str()), ("b/copy.txt", second.as_str())]
    );
    // The human summary counts in words that agree with the numbers.
    let human = stdout(&repo.hush(&["history", "--no-color"]));
    assert!(
        human.contains(", 2 commits, 1 blob in "),
        "unexpected summary: {human}"
    );
}

#[test]
fn allowlists_and_baselines_apply() {
    let repo = Repo::new();
    repo.write("a.py", format!("t = \"{GITHUB}\"  # hush:allow\n"));
    repo.write("b.py", secret_line(AWS));
    repo.add(&["a.py", "b.py"]);
    repo.commit_at("both", 1_000_000_100);
    let out = repo.hush(&["history", "--format", "json"]);
    let found = findings(&out);
    assert_eq!(found.len(), 1);
    let fingerprint = found[0]["fingerprint"].as_str().unwrap().to_string();
    let baseline = repo.tmp.path().join("baseline.json");
    std::fs::write(
        &baseline,
        serde_json::json!({ "fingerprints": [fingerprint] }).to_string(),
    )
    .unwrap();
    let out = repo.hush(&["history", "--baseline", baseline.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    repo.write(".hushignore", format!("{fingerprint}\n"));
    assert_eq!(code(&repo.hush(&["history"])), 0);
}

#[test]
fn bare_repositories_and_shallow_clones() {
    let (repo, leak) = side_branch_history();
    let bare = repo.tmp.path().join("bare.git");
    repo.git(&[
        "clone",
        "-q",
        "--bare",
        "--mirror",
        ".",
        bare.to_str().unwrap(),
    ]);
    let out = repo.hush(&[
        "history",
        "--repo",
        bare.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(findings(&out)[0]["commit"], leak.as_str());

    let shallow = repo.tmp.path().join("shallow");
    let url = format!("file://{}", repo.dir.display());
    repo.git(&[
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "other",
        &url,
        shallow.to_str().unwrap(),
    ]);
    let out = repo.hush(&[
        "history",
        "--repo",
        shallow.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(stderr(&out).contains("shallow clone"), "{}", stderr(&out));
    // It scans what it has: the one commit, as if it were the root.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["path"], "conf/keys.txt");
}

#[test]
fn a_corrupt_object_is_an_error_naming_it() {
    let repo = Repo::new();
    repo.write("a.txt", "fine\n");
    repo.add(&["a.txt"]);
    repo.commit_at("one", 1_000_000_100);
    let blob = repo.git(&["rev-parse", "HEAD:a.txt"]);
    let file = repo
        .dir
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    let mut permissions = std::fs::metadata(&file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&file, permissions).unwrap();
    std::fs::write(&file, b"this is not zlib data").unwrap();
    let out = repo.hush(&["history"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let named = format!("hush: error: cannot read blob {blob} of 'a.txt' in commit");
    assert!(stderr(&out).contains(&named), "{}", stderr(&out));
}

#[test]
fn an_empty_repository_has_no_history() {
    let repo = Repo::new();
    let out = repo.hush(&["history"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_secret_kept_through_later_edits_is_reported_once_at_its_first_commit() {
    let repo = Repo::new();
    repo.write("app.cfg", secret_line(GITHUB));
    repo.add(&["app.cfg"]);
    let first = repo.commit_at("add", 1_000_000_100);
    for n in 0..3 {
        repo.write("app.cfg", format!("# edit {n}\n{}", secret_line(GITHUB)));
        repo.add(&["app.cfg"]);
        repo.commit_at("edit", 1_000_000_200 + n);
    }
    let out = repo.hush(&["history", "--format", "json"]);
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["commit"], first.as_str());
    assert_eq!(found[0]["line"], 1);
}

/// A rename carries a secret to a new path without introducing it: the full history reports it
/// once, where it was added, not again at the rename or at later edits of the renamed file. A
/// rename out of an allowlisted path is where the secret first counts, so it is reported there.
#[test]
fn a_renamed_secret_is_reported_once_where_it_was_added() {
    let repo = Repo::new();
    repo.write(".hush.toml", "[allow]\npaths = [\"fixtures/**\"]\n");
    repo.write("conf/keys.txt", format!("# keys\n{}", secret_line(GITHUB)));
    repo.write("fixtures/token.txt", secret_line(AWS));
    repo.add(&[".hush.toml", "conf/keys.txt", "fixtures/token.txt"]);
    let added = repo.commit_at("add", 1_000_000_100);
    repo.git(&["mv", "conf/keys.txt", "conf/prod-keys.txt"]);
    std::fs::create_dir(repo.dir.join("src")).unwrap();
    repo.git(&["mv", "fixtures/token.txt", "src/token.txt"]);
    let renamed = repo.commit_at("rename", 1_000_000_200);
    repo.write(
        "conf/prod-keys.txt",
        format!("# production keys\n{}", secret_line(GITHUB)),
    );
    repo.add(&["conf/prod-keys.txt"]);
    repo.commit_at("edit", 1_000_000_300);

    let out = repo.hush(&["history", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut found: Vec<(String, String)> = findings(&out)
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["commit"].as_str().unwrap().into(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("conf/keys.txt".to_string(), added),
            ("src/token.txt".to_string(), renamed),
        ]
    );
}

#[test]
fn progress_is_shown_on_a_terminal_and_never_in_a_pipe() {
    let (repo, _) = side_branch_history();
    // Piped (as in every other test here): no progress line.
    let piped = repo.hush(&["history", "--format", "json"]);
    assert!(
        !stderr(&piped).contains("blobs scanned"),
        "{}",
        stderr(&piped)
    );
    // On a terminal: `script` gives hush a pseudo-terminal for stdout and stderr.
    let command = format!(
        "{} history --repo {} --format json",
        hush_bin().display(),
        repo.dir.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script(1) from util-linux");
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(
        all.contains("commits,") && all.contains("blobs scanned") && all.contains("MB/s"),
        "{all}"
    );
    assert!(!all.contains(GITHUB), "the secret must not appear");
}

#[test]
fn files_over_the_size_limit_are_skipped_counted_and_named_in_the_summary() {
    let repo = Repo::new();
    repo.write(
        "big.txt",
        format!("{}\ntoken = \"{GITHUB}\"\n", "x".repeat(4000)),
    );
    repo.add(&["big.txt"]);
    repo.commit_at("big", 1_000_000_000);
    let out = repo.hush(&["history", "--max-file-size", "1000", "--no-color"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("skipped 'big.txt'"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1 file not read (over --max-file-size)"),
        "{}",
        stdout(&out)
    );
    // The pre-push guard reads it all the same, and blocks.
    let sha = repo.git(&["rev-parse", "HEAD"]);
    let zero = "0".repeat(40);
    let push = repo.hush_with(
        &[
            "hook",
            "pre-push",
            "origin",
            "/nowhere",
            "--max-file-size",
            "1000",
        ],
        Some(&format!("refs/heads/main {sha} refs/heads/main {zero}\n")),
    );
    assert_eq!(code(&push), 1, "{}", stderr(&push));
}

#[test]
fn commit_messages_and_identities_are_scanned_and_never_printed_whole() {
    let repo = Repo::new();
    repo.write("a.txt", "clean\n");
    repo.add(&["a.txt"]);
    repo.commit_at(&format!("deploy with token {GITHUB}"), 1_000_000_000);
    // A committer named after a token: the name is a finding, and is never printed whole.
    repo.git(&["config", "user.name", AWS]);
    repo.write("b.txt", format!("token = \"{GITHUB}\"\n"));
    repo.add(&["b.txt"]);
    let named = repo.commit_at("add b", 1_000_000_100);
    let out = repo.hush(&["history", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut sources: Vec<(String, String)> = findings(&out)
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap().to_string();
            (path, f["rule_id"].as_str().unwrap().to_string())
        })
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        vec![
            ("<author>".into(), "aws-access-key-id".into()),
            ("<commit message>".into(), "github-pat".into()),
            ("<committer>".into(), "aws-access-key-id".into()),
            ("b.txt".into(), "github-pat".into()),
        ]
    );
    let b = findings(&out)
        .into_iter()
        .find(|f| f["path"] == "b.txt")
        .unwrap();
    assert_eq!(b["commit"], named.as_str());
    assert!(b["author"].as_str().unwrap().starts_with("AKIA…"), "{b}");
    // Every format (assert_no_secret checks each run's output for the full secrets).
    for format in ["human", "jsonl", "sarif"] {
        let out = repo.hush(&["history", "--format", format]);
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
    }
}

#[test]
fn a_range_is_not_blamed_for_a_secret_it_inherits_in_a_file_whose_name_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::new();
    let name = std::ffi::OsStr::from_bytes(b"conf\xff.txt");
    std::fs::write(
        repo.dir.join(name),
        format!("token = \"{GITHUB}\"\nx = 1\n"),
    )
    .unwrap();
    repo.git(&["add", "-A"]);
    let base = repo.commit_at("secret", 1_000_000_000);
    std::fs::write(
        repo.dir.join(name),
        format!("token = \"{GITHUB}\"\nx = 2\n"),
    )
    .unwrap();
    repo.git(&["add", "-A"]);
    repo.commit_at("edit", 1_000_000_100);
    let out = repo.hush(&["history", "--format", "json", &format!("{base}..HEAD")]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}
