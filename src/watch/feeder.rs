//! The feeder thread: prepares claimed files one after another and pushes
//! their windows into the long-lived engine.
//!
//! `Engine::feed` blocks while the bounded queue is full, which is how the
//! engine pushes back; that blocking happens here, never in the main loop
//! or the watcher. The next file's windows are fed as soon as the previous
//! file's are queued, so its tail is still being written while the next
//! file's head is computed: no drain barrier between files.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::config::Config;
use crate::engine::job::{JobCtx, Outcome};
use crate::engine::Engine;

/// A claimed file, handed to the feeder.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: u64,
    /// The file, or a delivery's set key.
    pub name: OsString,
    /// Names in work/ the job reads: the file, or every file of a set.
    pub members: Vec<OsString>,
    pub recipe: String,
    /// 1-based; counts transient retries and interrupted runs.
    pub attempt: u32,
    pub cancel: Arc<AtomicBool>,
}

/// What the feeder reports back for each item, in order.
pub enum Fed {
    Started {
        id: u64,
        ctx: Arc<JobCtx>,
        outcome: Receiver<Outcome>,
        warnings: Vec<String>,
        at: Instant,
    },
    /// Refused before any output existed (unreadable, corrupt header, a
    /// recipe that does not fit); its kind decides whether it is retried.
    Refused {
        id: u64,
        error: crate::error::Error,
        at: Instant,
    },
    /// Not started because the daemon is stopping; the file stays in work/.
    Skipped { id: u64 },
}

pub struct Feeder {
    pub items: Sender<Item>,
    pub fed: Receiver<Fed>,
    pub thread: JoinHandle<()>,
}

/// Test hook: `TILERUN_FAILPOINT=after-claim` parks the feeder before it
/// starts a job, so tests can kill the daemon at that exact point.
pub fn failpoint(name: &str) -> bool {
    std::env::var("TILERUN_FAILPOINT").is_ok_and(|v| v == name)
}

pub fn spawn(
    engine: Arc<Engine>,
    cfg: Arc<Config>,
    work: PathBuf,
    stopping: Arc<AtomicBool>,
) -> std::io::Result<Feeder> {
    let (items, rx) = crossbeam_channel::unbounded::<Item>();
    let (tx, fed) = crossbeam_channel::unbounded::<Fed>();
    let thread = std::thread::Builder::new()
        .name("tilerun-feeder".into())
        .spawn(move || {
            for item in rx {
                if !run_one(&engine, &cfg, &work, &stopping, &item, &tx) {
                    return;
                }
            }
        })?;
    Ok(Feeder { items, fed, thread })
}

/// Prepare and feed one item; false once the main loop is gone.
fn run_one(
    engine: &Engine,
    cfg: &Config,
    work: &std::path::Path,
    stopping: &AtomicBool,
    item: &Item,
    tx: &Sender<Fed>,
) -> bool {
    let halted = || stopping.load(Ordering::SeqCst) || item.cancel.load(Ordering::SeqCst);
    if failpoint("after-claim") {
        tracing::warn!(input = %super::scan::esc(&item.name), "failpoint after-claim reached");
        while !halted() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if halted() {
        return tx.send(Fed::Skipped { id: item.id }).is_ok();
    }
    let at = Instant::now();
    // A strike is a started run that has not ended; the main loop clears it.
    let strikes = super::claim::strikes(work, &item.name);
    super::claim::set_strikes(work, &item.name, strikes + 1);
    let files = item.members.iter().map(|m| work.join(m)).collect();
    let request = crate::plan::Request::recipe(files, &item.recipe);
    let prepared = crate::plan::recipe::resolve(&request, cfg)
        .and_then(|spec| crate::plan::prepare::prepare(&spec, item.id, Arc::clone(&item.cancel)));
    match prepared {
        Err(e) => tx
            .send(Fed::Refused {
                id: item.id,
                error: e,
                at,
            })
            .is_ok(),
        Ok(p) => {
            let ctx = Arc::clone(&p.ctx);
            // Report before feeding: feeding blocks for as long as the job
            // keeps the queue full, and the main loop watches its progress.
            let started = Fed::Started {
                id: item.id,
                ctx: p.ctx,
                outcome: p.outcome,
                warnings: p.warnings,
                at,
            };
            if tx.send(started).is_err() {
                ctx.cancel.store(true, Ordering::SeqCst);
                return false;
            }
            engine.feed(&ctx);
            true
        }
    }
}
