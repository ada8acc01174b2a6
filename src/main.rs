//! Entry point: parse flags, dispatch, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use tilerun::cli::{Cli, Command};
use tilerun::error::Error;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs to journald when there is one; the CLI to stderr.
    match &cli.command {
        Some(Command::Watch { common }) => {
            tilerun::watch::log::init(common.verbose, common.log_format)
        }
        None => tilerun::logging::init(cli.common.verbose, cli.common.log_format),
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e {
                Error::Interrupted => eprintln!("tilerun: interrupted; no output written"),
                _ => eprintln!("tilerun: error: {e}"),
            }
            e.exit_code()
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Some(Command::Watch { common }) => tilerun::watch::run(common),
        None => {
            let input = cli.input.as_deref().expect("clap requires INPUT");
            tilerun::oneshot::run(input, &cli.run, &cli.common)
        }
    }
}
