//! `hush report merge`: joins JSON and JSON Lines reports (shards of one history, or one run per
//! repository) into one report, through the ordinary sinks and the atomic `--output`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{exit_code, CmdError, Output};
use crate::report::{self, merge, Format, Style};

/// `hush report` arguments.
#[derive(Debug, clap::Args)]
pub struct ReportCmdArgs {
    #[command(subcommand)]
    pub action: ReportAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportAction {
    /// Join JSON/JSONL reports into one, deduplicated by fingerprint, keeping the oldest
    /// introducing commit of each.
    Merge(MergeArgs),
}

/// `hush report merge` arguments.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The reports to join (`--format json` or `--format jsonl` output of any hush command).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Never colour output (also `NO_COLOR`).
    #[arg(long)]
    pub no_color: bool,
}

/// `hush report …`.
pub fn run(args: &ReportCmdArgs) -> Result<ExitCode, CmdError> {
    match &args.action {
        ReportAction::Merge(args) => run_merge(args),
    }
}

/// Every input is read before anything is written: a bad one fails the merge with nothing out.
fn run_merge(args: &MergeArgs) -> Result<ExitCode, CmdError> {
    let started = Instant::now();
    let mut findings = Vec::new();
    let mut stats = Vec::new();
    for file in &args.files {
        let read = merge::read(file).map_err(|e| CmdError::Input(e.to_string()))?;
        findings.extend(read.findings);
        stats.extend(read.stats);
    }
    let mut merged = merge::merge(findings);
    report::sort(&mut merged);
    let mut total = merge::total(stats);
    total.duration_ms = started.elapsed().as_millis() as u64;
    // The inputs may hold secrets in full (`--show-secrets`): the output is owner-only.
    let (output, writer) = Output::open(args.output.as_deref(), true).map_err(|e| {
        let name = args.output.as_deref().map(|p| p.display().to_string());
        CmdError::Input(format!(
            "cannot create '{}': {e}",
            name.as_deref().unwrap_or("-")
        ))
    })?;
    let style = Style {
        show_secrets: false,
        color: output.color(args.no_color),
    };
    let mut sink = report::sink(args.format, style, writer);
    let count = merged.len() as u64;
    for finding in merged {
        sink.finding(finding).map_err(CmdError::Output)?;
    }
    sink.finish(&total).map_err(CmdError::Output)?;
    output.commit().map_err(CmdError::Output)?;
    Ok(exit_code(count, total.errors))
}
