//! Every statement the queue runs, one function each, parameters bound
//! (never formatted into the SQL).
//!
//! A job's life: `pending` → claimed (`running`, with a lease: a random
//! token and an expiry) → `done` | `failed` (bad input) | back to `pending`
//! (a transient error, after a backoff) | `dead` (out of attempts).
//! Every change a worker makes to a running job names the token it was
//! given, so a worker whose lease expired and was taken over changes
//! nothing: that is the fencing the commit relies on.

use postgres::GenericClient;

/// LISTEN/NOTIFY channel idle workers wait on.
pub const CHANNEL: &str = "tilerun_jobs";

/// A job as a worker claimed it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    /// The file, or a set's first member.
    pub input: String,
    /// Every file the job reads: `[input]`, or a set's members.
    pub members: Vec<String>,
    pub set_key: Option<String>,
    pub recipe: String,
    /// Counting this claim.
    pub attempts: i32,
    pub token: String,
    /// The previous holder's host when the claim took over an expired lease.
    pub reclaimed_from: Option<String>,
    /// Multipart uploads earlier runs opened and did not close (see
    /// `super::uploads`).
    pub stale_uploads: Vec<String>,
}

impl Claimed {
    /// What logs call the job: its file, or its set.
    pub fn shown(&self) -> String {
        match &self.set_key {
            Some(k) => format!("set {k} ({} files)", self.members.len()),
            None => self.input.clone(),
        }
    }
}

/// A job to add: one input (a file, folder or archive), or a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct New {
    /// The input, or a set's first member.
    pub input: String,
    /// Size and mtime (or ETag); for a set, each member's path and its own.
    pub fingerprint: String,
    /// A set's members, sorted; None for one input.
    pub members: Option<Vec<String>>,
    pub set_key: Option<String>,
}

/// Add a job, or find the one already there for the same input, content
/// and recipe. Returns (id, state, created). A set's fingerprint is stored
/// as a digest: the unique index holds it, and a set's text can be long.
pub fn submit(
    c: &mut impl GenericClient,
    job: &New,
    recipe: &str,
) -> Result<(i64, String, bool), postgres::Error> {
    let row = c.query_opt(
        "INSERT INTO tilerun.jobs (input, fingerprint, recipe, members, set_key)
         VALUES ($1, CASE WHEN $4::text[] IS NULL THEN $2 ELSE 'set:' || md5($2) END,
                 $3, $4, $5)
         ON CONFLICT (input, fingerprint, recipe) DO NOTHING RETURNING id",
        &[
            &job.input,
            &job.fingerprint,
            &recipe,
            &job.members,
            &job.set_key,
        ],
    )?;
    if let Some(r) = row {
        return Ok((r.get(0), "pending".into(), true));
    }
    let r = c.query_one(
        "SELECT id, state FROM tilerun.jobs WHERE input = $1 AND recipe = $3
             AND fingerprint = CASE WHEN $4::text[] IS NULL THEN $2 ELSE 'set:' || md5($2) END",
        &[&job.input, &job.fingerprint, &recipe, &job.members],
    )?;
    Ok((r.get(0), r.get(1), false))
}

/// Wake idle workers.
pub fn notify(c: &mut impl GenericClient) -> Result<(), postgres::Error> {
    c.execute("SELECT pg_notify($1, '')", &[&CHANNEL])
        .map(|_| ())
}

/// Jobs whose lease expired on their last allowed attempt are dead: the
/// worker died or hung every time. Returns their ids.
pub fn bury_expired(
    c: &mut impl GenericClient,
    max_attempts: i32,
) -> Result<Vec<i64>, postgres::Error> {
    let rows = c.query(
        "UPDATE tilerun.jobs SET state = 'dead', lease_token = NULL, lease_expires = NULL,
             finished_at = now(), updated_at = now(),
             last_error = format('the lease expired on attempt %s of %s: the worker on %s died \
                                  or hung while running it', attempts, $1::int, host)
         WHERE id IN (SELECT id FROM tilerun.jobs
                      WHERE state = 'running' AND lease_expires < now() AND attempts >= $1
                      FOR UPDATE SKIP LOCKED)
         RETURNING id",
        &[&max_attempts],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Claim the oldest runnable job: pending and due, or running with an
/// expired lease. Rows another worker is claiming are skipped, not waited
/// for, so claims never queue behind each other.
pub fn claim(
    c: &mut impl GenericClient,
    host: &str,
    lease_secs: f64,
    max_attempts: i32,
) -> Result<Option<Claimed>, postgres::Error> {
    let row = c.query_opt(
        "WITH c AS (
             SELECT id, state AS was, host AS was_host FROM tilerun.jobs
             WHERE (state = 'pending' AND not_before <= now())
                OR (state = 'running' AND lease_expires < now() AND attempts < $3)
             ORDER BY id LIMIT 1
             FOR UPDATE SKIP LOCKED)
         UPDATE tilerun.jobs j SET state = 'running', attempts = j.attempts + 1,
             reclaims = j.reclaims + (c.was = 'running')::int,
             lease_token = gen_random_uuid(),
             lease_expires = now() + $2 * interval '1 second',
             host = $1, started_at = now(), updated_at = now()
         FROM c WHERE j.id = c.id
         RETURNING j.id, j.input, j.recipe, j.attempts, j.lease_token::text,
                   CASE WHEN c.was = 'running' THEN c.was_host END,
                   coalesce(j.members, ARRAY[j.input]), j.set_key, j.uploads",
        &[&host, &lease_secs, &max_attempts],
    )?;
    Ok(row.map(|r| Claimed {
        id: r.get(0),
        input: r.get(1),
        members: r.get(6),
        set_key: r.get(7),
        recipe: r.get(2),
        attempts: r.get(3),
        token: r.get(4),
        reclaimed_from: r.get(5),
        stale_uploads: r.get(8),
    }))
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held,
    /// Another worker claimed it after our lease expired (or it was
    /// requeued): our result will be refused.
    Lost,
    /// An operator cancelled it: stop working on it.
    Cancelled,
}

pub fn renew(
    c: &mut impl GenericClient,
    id: i64,
    token: &str,
    lease_secs: f64,
) -> Result<Lease, postgres::Error> {
    let n = c.execute(
        "UPDATE tilerun.jobs SET lease_expires = now() + $3 * interval '1 second',
             updated_at = now()
         WHERE id = $1 AND lease_token::text = $2 AND state = 'running'",
        &[&id, &token, &lease_secs],
    )?;
    if n == 1 {
        return Ok(Lease::Held);
    }
    let state: Option<String> = c
        .query_opt("SELECT state FROM tilerun.jobs WHERE id = $1", &[&id])?
        .map(|r| r.get(0));
    Ok(match state.as_deref() {
        Some("cancelled") | None => Lease::Cancelled,
        _ => Lease::Lost,
    })
}

/// Lock the job's row if `token` is still its lease; None = fenced off
/// (the row's state and host, to say why). The lock is held until the
/// transaction ends, so no claim can take the job meanwhile.
pub fn lock_if_held(
    tx: &mut postgres::Transaction,
    id: i64,
    token: &str,
) -> Result<Result<(), (String, Option<String>)>, postgres::Error> {
    let held = tx.query_opt(
        "SELECT 1 FROM tilerun.jobs WHERE id = $1 AND lease_token::text = $2
             AND state = 'running' FOR UPDATE",
        &[&id, &token],
    )?;
    if held.is_some() {
        return Ok(Ok(()));
    }
    let r = tx.query_opt("SELECT state, host FROM tilerun.jobs WHERE id = $1", &[&id])?;
    Ok(Err(r.map_or(("deleted".into(), None), |r| {
        (r.get(0), r.get(1))
    })))
}

/// Inside the commit's transaction, after the output was placed: the
/// times are the wall clock's (`now()` is the transaction's start, before
/// an upload that can take minutes).
pub fn mark_done(
    tx: &mut postgres::Transaction,
    id: i64,
    output: &str,
) -> Result<(), postgres::Error> {
    tx.execute(
        "UPDATE tilerun.jobs SET state = 'done', output = $2, last_error = NULL,
             lease_token = NULL, lease_expires = NULL, uploads = '{}',
             finished_at = clock_timestamp(), updated_at = clock_timestamp()
         WHERE id = $1",
        &[&id, &output],
    )
    .map(|_| ())
}

/// Bad input: failed at once with its reason. False if fenced off.
pub fn fail(
    c: &mut impl GenericClient,
    id: i64,
    token: &str,
    why: &str,
) -> Result<bool, postgres::Error> {
    let n = c.execute(
        "UPDATE tilerun.jobs SET state = 'failed', last_error = $3, lease_token = NULL,
             lease_expires = NULL, finished_at = now(), updated_at = now()
         WHERE id = $1 AND lease_token::text = $2 AND state = 'running'",
        &[&id, &token, &why],
    )?;
    Ok(n == 1)
}

/// A transient error: back to pending after `delay_secs`, or dead when
/// the attempts are used up. Returns the new state; None if fenced off.
pub fn retry(
    c: &mut impl GenericClient,
    id: i64,
    token: &str,
    why: &str,
    max_attempts: i32,
    delay_secs: f64,
) -> Result<Option<String>, postgres::Error> {
    let row = c.query_opt(
        "UPDATE tilerun.jobs SET
             state = CASE WHEN attempts >= $4 THEN 'dead' ELSE 'pending' END,
             finished_at = CASE WHEN attempts >= $4 THEN now() END,
             not_before = now() + $5 * interval '1 second',
             last_error = $3, lease_token = NULL, lease_expires = NULL, updated_at = now()
         WHERE id = $1 AND lease_token::text = $2 AND state = 'running'
         RETURNING state",
        &[&id, &token, &why, &max_attempts, &delay_secs],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// A worker stopping mid-job hands it back; the attempt does not count.
pub fn release(c: &mut impl GenericClient, id: i64, token: &str) -> Result<bool, postgres::Error> {
    let n = c.execute(
        "UPDATE tilerun.jobs SET state = 'pending', attempts = greatest(attempts - 1, 0),
             lease_token = NULL, lease_expires = NULL, not_before = now(), updated_at = now()
         WHERE id = $1 AND lease_token::text = $2 AND state = 'running'",
        &[&id, &token],
    )?;
    Ok(n == 1)
}

/// Dead (and, by id, failed or cancelled) jobs back to pending with fresh
/// attempts.
/// `ids` None = every dead job. Returns the ids requeued.
pub fn requeue(
    c: &mut impl GenericClient,
    ids: Option<&[i64]>,
) -> Result<Vec<i64>, postgres::Error> {
    let rows = match ids {
        None => c.query(
            "UPDATE tilerun.jobs SET state = 'pending', attempts = 0, not_before = now(),
                 finished_at = NULL, updated_at = now()
             WHERE state = 'dead' RETURNING id",
            &[],
        )?,
        Some(ids) => c.query(
            "UPDATE tilerun.jobs SET state = 'pending', attempts = 0, not_before = now(),
                 finished_at = NULL, updated_at = now()
             WHERE id = ANY($1) AND state IN ('dead', 'failed', 'cancelled') RETURNING id",
            &[&ids],
        )?,
    };
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Pending or running jobs to cancelled; a running job's worker learns it
/// at its next heartbeat and its result is refused. Returns the ids.
pub fn cancel(c: &mut impl GenericClient, ids: &[i64]) -> Result<Vec<i64>, postgres::Error> {
    let rows = c.query(
        "UPDATE tilerun.jobs SET state = 'cancelled', lease_token = NULL, lease_expires = NULL,
             finished_at = now(), updated_at = now()
         WHERE id = ANY($1) AND state IN ('pending', 'running') RETURNING id",
        &[&ids],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The state of each of `ids` (for messages about the ones not changed).
pub fn states(
    c: &mut impl GenericClient,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, postgres::Error> {
    let rows = c.query(
        "SELECT id, state FROM tilerun.jobs WHERE id = ANY($1) ORDER BY id",
        &[&ids],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Note a multipart upload this run opened; false if the lease is gone.
pub fn record_upload(
    c: &mut impl GenericClient,
    id: i64,
    token: &str,
    handle: &str,
) -> Result<bool, postgres::Error> {
    let n = c.execute(
        // Idempotent: a retry after a lost reply must not add it twice.
        "UPDATE tilerun.jobs SET uploads = CASE WHEN $3 = ANY(uploads) THEN uploads
                                                ELSE array_append(uploads, $3) END
         WHERE id = $1 AND lease_token::text = $2 AND state = 'running'",
        &[&id, &token, &handle],
    )?;
    Ok(n == 1)
}

/// Forget uploads that were aborted.
pub fn forget_uploads(
    c: &mut impl GenericClient,
    id: i64,
    handles: &[String],
) -> Result<(), postgres::Error> {
    c.execute(
        "UPDATE tilerun.jobs SET uploads = ARRAY(SELECT u FROM unnest(uploads) u
                                                 WHERE u <> ALL($2))
         WHERE id = $1",
        &[&id, &handles],
    )
    .map(|_| ())
}
