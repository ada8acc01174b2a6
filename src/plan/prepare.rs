//! Turning a [`JobSpec`] into a runnable [`JobCtx`]: open the input once for
//! its metadata, build the op against it, settle the output type, nodata,
//! creation options and windows. Everything that can be refused is refused
//! here, before any output file exists; the output's own checks and
//! choices are in `output`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::engine::job::{JobCtx, Outcome};
use crate::error::{job, usage, Error};
use crate::input::reader::Reader;
use crate::input::source::Location;
use crate::input::{self, InputMeta};
use crate::ops;
use crate::plan::output::{
    check_output_path, choose_layout, output_spec, picture_losses, pyramid_for,
};
use crate::plan::recipe::{JobSpec, OpSpec};
use crate::window::Window;

pub struct Prepared {
    pub ctx: Arc<JobCtx>,
    pub outcome: Receiver<Outcome>,
    pub warnings: Vec<String>,
}

pub fn prepare(spec: &JobSpec, id: u64, cancel: Arc<AtomicBool>) -> Result<Prepared, Error> {
    for src in &spec.inputs {
        if let Location::File(p) = &src.location {
            input::check_path(p).map_err(|e| job(format!("{}: {e:#}", src.shown())))?;
        }
    }
    check_output_path(spec)?;
    let (readers, grid) = open_inputs(spec)?;
    let (op, mut warnings) = build_op(spec, &readers, &cancel)?;
    let meta = &readers[grid].meta;
    let output = output_spec(spec, &readers, grid, op.as_ref())?;
    warnings.extend(picture_losses(&output));
    let windows = crate::window::plan(
        meta.width,
        meta.height,
        crate::window::choose(
            meta.width,
            meta.height,
            output.tile,
            natural_block(&readers, grid),
            spec.window,
        ),
    );
    let output = choose_layout(output, &windows);
    let pyramid = pyramid_for(&output);
    let blocks = block_cache_for(op.as_ref(), meta, &windows);
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut ctx = JobCtx::new(
        id,
        spec.input.clone(),
        readers,
        grid,
        Arc::from(op),
        spec.policy,
        output,
        windows,
        spec.drivers.clone(),
        cancel,
        tx,
    );
    ctx.blocks = blocks;
    ctx.pyramid = pyramid;
    ctx.spool = spec.spool.clone();
    Ok(Prepared {
        ctx: Arc::new(ctx),
        outcome: rx,
        warnings,
    })
}

/// Open every input once for its snapshot, check that they share a grid,
/// and settle how each is read. Returns the readers and the grid's index.
fn open_inputs(spec: &JobSpec) -> Result<(Vec<Reader>, usize), Error> {
    let mut metas = Vec::with_capacity(spec.inputs.len());
    for src in &spec.inputs {
        let shown = src.shown();
        let at = |e: anyhow::Error| job(format!("{shown}: {e:#}"));
        let ds = match &src.location {
            Location::File(p) => input::open(p, &spec.drivers).map_err(at)?,
            m => input::open_member(&m.gdal_path(), &spec.drivers).map_err(at)?,
        };
        let meta = InputMeta::read(&src.location.gdal_path(), &ds, &spec.limits).map_err(at)?;
        metas.push((shown, meta));
    }
    let chosen = spec.grid.as_ref().and_then(|g| {
        spec.inputs
            .iter()
            .position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(g)))
    });
    let named: Vec<(String, &InputMeta)> = metas.iter().map(|(n, m)| (n.clone(), m)).collect();
    let grid = input::grid::settle(&named, chosen).map_err(usage)?;
    let mut readers = Vec::with_capacity(metas.len());
    for ((src, (_, meta)), ratio) in spec.inputs.iter().zip(metas).zip(&grid.ratios) {
        let mut meta = meta;
        if spec.inputs.len() > 1 {
            // A product of several files keeps only plain metadata items:
            // format-specific domains (GML boxes, XMP) describe one file.
            meta.metadata.retain(|(d, _)| d.is_empty());
        }
        readers.push(Reader::new(src.clone(), meta, *ratio).map_err(usage)?);
    }
    warn_unscale_did_nothing(&readers);
    Ok((readers, grid.index))
}

/// `unscale` asked for, and not one input has a scale or offset of its
/// own: the flag changed nothing, which is almost always a mistake (USGS
/// Landsat Collection 2 GeoTIFFs keep their factors in the MTL). Not an
/// error: a QA band without units under a global `--unscale` is normal.
fn warn_unscale_did_nothing(readers: &[Reader]) {
    let asked: Vec<&Reader> = readers
        .iter()
        .filter(|r| r.source.settings.unscale == Some(true))
        .collect();
    if !asked.is_empty() && !asked.iter().any(|r| r.units.iter().any(Option::is_some)) {
        let names: Vec<String> = asked.iter().map(|r| r.source.shown()).collect();
        tracing::warn!(
            "unscale: no band of {} has a scale or offset of its own, so values are read raw; \
             give scale/offset explicitly (Landsat Collection 2: scale 2.75e-05, offset -0.2 for SR bands)",
            names.join(", ")
        );
    }
}

/// The block size windows should cover: the grid input's, or a coarser
/// input's blocks on the output grid when they hold every other input's
/// (a 1024-pixel JP2 block at 20 m is 2048 pixels at 10 m), so no input
/// block is decoded by two windows.
fn natural_block(readers: &[Reader], grid: usize) -> (usize, usize) {
    let on_grid: Vec<(usize, usize)> = readers
        .iter()
        .map(|r| {
            let (bw, bh) = r.meta.block;
            match r.ratio {
                x if x.coarser => (bw * x.k, bh * x.k),
                x => (bw.div_ceil(x.k), bh.div_ceil(x.k)),
            }
        })
        .collect();
    let holds = |c: &(usize, usize)| {
        on_grid
            .iter()
            .all(|b| c.0.is_multiple_of(b.0) && c.1.is_multiple_of(b.1))
    };
    on_grid
        .iter()
        .filter(|c| holds(c))
        .max()
        .copied()
        .unwrap_or(readers[grid].meta.block)
}

/// Build the op against the inputs' bands; named ops that need whole-raster
/// statistics (rescale in=auto) get them here, before any window.
fn build_op(
    spec: &JobSpec,
    readers: &[Reader],
    cancel: &Arc<AtomicBool>,
) -> Result<ops::Built, Error> {
    let first = &readers[0];
    let mut info = first.meta.info();
    info.band_types = first.band_types();
    let named = readers.iter().all(|r| r.source.name.is_some());
    match &spec.op {
        OpSpec::Expr(src) if named => return build_named_expr(src, spec, readers),
        OpSpec::Expr(src) => ops::build_expr(src, &spec.params, &info, spec.policy),
        OpSpec::Named(name) => {
            if first.units.iter().any(Option::is_some) {
                return Err(usage(format!(
                    "{}: unscaling (--unscale, scale, offset) applies to band math (--expr) only",
                    crate::error::show(&spec.input)
                )));
            }
            let stats = crate::plan::stats::for_op(name, spec, first, cancel)?;
            ops::build_with_stats(name, &spec.params, &info, spec.policy, stats.as_deref())
        }
    }
    .map_err(|e| usage(format!("{}: {e}", crate::error::show(&spec.input))))
}

/// Band math over named inputs. An error about one input's type is shown
/// under that input's name and file, not the job's first input.
fn build_named_expr(src: &str, spec: &JobSpec, readers: &[Reader]) -> Result<ops::Built, Error> {
    let types: Vec<_> = readers.iter().map(Reader::band_types).collect();
    let inputs: Vec<(&str, &[_])> = readers
        .iter()
        .zip(&types)
        .map(|(r, t)| (r.source.name.as_deref().unwrap_or_default(), t.as_slice()))
        .collect();
    ops::build_expr_named(src, &spec.params, &inputs, spec.policy).map_err(|(e, at)| {
        let whose = match at.and_then(|i| readers.get(i)) {
            Some(r) => r.source.shown(),
            None => crate::error::show(&spec.input),
        };
        usage(format!("{whose}: {e}"))
    })
}

/// Shared decoded input blocks, for ops with a halo on tiled inputs.
fn block_cache_for(
    op: &dyn ops::Op,
    meta: &InputMeta,
    windows: &[Window],
) -> Option<crate::input::block_cache::BlockCache> {
    let halo = op.halo();
    let tiled_input = meta.block.0 < meta.width;
    (halo > 0 && tiled_input).then(|| {
        let grown = windows
            .iter()
            .map(|w| w.grow(halo, meta.width, meta.height).0);
        crate::input::block_cache::BlockCache::new(
            (meta.width, meta.height),
            meta.block,
            op.bands().len(),
            grown,
        )
    })
}
