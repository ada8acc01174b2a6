//! The engine: N workers and one writer joined by bounded channels.
//!
//! ```text
//!  producer ──Task──▶ [bounded 2N] ──▶ worker 1..N ──Msg──▶ [bounded 2N] ──▶ writer
//!  (feed)                               own dataset each                     owns outputs
//! ```
//! Both queues are bounded: memory is capped at about 4N windows in flight
//! whatever the raster size, and a slow writer pushes back on the producer.
//! The writer drains while the producer is still feeding, so the pipeline
//! cannot deadlock. End of work is the task channel closing, never "the
//! queue looks empty". Threads are long-lived so the daemon can overlap
//! files; the one-shot CLI starts an engine, feeds one job and shuts it down.

pub mod assemble;
pub mod job;
pub mod shutdown;
pub mod worker;
pub mod writer;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, SendTimeoutError, Sender};

use crate::engine::job::JobCtx;
use crate::engine::worker::{Msg, Task};

pub struct Engine {
    tasks: Option<Sender<Task>>,
    results: Option<Sender<Msg>>,
    threads: Vec<JoinHandle<()>>,
    broken: Arc<AtomicBool>,
    workers: usize,
}

/// Raises `broken` if a pipeline thread unwinds past its own catch_unwind
/// (ripgrep's pattern), so producers stop instead of blocking forever.
struct PanicGuard(Arc<AtomicBool>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

impl Engine {
    /// Start `workers` workers (0 = one per core) and the writer.
    pub fn start(workers: usize) -> std::io::Result<Engine> {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            workers
        };
        let (task_tx, task_rx) = bounded::<Task>(2 * workers);
        let (res_tx, res_rx) = bounded::<Msg>(2 * workers);
        let broken = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(workers + 1);
        let guard = Arc::clone(&broken);
        threads.push(
            std::thread::Builder::new()
                .name("tilerun-writer".into())
                .spawn(move || {
                    let _g = PanicGuard(guard);
                    crate::engine::writer::run(res_rx)
                })?,
        );
        for i in 0..workers {
            let (rx, tx, guard) = (task_rx.clone(), res_tx.clone(), Arc::clone(&broken));
            threads.push(
                std::thread::Builder::new()
                    .name(format!("tilerun-worker-{i}"))
                    .spawn(move || {
                        let _g = PanicGuard(guard);
                        crate::engine::worker::run(rx, tx)
                    })?,
            );
        }
        Ok(Engine {
            tasks: Some(task_tx),
            results: Some(res_tx),
            threads,
            broken,
            workers,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Push every window of `job`, blocking while the queue is full. Returns
    /// early (and tells the writer to drop the output) if the job stops.
    pub fn feed(&self, job: &Arc<JobCtx>) {
        let (Some(tasks), Some(results)) = (&self.tasks, &self.results) else {
            return;
        };
        if results.send(Msg::Begin(Arc::clone(job))).is_err() {
            return;
        }
        for index in 0..job.windows.len() {
            let mut task = Task {
                job: Arc::clone(job),
                index,
            };
            loop {
                if job.stopped() || self.broken.load(Ordering::SeqCst) {
                    let _ = results.send(Msg::Abort(Arc::clone(job)));
                    return;
                }
                match tasks.send_timeout(task, Duration::from_millis(100)) {
                    Ok(()) => break,
                    Err(SendTimeoutError::Timeout(t)) => task = t,
                    Err(SendTimeoutError::Disconnected(_)) => return,
                }
            }
        }
    }

    /// Feed `job` and wait for its outcome, calling `tick` every 100 ms
    /// meanwhile (progress, cancellation). None if the pipeline died.
    pub fn run(
        &self,
        job: &Arc<JobCtx>,
        outcome: &crossbeam_channel::Receiver<crate::engine::job::Outcome>,
        mut tick: impl FnMut(),
    ) -> Option<crate::engine::job::Outcome> {
        use crossbeam_channel::RecvTimeoutError;
        std::thread::scope(|s| {
            let feeder = s.spawn(|| self.feed(job));
            let outcome = loop {
                match outcome.recv_timeout(Duration::from_millis(100)) {
                    Ok(o) => break Some(o),
                    Err(RecvTimeoutError::Timeout) => {
                        tick();
                        if self.is_broken() {
                            job.fail();
                            break None;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break None,
                }
            };
            let _ = feeder.join();
            outcome
        })
    }

    /// True if a pipeline thread died outside its panic handling.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    /// Close the task channel and wait for workers and writer to finish.
    pub fn shutdown(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.tasks.take();
        self.results.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}
