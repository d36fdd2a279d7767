//! `hush scan` and `hush baseline`: files, directories and standard input.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{drain, exit_code, find_root, open_report, prepare, CmdError, ReportArgs};
use crate::report::{Finding, Sink, Stats};
use crate::scan::{allow_entry, baseline_json, Entry};
use crate::source::fs::{self, Counters, Walk};
use crate::source::Examiner;

/// `hush scan` arguments.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Skip files that .gitignore ignores (off by default: ignored `.env` files are what leaks).
    #[arg(long)]
    pub gitignore: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `hush scan`: exit 0 clean, 1 findings, 2 errors.
pub fn run(args: &ScanArgs) -> Result<ExitCode, CmdError> {
    let (output, mut sink) = open_report(&args.report)?;
    match scan(args, sink.as_mut()) {
        Ok((stats, findings, errors)) => {
            sink.finish(&stats).map_err(CmdError::Output)?;
            output.commit().map_err(CmdError::Output)?;
            Ok(exit_code(findings, errors))
        }
        Err(e) => {
            output.abandon();
            Err(e)
        }
    }
}

/// `hush baseline`: records an allow entry for every current finding, so that `--baseline`
/// reports only new ones. Exit 0 unless something could not be read.
pub fn baseline(args: &ScanArgs) -> Result<ExitCode, CmdError> {
    let mut collected = Collected {
        reuse: args
            .report
            .output
            .as_deref()
            .map(previous_entries)
            .unwrap_or_default(),
        ..Collected::default()
    };
    let (_, _, errors) = scan(args, &mut collected)?;
    if errors > 0 {
        return Ok(exit_code(0, errors));
    }
    let doc = baseline_json(collected.entries.iter().map(String::as_str));
    let (output, mut writer) = super::Output::open(args.report.output.as_deref(), false)
        .map_err(|e| CmdError::Input(format!("cannot create output: {e}")))?;
    let written = serde_json::to_writer_pretty(&mut writer, &doc)
        .map_err(std::io::Error::from)
        .and_then(|()| writer.write_all(b"\n"))
        .and_then(|()| writer.flush());
    drop(writer);
    match written {
        Ok(()) => output.commit().map_err(CmdError::Output)?,
        Err(e) => {
            output.abandon();
            return Err(CmdError::Output(e));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Walks `args.paths` into `sink`; returns the stats, finding count and error count.
fn scan(args: &ScanArgs, sink: &mut dyn Sink) -> Result<(Stats, u64, u64), CmdError> {
    let started = Instant::now();
    for path in &args.paths {
        if path.as_os_str() != "-" && std::fs::symlink_metadata(path).is_err() {
            return Err(CmdError::Input(format!(
                "cannot scan '{}': no such file or directory",
                path.display()
            )));
        }
    }
    let paths = distinct(&args.paths);
    let first = paths
        .iter()
        .find(|p| p.as_os_str() != "-")
        .map_or(Path::new("."), PathBuf::as_path);
    let root = find_root(first);
    let relative: Vec<String> = paths.iter().map(|p| relative_to(p, &root)).collect();
    let (scanner, allow) = prepare(&root, &args.report)?;
    let examiner = Examiner {
        scanner: &scanner,
        allow: &allow,
    };
    let counters = Counters::default();
    let walk = Walk {
        paths: &paths,
        gitignore: args.gitignore,
        max_file_size: args.report.max_file_size,
        relative: &relative,
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    let (findings, errors) = std::thread::scope(|scope| {
        let (walk, examiner, counters) = (&walk, &examiner, &counters);
        scope.spawn(move || fs::walk(walk, examiner, counters, &sender));
        drain(receiver, sink)
    })?;
    let stats = Stats {
        files: counters.files.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        skipped: counters.skipped.load(Ordering::Relaxed),
        binary: counters.binary.load(Ordering::Relaxed),
        symlinks: counters.symlinks.load(Ordering::Relaxed),
        // Every error reached the drain as an event; the walk's counter counts them again.
        errors,
        duration_ms: started.elapsed().as_millis() as u64,
        ..Stats::default()
    };
    Ok((
        stats,
        findings,
        errors + counters.errors.load(Ordering::Relaxed),
    ))
}

/// `paths` without those another one covers (`hush scan . src`, or a path given twice), so no
/// file is read or reported twice.
fn distinct(paths: &[PathBuf]) -> Vec<PathBuf> {
    let canonical: Vec<Option<PathBuf>> = paths
        .iter()
        .map(|p| {
            (p.as_os_str() != "-")
                .then(|| p.canonicalize().ok())
                .flatten()
        })
        .collect();
    let covered = |i: usize, mine: &Path| {
        canonical.iter().enumerate().any(|(j, other)| {
            other
                .as_deref()
                .is_some_and(|o| j != i && mine.starts_with(o) && (mine != o || j < i))
        })
    };
    paths
        .iter()
        .zip(&canonical)
        .enumerate()
        .filter(|(i, (_, mine))| !mine.as_deref().is_some_and(|m| covered(*i, m)))
        .map(|(_, (p, _))| p.clone())
        .collect()
}

/// Where `path` lies below `root`, `/`-separated (`""` for the root itself).
fn relative_to(path: &Path, root: &Path) -> String {
    let Ok(canonical) = path.canonicalize() else {
        return path.to_string_lossy().into_owned();
    };
    match canonical.strip_prefix(root) {
        Ok(rest) => rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// The `hush2:` entries of the baseline a rerun is about to replace: an entry that still allows
/// a finding is kept as it is, so regenerating a baseline does not rewrite every line (each new
/// entry has a fresh random salt). Anything unreadable is simply not reused.
fn previous_entries(path: &Path) -> Vec<Entry> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    doc.get("fingerprints")
        .and_then(|list| list.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().and_then(Entry::parse))
                .collect()
        })
        .unwrap_or_default()
}

/// A sink that keeps allow entries only (for `hush baseline`): a path-independent entry per
/// distinct (rule, secret), the fingerprint for a sensitive file.
#[derive(Default)]
struct Collected {
    entries: Vec<String>,
    /// (rule, is a file finding, secret or fingerprint) already recorded.
    seen: HashSet<(String, bool, Vec<u8>)>,
    reuse: Vec<Entry>,
}

impl Sink for Collected {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        let secret = &finding.secret.0;
        // One entry per secret wherever it is; a sensitive file's is its path-bound fingerprint.
        let key = if secret.is_empty() {
            (
                finding.rule_id.clone(),
                true,
                finding.fingerprint.clone().into_bytes(),
            )
        } else {
            (finding.rule_id.clone(), false, secret.clone())
        };
        if !self.seen.insert(key) {
            return Ok(());
        }
        let kept = (!secret.is_empty())
            .then(|| {
                self.reuse
                    .iter()
                    .find(|e| e.matches(&finding.rule_id, secret))
            })
            .flatten();
        self.entries.push(match kept {
            Some(entry) => entry.to_string(),
            None => allow_entry(&finding.rule_id, &finding.fingerprint, secret),
        });
        Ok(())
    }

    fn finish(self: Box<Self>, _stats: &Stats) -> std::io::Result<()> {
        Ok(())
    }
}
