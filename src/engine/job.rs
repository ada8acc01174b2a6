//! A job: one input, one op, one output, and the state threads share about it.
//!
//! The engine is long-lived (the daemon pushes many files through the same
//! workers and writer), so every unit of work carries an `Arc<JobCtx>`
//! rather than the engine being rebuilt per file. `JobCtx` holds only plain
//! data and atomics: never a GDAL handle.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::input::InputMeta;
use crate::ops::{NodataPolicy, Op};
use crate::sink::spec::OutputSpec;
use crate::window::Window;

/// Shared state of one running job.
pub struct JobCtx {
    pub id: u64,
    pub input: InputMeta,
    pub op: Arc<dyn Op>,
    pub policy: NodataPolicy,
    pub output: Arc<OutputSpec>,
    pub windows: Vec<Window>,
    /// Shared decoded input blocks, for ops with a halo on tiled inputs.
    pub blocks: Option<crate::input::block_cache::BlockCache>,
    /// Overviews built as windows finish (assembled COG only).
    pub pyramid: Option<crate::sink::pyramid::Pyramid>,
    pub drivers: Vec<String>,
    /// Raised by the owner (Ctrl-C, daemon rollback) or by any failure.
    pub cancel: Arc<AtomicBool>,
    failed: AtomicBool,
    pub done_windows: AtomicUsize,
    pub done_pixels: AtomicU64,
    outcome: Sender<Outcome>,
}

/// How a job ended, sent exactly once by the writer.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Summary, JobError>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub input: PathBuf,
    pub output: PathBuf,
    pub windows: usize,
    pub pixels: u64,
}

/// A job failure: what went wrong, and where.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Failed(crate::error::Error),
    #[error("cancelled")]
    Cancelled,
}

impl JobCtx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u64,
        input: InputMeta,
        op: Arc<dyn Op>,
        policy: NodataPolicy,
        output: OutputSpec,
        windows: Vec<Window>,
        drivers: Vec<String>,
        cancel: Arc<AtomicBool>,
        outcome: Sender<Outcome>,
    ) -> JobCtx {
        JobCtx {
            id,
            input,
            op,
            policy,
            output: Arc::new(output),
            blocks: None,
            pyramid: None,
            windows,
            drivers,
            cancel,
            failed: AtomicBool::new(false),
            done_windows: AtomicUsize::new(0),
            done_pixels: AtomicU64::new(0),
            outcome,
        }
    }

    /// True once the job should do no more work.
    /// Bytes per pixel of the input bands the op reads (uncompressed).
    pub fn sample_bytes(&self) -> u64 {
        self.op
            .bands()
            .iter()
            .map(|&b| crate::gdal::ffi::type_size(self.input.bands[b - 1].gdal_type) as u64)
            .sum()
    }

    pub fn stopped(&self) -> bool {
        self.failed.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed)
    }

    /// Mark the job failed so workers and the producer skip its remaining windows.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Report the end of the job. Only the writer calls this, once.
    pub fn finish(&self, result: Result<Summary, JobError>, warnings: Vec<String>) {
        if result.is_err() {
            self.fail();
        }
        let _ = self.outcome.send(Outcome { result, warnings });
    }
}
