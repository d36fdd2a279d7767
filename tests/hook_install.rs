//! Installing and removing the hooks beside other tools: which hooks get written, chaining a hook
//! hush displaces, a global `core.hooksPath`, the shim's own way out once hush is gone, and
//! `install.sh`. Driven by real `git commit` and `git push`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn install(repo: &Repo, extra: &[&str]) -> Output {
    let mut args = vec!["hook", "install"];
    args.extend_from_slice(extra);
    repo.hush(&args)
}

fn secret_line(secret: &str) -> String {
    format!("token = \"{secret}\"\n")
}

fn hooks(repo: &Repo) -> PathBuf {
    repo.dir.join(".git/hooks")
}

fn write_hook(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// A clone of a bare remote holding one clean commit.
fn pushing() -> (Repo, Repo) {
    let origin = Repo::new();
    origin.write("README", "hello\n");
    origin.add(&["README"]);
    origin.commit_at("init", 1_000_000_000);
    let repo = origin.clone_via_bare();
    (origin, repo)
}

// Item 8: which hooks `hush hook install` writes.

#[test]
fn install_only_pre_push_writes_pre_push_alone() {
    let (_origin, repo) = pushing();
    let out = install(&repo, &["--only", "pre-push"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(hooks(&repo).join("pre-push").exists());
    assert!(!hooks(&repo).join("pre-commit").exists());
    // The pre-push hook alone guards the push; commits are not checked.
    repo.write("k.txt", secret_line(GITHUB));
    repo.add(&["k.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "leak"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(!out.status.success(), "the push went through");
    // `--pre-push` still means both, and `--only pre-commit` the commit hook alone.
    let out = install(&repo, &["--pre-push"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(hooks(&repo).join("pre-commit").exists());
    let fresh = Repo::new();
    assert_eq!(code(&install(&fresh, &["--only", "pre-commit"])), 0);
    assert!(hooks(&fresh).join("pre-commit").exists());
    assert!(!hooks(&fresh).join("pre-push").exists());
    let out = install(&fresh, &["--only", "post-merge"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).starts_with("hush: error:"), "{}", stderr(&out));
}

// Item 9: a displaced hook is chained, not lost.

/// A foreign hook that records how it was run (its name, arguments and standard input) and exits
/// with `status`.
fn recording_hook(path: &Path, marker: &Path, status: i32) {
    write_hook(
        path,
        &format!(
            "#!/bin/sh\n\
             {{ echo \"name=$(basename \"$0\") dir=$(basename \"$(dirname \"$0\")\")\"; \
             echo \"args=$*\"; cat; }} > '{}'\n\
             exit {status}\n",
            marker.display()
        ),
    );
}

#[test]
fn force_chains_the_displaced_pre_commit_hook_after_hush_passes() {
    let repo = Repo::new();
    repo.write("README", "hello\n");
    repo.add(&["README"]);
    repo.commit_at("init", 1_000_000_000);
    let marker = repo.tmp.path().join("theirs-ran");
    recording_hook(&hooks(&repo).join("pre-commit"), &marker, 0);
    let out = install(&repo, &["--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runs after hush passes"),
        "{}",
        stderr(&out)
    );

    // A clean commit: hush passes, then their hook runs, under its own name and directory.
    repo.write("a.txt", "fine\n");
    repo.add(&["a.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = read(&marker);
    assert!(ran.contains("name=pre-commit dir=hooks"), "{ran}");

    // A secret: hush blocks, and their hook does not run.
    std::fs::remove_file(&marker).unwrap();
    repo.write("k.txt", secret_line(AWS));
    repo.add(&["k.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "the commit went through");
    assert!(!marker.exists(), "the chained hook ran after hush blocked");
    repo.git(&["reset", "-q", "--", "k.txt"]);

    // Their hook's failure blocks the commit too.
    recording_hook(&hooks(&repo).join("pre-commit.bak"), &marker, 3);
    repo.write("b.txt", "fine\n");
    repo.add(&["b.txt"]);
    let out = repo.git_try(&["commit", "-q", "-m", "theirs fails"]);
    assert!(!out.status.success(), "their hook's failure was ignored");
    assert!(marker.exists());

    // Uninstall puts their hook back where it was.
    let out = repo.hush(&["hook", "uninstall"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(read(hooks(&repo).join("pre-commit")).contains("exit 3"));
    assert!(!hooks(&repo).join("pre-commit.bak").exists());
}

#[test]
fn a_chained_pre_push_hook_gets_the_arguments_and_the_ref_lines() {
    let (_origin, repo) = pushing();
    let marker = repo.tmp.path().join("theirs-ran");
    recording_hook(&hooks(&repo).join("pre-push"), &marker, 0);
    let out = install(&repo, &["--force", "--only", "pre-push"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    repo.write("a.txt", "fine\n");
    repo.add(&["a.txt"]);
    let head = repo.commit_at("clean", 1_000_000_100);
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = read(&marker);
    assert!(ran.contains("name=pre-push dir=hooks"), "{ran}");
    assert!(ran.contains("args=origin "), "{ran}");
    assert!(
        ran.contains(&format!("refs/heads/main {head} refs/heads/main ")),
        "{ran}"
    );

    // hush still reads the same lines: a secret blocks the push before their hook runs.
    std::fs::remove_file(&marker).unwrap();
    repo.write("k.txt", secret_line(GITHUB));
    repo.add(&["k.txt"]);
    repo.commit_at("leak", 1_000_000_200);
    let out = repo.git_try(&["push", "origin", "main"]);
    assert!(!out.status.success(), "the push went through");
    assert!(stdout(&out).contains("github-pat"), "{}", stdout(&out));
    assert!(!marker.exists());
}

#[test]
fn a_global_hooks_path_install_says_it_covers_every_repository() {
    let repo = Repo::new();
    let shared = repo.tmp.path().join("global-hooks");
    let global = repo.tmp.path().join("gitconfig");
    std::fs::write(
        &global,
        format!("[core]\n\thooksPath = {}\n", shared.display()),
    )
    .unwrap();
    let out = std::process::Command::new(hush_bin())
        .current_dir(&repo.dir)
        .args(["hook", "install"])
        .env("GIT_CONFIG_GLOBAL", &global)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(shared.join("pre-commit").exists());
    let err = stderr(&out);
    assert!(err.contains("every repository"), "{err}");
    assert!(err.contains(&*global.to_string_lossy()), "{err}");
    // A repository's own hooksPath is not global: no such note.
    let local = Repo::new();
    local.git(&["config", "core.hooksPath", "ci/hooks"]);
    let out = install(&local, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("every repository"),
        "{}",
        stderr(&out)
    );
}

// Item 10: once hush is gone, the hook says how to remove it, and install.sh cleans up.

fn run_hush_as(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(bin)
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

/// Runs `git commit` as a user without hush anywhere.
fn commit_without_hush(repo: &Repo, message: &str) -> Output {
    let out = git_cmd(&repo.dir)
        .args(["commit", "-q", "-m", message])
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", repo.tmp.path())
        .output()
        .unwrap();
    assert_no_secret(&out);
    out
}

/// What follows `marker` on its line of `text`: the command a message ends with.
fn after(text: &str, marker: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(marker))
        .map(|(_, rest)| rest.trim().to_string())
        .unwrap_or_else(|| panic!("no {marker:?} in:\n{text}"))
}

fn sh(dir: &Path, command: &str) {
    let out = std::process::Command::new("sh")
        .current_dir(dir)
        .args(["-c", command])
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}: {}", stderr(&out));
}

#[test]
fn a_hook_without_hush_prints_the_command_that_removes_it() {
    let repo = Repo::new();
    let hook = hooks(&repo).join("pre-commit");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/pre-commit"),
        &hook,
    )
    .unwrap();
    repo.write("a.txt", "x\n");
    repo.add(&["a.txt"]);
    let out = commit_without_hush(&repo, "x");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.starts_with("hush: error:"), "{err}");
    let remove = after(&err, "remove this hook with: ");
    assert!(remove.contains(&*hook.to_string_lossy()), "{remove}");
    sh(&repo.dir, &remove);
    let out = commit_without_hush(&repo, "x");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_chained_hook_without_hush_prints_the_command_that_restores_the_old_one() {
    let repo = Repo::new();
    let marker = repo.tmp.path().join("theirs-ran");
    recording_hook(&hooks(&repo).join("pre-commit"), &marker, 0);
    // Installed by a hush that is then uninstalled.
    let copy = repo.tmp.path().join("hush-copy");
    std::fs::copy(hush_bin(), &copy).unwrap();
    let out = run_hush_as(&copy, &repo.dir, &["hook", "install", "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::remove_file(&copy).unwrap();
    repo.write("a.txt", "x\n");
    repo.add(&["a.txt"]);
    let out = commit_without_hush(&repo, "x");
    assert!(!out.status.success());
    let restore = after(&stderr(&out), "put back the one it displaced with: ");
    sh(&repo.dir, &restore);
    let out = commit_without_hush(&repo, "x");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(marker.exists(), "their hook is back in place");
    assert!(!hooks(&repo).join("pre-commit.bak").exists());
}

/// A `cargo` stand-in for install.sh: `install --root DIR` copies the hush these tests built,
/// `uninstall --root DIR hush` removes it. Nothing is compiled.
fn fake_cargo(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-cargo-bin");
    write_hook(
        &bin.join("cargo"),
        &format!(
            "#!/bin/sh\n\
             cmd=$1; root=\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
             case $cmd in\n\
             install) mkdir -p \"$root/bin\" && cp '{}' \"$root/bin/hush\" ;;\n\
             uninstall) rm \"$root/bin/hush\" ;;\n\
             *) exit 1 ;;\n\
             esac\n",
            hush_bin().display()
        ),
    );
    bin
}

fn install_sh(repo: &Repo, prefix: &Path, args: &[&str]) -> Output {
    let path = format!("{}:/usr/bin:/bin", fake_cargo(repo.tmp.path()).display());
    let out = std::process::Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
        .args(args)
        .current_dir(&repo.dir)
        .env("PREFIX", prefix)
        .env("PATH", &path)
        .env("HOME", repo.tmp.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap();
    assert_no_secret(&out);
    out
}

#[test]
fn install_sh_hook_installs_both_hooks_and_uninstall_removes_them() {
    let (_origin, repo) = pushing();
    let prefix = repo.tmp.path().join("prefix");
    let out = install_sh(&repo, &prefix, &["--hook"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(read(hooks(&repo).join("pre-commit")).contains("# hush-hook:"));
    assert!(read(hooks(&repo).join("pre-push")).contains("# hush-hook:"));

    let out = install_sh(&repo, &prefix, &["--uninstall"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(!prefix.join("bin/hush").exists());
    assert!(!hooks(&repo).join("pre-commit").exists());
    assert!(!hooks(&repo).join("pre-push").exists());
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("hush hook uninstall"), "{said}");
    // Commits work again without hush.
    repo.write("a.txt", "x\n");
    repo.add(&["a.txt"]);
    let out = commit_without_hush(&repo, "after uninstall");
    assert!(out.status.success(), "{}", stderr(&out));
}
