//! The writer: the one thread that owns output datasets.
//!
//! Results arrive in any order while workers are still producing, and the
//! writer drains them continuously, so the bounded result channel can never
//! deadlock the pipeline. Outputs are written tile-whole: a window aligned
//! with the output tile grid is written straight through; others are
//! assembled into complete tiles first ([`crate::tiles`]), because rewriting
//! a compressed tile appends a second copy to the file. Several outputs may
//! be open at once (the daemon overlaps files). A job ends in exactly one
//! [`crate::job::Outcome`]: the committed file, or nothing at the final path.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use anyhow::Context;
use crossbeam_channel::Receiver;
use gdal::Dataset;

use crate::cog::Assembly;
use crate::gdalenv;
use crate::job::{JobCtx, JobError, Summary};
use crate::output::TempFile;
use crate::rawtiff::RawTiff;
use crate::tiles::Assembler;
use crate::window::Window;
use crate::worker::{panic_text, Msg, Payload};

struct Open {
    job: Arc<JobCtx>,
    ds: Option<Dataset>,
    /// Set instead of `ds` when workers send pre-compressed blocks.
    raw: Option<RawTiff>,
    /// Set instead of both for an assembled COG.
    cog: Option<Assembly>,
    temp: Option<TempFile>,
    written: usize,
    tiles: Assembler,
    warnings: Vec<String>,
}

/// Run until every sender is gone; then abort whatever is still open.
pub fn run(results: Receiver<Msg>) {
    let mut open: HashMap<u64, Open> = HashMap::new();
    for msg in results {
        let id = match &msg {
            Msg::Begin(j) | Msg::Abort(j) => j.id,
            Msg::Window { job, .. } | Msg::Failed { job, .. } => job.id,
        };
        let res = catch_unwind(AssertUnwindSafe(|| handle(&mut open, msg)));
        if let Err(p) = res {
            if let Some(o) = open.remove(&id) {
                let err = format!("writer panicked: {}", panic_text(&p));
                abort(o, JobError::Failed(err));
            }
        }
    }
    for (_, o) in open.drain() {
        abort(o, JobError::Cancelled);
    }
}

fn handle(open: &mut HashMap<u64, Open>, msg: Msg) {
    match msg {
        Msg::Begin(job) => match begin(Arc::clone(&job)) {
            Ok(o) => {
                if job.windows.is_empty() {
                    finish(o);
                } else {
                    open.insert(job.id, o);
                }
            }
            Err(e) => job.finish(Err(JobError::Failed(format!("{e:#}"))), vec![]),
        },
        Msg::Window {
            job,
            window,
            data,
            warnings,
        } => {
            let Some(mut o) = open.remove(&job.id) else {
                return;
            };
            if job.stopped() {
                return abort(o, JobError::Cancelled);
            }
            for w in warnings {
                // Every worker opens the input, and may hear the same warning.
                if !o.warnings.contains(&w) {
                    o.warnings.push(w);
                }
            }
            match write(&mut o, window, data) {
                Ok(()) if o.written == job.windows.len() => finish(o),
                Ok(()) => {
                    open.insert(job.id, o);
                }
                Err(e) => abort(o, JobError::Failed(format!("writing output: {e:#}"))),
            }
        }
        Msg::Failed { job, error } => {
            if let Some(o) = open.remove(&job.id) {
                abort(o, JobError::Failed(error));
            }
        }
        Msg::Abort(job) => {
            if let Some(o) = open.remove(&job.id) {
                abort(o, JobError::Cancelled);
            }
        }
    }
}

fn begin(job: Arc<JobCtx>) -> anyhow::Result<Open> {
    gdalenv::clear_messages();
    let (mut ds, mut raw, mut cog, mut temp) = (None, None, None, None);
    if job.output.assemble {
        cog = Some(Assembly::begin(Arc::clone(&job))?);
    } else {
        let t = TempFile::beside(&job.output.path, ".tif");
        let created = crate::create::create(&job, t.path())?;
        if job.output.layout.is_some() {
            crate::create::close(created)?;
            raw = Some(RawTiff::open(t.path())?);
        } else {
            ds = Some(created);
        }
        temp = Some(t);
    }
    let (tw, th) = job.output.tile;
    let warnings = job.input.warnings.clone();
    Ok(Open {
        tiles: Assembler::new(
            (tw, th),
            (job.input.width, job.input.height),
            job.op.out_bands(),
            job.output.out_type.size(),
        ),
        job,
        ds,
        raw,
        cog,
        temp,
        written: 0,
        warnings,
    })
}

fn write(o: &mut Open, win: Window, data: Payload) -> anyhow::Result<()> {
    match data {
        Payload::Raw(data) => {
            let ds = o.ds.as_ref().context("output already closed")?;
            for (rect, buf) in o.tiles.accept(win, &data) {
                crate::rasterio::write_bands(
                    ds,
                    rect,
                    o.job.op.out_bands(),
                    o.job.output.out_type,
                    &buf,
                )?;
            }
        }
        Payload::Blocks(blocks) => {
            if let Some(cog) = o.cog.as_mut() {
                for (level, index, bytes) in blocks {
                    cog.write(level, index, bytes)?;
                }
            } else {
                let raw = o.raw.as_mut().context("output not opened for blocks")?;
                for (level, index, bytes) in blocks {
                    anyhow::ensure!(level == 0, "internal: overview block for a GTiff");
                    raw.write(index, &bytes)?;
                }
            }
            if let Some(msg) = gdalenv::first_failure() {
                anyhow::bail!("{}", msg.trim());
            }
        }
    }
    o.written += 1;
    o.job
        .done_windows
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    o.job
        .done_pixels
        .fetch_add(win.pixels() as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

fn finish(mut o: Open) {
    let res = (|| -> anyhow::Result<()> {
        anyhow::ensure!(
            o.tiles.is_empty(),
            "internal: incomplete output tiles at the end"
        );
        if let Some(cog) = o.cog.take() {
            let fin = &o.job.output.path;
            let started = std::time::Instant::now();
            let done = cog.finish()?;
            tracing::debug!(
                "{}: COG assembled in {:.2} s",
                fin.display(),
                started.elapsed().as_secs_f64()
            );
            return done
                .commit(fin)
                .with_context(|| format!("committing {}", fin.display()));
        }
        if let Some(raw) = o.raw.take() {
            raw.close();
            if let Some(msg) = gdalenv::first_failure() {
                anyhow::bail!("{}", msg.trim());
            }
        } else {
            crate::create::close(o.ds.take().context("output already closed")?)?;
        }
        let temp = o.temp.take().context("output already committed")?;
        crate::create::finalize(&o.job, temp)
    })();
    // What GDAL said on this thread while closing and finalizing.
    for m in gdalenv::take_messages() {
        if !m.failure && !o.warnings.contains(&m.text) {
            o.warnings.push(m.text);
        }
    }
    let conversion = o.job.conversion.get();
    let warnings = std::mem::take(&mut o.warnings);
    let job = Arc::clone(&o.job);
    drop(o);
    match res {
        Ok(()) => job.finish(
            Ok(Summary {
                input: job.input.path.clone(),
                output: job.output.path.clone(),
                windows: job.windows.len(),
                pixels: (job.input.width * job.input.height) as u64,
                conversion,
            }),
            warnings,
        ),
        Err(e) => job.finish(
            Err(JobError::Failed(format!("finishing output: {e:#}"))),
            warnings,
        ),
    }
}

fn abort(mut o: Open, err: JobError) {
    o.job.fail();
    drop(o.ds.take());
    drop(o.raw.take());
    drop(o.cog.take());
    gdalenv::clear_messages();
    let warnings = std::mem::take(&mut o.warnings);
    let job = Arc::clone(&o.job);
    drop(o); // removes the temp file
    job.finish(Err(err), warnings);
}
