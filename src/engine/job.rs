//! A job: its inputs (one file, or the named files of a delivery), one op,
//! one output, and the state threads share about it.
//!
//! The engine is long-lived (the daemon pushes many files through the same
//! workers and writer), so every unit of work carries an `Arc<JobCtx>`
//! rather than the engine being rebuilt per file. `JobCtx` holds only plain
//! data and atomics: never a GDAL handle.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::input::reader::Reader;
use crate::input::InputMeta;
use crate::ops::{NodataPolicy, Op};
use crate::sink::spec::OutputSpec;
use crate::window::Window;

/// Shared state of one running job.
pub struct JobCtx {
    pub id: u64,
    /// The job's input as summaries name it (file, folder or archive).
    pub label: PathBuf,
    /// Every input, in the order of the op's slots' `input` index.
    pub inputs: Vec<Reader>,
    /// Which input's grid the output takes.
    pub grid: usize,
    pub op: Arc<dyn Op>,
    pub policy: NodataPolicy,
    pub output: Arc<OutputSpec>,
    pub windows: Vec<Window>,
    /// Shared decoded input blocks, for ops with a halo on tiled inputs.
    pub blocks: Option<crate::input::block_cache::BlockCache>,
    /// Overviews built as windows finish (assembled COG only).
    pub pyramid: Option<crate::sink::pyramid::Pyramid>,
    pub drivers: Vec<String>,
    /// Keeps a `.tar.gz`'s inflated members until the job is dropped.
    pub spool: Option<Arc<crate::input::archive::Spool>>,
    /// Raised by the owner (Ctrl-C, daemon rollback) or by any failure.
    pub cancel: Arc<AtomicBool>,
    failed: AtomicBool,
    pub done_windows: AtomicUsize,
    pub done_pixels: AtomicU64,
    /// Values the conversion to the output type saturated or moved off nodata.
    pub conversion: crate::sink::convert::Tally,
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
    pub conversion: crate::sink::convert::Counts,
    /// The commit replaced a file already at the output path.
    pub replaced: bool,
}

impl Summary {
    /// The job's own warnings (not GDAL's): what the conversion changed.
    pub fn warnings(&self, out: &OutputSpec) -> Vec<String> {
        self.conversion
            .warning(out.out_type, out.nodata)
            .into_iter()
            .collect()
    }
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
        label: PathBuf,
        inputs: Vec<Reader>,
        grid: usize,
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
            label,
            inputs,
            grid,
            spool: None,
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
            conversion: Default::default(),
            outcome,
        }
    }

    /// The input whose grid the output takes.
    pub fn grid_meta(&self) -> &InputMeta {
        &self.inputs[self.grid].meta
    }

    /// Uncompressed input bytes the op reads per output pixel: its bands at
    /// their own sample size (a coarser input has fewer pixels per output
    /// pixel).
    pub fn sample_bytes(&self) -> f64 {
        self.op
            .slots()
            .iter()
            .map(|s| {
                let r = &self.inputs[s.input];
                let t = r.meta.bands[s.band - 1].gdal_type;
                let k = if r.ratio.coarser {
                    r.ratio.k * r.ratio.k
                } else {
                    1
                };
                crate::gdal::ffi::type_size(t) as f64 / k as f64
            })
            .sum()
    }

    /// True once the job should do no more work.
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
