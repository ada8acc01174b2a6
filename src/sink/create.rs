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

use std::path::Path;

use anyhow::Context;
use gdal::{Dataset, Metadata};

use crate::sink::options::CreationOptions;
use crate::sink::spec::{Format, OutputSpec};
use crate::sink::temp_file::TempFile;

/// Create the tiled GTiff that the windows are written into.
pub fn create(out: &OutputSpec, path: &Path) -> anyhow::Result<Dataset> {
    let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
    let mut opts = gdal::cpl::CslStringList::new();
    for (k, v) in gtiff_options(out).iter() {
        opts.set_name_value(k, v)?;
    }
    if let Some(p) = photometric(out) {
        opts.set_name_value("PHOTOMETRIC", p)?;
    }
    let user_flavor = out.creation_options.get("GEOTIFF_KEYS_FLAVOR").is_some();
    if out.format == Format::GTiff && !user_flavor {
        if let Some(f) = keys_flavor(&out.georef.projection) {
            opts.set_name_value("GEOTIFF_KEYS_FLAVOR", f)?;
        }
    }
    if out.layout.is_some() {
        // Blocks arrive pre-compressed through libtiff; GDAL only lays out
        // the file and must not write blocks of its own.
        opts.set_name_value("SPARSE_OK", "TRUE")?;
    }
    let mut ds = crate::gdal::ffi::create(
        &driver,
        path,
        out.size,
        out.bands.len(),
        out.out_type.gdal(),
        &opts,
    )
    .map_err(|e| anyhow::anyhow!("cannot create output in {}: {e}", dir_of(&out.path)))?;
    copy_metadata(out, &mut ds)?;
    Ok(ds)
}

/// PHOTOMETRIC unless the user chose it (or ALPHA) with `--co`. GDAL's GTiff
/// default makes every 3- and 4-band Byte file RGB, and the fourth band
/// alpha, so a computed 4-band output would read as three colours and a
/// mask. Outputs are plain bands (MINISBLACK: Gray, then Undefined) unless
/// their first three bands keep an input's red, green and blue (a rescaled
/// RGB image), which stay RGB; further bands are never alpha.
fn photometric(out: &OutputSpec) -> Option<&'static str> {
    use gdal_sys::GDALColorInterp::{GCI_BlueBand, GCI_GreenBand, GCI_RedBand};
    let opts = &out.creation_options;
    if opts.get("PHOTOMETRIC").is_some() || opts.get("ALPHA").is_some() {
        return None;
    }
    let kept = |i: usize| out.bands.get(i).and_then(|b| b.color_interp);
    let rgb = [GCI_RedBand, GCI_GreenBand, GCI_BlueBand]
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

/// For COG (and PNG, JPEG), the intermediate GTiff only needs to be fast to write and read
/// back; the user's compression applies to the final COG. It is left
/// uncompressed: measured on a 4096² Float32 NDVI (README, "COG"), building
/// the overviews from it took about 0.1 s against 0.44 s from ZSTD level 1 and
/// the COG copy was no slower, while ZSTD-1 saved only a fifth of the bytes
/// on float data. The cost is disk: width × height × bands × sample size
/// beside the output until the COG is committed.
pub fn gtiff_options(out: &OutputSpec) -> CreationOptions {
    match out.format {
        Format::GTiff => out.creation_options.clone(),
        Format::Cog | Format::Png | Format::Jpeg => {
            let (tw, th) = out.tile;
            [
                ("TILED", "YES".to_string()),
                ("BLOCKXSIZE", tw.to_string()),
                ("BLOCKYSIZE", th.to_string()),
                ("COMPRESS", "NONE".to_string()),
                ("BIGTIFF", "IF_SAFER".to_string()),
            ]
            .into_iter()
            .collect()
        }
    }
}

fn copy_metadata(out: &OutputSpec, ds: &mut Dataset) -> anyhow::Result<()> {
    let g = &out.georef;
    if let Some(gt) = g.geo_transform {
        ds.set_geo_transform(&gt)?;
    }
    if !g.projection.is_empty() {
        ds.set_projection(&g.projection)?;
    }
    for (domain, items) in &g.metadata {
        if domain.starts_with("xml:") {
            crate::gdal::ffi::set_metadata_domain(ds, domain, items)?;
            continue;
        }
        for item in items {
            if let Some((k, v)) = item.split_once('=') {
                ds.set_metadata_item(k, v, domain)?;
            }
        }
    }
    for (k, v) in &out.history {
        ds.set_metadata_item(k, v, "")?;
    }
    for (i, b) in out.bands.iter().enumerate() {
        let mut band = ds.rasterband(i + 1)?;
        band.set_no_data_value(Some(out.nodata))?;
        if !b.description.is_empty() {
            band.set_description(&b.description)?;
        }
        let ci = b
            .color_interp
            .and_then(|c| gdal::raster::ColorInterpretation::from_c_int(c as _));
        if let Some(ci) = ci {
            band.set_color_interpretation(ci)?;
        }
        if let Some(s) = b.scale {
            band.set_scale(s)?;
        }
        if let Some(o) = b.offset {
            band.set_offset(o)?;
        }
    }
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
    let mem = crate::gdal::ffi::VsiMem::new("crs");
    let name = mem.name();
    let same = (|| -> anyhow::Result<bool> {
        let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
        let opts = gdal::raster::RasterCreationOptions::from_iter([format!(
            "GEOTIFF_KEYS_FLAVOR={flavor}"
        )]);
        let mut ds = driver.create_with_band_type_with_options::<u8, _>(name, 1, 1, 1, &opts)?;
        ds.set_projection(wkt)?;
        drop(ds);
        Ok(Dataset::open(name)?.projection() == wkt)
    })()
    .unwrap_or(false);
    drop(mem);
    crate::gdal::env::clear_messages();
    same
}

/// Close, failing if GDAL raised an error while flushing (disk full, …).
pub fn close(ds: Dataset) -> anyhow::Result<()> {
    drop(ds);
    if let Some(msg) = crate::gdal::env::first_failure() {
        anyhow::bail!("{}", msg.trim());
    }
    Ok(())
}

/// Turn the closed temp GTiff into the final output, atomically: overviews
/// first (into the temp), then the rename, or the COG copy and its rename.
/// True when the rename replaced an existing file.
pub fn finalize(out: &OutputSpec, temp: TempFile) -> anyhow::Result<bool> {
    let fin = &out.path;
    let started = std::time::Instant::now();
    crate::sink::overviews::build(temp.path(), &out.overviews, out.resampling)?;
    // Where finishing time goes (`-v`): the COG budget depends on it.
    tracing::debug!(
        "{}: overviews {:?} built in {:.2} s",
        fin.display(),
        out.overviews,
        started.elapsed().as_secs_f64()
    );
    match out.format {
        Format::GTiff => temp
            .commit(fin, out.overwrite)
            .with_context(|| format!("committing {}", fin.display())),
        Format::Cog => {
            let cog = TempFile::beside(fin, ".cog.tif");
            let started = std::time::Instant::now();
            crate::sink::cog::translate(out, temp.path(), cog.path())?;
            tracing::debug!(
                "{}: COG copy in {:.2} s",
                fin.display(),
                started.elapsed().as_secs_f64()
            );
            drop(temp);
            cog.commit(fin, out.overwrite)
                .with_context(|| format!("committing {}", fin.display()))
        }
        Format::Png | Format::Jpeg => {
            let copy = TempFile::beside(fin, ".copy");
            crate::sink::copy::translate(out, temp.path(), copy.path())?;
            drop(temp);
            copy.commit(fin, out.overwrite)
                .with_context(|| format!("committing {}", fin.display()))
        }
    }
}
