//! The `hush` binary: argument parsing and dispatch only.

use std::fmt::Display;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use hush::cmd;

#[derive(Parser)]
#[command(
    name = "hush",
    version,
    about = "Keeps secrets and telemetry from leaving your machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files and directories (`-` for standard input) for secrets and sensitive files.
    Scan(cmd::scan::ScanArgs),
    /// Write a baseline of the current findings' fingerprints, for `--baseline`.
    Baseline(cmd::scan::ScanArgs),
    /// List the effective rules.
    Rules(cmd::rules::RulesArgs),
    /// Scan what the git index will commit (only the lines the staged change adds).
    Staged(cmd::git::StagedArgs),
    /// Scan git history: every commit from all refs, or a range such as `origin/main..HEAD`.
    History(cmd::git::HistoryArgs),
    /// Install, remove or run the git hooks (pre-commit, pre-push).
    Hook(cmd::git::HookArgs),
    /// Work with reports: `merge` joins JSON/JSONL reports (shards, repositories) into one.
    Report(cmd::merge::ReportCmdArgs),
    /// Run the egress proxy (HTTPS enforcement, telemetry stripping).
    Proxy(hush::proxy::ProxyArgs),
    /// Manage the local CA that lets the proxy strip telemetry over HTTPS (init, path, trust,
    /// uninstall).
    Ca(hush::proxy::ca::CaArgs),
    /// Run a command with its telemetry off and its egress through hush.
    #[command(override_usage = "hush run [OPTIONS] -- CMD [ARGS]...")]
    Run(cmd::run::RunArgs),
    /// Internal: the `hush run --contain` bridge inside the command's network namespace.
    #[cfg(target_os = "linux")]
    #[command(name = "__contain", hide = true)]
    Contain(cmd::run::ContainArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Command::Scan(args) => finish(cmd::scan::run(&args)),
        Command::Baseline(args) => finish(cmd::scan::baseline(&args)),
        Command::Rules(args) => finish(cmd::rules::run(&args)),
        Command::Staged(args) => finish(cmd::git::staged(&args)),
        Command::History(args) => finish(cmd::git::history(&args)),
        Command::Hook(args) => finish(cmd::git::hook(&args)),
        Command::Report(args) => finish(cmd::merge::run(&args)),
        Command::Proxy(args) => finish(hush::proxy::run(&args).map(|()| ExitCode::SUCCESS)),
        Command::Ca(args) => finish(hush::proxy::ca::run(&args)),
        Command::Run(args) => finish(cmd::run::run(&args)),
        #[cfg(target_os = "linux")]
        Command::Contain(args) => finish(cmd::run::bridge(&args)),
    }
}

/// Maps a command's result to the contract's exit codes: errors are one line on stderr, exit 2.
fn finish<E: Display>(result: Result<ExitCode, E>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hush: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Help and version go to stdout with exit 0; a usage error is one `hush: error:` line, exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap renders the whole help here; one line naming the commands says more.
        let commands: Vec<String> = Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_string())
            .filter(|name| name != "help")
            .collect();
        eprintln!(
            "hush: error: a command is needed: {} (see 'hush --help')",
            commands.join(", ")
        );
        return ExitCode::from(2);
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("hush: error: {message} (see 'hush --help')");
    ExitCode::from(2)
}
