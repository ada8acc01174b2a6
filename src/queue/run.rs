//! One claimed job on the worker's engine: resolve it with the worker's
//! config, write its output under the staged name, and report the result
//! as an [`Error`] whose kind decides what the queue does next.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::engine::job::JobError;
use crate::engine::Engine;
use crate::error::{job, Error};

use super::jobs::Claimed;

/// A finished run, its output still under the staged name.
pub struct Staged {
    /// Where the commit puts it.
    pub output: PathBuf,
    pub staged: PathBuf,
    pub pixels: u64,
    /// Uncompressed bytes the op read.
    pub bytes: u64,
}

/// The output the job will end at, and the prepared spec writing to the
/// staged name instead.
pub fn run(
    engine: &Engine,
    cfg: &Config,
    j: &Claimed,
    cancel: &Arc<AtomicBool>,
    stop: &AtomicBool,
) -> Result<Staged, Error> {
    let request = crate::plan::Request::recipe(PathBuf::from(&j.input), &j.recipe);
    let mut spec = crate::plan::recipe::resolve(&request, cfg)?;
    let output = spec.output.clone();
    let staged = super::stage::staged_path(&output, j.id, &j.token);
    spec.output = staged.clone();
    let prepared = crate::plan::prepare::prepare(&spec, j.id as u64, Arc::clone(cancel))?;
    for w in &prepared.warnings {
        tracing::warn!(job = j.id, "{}: {w}", j.input);
    }
    let ctx = prepared.ctx;
    let outcome = std::thread::scope(|s| {
        let feeder = s.spawn(|| engine.feed(&ctx));
        let outcome = loop {
            match prepared.outcome.recv_timeout(Duration::from_millis(100)) {
                Ok(o) => break Some(o),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if stop.load(Ordering::SeqCst) {
                        cancel.store(true, Ordering::SeqCst);
                    }
                    if engine.is_broken() {
                        ctx.fail();
                        break None;
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break None,
            }
        };
        let _ = feeder.join();
        outcome
    });
    let Some(outcome) = outcome else {
        return Err(job("internal error: the pipeline stopped"));
    };
    for w in &outcome.warnings {
        tracing::warn!(job = j.id, "{}: GDAL: {w}", j.input);
    }
    match outcome.result {
        Ok(summary) => Ok(Staged {
            output,
            staged,
            pixels: summary.pixels,
            bytes: summary.pixels * ctx.sample_bytes(),
        }),
        Err(JobError::Cancelled) => Err(Error::interrupted()),
        Err(JobError::Failed(e)) => Err(e.context(&j.input)),
    }
}

/// The output path as stored in the job row.
pub fn shown(p: &Path) -> String {
    crate::error::show(p)
}
