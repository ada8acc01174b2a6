//! The heartbeat: a thread with its own connection that renews the lease
//! of the job the worker is running, every third of the lease.
//!
//! Its own connection, so a long statement on the worker's connection
//! never delays a renewal; its own thread, so a job that keeps the engine
//! busy never lets its lease lapse. If the database is unreachable it keeps
//! trying each beat: the job goes on, and the commit decides (with the
//! token) whether the result still counts. An operator's cancel raises the
//! job's cancel flag; a takeover is only logged, as the commit refuses it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

use super::db::Db;
use super::jobs::{self, Lease};

struct Hold {
    id: i64,
    token: String,
    cancel: Arc<AtomicBool>,
}

pub struct Heartbeat {
    tx: Option<Sender<Option<Hold>>>,
    /// The last verdict, and the job it is about (a beat for the previous
    /// job may land after the next one is held).
    verdict: Arc<Mutex<(i64, Lease)>>,
    /// The job whose run is over, its end being recorded (the commit, a
    /// failure): from then on its row changes under the beat by the
    /// worker's own hand, and the worker's own log line says how the job
    /// ended, so a beat that finds its lease gone says nothing.
    ending: Arc<AtomicI64>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub fn spawn(mut db: Db, lease_secs: f64) -> std::io::Result<Heartbeat> {
        let (tx, rx) = crossbeam_channel::unbounded::<Option<Hold>>();
        let verdict = Arc::new(Mutex::new((0, Lease::Held)));
        let v = Arc::clone(&verdict);
        let ending = Arc::new(AtomicI64::new(0));
        let quiet = Arc::clone(&ending);
        let every = Duration::from_secs_f64(lease_secs / 3.0);
        let thread = std::thread::Builder::new()
            .name("tilerun-heartbeat".into())
            .spawn(move || {
                let mut cur: Option<Hold> = None;
                let mut failing = false;
                loop {
                    match rx.recv_timeout(every) {
                        Ok(h) => {
                            cur = h;
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                    let Some(h) = &cur else { continue };
                    let res = db.once(|c| jobs::renew(c, h.id, &h.token, lease_secs));
                    match res {
                        Ok(lease) => {
                            failing = false;
                            let mut v = v.lock().unwrap_or_else(|p| p.into_inner());
                            if lease != Lease::Held
                                && *v != (h.id, lease)
                                && quiet.load(Ordering::SeqCst) != h.id
                            {
                                note(h, lease);
                            }
                            *v = (h.id, lease);
                        }
                        Err(e) => {
                            if !failing {
                                tracing::warn!(job = h.id, "cannot renew the lease: {}", e.msg);
                            }
                            failing = true;
                        }
                    }
                }
            })?;
        Ok(Heartbeat {
            tx: Some(tx),
            verdict,
            ending,
            thread: Some(thread),
        })
    }

    /// Start renewing the lease of a job just claimed.
    pub fn hold(&self, id: i64, token: &str, cancel: Arc<AtomicBool>) {
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = (id, Lease::Held);
        if let Some(tx) = &self.tx {
            let _ = tx.send(Some(Hold {
                id,
                token: token.to_string(),
                cancel,
            }));
        }
    }

    /// The run is over; the lease is still renewed (an upload at the
    /// commit may take a while) but a lost lease is no longer logged: a
    /// beat blocked behind the commit's row lock would otherwise find the
    /// job done, by this very worker, and call it taken over.
    pub fn ending(&self, id: i64) {
        self.ending.store(id, Ordering::SeqCst);
    }

    /// Stop renewing job `id` (it ended); returns the last verdict on it.
    pub fn release(&self, id: i64) -> Lease {
        if let Some(tx) = &self.tx {
            let _ = tx.send(None);
        }
        match *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) {
            (j, lease) if j == id => lease,
            _ => Lease::Held,
        }
    }
}

fn note(h: &Hold, lease: Lease) {
    match lease {
        Lease::Cancelled => {
            tracing::warn!(job = h.id, "the job was cancelled: stopping it");
            h.cancel.store(true, Ordering::SeqCst);
        }
        Lease::Lost => tracing::warn!(
            job = h.id,
            "the lease was taken over by another worker (it expired while this one was \
             stopped or cut off): this run's result will be refused"
        ),
        Lease::Held => {}
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
