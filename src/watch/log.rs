//! Daemon logging: native journald fields when stderr is the journal,
//! otherwise text (or JSON lines with `--log-format json`) on stderr.
//!
//! Under systemd, `$JOURNAL_STREAM` names the journal's stream; if it is our
//! stderr, records go to journald directly, so each field of the per-file
//! line (`TILERUN_INPUT`, `TILERUN_OUTCOME`, ...) can be filtered with
//! `journalctl -u tilerun TILERUN_OUTCOME=failed`. An explicit JSON format
//! wins over journald: the operator asked for lines they can parse.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

pub fn init(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let filter = crate::remote::client::quiet_http(filter);
    let journald = (format == LogFormat::Text && stderr_is_journal())
        .then(|| tracing_journald::layer().ok())
        .flatten()
        .map(|l| {
            l.with_field_prefix(Some("TILERUN".into()))
                .with_syslog_identifier("tilerun".into())
        });
    let fmt = match (&journald, format) {
        (Some(_), _) => None,
        (None, LogFormat::Json) => Some(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(std::io::stderr)
                .with_target(false)
                .boxed(),
        ),
        (None, LogFormat::Text) => Some(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .with_target(false)
                .boxed(),
        ),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(journald)
        .with(fmt)
        .try_init();
}

/// `$JOURNAL_STREAM` is "DEV:INODE" of the journal stream; compare with fd 2.
fn stderr_is_journal() -> bool {
    let Ok(v) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.split_once(':') else {
        return false;
    };
    let Ok(st) = nix::sys::stat::fstat(2) else {
        return false;
    };
    dev.parse() == Ok(st.st_dev) && ino.parse() == Ok(st.st_ino)
}
