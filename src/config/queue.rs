//! The `[queue]` and `[metrics]` tables: where the shared job queue lives
//! and how workers treat leases, retries and idle time; where the
//! Prometheus endpoint listens. Flags (`--queue`, `--metrics`, …) override
//! them; the checks that need the network (can the database be reached?)
//! are made by `crate::queue` at start-up.

use serde::Deserialize;

/// `[queue]` as written in config.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// `postgresql://user:password@host:port/db`; unset = no queue
    /// (`tilerun watch` then runs files itself).
    pub url: Option<String>,
    /// How long a claim lasts without a heartbeat; a worker renews it every
    /// third of this while it works, so a hung or dead host loses its job
    /// after at most this long.
    pub lease_secs: f64,
    /// Claims per job before it is dead (crashes and transient errors count;
    /// bad input fails at once).
    pub max_attempts: u32,
    /// First retry delay after a transient error; doubles per attempt,
    /// capped at 10 minutes.
    pub backoff_secs: f64,
    /// Idle workers are woken by LISTEN/NOTIFY; this is the fallback poll.
    pub poll_secs: f64,
    /// Jobs one worker process runs at once, sharing its engine threads.
    pub jobs: usize,
    /// After a job could not reach its object store, the slot claims
    /// nothing until the store answers, for at most this long (then it
    /// claims again: a deleted bucket must not stop a worker for good).
    pub store_pause_secs: f64,
    /// An S3 transfer (GDAL's reads and its uploads) that connects or moves
    /// no byte for this long fails, as a transient error: a store that
    /// accepts connections and never answers must not hold a job (whose
    /// heartbeat keeps its lease) for ever.
    pub store_stall_secs: f64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            url: None,
            lease_secs: 60.0,
            max_attempts: 3,
            backoff_secs: 5.0,
            poll_secs: 5.0,
            jobs: 2,
            store_pause_secs: 120.0,
            store_stall_secs: 60.0,
        }
    }
}

impl QueueConfig {
    /// Refuse values no worker can honour, naming the key.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("lease_secs", self.lease_secs),
            ("backoff_secs", self.backoff_secs),
            ("poll_secs", self.poll_secs),
            ("store_pause_secs", self.store_pause_secs),
            ("store_stall_secs", self.store_stall_secs),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0 && v < 1e7) {
                return Err(format!(
                    "[queue] {key} = {v}: must be a positive number of seconds"
                ));
            }
        }
        if self.jobs == 0 || self.jobs > 64 {
            return Err(format!("[queue] jobs = {}: must be 1 to 64", self.jobs));
        }
        if self.max_attempts == 0 {
            return Err("[queue] max_attempts = 0: must be at least 1".into());
        }
        Ok(())
    }

    /// Delay before attempt `next` (2 = the first retry).
    pub fn backoff_for(&self, next: u32) -> std::time::Duration {
        let secs = self.backoff_secs * 2f64.powi(next.saturating_sub(2).min(20) as i32);
        std::time::Duration::from_secs_f64(secs.min(600.0))
    }
}

/// `[metrics]`: the Prometheus endpoint of `watch` and `worker`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `ADDR:PORT` to serve `/metrics` on; unset = no endpoint.
    pub listen: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_no_worker_can_honour_are_refused_naming_the_key() {
        for (text, key) in [
            ("[queue]\nlease_secs = 0\n", "lease_secs"),
            ("[queue]\nbackoff_secs = -1\n", "backoff_secs"),
            ("[queue]\nmax_attempts = 0\n", "max_attempts"),
            ("[queue]\njobs = 0\n", "jobs"),
            ("[queue]\nleas_secs = 5\n", "leas_secs"),
            ("[metrics]\nlisten = 9100\n", "listen"),
        ] {
            let e = crate::config::parse(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
        let c =
            crate::config::parse("[queue]\nurl = 'postgresql://h/db'\nlease_secs = 2.5\n").unwrap();
        assert_eq!(c.queue.lease_secs, 2.5);
        assert_eq!(c.queue.backoff_for(2).as_secs_f64(), 5.0);
        assert_eq!(c.queue.backoff_for(4).as_secs_f64(), 20.0);
        assert_eq!(c.queue.backoff_for(30).as_secs_f64(), 600.0);
    }
}
