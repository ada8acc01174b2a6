//! The kinds of failure, and what each one means for exit codes and retries.
//!
//! Every error has a [`Kind`] and a one-line message naming the path and the
//! cause (OS error text included). Usage errors (bad flags, config,
//! expression) exit 2: re-running will not help until the command changes.
//! Bad input (unreadable or corrupt data) exits 1 and is never retried;
//! transient failures (disk full, too many open files) exit 1 and the daemon
//! retries them with backoff. Deciding on the kind, never the text, is what
//! lets the wording of messages change freely.

use std::process::ExitCode;

/// What kind of failure: every decision (exit code, retry, failed/) is
/// taken on this, never on the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input or the job cannot succeed as given (unreadable or corrupt
    /// input, a recipe that does not fit it): exit 1, no retry; the daemon
    /// moves the file to failed/.
    BadInput,
    /// Bad flags, config or expression: exit 2, before any work.
    Usage,
    /// May clear by itself (disk full, quota, too many open files, an
    /// interrupted or timed-out I/O, a lost connection): exit 1 for the
    /// CLI, retried with backoff by the daemon.
    Transient,
    /// Stopped by a signal: exit 130.
    Interrupted,
}

/// A failure: its kind and a one-line message naming the path and cause.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
pub struct Error {
    pub kind: Kind,
    pub msg: String,
}

impl Error {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Error {
        Error {
            kind,
            msg: msg.into(),
        }
    }

    pub fn interrupted() -> Error {
        Error::new(Kind::Interrupted, "interrupted")
    }

    pub fn is_interrupted(&self) -> bool {
        self.kind == Kind::Interrupted
    }

    /// The same failure with `what` (usually a path) in front.
    pub fn context(self, what: impl std::fmt::Display) -> Error {
        Error::new(self.kind, format!("{what}: {}", self.msg))
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            Kind::BadInput | Kind::Transient => ExitCode::from(1),
            Kind::Usage => ExitCode::from(2),
            Kind::Interrupted => ExitCode::from(130),
        }
    }

    /// An anyhow chain from the engine: transient when any cause in it is an
    /// OS error that may clear by itself, bad input otherwise. The message
    /// keeps the whole chain, OS error text included.
    pub fn from_chain(e: &anyhow::Error) -> Error {
        let transient = e
            .chain()
            .filter_map(|c| c.downcast_ref::<std::io::Error>())
            .any(is_transient_io);
        let kind = if transient {
            Kind::Transient
        } else {
            Kind::BadInput
        };
        Error::new(kind, format!("{e:#}"))
    }
}

/// OS errors worth a retry: they describe the machine, not the file.
pub fn is_transient_io(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ENOSPC
                | libc::EDQUOT
                | libc::EMFILE
                | libc::ENFILE
                | libc::EAGAIN
                | libc::ENOMEM
                | libc::ESTALE
                | libc::ETIMEDOUT
                | libc::ENETUNREACH
                | libc::ECONNRESET
                | libc::ECONNREFUSED
                | libc::EINTR
        )
    ) || matches!(
        e.kind(),
        std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
    )
}

/// An io::Error on `path` while `doing`: kind from the errno, message with
/// both, e.g. "writing out/x.tif: No space left on device (os error 28)".
pub fn io(doing: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    let kind = if is_transient_io(&e) {
        Kind::Transient
    } else {
        Kind::BadInput
    };
    Error::new(kind, format!("{doing} {}: {e}", show(path)))
}

pub fn usage(msg: impl Into<String>) -> Error {
    Error::new(Kind::Usage, msg)
}

/// A job that cannot succeed as given (exit 1, not retried).
pub fn job(msg: impl Into<String>) -> Error {
    Error::new(Kind::BadInput, msg)
}

pub fn transient(msg: impl Into<String>) -> Error {
    Error::new(Kind::Transient, msg)
}

/// The candidate closest to `word` (any case) when it is a plausible typo
/// of it, for "did you mean ...?" hints.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_uppercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&w, &c.to_ascii_uppercase()), c))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The message of a caught panic, for the error that reports it.
pub fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
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
    fn os_errors_are_classified_by_errno() {
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = io("writing", std::path::Path::new("out/x.tif"), full);
        assert_eq!(e.kind, Kind::Transient);
        assert!(e.msg.contains("out/x.tif") && e.msg.contains("No space left on device"));
        let gone = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            io("reading", std::path::Path::new("x"), gone).kind,
            Kind::BadInput
        );
        let chain = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EDQUOT))
            .context("libtiff failed writing block 1");
        assert_eq!(Error::from_chain(&chain).kind, Kind::Transient);
        let corrupt = anyhow::anyhow!("TIFFReadEncodedTile() failed");
        assert_eq!(Error::from_chain(&corrupt).kind, Kind::BadInput);
    }

    #[test]
    fn paths_are_shown_on_one_safe_line() {
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(
            b"a\nb\x1b[31m\xff\\c\xe2\x80\xae.tif",
        ));
        assert_eq!(show(p), "a\\nb\\u{1b}[31m\\xff\\\\c\\u{202e}.tif");
        assert_eq!(show(std::path::Path::new("plain/ünï.tif")), "plain/ünï.tif");
    }
}
