//! The command line: clap flags (`args`), the one-shot run (`oneshot`) and
//! its logging. `run` dispatches; `main.rs` only maps the result to an exit
//! code, as fd does.

pub mod args;
pub mod logging;
pub mod oneshot;
pub mod queue;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, Common, RunArgs};

use crate::error::Error;

/// Parse the flags, set up logging, run, and turn the result into an exit
/// code with a one-line message on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(args::gdal_spellings(std::env::args_os()));
    // The daemon logs to journald when there is one; the CLI to stderr.
    match &cli.command {
        Some(Command::Watch { common, .. } | Command::Worker { common, .. }) => {
            crate::watch::log::init(common.verbose, common.log_format)
        }
        Some(c) => {
            let common = queue::common(c);
            logging::init(common.verbose, common.log_format)
        }
        None => logging::init(cli.common.verbose, cli.common.log_format),
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.is_interrupted() {
                eprintln!("tilerun: interrupted; no output written");
            } else {
                eprintln!("tilerun: error: {e}");
            }
            e.exit_code()
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Some(Command::Watch { common, metrics }) => {
            crate::watch::run(common.config.as_deref(), metrics.as_deref())
        }
        Some(c) => queue::run(c),
        None => oneshot::run(&cli.input, &cli.run, &cli.common),
    }
}
