//! Workers: read a window from their own dataset handles, run the op, convert.
//!
//! GDAL datasets are `Send` but not `Sync`, so each worker opens its own
//! handle on each input of a job (so JPEG 2000 decoding, the costly part of
//! a Sentinel-2 set, spreads over the workers), at most once per job, kept
//! in a tiny cache because the
//! daemon interleaves the tail of one file with the head of the next) and no
//! handle ever leaves the thread that opened it. Any error or panic becomes a
//! [`Msg::Failed`] naming the window and the path: the job fails, the worker
//! carries on with the next job.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender};
use gdal::Dataset;
use ndarray::ArrayView2;

use crate::engine::job::JobCtx;
use crate::ops::{Block, Core};
use crate::window::Window;

/// A unit of work: one window of one job.
pub struct Task {
    pub job: Arc<JobCtx>,
    pub index: usize,
}

/// What workers (and the producer) tell the writer.
pub enum Msg {
    /// Create the output for a job; sent before any of its windows.
    Begin(Arc<JobCtx>),
    /// A finished window, already converted to the output type.
    Window {
        job: Arc<JobCtx>,
        window: Window,
        data: Payload,
        warnings: Vec<String>,
    },
    Failed {
        job: Arc<JobCtx>,
        error: crate::error::Error,
    },
    /// The producer stopped early (cancelled): drop the job's output.
    Abort(Arc<JobCtx>),
}

/// A window's pixels: raw band-sequential samples for the writer to hand to
/// GDAL, or blocks the worker already compressed (see `encode`), as
/// (level, block index, bytes); level 0 is full resolution, higher levels
/// are overview blocks this window completed (see `pyramid`).
pub enum Payload {
    Raw(Vec<u8>),
    Blocks(Vec<(usize, u32, Vec<u8>)>),
}

/// Open handles (one per input), most recent job first; two jobs are
/// enough for one file's tail to overlap the next file's head.
struct Handles(Vec<(u64, Vec<Dataset>)>);

impl Handles {
    fn get(&mut self, job: &JobCtx) -> anyhow::Result<&[Dataset]> {
        if let Some(i) = self.0.iter().position(|(id, _)| *id == job.id) {
            let h = self.0.remove(i);
            self.0.insert(0, h);
        } else {
            let ds = job
                .inputs
                .iter()
                .map(|r| {
                    r.open(&job.drivers)
                        .with_context(|| r.source.location.shown())
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            self.0.insert(0, (job.id, ds));
            self.0.truncate(2);
        }
        Ok(&self.0[0].1)
    }
}

/// Run until the task channel closes.
pub fn run(tasks: Receiver<Task>, results: Sender<Msg>) {
    let mut handles = Handles(Vec::new());
    for task in tasks {
        let job = Arc::clone(&task.job);
        if job.stopped() {
            continue;
        }
        let window = job.windows[task.index];
        crate::gdal::env::clear_messages();
        let res = catch_unwind(AssertUnwindSafe(|| process(&mut handles, &job, window)));
        let warnings: Vec<String> = crate::gdal::env::take_messages()
            .into_iter()
            .map(|m| m.text)
            .collect();
        let msg = match res {
            Ok(Ok(data)) => Msg::Window {
                job,
                window,
                data,
                warnings,
            },
            Ok(Err(e)) => Msg::Failed {
                error: crate::error::Error::from_chain(&e)
                    .context(format!("window {}", describe(&window))),
                job,
            },
            Err(panic) => Msg::Failed {
                error: crate::error::job(format!(
                    "window {}: worker panicked: {}",
                    describe(&window),
                    crate::error::panic_text(&panic)
                )),
                job,
            },
        };
        if results.send(msg).is_err() {
            return;
        }
    }
}

pub fn describe(w: &Window) -> String {
    format!("x={} y={} {}×{}", w.x, w.y, w.w, w.h)
}

fn process(handles: &mut Handles, job: &JobCtx, window: Window) -> anyhow::Result<Payload> {
    let ds = handles.get(job)?;
    let op = &job.op;
    let meta = job.grid_meta();
    let (grown, core_row, core_col) = window.grow(op.halo(), meta.width, meta.height);
    let buf = match &job.blocks {
        Some(cache) => cache.read(grown, |rect| decode(ds, job, rect))?,
        None => decode(ds, job, grown)?,
    };
    let plane = grown.pixels();
    let views: Vec<ArrayView2<f64>> = buf
        .chunks_exact(plane)
        .map(|c| ArrayView2::from_shape((grown.h, grown.w), c).expect("plane shape"))
        .collect();
    let block = Block {
        bands: views,
        core: Core {
            row: core_row,
            col: core_col,
            rows: window.h,
            cols: window.w,
        },
    };
    let out = op.compute(&block);
    anyhow::ensure!(
        out.len() == op.out_bands() && out.iter().all(|a| a.dim() == (window.h, window.w)),
        "op {} returned arrays of the wrong shape",
        op.name()
    );
    let mut counts = crate::sink::convert::Counts::default();
    let raw = crate::sink::convert::pack(&out, job.output.out_type, job.output.nodata, &mut counts);
    job.conversion.add(counts);
    let Some(l) = &job.output.layout else {
        return Ok(Payload::Raw(raw));
    };
    let mut blocks: Vec<_> = crate::sink::encode::encode(l, window, &raw)
        .context("compressing output blocks")?
        .into_iter()
        .map(|(i, b)| (0, i, b))
        .collect();
    if let Some(p) = &job.pyramid {
        let (strips, last) = p.add(window, &raw)?;
        // Encoded outside the lock, in parallel with other workers; the
        // last window completes a strip of every level at once, and nothing
        // else is left to run beside it, so that tail is spread over cores.
        blocks.extend(crate::sink::encode::encode_strips(l, strips, last)?);
    }
    Ok(Payload::Blocks(blocks))
}

/// Read the op's slots over `rect` (output grid), input by input, nodata
/// (and masked pixels) as NaN, each input on the output grid and unscaled.
fn decode(ds: &[Dataset], job: &JobCtx, rect: Window) -> anyhow::Result<Vec<f64>> {
    let slots = job.op.slots();
    let mut buf = Vec::with_capacity(rect.pixels() * slots.len());
    for group in slots.chunk_by(|a, b| a.input == b.input) {
        let i = group[0].input;
        let bands: Vec<usize> = group.iter().map(|s| s.band).collect();
        let r = &job.inputs[i];
        let read = r.read_into(&ds[i], rect, &bands, job.policy, &mut buf);
        if job.inputs.len() == 1 {
            read?;
        } else {
            read.with_context(|| r.source.location.shown())?;
        }
    }
    Ok(buf)
}
