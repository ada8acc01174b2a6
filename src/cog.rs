//! Cloud-Optimized GeoTIFF output.
//!
//! GDAL 3.6's COG driver is CreateCopy-only, so the writer first fills a
//! tiled temp GTiff, [`crate::overviews`] builds the requested levels into
//! it, and this module copies it into a COG under a second temp name, with
//! `OVERVIEWS=FORCE_USE_EXISTING` (the levels and resampling tilerun chose)
//! or `NONE`. The copy decodes and re-encodes every tile, serially after the
//! windows are done, so unless the user says otherwise it compresses with
//! one thread per core (`NUM_THREADS`): the engine is idle by then.

use std::ffi::CString;
use std::path::Path;

use crate::gdalenv;
use crate::job::JobCtx;

/// Options for the COG driver: the user's, plus tilerun's overview policy
/// and (unless set) multi-threaded compression.
pub fn options(job: &JobCtx) -> Vec<(String, String)> {
    let mut opts = job.output.creation_options.clone();
    let mode = if job.output.overviews.is_empty() {
        "NONE"
    } else {
        "FORCE_USE_EXISTING"
    };
    opts.push(("OVERVIEWS".into(), mode.into()));
    if !opts.iter().any(|(k, _)| k == "NUM_THREADS") {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        opts.push(("NUM_THREADS".into(), n.to_string()));
    }
    opts
}

pub fn translate(job: &JobCtx, src: &Path, dst: &Path) -> anyhow::Result<()> {
    let ds = gdal::Dataset::open(src)?;
    let driver = gdal::DriverManager::get_driver_by_name("COG")?;
    let mut opts = gdal::cpl::CslStringList::new();
    for (k, v) in options(job) {
        opts.set_name_value(&k, &v)?;
    }
    let c_dst = CString::new(dst.as_os_str().as_encoded_bytes())?;
    gdalenv::clear_messages();
    // SAFETY: valid handles and NUL-terminated strings.
    let h = unsafe {
        gdal_sys::GDALCreateCopy(
            driver.c_driver(),
            c_dst.as_ptr(),
            ds.c_dataset(),
            0,
            opts.as_ptr(),
            None,
            std::ptr::null_mut(),
        )
    };
    if h.is_null() {
        let why = gdalenv::first_failure().unwrap_or_else(|| "COG CreateCopy failed".into());
        anyhow::bail!("creating COG: {}", why.trim());
    }
    // SAFETY: we own the handle.
    unsafe { gdal_sys::GDALClose(h) };
    if let Some(msg) = gdalenv::first_failure() {
        anyhow::bail!("creating COG: {}", msg.trim());
    }
    Ok(())
}
