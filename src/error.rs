//! The two kinds of failure, and their exit codes.
//!
//! Usage errors (bad flags, config, expression, a recipe that does not fit
//! the input) exit 2: re-running will not help until the command changes.
//! Job errors (unreadable input, corrupt data, unwritable output) exit 1.
//! Both carry a message that names the path and the cause.

use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Job(String),
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Job(_) => ExitCode::from(1),
            Error::Usage(_) => ExitCode::from(2),
            Error::Interrupted => ExitCode::from(130),
        }
    }
}

pub fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

pub fn job(msg: impl Into<String>) -> Error {
    Error::Job(msg.into())
}
