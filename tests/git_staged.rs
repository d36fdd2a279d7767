//! `hush staged`: what the index will commit, judged against HEAD, never the working tree.

mod common;

use common::*;

fn staged(repo: &Repo) -> std::process::Output {
    repo.hush(&["staged", "--format", "json"])
}

fn line(secret: &str) -> String {
    format!("token = \"{secret}\"\n")
}

#[test]
fn unborn_head_reports_every_line_of_a_new_file() {
    let repo = Repo::new();
    repo.write("src/config.py", format!("a = 1\n{}", line(GITHUB)));
    repo.add(&["src/config.py"]);
    let out = staged(&repo);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        summary(&out),
        vec![("src/config.py".into(), 2, "github-pat".into())]
    );
    let f = &findings(&out)[0];
    assert!(f.get("commit").is_none(), "staged findings carry no commit");
    assert_eq!(f["secret"], "ghp_…");
}

#[test]
fn clean_index_and_empty_repository_pass() {
    let repo = Repo::new();
    assert_eq!(code(&staged(&repo)), 0);
    repo.write("a.txt", "hello\n");
    repo.add(&["a.txt"]);
    assert_eq!(code(&staged(&repo)), 0);
    repo.commit_at("one", 1_000_000_000);
    let out = repo.hush(&["staged"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("no secrets found"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn only_lines_the_change_adds_are_reported() {
    let repo = Repo::new();
    repo.write("app.cfg", format!("{}x = 1\n", line(GITHUB)));
    repo.add(&["app.cfg"]);
    repo.commit_at("old secret", 1_000_000_000);
    // An unrelated edit to a file with an already-committed secret is not blocked.
    repo.write("app.cfg", format!("{}x = 2\ny = 3\n", line(GITHUB)));
    repo.add(&["app.cfg"]);
    assert_eq!(code(&staged(&repo)), 0);
    // A new secret is, and only its line is reported.
    repo.write("app.cfg", format!("{}x = 2\n{}", line(GITHUB), line(AWS)));
    repo.add(&["app.cfg"]);
    let out = staged(&repo);
    assert_eq!(code(&out), 1);
    assert_eq!(
        summary(&out),
        vec![("app.cfg".into(), 3, "aws-access-key-id".into())]
    );
}

#[test]
fn partial_staging_is_judged_by_the_index() {
    let repo = Repo::new();
    repo.write("a.txt", "base\n");
    repo.add(&["a.txt"]);
    repo.commit_at("base", 1_000_000_000);
    // Clean change staged, secret only in the working tree: allowed.
    repo.write("a.txt", "base\nclean\n");
    repo.add(&["a.txt"]);
    repo.write("a.txt", format!("base\nclean\n{}", line(GITHUB)));
    assert_eq!(code(&staged(&repo)), 0);
    // Secret staged, then removed from the working tree: still blocked.
    repo.add(&["a.txt"]);
    repo.write("a.txt", "base\nclean\n");
    let out = staged(&repo);
    assert_eq!(code(&out), 1);
    assert_eq!(
        summary(&out),
        vec![("a.txt".into(), 3, "github-pat".into())]
    );
}

#[test]
fn sensitive_files_block_by_name() {
    let repo = Repo::new();
    repo.write("README", "hi\n");
    repo.add(&["README"]);
    repo.commit_at("readme", 1_000_000_000);
    repo.write(".env", "");
    repo.write("deploy/.env.production", "DEBUG=0\n");
    repo.write(".env.example", "KEY=\n");
    repo.add(&[".env", "deploy/.env.production", ".env.example"]);
    let out = staged(&repo);
    assert_eq!(code(&out), 1);
    assert_eq!(
        summary(&out),
        vec![
            (".env".into(), 0, "file-dotenv".into()),
            ("deploy/.env.production".into(), 1, "file-dotenv".into()),
        ]
    );
}

#[test]
fn renames_and_deletions_add_nothing_but_copies_do() {
    let repo = Repo::new();
    repo.write("old/secret.txt", line(GITHUB));
    repo.write(".env", "A=1\n");
    repo.write("gone.txt", line(AWS));
    repo.add(&["old/secret.txt", ".env", "gone.txt"]);
    repo.commit_at("committed long ago", 1_000_000_000);
    std::fs::create_dir_all(repo.dir.join("new")).unwrap();
    std::fs::create_dir_all(repo.dir.join("config")).unwrap();
    repo.git(&["mv", "old/secret.txt", "new/moved.txt"]);
    repo.git(&["mv", ".env", "config/.env"]);
    repo.git(&["rm", "-q", "gone.txt"]);
    let out = staged(&repo);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // A copy adds its lines, and a copied `.env` is a new one. Which of two identical new files
    // is the rename and which the copy is as `git diff --cached` pairs them: the first in path
    // order takes the rename (`app/.env`, `copy.txt`), so the other is reported.
    std::fs::copy(repo.dir.join("new/moved.txt"), repo.dir.join("copy.txt")).unwrap();
    std::fs::create_dir_all(repo.dir.join("app")).unwrap();
    std::fs::copy(repo.dir.join("config/.env"), repo.dir.join("app/.env")).unwrap();
    repo.add(&["copy.txt", "app/.env"]);
    let status = repo.git(&["diff", "--cached", "--name-status"]);
    assert!(status.contains("A\tconfig/.env") && status.contains("A\tnew/moved.txt"));
    let out = staged(&repo);
    assert_eq!(
        summary(&out),
        vec![
            ("config/.env".into(), 1, "file-dotenv".into()),
            ("new/moved.txt".into(), 1, "github-pat".into()),
        ]
    );
    // A rename into a sensitive name is new exposure, too.
    repo.git(&["rm", "-q", "--cached", "copy.txt", "app/.env"]);
    repo.git(&["mv", "new/moved.txt", "id_rsa"]);
    let out = staged(&repo);
    assert_eq!(
        summary(&out),
        vec![("id_rsa".into(), 1, "file-ssh-private-key".into())]
    );
}

#[test]
fn binary_files_are_checked_by_name_only() {
    let repo = Repo::new();
    let mut blob = b"\0\x01\x02binary".to_vec();
    blob.extend_from_slice(GITHUB.as_bytes());
    repo.write("image.bin", &blob);
    repo.write("keys/store.p12", &blob);
    repo.add(&["image.bin", "keys/store.p12"]);
    let out = staged(&repo);
    assert_eq!(
        summary(&out),
        vec![("keys/store.p12".into(), 1, "file-pkcs12".into())]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_and_submodules_are_skipped() {
    let repo = Repo::new();
    std::os::unix::fs::symlink(format!("target-{GITHUB}"), repo.dir.join("link")).unwrap();
    repo.add(&["link"]);
    let head = {
        repo.write("x", "x\n");
        repo.add(&["x"]);
        repo.commit_at("x", 1_000_000_000)
    };
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{head},vendor/sub"),
    ]);
    assert_eq!(code(&staged(&repo)), 0);
}

#[test]
fn lfs_pointers_are_skipped_but_lookalikes_are_not() {
    let repo = Repo::new();
    let pointer = "version https://git-lfs.github.com/spec/v1\n\
                   oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n\
                   size 12345\n";
    repo.write("assets/model.bin", pointer);
    repo.add(&["assets/model.bin"]);
    assert_eq!(code(&staged(&repo)), 0);
    repo.write("fake.txt", format!("{pointer}{}", line(GITHUB)));
    repo.add(&["fake.txt"]);
    assert_eq!(
        summary(&staged(&repo)),
        vec![("fake.txt".into(), 4, "github-pat".into())]
    );
}

#[cfg(unix)]
#[test]
fn paths_with_spaces_and_non_utf8_names() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::new();
    repo.write("dir with space/my file.txt", line(GITHUB));
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(repo.dir.join(odd), line(AWS)).unwrap();
    repo.git(&["add", "-A"]);
    let out = staged(&repo);
    assert_eq!(code(&out), 1);
    let found = summary(&out);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "caf\u{fffd}.txt");
    assert_eq!(found[1].0, "dir with space/my file.txt");
}

#[test]
fn crlf_line_endings() {
    let repo = Repo::new();
    repo.write("win.ini", format!("a=1\n{}", line(GITHUB)));
    repo.add(&["win.ini"]);
    repo.commit_at("lf", 1_000_000_000);
    // Converting to CRLF re-adds no line.
    repo.write("win.ini", format!("a=1\r\ntoken = \"{GITHUB}\"\r\nb=2\r\n"));
    repo.add(&["win.ini"]);
    assert_eq!(code(&staged(&repo)), 0);
    repo.write(
        "win.ini",
        format!("a=1\r\ntoken = \"{GITHUB}\"\r\naws = \"{AWS}\"\r\n"),
    );
    repo.add(&["win.ini"]);
    let out = staged(&repo);
    let f = &findings(&out)[0];
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(3), Some(8))
    );
    assert_eq!(findings(&out).len(), 1);
}

#[test]
fn files_over_the_size_limit_are_still_read_by_the_guard() {
    // A commit guard never passes content it did not read: `--max-file-size` does not make it
    // skip a staged file (it did, and an 11 MB file carried a token through with a warning).
    let repo = Repo::new();
    let mut big = "x".repeat(4000);
    big.push('\n');
    big.push_str(&line(GITHUB));
    repo.write("big.txt", &big);
    repo.add(&["big.txt"]);
    let out = repo.hush(&["staged", "--format", "json", "--max-file-size", "1000"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        summary(&out),
        vec![("big.txt".into(), 2, "github-pat".into())]
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["skipped"], 0);
    let hook = repo.hush(&["hook", "pre-commit", "--max-file-size", "1000"]);
    assert_eq!(code(&hook), 1, "{}", stderr(&hook));
}

#[test]
fn allow_comments_and_hushignore_apply() {
    let repo = Repo::new();
    repo.write("a.py", format!("t = \"{GITHUB}\"  # hush:allow\n"));
    repo.add(&["a.py"]);
    assert_eq!(code(&staged(&repo)), 0);
    repo.write("b.py", line(AWS));
    repo.add(&["b.py"]);
    let out = staged(&repo);
    let fingerprint = findings(&out)[0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    repo.write(".hushignore", format!("# reviewed\n{fingerprint}\n"));
    assert_eq!(code(&staged(&repo)), 0);
}

#[test]
fn merge_in_progress_reports_only_what_no_parent_has() {
    let repo = Repo::new();
    repo.write("shared.txt", "one\n");
    repo.add(&["shared.txt"]);
    repo.commit_at("base", 1_000_000_000);
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.txt", line(GITHUB));
    repo.write("shared.txt", "one\nside\n");
    repo.add(&["side.txt", "shared.txt"]);
    repo.commit_at("side secret", 1_000_000_100);
    repo.git(&["checkout", "-q", "main"]);
    repo.write("shared.txt", "one\nmain\n");
    repo.add(&["shared.txt"]);
    repo.commit_at("main", 1_000_000_200);
    let merge = git_cmd(&repo.dir)
        .args(["merge", "--no-commit", "side"])
        .output()
        .unwrap();
    assert!(!merge.status.success(), "expected a conflict");
    // What the side branch brought was committed there: not new in this merge.
    repo.write("shared.txt", "one\nmain\nside\n");
    repo.add(&["shared.txt"]);
    let out = staged(&repo);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // A secret added while resolving the conflict is.
    repo.write("shared.txt", format!("one\nmain\nside\n{}", line(AWS)));
    repo.add(&["shared.txt"]);
    assert_eq!(
        summary(&staged(&repo)),
        vec![("shared.txt".into(), 4, "aws-access-key-id".into())]
    );
}

#[test]
fn human_output_names_file_line_rule_and_redacts() {
    let repo = Repo::new();
    repo.write("k.txt", line(GITHUB));
    repo.add(&["k.txt"]);
    let out = repo.hush(&["staged"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("k.txt:1:10: github-pat"), "{text}");
    assert!(text.contains("ghp_…"), "{text}");
}

#[test]
fn outside_a_repository_is_an_error() {
    let tmp = tempfile::TempDir::new().unwrap();
    let out = run_hush(tmp.path(), ["staged".as_ref()], None);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).starts_with("hush: error:"), "{}", stderr(&out));
}

#[test]
fn changes_deep_in_unchanged_trees_are_found() {
    let repo = Repo::new();
    for dir in ["a", "a/b", "a/b/c", "z", "m/n"] {
        for i in 0..3 {
            repo.write(format!("{dir}/f{i}.txt"), format!("{dir} {i}\n"));
        }
    }
    repo.git(&["add", "-A"]);
    repo.commit_at("tree", 1_000_000_000);
    repo.write("a/b/c/f1.txt", format!("a/b/c 1\n{}", line(GITHUB)));
    repo.write("m/new.txt", line(AWS));
    repo.git(&["add", "-A"]);
    repo.git(&["rm", "-q", "z/f0.txt"]);
    assert_eq!(
        summary(&staged(&repo)),
        vec![
            ("a/b/c/f1.txt".into(), 2, "github-pat".into()),
            ("m/new.txt".into(), 1, "aws-access-key-id".into()),
        ]
    );
}

#[test]
fn a_copy_of_content_in_an_untouched_directory_is_new() {
    let repo = Repo::new();
    repo.write("lib/deep/keys.txt", line(GITHUB));
    repo.write("top.txt", "top\n");
    repo.git(&["add", "-A"]);
    repo.commit_at("keys", 1_000_000_000);
    // lib/ stays untouched (its cache-tree entry valid); the copy lands at the root.
    repo.write("copied.txt", line(GITHUB));
    repo.add(&["copied.txt"]);
    assert_eq!(
        summary(&staged(&repo)),
        vec![("copied.txt".into(), 1, "github-pat".into())]
    );
    // A move out of it is a rename: nothing new.
    repo.git(&["rm", "-q", "--cached", "copied.txt"]);
    repo.git(&["mv", "lib/deep/keys.txt", "keys.txt"]);
    assert_eq!(code(&staged(&repo)), 0);
}

#[test]
fn index_versions_and_split_indexes_read_alike() {
    // Version 4 (path-compressed) and split indexes are read by gix; versions 2 and 3 by the
    // lean reader. All must agree.
    for setup in [
        &["update-index", "--index-version", "2"][..],
        &["update-index", "--index-version", "3"],
        &["update-index", "--index-version", "4"],
        &["update-index", "--split-index"],
    ] {
        let repo = Repo::new();
        for dir in ["a", "b/c", "d"] {
            repo.write(format!("{dir}/keep.txt"), format!("{dir}\n"));
        }
        repo.git(&["add", "-A"]);
        repo.commit_at("base", 1_000_000_000);
        repo.git(setup);
        repo.write("b/c/new.txt", line(GITHUB));
        repo.write("d/keep.txt", format!("d\n{}", line(AWS)));
        repo.git(&["add", "-A"]);
        // An extended-flags entry (version 3+): intent-to-add.
        repo.write("later.txt", "later\n");
        repo.git(&["add", "-N", "later.txt"]);
        assert_eq!(
            summary(&staged(&repo)),
            vec![
                ("b/c/new.txt".into(), 1, "github-pat".into()),
                ("d/keep.txt".into(), 2, "aws-access-key-id".into()),
            ],
            "{setup:?}"
        );
    }
}

#[test]
fn paths_longer_than_the_index_length_field() {
    // The index stores name lengths in 12 bits; longer paths are found by their terminator.
    let repo = Repo::new();
    let dir: Vec<String> = (0..22)
        .map(|i| format!("{i:02}{}", "d".repeat(200)))
        .collect();
    let long = format!("{}/secret.txt", dir.join("/"));
    assert!(long.len() > 4095);
    // Too long for the file system's PATH_MAX here: staged straight into the index.
    repo.write("blob.tmp", line(GITHUB));
    let blob = repo.git(&["hash-object", "-w", "blob.tmp"]);
    std::fs::remove_file(repo.dir.join("blob.tmp")).unwrap();
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},{long}"),
    ]);
    repo.write("zz.txt", line(AWS));
    repo.add(&["zz.txt"]);
    let found = summary(&staged(&repo));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, long);
    assert_eq!(found[1].0, "zz.txt");
}

#[test]
fn unresolved_conflicts_are_warned_about() {
    let repo = Repo::new();
    repo.write("c.txt", "base\n");
    repo.add(&["c.txt"]);
    repo.commit_at("base", 1_000_000_000);
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("c.txt", "side\n");
    repo.add(&["c.txt"]);
    repo.commit_at("side", 1_000_000_100);
    repo.git(&["checkout", "-q", "main"]);
    repo.write("c.txt", "main\n");
    repo.add(&["c.txt"]);
    repo.commit_at("main", 1_000_000_200);
    let merge = git_cmd(&repo.dir).args(["merge", "side"]).output().unwrap();
    assert!(!merge.status.success());
    let out = staged(&repo);
    assert_eq!(code(&out), 0);
    assert!(
        stderr(&out).contains("'c.txt' has unresolved merge conflicts"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_cache_tree_state_judges_the_same_change_alike() {
    // The staged diff skips directories the cache-tree shows unchanged; with the cache-tree
    // valid, partly valid or absent, the same change gives the same findings.
    let repo = Repo::new();
    for d in 0..6 {
        for f in 0..5 {
            repo.write(format!("d{d}/s{}/f{f}.txt", f % 2), format!("x = {d}{f}\n"));
        }
    }
    repo.add(&["."]);
    repo.commit_at("tree", 1_000_000_000);
    let stage = || {
        repo.write("d3/s1/f1.txt", format!("x = 31\n{}", line(GITHUB)));
        repo.write("d5/new.txt", line(AWS));
        repo.add(&["d3/s1/f1.txt", "d5/new.txt"]);
    };
    let expected = vec![
        ("d3/s1/f1.txt".to_string(), 2, "github-pat".to_string()),
        ("d5/new.txt".to_string(), 1, "aws-access-key-id".to_string()),
    ];
    // Valid: a fresh read-tree writes the whole cache-tree; staging invalidates only two paths.
    repo.git(&["read-tree", "HEAD"]);
    stage();
    assert_eq!(summary(&staged(&repo)), expected, "cache-tree valid");
    // Partly valid: touching one file in other directories invalidates those as well.
    repo.git(&["read-tree", "HEAD"]);
    for d in [0, 2, 4] {
        repo.write(format!("d{d}/s0/f0.txt"), format!("x = {d}0\n"));
        repo.git(&[
            "update-index",
            "--add",
            "--force-remove",
            &format!("d{d}/s0/f0.txt"),
        ]);
        repo.add(&[&format!("d{d}/s0/f0.txt")]);
    }
    stage();
    assert_eq!(summary(&staged(&repo)), expected, "cache-tree partly valid");
    // Absent: an index built entry by entry has no cache-tree at all.
    std::fs::remove_file(repo.dir.join(".git/index")).unwrap();
    let listing = repo.git(&["ls-tree", "-r", "HEAD"]);
    let out = git_cmd(&repo.dir)
        .args(["update-index", "--index-info"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{listing}\n").as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(out.success());
    stage();
    assert_eq!(summary(&staged(&repo)), expected, "no cache-tree");
}

#[test]
fn large_unchanged_directories_are_stepped_over_exactly() {
    // Unchanged directories are passed over by their cache-tree counts, jumping between
    // checkpoints every 1,024 entries: changes on either side of them must still be found.
    let repo = Repo::new();
    for d in ["a", "m", "z"] {
        for f in 0..1500 {
            repo.write(format!("{d}/f{f:04}.txt"), format!("{d} {f}\n"));
        }
    }
    repo.write("b.txt", "b\n");
    repo.add(&["."]);
    repo.commit_at("tree", 1_000_000_000);
    repo.git(&["read-tree", "HEAD"]);
    repo.write("b.txt", line(GITHUB));
    repo.write("m/f0700.txt", line(AWS));
    repo.write("zz.txt", line(GITHUB));
    repo.add(&["b.txt", "m/f0700.txt", "zz.txt"]);
    assert_eq!(
        summary(&staged(&repo)),
        vec![
            ("b.txt".to_string(), 1, "github-pat".to_string()),
            (
                "m/f0700.txt".to_string(),
                1,
                "aws-access-key-id".to_string()
            ),
            ("zz.txt".to_string(), 1, "github-pat".to_string()),
        ]
    );
}
