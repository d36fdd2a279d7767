//! Command runners: each loads its config, builds the scanner, drives a source and reports.
//! `main.rs` only parses arguments and calls one of these.

pub mod git;
pub mod merge;
mod output;
pub mod rules;
pub mod run;
pub mod scan;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::mpsc::Receiver;

use crate::report::{self, Format, Sink, Style};
use crate::rules::{Confidence, Config, RuleSet};
use crate::scan::{Allowlist, Scanner};
use crate::source::Event;

pub use output::Output;

/// Flags shared by the scanning commands.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "human", env = "HUSH_FORMAT")]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Config file (default: `.hush.toml` at the scan or repository root, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Never colour output (also `NO_COLOR`).
    #[arg(long)]
    pub no_color: bool,
    /// Print secrets in full. Never the default.
    #[arg(long)]
    pub show_secrets: bool,
    /// Ignore findings whose fingerprints are recorded in FILE (see `hush baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Skip (and count) files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_file_size: u64,
    /// Run only the rules at least this sure (`min_confidence` in the config; default `low`,
    /// every rule).
    #[arg(long, value_enum, value_name = "LEVEL", env = "HUSH_MIN_CONFIDENCE")]
    pub min_confidence: Option<Confidence>,
}

/// A failure that ends a command with exit 2.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error(transparent)]
    Rules(#[from] crate::rules::RuleError),
    #[error("{0}")]
    Input(String),
    #[error("cannot write report: {0}")]
    Output(#[source] std::io::Error),
}

/// The contract's exit codes: 0 clean, 1 findings, 2 errors (errors are printed by `main`).
pub fn exit_code(findings: u64, errors: u64) -> ExitCode {
    match (errors, findings) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

/// The directory that config, `.hushignore` and relative paths hang off: the nearest ancestor of
/// `start` (inclusive) holding `.hush.toml`, `.hushignore` or `.git`; failing that, the current
/// directory if `start` lies below it, else `start` itself. Fingerprints are relative to it, so
/// `hush scan src` and `hush scan .` agree.
pub fn find_root(start: &Path) -> PathBuf {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    // A file, device, pipe or broken link hangs off its directory.
    let base = if start.is_dir() {
        start
    } else {
        match start.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    for dir in base.ancestors() {
        if [".hush.toml", ".hushignore", ".git"]
            .iter()
            .any(|name| dir.join(name).exists())
        {
            return dir.to_path_buf();
        }
    }
    match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(cwd) if base.starts_with(&cwd) => cwd,
        _ => base,
    }
}

/// Prints a one-line warning on stderr.
pub fn warn(message: &str) {
    eprintln!("hush: warning: {message}");
}

/// The scanner and allowlist for a run rooted at `root`, from the built-in rules, the config,
/// `.hushignore` and any baseline.
pub fn prepare(root: &Path, args: &ReportArgs) -> Result<(Scanner, Allowlist), CmdError> {
    let mut config = Config::discover(args.config.as_deref(), root)?;
    config.min_confidence = args.min_confidence.or(config.min_confidence);
    let rules = RuleSet::with_config(&config)?;
    let scanner = Scanner::new(&rules)?;
    let mut allow = Allowlist::new(&rules.allow.paths)?;
    let ignore = root.join(".hushignore");
    match std::fs::read_to_string(&ignore) {
        Ok(text) => allow.add_ignore_file(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CmdError::Input(format!(
                "cannot read '{}': {e}",
                ignore.display()
            )))
        }
    }
    if let Some(baseline) = &args.baseline {
        allow.add_baseline(baseline)?;
    }
    Ok((scanner, allow))
}

/// Feeds a source's events to `sink` until the source is done; returns (findings, errors).
pub fn drain(events: Receiver<Event>, sink: &mut dyn Sink) -> Result<(u64, u64), CmdError> {
    let (mut findings, mut errors) = (0, 0);
    for event in events {
        match event {
            Event::Findings(batch) => {
                for finding in batch {
                    findings += 1;
                    sink.finding(finding).map_err(CmdError::Output)?;
                }
            }
            Event::Warning(message) => warn(&message),
            Event::Error(message) => {
                errors += 1;
                eprintln!("hush: error: {message}");
            }
        }
    }
    Ok((findings, errors))
}

/// Opens the report destination and its sink.
pub fn open_report(args: &ReportArgs) -> Result<(Output, Box<dyn Sink>), CmdError> {
    let (output, writer) =
        Output::open(args.output.as_deref(), args.show_secrets).map_err(|e| {
            CmdError::Input(format!(
                "cannot create '{}': {e}",
                args.output.as_deref().unwrap_or(Path::new("-")).display()
            ))
        })?;
    let style = Style {
        show_secrets: args.show_secrets,
        color: output.color(args.no_color),
    };
    Ok((output, report::sink(args.format, style, writer)))
}
