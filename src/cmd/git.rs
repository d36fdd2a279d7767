//! `hush staged`, `hush history` and `hush hook …`: open the repository, build the scanner from
//! its root's config, run a git source on a worker thread and drain its events into the report.
//! The hook entry points add the advice a blocked commit or push needs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{drain, exit_code, open_report, prepare, CmdError, ReportArgs};
use crate::hook::{self, Blocked, Check, Hook, HookError, Installed, Removed};
use crate::report::{Finding, Sink, Stats, Style};
use crate::scan::{allow_entry, Allowlist, Scanner};
use crate::source::fs::{self, Counters, Walk};
use crate::source::git::{self, GitError, HistoryCounters, HistoryScan, Oversize, Revisions};
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
    /// Scan only shard I of N (1 <= I <= N): every shard walks all commits, and reads only the
    /// blobs whose object id falls in it; `hush report merge` joins the shards' reports.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<git::Shard>,
    /// Incremental: record what was scanned in FILE, and on later runs with it read only the
    /// commits and blobs not scanned yet. The file is replaced only after a successful scan.
    #[arg(long, value_name = "FILE", conflicts_with = "range")]
    pub state: Option<PathBuf>,
    /// With --state: report the findings new since the state (`new`, the default) or every
    /// finding known to it (`all`).
    #[arg(long = "report", value_enum, value_name = "WHICH", requires = "state")]
    pub which: Option<Which>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Which findings an incremental scan reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    New,
    All,
}

/// `hush hook` arguments.
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum HookAction {
    /// Install the pre-commit hook (with --pre-push, the pre-push hook too; --only picks one).
    Install(InstallArgs),
    /// Remove the hooks hush installed (and restore any hook they replaced).
    Uninstall(RepoArg),
    /// What the pre-commit hook runs: `hush staged`, with advice when it blocks; given file
    /// names (the pre-commit framework's runs), those files.
    PreCommit(PreCommitArgs),
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
    /// Install this hook alone.
    #[arg(long, value_enum, value_name = "HOOK", conflicts_with = "pre_push")]
    pub only: Option<HookName>,
    /// Displace hooks hush did not write: each is kept as `<hook>.bak` and run after hush passes.
    #[arg(long)]
    pub force: bool,
}

/// A hook, as `--only` names it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HookName {
    PreCommit,
    PrePush,
}

/// `hush hook pre-commit` arguments.
#[derive(Debug, clap::Args)]
pub struct PreCommitArgs {
    /// Files to check (as the pre-commit framework passes them). Without any, the staged change.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub staged: StagedArgs,
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
    if let Some(state) = &args.state {
        return incremental_history(&repo, args, state);
    }
    run_history(&repo, revisions, &args.report, None, args.shard, None)
}

/// `hush history --state FILE`: the state is checked before anything is scanned, and written
/// only once the scan and its report have succeeded.
fn incremental_history(
    repo: &gix::Repository,
    args: &HistoryArgs,
    path: &Path,
) -> Result<ExitCode, CmdError> {
    let root = git::root(repo);
    let settings = state_settings(&root, &args.report, args.shard)?;
    let state_error = |e: git::StateError| CmdError::Input(e.to_string());
    let prior = git::State::read(path).map_err(state_error)?;
    if let Some(prior) = &prior {
        prior.check(path, repo, &settings).map_err(state_error)?;
    } else {
        super::warn(&format!(
            "no state at '{}' yet: scanning the whole history",
            path.display()
        ));
    }
    let incremental = git::Incremental::new(prior);
    let which = args.which.unwrap_or(Which::New);
    let known = std::cell::RefCell::new(None);
    let sift = |found, errors| {
        let (report, all) = new_findings(incremental.prior(), found, which);
        if errors == 0 {
            *known.borrow_mut() = Some(all);
        }
        report
    };
    let code = run_history(
        repo,
        Revisions::All,
        &args.report,
        None,
        args.shard,
        Some((&incremental, &sift)),
    )?;
    if let Some(all) = known.into_inner() {
        let records = all.iter().map(crate::report::merge::record).collect();
        incremental
            .into_state(settings, records)
            .write(path)
            .map_err(state_error)?;
    }
    Ok(code)
}

/// Of what an incremental scan `found`: the findings to report (those whose fingerprints the
/// state does not know, or with `all` every known one too) and every finding known after it.
fn new_findings(
    prior: &git::State,
    found: Vec<Finding>,
    which: Which,
) -> (Vec<Finding>, Vec<Finding>) {
    use crate::report::merge;
    let known = prior.fingerprints();
    let before = prior
        .findings
        .iter()
        .filter_map(|l| merge::from_record(l).ok());
    let fresh: Vec<Finding> = found
        .iter()
        .filter(|f| !known.contains(&f.fingerprint))
        .cloned()
        .collect();
    // A copy of what a rename only moved is not reported, now or later.
    let silent: std::collections::HashSet<&String> = prior.silent.iter().collect();
    let found = found
        .into_iter()
        .filter(|f| !silent.contains(&f.fingerprint));
    let all = merge::merge(before.chain(found));
    match which {
        Which::New => (fresh, all),
        Which::All => (all.clone(), all),
    }
}

/// Everything that decides what a history scan finds: a state is valid only for the same.
fn state_settings(
    root: &Path,
    report: &ReportArgs,
    shard: Option<git::Shard>,
) -> Result<[u8; 32], CmdError> {
    let mut config = crate::rules::Config::discover(report.config.as_deref(), root)?;
    config.min_confidence = report.min_confidence.or(config.min_confidence);
    config.origin.clear();
    config.proxy = None;
    let read = |path: &Path| match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(CmdError::Input(format!(
            "cannot read '{}': {e}",
            path.display()
        ))),
    };
    let ignore = read(&root.join(".hushignore"))?;
    let baseline = match &report.baseline {
        Some(path) => read(path)?,
        None => Vec::new(),
    };
    let config = format!("{config:?}");
    let limits = format!(
        "{} {:?}",
        report.max_file_size,
        shard.map(|s| s.to_string())
    );
    Ok(git::settings_digest(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        crate::rules::DEFAULT_SECRETS.as_bytes(),
        crate::rules::DEFAULT_FILES.as_bytes(),
        config.as_bytes(),
        &ignore,
        &baseline,
        limits.as_bytes(),
    ]))
}

/// `hush hook …`.
pub fn hook(args: &HookArgs) -> Result<ExitCode, CmdError> {
    match &args.action {
        HookAction::Install(args) => install(args),
        HookAction::Uninstall(args) => uninstall(args),
        HookAction::PreCommit(args) if args.files.is_empty() => Ok(fail_closed(
            Hook::PreCommit,
            run_staged(&args.staged, Some(Check::Staged)),
        )),
        HookAction::PreCommit(args) => Ok(fail_closed(Hook::PreCommit, pre_commit_files(args))),
        HookAction::PrePush(args) => Ok(fail_closed(Hook::PrePush, pre_push(args))),
    }
}

/// A hook that cannot finish its check blocks (exit 2) and says how to bypass it once.
fn fail_closed(hook: Hook, result: Result<ExitCode, CmdError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hush: error: {e}");
            let check = match hook {
                Hook::PreCommit => Check::Staged,
                Hook::PrePush => Check::Push,
            };
            eprint!("{}", hook::advice(check, &[], true));
            ExitCode::from(2)
        }
    }
}

fn install(args: &InstallArgs) -> Result<ExitCode, CmdError> {
    let repo = git::open(&args.repo)?;
    let hooks: &[Hook] = match (args.only, args.pre_push) {
        (Some(HookName::PreCommit), _) => &[Hook::PreCommit],
        (Some(HookName::PrePush), _) => &[Hook::PrePush],
        (None, true) => &[Hook::PreCommit, Hook::PrePush],
        (None, false) => &[Hook::PreCommit],
    };
    // The hook runs this very binary, found by absolute path: GUI clients' PATH may lack it.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    for done in hook::install(&repo, hooks, args.force, binary.as_deref())? {
        match done {
            Installed::Written(path) => eprintln!("hush: installed {}", path.display()),
            Installed::Chained { path, backup } => eprintln!(
                "hush: installed {}; the hook it displaced is kept as {} and runs after hush passes \
                 (`hush hook uninstall` puts it back)",
                path.display(),
                backup.display()
            ),
        }
    }
    if let Some(config) = hook::shared_hooks_config(&repo) {
        eprintln!(
            "hush: note: core.hooksPath is set in {config}: these hooks run for every repository \
             that does not set its own core.hooksPath, not only this one"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn uninstall(args: &RepoArg) -> Result<ExitCode, CmdError> {
    let repo = git::open(&args.repo)?;
    if let Some(config) = hook::shared_hooks_config(&repo) {
        eprintln!(
            "hush: note: core.hooksPath is set in {config}: removing these hooks removes them for \
             every repository that uses them"
        );
    }
    for done in hook::uninstall(&repo)? {
        match done {
            Removed::Removed(path) => eprintln!("hush: removed {}", path.display()),
            Removed::Restored { path, backup } => eprintln!(
                "hush: removed {} and restored the hook it had displaced (from {})",
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
    let repo = git::open(&args.staged.repo)?;
    let updates = match framework_push(&repo)? {
        Some(updates) => updates,
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| CmdError::Input(format!("cannot read the pre-push ref lines: {e}")))?;
            hook::parse_push_lines(&input)?
        }
    };
    // git passes the remote's name, or its URL when the push names a URL; the framework passes
    // it in its environment.
    let remote = args
        .remote
        .clone()
        .or_else(|| std::env::var("PRE_COMMIT_REMOTE_NAME").ok())
        .unwrap_or_default();
    let revisions = hook::push_revisions(&repo, &remote, &updates)?;
    run_history(
        &repo,
        revisions,
        &args.staged.report,
        Some(Check::Push),
        None,
        None,
    )
}

/// Under the pre-commit framework (`PRE_COMMIT` set), git's ref lines were read by the
/// framework's own hook and are gone: it passes the push as `PRE_COMMIT_FROM_REF` (what the remote
/// has) and `PRE_COMMIT_TO_REF` (what is pushed). Without them it is pushing a history the remote
/// has none of (then `PRE_COMMIT_LOCAL_BRANCH` names it), or it was run by hand: everything
/// reachable from that branch (or `HEAD`) that no remote-tracking branch has is checked.
/// Standard input is never read there: run by hand, it is the terminal.
fn framework_push(repo: &gix::Repository) -> Result<Option<Vec<hook::PushUpdate>>, CmdError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if var("PRE_COMMIT").is_none() {
        return Ok(None);
    }
    let resolve = |spec: &str| {
        repo.rev_parse_single(spec)
            .map(|id| id.detach())
            .map_err(|e| {
                CmdError::Input(format!(
                    "cannot resolve '{spec}' (from the pre-commit framework): {}",
                    crate::rules::one_line(&e)
                ))
            })
    };
    let local_ref = var("PRE_COMMIT_LOCAL_BRANCH").unwrap_or_else(|| "HEAD".to_string());
    let remote_ref = var("PRE_COMMIT_REMOTE_BRANCH").unwrap_or_else(|| local_ref.clone());
    let (local, remote) = match (var("PRE_COMMIT_FROM_REF"), var("PRE_COMMIT_TO_REF")) {
        (Some(from), Some(to)) => (resolve(&to)?, resolve(&from)?),
        _ => (
            resolve(&local_ref)?,
            gix::ObjectId::null(repo.object_hash()),
        ),
    };
    Ok(Some(vec![hook::PushUpdate {
        local_ref,
        local,
        remote_ref,
        remote,
    }]))
}

/// `hush hook pre-commit FILE ...`, as the pre-commit framework runs it.
///
/// The framework passes file names in every run: for a commit, the staged paths; for
/// `--all-files`, every tracked file; for `--from-ref/--to-ref`, the files the range changed.
/// A commit must be judged by what it adds (old lines of a file it touches are not new, and
/// re-reporting them would block an innocent commit), the other runs by the files whole (their
/// point is to find what is already committed). The names tell them apart: when no range is set
/// and every name is a path the staged change adds or modifies, this is a commit, and the staged
/// change of those paths is judged, added lines only. "Every name" rather than "exactly the
/// staged paths" because the framework may split the names over several processes and drops
/// those its `files`/`exclude` filters remove. Otherwise the files are scanned whole in the
/// working tree, like `hush scan` of them, with paths, config and `.hushignore` relative to the
/// repository root.
fn pre_commit_files(args: &PreCommitArgs) -> Result<ExitCode, CmdError> {
    let started = Instant::now();
    let repo = git::open(&args.staged.repo)?;
    let root = git::root(&repo);
    let root = root.canonicalize().unwrap_or(root);
    let relative: Vec<String> = args.files.iter().map(|f| repo_relative(f, &root)).collect();
    let range = ["PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if !range {
        let mut warnings = Vec::new();
        let staged = git::staged_changes(&repo, &mut warnings)?;
        if let Some(named) = staged.only(&relative) {
            return scan_staged_subset(&repo, &root, named, warnings, &args.staged.report, started);
        }
    }
    for file in &args.files {
        if std::fs::symlink_metadata(file).is_err() {
            return Err(CmdError::Input(format!(
                "cannot scan '{}': no such file or directory",
                file.display()
            )));
        }
    }
    let walk = Walk {
        paths: &args.files,
        gitignore: false,
        max_file_size: args.staged.report.max_file_size,
        relative: &relative,
    };
    run(
        prepare(&root, &args.staged.report)?,
        &args.staged.report,
        Some(Check::Files),
        started,
        |examiner, counters, _, events| {
            fs::walk(&walk, examiner, counters, events);
            Ok(())
        },
    )
}

/// The staged change of the named paths only, judged as `hush staged` judges it.
fn scan_staged_subset(
    repo: &gix::Repository,
    root: &Path,
    staged: git::Staged,
    warnings: Vec<String>,
    report: &ReportArgs,
    started: Instant,
) -> Result<ExitCode, CmdError> {
    run(
        prepare(root, report)?,
        report,
        Some(Check::Staged),
        started,
        |examiner, counters, _, events| {
            for warning in warnings {
                let _ = events.send(Event::Warning(warning));
            }
            git::scan_changes(repo, &staged, examiner, counters, events)
        },
    )
}

/// `file` (relative to the current directory, or absolute) as a `/`-separated path below the
/// repository root, as the index names it; a file outside the root keeps its name as given.
fn repo_relative(file: &Path, root: &Path) -> String {
    let absolute = match std::env::current_dir() {
        Ok(cwd) if file.is_relative() => cwd.canonicalize().unwrap_or(cwd).join(file),
        _ => file.to_path_buf(),
    };
    // Lexically: the name itself may be a symlink, which must not be followed here.
    let mut normal = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    match normal.strip_prefix(root) {
        Ok(rest) => rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => file.to_string_lossy().into_owned(),
    }
}

fn run_staged(args: &StagedArgs, hook: Option<Check>) -> Result<ExitCode, CmdError> {
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
            git::scan_changes(&repo, &changes, examiner, counters, events)
        },
    )
}

fn run_history(
    repo: &gix::Repository,
    revisions: Revisions,
    report: &ReportArgs,
    hook: Option<Check>,
    shard: Option<git::Shard>,
    incremental: Option<(&git::Incremental, Sift)>,
) -> Result<ExitCode, CmdError> {
    let started = Instant::now();
    run(
        prepare(&git::root(repo), report)?,
        report,
        hook,
        started,
        |examiner, counters, history, events| {
            let scan = HistoryScan {
                examiner,
                max_file_size: report.max_file_size,
                // The pre-push guard reads what it judges, whatever its size.
                oversize: if hook.is_some() {
                    Oversize::Read
                } else {
                    Oversize::Skip
                },
                counters,
                history,
                shard,
                incremental: incremental.map(|(state, _)| state),
            };
            let Some((_, sift)) = incremental else {
                return git::scan_history(repo, &revisions, &scan, events);
            };
            // The scan's findings are judged against the state before they are reported.
            let (own, received) = std::sync::mpsc::channel();
            let scanned = git::scan_history(repo, &revisions, &scan, &own);
            drop(own);
            let mut found = Vec::new();
            for event in received {
                match event {
                    Event::Findings(batch) => found.extend(batch),
                    other => {
                        let _ = events.send(other);
                    }
                }
            }
            scanned?;
            let errors = counters.errors.load(Ordering::Relaxed);
            let _ = events.send(Event::Findings(sift(found, errors)));
            Ok(())
        },
    )
}

/// What an incremental scan does with its findings before they are reported: given them and the
/// count of read errors, returns those to report.
type Sift<'a> = &'a dyn Fn(Vec<Finding>, u64) -> Vec<Finding>;

/// The shared shape of a git command: the scanner built from the repository root's config, a
/// source on this thread, the report on a worker thread, and (for hooks) advice when the result blocks.
fn run(
    (scanner, allow): (Scanner, Allowlist),
    report: &ReportArgs,
    hook: Option<Check>,
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
                path: finding.shown_path(Style::default()),
                line: finding.line(),
                rule_id: finding.rule_id.clone(),
                fingerprint: allow_entry(&finding.rule_id, &finding.fingerprint, &finding.secret.0),
            });
        }
        self.inner.finding(finding)
    }

    fn finish(self: Box<Self>, stats: &Stats) -> std::io::Result<()> {
        self.inner.finish(stats)
    }
}
