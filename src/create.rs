//! Creating, writing and closing output datasets; runs on the writer thread only.
//!
//! The output takes the input's georeferencing, CRS, every dataset metadata
//! domain (XML ones whole), and where a band keeps its meaning its
//! description and colour interpretation, where it keeps its units its
//! scale/offset; plus the processing history (`TILERUN_*` items). GeoTIFF
//! stores a CRS as GeoKeys, which can change the WKT on the way back (an
//! ESRI-flavoured WKT comes back as the EPSG one), so the key flavour is
//! chosen by a round trip through `/vsimem/` ([`keys_flavor`]). GDAL 3.6
//! reports write errors at close only through the error handler, so closing
//! checks the writer thread's GDAL messages. Multi-band outputs are plain
//! bands unless asked otherwise ([`photometric`]).

use std::ffi::CString;
use std::path::Path;

use anyhow::Context;
use gdal::{Dataset, Metadata};

use crate::gdalenv;
use crate::job::{Format, JobCtx, OutputSpec};
use crate::output::TempFile;

/// Create the tiled GTiff that the windows are written into.
pub fn create(job: &JobCtx, path: &Path) -> anyhow::Result<Dataset> {
    let out = &job.output;
    let bands = job.op.out_bands();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
    let mut opts = gdal::cpl::CslStringList::new();
    for (k, v) in gtiff_options(&job.output) {
        opts.set_name_value(&k, &v)?;
    }
    if let Some(p) = photometric(job) {
        opts.set_name_value("PHOTOMETRIC", p)?;
    }
    let user_flavor = job
        .output
        .creation_options
        .iter()
        .any(|(k, _)| k == "GEOTIFF_KEYS_FLAVOR");
    if job.output.format == Format::GTiff && !user_flavor {
        if let Some(f) = keys_flavor(&job.input.projection) {
            opts.set_name_value("GEOTIFF_KEYS_FLAVOR", f)?;
        }
    }
    if job.output.layout.is_some() {
        // Blocks arrive pre-compressed through libtiff; GDAL only lays out
        // the file and must not write blocks of its own.
        opts.set_name_value("SPARSE_OK", "TRUE")?;
    }
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid driver, NUL-terminated path and option list.
    let h = unsafe {
        gdal_sys::GDALCreate(
            driver.c_driver(),
            c_path.as_ptr(),
            job.input.width as i32,
            job.input.height as i32,
            bands as i32,
            out.out_type.gdal(),
            opts.as_ptr(),
        )
    };
    if h.is_null() {
        let why = gdalenv::first_failure().unwrap_or_else(|| "GDALCreate failed".into());
        anyhow::bail!(
            "cannot create output in {}: {}",
            dir_of(&out.path),
            why.trim()
        );
    }
    // SAFETY: we own the fresh handle.
    let mut ds = unsafe { Dataset::from_c_dataset(h) };
    copy_metadata(job, &mut ds)?;
    Ok(ds)
}

/// PHOTOMETRIC unless the user chose it (or ALPHA) with `--co`. GDAL's GTiff
/// default makes every 3- and 4-band Byte file RGB, and the fourth band
/// alpha, so a computed 4-band output would read as three colours and a
/// mask. Outputs are plain bands (MINISBLACK: Gray, then Undefined) unless
/// their first three bands keep an input's red, green and blue (a rescaled
/// RGB image), which stay RGB; further bands are never alpha.
fn photometric(job: &JobCtx) -> Option<&'static str> {
    use gdal::raster::ColorInterpretation as Ci;
    let asked = |key: &str| {
        job.output
            .creation_options
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(key))
    };
    if asked("PHOTOMETRIC") || asked("ALPHA") {
        return None;
    }
    let kept = |i: usize| {
        let src = job.op.band_source(i)?;
        Ci::from_c_int(job.input.bands.get(src - 1)?.color_interp as _)
    };
    let rgb = job.op.out_bands() >= 3
        && [Ci::RedBand, Ci::GreenBand, Ci::BlueBand]
            .into_iter()
            .enumerate()
            .all(|(i, ci)| kept(i) == Some(ci));
    Some(if rgb { "RGB" } else { "MINISBLACK" })
}

fn dir_of(p: &Path) -> String {
    p.parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                ".".into()
            } else {
                d.display().to_string()
            }
        })
        .unwrap_or_else(|| ".".into())
}

/// For COG, the intermediate GTiff only needs to be fast to write and read
/// back; the user's compression applies to the final COG. It is left
/// uncompressed: measured on a 4096² Float32 NDVI (README, "COG"), building
/// the overviews from it took about 0.1 s against 0.44 s from ZSTD level 1 and
/// the COG copy was no slower, while ZSTD-1 saved only a fifth of the bytes
/// on float data. The cost is disk: width × height × bands × sample size
/// beside the output until the COG is committed.
pub fn gtiff_options(out: &OutputSpec) -> Vec<(String, String)> {
    match out.format {
        Format::GTiff => out.creation_options.clone(),
        Format::Cog => {
            let (tw, th) = out.tile;
            vec![
                ("TILED".into(), "YES".into()),
                ("BLOCKXSIZE".into(), tw.to_string()),
                ("BLOCKYSIZE".into(), th.to_string()),
                ("COMPRESS".into(), "NONE".into()),
                ("BIGTIFF".into(), "IF_SAFER".into()),
            ]
        }
    }
}

fn copy_metadata(job: &JobCtx, ds: &mut Dataset) -> anyhow::Result<()> {
    let input = &job.input;
    if let Some(gt) = input.geo_transform {
        ds.set_geo_transform(&gt)?;
    }
    if !input.projection.is_empty() {
        ds.set_projection(&input.projection)?;
    }
    for (domain, items) in &input.metadata {
        if domain.starts_with("xml:") {
            set_domain(ds, domain, items)?;
            continue;
        }
        for item in items {
            if let Some((k, v)) = item.split_once('=') {
                ds.set_metadata_item(k, v, domain)?;
            }
        }
    }
    for (k, v) in &job.output.history {
        ds.set_metadata_item(k, v, "")?;
    }
    for i in 0..job.op.out_bands() {
        let mut band = ds.rasterband(i + 1)?;
        band.set_no_data_value(Some(job.output.nodata))?;
        if let Some(src) = job.op.band_source(i) {
            let m = &input.bands[src - 1];
            if !m.description.is_empty() {
                band.set_description(&m.description)?;
            }
            if let Some(ci) = gdal::raster::ColorInterpretation::from_c_int(m.color_interp as _) {
                // Alpha keeps no meaning once values are recomputed.
                if ci != gdal::raster::ColorInterpretation::AlphaBand {
                    band.set_color_interpretation(ci)?;
                }
            }
        } else if let Some(d) = job.op.band_description(i) {
            band.set_description(&d)?;
        }
        if let Some(src) = job.op.units_source(i) {
            let m = &input.bands[src - 1];
            if let Some(s) = m.scale.filter(|s| *s != 1.0) {
                band.set_scale(s)?;
            }
            if let Some(o) = m.offset.filter(|o| *o != 0.0) {
                band.set_offset(o)?;
            }
        }
    }
    Ok(())
}

/// Set a whole metadata domain at once: XML domains hold one document, not
/// KEY=VALUE items.
fn set_domain(ds: &mut Dataset, domain: &str, items: &[String]) -> anyhow::Result<()> {
    let mut list = gdal::cpl::CslStringList::new();
    for i in items {
        list.add_string(i)?;
    }
    let c_domain = CString::new(domain)?;
    // SAFETY: valid handle, NULL-terminated list and domain; GDAL copies both.
    let err =
        unsafe { gdal_sys::GDALSetMetadata(ds.c_dataset(), list.as_ptr(), c_domain.as_ptr()) };
    anyhow::ensure!(
        err == gdal_sys::CPLErr::CE_None,
        "cannot copy metadata domain {domain}"
    );
    Ok(())
}

/// `GEOTIFF_KEYS_FLAVOR` under which `wkt` reads back byte-identical, when
/// the default does not manage it (ESRI-flavoured WKT needs `ESRI_PE`).
pub fn keys_flavor(wkt: &str) -> Option<&'static str> {
    if wkt.is_empty() || reads_back(wkt, "STANDARD") {
        return None;
    }
    reads_back(wkt, "ESRI_PE").then_some("ESRI_PE")
}

fn reads_back(wkt: &str, flavor: &str) -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "/vsimem/tilerun-crs-{}-{}.tif",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let same = (|| -> anyhow::Result<bool> {
        let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
        let opts = gdal::raster::RasterCreationOptions::from_iter([format!(
            "GEOTIFF_KEYS_FLAVOR={flavor}"
        )]);
        let mut ds = driver.create_with_band_type_with_options::<u8, _>(&name, 1, 1, 1, &opts)?;
        ds.set_projection(wkt)?;
        drop(ds);
        Ok(Dataset::open(&name)?.projection() == wkt)
    })()
    .unwrap_or(false);
    if let Ok(c) = CString::new(name) {
        // SAFETY: valid name; unlinking a missing file is harmless.
        unsafe { gdal_sys::VSIUnlink(c.as_ptr()) };
    }
    gdalenv::clear_messages();
    same
}

/// Close, failing if GDAL raised an error while flushing (disk full, …).
pub fn close(ds: Dataset) -> anyhow::Result<()> {
    drop(ds);
    if let Some(msg) = gdalenv::first_failure() {
        anyhow::bail!("{}", msg.trim());
    }
    Ok(())
}

/// Turn the closed temp GTiff into the final output, atomically: overviews
/// first (into the temp), then the rename, or the COG copy and its rename.
pub fn finalize(job: &JobCtx, temp: TempFile) -> anyhow::Result<()> {
    let fin = &job.output.path;
    let started = std::time::Instant::now();
    crate::overviews::build(temp.path(), &job.output.overviews, job.output.resampling)?;
    // Where finishing time goes (`-v`): the COG budget depends on it.
    tracing::debug!(
        "{}: overviews {:?} built in {:.2} s",
        fin.display(),
        job.output.overviews,
        started.elapsed().as_secs_f64()
    );
    match job.output.format {
        Format::GTiff => temp
            .commit(fin)
            .with_context(|| format!("committing {}", fin.display())),
        Format::Cog => {
            let cog = TempFile::beside(fin, ".cog.tif");
            let started = std::time::Instant::now();
            crate::cog::translate(job, temp.path(), cog.path())?;
            tracing::debug!(
                "{}: COG copy in {:.2} s",
                fin.display(),
                started.elapsed().as_secs_f64()
            );
            drop(temp);
            cog.commit(fin)
                .with_context(|| format!("committing {}", fin.display()))
        }
    }
}
