//! The daemon's main loop: one thread that owns all bookkeeping.
//!
//! It waits on three kinds of input at once (inbox notes from the watcher,
//! reports from the feeder, and each running job's outcome) plus timers
//! (settle, retry backoff, periodic rescan, watchdog), so nothing here ever
//! blocks on the engine. Claims are limited to a few files beyond what the
//! workers can hold, so unstarted files stay in the inbox, where another
//! daemon may take them and a stop leaves them untouched.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select};

use super::claim::{self, Claim};
use super::feeder::{self, Fed, Feeder, Item};
use super::scan::{esc, lstat, Settler, Stamp};
use super::sdnotify::Notifier;
use super::watcher::{self, Note, Watch};
use crate::config::watch::Settings;
use crate::config::Config;
use crate::engine::job::{JobCtx, Outcome};
use crate::engine::Engine;
use crate::error::{job, Error};

pub(super) struct Started {
    pub(super) ctx: Arc<JobCtx>,
    pub(super) outcome: Receiver<Outcome>,
    pub(super) at: Instant,
    pub(super) warnings: Vec<String>,
}

pub(super) struct Running {
    pub(super) item: Item,
    pub(super) job: Option<Started>,
}

pub struct Daemon {
    pub(super) s: Settings,
    pub(super) notes: Receiver<Note>,
    pub(super) watch: Option<Watch>,
    pub(super) rescan_flag: Arc<AtomicBool>,
    pub(super) settler: Settler,
    pub(super) unmatched: HashSet<OsString>,
    pub(super) claim_warned: HashSet<OsString>,
    pub(super) backlog: VecDeque<Item>,
    pub(super) retries: Vec<(Instant, Item)>,
    pub(super) inflight: BTreeMap<u64, Running>,
    pub(super) feeder: Option<Feeder>,
    pub(super) engine: Option<Arc<Engine>>,
    pub(super) next_id: u64,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) feeder_stop: Arc<AtomicBool>,
    pub(super) notifier: Notifier,
    pub(super) done: u64,
    pub(super) failed: u64,
    pub(super) progress: u64,
    pub(super) next_rescan: Instant,
    pub(super) max_inflight: usize,
    pub(super) stopping: Option<Instant>,
    pub(super) cancelled: bool,
    pub(super) last_extend: Option<Instant>,
    pub(super) next_settle: Option<Instant>,
    pub(super) sets: super::sets::Sets,
    /// `[queue] url` set: claimed files go to the shared queue instead.
    pub(super) queue: Option<crate::queue::Db>,
}

impl Daemon {
    /// Watch (unless polling), start the engine and the feeder. Re-queueing
    /// work/ and the first inbox scan are done by the caller, in that order.
    pub fn new(s: Settings, cfg: Config, stop: Arc<AtomicBool>) -> Result<Daemon, Error> {
        let rescan_flag = Arc::new(AtomicBool::new(false));
        let (watch, notes) = match s.poll {
            Some(_) => (None, crossbeam_channel::never()),
            None => {
                let (w, rx) = watcher::start(&s.inbox, Arc::clone(&rescan_flag)).map_err(job)?;
                (Some(w), rx)
            }
        };
        let workers = cfg.engine.workers;
        let sets = super::sets::Sets::new(&cfg);
        let engine =
            Arc::new(Engine::start(workers).map_err(|e| job(format!("starting threads: {e}")))?);
        let feeder_stop = Arc::new(AtomicBool::new(false));
        let max_inflight = 2 * engine.workers() + 2;
        let feeder = feeder::spawn(
            Arc::clone(&engine),
            Arc::new(cfg),
            s.work.clone(),
            Arc::clone(&feeder_stop),
        )
        .map_err(|e| job(format!("starting the feeder thread: {e}")))?;
        let next_rescan = Instant::now() + s.poll.unwrap_or(s.rescan);
        Ok(Daemon {
            s,
            notes,
            watch,
            rescan_flag,
            settler: Settler::default(),
            unmatched: HashSet::new(),
            claim_warned: HashSet::new(),
            backlog: VecDeque::new(),
            retries: Vec::new(),
            inflight: BTreeMap::new(),
            feeder: Some(feeder),
            engine: Some(engine),
            next_id: 0,
            stop,
            feeder_stop,
            notifier: Notifier::new(),
            done: 0,
            failed: 0,
            progress: 0,
            next_rescan,
            max_inflight,
            stopping: None,
            cancelled: false,
            last_extend: None,
            next_settle: None,
            sets,
            queue: None,
        })
    }

    pub(super) fn item(&mut self, name: OsString, recipe: String, attempt: u32) -> Item {
        self.next_id += 1;
        Item {
            id: self.next_id,
            members: vec![name.clone()],
            name,
            recipe,
            attempt,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(super) fn send(&mut self, item: Item) {
        if self.queue.is_some() {
            return self.hand_over(item);
        }
        if let Some(f) = &self.feeder {
            if f.items.send(item.clone()).is_ok() {
                self.inflight.insert(item.id, Running { item, job: None });
            }
        }
    }

    /// Start what may start: due retries, re-queued files, then new claims.
    fn dispatch(&mut self, now: Instant) {
        self.next_settle = None;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.retries = later;
        self.backlog.extend(due.into_iter().map(|(_, i)| i));
        while self.inflight.len() < self.max_inflight {
            let Some(item) = self.backlog.pop_front() else {
                break;
            };
            self.send(item);
        }
        if self.inflight.len() >= self.max_inflight {
            return;
        }
        let inbox = self.s.inbox.clone();
        let (ready, next) = self.settler.ready(self.s.settle, now, |n| {
            lstat(&inbox, n).map(|m| Stamp::of(&m))
        });
        self.next_settle = next;
        for name in ready {
            if self.inflight.len() >= self.max_inflight {
                break;
            }
            let Some(recipe) = self.s.recipe_for(&name).map(str::to_string) else {
                continue;
            };
            let member = self.is_member(&recipe, &name);
            match claim::claim(&self.s.inbox, &self.s.work, &name) {
                Ok(Claim::Claimed) if member => {
                    self.settler.forget(&name);
                    self.on_member(&recipe, name, now, 1);
                }
                Ok(Claim::Claimed) => {
                    self.settler.forget(&name);
                    let item = self.item(name, recipe, 1);
                    self.send(item);
                }
                Ok(Claim::Gone) => self.settler.forget(&name),
                Ok(Claim::Busy) if member && self.sets.waiting_key(&recipe, &name).is_some() => {
                    self.settler.forget(&name);
                    self.duplicate_in_inbox(&recipe, &name);
                }
                Ok(Claim::Busy) => {
                    if self.claim_warned.insert(name.clone()) {
                        tracing::info!(input = %esc(&name), "a file of this name is still in work/; waiting");
                    }
                }
                Err(e) => {
                    if self.claim_warned.insert(name.clone()) {
                        tracing::error!(input = %esc(&name), "cannot claim (rename into work/): {e}");
                    }
                    self.settler.forget(&name);
                }
            }
        }
        self.release_sets();
    }

    fn progress_now(&self) -> u64 {
        let windows: usize = self
            .inflight
            .values()
            .filter_map(|r| r.job.as_ref())
            .map(|j| j.ctx.done_windows.load(Ordering::Relaxed))
            .sum();
        self.progress + windows as u64
    }

    pub(super) fn status(&self) -> String {
        format!(
            "{}: {} done, {} failed, {} in flight, {} waiting to retry",
            if self.stopping.is_some() {
                "stopping"
            } else {
                "watching"
            },
            self.done,
            self.failed,
            self.inflight.len() + self.backlog.len(),
            self.retries.len()
        )
    }

    fn wait(&self, timeout: Duration) {
        let mut sel = Select::new();
        // Once stopping, the watcher is dropped and the feeder ends: their
        // channels disconnect, and a disconnected channel is always ready,
        // so waiting on them spun a core until the last job finished (the
        // very job the stop waits for). They are still drained each turn.
        if self.stopping.is_none() {
            sel.recv(&self.notes);
            if let Some(f) = &self.feeder {
                sel.recv(&f.fed);
            }
        }
        for j in self.inflight.values().filter_map(|r| r.job.as_ref()) {
            sel.recv(&j.outcome);
        }
        let _ = sel.ready_timeout(timeout);
    }

    /// Run until stopped. Ok after a graceful stop.
    pub fn run(mut self) -> Result<(), Error> {
        let res = self.main_loop();
        if res.is_err() {
            self.cancel_all();
        }
        self.shut_down();
        res
    }

    fn main_loop(&mut self) -> Result<(), Error> {
        loop {
            let now = Instant::now();
            if self.stopping.is_none() && self.stop.load(Ordering::SeqCst) {
                self.begin_stop();
            }
            while let Ok(n) = self.notes.try_recv() {
                self.on_note(n, now)?;
            }
            let lost = self.rescan_flag.swap(false, Ordering::SeqCst);
            if lost {
                tracing::info!("inotify lost events (queue overflow): full rescan");
            }
            if self.stopping.is_none() && (lost || now >= self.next_rescan) {
                self.rescan(now)?;
                self.next_rescan = now + self.s.poll.unwrap_or(self.s.rescan);
            }
            let fed: Vec<Fed> = self
                .feeder
                .as_ref()
                .map(|f| f.fed.try_iter().collect())
                .unwrap_or_default();
            for f in fed {
                self.on_fed(f);
            }
            self.drain_outcomes();
            if self.engine.as_ref().is_some_and(|e| e.is_broken()) {
                return Err(job("internal: a pipeline thread died; restarting is safe (files in work/ are re-queued)"));
            }
            if let Some(deadline) = self.stopping {
                if self.inflight.is_empty() {
                    return Ok(());
                }
                if now >= deadline && !self.cancelled {
                    tracing::warn!(
                        in_flight = self.inflight.len(),
                        "grace period over: rolling back"
                    );
                    self.cancel_all();
                }
                if self.cancelled {
                    // The engine's shutdown collects the cancelled jobs.
                    return Ok(());
                }
                if self
                    .last_extend
                    .is_none_or(|t| now - t >= Duration::from_secs(1))
                {
                    self.last_extend = Some(now);
                    self.notifier
                        .extend(deadline.saturating_duration_since(now) + Duration::from_secs(15));
                }
            } else {
                self.expire_sets(now);
                self.dispatch(now);
            }
            let idle = self.inflight.is_empty() && self.backlog.is_empty();
            let progress = self.progress_now();
            self.notifier.maybe_pet(idle, progress);
            if let Some(m) = crate::metrics::get() {
                let waiting = (self.backlog.len() + self.retries.len()) as i64;
                m.depth(
                    &[
                        ("pending", waiting),
                        ("running", self.inflight.len() as i64),
                    ],
                    None,
                );
                m.busy(self.inflight.len().min(1), 1);
            }
            let status = self.status();
            self.notifier.status(&status, false);
            self.wait(self.sleep_for(now));
        }
    }

    fn sleep_for(&self, now: Instant) -> Duration {
        let mut wake = now + Duration::from_millis(250);
        let sets = self.sets.next_deadline(self.s.set_timeout);
        let due = self.retries.iter().map(|(t, _)| *t).chain(sets);
        for t in due.chain(self.next_settle).chain(self.notifier.next_pet()) {
            wake = wake.min(t);
        }
        wake.saturating_duration_since(now)
    }
}
