//! `hush scan` and `hush baseline`: files, directories and standard input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{drain, exit_code, find_root, open_report, prepare, CmdError, ReportArgs};
use crate::report::{Finding, Sink, Stats};
use crate::scan::baseline_json;
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

/// `hush baseline`: records the fingerprints of every current finding, so that `--baseline`
/// reports only new ones. Exit 0 unless something could not be read.
pub fn baseline(args: &ScanArgs) -> Result<ExitCode, CmdError> {
    let mut collected = Collected::default();
    let (_, _, errors) = scan(args, &mut collected)?;
    if errors > 0 {
        return Ok(exit_code(0, errors));
    }
    let doc = baseline_json(collected.0.iter().map(String::as_str));
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

/// A sink that keeps fingerprints only (for `hush baseline`).
#[derive(Default)]
struct Collected(Vec<String>);

impl Sink for Collected {
    fn finding(&mut self, finding: Finding) -> std::io::Result<()> {
        self.0.push(finding.fingerprint);
        Ok(())
    }

    fn finish(self: Box<Self>, _stats: &Stats) -> std::io::Result<()> {
        Ok(())
    }
}
