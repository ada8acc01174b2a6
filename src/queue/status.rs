//! `tilerun status`: what the queue holds, for people (text) and for
//! scripts and monitoring (`--json`), including "the database cannot be
//! reached" as an answer in its own right.

use postgres::GenericClient;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Status {
    /// The database URL, without its password.
    pub queue: String,
    pub reachable: bool,
    /// Why not, when unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// None (null) when unreachable: unknown, which zeros would hide from
    /// a monitor reading `counts.pending`.
    pub counts: Option<Counts>,
    /// Age of the oldest pending job that is due, in seconds.
    pub oldest_pending_secs: Option<f64>,
    pub running: Vec<Running>,
    pub recent_failures: Vec<Failure>,
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
    pub dead: i64,
    pub cancelled: i64,
}

#[derive(Debug, Serialize)]
pub struct Running {
    pub id: i64,
    pub input: String,
    /// A set job's key and member count (its `input` is the first member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<i32>,
    pub recipe: String,
    pub host: String,
    pub attempts: i32,
    /// Negative once expired (the job is up for reclaiming).
    pub lease_expires_in_secs: f64,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub id: i64,
    pub state: String,
    pub input: String,
    /// A set job's key and member count (its `input` is the first member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<i32>,
    pub recipe: String,
    pub attempts: i32,
    pub last_error: String,
    pub secs_ago: f64,
}

/// Counts and the oldest pending age only: what the metrics sample.
pub fn depth(c: &mut impl GenericClient) -> Result<(Counts, Option<f64>), postgres::Error> {
    let mut counts = Counts::default();
    for r in c.query(
        "SELECT state, count(*) FROM tilerun.jobs GROUP BY state",
        &[],
    )? {
        let n: i64 = r.get(1);
        match r.get::<_, &str>(0) {
            "pending" => counts.pending = n,
            "running" => counts.running = n,
            "done" => counts.done = n,
            "failed" => counts.failed = n,
            "dead" => counts.dead = n,
            _ => counts.cancelled = n,
        }
    }
    let oldest: Option<f64> = c
        .query_one(
            // Waiting since it became due: a job requeued today from last
            // week's dead list, or one still in its retry backoff, is not
            // a week-old backlog for the alert that watches this.
            "SELECT extract(epoch FROM now() - min(not_before))::float8 FROM tilerun.jobs
             WHERE state = 'pending' AND not_before <= now()",
            &[],
        )?
        .get(0);
    Ok((counts, oldest))
}

/// Samples queue depth for `/metrics` on a connection of its own; an
/// unreachable database leaves the last values.
pub fn sampler(db: super::Db) -> crate::metrics::Sampler {
    let db = std::sync::Mutex::new(db);
    Box::new(move |m| {
        let Ok(mut db) = db.lock() else { return };
        if let Ok((c, oldest)) = db.once(depth) {
            let by_state = [
                ("pending", c.pending),
                ("running", c.running),
                ("done", c.done),
                ("failed", c.failed),
                ("dead", c.dead),
                ("cancelled", c.cancelled),
            ];
            m.depth(&by_state, oldest);
        }
    })
}

pub fn read(c: &mut impl GenericClient, shown: &str) -> Result<Status, postgres::Error> {
    let (counts, oldest_pending_secs) = depth(c)?;
    let running = c
        .query(
            "SELECT id, input, recipe, coalesce(host, ''), attempts,
                    extract(epoch FROM lease_expires - now())::float8, set_key, cardinality(members)
             FROM tilerun.jobs WHERE state = 'running' ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| Running {
            id: r.get(0),
            input: r.get(1),
            recipe: r.get(2),
            host: r.get(3),
            attempts: r.get(4),
            lease_expires_in_secs: round(r.get::<_, Option<f64>>(5).unwrap_or(0.0)),
            set_key: r.get(6),
            members: r.get(7),
        })
        .collect();
    let recent_failures = c
        .query(
            "SELECT id, state, input, recipe, attempts, coalesce(last_error, ''),
                    extract(epoch FROM now() - finished_at)::float8, set_key, cardinality(members)
             FROM tilerun.jobs WHERE state IN ('failed', 'dead')
             ORDER BY finished_at DESC NULLS LAST LIMIT 10",
            &[],
        )?
        .iter()
        .map(|r| Failure {
            id: r.get(0),
            state: r.get(1),
            input: r.get(2),
            recipe: r.get(3),
            attempts: r.get(4),
            last_error: r.get(5),
            secs_ago: round(r.get::<_, Option<f64>>(6).unwrap_or(0.0)),
            set_key: r.get(7),
            members: r.get(8),
        })
        .collect();
    Ok(Status {
        queue: shown.to_string(),
        reachable: true,
        error: None,
        counts: Some(counts),
        oldest_pending_secs: oldest_pending_secs.map(round),
        running,
        recent_failures,
    })
}

/// A job in one short line: its file, or its set's key and size (a set's
/// member list would fill the screen).
fn what(input: &str, key: &Option<String>, members: Option<i32>) -> String {
    match (key, members) {
        (Some(k), Some(n)) => format!("set {k} ({n} files, first {input})"),
        _ => input.to_string(),
    }
}

fn round(s: f64) -> f64 {
    (s * 10.0).round() / 10.0
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "queue {}", self.queue)?;
        if let Some(e) = &self.error {
            return writeln!(f, "database unreachable: {e}");
        }
        let Some(c) = &self.counts else {
            return Ok(());
        };
        let oldest = self
            .oldest_pending_secs
            .map(|s| format!(" (oldest {s:.0}s)"))
            .unwrap_or_default();
        writeln!(
            f,
            "pending {}{oldest}, running {}, done {}, failed {}, dead {}, cancelled {}",
            c.pending, c.running, c.done, c.failed, c.dead, c.cancelled
        )?;
        if !self.running.is_empty() {
            writeln!(f, "running:")?;
        }
        for r in &self.running {
            let lease = if r.lease_expires_in_secs >= 0.0 {
                format!("lease expires in {:.0}s", r.lease_expires_in_secs)
            } else {
                format!("lease EXPIRED {:.0}s ago", -r.lease_expires_in_secs)
            };
            writeln!(
                f,
                "  {:>6}  {}  {lease}  attempt {}  {} {}",
                r.id,
                r.host,
                r.attempts,
                r.recipe,
                what(&r.input, &r.set_key, r.members)
            )?;
        }
        if !self.recent_failures.is_empty() {
            writeln!(f, "recent failures:")?;
        }
        for r in &self.recent_failures {
            writeln!(
                f,
                "  {:>6}  {:<6}  attempt {}  {} {}: {}",
                r.id,
                r.state,
                r.attempts,
                r.recipe,
                what(&r.input, &r.set_key, r.members),
                crate::error::escape(&r.last_error)
            )?;
        }
        Ok(())
    }
}
