//! The writer: the one thread that owns output datasets.
//!
//! Results arrive in any order while workers are still producing, and the
//! writer drains them continuously, so the bounded result channel can never
//! deadlock the pipeline. Outputs are written tile-whole: a window aligned
//! with the output tile grid is written straight through; others are
//! assembled into complete tiles first ([`crate::engine::assemble`]), because rewriting
//! a compressed tile appends a second copy to the file. Several outputs may
//! be open at once (the daemon overlaps files). A job ends in exactly one
//! [`crate::engine::job::Outcome`]: the committed file, or nothing at the final path.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use anyhow::Context;
use crossbeam_channel::Receiver;
use gdal::Dataset;

use crate::engine::assemble::Assembler;
use crate::engine::job::{JobCtx, JobError, Summary};
use crate::engine::worker::{Msg, Payload};
use crate::error::panic_text;
use crate::error::Error;
use crate::gdal::libtiff::Tiff;
use crate::sink::cog::Assembly;
use crate::sink::temp_file::TempFile;
use crate::window::Window;

struct Open {
    job: Arc<JobCtx>,
    ds: Option<Dataset>,
    /// Set instead of `ds` when workers send pre-compressed blocks.
    raw: Option<Tiff>,
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
                let err = crate::error::job(format!("writer panicked: {}", panic_text(&p)));
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
            Err(e) => {
                let err = output_error(&job, "creating", &e);
                job.finish(Err(JobError::Failed(err)), vec![])
            }
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
                Err(e) => {
                    let err = output_error(&o.job, "writing", &e);
                    abort(o, JobError::Failed(err))
                }
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
    crate::gdal::env::clear_messages();
    let (mut ds, mut raw, mut cog, mut temp) = (None, None, None, None);
    if job.output.assemble {
        cog = Some(Assembly::begin(Arc::clone(&job.output))?);
    } else {
        let t = TempFile::beside(&job.output.path, ".tif");
        let created = crate::sink::create::create(&job.output, t.path())?;
        if job.output.layout.is_some() {
            crate::sink::create::close(created)?;
            raw = Some(Tiff::open(t.path(), c"r+")?);
        } else {
            ds = Some(created);
        }
        temp = Some(t);
    }
    let (tw, th) = job.output.tile;
    let mut warnings: Vec<String> = Vec::new();
    for w in job.inputs.iter().flat_map(|r| &r.meta.warnings) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    Ok(Open {
        tiles: Assembler::new(
            (tw, th),
            (job.grid_meta().width, job.grid_meta().height),
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
                crate::gdal::rasterio::write_bands(
                    ds,
                    rect,
                    o.job.op.out_bands(),
                    o.job.output.out_type.gdal(),
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
                    raw.write_raw(index, &bytes)?;
                }
            }
            if let Some(msg) = crate::gdal::env::first_failure() {
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
    // Ok(true): the commit replaced a file at the output path.
    let res = (|| -> anyhow::Result<bool> {
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
                .commit(fin, o.job.output.overwrite)
                .with_context(|| format!("committing {}", fin.display()));
        }
        if let Some(raw) = o.raw.take() {
            drop(raw);
            if let Some(msg) = crate::gdal::env::first_failure() {
                anyhow::bail!("{}", msg.trim());
            }
        } else {
            crate::sink::create::close(o.ds.take().context("output already closed")?)?;
        }
        let temp = o.temp.take().context("output already committed")?;
        crate::sink::create::finalize(&o.job.output, temp)
    })();
    // What GDAL said on this thread while closing and finalizing.
    for m in crate::gdal::env::take_messages() {
        if !m.failure && !o.warnings.contains(&m.text) {
            o.warnings.push(m.text);
        }
    }
    let conversion = o.job.conversion.get();
    let warnings = std::mem::take(&mut o.warnings);
    let job = Arc::clone(&o.job);
    drop(o);
    match res {
        Ok(replaced) => job.finish(
            Ok(Summary {
                replaced,
                input: job.label.clone(),
                output: job.output.path.clone(),
                windows: job.windows.len(),
                pixels: (job.grid_meta().width * job.grid_meta().height) as u64,
                conversion,
            }),
            warnings,
        ),
        Err(e) => {
            let err = output_error(&job, "finishing", &e);
            job.finish(Err(JobError::Failed(err)), warnings)
        }
    }
}

fn abort(mut o: Open, err: JobError) {
    o.job.fail();
    drop(o.ds.take());
    drop(o.raw.take());
    drop(o.cog.take());
    crate::gdal::env::clear_messages();
    let warnings = std::mem::take(&mut o.warnings);
    let job = Arc::clone(&o.job);
    drop(o); // removes the temp file
    job.finish(Err(err), warnings);
}

/// An output-side failure, naming the output and keeping the OS error. Its
/// kind comes from the OS error in the chain; GDAL's own write path loses
/// the errno, so a filesystem that is full at this moment also makes it
/// transient (and says so), as it would clear once space is freed.
fn output_error(job: &JobCtx, doing: &str, e: &anyhow::Error) -> Error {
    let path = &job.output.path;
    let mut err =
        Error::from_chain(e).context(format!("{doing} output {}", crate::error::show(path)));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if err.kind != crate::error::Kind::Transient
        && crate::sink::temp_file::disk_full(dir.unwrap_or(std::path::Path::new(".")))
    {
        err = crate::error::transient(format!(
            "{}: No space left on device (os error {})",
            err.msg,
            libc::ENOSPC
        ));
    }
    err
}
