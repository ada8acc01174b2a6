//! A worker whose job just failed on an object store that does not answer
//! stops claiming jobs, on every slot, until the store answers again.
//!
//! Why: attempts are counted at claim, and a job that cannot reach its
//! store fails in milliseconds. Without this pause, one worker in an S3
//! outage would claim and fail the whole pending queue, over and over,
//! until every job was `dead` (a minute of outage with the default
//! backoff). With it, an outage costs one attempt per worker (one per
//! slot only if its slots fail at the same instant); the other jobs wait,
//! pending, and run when the store is back. A store
//! that answers while one job still fails (a single missing or broken
//! object) does not pause anything: that job's own retries and
//! `max_attempts` decide. The pause has a limit (`[queue]
//! store_pause_secs`, 2 minutes by default): a bucket that will never
//! answer (deleted, no permission to list it) must not stop the worker for
//! good; its jobs then spend their attempts at that pace and end `dead`
//! with the reason. Each probe gives up after 10 s (`s3::reachable`): the
//! pause holds every slot, and a store that accepts connections and never
//! answers must neither hold them for good nor keep SIGTERM from stopping.

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::remote::s3::{self, S3Uri};

/// The pause, shared by a worker's slots: the slot that waits for a store
/// holds the lock, and every slot takes it before claiming, so the whole
/// process pauses. It holds when the last pause ended.
#[derive(Default)]
pub struct Pause(Mutex<Option<Instant>>);

impl Pause {
    /// Before a claim: wait out another slot's pause, if one is on. (A
    /// poisoned lock only means that slot panicked: claiming is still
    /// right.)
    pub fn wait_turn(&self) {
        drop(self.0.lock());
    }

    /// After a failed job touching `buckets`: if one does not answer, stop
    /// every slot from claiming until it does, for at most `limit`. A slot
    /// that finds another already pausing waits for that pause instead of
    /// starting a second one after it: a pause that ended after this job
    /// failed covered it. (Not a `try_lock`: that also fails while another
    /// slot merely passes the lock on its way to claim, and would skip the
    /// pause.)
    pub fn after_failure(&self, buckets: &[String], limit: Duration, stop: &AtomicBool) {
        if buckets.is_empty() {
            return;
        }
        let failed_at = Instant::now();
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| t >= failed_at) {
            return;
        }
        wait_until_reachable(buckets, limit, stop);
        *last = Some(Instant::now());
    }
}

/// The buckets job `members` touch: its S3 inputs and an S3 `[output] dir`.
pub fn buckets(members: &[String], cfg: &Config) -> Vec<String> {
    let out = cfg.output.dir.as_ref().and_then(|d| d.to_str());
    let mut found: Vec<String> = members
        .iter()
        .map(String::as_str)
        .chain(out)
        .filter(|m| s3::is_s3(m))
        .filter_map(|m| S3Uri::in_dir(m.trim_end_matches('/'), "x").ok())
        .map(|u| u.bucket)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Return once every bucket in `buckets` answers, `limit` has passed, or
/// `stop` is raised. Probes back off from 1 s to 30 s; the pause and its
/// end are logged.
fn wait_until_reachable(buckets: &[String], limit: Duration, stop: &AtomicBool) {
    let down = |b: &&String| !s3::reachable(b);
    let Some(first) = buckets.iter().find(down) else {
        return;
    };
    tracing::warn!(bucket = %first, "s3://{first} cannot be reached: not claiming jobs until it answers");
    let t0 = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        if left.is_zero() {
            tracing::warn!(bucket = %first, "s3://{first} still cannot be reached after {} s: \
                claiming jobs again", limit.as_secs());
            return;
        }
        if crate::engine::shutdown::sleep_unless(stop, delay.min(left)) {
            return;
        }
        if !buckets.iter().any(|b| down(&b)) {
            let secs = t0.elapsed().as_secs();
            tracing::info!(bucket = %first, "s3://{first} answers again after {secs} s: claiming jobs");
            return;
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
