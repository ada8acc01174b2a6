//! What the main loop does with the inbox: list it, and decide for each
//! name whether to ignore it, leave it alone (no rule matches; logged once),
//! refuse it (links, folders and other non-files go straight to failed/),
//! or track it until it is complete.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::daemon::Daemon;
use super::finish::{self, Record, Verdict};
use super::scan::{esc, ignored, lstat, Seen, Stamp};
use super::watcher::Note;
use crate::error::{job, Error};

impl Daemon {
    /// List the inbox and consider every name in it. Returns how many
    /// candidates are pending afterwards.
    pub fn rescan(&mut self, now: Instant) -> Result<usize, Error> {
        let rd = std::fs::read_dir(&self.s.inbox)
            .map_err(|e| job(format!("inbox {}: {e}", self.s.inbox.display())))?;
        let mut listed = HashSet::new();
        for e in rd.flatten() {
            let name = e.file_name();
            if !ignored(&name) {
                self.consider(&name, Seen::Listed, now);
                listed.insert(name);
            }
        }
        for n in self.settler.names() {
            if !listed.contains(&n) {
                self.settler.forget(&n);
            }
        }
        self.unmatched.retain(|n| listed.contains(n));
        self.claim_warned.retain(|n| listed.contains(n));
        Ok(self.settler.len())
    }

    pub(super) fn consider(&mut self, name: &OsStr, seen: Seen, now: Instant) {
        if ignored(name) {
            return;
        }
        let Some(md) = lstat(&self.s.inbox, name) else {
            self.settler.forget(name);
            return;
        };
        let Some(recipe) = self.s.recipe_for(name).map(str::to_string) else {
            if self.unmatched.insert(name.to_os_string()) {
                tracing::info!(input = %esc(name), "no rule matches; left in the inbox");
            }
            return;
        };
        let ft = md.file_type();
        // A folder (a .SAFE renamed in) is one arrival for a recipe that
        // takes deliveries.
        if ft.is_file() || (ft.is_dir() && self.sets.takes_sets(&recipe)) {
            self.settler.saw(name, Stamp::of(&md), seen, now);
            return;
        }
        let cause = if ft.is_symlink() {
            "is a symbolic link: refused (links in the inbox are never followed)"
        } else if ft.is_dir() {
            "is a directory, not a raster file"
        } else {
            "is not a regular file (device, FIFO or socket)"
        };
        let rec = Record::refused(name, &recipe, 0, cause);
        match finish::to_failed(&self.s, &self.s.inbox.join(name), &rec) {
            Ok(()) => {
                self.failed += 1;
                finish::log(&rec, Verdict::Failed, None);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                if self.claim_warned.insert(name.to_os_string()) {
                    tracing::error!(input = %esc(name), "cannot move to failed/: {e}");
                }
            }
        }
    }

    pub(super) fn on_note(&mut self, n: Note, now: Instant) -> Result<(), Error> {
        match n {
            Note::File(name, seen) => self.consider(&name, seen, now),
            Note::Gone(name) => {
                self.settler.forget(&name);
                self.unmatched.remove(&name);
            }
            Note::Rescan => self.rescan_flag.store(true, Ordering::SeqCst),
            Note::InboxLost => {
                return Err(job(format!(
                    "inbox {} was removed or moved away; stopping (in-flight files stay in work/)",
                    self.s.inbox.display()
                )))
            }
        }
        Ok(())
    }
}
