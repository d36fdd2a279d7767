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
        "'{}' exists and was not written by hush; rerun with --force to replace it \
         (it is kept as '{}')",
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
/// run hooks with a PATH that lacks the user's shell setup. Without any hush it blocks (exit 2).
/// `backup` names the file (beside the hook) that the hook it replaced was moved to, so that
/// `uninstall` puts back that one and nothing else.
pub fn shim(hook: Hook, binary: Option<&Path>, backup: Option<&Path>) -> String {
    let first = binary.map_or_else(String::new, |b| {
        format!("{} ", shell_quote(&b.to_string_lossy()))
    });
    let name = hook.name();
    let bypass = hook.bypass();
    let kept = backup
        .and_then(Path::file_name)
        .map_or_else(String::new, |b| {
            format!("{BACKUP_LINE}{}\n", b.to_string_lossy())
        });
    format!(
        "#!/bin/sh\n\
         {SIGNATURE}\n\
         {kept}\
         # Blocks secrets from leaving in a {name}; bypass once with: {bypass}\n\
         for hush in {first}\"$(command -v hush 2>/dev/null)\" \"$HOME/.cargo/bin/hush\" \
         /usr/local/bin/hush /opt/homebrew/bin/hush; do\n\
         \x20   if [ -n \"$hush\" ] && [ -x \"$hush\" ]; then exec \"$hush\" hook {name} \"$@\"; fi\n\
         done\n\
         echo \"hush: error: hush not found (not on PATH, nor in ~/.cargo/bin); {name} blocked. \
         Install hush, or bypass once with: {bypass}\" >&2\n\
         exit 2\n"
    )
}

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

/// What `install` did with one hook.
#[derive(Debug)]
pub enum Installed {
    Written(PathBuf),
    /// A foreign hook was moved aside to `backup` (with `--force`).
    Replaced {
        path: PathBuf,
        backup: PathBuf,
    },
}

/// Writes the shims for `hooks`, executing `binary`. A hook hush did not write is replaced only
/// with `force`, and then kept as `<hook>.bak`.
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
            Some(backup) => Installed::Replaced { path, backup },
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

/// What a blocked hook says after its findings (or its error): how to allow a false positive
/// and how to bypass the check once.
pub fn advice(hook: Hook, blocked: &[Blocked], failed: bool) -> String {
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
        if hook == Hook::PrePush {
            text.push_str(
                "  Remove each secret from the commits being pushed (edit, then `git commit --amend` \
                 or `git rebase -i`), and revoke it: it may already be copied elsewhere.\n",
            );
        }
        text.push_str(
            "  If a finding is a false positive, either add a `hush:allow` comment on its line,\n  \
             or add its fingerprint to .hushignore at the repository root:\n",
        );
        for b in blocked {
            text.push_str(&format!(
                "    echo {}  >> .hushignore   # {}:{} {}\n",
                b.fingerprint, b.path, b.line, b.rule_id
            ));
        }
    }
    text.push_str(&format!(
        "  To bypass hush for this {what} only: {}\n",
        hook.bypass()
    ));
    text
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
