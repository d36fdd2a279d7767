//! The git hooks: the shell shims that `hush hook install` writes (and removes), the parsing of
//! git's pre-push ref lines into the commits a push sends, and the advice a blocked hook prints.
//! The scanning itself is `hush staged` and `hush history`'s (see `cmd::git`).

use std::io;
use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::source::git::{remote_tips, GitError, Revisions};

/// The line that marks a hook as hush's own: `uninstall` removes only hooks that carry it, and
/// `install` replaces them without `--force`.
pub const SIGNATURE: &str = "# hush-hook: written by hush; `hush hook uninstall` removes it";
/// Starts the line of a shim that names the backup of the hook it replaced.
const BACKUP_LINE: &str = "# hush-backup: ";

/// A problem installing or removing hooks, or with the ref lines git gave a pre-push hook.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(
        "'{}' exists and was not written by hush; rerun with --force to chain it \
         (it is kept as '{}' and runs after hush passes)",
        path.display(), backup.display()
    )]
    Foreign { path: PathBuf, backup: PathBuf },
    #[error("cannot {action} '{}': {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read core.hooksPath: {0}")]
    Config(String),
    #[error("bad pre-push input line '{0}': expected '<local ref> <local sha> <remote ref> <remote sha>'")]
    PushLine(String),
}

/// The hooks hush provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    PreCommit,
    PrePush,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::PreCommit => "pre-commit",
            Hook::PrePush => "pre-push",
        }
    }

    /// The git command whose `--no-verify` skips this hook once.
    fn bypass(self) -> &'static str {
        match self {
            Hook::PreCommit => "git commit --no-verify",
            Hook::PrePush => "git push --no-verify",
        }
    }
}

/// The shell script for `hook`. It runs `binary` (the hush that installed it) if that still
/// exists, else a `hush` on PATH or in the usual install places, because GUI git clients often
/// run hooks with a PATH that lacks the user's shell setup. Without any hush it blocks (exit 2)
/// and prints the exact command that removes it, so that uninstalling hush never leaves a
/// repository that cannot commit. `backup` names the file (beside the hook) that the hook it
/// displaced was moved to: that hook is chained (run after hush passes) and `uninstall` puts it
/// back.
pub fn shim(hook: Hook, binary: Option<&Path>, backup: Option<&Path>) -> String {
    let first = binary.map_or_else(String::new, |b| {
        format!("{} ", shell_quote(&b.to_string_lossy()))
    });
    let name = hook.name();
    let bypass = hook.bypass();
    let candidates = format!(
        "{first}\"$(command -v hush 2>/dev/null)\" \"$HOME/.cargo/bin/hush\" \
         /usr/local/bin/hush /opt/homebrew/bin/hush"
    );
    let missing = format!(
        "hush: error: hush not found (not on PATH, nor in ~/.cargo/bin); {name} blocked. \
         Install hush, bypass once with: {bypass}, or"
    );
    let head = format!(
        "#!/bin/sh\n{SIGNATURE}\n{}# Blocks secrets from leaving in a {name}; bypass once with: {bypass}\n",
        backup
            .and_then(Path::file_name)
            .map_or_else(String::new, |b| format!(
                "{BACKUP_LINE}{}\n",
                b.to_string_lossy()
            )),
    );
    match backup.and_then(Path::file_name) {
        None => format!(
            "{head}\
             for hush in {candidates}; do\n\
             \x20   if [ -n \"$hush\" ] && [ -x \"$hush\" ]; then exec \"$hush\" hook {name} \"$@\"; fi\n\
             done\n\
             {QUOTE_FN}\
             here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
             echo \"{missing} remove this hook with: rm $(q \"$here/{name}\")\" >&2\n\
             exit 2\n"
        ),
        Some(kept) => chained_shim(hook, &head, &candidates, &missing, &kept.to_string_lossy()),
    }
}

/// A POSIX shell function that single-quotes its argument, so printed commands can be pasted.
const QUOTE_FN: &str =
    "q() { printf \"'%s'\" \"$(printf '%s' \"$1\" | sed \"s/'/'\\\\\\\\''/g\")\"; }\n";

/// The shim of a hook that displaced another one, `kept` beside it: hush runs first, then (if it
/// passed) the displaced hook, with the same arguments and, for `pre-push`, the same ref lines
/// on standard input (read once, fed to both). The displaced hook's exit status is the hook's.
fn chained_shim(hook: Hook, head: &str, candidates: &str, missing: &str, kept: &str) -> String {
    let name = hook.name();
    // git gives only pre-push anything on standard input; reading it for another hook run by
    // hand from a terminal would wait for the user.
    let (read_input, feed) = match hook {
        Hook::PrePush => (
            "input=$(cat; echo .)\ninput=${input%.}\n",
            "printf '%s' \"$input\" | ",
        ),
        Hook::PreCommit => ("", ""),
    };
    format!(
        "{head}\
         # The hook this one displaced, {kept} beside it, runs after hush passes.\n\
         here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
         chained=\"$here/{kept}\"\n\
         hush=\n\
         for candidate in {candidates}; do\n\
         \x20   if [ -n \"$candidate\" ] && [ -x \"$candidate\" ]; then hush=$candidate; break; fi\n\
         done\n\
         if [ -z \"$hush\" ]; then\n\
         \x20   {QUOTE_FN}\
         \x20   echo \"{missing} remove this hook and put back the one it displaced with: \
         mv $(q \"$chained\") $(q \"$here/{name}\")\" >&2\n\
         \x20   exit 2\n\
         fi\n\
         {read_input}\
         {feed}\"$hush\" hook {name} \"$@\" || exit $?\n\
         [ -x \"$chained\" ] || exit 0\n\
         # Run it as git would have: named as this hook, in this directory, because hooks such as\n\
         # husky's find their work from $0. A plain sh or bash script is sourced with $0 set;\n\
         # anything else is executed.\n\
         run_chained() {{\n\
         \x20   export HUSH_CHAINED=\"$chained\"\n\
         \x20   case $(sed -n 1p \"$chained\") in\n\
         \x20   '#!/bin/sh' | '#!/usr/bin/env sh') sh -c '. \"$HUSH_CHAINED\"' \"$0\" \"$@\" ;;\n\
         \x20   '#!/bin/bash' | '#!/usr/bin/env bash') bash -c '. \"$HUSH_CHAINED\"' \"$0\" \"$@\" ;;\n\
         \x20   *) \"$chained\" \"$@\" ;;\n\
         \x20   esac\n\
         }}\n\
         {feed}run_chained \"$@\"\n"
    )
}

/// `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Where git looks for hooks: `core.hooksPath` if set (relative to the working tree, as git
/// resolves it), else `hooks/` in the common git dir, shared by all worktrees.
pub fn hooks_dir(repo: &gix::Repository) -> Result<PathBuf, HookError> {
    let configured = repo
        .config_snapshot()
        .trusted_path("core.hooksPath")
        .map_err(|e| HookError::Config(crate::rules::one_line(&e)))?;
    Ok(match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => repo.workdir().unwrap_or_else(|| repo.git_dir()).join(path),
        None => repo.common_dir().join("hooks"),
    })
}

/// Where `core.hooksPath` is set outside the repository (the user's global or the system
/// config), if it is: then the hooks directory, and so an install, serves every repository that
/// does not set its own. Names the config file, or its scope when the file is not known.
pub fn shared_hooks_config(repo: &gix::Repository) -> Option<String> {
    use gix::config::Source;
    let snapshot = repo.config_snapshot();
    // Sections come in the order git reads them: the last that sets the key wins.
    let winner = snapshot
        .plumbing()
        .sections_by_name("core")?
        .filter(|section| section.value("hooksPath").is_some())
        .last()?;
    let meta = winner.meta();
    let scope = match meta.source {
        Source::User | Source::Git => "global",
        Source::System | Source::GitInstallation => "system",
        _ => return None,
    };
    Some(meta.path.as_ref().map_or_else(
        || format!("your {scope} git config"),
        |path| format!("{scope} git config '{}'", path.display()),
    ))
}

/// What `install` did with one hook.
#[derive(Debug)]
pub enum Installed {
    Written(PathBuf),
    /// A foreign hook was moved aside to `backup` (with `--force`); it runs after hush passes.
    Chained {
        path: PathBuf,
        backup: PathBuf,
    },
}

/// Writes the shims for `hooks`, executing `binary`. A hook hush did not write is displaced only
/// with `force`: it is kept as `<hook>.bak` and chained, so it still runs (after hush passes).
pub fn install(
    repo: &gix::Repository,
    hooks: &[Hook],
    force: bool,
    binary: Option<&Path>,
) -> Result<Vec<Installed>, HookError> {
    let dir = hooks_dir(repo)?;
    std::fs::create_dir_all(&dir).map_err(|source| HookError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    // Check every hook before writing any, so a refusal leaves nothing half-installed.
    let mut plans = Vec::new();
    for &hook in hooks {
        let path = dir.join(hook.name());
        let backup = free_backup(&path);
        let existing = match std::fs::read(&path) {
            Ok(content) => Some(content),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(HookError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        let foreign = existing.as_deref().is_some_and(|c| !is_ours(c));
        if foreign && !force {
            return Err(HookError::Foreign { path, backup });
        }
        // Reinstalling over hush's own shim keeps the backup it records.
        let kept = existing
            .as_deref()
            .and_then(recorded_backup)
            .map(|name| dir.join(name));
        plans.push((hook, path, foreign.then_some(backup), kept));
    }
    let mut done = Vec::new();
    for (hook, path, backup, kept) in plans {
        if let Some(backup) = &backup {
            std::fs::rename(&path, backup).map_err(|source| HookError::Io {
                action: "back up",
                path: path.clone(),
                source,
            })?;
        }
        let recorded = backup.as_deref().or(kept.as_deref());
        write_executable(&path, &shim(hook, binary, recorded))?;
        done.push(match backup {
            Some(backup) => Installed::Chained { path, backup },
            None => Installed::Written(path),
        });
    }
    Ok(done)
}

/// What `uninstall` did with one hook.
#[derive(Debug)]
pub enum Removed {
    Removed(PathBuf),
    /// Removed, and the hook it had replaced put back.
    Restored {
        path: PathBuf,
        backup: PathBuf,
    },
    /// Not hush's: left alone.
    Foreign(PathBuf),
}

/// Removes the hooks that carry hush's signature, restoring any backup `install --force` made.
pub fn uninstall(repo: &gix::Repository) -> Result<Vec<Removed>, HookError> {
    let dir = hooks_dir(repo)?;
    let mut done = Vec::new();
    for hook in [Hook::PreCommit, Hook::PrePush] {
        let path = dir.join(hook.name());
        let content = match std::fs::read(&path) {
            Ok(content) => content,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(HookError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        if !is_ours(&content) {
            done.push(Removed::Foreign(path));
            continue;
        }
        std::fs::remove_file(&path).map_err(|source| HookError::Io {
            action: "remove",
            path: path.clone(),
            source,
        })?;
        let backup = recorded_backup(&content).map(|name| dir.join(name));
        if let Some(backup) = backup.filter(|b| b.exists()) {
            std::fs::rename(&backup, &path).map_err(|source| HookError::Io {
                action: "restore",
                path: backup.clone(),
                source,
            })?;
            done.push(Removed::Restored { path, backup });
        } else {
            done.push(Removed::Removed(path));
        }
    }
    Ok(done)
}

/// The backup a shim records, if it replaced a hook: a file name in the hooks directory.
fn recorded_backup(content: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(content);
    let name = text
        .lines()
        .take(5)
        .find_map(|l| l.strip_prefix(BACKUP_LINE))?;
    let name = name.trim();
    (!name.is_empty() && !name.contains('/') && name != "." && name != "..")
        .then(|| name.to_string())
}

fn is_ours(content: &[u8]) -> bool {
    content
        .split(|&b| b == b'\n')
        .take(5)
        .any(|line| line.starts_with(b"# hush-hook:"))
}

fn backup_path(path: &Path, n: u32) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    if n > 0 {
        name.push(format!(".{n}"));
    }
    path.with_file_name(name)
}

/// `<hook>.bak`, or the first `<hook>.bak.N` not taken: an older backup is never overwritten.
fn free_backup(path: &Path) -> PathBuf {
    (0..)
        .map(|n| backup_path(path, n))
        .find(|p| !p.exists())
        .unwrap_or_else(|| backup_path(path, 0))
}

fn write_executable(path: &Path, text: &str) -> Result<(), HookError> {
    let io_error = |source| HookError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, text).map_err(io_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io_error)?;
    }
    Ok(())
}

/// One line of git's pre-push input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    pub local_ref: String,
    pub local: ObjectId,
    pub remote_ref: String,
    pub remote: ObjectId,
}

/// Parses git's pre-push input: `<local ref> <local sha> <remote ref> <remote sha>` per line.
pub fn parse_push_lines(text: &str) -> Result<Vec<PushUpdate>, HookError> {
    let mut updates = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || HookError::PushLine(line.to_string());
        let [local_ref, local, remote_ref, remote] = fields[..] else {
            return Err(bad());
        };
        updates.push(PushUpdate {
            local_ref: local_ref.to_string(),
            local: ObjectId::from_hex(local.as_bytes()).map_err(|_| bad())?,
            remote_ref: remote_ref.to_string(),
            remote: ObjectId::from_hex(remote.as_bytes()).map_err(|_| bad())?,
        });
    }
    Ok(updates)
}

/// The commits a push sends: reachable from the pushed shas, but not from what the remote being
/// pushed to has (the old remote sha of each ref, and that remote's remote-tracking branches;
/// another remote's are no evidence). A deletion sends nothing.
pub fn push_revisions(
    repo: &gix::Repository,
    remote: &str,
    updates: &[PushUpdate],
) -> Result<Revisions, HookError> {
    let tips: Vec<ObjectId> = updates
        .iter()
        .filter(|u| !u.local.is_null())
        .map(|u| u.local)
        .collect();
    let mut hidden = remote_tips(repo, remote)?;
    hidden.extend(
        updates
            .iter()
            .filter(|u| !u.remote.is_null() && repo.has_object(u.remote))
            .map(|u| u.remote),
    );
    Ok(Revisions::Between { tips, hidden })
}

/// One finding, as the advice names it.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub path: String,
    pub line: usize,
    pub rule_id: String,
    pub fingerprint: String,
}

impl Blocked {
    /// A sensitive-file finding (`file-…`): reported for the file's name, not for a line, so a
    /// `hush:allow` comment cannot allow it.
    fn is_file_finding(&self) -> bool {
        self.rule_id.starts_with("file-")
    }
}

/// What a hook checked: that decides what its advice can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The staged change, as `git commit` runs the hook: a file can be left out of the commit.
    Staged,
    /// Files named on the command line (the pre-commit framework's `--all-files` and range
    /// runs): what is found may already be committed.
    Files,
    /// The commits a push sends.
    Push,
}

impl Check {
    pub fn hook(self) -> Hook {
        match self {
            Check::Staged | Check::Files => Hook::PreCommit,
            Check::Push => Hook::PrePush,
        }
    }
}

/// What a blocked hook says after its findings (or its error): what to do with a real secret,
/// how to allow a false positive and how to bypass the check once. Every command it prints is
/// meant to be pasted as is, at the repository root (where git runs hooks), and to work.
pub fn advice(check: Check, blocked: &[Blocked], failed: bool) -> String {
    let hook = check.hook();
    let what = match hook {
        Hook::PreCommit => "commit",
        Hook::PrePush => "push",
    };
    let mut text = String::new();
    if failed {
        text.push_str(&format!(
            "hush: {what} blocked: hush could not complete its check (see the error above).\n"
        ));
    }
    if !blocked.is_empty() {
        let n = blocked.len();
        text.push_str(&format!(
            "hush: {what} blocked: {n} finding{} (shown above, secrets redacted).\n",
            if n == 1 { "" } else { "s" }
        ));
        let (files, secrets): (Vec<&Blocked>, Vec<&Blocked>) =
            blocked.iter().partition(|b| b.is_file_finding());
        real_secret_advice(check, &secrets, &files, &mut text);
        false_positive_advice(&secrets, blocked, &mut text);
    }
    text.push_str(&format!(
        "  To bypass hush for this {what} only: {}\n",
        hook.bypass()
    ));
    text
}

/// A real secret or a sensitive file: take it out, and what that means for each kind of check.
fn real_secret_advice(check: Check, secrets: &[&Blocked], files: &[&Blocked], text: &mut String) {
    let secret_paths = distinct_paths(secrets);
    let file_paths = distinct_paths(files);
    match check {
        Check::Staged => {
            if !secret_paths.is_empty() {
                text.push_str(
                    "  If a secret is real: move it out of the file (to an environment variable \
                     or an untracked file),\n  `git add` the file again, and rotate the secret \
                     if it was ever shared; or leave the file out\n  of this commit (the file \
                     itself is kept):\n",
                );
                text.push_str(&format!("    git reset -q -- {}\n", secret_paths.join(" ")));
            }
            if !file_paths.is_empty() {
                text.push_str(
                    "  A sensitive file: keep it out of git (unstaged and ignored; the file \
                     itself is kept):\n",
                );
                text.push_str(&format!(
                    "    git reset -q -- {} && {}\n",
                    file_paths.join(" "),
                    ignore_command(files)
                ));
            }
        }
        Check::Files => {
            if !secret_paths.is_empty() {
                text.push_str(
                    "  If a secret is real: move it out of the file and rotate it; if it was \
                     committed, it stays\n  in the history (`hush history` shows where).\n",
                );
            }
            if !file_paths.is_empty() {
                text.push_str(
                    "  A sensitive file: take it out of git (untracked and ignored; the file \
                     itself is kept):\n",
                );
                text.push_str(&format!(
                    "    git rm -q --cached -- {} && {}\n",
                    file_paths.join(" "),
                    ignore_command(files)
                ));
            }
        }
        Check::Push => text.push_str(
            "  Remove each secret from the commits being pushed (edit, then `git commit --amend` \
             or `git rebase -i`), and revoke it: it may already be copied elsewhere.\n",
        ),
    }
}

/// How to allow a false positive: `hush:allow` only where it works (a line of content, not a
/// file name), and the `.hushignore` lines, to be committed so that everyone shares them.
fn false_positive_advice(secrets: &[&Blocked], blocked: &[Blocked], text: &mut String) {
    let lines: Vec<String> = secrets
        .iter()
        .map(|b| format!("{}:{}", b.path, b.line))
        .collect();
    if lines.is_empty() {
        text.push_str(
            "  If a finding is a false positive: add its line to .hushignore and commit that file:\n",
        );
    } else {
        text.push_str(&format!(
            "  If a finding is a false positive: add a `hush:allow` comment on its line ({}),\n  \
             or add its line to .hushignore and commit that file:\n",
            lines.join(", ")
        ));
    }
    for b in blocked {
        text.push_str(&format!(
            "    echo {}  >> .hushignore   # {}:{} {}\n",
            b.fingerprint, b.path, b.line, b.rule_id
        ));
    }
    text.push_str("    git add .hushignore\n");
}

/// Each finding's path once, shell-quoted, in order of first appearance.
fn distinct_paths(blocked: &[&Blocked]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    blocked
        .iter()
        .filter(|b| seen.insert(b.path.as_str()))
        .map(|b| shell_quote(&b.path))
        .collect()
}

/// Appends an anchored pattern for each file to `.gitignore` and stages it. The empty first
/// line keeps the patterns off a last line that lacks its newline.
fn ignore_command(files: &[&Blocked]) -> String {
    let mut seen = std::collections::HashSet::new();
    let patterns: Vec<String> = files
        .iter()
        .filter(|b| seen.insert(b.path.as_str()))
        .map(|b| shell_quote(&format!("/{}", gitignore_escape(&b.path))))
        .collect();
    format!(
        "printf '%s\\n' '' {} >> .gitignore && git add .gitignore",
        patterns.join(" ")
    )
}

/// A path as a `.gitignore` pattern that matches it literally.
fn gitignore_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | '\\' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shims_carry_the_signature_and_quote_the_binary() {
        let text = shim(Hook::PrePush, Some(Path::new("/opt/it's here/hush")), None);
        assert!(is_ours(text.as_bytes()));
        assert!(text.contains(r"'/opt/it'\''s here/hush'"));
        assert!(text.contains("hook pre-push \"$@\""));
        assert!(!is_ours(b"#!/bin/sh\nexec lint\n"));
    }

    #[test]
    fn the_repositorys_hook_files_are_the_shims() {
        // hooks/ in the repository are for people who copy hooks by hand: the same scripts,
        // finding hush on PATH or in the usual install places.
        assert_eq!(
            include_str!("../hooks/pre-commit"),
            shim(Hook::PreCommit, None, None)
        );
        assert_eq!(
            include_str!("../hooks/pre-push"),
            shim(Hook::PrePush, None, None)
        );
    }

    #[test]
    fn a_chained_shim_runs_hush_then_the_displaced_hook_with_the_same_input() {
        let text = shim(
            Hook::PrePush,
            Some(Path::new("/bin/hush")),
            Some(Path::new("/repo/.git/hooks/pre-push.bak")),
        );
        assert!(is_ours(text.as_bytes()));
        assert_eq!(
            recorded_backup(text.as_bytes()).as_deref(),
            Some("pre-push.bak")
        );
        let hush = text
            .find("| \"$hush\" hook pre-push \"$@\" || exit $?")
            .unwrap();
        let theirs = text.find("| run_chained \"$@\"").unwrap();
        assert!(text.find("input=$(cat; echo .)").unwrap() < hush && hush < theirs);
        // pre-commit has no input to pass on, and must not wait for one.
        let text = shim(Hook::PreCommit, None, Some(Path::new("pre-commit.bak")));
        assert!(!text.contains("cat"));
        assert!(text.contains("\nrun_chained \"$@\"\n"));
    }

    fn finding(path: &str, rule_id: &str) -> Blocked {
        Blocked {
            path: path.into(),
            line: 1,
            rule_id: rule_id.into(),
            fingerprint: "f00".into(),
        }
    }

    #[test]
    fn advice_offers_hush_allow_only_for_lines_and_unstaging_only_for_commits() {
        let file = [finding(".env", "file-dotenv")];
        let text = advice(Check::Staged, &file, false);
        assert!(!text.contains("hush:allow"), "{text}");
        assert!(text.contains("git reset -q -- '.env' && "), "{text}");
        assert!(text.contains("git add .hushignore"), "{text}");
        let both = [
            finding("a b.py", "github-pat"),
            finding("a b.py", "aws-access-key-id"),
        ];
        let text = advice(Check::Staged, &both, false);
        assert!(text.contains("hush:allow"), "{text}");
        assert!(text.contains("git reset -q -- 'a b.py'\n"), "{text}");
        assert!(text.contains("rotate"), "{text}");
        let text = advice(Check::Files, &both, false);
        assert!(!text.contains("git reset"), "{text}");
        let text = advice(Check::Push, &both, false);
        assert!(text.contains("git push --no-verify"), "{text}");
        assert!(!text.contains("git reset"), "{text}");
    }

    #[test]
    fn gitignore_patterns_match_the_path_literally() {
        assert_eq!(gitignore_escape("a/.env"), "a/.env");
        assert_eq!(gitignore_escape("#x/[a]*?.env"), "\\#x/\\[a]\\*\\?.env");
    }

    #[test]
    fn push_lines_parse_and_reject_garbage() {
        let zero = "0".repeat(40);
        let sha = "1".repeat(40);
        let text = format!("refs/heads/a {sha} refs/heads/a {zero}\n\n");
        let updates = parse_push_lines(&text).unwrap();
        assert_eq!(updates.len(), 1);
        assert!(updates[0].remote.is_null());
        assert!(parse_push_lines("refs/heads/a 123").is_err());
    }
}
