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
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::remote::s3::{self, S3Uri};

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
pub fn wait_until_reachable(buckets: &[String], limit: Duration, stop: &AtomicBool) {
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
