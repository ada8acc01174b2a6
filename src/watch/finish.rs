//! The end of one attempt: move the input to done/ or failed/ (with its
//! `NAME.error.json`), or schedule a retry, and write the one structured
//! log line per file that operators grep and journald indexes. That line
//! carries the warnings' text, not just their count: "geographic CRS,
//! scale assumed" is what an operator needs to see. A file whose output
//! replaced an earlier one gets a line of its own saying so.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::scan::esc;
use crate::config::watch::Settings;

/// How an attempt ended, as logged in `outcome=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Failed,
    Retry,
    RolledBack,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Done => "done",
            Verdict::Failed => "failed",
            Verdict::Retry => "retry",
            Verdict::RolledBack => "rolled-back",
        }
    }
}

/// Everything the log line says about one attempt.
pub struct Record<'a> {
    pub name: &'a OsStr,
    pub recipe: &'a str,
    pub output: Option<&'a Path>,
    pub windows: usize,
    pub seconds: f64,
    pub attempt: u32,
    pub cause: Option<&'a str>,
    pub warnings: &'a [String],
}

impl<'a> Record<'a> {
    /// A file (or set) refused before any job ran for it.
    pub fn refused(name: &'a OsStr, recipe: &'a str, attempt: u32, cause: &'a str) -> Self {
        Record {
            name,
            recipe,
            output: None,
            windows: 0,
            seconds: 0.0,
            attempt,
            cause: Some(cause),
            warnings: &[],
        }
    }
}

pub fn log(r: &Record, v: Verdict, retry_in: Option<Duration>) {
    if let Some(m) = crate::metrics::get() {
        m.job(v.as_str(), r.seconds);
    }
    let input = esc(r.name);
    let output = r.output.map(|p| esc(p.as_os_str())).unwrap_or_default();
    let seconds = (r.seconds * 1000.0).round() / 1000.0;
    let cause = r.cause.unwrap_or("");
    let retry_in = retry_in.map_or(0.0, |d| d.as_secs_f64());
    let warnings = r.warnings.len();
    let warning_text = r.warnings.join("; ");
    macro_rules! line {
        ($lvl:ident) => {
            tracing::$lvl!(
                input = %input,
                recipe = r.recipe,
                output = %output,
                windows = r.windows,
                seconds,
                attempt = r.attempt,
                outcome = v.as_str(),
                cause,
                retry_in,
                warnings,
                warning_text = %warning_text,
                "{} {}",
                v.as_str(),
                input
            )
        };
    }
    match v {
        Verdict::Done | Verdict::RolledBack => line!(info),
        Verdict::Retry => line!(warn),
        Verdict::Failed => line!(error),
    }
}

/// An output that replaced a file of the same name: a re-delivered input
/// (the earlier one is kept in done/ under a numbered name), or another
/// input or delivery whose output has the same name (two `.SAFE`s of one
/// tile and date, `x.tif` beside `x.jp2`), even when both ran at once.
pub fn replaced(name: &OsStr, output: &Path) {
    let (input, output) = (esc(name), esc(output.as_os_str()));
    tracing::warn!(
        input = %input,
        output = %output,
        event = "replaced",
        "replaced {output}, which already existed, with the output of {input}"
    );
}

/// Move the inputs (a file, or every file of a set) from work/ to done/.
pub fn to_done(s: &Settings, members: &[std::ffi::OsString]) -> std::io::Result<()> {
    for m in members {
        super::claim::move_into(&s.work.join(m), &s.done)?;
    }
    Ok(())
}

/// Move every file of a set (`paths`, in work/ or the inbox) to failed/,
/// and write one `KEY.error.json` naming them and what was missing.
pub fn to_failed_set(
    s: &Settings,
    paths: &[std::path::PathBuf],
    missing: &[String],
    r: &Record,
) -> std::io::Result<()> {
    let mut moved = Vec::new();
    for p in paths {
        match super::claim::move_into(p, &s.failed) {
            Ok(at) => moved.push(esc(at.file_name().unwrap_or_default())),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    let mut body = error_body(r);
    body["members"] = serde_json::json!(moved);
    body["missing"] = serde_json::json!(missing);
    super::claim::write_error_json(&s.failed.join(r.name), &body)
}

/// Move `from` (in work/ or the inbox) to failed/ and write its error.json.
pub fn to_failed(s: &Settings, from: &Path, r: &Record) -> std::io::Result<()> {
    let at = super::claim::move_into(from, &s.failed)?;
    super::claim::write_error_json(&at, &error_body(r))
}

fn error_body(r: &Record) -> serde_json::Value {
    serde_json::json!({
        "input": esc(r.name),
        "recipe": r.recipe,
        "cause": r.cause.unwrap_or("unknown"),
        "attempts": r.attempt,
        "timestamp": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "warnings": r.warnings,
        "daemon_pid": std::process::id(),
    })
}
