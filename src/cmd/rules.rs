//! `hush rules`: the effective rule set (built-in plus config), for people and for scripts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{find_root, CmdError};
use crate::rules::{Config, RuleSet};

/// `hush rules` arguments.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Config file (default: `.hush.toml` at the repository root, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn run(args: &RulesArgs) -> Result<ExitCode, CmdError> {
    let root = find_root(std::path::Path::new("."));
    let config = Config::discover(args.config.as_deref(), &root)?;
    let set = RuleSet::with_config(&config)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        let rules: Vec<_> = set
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({"id": r.id, "description": r.description,
                    "keywords": r.keywords, "confidence": r.confidence().as_str()})
            })
            .chain(set.files.iter().map(
                |f| serde_json::json!({"id": f.id, "description": f.description, "paths": f.paths}),
            ))
            .collect();
        serde_json::to_writer_pretty(&mut out, &rules)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let mut result = Ok(());
        for r in &set.rules {
            result = result.and_then(|()| {
                writeln!(
                    out,
                    "{:<40} {:<6} {}  [{}]",
                    r.id,
                    r.confidence().as_str(),
                    r.description,
                    r.keywords.join(", ")
                )
            });
        }
        for f in &set.files {
            result = result.and_then(|()| {
                writeln!(
                    out,
                    "{:<40} {:<6} {}  [{}]",
                    f.id,
                    "high",
                    f.description,
                    f.paths.join(", ")
                )
            });
        }
        result
    };
    written
        .and_then(|()| out.flush())
        .map_err(CmdError::Output)?;
    Ok(ExitCode::SUCCESS)
}
