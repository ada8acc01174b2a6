//! The output side of preparing a job: whether the output path may be
//! written, and the [`OutputSpec`] settled from the op and the grid input
//! (type, nodata, creation options, overviews, band meanings, history,
//! block layout). Apart from `prepare`, which opens the inputs and builds
//! the op, because these are the refusals and choices about the file made.

use std::path::Path;

use crate::error::{job, usage, Error};
use crate::input::reader::Reader;
use crate::input::InputMeta;
use crate::ops;
use crate::plan::recipe::JobSpec;
use crate::sink::spec::{BandSpec, Format, Georef, Layout, OutputSpec};
use crate::window::Window;

/// Settle type, nodata, creation options, overviews and band meanings.
pub(super) fn output_spec(
    spec: &JobSpec,
    readers: &[Reader],
    grid: usize,
    op: &dyn ops::Op,
) -> Result<OutputSpec, Error> {
    let meta = &readers[grid].meta;
    let out_type = spec.out_type.unwrap_or_else(|| op.default_out_type());
    let nodata = spec
        .nodata
        .or_else(|| op.default_nodata().filter(|v| out_type.holds(*v)))
        .unwrap_or_else(|| out_type.default_nodata());
    if !out_type.holds(nodata) {
        let why = crate::plan::check::holds_not(nodata, out_type);
        return Err(usage(format!("--nodata: {why}")));
    }
    let (creation_options, tile) = crate::sink::spec::creation_options(
        spec.format,
        out_type,
        &spec.creation_options,
        meta.width,
    )
    .map_err(|e| usage(format!("{}: {e}", crate::error::show(&spec.output))))?;
    let overviews = crate::sink::overviews::resolve(
        spec.overviews.as_ref(),
        spec.format == Format::Cog,
        meta.width,
        meta.height,
    );
    spec.format
        .check_fits(out_type, op.out_bands(), !overviews.is_empty())
        .map_err(|e| usage(format!("{}: {e}", crate::error::show(&spec.output))))?;
    let resampling = spec.resampling.unwrap_or_else(|| op.overview_resampling());
    Ok(OutputSpec {
        path: spec.output.clone(),
        overwrite: spec.overwrite,
        size: (meta.width, meta.height),
        georef: Georef {
            geo_transform: meta.geo_transform,
            projection: meta.projection.clone(),
            metadata: meta.metadata.clone(),
        },
        bands: band_specs(op, meta),
        format: spec.format,
        out_type,
        nodata,
        creation_options,
        tile,
        history: history(spec, readers, op, &overviews, resampling),
        overviews,
        resampling,
        layout: None,
        assemble: false,
    })
}

/// What a PNG or JPEG output cannot keep, said once per job rather than
/// lost without a word.
pub(super) fn picture_losses(out: &OutputSpec) -> Option<String> {
    let name = out.format.driver();
    let georef = out.georef.geo_transform.is_some() || !out.georef.projection.is_empty();
    let lost = match (out.format, georef) {
        (Format::Jpeg, true) => "georeferencing, metadata or nodata",
        (Format::Jpeg, false) => "metadata or nodata",
        (Format::Png, true) => "georeferencing or metadata",
        (Format::Png, false) => "metadata",
        _ => return None,
    };
    Some(format!(
        "{name} output keeps no {lost} (write a .tif to keep them)"
    ))
}

/// What each output band says about itself: the meaning (description and
/// colour) of the input band it copies, or the op's own description; and
/// the units (scale/offset) of the band whose values it keeps.
fn band_specs(op: &dyn ops::Op, meta: &InputMeta) -> Vec<BandSpec> {
    (0..op.out_bands())
        .map(|i| {
            let mut b = BandSpec::default();
            if let Some(m) = op.band_source(i).map(|s| &meta.bands[s - 1]) {
                b.description = m.description.clone();
                // Alpha keeps no meaning once values are recomputed.
                b.color_interp = Some(m.color_interp as gdal_sys::GDALColorInterp::Type)
                    .filter(|c| *c != gdal_sys::GDALColorInterp::GCI_AlphaBand);
            } else if let Some(d) = op.band_description(i) {
                b.description = d;
            }
            if let Some(m) = op.units_source(i).map(|s| &meta.bands[s - 1]) {
                b.scale = m.scale.filter(|s| *s != 1.0);
                b.offset = m.offset.filter(|o| *o != 0.0);
            }
            b
        })
        .collect()
}

/// Processing history written into the output's metadata.
fn history(
    spec: &JobSpec,
    readers: &[Reader],
    op: &dyn ops::Op,
    overviews: &[usize],
    resampling: ops::Resampling,
) -> Vec<(String, String)> {
    let input_name = spec
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut h: Vec<(String, String)> = vec![
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
        ("TILERUN_INPUT".into(), input_name),
    ];
    // Named inputs: which file each name was, and how it was read.
    for r in readers {
        if let Some(n) = &r.source.name {
            h.push((
                format!("TILERUN_INPUT_{}", n.to_ascii_uppercase()),
                r.describe(),
            ));
        }
    }
    if !overviews.is_empty() {
        let f: Vec<String> = overviews.iter().map(|f| f.to_string()).collect();
        h.push((
            "TILERUN_OVERVIEWS".into(),
            format!("{} {}", f.join(","), resampling.gdal_name().to_lowercase()),
        ));
    }
    h
}

/// Decide how blocks reach the file: an assembled COG, blocks encoded by
/// the workers into a GTiff, or GDAL writes (see `sink::encode`).
pub(super) fn choose_layout(mut output: OutputSpec, windows: &[Window]) -> OutputSpec {
    let (size, bands) = (output.size, output.bands.len());
    // Test hook (undocumented): `TILERUN_COG_COPY` forces GDAL's COG copy,
    // the oracle the tests hold the assembled COG to.
    let cog_blocks = match output.format {
        Format::Cog if std::env::var_os("TILERUN_COG_COPY").is_none() => {
            crate::sink::cog::block_options(&output, size)
        }
        _ => None,
    };
    let aligned = |l: &Layout| windows.iter().all(|w| l.aligned(w));
    output.layout = cog_blocks
        .and_then(|g| Layout::for_output(&output, &g, size, bands))
        .filter(aligned);
    output.assemble = output.layout.is_some();
    if !output.assemble {
        let gtiff = crate::sink::create::gtiff_options(&output);
        output.layout = Layout::for_output(&output, &gtiff, size, bands).filter(aligned);
    }
    if output.layout.is_none() && output.creation_options.get("NUM_THREADS").is_none() {
        // The writer compresses on this path; let GDAL spread it over cores.
        output.creation_options.set("NUM_THREADS", "ALL_CPUS");
    }
    output
}

/// Overviews built as windows finish (assembled COG only).
pub(super) fn pyramid_for(output: &OutputSpec) -> Option<crate::sink::pyramid::Pyramid> {
    (output.assemble && !output.overviews.is_empty()).then(|| {
        crate::sink::pyramid::Pyramid::new(
            output.size,
            output.overviews.len(),
            output.bands.len(),
            output.out_type,
            output.nodata,
            output.tile.1,
            output.resampling,
        )
    })
}

/// Refuse outputs that would clobber the input, or an existing file without
/// `--overwrite` (gdal_calc's rule), or that cannot be created. Whether a
/// file is replaced is decided at the commit (see `TempFile::commit`).
pub(super) fn check_output_path(spec: &JobSpec) -> Result<(), Error> {
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
    let target = std::fs::canonicalize(&dir)
        .ok()
        .map(|d| d.join(out.file_name().unwrap_or_default()));
    let same = crate::plan::inputs::local_files(&spec.inputs)
        .into_iter()
        .chain(std::iter::once(spec.input.as_path()))
        .any(|i| {
            std::fs::canonicalize(i)
                .ok()
                .is_some_and(|i| Some(i) == target)
        });
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
    let exists = std::fs::symlink_metadata(out).is_ok();
    if exists && !spec.overwrite {
        return Err(usage(format!(
            "{}: output exists; add --overwrite to replace it",
            crate::error::show(out)
        )));
    }
    Ok(())
}
