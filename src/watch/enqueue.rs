//! `tilerun watch` with `[queue] url`: files are claimed exactly as
//! without a queue (rename into work/), then handed to the shared queue
//! instead of the local engine: moved into done/ (which then means
//! "handed over") and submitted there, where the workers read them.
//!
//! Submitting is idempotent (same path, size and mtime, same recipe: the
//! existing job), so a file left in work/ by a crash is simply submitted
//! again at the next start. If the database stays unreachable until the
//! daemon stops, the file goes back to work/ for the next start.

use std::ffi::OsStr;
use std::sync::atomic::AtomicBool;

use super::claim;
use crate::config::watch::Settings;
use crate::config::Config;
use crate::error::{self, Error};
use crate::queue::Db;

/// Connect; an unusable queue is a start-up error (exit 2).
pub fn open(url: &str) -> Result<Db, Error> {
    let db = Db::open(url)?;
    tracing::info!(queue = %db.shown(), "handing claimed files to the queue");
    Ok(db)
}

/// Move work/NAME into done/ and queue it; returns the job id.
fn hand_over(
    db: &mut Db,
    s: &Settings,
    name: &OsStr,
    recipe: &str,
    stop: &AtomicBool,
) -> Result<i64, Error> {
    let from = s.work.join(name);
    let at =
        claim::move_into(&from, &s.done).map_err(|e| error::io("moving into done/", &from, e))?;
    let input = at.to_string_lossy().into_owned();
    // The rules were checked against the recipes at start-up.
    let cfg = Config::default();
    match crate::queue::admin::submit(db, &cfg, &[input], recipe, stop) {
        Ok(jobs) => Ok(jobs.first().map_or(0, |j| j.id)),
        Err(e) => {
            // Not queued: back to work/, where the next start finds it.
            let _ = crate::sink::temp_file::rename_noreplace(&at, &from);
            Err(e)
        }
    }
}

impl super::daemon::Daemon {
    /// Queue mode's replacement for feeding the engine.
    pub(super) fn hand_over(&mut self, item: super::feeder::Item) {
        let Some(db) = self.queue.as_mut() else {
            return;
        };
        let input = super::scan::esc(&item.name);
        match hand_over(db, &self.s, &item.name, &item.recipe, &self.stop) {
            Ok(id) => {
                self.done += 1;
                crate::metrics::get().inspect(|m| m.count("queued"));
                tracing::info!(input = %input, recipe = %item.recipe, job = id, outcome = "queued",
                    "queued {input}");
            }
            Err(e) => tracing::error!(input = %input, "cannot hand over to the queue: {}", e.msg),
        }
    }
}
