//! The installed hooks, driven by real `git commit` and `git push` to a local bare remote.

mod common;

use std::path::Path;

use common::*;

const SIGNATURE: &str = "# hush-hook:";

fn install(repo: &Repo, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["hook", "install"];
    args.extend_from_slice(extra);
    repo.hush(&args)
}

fn secret_line(secret: &str) -> String {
    format!("token = \"{secret}\"\n")
}

/// A repository with one clean commit and the pre-commit hook installed.
fn guarded() -> Repo {
    let repo = Repo::new();
    repo.write("README", "hello\n");
    repo.add(&["README"]);
    repo.commit_at("init", 1_000_000_000);
    let out = install(&repo, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    repo
}

#[test]
fn pre_commit_blocks_a_secret_and_explains() {
    let repo = guarded();
    let hook = std::fs::read_to_string(repo.dir.join(".git/hooks/pre-commit")).unwrap();
    assert!(hook.contains(SIGNATURE));
    assert!(hook.contains(&*hush_bin().canonicalize().unwrap().to_string_lossy()));
    repo.write("config.py", format!("x = 1\n{}", secret_line(GITHUB)));
    repo.add(&["config.py"]);
    let out = repo.git_try(&["commit", "-m", "leak"]);
    assert!(!out.status.success(), "the commit went through");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("config.py:2:10: github-pat"), "{all}");
    assert!(all.contains("ghp_…"), "{all}");
    assert!(all.contains("hush:allow"), "{all}");
    assert!(all.contains(".hushignore"), "{all}");
    assert!(all.contains("git commit --no-verify"), "{all}");
    // The fingerprint it names really allows the finding.
    let fingerprint = all
        .lines()
        .find_map(|l| l.trim().strip_prefix("echo "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    repo.write(".hushignore", format!("{fingerprint}\n"));
    let out = repo.git_try(&["commit", "-q", "-m", "reviewed"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn pre_commit_lets_clean_commits_and_no_verify_through() {
    let repo = guarded();
    repo.write("a.txt", "fine\n");
    repo.add(&["a.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    repo.write(".env", "KEY=value\n");
    repo.add(&[".env"]);
    assert!(!repo
        .git_try(&["commit", "-q", "-m", "env"])
        .status
        .success());
    let out = repo.git_try(&["commit", "-q", "--no-verify", "-m", "env"]);
    assert!(out.status.success());
}

#[test]
fn pre_commit_fails_closed_on_an_internal_error() {
    let repo = guarded();
    repo.write(".hush.toml", "this is [not toml\n");
    repo.write("a.txt", "fine\n");
    repo.add(&["a.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "x"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("hush: error:"), "{err}");
    assert!(err.contains("git commit --no-verify"), "{err}");
    let direct = repo.hush(&["hook", "pre-commit"]);
    assert_eq!(code(&direct), 2);
}

#[test]
fn hook_finds_hush_without_it_on_path() {
    let repo = guarded();
    repo.write("k.txt", secret_line(AWS));
    repo.add(&["k.txt"]);
    // As a GUI client might run it: a bare PATH without hush.
    let out = git_cmd(&repo.dir)
        .args(["commit", "-q", "-m", "leak"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_no_secret(&out);
    assert!(!out.status.success());
    // git sends a hook's stdout to stderr.
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("aws-access-key-id"), "{all}");
}

#[test]
fn a_missing_hush_blocks_with_advice() {
    let repo = Repo::new();
    let hook = repo.dir.join(".git/hooks/pre-commit");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/pre-commit"),
        &hook,
    )
    .unwrap();
    repo.write("a.txt", "x\n");
    repo.add(&["a.txt"]);
    let out = git_cmd(&repo.dir)
        .args(["commit", "-q", "-m", "x"])
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", repo.tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("hush not found") && err.contains("--no-verify"),
        "{err}"
    );
}

#[test]
fn foreign_hooks_are_kept_unless_forced_and_restored_on_uninstall() {
    let repo = Repo::new();
    let hooks = repo.dir.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let theirs = "#!/bin/sh\necho theirs\n";
    std::fs::write(hooks.join("pre-commit"), theirs).unwrap();
    let out = install(&repo, &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        theirs
    );

    let out = install(&repo, &["--force", "--pre-push"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.bak")).unwrap(),
        theirs
    );
    assert!(std::fs::read_to_string(hooks.join("pre-push"))
        .unwrap()
        .contains(SIGNATURE));
    // Installing again over its own hooks needs no --force.
    assert_eq!(code(&install(&repo, &["--pre-push"])), 0);

    let out = repo.hush(&["hook", "uninstall"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        theirs
    );
    assert!(!hooks.join("pre-push").exists());
    assert!(!hooks.join("pre-commit.bak").exists());
    // A file that happens to be called `<hook>.bak` is not the backup: the one made is restored.
    std::fs::write(hooks.join("pre-commit.bak"), "a file of the user's\n").unwrap();
    std::fs::remove_file(hooks.join("pre-commit")).unwrap();
    std::fs::write(hooks.join("pre-commit"), theirs).unwrap();
    assert_eq!(code(&install(&repo, &["--force"])), 0);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.bak.1")).unwrap(),
        theirs
    );
    assert_eq!(code(&install(&repo, &[])), 0);
    assert_eq!(code(&repo.hush(&["hook", "uninstall"])), 0);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        theirs
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.bak")).unwrap(),
        "a file of the user's\n"
    );
    assert!(!hooks.join("pre-commit.bak.1").exists());
    // A foreign hook is never removed.
    assert_eq!(code(&repo.hush(&["hook", "uninstall"])), 0);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        theirs
    );
}

#[test]
fn core_hooks_path_is_honoured() {
    let repo = Repo::new();
    repo.git(&["config", "core.hooksPath", "ci/hooks"]);
    assert_eq!(code(&install(&repo, &[])), 0);
    assert!(repo.dir.join("ci/hooks/pre-commit").exists());
    assert!(!repo.dir.join(".git/hooks/pre-commit").exists());
    repo.write("k.txt", secret_line(GITHUB));
    repo.add(&["k.txt"]);
    assert!(!repo
        .git_try(&["commit", "-q", "-m", "leak"])
        .status
        .success());
}

#[test]
fn worktrees_share_the_main_repositorys_hooks() {
    let repo = Repo::new();
    repo.write("a", "a\n");
    repo.add(&["a"]);
    repo.commit_at("init", 1_000_000_000);
    let tree = repo.tmp.path().join("wt");
    repo.git(&["worktree", "add", "-q", tree.to_str().unwrap(), "-b", "wt"]);
    let out = run_hush(&tree, ["hook".as_ref(), "install".as_ref()], None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(repo.dir.join(".git/hooks/pre-commit").exists());
    let wt = repo.at(tree);
    wt.write("k.txt", secret_line(GITHUB));
    wt.add(&["k.txt"]);
    assert!(!wt.git_try(&["commit", "-q", "-m", "leak"]).status.success());
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

#[test]
fn pre_push_scans_the_commits_being_pushed() {
    let (_origin, repo) = pushing();
    // A clean update goes through.
    repo.write("a.txt", "a\n");
    repo.add(&["a.txt"]);
    repo.commit_at("clean", 1_000_000_100);
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A secret committed past the pre-commit hook is caught on push, with its commit.
    repo.write("b.txt", secret_line(GITHUB));
    repo.add(&["b.txt"]);
    let leak = repo.commit_at("leak", 1_000_000_200);
    repo.write("b.txt", "removed again\n");
    repo.add(&["b.txt"]);
    repo.commit_at("remove", 1_000_000_300);
    let out = repo.git_try(&["push", "origin", "main"]);
    assert!(!out.status.success(), "the push went through");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("b.txt:1:10: github-pat"), "{all}");
    assert!(all.contains(&leak[..12]), "{all}");
    assert!(all.contains("git push --no-verify"), "{all}");
    let out = repo.git_try(&["push", "-q", "--no-verify", "origin", "main"]);
    assert!(out.status.success());

    // Once the remote has it, later pushes do not scan it again.
    repo.write("c.txt", "c\n");
    repo.add(&["c.txt"]);
    repo.commit_at("after", 1_000_000_400);
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn pre_push_blames_no_edit_or_rename_for_a_secret_the_remote_already_has() {
    let (_origin, repo) = pushing();
    repo.write("s.txt", secret_line(GITHUB));
    repo.add(&["s.txt"]);
    repo.git(&["commit", "-q", "--no-verify", "-m", "old leak"]);
    let out = repo.git_try(&["push", "-q", "--no-verify", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
    repo.write("s.txt", format!("# a comment\n{}", secret_line(GITHUB)));
    repo.add(&["s.txt"]);
    repo.git(&["commit", "-q", "--no-verify", "-m", "edit"]);
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // A rename passes the commit hook, and so the push; a copy is blocked by both.
    repo.git(&["mv", "s.txt", "moved.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "rename"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    std::fs::copy(repo.dir.join("moved.txt"), repo.dir.join("copy.txt")).unwrap();
    repo.add(&["copy.txt"]);
    assert!(!repo
        .git_try(&["commit", "-q", "-m", "copy"])
        .status
        .success());
    repo.git(&["commit", "-q", "--no-verify", "-m", "copy"]);
    let out = repo.git_try(&["push", "origin", "main"]);
    assert!(!out.status.success(), "the push went through");
    assert!(stdout(&out).contains("copy.txt"), "{}", stdout(&out));
}

#[test]
fn pre_push_new_branches_and_deletions() {
    let (_origin, repo) = pushing();
    // A new branch: only the commits no remote ref has.
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("f.txt", secret_line(AWS));
    repo.add(&["f.txt"]);
    repo.commit_at("feature leak", 1_000_000_100);
    let out = repo.git_try(&["push", "origin", "feature"]);
    assert!(!out.status.success(), "the push went through");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("aws-access-key-id"), "{all}");

    // A new branch at a commit the remote already has sends nothing new.
    repo.git(&["branch", "-q", "copy-of-main", "origin/main"]);
    let out = repo.git_try(&["push", "-q", "origin", "copy-of-main"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Deleting a branch scans nothing, even one whose commits hold a secret.
    let out = repo.git_try(&["push", "-q", "--no-verify", "origin", "feature"]);
    assert!(out.status.success());
    let out = repo.git_try(&["push", "-q", "origin", "--delete", "feature"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn pre_push_reads_git_ref_lines_directly() {
    let (_origin, repo) = pushing();
    repo.write("k.txt", secret_line(GITHUB));
    repo.add(&["k.txt"]);
    let head = repo.commit_at("leak", 1_000_000_100);
    let remote = repo.git(&["rev-parse", "origin/main"]);
    let zero = "0".repeat(40);
    let update = format!("refs/heads/main {head} refs/heads/main {remote}\n");
    let out = repo.hush_with(
        &["hook", "pre-push", "origin", "url", "--format", "json"],
        Some(&update),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["commit"], head.as_str());
    let deletion = format!("(delete) {zero} refs/heads/main {remote}\n");
    let out = repo.hush_with(&["hook", "pre-push", "origin", "url"], Some(&deletion));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = repo.hush_with(&["hook", "pre-push"], Some("garbage\n"));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("git push --no-verify"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pre_commit_framework_manifest_names_the_hook() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    assert!(text.contains("- id: hush\n"));
    assert!(text.contains("entry: hush hook pre-commit"));
    assert!(text.contains("pass_filenames: false"));
}

#[test]
fn commit_all_and_commit_paths_are_judged_by_the_index_git_commits() {
    // `git commit -a` and `git commit <path>` build their own index (GIT_INDEX_FILE) for hooks.
    let repo = guarded();
    repo.write("README", format!("hello\n{}", secret_line(AWS)));
    assert!(!repo
        .git_try(&["commit", "-q", "-a", "-m", "all"])
        .status
        .success());
    assert!(!repo
        .git_try(&["commit", "-q", "-m", "path", "README"])
        .status
        .success());
    // Only README is committed by a path commit: a clean path passes even with a dirty README.
    repo.write("other.txt", "fine\n");
    repo.add(&["other.txt"]);
    repo.git(&["reset", "-q"]);
    repo.git(&["add", "-N", "other.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "only other", "other.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
