//! Real git repositories in temp dirs, made with the `git` CLI, and the real `hush` binary run
//! against them. Every run checks that no full secret reached stdout or stderr.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A GitHub token with a valid checksum (rule `github-pat`), split so this file holds no secret.
pub const GITHUB: &str = concat!("ghp_UU2h7RsOIv020X", "EpWXEhWi955aBVsI0j08yS");
/// An AWS access key id (rule `aws-access-key-id`).
pub const AWS: &str = concat!("AKIAZ7VLRD", "Q4HWMFNB5K");
pub const SECRETS: [&str; 2] = [GITHUB, AWS];

pub fn hush_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hush"))
}

/// A git command isolated from the user's and the system's config.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("HUSH_FORMAT");
    cmd
}

pub struct Repo {
    pub tmp: TempDir,
    pub dir: PathBuf,
}

impl Repo {
    /// A fresh repository on branch `main` with an identity and no signing.
    pub fn new() -> Repo {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path().join("repo");
        std::fs::create_dir(&dir).unwrap();
        let repo = Repo { tmp, dir };
        repo.git(&["init", "-q", "--initial-branch=main", "."]);
        repo.configure();
        repo
    }

    /// Wraps an existing repository directory (e.g. a clone) inside this one's temp dir.
    pub fn at(&self, dir: PathBuf) -> Repo {
        let other = Repo {
            tmp: TempDir::new().unwrap(),
            dir,
        };
        other.configure();
        other
    }

    /// A bare clone of this repository at `remote.git` beside it, and a working clone of that
    /// (whose `origin` is the bare one) at `work`.
    pub fn clone_via_bare(&self) -> Repo {
        let bare = self.tmp.path().join("remote.git");
        self.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
        let work = self.tmp.path().join("work");
        self.git(&[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ]);
        self.at(work)
    }

    fn configure(&self) {
        self.git(&["config", "user.name", "Test Author"]);
        self.git(&["config", "user.email", "author@example.com"]);
        self.git(&["config", "commit.gpgsign", "false"]);
        self.git(&["config", "init.defaultBranch", "main"]);
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = git_cmd(&self.dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A git command that may fail (a hook may block it); outputs checked for full secrets.
    pub fn git_try(&self, args: &[&str]) -> Output {
        let out = git_cmd(&self.dir).args(args).output().unwrap();
        assert_no_secret(&out);
        out
    }

    /// Commits everything staged, at a fixed date (seconds since the epoch), hooks skipped.
    pub fn commit_at(&self, message: &str, seconds: i64) -> String {
        let date = format!("@{seconds} +0000");
        let out = git_cmd(&self.dir)
            .args([
                "commit",
                "-q",
                "--no-verify",
                "--allow-empty",
                "-m",
                message,
            ])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn write(&self, path: impl AsRef<Path>, content: impl AsRef<[u8]>) {
        let path = self.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }

    pub fn add(&self, paths: &[&str]) {
        let mut args = vec!["add", "--"];
        args.extend_from_slice(paths);
        self.git(&args);
    }

    /// Runs hush with `args` in the repository.
    pub fn hush(&self, args: &[&str]) -> Output {
        self.hush_with(args, None)
    }

    pub fn hush_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_hush(&self.dir, args.iter().map(OsStr::new), stdin)
    }
}

pub fn run_hush<'a>(
    dir: &Path,
    args: impl IntoIterator<Item = &'a OsStr>,
    stdin: Option<&str>,
) -> Output {
    use std::io::Write;
    let mut child = Command::new(hush_bin())
        .current_dir(dir)
        .args(args)
        .env_remove("HUSH_FORMAT")
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert_no_secret(&out);
    out
}

/// No output of any run may hold a full secret.
pub fn assert_no_secret(out: &Output) {
    for secret in SECRETS {
        for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !String::from_utf8_lossy(text).contains(secret),
                "full secret in {name}: {}",
                String::from_utf8_lossy(text)
            );
        }
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The findings of a `--format json` run.
pub fn findings(out: &Output) -> Vec<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)));
    doc["findings"].as_array().unwrap().clone()
}

/// (path, line, rule) of each finding, sorted.
pub fn summary(out: &Output) -> Vec<(String, u64, String)> {
    let mut all: Vec<_> = findings(out)
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["rule_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}
