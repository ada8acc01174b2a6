//! `tilerun worker`: claim a job, run it, commit it, repeat.
//!
//! One job at a time per process, on a long-lived engine (its threads are
//! the parallelism within a job; more processes or hosts are the
//! parallelism across jobs). Between jobs an idle worker sleeps on
//! LISTEN/NOTIFY, with a poll as the fallback. Every end of a job is one
//! log line with `outcome=` done, failed, retry, dead, refused, released
//! or cancelled.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;

use crate::config::queue::QueueConfig;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{job, Error, Kind};

use super::db::Db;
use super::heartbeat::Heartbeat;
use super::jobs::{self, Claimed, Lease};
use super::run::Staged;

/// One job slot: its own connections (claims and commits, LISTEN, the
/// heartbeat's), sharing the process's engine.
pub struct Worker {
    db: Db,
    listener: Db,
    heartbeat: Heartbeat,
    engine: Arc<Engine>,
    cfg: Arc<Config>,
    q: QueueConfig,
    host: String,
    stop: Arc<AtomicBool>,
    /// Local room for S3 inputs and outputs, removed at exit.
    scratch: std::path::PathBuf,
    /// Slots busy in this process, for the busy/idle gauge.
    busy: Arc<AtomicUsize>,
    /// The process-wide store pause, shared by every slot (see `store`).
    pause: Arc<super::store::Pause>,
}

/// Connect (exit 2 if the queue is unusable), then run `q.jobs` slots
/// until SIGTERM. Several slots let one job's database round trips and
/// fsyncs overlap another's computing, as the daemon overlaps files.
pub fn run(url: &str, cfg: Config, q: QueueConfig, metrics: Option<&str>) -> Result<(), Error> {
    let db = Db::open(url)?;
    let slots = q.jobs.max(1);
    if let Some(addr) = metrics {
        let sample = super::status::sampler(db.another(None));
        crate::metrics::serve(addr, Some(sample))?.busy(0, slots);
    }
    let stop = crate::engine::shutdown::install()
        .map_err(|e| job(format!("installing signal handlers: {e}")))?;
    let engine = Arc::new(
        Engine::start(cfg.engine.workers).map_err(|e| job(format!("starting threads: {e}")))?,
    );
    let host = format!(
        "{}:{}",
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into()),
        std::process::id()
    );
    // An S3 output folder must exist before any job is taken.
    if let Some(d) = cfg.output.dir.as_ref().and_then(|d| d.to_str()) {
        if crate::remote::s3::is_s3(d) {
            let bucket = crate::remote::s3::S3Uri::in_dir(d, "x")?.bucket;
            crate::remote::s3::check_bucket(&bucket).map_err(|e| e.context("[output] dir"))?;
        }
    }
    let scratch = std::env::var_os("CPL_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("tilerun-worker-{}", std::process::id()));
    let (cfg, busy) = (Arc::new(cfg), Arc::new(AtomicUsize::new(0)));
    let pause = Arc::new(super::store::Pause::default());
    let mut workers = Vec::with_capacity(slots);
    // Claims, renewals and failures need no fsync of their own: if the
    // database loses one in a crash, the token no longer matches, the
    // commit is refused and the job simply runs again. The commit itself
    // is durable (see `commit`).
    let fast = Some("SET synchronous_commit TO off");
    for slot in 0..slots {
        let heartbeat = Heartbeat::spawn(db.another(fast), q.lease_secs)
            .map_err(|e| job(format!("starting a heartbeat thread: {e}")))?;
        workers.push(Worker {
            db: db.another(fast),
            listener: db.another(Some("LISTEN tilerun_jobs")),
            heartbeat,
            engine: Arc::clone(&engine),
            cfg: Arc::clone(&cfg),
            q: q.clone(),
            host: if slots > 1 {
                format!("{host}/{slot}")
            } else {
                host.clone()
            },
            stop: Arc::clone(&stop),
            scratch: scratch.clone(),
            busy: Arc::clone(&busy),
            pause: Arc::clone(&pause),
        });
    }
    tracing::info!(queue = %db.shown(), host, slots, lease_secs = q.lease_secs, "ready");
    std::thread::scope(|s| {
        for mut w in workers {
            s.spawn(move || w.main_loop());
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    tracing::info!("stopped");
    Ok(())
}

impl Worker {
    fn main_loop(&mut self) {
        while !self.stop.load(Ordering::SeqCst) {
            // A SIGTERM that ended another slot's pause must not be
            // followed by a claim.
            self.pause.wait_turn();
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let (host, lease, max) = (self.host.clone(), self.q.lease_secs, self.max());
            let claimed = self.db.run(&self.stop, |c| {
                for id in jobs::bury_expired(c, max)? {
                    tracing::error!(
                        job = id,
                        outcome = "dead",
                        "out of attempts: the lease expired on the last one"
                    );
                    crate::metrics::get().inspect(|m| m.count("dead"));
                }
                jobs::claim(c, &host, lease, max)
            });
            match claimed {
                Ok(Some(j)) => self.job(j),
                Ok(None) => self.wait(),
                Err(e) if e.is_interrupted() => return,
                Err(e) => {
                    tracing::error!("claiming a job: {}", e.msg);
                    self.sleep(Duration::from_secs(1));
                }
            }
        }
    }

    fn max(&self) -> i32 {
        self.q.max_attempts.min(i32::MAX as u32) as i32
    }

    /// Sleep until a NOTIFY, the poll interval, or a stop.
    fn wait(&mut self) {
        let until = Instant::now() + Duration::from_secs_f64(self.q.poll_secs);
        while Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
            let slice = until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(250));
            let woke = self.listener.run(&self.stop, |c| {
                let mut n = c.notifications();
                let first = n.timeout_iter(slice).next()?;
                // Drain the rest so one burst of submits is one wake-up.
                while n.iter().next()?.is_some() {}
                Ok(first.is_some())
            });
            if woke.unwrap_or(true) {
                return;
            }
        }
    }

    fn sleep(&self, d: Duration) {
        crate::engine::shutdown::sleep_unless(&self.stop, d);
    }

    fn job(&mut self, j: Claimed) {
        let t0 = Instant::now();
        if let Some(from) = &j.reclaimed_from {
            tracing::warn!(job = j.id, input = %j.input, from = %from, attempt = j.attempts,
                "reclaimed: the previous worker's lease expired");
        }
        let slots = self.q.jobs.max(1);
        let metrics = crate::metrics::get();
        let n = self.busy.fetch_add(1, Ordering::SeqCst) + 1;
        metrics.inspect(|m| m.busy(n, slots));
        let cancel = Arc::new(AtomicBool::new(false));
        self.heartbeat.hold(j.id, &j.token, Arc::clone(&cancel));
        super::uploads::abort_stale(&mut self.db, &j, &self.stop);
        let (db, stop) = (&mut self.db, &self.stop);
        let mut record = |h: &str| super::uploads::record(db, &j, h, stop);
        let res = super::run::run(
            &self.engine,
            &self.cfg,
            &self.scratch,
            &j,
            &cancel,
            &self.stop,
            &mut record,
        );
        self.heartbeat.ending(j.id);
        let res = match res {
            Ok(staged) => self.commit(&j, staged, t0),
            Err(e) => Err(e),
        };
        let lease = self.heartbeat.release(j.id);
        let _ = std::fs::remove_dir_all(super::run::scratch_for(&self.scratch, &j));
        let outcome = match res {
            Ok(outcome) => outcome,
            Err(e) => self.failed(&j, e, lease, t0),
        };
        if matches!(outcome, "retry" | "dead") {
            let buckets = super::store::buckets(&j.members, &self.cfg);
            let limit = Duration::from_secs_f64(self.q.store_pause_secs);
            self.pause.after_failure(&buckets, limit, &self.stop);
        }
        let n = self.busy.fetch_sub(1, Ordering::SeqCst) - 1;
        if let Some(m) = metrics {
            m.busy(n, slots);
            m.job(outcome, t0.elapsed().as_secs_f64());
            if j.reclaimed_from.is_some() {
                m.reclaimed();
            }
        }
    }

    /// Put the output in place and mark the job done, in one transaction
    /// that first checks (and locks) our lease.
    fn commit(&mut self, j: &Claimed, mut s: Staged, t0: Instant) -> Result<&'static str, Error> {
        if let Some(ms) = test_commit_delay() {
            tracing::info!(job = j.id, staged = %s.staged.display(), "staged; committing after the test delay");
            std::thread::sleep(ms);
        }
        let output = s.target.to_string();
        let t_commit = Instant::now();
        let (mut placed, mut replaced) = (false, false);
        // An S3 upload's parts all go up before the row is locked (the
        // heartbeat keeps renewing meanwhile); only its completion, the
        // moment the key appears, is inside the fenced transaction.
        let mut stream = s.stream.take();
        if let Some(st) = stream.as_mut() {
            st.send_rest(&s.staged, &self.stop)?;
        }
        let never = AtomicBool::new(false);
        let res = self.db.run(&never, |c| {
            let mut tx = c.transaction()?;
            tx.batch_execute("SET LOCAL synchronous_commit TO on")?;
            if let Err(who) = jobs::lock_if_held(&mut tx, j.id, &j.token)? {
                return Ok(Err(who));
            }
            if !placed {
                match super::run::place(&s.staged, &s.target, &mut stream, &self.stop) {
                    Ok(r) => replaced = r,
                    Err(e) => return Ok(Ok(Err(e))),
                }
                placed = true;
            }
            jobs::mark_done(&mut tx, j.id, &output)?;
            tx.commit()?;
            Ok(Ok(Ok(())))
        })?;
        // The commit went through but its reply was lost (the database
        // restarted at that instant): the retry finds the job done, by us.
        let ours = |state: &str, host: &Option<String>| {
            placed && state == "done" && host.as_deref() == Some(self.host.as_str())
        };
        match res {
            Ok(Ok(())) => Ok(self.done(j, &s, t0, t_commit, replaced)),
            Ok(Err(e)) => {
                let _ = std::fs::remove_file(&s.staged);
                Err(e)
            }
            Err((state, host)) if ours(&state, &host) => {
                Ok(self.done(j, &s, t0, t_commit, replaced))
            }
            Err((state, host)) => {
                let _ = std::fs::remove_file(&s.staged);
                tracing::warn!(job = j.id, input = %j.input, attempt = j.attempts, seconds = secs(t0),
                    outcome = "refused", state = %state, holder = host.as_deref().unwrap_or(""),
                    "commit refused: the lease is no longer ours (the job is {state}); this run's \
                     output is discarded");
                Ok("refused")
            }
        }
    }

    /// Log a committed job (and sweep what earlier runs of it left).
    /// `replaced`: a local file of the output's name was there before.
    fn done(
        &self,
        j: &Claimed,
        s: &Staged,
        t0: Instant,
        t_commit: Instant,
        replaced: bool,
    ) -> &'static str {
        let swept = match &s.target {
            super::run::Target::Local(p) => super::stage::sweep(p, j.id),
            super::run::Target::S3(_) => 0,
        };
        tracing::info!(job = j.id, input = %j.input, recipe = %j.recipe, output = %s.target,
            attempt = j.attempts, seconds = secs(t0), pixels = s.pixels, bytes = s.bytes,
            fetch_s = round3(s.fetch_secs), compute_s = round3(s.compute_secs),
            commit_s = secs(t_commit), swept, replaced, outcome = "done", "done {}", j.shown());
        if replaced {
            tracing::warn!(job = j.id, input = %j.input, output = %s.target, event = "replaced",
                "replaced {}, which already existed, with the output of {}", s.target, j.shown());
        }
        if let Some(m) = crate::metrics::get() {
            m.processed(s.pixels, s.bytes);
        }
        "done"
    }

    /// Record a run that produced no output; returns the outcome.
    fn failed(&mut self, j: &Claimed, e: Error, lease: Lease, t0: Instant) -> &'static str {
        let cause = e.msg.clone();
        let log = |outcome: &'static str| {
            tracing::warn!(job = j.id, input = %j.input, recipe = %j.recipe, attempt = j.attempts,
                seconds = secs(t0), outcome, cause = %cause, "{outcome} {}", j.shown());
            outcome
        };
        if e.is_interrupted() && lease == Lease::Cancelled {
            return log("cancelled");
        }
        if e.is_interrupted() {
            // Stopping: hand the job back at once (one try; if the database
            // is down, the lease expires and another worker takes it).
            let ok = self.db.once(|c| jobs::release(c, j.id, &j.token));
            return log(if matches!(ok, Ok(true)) {
                "released"
            } else {
                "abandoned"
            });
        }
        let (id, token, max) = (j.id, j.token.clone(), self.max());
        let next = match e.kind {
            Kind::Transient => {
                let delay = self.q.backoff_for(j.attempts as u32 + 1).as_secs_f64();
                self.db
                    .run(&self.stop, |c| {
                        jobs::retry(c, id, &token, &cause, max, delay)
                    })
                    .map(|s| s.map(|s| if s == "dead" { "dead" } else { "retry" }))
            }
            _ => self
                .db
                .run(&self.stop, |c| jobs::fail(c, id, &token, &cause))
                .map(|ok| ok.then_some("failed")),
        };
        match next {
            Ok(Some(outcome)) => {
                tracing::error!(job = j.id, input = %j.input, recipe = %j.recipe,
                    attempt = j.attempts, seconds = secs(t0), outcome, cause = %cause,
                    "{outcome} {}", j.shown());
                outcome
            }
            Ok(None) => log("refused"),
            Err(db) => {
                tracing::error!(job = j.id, "recording the failure ({cause}): {}", db.msg);
                "abandoned"
            }
        }
    }
}

fn secs(t0: Instant) -> f64 {
    round3(t0.elapsed().as_secs_f64())
}

fn round3(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// Test hook: `TILERUN_TEST_COMMIT_DELAY_MS` holds every finished job
/// before its commit, so tests can stop or kill a worker at that point.
fn test_commit_delay() -> Option<Duration> {
    std::env::var("TILERUN_TEST_COMMIT_DELAY_MS")
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}
