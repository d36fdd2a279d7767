//! The `hush` binary: argument parsing and dispatch only.

use std::fmt::Display;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Run the egress proxy (HTTPS enforcement, telemetry stripping).
    Proxy(hush::proxy::ProxyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Proxy(args) => finish(hush::proxy::run(&args).map(|()| ExitCode::SUCCESS)),
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
