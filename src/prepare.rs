//! Turning a [`JobSpec`] into a runnable [`JobCtx`]: open the input once for
//! its metadata, build the op against it, settle the output type, nodata,
//! creation options and windows. Everything that can be refused is refused
//! here, before any output file exists.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::error::{job, usage, Error};
use crate::input::{self, InputMeta};
use crate::job::{JobCtx, Outcome, OutputSpec};
use crate::ops;
use crate::recipe::{JobSpec, OpSpec};

pub struct Prepared {
    pub ctx: Arc<JobCtx>,
    pub outcome: Receiver<Outcome>,
    pub warnings: Vec<String>,
}

pub fn prepare(spec: &JobSpec, id: u64, cancel: Arc<AtomicBool>) -> Result<Prepared, Error> {
    let path = &spec.input;
    let at = |e: String| job(format!("{}: {e}", crate::error::show(path)));
    input::check_path(path).map_err(|e| at(format!("{e:#}")))?;
    check_output_path(spec)?;
    let ds = input::open(path, &spec.drivers).map_err(|e| at(format!("{e:#}")))?;
    let meta = InputMeta::read(path, &ds, &spec.limits).map_err(|e| at(format!("{e:#}")))?;
    let info = meta.info();
    let (op, warnings) = match &spec.op {
        OpSpec::Expr(src) => ops::build_expr(src, &spec.params, &info, spec.policy),
        OpSpec::Named(name) => {
            // Whole-raster statistics (rescale in=auto) come before any window.
            let stats = crate::stats::for_op(name, spec, &meta, &cancel)?;
            ops::build_with_stats(name, &spec.params, &info, spec.policy, stats.as_deref())
        }
    }
    .map_err(|e| usage(format!("{}: {e}", crate::error::show(path))))?;
    drop(ds);
    let out_type = spec.out_type.unwrap_or_else(|| op.default_out_type());
    let nodata = spec
        .nodata
        .or_else(|| op.default_nodata().filter(|v| out_type.holds(*v)))
        .unwrap_or_else(|| out_type.default_nodata());
    if !out_type.holds(nodata) {
        return Err(usage(format!(
            "--nodata: {nodata} cannot be stored in --ot {} (range {:?}{})",
            out_type.name(),
            out_type.range(),
            if out_type.is_float() {
                ""
            } else {
                ", integers only"
            }
        )));
    }
    let (creation_options, tile) =
        crate::options::creation_options(spec.format, out_type, &spec.creation_options, meta.width)
            .map_err(usage)?;
    let size = crate::window::choose(meta.width, meta.height, tile, meta.block, spec.window);
    let windows = crate::window::plan(meta.width, meta.height, size);
    let mut history = vec![
        ("TILERUN_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
        (
            "TILERUN_RECIPE".into(),
            spec.recipe.clone().unwrap_or_default(),
        ),
        ("TILERUN_OP".into(), op.name().into()),
        ("TILERUN_PARAMS".into(), op.describe()),
        (
            "TILERUN_NODATA_POLICY".into(),
            format!("{:?}", spec.policy).to_lowercase(),
        ),
        (
            "TILERUN_INPUT".into(),
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    ];
    let overviews = crate::overviews::resolve(
        spec.overviews.as_ref(),
        spec.format == crate::job::Format::Cog,
        meta.width,
        meta.height,
    );
    let resampling = spec.resampling.unwrap_or_else(|| op.overview_resampling());
    if !overviews.is_empty() {
        let f: Vec<String> = overviews.iter().map(|f| f.to_string()).collect();
        history.push((
            "TILERUN_OVERVIEWS".into(),
            format!("{} {}", f.join(","), resampling.gdal_name().to_lowercase()),
        ));
    }
    let mut output = OutputSpec {
        path: spec.output.clone(),
        format: spec.format,
        out_type,
        nodata,
        creation_options,
        tile,
        history,
        overviews,
        resampling,
        layout: None,
        assemble: false,
    };
    let size = (meta.width, meta.height);
    // Test hook (undocumented): `TILERUN_COG_COPY` forces GDAL's COG copy,
    // the oracle the tests hold the assembled COG to.
    let cog_blocks = match output.format {
        crate::job::Format::Cog if std::env::var_os("TILERUN_COG_COPY").is_none() => {
            crate::cog::block_options(&output, size)
        }
        _ => None,
    };
    let aligned = |l: &crate::encode::Layout| windows.iter().all(|w| l.aligned(w));
    output.layout = cog_blocks
        .and_then(|g| crate::encode::Layout::for_output(&output, &g, size, op.out_bands()))
        .filter(aligned);
    output.assemble = output.layout.is_some();
    if !output.assemble {
        let gtiff = crate::create::gtiff_options(&output);
        output.layout = crate::encode::Layout::for_output(&output, &gtiff, size, op.out_bands())
            .filter(aligned);
    }
    let pyramid = (output.assemble && !output.overviews.is_empty()).then(|| {
        crate::pyramid::Pyramid::new(
            size,
            output.overviews.len(),
            op.out_bands(),
            out_type,
            nodata,
            output.tile.1,
            resampling,
        )
    });
    if output.layout.is_none()
        && !output
            .creation_options
            .iter()
            .any(|(k, _)| k == "NUM_THREADS")
    {
        // The writer compresses on this path; let GDAL spread it over cores.
        output
            .creation_options
            .push(("NUM_THREADS".into(), "ALL_CPUS".into()));
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let halo = op.halo();
    let tiled_input = meta.block.0 < meta.width;
    let blocks = (halo > 0 && tiled_input).then(|| {
        let grown = windows
            .iter()
            .map(|w| w.grow(halo, meta.width, meta.height).0);
        crate::blocks::BlockCache::new(
            (meta.width, meta.height),
            meta.block,
            op.bands().len(),
            grown,
        )
    });
    let mut ctx = JobCtx::new(
        id,
        meta,
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
    Ok(Prepared {
        ctx: Arc::new(ctx),
        outcome: rx,
        warnings,
    })
}

/// Refuse outputs that would clobber the input or cannot be created.
fn check_output_path(spec: &JobSpec) -> Result<(), Error> {
    let out = &spec.output;
    let name_ok = out.file_name().is_some();
    if !name_ok {
        return Err(usage(format!(
            "{}: output is not a file path",
            crate::error::show(out)
        )));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(job(format!(
                "{}: output folder is not a directory",
                crate::error::show(&dir)
            )))
        }
        Err(e) => {
            return Err(job(format!(
                "{}: output folder: {e}",
                crate::error::show(&dir)
            )))
        }
    }
    let same = match (
        std::fs::canonicalize(&spec.input),
        std::fs::canonicalize(&dir),
    ) {
        (Ok(i), Ok(d)) => i == d.join(out.file_name().unwrap_or_default()),
        _ => false,
    };
    if same {
        return Err(usage(format!(
            "{}: output path is the input; choose another -o",
            crate::error::show(out)
        )));
    }
    if out.is_dir() {
        return Err(job(format!(
            "{}: output path is a directory",
            crate::error::show(out)
        )));
    }
    Ok(())
}
