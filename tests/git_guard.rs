//! The commit guard's leaks and false blocks, driven by real `git commit` and `git push`: a push
//! to a second remote, and renames with edits in `staged`, `pre-push` and `history`.

mod common;

use common::*;

fn secret_line(secret: &str) -> String {
    format!("token = \"{secret}\"\n")
}

/// Forty lines of ordinary content, with `extra` after line 10.
fn file_with(extra: &str) -> String {
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("setting_{i} = value number {i}\n"));
        if i == 9 {
            text.push_str(extra);
        }
    }
    text
}

/// A bare remote at `name.git` beside the repository.
fn bare_remote(repo: &Repo, name: &str) -> String {
    let path = repo.tmp.path().join(format!("{name}.git"));
    repo.git(&["init", "-q", "--bare", path.to_str().unwrap()]);
    path.to_str().unwrap().to_string()
}

fn install_pre_push(repo: &Repo) {
    let out = repo.hush(&["hook", "install", "--pre-push"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_push_to_a_second_remote_scans_what_that_remote_lacks() {
    // The secret is on `origin` already (pushed past the hook); `public` is new and empty.
    let repo = Repo::new();
    let origin = bare_remote(&repo, "origin");
    let public = bare_remote(&repo, "public");
    repo.git(&["remote", "add", "origin", &origin]);
    repo.git(&["remote", "add", "public", &public]);
    repo.write("conf.txt", secret_line(GITHUB));
    repo.add(&["conf.txt"]);
    repo.commit_at("leak", 1_000_000_000);
    repo.git(&["branch", "legacy"]);
    repo.git(&["push", "-q", "--no-verify", "origin", "main", "legacy"]);
    install_pre_push(&repo);

    // Another remote's tracking refs are no evidence of what `public` has.
    let out = repo.git_try(&["push", "public", "legacy"]);
    assert!(
        !out.status.success(),
        "the push to a new remote went through"
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("conf.txt:1:10: github-pat"), "{all}");
    assert!(!all.contains("scanned 0 files"), "{all}");
    let refs = repo.git(&["ls-remote", &public]);
    assert!(refs.is_empty(), "the secret reached the new remote: {refs}");

    // A push by URL, to a remote hush knows nothing about, is judged the same way.
    let out = repo.git_try(&["push", &public, "legacy"]);
    assert!(!out.status.success(), "the push by URL went through");

    // Pushing to the remote that already has it sends nothing new: it passes.
    repo.write("b.txt", "clean\n");
    repo.add(&["b.txt"]);
    repo.commit_at("clean", 1_000_000_100);
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn staged_rename_with_edits_reports_only_the_edit() {
    let repo = Repo::new();
    repo.write("config/old.py", file_with(&secret_line(GITHUB)));
    repo.add(&["config/old.py"]);
    repo.commit_at("committed secret", 1_000_000_000);
    std::fs::create_dir_all(repo.dir.join("settings")).unwrap();
    repo.git(&["mv", "config/old.py", "settings/new.py"]);
    let edited = file_with(&secret_line(GITHUB)).replace("value number 30", "value 31");
    repo.write("settings/new.py", &edited);
    repo.add(&["settings/new.py"]);
    let status = repo.git(&["diff", "--cached", "-M", "--name-status"]);
    assert!(status.starts_with('R'), "git sees no rename: {status}");

    let out = repo.hush(&["staged", "--format", "json"]);
    assert_eq!(code(&out), 0, "old line re-reported: {}", stdout(&out));
    let hook = repo.hush(&["hook", "pre-commit"]);
    assert_eq!(code(&hook), 0, "{}", stderr(&hook));

    // A new secret in the moved file is still caught, on its own line only.
    let with_new = edited.replace("value number 20", &format!("value {AWS}"));
    repo.write("settings/new.py", with_new);
    repo.add(&["settings/new.py"]);
    let out = repo.hush(&["staged", "--format", "json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        summary(&out),
        vec![("settings/new.py".into(), 22, "aws-access-key-id".into())]
    );
}

#[test]
fn a_new_file_unlike_any_deleted_one_is_all_new() {
    // Deleting one file and adding an unrelated one with a secret is not a rename.
    let repo = Repo::new();
    repo.write("old.txt", file_with(&secret_line(GITHUB)));
    repo.add(&["old.txt"]);
    repo.commit_at("one", 1_000_000_000);
    repo.git(&["rm", "-q", "old.txt"]);
    repo.write("other.txt", secret_line(GITHUB));
    repo.add(&["other.txt"]);
    let out = repo.hush(&["staged", "--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        summary(&out),
        vec![("other.txt".into(), 1, "github-pat".into())]
    );
}

#[test]
fn history_and_pre_push_report_a_secret_moved_with_edits_once() {
    let repo = Repo::new();
    let origin = bare_remote(&repo, "origin");
    repo.git(&["remote", "add", "origin", &origin]);
    repo.write("config/old.py", file_with(&secret_line(GITHUB)));
    repo.add(&["config/old.py"]);
    let added = repo.commit_at("add secret", 1_000_000_000);
    repo.git(&["push", "-q", "origin", "main"]);
    install_pre_push(&repo);

    std::fs::create_dir_all(repo.dir.join("settings")).unwrap();
    repo.git(&["mv", "config/old.py", "settings/new.py"]);
    let edited = file_with(&secret_line(GITHUB)).replace("value number 30", "value 31");
    repo.write("settings/new.py", &edited);
    repo.add(&["settings/new.py"]);
    repo.commit_at("move and edit", 1_000_000_100);
    let shown = repo.git(&["show", "-M", "--name-status", "--format=", "HEAD"]);
    assert!(shown.starts_with('R'), "git sees no rename: {shown}");

    let out = repo.hush(&["history", "--format", "json"]);
    assert_eq!(code(&out), 1);
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{}", stdout(&out));
    assert_eq!(found[0]["path"], "config/old.py");
    assert_eq!(found[0]["commit"], added.as_str());

    // The push of the rename sends no new secret.
    let out = repo.git_try(&["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
