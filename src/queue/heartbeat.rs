//! The heartbeat: a thread with its own connection that renews the lease
//! of the job the worker is running, every third of the lease.
//!
//! Its own connection, so a long statement on the worker's connection
//! never delays a renewal; its own thread, so a job that keeps the engine
//! busy never lets its lease lapse. If the database is unreachable it keeps
//! trying each beat: the job goes on, and the commit decides (with the
//! token) whether the result still counts. An operator's cancel raises the
//! job's cancel flag; a takeover is only logged, as the commit refuses it.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
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
    /// The last verdict on the current job: 0 held, 1 lost, 2 cancelled.
    verdict: Arc<AtomicU8>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub fn spawn(mut db: Db, lease_secs: f64) -> std::io::Result<Heartbeat> {
        let (tx, rx) = crossbeam_channel::unbounded::<Option<Hold>>();
        let verdict = Arc::new(AtomicU8::new(0));
        let v = Arc::clone(&verdict);
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
                            if lease != Lease::Held && v.load(Ordering::SeqCst) == 0 {
                                note(h, lease);
                            }
                            v.store(lease as u8, Ordering::SeqCst);
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
            thread: Some(thread),
        })
    }

    /// Start renewing the lease of a job just claimed.
    pub fn hold(&self, id: i64, token: &str, cancel: Arc<AtomicBool>) {
        self.verdict.store(0, Ordering::SeqCst);
        if let Some(tx) = &self.tx {
            let _ = tx.send(Some(Hold {
                id,
                token: token.to_string(),
                cancel,
            }));
        }
    }

    /// Stop renewing (the job ended); returns the last verdict.
    pub fn release(&self) -> Lease {
        if let Some(tx) = &self.tx {
            let _ = tx.send(None);
        }
        match self.verdict.load(Ordering::SeqCst) {
            1 => Lease::Lost,
            2 => Lease::Cancelled,
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
