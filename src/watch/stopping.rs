//! How the daemon stops: no new claims, then in-flight files either finish
//! within the grace period or are rolled back (their temp outputs deleted,
//! their inputs left in work/ for the next start); then the feeder and the
//! engine are shut down. Kept apart from the main loop, which only decides
//! *when* to call these.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::daemon::Daemon;
use crate::config::watch::OnStop;

impl Daemon {
    pub fn begin_stop(&mut self) {
        let now = Instant::now();
        self.stopping = Some(now + self.s.grace);
        self.feeder_stop.store(true, Ordering::SeqCst);
        self.watch = None;
        self.notifier.stopping(&self.status());
        let rollback = self.s.on_stop == OnStop::Rollback;
        tracing::info!(
            in_flight = self.inflight.len(),
            "stopping: no new files; {}",
            if rollback {
                "rolling back in-flight files".to_string()
            } else {
                format!("in-flight files may finish within {:.0?}", self.s.grace)
            }
        );
        if rollback {
            self.cancel_all();
        }
    }

    pub(super) fn cancel_all(&mut self) {
        self.cancelled = true;
        for r in self.inflight.values() {
            r.item.cancel.store(true, Ordering::SeqCst);
        }
    }

    /// Stop the feeder and the engine; log what is left in work/.
    pub(super) fn shut_down(&mut self) {
        self.feeder_stop.store(true, Ordering::SeqCst);
        if let Some(f) = self.feeder.take() {
            drop(f.items);
            let _ = f.thread.join();
            for m in f.fed.try_iter() {
                self.on_fed(m);
            }
        }
        if let Some(engine) = self.engine.take() {
            match Arc::try_unwrap(engine) {
                Ok(e) => e.shutdown(),
                Err(e) => drop(e),
            }
        }
        self.drain_outcomes();
        let left: Vec<PathBuf> = self
            .inflight
            .values()
            .map(|r| &r.item)
            .chain(self.backlog.iter())
            .chain(self.retries.iter().map(|(_, i)| i))
            .map(|i| self.s.work.join(&i.name))
            .collect();
        if !left.is_empty() {
            tracing::info!(files = left.len(), "left in work/ for the next start");
        }
        self.notifier.status(&self.status(), true);
    }
}
