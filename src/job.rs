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
use crate::ops::{NodataPolicy, Op, OutType};
use crate::window::Window;

/// Output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    GTiff,
    Cog,
}

/// Everything the writer needs to create the output, decided up front.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub path: PathBuf,
    pub format: Format,
    pub out_type: OutType,
    pub nodata: f64,
    /// Final creation options, defaults merged with the user's.
    pub creation_options: Vec<(String, String)>,
    /// Output tile size, from BLOCKXSIZE/BLOCKYSIZE.
    pub tile: (usize, usize),
    /// Processing history written into the output's metadata.
    pub history: Vec<(String, String)>,
    /// Overview factors to build (empty: none) and their resampling.
    pub overviews: Vec<usize>,
    pub resampling: crate::overviews::Resampling,
    /// Set when workers compress whole blocks themselves (see `encode`).
    pub layout: Option<crate::encode::Layout>,
    /// COG assembled from the workers' blocks (see `cog::Assembly`) rather
    /// than copied by GDAL from a finished GTiff.
    pub assemble: bool,
}

/// Shared state of one running job.
pub struct JobCtx {
    pub id: u64,
    pub input: InputMeta,
    pub op: Arc<dyn Op>,
    pub policy: NodataPolicy,
    pub output: OutputSpec,
    pub windows: Vec<Window>,
    /// Shared decoded input blocks, for ops with a halo on tiled inputs.
    pub blocks: Option<crate::blocks::BlockCache>,
    /// Overviews built as windows finish (assembled COG only).
    pub pyramid: Option<crate::pyramid::Pyramid>,
    pub drivers: Vec<String>,
    /// Raised by the owner (Ctrl-C, daemon rollback) or by any failure.
    pub cancel: Arc<AtomicBool>,
    failed: AtomicBool,
    pub done_windows: AtomicUsize,
    pub done_pixels: AtomicU64,
    /// Values the conversion to the output type saturated or moved off nodata.
    pub conversion: crate::convert::Tally,
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
    pub conversion: crate::convert::Counts,
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
    Failed(String),
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
            output,
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
