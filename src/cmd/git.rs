//! `hush staged`, `hush history` and `hush hook …`: open the repository, build the scanner from
//! its root's config, run a git source on a worker thread and drain its events into the report.
//! The hook entry points add the advice a blocked commit or push needs.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{drain, exit_code, open_report, prepare, CmdError, ReportArgs};
use crate::hook::{self, Blocked, Hook, HookError, Installed, Removed};
use crate::report::{Finding, Sink, Stats};
use crate::scan::{Allowlist, Scanner};
use crate::source::fs::Counters;
use crate::source::git::{self, GitError, HistoryCounters, Revisions};
use crate::source::{Event, Examiner};

/// `hush staged` arguments.
#[derive(Debug, clap::Args)]
pub struct StagedArgs {
    /// The repository (default: the one containing the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `hush history` arguments.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The repository (default: the one containing the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Every commit reachable from any reference (the default).
    #[arg(long, conflicts_with = "range")]
    pub all: bool,
    /// A revision or range to scan instead, e.g. `origin/main..HEAD`.
    #[arg(value_name = "REV_RANGE")]
    pub range: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `hush hook` arguments.
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum HookAction {
    /// Install the pre-commit hook (and with --pre-push, the pre-push hook).
    Install(InstallArgs),
    /// Remove the hooks hush installed (and restore any hook they replaced).
    Uninstall(RepoArg),
    /// What the pre-commit hook runs: `hush staged`, with advice when it blocks.
    PreCommit(StagedArgs),
    /// What the pre-push hook runs: scans the commits being pushed (ref lines on stdin).
    PrePush(PrePushArgs),
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The repository (default: the one containing the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Also install the pre-push hook.
    #[arg(long)]
    pub pre_push: bool,
    /// Replace hooks hush did not write (each is kept as `<hook>.bak`).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RepoArg {
    /// The repository (default: the one containing the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PrePushArgs {
    /// The remote's name, as git passes it to the hook.
    pub remote: Option<String>,
    /// The remote's URL, as git passes it to the hook.
    pub url: Option<String>,
    #[command(flatten)]
    pub staged: StagedArgs,
}

impl From<GitError> for CmdError {
    fn from(e: GitError) -> CmdError {
        CmdError::Input(e.to_string())
    }
}

impl From<HookError> for CmdError {
    fn from(e: HookError) -> CmdError {
        CmdError::Input(e.to_string())
    }
}

/// `hush staged`: exit 0 clean, 1 findings, 2 errors.
pub fn staged(args: &StagedArgs) -> Result<ExitCode, CmdError> {
    run_staged(args, None)
}

/// `hush history`: exit 0 clean, 1 findings, 2 errors.
pub fn history(args: &HistoryArgs) -> Result<ExitCode, CmdError> {
    let revisions = match &args.range {
        Some(spec) => Revisions::Spec(spec.clone()),
        None => Revisions::All,
    };
    let repo = git::open(&args.repo)?;
    run_history(&repo, revisions, &args.report, None)
}

/// `hush hook …`.
pub fn hook(args: &HookArgs) -> Result<ExitCode, CmdError> {
    match &args.action {
        HookAction::Install(args) => install(args),
        HookAction::Uninstall(args) => uninstall(args),
        HookAction::PreCommit(args) => Ok(fail_closed(
            Hook::PreCommit,
            run_staged(args, Some(Hook::PreCommit)),
        )),
        HookAction::PrePush(args) => Ok(fail_closed(Hook::PrePush, pre_push(args))),
    }
}

/// A hook that cannot finish its check blocks (exit 2) and says how to bypass it once.
fn fail_closed(hook: Hook, result: Result<ExitCode, CmdError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hush: error: {e}");
            eprint!("{}", hook::advice(hook, &[], true));
            ExitCode::from(2)
        }
    }
}

fn install(args: &InstallArgs) -> Result<ExitCode, CmdError> {
    let repo = git::open(&args.repo)?;
    let hooks: &[Hook] = if args.pre_push {
        &[Hook::PreCommit, Hook::PrePush]
    } else {
        &[Hook::PreCommit]
    };
    // The hook runs this very binary, found by absolute path: GUI clients' PATH may lack it.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    for done in hook::install(&repo, hooks, args.force, binary.as_deref())? {
        match done {
            Installed::Written(path) => eprintln!("hush: installed {}", path.display()),
            Installed::Replaced { path, backup } => eprintln!(
                "hush: installed {} (the previous hook is kept as {})",
                path.display(),
                backup.display()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn uninstall(args: &RepoArg) -> Result<ExitCode, CmdError> {
    let repo = git::open(&args.repo)?;
    for done in hook::uninstall(&repo)? {
        match done {
            Removed::Removed(path) => eprintln!("hush: removed {}", path.display()),
            Removed::Restored { path, backup } => eprintln!(
                "hush: removed {} and restored the hook it had replaced (from {})",
                path.display(),
                backup.display()
            ),
            Removed::Foreign(path) => {
                eprintln!("hush: left {} alone: hush did not write it", path.display())
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn pre_push(args: &PrePushArgs) -> Result<ExitCode, CmdError> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| CmdError::Input(format!("cannot read the pre-push ref lines: {e}")))?;
    let updates = hook::parse_push_lines(&input)?;
    let repo = git::open(&args.staged.repo)?;
    let revisions = hook::push_revisions(&repo, &updates)?;
    run_history(&repo, revisions, &args.staged.report, Some(Hook::PrePush))
}

fn run_staged(args: &StagedArgs, hook: Option<Hook>) -> Result<ExitCode, CmdError> {
    let started = Instant::now();
    let repo = git::open(&args.repo)?;
    let root = git::root(&repo);
    let mut warnings = Vec::new();
    // Loading the rules and reading the index are independent and each takes a few
    // milliseconds: side by side, they keep a hook under its latency budget.
    let (prepared, changes) = std::thread::scope(|scope| {
        let rules = scope.spawn(|| prepare(&root, &args.report));
        let changes = git::staged_changes(&repo, &mut warnings);
        let prepared = rules
            .join()
            .unwrap_or_else(|_| Err(CmdError::Input("loading the rules panicked".into())));
        (prepared, changes)
    });
    let changes = changes?;
    run(
        prepared?,
        &args.report,
        hook,
        started,
        |examiner, counters, _, events| {
            for warning in warnings {
                let _ = events.send(Event::Warning(warning));
            }
            git::scan_changes(
                &repo,
                &changes,
                examiner,
                args.report.max_file_size,
                counters,
                events,
            );
            Ok(())
        },
    )
}

fn run_history(
    repo: &gix::Repository,
    revisions: Revisions,
    report: &ReportArgs,
    hook: Option<Hook>,
) -> Result<ExitCode, CmdError> {
    let started = Instant::now();
    run(
        prepare(&git::root(repo), report)?,
        report,
        hook,
        started,
        |examiner, counters, history, events| {
            git::scan_history(
                repo,
                &revisions,
                examiner,
                report.max_file_size,
                counters,
                history,
                events,
            )
        },
    )
}

/// The shared shape of a git command: the scanner built from the repository root's config, a
/// source on this thread, the report on a worker thread, and (for hooks) advice when the result blocks.
fn run(
    (scanner, allow): (Scanner, Allowlist),
    report: &ReportArgs,
    hook: Option<Hook>,
    started: Instant,
    produce: impl FnOnce(&Examiner, &Counters, &HistoryCounters, &Sender<Event>) -> Result<(), GitError>,
) -> Result<ExitCode, CmdError> {
    let examiner = Examiner {
        scanner: &scanner,
        allow: &allow,
    };
    let (output, sink) = open_report(report)?;
    let blocked = Arc::new(Mutex::new(Vec::new()));
    let mut sink: Box<dyn Sink> = match hook {
        Some(_) => Box::new(Recording {
            inner: sink,
            blocked: Arc::clone(&blocked),
        }),
        None => sink,
    };
    let counters = Counters::default();
    let history = HistoryCounters::default();
    let (sender, receiver) = std::sync::mpsc::channel();
    // The repository handle is not `Sync`, so the source runs here and the report is written
    // from a worker thread as events arrive.
    let (drained, produced, sink) = std::thread::scope(|scope| {
        let drainer = scope.spawn(move || {
            let drained = drain(receiver, sink.as_mut());
            (drained, sink)
        });
        let produced = produce(&examiner, &counters, &history, &sender);
        drop(sender);
        match drainer.join() {
            Ok((drained, sink)) => Ok((drained, produced, sink)),
            Err(_) => Err(CmdError::Input("the report thread panicked".into())),
        }
    })?;
    let (findings, errors) = match (drained, produced) {
        (Ok(counts), Ok(())) => counts,
        (Err(e), _) => {
            output.abandon();
            return Err(e);
        }
        (_, Err(e)) => {
            output.abandon();
            return Err(e.into());
        }
    };
    let stats = Stats {
        files: counters.files.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        commits: history.commits.load(Ordering::Relaxed),
        blobs: history.blobs.load(Ordering::Relaxed),
        skipped: counters.skipped.load(Ordering::Relaxed),
        binary: counters.binary.load(Ordering::Relaxed),
        errors,
        duration_ms: started.elapsed().as_millis() as u64,
        ..Stats::default()
    };
    sink.finish(&stats).map_err(CmdError::Output)?;
    output.commit().map_err(CmdError::Output)?;
    // Errors were counted by the drain (from events) and by the producer's counters alike; the
    // producer reports each one as an event, so the drain's count is the one to use.
    if let Some(hook) = hook {
        let blocked = blocked.lock().map(|b| b.clone()).unwrap_or_default();
        if findings > 0 || errors > 0 {
            eprint!("{}", hook::advice(hook, &blocked, errors > 0));
        }
    }
    Ok(exit_code(findings, errors))
}

/// Passes findings on to the report, keeping what the hook advice names.
struct Recording {
    inner: Box<dyn Sink>,
    blocked: Arc<Mutex<Vec<Blocked>>>,
}

impl Sink for Recording {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        if let Ok(mut blocked) = self.blocked.lock() {
            blocked.push(Blocked {
                path: finding.path.clone(),
                line: finding.line,
                rule_id: finding.rule_id.clone(),
                fingerprint: finding.fingerprint.clone(),
            });
        }
        self.inner.finding(finding)
    }

    fn finish(self: Box<Self>, stats: &Stats) -> std::io::Result<()> {
        self.inner.finish(stats)
    }
}
