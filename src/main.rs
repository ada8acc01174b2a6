//! Entry point: parse flags, dispatch, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use tilerun::cli::{Cli, Command};
use tilerun::error::Error;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = match &cli.command {
        Some(Command::Watch { common }) => common,
        None => &cli.common,
    };
    match &cli.command {
        Some(Command::Watch { .. }) => tilerun::watch::log::init(common.verbose, common.log_format),
        None => tilerun::logging::init(common.verbose, common.log_format),
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !matches!(e, Error::Interrupted) {
                eprintln!("tilerun: error: {e}");
            } else {
                eprintln!("tilerun: interrupted; no output written");
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
