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
    let repo = origin.clone_via_bare();
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
fn pre_commit_framework_manifest_passes_file_names_and_offers_pre_push() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let hooks: Vec<&str> = text.split("- id: ").skip(1).collect();
    let commit = hooks.iter().find(|h| h.starts_with("hush\n")).unwrap();
    assert!(commit.contains("entry: hush hook pre-commit\n"), "{commit}");
    // File names are what `--all-files` and `--from-ref/--to-ref` runs are about.
    assert!(!commit.contains("pass_filenames: false"), "{commit}");
    // One process sees every name, so a commit's names are recognised as the staged change.
    assert!(commit.contains("require_serial: true"), "{commit}");
    let push = hooks
        .iter()
        .find(|h| h.contains("stages: [pre-push]"))
        .unwrap();
    assert!(push.contains("entry: hush hook pre-push\n"), "{push}");
    assert!(push.contains("always_run: true"), "{push}");
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

// The pre-commit framework hands the hook file names (item 3 of issue 10).

/// A repository whose one commit holds a secret (committed past the hooks), with nothing staged.
fn committed_secret() -> Repo {
    let repo = Repo::new();
    repo.write("old.txt", format!("first\n{}", secret_line(GITHUB)));
    repo.write("README", "hello\n");
    repo.add(&["old.txt", "README"]);
    repo.commit_at("old leak", 1_000_000_000);
    repo
}

#[test]
fn pre_commit_with_file_names_scans_those_files_whole() {
    let repo = committed_secret();
    let out = repo.hush(&[
        "hook",
        "pre-commit",
        "--format",
        "json",
        "old.txt",
        "README",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        summary(&out),
        vec![("old.txt".to_string(), 2, "github-pat".to_string())]
    );
    // The advice of a blocked hook, and a clean file passes.
    assert!(stderr(&out).contains("blocked"), "{}", stderr(&out));
    let out = repo.hush(&["hook", "pre-commit", "README"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A name that is not there fails closed, like `hush scan`.
    let out = repo.hush(&["hook", "pre-commit", "gone.txt"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).starts_with("hush: error:"), "{}", stderr(&out));
}

#[test]
fn pre_commit_given_the_staged_names_judges_only_the_lines_the_commit_adds() {
    let repo = committed_secret();
    // Touching a file that already holds a committed secret: as the framework runs a commit.
    repo.write(
        "old.txt",
        format!("first\n{}an edit\n", secret_line(GITHUB)),
    );
    repo.write("new.txt", secret_line(AWS));
    repo.add(&["old.txt", "new.txt"]);
    let out = repo.hush(&["hook", "pre-commit", "old.txt"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let out = repo.hush(&[
        "hook",
        "pre-commit",
        "--format",
        "json",
        "old.txt",
        "new.txt",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        summary(&out),
        vec![("new.txt".to_string(), 1, "aws-access-key-id".to_string())]
    );
    // A range run (`--from-ref/--to-ref`) means the files whole, staged or not.
    let mut cmd = std::process::Command::new(hush_bin());
    cmd.current_dir(&repo.dir)
        .args(["hook", "pre-commit", "--format", "json", "old.txt"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("PRE_COMMIT_FROM_REF", "HEAD")
        .env("PRE_COMMIT_TO_REF", "HEAD");
    let out = cmd.output().unwrap();
    assert_no_secret(&out);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        summary(&out),
        vec![("old.txt".to_string(), 2, "github-pat".to_string())]
    );
}

#[test]
fn pre_push_under_the_framework_scans_its_from_and_to_refs() {
    let repo = Repo::new();
    repo.write("README", "hello\n");
    repo.add(&["README"]);
    let base = repo.commit_at("init", 1_000_000_000);
    repo.write("k.txt", secret_line(GITHUB));
    repo.add(&["k.txt"]);
    let leak = repo.commit_at("leak", 1_000_000_100);
    repo.write("k.txt", "gone\n");
    repo.add(&["k.txt"]);
    let head = repo.commit_at("remove", 1_000_000_200);
    let run = |from: &str, to: &str| {
        let out = std::process::Command::new(hush_bin())
            .current_dir(&repo.dir)
            .args(["hook", "pre-push", "--format", "json"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("PRE_COMMIT", "1")
            .env("PRE_COMMIT_FROM_REF", from)
            .env("PRE_COMMIT_TO_REF", to)
            // As under the framework: its own hook already read git's ref lines.
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_no_secret(&out);
        out
    };
    let out = run(&base, &head);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let found = findings(&out);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["commit"], leak.as_str());
    assert_eq!(code(&run(&head, &head)), 0);
}

/// The `pre-commit` program: `HUSH_PRE_COMMIT` names it, else it is looked up on PATH.
fn pre_commit_program() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("HUSH_PRE_COMMIT") {
        return Some(path.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("pre-commit"))
        .find(|p| p.is_file())
}

/// `.pre-commit-config.yaml` with this repository's `.pre-commit-hooks.yaml` as a local repo:
/// the same hooks, keys and stages, but running the hush these tests built (no network).
fn framework_config() -> String {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    let bin = hush_bin().canonicalize().unwrap();
    let hooks: String = manifest
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| {
            let l = l.replace("entry: hush ", &format!("entry: {} ", bin.display()));
            let l = l.replace("language: rust", "language: system");
            format!("      {l}\n")
        })
        .collect();
    format!("repos:\n  - repo: local\n    hooks:\n{hooks}")
}

#[test]
fn the_pre_commit_framework_blocks_committed_and_pushed_secrets() {
    let Some(program) = pre_commit_program() else {
        eprintln!(
            "skipped: the pre-commit framework is not installed \
             (pip install pre-commit, then put it on PATH or set HUSH_PRE_COMMIT)"
        );
        return;
    };
    // A clean first commit, then a secret committed past the hooks.
    let origin = Repo::new();
    origin.write("README", "hello\n");
    origin.add(&["README"]);
    let clean = origin.commit_at("init", 1_000_000_000);
    origin.write("old.txt", format!("first\n{}", secret_line(GITHUB)));
    origin.add(&["old.txt"]);
    origin.commit_at("old leak", 1_000_000_050);
    let repo = origin.clone_via_bare();
    repo.write(".pre-commit-config.yaml", framework_config());
    repo.add(&[".pre-commit-config.yaml"]);
    repo.commit_at("framework config", 1_000_000_100);
    let home = origin.tmp.path().join("pre-commit-home");
    let framework = |args: &[&str]| {
        let out = std::process::Command::new(&program)
            .current_dir(&repo.dir)
            .args(args)
            .env("PRE_COMMIT_HOME", &home)
            .env("PRE_COMMIT_COLOR", "never")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("HUSH_FORMAT")
            .output()
            .unwrap();
        assert_no_secret(&out);
        out
    };
    // `--all-files`: the committed secret is found.
    let out = framework(&["run", "--all-files"]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(code(&out), 1, "{all}");
    assert!(all.contains("old.txt:2:10: github-pat"), "{all}");
    // `--from-ref/--to-ref` over the commit that added it.
    let out = framework(&["run", "--from-ref", &clean, "--to-ref", "HEAD"]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(code(&out), 1, "{all}");
    assert!(all.contains("old.txt:2:10: github-pat"), "{all}");

    // Through the framework's own git hooks: a commit touching that file (among several, so the
    // framework would split the names across processes without require_serial) passes.
    let out = framework(&["install", "-t", "pre-commit", "-t", "pre-push"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    repo.write(
        "old.txt",
        format!("first\n{}an edit\n", secret_line(GITHUB)),
    );
    let mut names = vec!["old.txt".to_string()];
    for i in 0..12 {
        let name = format!("f{i}.txt");
        repo.write(&name, format!("file {i}\n"));
        names.push(name);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    repo.add(&names);
    let commit = |message: &str| {
        let out = git_cmd(&repo.dir)
            .args(["commit", "-q", "-m", message])
            .env("PRE_COMMIT_HOME", &home)
            .env("PRE_COMMIT_COLOR", "never")
            .output()
            .unwrap();
        assert_no_secret(&out);
        out
    };
    let out = commit("touch the old file");
    assert!(
        out.status.success(),
        "a false block: {}{}",
        stdout(&out),
        stderr(&out)
    );
    // A new secret is blocked at commit time.
    repo.write("new.txt", secret_line(AWS));
    repo.add(&["new.txt"]);
    let out = commit("new leak");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "the commit went through: {all}");
    assert!(all.contains("new.txt:1:10: aws-access-key-id"), "{all}");
    // A secret committed past the hooks and removed again is caught on push.
    repo.git(&["commit", "-q", "--no-verify", "-m", "leak past the hook"]);
    repo.write("new.txt", "removed\n");
    repo.add(&["new.txt"]);
    repo.git(&["commit", "-q", "--no-verify", "-m", "remove"]);
    let out = git_cmd(&repo.dir)
        .args(["push", "origin", "main"])
        .env("PRE_COMMIT_HOME", &home)
        .env("PRE_COMMIT_COLOR", "never")
        .output()
        .unwrap();
    assert_no_secret(&out);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "the push went through: {all}");
    assert!(all.contains("aws-access-key-id"), "{all}");
}

// Advice that works when followed (item 6 of issue 10).

/// The line of `text` that starts with `start` (after indentation): a printed command.
fn printed(text: &str, start: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
        .to_string()
}

/// Runs a printed command as the user would, in the repository.
fn follow(repo: &Repo, command: &str) {
    let out = std::process::Command::new("sh")
        .current_dir(&repo.dir)
        .args(["-c", command])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}: {}", stderr(&out));
}

fn blocked_commit(repo: &Repo) -> String {
    let out = repo.git_try(&["commit", "-q", "-m", "blocked"]);
    assert!(!out.status.success(), "the commit went through");
    format!("{}{}", stdout(&out), stderr(&out))
}

#[test]
fn advice_unstaging_the_file_lets_the_rest_of_the_commit_through() {
    for born in [true, false] {
        let repo = if born { guarded() } else { Repo::new() };
        if !born {
            assert_eq!(code(&install(&repo, &[])), 0);
        }
        repo.write("config.py", secret_line(GITHUB));
        repo.write("clean.txt", "fine\n");
        repo.add(&["config.py", "clean.txt"]);
        let all = blocked_commit(&repo);
        assert!(all.contains("rotate"), "{all}");
        follow(&repo, &printed(&all, "git reset"));
        let out = repo.git_try(&["commit", "-q", "-m", "the rest"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let committed = repo.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
        assert!(committed.contains("clean.txt"), "{committed}");
        assert!(!committed.contains("config.py"), "{committed}");
        assert!(
            repo.dir.join("config.py").exists(),
            "the file itself is kept"
        );
    }
}

#[test]
fn advice_for_a_sensitive_file_offers_no_hush_allow_and_its_commands_work() {
    let repo = guarded();
    repo.write(".env", "KEY=value\n");
    repo.write("clean.txt", "fine\n");
    repo.add(&[".env", "clean.txt"]);
    let all = blocked_commit(&repo);
    assert!(
        !all.contains("hush:allow"),
        "hush:allow cannot allow a file: {all}"
    );
    // Keeping it out of git: unstaged and ignored.
    follow(&repo, &printed(&all, "git reset"));
    let out = repo.git_try(&["commit", "-q", "-m", "the rest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = repo.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!committed.contains(".env"), "{committed}");
    assert!(committed.contains(".gitignore"), "{committed}");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");

    // Or, when the file is meant to be committed: the printed .hushignore line allows it.
    let repo = guarded();
    repo.write("deploy/.env", "KEY=value\n");
    repo.add(&["deploy/.env"]);
    let all = blocked_commit(&repo);
    follow(&repo, &printed(&all, "echo "));
    follow(&repo, &printed(&all, "git add .hushignore"));
    let out = repo.git_try(&["commit", "-q", "-m", "allowed"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn advice_hushignore_line_and_committing_it_work() {
    let repo = guarded();
    repo.write("config.py", format!("x = 1\n{}", secret_line(GITHUB)));
    repo.add(&["config.py"]);
    let all = blocked_commit(&repo);
    follow(&repo, &printed(&all, "echo "));
    follow(&repo, &printed(&all, "git add .hushignore"));
    let out = repo.git_try(&["commit", "-q", "-m", "reviewed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = repo.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(committed.contains(".hushignore"), "{committed}");
}

#[test]
fn advice_hush_allow_on_the_named_line_works() {
    let repo = guarded();
    repo.write("config.py", format!("x = 1\n{}", secret_line(GITHUB)));
    repo.add(&["config.py"]);
    let all = blocked_commit(&repo);
    assert!(all.contains("hush:allow"), "{all}");
    assert!(all.contains("config.py:2"), "{all}");
    let line = format!("token = \"{GITHUB}\"  # hush:allow\n");
    repo.write("config.py", format!("x = 1\n{line}"));
    repo.add(&["config.py"]);
    let out = repo.git_try(&["commit", "-q", "-m", "allowed"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// Template env files (item 7 of issue 10).

#[test]
fn env_templates_pass_and_real_env_files_block() {
    let repo = guarded();
    for name in [
        "example.env",
        "sample.env",
        "template.env",
        "config/app.example.env",
        ".env.example",
        "env.example",
        ".env.dist",
    ] {
        repo.write(name, "KEY=\n");
        repo.add(&[name]);
        let out = repo.git_try(&["commit", "-q", "-m", name]);
        assert!(out.status.success(), "{name} blocked: {}", stdout(&out));
    }
    for name in [".env.production", "prod.env", "production.env", ".env"] {
        repo.write(name, "KEY=\n");
        repo.add(&[name]);
        let out = repo.git_try(&["commit", "-q", "-m", name]);
        assert!(!out.status.success(), "{name} went through");
        repo.git(&["reset", "-q", "--", name]);
    }
}

#[test]
fn advice_for_files_named_by_the_framework_works_on_committed_files() {
    // As `pre-commit run --all-files` finds a .env committed past the hooks.
    let repo = guarded();
    repo.write("deploy/.env", "KEY=value\n");
    repo.add(&["deploy/.env"]);
    repo.commit_at("env", 1_000_000_100);
    let out = repo.hush(&["hook", "pre-commit", "README", "deploy/.env"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let all = stderr(&out);
    assert!(!all.contains("hush:allow"), "{all}");
    assert!(
        !all.contains("git reset"),
        "unstaging does nothing here: {all}"
    );
    follow(&repo, &printed(&all, "git rm"));
    let out = repo.git_try(&["commit", "-q", "-m", "untrack .env"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tracked = repo.git(&["ls-files"]);
    let names: Vec<&str> = tracked.lines().collect();
    let mut args = vec!["hook", "pre-commit"];
    args.extend(&names);
    let out = repo.hush(&args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(repo.dir.join("deploy/.env").exists());
}
