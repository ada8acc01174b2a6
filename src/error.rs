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

/// A path for a one-line message: control characters, invisible
/// direction overrides, backslashes and bytes that are not UTF-8 are
/// escaped, so a file name can neither break the line nor spoof a log.
pub fn show(path: &std::path::Path) -> String {
    let mut out = String::new();
    for chunk in path.as_os_str().as_encoded_bytes().utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// [`show`] for text that is already UTF-8 (e.g. GDAL messages quoting a path).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_invisible_format(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Zero-width and bidi-override characters that can make text display
/// differently from what it is.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn paths_are_shown_on_one_safe_line() {
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(
            b"a\nb\x1b[31m\xff\\c\xe2\x80\xae.tif",
        ));
        assert_eq!(show(p), "a\\nb\\u{1b}[31m\\xff\\\\c\\u{202e}.tif");
        assert_eq!(show(std::path::Path::new("plain/ünï.tif")), "plain/ünï.tif");
    }
}
