//! Deciding when a file in the inbox is complete.
//!
//! A file renamed into the inbox is complete at once: that is why renaming
//! is the recommended way to drop files. A plain copy is complete only once
//! its writer has closed it (inotify's CLOSE_WRITE) *and* its size and mtime
//! have stayed the same for the settle time, measured on our own clock so
//! that a file server's skewed clock cannot shorten it. Files found by a
//! listing (start-up, periodic rescan, poll mode) have no close event to go
//! on, so for them only the stability rule applies.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// See [`Settler::ready`].
const STALE_WRITER: Duration = Duration::from_secs(600);

/// Names never considered: partial uploads and hidden files.
pub fn ignored(name: &OsStr) -> bool {
    let b = name.as_bytes();
    let lower = b.to_ascii_lowercase();
    b.first() == Some(&b'.') || lower.ends_with(b".part") || lower.ends_with(b".tmp")
}

/// What a stat says about a file, for change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ino: u64,
}

impl Stamp {
    pub fn of(md: &std::fs::Metadata) -> Stamp {
        Stamp {
            len: md.len(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ino: md.ino(),
        }
    }
}

#[derive(Debug)]
struct Candidate {
    stamp: Stamp,
    stable_since: Instant,
    /// Seen written to (inotify) and not yet closed.
    writing: bool,
    /// Arrived by rename: complete as it is.
    renamed_in: bool,
}

/// What the inbox watcher knows about each name not yet claimed.
#[derive(Default)]
pub struct Settler {
    files: HashMap<OsString, Candidate>,
}

/// How a name was noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Listed by a scan: nothing known about its writer.
    Listed,
    /// Created or written to.
    Written,
    /// Closed after writing.
    Closed,
    /// Renamed into the inbox.
    RenamedIn,
    /// Metadata changed (touch, chmod): re-check the stamp only.
    Touched,
}

impl Settler {
    /// Record a sighting of `name` with its current stat.
    pub fn saw(&mut self, name: &OsStr, stamp: Stamp, how: Seen, now: Instant) {
        let c = self
            .files
            .entry(name.to_os_string())
            .or_insert_with(|| Candidate {
                stamp,
                stable_since: now,
                writing: false,
                renamed_in: false,
            });
        if c.stamp != stamp {
            c.stamp = stamp;
            c.stable_since = now;
            if how != Seen::RenamedIn {
                c.renamed_in = false;
            }
        }
        match how {
            Seen::Listed | Seen::Touched => {}
            Seen::Written => {
                c.writing = true;
                c.renamed_in = false;
                c.stable_since = now;
            }
            Seen::Closed => c.writing = false,
            Seen::RenamedIn => {
                c.writing = false;
                c.renamed_in = true;
            }
        }
    }

    pub fn forget(&mut self, name: &OsStr) {
        self.files.remove(name);
    }

    pub fn contains(&self, name: &OsStr) -> bool {
        self.files.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn names(&self) -> Vec<OsString> {
        self.files.keys().cloned().collect()
    }

    /// Names that look complete now, oldest first, after re-checking each
    /// one's stamp against `stat` (None = gone). Also returns when the next
    /// not-yet-complete name could become complete.
    pub fn ready(
        &mut self,
        settle: Duration,
        now: Instant,
        stat: impl Fn(&OsStr) -> Option<Stamp>,
    ) -> (Vec<OsString>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        let mut gone = Vec::new();
        for (name, c) in self.files.iter_mut() {
            // A writer that has not touched the file for this long has most
            // likely gone without a close we could see (a hard link, a lost
            // event); do not keep the file out forever.
            if c.writing && now.duration_since(c.stable_since) < STALE_WRITER.max(settle) {
                continue;
            }
            let due = c.stable_since + settle;
            if !c.renamed_in && due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                continue;
            }
            match stat(name) {
                None => gone.push(name.clone()),
                Some(s) if s == c.stamp => ready.push((c.stable_since, name.clone())),
                Some(s) => {
                    c.stamp = s;
                    c.stable_since = now;
                    c.renamed_in = false;
                    let due = now + settle;
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
            }
        }
        for g in gone {
            self.files.remove(&g);
        }
        ready.sort();
        (ready.into_iter().map(|(_, n)| n).collect(), next)
    }
}

/// Stat `dir/name` without following a symlink.
pub fn lstat(dir: &Path, name: &OsStr) -> Option<std::fs::Metadata> {
    std::fs::symlink_metadata(dir.join(name)).ok()
}

/// A name made safe to log: the one-shot's escaping (control characters,
/// bidi overrides, backslashes, non-UTF-8 bytes), so a name can neither
/// break nor spoof a log line and both commands show it the same way.
pub fn esc(name: &OsStr) -> String {
    crate::error::show(Path::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(len: u64) -> Stamp {
        Stamp {
            len,
            mtime: (1, 0),
            ino: 7,
        }
    }

    #[test]
    fn ignores_partial_and_hidden_names() {
        for n in [".x.tif", "a.part", "a.TMP", "a.tif.part"] {
            assert!(ignored(OsStr::new(n)), "{n}");
        }
        assert!(!ignored(OsStr::new("a.tif")));
    }

    #[test]
    fn a_copy_is_ready_only_when_closed_and_stable() {
        let t0 = Instant::now();
        let settle = Duration::from_secs(2);
        let mut s = Settler::default();
        let n = OsStr::new("a.tif");
        s.saw(n, st(10), Seen::Written, t0);
        let (r, _) = s.ready(settle, t0 + settle * 3, |_| Some(st(10)));
        assert!(r.is_empty(), "still open for writing");
        s.saw(n, st(20), Seen::Closed, t0 + settle);
        let (r, next) = s.ready(settle, t0 + settle + settle / 2, |_| Some(st(20)));
        assert!(r.is_empty());
        assert_eq!(next, Some(t0 + settle * 2));
        // It changed behind our back: the clock restarts.
        let (r, _) = s.ready(settle, t0 + settle * 2, |_| Some(st(30)));
        assert!(r.is_empty());
        let (r, _) = s.ready(settle, t0 + settle * 4, |_| Some(st(30)));
        assert_eq!(r, vec![n.to_os_string()]);
    }

    #[test]
    fn a_renamed_file_is_ready_at_once_and_a_vanished_one_is_dropped() {
        let t0 = Instant::now();
        let mut s = Settler::default();
        s.saw(OsStr::new("r.tif"), st(5), Seen::RenamedIn, t0);
        s.saw(OsStr::new("gone.tif"), st(5), Seen::RenamedIn, t0);
        let (r, _) = s.ready(Duration::from_secs(9), t0, |n| {
            (n != OsStr::new("gone.tif")).then_some(st(5))
        });
        assert_eq!(r, vec![OsString::from("r.tif")]);
        assert!(!s.contains(OsStr::new("gone.tif")));
    }

    #[test]
    fn escapes_what_would_break_a_log_line() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(esc(OsStr::new("a\nb.tif")), "a\\nb.tif");
        assert_eq!(esc(OsStr::from_bytes(b"x\xffy")), "x\\xffy");
        assert_eq!(esc(OsStr::new("-é.tif")), "-é.tif");
        assert_eq!(esc(OsStr::new("a\u{202e}b\\.tif")), "a\\u{202e}b\\\\.tif");
    }
}
