//! The daemon's side of multi-file deliveries (see `sets` for the
//! bookkeeping): claimed set members are recorded, a whole set becomes one
//! job over all its files, and a set that cannot complete (a second file
//! for one input, a timeout) moves to failed/ with every file it has.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Instant;

use super::claim;
use super::daemon::Daemon;
use super::feeder::Item;
use super::finish::{self, Record, Verdict};
use super::scan::esc;
use super::sets::{whole_delivery, Added, Ended};

impl Daemon {
    /// True when `name` is one loose file of a delivery for `recipe`
    /// (archives and folders are whole deliveries, taken as one file).
    pub(super) fn is_member(&self, recipe: &str, name: &OsStr) -> bool {
        let dir = std::fs::symlink_metadata(self.s.inbox.join(name))
            .or_else(|_| std::fs::symlink_metadata(self.s.work.join(name)))
            .is_ok_and(|m| m.is_dir());
        self.sets.takes_sets(recipe) && !whole_delivery(name) && !dir
    }

    /// A set member now in work/ (claimed, or found there at start-up).
    pub(super) fn on_member(&mut self, recipe: &str, name: OsString, now: Instant, _attempt: u32) {
        let arriving = self.arriving(recipe);
        let more = |key: &str| arriving.iter().any(|n| n.starts_with(key));
        match self.sets.add(recipe, name.clone(), now, &more) {
            Added::Waiting => {
                tracing::info!(input = %esc(&name), recipe, "claimed; waiting for the rest of its delivery")
            }
            done => self.on_set(recipe, done),
        }
    }

    /// Names still in the inbox (seen, not claimed) that `recipe`'s rule
    /// takes, except those of a file already in work/ (a second file of
    /// one name is no more of a set: it fails it).
    fn arriving(&self, recipe: &str) -> Vec<String> {
        self.settler
            .names()
            .into_iter()
            .filter(|n| self.s.recipe_for(n) == Some(recipe) && !self.s.work.join(n).exists())
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    /// Start whole sets that were waiting for files of theirs in the inbox
    /// which have been claimed or have gone since.
    pub(super) fn release_sets(&mut self) {
        // Runs on every pass of the daemon: only recipes with a set waiting
        // cost a look at the inbox.
        let arriving: Vec<(String, Vec<String>)> = self
            .sets
            .waiting_recipes()
            .into_iter()
            .map(|r| {
                let a = self.arriving(&r);
                (r, a)
            })
            .collect();
        let more = |recipe: &str, key: &str| {
            arriving
                .iter()
                .any(|(r, names)| r == recipe && names.iter().any(|n| n.starts_with(key)))
        };
        for (recipe, done) in self.sets.release(&more) {
            self.on_set(&recipe, done);
        }
    }

    /// A set that is whole (start it) or has a second file for one input.
    fn on_set(&mut self, recipe: &str, added: Added) {
        match added {
            Added::Waiting => {}
            Added::Complete { key, members } => {
                let strikes = claim::strikes(&self.s.work, OsStr::new(&key));
                if strikes >= self.s.max_attempts {
                    claim::set_strikes(&self.s.work, OsStr::new(&key), 0);
                    let cause = format!(
                        "processing was interrupted {strikes} times (the daemon crashed or was \
                         killed while working on this delivery)"
                    );
                    let paths = members.iter().map(|m| self.s.work.join(m)).collect();
                    self.fail_set(recipe, &key, paths, &[], &cause);
                    self.sets.ended(recipe, &key, Ended::Failed);
                    return;
                }
                tracing::info!(set = %key, recipe, files = members.len(), "delivery complete");
                let mut item = self.item(OsString::from(&key), recipe.to_string(), strikes + 1);
                item.members = members;
                self.send(item);
            }
            Added::Duplicate {
                key,
                input,
                members,
            } => {
                let paths = members.iter().map(|m| self.s.work.join(m)).collect();
                let cause = format!("a second file for input '{input}' of delivery {key}: nothing was overwritten; the set failed");
                self.fail_set(recipe, &key, paths, &[], &cause);
            }
            Added::Unfinishable {
                key,
                members,
                missing,
            } => {
                let paths = members.iter().map(|m| self.s.work.join(m)).collect();
                let cause = format!(
                    "cannot complete from loose files: missing {}",
                    missing.join(", ")
                );
                self.fail_set(recipe, &key, paths, &missing, &cause);
            }
            Added::Late { key, name, ended } => self.late_file(recipe, &key, name, ended),
        }
    }

    /// A file of delivery `key` (one no pattern reads: MTL, thumbnail)
    /// claimed after its job started, and not taken by a new set of its key
    /// within the settle time: it joins the job's files, or goes where they
    /// went, rather than waiting alone for a set that will never come.
    fn late_file(&mut self, recipe: &str, key: &str, name: OsString, ended: Option<Ended>) {
        let input = esc(&name);
        if let Some(item) = self.set_item(recipe, key) {
            item.members.push(name);
            tracing::info!(input = %input, set = %key, recipe,
                "arrived after its delivery started: it moves with the delivery's files");
            return;
        }
        let moved = match ended {
            Some(Ended::Done) => finish::to_done(&self.s, std::slice::from_ref(&name)).map(|()| {
                tracing::info!(input = %input, set = %key, recipe,
                    "arrived after its delivery was done: moved to done/ beside its files")
            }),
            Some(Ended::Failed) => {
                let cause = format!(
                    "arrived after its delivery {key} had failed; that delivery's files are in failed/"
                );
                let rec = Record::refused(&name, recipe, 0, &cause);
                finish::to_failed(&self.s, &self.s.work.join(&name), &rec).map(|()| {
                    self.failed += 1;
                    finish::log(&rec, Verdict::Failed, None);
                })
            }
            // Started, and neither running nor ended: rolled back by a
            // stop, or its files could not be moved (or handed over) and
            // stay in work/. A restart regroups work/.
            None => {
                tracing::info!(input = %input, set = %key, recipe,
                    "arrived after its delivery started; left in work/ for the next start");
                Ok(())
            }
        };
        if let Err(e) = moved {
            tracing::error!(input = %input, set = %key, "moving a late file of its delivery failed: {e}; it stays in work/");
        }
    }

    /// The queued, running or retrying job of set `key`, if any.
    fn set_item(&mut self, recipe: &str, key: &str) -> Option<&mut Item> {
        self.inflight
            .values_mut()
            .map(|r| &mut r.item)
            .chain(self.backlog.iter_mut())
            .chain(self.retries.iter_mut().map(|(_, i)| i))
            .find(|i| i.recipe == recipe && i.name == OsStr::new(key))
    }

    /// A file of a waiting set's name arrived again while the first is in
    /// work/: the set fails, the newcomer with it, nothing overwritten.
    pub(super) fn duplicate_in_inbox(&mut self, recipe: &str, name: &OsStr) {
        let Some(key) = self.sets.waiting_key(recipe, name) else {
            return;
        };
        let mut paths: Vec<PathBuf> = self
            .sets
            .take(recipe, &key)
            .iter()
            .map(|m| self.s.work.join(m))
            .collect();
        paths.push(self.s.inbox.join(name));
        let cause = format!(
            "a second file named {} for delivery {key}: nothing was overwritten; the set failed",
            esc(name)
        );
        self.fail_set(recipe, &key, paths, &[], &cause);
    }

    /// Send extras of started deliveries after them (see `Sets::late`);
    /// fail sets (and stray extras) that waited past `set_timeout_secs`.
    pub(super) fn expire_sets(&mut self, now: Instant) {
        for (recipe, late) in self.sets.late(self.s.settle, now) {
            self.on_set(&recipe, late);
        }
        for e in self.sets.expired(self.s.set_timeout, now) {
            let cause = format!(
                "incomplete after {:.0?}: missing {}",
                self.s.set_timeout,
                e.missing.join(", ")
            );
            let paths = e.members.iter().map(|m| self.s.work.join(m)).collect();
            self.fail_set(&e.recipe, &e.key, paths, &e.missing, &cause);
        }
    }

    fn fail_set(
        &mut self,
        recipe: &str,
        key: &str,
        paths: Vec<PathBuf>,
        missing: &[String],
        cause: &str,
    ) {
        let rec = Record::refused(OsStr::new(key), recipe, 0, cause);
        match finish::to_failed_set(&self.s, &paths, missing, &rec) {
            Ok(()) => {
                self.failed += 1;
                finish::log(&rec, Verdict::Failed, None);
            }
            Err(e) => tracing::error!(set = %key, cause, "moving the set to failed/ failed: {e}"),
        }
    }
}
